/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Messages to stderr, always prefixed "connbroker: ".  When stderr is the
 * journal (systemd sets $JOURNAL_STREAM to its device:inode), each line
 * starts with its syslog priority, <3> err ... <7> debug, which journald
 * reads and strips (SyslogLevelPrefix=yes, the default).
 */
#ifndef CB_LOG_H
#define CB_LOG_H

#include <stdarg.h>

extern int cb_verbose;

void cb_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cb_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cb_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cb_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void (cb_debug)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Arguments are not even evaluated unless -v: a flow formatted for a debug
 * line nobody reads costs every connection (the parentheses above keep the
 * function itself, e.g. for a function pointer). */
#define cb_debug(...)                            \
	do {                                     \
		if (cb_verbose)                  \
			(cb_debug)(__VA_ARGS__); \
	} while (0)
/* Route libbpf's and libxdp's messages through us: hidden unless -v. */
void cb_log_setup_libs(void);

#endif
