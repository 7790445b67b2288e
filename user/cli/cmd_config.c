// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* connbroker check-config FILE */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli/cli.h"
#include "ctl/config.h"
#include "util/log.h"
#include "util/parse_util.h"

int cmd_check_config(const struct cb_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { 0 } };
	struct cb_config_file *c;
	char err[512];
	int i;

	if (getopt_long(argc, argv, "", opts, NULL) != -1)
		return cb_cmd_usage(stderr, cli->cmd);
	if (optind != argc - 1)
		return cb_usage_error(cli->cmd, "check-config: expected exactly one FILE, got %d",
				      argc - optind);
	argv += optind - 1;
	c = malloc(sizeof(*c));         /* ~400 KB: not on the stack */
	if (!c || cb_config_load(argv[1], c, err, sizeof(err))) {
		cb_err("check-config: %s", c ? err : "out of memory");
		free(c);
		return CB_EXIT_FAIL;
	}
	for (i = 0; i < c->n_services; i++) {
		char a[CB_LISTEN_STRLEN];

		printf("service %-12s %-21s default %s, route %s\n", c->services[i].name,
		       cb_fmt_listen(&c->services[i], a, sizeof(a)),
		       c->services[i].default_app >= 0 ? c->apps[c->services[i].default_app].name
						      : "(none: on_timeout)",
		       c->services[i].per_request ? "per-request" : "per-connection");
	}
	for (i = 0; i < c->n_nodes; i++)
		printf("node    %-12s id %-5u control %-21s%s\n", c->nodes[i].name, c->nodes[i].id,
		       c->nodes[i].control, i == c->self ? " (this node)" : "");
	for (i = 0; i < c->n_rules; i++)
		printf("rule    %-12s service %s -> app %s\n", c->rules[i].name,
		       c->services[c->rules[i].service].name, c->apps[c->rules[i].app].name);
	printf("%s: OK (%d services, %d rules, %d apps)\n", argv[1], c->n_services, c->n_rules,
	       c->n_apps);
	free(c);
	return CB_EXIT_OK;
}
