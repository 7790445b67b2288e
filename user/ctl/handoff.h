/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The local hand-off: from a flow the program holds to an ESTABLISHED kernel
 * socket on this node, with no byte lost or seen twice and one owner at every
 * instant (docs/architecture.md, "Hand-off"):
 *
 *   UNBOUND -> FROZEN   the program stops queuing and acknowledging bytes
 *   drain the ring      every acknowledged byte is now in the stash
 *   build the socket    TCP_REPAIR: sequence numbers, options, timestamps,
 *                       the request in its receive queue, the window
 *   FROZEN -> LOCAL     the client's segments now reach that socket
 *   go live             leave repair mode; a one-byte probe below the
 *                       window gets the socket its first RTT sample
 *                       (nothing is sent on a service with rtt_probe = no)
 */
#ifndef CB_HANDOFF_H
#define CB_HANDOFF_H

#include "ctl/config.h"
#include "ctl/pending.h"
#include "repair/repair.h"
#include "repair/rtt_memo.h"

struct cb_flows;
struct cb_faults;

/* How sockets built for a service's fresh flows go live (repair/repair.h). */
static inline uint8_t cb_handoff_sock_flags(const struct cb_service_cfg *s)
{
	return s->rtt_probe ? CB_SOCK_RTT_PROBE : CB_SOCK_QUIET;
}

struct cb_handoff {
	const struct cb_flows *flows;
	/* consume the ring now, so that records already queued reach pending */
	void (*drain)(void *arg);
	void *arg;
	const struct cb_faults *faults;
	/* clients the kernel has an RTT for: their sockets skip the probe */
	struct cb_rtt_memo *rtt;
};

/*
 * Build the sockets of the n flows of ps (up to CB_FLOW_BATCH), each step
 * once for all of them (one freeze, one drain, one read, one steer: a
 * state-program run each, not one per flow).  flags[i]: ps[i]'s
 * cb_sock_state flags (CB_SOCK_RTT_PROBE or CB_SOCK_QUIET, from its
 * service's rtt_probe).  out[i] is ps[i]'s fd, or:
 *   -ECONNRESET  the client closed or reset the flow meanwhile (nothing to do)
 *   -ENOENT      the flow is gone from the table (nothing to do)
 *   -EALREADY    the flow is LOCAL: handed over before a restart, not ours
 *   -ECONNABORTED the socket failed after steering moved to it; the client
 *                has been reset already
 *   other -errno the flow is still held (FROZEN): the caller resets it
 */
void cb_handoff_local_many(const struct cb_handoff *h, struct pending *const *ps,
			   const uint8_t *flags, int n, int *out);

/*
 * After a restart, for a flow found LOCAL whose stash slot was still in use:
 * the dead controller steered it to a socket but may have died before the
 * app got it; that socket then died with it (silently, if still in repair
 * mode), and the client, which waits in silence, would hang.  If no socket
 * holds the tuple, reset the client.  1: a socket exists (an app's: left
 * alone), 0: the client was reset, -errno.
 */
int cb_handoff_check_survivor(const struct cb_handoff *h, const struct pending *p);

#endif
