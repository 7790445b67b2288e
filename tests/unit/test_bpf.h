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
void fx_service(uint32_t vip, uint16_t port);

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
/* F.out is a bare RST (54 bytes, window 0, no options, no payload) from
 * VIP:VPORT to the client, with these flags and numbers. */
void fx_expect_rst(const char *name, uint8_t flags, uint32_t seq, uint32_t ack);

#endif
