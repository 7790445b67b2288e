// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <string.h>
#include "pkt.h"

const uint8_t T_MAC_CLIENT[6] = { 0x02, 0, 0, 0, 0, 0x01 };
const uint8_t T_MAC_DIR[6] = { 0x02, 0, 0, 0, 0, 0x02 };
const uint8_t T_MAC_OWN[6] = { 0x02, 0, 0, 0, 0, 0x0d };
const uint8_t T_MAC_PEER[6] = { 0x02, 0, 0, 0, 0, 0x0e };

static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16); put16(p + 2, v & 0xffff); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

uint16_t t_csum(const uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t s = seed;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t pseudo(uint32_t sa, uint32_t da, size_t tcplen)
{
	return (sa >> 16) + (sa & 0xffff) + (da >> 16) + (da & 0xffff) + 6 + (uint32_t)tcplen;
}

/* RFC 8200 8.1: both addresses, the upper-layer length (32 bits), zeros and
 * the next header (6), as 16-bit big-endian words. */
static uint32_t pseudo6(const uint8_t *sa, const uint8_t *da, size_t tcplen)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i < 16; i += 2)
		sum += (uint32_t)(sa[i] << 8 | sa[i + 1]) + (uint32_t)(da[i] << 8 | da[i + 1]);
	return sum + (uint32_t)(tcplen >> 16) + (uint32_t)(tcplen & 0xffff) + 6;
}

static void tcp_fill(uint8_t *th, const struct t_tcp_spec *s)
{
	size_t thl = 20 + s->optlen;

	put16(th, s->sport);
	put16(th + 2, s->dport);
	put32(th + 4, s->seq);
	put32(th + 8, s->ack);
	th[12] = (uint8_t)((thl / 4) << 4);
	th[13] = s->flags;
	put16(th + 14, s->window);
	if (s->optlen)
		memcpy(th + 20, s->opts, s->optlen);
	if (s->paylen)
		memcpy(th + thl, s->payload, s->paylen);
}

static size_t t_build6(uint8_t *b, size_t cap, const struct t_tcp_spec *s)
{
	size_t thl = 20 + s->optlen, plen = s->extlen + thl + s->paylen;
	size_t len = T_ETH_LEN + 40 + plen;
	uint8_t *ip = b + T_ETH_LEN, *th = ip + 40 + s->extlen;

	if (len > cap)
		return 0;
	memset(b, 0, len);
	memcpy(b, T_MAC_DIR, 6);
	memcpy(b + 6, T_MAC_CLIENT, 6);
	put16(b + 12, 0x86dd);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)plen);
	ip[6] = s->extlen ? s->ext_nh : 6;
	ip[7] = 64;
	memcpy(ip + 8, s->saddr6, 16);
	memcpy(ip + 24, s->daddr6, 16);
	if (s->extlen)
		memcpy(ip + 40, s->ext, s->extlen);
	tcp_fill(th, s);
	put16(th + 16, t_csum(th, thl + s->paylen, pseudo6(s->saddr6, s->daddr6, thl + s->paylen)));
	return len;
}

size_t t_build(uint8_t *b, size_t cap, const struct t_tcp_spec *s)
{
	size_t ihl = 20 + s->ipoptlen, thl = 20 + s->optlen;
	size_t tot = ihl + thl + s->paylen, len = T_ETH_LEN + tot;
	uint8_t *ip = b + T_ETH_LEN, *th = ip + ihl;

	if (s->v6)
		return t_build6(b, cap, s);
	if (len > cap)
		return 0;
	memset(b, 0, len);
	memcpy(b, T_MAC_DIR, 6);
	memcpy(b + 6, T_MAC_CLIENT, 6);
	put16(b + 12, 0x0800);
	ip[0] = (uint8_t)(0x40 | (ihl / 4));
	put16(ip + 2, (uint16_t)tot);
	put16(ip + 4, 0x1234);
	put16(ip + 6, s->frag_off ? s->frag_off : 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, s->saddr);
	put32(ip + 16, s->daddr);
	if (s->ipoptlen)
		memcpy(ip + 20, s->ipopts, s->ipoptlen);
	put16(ip + 10, t_csum(ip, ihl, 0));
	tcp_fill(th, s);
	put16(th + 16, t_csum(th, thl + s->paylen, pseudo(s->saddr, s->daddr, thl + s->paylen)));
	return len;
}

/* Offset of TCP after the IPv6 header at ip (plen bytes follow it), walking
 * hop-by-hop, routing and destination options headers; 0 if it is not TCP. */
static size_t ip6_l4(const uint8_t *ip, size_t plen)
{
	size_t off = 40;
	uint8_t nh = ip[6];

	while (nh == 0 || nh == 43 || nh == 60) {
		if (off + 8 > 40 + plen)
			return 0;
		nh = ip[off];
		off += ((size_t)ip[off + 1] + 1) * 8;
	}
	return nh == 6 && off + 20 <= 40 + plen ? off : 0;
}

static int verify6(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + T_ETH_LEN;
	size_t plen, l4;

	if (len < T_ETH_LEN + 60 || (ip[0] >> 4) != 6)
		return -1;
	plen = get16(ip + 4);
	if (T_ETH_LEN + 40 + plen > len || !(l4 = ip6_l4(ip, plen)))
		return -1;
	return t_csum(ip + l4, 40 + plen - l4, pseudo6(ip + 8, ip + 24, 40 + plen - l4)) == 0
		       ? 0 : -1;
}

int t_verify_csums(const uint8_t *f, size_t len)
{
	const uint8_t *ip = f + T_ETH_LEN;
	size_t ihl, tot;

	if (len >= T_ETH_LEN && get16(f + 12) == 0x86dd)
		return verify6(f, len);
	if (len < T_ETH_LEN + 40)
		return -1;
	ihl = (size_t)(ip[0] & 0xf) * 4;
	tot = get16(ip + 2);
	if (T_ETH_LEN + tot > len || t_csum(ip, ihl, 0) != 0)
		return -1;
	return t_csum(ip + ihl, tot - ihl, pseudo(get32(ip + 12), get32(ip + 16), tot - ihl)) == 0
		       ? 0 : -1;
}

int t_view(const uint8_t *f, size_t len, struct t_tcp_view *v)
{
	const uint8_t *ip = f + T_ETH_LEN, *th;
	size_t i;

	memset(v, 0, sizeof(*v));
	if (len < T_ETH_LEN + 40)
		return -1;
	memcpy(v->dmac, f, 6);
	memcpy(v->smac, f + 6, 6);
	if (get16(f + 12) == 0x86dd) {
		if (len < T_ETH_LEN + 60 || (ip[0] >> 4) != 6)
			return -1;
		v->v6 = 1;
		v->ver_tc_flow = get32(ip);
		v->plen = get16(ip + 4);
		v->nexthdr = ip[6];
		v->ttl = ip[7];
		memcpy(v->saddr6, ip + 8, 16);
		memcpy(v->daddr6, ip + 24, 16);
		v->tot_len = (uint16_t)(40 + v->plen);
		if (T_ETH_LEN + (size_t)v->tot_len > len || !(v->l3len = ip6_l4(ip, v->plen)))
			return -1;
	} else {
		if (get16(f + 12) != 0x0800)
			return -1;
		v->ihl = ip[0] & 0xf;
		v->tot_len = get16(ip + 2);
		v->ttl = ip[8];
		v->saddr = get32(ip + 12);
		v->daddr = get32(ip + 16);
		v->l3len = (size_t)v->ihl * 4;
	}
	th = ip + v->l3len;
	v->sport = get16(th);
	v->dport = get16(th + 2);
	v->seq = get32(th + 4);
	v->ack = get32(th + 8);
	v->doff = th[12] >> 4;
	v->flags = th[13];
	v->window = get16(th + 14);
	v->opts = th + 20;
	v->optlen = (size_t)v->doff * 4 - 20;
	v->paylen = v->tot_len - v->l3len - (size_t)v->doff * 4;
	v->mss = -1;
	v->wscale = -1;
	for (i = 0; i < v->optlen;) {
		uint8_t k = v->opts[i];

		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		if (k == 2)
			v->mss = get16(v->opts + i + 2);
		if (k == 3)
			v->wscale = v->opts[i + 2];
		if (k == 4)
			v->sack_ok = 1;
		if (k == 8) {
			v->ts = 1;
			v->tsval = get32(v->opts + i + 2);
			v->tsecr = get32(v->opts + i + 6);
		}
		i += v->opts[i + 1] ? v->opts[i + 1] : 1;
	}
	return 0;
}

size_t t_syn_opts(uint8_t *o, uint16_t mss, int sack, int ts, uint32_t tsval, int wscale)
{
	size_t n = 0;

	o[n++] = 2; o[n++] = 4; put16(o + n, mss); n += 2;
	if (sack && ts) {
		o[n++] = 4; o[n++] = 2;
	} else if (ts) {
		o[n++] = 1; o[n++] = 1;
	}
	if (ts) {
		o[n++] = 8; o[n++] = 10; put32(o + n, tsval); put32(o + n + 4, 0); n += 8;
	} else if (sack) {
		o[n++] = 1; o[n++] = 1; o[n++] = 4; o[n++] = 2;
	}
	if (wscale >= 0) {
		o[n++] = 1; o[n++] = 3; o[n++] = 3; o[n++] = (uint8_t)wscale;
	}
	return n;
}
