// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include "datapath/pins.h"
#include "datapath/steer.h"

int cb_steer_open(struct cb_steer *s, const char *ifname)
{
	s->peers_fd = cb_pin_open_map(ifname, "cb_peers");
	s->remote_fd = cb_pin_open_map(ifname, "cb_remote");
	s->cfg_fd = cb_pin_open_map(ifname, "cb_config");
	if (s->peers_fd < 0 || s->remote_fd < 0 || s->cfg_fd < 0) {
		int err = s->peers_fd < 0 ? s->peers_fd : s->remote_fd < 0 ? s->remote_fd
									: s->cfg_fd;

		cb_steer_close(s);
		return err;
	}
	return 0;
}

void cb_steer_close(struct cb_steer *s)
{
	if (s->peers_fd >= 0)
		close(s->peers_fd);
	if (s->remote_fd >= 0)
		close(s->remote_fd);
	if (s->cfg_fd >= 0)
		close(s->cfg_fd);
	s->peers_fd = s->remote_fd = s->cfg_fd = -1;
}

int cb_steer_own_mac(const struct cb_steer *s, uint8_t mac[6])
{
	struct cb_config c;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(s->cfg_fd, &zero, &c))
		return -errno;
	memcpy(mac, c.own_mac, 6);
	return 0;
}

int cb_if_hwaddr(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int fd, err = 0;

	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -ENAMETOOLONG;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, ifname);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

uint64_t cb_steer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int cb_peer_get(const struct cb_steer *s, uint32_t id, struct cb_peer *out)
{
	if (id >= CB_MAX_PEERS)
		return -EINVAL;
	return bpf_map_lookup_elem(s->peers_fd, &id, out) ? -errno : 0;
}

int cb_peer_set(const struct cb_steer *s, uint32_t id, const uint8_t mac[6], uint32_t ip_be,
		int up)
{
	struct cb_peer cur, p;
	int err = cb_peer_get(s, id, &cur);

	if (err)
		return err;
	if (cur.up && memcmp(cur.mac, mac, 6))
		return -EBUSY;
	memset(&p, 0, sizeof(p));
	memcpy(p.mac, mac, 6);
	p.up = up ? 1 : 0;
	p.ip_be = ip_be;
	return bpf_map_update_elem(s->peers_fd, &id, &p, BPF_ANY) ? -errno : 0;
}

int cb_peer_set_up(const struct cb_steer *s, uint32_t id, int up)
{
	struct cb_peer p;
	int err = cb_peer_get(s, id, &p);

	if (err)
		return err;
	p.up = up ? 1 : 0;
	return bpf_map_update_elem(s->peers_fd, &id, &p, BPF_ANY) ? -errno : 0;
}

int cb_remote_add(const struct cb_steer *s, const struct cb_flow_key *k, uint32_t peer,
		  uint32_t epoch, uint32_t last_ack)
{
	struct cb_remote r;

	if (peer >= CB_MAX_PEERS)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.peer = peer;
	r.epoch = epoch;
	r.last_ack = last_ack;
	r.created_ns = r.last_ns = cb_steer_now_ns();
	if (bpf_map_update_elem(s->remote_fd, k, &r, BPF_NOEXIST))
		/* a full hash map says E2BIG */
		return errno == E2BIG ? -ENOSPC : -errno;
	return 0;
}

int cb_remote_lookup(const struct cb_steer *s, const struct cb_flow_key *k,
		     struct cb_remote *out)
{
	return bpf_map_lookup_elem(s->remote_fd, k, out) ? -errno : 0;
}

int cb_remote_remove(const struct cb_steer *s, const struct cb_flow_key *k, uint32_t epoch)
{
	struct cb_remote r;
	int err = cb_remote_lookup(s, k, &r);

	if (err)
		return err;
	if (r.epoch != epoch)
		return -EAGAIN;
	return bpf_map_delete_elem(s->remote_fd, k) ? -errno : 0;
}

int cb_remote_move(const struct cb_steer *s, const struct cb_flow_key *k, uint32_t old_peer,
		   uint32_t old_epoch, uint32_t peer, uint32_t epoch)
{
	struct cb_remote r;
	int err = cb_remote_lookup(s, k, &r);

	if (peer >= CB_MAX_PEERS)
		return -EINVAL;
	if (err)
		return err;
	if (r.peer != old_peer || r.epoch != old_epoch)
		return -EAGAIN;
	r.peer = peer;
	r.epoch = epoch;
	r.created_ns = r.last_ns = cb_steer_now_ns();
	/* replaced whole (the program holds no lock; a segment in flight
	 * goes to either node: the old one drops it, MOVING) */
	return bpf_map_update_elem(s->remote_fd, k, &r, BPF_EXIST) ? -errno : 0;
}

#define BATCH 256

/* One key at a time, for kernels without batch lookups on hash maps. */
static int foreach_slow(const struct cb_steer *s, cb_remote_fn fn, void *arg)
{
	struct cb_flow_key k, next;
	struct cb_remote r;
	int more = bpf_map_get_next_key(s->remote_fd, NULL, &k) == 0, ret;

	while (more) {
		/* the next key first: fn may remove this one */
		more = bpf_map_get_next_key(s->remote_fd, &k, &next) == 0;
		if (bpf_map_lookup_elem(s->remote_fd, &k, &r) == 0 && (ret = fn(&k, &r, arg)))
			return ret;
		k = next;
	}
	return 0;
}

int cb_remote_foreach(const struct cb_steer *s, cb_remote_fn fn, void *arg)
{
	struct cb_flow_key keys[BATCH];
	struct cb_remote vals[BATCH];
	uint32_t token = 0, i, n;
	int first = 1, err, ret;

	for (;;) {
		n = BATCH;
		/* a batch is whole hash buckets: removing entries of a batch
		 * already read does not move the position */
		err = bpf_map_lookup_batch(s->remote_fd, first ? NULL : &token, &token, keys, vals,
					   &n, NULL);
		if (err && errno != ENOENT) {
			if (first && (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP))
				return foreach_slow(s, fn, arg);
			return -errno;
		}
		for (i = 0; i < n; i++)
			if ((ret = fn(&keys[i], &vals[i], arg)))
				return ret;
		if (err)                /* ENOENT: that was the last batch */
			return 0;
		first = 0;
	}
}

struct stats_walk {
	uint64_t before;
	struct cb_remote_stats *st;
};

static int count_one(const struct cb_flow_key *k, const struct cb_remote *r, void *arg)
{
	struct stats_walk *w = arg;

	w->st->total++;
	if (r->closing_ns) {
		w->st->closing++;
		if (r->closing_ns < w->before)
			w->st->closing_before++;
	}
	if (r->peer < CB_MAX_PEERS)
		w->st->by_peer[r->peer]++;
	return 0;
}

int cb_remote_stats(const struct cb_steer *s, uint64_t closing_before_ns,
		    struct cb_remote_stats *st)
{
	struct stats_walk w = { .before = closing_before_ns, .st = st };

	memset(st, 0, sizeof(*st));
	return cb_remote_foreach(s, count_one, &w);
}
