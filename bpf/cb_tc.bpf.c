// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The TC (clsact) entries: ingress runs the same core as XDP; egress keeps
 * the kernel from resetting a flow that connbroker holds, and an
 * uncommitted socket from sending anything.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/core.h"

CB_PARSE_ENTRY(cb_parse_tc, struct __sk_buff, ctx->len)

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7

/*
 * Headers the core reads directly must be in the linear area: Ethernet, the
 * IP header and TCP with options (134 bytes covers IPv4 with options and
 * IPv6 without extension headers); an IPv6 packet whose next header is not
 * TCP may need its extension headers too (up to CB_IP6_EXT_BYTES more).
 * Pulls only what is missing, never on a packet already linear that far:
 * a pull may copy.
 */
#define CB_TC_PULL (CB_ETH_HLEN + 60 + 60)
#define CB_TC_PULL_EXT (CB_ETH_HLEN + CB_IP6_HLEN + CB_IP6_EXT_BYTES + 60)

static __always_inline void cb_tc_pull_to(struct __sk_buff *skb, __u32 want)
{
	void *data = (void *)(long)CB_CTX_LOAD32(skb, struct __sk_buff, data);
	void *data_end = (void *)(long)CB_CTX_LOAD32(skb, struct __sk_buff, data_end);
	__u32 need = skb->len < want ? skb->len : want;

	if (data + need > data_end)
		bpf_skb_pull_data(skb, need);
}

static __always_inline void cb_tc_pull(struct __sk_buff *skb)
{
	const __u8 *h, *end;

	cb_tc_pull_to(skb, CB_TC_PULL);
	/* read in place (linear now, or the frame is shorter): no copy per packet */
	h = (const void *)(long)CB_CTX_LOAD32(skb, struct __sk_buff, data);
	end = (const void *)(long)CB_CTX_LOAD32(skb, struct __sk_buff, data_end);
	if (h + CB_ETH_HLEN + 7 > end)  /* through the IPv6 next header */
		return;
	if (h[12] == (CB_ETH_P_IPV6 >> 8) && h[13] == (CB_ETH_P_IPV6 & 0xff) &&
	    h[CB_ETH_HLEN + 6] != IPPROTO_TCP)
		cb_tc_pull_to(skb, CB_TC_PULL_EXT);
}

SEC("tc")
int cb_tc_ingress(struct __sk_buff *skb)
{
	cb_tc_pull(skb);

	switch (cb_process(skb, CB_HOOK_TC,
			   (void *)(long)CB_CTX_LOAD32(skb, struct __sk_buff, data),
			   (void *)(long)CB_CTX_LOAD32(skb, struct __sk_buff, data_end))) {
	case CB_V_TX:
		/* XDP_TX's equivalent: back out of the interface it came in on
		 * (replies, and frames steered to a peer) */
		return bpf_redirect(skb->ifindex, 0);
	case CB_V_DROP:
		return TC_ACT_SHOT;
	default:
		return TC_ACT_OK;
	}
}

/*
 * What must not leave this host for a flow connbroker holds:
 *  - RSTs of UNBOUND, FROZEN and SHIPPING flows: the stack never saw their
 *    handshake, and if a stray segment reaches it anyway (say, a fragment
 *    the program passed) it answers with an RST that would kill the flow;
 *  - anything of a PENDING or MOVING flow: its socket (built or kept in
 *    repair mode) is inert until the director commits, and must stay silent
 *    even if it would send (a window probe, an ACK): nothing leaves an
 *    uncommitted socket, as CRIU's OUTPUT rule does.
 * This runs on every outgoing packet: it copies only the header bytes it
 * needs (no pull, no unclone), one flow-table lookup per TCP packet.
 */
/* The flow key of an outgoing TCP packet (the reverse direction); -1 if it
 * is not IPv4 or IPv6 TCP (no extension header: the stack adds none to its
 * segments of a flow connbroker holds), or an IPv4 fragment past the first. */
static __always_inline int cb_egress_key(struct __sk_buff *skb, struct cb_flow_key *k,
					 __u8 *flags)
{
	struct ethhdr eth;
	struct tcphdr th;
	__u32 l4;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return -1;
	if (eth.h_proto == bpf_htons(CB_ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, CB_ETH_HLEN, &ip, sizeof(ip)) ||
		    ip.protocol != IPPROTO_TCP || (ip.frag_off & bpf_htons(CB_IP_OFFMASK)) ||
		    ip.ihl < 5)
			return -1;
		l4 = CB_ETH_HLEN + ip.ihl * 4;
		cb_addr_set_v4(&k->saddr, ip.daddr);
		cb_addr_set_v4(&k->daddr, ip.saddr);
	} else if (eth.h_proto == bpf_htons(CB_ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, CB_ETH_HLEN, &ip6, sizeof(ip6)) ||
		    ip6.nexthdr != IPPROTO_TCP)
			return -1;
		l4 = CB_ETH_HLEN + CB_IP6_HLEN;
		__builtin_memcpy(&k->saddr, &ip6.daddr, 16);
		__builtin_memcpy(&k->daddr, &ip6.saddr, 16);
	} else {
		return -1;
	}
	if (bpf_skb_load_bytes(skb, l4, &th, sizeof(th)))
		return -1;
	k->sport_be = th.dest;
	k->dport_be = th.source;
	*flags = ((__u8 *)&th)[13];
	return 0;
}

/*
 * What must not leave this host for a flow connbroker holds:
 *  - RSTs of UNBOUND, FROZEN and SHIPPING flows: the stack never saw their
 *    handshake, and if a stray segment reaches it anyway (say, a fragment
 *    the program passed) it answers with an RST that would kill the flow;
 *  - anything of a PENDING or MOVING flow: its socket (built or kept in
 *    repair mode) is inert until the director commits, and must stay silent
 *    even if it would send (a window probe, an ACK): nothing leaves an
 *    uncommitted socket, as CRIU's OUTPUT rule does.
 * This runs on every outgoing packet: it copies only the header bytes it
 * needs (no pull, no unclone), one flow-table lookup per TCP packet.
 */
SEC("tc")
int cb_tc_egress(struct __sk_buff *skb)
{
	struct cb_flow_key k;
	struct cb_flow *f;
	__u32 state;
	__u8 flags = 0;

	if (cb_egress_key(skb, &k, &flags))
		goto pass;
	f = bpf_map_lookup_elem(&cb_flows, &k);
	if (!f)
		goto pass;
	state = f->state;
	if (state == CB_FLOW_PENDING || state == CB_FLOW_MOVING) {
		cb_count(state == CB_FLOW_PENDING ? CB_STAT_EGRESS_PENDING_DROP
						  : CB_STAT_EGRESS_MOVING_DROP);
		return TC_ACT_SHOT;
	}
	if ((flags & CB_TCP_RST) &&
	    (state == CB_FLOW_UNBOUND || state == CB_FLOW_FROZEN || state == CB_FLOW_SHIPPING)) {
		cb_count(CB_STAT_EGRESS_RST_BLOCKED);
		return TC_ACT_SHOT;
	}
pass:
	cb_count(CB_STAT_EGRESS_PASS);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
