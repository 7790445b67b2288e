// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Benchmark helper, not part of the product: the cheapest thing a receiver
 * can do with a packet, at XDP and at TC ingress.  make bench (section 1)
 * floods an interface running only one of these, so that what the generator
 * and the veth hop cost per packet can be taken out of the whole path's
 * figure, for each hook on its own receive path.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("tc")
int tc_drop(struct __sk_buff *skb)
{
	return 2;       /* TC_ACT_SHOT */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
