// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Run by the controller (BPF_PROG_TYPE_SYSCALL through BPF_PROG_TEST_RUN),
 * never attached: flips a flow's state in place with compare-and-swap.
 * Updating the whole entry from userspace would swap in a new LRU element,
 * and the XDP program still holding the old one (on another CPU) could
 * acknowledge bytes the controller never sees.  In place, the program
 * re-reads the state after queuing bytes and acknowledges only if the flow
 * is still UNBOUND.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/maps.h"

SEC("syscall")
int cb_flow_cas(struct cb_state_req *req)
{
	struct cb_flow_key key = req->key;
	struct cb_flow *f = bpf_map_lookup_elem(&cb_flows, &key);

	if (!f) {
		req->result = -2;       /* -ENOENT */
		return 0;
	}
	req->old_state = __sync_val_compare_and_swap(&f->state, req->expect, req->state);
	req->result = req->old_state == req->expect ? 0 : -1;
	/* the flow's counters as they stand now (for the controller's checks) */
	req->rcv_nxt = f->rcv_nxt;
	req->bytes_in = f->bytes_in;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
