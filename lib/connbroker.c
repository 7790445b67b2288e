// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libconnbroker: register for an app, receive connections as fds. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "connbroker.h"
#include "connbroker/paths.h"

struct cb_app {
	int fd;
};

static int word(const char *msg, const char *key, char *out, size_t cap)
{
	const char *p = msg;
	size_t kl = strlen(key), n;

	while ((p = strstr(p, key))) {
		if ((p == msg || p[-1] == ' ') && p[kl] == '=') {
			p += kl + 1;
			n = strcspn(p, " ");
			if (n >= cap)
				return -1;
			memcpy(out, p, n);
			out[n] = 0;
			return 0;
		}
		p += kl;
	}
	return -1;
}

int cb_app_parse_flow(const char *msg, struct cb_conn_info *ci)
{
	char client[64], bytes[32], *colon, *end;
	unsigned long port, nbytes;

	memset(ci, 0, sizeof(*ci));
	if (strncmp(msg, "FLOW ", 5) || word(msg, "client", client, sizeof(client)) ||
	    word(msg, "service", ci->service, sizeof(ci->service)) ||
	    word(msg, "rule", ci->rule, sizeof(ci->rule)) ||
	    word(msg, "app", ci->app, sizeof(ci->app)) || word(msg, "bytes", bytes, sizeof(bytes)))
		goto bad;
	colon = strrchr(client, ':');
	if (!colon)
		goto bad;
	*colon = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end || port == 0 || port > 65535 || inet_pton(AF_INET, client, &ci->client.sin_addr) != 1)
		goto bad;
	nbytes = strtoul(bytes, &end, 10);
	if (*end)
		goto bad;
	ci->client.sin_family = AF_INET;
	ci->client.sin_port = htons((uint16_t)port);
	ci->request_bytes = nbytes;
	return 0;
bad:
	errno = EPROTO;
	return -1;
}

struct cb_app *cb_app_register(const char *path, const char *app)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char def[108], msg[128], reply[128];
	struct cb_app *a;
	ssize_t n;

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
	if (!app || strlen(path) >= sizeof(sa.sun_path) ||
	    snprintf(msg, sizeof(msg), "REGISTER %s", app) >= (int)sizeof(msg)) {
		errno = EINVAL;
		return NULL;
	}
	strcpy(sa.sun_path, path);
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (a->fd < 0 || connect(a->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    send(a->fd, msg, strlen(msg), MSG_NOSIGNAL) < 0)
		goto fail;
	n = recv(a->fd, reply, sizeof(reply) - 1, 0);
	if (n <= 0) {
		errno = n == 0 ? ECONNRESET : errno;
		goto fail;
	}
	reply[n] = 0;
	if (strcmp(reply, "OK")) {
		errno = ECONNREFUSED;
		goto fail;
	}
	return a;
fail:
	{
		int e = errno;

		if (a->fd >= 0)
			close(a->fd);
		free(a);
		errno = e;
	}
	return NULL;
}

int cb_app_accept(struct cb_app *a, struct cb_conn_info *info)
{
	char buf[512], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd = -1;
	ssize_t n;

	for (;;) {
		n = recvmsg(a->fd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (n <= 0) {
		if (n == 0)
			errno = ECONNRESET;
		return -1;
	}
	buf[n] = 0;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (fd < 0 || cb_app_parse_flow(buf, info)) {
		if (fd >= 0)
			close(fd);
		errno = EPROTO;
		return -1;
	}
	return fd;
}

int cb_app_fd(const struct cb_app *a)
{
	return a->fd;
}

void cb_app_close(struct cb_app *a)
{
	if (!a)
		return;
	close(a->fd);
	free(a);
}
