// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Live migration between nodes: a connection an app released here (live,
 * ESTABLISHED, with whatever it has sent unacknowledged or unsent and
 * received unread) moves to another node's app.  Same prepare/commit as a
 * hand-off, same epochs; the node that steers the flow (its director)
 * commits every move, so the flow has one owner at every instant
 * (docs/architecture.md, "Migration"):
 *
 * source S        LOCAL -> MOVING     segments dropped both ways; the socket
 *                                     dumped (TCP_REPAIR), left in repair mode:
 *                                     inert, closing it sends nothing
 * S is the        SHIP -> target T    (image + the app's blob)
 *  director       <- PREPARED         cb_remote -> T, MOVING -> REDIRECT,
 *                                     COMMIT; S's socket closed silently
 * S is a backend  MOVE -> director D  (image + blob + the app asked for)
 *                 D: SHIP -> T        while D still steers to S (dropped)
 *                 <- PREPARED         D re-steers cb_remote to T (new epoch),
 *                                     COMMIT -> T, MOVED -> S: S closes its
 *                                     socket silently; its MOVING entry keeps
 *                                     dropping what was in flight, then goes
 * failure         T refuses or is silent: RESUME -> S (or S itself is the
 *                 director): MOVING -> LOCAL, repair off (a window probe),
 *                 the socket is live on S again and goes back to an app.
 *                 S hears nothing within CB_MOVE_WAIT_MS: it drops its
 *                 socket (D may have committed elsewhere; if it did not, the
 *                 client's next segment is reset here: fail closed).
 */
#include <errno.h>
#include <stdio.h>
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
#include "util/clock.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/parse_util.h"

/* Room left in a frame for the SHIP's other fields and the blob. */
#define FRAME_SLACK (CB_MSG_BLOB_MAX + 1024)

static struct move *move_find(struct cb_cluster *c, const struct cb_flow_key *k)
{
	int i;

	for (i = 0; i < CB_MOVES_MAX; i++)
		if (c->moves[i].used && !memcmp(&c->moves[i].key, k, sizeof(*k)))
			return &c->moves[i];
	return NULL;
}

static struct relay *relay_find(struct cb_cluster *c, const struct cb_flow_key *k)
{
	int i;

	for (i = 0; i < CB_RELAYS_MAX; i++)
		if (c->relays[i].used && !memcmp(&c->relays[i].key, k, sizeof(*k)))
			return &c->relays[i];
	return NULL;
}

int cl_served_from(const struct cb_cluster *c, const struct cb_flow_key *k, uint32_t *epoch)
{
	int i;

	for (i = 0; i < CB_SERVED_MAX; i++)
		if (c->served[i].from_id && !memcmp(&c->served[i].key, k, sizeof(*k))) {
			*epoch = c->served[i].epoch;
			return cl_node_by_id(c, c->served[i].from_id);
		}
	return -1;
}

void cl_served_forget(struct cb_cluster *c, const struct cb_flow_key *k)
{
	int i;

	for (i = 0; i < CB_SERVED_MAX; i++)
		if (c->served[i].from_id && !memcmp(&c->served[i].key, k, sizeof(*k)))
			c->served[i].from_id = 0;
}

int cb_cluster_node(const struct cb_cluster *c, const char *name)
{
	return cb_config_node(cfg_of(c), name);
}

int cb_cluster_place_conn(struct cb_cluster *c, const struct cb_flow_key *k,
			  const struct cb_decision *d, const uint8_t *req, size_t len, int node)
{
	const struct cb_config_file *cfg = cfg_of(c);
	struct cl_place_req q = { .key = k, .d = d, .req = req, .len = len, .not_here = 1 };

	if (d->app < 0 || (node == c->self && !c->draining))
		return -1;
	if (node >= 0 && node != c->self)       /* asked for: taken if it can be */
		return offers(cfg, node, d->service) && cl_node_takes(c, node) ? node : -1;
	if (cb_apps_instances(c->env.apps, d->app) && !c->draining)
		return -1;      /* an instance here: the socket is passed, nothing moves */
	return cl_place(c, &q); /* draining: anywhere else, or (nowhere) here after all */
}

/* ---- the source --------------------------------------------------------------- */

/* Who steers k: c->self when this node accepted it (its entry was made by
 * the program: created_ms set), else the node that shipped it here. */
static int director_of(struct cb_cluster *c, const struct cb_flow_key *k, uint32_t *epoch)
{
	struct cb_flow f;
	int d = cl_served_from(c, k, epoch);

	if (d >= 0)
		return d;
	*epoch = 0;
	if (!cb_flows_lookup(c->env.flows, k, &f) && f.state == CB_FLOW_LOCAL && f.created_ms)
		return c->self;
	return -1;
}

/* LOCAL -> MOVING (an entry evicted meanwhile is made again, MOVING). */
static int freeze_live(struct cb_cluster *c, const struct cb_flow_key *k)
{
	struct cb_flow f = { .state = CB_FLOW_MOVING };
	int err = cb_owner_move(c->env.flows, k, CB_FLOW_LOCAL, CB_FLOW_MOVING, NULL, NULL);

	if (err == -ENOENT)
		err = cb_owner_create(c->env.flows, k, CB_FLOW_MOVING, &f);
	return err;
}

/*
 * The move failed: the socket is live here again (MOVING -> LOCAL first, so
 * that the answer to the window probe reaches it) and goes back to an app
 * through the controller, or, if it cannot go live, its client is reset.
 */
static void resume_here(struct cb_cluster *c, struct move *mv, const char *why)
{
	char fs[CB_FLOW_STRLEN];
	int err;

	err = cb_owner_move(c->env.flows, &mv->key, CB_FLOW_MOVING, CB_FLOW_LOCAL, NULL, NULL);
	if (!err)
		err = cb_repair_off(mv->fd, TCP_REPAIR_OFF);
	mv->used = 0;
	if (err) {
		cb_err("run: %s: live move failed (%s) and it cannot resume here: %s; resetting "
		       "the client", cb_fmt_flow(&mv->key, fs, sizeof(fs)), why, strerror(-err));
		close(mv->fd);          /* first: a LOCAL entry goes only without a socket */
		if (cb_owner_move(c->env.flows, &mv->key, CB_FLOW_MOVING, CB_OWNER_NONE, NULL, NULL))
			cb_owner_move(c->env.flows, &mv->key, CB_FLOW_LOCAL, CB_OWNER_NONE, NULL,
				      NULL);
		cb_reset_send(&mv->key, mv->snd_nxt, mv->rcv_nxt);
		cl_count_reset(c, CB_RESET_MOVE_FAILED, 1);
		c->moves_failed++;
		return;
	}
	cb_info("run: %s: live move %s; it stays here", cb_fmt_flow(&mv->key, fs, sizeof(fs)), why);
	c->moves_resumed++;
	c->env.resumed(c->env.arg, mv->fd, mv->app, mv->blob, mv->blob_len);
}

/* The frame that carries the move: SHIP to the target (we direct the flow)
 * or MOVE to the director. */
static void move_msg(struct cb_cluster *c, const struct move *mv, const struct cb_decision *d,
		     size_t image_len, int node, struct cb_msg *m)
{
	const struct cb_config_file *cfg = cfg_of(c);

	memset(m, 0, sizeof(*m));
	m->type = mv->director == c->self ? CB_MSG_SHIP : CB_MSG_MOVE;
	cl_key_to_msg(&mv->key, &m->ship.flow);
	m->ship.epoch = mv->director == c->self ? mv->epoch : mv->old_epoch;
	snprintf(m->ship.service, sizeof(m->ship.service), "%s", cfg->services[d->service].name);
	if (d->rule >= 0)
		snprintf(m->ship.rule, sizeof(m->ship.rule), "%s", cfg->rules[d->rule].name);
	snprintf(m->ship.app, sizeof(m->ship.app), "%s", cfg->apps[d->app].name);
	m->ship.deadline_ms = CB_SHIP_WAIT_MS;
	m->ship.image = c->image;
	m->ship.image_len = (uint32_t)image_len;
	m->ship.blob = mv->blob;
	m->ship.blob_len = mv->blob_len;
	if (m->type == CB_MSG_MOVE && node >= 0)
		m->ship.target = c->nodes[node].id;
}

int cb_cluster_move(struct cb_cluster *c, int fd, const struct cb_flow_key *k,
		    const struct cb_decision *d, int node, const uint8_t *blob, size_t blob_len)
{
	struct cb_sock_state st;
	struct move *mv = NULL;
	struct cb_msg m;
	uint32_t old_epoch;
	ssize_t n;
	int dir = director_of(c, k, &old_epoch), i, err;

	if (dir < 0)
		return -ENOENT;
	if (node == c->self || (dir == c->self && node < 0) || blob_len > CB_MSG_BLOB_MAX ||
	    d->app < 0 || move_find(c, k))
		return -EINVAL;
	for (i = 0; i < CB_MOVES_MAX && !mv; i++)
		if (!c->moves[i].used)
			mv = &c->moves[i];
	if (!mv)
		return -EBUSY;
	memset(mv, 0, offsetof(struct move, blob));
	mv->fd = fd;
	mv->key = *k;
	mv->director = dir;
	mv->target = node;
	mv->old_epoch = old_epoch;
	mv->app = d->app;
	mv->blob_len = (uint32_t)blob_len;
	if (blob_len)
		memcpy(mv->blob, blob, blob_len);
	mv->start_ns = cb_now_ns();
	if ((err = freeze_live(c, k)))
		return err;
	mv->used = 1;
	/* frozen: nothing reaches or leaves the socket while it is read */
	if ((err = cb_repair_dump(fd, &st))) {
		resume_here(c, mv, "(the dump failed)");
		return 0;       /* fd went back through env->resumed, or was reset */
	}
	n = cb_image_encode(&st, c->image, sizeof(c->image) - FRAME_SLACK);
	mv->st = st;
	mv->snd_nxt = st.snd_una + (uint32_t)st.sndq_len;
	mv->rcv_nxt = st.rcv_seq + (uint32_t)st.rcvq_len;
	cb_sock_state_free(&st);
	mv->st.rcvq = mv->st.sndq = mv->st.unsent = NULL;
	mv->st.rcvq_len = mv->st.sndq_len = mv->st.unsent_len = 0;
	if (n < 0) {
		resume_here(c, mv, n == -ENOSPC ? "(its queues exceed one frame)" : "(no image)");
		return 0;
	}
	if (dir == c->self)
		mv->epoch = cl_next_epoch(c);
	move_msg(c, mv, d, (size_t)n, node, &m);
	cb_fault(c->env.faults, "before-move");
	if ((err = cb_links_send(c->links, c->nodes[dir == c->self ? node : dir].id, &m))) {
		resume_here(c, mv, "(its message could not be sent)");
		return 0;
	}
	if (dir == c->self)
		c->nodes[node].sent[d->service]++;
	mv->until_ms = cb_now_ms64() + (dir == c->self ? CB_SHIP_WAIT_MS : CB_MOVE_WAIT_MS);
	return 0;
}

/* ---- answers ------------------------------------------------------------------ */

/* We direct the flow and moved it to `node`, which built it: steer, commit. */
static void commit_own_move(struct cb_cluster *c, int node, struct move *mv)
{
	uint32_t id = c->nodes[node].id;
	char fs[CB_FLOW_STRLEN];
	int err = cb_remote_add(&c->steer, &mv->key, id, mv->epoch, mv->snd_nxt);

	if (!err)
		err = cb_owner_move(c->env.flows, &mv->key, CB_FLOW_MOVING, CB_FLOW_REDIRECT, NULL,
				    NULL);
	if (err) {
		cb_err("run: %s: steer the moved connection to node %s: %s",
		       cb_fmt_flow(&mv->key, fs, sizeof(fs)), cfg_of(c)->nodes[node].name,
		       strerror(-err));
		cb_remote_remove(&c->steer, &mv->key, mv->epoch);
		cl_send_ref(c, node, CB_MSG_ABORT, &mv->key, mv->epoch, 0);
		resume_here(c, mv, "(steering failed)");
		return;
	}
	/* a COMMIT that cannot be sent now is sent again (cl_commit_retries) */
	if (cl_send_ref(c, node, CB_MSG_COMMIT, &mv->key, mv->epoch, 0))
		c->nodes[node].recommitted++;
	cl_commit_track(c, node, &mv->key, mv->epoch, mv->snd_nxt, mv->rcv_nxt);
	close(mv->fd);          /* still in repair mode: sends nothing */
	cb_sample(&c->move_us, mv->start_ns, cb_now_ns());
	c->nodes[node].committed++;
	c->moved_out++;
	mv->used = 0;
}

/* A move between two peers, built on the target: re-steer, commit, tell the source. */
static void commit_relay(struct cb_cluster *c, int node, struct relay *rl)
{
	char fs[CB_FLOW_STRLEN];
	int err = cb_remote_move(&c->steer, &rl->key, c->nodes[rl->source].id, rl->old_epoch,
				 c->nodes[node].id, rl->epoch);

	rl->used = 0;
	if (err) {
		cb_err("run: %s: re-steer from node %s to %s: %s",
		       cb_fmt_flow(&rl->key, fs, sizeof(fs)), cfg_of(c)->nodes[rl->source].name,
		       cfg_of(c)->nodes[node].name, strerror(-err));
		cl_send_ref(c, node, CB_MSG_ABORT, &rl->key, rl->epoch, 0);
		cl_send_ref(c, rl->source, CB_MSG_RESUME, &rl->key, rl->old_epoch, 0);
		c->relays_refused++;
		return;
	}
	cb_fault(c->env.faults, "after-resteer");
	cl_commit_forget(c, &rl->key);  /* the COMMIT to the source, if still retried */
	if (cl_send_ref(c, node, CB_MSG_COMMIT, &rl->key, rl->epoch, 0))
		c->nodes[node].recommitted++;
	cl_commit_track(c, node, &rl->key, rl->epoch, rl->snd_nxt, rl->rcv_nxt);
	/* unsent (its channel is down): the source's wait runs out and it
	 * drops its socket, which is what MOVED would have said */
	cl_send_ref(c, rl->source, CB_MSG_MOVED, &rl->key, rl->old_epoch, 0);
	cb_sample(&c->move_us, rl->start_ns, cb_now_ns());
	c->nodes[node].committed++;
	c->relayed++;
}

/* The move (this node directs it: *mv) or relay (*rl) an answer from the
 * target `node` is about; 0 when it is about neither. */
static int answered(struct cb_cluster *c, int node, const struct cb_msg_ref *r,
		    struct move **mv, struct relay **rl)
{
	struct cb_flow_key k;

	*mv = NULL;
	*rl = NULL;
	if (cl_key_from_msg(&r->flow, &k))
		return 0;
	*mv = move_find(c, &k);
	if (*mv && (*mv)->fd >= 0 && (*mv)->director == c->self && (*mv)->target == node &&
	    (*mv)->epoch == r->epoch)
		return 1;
	*mv = NULL;
	*rl = relay_find(c, &k);
	if (*rl && (*rl)->target == node && (*rl)->epoch == r->epoch)
		return 1;
	*rl = NULL;
	return 0;
}

int cl_move_prepared(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
{
	struct move *mv;
	struct relay *rl;

	if (!answered(c, node, r, &mv, &rl))
		return 0;
	if (mv)
		commit_own_move(c, node, mv);
	else
		commit_relay(c, node, rl);
	return 1;
}

int cl_move_refused(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
{
	struct move *mv;
	struct relay *rl;

	if (!answered(c, node, r, &mv, &rl))
		return 0;
	c->nodes[node].refused++;
	if (mv) {
		resume_here(c, mv, "refused by its target");
	} else {
		c->relays_refused++;
		cl_send_ref(c, rl->source, CB_MSG_RESUME, &rl->key, rl->old_epoch, r->reason);
		rl->used = 0;
	}
	return 1;
}

/* ---- the director of a move between two peers ------------------------------------ */

/* Where a MOVE from `src` goes: the node it asks for if that can take it,
 * else the service's placement among the others (never src; this node,
 * the director, only with an instance of the app here). */
static int relay_target(struct cb_cluster *c, int src, const struct cb_msg_ship *m,
			const struct cb_decision *d)
{
	const struct cb_config_file *cfg = cfg_of(c);
	struct cl_place_req q = { .d = d, .tried = 1ull << src };
	struct cb_flow_key k;
	int t;

	if (m->target) {
		t = cl_node_by_id(c, m->target);
		if (t == c->self)
			return cb_apps_instances(c->env.apps, d->app) && !c->draining ? t : -1;
		return t >= 0 && t != src && offers(cfg, t, d->service) && cl_node_takes(c, t) ? t
											     : -1;
	}
	cl_key_from_msg(&m->flow, &k);
	q.key = &k;
	t = cl_place(c, &q);
	if (t < 0)
		return cb_apps_instances(c->env.apps, d->app) && !c->draining ? c->self : -1;
	return t;
}

/*
 * A MOVE whose target is this node, the director: the socket is built here,
 * the flow's entry flips from REDIRECT (to the source, which drops its
 * segments) to LOCAL and its steering goes, the socket goes live and to an
 * app, and the source is told MOVED.
 */
static void move_here(struct cb_cluster *c, int src, const struct cb_msg_ship *m,
		      const struct cb_decision *d, const struct cb_flow_key *k)
{
	const struct cb_config_file *cfg = cfg_of(c);
	struct cb_sock_state st;
	struct cb_flow_msg fm;
	const char *step = NULL;
	char fs[CB_FLOW_STRLEN];
	int fd, err, conn;

	if (cb_image_decode(m->image, m->image_len, &st)) {
		cl_send_ref(c, src, CB_MSG_RESUME, k, m->epoch, CB_REFUSE_BAD_IMAGE);
		return;
	}
	if ((fd = cb_repair_build(&st, &step)) < 0) {
		cb_err("run: %s: moved here, TCP_REPAIR %s: %s", cb_fmt_flow(k, fs, sizeof(fs)), step,
		       strerror(-fd));
		cl_send_ref(c, src, CB_MSG_RESUME, k, m->epoch, CB_REFUSE_BUILD_FAILED);
		return;
	}
	/* from here on the source's socket must never go live again */
	err = cb_owner_move(c->env.flows, k, CB_FLOW_REDIRECT, CB_FLOW_LOCAL, NULL, NULL);
	if (err && err != -ENOENT) {
		close(fd);
		cl_send_ref(c, src, CB_MSG_RESUME, k, m->epoch, CB_REFUSE_TUPLE_BUSY);
		return;
	}
	cb_remote_remove(&c->steer, k, m->epoch);      /* an evicted entry: the socket decides */
	cl_commit_forget(c, k);         /* an older hand-off's COMMIT retries: settled */
	cl_send_ref(c, src, CB_MSG_MOVED, k, m->epoch, 0);
	fm = (struct cb_flow_msg){
		.saddr = k->saddr, .sport_be = k->sport_be, .service = m->service,
		.rule = m->rule[0] ? m->rule : "default", .app = cfg->apps[d->app].name,
		.bytes = (uint32_t)st.rcvq_len, .per_request = cfg->services[d->service].per_request,
		.blob = m->blob, .blob_len = m->blob_len,
	};
	if ((err = cb_repair_go_live(fd, &st, &step)) ||
	    (err = cb_apps_deliver(c->env.apps, d->app, &fm, fd, &conn))) {
		cb_err("run: %s: moved here, but %s: %s; the client is reset",
		       cb_fmt_flow(k, fs, sizeof(fs)), step ? step : "no app took it", strerror(-err));
		if (step && !strcmp(step, "repair off")) {
			/* still in repair mode, where closing sends nothing: the
			 * entry goes (the egress guard), then our RST */
			close(fd);
			cb_owner_move(c->env.flows, k, CB_FLOW_LOCAL, CB_OWNER_NONE, NULL, NULL);
			cb_reset_send(k, st.snd_una + (uint32_t)st.sndq_len,
				      st.rcv_seq + (uint32_t)st.rcvq_len);
		} else {
			cb_reset_socket(fd);    /* live: the kernel resets its client */
		}
		cl_count_reset(c, CB_RESET_ADOPT_FAILED, 1);
		c->moves_failed++;
		return;
	}
	close(fd);
	c->relayed++;
}

void cl_on_move(struct cb_cluster *c, int src, const struct cb_msg_ship *m)
{
	const struct cb_config_file *cfg = cfg_of(c);
	struct cb_decision d = { .rule = -1 };
	struct cb_sock_state st;
	struct cb_flow_key k;
	struct cb_remote rem;
	struct relay *rl = NULL;
	struct cb_msg out;
	uint32_t reason = CB_REFUSE_OTHER;
	int t, i;

	if (cl_key_from_msg(&m->flow, &k))
		return;
	/* only the node this director steers the flow to, at that move */
	if (cb_remote_lookup(&c->steer, &k, &rem) || rem.peer != c->nodes[src].id ||
	    rem.epoch != m->epoch || relay_find(c, &k)) {
		reason = CB_REFUSE_STALE_EPOCH;
		goto resume;
	}
	d.service = cb_config_service(cfg, m->service);
	d.app = cb_config_app(cfg, m->app);
	if (d.service < 0 || d.app < 0 || (t = relay_target(c, src, m, &d)) < 0) {
		reason = CB_REFUSE_NO_APP;
		goto resume;
	}
	if (cb_image_decode(m->image, m->image_len, &st)) {
		reason = CB_REFUSE_BAD_IMAGE;
		goto resume;
	}
	if (t == c->self) {
		move_here(c, src, m, &d, &k);
		return;
	}
	for (i = 0; i < CB_RELAYS_MAX && !rl; i++)
		if (!c->relays[i].used)
			rl = &c->relays[i];
	if (!rl) {
		reason = CB_REFUSE_FULL;
		goto resume;
	}
	*rl = (struct relay){ .used = 1, .key = k, .source = src, .target = t,
			      .old_epoch = m->epoch, .epoch = cl_next_epoch(c),
			      .snd_nxt = st.snd_una + (uint32_t)st.sndq_len,
			      .rcv_nxt = st.rcv_seq + (uint32_t)st.rcvq_len,
			      .until_ms = cb_now_ms64() + CB_SHIP_WAIT_MS, .start_ns = cb_now_ns() };
	out = (struct cb_msg){ .type = CB_MSG_SHIP, .ship = *m };
	out.ship.epoch = rl->epoch;
	out.ship.target = 0;
	if (cb_links_send(c->links, c->nodes[t].id, &out)) {
		rl->used = 0;
		goto resume;
	}
	c->nodes[t].sent[d.service]++;
	return;
resume:
	c->relays_refused++;
	cl_send_ref(c, src, CB_MSG_RESUME, &k, m->epoch, reason);
}

/* ---- the source hears from the director -------------------------------------------- */

static struct move *source_move(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
{
	struct cb_flow_key k;
	struct move *mv;

	if (cl_key_from_msg(&r->flow, &k) || !(mv = move_find(c, &k)) || mv->fd < 0 ||
	    mv->director != node || mv->director == c->self || mv->old_epoch != r->epoch)
		return NULL;
	return mv;
}

/* Moved on by the director: ours is closed silently; the entry drops what
 * is still in flight for a while, then goes. */
static void moved_away(struct cb_cluster *c, struct move *mv)
{
	close(mv->fd);          /* repair mode: sends nothing */
	mv->fd = -1;
	mv->linger_ms = cb_now_ms64() + CB_MOVE_LINGER_MS;
	cl_served_forget(c, &mv->key);
}

void cl_on_moved(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
{
	struct move *mv = source_move(c, node, r);

	if (!mv)
		return;
	cb_sample(&c->move_us, mv->start_ns, cb_now_ns());
	moved_away(c, mv);
	c->moved_out++;
}

void cl_on_resume(struct cb_cluster *c, int node, const struct cb_msg_ref *r)
{
	struct move *mv = source_move(c, node, r);
	char why[64];

	if (!mv)
		return;
	snprintf(why, sizeof(why), "refused by its director (reason %u)", r->reason);
	resume_here(c, mv, why);
}

/* A SHIP for a tuple this node moved away and still lingers on: the flow
 * comes back; the old entry goes.  0, or -ENOENT when there is none. */
int cl_move_reclaim(struct cb_cluster *c, const struct cb_flow_key *k)
{
	struct move *mv = move_find(c, k);

	if (!mv || mv->fd >= 0)
		return -ENOENT;
	mv->used = 0;
	return cb_owner_move(c->env.flows, k, CB_FLOW_MOVING, CB_OWNER_NONE, NULL, NULL);
}

void cl_move_tick(struct cb_cluster *c, uint64_t now)
{
	int i;

	for (i = 0; i < CB_MOVES_MAX; i++) {
		struct move *mv = &c->moves[i];

		if (!mv->used)
			continue;
		if (mv->fd < 0) {               /* moved away: the entry's time is up */
			if (now >= mv->linger_ms) {
				cb_owner_move(c->env.flows, &mv->key, CB_FLOW_MOVING, CB_OWNER_NONE,
					      NULL, NULL);
				mv->used = 0;
			}
		} else if (now >= mv->until_ms && mv->director == c->self) {
			/* our SHIP unanswered: abort it, the socket resumes here */
			cl_send_ref(c, mv->target, CB_MSG_ABORT, &mv->key, mv->epoch, 0);
			cl_node_timed_out(c, mv->target, now);
			resume_here(c, mv, "unanswered by its target");
		} else if (now >= mv->until_ms) {
			/* the director said nothing: it may have committed the
			 * flow elsewhere; a live socket here could be a second
			 * owner.  Dropped (if it was not moved, its client's
			 * next segment is reset here) */
			cb_info("run: live move: no answer from node %s within %d ms; the socket "
				"is dropped", cfg_of(c)->nodes[mv->director].name, CB_MOVE_WAIT_MS);
			c->moves_dropped++;
			/* if the director still steers it here (it committed it
			 * nowhere else), it resets the client, who may be waiting
			 * in silence; if it moved it, this names a stale move and
			 * is ignored.  Unsent (channel down): the director's
			 * down grace resets its clients, or its minute check */
			cl_send_ref(c, mv->director, CB_MSG_CLOSED, &mv->key, mv->old_epoch,
				    CB_CLOSED_FAILED);
			moved_away(c, mv);
		}
	}
	for (i = 0; i < CB_RELAYS_MAX; i++) {
		struct relay *rl = &c->relays[i];

		if (!rl->used || now < rl->until_ms)
			continue;
		cl_send_ref(c, rl->target, CB_MSG_ABORT, &rl->key, rl->epoch, 0);
		cl_send_ref(c, rl->source, CB_MSG_RESUME, &rl->key, rl->old_epoch, 0);
		cl_node_timed_out(c, rl->target, now);
		c->relays_refused++;
		rl->used = 0;
	}
}
