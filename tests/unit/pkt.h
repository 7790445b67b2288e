/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Crafted packets for the unit tests, built and checked with code that is
 * independent of the BPF side (its own checksum routine, plain byte layout).
 * IPv4 by default; IPv6 with `v6` set (addresses in saddr6/daddr6, optional
 * extension headers as raw bytes between the fixed header and TCP).
 */
#ifndef CB_TEST_PKT_H
#define CB_TEST_PKT_H

#include <stddef.h>
#include <stdint.h>

#define T_ETH_LEN 14

struct t_tcp_spec {
	uint32_t saddr, daddr;          /* host order, e.g. 0xc6120001 */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;                  /* CB_TCP_* values */
	uint16_t window;
	const uint8_t *opts;            /* raw option bytes (padded by the caller) */
	size_t optlen;
	const uint8_t *payload;
	size_t paylen;
	const uint8_t *ipopts;          /* raw IP options, multiple of 4 */
	size_t ipoptlen;
	uint16_t frag_off;              /* host order flags|offset */
	/* IPv6 */
	int v6;                         /* 1: IPv6 from saddr6 to daddr6 */
	uint8_t saddr6[16], daddr6[16]; /* network order */
	const uint8_t *ext;             /* raw extension headers (each with its own
	                                 * next-header byte), put before TCP */
	size_t extlen;
	uint8_t ext_nh;                 /* the fixed header's next header when extlen */
};

/* Build eth/ipv4/tcp or eth/ipv6[/ext]/tcp into buf; returns the frame length
 * (0 if cap is too small). */
size_t t_build(uint8_t *buf, size_t cap, const struct t_tcp_spec *s);

/* RFC 1071 over bytes, independent of bpf/lib/csum.h. */
uint16_t t_csum(const uint8_t *p, size_t n, uint32_t seed);
/* 0 when both the IPv4 header and the TCP checksums of the frame verify;
 * IPv6: the TCP checksum over the IPv6 pseudo-header (RFC 8200 8.1), after
 * hop-by-hop, routing and destination options headers. */
int t_verify_csums(const uint8_t *frame, size_t len);

/* A parsed view of a frame the program sent. */
struct t_tcp_view {
	uint8_t smac[6], dmac[6];
	uint32_t saddr, daddr;          /* host order; IPv4 only */
	int v6;                         /* an IPv6 frame */
	uint8_t saddr6[16], daddr6[16]; /* IPv6 only */
	uint32_t ver_tc_flow;           /* IPv6: the first word, host order */
	uint16_t plen;                  /* IPv6: payload length */
	uint8_t nexthdr;                /* IPv6: the fixed header's next header */
	size_t l3len;                   /* IP header bytes before TCP (options, ext) */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags, ihl, ttl, doff;  /* ttl: the hop limit for IPv6; ihl 0 */
	uint16_t window, tot_len;       /* tot_len: 40 + plen for IPv6 */
	const uint8_t *opts;
	size_t optlen, paylen;
	/* decoded options */
	int mss, wscale, sack_ok, ts;
	uint32_t tsval, tsecr;
};

int t_view(const uint8_t *frame, size_t len, struct t_tcp_view *v);

/* Standard Linux client SYN options: MSS 1460, SACK_PERM, TS, NOP, WS 7. */
size_t t_syn_opts(uint8_t *o, uint16_t mss, int sack, int ts, uint32_t tsval, int wscale);

/* Frames from t_build() go from T_MAC_CLIENT to T_MAC_DIR.  T_MAC_OWN is the
 * director's MAC in the test config (h_source of steered frames), on purpose
 * not T_MAC_DIR; T_MAC_PEER a peer's. */
extern const uint8_t T_MAC_CLIENT[6], T_MAC_DIR[6], T_MAC_OWN[6], T_MAC_PEER[6];

#endif
