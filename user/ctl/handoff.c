// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "ctl/handoff.h"
#include "ctl/owner.h"
#include "ctl/reset.h"
#include "datapath/flows.h"
#include "repair/repair.h"
#include "repair/tuple.h"
#include "util/clock.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/parse_util.h"

/* What freezing found: UNBOUND -> FROZEN done (0); a flow found FROZEN was
 * frozen by a controller that died (0: ours now); LOCAL: handed over. */
static int frozen(int res, uint32_t old)
{
	if (res == -EAGAIN && old == CB_FLOW_FROZEN)
		return 0;
	if (res == -EAGAIN && old == CB_FLOW_LOCAL)
		return -EALREADY;
	return res == -EAGAIN ? -EINVAL : res;
}

/*
 * Every byte the program acknowledged must be in the stash: it acknowledges
 * only after its record is in the ring and only while the flow is UNBOUND,
 * and the ring was drained after the freeze.
 */
static int check_bytes(const struct pending *p, const struct cb_flow *f)
{
	char fs[CB_FLOW_STRLEN];

	if ((p->slot->len && p->slot->first_seq != f->client_isn + 1) ||
	    f->bytes_in > p->slot->len) {
		cb_err("run: %s: %u bytes assembled but the flow acknowledged %u",
		       cb_fmt_flow(&p->key, fs, sizeof(fs)), p->slot->len, f->bytes_in);
		return -EPROTO;
	}
	return 0;
}

/*
 * The flow is LOCAL but its socket could not leave repair mode: close it
 * (silently, in repair mode) and reset the client ourselves; LOCAL
 * segments reach the kernel, which finds no socket and resets them too.
 */
static int go_live_failed(const struct pending *p, const struct cb_flow *f, int fd,
			  const char *step, int err)
{
	char fs[CB_FLOW_STRLEN];

	cb_err("run: %s: TCP_REPAIR %s: %s; resetting the client",
	       cb_fmt_flow(&p->key, fs, sizeof(fs)), step, strerror(-err));
	close(fd);
	cb_reset_send(&p->key, f->snd_nxt, f->client_isn + 1 + p->slot->len);
	return -ECONNABORTED;
}

/* The flows of b: the keys of ps[idx[0..m-1]]. */
static void batch_keys(struct cb_flow_batch *b, struct pending *const *ps, const int *idx, int m)
{
	int k;

	b->n = (uint32_t)m;
	for (k = 0; k < m; k++)
		b->item[k].req = (struct cb_state_req){ .key = ps[idx[k]]->key };
}

/* The indexes i of ps whose err[i] is 0: how many. */
static int still_ok(const int *err, int n, int *idx)
{
	int i, m = 0;

	for (i = 0; i < n; i++)
		if (!err[i])
			idx[m++] = i;
	return m;
}

/* Freeze them all, then drain the ring once: err[i] as for one flow. */
static void freeze_all(const struct cb_handoff *h, struct pending *const *ps, int n,
		       struct cb_flow_batch *b, int *err)
{
	int idx[CB_FLOW_BATCH] = { 0 }, res[CB_FLOW_BATCH], i;
	uint32_t old[CB_FLOW_BATCH];

	for (i = 0; i < n; i++)
		idx[i] = i;
	batch_keys(b, ps, idx, n);
	cb_owner_move_many(h->flows, b, CB_FLOW_UNBOUND, CB_FLOW_FROZEN, res, old);
	for (i = 0; i < n; i++)
		err[i] = frozen(res[i], old[i]);
	h->drain(h->arg);       /* a CLOSE record tells a vanished flow from a closed one */
	for (i = 0; i < n; i++)
		if ((!err[i] || err[i] == -ENOENT) && ps[i]->closed)
			err[i] = -ECONNRESET;   /* a FIN or RST already in the ring ended it */
}

/* Read the frozen flows (after the drain: as they stand now) into f[]. */
static void read_all(const struct cb_handoff *h, struct pending *const *ps, int n,
		     struct cb_flow_batch *b, int *err, struct cb_flow *f)
{
	int idx[CB_FLOW_BATCH] = { 0 }, m = still_ok(err, n, idx), k, rerr;

	batch_keys(b, ps, idx, m);
	b->op = CB_BATCH_GET;
	rerr = cb_flows_batch(h->flows, b);
	for (k = 0; k < m; k++) {
		int i = idx[k];

		if (rerr || b->item[k].req.result) {
			err[i] = rerr ? rerr : -ENOENT;
			continue;
		}
		f[i] = b->item[k].flow;
		err[i] = check_bytes(ps[i], &f[i]);
	}
}

static int build_one(const struct cb_handoff *h, struct pending *p, struct cb_flow *f,
		     uint8_t flags, struct cb_sock_state *st)
{
	char fs[CB_FLOW_STRLEN];
	const char *step = "state";
	uint32_t now = cb_now_ms();
	int fd;

	f->rcv_nxt = f->client_isn + 1 + p->slot->len;
	f->bytes_in = p->slot->len;
	cb_state_from_flow(st, &p->key, f, p->slot->data, p->slot->len, now);
	st->flags = flags;
	fd = cb_repair_build_remembered(st, h->rtt, now, &step);
	if (fd < 0)
		cb_err("run: %s: TCP_REPAIR %s: %s", cb_fmt_flow(&p->key, fs, sizeof(fs)), step,
		       strerror(-fd));
	return fd;
}

/* FROZEN -> LOCAL for every built socket; one that cannot be is closed. */
static void steer_all(const struct cb_handoff *h, struct pending *const *ps, int n,
		      struct cb_flow_batch *b, int *err, int *fd)
{
	int idx[CB_FLOW_BATCH] = { 0 }, res[CB_FLOW_BATCH], m = still_ok(err, n, idx), k;
	uint32_t old[CB_FLOW_BATCH];

	batch_keys(b, ps, idx, m);
	cb_owner_move_many(h->flows, b, CB_FLOW_FROZEN, CB_FLOW_LOCAL, res, old);
	for (k = 0; k < m; k++) {
		int i = idx[k];

		if (res[k]) {
			close(fd[i]);   /* still in repair mode: sends nothing */
			fd[i] = -1;
			err[i] = res[k] == -EAGAIN ? -EIO : res[k];
		}
	}
}

void cb_handoff_local_many(const struct cb_handoff *h, struct pending *const *ps,
			   const uint8_t *flags, int n, int *out)
{
	struct cb_flow_batch b;
	struct cb_sock_state st[CB_FLOW_BATCH];
	struct cb_flow f[CB_FLOW_BATCH];
	int err[CB_FLOW_BATCH], fd[CB_FLOW_BATCH], i, built = 0;
	const char *step;

	if (n > CB_FLOW_BATCH)
		n = CB_FLOW_BATCH;      /* the callers' bound; never more */
	for (i = 0; i < n; i++)
		fd[i] = -1;
	freeze_all(h, ps, n, &b, err);
	read_all(h, ps, n, &b, err, f);
	for (i = 0; i < n; i++) {
		if (err[i])
			continue;
		if ((fd[i] = build_one(h, ps[i], &f[i], flags[i], &st[i])) < 0) {
			err[i] = fd[i];
			fd[i] = -1;
		} else {
			built++;
		}
	}
	if (built)
		cb_fault(h->faults, "after-build");
	/* steering first: the socket's first segment (the RTT probe, or the
	 * app's answer) is answered, and that must reach it, not the program */
	steer_all(h, ps, n, &b, err, fd);
	if (built)
		cb_fault(h->faults, "after-steer");
	for (i = 0; i < n; i++) {
		if (!err[i] && (err[i] = cb_repair_go_live(fd[i], &st[i], &step))) {
			err[i] = go_live_failed(ps[i], &f[i], fd[i], step, err[i]);
			fd[i] = -1;
		}
		out[i] = err[i] ? err[i] : fd[i];
	}
}

int cb_handoff_check_survivor(const struct cb_handoff *h, const struct pending *p)
{
	struct cb_sock_state st;
	struct cb_flow f;
	char fs[CB_FLOW_STRLEN];
	int state, err;

	if ((err = cb_flows_lookup(h->flows, &p->key, &f)))
		return err;
	cb_state_from_flow(&st, &p->key, &f, NULL, 0, 0);
	state = cb_tuple_state(&st.local, &st.peer);
	if (state != -ENOENT && state != TCP_CLOSE)
		return state < 0 ? state : 1;
	cb_info("run: %s: handed over, but its socket died with the last controller; resetting "
		"the client", cb_fmt_flow(&p->key, fs, sizeof(fs)));
	err = cb_reset_send(&p->key, f.snd_nxt, f.rcv_nxt);
	return err ? err : 0;
}
