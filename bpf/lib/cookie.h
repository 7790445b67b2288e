/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * SYN cookies: pure arithmetic, compiled both into the BPF programs and into
 * the userspace unit tests, so the tests exercise the very code that runs.
 *
 * Layout of the 32-bit ISN we send in the SYN-ACK (MSB first):
 *
 *   31                      9   8     7    6  5   4  3         0
 *   +------------------------+-----+-----+------+-----+----------+
 *   |  MAC (23 bits)         |slot |tpar | mss  |sack | wscale   |
 *   +------------------------+-----+-----+------+-----+----------+
 *
 *   wscale  client's window scale 0..14, 15 = client sent none
 *   sack    client sent SACK-permitted
 *   mss     index of the largest of 536/1300/1440/1460 <= client's MSS
 *   tpar    parity of the coarse time counter the MAC was computed with
 *   slot    which of the two secrets (cb_secrets.key[slot]) was used
 *   MAC     top 23 bits of HalfSipHash-2-4(secret; saddr, daddr, ports,
 *           client ISN, time counter << 16 | the 9 low bits); the addresses
 *           are 4 bytes each for IPv4, 16 for IPv6 (11 words hashed, not 5)
 *
 * Unlike Linux, which hides window scale and SACK in the TSval, everything the
 * flow needs is in the ISN: clients without timestamps keep SACK and window
 * scaling.  The price is a 23-bit MAC (Linux: 24): a blind attacker needs
 * ~4 million ACKs per success, each of which only yields one unbound flow
 * bounded by the LRU table and the per-flow byte cap.
 *
 * Time: counter = TAI seconds >> CB_COOKIE_PERIOD_SHIFT (64 s).  A cookie is
 * valid while the counter is the one it was made with or the next, i.e. for
 * 64..128 s.  TAI (not the boot-relative monotonic clock) so that several
 * directors behind ECMP with synchronised clocks and the same secret accept
 * each other's cookies.
 */
#ifndef CB_COOKIE_H
#define CB_COOKIE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include <connbroker/shared.h>       /* union cb_addr */

#define CB_COOKIE_PERIOD_SHIFT 6    /* 64 s per time-counter step */
#define CB_COOKIE_DATA_BITS 9
#define CB_COOKIE_DATA_MASK ((1u << CB_COOKIE_DATA_BITS) - 1)
#define CB_COOKIE_MAC_MASK (~CB_COOKIE_DATA_MASK)

#define CB_WSCALE_NONE 15
#define CB_WSCALE_MAX 14

/*
 * MSS values a cookie can carry (RFC 879 minimum, common tunnels, Ethernet).
 * A function, not a table: a const array would land in .rodata.cst8, which
 * libbpf 1.1 cannot map.
 */
#define CB_MSS_0 536
#define CB_MSS_1 1300
#define CB_MSS_2 1440
#define CB_MSS_3 1460

static __always_inline __u16 cb_mss_of_index(__u32 idx)
{
	switch (idx & 3) {
	case 0: return CB_MSS_0;
	case 1: return CB_MSS_1;
	case 2: return CB_MSS_2;
	default: return CB_MSS_3;
	}
}

struct cb_cookie_opts {
	__u16 mss;          /* client's advertised MSS (0 = none: 536) */
	__u8 wscale;        /* CB_WSCALE_NONE if absent */
	__u8 sack;          /* 1 if SACK-permitted */
};

static __always_inline __u32 cb_rotl32(__u32 x, int b)
{
	return (x << b) | (x >> (32 - b));
}

#define CB_SIPROUND(v0, v1, v2, v3)                                         \
	do {                                                                \
		v0 += v1; v1 = cb_rotl32(v1, 5); v1 ^= v0; v0 = cb_rotl32(v0, 16); \
		v2 += v3; v3 = cb_rotl32(v3, 8); v3 ^= v2;                  \
		v0 += v3; v3 = cb_rotl32(v3, 7); v3 ^= v0;                  \
		v2 += v1; v1 = cb_rotl32(v1, 13); v1 ^= v2; v2 = cb_rotl32(v2, 16); \
	} while (0)

static __always_inline void cb_hsip_absorb(__u32 *v, __u32 m)
{
	__u32 v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];

	v3 ^= m;
	CB_SIPROUND(v0, v1, v2, v3);
	CB_SIPROUND(v0, v1, v2, v3);
	v0 ^= m;
	v[0] = v0; v[1] = v1; v[2] = v2; v[3] = v3;
}

/*
 * HalfSipHash-2-4, 32-bit output, over n whole little-endian 32-bit words
 * (the same result as the reference byte-oriented function on those bytes).
 * n is a compile-time constant at every call site, so the loop unrolls.
 */
static __always_inline __u32 cb_halfsiphash(const __u32 key[2], const __u32 *m, int n)
{
	__u32 v[4];
	__u32 b = ((__u32)(n * 4)) << 24;
	int i;

	v[0] = key[0];
	v[1] = key[1];
	v[2] = 0x6c796765 ^ key[0];
	v[3] = 0x74656462 ^ key[1];


	for (i = 0; i < n; i++)
		cb_hsip_absorb(v, m[i]);

	cb_hsip_absorb(v, b);
	{
		__u32 v0 = v[0], v1 = v[1], v2 = v[2] ^ 0xff, v3 = v[3];

		CB_SIPROUND(v0, v1, v2, v3);
		CB_SIPROUND(v0, v1, v2, v3);
		CB_SIPROUND(v0, v1, v2, v3);
		CB_SIPROUND(v0, v1, v2, v3);
		return v1 ^ v3;
	}
}

static __always_inline __u32 cb_cookie_mss_index(__u16 client_mss)
{
	__u32 idx = 0;

	if (client_mss == 0)
		return 0;
	if (client_mss >= CB_MSS_1)
		idx = 1;
	if (client_mss >= CB_MSS_2)
		idx = 2;
	if (client_mss >= CB_MSS_3)
		idx = 3;
	return idx;
}

static __always_inline __u32 cb_cookie_data(const struct cb_cookie_opts *o,
					    __u32 tcount, __u32 slot)
{
	__u32 ws = o->wscale > CB_WSCALE_MAX ? CB_WSCALE_NONE : o->wscale;

	return ((slot & 1) << 8) | ((tcount & 1) << 7) |
	       (cb_cookie_mss_index(o->mss) << 5) | ((o->sack ? 1u : 0u) << 4) | ws;
}

/*
 * The MAC over the 4-tuple (network order, as on the wire), client ISN, time.
 * IPv4 hashes the two 4-byte addresses, as before IPv6 existed here; IPv6
 * all 32 bytes (never folded: a sender picking its interface identifier
 * could then match a folded victim's address).
 */
static __always_inline __u32 cb_cookie_mac(const __u32 key[2], const union cb_addr *saddr,
					   const union cb_addr *daddr, __u16 sport, __u16 dport,
					   __u32 client_isn, __u32 tcount, __u32 data)
{
	__u32 m[11];

	if (cb_addr_is_v4(saddr)) {
		m[0] = saddr->w[3];
		m[1] = daddr->w[3];
		m[2] = ((__u32)sport << 16) | dport;
		m[3] = client_isn;
		m[4] = (tcount << 16) ^ data;
		return cb_halfsiphash(key, m, 5) & CB_COOKIE_MAC_MASK;
	}
	m[0] = saddr->w[0];
	m[1] = saddr->w[1];
	m[2] = saddr->w[2];
	m[3] = saddr->w[3];
	m[4] = daddr->w[0];
	m[5] = daddr->w[1];
	m[6] = daddr->w[2];
	m[7] = daddr->w[3];
	m[8] = ((__u32)sport << 16) | dport;
	m[9] = client_isn;
	m[10] = (tcount << 16) ^ data;
	return cb_halfsiphash(key, m, 11) & CB_COOKIE_MAC_MASK;
}

/* Make the ISN for a SYN.  tcount = time counter now; slot = current secret. */
static __always_inline __u32 cb_cookie_make(const __u32 key[2], __u32 slot,
					    const union cb_addr *saddr,
					    const union cb_addr *daddr, __u16 sport,
					    __u16 dport, __u32 client_isn, __u32 tcount,
					    const struct cb_cookie_opts *o)
{
	__u32 data = cb_cookie_data(o, tcount, slot);

	return cb_cookie_mac(key, saddr, daddr, sport, dport, client_isn, tcount, data) | data;
}

/* What a valid cookie tells the ACK handler. */
struct cb_cookie_info {
	__u16 mss;
	__u8 wscale;        /* CB_WSCALE_NONE if the client sent none */
	__u8 sack;
};

static __always_inline __u32 cb_cookie_slot(__u32 cookie)
{
	return (cookie >> 8) & 1;
}

/*
 * Check a cookie (the ACK's ack_seq - 1) against key[slot].  tnow = time
 * counter now.  Returns 0 and fills *info when valid, -1 otherwise.
 */
static __always_inline int cb_cookie_check(const __u32 key[2], __u32 cookie,
					   const union cb_addr *saddr,
					   const union cb_addr *daddr, __u16 sport, __u16 dport,
					   __u32 client_isn, __u32 tnow,
					   struct cb_cookie_info *info)
{
	__u32 data = cookie & CB_COOKIE_DATA_MASK;
	/* The cookie's time parity picks the counter: now, or one step back. */
	__u32 tcount = (((data >> 7) & 1) == (tnow & 1)) ? tnow : tnow - 1;

	if (cb_cookie_mac(key, saddr, daddr, sport, dport, client_isn, tcount, data) !=
	    (cookie & CB_COOKIE_MAC_MASK))
		return -1;
	info->wscale = data & 0xf;
	info->sack = (data >> 4) & 1;
	info->mss = cb_mss_of_index(data >> 5);
	return 0;
}

#endif /* CB_COOKIE_H */
