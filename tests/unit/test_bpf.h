/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Fixture of the BPF program tests (test_bpf*.c): the XDP or the TC object
 * loaded with fresh maps, crafted packets run through bpf_prog_test_run_opts()
 * and what came out.  Needs root (CAP_BPF); tests skip otherwise.
 */
#ifndef CB_TEST_BPF_H
#define CB_TEST_BPF_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include <connbroker/shared.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#include "../../bpf/lib/cookie.h"
#include "pkt.h"
#include "t_addr.h"

#define XDP_DROP 1
#define XDP_PASS 2
#define XDP_TX 3
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7

#define CLIENT 0xc6120001u      /* 198.18.0.1 */
#define VIP 0xc6120064u         /* 198.18.0.100 */
#define CPORT 40000
#define VPORT 80
#define CISN 1000000u

/*
 * The family the fixture's packets use: FX_V6 = 1 makes syn(), seg(),
 * fx_build(), flow_key(), fx_service() and the reply checks use CLIENT6 and
 * VIP6 (2001:db8::1 -> [2001:db8::100]:VPORT) where the IPv4 ones name
 * CLIENT and VIP.  Each test runs in its own process: set it before use.
 * FX_TEST2(suite, name) defines the test twice: name (IPv4) and name_v6.
 */
extern int FX_V6;
/* The MSS the programs offer: cb_config.mss (fx_config: 1460) for IPv4, 20
 * less for IPv6 (its header is 20 bytes longer). */
#define FX_MSS (FX_V6 ? 1440 : 1460)
extern const uint8_t CLIENT6[16], VIP6[16];
#define FX_TEST2(suite, name, ...)                                               \
	static void name##_fam(void);                                            \
	Test(suite, name, ##__VA_ARGS__) { FX_V6 = 0; name##_fam(); }            \
	Test(suite, name##_v6, ##__VA_ARGS__) { FX_V6 = 1; name##_fam(); }       \
	static void name##_fam(void)

extern const __u32 KEY0[2];
     /* cookie secret, slot 0 (current) */

enum fx_hook { FX_XDP, FX_TC };

struct fx {
	enum fx_hook hook;
	struct cb_xdp *xdp;
	struct cb_tc *tc;
	int prog;                       /* the ingress program */
	int cfg_fd, sec_fd, svc_fd, flows_fd, stats_fd, peers_fd, remote_fd;
	struct ring_buffer *rb;
	uint8_t rec[8][4096 + 64];      /* ring records drained */
	size_t rec_len[8];
	int nrec;
	uint8_t out[4096];              /* the frame after the last run */
	size_t out_len;
};

extern struct fx F;

/* The verdicts of the loaded hook: XDP_TX or TC_ACT_REDIRECT, ... */
#define V_TX (F.hook == FX_XDP ? XDP_TX : TC_ACT_REDIRECT)
#define V_DROP (F.hook == FX_XDP ? XDP_DROP : TC_ACT_SHOT)
#define V_PASS (F.hook == FX_XDP ? XDP_PASS : TC_ACT_OK)

/* XDP with a ring of ring_bytes (0: the default) and a per-flow cap; the
 * service VIP:VPORT; config as the loader's defaults otherwise, own MAC
 * T_MAC_OWN. */
void fx_open(uint32_t ring_bytes, uint32_t cap);
void fx_open_hook(enum fx_hook hook, uint32_t ring_bytes, uint32_t cap);
void fx_close(void);
void fx_config(uint32_t cap, uint32_t rst_rate);
/* Serve vip:port (vip an IPv4 address, mapped to IPv6 as fx_addr6 does when
 * FX_V6); fx_open installs VIP:VPORT and VIP6:VPORT both. */
void fx_service(uint32_t vip, uint16_t port);
void fx_service_addr(union cb_addr vip, uint16_t port);
/* The service key of VIP:VPORT in the current family. */
struct cb_service_key fx_service_key(void);
/* The IPv6 stand-in of an IPv4 test address: CLIENT + k -> CLIENT6 + k,
 * VIP + k -> VIP6 + k, 127.0.0.1 -> ::1, others 64:ff9b::a.b.c.d. */
void fx_addr6(uint32_t v4, uint8_t out[16]);
/* The address CLIENT or VIP (any IPv4 address) in the current family. */
union cb_addr fx_addr(uint32_t v4);
/* t_build() of s in the current family: s's IPv4 addresses are mapped to
 * their IPv6 stand-ins when FX_V6. */
size_t fx_build(uint8_t *buf, size_t cap, const struct t_tcp_spec *s);
/* Where TCP starts in a frame of fx_build() without options/extensions. */
size_t fx_l4(void);

int run_prog(int prog, const uint8_t *in, size_t len);
int run(const uint8_t *in, size_t len);
int drain(void);                        /* ring records now in F.rec */
uint64_t fx_stat(int stats_fd, enum cb_stat s);
#define XSTAT(s) fx_stat(F.stats_fd, CB_STAT_##s)

struct cb_flow_key flow_key(void);      /* CLIENT:CPORT -> VIP:VPORT */
int get_flow(struct cb_flow *f);
uint32_t tai_counter(void);

/* Client SYN with Linux's options (sack, ts, ws < 0: none) and payload. */
size_t syn(uint8_t *buf, int sack, int ts, int ws, const char *data);
/* Segment from the client on the flow, with a timestamp option. */
size_t seg(uint8_t *buf, size_t cap, uint32_t seq, uint32_t ack, uint8_t flags,
	   uint32_t tsval, uint32_t tsecr, const void *data, size_t len, uint16_t win);
/* Full handshake; returns the server ISN and our TSval from the SYN-ACK. */
uint32_t handshake(uint32_t *srv_tsval);

/* The n counters in w, now (for fx_expect_counted). */
void fx_snapshot(const enum cb_stat *w, size_t n, uint64_t *v);
/* Of the n counters in w, exactly those in `want` (ended by CB_STAT_MAX)
 * moved since `before`, each by one. */
void fx_expect_counted(const char *name, const enum cb_stat *w, size_t n, const uint64_t *before,
		       const enum cb_stat *want);
/* F.out is a reply of the current family from VIP:VPORT to CLIENT:CPORT,
 * MACs swapped, checksums right: IPv4 without options, TTL 64; IPv6
 * version 6, traffic class and flow label 0, payload length = the frame's,
 * next header TCP (no extension header), hop limit 64.  Parsed into v. */
void fx_expect_reply(const char *name, struct t_tcp_view *v);
/* F.out is a bare RST (54 bytes, 74 for IPv6, window 0, no options, no payload) from
 * VIP:VPORT to the client, with these flags and numbers. */
void fx_expect_rst(const char *name, uint8_t flags, uint32_t seq, uint32_t ack);

#endif
