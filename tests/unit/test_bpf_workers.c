// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Records to the ring of the worker that owns the flow (cb_config.workers,
 * cb_rings): with workers > 1 a flow's OPEN and DATA records reach
 * cb_rings[cb_flow_shard(key, workers)] and no other ring; a worker whose
 * ring is missing loses them, counted as a full ring is; with workers 0 or
 * 1, cb_events alone, as before.  Table: workers -> ring -> counter.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cb_xdp.skel.h"
#include "cb_tc.skel.h"
#include "test_bpf.h"

static int seen1;                       /* records read from ring 1 */

static int on_ring1(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	seen1++;
	return 0;
}

/* Worker 0's ring is cb_events, worker 1's a new one; workers = n. */
static struct ring_buffer *two_rings(uint32_t n, int *r1)
{
	struct bpf_object *obj = F.hook == FX_XDP ? F.xdp->obj : F.tc->obj;
	int outer = bpf_object__find_map_fd_by_name(obj, "cb_rings");
	int ev = bpf_object__find_map_fd_by_name(obj, "cb_events");
	struct cb_config cfg;
	uint32_t zero = 0, one = 1;
	struct ring_buffer *rb;

	*r1 = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, 1u << 16, NULL);
	cr_assert_geq(*r1, 0);
	cr_assert_eq(bpf_map_update_elem(outer, &zero, &ev, BPF_ANY), 0);
	cr_assert_eq(bpf_map_update_elem(outer, &one, r1, BPF_ANY), 0);
	cr_assert_eq(bpf_map_lookup_elem(F.cfg_fd, &zero, &cfg), 0);
	cfg.workers = n;
	cr_assert_eq(bpf_map_update_elem(F.cfg_fd, &zero, &cfg, BPF_ANY), 0);
	rb = ring_buffer__new(*r1, on_ring1, NULL, NULL);
	cr_assert_not_null(rb);
	return rb;
}

/* The first count of workers >= 2 for which the fixture's flow is worker
 * `want`'s (>= 2: any worker past the two rings made). */
static uint32_t workers_for(uint32_t want)
{
	struct cb_flow_key k = flow_key();
	uint32_t n;

	for (n = 2; n <= CB_MAX_WORKERS; n++) {
		uint32_t s = cb_flow_shard(&k, n);

		if (want < 2 ? s == want : s >= 2)
			return n;
	}
	cr_assert_fail("no worker count puts the flow on worker %u", want);
	return 0;
}

static void row(enum fx_hook hook, uint32_t workers, int want_ring)
{
	uint8_t b[256];
	struct ring_buffer *rb;
	uint32_t isn, tsv;
	int r1, in0;
	size_t n;

	fx_open_hook(hook, 0, 65536);
	rb = two_rings(workers, &r1);
	seen1 = 0;
	isn = handshake(&tsv);          /* the OPEN record (handshake() drains ring 0) */
	in0 = F.nrec;
	n = seg(b, sizeof(b), CISN + 1, isn + 1, 0x18, 800, tsv, "GET / HTTP/1.0\r\n", 16, 502);
	run(b, n);                      /* a DATA record */
	in0 += drain();
	ring_buffer__consume(rb);
	cr_expect_eq(in0, want_ring == 0 ? 2 : 0, "workers %u: records in ring 0: %d", workers, in0);
	cr_expect_eq(seen1, want_ring == 1 ? 2 : 0, "workers %u: records in ring 1: %d", workers,
		     seen1);
	cr_expect_eq(XSTAT(EVENT_LOST), want_ring < 0 ? 1u : 0u, "OPEN lost (no ring)");
	cr_expect_eq(XSTAT(DATA_RING_FULL), want_ring < 0 ? 1u : 0u, "DATA lost (no ring)");
	ring_buffer__free(rb);
	close(r1);
	fx_close();
}

Test(workers, records_reach_their_workers_ring)
{
	row(FX_XDP, workers_for(0), 0);
	row(FX_XDP, workers_for(1), 1);
	row(FX_XDP, workers_for(2), -1);        /* worker 2's ring was never made */
	row(FX_XDP, 0, 0);                      /* one worker: cb_events, rings unused */
	row(FX_XDP, 1, 0);
}

Test(workers, tc_records_reach_their_workers_ring)
{
	row(FX_TC, workers_for(0), 0);
	row(FX_TC, workers_for(1), 1);
	row(FX_TC, workers_for(2), -1);
}
