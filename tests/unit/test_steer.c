// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * datapath/steer.c on real maps (the XDP fixture's, as on an interface's
 * pins), cb_flows_insert, and the hand-off's state sequence on both nodes
 * driven through the controller's calls (flows.h, steer.h) with the
 * programs judging packets in between.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cb_ctl.skel.h"
#include "cb_xdp.skel.h"
#include "cb_tc.skel.h"
#include "datapath/flows.h"
#include "datapath/steer.h"
#include "test_bpf.h"

static struct cb_steer S;
static struct cb_flows T;

/* The fixture's maps behind the controller's handles. */
static void open_all(enum fx_hook hook)
{
	fx_open_hook(hook, 0, 65536);
	S.peers_fd = F.peers_fd;
	S.remote_fd = F.remote_fd;
	S.cfg_fd = F.cfg_fd;
	T.fd = F.flows_fd;
	T.prog = cb_ctl__open();
	cr_assert_not_null(T.prog);
	cr_assert_eq(bpf_map__reuse_fd(T.prog->maps.cb_flows, F.flows_fd), 0);
	cr_assert_eq(cb_ctl__load(T.prog), 0);
}

static void close_all(void)
{
	cb_ctl__destroy(T.prog);
	T.prog = NULL;
	fx_close();                     /* closes the map fds S and T borrowed */
}

static const uint8_t MAC2[6] = { 0x02, 0, 0, 0, 0, 0x22 };

Test(steer_api, peers)
{
	struct cb_peer p;

	open_all(FX_XDP);
	cr_expect_eq(cb_peer_get(&S, 3, &p), 0);
	cr_expect_eq(p.up, 0, "a fresh map: every peer down");
	cr_expect_eq(cb_peer_set(&S, 3, T_MAC_PEER, htonl(0x0a000003), 1), 0);
	cr_assert_eq(cb_peer_get(&S, 3, &p), 0);
	cr_expect_eq(memcmp(p.mac, T_MAC_PEER, 6), 0);
	cr_expect_eq(p.up, 1);
	cr_expect_eq(p.ip_be, htonl(0x0a000003));
	cr_expect_eq(p.flags, 0);
	cr_expect_eq(cb_peer_set(&S, 3, MAC2, 0, 1), -EBUSY, "an up peer keeps its MAC");
	cr_expect_eq(cb_peer_set(&S, 3, T_MAC_PEER, htonl(0x0a000004), 1), 0, "same MAC: fine");
	cr_expect_eq(cb_peer_set_up(&S, 3, 0), 0);
	cr_assert_eq(cb_peer_get(&S, 3, &p), 0);
	cr_expect_eq(p.up, 0);
	cr_expect_eq(memcmp(p.mac, T_MAC_PEER, 6), 0, "down keeps the MAC");
	cr_expect_eq(p.ip_be, htonl(0x0a000004));
	cr_expect_eq(cb_peer_set(&S, 3, MAC2, 0, 1), 0, "down: the MAC may change");
	cr_assert_eq(cb_peer_get(&S, 3, &p), 0);
	cr_expect_eq(memcmp(p.mac, MAC2, 6), 0);
	cr_expect_eq(cb_peer_set_up(&S, CB_MAX_PEERS, 1), -EINVAL);
	cr_expect_eq(cb_peer_set(&S, CB_MAX_PEERS, MAC2, 0, 1), -EINVAL);
	cr_expect_eq(cb_peer_get(&S, CB_MAX_PEERS, &p), -EINVAL);
	close_all();
}

Test(steer_api, own_mac_and_interface_mac)
{
	uint8_t mac[6] = { 1, 1, 1, 1, 1, 1 }, zero[6] = { 0 };

	open_all(FX_XDP);
	cr_expect_eq(cb_steer_own_mac(&S, mac), 0);
	cr_expect_eq(memcmp(mac, T_MAC_OWN, 6), 0);
	close_all();
	cr_expect_eq(cb_if_hwaddr("lo", mac), 0);
	cr_expect_eq(memcmp(mac, zero, 6), 0, "loopback has an all-zero address");
	cr_expect_eq(cb_if_hwaddr("cb-no-such-if", mac), -ENODEV);
	cr_expect_eq(cb_if_hwaddr("a-name-longer-than-ifnamsiz", mac), -ENAMETOOLONG);
}

static struct cb_flow_key key_n(uint32_t i)
{
	struct cb_flow_key k = t_key(a4(CLIENT + (i >> 16)), a4(VIP), (uint16_t)i, VPORT);

	return k;
}

Test(steer_api, remote_add_remove)
{
	struct cb_flow_key k = flow_key();
	struct cb_remote r;
	uint64_t t0 = cb_steer_now_ns();

	open_all(FX_XDP);
	cr_expect_eq(cb_remote_lookup(&S, &k, &r), -ENOENT);
	cr_expect_eq(cb_remote_add(&S, &k, 5, 9, 4242), 0);
	cr_assert_eq(cb_remote_lookup(&S, &k, &r), 0);
	cr_expect_eq(r.peer, 5);
	cr_expect_eq(r.epoch, 9);
	cr_expect_eq(r.last_ack, 4242, "seeded: a silent client's RST lands in its window");
	cr_expect_geq(r.created_ns, t0, "the programs' clock");
	cr_expect_leq(r.created_ns, cb_steer_now_ns());
	cr_expect_eq(r.last_ns, r.created_ns);
	cr_expect_eq(r.closing_ns, 0);
	cr_expect_eq(r.closing_flags, 0);
	cr_expect_eq(cb_remote_add(&S, &k, 6, 10, 0), -EEXIST);
	cr_expect_eq(cb_remote_add(&S, &k, CB_MAX_PEERS, 10, 0), -EINVAL);
	cr_expect_eq(cb_remote_remove(&S, &k, 8), -EAGAIN, "another move's entry stays");
	cr_expect_eq(cb_remote_lookup(&S, &k, &r), 0);
	cr_expect_eq(cb_remote_remove(&S, &k, 9), 0);
	cr_expect_eq(cb_remote_remove(&S, &k, 9), -ENOENT);
	close_all();
}

Test(steer_api, remote_full_is_enospc)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
	struct cb_steer s = { -1, -1, -1 };
	struct cb_flow_key k;
	uint32_t i;

	if (geteuid() != 0)
		cr_skip_test("BPF needs root");
	s.remote_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "cb_remote", sizeof(struct cb_flow_key),
				     sizeof(struct cb_remote), 4, &mo);
	cr_assert_geq(s.remote_fd, 0);
	for (i = 0; i < 4; i++) {
		k = key_n(i);
		cr_expect_eq(cb_remote_add(&s, &k, 1, i, 0), 0);
	}
	k = key_n(4);
	cr_expect_eq(cb_remote_add(&s, &k, 1, 4, 0), -ENOSPC);
	k = key_n(0);
	cr_expect_eq(cb_remote_remove(&s, &k, 0), 0);
	k = key_n(4);
	cr_expect_eq(cb_remote_add(&s, &k, 1, 4, 0), 0, "room again");
	cb_steer_close(&s);
	cr_expect_eq(s.remote_fd, -1);
}

struct sweep {
	const struct cb_steer *s;
	uint64_t cutoff;
	unsigned long seen, removed;
	int stop_at;
};

/* What a controller's sweep does: remove what closed before the cutoff. */
static int sweep_one(const struct cb_flow_key *k, const struct cb_remote *r, void *arg)
{
	struct sweep *w = arg;

	w->seen++;
	if (r->closing_ns && r->closing_ns < w->cutoff) {
		cr_expect_eq(cb_remote_remove(w->s, k, r->epoch), 0);
		w->removed++;
	}
	return w->stop_at && w->seen == (unsigned long)w->stop_at ? 42 : 0;
}

Test(steer_api, walk_count_and_sweep)
{
	struct cb_remote_stats st;
	struct sweep w = { .s = &S };
	uint32_t i;
	const uint32_t n = 1000;        /* several batches */

	open_all(FX_XDP);
	for (i = 0; i < n; i++) {
		struct cb_flow_key k = key_n(i);
		struct cb_remote r;

		cr_assert_eq(cb_remote_add(&S, &k, i % 3, i, 0), 0);
		/* every 4th closed long ago, every 4th+1 just now (the programs' marks) */
		if (i % 4 < 2) {
			cr_assert_eq(cb_remote_lookup(&S, &k, &r), 0);
			r.closing_ns = i % 4 == 0 ? 1000 : cb_steer_now_ns() + 1000000000ull;
			r.closing_flags = CB_REMOTE_SEEN_FIN;
			cr_assert_eq(bpf_map_update_elem(S.remote_fd, &k, &r, BPF_EXIST), 0);
		}
	}
	cr_assert_eq(cb_remote_stats(&S, cb_steer_now_ns(), &st), 0);
	cr_expect_eq(st.total, n);
	cr_expect_eq(st.closing, n / 2);
	cr_expect_eq(st.closing_before, n / 4);
	cr_expect_eq(st.by_peer[0], 334);
	cr_expect_eq(st.by_peer[1], 333);
	cr_expect_eq(st.by_peer[2], 333);
	cr_expect_eq(st.by_peer[3], 0);
	/* a callback that stops early: its value comes back */
	w.stop_at = 10;
	w.cutoff = 0;
	cr_expect_eq(cb_remote_foreach(&S, sweep_one, &w), 42);
	cr_expect_eq(w.seen, 10);
	/* the sweep: removing while walking visits every entry once */
	memset(&w, 0, sizeof(w));
	w.s = &S;
	w.cutoff = cb_steer_now_ns();
	cr_assert_eq(cb_remote_foreach(&S, sweep_one, &w), 0);
	cr_expect_eq(w.seen, n);
	cr_expect_eq(w.removed, n / 4);
	cr_assert_eq(cb_remote_stats(&S, cb_steer_now_ns(), &st), 0);
	cr_expect_eq(st.total, n - n / 4);
	cr_expect_eq(st.closing_before, 0);
	close_all();
}

Test(steer_api, flows_insert_and_the_new_states_through_cas)
{
	struct cb_flow_key k = flow_key();
	struct cb_flow f = { .state = CB_FLOW_PENDING, .client_isn = CISN, .rcv_nxt = CISN + 1 };
	struct cb_flow got;
	uint32_t old = 0;

	open_all(FX_XDP);
	cr_expect_eq(cb_flows_insert(&T, &k, &f), 0);
	cr_expect_eq(cb_flows_insert(&T, &k, &f), -EEXIST, "an entry changes only in place");
	cr_assert_eq(cb_flows_lookup(&T, &k, &got), 0);
	cr_expect_eq(got.state, CB_FLOW_PENDING);
	cr_expect_eq(cb_flows_cas(&T, &k, CB_FLOW_SHIPPING, CB_FLOW_LOCAL, &old, NULL), -EAGAIN);
	cr_expect_eq(old, CB_FLOW_PENDING);
	cr_expect_eq(cb_flows_cas(&T, &k, CB_FLOW_PENDING, CB_FLOW_LOCAL, &old, NULL), 0);
	cr_expect_eq(cb_flows_delete_if(&T, &k, CB_FLOW_LOCAL, CISN, &old), 0);
	f.state = CB_FLOW_UNBOUND;
	cr_expect_eq(cb_flows_insert(&T, &k, &f), 0);
	cr_expect_eq(cb_flows_cas(&T, &k, CB_FLOW_UNBOUND, CB_FLOW_SHIPPING, NULL, NULL), 0);
	cr_expect_eq(cb_flows_cas(&T, &k, CB_FLOW_SHIPPING, CB_FLOW_REDIRECT, NULL, NULL), 0);
	cr_expect_eq(cb_flows_cas(&T, &k, CB_FLOW_REDIRECT, CB_FLOW_FROZEN, NULL, NULL), 0);
	cr_expect_eq(cb_flows_cas(&T, &k, CB_FLOW_FROZEN, CB_FLOW_MOVING, NULL, NULL), 0);
	cr_expect_eq(cb_flows_delete_if(&T, &k, CB_FLOW_MOVING, CISN + 1, &old), -EAGAIN,
		     "another connection");
	cr_expect_eq(cb_flows_delete_if(&T, &k, CB_FLOW_MOVING, CISN, &old), 0);
	close_all();
}

/* Many flows in one run: CAS per item (moved, another state, none), then GET. */
Test(steer_api, flows_batch_cas_and_get)
{
	static struct cb_flow_batch b;
	struct cb_flow f = { .state = CB_FLOW_UNBOUND, .client_isn = CISN, .rcv_nxt = CISN + 1,
			     .bytes_in = 7 };
	struct cb_flow got;
	int i, n = CB_FLOW_BATCH;

	open_all(FX_XDP);
	memset(&b, 0, sizeof(b));
	for (i = 0; i < n; i++) {
		struct cb_flow_key k = flow_key();

		k.sport_be = htons((uint16_t)(20000 + i));
		f.client_isn = CISN + (uint32_t)i;
		f.state = i % 3 == 1 ? CB_FLOW_LOCAL : CB_FLOW_UNBOUND;
		if (i % 3 != 2)                 /* every third has no entry */
			cr_assert_eq(cb_flows_insert(&T, &k, &f), 0);
		b.item[i].req = (struct cb_state_req){ .key = k, .expect = CB_FLOW_UNBOUND,
						       .state = CB_FLOW_FROZEN };
	}
	b.op = CB_BATCH_CAS;
	b.n = (uint32_t)n;
	cr_assert_eq(cb_flows_batch(&T, &b), 0);
	for (i = 0; i < n; i++) {
		struct cb_state_req *r = &b.item[i].req;

		if (i % 3 == 0) {
			cr_expect_eq(r->result, 0, "item %d", i);
			cr_expect_eq(r->bytes_in, 7, "item %d", i);
			cr_assert_eq(cb_flows_lookup(&T, &r->key, &got), 0);
			cr_expect_eq(got.state, CB_FLOW_FROZEN, "item %d moved", i);
		} else if (i % 3 == 1) {
			cr_expect_eq(r->result, -1, "item %d", i);
			cr_expect_eq(r->old_state, CB_FLOW_LOCAL, "item %d", i);
			cr_assert_eq(cb_flows_lookup(&T, &r->key, &got), 0);
			cr_expect_eq(got.state, CB_FLOW_LOCAL, "item %d untouched", i);
		} else {
			cr_expect_eq(r->result, -2, "item %d: no entry", i);
		}
	}
	b.op = CB_BATCH_GET;
	cr_assert_eq(cb_flows_batch(&T, &b), 0);
	for (i = 0; i < n; i++) {
		cr_expect_eq(b.item[i].req.result, i % 3 == 2 ? -2 : 0, "item %d", i);
		if (i % 3 != 2)
			cr_expect_eq(b.item[i].flow.client_isn, CISN + (uint32_t)i, "item %d's flow", i);
	}
	/* only the first n: an item past it is never read */
	b.op = CB_BATCH_CAS;
	b.n = 1;
	b.item[0].req.expect = CB_FLOW_FROZEN;
	b.item[0].req.state = CB_FLOW_LOCAL;
	b.item[3].req.expect = CB_FLOW_FROZEN;
	b.item[3].req.state = CB_FLOW_LOCAL;
	cr_assert_eq(cb_flows_batch(&T, &b), 0);
	cr_assert_eq(cb_flows_lookup(&T, &b.item[3].req.key, &got), 0);
	cr_expect_eq(got.state, CB_FLOW_FROZEN, "item 3 was past n");
	b.n = CB_FLOW_BATCH + 1;
	cr_expect_eq(cb_flows_batch(&T, &b), -EINVAL);
	close_all();
}

/*
 * The director's side of a hand-off, on each hook: a real handshake and
 * request, then SHIPPING (segments dropped, kernel RSTs blocked), the
 * cb_remote entry, REDIRECT (steered), the cb_flows entry evicted (still
 * steered), the peer down (RST at ack_seq), the end (delete, remove: the
 * tuple is unknown again).
 */
static void director_sequence_on(enum fx_hook hook)
{
	struct cb_flow_key k = flow_key();
	struct t_tcp_view v;
	uint32_t isn, tsv, old = 0;
	uint8_t b[256];
	size_t n;

	open_all(hook);
	isn = handshake(&tsv);
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 800, tsv, "GET / HTTP/1.1\r\n\r\n", 18, 502);
	cr_assert_eq(run(b, n), V_TX, "request acknowledged by the program");
	cr_assert_eq(cb_flows_cas(&T, &k, CB_FLOW_UNBOUND, CB_FLOW_SHIPPING, &old, NULL), 0);
	n = seg(b, sizeof(b), CISN + 19, isn + 1, 0x18, 801, tsv, "more", 4, 502);
	cr_expect_eq(run(b, n), V_DROP, "shipping: dropped unacknowledged");
	cr_expect_eq(XSTAT(DROP_SHIPPING), 1);
	if (hook == FX_TC) {
		struct t_tcp_spec s = { .saddr = VIP, .daddr = CLIENT, .sport = VPORT,
					.dport = CPORT, .seq = 1, .flags = 0x04 };
		uint8_t e[128];
		size_t en = t_build(e, sizeof(e), &s);

		cr_expect_eq(run_prog(bpf_program__fd(F.tc->progs.cb_tc_egress), e, en),
			     TC_ACT_SHOT, "a kernel RST for a shipping flow");
	}
	/* PREPARED: the entry first, then the state */
	cr_assert_eq(cb_peer_set(&S, 2, T_MAC_PEER, 0, 1), 0);
	cr_assert_eq(cb_remote_add(&S, &k, 2, 1, 0), 0);
	cr_expect_eq(run(b, n), V_DROP, "still shipping until the CAS");
	cr_assert_eq(cb_flows_cas(&T, &k, CB_FLOW_SHIPPING, CB_FLOW_REDIRECT, NULL, NULL), 0);
	cr_expect_eq(run(b, n), V_TX);
	cr_expect_eq(memcmp(F.out, T_MAC_PEER, 6), 0);
	cr_expect_eq(memcmp(F.out + 6, T_MAC_OWN, 6), 0);
	cr_expect_eq(memcmp(F.out + 12, b + 12, n - 12), 0);
	/* evicted from the LRU table: cb_remote keeps steering */
	cr_assert_eq(bpf_map_delete_elem(F.flows_fd, &k), 0);
	cr_expect_eq(run(b, n), V_TX);
	cr_expect_eq(memcmp(F.out, T_MAC_PEER, 6), 0, "steered without a cb_flows entry");
	cr_expect_eq(XSTAT(REDIRECTED), 2);
	cr_expect_eq(XSTAT(REDIRECT_BY_REMOTE), 1);
	/* the peer dies */
	cr_assert_eq(cb_peer_set_up(&S, 2, 0), 0);
	cr_expect_eq(run(b, n), V_TX);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cr_expect_eq(v.flags, 0x04);
	cr_expect_eq(v.seq, isn + 1, "RST at the client's rcv_nxt");
	cr_expect_eq(XSTAT(REDIRECT_PEER_DOWN_RST), 1);
	/* the controller ends it: the tuple is unknown again */
	cr_expect_eq(cb_remote_remove(&S, &k, 1), 0);
	cr_expect_eq(run(b, n), V_TX);
	cr_expect_eq(XSTAT(RST_NO_FLOW), 1, "reset as an unknown connection");
	close_all();
}

Test(steer_seq, director_xdp)
{
	director_sequence_on(FX_XDP);
}

Test(steer_seq, director_tc)
{
	director_sequence_on(FX_TC);
}

/*
 * The target's side: the controller inserts the PENDING entry, the socket
 * would be built in repair mode; the client's segments (steered here) are
 * dropped and nothing of the tuple leaves; COMMIT: PENDING -> LOCAL, both
 * directions pass.
 */
Test(steer_seq, target_tc)
{
	struct cb_flow_key k = flow_key();
	struct cb_flow f = { .state = CB_FLOW_PENDING, .client_isn = CISN, .rcv_nxt = CISN + 19 };
	struct t_tcp_spec out = { .saddr = VIP, .daddr = CLIENT, .sport = VPORT, .dport = CPORT,
				  .seq = 5000, .ack = CISN + 19, .flags = 0x10, .window = 502 };
	uint8_t b[256], e[128];
	size_t n, en;
	int eg;

	open_all(FX_TC);
	eg = bpf_program__fd(F.tc->progs.cb_tc_egress);
	cr_assert_eq(cb_flows_insert(&T, &k, &f), 0);
	n = seg(b, sizeof(b), CISN + 19, 5000, 0x18, 801, 1, "more", 4, 502);
	en = t_build(e, sizeof(e), &out);
	cr_expect_eq(run(b, n), TC_ACT_SHOT, "pending: the client's segment dropped");
	cr_expect_eq(run_prog(eg, e, en), TC_ACT_SHOT, "pending: the socket's ACK dropped");
	cr_expect_eq(XSTAT(DROP_PENDING), 1);
	cr_expect_eq(XSTAT(EGRESS_PENDING_DROP), 1);
	cr_assert_eq(cb_flows_cas(&T, &k, CB_FLOW_PENDING, CB_FLOW_LOCAL, NULL, NULL), 0);
	cr_expect_eq(run(b, n), TC_ACT_OK, "committed: to the socket");
	cr_expect_eq(run_prog(eg, e, en), TC_ACT_OK, "committed: the socket speaks");
	cr_expect_eq(XSTAT(PASS_LOCAL), 1);
	close_all();
}
