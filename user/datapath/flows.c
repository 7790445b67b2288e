// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cb_ctl.skel.h"
#include "datapath/flows.h"
#include "datapath/pins.h"

int cb_flows_open(struct cb_flows *t, const char *ifname)
{
	int err;

	t->prog = NULL;
	t->fd = cb_pin_open_map(ifname, "cb_flows");
	if (t->fd < 0)
		return t->fd;
	/* the program's maps are the interface's pins, not fresh ones */
	t->prog = cb_ctl__open();
	if (!t->prog) {
		err = -errno;
		goto fail;
	}
	if ((err = cb_pin_maps(t->prog->obj, ifname)) || (err = cb_ctl__load(t->prog)))
		goto fail;
	return 0;
fail:
	cb_flows_close(t);
	return err ? err : -EINVAL;
}

void cb_flows_close(struct cb_flows *t)
{
	cb_ctl__destroy(t->prog);
	t->prog = NULL;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

int cb_flows_lookup(const struct cb_flows *t, const struct cb_flow_key *k, struct cb_flow *out)
{
	return bpf_map_lookup_elem(t->fd, k, out) ? -errno : 0;
}

int cb_flows_insert(const struct cb_flows *t, const struct cb_flow_key *k, const struct cb_flow *f)
{
	return bpf_map_update_elem(t->fd, k, f, BPF_NOEXIST) ? -errno : 0;
}

/* Run one of the state programs on req; the result as -errno. */
static int run_req(const struct bpf_program *prog, struct cb_state_req *req, uint32_t *old)
{
	/* a syscall program's context is copied back into ctx_in */
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = req, .ctx_size_in = sizeof(*req));

	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &o))
		return -errno;
	if (old)
		*old = req->old_state;
	return cb_state_errno(req->result);
}

int cb_flows_cas(const struct cb_flows *t, const struct cb_flow_key *k, uint32_t expect,
		 uint32_t state, uint32_t *old, struct cb_state_req *out)
{
	struct cb_state_req req = { .key = *k, .expect = expect, .state = state };
	int err = run_req(t->prog->progs.cb_flow_cas, &req, old);

	if (out)
		*out = req;
	return err;
}

int cb_flows_batch(const struct cb_flows *t, struct cb_flow_batch *b)
{
	/* copied back into ctx_in, as in run_req() */
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = b, .ctx_size_in = sizeof(*b));

	if (b->n > CB_FLOW_BATCH)
		return -EINVAL;
	if (!b->n)
		return 0;
	return bpf_prog_test_run_opts(bpf_program__fd(t->prog->progs.cb_flow_batch), &o) ? -errno
											   : 0;
}

int cb_flows_delete_if(const struct cb_flows *t, const struct cb_flow_key *k, uint32_t expect,
		       uint32_t client_isn, uint32_t *old)
{
	struct cb_state_req req = { .key = *k, .expect = expect, .client_isn = client_isn };

	return run_req(t->prog->progs.cb_flow_cad, &req, old);
}

int cb_flows_foreach(const struct cb_flows *t, cb_flow_fn fn, void *arg)
{
	struct cb_flow_key k, next;
	struct cb_flow f;
	int more, ret;

	more = bpf_map_get_next_key(t->fd, NULL, &k) == 0;
	while (more) {
		/* the next key first: fn may remove this entry */
		more = bpf_map_get_next_key(t->fd, &k, &next) == 0;
		if (bpf_map_lookup_elem(t->fd, &k, &f) == 0 && (ret = fn(&k, &f, arg)))
			return ret;
		k = next;
	}
	return 0;
}

struct count {
	unsigned long *by_state;
	unsigned int n;
};

static int count_one(const struct cb_flow_key *k, const struct cb_flow *f, void *arg)
{
	struct count *c = arg;

	(void)k;
	if (f->state < c->n)
		c->by_state[f->state]++;
	return 0;
}

/* Entries read per batch: one syscall for this many (336 KiB of buffers). */
#define COUNT_BATCH 4096

long cb_flows_count_fd(int fd, unsigned long *by_state, unsigned int n)
{
	struct cb_flow_key *keys = malloc(COUNT_BATCH * sizeof(*keys));
	struct cb_flow *vals = malloc(COUNT_BATCH * sizeof(*vals));
	uint32_t in = 0, out = 0;
	long total = 0;
	int err = 0, first = 1;

	if (by_state)
		memset(by_state, 0, n * sizeof(*by_state));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		uint32_t cnt = COUNT_BATCH, i;

		err = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &cnt, NULL);
		if (err && err != -ENOENT)
			break;
		total += cnt;
		for (i = 0; by_state && i < cnt; i++)
			if (vals[i].state < n)
				by_state[vals[i].state]++;
		if (err == -ENOENT) {
			err = 0;        /* that was the last batch */
			break;
		}
		in = out;
		first = 0;
	}
out:
	free(keys);
	free(vals);
	return err ? err : total;
}

int cb_flows_count(const struct cb_flows *t, unsigned long *by_state, unsigned int n)
{
	struct count c = { .by_state = by_state, .n = n };
	long r = cb_flows_count_fd(t->fd, by_state, n);

	if (r >= 0)
		return 0;
	if (r != -EINVAL && r != -ENOTSUP && r != -EOPNOTSUPP)
		return (int)r;
	/* a kernel without batch lookups: one entry at a time */
	memset(by_state, 0, n * sizeof(*by_state));
	return cb_flows_foreach(t, count_one, &c);
}
