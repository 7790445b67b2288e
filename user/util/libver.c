// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "util/libver.h"

struct lib_file {
	const char *prefix;             /* "libbpf.so" */
	char *path;                     /* PATH_MAX bytes, "" until found */
};

static int on_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct lib_file *l;
	const char *base;

	(void)size;
	if (!info->dlpi_name || !info->dlpi_name[0])
		return 0;
	base = strrchr(info->dlpi_name, '/');
	base = base ? base + 1 : info->dlpi_name;
	for (l = arg; l->prefix; l++)
		if (!l->path[0] && !strncmp(base, l->prefix, strlen(l->prefix)) &&
		    !realpath(info->dlpi_name, l->path))
			snprintf(l->path, PATH_MAX, "%s", info->dlpi_name);
	return 0;
}

/* "1.3.1" of ".../libxdp.so.1.3.1"; "" when the name carries no x.y */
static const char *file_version(const char *path)
{
	const char *v = strstr(path, ".so.");

	return v && strchr(v + 4, '.') ? v + 4 : "";
}

void cb_libver_get(struct cb_libver *v)
{
	struct lib_file libs[] = { { "libbpf.so", v->libbpf_path }, { "libxdp.so", v->libxdp_path },
				   { NULL, NULL } };
	char api[32];
	const char *bpf, *xdp;
	size_t al;

	v->libbpf_path[0] = v->libxdp_path[0] = 0;
	dl_iterate_phdr(on_object, libs);
	snprintf(api, sizeof(api), "%u.%u", libbpf_major_version(), libbpf_minor_version());
	al = strlen(api);
	bpf = file_version(v->libbpf_path);
	if (strncmp(bpf, api, al) || (bpf[al] && bpf[al] != '.'))
		bpf = api;
	xdp = file_version(v->libxdp_path);
	snprintf(v->libbpf, sizeof(v->libbpf), "%s", bpf);
	snprintf(v->libxdp, sizeof(v->libxdp), "%s", xdp[0] ? xdp : "unknown");
}
