/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Cluster membership behind one interface: the set of nodes (id, name,
 * control address, MAC, services) comes from a provider.  The only provider
 * today is the configuration file, which the caller parses into a struct
 * cb_members (cb_members_config); etcd could be another (design note §7)
 * without changing the callers.  Pure: no I/O here.
 *
 * A struct cb_members is large (~270 KiB): allocate it, do not put it on
 * the stack.
 */
#ifndef CB_PEER_MEMBERS_H
#define CB_PEER_MEMBERS_H

#include <stdbool.h>
#include <stdint.h>
#include "peer/link.h"
#include "peer/proto.h"

#define CB_MEMBERS_MAX (CB_LINK_PEERS_MAX + 1)  /* the peers and this node */

struct cb_member {
	uint32_t id;                    /* not 0 */
	char name[CB_LINK_NAME];        /* not empty */
	char addr[CB_LINK_NAME];        /* control address, "ip:port" */
	bool mac_auto;                  /* "auto": learned from its HELLO */
	uint8_t mac[6];
	uint32_t n_services;
	char services[CB_MSG_SVC_MAX][CB_MSG_NAME_MAX + 1];
};

struct cb_members {
	int n;
	struct cb_member m[CB_MEMBERS_MAX];
};

struct cb_members_ops {
	/* Fill out with the current set of nodes: 0 or -errno. */
	int (*load)(void *src, struct cb_members *out);
};

/* The configuration file's members: src is the struct cb_members the
 * caller filled while parsing it; load copies it. */
extern const struct cb_members_ops cb_members_config;

/*
 * Load the set through ops, then check it: 0, the provider's -errno, or
 * -EINVAL (an id 0 or twice, an empty or repeated name, a name or address
 * without its NUL, more than CB_MSG_SVC_MAX services).  *out is undefined on
 * error.
 */
int cb_members_load(const struct cb_members_ops *ops, void *src, struct cb_members *out);

const struct cb_member *cb_members_find(const struct cb_members *ms, uint32_t id);

/* "02:00:5e:00:00:01" or "auto": 0 or -EINVAL. */
int cb_member_set_mac(struct cb_member *m, const char *s);

/*
 * The link's peers: every member but self_id.  0, -ENOENT (self_id is not a
 * member), -E2BIG (more than CB_LINK_PEERS_MAX others).
 */
int cb_members_to_links(const struct cb_members *ms, uint32_t self_id, struct cb_links_cfg *cfg);

/*
 * A checked HELLO from member h->node_id: an "auto" MAC is learned from it.
 * 0, -ENOENT (not a member), -EPROTO (its MAC is not the configured one).
 */
int cb_members_hello(struct cb_members *ms, const struct cb_msg_hello *h);

#endif
