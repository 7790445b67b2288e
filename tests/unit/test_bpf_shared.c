// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* include/connbroker/shared.h's helpers, compiled here as in the programs. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <connbroker/shared.h>

Test(shared, flow_state_names_and_values)
{
	/* the values are ABI (pinned flow tables, the controller's CAS) */
	cr_expect_eq(CB_FLOW_UNBOUND, 1);
	cr_expect_eq(CB_FLOW_LOCAL, 2);
	cr_expect_eq(CB_FLOW_FROZEN, 3);
	cr_expect_eq(CB_FLOW_SHIPPING, 4);
	cr_expect_eq(CB_FLOW_REDIRECT, 5);
	cr_expect_eq(CB_FLOW_PENDING, 6);
	cr_expect_eq(CB_FLOW_MOVING, 7);
	cr_expect_eq(CB_FLOW_STATE_MAX, 8);
	cr_expect_str_eq(cb_flow_state_name(CB_FLOW_UNBOUND), "unbound");
	cr_expect_str_eq(cb_flow_state_name(CB_FLOW_LOCAL), "local");
	cr_expect_str_eq(cb_flow_state_name(CB_FLOW_FROZEN), "frozen");
	cr_expect_str_eq(cb_flow_state_name(CB_FLOW_SHIPPING), "shipping");
	cr_expect_str_eq(cb_flow_state_name(CB_FLOW_REDIRECT), "redirect");
	cr_expect_str_eq(cb_flow_state_name(CB_FLOW_PENDING), "pending");
	cr_expect_str_eq(cb_flow_state_name(CB_FLOW_MOVING), "moving");
	cr_expect_str_eq(cb_flow_state_name(0), "?");
	cr_expect_str_eq(cb_flow_state_name(CB_FLOW_STATE_MAX), "?");
}

Test(shared, window_left_of_an_unbound_flow)
{
	static const struct { uint32_t rcv_wnd, bytes_in, left; } rows[] = {
		{ 65536, 0, 65536 },
		{ 65536, 1400, 64136 },
		{ 65536, 65536, 0 },
		{ 2000, 2400, 0 },      /* never below 0 */
		{ 0, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct cb_flow f;

		memset(&f, 0, sizeof(f));
		f.rcv_wnd = rows[i].rcv_wnd;
		f.bytes_in = rows[i].bytes_in;
		cr_expect_eq(cb_flow_window_left(&f), rows[i].left, "row %zu", i);
	}
}

/* A client's connections (one address, its ports) spread evenly over the
 * workers, for any count; always in range; one worker takes everything. */
Test(shared, flow_shard_spreads_a_clients_ports)
{
	static const uint32_t ns[] = { 1, 2, 3, 7, 64 };
	unsigned int count[64];
	size_t t;

	for (t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
		uint32_t n = ns[t], port, i;

		memset(count, 0, sizeof(count));
		for (port = 1024; port < 1024 + 64000; port++) {
			struct cb_flow_key k;
			uint32_t s;

			memset(&k, 0, sizeof(k));
			k.saddr.w[2] = CB_V4MAPPED_W2;
			k.saddr.w[3] = 0x010012c6;      /* 198.18.0.1 */
			k.daddr = k.saddr;
			k.sport_be = (uint16_t)((port >> 8) | (port << 8));
			k.dport_be = 0x5000;            /* 80 */
			s = cb_flow_shard(&k, n);
			cr_assert_lt(s, n, "shard %u of %u", s, n);
			count[s]++;
		}
		for (i = 0; i < n; i++)
			cr_expect(count[i] > 64000 / n * 9 / 10 && count[i] < 64000 / n * 11 / 10,
				  "n=%u: worker %u got %u of 64000", n, i, count[i]);
	}
}
