// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * connbroker: one binary, table-driven subcommands (like ip, bpftool and
 * xdp-loader).  Global options (-j, -v, -h) go before the command or anywhere
 * after it up to a "--"; -h/--help prints the usage to stdout and exits 0, a
 * usage error prints it to stderr and exits 2; under -j a failure is a JSON
 * object on stdout, {"error":MESSAGE,"command":CMD}, as bpftool -j does.
 * Every usage text: user/cli/usage.c.
 * Exit status: 0 success, 1 failure, 2 usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/usage.h"
#include "util/log.h"

struct cb_cmd {
	const char *name;
	int (*fn)(const struct cb_cli *cli, int argc, char **argv);
	const char *summary;    /* only for a command without an entry in usage.c */
};

static int cmd_help(const struct cb_cli *cli, int argc, char **argv);

static const struct cb_cmd cmds[] = {
	{ "attach", cmd_attach, NULL },
	{ "detach", cmd_detach, NULL },
	{ "status", cmd_status, NULL },
	{ "flows", cmd_flows, NULL },
	{ "events", cmd_events, NULL },
	{ "secret", cmd_secret, NULL },
	{ "check-config", cmd_check_config, NULL },
	{ "run", cmd_run, NULL },
	{ "drain", cmd_drain, NULL },
	{ "migrate", cmd_migrate, NULL },
	{ "exec", cmd_exec, "run an unmodified server: its listen()/accept() get connbroker's connections" },
	{ "version", cmd_version, NULL },
	{ "help", cmd_help, NULL },
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static const struct cb_cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < N_CMDS; i++)
		if (!strcmp(name, cmds[i].name))
			return &cmds[i];
	return NULL;
}

static const char *summary_of(const struct cb_cmd *c)
{
	const struct cb_cmd_doc *d = cb_cmd_doc(c->name);

	return d ? d->summary : c->summary ? c->summary : "";
}

static int usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: connbroker [OPTIONS] COMMAND [ARGS]\n"
		   "       connbroker COMMAND --help\n"
		   "       connbroker --version\n\nCommands:\n");
	for (i = 0; i < N_CMDS; i++)
		fprintf(f, "  %-14s %s\n", cmds[i].name, summary_of(&cmds[i]));
	fprintf(f, "\nOptions (before or after the command):\n");
	cb_opts_print(f, cb_global_opts);
	fprintf(f, "\nExit status: 0 success, 1 failure, 2 usage error.\n");
	return f == stdout ? CB_EXIT_OK : CB_EXIT_USAGE;
}

/* connbroker help [COMMAND | config | --man | --man5 | --bash-completion] */
static int cmd_help(const struct cb_cli *cli, int argc, char **argv)
{
	const struct cb_cmd *c;

	if (argc == 1)
		return usage(stdout);
	if (argc == 2 && !strcmp(argv[1], "--man")) {
		cb_usage_man(stdout, CB_VERSION);
		return CB_EXIT_OK;
	}
	if (argc == 2 && !strcmp(argv[1], "--bash-completion")) {
		cb_usage_bash(stdout);
		return CB_EXIT_OK;
	}
	if (argc == 2 && !strcmp(argv[1], "--man5")) {
		cb_conf_man(stdout, CB_VERSION);
		return CB_EXIT_OK;
	}
	if (argc == 2 && !strcmp(argv[1], "config")) {
		cb_conf_print(stdout);
		return CB_EXIT_OK;
	}
	if (argc > 2 || argv[1][0] == '-')
		return cb_usage_error(cli->cmd, "help: expected one command name, config, --man, "
				      "--man5 or --bash-completion");
	if (!(c = find_cmd(argv[1]))) {
		cb_err("help: unknown command '%s'", argv[1]);
		return usage(stderr);
	}
	if (cb_cmd_doc(c->name))
		return cb_cmd_usage(stdout, c->name);
	/* no usage in usage.c: the command's own --help */
	{
		char prog[64], *av[] = { prog, "--help", NULL };
		struct cb_cli sub = *cli;

		snprintf(prog, sizeof(prog), "connbroker %s", c->name);
		sub.cmd = c->name;
		return c->fn(&sub, 2, av);
	}
}

/* A usage error before any command was found; under -j also a JSON object. */
static int global_usage_error(const struct cb_cli *cli, const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	cb_err("%s", msg);
	usage(stderr);
	if (cli->json)
		cb_json_error(stdout, NULL, msg, NULL, NULL);
	return CB_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct cb_cli cli = { 0 };
	const struct cb_cmd *c;
	const struct cb_cmd_doc *d;
	const char *bad = NULL, *m;
	int i = 1, ac, help = 0, version = 0, verbose = 0, rc;
	char prog[64], **av;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			verbose++;
		else if (!strcmp(argv[i], "-vv"))
			verbose += 2;
		else if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			cli.json = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			help = 1;
		else if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V"))
			version = 1;
		else if (!bad)
			bad = argv[i];
	}
	if (bad)
		return global_usage_error(&cli, "unknown option '%s'", bad);
	if (version) {          /* as bpftool -V: whatever follows */
		cli.cmd = "version";
		return cmd_version(&cli, 1, (char *[]){ "connbroker version", NULL });
	}
	if (i == argc) {
		if (help)
			return usage(stdout);
		return global_usage_error(&cli, "%s", "no command given");
	}
	if (!(c = find_cmd(argv[i])))
		return global_usage_error(&cli, "unknown command '%s'", argv[i]);
	cli.cmd = c->name;
	av = calloc((size_t)(argc - i) + 2, sizeof(*av));
	if (!av)
		return CB_EXIT_FAIL;
	d = cb_cmd_doc(c->name);
	if (d) {
		ac = cb_cli_split(argc - i, argv + i, d->runs_cmd, &cli, &verbose, &help, av);
	} else {        /* its arguments are all its own: global options go before it */
		for (ac = 0; ac < argc - i; ac++)
			av[ac] = argv[i + ac];
	}
	cb_verbose = verbose;
	if (help) {
		if (d)
			return cb_cmd_usage(stdout, c->name);
		/* a command with no usage in usage.c answers --help itself */
		memmove(av + 2, av + 1, (size_t)ac * sizeof(*av));
		av[1] = "--help";
		ac++;
	}
	snprintf(prog, sizeof(prog), "connbroker %s", c->name);
	av[0] = prog;   /* getopt's messages: "connbroker attach: unrecognized option" */
	if (cli.json)
		cb_errtap_install();
	cb_log_setup_libs();
	rc = c->fn(&cli, ac, av);
	if (rc != CB_EXIT_OK && cli.json && !cb_json_error_printed) {
		m = cb_errtap_last();
		fflush(stdout);
		cb_json_error(stdout, c->name, m ? m : rc == CB_EXIT_USAGE ? "usage error" : "failed",
			      NULL, NULL);
	}
	free(av);
	return rc;
}
