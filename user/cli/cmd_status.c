// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* connbroker status [IFNAME] | flows IFNAME */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cli/cli.h"
#include "datapath/attach.h"
#include "util/log.h"
#include "util/parse_util.h"
#include "datapath/pins.h"
#include "datapath/stats.h"

int cb_json;

void cb_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static long count_flows(int fd)
{
	struct cb_flow_key k, next;
	long n = 0;

	if (bpf_map_get_next_key(fd, NULL, &k))
		return 0;
	do {
		n++;
	} while (bpf_map_get_next_key(fd, &k, &next) == 0 && (k = next, 1));
	return n;
}

static void status_one(const char *ifname, int first)
{
	struct cb_attach_info info;
	uint64_t st[CB_STAT_MAX];
	struct cb_service_key k, next;
	char buf[64];
	int live, sfd, ffd, stfd, i, have_k;
	long flows;

	memset(&info, 0, sizeof(info));
	cb_attach_info_read(ifname, &info);
	live = info.ifindex && cb_attachment_live(&info);
	sfd = cb_pin_open_map(ifname, "cb_services");
	ffd = cb_pin_open_map(ifname, "cb_flows");
	stfd = cb_pin_open_map(ifname, "cb_stats");
	flows = ffd >= 0 ? count_flows(ffd) : 0;
	if (stfd < 0 || cb_stats_read(stfd, st))
		memset(st, 0, sizeof(st));
	have_k = sfd >= 0 && bpf_map_get_next_key(sfd, NULL, &k) == 0;

	if (cb_json) {
		printf("%s{\"ifname\":", first ? "" : ",");
		cb_json_str(stdout, ifname);
		printf(",\"ifindex\":%u,\"mode\":\"%s\",\"attached\":%s,\"attached_at\":%" PRIu64
		       ",\"xdp_prog_id\":%u,\"tc_ingress_id\":%u,\"tc_egress_id\":%u,\"flows\":%ld,"
		       "\"services\":[",
		       info.ifindex, cb_mode_name(info.mode), live ? "true" : "false",
		       (uint64_t)info.attached_at, info.xdp_prog_id, info.tc_ingress_id,
		       info.tc_egress_id, flows);
		for (i = 0; have_k; i++) {
			printf("%s\"%s\"", i ? "," : "", cb_fmt_service(&k, buf, sizeof(buf)));
			have_k = bpf_map_get_next_key(sfd, &k, &next) == 0;
			k = next;
		}
		printf("],\"counters\":{");
		for (i = 0; i < CB_STAT_MAX; i++)
			printf("%s\"%s\":%" PRIu64, i ? "," : "", cb_stat_name(i, buf, sizeof(buf)),
			       st[i]);
		printf("}}");
	} else {
		printf("%s: mode %s, %s (ifindex %u", ifname, cb_mode_name(info.mode),
		       live ? "attached" : "NOT attached (stale pins; run detach)", info.ifindex);
		if (info.xdp_prog_id)
			printf(", xdp prog %u", info.xdp_prog_id);
		if (info.tc_ingress_id)
			printf(", tc ingress prog %u", info.tc_ingress_id);
		printf(", tc egress prog %u)\n  services:", info.tc_egress_id);
		while (have_k) {
			printf(" %s", cb_fmt_service(&k, buf, sizeof(buf)));
			have_k = bpf_map_get_next_key(sfd, &k, &next) == 0;
			k = next;
		}
		printf("\n  flows: %ld\n  counters:\n", flows);
		for (i = 0; i < CB_STAT_MAX; i++)
			if (st[i])
				printf("    %-22s %12" PRIu64 "  %s\n", cb_stat_name(i, buf, sizeof(buf)),
				       st[i], cb_stat_descs[i].help);
	}
	if (sfd >= 0)
		close(sfd);
	if (ffd >= 0)
		close(ffd);
	if (stfd >= 0)
		close(stfd);
}

int cmd_status(int argc, char **argv)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "Usage: connbroker [-j] status [IFNAME]\n");
		return CB_EXIT_USAGE;
	}
	if (cb_require_root("status"))
		return CB_EXIT_FAIL;
	if (cb_json)
		printf("[");
	if (argc == 2) {
		if (!cb_pin_dir_exists(argv[1])) {
			if (cb_json)
				printf("]\n");
			cb_err("status %s: not attached", argv[1]);
			return CB_EXIT_FAIL;
		}
		status_one(argv[1], 1);
		n = 1;
	} else if ((d = opendir(CB_PIN_ROOT))) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				status_one(de->d_name, n++ == 0);
		closedir(d);
	}
	if (cb_json)
		printf("]\n");
	else if (!n)
		printf("connbroker is not attached to any interface\n");
	return CB_EXIT_OK;
}

static const char *state_name(uint8_t s)
{
	switch (s) {
	case CB_FLOW_UNBOUND: return "unbound";
	case CB_FLOW_LOCAL: return "local";
	case CB_FLOW_FROZEN: return "frozen";
	default: return "?";
	}
}

static void flow_print(const struct cb_flow_key *k, const struct cb_flow *f, int first,
		       uint64_t now)
{
	char c[32], s[32];
	double age = now > f->created_ns ? (double)(now - f->created_ns) / 1e9 : 0;

	cb_fmt_addr(k->saddr_be, k->sport_be, c, sizeof(c));
	cb_fmt_addr(k->daddr_be, k->dport_be, s, sizeof(s));
	if (cb_json) {
		printf("%s{\"client\":\"%s\",\"service\":\"%s\",\"state\":\"%s\","
		       "\"client_isn\":%u,\"server_isn\":%u,\"rcv_nxt\":%u,\"snd_nxt\":%u,"
		       "\"mss\":%u,\"snd_wscale\":%d,\"rcv_wscale\":%d,\"sack\":%s,"
		       "\"timestamps\":%s,\"ts_recent\":%u,\"ts_offset\":%u,\"snd_wnd\":%u,"
		       "\"rcv_wnd\":%u,\"bytes_in\":%u,\"age_seconds\":%.3f}",
		       first ? "" : ",", c, s, state_name(f->state), f->client_isn, f->server_isn,
		       f->rcv_nxt, f->snd_nxt, f->mss,
		       (f->opts & CB_OPT_WSCALE) ? f->snd_wscale : -1,
		       (f->opts & CB_OPT_WSCALE) ? f->rcv_wscale : -1,
		       (f->opts & CB_OPT_SACK) ? "true" : "false",
		       (f->opts & CB_OPT_TS) ? "true" : "false", f->ts_recent, f->ts_offset,
		       f->snd_wnd, f->rcv_wnd, f->bytes_in, age);
	} else {
		printf("%-21s > %-21s %-8s isn c=%u s=%u rcv_nxt=%u mss=%u ws=%d/%d%s%s in=%uB age=%.1fs\n",
		       c, s, state_name(f->state), f->client_isn, f->server_isn, f->rcv_nxt, f->mss,
		       (f->opts & CB_OPT_WSCALE) ? f->snd_wscale : -1,
		       (f->opts & CB_OPT_WSCALE) ? f->rcv_wscale : -1,
		       (f->opts & CB_OPT_SACK) ? " sack" : "", (f->opts & CB_OPT_TS) ? " ts" : "",
		       f->bytes_in, age);
	}
}

int cmd_flows(int argc, char **argv)
{
	struct cb_flow_key k, next;
	struct cb_flow f;
	struct timespec ts;
	int fd, more, n = 0;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "Usage: connbroker [-j] flows IFNAME\n");
		return CB_EXIT_USAGE;
	}
	if (cb_require_root("flows"))
		return CB_EXIT_FAIL;
	fd = cb_pin_open_map(argv[1], "cb_flows");
	if (fd < 0) {
		cb_err("flows %s: not attached (%s)", argv[1], strerror(-fd));
		return CB_EXIT_FAIL;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (cb_json)
		printf("[");
	more = bpf_map_get_next_key(fd, NULL, &k) == 0;
	while (more) {
		if (bpf_map_lookup_elem(fd, &k, &f) == 0)
			flow_print(&k, &f, n++ == 0,
				   (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
		more = bpf_map_get_next_key(fd, &k, &next) == 0;
		k = next;
	}
	if (cb_json)
		printf("]\n");
	close(fd);
	return CB_EXIT_OK;
}
