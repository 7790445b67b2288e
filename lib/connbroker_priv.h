/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libconnbroker's private side door, for the LD_PRELOAD shim (lib/preload.c)
 * and the unit tests only: not in include/connbroker.h, not exported from
 * libconnbroker.so (hidden).
 */
#ifndef CB_CONNBROKER_PRIV_H
#define CB_CONNBROKER_PRIV_H

struct cb_app;

/*
 * The registration socket itself (SOCK_SEQPACKET), not the epoll fd
 * cb_app_fd() gives: the shim dups it and puts it in a listener's place,
 * and does its own reconnecting.  -1 while the controller is away.
 */
__attribute__((visibility("hidden"))) int cb_app_socket(const struct cb_app *a);

#endif
