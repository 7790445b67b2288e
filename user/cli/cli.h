/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The command boundary: subcommands of the connbroker binary.  Each returns
 * the process exit code (0 success, 1 failure, 2 usage error); everything
 * below them returns 0 or -errno and the commands turn that into a message
 * and a code.
 */
#ifndef CB_CLI_H
#define CB_CLI_H

#include <stdio.h>

#include <connbroker/version.h>

#define CB_EXIT_OK 0
#define CB_EXIT_FAIL 1
#define CB_EXIT_USAGE 2

/*
 * Global options: before the command or anywhere after it up to a "--"
 * (cb_cli_split); what follows "--" is the command's own, untouched.
 */
struct cb_cli {
	int json;               /* -j/--json */
	const char *cmd;        /* the command's name, as in its usage and JSON errors */
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
int cmd_version(const struct cb_cli *cli, int argc, char **argv);

/* 0, or -EPERM with a message when not running with the privileges BPF needs. */
int cb_require_root(const char *what);

/* ---- shared by the commands (cli.c) ---------------------------------- */

/*
 * Global options out of a command's arguments (argv[0] is the command): -j,
 * --json, -v, --verbose, -vv, -h, --help anywhere before a "--" (and, with
 * stop_at_arg, before the first word that is not an option: a command line
 * of its own follows, as in exec) are taken out, the rest copied to out
 * (argc + 1 entries, NULL-terminated).  Sets cli->json, adds to *verbose,
 * sets *help.  Returns the new argc.
 */
int cb_cli_split(int argc, char **argv, int stop_at_arg, struct cb_cli *cli, int *verbose,
		 int *help, char **out);
/* The usage of command name (usage.c) to f; CB_EXIT_OK for stdout, else CB_EXIT_USAGE. */
int cb_cmd_usage(FILE *f, const char *name);
/* A usage error: "connbroker: MESSAGE" (when fmt), the usage to stderr; CB_EXIT_USAGE. */
int cb_usage_error(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * -j: {"error":msg,"command":cmd} on one line, plus "key":raw (raw JSON) when
 * key; after it the command's caller prints no error object of its own.
 */
void cb_json_error(FILE *f, const char *cmd, const char *msg, const char *key, const char *raw);
extern int cb_json_error_printed;

/*
 * Under -j, stderr is tapped: what is written goes to fd 2 as before, and the
 * last "connbroker: " line is kept, the message of a failure's JSON object.
 */
struct cb_errtap {
	char line[512];         /* the line being written (truncated when longer) */
	size_t len;
	char last[512];         /* the last message, without "connbroker: " */
	int have;
};
void cb_errtap_feed(struct cb_errtap *t, const char *buf, size_t n);
int cb_errtap_install(void);            /* 0 or -errno */
const char *cb_errtap_last(void);       /* NULL when none */

/*
 * The pid holding a lock on the file (device maj:min, inode ino) in the text of
 * /proc/locks: the pid, 0 when held by a pid not shown, -1 when none holds it.
 */
int cb_locks_pid(const char *text, unsigned int maj, unsigned int min, unsigned long ino);
/*
 * The controller of ifname in this network namespace: its pid, 0 when one
 * runs whose pid is unknown, -1 when none runs.
 */
int cb_controller_pid(const char *ifname);

#endif
