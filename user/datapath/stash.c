// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <unistd.h>
#include <sys/mman.h>
#include "datapath/pins.h"
#include "datapath/stash.h"

int cb_stash_map(const char *ifname, struct cb_stash_slot **out, size_t *size)
{
	int fd = cb_pin_open_map(ifname, "cb_stash");
	void *p;

	if (fd < 0)
		return fd;
	*size = sizeof(struct cb_stash_slot) * CB_STASH_SLOTS;
	p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

void cb_stash_unmap(struct cb_stash_slot *s, size_t size)
{
	if (s)
		munmap(s, size);
}
