// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "datapath/stats.h"

#define CB_STAT_DESC(name, help) { #name, help },
const struct cb_stat_desc cb_stat_descs[CB_STAT_MAX] = { CB_STATS(CB_STAT_DESC) };
#undef CB_STAT_DESC

const char *cb_stat_name(int i, char *buf, size_t len)
{
	size_t j;

	for (j = 0; j + 1 < len && cb_stat_descs[i].name[j]; j++)
		buf[j] = (char)tolower((unsigned char)cb_stat_descs[i].name[j]);
	buf[j] = 0;
	return buf;
}

int cb_stats_read(int fd, uint64_t out[CB_STAT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	uint32_t k;
	int c;

	if (ncpu < 0)
		return ncpu;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (k = 0; k < CB_STAT_MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, vals)) {
			int err = -errno;

			free(vals);
			return err;
		}
		for (c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
	return 0;
}
