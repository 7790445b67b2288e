// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The pure parts of the `connbroker exec` shim (lib/preload.h). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <criterion/criterion.h>
#include "connbroker.h"
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

/* The shim's reading of a FLOW's client= agrees with the library's full
 * parser on good messages, and declines (getpeername then) on bad ones. */
Test(preload, flow_client_as_the_library_reads_it)
{
	static const char *good[] = {
		"FLOW client=198.18.0.1:40000 service=web rule=default app=a bytes=10",
		"FLOW client=[2001:db8::7]:1 service=web rule=r app=a bytes=0 route=per-request",
		"FLOW service=web client=198.19.255.254:65535 rule=default app=a bytes=3 blob=3\nxyz",
	};
	static const char *bad[] = {
		"FLOW service=web rule=default app=a bytes=10",
		"FLOW client=198.18.0.1 service=web",
		"FLOW client=198.18.0.1:0 service=web",
		"FLOW client=198.18.0.1:65536 service=web",
		"FLOW client=198.18.0.1:123456 service=web",
		"FLOW client=198.18.0:1 service=web",
		"FLOW client=[2001:db8::7:1 service=web",
		"FLOW client=2001:db8::7]:1 service=web",
		"FLOW client=:80 service=web",
		"FLOW xclient=198.18.0.1:80 service=web",
		"FLOW service=web\n client=198.18.0.1:80",
		"FLOW client=",
		"FLOW client=[fe80::1]:80 service=web",   /* link-local: the scope from the socket */
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct sockaddr_storage peer;
		struct cb_conn_info ci;
		socklen_t plen = 0;
		size_t len = strlen(good[i]);

		cr_assert_eq(cb_pl_flow_client(good[i], len, &peer, &plen), 1, "%s", good[i]);
		cr_assert_eq(cb_app_parse_flow(good[i], len, &ci), 0, "%s", good[i]);
		cr_assert_eq(plen, peer.ss_family == AF_INET ? sizeof(struct sockaddr_in)
							     : sizeof(struct sockaddr_in6));
		cr_assert_eq(memcmp(&peer, &ci.client, plen), 0, "%s", good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sockaddr_storage peer;
		socklen_t plen = 0;

		cr_assert_eq(cb_pl_flow_client(bad[i], strlen(bad[i]), &peer, &plen), 0, "%s", bad[i]);
		cr_assert_eq(plen, 0, "%s", bad[i]);
	}
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

/* ---- the shim itself, dlopen()ed, against a fake controller ------------------ */
#include <dlfcn.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/un.h>

struct shim {
	void *h;
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
};

/* The shim with its environment; skips the test when it is not built. */
static void load_shim(struct shim *s, const char *sock, const char *ports)
{
	const char *so = getenv("CB_PRELOAD_SO") ? getenv("CB_PRELOAD_SO")
						 : "build/libconnbroker-preload.so";

	if (access(so, R_OK))
		cr_skip_test("%s not built", so);
	setenv("CONNBROKER_SOCKET", sock, 1);
	setenv("CONNBROKER_APP", "web", 1);
	setenv("CONNBROKER_PORTS", ports, 1);
	s->h = dlopen(so, RTLD_NOW | RTLD_LOCAL);       /* its constructor reads the env */
	cr_assert(s->h, "dlopen: %s", dlerror());
	s->bind = dlsym(s->h, "bind");
	s->listen = dlsym(s->h, "listen");
	s->accept4 = dlsym(s->h, "accept4");
	s->getsockname = dlsym(s->h, "getsockname");
	s->getsockopt = dlsym(s->h, "getsockopt");
	cr_assert(s->bind && s->listen && s->accept4 && s->getsockname && s->getsockopt);
}

struct fake_ctl {
	int lsock, conn_fd;     /* conn_fd: a TCP socket to hand over */
	char client[64];
};

/* Answers one REGISTER web with OK, then sends an ASK and a FLOW with conn_fd. */
static void *fake_ctl_run(void *arg)
{
	struct fake_ctl *f = arg;
	char buf[128], msg[256], cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = msg };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int c = accept(f->lsock, NULL, NULL);
	ssize_t n;

	if (c < 0)
		return NULL;
	n = recv(c, buf, sizeof(buf) - 1, 0);
	if (n != 12 || memcmp(buf, "REGISTER web", 12))
		return NULL;
	send(c, "OK", 2, 0);
	send(c, "ASK client=10.0.0.9:1 to=x", 26, 0);       /* no fd: skipped by accept */
	iov.iov_len = (size_t)snprintf(msg, sizeof(msg),
				       "FLOW client=%s service=s rule=default app=web bytes=0", f->client);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &f->conn_fd, sizeof(int));
	sendmsg(c, &mh, 0);
	sleep(2);               /* the registration stays up while the test runs */
	close(c);
	return NULL;
}

Test(preload, shim_listen_accept_against_a_controller)
{
	char dir[] = "/tmp/cb-preload-XXXXXX", path[128];
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	struct sockaddr_in lo = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 any6 = { .sin6_family = AF_INET6, .sin6_port = htons(18080),
				     .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct fake_ctl f = { 0 };
	struct pollfd pfd;
	struct shim s;
	socklen_t len = sizeof(lo);
	int tl, cli, fd, nfd, off = 0, v;
	pthread_t th;
	char txt[64], got[4] = { 0 };

	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	load_shim(&s, path, "18080, 18081");
	/* a real TCP connection on loopback: its server side is what the FLOW carries */
	tl = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(tl, (struct sockaddr *)&lo, sizeof(lo)), 0);
	cr_assert_eq(listen(tl, 1), 0);
	cr_assert_eq(getsockname(tl, (struct sockaddr *)&lo, &len), 0);
	cli = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(cli, (struct sockaddr *)&lo, sizeof(lo)), 0);
	f.conn_fd = accept(tl, NULL, NULL);
	cr_assert_geq(f.conn_fd, 0);
	len = sizeof(lo);
	getsockname(cli, (struct sockaddr *)&lo, &len);
	snprintf(f.client, sizeof(f.client), "127.0.0.1:%u", ntohs(lo.sin_port));
	strcpy(su.sun_path, path);
	f.lsock = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	cr_assert_eq(bind(f.lsock, (struct sockaddr *)&su, sizeof(su)), 0);
	cr_assert_eq(listen(f.lsock, 4), 0);
	pthread_create(&th, NULL, fake_ctl_run, &f);

	/* a dual-stack [::]:18080 listener, non-blocking */
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	cr_assert_eq(s.bind(fd, (struct sockaddr *)&any6, sizeof(any6)), 0);
	len = sizeof(ss);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);      /* libc's */
	cr_assert_eq(s6->sin6_port, 0, "bind() to a captured port is not done");
	len = sizeof(ss);
	cr_assert_eq(s.getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	cr_assert_eq(ntohs(s6->sin6_port), 18080, "but getsockname() answers it");
	cr_assert_eq(s.listen(fd, 16), 0);
	len = sizeof(v);
	cr_assert_eq(getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len), 0);
	cr_assert_eq(v, AF_UNIX, "the registration is under the listener's number");
	cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK, "O_NONBLOCK kept");
	len = sizeof(v);
	cr_assert_eq(s.getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len), 0);
	cr_assert_eq(v, AF_INET6, "the shim answers as the listener");
	len = sizeof(v);
	cr_assert_eq(s.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len), 0);
	cr_assert_eq(v, 1);
	errno = 0;
	cr_assert_eq(s.accept4(fd, NULL, NULL, 0x40000000), -1);
	cr_assert_eq(errno, EINVAL, "unknown accept4 flags");

	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	cr_assert_eq(poll(&pfd, 1, 2000), 1, "readable when a connection is queued");
	len = sizeof(ss);
	nfd = s.accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	cr_assert_geq(nfd, 0, "accept4: %s", strerror(errno));
	cr_assert(fcntl(nfd, F_GETFL) & O_NONBLOCK, "SOCK_NONBLOCK");
	cr_assert(fcntl(nfd, F_GETFD) & FD_CLOEXEC, "SOCK_CLOEXEC");
	cr_assert_eq(len, sizeof(struct sockaddr_in6));
	cr_assert_eq(s6->sin6_family, AF_INET6);
	inet_ntop(AF_INET6, &s6->sin6_addr, txt, sizeof(txt));
	cr_assert_str_eq(txt, "::ffff:127.0.0.1", "an IPv4 client on a dual-stack listener");
	cr_assert_eq(s6->sin6_port, lo.sin_port, "the client's port");
	cr_assert_eq(write(nfd, "hi!", 3), 3);
	cr_assert_eq(read(cli, got, 3), 3);
	cr_assert_str_eq(got, "hi!", "the handed-over socket is the connection");
	errno = 0;
	cr_assert_eq(s.accept4(fd, NULL, NULL, 0), -1);
	cr_assert_eq(errno, EAGAIN, "nothing queued on a non-blocking listener");

	/* a port not captured is the kernel's */
	{
		int u = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		cr_assert_eq(s.bind(u, (struct sockaddr *)&a, sizeof(a)), 0);
		cr_assert_eq(s.listen(u, 4), 0);
		len = sizeof(v);
		cr_assert_eq(getsockopt(u, SOL_SOCKET, SO_ACCEPTCONN, &v, &len), 0);
		cr_assert_eq(v, 1, "a real listener");
		close(u);
	}
	pthread_join(th, NULL);
	/* no controller: listen() fails, ECONNREFUSED */
	close(f.lsock);
	unlink(path);
	{
		int g = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(18081) };

		cr_assert_eq(s.bind(g, (struct sockaddr *)&a, sizeof(a)), 0);
		errno = 0;
		cr_assert_eq(s.listen(g, 4), -1);
		cr_assert_eq(errno, ECONNREFUSED);
		close(g);
	}
	rmdir(dir);
}
