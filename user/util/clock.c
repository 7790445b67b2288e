// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <time.h>
#include "util/clock.h"

uint64_t cb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cb_now_ms64(void)
{
	return cb_now_ns() / 1000000u;
}

uint32_t cb_now_ms(void)
{
	return (uint32_t)cb_now_ms64();
}
