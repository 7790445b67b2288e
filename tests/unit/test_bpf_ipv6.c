// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What only IPv6 has: extension headers walked (hop-by-hop first, destination
 * options, routing with no segments left: at most 4 of them in 512 bytes) or
 * passed on purpose (fragment: PASS_FRAGMENT; AH, ESP, routing with segments
 * left, too many: PASS_IPV6_EXT), malformed fixed headers, next headers that
 * are not TCP; cookies over both 16-byte addresses; IPv4 and IPv6 flows side
 * by side.  Every verdict of the same tables on both hooks, every IPv6 packet
 * counted in PKT_IPV6.  The family-independent tables run for IPv6 in the
 * other test_bpf*.c files (their *_v6 tests).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cb_xdp.skel.h"
#include "cb_tc.skel.h"
#include "test_bpf.h"

#define END CB_STAT_MAX

/* Extension headers, 8 bytes each unless said (RFC 8200 4.3-4.5, RFC 4302). */
#define HBH(nh) nh, 0, 1, 4, 0, 0, 0, 0                 /* PadN of 4 */
#define DST(nh) nh, 0, 1, 4, 0, 0, 0, 0
#define RT(nh, left) nh, 0, 253, left, 0, 0, 0, 0       /* experimental type */
#define FRAG(nh) nh, 0, 0, 1, 0, 0, 0, 42               /* offset 0, more fragments */
#define AH(nh) nh, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1      /* 12 bytes, no ICV */

enum { P_HOPOPTS = 0, P_TCP = 6, P_UDP = 17, P_ROUTING = 43, P_FRAGMENT = 44, P_ESP = 50,
       P_AH = 51, P_ICMPV6 = 58, P_NONE = 59, P_DSTOPTS = 60 };

/* What is done to the built frame. */
enum { M_NONE, M_PLEN0, M_PLEN_PAST_FRAME, M_VERSION4, M_CUT_IN_EXT, M_EXT_PAST_PLEN,
       M_NOT_TCP, M_SRC, M_DST };      /* M_SRC/M_DST: that address := addr_rows[mut_arg] */

/* Addresses no IPv6 segment to a service may carry (parse.h). */
static const uint8_t addr_rows[][16] = {
	{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1 },     /* ::ffff:198.18.0.1 */
	{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 100 },   /* ::ffff:VIP */
	{ 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },        /* ff02::1 */
	{ 0 },                                                           /* :: */
};

enum { SYNACK = 1, PASS };

static const enum cb_stat watched[] = {
	CB_STAT_PKT_SEEN, CB_STAT_PKT_IPV6, CB_STAT_PASS_NOT_IP, CB_STAT_PASS_NOT_TCP,
	CB_STAT_PASS_FRAGMENT, CB_STAT_PASS_IPV6_EXT, CB_STAT_PASS_MALFORMED,
	CB_STAT_PASS_NOT_SERVICE, CB_STAT_DROP_BAD_OPTIONS, CB_STAT_SYN_COOKIE_SENT,
	CB_STAT_SYN_TX_FAIL, CB_STAT_RST_NO_FLOW, CB_STAT_DROP_REPLY_FAIL,
};
#define N_WATCHED (sizeof(watched) / sizeof(watched[0]))

static const struct ext_row {
	const char *name;
	uint8_t nh;                     /* the fixed header's next header */
	uint8_t ext[48];
	size_t extlen;
	int mut;                        /* M_*, with mut_arg */
	uint8_t mut_arg;
	int verdict;
	enum cb_stat counted[4];        /* besides PKT_SEEN and PKT_IPV6 */
} ext_rows[] = {
	{ "no extension header", P_TCP, { 0 }, 0, M_NONE, 0, SYNACK,
	  { CB_STAT_SYN_COOKIE_SENT, END } },
	{ "hop-by-hop, destination options", P_HOPOPTS, { HBH(P_DSTOPTS), DST(P_TCP) }, 16,
	  M_NONE, 0, SYNACK, { CB_STAT_SYN_COOKIE_SENT, END } },
	{ "routing, segments left 0", P_ROUTING, { RT(P_TCP, 0) }, 8, M_NONE, 0, SYNACK,
	  { CB_STAT_SYN_COOKIE_SENT, END } },
	{ "4 headers: hop-by-hop, dstopts, routing (0 left), dstopts", P_HOPOPTS,
	  { HBH(P_DSTOPTS), DST(P_ROUTING), RT(P_DSTOPTS, 0), DST(P_TCP) }, 32, M_NONE, 0,
	  SYNACK, { CB_STAT_SYN_COOKIE_SENT, END } },
	{ "routing, segments left 1", P_ROUTING, { RT(P_TCP, 1) }, 8, M_NONE, 0, PASS,
	  { CB_STAT_PASS_IPV6_EXT, END } },
	{ "dstopts, then routing with segments left 3", P_DSTOPTS,
	  { DST(P_ROUTING), RT(P_TCP, 3) }, 16, M_NONE, 0, PASS, { CB_STAT_PASS_IPV6_EXT, END } },
	{ "fragment header", P_FRAGMENT, { FRAG(P_TCP) }, 8, M_NONE, 0, PASS,
	  { CB_STAT_PASS_FRAGMENT, END } },
	{ "hop-by-hop, then a fragment header", P_HOPOPTS, { HBH(P_FRAGMENT), FRAG(P_TCP) }, 16,
	  M_NONE, 0, PASS, { CB_STAT_PASS_FRAGMENT, END } },
	{ "AH", P_AH, { AH(P_TCP) }, 12, M_NONE, 0, PASS, { CB_STAT_PASS_IPV6_EXT, END } },
	{ "ESP", P_ESP, { 0, 0, 1, 0, 0, 0, 0, 1 }, 8, M_NONE, 0, PASS,
	  { CB_STAT_PASS_IPV6_EXT, END } },
	{ "5 headers", P_HOPOPTS,
	  { HBH(P_DSTOPTS), DST(P_DSTOPTS), DST(P_DSTOPTS), DST(P_DSTOPTS), DST(P_TCP) }, 40,
	  M_NONE, 0, PASS, { CB_STAT_PASS_IPV6_EXT, END } },
	{ "hop-by-hop not first", P_DSTOPTS, { DST(P_HOPOPTS), HBH(P_TCP) }, 16, M_NONE, 0,
	  PASS, { CB_STAT_PASS_MALFORMED, END } },
	{ "frame ends inside the hop-by-hop header", P_HOPOPTS, { HBH(P_TCP) }, 8,
	  M_CUT_IN_EXT, 4, PASS, { CB_STAT_PASS_MALFORMED, END } },
	{ "dstopts longer than the payload", P_DSTOPTS, { DST(P_TCP) }, 8, M_EXT_PAST_PLEN, 0,
	  PASS, { CB_STAT_PASS_MALFORMED, END } },
	{ "payload length 0", P_TCP, { 0 }, 0, M_PLEN0, 0, PASS,
	  { CB_STAT_PASS_MALFORMED, END } },
	{ "payload length past the frame", P_TCP, { 0 }, 0, M_PLEN_PAST_FRAME, 0, PASS,
	  { CB_STAT_PASS_MALFORMED, END } },
	{ "ethertype IPv6, version 4", P_TCP, { 0 }, 0, M_VERSION4, 0, PASS,
	  { CB_STAT_PASS_MALFORMED, END } },
	{ "ICMPv6", P_TCP, { 0 }, 0, M_NOT_TCP, P_ICMPV6, PASS, { CB_STAT_PASS_NOT_TCP, END } },
	{ "UDP", P_TCP, { 0 }, 0, M_NOT_TCP, P_UDP, PASS, { CB_STAT_PASS_NOT_TCP, END } },
	{ "no next header", P_TCP, { 0 }, 0, M_NOT_TCP, P_NONE, PASS,
	  { CB_STAT_PASS_NOT_TCP, END } },
	{ "hop-by-hop, then ICMPv6", P_HOPOPTS, { HBH(P_ICMPV6) }, 8, M_NONE, 0, PASS,
	  { CB_STAT_PASS_NOT_TCP, END } },
	/* never on the wire, or no TCP peer: an IPv4-mapped address would name
	 * the IPv4 service and flows (the reply would be IPv4 in an IPv6 frame) */
	{ "IPv4-mapped source", P_TCP, { 0 }, 0, M_SRC, 0, PASS, { CB_STAT_PASS_MALFORMED, END } },
	{ "IPv4-mapped destination (the IPv4 VIP)", P_TCP, { 0 }, 0, M_DST, 1, PASS,
	  { CB_STAT_PASS_MALFORMED, END } },
	{ "IPv4-mapped source and destination", P_TCP, { 0 }, 0, M_SRC, 0 | 0x80, PASS,
	  { CB_STAT_PASS_MALFORMED, END } },
	{ "multicast source", P_TCP, { 0 }, 0, M_SRC, 2, PASS, { CB_STAT_PASS_MALFORMED, END } },
	{ "unspecified source", P_TCP, { 0 }, 0, M_SRC, 3, PASS, { CB_STAT_PASS_MALFORMED, END } },
};

/* The client's IPv6 SYN with these extension headers in b. */
static size_t syn6(uint8_t *b, size_t cap, const uint8_t *ext, size_t extlen, uint8_t nh)
{
	uint8_t o[40];
	struct t_tcp_spec s = { .sport = CPORT, .dport = VPORT, .seq = CISN, .flags = 0x02,
				.window = 64240, .opts = o, .v6 = 1, .ext = ext,
				.extlen = extlen, .ext_nh = nh };

	memcpy(s.saddr6, CLIENT6, 16);
	memcpy(s.daddr6, VIP6, 16);
	s.optlen = t_syn_opts(o, 1460, 1, 1, 777, 7);
	return t_build(b, cap, &s);
}

/* The SYN-ACK in F.out answers the IPv6 SYN: no extension header echoed,
 * a cookie valid for CLIENT6 -> VIP6. */
static void expect_synack6(const char *name)
{
	struct t_tcp_view v;
	struct cb_cookie_info ci;
	union cb_addr c, d;

	FX_V6 = 1;
	fx_expect_reply(name, &v);
	cr_expect_eq(F.out_len, T_ETH_LEN + 40 + 40, "%s: %zu bytes", name, F.out_len);
	cr_expect_eq(v.flags, 0x12, "%s", name);
	cr_expect_eq(v.ack, CISN + 1, "%s", name);
	cr_expect_eq(v.mss, 1440, "%s", name);
	memcpy(c.b, CLIENT6, 16);
	memcpy(d.b, VIP6, 16);
	cr_expect_eq(cb_cookie_check(KEY0, v.seq, &c, &d, htons(CPORT), htons(VPORT), CISN,
				     tai_counter(), &ci), 0, "%s: the cookie", name);
}

static void ext_rows_on(enum fx_hook hook)
{
	size_t i;

	fx_open_hook(hook, 0, 65536);
	FX_V6 = 1;
	for (i = 0; i < sizeof(ext_rows) / sizeof(ext_rows[0]); i++) {
		const struct ext_row *r = &ext_rows[i];
		enum cb_stat want[8];
		uint64_t before[N_WATCHED];
		uint8_t b[512];
		size_t n, j, k = 0;
		struct cb_flow f;

		n = syn6(b, sizeof(b), r->ext, r->extlen, r->nh);
		cr_assert_gt(n, 0);
		switch (r->mut) {
		case M_PLEN0:
			b[T_ETH_LEN + 4] = b[T_ETH_LEN + 5] = 0;
			break;
		case M_PLEN_PAST_FRAME:
			b[T_ETH_LEN + 5] += 1;
			break;
		case M_VERSION4:
			b[T_ETH_LEN] = 0x40;
			break;
		case M_CUT_IN_EXT:
			/* the frame ends mut_arg bytes into the first header, and the
			 * payload length says so */
			n = T_ETH_LEN + 40 + r->mut_arg;
			b[T_ETH_LEN + 4] = 0;
			b[T_ETH_LEN + 5] = r->mut_arg;
			break;
		case M_EXT_PAST_PLEN:
			/* a 32-byte dstopts header in a 20-byte payload */
			b[T_ETH_LEN + 40 + 1] = 3;
			b[T_ETH_LEN + 4] = 0;
			b[T_ETH_LEN + 5] = 20;
			n = T_ETH_LEN + 40 + 20;
			break;
		case M_NOT_TCP:
			b[T_ETH_LEN + 6] = r->mut_arg;
			break;
		case M_SRC:
			memcpy(b + T_ETH_LEN + 8, addr_rows[r->mut_arg & 0x7f], 16);
			if (r->mut_arg & 0x80)  /* and the destination the IPv4 VIP */
				memcpy(b + T_ETH_LEN + 24, addr_rows[1], 16);
			break;
		case M_DST:
			memcpy(b + T_ETH_LEN + 24, addr_rows[r->mut_arg], 16);
			break;
		}
		want[k++] = CB_STAT_PKT_SEEN;
		want[k++] = CB_STAT_PKT_IPV6;
		for (j = 0; r->counted[j] != END; j++)
			want[k++] = r->counted[j];
		want[k] = END;
		fx_snapshot(watched, N_WATCHED, before);
		if (r->verdict == SYNACK) {
			cr_expect_eq(run(b, n), V_TX, "%s: verdict", r->name);
			expect_synack6(r->name);
		} else {
			cr_expect_eq(run(b, n), V_PASS, "%s: verdict", r->name);
			cr_expect_eq(F.out_len, n, "%s: frame length kept", r->name);
			cr_expect_eq(memcmp(F.out, b, n), 0, "%s: frame untouched", r->name);
		}
		fx_expect_counted(r->name, watched, N_WATCHED, before, want);
		cr_expect_neq(get_flow(&f), 0, "%s: nothing stored", r->name);
		cr_expect_eq(drain(), 0, "%s: no event", r->name);
	}
	fx_close();
}

Test(ipv6, extension_header_rows_xdp)
{
	ext_rows_on(FX_XDP);
}

Test(ipv6, extension_header_rows_tc)
{
	ext_rows_on(FX_TC);
}

/* count destination options headers of `each` bytes (a multiple of 8, <= 256). */
static size_t big_ext(uint8_t *ext, size_t each, int count)
{
	int i;

	for (i = 0; i < count; i++) {
		uint8_t *x = ext + (size_t)i * each;

		memset(x, 0, each);
		x[0] = i + 1 < count ? P_DSTOPTS : P_TCP;
		x[1] = (uint8_t)(each / 8 - 1);
		x[2] = 1;                       /* PadN over the rest */
		x[3] = (uint8_t)(each - 4);
	}
	return each * (size_t)count;
}

/* 512 bytes of extension headers are walked; 520 are not. */
static void ext_bytes_on(enum fx_hook hook)
{
	static uint8_t ext[1024], b[1200];
	size_t n;

	fx_open_hook(hook, 0, 65536);
	n = syn6(b, sizeof(b), ext, big_ext(ext, 256, 2), P_DSTOPTS);
	cr_assert_eq(run(b, n), V_TX, "2 x 256 bytes: walked");
	expect_synack6("512 bytes");
	cr_expect_eq(XSTAT(SYN_COOKIE_SENT), 1);
	big_ext(ext, 256, 2);
	ext[256] = P_DSTOPTS;                   /* a third, 8-byte header */
	memcpy(ext + 512, (const uint8_t[]){ DST(P_TCP) }, 8);
	n = syn6(b, sizeof(b), ext, 520, P_DSTOPTS);
	cr_expect_eq(run(b, n), V_PASS, "520 bytes: passed");
	cr_expect_eq(memcmp(F.out, b, n), 0);
	cr_expect_eq(XSTAT(PASS_IPV6_EXT), 1);
	n = syn6(b, sizeof(b), ext, big_ext(ext, 176, 3), P_DSTOPTS);
	cr_expect_eq(run(b, n), V_PASS, "3 x 176 bytes: passed");
	cr_expect_eq(XSTAT(PASS_IPV6_EXT), 2);
	cr_expect_eq(XSTAT(PKT_IPV6), 3);
	cr_expect_eq(XSTAT(PASS_MALFORMED), 0);
	fx_close();
}

Test(ipv6, extension_header_bytes_xdp)
{
	ext_bytes_on(FX_XDP);
}

Test(ipv6, extension_header_bytes_tc)
{
	ext_bytes_on(FX_TC);
}

/* A whole flow through extension headers: the cookie ACK and the data carry
 * hop-by-hop and destination options; the payload is found after them and
 * its checksum verified. */
static void flow_through_ext_on(enum fx_hook hook)
{
	static const uint8_t ext[] = { HBH(P_DSTOPTS), DST(P_TCP) };
	static const char req[] = "GET /v6 HTTP/1.1\r\n\r\n";
	uint8_t o[12] = { 1, 1, 8, 10, 0, 0, 3, 10, 0, 0, 0, 0 };
	struct t_tcp_spec s = { .sport = CPORT, .dport = VPORT, .seq = CISN + 1, .flags = 0x10,
				.window = 502, .opts = o, .optlen = 12, .v6 = 1, .ext = ext,
				.extlen = sizeof(ext), .ext_nh = P_HOPOPTS };
	const struct cb_event *ev;
	struct cb_flow_key k;
	struct t_tcp_view v;
	struct cb_flow f;
	uint8_t b[512];
	size_t n;

	fx_open_hook(hook, 0, 65536);
	FX_V6 = 1;
	memcpy(s.saddr6, CLIENT6, 16);
	memcpy(s.daddr6, VIP6, 16);
	n = syn6(b, sizeof(b), ext, sizeof(ext), P_HOPOPTS);
	cr_assert_eq(run(b, n), V_TX);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	s.ack = v.seq + 1;
	memcpy(o + 8, &(uint32_t){ htonl(v.tsval) }, 4);
	n = t_build(b, sizeof(b), &s);
	cr_assert_eq(run(b, n), V_DROP, "the cookie ACK consumed");
	cr_assert_eq(get_flow(&f), 0, "the flow exists");
	cr_expect_eq(f.state, CB_FLOW_UNBOUND);
	cr_expect_eq(f.mss, 1440);
	s.flags = 0x18;
	s.payload = (const uint8_t *)req;
	s.paylen = sizeof(req) - 1;
	n = t_build(b, sizeof(b), &s);
	cr_assert_eq(run(b, n), V_TX);
	fx_expect_reply("data ACK", &v);
	cr_expect_eq(v.ack, CISN + 1 + sizeof(req) - 1);
	cr_assert_eq(drain(), 2, "OPEN, DATA");
	ev = (const struct cb_event *)F.rec[1];
	k = flow_key();
	cr_expect_eq(ev->type, CB_EV_DATA);
	cr_expect_eq(ev->len, sizeof(req) - 1);
	cr_expect_eq(memcmp(ev + 1, req, sizeof(req) - 1), 0, "the payload after the headers");
	cr_expect_eq(memcmp(&ev->key, &k, sizeof(k)), 0);
	/* the next data with one payload bit flipped: the checksum catches it */
	s.seq = CISN + 1 + sizeof(req) - 1;
	cr_expect_eq(XSTAT(DATA_BAD_CSUM), 0);
	n = t_build(b, sizeof(b), &s);
	b[n - 1] ^= 1;
	cr_expect_eq(run(b, n), V_DROP);
	cr_expect_eq(XSTAT(DATA_BAD_CSUM), 1);
	cr_expect_eq(XSTAT(PKT_IPV6), 4);
	fx_close();
}

Test(ipv6, flow_through_extension_headers_xdp)
{
	flow_through_ext_on(FX_XDP);
}

Test(ipv6, flow_through_extension_headers_tc)
{
	flow_through_ext_on(FX_TC);
}

/*
 * The MAC covers all 32 bytes of addresses: a cookie made for 2001:db8::1 is
 * not valid from 2001:db8::2 (same /64) nor from an address that differs only
 * in its first half, nor to another VIP; the program refuses such an ACK.
 */
Test(ipv6, cookie_is_bound_to_both_addresses)
{
	static const char *other_src[] = { "2001:db8::2", "2001:db9::1", "2001:db8:0:1::1",
					   "::ffff:198.18.0.1" };
	struct cb_cookie_info ci;
	union cb_addr c, d, x;
	struct t_tcp_view v;
	uint8_t b[256];
	uint32_t cookie;
	size_t n, i;

	fx_open(0, 65536);
	FX_V6 = 1;
	memcpy(c.b, CLIENT6, 16);
	memcpy(d.b, VIP6, 16);
	n = syn(b, 1, 1, 7, NULL);
	cr_assert_eq(run(b, n), XDP_TX);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cookie = v.seq;
	cr_assert_eq(cb_cookie_check(KEY0, cookie, &c, &d, htons(CPORT), htons(VPORT), CISN,
				     tai_counter(), &ci), 0);
	for (i = 0; i < sizeof(other_src) / sizeof(other_src[0]); i++) {
		x = a6(other_src[i]);
		cr_expect_neq(cb_cookie_check(KEY0, cookie, &x, &d, htons(CPORT), htons(VPORT),
					      CISN, tai_counter(), &ci), 0, "from %s", other_src[i]);
	}
	x = a6("2001:db8::101");
	cr_expect_neq(cb_cookie_check(KEY0, cookie, &c, &x, htons(CPORT), htons(VPORT), CISN,
				      tai_counter(), &ci), 0, "to another VIP");
	/* the cookie's ACK from 2001:db8::2: a segment of no flow, reset */
	{
		struct t_tcp_spec s = { .sport = CPORT, .dport = VPORT, .seq = CISN + 1,
					.ack = cookie + 1, .flags = 0x10, .window = 502,
					.v6 = 1 };
		struct cb_flow_key k = t_key(a6("2001:db8::2"), d, CPORT, VPORT);
		struct cb_flow f;

		x = a6("2001:db8::2");
		memcpy(s.saddr6, x.b, 16);
		memcpy(s.daddr6, VIP6, 16);
		n = t_build(b, sizeof(b), &s);
		cr_expect_eq(run(b, n), XDP_TX);
		cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
		cr_expect_eq(v.flags, 0x04, "an RST");
		cr_expect_eq(memcmp(v.daddr6, x.b, 16), 0, "to the sender");
		cr_expect_eq(t_verify_csums(F.out, F.out_len), 0);
		cr_expect_eq(XSTAT(ACK_COOKIE_BAD), 1);
		cr_expect_eq(XSTAT(ACK_COOKIE_OK), 0);
		cr_expect_neq(bpf_map_lookup_elem(F.flows_fd, &k, &f), 0);
	}
	/* and from the IPv4 client with the same ports */
	FX_V6 = 0;
	n = seg(b, sizeof(b), CISN + 1, cookie + 1, 0x10, 778, 0, NULL, 0, 502);
	cr_expect_eq(run(b, n), XDP_TX);
	cr_expect_eq(XSTAT(ACK_COOKIE_BAD), 2);
	cr_expect_eq(XSTAT(ACK_COOKIE_OK), 0);
	fx_close();
}

/*
 * An IPv4 and an IPv6 client with the same ports to the same service port:
 * two flows, each with its own key, state and data.
 */
static void both_families_on(enum fx_hook hook)
{
	struct cb_flow_key k4, k6;
	struct cb_flow f4, f6;
	struct t_tcp_view v;
	uint32_t isn4, isn6, tsv4, tsv6;
	uint8_t b[512];
	size_t n;
	int i;

	fx_open_hook(hook, 0, 65536);
	FX_V6 = 0;
	isn4 = handshake(&tsv4);
	k4 = flow_key();
	FX_V6 = 1;
	isn6 = handshake(&tsv6);
	k6 = flow_key();
	cr_expect_neq(isn4, isn6, "cookies over different addresses");
	cr_assert_eq(bpf_map_lookup_elem(F.flows_fd, &k4, &f4), 0, "the IPv4 flow");
	cr_assert_eq(bpf_map_lookup_elem(F.flows_fd, &k6, &f6), 0, "the IPv6 flow");
	cr_expect_eq(cb_flow_isn(&f4), isn4);
	cr_expect_eq(cb_flow_isn(&f6), isn6);
	cr_expect_eq(f4.mss, 1460);
	cr_expect_eq(f6.mss, 1440);
	cr_expect_eq(XSTAT(ACK_COOKIE_OK), 2);
	for (i = 0; i < 2; i++) {
		const struct cb_event *ev;
		struct cb_flow_key k;

		FX_V6 = i;
		n = seg(b, sizeof(b), CISN + 1, (i ? isn6 : isn4) + 1, 0x18, 800,
			i ? tsv6 : tsv4, i ? "six" : "four", i ? 3 : 4, 502);
		cr_assert_eq(run(b, n), V_TX, "data of family %d", i);
		fx_expect_reply(i ? "IPv6 data ACK" : "IPv4 data ACK", &v);
		cr_expect_eq(v.seq, (i ? isn6 : isn4) + 1);
		cr_expect_eq(v.ack, CISN + 1 + (i ? 3 : 4));
		cr_assert_eq(drain(), 1);
		ev = (const struct cb_event *)F.rec[0];
		k = flow_key();
		cr_expect_eq(memcmp(&ev->key, &k, sizeof(k)), 0, "the record names its flow");
		cr_expect_eq(memcmp(ev + 1, i ? "six" : "four", i ? 3 : 4), 0);
	}
	cr_assert_eq(bpf_map_lookup_elem(F.flows_fd, &k4, &f4), 0);
	cr_assert_eq(bpf_map_lookup_elem(F.flows_fd, &k6, &f6), 0);
	cr_expect_eq(f4.bytes_in, 4);
	cr_expect_eq(f6.bytes_in, 3);
	/* the IPv6 client's FIN ends its flow only */
	FX_V6 = 1;
	n = seg(b, sizeof(b), CISN + 4, isn6 + 1, 0x11, 801, tsv6, NULL, 0, 502);
	cr_assert_eq(run(b, n), V_TX);
	cr_expect_neq(bpf_map_lookup_elem(F.flows_fd, &k6, &f6), 0);
	cr_expect_eq(bpf_map_lookup_elem(F.flows_fd, &k4, &f4), 0, "the IPv4 flow stays");
	fx_close();
}

Test(ipv6, ipv4_and_ipv6_flows_with_the_same_ports_xdp)
{
	both_families_on(FX_XDP);
}

Test(ipv6, ipv4_and_ipv6_flows_with_the_same_ports_tc)
{
	both_families_on(FX_TC);
}

/* A SYN to VIP6 on a port that is served only for IPv4 (and to an IPv6
 * address whose last 4 bytes are the IPv4 VIP) is not a service. */
Test(ipv6, services_are_per_family)
{
	struct t_tcp_spec s = { .sport = CPORT, .dport = 443, .seq = CISN, .flags = 0x02,
				.window = 64240, .v6 = 1 };
	uint8_t b[256];
	union cb_addr x;
	size_t n;

	fx_open(0, 65536);
	FX_V6 = 0;
	fx_service(VIP, 443);
	memcpy(s.saddr6, CLIENT6, 16);
	memcpy(s.daddr6, VIP6, 16);
	n = t_build(b, sizeof(b), &s);
	cr_expect_eq(run(b, n), XDP_PASS, "443 is IPv4's only");
	x = a6("2001:db8::c612:64");
	memcpy(s.daddr6, x.b, 16);
	s.dport = VPORT;
	n = t_build(b, sizeof(b), &s);
	cr_expect_eq(run(b, n), XDP_PASS);
	x = a6("::198.18.0.100");               /* IPv4-compatible: not mapped */
	memcpy(s.daddr6, x.b, 16);
	n = t_build(b, sizeof(b), &s);
	cr_expect_eq(run(b, n), XDP_PASS);
	cr_expect_eq(XSTAT(PASS_NOT_SERVICE), 3);
	cr_expect_eq(XSTAT(SYN_COOKIE_SENT), 0);
	fx_close();
}
