/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The controller's one epoll loop.  Modules register an fd with a callback
 * and an argument; the loop knows nothing else about them.  Bounded: at most
 * CB_LOOP_MAX fds.  No global state: one loop per context (the controller's
 * main loop, and one per worker: ctl/ctl.h).
 */
#ifndef CB_LOOP_H
#define CB_LOOP_H

#include <pthread.h>
#include <stdint.h>

#define CB_LOOP_MAX 1024        /* 256 app connections, 512 released connections
				 * (release.h), the controller's own fds */

typedef void (*cb_loop_fn)(void *arg);

struct cb_loop_slot {
	int fd;                 /* -1: free */
	cb_loop_fn fn;
	void *arg;
};

struct cb_loop {
	int ep;
	int stop;               /* set by a callback: cb_loop_run returns */
	pthread_mutex_t *lock;  /* non-NULL: held while callbacks run (the
				 * controller's main loop beside its workers) */
	struct cb_loop_slot slots[CB_LOOP_MAX];
};

int cb_loop_init(struct cb_loop *l);
void cb_loop_fini(struct cb_loop *l);
/* Call fn(arg) whenever fd is readable: 0, -ENOSPC (full) or -errno. */
int cb_loop_add(struct cb_loop *l, int fd, cb_loop_fn fn, void *arg);
void cb_loop_del(struct cb_loop *l, int fd);
/* Change what wakes fd's callback (EPOLLIN, EPOLLOUT or both): 0 or -errno.
 * For a non-blocking connect() or a write the kernel could not take. */
int cb_loop_mod(struct cb_loop *l, int fd, uint32_t events);
/* Dispatch until l->stop is set: 0, or -errno if epoll itself fails. */
int cb_loop_run(struct cb_loop *l);

#endif
