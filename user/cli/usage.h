/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The one source of every command's usage text: `connbroker CMD --help`,
 * the usage printed on a usage error, `connbroker help [CMD]`, and
 * `connbroker help --man` (a connbroker(8) page in roff) all come from the
 * table in usage.c.  A command without an entry there (one added to main.c's
 * table only) is listed with the summary main.c gives it and handles --help
 * itself.
 */
#ifndef CB_USAGE_H
#define CB_USAGE_H

#include <stdio.h>

struct cb_opt_doc {
	const char *flag;       /* "-s, --service VIP:PORT" */
	const char *help;       /* filled to 80 columns: a "\n" is a space */
};

struct cb_cmd_doc {
	const char *name;       /* "secret" */
	const char *args;       /* after the name: "rotate IFNAME" (filled, as help) */
	const char *summary;    /* one line, for the list of commands */
	const struct cb_opt_doc *opts;  /* ends with { 0 }; may be NULL */
	const char *notes;      /* a paragraph after the options, or NULL */
	int runs_cmd;           /* ARGS end with a command line of its own (exec): global
				   options after the command stop at its first word */
};

/* connbroker.conf(5): its sections and keys (conf_doc.c). */
struct cb_conf_section {
	const char *name;       /* "[service NAME]" */
	const char *intro;      /* filled, as help */
	const struct cb_opt_doc *keys;  /* "key = VALUE" and its meaning; ends with { 0 } */
};

extern const struct cb_conf_section cb_conf_sections[];
extern const struct cb_cmd_doc cb_cmd_docs[];
extern const struct cb_opt_doc cb_global_opts[];

/* The entry of command name, or NULL. */
const struct cb_cmd_doc *cb_cmd_doc(const char *name);
/* The usage of d to f: "Usage: connbroker NAME ARGS", the summary, the options. */
void cb_usage_print(FILE *f, const struct cb_cmd_doc *d);
/* Options in two columns, as the usages print them. */
void cb_opts_print(FILE *f, const struct cb_opt_doc *o);
/* connbroker(8) in roff, from the same table. */
void cb_usage_man(FILE *f, const char *version);
/* The configuration's reference (`connbroker help config`). */
void cb_conf_print(FILE *f);
/* connbroker.conf(5) in roff, from the same table. */
void cb_conf_man(FILE *f, const char *version);
/* A bash completion script, from the same table. */
void cb_usage_bash(FILE *f);

#endif
