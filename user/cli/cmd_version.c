// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * connbroker version (and --version, -V): connbroker's version and the
 * libbpf and libxdp this process runs with (util/libver.c: libxdp has no
 * version call, both come from the files the dynamic loader mapped).
 */
#include <stdio.h>
#include <bpf/libbpf.h>
#include "cli/cli.h"
#include "util/json.h"
#include "util/libver.h"

static void text_line(const char *name, const char *version, const char *path)
{
	printf("%s %s", name, version);
	if (path[0])
		printf(" (%s)", path);
	putchar('\n');
}

int cmd_version(const struct cb_cli *cli, int argc, char **argv)
{
	struct cb_libver v;

	if (argc > 1)
		return cb_usage_error(cli->cmd, "%s: unexpected argument '%s'", cli->cmd, argv[1]);
	cb_libver_get(&v);
	if (cli->json) {
		printf("{\"version\":");
		cb_json_str(stdout, CB_VERSION);
		printf(",\"libbpf\":{\"version\":");
		cb_json_str(stdout, v.libbpf);
		printf(",\"major\":%u,\"minor\":%u,\"path\":", libbpf_major_version(),
		       libbpf_minor_version());
		cb_json_str(stdout, v.libbpf_path);
		printf("},\"libxdp\":{\"version\":");
		cb_json_str(stdout, v.libxdp);
		printf(",\"path\":");
		cb_json_str(stdout, v.libxdp_path);
		printf("}}\n");
	} else {
		printf("connbroker %s\n", CB_VERSION);
		text_line("libbpf", v.libbpf, v.libbpf_path);
		text_line("libxdp", v.libxdp, v.libxdp_path);
	}
	return CB_EXIT_OK;
}
