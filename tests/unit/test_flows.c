// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Counting a flow table by state in batches (user/datapath/flows.c). */
#include <criterion/criterion.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "datapath/flows.h"

/* More entries than one batch holds (4,096), of every state: the batch
 * count agrees with a walk of the table a key at a time. */
Test(flows, count_in_batches_agrees_with_a_walk)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo);
	unsigned long by[CB_FLOW_STATE_MAX], walk[CB_FLOW_STATE_MAX] = { 0 };
	struct cb_flow_key k, next;
	struct cb_flows t = { .fd = -1 };
	uint32_t i, n = 9000;
	int fd, more;

	if (geteuid() != 0)
		cr_skip_test("BPF needs root");
	fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "cb_flows", sizeof(struct cb_flow_key),
			    sizeof(struct cb_flow), 20000, &mo);
	cr_assert_geq(fd, 0);
	cr_expect_eq(cb_flows_count_fd(fd, by, CB_FLOW_STATE_MAX), 0, "an empty table");
	for (i = 0; i < n; i++) {
		struct cb_flow_key key = { .saddr.w = { 0, 0, 0xffff0000u, i }, .sport_be = (uint16_t)i };
		struct cb_flow f = { .state = 1 + i % (CB_FLOW_STATE_MAX - 1), .client_isn = i };

		cr_assert_eq(bpf_map_update_elem(fd, &key, &f, BPF_NOEXIST), 0);
	}
	more = bpf_map_get_next_key(fd, NULL, &k) == 0;
	while (more) {
		struct cb_flow f;

		more = bpf_map_get_next_key(fd, &k, &next) == 0;
		cr_assert_eq(bpf_map_lookup_elem(fd, &k, &f), 0);
		walk[f.state]++;
		k = next;
	}
	cr_expect_eq(cb_flows_count_fd(fd, NULL, 0), n, "the total alone");
	cr_assert_eq(cb_flows_count_fd(fd, by, CB_FLOW_STATE_MAX), n);
	for (i = 0; i < CB_FLOW_STATE_MAX; i++)
		cr_expect_eq(by[i], walk[i], "state %u: %lu counted, %lu walked", i, by[i], walk[i]);
	t.fd = fd;
	cr_assert_eq(cb_flows_count(&t, by, CB_FLOW_STATE_MAX), 0);
	cr_expect_eq(by[1], walk[1]);
	close(fd);
}
