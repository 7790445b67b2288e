// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The controller's heartbeat: see beat.h. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "datapath/beat.h"
#include "datapath/pins.h"

uint64_t cb_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int cb_beat_write(int map_fd, uint32_t pid)
{
	struct cb_ctl_beat b = { .seen_ns = cb_mono_ns(), .pid = pid };
	uint32_t zero = 0;

	return bpf_map_update_elem(map_fd, &zero, &b, BPF_ANY) ? -errno : 0;
}

int cb_beat_read(const char *ifname, struct cb_ctl_beat *b)
{
	return cb_pin_read_first(ifname, "cb_controller", b);
}

uint32_t cb_beat_map_id(int fd, const char *ifname)
{
	struct bpf_map_info mi;
	uint32_t len = sizeof(mi);
	int own = fd < 0, err;

	if (own && (fd = cb_pin_open_map(ifname, "cb_controller")) < 0)
		return 0;
	memset(&mi, 0, sizeof(mi));
	err = bpf_obj_get_info_by_fd(fd, &mi, &len);
	if (own)
		close(fd);
	return err ? 0 : mi.id;
}
