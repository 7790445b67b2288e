/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Where connbroker pins its maps (one directory per interface and network
 * namespace: include/connbroker/paths.h), and where a controller keeps its
 * socket and lock.  Only datapath/ and the controller's setup use these.
 */
#ifndef CB_PINS_H
#define CB_PINS_H

#include <stddef.h>
#include <stdint.h>

#define CB_BPFFS "/sys/fs/bpf"
#define CB_PIN_ROOT CB_BPFFS "/connbroker"
#define CB_RUN_ROOT "/run/connbroker"

/* Mount bpffs at /sys/fs/bpf when it is absent (fresh machines). */
int cb_bpffs_ensure(void);
/*
 * buf = this namespace's pin directory of ifname [/name]; -ENAMETOOLONG
 * instead of truncating.
 */
int cb_pin_path(char *buf, size_t len, const char *ifname, const char *name);
/* Create the pin directory of ifname (and its parents); 0 or -errno. */
int cb_pin_dir_create(const char *ifname);
int cb_pin_dir_exists(const char *ifname);
struct bpf_object;
/*
 * Point every map of obj at its pin under ifname's directory (reused on
 * load).  The flow table takes the size of the pinned one, when there is
 * one: it is set once, at a fresh attach ([broker] flows).
 */
int cb_pin_maps(struct bpf_object *obj, const char *ifname);
/* The pinned flow table's entries (0: none pinned). */
uint32_t cb_pin_flows_size(const char *ifname);
/* Open a pinned map of ifname by name; fd or negative errno. */
int cb_pin_open_map(const char *ifname, const char *name);
/* Controller worker i's ring: cb_events for 0, the attachment's cb_rings[i]
 * (with workers > 1) for the others; an fd or -errno (-ENOENT: none). */
int cb_pin_open_ring(const char *ifname, uint32_t i);
/* Entry 0 of ifname's pinned one-entry array map name into value: 0 or a
 * negative errno (the attach record, the controller's heartbeat). */
int cb_pin_read_first(const char *ifname, const char *name, void *value);
/* Remove every pin under the interface's directory, then the now-empty directories. */
int cb_pin_remove_all(const char *ifname);
/* Call fn for every interface with pins in this namespace; how many, or -errno. */
int cb_pin_list(void (*fn)(const char *ifname, void *arg), void *arg);
/* buf = this namespace's run-time path of ifname: <root>/[netns/<ino>/]<ifname>.<suffix>;
 * creates the directories.  0 or -errno. */
int cb_run_path(char *buf, size_t len, const char *ifname, const char *suffix);

#endif
