/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Which node runs a flow, once its service is known: the service's policy
 * (config.h: local, spread, affinity) over what every node last reported.
 * Pure: no I/O; the caller passes the random number and the request key's
 * hash, so tests are tables.
 *
 *   local     this node, always
 *   spread    this node while its load is under capacity; else the less
 *             loaded of two nodes drawn at random among the healthy ones that
 *             offer the service and have room ("power of two choices": no
 *             herd, since hand-offs not yet reported count as load)
 *   affinity  the node the key hashes to (rendezvous hashing over the nodes
 *             offering the service, so adding one moves only its share);
 *             spread when that node has no room
 *
 * When no node has room the flow waits in this node's queue (bounded by the
 * service's queue and wait_ms), or, on a node that does not serve the
 * service, in the least loaded queue of one that does.
 */
#ifndef CB_PLACE_H
#define CB_PLACE_H

#include <stdint.h>
#include "ctl/config.h"

/* What a node last reported for one service (this node: counted here). */
struct cb_place_node {
	uint32_t id;
	int healthy;                    /* up, heard from recently */
	int offers;                     /* serves this service ([node] services) */
	uint32_t apps;                  /* app instances registered */
	uint32_t capacity;              /* connections it takes; 0: unbounded */
	uint32_t active, waiting;       /* connections served and queued */
	uint32_t inflight;              /* hand-offs to it not yet reported */
};

enum cb_place_reason {
	CB_PLACE_R_LOCAL_ONLY,          /* policy local, or no cluster */
	CB_PLACE_R_LOCAL_ROOM,          /* spread: this node has room */
	CB_PLACE_R_LEAST_LOADED,        /* spread: the less loaded of two */
	CB_PLACE_R_AFFINITY,            /* affinity: the key's node */
	CB_PLACE_R_AFFINITY_SPILL,      /* affinity: that node was full; spread */
	CB_PLACE_R_ALL_FULL,            /* nobody has room: wait here */
	CB_PLACE_R_MAX
};

struct cb_place_result {
	int node;                       /* index into the nodes given, -1: this node */
	enum cb_place_reason reason;
};

/* "local_only", "local_room", ... for logs and metric labels. */
const char *cb_place_reason_name(enum cb_place_reason r);
/* The load a node counts as: active + waiting + in flight. */
uint32_t cb_place_load(const struct cb_place_node *n);
/*
 * Place a flow of service svc.  self: this node; peers[n]: the others.
 * key: hash of the request key (affinity); rnd: a random number.
 */
void cb_place(const struct cb_service_cfg *svc, const struct cb_place_node *self,
	      const struct cb_place_node *peers, int n, uint64_t key, uint32_t rnd,
	      struct cb_place_result *out);
/* 64-bit FNV-1a of bytes: the request key's hash for affinity. */
uint64_t cb_place_hash(const void *p, size_t len);

#endif
