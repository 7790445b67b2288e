/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * One builder for every segment connbroker sends from the hook: the SYN-ACK,
 * ACKs for data, and RSTs.  The reply is assembled on the stack (Ethernet,
 * a 20-byte IPv4 header, TCP with its options), checksummed there, and then
 * replaces the received frame, which is resized to fit.  The received frame's
 * addresses are swapped; IP options of the original are not echoed.
 */
#ifndef CB_REPLY_H
#define CB_REPLY_H

#include "hook.h"
#include "parse.h"
#include "csum.h"

#define CB_REPLY_OPT_MAX 20
#define CB_REPLY_TTL 64

enum cb_reply_kind {
	CB_REPLY_SYNACK,        /* MSS, SACK-permitted, timestamps, window scale */
	CB_REPLY_ACK,           /* timestamps when negotiated */
	CB_REPLY_RST,           /* no options */
};

struct cb_reply {
	__u32 seq;
	__u32 ack;
	__u16 window;           /* raw field value */
	__u8 flags;
	__u8 kind;              /* enum cb_reply_kind */
	__u16 mss;              /* SYNACK */
	__u8 wscale;            /* SYNACK: ours, CB_WSCALE_NONE = do not offer */
	__u8 sack;              /* SYNACK */
	__u8 ts;                /* SYNACK/ACK: add a timestamp option */
	__u8 pad[3];
	__u32 tsval;
	__u32 tsecr;
};

struct cb_frame {
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
	__u8 opt[CB_REPLY_OPT_MAX];
} __attribute__((packed));

static __always_inline void cb_put32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Write the options for r into opt; return their length (multiple of 4). */
static __always_inline __u32 cb_reply_opts(__u8 *opt, const struct cb_reply *r)
{
	__u32 n = 0;

	if (r->kind == CB_REPLY_RST)
		return 0;
	if (r->kind == CB_REPLY_SYNACK) {
		opt[0] = CB_TCPOPT_MSS;
		opt[1] = 4;
		opt[2] = r->mss >> 8;
		opt[3] = r->mss & 0xff;
		n = 4;
	}
	if (r->ts) {
		/* SACK-permitted rides in the two bytes Linux would pad with NOPs */
		if (r->kind == CB_REPLY_SYNACK && r->sack) {
			opt[n] = CB_TCPOPT_SACK_PERM;
			opt[n + 1] = 2;
		} else {
			opt[n] = CB_TCPOPT_NOP;
			opt[n + 1] = CB_TCPOPT_NOP;
		}
		opt[n + 2] = CB_TCPOPT_TS;
		opt[n + 3] = 10;
		cb_put32(&opt[n + 4], r->tsval);
		cb_put32(&opt[n + 8], r->tsecr);
		n += 12;
	} else if (r->kind == CB_REPLY_SYNACK && r->sack) {
		opt[n] = CB_TCPOPT_NOP;
		opt[n + 1] = CB_TCPOPT_NOP;
		opt[n + 2] = CB_TCPOPT_SACK_PERM;
		opt[n + 3] = 2;
		n += 4;
	}
	if (r->kind == CB_REPLY_SYNACK && r->wscale != CB_WSCALE_NONE) {
		opt[n] = CB_TCPOPT_NOP;
		opt[n + 1] = CB_TCPOPT_WSCALE;
		opt[n + 2] = 3;
		opt[n + 3] = r->wscale;
		n += 4;
	}
	return n;
}

/* Fill f (addresses swapped from pk); return the frame length. */
static __always_inline __u32 cb_reply_build(struct cb_frame *f, const struct cb_pkt *pk,
					    const struct cb_reply *r)
{
	__u32 optlen = cb_reply_opts(f->opt, r);
	__u32 tcplen = CB_TCP_HLEN + optlen;
	__u32 sum;

	__builtin_memcpy(f->eth.h_dest, pk->smac, CB_ETH_ALEN);
	__builtin_memcpy(f->eth.h_source, pk->dmac, CB_ETH_ALEN);
	f->eth.h_proto = bpf_htons(CB_ETH_P_IP);

	f->ip.version = 4;
	f->ip.ihl = 5;
	f->ip.tos = 0;
	f->ip.tot_len = bpf_htons(CB_IP_HLEN + tcplen);
	f->ip.id = 0;
	f->ip.frag_off = bpf_htons(0x4000);     /* DF */
	f->ip.ttl = CB_REPLY_TTL;
	f->ip.protocol = IPPROTO_TCP;
	f->ip.check = 0;
	f->ip.saddr = pk->daddr;
	f->ip.daddr = pk->saddr;
	f->ip.check = cb_csum_fold(cb_csum_add(0, &f->ip, CB_IP_HLEN, CB_IP_HLEN));

	__builtin_memset(&f->tcp, 0, sizeof(f->tcp));
	f->tcp.source = pk->dport;
	f->tcp.dest = pk->sport;
	f->tcp.seq = bpf_htonl(r->seq);
	f->tcp.ack_seq = bpf_htonl(r->ack);
	f->tcp.doff = tcplen / 4;
	((__u8 *)&f->tcp)[13] = r->flags;
	f->tcp.window = bpf_htons(r->window);
	sum = cb_csum_pseudo(pk->daddr, pk->saddr, tcplen);
	sum = cb_csum_add(sum, &f->tcp, tcplen, CB_TCP_HLEN + CB_REPLY_OPT_MAX);
	f->tcp.check = cb_csum_fold(sum);

	return CB_ETH_HLEN + CB_IP_HLEN + tcplen;
}

/* Replace the received frame by the reply; 0 on success. */
static __always_inline int cb_reply_emit(void *ctx, const enum cb_hook hook,
					 const struct cb_pkt *pk, const struct cb_reply *r)
{
	struct cb_frame f;
	__u32 len = cb_reply_build(&f, pk, r);

	if (len > sizeof(f))
		return -1;
	if (cb_resize(ctx, hook, len))
		return -1;
	if (cb_store_bytes(ctx, hook, 0, &f, len))
		return -1;
	return 0;
}

#endif /* CB_REPLY_H */
