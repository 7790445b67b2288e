/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The controller's stash (cb_stash, a pinned mmap-able array map): every
 * byte the controller takes from the ring is written here first, so a
 * controller killed and restarted rebuilds its pending flows from the pins.
 */
#ifndef CB_STASH_H
#define CB_STASH_H

#include <stddef.h>
#include <connbroker/shared.h>

/* Map the stash of ifname (CB_STASH_SLOTS slots) read-write; -errno. */
int cb_stash_map(const char *ifname, struct cb_stash_slot **out, size_t *size);
void cb_stash_unmap(struct cb_stash_slot *s, size_t size);

#endif
