// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The memo of clients whose RTT the kernel caches (repair/rtt_memo.h). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "repair/rtt_memo.h"

static struct cb_sock_state v4(const char *local, const char *peer, uint16_t port)
{
	struct cb_sock_state st;

	memset(&st, 0, sizeof(st));
	st.local.in4.sin_family = st.peer.in4.sin_family = AF_INET;
	cr_assert_eq(inet_pton(AF_INET, local, &st.local.in4.sin_addr), 1);
	cr_assert_eq(inet_pton(AF_INET, peer, &st.peer.in4.sin_addr), 1);
	st.peer.in4.sin_port = htons(port);
	return st;
}

static struct cb_sock_state v6(const char *local, const char *peer)
{
	struct cb_sock_state st;

	memset(&st, 0, sizeof(st));
	st.local.in6.sin6_family = st.peer.in6.sin6_family = AF_INET6;
	cr_assert_eq(inet_pton(AF_INET6, local, &st.local.in6.sin6_addr), 1);
	cr_assert_eq(inet_pton(AF_INET6, peer, &st.peer.in6.sin6_addr), 1);
	return st;
}

Test(rtt_memo, remembers_a_seeded_pair_for_its_ttl_whatever_the_port)
{
	static struct cb_rtt_memo m;
	struct cb_sock_state a = v4("198.18.0.10", "198.18.1.2", 40000);
	struct cb_sock_state a2 = v4("198.18.0.10", "198.18.1.2", 40001);
	struct cb_sock_state other_peer = v4("198.18.0.10", "198.18.1.3", 40000);
	struct cb_sock_state other_vip = v4("198.18.0.11", "198.18.1.2", 40000);

	cr_expect_not(cb_rtt_memo_has(&m, &a, 1000), "empty");
	cb_rtt_memo_put(&m, &a, true, 1000);
	cr_expect(cb_rtt_memo_has(&m, &a, 1000));
	cr_expect(cb_rtt_memo_has(&m, &a2, 2000), "the kernel's key has no ports");
	cr_expect_not(cb_rtt_memo_has(&m, &other_peer, 1000));
	cr_expect_not(cb_rtt_memo_has(&m, &other_vip, 1000), "the local address is in the key");
	cr_expect(cb_rtt_memo_has(&m, &a, 1000 + CB_RTT_MEMO_TTL_MS - 1));
	cr_expect_not(cb_rtt_memo_has(&m, &a, 1000 + CB_RTT_MEMO_TTL_MS), "expired");
}

Test(rtt_memo, an_unseeded_socket_forgets_the_pair)
{
	static struct cb_rtt_memo m;
	struct cb_sock_state a = v4("198.18.0.10", "198.18.1.2", 1);
	struct cb_sock_state b = v4("198.18.0.10", "198.18.1.9", 1);

	cb_rtt_memo_put(&m, &a, true, 5);
	cb_rtt_memo_put(&m, &b, false, 5);
	cr_expect(cb_rtt_memo_has(&m, &a, 6), "another pair's miss leaves it");
	cb_rtt_memo_put(&m, &a, false, 6);
	cr_expect_not(cb_rtt_memo_has(&m, &a, 6));
}

Test(rtt_memo, clock_wraps)
{
	static struct cb_rtt_memo m;
	struct cb_sock_state a = v4("198.18.0.10", "198.18.1.2", 1);
	uint32_t now = 0xffffff00u;

	cb_rtt_memo_put(&m, &a, true, now);
	cr_expect(cb_rtt_memo_has(&m, &a, now + 1000), "across the wrap");
	cr_expect_not(cb_rtt_memo_has(&m, &a, now + CB_RTT_MEMO_TTL_MS + 1));
}

Test(rtt_memo, ipv6_pairs_and_families_apart)
{
	static struct cb_rtt_memo m;
	struct cb_sock_state a = v6("2001:db8::10", "2001:db8:1::2");
	struct cb_sock_state b = v6("2001:db8::10", "2001:db8:1::3");

	cb_rtt_memo_put(&m, &a, true, 0);
	cr_expect(cb_rtt_memo_has(&m, &a, 1));
	cr_expect_not(cb_rtt_memo_has(&m, &b, 1), "differs in the last byte only");
}

/* Bounded: many pairs fill the slots; the memo never grows, and each pair
 * put last in its slot is found. */
Test(rtt_memo, bounded_many_pairs)
{
	static struct cb_rtt_memo m;
	char peer[32];
	int i, found = 0;

	for (i = 0; i < 3 * CB_RTT_MEMO_SLOTS; i++) {
		struct cb_sock_state st;

		snprintf(peer, sizeof(peer), "198.18.%d.%d", (i >> 8) & 0xff, i & 0xff);
		st = v4("198.19.0.1", peer, 1);
		cb_rtt_memo_put(&m, &st, true, 0);
		found += cb_rtt_memo_has(&m, &st, 0);
	}
	cr_expect_eq(found, 3 * CB_RTT_MEMO_SLOTS);
	cr_expect_eq(sizeof(m), CB_RTT_MEMO_SLOTS * (sizeof(uint64_t) + sizeof(uint32_t)));
}
