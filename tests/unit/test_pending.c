// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The controller's pending table (user/ctl/pending.c) over a stash in plain
 * memory: lookups by tuple, the per-source and table bounds, byte assembly
 * (gaps, records seen twice), and recovery from the stash after a restart.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ctl/pending.h"
#include "t_addr.h"

static struct cb_pending *T;
static struct cb_stash_slot *S;

static void setup(void)
{
	S = calloc(CB_PENDING_MAX, sizeof(*S));
	T = calloc(1, sizeof(*T));
	cr_assert(S && T);
	cb_pending_init(T, S);
}

static void teardown(void)
{
	free(S);
	free(T);
}

static struct cb_flow_key key(uint32_t src, uint16_t port)
{
	struct cb_flow_key k = t_key(a4(src), a4(0xc6120064), port, 80);

	return k;
}

TestSuite(pending, .init = setup, .fini = teardown);

Test(pending, create_find_free)
{
	struct cb_flow_key a = key(0xc6120001, 1000), b = key(0xc6120001, 1001);
	struct pending *p, *q;

	cr_assert_eq(cb_pending_create(T, &a, 5, &p), 0);
	cr_assert_eq(cb_pending_create(T, &b, 6, &q), 0);
	cr_expect_eq(cb_pending_find(T, &a), p);
	cr_expect_eq(cb_pending_find(T, &b), q);
	cr_expect_eq(p->state, P_ASSEMBLING);
	cr_expect_eq(p->first_ms, 5);
	cr_expect_eq(p->d.service, -1);
	cr_expect_eq(p->slot->used, 1, "the stash slot is marked used");
	cr_expect_eq(memcmp(&p->slot->key, &a, sizeof(a)), 0);
	cr_expect_eq(T->used, 2);
	cr_expect_eq(cb_pending_from(T, &a.saddr), 2);
	cb_pending_free(T, p);
	cr_expect_null(cb_pending_find(T, &a));
	cr_expect_eq(cb_pending_find(T, &b), q, "the other flow of the chain survives");
	cr_expect_eq(S[p - T->p].used, 0, "the stash slot is released");
	cr_expect_eq(cb_pending_from(T, &a.saddr), 1);
	cb_pending_free(T, p);          /* twice: a no-op */
	cr_expect_eq(T->used, 1);
}

Test(pending, per_source_bound_then_table_bound)
{
	struct pending *p;
	struct cb_flow_key k;
	uint32_t src;
	int i, err;

	for (i = 0; i < CB_PENDING_PER_SOURCE; i++) {
		k = key(0xc6120001, (uint16_t)(1000 + i));
		cr_assert_eq(cb_pending_create(T, &k, 0, &p), 0);
	}
	k = key(0xc6120001, 9999);
	cr_expect_eq(cb_pending_create(T, &k, 0, &p), -EDQUOT, "one source holds its share");
	/* other sources fill the rest, then the table is full */
	for (src = 2, err = 0; !err; src++) {
		k = key(0xc6120000 + src, 1000);
		err = cb_pending_create(T, &k, 0, &p);
	}
	cr_expect_eq(err, -ENOSPC);
	cr_expect_eq(T->used, CB_PENDING_MAX);
	/* freeing one slot makes room again */
	cb_pending_free(T, &T->p[7]);
	k = key(0xc6129999, 1);
	cr_expect_eq(cb_pending_create(T, &k, 0, &p), 0);
	cr_expect_eq(p, &T->p[7]);
}

static struct cb_flow_key key6(const char *src, uint16_t port)
{
	return t_key(a6(src), a6("2001:db8::100"), port, 80);
}

/* An IPv6 client is bounded by its /64 (it may pick any interface id): two
 * addresses of one /64 share the bound, another /64 has its own. */
Test(pending, ipv6_source_is_its_64)
{
	struct cb_flow_key k;
	struct pending *p;
	union cb_addr x;
	int i;

	for (i = 0; i < CB_PENDING_PER_SOURCE; i++) {
		k = key6(i & 1 ? "2001:db8:0:1::1" : "2001:db8:0:1:ffff:ffff:ffff:ffff",
			 (uint16_t)(1000 + i));
		cr_assert_eq(cb_pending_create(T, &k, 0, &p), 0, "flow %d", i);
	}
	x = a6("2001:db8:0:1::1234");
	cr_expect_eq(cb_pending_from(T, &x), CB_PENDING_PER_SOURCE, "counted by the /64");
	k = key6("2001:db8:0:1::77", 9999);
	cr_expect_eq(cb_pending_create(T, &k, 0, &p), -EDQUOT, "the /64 holds its share");
	k = key6("2001:db8:0:2::1", 1000);
	cr_expect_eq(cb_pending_create(T, &k, 0, &p), 0, "the next /64 is another source");
	k = key6("2001:db8:1:1::1", 1000);
	cr_expect_eq(cb_pending_create(T, &k, 0, &p), 0, "a /64 differing in its first half");
	x = a6("2001:db8:0:2::9");
	cr_expect_eq(cb_pending_from(T, &x), 1);
	/* an IPv4 client whose address is the /64's low word is its own source */
	k = key(0xffffffff, 1000);
	cr_expect_eq(cb_pending_create(T, &k, 0, &p), 0);
	x = a4(0xffffffff);
	cr_expect_eq(cb_pending_from(T, &x), 1);
	/* and IPv4 clients are still counted per address */
	k = key(0xc6120001, 1);
	cr_expect_eq(cb_pending_create(T, &k, 0, &p), 0);
	k = key(0xc6120002, 1);
	cr_expect_eq(cb_pending_create(T, &k, 0, &p), 0);
	x = a4(0xc6120001);
	cr_expect_eq(cb_pending_from(T, &x), 1);
}

Test(pending, append_in_order_duplicates_and_gaps)
{
	struct cb_flow_key a = key(0xc6120001, 1000);
	struct pending *p;

	cr_assert_eq(cb_pending_create(T, &a, 0, &p), 0);
	cr_expect_eq(cb_pending_append(p, 1001, (const uint8_t *)"GET ", 4), 0);
	cr_expect_eq(cb_pending_append(p, 1005, (const uint8_t *)"/ HTTP", 6), 0);
	/* a record seen before a restart: skipped; an overlap: only the new part */
	cr_expect_eq(cb_pending_append(p, 1001, (const uint8_t *)"GET ", 4), 0);
	cr_expect_eq(cb_pending_append(p, 1009, (const uint8_t *)"TP/1", 4), 0);
	cr_expect_eq(p->slot->len, 12);
	cr_expect_eq(memcmp(p->slot->data, "GET / HTTP/1", 12), 0);
	cr_expect_eq(p->slot->first_seq, 1001);
	cr_expect_eq(cb_pending_append(p, 1020, (const uint8_t *)"x", 1), -EPROTO, "a gap");
	cr_expect_eq(p->slot->len, 12, "nothing kept from after a gap");
}

Test(pending, recover_from_the_stash)
{
	struct cb_flow_key a = key(0xc6120001, 1000), b = key(0xc6120002, 2000);
	struct pending *p;

	cr_assert_eq(cb_pending_create(T, &a, 0, &p), 0);
	cr_assert_eq(cb_pending_append(p, 7, (const uint8_t *)"hello", 5), 0);
	cr_assert_eq(cb_pending_create(T, &b, 0, &p), 0);
	/* a new controller: a fresh table over the same stash */
	memset(T, 0xaa, sizeof(*T));
	cb_pending_init(T, S);
	cr_expect_eq(cb_pending_recover(T, 42, NULL, NULL), 2);
	p = cb_pending_find(T, &a);
	cr_assert_not_null(p);
	cr_expect_eq(p->slot->len, 5);
	cr_expect_eq(p->first_ms, 42);
	cr_expect_not_null(cb_pending_find(T, &b));
	cr_expect_eq(cb_pending_from(T, &a.saddr), 1);
	cr_expect_eq(cb_pending_recover(T, 43, NULL, NULL), 0, "recovering twice adds nothing");
}

Test(pending, counts_by_state_and_service)
{
	struct pending *p;
	int i;

	for (i = 0; i < 6; i++) {
		struct cb_flow_key k = key(0xc6120001 + (uint32_t)i, 1000);

		cr_assert_eq(cb_pending_create(T, &k, 0, &p), 0);
		if (i % 2) {
			p->state = P_WAITING;
			p->d.service = i % 3;
		}
	}
	cr_expect_eq(cb_pending_count(T, P_WAITING, -1), 3);
	cr_expect_eq(cb_pending_count(T, P_WAITING, 1), 1);
	cr_expect_eq(cb_pending_count(T, P_WAITING, 0), 1);
	cr_expect_eq(cb_pending_count(T, P_ASSEMBLING, -1), 3);
}

Test(pending, what_an_rst_needs_survives_in_the_stash)
{
	struct cb_flow_key a = key(0xc6120001, 1000);
	struct pending *p;
	uint32_t seq, ack;

	cr_assert_eq(cb_pending_create(T, &a, 0, &p), 0);
	cr_expect_eq(cb_pending_rst_seqs(p, &seq, &ack), -ENOENT, "nothing known yet");
	cb_pending_note(p, 5001, 0xfffffff0u);          /* from the OPEN record */
	cb_pending_note(p, 5001, 77);                   /* later records: first values win */
	cr_assert_eq(cb_pending_append(p, 5001, (const uint8_t *)"GET /", 5), 0);
	cr_assert_eq(cb_pending_rst_seqs(p, &seq, &ack), 0);
	cr_expect_eq(seq, 0xfffffff0u, "our snd_nxt");
	cr_expect_eq(ack, 5006, "the client's next byte");
	/* a restarted controller reads the same from the stash */
	cb_pending_init(T, S);
	cr_assert_eq(cb_pending_recover(T, 1, NULL, NULL), 1);
	p = cb_pending_find(T, &a);
	cr_assert_not_null(p);
	cr_assert_eq(cb_pending_rst_seqs(p, &seq, &ack), 0);
	cr_expect_eq(seq, 0xfffffff0u);
	cr_expect_eq(ack, 5006);
}

/* Keys that share a hash chain: freeing the head, the middle or the tail of
 * a chain leaves every other flow findable. */
static void unlink_at(int pos)
{
	struct cb_flow_key keys[1000];
	struct pending *p;
	int i, b, chain[3] = { -1, -1, -1 };

	for (i = 0; i < 1000; i++) {
		keys[i] = key(0xc6120000 + (uint32_t)(i % 200), (uint16_t)(1000 + i));
		cr_assert_eq(cb_pending_create(T, &keys[i], 0, &p), 0);
	}
	/* 1000 keys in 2048 buckets: some chain holds three */
	for (b = 0; b < CB_PENDING_BUCKETS && chain[2] < 0; b++) {
		chain[0] = T->by_key[b];
		chain[1] = chain[0] >= 0 ? T->p[chain[0]].next : -1;
		chain[2] = chain[1] >= 0 ? T->p[chain[1]].next : -1;
	}
	cr_assert_geq(chain[2], 0, "a chain of three");
	cb_pending_free(T, &T->p[chain[pos]]);
	for (i = 0; i < 1000; i++) {
		p = cb_pending_find(T, &keys[i]);
		if (p)
			cr_expect_eq(memcmp(&p->key, &keys[i], sizeof(keys[i])), 0, "found as itself");
	}
	cr_expect_eq(T->used, 999);
	for (i = 0, b = 0; i < 1000; i++)
		b += cb_pending_find(T, &keys[i]) != NULL;
	cr_expect_eq(b, 999, "every other flow is still found");
}

Test(pending, unlink_chain_head) { unlink_at(0); }
Test(pending, unlink_chain_middle) { unlink_at(1); }
Test(pending, unlink_chain_tail) { unlink_at(2); }

/* Marked flows come back once each, lowest slot first; a freed one never. */
Test(pending, marked_flows_are_taken_once_and_freed_ones_never)
{
	struct pending *p[130];
	int i;

	for (i = 0; i < 130; i++) {
		struct cb_flow_key k = key(0xc6120001 + (uint32_t)i, (uint16_t)(1000 + i));

		cr_assert_eq(cb_pending_create(T, &k, 1, &p[i]), 0);
	}
	cr_expect_null(cb_pending_take_dirty(T), "nothing marked yet");
	/* across words of the bitmap, marked twice, out of order */
	cb_pending_mark(T, p[129]);
	cb_pending_mark(T, p[3]);
	cb_pending_mark(T, p[64]);
	cb_pending_mark(T, p[3]);
	cb_pending_mark(T, p[70]);
	cr_expect(p[3]->dirty);
	cb_pending_free(T, p[70]);
	cr_expect_eq(cb_pending_take_dirty(T), p[3]);
	cr_expect_not(p[3]->dirty, "taking unmarks it");
	cr_expect_eq(cb_pending_take_dirty(T), p[64]);
	cr_expect_eq(cb_pending_take_dirty(T), p[129]);
	cr_expect_null(cb_pending_take_dirty(T), "each once; the freed one not at all");
	/* a mark while taking (a hand-off's drain brings bytes) is seen next */
	cb_pending_mark(T, p[5]);
	cr_expect_eq(cb_pending_take_dirty(T), p[5]);
	cb_pending_mark(T, p[1]);
	cr_expect_eq(cb_pending_take_dirty(T), p[1]);
	cr_expect_null(cb_pending_take_dirty(T));
}

/* Two workers' tables over one stash: neither takes a slot of the other's
 * share, each is full at its share, each bounds a source at a quarter of it. */
Test(pending, worker_shares_never_overlap)
{
	struct cb_pending *b = calloc(1, sizeof(*b));
	struct pending *p;
	int i;

	cr_assert(b);
	cb_pending_init_range(T, S, 0, CB_PENDING_MAX / 2);
	cb_pending_init_range(b, S, CB_PENDING_MAX / 2, CB_PENDING_MAX);
	cr_expect_eq(cb_pending_per_source(T), CB_PENDING_MAX / 8);
	/* the per-source bound of a share */
	for (i = 0; i < (int)cb_pending_per_source(T); i++) {
		struct cb_flow_key k = key(0xc6120001, (uint16_t)(1000 + i));

		cr_assert_eq(cb_pending_create(T, &k, 0, &p), 0);
	}
	{
		struct cb_flow_key k = key(0xc6120001, 999);

		cr_expect_eq(cb_pending_create(T, &k, 0, &p), -EDQUOT);
	}
	/* full at the share, every slot in range */
	cb_pending_init_range(T, S, 0, CB_PENDING_MAX / 2);
	memset(S, 0, CB_PENDING_MAX * sizeof(*S));
	for (i = 0; i < CB_PENDING_MAX / 2; i++) {
		struct cb_flow_key k = key(0xc6130000 + (uint32_t)i, 5000);

		cr_assert_eq(cb_pending_create(T, &k, 0, &p), 0);
		cr_assert_lt(p - T->p, CB_PENDING_MAX / 2);
		cr_assert_eq(p->slot, &S[p - T->p]);
	}
	{
		struct cb_flow_key k = key(0xc6140000, 5000);

		cr_expect_eq(cb_pending_create(T, &k, 0, &p), -ENOSPC);
		cr_assert_eq(cb_pending_create(b, &k, 0, &p), 0, "the other share has room");
		cr_expect_geq(p - b->p, CB_PENDING_MAX / 2);
		cr_expect_eq(p->slot, &S[p - b->p]);
	}
	free(b);
}

static int keep_even_ports(const struct cb_flow_key *k, void *arg)
{
	(void)arg;
	return !(ntohs(k->sport_be) & 1);
}

/* A restarted worker recovers its share only, and lets go of a slot whose
 * flow is not its own (keep() says no): the slot is free again. */
Test(pending, recover_takes_only_its_own)
{
	struct pending *p;
	int i;

	for (i = 0; i < 4; i++) {
		struct cb_flow_key k = key(0xc6120001, (uint16_t)(2000 + i));

		cr_assert_eq(cb_pending_create(T, &k, 0, &p), 0);
	}
	/* slot 700: in the second half's share */
	S[700].key = key(0xc6120009, 3000);
	S[700].used = 1;
	cb_pending_init_range(T, S, 0, CB_PENDING_MAX / 2);
	cr_expect_eq(cb_pending_recover(T, 1, keep_even_ports, NULL), 2);
	for (i = 0; i < 4; i++) {
		struct cb_flow_key k = key(0xc6120001, (uint16_t)(2000 + i));

		cr_expect_eq(cb_pending_find(T, &k) != NULL, !(i & 1), "port %d", 2000 + i);
	}
	cr_expect_eq(S[1].used, 0, "another worker's flow: let go");
	cr_expect_eq(S[700].used, 1, "outside the share: untouched");
}
