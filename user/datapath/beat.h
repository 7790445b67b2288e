/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The controller's heartbeat in cb_controller (shared.h: struct cb_ctl_beat):
 * the programs refuse new connections (fail closed) once it is older than
 * cb_config.no_ctl_ms.
 */
#ifndef CB_BEAT_H
#define CB_BEAT_H

#include <stdint.h>
#include <connbroker/shared.h>

/* CLOCK_MONOTONIC in ns: the programs' bpf_ktime_get_ns(). */
uint64_t cb_mono_ns(void);
/* Beat now, as pid (0: the attach).  0 or a negative errno. */
int cb_beat_write(int map_fd, uint32_t pid);
/* The id of the map behind fd (fd < 0: the pinned cb_controller of
 * ifname), 0 when it cannot be read: a controller holding another map than
 * the pinned one runs against an attachment that was replaced. */
uint32_t cb_beat_map_id(int fd, const char *ifname);
/* ifname's last beat into *b.  0 or a negative errno. */
int cb_beat_read(const char *ifname, struct cb_ctl_beat *b);

#endif
