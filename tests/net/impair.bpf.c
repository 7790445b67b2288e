// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Test topology helper, not part of the product: reordering and late
 * duplicates for tests/net/tests_loss.sh (loss itself is nftables').
 *
 * impair_egress runs at clsact egress of the bridge ports towards the client
 * and towards the director.  Of the IPv4 TCP segments to or from the client
 * address (cfg[CFG_CLIENT_IP]) it sends a fraction through a delay line:
 *
 *   reorder  (cfg[CFG_REORDER] per 10,000): the segment is cloned to the
 *            delay line and the original dropped: its only copy arrives
 *            late, after the segments sent behind it
 *   duplicate (cfg[CFG_DUP] per 10,000): cloned to the delay line, the
 *            original goes on: a byte-identical copy arrives late
 *
 * The delay line is a veth pair: the clone leaves by cfg[CFG_DELAY_IF] and
 * tests/net/loss_delay.py reads it on the far end (AF_PACKET), holds it for
 * a few to a few hundred milliseconds and sends it out of the port it was
 * taken from with SO_MARK = IMPAIR_MARK.  This kernel has neither netem nor
 * fq (whose EDT timestamps would have held it in the kernel).  A marked
 * segment is one coming back: it passes untouched (mark cleared).
 * impair_sink drops what reaches the far end of the delay line after its
 * packet taps (the delay line's socket) saw it.
 *
 * Counters per direction (0: to the director, 1: to the client) in
 * impair_stats[dir * STAT_N + STAT_*].
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define ETH_P_IP 0x0800
#define IMPAIR_MARK 0xcb1055

enum { CFG_DELAY_IF, CFG_CLIENT_IP, CFG_REORDER, CFG_DUP, CFG_N };
enum { STAT_SEEN, STAT_REORDERED, STAT_DUPLICATED, STAT_RETURNED, STAT_CLONE_FAIL, STAT_N };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CFG_N);
	__type(key, __u32);
	__type(value, __u32);
} impair_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * STAT_N);
	__type(key, __u32);
	__type(value, __u64);
} impair_stats SEC(".maps");

static __always_inline __u32 cfg(__u32 k)
{
	__u32 *v = bpf_map_lookup_elem(&impair_cfg, &k);

	return v ? *v : 0;
}

static __always_inline void count(__u32 dir, __u32 what)
{
	__u32 k = dir * STAT_N + what;
	__u64 *v = bpf_map_lookup_elem(&impair_stats, &k);

	if (v)
		*v += 1;
}

SEC("tc")
int impair_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u32 client, r, reorder, dup, dir;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_TCP)
		return TC_ACT_OK;
	client = cfg(CFG_CLIENT_IP);
	if (ip->saddr == client)
		dir = 0;
	else if (ip->daddr == client)
		dir = 1;
	else
		return TC_ACT_OK;
	if (skb->mark == IMPAIR_MARK) {         /* back from the delay line */
		skb->mark = 0;
		count(dir, STAT_RETURNED);
		return TC_ACT_OK;
	}
	count(dir, STAT_SEEN);
	reorder = cfg(CFG_REORDER);
	dup = cfg(CFG_DUP);
	r = bpf_get_prandom_u32() % 10000;
	if (r >= reorder + dup)
		return TC_ACT_OK;
	if (bpf_clone_redirect(skb, cfg(CFG_DELAY_IF), 0)) {
		count(dir, STAT_CLONE_FAIL);
		return TC_ACT_OK;
	}
	if (r < reorder) {
		count(dir, STAT_REORDERED);
		return TC_ACT_SHOT;
	}
	count(dir, STAT_DUPLICATED);
	return TC_ACT_OK;
}

SEC("tc")
int impair_sink(struct __sk_buff *skb)
{
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
