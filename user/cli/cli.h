/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The command boundary: subcommands of the connbroker binary.  Each returns
 * the process exit code (0 success, 1 failure, 2 usage error); everything
 * below them returns 0 or -errno and the commands turn that into a message
 * and a code.
 */
#ifndef CB_CLI_H
#define CB_CLI_H

#define CB_EXIT_OK 0
#define CB_EXIT_FAIL 1
#define CB_EXIT_USAGE 2

/* Global options, parsed before the subcommand. */
struct cb_cli {
	int json;               /* -j/--json */
};

int cmd_attach(const struct cb_cli *cli, int argc, char **argv);
int cmd_detach(const struct cb_cli *cli, int argc, char **argv);
int cmd_status(const struct cb_cli *cli, int argc, char **argv);
int cmd_flows(const struct cb_cli *cli, int argc, char **argv);
int cmd_events(const struct cb_cli *cli, int argc, char **argv);
int cmd_secret(const struct cb_cli *cli, int argc, char **argv);
int cmd_check_config(const struct cb_cli *cli, int argc, char **argv);
int cmd_run(const struct cb_cli *cli, int argc, char **argv);
int cmd_drain(const struct cb_cli *cli, int argc, char **argv);
int cmd_migrate(const struct cb_cli *cli, int argc, char **argv);
int cmd_exec(const struct cb_cli *cli, int argc, char **argv);

/* 0, or -EPERM with a message when not running with the privileges BPF needs. */
int cb_require_root(const char *what);

#endif
