// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* connbroker run: options and exit codes; the controller is ctl/. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "ctl/controller.h"
#include "util/log.h"

int cmd_run(const struct cb_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "interface", required_argument, NULL, 'i' },
		{ "socket", required_argument, NULL, 's' },
		{ "metrics", required_argument, NULL, 'm' },
		{ "node", required_argument, NULL, 'n' },
		{ 0 },
	};
	struct cb_ctl_opts o = { 0 };
	int c, err;

	while ((c = getopt_long(argc, argv, "c:i:s:m:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': o.cfg_path = optarg; break;
		case 'i': o.ifname = optarg; break;
		case 's': o.sock_path = optarg; break;
		case 'm': o.metrics = optarg; break;
		case 'n': o.node = optarg; break;
		default: return cb_cmd_usage(stderr, cli->cmd);
		}
	}
	if (!o.cfg_path)
		return cb_usage_error(cli->cmd, "run: --config FILE is required");
	if (optind != argc)
		return cb_usage_error(cli->cmd, "run: unexpected argument '%s'", argv[optind]);
	if (o.ifname && strlen(o.ifname) >= 16) {
		cb_err("run: --interface %s: name too long", o.ifname);
		return CB_EXIT_USAGE;
	}
	if (cb_require_root("run"))
		return CB_EXIT_FAIL;
	err = cb_ctl_run(&o);
	if (err == -EINVAL && !o.ifname)
		return CB_EXIT_USAGE;   /* reported: no interface anywhere */
	return err ? CB_EXIT_FAIL : CB_EXIT_OK;
}
