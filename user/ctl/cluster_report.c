// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* What operators see of the cluster: Prometheus metrics and status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl/cluster_priv.h"
#include "ctl/prom.h"
#include "peer/link.h"


void cb_cluster_metrics(const struct cb_cluster *c, FILE *o)
{
	const struct cb_config_file *cfg = cfg_of(c);
	struct cb_remote_stats rs;
	int i, r;

	fprintf(o, "# HELP connbroker_node_up Channel to each other node: 2 up, 1 suspect, 0 down.\n"
		   "# TYPE connbroker_node_up gauge\n");
	for (i = 0; i < c->n_nodes; i++)
		if (i != c->self)
			fprintf(o, "connbroker_node_up{node=\"%s\"} %d\n", CB_PROM_ESC(cfg->nodes[i].name),
				c->nodes[i].link);
	fprintf(o, "# HELP connbroker_placements_total Flows placed, by node and reason.\n"
		   "# TYPE connbroker_placements_total counter\n");
	for (i = 0; i < c->n_nodes; i++)
		for (r = 0; r < CB_PLACE_R_MAX; r++)
			if (c->nodes[i].placed[r])
				fprintf(o, "connbroker_placements_total{node=\"%s\",reason=\"%s\"} %lu\n",
					CB_PROM_ESC(cfg->nodes[i].name), cb_place_reason_name(r),
					c->nodes[i].placed[r]);
	fprintf(o, "# HELP connbroker_handoffs_total Flows shipped to other nodes, by node and result.\n"
		   "# TYPE connbroker_handoffs_total counter\n");
	for (i = 0; i < c->n_nodes; i++) {
		const char *node = CB_PROM_ESC(cfg->nodes[i].name);

		if (i == c->self)
			continue;
		fprintf(o, "connbroker_handoffs_total{node=\"%s\",result=\"committed\"} %lu\n"
			   "connbroker_handoffs_total{node=\"%s\",result=\"refused\"} %lu\n"
			   "connbroker_handoffs_total{node=\"%s\",result=\"timeout\"} %lu\n"
			   "connbroker_handoffs_total{node=\"%s\",result=\"failed\"} %lu\n"
			   "connbroker_handoffs_total{node=\"%s\",result=\"recommitted\"} %lu\n",
			node, c->nodes[i].committed, node, c->nodes[i].refused, node,
			c->nodes[i].timed_out, node, c->nodes[i].failed, node, c->nodes[i].recommitted);
	}
	fprintf(o, "# HELP connbroker_adoptions_total Flows shipped here by other nodes, by result.\n"
		   "# TYPE connbroker_adoptions_total counter\n"
		   "connbroker_adoptions_total{result=\"served\"} %lu\n"
		   "connbroker_adoptions_total{result=\"refused\"} %lu\n"
		   "connbroker_adoptions_total{result=\"expired\"} %lu\n"
		   "connbroker_adoptions_total{result=\"failed\"} %lu\n"
		   "# HELP connbroker_adopted_closed_total Flows served here whose end was told to their director.\n"
		   "# TYPE connbroker_adopted_closed_total counter\nconnbroker_adopted_closed_total %lu\n"
		   "# HELP connbroker_adopted_untracked_total Flows served here not watched for their end (table of %d full).\n"
		   "# TYPE connbroker_adopted_untracked_total counter\nconnbroker_adopted_untracked_total %lu\n"
		   "# HELP connbroker_pending_cleared_total Uncommitted flows a previous controller left here, removed at start.\n"
		   "# TYPE connbroker_pending_cleared_total counter\nconnbroker_pending_cleared_total %lu\n",
		c->adopted, c->adopt_refused, c->adopt_expired, c->adopt_failed, c->served_closed,
		CB_SERVED_MAX, c->served_untracked, c->pending_cleared);
	fprintf(o, "# HELP connbroker_moves_total Live connections moved away from this node, by result (moved: committed elsewhere; resumed: the move failed, served here; dropped: the director never answered; failed: reset).\n"
		   "# TYPE connbroker_moves_total counter\n"
		   "connbroker_moves_total{result=\"moved\"} %lu\n"
		   "connbroker_moves_total{result=\"resumed\"} %lu\n"
		   "connbroker_moves_total{result=\"dropped\"} %lu\n"
		   "connbroker_moves_total{result=\"failed\"} %lu\n"
		   "# HELP connbroker_relays_total Moves between two other nodes this director ran, by result.\n"
		   "# TYPE connbroker_relays_total counter\n"
		   "connbroker_relays_total{result=\"committed\"} %lu\n"
		   "connbroker_relays_total{result=\"refused\"} %lu\n",
		c->moved_out, c->moves_resumed, c->moves_dropped, c->moves_failed, c->relayed,
		c->relays_refused);
	if (cb_remote_stats(&c->steer, 0, &rs))
		memset(&rs, 0, sizeof(rs));
	fprintf(o, "# HELP connbroker_steered_flows Flows steered to other nodes (entries of cb_remote, of %d).\n"
		   "# TYPE connbroker_steered_flows gauge\nconnbroker_steered_flows %lu\n"
		   "# HELP connbroker_steered_removed_total Steering entries removed: the flow ended or was reset, or its node went down.\n"
		   "# TYPE connbroker_steered_removed_total counter\nconnbroker_steered_removed_total %lu\n"
		   "# HELP connbroker_commits_untracked_total COMMITs not followed to their DONE (table of %d full).\n"
		   "# TYPE connbroker_commits_untracked_total counter\nconnbroker_commits_untracked_total %lu\n",
		CB_MAX_REMOTE, rs.total, c->remote_swept, CB_COMMITS_MAX, c->commits_untracked);
	fprintf(o, "# HELP connbroker_peer_channel_closed_total Peer channel connections closed, by node and reason.\n"
		   "# TYPE connbroker_peer_channel_closed_total counter\n");
	for (i = -1; i < c->n_nodes; i++) {
		const struct cb_link_stats *ls;
		const char *name = i < 0 ? "(unknown)" : cfg->nodes[i].name;

		if (i == c->self)
			continue;
		ls = cb_links_stats(c->links, i < 0 ? CB_LINK_ANON : c->nodes[i].id);
		for (r = 1; ls && r < CB_LINK_R_MAX; r++)
			if (ls->closed[r])
				fprintf(o, "connbroker_peer_channel_closed_total{node=\"%s\",reason=\"%s\"} %llu\n",
					CB_PROM_ESC(name), cb_link_reason_name(r),
					(unsigned long long)ls->closed[r]);
	}
}

/* One node's figures for (service s, app a): its last report, or ours. */
static void status_load(const struct cb_cluster *c, int i, int s, int a,
			struct cb_msg_svc_load *l)
{
	const struct cb_msg_svc_load *pl;

	if (i == c->self) {
		cl_own_load(c, s, a, l);
		return;
	}
	memset(l, 0, sizeof(*l));
	pl = cl_peer_load(c, i, s, a);
	if (pl)
		*l = *pl;
}

void cb_cluster_status(const struct cb_cluster *c, FILE *o, int json)
{
	const struct cb_config_file *cfg = cfg_of(c);
	static const char *const policies[] = { "local", "spread", "affinity" };
	int i, s, k, n, apps[CB_CFG_MAX_APPS], first;
	struct cb_msg_svc_load l;

	for (i = 0; i < c->n_nodes; i++) {
		const char *state = i == c->self ? "this node" : cb_link_state_name(c->nodes[i].link);

		if (json)
			fprintf(o, "%s{\"node\":\"%s\",\"id\":%u,\"state\":\"%s\",\"handed_off\":%lu,"
				   "\"refused\":%lu,\"timed_out\":%lu,\"lost\":%lu,\"load\":[",
				i ? "," : "", cfg->nodes[i].name, c->nodes[i].id, state,
				c->nodes[i].committed, c->nodes[i].refused, c->nodes[i].timed_out,
				c->nodes[i].lost);
		else
			fprintf(o, "  node %-10s id %-5u %-9s handed off %lu, refused %lu, timed out %lu\n",
				cfg->nodes[i].name, c->nodes[i].id, state, c->nodes[i].committed,
				c->nodes[i].refused, c->nodes[i].timed_out);
		for (s = 0, first = 1; s < cfg->n_services; s++) {
			if (!offers(cfg, i, s))
				continue;
			n = cl_service_apps(cfg, s, apps);
			for (k = 0; k < n; k++, first = 0) {
				status_load(c, i, s, apps[k], &l);
				if (json)
					fprintf(o, "%s{\"service\":\"%s\",\"app\":\"%s\",\"policy\":\"%s\","
						   "\"instances\":%u,\"capacity\":%u,\"active\":%u,"
						   "\"waiting\":%u,\"inflight\":%u}", first ? "" : ",",
						cfg->services[s].name, cfg->apps[apps[k]].name,
						policies[cfg->services[s].placement], l.apps, l.capacity,
						l.active, l.waiting, l.inflight);
				else
					fprintf(o, "       %s/%s (%s): %u instances, capacity %u, active %u, "
						   "waiting %u, arriving %u\n", cfg->services[s].name,
						cfg->apps[apps[k]].name,
						policies[cfg->services[s].placement], l.apps, l.capacity,
						l.active, l.waiting, l.inflight);
			}
		}
		if (json)
			fprintf(o, "]}");
	}
}

static const char *const stage_names[CL_ST_MAX] = {
	"total", "decide", "prepare", "steer", "commit", "build", "live",
};

void cb_cluster_timing(const struct cb_cluster *c, FILE *o, int json)
{
	uint32_t p50[CL_ST_MAX], p99[CL_ST_MAX];
	unsigned long n = c->stages[CL_ST_TOTAL].n;
	int i;

	for (i = 0; i < CL_ST_MAX; i++)
		cb_samples_pct(&c->stages[i], &p50[i], &p99[i]);
	if (json) {
		fprintf(o, "{\"p50\":%u,\"p99\":%u,\"samples\":%lu,\"stages\":{", p50[0], p99[0], n);
		for (i = 1; i < CL_ST_MAX; i++)
			fprintf(o, "%s\"%s\":{\"p50\":%u,\"p99\":%u,\"samples\":%lu}", i > 1 ? "," : "",
				stage_names[i], p50[i], p99[i], c->stages[i].n);
		cb_samples_pct(&c->move_us, &p50[0], &p99[0]);
		fprintf(o, "},\"moves\":{\"p50\":%u,\"p99\":%u,\"samples\":%lu}}", p50[0], p99[0],
			c->move_us.n);
		return;
	}
	if (n)
		fprintf(o, "  hand-offs to other nodes, first byte here to the app's fd there "
			   "(+ one control message back): p50 %u us, p99 %u us over the last %lu\n"
			   "    p50 by stage: decide %u, to PREPARED %u, steer %u, to DONE %u us\n",
			p50[0], p99[0], n < CB_SAMPLES ? n : CB_SAMPLES, p50[CL_ST_DECIDE],
			p50[CL_ST_PREPARE], p50[CL_ST_STEER], p50[CL_ST_COMMIT]);
	if (c->stages[CL_ST_LIVE].n)
		fprintf(o, "  hand-offs taken here, p50: socket built %u us, live and handed over %u us\n",
			p50[CL_ST_BUILD], p50[CL_ST_LIVE]);
	if (c->move_us.n) {
		cb_samples_pct(&c->move_us, &p50[0], &p99[0]);
		fprintf(o, "  live moves (freeze to committed elsewhere): p50 %u us, p99 %u us over the "
			   "last %lu\n", p50[0], p99[0], c->move_us.n < CB_SAMPLES ? c->move_us.n : CB_SAMPLES);
	}
}
