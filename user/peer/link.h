/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The channel between connbroker nodes: one TLS 1.3 connection per pair of
 * nodes, carrying proto.h frames (docs/peer-protocol.md).
 *
 * Security.  TLS 1.3 with an external PSK shared by the cluster (OpenSSL's
 * PSK session callbacks), cipher TLS_AES_256_GCM_SHA384, key exchange
 * psk_dhe_ke only (every connection gets fresh keys from an ECDHE share),
 * no certificates, no session tickets, no early data.  The PSK identity is
 * "connbroker-node-<id>" of the connecting node; the acceptor takes only
 * identities of configured peers with a lower id.  After the handshake each
 * side sends HELLO first; the other checks that its node id is the one the
 * channel belongs to and its cluster name is ours.  What fails any of this,
 * or sends a frame the codec refuses, is closed, counted (per peer when a
 * configured identity was claimed, else under CB_LINK_ANON) and logged
 * once.  A replayed TLS stream fails at the record layer: the replayed
 * ClientHello gets a fresh ServerHello, so the old Finished record does not
 * decrypt.  Note that every holder of the PSK can claim any node id.
 *
 * Direction.  The node with the lower id connects to the higher one, so a
 * pair has one connection; a failed or lost connection is retried after
 * 100 ms, doubling up to 2 s.
 *
 * Health.  The caller calls cb_links_tick() about every 50 ms.  Every
 * heartbeat_ms the link sends each connected peer a LOAD built by the
 * caller's fill_load().  A peer heard from (any whole frame) is UP; silent
 * for suspect_ms it is SUSPECT (no new flows); silent for down_ms, its
 * channel is closed and it is DOWN, as when the connection is lost.  A
 * SUSPECT peer that speaks is UP again; a DOWN one is UP again once a new
 * channel has passed the handshake and HELLO (a DOWN peer's old session
 * never comes back: its hand-offs must be settled as failed).
 *
 * Everything is non-blocking and runs from the caller's cb_loop: no threads,
 * no global state.  Bounded: CB_LINK_PEERS_MAX peers, CB_LINK_PENDING_MAX
 * connections waiting for their handshake (down_ms each at most; a new one
 * evicts the oldest, so idle connections cannot lock peers out), one
 * frame of CB_MSG_MAX being read per connection, CB_LINK_QUEUE_MAX bytes
 * queued for sending per peer.
 */
#ifndef CB_PEER_LINK_H
#define CB_PEER_LINK_H

#include <stddef.h>
#include <stdint.h>
#include "ctl/loop.h"
#include "peer/proto.h"

#define CB_LINK_PEERS_MAX   64
#define CB_LINK_PENDING_MAX 16
#define CB_LINK_QUEUE_MAX   (4u << 20)
#define CB_LINK_NAME        64
#define CB_LINK_PSK_MIN     32
#define CB_LINK_PSK_MAX     256
#define CB_LINK_ANON        0   /* stats of connections that named no peer */

enum cb_link_state { CB_LINK_DOWN, CB_LINK_SUSPECT, CB_LINK_UP };

/* Why a connection ended: the index of cb_link_stats.closed[]. */
enum cb_link_reason {
	CB_LINK_R_NONE,
	CB_LINK_R_BAD_PSK,      /* the PSK binder or Finished did not verify */
	CB_LINK_R_UNKNOWN_ID,   /* a PSK identity that is not a lower-id peer */
	CB_LINK_R_HANDSHAKE,    /* any other TLS failure before the channel opened
				 * (not TLS at all, garbage, protocol error) */
	CB_LINK_R_RECORD,       /* a record that does not authenticate: replayed,
				 * tampered, or sent with other keys */
	CB_LINK_R_FRAME,        /* a frame the codec refuses */
	CB_LINK_R_HELLO,        /* no HELLO first, a second one, or one whose id or
				 * cluster does not match */
	CB_LINK_R_TIMEOUT,      /* handshake and HELLO not done within down_ms */
	CB_LINK_R_SILENT,       /* nothing heard for down_ms */
	CB_LINK_R_EOF,          /* the other side closed */
	CB_LINK_R_IO,           /* connect, read or write failed (refused, reset) */
	CB_LINK_R_FULL,         /* evicted: the oldest of CB_LINK_PENDING_MAX
				 * connections waiting for a handshake */
	CB_LINK_R_REPLACED,     /* the peer opened a newer channel */
	CB_LINK_R_LOCAL,        /* closed here (cb_links_close) */
	CB_LINK_R_MAX
};

struct cb_link_stats {
	uint64_t connects;      /* connections started (to this peer) or accepted
				 * (CB_LINK_ANON: every accepted one) */
	uint64_t opened;        /* channels that passed handshake and HELLO */
	uint64_t msgs_in, msgs_out;
	uint64_t bytes_in, bytes_out;   /* frame bytes, before TLS */
	uint64_t enobufs;       /* sends refused: queue full */
	uint64_t closed[CB_LINK_R_MAX];
	uint32_t handshake_us;  /* the last channel: TCP up to the peer's HELLO */
};

struct cb_link_peer_cfg {
	uint32_t id;            /* not 0, not ours */
	char name[CB_LINK_NAME];        /* for messages */
	char addr[CB_LINK_NAME];        /* "ip:port", "[v6]:port"; needed for
					 * peers with a higher id */
};

struct cb_links_cfg {
	uint32_t self_id;       /* not 0 */
	const char *cluster;    /* 1..CB_MSG_NAME_MAX bytes */
	const uint8_t *psk;     /* CB_LINK_PSK_MIN..MAX bytes, copied */
	size_t psk_len;
	const char *listen;     /* "ip:port" (port 0: any); NULL: no listener */
	struct cb_link_peer_cfg peers[CB_LINK_PEERS_MAX];
	int n_peers;
	uint32_t heartbeat_ms, suspect_ms, down_ms;     /* 0: 100, 300, 1000 */
};

/*
 * The caller's side.  All may be called from cb_links_tick() or from the
 * loop's callbacks; they may call cb_links_send(), _state(), _stats(), but
 * never cb_links_close().
 */
struct cb_link_ops {
	/* A frame from peer_id.  The peer's HELLO comes first, once per
	 * channel, once checked and just before on_state(UP) (sends to the
	 * peer are refused until then).  m (and a SHIP's image) is valid
	 * during the call only. */
	void (*on_msg)(void *arg, uint32_t peer_id, const struct cb_msg *m);
	/* DOWN -> UP, UP -> SUSPECT, SUSPECT -> UP, UP|SUSPECT -> DOWN. */
	void (*on_state)(void *arg, uint32_t peer_id, int state);
	/* This node's LOAD: per-service figures (seq is set by the link). */
	void (*fill_load)(void *arg, struct cb_msg_load *load);
	/* This node's HELLO: MAC and services (node id and cluster are set by
	 * the link).  NULL: a zero MAC and no services. */
	void (*fill_hello)(void *arg, struct cb_msg_hello *hello);
};

struct cb_links;

/*
 * Check cfg, listen, and return the channels in *out; the first connects
 * start at the first tick.  0, -EINVAL (cfg), -ENOMEM, -EPROTO (OpenSSL
 * refused its setup) or the -errno of socket/bind/listen/cb_loop_add.
 */
int cb_links_open(struct cb_links **out, struct cb_loop *loop, const struct cb_links_cfg *cfg,
		  const struct cb_link_ops *ops, void *arg);

/*
 * Queue m for peer_id and start sending it (the link sets msg_id).  0 once
 * queued (not yet delivered: a lost channel shows as DOWN), -ENOENT (no
 * such peer), -ENOTCONN (no open channel; also when the write failed now),
 * -ENOBUFS (CB_LINK_QUEUE_MAX bytes already queued: the peer does not
 * read), -EINVAL / -EMSGSIZE (cb_msg_encode refused m).
 */
int cb_links_send(struct cb_links *l, uint32_t peer_id, const struct cb_msg *m);
/*
 * Close the channel to peer_id (as CB_LINK_R_LOCAL, `why` logged) at the end
 * of the current event, or at the next tick when called outside one; it is
 * opened again as after any loss.  -ENOENT, -ENOTCONN (none open).
 */
int cb_links_drop(struct cb_links *l, uint32_t peer_id, const char *why);

/* Timers: heartbeats, health, handshake deadlines, reconnects.  now_ms is
 * CLOCK_MONOTONIC in ms (cb_now_ms64()), about every 50 ms. */
void cb_links_tick(struct cb_links *l, uint64_t now_ms);

/* enum cb_link_state; DOWN for an unknown peer. */
int cb_links_state(const struct cb_links *l, uint32_t peer_id);

/* The counters of peer_id, or of CB_LINK_ANON; NULL for an unknown peer. */
const struct cb_link_stats *cb_links_stats(const struct cb_links *l, uint32_t peer_id);

/* The port the listener is bound to (for "ip:0"), or -ENOTCONN. */
int cb_links_port(const struct cb_links *l);

/* Close every connection (no callbacks) and free l; NULL is fine. */
void cb_links_close(struct cb_links *l);

const char *cb_link_state_name(int state);
const char *cb_link_reason_name(int reason);

#endif
