/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Every segment connbroker sends from the hook (the SYN-ACK, ACKs for data,
 * RSTs) answers the received one: its addresses swapped, IP options or IPv6
 * extension headers of the original not echoed.  frame.h builds the IP + TCP
 * part; here it gets its
 * Ethernet header, all assembled on the stack, and then replaces the
 * received frame, which is resized to fit.
 */
#ifndef CB_REPLY_H
#define CB_REPLY_H

#include "maps.h"
#include "hook.h"
#include "parse.h"
#include "frame.h"

struct cb_reply_frame {
	struct ethhdr eth;
	struct cb_frame l3;
} __attribute__((packed));

/* Fill f with s answering pk (addresses swapped); return the frame length. */
static __always_inline __u32 cb_reply_build(struct cb_reply_frame *f, const struct cb_pkt *pk,
					    struct cb_seg *s)
{
	__builtin_memcpy(f->eth.h_dest, pk->smac, CB_ETH_ALEN);
	__builtin_memcpy(f->eth.h_source, pk->dmac, CB_ETH_ALEN);
	f->eth.h_proto = bpf_htons(pk->v6 ? CB_ETH_P_IPV6 : CB_ETH_P_IP);
	s->saddr = pk->daddr;
	s->daddr = pk->saddr;
	s->sport = pk->dport;
	s->dport = pk->sport;
	return CB_ETH_HLEN + cb_frame_build(&f->l3, s);
}

/*
 * Make the received frame len bytes long.  An XDP frame grows at its head:
 * drivers leave XDP_PACKET_HEADROOM (256 bytes) in front of it, but maybe no
 * room behind it (native XDP on veth hands over an skb's buffer, which ends
 * right after a small segment: a 54-byte RST could not become a 66-byte
 * challenge ACK).  The tail is the fallback, counted.  The reply is written
 * from offset 0, wherever the frame now starts.  TC: bpf_skb_change_tail()
 * reallocates when it must.
 */
static __always_inline int cb_reply_resize(void *ctx, const enum cb_hook hook, __u32 len)
{
	__u32 cur = cb_frame_len(ctx, hook);

	if (len == cur)
		return 0;       /* a SYN-ACK to a SYN of Linux's options: as long */
	if (hook == CB_HOOK_XDP && len > cur) {
		if (cb_grow_head(ctx, hook, len - cur) == 0)
			return 0;
		cb_count(CB_STAT_REPLY_GROWN_AT_TAIL);
	}
	return cb_resize_tail(ctx, hook, cur, len) ? -1 : 0;
}

_Static_assert(sizeof(struct cb_reply_frame) <= sizeof(((struct cb_scratch *)0)->reply),
	       "cb_scratch.reply holds a reply frame");

/*
 * Replace the received frame by s, sent back to pk's sender; 0 on success.
 * The frame is built in the per-CPU scratch, not on the stack: the 512
 * bytes of stack are shared with the parser's global function (parse.h).
 */
static __always_inline int cb_reply_emit(void *ctx, const enum cb_hook hook,
					 const struct cb_pkt *pk, struct cb_seg *s)
{
	__u32 zero = 0, len;
	struct cb_scratch *sc = bpf_map_lookup_elem(&cb_scratch_map, &zero);
	struct cb_reply_frame *f;

	if (!sc)
		return -1;
	f = (struct cb_reply_frame *)sc->reply;
	len = cb_reply_build(f, pk, s);
	if (len > sizeof(*f))
		return -1;
	if (cb_reply_resize(ctx, hook, len))
		return -1;
	if (cb_store_bytes(ctx, hook, 0, f, len))
		return -1;
	return 0;
}

#endif /* CB_REPLY_H */
