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
		if (!cl_send_ref(c, node, CB_MSG_COMMIT, k, epoch, 0))
			c->nodes[node].recommitted++;
	} else {
		cl_send_ref(c, node, CB_MSG_ABORT, k, epoch, 0);
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
	cl_send_ref(c, p->ship_node, CB_MSG_ABORT, &p->key, p->epoch, 0);
	c->nodes[p->ship_node].failed++;
	held_again(c, p);
}

/* PREPARED: steer the flow to the peer, then let it go live. */
void cl_on_prepared(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
{
	uint64_t prepared_ns = cb_now_ns();
	struct cb_flow_key k;
	struct pending *p;
	char fs[64];
	int err;

	if (cl_key_from_msg(&r->flow, &k))
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
	if (p->first_xdp_ns) {          /* timed until the peer's DONE */
		unsigned int t = c->timing_next++ % CB_TIMING_MAX;

		c->timing[t].key = k;
		c->timing[t].epoch = p->epoch;
		c->timing[t].start_ns = p->first_xdp_ns;
		c->timing[t].ship_ns = p->ship_ns;
		c->timing[t].prepared_ns = prepared_ns;
		c->timing[t].commit_ns = cb_now_ns();
	}
	c->nodes[node].committed++;
	c->env.shipped(c->env.arg, p, 1);
}

void cl_on_refused(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
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
		c->nodes[p->ship_node].timed_out++;
		unship(c, p);
	}
}

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
void cl_on_done(struct cb_cluster *c, const struct cb_msg_ref *m)
{
	struct cb_flow_key k;
	unsigned int t;

	if (cl_key_from_msg(&m->flow, &k))
		return;
	for (t = 0; t < CB_TIMING_MAX; t++)
		if (c->timing[t].start_ns && c->timing[t].epoch == m->epoch &&
		    !memcmp(&c->timing[t].key, &k, sizeof(k))) {
			uint64_t now = cb_now_ns();

			cl_sample(&c->stages[CL_ST_TOTAL], c->timing[t].start_ns, now);
			cl_sample(&c->stages[CL_ST_DECIDE], c->timing[t].start_ns,
				  c->timing[t].ship_ns);
			cl_sample(&c->stages[CL_ST_PREPARE], c->timing[t].ship_ns,
				  c->timing[t].prepared_ns);
			cl_sample(&c->stages[CL_ST_STEER], c->timing[t].prepared_ns,
				  c->timing[t].commit_ns);
			cl_sample(&c->stages[CL_ST_COMMIT], c->timing[t].commit_ns, now);
			c->timing[t].start_ns = 0;
			return;
		}
}

void cl_on_closed(struct cb_cluster *c, int node, const struct cb_msg_ref *m)
{
	struct cb_flow_key k;
	struct cb_remote r;

	if (cl_key_from_msg(&m->flow, &k) || cb_remote_lookup(&c->steer, &k, &r) ||
	    r.peer != c->nodes[node].id || r.epoch != m->epoch)
		return;
	unsteer(c, &k, &r);
}

void cl_steer_to(struct cb_cluster *c, int i)
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
void cl_node_down(struct cb_cluster *c, int i)
{
	struct down d = { .c = c, .node = c->nodes[i].id };

	cb_peer_set_up(&c->steer, c->nodes[i].id, 0);
	cb_remote_foreach(&c->steer, reset_steered, &d);
	cb_info("run: node %s down for %d ms: %lu of its clients reset",
		cfg_of(c)->nodes[i].name, CB_DOWN_GRACE_MS, d.reset);
	c->nodes[i].lost += d.reset;
}

/* Steering of flows that ended: removed once closed and quiet (sweep_one). */
void cl_sweep(struct cb_cluster *c)
{
	struct sweep sw = { .c = c, .now_ns = cb_steer_now_ns() };

	cb_remote_foreach(&c->steer, sweep_one, &sw);
}
