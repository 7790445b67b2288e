// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Placement (user/ctl/place.c) as tables: policy, loads, health -> node, reason. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include "ctl/place.h"

#define UP(id_, act, cap) { .id = id_, .healthy = 1, .offers = 1, .apps = 1, .capacity = cap, .active = act }

static struct cb_service_cfg svc(enum cb_placement p)
{
	struct cb_service_cfg s;

	memset(&s, 0, sizeof(s));
	s.placement = p;
	return s;
}

struct row {
	const char *name;
	enum cb_placement policy;
	struct cb_place_node self;
	struct cb_place_node peers[3];
	int n;
	uint32_t rnd;
	int node;                       /* expected: -1 self, else index */
	enum cb_place_reason reason;
};

static const struct row rows[] = {
	{ "local policy stays here", CB_PLACE_LOCAL, UP(1, 9, 1), { UP(2, 0, 10) }, 1, 0,
	  -1, CB_PLACE_R_LOCAL_ONLY },
	{ "no peers: here", CB_PLACE_SPREAD, UP(1, 9, 1), { UP(0, 0, 0) }, 0, 0,
	  -1, CB_PLACE_R_LOCAL_ONLY },
	{ "spread, room here", CB_PLACE_SPREAD, UP(1, 0, 1), { UP(2, 0, 10) }, 1, 0,
	  -1, CB_PLACE_R_LOCAL_ROOM },
	{ "spread, full here: the lighter of two", CB_PLACE_SPREAD, UP(1, 1, 1),
	  { UP(2, 5, 10), UP(3, 1, 10) }, 2, 0, 1, CB_PLACE_R_LEAST_LOADED },
	{ "spread, the lighter whatever the draw", CB_PLACE_SPREAD, UP(1, 1, 1),
	  { UP(2, 5, 10), UP(3, 1, 10) }, 2, 7, 1, CB_PLACE_R_LEAST_LOADED },
	{ "load is relative to capacity", CB_PLACE_SPREAD, UP(1, 1, 1),
	  { UP(2, 5, 100), UP(3, 1, 2) }, 2, 0, 0, CB_PLACE_R_LEAST_LOADED },
	{ "a full peer is no candidate", CB_PLACE_SPREAD, UP(1, 1, 1),
	  { UP(2, 10, 10), UP(3, 9, 10) }, 2, 0, 1, CB_PLACE_R_LEAST_LOADED },
	{ "all full: wait here", CB_PLACE_SPREAD, UP(1, 1, 1),
	  { UP(2, 10, 10), UP(3, 10, 10) }, 2, 0, -1, CB_PLACE_R_ALL_FULL },
};

Test(place, spread_and_local_table)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct cb_service_cfg s = svc(r->policy);
		struct cb_place_result out;

		cb_place(&s, &r->self, r->peers, r->n, 0, r->rnd, &out);
		cr_expect_eq(out.node, r->node, "%s: node %d", r->name, out.node);
		cr_expect_eq(out.reason, r->reason, "%s: reason %s", r->name,
			     cb_place_reason_name(out.reason));
	}
}

Test(place, unhealthy_appless_or_not_offering_peers_are_skipped)
{
	struct cb_service_cfg s = svc(CB_PLACE_SPREAD);
	struct cb_place_node self = UP(1, 1, 1);
	struct cb_place_node peers[4] = { UP(2, 0, 10), UP(3, 0, 10), UP(4, 0, 10), UP(5, 3, 10) };
	struct cb_place_result out;
	uint32_t rnd;

	peers[0].healthy = 0;
	peers[1].apps = 0;
	peers[2].offers = 0;
	for (rnd = 0; rnd < 50; rnd++) {
		cb_place(&s, &self, peers, 4, 0, rnd, &out);
		cr_expect_eq(out.node, 3, "only the healthy peer with apps that offers it");
	}
}

Test(place, hand_offs_in_flight_count_so_there_is_no_herd)
{
	struct cb_service_cfg s = svc(CB_PLACE_SPREAD);
	struct cb_place_node self = UP(1, 1, 1);
	struct cb_place_node peers[2] = { UP(2, 0, 10), UP(3, 3, 10) };
	struct cb_place_result out;

	peers[0].inflight = 5;          /* reported idle, but 5 flows are on their way */
	cb_place(&s, &self, peers, 2, 0, 0, &out);
	cr_expect_eq(out.node, 1);
}

Test(place, a_director_without_the_service_queues_at_the_least_loaded)
{
	struct cb_service_cfg s = svc(CB_PLACE_SPREAD);
	struct cb_place_node self = UP(1, 0, 0);
	struct cb_place_node peers[2] = { UP(2, 12, 10), UP(3, 10, 10) };
	struct cb_place_result out;

	self.offers = 0;
	cb_place(&s, &self, peers, 2, 0, 0, &out);
	cr_expect_eq(out.node, 1);
	cr_expect_eq(out.reason, CB_PLACE_R_ALL_FULL);
}

Test(place, affinity_is_stable_and_spills_when_full)
{
	struct cb_service_cfg s = svc(CB_PLACE_AFFINITY);
	struct cb_place_node self = UP(1, 0, 10);
	struct cb_place_node peers[2] = { UP(2, 0, 10), UP(3, 0, 10) };
	struct cb_place_result a, b;
	int seen[3] = { 0 }, i;
	uint64_t k = cb_place_hash("/api/cart", 9);

	cb_place(&s, &self, peers, 2, k, 1, &a);
	cb_place(&s, &self, peers, 2, k, 99, &b);
	cr_expect_eq(a.node, b.node, "the same key, the same node");
	cr_expect_eq(a.reason, CB_PLACE_R_AFFINITY);
	for (i = 0; i < 300; i++) {
		char key[16];

		snprintf(key, sizeof(key), "/p/%d", i);
		cb_place(&s, &self, peers, 2, cb_place_hash(key, strlen(key)), 0, &a);
		seen[a.node + 1]++;
	}
	cr_expect(seen[0] > 50 && seen[1] > 50 && seen[2] > 50, "keys spread over all three: %d %d %d",
		  seen[0], seen[1], seen[2]);
	/* the key's node is full: spill */
	cb_place(&s, &self, peers, 2, k, 0, &a);
	if (a.node < 0)
		self.active = 10;
	else
		peers[a.node].active = 10;
	cb_place(&s, &self, peers, 2, k, 0, &b);
	cr_expect_neq(b.node, a.node);
	cr_expect_eq(b.reason, CB_PLACE_R_AFFINITY_SPILL);
}
