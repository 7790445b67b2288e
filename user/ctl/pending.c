// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include "ctl/pending.h"
#include "ctl/reset.h"

static unsigned int hash32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

static unsigned int addr_hash(const union cb_addr *a)
{
	return hash32(a->w[0] ^ hash32(a->w[1] ^ hash32(a->w[2] ^ hash32(a->w[3]))));
}

static unsigned int key_bucket(const struct cb_flow_key *k)
{
	return hash32(addr_hash(&k->saddr) ^ hash32(addr_hash(&k->daddr) ^
						   ((uint32_t)k->sport_be << 16 | k->dport_be))) %
	       CB_PENDING_BUCKETS;
}

/*
 * Who a flow's client is, for the per-source bound: its IPv4 address, or
 * its IPv6 /64 (one host picks any address of its /64 at will).
 */
static union cb_addr source_of(const union cb_addr *client)
{
	union cb_addr s = *client;

	if (!cb_addr_is_v4(&s))
		s.w[2] = s.w[3] = 0;
	return s;
}

static unsigned int src_bucket(const union cb_addr *src)
{
	return addr_hash(src) % CB_PENDING_BUCKETS;
}

_Static_assert(CB_PENDING_MAX % 64 == 0, "the dirty bitmap holds whole words");

void cb_pending_init(struct cb_pending *t, struct cb_stash_slot *stash)
{
	cb_pending_init_range(t, stash, 0, CB_PENDING_MAX);
}

unsigned int cb_pending_per_source(const struct cb_pending *t)
{
	unsigned int n = (unsigned int)(t->hi - t->lo) / 4;

	return n ? n : 1;
}

void cb_pending_init_range(struct cb_pending *t, struct cb_stash_slot *stash, int lo, int hi)
{
	int i;

	memset(t->p, 0, sizeof(t->p));
	memset(t->dirty, 0, sizeof(t->dirty));
	t->stash = stash;
	t->used = 0;
	t->lo = lo < 0 ? 0 : lo;
	t->hi = hi > CB_PENDING_MAX ? CB_PENDING_MAX : hi < t->lo ? t->lo : hi;
	for (i = 0; i < CB_PENDING_BUCKETS; i++)
		t->by_key[i] = t->by_src[i] = -1;
	for (i = 0; i < CB_PENDING_MAX; i++) {
		t->p[i].slot = &stash[i];
		t->p[i].next = -1;
		t->src[i].next = (int16_t)(i + 1 < CB_PENDING_MAX ? i + 1 : -1);
	}
	t->src_free = 0;
}

struct pending *cb_pending_find(struct cb_pending *t, const struct cb_flow_key *k)
{
	int16_t i;

	for (i = t->by_key[key_bucket(k)]; i >= 0; i = t->p[i].next)
		if (!memcmp(&t->p[i].key, k, sizeof(*k)))
			return &t->p[i];
	return NULL;
}

static struct cb_pending_src *src_find(const struct cb_pending *t, const union cb_addr *src)
{
	int16_t i;

	for (i = t->by_src[src_bucket(src)]; i >= 0; i = t->src[i].next)
		if (!memcmp(&t->src[i].src, src, sizeof(*src)))
			return (struct cb_pending_src *)&t->src[i];
	return NULL;
}

unsigned int cb_pending_from(const struct cb_pending *t, const union cb_addr *client)
{
	union cb_addr src = source_of(client);
	const struct cb_pending_src *s = src_find(t, &src);

	return s ? s->count : 0;
}

/* Count one more flow from client's source (the caller checked the bound). */
static void src_add(struct cb_pending *t, const union cb_addr *client)
{
	union cb_addr src = source_of(client);
	struct cb_pending_src *s = src_find(t, &src);
	unsigned int b;
	int16_t i;

	if (s) {
		s->count++;
		return;
	}
	i = t->src_free;                /* never empty: at most one entry per flow */
	t->src_free = t->src[i].next;
	b = src_bucket(&src);
	t->src[i].src = src;
	t->src[i].count = 1;
	t->src[i].next = t->by_src[b];
	t->by_src[b] = i;
}

static void src_del(struct cb_pending *t, const union cb_addr *client)
{
	union cb_addr src = source_of(client);
	unsigned int b = src_bucket(&src);
	int16_t *link = &t->by_src[b];

	while (*link >= 0 && memcmp(&t->src[*link].src, &src, sizeof(src)))
		link = &t->src[*link].next;
	if (*link < 0 || --t->src[*link].count)
		return;
	{
		int16_t i = *link;

		*link = t->src[i].next;
		t->src[i].next = t->src_free;
		t->src_free = i;
	}
}

/* Take slot i for k: index it, count its source, mark its stash slot used. */
static struct pending *take(struct cb_pending *t, int i, const struct cb_flow_key *k,
			    uint64_t now_ms)
{
	struct pending *p = &t->p[i];
	unsigned int b = key_bucket(k);

	memset(p, 0, sizeof(*p));
	p->state = P_ASSEMBLING;
	p->key = *k;
	p->slot = &t->stash[i];
	p->d.service = p->d.rule = p->d.app = -1;
	p->first_ms = now_ms;
	p->next = t->by_key[b];
	t->by_key[b] = (int16_t)i;
	src_add(t, &k->saddr);
	t->used++;
	return p;
}

int cb_pending_create(struct cb_pending *t, const struct cb_flow_key *k, uint64_t now_ms,
		      struct pending **out)
{
	struct cb_stash_slot *s;
	int i;

	if (cb_pending_from(t, &k->saddr) >= cb_pending_per_source(t))
		return -EDQUOT;
	if (t->used >= (unsigned int)(t->hi - t->lo))
		return -ENOSPC;
	for (i = t->lo; i < t->hi && t->p[i].state != P_FREE; i++)
		;
	*out = take(t, i, k, now_ms);
	s = (*out)->slot;
	s->key = *k;
	s->len = 0;
	s->first_seq = 0;
	s->snd_nxt = 0;
	s->flags = 0;
	/* the slot's fields first, `used` last: a restart trusts what it sees */
	__atomic_store_n(&s->used, 1, __ATOMIC_RELEASE);
	return 0;
}

void cb_pending_free(struct cb_pending *t, struct pending *p)
{
	int16_t *link;
	int i = (int)(p - t->p);

	if (p->state == P_FREE)
		return;                 /* already closed while being handled */
	if (p->held_fd1)                /* reset, not closed with a FIN */
		cb_reset_socket(cb_pending_take_held(p));
	__atomic_store_n(&p->slot->used, 0, __ATOMIC_RELEASE);
	for (link = &t->by_key[key_bucket(&p->key)]; *link >= 0 && *link != i;
	     link = &t->p[*link].next)
		;
	if (*link == i)
		*link = p->next;
	src_del(t, &p->key.saddr);
	t->used--;
	t->dirty[i / 64] &= ~(1ull << (i % 64));
	memset(p, 0, sizeof(*p));
	p->slot = &t->stash[i];
	p->next = -1;
}

void cb_pending_mark(struct cb_pending *t, struct pending *p)
{
	int i = (int)(p - t->p);

	p->dirty = 1;
	t->dirty[i / 64] |= 1ull << (i % 64);
}

struct pending *cb_pending_take_dirty(struct cb_pending *t)
{
	size_t w;

	for (w = 0; w < sizeof(t->dirty) / sizeof(t->dirty[0]); w++) {
		if (t->dirty[w]) {
			int b = __builtin_ctzll(t->dirty[w]);
			struct pending *p = &t->p[w * 64 + (size_t)b];

			t->dirty[w] &= t->dirty[w] - 1;
			p->dirty = 0;
			return p;
		}
	}
	return NULL;
}

void cb_pending_note(struct pending *p, uint32_t first_seq, uint32_t snd_nxt)
{
	struct cb_stash_slot *s = p->slot;

	if (!s->len && !s->first_seq)
		s->first_seq = first_seq;
	if (!(s->flags & CB_STASH_SND_NXT)) {
		s->snd_nxt = snd_nxt;
		/* the value first, then the flag that vouches for it */
		__atomic_store_n(&s->flags, s->flags | CB_STASH_SND_NXT, __ATOMIC_RELEASE);
	}
}

int cb_pending_rst_seqs(const struct pending *p, uint32_t *seq, uint32_t *ack)
{
	const struct cb_stash_slot *s = p->slot;

	if (!(s->flags & CB_STASH_SND_NXT) || !s->first_seq)
		return -ENOENT;
	*seq = s->snd_nxt;
	*ack = s->first_seq + s->len;
	return 0;
}

int cb_pending_append(struct pending *p, uint32_t seq, const uint8_t *data, size_t n)
{
	struct cb_stash_slot *s = p->slot;
	uint32_t expect;
	size_t skip;

	if (!s->len && !s->first_seq)
		s->first_seq = seq;
	expect = s->first_seq + s->len;
	if ((int32_t)(seq - expect) > 0)
		return -EPROTO;         /* a gap: records were lost */
	skip = (size_t)(expect - seq);
	if (skip >= n)
		return 0;               /* a record seen before a restart */
	data += skip;
	n -= skip;
	if (s->len + n > CB_STASH_BYTES)
		return -EMSGSIZE;       /* the flow cap keeps this from happening */
	memcpy(s->data + s->len, data, n);
	/* the bytes first, then the length that covers them */
	__atomic_store_n(&s->len, s->len + (uint32_t)n, __ATOMIC_RELEASE);
	return 0;
}

int cb_pending_recover(struct cb_pending *t, uint64_t now_ms,
		       int (*keep)(const struct cb_flow_key *k, void *arg), void *arg)
{
	int i, n = 0;

	for (i = t->lo; i < t->hi; i++) {
		struct cb_stash_slot *s = &t->stash[i];

		if (!__atomic_load_n(&s->used, __ATOMIC_ACQUIRE) || t->p[i].state != P_FREE)
			continue;
		if (cb_pending_find(t, &s->key) || (keep && !keep(&s->key, arg))) {
			/* two slots for one tuple: keep the first, drop the stale one */
			__atomic_store_n(&s->used, 0, __ATOMIC_RELEASE);
			continue;
		}
		take(t, i, &s->key, now_ms);
		n++;
	}
	return n;
}

unsigned int cb_pending_count(const struct cb_pending *t, enum cb_pend_state state, int service)
{
	unsigned int n = 0;
	int i;

	for (i = t->lo; i < t->hi; i++)        /* the rest is never taken */
		n += t->p[i].state == state && (service < 0 || t->p[i].d.service == service);
	return n;
}
