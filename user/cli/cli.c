// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <unistd.h>
#include "cli/cli.h"
#include "util/log.h"

int cb_require_root(const char *what)
{
	if (geteuid() == 0)
		return 0;
	cb_err("%s: must run as root (needs CAP_BPF and CAP_NET_ADMIN)", what);
	return -EPERM;
}
