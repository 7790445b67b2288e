/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * CLOCK_MONOTONIC, the clock of the kernel's TCP timestamps and of
 * bpf_ktime_get_ns(): one source for every timeout and for the TS clock a
 * materialized socket continues.
 */
#ifndef CB_CLOCK_H
#define CB_CLOCK_H

#include <stdint.h>

uint64_t cb_now_ns(void);
uint64_t cb_now_ms64(void);
/* Milliseconds, truncated to 32 bits (the unit of TCP timestamps). */
uint32_t cb_now_ms(void);

#endif
