/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Prometheus text format helpers, pure: label values escaped as the format
 * requires, and a label added to every sample of a rendered exposition (the
 * interface, so two controllers scraped into one Prometheus do not clash).
 */
#ifndef CB_PROM_H
#define CB_PROM_H

#include <stddef.h>
#include <stdio.h>

/* s as a label value: \ " and newline escaped; truncated to fit buf. */
#define CB_PROM_ESC_MAX 256
/* The same into a buffer of the enclosing block (one per use). */
#define CB_PROM_ESC(s) cb_prom_esc((s), (char[CB_PROM_ESC_MAX]){ 0 }, CB_PROM_ESC_MAX)
const char *cb_prom_esc(const char *s, char *buf, size_t len);
/*
 * Copy the exposition text[0..n) to o with `name="value"` (value escaped)
 * as the first label of every sample; comment lines unchanged.  0, or
 * -EINVAL if a sample line is malformed (then nothing more is copied).
 */
int cb_prom_relabel(const char *text, size_t n, const char *name, const char *value, FILE *o);

#endif
