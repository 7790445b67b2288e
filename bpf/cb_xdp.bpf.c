// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The XDP entry: a thin wrapper around the shared core (bpf/lib/core.h). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/core.h"

CB_PARSE_ENTRY(cb_parse_xdp, struct xdp_md, (__u32)bpf_xdp_get_buff_len(ctx))

SEC("xdp")
int cb_xdp(struct xdp_md *ctx)
{
	switch (cb_process(ctx, CB_HOOK_XDP, (void *)(long)ctx->data,
			   (void *)(long)ctx->data_end)) {
	case CB_V_TX:
		return XDP_TX;
	case CB_V_DROP:
		return XDP_DROP;
	default:
		return XDP_PASS;
	}
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
