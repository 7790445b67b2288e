/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Map definitions, included by every BPF object.  The loader pins each map
 * by name under /sys/fs/bpf/connbroker/<ifname>/, and the second object it
 * loads (the TC one) reuses those pins, so XDP and TC share one flow table.
 */
#ifndef CB_MAPS_H
#define CB_MAPS_H

#include <connbroker/shared.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CB_MAX_SERVICES);
	__type(key, struct cb_service_key);
	__type(value, struct cb_service);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} cb_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CB_MAX_FLOWS);
	__type(key, struct cb_flow_key);
	__type(value, struct cb_flow);
} cb_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cb_config);
} cb_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cb_secrets);
} cb_secrets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CB_STAT_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} cb_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CB_RING_BYTES);
} cb_events SEC(".maps");

/*
 * With cb_config.workers > 1, worker i's ring at index i (cb_events itself
 * at 0); the attach puts them here.  Empty otherwise: cb_events alone.
 */
struct cb_ring_inner {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CB_RING_BYTES);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, CB_MAX_WORKERS);
	__type(key, __u32);
	__array(values, struct cb_ring_inner);
} cb_rings SEC(".maps");

/* Peers flows are steered to, by id; written by the controller only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CB_MAX_PEERS);
	__type(key, __u32);
	__type(value, struct cb_peer);
} cb_peers SEC(".maps");

/*
 * Flows steered to peers, never evicted (shared.h, struct cb_remote).  The
 * controller adds and removes entries; the programs never create one.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CB_MAX_REMOTE);
	__type(key, struct cb_flow_key);
	__type(value, struct cb_remote);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} cb_remote SEC(".maps");

/*
 * The ISN of a recent SYN, found by the cookie our SYN-ACK carried: a hint,
 * never proof.  A cookie is checked against the ISN the first segment after
 * the handshake implies (seq - 1); when the handshake's ACK and the first
 * data were both lost, the next segment arrives further on and that guess
 * fails.  The cookie is then checked once more against the ISN its SYN
 * carried, kept here, if the hint is at most CB_SYN_HINT_MS old and the
 * segment lies within the window the SYN-ACK offered.  The MAC still
 * decides.
 *
 * Direct-mapped by the cookie's top (MAC) bits, CB_SYN_HINT_SLOT(): the
 * ACK knows the cookie (ack_seq - 1), so no hash of the tuple and no lock;
 * a write is three stores where an LRU hash update cost 167 ns of a 393 ns
 * SYN (make bench, 1b).  A later SYN whose cookie falls in the same slot
 * replaces the hint, as a flood evicts it: the check then falls back to
 * seq - 1 alone, as Linux's syncookies do.  Slots are written without a
 * lock by every CPU: a torn slot (one SYN's cookie, another's ISN) only
 * fails the MAC.  A flow's creation spends its hint (the tag no longer
 * matches), so a segment that outlives its flow still meets an RST (on
 * another director behind ECMP the hint lives on, CB_SYN_HINT_MS at most).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CB_MAX_SYN_HINTS);
	__type(key, __u32);
	__type(value, struct cb_syn_hint);
} cb_syn_isn SEC(".maps");

/* One token bucket per CPU for RSTs to segments of no flow (core.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cb_rst_bucket);
} cb_rst_bucket SEC(".maps");

/* Written by the controller only (mmap); pinned so it outlives it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CB_STASH_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct cb_stash_slot);
} cb_stash SEC(".maps");

/* The controller's heartbeat (shared.h: struct cb_ctl_beat): written by the
 * controller, and once by a fresh attach; read on the SYN and cookie paths. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cb_ctl_beat);
} cb_controller SEC(".maps");

/* Written by the loader only: what is attached, for status and detach. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cb_attach_info);
} cb_attach SEC(".maps");

/*
 * Per-CPU scratch: one ring record is assembled here, then copied out.  The
 * data area is a power of two above CB_SEG_MAX so that a mask (CB_CLAMP)
 * can prove lengths in bounds to the verifier without changing them.
 */
#define CB_SEG_BUF 16384
_Static_assert((CB_SEG_BUF & (CB_SEG_BUF - 1)) == 0 && CB_SEG_BUF >= CB_SEG_MAX,
	       "CB_SEG_BUF must be a power of two >= CB_SEG_MAX");

struct cb_scratch {
	struct cb_event ev;
	__u8 data[CB_SEG_BUF];
	__u8 tcph[64];          /* the TCP header, for its checksum (off the stack) */
	__u8 reply[128];        /* the reply frame being built (reply.h; off the stack) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cb_scratch);
} cb_scratch_map SEC(".maps");

/* This CPU's SYN hints (core.h, cb_syn_hint_budget): a map of its own, not
 * a field of cb_scratch, whose pinned size an upgrade in place must keep. */
struct cb_hint_budget {
	__u32 window;           /* the 2^30 ns window ... */
	__u32 writes;           /* ... and the hints left in it (CB_SYN_HINT_BUDGET) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cb_hint_budget);
} cb_syn_budget SEC(".maps");

static __always_inline void cb_count(enum cb_stat s)
{
	__u32 k = s;
	__u64 *v = bpf_map_lookup_elem(&cb_stats, &k);

	if (v)
		*v += 1;        /* per-CPU slot: no atomics needed */
}

static __always_inline void cb_count_n(enum cb_stat s, __u64 n)
{
	__u32 k = s;
	__u64 *v = bpf_map_lookup_elem(&cb_stats, &k);

	if (v)
		*v += n;
}

#endif /* CB_MAPS_H */
