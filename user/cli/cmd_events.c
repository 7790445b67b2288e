// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * connbroker events IFNAME: print each ring-buffer record (until the
 * controller exists, this is how the first bytes of a flow are seen).
 * Waits in epoll (ring_buffer__poll); stops on SIGINT/SIGTERM, after
 * --count records, or after --timeout seconds without a record.
 * A record read here is gone for the controller: while one runs on the
 * interface (it holds <ifname>.lock), events refuses to start, and stops
 * when one starts, unless --force.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "cli/cli.h"
#include "util/log.h"
#include "util/parse_util.h"
#include "datapath/pins.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* " (pid N)", or "" when the pid is not known */
static const char *who(int pid, char *buf, size_t len)
{
	if (pid <= 0)
		return "";
	snprintf(buf, len, " (pid %d)", pid);
	return buf;
}

struct ev_ctx {
	int json;
	uint32_t count;         /* 0 = unlimited */
	uint32_t seen;
};

static const char *type_name(uint8_t t)
{
	switch (t) {
	case CB_EV_DATA: return "data";
	case CB_EV_OPEN: return "open";
	case CB_EV_CLOSE: return "close";
	default: return "unknown";
	}
}

static void print_bytes_text(const uint8_t *p, size_t n)
{
	size_t i;

	putchar('"');
	for (i = 0; i < n; i++) {
		if (p[i] == '\\' || p[i] == '"')
			printf("\\%c", p[i]);
		else if (p[i] == '\r')
			fputs("\\r", stdout);
		else if (p[i] == '\n')
			fputs("\\n", stdout);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
	putchar('"');
}

static int on_record(void *vctx, void *data, size_t size)
{
	struct ev_ctx *ctx = vctx;
	const struct cb_event *ev = data;
	const uint8_t *bytes = (const uint8_t *)(ev + 1);
	char c[CB_ADDR_PORT_STRLEN], s[CB_ADDR_PORT_STRLEN];
	size_t i, n;

	if (size < sizeof(*ev) || sizeof(*ev) + ev->len > size) {
		cb_err("events: short record (%zu bytes)", size);
		return 0;
	}
	n = ev->len;
	cb_fmt_addr(&ev->key.saddr, ev->key.sport_be, c, sizeof(c));
	cb_fmt_addr(&ev->key.daddr, ev->key.dport_be, s, sizeof(s));
	if (ctx->json) {
		printf("{\"type\":\"%s\",\"client\":\"%s\",\"service\":\"%s\",\"seq\":%u,"
		       "\"len\":%zu,\"ts_ns\":%llu", type_name(ev->type), c, s, ev->seq, n,
		       (unsigned long long)ev->ts_ns);
		if (ev->type == CB_EV_CLOSE)
			printf(",\"reason\":\"%s\"", ev->flags ? "rst" : "fin");
		printf(",\"data_hex\":\"");
		for (i = 0; i < n; i++)
			printf("%02x", bytes[i]);
		printf("\"}\n");
	} else {
		printf("%-5s %s > %s seq=%u len=%zu", type_name(ev->type), c, s, ev->seq, n);
		if (ev->type == CB_EV_CLOSE)
			printf(" reason=%s", ev->flags ? "rst" : "fin");
		if (n) {
			printf(" data=");
			print_bytes_text(bytes, n);
		}
		putchar('\n');
	}
	fflush(stdout);
	ctx->seen++;
	if (ctx->count && ctx->seen >= ctx->count)
		stop = 1;
	return 0;
}

int cmd_events(const struct cb_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ 0 },
	};
	struct ev_ctx ctx = { .json = cli->json };
	struct ring_buffer *rb;
	uint32_t timeout = 0, idle_ms = 0;
	uint64_t checked_ms = now_ms();
	int fd, c, err = 0, force = 0, pid, rfd[CB_MAX_WORKERS];
	const char *ifname;
	char pidbuf[32];
	uint32_t i, n_rings;

	while ((c = getopt_long(argc, argv, "n:t:f", opts, NULL)) != -1) {
		if (c == 'n' && !cb_parse_u32(optarg, 1, UINT32_MAX, &ctx.count))
			continue;
		if (c == 't' && !cb_parse_u32(optarg, 1, 86400, &timeout))
			continue;
		if (c == 'f') {
			force = 1;
			continue;
		}
		if (c == 'n' || c == 't')
			return cb_usage_error(cli->cmd, "events: --%s '%s': expected %s",
					      c == 'n' ? "count" : "timeout", optarg,
					      c == 'n' ? "a count >= 1" : "seconds, 1..86400");
		return cb_cmd_usage(stderr, cli->cmd);
	}
	if (optind != argc - 1)
		return cb_usage_error(cli->cmd, "events: expected exactly one interface name, got %d",
				      argc - optind);
	ifname = argv[optind];
	if (cb_require_root("events"))
		return CB_EXIT_FAIL;
	if (!force && (pid = cb_controller_pid(ifname)) >= 0) {
		cb_err("events %s: a controller%s runs on %s and consumes its ring: events would "
		       "take its connections' first bytes (they would time out); stop it, or give "
		       "--force to read anyway", ifname, who(pid, pidbuf, sizeof(pidbuf)), ifname);
		return CB_EXIT_FAIL;
	}
	fd = cb_pin_open_map(ifname, "cb_events");
	if (fd < 0) {
		cb_err("events %s: not attached (%s)", ifname, strerror(-fd));
		return CB_EXIT_FAIL;
	}
	rb = ring_buffer__new(fd, on_record, &ctx, NULL);
	if (!rb) {
		err = -errno;
		cb_err("events %s: open ring buffer: %s", ifname, strerror(errno));
		close(fd);
		return CB_EXIT_FAIL;
	}
	/* attached with workers > 1: every worker's ring */
	for (i = 1; i < CB_MAX_WORKERS && (rfd[i] = cb_pin_open_ring(ifname, i)) >= 0; i++)
		if ((err = ring_buffer__add(rb, rfd[i], on_record, &ctx))) {
			cb_err("events %s: open ring %u: %s", ifname, i, strerror(-err));
			close(rfd[i]);
			break;
		}
	n_rings = i;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop) {
		uint32_t before = ctx.seen;

		err = ring_buffer__poll(rb, 200);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err < 0) {
			cb_err("events %s: poll: %s", ifname, strerror(-err));
			break;
		}
		err = 0;
		if (!cb_pin_dir_exists(ifname)) {
			cb_info("events %s: detached; exiting", ifname);
			break;
		}
		/* a controller that starts now would lose to us what we read: stop */
		if (!force && now_ms() - checked_ms >= 1000 && (checked_ms = now_ms(),
		    (pid = cb_controller_pid(ifname)) >= 0)) {
			cb_err("events %s: a controller%s started on %s; stopping: it consumes "
			       "the ring (--force reads anyway)", ifname, who(pid, pidbuf, sizeof(pidbuf)),
			       ifname);
			err = -EBUSY;
			break;
		}
		idle_ms = ctx.seen == before ? idle_ms + 200 : 0;
		if (timeout && idle_ms >= timeout * 1000)
			break;
	}
	ring_buffer__free(rb);
	close(fd);
	for (i = 1; i < n_rings; i++)
		close(rfd[i]);
	return err ? CB_EXIT_FAIL : CB_EXIT_OK;
}
