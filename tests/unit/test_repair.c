// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * TCP_REPAIR against a real peer on loopback (127.0.0.1 and ::1): a
 * connection is accepted the normal way, dumped and closed silently, then
 * rebuilt from its numbers, directly or through a socket image; the
 * original client must not notice.  Needs root (CAP_NET_ADMIN).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include "repair/image.h"
#include "repair/repair.h"

#define TCPI_OPT_USEC_TS_BIT 64         /* newer than netinet/tcp.h */
#define TCPOLEN_TS_ALIGNED 12

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("TCP_REPAIR needs CAP_NET_ADMIN");
}

static void pair(int family, int *cli, int *srv)
{
	union cb_sockaddr a = { .sa.sa_family = (sa_family_t)family };
	socklen_t al = sizeof(a);
	int l = socket(family, SOCK_STREAM, 0);

	if (family == AF_INET6)
		a.in6.sin6_addr = in6addr_loopback;
	else
		a.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(l, 0);
	cr_assert_eq(bind(l, &a.sa, cb_sockaddr_len(&a)), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, &a.sa, &al), 0);
	*cli = socket(family, SOCK_STREAM, 0);
	cr_assert_eq(connect(*cli, &a.sa, cb_sockaddr_len(&a)), 0);
	*srv = accept(l, NULL, NULL);
	cr_assert_geq(*srv, 0);
	close(l);
}

static size_t read_exact(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 2000) <= 0)
			break;
		n = read(fd, buf + got, len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131 + seed) % 251);
}

static struct tcp_info info(int fd)
{
	struct tcp_info ti;
	socklen_t sl = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &sl), 0);
	return ti;
}

/* The first RTT sample, waited for up to 100 ms (loopback answers in µs). */
static uint32_t first_rtt(int fd)
{
	int i;

	for (i = 0; i < 100 && !info(fd).tcpi_rtt; i++)
		usleep(1000);
	return info(fd).tcpi_rtt;
}

/* Built but not live: reads refused, nothing sent, even by close(). */
static void expect_inert(int fd)
{
	uint8_t b;

	errno = 0;
	cr_expect_eq(recv(fd, &b, 1, MSG_DONTWAIT), -1);
	cr_expect_eq(errno, EPERM, "read from a socket in repair mode: %s", strerror(errno));
}

static int build(const struct cb_sock_state *st)
{
	const char *step = NULL;
	int fd = cb_repair_build(st, &step);

	cr_assert_geq(fd, 0, "build failed at %s: %s", step, strerror(-fd));
	expect_inert(fd);
	return fd;
}

static void go_live(int fd, const struct cb_sock_state *st)
{
	const char *step = NULL;
	int err = cb_repair_go_live(fd, st, &step);

	cr_assert_eq(err, 0, "go live failed at %s: %s", step, strerror(-err));
}

/*
 * Move the server socket srv: dump, close it (repair mode: silently), and
 * build it again, directly from the state or through a socket image; a
 * first build is closed before going live, which must not disturb the
 * client either.  Returns the new, live fd.
 */
static int move(int srv, bool via_image)
{
	static uint8_t img[1 << 20];
	struct cb_sock_state st, dec, *use = &st;
	const char *step = NULL;
	ssize_t n = 0;
	int fd;

	cr_assert_eq(cb_repair_dump(srv, &st), 0);
	cr_expect_eq(st.tcp_state, TCP_ESTABLISHED);
	if (via_image) {
		n = cb_image_encode(&st, img, sizeof(img));
		cr_assert_gt(n, 0, "encode: %s", strerror((int)-n));
	}
	close(srv);
	if (!via_image) {
		fd = cb_repair_restore(&st, &step);
		cr_assert_geq(fd, 0, "restore failed at %s: %s", step, strerror(-fd));
		cb_sock_state_free(&st);
		return fd;
	}
	cb_sock_state_free(&st);
	cr_assert_eq(cb_image_decode(img, (size_t)n, &dec), 0);
	use = &dec;
	close(build(use));
	fd = build(use);
	go_live(fd, use);
	return fd;
}

/* Both directions byte-exact (sizes that fit the socket buffers, so one
 * thread can write then read), then a clean close: EOF, not a reset. */
static void talk_and_close(int cli, int fd)
{
	static uint8_t out[40000], got[40000];
	ssize_t n;

	fill(out, sizeof(out), 7);
	cr_assert_eq(send(fd, out, sizeof(out), 0), (ssize_t)sizeof(out));
	cr_expect_eq(read_exact(cli, got, sizeof(out)), sizeof(out));
	cr_expect_eq(memcmp(got, out, sizeof(out)), 0);
	fill(out, sizeof(out), 8);
	cr_assert_eq(send(cli, out, sizeof(out), 0), (ssize_t)sizeof(out));
	cr_expect_eq(read_exact(fd, got, sizeof(out)), sizeof(out));
	cr_expect_eq(memcmp(got, out, sizeof(out)), 0);
	close(fd);
	n = read(cli, got, 1);
	cr_expect_eq(n, 0, "client read %zd (%s)", n, n < 0 ? strerror(errno) : "data");
	close(cli);
}

/* The request sits unread in the server's receive queue (large: many skbs). */
static void request_survives(int family, bool via_image)
{
	static uint8_t req[100000], got[100000];
	union cb_sockaddr a;
	socklen_t al = sizeof(a);
	int cli, srv, fd;

	need_root();
	pair(family, &cli, &srv);
	fill(req, sizeof(req), 1);
	cr_assert_eq(send(cli, req, sizeof(req), 0), (ssize_t)sizeof(req));
	usleep(100000);
	fd = move(srv, via_image);
	cr_assert_eq(getsockname(fd, &a.sa, &al), 0);
	cr_expect_eq(a.sa.sa_family, family);
	/* nothing was unacknowledged: the one-byte probe gave an RTT at once */
	cr_expect_gt(first_rtt(fd), 0);
	/* the app reads the request as if it had accepted the connection */
	cr_expect_eq(read_exact(fd, got, sizeof(req)), sizeof(req));
	cr_expect_eq(memcmp(got, req, sizeof(req)), 0);
	talk_and_close(cli, fd);
}

Test(repair, request_survives_restore)
{
	request_survives(AF_INET, false);
}

Test(repair, request_survives_image_move_ipv4)
{
	request_survives(AF_INET, true);
}

Test(repair, request_survives_image_move_ipv6)
{
	request_survives(AF_INET6, true);
}

/* A client that does not read: the server's send queue fills, part of it
 * sent and unacknowledged, part never sent. */
static void unacked_and_unsent_survive(int family, bool via_image)
{
	static uint8_t out[400000], got[400000];
	int cli, srv, fd, small = 4096, big = 1 << 20;
	struct cb_sock_state st;
	ssize_t accepted;
	struct pollfd p;

	need_root();
	pair(family, &cli, &srv);
	setsockopt(cli, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	fill(out, sizeof(out), 3);
	accepted = send(srv, out, sizeof(out), MSG_DONTWAIT);
	cr_assert_gt(accepted, 0);
	usleep(100000);
	/* a dump leaves the socket in repair mode: dumping it twice is fine */
	cr_assert_eq(cb_repair_dump(srv, &st), 0);
	cr_expect_gt(st.sndq_len, 0, "some bytes sent but unacknowledged");
	cr_expect_gt(st.unsent_len, 0, "some bytes never sent");
	cb_sock_state_free(&st);
	fd = move(srv, via_image);

	/* every byte the old socket accepted arrives exactly once, in order */
	setsockopt(cli, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	cr_expect_eq(read_exact(cli, got, (size_t)accepted), (size_t)accepted);
	cr_expect_eq(memcmp(got, out, (size_t)accepted), 0, "stream differs");
	p.fd = cli;
	p.events = POLLIN;
	cr_expect_eq(poll(&p, 1, 300), 0, "nothing more (no duplicate bytes)");
	talk_and_close(cli, fd);
}

Test(repair, unacked_and_unsent_survive_restore)
{
	unacked_and_unsent_survive(AF_INET, false);
}

Test(repair, unacked_and_unsent_survive_image_move_ipv4)
{
	unacked_and_unsent_survive(AF_INET, true);
}

Test(repair, unacked_and_unsent_survive_image_move_ipv6)
{
	unacked_and_unsent_survive(AF_INET6, true);
}

Test(repair, state_from_an_xdp_flow)
{
	struct cb_flow_key k = { htonl(0xc6120001), htonl(0xc6120064), htons(40000), htons(80) };
	struct cb_flow f = {
		.client_isn = 1000, .server_isn = 0xfffffff0u, .rcv_nxt = 1000 + 1 + 77,
		.snd_nxt = 0xfffffff1u, .ts_recent = 5, .ts_offset = 12345, .snd_wnd = 64512,
		.rcv_wnd = 65536, .bytes_in = 77, .state = CB_FLOW_UNBOUND, .mss = 1440,
		.snd_wscale = 10, .rcv_wscale = 7, .opts = CB_OPT_SACK | CB_OPT_TS | CB_OPT_WSCALE,
	};
	uint8_t req[77] = { 'G' };
	struct cb_sock_state st;

	cb_state_from_flow(&st, &k, &f, req, sizeof(req), 1000000);
	cr_expect_eq(st.local.in4.sin_addr.s_addr, k.daddr_be);
	cr_expect_eq(st.local.in4.sin_port, htons(80));
	cr_expect_eq(st.peer.in4.sin_addr.s_addr, k.saddr_be);
	cr_expect_eq(st.peer.in4.sin_port, htons(40000));
	cr_expect_eq(st.snd_una, 0xfffffff1u, "our ISN + 1 (wraps fine)");
	cr_expect_eq(st.rcv_seq, 1001, "the request starts right after the client's SYN");
	cr_expect_eq(st.rcvq_len, 77);
	cr_expect_eq(st.mss, 1440);
	cr_expect_eq(st.snd_wscale, 10);
	cr_expect_eq(st.rcv_wscale, 7);
	cr_expect_eq(st.opts, CB_OPT_SACK | CB_OPT_TS | CB_OPT_WSCALE);
	/* the clock XDP stamped with, continued; 1012345 is odd (a µs clock
	 * since 6.7): rounded up, never back */
	cr_expect_eq(st.tsval, 1000000 + 12345 + 1);
	cr_expect_eq(st.local.in4.sin_family, AF_INET);
	cr_expect_eq(st.tcp_state, TCP_ESTABLISHED);
	cr_expect(st.flags & CB_SOCK_RTT_PROBE);
	/* the window XDP offered keeps its right edge: client_isn + 1 + 65536 */
	cr_expect_eq(st.win.rcv_wup, 1078);
	cr_expect_eq(st.win.rcv_wnd, 65536 - 77);
	cr_expect_eq(st.win.rcv_wup + st.win.rcv_wnd, 1000 + 1 + 65536);
	cr_expect_eq(st.win.snd_wnd, 64512);
	cr_expect_eq(st.win.max_window, 64512);
	cr_expect_eq(st.sndq_len + st.unsent_len, 0);
}
