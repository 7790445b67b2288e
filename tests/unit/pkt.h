/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Crafted packets for the unit tests, built and checked with code that is
 * independent of the BPF side (its own checksum routine, plain byte layout).
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
};

/* Build eth/ipv4/tcp into buf; returns the frame length. */
size_t t_build(uint8_t *buf, size_t cap, const struct t_tcp_spec *s);

/* RFC 1071 over bytes, independent of bpf/lib/csum.h. */
uint16_t t_csum(const uint8_t *p, size_t n, uint32_t seed);
/* 0 when both the IPv4 header and the TCP checksums of the frame verify. */
int t_verify_csums(const uint8_t *frame, size_t len);

/* A parsed view of a frame the program sent. */
struct t_tcp_view {
	uint8_t smac[6], dmac[6];
	uint32_t saddr, daddr;          /* host order */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags, ihl, ttl, doff;
	uint16_t window, tot_len;
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
