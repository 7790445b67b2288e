/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Types shared by the BPF programs and userspace.  This file is the only
 * definition of every struct that crosses the kernel/user boundary (map keys
 * and values, ring-buffer records).  Fixed-width types, explicit padding, and
 * static size checks at the bottom keep both sides byte-identical.
 *
 * Byte order: fields named *_be are network order (as on the wire); every
 * other field is host order.
 */
#ifndef CONNBROKER_SHARED_H
#define CONNBROKER_SHARED_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* ---- limits (overridable at build time) ----------------------------- */
#ifndef CB_MAX_FLOWS
#define CB_MAX_FLOWS 65536          /* LRU flow table size */
#endif
#ifndef CB_MAX_SERVICES
#define CB_MAX_SERVICES 256
#endif
#ifndef CB_SYN_HINT_BITS
#define CB_SYN_HINT_BITS 16         /* cb_syn_isn: 2^16 slots (768 KiB) for client ISNs of recent SYNs */
#endif
/* slots are named by the cookie's top bits, which must be MAC bits (cookie.h: 23) */
_Static_assert(CB_SYN_HINT_BITS >= 1 && CB_SYN_HINT_BITS <= 23, "CB_SYN_HINT_BITS: 1..23");
#define CB_MAX_SYN_HINTS (1u << CB_SYN_HINT_BITS)
#define CB_SYN_HINT_MS 3000         /* how long a SYN's ISN hint is believed */
/* Hints a CPU leaves per 2^30 ns (~1.07 s).  A hint is a store to a random
 * slot of a 768 KiB table, ~100 ns cold: under a flood it is a third of a
 * SYN's time and the slots turn over before a hint could help; below this
 * rate every SYN leaves one. */
#define CB_SYN_HINT_BUDGET 8192
#define CB_MAX_PEERS 64             /* cb_peers: peer ids 0..63 */
#ifndef CB_MAX_REMOTE
#define CB_MAX_REMOTE 65536         /* cb_remote: flows steered to peers at once */
#endif
#ifndef CB_RING_BYTES
#define CB_RING_BYTES (8u << 20)    /* ring buffer to the controller */
#endif
#define CB_MAX_WORKERS 64           /* controller loops, each with its own ring (cb_rings) */
#define CB_SEG_MAX 9216             /* largest payload one record carries (jumbo MSS) */
#define CB_REC_MAX 8                /* records per segment: 8 x 9216 > a 64 KB GRO packet */

/* ---- addresses: IPv6, and IPv4 as IPv4-mapped IPv6 ------------------ */
/*
 * Every address in a key or record is 16 bytes in network order: an IPv6
 * address, or an IPv4 one mapped as ::ffff:a.b.c.d (RFC 4291 2.5.5.2), so
 * one flow table, one ring record and one controller serve both families.
 * The IPv4 address itself is w[3].
 */
union cb_addr {
	__be32 w[4];
	__u8 b[16];
};

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CB_V4MAPPED_W2 0xffff0000u  /* bytes 00 00 ff ff as a word in memory */
#else
#define CB_V4MAPPED_W2 0x0000ffffu
#endif

static __always_inline int cb_addr_is_v4(const union cb_addr *a)
{
	return a->w[0] == 0 && a->w[1] == 0 && a->w[2] == CB_V4MAPPED_W2;
}

static __always_inline void cb_addr_set_v4(union cb_addr *a, __be32 v4)
{
	a->w[0] = 0;
	a->w[1] = 0;
	a->w[2] = CB_V4MAPPED_W2;
	a->w[3] = v4;
}

/* ---- services: VIP:port entries the programs answer for -------------- */
struct cb_service_key {
	union cb_addr vip;
	__be16 port_be;
	__u16 pad;
};

struct cb_service {
	__u32 id;                   /* index in userspace's service list */
	__u32 flags;                /* reserved, 0 */
};

/* ---- the flow table ------------------------------------------------- */
/* Key is the client->service direction as seen on ingress. */
struct cb_flow_key {
	union cb_addr saddr;        /* client */
	union cb_addr daddr;        /* VIP, of the client's family */
	__be16 sport_be;
	__be16 dport_be;
};

/*
 * The controller worker (0..n-1) that owns a flow: the programs send its
 * records to that worker's ring, and the worker's pending table is the only
 * one that ever holds it.  A function of the client's address and both
 * ports, so a client's connections spread over the workers; the top bits of
 * a multiplicative hash scaled to n (any n, no modulo).  Shared by the
 * programs and the controller: they must agree on every flow.
 */
static __always_inline __u32 cb_flow_shard(const struct cb_flow_key *k, __u32 n)
{
	__u32 h = k->saddr.w[0] ^ k->saddr.w[1] ^ k->saddr.w[2] ^ k->saddr.w[3];

	h ^= ((__u32)k->sport_be << 16) | k->dport_be;
	h *= 0x9e3779b1u;
	h ^= h >> 15;
	h *= 0x85ebca77u;
	return (__u32)(((__u64)h * n) >> 32);
}

/*
 * Flow states, one list for the enum, the names userspace prints (status,
 * metrics labels) and their meaning: X(NAME, value, "name", "meaning").
 * The values are ABI (pinned tables, the controller's compare-and-swap).
 * SHIPPING and REDIRECT live on the director, PENDING on the peer a flow is
 * shipped to, MOVING on the source of a migration.
 */
#define CB_FLOW_STATES(X) \
	X(UNBOUND,  1, "unbound",  "handshake done in XDP, no socket yet") \
	X(LOCAL,    2, "local",    "a kernel socket on this node owns it") \
	X(FROZEN,   3, "frozen",   "being dumped/moved: drop, client retransmits") \
	X(SHIPPING, 4, "shipping", "being shipped to a peer: drop, client retransmits") \
	X(REDIRECT, 5, "redirect", "steered to a peer (cb_remote names it): MACs rewritten, sent back out") \
	X(PENDING,  6, "pending",  "socket built here in repair mode awaits the director's commit: drop both ways") \
	X(MOVING,   7, "moving",   "socket here being dumped for a migration: drop both ways")

#define CB_FLOW_STATE_ENUM(name, val, str, help) CB_FLOW_##name = val,
enum cb_flow_state {
	CB_FLOW_STATES(CB_FLOW_STATE_ENUM)
	CB_FLOW_STATE_MAX           /* one past the largest: arrays indexed by state */
};
#undef CB_FLOW_STATE_ENUM

/* "unbound", "local", ...; "?" for anything else. */
#define CB_FLOW_STATE_CASE(name, val, str, help) case val: return str;
static inline const char *cb_flow_state_name(__u32 state)
{
	switch (state) {
	CB_FLOW_STATES(CB_FLOW_STATE_CASE)
	default: return "?";
	}
}
#undef CB_FLOW_STATE_CASE

/* Everything needed to build a kernel socket for the flow later. */
struct cb_flow {
	__u32 created_ms;           /* bpf_ktime_get_ns() / 1e6 when the ACK validated,
	                             * truncated and odd: never 0, which marks an entry
	                             * userspace made (a flow adopted from a peer) */
	__u32 client_isn;           /* client's SYN sequence number */
	__u32 rcv_nxt;              /* next client byte we expect */
	__u32 snd_nxt;              /* our next sequence number: our ISN (the SYN
	                             * cookie) + 1; it never moves (cb_flow_isn) */
	__u32 ts_recent;            /* last TSval received from the client */
	__u32 ts_offset;            /* our TSval = (ktime_ns / 1e6) + ts_offset */
	__u32 snd_wnd;              /* client's window in bytes (scaled) */
	__u32 rcv_wnd;              /* window offered: right edge = client_isn + 1 + rcv_wnd */
	__u32 bytes_in;             /* payload bytes accepted into the ring */
	__u32 state;                /* enum cb_flow_state; 32 bits for in-place
	                             * compare-and-swap (bpf/cb_ctl.bpf.c) */
	__u16 mss;                  /* client's MSS (from the cookie's table) */
	__u8 snd_wscale;            /* client's window scale, 0..14 */
	__u8 rcv_wscale;            /* ours */
	__u8 opts;                  /* CB_OPT_* negotiated */
	__u8 pad;
	__u16 service_id;
};

/* Our ISN, the SYN cookie. */
static __always_inline __u32 cb_flow_isn(const struct cb_flow *f)
{
	return f->snd_nxt - 1;
}

#define CB_OPT_SACK   0x01
#define CB_OPT_TS     0x02
#define CB_OPT_WSCALE 0x04

/*
 * Receive window left for an UNBOUND flow, in bytes.  Its right edge stays at
 * client_isn + 1 + rcv_wnd: it shrinks as bytes are queued and never goes
 * below 0.  The program advertises it; the socket built later inherits it.
 */
static __always_inline __u32 cb_flow_window_left(const struct cb_flow *f)
{
	return f->bytes_in < f->rcv_wnd ? f->rcv_wnd - f->bytes_in : 0;
}

/* ---- configuration set by the loader ------------------------------- */
struct cb_config {
	__u32 flow_byte_cap;        /* bytes an unbound flow may queue; also the
	                             * receive window offered to it */
	__u32 rst_rate;             /* RSTs per second and CPU answering segments
	                             * of no flow; 0 = never send them */
	__u16 mss;                  /* our MSS offered in the SYN-ACK */
	__u8 wscale;                /* our window scale offered */
	__u8 flags;                 /* CB_CFG_* */
	__u8 own_mac[6];            /* the interface's MAC (the loader reads it):
	                             * h_source of frames steered to a peer; all
	                             * zero: the frame's own h_dest is used */
	__u16 pad;
	__u32 no_ctl_ms;            /* fail closed: once no controller has beaten
	                             * (cb_controller) for this long, SYNs and
	                             * handshake ACKs are answered with an RST;
	                             * 0: held for a controller to come */
	__u32 workers;              /* controller loops (set at a fresh attach):
	                             * 0 or 1, every record to cb_events; more,
	                             * a flow's records to cb_rings[cb_flow_shard()]
	                             * (the worker that owns the flow end to end) */
	__u32 reserved[2];          /* 0; room for settings of later versions
	                             * without a new layout (upgrades in place) */
};

#define CB_CFG_VERIFY_CSUM 0x01     /* check TCP checksums of data before acking it */

/* ---- the controller's heartbeat (cb_controller, one entry) ---------- */
/*
 * The controller writes it every CB_CTL_BEAT_MS; a fresh attach writes the
 * first (pid 0), so a controller started after it has no_ctl_ms to come.
 * A controller that is killed, hangs or never starts stops it: new
 * connections are refused at once instead of being held for nobody (the
 * kernel's answer when nothing listens).  Flows held already keep waiting.
 */
struct cb_ctl_beat {
	__u64 seen_ns;              /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u32 pid;                  /* the controller's (0: written by attach) */
	__u32 pad;
};

#define CB_CTL_BEAT_MS 200
#define CB_NO_CTL_MS_DEFAULT 2000   /* ten beats: a busy loop is not "gone" */

/* A client whose flow is gone (evicted, removed) retransmits a few times with
 * backoff: a thousand RSTs a second per CPU answers every such client within
 * seconds, while a forged-ACK flood is reflected at no more than that. */
#define CB_RST_RATE_DEFAULT 1000

/* Per-CPU token bucket behind cb_config.rst_rate (map cb_rst_bucket): credit
 * in nanoseconds, one RST costs 1e9 / rst_rate, at most one second saved. */
struct cb_rst_bucket {
	__u64 last_ns;              /* bpf_ktime_get_ns() of the last refill */
	__u64 credit_ns;
};


/* ---- steering to peers (docs/architecture.md, the packet path) ------- */
/*
 * cb_peers[id], an array written by the controller only.  A REDIRECT flow
 * names its peer by id, so marking one peer down changes every flow steered
 * to it at once.  All zero (the loader's start) = down, no MAC.  A peer's
 * MAC is changed only while it is down (steer.c enforces it): the programs
 * read `up` and then the MAC without a lock.
 */
struct cb_peer {
	__u8 mac[6];                /* h_dest of frames steered to it */
	__u8 up;                    /* 1: steer; 0: down, segments answered with RST */
	__u8 pad;
	__be32 ip_be;               /* its address (L3 steering later; unused now) */
	__u32 flags;                /* reserved, 0 */
};

/*
 * cb_remote[client->VIP tuple]: every flow steered to a peer, in a hash map
 * that never evicts (cb_flows is an LRU: an evicted REDIRECT entry would
 * black-hole its client).  The controller adds an entry before it sets the
 * flow REDIRECT and removes it after the flow's cb_flows entry; the programs
 * read it when cb_flows has no entry or a REDIRECT one, and only write
 * last_ns, closing_ns and closing_flags in place.  Times: bpf_ktime_get_ns()
 * = CLOCK_MONOTONIC.  closing_ns is a hint, not proof: a client's RST is not
 * validated here (the peer's socket does that), so a flow is removed once it
 * is closing *and* idle (last_ns old), or when its peer reports it closed.
 */
struct cb_remote {
	__u32 peer;                 /* index in cb_peers */
	__u32 epoch;                /* of the move that steered it (the controller's) */
	__u64 created_ns;           /* added (by the controller) */
	__u64 last_ns;              /* last client segment steered or answered */
	__u64 closing_ns;           /* first FIN or RST seen from the client; 0: none */
	__u32 closing_flags;        /* CB_REMOTE_SEEN_*: what was seen */
	__u32 last_ack;             /* ack_seq of the client's last segment: the
	                             * seq of an RST the controller sends it when
	                             * its peer dies (the client may be silent) */
};

#define CB_REMOTE_SEEN_FIN 0x1
#define CB_REMOTE_SEEN_RST 0x2

/* ---- cb_syn_isn: the ISN a recent SYN carried (bpf/lib/maps.h) ------ */
/* The slot of a SYN-ACK's cookie: its top bits, which are MAC bits. */
#define CB_SYN_HINT_SLOT(cookie) ((__u32)(cookie) >> (32 - CB_SYN_HINT_BITS))

struct cb_syn_hint {
	__u32 cookie;               /* the SYN-ACK's ISN: whose hint the slot holds */
	__u32 isn;                  /* the SYN's sequence number */
	__u32 at_ms;                /* bpf_ktime_get_ns() / 1e6 when it came, truncated */
};

/* ---- SYN cookie secrets, rotated by userspace ----------------------- */
struct cb_secrets {
	__u32 key[2][2];            /* two HalfSipHash keys: slot 0 and 1 */
	__u32 current;              /* slot new cookies use; the other still validates */
	__u32 pad;
};

/* ---- what the loader attached (one entry, pinned with the maps) ------ */
enum cb_attach_mode {
	CB_MODE_NATIVE = 1,         /* XDP in the driver */
	CB_MODE_SKB = 2,            /* generic XDP */
	CB_MODE_TC = 3,             /* TC clsact ingress */
};

struct cb_attach_info {
	__u64 attached_at;          /* CLOCK_REALTIME seconds */
	__u32 ifindex;
	__u32 mode;                 /* enum cb_attach_mode */
	__u32 xdp_prog_id;          /* 0 in TC mode */
	__u32 tc_ingress_id;        /* 0 in XDP modes */
	__u32 tc_egress_id;         /* the RST guard, every mode */
	__u32 clsact_created;       /* 1 if the loader created the clsact qdisc */
	__u32 abi;                  /* CB_ABI of the loader that attached */
	__u32 build;                /* a hash of the programs it attached (0: an
	                             * older loader): attaching with other
	                             * programs of the same ABI replaces them in
	                             * place, keeping the maps and every flow */
};

/* ---- in-place state changes (bpf/cb_ctl.bpf.c, run by the controller):
 * cb_flow_cas sets `state` if the flow is in `expect`; cb_flow_cad removes
 * the flow if it is in `expect` and is the incarnation `client_isn` --- */
struct cb_state_req {
	struct cb_flow_key key;
	__u32 expect;               /* enum cb_flow_state the flow must be in */
	__u32 state;                /* the state to set */
	__u32 old_state;            /* out: what it was */
	__s32 result;               /* out: 0 done, -1 not in `expect`, -2 no flow */
	__u32 rcv_nxt;              /* out */
	__u32 bytes_in;             /* out */
	__u32 client_isn;           /* cb_flow_cad: the incarnation to remove */
	__u32 pad;
};

/*
 * Many flows in one run (cb_flow_batch): CB_BATCH_CAS applies item[i].req as
 * cb_flow_cas does; CB_BATCH_GET copies each flow into item[i].flow
 * (req.result 0, or -2 when there is none).  The controller hands off the
 * flows of one ring batch together: one run per step, not one per flow.
 */
#define CB_FLOW_BATCH 32
enum cb_batch_op { CB_BATCH_CAS = 0, CB_BATCH_GET = 1 };

struct cb_batch_item {
	struct cb_state_req req;
	struct cb_flow flow;        /* CB_BATCH_GET: out */
};

struct cb_flow_batch {
	__u32 op;                   /* enum cb_batch_op */
	__u32 n;                    /* items used, up to CB_FLOW_BATCH */
	struct cb_batch_item item[CB_FLOW_BATCH];
};

/* ---- the controller's stash: bytes consumed from the ring, per flow --- */
/*
 * A pinned, mmap-able array owned by the controller: every byte it takes
 * from the ring is written here first, so a controller killed and restarted
 * rebuilds its flows from the pins alone (invariant 4).  `len` is written
 * after the bytes it covers, `used` last on create and first on release.
 */
#define CB_STASH_SLOTS 1024
#define CB_STASH_BYTES 65536        /* also the largest --flow-cap */
#define CB_STASH_SND_NXT 0x1        /* snd_nxt is known */

struct cb_stash_slot {
	struct cb_flow_key key;
	__u32 used;                 /* 1: slot holds a flow */
	__u32 first_seq;            /* client_isn + 1 (from OPEN or the first data) */
	__u32 len;                  /* bytes valid in data[] */
	__u32 snd_nxt;              /* our next sequence number (CB_STASH_SND_NXT) */
	__u32 flags;                /* CB_STASH_* */
	__u8 data[CB_STASH_BYTES];
};

/* ---- ring buffer records to userspace ------------------------------ */
enum cb_event_type {
	CB_EV_DATA = 1,             /* in-order payload of an unbound flow */
	CB_EV_OPEN = 2,             /* a flow entry was created (no payload) */
	CB_EV_CLOSE = 3,            /* FIN or RST removed an unbound flow */
};

struct cb_event {
	struct cb_flow_key key;
	__u32 seq;                  /* sequence number of data[0] */
	__u64 ts_ns;                /* bpf_ktime_get_ns() at the hook */
	__u16 len;                  /* payload bytes following the header */
	__u8 type;                  /* enum cb_event_type */
	__u8 flags;                 /* CLOSE: 1 = RST, 0 = FIN */
	__u32 snd_nxt;              /* OPEN, DATA: our next sequence number, what an
	                             * RST to this client must carry (kept in the
	                             * stash, for a flow whose entry vanished) */
	/* __u8 data[len] follows */
};

/* ---- per-CPU counters: every verdict is counted -------------------- */
#define CB_STATS(X) \
	X(PKT_SEEN,          "packets parsed by the core") \
	X(PASS_NOT_IP,       "passed: neither IPv4 nor IPv6") \
	X(PKT_IPV6,          "IPv6 packets parsed (also counted in pkt_seen)") \
	X(PASS_NOT_TCP,      "passed: not TCP") \
	X(PASS_FRAGMENT,     "passed: IPv4 fragment, or IPv6 with a fragment header") \
	X(PASS_IPV6_EXT,     "passed: IPv6 extension header not walked (routing with segments left, AH, ESP, more than 4 or 512 bytes)") \
	X(PASS_NOT_SERVICE,  "passed: not a configured service") \
	X(PASS_LOCAL,        "passed: flow owned by a local socket") \
	X(LOCAL_REUSED,      "SYN on the tuple of a closed local socket: new flow") \
	X(PASS_NO_CONFIG,    "passed: config or secrets map missing") \
	X(PASS_MALFORMED,    "passed: truncated or malformed header (not ours)") \
	X(DROP_MALFORMED,    "dropped: malformed segment of a held flow") \
	X(DROP_BAD_OPTIONS,  "dropped: malformed TCP options") \
	X(SYN_COOKIE_SENT,   "SYN answered with a SYN-cookie SYN-ACK") \
	X(SYN_NO_CONTROLLER, "SYN to a service while no controller runs (fail closed: no beat for no_ctl_ms): refused as a segment of no connection (then rst_no_flow or rst_rate_limited)") \
	X(SYN_WITH_DATA,     "SYN carried payload (ignored, not acked)") \
	X(SYN_TX_FAIL,       "dropped: could not build the SYN-ACK") \
	X(ACK_COOKIE_OK,     "ACK with a valid cookie: flow created") \
	X(ACK_COOKIE_LATE,   "cookie ACK not at the client ISN + 1 (its handshake ACK and first data lost): checked with its SYN's ISN (cb_syn_isn), flow created, then dup-acked") \
	X(ACK_NO_CONTROLLER, "cookie ACK while no controller runs (fail closed): no flow created, refused as a segment of no connection (then rst_no_flow or rst_rate_limited)") \
	X(ACK_COOKIE_BAD,    "ACK with a bad or expired cookie, no kernel socket (then rst_no_flow or rst_rate_limited)") \
	X(FLOW_INSERT_FAIL,  "dropped: flow table insert failed") \
	X(DATA_QUEUED,       "data segment sent to the ring and acked") \
	X(DATA_BYTES,        "payload bytes sent to the ring") \
	X(DATA_OUT_OF_ORDER, "dropped unacked: out-of-order data") \
	X(DATA_DUP,          "old data re-acked (retransmission)") \
	X(DATA_OVER_CAP,     "dropped unacked: past the offered window (byte cap)") \
	X(DATA_TOO_BIG,      "dropped unacked: segment larger than 8 records") \
	X(DATA_RING_FULL,    "dropped unacked: ring buffer full") \
	X(DATA_BAD_CSUM,     "dropped unacked: bad TCP checksum") \
	X(DATA_PAWS,         "dup-acked: timestamp older than the last accepted (PAWS)") \
	X(DROP_BAD_ACK,      "dropped: held-flow segment not acking our SYN exactly") \
	X(DROP_BAD_SEQ,      "dropped: RST outside the window") \
	X(CHALLENGE_ACK,     "challenge ACK for a SYN or in-window RST (RFC 5961)") \
	X(PURE_ACK,          "pure ACK on an unbound flow consumed") \
	X(FIN_UNBOUND,       "FIN on an unbound flow: flow removed, RST sent") \
	X(RST_UNBOUND,       "RST at rcv_nxt on an unbound flow: flow removed") \
	X(DROP_FROZEN,       "dropped: flow frozen for a move") \
	X(DROP_SHIPPING,     "dropped unacked: flow being shipped to a peer (the client retransmits)") \
	X(DROP_PENDING,      "dropped: socket built here awaits the director's commit") \
	X(DROP_MOVING,       "dropped: socket here being dumped for a migration") \
	X(REDIRECTED,        "steered to its peer: both MACs rewritten, sent back out") \
	X(REDIRECT_BY_REMOTE,"steered by cb_remote alone: no cb_flows entry (evicted), also counted in redirected") \
	X(REDIRECT_REUSED,   "cookie ACK on the tuple of a steered flow its client closed: steering dropped") \
	X(REDIRECT_CLOSING,  "steered segment with FIN or RST: flow marked closing in cb_remote, also counted in redirected") \
	X(REDIRECT_PEER_DOWN_RST, "RST sent: steered flow whose peer is down or unknown (seq = the segment's ack_seq)") \
	X(DROP_REDIRECT_PEER_DOWN, "dropped: RST of a steered flow whose peer is down (an RST is never answered)") \
	X(DROP_REDIRECT_NO_REMOTE, "dropped: REDIRECT flow without its cb_remote entry (the controller adds it first)") \
	X(DROP_REDIRECT_FAIL,"dropped: could not rewrite a steered frame's MACs") \
	X(EVENT_LOST,        "open/close event not delivered: ring full") \
	X(PASS_KERNEL_SOCK,  "passed: bad cookie but a kernel socket owns the tuple") \
	X(DROP_REPLY_FAIL,   "dropped: could not build the ACK reply") \
	X(REPLY_GROWN_AT_TAIL, "XDP reply grown at the tail: no headroom in front of the frame") \
	X(RST_NO_FLOW,       "RST sent: segment of no flow, no kernel socket, no valid cookie") \
	X(RST_RATE_LIMITED,  "dropped: segment of no flow, RST not sent (rate limit or rst_rate 0)") \
	X(DROP_RST_NO_FLOW,  "dropped: RST of no flow (an RST is never answered)") \
	X(EGRESS_RST_BLOCKED,"egress: kernel RST for a held flow (unbound, frozen, shipping) dropped") \
	X(EGRESS_PENDING_DROP, "egress: packet of a PENDING flow dropped (its socket is not committed)") \
	X(EGRESS_MOVING_DROP,  "egress: packet of a MOVING flow dropped (its socket is being moved)") \
	X(EGRESS_PASS,       "egress: passed") \
	X(SYN_HINT_SKIPPED,  "SYN answered without leaving its ISN hint: over this CPU's CB_SYN_HINT_BUDGET a second (a flood; the cookie alone validates the ACK)")

#define CB_STAT_ENUM(name, help) CB_STAT_##name,
enum cb_stat {
	CB_STATS(CB_STAT_ENUM)
	CB_STAT_MAX
};
#undef CB_STAT_ENUM

/* cb_stats has room for counters of later versions: adding one keeps the
 * layout (upgrades in place keep the pins and every flow). */
#define CB_STAT_SLOTS 128
_Static_assert(CB_STAT_MAX <= CB_STAT_SLOTS, "cb_stats: more counters than slots");

/* ---- static layout checks ------------------------------------------ */
_Static_assert(sizeof(union cb_addr) == 16, "cb_addr layout");
_Static_assert(sizeof(struct cb_service_key) == 20, "cb_service_key layout");
_Static_assert(sizeof(struct cb_flow_key) == 36, "cb_flow_key layout");
_Static_assert(sizeof(struct cb_flow) == 48, "cb_flow layout");
_Static_assert(sizeof(struct cb_config) == 36, "cb_config layout");
_Static_assert(sizeof(struct cb_ctl_beat) == 16, "cb_ctl_beat layout");
_Static_assert(sizeof(struct cb_peer) == 16, "cb_peer layout");
_Static_assert(sizeof(struct cb_remote) == 40, "cb_remote layout");
_Static_assert(sizeof(struct cb_secrets) == 24, "cb_secrets layout");
_Static_assert(sizeof(struct cb_syn_hint) == 12, "cb_syn_hint layout");
_Static_assert(sizeof(struct cb_rst_bucket) == 16, "cb_rst_bucket layout");
_Static_assert(sizeof(struct cb_event) == 56, "cb_event layout");
_Static_assert(sizeof(struct cb_attach_info) == 40, "cb_attach_info layout");
_Static_assert(sizeof(struct cb_stash_slot) % 8 == 0, "cb_stash_slot: mmap stride");

/* Changes whenever a pinned map's layout or size does: pins of another
 * build are replaced on attach (with a warning: their flows are dropped)
 * instead of being reused with the wrong shape; the same CB_ABI is what an
 * upgrade in place needs.  A polynomial over every term, so that two
 * changes cannot cancel out as they could in a XOR. */
#define CB_ABI_MIX(h, v) ((__u32)(h) * 1000003u + (__u32)(v))
#define CB_ABI ((__u32)CB_ABI_MIX(CB_ABI_MIX(CB_ABI_MIX(CB_ABI_MIX(CB_ABI_MIX(CB_ABI_MIX(CB_ABI_MIX(     \
	CB_ABI_MIX(CB_ABI_MIX(CB_ABI_MIX(CB_ABI_MIX(CB_ABI_MIX(CB_ABI_MIX(CB_ABI_MIX(        \
	CB_ABI_MIX(CB_ABI_MIX(CB_ABI_MIX(CB_ABI_MIX(CB_ABI_MIX(CB_ABI_MIX(5,                  \
	CB_FLOW_STATE_MAX), sizeof(struct cb_flow)), sizeof(struct cb_peer)),                 \
	sizeof(struct cb_event)), sizeof(struct cb_config)), sizeof(struct cb_remote)),       \
	CB_STAT_SLOTS), sizeof(struct cb_stash_slot)), sizeof(struct cb_flow_key)),           \
	sizeof(struct cb_service_key)), sizeof(struct cb_ctl_beat)), CB_MAX_FLOWS),           \
	CB_MAX_SERVICES), CB_MAX_SYN_HINTS), CB_MAX_PEERS), CB_MAX_REMOTE), CB_RING_BYTES),  \
	CB_STASH_SLOTS), CB_STASH_BYTES), sizeof(struct cb_syn_hint)))

#endif /* CONNBROKER_SHARED_H */
