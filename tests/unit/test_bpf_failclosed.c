// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Fail closed (cb_config.no_ctl_ms, the cb_controller heartbeat): with no
 * controller for that long, a SYN to a service and a valid cookie ACK are
 * refused as segments of no connection (RST|ACK; RST at ack_seq), nothing
 * is stored; with a fresh beat, or no_ctl_ms 0 (hold), they are answered as
 * always; a flow held already keeps queueing its bytes.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cb_xdp.skel.h"
#include "cb_tc.skel.h"
#include "test_bpf.h"

static const enum cb_stat watched[] = {
	CB_STAT_SYN_COOKIE_SENT, CB_STAT_SYN_NO_CONTROLLER, CB_STAT_ACK_NO_CONTROLLER,
	CB_STAT_ACK_COOKIE_OK, CB_STAT_RST_NO_FLOW, CB_STAT_RST_RATE_LIMITED,
	CB_STAT_DATA_QUEUED,
};
#define N_WATCHED (sizeof(watched) / sizeof(watched[0]))
#define END CB_STAT_MAX

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The controller's last beat, age_ms ago (negative: in the future). */
static void beat(long long age_ms)
{
	int fd = F.hook == FX_XDP ? bpf_map__fd(F.xdp->maps.cb_controller)
				  : bpf_map__fd(F.tc->maps.cb_controller);
	struct cb_ctl_beat b = { .seen_ns = mono_ns() - (uint64_t)(age_ms * 1000000ll), .pid = 1 };
	uint32_t zero = 0;

	cr_assert_eq(bpf_map_update_elem(fd, &zero, &b, BPF_ANY), 0);
}

static void no_ctl_ms(uint32_t ms)
{
	struct cb_config c;
	uint32_t zero = 0;

	cr_assert_eq(bpf_map_lookup_elem(F.cfg_fd, &zero, &c), 0);
	c.no_ctl_ms = ms;
	cr_assert_eq(bpf_map_update_elem(F.cfg_fd, &zero, &c, BPF_ANY), 0);
}

/* A SYN without options from CLIENT:sport. */
static size_t syn_from(uint8_t *b, size_t cap, uint16_t sport)
{
	struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = sport, .dport = VPORT,
				.seq = CISN, .flags = 0x02, .window = 64240 };

	return fx_build(b, cap, &s);
}

/* Run frame b (n bytes): verdict, counters moved (exactly want). */
static void expect(const char *name, const uint8_t *b, size_t n, int verdict,
		   const enum cb_stat *want)
{
	uint64_t before[N_WATCHED];

	fx_snapshot(watched, N_WATCHED, before);
	cr_expect_eq(run(b, n), verdict, "%s: verdict", name);
	fx_expect_counted(name, watched, N_WATCHED, before, want);
}

static void fail_closed_on(enum fx_hook hook)
{
	static const enum cb_stat synack[] = { CB_STAT_SYN_COOKIE_SENT, END },
		syn_refused[] = { CB_STAT_SYN_NO_CONTROLLER, CB_STAT_RST_NO_FLOW, END },
		ack_refused[] = { CB_STAT_ACK_NO_CONTROLLER, CB_STAT_RST_NO_FLOW, END },
		created[] = { CB_STAT_ACK_COOKIE_OK, END },
		queued[] = { CB_STAT_DATA_QUEUED, END };
	uint8_t b[256];
	struct t_tcp_view v;
	struct cb_flow f;
	uint32_t isn;
	size_t n;

	fx_open_hook(hook, 0, 65536);
	no_ctl_ms(2000);

	/* a controller beat 100 ms ago: served */
	beat(100);
	n = syn(b, 1, 1, 7, NULL);
	expect("SYN, controller alive", b, n, V_TX, synack);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	isn = v.seq;

	/* 3 s without a beat: the SYN is refused as the kernel refuses it */
	beat(3000);
	expect("SYN, no controller", b, n, V_TX, syn_refused);
	fx_expect_rst("SYN, no controller", 0x14, 0, CISN + 1);
	/* the cookie of the SYN-ACK sent while it was alive: refused too */
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x10, 778, v.tsval, NULL, 0, 502);
	expect("cookie ACK, no controller", b, n, V_TX, ack_refused);
	fx_expect_rst("cookie ACK, no controller", 0x04, isn + 1, 0);
	cr_expect_neq(get_flow(&f), 0, "no flow without a controller");

	/* the controller is back: the same ACK creates the flow */
	beat(0);
	expect("cookie ACK, controller back", b, n, V_DROP, created);
	cr_assert_eq(get_flow(&f), 0, "flow created");
	drain();                /* its open record */

	/* a held flow keeps its bytes while the controller is away */
	beat(3000);
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 779, v.tsval, "GET / HTTP/1.0\r\n\r\n", 18,
		502);
	expect("data of a held flow, no controller", b, n, V_TX, queued);
	cr_expect_eq(drain(), 1, "its bytes reached the ring");

	/* a beat written after the program read its clock is fresh, not 2^64 old */
	beat(-5);
	n = syn_from(b, sizeof(b), CPORT + 1);  /* not the held flow's tuple */
	expect("SYN, beat just written", b, n, V_TX, synack);

	/* hold: no controller, yet the SYN is answered (held for one to come) */
	beat(3600 * 1000);
	no_ctl_ms(0);
	expect("SYN, hold", b, n, V_TX, synack);
	fx_close();
}

#define BOTH(name, hook)                                       \
	Test(failclosed, name) { FX_V6 = 0; fail_closed_on(hook); }  \
	Test(failclosed, name##_v6) { FX_V6 = 1; fail_closed_on(hook); }

BOTH(xdp, FX_XDP)
BOTH(tc, FX_TC)
