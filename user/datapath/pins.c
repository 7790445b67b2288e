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

int cb_pin_path(char *buf, size_t len, const char *ifname, const char *name)
{
	int n = name ? snprintf(buf, len, "%s/%s/%s", CB_PIN_ROOT, ifname, name)
		     : snprintf(buf, len, "%s/%s", CB_PIN_ROOT, ifname);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
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
		err = -errno;
	rmdir(CB_PIN_ROOT);     /* only succeeds once no interface is left */
	return err;
}
