/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The one builder of the IPv4 or IPv6 + TCP segments connbroker sends: the
 * SYN-ACK, ACKs and RSTs.  Pure C with no BPF helper and no Ethernet: the
 * programs wrap it in a frame (reply.h), and userspace sends its output as it
 * is through a raw socket (IPPROTO_RAW).  Userspace includes it like csum.h:
 *
 *     #include <linux/types.h>
 *     #include "lib/frame.h"             (with -Ibpf)
 *
 * The header is 20 bytes of IPv4 (no options, DF, TTL 64, ID 0), or 40 of
 * IPv6 (no extension header, hop limit 64, flow label 0), by the family of
 * the addresses, and TCP with the options of its kind; checksums filled in.
 */
#ifndef CB_FRAME_H
#define CB_FRAME_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#include <bpf/bpf_endian.h>
#include <connbroker/shared.h>       /* union cb_addr */
#include "csum.h"
#include "cookie.h"                  /* CB_WSCALE_NONE */

#define CB_IP_HLEN 20                /* IPv4 header without options */
#define CB_IP6_HLEN 40               /* IPv6 header */
#define CB_TCP_HLEN 20               /* TCP header without options */
#define CB_FRAME_OPT_MAX 20          /* the most options a kind carries (SYN-ACK) */
#define CB_FRAME_MAX (CB_IP6_HLEN + CB_TCP_HLEN + CB_FRAME_OPT_MAX)
#define CB_FRAME_TTL 64

#define CB_TCPOPT_EOL 0
#define CB_TCPOPT_NOP 1
#define CB_TCPOPT_MSS 2
#define CB_TCPOPT_WSCALE 3
#define CB_TCPOPT_SACK_PERM 4
#define CB_TCPOPT_TS 8

/* TCP flag bits in the 14th header byte */
#define CB_TCP_FIN 0x01
#define CB_TCP_SYN 0x02
#define CB_TCP_RST 0x04
#define CB_TCP_PSH 0x08
#define CB_TCP_ACK 0x10

/* Which options the segment carries. */
enum cb_seg_kind {
	CB_SEG_KIND_SYNACK,     /* MSS, SACK-permitted, timestamps, window scale */
	CB_SEG_KIND_ACK,        /* timestamps if `ts` */
	CB_SEG_KIND_RST,        /* no options */
};

/* What to send.  Addresses and ports in network order, the rest host order;
 * both addresses of one family (IPv4 mapped, or IPv6). */
struct cb_seg {
	union cb_addr saddr;
	union cb_addr daddr;
	__be16 sport;
	__be16 dport;
	__u32 seq;
	__u32 ack;
	__u16 window;           /* raw field value */
	__u8 flags;             /* CB_TCP_* */
	__u8 kind;              /* enum cb_seg_kind */
	__u16 mss;              /* SYNACK */
	__u8 wscale;            /* SYNACK: ours, CB_WSCALE_NONE = do not offer */
	__u8 sack;              /* SYNACK */
	__u8 ts;                /* SYNACK/ACK: add a timestamp option */
	__u8 pad[3];
	__u32 tsval;
	__u32 tsecr;
};

/* Wire layout without bit-fields: the same on every host and in BPF. */
struct cb_ip4_hdr {
	__u8 ver_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__be32 saddr;
	__be32 daddr;
} __attribute__((packed));

struct cb_tcp_hdr {
	__be16 source;
	__be16 dest;
	__be32 seq;
	__be32 ack_seq;
	__u8 doff;              /* data offset << 4 */
	__u8 flags;
	__be16 window;
	__u16 check;
	__be16 urg_ptr;
} __attribute__((packed));

struct cb_ip6_hdr {
	__be32 ver_tc_flow;     /* version 6, traffic class, flow label */
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	union cb_addr saddr;
	union cb_addr daddr;
} __attribute__((packed));

/* The caller's buffer: the segment starts at its first byte, whichever
 * family, cb_frame_build() bytes long. */
struct cb_frame {
	union {
		struct {
			struct cb_ip4_hdr ip;
			struct cb_tcp_hdr tcp;
			__u8 opt[CB_FRAME_OPT_MAX];
		} __attribute__((packed)) v4;
		struct {
			struct cb_ip6_hdr ip;
			struct cb_tcp_hdr tcp;
			__u8 opt[CB_FRAME_OPT_MAX];
		} __attribute__((packed)) v6;
	};
} __attribute__((packed));

_Static_assert(sizeof(struct cb_ip4_hdr) == CB_IP_HLEN, "cb_ip4_hdr layout");
_Static_assert(sizeof(struct cb_ip6_hdr) == CB_IP6_HLEN, "cb_ip6_hdr layout");
_Static_assert(sizeof(struct cb_tcp_hdr) == CB_TCP_HLEN, "cb_tcp_hdr layout");
_Static_assert(sizeof(struct cb_frame) == CB_FRAME_MAX, "cb_frame layout");

static __always_inline void cb_put32(__u8 *p, __u32 v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Write the options of s into opt; return their length (multiple of 4). */
static __always_inline __u32 cb_frame_opts(__u8 *opt, const struct cb_seg *s)
{
	__u32 n = 0;

	if (s->kind == CB_SEG_KIND_RST)
		return 0;
	if (s->kind == CB_SEG_KIND_SYNACK) {
		opt[0] = CB_TCPOPT_MSS;
		opt[1] = 4;
		opt[2] = s->mss >> 8;
		opt[3] = s->mss & 0xff;
		n = 4;
	}
	if (s->ts) {
		/* SACK-permitted rides in the two bytes Linux would pad with NOPs */
		if (s->kind == CB_SEG_KIND_SYNACK && s->sack) {
			opt[n] = CB_TCPOPT_SACK_PERM;
			opt[n + 1] = 2;
		} else {
			opt[n] = CB_TCPOPT_NOP;
			opt[n + 1] = CB_TCPOPT_NOP;
		}
		opt[n + 2] = CB_TCPOPT_TS;
		opt[n + 3] = 10;
		cb_put32(&opt[n + 4], s->tsval);
		cb_put32(&opt[n + 8], s->tsecr);
		n += 12;
	} else if (s->kind == CB_SEG_KIND_SYNACK && s->sack) {
		opt[n] = CB_TCPOPT_NOP;
		opt[n + 1] = CB_TCPOPT_NOP;
		opt[n + 2] = CB_TCPOPT_SACK_PERM;
		opt[n + 3] = 2;
		n += 4;
	}
	if (s->kind == CB_SEG_KIND_SYNACK && s->wscale != CB_WSCALE_NONE) {
		opt[n] = CB_TCPOPT_NOP;
		opt[n + 1] = CB_TCPOPT_WSCALE;
		opt[n + 2] = 3;
		opt[n + 3] = s->wscale;
		n += 4;
	}
	return n;
}

/* The TCP header and options of s at t/opt, checksum over the pseudo-header. */
static __always_inline __u32 cb_frame_tcp(struct cb_tcp_hdr *t, __u8 *opt, const struct cb_seg *s)
{
	__u32 tcplen = CB_TCP_HLEN + cb_frame_opts(opt, s);
	__u32 sum;

	__builtin_memset(t, 0, sizeof(*t));
	t->source = s->sport;
	t->dest = s->dport;
	t->seq = bpf_htonl(s->seq);
	t->ack_seq = bpf_htonl(s->ack);
	t->doff = (__u8)((tcplen / 4) << 4);
	t->flags = s->flags;
	t->window = bpf_htons(s->window);
	sum = cb_csum_pseudo(&s->saddr, &s->daddr, tcplen);
	sum = cb_csum_add(sum, t, tcplen, CB_TCP_HLEN + CB_FRAME_OPT_MAX);
	t->check = cb_csum_fold(sum);
	return tcplen;
}

/* Build the IPv4 or IPv6 + TCP segment s into f; return its length
 * (IPv4: 40..60 bytes, IPv6: 60..80). */
static __always_inline __u32 cb_frame_build(struct cb_frame *f, const struct cb_seg *s)
{
	__u32 tcplen;

	if (!cb_addr_is_v4(&s->saddr)) {
		tcplen = cb_frame_tcp(&f->v6.tcp, f->v6.opt, s);
		f->v6.ip.ver_tc_flow = bpf_htonl(0x60000000);
		f->v6.ip.payload_len = bpf_htons(tcplen);
		f->v6.ip.nexthdr = 6;                   /* IPPROTO_TCP */
		f->v6.ip.hop_limit = CB_FRAME_TTL;
		f->v6.ip.saddr = s->saddr;
		f->v6.ip.daddr = s->daddr;
		return CB_IP6_HLEN + tcplen;
	}
	tcplen = cb_frame_tcp(&f->v4.tcp, f->v4.opt, s);
	f->v4.ip.ver_ihl = 0x45;        /* version 4, 5 words */
	f->v4.ip.tos = 0;
	f->v4.ip.tot_len = bpf_htons(CB_IP_HLEN + tcplen);
	f->v4.ip.id = 0;
	f->v4.ip.frag_off = bpf_htons(0x4000);  /* DF */
	f->v4.ip.ttl = CB_FRAME_TTL;
	f->v4.ip.protocol = 6;                  /* IPPROTO_TCP */
	f->v4.ip.check = 0;
	f->v4.ip.saddr = s->saddr.w[3];
	f->v4.ip.daddr = s->daddr.w[3];
	f->v4.ip.check = cb_csum_fold(cb_csum_add(0, &f->v4.ip, CB_IP_HLEN, CB_IP_HLEN));
	return CB_IP_HLEN + tcplen;
}

#endif /* CB_FRAME_H */
