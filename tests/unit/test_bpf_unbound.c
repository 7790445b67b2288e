// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * UNBOUND flows: data to the ring and acknowledged, segments validated as an
 * established Linux socket would (order, window, PAWS, RST/SYN/FIN).
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

FX_TEST2(xdp, data_goes_to_ring_then_is_acked)
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
	fx_expect_reply("data ACK", &v);
	cr_expect_eq(F.out_len, fx_l4() + 32, "an ACK with timestamps");
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
	{
		struct cb_flow_key k = flow_key();

		cr_expect_eq(memcmp(&ev->key, &k, sizeof(k)), 0, "the record's key");
	}

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

FX_TEST2(xdp, bad_checksum_not_queued_not_acked)
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

FX_TEST2(xdp, out_of_order_dropped_with_dup_ack)
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

FX_TEST2(xdp, retransmission_and_overlap)
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

FX_TEST2(xdp, past_window_cap_not_acked)
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

FX_TEST2(xdp, ring_full_drops_unacknowledged)
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

FX_TEST2(xdp, fin_on_unbound_flow_resets_and_removes)
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
	fx_expect_reply("FIN's RST", &v);
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

FX_TEST2(xdp, rst_on_unbound_flow_removes)
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

FX_TEST2(xdp, rst_validation_blind_and_in_window)
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
	fx_expect_reply("challenge ACK", &v);
	cr_expect_eq(v.flags, 0x10);
	cr_expect_eq(v.ack, CISN + 1);
	cr_expect_eq(v.seq, isn + 1);
	cr_expect_eq(get_flow(&f), 0);
	cr_expect_eq(XSTAT(CHALLENGE_ACK), 1);
	cr_expect_eq(XSTAT(RST_UNBOUND), 0);
	fx_close();
}

FX_TEST2(xdp, syn_on_held_flow_gets_challenge_ack)
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
	cr_expect_eq(memcmp(&f, &g, sizeof(f)), 0, "the flow untouched");
	cr_expect_eq(g.rcv_nxt, f.rcv_nxt);
	cr_expect_eq(XSTAT(CHALLENGE_ACK), 3);
	cr_expect_eq(XSTAT(RST_NO_FLOW), 0);
	fx_close();
}

FX_TEST2(xdp, segments_must_ack_our_syn)
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

FX_TEST2(xdp, early_fin_is_out_of_order)
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

FX_TEST2(xdp, paws_and_rejected_segments_keep_ts_recent)
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

FX_TEST2(xdp, coalesced_segment_beyond_mss_is_accepted)
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
	b[fx_l4() + 16] ^= 0xff; /* checksum field no longer complete */
	cr_assert_eq(run(b, n), XDP_TX);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.ack, CISN + 1 + sizeof(data));
	i = (size_t)drain();
	cr_assert_eq(i, 1, "records: %zu", i);
	ev = (const struct cb_event *)F.rec[0];
	cr_expect_eq(ev->len, sizeof(data));
	fx_close();
}

FX_TEST2(xdp, held_flow_outlives_its_service)
{
	uint8_t b[256];
	struct t_tcp_view v;
	struct cb_service_key k = fx_service_key();
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
	b[fx_l4() + 1] ^= 1;      /* another client port: no flow */
	cr_expect_eq(run(b, n), XDP_PASS);
	fx_close();
}

FX_TEST2(xdp, zero_window_ack_recorded)
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
