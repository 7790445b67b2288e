/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The Prometheus endpoint: libmicrohttpd driven from the caller's epoll loop
 * (MHD_USE_EPOLL, no thread of its own).  GET /metrics answers with whatever
 * the render callback writes; anything else is 404/405.  Bounded by
 * CB_METRICS_*: connections, per address, idle time and total time.
 */
#ifndef CB_METRICS_H
#define CB_METRICS_H

#include <stdint.h>
#include <stdio.h>

/* Bounds: a flood from one address or slow clients cannot keep a scrape out. */
#define CB_METRICS_CONNS 64             /* connections at once */
#define CB_METRICS_PER_ADDR 4           /* from one client address */
#define CB_METRICS_IDLE_S 2             /* silent this long: closed */
#define CB_METRICS_CONN_MS 3000         /* open longer than this: shut down */

struct cb_metrics;
typedef void (*cb_metrics_render_fn)(void *ctx, FILE *out);

/* addr "IP:PORT"; NULL and a message on failure. */
struct cb_metrics *cb_metrics_start(const char *addr, cb_metrics_render_fn fn, void *ctx);
/* The fd to watch for input (add to the caller's epoll). */
int cb_metrics_fd(const struct cb_metrics *m);
/* Call when the fd is readable, and from a periodic timer (MHD timeouts). */
void cb_metrics_run(struct cb_metrics *m);
/* From the caller's periodic timer: connections open too long are ended. */
void cb_metrics_tick(struct cb_metrics *m, uint64_t now_ms);
void cb_metrics_stop(struct cb_metrics *m);

#endif
