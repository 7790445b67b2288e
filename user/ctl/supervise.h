/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Apps the controller starts itself: a worker started on demand when a flow
 * waits for an app with a `command` and no instance (it registers like any
 * app; at most one per app, at most one start per 2 s), and inetd-style
 * children (one process per connection, the socket as stdin/stdout; at most
 * CB_MAX_CHILDREN at once).  Children are reaped through the loop's
 * signalfd (SIGCHLD).
 */
#ifndef CB_SUPERVISE_H
#define CB_SUPERVISE_H

#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include "ctl/config.h"

#define CB_MAX_CHILDREN 64
#define CB_RESPAWN_MS 2000

struct cb_supervisor {
	const char *sock_path;          /* $CONNBROKER_SOCKET for what we start */
	pid_t worker[CB_CFG_MAX_APPS];  /* on-demand worker running, per app */
	uint64_t spawned_ms[CB_CFG_MAX_APPS];
	unsigned long spawns;
	pid_t child[CB_MAX_CHILDREN];   /* inetd children running (0: free) */
	int children;
	struct rlimit nofile;           /* what we start gets the limit of fds we
					 * were started with (rlim_max 0: ours) */
};

void cb_sup_init(struct cb_supervisor *s, const char *sock_path);
/* Start a worker for app if it has a command and none runs (rate-limited). */
void cb_sup_want_worker(struct cb_supervisor *s, const struct cb_config_file *cfg, int app,
			uint64_t now_ms);
/* Start an inetd child on fd: its pid, -EAGAIN at the children bound, -errno. */
int cb_sup_inetd(struct cb_supervisor *s, const struct cb_app_cfg *a, int fd,
		 const char *client);
/* Collect exited children (SIGCHLD). */
void cb_sup_reap(struct cb_supervisor *s, const struct cb_config_file *cfg);
/* After a reload: app indexes old -> new (-1: gone; its worker is stopped). */
void cb_sup_remap(struct cb_supervisor *s, const int *old_to_new, int n_old);
/* SIGTERM to the workers we started (they end with us). */
void cb_sup_stop(struct cb_supervisor *s);

#endif
