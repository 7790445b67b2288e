// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Clients whose RTT the kernel caches: rtt_memo.h. */
#include <string.h>
#include <unistd.h>
#include "repair/rtt_memo.h"
#include "util/hash.h"

static uint64_t mix_bytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t w;

	while (n >= 8) {
		memcpy(&w, b, 8);
		h = cb_mix64(h ^ w);
		b += 8;
		n -= 8;
	}
	w = 0;
	memcpy(&w, b, n);
	return cb_mix64(h ^ w ^ ((uint64_t)n << 56));
}

/* The tcp_metrics key: the local and the peer address (no ports). */
static uint64_t pair_tag(const struct cb_sock_state *st)
{
	uint64_t h = st->local.sa.sa_family;

	if (st->local.sa.sa_family == AF_INET6) {
		h = mix_bytes(h, &st->local.in6.sin6_addr, 16);
		h = mix_bytes(h, &st->peer.in6.sin6_addr, 16);
	} else {
		h = mix_bytes(h, &st->local.in4.sin_addr, 4);
		h = mix_bytes(h, &st->peer.in4.sin_addr, 4);
	}
	return h | 1;           /* never 0, the empty slot */
}

bool cb_rtt_memo_has(const struct cb_rtt_memo *m, const struct cb_sock_state *st,
		     uint32_t now_ms)
{
	uint64_t tag = pair_tag(st);
	unsigned i = (unsigned)(tag >> 52) % CB_RTT_MEMO_SLOTS;

	return m->tag[i] == tag && (int32_t)(m->until_ms[i] - now_ms) > 0;
}

void cb_rtt_memo_put(struct cb_rtt_memo *m, const struct cb_sock_state *st, bool seeded,
		     uint32_t now_ms)
{
	uint64_t tag = pair_tag(st);
	unsigned i = (unsigned)(tag >> 52) % CB_RTT_MEMO_SLOTS;

	if (seeded) {
		m->tag[i] = tag;
		m->until_ms[i] = now_ms + CB_RTT_MEMO_TTL_MS;
	} else if (m->tag[i] == tag) {
		m->tag[i] = 0;
	}
}

int cb_repair_build_remembered(struct cb_sock_state *st, struct cb_rtt_memo *m,
			       uint32_t now_ms, const char **step)
{
	uint8_t asked = st->flags;
	bool hinted;
	int fd, seeded;

	if (!m || !cb_sock_probes(st))
		return cb_repair_build(st, step);
	hinted = cb_rtt_memo_has(m, st, now_ms);
	if (hinted)
		st->flags = (uint8_t)((asked & ~CB_SOCK_RTT_PROBE) | CB_SOCK_QUIET);
	fd = cb_repair_build(st, step);
	if (fd < 0) {
		st->flags = asked;
		return fd;
	}
	seeded = cb_repair_rto_seeded(fd);
	cb_rtt_memo_put(m, st, seeded > 0, now_ms);
	if (!hinted || seeded > 0)
		return fd;
	close(fd);              /* repair mode: sends nothing */
	st->flags = asked;
	return cb_repair_build(st, step);
}
