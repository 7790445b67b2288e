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

/* ---- the addresses' family ------------------------------------------ */

/* 2001:db8::1 -> 2001:db8::100 */
static const union cb_addr SA6_ = { .b = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 } };
static const union cb_addr DA6_ = { .b = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0x01 } };

/* An IPv4 cookie is what it was before IPv6: the MAC over 5 words (both
 * 4-byte addresses, ports, ISN, time and data), so cookies made by an older
 * director during an upgrade still validate. */
Test(cookie, ipv4_mac_is_over_five_words_as_before)
{
	struct cb_cookie_opts o = { .mss = 1460, .wscale = 7, .sack = 1 };
	__u32 t, slot;

	for (t = 100; t < 103; t++)
		for (slot = 0; slot < 2; slot++) {
			__u32 data = cb_cookie_data(&o, t, slot);
			__u32 m[5] = { SA4, DA4, (SP << 16) | DP, 1000, (t << 16) ^ data };
			__u32 want = (cb_halfsiphash(key, m, 5) & CB_COOKIE_MAC_MASK) | data;

			cr_expect_eq(make(&o, t, slot), want, "t %u slot %u", t, slot);
		}
}

/* IPv6: the MAC over all 32 bytes of addresses, 11 words. */
Test(cookie, ipv6_mac_is_over_both_whole_addresses)
{
	struct cb_cookie_opts o = { .mss = 1440, .wscale = 9, .sack = 0 };
	__u32 data = cb_cookie_data(&o, 77, 0);
	__u32 m[11] = { SA6_.w[0], SA6_.w[1], SA6_.w[2], SA6_.w[3], DA6_.w[0], DA6_.w[1],
			DA6_.w[2], DA6_.w[3], (SP << 16) | DP, 4242, (77u << 16) ^ data };
	__u32 c = cb_cookie_make(key, 0, &SA6_, &DA6_, (__u16)SP, (__u16)DP, 4242, 77, &o);
	struct cb_cookie_info ci = { 0 };

	cr_expect_eq(c, (cb_halfsiphash(key, m, 11) & CB_COOKIE_MAC_MASK) | data);
	cr_assert_eq(cb_cookie_check(key, c, &SA6_, &DA6_, (__u16)SP, (__u16)DP, 4242, 78, &ci), 0);
	cr_expect_eq(ci.mss, 1440);
	cr_expect_eq(ci.wscale, 9);
	cr_expect_eq(ci.sack, 0);
}

/* An IPv6 cookie made for one address pair fails for any other: each of the
 * 256 address bits flipped, the addresses swapped, and the IPv4 addresses
 * whose mapped form shares the low word. */
Test(cookie, ipv6_any_address_bit_invalidates)
{
	struct cb_cookie_opts o = { .mss = 1460, .wscale = 7, .sack = 1 };
	__u32 c = cb_cookie_make(key, 1, &SA6_, &DA6_, (__u16)SP, (__u16)DP, 1000, 7, &o);
	struct cb_cookie_info ci = { 0 };
	union cb_addr s4 = { .w = { 0, 0, CB_V4MAPPED_W2, SA6_.w[3] } };
	union cb_addr d4 = { .w = { 0, 0, CB_V4MAPPED_W2, DA6_.w[3] } };
	int bit, fails = 0;

	cr_assert_eq(cb_cookie_check(key, c, &SA6_, &DA6_, (__u16)SP, (__u16)DP, 1000, 7, &ci), 0);
	for (bit = 0; bit < 256; bit++) {
		union cb_addr s = SA6_, d = DA6_;

		if (bit < 128)
			s.b[bit / 8] ^= (__u8)(1 << (bit % 8));
		else
			d.b[(bit - 128) / 8] ^= (__u8)(1 << (bit % 8));
		fails += cb_cookie_check(key, c, &s, &d, (__u16)SP, (__u16)DP, 1000, 7, &ci) != 0;
	}
	cr_expect_eq(fails, 256, "every address bit is in the MAC");
	cr_expect_neq(cb_cookie_check(key, c, &DA6_, &SA6_, (__u16)SP, (__u16)DP, 1000, 7, &ci), 0);
	cr_expect_neq(cb_cookie_check(key, c, &s4, &d4, (__u16)SP, (__u16)DP, 1000, 7, &ci), 0);
	/* an IPv4 cookie does not validate for the IPv6 pair with its low words */
	{
		union cb_addr s6 = SA6_, d6 = DA6_;
		__u32 c4;

		s6.w[3] = SA4;
		d6.w[3] = DA4;
		c4 = make(&o, 7, 1);
		cr_expect_neq(cb_cookie_check(key, c4, &s6, &d6, (__u16)SP, (__u16)DP, 1000, 7,
					      &ci), 0);
	}
}
