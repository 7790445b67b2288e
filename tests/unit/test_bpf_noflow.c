// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Segments to a service with no flow that are not SYNs: what Linux answers a
 * segment of a connection it does not know (tcp_v4_send_reset), rate-limited,
 * nothing stored; passed to a kernel socket that owns the tuple.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cb_xdp.skel.h"
#include "cb_tc.skel.h"
#include "test_bpf.h"

enum { TX = 1, DROP, PASS };

static int verdict(int v)
{
	return v == TX ? V_TX : v == DROP ? V_DROP : V_PASS;
}

/* The counters a no-flow segment may move. */
static const enum cb_stat watched[] = {
	CB_STAT_RST_NO_FLOW, CB_STAT_RST_RATE_LIMITED, CB_STAT_DROP_RST_NO_FLOW,
	CB_STAT_ACK_COOKIE_BAD, CB_STAT_ACK_COOKIE_OK, CB_STAT_PASS_KERNEL_SOCK,
	CB_STAT_DROP_REPLY_FAIL, CB_STAT_SYN_COOKIE_SENT,
};
#define N_WATCHED (sizeof(watched) / sizeof(watched[0]))

#define END CB_STAT_MAX

static const struct noflow_row {
	const char *name;
	uint8_t flags;
	uint32_t seq, ack;
	size_t paylen;
	int ts;                         /* the segment carries a timestamp option */
	uint32_t rst_rate;
	int verdict;
	uint8_t rst_flags;              /* TX: the RST sent */
	uint32_t rst_seq, rst_ack;
	enum cb_stat counted[3];
} noflow_rows[] = {
	/* with ACK: RST at the acknowledged number, no ACK flag */
	{ "ACK, no valid cookie (flow gone)", 0x10, CISN + 501, 0x12345678, 0, 1,
	  CB_RST_RATE_DEFAULT, TX, 0x04, 0x12345678, 0,
	  { CB_STAT_ACK_COOKIE_BAD, CB_STAT_RST_NO_FLOW, END } },
	{ "data with ACK (flow evicted)", 0x18, CISN + 501, 0x0badcafe, 100, 1,
	  CB_RST_RATE_DEFAULT, TX, 0x04, 0x0badcafe, 0,
	  { CB_STAT_ACK_COOKIE_BAD, CB_STAT_RST_NO_FLOW, END } },
	{ "FIN|ACK", 0x11, CISN + 501, 77, 0, 0,
	  CB_RST_RATE_DEFAULT, TX, 0x04, 77, 0,
	  { CB_STAT_ACK_COOKIE_BAD, CB_STAT_RST_NO_FLOW, END } },
	{ "SYN|ACK", 0x12, 7000, 99, 0, 0,
	  CB_RST_RATE_DEFAULT, TX, 0x04, 99, 0, { CB_STAT_RST_NO_FLOW, END } },
	/* without ACK: RST|ACK, seq 0, acknowledging payload, SYN and FIN */
	{ "data without ACK", 0x08, 7000, 0, 10, 1,
	  CB_RST_RATE_DEFAULT, TX, 0x14, 0, 7010, { CB_STAT_RST_NO_FLOW, END } },
	{ "FIN without ACK", 0x01, 7000, 0, 0, 0,
	  CB_RST_RATE_DEFAULT, TX, 0x14, 0, 7001, { CB_STAT_RST_NO_FLOW, END } },
	{ "FIN and data without ACK", 0x09, 0xfffffffa, 0, 10, 0,
	  CB_RST_RATE_DEFAULT, TX, 0x14, 0, 5, { CB_STAT_RST_NO_FLOW, END } },
	{ "SYN|FIN with data", 0x03, 7000, 0, 3, 0,
	  CB_RST_RATE_DEFAULT, TX, 0x14, 0, 7005, { CB_STAT_RST_NO_FLOW, END } },
	{ "no flags", 0x00, 7000, 0, 0, 0,
	  CB_RST_RATE_DEFAULT, TX, 0x14, 0, 7000, { CB_STAT_RST_NO_FLOW, END } },
	/* an RST is never answered */
	{ "RST", 0x04, 7000, 0, 0, 0,
	  CB_RST_RATE_DEFAULT, DROP, 0, 0, 0, { CB_STAT_DROP_RST_NO_FLOW, END } },
	{ "RST|ACK", 0x14, 7000, 5, 0, 1,
	  CB_RST_RATE_DEFAULT, DROP, 0, 0, 0, { CB_STAT_DROP_RST_NO_FLOW, END } },
	/* rst_rate 0: never an RST, still counted */
	{ "ACK, rst_rate 0", 0x10, CISN + 501, 5, 0, 1,
	  0, DROP, 0, 0, 0, { CB_STAT_ACK_COOKIE_BAD, CB_STAT_RST_RATE_LIMITED, END } },
	{ "data without ACK, rst_rate 0", 0x08, 7000, 0, 10, 0,
	  0, DROP, 0, 0, 0, { CB_STAT_RST_RATE_LIMITED, END } },
	{ "RST, rst_rate 0", 0x04, 7000, 0, 0, 0,
	  0, DROP, 0, 0, 0, { CB_STAT_DROP_RST_NO_FLOW, END } },
};

static void noflow_rows_on(enum fx_hook hook)
{
	static const uint8_t ts_opt[12] = { 1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 0, 0 };
	uint8_t payload[100];
	size_t i;

	memset(payload, 'p', sizeof(payload));
	fx_open_hook(hook, 0, 65536);
	for (i = 0; i < sizeof(noflow_rows) / sizeof(noflow_rows[0]); i++) {
		const struct noflow_row *r = &noflow_rows[i];
		struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT,
					.dport = VPORT, .seq = r->seq, .ack = r->ack,
					.flags = r->flags, .window = 502, .payload = payload,
					.paylen = r->paylen };
		uint64_t before[N_WATCHED];
		uint8_t b[256];
		struct cb_flow f;
		size_t n;

		if (r->ts) {
			s.opts = ts_opt;
			s.optlen = sizeof(ts_opt);
		}
		fx_config(65536, r->rst_rate);
		n = fx_build(b, sizeof(b), &s);
		fx_snapshot(watched, N_WATCHED, before);
		cr_expect_eq(run(b, n), verdict(r->verdict), "%s: verdict", r->name);
		if (r->verdict == TX)
			fx_expect_rst(r->name, r->rst_flags, r->rst_seq, r->rst_ack);
		else
			cr_expect_eq(memcmp(F.out, b, n), 0, "%s: frame untouched", r->name);
		fx_expect_counted(r->name, watched, N_WATCHED, before, r->counted);
		cr_expect_neq(get_flow(&f), 0, "%s: nothing stored", r->name);
		cr_expect_eq(drain(), 0, "%s: no event", r->name);
	}
	cr_expect_eq(XSTAT(PKT_IPV6), FX_V6 ? i : 0, "every IPv6 segment counted, no other");
	cr_expect_eq(XSTAT(PKT_SEEN), i);
	fx_close();
}

Test(noflow, rows_xdp)
{
	noflow_rows_on(FX_XDP);
}

Test(noflow, rows_tc)
{
	noflow_rows_on(FX_TC);
}

Test(noflow, rows_xdp_v6)
{
	FX_V6 = 1;
	noflow_rows_on(FX_XDP);
}

Test(noflow, rows_tc_v6)
{
	FX_V6 = 1;
	noflow_rows_on(FX_TC);
}

/* A pure SYN still gets a cookie, whatever rst_rate says. */
FX_TEST2(noflow, syn_gets_a_cookie_not_an_rst)
{
	uint8_t b[256];
	struct t_tcp_view v;
	size_t n;

	fx_open(0, 65536);
	fx_config(65536, 0);
	n = syn(b, 1, 1, 7, NULL);
	cr_assert_eq(run(b, n), XDP_TX);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cr_expect_eq(v.flags, 0x12);
	cr_expect_eq(XSTAT(SYN_COOKIE_SENT), 1);
	cr_expect_eq(XSTAT(RST_NO_FLOW) + XSTAT(RST_RATE_LIMITED), 0);
	fx_close();
}

/* The per-CPU bucket: rst_rate RSTs at once, then one per 1/rst_rate s. */
FX_TEST2(noflow, bucket_empties_and_refills)
{
	struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT, .dport = VPORT,
				.seq = 7000, .ack = 42, .flags = 0x10, .window = 502 };
	struct timespec pause = { .tv_nsec = 150 * 1000000L };
	cpu_set_t one, saved;
	uint8_t b[256];
	size_t n;
	int i;

	/* the bucket is per CPU: every run on the same one */
	cr_assert_eq(sched_getaffinity(0, sizeof(saved), &saved), 0);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	fx_open(0, 65536);
	fx_config(65536, 10);
	n = fx_build(b, sizeof(b), &s);
	for (i = 0; i < 10; i++)
		cr_expect_eq(run(b, n), XDP_TX, "RST %d of a full bucket", i + 1);
	cr_expect_eq(run(b, n), XDP_DROP, "bucket empty");
	cr_expect_eq(XSTAT(RST_NO_FLOW), 10);
	cr_expect_eq(XSTAT(RST_RATE_LIMITED), 1);
	/* 100 ms buys one RST */
	nanosleep(&pause, NULL);
	cr_expect_eq(run(b, n), XDP_TX, "one token back");
	cr_expect_eq(run(b, n), XDP_DROP, "and only one");
	cr_expect_eq(XSTAT(RST_NO_FLOW), 11);
	cr_expect_eq(XSTAT(RST_RATE_LIMITED), 2);
	fx_close();
	sched_setaffinity(0, sizeof(saved), &saved);
}

/*
 * A real TCP connection over loopback in the test's namespace: the kernel
 * socket lookup of the program finds it.  127.0.0.1:lport is made a service
 * (IPv6: [::1]:lport, an AF_INET6 socket).
 */
struct conn {
	int lfd, cfd, afd;
	uint16_t lport, cport;
};

static void conn_open(struct conn *c)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} a;
	int fam = FX_V6 ? AF_INET6 : AF_INET;
	socklen_t al = FX_V6 ? sizeof(a.in6) : sizeof(a.in4), len = al;

	memset(&a, 0, sizeof(a));
	if (FX_V6) {
		a.in6.sin6_family = AF_INET6;
		a.in6.sin6_addr = in6addr_loopback;
	} else {
		a.in4.sin_family = AF_INET;
		a.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	c->lfd = socket(fam, SOCK_STREAM, 0);
	cr_assert_geq(c->lfd, 0);
	cr_assert_eq(bind(c->lfd, &a.sa, len), 0);
	cr_assert_eq(listen(c->lfd, 4), 0);
	cr_assert_eq(getsockname(c->lfd, &a.sa, &al), 0);
	c->lport = ntohs(FX_V6 ? a.in6.sin6_port : a.in4.sin_port);
	c->cfd = socket(fam, SOCK_STREAM, 0);
	cr_assert_eq(connect(c->cfd, &a.sa, len), 0);
	al = len;
	cr_assert_eq(getsockname(c->cfd, &a.sa, &al), 0);
	c->cport = ntohs(FX_V6 ? a.in6.sin6_port : a.in4.sin_port);
	c->afd = accept(c->lfd, NULL, NULL);
	cr_assert_geq(c->afd, 0);
}

static void conn_close(struct conn *c)
{
	if (c->afd >= 0)
		close(c->afd);
	if (c->cfd >= 0)
		close(c->cfd);
	close(c->lfd);
}

static size_t lo_seg(uint8_t *b, uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
		     uint32_t ack)
{
	struct t_tcp_spec s = { .saddr = 0x7f000001, .daddr = 0x7f000001, .sport = sport,
				.dport = dport, .seq = seq, .ack = ack, .flags = flags,
				.window = 502 };

	return fx_build(b, 256, &s);
}

static const struct ksock_row {
	const char *name;
	int other_port;                 /* 1: a client port with no socket */
	uint8_t flags;
	int verdict;
	enum cb_stat counted;
} ksock_rows[] = {
	{ "ACK of the kernel's connection",  0, 0x10, PASS, CB_STAT_PASS_KERNEL_SOCK },
	{ "data without ACK",                0, 0x08, PASS, CB_STAT_PASS_KERNEL_SOCK },
	{ "RST of the kernel's connection",  0, 0x04, PASS, CB_STAT_PASS_KERNEL_SOCK },
	{ "ACK, only a listener: reset",     1, 0x10, TX,   CB_STAT_RST_NO_FLOW },
	{ "RST, only a listener: dropped",   1, 0x04, DROP, CB_STAT_DROP_RST_NO_FLOW },
};

static void ksock_rows_on(enum fx_hook hook)
{
	struct conn c;
	size_t i;

	fx_open_hook(hook, 0, 65536);
	conn_open(&c);
	fx_service(0x7f000001, c.lport);
	for (i = 0; i < sizeof(ksock_rows) / sizeof(ksock_rows[0]); i++) {
		const struct ksock_row *r = &ksock_rows[i];
		uint16_t sport = r->other_port ? (uint16_t)(c.cport ^ 0x5a5a) : c.cport;
		uint64_t before = fx_stat(F.stats_fd, r->counted);
		uint8_t b[256];
		size_t n = lo_seg(b, sport, c.lport, r->flags, 1234, 5678);

		if (r->other_port)
			cr_assert_neq(sport, c.lport);
		cr_expect_eq(run(b, n), verdict(r->verdict), "%s", r->name);
		cr_expect_eq(fx_stat(F.stats_fd, r->counted) - before, 1, "%s: counted", r->name);
	}
	cr_expect_eq(XSTAT(ACK_COOKIE_BAD), 1, "only the listener-only ACK had a bad cookie");
	conn_close(&c);
	fx_close();
}

Test(noflow, kernel_socket_owns_the_tuple_xdp)
{
	ksock_rows_on(FX_XDP);
}

Test(noflow, kernel_socket_owns_the_tuple_tc)
{
	ksock_rows_on(FX_TC);
}

Test(noflow, kernel_socket_owns_the_tuple_xdp_v6)
{
	FX_V6 = 1;
	ksock_rows_on(FX_XDP);
}

Test(noflow, kernel_socket_owns_the_tuple_tc_v6)
{
	FX_V6 = 1;
	ksock_rows_on(FX_TC);
}

/*
 * A valid cookie never takes a tuple a live kernel socket owns (1 in 2^23
 * segments of a kernel connection would pass as one): the ACK goes to the
 * socket.  Once the socket is in TIME_WAIT, the same ACK creates a flow.
 */
FX_TEST2(noflow, valid_cookie_yields_to_a_live_socket)
{
	struct conn c;
	struct t_tcp_view v;
	struct cb_flow_key k;
	struct cb_flow f;
	uint8_t b[256];
	size_t n;

	fx_open(0, 65536);
	conn_open(&c);
	fx_service(0x7f000001, c.lport);
	k = t_key(fx_addr(0x7f000001), fx_addr(0x7f000001), c.cport, c.lport);
	n = lo_seg(b, c.cport, c.lport, 0x02, 1000, 0);
	cr_assert_eq(run(b, n), XDP_TX, "a SYN gets a cookie, socket or not");
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	n = lo_seg(b, c.cport, c.lport, 0x10, 1001, v.seq + 1);
	cr_expect_eq(run(b, n), XDP_PASS);
	cr_expect_eq(XSTAT(PASS_KERNEL_SOCK), 1);
	cr_expect_eq(XSTAT(ACK_COOKIE_OK), 0);
	cr_expect_neq(bpf_map_lookup_elem(F.flows_fd, &k, &f), 0);
	/* the server side closes first: its socket for the tuple is TIME_WAIT */
	close(c.afd);
	c.afd = -1;
	close(c.cfd);
	c.cfd = -1;
	usleep(100 * 1000);
	cr_expect_eq(run(b, n), XDP_DROP, "handshake ACK consumed");
	cr_expect_eq(XSTAT(ACK_COOKIE_OK), 1);
	cr_expect_eq(bpf_map_lookup_elem(F.flows_fd, &k, &f), 0, "flow over a TIME_WAIT socket");
	conn_close(&c);
	fx_close();
}

/*
 * A TIME_WAIT socket is an older connection whose client has closed: a
 * segment of no flow on its tuple is from a newer connection whose flow is
 * gone, and is reset rather than left to TIME_WAIT's re-ACK (which would
 * leave that client hanging for a minute).  RSTs stay TIME_WAIT's.
 */
FX_TEST2(noflow, time_wait_tuple_data_is_reset_rst_is_passed)
{
	struct conn c;
	struct t_tcp_view v;
	uint8_t b[256];
	size_t n;

	fx_open(0, 65536);
	conn_open(&c);
	fx_service(0x7f000001, c.lport);
	close(c.afd);                   /* the server side closes first: TIME_WAIT */
	c.afd = -1;
	close(c.cfd);
	c.cfd = -1;
	usleep(100 * 1000);
	n = lo_seg(b, c.cport, c.lport, 0x18, 777777, 888888);
	cr_expect_eq(run(b, n), XDP_TX, "data of a lost flow: reset");
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cr_expect_eq(v.flags, 0x04, "RST at the segment's ack");
	cr_expect_eq(v.seq, 888888);
	cr_expect_eq(XSTAT(RST_NO_FLOW), 1);
	n = lo_seg(b, c.cport, c.lport, 0x04, 777777, 0);
	cr_expect_eq(run(b, n), XDP_PASS, "an RST is TIME_WAIT's");
	cr_expect_eq(XSTAT(PASS_KERNEL_SOCK), 1);
	conn_close(&c);
	fx_close();
}
