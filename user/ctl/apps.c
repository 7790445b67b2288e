// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include "ctl/apps.h"
#include "ctl/loop.h"
#include "util/clock.h"
#include "util/log.h"

#define CB_XSTR(x) #x
#define CB_STR(x) CB_XSTR(x)

static int text_ok(const char *p, size_t n);

static int send_bytes(int sock, const char *msg, size_t len, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -errno : 0;
}

static int send_msg(int sock, const char *msg, int fd)
{
	return send_bytes(sock, msg, strlen(msg), fd);
}

int cb_apps_flow_msg(const struct cb_flow_msg *m, char *buf, size_t cap)
{
	char client[CB_ADDR_PORT_STRLEN];
	int n;

	if (m->blob_len > CB_BLOB_MAX)
		return -EINVAL;
	/* a.b.c.d:port or [v6]:port (docs/app-protocol.md) */
	cb_fmt_addr(&m->saddr, m->sport_be, client, sizeof(client));
	n = snprintf(buf, cap < CB_FLOW_TEXT_MAX ? cap : CB_FLOW_TEXT_MAX,
		     "FLOW client=%s service=%s rule=%s app=%s bytes=%u%s", client, m->service, m->rule, m->app, m->bytes,
		     m->per_request ? " route=per-request" : "");
	if (n < 0 || (size_t)n >= cap || n >= CB_FLOW_TEXT_MAX)
		return -ENOSPC;
	if (m->blob_len)
		n += snprintf(buf + n, cap - (size_t)n, " blob=%zu\n", m->blob_len);
	if ((size_t)n + m->blob_len > cap || n >= CB_FLOW_TEXT_MAX + 1)
		return -ENOSPC;
	if (m->blob_len)
		memcpy(buf + n, m->blob, m->blob_len);
	return n + (int)m->blob_len;
}

/* Into its app's ring, delivered to after every instance already there. */
static void ring_link(struct cb_apps *a, int j)
{
	struct cb_app_conn *c = &a->conns[j];
	int16_t head = a->next_up[c->app];

	if (head < 0) {
		c->next = c->prev = (int16_t)j;
		a->next_up[c->app] = (int16_t)j;
		return;
	}
	c->next = head;
	c->prev = a->conns[head].prev;
	a->conns[c->prev].next = (int16_t)j;
	a->conns[head].prev = (int16_t)j;
}

static void ring_unlink(struct cb_apps *a, int j)
{
	struct cb_app_conn *c = &a->conns[j];

	if (c->next < 0)
		return;         /* in no ring (cb_apps_remap() cleared them) */
	if (c->next == j) {
		a->next_up[c->app] = -1;
	} else {
		a->conns[c->prev].next = c->next;
		a->conns[c->next].prev = c->prev;
		if (a->next_up[c->app] == j)
			a->next_up[c->app] = c->next;
	}
	c->next = c->prev = -1;
}

static void conn_close(struct cb_apps *a, struct cb_app_conn *c)
{
	if (c->app >= 0) {
		ring_unlink(a, (int)(c - a->conns));
		if (a->instances[c->app])
			a->instances[c->app]--;
	}
	cb_loop_del(a->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	c->app = -1;
}

static int find_app(const struct cb_config_file *cfg, const char *name)
{
	int i;

	for (i = 0; i < cfg->n_apps; i++)
		if (!strcmp(cfg->apps[i].name, name))
			return i;
	return -1;
}

/* The app's uid/gid (-1: any) admit these credentials. */
static int app_admits(const struct cb_app_cfg *app, uid_t uid, gid_t gid)
{
	return (app->uid < 0 || uid == (uid_t)app->uid) && (app->gid < 0 || gid == (gid_t)app->gid);
}

/* SO_PEERCRED against the app's uid/gid. */
static int peer_allowed(int fd, const struct cb_app_cfg *app, struct ucred *cred)
{
	socklen_t cl = sizeof(*cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &cl))
		return 0;
	return app_admits(app, cred->uid, cred->gid);
}

static void on_register(struct cb_apps *a, struct cb_app_conn *c, const char *name)
{
	const struct cb_config_file *cfg = *a->cfg;
	struct ucred cred = { .pid = 0 };
	char reply[128];
	int app = find_app(cfg, name);

	if (app < 0) {
		snprintf(reply, sizeof(reply), "ERR unknown app '%.60s'", name);
		send_msg(c->fd, reply, -1);
		cb_info("run: registration for unknown app '%.60s' refused", name);
		a->refused_unknown++;
		return;
	}
	if (!peer_allowed(c->fd, &cfg->apps[app], &cred)) {
		send_msg(c->fd, "ERR not allowed (SO_PEERCRED)", -1);
		cb_info("run: app %s: registration by pid %d (uid %u, gid %u) refused: the config "
			"allows uid %ld, gid %ld (-1: any)", name, (int)cred.pid, (unsigned)cred.uid,
			(unsigned)cred.gid, cfg->apps[app].uid, cfg->apps[app].gid);
		a->refused_cred++;
		return;
	}
	c->app = app;
	a->instances[app]++;
	ring_link(a, (int)(c - a->conns));
	send_msg(c->fd, "OK", -1);
	cb_info("run: app %s registered (pid %d)", name, (int)cred.pid);
}

int cb_apps_parse_release(const char *buf, size_t n, char *to, size_t tocap,
			  const uint8_t **blob, size_t *blob_len)
{
	const char *nl = memchr(buf, '\n', n), *p, *end, *tok;
	size_t tlen = nl ? (size_t)(nl - buf) : n, l;
	unsigned long v = 0;
	int have_blob = 0;

	if (tlen >= CB_FLOW_TEXT_MAX || tlen < 7 || memcmp(buf, "RELEASE", 7) ||
	    !text_ok(buf, tlen) || !tocap)
		return -EPROTO;
	to[0] = 0;
	for (p = buf + 7, end = buf + tlen; p < end; p = tok + l) {
		if (*p != ' ' || p + 1 >= end || p[1] == ' ')
			return -EPROTO;         /* one space between fields, none at the end */
		tok = p + 1;
		for (l = 0; tok + l < end && tok[l] != ' '; l++)
			;
		if (l > 3 && !memcmp(tok, "to=", 3) && !to[0]) {
			if (l - 3 >= tocap)
				return -EPROTO;
			memcpy(to, tok + 3, l - 3);
			to[l - 3] = 0;
		} else if (l > 5 && !memcmp(tok, "blob=", 5) && !have_blob && l - 5 <= 4) {
			size_t i;

			for (i = 5, v = 0; i < l; i++) {
				if (tok[i] < '0' || tok[i] > '9')
					return -EPROTO;
				v = v * 10 + (unsigned long)(tok[i] - '0');
			}
			have_blob = 1;
		} else {
			return -EPROTO;         /* unknown, repeated or empty field */
		}
	}
	if (!have_blob || v > CB_BLOB_MAX || (v ? !nl || n - tlen - 1 != v : n != tlen))
		return -EPROTO;
	*blob = v ? (const uint8_t *)nl + 1 : NULL;
	*blob_len = v;
	return 0;
}

/*
 * "RELEASE [to=APP] blob=N" + the socket (SCM_RIGHTS) + "\n" and N bytes:
 * a registered instance gives a live connection back.  0, or -EPROTO.
 */
static int on_release(struct cb_apps *a, struct cb_app_conn *c, char *buf, size_t n, int fd)
{
	char to[2 * CB_CFG_NAME];
	const uint8_t *blob;
	size_t blob_len;

	if (c->app < 0 || fd < 0 || !a->on_release ||
	    cb_apps_parse_release(buf, n, to, sizeof(to), &blob, &blob_len))
		return -EPROTO;
	a->on_release(a->release_arg, c->app, fd, to, blob, blob_len);
	return 0;
}

/* A command for the running controller (connbroker drain, migrate): only
 * root or the controller's own user; answered, then the connection closed. */
static void on_ctl(struct cb_apps *a, struct cb_app_conn *c, const char *cmd)
{
	char reply[4096];
	struct ucred cred = { .pid = 0 };
	socklen_t cl = sizeof(cred);

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) ||
	    (cred.uid != 0 && cred.uid != geteuid()) || !a->on_ctl) {
		a->ctl_refused++;
		cb_info("run: control command from pid %d (uid %u) refused: root or uid %u only",
			(int)cred.pid, (unsigned)cred.uid, (unsigned)geteuid());
		send_msg(c->fd, "{\"error\":\"not allowed\"}", -1);
	} else {
		reply[0] = 0;
		a->on_ctl(a->ctl_arg, cmd, reply, sizeof(reply));
		send_msg(c->fd, reply, -1);
	}
	conn_close(a, c);
}

/* The one fd an SCM_RIGHTS message carried, -1 for none; extra ones are closed. */
static int take_fd(struct msghdr *mh)
{
	struct cmsghdr *cm;
	int fd = -1, i, n, fds[8];

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(fds, CMSG_DATA(cm), (size_t)n * sizeof(int));
		for (i = 0; i < n; i++) {
			if (fd < 0)
				fd = fds[i];
			else
				close(fds[i]);
		}
	}
	return fd;
}

static void on_message(void *arg)
{
	struct cb_app_conn *c = arg;
	struct cb_apps *a = c->owner;
	char buf[CB_APP_MSG_MAX + 1], cbuf[CMSG_SPACE(8 * sizeof(int))], name[CB_CFG_NAME];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int fd;

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_close(a, c);
		return;
	}
	fd = take_fd(&mh);
	if (!(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) && !strncmp(buf, "RELEASE ", 8) &&
	    !on_release(a, c, buf, (size_t)n, fd))
		return;         /* the fd is the release module's now */
	if (fd >= 0)
		close(fd);      /* an fd where none belongs is never kept */
	buf[n < (ssize_t)sizeof(buf) ? n : (ssize_t)sizeof(buf) - 1] = 0;
	if (!strncmp(buf, "RELEASE ", 8) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		a->bad_messages++;
		cb_info("run: app connection: malformed RELEASE (%s); ignored",
			c->app < 0 ? "not registered" : "bad fields or no socket");
		return;
	}
	if (!strncmp(buf, "CTL ", 4) && c->app < 0 && text_ok(buf, (size_t)n)) {
		on_ctl(a, c, buf + 4);
		return;
	}
	if (c->app >= 0 || !cb_apps_parse_register(buf, (size_t)n, name)) {
		a->bad_messages++;
		send_msg(c->fd, "ERR expected one REGISTER <app>", -1);
		return;
	}
	on_register(a, c, name);
}

/* Printable ASCII and spaces only, no NUL: what text messages are made of. */
static int text_ok(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || (unsigned char)p[i] > 0x7e)
			return 0;
	return 1;
}

int cb_apps_parse_register(const char *msg, size_t n, char name[CB_CFG_NAME])
{
	size_t len = n - 9;

	if (n <= 9 || strncmp(msg, "REGISTER ", 9) || len >= CB_CFG_NAME)
		return 0;
	memcpy(name, msg + 9, len);
	name[len] = 0;
	return strlen(name) == len && cb_config_name_ok(name);
}

int cb_apps_may_connect(const struct cb_config_file *cfg, uid_t uid, gid_t gid)
{
	int i;

	if (uid == 0 || uid == geteuid())
		return 1;
	for (i = 0; i < cfg->n_apps; i++)
		if (app_admits(&cfg->apps[i], uid, gid))
			return 1;
	return 0;
}

/* How many connections uid holds: all of them, and those not registered. */
static void count_uid(const struct cb_apps *a, uid_t uid, int *all, int *unreg)
{
	int i;

	*all = *unreg = 0;
	for (i = 0; i < CB_APP_CONNS_MAX; i++)
		if (a->conns[i].fd >= 0 && a->conns[i].uid == uid) {
			(*all)++;
			*unreg += a->conns[i].app < 0;
		}
}

/* Why a new connection from cred cannot have a slot (counted), or NULL. */
static const char *refusal(struct cb_apps *a, const struct ucred *cred, int slot)
{
	int all, unreg;

	if (!cb_apps_may_connect(*a->cfg, cred->uid, cred->gid)) {
		a->refused_uid++;
		return "no app admits its uid/gid";
	}
	count_uid(a, cred->uid, &all, &unreg);
	if (unreg >= CB_APP_UNREG_PER_UID || all >= CB_APP_CONNS_PER_UID) {
		a->refused_per_uid++;
		return unreg >= CB_APP_UNREG_PER_UID
			       ? "its uid has " CB_STR(CB_APP_UNREG_PER_UID) " unregistered connections"
			       : "its uid has " CB_STR(CB_APP_CONNS_PER_UID) " connections";
	}
	if (slot == CB_APP_CONNS_MAX) {
		a->refused_full++;
		return "all " CB_STR(CB_APP_CONNS_MAX) " slots are taken";
	}
	return NULL;
}

/* One connection off the listen queue: a slot, or closed at once.  0, or
 * -EAGAIN when the queue is empty. */
static int accept_one(struct cb_apps *a)
{
	struct ucred cred = { .pid = 0 };
	socklen_t cl = sizeof(cred);
	const char *why;
	uint64_t now;
	int fd = accept4(a->lsock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), i;

	if (fd < 0)
		return -EAGAIN;
	for (i = 0; i < CB_APP_CONNS_MAX && a->conns[i].fd >= 0; i++)
		;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl))
		why = "no credentials";
	else
		why = refusal(a, &cred, i);
	if (!why && cb_loop_add(a->loop, fd, on_message, &a->conns[i]))
		why = "the event loop is full";
	if (why) {
		now = cb_now_ms64();
		if (now - a->refusal_logged_ms >= 1000) {      /* a flood must not flood the log */
			a->refusal_logged_ms = now;
			cb_info("run: app connection from pid %d (uid %u) refused: %s (logged once a "
				"second; connbroker_app_connections_refused_total counts them)",
				(int)cred.pid, (unsigned)cred.uid, why);
		}
		close(fd);              /* at once: a refused peer holds nothing */
		return 0;
	}
	a->conns[i].fd = fd;
	a->conns[i].app = -1;
	a->conns[i].uid = cred.uid;
	a->conns[i].delivered = 0;
	a->conns[i].gen++;
	a->conns[i].since_ms = cb_now_ms64();
	return 0;
}

static void on_accept(void *arg)
{
	struct cb_apps *a = arg;
	int i;

	for (i = 0; i < CB_APP_ACCEPT_BURST; i++)
		if (accept_one(a))
			return;
}

int cb_apps_set_access(const struct cb_apps *a, const struct cb_config_file *cfg)
{
	if (chown(a->path, (uid_t)cfg->socket_uid, (gid_t)cfg->socket_gid) ||
	    chmod(a->path, cfg->socket_mode))
		return -errno;
	return 0;
}

int cb_apps_open(struct cb_apps *a, const char *path, struct cb_loop *loop,
		 const struct cb_config_file *const *cfg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int i, err;

	memset(a, 0, sizeof(*a));
	a->lsock = -1;
	a->loop = loop;
	a->cfg = cfg;
	for (i = 0; i < CB_APP_CONNS_MAX; i++) {
		a->conns[i].fd = -1;
		a->conns[i].app = -1;
		a->conns[i].owner = a;
		a->conns[i].next = a->conns[i].prev = -1;
	}
	for (i = 0; i < CB_CFG_MAX_APPS; i++)
		a->next_up[i] = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	strcpy(a->path, path);
	a->lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (a->lsock < 0)
		return -errno;
	unlink(path);                   /* a stale file from a dead controller */
	/* who may connect: the file's owner, group and mode (the config); who
	 * may stay: a uid some app admits (at accept); who may register for an
	 * app: that app's uid/gid (SO_PEERCRED) */
	if (bind(a->lsock, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	if ((err = cb_apps_set_access(a, *cfg)))
		return err;
	if (listen(a->lsock, SOMAXCONN))
		return -errno;
	if ((err = cb_loop_add(loop, a->lsock, on_accept, a)))
		return err;
	return 0;
}

void cb_apps_close(struct cb_apps *a)
{
	int i;

	for (i = 0; i < CB_APP_CONNS_MAX; i++)
		if (a->conns[i].fd >= 0)
			conn_close(a, &a->conns[i]);
	if (a->lsock >= 0) {
		cb_loop_del(a->loop, a->lsock);
		close(a->lsock);
		unlink(a->path);
	}
	a->lsock = -1;
}

static struct cb_app_holder *holder(struct cb_apps *a, const union cb_addr *saddr,
				     uint16_t sport_be)
{
	uint32_t h = ((saddr->w[0] ^ saddr->w[1] ^ saddr->w[2] ^ saddr->w[3]) * 2654435761u) ^
		     ((uint32_t)sport_be * 40503u);

	return &a->holders[(h ^ (h >> 16)) % CB_HOLDERS];
}

/* The next instance of app, round robin. */
static int pick(struct cb_apps *a, int app)
{
	int j;

	if (app < 0 || app >= CB_CFG_MAX_APPS || (j = a->next_up[app]) < 0)
		return -ENOENT;
	a->next_up[app] = a->conns[j].next;
	return j;
}

/* The errors of a sendmsg to an instance that has gone (its end closed). */
static int instance_gone(int err)
{
	return err == -EPIPE || err == -ECONNRESET || err == -ENOTCONN || err == -ECONNREFUSED;
}

int cb_apps_no_taker(int err)
{
	return err == -ENOENT || err == -EAGAIN || instance_gone(err);
}

/*
 * Each instance registered now is tried once, in round-robin order.  A
 * SEQPACKET message is delivered whole or not at all: an instance that
 * died before its connection's EOF reached our loop took nothing, and is
 * forgotten; the socket goes to the next one.
 */
int cb_apps_deliver(struct cb_apps *a, int app, const struct cb_flow_msg *m, int fd, int *conn)
{
	char msg[CB_APP_MSG_MAX];
	int tries = (int)cb_apps_instances(a, app), busy = 0, err = -ENOENT, c, len;

	if (!tries)
		return -ENOENT;
	if ((len = cb_apps_flow_msg(m, msg, sizeof(msg))) < 0)
		return len;
	for (; tries > 0 && (c = pick(a, app)) >= 0; tries--) {
		err = send_bytes(a->conns[c].fd, msg, (size_t)len, fd);
		if (!err) {
			struct cb_app_holder *h = holder(a, &m->saddr, m->sport_be);

			a->conns[c].delivered++;
			*h = (struct cb_app_holder){ .saddr = m->saddr, .sport_be = m->sport_be,
						     .conn = (int16_t)c, .gen = a->conns[c].gen };
			*conn = c;
			return 0;
		}
		if (instance_gone(err))
			conn_close(a, &a->conns[c]);    /* it died mid-handoff */
		else
			busy = 1;       /* its buffer full (or a passing ENOBUFS): the next one */
	}
	return busy ? -EAGAIN : err;
}

int cb_apps_ask(struct cb_apps *a, const union cb_addr *saddr, uint16_t sport_be, const char *msg)
{
	struct cb_app_holder *h = holder(a, saddr, sport_be);
	struct cb_app_conn *c;

	if (!h->sport_be || memcmp(&h->saddr, saddr, sizeof(*saddr)) || h->sport_be != sport_be)
		return 0;
	c = &a->conns[h->conn];
	if (c->fd < 0 || c->app < 0 || c->gen != h->gen)
		return 0;       /* that instance is gone */
	return send_msg(c->fd, msg, -1) ?: 1;
}

void cb_apps_tick(struct cb_apps *a, uint64_t now_ms)
{
	int i;

	/* a connection that never registers must not hold a slot forever */
	for (i = 0; i < CB_APP_CONNS_MAX; i++)
		if (a->conns[i].fd >= 0 && a->conns[i].app < 0 &&
		    now_ms - a->conns[i].since_ms > CB_REGISTER_MS) {
			conn_close(a, &a->conns[i]);
			a->register_timeouts++;
		}
}

/* Asked on every delivery: a count kept at register, close and remap. */
unsigned int cb_apps_instances(const struct cb_apps *a, int app)
{
	return app >= 0 && app < CB_CFG_MAX_APPS ? a->instances[app] : 0;
}

/* Counts and rings from scratch (apps renumbered); every conn in none. */
static void recount(struct cb_apps *a)
{
	int i;

	memset(a->instances, 0, sizeof(a->instances));
	for (i = 0; i < CB_CFG_MAX_APPS; i++)
		a->next_up[i] = -1;
	for (i = 0; i < CB_APP_CONNS_MAX; i++)
		if (a->conns[i].fd >= 0 && a->conns[i].app >= 0) {
			a->instances[a->conns[i].app]++;
			ring_link(a, i);
		}
}

void cb_apps_remap(struct cb_apps *a, const struct cb_config_file *cfg, const int *old_to_new,
		   int n_old)
{
	struct ucred cred = { .pid = 0 };
	int i;

	/* the rings are of the old indexes: out of them all, rebuilt below */
	for (i = 0; i < CB_APP_CONNS_MAX; i++)
		a->conns[i].next = a->conns[i].prev = -1;
	for (i = 0; i < CB_APP_CONNS_MAX; i++) {
		struct cb_app_conn *c = &a->conns[i];

		if (c->fd < 0 || c->app < 0)
			continue;
		c->app = c->app < n_old ? old_to_new[c->app] : -1;
		if (c->app < 0) {
			cb_info("run: an instance of a removed app disconnected");
			conn_close(a, c);       /* its app left the configuration */
		} else if (!peer_allowed(c->fd, &cfg->apps[c->app], &cred)) {
			/* the new uid/gid no longer admit it */
			cb_info("run: app %s: pid %d (uid %u) no longer allowed; disconnected",
				cfg->apps[c->app].name, (int)cred.pid, (unsigned)cred.uid);
			conn_close(a, c);
		}
	}
	recount(a);     /* indexes of the new configuration */
}
