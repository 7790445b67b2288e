// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The table of flow-ownership moves (user/ctl/owner.c), walked whole: every
 * pair of states, allowed or not, and a refused move touches nothing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cb_ctl.skel.h"
#include "ctl/owner.h"
#include "datapath/flows.h"
#include "t_addr.h"

static const uint32_t states[] = { CB_OWNER_NONE, CB_FLOW_UNBOUND, CB_FLOW_LOCAL, CB_FLOW_FROZEN,
				   CB_FLOW_SHIPPING, CB_FLOW_REDIRECT, CB_FLOW_PENDING, CB_FLOW_MOVING };
#define N (sizeof(states) / sizeof(states[0]))

/* expected[from][to], in the order of states[] */
static const int expected[N][N] = {
	/*                NONE UNB LOC FRZ SHP RED PND MOV */
	/* NONE     */ {   0,  0,  0,  0,  0,  0,  1,  1 },  /* PENDING; MOVING if evicted */
	/* UNBOUND  */ {   1,  0,  0,  1,  1,  0,  0,  0 },  /* reset; freeze; ship */
	/* LOCAL    */ {   1,  0,  0,  0,  0,  0,  0,  1 },  /* socket gone; a live move */
	/* FROZEN   */ {   1,  0,  1,  0,  0,  0,  0,  0 },  /* reset; the socket exists */
	/* SHIPPING */ {   1,  1,  0,  0,  0,  1,  0,  0 },  /* reset; back; steered */
	/* REDIRECT */ {   1,  1,  1,  0,  0,  0,  0,  0 },  /* ends; COMMIT unsent; moved here */
	/* PENDING  */ {   1,  0,  1,  0,  0,  0,  0,  0 },  /* aborted; committed */
	/* MOVING   */ {   1,  0,  1,  0,  0,  1,  0,  0 },  /* moved; resumed; to a peer */
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
	struct cb_flow_key k = { .saddr.w = { 1 }, .daddr.w = { 2 }, .sport_be = 3, .dport_be = 4 };
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

/* ---- the moves on a real flow table, through the state programs ---------- */

static struct cb_flows T;

static void table_open(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo);
	int fd;

	if (geteuid() != 0)
		cr_skip_test("BPF needs root");
	fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "cb_flows", sizeof(struct cb_flow_key),
			    sizeof(struct cb_flow), 64, &mo);
	cr_assert_geq(fd, 0);
	T.fd = fd;
	T.prog = cb_ctl__open();
	cr_assert_not_null(T.prog);
	/* the programs act on this table, as on an interface's pinned one */
	cr_assert_eq(bpf_map__reuse_fd(T.prog->maps.cb_flows, fd), 0);
	cr_assert_eq(cb_ctl__load(T.prog), 0);
}

static void put(const struct cb_flow_key *k, uint32_t state, uint32_t isn)
{
	struct cb_flow f = { .state = state, .client_isn = isn, .rcv_nxt = isn + 8 };

	cr_assert_eq(bpf_map_update_elem(T.fd, k, &f, BPF_ANY), 0);
}

Test(owner, moves_on_a_real_table)
{
	struct cb_flow_key k = { .saddr.w = { 1 }, .daddr.w = { 2 }, .sport_be = 3, .dport_be = 4 };
	uint32_t old = 0;

	table_open();
	put(&k, CB_FLOW_UNBOUND, 1000);
	cr_expect_eq(cb_owner_move(&T, &k, CB_FLOW_UNBOUND, CB_FLOW_FROZEN, &old, NULL), 0);
	cr_expect_eq(cb_owner_state(&T, &k), CB_FLOW_FROZEN);
	cr_expect_eq(cb_owner_move(&T, &k, CB_FLOW_UNBOUND, CB_FLOW_FROZEN, &old, NULL), -EAGAIN,
		     "already frozen");
	cr_expect_eq(old, CB_FLOW_FROZEN);
	cr_expect_eq(cb_owner_move(&T, &k, CB_FLOW_FROZEN, CB_FLOW_LOCAL, NULL, NULL), 0);
	/* 1.2.3.4 has no socket here: such a LOCAL entry outlived its socket */
	cr_expect_eq(cb_owner_move(&T, &k, CB_FLOW_LOCAL, CB_OWNER_NONE, NULL, NULL), 0,
		     "a LOCAL entry whose socket is gone frees its tuple");
	put(&k, CB_FLOW_LOCAL, 1000);
	cr_expect_eq(cb_owner_state(&T, &k), CB_FLOW_LOCAL);
	put(&k, CB_FLOW_FROZEN, 2000);
	cr_expect_eq(cb_owner_move(&T, &k, CB_FLOW_UNBOUND, CB_OWNER_NONE, &old, NULL), -EAGAIN,
		     "removal in the wrong state");
	cr_expect_eq(cb_owner_move(&T, &k, CB_FLOW_FROZEN, CB_OWNER_NONE, NULL, NULL), 0);
	cr_expect_eq(cb_owner_state(&T, &k), CB_OWNER_NONE);
	cr_expect_eq(cb_owner_move(&T, &k, CB_FLOW_FROZEN, CB_OWNER_NONE, NULL, NULL), -ENOENT);
	cb_flows_close(&T);
}

Test(owner, removal_spares_a_newer_connection_on_the_tuple)
{
	struct cb_flow_key k = { .saddr.w = { 5 }, .daddr.w = { 6 }, .sport_be = 7, .dport_be = 8 };
	uint32_t old = 0;

	table_open();
	put(&k, CB_FLOW_UNBOUND, 3000);
	/* the controller read incarnation 3000; the tuple now holds 4000 */
	put(&k, CB_FLOW_UNBOUND, 4000);
	cr_expect_eq(cb_flows_delete_if(&T, &k, CB_FLOW_UNBOUND, 3000, &old), -EAGAIN);
	cr_expect_eq(cb_owner_state(&T, &k), CB_FLOW_UNBOUND, "the newer connection stays");
	cr_expect_eq(cb_flows_delete_if(&T, &k, CB_FLOW_UNBOUND, 4000, &old), 0);
	cr_expect_eq(cb_owner_state(&T, &k), CB_OWNER_NONE);
	cb_flows_close(&T);
}
