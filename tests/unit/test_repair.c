// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * TCP_REPAIR against a real peer on loopback (127.0.0.1 and ::1): a
 * connection is accepted the normal way, dumped and closed silently, then
 * rebuilt from its numbers, directly or through a socket image; the
 * original client must not notice.  Needs root (CAP_NET_ADMIN).
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include "repair/image.h"
#include "repair/repair.h"
#include "repair/rtt_memo.h"
#include "util/parse_util.h"
#include "util/clock.h"
#include "t_addr.h"

#define TCPI_OPT_USEC_TS_BIT 64         /* newer than netinet/tcp.h */
#define TCPOLEN_TS_ALIGNED 12

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("TCP_REPAIR needs CAP_NET_ADMIN");
}

/* A network namespace of this test's own (gone with its process), lo up:
 * a tcp_metrics table only this test fills. */
static void private_netns(void)
{
	need_root();
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
	cr_assert_eq(system("ip link set lo up"), 0);
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

/*
 * The server closes first, so the moved socket ends in TIME_WAIT on the
 * service's address: a server's own listener (SO_REUSEADDR, as every server
 * sets) must still bind that address, as it could next to the TIME_WAIT of
 * a socket the kernel accepted from such a listener.
 */
static void time_wait_lets_the_port_be_bound(int family)
{
	union cb_sockaddr a;
	socklen_t al = sizeof(a);
	int cli, srv, fd, l, v = 0;

	need_root();
	pair(family, &cli, &srv);
	fd = move(srv, false);
	al = sizeof(v);
	cr_expect_eq(getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, &al), 0);
	cr_expect_eq(v, 1, "SO_REUSEADDR on the live socket: %d", v);
	al = sizeof(a);
	cr_assert_eq(getsockname(fd, &a.sa, &al), 0);
	talk_and_close(cli, fd);
	l = socket(family, SOCK_STREAM, 0);
	v = 1;
	cr_assert_eq(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v)), 0);
	cr_expect_eq(bind(l, &a.sa, cb_sockaddr_len(&a)), 0,
		     "a listener's bind next to the moved socket's TIME_WAIT: %s", strerror(errno));
	close(l);
}

Test(repair, time_wait_lets_the_port_be_bound_ipv4)
{
	time_wait_lets_the_port_be_bound(AF_INET);
}

Test(repair, time_wait_lets_the_port_be_bound_ipv6)
{
	time_wait_lets_the_port_be_bound(AF_INET6);
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

/* An IPv6 flow's key gives AF_INET6 addresses and its own ports. */
/*
 * An IPv4 client on an app's dual-stack [::] listener: its socket is
 * AF_INET6 with ::ffff:a.b.c.d addresses.  Dumped, it is the IPv4
 * connection it is (a rebuilt AF_INET6 socket is IPV6_V6ONLY and could not
 * reach a mapped address); moved through an image, it keeps talking.
 */
Test(repair, ipv4_on_a_dual_stack_socket_moves_as_ipv4)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	struct cb_sock_state st;
	int l, cli, srv, fd, off = 0;

	need_root();
	l = socket(AF_INET6, SOCK_STREAM, 0);
	cr_assert_geq(l, 0);
	setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
	to.sin_port = a.sin6_port;
	cli = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(cli, (struct sockaddr *)&to, sizeof(to)), 0);
	srv = accept(l, NULL, NULL);
	cr_assert_geq(srv, 0);
	close(l);
	cr_assert_eq(cb_repair_dump(srv, &st), 0);
	cr_expect_eq(st.local.sa.sa_family, AF_INET, "the local address folded to IPv4");
	cr_expect_eq(st.peer.sa.sa_family, AF_INET, "the peer folded to IPv4");
	cr_expect_eq(st.peer.in4.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	cb_sock_state_free(&st);
	fd = move(srv, true);
	talk_and_close(cli, fd);
}

Test(repair, state_from_an_ipv6_xdp_flow)
{
	struct cb_flow_key k = t_key(a6("2001:db8::1"), a6("2001:db8::100"), 40000, 80);
	struct cb_flow f = {
		.client_isn = 1000, .rcv_nxt = 1001, .snd_nxt = 5001,
		.snd_wnd = 64512, .rcv_wnd = 65536, .state = CB_FLOW_UNBOUND, .mss = 1440,
		.snd_wscale = 7, .rcv_wscale = 7, .opts = CB_OPT_SACK | CB_OPT_WSCALE,
	};
	struct cb_sock_state st;

	cb_state_from_flow(&st, &k, &f, NULL, 0, 1000000);
	cr_expect_eq(st.local.in6.sin6_family, AF_INET6);
	cr_expect_eq(memcmp(&st.local.in6.sin6_addr, k.daddr.b, 16), 0);
	cr_expect_eq(st.local.in6.sin6_port, htons(80));
	cr_expect_eq(st.peer.in6.sin6_family, AF_INET6);
	cr_expect_eq(memcmp(&st.peer.in6.sin6_addr, k.saddr.b, 16), 0);
	cr_expect_eq(st.peer.in6.sin6_port, htons(40000));
	cr_expect_eq(cb_sockaddr_len(&st.local), sizeof(struct sockaddr_in6));
	cr_expect_eq(cb_sockaddr_len(&st.peer), sizeof(struct sockaddr_in6));
	cr_expect_eq(st.snd_una, 5001);
	cr_expect_eq(st.rcv_seq, 1001);
	/* and an IPv4 key still gives AF_INET */
	k = t_key(a4(0xc6120001), a4(0xc6120064), 40000, 80);
	cb_state_from_flow(&st, &k, &f, NULL, 0, 1000000);
	cr_expect_eq(st.local.in4.sin_family, AF_INET);
	cr_expect_eq(cb_sockaddr_len(&st.local), sizeof(struct sockaddr_in));
}

Test(repair, state_from_an_xdp_flow)
{
	struct cb_flow_key k = t_key(a4(0xc6120001), a4(0xc6120064), 40000, 80);
	struct cb_flow f = {
		.client_isn = 1000, .rcv_nxt = 1000 + 1 + 77,
		.snd_nxt = 0xfffffff1u, .ts_recent = 5, .ts_offset = 12345, .snd_wnd = 64512,
		.rcv_wnd = 65536, .bytes_in = 77, .state = CB_FLOW_UNBOUND, .mss = 1440,
		.snd_wscale = 10, .rcv_wscale = 7, .opts = CB_OPT_SACK | CB_OPT_TS | CB_OPT_WSCALE,
	};
	uint8_t req[77] = { 'G' };
	struct cb_sock_state st;

	cb_state_from_flow(&st, &k, &f, req, sizeof(req), 1000000);
	cr_expect_eq(st.local.in4.sin_family, AF_INET);
	cr_expect_eq(st.local.in4.sin_addr.s_addr, k.daddr.w[3]);
	cr_expect_eq(st.local.in4.sin_port, htons(80));
	cr_expect_eq(st.peer.in4.sin_family, AF_INET);
	cr_expect_eq(st.peer.in4.sin_addr.s_addr, k.saddr.w[3]);
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

/*
 * Built in repair mode (nothing is sent, not even by close()) for a VIP
 * that is not a local address here: IP_TRANSPARENT lets bind and connect
 * through (IP_FREEBIND alone fails the repair connect with ENETUNREACH);
 * for a local one nothing is set (a syscall less on every connection).
 * Returns IP_TRANSPARENT's value.
 */
static int built_transparent(uint32_t vip, uint32_t client)
{
	struct cb_flow_key k;
	struct cb_flow f = {
		.client_isn = 1000, .rcv_nxt = 1001, .snd_nxt = 5001,
		.snd_wnd = 64512, .rcv_wnd = 65536, .state = CB_FLOW_UNBOUND, .mss = 1460,
	};
	union cb_sockaddr a;
	socklen_t al = sizeof(a);
	struct cb_sock_state st;
	const char *step = NULL;
	int fd, v = -1;

	k = t_key(a4(client), a4(vip), 40000, 80);    /* client -> VIP */
	cb_state_from_flow(&st, &k, &f, NULL, 0, 1000000);
	fd = cb_repair_build(&st, &step);
	cr_assert_geq(fd, 0, "build failed at %s: %s", step, strerror(-fd));
	cr_assert_eq(getsockname(fd, &a.sa, &al), 0);
	cr_expect_eq(a.in4.sin_addr.s_addr, htonl(vip), "bound to the VIP");
	al = sizeof(v);
	cr_assert_eq(getsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &v, &al), 0);
	close(fd);
	return v;
}

/* In a network namespace of its own (gone with the test's process): a
 * veth with 198.19.255.1/24 (no dummy driver here), the client
 * 198.19.255.2 on its link. */
Test(repair, nonlocal_vip_binds_transparent)
{
	need_root();
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
	cr_assert_eq(system("ip link set lo up && ip link add cbt0 type veth peer name cbt1 && "
			    "ip link set cbt1 up && ip link set cbt0 up && "
			    "ip addr add 198.19.255.1/24 dev cbt0"), 0);
	cr_expect_eq(built_transparent(0xc613ff64u, 0xc613ff02u), 1,
		     "198.19.255.100 is not local: IP_TRANSPARENT");
	cr_expect_eq(built_transparent(0xc613ff01u, 0xc613ff02u), 0,
		     "198.19.255.1 is local: nothing set");
}

/* ---- a queue that changes under a dump (P7) ------------------------ */

struct grow {
	int cli, srv;
	int calls;
	int every;                      /* grow on every call, not just the first */
	size_t sent;                    /* bytes the client has sent in all */
	uint8_t data[8000];
};

static int inq(int fd)
{
	int n = -1;

	cr_assert_eq(ioctl(fd, SIOCINQ, &n), 0);
	return n;
}

/* Between the copy and the re-check: 500 more bytes reach the server. */
static void grow_rcvq(void *arg)
{
	struct grow *g = arg;
	int i;

	if (g->calls++ && !g->every)
		return;
	cr_assert_leq(g->sent + 500, sizeof(g->data));
	cr_assert_eq(send(g->cli, g->data + g->sent, 500, 0), 500);
	g->sent += 500;
	for (i = 0; i < 2000 && (size_t)inq(g->srv) < g->sent; i++)
		usleep(1000);
	cr_assert_eq((size_t)inq(g->srv), g->sent);
}

static void grow_setup(struct grow *g)
{
	int i;

	need_root();
	memset(g, 0, sizeof(*g));
	pair(AF_INET, &g->cli, &g->srv);
	fill(g->data, sizeof(g->data), 5);
	g->sent = 1000;
	cr_assert_eq(send(g->cli, g->data, g->sent, 0), (ssize_t)g->sent);
	for (i = 0; i < 2000 && (size_t)inq(g->srv) < g->sent; i++)
		usleep(1000);
}

Test(repair, dump_sees_a_queue_grow_and_starts_again)
{
	struct cb_sock_state st;
	struct grow g;
	int end = 0, fd;
	socklen_t sl = sizeof(end);
	uint8_t got[1500];

	grow_setup(&g);
	cr_assert_eq(cb_repair_dump_hook(g.srv, &st, grow_rcvq, &g), 0);
	cr_expect_eq(g.calls, 2, "one copy found stale, one good");
	cr_assert_eq(st.rcvq_len, 1500);
	cr_expect_eq(memcmp(st.rcvq, g.data, 1500), 0);
	/* sequence numbers match the content: the queue ends at rcv_nxt */
	cr_assert_eq(setsockopt(g.srv, IPPROTO_TCP, TCP_REPAIR_QUEUE, &(int){ TCP_RECV_QUEUE },
				sizeof(int)), 0);
	cr_assert_eq(getsockopt(g.srv, IPPROTO_TCP, TCP_QUEUE_SEQ, &end, &sl), 0);
	cr_expect_eq(st.rcv_seq + 1500, (uint32_t)end);
	/* and the connection moves on from it */
	close(g.srv);
	fd = cb_repair_restore(&st, NULL);
	cr_assert_geq(fd, 0, "%s", strerror(-fd));
	cb_sock_state_free(&st);
	cr_expect_eq(read_exact(fd, got, sizeof(got)), sizeof(got));
	cr_expect_eq(memcmp(got, g.data, sizeof(got)), 0);
	talk_and_close(g.cli, fd);
}

Test(repair, dump_gives_up_on_a_queue_that_keeps_moving)
{
	struct cb_sock_state st;
	struct grow g;

	grow_setup(&g);
	g.every = 1;
	cr_expect_eq(cb_repair_dump_hook(g.srv, &st, grow_rcvq, &g), -EAGAIN);
	cr_expect_eq(g.calls, CB_REPAIR_DUMP_TRIES);
	cr_expect_null(st.rcvq, "nothing left allocated");
	close(g.srv);
	close(g.cli);
}

/* ---- a socket built from an XDP flow's numbers ---------------------- */

/*
 * Stand in for XDP's flow table against a real client: the flow's numbers
 * are taken from an accepted socket (dumped, closed silently), with an MSS
 * below loopback's and a TS clock that is odd (a µs clock, if used as is).
 */
static void flow_like(int cli, int srv, const uint8_t *req, size_t len, uint16_t mss,
		      struct cb_flow_key *k, struct cb_flow *f, uint32_t *now)
{
	struct cb_sock_state d;

	cr_assert_eq(cb_repair_dump(srv, &d), 0);
	cr_assert_eq(d.rcvq_len, len);
	close(srv);
	cr_assert_eq(cb_addr_from_sockaddr((const struct sockaddr *)&d.peer, &k->saddr,
					   &k->sport_be), 0);
	cr_assert_eq(cb_addr_from_sockaddr((const struct sockaddr *)&d.local, &k->daddr,
					   &k->dport_be), 0);
	memset(f, 0, sizeof(*f));
	f->client_isn = d.rcv_seq - 1;
	f->rcv_nxt = d.rcv_seq + (uint32_t)len;
	f->snd_nxt = d.snd_una;
	f->bytes_in = (uint32_t)len;
	f->snd_wnd = d.win.snd_wnd;
	f->rcv_wnd = d.win.rcv_wup + d.win.rcv_wnd - d.rcv_seq;
	f->mss = mss;
	f->snd_wscale = d.snd_wscale;
	f->rcv_wscale = d.rcv_wscale;
	f->opts = d.opts;
	f->state = CB_FLOW_UNBOUND;
	*now = cb_now_ms();
	f->ts_offset = (d.tsval | 1) - *now;
	cb_sock_state_free(&d);
}

Test(repair, socket_from_an_xdp_flow_runs_ms_timestamps_the_peer_mss_and_an_rtt)
{
	static uint8_t req[300], got[300];
	struct cb_sock_state st;
	struct cb_flow_key k;
	struct cb_flow f;
	struct tcp_info ti;
	uint32_t now, rtt;
	int cli, srv, fd, ts;
	socklen_t sl = sizeof(ts);

	need_root();
	pair(AF_INET, &cli, &srv);
	fill(req, sizeof(req), 9);
	cr_assert_eq(send(cli, req, sizeof(req), 0), (ssize_t)sizeof(req));
	usleep(20000);
	flow_like(cli, srv, req, sizeof(req), 1200, &k, &f, &now);
	cr_assert(f.opts & CB_OPT_TS, "loopback negotiates timestamps");
	cb_state_from_flow(&st, &k, &f, req, sizeof(req), now);
	cr_expect_eq(st.tsval & 1, 0);

	fd = build(&st);
	cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_TIMESTAMP, &ts, &sl), 0);
	cr_expect_eq(ts & 1, 0, "a millisecond clock");
	go_live(fd, &st);
	rtt = first_rtt(fd);
	ti = info(fd);
	cr_expect_eq(ti.tcpi_options & TCPI_OPT_USEC_TS_BIT, 0, "no µs timestamps");
	/* the peer's MSS less the timestamp option, as on an accepted socket */
	cr_expect_eq(ti.tcpi_snd_mss, 1200 - TCPOLEN_TS_ALIGNED, "snd_mss %u", ti.tcpi_snd_mss);
	cr_expect_gt(rtt, 0, "an RTT sample right after going live");
	cr_expect_lt(rtt, 5000, "a real sample, not a fallback (%u us)", rtt);

	cr_expect_eq(read_exact(fd, got, sizeof(req)), sizeof(req));
	cr_expect_eq(memcmp(got, req, sizeof(req)), 0);
	talk_and_close(cli, fd);
}

/* The kernel's tcp_info goes on past glibc's (which ends at total_retrans). */
struct tcp_info_segs {
	struct tcp_info glibc;
	uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
	uint32_t segs_out, segs_in;
};
_Static_assert(offsetof(struct tcp_info, tcpi_total_retrans) + 4 == sizeof(struct tcp_info),
	       "glibc's tcp_info is the kernel's prefix");

static struct tcp_info_segs info_segs(int fd)
{
	struct tcp_info_segs ti;
	socklen_t sl = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &sl), 0);
	cr_assert_geq(sl, sizeof(ti), "this kernel's tcp_info has segs_out");
	return ti;
}

/*
 * rtt_probe = no: going live sends nothing (no probe byte, no window probe),
 * and the first RTT sample comes from the ACK of the first answer.
 */
Test(repair, quiet_go_live_sends_nothing_and_samples_the_first_answer)
{
	static uint8_t req[300], got[300], answer[1000];
	struct cb_sock_state st;
	struct cb_flow_key k;
	struct cb_flow f;
	struct tcp_info_segs seg;
	struct tcp_info ti;
	uint32_t now;
	int cli, srv, fd, i;

	need_root();
	pair(AF_INET, &cli, &srv);
	fill(req, sizeof(req), 4);
	cr_assert_eq(send(cli, req, sizeof(req), 0), (ssize_t)sizeof(req));
	usleep(20000);
	flow_like(cli, srv, req, sizeof(req), 1200, &k, &f, &now);
	cb_state_from_flow(&st, &k, &f, req, sizeof(req), now);
	st.flags = CB_SOCK_QUIET;
	fd = build(&st);
	go_live(fd, &st);
	usleep(20000);          /* a probe's answer would be back by now */
	seg = info_segs(fd);
	cr_expect_eq(seg.segs_out, 0, "segments sent going live: %u", seg.segs_out);
	cr_expect_eq(seg.segs_in, 0, "segments answered: %u", seg.segs_in);
	cr_expect_eq(seg.glibc.tcpi_rtt, 0, "no RTT sample before the first answer");

	cr_expect_eq(read_exact(fd, got, sizeof(req)), sizeof(req));
	cr_expect_eq(memcmp(got, req, sizeof(req)), 0);
	fill(answer, sizeof(answer), 5);
	cr_assert_eq(send(fd, answer, sizeof(answer), 0), (ssize_t)sizeof(answer));
	cr_expect_eq(read_exact(cli, answer, sizeof(answer)), sizeof(answer));
	for (i = 0; i < 100 && info(fd).tcpi_unacked; i++)
		usleep(1000);
	ti = info(fd);
	cr_expect_eq(ti.tcpi_unacked, 0, "the answer is acknowledged");
	cr_expect_gt(ti.tcpi_rtt, 0, "its ACK gave the first sample");
	cr_expect_lt(ti.tcpi_rtt, 5000, "a real sample, not a fallback (%u us)", ti.tcpi_rtt);
	talk_and_close(cli, fd);
}

/* A dump -> restore round trip keeps the clock's kind: here a µs one. */
Test(repair, round_trip_keeps_a_microsecond_clock)
{
	struct cb_sock_state st;
	int cli, srv, fd;

	need_root();
	pair(AF_INET, &cli, &srv);
	cr_assert_eq(cb_repair_dump(srv, &st), 0);
	close(srv);
	st.tsval |= 1;
	fd = cb_repair_restore(&st, NULL);
	cr_assert_geq(fd, 0, "%s", strerror(-fd));
	cb_sock_state_free(&st);
	cr_expect(info(fd).tcpi_options & TCPI_OPT_USEC_TS_BIT);
	cr_assert_eq(cb_repair_dump(fd, &st), 0);
	cr_expect_eq(st.tsval & 1, 1, "dumped with its bit");
	close(fd);
	fd = cb_repair_restore(&st, NULL);
	cr_assert_geq(fd, 0, "%s", strerror(-fd));
	cb_sock_state_free(&st);
	cr_expect(info(fd).tcpi_options & TCPI_OPT_USEC_TS_BIT);
	talk_and_close(cli, fd);
}

/*
 * One fresh flow of the client 127.0.0.1 built through the memo: what it
 * went live with (its flags), how many segments going live sent, its RTO
 * then; the request and an answer pass, and the connection closes (which
 * is when the kernel caches its RTT).
 */
struct remembered {
	uint8_t flags;
	uint32_t segs_out, rto;
};

static struct remembered remembered_round(struct cb_rtt_memo *m)
{
	static uint8_t req[300], got[300], answer[1000], back[1000];
	struct remembered r;
	struct cb_sock_state st;
	struct cb_flow_key k;
	struct cb_flow f;
	const char *step = NULL;
	uint32_t now;
	int cli, srv, fd;

	pair(AF_INET, &cli, &srv);
	fill(req, sizeof(req), 11);
	cr_assert_eq(send(cli, req, sizeof(req), 0), (ssize_t)sizeof(req));
	usleep(20000);
	flow_like(cli, srv, req, sizeof(req), 1200, &k, &f, &now);
	cb_state_from_flow(&st, &k, &f, req, sizeof(req), now);
	st.flags = CB_SOCK_RTT_PROBE;   /* what the service asks for */
	fd = cb_repair_build_remembered(&st, m, now, &step);
	cr_assert_geq(fd, 0, "build failed at %s: %s", step, strerror(-fd));
	expect_inert(fd);
	r.flags = st.flags;
	r.rto = info(fd).tcpi_rto;
	go_live(fd, &st);
	usleep(20000);          /* the probe's answer is back by now */
	r.segs_out = info_segs(fd).segs_out;
	cr_expect_eq(read_exact(fd, got, sizeof(req)), sizeof(req));
	cr_expect_eq(memcmp(got, req, sizeof(req)), 0, "the request, exact");
	fill(answer, sizeof(answer), 12);
	cr_assert_eq(send(fd, answer, sizeof(answer), 0), (ssize_t)sizeof(answer));
	cr_expect_eq(read_exact(cli, back, sizeof(back)), sizeof(back));
	cr_expect_eq(memcmp(back, answer, sizeof(answer)), 0, "the answer, exact");
	talk_and_close(cli, fd);
	usleep(20000);
	return r;
}

/*
 * A repeat client goes live without the RTT probe once the kernel has its
 * RTT cached (the cache seeds the RTO: 200 ms, not the 3 s fallback), and a
 * hint the kernel no longer backs (its cache flushed) is caught: that
 * socket is built again with the probe.  In a namespace of its own: a
 * tcp_metrics table that only this test fills.
 */
Test(repair, repeat_client_goes_live_without_the_probe)
{
	static struct cb_rtt_memo m;
	struct remembered r;

	private_netns();

	r = remembered_round(&m);
	cr_expect_eq(r.flags, CB_SOCK_RTT_PROBE, "a first-time client: the probe");
	cr_expect_eq(r.segs_out, 1, "the probe byte, alone");
	cr_expect_geq(r.rto, 3000000, "no RTT cached yet: the 3 s fallback (%u us)", r.rto);

	r = remembered_round(&m);
	cr_expect_eq(r.flags, CB_SOCK_RTT_PROBE, "not known to be cached yet: the probe");
	cr_expect_lt(r.rto, 3000000, "the first connection's RTT seeds the RTO (%u us)", r.rto);

	r = remembered_round(&m);
	cr_expect_eq(r.flags, CB_SOCK_QUIET, "a known client: no probe");
	cr_expect_eq(r.segs_out, 0, "nothing sent going live");
	cr_expect_lt(r.rto, 3000000, "and the RTO still seeded (%u us)", r.rto);

	cr_assert_eq(system("ip tcp_metrics flush all"), 0);
	r = remembered_round(&m);
	cr_expect_eq(r.flags, CB_SOCK_RTT_PROBE, "a hint the kernel no longer backs: the probe");
	cr_expect_eq(r.segs_out, 1, "the rebuilt socket sent the probe");
	cr_expect_geq(r.rto, 3000000, "(%u us)", r.rto);
}

/* Without a memo, or for a service without the probe, nothing changes. */
Test(repair, no_memo_builds_as_asked)
{
	static struct cb_rtt_memo m;
	struct remembered r;

	private_netns();
	r = remembered_round(NULL);
	r = remembered_round(NULL);
	r = remembered_round(NULL);
	cr_expect_eq(r.flags, CB_SOCK_RTT_PROBE);
	cr_expect_eq(r.segs_out, 1);
	(void)m;
}
