// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The SYN-cookie arithmetic of bpf/lib/cookie.h, compiled here unchanged. */
#include <criterion/criterion.h>
#include <linux/types.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#include "../../bpf/lib/cookie.h"

static const __u32 ref_key[2] = { 0x03020100, 0x07060504 };

/* Reference HalfSipHash-2-4 vectors (key 00..07, message 00..n-1, 32-bit out). */
Test(halfsiphash, reference_vectors)
{
	__u32 m[2] = { 0x03020100, 0x07060504 };

	cr_expect_eq(cb_halfsiphash(ref_key, m, 0), 0x5b9f35a9u);
	cr_expect_eq(cb_halfsiphash(ref_key, m, 1), 0x89466e2au);
	cr_expect_eq(cb_halfsiphash(ref_key, m, 2), 0x8f84b8d0u);
}

static const __u32 key[2] = { 0xdeadbeef, 0x01234567 };
/* 198.18.0.1 and 198.18.0.100, IPv4 mapped (the IPv4 word in network
 * order on a little-endian host) */
#define SA4 0x010012c6u
#define DA4 0x640012c6u
static const union cb_addr SA_ = { .w = { 0, 0, CB_V4MAPPED_W2, SA4 } };
static const union cb_addr DA_ = { .w = { 0, 0, CB_V4MAPPED_W2, DA4 } };
static const union cb_addr SA1_ = { .w = { 0, 0, CB_V4MAPPED_W2, SA4 + 1 } };
static const union cb_addr DA1_ = { .w = { 0, 0, CB_V4MAPPED_W2, DA4 + 1 } };
#define SA (&SA_)
#define DA (&DA_)
#define SP 0x409cu      /* 40000 */
#define DP 0x5000u      /* 80 */

static __u32 make(const struct cb_cookie_opts *o, __u32 t, __u32 slot)
{
	return cb_cookie_make(key, slot, SA, DA, (__u16)SP, (__u16)DP, 1000, t, o);
}

Test(cookie, roundtrip_carries_options)
{
	struct cb_cookie_opts o = { .mss = 1460, .wscale = 7, .sack = 1 };
	struct cb_cookie_info ci = { 0 };
	__u32 c = make(&o, 500, 1);

	cr_assert_eq(cb_cookie_check(key, c, SA, DA, (__u16)SP, (__u16)DP, 1000, 500, &ci), 0);
	cr_expect_eq(ci.mss, 1460);
	cr_expect_eq(ci.wscale, 7);
	cr_expect_eq(ci.sack, 1);
	cr_expect_eq(cb_cookie_slot(c), 1);
}

Test(cookie, no_timestamps_still_keeps_wscale_and_sack)
{
	/* the options live in the ISN, not in a TSval: nothing depends on TS */
	struct cb_cookie_opts o = { .mss = 1300, .wscale = 14, .sack = 1 };
	struct cb_cookie_info ci = { 0 };
	__u32 c = make(&o, 9, 0);

	cr_assert_eq(cb_cookie_check(key, c, SA, DA, (__u16)SP, (__u16)DP, 1000, 9, &ci), 0);
	cr_expect_eq(ci.wscale, 14);
	cr_expect_eq(ci.sack, 1);
	cr_expect_eq(ci.mss, 1300);
}

Test(cookie, absent_options)
{
	struct cb_cookie_opts o = { .mss = 0, .wscale = CB_WSCALE_NONE, .sack = 0 };
	struct cb_cookie_info ci = { 0 };
	__u32 c = make(&o, 9, 0);

	cr_assert_eq(cb_cookie_check(key, c, SA, DA, (__u16)SP, (__u16)DP, 1000, 9, &ci), 0);
	cr_expect_eq(ci.wscale, CB_WSCALE_NONE);
	cr_expect_eq(ci.sack, 0);
	cr_expect_eq(ci.mss, 536);
}

Test(cookie, mss_rounds_down_to_table)
{
	cr_expect_eq(cb_cookie_mss_index(0), 0);
	cr_expect_eq(cb_cookie_mss_index(536), 0);
	cr_expect_eq(cb_cookie_mss_index(1299), 0);
	cr_expect_eq(cb_cookie_mss_index(1300), 1);
	cr_expect_eq(cb_cookie_mss_index(1439), 1);
	cr_expect_eq(cb_cookie_mss_index(1440), 2);
	cr_expect_eq(cb_cookie_mss_index(1460), 3);
	cr_expect_eq(cb_cookie_mss_index(9000), 3);
	cr_expect_eq(cb_mss_of_index(2), 1440);
}

Test(cookie, valid_for_current_and_next_period_only)
{
	struct cb_cookie_opts o = { .mss = 1460, .wscale = 7, .sack = 1 };
	struct cb_cookie_info ci = { 0 };
	__u32 c = make(&o, 100, 0);

	cr_expect_eq(cb_cookie_check(key, c, SA, DA, (__u16)SP, (__u16)DP, 1000, 100, &ci), 0);
	cr_expect_eq(cb_cookie_check(key, c, SA, DA, (__u16)SP, (__u16)DP, 1000, 101, &ci), 0);
	cr_expect_neq(cb_cookie_check(key, c, SA, DA, (__u16)SP, (__u16)DP, 1000, 102, &ci), 0);
	cr_expect_neq(cb_cookie_check(key, c, SA, DA, (__u16)SP, (__u16)DP, 1000, 99, &ci), 0);
}

Test(cookie, any_change_invalidates)
{
	struct cb_cookie_opts o = { .mss = 1460, .wscale = 7, .sack = 1 };
	struct cb_cookie_info ci = { 0 };
	const __u32 other[2] = { 0xdeadbeef, 0x01234568 };
	__u32 c = make(&o, 7, 0);
	int bit;

	cr_expect_neq(cb_cookie_check(other, c, SA, DA, (__u16)SP, (__u16)DP, 1000, 7, &ci), 0);
	cr_expect_neq(cb_cookie_check(key, c, &SA1_, DA, (__u16)SP, (__u16)DP, 1000, 7, &ci), 0);
	cr_expect_neq(cb_cookie_check(key, c, SA, &DA1_, (__u16)SP, (__u16)DP, 1000, 7, &ci), 0);
	cr_expect_neq(cb_cookie_check(key, c, SA, DA, (__u16)SP + 1, (__u16)DP, 1000, 7, &ci), 0);
	cr_expect_neq(cb_cookie_check(key, c, SA, DA, (__u16)SP, (__u16)DP + 1, 1000, 7, &ci), 0);
	cr_expect_neq(cb_cookie_check(key, c, SA, DA, (__u16)SP, (__u16)DP, 1001, 7, &ci), 0);
	/* flipping any single bit of the cookie, option bits included, fails */
	for (bit = 0; bit < 32; bit++)
		cr_expect_neq(cb_cookie_check(key, c ^ (1u << bit), SA, DA, (__u16)SP, (__u16)DP,
					      1000, 7, &ci), 0, "bit %d", bit);
}

Test(cookie, forgery_rate_matches_mac_width)
{
	/* Random guesses should pass about 2^-23 of the time: over 2^20 tries,
	 * expect well under 8 successes (mean 0.125). */
	struct cb_cookie_info ci = { 0 };
	__u32 x = 12345, i, ok = 0;

	for (i = 0; i < (1u << 20); i++) {
		x = x * 1664525u + 1013904223u;
		ok += cb_cookie_check(key, x, SA, DA, (__u16)SP, (__u16)DP, 1000, 7, &ci) == 0;
	}
	cr_expect_lt(ok, 8);
}
