/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Ethernet/IPv4 or IPv6/TCP parsing into a plain struct on the stack.  Every
 * read is bounds-checked against data_end; IPv6 extension headers and TCP
 * options are walked by bounded loops.  The result holds copies, so the
 * packet can be rewritten afterwards.  Both families end in one TCP parser,
 * and an IPv4 packet's addresses are stored IPv4-mapped: everything after
 * cb_parse() is the same code for both.
 */
#ifndef CB_PARSE_H
#define CB_PARSE_H

#include "cookie.h"
#include "hook.h"                    /* CB_CLAMP */
#include "frame.h"                   /* header lengths, option kinds, flags */

#define CB_ETH_ALEN 6
#define CB_ETH_P_IP 0x0800
#define CB_ETH_P_IPV6 0x86DD
#define CB_ETH_HLEN 14
#define CB_TCP_OPT_MAX 40
#define CB_IP_MF 0x2000
#define CB_IP_OFFMASK 0x1fff

/* IPv6 extension headers (RFC 8200 4.1) */
#define CB_IP6_HOPOPTS 0
#define CB_IP6_ROUTING 43
#define CB_IP6_FRAGMENT 44
#define CB_IP6_ESP 50
#define CB_IP6_AH 51
#define CB_IP6_NONE 59
#define CB_IP6_DSTOPTS 60
#define CB_IP6_EXT_MAX 4        /* extension headers walked before TCP */
#define CB_IP6_EXT_BYTES 512    /* and their total length */

/* Outcome of parsing: keep going, or a final pass/drop with its counter. */
enum cb_parse_res {
	CB_PARSE_OK = 0,
	CB_PARSE_NOT_IP,
	CB_PARSE_NOT_TCP,
	CB_PARSE_FRAGMENT,
	CB_PARSE_MALFORMED,
	CB_PARSE_BAD_OPTIONS,
	CB_PARSE_IPV6_EXT,      /* an extension header passed deliberately */
};

struct cb_tcp_opts {
	__u16 mss;              /* 0 = absent */
	__u8 wscale;            /* CB_WSCALE_NONE = absent; clamped to 14 */
	__u8 sack_ok;
	__u8 ts_present;
	__u8 pad[3];
	__u32 tsval;            /* host order */
	__u32 tsecr;
};

struct cb_pkt {
	__u8 smac[CB_ETH_ALEN];
	__u8 dmac[CB_ETH_ALEN];
	union cb_addr saddr;    /* IPv6, or IPv4 mapped */
	union cb_addr daddr;
	__be16 sport;
	__be16 dport;
	__u32 seq;              /* host order */
	__u32 ack_seq;
	__u16 window;           /* raw field, host order */
	__u8 flags;             /* CB_TCP_* */
	__u8 ip_tos;            /* IPv4 TOS, IPv6 traffic class */
	__u8 v6;                /* 1: IPv6 */
	__u8 pad[3];
	__u32 l4_off;           /* offset of the TCP header in the frame */
	__u32 payload_off;      /* offset of the TCP payload in the frame */
	__u32 payload_len;
	__u32 tcp_len;          /* header + payload, for the checksum */
	struct cb_tcp_opts opt;
};

/*
 * Walking TCP options with a plain loop makes the verifier explore every
 * sequence of option lengths (it gave up after 1M instructions).  bpf_loop()
 * verifies the one-option step below once, whatever the packet holds.
 */
struct cb_optwalk {
	const __u8 *opts;       /* first option byte (packet pointer) */
	const void *data_end;
	struct cb_tcp_opts *o;
	__u32 len;              /* option bytes, 0..40 */
	__u32 i;                /* offset of the next option */
	int err;
};

static long cb_optwalk_step(__u32 index, void *arg)
{
	struct cb_optwalk *w = arg;
	const __u8 *p;
	__u8 kind, olen;
	__u32 i = w->i;

	if (i >= w->len || i >= CB_TCP_OPT_MAX)
		return 1;
	p = w->opts + (i & 0x3f);
	if ((const void *)(p + 1) > w->data_end)
		goto bad;
	kind = p[0];
	if (kind == CB_TCPOPT_EOL)
		return 1;
	if (kind == CB_TCPOPT_NOP) {
		w->i = i + 1;
		return 0;
	}
	if ((const void *)(p + 2) > w->data_end || i + 2 > w->len)
		goto bad;
	olen = p[1];
	if (olen < 2 || i + olen > w->len)
		goto bad;
	switch (kind) {
	case CB_TCPOPT_MSS:
		if (olen != 4 || (const void *)(p + 4) > w->data_end)
			goto bad;
		w->o->mss = ((__u16)p[2] << 8) | p[3];
		break;
	case CB_TCPOPT_WSCALE:
		if (olen != 3 || (const void *)(p + 3) > w->data_end)
			goto bad;
		/* RFC 7323 2.3: a shift over 14 is treated as 14 */
		w->o->wscale = p[2] > CB_WSCALE_MAX ? CB_WSCALE_MAX : p[2];
		break;
	case CB_TCPOPT_SACK_PERM:
		if (olen != 2)
			goto bad;
		w->o->sack_ok = 1;
		break;
	case CB_TCPOPT_TS:
		if (olen != 10 || (const void *)(p + 10) > w->data_end)
			goto bad;
		w->o->ts_present = 1;
		w->o->tsval = ((__u32)p[2] << 24) | ((__u32)p[3] << 16) |
			      ((__u32)p[4] << 8) | p[5];
		w->o->tsecr = ((__u32)p[6] << 24) | ((__u32)p[7] << 16) |
			      ((__u32)p[8] << 8) | p[9];
		break;
	default:
		break;          /* unknown options are skipped by their length */
	}
	w->i = i + olen;
	return 0;
bad:
	w->err = 1;
	return 1;
}

static __always_inline __u32 cb_be32_at(const __u8 *p)
{
	return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | p[3];
}

/*
 * The two layouts nearly every segment has, read without the walk (a
 * bpf_loop() call per packet, about 70 ns of a SYN): NOP NOP TS, every
 * segment after a handshake with timestamps (Linux, the BSDs, Windows), and
 * Linux's SYN, MSS SACK_PERM TS NOP WS.  1 when opts is one of them (o
 * filled as the walk would fill it), 0 to walk.
 */
static __always_inline int cb_parse_tcp_opts_usual(const __u8 *p, const void *data_end,
						   __u32 len, struct cb_tcp_opts *o)
{
	if (len == 12) {
		if ((const void *)(p + 12) > data_end ||
		    p[0] != CB_TCPOPT_NOP || p[1] != CB_TCPOPT_NOP || p[2] != CB_TCPOPT_TS || p[3] != 10)
			return 0;
		o->ts_present = 1;
		o->tsval = cb_be32_at(p + 4);
		o->tsecr = cb_be32_at(p + 8);
		return 1;
	}
	if (len == 20) {
		if ((const void *)(p + 20) > data_end ||
		    p[0] != CB_TCPOPT_MSS || p[1] != 4 || p[4] != CB_TCPOPT_SACK_PERM || p[5] != 2 ||
		    p[6] != CB_TCPOPT_TS || p[7] != 10 || p[16] != CB_TCPOPT_NOP ||
		    p[17] != CB_TCPOPT_WSCALE || p[18] != 3)
			return 0;
		o->mss = ((__u16)p[2] << 8) | p[3];
		o->sack_ok = 1;
		o->ts_present = 1;
		o->tsval = cb_be32_at(p + 8);
		o->tsecr = cb_be32_at(p + 12);
		/* RFC 7323 2.3: a shift over 14 is treated as 14 */
		o->wscale = p[19] > CB_WSCALE_MAX ? CB_WSCALE_MAX : p[19];
		return 1;
	}
	return 0;
}

/* Parse len (0..40) option bytes at opts; -1 if they are malformed. */
static __always_inline int cb_parse_tcp_opts(const __u8 *opts, const void *data_end,
					     __u32 len, struct cb_tcp_opts *o)
{
	struct cb_optwalk w = { .opts = opts, .data_end = data_end, .o = o, .len = len };

	o->mss = 0;
	o->wscale = CB_WSCALE_NONE;
	o->sack_ok = 0;
	o->ts_present = 0;
	o->tsval = 0;
	o->tsecr = 0;
	if (len == 0 || cb_parse_tcp_opts_usual(opts, data_end, len, o))
		return 0;
	/* one step per option; 40 bytes hold at most 40 options */
	bpf_loop(CB_TCP_OPT_MAX, cb_optwalk_step, &w, 0);
	return w.err ? -1 : 0;
}

/*
 * The TCP header at th, l4_off bytes into the frame, tcp_len bytes of
 * segment (header + payload) by the IP header.  Addresses are filled in.
 */
static __always_inline enum cb_parse_res cb_parse_tcp(const struct ethhdr *eth,
						      const struct tcphdr *th,
						      const void *data_end, __u32 l4_off,
						      __u32 tcp_len, struct cb_pkt *pk)
{
	__u32 thl;

	if ((const void *)(th + 1) > data_end || tcp_len < CB_TCP_HLEN)
		return CB_PARSE_MALFORMED;
	thl = th->doff * 4;
	if (thl < CB_TCP_HLEN || thl > tcp_len)
		return CB_PARSE_MALFORMED;
	if ((const void *)th + thl > data_end)
		return CB_PARSE_MALFORMED;

	__builtin_memcpy(pk->smac, eth->h_source, CB_ETH_ALEN);
	__builtin_memcpy(pk->dmac, eth->h_dest, CB_ETH_ALEN);
	pk->sport = th->source;
	pk->dport = th->dest;
	pk->seq = bpf_ntohl(th->seq);
	pk->ack_seq = bpf_ntohl(th->ack_seq);
	pk->window = bpf_ntohs(th->window);
	pk->flags = ((const __u8 *)th)[13];
	pk->l4_off = l4_off;
	pk->payload_off = l4_off + thl;
	pk->payload_len = tcp_len - thl;
	pk->tcp_len = tcp_len;

	if (cb_parse_tcp_opts((const __u8 *)(th + 1), data_end, thl - CB_TCP_HLEN, &pk->opt))
		return CB_PARSE_BAD_OPTIONS;
	return CB_PARSE_OK;
}

static __always_inline enum cb_parse_res cb_parse_ip4(const struct ethhdr *eth,
						      const void *data_end, __u32 frame_len,
						      struct cb_pkt *pk)
{
	const struct iphdr *iph = (const void *)(eth + 1);
	__u32 ihl, tot_len;

	if ((const void *)(iph + 1) > data_end)
		return CB_PARSE_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return CB_PARSE_MALFORMED;
	if (iph->protocol != IPPROTO_TCP)
		return CB_PARSE_NOT_TCP;
	if (iph->frag_off & bpf_htons(CB_IP_MF | CB_IP_OFFMASK))
		return CB_PARSE_FRAGMENT;

	ihl = iph->ihl * 4;
	tot_len = bpf_ntohs(iph->tot_len);
	if (tot_len < ihl + CB_TCP_HLEN || CB_ETH_HLEN + tot_len > frame_len)
		return CB_PARSE_MALFORMED;
	cb_addr_set_v4(&pk->saddr, iph->saddr);
	cb_addr_set_v4(&pk->daddr, iph->daddr);
	pk->ip_tos = iph->tos;
	pk->v6 = 0;
	return cb_parse_tcp(eth, (const void *)iph + ihl, data_end, CB_ETH_HLEN + ihl,
			    tot_len - ihl, pk);
}

/*
 * IPv6: the fixed header, then up to CB_IP6_EXT_MAX extension headers that
 * a TCP endpoint may skip (hop-by-hop first only, destination options, a
 * routing header with no segments left: this host is the destination), in
 * at most CB_IP6_EXT_BYTES.  A fragment header is a fragment; AH, ESP, a
 * routing header with segments left, or more than that are passed as
 * CB_PARSE_IPV6_EXT: the kernel knows what to do with them, connbroker
 * will not guess.  Another next header (ICMPv6, UDP, no next) is not TCP.
 * IPv4-mapped addresses, a multicast or unspecified source: malformed.
 */
static __always_inline enum cb_parse_res cb_parse_ip6(const struct ethhdr *eth,
						      const void *data_end, __u32 frame_len,
						      struct cb_pkt *pk)
{
	const __u8 *ip6 = (const void *)(eth + 1);
	const struct ipv6hdr *h = (const void *)ip6;
	__u32 plen, off = CB_IP6_HLEN, i;
	__u8 nh;

	pk->v6 = 1;             /* counted as IPv6 whatever follows */
	if ((const void *)(h + 1) > data_end)
		return CB_PARSE_MALFORMED;
	if ((ip6[0] >> 4) != 6)
		return CB_PARSE_MALFORMED;
	plen = bpf_ntohs(h->payload_len);
	/* 0: a jumbogram (RFC 2675) or nothing; neither is a segment for us */
	if (plen == 0 || CB_ETH_HLEN + CB_IP6_HLEN + plen > frame_len)
		return CB_PARSE_MALFORMED;
	nh = h->nexthdr;
	for (i = 0; i < CB_IP6_EXT_MAX; i++) {
		const __u8 *x;

		if (nh == IPPROTO_TCP)
			break;
		switch (nh) {
		case CB_IP6_HOPOPTS:
			if (i != 0)     /* only right after the header (RFC 8200 4.3) */
				return CB_PARSE_MALFORMED;
			break;
		case CB_IP6_DSTOPTS:
		case CB_IP6_ROUTING:
			break;
		case CB_IP6_FRAGMENT:
			return CB_PARSE_FRAGMENT;
		case CB_IP6_ESP:
		case CB_IP6_AH:
			return CB_PARSE_IPV6_EXT;
		default:
			return CB_PARSE_NOT_TCP;
		}
		x = ip6 + CB_CLAMP(off, 1023);
		if ((const void *)(x + 8) > data_end)
			return CB_PARSE_MALFORMED;
		if (nh == CB_IP6_ROUTING && x[3] != 0)
			return CB_PARSE_IPV6_EXT;       /* segments left: not for us yet */
		nh = x[0];
		off += ((__u32)x[1] + 1) * 8;
		if (off > CB_IP6_HLEN + CB_IP6_EXT_BYTES)
			return CB_PARSE_IPV6_EXT;
	}
	if (nh != IPPROTO_TCP)
		return CB_PARSE_IPV6_EXT;               /* more than CB_IP6_EXT_MAX */
	if (off - CB_IP6_HLEN > plen)
		return CB_PARSE_MALFORMED;
	__builtin_memcpy(&pk->saddr, &h->saddr, 16);
	__builtin_memcpy(&pk->daddr, &h->daddr, 16);
	/* An IPv4-mapped address never travels in IPv6 (RFC 4291 2.5.5.2): it
	 * would name an IPv4 flow.  A multicast or unspecified source is no
	 * TCP peer.  Both are the kernel's to drop. */
	if (cb_addr_is_v4(&pk->saddr) || cb_addr_is_v4(&pk->daddr) || pk->saddr.b[0] == 0xff ||
	    !(pk->saddr.w[0] | pk->saddr.w[1] | pk->saddr.w[2] | pk->saddr.w[3]))
		return CB_PARSE_MALFORMED;
	pk->ip_tos = (__u8)(((ip6[0] & 0xf) << 4) | (ip6[1] >> 4));
	return cb_parse_tcp(eth, (const void *)(ip6 + CB_CLAMP(off, 1023)), data_end,
			    CB_ETH_HLEN + off, plen - (off - CB_IP6_HLEN), pk);
}

static __always_inline enum cb_parse_res cb_parse(const void *data, const void *data_end,
						  __u32 frame_len, struct cb_pkt *pk)
{
	const struct ethhdr *eth = data;

	pk->v6 = 0;
	if ((const void *)(eth + 1) > data_end)
		return CB_PARSE_MALFORMED;
	if (eth->h_proto == bpf_htons(CB_ETH_P_IP))
		return cb_parse_ip4(eth, data_end, frame_len, pk);
	if (eth->h_proto == bpf_htons(CB_ETH_P_IPV6))
		return cb_parse_ip6(eth, data_end, frame_len, pk);
	return CB_PARSE_NOT_IP;
}

/*
 * The parser behind a verifier boundary.  Each entry file defines the one
 * of its hook with CB_PARSE_ENTRY (a global function: verified once, on its
 * own; its output is unknown to the caller, which keeps the caller's states
 * from multiplying by family and header layout: 550,594 instructions
 * verified for cb_xdp with the parser inlined, 111,676 before IPv6).
 */
int cb_parse_xdp(struct xdp_md *ctx, struct cb_pkt *pk);
int cb_parse_tc(struct __sk_buff *skb, struct cb_pkt *pk);

#define CB_PARSE_ENTRY(name, ctx_type, frame_len)                                   \
	__attribute__((noinline)) int name(ctx_type *ctx, struct cb_pkt *pk)        \
	{                                                                           \
		void *data = (void *)(long)CB_CTX_LOAD32(ctx, ctx_type, data);      \
		void *data_end = (void *)(long)CB_CTX_LOAD32(ctx, ctx_type, data_end); \
                                                                                    \
		if (!pk)                                                            \
			return CB_PARSE_MALFORMED;                                  \
		return cb_parse(data, data_end, (frame_len), pk);                   \
	}

#endif /* CB_PARSE_H */
