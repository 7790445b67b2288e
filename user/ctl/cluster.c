// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The cluster: channels and loads, placement, and both ends of a hand-off
 * to a peer.  See cluster.h for the sequence; docs/architecture.md for the
 * failure table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include "ctl/apps.h"
#include "ctl/classify.h"
#include "ctl/cluster.h"
#include "ctl/owner.h"
#include "ctl/reset.h"
#include "datapath/flows.h"
#include "datapath/steer.h"
#include "peer/link.h"
#include "peer/members.h"
#include "peer/proto.h"
#include "repair/image.h"
#include "repair/repair.h"
#include "repair/tuple.h"
#include "util/clock.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/parse_util.h"

#define CB_ADOPT_MAX 256                /* flows shipped here awaiting COMMIT */
#define CB_SHIP_WAIT_MS 250             /* a SHIP unanswered this long is aborted */
#define CB_ADOPT_LEASE_MS 2000          /* a PENDING socket without COMMIT is dropped */
#define CB_ACTIVE_MS 1000               /* how often active connections are counted
                                         * (a sock_diag dump walks the whole socket
                                         * hash: ~ms with many TIME_WAIT sockets) */
#define CB_SWEEP_MS 1000                /* how often steered flows are swept */
#define CB_REMOTE_LINGER_NS (30ull * 1000000000ull)  /* steering kept after FIN/RST
                                                      * and the last segment */
#define CB_ADOPT_LEASE_MAX_MS 6000      /* ... or this long while the director's channel
                                         * is down (it re-asks once the channel is up) */
#define CB_DOWN_GRACE_MS 3000           /* a node's channel down this long: its steered
                                         * clients are reset.  A controller restart
                                         * there leaves its sockets serving meanwhile */
#define CB_TIMING_MAX 256               /* hand-offs awaiting their DONE, for timing */
#define CB_SAMPLES 4096                 /* hand-off times kept for percentiles */
#define CB_SERVED_MAX 4096              /* adopted flows watched for their end */
#define CB_SERVED_CHECKS 64             /* ... of which asked about per tick (one
                                         * sock_diag query each, ~10 us) */

struct node_state {
	uint32_t id;
	int link;                       /* enum cb_link_state (self: UP) */
	uint8_t mac[6];
	int mac_known;
	struct cb_msg_load load;        /* its last report */
	uint64_t load_ms;
	uint32_t sent[CB_CFG_MAX_SERVICES];     /* hand-offs to it since that report */
	unsigned long placed[CB_PLACE_R_MAX];   /* flows placed on it, by reason */
	unsigned long committed, refused, timed_out, failed;
	unsigned long recommitted;      /* COMMITs sent again when it re-asked */
	unsigned long lost;             /* its clients reset when it went down */
	uint64_t down_since_ms;         /* channel not up since then; 0: up */
	int down_done;                  /* its steered clients reset for that */
};

/* Target side: a flow shipped here, built in repair mode, awaiting COMMIT. */
struct adopt {
	int used;
	struct cb_flow_key key;
	uint32_t epoch;
	int from;                       /* the director (cfg->nodes index) */
	int fd;                         /* in repair mode until COMMIT */
	struct cb_sock_state st;        /* scalars only (queues are in the socket) */
	uint32_t snd_nxt, rcv_nxt;      /* for a RST if it cannot go live */
	int service, app;               /* app -1: removed by a reload meanwhile */
	char rule[CB_CFG_NAME];
	uint32_t bytes;                 /* request bytes queued in the socket */
	uint64_t lease_ms, since_ms;
};

/* Target side: an adopted flow that went live, watched until its socket is
 * gone so that the director drops its steering (CLOSED). */
struct served {
	struct cb_flow_key key;
	uint32_t epoch;
	uint32_t from_id;               /* the director's node id; 0: slot free */
};

struct cb_cluster {
	struct cb_cluster_env env;
	struct cb_members *members;     /* who is in the cluster (members.h): same order
	                                 * as cfg->nodes, so a node index is both */
	struct cb_links *links;
	struct cb_steer steer;
	int self;                       /* cfg->nodes index of this node */
	int n_nodes;
	struct node_state nodes[CB_CFG_MAX_NODES];
	struct adopt adopts[CB_ADOPT_MAX];
	uint32_t active[CB_CFG_MAX_SERVICES];   /* this node's connections, per service */
	uint64_t active_ms, swept_ms;
	uint32_t rnd;
	uint32_t epoch;                 /* of the last move this controller started */
	uint8_t image[CB_MSG_MAX];      /* a SHIP being built */
	unsigned long adopted, adopt_refused, adopt_expired, adopt_failed, remote_swept;
	unsigned long pending_cleared;  /* PENDING entries a previous controller left */
	struct served served[CB_SERVED_MAX];
	unsigned int served_next, served_check;
	unsigned long served_untracked, served_closed;
	/* first request byte at our hook -> the peer's DONE (its app has the fd) */
	struct {
		struct cb_flow_key key;
		uint32_t epoch;
		uint64_t start_ns;
	} timing[CB_TIMING_MAX];
	unsigned int timing_next;
	uint32_t samples_us[CB_SAMPLES];
	unsigned long n_samples;
};

static const struct cb_config_file *cfg_of(const struct cb_cluster *c)
{
	return *c->env.cfg;
}

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
static uint32_t next_epoch(struct cb_cluster *c)
{
	uint32_t clock = (uint32_t)(cb_now_ms64() * 64);

	c->epoch = (int32_t)(clock - c->epoch) > 0 ? clock : c->epoch + 1;
	if (!c->epoch)
		c->epoch = 1;   /* 0 is "never moved" */
	return c->epoch;
}

static int node_by_id(const struct cb_cluster *c, uint32_t id)
{
	int i;

	for (i = 0; i < c->n_nodes; i++)
		if (c->nodes[i].id == id)
			return i;
	return -1;
}

/* ---- flow keys on the wire --------------------------------------------- */

static void key_to_msg(const struct cb_flow_key *k, struct cb_msg_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->family = 4;
	memcpy(f->client, &k->saddr_be, 4);
	memcpy(f->service, &k->daddr_be, 4);
	f->client_port = ntohs(k->sport_be);
	f->service_port = ntohs(k->dport_be);
}

static int key_from_msg(const struct cb_msg_flow *f, struct cb_flow_key *k)
{
	if (f->family != 4)
		return -EAFNOSUPPORT;   /* IPv6 in the datapath: a later issue */
	memcpy(&k->saddr_be, f->client, 4);
	memcpy(&k->daddr_be, f->service, 4);
	k->sport_be = htons(f->client_port);
	k->dport_be = htons(f->service_port);
	return 0;
}

static int send_ref(struct cb_cluster *c, int node, uint8_t type, const struct cb_flow_key *k,
		    uint32_t epoch, uint32_t reason)
{
	struct cb_msg m = { .type = type };

	key_to_msg(k, &m.ref.flow);
	m.ref.epoch = epoch;
	m.ref.reason = reason;
	return cb_links_send(c->links, c->nodes[node].id, &m);
}

/* ---- loads ----------------------------------------------------------------- */

/* Apps a service's flows may go to: its default and its rules' apps. */
static int service_apps(const struct cb_config_file *cfg, int s, int *apps)
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

static int offers(const struct cb_config_file *cfg, int node, int s)
{
	return node >= 0 && (cfg->nodes[node].services >> s) & 1;
}

static uint32_t adopting(const struct cb_cluster *c, int s)
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
static void own_load(const struct cb_cluster *c, int s, int a, struct cb_msg_svc_load *l)
{
	const struct cb_config_file *cfg = cfg_of(c);

	snprintf(l->name, sizeof(l->name), "%s/%s", cfg->services[s].name, cfg->apps[a].name);
	l->apps = cb_apps_instances(c->env.apps, a);
	l->capacity = cfg->services[s].capacity;
	l->active = c->active[s];
	l->waiting = waiting_for(c, s, a);
	l->inflight = adopting(c, s);
}

static void fill_load(void *arg, struct cb_msg_load *load)
{
	struct cb_cluster *c = arg;
	const struct cb_config_file *cfg = cfg_of(c);
	int s, apps[CB_CFG_MAX_APPS], n, i;

	load->n_services = 0;
	for (s = 0; s < cfg->n_services; s++) {
		if (!offers(cfg, c->self, s))
			continue;
		n = service_apps(cfg, s, apps);
		for (i = 0; i < n && load->n_services < CB_MSG_SVC_MAX; i++)
			own_load(c, s, apps[i], &load->svc[load->n_services++]);
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
static const struct cb_msg_svc_load *peer_load(const struct cb_cluster *c, int i, int s, int a)
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
	int s, n;

	for (s = 0; s < cfg->n_services; s++) {
		if (!offers(cfg, c->self, s))
			continue;
		memset(&local, 0, sizeof(local));
		local.in4.sin_family = AF_INET;
		local.in4.sin_addr.s_addr = cfg->services[s].listen.vip_be;
		local.in4.sin_port = cfg->services[s].listen.port_be;
		n = cb_tuple_count_local(&local);
		/* sockets shipped here and not committed are counted as in
		 * flight, not as active */
		n -= (int)adopting(c, s);
		c->active[s] = n > 0 ? (uint32_t)n : 0;
	}
}

/* ---- placement ---------------------------------------------------------------- */

/* What an affinity service hashes: the client's address, or the request's
 * path or host (TLS: its SNI) as classified; the first bytes if neither. */
static uint64_t affinity_key(const struct cb_service_cfg *svc, const struct pending *p)
{
	struct cb_request_info ri = { 0 };
	const char *v = NULL;

	if (svc->affinity_key == CB_AFFINITY_CLIENT)
		return cb_place_hash(&p->key.saddr_be, 4);
	if (cb_classify(p->slot->data, p->slot->len, &ri) == CB_CLS_DONE) {
		if (svc->affinity_key == CB_AFFINITY_PATH && ri.proto == CB_PROTO_HTTP)
			v = ri.path;
		else if (svc->affinity_key == CB_AFFINITY_HOST)
			v = ri.proto == CB_PROTO_TLS ? ri.sni : ri.host;
	}
	if (v && *v)
		return cb_place_hash(v, strlen(v));
	return cb_place_hash(p->slot->data, p->slot->len < 256 ? p->slot->len : 256);
}

int cb_cluster_place(struct cb_cluster *c, struct pending *p)
{
	const struct cb_config_file *cfg = cfg_of(c);
	struct cb_place_node self, peers[CB_CFG_MAX_NODES];
	int idx[CB_CFG_MAX_NODES], n = 0, i, s = p->d.service, a = p->d.app;
	struct cb_msg_svc_load l;
	struct cb_place_result r;
	uint64_t key;

	if (a < 0)
		return -1;              /* no app: on_timeout answers it here */
	own_load(c, s, a, &l);
	if (p->state == P_WAITING && l.waiting)
		l.waiting--;            /* the flow being placed is not load yet */
	self = (struct cb_place_node){ .id = c->nodes[c->self].id, .healthy = 1,
				       .offers = offers(cfg, c->self, s) && l.apps > 0,
				       .apps = l.apps, .capacity = l.capacity, .active = l.active,
				       .waiting = l.waiting, .inflight = l.inflight };
	for (i = 0; i < c->n_nodes; i++) {
		const struct cb_msg_svc_load *pl;

		if (i == c->self || (p->tried >> i) & 1)
			continue;
		pl = peer_load(c, i, s, a);
		peers[n] = (struct cb_place_node){ .id = c->nodes[i].id,
						   .healthy = c->nodes[i].link == CB_LINK_UP &&
							      c->nodes[i].mac_known,
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
	key = affinity_key(&cfg->services[s], p);
	cb_place(&cfg->services[s], &self, peers, n, key, next_rnd(c), &r);
	i = r.node < 0 ? c->self : idx[r.node];
	if (!p->placed)                 /* a flow is counted where it was first placed */
		c->nodes[i].placed[r.reason]++;
	if (i == c->self && self.offers && !p->placed)
		c->active[s]++;         /* counted before the next sock_diag recount */
	p->placed = 1;
	return i == c->self ? -1 : i;
}

/* ---- director: shipping ----------------------------------------------------- */

/* The SHIP of p, its socket image and request bytes included. */
static int build_ship(struct cb_cluster *c, struct pending *p, const struct cb_flow *f,
		      struct cb_msg *m)
{
	const struct cb_config_file *cfg = cfg_of(c);
	struct cb_sock_state st;
	ssize_t n;

	cb_state_from_flow(&st, &p->key, f, p->slot->data, p->slot->len, cb_now_ms());
	n = cb_image_encode(&st, c->image, sizeof(c->image));
	if (n < 0)
		return (int)n;
	memset(m, 0, sizeof(*m));
	m->type = CB_MSG_SHIP;
	key_to_msg(&p->key, &m->ship.flow);
	m->ship.epoch = p->epoch;
	snprintf(m->ship.service, sizeof(m->ship.service), "%s", cfg->services[p->d.service].name);
	if (p->d.rule >= 0)
		snprintf(m->ship.rule, sizeof(m->ship.rule), "%s", cfg->rules[p->d.rule].name);
	snprintf(m->ship.app, sizeof(m->ship.app), "%s", cfg->apps[p->d.app].name);
	m->ship.deadline_ms = CB_SHIP_WAIT_MS;
	m->ship.image = c->image;
	m->ship.image_len = (uint32_t)n;
	return 0;
}

/* Held here again (UNBOUND): placed anew, or classified anew if a reload
 * removed its service or app meanwhile. */
static void held_again(struct cb_cluster *c, struct pending *p)
{
	p->tried |= 1ull << p->ship_node;
	if (p->d.service < 0 || p->d.app < 0) {
		p->state = P_ASSEMBLING;
		p->dirty = 1;
	} else {
		p->state = P_WAITING;
	}
	c->env.shipped(c->env.arg, p, 0);
}

/* Back to UNBOUND: the program holds it again. */
static void unship(struct cb_cluster *c, struct pending *p)
{
	cb_owner_move(c->env.flows, &p->key, CB_FLOW_SHIPPING, CB_FLOW_UNBOUND, NULL, NULL);
	held_again(c, p);
}

int cb_cluster_ship(struct cb_cluster *c, struct pending *p, int node)
{
	struct cb_msg m;
	struct cb_flow f;
	uint32_t old = 0;
	int err;

	err = cb_owner_move(c->env.flows, &p->key, CB_FLOW_UNBOUND, CB_FLOW_SHIPPING, &old, NULL);
	if (err)
		return err == -EAGAIN ? -EBUSY : err;
	c->env.drain(c->env.arg);
	if (p->closed || (err = cb_flows_lookup(c->env.flows, &p->key, &f)))
		return p->closed ? -ECONNRESET : err;
	if (p->slot->len && p->slot->first_seq != f.client_isn + 1) {
		err = -EPROTO;
		goto back;
	}
	f.rcv_nxt = f.client_isn + 1 + p->slot->len;
	f.bytes_in = p->slot->len;
	p->epoch = next_epoch(c);
	p->ship_node = node;
	if ((err = build_ship(c, p, &f, &m)) ||
	    (err = cb_links_send(c->links, c->nodes[node].id, &m)))
		goto back;
	c->nodes[node].sent[p->d.service]++;
	p->state = P_SHIPPING;
	p->ship_until_ms = cb_now_ms64() + CB_SHIP_WAIT_MS;
	return 0;
back:
	cb_owner_move(c->env.flows, &p->key, CB_FLOW_SHIPPING, CB_FLOW_UNBOUND, NULL, NULL);
	return err;
}

static struct pending *shipping(struct cb_cluster *c, int node, const struct cb_msg_ref *r,
				struct cb_flow_key *k)
{
	struct pending *p;

	if (key_from_msg(&r->flow, k))
		return NULL;
	p = cb_pending_find(c->env.pend, k);
	if (!p || p->state != P_SHIPPING || p->ship_node != node || p->epoch != r->epoch)
		return NULL;    /* late, or for a move already settled */
	return p;
}

/*
 * PREPARED for no move in progress: a target re-asking after its channel
 * came back (the COMMIT may have been lost with the old one), or a late
 * answer.  Committed if this node steers the flow to it at that epoch,
 * else aborted: one owner either way.
 */
static void recommit_or_abort(struct cb_cluster *c, int node, const struct cb_flow_key *k,
			      uint32_t epoch)
{
	struct cb_remote rem;

	if (!cb_remote_lookup(&c->steer, k, &rem) && rem.peer == c->nodes[node].id &&
	    rem.epoch == epoch) {
		if (!send_ref(c, node, CB_MSG_COMMIT, k, epoch, 0))
			c->nodes[node].recommitted++;
	} else {
		send_ref(c, node, CB_MSG_ABORT, k, epoch, 0);
	}
}

/* The COMMIT could not be queued: the peer's socket stays inert (its lease
 * drops it), the flow is held here again and placed anew. */
static void uncommit(struct cb_cluster *c, struct pending *p, int err)
{
	char fs[64];

	cb_err("run: %s: COMMIT to node %s: %s; placing it again",
	       cb_fmt_flow(&p->key, fs, sizeof(fs)), cfg_of(c)->nodes[p->ship_node].name,
	       strerror(-err));
	if (cb_owner_move(c->env.flows, &p->key, CB_FLOW_REDIRECT, CB_FLOW_UNBOUND, NULL, NULL)) {
		/* the flow is not ours to hold any more (cannot happen: only
		 * this controller moves a REDIRECT entry); the peer's lease and
		 * the sweep end it */
		c->nodes[p->ship_node].failed++;
		c->env.shipped(c->env.arg, p, 1);
		return;
	}
	cb_remote_remove(&c->steer, &p->key, p->epoch);
	send_ref(c, p->ship_node, CB_MSG_ABORT, &p->key, p->epoch, 0);
	c->nodes[p->ship_node].failed++;
	held_again(c, p);
}

/* PREPARED: steer the flow to the peer, then let it go live. */
static void on_prepared(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
{
	struct cb_flow_key k;
	struct pending *p;
	char fs[64];
	int err;

	if (key_from_msg(&r->flow, &k))
		return;                 /* the codec checked it: cannot happen */
	p = shipping(c, node, r, &k);
	if (!p) {
		recommit_or_abort(c, node, &k, r->epoch);
		return;
	}
	/* the steering entry first: from the CAS on, segments go to the peer */
	err = cb_remote_add(&c->steer, &k, c->nodes[node].id, p->epoch);
	if (!err)
		err = cb_owner_move(c->env.flows, &k, CB_FLOW_SHIPPING, CB_FLOW_REDIRECT, NULL, NULL);
	if (err) {
		cb_err("run: %s: steer to node %s: %s", cb_fmt_flow(&k, fs, sizeof(fs)),
		       cfg_of(c)->nodes[node].name, strerror(-err));
		cb_remote_remove(&c->steer, &k, p->epoch);
		send_ref(c, node, CB_MSG_ABORT, &k, p->epoch, 0);
		c->nodes[node].failed++;
		unship(c, p);
		return;
	}
	cb_fault(c->env.faults, "after-redirect");
	if (cb_fault_armed(c->env.faults, "lose-commit"))
		/* the COMMIT "lost" with its channel: the target re-asks */
		cb_links_drop(c->links, c->nodes[node].id, "fault lose-commit");
	else if ((err = send_ref(c, node, CB_MSG_COMMIT, &k, p->epoch, 0))) {
		uncommit(c, p, err);
		return;
	}
	if (p->first_xdp_ns) {          /* timed until the peer's DONE */
		unsigned int t = c->timing_next++ % CB_TIMING_MAX;

		c->timing[t].key = k;
		c->timing[t].epoch = p->epoch;
		c->timing[t].start_ns = p->first_xdp_ns;
	}
	c->nodes[node].committed++;
	c->env.shipped(c->env.arg, p, 1);
}

static void on_refused(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
{
	struct cb_flow_key k;
	struct pending *p = shipping(c, node, r, &k);
	char fs[64];

	if (!p)
		return;
	cb_info("run: %s: node %s refused it (reason %u); placing it again",
		cb_fmt_flow(&k, fs, sizeof(fs)), cfg_of(c)->nodes[node].name, r->reason);
	c->nodes[node].refused++;
	unship(c, p);
}

/* SHIPs unanswered in time, or to a node that went down: abort, place anew. */
static void ship_deadlines(struct cb_cluster *c, uint64_t now)
{
	int i;

	for (i = 0; i < CB_PENDING_MAX; i++) {
		struct pending *p = &c->env.pend->p[i];

		if (p->state != P_SHIPPING)
			continue;
		if (now < p->ship_until_ms && c->nodes[p->ship_node].link != CB_LINK_DOWN)
			continue;
		send_ref(c, p->ship_node, CB_MSG_ABORT, &p->key, p->epoch, 0);
		c->nodes[p->ship_node].timed_out++;
		unship(c, p);
	}
}

/* ---- director: steered flows after their hand-off ----------------------------- */

struct sweep {
	struct cb_cluster *c;
	uint64_t now_ns;
};

/* Remove the steering of a flow that ended, or whose node is gone. */
static void unsteer(struct cb_cluster *c, const struct cb_flow_key *k, const struct cb_remote *r)
{
	struct cb_flow f;

	if (!cb_flows_lookup(c->env.flows, k, &f) && f.state == CB_FLOW_REDIRECT)
		cb_owner_move(c->env.flows, k, CB_FLOW_REDIRECT, CB_OWNER_NONE, NULL, NULL);
	if (!cb_remote_remove(&c->steer, k, r->epoch))
		c->remote_swept++;
}

static int sweep_one(const struct cb_flow_key *k, const struct cb_remote *r, void *arg)
{
	struct sweep *s = arg;

	/* closed by the client and quiet since: a half-closed flow still
	 * acknowledging its download keeps its steering */
	if (r->closing_ns && s->now_ns - r->closing_ns > CB_REMOTE_LINGER_NS &&
	    s->now_ns - r->last_ns > CB_REMOTE_LINGER_NS)
		unsteer(s->c, k, r);
	return 0;
}

/* DONE: the peer's app has the socket; how long it took from the first byte. */
static void on_done(struct cb_cluster *c, const struct cb_msg_ref *m)
{
	struct cb_flow_key k;
	unsigned int t;

	if (key_from_msg(&m->flow, &k))
		return;
	for (t = 0; t < CB_TIMING_MAX; t++)
		if (c->timing[t].start_ns && c->timing[t].epoch == m->epoch &&
		    !memcmp(&c->timing[t].key, &k, sizeof(k))) {
			c->samples_us[c->n_samples++ % CB_SAMPLES] =
				(uint32_t)((cb_now_ns() - c->timing[t].start_ns) / 1000);
			c->timing[t].start_ns = 0;
			return;
		}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* p50 and p99 of the last hand-off times, in µs; 0 without samples. */
static void handoff_percentiles(const struct cb_cluster *c, uint32_t *p50, uint32_t *p99)
{
	uint32_t v[CB_SAMPLES];         /* 16 KB, once a second */
	size_t n = c->n_samples < CB_SAMPLES ? c->n_samples : CB_SAMPLES;

	*p50 = *p99 = 0;
	if (!n)
		return;
	memcpy(v, c->samples_us, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_u32);
	*p50 = v[n / 2];
	*p99 = v[(n * 99) / 100];
}

static void on_closed(struct cb_cluster *c, int node, const struct cb_msg_ref *m)
{
	struct cb_flow_key k;
	struct cb_remote r;

	if (key_from_msg(&m->flow, &k) || cb_remote_lookup(&c->steer, &k, &r) ||
	    r.peer != c->nodes[node].id || r.epoch != m->epoch)
		return;
	unsteer(c, &k, &r);
}

/* ---- target: adopting a shipped flow ------------------------------------------- */

static struct adopt *adopt_find(struct cb_cluster *c, const struct cb_flow_key *k)
{
	int i;

	for (i = 0; i < CB_ADOPT_MAX; i++)
		if (c->adopts[i].used && !memcmp(&c->adopts[i].key, k, sizeof(*k)))
			return &c->adopts[i];
	return NULL;
}

static void adopt_drop(struct cb_cluster *c, struct adopt *a)
{
	close(a->fd);                   /* still in repair mode: sends nothing */
	cb_owner_move(c->env.flows, &a->key, CB_FLOW_PENDING, CB_OWNER_NONE, NULL, NULL);
	a->used = 0;
}

/* Why this node cannot take it: 0 when it can. */
static uint32_t refuse_reason(struct cb_cluster *c, const struct cb_msg_ship *m, int *svc,
			      int *app)
{
	const struct cb_config_file *cfg = cfg_of(c);
	const struct cb_service_cfg *s;

	*svc = cb_config_service(cfg, m->service);
	*app = cb_config_app(cfg, m->app);
	if (*svc < 0 || *app < 0 || !offers(cfg, c->self, *svc) ||
	    !cb_apps_instances(c->env.apps, *app))
		return CB_REFUSE_NO_APP;
	s = &cfg->services[*svc];
	if (s->capacity && c->active[*svc] + adopting(c, *svc) >= s->capacity)
		return CB_REFUSE_FULL;
	return 0;
}

/* The PENDING entry: segments of the flow are dropped both ways until COMMIT. */
static int pending_entry(struct cb_cluster *c, const struct cb_flow_key *k)
{
	struct cb_flow f = { .state = CB_FLOW_PENDING };
	int err = cb_owner_create(c->env.flows, k, CB_FLOW_PENDING, &f);

	if (err != -EEXIST)
		return err;
	/* an older connection's LOCAL entry on the tuple: free once its socket
	 * is gone (owner.c checks), else the tuple is taken */
	if (cb_owner_move(c->env.flows, k, CB_FLOW_LOCAL, CB_OWNER_NONE, NULL, NULL))
		return -EBUSY;
	return cb_owner_create(c->env.flows, k, CB_FLOW_PENDING, &f);
}

static uint32_t adopt_build(struct cb_cluster *c, const struct cb_msg_ship *m,
			    const struct cb_flow_key *k, struct adopt *a)
{
	const char *step = NULL;
	char fs[64];
	int fd, err;

	if (cb_image_decode(m->image, m->image_len, &a->st))
		return CB_REFUSE_BAD_IMAGE;
	if ((err = pending_entry(c, k)))
		return err == -EBUSY ? CB_REFUSE_STALE_EPOCH : CB_REFUSE_OTHER;
	fd = cb_repair_build(&a->st, &step);
	if (fd < 0) {
		cb_err("run: %s: shipped here, TCP_REPAIR %s: %s", cb_fmt_flow(k, fs, sizeof(fs)),
		       step, strerror(-fd));
		cb_owner_move(c->env.flows, k, CB_FLOW_PENDING, CB_OWNER_NONE, NULL, NULL);
		return CB_REFUSE_BUILD_FAILED;
	}
	a->fd = fd;
	a->bytes = (uint32_t)a->st.rcvq_len;
	a->snd_nxt = a->st.snd_una + (uint32_t)a->st.sndq_len;
	a->rcv_nxt = a->st.rcv_seq + (uint32_t)a->st.rcvq_len;
	/* the queues are in the socket now; m's bytes go with the frame */
	a->st.rcvq = a->st.sndq = a->st.unsent = NULL;
	a->st.rcvq_len = a->st.sndq_len = a->st.unsent_len = 0;
	return 0;
}

static void on_ship(struct cb_cluster *c, int node, const struct cb_msg_ship *m)
{
	struct cb_flow_key k;
	struct adopt *a = NULL;
	uint32_t reason;
	int svc, app, i;

	if (key_from_msg(&m->flow, &k)) {
		reason = CB_REFUSE_OTHER;
		goto refuse;
	}
	if ((a = adopt_find(c, &k))) {
		if ((int32_t)(a->epoch - m->epoch) >= 0) {
			reason = CB_REFUSE_STALE_EPOCH;
			goto refuse;
		}
		adopt_drop(c, a);       /* a newer move of the same flow */
	}
	if ((reason = refuse_reason(c, m, &svc, &app)))
		goto refuse;
	if (cb_fault_armed(c->env.faults, "refuse-ships")) {
		reason = CB_REFUSE_OTHER;
		goto refuse;
	}
	for (i = 0; i < CB_ADOPT_MAX && c->adopts[i].used; i++)
		;
	if (i == CB_ADOPT_MAX) {
		reason = CB_REFUSE_FULL;
		goto refuse;
	}
	a = &c->adopts[i];
	memset(a, 0, sizeof(*a));
	if ((reason = adopt_build(c, m, &k, a)))
		goto refuse;
	a->used = 1;
	a->key = k;
	a->epoch = m->epoch;
	a->from = node;
	a->service = svc;
	a->app = app;
	snprintf(a->rule, sizeof(a->rule), "%s", m->rule[0] ? m->rule : "default");
	a->since_ms = cb_now_ms64();
	a->lease_ms = a->since_ms + CB_ADOPT_LEASE_MS;
	if (send_ref(c, node, CB_MSG_PREPARED, &k, m->epoch, 0))
		adopt_drop(c, a);       /* the director will time out and abort */
	return;
refuse:
	c->adopt_refused++;
	send_ref(c, node, CB_MSG_REFUSED, &k, m->epoch, reason);
}

/* Watch an adopted flow until its socket is gone (served_check). */
static void serve_track(struct cb_cluster *c, int node, const struct cb_flow_key *k,
			uint32_t epoch)
{
	unsigned int i, at = c->served_next;

	for (i = 0; i < CB_SERVED_MAX && c->served[at].from_id; i++)
		at = (at + 1) % CB_SERVED_MAX;
	if (i == CB_SERVED_MAX)
		c->served_untracked++;  /* replaced: its steering ends by the sweep */
	c->served[at] = (struct served){ .key = *k, .epoch = epoch, .from_id = c->nodes[node].id };
	c->served_next = (at + 1) % CB_SERVED_MAX;
}

/*
 * A few watched flows per tick: one whose socket is gone (closed, reset,
 * out of TIME_WAIT) is told to its director, whose steering entry would
 * otherwise outlive it when the client vanished without a FIN.
 */
static void serve_check(struct cb_cluster *c)
{
	unsigned int n, asked = 0;

	for (n = 0; n < CB_SERVED_MAX && asked < CB_SERVED_CHECKS; n++) {
		struct served *w = &c->served[c->served_check];
		union cb_sockaddr local = { .in4 = { .sin_family = AF_INET } };
		union cb_sockaddr peer = { .in4 = { .sin_family = AF_INET } };
		int st, i;

		c->served_check = (c->served_check + 1) % CB_SERVED_MAX;
		if (!w->from_id)
			continue;
		asked++;
		local.in4.sin_addr.s_addr = w->key.daddr_be;
		local.in4.sin_port = w->key.dport_be;
		peer.in4.sin_addr.s_addr = w->key.saddr_be;
		peer.in4.sin_port = w->key.sport_be;
		st = cb_tuple_state(&local, &peer);
		if (st != -ENOENT && st != TCP_CLOSE)
			continue;       /* alive, or sock_diag failed: later */
		i = node_by_id(c, w->from_id);
		if (i >= 0 && !send_ref(c, i, CB_MSG_CLOSED, &w->key, w->epoch, 0))
			c->served_closed++;
		else if (i >= 0 && c->nodes[i].link == CB_LINK_UP)
			continue;       /* its queue is full: later */
		w->from_id = 0;
	}
}

/* The adopted socket cannot serve: the client is reset, the director told. */
static void adopt_failed(struct cb_cluster *c, int node, struct adopt *a, int live, int err)
{
	char fs[64];

	cb_err("run: %s: adopted flow: %s; the client is reset",
	       cb_fmt_flow(&a->key, fs, sizeof(fs)), strerror(-err));
	if (live) {
		cb_reset_socket(a->fd);         /* a live socket resets its client */
	} else {
		/* maybe still in repair mode, where closing sends nothing: the
		 * entry goes first (the egress guard would drop our RST), then
		 * the RST at the sequence the socket would have had */
		close(a->fd);
		if (cb_owner_move(c->env.flows, &a->key, CB_FLOW_LOCAL, CB_OWNER_NONE, NULL, NULL))
			cb_owner_move(c->env.flows, &a->key, CB_FLOW_PENDING, CB_OWNER_NONE, NULL,
				      NULL);
		cb_reset_send(&a->key, a->snd_nxt, a->rcv_nxt);
	}
	c->adopt_failed++;
	send_ref(c, node, CB_MSG_CLOSED, &a->key, a->epoch, 0);
}

/* COMMIT: the director steers the flow here; go live, hand it to the app. */
static void on_commit(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
{
	const struct cb_config_file *cfg = cfg_of(c);
	struct cb_flow_key k;
	struct adopt *a;
	const char *step = NULL;
	char msg[256], cl[32];
	int conn, err;

	if (key_from_msg(&r->flow, &k) || !(a = adopt_find(c, &k)) || a->from != node ||
	    a->epoch != r->epoch)
		return;
	a->used = 0;
	if (a->app < 0) {
		adopt_failed(c, node, a, 0, -ENOENT);   /* its app left the configuration */
		return;
	}
	err = cb_owner_move(c->env.flows, &k, CB_FLOW_PENDING, CB_FLOW_LOCAL, NULL, NULL);
	if (!err)
		err = cb_repair_go_live(a->fd, &a->st, &step);
	if (err) {
		adopt_failed(c, node, a, 0, err);
		return;
	}
	snprintf(msg, sizeof(msg), "FLOW client=%s service=%s rule=%s app=%s bytes=%u",
		 cb_fmt_addr(k.saddr_be, k.sport_be, cl, sizeof(cl)),
		 cfg->services[a->service].name, a->rule, cfg->apps[a->app].name, a->bytes);
	err = cb_apps_deliver(c->env.apps, a->app, msg, a->fd, &conn);
	if (err) {
		adopt_failed(c, node, a, 1, err);
		return;
	}
	close(a->fd);
	c->adopted++;
	c->active[a->service]++;        /* until the next sock_diag recount */
	serve_track(c, node, &k, r->epoch);
	send_ref(c, node, CB_MSG_DONE, &k, r->epoch, 0);
}

static void on_abort(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
{
	struct cb_flow_key k;
	struct adopt *a;

	if (!key_from_msg(&r->flow, &k) && (a = adopt_find(c, &k)) && a->from == node &&
	    a->epoch == r->epoch)
		adopt_drop(c, a);
}

/*
 * No COMMIT within the lease: the director gave up, or is gone.  While its
 * channel is down the lease runs longer: the COMMIT may have been lost with
 * the channel, and the flow asked for again once it is back (reask).
 */
static void adopt_leases(struct cb_cluster *c, uint64_t now)
{
	int i;

	for (i = 0; i < CB_ADOPT_MAX; i++) {
		struct adopt *a = &c->adopts[i];

		if (!a->used || now <= a->lease_ms)
			continue;
		if (c->nodes[a->from].link != CB_LINK_UP && now - a->since_ms < CB_ADOPT_LEASE_MAX_MS)
			continue;
		adopt_drop(c, a);
		c->adopt_expired++;
	}
}

/* The director's channel is back: PREPARED again for what awaits its COMMIT. */
static void reask(struct cb_cluster *c, int node)
{
	uint64_t now = cb_now_ms64();
	int i;

	for (i = 0; i < CB_ADOPT_MAX; i++) {
		struct adopt *a = &c->adopts[i];

		if (!a->used || a->from != node)
			continue;
		if (!send_ref(c, node, CB_MSG_PREPARED, &a->key, a->epoch, 0) &&
		    a->lease_ms < now + CB_ADOPT_LEASE_MS)
			a->lease_ms = now + CB_ADOPT_LEASE_MS;
	}
}

/* ---- channel callbacks ------------------------------------------------------------ */

static void steer_to(struct cb_cluster *c, int i)
{
	const struct cb_node_cfg *n = &cfg_of(c)->nodes[i];
	struct cb_service_key ctl;
	int err;

	struct cb_peer cur;
	uint32_t id = c->nodes[i].id;

	if (!c->nodes[i].mac_known || cb_parse_service(n->control, &ctl))
		return;
	if (!cb_peer_get(&c->steer, id, &cur) && cur.up && !memcmp(cur.mac, c->nodes[i].mac, 6))
		return;         /* steered there already (a blip, or a restart here) */
	cb_peer_set_up(&c->steer, id, 0);       /* a MAC changes only while down */
	err = cb_peer_set(&c->steer, id, c->nodes[i].mac, ctl.vip_be, 1);
	if (err)
		cb_err("run: node %s: steering: %s", n->name, strerror(-err));
}

struct down {
	struct cb_cluster *c;
	uint32_t node;
	unsigned long reset;
};

/*
 * The client of a flow steered to a node that died may be waiting in
 * silence: reset it now, at the sequence its last segment acknowledged (if
 * the node sent more since, the client answers with a challenge ACK, which
 * the program answers with an exact RST).  The steering entry goes too.
 */
static int reset_steered(const struct cb_flow_key *k, const struct cb_remote *r, void *arg)
{
	struct down *d = arg;

	if (r->peer != d->node || (r->closing_flags & CB_REMOTE_SEEN_RST))
		return 0;
	if (!cb_reset_send(k, r->last_ack, 0))
		d->reset++;
	unsteer(d->c, k, r);
	return 0;
}

/* Down for longer than the grace: its flows' segments get our RST. */
static void node_down(struct cb_cluster *c, int i)
{
	struct down d = { .c = c, .node = c->nodes[i].id };

	cb_peer_set_up(&c->steer, c->nodes[i].id, 0);
	cb_remote_foreach(&c->steer, reset_steered, &d);
	cb_info("run: node %s down for %d ms: %lu of its clients reset",
		cfg_of(c)->nodes[i].name, CB_DOWN_GRACE_MS, d.reset);
	c->nodes[i].lost += d.reset;
}

static void on_state(void *arg, uint32_t peer_id, int state)
{
	struct cb_cluster *c = arg;
	int i = node_by_id(c, peer_id);

	if (i < 0)
		return;
	cb_info("run: node %s is %s", cfg_of(c)->nodes[i].name, cb_link_state_name(state));
	c->nodes[i].link = state;
	if (state == CB_LINK_UP) {
		c->nodes[i].down_since_ms = 0;
		c->nodes[i].down_done = 0;
		steer_to(c, i);
		reask(c, i);
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
		node_down(c, i);
		n->down_done = 1;
	}
}

static void on_msg(void *arg, uint32_t peer_id, const struct cb_msg *m)
{
	struct cb_cluster *c = arg;
	int i = node_by_id(c, peer_id);

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
			steer_to(c, i);
		break;
	case CB_MSG_LOAD:
		c->nodes[i].load = m->load;
		c->nodes[i].load_ms = cb_now_ms64();
		memset(c->nodes[i].sent, 0, sizeof(c->nodes[i].sent));
		break;
	case CB_MSG_SHIP: on_ship(c, i, &m->ship); break;
	case CB_MSG_PREPARED: on_prepared(c, i, &m->ref); break;
	case CB_MSG_REFUSED: on_refused(c, i, &m->ref); break;
	case CB_MSG_COMMIT: on_commit(c, i, &m->ref); break;
	case CB_MSG_ABORT: on_abort(c, i, &m->ref); break;
	case CB_MSG_CLOSED: on_closed(c, i, &m->ref); break;
	case CB_MSG_DONE: on_done(c, &m->ref); break;
	default: break;
	}
}

/* ---- setup --------------------------------------------------------------------------- */

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

/* PENDING entries a previous controller left: their repair sockets died
 * with it; the tuples would drop every segment.  A client steered here
 * meanwhile gets our RST (no flow, no socket): fail closed. */
static int clear_one(const struct cb_flow_key *k, const struct cb_flow *f, void *arg)
{
	struct cb_cluster *c = arg;

	if (f->state == CB_FLOW_PENDING && !adopt_find(c, k) &&
	    !cb_owner_move(c->env.flows, k, CB_FLOW_PENDING, CB_OWNER_NONE, NULL, NULL))
		c->pending_cleared++;
	return 0;
}

static void clear_pending(struct cb_cluster *c)
{
	cb_flows_foreach(c->env.flows, clear_one, c);
	if (c->pending_cleared)
		cb_info("run: %lu flows shipped to the previous controller here, not committed: "
			"removed", c->pending_cleared);
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
	clear_pending(c);
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
			adopt_drop(c, &c->adopts[i]);
	cb_links_close(c->links);
	cb_steer_close(&c->steer);
	free(c->members);
	free(c);
}

void cb_cluster_tick(struct cb_cluster *c, uint64_t now)
{
	struct sweep sw = { .c = c };

	cb_links_tick(c->links, now);
	if (now - c->active_ms >= CB_ACTIVE_MS) {
		count_active(c);
		c->active_ms = now;
	}
	ship_deadlines(c, now);
	adopt_leases(c, now);
	downs(c, now);
	serve_check(c);
	if (now - c->swept_ms >= CB_SWEEP_MS) {
		sw.now_ns = cb_steer_now_ns();
		cb_remote_foreach(&c->steer, sweep_one, &sw);
		c->swept_ms = now;
	}
}

void cb_cluster_remap(struct cb_cluster *c, const int *svc, int n_svc, const int *app, int n_app)
{
	uint32_t active[CB_CFG_MAX_SERVICES] = { 0 };
	int i;

	for (i = 0; i < CB_ADOPT_MAX; i++) {
		struct adopt *a = &c->adopts[i];

		if (!a->used)
			continue;
		a->service = a->service < n_svc ? svc[a->service] : -1;
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

/* ---- what operators see ------------------------------------------------------------ */

void cb_cluster_metrics(const struct cb_cluster *c, FILE *o)
{
	const struct cb_config_file *cfg = cfg_of(c);
	struct cb_remote_stats rs;
	int i, r;

	fprintf(o, "# HELP connbroker_node_up Channel to each other node: 2 up, 1 suspect, 0 down.\n"
		   "# TYPE connbroker_node_up gauge\n");
	for (i = 0; i < c->n_nodes; i++)
		if (i != c->self)
			fprintf(o, "connbroker_node_up{node=\"%s\"} %d\n", cfg->nodes[i].name,
				c->nodes[i].link);
	fprintf(o, "# HELP connbroker_placements_total Flows placed, by node and reason.\n"
		   "# TYPE connbroker_placements_total counter\n");
	for (i = 0; i < c->n_nodes; i++)
		for (r = 0; r < CB_PLACE_R_MAX; r++)
			if (c->nodes[i].placed[r])
				fprintf(o, "connbroker_placements_total{node=\"%s\",reason=\"%s\"} %lu\n",
					cfg->nodes[i].name, cb_place_reason_name(r),
					c->nodes[i].placed[r]);
	fprintf(o, "# HELP connbroker_handoffs_total Flows shipped to other nodes, by node and result.\n"
		   "# TYPE connbroker_handoffs_total counter\n");
	for (i = 0; i < c->n_nodes; i++) {
		if (i == c->self)
			continue;
		fprintf(o, "connbroker_handoffs_total{node=\"%s\",result=\"committed\"} %lu\n"
			   "connbroker_handoffs_total{node=\"%s\",result=\"refused\"} %lu\n"
			   "connbroker_handoffs_total{node=\"%s\",result=\"timeout\"} %lu\n"
			   "connbroker_handoffs_total{node=\"%s\",result=\"failed\"} %lu\n"
			   "connbroker_handoffs_total{node=\"%s\",result=\"recommitted\"} %lu\n",
			cfg->nodes[i].name, c->nodes[i].committed, cfg->nodes[i].name,
			c->nodes[i].refused, cfg->nodes[i].name, c->nodes[i].timed_out,
			cfg->nodes[i].name, c->nodes[i].failed, cfg->nodes[i].name,
			c->nodes[i].recommitted);
	}
	fprintf(o, "# HELP connbroker_adoptions_total Flows shipped here by other nodes, by result.\n"
		   "# TYPE connbroker_adoptions_total counter\n"
		   "connbroker_adoptions_total{result=\"served\"} %lu\n"
		   "connbroker_adoptions_total{result=\"refused\"} %lu\n"
		   "connbroker_adoptions_total{result=\"expired\"} %lu\n"
		   "connbroker_adoptions_total{result=\"failed\"} %lu\n"
		   "# HELP connbroker_adopted_closed_total Flows served here whose end was told to their director.\n"
		   "# TYPE connbroker_adopted_closed_total counter\nconnbroker_adopted_closed_total %lu\n"
		   "# HELP connbroker_adopted_untracked_total Flows served here not watched for their end (table of %d full).\n"
		   "# TYPE connbroker_adopted_untracked_total counter\nconnbroker_adopted_untracked_total %lu\n"
		   "# HELP connbroker_pending_cleared_total Uncommitted flows a previous controller left here, removed at start.\n"
		   "# TYPE connbroker_pending_cleared_total counter\nconnbroker_pending_cleared_total %lu\n",
		c->adopted, c->adopt_refused, c->adopt_expired, c->adopt_failed, c->served_closed,
		CB_SERVED_MAX, c->served_untracked, c->pending_cleared);
	if (cb_remote_stats(&c->steer, 0, &rs))
		memset(&rs, 0, sizeof(rs));
	fprintf(o, "# HELP connbroker_steered_flows Flows steered to other nodes (entries of cb_remote, of %d).\n"
		   "# TYPE connbroker_steered_flows gauge\nconnbroker_steered_flows %lu\n"
		   "# HELP connbroker_steered_removed_total Steering entries removed after their flow ended.\n"
		   "# TYPE connbroker_steered_removed_total counter\nconnbroker_steered_removed_total %lu\n",
		CB_MAX_REMOTE, rs.total, c->remote_swept);
	fprintf(o, "# HELP connbroker_peer_channel_closed_total Peer channel connections closed, by node and reason.\n"
		   "# TYPE connbroker_peer_channel_closed_total counter\n");
	for (i = -1; i < c->n_nodes; i++) {
		const struct cb_link_stats *ls;
		const char *name = i < 0 ? "(unknown)" : cfg->nodes[i].name;

		if (i == c->self)
			continue;
		ls = cb_links_stats(c->links, i < 0 ? CB_LINK_ANON : c->nodes[i].id);
		for (r = 1; ls && r < CB_LINK_R_MAX; r++)
			if (ls->closed[r])
				fprintf(o, "connbroker_peer_channel_closed_total{node=\"%s\",reason=\"%s\"} %llu\n",
					name, cb_link_reason_name(r), (unsigned long long)ls->closed[r]);
	}
}

/* One node's figures for (service s, app a): its last report, or ours. */
static void status_load(const struct cb_cluster *c, int i, int s, int a,
			struct cb_msg_svc_load *l)
{
	const struct cb_msg_svc_load *pl;

	if (i == c->self) {
		own_load(c, s, a, l);
		return;
	}
	memset(l, 0, sizeof(*l));
	pl = peer_load(c, i, s, a);
	if (pl)
		*l = *pl;
}

void cb_cluster_status(const struct cb_cluster *c, FILE *o, int json)
{
	const struct cb_config_file *cfg = cfg_of(c);
	static const char *const policies[] = { "local", "spread", "affinity" };
	int i, s, k, n, apps[CB_CFG_MAX_APPS], first;
	struct cb_msg_svc_load l;

	for (i = 0; i < c->n_nodes; i++) {
		const char *state = i == c->self ? "this node" : cb_link_state_name(c->nodes[i].link);

		if (json)
			fprintf(o, "%s{\"node\":\"%s\",\"id\":%u,\"state\":\"%s\",\"handed_off\":%lu,"
				   "\"refused\":%lu,\"timed_out\":%lu,\"lost\":%lu,\"load\":[",
				i ? "," : "", cfg->nodes[i].name, c->nodes[i].id, state,
				c->nodes[i].committed, c->nodes[i].refused, c->nodes[i].timed_out,
				c->nodes[i].lost);
		else
			fprintf(o, "  node %-10s id %-5u %-9s handed off %lu, refused %lu, timed out %lu\n",
				cfg->nodes[i].name, c->nodes[i].id, state, c->nodes[i].committed,
				c->nodes[i].refused, c->nodes[i].timed_out);
		for (s = 0, first = 1; s < cfg->n_services; s++) {
			if (!offers(cfg, i, s))
				continue;
			n = service_apps(cfg, s, apps);
			for (k = 0; k < n; k++, first = 0) {
				status_load(c, i, s, apps[k], &l);
				if (json)
					fprintf(o, "%s{\"service\":\"%s\",\"app\":\"%s\",\"policy\":\"%s\","
						   "\"instances\":%u,\"capacity\":%u,\"active\":%u,"
						   "\"waiting\":%u,\"inflight\":%u}", first ? "" : ",",
						cfg->services[s].name, cfg->apps[apps[k]].name,
						policies[cfg->services[s].placement], l.apps, l.capacity,
						l.active, l.waiting, l.inflight);
				else
					fprintf(o, "       %s/%s (%s): %u instances, capacity %u, active %u, "
						   "waiting %u, arriving %u\n", cfg->services[s].name,
						cfg->apps[apps[k]].name,
						policies[cfg->services[s].placement], l.apps, l.capacity,
						l.active, l.waiting, l.inflight);
			}
		}
		if (json)
			fprintf(o, "]}");
	}
}

void cb_cluster_timing(const struct cb_cluster *c, FILE *o, int json)
{
	uint32_t p50, p99;

	handoff_percentiles(c, &p50, &p99);
	if (json)
		fprintf(o, "{\"p50\":%u,\"p99\":%u,\"samples\":%lu}", p50, p99, c->n_samples);
	else if (c->n_samples)
		fprintf(o, "  hand-offs to other nodes, first byte here to the app's fd there "
			   "(+ one control message back): p50 %u us, p99 %u us over the last %lu\n",
			p50, p99, c->n_samples < CB_SAMPLES ? c->n_samples : CB_SAMPLES);
}
