// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Replies longer than the frame they answer: grown at the head, the tail
 * only when the head is full.
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

FX_TEST2(xdp, replies_grow_at_the_head)
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
		n = fx_build(b, sizeof(b), &s);
		cr_assert_eq(n, fx_l4() + 20);
		cr_assert_eq(run_meta(b, n, r->meta), XDP_TX, "%s", r->name);
		/* IPv6: the same growth, 20 bytes more of header */
		cr_expect_eq(F.out_len, r->out_len + (FX_V6 ? 20 : 0), "%s: %zu bytes", r->name,
			     F.out_len);
		fx_expect_reply(r->name, &v);
		if (r->rst) {
			cr_expect_eq(v.flags, 0x10, "%s", r->name);
			cr_expect_eq(v.seq, isn + 1, "%s", r->name);
			cr_expect_eq(v.ack, CISN + 1, "%s", r->name);
			cr_expect_eq(v.ts, 1, "%s", r->name);
			cr_expect_eq(XSTAT(CHALLENGE_ACK), 1, "%s", r->name);
		} else {
			cr_expect_eq(v.flags, 0x12, "%s", r->name);
			cr_expect_eq(v.ack, CISN + 1, "%s", r->name);
			cr_expect_eq(v.mss, FX_MSS, "%s", r->name);
		}
		cr_expect_eq(XSTAT(REPLY_GROWN_AT_TAIL), r->grown_at_tail, "%s", r->name);
		cr_expect_eq(XSTAT(DROP_REPLY_FAIL), 0, "%s", r->name);
		fx_close();
	}
}
