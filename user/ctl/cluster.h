/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * This node in a cluster ([node] sections): the channels to the other nodes
 * (peer/link.c), what they last reported (LOAD), where a flow runs
 * (place.c), and the two ends of a hand-off (docs/architecture.md,
 * "Hand-off to a peer"):
 *
 * director  UNBOUND -> SHIPPING   freeze; drain; the socket image and the
 *                                 request go to the peer (SHIP)
 *           <- PREPARED           the peer built the socket, inert
 *           cb_remote + REDIRECT  the client's segments now go to the peer
 *           -> COMMIT             (REFUSED or no answer in time: ABORT,
 *                                 back to UNBOUND, placed anew)
 * target    SHIP                  PENDING entry (segments dropped both ways),
 *                                 socket built in repair mode
 *           -> PREPARED
 *           COMMIT                PENDING -> LOCAL, go live, fd to the app,
 *                                 -> DONE  (ABORT or no COMMIT within the
 *                                 lease: the socket closed silently)
 *
 * The director repeats a COMMIT until its DONE comes.  COMMIT is idempotent:
 * a target with no such move answers by the tuple's socket, DONE if it lives,
 * CLOSED (unknown) if not, and the director then resets the client: a crash
 * between the two ends leaves no client waiting in silence.
 *
 * One owner at a time: a target's socket goes live only on COMMIT, and only
 * the director commits, after it steered the flow.  Epochs name moves.
 */
#ifndef CB_CLUSTER_H
#define CB_CLUSTER_H

#include <stdint.h>
#include <stdio.h>
#include "ctl/config.h"
#include "ctl/pending.h"
#include "ctl/place.h"
#include "ctl/reset.h"

struct cb_loop;
struct cb_flows;
struct cb_rtt_memo;
struct cb_apps;
struct cb_faults;
struct cb_cluster;

enum cb_ship_outcome {
	CB_SHIP_BACK = 0,       /* refused or unanswered: serve it here or place it anew */
	CB_SHIP_COMMITTED,      /* steered to its peer */
	CB_SHIP_FAILED,         /* it could not go anywhere: reset */
};

/* What the cluster needs from the controller. */
struct cb_cluster_env {
	struct cb_loop *loop;
	const struct cb_config_file *const *cfg;
	const char *ifname;
	const struct cb_flows *flows;
	struct cb_apps *apps;
	struct cb_pending *pend;
	const struct cb_faults *faults;
	void (*drain)(void *arg);               /* consume the ring now */
	/* a shipped flow is settled: the controller goes on with p (BACK),
	 * or frees it (COMMITTED; FAILED: its client was reset) */
	void (*shipped)(void *arg, struct pending *p, int outcome);
	/* a live connection's move failed: its socket fd is live here again
	 * and the callee's, for app (a cfg->apps index), with the blob it
	 * was released with */
	void (*resumed)(void *arg, int fd, int app, const uint8_t *blob, size_t len);
	void *arg;
	/* the controller's reset counters (CB_RESET_MAX, by enum
	 * cb_reset_reason): the cluster counts the clients it resets there */
	unsigned long *resets;
	/* the controller's: clients whose RTT the kernel caches (shipped
	 * flows built here go live without the probe for those) */
	struct cb_rtt_memo *rtt;
};

/*
 * Join the cluster described by the configuration: 0 with *out NULL when
 * there is none (no [node] sections or this node is not one of them).
 */
int cb_cluster_open(struct cb_cluster **out, const struct cb_cluster_env *env);
void cb_cluster_close(struct cb_cluster *c);
/* Timers (about every 50 ms): links, loads, hand-off deadlines, leases, sweeps. */
void cb_cluster_tick(struct cb_cluster *c, uint64_t now_ms);

/*
 * Where p (decided: service, rule, app) runs: -1 here, else a node index
 * (cfg->nodes).  Counted by node and reason for the metrics.
 */
int cb_cluster_place(struct cb_cluster *c, struct pending *p);
/*
 * Ship p to node `node`: 0 when the SHIP left (p is P_SHIPPING until
 * env->shipped() says how it ended), else -errno and p as it was
 * (-ECONNRESET: the client closed it meanwhile; -ENOENT: its entry is
 * gone, evicted).
 */
int cb_cluster_ship(struct cb_cluster *c, struct pending *p, int node);

/*
 * Live migration (ctl/cluster_move.c).  Where a live connection of this
 * node (a released one, decided d) runs next: -1 here, else a node index.
 * node: the index of the node asked for (-1: any); it is taken if it
 * offers the service and is up.  Here when an instance of d's app runs here
 * and nothing else was asked; else where the service's placement puts it
 * among the other nodes.
 */
int cb_cluster_place_conn(struct cb_cluster *c, const struct cb_flow_key *k,
			  const struct cb_decision *d, const uint8_t *req, size_t len, int node);
/* The index of the node called name, or -1. */
int cb_cluster_node(const struct cb_cluster *c, const char *name);
/*
 * Move the live connection fd (key k, decided d, the app's state blob) to
 * node `node`: its flow is frozen here (MOVING), the socket dumped and kept
 * inert in repair mode, the image shipped (this node directs the flow) or
 * sent to the flow's director (MOVE).  0: under way, fd is the cluster's (it
 * is closed once moved, or given back through env->resumed); -errno: nothing
 * changed, fd is still the caller's and live (-ENOENT: this node does not
 * know the flow's director; -EMSGSIZE: its queues do not fit one frame).
 */
int cb_cluster_move(struct cb_cluster *c, int fd, const struct cb_flow_key *k,
		    const struct cb_decision *d, int node, const uint8_t *blob, size_t blob_len);

/*
 * Drain node `node` (a cfg->nodes index; this node or another, which is
 * told with a DRAIN message): no new connections are placed on it, it
 * refuses hand-offs, and the connections its apps release move to other
 * nodes.  on 0: it takes connections again.  0 or -errno.
 */
int cb_cluster_drain(struct cb_cluster *c, int node, int on);
struct cb_drain_state {
	int self;                       /* the node is this one */
	int draining;
	int up;                         /* (another node) its channel is up */
	uint32_t connections;           /* this node: served here (last count) and being
					 * adopted; another: what it last reported */
	uint32_t moving;                /* this node: live moves under way */
};
int cb_cluster_drain_state(const struct cb_cluster *c, int node, struct cb_drain_state *out);

/*
 * A reload renumbered services and apps (map[old index] = new index, -1:
 * removed), before the new configuration is in place: flows awaiting their
 * COMMIT here follow (one whose app is gone is reset when committed), the
 * per-service figures follow or go.  The nodes cannot change (the caller
 * refuses such a reload: cb_config_same_cluster).
 */
void cb_cluster_remap(struct cb_cluster *c, const int *svc, int n_svc, const int *app, int n_app);

/* Prometheus text of the cluster's figures. */
void cb_cluster_metrics(const struct cb_cluster *c, FILE *out);
/* Each node's state, hand-offs and reported load, for status (JSON: array elements). */
void cb_cluster_status(const struct cb_cluster *c, FILE *out, int json);
/* p50/p99 of hand-offs to peers: first byte here -> the peer's DONE (JSON: an object). */
void cb_cluster_timing(const struct cb_cluster *c, FILE *out, int json);

#endif
