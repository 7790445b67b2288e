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

int cb_app_accept_or_ask(struct cb_app *a, struct cb_conn_info *info, struct cb_release_ask *ask)
{
	char buf[FLOW_TEXT_MAX + 1 + CB_APP_BLOB_MAX + 1], cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
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
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (fd < 0 && ask && !(mh.msg_flags & MSG_TRUNC) && !parse_ask(buf, (size_t)n, ask))
		return CB_APP_ASKED;
	if (fd < 0 || (mh.msg_flags & MSG_TRUNC) || cb_app_parse_flow(buf, (size_t)n, info)) {
		if (fd >= 0)
			close(fd);
		errno = EPROTO;
		return -1;
	}
	return fd;
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
	while (sendmsg(a->fd, &mh, MSG_NOSIGNAL) < 0) {
		if (errno != EINTR) {
			err = errno == EPIPE ? ECONNRESET : errno;
			break;
		}
	}
out:
	/* the controller holds its own reference now: ours goes either way */
	if (fd >= 0)
		close(fd);
	errno = err;
	return err ? -1 : 0;
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
