// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The metrics the controller exports (Prometheus text format, served by
 * metrics_http.c).  Names: connbroker_ prefix, _total counters, base units,
 * services/rules/apps/reasons as labels, never a per-flow label.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <connbroker/version.h>
#include "ctl/cluster.h"
#include "ctl/prom.h"
#include "ctl/ctl.h"
#include "datapath/stats.h"
#include "util/clock.h"
#include "util/libver.h"
#include "util/log.h"

static const double hist_bounds[CB_HIST_N] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
					       0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };

void cb_ctl_observe(struct cb_ctl_stats *st, double secs)
{
	size_t i;

	for (i = 0; i < CB_HIST_N && secs > hist_bounds[i]; i++)
		;
	st->hist[i]++;
	st->hist_sum += secs;
	st->hist_count++;
}

static void datapath(FILE *o, int stats_fd)
{
	uint64_t st[CB_STAT_MAX];
	char name[40];
	int i;

	fprintf(o, "# HELP connbroker_datapath_total Verdicts and events of the XDP/TC programs (per-CPU counters summed).\n"
		   "# TYPE connbroker_datapath_total counter\n");
	if (cb_stats_read(stats_fd, st))
		memset(st, 0, sizeof(st));
	for (i = 0; i < CB_STAT_MAX; i++)
		if (i != CB_STAT_DATA_BYTES)
			fprintf(o, "connbroker_datapath_total{event=\"%s\"} %llu\n",
				cb_stat_name(i, name, sizeof(name)), (unsigned long long)st[i]);
	fprintf(o, "# HELP connbroker_ring_bytes_total Payload bytes queued to the controller by the programs.\n"
		   "# TYPE connbroker_ring_bytes_total counter\nconnbroker_ring_bytes_total %llu\n",
		(unsigned long long)st[CB_STAT_DATA_BYTES]);
}

static void flows(FILE *o, struct ctl *c)
{
	int i;

	/* reading the whole flow table (batches of 4,096): at most once a second */
	if (cb_now_ms64() - c->flows_at_ms >= 1000) {
		cb_flows_count(&c->flows, c->flows_by_state, CB_FLOW_STATE_MAX);
		c->flows_at_ms = cb_now_ms64();
	}
	fprintf(o, "# HELP connbroker_flows Entries in the flow table by state.\n# TYPE connbroker_flows gauge\n");
	for (i = 1; i < CB_FLOW_STATE_MAX; i++)
		fprintf(o, "connbroker_flows{state=\"%s\"} %lu\n", cb_flow_state_name(i),
			c->flows_by_state[i]);
}

static void decisions(FILE *o, const struct ctl *c)
{
	const struct cb_config_file *cfg = c->cfg;
	int i;

	fprintf(o, "# HELP connbroker_decisions_total Flows routed (and each request on route = per-request services), by service and matching rule.\n"
		   "# TYPE connbroker_decisions_total counter\n");
	for (i = 0; i < cfg->n_rules; i++)
		fprintf(o, "connbroker_decisions_total{service=\"%s\",rule=\"%s\"} %lu\n",
			CB_PROM_ESC(cfg->services[cfg->rules[i].service].name),
			CB_PROM_ESC(cfg->rules[i].name), c->st.rule_hits[i]);
	for (i = 0; i < cfg->n_services; i++)
		fprintf(o, "connbroker_decisions_total{service=\"%s\",rule=\"default\"} %lu\n",
			CB_PROM_ESC(cfg->services[i].name), c->st.default_hits[i]);
	fprintf(o, "# HELP connbroker_wait_timeouts_total Flows answered with RST/503: no app within wait_ms or queue full.\n"
		   "# TYPE connbroker_wait_timeouts_total counter\n");
	for (i = 0; i < cfg->n_services; i++)
		fprintf(o, "connbroker_wait_timeouts_total{service=\"%s\"} %lu\n",
			CB_PROM_ESC(cfg->services[i].name), c->st.svc_timeouts[i]);
}

/* Every reason, 0 or not: an alert on one needs its series to exist. */
static void resets(FILE *o, const struct cb_ctl_stats *s)
{
	int r;

	fprintf(o, "# HELP connbroker_resets_total Flows the controller reset, by reason (ctl.h, CB_RESET_REASONS).\n"
		   "# TYPE connbroker_resets_total counter\n");
	for (r = 0; r < CB_RESET_MAX; r++)
		fprintf(o, "connbroker_resets_total{reason=\"%s\"} %lu\n",
			cb_reset_reason_name((enum cb_reset_reason)r), s->resets[r]);
	fprintf(o, "# HELP connbroker_answered_503_total Flows answered HTTP 503 (on_timeout = http503).\n"
		   "# TYPE connbroker_answered_503_total counter\nconnbroker_answered_503_total %lu\n"
		   "# HELP connbroker_decision_log_suppressed_total Decision log lines not written (over the rate).\n"
		   "# TYPE connbroker_decision_log_suppressed_total counter\n"
		   "connbroker_decision_log_suppressed_total %lu\n", s->answered_503, s->log_suppressed);
}

static void counters(FILE *o, const struct ctl *c)
{
	const struct cb_ctl_stats *s = &c->st;

	resets(o, s);

	fprintf(o, "# HELP connbroker_materializations_total Flows the controller held: ok, built with TCP_REPAIR and handed to an app; failed, not delivered (reset or answered 503: connbroker_resets_total says why, or a failed shipment).\n"
		   "# TYPE connbroker_materializations_total counter\n"
		   "connbroker_materializations_total{result=\"ok\"} %lu\n"
		   "connbroker_materializations_total{result=\"failed\"} %lu\n", s->materialized, s->failed);
	fprintf(o, "# HELP connbroker_shipped_total Flows handed to another node of the cluster.\n"
		   "# TYPE connbroker_shipped_total counter\nconnbroker_shipped_total %lu\n", s->shipped);
	fprintf(o, "# HELP connbroker_table_full_total Flows reset because the controller's pending table was full.\n"
		   "# TYPE connbroker_table_full_total counter\nconnbroker_table_full_total %lu\n", s->table_full);
	fprintf(o, "# HELP connbroker_source_full_total Flows reset because their client address held too many pending flows.\n"
		   "# TYPE connbroker_source_full_total counter\nconnbroker_source_full_total %lu\n", s->source_full);
	fprintf(o, "# HELP connbroker_queue_full_total Flows refused because the service queue was full.\n"
		   "# TYPE connbroker_queue_full_total counter\nconnbroker_queue_full_total %lu\n", s->queue_full);
	fprintf(o, "# HELP connbroker_handoff_held_total Flows whose built socket no app instance took (every one busy, or gone on the way), kept and offered again within wait_ms.\n"
		   "# TYPE connbroker_handoff_held_total counter\nconnbroker_handoff_held_total %lu\n", s->held);
	fprintf(o, "# HELP connbroker_recovered_local_total Flows found handed over already when recovering after a restart (left to their app).\n"
		   "# TYPE connbroker_recovered_local_total counter\nconnbroker_recovered_local_total %lu\n",
		s->recovered_local);
	fprintf(o, "# HELP connbroker_reloads_total Configuration reloads (SIGHUP), by result.\n"
		   "# TYPE connbroker_reloads_total counter\n"
		   "connbroker_reloads_total{result=\"ok\"} %lu\nconnbroker_reloads_total{result=\"failed\"} %lu\n",
		s->reloads, s->reload_failures);
	fprintf(o, "# HELP connbroker_app_registrations_refused_total App registrations refused, by reason: unknown_app (no such [app]), credentials (its SO_PEERCRED uid/gid not admitted).\n"
		   "# TYPE connbroker_app_registrations_refused_total counter\n"
		   "connbroker_app_registrations_refused_total{reason=\"unknown_app\"} %lu\n"
		   "connbroker_app_registrations_refused_total{reason=\"credentials\"} %lu\n",
		c->apps.refused_unknown, c->apps.refused_cred);
	fprintf(o, "# HELP connbroker_app_messages_bad_total Malformed messages from app connections (ignored; any fd they carried closed).\n"
		   "# TYPE connbroker_app_messages_bad_total counter\n"
		   "connbroker_app_messages_bad_total %lu\n", c->apps.bad_messages);
	fprintf(o, "# HELP connbroker_app_connections_refused_total Connections to the app socket closed: at accept, a uid no app admits (uid), a uid over its limits (per_uid), every slot taken (full); later, no REGISTER within 5 s (no_register).\n"
		   "# TYPE connbroker_app_connections_refused_total counter\n"
		   "connbroker_app_connections_refused_total{reason=\"uid\"} %lu\n"
		   "connbroker_app_connections_refused_total{reason=\"per_uid\"} %lu\n"
		   "connbroker_app_connections_refused_total{reason=\"full\"} %lu\n"
		   "connbroker_app_connections_refused_total{reason=\"no_register\"} %lu\n",
		c->apps.refused_uid, c->apps.refused_per_uid, c->apps.refused_full,
		c->apps.register_timeouts);
}

/* Connections apps gave back (ctl/release.c). */
static void released(FILE *o, const struct ctl *c)
{
	const struct cb_released_stats *s = &c->rel.st;

	fprintf(o, "# HELP connbroker_releases_total Live connections apps gave back (RELEASE).\n"
		   "# TYPE connbroker_releases_total counter\nconnbroker_releases_total %lu\n",
		s->released);
	fprintf(o, "# HELP connbroker_released_total Released connections, by what became of them.\n"
		   "# TYPE connbroker_released_total counter\n"
		   "connbroker_released_total{result=\"delivered\"} %lu\n"
		   "connbroker_released_total{result=\"idle_closed\"} %lu\n"
		   "connbroker_released_total{result=\"client_closed\"} %lu\n"
		   "connbroker_released_total{result=\"refused\"} %lu\n"
		   "connbroker_released_total{result=\"timeout\"} %lu\n"
		   "connbroker_released_total{result=\"failed\"} %lu\n"
		   "connbroker_released_total{result=\"moved\"} %lu\n",
		s->delivered, s->idle_closed, s->client_closed, s->refused, s->timeouts,
		s->failed, s->moved);
	fprintf(o, "# HELP connbroker_released_held Released connections held, awaiting their next request or an app.\n"
		   "# TYPE connbroker_released_held gauge\nconnbroker_released_held %u\n",
		cb_released_held(&c->rel));
}

static void apps(FILE *o, const struct ctl *c)
{
	int i;

	fprintf(o, "# HELP connbroker_pending_flows Flows being classified or waiting for an app.\n"
		   "# TYPE connbroker_pending_flows gauge\nconnbroker_pending_flows %u\n", cb_ctl_pending(c));
	fprintf(o, "# HELP connbroker_worker_flows_total Flows each controller worker handed to apps on this node.\n"
		   "# TYPE connbroker_worker_flows_total counter\n");
	for (i = 0; i < c->n_workers; i++)
		fprintf(o, "connbroker_worker_flows_total{worker=\"%d\"} %lu\n", i, c->w[i].flows);
	fprintf(o, "# HELP connbroker_app_instances Registered app connections, by app.\n"
		   "# TYPE connbroker_app_instances gauge\n");
	for (i = 0; i < c->cfg->n_apps; i++)
		fprintf(o, "connbroker_app_instances{app=\"%s\"} %u\n", CB_PROM_ESC(c->cfg->apps[i].name),
			cb_apps_instances(&c->apps, i));
}

static void histogram(FILE *o, const struct cb_ctl_stats *s)
{
	uint64_t cum = 0;
	int i;

	fprintf(o, "# HELP connbroker_handoff_seconds Time from a request's first byte at the hook to its socket reaching the app.\n"
		   "# TYPE connbroker_handoff_seconds histogram\n");
	for (i = 0; i < CB_HIST_N; i++) {
		cum += s->hist[i];
		fprintf(o, "connbroker_handoff_seconds_bucket{le=\"%g\"} %llu\n", hist_bounds[i],
			(unsigned long long)cum);
	}
	fprintf(o, "connbroker_handoff_seconds_bucket{le=\"+Inf\"} %llu\n"
		   "connbroker_handoff_seconds_sum %.9f\nconnbroker_handoff_seconds_count %llu\n",
		(unsigned long long)s->hist_count, s->hist_sum, (unsigned long long)s->hist_count);
}

/* What this build is: constant 1, its versions as labels. */
static void build_info(FILE *o, const struct cb_libver *v)
{
	fprintf(o, "# HELP connbroker_build_info connbroker's version and the libbpf and libxdp it runs with.\n"
		   "# TYPE connbroker_build_info gauge\n"
		   "connbroker_build_info{version=\"%s\",libbpf=\"%s\",libxdp=\"%s\"} 1\n",
		CB_PROM_ESC(CB_VERSION), CB_PROM_ESC(v->libbpf), CB_PROM_ESC(v->libxdp));
}

static void render(struct ctl *c, FILE *o)
{
	build_info(o, &c->libver);
	datapath(o, c->stats_fd);
	flows(o, c);
	decisions(o, c);
	counters(o, c);
	released(o, c);
	apps(o, c);
	histogram(o, &c->st);
	fprintf(o, "# HELP connbroker_handoff_batches_total Batches of local hand-offs (one state-program run and ring drain each).\n"
		   "# TYPE connbroker_handoff_batches_total counter\nconnbroker_handoff_batches_total %lu\n"
		   "# HELP connbroker_handoff_batch_flows_total Flows handed off in those batches.\n"
		   "# TYPE connbroker_handoff_batch_flows_total counter\nconnbroker_handoff_batch_flows_total %lu\n",
		c->st.batches, c->st.batched);
	if (c->cluster)
		cb_cluster_metrics(c->cluster, o);
}

/*
 * Every sample gets interface="<ifname>": two controllers (two interfaces)
 * of one host scraped into one Prometheus stay apart.  Rendered into memory
 * first, then relabelled (one place, rather than every line).
 */
void cb_ctl_render_metrics(void *vc, FILE *o)
{
	struct ctl *c = vc;
	char *text = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&text, &n);

	if (!m) {
		render(c, o);
		return;
	}
	render(c, m);
	if (fclose(m) == 0 && cb_prom_relabel(text, n, "interface", c->opts.ifname, o))
		cb_err("metrics: a malformed sample line (a bug): the scrape is cut short");
	free(text);
}
