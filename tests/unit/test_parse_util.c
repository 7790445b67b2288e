// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "util/parse_util.h"

Test(parse_util, service_ok)
{
	struct cb_service_key k;
	char buf[32];

	cr_assert_eq(cb_parse_service("198.18.0.100:8080", &k), 0);
	cr_expect_eq(k.vip.w[3], inet_addr("198.18.0.100"));
	cr_expect(cb_addr_is_v4(&k.vip));
	cr_expect_eq(ntohs(k.port_be), 8080);
	cr_expect_eq(k.pad, 0);
	cr_expect_str_eq(cb_fmt_service(&k, buf, sizeof(buf)), "198.18.0.100:8080");
}

Test(parse_util, service_rejects)
{
	struct cb_service_key k;
	const char *bad[] = { "", ":80", "198.18.0.1", "198.18.0.1:", "198.18.0.1:0",
			      "198.18.0.1:65536", "198.18.0.1:80x", "198.18.0:80", "host:80",
			      "198.18.0.1:-1", "198.18.0.1: 80" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_neq(cb_parse_service(bad[i], &k), 0, "accepted '%s'", bad[i]);
}

Test(parse_util, u32_strict)
{
	uint32_t v;

	cr_expect_eq(cb_parse_u32("42", 0, 100, &v), 0);
	cr_expect_eq(v, 42);
	cr_expect_neq(cb_parse_u32("101", 0, 100, &v), 0);
	cr_expect_neq(cb_parse_u32("4x", 0, 100, &v), 0);
	cr_expect_neq(cb_parse_u32("-1", 0, 100, &v), 0);
	cr_expect_neq(cb_parse_u32("", 0, 100, &v), 0);
	cr_expect_neq(cb_parse_u32("99999999999999999999", 0, UINT32_MAX, &v), 0);
}

Test(parse_util, modes)
{
	uint32_t m;

	cr_expect_eq(cb_parse_mode("native", &m), 0);
	cr_expect_eq(m, CB_MODE_NATIVE);
	cr_expect_eq(cb_parse_mode("skb", &m), 0);
	cr_expect_eq(m, CB_MODE_SKB);
	cr_expect_eq(cb_parse_mode("tc", &m), 0);
	cr_expect_eq(m, CB_MODE_TC);
	cr_expect_neq(cb_parse_mode("offload", &m), 0);
	cr_expect_str_eq(cb_mode_name(CB_MODE_TC), "tc");
}

Test(parse_util, addr_port_ipv6_and_ipv4)
{
	union cb_addr a, want;
	uint16_t port;
	char buf[CB_ADDR_PORT_STRLEN];

	cr_assert_eq(cb_parse_addr_port("[2001:db8::1]:80", &a, &port), 0);
	cr_assert_eq(inet_pton(AF_INET6, "2001:db8::1", &want), 1);
	cr_expect_eq(memcmp(&a, &want, 16), 0);
	cr_expect_eq(ntohs(port), 80);
	cr_expect_not(cb_addr_is_v4(&a));
	cr_expect_eq(cb_addr_family(&a), AF_INET6);
	cr_expect_str_eq(cb_fmt_addr(&a, port, buf, sizeof(buf)), "[2001:db8::1]:80");

	cr_assert_eq(cb_parse_addr_port("198.18.0.1:40000", &a, &port), 0);
	cr_expect(cb_addr_is_v4(&a));
	cr_expect_eq(a.w[3], inet_addr("198.18.0.1"));
	cr_expect_eq(a.w[0] | a.w[1], 0);
	cr_expect_eq(a.b[10], 0xff);
	cr_expect_eq(a.b[11], 0xff);
	cr_expect_eq(cb_addr_family(&a), AF_INET);
	cr_expect_str_eq(cb_fmt_addr(&a, port, buf, sizeof(buf)), "198.18.0.1:40000");

	cr_assert_eq(cb_parse_service("[2001:db8::100]:443", &(struct cb_service_key){ 0 }), 0);
}

Test(parse_util, addr_port_rejects)
{
	static const char *bad[] = {
		"2001:db8::1:80", "[2001:db8::1]", "[::ffff:1.2.3.4]:80", "[x]:80",
		"[2001:db8::1]:0", "[2001:db8::1]:65536", "[]:80", "[2001:db8::1:80",
		"2001:db8::1]:80", "[2001:db8::1] :80", "[2001:db8::1]:", "[2001:db8::1]80",
		"[[2001:db8::1]]:80", "[198.18.0.1]:80", "[2001:db8::1%eth0]:80", "::1:80",
		"[2001:db8::1]:80x",
	};
	union cb_addr a;
	uint16_t port;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_neq(cb_parse_addr_port(bad[i], &a, &port), 0, "accepted '%s'", bad[i]);
		cr_expect_neq(cb_parse_service(bad[i], &(struct cb_service_key){ 0 }), 0,
			      "service '%s'", bad[i]);
	}
}

/* Text -> address -> text gives the canonical text back, for both families
 * and the widest forms; and the formatted text parses to the same bytes. */
Test(parse_util, fmt_addr_round_trips)
{
	static const char *texts[] = {
		"198.18.0.1:40000", "0.0.0.0:1", "255.255.255.255:65535",
		"[2001:db8::1]:80", "[::1]:1", "[2001:db8:1:2:3:4:5:6]:65535",
		"[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", "[fe80::1:0:0:1]:8080",
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		union cb_addr a, b;
		uint16_t p, q;
		struct cb_service_key k;
		char buf[CB_ADDR_PORT_STRLEN], kbuf[CB_ADDR_PORT_STRLEN];

		cr_assert_eq(cb_parse_addr_port(texts[i], &a, &p), 0, "%s", texts[i]);
		cr_expect_str_eq(cb_fmt_addr(&a, p, buf, sizeof(buf)), texts[i]);
		cr_assert_eq(cb_parse_addr_port(buf, &b, &q), 0, "%s", buf);
		cr_expect_eq(memcmp(&a, &b, sizeof(a)), 0, "%s", texts[i]);
		cr_expect_eq(p, q);
		cr_assert_eq(cb_parse_service(texts[i], &k), 0);
		cr_expect_str_eq(cb_fmt_service(&k, kbuf, sizeof(kbuf)), texts[i]);
	}
	/* the longest form fits CB_ADDR_PORT_STRLEN */
	cr_expect_lt(strlen("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
		     (size_t)CB_ADDR_PORT_STRLEN);
}

/* Socket addresses both ways; a v4-mapped AF_INET6 one becomes IPv4. */
Test(parse_util, sockaddr_both_families)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	union cb_addr a, b;
	uint16_t port;

	cr_assert_eq(cb_parse_addr_port("[2001:db8::1]:40000", &a, &port), 0);
	memset(&ss, 0, sizeof(ss));
	cr_expect_eq(cb_addr_to_sockaddr(&a, port, &ss), sizeof(struct sockaddr_in6));
	cr_expect_eq(s6->sin6_family, AF_INET6);
	cr_expect_eq(s6->sin6_port, htons(40000));
	cr_expect_eq(memcmp(&s6->sin6_addr, &a, 16), 0);
	cr_assert_eq(cb_addr_from_sockaddr((struct sockaddr *)&ss, &b, &port), 0);
	cr_expect_eq(memcmp(&a, &b, 16), 0);
	cr_expect_eq(port, htons(40000));

	cr_assert_eq(cb_parse_addr_port("198.18.0.1:80", &a, &port), 0);
	memset(&ss, 0, sizeof(ss));
	cr_expect_eq(cb_addr_to_sockaddr(&a, port, &ss), sizeof(struct sockaddr_in));
	cr_expect_eq(s4->sin_family, AF_INET);
	cr_expect_eq(s4->sin_addr.s_addr, inet_addr("198.18.0.1"));
	cr_expect_eq(s4->sin_port, htons(80));
	cr_assert_eq(cb_addr_from_sockaddr((struct sockaddr *)&ss, &b, &port), 0);
	cr_expect_eq(memcmp(&a, &b, 16), 0);

	/* ::ffff:198.18.0.1 from a dual-stack socket is the IPv4 client */
	memset(&ss, 0, sizeof(ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(5);
	cr_assert_eq(inet_pton(AF_INET6, "::ffff:198.18.0.1", &s6->sin6_addr), 1);
	cr_assert_eq(cb_addr_from_sockaddr((struct sockaddr *)&ss, &b, &port), 0);
	cr_expect(cb_addr_is_v4(&b));
	cr_expect_eq(memcmp(&a, &b, 16), 0);
	cr_expect_eq(port, htons(5));

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	cr_expect_eq(cb_addr_from_sockaddr((struct sockaddr *)&ss, &b, &port), -EAFNOSUPPORT);
}
