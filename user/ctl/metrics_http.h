/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The Prometheus endpoint: libmicrohttpd driven from the caller's epoll loop
 * (MHD_USE_EPOLL, no thread of its own).  GET /metrics answers with whatever
 * the render callback writes; anything else is 404/405.
 */
#ifndef CB_METRICS_H
#define CB_METRICS_H

#include <stdio.h>

struct cb_metrics;
typedef void (*cb_metrics_render_fn)(void *ctx, FILE *out);

/* addr "IP:PORT"; NULL and a message on failure. */
struct cb_metrics *cb_metrics_start(const char *addr, cb_metrics_render_fn fn, void *ctx);
/* The fd to watch for input (add to the caller's epoll). */
int cb_metrics_fd(const struct cb_metrics *m);
/* Call when the fd is readable, and from a periodic timer (MHD timeouts). */
void cb_metrics_run(struct cb_metrics *m);
void cb_metrics_stop(struct cb_metrics *m);

#endif
