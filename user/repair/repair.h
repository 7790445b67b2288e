/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * TCP_REPAIR: build a kernel socket from a connection's numbers, and dump a
 * live socket into those numbers.  One plain struct carries the state both
 * ways, so a flow that XDP accepted and a socket frozen for migration are
 * materialized by the same code.  IPv4 and IPv6 (the family of `local`).
 *
 * Build order (sequence numbers can only be set on a closed socket):
 *   repair on -> queue sequences -> freebind -> TCP_MAXSEG -> bind/connect
 *   (no SYN leaves) -> TCP_REPAIR_OPTIONS -> TCP_TIMESTAMP -> queue contents
 *   -> TCP_REPAIR_WINDOW.
 * The socket is then inert: reads fail with EPERM, nothing is transmitted
 * and closing it sends nothing.  Going live is a separate step, so that the
 * caller can steer the flow's packets to the socket in between (the
 * client's answers to what go-live sends must reach it):
 *   repair off -> RTT probe byte or window probe -> unsent bytes sent normally.
 *
 * Pitfalls handled here (docs: shared handoff-design.md section 2):
 * - TCP_REPAIR=1 comes before bind: it gives the socket a forced address
 *   reuse that a later SO_REUSEADDR would downgrade.
 * - TCP_MAXSEG = the peer's MSS before connect(): connect() in repair mode
 *   syncs the MSS while the clamp is still the 536 default, and the socket
 *   would send 524-byte segments (TCP_REPAIR_OPTIONS is refused before
 *   connect, and sets the clamp too late).
 * - Since Linux 6.7 the lowest bit of the TCP_TIMESTAMP value switches on
 *   microsecond timestamps.  cb_state_from_flow() clears it (rounding up, the
 *   clock never goes back); a dumped value keeps the bit its socket had.
 * - The TS clock is carried as a value, never as an offset from a host
 *   clock: hosts' CLOCK_MONOTONIC differ.
 *
 * RTT.  A repaired socket has no RTT sample: tcpi_rtt 0 and an RTO of 1 to
 * 3 s until its first data is acknowledged, so a lost first segment costs
 * about a second (the loss probe has no srtt) instead of ~200 ms.  Neither
 * way out of repair mode fixes that by itself: the window probe
 * (TCP_REPAIR_OFF) is answered but acknowledges nothing, and bytes written
 * in repair mode are marked TCPCB_REPAIRED (retransmitted, for Karn), so
 * their ACK gives only a timestamp-echo sample, stale by the age of the
 * peer's ts_recent.  So, when the sent-unacknowledged queue is empty and
 * CB_SOCK_RTT_PROBE is set, the send queue is built one sequence number
 * below snd_una, repair is left without a window probe and one byte is
 * send() normally: it occupies snd_una - 1, a sequence slot the peer already
 * has (for a fresh flow the SYN's), so the peer discards it as a duplicate
 * and acknowledges at once, and that ACK covers an ordinary skb: a real RTT
 * sample (the BSD keep-alive trick).  Costs: one extra segment each way; the
 * peer records a D-SACK (and counts a duplicate); tcpi_bytes_sent and
 * tcpi_segs_out are one higher than an accepted socket's.  The byte's value
 * is never seen.  With unacknowledged data the window probe is used instead:
 * its answer acknowledges (or SACKs) that data.
 *
 * CB_SOCK_QUIET (a service's rtt_probe = no) trades that sample for two
 * segments less per connection: with nothing sent-unacknowledged, repair
 * is left without any probe, and the first RTT sample comes from the ACK of
 * the first response (an ordinary skb).  Until then a lost first flight
 * waits for the fallback timers (loss probe ~1 s, RTO up to 3 s), and the
 * first segment's TSecr is 0 (ts_recent is set by the client's next
 * segment).  With unacknowledged data the window probe is sent regardless.
 *
 * A client the kernel has an RTT cached for (tcp_metrics, from an earlier
 * connection) needs no probe: connect() seeds the first RTO from that RTT,
 * as for the kernel's own connections.  cb_repair_build_remembered()
 * (rtt_memo.h) builds such a client's socket quiet, checking the seed.
 */
#ifndef CB_REPAIR_H
#define CB_REPAIR_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <connbroker/shared.h>

union cb_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

/* flags */
#define CB_SOCK_RTT_PROBE 0x01          /* go live with the one-byte RTT probe
					 * when nothing is sent-unacknowledged */
#define CB_SOCK_QUIET 0x02              /* without the probe, and with nothing
					 * sent-unacknowledged: go live sending
					 * nothing (TCP_REPAIR_OFF_NO_WP) */

struct cb_sock_state {
	union cb_sockaddr local;        /* VIP:port; its family is the socket's */
	union cb_sockaddr peer;         /* client, same family */
	uint32_t snd_una;               /* seq of the first byte of the send queue */
	uint32_t rcv_seq;               /* seq of the first byte of the receive queue */
	uint16_t mss;                   /* the peer's MSS (our send clamp) */
	uint8_t snd_wscale;             /* the peer's shift */
	uint8_t rcv_wscale;             /* ours */
	uint8_t opts;                   /* CB_OPT_SACK | CB_OPT_TS | CB_OPT_WSCALE */
	uint8_t tcp_state;              /* TCP_ESTABLISHED...; only that one builds */
	uint8_t flags;                  /* CB_SOCK_* */
	uint32_t tsval;                 /* our TCP timestamp clock value now (CB_OPT_TS);
					 * bit 0 set: a microsecond clock (Linux >= 6.7) */
	struct tcp_repair_window win;
	const uint8_t *rcvq;            /* bytes received, not yet read by the app */
	size_t rcvq_len;
	const uint8_t *sndq;            /* bytes sent, not yet acknowledged */
	size_t sndq_len;
	const uint8_t *unsent;          /* bytes written by the app, never sent */
	size_t unsent_len;
};

/* Whether a socket built from st goes live through the one-byte RTT probe
 * (not a window probe, not silently). */
static inline bool cb_sock_probes(const struct cb_sock_state *st)
{
	return (st->flags & CB_SOCK_RTT_PROBE) && !st->sndq_len;
}

/* The length of a cb_sockaddr for bind()/connect(): by its family. */
socklen_t cb_sockaddr_len(const union cb_sockaddr *a);

/*
 * State of an UNBOUND flow from the flow table, with `data` (len bytes, from
 * the ring) as its receive queue.  now_ms: CLOCK_MONOTONIC milliseconds, the
 * clock of the kernel's TCP timestamps and of the XDP program.  IPv4
 * addresses; ESTABLISHED; CB_SOCK_RTT_PROBE (the caller may set
 * CB_SOCK_QUIET instead); a millisecond TS clock.
 */
void cb_state_from_flow(struct cb_sock_state *st, const struct cb_flow_key *key,
			const struct cb_flow *f, const uint8_t *data, size_t len, uint32_t now_ms);

/*
 * Build the socket in repair mode, inert (see above).  Returns the fd or a
 * negative errno, the failing step in *step (step may be NULL); on failure
 * nothing is left open.  -EOPNOTSUPP: tcp_state is not ESTABLISHED;
 * -EAFNOSUPPORT: the addresses are not both AF_INET or both AF_INET6.
 */
int cb_repair_build(const struct cb_sock_state *st, const char **step);

/*
 * Take a socket from cb_repair_build() live: repair off, the RTT probe byte,
 * a window probe or (CB_SOCK_QUIET) nothing, then the unsent bytes.  st must be the state it was
 * built from (the probe decision is made from it again).  0 or a negative
 * errno (step in *step); on failure the fd stays the caller's to close.
 */
int cb_repair_go_live(int fd, const struct cb_sock_state *st, const char **step);

/*
 * Leave repair mode (mode TCP_REPAIR_OFF sends a window probe,
 * TCP_REPAIR_OFF_NO_WP nothing) and give the socket SO_REUSEADDR, which
 * leaving repair mode clears (sk_reuse = SK_NO_REUSE).  A socket the kernel
 * accepts inherits its listener's SO_REUSEADDR, which every server sets; a
 * repaired one without it would leave a TIME_WAIT that refuses the server's
 * own bind() of the service's port for 60 s (seen: python http.server on
 * [VIP6]:80 after connbroker served it).  0 or a negative errno.
 */
int cb_repair_off(int fd, int mode);

/*
 * 1 when connect() seeded fd's first RTO from an RTT the kernel cached for
 * its (local, peer) pair (tcp_metrics: the RTO is below the 3 s it falls
 * back to without one), 0 when not, or a negative errno.  rtt_memo.h says
 * what that is used for.
 */
int cb_repair_rto_seeded(int fd);

/* cb_repair_build() then cb_repair_go_live(): the fd or a negative errno. */
int cb_repair_restore(const struct cb_sock_state *st, const char **step);

/*
 * Dump a live socket (frozen by the caller: no packets should reach it).
 * The queue contents are copied into buffers owned by *st, freed with
 * cb_sock_state_free().  The socket is left in repair mode, so closing it
 * sends nothing.  Packets that still arrive are detected: the queue
 * sequences and lengths are read again after the copy and the dump is redone
 * if they moved; -EAGAIN after CB_REPAIR_DUMP_TRIES attempts.  The state gets
 * CB_SOCK_RTT_PROBE (clear it to go live with a window probe only).
 * 0 or a negative errno.
 */
#define CB_REPAIR_DUMP_TRIES 4
int cb_repair_dump(int fd, struct cb_sock_state *st);
void cb_sock_state_free(struct cb_sock_state *st);

/*
 * For tests: cb_repair_dump() that calls between(arg) after each copy of the
 * queues and before they are checked again, so that a test can change a
 * queue at exactly that moment.
 */
int cb_repair_dump_hook(int fd, struct cb_sock_state *st, void (*between)(void *), void *arg);

#endif
