/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libconnbroker: the application side of connbroker.  An application never
 * listens: it registers for an app name with the controller and then accepts
 * connections that already carry the client's request in their receive
 * queue.  The wire protocol is in docs/app-protocol.md.
 *
 *   struct cb_app *a = cb_app_register(NULL, "api");   // default socket path
 *   struct cb_conn_info ci;
 *   int fd;
 *   while ((fd = cb_app_accept(a, &ci)) >= 0) {
 *           ... read(fd) the request, write the answer, close(fd) ...
 *   }
 *   cb_app_close(a);
 *
 * Functions return -1 and set errno on failure (ECONNREFUSED: the
 * controller refused the registration; EPROTO: a malformed message;
 * ECONNRESET: the controller went away).  cb_app_fd() is pollable.
 */
#ifndef CONNBROKER_H
#define CONNBROKER_H

#include <netinet/in.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cb_app;

struct cb_conn_info {
	struct sockaddr_in client;
	char service[64];
	char rule[64];          /* "default" when no rule matched */
	char app[64];
	size_t request_bytes;   /* bytes of the request already queued in the socket */
};

/* path NULL: $CONNBROKER_SOCKET, else the controller's default for interface
 * $CONNBROKER_IFACE (eth0 if unset) in this network namespace:
 * /run/connbroker/[network-namespaces/<inode>/]<ifname>.sock */
struct cb_app *cb_app_register(const char *path, const char *app);
/* Blocks for the next connection; the fd is the caller's (SOCK_CLOEXEC). */
int cb_app_accept(struct cb_app *a, struct cb_conn_info *info);
/* The controller socket, to poll for POLLIN before cb_app_accept(). */
int cb_app_fd(const struct cb_app *a);
/* Parse a FLOW message (exposed for tests and other transports). */
int cb_app_parse_flow(const char *msg, struct cb_conn_info *info);
void cb_app_close(struct cb_app *a);

#ifdef __cplusplus
}
#endif

#endif
