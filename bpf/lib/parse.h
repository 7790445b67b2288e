/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Ethernet/IPv4/TCP parsing into a plain struct on the stack.  Every read is
 * bounds-checked against data_end; TCP options are walked by a bounded loop.
 * The result holds copies, so the packet can be rewritten afterwards.
 */
#ifndef CB_PARSE_H
#define CB_PARSE_H

#include "cookie.h"
#include "frame.h"                   /* header lengths, option kinds, flags */

#define CB_ETH_ALEN 6
#define CB_ETH_P_IP 0x0800
#define CB_ETH_HLEN 14
#define CB_TCP_OPT_MAX 40
#define CB_IP_MF 0x2000
#define CB_IP_OFFMASK 0x1fff

/* Outcome of parsing: keep going, or a final pass/drop with its counter. */
enum cb_parse_res {
	CB_PARSE_OK = 0,
	CB_PARSE_NOT_IP,
	CB_PARSE_NOT_TCP,
	CB_PARSE_FRAGMENT,
	CB_PARSE_MALFORMED,
	CB_PARSE_BAD_OPTIONS,
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
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u32 seq;              /* host order */
	__u32 ack_seq;
	__u16 window;           /* raw field, host order */
	__u8 flags;             /* CB_TCP_* */
	__u8 ip_tos;
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
	/* one step per option; 40 bytes hold at most 40 options */
	bpf_loop(CB_TCP_OPT_MAX, cb_optwalk_step, &w, 0);
	return w.err ? -1 : 0;
}

static __always_inline enum cb_parse_res cb_parse(const void *data, const void *data_end,
						  __u32 frame_len, struct cb_pkt *pk)
{
	const struct ethhdr *eth = data;
	const struct iphdr *iph;
	const struct tcphdr *th;
	__u32 ihl, thl, tot_len;

	if ((const void *)(eth + 1) > data_end)
		return CB_PARSE_MALFORMED;
	if (eth->h_proto != bpf_htons(CB_ETH_P_IP))
		return CB_PARSE_NOT_IP;

	iph = (const void *)(eth + 1);
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

	th = (const void *)iph + ihl;
	if ((const void *)(th + 1) > data_end)
		return CB_PARSE_MALFORMED;
	thl = th->doff * 4;
	if (thl < CB_TCP_HLEN || ihl + thl > tot_len)
		return CB_PARSE_MALFORMED;
	if ((const void *)th + thl > data_end)
		return CB_PARSE_MALFORMED;

	__builtin_memcpy(pk->smac, eth->h_source, CB_ETH_ALEN);
	__builtin_memcpy(pk->dmac, eth->h_dest, CB_ETH_ALEN);
	pk->saddr = iph->saddr;
	pk->daddr = iph->daddr;
	pk->ip_tos = iph->tos;
	pk->sport = th->source;
	pk->dport = th->dest;
	pk->seq = bpf_ntohl(th->seq);
	pk->ack_seq = bpf_ntohl(th->ack_seq);
	pk->window = bpf_ntohs(th->window);
	pk->flags = ((const __u8 *)th)[13];
	pk->l4_off = CB_ETH_HLEN + ihl;
	pk->payload_off = CB_ETH_HLEN + ihl + thl;
	pk->payload_len = tot_len - ihl - thl;
	pk->tcp_len = tot_len - ihl;

	if (cb_parse_tcp_opts((const __u8 *)(th + 1), data_end, thl - CB_TCP_HLEN, &pk->opt))
		return CB_PARSE_BAD_OPTIONS;
	return CB_PARSE_OK;
}

#endif /* CB_PARSE_H */
