// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/fault.h"
#include "util/log.h"

void cb_faults_init(struct cb_faults *f)
{
	const char *p = getenv("CONNBROKER_FAULT");

	snprintf(f->point, sizeof(f->point), "%s", p ? p : "");
	if (f->point[0])
		cb_info("crash point armed: %s (CONNBROKER_FAULT)", f->point);
}

void cb_fault(const struct cb_faults *f, const char *point)
{
	if (!f->point[0] || strcmp(f->point, point))
		return;
	cb_info("crash point %s reached: SIGKILL", point);
	raise(SIGKILL);
}

int cb_fault_armed(const struct cb_faults *f, const char *point)
{
	return f->point[0] && !strcmp(f->point, point);
}
