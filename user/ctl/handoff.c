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

/* UNBOUND -> FROZEN; a flow found FROZEN was frozen by a controller that died. */
static int freeze(const struct cb_handoff *h, const struct pending *p)
{
	uint32_t old = 0;
	int err = cb_owner_move(h->flows, &p->key, CB_FLOW_UNBOUND, CB_FLOW_FROZEN, &old, NULL);

	if (err == -EAGAIN && old == CB_FLOW_FROZEN)
		return 0;
	if (err == -EAGAIN && old == CB_FLOW_LOCAL)
		return -EALREADY;
	return err == -EAGAIN ? -EINVAL : err;
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

int cb_handoff_local(const struct cb_handoff *h, struct pending *p, uint8_t sock_flags)
{
	struct cb_sock_state st;
	struct cb_flow f;
	const char *step = "lookup";
	char fs[CB_FLOW_STRLEN];
	int fd, err;

	err = freeze(h, p);
	h->drain(h->arg);       /* a CLOSE record tells a vanished flow from a closed one */
	if (err == -ENOENT && p->closed)
		return -ECONNRESET;
	if (err)
		return err;
	if (p->closed)
		return -ECONNRESET;     /* a FIN or RST already in the ring ended it */
	if ((err = cb_flows_lookup(h->flows, &p->key, &f)))
		return err;
	if ((err = check_bytes(p, &f)))
		return err;
	f.rcv_nxt = f.client_isn + 1 + p->slot->len;
	f.bytes_in = p->slot->len;
	cb_state_from_flow(&st, &p->key, &f, p->slot->data, p->slot->len, cb_now_ms());
	st.flags = sock_flags;
	fd = cb_repair_build(&st, &step);
	if (fd < 0) {
		cb_err("run: %s: TCP_REPAIR %s: %s", cb_fmt_flow(&p->key, fs, sizeof(fs)), step,
		       strerror(-fd));
		return fd;
	}
	cb_fault(h->faults, "after-build");
	/* steering first: the socket's first segment (the RTT probe, or the
	 * app's answer) is answered, and that must reach it, not the program */
	if ((err = cb_owner_move(h->flows, &p->key, CB_FLOW_FROZEN, CB_FLOW_LOCAL, NULL, NULL))) {
		close(fd);              /* still in repair mode: sends nothing */
		return err == -EAGAIN ? -EIO : err;
	}
	cb_fault(h->faults, "after-steer");
	if ((err = cb_repair_go_live(fd, &st, &step)))
		return go_live_failed(p, &f, fd, step, err);
	return fd;
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
