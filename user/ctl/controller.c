// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The controller's wiring: what happens to a flow from its first ring record
 * to its hand-off, and the loop's fds (ring, timer, signals).  The parts are
 * modules of their own (see controller.h); this file decides when each runs.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/file.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ctl/cluster.h"
#include "ctl/command.h"
#include "ctl/ctl.h"
#include "ctl/metrics_http.h"
#include "ctl/owner.h"
#include "ctl/reset.h"
#include "ctl/status.h"
#include "ctl/route.h"
#include "datapath/attach.h"
#include "datapath/beat.h"
#include "datapath/pins.h"
#include "datapath/stash.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/parse_util.h"

#define CB_TICK_MS 50
#define CB_CHECK_MS 1000                /* how often the attachment is checked */

/* ---- fail closed ------------------------------------------------------------ */

/*
 * Reset a flow that has no socket: its entry goes first (the egress guard
 * drops RSTs of held flows, ours too), then the RST leaves through a raw
 * socket.  A LOCAL flow is never touched: its socket is an app's.  Returns
 * 1 when a RST was sent, 0 when none is ours to send, -ENOENT when the
 * flow has no entry.
 */
static int reset_held(struct ctl *c, const struct cb_flow_key *k)
{
	struct cb_flow f;
	char fs[CB_FLOW_STRLEN];
	int err;

	if (cb_flows_lookup(&c->flows, k, &f))
		return -ENOENT;
	err = cb_owner_move(&c->flows, k, f.state, CB_OWNER_NONE, NULL, NULL);
	if (err) {
		if (err == -EPERM)
			cb_info("run: %s: %s; not reset", cb_fmt_flow(k, fs, sizeof(fs)),
				f.state == CB_FLOW_LOCAL ? "its socket belongs to an app already"
							 : "not in a state the controller may end");
		return 0;
	}
	err = cb_reset_send(k, f.snd_nxt, f.rcv_nxt);
	if (err)
		cb_err("run: %s: send RST: %s", cb_fmt_flow(k, fs, sizeof(fs)), strerror(-err));
	return !err;
}

/*
 * The flow's entry is gone (evicted from the LRU table while it waited) but
 * its client, whose request was acknowledged, waits in silence: the program
 * would reset its next segment, which may never come.  Reset it now with
 * the numbers its records brought (pending.c keeps them in the stash).
 */
static void reset_vanished(const struct pending *p)
{
	uint32_t seq, ack;
	char fs[CB_FLOW_STRLEN];

	if (cb_pending_rst_seqs(p, &seq, &ack))
		return;
	cb_info("run: %s: its flow entry vanished (evicted?); resetting the client",
		cb_fmt_flow(&p->key, fs, sizeof(fs)));
	cb_reset_send(&p->key, seq, ack);
}

#define CB_RESET_NAME(name, label, help) case CB_RESET_##name: return label;
const char *cb_reset_reason_name(enum cb_reset_reason r)
{
	switch (r) {
	CB_RESET_REASONS(CB_RESET_NAME)
	default: return "?";
	}
}
#undef CB_RESET_NAME

/*
 * The decision log: one line per flow decided (decision_log = all) or per
 * flow reset or answered 503 (resets, the default): client, service, rule,
 * app or node, outcome and the time since its first byte reached us.  At
 * most CB_DECISION_LOG_RATE lines a second; those over are counted and
 * summed up in the next second's first line.  Resets at notice priority.
 */
static void decision_log(struct ctl *c, const struct pending *p, const char *outcome,
			 int reason)
{
	const struct cb_config_file *cfg = c->cfg;
	const struct cb_decision *d = &p->d;
	char client[CB_ADDR_PORT_STRLEN];
	uint64_t now = cb_now_ms64();
	int bad = reason >= 0 || !strcmp(outcome, "503");

	if (cfg->decision_log == CB_DLOG_OFF || (!bad && cfg->decision_log != CB_DLOG_ALL))
		return;
	if (c->log_rate.second != now / 1000) {
		if (c->log_rate.used > CB_DECISION_LOG_RATE)
			cb_info("decision log: %u lines not written in the last second (over %d/s)",
				c->log_rate.used - CB_DECISION_LOG_RATE, CB_DECISION_LOG_RATE);
		c->log_rate.second = now / 1000;
		c->log_rate.used = 0;
	}
	if (c->log_rate.used++ >= CB_DECISION_LOG_RATE) {
		c->st.log_suppressed++;
		return;
	}
	cb_fmt_addr(&p->key.saddr, p->key.sport_be, client, sizeof(client));
	(bad ? cb_notice : cb_info)(
		"decision client=%s service=%s rule=%s app=%s outcome=%s%s%s latency_ms=%llu", client,
		d->service >= 0 && d->service < cfg->n_services ? cfg->services[d->service].name : "-",
		d->service < 0 ? "-" : d->rule >= 0 && d->rule < cfg->n_rules ? cfg->rules[d->rule].name
									 : "default",
		d->app >= 0 && d->app < cfg->n_apps ? cfg->apps[d->app].name : "-", outcome,
		reason >= 0 ? " reason=" : "",
		reason >= 0 ? cb_reset_reason_name((enum cb_reset_reason)reason) : "",
		(unsigned long long)(p->first_ms && now > p->first_ms ? now - p->first_ms : 0));
}

/* A flow that cannot be delivered gets an RST, never a hang. */
static void reset_flow(struct ctl *c, struct pending *p, int fd, enum cb_reset_reason why)
{
	if (p->state == P_FREE || p->closed) {  /* the client itself closed meanwhile */
		if (fd >= 0)
			close(fd);
		return;
	}
	/* a socket is reset by the kernel; without one, do not build one
	 * just to reset it (a failed build would only fail again) */
	if (fd < 0)
		fd = cb_pending_take_held(p);
	if (fd >= 0)
		cb_reset_socket(fd);
	else if (reset_held(c, &p->key) == -ENOENT)
		reset_vanished(p);
	c->st.failed++;
	c->st.resets[why]++;
	decision_log(c, p, "rst", (int)why);
}

/* No pending slot for k: reset it, counted once per flow. */
static void refuse_flow(struct ctl *c, const struct cb_flow_key *k, int why)
{
	char fs[CB_FLOW_STRLEN];

	if (reset_held(c, k) != 1)
		return;
	if (why == -EDQUOT)
		c->st.source_full++;
	else
		c->st.table_full++;
	c->st.resets[why == -EDQUOT ? CB_RESET_SOURCE_FULL : CB_RESET_TABLE_FULL]++;
	/* no pending entry to tell more: client and reason, rate-limited as
	 * the decision log (a flood of these is what fills the table) */
	if (c->cfg->decision_log != CB_DLOG_OFF && c->log_rate.used++ < CB_DECISION_LOG_RATE)
		cb_notice("decision flow=%s outcome=rst reason=%s", cb_fmt_flow(k, fs, sizeof(fs)),
			  why == -EDQUOT ? "source_full" : "table_full");
}

/* ---- workers: the lock ---------------------------------------------------------- */

/* With several workers, what they share is under c->lock; with one, there
 * is nobody to share with and these are no-ops. */
static void ctl_lock(struct ctl *c)
{
	if (c->threaded)
		pthread_mutex_lock(&c->lock);
}

static void ctl_unlock(struct ctl *c)
{
	if (c->threaded)
		pthread_mutex_unlock(&c->lock);
}

/*
 * A worker's callback starts here (the lock taken): while the main loop
 * has the workers stopped (stop_workers(), for a reload), it waits.  At
 * this point it holds no flow half-way (none busy, no build running), so
 * what the main loop changes meanwhile cannot surprise it.
 */
static void worker_enter(struct cb_worker *w)
{
	struct ctl *c = w->c;

	ctl_lock(c);
	while (c->threaded && c->pausing) {
		c->parked++;
		pthread_cond_signal(&c->parked_cv);
		pthread_cond_wait(&c->resume_cv, &c->lock);
		c->parked--;
	}
}

static void worker_leave(struct cb_worker *w)
{
	ctl_unlock(w->c);
}

/*
 * The main loop (holding the lock) waits until every worker is parked at
 * the start of a callback; start_workers() lets them go on.  wake_fd makes
 * a worker asleep in epoll_wait() come to park.
 */
static void stop_workers(struct ctl *c)
{
	uint64_t one = 1;

	if (!c->threaded)
		return;
	c->pausing = 1;
	if (write(c->wake_fd, &one, sizeof(one)) < 0)
		cb_err("run: wake the workers: %s", strerror(errno));
	while (c->parked < c->n_workers)
		pthread_cond_wait(&c->parked_cv, &c->lock);
}

static void start_workers(struct ctl *c)
{
	uint64_t n;

	if (!c->threaded)
		return;
	if (read(c->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		cb_err("run: reset the workers' wake-up: %s", strerror(errno));
	c->pausing = 0;
	pthread_cond_broadcast(&c->resume_cv);
}

/*
 * The sockets of ps[] (busy: their owner is this worker alone), built
 * without the lock: the workers' syscalls run side by side.  The drain
 * inside takes the lock for the ring's records.
 */
static void build_unlocked(struct cb_worker *w, struct pending *const *ps, const uint8_t *flags,
			   int n, int *fds)
{
	ctl_unlock(w->c);
	cb_handoff_local_many(&w->handoff, ps, flags, n, fds);
	ctl_lock(w->c);
}

/* ---- hand-off ----------------------------------------------------------------- */

/* A hand-off's drain (handoff.h): the worker's ring, now.  Threaded, it
 * runs while the worker builds sockets, without the lock: it takes it. */
static void drain(void *arg)
{
	struct cb_worker *w = arg;

	ctl_lock(w->c);
	ring_buffer__consume(w->rb);
	ctl_unlock(w->c);
}

/*
 * What a hand-off that gave no socket leaves to do for p (its client closed
 * it, it was handed over before a restart, or it is reset here); the caller
 * frees p.
 */
static void no_socket(struct cb_worker *w, struct pending *p, int err)
{
	struct ctl *c = w->c;
	char fs[CB_FLOW_STRLEN];

	switch (err) {
	case -ENOENT:
		if (!p->closed)         /* vanished, not closed: the client waits */
			reset_flow(c, p, -1, CB_RESET_VANISHED);
		break;
	case -ECONNRESET:
		/* the client closed it; a tuple FROZEN now is a newer connection
		 * on it that the freeze caught: it cannot be handed off, reset */
		if (cb_owner_state(&c->flows, &p->key) == CB_FLOW_FROZEN && reset_held(c, &p->key) == 1) {
			c->st.failed++;
			c->st.resets[CB_RESET_TUPLE_REUSED]++;
			decision_log(c, p, "rst", CB_RESET_TUPLE_REUSED);
		}
		break;
	case -EALREADY:
		/* a record that arrived after its flow went LOCAL */
		cb_debug("run: %s: already handed over", cb_fmt_flow(&p->key, fs, sizeof(fs)));
		break;
	case -ECONNABORTED:
		c->st.failed++;         /* reset by the hand-off itself */
		c->st.resets[CB_RESET_BUILD_FAILED]++;
		decision_log(c, p, "rst", CB_RESET_BUILD_FAILED);
		break;
	default:
		reset_flow(c, p, -1, CB_RESET_BUILD_FAILED);
	}
}

/*
 * The sockets of ps[0..n-1] into fds[] (< 0: p is finished without one,
 * no_socket() done; the caller frees p): one held since an earlier try,
 * the others built.  While this runs, a CLOSE record for one of them marks
 * it instead of freeing it (p->busy).
 */
static void take_sockets(struct cb_worker *w, struct pending **ps, int n, int *fds)
{
	struct ctl *c = w->c;
	struct pending *build[CB_FLOW_BATCH];
	uint8_t flags[CB_FLOW_BATCH] = { 0 };
	int at[CB_FLOW_BATCH], built[CB_FLOW_BATCH], i, k, m = 0;

	for (i = 0; i < n && i < CB_FLOW_BATCH; i++) {
		ps[i]->busy = 1;        /* held ones too: the lock is dropped below */
		if ((fds[i] = cb_pending_take_held(ps[i])) >= 0)
			continue;
		flags[m] = cb_handoff_sock_flags(&c->cfg->services[ps[i]->d.service]);
		build[m] = ps[i];
		at[m++] = i;
	}
	if (m) {
		c->st.batches++;
		c->st.batched += (unsigned long)m;
		build_unlocked(w, build, flags, m, built);
	}
	for (i = 0; i < n && i < CB_FLOW_BATCH; i++)
		ps[i]->busy = 0;
	for (k = 0; k < m; k++) {
		i = at[k];
		if ((fds[i] = built[k]) < 0)
			no_socket(w, ps[i], fds[i]);
	}
}

static int take_socket(struct cb_worker *w, struct pending *p)
{
	int fd;

	take_sockets(w, &p, 1, &fd);
	return fd;
}

static void observe(struct ctl *c, const struct pending *p)
{
	if (p->first_xdp_ns)    /* unknown for flows recovered after a restart */
		cb_ctl_observe(&c->st, (double)(cb_now_ns() - p->first_xdp_ns) / 1e9);
}

/* A socket reached an app here: observe() and the status's percentiles,
 * whole and split where the controller read the first byte's record (the
 * ring's wake-up against the controller's own work). */
static void observe_local(struct ctl *c, const struct pending *p)
{
	uint64_t now = cb_now_ns();

	observe(c, p);
	if (!p->first_xdp_ns)
		return;
	cb_sample(&c->local_us, p->first_xdp_ns, now);
	cb_sample(&c->ring_us, p->first_xdp_ns, p->first_read_ns);
	cb_sample(&c->work_us, p->first_read_ns, now);
}

enum hold_res { HOLD_NO, HOLD_KEPT, HOLD_ANSWER };
static enum hold_res hold_socket(struct cb_worker *w, struct pending *p, int fd, int err,
				 enum cb_reset_reason *why);
static void answer_timeout(struct cb_worker *w, struct pending *p, enum cb_reset_reason why);
static unsigned int waiting_for(const struct ctl *c, int svc);

/* inetd style: one process per connection, the socket as its stdin/stdout. */
static int deliver_inetd(struct cb_worker *w, struct pending *p)
{
	struct ctl *c = w->c;
	char client[CB_ADDR_PORT_STRLEN];
	int fd;

	if (c->sup.children >= CB_MAX_CHILDREN)
		return 0;               /* waits, bounded by wait_ms and the queue */
	fd = take_socket(w, p);
	if (fd >= 0) {
		int err;

		cb_fmt_addr(&p->key.saddr, p->key.sport_be, client, sizeof(client));
		err = cb_sup_inetd(&c->sup, &c->cfg->apps[p->d.app], fd, client);
		/* other workers may have taken the last child slots while this
		 * one built the socket (without the lock): wait as before it */
		if (err == -EAGAIN) {
			enum cb_reset_reason why;

			switch (hold_socket(w, p, fd, err, &why)) {
			case HOLD_KEPT:
				return 1;
			case HOLD_ANSWER:
				answer_timeout(w, p, why);      /* frees p */
				return 1;
			case HOLD_NO:
				break;
			}
		}
		if (err < 0) {
			reset_flow(c, p, fd, CB_RESET_SPAWN_FAILED);
		} else {
			close(fd);
			c->st.materialized++;
			w->flows++;
			observe_local(c, p);
			decision_log(c, p, "app", -1);
		}
	}
	cb_pending_free(&w->pend, p);
	return 1;
}

/*
 * No instance took p's live socket: every one busy (-EAGAIN), none
 * registered, or the last ones died on the way.  While its service's
 * wait_ms lasts, p keeps the socket and waits as before its build: the tick
 * offers it again (deliver()), the wait's end answers it (answer_timeout()).
 * 1 if held.
 */
static enum hold_res hold_socket(struct cb_worker *w, struct pending *p, int fd, int err,
				 enum cb_reset_reason *why)
{
	struct ctl *c = w->c;
	const struct cb_service_cfg *s = &c->cfg->services[p->d.service];

	if (!cb_apps_no_taker(err) || p->closed)
		return HOLD_NO;
	cb_pending_hold(p, fd);         /* the flow's socket, whatever comes next */
	/* a waiting flow like any other: within its service's bounds, then
	 * answered per on_timeout (answer_timeout() takes the held socket) */
	if (waiting_for(c, p->d.service) > s->queue) {
		c->st.queue_full++;
		*why = CB_RESET_QUEUE_FULL;
		return HOLD_ANSWER;
	}
	if (cb_now_ms64() - p->wait_since_ms >= s->wait_ms) {
		*why = CB_RESET_HANDOFF_FAILED;
		return HOLD_ANSWER;
	}
	if (!p->was_held++)
		c->st.held++;
	return HOLD_KEPT;
}

/* p's socket (fd, or < 0: finished without one) to an instance of its app;
 * p is freed, or keeps the socket to wait for one (hold_socket()). */
static void hand_to_app(struct cb_worker *w, struct pending *p, int fd)
{
	struct ctl *c = w->c;
	const struct cb_config_file *cfg = c->cfg;
	struct cb_flow_msg m;
	char fs[CB_FLOW_STRLEN];
	int conn, err;

	if (fd < 0) {
		cb_pending_free(&w->pend, p);
		return;
	}
	m = (struct cb_flow_msg){
		.saddr = p->key.saddr, .sport_be = p->key.sport_be,
		.service = cfg->services[p->d.service].name,
		.rule = p->d.rule >= 0 ? cfg->rules[p->d.rule].name : "default",
		.app = cfg->apps[p->d.app].name, .bytes = p->slot->len,
		.per_request = cfg->services[p->d.service].per_request,
	};
	err = cb_apps_deliver(&c->apps, p->d.app, &m, fd, &conn);
	if (!err) {
		/* the app owns the socket from here on, even if we die now */
		cb_fault(&c->faults, "after-send");
		close(fd);
		c->st.materialized++;
		w->flows++;
		observe_local(c, p);
		cb_debug("run: %s -> app %s", cb_fmt_flow(&p->key, fs, sizeof(fs)),
			 cfg->apps[p->d.app].name);
		decision_log(c, p, "app", -1);
	} else {
		enum cb_reset_reason why;

		switch (hold_socket(w, p, fd, err, &why)) {
		case HOLD_KEPT:
			cb_debug("run: %s: no instance of app %s took it (%s); held, waiting",
				 cb_fmt_flow(&p->key, fs, sizeof(fs)), cfg->apps[p->d.app].name,
				 err == -EAGAIN ? "every instance is busy" : strerror(-err));
			return;
		case HOLD_ANSWER:       /* past its wait or its queue: RST or 503 */
			answer_timeout(w, p, why);      /* frees p */
			return;
		case HOLD_NO:
			cb_err("run: %s: hand-off to app %s failed: %s",
			       cb_fmt_flow(&p->key, fs, sizeof(fs)), cfg->apps[p->d.app].name,
			       strerror(-err));
			reset_flow(c, p, fd, CB_RESET_HANDOFF_FAILED);
		}
	}
	cb_pending_free(&w->pend, p);
}

/* The flows deliver() queued: their hand-offs in one batch, then each to its app. */
static void flush_ready(struct cb_worker *w)
{
	struct pending *ps[CB_FLOW_BATCH];
	int fds[CB_FLOW_BATCH], i, n = w->n_ready, m = 0;

	w->n_ready = 0;
	for (i = 0; i < n; i++) {
		struct pending *p = w->ready[i];

		p->busy = 0;
		if (p->closed)          /* ended while queued: nothing to hand off */
			cb_pending_free(&w->pend, p);
		else if (p->state == P_WAITING)     /* always, while busy kept it */
			ps[m++] = p;
	}
	if (!m)
		return;
	take_sockets(w, ps, m, fds);
	for (i = 0; i < m; i++)
		hand_to_app(w, ps[i], fds[i]);
}

/* Flows of service svc queued for the next flush_ready(). */
static unsigned int queued_for(const struct cb_worker *w, int svc)
{
	unsigned int n = 0;
	int i;

	for (i = 0; i < w->n_ready; i++)
		n += w->ready[i]->d.service == svc;
	return n;
}

/* Flows of service svc waiting in every worker (the queue bound is the
 * service's, not a worker's); those queued for a hand-off are not waiting. */
static unsigned int waiting_for(const struct ctl *c, int svc)
{
	unsigned int n = 0;
	int i;

	for (i = 0; i < c->n_workers; i++)
		n += cb_pending_count(&c->w[i].pend, P_WAITING, svc) - queued_for(&c->w[i], svc);
	return n;
}

/*
 * Hand p to an instance of its app; 1 when done (p freed, or queued for
 * the batch flush_ready() hands off: busy until then), 0 to wait.
 */
static int deliver(struct cb_worker *w, struct pending *p)
{
	struct ctl *c = w->c;
	const struct cb_config_file *cfg = c->cfg;

	if (p->d.app < 0)
		return 0;               /* no app: on_timeout answers it */
	if (cfg->apps[p->d.app].inetd)
		return deliver_inetd(w, p);
	if (!cb_apps_instances(&c->apps, p->d.app)) {
		cb_sup_want_worker(&c->sup, cfg, p->d.app, cb_now_ms64());
		return 0;
	}
	if (w->batching) {
		/* busy before any drain: a record for p must not free it */
		p->busy = 1;
		w->ready[w->n_ready++] = p;
		if (w->n_ready == CB_FLOW_BATCH)
			flush_ready(w);
		return 1;
	}
	hand_to_app(w, p, take_socket(w, p));
	return 1;
}

/*
 * In a cluster, another node may be the place for p (ctl/place.c): ship it
 * there.  1 when p left this node's hands (shipping, or the client closed
 * it meanwhile), 0 to serve it here.
 */
static int place_elsewhere(struct cb_worker *w, struct pending *p)
{
	struct ctl *c = w->c;
	int node, err;

	if (!c->cluster || p->held_fd1 || (node = cb_cluster_place(c->cluster, p)) < 0)
		return 0;               /* a socket held here is served here */
	p->busy = 1;
	err = cb_cluster_ship(c->cluster, p, node);
	p->busy = 0;
	switch (err) {
	case 0:
		return 1;
	case -ECONNRESET:
		/* the client closed it; a tuple SHIPPING now is a newer
		 * connection on it that the move caught: it cannot go, reset */
		if (cb_owner_state(&c->flows, &p->key) == CB_FLOW_SHIPPING &&
		    reset_held(c, &p->key) == 1) {
			c->st.failed++;
			c->st.resets[CB_RESET_TUPLE_REUSED]++;
			decision_log(c, p, "rst", CB_RESET_TUPLE_REUSED);
		}
		cb_pending_free(&w->pend, p);
		return 1;
	case -ENOENT:
		reset_flow(c, p, -1, CB_RESET_VANISHED);   /* vanished (evicted?): its client waits */
		cb_pending_free(&w->pend, p);
		return 1;
	default:
		return 0;       /* not shipped: served here after all */
	}
}

/* A shipped flow settled (ctl/cluster_ship.c): gone to its node, or back
 * here.  A cluster runs with one worker (arg). */
static void shipped(void *arg, struct pending *p, int outcome)
{
	struct cb_worker *w = arg;
	struct ctl *c = w->c;

	if (outcome == CB_SHIP_COMMITTED) {
		char node[CB_CFG_NAME + 8];

		c->st.shipped++;
		observe(c, p);
		snprintf(node, sizeof(node), "node:%s",
			 p->ship_node >= 0 && p->ship_node < c->cfg->n_nodes
				 ? c->cfg->nodes[p->ship_node].name : "?");
		decision_log(c, p, node, -1);
		cb_pending_free(&w->pend, p);
		return;
	}
	if (outcome == CB_SHIP_FAILED) {
		c->st.failed++;
		cb_pending_free(&w->pend, p);
		return;
	}
	/* refused or unanswered: another node, or here; classified anew
	 * first if a reload removed its service or app (P_ASSEMBLING) */
	if (p->state == P_WAITING && !place_elsewhere(w, p))
		deliver(w, p);
}

/* A live connection's move to another node failed: it is served here. */
static void resumed(void *arg, int fd, int app, const uint8_t *blob, size_t len)
{
	struct cb_worker *w = arg;

	cb_released_resume(&w->c->rel, fd, app, blob, len);
}

/* No app within wait_ms (or the queue is full): RST or HTTP 503. */
static void answer_timeout(struct cb_worker *w, struct pending *p, enum cb_reset_reason why)
{
	struct ctl *c = w->c;
	const struct cb_service_cfg *s = &c->cfg->services[p->d.service];
	char fs[CB_FLOW_STRLEN];
	int fd;

	c->st.timeouts++;
	c->st.svc_timeouts[p->d.service]++;
	cb_info("run: %s: no app for service %s within %u ms: %s",
		cb_fmt_flow(&p->key, fs, sizeof(fs)), s->name, s->wait_ms,
		s->on_timeout == CB_TIMEOUT_HTTP503 ? "503" : "reset");
	if (s->on_timeout == CB_TIMEOUT_HTTP503) {
		fd = take_socket(w, p);
		if (fd >= 0) {
			cb_answer_503(fd);
			c->st.answered_503++;
			decision_log(c, p, "503", -1);
		}
	} else {
		reset_flow(c, p, -1, why);
	}
	cb_pending_free(&w->pend, p);
}

/* Classify and route p once its request is complete (or `forced`). */
static void decide(struct cb_worker *w, struct pending *p, int forced)
{
	struct ctl *c = w->c;
	const struct cb_config_file *cfg = c->cfg;
	int err;

	if (p->state != P_ASSEMBLING)
		return;
	err = cb_route_decide(cfg, &p->key, p->slot->data, p->slot->len, forced, &p->d);
	if (err == -EAGAIN)
		return;
	if (err) {              /* no service listens there any more */
		reset_flow(c, p, -1, CB_RESET_NO_SERVICE);
		cb_pending_free(&w->pend, p);
		return;
	}
	if (p->d.rule >= 0)
		c->st.rule_hits[p->d.rule]++;
	else
		c->st.default_hits[p->d.service]++;
	p->state = P_WAITING;
	p->wait_since_ms = cb_now_ms64();
	if (place_elsewhere(w, p) || deliver(w, p))
		return;
	/* no app instance free: wait, within the service's queue bound */
	if (waiting_for(c, p->d.service) > cfg->services[p->d.service].queue) {
		c->st.queue_full++;
		answer_timeout(w, p, CB_RESET_QUEUE_FULL);
	}
}

/* ---- the ring buffer ------------------------------------------------------------- */

static void on_data(struct cb_worker *w, const struct cb_event *ev)
{
	struct ctl *c = w->c;
	struct pending *p = cb_pending_find(&w->pend, &ev->key);
	int err;

	if (!p && (err = cb_pending_create(&w->pend, &ev->key, cb_now_ms64(), &p))) {
		/* its bytes were acknowledged and cannot be kept: fail closed */
		refuse_flow(c, &ev->key, err);
		return;
	}
	if (!p->first_xdp_ns) {
		p->first_xdp_ns = ev->ts_ns;
		p->first_read_ns = cb_now_ns();
	}
	cb_pending_note(p, ev->seq, ev->snd_nxt);
	cb_pending_mark(&w->pend, p);
	if ((err = cb_pending_append(p, ev->seq, (const uint8_t *)(ev + 1), ev->len)))
		cb_err("run: flow bytes out of sequence (seq %u): %s", ev->seq, strerror(-err));
}

static int on_event(void *vctx, void *data, size_t size)
{
	struct cb_worker *w = vctx;
	struct ctl *c = w->c;
	const struct cb_event *ev = data;
	struct pending *p;
	int err;

	if (size < sizeof(*ev) || sizeof(*ev) + ev->len > size)
		return 0;
	switch (ev->type) {
	case CB_EV_DATA:
		on_data(w, ev);
		break;
	case CB_EV_OPEN:
		/* a new connection on a tuple whose CLOSE was lost starts
		 * afresh; a client that waits for the server to speak first
		 * still gets its default app after decide_ms */
		p = cb_pending_find(&w->pend, &ev->key);
		if (p && !p->busy)
			cb_pending_free(&w->pend, p);
		if (cb_pending_find(&w->pend, &ev->key))
			break;
		if ((err = cb_pending_create(&w->pend, &ev->key, cb_now_ms64(), &p)))
			refuse_flow(c, &ev->key, err);
		else
			cb_pending_note(p, ev->seq, ev->snd_nxt);
		break;
	case CB_EV_CLOSE:
		p = cb_pending_find(&w->pend, &ev->key);
		if (p && p->busy)
			p->closed = 1;          /* freed by whoever is handing it off */
		else if (p)
			cb_pending_free(&w->pend, p);
		break;
	default:
		break;
	}
	return 0;
}

/*
 * Decide every flow with new bytes (the marked ones: no scan of the table).
 * A hand-off drains the ring itself, so deciding one flow can mark others:
 * they are taken in the same loop (bounded: each mark needs a new record).
 */
static void decide_dirty(struct cb_worker *w)
{
	struct pending *p;
	int budget = 8 * CB_PENDING_MAX, queued;

	do {
		w->batching = 1;
		while (budget > 0 && (p = cb_pending_take_dirty(&w->pend))) {
			budget--;
			if (p->state == P_ASSEMBLING)
				decide(w, p, 0);
		}
		w->batching = 0;
		queued = w->n_ready;
		flush_ready(w);         /* its drain may mark more flows */
	} while (queued && budget > 0);
}

static void on_ring(void *arg)
{
	struct cb_worker *w = arg;

	worker_enter(w);
	ring_buffer__consume(w->rb);
	decide_dirty(w);        /* after a batch of records: decide what can be */
	worker_leave(w);
}

/*
 * After a restart, the stash's flows are ours again, except those a dead
 * controller had handed over already (LOCAL: an app serves them; the kernel
 * resets the client if the socket died with that controller) or that ended
 * meanwhile.
 */
/* A stash slot's flow is this worker's (always, with one).  One that is
 * another's (the slot in the wrong share: not written by these programs'
 * shard) is let go: its client is reset, not left with bytes acknowledged
 * and nobody to answer them. */
static int is_mine(const struct cb_flow_key *k, void *arg)
{
	const struct cb_worker *w = arg;

	if (w->c->n_workers <= 1 || (int)cb_flow_shard(k, (uint32_t)w->c->n_workers) == w->id)
		return 1;
	reset_held(w->c, k);
	return 0;
}

static void recover(struct cb_worker *w)
{
	struct ctl *c = w->c;
	int i, n = cb_pending_recover(&w->pend, cb_now_ms64(), is_mine, w), kept = 0, local = 0;

	for (i = 0; n && i < CB_PENDING_MAX; i++) {
		struct pending *p = &w->pend.p[i];
		int st;

		if (p->state == P_FREE)
			continue;
		st = cb_owner_state(&c->flows, &p->key);
		/* being shipped when the last controller died: held here again
		 * (the peer's inert socket expires without its COMMIT) */
		if (st == CB_FLOW_SHIPPING &&
		    !cb_owner_move(&c->flows, &p->key, CB_FLOW_SHIPPING, CB_FLOW_UNBOUND, NULL, NULL))
			st = CB_FLOW_UNBOUND;
		if (st == CB_FLOW_UNBOUND || st == CB_FLOW_FROZEN) {
			kept++;
			continue;
		}
		/* handed over: an app's, unless its socket died with the last
		 * controller before the app got it (then the client is reset) */
		if (st == CB_FLOW_LOCAL && cb_handoff_check_survivor(&w->handoff, p) == 1)
			local++;
		cb_pending_free(&w->pend, p);
	}
	c->st.recovered_local += (unsigned long)local;
	if (kept)
		cb_info("run: %s: worker %d recovered %d flows from the stash", c->opts.ifname, w->id,
			kept);
	if (local)
		cb_info("run: %s: %d flows were handed over before the restart; left to their apps",
			c->opts.ifname, local);
}

/* ---- configuration ------------------------------------------------------------ */

/* Warn where the config and the attachment disagree about services. */
static void check_services(const struct ctl *c)
{
	struct cb_service_key att[CB_MAX_SERVICES];
	const struct cb_config_file *cfg = c->cfg;
	int n = cb_services_read(c->opts.ifname, att, CB_MAX_SERVICES), i, j;
	char a[CB_ADDR_PORT_STRLEN];

	if (n < 0)
		return;
	for (i = 0; i < cfg->n_services; i++) {
		const struct cb_service_cfg *s = &cfg->services[i];
		int l;

		for (l = 0; l < s->n_listen; l++) {
			for (j = 0; j < n && memcmp(&att[j], &s->listen[l], sizeof(att[j])); j++)
				;
			if (j == n)
				cb_info("run: service %s listens on %s, which %s does not answer: "
					"connbroker attach %s --service %s", s->name,
					cb_fmt_service(&s->listen[l], a, sizeof(a)), c->opts.ifname,
					c->opts.ifname, a);
		}
	}
	for (j = 0; j < n; j++)
		if (cb_service_find(cfg, &att[j]) < 0)
			cb_info("run: %s answers %s but no [service] of %s listens there: its flows "
				"are reset", c->opts.ifname, cb_fmt_service(&att[j], a, sizeof(a)),
				c->opts.cfg_path);
}

static void say_change(void *arg, const char *line)
{
	cb_info("reload: %s: %s", (const char *)arg, line);
}

/* Index maps old -> new by name (-1: gone). */
static void name_map(int *map, int n_old, const struct cb_config_file *old,
		     const struct cb_config_file *new, int (*find)(const struct cb_config_file *,
								    const char *),
		     const char *(*name)(const struct cb_config_file *, int))
{
	int i;

	for (i = 0; i < n_old; i++)
		map[i] = find(new, name(old, i));
}

static const char *app_name(const struct cb_config_file *c, int i) { return c->apps[i].name; }
static const char *svc_name(const struct cb_config_file *c, int i) { return c->services[i].name; }
static const char *rule_name(const struct cb_config_file *c, int i) { return c->rules[i].name; }

/* Counters follow their service or rule by name; those of removed ones go. */
static void remap_counts(unsigned long *v, const int *map, int n_old, size_t cap)
{
	unsigned long tmp[CB_CFG_MAX_RULES] = { 0 };
	int i;

	for (i = 0; i < n_old; i++)
		if (map[i] >= 0)
			tmp[map[i]] = v[i];
	memcpy(v, tmp, cap * sizeof(*v));
}

/* A decided flow keeps its decision while its service and app still exist;
 * otherwise it is classified afresh under the new configuration. */
static void remap_pending(struct cb_worker *w, const int *svc, const int *rule, const int *app)
{
	int i;

	for (i = 0; i < CB_PENDING_MAX; i++) {
		struct pending *p = &w->pend.p[i];

		if (p->state != P_WAITING && p->state != P_SHIPPING)
			continue;
		p->d.service = p->d.service >= 0 ? svc[p->d.service] : -1;
		p->d.rule = p->d.rule >= 0 ? rule[p->d.rule] : -1;
		p->d.app = p->d.app >= 0 ? app[p->d.app] : -1;
		/* a shipping one is classified anew if it comes back (cluster_ship.c) */
		if (p->state == P_WAITING && (p->d.service < 0 || p->d.app < 0)) {
			p->state = P_ASSEMBLING;
			cb_pending_mark(&w->pend, p);
		}
	}
}

/* SIGHUP: a new configuration, or the old one kept with the reason logged. */
static void reload(struct ctl *c)
{
	struct cb_config_file *old = c->cfg, *new = malloc(sizeof(*new));
	int svc[CB_CFG_MAX_SERVICES], rule[CB_CFG_MAX_RULES], app[CB_CFG_MAX_APPS], changes;
	int access_err, i, bad;
	char err[512];

	/* the file is read and checked without the lock: the workers go on
	 * meanwhile (only a reload frees the configuration they read) */
	ctl_unlock(c);
	bad = !new || cb_config_load(c->opts.cfg_path, new, err, sizeof(err));
	ctl_lock(c);
	if (bad) {
		cb_err("reload: %s; the running configuration is kept", new ? err : "out of memory");
		c->st.reload_failures++;
		free(new);
		return;
	}
	if (new->interface[0] && strcmp(new->interface, c->opts.ifname))
		cb_info("reload: interface %s ignored: this controller runs on %s (restart to change)",
			new->interface, c->opts.ifname);
	if (c->opts.node && cb_config_set_node(new, c->opts.node, err, sizeof(err))) {
		cb_err("reload: %s; the running configuration is kept", err);
		c->st.reload_failures++;
		free(new);
		return;
	}
	if (!cb_config_same_cluster(old, new)) {
		cb_err("reload: the cluster (its nodes, their ids, addresses or MACs, this node, "
		       "its name or key) changed: restart the controller for that; the running "
		       "configuration is kept");
		c->st.reload_failures++;
		free(new);
		return;
	}
	if (strcmp(new->metrics, old->metrics))
		cb_info("reload: metrics address %s ignored until a restart (still %s)", new->metrics,
			old->metrics);
	snprintf(new->metrics, sizeof(new->metrics), "%s", old->metrics);
	changes = cb_config_diff(old, new, say_change, (void *)c->opts.cfg_path);
	name_map(svc, old->n_services, old, new, cb_config_service, svc_name);
	name_map(rule, old->n_rules, old, new, cb_config_rule, rule_name);
	name_map(app, old->n_apps, old, new, cb_config_app, app_name);
	/* the workers wait at the start of their next callback, holding no
	 * flow half-way, while their flows follow the new indexes */
	stop_workers(c);
	for (i = 0; i < c->n_workers; i++)
		remap_pending(&c->w[i], svc, rule, app);
	if (c->cluster)
		cb_cluster_remap(c->cluster, svc, old->n_services, app, old->n_apps);
	cb_apps_remap(&c->apps, new, app, old->n_apps);
	if ((access_err = cb_apps_set_access(&c->apps, new)))
		cb_err("reload: app socket %s: owner, group or mode not applied: %s",
		       c->opts.sock_path, strerror(-access_err));
	cb_released_remap(&c->rel, svc, app);
	cb_sup_remap(&c->sup, app, old->n_apps);
	remap_counts(c->st.rule_hits, rule, old->n_rules, CB_CFG_MAX_RULES);
	remap_counts(c->st.default_hits, svc, old->n_services, CB_CFG_MAX_SERVICES);
	remap_counts(c->st.svc_timeouts, svc, old->n_services, CB_CFG_MAX_SERVICES);
	c->cfg = new;
	free(old);
	start_workers(c);
	c->st.reloads++;
	cb_info("reload: %s: %d change%s; %d services, %d rules, %d apps", c->opts.cfg_path,
		changes, changes == 1 ? "" : "s", new->n_services, new->n_rules, new->n_apps);
	check_services(c);
}

/* ---- timer and signals -------------------------------------------------------------- */

/* Exit when the interface or the attachment is gone: nothing would reach us. */
static int attached_workers(const char *ifn);

static void check_attachment(struct ctl *c, uint64_t now)
{
	int err, n;

	if (now - c->checked_ms < CB_CHECK_MS)
		return;
	c->checked_ms = now;
	err = cb_attach_check(c->opts.ifname);
	/* attached again by a build with another map layout: its pins are new
	 * maps, ours are orphans (the heartbeat would go nowhere and new
	 * connections be refused): a restart opens the new ones */
	if (!err && cb_beat_map_id(-1, c->opts.ifname) != c->beat_map_id) {
		cb_err("run: %s: attached again with new maps (another build's layout); exiting "
		       "so that a restarted controller opens them", c->opts.ifname);
		c->exit_err = -ESTALE;
		c->loop.stop = 1;
		return;
	}
	/* the programs send records to as many rings as cb_config says: if an
	 * attach rewrote it, rings would go unread (flows never answered) */
	if (!err && (n = attached_workers(c->opts.ifname)) >= 0 && n != c->n_workers) {
		cb_err("run: %s: the attachment now has %d workers, this controller runs %d; "
		       "exiting so that a restarted controller reads every ring", c->opts.ifname, n,
		       c->n_workers);
		c->exit_err = -ESTALE;
		c->loop.stop = 1;
		return;
	}
	/* twice in a row: an upgrade in place swaps the programs a moment
	 * before it writes their ids in the record */
	if (!err || !c->attach_missed++) {
		c->attach_missed = err ? c->attach_missed : 0;
		return;
	}
	if (err == -ENODEV)
		cb_err("run: %s: the interface is gone (deleted, renamed or moved to another "
		       "namespace); exiting", c->opts.ifname);
	else
		cb_err("run: %s: connbroker is not attached any more (detached, or its programs "
		       "were removed); exiting", c->opts.ifname);
	c->exit_err = err == -ENODEV ? -ENODEV : -ENOLINK;
	c->loop.stop = 1;
}

/*
 * The heartbeat the programs check before they accept a new connection
 * (fail closed, cb_config.no_ctl_ms): written from the loop, so a controller
 * that is stuck stops it as surely as one that died.
 */
static int workers_alive(struct ctl *c, uint64_t now);

static void beat(struct ctl *c, uint64_t now)
{
	int err;

	if (now - c->beat_ms < CB_CTL_BEAT_MS)
		return;
	c->beat_ms = now;
	if (!workers_alive(c, now)) {
		c->beat_failing = 1;
		return;
	}
	err = cb_beat_write(c->beat_fd, (uint32_t)getpid());
	if (err && !c->beat_failing)    /* said once, not every beat */
		cb_err("run: %s: heartbeat: %s; new connections will be refused after "
		       "no_controller", c->opts.ifname, strerror(-err));
	c->beat_failing = err != 0;
}

/* A worker's timers: forced decisions (decide_ms), waits for an app. */
static void worker_tick(struct cb_worker *w, uint64_t now)
{
	struct ctl *c = w->c;
	int i;

	w->alive_ms = now;
	decide_dirty(w);        /* bytes a hand-off drained since the last pass */
	for (i = w->pend.lo; i < w->pend.hi; i++) {
		struct pending *p = &w->pend.p[i];

		if (p->state == P_ASSEMBLING && now - p->first_ms >= c->cfg->decide_ms)
			decide(w, p, 1);
		else if (p->state == P_WAITING && !deliver(w, p) && !place_elsewhere(w, p) &&
			 now - p->wait_since_ms >= c->cfg->services[p->d.service].wait_ms)
			answer_timeout(w, p, CB_RESET_NO_APP);
	}
}

/* A worker thread's own tick. */
static void worker_on_tick(void *arg)
{
	struct cb_worker *w = arg;
	uint64_t x;

	if (read(w->tfd, &x, sizeof(x)) <= 0)
		return;
	worker_enter(w);
	worker_tick(w, cb_now_ms64());
	worker_leave(w);
}

/* wake_fd: stop_workers() wants this one parked (worker_enter() does it). */
static void worker_on_wake(void *arg)
{
	struct cb_worker *w = arg;

	worker_enter(w);
	worker_leave(w);
}

/* stop_fd: the controller is stopping. */
static void worker_on_stop(void *arg)
{
	struct cb_worker *w = arg;

	w->loop.stop = 1;
}

/* quit_fd: a worker's loop failed; the controller stops (its exit_err). */
static void on_quit(void *arg)
{
	struct ctl *c = arg;

	c->loop.stop = 1;
}

/* A worker whose tick has not run for this long is stuck: the heartbeat stops. */
#define CB_WORKER_STUCK_MS 2000

static int workers_alive(struct ctl *c, uint64_t now)
{
	int i;

	for (i = 0; c->threaded && i < c->n_workers; i++)
		if (now - c->w[i].alive_ms > CB_WORKER_STUCK_MS) {
			if (!c->beat_failing)
				cb_err("run: %s: worker %d has not run for %llu ms; the heartbeat "
				       "stops, new connections will be refused after no_controller",
				       c->opts.ifname, i, (unsigned long long)(now - c->w[i].alive_ms));
			return 0;
		}
	return 1;
}

static void on_tick(void *arg)
{
	struct ctl *c = arg;
	uint64_t now = cb_now_ms64(), x;

	if (read(c->tfd, &x, sizeof(x)) <= 0)
		return;
	cb_apps_tick(&c->apps, now);
	cb_metrics_tick(c->metrics, now);
	cb_released_tick(&c->rel, now);
	if (!c->threaded)
		worker_tick(&c->w[0], now);
	if (c->cluster)
		cb_cluster_tick(c->cluster, now);
	cb_metrics_run(c->metrics);     /* its own timeouts */
	if (now - c->status_ms >= 1000) {
		cb_ctl_write_status(c);
		c->status_ms = now;
	}
	check_attachment(c, now);
	beat(c, now);
}

static void on_signal(void *arg)
{
	struct ctl *c = arg;
	struct signalfd_siginfo si;

	if (read(c->sfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGCHLD)
		cb_sup_reap(&c->sup, c->cfg);
	else if (si.ssi_signo == SIGHUP)
		reload(c);
	else
		c->loop.stop = 1;
}

static void on_metrics(void *arg)
{
	struct ctl *c = arg;

	cb_metrics_run(c->metrics);
}

/* ---- setup and teardown ------------------------------------------------------------ */

/*
 * The fds the controller may hold at once: a socket per pending flow (held
 * for an app that cannot take it yet), the apps' connections, the metrics
 * endpoint's, a hand-off batch being built.  The usual soft limit (1,024)
 * is below that: raised within the hard limit; what the controller starts
 * gets the limit it had (supervise.c).
 */
#define CB_CTL_NOFILE 4096

static void raise_fd_limit(struct ctl *c)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) || r.rlim_cur >= CB_CTL_NOFILE)
		return;
	c->sup.nofile = r;
	r.rlim_cur = r.rlim_max < CB_CTL_NOFILE ? r.rlim_max : CB_CTL_NOFILE;
	if (setrlimit(RLIMIT_NOFILE, &r))
		cb_info("run: raise the limit of open files to %lu: %s", (unsigned long)r.rlim_cur,
			strerror(errno));
	if (r.rlim_cur < CB_CTL_NOFILE)
		cb_info("run: %lu open files at most (hard limit): held sockets may fail to build "
			"(LimitNOFILE=%d in the unit)", (unsigned long)r.rlim_cur, CB_CTL_NOFILE);
}

/*
 * The attachment's workers (cb_config.workers; 0 is one), or -errno.  Not
 * a guess when it cannot be read: the programs would go on sending records
 * to rings nobody reads, flows acknowledged and never answered.
 */
static int attached_workers(const char *ifn)
{
	struct cb_config cfg;
	uint32_t zero = 0;
	int fd = cb_pin_open_map(ifn, "cb_config"), n = 1;

	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, &cfg))
		n = -errno;
	else if (cfg.workers > 1)
		n = cfg.workers > CB_MAX_WORKERS ? CB_MAX_WORKERS : (int)cfg.workers;
	close(fd);
	return n;
}

/*
 * One worker per ring of the attachment, each over its share of the stash
 * slots; each recovers the flows a dead controller left in its share.
 */
static int open_workers(struct ctl *c)
{
	const char *ifn = c->opts.ifname;
	int n = attached_workers(ifn), i;

	if (n < 0) {
		cb_err("run: %s: cannot read the attachment's worker count (cb_config): %s "
		       "(detach and attach again)", ifn, strerror(-n));
		return n;
	}
	if (n > 1 && c->cfg->n_nodes) {
		cb_err("run: %s: attached with %d workers, and %s describes a cluster: a cluster "
		       "runs with one worker for now (connbroker detach %s, then attach it with "
		       "--workers 1)", ifn, n, c->opts.cfg_path, ifn);
		return -EINVAL;
	}
	c->w = calloc((size_t)n, sizeof(*c->w));
	if (!c->w)
		return -ENOMEM;
	c->n_workers = n;
	c->threaded = n > 1;
	for (i = 0; i < n; i++)
		c->w[i].ring_fd = c->w[i].tfd = c->w[i].loop.ep = -1;
	for (i = 0; i < n; i++) {
		struct cb_worker *w = &c->w[i];

		w->c = c;
		w->id = i;
		w->handoff = (struct cb_handoff){ .flows = &c->flows, .drain = drain, .arg = w,
						  .faults = &c->faults, .rtt = &w->rtt };
		w->ring_fd = cb_pin_open_ring(ifn, (uint32_t)i);
		if (w->ring_fd < 0) {
			cb_err("run: %s: worker %d's ring: %s (detach and attach again)", ifn, i,
			       strerror(-w->ring_fd));
			return -ENOENT;
		}
		cb_pending_init_range(&w->pend, c->stash, i * CB_PENDING_MAX / n,
				      (i + 1) * CB_PENDING_MAX / n);
		recover(w);
		w->rb = ring_buffer__new(w->ring_fd, on_event, w, NULL);
		if (!w->rb)
			return -errno;
	}
	return 0;
}

unsigned int cb_ctl_pending(const struct ctl *c)
{
	unsigned int n = 0;
	int i;

	for (i = 0; i < c->n_workers; i++)
		n += c->w[i].pend.used;
	return n;
}

static int open_datapath(struct ctl *c)
{
	const char *ifn = c->opts.ifname;
	int err;

	if ((err = cb_flows_open(&c->flows, ifn))) {
		if (err == -ENOENT)
			cb_err("run: %s is not attached (run connbroker attach first)", ifn);
		else
			cb_err("run: %s: load the flow-state program: %s", ifn, strerror(-err));
		return err;
	}
	c->stats_fd = cb_pin_open_map(ifn, "cb_stats");
	c->beat_fd = cb_pin_open_map(ifn, "cb_controller");
	c->beat_map_id = c->beat_fd >= 0 ? cb_beat_map_id(c->beat_fd, ifn) : 0;
	if (c->stats_fd < 0 || c->beat_fd < 0) {
		cb_err("run: %s: pinned maps missing (detach and attach again)", ifn);
		return -ENOENT;
	}
	if ((err = cb_stash_map(ifn, &c->stash, &c->stash_size))) {
		cb_err("run: %s: no stash map (%s; attached by an older build? detach and attach)",
		       ifn, strerror(-err));
		return err;
	}
	return open_workers(c);
}

/* The signals the loop reads from its signalfd; blocked from the very start,
 * so a SIGHUP or SIGTERM during setup waits for the loop instead of killing
 * the controller half-way (a reload right after start would end it). */
static void signals(sigset_t *ss)
{
	sigemptyset(ss);
	sigaddset(ss, SIGINT);
	sigaddset(ss, SIGTERM);
	sigaddset(ss, SIGCHLD);
	sigaddset(ss, SIGHUP);
}

/* This node in its cluster, if the configuration describes one. */
static int open_cluster(struct ctl *c)
{
	int err;
	struct cb_cluster_env env = {
		.loop = &c->loop, .cfg = (const struct cb_config_file *const *)&c->cfg,
		.ifname = c->opts.ifname, .flows = &c->flows, .apps = &c->apps, .pend = &c->w[0].pend,
		.faults = &c->faults, .drain = drain, .shipped = shipped, .resumed = resumed,
		.arg = &c->w[0], .resets = c->st.resets, .rtt = &c->w[0].rtt,
	};

	if (c->opts.node && cb_config_set_node(c->cfg, c->opts.node, c->node_err,
					      sizeof(c->node_err))) {
		cb_err("run: %s", c->node_err);
		return -EINVAL;
	}
	err = cb_cluster_open(&c->cluster, &env);
	c->rel.cluster = c->cluster;
	return err;
}

/*
 * One worker: its ring in the main loop.  More: each its own loop over its
 * ring, its tick, and the controller's stop and wake-up eventfds; the main
 * loop gets quit_fd, and runs its callbacks under the lock.
 */
static int open_worker_fds(struct ctl *c)
{
	struct itimerspec it = { .it_interval = { 0, CB_TICK_MS * 1000000L },
				 .it_value = { 0, CB_TICK_MS * 1000000L } };
	int i, err;

	if (!c->threaded)
		return cb_loop_add(&c->loop, ring_buffer__epoll_fd(c->w[0].rb), on_ring, &c->w[0]);
	c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->quit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->stop_fd < 0 || c->wake_fd < 0 || c->quit_fd < 0)
		return -errno;
	if ((err = cb_loop_add(&c->loop, c->quit_fd, on_quit, c)))
		return err;
	for (i = 0; i < c->n_workers; i++) {
		struct cb_worker *w = &c->w[i];

		if ((err = cb_loop_init(&w->loop)))
			return err;
		w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		if (w->tfd < 0 || timerfd_settime(w->tfd, 0, &it, NULL))
			return -errno;
		if ((err = cb_loop_add(&w->loop, ring_buffer__epoll_fd(w->rb), on_ring, w)) ||
		    (err = cb_loop_add(&w->loop, w->tfd, worker_on_tick, w)) ||
		    (err = cb_loop_add(&w->loop, c->stop_fd, worker_on_stop, w)) ||
		    (err = cb_loop_add(&w->loop, c->wake_fd, worker_on_wake, w)))
			return err;
	}
	if ((err = pthread_mutex_init(&c->lock, NULL)) ||
	    (err = pthread_cond_init(&c->parked_cv, NULL)) ||
	    (err = pthread_cond_init(&c->resume_cv, NULL)))
		return -err;
	c->loop.lock = &c->lock;
	return 0;
}

static void *worker_main(void *arg)
{
	struct cb_worker *w = arg;
	struct ctl *c = w->c;
	uint64_t one = 1;
	int err = cb_loop_run(&w->loop);

	/* gone, it holds and runs nothing: parked for good, so that a reload
	 * the main loop starts before it sees quit_fd does not wait for it */
	ctl_lock(c);
	c->parked++;
	pthread_cond_signal(&c->parked_cv);
	if (err)
		c->exit_err = err;
	ctl_unlock(c);
	if (err) {
		cb_err("run: %s: worker %d: epoll: %s; stopping", c->opts.ifname, w->id,
		       strerror(-err));
		if (write(c->quit_fd, &one, sizeof(one)) < 0)
			abort();        /* nothing else would stop the controller */
	}
	return NULL;
}

/* The worker threads (none with one worker: it runs in the main loop). */
static int start_threads(struct ctl *c)
{
	char name[16];
	int i, err;

	for (i = 0; i < c->n_workers; i++)
		c->w[i].alive_ms = cb_now_ms64();       /* their ticks count from now */
	for (i = 0; c->threaded && i < c->n_workers; i++) {
		if ((err = pthread_create(&c->w[i].thread, NULL, worker_main, &c->w[i]))) {
			cb_err("run: %s: start worker %d: %s", c->opts.ifname, i, strerror(err));
			return -err;
		}
		c->w[i].started = 1;
		snprintf(name, sizeof(name), "cb-worker-%u", (unsigned int)i % 100u);
		pthread_setname_np(c->w[i].thread, name);
	}
	return 0;
}

static void stop_threads(struct ctl *c)
{
	uint64_t one = 1;
	int i;

	if (c->stop_fd >= 0 && write(c->stop_fd, &one, sizeof(one)) < 0)
		cb_err("run: stop the workers: %s", strerror(errno));
	for (i = 0; i < c->n_workers; i++)
		if (c->w[i].started) {
			pthread_join(c->w[i].thread, NULL);
			c->w[i].started = 0;
		}
}

static void close_workers(struct ctl *c)
{
	int i;

	for (i = 0; c->w && i < c->n_workers; i++) {
		struct cb_worker *w = &c->w[i];

		ring_buffer__free(w->rb);
		if (w->ring_fd >= 0)
			close(w->ring_fd);
		if (w->tfd >= 0)
			close(w->tfd);
		cb_loop_fini(&w->loop);
	}
	free(c->w);
	if (c->threaded) {
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->parked_cv);
		pthread_cond_destroy(&c->resume_cv);
	}
	if (c->stop_fd >= 0)
		close(c->stop_fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	if (c->quit_fd >= 0)
		close(c->quit_fd);
}

static int open_fds(struct ctl *c)
{
	struct itimerspec it = { .it_interval = { 0, CB_TICK_MS * 1000000L },
				 .it_value = { 0, CB_TICK_MS * 1000000L } };
	sigset_t ss;
	int err;

	signals(&ss);
	c->sfd = signalfd(-1, &ss, SFD_CLOEXEC);
	c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (c->sfd < 0 || c->tfd < 0 || timerfd_settime(c->tfd, 0, &it, NULL))
		return -errno;
	if ((err = open_worker_fds(c)) ||
	    (err = cb_loop_add(&c->loop, c->tfd, on_tick, c)) ||
	    (err = cb_loop_add(&c->loop, c->sfd, on_signal, c)))
		return err;
	if ((err = cb_apps_open(&c->apps, c->opts.sock_path, &c->loop,
				(const struct cb_config_file *const *)&c->cfg))) {
		cb_err("run: app socket %s: %s", c->opts.sock_path, strerror(-err));
		return err;
	}
	c->apps.on_ctl = cb_ctl_command;
	c->apps.ctl_arg = c;
	if ((err = cb_released_open(&c->rel, &c->loop, &c->apps,
				    (const struct cb_config_file *const *)&c->cfg, c->st.rule_hits,
				    c->st.default_hits)))
		return err;
	if (strcmp(c->cfg->metrics, "off")) {
		cb_libver_get(&c->libver);
		c->metrics = cb_metrics_start(c->cfg->metrics, cb_ctl_render_metrics, c);
		if (!c->metrics)
			return -EADDRINUSE;
		if ((err = cb_loop_add(&c->loop, cb_metrics_fd(c->metrics), on_metrics, c)))
			return err;
	}
	return open_cluster(c);
}

static void teardown(struct ctl *c)
{
	stop_threads(c);
	c->loop.lock = NULL;            /* alone from here on */
	if (c->claimed)         /* ours to remove, not another controller's */
		cb_ctl_remove_status(c->opts.ifname);
	cb_cluster_close(c->cluster);
	cb_released_close(&c->rel);
	if (c->apps.loop)               /* opened */
		cb_apps_close(&c->apps);
	cb_sup_stop(&c->sup);
	cb_metrics_stop(c->metrics);
	close_workers(c);
	cb_flows_close(&c->flows);
	cb_stash_unmap(c->stash, c->stash_size);
	if (c->stats_fd >= 0)
		close(c->stats_fd);
	if (c->beat_fd >= 0)
		close(c->beat_fd);
	if (c->tfd >= 0)
		close(c->tfd);
	if (c->sfd >= 0)
		close(c->sfd);
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	cb_loop_fini(&c->loop);
	free(c->cfg);
}

/* The configuration, and the interface: --interface, else [broker] interface. */
static int load_config(struct ctl *c)
{
	char err[512];

	c->cfg = malloc(sizeof(*c->cfg));
	if (!c->cfg)
		return -ENOMEM;
	if (cb_config_load(c->opts.cfg_path, c->cfg, err, sizeof(err))) {
		cb_err("run: %s", err);
		return -EINVAL;
	}
	if (c->opts.metrics)
		snprintf(c->cfg->metrics, sizeof(c->cfg->metrics), "%s", c->opts.metrics);
	/* a copy: the configuration is replaced on reload */
	snprintf(c->ifname, sizeof(c->ifname), "%s",
		 c->opts.ifname && c->opts.ifname[0] ? c->opts.ifname : c->cfg->interface);
	c->opts.ifname = c->ifname;
	if (!c->ifname[0]) {
		cb_err("run: no interface: give --interface or [broker] interface in %s",
		       c->opts.cfg_path);
		return -EINVAL;
	}
	return 0;
}

/*
 * One controller per interface and network namespace (two would share the
 * ring and the stash); the apps' socket defaults to a path of the same key.
 */
static int claim_interface(struct ctl *c)
{
	char path[256];
	int err = cb_run_path(path, sizeof(path), c->opts.ifname, "lock");

	if (err) {
		cb_err("run: %s: lock file: %s", c->opts.ifname, strerror(-err));
		return err;
	}
	c->lock_fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (c->lock_fd < 0 || flock(c->lock_fd, LOCK_EX | LOCK_NB)) {
		cb_err("run: %s: another controller is running (%s)", c->opts.ifname, path);
		return -EBUSY;
	}
	c->claimed = 1;
	if (!c->opts.sock_path) {
		if ((err = cb_run_path(c->sock_buf, sizeof(c->sock_buf), c->opts.ifname, "sock")))
			return err;
		c->opts.sock_path = c->sock_buf;
	}
	return 0;
}

int cb_ctl_run(const struct cb_ctl_opts *o)
{
	struct ctl *c;
	sigset_t ss;
	int err;

	signals(&ss);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->opts = *o;
	c->stats_fd = c->tfd = c->sfd = c->lock_fd = c->beat_fd = -1;
	c->stop_fd = c->wake_fd = c->quit_fd = -1;
	c->flows.fd = -1;
	c->apps.lsock = -1;
	c->loop.ep = -1;
	cb_faults_init(&c->faults);
	if (!(err = load_config(c)) && !(err = claim_interface(c)) &&
	    !(cb_sup_init(&c->sup, c->opts.sock_path), raise_fd_limit(c),
	      err = cb_loop_init(&c->loop)) &&
	    !(err = open_datapath(c)) && !(err = open_fds(c))) {
		cb_info("run: %s: %d services, %d rules, %d apps; apps connect to %s; metrics on %s; "
			"%d worker%s", c->opts.ifname, c->cfg->n_services, c->cfg->n_rules,
			c->cfg->n_apps, c->opts.sock_path, c->cfg->metrics, c->n_workers,
			c->n_workers == 1 ? "" : "s");
		check_services(c);
		c->checked_ms = cb_now_ms64();
		if (!(err = start_threads(c)))
			err = cb_loop_run(&c->loop);
		stop_threads(c);        /* their counters are final now */
		if (!err)
			err = c->exit_err;
		cb_info("run: stopping: %lu materialized, %lu failed, %lu timed out",
			c->st.materialized, c->st.failed, c->st.timeouts);
	}
	teardown(c);
	free(c);
	return err;
}
