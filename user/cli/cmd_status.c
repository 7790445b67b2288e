// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* connbroker status [IFNAME] | flows IFNAME */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cli/cli.h"
#include "util/json.h"
#include "datapath/attach.h"
#include "util/log.h"
#include "util/parse_util.h"
#include "datapath/beat.h"
#include "datapath/flows.h"
#include "datapath/pins.h"
#include "datapath/stats.h"

static long count_flows(int fd)
{
	struct cb_flow_key k, next;
	long n = cb_flows_count_fd(fd, NULL, 0);

	if (n >= 0)
		return n;
	/* no batch lookups here: a key at a time */
	if (bpf_map_get_next_key(fd, NULL, &k))
		return 0;
	n = 0;
	do {
		n++;
	} while (bpf_map_get_next_key(fd, &k, &next) == 0 && (k = next, 1));
	return n;
}

struct status_ctx {
	int json;
	int n;
};

static void print_services(const char *ifname, int json)
{
	struct cb_service_key svcs[CB_MAX_SERVICES];
	int n = cb_services_read(ifname, svcs, CB_MAX_SERVICES), i;
	char buf[CB_ADDR_PORT_STRLEN];

	for (i = 0; i < n; i++) {
		cb_fmt_service(&svcs[i], buf, sizeof(buf));
		if (json)
			printf("%s\"%s\"", i ? "," : "", buf);
		else
			printf(" %s", buf);
	}
}

/* Why an attachment can be worth a second look, "" when nothing. */
static const char *mode_note(uint32_t mode)
{
	/* the kernel skips generic XDP for packets that tc reinjected */
	if (mode == CB_MODE_SKB)
		return "generic XDP does not see packets that tc redirects or mirrors into this "
		       "interface (container networks, act_mirred, bpf_redirect): use --mode tc there";
	return "";
}

/*
 * The running controller's snapshot (ctl/status.c), printed as it is: text,
 * or a JSON object; nothing when no live controller wrote one.
 */
static void print_controller(const char *ifname, int json)
{
	char path[256], buf[65536];
	size_t n;
	int pid = 0;
	FILE *f;

	if (cb_run_path(path, sizeof(path), ifname, json ? "status.json" : "status") ||
	    !(f = fopen(path, "r"))) {
		if (json)
			printf("null");
		return;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* a snapshot left by a controller that died is not shown */
	if ((json ? sscanf(buf, "{\"pid\":%d", &pid) : sscanf(buf, "  controller: pid %d", &pid)) != 1 ||
	    kill(pid, 0)) {
		if (json)
			printf("null");
		return;
	}
	if (json && n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	fputs(buf, stdout);
}

/*
 * Fail closed: the attachment's no_controller setting and the controller's
 * last heartbeat.  *policy_ms = -1 and *age_ms = -1 when they cannot be read.
 */
static void beat_of(const char *ifname, long long *policy_ms, long long *age_ms, uint32_t *pid,
		    uint32_t *workers)
{
	struct cb_ctl_beat b;
	struct cb_config cfg;
	uint32_t zero = 0;
	int fd = cb_pin_open_map(ifname, "cb_config");

	*policy_ms = *age_ms = -1;
	*pid = 0;
	*workers = 1;
	if (fd >= 0 && !bpf_map_lookup_elem(fd, &zero, &cfg)) {
		*policy_ms = cfg.no_ctl_ms;
		*workers = cfg.workers > 1 ? cfg.workers : 1;
	}
	if (fd >= 0)
		close(fd);
	if (!cb_beat_read(ifname, &b)) {
		*age_ms = (long long)((cb_mono_ns() - b.seen_ns) / 1000000);
		*pid = b.pid;
	}
}

static void print_beat_text(long long policy_ms, long long age_ms, uint32_t pid)
{
	if (policy_ms < 0)
		return;
	if (policy_ms == 0)
		printf("  no controller: hold new connections\n");
	else
		printf("  no controller: reset new connections after %lld ms%s\n", policy_ms,
		       age_ms > policy_ms ? " (refusing now)" : "");
	if (age_ms >= 0 && pid)
		printf("  last heartbeat: %lld ms ago (controller pid %u)\n", age_ms, pid);
	else if (age_ms >= 0)
		printf("  last heartbeat: %lld ms ago (the attach; no controller has run since)\n",
		       age_ms);
}

static void status_one(const char *ifname, void *arg)
{
	struct status_ctx *sc = arg;
	struct cb_attach_info info;
	uint64_t st[CB_STAT_MAX];
	char buf[64], pins[256];
	int live, ffd, stfd, i;
	long long policy_ms, age_ms;
	uint32_t beat_pid, workers;
	long flows;

	memset(&info, 0, sizeof(info));
	cb_attach_info_read(ifname, &info);
	live = info.ifindex && cb_attachment_live(&info);
	ffd = cb_pin_open_map(ifname, "cb_flows");
	stfd = cb_pin_open_map(ifname, "cb_stats");
	flows = ffd >= 0 ? count_flows(ffd) : 0;
	if (stfd < 0 || cb_stats_read(stfd, st))
		memset(st, 0, sizeof(st));
	if (cb_pin_path(pins, sizeof(pins), ifname, NULL))
		pins[0] = 0;
	beat_of(ifname, &policy_ms, &age_ms, &beat_pid, &workers);

	if (sc->json) {
		printf("%s{\"ifname\":", sc->n ? "," : "");
		cb_json_str(stdout, ifname);
		printf(",\"ifindex\":%u,\"mode\":\"%s\",\"attached\":%s,\"attached_at\":%" PRIu64
		       ",\"xdp_prog_id\":%u,\"tc_ingress_id\":%u,\"tc_egress_id\":%u,\"flows\":%ld,"
		       "\"flows_max\":%u,\"workers\":%u,\"pins\":",
		       info.ifindex, cb_mode_name(info.mode), live ? "true" : "false",
		       (uint64_t)info.attached_at, info.xdp_prog_id, info.tc_ingress_id,
		       info.tc_egress_id, flows, cb_pin_flows_size(ifname), workers);
		cb_json_str(stdout, pins);
		printf(",\"note\":");
		cb_json_str(stdout, mode_note(info.mode));
		printf(",\"services\":[");
		print_services(ifname, 1);
		printf("],\"counters\":{");
		for (i = 0; i < CB_STAT_MAX; i++)
			printf("%s\"%s\":%" PRIu64, i ? "," : "", cb_stat_name(i, buf, sizeof(buf)),
			       st[i]);
		printf("},\"no_controller_ms\":%lld,\"heartbeat_age_ms\":%lld,\"heartbeat_pid\":%u",
		       policy_ms, age_ms, beat_pid);
		printf(",\"controller\":");
		print_controller(ifname, 1);
		printf("}");
	} else {
		printf("%s: mode %s, %s (ifindex %u", ifname, cb_mode_name(info.mode),
		       live ? "attached" : "NOT attached (stale pins: connbroker detach removes them)",
		       info.ifindex);
		if (info.xdp_prog_id)
			printf(", xdp prog %u", info.xdp_prog_id);
		if (info.tc_ingress_id)
			printf(", tc ingress prog %u", info.tc_ingress_id);
		printf(", tc egress prog %u)\n  pins: %s\n  services:", info.tc_egress_id, pins);
		print_services(ifname, 0);
		printf("\n  flows: %ld of %u\n", flows, cb_pin_flows_size(ifname));
		if (workers > 1)
			printf("  workers: %u controller loops, a ring each\n", workers);
		if (mode_note(info.mode)[0])
			printf("  note: %s\n", mode_note(info.mode));
		print_controller(ifname, 0);
		print_beat_text(policy_ms, age_ms, beat_pid);
		printf("  counters:\n");
		for (i = 0; i < CB_STAT_MAX; i++)
			if (st[i])
				printf("    %-22s %12" PRIu64 "  %s\n", cb_stat_name(i, buf, sizeof(buf)),
				       st[i], cb_stat_descs[i].help);
	}
	sc->n++;
	if (ffd >= 0)
		close(ffd);
	if (stfd >= 0)
		close(stfd);
}

/* Interfaces of this network namespace only: another one's are not ours to show. */
int cmd_status(const struct cb_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { 0 } };
	struct status_ctx sc = { .json = cli->json };

	if (getopt_long(argc, argv, "", opts, NULL) != -1)
		return cb_cmd_usage(stderr, cli->cmd);
	if (argc - optind > 1)
		return cb_usage_error(cli->cmd, "status: expected at most one interface name, got %d",
				      argc - optind);
	argc -= optind - 1;
	argv += optind - 1;
	if (cb_require_root("status"))
		return CB_EXIT_FAIL;
	/* -j: the error object, printed by main */
	if (argc == 2 && !cb_pin_dir_exists(argv[1])) {
		cb_err("status %s: not attached in this network namespace", argv[1]);
		return CB_EXIT_FAIL;
	}
	if (cli->json)
		printf("[");
	if (argc == 2)
		status_one(argv[1], &sc);
	else
		cb_pin_list(status_one, &sc);
	if (cli->json)
		printf("]\n");
	else if (!sc.n)
		printf("connbroker is not attached to any interface in this network namespace\n");
	return CB_EXIT_OK;
}

static void flow_print(const struct cb_flow_key *k, const struct cb_flow *f, int first,
		       uint64_t now, int json)
{
	char c[CB_ADDR_PORT_STRLEN], s[CB_ADDR_PORT_STRLEN];
	double age = f->created_ms ? (double)(uint32_t)(now / 1000000 - f->created_ms) / 1e3 : 0;

	cb_fmt_addr(&k->saddr, k->sport_be, c, sizeof(c));
	cb_fmt_addr(&k->daddr, k->dport_be, s, sizeof(s));
	if (json) {
		printf("%s{\"client\":\"%s\",\"service\":\"%s\",\"state\":\"%s\","
		       "\"client_isn\":%u,\"server_isn\":%u,\"rcv_nxt\":%u,\"snd_nxt\":%u,"
		       "\"mss\":%u,\"snd_wscale\":%d,\"rcv_wscale\":%d,\"sack\":%s,"
		       "\"timestamps\":%s,\"ts_recent\":%u,\"ts_offset\":%u,\"snd_wnd\":%u,"
		       "\"rcv_wnd\":%u,\"bytes_in\":%u,\"age_seconds\":%.3f}",
		       first ? "" : ",", c, s, cb_flow_state_name(f->state), f->client_isn, cb_flow_isn(f),
		       f->rcv_nxt, f->snd_nxt, f->mss,
		       (f->opts & CB_OPT_WSCALE) ? f->snd_wscale : -1,
		       (f->opts & CB_OPT_WSCALE) ? f->rcv_wscale : -1,
		       (f->opts & CB_OPT_SACK) ? "true" : "false",
		       (f->opts & CB_OPT_TS) ? "true" : "false", f->ts_recent, f->ts_offset,
		       f->snd_wnd, f->rcv_wnd, f->bytes_in, age);
	} else {
		printf("%-21s > %-21s %-8s isn c=%u s=%u rcv_nxt=%u mss=%u ws=%d/%d%s%s in=%uB age=%.1fs\n",
		       c, s, cb_flow_state_name(f->state), f->client_isn, cb_flow_isn(f), f->rcv_nxt, f->mss,
		       (f->opts & CB_OPT_WSCALE) ? f->snd_wscale : -1,
		       (f->opts & CB_OPT_WSCALE) ? f->rcv_wscale : -1,
		       (f->opts & CB_OPT_SACK) ? " sack" : "", (f->opts & CB_OPT_TS) ? " ts" : "",
		       f->bytes_in, age);
	}
}

int cmd_flows(const struct cb_cli *cli, int argc, char **argv)
{
	struct cb_flow_key k, next;
	struct cb_flow f;
	struct timespec ts;
	static const struct option opts[] = { { 0 } };
	int fd, more, n = 0;

	if (getopt_long(argc, argv, "", opts, NULL) != -1)
		return cb_cmd_usage(stderr, cli->cmd);
	if (optind != argc - 1)
		return cb_usage_error(cli->cmd, "flows: expected exactly one interface name, got %d",
				      argc - optind);
	argv += optind - 1;
	if (cb_require_root("flows"))
		return CB_EXIT_FAIL;
	fd = cb_pin_open_map(argv[1], "cb_flows");
	if (fd < 0) {
		cb_err("flows %s: not attached (%s)", argv[1], strerror(-fd));
		return CB_EXIT_FAIL;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (cli->json)
		printf("[");
	more = bpf_map_get_next_key(fd, NULL, &k) == 0;
	while (more) {
		if (bpf_map_lookup_elem(fd, &k, &f) == 0)
			flow_print(&k, &f, n++ == 0,
				   (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec, cli->json);
		more = bpf_map_get_next_key(fd, &k, &next) == 0;
		k = next;
	}
	if (cli->json)
		printf("]\n");
	close(fd);
	return CB_EXIT_OK;
}
