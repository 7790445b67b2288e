// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "util/log.h"

int cb_verbose;

/* Is stderr the journal?  Asked per line: cheap, and no state to keep. */
static int to_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long dev, ino;
	struct stat st;

	return js && sscanf(js, "%lu:%lu", &dev, &ino) == 2 && !fstat(STDERR_FILENO, &st) &&
	       (unsigned long)st.st_dev == dev && (unsigned long)st.st_ino == ino;
}

/* One line, whole: the controller's workers log from their own threads. */
static void vlog(int prio, const char *fmt, va_list ap)
{
	int journal = to_journal();

	flockfile(stderr);
	if (journal)
		fprintf(stderr, "<%d>", prio);
	fputs("connbroker: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

#define CB_LOG_FN(name, prio)                    \
	void name(const char *fmt, ...)          \
	{                                        \
		va_list ap;                      \
                                                 \
		va_start(ap, fmt);               \
		vlog(prio, fmt, ap);             \
		va_end(ap);                      \
	}

CB_LOG_FN(cb_err, LOG_ERR)
CB_LOG_FN(cb_warn, LOG_WARNING)
CB_LOG_FN(cb_notice, LOG_NOTICE)
CB_LOG_FN(cb_info, LOG_INFO)

void (cb_debug)(const char *fmt, ...)
{
	va_list ap;

	if (!cb_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
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
