// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bpf/lib/frame.h from userspace, as the controller includes it: segments
 * checked byte by byte and with pkt.c's independent checksum and parser.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <string.h>
#include <linux/types.h>
#include "../../bpf/lib/frame.h"
#include "pkt.h"
#include "t_addr.h"

#define CLIENT 0xc6120001u      /* 198.18.0.1 */
#define VIP 0xc6120064u         /* 198.18.0.100 */

/* A fake Ethernet header (pkt.c's checkers read frames), the segment, and
 * room to see that nothing was written past it. */
#define BUF_LEN (T_ETH_LEN + CB_FRAME_MAX + 4)

static size_t build(uint8_t buf[BUF_LEN], const struct cb_seg *s)
{
	memset(buf, 0xee, BUF_LEN);
	buf[12] = cb_addr_is_v4(&s->saddr) ? 0x08 : 0x86;
	buf[13] = cb_addr_is_v4(&s->saddr) ? 0x00 : 0xdd;
	return T_ETH_LEN + cb_frame_build((struct cb_frame *)(buf + T_ETH_LEN), s);
}

/* Build s; check its IPv4 + TCP length and both checksums; parse it into v. */
static size_t build_ok(const char *what, uint8_t buf[BUF_LEN], const struct cb_seg *s,
		       size_t len, struct t_tcp_view *v)
{
	size_t n = build(buf, s);

	cr_assert_eq(n, T_ETH_LEN + len, "%s: length %zu, not %zu", what, n - T_ETH_LEN, len);
	cr_expect_eq(t_verify_csums(buf, n), 0, "%s: checksums", what);
	cr_assert_eq(t_view(buf, n, v), 0, "%s", what);
	cr_expect_eq(buf[n], 0xee, "%s: wrote past the segment", what);
	return n;
}

static struct cb_seg from_vip(uint8_t flags, uint8_t kind)
{
	struct cb_seg s = {
		.saddr = a4(VIP), .daddr = a4(CLIENT), .sport = htons(80),
		.dport = htons(40000), .seq = 0x01020304, .ack = 0xa0b0c0d0,
		.flags = flags, .kind = kind, .wscale = CB_WSCALE_NONE,
	};

	return s;
}

/* The controller's fail-closed RST: RST|ACK at snd_nxt/rcv_nxt, no options. */
Test(frame, rst_ack_without_options)
{
	uint8_t b[BUF_LEN];
	struct cb_seg s = from_vip(CB_TCP_RST | CB_TCP_ACK, CB_SEG_KIND_RST);
	struct t_tcp_view v;
	size_t n;

	s.ts = 1;               /* ignored: an RST carries no options */
	s.tsval = 5;
	n = build_ok("RST", b, &s, 40, &v);
	cr_expect_eq(v.saddr, VIP);
	cr_expect_eq(v.daddr, CLIENT);
	cr_expect_eq(v.sport, 80);
	cr_expect_eq(v.dport, 40000);
	cr_expect_eq(v.seq, 0x01020304);
	cr_expect_eq(v.ack, 0xa0b0c0d0);
	cr_expect_eq(v.flags, CB_TCP_RST | CB_TCP_ACK);
	cr_expect_eq(v.window, 0);
	cr_expect_eq(v.ihl, 5);
	cr_expect_eq(v.doff, 5);
	cr_expect_eq(v.ttl, 64);
	cr_expect_eq(v.tot_len, 40);
	cr_expect_eq(v.optlen, 0);
	cr_expect_eq(v.paylen, 0);
	cr_expect_eq(v.ts, 0);
	/* IPv4 header bytes: version/IHL, TOS, length, ID 0, DF, TTL, TCP */
	{
		static const uint8_t ip[10] = { 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6 };

		cr_expect_eq(memcmp(b + T_ETH_LEN, ip, sizeof(ip)), 0);
	}
	/* urgent pointer zero */
	cr_expect_eq(b[n - 2], 0);
	cr_expect_eq(b[n - 1], 0);
}

/* An ACK with timestamps, as the programs send for data. */
Test(frame, ack_with_timestamps)
{
	uint8_t b[BUF_LEN];
	struct cb_seg s = from_vip(CB_TCP_ACK, CB_SEG_KIND_ACK);
	static const uint8_t opts[12] = { 1, 1, 8, 10, 0xde, 0xad, 0xbe, 0xef,
					  0x00, 0x00, 0x03, 0x09 };
	struct t_tcp_view v;

	s.window = 511;
	s.ts = 1;
	s.tsval = 0xdeadbeef;
	s.tsecr = 777;
	s.mss = 1460;           /* SYN-ACK only: ignored */
	s.sack = 1;
	s.wscale = 7;
	build_ok("ACK", b, &s, 52, &v);
	cr_expect_eq(v.flags, CB_TCP_ACK);
	cr_expect_eq(v.window, 511);
	cr_expect_eq(v.doff, 8);
	cr_expect_eq(v.tot_len, 52);
	cr_expect_eq(v.ts, 1);
	cr_expect_eq(v.tsval, 0xdeadbeef);
	cr_expect_eq(v.tsecr, 777);
	cr_expect_eq(v.mss, -1);
	cr_expect_eq(v.wscale, -1);
	cr_expect_eq(v.sack_ok, 0);
	cr_expect_eq(v.optlen, sizeof(opts));
	cr_expect_eq(memcmp(v.opts, opts, sizeof(opts)), 0);
}

/* SYN-ACK options for each combination the client may ask for: the bytes
 * Linux sends in the same situation. */
static const struct synack_row {
	const char *name;
	uint8_t sack, ts, wscale;
	size_t optlen;
	uint8_t opts[CB_FRAME_OPT_MAX];
} synack_rows[] = {
	{ "all", 1, 1, 7, 20,
	  { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 42, 0, 0, 0, 9, 1, 3, 3, 7 } },
	{ "no timestamps", 1, 0, 7, 12,
	  { 2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7 } },
	{ "no sack", 0, 1, 7, 20,
	  { 2, 4, 0x05, 0xb4, 1, 1, 8, 10, 0, 0, 0, 42, 0, 0, 0, 9, 1, 3, 3, 7 } },
	{ "no window scale", 1, 1, CB_WSCALE_NONE, 16,
	  { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 42, 0, 0, 0, 9 } },
	{ "mss only", 0, 0, CB_WSCALE_NONE, 4, { 2, 4, 0x05, 0xb4 } },
};

Test(frame, synack_option_rows)
{
	size_t i;

	for (i = 0; i < sizeof(synack_rows) / sizeof(synack_rows[0]); i++) {
		const struct synack_row *r = &synack_rows[i];
		uint8_t b[BUF_LEN];
		struct cb_seg s = from_vip(CB_TCP_SYN | CB_TCP_ACK, CB_SEG_KIND_SYNACK);
		struct t_tcp_view v;

		s.window = 65535;
		s.mss = 1460;
		s.sack = r->sack;
		s.ts = r->ts;
		s.wscale = r->wscale;
		s.tsval = 42;
		s.tsecr = 9;
		build_ok(r->name, b, &s, 40 + r->optlen, &v);
		cr_expect_eq(v.flags, CB_TCP_SYN | CB_TCP_ACK, "%s", r->name);
		cr_expect_eq(v.optlen, r->optlen, "%s", r->name);
		cr_expect_eq(memcmp(v.opts, r->opts, r->optlen), 0, "%s: option bytes", r->name);
		cr_expect_eq(v.mss, 1460, "%s", r->name);
	}
}

/* Checksums stay right across carries (all-ones fields, odd values). */
Test(frame, checksum_rows)
{
	static const struct { uint32_t sa, da, seq, ack; uint16_t win; } rows[] = {
		{ 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffff },
		{ 0, 0, 0, 0, 0 },
		{ 0x0a000001, 0xc0a80101, 0x80000000, 0x7fffffff, 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t b[BUF_LEN];
		struct cb_seg s = from_vip(CB_TCP_ACK, CB_SEG_KIND_ACK);
		size_t n;

		s.saddr = a4(rows[i].sa);
		s.daddr = a4(rows[i].da);
		s.seq = rows[i].seq;
		s.ack = rows[i].ack;
		s.window = rows[i].win;
		s.ts = (uint8_t)(i & 1);
		s.tsval = rows[i].seq;
		s.tsecr = rows[i].ack;
		n = build(b, &s);
		cr_expect_eq(t_verify_csums(b, n), 0, "row %zu", i);
	}
}

/* ---- IPv6 ------------------------------------------------------------- */

static struct cb_seg from_vip6(uint8_t flags, uint8_t kind)
{
	struct cb_seg s = from_vip(flags, kind);

	s.saddr = a6("2001:db8::100");
	s.daddr = a6("2001:db8::1");
	return s;
}

static void expect_ip6(const char *what, const uint8_t *b, const struct t_tcp_view *v,
		       const struct cb_seg *s, size_t tcplen)
{
	/* version 6, traffic class 0, flow label 0, payload length, TCP, hop limit 64 */
	const uint8_t hdr[8] = { 0x60, 0, 0, 0, (uint8_t)(tcplen >> 8), (uint8_t)tcplen, 6, 64 };

	cr_expect_eq(memcmp(b + T_ETH_LEN, hdr, 8), 0, "%s: fixed header", what);
	cr_expect_eq(memcmp(b + T_ETH_LEN + 8, s->saddr.b, 16), 0, "%s: source", what);
	cr_expect_eq(memcmp(b + T_ETH_LEN + 24, s->daddr.b, 16), 0, "%s: destination", what);
	cr_expect_eq(v->v6, 1, "%s", what);
	cr_expect_eq(v->plen, tcplen, "%s", what);
	cr_expect_eq(v->l3len, 40, "%s", what);
	cr_expect_eq(v->ttl, 64, "%s", what);
}

Test(frame, ipv6_rst_ack_without_options)
{
	uint8_t b[BUF_LEN];
	struct cb_seg s = from_vip6(CB_TCP_RST | CB_TCP_ACK, CB_SEG_KIND_RST);
	struct t_tcp_view v;

	s.ts = 1;
	build_ok("IPv6 RST", b, &s, 60, &v);
	expect_ip6("IPv6 RST", b, &v, &s, 20);
	cr_expect_eq(v.sport, 80);
	cr_expect_eq(v.dport, 40000);
	cr_expect_eq(v.seq, 0x01020304);
	cr_expect_eq(v.ack, 0xa0b0c0d0);
	cr_expect_eq(v.flags, CB_TCP_RST | CB_TCP_ACK);
	cr_expect_eq(v.optlen, 0);
	cr_expect_eq(v.paylen, 0);
}

Test(frame, ipv6_ack_with_timestamps)
{
	uint8_t b[BUF_LEN];
	struct cb_seg s = from_vip6(CB_TCP_ACK, CB_SEG_KIND_ACK);
	struct t_tcp_view v;

	s.window = 511;
	s.ts = 1;
	s.tsval = 0xdeadbeef;
	s.tsecr = 777;
	build_ok("IPv6 ACK", b, &s, 72, &v);
	expect_ip6("IPv6 ACK", b, &v, &s, 32);
	cr_expect_eq(v.ts, 1);
	cr_expect_eq(v.tsval, 0xdeadbeef);
	cr_expect_eq(v.tsecr, 777);
	cr_expect_eq(v.window, 511);
}

Test(frame, ipv6_synack_option_rows)
{
	size_t i;

	for (i = 0; i < sizeof(synack_rows) / sizeof(synack_rows[0]); i++) {
		const struct synack_row *r = &synack_rows[i];
		uint8_t b[BUF_LEN];
		struct cb_seg s = from_vip6(CB_TCP_SYN | CB_TCP_ACK, CB_SEG_KIND_SYNACK);
		struct t_tcp_view v;

		s.window = 65535;
		s.mss = 1460;
		s.sack = r->sack;
		s.ts = r->ts;
		s.wscale = r->wscale;
		s.tsval = 42;
		s.tsecr = 9;
		build_ok(r->name, b, &s, 60 + r->optlen, &v);
		expect_ip6(r->name, b, &v, &s, 20 + r->optlen);
		cr_expect_eq(v.optlen, r->optlen, "%s", r->name);
		cr_expect_eq(memcmp(v.opts, r->opts, r->optlen), 0, "%s: option bytes", r->name);
	}
	/* the largest segment fills the frame buffer exactly */
	cr_expect_eq(60 + synack_rows[0].optlen, CB_FRAME_MAX);
}

/* Checksums over the IPv6 pseudo-header across carries; an address that is
 * all zeros but for the mapped prefix's neighbours is still IPv6. */
Test(frame, ipv6_checksum_rows)
{
	static const struct { const char *sa, *da; uint32_t seq, ack; uint16_t win; } rows[] = {
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
		  0xffffffff, 0xffffffff, 0xffff },
		{ "::1", "::2", 0, 0, 0 },
		{ "2001:db8:1234:5678:9abc:def0:1234:5678", "fe80::1", 0x80000000, 0x7fffffff, 1 },
		{ "::fffe:0:1", "0:0:0:1:0:ffff:0:1", 1, 2, 3 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t b[BUF_LEN];
		struct cb_seg s = from_vip(CB_TCP_ACK, CB_SEG_KIND_ACK);
		struct t_tcp_view v;
		size_t n;

		s.saddr = a6(rows[i].sa);
		s.daddr = a6(rows[i].da);
		s.seq = rows[i].seq;
		s.ack = rows[i].ack;
		s.window = rows[i].win;
		s.ts = (uint8_t)(i & 1);
		s.tsval = rows[i].seq;
		s.tsecr = rows[i].ack;
		n = build(b, &s);
		cr_expect_eq(n, T_ETH_LEN + 60 + (i & 1) * 12, "row %zu: IPv6 length", i);
		cr_expect_eq(t_verify_csums(b, n), 0, "row %zu", i);
		cr_assert_eq(t_view(b, n, &v), 0);
		cr_expect_eq(v.v6, 1, "row %zu", i);
	}
}
