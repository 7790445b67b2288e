/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * TCP_REPAIR: build a kernel socket from a connection's numbers, and dump a
 * live socket into those numbers.  One plain struct carries the state both
 * ways, so a flow that XDP accepted and a socket frozen for migration are
 * materialized by the same code.
 *
 * Restore order (sequence numbers can only be set on a closed socket):
 *   repair on -> queue sequences -> bind/connect (no SYN leaves) -> options
 *   -> TCP_TIMESTAMP -> queue contents -> TCP_REPAIR_WINDOW -> repair off
 *   without a window probe -> unsent bytes sent normally.
 * TCP_REPAIR=1 must come before bind: it gives the socket a forced address
 * reuse that a later SO_REUSEADDR would downgrade.
 */
#ifndef CB_REPAIR_H
#define CB_REPAIR_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdint.h>
#include <connbroker/shared.h>

struct cb_sock_state {
	struct sockaddr_in local;       /* VIP:port */
	struct sockaddr_in peer;        /* client */
	uint32_t snd_una;               /* seq of the first byte of the send queue */
	uint32_t rcv_seq;               /* seq of the first byte of the receive queue */
	uint16_t mss;
	uint8_t snd_wscale;             /* the peer's shift */
	uint8_t rcv_wscale;             /* ours */
	uint8_t opts;                   /* CB_OPT_SACK | CB_OPT_TS | CB_OPT_WSCALE */
	uint32_t tsval;                 /* our TCP timestamp clock value now (CB_OPT_TS) */
	struct tcp_repair_window win;
	const uint8_t *rcvq;            /* bytes received, not yet read by the app */
	size_t rcvq_len;
	const uint8_t *sndq;            /* bytes sent, not yet acknowledged */
	size_t sndq_len;
	const uint8_t *unsent;          /* bytes written by the app, never sent */
	size_t unsent_len;
};

/*
 * State of an UNBOUND flow from the flow table, with `data` (bytes_in bytes,
 * from the ring) as its receive queue.  now_ms: CLOCK_MONOTONIC milliseconds,
 * the clock of the kernel's TCP timestamps and of the XDP program.
 */
void cb_state_from_flow(struct cb_sock_state *st, const struct cb_flow_key *key,
			const struct cb_flow *f, const uint8_t *data, size_t len, uint32_t now_ms);

/* Build the socket; returns the fd or a negative errno (step in *step). */
int cb_repair_restore(const struct cb_sock_state *st, const char **step);

/*
 * Dump a live socket (frozen by the caller: no packets may reach it).  The
 * queue contents are copied into buffers owned by *st, freed with
 * cb_sock_state_free().  The socket is left in repair mode, so closing it
 * sends nothing.  0 or negative errno.
 */
int cb_repair_dump(int fd, struct cb_sock_state *st);
void cb_sock_state_free(struct cb_sock_state *st);


#endif
