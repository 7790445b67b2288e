// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The cluster: channels and loads, placement, setup and timers.  The two
 * ends of a hand-off are cluster_ship.c (director) and cluster_adopt.c
 * (target); cluster.h has the sequence, docs/architecture.md the failure
 * handling.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "ctl/apps.h"
#include "ctl/classify.h"
#include "ctl/cluster_priv.h"
#include "datapath/flows.h"
#include "peer/link.h"
#include "repair/tuple.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/parse_util.h"

static uint32_t next_rnd(struct cb_cluster *c)
{
	c->rnd ^= c->rnd << 13;
	c->rnd ^= c->rnd >> 17;
	c->rnd ^= c->rnd << 5;
	return c->rnd;
}

/*
 * The epoch of a new move: above every earlier one of this node, also across
 * a controller restart (seeded from the monotonic clock, 64 per ms, which
 * the rate of moves does not outrun), compared in serial arithmetic by the
 * target: wraps after ~18 h, a move lives seconds.
 */
uint32_t cl_next_epoch(struct cb_cluster *c)
{
	uint32_t clock = (uint32_t)(cb_now_ms64() * 64);

	c->epoch = !c->epoch || (int32_t)(clock - c->epoch) > 0 ? clock : c->epoch + 1;
	if (!c->epoch)
		c->epoch = 1;   /* 0 is "never moved" */
	return c->epoch;
}

int cl_node_by_id(const struct cb_cluster *c, uint32_t id)
{
	int i;

	for (i = 0; i < c->n_nodes; i++)
		if (c->nodes[i].id == id)
			return i;
	return -1;
}

void cl_key_to_msg(const struct cb_flow_key *k, struct cb_msg_flow *f)
{
	memset(f, 0, sizeof(*f));
	if (cb_addr_is_v4(&k->saddr)) {
		f->family = 4;
		memcpy(f->client, &k->saddr.w[3], 4);
		memcpy(f->service, &k->daddr.w[3], 4);
	} else {
		f->family = 6;
		memcpy(f->client, &k->saddr, 16);
		memcpy(f->service, &k->daddr, 16);
	}
	f->client_port = ntohs(k->sport_be);
	f->service_port = ntohs(k->dport_be);
}

int cl_key_from_msg(const struct cb_msg_flow *f, struct cb_flow_key *k)
{
	__be32 c4, s4;

	if (f->family == 4) {
		memcpy(&c4, f->client, 4);
		memcpy(&s4, f->service, 4);
		cb_addr_set_v4(&k->saddr, c4);
		cb_addr_set_v4(&k->daddr, s4);
	} else if (f->family == 6) {
		memcpy(&k->saddr, f->client, 16);
		memcpy(&k->daddr, f->service, 16);
		/* one spelling per address: IPv4 travels as family 4 */
		if (cb_addr_is_v4(&k->saddr) || cb_addr_is_v4(&k->daddr))
			return -EINVAL;
	} else {
		return -EAFNOSUPPORT;
	}
	k->sport_be = htons(f->client_port);
	k->dport_be = htons(f->service_port);
	return 0;
}

int cl_send_ref(struct cb_cluster *c, int node, uint8_t type, const struct cb_flow_key *k,
		uint32_t epoch, uint32_t reason)
{
	struct cb_msg m = { .type = type };

	cl_key_to_msg(k, &m.ref.flow);
	m.ref.epoch = epoch;
	m.ref.reason = reason;
	return cb_links_send(c->links, c->nodes[node].id, &m);
}

/* Apps a service's flows may go to: its default and its rules' apps. */
int cl_service_apps(const struct cb_config_file *cfg, int s, int *apps)
{
	int i, j, n = 0;

	if (cfg->services[s].default_app >= 0)
		apps[n++] = cfg->services[s].default_app;
	for (i = 0; i < cfg->n_rules; i++) {
		if (cfg->rules[i].service != s)
			continue;
		for (j = 0; j < n && apps[j] != cfg->rules[i].app; j++)
			;
		if (j == n && n < CB_CFG_MAX_APPS)
			apps[n++] = cfg->rules[i].app;
	}
	return n;
}

uint32_t cl_adopting(const struct cb_cluster *c, int s)
{
	uint32_t n = 0;
	int i;

	for (i = 0; i < CB_ADOPT_MAX; i++)
		n += c->adopts[i].used && c->adopts[i].service == s;
	return n;
}

static uint32_t waiting_for(const struct cb_cluster *c, int s, int app)
{
	uint32_t n = 0;
	int i;

	for (i = 0; i < CB_PENDING_MAX; i++) {
		const struct pending *p = &c->env.pend->p[i];

		n += p->state == P_WAITING && p->d.service == s && p->d.app == app;
	}
	return n;
}

/* This node's figures for (service s, app a), as a LOAD entry reports them. */
void cl_own_load(const struct cb_cluster *c, int s, int a, struct cb_msg_svc_load *l)
{
	const struct cb_config_file *cfg = cfg_of(c);

	snprintf(l->name, sizeof(l->name), "%s/%s", cfg->services[s].name, cfg->apps[a].name);
	l->apps = cb_apps_instances(c->env.apps, a);
	l->capacity = cfg->services[s].capacity;
	l->active = c->active[s];
	l->waiting = waiting_for(c, s, a);
	l->inflight = cl_adopting(c, s);
}

static void fill_load(void *arg, struct cb_msg_load *load)
{
	struct cb_cluster *c = arg;
	const struct cb_config_file *cfg = cfg_of(c);
	int s, apps[CB_CFG_MAX_APPS], n, i;

	load->n_services = 0;
	load->draining = (uint32_t)c->draining;
	for (s = 0; s < cfg->n_services; s++) {
		if (!offers(cfg, c->self, s))
			continue;
		n = cl_service_apps(cfg, s, apps);
		for (i = 0; i < n && load->n_services < CB_MSG_SVC_MAX; i++)
			cl_own_load(c, s, apps[i], &load->svc[load->n_services++]);
	}
}

static void fill_hello(void *arg, struct cb_msg_hello *h)
{
	struct cb_cluster *c = arg;
	const struct cb_config_file *cfg = cfg_of(c);
	int s;

	if (cb_if_hwaddr(c->env.ifname, h->mac))
		memset(h->mac, 0, sizeof(h->mac));
	h->n_services = 0;
	for (s = 0; s < cfg->n_services && h->n_services < CB_MSG_SVC_MAX; s++)
		if (offers(cfg, c->self, s))
			snprintf(h->services[h->n_services++], sizeof(h->services[0]), "%s",
				 cfg->services[s].name);
}

/* What node i last said about (service s, app a); NULL if nothing. */
const struct cb_msg_svc_load *cl_peer_load(const struct cb_cluster *c, int i, int s, int a)
{
	const struct cb_config_file *cfg = cfg_of(c);
	char name[sizeof(((struct cb_msg_svc_load *)0)->name)];  /* truncated as sent */
	uint32_t k;

	snprintf(name, sizeof(name), "%s/%s", cfg->services[s].name, cfg->apps[a].name);
	for (k = 0; k < c->nodes[i].load.n_services; k++)
		if (!strcmp(c->nodes[i].load.svc[k].name, name))
			return &c->nodes[i].load.svc[k];
	return NULL;
}

/* Count this node's connections per service it offers (sock_diag). */
static void count_active(struct cb_cluster *c)
{
	const struct cb_config_file *cfg = cfg_of(c);
	union cb_sockaddr local;
	int s, n, l;

	for (s = 0; s < cfg->n_services; s++) {
		if (!offers(cfg, c->self, s))
			continue;
		for (n = 0, l = 0; l < cfg->services[s].n_listen; l++) {
			const struct cb_service_key *lk = &cfg->services[s].listen[l];
			int got;

			cb_addr_to_sockaddr(&lk->vip, lk->port_be, &local);
			got = cb_tuple_count_local(&local);
			n += got > 0 ? got : 0;
		}
		/* sockets shipped here and not committed are counted as in
		 * flight, not as active */
		n -= (int)cl_adopting(c, s);
		c->active[s] = n > 0 ? (uint32_t)n : 0;
	}
}

/* What an affinity service hashes: the client's address, or the request's
 * path or host (TLS: its SNI) as classified; the first bytes if neither. */
static uint64_t affinity_key(const struct cb_service_cfg *svc, const struct cb_flow_key *k,
			     const uint8_t *req, size_t len)
{
	struct cb_request_info ri = { 0 };
	const char *v = NULL;

	if (svc->affinity_key == CB_AFFINITY_CLIENT)
		return cb_addr_is_v4(&k->saddr) ? cb_place_hash(&k->saddr.w[3], 4)
						 : cb_place_hash(&k->saddr, 16);
	if (cb_classify(req, len, &ri) == CB_CLS_DONE) {
		if (svc->affinity_key == CB_AFFINITY_PATH && ri.proto == CB_PROTO_HTTP)
			v = ri.path;
		else if (svc->affinity_key == CB_AFFINITY_HOST)
			v = ri.proto == CB_PROTO_TLS ? ri.sni : ri.host;
	}
	if (v && *v)
		return cb_place_hash(v, strlen(v));
	return cb_place_hash(req, len < 256 ? len : 256);
}

int cl_node_takes(const struct cb_cluster *c, int i)
{
	return c->nodes[i].link == CB_LINK_UP && c->nodes[i].mac_known &&
	       !c->nodes[i].load.draining && cb_now_ms64() >= c->nodes[i].avoid_until_ms;
}

void cl_node_timed_out(struct cb_cluster *c, int i, uint64_t now)
{
	struct node_state *n = &c->nodes[i];

	n->timed_out++;
	n->avoid_ms = n->avoid_ms ? n->avoid_ms * 2 : CB_AVOID_MIN_MS;
	if (n->avoid_ms > CB_AVOID_MAX_MS)
		n->avoid_ms = CB_AVOID_MAX_MS;
	n->avoid_until_ms = now + n->avoid_ms;
	cb_info("run: node %s left a hand-off unanswered: no new flows to it for %u ms",
		cfg_of(c)->nodes[i].name, n->avoid_ms);
}

int cb_cluster_drain(struct cb_cluster *c, int node, int on)
{
	struct cb_msg m = { .type = CB_MSG_DRAIN };

	if (node < 0 || node >= c->n_nodes)
		return -EINVAL;
	if (node != c->self) {
		m.drain.node_id = c->nodes[node].id;
		m.drain.draining = !!on;
		return cb_links_send(c->links, c->nodes[node].id, &m);
	}
	if (c->draining != !!on)
		cb_info("run: this node (%s) %s", cfg_of(c)->nodes[c->self].name,
			on ? "drains: no new connections here; released ones move to other nodes"
			   : "takes connections again");
	c->draining = !!on;
	return 0;
}

int cb_cluster_drain_state(const struct cb_cluster *c, int node, struct cb_drain_state *out)
{
	const struct cb_msg_load *l;
	uint32_t i, n = 0;

	if (node < 0 || node >= c->n_nodes)
		return -EINVAL;
	l = &c->nodes[node].load;
	memset(out, 0, sizeof(*out));
	out->self = node == c->self;
	if (out->self) {
		out->draining = c->draining;
		for (i = 0; i < CB_CFG_MAX_SERVICES; i++)
			n += c->active[i];
		for (i = 0; i < CB_MOVES_MAX; i++)
			out->moving += c->moves[i].used && c->moves[i].fd >= 0;
		for (i = 0; i < CB_ADOPT_MAX; i++)
			n += c->adopts[i].used;
	} else {
		out->draining = (int)l->draining;
		out->up = c->nodes[node].link == CB_LINK_UP;
		/* its report counts by app: a connection counts once per app line
		 * of its service, so the largest active per service is taken */
		for (i = 0; i < l->n_services; i++)
			n += l->svc[i].active + l->svc[i].waiting;
	}
	out->connections = n;
	return 0;
}

int cl_place(struct cb_cluster *c, const struct cl_place_req *q)
{
	const struct cb_config_file *cfg = cfg_of(c);
	struct cb_place_node self, peers[CB_CFG_MAX_NODES];
	int idx[CB_CFG_MAX_NODES], n = 0, i, s = q->d->service, a = q->d->app;
	struct cb_msg_svc_load l;
	struct cb_place_result r;
	uint64_t key;

	if (a < 0)
		return -1;              /* no app: on_timeout answers it here */
	cl_own_load(c, s, a, &l);
	if (q->is_waiting && l.waiting)
		l.waiting--;            /* the flow being placed is not load yet */
	self = (struct cb_place_node){ .id = c->nodes[c->self].id, .healthy = 1,
				       .offers = offers(cfg, c->self, s) && l.apps > 0 &&
						 !q->not_here && !c->draining,
				       .apps = l.apps, .capacity = l.capacity, .active = l.active,
				       .waiting = l.waiting, .inflight = l.inflight };
	for (i = 0; i < c->n_nodes; i++) {
		const struct cb_msg_svc_load *pl;

		if (i == c->self || (q->tried >> i) & 1)
			continue;
		pl = cl_peer_load(c, i, s, a);
		peers[n] = (struct cb_place_node){ .id = c->nodes[i].id,
						   .healthy = cl_node_takes(c, i),
						   .offers = offers(cfg, i, s) && pl };
		if (pl) {
			peers[n].apps = pl->apps;
			peers[n].capacity = pl->capacity;
			peers[n].active = pl->active;
			peers[n].waiting = pl->waiting;
			peers[n].inflight = pl->inflight + c->nodes[i].sent[s];
		}
		idx[n++] = i;
	}
	key = affinity_key(&cfg->services[s], q->key, q->req, q->len);
	cb_place(&cfg->services[s], &self, peers, n, key, next_rnd(c), &r);
	i = r.node < 0 ? c->self : idx[r.node];
	if (q->not_here && i == c->self)
		return -1;              /* nowhere else: the caller keeps it */
	if (!q->placed || !*q->placed)  /* a flow is counted where it was first placed */
		c->nodes[i].placed[r.reason]++;
	if (i == c->self && self.offers && q->placed && !*q->placed)
		c->active[s]++;         /* counted before the next sock_diag recount */
	if (q->placed)
		*q->placed = 1;
	return i == c->self ? -1 : i;
}

int cb_cluster_place(struct cb_cluster *c, struct pending *p)
{
	struct cl_place_req q = { .key = &p->key, .d = &p->d, .req = p->slot->data,
				  .len = p->slot->len, .tried = p->tried,
				  .is_waiting = p->state == P_WAITING, .placed = &p->placed };

	return cl_place(c, &q);
}

static void on_state(void *arg, uint32_t peer_id, int state)
{
	struct cb_cluster *c = arg;
	int i = cl_node_by_id(c, peer_id);

	if (i < 0)
		return;
	cb_info("run: node %s is %s", cfg_of(c)->nodes[i].name, cb_link_state_name(state));
	c->nodes[i].link = state;
	if (state == CB_LINK_UP) {
		int was_down = c->nodes[i].down_since_ms != 0;     /* not just SUSPECT */

		c->nodes[i].down_since_ms = 0;
		c->nodes[i].down_done = 0;
		cl_steer_to(c, i);
		if (was_down) { /* what the lost channel may have lost */
			cl_reask(c, i);
			cl_recommit_node(c, i);
		}
	} else if (state == CB_LINK_DOWN && !c->nodes[i].down_since_ms) {
		c->nodes[i].down_since_ms = cb_now_ms64();  /* reset after the grace */
	}
}

/* Nodes down past the grace (also those never up since this controller
 * started, whose steered flows a previous one left). */
static void downs(struct cb_cluster *c, uint64_t now)
{
	int i;

	for (i = 0; i < c->n_nodes; i++) {
		struct node_state *n = &c->nodes[i];

		if (i == c->self || n->link == CB_LINK_UP || n->down_done || !n->down_since_ms ||
		    now - n->down_since_ms < CB_DOWN_GRACE_MS)
			continue;
		cl_node_down(c, i);
		n->down_done = 1;
	}
}

static void on_msg(void *arg, uint32_t peer_id, const struct cb_msg *m)
{
	struct cb_cluster *c = arg;
	int i = cl_node_by_id(c, peer_id);

	if (i < 0)
		return;
	switch (m->type) {
	case CB_MSG_HELLO:
		/* an "auto" MAC is learned; a configured one must be what it says */
		if (cb_members_hello(c->members, &m->hello)) {
			cb_err("run: node %s says its MAC is %02x:%02x:%02x:%02x:%02x:%02x, not the "
			       "configured one: not steering to it", cfg_of(c)->nodes[i].name,
			       m->hello.mac[0], m->hello.mac[1], m->hello.mac[2], m->hello.mac[3],
			       m->hello.mac[4], m->hello.mac[5]);
			c->nodes[i].mac_known = 0;
			break;
		}
		memcpy(c->nodes[i].mac, c->members->m[i].mac, 6);
		c->nodes[i].mac_known = !!memcmp(c->nodes[i].mac, "\0\0\0\0\0\0", 6);
		if (c->nodes[i].link == CB_LINK_UP)
			cl_steer_to(c, i);
		break;
	case CB_MSG_LOAD:
		c->nodes[i].load = m->load;
		c->nodes[i].load_ms = cb_now_ms64();
		memset(c->nodes[i].sent, 0, sizeof(c->nodes[i].sent));
		break;
	case CB_MSG_DRAIN:
		if (m->drain.node_id == c->nodes[c->self].id)
			cb_cluster_drain(c, c->self, (int)m->drain.draining);
		break;
	case CB_MSG_SHIP: cl_on_ship(c, i, &m->ship); break;
	case CB_MSG_PREPARED: cl_on_prepared(c, i, &m->ref); break;
	case CB_MSG_REFUSED: cl_on_refused(c, i, &m->ref); break;
	case CB_MSG_COMMIT: cl_on_commit(c, i, &m->ref); break;
	case CB_MSG_ABORT: cl_on_abort(c, i, &m->ref); break;
	case CB_MSG_CLOSED: cl_on_closed(c, i, &m->ref); break;
	case CB_MSG_DONE: cl_on_done(c, i, &m->ref); break;
	case CB_MSG_MOVE: cl_on_move(c, i, &m->ship); break;
	case CB_MSG_MOVED: cl_on_moved(c, i, &m->ref); break;
	case CB_MSG_RESUME: cl_on_resume(c, i, &m->ref); break;
	default: break;
	}
}

/* The cluster key: hex in a file (whitespace ignored). */
static int read_psk(const char *path, uint8_t *psk, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "r");
	int ch, hi = -1;

	if (!f)
		return -errno;
	*len = 0;
	while ((ch = fgetc(f)) != EOF) {
		int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;

		if (v < 0) {
			if (ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r')
				continue;
			fclose(f);
			return -EINVAL;
		}
		if (hi < 0) {
			hi = v;
		} else if (*len < cap) {
			psk[(*len)++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	fclose(f);
	return hi < 0 && *len >= CB_LINK_PSK_MIN ? 0 : -EINVAL;
}

static int links_open(struct cb_cluster *c, const struct cb_config_file *cfg)
{
	static const struct cb_link_ops ops = { .on_msg = on_msg, .on_state = on_state,
						.fill_load = fill_load, .fill_hello = fill_hello };
	struct cb_links_cfg lc = { .self_id = cfg->nodes[c->self].id, .cluster = cfg->cluster,
				   .listen = cfg->nodes[c->self].control };
	uint8_t psk[CB_LINK_PSK_MAX];
	int err;

	if ((err = read_psk(cfg->psk_file, psk, sizeof(psk), &lc.psk_len))) {
		cb_err("run: cluster key %s: %s (expected at least %d bytes in hex)",
		       cfg->psk_file, strerror(-err), CB_LINK_PSK_MIN);
		return err;
	}
	lc.psk = psk;
	err = cb_members_to_links(c->members, lc.self_id, &lc);
	if (!err)
		err = cb_links_open(&c->links, c->env.loop, &lc, &ops, c);
	memset(psk, 0, sizeof(psk));
	if (err)
		cb_err("run: peer channel on %s: %s", lc.listen, strerror(-err));
	return err;
}

/* The configuration as the membership provider sees it (members.h). */
static void members_of(const struct cb_config_file *cfg, struct cb_members *ms)
{
	int i, s;

	memset(ms, 0, sizeof(*ms));
	for (i = 0; i < cfg->n_nodes && i < CB_MEMBERS_MAX; i++) {
		struct cb_member *m = &ms->m[ms->n++];

		m->id = cfg->nodes[i].id;
		snprintf(m->name, sizeof(m->name), "%s", cfg->nodes[i].name);
		snprintf(m->addr, sizeof(m->addr), "%s", cfg->nodes[i].control);
		m->mac_auto = cfg->nodes[i].mac_auto;
		memcpy(m->mac, cfg->nodes[i].mac, 6);
		for (s = 0; s < cfg->n_services && m->n_services < CB_MSG_SVC_MAX; s++)
			if ((cfg->nodes[i].services >> s) & 1)
				snprintf(m->services[m->n_services++], sizeof(m->services[0]), "%s",
					 cfg->services[s].name);
	}
}

/* Load the members through the provider interface (the configuration today). */
static int load_members(struct cb_cluster *c, const struct cb_config_file *cfg)
{
	struct cb_members *src = malloc(sizeof(*src));
	int i, err;

	c->members = malloc(sizeof(*c->members));
	if (!src || !c->members) {
		free(src);
		return -ENOMEM;
	}
	members_of(cfg, src);
	err = cb_members_load(&cb_members_config, src, c->members);
	free(src);
	if (err)
		return err;
	for (i = 0; i < c->members->n; i++)
		if (!c->members->m[i].mac_auto) {
			memcpy(c->nodes[i].mac, c->members->m[i].mac, 6);
			c->nodes[i].mac_known = 1;
		}
	return 0;
}

int cb_cluster_open(struct cb_cluster **out, const struct cb_cluster_env *env)
{
	const struct cb_config_file *cfg = *env->cfg;
	struct cb_cluster *c;
	int i, err;

	*out = NULL;
	if (cfg->self < 0 || cfg->n_nodes < 2)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->steer.peers_fd = c->steer.remote_fd = c->steer.cfg_fd = -1;  /* not open yet */
	c->env = *env;
	c->self = cfg->self;
	c->n_nodes = cfg->n_nodes;
	c->rnd = (uint32_t)cb_now_ns() | 1;
	for (i = 0; i < c->n_nodes; i++) {
		c->nodes[i].id = cfg->nodes[i].id;
		c->nodes[i].link = i == c->self ? CB_LINK_UP : CB_LINK_DOWN;
		/* steering a previous controller left stays through the grace */
		c->nodes[i].down_since_ms = i == c->self ? 0 : cb_now_ms64();
	}
	if ((err = load_members(c, cfg))) {
		cb_err("run: the cluster's members: %s", strerror(-err));
		goto fail;
	}
	if ((err = cb_steer_open(&c->steer, env->ifname))) {
		cb_err("run: %s: steering maps: %s (attached by an older build? detach and attach)",
		       env->ifname, strerror(-err));
		goto fail;
	}
	cl_clear_pending(c);
	cl_recover_steering(c);
	if ((err = links_open(c, cfg)))
		goto fail;
	count_active(c);
	cb_info("run: node %s (id %u) of cluster %s, %d peers, channel on %s",
		cfg->nodes[c->self].name, cfg->nodes[c->self].id, cfg->cluster, c->n_nodes - 1,
		cfg->nodes[c->self].control);
	*out = c;
	return 0;
fail:
	cb_cluster_close(c);
	return err;
}

void cb_cluster_close(struct cb_cluster *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < CB_ADOPT_MAX; i++)
		if (c->adopts[i].used)
			cl_adopt_drop(c, &c->adopts[i]);
	/* sockets being moved away die silently (repair mode); their MOVING
	 * entries stay until the next controller removes them, and their
	 * clients' next segments are then reset */
	for (i = 0; i < CB_MOVES_MAX; i++)
		if (c->moves[i].used && c->moves[i].fd >= 0)
			close(c->moves[i].fd);
	cb_links_close(c->links);
	cb_steer_close(&c->steer);
	free(c->members);
	free(c);
}

void cb_cluster_tick(struct cb_cluster *c, uint64_t now)
{
	cb_links_tick(c->links, now);
	if (now - c->active_ms >= CB_ACTIVE_MS) {
		count_active(c);
		c->active_ms = now;
	}
	cl_ship_deadlines(c, now);
	cl_move_tick(c, now);
	cl_adopt_leases(c, now);
	cl_commit_retries(c, now);
	downs(c, now);
	cl_serve_check(c);
	if (now - c->swept_ms >= CB_SWEEP_MS) {
		cl_sweep(c);
		c->swept_ms = now;
	}
}

void cb_cluster_remap(struct cb_cluster *c, const int *svc, int n_svc, const int *app, int n_app)
{
	uint32_t active[CB_CFG_MAX_SERVICES] = { 0 };
	int i;

	for (i = 0; i < CB_MOVES_MAX; i++)
		if (c->moves[i].used)
			c->moves[i].app = c->moves[i].app >= 0 && c->moves[i].app < n_app ?
					  app[c->moves[i].app] : -1;
	for (i = 0; i < CB_ADOPT_MAX; i++) {
		struct adopt *a = &c->adopts[i];

		if (!a->used)
			continue;
		a->service = a->service >= 0 && a->service < n_svc ? svc[a->service] : -1;
		a->app = a->app >= 0 && a->app < n_app ? app[a->app] : -1;
		if (a->service < 0)
			a->app = -1;
	}
	for (i = 0; i < n_svc; i++)
		if (svc[i] >= 0)
			active[svc[i]] = c->active[i];
	memcpy(c->active, active, sizeof(active));
	for (i = 0; i < c->n_nodes; i++)    /* until their next LOAD */
		memset(c->nodes[i].sent, 0, sizeof(c->nodes[i].sent));
}
