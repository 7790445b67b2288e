/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Attach and detach connbroker on one interface.  Both return 0 or a
 * negative errno, and have already printed a message naming the interface
 * and the step that failed.  A failed attach leaves nothing behind.
 */
#ifndef CB_LOADER_H
#define CB_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include <connbroker/shared.h>

#define CB_TC_HANDLE 0xcb
#define CB_TC_PRIO 0xcb

struct cb_attach_opts {
	const char *ifname;
	uint32_t mode;                          /* enum cb_attach_mode */
	const struct cb_service_key *services;
	size_t n_services;
	struct cb_config cfg;
	int replace;                            /* replace the programs of a live
						 * attachment even if they are this
						 * build's (attach --replace) */
	uint32_t max_flows;                     /* the flow table's entries at a
						 * fresh attach (0: CB_MAX_FLOWS);
						 * a live attachment keeps its own */
};

#define CB_FLOWS_MIN 1024u
#define CB_FLOWS_MAX 16777216u

void cb_config_defaults(struct cb_config *cfg);
/*
 * The MSS and window scale the kernel itself would offer on ifname in this
 * namespace (MSS = MTU - 40; wscale from tcp_rmem[2] and rmem_max, as
 * tcp_select_initial_window() computes it), so a socket connbroker builds
 * negotiates what an accepted one would.  Leaves cfg's values where a
 * figure cannot be read.
 */
void cb_config_like_kernel(struct cb_config *cfg, const char *ifname);
/*
 * Attach, or, over a live attachment of the same map layout (CB_ABI) and
 * mode: update config and services, and when its programs are another
 * build's (or o->replace), load this build's against the pinned maps and
 * swap them in atomically (XDP_FLAGS_REPLACE, tc replace at the same
 * handle): no packet sees no program, every flow and counter stays.
 */
int cb_attach(const struct cb_attach_opts *o);
/* A hash of the BPF objects built into this binary (cb_attach_info.build). */
uint32_t cb_build_id(void);
/* 0 when detached, also when nothing was attached (*was_attached = 0). */
int cb_detach(const char *ifname, int *was_attached);
/*
 * Remove connbroker programs from ifname that no pins of this namespace
 * record (orphans: pins removed by hand, or left by a crashed build): an XDP
 * program named cb_xdp, and TC filters at connbroker's handle and priority
 * running cb_tc_*.  Programs of other tools are left alone.  Returns how
 * many were removed, or -errno.
 */
int cb_detach_orphans(const char *ifname);
/* Replace the services map of an attached interface with this set. */
int cb_services_replace(int map_fd, const struct cb_service_key *svcs, size_t n);
/* Put a fresh random key in the idle slot and make it current. */
int cb_secret_rotate(int secrets_fd);
/* Read the attach record of ifname (pinned); 0 or negative errno. */
int cb_attach_info_read(const char *ifname, struct cb_attach_info *info);
/* Is what the record names still attached to the interface? */
int cb_attachment_live(const struct cb_attach_info *info);
/*
 * Is ifname still attached, as it was?  0, -ENODEV (the interface is gone
 * or was replaced), -ENOLINK (not attached any more: detached, or our
 * programs were removed).
 */
int cb_attach_check(const char *ifname);
/* The services ifname answers for (at most max): how many, or -errno. */
int cb_services_read(const char *ifname, struct cb_service_key *out, size_t max);

#endif
