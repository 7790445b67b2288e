// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The BPF programs themselves, run on crafted packets through
 * bpf_prog_test_run_opts(): one test per verdict the core can return.
 * Needs root (CAP_BPF); skipped otherwise.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "cb_xdp.skel.h"
#include "cb_tc.skel.h"
#include "test_bpf.h"

TestSuite(xdp, .init = NULL, .fini = NULL);

Test(xdp, syn_gets_exact_synack_and_no_state)
{
	uint8_t b[256], in_copy[256];
	struct t_tcp_view v;
	struct cb_cookie_info ci;
	struct cb_flow f;
	size_t n;

	fx_open(0, 65536);
	n = syn(b, 1, 1, 7, NULL);
	memcpy(in_copy, b, n);
	cr_assert_eq(run(b, n), XDP_TX);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cr_expect_eq(memcmp(v.dmac, T_MAC_CLIENT, 6), 0);
	cr_expect_eq(memcmp(v.smac, T_MAC_DIR, 6), 0);
	cr_expect_eq(v.saddr, VIP);
	cr_expect_eq(v.daddr, CLIENT);
	cr_expect_eq(v.sport, VPORT);
	cr_expect_eq(v.dport, CPORT);
	cr_expect_eq(v.flags, 0x12, "flags %#x", v.flags);
	cr_expect_eq(v.ack, CISN + 1);
	cr_expect_eq(v.ihl, 5);
	cr_expect_eq(v.ttl, 64);
	cr_expect_eq(v.doff, 10);
	cr_expect_eq(v.paylen, 0);
	cr_expect_eq(v.window, 65535);
	cr_expect_eq(v.mss, 1460);
	cr_expect_eq(v.wscale, 7);
	cr_expect_eq(v.sack_ok, 1);
	cr_expect_eq(v.ts, 1);
	cr_expect_eq(v.tsecr, 777);
	cr_expect_eq(F.out_len, 14 + 20 + 40);
	cr_expect_eq(t_verify_csums(F.out, F.out_len), 0, "checksums");
	/* the ISN is a cookie that validates with the map's key and carries the options */
	cr_expect_eq(cb_cookie_check(KEY0, v.seq, htonl(CLIENT), htonl(VIP), htons(CPORT),
				     htons(VPORT), CISN, tai_counter(), &ci), 0);
	cr_expect_eq(ci.mss, 1460);
	cr_expect_eq(ci.wscale, 7);
	cr_expect_eq(ci.sack, 1);
	cr_expect_neq(get_flow(&f), 0, "a SYN must not create state");
	cr_expect_eq(XSTAT(SYN_COOKIE_SENT), 1);
	cr_expect_eq(drain(), 0);
	fx_close();
}

Test(xdp, syn_without_options_gets_mss_only)
{
	uint8_t b[256];
	struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT, .dport = VPORT,
				.seq = CISN, .flags = 0x02, .window = 8192 };
	struct t_tcp_view v;
	struct cb_cookie_info ci;
	size_t n;

	fx_open(0, 65536);
	n = t_build(b, sizeof(b), &s);
	cr_assert_eq(run(b, n), XDP_TX);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cr_expect_eq(v.doff, 6);
	cr_expect_eq(v.mss, 1460);
	cr_expect_eq(v.wscale, -1);
	cr_expect_eq(v.sack_ok, 0);
	cr_expect_eq(v.ts, 0);
	cr_expect_eq(t_verify_csums(F.out, F.out_len), 0);
	cr_expect_eq(cb_cookie_check(KEY0, v.seq, htonl(CLIENT), htonl(VIP), htons(CPORT),
				     htons(VPORT), CISN, tai_counter(), &ci), 0);
	cr_expect_eq(ci.wscale, CB_WSCALE_NONE);
	cr_expect_eq(ci.mss, 536);
	fx_close();
}

Test(xdp, sack_and_wscale_without_timestamps)
{
	uint8_t b[256];
	struct t_tcp_view v;
	size_t n;

	fx_open(0, 65536);
	n = syn(b, 1, 0, 9, NULL);
	cr_assert_eq(run(b, n), XDP_TX);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cr_expect_eq(v.ts, 0);
	cr_expect_eq(v.sack_ok, 1);
	cr_expect_eq(v.wscale, 7);
	cr_expect_eq(t_verify_csums(F.out, F.out_len), 0);
	/* the ACK (no TS) still yields a flow with SACK and the client's wscale 9 */
	n = seg(b, sizeof(b), CISN + 1, v.seq + 1, 0x10, 0, 0, NULL, 0, 100);
	{
		struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT,
					.dport = VPORT, .seq = CISN + 1, .ack = v.seq + 1,
					.flags = 0x10, .window = 100 };
		struct cb_flow f;

		n = t_build(b, sizeof(b), &s);
		cr_assert_eq(run(b, n), XDP_DROP);
		cr_assert_eq(get_flow(&f), 0);
		cr_expect_eq(f.opts, CB_OPT_SACK | CB_OPT_WSCALE);
		cr_expect_eq(f.snd_wscale, 9);
		cr_expect_eq(f.snd_wnd, 100u << 9);
	}
	fx_close();
}

Test(xdp, syn_with_ip_options_answered_without_them)
{
	uint8_t b[256], o[40], ipo[4] = { 1, 1, 1, 0 };
	struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT, .dport = VPORT,
				.seq = CISN, .flags = 0x02, .window = 8192, .opts = o,
				.ipopts = ipo, .ipoptlen = 4 };
	struct t_tcp_view v;
	size_t n;

	fx_open(0, 65536);
	s.optlen = t_syn_opts(o, 1460, 1, 1, 5, 7);
	n = t_build(b, sizeof(b), &s);
	cr_assert_eq(run(b, n), XDP_TX);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cr_expect_eq(v.ihl, 5);
	cr_expect_eq(v.flags, 0x12);
	cr_expect_eq(v.ack, CISN + 1);
	cr_expect_eq(t_verify_csums(F.out, F.out_len), 0);
	fx_close();
}

Test(xdp, syn_with_data_acks_only_the_syn)
{
	uint8_t b[256];
	struct t_tcp_view v;
	size_t n;

	fx_open(0, 65536);
	n = syn(b, 1, 1, 7, "early data");
	cr_assert_eq(run(b, n), XDP_TX);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cr_expect_eq(v.ack, CISN + 1);
	cr_expect_eq(v.paylen, 0);
	cr_expect_eq(XSTAT(SYN_WITH_DATA), 1);
	cr_expect_eq(drain(), 0);
	fx_close();
}

Test(xdp, valid_ack_creates_flow_with_state)
{
	uint8_t b[256];
	struct t_tcp_view v;
	struct cb_flow f;
	const struct cb_event *ev;
	size_t n;

	fx_open(0, 65536);
	n = syn(b, 1, 1, 7, NULL);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	n = seg(b, sizeof(b), CISN + 1, v.seq + 1, 0x10, 778, v.tsval, NULL, 0, 502);
	cr_assert_eq(run(b, n), XDP_DROP, "the handshake ACK is consumed");
	cr_assert_eq(get_flow(&f), 0);
	cr_expect_eq(f.state, CB_FLOW_UNBOUND);
	cr_expect_eq(f.client_isn, CISN);
	cr_expect_eq(f.server_isn, v.seq);
	cr_expect_eq(f.rcv_nxt, CISN + 1);
	cr_expect_eq(f.snd_nxt, v.seq + 1);
	cr_expect_eq(f.mss, 1460);
	cr_expect_eq(f.snd_wscale, 7);
	cr_expect_eq(f.rcv_wscale, 7);
	cr_expect_eq(f.opts, CB_OPT_SACK | CB_OPT_TS | CB_OPT_WSCALE);
	cr_expect_eq(f.ts_recent, 778);
	cr_expect_eq(f.snd_wnd, 502u << 7);
	cr_expect_eq(f.rcv_wnd, 65536);
	cr_expect_eq(f.bytes_in, 0);
	cr_expect_neq(f.created_ns, 0);
	/* our TSval = ms clock + ts_offset: the offset reproduces the SYN-ACK's */
	{
		struct timespec ts;
		uint32_t now_ms;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now_ms = (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
		cr_expect_lt((uint32_t)(now_ms + f.ts_offset - v.tsval), 1000u);
	}
	cr_expect_eq(XSTAT(ACK_COOKIE_OK), 1);
	cr_assert_eq(drain(), 1);
	ev = (const struct cb_event *)F.rec[0];
	cr_expect_eq(ev->type, CB_EV_OPEN);
	fx_close();
}

Test(xdp, bad_cookie_creates_nothing)
{
	uint8_t b[256];
	struct t_tcp_view v;
	struct cb_flow f;
	size_t n;

	fx_open(0, 65536);
	n = syn(b, 1, 1, 7, NULL);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	/* answered as an unknown connection: RST at the acknowledged number */
	n = seg(b, sizeof(b), CISN + 1, v.seq + 2, 0x10, 778, v.tsval, NULL, 0, 502);
	cr_expect_eq(run(b, n), XDP_TX);
	/* an ACK for a different client ISN fails too */
	n = seg(b, sizeof(b), CISN + 2, v.seq + 1, 0x10, 778, v.tsval, NULL, 0, 502);
	cr_expect_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.flags, 0x04);
	cr_expect_neq(get_flow(&f), 0);
	cr_expect_eq(XSTAT(ACK_COOKIE_BAD), 2);
	cr_expect_eq(XSTAT(RST_NO_FLOW), 2);
	cr_expect_eq(drain(), 0);
	fx_close();
}

Test(xdp, old_secret_slot_still_validates_after_rotation)
{
	uint8_t b[256];
	struct t_tcp_view v;
	struct cb_flow f;
	struct cb_secrets s = { .key = { { KEY0[0], KEY0[1] }, { 5, 6 } }, .current = 1 };
	uint32_t zero = 0;
	size_t n;

	fx_open(0, 65536);
	n = syn(b, 1, 1, 7, NULL);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_assert_eq(bpf_map_update_elem(F.sec_fd, &zero, &s, 0), 0);
	n = seg(b, sizeof(b), CISN + 1, v.seq + 1, 0x10, 778, v.tsval, NULL, 0, 502);
	cr_expect_eq(run(b, n), XDP_DROP);
	cr_expect_eq(get_flow(&f), 0, "cookie from the previous secret must still work");
	fx_close();
}

Test(xdp, data_goes_to_ring_then_is_acked)
{
	uint8_t b[2048];
	const char *req1 = "GET /a HTTP/1.1\r\nHost: ex", *req2 = "ample.test\r\n\r\n";
	const struct cb_event *ev;
	struct t_tcp_view v;
	struct cb_flow f;
	uint32_t tsv, isn;
	size_t n, l1 = strlen(req1), l2 = strlen(req2);

	fx_open(0, 65536);
	isn = handshake(&tsv);
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 800, tsv, req1, l1, 502);
	cr_assert_eq(run(b, n), XDP_TX);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cr_expect_eq(v.flags, 0x10);
	cr_expect_eq(v.ack, CISN + 1 + l1);
	cr_expect_eq(v.seq, isn + 1);
	cr_expect_eq(v.ts, 1);
	cr_expect_eq(v.tsecr, 800);
	cr_expect_eq(v.paylen, 0);
	cr_expect_eq(v.window, (65536 - l1) >> 7);
	cr_expect_eq(t_verify_csums(F.out, F.out_len), 0);
	cr_assert_eq(drain(), 1);
	ev = (const struct cb_event *)F.rec[0];
	cr_expect_eq(ev->type, CB_EV_DATA);
	cr_expect_eq(ev->seq, CISN + 1);
	cr_expect_eq(ev->len, l1);
	cr_expect_eq(memcmp(ev + 1, req1, l1), 0);
	cr_expect_eq(F.rec_len[0], sizeof(*ev) + l1);
	cr_expect_eq(memcmp(&ev->key, &(struct cb_flow_key){ htonl(CLIENT), htonl(VIP),
							     htons(CPORT), htons(VPORT) }, 12), 0);

	n = seg(b, sizeof(b), CISN + 1 + l1, isn + 1, 0x18, 801, tsv, req2, l2, 502);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.ack, CISN + 1 + l1 + l2);
	cr_assert_eq(drain(), 1);
	ev = (const struct cb_event *)F.rec[0];
	cr_expect_eq(ev->seq, CISN + 1 + l1);
	cr_expect_eq(memcmp(ev + 1, req2, l2), 0);
	cr_assert_eq(get_flow(&f), 0);
	cr_expect_eq(f.rcv_nxt, CISN + 1 + l1 + l2);
	cr_expect_eq(f.bytes_in, l1 + l2);
	cr_expect_eq(f.ts_recent, 801);
	cr_expect_eq(XSTAT(DATA_QUEUED), 2);
	cr_expect_eq(XSTAT(DATA_BYTES), l1 + l2);
	fx_close();
}

Test(xdp, bad_checksum_not_queued_not_acked)
{
	uint8_t b[2048], odd[1401];
	struct cb_flow f;
	uint32_t tsv, isn;
	size_t n, i;

	fx_open(0, 65536);
	isn = handshake(&tsv);
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 800, tsv, "GET / HTTP/1.1\r\n\r\n", 18, 502);
	b[n - 1] ^= 0x20;         /* one flipped payload bit */
	cr_expect_eq(run(b, n), XDP_DROP);
	cr_expect_eq(drain(), 0);
	cr_assert_eq(get_flow(&f), 0);
	cr_expect_eq(f.rcv_nxt, CISN + 1);
	cr_expect_eq(XSTAT(DATA_BAD_CSUM), 1);
	/* odd lengths and multi-chunk payloads verify correctly when intact */
	for (i = 0; i < sizeof(odd); i++)
		odd[i] = (uint8_t)(i * 31 + 7);
	for (i = 1; i <= 4; i++) {
		n = seg(b, sizeof(b), f.rcv_nxt, isn + 1, 0x18, 800, tsv, odd, 1397 + i, 502);
		cr_expect_eq(run(b, n), XDP_TX, "length %zu", 1397 + i);
		cr_assert_eq(get_flow(&f), 0);
	}
	cr_expect_eq(XSTAT(DATA_BAD_CSUM), 1);
	cr_expect_eq(f.bytes_in, 1398 + 1399 + 1400 + 1401);
	fx_close();
}

Test(xdp, out_of_order_dropped_with_dup_ack)
{
	uint8_t b[2048];
	struct t_tcp_view v;
	struct cb_flow f;
	uint32_t tsv, isn;
	size_t n;

	fx_open(0, 65536);
	isn = handshake(&tsv);
	n = seg(b, sizeof(b), CISN + 1 + 100, isn + 1, 0x18, 800, tsv, "later", 5, 502);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.ack, CISN + 1, "must not acknowledge what it did not keep");
	cr_expect_eq(drain(), 0);
	cr_assert_eq(get_flow(&f), 0);
	cr_expect_eq(f.rcv_nxt, CISN + 1);
	cr_expect_eq(XSTAT(DATA_OUT_OF_ORDER), 1);
	fx_close();
}

Test(xdp, retransmission_and_overlap)
{
	uint8_t b[2048];
	const struct cb_event *ev;
	struct t_tcp_view v;
	uint32_t tsv, isn;
	size_t n;

	fx_open(0, 65536);
	isn = handshake(&tsv);
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 800, tsv, "0123456789", 10, 502);
	cr_assert_eq(run(b, n), XDP_TX);
	drain();
	/* exact retransmission: re-ACKed, nothing new queued */
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.ack, CISN + 11);
	cr_expect_eq(drain(), 0);
	cr_expect_eq(XSTAT(DATA_DUP), 1);
	/* overlap: bytes 5..14, only 10..14 are new */
	n = seg(b, sizeof(b), CISN + 6, isn + 1, 0x18, 801, tsv, "56789abcde", 10, 502);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.ack, CISN + 16);
	cr_assert_eq(drain(), 1);
	ev = (const struct cb_event *)F.rec[0];
	cr_expect_eq(ev->seq, CISN + 11);
	cr_expect_eq(ev->len, 5);
	cr_expect_eq(memcmp(ev + 1, "abcde", 5), 0);
	fx_close();
}

Test(xdp, past_window_cap_not_acked)
{
	uint8_t b[2048], data[1400];
	struct t_tcp_view v;
	uint32_t tsv, isn;
	size_t n;

	fx_open(0, 2000);
	memset(data, 'x', sizeof(data));
	isn = handshake(&tsv);
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 800, tsv, data, 1400, 502);
	cr_assert_eq(run(b, n), XDP_TX);
	drain();
	n = seg(b, sizeof(b), CISN + 1401, isn + 1, 0x18, 801, tsv, data, 1000, 502);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.ack, CISN + 1401);
	cr_expect_eq(v.window, (2000 - 1400) >> 7);
	cr_expect_eq(drain(), 0);
	cr_expect_eq(XSTAT(DATA_OVER_CAP), 1);
	fx_close();
}

Test(xdp, ring_full_drops_unacknowledged)
{
	uint8_t b[2048], data[1400];
	struct cb_flow f;
	uint32_t tsv, isn, seq;
	int i, rc = XDP_TX;

	fx_open(4096, 65536);      /* a one-page ring: two 1400-byte records fit */
	memset(data, 'y', sizeof(data));
	isn = handshake(&tsv);
	seq = CISN + 1;
	for (i = 0; i < 5 && rc == XDP_TX; i++) {
		size_t n = seg(b, sizeof(b), seq, isn + 1, 0x18, 800, tsv, data, 1400, 502);

		rc = run(b, n);
		if (rc == XDP_TX)
			seq += 1400;
	}
	cr_expect_eq(rc, XDP_DROP, "a full ring means no ACK");
	cr_expect_eq(XSTAT(DATA_RING_FULL), 1);
	cr_assert_eq(get_flow(&f), 0);
	cr_expect_eq(f.rcv_nxt, seq, "rcv_nxt covers only what the ring took");
	cr_expect_eq(f.bytes_in, seq - CISN - 1);
	fx_close();
}

Test(xdp, fin_on_unbound_flow_resets_and_removes)
{
	uint8_t b[256];
	struct t_tcp_view v;
	struct cb_flow f;
	const struct cb_event *ev;
	uint32_t tsv, isn;
	size_t n;

	fx_open(0, 65536);
	isn = handshake(&tsv);
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x11, 800, tsv, NULL, 0, 502);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.flags & 0x04, 0x04, "RST");
	cr_expect_eq(v.seq, isn + 1);
	cr_expect_eq(t_verify_csums(F.out, F.out_len), 0);
	cr_expect_neq(get_flow(&f), 0);
	cr_expect_eq(XSTAT(FIN_UNBOUND), 1);
	cr_assert_eq(drain(), 1);
	ev = (const struct cb_event *)F.rec[0];
	cr_expect_eq(ev->type, CB_EV_CLOSE);
	cr_expect_eq(ev->flags, 0);
	fx_close();
}

Test(xdp, rst_on_unbound_flow_removes)
{
	uint8_t b[256];
	struct cb_flow f;
	uint32_t tsv, isn;
	size_t n;

	fx_open(0, 65536);
	isn = handshake(&tsv);
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x14, 800, tsv, NULL, 0, 0);
	cr_expect_eq(run(b, n), XDP_DROP);
	cr_expect_neq(get_flow(&f), 0);
	cr_expect_eq(XSTAT(RST_UNBOUND), 1);
	fx_close();
}

Test(xdp, rst_validation_blind_and_in_window)
{
	uint8_t b[256];
	struct t_tcp_view v;
	struct cb_flow f;
	uint32_t tsv, isn;
	size_t n;

	fx_open(0, 65536);
	isn = handshake(&tsv);
	/* a blind RST far from rcv_nxt: ignored */
	n = seg(b, sizeof(b), 0xdeadbeef, 0, 0x04, 800, tsv, NULL, 0, 0);
	cr_expect_eq(run(b, n), XDP_DROP);
	cr_expect_eq(get_flow(&f), 0, "a blind RST must not remove the flow");
	cr_expect_eq(XSTAT(DROP_BAD_SEQ), 1);
	/* in the window but not at rcv_nxt: challenge ACK (RFC 5961) */
	n = seg(b, sizeof(b), CISN + 100, isn + 1, 0x14, 800, tsv, NULL, 0, 0);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.flags, 0x10);
	cr_expect_eq(v.ack, CISN + 1);
	cr_expect_eq(v.seq, isn + 1);
	cr_expect_eq(get_flow(&f), 0);
	cr_expect_eq(XSTAT(CHALLENGE_ACK), 1);
	cr_expect_eq(XSTAT(RST_UNBOUND), 0);
	fx_close();
}

Test(xdp, syn_on_held_flow_gets_challenge_ack)
{
	uint8_t b[256];
	struct t_tcp_view v;
	struct cb_flow f, g;
	uint32_t tsv, isn;
	size_t n;

	fx_open(0, 65536);
	isn = handshake(&tsv);
	cr_assert_eq(get_flow(&f), 0);
	n = syn(b, 1, 1, 7, NULL);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.flags, 0x10, "an ACK, not a SYN-ACK");
	cr_expect_eq(v.seq, isn + 1);
	cr_expect_eq(v.ack, CISN + 1);
	/* SYN|ACK and SYN|FIN on a held flow never reach the kernel either */
	n = seg(b, sizeof(b), CISN, isn + 1, 0x12, 800, tsv, NULL, 0, 100);
	cr_expect_eq(run(b, n), XDP_TX);
	n = seg(b, sizeof(b), CISN, isn + 1, 0x03, 800, tsv, NULL, 0, 100);
	cr_expect_eq(run(b, n), XDP_TX);
	cr_assert_eq(get_flow(&g), 0);
	cr_expect_eq(memcmp(&f, &g, offsetof(struct cb_flow, last_ns)), 0);
	cr_expect_eq(g.rcv_nxt, f.rcv_nxt);
	cr_expect_eq(XSTAT(CHALLENGE_ACK), 3);
	cr_expect_eq(XSTAT(RST_NO_FLOW), 0);
	fx_close();
}

Test(xdp, segments_must_ack_our_syn)
{
	uint8_t b[256];
	struct cb_flow f;
	uint32_t tsv, isn;
	size_t n;

	fx_open(0, 65536);
	isn = handshake(&tsv);
	n = seg(b, sizeof(b), CISN + 1, isn + 7, 0x18, 800, tsv, "data", 4, 502);
	cr_expect_eq(run(b, n), XDP_DROP);
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x08, 800, tsv, "data", 4, 502);  /* no ACK bit */
	cr_expect_eq(run(b, n), XDP_DROP);
	/* a FIN with a wrong ack does not reset the real client */
	n = seg(b, sizeof(b), CISN + 1, isn + 9, 0x11, 800, tsv, NULL, 0, 502);
	cr_expect_eq(run(b, n), XDP_DROP);
	cr_expect_eq(drain(), 0);
	cr_assert_eq(get_flow(&f), 0);
	cr_expect_eq(f.rcv_nxt, CISN + 1);
	cr_expect_eq(XSTAT(DROP_BAD_ACK), 3);
	cr_expect_eq(XSTAT(FIN_UNBOUND), 0);
	fx_close();
}

Test(xdp, early_fin_is_out_of_order)
{
	uint8_t b[256];
	struct t_tcp_view v;
	struct cb_flow f;
	uint32_t tsv, isn;
	size_t n;

	fx_open(0, 65536);
	isn = handshake(&tsv);
	/* a FIN that overtook data: acknowledged up to rcv_nxt, flow kept */
	n = seg(b, sizeof(b), CISN + 51, isn + 1, 0x11, 800, tsv, NULL, 0, 502);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.flags, 0x10);
	cr_expect_eq(v.ack, CISN + 1);
	cr_expect_eq(get_flow(&f), 0);
	cr_expect_eq(XSTAT(FIN_UNBOUND), 0);
	fx_close();
}

Test(xdp, paws_and_rejected_segments_keep_ts_recent)
{
	uint8_t b[256];
	struct t_tcp_view v;
	struct cb_flow f;
	uint32_t tsv, isn;
	size_t n;

	fx_open(0, 65536);
	isn = handshake(&tsv);         /* ts_recent = 778 */
	/* a corrupted segment with a newer TSval: rejected, ts_recent stays */
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 5000, tsv, "abcd", 4, 502);
	b[n - 1] ^= 1;
	cr_expect_eq(run(b, n), XDP_DROP);
	cr_assert_eq(get_flow(&f), 0);
	cr_expect_eq(f.ts_recent, 778);
	/* an older TSval than ts_recent: PAWS, dup ACK, nothing queued */
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 700, tsv, "abcd", 4, 502);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.ack, CISN + 1);
	cr_expect_eq(drain(), 0);
	cr_expect_eq(XSTAT(DATA_PAWS), 1);
	/* the genuine segment is then accepted and ts_recent follows it */
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 801, tsv, "abcd", 4, 502);
	cr_assert_eq(run(b, n), XDP_TX);
	cr_assert_eq(get_flow(&f), 0);
	cr_expect_eq(f.ts_recent, 801);
	cr_expect_eq(f.rcv_nxt, CISN + 5);
	fx_close();
}

Test(xdp, coalesced_segment_beyond_mss_is_accepted)
{
	static uint8_t b[4096], data[3000];
	const struct cb_event *ev;
	struct t_tcp_view v;
	uint32_t tsv, isn;
	size_t n, i;

	fx_open(0, 65536);
	isn = handshake(&tsv);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	/* 3000 bytes > MSS 1460: what GRO hands to generic XDP or TC, with a
	 * partial checksum; it is not checked again */
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 800, tsv, data, sizeof(data), 502);
	b[50] ^= 0xff;           /* checksum field no longer complete */
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.ack, CISN + 1 + sizeof(data));
	i = (size_t)drain();
	cr_assert_eq(i, 1, "records: %zu", i);
	ev = (const struct cb_event *)F.rec[0];
	cr_expect_eq(ev->len, sizeof(data));
	fx_close();
}

Test(xdp, held_flow_outlives_its_service)
{
	uint8_t b[256];
	struct t_tcp_view v;
	struct cb_service_key k = { .vip_be = htonl(VIP), .port_be = htons(VPORT) };
	uint32_t tsv, isn;
	size_t n;

	fx_open(0, 65536);
	isn = handshake(&tsv);
	cr_assert_eq(bpf_map_delete_elem(F.svc_fd, &k), 0);
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 800, tsv, "still mine", 10, 502);
	cr_assert_eq(run(b, n), XDP_TX, "the flow keeps its owner");
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.ack, CISN + 11);
	cr_expect_eq(drain(), 1);
	/* but a new SYN to the removed service is no longer answered */
	n = syn(b, 1, 1, 7, NULL);
	b[14 + 20 + 1] ^= 1;      /* another client port: no flow */
	cr_expect_eq(run(b, n), XDP_PASS);
	fx_close();
}

Test(xdp, zero_window_ack_recorded)
{
	uint8_t b[256];
	struct cb_flow f;
	uint32_t tsv, isn;
	size_t n;

	fx_open(0, 65536);
	isn = handshake(&tsv);
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x10, 800, tsv, NULL, 0, 0);
	cr_expect_eq(run(b, n), XDP_DROP);
	cr_assert_eq(get_flow(&f), 0);
	cr_expect_eq(f.snd_wnd, 0);
	cr_expect_eq(XSTAT(PURE_ACK), 1);
	fx_close();
}

Test(xdp, local_and_frozen_states)
{
	uint8_t b[256];
	struct cb_flow f;
	struct cb_flow_key k = flow_key();
	uint32_t tsv, isn;
	size_t n;
	int fd;

	fx_open(0, 65536);
	isn = handshake(&tsv);
	fd = F.flows_fd;
	cr_assert_eq(get_flow(&f), 0);
	f.state = CB_FLOW_LOCAL;
	bpf_map_update_elem(fd, &k, &f, BPF_EXIST);
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 800, tsv, "hi", 2, 502);
	cr_expect_eq(run(b, n), XDP_PASS);
	cr_expect_eq(memcmp(F.out, b, n), 0, "passed untouched");
	f.state = CB_FLOW_FROZEN;
	bpf_map_update_elem(fd, &k, &f, BPF_EXIST);
	cr_expect_eq(run(b, n), XDP_DROP);
	cr_expect_eq(XSTAT(PASS_LOCAL), 1);
	cr_expect_eq(XSTAT(DROP_FROZEN), 1);
	fx_close();
}

Test(xdp, syn_on_closed_local_socket_starts_a_new_flow)
{
	uint8_t b[256];
	struct t_tcp_view v;
	struct cb_flow f;
	struct cb_flow_key k = flow_key();
	uint32_t tsv;
	size_t n;

	fx_open(0, 65536);
	handshake(&tsv);
	cr_assert_eq(get_flow(&f), 0);
	f.state = CB_FLOW_LOCAL;        /* its socket is gone (no kernel socket here) */
	bpf_map_update_elem(F.flows_fd, &k, &f, BPF_EXIST);
	n = syn(b, 1, 1, 7, NULL);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.flags, 0x12, "a SYN-ACK for the new connection");
	cr_expect_neq(get_flow(&f), 0, "the stale LOCAL entry is gone");
	cr_expect_eq(XSTAT(LOCAL_REUSED), 1);
	fx_close();
}

Test(xdp, not_a_service_passes_untouched)
{
	uint8_t b[256], o[40];
	struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT, .dport = 81,
				.seq = CISN, .flags = 0x02, .window = 8192, .opts = o };
	size_t n;

	fx_open(0, 65536);
	s.optlen = t_syn_opts(o, 1460, 1, 1, 5, 7);
	n = t_build(b, sizeof(b), &s);
	cr_expect_eq(run(b, n), XDP_PASS);
	cr_expect_eq(F.out_len, n);
	cr_expect_eq(memcmp(F.out, b, n), 0);
	s.dport = VPORT;
	s.daddr = VIP + 1;
	n = t_build(b, sizeof(b), &s);
	cr_expect_eq(run(b, n), XDP_PASS);
	cr_expect_eq(XSTAT(PASS_NOT_SERVICE), 2);
	fx_close();
}

Test(xdp, malformed_and_odd_packets)
{
	uint8_t b[256], o[40];
	struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT, .dport = VPORT,
				.seq = CISN, .flags = 0x02, .window = 8192, .opts = o };
	size_t n, cut;

	fx_open(0, 65536);
	s.optlen = t_syn_opts(o, 1460, 1, 1, 5, 7);
	n = t_build(b, sizeof(b), &s);
	/* truncated at every length: eth, ip, tcp header, options */
	for (cut = 14; cut < n; cut += 3)
		cr_expect_eq(run(b, cut), XDP_PASS, "truncated to %zu", cut);
	cr_expect_gt(XSTAT(PASS_MALFORMED), 0);

	/* option length 0, and an option running past the header: dropped */
	o[0] = 2; o[1] = 0;
	n = t_build(b, sizeof(b), &s);
	cr_expect_eq(run(b, n), XDP_DROP);
	o[0] = 1; o[1] = 1; o[2] = 1; o[3] = 8; o[4] = 30;
	s.optlen = 8;
	n = t_build(b, sizeof(b), &s);
	cr_expect_eq(run(b, n), XDP_DROP);
	cr_expect_eq(XSTAT(DROP_BAD_OPTIONS), 2);

	/* a fragment is never ours */
	s.optlen = t_syn_opts(o, 1460, 1, 1, 5, 7);
	s.frag_off = 0x2000;
	n = t_build(b, sizeof(b), &s);
	cr_expect_eq(run(b, n), XDP_PASS);
	cr_expect_eq(XSTAT(PASS_FRAGMENT), 1);

	/* not IPv4 (ARP), not TCP (UDP) */
	memset(b, 0, 64);
	b[12] = 0x08; b[13] = 0x06;
	cr_expect_eq(run(b, 64), XDP_PASS);
	s.frag_off = 0;
	n = t_build(b, sizeof(b), &s);
	b[14 + 9] = 17;
	cr_expect_eq(run(b, n), XDP_PASS);
	cr_expect_eq(XSTAT(PASS_NOT_IP), 1);
	cr_expect_eq(XSTAT(PASS_NOT_TCP), 1);
	/* no segment flags (not SYN, not ACK) and no flow: reset (test_bpf_noflow.c) */
	s.flags = 0;
	n = t_build(b, sizeof(b), &s);
	cr_expect_eq(run(b, n), XDP_TX);
	cr_expect_eq(XSTAT(RST_NO_FLOW), 1);
	cr_expect_eq(drain(), 0);
	fx_close();
}

/* ---- TC: the same core at the TC hook, and the egress RST guard ----- */

Test(tc, ingress_answers_syn_like_xdp)
{
	uint8_t b[256];
	struct t_tcp_view v;
	size_t n;

	fx_open_hook(FX_TC, 0, 65536);
	n = syn(b, 1, 1, 7, NULL);
	cr_expect_eq(run(b, n), TC_ACT_REDIRECT);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cr_expect_eq(v.flags, 0x12);
	cr_expect_eq(v.ack, CISN + 1);
	cr_expect_eq(v.mss, 1460);
	cr_expect_eq(v.wscale, 7);
	cr_expect_eq(v.tsecr, 777);
	cr_expect_eq(t_verify_csums(F.out, F.out_len), 0);
	/* not a service: TC_ACT_OK */
	n = syn(b, 1, 1, 7, NULL);
	b[14 + 20 + 3] = 81;
	cr_expect_eq(run(b, n), TC_ACT_OK);
	fx_close();
}

Test(tc, ingress_data_path_matches_xdp)
{
	uint8_t b[512];
	struct t_tcp_view v;
	const struct cb_event *ev;
	uint32_t isn;
	size_t n;

	fx_open_hook(FX_TC, 0, 65536);
	n = syn(b, 1, 1, 7, NULL);
	cr_assert_eq(run(b, n), TC_ACT_REDIRECT);
	t_view(F.out, F.out_len, &v);
	isn = v.seq;
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x10, 778, v.tsval, NULL, 0, 502);
	cr_assert_eq(run(b, n), TC_ACT_SHOT, "handshake ACK consumed");
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 800, v.tsval, "GET /tc HTTP/1.1\r\n\r\n", 20, 502);
	cr_assert_eq(run(b, n), TC_ACT_REDIRECT);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.flags, 0x10);
	cr_expect_eq(v.ack, CISN + 21);
	cr_expect_eq(t_verify_csums(F.out, F.out_len), 0);
	cr_assert_eq(drain(), 2, "open + data");
	ev = (const struct cb_event *)F.rec[1];
	cr_expect_eq(ev->type, CB_EV_DATA);
	cr_expect_eq(ev->len, 20);
	cr_expect_eq(memcmp(ev + 1, "GET /tc HTTP/1.1\r\n\r\n", 20), 0);
	fx_close();
}

Test(tc, egress_blocks_kernel_rst_for_held_flow)
{
	struct cb_flow f = { .state = CB_FLOW_UNBOUND };
	struct cb_flow_key k = flow_key();
	struct t_tcp_spec s = { .saddr = VIP, .daddr = CLIENT, .sport = VPORT, .dport = CPORT,
				.seq = 1, .ack = 2, .flags = 0x14 };
	uint8_t b[256];
	size_t n;
	int eg;

	fx_open_hook(FX_TC, 0, 65536);
	eg = bpf_program__fd(F.tc->progs.cb_tc_egress);
	n = t_build(b, sizeof(b), &s);
	cr_expect_eq(run_prog(eg, b, n), TC_ACT_OK, "no flow: the kernel's RST goes out");
	cr_assert_eq(bpf_map_update_elem(F.flows_fd, &k, &f, BPF_ANY), 0);
	cr_expect_eq(run_prog(eg, b, n), TC_ACT_SHOT);
	f.state = CB_FLOW_LOCAL;
	bpf_map_update_elem(F.flows_fd, &k, &f, BPF_ANY);
	cr_expect_eq(run_prog(eg, b, n), TC_ACT_OK, "a local socket may reset its flow");
	s.flags = 0x10;
	f.state = CB_FLOW_UNBOUND;
	bpf_map_update_elem(F.flows_fd, &k, &f, BPF_ANY);
	n = t_build(b, sizeof(b), &s);
	cr_expect_eq(run_prog(eg, b, n), TC_ACT_OK, "only RSTs are filtered");
	cr_expect_eq(XSTAT(EGRESS_RST_BLOCKED), 1);
	fx_close();
}

/* ---- replies that grow: at the head, the tail only when the head is full -- */

/*
 * Run the XDP program with `meta` bytes of metadata in front of the frame.
 * Metadata comes out of the 256 bytes of headroom bpf_prog_test_run gives,
 * so it controls the room left at the head (the kernel keeps 40 of them for
 * its xdp_frame); the tail always has room there.  F.out gets the frame
 * without the metadata, which must come back unchanged.
 */
static int run_meta(const uint8_t *in, size_t len, uint32_t meta)
{
	uint8_t buf[512], out[4096];
	struct xdp_md ctx = { .data = meta, .data_end = meta + (uint32_t)len };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = meta + (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .ctx_out = &ctx, .ctx_size_out = sizeof(ctx),
		    .repeat = 1);
	uint32_t i;

	cr_assert_leq(meta + len, sizeof(buf));
	memset(buf, 0x5a, meta);
	memcpy(buf + meta, in, len);
	cr_assert_eq(bpf_prog_test_run_opts(F.prog, &o), 0, "test_run: %s", strerror(errno));
	cr_assert_eq(ctx.data, meta);
	for (i = 0; i < meta; i++)
		cr_assert_eq(out[i], 0x5a, "metadata byte %u", i);
	F.out_len = ctx.data_end - ctx.data;
	memcpy(F.out, out + meta, F.out_len);
	return (int)o.retval;
}

/*
 * Native XDP on veth gives a small frame no tailroom: a 54-byte RST has to
 * become a 66-byte challenge ACK, a 54-byte SYN a 58-byte SYN-ACK.  Both grow
 * at the head; with the head full (216 bytes of metadata leave only the
 * kernel's 40), at the tail, counted.
 */
static const struct grow_row {
	const char *name;
	int rst;                /* 1: bare RST in the window (else: SYN, no options) */
	uint32_t meta;
	size_t out_len;
	uint64_t grown_at_tail;
} grow_rows[] = {
	{ "RST -> challenge ACK, head",          1, 0,   66, 0 },
	{ "SYN -> SYN-ACK, head",                0, 0,   58, 0 },
	{ "SYN -> SYN-ACK, head just fits",      0, 212, 58, 0 },
	{ "SYN -> SYN-ACK, head full: tail",     0, 216, 58, 1 },
	{ "RST -> challenge ACK, head too small", 1, 208, 66, 1 },
};

Test(xdp, replies_grow_at_the_head)
{
	size_t i;

	for (i = 0; i < sizeof(grow_rows) / sizeof(grow_rows[0]); i++) {
		const struct grow_row *r = &grow_rows[i];
		struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT,
					.dport = VPORT, .seq = CISN, .flags = 0x02, .window = 8192 };
		uint8_t b[256];
		struct t_tcp_view v;
		uint32_t tsv, isn = 0;
		size_t n;

		fx_open(0, 65536);
		if (r->rst) {
			isn = handshake(&tsv);
			s.seq = CISN + 100;
			s.ack = isn + 1;
			s.flags = 0x14;
		}
		n = t_build(b, sizeof(b), &s);
		cr_assert_eq(n, 54);
		cr_assert_eq(run_meta(b, n, r->meta), XDP_TX, "%s", r->name);
		cr_expect_eq(F.out_len, r->out_len, "%s: %zu bytes", r->name, F.out_len);
		cr_expect_eq(t_verify_csums(F.out, F.out_len), 0, "%s: checksums", r->name);
		cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
		cr_expect_eq(memcmp(v.dmac, T_MAC_CLIENT, 6), 0, "%s", r->name);
		cr_expect_eq(v.daddr, CLIENT, "%s", r->name);
		cr_expect_eq(v.dport, CPORT, "%s", r->name);
		if (r->rst) {
			cr_expect_eq(v.flags, 0x10, "%s", r->name);
			cr_expect_eq(v.seq, isn + 1, "%s", r->name);
			cr_expect_eq(v.ack, CISN + 1, "%s", r->name);
			cr_expect_eq(v.ts, 1, "%s", r->name);
			cr_expect_eq(XSTAT(CHALLENGE_ACK), 1, "%s", r->name);
		} else {
			cr_expect_eq(v.flags, 0x12, "%s", r->name);
			cr_expect_eq(v.ack, CISN + 1, "%s", r->name);
			cr_expect_eq(v.mss, 1460, "%s", r->name);
		}
		cr_expect_eq(XSTAT(REPLY_GROWN_AT_TAIL), r->grown_at_tail, "%s", r->name);
		cr_expect_eq(XSTAT(DROP_REPLY_FAIL), 0, "%s", r->name);
		fx_close();
	}
}
