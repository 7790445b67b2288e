// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Percentiles of the last durations: samples.h. */
#include <stdlib.h>
#include <string.h>
#include "util/samples.h"

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void cb_samples_pct(const struct cb_samples *s, uint32_t *p50, uint32_t *p99)
{
	uint32_t v[CB_SAMPLES];         /* 16 KB of stack, a few times a second */
	size_t n = s->n < CB_SAMPLES ? s->n : CB_SAMPLES;

	*p50 = *p99 = 0;
	if (!n)
		return;
	memcpy(v, s->us, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_u32);
	*p50 = v[n / 2];
	*p99 = v[(n * 99) / 100];
}
