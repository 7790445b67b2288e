/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The last CB_SAMPLES durations of something, in µs, for p50 and p99. */
#ifndef CB_UTIL_SAMPLES_H
#define CB_UTIL_SAMPLES_H

#include <stdint.h>

#define CB_SAMPLES 4096                 /* times kept for percentiles */

struct cb_samples {
	uint32_t us[CB_SAMPLES];
	unsigned long n;                /* ever recorded (the last CB_SAMPLES kept) */
};

static inline void cb_sample(struct cb_samples *s, uint64_t from_ns, uint64_t to_ns)
{
	s->us[s->n++ % CB_SAMPLES] = to_ns > from_ns ? (uint32_t)((to_ns - from_ns) / 1000) : 0;
}

/* p50 and p99 of the times kept, in µs; 0 without samples. */
void cb_samples_pct(const struct cb_samples *s, uint32_t *p50, uint32_t *p99);

#endif
