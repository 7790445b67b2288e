/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The flow table of an attached interface, as the controller sees it: read
 * an entry, create one for a tuple that has none (a flow shipped here),
 * change its state in place (compare-and-swap, bpf/cb_ctl.bpf.c), remove
 * it, count entries by state.  Only ctl/owner.c changes states; this
 * file only knows how.
 */
#ifndef CB_FLOWS_H
#define CB_FLOWS_H

#include <errno.h>
#include <stdint.h>
#include <connbroker/shared.h>

struct cb_ctl;                          /* the skeleton of bpf/cb_ctl.bpf.c */

struct cb_flows {
	int fd;                         /* pinned cb_flows */
	struct cb_ctl *prog;            /* in-place state changes */
};

/* A state program's req.result as an errno: 0 done, -EAGAIN another state,
 * -ENOENT no entry. */
static inline int cb_state_errno(int32_t result)
{
	return result == -2 ? -ENOENT : result ? -EAGAIN : 0;
}

/* Open the table of ifname and load the state-change program; -errno. */
int cb_flows_open(struct cb_flows *t, const char *ifname);
void cb_flows_close(struct cb_flows *t);

/* 0, or -ENOENT when the tuple has no entry. */
int cb_flows_lookup(const struct cb_flows *t, const struct cb_flow_key *k, struct cb_flow *out);
/*
 * Set the state to `state` if it is `expect`, atomically against the
 * programs: 0 done, -EAGAIN the state was another (*old says which),
 * -ENOENT no entry.  *req (optional) receives rcv_nxt and bytes_in as read
 * in the same step.
 */
int cb_flows_cas(const struct cb_flows *t, const struct cb_flow_key *k, uint32_t expect,
		 uint32_t state, uint32_t *old, struct cb_state_req *req);
/*
 * b->n flows (up to CB_FLOW_BATCH) in one run of the state program:
 * CB_BATCH_CAS sets each item's req.state if the flow is in req.expect,
 * CB_BATCH_GET copies each flow into item.flow.  Per item, req.result is
 * 0, -1 (another state: req.old_state) or -2 (no entry).  0, or -errno
 * when the run itself failed (then no item was changed).
 */
int cb_flows_batch(const struct cb_flows *t, struct cb_flow_batch *b);
/*
 * Remove the entry if it is still in `expect` and still the connection whose
 * client ISN is client_isn: 0, -EAGAIN (another state or connection: *old
 * says the state), -ENOENT.
 */
int cb_flows_delete_if(const struct cb_flows *t, const struct cb_flow_key *k, uint32_t expect,
		       uint32_t client_isn, uint32_t *old);
/*
 * Create the entry of a tuple that has none (BPF_NOEXIST): the PENDING flow
 * of a socket shipped to this node, before it is built.  0, or -EEXIST when
 * the tuple has an entry (a flow of its own, or an older move's).  An entry
 * that exists changes only in place (cb_flows_cas).
 */
int cb_flows_insert(const struct cb_flows *t, const struct cb_flow_key *k, const struct cb_flow *f);
/* Entries by state (index = enum cb_flow_state, up to n): batch lookups of
 * 4,096 entries a syscall (a million-entry table in ~250), else a walk. */
int cb_flows_count(const struct cb_flows *t, unsigned long *by_state, unsigned int n);
/* The same on a map fd; by_state may be NULL: the number of entries, or -errno. */
long cb_flows_count_fd(int fd, unsigned long *by_state, unsigned int n);
/* Call fn for each entry (a copy) until it returns non-zero, which is returned. */
typedef int (*cb_flow_fn)(const struct cb_flow_key *k, const struct cb_flow *f, void *arg);
int cb_flows_foreach(const struct cb_flows *t, cb_flow_fn fn, void *arg);

#endif
