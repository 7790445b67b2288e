// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Prometheus text helpers (user/ctl/prom.c): escaping and relabelling. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl/prom.h"

Test(prom, label_values_are_escaped)
{
	char b[32];

	cr_expect_str_eq(cb_prom_esc("web", b, sizeof(b)), "web");
	cr_expect_str_eq(cb_prom_esc("a\"b", b, sizeof(b)), "a\\\"b");
	cr_expect_str_eq(cb_prom_esc("a\\b", b, sizeof(b)), "a\\\\b");
	cr_expect_str_eq(cb_prom_esc("a\nb", b, sizeof(b)), "a\\nb");
	/* truncated to whole escapes: never a lone backslash at the end */
	cr_expect_str_eq(cb_prom_esc("ab\"", b, 4), "ab");
	cr_expect_str_eq(CB_PROM_ESC("x\"y"), "x\\\"y");
}

static char *relabel(const char *in, const char *value, int *rc)
{
	char *out = NULL;
	size_t n = 0;
	FILE *o = open_memstream(&out, &n);

	*rc = cb_prom_relabel(in, strlen(in), "interface", value, o);
	fclose(o);
	return out;
}

Test(prom, every_sample_gets_the_label)
{
	static const struct { const char *in, *want; } rows[] = {
		{ "# HELP a_total x\n# TYPE a_total counter\na_total 3\n",
		  "# HELP a_total x\n# TYPE a_total counter\na_total{interface=\"eth0\"} 3\n" },
		{ "b{state=\"unbound\"} 1\nb{state=\"local\"} 2\n",
		  "b{interface=\"eth0\",state=\"unbound\"} 1\nb{interface=\"eth0\",state=\"local\"} 2\n" },
		{ "c{} 5\n", "c{interface=\"eth0\"} 5\n" },
		{ "h_bucket{le=\"+Inf\"} 7\nh_sum 0.5\n",
		  "h_bucket{interface=\"eth0\",le=\"+Inf\"} 7\nh_sum{interface=\"eth0\"} 0.5\n" },
		{ "\n", "\n" },
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *out = relabel(rows[i].in, "eth0", &rc);

		cr_expect_eq(rc, 0, "row %zu", i);
		cr_expect_str_eq(out, rows[i].want, "row %zu", i);
		free(out);
	}
}

Test(prom, the_label_value_is_escaped_and_bad_lines_refused)
{
	char *out;
	int rc;

	out = relabel("a 1\n", "we\"ird", &rc);
	cr_expect_eq(rc, 0);
	cr_expect_str_eq(out, "a{interface=\"we\\\"ird\"} 1\n");
	free(out);
	out = relabel("novalue\n", "eth0", &rc);
	cr_expect_neq(rc, 0, "a sample without a value");
	free(out);
}
