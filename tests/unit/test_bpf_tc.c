// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The TC hook: the same core at clsact ingress, and the egress RST guard.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "cb_xdp.skel.h"
#include "cb_tc.skel.h"
#include "test_bpf.h"

FX_TEST2(tc, ingress_answers_syn_like_xdp)
{
	uint8_t b[256];
	struct t_tcp_view v;
	size_t n;

	fx_open_hook(FX_TC, 0, 65536);
	n = syn(b, 1, 1, 7, NULL);
	cr_expect_eq(run(b, n), TC_ACT_REDIRECT);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	cr_expect_eq(v.flags, 0x12);
	cr_expect_eq(v.ack, CISN + 1);
	cr_expect_eq(v.mss, FX_MSS);
	cr_expect_eq(v.wscale, 7);
	cr_expect_eq(v.tsecr, 777);
	cr_expect_eq(t_verify_csums(F.out, F.out_len), 0);
	/* not a service: TC_ACT_OK */
	n = syn(b, 1, 1, 7, NULL);
	b[fx_l4() + 3] = 81;
	cr_expect_eq(run(b, n), TC_ACT_OK);
	fx_close();
}

FX_TEST2(tc, ingress_data_path_matches_xdp)
{
	uint8_t b[512];
	struct t_tcp_view v;
	const struct cb_event *ev;
	uint32_t isn;
	size_t n;

	fx_open_hook(FX_TC, 0, 65536);
	n = syn(b, 1, 1, 7, NULL);
	cr_assert_eq(run(b, n), TC_ACT_REDIRECT);
	t_view(F.out, F.out_len, &v);
	isn = v.seq;
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x10, 778, v.tsval, NULL, 0, 502);
	cr_assert_eq(run(b, n), TC_ACT_SHOT, "handshake ACK consumed");
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 800, v.tsval, "GET /tc HTTP/1.1\r\n\r\n", 20, 502);
	cr_assert_eq(run(b, n), TC_ACT_REDIRECT);
	t_view(F.out, F.out_len, &v);
	cr_expect_eq(v.flags, 0x10);
	cr_expect_eq(v.ack, CISN + 21);
	cr_expect_eq(t_verify_csums(F.out, F.out_len), 0);
	cr_assert_eq(drain(), 2, "open + data");
	ev = (const struct cb_event *)F.rec[1];
	cr_expect_eq(ev->type, CB_EV_DATA);
	cr_expect_eq(ev->len, 20);
	cr_expect_eq(memcmp(ev + 1, "GET /tc HTTP/1.1\r\n\r\n", 20), 0);
	fx_close();
}

FX_TEST2(tc, egress_blocks_kernel_rst_for_held_flow)
{
	struct cb_flow f = { .state = CB_FLOW_UNBOUND };
	struct cb_flow_key k = flow_key();
	struct t_tcp_spec s = { .saddr = VIP, .daddr = CLIENT, .sport = VPORT, .dport = CPORT,
				.seq = 1, .ack = 2, .flags = 0x14 };
	uint8_t b[256];
	size_t n;
	int eg;

	fx_open_hook(FX_TC, 0, 65536);
	eg = bpf_program__fd(F.tc->progs.cb_tc_egress);
	n = fx_build(b, sizeof(b), &s);
	cr_expect_eq(run_prog(eg, b, n), TC_ACT_OK, "no flow: the kernel's RST goes out");
	cr_assert_eq(bpf_map_update_elem(F.flows_fd, &k, &f, BPF_ANY), 0);
	cr_expect_eq(run_prog(eg, b, n), TC_ACT_SHOT);
	f.state = CB_FLOW_LOCAL;
	bpf_map_update_elem(F.flows_fd, &k, &f, BPF_ANY);
	cr_expect_eq(run_prog(eg, b, n), TC_ACT_OK, "a local socket may reset its flow");
	s.flags = 0x10;
	f.state = CB_FLOW_UNBOUND;
	bpf_map_update_elem(F.flows_fd, &k, &f, BPF_ANY);
	n = fx_build(b, sizeof(b), &s);
	cr_expect_eq(run_prog(eg, b, n), TC_ACT_OK, "only RSTs are filtered");
	cr_expect_eq(XSTAT(EGRESS_RST_BLOCKED), 1);
	fx_close();
}
