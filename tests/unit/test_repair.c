// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * TCP_REPAIR against a real peer on loopback: a connection is accepted the
 * normal way, dumped and closed silently, then rebuilt from its numbers by
 * cb_repair_restore(); the original client must not notice.  Needs root
 * (CAP_NET_ADMIN for TCP_REPAIR).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "repair/repair.h"

static void pair(int *cli, int *srv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(l, 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
	*cli = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(*cli, (struct sockaddr *)&a, sizeof(a)), 0);
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

Test(repair, dump_close_silently_restore_and_talk)
{
	static uint8_t req[300000], got[300000], resp[40000];
	struct cb_sock_state st;
	const char *step = NULL;
	int cli, srv, fd;
	ssize_t n;

	if (geteuid() != 0)
		cr_skip_test("TCP_REPAIR needs CAP_NET_ADMIN");
	pair(&cli, &srv);
	/* the request sits unread in the server's receive queue (large: many skbs) */
	fill(req, sizeof(req), 1);
	cr_assert_eq(send(cli, req, 100000, 0), 100000);
	usleep(100000);
	cr_assert_eq(cb_repair_dump(srv, &st), 0);
	cr_expect_eq(st.rcvq_len, 100000);
	cr_expect_eq(memcmp(st.rcvq, req, 100000), 0);
	cr_expect_eq(st.sndq_len, 0);
	cr_expect(st.opts & CB_OPT_TS);
	close(srv);                     /* in repair mode: no FIN, no RST */

	fd = cb_repair_restore(&st, &step);
	cr_assert_geq(fd, 0, "restore failed at %s: %s", step, strerror(-fd));
	cb_sock_state_free(&st);

	/* the app reads the request as if it had accepted the connection */
	cr_expect_eq(read_exact(fd, got, 100000), 100000);
	cr_expect_eq(memcmp(got, req, 100000), 0);
	/* both directions keep working, byte-exact (sizes that fit the socket
	 * buffers, so one thread can write then read) */
	fill(resp, sizeof(resp), 2);
	cr_assert_eq(send(fd, resp, sizeof(resp), 0), (ssize_t)sizeof(resp));
	cr_expect_eq(read_exact(cli, got, sizeof(resp)), sizeof(resp));
	cr_expect_eq(memcmp(got, resp, sizeof(resp)), 0);
	cr_assert_eq(send(cli, req + 100000, 40000, 0), 40000);
	cr_expect_eq(read_exact(fd, got, 40000), 40000);
	cr_expect_eq(memcmp(got, req + 100000, 40000), 0);
	/* a clean close: the client sees EOF, not a reset */
	close(fd);
	n = read(cli, got, 1);
	cr_expect_eq(n, 0, "client read %zd (%s)", n, n < 0 ? strerror(errno) : "data");
	close(cli);
}

Test(repair, unacked_and_unsent_data_survive_a_move)
{
	static uint8_t out[400000], got[400000];
	struct cb_sock_state st;
	const char *step = NULL;
	int cli, srv, fd, small = 4096, big = 1 << 20;
	ssize_t accepted;
	struct pollfd p;

	if (geteuid() != 0)
		cr_skip_test("TCP_REPAIR needs CAP_NET_ADMIN");
	pair(&cli, &srv);
	/* a client that does not read: the server's send queue fills */
	setsockopt(cli, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	fill(out, sizeof(out), 3);
	accepted = send(srv, out, sizeof(out), MSG_DONTWAIT);
	cr_assert_gt(accepted, 0);
	usleep(100000);
	cr_assert_eq(cb_repair_dump(srv, &st), 0);
	cr_expect_gt(st.sndq_len, 0, "some bytes sent but unacknowledged");
	cr_expect_gt(st.unsent_len, 0, "some bytes never sent");
	close(srv);
	fd = cb_repair_restore(&st, &step);
	cr_assert_geq(fd, 0, "restore failed at %s: %s", step, strerror(-fd));
	cb_sock_state_free(&st);

	/* every byte the old socket accepted arrives exactly once, in order */
	setsockopt(cli, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	cr_expect_eq(read_exact(cli, got, (size_t)accepted), (size_t)accepted);
	cr_expect_eq(memcmp(got, out, (size_t)accepted), 0, "stream differs");
	p.fd = cli;
	p.events = POLLIN;
	cr_expect_eq(poll(&p, 1, 300), 0, "nothing more (no duplicate bytes)");
	close(fd);
	close(cli);
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
