// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include "ctl/prom.h"

const char *cb_prom_esc(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (!len)
		return buf;
	for (; *s; s++) {
		const char *rep = NULL;
		char one[2] = { *s, 0 };
		size_t rl;

		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '"')
			rep = "\\\"";
		else if (*s == '\n')
			rep = "\\n";
		else
			rep = one;
		rl = strlen(rep);
		if (o + rl >= len)
			break;          /* whole escapes only: never half of one */
		memcpy(buf + o, rep, rl);
		o += rl;
	}
	buf[o] = 0;
	return buf;
}

/* One sample line (no newline): name[{labels}] value [timestamp]. */
static int relabel_line(const char *l, size_t n, const char *label, FILE *o)
{
	size_t i = 0;

	while (i < n && l[i] != '{' && l[i] != ' ')
		i++;
	if (i == 0 || i == n)
		return -EINVAL;
	fwrite(l, 1, i, o);
	if (l[i] == '{')
		fprintf(o, "{%s%s", label, i + 1 < n && l[i + 1] == '}' ? "" : ",");
	else
		fprintf(o, "{%s}", label);
	fwrite(l + i + (l[i] == '{'), 1, n - i - (l[i] == '{'), o);
	fputc('\n', o);
	return 0;
}

int cb_prom_relabel(const char *text, size_t n, const char *name, const char *value, FILE *o)
{
	char esc[256], label[320];
	size_t i = 0;

	snprintf(label, sizeof(label), "%s=\"%s\"", name, cb_prom_esc(value, esc, sizeof(esc)));
	while (i < n) {
		const char *nl = memchr(text + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (text + i)) : n - i;

		if (len == 0 || text[i] == '#') {
			fwrite(text + i, 1, len, o);
			fputc('\n', o);
		} else if (relabel_line(text + i, len, label, o)) {
			return -EINVAL;
		}
		i += len + 1;
	}
	return 0;
}
