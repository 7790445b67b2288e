/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Commands to a running controller (connbroker drain, migrate): see
 * command.c.  cb_ctl_command is the apps' on_ctl callback; arg is the
 * controller's struct ctl.
 */
#ifndef CB_COMMAND_H
#define CB_COMMAND_H

#include <stddef.h>

void cb_ctl_command(void *arg, const char *cmd, char *reply, size_t cap);

#endif
