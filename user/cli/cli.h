/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Subcommands of the connbroker binary.  Each returns the process exit code:
 * 0 success, 1 failure, 2 usage error.
 */
#ifndef CB_CMDS_H
#define CB_CMDS_H

#include <stdio.h>

#define CB_EXIT_OK 0
#define CB_EXIT_FAIL 1
#define CB_EXIT_USAGE 2

extern int cb_json;     /* -j/--json given */

int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_flows(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_secret(int argc, char **argv);
int cmd_check_config(int argc, char **argv);

/* Print s as a JSON string literal. */
void cb_json_str(FILE *f, const char *s);
/* Fail unless running with the privileges BPF needs. */
int cb_require_root(const char *what);

#endif
