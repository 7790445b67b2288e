// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Connections apps give back: see release.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "ctl/cluster.h"
#include "ctl/loop.h"
#include "ctl/release.h"
#include "ctl/reset.h"
#include "ctl/route.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/parse_util.h"

static const struct cb_config_file *cfg_of(const struct cb_released *t)
{
	return *t->cfg;
}

/* The client sent its FIN (CLOSE_WAIT): nothing more will arrive. */
static int peer_closed(int fd)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);

	return !getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) && ti.tcpi_state == TCP_CLOSE_WAIT;
}

static void set_lowat(int fd, int v)
{
	setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v));
}

static void unloop(struct cb_released *t, struct cb_released_conn *r)
{
	if (r->in_loop)
		cb_loop_del(t->loop, r->fd);
	r->in_loop = 0;
}

/* The slot is free again; fd is closed by how the caller says: FIN or RST. */
static void finish(struct cb_released *t, struct cb_released_conn *r, int reset)
{
	unloop(t, r);
	if (reset)
		cb_reset_socket(r->fd);
	else
		close(r->fd);
	r->fd = -1;
}

/*
 * The connection's key and service (an app may hand over any fd: trust
 * none).  The service index; -ENOTCONN: a TCP socket whose connection ended
 * (the client closed or reset it meanwhile); -EINVAL: not a TCP connection
 * to a service of this controller.
 */
static int identify(const struct cb_released *t, int fd, struct cb_flow_key *k)
{
	struct sockaddr_storage l, p;
	socklen_t ll = sizeof(l), pl = sizeof(p), il;
	struct tcp_info ti;
	struct cb_service_key sk = { 0 };
	union cb_addr peer;
	uint16_t peer_port;
	int type = 0, proto = 0, svc;

	il = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &il) || type != SOCK_STREAM)
		return -EINVAL;
	il = sizeof(proto);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &il) || proto != IPPROTO_TCP)
		return -EINVAL;
	/* IPv4, IPv6, or IPv4 on an IPv6 socket (mapped: the same key) */
	if (getsockname(fd, (struct sockaddr *)&l, &ll) ||
	    cb_addr_from_sockaddr((struct sockaddr *)&l, &sk.vip, &sk.port_be))
		return -EINVAL;
	if ((svc = cb_service_find(cfg_of(t), &sk)) < 0)
		return -EINVAL;
	il = sizeof(ti);
	if (getpeername(fd, (struct sockaddr *)&p, &pl) ||
	    cb_addr_from_sockaddr((struct sockaddr *)&p, &peer, &peer_port) ||
	    cb_addr_is_v4(&peer) != cb_addr_is_v4(&sk.vip) ||
	    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &il) ||
	    (ti.tcpi_state != TCP_ESTABLISHED && ti.tcpi_state != TCP_CLOSE_WAIT))
		return -ENOTCONN;
	*k = (struct cb_flow_key){ .saddr = peer, .daddr = sk.vip,
				   .sport_be = peer_port, .dport_be = sk.port_be };
	return svc;
}

/* Hand r to an instance of its app: 1 done (slot free), 0 no instance yet. */
static int deliver(struct cb_released *t, struct cb_released_conn *r)
{
	const struct cb_config_file *cfg = cfg_of(t);
	const struct cb_service_cfg *s = &cfg->services[r->d.service];
	struct cb_flow_msg m = {
		.saddr = r->key.saddr, .sport_be = r->key.sport_be, .service = s->name,
		.rule = r->d.rule >= 0 ? cfg->rules[r->d.rule].name : "default",
		.bytes = r->bytes, .per_request = s->per_request,
		.blob = r->blob, .blob_len = r->blob_len,
	};
	char fs[CB_FLOW_STRLEN];
	int conn, err;

	if (r->d.app < 0 || !cb_apps_instances(t->apps, r->d.app))
		return 0;
	m.app = cfg->apps[r->d.app].name;
	if (r->lowat_raised)
		set_lowat(r->fd, 1);    /* the app reads as from any socket */
	err = cb_apps_deliver(t->apps, r->d.app, &m, r->fd, &conn);
	if (err == -EAGAIN)
		return 0;               /* every instance's queue is full: later */
	if (err) {
		cb_err("run: %s: released connection to app %s: %s; resetting it",
		       cb_fmt_flow(&r->key, fs, sizeof(fs)), m.app, strerror(-err));
		t->st.failed++;
		finish(t, r, 1);
		return 1;
	}
	cb_debug("run: %s: released connection -> app %s", cb_fmt_flow(&r->key, fs, sizeof(fs)),
		 m.app);
	t->st.delivered++;
	finish(t, r, 0);                /* our reference only: the app has its own */
	return 1;
}

/* No instance of its app within wait_ms: the service's on_timeout. */
static void timeout(struct cb_released *t, struct cb_released_conn *r)
{
	const struct cb_service_cfg *s = &cfg_of(t)->services[r->d.service];
	char fs[CB_FLOW_STRLEN];
	int fd = r->fd;

	cb_info("run: %s: released connection: no app for service %s within %u ms: %s",
		cb_fmt_flow(&r->key, fs, sizeof(fs)), s->name, s->wait_ms,
		s->on_timeout == CB_TIMEOUT_HTTP503 ? "503" : "reset");
	t->st.timeouts++;
	unloop(t, r);
	r->fd = -1;
	if (s->on_timeout == CB_TIMEOUT_HTTP503)
		cb_answer_503(fd);
	else
		cb_reset_socket(fd);
}

/*
 * In a cluster, the next app may run on another node (or the app asked for
 * one): move the live connection there (ctl/cluster_move.c).  1 when it
 * left this table (moving, or already given back and held again), 0 to
 * serve it here.
 */
static int move_elsewhere(struct cb_released *t, struct cb_released_conn *r, const uint8_t *req,
			  size_t len)
{
	char fs[CB_FLOW_STRLEN];
	int node, err;

	if (!t->cluster || r->local_only ||
	    (node = cb_cluster_place_conn(t->cluster, &r->key, &r->d, req, len, r->node)) < 0)
		return 0;
	unloop(t, r);           /* before: a failed move gives the fd back at once */
	if (r->lowat_raised)
		set_lowat(r->fd, 1);
	err = cb_cluster_move(t->cluster, r->fd, &r->key, &r->d, node, r->blob, r->blob_len);
	if (err) {
		/* (tried again on each tick while it waits here) */
		cb_debug("run: %s: released connection stays here for now: %s",
			 cb_fmt_flow(&r->key, fs, sizeof(fs)), strerror(-err));
		return 0;
	}
	t->st.moved++;
	r->fd = -1;             /* the cluster's now (or this table's again, resumed) */
	return 1;
}

/*
 * Look at what the client sent since the release: decide its app once the
 * request is complete (or a bound is reached), and hand it over.
 */
static void look(struct cb_released *t, struct cb_released_conn *r, uint64_t now)
{
	const struct cb_config_file *cfg = cfg_of(t);
	size_t cap = cfg->decide_bytes < t->peek_cap ? cfg->decide_bytes : t->peek_cap;
	ssize_t n = recv(r->fd, t->peek, cap, MSG_PEEK | MSG_DONTWAIT);
	int err, forced;

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		t->st.client_closed++;          /* FIN (nothing more to serve) or RST */
		finish(t, r, 0);
		return;
	}
	if (n < 0 && r->to_app < 0)
		return;                         /* no next request yet */
	if (n < 0)
		n = 0;                          /* a move to a named app waits for nothing */
	if (n && !r->first_ms)
		r->first_ms = now;
	forced = (size_t)n >= cap || now - r->first_ms >= cfg->decide_ms;
	if (r->to_app >= 0) {
		r->d = (struct cb_decision){ .service = r->service, .rule = -1, .app = r->to_app };
	} else {
		err = cb_route_decide(cfg, &r->key, t->peek, (size_t)n, forced, &r->d);
		/* decided now also when the client has half-closed: no more bytes
		 * can come, and a FIN keeps the socket readable whatever
		 * SO_RCVLOWAT says (waiting would wake the loop on every pass) */
		if (err == -EAGAIN && peer_closed(r->fd))
			err = cb_route_decide(cfg, &r->key, t->peek, (size_t)n, 1, &r->d);
		if (err == -EAGAIN) {
			set_lowat(r->fd, (int)n + 1);   /* wake when more arrives */
			r->lowat_raised = 1;
			return;
		}
		if (err) {                      /* its service is gone (a reload) */
			t->st.refused++;
			finish(t, r, 1);
			return;
		}
		if (r->d.rule >= 0)
			t->rule_hits[r->d.rule]++;
		else
			t->default_hits[r->d.service]++;
	}
	r->wait_since_ms = now;
	r->bytes = (uint32_t)n;
	if (move_elsewhere(t, r, t->peek, (size_t)n))
		return;
	if (!deliver(t, r))
		unloop(t, r);                   /* awaiting an instance: the timer retries */
}

static void on_readable(void *arg)
{
	struct cb_released_conn *r = arg;

	look(r->owner, r, cb_now_ms64());
}

/* A connbroker migrate noted for r's client: where it goes now. */
static void take_directive(struct cb_released *t, struct cb_released_conn *r, int from_app)
{
	uint64_t now = cb_now_ms64();
	int i;

	for (i = 0; i < CB_DIRECTIVES_MAX; i++) {
		struct cb_directive *d = &t->dir[i];

		if (!d->sport_be || memcmp(&d->saddr, &r->key.saddr, sizeof(d->saddr)) ||
		    d->sport_be != r->key.sport_be)
			continue;
		d->sport_be = 0;
		if (now > d->until_ms)
			continue;
		r->to_app = d->to_app >= 0 ? d->to_app : from_app;
		r->node = d->node;
	}
}

int cb_released_direct(struct cb_released *t, const union cb_addr *saddr, uint16_t sport_be,
		       int to_app, int node)
{
	uint64_t now = cb_now_ms64();
	struct cb_directive *free_d = NULL;
	int i;

	for (i = 0; i < CB_RELEASED_MAX; i++) {
		struct cb_released_conn *r = &t->r[i];

		if (r->fd < 0 || memcmp(&r->key.saddr, saddr, sizeof(*saddr)) ||
		    r->key.sport_be != sport_be)
			continue;
		if (to_app >= 0)
			r->to_app = to_app;
		else if (r->to_app < 0)
			r->to_app = r->d.app;   /* decided already, or routed by its request */
		r->node = node;
		r->local_only = 0;
		if (!r->in_loop) {              /* awaiting an instance: look again */
			if (cb_loop_add(t->loop, r->fd, on_readable, r))
				return -ENOSPC;
			r->in_loop = 1;
		}
		look(t, r, now);
		return 1;
	}
	for (i = 0; i < CB_DIRECTIVES_MAX; i++) {
		struct cb_directive *d = &t->dir[i];

		if (d->sport_be && !memcmp(&d->saddr, saddr, sizeof(*saddr)) && d->sport_be == sport_be)
			free_d = d;     /* replaced */
		else if (!free_d && (!d->sport_be || now > d->until_ms))
			free_d = d;
	}
	if (!free_d)
		return -ENOSPC;
	*free_d = (struct cb_directive){ .saddr = *saddr, .sport_be = sport_be,
					 .to_app = to_app, .node = node,
					 .until_ms = now + CB_DIRECTIVE_MS };
	return 0;
}

/* Hold fd (released by an instance of from_app) until its next app is known. */
static void hold(struct cb_released *t, int from_app, int fd, int to_app, int node,
		 const uint8_t *blob, size_t len, int local_only)
{
	const struct cb_config_file *cfg = cfg_of(t);
	struct cb_released_conn *r = NULL;
	struct cb_flow_key k;
	char fs[CB_FLOW_STRLEN];
	int svc = identify(t, fd, &k), i;

	if (svc == -ENOTCONN) {
		t->st.client_closed++;
		close(fd);
		return;
	}
	if (svc < 0) {
		cb_info("run: app %s released a socket that is no live connection of a service "
			"here; closed", from_app >= 0 ? cfg->apps[from_app].name : "?");
		t->st.refused++;
		close(fd);
		return;
	}
	for (i = 0; i < CB_RELEASED_MAX && !r; i++)
		if (t->r[i].fd < 0)
			r = &t->r[i];
	if (!r || cb_loop_add(t->loop, fd, on_readable, r)) {
		cb_err("run: %s: released connection: %d held already (the limit); resetting it",
		       cb_fmt_flow(&k, fs, sizeof(fs)), CB_RELEASED_MAX);
		t->st.refused++;
		cb_reset_socket(fd);
		return;
	}
	memset(r, 0, offsetof(struct cb_released_conn, blob));
	r->fd = fd;
	r->key = k;
	r->service = svc;
	r->to_app = to_app;
	r->node = node;
	r->local_only = local_only;
	if (!local_only)        /* a move that failed stays here: no directive then */
		take_directive(t, r, from_app);
	r->in_loop = 1;
	r->since_ms = cb_now_ms64();
	r->d.app = -1;
	r->blob_len = len;
	if (len)
		memcpy(r->blob, blob, len);
	r->owner = t;
	set_lowat(fd, 1);       /* whatever the releasing app left: epoll must see a byte */
	look(t, r, r->since_ms);        /* its next request may be there already */
}

void cb_released_take(void *arg, int app, int fd, const char *to, const uint8_t *blob,
		      size_t len)
{
	struct cb_released *t = arg;
	const struct cb_config_file *cfg = cfg_of(t);
	char name[CB_CFG_NAME], *at;
	int to_app = -1, node = -1;

	t->st.released++;
	/* to: "", "APP" or "APP@NODE" */
	snprintf(name, sizeof(name), "%s", to);
	if ((at = strchr(name, '@'))) {
		*at++ = 0;
		if ((node = cb_config_node(cfg, at)) < 0)
			cb_info("run: a connection released for node '%s', which the configuration "
				"does not have: placed as usual", at);
	}
	if (name[0] && (to_app = cb_config_app(cfg, name)) < 0)
		cb_info("run: a connection released for app '%s', which the configuration does "
			"not have: routed by the rules", name);
	hold(t, app, fd, to_app, node, blob, len, 0);
}

void cb_released_resume(struct cb_released *t, int fd, int app, const uint8_t *blob, size_t len)
{
	t->st.resumed++;
	hold(t, app, fd, app, -1, blob, len, 1);
}

void cb_released_tick(struct cb_released *t, uint64_t now)
{
	const struct cb_config_file *cfg = cfg_of(t);
	int i;

	for (i = 0; i < CB_RELEASED_MAX; i++) {
		struct cb_released_conn *r = &t->r[i];

		if (r->fd < 0)
			continue;
		if (!r->in_loop) {              /* decided: another node now, an instance here? */
			if (move_elsewhere(t, r, (const uint8_t *)"", 0))
				continue;
			if (!deliver(t, r) && now - r->wait_since_ms >=
						 cfg->services[r->d.service].wait_ms)
				timeout(t, r);
		} else if (r->first_ms && now - r->first_ms >= cfg->decide_ms) {
			look(t, r, now);        /* incomplete for too long: decide now */
		} else if (!r->first_ms && now - r->since_ms >= cfg->services[r->service].idle_ms) {
			t->st.idle_closed++;    /* an idle keep-alive connection: FIN */
			finish(t, r, 0);
		}
	}
}

unsigned int cb_released_held(const struct cb_released *t)
{
	unsigned int n = 0;
	int i;

	for (i = 0; i < CB_RELEASED_MAX; i++)
		n += t->r[i].fd >= 0;
	return n;
}

void cb_released_remap(struct cb_released *t, const int *svc, const int *app)
{
	int i;

	for (i = 0; i < CB_RELEASED_MAX; i++) {
		struct cb_released_conn *r = &t->r[i];

		if (r->fd < 0)
			continue;
		r->service = svc[r->service];
		r->to_app = r->to_app >= 0 ? app[r->to_app] : -1;
		if (r->service < 0) {
			t->st.refused++;        /* its service left the configuration */
			finish(t, r, 1);
			continue;
		}
		/* one decided under the old rules is decided again under the new */
		r->d.app = -1;
		if (!r->in_loop && cb_loop_add(t->loop, r->fd, on_readable, r)) {
			t->st.failed++;
			finish(t, r, 1);
			continue;
		}
		r->in_loop = 1;
	}
}

int cb_released_open(struct cb_released *t, struct cb_loop *loop, struct cb_apps *apps,
		     const struct cb_config_file *const *cfg, unsigned long *rule_hits,
		     unsigned long *default_hits)
{
	int i;

	memset(t, 0, offsetof(struct cb_released, r));
	t->loop = loop;
	t->rule_hits = rule_hits;
	t->default_hits = default_hits;
	t->apps = apps;
	t->cfg = cfg;
	t->peek_cap = 1u << 20;         /* decide_bytes' upper bound (config.c) */
	t->peek = malloc(t->peek_cap);
	if (!t->peek)
		return -ENOMEM;
	for (i = 0; i < CB_RELEASED_MAX; i++)
		t->r[i].fd = -1;
	apps->on_release = cb_released_take;
	apps->release_arg = t;
	return 0;
}

void cb_released_close(struct cb_released *t)
{
	int i;

	for (i = 0; t->peek && i < CB_RELEASED_MAX; i++)
		if (t->r[i].fd >= 0)
			finish(t, &t->r[i], 1);
	free(t->peek);
	t->peek = NULL;
}
