/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The versions of the libbpf and libxdp this process runs with.  libbpf
 * tells its major.minor (libbpf_major_version()); libxdp has no such call,
 * so both come from the files the dynamic loader mapped (libxdp.so.1.3.1:
 * the library's own version), the file's x.y.z kept only where it agrees
 * with what libbpf says of itself.
 */
#ifndef CB_LIBVER_H
#define CB_LIBVER_H

#include <limits.h>

struct cb_libver {
	char libbpf[32];                /* "1.1.2", or "1.1" */
	char libxdp[32];                /* "1.3.1", or "unknown" (linked statically) */
	char libbpf_path[PATH_MAX];     /* the mapped files, "" when none */
	char libxdp_path[PATH_MAX];
};

void cb_libver_get(struct cb_libver *v);

#endif
