// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Benchmark helper, not part of the product: the cheapest thing a receiver
 * can do with a packet.  make bench (section 1) floods an interface running
 * only this, so that what the generator and the veth hop cost per packet can
 * be taken out of the whole path's figure.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
