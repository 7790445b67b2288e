// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The fixture of the BPF program tests: see test_bpf.h. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cb_xdp.skel.h"
#include "cb_tc.skel.h"
#include "test_bpf.h"

const __u32 KEY0[2] = { 0x11111111, 0x22222222 };

int FX_V6;
const uint8_t CLIENT6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
const uint8_t VIP6[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0x01, [15] = 0x00 };

void fx_addr6(uint32_t v4, uint8_t out[16])
{
	uint32_t base = 0, k = 0;

	memset(out, 0, 16);
	if (v4 - CLIENT < 16) {
		memcpy(out, CLIENT6, 16);
		base = 1;
		k = v4 - CLIENT;
	} else if (v4 - VIP < 16) {
		memcpy(out, VIP6, 16);
		base = 0x100;
		k = v4 - VIP;
	} else if (v4 == 0x7f000001) {
		out[15] = 1;
		return;
	} else {
		out[1] = 0x64;
		out[2] = 0xff;
		out[3] = 0x9b;
		out[12] = (uint8_t)(v4 >> 24);
		out[13] = (uint8_t)(v4 >> 16);
		out[14] = (uint8_t)(v4 >> 8);
		out[15] = (uint8_t)v4;
		return;
	}
	out[14] = (uint8_t)((base + k) >> 8);
	out[15] = (uint8_t)(base + k);
}

union cb_addr fx_addr(uint32_t v4)
{
	union cb_addr a;

	if (!FX_V6)
		return a4(v4);
	fx_addr6(v4, a.b);
	return a;
}

size_t fx_build(uint8_t *buf, size_t cap, const struct t_tcp_spec *s)
{
	struct t_tcp_spec c = *s;

	if (FX_V6 && !c.v6) {
		c.v6 = 1;
		fx_addr6(s->saddr, c.saddr6);
		fx_addr6(s->daddr, c.daddr6);
	}
	return t_build(buf, cap, &c);
}

size_t fx_l4(void)
{
	return FX_V6 ? T_ETH_LEN + 40 : T_ETH_LEN + 20;
}

struct fx F;

static int on_rec(void *ctx, void *data, size_t size)
{
	if (F.nrec < 8 && size <= sizeof(F.rec[0])) {
		memcpy(F.rec[F.nrec], data, size);
		F.rec_len[F.nrec] = size;
	}
	F.nrec++;
	return 0;
}

void fx_config(uint32_t cap, uint32_t rst_rate)
{
	struct cb_config c = { .flow_byte_cap = cap, .rst_rate = rst_rate, .mss = 1460,
			       .wscale = 7, .flags = CB_CFG_VERIFY_CSUM };
	uint32_t zero = 0;

	memcpy(c.own_mac, T_MAC_OWN, 6);
	cr_assert_eq(bpf_map_update_elem(F.cfg_fd, &zero, &c, BPF_ANY), 0);
}

void fx_service(uint32_t vip, uint16_t port)
{
	fx_service_addr(fx_addr(vip), port);
}

struct cb_service_key fx_service_key(void)
{
	struct cb_service_key k;

	memset(&k, 0, sizeof(k));
	k.vip = fx_addr(VIP);
	k.port_be = htons(VPORT);
	return k;
}

void fx_service_addr(union cb_addr vip, uint16_t port)
{
	struct cb_service_key k = { .vip = vip, .port_be = htons(port) };
	struct cb_service v = { .id = 0 };

	cr_assert_eq(bpf_map_update_elem(F.svc_fd, &k, &v, BPF_ANY), 0);
}

static void fx_maps(struct bpf_object *obj)
{
	F.cfg_fd = bpf_object__find_map_fd_by_name(obj, "cb_config");
	F.sec_fd = bpf_object__find_map_fd_by_name(obj, "cb_secrets");
	F.svc_fd = bpf_object__find_map_fd_by_name(obj, "cb_services");
	F.flows_fd = bpf_object__find_map_fd_by_name(obj, "cb_flows");
	F.stats_fd = bpf_object__find_map_fd_by_name(obj, "cb_stats");
	F.peers_fd = bpf_object__find_map_fd_by_name(obj, "cb_peers");
	F.remote_fd = bpf_object__find_map_fd_by_name(obj, "cb_remote");
	F.rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "cb_events"), on_rec,
				NULL, NULL);
	cr_assert_not_null(F.rb);
}

void fx_open_hook(enum fx_hook hook, uint32_t ring_bytes, uint32_t cap)
{
	struct cb_secrets s = { .key = { { KEY0[0], KEY0[1] }, { 3, 4 } }, .current = 0 };
	struct bpf_object *obj;
	uint32_t zero = 0;
	int err;

	if (geteuid() != 0)
		cr_skip_test("needs root to load BPF programs");
	memset(&F, 0, sizeof(F));
	F.hook = hook;
	if (hook == FX_XDP) {
		F.xdp = cb_xdp__open();
		cr_assert_not_null(F.xdp);
		obj = F.xdp->obj;
	} else {
		F.tc = cb_tc__open();
		cr_assert_not_null(F.tc);
		obj = F.tc->obj;
	}
	if (ring_bytes)
		bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "cb_events"), ring_bytes);
	err = hook == FX_XDP ? cb_xdp__load(F.xdp) : cb_tc__load(F.tc);
	cr_assert_eq(err, 0, "load: %s", strerror(errno));
	F.prog = bpf_program__fd(bpf_object__find_program_by_name(
		obj, hook == FX_XDP ? "cb_xdp" : "cb_tc_ingress"));
	fx_maps(obj);
	fx_config(cap, CB_RST_RATE_DEFAULT);
	cr_assert_eq(bpf_map_update_elem(F.sec_fd, &zero, &s, BPF_ANY), 0);
	fx_service_addr(a4(VIP), VPORT);
	{
		union cb_addr v6;

		memcpy(v6.b, VIP6, 16);
		fx_service_addr(v6, VPORT);
	}
}

void fx_open(uint32_t ring_bytes, uint32_t cap)
{
	fx_open_hook(FX_XDP, ring_bytes, cap);
}

void fx_close(void)
{
	ring_buffer__free(F.rb);
	cb_xdp__destroy(F.xdp);
	cb_tc__destroy(F.tc);
	F.xdp = NULL;
	F.tc = NULL;
	F.rb = NULL;
}

int run_prog(int prog, const uint8_t *in, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = F.out, .data_size_out = sizeof(F.out), .repeat = 1);

	cr_assert_eq(bpf_prog_test_run_opts(prog, &o), 0, "test_run: %s", strerror(errno));
	F.out_len = o.data_size_out;
	return (int)o.retval;
}

int run(const uint8_t *in, size_t len)
{
	return run_prog(F.prog, in, len);
}

int drain(void)
{
	F.nrec = 0;
	ring_buffer__consume(F.rb);
	return F.nrec;
}

uint64_t fx_stat(int fd, enum cb_stat s)
{
	uint64_t vals[256] = { 0 }, sum = 0;
	uint32_t k = s;
	int i, n = libbpf_num_possible_cpus();

	cr_assert_leq(n, 256);
	cr_assert_eq(bpf_map_lookup_elem(fd, &k, vals), 0);
	for (i = 0; i < n; i++)
		sum += vals[i];
	return sum;
}

struct cb_flow_key flow_key(void)
{
	return t_key(fx_addr(CLIENT), fx_addr(VIP), CPORT, VPORT);
}

int get_flow(struct cb_flow *f)
{
	struct cb_flow_key k = flow_key();

	return bpf_map_lookup_elem(F.flows_fd, &k, f);
}

uint32_t tai_counter(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_TAI, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec >> CB_COOKIE_PERIOD_SHIFT);
}

size_t syn(uint8_t *buf, int sack, int ts, int ws, const char *data)
{
	uint8_t o[40];
	struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT, .dport = VPORT,
				.seq = CISN, .flags = 0x02, .window = 64240, .opts = o };

	s.optlen = t_syn_opts(o, 1460, sack, ts, 777, ws);
	if (data) {
		s.payload = (const uint8_t *)data;
		s.paylen = strlen(data);
	}
	return fx_build(buf, 256, &s);
}

size_t seg(uint8_t *buf, size_t cap, uint32_t seq, uint32_t ack, uint8_t flags,
	   uint32_t tsval, uint32_t tsecr, const void *data, size_t len, uint16_t win)
{
	uint8_t o[12] = { 1, 1, 8, 10 };
	struct t_tcp_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = CPORT, .dport = VPORT,
				.seq = seq, .ack = ack, .flags = flags, .window = win,
				.opts = o, .optlen = 12, .payload = data, .paylen = len };

	o[4] = (uint8_t)(tsval >> 24); o[5] = (uint8_t)(tsval >> 16);
	o[6] = (uint8_t)(tsval >> 8); o[7] = (uint8_t)tsval;
	o[8] = (uint8_t)(tsecr >> 24); o[9] = (uint8_t)(tsecr >> 16);
	o[10] = (uint8_t)(tsecr >> 8); o[11] = (uint8_t)tsecr;
	return fx_build(buf, cap, &s);
}

uint32_t handshake(uint32_t *srv_tsval)
{
	uint8_t b[256];
	struct t_tcp_view v;
	size_t n = syn(b, 1, 1, 7, NULL);
	uint32_t isn;

	cr_assert_eq(run(b, n), V_TX);
	cr_assert_eq(t_view(F.out, F.out_len, &v), 0);
	isn = v.seq;
	*srv_tsval = v.tsval;
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x10, 778, v.tsval, NULL, 0, 502);
	cr_assert_eq(run(b, n), V_DROP);
	drain();
	return isn;
}
