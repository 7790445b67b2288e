/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Flows between their first record and their hand-off.  Each one's bytes
 * live in the pinned stash slot of the same index (slot->data/len/first_seq),
 * so a restarted controller finds them; the rest is rebuilt on restart.
 * Bounded: CB_PENDING_MAX flows, CB_PENDING_PER_SOURCE of them from one
 * client address.  Lookups by tuple and counts by source are O(1) (chained
 * hashes over the fixed slots); flows with bytes not yet classified are a
 * bitmap, so finding them costs a word per 64 slots, not a scan.
 */
#ifndef CB_PENDING_H
#define CB_PENDING_H

#include <stddef.h>
#include <stdint.h>
#include <connbroker/shared.h>

#define CB_PENDING_MAX CB_STASH_SLOTS
#define CB_PENDING_PER_SOURCE (CB_PENDING_MAX / 4)
#define CB_PENDING_BUCKETS (2 * CB_PENDING_MAX)

enum cb_pend_state { P_FREE = 0, P_ASSEMBLING, P_WAITING, P_SHIPPING };

/* Where a flow goes: indexes into the configuration (rule -1: the default). */
struct cb_decision {
	int service, rule, app;
};

struct pending {
	enum cb_pend_state state;
	struct cb_flow_key key;
	struct cb_stash_slot *slot;
	uint64_t first_ms;              /* when the first byte arrived here */
	uint64_t first_xdp_ns;          /* first byte at the hook (0: unknown) */
	uint64_t first_read_ns;         /* when its record was read here */
	int held_fd1;                   /* its live socket that no app instance
					 * took yet, + 1 (0: none; a zeroed entry
					 * holds nothing) */
	int was_held;                   /* held once: counted once */
	uint64_t wait_since_ms;
	struct cb_decision d;           /* valid once P_WAITING */
	int closed;                     /* the client closed while we handed it off */
	int busy;                       /* being handed off, or queued for it: a
					 * CLOSE record marks it closed, an OPEN
					 * leaves it (its owner frees it) */
	/* P_SHIPPING: on its way to a peer (ctl/cluster_ship.c) */
	int ship_node;                  /* the node it went to (cfg->nodes index) */
	uint32_t epoch;                 /* of its latest move; 0: never moved */
	uint64_t ship_until_ms;         /* no PREPARED by then: abort */
	uint64_t ship_ns;               /* the SHIP left (stage timing) */
	uint32_t ship_snd_nxt, ship_rcv_nxt;    /* the flow's numbers as shipped */
	uint64_t tried;                 /* nodes that refused or failed it (bits) */
	int placed;                     /* placed once already (later: re-placed) */
	int dirty;                      /* new bytes since the last classification
					 * (cb_pending_mark(): its bit is set too) */
	int16_t next;                   /* hash chain by tuple */
};

struct cb_pending_src {
	union cb_addr src;              /* IPv4 address, or IPv6 /64 */
	uint16_t count;
	int16_t next;                   /* hash chain, or free list */
};

struct cb_pending {
	struct pending p[CB_PENDING_MAX];
	struct cb_stash_slot *stash;    /* CB_PENDING_MAX slots, mmap of the pinned map */
	int16_t by_key[CB_PENDING_BUCKETS];
	int16_t by_src[CB_PENDING_BUCKETS];
	struct cb_pending_src src[CB_PENDING_MAX];
	int16_t src_free;
	unsigned int used;
	int lo, hi;                     /* the slots this table may take: a
					 * worker's share of the stash */
	uint64_t dirty[CB_PENDING_MAX / 64];    /* bit i: p[i].dirty */
};

/* stash: CB_PENDING_MAX slots (the pinned map, or any array in tests). */
void cb_pending_init(struct cb_pending *t, struct cb_stash_slot *stash);
/*
 * The same over the slots [lo, hi) only: worker `lo / (hi - lo)` of a
 * controller with several, which shares the stash with the others but
 * never a slot.  Its per-source bound is a quarter of its share.
 */
void cb_pending_init_range(struct cb_pending *t, struct cb_stash_slot *stash, int lo, int hi);
/* The flows from one source this table takes at most. */
unsigned int cb_pending_per_source(const struct cb_pending *t);
struct pending *cb_pending_find(struct cb_pending *t, const struct cb_flow_key *k);
/* A new flow: 0, -ENOSPC (table full) or -EDQUOT (its source holds its share). */
int cb_pending_create(struct cb_pending *t, const struct cb_flow_key *k, uint64_t now_ms,
		      struct pending **out);
/* Release p and its stash slot (no-op when already free). */
void cb_pending_free(struct cb_pending *t, struct pending *p);
/*
 * What the flow's records tell besides bytes, kept in the stash: the
 * client's first sequence number (client_isn + 1) and our snd_nxt, so a
 * flow whose entry vanishes (evicted) can still be reset.  First values win.
 */
void cb_pending_note(struct pending *p, uint32_t first_seq, uint32_t snd_nxt);
/* p has bytes to classify again. */
void cb_pending_mark(struct cb_pending *t, struct pending *p);
/* A marked flow, unmarked, lowest slot first; NULL when none is. */
struct pending *cb_pending_take_dirty(struct cb_pending *t);
/* Our snd_nxt and the client's next byte, for an RST; 0, or -ENOENT if unknown. */
int cb_pending_rst_seqs(const struct pending *p, uint32_t *seq, uint32_t *ack);
/* Append a record's bytes: 0, -EPROTO (a gap: records were lost) or -EMSGSIZE. */
int cb_pending_append(struct pending *p, uint32_t seq, const uint8_t *data, size_t n);
/* After a restart: every used stash slot of the table's share becomes a
 * flow to finish; returns how many.  A slot whose tuple keep() refuses
 * (another worker's flow: arg says whose) is let go. */
int cb_pending_recover(struct cb_pending *t, uint64_t now_ms,
		       int (*keep)(const struct cb_flow_key *k, void *arg), void *arg);
/* Flows in `state` (for a service, or any with service < 0). */
unsigned int cb_pending_count(const struct cb_pending *t, enum cb_pend_state state, int service);
/* Flows from one client's source: its IPv4 address, or its IPv6 /64. */
unsigned int cb_pending_from(const struct cb_pending *t, const union cb_addr *client);

/*
 * A socket built for p that no app instance took (every one busy or gone):
 * kept with p while it waits, offered again; cb_pending_free() resets one
 * still held (nobody will deliver it: never a silent close).
 */
static inline void cb_pending_hold(struct pending *p, int fd)
{
	p->held_fd1 = fd + 1;
}

/* The socket held for p (no longer p's), or -1. */
static inline int cb_pending_take_held(struct pending *p)
{
	int fd = p->held_fd1 - 1;

	p->held_fd1 = 0;
	return fd;
}

#endif
