/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The controller's snapshot for `connbroker status` (ctl/status.c). */
#ifndef CB_STATUS_H
#define CB_STATUS_H

struct ctl;

/* Write <ifname>.status and .status.json (atomically). */
void cb_ctl_write_status(struct ctl *c);
/* Remove them (the controller stops). */
void cb_ctl_remove_status(const char *ifname);

#endif
