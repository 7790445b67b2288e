// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The table of flow-ownership moves (user/ctl/owner.c), walked whole: every
 * pair of states, allowed or not, and a refused move touches nothing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include "ctl/owner.h"
#include "datapath/flows.h"

static const uint32_t states[] = { CB_OWNER_NONE, CB_FLOW_UNBOUND, CB_FLOW_LOCAL, CB_FLOW_FROZEN };
#define N (sizeof(states) / sizeof(states[0]))

/* expected[from][to], in the order of states[] */
static const int expected[N][N] = {
	/*               NONE UNBOUND LOCAL FROZEN */
	/* NONE    */ {   0,    0,     0,    0 },     /* only the programs create flows */
	/* UNBOUND */ {   1,    0,     0,    1 },     /* reset; freeze for a hand-off */
	/* LOCAL   */ {   0,    0,     0,    0 },     /* an app's socket: never touched */
	/* FROZEN  */ {   1,    0,     1,    0 },     /* reset; the socket exists: LOCAL */
};

Test(owner, the_table_of_moves)
{
	size_t i, j;

	for (i = 0; i < N; i++)
		for (j = 0; j < N; j++) {
			cr_expect_eq(cb_owner_allowed(states[i], states[j]), expected[i][j],
				     "%s -> %s", cb_owner_name(states[i]), cb_owner_name(states[j]));
			cr_expect_eq(cb_owner_reason(states[i], states[j]) != NULL, expected[i][j]);
		}
}

Test(owner, refused_moves_touch_nothing)
{
	/* no table behind it: any map access would fail with EBADF, not EPERM */
	struct cb_flows none = { .fd = -1, .prog = NULL };
	struct cb_flow_key k = { 1, 2, 3, 4 };
	size_t i, j;

	for (i = 0; i < N; i++)
		for (j = 0; j < N; j++)
			if (!expected[i][j])
				cr_expect_eq(cb_owner_move(&none, &k, states[i], states[j], NULL, NULL),
					     -EPERM, "%s -> %s", cb_owner_name(states[i]),
					     cb_owner_name(states[j]));
}

Test(owner, names)
{
	cr_expect_str_eq(cb_owner_name(CB_OWNER_NONE), "none");
	cr_expect_str_eq(cb_owner_name(CB_FLOW_UNBOUND), "unbound");
	cr_expect_str_eq(cb_owner_name(CB_FLOW_LOCAL), "local");
	cr_expect_str_eq(cb_owner_name(CB_FLOW_FROZEN), "frozen");
	cr_expect_str_eq(cb_owner_name(99), "?");
}
