// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The director's side of a hand-off to a peer: SHIP the flow's socket image,
 * steer its segments once the peer PREPARED it, COMMIT; back to UNBOUND when
 * refused or unanswered.  Then the steering, until the flow ends or its node
 * is gone.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "ctl/cluster_priv.h"
#include "ctl/handoff.h"
#include "ctl/owner.h"
#include "ctl/reset.h"
#include "datapath/flows.h"
#include "peer/link.h"
#include "repair/image.h"
#include "util/clock.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/parse_util.h"

/* The SHIP of p, its socket image and request bytes included. */
static int build_ship(struct cb_cluster *c, struct pending *p, const struct cb_flow *f,
		      struct cb_msg *m)
{
	const struct cb_config_file *cfg = cfg_of(c);
	struct cb_sock_state st;
	ssize_t n;

	cb_state_from_flow(&st, &p->key, f, p->slot->data, p->slot->len, cb_now_ms());
	st.flags = cb_handoff_sock_flags(&cfg->services[p->d.service]);
	n = cb_image_encode(&st, c->image, sizeof(c->image));
	if (n < 0)
		return (int)n;
	memset(m, 0, sizeof(*m));
	m->type = CB_MSG_SHIP;
	cl_key_to_msg(&p->key, &m->ship.flow);
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
		cb_pending_mark(c->env.pend, p);
	} else {
		p->state = P_WAITING;
	}
	c->env.shipped(c->env.arg, p, CB_SHIP_BACK);
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
	p->ship_snd_nxt = f.snd_nxt;
	p->ship_rcv_nxt = f.rcv_nxt;
	p->epoch = cl_next_epoch(c);
	p->ship_node = node;
	if ((err = build_ship(c, p, &f, &m)) ||
	    (err = cb_links_send(c->links, c->nodes[node].id, &m)))
		goto back;
	c->nodes[node].sent[p->d.service]++;
	p->state = P_SHIPPING;
	p->ship_ns = cb_now_ns();
	p->ship_until_ms = p->ship_ns / 1000000 + CB_SHIP_WAIT_MS;
	return 0;
back:
	cb_owner_move(c->env.flows, &p->key, CB_FLOW_SHIPPING, CB_FLOW_UNBOUND, NULL, NULL);
	return err;
}

static struct pending *shipping(struct cb_cluster *c, int node, const struct cb_msg_ref *r,
				struct cb_flow_key *k)
{
	struct pending *p;

	if (cl_key_from_msg(&r->flow, k))
		return NULL;
	p = cb_pending_find(c->env.pend, k);
	if (!p || p->state != P_SHIPPING || p->ship_node != node || p->epoch != r->epoch)
		return NULL;    /* late, or for a move already settled */
	return p;
}

/* ---- COMMITs awaiting their DONE ---- */

static struct commit_wait *commit_find(struct cb_cluster *c, const struct cb_flow_key *k,
				       uint32_t epoch)
{
	int i;

	for (i = 0; i < CB_COMMITS_MAX; i++)
		if (c->commits[i].used && c->commits[i].epoch == epoch &&
		    !memcmp(&c->commits[i].key, k, sizeof(*k)))
			return &c->commits[i];
	return NULL;
}

void cl_commit_forget(struct cb_cluster *c, const struct cb_flow_key *k)
{
	int i;

	for (i = 0; i < CB_COMMITS_MAX; i++)
		if (c->commits[i].used && !memcmp(&c->commits[i].key, k, sizeof(*k)))
			c->commits[i].used = 0;
}

/* Track a COMMIT until its DONE; the oldest is replaced when all are in use
 * (a thousand hand-offs awaiting DONE: the verify sweep still covers it). */
struct commit_wait *cl_commit_track(struct cb_cluster *c, int node, const struct cb_flow_key *k,
					uint32_t epoch, uint32_t snd_nxt, uint32_t rcv_nxt)
{
	struct commit_wait *w = commit_find(c, k, epoch);
	unsigned int i, at = c->commits_next;

	if (!w) {
		for (i = 0; i < CB_COMMITS_MAX && c->commits[at].used; i++)
			at = (at + 1) % CB_COMMITS_MAX;
		if (i == CB_COMMITS_MAX)
			c->commits_untracked++;
		c->commits_next = (at + 1) % CB_COMMITS_MAX;
		w = &c->commits[at];
	}
	*w = (struct commit_wait){ .used = 1, .key = *k, .epoch = epoch, .node = node,
				   .snd_nxt = snd_nxt, .rcv_nxt = rcv_nxt,
				   .retry_ms = cb_now_ms64() + CB_COMMIT_RETRY_MS };
	return w;
}

/* Remove the steering of a flow that ended, or whose node is gone.  A
 * REDIRECT entry that cannot be removed keeps its steering (without it the
 * program would drop the flow's segments). */
static void unsteer(struct cb_cluster *c, const struct cb_flow_key *k, uint32_t epoch)
{
	struct cb_flow f;

	if (!cb_flows_lookup(c->env.flows, k, &f) && f.state == CB_FLOW_REDIRECT &&
	    cb_owner_move(c->env.flows, k, CB_FLOW_REDIRECT, CB_OWNER_NONE, NULL, NULL))
		return;
	if (!cb_remote_remove(&c->steer, k, epoch))
		c->remote_swept++;
}

/* A steered flow no node serves: its client is reset, the steering goes
 * first (so that nothing else answers the client meanwhile). */
static void reset_steered_client(struct cb_cluster *c, const struct cb_flow_key *k,
				 uint32_t epoch, uint32_t seq, uint32_t ack)
{
	char fs[CB_FLOW_STRLEN];

	unsteer(c, k, epoch);
	cb_info("run: %s: not live on its node; resetting the client",
		cb_fmt_flow(k, fs, sizeof(fs)));
	cb_reset_send(k, seq, ack);
	cl_count_reset(c, CB_RESET_NODE_LOST, 1);
}

/* COMMITs without DONE: again while the node's channel is up, then reset. */
void cl_commit_retries(struct cb_cluster *c, uint64_t now)
{
	int i;

	for (i = 0; i < CB_COMMITS_MAX; i++) {
		struct commit_wait *w = &c->commits[i];

		if (!w->used || now < w->retry_ms || c->nodes[w->node].link != CB_LINK_UP)
			continue;       /* a node that stays down is handled by cl_node_down */
		if (w->tries >= CB_COMMIT_TRIES) {
			struct cb_remote rem;

			w->used = 0;
			/* only while it is still that move: a flow moved on since
			 * belongs to another node now */
			if (cb_remote_lookup(&c->steer, &w->key, &rem) ||
			    rem.peer != c->nodes[w->node].id || rem.epoch != w->epoch)
				continue;
			c->nodes[w->node].failed++;
			reset_steered_client(c, &w->key, w->epoch, w->snd_nxt, w->rcv_nxt);
			continue;
		}
		w->tries++;
		w->retry_ms = now + CB_COMMIT_RETRY_MS;
		if (!cl_send_ref(c, w->node, CB_MSG_COMMIT, &w->key, w->epoch, 0))
			c->nodes[w->node].recommitted++;
	}
}

/* The node's channel is back: what awaits its DONE is asked again now. */
void cl_recommit_node(struct cb_cluster *c, int node)
{
	int i;

	for (i = 0; i < CB_COMMITS_MAX; i++)
		if (c->commits[i].used && c->commits[i].node == node)
			c->commits[i].retry_ms = 0;
}

/*
 * PREPARED for no move in progress: a target re-asking after its channel
 * came back (the COMMIT may have been lost with the old one), or a late
 * answer.  Committed if this node steers the flow to it at that epoch (the
 * flow entry REDIRECT, or evicted), else aborted: one owner either way.
 */
static void recommit_or_abort(struct cb_cluster *c, int node, const struct cb_flow_key *k,
			      uint32_t epoch)
{
	struct cb_remote rem;
	struct cb_flow f;
	int st = cb_flows_lookup(c->env.flows, k, &f);

	if (!cb_remote_lookup(&c->steer, k, &rem) && rem.peer == c->nodes[node].id &&
	    rem.epoch == epoch && (st == -ENOENT || (!st && f.state == CB_FLOW_REDIRECT))) {
		if (!cl_send_ref(c, node, CB_MSG_COMMIT, k, epoch, 0))
			c->nodes[node].recommitted++;
	} else {
		cl_send_ref(c, node, CB_MSG_ABORT, k, epoch, 0);
	}
}

/* The COMMIT could not be queued: the peer's socket stays inert (its lease
 * drops it), the flow is held here again and placed anew, or, if its entry
 * was evicted meanwhile, reset. */
static void uncommit(struct cb_cluster *c, struct pending *p, int err)
{
	char fs[CB_FLOW_STRLEN];

	cb_err("run: %s: COMMIT to node %s: %s", cb_fmt_flow(&p->key, fs, sizeof(fs)),
	       cfg_of(c)->nodes[p->ship_node].name, strerror(-err));
	cl_send_ref(c, p->ship_node, CB_MSG_ABORT, &p->key, p->epoch, 0);
	c->nodes[p->ship_node].failed++;
	if (cb_owner_move(c->env.flows, &p->key, CB_FLOW_REDIRECT, CB_FLOW_UNBOUND, NULL, NULL)) {
		reset_steered_client(c, &p->key, p->epoch, p->ship_snd_nxt, p->ship_rcv_nxt);
		c->env.shipped(c->env.arg, p, CB_SHIP_FAILED);
		return;
	}
	cb_remote_remove(&c->steer, &p->key, p->epoch);
	held_again(c, p);
}

/* PREPARED: steer the flow to the peer, then let it go live. */
void cl_on_prepared(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
{
	uint64_t prepared_ns = cb_now_ns();
	struct commit_wait *w;
	struct cb_flow_key k;
	struct pending *p;
	char fs[CB_FLOW_STRLEN];
	int err;

	if (cl_key_from_msg(&r->flow, &k))
		return;                 /* the codec checked it: cannot happen */
	c->nodes[node].avoid_ms = 0;    /* it answers: placed on again as usual */
	if (cl_move_prepared(c, node, r))
		return;                 /* a live connection's move (cluster_move.c) */
	p = shipping(c, node, r, &k);
	if (!p) {
		recommit_or_abort(c, node, &k, r->epoch);
		return;
	}
	/* the steering entry first: from the CAS on, segments go to the peer */
	err = cb_remote_add(&c->steer, &k, c->nodes[node].id, p->epoch, p->ship_snd_nxt);
	if (!err)
		err = cb_owner_move(c->env.flows, &k, CB_FLOW_SHIPPING, CB_FLOW_REDIRECT, NULL, NULL);
	if (err) {
		cb_err("run: %s: steer to node %s: %s", cb_fmt_flow(&k, fs, sizeof(fs)),
		       cfg_of(c)->nodes[node].name, strerror(-err));
		cb_remote_remove(&c->steer, &k, p->epoch);
		cl_send_ref(c, node, CB_MSG_ABORT, &k, p->epoch, 0);
		c->nodes[node].failed++;
		unship(c, p);
		return;
	}
	cb_fault(c->env.faults, "after-redirect");
	if (cb_fault_armed(c->env.faults, "lose-commit"))
		/* the COMMIT "lost" with its channel: the target re-asks */
		cb_links_drop(c->links, c->nodes[node].id, "fault lose-commit");
	else if ((err = cl_send_ref(c, node, CB_MSG_COMMIT, &k, p->epoch, 0))) {
		uncommit(c, p, err);
		return;
	}
	w = cl_commit_track(c, node, &k, p->epoch, p->ship_snd_nxt, p->ship_rcv_nxt);
	w->start_ns = p->first_xdp_ns;  /* 0 for a flow recovered after a restart */
	w->ship_ns = p->ship_ns;
	w->prepared_ns = prepared_ns;
	w->commit_ns = cb_now_ns();
	c->nodes[node].committed++;
	c->env.shipped(c->env.arg, p, CB_SHIP_COMMITTED);
}

void cl_on_refused(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
{
	struct cb_flow_key k;
	struct pending *p;
	char fs[CB_FLOW_STRLEN];

	if (cl_move_refused(c, node, r))
		return;
	if (!(p = shipping(c, node, r, &k)))
		return;
	cb_info("run: %s: node %s refused it (reason %u); placing it again",
		cb_fmt_flow(&k, fs, sizeof(fs)), cfg_of(c)->nodes[node].name, r->reason);
	c->nodes[node].refused++;
	unship(c, p);
}

/* SHIPs unanswered in time, or to a node that went down: abort, place anew. */
void cl_ship_deadlines(struct cb_cluster *c, uint64_t now)
{
	int i;

	for (i = 0; i < CB_PENDING_MAX; i++) {
		struct pending *p = &c->env.pend->p[i];

		if (p->state != P_SHIPPING)
			continue;
		if (now < p->ship_until_ms && c->nodes[p->ship_node].link != CB_LINK_DOWN)
			continue;
		cl_send_ref(c, p->ship_node, CB_MSG_ABORT, &p->key, p->epoch, 0);
		cl_node_timed_out(c, p->ship_node, now);
		unship(c, p);
	}
}

struct sweep {
	struct cb_cluster *c;
	uint64_t now_ns;
	unsigned int verified;
};

/*
 * Steering of a flow that ended: removed once the client closed it and it
 * has been quiet since (a half-closed flow still acknowledging its download
 * keeps it).  Steering quiet for a minute without a close is checked with
 * its node (an idempotent COMMIT: DONE while the socket lives there, CLOSED
 * once it is gone), spread over the minute: a flow whose end was never told
 * (its node restarted, its watch table was full) does not stay for ever.
 */
static int sweep_one(const struct cb_flow_key *k, const struct cb_remote *r, void *arg)
{
	struct sweep *s = arg;
	int node;

	if (r->closing_ns) {
		if (s->now_ns - r->closing_ns > CB_REMOTE_LINGER_NS &&
		    s->now_ns - r->last_ns > CB_REMOTE_LINGER_NS)
			unsteer(s->c, k, r->epoch);
		return 0;
	}
	if (s->now_ns - r->last_ns < CB_VERIFY_IDLE_NS || s->verified >= CB_VERIFY_MAX ||
	    (cb_place_hash(k, sizeof(*k)) + s->c->sweeps) % 60 ||
	    (node = cl_node_by_id(s->c, r->peer)) < 0 || s->c->nodes[node].link != CB_LINK_UP)
		return 0;
	if (!cl_send_ref(s->c, node, CB_MSG_COMMIT, k, r->epoch, 0))
		s->verified++;
	return 0;
}

/* DONE: the peer's app has the socket; how long it took from the first byte. */
void cl_on_done(struct cb_cluster *c, int node, const struct cb_msg_ref *m)
{
	struct commit_wait *w;
	struct cb_flow_key k;
	uint64_t now = cb_now_ns();

	if (cl_key_from_msg(&m->flow, &k) || !(w = commit_find(c, &k, m->epoch)) ||
	    w->node != node)
		return;         /* an answer to a verify, or a repeated DONE */
	if (w->start_ns) {
		cb_sample(&c->stages[CL_ST_TOTAL], w->start_ns, now);
		cb_sample(&c->stages[CL_ST_DECIDE], w->start_ns, w->ship_ns);
		cb_sample(&c->stages[CL_ST_PREPARE], w->ship_ns, w->prepared_ns);
		cb_sample(&c->stages[CL_ST_STEER], w->prepared_ns, w->commit_ns);
		cb_sample(&c->stages[CL_ST_COMMIT], w->commit_ns, now);
	}
	w->used = 0;
}

/*
 * CLOSED: the flow's socket is gone from its node (the steering goes), or
 * was never live there (CB_CLOSED_UNKNOWN / FAILED for a COMMIT awaiting
 * DONE): then the client may be waiting in silence and is reset.  A flow
 * its client already closed or reset needs none.
 */
void cl_on_closed(struct cb_cluster *c, int node, const struct cb_msg_ref *m)
{
	struct commit_wait *w;
	struct cb_flow_key k;
	struct cb_remote r;
	uint32_t seq, ack = 0;

	if (cl_key_from_msg(&m->flow, &k) || cb_remote_lookup(&c->steer, &k, &r) ||
	    r.peer != c->nodes[node].id || r.epoch != m->epoch)
		return;
	w = commit_find(c, &k, m->epoch);
	if (m->reason == CB_CLOSED_ENDED || r.closing_ns) {
		unsteer(c, &k, r.epoch);
	} else {
		seq = w ? w->snd_nxt : r.last_ack;
		ack = w ? w->rcv_nxt : 0;
		if (w)
			c->nodes[node].failed++;
		reset_steered_client(c, &k, r.epoch, seq, ack);
	}
	if (w)
		w->used = 0;
}

void cl_steer_to(struct cb_cluster *c, int i)
{
	const struct cb_node_cfg *n = &cfg_of(c)->nodes[i];
	uint32_t id = c->nodes[i].id;
	struct cb_service_key ctl;
	struct cb_peer cur;
	int err;

	if (!c->nodes[i].mac_known || cb_parse_service(n->control, &ctl))
		return;
	if (!cb_peer_get(&c->steer, id, &cur) && cur.up && !memcmp(cur.mac, c->nodes[i].mac, 6))
		return;         /* steered there already (a blip, or a restart here) */
	cb_peer_set_up(&c->steer, id, 0);       /* a MAC changes only while down */
	/* cb_peer.ip_be is IPv4 only (unused by the programs: steering is by MAC) */
	err = cb_peer_set(&c->steer, id, c->nodes[i].mac,
			  cb_addr_is_v4(&ctl.vip) ? ctl.vip.w[3] : 0, 1);
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

	if (r->peer != d->node)
		return 0;
	unsteer(d->c, k, r->epoch);
	if (!(r->closing_flags & CB_REMOTE_SEEN_RST) && !cb_reset_send(k, r->last_ack, 0))
		d->reset++;
	return 0;
}

/* Down for longer than the grace: its flows' segments get our RST. */
void cl_node_down(struct cb_cluster *c, int i)
{
	struct down d = { .c = c, .node = c->nodes[i].id };

	int w;

	cb_peer_set_up(&c->steer, c->nodes[i].id, 0);
	cb_remote_foreach(&c->steer, reset_steered, &d);
	for (w = 0; w < CB_COMMITS_MAX; w++)    /* their clients were just reset */
		if (c->commits[w].used && c->commits[w].node == i)
			c->commits[w].used = 0;
	cb_info("run: node %s down for %d ms: %lu of its clients reset",
		cfg_of(c)->nodes[i].name, CB_DOWN_GRACE_MS, d.reset);
	c->nodes[i].lost += d.reset;
	cl_count_reset(c, CB_RESET_NODE_LOST, d.reset);
}

/* Steering of flows that ended: removed once closed and quiet (sweep_one). */
void cl_sweep(struct cb_cluster *c)
{
	struct sweep sw = { .c = c, .now_ns = cb_steer_now_ns() };

	cb_remote_foreach(&c->steer, sweep_one, &sw);
	c->sweeps++;
}

/* ---- after a restart ---- */

struct recover {
	struct cb_cluster *c;
	uint32_t clock;
	unsigned long stale, recent, orphans;
};

/*
 * Steering a previous controller left: an entry whose flow is held here in
 * another state is stale (it died between steering and the state change, or
 * while rolling one back) and goes; a young one whose COMMIT may never have
 * left is committed again until its DONE (or its client reset).
 */
static int recover_remote(const struct cb_flow_key *k, const struct cb_remote *r, void *arg)
{
	struct recover *rc = arg;
	struct commit_wait *w;
	struct cb_flow f;
	int st = cb_flows_lookup(rc->c->env.flows, k, &f), node;

	if (!st && f.state != CB_FLOW_REDIRECT) {
		if (!cb_remote_remove(&rc->c->steer, k, r->epoch))
			rc->stale++;
		return 0;
	}
	if (r->closing_ns || (int32_t)(rc->clock - r->epoch) >= CB_RECENT_MOVE_MS * 64 ||
	    (node = cl_node_by_id(rc->c, r->peer)) < 0)
		return 0;
	w = cl_commit_track(rc->c, node, k, r->epoch, st ? r->last_ack : f.snd_nxt,
			 st ? 0 : f.rcv_nxt);
	w->retry_ms = 0;        /* as soon as its node's channel is up */
	rc->recent++;
	return 0;
}

/* A REDIRECT entry without steering: the program drops its segments; the
 * client is reset. */
static int recover_flow(const struct cb_flow_key *k, const struct cb_flow *f, void *arg)
{
	struct recover *rc = arg;
	struct cb_remote r;

	if (f->state != CB_FLOW_REDIRECT || cb_remote_lookup(&rc->c->steer, k, &r) != -ENOENT ||
	    cb_owner_move(rc->c->env.flows, k, CB_FLOW_REDIRECT, CB_OWNER_NONE, NULL, NULL))
		return 0;
	cb_reset_send(k, f->snd_nxt, f->rcv_nxt);
	cl_count_reset(rc->c, CB_RESET_ORPHANED, 1);
	rc->orphans++;
	return 0;
}

void cl_recover_steering(struct cb_cluster *c)
{
	struct recover rc = { .c = c, .clock = (uint32_t)(cb_now_ms64() * 64) };

	cb_remote_foreach(&c->steer, recover_remote, &rc);
	cb_flows_foreach(c->env.flows, recover_flow, &rc);
	if (rc.stale || rc.recent || rc.orphans)
		cb_info("run: steering left by the previous controller: %lu stale entries removed, "
			"%lu young moves committed again, %lu unsteered clients reset", rc.stale,
			rc.recent, rc.orphans);
}
