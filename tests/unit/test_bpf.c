// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The BPF programs run on crafted packets through bpf_prog_test_run_opts()
 * (fixture: test_bpf.h), one test per verdict.  Here: the handshake (SYN,
 * cookie ACK), flow states, packets that are not ours.  Elsewhere: the
 * unbound data path (test_bpf_unbound.c), segments of no flow
 * (test_bpf_noflow.c), the TC hook (test_bpf_tc.c), replies that grow
 * (test_bpf_reply.c).  Needs root (CAP_BPF); skipped otherwise.
 */
#include <sched.h>
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

FX_TEST2(xdp, syn_gets_exact_synack_and_no_state)
{
	uint8_t b[256], in_copy[256];
	struct t_tcp_view v;
	struct cb_cookie_info ci;
	struct cb_flow f;
	union cb_addr ca = fx_addr(CLIENT), va = fx_addr(VIP);
	size_t n;

	fx_open(0, 65536);
	n = syn(b, 1, 1, 7, NULL);
	memcpy(in_copy, b, n);
	cr_assert_eq(run(b, n), XDP_TX);
	fx_expect_reply("SYN-ACK", &v);
	cr_expect_eq(v.flags, 0x12, "flags %#x", v.flags);
	cr_expect_eq(v.ack, CISN + 1);
	cr_expect_eq(v.doff, 10);
	cr_expect_eq(v.paylen, 0);
	cr_expect_eq(v.window, 65535);
	cr_expect_eq(v.mss, FX_MSS);
	cr_expect_eq(v.wscale, 7);
	cr_expect_eq(v.sack_ok, 1);
	cr_expect_eq(v.ts, 1);
	cr_expect_eq(v.tsecr, 777);
	cr_expect_eq(F.out_len, fx_l4() + 40);
	/* the ISN is a cookie that validates with the map's key and carries the options */
	cr_expect_eq(cb_cookie_check(KEY0, v.seq, &ca, &va, htons(CPORT),
				     htons(VPORT), CISN, tai_counter(), &ci), 0);
	cr_expect_eq(ci.mss, 1460);
	cr_expect_eq(ci.wscale, 7);
	cr_expect_eq(ci.sack, 1);
	cr_expect_neq(get_flow(&f), 0, "a SYN must not create state");
	cr_expect_eq(XSTAT(SYN_COOKIE_SENT), 1);
	cr_expect_eq(drain(), 0);
	fx_close();
}

FX_TEST2(xdp, syn_without_options_gets_mss_only)
{
	uint8_t b[256];
	struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT, .dport = VPORT,
				.seq = CISN, .flags = 0x02, .window = 8192 };
	struct t_tcp_view v;
	struct cb_cookie_info ci;
	union cb_addr ca = fx_addr(CLIENT), va = fx_addr(VIP);
	size_t n;

	fx_open(0, 65536);
	n = fx_build(b, sizeof(b), &s);
	cr_assert_eq(run(b, n), XDP_TX);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cr_expect_eq(v.doff, 6);
	cr_expect_eq(v.mss, FX_MSS);
	cr_expect_eq(v.wscale, -1);
	cr_expect_eq(v.sack_ok, 0);
	cr_expect_eq(v.ts, 0);
	cr_expect_eq(t_verify_csums(F.out, F.out_len), 0);
	cr_expect_eq(cb_cookie_check(KEY0, v.seq, &ca, &va, htons(CPORT),
				     htons(VPORT), CISN, tai_counter(), &ci), 0);
	cr_expect_eq(ci.wscale, CB_WSCALE_NONE);
	cr_expect_eq(ci.mss, 536);
	fx_close();
}

/*
 * SYN options the program reads without its option walk (Linux's layout,
 * parse.h's cb_parse_tcp_opts_usual) and layouts it walks: what the cookie
 * carries and the SYN-ACK echoes is the same for the same options, whatever
 * path read them; a layout that only looks usual (a byte off) is walked,
 * and a malformed one is dropped.
 */
FX_TEST2(xdp, syn_options_read_alike_on_every_layout)
{
	static const struct {
		const char *name;
		uint8_t opts[40];
		size_t len;
		int mss, wscale, sack, ts;      /* -1 wscale: none; mss 0: dropped */
	} rows[] = {
		{ "Linux (read without the walk)",
		  { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x03, 0x09, 0, 0, 0, 0, 1, 3, 3, 7 }, 20,
		  1460, 7, 1, 1 },
		{ "Linux, shift 15 (RFC 7323: 14)",
		  { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x03, 0x09, 0, 0, 0, 0, 1, 3, 3, 15 }, 20,
		  1460, 14, 1, 1 },
		{ "macOS (walked)",
		  { 2, 4, 0x05, 0xb4, 1, 3, 3, 6, 1, 1, 8, 10, 0, 0, 0x03, 0x09, 0, 0, 0, 0, 4, 2, 0, 0 },
		  24, 1460, 6, 1, 1 },
		{ "Windows (walked)",
		  { 2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2 }, 12, 1460, 8, 1, 0 },
		{ "Linux's length, NOP NOP EOL for WS (walked)",
		  { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x03, 0x09, 0, 0, 0, 0, 1, 1, 0, 0 }, 20,
		  1460, -1, 1, 1 },
		{ "Linux's length, WS of length 2 (malformed)",
		  { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x03, 0x09, 0, 0, 0, 0, 1, 3, 2, 7 }, 20,
		  0, 0, 0, 0 },
		{ "12 bytes, NOP NOP TS (walked on a SYN too: the usual ACK layout)",
		  { 1, 1, 8, 10, 0, 0, 0x03, 0x09, 0, 0, 0, 0 }, 12, 536, -1, 0, 1 },
		{ "12 bytes, NOP NOP TS of length 9 (malformed)",
		  { 1, 1, 8, 9, 0, 0, 0x03, 0x09, 0, 0, 0, 0 }, 12, 0, 0, 0, 0 },
	};
	union cb_addr ca = fx_addr(CLIENT), va = fx_addr(VIP);
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT, .dport = VPORT,
					.seq = CISN, .flags = 0x02, .window = 64240,
					.opts = rows[i].opts, .optlen = rows[i].len };
		struct cb_cookie_info ci;
		struct t_tcp_view v;
		uint8_t b[256];
		size_t n;

		fx_open(0, 65536);
		n = fx_build(b, sizeof(b), &s);
		if (!rows[i].mss) {
			cr_expect_eq(run(b, n), XDP_DROP, "%s", rows[i].name);
			cr_expect_eq(XSTAT(DROP_BAD_OPTIONS), 1, "%s", rows[i].name);
			fx_close();
			continue;
		}
		cr_assert_eq(run(b, n), XDP_TX, "%s", rows[i].name);
		cr_assert_eq(t_view(F.out, F.out_len, &v), 0, "%s", rows[i].name);
		cr_expect_eq(t_verify_csums(F.out, F.out_len), 0, "%s", rows[i].name);
		cr_expect_eq(v.sack_ok, rows[i].sack, "%s: SACK", rows[i].name);
		cr_expect_eq(v.ts, rows[i].ts, "%s: TS", rows[i].name);
		if (rows[i].ts)
			cr_expect_eq(v.tsecr, 0x0309u, "%s: TSecr echoes TSval", rows[i].name);
		cr_expect_eq(v.wscale, rows[i].wscale < 0 ? -1 : 7, "%s: our shift only to a client's",
			     rows[i].name);
		cr_assert_eq(cb_cookie_check(KEY0, v.seq, &ca, &va, htons(CPORT), htons(VPORT), CISN,
					     tai_counter(), &ci), 0, "%s", rows[i].name);
		cr_expect_eq(ci.mss, rows[i].mss, "%s: MSS in the cookie", rows[i].name);
		cr_expect_eq(ci.wscale, rows[i].wscale < 0 ? CB_WSCALE_NONE : rows[i].wscale,
			     "%s: shift in the cookie", rows[i].name);
		cr_expect_eq(ci.sack, rows[i].sack, "%s: SACK in the cookie", rows[i].name);
		fx_close();
	}
}

FX_TEST2(xdp, sack_and_wscale_without_timestamps)
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

		n = fx_build(b, sizeof(b), &s);
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

FX_TEST2(xdp, syn_with_data_acks_only_the_syn)
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

FX_TEST2(xdp, valid_ack_creates_flow_with_state)
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
	cr_expect_eq(cb_flow_isn(&f), v.seq);
	cr_expect_eq(f.rcv_nxt, CISN + 1);
	cr_expect_eq(f.snd_nxt, v.seq + 1);
	cr_expect_eq(f.mss, FX_MSS);
	cr_expect_eq(f.snd_wscale, 7);
	cr_expect_eq(f.rcv_wscale, 7);
	cr_expect_eq(f.opts, CB_OPT_SACK | CB_OPT_TS | CB_OPT_WSCALE);
	cr_expect_eq(f.ts_recent, 778);
	cr_expect_eq(f.snd_wnd, 502u << 7);
	cr_expect_eq(f.rcv_wnd, 65536);
	cr_expect_eq(f.bytes_in, 0);
	cr_expect_eq(f.created_ms & 1, 1, "odd: never 0, the mark of a flow the program made");
	/* our TSval = ms clock + ts_offset: the offset reproduces the SYN-ACK's */
	{
		struct timespec ts;
		uint32_t now_ms;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now_ms = (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
		cr_expect_lt((uint32_t)(now_ms + f.ts_offset - v.tsval), 1000u);
	}
	/* the offset is the keyed hash of the cookie: per connection, secret */
	{
		uint32_t m[2] = { cb_flow_isn(&f), 0x74737473 };

		cr_expect_eq(f.ts_offset, cb_halfsiphash(KEY0, m, 2));
	}
	cr_expect_eq(XSTAT(ACK_COOKIE_OK), 1);
	{
		uint32_t slot = CB_SYN_HINT_SLOT(cb_flow_isn(&f));
		struct cb_syn_hint hint;

		cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(F.xdp->maps.cb_syn_isn), &slot, &hint), 0);
		cr_expect_neq(hint.cookie, cb_flow_isn(&f), "the SYN's ISN hint is spent when its flow is made");
		cr_expect_eq(hint.isn, CISN, "the slot held it");
	}
	cr_assert_eq(drain(), 1);
	ev = (const struct cb_event *)F.rec[0];
	cr_expect_eq(ev->type, CB_EV_OPEN);
	fx_close();
}

FX_TEST2(xdp, bad_cookie_creates_nothing)
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
	/* an ACK for a different client ISN fails too, once its SYN's ISN is
	 * not known (the hint evicted) */
	{
		uint32_t slot = CB_SYN_HINT_SLOT(v.seq);
		struct cb_syn_hint none = { 0 };

		cr_assert_eq(bpf_map_update_elem(bpf_map__fd(F.xdp->maps.cb_syn_isn), &slot, &none,
						 BPF_ANY), 0);
	}
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

/*
 * The handshake ACK and the first data segment were both lost: the first
 * segment that arrives is further on, and seq - 1 is not the ISN the cookie
 * was made for.  The ISN its SYN carried (cb_syn_isn) is tried: the flow is
 * made at ISN + 1, nothing of the segment is kept, and the dup ACK at ISN + 1
 * brings the lost bytes back.  Without that hint, or with a hint the cookie
 * does not match, it is a segment of no flow, as before.
 */
FX_TEST2(xdp, late_first_segment_finds_its_syn_isn)
{
	static const char first[] = "GET / HTTP/1.1\r\n", rest[] = "Host: x\r\n\r\n";
	uint8_t b[256];
	struct t_tcp_view v, a;
	struct cb_flow f;
	const struct cb_event *ev;
	uint32_t late = CISN + 1 + sizeof(first) - 1;
	size_t n;

	fx_open(0, 65536);
	n = syn(b, 1, 1, 7, NULL);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	n = seg(b, sizeof(b), late, v.seq + 1, 0x18, 780, v.tsval, rest, sizeof(rest) - 1, 502);
	cr_assert_eq(run(b, n), XDP_TX, "dup ACK at the client ISN + 1");
	cr_assert_eq(t_view(F.out, F.out_len, &a), 0);
	cr_expect_eq(a.flags, 0x10);
	cr_expect_eq(a.ack, CISN + 1);
	cr_expect_eq(a.seq, v.seq + 1);
	cr_assert_eq(get_flow(&f), 0);
	cr_expect_eq(f.client_isn, CISN);
	cr_expect_eq(f.rcv_nxt, CISN + 1);
	cr_expect_eq(f.bytes_in, 0);
	cr_expect_eq(XSTAT(ACK_COOKIE_OK), 1);
	cr_expect_eq(XSTAT(ACK_COOKIE_LATE), 1);
	cr_expect_eq(XSTAT(DATA_OUT_OF_ORDER), 1);
	cr_expect_eq(XSTAT(ACK_COOKIE_BAD), 0);
	cr_assert_eq(drain(), 1, "OPEN only: no byte of the late segment");
	ev = (const struct cb_event *)F.rec[0];
	cr_expect_eq(ev->type, CB_EV_OPEN);
	cr_expect_eq(ev->seq, CISN + 1);
	/* the retransmitted first segment, then the second: the stream in order */
	n = seg(b, sizeof(b), CISN + 1, v.seq + 1, 0x18, 781, v.tsval, first, sizeof(first) - 1,
		502);
	cr_assert_eq(run(b, n), XDP_TX);
	n = seg(b, sizeof(b), late, v.seq + 1, 0x18, 781, v.tsval, rest, sizeof(rest) - 1, 502);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &a);
	cr_expect_eq(a.ack, late + sizeof(rest) - 1);
	cr_assert_eq(drain(), 2);
	cr_expect_eq(((const struct cb_event *)F.rec[0])->seq, CISN + 1);
	cr_expect_eq(((const struct cb_event *)F.rec[1])->seq, late);
	fx_close();

	/* a pure ACK at the client's position (its SYN-ACK came twice) */
	fx_open(0, 65536);
	n = syn(b, 1, 1, 7, NULL);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	n = seg(b, sizeof(b), CISN + 1 + 3000, v.seq + 1, 0x10, 780, v.tsval, NULL, 0, 502);
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &a);
	cr_expect_eq(a.ack, CISN + 1);
	cr_expect_eq(XSTAT(ACK_COOKIE_LATE), 1);
	fx_close();

	/*
	 * No flow, an RST as to a segment of no flow, when the hint is not
	 * believed: a later SYN on the tuple (another ISN) replaced it; it is
	 * older than CB_SYN_HINT_MS; the segment lies past the window our
	 * SYN-ACK offered (65535: no ACK of ours can have opened more).
	 */
	{
		static const struct {
			const char *why; uint32_t isn; int age_ms; uint32_t seq; uint32_t tag_xor;
		} rows[] = {
			{ "another ISN", CISN + 777, 0, CISN + 1 + sizeof(first) - 1, 0 },
			{ "a stale hint", CISN, CB_SYN_HINT_MS + 500, CISN + 1 + sizeof(first) - 1, 0 },
			{ "past the offered window", CISN, 0, CISN + 1 + 65536, 0 },
			/* a later SYN whose cookie shares the slot took it over */
			{ "another cookie's hint in its slot", CISN, 0, CISN + 1 + sizeof(first) - 1, 1 },
		};
		size_t i;

		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			struct cb_syn_hint h = { .isn = rows[i].isn };
			struct timespec ts;
			uint32_t slot;

			fx_open(0, 65536);
			n = syn(b, 1, 1, 7, NULL);
			cr_assert_eq(run(b, n), XDP_TX);
			t_view(F.out, F.out_len, &v);
			clock_gettime(CLOCK_MONOTONIC, &ts);    /* bpf_ktime_get_ns()'s clock */
			h.at_ms = (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) -
				  (uint32_t)rows[i].age_ms;
			h.cookie = v.seq ^ rows[i].tag_xor;
			slot = CB_SYN_HINT_SLOT(v.seq);
			cr_assert_eq(bpf_map_update_elem(bpf_map__fd(F.xdp->maps.cb_syn_isn), &slot, &h,
							 BPF_ANY), 0);
			n = seg(b, sizeof(b), rows[i].seq, v.seq + 1, 0x18, 780, v.tsval, rest,
				sizeof(rest) - 1, 502);
			cr_assert_eq(run(b, n), XDP_TX, "%s", rows[i].why);
			t_view(F.out, F.out_len, &a);
			cr_expect_eq(a.flags, 0x04, "%s: an RST, as to a segment of no flow", rows[i].why);
			cr_expect_neq(get_flow(&f), 0, "%s", rows[i].why);
			cr_expect_eq(XSTAT(ACK_COOKIE_BAD), 1, "%s", rows[i].why);
			cr_expect_eq(XSTAT(ACK_COOKIE_LATE), 0, "%s", rows[i].why);
			fx_close();
		}
	}
}

FX_TEST2(xdp, old_secret_slot_still_validates_after_rotation)
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

FX_TEST2(xdp, local_and_frozen_states)
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

FX_TEST2(xdp, syn_on_closed_local_socket_starts_a_new_flow)
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

FX_TEST2(xdp, not_a_service_passes_untouched)
{
	uint8_t b[256], o[40];
	struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT, .dport = 81,
				.seq = CISN, .flags = 0x02, .window = 8192, .opts = o };
	size_t n;

	fx_open(0, 65536);
	s.optlen = t_syn_opts(o, 1460, 1, 1, 5, 7);
	n = fx_build(b, sizeof(b), &s);
	cr_expect_eq(run(b, n), XDP_PASS);
	cr_expect_eq(F.out_len, n);
	cr_expect_eq(memcmp(F.out, b, n), 0);
	s.dport = VPORT;
	s.daddr = VIP + 1;
	n = fx_build(b, sizeof(b), &s);
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

void fx_snapshot(const enum cb_stat *w, size_t n, uint64_t *v)
{
	size_t i;

	for (i = 0; i < n; i++)
		v[i] = fx_stat(F.stats_fd, w[i]);
}

void fx_expect_counted(const char *name, const enum cb_stat *w, size_t n, const uint64_t *before,
		       const enum cb_stat *want)
{
	uint64_t now[CB_STAT_MAX];
	size_t i, j;

	cr_assert_leq(n, CB_STAT_MAX);
	fx_snapshot(w, n, now);
	for (i = 0; i < n; i++) {
		uint64_t d = 0;

		for (j = 0; want[j] != CB_STAT_MAX; j++)
			if (want[j] == w[i])
				d = 1;
		cr_expect_eq(now[i] - before[i], d, "%s: counter %d moved by %llu, not %llu", name,
			     w[i], (unsigned long long)(now[i] - before[i]), (unsigned long long)d);
	}
}

void fx_expect_reply(const char *name, struct t_tcp_view *v)
{
	cr_assert_eq(t_view(F.out, F.out_len, v), 0, "%s: a TCP frame", name);
	cr_expect_eq(t_verify_csums(F.out, F.out_len), 0, "%s: checksums", name);
	cr_expect_eq(memcmp(v->dmac, T_MAC_CLIENT, 6), 0, "%s: h_dest", name);
	cr_expect_eq(memcmp(v->smac, T_MAC_DIR, 6), 0, "%s: h_source", name);
	cr_expect_eq(v->v6, FX_V6, "%s: family", name);
	if (FX_V6) {
		cr_expect_eq(F.out[12], 0x86, "%s: ethertype", name);
		cr_expect_eq(F.out[13], 0xdd, "%s: ethertype", name);
		cr_expect_eq(v->ver_tc_flow, 0x60000000u, "%s: version 6, class and label 0: %#x",
			     name, v->ver_tc_flow);
		cr_expect_eq(v->plen, F.out_len - T_ETH_LEN - 40, "%s: payload length %u", name,
			     v->plen);
		cr_expect_eq(v->nexthdr, 6, "%s: next header %u", name, v->nexthdr);
		cr_expect_eq(v->l3len, 40, "%s: no extension header", name);
		cr_expect_eq(memcmp(v->saddr6, VIP6, 16), 0, "%s: from VIP6", name);
		cr_expect_eq(memcmp(v->daddr6, CLIENT6, 16), 0, "%s: to CLIENT6", name);
	} else {
		cr_expect_eq(v->ihl, 5, "%s: no IP options", name);
		cr_expect_eq(v->tot_len, F.out_len - T_ETH_LEN, "%s: total length", name);
		cr_expect_eq(v->saddr, VIP, "%s", name);
		cr_expect_eq(v->daddr, CLIENT, "%s", name);
	}
	cr_expect_eq(v->ttl, 64, "%s: TTL / hop limit %u", name, v->ttl);
	cr_expect_eq(v->sport, VPORT, "%s", name);
	cr_expect_eq(v->dport, CPORT, "%s", name);
}

void fx_expect_rst(const char *name, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct t_tcp_view v;

	fx_expect_reply(name, &v);
	cr_expect_eq(F.out_len, fx_l4() + 20, "%s: %zu bytes", name, F.out_len);
	cr_expect_eq(v.flags, flags, "%s: flags %#x", name, v.flags);
	cr_expect_eq(v.seq, seq, "%s: seq %u", name, v.seq);
	cr_expect_eq(v.ack, ack, "%s: ack %u", name, v.ack);
	cr_expect_eq(v.window, 0, "%s", name);
	cr_expect_eq(v.optlen, 0, "%s", name);
	cr_expect_eq(v.paylen, 0, "%s", name);
}

/*
 * Under a flood the SYN hint is not written past CB_SYN_HINT_BUDGET a CPU
 * and window (each write a cache miss on a random slot): such a SYN is
 * still answered, counted syn_hint_skipped, leaves its slot as it was, and
 * its cookie alone still makes the flow.
 */
FX_TEST2(xdp, syn_hints_within_a_budget)
{
	uint8_t b[256], o[40];
	struct t_tcp_view v;
	struct cb_syn_hint hint;
	cpu_set_t one;
	int i, checked = 0;

	/* the budget is per CPU: every run on this one */
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
	cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0);
	fx_open(0, 65536);
	for (i = 0; i < 3 * CB_SYN_HINT_BUDGET && !checked; i++) {
		struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = (uint16_t)(1024 + i),
					.dport = VPORT, .seq = CISN, .flags = 0x02, .window = 64240,
					.opts = o };
		uint64_t skipped = XSTAT(SYN_HINT_SKIPPED);
		uint32_t slot;

		s.optlen = t_syn_opts(o, 1460, 1, 1, 777, 7);
		cr_assert_eq(run(b, fx_build(b, sizeof(b), &s)), XDP_TX, "SYN %d answered", i);
		if (XSTAT(SYN_HINT_SKIPPED) == skipped)
			continue;       /* within the budget (or a new window began) */
		cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
		slot = CB_SYN_HINT_SLOT(v.seq);
		cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(F.xdp->maps.cb_syn_isn), &slot, &hint), 0);
		cr_expect_neq(hint.cookie, v.seq, "SYN %d over the budget left no hint", i);
		checked = 1;
		/* its ACK: the cookie alone makes the flow */
		s.seq = CISN + 1;
		s.ack = v.seq + 1;
		s.flags = 0x10;
		s.opts = NULL;
		s.optlen = 0;
		cr_assert_eq(run(b, fx_build(b, sizeof(b), &s)), XDP_DROP, "its ACK is consumed");
	}
	cr_assert(checked, "no SYN over the budget in %d", i);
	cr_expect_geq(i, CB_SYN_HINT_BUDGET, "every SYN within the budget left its hint");
	cr_expect_eq(XSTAT(SYN_COOKIE_SENT), (uint64_t)i, "every SYN answered");
	cr_expect_eq(XSTAT(ACK_COOKIE_OK), 1, "the hint-less SYN's ACK made its flow");
	fx_close();
}
