// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A small HTTP/1.1 application for connbroker, in C with libconnbroker: one
 * epoll loop, keep-alive, Content-Length bodies.  It answers every request
 * with "app=NAME method=M path=P body=N".
 *
 *   http_app --app NAME [--socket PATH]      connections from connbroker
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
	size_t len;
	char buf[BUF];
};

static const char *app_name = "app";

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Answer every complete request in c->buf; 0 keep going, -1 close. */
static int serve(struct conn *c)
{
	for (;;) {
		char *end = memmem(c->buf, c->len, "\r\n\r\n", 4), *cl, method[16] = "", path[256] = "";
		char resp[512], body[384];
		size_t head, total, blen = 0;
		int close_after, n;

		if (!end)
			return c->len == BUF ? -1 : 0;
		head = (size_t)(end - c->buf) + 4;
		c->buf[head - 1] = 0;
		if (sscanf(c->buf, "%15s %255s", method, path) != 2)
			return -1;
		cl = strcasestr(c->buf, "\r\ncontent-length:");
		if (cl)
			blen = strtoul(cl + 17, NULL, 10);
		close_after = strcasestr(c->buf, "\r\nconnection: close") != NULL;
		c->buf[head - 1] = '\n';
		total = head + blen;
		if (total > BUF)
			return -1;
		if (c->len < total)
			return 0;
		n = snprintf(body, sizeof(body), "app=%s method=%s path=%s body=%zu\n", app_name,
			     method, path, blen);
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

static void add_conn(int ep, int fd)
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
	set_nonblock(fd);
	ev.data.u32 = (uint32_t)i + 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void on_conn(int ep, int i)
{
	struct conn *c = conns[i];
	ssize_t n = read(c->fd, c->buf + c->len, BUF - c->len);

	if (n < 0 && errno == EAGAIN)
		return;
	if (n > 0) {
		c->len += (size_t)n;
		if (serve(c) == 0)
			return;
	}
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
	conns[i] = NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "app", 1, NULL, 'a' }, { "socket", 1, NULL, 's' },
					      { "listen", 1, NULL, 'l' }, { 0 } };
	const char *sock = NULL, *listen_on = NULL;
	struct epoll_event evs[64], ev = { .events = EPOLLIN };
	struct cb_app *a = NULL;
	int ep, src, o, i, n;

	while ((o = getopt_long(argc, argv, "a:s:l:", opts, NULL)) != -1) {
		if (o == 'a')
			app_name = optarg;
		else if (o == 's')
			sock = optarg;
		else if (o == 'l')
			listen_on = optarg;
		else
			return 2;
	}
	ep = epoll_create1(0);
	if (listen_on) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		char ip[64];
		int port, one = 1;

		if (sscanf(listen_on, "%63[^:]:%d", ip, &port) != 2 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
			return 2;
		sa.sin_port = htons((uint16_t)port);
		src = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(src, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(src, (struct sockaddr *)&sa, sizeof(sa)) || listen(src, 4096)) {
			perror("http_app: listen");
			return 1;
		}
	} else {
		a = cb_app_register(sock, app_name);
		if (!a) {
			fprintf(stderr, "http_app: register %s: %s\n", app_name, strerror(errno));
			return 1;
		}
		src = cb_app_fd(a);
	}
	fprintf(stderr, "http_app: %s ready\n", app_name);
	ev.data.u32 = 1;
	epoll_ctl(ep, EPOLL_CTL_ADD, src, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 64, -1);
		for (i = 0; i < n; i++) {
			if (evs[i].data.u32 == 1) {
				struct cb_conn_info ci;
				int fd = a ? cb_app_accept(a, &ci) : accept4(src, NULL, NULL, SOCK_CLOEXEC);

				if (fd >= 0)
					add_conn(ep, fd);
				else if (a && errno != EPROTO)
					return 0;       /* the controller went away */
			} else {
				on_conn(ep, (int)evs[i].data.u32 - 2);
			}
		}
	}
}
