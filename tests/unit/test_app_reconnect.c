// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libconnbroker across controller restarts, against a fake controller on a
 * unix SEQPACKET socket in a temp dir: the registration is made again by
 * itself (same name, same cb_app_fd(), an epoll registration made before
 * still works), non-blocking mode never waits, a refused re-registration
 * ends it, the backoff is bounded both ways (no busy loop, no long gap).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "connbroker.h"

static char dir[64], path[108];

static void setup(void)
{
	strcpy(dir, "/tmp/cb-reconnect-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A controller's listening socket at path (a stale file replaced, as it does). */
static int ctl_listen(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	unlink(path);
	cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(l, 16), 0);
	return l;
}

/* Accept one app on l within ms, read its REGISTER into got, answer it
 * (answer NULL: no answer): the connection, or -1 when none came. */
static int ctl_serve(int l, int ms, const char *answer, char got[128])
{
	struct pollfd p = { .fd = l, .events = POLLIN };
	ssize_t n;
	int c;

	if (poll(&p, 1, ms) != 1 || (c = accept(l, NULL, NULL)) < 0)
		return -1;
	n = recv(c, got, 127, 0);
	got[n > 0 ? n : 0] = 0;
	if (answer)
		send(c, answer, strlen(answer), 0);
	return c;
}

/* A FLOW on c carrying fd. */
static void ctl_flow(int c, int fd, int port)
{
	char msg[128], cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = msg };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	iov.iov_len = (size_t)snprintf(msg, sizeof(msg),
				       "FLOW client=198.18.0.1:%d service=s rule=default app=api bytes=0",
				       port);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	cr_assert_gt(sendmsg(c, &mh, 0), 0);
}

struct first {
	int l, c;
	char got[128];
};

static void *first_serve(void *arg)
{
	struct first *f = arg;

	f->c = ctl_serve(f->l, 3000, "OK", f->got);
	return NULL;
}

/* The first registration, answered OK by a thread: the app; *l the
 * listener, *c the controller's side of the registration. */
static struct cb_app *registered(int *l, int *c)
{
	struct first f = { .l = ctl_listen(), .c = -1 };
	struct cb_app *a;
	pthread_t t;

	pthread_create(&t, NULL, first_serve, &f);
	a = cb_app_register(path, "api");
	pthread_join(t, NULL);
	cr_assert_not_null(a, "register: %s", strerror(errno));
	cr_assert_str_eq(f.got, "REGISTER api");
	cr_assert(cb_app_registered(a));
	*l = f.l;
	*c = f.c;
	return a;
}

/* cb_app_accept() in a thread, for blocking mode. */
struct acceptor {
	struct cb_app *a;
	struct cb_conn_info ci;
	int fd, err;
	pthread_t t;
};

static void *accept_run(void *arg)
{
	struct acceptor *x = arg;

	x->fd = cb_app_accept(x->a, &x->ci);
	x->err = errno;
	return NULL;
}

static void accept_start(struct acceptor *x, struct cb_app *a)
{
	x->a = a;
	x->fd = -1;
	pthread_create(&x->t, NULL, accept_run, x);
}

/* Joined within ms, else the test fails (rather than hanging). */
static void accept_join(struct acceptor *x, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	cr_assert_eq(pthread_timedjoin_np(x->t, NULL, &ts), 0, "cb_app_accept did not return");
}

static double cpu_s(const struct rusage *r)
{
	return (double)(r->ru_utime.tv_sec + r->ru_stime.tv_sec) +
	       (double)(r->ru_utime.tv_usec + r->ru_stime.tv_usec) / 1e6;
}

TestSuite(app_reconnect, .init = setup, .fini = teardown);

/*
 * Blocking mode, a kill -9 style restart (the old socket file left behind,
 * refusing connections, then replaced): a FLOW sent before the controller
 * died is still delivered, then cb_app_accept() waits instead of failing
 * and returns the first FLOW of the new controller, which saw REGISTER api.
 */
Test(app_reconnect, blocking_accept_survives_restart)
{
	struct acceptor x;
	char got[128];
	int l, c, p[2], fd0;
	struct cb_app *a = registered(&l, &c);

	cr_assert_eq(pipe(p), 0);
	fd0 = cb_app_fd(a);
	ctl_flow(c, p[0], 40001);
	close(c);
	close(l);                       /* the file stays: connect() is refused */
	accept_start(&x, a);
	accept_join(&x, 2000);
	cr_assert_geq(x.fd, 0, "the FLOW queued before the controller died: %s", strerror(x.err));
	cr_expect_eq(ntohs(((struct sockaddr_in *)&x.ci.client)->sin_port), 40001);
	close(x.fd);
	accept_start(&x, a);
	usleep(300 * 1000);
	cr_expect_eq(x.fd, -1, "cb_app_accept returned while the controller was away");
	cr_expect_not(cb_app_registered(a));
	cr_expect_eq(cb_app_reconnects(a), 0);
	l = ctl_listen();
	c = ctl_serve(l, 2000, "OK", got);
	cr_assert_geq(c, 0, "the library did not connect again");
	cr_expect_str_eq(got, "REGISTER api");
	ctl_flow(c, p[0], 40002);
	accept_join(&x, 2000);
	cr_assert_geq(x.fd, 0, "accept after the restart: %s", strerror(x.err));
	cr_expect_eq(ntohs(((struct sockaddr_in *)&x.ci.client)->sin_port), 40002);
	cr_expect_eq(cb_app_fd(a), fd0, "cb_app_fd() changed");
	cr_expect_eq(cb_app_reconnects(a), 1);
	cr_expect(cb_app_registered(a));
	/* the fd is the pipe, working */
	cr_assert_eq(write(p[1], "x", 1), 1);
	cr_expect_eq(read(x.fd, got, 1), 1);
	close(x.fd);
	cb_app_close(a);
	close(c);
	close(l);
	close(p[0]);
	close(p[1]);
}

/*
 * Non-blocking mode and the app's own epoll, registered once before the
 * restart: EAGAIN at once while the controller is away, cb_app_fd() not
 * readable between attempts, and the FLOW the new controller sends is
 * reported by that same epoll registration.
 */
Test(app_reconnect, nonblocking_epoll_across_restart)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct pollfd pf;
	struct cb_conn_info ci;
	char got[128] = "";
	int l, c, p[2], ep, fd = -1, wakeups = 0, served = 0;
	struct cb_app *a = registered(&l, &c);
	double t0;

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(cb_app_set_nonblock(a, 1), 0);
	ep = epoll_create1(0);
	cr_assert_eq(epoll_ctl(ep, EPOLL_CTL_ADD, cb_app_fd(a), &ev), 0);
	cr_expect_eq(cb_app_accept(a, &ci), -1);
	cr_expect_eq(errno, EAGAIN, "nothing queued");
	/* a SIGTERM style restart: the socket file goes away */
	close(c);
	close(l);
	unlink(path);
	cr_expect_eq(epoll_wait(ep, &ev, 1, 1000), 1, "the EOF is not reported");
	t0 = now_s();
	cr_expect_eq(cb_app_accept(a, &ci), -1);
	cr_expect_eq(errno, EAGAIN, "while the controller is away");
	cr_expect_eq(cb_app_accept(a, &ci), -1);
	cr_expect_eq(errno, EAGAIN);
	cr_expect_lt(now_s() - t0, 0.02, "a non-blocking accept waited");
	pf = (struct pollfd){ .fd = cb_app_fd(a), .events = POLLIN };
	cr_expect_eq(poll(&pf, 1, 0), 0, "readable before the next attempt is due");
	cr_expect_not(cb_app_registered(a));
	/* away 0.5 s: a few timer wakeups, each an attempt, then a listener */
	t0 = now_s();
	while (now_s() - t0 < 0.5) {
		if (epoll_wait(ep, &ev, 1, 100) == 1) {
			wakeups++;
			cr_expect_eq(cb_app_accept(a, &ci), -1);
			cr_expect_eq(errno, EAGAIN);
		}
	}
	cr_expect_leq(wakeups, 8, "%d wakeups in 0.5 s: a busy loop", wakeups);
	cr_expect_geq(wakeups, 2, "no attempts in 0.5 s");
	l = ctl_listen();
	t0 = now_s();
	while (fd < 0 && now_s() - t0 < 3) {
		if (!served && (c = ctl_serve(l, 0, "OK", got)) >= 0) {
			ctl_flow(c, p[0], 40003);
			served = 1;
		}
		if (epoll_wait(ep, &ev, 1, 50) != 1)
			continue;
		fd = cb_app_accept(a, &ci);
		cr_assert(fd >= 0 || errno == EAGAIN, "accept: %s", strerror(errno));
	}
	cr_assert_geq(fd, 0, "the FLOW after the restart was not reported");
	cr_expect_str_eq(got, "REGISTER api");
	cr_expect_eq(ntohs(((struct sockaddr_in *)&ci.client)->sin_port), 40003);
	cr_expect_eq(cb_app_reconnects(a), 1);
	cr_expect(cb_app_registered(a));
	/* O_NONBLOCK through fcntl on cb_app_fd() is the same switch */
	cr_assert_eq(cb_app_set_nonblock(a, 0), 0);
	cr_expect_eq(fcntl(cb_app_fd(a), F_GETFL) & O_NONBLOCK, 0);
	fcntl(cb_app_fd(a), F_SETFL, O_NONBLOCK);
	cr_expect_eq(cb_app_accept(a, &ci), -1);
	cr_expect_eq(errno, EAGAIN);
	close(fd);
	close(ep);
	cb_app_close(a);
	close(c);
	close(l);
	close(p[0]);
	close(p[1]);
}

/* The new controller no longer knows the app: ECONNREFUSED, for good. */
Test(app_reconnect, refused_reregistration_ends)
{
	struct acceptor x;
	char got[128];
	int l, c, c2, p[2];
	struct cb_app *a = registered(&l, &c);

	cr_assert_eq(pipe(p), 0);
	accept_start(&x, a);
	close(c);
	c2 = ctl_serve(l, 2000, "ERR unknown app 'api'", got);
	cr_assert_geq(c2, 0);
	cr_expect_str_eq(got, "REGISTER api");
	accept_join(&x, 2000);
	cr_expect_eq(x.fd, -1);
	cr_expect_eq(x.err, ECONNREFUSED);
	cr_expect_eq(cb_app_accept(a, &x.ci), -1, "a refused registration is over");
	cr_expect_eq(errno, ECONNREFUSED);
	cr_expect_eq(cb_app_release(a, p[0], NULL, NULL, 0), -1);
	cr_expect_eq(errno, ECONNREFUSED);
	cr_expect_eq(fcntl(p[0], F_GETFD), -1, "the fd was not closed");
	cr_expect_not(cb_app_registered(a));
	cr_expect_eq(cb_app_reconnects(a), 0);
	/* nothing was tried after the refusal */
	cr_expect_eq(ctl_serve(l, 300, "OK", got), -1, "connected again after a refusal");
	cb_app_close(a);
	close(c2);
	close(l);
	close(p[1]);
}

/*
 * A controller that accepts every registration and drops it at once: the
 * attempts back off (50 ms doubling) up to 1 s apart, never closer than
 * the first step, never further than the cap.
 */
Test(app_reconnect, backoff_bounded)
{
	struct acceptor x;
	double t[16], t0;
	int l, c, n = 0, i, p[2];
	char got[128];
	struct cb_app *a = registered(&l, &c);

	cr_assert_eq(pipe(p), 0);
	accept_start(&x, a);
	close(c);
	t0 = now_s();
	/* expected at 0.05, 0.15, 0.35, 0.75, 1.55, 2.55, 3.55 s */
	while (n < 16 && now_s() - t0 < 3.7) {
		c = ctl_serve(l, 100, NULL, got);
		if (c < 0)
			continue;
		close(c);               /* accepted, never answered, dropped */
		t[n++] = now_s();
	}
	cr_assert_geq(n, 6, "only %d attempts", n);
	cr_expect_leq(n, 8, "%d attempts", n);
	for (i = 1; i < n; i++) {
		double gap = t[i] - t[i - 1];

		cr_expect_geq(gap, 0.040, "attempts %d and %d %.3f s apart: a busy loop", i - 1, i, gap);
		cr_expect_leq(gap, 1.200, "attempts %d and %d %.3f s apart: over the cap", i - 1, i, gap);
	}
	cr_expect_geq(t[n - 1] - t[n - 2], 0.5, "the backoff did not grow");
	cr_expect_eq(cb_app_reconnects(a), 0, "never answered: never registered");
	/* and then a controller that answers */
	c = ctl_serve(l, 2000, "OK", got);
	cr_assert_geq(c, 0);
	ctl_flow(c, p[0], 40005);
	accept_join(&x, 2000);
	cr_expect_geq(x.fd, 0);
	close(x.fd);
	cb_app_close(a);
	close(c);
	close(l);
	close(p[0]);
	close(p[1]);
}

/*
 * Nobody there for 1.5 s (connect() fails: ENOENT): a blocked
 * cb_app_accept() costs no CPU to speak of, and a registration that had
 * lasted is made again at once when a controller is back.
 */
Test(app_reconnect, away_costs_nothing_and_lasting_registration_retries_at_once)
{
	struct acceptor x;
	struct rusage r0, r1;
	char got[128];
	int l, c, c2, p[2];
	double cpu, t0;
	struct cb_app *a = registered(&l, &c);

	cr_assert_eq(pipe(p), 0);
	usleep(1100 * 1000);            /* the registration lasted */
	accept_start(&x, a);
	t0 = now_s();
	close(c);                       /* the listener stays: the first attempt meets it */
	c2 = ctl_serve(l, 1000, "OK", got);
	cr_assert_geq(c2, 0);
	cr_expect_lt(now_s() - t0, 0.040, "the first attempt was not made at once");
	close(c2);                      /* dropped at once: now it backs off */
	close(l);
	unlink(path);
	getrusage(RUSAGE_SELF, &r0);
	usleep(1500 * 1000);
	getrusage(RUSAGE_SELF, &r1);
	cpu = cpu_s(&r1) - cpu_s(&r0);
	cr_expect_lt(cpu, 0.05, "%.3f s of CPU in 1.5 s away", cpu);
	cr_expect_eq(x.fd, -1);
	cr_expect_eq(cb_app_reconnects(a), 1, "the registration that was dropped counted once");
	l = ctl_listen();
	c = ctl_serve(l, 2000, "OK", got);
	cr_assert_geq(c, 0, "no attempt within 2 s of a controller being back");
	ctl_flow(c, p[0], 40004);
	accept_join(&x, 2000);
	cr_expect_geq(x.fd, 0);
	cr_expect_eq(cb_app_reconnects(a), 2);
	close(x.fd);
	cb_app_close(a);
	close(c);
	close(l);
	close(p[0]);
	close(p[1]);
}

/*
 * cb_app_release() while the controller is away: ECONNRESET when nobody
 * is there (the fd closed all the same); once a controller is back, one
 * attempt made by the release itself, and the RELEASE sent right behind
 * REGISTER, fd and all.
 */
Test(app_reconnect, release_while_away)
{
	char got[128], buf[256], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cb_conn_info ci;
	int l, c, p[2], d, moved = -1;
	struct cb_app *a = registered(&l, &c);
	ssize_t n;

	cr_assert_eq(pipe(p), 0);
	cb_app_set_nonblock(a, 1);
	close(c);
	close(l);
	unlink(path);
	d = dup(p[0]);
	cr_expect_eq(cb_app_release(a, d, NULL, "st", 2), -1);
	cr_expect_eq(errno, ECONNRESET);
	cr_expect_eq(fcntl(d, F_GETFD), -1, "the fd was not closed");
	l = ctl_listen();
	cr_expect_eq(cb_app_release(a, dup(p[0]), "web", "st", 2), 0, "release: %s", strerror(errno));
	c = ctl_serve(l, 1000, "OK", got);
	cr_assert_geq(c, 0);
	cr_expect_str_eq(got, "REGISTER api");
	n = recvmsg(c, &mh, 0);
	cr_assert_gt(n, 0);
	buf[n] = 0;
	cr_expect_str_eq(buf, "RELEASE to=web blob=2\nst");
	if (CMSG_FIRSTHDR(&mh))
		memcpy(&moved, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	cr_assert_geq(moved, 0, "no fd with the RELEASE");
	cr_assert_eq(write(p[1], "m", 1), 1);
	cr_expect_eq(read(moved, buf, 1), 1, "it is the same pipe");
	/* the OK is read by the next accept: registered again */
	cr_expect_eq(cb_app_accept(a, &ci), -1);
	cr_expect_eq(errno, EAGAIN);
	cr_expect(cb_app_registered(a));
	cr_expect_eq(cb_app_reconnects(a), 1);
	close(moved);
	cb_app_close(a);
	close(c);
	close(l);
	close(p[0]);
	close(p[1]);
}
