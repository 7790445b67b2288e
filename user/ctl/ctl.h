/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The controller's context: everything `connbroker run` holds hangs off one
 * struct ctl (no global state), owned by controller.c.  Modules get the
 * parts they need, not this struct; only the metrics renderer reads it
 * whole.
 */
#ifndef CB_CTL_H
#define CB_CTL_H

#include <stddef.h>
#include <stdint.h>
#include "ctl/apps.h"
#include "ctl/config.h"
#include "ctl/controller.h"
#include "ctl/handoff.h"
#include "ctl/loop.h"
#include "ctl/pending.h"
#include "ctl/release.h"
#include "ctl/reset.h"              /* CB_RESET_REASONS */
#include "util/samples.h"
#include "util/libver.h"
#include "ctl/supervise.h"
#include "datapath/flows.h"
#include "util/fault.h"

#define CB_HIST_N 15                    /* hand-off latency buckets (metrics.c) */


struct cb_ctl_stats {
	unsigned long materialized, failed, timeouts;
	unsigned long shipped;                  /* handed to other nodes */
	unsigned long table_full, source_full, queue_full;
	unsigned long recovered_local;          /* handed over before a restart: left alone */
	unsigned long reloads, reload_failures;
	unsigned long rule_hits[CB_CFG_MAX_RULES];
	unsigned long default_hits[CB_CFG_MAX_SERVICES];
	unsigned long svc_timeouts[CB_CFG_MAX_SERVICES];
	unsigned long resets[CB_RESET_MAX];     /* by enum cb_reset_reason */
	unsigned long answered_503;             /* on_timeout = http503 answers */
	unsigned long log_suppressed;           /* decision lines over the rate */
	unsigned long batches, batched;         /* local hand-off batches, and the flows in them */
	unsigned long held;                     /* built sockets no instance took: kept, offered again */
	uint64_t hist[CB_HIST_N + 1];           /* first byte at the hook -> fd to the app */
	double hist_sum;
	uint64_t hist_count;
};

/* A per-second budget of log lines (the decision log). */
struct cb_rate {
	uint64_t second;
	unsigned int used;
};
#define CB_DECISION_LOG_RATE 50

struct ring_buffer;
struct cb_metrics;
struct cb_cluster;
struct ctl;

/*
 * A controller loop that owns a share of the flows end to end: the ring
 * the programs send their records to (cb_flow_shard()), their pending
 * table over its share of the stash slots, their hand-off.  With one
 * worker it runs in the main loop; with more, each is a thread with a loop
 * of its own, and the rest of the controller (apps, configuration,
 * counters, the cluster) is shared under ctl.lock, which a worker holds
 * except in epoll_wait() and while it builds sockets (docs/architecture.md,
 * "Workers").
 */
struct cb_worker {
	struct ctl *c;
	int id;
	struct cb_loop loop;                    /* threaded: its own */
	struct ring_buffer *rb;
	int ring_fd;                            /* cb_events, or cb_rings[id] */
	int tfd;                                /* threaded: its tick */
	struct cb_pending pend;
	/* flows decided in this pass of the ring, handed off together */
	struct pending *ready[CB_FLOW_BATCH];
	int n_ready;
	int batching;                           /* deliver() queues into ready[] */
	struct cb_handoff handoff;
	struct cb_rtt_memo rtt;                 /* clients the kernel has an RTT for */
	unsigned long flows;                    /* flows it handed to apps here */
	uint64_t alive_ms;                      /* its last tick (a stuck one stops the beat) */
	pthread_t thread;
	int started;                            /* thread is running */
};

struct ctl {
	struct cb_ctl_opts opts;
	char ifname[16];
	char sock_buf[256];                     /* the default apps' socket path */
	int lock_fd;                            /* one controller per interface */
	int claimed;                            /* the lock is ours */
	struct cb_config_file *cfg;             /* replaced as a whole on reload */
	struct cb_loop loop;
	struct cb_flows flows;
	int stats_fd, tfd, sfd;
	int beat_fd;                            /* cb_controller: our heartbeat */
	uint64_t beat_ms;                       /* when we last wrote it */
	int beat_failing;                       /* the last write failed (said once) */
	uint32_t beat_map_id;                   /* the cb_controller map we opened */
	struct cb_stash_slot *stash;
	size_t stash_size;
	struct cb_worker *w;                    /* n_workers of them */
	int n_workers;
	int threaded;                           /* n_workers > 1: lock is used */
	pthread_mutex_t lock;
	pthread_cond_t parked_cv, resume_cv;
	int pausing, parked;                    /* stop_workers(): they wait */
	int stop_fd;                            /* eventfd: workers stop (teardown) */
	int wake_fd;                            /* eventfd: workers come to park */
	int quit_fd;                            /* eventfd: a worker failed, main stops */
	struct cb_apps apps;
	struct cb_released rel;                 /* connections apps gave back */
	struct cb_supervisor sup;
	struct cb_samples local_us;             /* first byte at the hook -> fd at an app
						 * here: the last CB_SAMPLES, for status */
	struct cb_samples ring_us;              /* ... its split: hook -> its record read, */
	struct cb_samples work_us;              /* record read -> fd sent to the app */
	struct cb_faults faults;
	struct cb_metrics *metrics;
	struct cb_cluster *cluster;             /* NULL: a single node */
	char node_err[256];
	uint64_t checked_ms;                    /* last check of the attachment */
	int attach_missed;                      /* checks in a row that found it gone */
	uint64_t status_ms;                     /* last status snapshot (status.c) */
	unsigned long flows_by_state[CB_FLOW_STATE_MAX];        /* cached for the metrics */
	uint64_t flows_at_ms;
	struct cb_libver libver;        /* libbpf's and libxdp's, for connbroker_build_info */
	struct cb_ctl_stats st;
	int exit_err;                           /* why the loop stopped (0: a signal) */
	struct cb_rate log_rate;                /* decision_log lines: at most CB_DECISION_LOG_RATE/s */
};

/* Flows pending in every worker (the caller holds c->lock when threaded). */
unsigned int cb_ctl_pending(const struct ctl *c);

/* The Prometheus text for c (ctl/metrics.c). */
void cb_ctl_render_metrics(void *c, FILE *out);
/* Observe one hand-off's latency in the histogram. */
void cb_ctl_observe(struct cb_ctl_stats *st, double seconds);

#endif
