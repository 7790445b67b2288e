/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * connbroker run: the controller.  One thread, one epoll loop over the ring
 * buffer, the app socket, the apps' connections and a timer.
 *
 *   ring record  -> per-flow byte assembly (bounded)
 *   enough bytes -> classify (classify.c) -> route (config.c) -> app
 *   app present  -> freeze the flow (XDP drops its packets), drain the ring,
 *                   build the socket with TCP_REPAIR (repair.c), mark the flow
 *                   LOCAL, pass the fd to the app (SCM_RIGHTS)
 *   no app       -> wait in the service's bounded queue; past wait_ms the
 *                   configured answer (RST or HTTP 503) is sent
 *
 * The app protocol (docs/app-protocol.md): SOCK_SEQPACKET unix socket,
 * "REGISTER <app>" -> "OK" | "ERR <why>", then one "FLOW k=v ..." message
 * per connection carrying the socket as SCM_RIGHTS.
 */
#ifndef CB_CONTROLLER_H
#define CB_CONTROLLER_H

int cmd_run(int argc, char **argv);

#endif
