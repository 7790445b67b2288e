// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stddef.h>
#include "ctl/place.h"
#include "util/hash.h"

static const char *const reason_names[CB_PLACE_R_MAX] = {
	[CB_PLACE_R_LOCAL_ONLY] = "local_only",
	[CB_PLACE_R_LOCAL_ROOM] = "local_room",
	[CB_PLACE_R_LEAST_LOADED] = "least_loaded",
	[CB_PLACE_R_AFFINITY] = "affinity",
	[CB_PLACE_R_AFFINITY_SPILL] = "affinity_spill",
	[CB_PLACE_R_ALL_FULL] = "all_full",
};

const char *cb_place_reason_name(enum cb_place_reason r)
{
	return r < CB_PLACE_R_MAX ? reason_names[r] : "?";
}

uint32_t cb_place_load(const struct cb_place_node *n)
{
	return n->active + n->waiting + n->inflight;
}

static int has_room(const struct cb_place_node *n)
{
	return !n->capacity || cb_place_load(n) < n->capacity;
}

/* A peer that may take a new flow now. */
static int candidate(const struct cb_place_node *n)
{
	return n->healthy && n->offers && n->apps && has_room(n);
}

/* Load as a fraction of capacity, scaled; unbounded nodes by count. */
static uint64_t weight(const struct cb_place_node *n)
{
	uint64_t l = cb_place_load(n);

	return n->capacity ? (l << 20) / n->capacity : l;
}

uint64_t cb_place_hash(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;

	while (len--) {
		h ^= *b++;
		h *= 1099511628211ull;
	}
	return h;
}

/* A peer that could take it at all (room or not). */
static int reachable(const struct cb_place_node *n)
{
	return n->healthy && n->offers && n->apps;
}

/*
 * The less loaded of two distinct nodes drawn with rnd among those that
 * pass ok(); -1 when none does.
 */
static int two_choices(const struct cb_place_node *peers, int n, uint32_t rnd,
		       int (*ok)(const struct cb_place_node *))
{
	int idx[64], k = 0, i, a, b;

	for (i = 0; i < n && k < 64; i++)
		if (ok(&peers[i]))
			idx[k++] = i;
	if (!k)
		return -1;
	a = (int)(rnd % (uint32_t)k);
	b = k > 1 ? (a + 1 + (int)((rnd / (uint32_t)k) % (uint32_t)(k - 1))) % k : a;
	return weight(&peers[idx[b]]) < weight(&peers[idx[a]]) ? idx[b] : idx[a];
}

static void spread(const struct cb_place_node *self, const struct cb_place_node *peers, int n,
		   uint32_t rnd, enum cb_place_reason why, struct cb_place_result *out)
{
	int p;

	if (self->offers && has_room(self)) {
		out->node = -1;
		out->reason = why == CB_PLACE_R_AFFINITY_SPILL ? why : CB_PLACE_R_LOCAL_ROOM;
		return;
	}
	p = two_choices(peers, n, rnd, candidate);
	if (p >= 0) {
		out->node = p;
		out->reason = why == CB_PLACE_R_AFFINITY_SPILL ? why : CB_PLACE_R_LEAST_LOADED;
		return;
	}
	/* nobody has room: wait in this node's queue if it serves the service,
	 * else in the least loaded queue of one that does */
	out->node = self->offers ? -1 : two_choices(peers, n, rnd, reachable);
	out->reason = CB_PLACE_R_ALL_FULL;
}

/* Rendezvous hashing: the node with the highest cb_mix64(key ^ id); -1 = self. */
static int rendezvous(const struct cb_place_node *self, const struct cb_place_node *peers,
		      int n, uint64_t key, int *found)
{
	uint64_t best = 0, w;
	int i, pick = -2;

	if (self->offers) {
		best = cb_mix64(key ^ self->id);
		pick = -1;
	}
	for (i = 0; i < n; i++) {
		if (!peers[i].offers || !peers[i].healthy)
			continue;
		w = cb_mix64(key ^ peers[i].id);
		if (pick == -2 || w > best) {
			best = w;
			pick = i;
		}
	}
	*found = pick != -2;
	return pick == -2 ? -1 : pick;
}

void cb_place(const struct cb_service_cfg *svc, const struct cb_place_node *self,
	      const struct cb_place_node *peers, int n, uint64_t key, uint32_t rnd,
	      struct cb_place_result *out)
{
	int pick, found;

	out->node = -1;
	out->reason = CB_PLACE_R_LOCAL_ONLY;
	if (svc->placement == CB_PLACE_LOCAL || n == 0)
		return;
	if (svc->placement == CB_PLACE_AFFINITY) {
		pick = rendezvous(self, peers, n, key, &found);
		if (found && (pick < 0 ? self->offers && has_room(self) : candidate(&peers[pick]))) {
			out->node = pick;
			out->reason = CB_PLACE_R_AFFINITY;
			return;
		}
		spread(self, peers, n, rnd, CB_PLACE_R_AFFINITY_SPILL, out);
		return;
	}
	spread(self, peers, n, rnd, CB_PLACE_R_LEAST_LOADED, out);
}
