/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A 64-bit mixer for hash tables and rendezvous hashing (not keyed: never
 * for anything an outsider must not predict). */
#ifndef CB_UTIL_HASH_H
#define CB_UTIL_HASH_H

#include <stdint.h>

/* MurmurHash3's finalizer (fmix64): every input bit reaches every output bit. */
static inline uint64_t cb_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

#endif
