// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The pure parts of the `connbroker exec` shim (lib/preload.h). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <criterion/criterion.h>
#include "../../lib/preload.h"

Test(preload, ports_parse)
{
	struct cb_pl_ports p;

	cr_assert_eq(cb_pl_parse_ports("80", &p), 0);
	cr_assert_eq(p.n, 1);
	cr_assert_eq(p.port[0], 80);
	cr_assert_eq(cb_pl_parse_ports("80,8080, 443 ,80", &p), 0);
	cr_assert_eq(p.n, 3, "duplicates kept once");
	cr_assert(cb_pl_port_in(&p, 443) && cb_pl_port_in(&p, 8080) && !cb_pl_port_in(&p, 81));
	cr_assert_eq(cb_pl_parse_ports("65535", &p), 0);
	cr_assert_eq(p.port[0], 65535);
}

Test(preload, ports_refused)
{
	static const char *bad[] = { "", " ", "0", "65536", "99999999999", "80,", ",80", "80,,81",
				     "80 81", "-1", "+80", "80a", "0x50", "http" };
	struct cb_pl_ports p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(cb_pl_parse_ports(bad[i], &p), -1, "'%s' accepted", bad[i]);
		cr_assert_eq(p.n, 0);
	}
	cr_assert_eq(cb_pl_parse_ports(NULL, &p), -1);
}

Test(preload, ports_bounded)
{
	char list[512] = "";
	struct cb_pl_ports p;
	size_t n = 0;
	int i;

	for (i = 1; i <= CB_PL_MAX_PORTS; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%d", i > 1 ? "," : "", 1000 + i);
	cr_assert_eq(cb_pl_parse_ports(list, &p), 0);
	cr_assert_eq(p.n, CB_PL_MAX_PORTS);
	snprintf(list + n, sizeof(list) - n, ",2000");
	cr_assert_eq(cb_pl_parse_ports(list, &p), -1, "more than CB_PL_MAX_PORTS");
}

Test(preload, sockaddr_port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	in->sin_family = AF_INET;
	in->sin_port = htons(8080);
	cr_assert_eq(cb_pl_sockaddr_port(&ss, sizeof(*in)), 8080);
	cr_assert_eq(cb_pl_sockaddr_port(&ss, sizeof(*in) - 1), -1, "short");
	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(443);
	cr_assert_eq(cb_pl_sockaddr_port(&ss, sizeof(*in6)), 443);
	ss.ss_family = AF_UNIX;
	cr_assert_eq(cb_pl_sockaddr_port(&ss, sizeof(ss)), -1);
}

Test(preload, accept_flags)
{
	cr_assert_eq(cb_pl_accept_flags_ok(0), 0);
	cr_assert_eq(cb_pl_accept_flags_ok(SOCK_NONBLOCK | SOCK_CLOEXEC), 0);
	errno = 0;
	cr_assert_eq(cb_pl_accept_flags_ok(SOCK_NONBLOCK | 0x1), -1);
	cr_assert_eq(errno, EINVAL);
	/* O_NONBLOCK follows accept4's SOCK_NONBLOCK, whatever the socket had */
	cr_assert_eq(cb_pl_status_flags(O_RDWR, SOCK_NONBLOCK), O_RDWR | O_NONBLOCK);
	cr_assert_eq(cb_pl_status_flags(O_RDWR | O_NONBLOCK, 0), O_RDWR);
	cr_assert_eq(cb_pl_status_flags(O_RDWR | O_NONBLOCK, SOCK_CLOEXEC), O_RDWR);
	cr_assert_eq(cb_pl_status_flags(O_RDWR, SOCK_CLOEXEC | SOCK_NONBLOCK), O_RDWR | O_NONBLOCK);
}

Test(preload, peer_on_dual_stack_listener)
{
	struct sockaddr_storage peer = { 0 }, out;
	struct sockaddr_in *in = (struct sockaddr_in *)&peer;
	struct sockaddr_in6 *o6 = (struct sockaddr_in6 *)&out;
	char txt[64];

	in->sin_family = AF_INET;
	in->sin_port = htons(40000);
	inet_pton(AF_INET, "198.18.0.1", &in->sin_addr);
	/* a dual-stack AF_INET6 listener: the kernel would say ::ffff:198.18.0.1 */
	cr_assert_eq(cb_pl_present_peer(&peer, sizeof(*in), AF_INET6, 0, &out), sizeof(struct sockaddr_in6));
	cr_assert_eq(o6->sin6_family, AF_INET6);
	cr_assert_eq(ntohs(o6->sin6_port), 40000);
	inet_ntop(AF_INET6, &o6->sin6_addr, txt, sizeof(txt));
	cr_assert_str_eq(txt, "::ffff:198.18.0.1");
	/* an AF_INET listener: as it is */
	cr_assert_eq(cb_pl_present_peer(&peer, sizeof(*in), AF_INET, 0, &out), sizeof(struct sockaddr_in));
	cr_assert_eq(memcmp(&out, &peer, sizeof(*in)), 0);
	/* a v6only listener (nginx's [::]:80 beside 0.0.0.0:80): as it is too */
	cr_assert_eq(cb_pl_present_peer(&peer, sizeof(*in), AF_INET6, 1, &out), sizeof(struct sockaddr_in));
	cr_assert_eq(memcmp(&out, &peer, sizeof(*in)), 0);
}

Test(preload, peer_ipv6_as_is)
{
	struct sockaddr_storage peer = { 0 }, out;
	struct sockaddr_in6 *p6 = (struct sockaddr_in6 *)&peer;

	p6->sin6_family = AF_INET6;
	p6->sin6_port = htons(1234);
	inet_pton(AF_INET6, "2001:db8::1", &p6->sin6_addr);
	cr_assert_eq(cb_pl_present_peer(&peer, sizeof(*p6), AF_INET6, 0, &out), sizeof(*p6));
	cr_assert_eq(memcmp(&out, &peer, sizeof(*p6)), 0);
	cr_assert_eq(cb_pl_present_peer(&peer, sizeof(*p6), AF_INET, 0, &out), sizeof(*p6));
	cr_assert_eq(memcmp(&out, &peer, sizeof(*p6)), 0);
}

Test(preload, copy_addr_truncates_like_the_kernel)
{
	struct sockaddr_in6 src = { .sin6_family = AF_INET6, .sin6_port = htons(9) };
	unsigned char dst[sizeof(src) + 4];
	socklen_t len = sizeof(struct sockaddr_in);

	memset(dst, 0xaa, sizeof(dst));
	cb_pl_copy_addr(&src, sizeof(src), (struct sockaddr *)dst, &len);
	cr_assert_eq(len, sizeof(src), "the full length is reported");
	cr_assert_eq(memcmp(dst, &src, sizeof(struct sockaddr_in)), 0);
	cr_assert_eq(dst[sizeof(struct sockaddr_in)], 0xaa, "nothing past the caller's length");
	len = sizeof(dst);
	cb_pl_copy_addr(&src, sizeof(src), (struct sockaddr *)dst, &len);
	cr_assert_eq(len, sizeof(src));
	cb_pl_copy_addr(&src, sizeof(src), NULL, &len);         /* accept(fd, NULL, NULL) */
}
