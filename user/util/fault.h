/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Named crash points, for tests that must stop the controller at an exact
 * moment (say, right after it handed a socket to an app) instead of racing a
 * kill against it.  CONNBROKER_FAULT=<point> in the environment makes the
 * process SIGKILL itself when it reaches that point; unset, a point costs one
 * string compare against an empty string.  The points are listed in
 * docs/architecture.md ("Crash points").
 */
#ifndef CB_FAULT_H
#define CB_FAULT_H

struct cb_faults {
	char point[48];         /* "" = none */
};

/* Read CONNBROKER_FAULT once, at start. */
void cb_faults_init(struct cb_faults *f);
/* Die here (SIGKILL, as a crash would) if this is the configured point. */
void cb_fault(const struct cb_faults *f, const char *point);
/* Is this (non-fatal) point armed?  For faults that are behaviours, such as
 * "refuse-ships": a node that refuses every flow shipped to it. */
int cb_fault_armed(const struct cb_faults *f, const char *point);

#endif
