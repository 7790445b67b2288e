// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * connbroker events IFNAME: print each ring-buffer record (until the
 * controller exists, this is how the first bytes of a flow are seen).
 * Waits in epoll (ring_buffer__poll); stops on SIGINT/SIGTERM, after
 * --count records, or after --timeout seconds without a record.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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
		{ 0 },
	};
	struct ev_ctx ctx = { .json = cli->json };
	struct ring_buffer *rb;
	uint32_t timeout = 0, idle_ms = 0;
	int fd, c, err = 0;

	while ((c = getopt_long(argc, argv, "n:t:", opts, NULL)) != -1) {
		if (c == 'n' && !cb_parse_u32(optarg, 1, UINT32_MAX, &ctx.count))
			continue;
		if (c == 't' && !cb_parse_u32(optarg, 1, 86400, &timeout))
			continue;
		fprintf(stderr, "Usage: connbroker [-j] events IFNAME [--count N] [--timeout SECONDS]\n");
		return CB_EXIT_USAGE;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "Usage: connbroker [-j] events IFNAME [--count N] [--timeout SECONDS]\n");
		return CB_EXIT_USAGE;
	}
	if (cb_require_root("events"))
		return CB_EXIT_FAIL;
	fd = cb_pin_open_map(argv[optind], "cb_events");
	if (fd < 0) {
		cb_err("events %s: not attached (%s)", argv[optind], strerror(-fd));
		return CB_EXIT_FAIL;
	}
	rb = ring_buffer__new(fd, on_record, &ctx, NULL);
	if (!rb) {
		err = -errno;
		cb_err("events %s: open ring buffer: %s", argv[optind], strerror(errno));
		close(fd);
		return CB_EXIT_FAIL;
	}
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
			cb_err("events %s: poll: %s", argv[optind], strerror(-err));
			break;
		}
		err = 0;
		if (!cb_pin_dir_exists(argv[optind])) {
			cb_info("events %s: detached; exiting", argv[optind]);
			break;
		}
		idle_ms = ctx.seen == before ? idle_ms + 200 : 0;
		if (timeout && idle_ms >= timeout * 1000)
			break;
	}
	ring_buffer__free(rb);
	close(fd);
	return err ? CB_EXIT_FAIL : CB_EXIT_OK;
}
