// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Steering to peers, on both hooks: a REDIRECT flow (or, with no cb_flows
 * entry, a cb_remote one) leaves with both MACs rewritten and L3/L4
 * untouched; a peer that is down gets the client an RST; SHIPPING, PENDING
 * and MOVING flows are dropped; TC egress silences PENDING and MOVING flows
 * and RSTs of SHIPPING ones.  Every counter a row may move is checked.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cb_xdp.skel.h"
#include "cb_tc.skel.h"
#include "test_bpf.h"

enum { FWD = 1, RST, DROP, PASS, SYNACK };

/* What a row's tuple holds before the segment. */
enum { NONE = 0 };                      /* no cb_flows entry; else a CB_FLOW_* state */
enum { NO_REMOTE = 0, REMOTE_UP, REMOTE_DOWN, REMOTE_BAD_ID };

#define PEER_ID 7

/* The counters a steered segment may move. */
static const enum cb_stat watched[] = {
	CB_STAT_REDIRECTED, CB_STAT_REDIRECT_BY_REMOTE, CB_STAT_REDIRECT_CLOSING,
	CB_STAT_REDIRECT_PEER_DOWN_RST, CB_STAT_DROP_REDIRECT_PEER_DOWN,
	CB_STAT_DROP_REDIRECT_NO_REMOTE, CB_STAT_DROP_REDIRECT_FAIL, CB_STAT_DROP_SHIPPING,
	CB_STAT_DROP_PENDING, CB_STAT_DROP_MOVING, CB_STAT_DROP_FROZEN, CB_STAT_PASS_LOCAL,
	CB_STAT_SYN_COOKIE_SENT, CB_STAT_RST_NO_FLOW, CB_STAT_DROP_REPLY_FAIL,
	CB_STAT_PASS_NOT_SERVICE, CB_STAT_DROP_MALFORMED, CB_STAT_ACK_COOKIE_BAD,
};
#define N_WATCHED (sizeof(watched) / sizeof(watched[0]))
#define END CB_STAT_MAX

static void put_peer(uint32_t id, const uint8_t mac[6], int up)
{
	struct cb_peer p = { .up = (uint8_t)up, .ip_be = htonl(0xc6120002) };

	memcpy(p.mac, mac, 6);
	cr_assert_eq(bpf_map_update_elem(F.peers_fd, &id, &p, BPF_ANY), 0);
}

static void put_remote(uint32_t peer)
{
	struct cb_flow_key k = flow_key();
	struct cb_remote r = { .peer = peer, .epoch = 3, .created_ns = 1, .last_ns = 1 };

	cr_assert_eq(bpf_map_update_elem(F.remote_fd, &k, &r, BPF_ANY), 0);
}

static void put_flow(uint32_t state)
{
	struct cb_flow_key k = flow_key();
	struct cb_flow f = { .state = state, .client_isn = CISN, .rcv_nxt = CISN + 1 };

	cr_assert_eq(bpf_map_update_elem(F.flows_fd, &k, &f, BPF_ANY), 0);
}

static void clear_tuple(void)
{
	struct cb_flow_key k = flow_key();

	bpf_map_delete_elem(F.flows_fd, &k);
	bpf_map_delete_elem(F.remote_fd, &k);
}

/* The segment left with h_dest = the peer, h_source = src, the rest as it came. */
static void expect_forwarded(const char *name, const uint8_t *in, size_t n, const uint8_t *src)
{
	cr_assert_eq(F.out_len, n, "%s: %zu bytes out, %zu in", name, F.out_len, n);
	cr_expect_eq(memcmp(F.out, T_MAC_PEER, 6), 0, "%s: h_dest is the peer's", name);
	cr_expect_eq(memcmp(F.out + 6, src, 6), 0, "%s: h_source", name);
	cr_expect_eq(memcmp(F.out + 12, in + 12, n - 12), 0, "%s: ethertype, L3, L4 untouched",
		     name);
}

static const struct steer_row {
	const char *name;
	uint32_t flow;                  /* NONE or a state */
	int remote;                     /* NO_REMOTE, REMOTE_UP, ... */
	uint8_t flags;
	size_t paylen;
	int zero_own_mac;               /* config without the own MAC */
	int verdict;                    /* FWD, RST, DROP, PASS, SYNACK */
	uint8_t rst_flags;
	uint32_t rst_seq, rst_ack;
	uint32_t closing;               /* CB_REMOTE_SEEN_* after the row */
	enum cb_stat counted[4];
} rows[] = {
	/* steered: both MACs, nothing else */
	{ "REDIRECT: data", CB_FLOW_REDIRECT, REMOTE_UP, 0x18, 100, 0, FWD, 0, 0, 0, 0,
	  { CB_STAT_REDIRECTED, END } },
	{ "REDIRECT: pure ACK", CB_FLOW_REDIRECT, REMOTE_UP, 0x10, 0, 0, FWD, 0, 0, 0, 0,
	  { CB_STAT_REDIRECTED, END } },
	{ "REDIRECT: SYN (the peer's socket answers it)", CB_FLOW_REDIRECT, REMOTE_UP, 0x02, 0,
	  0, FWD, 0, 0, 0, 0, { CB_STAT_REDIRECTED, END } },
	{ "REDIRECT: FIN forwarded, closing", CB_FLOW_REDIRECT, REMOTE_UP, 0x11, 0, 0, FWD, 0,
	  0, 0, CB_REMOTE_SEEN_FIN, { CB_STAT_REDIRECTED, CB_STAT_REDIRECT_CLOSING, END } },
	{ "REDIRECT: client RST forwarded, closing", CB_FLOW_REDIRECT, REMOTE_UP, 0x04, 0, 0,
	  FWD, 0, 0, 0, CB_REMOTE_SEEN_RST,
	  { CB_STAT_REDIRECTED, CB_STAT_REDIRECT_CLOSING, END } },
	{ "REDIRECT: no own MAC configured: the frame's h_dest as source", CB_FLOW_REDIRECT,
	  REMOTE_UP, 0x10, 0, 1, FWD, 0, 0, 0, 0, { CB_STAT_REDIRECTED, END } },
	/* cb_flows evicted: cb_remote alone steers */
	{ "evicted: data", NONE, REMOTE_UP, 0x18, 100, 0, FWD, 0, 0, 0, 0,
	  { CB_STAT_REDIRECTED, CB_STAT_REDIRECT_BY_REMOTE, END } },
	{ "evicted: FIN|ACK", NONE, REMOTE_UP, 0x11, 0, 0, FWD, 0, 0, 0, CB_REMOTE_SEEN_FIN,
	  { CB_STAT_REDIRECTED, CB_STAT_REDIRECT_BY_REMOTE, CB_STAT_REDIRECT_CLOSING, END } },
	{ "evicted: RST|ACK", NONE, REMOTE_UP, 0x14, 0, 0, FWD, 0, 0, 0, CB_REMOTE_SEEN_RST,
	  { CB_STAT_REDIRECTED, CB_STAT_REDIRECT_BY_REMOTE, CB_STAT_REDIRECT_CLOSING, END } },
	{ "evicted: a SYN takes the cookie path unchanged", NONE, REMOTE_UP, 0x02, 0, 0, SYNACK,
	  0, 0, 0, 0, { CB_STAT_SYN_COOKIE_SENT, END } },
	/* peer down: the client is reset at its rcv_nxt (the segment's ack) */
	{ "peer down: data|ACK", CB_FLOW_REDIRECT, REMOTE_DOWN, 0x18, 100, 0, RST, 0x04,
	  0x0badcafe, 0, 0, { CB_STAT_REDIRECT_PEER_DOWN_RST, END } },
	{ "peer down: pure ACK", CB_FLOW_REDIRECT, REMOTE_DOWN, 0x10, 0, 0, RST, 0x04,
	  0x0badcafe, 0, 0, { CB_STAT_REDIRECT_PEER_DOWN_RST, END } },
	{ "peer down: FIN|ACK", CB_FLOW_REDIRECT, REMOTE_DOWN, 0x11, 0, 0, RST, 0x04,
	  0x0badcafe, 0, CB_REMOTE_SEEN_FIN, { CB_STAT_REDIRECT_PEER_DOWN_RST, END } },
	{ "peer down, evicted: ACK", NONE, REMOTE_DOWN, 0x10, 0, 0, RST, 0x04, 0x0badcafe, 0, 0,
	  { CB_STAT_REDIRECT_BY_REMOTE, CB_STAT_REDIRECT_PEER_DOWN_RST, END } },
	{ "peer down: data without ACK: RST|ACK past it", CB_FLOW_REDIRECT, REMOTE_DOWN, 0x08,
	  10, 0, RST, 0x14, 0, CISN + 501 + 10, 0, { CB_STAT_REDIRECT_PEER_DOWN_RST, END } },
	{ "peer down: an RST is never answered", CB_FLOW_REDIRECT, REMOTE_DOWN, 0x04, 0, 0, DROP,
	  0, 0, 0, CB_REMOTE_SEEN_RST, { CB_STAT_DROP_REDIRECT_PEER_DOWN, END } },
	{ "peer id out of range: as down", CB_FLOW_REDIRECT, REMOTE_BAD_ID, 0x10, 0, 0, RST,
	  0x04, 0x0badcafe, 0, 0, { CB_STAT_REDIRECT_PEER_DOWN_RST, END } },
	/* states that drop */
	{ "REDIRECT without its cb_remote entry", CB_FLOW_REDIRECT, NO_REMOTE, 0x18, 100, 0,
	  DROP, 0, 0, 0, 0, { CB_STAT_DROP_REDIRECT_NO_REMOTE, END } },
	{ "SHIPPING: data", CB_FLOW_SHIPPING, NO_REMOTE, 0x18, 100, 0, DROP, 0, 0, 0, 0,
	  { CB_STAT_DROP_SHIPPING, END } },
	{ "SHIPPING: FIN", CB_FLOW_SHIPPING, NO_REMOTE, 0x11, 0, 0, DROP, 0, 0, 0, 0,
	  { CB_STAT_DROP_SHIPPING, END } },
	{ "SHIPPING with cb_remote already added: still dropped", CB_FLOW_SHIPPING, REMOTE_UP,
	  0x18, 100, 0, DROP, 0, 0, 0, 0, { CB_STAT_DROP_SHIPPING, END } },
	{ "PENDING: data", CB_FLOW_PENDING, NO_REMOTE, 0x18, 100, 0, DROP, 0, 0, 0, 0,
	  { CB_STAT_DROP_PENDING, END } },
	{ "PENDING: RST", CB_FLOW_PENDING, NO_REMOTE, 0x04, 0, 0, DROP, 0, 0, 0, 0,
	  { CB_STAT_DROP_PENDING, END } },
	{ "MOVING: data", CB_FLOW_MOVING, NO_REMOTE, 0x18, 100, 0, DROP, 0, 0, 0, 0,
	  { CB_STAT_DROP_MOVING, END } },
	{ "MOVING with its cb_remote entry: still dropped", CB_FLOW_MOVING, REMOTE_UP, 0x10, 0, 0,
	  DROP, 0, 0, 0, 0, { CB_STAT_DROP_MOVING, END } },
	{ "FROZEN with a cb_remote entry (a migration)", CB_FLOW_FROZEN, REMOTE_UP, 0x10, 0, 0,
	  DROP, 0, 0, 0, 0, { CB_STAT_DROP_FROZEN, END } },
	/* cb_flows decides first */
	{ "LOCAL with a stale cb_remote entry: the local socket's", CB_FLOW_LOCAL, REMOTE_UP,
	  0x18, 100, 0, PASS, 0, 0, 0, 0, { CB_STAT_PASS_LOCAL, END } },
	{ "no entry anywhere: reset as unknown", NONE, NO_REMOTE, 0x10, 0, 0, RST, 0x04,
	  0x0badcafe, 0, 0, { CB_STAT_ACK_COOKIE_BAD, CB_STAT_RST_NO_FLOW, END } },
};

static void rows_on(enum fx_hook hook)
{
	static const uint8_t ts_opt[12] = { 1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 0, 0 };
	uint8_t payload[100];
	size_t i;

	memset(payload, 'p', sizeof(payload));
	fx_open_hook(hook, 0, 65536);
	put_peer(PEER_ID, T_MAC_PEER, 1);
	put_peer(PEER_ID + 1, T_MAC_PEER, 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct steer_row *r = &rows[i];
		struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT,
					.dport = VPORT, .seq = CISN + 501, .ack = 0x0badcafe,
					.flags = r->flags, .window = 502, .opts = ts_opt,
					.optlen = sizeof(ts_opt), .payload = payload,
					.paylen = r->paylen };
		struct cb_flow_key k = flow_key();
		uint64_t before[N_WATCHED], t0;
		struct cb_remote rem;
		struct t_tcp_view v;
		uint8_t b[256];
		size_t n;

		if (!(r->flags & 0x10))
			s.ack = 0;
		clear_tuple();
		fx_config(65536, CB_RST_RATE_DEFAULT);
		if (r->zero_own_mac) {
			struct cb_config c;
			uint32_t zero = 0;

			cr_assert_eq(bpf_map_lookup_elem(F.cfg_fd, &zero, &c), 0);
			memset(c.own_mac, 0, 6);
			cr_assert_eq(bpf_map_update_elem(F.cfg_fd, &zero, &c, BPF_ANY), 0);
		}
		if (r->flow != NONE)
			put_flow(r->flow);
		if (r->remote != NO_REMOTE)
			put_remote(r->remote == REMOTE_UP     ? PEER_ID
				   : r->remote == REMOTE_DOWN ? PEER_ID + 1
							      : CB_MAX_PEERS + 3);
		n = fx_build(b, sizeof(b), &s);
		fx_snapshot(watched, N_WATCHED, before);
		t0 = 0;
		{
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			t0 = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		}
		switch (r->verdict) {
		case FWD:
			cr_expect_eq(run(b, n), V_TX, "%s: verdict", r->name);
			expect_forwarded(r->name, b, n, r->zero_own_mac ? T_MAC_DIR : T_MAC_OWN);
			break;
		case RST:
			cr_expect_eq(run(b, n), V_TX, "%s: verdict", r->name);
			fx_expect_rst(r->name, r->rst_flags, r->rst_seq, r->rst_ack);
			break;
		case SYNACK:
			cr_expect_eq(run(b, n), V_TX, "%s: verdict", r->name);
			cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
			cr_expect_eq(v.flags, 0x12, "%s: a SYN-ACK", r->name);
			break;
		case DROP:
			cr_expect_eq(run(b, n), V_DROP, "%s: verdict", r->name);
			cr_expect_eq(memcmp(F.out, b, n), 0, "%s: frame untouched", r->name);
			break;
		default:
			cr_expect_eq(run(b, n), V_PASS, "%s: verdict", r->name);
			cr_expect_eq(memcmp(F.out, b, n), 0, "%s: frame untouched", r->name);
		}
		fx_expect_counted(r->name, watched, N_WATCHED, before, r->counted);
		cr_expect_eq(drain(), 0, "%s: no event", r->name);
		if (r->remote == NO_REMOTE) {
			cr_expect_neq(bpf_map_lookup_elem(F.remote_fd, &k, &rem), 0,
				      "%s: the program never creates a cb_remote entry", r->name);
			continue;
		}
		cr_assert_eq(bpf_map_lookup_elem(F.remote_fd, &k, &rem), 0,
			     "%s: the entry stays", r->name);
		cr_expect_eq(rem.epoch, 3, "%s", r->name);
		cr_expect_eq(rem.created_ns, 1, "%s", r->name);
		cr_expect_eq(rem.closing_flags, r->closing, "%s: closing flags %#x", r->name,
			     rem.closing_flags);
		if (r->closing)
			cr_expect_geq(rem.closing_ns, t0, "%s: closing_ns set", r->name);
		else
			cr_expect_eq(rem.closing_ns, 0, "%s: not closing", r->name);
		/* last_ns moves only on segments the steering code handled */
		if (r->verdict == FWD || r->counted[0] == CB_STAT_REDIRECT_PEER_DOWN_RST ||
		    r->counted[1] == CB_STAT_REDIRECT_PEER_DOWN_RST ||
		    r->counted[0] == CB_STAT_DROP_REDIRECT_PEER_DOWN)
			cr_expect_geq(rem.last_ns, t0, "%s: last_ns", r->name);
		else
			cr_expect_eq(rem.last_ns, 1, "%s: untouched", r->name);
	}
	fx_close();
}

Test(steer, rows_xdp)
{
	rows_on(FX_XDP);
}

Test(steer, rows_xdp_v6)
{
	FX_V6 = 1;
	rows_on(FX_XDP);
}

Test(steer, rows_tc)
{
	rows_on(FX_TC);
}

Test(steer, rows_tc_v6)
{
	FX_V6 = 1;
	rows_on(FX_TC);
}

/* A second FIN or RST keeps the first closing time; the flags add up. */
static void closing_kept_on(enum fx_hook hook)
{
	struct cb_flow_key k = flow_key();
	struct cb_remote rem;
	uint64_t first;
	uint8_t b[256];
	size_t n;

	fx_open_hook(hook, 0, 65536);
	put_peer(PEER_ID, T_MAC_PEER, 1);
	put_flow(CB_FLOW_REDIRECT);
	put_remote(PEER_ID);
	n = seg(b, sizeof(b), CISN + 1, 5, 0x11, 900, 1, NULL, 0, 502);
	cr_assert_eq(run(b, n), V_TX);
	cr_assert_eq(bpf_map_lookup_elem(F.remote_fd, &k, &rem), 0);
	first = rem.closing_ns;
	cr_expect_neq(first, 0);
	n = seg(b, sizeof(b), CISN + 2, 5, 0x14, 901, 1, NULL, 0, 502);
	cr_assert_eq(run(b, n), V_TX);
	cr_assert_eq(bpf_map_lookup_elem(F.remote_fd, &k, &rem), 0);
	cr_expect_eq(rem.closing_ns, first, "the first FIN's time stays");
	cr_expect_eq(rem.closing_flags, CB_REMOTE_SEEN_FIN | CB_REMOTE_SEEN_RST);
	cr_expect_geq(rem.last_ns, first);
	cr_expect_eq(XSTAT(REDIRECTED), 2);
	cr_expect_eq(XSTAT(REDIRECT_CLOSING), 2);
	fx_close();
}

Test(steer, closing_time_is_the_first_xdp)
{
	closing_kept_on(FX_XDP);
}

Test(steer, closing_time_is_the_first_xdp_v6)
{
	FX_V6 = 1;
	closing_kept_on(FX_XDP);
}

Test(steer, closing_time_is_the_first_tc)
{
	closing_kept_on(FX_TC);
}

Test(steer, closing_time_is_the_first_tc_v6)
{
	FX_V6 = 1;
	closing_kept_on(FX_TC);
}

/* Marking the peer down turns every flow steered to it into RSTs at once. */
static void failover_on(enum fx_hook hook)
{
	struct cb_flow_key k = flow_key();
	struct cb_remote rem = { .peer = PEER_ID, .epoch = 1 };
	uint8_t b[256];
	size_t n;
	int i;

	fx_open_hook(hook, 0, 65536);
	put_peer(PEER_ID, T_MAC_PEER, 1);
	/* 16 flows on one peer (client ports CPORT..CPORT+15), no cb_flows entries */
	for (i = 0; i < 16; i++) {
		k.sport_be = htons((uint16_t)(CPORT + i));
		cr_assert_eq(bpf_map_update_elem(F.remote_fd, &k, &rem, BPF_NOEXIST), 0);
	}
	for (i = 0; i < 16; i++) {
		struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = (uint16_t)(CPORT + i),
					.dport = VPORT, .seq = 100, .ack = 200u + (uint32_t)i,
					.flags = 0x10, .window = 502 };

		n = fx_build(b, sizeof(b), &s);
		cr_expect_eq(run(b, n), V_TX);
		cr_expect_eq(memcmp(F.out, T_MAC_PEER, 6), 0, "flow %d steered", i);
	}
	put_peer(PEER_ID, T_MAC_PEER, 0);
	for (i = 0; i < 16; i++) {
		struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = (uint16_t)(CPORT + i),
					.dport = VPORT, .seq = 100, .ack = 200u + (uint32_t)i,
					.flags = 0x10, .window = 502 };
		struct t_tcp_view v;

		n = fx_build(b, sizeof(b), &s);
		cr_expect_eq(run(b, n), V_TX);
		cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
		cr_expect_eq(v.flags, 0x04, "flow %d reset", i);
		cr_expect_eq(v.seq, 200u + (uint32_t)i);
		cr_expect_eq(v.dport, CPORT + i);
	}
	cr_expect_eq(XSTAT(REDIRECTED), 16);
	cr_expect_eq(XSTAT(REDIRECT_PEER_DOWN_RST), 16);
	cr_expect_eq(XSTAT(REDIRECT_BY_REMOTE), 32);
	fx_close();
}

Test(steer, peer_down_resets_all_its_flows_xdp)
{
	failover_on(FX_XDP);
}

Test(steer, peer_down_resets_all_its_flows_xdp_v6)
{
	FX_V6 = 1;
	failover_on(FX_XDP);
}

Test(steer, peer_down_resets_all_its_flows_tc)
{
	failover_on(FX_TC);
}

Test(steer, peer_down_resets_all_its_flows_tc_v6)
{
	FX_V6 = 1;
	failover_on(FX_TC);
}

/*
 * The service removed while flows are steered: a REDIRECT entry still
 * steers; a cb_remote entry alone is looked up only for a service's
 * segments, so once both the service and the cb_flows entry are gone the
 * segment goes to the kernel (which resets it).
 */
static void service_removed_on(enum fx_hook hook)
{
	struct cb_service_key sk = fx_service_key();
	struct cb_flow_key k = flow_key();
	uint8_t b[256];
	size_t n;

	fx_open_hook(hook, 0, 65536);
	put_peer(PEER_ID, T_MAC_PEER, 1);
	put_flow(CB_FLOW_REDIRECT);
	put_remote(PEER_ID);
	cr_assert_eq(bpf_map_delete_elem(F.svc_fd, &sk), 0);
	n = seg(b, sizeof(b), CISN + 1, 5, 0x18, 900, 1, "x", 1, 502);
	cr_expect_eq(run(b, n), V_TX, "the REDIRECT entry steers without its service");
	expect_forwarded("no service", b, n, T_MAC_OWN);
	cr_assert_eq(bpf_map_delete_elem(F.flows_fd, &k), 0);
	n = seg(b, sizeof(b), CISN + 1, 5, 0x18, 900, 1, "x", 1, 502);
	cr_expect_eq(run(b, n), V_PASS, "no service, no cb_flows entry: the kernel's");
	cr_expect_eq(XSTAT(REDIRECTED), 1);
	cr_expect_eq(XSTAT(REDIRECT_BY_REMOTE), 0);
	cr_expect_eq(XSTAT(PASS_NOT_SERVICE), 1);
	fx_close();
}

Test(steer, service_removed_xdp)
{
	service_removed_on(FX_XDP);
}

Test(steer, service_removed_xdp_v6)
{
	FX_V6 = 1;
	service_removed_on(FX_XDP);
}

Test(steer, service_removed_tc)
{
	service_removed_on(FX_TC);
}

Test(steer, service_removed_tc_v6)
{
	FX_V6 = 1;
	service_removed_on(FX_TC);
}

/* A jumbo-ish segment (1400 bytes of payload) is steered whole. */
static void big_segment_on(enum fx_hook hook)
{
	static uint8_t payload[1400], b[1600];
	size_t n;

	memset(payload, 0xa5, sizeof(payload));
	fx_open_hook(hook, 0, 65536);
	put_peer(PEER_ID, T_MAC_PEER, 1);
	put_flow(CB_FLOW_REDIRECT);
	put_remote(PEER_ID);
	n = seg(b, sizeof(b), CISN + 1, 5, 0x18, 900, 1, payload, sizeof(payload), 502);
	cr_assert_eq(run(b, n), V_TX);
	expect_forwarded("1400 bytes", b, n, T_MAC_OWN);
	cr_expect_eq(t_verify_csums(F.out, F.out_len), 0);
	fx_close();
}

Test(steer, big_segment_forwarded_whole_xdp)
{
	big_segment_on(FX_XDP);
}

Test(steer, big_segment_forwarded_whole_xdp_v6)
{
	FX_V6 = 1;
	big_segment_on(FX_XDP);
}

Test(steer, big_segment_forwarded_whole_tc)
{
	big_segment_on(FX_TC);
}

Test(steer, big_segment_forwarded_whole_tc_v6)
{
	FX_V6 = 1;
	big_segment_on(FX_TC);
}

/* ---- TC egress: what leaves this host for a held flow ------------------ */

static const struct egress_row {
	const char *name;
	uint32_t flow;                  /* NONE or a state */
	uint8_t flags;
	size_t paylen;
	int shot;
	enum cb_stat counted;
} egress_rows[] = {
	{ "PENDING: data", CB_FLOW_PENDING, 0x18, 20, 1, CB_STAT_EGRESS_PENDING_DROP },
	{ "PENDING: window probe / pure ACK", CB_FLOW_PENDING, 0x10, 0, 1,
	  CB_STAT_EGRESS_PENDING_DROP },
	{ "PENDING: RST", CB_FLOW_PENDING, 0x14, 0, 1, CB_STAT_EGRESS_PENDING_DROP },
	{ "PENDING: FIN", CB_FLOW_PENDING, 0x11, 0, 1, CB_STAT_EGRESS_PENDING_DROP },
	{ "MOVING: data", CB_FLOW_MOVING, 0x18, 20, 1, CB_STAT_EGRESS_MOVING_DROP },
	{ "MOVING: pure ACK", CB_FLOW_MOVING, 0x10, 0, 1, CB_STAT_EGRESS_MOVING_DROP },
	{ "SHIPPING: RST", CB_FLOW_SHIPPING, 0x14, 0, 1, CB_STAT_EGRESS_RST_BLOCKED },
	{ "SHIPPING: bare RST", CB_FLOW_SHIPPING, 0x04, 0, 1, CB_STAT_EGRESS_RST_BLOCKED },
	{ "SHIPPING: ACK passes", CB_FLOW_SHIPPING, 0x10, 0, 0, CB_STAT_EGRESS_PASS },
	{ "UNBOUND: RST", CB_FLOW_UNBOUND, 0x14, 0, 1, CB_STAT_EGRESS_RST_BLOCKED },
	{ "FROZEN: RST", CB_FLOW_FROZEN, 0x14, 0, 1, CB_STAT_EGRESS_RST_BLOCKED },
	{ "FROZEN: data passes", CB_FLOW_FROZEN, 0x18, 20, 0, CB_STAT_EGRESS_PASS },
	{ "REDIRECT: RST passes", CB_FLOW_REDIRECT, 0x14, 0, 0, CB_STAT_EGRESS_PASS },
	{ "LOCAL: data passes", CB_FLOW_LOCAL, 0x18, 20, 0, CB_STAT_EGRESS_PASS },
	{ "LOCAL: RST passes", CB_FLOW_LOCAL, 0x14, 0, 0, CB_STAT_EGRESS_PASS },
	{ "no flow: RST passes", NONE, 0x14, 0, 0, CB_STAT_EGRESS_PASS },
};

static const enum cb_stat egress_watched[] = {
	CB_STAT_EGRESS_PENDING_DROP, CB_STAT_EGRESS_MOVING_DROP, CB_STAT_EGRESS_RST_BLOCKED,
	CB_STAT_EGRESS_PASS,
};

FX_TEST2(steer, egress_rows)
{
	uint8_t payload[20] = "HTTP/1.1 200 OK\r\n\r\n";
	int eg;
	size_t i, j;

	fx_open_hook(FX_TC, 0, 65536);
	eg = bpf_program__fd(F.tc->progs.cb_tc_egress);
	for (i = 0; i < sizeof(egress_rows) / sizeof(egress_rows[0]); i++) {
		const struct egress_row *r = &egress_rows[i];
		struct t_tcp_spec s = { .saddr = VIP, .daddr = CLIENT, .sport = VPORT,
					.dport = CPORT, .seq = 1, .ack = 2, .flags = r->flags,
					.window = 502, .payload = payload, .paylen = r->paylen };
		uint64_t before[4];
		uint8_t b[256];
		size_t n;

		clear_tuple();
		if (r->flow != NONE)
			put_flow(r->flow);
		n = fx_build(b, sizeof(b), &s);
		for (j = 0; j < 4; j++)
			before[j] = fx_stat(F.stats_fd, egress_watched[j]);
		cr_expect_eq(run_prog(eg, b, n), r->shot ? TC_ACT_SHOT : TC_ACT_OK, "%s", r->name);
		for (j = 0; j < 4; j++)
			cr_expect_eq(fx_stat(F.stats_fd, egress_watched[j]) - before[j],
				     egress_watched[j] == r->counted, "%s: counter %d", r->name,
				     egress_watched[j]);
	}
	/* a frame steered out at TC ingress passes egress (it is client -> VIP) */
	{
		struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT,
					.dport = VPORT, .seq = 1, .ack = 2, .flags = 0x14 };
		uint8_t b[256];
		size_t n = fx_build(b, sizeof(b), &s);

		clear_tuple();
		put_flow(CB_FLOW_PENDING);
		cr_expect_eq(run_prog(eg, b, n), TC_ACT_OK, "the other direction is not the flow's");
	}
	fx_close();
}

/*
 * A SYN on the tuple of a steered flow whose client closed (FIN seen): a
 * new connection reusing the port.  The SYN gets a cookie while the
 * steering stays (a stray SYN must not unsteer a half-closed flow); the
 * cookie's ACK drops the steering and creates the new flow; any other
 * segment is still the peer's.  With only a cb_remote entry (cb_flows
 * evicted) the same.  Without a FIN seen, a SYN is the peer's.
 */
static void syn_reuses_closed_tuple_on(enum fx_hook hook, int with_flow)
{
	struct cb_flow_key k = flow_key();
	struct cb_remote rem;
	struct cb_flow f;
	struct t_tcp_view v;
	uint32_t cookie;
	uint8_t b[256];
	size_t n;

	fx_open_hook(hook, 0, 65536);
	put_peer(PEER_ID, T_MAC_PEER, 1);
	if (with_flow)
		put_flow(CB_FLOW_REDIRECT);
	put_remote(PEER_ID);
	n = seg(b, sizeof(b), CISN + 1, 5, 0x11, 900, 1, NULL, 0, 502);     /* FIN: closing */
	cr_assert_eq(run(b, n), V_TX);
	n = seg(b, sizeof(b), CISN + 77777, 0, 0x02, 901, 0, NULL, 0, 502);
	cr_assert_eq(run(b, n), V_TX);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cr_expect_eq(v.flags, 0x12, "a cookie SYN-ACK for the new connection");
	cookie = v.seq;
	cr_expect_eq(bpf_map_lookup_elem(F.remote_fd, &k, &rem), 0, "steering kept until the ACK");
	cr_expect_eq(XSTAT(SYN_COOKIE_SENT), 1);

	/* a segment that is not the cookie's ACK still goes to the peer */
	n = seg(b, sizeof(b), CISN + 2, 6, 0x10, 902, 1, NULL, 0, 502);
	cr_assert_eq(run(b, n), V_TX);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cr_expect_eq(memcmp(v.dmac, T_MAC_PEER, 6), 0, "forwarded to the peer");
	cr_expect_eq(XSTAT(REDIRECT_REUSED), 0);

	n = seg(b, sizeof(b), CISN + 77778, cookie + 1, 0x10, 903, 901, NULL, 0, 502);
	run(b, n);
	cr_expect_neq(bpf_map_lookup_elem(F.remote_fd, &k, &rem), 0, "the steering is gone");
	cr_assert_eq(bpf_map_lookup_elem(F.flows_fd, &k, &f), 0, "the new flow exists");
	cr_expect_eq(f.state, CB_FLOW_UNBOUND);
	cr_expect_eq(XSTAT(REDIRECT_REUSED), 1);
	fx_close();
}

Test(steer, syn_reuses_a_closed_tuple_xdp)
{
	syn_reuses_closed_tuple_on(FX_XDP, 1);
}

Test(steer, syn_reuses_a_closed_tuple_xdp_v6)
{
	FX_V6 = 1;
	syn_reuses_closed_tuple_on(FX_XDP, 1);
}

Test(steer, syn_reuses_a_closed_tuple_tc)
{
	syn_reuses_closed_tuple_on(FX_TC, 1);
}

Test(steer, syn_reuses_a_closed_tuple_tc_v6)
{
	FX_V6 = 1;
	syn_reuses_closed_tuple_on(FX_TC, 1);
}

Test(steer, syn_reuses_a_closed_remote_only_tuple_xdp)
{
	syn_reuses_closed_tuple_on(FX_XDP, 0);
}

Test(steer, syn_reuses_a_closed_remote_only_tuple_xdp_v6)
{
	FX_V6 = 1;
	syn_reuses_closed_tuple_on(FX_XDP, 0);
}
