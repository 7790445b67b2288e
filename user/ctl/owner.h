/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Who owns a flow, and the only code in the controller that changes it.
 *
 * Owners: the flow table (UNBOUND: the program holds the handshake and
 * queues the bytes), a local socket (LOCAL), a peer (REDIRECT, on the
 * director), or nobody while the flow is being moved (FROZEN, SHIPPING on
 * the director, PENDING on the target: segments dropped, the client
 * retransmits).  "No entry" is CB_OWNER_NONE.  The controller may make only
 * the moves listed in owner.c's table; every other one is refused with
 * -EPERM before anything is touched.  In particular a LOCAL flow is removed
 * only once no socket holds its tuple (checked with sock_diag): its socket
 * belongs to an app, also after a controller restart.
 * Moves the programs make themselves (flow created on a valid cookie,
 * removed on FIN/RST, a LOCAL tuple reused by a new SYN) are theirs and are
 * listed in docs/architecture.md.
 */
#ifndef CB_OWNER_H
#define CB_OWNER_H

#include <stdint.h>
#include <connbroker/shared.h>

struct cb_flows;

#define CB_OWNER_NONE 0u                /* no entry in the flow table */

/* 1 if the controller may move a flow from `from` to `to`. */
int cb_owner_allowed(uint32_t from, uint32_t to);
/* Why that move exists (for logs and docs); NULL when it is not allowed. */
const char *cb_owner_reason(uint32_t from, uint32_t to);
/* "unbound", "local", "frozen", "none", "?" */
const char *cb_owner_name(uint32_t state);

/*
 * Move k from `from` to `to`: -EPERM when the table has no such move, else
 * 0, -EAGAIN (the flow is in another state: *old tells which), -ENOENT (no
 * entry), or another -errno.  *req, when given, receives rcv_nxt/bytes_in
 * as read in the same step (state changes only).
 */
int cb_owner_move(const struct cb_flows *t, const struct cb_flow_key *k, uint32_t from,
		  uint32_t to, uint32_t *old, struct cb_state_req *req);
/*
 * The same move for the n flows of b (keys in b->item[i].req.key, n up to
 * CB_FLOW_BATCH) in one run: res[i] is what cb_owner_move() would return
 * for each (old[i] the state found).  0, -EPERM (no such move; removals are
 * one at a time), or the run's -errno (then res[] is that for every flow).
 */
int cb_owner_move_many(const struct cb_flows *t, struct cb_flow_batch *b, uint32_t from,
		       uint32_t to, int *res, uint32_t *old);
/*
 * A flow the controller creates (a peer shipped it here: PENDING), from the
 * template f: 0, -EEXIST (the tuple has an entry), -EPERM (not a creation
 * the table allows).
 */
int cb_owner_create(const struct cb_flows *t, const struct cb_flow_key *k, uint32_t state,
		    const struct cb_flow *f);
/* The flow's state now, CB_OWNER_NONE without an entry, or -errno. */
int cb_owner_state(const struct cb_flows *t, const struct cb_flow_key *k);

#endif
