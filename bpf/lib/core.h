/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The packet logic of connbroker, shared by the XDP and the TC ingress entry.
 * See docs/architecture.md for the table this implements:
 *
 *   SYN to a service, no flow        -> SYN-cookie SYN-ACK, no state kept
 *   SYN or cookie ACK to a service,  -> RST (fail closed: cb_controller's
 *   no controller                       beat older than cfg->no_ctl_ms)
 *   ACK, no flow, valid cookie       -> UNBOUND flow created
 *   other segment to a service,      -> RST as the kernel sends for an unknown
 *   no flow                             connection, rate-limited; RSTs dropped;
 *                                       passed if a kernel socket owns the tuple
 *   data, UNBOUND, in order          -> bytes to the ring, then ACKed
 *   data, UNBOUND, otherwise         -> dropped unacknowledged (dup ACK sent)
 *   FIN / RST, UNBOUND               -> flow removed (FIN answered with RST)
 *   LOCAL                            -> passed to the kernel socket
 *   FROZEN, SHIPPING                 -> dropped, the client retransmits
 *   PENDING, MOVING                  -> dropped (TC egress drops what the
 *                                       socket would send, too)
 *   REDIRECT, or no flow and a       -> both MACs rewritten, sent back out to
 *   cb_remote entry (to a service,      the peer; peer down: RST
 *   not a SYN)
 *   anything else                    -> passed untouched
 */
#ifndef CB_CORE_H
#define CB_CORE_H

#include "maps.h"
#include "hook.h"
#include "parse.h"
#include "reply.h"
#include "cookie.h"

/* libbpf 1.1's helper list predates this helper (kernel 6.1, id 208). */
static __u64 (*cb_ktime_get_tai_ns)(void) = (void *)208;

#define CB_NSEC_PER_MSEC 1000000ull
#define CB_NSEC_PER_SEC 1000000000ull

static __always_inline __u32 cb_cookie_time(void)
{
	return (__u32)((cb_ktime_get_tai_ns() / CB_NSEC_PER_SEC) >> CB_COOKIE_PERIOD_SHIFT);
}

/* The MSS we offer and use: cb_config.mss is for IPv4 (MTU - 40); an IPv6
 * header is 20 bytes longer (MTU - 60, as the kernel's IPv6 sockets). */
static __always_inline __u16 cb_our_mss(const struct cb_config *cfg, const struct cb_pkt *pk)
{
	return pk->v6 && cfg->mss > 556 ? cfg->mss - 20 : cfg->mss;
}

/* Our TCP timestamp clock: milliseconds, as the kernel's TCP uses. */
static __always_inline __u32 cb_ts_now(__u32 ts_offset)
{
	return (__u32)(bpf_ktime_get_ns() / CB_NSEC_PER_MSEC) + ts_offset;
}

/*
 * Per-connection timestamp offset (hides uptime, as Linux's ts_off does): a
 * keyed hash of our ISN, the cookie, whose MAC already binds the tuple, the
 * client's ISN and the time.  The ACK handler recomputes it from ack_seq - 1
 * without state.  One word, the same for both families, where hashing the
 * tuple again cost 29 ns (IPv4) and 53 ns (IPv6) of a SYN.
 */
static __always_inline __u32 cb_ts_offset(const __u32 key[2], __u32 cookie)
{
	__u32 m[2] = { cookie, 0x74737473 /* "tsts" */ };

	return cb_halfsiphash(key, m, 2);
}

/*
 * The window field of our ACKs: what is left of the flow's window (its right
 * edge fixed at client ISN + 1 + rcv_wnd, rcv_wnd = the per-flow byte cap, so
 * it never retracts a promise), scaled and clamped to the 16-bit field.
 */
static __always_inline __u32 cb_ack_window(const struct cb_flow *f)
{
	__u32 w = cb_flow_window_left(f);

	if (f->opts & CB_OPT_WSCALE)
		w >>= f->rcv_wscale;
	return w > 0xffff ? 0xffff : w;
}

static __always_inline void cb_flow_key_of(const struct cb_pkt *pk, struct cb_flow_key *k)
{
	k->saddr = pk->saddr;
	k->daddr = pk->daddr;
	k->sport_be = pk->sport;
	k->dport_be = pk->dport;
}

/* ---- SYN: answer with a cookie, keep nothing ------------------------- */
/* 1 if this CPU may leave another SYN hint in the current window (counted
 * when it may not): a per-CPU counter, no atomics. */
static __always_inline int cb_syn_hint_budget(__u64 now)
{
	__u32 zero = 0, win = (__u32)(now >> 30);
	struct cb_hint_budget *b = bpf_map_lookup_elem(&cb_syn_budget, &zero);

	if (!b)
		return 0;
	if (b->window != win) {
		b->window = win;
		b->writes = 0;
	}
	if (b->writes >= CB_SYN_HINT_BUDGET) {
		cb_count(CB_STAT_SYN_HINT_SKIPPED);
		return 0;
	}
	b->writes++;
	return 1;
}

static __always_inline enum cb_verdict cb_on_syn(void *ctx, const enum cb_hook hook,
						 const struct cb_pkt *pk,
						 const struct cb_config *cfg,
						 const struct cb_secrets *sec, __u64 now)
{
	struct cb_syn_hint *hint;
	struct cb_cookie_opts co = {
		.mss = pk->opt.mss, .wscale = pk->opt.wscale, .sack = pk->opt.sack_ok,
	};
	__u32 slot = sec->current & 1, hslot;
	__u32 isn = cb_cookie_make(sec->key[slot], slot, &pk->saddr, &pk->daddr, pk->sport,
				   pk->dport, pk->seq, cb_cookie_time(), &co);
	struct cb_seg r = {
		.seq = isn,
		.ack = pk->seq + 1,
		.window = cfg->flow_byte_cap > 0xffff ? 0xffff : cfg->flow_byte_cap,
		.flags = CB_TCP_SYN | CB_TCP_ACK,
		.kind = CB_SEG_KIND_SYNACK,
		.mss = cb_our_mss(cfg, pk),
		/* window scaling only when both ends do it (RFC 7323 2.2) */
		.wscale = pk->opt.wscale == CB_WSCALE_NONE ? CB_WSCALE_NONE : cfg->wscale,
		.sack = pk->opt.sack_ok,
		.ts = pk->opt.ts_present,
		.tsval = (__u32)(now / CB_NSEC_PER_MSEC) + cb_ts_offset(sec->key[slot], isn),
		.tsecr = pk->opt.tsval,
	};

	if (pk->payload_len)
		cb_count(CB_STAT_SYN_WITH_DATA);     /* no TFO: payload not acked */
	/* a hint for cb_handshake_cookie_ok(); losing it loses nothing else */
	hslot = CB_SYN_HINT_SLOT(isn);
	hint = cb_syn_hint_budget(now) ? bpf_map_lookup_elem(&cb_syn_isn, &hslot) : NULL;
	if (hint) {
		hint->cookie = isn;
		hint->isn = pk->seq;
		hint->at_ms = (__u32)(now / CB_NSEC_PER_MSEC);
	}
	if (cb_reply_emit(ctx, hook, pk, &r)) {
		cb_count(CB_STAT_SYN_TX_FAIL);
		return CB_V_DROP;
	}
	cb_count(CB_STAT_SYN_COOKIE_SENT);
	return CB_V_TX;
}

/*
 * The kernel socket for this tuple: its state (BPF_TCP_*), or CB_KSOCK_NONE.
 * The lookup falls back to a listener when no connection socket matches.
 */
#define CB_KSOCK_NONE (-1)

static __always_inline int cb_kernel_sock_state(void *ctx, const struct cb_pkt *pk)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;
	int state;

	if (pk->v6) {
		__builtin_memcpy(t.ipv6.saddr, &pk->saddr, 16);
		__builtin_memcpy(t.ipv6.daddr, &pk->daddr, 16);
		t.ipv6.sport = pk->sport;
		t.ipv6.dport = pk->dport;
	} else {
		t.ipv4.saddr = pk->saddr.w[3];
		t.ipv4.daddr = pk->daddr.w[3];
		t.ipv4.sport = pk->sport;
		t.ipv4.dport = pk->dport;
	}
	/* the same helper for both hooks: it takes the xdp_md or the skb */
	sk = bpf_skc_lookup_tcp(ctx, &t, pk->v6 ? sizeof(t.ipv6) : sizeof(t.ipv4),
				BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return CB_KSOCK_NONE;
	state = sk->state;
	bpf_sk_release(sk);
	return state;
}

/* No connection socket, or one that has closed (TIME_WAIT, CLOSE): a new
 * connection may take the tuple (a repair connect replaces TIME_WAIT). */
static __always_inline int cb_ksock_gone(int state)
{
	return state == CB_KSOCK_NONE || state == BPF_TCP_TIME_WAIT || state == BPF_TCP_CLOSE;
}

/* A connection socket in use owns the tuple: never take it over. */
static __always_inline int cb_ksock_live(int state)
{
	return !cb_ksock_gone(state) && state != BPF_TCP_LISTEN;
}

/*
 * A record to the ring of the worker that owns key's flow: cb_events, or
 * with workers > 1 the one cb_flow_shard() names (a missing ring is a
 * lost record, counted by the caller as a full one would be).
 */
static __always_inline long cb_ring_output(const struct cb_flow_key *key, void *rec, __u64 size)
{
	__u32 zero = 0, i;
	const struct cb_config *cfg = bpf_map_lookup_elem(&cb_config, &zero);
	void *ring;

	if (!cfg || cfg->workers <= 1)
		return bpf_ringbuf_output(&cb_events, rec, size, 0);
	i = cb_flow_shard(key, cfg->workers < CB_MAX_WORKERS ? cfg->workers : CB_MAX_WORKERS);
	ring = bpf_map_lookup_elem(&cb_rings, &i);
	return ring ? bpf_ringbuf_output(ring, rec, size, 0) : -2;      /* -ENOENT */
}

/* Best-effort notice without payload (open/close); loss is counted. */
static __always_inline void cb_notify(const struct cb_flow_key *key, __u8 type, __u8 flags,
				      __u32 seq, __u32 snd_nxt)
{
	struct cb_event ev = {
		.key = *key, .ts_ns = bpf_ktime_get_ns(), .seq = seq, .len = 0,
		.type = type, .flags = flags, .snd_nxt = snd_nxt,
	};

	if (cb_ring_output(key, &ev, sizeof(ev)))
		cb_count(CB_STAT_EVENT_LOST);
}

/*
 * Is this ACK the answer to one of our SYN-ACKs?  ci gets what the cookie
 * carries, *isn the client's ISN it was made for.  The first segment after
 * the handshake is normally at ISN + 1 (the ACK, or the first data when the
 * ACK was lost); when that one was lost too, the segment that does arrive is
 * further on, and the ISN its SYN carried (cb_syn_isn, a hint) is tried.
 */
static __always_inline int cb_handshake_cookie_ok(const struct cb_pkt *pk,
						  const struct cb_config *cfg,
						  const struct cb_secrets *sec,
						  struct cb_cookie_info *ci, __u32 *isn)
{
	__u32 cookie = pk->ack_seq - 1;
	const __u32 *key_s = sec->key[cb_cookie_slot(cookie)];
	__u32 tnow = cb_cookie_time(), now_ms, win;
	const struct cb_syn_hint *hint;
	__u32 slot = CB_SYN_HINT_SLOT(cookie), h_isn, h_at;

	*isn = pk->seq - 1;
	if (cb_cookie_check(key_s, cookie, &pk->saddr, &pk->daddr, pk->sport, pk->dport,
			    *isn, tnow, ci) == 0)
		return 1;
	hint = bpf_map_lookup_elem(&cb_syn_isn, &slot);
	if (!hint || hint->cookie != cookie)
		return 0;
	/* read once: another CPU may be writing the slot */
	h_isn = *(volatile const __u32 *)&hint->isn;
	h_at = *(volatile const __u32 *)&hint->at_ms;
	if (h_isn == pk->seq - 1)
		return 0;
	/* Believed only while fresh, and only for a segment the window our
	 * SYN-ACK offered allows (no ACK of ours has moved it since). */
	now_ms = (__u32)(bpf_ktime_get_ns() / CB_NSEC_PER_MSEC);
	win = cfg->flow_byte_cap > 0xffff ? 0xffff : cfg->flow_byte_cap;
	if (now_ms - h_at > CB_SYN_HINT_MS || pk->seq - (h_isn + 1) > win)
		return 0;
	*isn = h_isn;
	return cb_cookie_check(key_s, cookie, &pk->saddr, &pk->daddr, pk->sport, pk->dport,
			       *isn, tnow, ci) == 0;
}

/*
 * ACK with a valid cookie and no flow: create the UNBOUND flow.  Returns the
 * flow when the segment goes on to cb_on_unbound() (it carries data or a FIN,
 * or another CPU created the flow first); NULL when it was consumed here,
 * with the verdict in *v.
 */
static __always_inline struct cb_flow *cb_flow_create(const struct cb_pkt *pk,
						      const struct cb_config *cfg,
						      const struct cb_secrets *sec,
						      const struct cb_service *svc,
						      const struct cb_flow_key *key,
						      const struct cb_cookie_info *ci,
						      __u32 isn, enum cb_verdict *v)
{
	__u32 cookie = pk->ack_seq - 1;
	struct cb_flow f = {}, *fp;
	__u64 now = bpf_ktime_get_ns();

	f.created_ms = (__u32)(now / CB_NSEC_PER_MSEC) | 1;
	f.client_isn = isn;
	f.rcv_nxt = isn + 1;
	f.snd_nxt = pk->ack_seq;
	f.mss = ci->mss < cb_our_mss(cfg, pk) ? ci->mss : cb_our_mss(cfg, pk);
	if (ci->sack)
		f.opts |= CB_OPT_SACK;
	if (ci->wscale != CB_WSCALE_NONE) {
		f.opts |= CB_OPT_WSCALE;
		f.snd_wscale = ci->wscale;
		f.rcv_wscale = cfg->wscale;
	}
	/* Timestamps were negotiated iff the client's ACK carries one. */
	if (pk->opt.ts_present) {
		f.opts |= CB_OPT_TS;
		f.ts_recent = pk->opt.tsval;
		f.ts_offset = cb_ts_offset(sec->key[cb_cookie_slot(cookie)], cookie);
	}
	f.snd_wnd = (__u32)pk->window << ((f.opts & CB_OPT_WSCALE) ? f.snd_wscale : 0);
	f.rcv_wnd = cfg->flow_byte_cap;
	f.state = CB_FLOW_UNBOUND;
	f.service_id = svc->id;

	*v = CB_V_DROP;
	/* NOEXIST: a duplicate handshake ACK racing on another CPU must not
	 * reset a flow that already queued data; it is a segment of that flow. */
	if (bpf_map_update_elem(&cb_flows, key, &f, BPF_NOEXIST)) {
		fp = bpf_map_lookup_elem(&cb_flows, key);
		if (!fp)
			cb_count(CB_STAT_FLOW_INSERT_FAIL);     /* dropped: the client retransmits */
		return fp;
	}
	cb_count(CB_STAT_ACK_COOKIE_OK);
	/* The hint is spent: a segment of this connection after its flow is
	 * gone (evicted, reset) must meet an RST, not a flow made anew at an
	 * ISN whose bytes the client has seen acknowledged. */
	{
		__u32 slot = CB_SYN_HINT_SLOT(cookie);
		struct cb_syn_hint *h = bpf_map_lookup_elem(&cb_syn_isn, &slot);

		if (h && h->cookie == cookie)
			h->cookie = ~cookie;
	}
	cb_notify(key, CB_EV_OPEN, 0, f.rcv_nxt, f.snd_nxt);
	fp = bpf_map_lookup_elem(&cb_flows, key);
	if (!fp) {
		cb_count(CB_STAT_FLOW_INSERT_FAIL);     /* evicted at once */
		return NULL;
	}
	/* Bytes before this segment were lost: cb_on_unbound() keeps nothing
	 * and dup-acks rcv_nxt, and the client retransmits from there. */
	if (isn != pk->seq - 1) {
		cb_count(CB_STAT_ACK_COOKIE_LATE);
		return fp;
	}
	if (pk->payload_len || (pk->flags & CB_TCP_FIN))
		return fp;
	return NULL;                    /* the handshake's ACK, consumed */
}

/*
 * Per-CPU token bucket: may we send one more RST to a segment of no flow?
 * cfg->rst_rate RSTs a second, at most one second's worth at once.  Per CPU,
 * so no atomics: the program does not migrate while it runs.
 */
static __always_inline int cb_rst_allowed(const struct cb_config *cfg)
{
	struct cb_rst_bucket *b;
	__u64 now, credit, cost;
	__u32 zero = 0;

	if (!cfg->rst_rate)
		return 0;
	b = bpf_map_lookup_elem(&cb_rst_bucket, &zero);
	if (!b)
		return 0;
	now = bpf_ktime_get_ns();
	credit = b->credit_ns + (now - b->last_ns);
	if (credit > CB_NSEC_PER_SEC)
		credit = CB_NSEC_PER_SEC;
	b->last_ns = now;
	cost = CB_NSEC_PER_SEC / cfg->rst_rate;
	if (credit < cost) {
		b->credit_ns = credit;
		return 0;
	}
	b->credit_ns = credit - cost;
	return 1;
}

/*
 * What Linux answers a segment of a connection it does not know
 * (tcp_v4_send_reset): with ACK, an RST at the sequence number the segment
 * acknowledges (the sender's rcv_nxt: RFC 5961 accepts exactly that); without,
 * an RST|ACK acknowledging all of it (payload, SYN and FIN count).  Callers
 * never answer an RST.  0 when the reply replaced the frame.
 */
static __always_inline int cb_send_reset(void *ctx, const enum cb_hook hook,
					 const struct cb_pkt *pk)
{
	struct cb_seg r = { .kind = CB_SEG_KIND_RST };

	if (pk->flags & CB_TCP_ACK) {
		r.seq = pk->ack_seq;
		r.flags = CB_TCP_RST;
	} else {
		r.ack = pk->seq + pk->payload_len + !!(pk->flags & CB_TCP_SYN) +
			!!(pk->flags & CB_TCP_FIN);
		r.flags = CB_TCP_RST | CB_TCP_ACK;
	}
	return cb_reply_emit(ctx, hook, pk, &r);
}

/* A segment of no flow: reset as above, rate-limited; nothing is stored. */
static __always_inline enum cb_verdict cb_reset_unknown(void *ctx, const enum cb_hook hook,
							const struct cb_pkt *pk,
							const struct cb_config *cfg)
{
	if (pk->flags & CB_TCP_RST) {
		cb_count(CB_STAT_DROP_RST_NO_FLOW);
		return CB_V_DROP;
	}
	if (!cb_rst_allowed(cfg)) {
		cb_count(CB_STAT_RST_RATE_LIMITED);
		return CB_V_DROP;
	}
	if (cb_send_reset(ctx, hook, pk)) {
		cb_count(CB_STAT_DROP_REPLY_FAIL);
		return CB_V_DROP;
	}
	cb_count(CB_STAT_RST_NO_FLOW);
	return CB_V_TX;
}

/*
 * Fail closed: no controller has beaten (cb_controller) for cfg->no_ctl_ms,
 * so a new connection would be held for nobody; it is refused as the kernel
 * refuses one that nothing listens for.  Signed: a beat written just after
 * now was read is not in the future by 2^64 ns.
 */
static __always_inline int cb_no_controller(const struct cb_config *cfg, __u64 now)
{
	const struct cb_ctl_beat *b;
	__u32 zero = 0;

	if (!cfg->no_ctl_ms)
		return 0;
	b = bpf_map_lookup_elem(&cb_controller, &zero);
	return b && (__s64)(now - b->seen_ns) > (__s64)cfg->no_ctl_ms * (__s64)CB_NSEC_PER_MSEC;
}

/*
 * A segment other than a SYN, to a service, with no flow.  An ACK with a
 * valid cookie creates the flow (returned when the segment goes on to
 * cb_on_unbound()); a kernel socket that owns the tuple gets the segment;
 * anything else is answered as the kernel answers a segment of a connection
 * it does not know, so a client whose flow was removed or evicted learns at
 * once instead of retransmitting into silence.  NULL: the verdict is in *v.
 */
static __always_inline struct cb_flow *cb_on_no_flow(void *ctx, const enum cb_hook hook,
						     const struct cb_pkt *pk,
						     const struct cb_config *cfg,
						     const struct cb_secrets *sec,
						     const struct cb_service *svc,
						     const struct cb_flow_key *key,
						     enum cb_verdict *v)
{
	int ack_only = (pk->flags & (CB_TCP_SYN | CB_TCP_ACK | CB_TCP_RST)) == CB_TCP_ACK;
	struct cb_cookie_info ci = {};
	__u32 isn = 0;
	int cookie_ok = ack_only && cb_handshake_cookie_ok(pk, cfg, sec, &ci, &isn);
	int ks = cb_kernel_sock_state(ctx, pk);

	/* 1 in 2^23 segments of a kernel-owned connection passes as a cookie
	 * (a second ISN is tried only when ack_seq - 1 is the very cookie a
	 * recent SYN's hint slot holds): never take a tuple a live socket
	 * owns (a TIME_WAIT one owns none: a new connection on that tuple
	 * replaces it when materialized). */
	if (cookie_ok && !cb_ksock_live(ks)) {
		if (cb_no_controller(cfg, bpf_ktime_get_ns())) {
			cb_count(CB_STAT_ACK_NO_CONTROLLER);
			*v = cb_reset_unknown(ctx, hook, pk, cfg);
			return NULL;
		}
		return cb_flow_create(pk, cfg, sec, svc, key, &ci, isn, v);
	}
	/*
	 * A live socket's segments are the kernel's.  A TIME_WAIT socket is an
	 * older connection on this tuple whose client has closed: a segment
	 * other than an RST is from a newer one whose flow is gone (evicted,
	 * or ended by a RST), and TIME_WAIT would only re-ACK it, leaving that
	 * client hanging for a minute: it gets our RST.  An RST is TIME_WAIT's.
	 */
	if (cb_ksock_live(ks) || (ks == BPF_TCP_TIME_WAIT && (pk->flags & CB_TCP_RST))) {
		cb_count(CB_STAT_PASS_KERNEL_SOCK);
		*v = CB_V_PASS;
		return NULL;
	}
	if (ack_only)
		cb_count(CB_STAT_ACK_COOKIE_BAD);
	*v = cb_reset_unknown(ctx, hook, pk, cfg);
	return NULL;
}

static __always_inline enum cb_verdict cb_send_ack(void *ctx, const enum cb_hook hook,
						   const struct cb_pkt *pk,
						   const struct cb_flow *f, __u8 flags)
{
	struct cb_seg r = {
		.seq = f->snd_nxt,
		.ack = f->rcv_nxt,
		.window = flags & CB_TCP_RST ? 0 : cb_ack_window(f),
		.flags = flags,
		.kind = flags & CB_TCP_RST ? CB_SEG_KIND_RST : CB_SEG_KIND_ACK,
		.ts = !(flags & CB_TCP_RST) && (f->opts & CB_OPT_TS),
		.tsval = cb_ts_now(f->ts_offset),
		.tsecr = f->ts_recent,
	};

	if (cb_reply_emit(ctx, hook, pk, &r)) {
		cb_count(CB_STAT_DROP_REPLY_FAIL);
		return CB_V_DROP;
	}
	return CB_V_TX;
}

/*
 * Verify the TCP checksum of the segment whose payload (len bytes) is in buf.
 * The kernel would have checked it before acknowledging; we acknowledge on
 * its behalf, so we check too.  Sums are in memory order throughout.
 */
static __always_inline int cb_tcp_csum_ok(void *ctx, const enum cb_hook hook,
					  const struct cb_pkt *pk, const __u8 *buf, __u32 len,
					  __u8 *th)
{
	__u32 thl = pk->payload_off - pk->l4_off;
	__u64 sum = cb_csum_pseudo(&pk->saddr, &pk->daddr, pk->tcp_len);
	__u32 i, tail;

	if (thl < CB_TCP_HLEN || thl > 60)
		return 0;
	thl = CB_CLAMP(thl - 1, 63) + 1;
	if (cb_load_bytes(ctx, hook, pk->l4_off, th, thl))
		return 0;
	sum += (__u32)bpf_csum_diff(NULL, 0, (__be32 *)th, thl & ~3u, 0);
	/* bpf_csum_diff takes at most 512 bytes, a multiple of 4, per call */
	for (i = 0; i < CB_SEG_MAX / 512; i++) {
		__u32 off = i * 512, n;

		if (off + 4 > len)
			break;
		n = len - off > 512 ? 512 : len - off;
		n = CB_CLAMP(n, 1023) & ~3u;
		if (n > 512)
			break;
		sum += (__u32)bpf_csum_diff(NULL, 0, (__be32 *)(buf + off), n, 0);
	}
	/* the last len % 4 bytes: word (b0,b1) then (b2,0), memory order */
	tail = CB_CLAMP(len & ~3u, CB_SEG_BUF - 4);
	if (len & 3)
		sum += buf[tail];
	if ((len & 3) > 1)
		sum += (__u32)buf[tail + 1] << 8;
	if ((len & 3) > 2)
		sum += buf[tail + 2];
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return cb_csum_fold((__u32)sum) == 0;
}

/*
 * Queue payload bytes [skip, payload_len) to the ring, in records of at most
 * CB_SEG_MAX bytes.  Each record is built in per-CPU scratch and published
 * with one bpf_ringbuf_output(): once that returns 0 its bytes are committed,
 * and only committed bytes are acknowledged (*queued may cover a prefix).
 */
static __always_inline int cb_queue_payload(void *ctx, const enum cb_hook hook,
					    const struct cb_pkt *pk,
					    const struct cb_config *cfg,
					    const struct cb_flow_key *key, __u32 snd_nxt,
					    __u32 skip, __u32 *queued)
{
	__u32 zero = 0, full = pk->payload_len, i, loaded = 0;
	struct cb_scratch *s = bpf_map_lookup_elem(&cb_scratch_map, &zero);

	*queued = 0;
	if (!s || full == 0 || skip >= full) {
		cb_count(CB_STAT_DROP_MALFORMED);       /* not reachable from the callers */
		return -1;
	}
	if (full > CB_REC_MAX * CB_SEG_MAX) {
		cb_count(CB_STAT_DATA_TOO_BIG);
		return -1;
	}
	/*
	 * A segment larger than the MSS we offered did not arrive as one: GRO
	 * coalesced it (skb and TC modes), validated each checksum, and left a
	 * partial one in the header.  Everything else is checked here.
	 */
	if ((cfg->flags & CB_CFG_VERIFY_CSUM) && full <= cfg->mss && full <= CB_SEG_MAX) {
		__u32 n = CB_CLAMP(full - 1, CB_SEG_BUF - 1) + 1;

		if (cb_load_bytes(ctx, hook, pk->payload_off, s->data, n)) {
			cb_count(CB_STAT_DROP_MALFORMED);
			return -1;
		}
		if (!cb_tcp_csum_ok(ctx, hook, pk, s->data, n, s->tcph)) {
			cb_count(CB_STAT_DATA_BAD_CSUM);
			return -1;
		}
		loaded = skip == 0;     /* the first record's bytes are in place */
	}
	for (i = 0; i < CB_REC_MAX; i++) {
		__u32 off = skip + *queued, n;

		if (off >= full)
			break;
		n = full - off > CB_SEG_MAX ? CB_SEG_MAX : full - off;
		/* a no-op that proves 1 <= n <= CB_SEG_BUF to the verifier */
		n = CB_CLAMP(n - 1, CB_SEG_BUF - 1) + 1;
		if (!(loaded && i == 0) &&
		    cb_load_bytes(ctx, hook, pk->payload_off + off, s->data, n)) {
			cb_count(CB_STAT_DROP_MALFORMED);
			break;
		}
		s->ev.key = *key;
		s->ev.ts_ns = bpf_ktime_get_ns();
		s->ev.seq = pk->seq + off;
		s->ev.len = n;
		s->ev.type = CB_EV_DATA;
		s->ev.flags = 0;
		s->ev.snd_nxt = snd_nxt;
		if (cb_ring_output(key, s, sizeof(s->ev) + n)) {
			cb_count(CB_STAT_DATA_RING_FULL);
			break;
		}
		*queued += n;
	}
	return *queued ? 0 : -1;
}

/* Remove an UNBOUND flow and tell userspace (rst: 1 = client reset, 0 = FIN). */
static __always_inline void cb_flow_close(const struct cb_flow_key *key, __u8 rst, __u32 seq)
{
	bpf_map_delete_elem(&cb_flows, key);
	cb_notify(key, CB_EV_CLOSE, rst, seq, 0);
}

/* A FIN at rcv_nxt: nothing can take a half-closed unbound flow yet, so the
 * flow is removed and the client gets an RST (fail closed, not a hang). */
static __always_inline enum cb_verdict cb_on_fin(void *ctx, const enum cb_hook hook,
						 const struct cb_pkt *pk,
						 const struct cb_flow_key *key, struct cb_flow *f)
{
	struct cb_flow copy = *f;

	cb_flow_close(key, 0, pk->seq);
	cb_count(CB_STAT_FIN_UNBOUND);
	return cb_send_ack(ctx, hook, pk, &copy, CB_TCP_RST | CB_TCP_ACK);
}

/* Bookkeeping from a segment that was accepted (RFC 7323 4.3, RFC 793 3.9). */
static __always_inline void cb_flow_accepted(const struct cb_pkt *pk, struct cb_flow *f)
{
	f->snd_wnd = (__u32)pk->window << ((f->opts & CB_OPT_WSCALE) ? f->snd_wscale : 0);
	if ((f->opts & CB_OPT_TS) && pk->opt.ts_present)
		f->ts_recent = pk->opt.tsval;
}

/*
 * A segment of an UNBOUND flow.  Validation follows what the kernel would
 * do for an established socket, since the client must not be able to tell:
 *   RST   only at rcv_nxt; in the window: challenge ACK (RFC 5961 3.2)
 *   SYN   challenge ACK (RFC 5961 4.2); a client that really restarted
 *         answers it with an RST at rcv_nxt, then retries its SYN
 *   other must carry ACK == snd_nxt (our SYN, the cookie), and pass PAWS
 */
static __always_inline enum cb_verdict cb_on_unbound(void *ctx, const enum cb_hook hook,
						     const struct cb_pkt *pk,
						     const struct cb_config *cfg,
						     const struct cb_flow_key *key,
						     struct cb_flow *f)
{
	__u32 queued = 0, fresh;
	__s32 off = (__s32)(f->rcv_nxt - pk->seq);

	if (pk->flags & CB_TCP_RST) {
		if (off == 0) {
			cb_flow_close(key, 1, pk->seq);
			cb_count(CB_STAT_RST_UNBOUND);
			return CB_V_DROP;
		}
		if (off < 0 && (__u32)-off < f->rcv_wnd) {
			cb_count(CB_STAT_CHALLENGE_ACK);
			return cb_send_ack(ctx, hook, pk, f, CB_TCP_ACK);
		}
		cb_count(CB_STAT_DROP_BAD_SEQ);
		return CB_V_DROP;
	}
	if (pk->flags & CB_TCP_SYN) {
		cb_count(CB_STAT_CHALLENGE_ACK);
		return cb_send_ack(ctx, hook, pk, f, CB_TCP_ACK);
	}
	if (!(pk->flags & CB_TCP_ACK) || pk->ack_seq != f->snd_nxt) {
		cb_count(CB_STAT_DROP_BAD_ACK);
		return CB_V_DROP;
	}
	if ((f->opts & CB_OPT_TS) && pk->opt.ts_present &&
	    (__s32)(pk->opt.tsval - f->ts_recent) < 0) {
		/* PAWS: an old duplicate; re-ACK, keep nothing */
		cb_count(CB_STAT_DATA_PAWS);
		return cb_send_ack(ctx, hook, pk, f, CB_TCP_ACK);
	}

	if (pk->payload_len == 0) {
		if (off != 0) {         /* an old or early pure ACK / FIN */
			cb_count(CB_STAT_DATA_OUT_OF_ORDER);
			return cb_send_ack(ctx, hook, pk, f, CB_TCP_ACK);
		}
		cb_flow_accepted(pk, f);
		if (pk->flags & CB_TCP_FIN)
			return cb_on_fin(ctx, hook, pk, key, f);
		cb_count(CB_STAT_PURE_ACK);
		return CB_V_DROP;
	}
	if (off < 0) {
		/* A gap: keep nothing; a duplicate ACK invites fast retransmit. */
		cb_count(CB_STAT_DATA_OUT_OF_ORDER);
		return cb_send_ack(ctx, hook, pk, f, CB_TCP_ACK);
	}
	if ((__u32)off >= pk->payload_len) {
		/* old data; with a FIN right after it, the FIN is new */
		if ((pk->flags & CB_TCP_FIN) && (__u32)off == pk->payload_len)
			return cb_on_fin(ctx, hook, pk, key, f);
		cb_count(CB_STAT_DATA_DUP);
		return cb_send_ack(ctx, hook, pk, f, CB_TCP_ACK);
	}
	fresh = pk->payload_len - (__u32)off;
	if (f->bytes_in + fresh > f->rcv_wnd) {
		/* Past the window we offered (or a zero-window probe): keep
		 * nothing, restate the window. */
		cb_count(CB_STAT_DATA_OVER_CAP);
		return cb_send_ack(ctx, hook, pk, f, CB_TCP_ACK);
	}
	if (cb_queue_payload(ctx, hook, pk, cfg, key, f->snd_nxt, (__u32)off, &queued))
		return CB_V_DROP;        /* not acked: the client retransmits */

	/*
	 * The controller may have frozen the flow (FROZEN or SHIPPING, in
	 * place, by compare-and-swap) while we queued: it drains the ring after freezing, so these
	 * bytes reach it, but it built its snapshot already; acknowledge
	 * nothing, the socket it builds will.
	 */
	if (*(volatile __u32 *)&f->state != CB_FLOW_UNBOUND) {
		cb_count(CB_STAT_DROP_FROZEN);
		return CB_V_DROP;
	}
	f->rcv_nxt += queued;
	f->bytes_in += queued;
	cb_flow_accepted(pk, f);
	cb_count(CB_STAT_DATA_QUEUED);
	cb_count_n(CB_STAT_DATA_BYTES, queued);
	if ((pk->flags & CB_TCP_FIN) && queued == fresh)
		return cb_on_fin(ctx, hook, pk, key, f);
	return cb_send_ack(ctx, hook, pk, f, CB_TCP_ACK);
}

/* ---- flows steered to a peer ----------------------------------------- */
/*
 * On a steered tuple its client closed: is this the ACK of our cookie, the
 * handshake of a new connection reusing the port?  Then the steering goes
 * (the caller drops the cb_flows entry) and the segment is a no-flow one.
 * Asked only of closing entries: 1 in 2^23 segments of a live flow would
 * pass as a cookie (a hint's second ISN only for the cookie it was left for).
 */
static __always_inline int cb_remote_reused(const struct cb_pkt *pk,
					    const struct cb_config *cfg,
					    const struct cb_secrets *sec,
					    const struct cb_flow_key *key)
{
	struct cb_cookie_info ci = {};
	__u32 isn;

	if ((pk->flags & (CB_TCP_SYN | CB_TCP_ACK | CB_TCP_RST)) != CB_TCP_ACK ||
	    !cb_handshake_cookie_ok(pk, cfg, sec, &ci, &isn))
		return 0;
	bpf_map_delete_elem(&cb_remote, key);
	cb_count(CB_STAT_REDIRECT_REUSED);
	return 1;
}

/*
 * A client segment of a flow whose socket lives on a peer (direct server
 * return on one L2 segment): h_dest = the peer's MAC, h_source = ours (a
 * bridge must not learn the client's MAC behind our port), sent back out of
 * the interface it came in on.  L3 and L4 stay byte-identical: no checksum
 * work.  FIN and RST go to the peer like the rest (its socket must see them)
 * and mark the flow closing for the controller.  A peer that is down, or an
 * id with no peer, has its flows' segments answered with the RST the kernel
 * sends for an unknown connection (seq = the segment's ack_seq, the client's
 * rcv_nxt), not rate-limited: each one ends a real client's wait.  An RST is
 * never answered.  The entry stays either way: the controller removes it.
 */
static __always_inline enum cb_verdict cb_on_redirect(void *ctx, const enum cb_hook hook,
						      const struct cb_pkt *pk,
						      const struct cb_config *cfg,
						      struct cb_remote *r)
{
	struct {
		__u8 dst[CB_ETH_ALEN];
		__u8 src[CB_ETH_ALEN];
	} mac;
	const struct cb_peer *p;
	__u64 now = bpf_ktime_get_ns();
	__u32 id = r->peer, seen = 0;

	/* plain stores into the shared entry: one flow's segments arrive on one
	 * RX queue (RSS), and a lost race costs at most a closing hint */
	r->last_ns = now;
	if (pk->flags & CB_TCP_ACK)
		r->last_ack = pk->ack_seq;      /* for a proactive RST if the peer dies */
	if (pk->flags & CB_TCP_FIN)
		seen |= CB_REMOTE_SEEN_FIN;
	if (pk->flags & CB_TCP_RST)
		seen |= CB_REMOTE_SEEN_RST;
	if (seen) {
		if (!r->closing_ns)
			r->closing_ns = now;
		if ((r->closing_flags & seen) != seen)
			r->closing_flags |= seen;
	}
	p = bpf_map_lookup_elem(&cb_peers, &id);
	if (!p || !p->up) {
		if (pk->flags & CB_TCP_RST) {
			cb_count(CB_STAT_DROP_REDIRECT_PEER_DOWN);
			return CB_V_DROP;
		}
		if (cb_send_reset(ctx, hook, pk)) {
			cb_count(CB_STAT_DROP_REPLY_FAIL);
			return CB_V_DROP;
		}
		cb_count(CB_STAT_REDIRECT_PEER_DOWN_RST);
		return CB_V_TX;
	}
	__builtin_memcpy(mac.dst, p->mac, CB_ETH_ALEN);
	__builtin_memcpy(mac.src, cfg->own_mac, CB_ETH_ALEN);
	if (!(mac.src[0] | mac.src[1] | mac.src[2] | mac.src[3] | mac.src[4] | mac.src[5]))
		__builtin_memcpy(mac.src, pk->dmac, CB_ETH_ALEN);      /* MAC not configured */
	if (cb_store_bytes(ctx, hook, 0, &mac, sizeof(mac))) {
		cb_count(CB_STAT_DROP_REDIRECT_FAIL);
		return CB_V_DROP;
	}
	if (seen)
		cb_count(CB_STAT_REDIRECT_CLOSING);
	cb_count(CB_STAT_REDIRECTED);
	return CB_V_TX;
}

/* ---- entry of the shared logic --------------------------------------- */
/*
 * data/data_end are read by the entry itself: reading them here through a
 * hook-generic helper lets clang fold the two ctx offsets into pointer
 * arithmetic on ctx, which the verifier rejects.
 */
static __always_inline enum cb_verdict cb_process(void *ctx, const enum cb_hook hook,
						  void *data, void *data_end)
{
	struct cb_service_key skey = {};
	struct cb_flow_key fkey;
	const struct cb_service *svc;
	const struct cb_config *cfg;
	const struct cb_secrets *sec;
	struct cb_remote *r;
	struct cb_flow *f;
	struct cb_pkt pk;
	enum cb_verdict v;
	__u32 zero = 0, state;

	enum cb_parse_res res;

	cb_count(CB_STAT_PKT_SEEN);
	/* A global function per hook (parse.h): the verifier checks it once and
	 * forgets what it wrote, so IPv4, IPv6 and every extension header
	 * layout leave one state for the rest of the core, not one each. */
	if (hook == CB_HOOK_XDP)
		res = cb_parse_xdp(ctx, &pk);
	else
		res = cb_parse_tc(ctx, &pk);
	if (pk.v6)
		cb_count(CB_STAT_PKT_IPV6);
	switch (res) {
	case CB_PARSE_OK:
		break;
	case CB_PARSE_NOT_IP:
		cb_count(CB_STAT_PASS_NOT_IP);
		return CB_V_PASS;
	case CB_PARSE_NOT_TCP:
		cb_count(CB_STAT_PASS_NOT_TCP);
		return CB_V_PASS;
	case CB_PARSE_FRAGMENT:
		cb_count(CB_STAT_PASS_FRAGMENT);
		return CB_V_PASS;
	case CB_PARSE_IPV6_EXT:
		cb_count(CB_STAT_PASS_IPV6_EXT);
		return CB_V_PASS;
	case CB_PARSE_BAD_OPTIONS:
		/* Malformed options to a service are dropped; elsewhere not ours. */
		skey.vip = pk.daddr;
		skey.port_be = pk.dport;
		if (!bpf_map_lookup_elem(&cb_services, &skey)) {
			cb_count(CB_STAT_PASS_NOT_SERVICE);
			return CB_V_PASS;
		}
		cb_count(CB_STAT_DROP_BAD_OPTIONS);
		return CB_V_DROP;
	default:
		/* Truncated headers cannot be attributed to a service; the
		 * kernel validates and drops them itself. */
		cb_count(CB_STAT_PASS_MALFORMED);
		return CB_V_PASS;
	}

	cfg = bpf_map_lookup_elem(&cb_config, &zero);
	sec = bpf_map_lookup_elem(&cb_secrets, &zero);
	if (!cfg || !sec) {             /* array maps: cannot happen, but counted */
		cb_count(CB_STAT_PASS_NO_CONFIG);
		return CB_V_PASS;
	}

	/* The flow table first: a flow keeps its owner even if its service is
	 * removed while it waits (its packets must not reach the kernel).  An
	 * UNBOUND flow, found or just created, is handled in one place. */
	cb_flow_key_of(&pk, &fkey);
	f = bpf_map_lookup_elem(&cb_flows, &fkey);
	state = f ? f->state : CB_FLOW_UNBOUND;
	if (state != CB_FLOW_UNBOUND) {
		switch (state) {
		case CB_FLOW_LOCAL:
			/*
			 * A fresh SYN on the tuple of a socket that has closed
			 * (gone, or in TIME_WAIT after the app closed first): a
			 * new connection.  With no listener the kernel would
			 * answer it with a bare ACK; it is ours to answer.  The
			 * TIME_WAIT socket is replaced when the new one is built
			 * (a repair connect may reuse a TIME_WAIT tuple).
			 */
			if ((pk.flags & (CB_TCP_SYN | CB_TCP_ACK | CB_TCP_RST)) == CB_TCP_SYN &&
			    cb_ksock_gone(cb_kernel_sock_state(ctx, &pk))) {
				bpf_map_delete_elem(&cb_flows, &fkey);
				cb_count(CB_STAT_LOCAL_REUSED);
				f = NULL;
				break;
			}
			cb_count(CB_STAT_PASS_LOCAL);
			return CB_V_PASS;
		case CB_FLOW_FROZEN:
			cb_count(CB_STAT_DROP_FROZEN);
			return CB_V_DROP;
		case CB_FLOW_SHIPPING:
			cb_count(CB_STAT_DROP_SHIPPING);
			return CB_V_DROP;
		case CB_FLOW_PENDING:
			cb_count(CB_STAT_DROP_PENDING);
			return CB_V_DROP;
		case CB_FLOW_MOVING:
			cb_count(CB_STAT_DROP_MOVING);
			return CB_V_DROP;
		case CB_FLOW_REDIRECT:
			/* the peer is named in cb_remote, added before this state */
			r = bpf_map_lookup_elem(&cb_remote, &fkey);
			/*
			 * After the client closed the steered flow (FIN or RST
			 * seen), a fresh SYN is a new connection reusing the
			 * port, which clients do within seconds under load.
			 * Its old peer has no listener: the SYN gets our
			 * cookie, and the steering stays until the cookie
			 * ACK proves the new connection (a stray SYN must not
			 * unsteer a half-closed flow still receiving data).
			 */
			if (r && r->closing_ns) {
				if ((pk.flags & (CB_TCP_SYN | CB_TCP_ACK | CB_TCP_RST)) == CB_TCP_SYN) {
					f = NULL;
					break;
				}
				if (cb_remote_reused(&pk, cfg, sec, &fkey)) {
					bpf_map_delete_elem(&cb_flows, &fkey);
					f = NULL;
					break;
				}
			}
			if (!r) {
				cb_count(CB_STAT_DROP_REDIRECT_NO_REMOTE);
				return CB_V_DROP;
			}
			goto steer;
		default:                /* no such state */
			cb_count(CB_STAT_DROP_MALFORMED);
			return CB_V_DROP;
		}
	}

	if (!f) {
		skey.vip = pk.daddr;
		skey.port_be = pk.dport;
		svc = bpf_map_lookup_elem(&cb_services, &skey);
		if (!svc) {
			cb_count(CB_STAT_PASS_NOT_SERVICE);
			return CB_V_PASS;
		}
		if ((pk.flags & (CB_TCP_SYN | CB_TCP_ACK | CB_TCP_RST | CB_TCP_FIN)) == CB_TCP_SYN) {
			__u64 now = bpf_ktime_get_ns();

			/* refused as a segment of no connection: RST|ACK, rate-limited */
			if (cb_no_controller(cfg, now)) {
				cb_count(CB_STAT_SYN_NO_CONTROLLER);
				return cb_reset_unknown(ctx, hook, &pk, cfg);
			}
			return cb_on_syn(ctx, hook, &pk, cfg, sec, now);
		}
		/*
		 * A flow steered to a peer whose cb_flows entry was evicted is
		 * still steered.  Looked up only here, for segments to a
		 * service other than a SYN, so that neither the SYN path nor
		 * other TCP traffic of the host pays for it.  (A client sends
		 * a SYN only on a tuple it considers closed; a flow whose
		 * service was removed keeps its peer while its REDIRECT entry
		 * lives, and once that is evicted too its segments reach the
		 * kernel, which resets them: fail closed.)
		 */
		r = bpf_map_lookup_elem(&cb_remote, &fkey);
		if (r && !(r->closing_ns && cb_remote_reused(&pk, cfg, sec, &fkey))) {
			cb_count(CB_STAT_REDIRECT_BY_REMOTE);
			goto steer;
		}
		f = cb_on_no_flow(ctx, hook, &pk, cfg, sec, svc, &fkey, &v);
		if (!f)
			return v;
	}
	return cb_on_unbound(ctx, hook, &pk, cfg, &fkey, f);
steer:
	return cb_on_redirect(ctx, hook, &pk, cfg, r);
}

#endif /* CB_CORE_H */
