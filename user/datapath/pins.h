/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Where connbroker pins its maps and programs: /sys/fs/bpf/connbroker/<ifname>/ */
#ifndef CB_PINS_H
#define CB_PINS_H

#include <stddef.h>

#define CB_BPFFS "/sys/fs/bpf"
#define CB_PIN_ROOT CB_BPFFS "/connbroker"

/* Mount bpffs at /sys/fs/bpf when it is absent (fresh machines). */
int cb_bpffs_ensure(void);
/* buf = CB_PIN_ROOT/<ifname>[/<name>]; -ENAMETOOLONG instead of truncating. */
int cb_pin_path(char *buf, size_t len, const char *ifname, const char *name);
int cb_pin_dir_exists(const char *ifname);
/* Open a pinned map of ifname by name; fd or negative errno. */
int cb_pin_open_map(const char *ifname, const char *name);
/* Remove every pin under the interface's directory, then the directory. */
int cb_pin_remove_all(const char *ifname);

#endif
