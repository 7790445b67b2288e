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
 * An app may give a live connection back instead of closing it
 * (cb_app_release): the controller then routes the connection's next
 * request afresh, or moves it where it is told, with an opaque state blob
 * the next app receives in cb_conn_info.  On a service with
 * `route = per-request` (info.per_request), apps release every connection
 * once they have answered a request and read nothing of the next one, so
 * that each request of a keep-alive connection goes where its own content
 * routes it.
 *
 * Functions return -1 and set errno on failure (ECONNREFUSED: the
 * controller refused the registration; EPROTO: a malformed message;
 * ECONNRESET: the controller went away and a release could not be sent).
 * cb_app_fd() is pollable; the controller sends requests to give a
 * connection back (ASK) only to the instance that holds it, and
 * cb_app_accept() skips them (then it reads on: an app that polls and wants
 * those requests uses cb_app_accept_or_ask()).
 *
 * Controller restarts: when the controller goes away (it is killed,
 * restarted, upgraded), the library connects to the same socket path again
 * and registers for the same app, by itself: the first attempt at once,
 * then after 50 ms, doubling up to 1 s between attempts, for as long as it
 * takes (a registration that lasted under 1 s goes on backing off instead
 * of starting over at once: a controller that drops every registration is
 * not hammered).  Meanwhile cb_app_accept*() wait (or, non-blocking, return
 * EAGAIN); they do not fail.  Connections the app already holds are its own
 * sockets and keep working; connections the controller sent before it died
 * are still delivered.  A registration the new controller refuses (the app
 * is no longer in its config, or not allowed) ends it: cb_app_accept*()
 * fail with ECONNREFUSED from then on.  cb_app_reconnects() counts the
 * re-registrations, cb_app_registered() says whether one is in place now.
 *
 * A struct cb_app may be used by several threads (one blocked in
 * cb_app_accept(), others releasing); it is one process's: a child of
 * fork() registers on its own rather than sharing its parent's.
 *
 * libconnbroker.so.2.1 added the reconnecting, cb_app_set_nonblock(),
 * cb_app_reconnects() and cb_app_registered(); cb_app_fd() became an epoll
 * fd (pollable as before, but no longer the socket itself).
 */
#ifndef CONNBROKER_H
#define CONNBROKER_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cb_app;

#define CB_APP_BLOB_MAX 4096    /* bytes of state a release may carry */

struct cb_conn_info {
	struct sockaddr_storage client; /* AF_INET (sockaddr_in) or AF_INET6 (sockaddr_in6) */
	char service[64];
	char rule[64];          /* "default" when no rule matched */
	char app[64];
	size_t request_bytes;   /* bytes of the request already queued in the socket */
	int per_request;        /* 1: release the connection after each answered
				 * request (the service routes per request) */
	size_t blob_len;        /* state the previous app released it with */
	unsigned char blob[CB_APP_BLOB_MAX];
};

/*
 * path NULL: $CONNBROKER_SOCKET, else the controller's default for interface
 * $CONNBROKER_IFACE (eth0 if unset) in this network namespace:
 * /run/connbroker/[network-namespaces/<inode>/]<ifname>.sock.  The first
 * registration fails here (NULL and errno: ENOENT or ECONNREFUSED when no
 * controller is there, ECONNREFUSED when it refuses, ETIMEDOUT when it did
 * not take the registration or answer it within
 * $CONNBROKER_REGISTER_TIMEOUT_MS, 5000 by default: a stopped or stuck
 * controller): only a registration that once succeeded is made again by
 * itself.
 */
struct cb_app *cb_app_register(const char *path, const char *app);
/*
 * Blocks for the next connection, across controller restarts; the fd is
 * the caller's (SOCK_CLOEXEC).  Non-blocking (cb_app_set_nonblock): -1 with
 * EAGAIN when no connection is queued or while the controller is away.
 */
int cb_app_accept(struct cb_app *a, struct cb_conn_info *info);
/*
 * The controller asks for a connection back (connbroker migrate, drain):
 * give the connection to `client` back with cb_app_release(a, fd, to, ...)
 * once it is between two requests.  to: "APP", "APP@NODE" or "" (the
 * rules decide).
 */
struct cb_release_ask {
	struct sockaddr_storage client; /* AF_INET or AF_INET6, as in cb_conn_info */
	char to[128];
};
#define CB_APP_ASKED (-2)
/*
 * cb_app_accept() that also reports the controller's requests: an fd (a
 * connection, info filled), CB_APP_ASKED (*ask filled), or -1 with errno.
 * cb_app_accept() skips such requests.
 */
int cb_app_accept_or_ask(struct cb_app *a, struct cb_conn_info *info, struct cb_release_ask *ask);
/*
 * An fd to poll (poll, select, epoll) for POLLIN before cb_app_accept():
 * readable when a message is queued, and while the controller is away when
 * the next attempt to register again is due (a non-blocking app then calls
 * cb_app_accept*(), which makes that attempt).  The same fd for the life of
 * the struct cb_app, across reconnects: register it once.  It is not the
 * controller socket itself (an epoll fd holding it): read it only through
 * cb_app_accept*().
 */
int cb_app_fd(const struct cb_app *a);
/*
 * on = 1: cb_app_accept*() never block (EAGAIN instead), for event loops;
 * at most one connection attempt per call while the controller is away, and
 * only when it is due.  on = 0: blocking, the default.  Setting O_NONBLOCK
 * on cb_app_fd() is the same.  0, or -1 with errno.
 */
int cb_app_set_nonblock(struct cb_app *a, int on);
/* How many times the registration was made again after the controller went away. */
unsigned int cb_app_reconnects(const struct cb_app *a);
/* 1 while registered, 0 while the controller is away (or refused the app). */
int cb_app_registered(const struct cb_app *a);
/*
 * Give the live connection fd back to the controller, with blob_len bytes
 * of state (0..CB_APP_BLOB_MAX, blob may be NULL then) for the app that gets
 * it next.  to: NULL to route the connection's next request by the rules
 * (it must be unread in the socket: read exactly one request), or the name
 * of an app to move it to.  fd is closed here, on success and on failure;
 * the caller must not use it again.  0, or -1 with errno (EINVAL: blob too
 * large or a bad name; ECONNRESET: the controller went away, and one attempt
 * to register again, made here, failed; ECONNREFUSED: the registration was
 * refused).  A release made while registering again is sent right behind
 * REGISTER; if that registration is refused, the controller closes the
 * connection.
 */
int cb_app_release(struct cb_app *a, int fd, const char *to, const void *blob, size_t blob_len);
/*
 * Parse a FLOW message of len bytes (exposed for tests and other
 * transports): text, then, when it names blob=N, a newline and N bytes.
 */
int cb_app_parse_flow(const char *msg, size_t len, struct cb_conn_info *info);
void cb_app_close(struct cb_app *a);

#ifdef __cplusplus
}
#endif

#endif
