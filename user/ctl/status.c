// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What `connbroker status` shows of a running controller: a snapshot it
 * writes once a second next to its socket (<ifname>.status, and .status.json
 * for -j), replaced atomically (rename), with the controller's pid so a
 * reader can tell a stale one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "ctl/cluster.h"
#include "ctl/ctl.h"
#include "ctl/status.h"
#include "datapath/pins.h"

static int publish(const char *ifname, const char *suffix, const char *text, size_t len)
{
	char path[256], tmp[264];
	FILE *f;
	int err = cb_run_path(path, sizeof(path), ifname, suffix);

	if (err)
		return err;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	if (fwrite(text, 1, len, f) != len || fclose(f)) {
		unlink(tmp);
		return -EIO;
	}
	return rename(tmp, path) ? -errno : 0;
}

static void render(struct ctl *c, FILE *o, int json)
{
	const struct cb_config_file *cfg = c->cfg;
	uint32_t p50, p99;
	int i;

	if (json) {
		fprintf(o, "{\"pid\":%d,\"node\":\"%s\",\"pending\":%u,\"materialized\":%lu,"
			   "\"shipped\":%lu,\"failed\":%lu,\"apps\":{", (int)getpid(),
			cfg->self >= 0 ? cfg->nodes[cfg->self].name : "", cb_ctl_pending(c),
			c->st.materialized, c->st.shipped, c->st.failed);
		for (i = 0; i < cfg->n_apps; i++)
			fprintf(o, "%s\"%s\":%u", i ? "," : "", cfg->apps[i].name,
				cb_apps_instances(&c->apps, i));
		fprintf(o, "},\"cluster\":[");
		if (c->cluster)
			cb_cluster_status(c->cluster, o, 1);
		fprintf(o, "],\"handoff_us\":");
		if (c->cluster)
			cb_cluster_timing(c->cluster, o, 1);
		else
			fprintf(o, "null");
		cb_samples_pct(&c->local_us, &p50, &p99);
		fprintf(o, ",\"local_handoff_us\":{\"p50\":%u,\"p99\":%u,\"samples\":%lu,", p50,
			p99, c->local_us.n);
		cb_samples_pct(&c->ring_us, &p50, &p99);
		fprintf(o, "\"ring\":{\"p50\":%u,\"p99\":%u},", p50, p99);
		cb_samples_pct(&c->work_us, &p50, &p99);
		fprintf(o, "\"controller\":{\"p50\":%u,\"p99\":%u}}}\n", p50, p99);
		return;
	}
	fprintf(o, "  controller: pid %d%s%s; %u flows pending; %lu handed to apps here, %lu to "
		   "other nodes, %lu failed\n  apps:", (int)getpid(), cfg->self >= 0 ? ", node " : "",
		cfg->self >= 0 ? cfg->nodes[cfg->self].name : "", cb_ctl_pending(c), c->st.materialized,
		c->st.shipped, c->st.failed);
	for (i = 0; i < cfg->n_apps; i++)
		fprintf(o, " %s (%u)", cfg->apps[i].name, cb_apps_instances(&c->apps, i));
	fprintf(o, "\n");
	if (c->local_us.n) {
		cb_samples_pct(&c->local_us, &p50, &p99);
		fprintf(o, "  hand-offs to apps here, first byte at the hook to the app's fd: p50 %u us, "
			   "p99 %u us over the last %lu\n", p50, p99,
			c->local_us.n < CB_SAMPLES ? c->local_us.n : CB_SAMPLES);
		cb_samples_pct(&c->ring_us, &p50, &p99);
		fprintf(o, "    of which the hook to its record read here: p50 %u us, p99 %u us;", p50,
			p99);
		cb_samples_pct(&c->work_us, &p50, &p99);
		fprintf(o, " the read to the fd sent: p50 %u us, p99 %u us\n", p50, p99);
	}
	if (c->cluster) {
		fprintf(o, "  cluster %s:\n", cfg->cluster);
		cb_cluster_status(c->cluster, o, 0);
		cb_cluster_timing(c->cluster, o, 0);
	}
}

void cb_ctl_write_status(struct ctl *c)
{
	int json;

	for (json = 0; json < 2; json++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *o = open_memstream(&buf, &len);

		if (!o)
			return;
		render(c, o, json);
		fclose(o);
		publish(c->opts.ifname, json ? "status.json" : "status", buf, len);
		free(buf);
	}
}

void cb_ctl_remove_status(const char *ifname)
{
	char path[256];

	if (!cb_run_path(path, sizeof(path), ifname, "status"))
		unlink(path);
	if (!cb_run_path(path, sizeof(path), ifname, "status.json"))
		unlink(path);
}
