/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * connbroker run: the controller.  One thread, one epoll loop (ctl/loop.c)
 * over the ring buffer, the app socket, the apps' connections, a timer, a
 * signalfd and the metrics endpoint.
 *
 *   ring record  -> pending flow, bytes in the pinned stash  (pending.c)
 *   enough bytes -> classify and route                       (route.c)
 *   app present  -> local hand-off with TCP_REPAIR           (handoff.c)
 *                -> the fd to the app, SCM_RIGHTS            (apps.c)
 *   no app       -> wait in the service's bounded queue; start the app's
 *                   command on demand                        (supervise.c)
 *   cannot       -> RST or HTTP 503, never a hang            (reset.c)
 *
 * SIGHUP reloads the configuration; SIGTERM/SIGINT stop.  The controller
 * exits on its own when its interface or attachment disappears.
 */
#ifndef CB_CONTROLLER_H
#define CB_CONTROLLER_H

struct cb_ctl_opts {
	const char *ifname;                     /* NULL: [broker] interface */
	const char *cfg_path;
	const char *sock_path;                  /* the apps' unix socket; NULL: default */
	const char *metrics;                    /* overrides [broker] metrics; NULL: keep */
	const char *node;                       /* overrides [broker] node; NULL: keep */
};

/*
 * Run until a signal stops it (0) or something fails (-errno, already
 * reported: -EINVAL a bad configuration, -EBUSY another controller runs on
 * the interface, -ENODEV the interface went away, -ENOLINK the attachment
 * did).
 */
int cb_ctl_run(const struct cb_ctl_opts *o);

#endif
