// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "util/log.h"

int cb_verbose;

static void vlog(const char *fmt, va_list ap)
{
	fputs("connbroker: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cb_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void cb_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

void cb_debug(const char *fmt, ...)
{
	va_list ap;

	if (!cb_verbose)
		return;
	va_start(ap, fmt);
	vlog(fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!cb_verbose || (level == LIBBPF_DEBUG && cb_verbose < 2))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (!cb_verbose || (level == LIBXDP_DEBUG && cb_verbose < 2))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void cb_log_setup_libs(void)
{
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}
