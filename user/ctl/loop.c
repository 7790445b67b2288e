// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <unistd.h>
#include <sys/epoll.h>
#include "ctl/loop.h"

int cb_loop_init(struct cb_loop *l)
{
	int i;

	for (i = 0; i < CB_LOOP_MAX; i++)
		l->slots[i].fd = -1;
	l->stop = 0;
	l->lock = NULL;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	return l->ep < 0 ? -errno : 0;
}

void cb_loop_fini(struct cb_loop *l)
{
	if (l->ep >= 0)
		close(l->ep);
	l->ep = -1;
}

int cb_loop_add(struct cb_loop *l, int fd, cb_loop_fn fn, void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int i;

	for (i = 0; i < CB_LOOP_MAX && l->slots[i].fd >= 0; i++)
		;
	if (i == CB_LOOP_MAX)
		return -ENOSPC;
	ev.data.ptr = &l->slots[i];
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	l->slots[i].fd = fd;
	l->slots[i].fn = fn;
	l->slots[i].arg = arg;
	return 0;
}

void cb_loop_del(struct cb_loop *l, int fd)
{
	int i;

	for (i = 0; i < CB_LOOP_MAX; i++)
		if (l->slots[i].fd == fd) {
			epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
			l->slots[i].fd = -1;
			return;
		}
}

int cb_loop_mod(struct cb_loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events };
	int i;

	if (fd < 0)
		return -EBADF;
	for (i = 0; i < CB_LOOP_MAX && l->slots[i].fd != fd; i++)
		;
	if (i == CB_LOOP_MAX)
		return -ENOENT;
	ev.data.ptr = &l->slots[i];
	return epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

int cb_loop_run(struct cb_loop *l)
{
	struct epoll_event evs[64];
	int n, i;

	while (!l->stop) {
		n = epoll_wait(l->ep, evs, 64, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (l->lock)
			pthread_mutex_lock(l->lock);
		for (i = 0; i < n && !l->stop; i++) {
			struct cb_loop_slot *s = evs[i].data.ptr;

			/* a callback earlier in this batch may have removed it */
			if (s->fd >= 0)
				s->fn(s->arg);
		}
		if (l->lock)
			pthread_mutex_unlock(l->lock);
	}
	return 0;
}
