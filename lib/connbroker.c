// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libconnbroker: register for an app, receive connections as fds, and
 * register again by itself when the controller restarts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include "connbroker.h"
#include "connbroker/paths.h"
#include "connbroker_priv.h"

/* The value of " key=" in msg (a word of its own), or NULL. */
static const char *value_of(const char *msg, const char *key)
{
	const char *p = msg;
	size_t kl = strlen(key);

	while ((p = strstr(p, key))) {
		if ((p == msg || p[-1] == ' ') && p[kl] == '=')
			return p + kl + 1;
		p += kl;
	}
	return NULL;
}

/* key's value into out: 0, or -1 (absent, or longer than cap - 1). */
static int word(const char *msg, const char *key, char *out, size_t cap)
{
	const char *v = value_of(msg, key);
	size_t n;

	if (!v || (n = strcspn(v, " ")) >= cap)
		return -1;
	memcpy(out, v, n);
	out[n] = 0;
	return 0;
}

/* key=N, an unsigned decimal up to max: 0, 1 when there is no key=, -1 when bad. */
static int number(const char *text, const char *key, unsigned long max, unsigned long *v)
{
	char w[32], *end;

	if (!value_of(text, key))
		return 1;
	if (word(text, key, w, sizeof(w)))
		return -1;
	errno = 0;
	*v = strtoul(w, &end, 10);
	return !w[0] || w[0] == '-' || *end || errno || *v > max ? -1 : 0;
}

#define FLOW_TEXT_MAX 512

/*
 * "a.b.c.d:PORT" or "[v6]:PORT" (docs/app-protocol.md) into *ss, in place
 * (s is modified); 0 or -1.
 */
static int parse_client(char *s, struct sockaddr_storage *ss)
{
	char *colon = strrchr(s, ':'), *end, *host = s;
	unsigned long port;

	memset(ss, 0, sizeof(*ss));
	if (!colon)
		return -1;
	*colon = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port == 0 || port > 65535 || colon[1] == '-')
		return -1;
	if (s[0] == '[') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		size_t hl = strlen(s);

		if (hl < 3 || s[hl - 1] != ']')
			return -1;
		s[hl - 1] = 0;
		host = s + 1;
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -1;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	{
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -1;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
	}
	return 0;
}

int cb_app_parse_flow(const char *msg, size_t len, struct cb_conn_info *ci)
{
	char text[FLOW_TEXT_MAX], client[64], mode[32];
	const char *nl = memchr(msg, '\n', len);
	size_t tlen = nl ? (size_t)(nl - msg) : len;
	unsigned long nbytes, blob = 0;

	memset(ci, 0, sizeof(*ci));
	if (tlen >= sizeof(text) || memchr(msg, 0, tlen))
		goto bad;
	memcpy(text, msg, tlen);
	text[tlen] = 0;
	if (strncmp(text, "FLOW ", 5) || word(text, "client", client, sizeof(client)) ||
	    word(text, "service", ci->service, sizeof(ci->service)) ||
	    word(text, "rule", ci->rule, sizeof(ci->rule)) ||
	    word(text, "app", ci->app, sizeof(ci->app)) ||
	    number(text, "bytes", ~0ul, &nbytes) != 0)
		goto bad;
	/* optional: how the service routes, the state blob */
	if (!word(text, "route", mode, sizeof(mode))) {
		if (!strcmp(mode, "per-request"))
			ci->per_request = 1;
		else if (strcmp(mode, "per-connection"))
			goto bad;
	}
	if (number(text, "blob", CB_APP_BLOB_MAX, &blob) < 0)
		goto bad;
	/* the blob follows the newline, exactly; nothing follows without one */
	if (blob ? !nl || len - tlen - 1 != blob : len != tlen)
		goto bad;
	if (parse_client(client, &ci->client))
		goto bad;
	ci->request_bytes = nbytes;
	ci->blob_len = blob;
	if (blob)
		memcpy(ci->blob, nl + 1, blob);
	return 0;
bad:
	memset(ci, 0, sizeof(*ci));
	errno = EPROTO;
	return -1;
}

/* "ASK client=IP:PORT to=TARGET" (IPv6: [IP]:PORT): give that connection back. */
static int parse_ask(const char *msg, size_t len, struct cb_release_ask *ask)
{
	char text[FLOW_TEXT_MAX], client[64];

	memset(ask, 0, sizeof(*ask));
	if (len >= sizeof(text) || memchr(msg, 0, len))
		return -1;
	memcpy(text, msg, len);
	text[len] = 0;
	if (strncmp(text, "ASK ", 4) || word(text, "client", client, sizeof(client)))
		return -1;
	if (value_of(text, "to") && word(text, "to", ask->to, sizeof(ask->to)))
		return -1;
	return parse_client(client, &ask->client);
}


/*
 * The registration.  cb_app_fd() is an epoll fd that holds the current
 * socket, and while the controller is away a timerfd for the next attempt:
 * the app's own poll or epoll of that one fd never goes stale, and it is
 * readable exactly when cb_app_accept*() has something to do.
 */

/* after the controller went away: the first attempt at once, then 50 ms,
 * doubling up to 1 s between attempts */
#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 1000
#define ASKED (-4096)           /* step()'s CB_APP_ASKED, apart from every -errno */

enum reg_state {
	REG_UP,                 /* registered: FLOW and ASK arrive on sock */
	REG_PENDING,            /* REGISTER sent again, its answer not read yet */
	REG_AWAY,               /* no controller: the timer says when to try again */
	REG_REFUSED,            /* the controller said no: over */
};

struct cb_app {
	int ep;                 /* cb_app_fd() */
	int sock;               /* -1 while away */
	int timer;              /* armed only while away (else never readable) */
	enum reg_state state;
	unsigned int delay_ms;  /* the backoff: 0 (at once), 50 .. 1000 */
	unsigned int reconnects;
	uint64_t up_ms;         /* when the registration was answered OK */
	pthread_mutex_t mu;     /* state, sock, timer between threads; not held while waiting */
	struct sockaddr_un sa;
	char reg[128];          /* "REGISTER <app>" */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * How long the first registration waits for room in the controller's
 * backlog and for its answer: $CONNBROKER_REGISTER_TIMEOUT_MS, else 5 s (a
 * controller that is stopped or stuck must not hang the app's start).
 */
#define REGISTER_TIMEOUT_MS 5000

static unsigned long register_timeout_ms(void)
{
	const char *e = getenv("CONNBROKER_REGISTER_TIMEOUT_MS");
	char *end;
	unsigned long v;

	if (!e || !*e)
		return REGISTER_TIMEOUT_MS;
	errno = 0;
	v = strtoul(e, &end, 10);
	return *end || errno || v == 0 || v > 3600000 ? REGISTER_TIMEOUT_MS : v;
}

/* Bound (ms) or unbound (0) the socket's blocking sends, connect and receives. */
static int set_timeouts(int s, unsigned long ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	if (setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

/*
 * A socket connected to the controller, REGISTER sent: the fd or -errno.
 * nonblock: do not wait for room in the controller's backlog (a reconnect
 * must not stall an event loop); the socket itself stays blocking
 * (cb_app_release waits for room to send, as it always did).  timeout_ms:
 * how long blocking calls on it may wait until set_timeouts() says
 * otherwise (0: as long as it takes).
 */
static int dial(const struct cb_app *a, int nonblock, unsigned long timeout_ms)
{
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	int err;

	if (s < 0)
		return -errno;
	if ((timeout_ms && (err = set_timeouts(s, timeout_ms)))) {
		close(s);
		return err;
	}
	if (connect(s, (const struct sockaddr *)&a->sa, sizeof(a->sa)) ||
	    (nonblock && fcntl(s, F_SETFL, 0)) ||
	    send(s, a->reg, strlen(a->reg), MSG_NOSIGNAL) < 0) {
		err = -errno;
		close(s);
		return err;
	}
	return s;
}

/* The answer to REGISTER: 0 (OK), -ECONNREFUSED (anything else), -EAGAIN
 * (none yet, with MSG_DONTWAIT; or no answer within a bound the socket
 * has), -ECONNRESET (EOF) or another -errno. */
static int answer(int s, int flags)
{
	char r[128];
	ssize_t n;

	do
		n = recv(s, r, sizeof(r), flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	return n == 2 && !memcmp(r, "OK", 2) ? 0 : -ECONNREFUSED;
}

/* Errors that mean the controller went away. */
static int gone(int err)
{
	return err == -ECONNRESET || err == -EPIPE || err == -ENOTCONN;
}

/* The timer fires in ms (0: disarmed, and its readability cleared). */
static void arm(struct cb_app *a, unsigned int ms)
{
	struct itimerspec its = { .it_value = { ms / 1000, (long)(ms % 1000) * 1000000 } };

	timerfd_settime(a->timer, 0, &its, NULL);
}

static void backoff(struct cb_app *a)
{
	a->delay_ms = !a->delay_ms ? RETRY_FIRST_MS
		      : a->delay_ms >= RETRY_MAX_MS / 2 ? RETRY_MAX_MS : a->delay_ms * 2;
	arm(a, a->delay_ms);
}

static void drop_sock(struct cb_app *a)
{
	if (a->sock < 0)
		return;
	epoll_ctl(a->ep, EPOLL_CTL_DEL, a->sock, NULL);
	close(a->sock);
	a->sock = -1;
}

/*
 * The controller went away: the next attempt at once if the registration
 * had lasted, else one backoff step on (a controller that drops every
 * registration at once is not hammered).
 */
static void away(struct cb_app *a)
{
	int lasted = a->state == REG_UP && now_ms() - a->up_ms >= RETRY_MAX_MS;

	drop_sock(a);
	a->state = REG_AWAY;
	if (lasted)
		a->delay_ms = 0;        /* the timer is disarmed: due now */
	else
		backoff(a);
}

/*
 * Away: one attempt to register again when it is due (the timer has run
 * out or was never armed), or at once with force.  0 when REGISTER is on
 * its way (PENDING), -EAGAIN when nothing more can be done before the timer.
 */
static int attempt(struct cb_app *a, int force)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct itimerspec its;
	int s;

	if (!force && (timerfd_gettime(a->timer, &its) || its.it_value.tv_sec ||
		       its.it_value.tv_nsec))
		return -EAGAIN;
	arm(a, 0);
	s = dial(a, 1, 0);
	ev.data.fd = s;
	if (s >= 0 && !epoll_ctl(a->ep, EPOLL_CTL_ADD, s, &ev)) {
		a->sock = s;
		a->state = REG_PENDING;
		return 0;
	}
	if (s >= 0)
		close(s);
	backoff(a);
	return -EAGAIN;
}

/* One message on the registration: an fd (a FLOW), ASKED, or -errno. */
static int take(struct cb_app *a, struct cb_conn_info *info, struct cb_release_ask *ask)
{
	char buf[FLOW_TEXT_MAX + 1 + CB_APP_BLOB_MAX + 1], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd = -1;
	ssize_t n;

	do
		n = recvmsg(a->sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	/* what the controller sent before it died is read first: EOF comes last */
	if (n <= 0)
		return n == 0 ? -ECONNRESET : -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (fd < 0 && ask && !(mh.msg_flags & MSG_TRUNC) && !parse_ask(buf, (size_t)n, ask))
		return ASKED;
	if (fd < 0 || (mh.msg_flags & MSG_TRUNC) || cb_app_parse_flow(buf, (size_t)n, info)) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	return fd;
}

/* What there is without waiting: an fd, ASKED or -errno (-EAGAIN: nothing
 * yet); the registration moves on as far as it can on the way. */
static int step(struct cb_app *a, struct cb_conn_info *info, struct cb_release_ask *ask)
{
	int r;

	for (;;) {
		switch (a->state) {
		case REG_UP:
			if (!gone(r = take(a, info, ask)))
				return r;
			away(a);
			break;
		case REG_PENDING:
			r = answer(a->sock, MSG_DONTWAIT);
			if (r == -EAGAIN)
				return r;
			if (r == -ECONNREFUSED) {
				drop_sock(a);
				a->state = REG_REFUSED;
				return r;
			}
			if (r) {
				away(a);
				break;
			}
			a->state = REG_UP;
			a->up_ms = now_ms();
			a->reconnects++;
			break;
		case REG_AWAY:
			if ((r = attempt(a, 0)))
				return r;
			break;
		default:
			return -ECONNREFUSED;
		}
	}
}

static int init(struct cb_app *a)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	a->ep = epoll_create1(EPOLL_CLOEXEC);
	if (a->ep < 0)
		return -errno;
	a->timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (a->timer < 0)
		return -errno;
	ev.data.fd = a->timer;
	if (epoll_ctl(a->ep, EPOLL_CTL_ADD, a->timer, &ev))
		return -errno;
	/* the first registration is as it always was: blocking, and a failure
	 * is the caller's to see (there is nothing to reconnect to yet), but
	 * bounded: ETIMEDOUT when the controller does not take it in time */
	if ((a->sock = dial(a, 0, register_timeout_ms())) < 0)
		return a->sock == -EAGAIN ? -ETIMEDOUT : a->sock;
	if ((err = answer(a->sock, 0)))
		return err == -EAGAIN ? -ETIMEDOUT : err;
	if ((err = set_timeouts(a->sock, 0)))
		return err;
	ev.data.fd = a->sock;
	if (epoll_ctl(a->ep, EPOLL_CTL_ADD, a->sock, &ev))
		return -errno;
	a->state = REG_UP;
	a->up_ms = now_ms();
	return 0;
}

struct cb_app *cb_app_register(const char *path, const char *app)
{
	char def[108];
	struct cb_app *a;
	int err;

	if (!path)
		path = getenv("CONNBROKER_SOCKET");
	if (!path) {
		const char *ifn = getenv("CONNBROKER_IFACE");
		char ns[64];

		/* the controller's default: per interface and network namespace */
		if (cb_netns_subdir(ns, sizeof(ns)))
			ns[0] = 0;
		snprintf(def, sizeof(def), "/run/connbroker/%s%s.sock", ns, ifn ? ifn : "eth0");
		path = def;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->ep = a->sock = a->timer = -1;
	pthread_mutex_init(&a->mu, NULL);
	a->sa.sun_family = AF_UNIX;
	if (!app || strlen(path) >= sizeof(a->sa.sun_path) ||
	    snprintf(a->reg, sizeof(a->reg), "REGISTER %s", app) >= (int)sizeof(a->reg)) {
		cb_app_close(a);
		errno = EINVAL;
		return NULL;
	}
	strcpy(a->sa.sun_path, path);
	if ((err = init(a))) {
		cb_app_close(a);
		errno = -err;
		return NULL;
	}
	return a;
}

int cb_app_accept_or_ask(struct cb_app *a, struct cb_conn_info *info, struct cb_release_ask *ask)
{
	int fl = fcntl(a->ep, F_GETFL), r;
	struct epoll_event ev;

	pthread_mutex_lock(&a->mu);
	while ((r = step(a, info, ask)) == -EAGAIN && fl >= 0 && !(fl & O_NONBLOCK)) {
		/* blocking: until the socket or the timer has something (a
		 * signal: look again, the call does not fail with EINTR) */
		pthread_mutex_unlock(&a->mu);
		epoll_wait(a->ep, &ev, 1, -1);
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	if (r == ASKED)
		return CB_APP_ASKED;
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

int cb_app_accept(struct cb_app *a, struct cb_conn_info *info)
{
	struct cb_release_ask ask;
	int fd;

	/* a request to give a connection back is for apps that handle them
	 * (cb_app_accept_or_ask): skipped, and the next message read */
	while ((fd = cb_app_accept_or_ask(a, info, &ask)) == CB_APP_ASKED)
		;
	return fd;
}

int cb_app_set_nonblock(struct cb_app *a, int on)
{
	int fl = fcntl(a->ep, F_GETFL);

	if (fl < 0 || fcntl(a->ep, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK))
		return -1;
	return 0;
}

/* Send a RELEASE: if the controller is away, or goes away under this send,
 * one attempt to register again and the message sent behind REGISTER (the
 * controller reads them in order).  0 or -errno. */
static int send_release(struct cb_app *a, const struct msghdr *mh)
{
	int tried = 0, r;

	for (;;) {
		if (a->state == REG_REFUSED)
			return -ECONNREFUSED;
		if (a->state == REG_AWAY && (tried++ || attempt(a, 1)))
			return -ECONNRESET;
		while ((r = sendmsg(a->sock, mh, MSG_NOSIGNAL) < 0 ? -errno : 0) == -EINTR)
			;
		if (!gone(r))
			return r;
		away(a);
	}
}

int cb_app_release(struct cb_app *a, int fd, const char *to, const void *blob, size_t blob_len)
{
	char buf[192 + 1 + CB_APP_BLOB_MAX], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int n, err = 0;

	if (blob_len > CB_APP_BLOB_MAX || (blob_len && !blob) || fd < 0 ||
	    (to && (!to[0] || strlen(to) > 127 || strpbrk(to, " =\n")))) {
		err = EINVAL;
		goto out;
	}
	n = snprintf(buf, 192, "RELEASE%s%s blob=%zu", to ? " to=" : "", to ? to : "", blob_len);
	if (n < 0 || n >= 192) {
		err = EINVAL;
		goto out;
	}
	if (blob_len) {
		buf[n++] = '\n';
		memcpy(buf + n, blob, blob_len);
	}
	iov.iov_len = (size_t)n + blob_len;
	memset(cbuf, 0, sizeof(cbuf));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	pthread_mutex_lock(&a->mu);
	err = -send_release(a, &mh);
	pthread_mutex_unlock(&a->mu);
out:
	/* the controller holds its own reference now: ours goes either way */
	if (fd >= 0)
		close(fd);
	errno = err;
	return err ? -1 : 0;
}

int cb_app_fd(const struct cb_app *a)
{
	return a->ep;
}

int cb_app_socket(const struct cb_app *a)
{
	return a->sock;
}

/* (the mutex is not part of what const promises: the state it guards is
 * read consistently, as another thread may be changing it) */
unsigned int cb_app_reconnects(const struct cb_app *a)
{
	pthread_mutex_t *mu = (pthread_mutex_t *)&a->mu;
	unsigned int n;

	pthread_mutex_lock(mu);
	n = a->reconnects;
	pthread_mutex_unlock(mu);
	return n;
}

int cb_app_registered(const struct cb_app *a)
{
	pthread_mutex_t *mu = (pthread_mutex_t *)&a->mu;
	int up;

	pthread_mutex_lock(mu);
	up = a->state == REG_UP;
	pthread_mutex_unlock(mu);
	return up;
}

void cb_app_close(struct cb_app *a)
{
	if (!a)
		return;
	if (a->sock >= 0)
		close(a->sock);
	if (a->timer >= 0)
		close(a->timer);
	if (a->ep >= 0)
		close(a->ep);
	pthread_mutex_destroy(&a->mu);
	free(a);
}
