// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The command line's pure parts: global options, the stderr tap, /proc/locks, usages. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/usage.h"

static int split(const char **in, int stop_at_arg, struct cb_cli *cli, int *verbose, int *help,
		 char **out)
{
	int n = 0;

	while (in[n])
		n++;
	return cb_cli_split(n, (char **)in, stop_at_arg, cli, verbose, help, out);
}

Test(cli, split_global_options_anywhere)
{
	const char *in[] = { "status", "-j", "eth0", "--json", "-v", "-vv", NULL };
	struct cb_cli cli = { 0 };
	int verbose = 0, help = 0, n;
	char *out[8];

	n = split(in, 0, &cli, &verbose, &help, out);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(out[0], "status");
	cr_expect_str_eq(out[1], "eth0");
	cr_expect_null(out[2]);
	cr_expect_eq(cli.json, 1);
	cr_expect_eq(verbose, 3);
	cr_expect_eq(help, 0);
}

Test(cli, split_stops_at_double_dash)
{
	const char *in[] = { "exec", "--app", "web", "-h", "--", "nginx", "-j", "-v", "-h", NULL };
	struct cb_cli cli = { 0 };
	int verbose = 0, help = 0, n;
	char *out[12];

	n = split(in, 0, &cli, &verbose, &help, out);
	cr_assert_eq(n, 8);
	cr_expect_eq(help, 1);
	cr_expect_str_eq(out[3], "--");
	cr_expect_str_eq(out[5], "-j");
	cr_expect_str_eq(out[6], "-v");
	cr_expect_str_eq(out[7], "-h");
	cr_expect_eq(cli.json, 0);
	cr_expect_eq(verbose, 0);
}

Test(cli, split_stop_at_arg_keeps_the_command_line)
{
	const char *in[] = { "exec", "-j", "nginx", "-v", "--json", NULL };
	struct cb_cli cli = { 0 };
	int verbose = 0, help = 0, n;
	char *out[8];

	n = split(in, 1, &cli, &verbose, &help, out);
	cr_assert_eq(n, 4);
	cr_expect_eq(cli.json, 1);
	cr_expect_str_eq(out[1], "nginx");
	cr_expect_str_eq(out[2], "-v");
	cr_expect_str_eq(out[3], "--json");
	cr_expect_eq(verbose, 0);
}

Test(cli, split_command_name_is_never_taken)
{
	const char *in[] = { "-j", NULL };      /* argv[0] is the command */
	struct cb_cli cli = { 0 };
	int verbose = 0, help = 0;
	char *out[4];

	cr_expect_eq(split(in, 0, &cli, &verbose, &help, out), 1);
	cr_expect_eq(cli.json, 0);
}

static void feed(struct cb_errtap *t, const char *s)
{
	cb_errtap_feed(t, s, strlen(s));
}

Test(cli, errtap_keeps_the_last_message)
{
	struct cb_errtap t = { 0 };

	feed(&t, "libbpf: some noise\n");
	cr_expect_eq(t.have, 0);
	feed(&t, "connbroker: first\nconnbroker: sec");
	cr_expect_str_eq(t.last, "first");
	feed(&t, "ond one\n");
	cr_expect_str_eq(t.last, "second one");
	feed(&t, "Usage: connbroker attach IFNAME\n  --mss N\n");
	cr_expect_str_eq(t.last, "second one");
	/* getopt's, argv[0] being "connbroker attach" */
	feed(&t, "connbroker attach: unrecognized option '--bogus'\n");
	cr_expect_str_eq(t.last, "attach: unrecognized option '--bogus'");
	/* "connbroker is not attached ...": text, not a message */
	feed(&t, "connbroker is not attached to any interface\n");
	cr_expect_str_eq(t.last, "attach: unrecognized option '--bogus'");
	/* to the journal a line starts with its syslog priority (util/log.c) */
	feed(&t, "<3>connbroker: events eth0: a controller runs\n");
	cr_expect_str_eq(t.last, "events eth0: a controller runs");
}

Test(cli, errtap_truncates_long_lines)
{
	struct cb_errtap t = { 0 };
	char big[2000];

	memset(big, 'x', sizeof(big));
	memcpy(big, "connbroker: ", 12);
	cb_errtap_feed(&t, big, sizeof(big));
	feed(&t, "\n");
	cr_assert_eq(t.have, 1);
	cr_expect_lt(strlen(t.last), sizeof(t.last));
	cr_expect_eq(t.last[0], 'x');
	feed(&t, "connbroker: short\n");
	cr_expect_str_eq(t.last, "short");
}

static const char locks[] =
	"1: POSIX  ADVISORY  WRITE 600 00:19:4242 0 EOF\n"
	"2: FLOCK  ADVISORY  WRITE 1234 00:1a:777 0 EOF\n"
	"2: -> FLOCK  ADVISORY  WRITE 99 00:1a:778 0 EOF\n"
	"3: OFDLCK ADVISORY  READ  -1 08:01:55 0 EOF\n"
	"10: FLOCK  ADVISORY  WRITE 4321 fd:03:777 0 EOF\n";

Test(cli, locks_pid)
{
	cr_expect_eq(cb_locks_pid(locks, 0x00, 0x1a, 777), 1234);
	cr_expect_eq(cb_locks_pid(locks, 0x00, 0x19, 4242), 600);
	cr_expect_eq(cb_locks_pid(locks, 0xfd, 0x03, 777), 4321);
	/* a waiter holds nothing */
	cr_expect_eq(cb_locks_pid(locks, 0x00, 0x1a, 778), -1);
	/* held, the pid not shown */
	cr_expect_eq(cb_locks_pid(locks, 0x08, 0x01, 55), 0);
	cr_expect_eq(cb_locks_pid(locks, 0x00, 0x1a, 77), -1);
	cr_expect_eq(cb_locks_pid("", 0, 0x1a, 777), -1);
	cr_expect_eq(cb_locks_pid("garbage\n\n", 0, 0x1a, 777), -1);
}

static char *json_error(const char *cmd, const char *msg, const char *key, const char *raw)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cb_json_error(f, cmd, msg, key, raw);
	fclose(f);
	return buf;
}

Test(cli, json_error_escapes)
{
	char *s = json_error("status", "status \"e\\th0\": not\nattached", NULL, NULL);

	cr_expect_str_eq(s, "{\"error\":\"status \\\"e\\\\th0\\\": not\\u000aattached\","
			    "\"command\":\"status\"}\n");
	free(s);
	s = json_error(NULL, "", "reply", "{\"error\":\"x\"}");
	cr_expect_str_eq(s, "{\"error\":\"failed\",\"command\":null,\"reply\":{\"error\":\"x\"}}\n");
	free(s);
	cr_expect_eq(cb_json_error_printed, 1);
}

static char *usage_of(const struct cb_cmd_doc *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cb_usage_print(f, d);
	fclose(f);
	return buf;
}

Test(cli, every_usage_is_complete_and_fits)
{
	const struct cb_cmd_doc *d;
	const struct cb_opt_doc *o;
	char want[64], *u, *line;
	size_t n = 0;

	for (d = cb_cmd_docs; d->name; d++, n++) {
		cr_assert_not_null(d->args, "%s", d->name);
		cr_expect(d->summary && d->summary[0], "%s: no summary", d->name);
		cr_expect_eq(cb_cmd_doc(d->name), d);
		for (o = d->opts; o && o->flag; o++) {
			cr_expect_eq(o->flag[0], '-', "%s: option '%s'", d->name, o->flag);
			cr_expect(o->help && o->help[0], "%s %s: no help", d->name, o->flag);
		}
		u = usage_of(d);
		snprintf(want, sizeof(want), "Usage: connbroker %s", d->name);
		cr_expect_eq(strncmp(u, want, strlen(want)), 0, "%s", u);
		for (line = strtok(u, "\n"); line; line = strtok(NULL, "\n"))
			cr_expect_leq(strlen(line), 80, "%s: a line of %zu columns: %s", d->name,
				      strlen(line), line);
		free(u);
	}
	cr_expect_geq(n, 12);
	cr_expect_null(cb_cmd_doc("nosuch"));
	for (o = cb_global_opts; o->flag; o++)
		cr_expect_eq(o->flag[0], '-');
}

Test(cli, man_page_from_the_same_table)
{
	const struct cb_cmd_doc *d;
	char *buf = NULL, want[64];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cb_usage_man(f, "9.9");
	fclose(f);
	cr_expect_not_null(strstr(buf, ".TH CONNBROKER 8 \"\" \"connbroker 9.9\""));
	for (d = cb_cmd_docs; d->name; d++) {
		snprintf(want, sizeof(want), "\n.SS \"%s", d->name);
		/* "check-config": roff escapes its dash */
		if (!strchr(d->name, '-'))
			cr_expect_not_null(strstr(buf, want), "no section for %s", d->name);
	}
	cr_expect_not_null(strstr(buf, ".SS \"check\\-config FILE\""));
	cr_expect_not_null(strstr(buf, "\\-\\-service"));
	free(buf);
}
