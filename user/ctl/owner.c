// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stddef.h>
#include "datapath/flows.h"
#include "ctl/owner.h"

/* Every move the controller makes.  tests/unit/test_owner.c walks it. */
static const struct {
	uint32_t from, to;
	const char *reason;
} moves[] = {
	{ CB_FLOW_UNBOUND, CB_FLOW_FROZEN,
	  "hand-off starts: the program stops taking bytes before a socket is built" },
	{ CB_FLOW_FROZEN, CB_FLOW_LOCAL,
	  "the socket exists on this node: its segments go to the kernel" },
	{ CB_FLOW_UNBOUND, CB_OWNER_NONE,
	  "reset: the flow cannot be delivered (no app, no slot, service gone)" },
	{ CB_FLOW_FROZEN, CB_OWNER_NONE,
	  "reset: the socket could not be built or handed over" },
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

	if (!cb_owner_allowed(from, to))
		return -EPERM;
	if (to != CB_OWNER_NONE)
		return cb_flows_cas(t, k, from, to, old, req);
	/* removal: of the connection the caller means, in the state it believes */
	if ((err = cb_flows_lookup(t, k, &f)))
		return err;
	return cb_flows_delete_if(t, k, from, f.client_isn, old);
}
