// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Test topology helper, not part of the product: native XDP_TX on a veth only
 * reaches the peer if the peer runs an XDP program too, so the bridge-side
 * ends of XDP-attached veths get this one.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
