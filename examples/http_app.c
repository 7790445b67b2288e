// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A small HTTP/1.1 application for connbroker, in C with libconnbroker: one
 * epoll loop, keep-alive, Content-Length bodies.  It answers every request
 * with "app=NAME method=M path=P body=N".
 *
 * On a service that routes per request (route = per-request), it reads
 * exactly one request (peeking first, so the next one stays unread in the
 * socket), answers it, and gives the connection back (cb_app_release): the
 * controller routes its next request, maybe to another app.
 *
 * When the controller asks for a connection back (connbroker migrate,
 * drain), it gives it back as soon as it is between two requests, for the
 * app and node asked for.
 *
 * It survives controller restarts: libconnbroker registers again by itself
 * (non-blocking here, so the loop keeps serving the connections it holds
 * meanwhile), and the app says so on stderr.  It exits only when the new
 * controller refuses the app.
 *
 *   http_app --app NAME [--socket PATH] [--tag T]   connections from connbroker
 *                                            (T is added to every answer: tag=T)
 *   http_app --app NAME --listen IP:PORT     an ordinary listener (baseline)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include "connbroker.h"

#define MAX_CONNS 4096
#define BUF 65536

struct conn {
	int fd;
	int per_request;        /* release after each answered request */
	int asked;              /* the controller wants it back: release_to */
	char release_to[128];
	size_t len;
	char buf[BUF];
};

static const char *app_name = "app";
static const char *tag = "";
static struct cb_app *ctl;

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/*
 * The first request in buf[0..len): its whole length (head and body) once
 * it is complete, 0 while it is not, -1 when it cannot be served.
 */
static long request_len(char *buf, size_t len, char *method, char *path, size_t *blen,
			int *close_after)
{
	char *end = memmem(buf, len, "\r\n\r\n", 4), *cl;
	size_t head, total;

	if (!end)
		return len == BUF ? -1 : 0;
	head = (size_t)(end - buf) + 4;
	buf[head - 1] = 0;
	if (sscanf(buf, "%15s %255s", method, path) != 2) {
		buf[head - 1] = '\n';
		return -1;
	}
	cl = strcasestr(buf, "\r\ncontent-length:");
	*blen = cl ? strtoul(cl + 17, NULL, 10) : 0;
	*close_after = strcasestr(buf, "\r\nconnection: close") != NULL;
	buf[head - 1] = '\n';
	total = head + *blen;
	if (total > BUF)
		return -1;
	return len < total ? 0 : (long)total;
}

/* Answer every complete request in c->buf; 0 keep going, -1 close. */
static int serve(struct conn *c)
{
	for (;;) {
		char method[16] = "", path[256] = "", resp[512], body[384];
		size_t total, blen = 0;
		int close_after, n;
		long r = request_len(c->buf, c->len, method, path, &blen, &close_after);

		if (r <= 0)
			return (int)r;
		total = (size_t)r;
		n = snprintf(body, sizeof(body), "app=%s%s%s method=%s path=%s body=%zu\n", app_name,
			     tag[0] ? " tag=" : "", tag, method, path, blen);
		n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s", n,
			     close_after ? "Connection: close\r\n" : "", body);
		if (write(c->fd, resp, (size_t)n) != n)
			return -1;
		memmove(c->buf, c->buf + total, c->len - total);
		c->len -= total;
		if (close_after)
			return -1;
	}
}

static struct conn *conns[MAX_CONNS];

static void drop_conn(int ep, int i, int release)
{
	struct conn *c = conns[i];

	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	if (release)
		cb_app_release(ctl, c->fd, c->asked ? c->release_to : NULL, NULL, 0);
	else
		close(c->fd);   /* (cb_app_release closes it, given back or not) */
	free(c);
	conns[i] = NULL;
}

/*
 * Per request: peek for one complete request, read exactly it, answer it,
 * give the connection back.  An incomplete one raises SO_RCVLOWAT so that
 * epoll wakes us only when more has arrived.
 */
static void on_request_conn(int ep, int i)
{
	struct conn *c = conns[i];
	char method[16] = "", path[256] = "", resp[512], body[384];
	ssize_t n = recv(c->fd, c->buf, BUF, MSG_PEEK);
	size_t blen = 0;
	int close_after = 0, lowat, len;
	long total;

	if (n < 0 && errno == EAGAIN)
		return;
	total = n > 0 ? request_len(c->buf, (size_t)n, method, path, &blen, &close_after) : -1;
	if (total == 0) {
		lowat = (int)n + 1;
		setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
		return;
	}
	if (total < 0 || read(c->fd, c->buf, (size_t)total) != total) {
		drop_conn(ep, i, 0);
		return;
	}
	lowat = 1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
	len = snprintf(body, sizeof(body), "app=%s%s%s method=%s path=%s body=%zu\n", app_name,
		       tag[0] ? " tag=" : "", tag, method, path, blen);
	len = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s", len,
		       close_after ? "Connection: close\r\n" : "", body);
	if (write(c->fd, resp, (size_t)len) != len)
		close_after = 1;
	drop_conn(ep, i, !close_after);
}

static void add_conn(int ep, int fd, int per_request)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int i;

	for (i = 0; i < MAX_CONNS && conns[i]; i++)
		;
	if (i == MAX_CONNS || !(conns[i] = calloc(1, sizeof(struct conn)))) {
		close(fd);
		return;
	}
	conns[i]->fd = fd;
	conns[i]->per_request = per_request;
	set_nonblock(fd);
	ev.data.u32 = (uint32_t)i + 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void on_conn(int ep, int i)
{
	struct conn *c = conns[i];
	ssize_t n;

	if (c->per_request) {
		on_request_conn(ep, i);
		return;
	}
	n = read(c->fd, c->buf + c->len, BUF - c->len);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n > 0) {
		c->len += (size_t)n;
		if (serve(c) == 0) {
			if (c->asked && !c->len)
				drop_conn(ep, i, 1);    /* between requests: give it back */
			return;
		}
	}
	drop_conn(ep, i, 0);
}

/* Is a (a socket's peer) the client b names?  IPv4 or IPv6. */
static int same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_addr.s_addr == y->sin_addr.s_addr && x->sin_port == y->sin_port;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) &&
		       x->sin6_port == y->sin6_port;
	}
	return 0;
}

/* The controller wants the connection to ask->client back. */
static void on_ask(int ep, const struct cb_release_ask *ask)
{
	struct sockaddr_storage p;
	socklen_t pl;
	int i;

	for (i = 0; i < MAX_CONNS; i++) {
		pl = sizeof(p);
		if (!conns[i] || getpeername(conns[i]->fd, (struct sockaddr *)&p, &pl) ||
		    !same_peer(&p, &ask->client))
			continue;
		conns[i]->asked = 1;
		snprintf(conns[i]->release_to, sizeof(conns[i]->release_to), "%s", ask->to);
		if (!conns[i]->len && !conns[i]->per_request)
			drop_conn(ep, i, 1);    /* idle between requests: now */
		return;
	}
}

/* Say when the controller went away and when the app is registered again. */
static void report_registration(struct cb_app *a)
{
	static int was_up = 1;
	static unsigned int seen;
	unsigned int n = cb_app_reconnects(a);
	int up = cb_app_registered(a);

	if (n != seen)
		fprintf(stderr, "http_app: %s registered again (reconnect %u)\n", app_name, n);
	else if (was_up && !up)
		fprintf(stderr, "http_app: %s: the controller went away; registering again\n", app_name);
	seen = n;
	was_up = up;
}

/*
 * Everything the controller has queued (connections, requests to give one
 * back), until EAGAIN; while it restarts, the library's attempts to
 * register again (EAGAIN too).  0, or -1 (refused: the app is no longer in
 * its config).
 */
static int on_controller(int ep, struct cb_app *a)
{
	static struct cb_conn_info ci;
	struct cb_release_ask ask;
	int fd;

	for (;;) {
		fd = cb_app_accept_or_ask(a, &ci, &ask);
		if (fd >= 0)
			add_conn(ep, fd, ci.per_request);
		else if (fd == CB_APP_ASKED)
			on_ask(ep, &ask);
		else if (errno != EPROTO)       /* a bad message is skipped */
			break;
	}
	report_registration(a);
	if (errno == EAGAIN)
		return 0;
	if (errno == ECONNREFUSED)
		fprintf(stderr, "http_app: %s: the controller refused the app; exiting\n", app_name);
	else
		fprintf(stderr, "http_app: %s: %s; exiting\n", app_name, strerror(errno));
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "app", 1, NULL, 'a' }, { "socket", 1, NULL, 's' },
					      { "listen", 1, NULL, 'l' }, { "tag", 1, NULL, 't' },
					      { 0 } };
	const char *sock = NULL, *listen_on = NULL;
	struct epoll_event evs[64], ev = { .events = EPOLLIN };
	struct cb_app *a = NULL;
	int ep, src, o, i, n;

	while ((o = getopt_long(argc, argv, "a:s:l:t:", opts, NULL)) != -1) {
		if (o == 'a')
			app_name = optarg;
		else if (o == 't')
			tag = optarg;
		else if (o == 's')
			sock = optarg;
		else if (o == 'l')
			listen_on = optarg;
		else
			return 2;
	}
	ep = epoll_create1(0);
	if (listen_on) {
		/* IP:PORT or [IPv6]:PORT, as connbroker's own addresses */
		struct sockaddr_in sa = { .sin_family = AF_INET };
		struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6 };
		struct sockaddr *sp = (struct sockaddr *)&sa;
		socklen_t sl = sizeof(sa);
		char ip[64];
		int port, one = 1;

		if (sscanf(listen_on, "[%63[^]]]:%d", ip, &port) == 2 &&
		    inet_pton(AF_INET6, ip, &sa6.sin6_addr) == 1) {
			sa6.sin6_port = htons((uint16_t)port);
			sp = (struct sockaddr *)&sa6;
			sl = sizeof(sa6);
		} else if (sscanf(listen_on, "%63[^:]:%d", ip, &port) == 2 &&
			   inet_pton(AF_INET, ip, &sa.sin_addr) == 1) {
			sa.sin_port = htons((uint16_t)port);
		} else {
			fprintf(stderr, "http_app: --listen %s: expected IP:PORT or [IPv6]:PORT\n", listen_on);
			return 2;
		}
		src = socket(sp->sa_family, SOCK_STREAM, 0);
		setsockopt(src, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(src, sp, sl) || listen(src, 4096)) {
			perror("http_app: listen");
			return 1;
		}
	} else {
		a = cb_app_register(sock, app_name);
		if (!a) {
			fprintf(stderr, "http_app: register %s: %s\n", app_name, strerror(errno));
			return 1;
		}
		cb_app_set_nonblock(a, 1);
		src = cb_app_fd(a);     /* the same fd across controller restarts */
		ctl = a;
	}
	fprintf(stderr, "http_app: %s ready\n", app_name);
	ev.data.u32 = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, src, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 64, -1);
		for (i = 0; i < n; i++) {
			if (evs[i].data.u32 == 1 && a) {
				if (on_controller(ep, a))
					return 1;
			} else if (evs[i].data.u32 == 1) {
				int fd = accept4(src, NULL, NULL, SOCK_CLOEXEC);

				if (fd >= 0)
					add_conn(ep, fd, 0);
			} else {
				on_conn(ep, (int)evs[i].data.u32 - 2);
			}
		}
	}
}
