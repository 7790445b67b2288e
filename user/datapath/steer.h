/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Steering flows to peers, as the controller sees it: the peers map
 * (cb_peers: id -> MAC, up/down), the map of flows steered to them
 * (cb_remote: never evicted) and the director's own MAC (cb_config).
 * Every function returns 0 or -errno and prints nothing.  The states
 * themselves change through datapath/flows.h (compare-and-swap).
 *
 * Order of a hand-off on the director (the packet path: docs/architecture.md):
 *   cb_flows_cas(UNBOUND -> SHIPPING)     segments dropped, client retransmits
 *   ... ship, the peer answers PREPARED ...
 *   cb_remote_add(key, peer, epoch)       the entry exists before the state
 *   cb_flows_cas(SHIPPING -> REDIRECT)    segments now go to the peer
 * and its end, once closing and idle or reported closed by the peer:
 *   cb_flows_delete_if(REDIRECT, client_isn)
 *   cb_remote_remove(key, epoch)          last: until then cb_remote steers
 */
#ifndef CB_STEER_H
#define CB_STEER_H

#include <stdint.h>
#include <connbroker/shared.h>

struct cb_steer {
	int peers_fd;                   /* pinned cb_peers */
	int remote_fd;                  /* pinned cb_remote */
	int cfg_fd;                     /* pinned cb_config */
};

/* Open the maps of an attached interface; cb_steer_close() in any case. */
int cb_steer_open(struct cb_steer *s, const char *ifname);
void cb_steer_close(struct cb_steer *s);

/* The MAC the loader put in cb_config (h_source of steered frames). */
int cb_steer_own_mac(const struct cb_steer *s, uint8_t mac[6]);
/*
 * The MAC of ifname in this network namespace (SIOCGIFHWADDR on a socket:
 * /sys/class/net shows the namespace that mounted sysfs, not ours under
 * nsenter --net).  -errno, e.g. -ENODEV.
 */
int cb_if_hwaddr(const char *ifname, uint8_t mac[6]);
/* The programs' clock (bpf_ktime_get_ns() = CLOCK_MONOTONIC), in ns. */
uint64_t cb_steer_now_ns(void);

/*
 * Set peer `id` (< CB_MAX_PEERS, else -EINVAL): its MAC, address (network
 * order, unused by the programs yet) and whether flows go to it.  A peer
 * that is up keeps its MAC: changing it returns -EBUSY (mark it down first,
 * the programs read the MAC without a lock).
 */
int cb_peer_set(const struct cb_steer *s, uint32_t id, const uint8_t mac[6], uint32_t ip_be,
		int up);
/* Mark a peer up (1) or down (0); its flows follow at once.  -EINVAL for a bad id. */
int cb_peer_set_up(const struct cb_steer *s, uint32_t id, int up);
int cb_peer_get(const struct cb_steer *s, uint32_t id, struct cb_peer *out);

/*
 * Record a flow steered to `peer` by the move `epoch` (created_ns = last_ns
 * = now, not closing).  last_ack: the client's next expected sequence so
 * far (our snd_nxt), until its segments update it: the RST it gets if the
 * peer dies must land in its window even if it never spoke again.  -EEXIST
 * when the tuple has an entry, -ENOSPC when the map is full
 * (CB_MAX_REMOTE), -EINVAL for a peer id out of range.
 */
int cb_remote_add(const struct cb_steer *s, const struct cb_flow_key *k, uint32_t peer,
		  uint32_t epoch, uint32_t last_ack);
/*
 * Steer a flow that moves between peers: the entry of move old_epoch to
 * old_peer now names `peer` and `epoch` (last_ack and closing kept).  0,
 * -ENOENT, -EAGAIN (the entry is not that move), -EINVAL (peer id).
 */
int cb_remote_move(const struct cb_steer *s, const struct cb_flow_key *k, uint32_t old_peer,
		   uint32_t old_epoch, uint32_t peer, uint32_t epoch);
/* 0, or -ENOENT. */
int cb_remote_lookup(const struct cb_steer *s, const struct cb_flow_key *k,
		     struct cb_remote *out);
/*
 * Remove the entry if it is still the move `epoch`: 0, -ENOENT, -EAGAIN (a
 * newer move owns the tuple).  The programs never create or delete entries,
 * so checking and deleting here is not racy.
 */
int cb_remote_remove(const struct cb_steer *s, const struct cb_flow_key *k, uint32_t epoch);

/*
 * Call fn for every entry (in batches; fn may remove the entry it is given).
 * fn returns non-zero to stop; that value is returned.  Else 0 or -errno.
 */
typedef int (*cb_remote_fn)(const struct cb_flow_key *k, const struct cb_remote *r, void *arg);
int cb_remote_foreach(const struct cb_steer *s, cb_remote_fn fn, void *arg);

/* For metrics and sweeping. */
struct cb_remote_stats {
	unsigned long total;
	unsigned long closing;          /* closing_ns set */
	unsigned long closing_before;   /* closing_ns set and older than the cutoff */
	unsigned long by_peer[CB_MAX_PEERS];
};
/* Count the entries; `closing_before_ns` is a cb_steer_now_ns() time. */
int cb_remote_stats(const struct cb_steer *s, uint64_t closing_before_ns,
		    struct cb_remote_stats *st);

#endif
