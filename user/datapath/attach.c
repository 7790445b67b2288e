// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Order of attach (each step undone if a later one fails):
 *   1. bpffs mounted, pin directory created
 *   2. TC object loaded: it creates and pins every map
 *   3. config (with the interface's MAC), secrets and services written into
 *      the maps; cb_peers starts all zero (every peer down), cb_remote empty
 *   4. TC egress RST guard attached
 *   5. the ingress program attached last (XDP through libxdp, or TC), so it
 *      never runs against empty configuration
 *   6. the attach record written (cb_attach map) for status and detach
 */
#include <errno.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>
#include "cb_tc.skel.h"
#include "cb_xdp.skel.h"
#include "datapath/attach.h"
#include "datapath/beat.h"
#include "util/log.h"
#include "datapath/pins.h"
#include "datapath/steer.h"
#include "util/parse_util.h"

void cb_config_defaults(struct cb_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->flow_byte_cap = 65536;
	cfg->rst_rate = CB_RST_RATE_DEFAULT;
	cfg->mss = 1460;
	cfg->wscale = 7;
	cfg->flags = CB_CFG_VERIFY_CSUM;
	cfg->no_ctl_ms = CB_NO_CTL_MS_DEFAULT;
}

/* The last number of a /proc/sys file ("4096 131072 33554432" -> 33554432). */
static long sysctl_last(const char *path)
{
	long v = -1, x;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%ld", &x) == 1)
		v = x;
	fclose(f);
	return v;
}

void cb_config_like_kernel(struct cb_config *cfg, const char *ifname)
{
	long rmem = sysctl_last("/proc/sys/net/ipv4/tcp_rmem");
	long rmax = sysctl_last("/proc/sys/net/core/rmem_max");
	struct ifreq ifr = { 0 };
	long mtu = -1;
	int ws, fd;

	/* SIOCGIFMTU sees this namespace's interface; /sys/class/net shows the
	 * namespace that mounted sysfs (not ours under nsenter --net) */
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && !ioctl(fd, SIOCGIFMTU, &ifr))
		mtu = ifr.ifr_mtu;
	if (fd >= 0)
		close(fd);
	if (mtu >= 576 && mtu - 40 <= 9000)
		cfg->mss = (uint16_t)(mtu - 40);
	if (rmax > rmem)
		rmem = rmax;
	if (rmem > 0) {
		/* tcp_select_initial_window(): ilog2(space) - 15, clamped to 0..14 */
		for (ws = 0; (1l << (ws + 1)) <= rmem; ws++)
			;
		ws -= 15;
		cfg->wscale = (uint8_t)(ws < 0 ? 0 : ws > 14 ? 14 : ws);
	}
}

int cb_services_replace(int fd, const struct cb_service_key *svcs, size_t n)
{
	struct cb_service_key k, next;
	struct cb_service v;
	size_t i;
	int err;

	/* delete what is not in the new set, then upsert the new set */
	if (bpf_map_get_next_key(fd, NULL, &k) == 0) {
		for (;;) {
			int more = bpf_map_get_next_key(fd, &k, &next) == 0;
			int keep = 0;

			for (i = 0; i < n; i++)
				keep |= !memcmp(&svcs[i], &k, sizeof(k));
			if (!keep)
				bpf_map_delete_elem(fd, &k);
			if (!more)
				break;
			k = next;
		}
	}
	for (i = 0; i < n; i++) {
		memset(&v, 0, sizeof(v));
		v.id = (uint32_t)i;
		if (bpf_map_update_elem(fd, &svcs[i], &v, BPF_ANY)) {
			err = -errno;
			return err;
		}
	}
	return 0;
}

static int random_key(uint32_t key[2])
{
	if (getrandom(key, sizeof(uint32_t) * 2, 0) != sizeof(uint32_t) * 2)
		return -errno;
	return 0;
}

int cb_secret_rotate(int fd)
{
	struct cb_secrets s;
	uint32_t zero = 0, next;
	int err;

	if (bpf_map_lookup_elem(fd, &zero, &s))
		return -errno;
	next = (s.current + 1) & 1;
	err = random_key(s.key[next]);
	if (err)
		return err;
	s.current = next;
	if (bpf_map_update_elem(fd, &zero, &s, BPF_ANY))
		return -errno;
	return 0;
}

static int secrets_init(int fd)
{
	struct cb_secrets s;
	uint32_t zero = 0;
	int err;

	memset(&s, 0, sizeof(s));
	if ((err = random_key(s.key[0])) || (err = random_key(s.key[1])))
		return err;
	if (bpf_map_update_elem(fd, &zero, &s, BPF_ANY))
		return -errno;
	return 0;
}

int cb_attach_info_read(const char *ifname, struct cb_attach_info *info)
{
	return cb_pin_read_first(ifname, "cb_attach", info);
}

static int xdp_find(int ifindex, uint32_t id, struct xdp_multiprog **mpp, struct xdp_program **pp)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p;

	if (libxdp_get_error(mp))
		return -ENOENT;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && xdp_program__id(p) == id)
			goto found;
	}
	for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp))
		if (xdp_program__id(p) == id)
			goto found;
	xdp_multiprog__close(mp);
	return -ENOENT;
found:
	*mpp = mp;
	*pp = p;
	return 0;
}

static int tc_query(int ifindex, enum bpf_tc_attach_point where, uint32_t *id)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = CB_TC_HANDLE, .priority = CB_TC_PRIO);
	int err = bpf_tc_query(&hook, &o);

	if (err)
		return err;
	*id = o.prog_id;
	return 0;
}

int cb_attachment_live(const struct cb_attach_info *info)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	uint32_t id;

	if (tc_query(info->ifindex, BPF_TC_EGRESS, &id) || id != info->tc_egress_id)
		return 0;
	if (info->mode == CB_MODE_TC)
		return tc_query(info->ifindex, BPF_TC_INGRESS, &id) == 0 &&
		       id == info->tc_ingress_id;
	if (xdp_find(info->ifindex, info->xdp_prog_id, &mp, &p))
		return 0;
	xdp_multiprog__close(mp);
	return 1;
}

int cb_attach_check(const char *ifname)
{
	struct cb_attach_info info;
	unsigned int ifindex = if_nametoindex(ifname);

	if (cb_attach_info_read(ifname, &info))
		return -ENOLINK;
	if (!ifindex || ifindex != info.ifindex)
		return -ENODEV;
	return cb_attachment_live(&info) ? 0 : -ENOLINK;
}

int cb_services_read(const char *ifname, struct cb_service_key *out, size_t max)
{
	struct cb_service_key k, next;
	int fd = cb_pin_open_map(ifname, "cb_services"), more;
	size_t n = 0;

	if (fd < 0)
		return fd;
	more = bpf_map_get_next_key(fd, NULL, &k) == 0;
	while (more && n < max) {
		out[n++] = k;
		more = bpf_map_get_next_key(fd, &k, &next) == 0;
		k = next;
	}
	close(fd);
	return (int)n;
}

static int tc_attach(int ifindex, enum bpf_tc_attach_point where, int prog_fd, uint32_t *id,
		     int *created)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = CB_TC_HANDLE, .priority = CB_TC_PRIO,
			    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return err;
	if (!err && created)
		*created = 1;
	hook.attach_point = where;
	err = bpf_tc_attach(&hook, &o);
	if (err)
		return err;
	*id = o.prog_id;
	return 0;
}

/* Detach our filter at (handle, prio) only if it still runs the program we put there. */
static void tc_detach(int ifindex, enum bpf_tc_attach_point where, uint32_t id)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = CB_TC_HANDLE, .priority = CB_TC_PRIO);
	uint32_t cur;

	if (!id || tc_query(ifindex, where, &cur) || cur != id)
		return;
	bpf_tc_detach(&hook, &o);
}

static void clsact_destroy(int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

	bpf_tc_hook_destroy(&hook);
}

static void xdp_detach_id(int ifindex, uint32_t id)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;

	if (!id || xdp_find(ifindex, id, &mp, &p))
		return;
	xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp), 0);
	xdp_multiprog__close(mp);
}

/* The message for a failed XDP attach: a hint where we know one. */
static const char *xdp_attach_hint(int err, uint32_t mode)
{
	if (err == -EOPNOTSUPP && mode == CB_MODE_NATIVE)
		return "not supported by the driver; try --mode skb";
	if (err == -EEXIST || err == -EBUSY)
		return "another XDP program is attached without libxdp's dispatcher"
		       " (this kernel may refuse the freplace programs the dispatcher"
		       " needs); --mode tc runs beside it";
	return strerror(-err);
}

static int attach_ingress_xdp(const struct cb_attach_opts *o, int ifindex,
			      struct cb_xdp **xskel_out, struct cb_attach_info *info)
{
	struct cb_xdp *xskel = cb_xdp__open();
	struct xdp_program *xp;
	int err;

	if (!xskel)
		return -errno;
	*xskel_out = xskel;
	err = cb_pin_maps(xskel->obj, o->ifname);
	if (err)
		return err;
	{
		DECLARE_LIBXDP_OPTS(xdp_program_opts, xo, .obj = xskel->obj, .prog_name = "cb_xdp");

		xp = xdp_program__create(&xo);
	}
	err = libxdp_get_error(xp);
	if (err) {
		cb_err("attach %s: load XDP program: %s", o->ifname, strerror(-err));
		return err;
	}
	err = xdp_program__attach(xp, ifindex,
				  o->mode == CB_MODE_NATIVE ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0);
	if (err) {
		cb_err("attach %s: XDP %s: %s", o->ifname, cb_mode_name(o->mode),
		       xdp_attach_hint(err, o->mode));
		xdp_program__close(xp);
		return err;
	}
	info->xdp_prog_id = xdp_program__id(xp);
	xdp_program__close(xp);
	return 0;
}

/*
 * The config as written to the map: the caller's, with the interface's own
 * MAC (h_source of frames steered to peers).  An interface without one
 * (loopback, tun) leaves it zero: the programs then keep the frame's h_dest.
 */
static struct cb_config config_of(const struct cb_attach_opts *o)
{
	struct cb_config cfg = o->cfg;
	uint8_t mac[6];

	if (cb_if_hwaddr(o->ifname, mac) == 0)
		memcpy(cfg.own_mac, mac, sizeof(mac));
	else
		cb_debug("%s: no hardware address; steered frames keep their h_dest as source",
			 o->ifname);
	return cfg;
}

/*
 * workers > 1: worker i's ring at cb_rings[i], cb_events at 0 (its pin is
 * worker 0's), the others made here, each of cb_events' size.  They live
 * as long as the pinned cb_rings holds them: a restarted controller finds
 * them and the records in them.
 */
static int make_rings(struct cb_tc *tskel, uint32_t workers)
{
	int outer = bpf_map__fd(tskel->maps.cb_rings), fd, err = 0;
	uint32_t i;

	for (i = 0; i < workers && !err; i++) {
		fd = i ? bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, CB_RING_BYTES, NULL)
		       : bpf_map__fd(tskel->maps.cb_events);
		if (fd < 0)
			return -errno;
		if (bpf_map_update_elem(outer, &i, &fd, BPF_ANY))
			err = -errno;
		if (i)
			close(fd);
	}
	return err;
}

static int write_maps(struct cb_tc *tskel, const struct cb_attach_opts *o, int fresh)
{
	struct cb_config cfg = config_of(o);
	uint32_t zero = 0;
	int err;

	if (fresh && cfg.workers > 1 && (err = make_rings(tskel, cfg.workers)))
		return err;

	if (bpf_map_update_elem(bpf_map__fd(tskel->maps.cb_config), &zero, &cfg, BPF_ANY))
		return -errno;
	/* Re-attaching keeps the secrets, so cookies in flight stay valid. */
	if (fresh && (err = secrets_init(bpf_map__fd(tskel->maps.cb_secrets))))
		return err;
	/* the first beat: a controller started now has no_ctl_ms to come */
	if (fresh && (err = cb_beat_write(bpf_map__fd(tskel->maps.cb_controller), 0)))
		return err;
	return cb_services_replace(bpf_map__fd(tskel->maps.cb_services), o->services,
				   o->n_services);
}

uint32_t cb_build_id(void)
{
	const uint8_t *obj[2];
	size_t len[2], i, k;
	uint32_t h = 2166136261u;       /* FNV-1a */

	obj[0] = cb_xdp__elf_bytes(&len[0]);
	obj[1] = cb_tc__elf_bytes(&len[1]);
	for (k = 0; k < 2; k++)
		for (i = 0; i < len[k]; i++)
			h = (h ^ obj[k][i]) * 16777619u;
	return h ? h : 1;               /* 0 is an older loader's record */
}

/* The id of a loaded program, 0 when it cannot be read. */
static uint32_t prog_id_of(int fd)
{
	struct bpf_prog_info pi;
	uint32_t len = sizeof(pi);

	memset(&pi, 0, sizeof(pi));
	return bpf_obj_get_info_by_fd(fd, &pi, &len) ? 0 : pi.id;
}

/*
 * Swap the XDP program old_id for new_fd in one step (XDP_FLAGS_REPLACE:
 * the kernel refuses if old_id is not the one attached).  Under libxdp's
 * dispatcher (not on kernels that refuse freplace) there is no such step.
 */
static int xdp_replace(const char *ifname, int ifindex, uint32_t mode, uint32_t old_id, int new_fd)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	int old_fd, err, legacy;

	if ((err = xdp_find(ifindex, old_id, &mp, &p))) {
		cb_err("attach %s: the attached XDP program %u is gone", ifname, old_id);
		return err;
	}
	legacy = xdp_multiprog__is_legacy(mp);
	xdp_multiprog__close(mp);
	if (!legacy) {
		cb_err("attach %s: connbroker runs under libxdp's dispatcher, which has no atomic "
		       "replace; detach and attach (held flows are dropped)", ifname);
		return -EOPNOTSUPP;
	}
	old_fd = bpf_prog_get_fd_by_id(old_id);
	if (old_fd < 0)
		return -errno;
	{
		LIBBPF_OPTS(bpf_xdp_attach_opts, xo, .old_prog_fd = old_fd);
		uint32_t flags = XDP_FLAGS_REPLACE |
				 (mode == CB_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);

		err = bpf_xdp_attach(ifindex, new_fd, flags, &xo) ? -errno : 0;
	}
	close(old_fd);
	if (err)
		cb_err("attach %s: replace XDP program %u: %s", ifname, old_id, strerror(-err));
	return err;
}

/*
 * Load this build's programs against the pinned maps and swap them in for
 * the running ones (info: the live attachment; updated and written back).
 * A map this build would shape differently fails the load (libbpf checks
 * type, sizes and flags of every pin it reuses): nothing is swapped then.
 */
static int attach_replace(const struct cb_attach_opts *o, struct cb_attach_info *info)
{
	struct cb_tc *tskel = cb_tc__open();
	struct cb_xdp *xskel = NULL;
	struct cb_attach_info next = *info;
	uint32_t zero = 0;
	int ifindex = (int)info->ifindex, err;

	err = tskel ? cb_pin_maps(tskel->obj, o->ifname) : -errno;
	if (!err && o->mode != CB_MODE_TC)
		bpf_program__set_autoload(tskel->progs.cb_tc_ingress, false);
	if (!err)
		err = cb_tc__load(tskel);
	if (!err && o->mode != CB_MODE_TC) {
		xskel = cb_xdp__open();
		err = xskel ? cb_pin_maps(xskel->obj, o->ifname) : -errno;
		if (!err)
			err = cb_xdp__load(xskel);
	}
	if (err) {
		cb_err("attach %s: load this build's programs against the pinned maps: %s (a map "
		       "this build shapes differently?); the running programs are kept", o->ifname,
		       strerror(-err));
		goto out;
	}
	/* ingress first: what it passes to the kernel, egress then guards */
	if (o->mode == CB_MODE_TC) {
		err = tc_attach(ifindex, BPF_TC_INGRESS, bpf_program__fd(tskel->progs.cb_tc_ingress),
				&next.tc_ingress_id, NULL);
		if (err)
			cb_err("attach %s: replace TC ingress: %s", o->ifname, strerror(-err));
	} else {
		err = xdp_replace(o->ifname, ifindex, o->mode, info->xdp_prog_id,
				  bpf_program__fd(xskel->progs.cb_xdp));
		next.xdp_prog_id = prog_id_of(bpf_program__fd(xskel->progs.cb_xdp));
	}
	if (err)
		goto out;
	err = tc_attach(ifindex, BPF_TC_EGRESS, bpf_program__fd(tskel->progs.cb_tc_egress),
			&next.tc_egress_id, NULL);
	if (err)
		cb_err("attach %s: replace TC egress (ingress is replaced; attach again): %s",
		       o->ifname, strerror(-err));
	else
		next.build = cb_build_id();
	/* what runs now, even half-way: detach must find it */
	if (bpf_map_update_elem(bpf_map__fd(tskel->maps.cb_attach), &zero, &next, BPF_ANY) && !err)
		err = -errno;
	if (!err)
		cb_info("%s: programs replaced in place (mode %s: %s %u -> %u, tc egress %u -> %u); "
			"maps and flows kept", o->ifname, cb_mode_name(o->mode),
			o->mode == CB_MODE_TC ? "tc ingress" : "xdp",
			o->mode == CB_MODE_TC ? info->tc_ingress_id : info->xdp_prog_id,
			o->mode == CB_MODE_TC ? next.tc_ingress_id : next.xdp_prog_id,
			info->tc_egress_id, next.tc_egress_id);
	*info = next;
out:
	cb_xdp__destroy(xskel);
	cb_tc__destroy(tskel);
	return err;
}

/* Attach over an existing, live attachment in the same mode: update config and
 * services only (secrets, peers and steered flows are kept). */
/* A live attachment keeps its workers: their rings are made at a fresh
 * attach only, and every held flow's records go to its worker's. */
static void keep_workers(const char *ifname, int cfg_fd, struct cb_config *cfg)
{
	struct cb_config live;
	uint32_t zero = 0, want = cfg->workers;

	if (bpf_map_lookup_elem(cfg_fd, &zero, &live))
		return;
	cfg->workers = live.workers;
	if (want && (want > 1 ? want : 0) != (live.workers > 1 ? live.workers : 0))
		cb_warn("%s: workers = %u applies at a fresh attach; the live attachment keeps "
			"its %u (detach and attach to change it: held flows are dropped)", ifname,
			want, live.workers ? live.workers : 1);
}

static int attach_update(const struct cb_attach_opts *o, const struct cb_attach_info *info)
{
	struct cb_config cfg;
	uint32_t zero = 0;
	int fd, err = 0;

	if (info->mode != o->mode) {
		cb_err("attach %s: already attached in mode %s; detach first", o->ifname,
		       cb_mode_name(info->mode));
		return -EBUSY;
	}
	cfg = config_of(o);
	fd = cb_pin_open_map(o->ifname, "cb_config");
	if (fd >= 0)
		keep_workers(o->ifname, fd, &cfg);
	if (fd < 0 || bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY))
		err = fd < 0 ? fd : -errno;
	if (fd >= 0)
		close(fd);
	if (!err) {
		fd = cb_pin_open_map(o->ifname, "cb_services");
		err = fd < 0 ? fd : cb_services_replace(fd, o->services, o->n_services);
		if (fd >= 0)
			close(fd);
	}
	if (err)
		cb_err("attach %s: update maps: %s", o->ifname, strerror(-err));
	else
		cb_info("%s: already attached (mode %s); services and config updated", o->ifname,
			cb_mode_name(info->mode));
	return err;
}

int cb_attach(const struct cb_attach_opts *o)
{
	struct cb_attach_info info, old;
	struct cb_tc *tskel = NULL;
	struct cb_xdp *xskel = NULL;
	char dir[256];
	int ifindex, err, tc_fd;
	uint32_t zero = 0;

	ifindex = (int)if_nametoindex(o->ifname);
	if (!ifindex) {
		cb_err("attach %s: no such interface", o->ifname);
		return -ENODEV;
	}
	if ((err = cb_bpffs_ensure()))
		return err;

	memset(&old, 0, sizeof(old));
	if (cb_attach_info_read(o->ifname, &old) == 0 || cb_pin_dir_exists(o->ifname)) {
		if (old.ifindex == (uint32_t)ifindex && old.abi == CB_ABI && cb_attachment_live(&old)) {
			uint32_t size = cb_pin_flows_size(o->ifname);

			if (o->max_flows && size && o->max_flows != size)
				cb_warn("%s: flows = %u applies at a fresh attach; the live flow table "
					"keeps its %u entries and every flow in it (detach and attach "
					"to resize it: held flows are dropped)", o->ifname,
					o->max_flows, size);
			if (old.mode == o->mode && (old.build != cb_build_id() || o->replace) &&
			    (err = attach_replace(o, &old)))
				return err;
			return attach_update(o, &old);
		}
		if (old.ifindex && old.abi != CB_ABI)
			cb_warn("%s: attached by a build with another map layout (abi %#x, this "
				"build %#x): it cannot be upgraded in place; re-attaching drops "
				"every held and steered flow", o->ifname, old.abi, CB_ABI);
		else
			cb_debug("%s: stale pins from an earlier attach; replacing them", o->ifname);
		cb_detach(o->ifname, NULL);
	}

	memset(&info, 0, sizeof(info));
	info.abi = CB_ABI;
	info.build = cb_build_id();
	info.ifindex = (uint32_t)ifindex;
	info.mode = o->mode;
	info.attached_at = (uint64_t)time(NULL);

	if ((err = cb_pin_dir_create(o->ifname))) {
		cb_pin_path(dir, sizeof(dir), o->ifname, NULL);
		cb_err("attach %s: create %s: %s", o->ifname, dir, strerror(-err));
		return err;
	}

	tskel = cb_tc__open();
	err = tskel ? cb_pin_maps(tskel->obj, o->ifname) : -errno;
	/* the flow table is sized here, once: later loads take the pin's */
	if (!err && o->max_flows)
		err = bpf_map__set_max_entries(tskel->maps.cb_flows, o->max_flows);
	if (!err && o->mode != CB_MODE_TC)
		bpf_program__set_autoload(tskel->progs.cb_tc_ingress, false);
	if (!err)
		err = cb_tc__load(tskel);
	if (err) {
		cb_err("attach %s: load TC programs: %s", o->ifname, strerror(-err));
		goto fail;
	}
	if ((err = write_maps(tskel, o, 1))) {
		cb_err("attach %s: initialise maps: %s", o->ifname, strerror(-err));
		goto fail;
	}

	tc_fd = bpf_program__fd(tskel->progs.cb_tc_egress);
	err = tc_attach(ifindex, BPF_TC_EGRESS, tc_fd, &info.tc_egress_id, (int *)&info.clsact_created);
	if (err) {
		cb_err("attach %s: TC egress: %s", o->ifname, strerror(-err));
		goto fail;
	}
	/* record each step as it lands, so a crash leaves a detachable state */
	bpf_map_update_elem(bpf_map__fd(tskel->maps.cb_attach), &zero, &info, BPF_ANY);

	if (o->mode == CB_MODE_TC) {
		tc_fd = bpf_program__fd(tskel->progs.cb_tc_ingress);
		err = tc_attach(ifindex, BPF_TC_INGRESS, tc_fd, &info.tc_ingress_id, NULL);
		if (err)
			cb_err("attach %s: TC ingress: %s", o->ifname, strerror(-err));
	} else {
		err = attach_ingress_xdp(o, ifindex, &xskel, &info);
	}
	if (err)
		goto fail;

	if (bpf_map_update_elem(bpf_map__fd(tskel->maps.cb_attach), &zero, &info, BPF_ANY)) {
		err = -errno;
		cb_err("attach %s: write attach record: %s", o->ifname, strerror(errno));
		goto fail;
	}
	cb_xdp__destroy(xskel);
	cb_tc__destroy(tskel);
	return 0;

fail:
	xdp_detach_id(ifindex, info.xdp_prog_id);
	tc_detach(ifindex, BPF_TC_INGRESS, info.tc_ingress_id);
	tc_detach(ifindex, BPF_TC_EGRESS, info.tc_egress_id);
	if (info.clsact_created)
		clsact_destroy(ifindex);
	cb_xdp__destroy(xskel);
	cb_tc__destroy(tskel);
	cb_pin_remove_all(o->ifname);
	return err;
}

/* The program's name ("" when it cannot be read). */
static void prog_name(uint32_t id, char *name, size_t len)
{
	struct bpf_prog_info info;
	uint32_t il = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	name[0] = 0;
	if (fd < 0)
		return;
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(fd, &info, &il))
		snprintf(name, len, "%s", info.name);
	close(fd);
}

static int xdp_orphans(const char *ifname, int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p, *next;
	char name[BPF_OBJ_NAME_LEN];
	int n = 0;

	if (libxdp_get_error(mp))
		return 0;
	p = xdp_multiprog__is_legacy(mp) ? xdp_multiprog__main_prog(mp)
					  : xdp_multiprog__next_prog(NULL, mp);
	for (; p; p = next) {
		next = xdp_multiprog__is_legacy(mp) ? NULL : xdp_multiprog__next_prog(p, mp);
		prog_name(xdp_program__id(p), name, sizeof(name));
		if (strcmp(name, "cb_xdp"))
			continue;
		if (!xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp), 0)) {
			cb_info("%s: removed orphaned XDP program %u (cb_xdp)", ifname,
				xdp_program__id(p));
			n++;
		}
	}
	xdp_multiprog__close(mp);
	return n;
}

static int tc_orphan(const char *ifname, int ifindex, enum bpf_tc_attach_point where)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .handle = CB_TC_HANDLE, .priority = CB_TC_PRIO);
	char name[BPF_OBJ_NAME_LEN];
	uint32_t id;

	if (tc_query(ifindex, where, &id))
		return 0;
	prog_name(id, name, sizeof(name));
	if (strncmp(name, "cb_tc_", 6) || bpf_tc_detach(&hook, &o))
		return 0;
	cb_info("%s: removed orphaned tc %s filter (program %u, %s)", ifname,
		where == BPF_TC_INGRESS ? "ingress" : "egress", id, name);
	return 1;
}

int cb_detach_orphans(const char *ifname)
{
	int ifindex = (int)if_nametoindex(ifname);

	if (!ifindex)
		return -ENODEV;
	return xdp_orphans(ifname, ifindex) + tc_orphan(ifname, ifindex, BPF_TC_INGRESS) +
	       tc_orphan(ifname, ifindex, BPF_TC_EGRESS);
}

int cb_detach(const char *ifname, int *was_attached)
{
	struct cb_attach_info info;
	int ifindex = (int)if_nametoindex(ifname);
	int err;

	if (was_attached)
		*was_attached = 0;
	if (!cb_pin_dir_exists(ifname))
		return 0;
	if (was_attached)
		*was_attached = 1;
	if (cb_attach_info_read(ifname, &info) == 0 && ifindex &&
	    info.ifindex == (uint32_t)ifindex) {
		xdp_detach_id(ifindex, info.xdp_prog_id);
		tc_detach(ifindex, BPF_TC_INGRESS, info.tc_ingress_id);
		tc_detach(ifindex, BPF_TC_EGRESS, info.tc_egress_id);
		/* Only a qdisc we created goes, and only once our filters are gone. */
		if (info.clsact_created)
			clsact_destroy(ifindex);
	}
	err = cb_pin_remove_all(ifname);
	if (err)
		cb_err("detach %s: remove pins: %s", ifname, strerror(-err));
	return err;
}
