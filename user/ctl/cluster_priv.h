/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Inside the cluster (ctl/cluster*.c), not for other callers: its state and
 * what its four files share.  cluster.c: channels, loads, placement, setup
 * and timers; cluster_ship.c: the director's side of a hand-off and the
 * steering after it; cluster_adopt.c: the target's side; cluster_report.c:
 * metrics and status.
 */
#ifndef CB_CLUSTER_PRIV_H
#define CB_CLUSTER_PRIV_H

#include <stdint.h>
#include "ctl/cluster.h"
#include "ctl/config.h"
#include "ctl/place.h"
#include "datapath/steer.h"
#include "peer/members.h"
#include "peer/proto.h"
#include "repair/repair.h"
#include "util/samples.h"

#define CB_ADOPT_MAX 256                /* flows shipped here awaiting COMMIT */
#define CB_SHIP_WAIT_MS 250             /* a SHIP unanswered this long is aborted */
#define CB_ADOPT_LEASE_MS 2000          /* a PENDING socket without COMMIT is dropped */
#define CB_ACTIVE_MS 1000               /* how often active connections are counted
                                         * (a sock_diag dump walks the whole socket
                                         * hash: ~ms with many TIME_WAIT sockets) */
#define CB_SWEEP_MS 1000                /* how often steered flows are swept */
#define CB_REMOTE_LINGER_NS (30ull * 1000000000ull)  /* steering kept after FIN/RST
                                                      * and the last segment */
#define CB_ADOPT_LEASE_MAX_MS 6000      /* ... or this long while the director's channel
                                         * is down (it re-asks once the channel is up) */
#define CB_DOWN_GRACE_MS 3000           /* a node's channel down this long: its steered
                                         * clients are reset.  A controller restart
                                         * there leaves its sockets serving meanwhile */
#define CB_COMMITS_MAX 1024             /* COMMITs awaiting their DONE */
#define CB_COMMIT_RETRY_MS 500          /* no DONE: COMMIT again after this long... */
#define CB_COMMIT_TRIES 4               /* ... this many times, then the client is reset */
#define CB_RECENT_MOVE_MS 10000         /* at start, steering this young may be uncommitted */
#define CB_VERIFY_IDLE_NS (60ull * 1000000000ull)  /* steering this quiet is checked
                                                    * with its node (about once a minute) */
#define CB_VERIFY_MAX 64                /* ... at most this many per sweep */
#define CB_SERVED_MAX 4096              /* adopted flows watched for their end */
#define CB_SERVED_CHECKS 64             /* ... of which asked about per tick (one
                                         * sock_diag query each, ~10 us) */
#define CB_MOVES_MAX 64                 /* live connections this node is moving away */
#define CB_RELAYS_MAX 256               /* moves between two peers this director runs */
#define CB_MOVE_WAIT_MS 1000            /* a source hears MOVED or RESUME by then, else
                                         * it drops the socket (fail closed): the
                                         * director may have committed it elsewhere */
#define CB_MOVE_LINGER_MS 2000          /* a moved flow's entry keeps dropping its
                                         * segments this long (some were in flight
                                         * when the director re-steered) */

struct node_state {
	uint32_t id;
	int link;                       /* enum cb_link_state (self: UP) */
	uint8_t mac[6];
	int mac_known;
	struct cb_msg_load load;        /* its last report */
	uint64_t load_ms;
	uint32_t sent[CB_CFG_MAX_SERVICES];     /* hand-offs to it since that report */
	unsigned long placed[CB_PLACE_R_MAX];   /* flows placed on it, by reason */
	unsigned long committed, refused, timed_out, failed;
	unsigned long recommitted;      /* COMMITs sent again when it re-asked */
	unsigned long lost;             /* its clients reset when it went down */
	uint64_t down_since_ms;         /* channel not up since then; 0: up */
	uint64_t avoid_until_ms;        /* a SHIP it left unanswered: nothing placed on
	                                 * it until then (its load looks low because it
	                                 * takes nothing: least-loaded would pick it) */
	uint32_t avoid_ms;              /* that backoff: 1 s, doubling to 30 s; 0 once
	                                 * it answers again */
	int down_done;                  /* its steered clients reset for that */
};

/*
 * Where a hand-off's time goes, each stage on one node's clock: on the
 * director, the first request byte at the hook -> SHIP sent (ring, classify,
 * place, image) -> PREPARED back (channel both ways + the target's build) ->
 * COMMIT sent (steering) -> DONE back (channel both ways + the target going
 * live and handing the fd over); on the target, its build and its go-live.
 */
enum cl_stage {
	CL_ST_TOTAL = 0,        /* hook -> DONE (director) */
	CL_ST_DECIDE,           /* hook -> SHIP sent */
	CL_ST_PREPARE,          /* SHIP sent -> PREPARED received */
	CL_ST_STEER,            /* PREPARED received -> COMMIT sent */
	CL_ST_COMMIT,           /* COMMIT sent -> DONE received */
	CL_ST_BUILD,            /* target: SHIP received -> PREPARED sent */
	CL_ST_LIVE,             /* target: COMMIT received -> DONE sent */
	CL_ST_MAX
};


/*
 * Director side: a COMMIT sent, awaiting its DONE (the peer's app has the
 * socket).  Repeated until then; a CLOSED (unknown) instead means the peer
 * never had it live: the client is reset at these numbers.
 */
struct commit_wait {
	int used;
	struct cb_flow_key key;
	uint32_t epoch;
	int node;                       /* cfg->nodes index */
	uint32_t snd_nxt, rcv_nxt;      /* the client's RST, if it comes to that */
	int tries;
	uint64_t retry_ms;
	/* when each stage began (stage timing); start_ns 0: not timed */
	uint64_t start_ns, ship_ns, prepared_ns, commit_ns;
};

/* Target side: a flow shipped here, built in repair mode, awaiting COMMIT. */
struct adopt {
	int used;
	struct cb_flow_key key;
	uint32_t epoch;
	int from;                       /* the director (cfg->nodes index) */
	int fd;                         /* in repair mode until COMMIT */
	struct cb_sock_state st;        /* scalars only (queues are in the socket) */
	uint32_t snd_nxt, rcv_nxt;      /* for a RST if it cannot go live */
	int service, app;               /* app -1: removed by a reload meanwhile */
	char rule[CB_CFG_NAME];
	uint32_t bytes;                 /* request bytes queued in the socket */
	uint64_t lease_ms, since_ms;
	uint64_t ship_ns;               /* its SHIP arrived (stage timing) */
	uint32_t blob_len;              /* the state a moved connection's app left */
	uint8_t blob[CB_MSG_BLOB_MAX];
};

/*
 * A live connection of this node on its way to another (cluster_move.c):
 * its socket frozen (MOVING) and in repair mode, inert, until the director
 * says MOVED (closed silently) or RESUME (live here again).  When this node
 * is the flow's director it ships the image itself (SHIP, then steers on
 * PREPARED); otherwise it sends the image to the director (MOVE), which
 * ships it on and re-steers.
 */
struct move {
	int used;
	int fd;                         /* repair mode; -1 once MOVED (lingering) */
	struct cb_flow_key key;
	struct cb_sock_state st;        /* scalars, to go live again on RESUME */
	int director;                   /* cfg->nodes index; c->self: we steer it */
	int target;                     /* director role: shipped there */
	uint32_t old_epoch;             /* the steering to this node (backend role) */
	uint32_t epoch;                 /* director role: the SHIP's */
	int app;                        /* the app it was decided for */
	uint32_t snd_nxt, rcv_nxt;      /* as dumped: steering, RSTs */
	uint64_t until_ms;              /* answer due by then */
	uint64_t linger_ms;             /* MOVED: the MOVING entry goes at this time */
	uint64_t start_ns;              /* the move began (timing) */
	uint32_t blob_len;
	uint8_t blob[CB_MSG_BLOB_MAX];
};

/* The director moving a flow between two peers: the source sent MOVE, the
 * target got SHIP; re-steered and committed on PREPARED. */
struct relay {
	int used;
	struct cb_flow_key key;
	int source, target;             /* cfg->nodes indexes */
	uint32_t old_epoch, epoch;
	uint32_t snd_nxt, rcv_nxt;      /* from the image: RSTs if it comes to that */
	uint64_t until_ms;              /* PREPARED due by then */
	uint64_t start_ns;
};

/* Target side: an adopted flow that went live, watched until its socket is
 * gone so that the director drops its steering (CLOSED). */
struct served {
	struct cb_flow_key key;
	uint32_t epoch;
	uint32_t from_id;               /* the director's node id; 0: slot free */
};

struct cb_cluster {
	struct cb_cluster_env env;
	struct cb_members *members;     /* who is in the cluster (members.h): same order
	                                 * as cfg->nodes, so a node index is both */
	struct cb_links *links;
	struct cb_steer steer;
	int self;                       /* cfg->nodes index of this node */
	int n_nodes;
	struct node_state nodes[CB_CFG_MAX_NODES];
	struct adopt adopts[CB_ADOPT_MAX];
	uint32_t active[CB_CFG_MAX_SERVICES];   /* this node's connections, per service */
	uint64_t active_ms, swept_ms;
	uint32_t rnd;
	uint32_t epoch;                 /* of the last move this controller started */
	uint8_t image[CB_MSG_MAX];      /* a SHIP being built */
	unsigned long adopted, adopt_refused, adopt_expired, adopt_failed, remote_swept;
	unsigned long pending_cleared;  /* PENDING entries a previous controller left */
	struct served served[CB_SERVED_MAX];
	unsigned int served_next, served_check;
	unsigned long served_untracked, served_closed;
	struct commit_wait commits[CB_COMMITS_MAX];
	unsigned int commits_next;
	unsigned long commits_untracked;        /* table full: oldest replaced */
	unsigned long sweeps;                   /* rounds of cl_sweep, for verify */
	struct cb_samples stages[CL_ST_MAX];
	struct move moves[CB_MOVES_MAX];
	struct relay relays[CB_RELAYS_MAX];
	unsigned long moved_out, moves_resumed, moves_dropped, moves_failed;
	unsigned long relayed, relays_refused;
	int draining;                   /* this node: no new connections, released ones
	                                 * move elsewhere (cb_cluster_drain) */
	struct cb_samples move_us;      /* freeze -> committed elsewhere (source or director) */
};

static inline const struct cb_config_file *cfg_of(const struct cb_cluster *c)
{
	return *c->env.cfg;
}

/* Does node (cfg->nodes index) serve service s? */
static inline int offers(const struct cb_config_file *cfg, int node, int s)
{
	return node >= 0 && (cfg->nodes[node].services >> s) & 1;
}

/* cluster.c */
/* What to place: a flow (pending) or a live connection (a move). */
struct cl_place_req {
	const struct cb_flow_key *key;
	const struct cb_decision *d;
	const uint8_t *req;             /* request bytes (affinity keys) */
	size_t len;
	uint64_t tried;                 /* nodes (bits of cfg->nodes indexes) excluded */
	int is_waiting;                 /* it waits here: not its own load */
	int not_here;                   /* another node, or -1: nowhere */
	int *placed;                    /* counted already (set); NULL: not counted */
};
/* -1: here (or, not_here, nowhere), else a node index. */
int cl_place(struct cb_cluster *c, const struct cl_place_req *q);
/* Node i may take connections: up, steerable, not draining, answering. */
int cl_node_takes(const struct cb_cluster *c, int i);
/* A SHIP to node i went unanswered: counted, and i avoided for a while. */
void cl_node_timed_out(struct cb_cluster *c, int i, uint64_t now);
#define CB_AVOID_MIN_MS 1000
#define CB_AVOID_MAX_MS 30000
uint32_t cl_next_epoch(struct cb_cluster *c);
int cl_node_by_id(const struct cb_cluster *c, uint32_t id);
void cl_key_to_msg(const struct cb_flow_key *k, struct cb_msg_flow *f);
int cl_key_from_msg(const struct cb_msg_flow *f, struct cb_flow_key *k);
int cl_send_ref(struct cb_cluster *c, int node, uint8_t type, const struct cb_flow_key *k,
		uint32_t epoch, uint32_t reason);
int cl_service_apps(const struct cb_config_file *cfg, int s, int *apps);
uint32_t cl_adopting(const struct cb_cluster *c, int s);
void cl_own_load(const struct cb_cluster *c, int s, int a, struct cb_msg_svc_load *l);
const struct cb_msg_svc_load *cl_peer_load(const struct cb_cluster *c, int i, int s, int a);

/* cluster_ship.c */
/* Stop following COMMITs of k (a move settled it another way). */
void cl_commit_forget(struct cb_cluster *c, const struct cb_flow_key *k);
struct commit_wait *cl_commit_track(struct cb_cluster *c, int node, const struct cb_flow_key *k,
				    uint32_t epoch, uint32_t snd_nxt, uint32_t rcv_nxt);
void cl_on_prepared(struct cb_cluster *c, int node, const struct cb_msg_ref *r);
void cl_on_refused(struct cb_cluster *c, int node, const struct cb_msg_ref *r);
void cl_ship_deadlines(struct cb_cluster *c, uint64_t now);
void cl_on_done(struct cb_cluster *c, int node, const struct cb_msg_ref *m);
void cl_on_closed(struct cb_cluster *c, int node, const struct cb_msg_ref *m);
void cl_steer_to(struct cb_cluster *c, int i);
void cl_node_down(struct cb_cluster *c, int i);
void cl_sweep(struct cb_cluster *c);
void cl_commit_retries(struct cb_cluster *c, uint64_t now);
void cl_recommit_node(struct cb_cluster *c, int node);
void cl_recover_steering(struct cb_cluster *c);

/* cluster_move.c */
int cl_move_prepared(struct cb_cluster *c, int node, const struct cb_msg_ref *r);
int cl_move_refused(struct cb_cluster *c, int node, const struct cb_msg_ref *r);
void cl_on_move(struct cb_cluster *c, int node, const struct cb_msg_ship *m);
void cl_on_moved(struct cb_cluster *c, int node, const struct cb_msg_ref *r);
void cl_on_resume(struct cb_cluster *c, int node, const struct cb_msg_ref *r);
void cl_move_tick(struct cb_cluster *c, uint64_t now);
int cl_move_reclaim(struct cb_cluster *c, const struct cb_flow_key *k);
int cl_served_from(const struct cb_cluster *c, const struct cb_flow_key *k, uint32_t *epoch);
void cl_served_forget(struct cb_cluster *c, const struct cb_flow_key *k);

/* cluster_adopt.c */
void cl_adopt_drop(struct cb_cluster *c, struct adopt *a);
void cl_on_ship(struct cb_cluster *c, int node, const struct cb_msg_ship *m);
void cl_serve_check(struct cb_cluster *c);
void cl_on_commit(struct cb_cluster *c, int node, const struct cb_msg_ref *r);
void cl_on_abort(struct cb_cluster *c, int node, const struct cb_msg_ref *r);
void cl_adopt_leases(struct cb_cluster *c, uint64_t now);
void cl_reask(struct cb_cluster *c, int node);
void cl_clear_pending(struct cb_cluster *c);

/* n clients reset for why: connbroker_resets_total{reason} */
static inline void cl_count_reset(struct cb_cluster *c, enum cb_reset_reason why, unsigned long n)
{
	if (c->env.resets)
		c->env.resets[why] += n;
}

#endif
