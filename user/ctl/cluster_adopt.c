// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The target's side of a hand-off: build the shipped socket in repair mode
 * behind a PENDING entry, go live on COMMIT and hand it to an app, drop it
 * on ABORT or when the lease ends; then watch it until it is gone (CLOSED).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include "ctl/apps.h"
#include "ctl/cluster_priv.h"
#include "ctl/owner.h"
#include "ctl/reset.h"
#include "datapath/flows.h"
#include "peer/link.h"
#include "repair/image.h"
#include "repair/rtt_memo.h"
#include "repair/tuple.h"
#include "util/clock.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/parse_util.h"

static struct adopt *adopt_find(struct cb_cluster *c, const struct cb_flow_key *k)
{
	int i;

	for (i = 0; i < CB_ADOPT_MAX; i++)
		if (c->adopts[i].used && !memcmp(&c->adopts[i].key, k, sizeof(*k)))
			return &c->adopts[i];
	return NULL;
}

/* The unsent bytes a moved connection brought, kept for its go-live. */
static void adopt_free(struct adopt *a)
{
	free((void *)a->st.unsent);
	a->st.unsent = NULL;
	a->st.unsent_len = 0;
}

void cl_adopt_drop(struct cb_cluster *c, struct adopt *a)
{
	adopt_free(a);
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
	if (c->draining)
		return CB_REFUSE_STOPPING;
	if (*svc < 0 || *app < 0 || !offers(cfg, c->self, *svc) ||
	    !cb_apps_instances(c->env.apps, *app))
		return CB_REFUSE_NO_APP;
	s = &cfg->services[*svc];
	if (s->capacity && c->active[*svc] + cl_adopting(c, *svc) >= s->capacity)
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
	/* this node moved the connection away and lingers on its entry: it
	 * comes back */
	if (!cl_move_reclaim(c, k))
		return cb_owner_create(c->env.flows, k, CB_FLOW_PENDING, &f);
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
	char fs[CB_FLOW_STRLEN];
	int fd, err;

	if (cb_image_decode(m->image, m->image_len, &a->st))
		return CB_REFUSE_BAD_IMAGE;
	if ((err = pending_entry(c, k)))
		return err == -EBUSY ? CB_REFUSE_TUPLE_BUSY : CB_REFUSE_OTHER;
	fd = cb_repair_build_remembered(&a->st, c->env.rtt, cb_now_ms(), &step);
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
	/* the received and sent-unacknowledged bytes are in the socket now (m's
	 * go with the frame); what was never sent is sent once live, so it is
	 * kept, and sndq_len stays: going live decides its probe from it (an
	 * RTT probe byte is only for a socket with nothing in flight) */
	a->st.rcvq = a->st.sndq = NULL;
	a->st.rcvq_len = 0;
	if (a->st.unsent_len) {
		uint8_t *u = malloc(a->st.unsent_len);

		if (!u) {
			close(fd);
			cb_owner_move(c->env.flows, k, CB_FLOW_PENDING, CB_OWNER_NONE, NULL, NULL);
			return CB_REFUSE_BUILD_FAILED;
		}
		memcpy(u, a->st.unsent, a->st.unsent_len);
		a->st.unsent = u;
	} else {
		a->st.unsent = NULL;
	}
	return 0;
}

void cl_on_ship(struct cb_cluster *c, int node, const struct cb_msg_ship *m)
{
	uint64_t arrived_ns = cb_now_ns();
	struct cb_flow_key k;
	struct adopt *a = NULL;
	uint32_t reason;
	int svc, app, i;

	if (cl_key_from_msg(&m->flow, &k)) {
		reason = CB_REFUSE_OTHER;
		goto refuse;
	}
	if ((a = adopt_find(c, &k))) {
		if ((int32_t)(a->epoch - m->epoch) >= 0) {
			reason = CB_REFUSE_STALE_EPOCH;
			goto refuse;
		}
		cl_adopt_drop(c, a);       /* a newer move of the same flow */
	}
	if ((reason = refuse_reason(c, m, &svc, &app)))
		goto refuse;
	if (cb_fault_armed(c->env.faults, "refuse-ships")) {
		reason = CB_REFUSE_OTHER;
		goto refuse;
	}
	if (cb_fault_armed(c->env.faults, "ignore-ships"))
		return;         /* a target that never answers (tests) */
	for (i = 0; i < CB_ADOPT_MAX && c->adopts[i].used; i++)
		;
	if (i == CB_ADOPT_MAX) {
		reason = CB_REFUSE_FULL;
		goto refuse;
	}
	a = &c->adopts[i];
	memset(a, 0, offsetof(struct adopt, blob));
	cb_fault(c->env.faults, "after-ship");
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
	a->blob_len = m->blob_len <= CB_MSG_BLOB_MAX ? m->blob_len : 0;
	if (a->blob_len)
		memcpy(a->blob, m->blob, a->blob_len);
	if (cl_send_ref(c, node, CB_MSG_PREPARED, &k, m->epoch, 0)) {
		cl_adopt_drop(c, a);       /* the director will time out and abort */
		return;
	}
	cb_fault(c->env.faults, "after-prepared");
	cb_sample(&c->stages[CL_ST_BUILD], arrived_ns, cb_now_ns());
	return;
refuse:
	c->adopt_refused++;
	cl_send_ref(c, node, CB_MSG_REFUSED, &k, m->epoch, reason);
}

/* Watch an adopted flow until its socket is gone (served_check). */
static void serve_track(struct cb_cluster *c, int node, const struct cb_flow_key *k,
			uint32_t epoch)
{
	unsigned int i, at = c->served_next;

	for (i = 0; i < CB_SERVED_MAX && c->served[at].from_id; i++)
		at = (at + 1) % CB_SERVED_MAX;
	if (i == CB_SERVED_MAX)
		c->served_untracked++;  /* replaced: the director's verify sweep covers it */
	c->served[at] = (struct served){ .key = *k, .epoch = epoch, .from_id = c->nodes[node].id };
	c->served_next = (at + 1) % CB_SERVED_MAX;
}

/*
 * A few watched flows per tick: one whose socket is gone (closed, reset,
 * out of TIME_WAIT) is told to its director, whose steering entry would
 * otherwise outlive it when the client vanished without a FIN.
 */
void cl_serve_check(struct cb_cluster *c)
{
	unsigned int n, asked = 0;

	for (n = 0; n < CB_SERVED_MAX && asked < CB_SERVED_CHECKS; n++) {
		struct served *w = &c->served[c->served_check];
		int st, i;

		c->served_check = (c->served_check + 1) % CB_SERVED_MAX;
		if (!w->from_id)
			continue;
		asked++;
		st = cb_tuple_state_of(&w->key);
		if (st != -ENOENT && st != TCP_CLOSE)
			continue;       /* alive, or sock_diag failed: later */
		i = cl_node_by_id(c, w->from_id);
		if (i >= 0 && cl_send_ref(c, i, CB_MSG_CLOSED, &w->key, w->epoch, CB_CLOSED_ENDED))
			continue;       /* its channel is down or full: later */
		c->served_closed += i >= 0;
		w->from_id = 0;
	}
}

/* The adopted socket cannot serve: the client is reset, the director told. */
static void adopt_failed(struct cb_cluster *c, int node, struct adopt *a, int live, int err)
{
	char fs[CB_FLOW_STRLEN];

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
	cl_count_reset(c, CB_RESET_ADOPT_FAILED, 1);
	c->adopt_failed++;
	cl_send_ref(c, node, CB_MSG_CLOSED, &a->key, a->epoch, CB_CLOSED_FAILED);
}

/*
 * A COMMIT for no flow awaiting one: repeated (its DONE was lost), a
 * verify of quiet steering, or after a restart here.  COMMIT is idempotent;
 * the tuple's socket says what to answer: DONE while it lives, CLOSED when
 * it ended (TIME_WAIT) or was never live here (none: the director resets
 * the client, who may be waiting in silence).
 */
static void answer_commit(struct cb_cluster *c, int node, const struct cb_flow_key *k,
			  uint32_t epoch)
{
	int st = cb_tuple_state_of(k);

	if (st == -ENOENT || st == TCP_CLOSE)
		cl_send_ref(c, node, CB_MSG_CLOSED, k, epoch, CB_CLOSED_UNKNOWN);
	else if (st == TCP_TIME_WAIT)
		cl_send_ref(c, node, CB_MSG_CLOSED, k, epoch, CB_CLOSED_ENDED);
	else if (st >= 0)
		cl_send_ref(c, node, CB_MSG_DONE, k, epoch, 0);
	/* sock_diag failed: no answer; the director asks again */
}

/* COMMIT: the director steers the flow here; go live, hand it to the app. */
void cl_on_commit(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
{
	uint64_t arrived_ns = cb_now_ns();
	const struct cb_config_file *cfg = cfg_of(c);
	struct cb_flow_key k;
	struct adopt *a;
	const char *step = NULL;
	struct cb_flow_msg m;
	int conn, err;

	if (cl_key_from_msg(&r->flow, &k))
		return;
	if (!(a = adopt_find(c, &k))) {
		answer_commit(c, node, &k, r->epoch);
		return;
	}
	if (a->from != node || a->epoch != r->epoch)
		return;         /* another move of the tuple is under way */
	cb_fault(c->env.faults, "before-live");
	a->used = 0;
	if (a->app < 0) {
		adopt_free(a);
		adopt_failed(c, node, a, 0, -ENOENT);   /* its app left the configuration */
		return;
	}
	err = cb_owner_move(c->env.flows, &k, CB_FLOW_PENDING, CB_FLOW_LOCAL, NULL, NULL);
	if (!err)
		err = cb_repair_go_live(a->fd, &a->st, &step);
	adopt_free(a);
	if (err) {
		adopt_failed(c, node, a, 0, err);
		return;
	}
	m = (struct cb_flow_msg){
		.saddr = k.saddr, .sport_be = k.sport_be,
		.service = cfg->services[a->service].name, .rule = a->rule,
		.app = cfg->apps[a->app].name, .bytes = a->bytes,
		.per_request = cfg->services[a->service].per_request,
		.blob = a->blob, .blob_len = a->blob_len,
	};
	err = cb_apps_deliver(c->env.apps, a->app, &m, a->fd, &conn);
	if (err) {
		adopt_failed(c, node, a, 1, err);
		return;
	}
	close(a->fd);
	c->adopted++;
	c->active[a->service]++;        /* until the next sock_diag recount */
	serve_track(c, node, &k, r->epoch);
	cl_send_ref(c, node, CB_MSG_DONE, &k, r->epoch, 0);
	cb_sample(&c->stages[CL_ST_LIVE], arrived_ns, cb_now_ns());
}

void cl_on_abort(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
{
	struct cb_flow_key k;
	struct adopt *a;

	if (!cl_key_from_msg(&r->flow, &k) && (a = adopt_find(c, &k)) && a->from == node &&
	    a->epoch == r->epoch)
		cl_adopt_drop(c, a);
}

/*
 * No COMMIT within the lease: the director gave up, or is gone.  While its
 * channel is down the lease runs longer: the COMMIT may have been lost with
 * the channel, and the flow asked for again once it is back (reask).
 */
void cl_adopt_leases(struct cb_cluster *c, uint64_t now)
{
	int i;

	for (i = 0; i < CB_ADOPT_MAX; i++) {
		struct adopt *a = &c->adopts[i];

		if (!a->used || now <= a->lease_ms)
			continue;
		if (c->nodes[a->from].link != CB_LINK_UP && now - a->since_ms < CB_ADOPT_LEASE_MAX_MS)
			continue;
		cl_adopt_drop(c, a);
		c->adopt_expired++;
	}
}

/* The director's channel is back: PREPARED again for what awaits its COMMIT. */
void cl_reask(struct cb_cluster *c, int node)
{
	uint64_t now = cb_now_ms64();
	int i;

	for (i = 0; i < CB_ADOPT_MAX; i++) {
		struct adopt *a = &c->adopts[i];

		if (!a->used || a->from != node)
			continue;
		if (!cl_send_ref(c, node, CB_MSG_PREPARED, &a->key, a->epoch, 0) &&
		    a->lease_ms < now + CB_ADOPT_LEASE_MS)
			a->lease_ms = now + CB_ADOPT_LEASE_MS;
	}
}

/* PENDING entries a previous controller left: their repair sockets died
 * with it; the tuples would drop every segment.  A client steered here
 * meanwhile gets our RST (no flow, no socket): fail closed. */
static int clear_one(const struct cb_flow_key *k, const struct cb_flow *f, void *arg)
{
	struct cb_cluster *c = arg;

	/* PENDING: shipped here, never committed; MOVING: a live connection this
	 * node was moving away, whose socket died with that controller */
	if ((f->state == CB_FLOW_PENDING && !adopt_find(c, k) &&
	     !cb_owner_move(c->env.flows, k, CB_FLOW_PENDING, CB_OWNER_NONE, NULL, NULL)) ||
	    (f->state == CB_FLOW_MOVING &&
	     !cb_owner_move(c->env.flows, k, CB_FLOW_MOVING, CB_OWNER_NONE, NULL, NULL)))
		c->pending_cleared++;
	return 0;
}

void cl_clear_pending(struct cb_cluster *c)
{
	cb_flows_foreach(c->env.flows, clear_one, c);
	if (c->pending_cleared)
		cb_info("run: %lu flows shipped to the previous controller here, not committed: "
			"removed", c->pending_cleared);
}
