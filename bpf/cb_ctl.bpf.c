// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Run by the controller (BPF_PROG_TYPE_SYSCALL through BPF_PROG_TEST_RUN),
 * never attached: flips a flow's state in place with compare-and-swap, and
 * removes a flow only if it is still the one the controller means.
 * Updating the whole entry from userspace would swap in a new LRU element,
 * and the XDP program still holding the old one (on another CPU) could
 * acknowledge bytes the controller never sees.  In place, the program
 * re-reads the state after queuing bytes and acknowledges only if the flow
 * is still UNBOUND.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "lib/maps.h"

/* expect -> state on f, in place; the flow's counters as they stand now
 * (for the controller's checks).  cb_flow_cas and cb_flow_batch. */
static __always_inline void cas_one(struct cb_state_req *req, struct cb_flow *f)
{
	req->old_state = __sync_val_compare_and_swap(&f->state, req->expect, req->state);
	req->result = req->old_state == req->expect ? 0 : -1;
	req->rcv_nxt = f->rcv_nxt;
	req->bytes_in = f->bytes_in;
}

SEC("syscall")
int cb_flow_cas(struct cb_state_req *req)
{
	struct cb_flow_key key = req->key;
	struct cb_flow *f = bpf_map_lookup_elem(&cb_flows, &key);

	if (!f) {
		req->result = -2;       /* -ENOENT */
		return 0;
	}
	cas_one(req, f);
	return 0;
}

/*
 * Remove the flow if it is still in `expect` and still the same connection
 * (client_isn): between the controller reading the entry and deleting it,
 * the program may have removed it (FIN/RST) and a new connection on the
 * tuple created another, which a plain delete would take with it.  Checking
 * and deleting in one run leaves only the few instructions in between.
 */
SEC("syscall")
int cb_flow_cad(struct cb_state_req *req)
{
	struct cb_flow_key key = req->key;
	struct cb_flow *f = bpf_map_lookup_elem(&cb_flows, &key);

	if (!f) {
		req->result = -2;       /* -ENOENT */
		return 0;
	}
	req->old_state = f->state;
	req->rcv_nxt = f->rcv_nxt;
	req->bytes_in = f->bytes_in;
	if (f->state != req->expect || f->client_isn != req->client_isn) {
		req->result = -1;
		return 0;
	}
	req->result = bpf_map_delete_elem(&cb_flows, &key) ? -2 : 0;
	return 0;
}

/*
 * cb_flow_cas, or a copy of the flow, for up to CB_FLOW_BATCH flows in one
 * run.  Unrolled: a syscall program's context is read at constant offsets
 * only.
 */
SEC("syscall")
int cb_flow_batch(struct cb_flow_batch *b)
{
	__u32 n = b->n, op = b->op;
	int i;

#pragma clang loop unroll(full)
	for (i = 0; i < CB_FLOW_BATCH; i++) {
		struct cb_state_req *req = &b->item[i].req;
		struct cb_flow_key key;
		struct cb_flow *f;

		if (i >= n)
			break;
		key = req->key;
		f = bpf_map_lookup_elem(&cb_flows, &key);
		if (!f) {
			req->result = -2;       /* -ENOENT */
			continue;
		}
		if (op == CB_BATCH_GET) {
			b->item[i].flow = *f;
			req->old_state = f->state;
			req->result = 0;
			continue;
		}
		cas_one(req, f);
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
