/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The per-CPU verdict counters, summed over CPUs, with names for output. */
#ifndef CB_STATS_H
#define CB_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <connbroker/shared.h>

struct cb_stat_desc {
	const char *name;   /* as in the enum: "SYN_COOKIE_SENT" */
	const char *help;
};

extern const struct cb_stat_desc cb_stat_descs[CB_STAT_MAX];

/* Lower-case name for output ("syn_cookie_sent"). */
const char *cb_stat_name(int i, char *buf, size_t len);
/* Sum the per-CPU values of the pinned stats map; 0 or negative errno. */
int cb_stats_read(int map_fd, uint64_t out[CB_STAT_MAX]);

#endif
