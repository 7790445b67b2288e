// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * connbroker: one binary, table-driven subcommands (like ip, bpftool and
 * xdp-loader).  Global options come before the subcommand.
 * Exit status: 0 success, 1 failure, 2 usage error.
 */
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "util/log.h"

#define CB_VERSION "0.1.0"

struct cb_cmd {
	const char *name;
	int (*fn)(const struct cb_cli *cli, int argc, char **argv);
	const char *summary;
};

static const struct cb_cmd cmds[] = {
	{ "attach", cmd_attach, "attach IFNAME --service VIP:PORT... [--mode native|skb|tc]" },
	{ "detach", cmd_detach, "detach IFNAME [--force]  (--force: also orphaned programs)" },
	{ "status", cmd_status, "status [IFNAME]        what is attached here, pins, services, counters" },
	{ "flows", cmd_flows, "flows IFNAME           the flow table" },
	{ "events", cmd_events, "events IFNAME [--count N] [--timeout S]  ring-buffer records" },
	{ "secret", cmd_secret, "secret rotate IFNAME   new SYN-cookie secret (old one still valid)" },
	{ "check-config", cmd_check_config, "check-config FILE      validate a controller config" },
	{ "run", cmd_run, "run --config FILE [--interface IF] [--socket PATH] [--node NAME] [--metrics IP:PORT|off]\n"
			  "                         the controller (SIGHUP: reload)" },
	{ "drain", cmd_drain, "drain NODE [--off] [--wait S]  NODE takes no new connections; its released ones move" },
	{ "migrate", cmd_migrate, "migrate CLIENT:PORT APP|APP@NODE|@NODE  move one live connection" },
	{ "exec", cmd_exec, "exec --app NAME [--port LIST] [--socket PATH] -- CMD ARGS...  run an unmodified server behind connbroker" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: connbroker [-v] [-j|--json] COMMAND [ARGS]\n       connbroker --version\n\n"
		   "Commands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %s\n", cmds[i].summary);
	fprintf(f, "\nOptions:\n  -v, --verbose  more messages (twice: libbpf/libxdp debug)\n"
		   "  -j, --json     JSON output\n  -h, --help     this text\n");
}

int main(int argc, char **argv)
{
	struct cb_cli cli = { 0 };
	int i = 1;
	size_t c;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			cb_verbose++;
		} else if (!strcmp(argv[i], "-vv")) {
			cb_verbose += 2;
		} else if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
			cli.json = 1;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return CB_EXIT_OK;
		} else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("connbroker %s\n", CB_VERSION);
			return CB_EXIT_OK;
		} else {
			cb_err("unknown option '%s'", argv[i]);
			usage(stderr);
			return CB_EXIT_USAGE;
		}
	}
	if (i == argc) {
		usage(stderr);
		return CB_EXIT_USAGE;
	}
	cb_log_setup_libs();
	for (c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++)
		if (!strcmp(argv[i], cmds[c].name))
			return cmds[c].fn(&cli, argc - i, argv + i);
	cb_err("unknown command '%s'", argv[i]);
	usage(stderr);
	return CB_EXIT_USAGE;
}
