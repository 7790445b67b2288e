/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Which clients the kernel already knows the RTT of, so that a fresh flow's
 * socket can go live without the RTT probe (repair.h, "RTT").
 *
 * connect() seeds a socket's first RTO from the RTT the kernel cached for
 * the (local, peer) pair when an earlier connection closed (tcp_metrics,
 * net.ipv4.tcp_no_metrics_save = 0), exactly as it does for its own new
 * connections: crtt + max(2 crtt, 200 ms), where a socket with neither a
 * sample nor a cached RTT falls back to 3 s.  With the RTO so seeded, the
 * probe buys nothing a lost first answer needs, and costs two segments.  But
 * the probe's layout is fixed before connect() (the send queue starts one
 * byte early), so the choice must be made before the kernel can tell: this
 * memo remembers, per (local, peer), what the last built socket found.  A
 * hint is never trusted: the socket built quiet on it is checked after
 * connect() and, if its RTO was not seeded after all (the entry expired or
 * was reclaimed), closed (still in repair mode: silently) and built again
 * with the probe.  So a wrong hint costs one build, never the guarantee.
 *
 * Bounded: CB_RTT_MEMO_SLOTS direct-mapped slots of a 64-bit tag of the
 * pair; a collision replaces the older pair (a lost hint: the probe is sent).
 */
#ifndef CB_RTT_MEMO_H
#define CB_RTT_MEMO_H

#include <stdbool.h>
#include <stdint.h>
#include "repair/repair.h"

#define CB_RTT_MEMO_SLOTS 4096
/* a hint older than this is not used; the kernel keeps an entry an hour
 * (TCP_METRICS_TIMEOUT) after the connection that refreshed it */
#define CB_RTT_MEMO_TTL_MS 60000

struct cb_rtt_memo {
	uint64_t tag[CB_RTT_MEMO_SLOTS];        /* 0: empty */
	uint32_t until_ms[CB_RTT_MEMO_SLOTS];
};

/* Whether the socket for st's (local, peer) was last found seeded, as of now_ms. */
bool cb_rtt_memo_has(const struct cb_rtt_memo *m, const struct cb_sock_state *st,
		     uint32_t now_ms);
/* Record what a socket built for st's pair found (seeded or not). */
void cb_rtt_memo_put(struct cb_rtt_memo *m, const struct cb_sock_state *st, bool seeded,
		     uint32_t now_ms);

/*
 * cb_repair_build() for a fresh flow whose service wants the RTT probe: the
 * socket is built without it (st->flags: CB_SOCK_QUIET instead of
 * CB_SOCK_RTT_PROBE) when m says the kernel will seed its RTO, and that is
 * checked; otherwise with it.  st->flags tells cb_repair_go_live() which.
 * Without m, or when st would not probe anyway, plain cb_repair_build().
 * The memo learns from every socket built here.  now_ms: CLOCK_MONOTONIC.
 */
int cb_repair_build_remembered(struct cb_sock_state *st, struct cb_rtt_memo *m,
			       uint32_t now_ms, const char **step);

#endif
