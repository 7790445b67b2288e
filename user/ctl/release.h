/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Connections apps give back (RELEASE, docs/app-protocol.md): held here,
 * live, until their next request shows which app it is for (or until the
 * app the release named can take them), then handed to that app with the
 * state blob the releasing app left.  This is how every request of a
 * keep-alive connection is routed by its own content (route = per-request)
 * and how an app hands a connection to another app.
 *
 * In a cluster, a connection whose next app runs on another node (or that
 * the app released for a node: "APP@NODE") moves there live
 * (ctl/cluster_move.c); a move that fails leaves it here.
 *
 * A move between apps of this node passes the fd: the socket never leaves
 * the kernel, so there is nothing to dump, no freeze, no pause, and the
 * client sees nothing.  Its flow entry stays LOCAL throughout (a local
 * socket owns the flow: the releasing app's, this controller's, the next
 * app's; ctl/owner.c).
 *
 * Bounded: CB_RELEASED_MAX connections held (beyond, a release is reset and
 * counted).  A held connection's next request must start within its
 * service's idle_ms (else it is closed with a FIN, as an idle keep-alive
 * connection is), be decided within decide_bytes/decide_ms from its first
 * byte (as a new flow is), and find an app instance within wait_ms (else
 * the service's on_timeout: RST or HTTP 503).  No busy polling: while its
 * request is incomplete, SO_RCVLOWAT is one byte above what it holds, so
 * epoll wakes the loop only when more arrives; SO_RCVLOWAT is back to 1
 * before the app gets it.  While it waits for an instance it is out of the
 * loop (the timer retries).
 */
#ifndef CB_RELEASE_H
#define CB_RELEASE_H

#include <stddef.h>
#include <stdint.h>
#include <connbroker/shared.h>
#include "ctl/apps.h"
#include "ctl/config.h"
#include "ctl/pending.h"

#define CB_RELEASED_MAX 512

struct cb_loop;
struct cb_released;

struct cb_released_conn {
	int fd;                         /* -1: free slot */
	struct cb_flow_key key;
	int service;
	int to_app;                     /* the app the release named; -1: the rules */
	int node;                       /* the node it named (cfg->nodes); -1: any */
	int local_only;                 /* a move failed: served here */
	int lowat_raised;               /* SO_RCVLOWAT above 1 (reset before it leaves) */
	struct cb_decision d;           /* d.app >= 0: decided, awaiting an instance */
	int in_loop;                    /* its fd is in the loop (not while awaiting) */
	uint64_t since_ms;              /* released at */
	uint64_t first_ms;              /* first byte of its next request seen; 0: none */
	uint64_t wait_since_ms;         /* decided at */
	uint32_t bytes;                 /* of the next request, when decided */
	size_t blob_len;
	uint8_t blob[CB_BLOB_MAX];
	struct cb_released *owner;      /* for the loop callback */
};

struct cb_released_stats {
	unsigned long released;         /* connections given back */
	unsigned long delivered;        /* handed to their next app */
	unsigned long idle_closed;      /* no next request within idle_ms: FIN */
	unsigned long client_closed;    /* the client closed (or reset) it meanwhile, or
					 * before it reached us */
	unsigned long refused;          /* not a connection of a service here, or the
					 * table was full: closed or reset */
	unsigned long timeouts;         /* no instance within wait_ms: on_timeout */
	unsigned long failed;           /* delivery failed: reset */
	unsigned long moved;            /* moves to another node started */
	unsigned long resumed;          /* ... that failed: back here, served here */
};

/* connbroker migrate for a connection not held here yet: applied when its
 * app releases it (bounded; forgotten after CB_DIRECTIVE_MS). */
#define CB_DIRECTIVES_MAX 256
#define CB_DIRECTIVE_MS 60000
struct cb_directive {
	union cb_addr saddr;
	uint16_t sport_be;              /* 0: free slot */
	int to_app;                     /* -1: the app that releases it */
	int node;                       /* -1: any */
	uint64_t until_ms;
};

struct cb_released {
	struct cb_loop *loop;
	struct cb_apps *apps;
	const struct cb_config_file *const *cfg;
	uint8_t *peek;                  /* the next request's bytes, peeked */
	size_t peek_cap;
	struct cb_released_stats st;
	struct cb_cluster *cluster;     /* NULL: a single node */
	unsigned long *rule_hits;       /* decisions, counted with the controller's */
	unsigned long *default_hits;
	struct cb_directive dir[CB_DIRECTIVES_MAX];
	struct cb_released_conn r[CB_RELEASED_MAX];
};

/*
 * Ready to take releases from apps (sets apps->on_release): 0 or -ENOMEM.
 * Each request it routes is counted in rule_hits[rule] or
 * default_hits[service], beside the new flows the controller routes.
 */
int cb_released_open(struct cb_released *t, struct cb_loop *loop, struct cb_apps *apps,
		     const struct cb_config_file *const *cfg, unsigned long *rule_hits,
		     unsigned long *default_hits);
/* Every connection still held is reset: nobody would serve it. */
void cb_released_close(struct cb_released *t);
/* apps.c's on_release: an instance of app gave fd back. */
void cb_released_take(void *arg, int app, int fd, const char *to, const uint8_t *blob,
		      size_t len);
/* A move to another node failed (cluster.h, env->resumed): fd is live here
 * again and is served by an instance of app here. */
void cb_released_resume(struct cb_released *t, int fd, int app, const uint8_t *blob,
			size_t len);
/*
 * connbroker migrate: the connection of client saddr:sport goes to to_app
 * (-1: its own app) on node (-1: any).  1: it is held here and moves now;
 * 0: noted for when its app gives it back; -ENOSPC: too many noted.
 */
int cb_released_direct(struct cb_released *t, const union cb_addr *saddr, uint16_t sport_be,
		       int to_app,
		       int node);
/* Timers: decide_ms, wait_ms, idle_ms; retries delivery of decided ones. */
void cb_released_tick(struct cb_released *t, uint64_t now_ms);
unsigned int cb_released_held(const struct cb_released *t);
/* A reload renumbered services and apps (old index -> new, -1: removed). */
void cb_released_remap(struct cb_released *t, const int *svc, const int *app);

#endif
