/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The little JSON output needs (`-j`, like ip -j and bpftool -j). */
#ifndef CB_JSON_H
#define CB_JSON_H

#include <stdio.h>

/* Print s as a JSON string literal (quotes, backslashes, control bytes escaped). */
void cb_json_str(FILE *f, const char *s);

#endif
