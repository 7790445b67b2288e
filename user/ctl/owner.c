// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stddef.h>
#include "datapath/flows.h"
#include "ctl/owner.h"
#include "repair/tuple.h"

/* Every move the controller makes.  tests/unit/test_owner.c walks it. */
static const struct {
	uint32_t from, to;
	const char *reason;
} moves[] = {
	/* a flow held here */
	{ CB_FLOW_UNBOUND, CB_FLOW_FROZEN,
	  "hand-off starts: the program stops taking bytes before a socket is built" },
	{ CB_FLOW_FROZEN, CB_FLOW_LOCAL,
	  "the socket exists on this node: its segments go to the kernel" },
	{ CB_FLOW_UNBOUND, CB_OWNER_NONE,
	  "reset: the flow cannot be delivered (no app, no slot, service gone)" },
	{ CB_FLOW_FROZEN, CB_OWNER_NONE,
	  "reset: the socket could not be built or handed over" },
	/* the director of a hand-off to a peer */
	{ CB_FLOW_UNBOUND, CB_FLOW_SHIPPING,
	  "shipping starts: the program stops taking bytes; the image goes to the peer" },
	{ CB_FLOW_SHIPPING, CB_FLOW_REDIRECT,
	  "the peer built the socket: the client's segments go to it (then COMMIT)" },
	{ CB_FLOW_SHIPPING, CB_FLOW_UNBOUND,
	  "the peer refused or did not answer: held here again, placed anew" },
	{ CB_FLOW_SHIPPING, CB_OWNER_NONE, "reset: shipping failed and no node can take it" },
	{ CB_FLOW_REDIRECT, CB_FLOW_UNBOUND,
	  "the COMMIT could not be sent: the peer's socket stays inert, held here again" },
	{ CB_FLOW_REDIRECT, CB_OWNER_NONE,
	  "steering ends: the connection closed, or its node is gone" },
	/* the target of a hand-off */
	{ CB_OWNER_NONE, CB_FLOW_PENDING,
	  "a peer shipped it here: its socket is built in repair mode, inert" },
	{ CB_FLOW_PENDING, CB_FLOW_LOCAL, "the director committed: the socket goes live" },
	{ CB_FLOW_PENDING, CB_OWNER_NONE, "aborted, or no commit within the lease" },
	/* live migration (ctl/cluster_move.c): the owner's socket frozen, dumped,
	 * kept inert in repair mode until the move is settled */
	{ CB_FLOW_LOCAL, CB_FLOW_MOVING,
	  "a live connection moves: its segments dropped both ways, its socket dumped" },
	{ CB_OWNER_NONE, CB_FLOW_MOVING,
	  "a live connection whose LOCAL entry was evicted moves (as LOCAL -> MOVING)" },
	{ CB_FLOW_MOVING, CB_FLOW_LOCAL,
	  "the move failed or was refused: its socket goes live here again" },
	{ CB_FLOW_MOVING, CB_FLOW_REDIRECT,
	  "moved from this director to a peer, which built it: its segments go there" },
	{ CB_FLOW_MOVING, CB_OWNER_NONE,
	  "moved away (the director committed it elsewhere), its socket closed silently" },
	{ CB_FLOW_REDIRECT, CB_FLOW_LOCAL,
	  "moved from a peer to this director, which built it: its segments reach it here" },
	/* a LOCAL entry outlives its socket: only then may the tuple be reused */
	{ CB_FLOW_LOCAL, CB_OWNER_NONE,
	  "its socket is gone (checked first): the tuple is free for a new connection" },
};

const char *cb_owner_reason(uint32_t from, uint32_t to)
{
	size_t i;

	for (i = 0; i < sizeof(moves) / sizeof(moves[0]); i++)
		if (moves[i].from == from && moves[i].to == to)
			return moves[i].reason;
	return NULL;
}

int cb_owner_allowed(uint32_t from, uint32_t to)
{
	return cb_owner_reason(from, to) != NULL;
}

const char *cb_owner_name(uint32_t state)
{
	return state == CB_OWNER_NONE ? "none" : cb_flow_state_name(state);
}

/* Does a kernel socket (not a listener) hold the flow's tuple? */
static int socket_lives(const struct cb_flow_key *k)
{
	int st = cb_tuple_state_of(k);

	/* unknown (sock_diag failed) counts as alive: never remove then */
	return st != -ENOENT && st != TCP_CLOSE && st != TCP_TIME_WAIT;
}

int cb_owner_create(const struct cb_flows *t, const struct cb_flow_key *k, uint32_t state,
		    const struct cb_flow *f)
{
	struct cb_flow e = *f;

	if (!cb_owner_allowed(CB_OWNER_NONE, state))
		return -EPERM;
	e.state = state;
	return cb_flows_insert(t, k, &e);
}

int cb_owner_state(const struct cb_flows *t, const struct cb_flow_key *k)
{
	struct cb_flow f;
	int err = cb_flows_lookup(t, k, &f);

	if (err == -ENOENT)
		return CB_OWNER_NONE;
	return err ? err : (int)f.state;
}

int cb_owner_move(const struct cb_flows *t, const struct cb_flow_key *k, uint32_t from,
		  uint32_t to, uint32_t *old, struct cb_state_req *req)
{
	struct cb_flow f;
	int err;

	if (!cb_owner_allowed(from, to) || from == CB_OWNER_NONE)
		return -EPERM;          /* creation is cb_owner_create() */
	if (to != CB_OWNER_NONE)
		return cb_flows_cas(t, k, from, to, old, req);
	/* removal: of the connection the caller means, in the state it believes */
	if ((err = cb_flows_lookup(t, k, &f)))
		return err;
	if (old)
		*old = f.state;
	if (f.state != from)
		return -EAGAIN;
	if (from == CB_FLOW_LOCAL && socket_lives(k))
		return -EPERM;          /* an app's connection: never */
	return cb_flows_delete_if(t, k, from, f.client_isn, old);
}

int cb_owner_move_many(const struct cb_flows *t, struct cb_flow_batch *b, uint32_t from,
		       uint32_t to, int *res, uint32_t *old)
{
	uint32_t i;
	int err;

	if (!cb_owner_allowed(from, to) || from == CB_OWNER_NONE || to == CB_OWNER_NONE) {
		for (i = 0; i < b->n; i++) {
			res[i] = -EPERM;
			old[i] = 0;
		}
		return -EPERM;
	}
	b->op = CB_BATCH_CAS;
	for (i = 0; i < b->n; i++) {
		b->item[i].req.expect = from;
		b->item[i].req.state = to;
	}
	err = cb_flows_batch(t, b);
	for (i = 0; i < b->n; i++) {
		const struct cb_state_req *r = &b->item[i].req;

		old[i] = err ? 0 : r->old_state;
		res[i] = err ? err : cb_state_errno(r->result);
	}
	return err;
}
