// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <connbroker/paths.h>
#include "datapath/pins.h"
#include "util/log.h"

int cb_bpffs_ensure(void)
{
	struct statfs st;

	if (statfs(CB_BPFFS, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", CB_BPFFS, "bpf", 0, "mode=0700")) {
		int err = -errno;

		cb_err("mount bpffs at %s: %s", CB_BPFFS, strerror(errno));
		return err;
	}
	cb_debug("mounted bpffs at %s", CB_BPFFS);
	return 0;
}

/* root/[netns/<ino>/] for this namespace, with or without the trailing slash. */
static int ns_base(char *buf, size_t len, const char *root)
{
	char sub[64];
	int err = cb_netns_subdir(sub, sizeof(sub)), n;

	if (err)
		return err;
	n = snprintf(buf, len, "%s/%s", root, sub);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	if (n > 0 && buf[n - 1] == '/')
		buf[n - 1] = 0;
	return 0;
}

int cb_pin_path(char *buf, size_t len, const char *ifname, const char *name)
{
	char base[128];
	int n, err = ns_base(base, sizeof(base), CB_PIN_ROOT);

	if (err)
		return err;
	n = name ? snprintf(buf, len, "%s/%s/%s", base, ifname, name)
		 : snprintf(buf, len, "%s/%s", base, ifname);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* mkdir -p for a path under a root that exists or can be made. */
static int mkdirs(const char *path, mode_t mode)
{
	char p[256], *s;

	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, mode) && errno != EEXIST)
				return -errno;
			*s = '/';
		}
	return mkdir(p, mode) && errno != EEXIST ? -errno : 0;
}

int cb_pin_dir_create(const char *ifname)
{
	char p[256];
	int err = cb_pin_path(p, sizeof(p), ifname, NULL);

	return err ? err : mkdirs(p, 0700);
}

int cb_pin_dir_exists(const char *ifname)
{
	char p[256];
	struct stat st;

	if (cb_pin_path(p, sizeof(p), ifname, NULL))
		return 0;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int cb_pin_open_map(const char *ifname, const char *name)
{
	char p[256];
	int fd, err = cb_pin_path(p, sizeof(p), ifname, name);

	if (err)
		return err;
	fd = bpf_obj_get(p);
	return fd < 0 ? -errno : fd;
}

/* rmdir dir, then its parents up to and including root, while they are empty. */
static void rmdir_up(char *dir, const char *root)
{
	size_t rl = strlen(root);
	char *slash;

	while (strlen(dir) >= rl && !rmdir(dir)) {
		slash = strrchr(dir, '/');
		if (!slash || (size_t)(slash - dir) < rl)
			break;
		*slash = 0;
	}
}

int cb_pin_remove_all(const char *ifname)
{
	char dir[256], p[512];
	struct dirent *de;
	DIR *d;
	int err = cb_pin_path(dir, sizeof(dir), ifname, NULL);

	if (err)
		return err;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (unlink(p) && errno != ENOENT) {
			err = -errno;
			cb_err("unpin %s: %s", p, strerror(errno));
		}
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT)
		return -errno;
	*strrchr(dir, '/') = 0;
	rmdir_up(dir, CB_PIN_ROOT);     /* only empty directories go */
	return err;
}

int cb_pin_list(void (*fn)(const char *ifname, void *arg), void *arg)
{
	char base[128];
	struct dirent *de;
	int n = 0, err = ns_base(base, sizeof(base), CB_PIN_ROOT);
	DIR *d;

	if (err)
		return err;
	d = opendir(base);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		/* CB_NETNS_DIR holds other namespaces' pins: never an interface */
		if (de->d_name[0] == '.' || de->d_type != DT_DIR || !strcmp(de->d_name, CB_NETNS_DIR))
			continue;
		fn(de->d_name, arg);
		n++;
	}
	closedir(d);
	return n;
}

int cb_run_path(char *buf, size_t len, const char *ifname, const char *suffix)
{
	char base[128];
	int n, err = ns_base(base, sizeof(base), CB_RUN_ROOT);

	if (err || (err = mkdirs(base, 0755)))
		return err;
	n = snprintf(buf, len, "%s/%s.%s", base, ifname, suffix);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The entries of the pinned map at path, or 0 when there is none. */
static uint32_t pinned_entries(const char *path)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info), n = 0;
	int fd = bpf_obj_get(path);

	if (fd < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		n = info.max_entries;
	close(fd);
	return n;
}

int cb_pin_maps(struct bpf_object *obj, const char *ifname)
{
	struct bpf_map *map;
	char p[256];
	int err;

	bpf_object__for_each_map(map, obj) {
		uint32_t n;

		if (bpf_map__is_internal(map))
			continue;
		err = cb_pin_path(p, sizeof(p), ifname, bpf_map__name(map));
		if (!err)
			err = bpf_map__set_pin_path(map, p);
		/* the flow table's size is the attachment's ([broker] flows):
		 * an object loaded against it takes the pinned one's */
		if (!err && !strcmp(bpf_map__name(map), "cb_flows") && (n = pinned_entries(p)))
			err = bpf_map__set_max_entries(map, n);
		if (err)
			return err;
	}
	return 0;
}

uint32_t cb_pin_flows_size(const char *ifname)
{
	char p[256];

	return cb_pin_path(p, sizeof(p), ifname, "cb_flows") ? 0 : pinned_entries(p);
}

int cb_pin_read_first(const char *ifname, const char *name, void *value)
{
	uint32_t zero = 0;
	int fd = cb_pin_open_map(ifname, name), err = 0;

	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, value))
		err = -errno;
	close(fd);
	return err;
}

int cb_pin_open_ring(const char *ifname, uint32_t i)
{
	uint32_t id;
	int outer, fd;

	if (!i)
		return cb_pin_open_map(ifname, "cb_events");
	outer = cb_pin_open_map(ifname, "cb_rings");
	if (outer < 0)
		return outer;
	if (bpf_map_lookup_elem(outer, &i, &id))
		fd = -errno;
	else if ((fd = bpf_map_get_fd_by_id(id)) < 0)
		fd = -errno;
	close(outer);
	return fd;
}
