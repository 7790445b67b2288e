// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "ctl/metrics_http.h"
#include "util/parse_util.h"

#include <sys/socket.h>
#include "util/clock.h"

/* A scrape connection: its socket and when it was accepted.  Idle time is
 * bounded by MHD (CB_METRICS_IDLE_S); total time by us: a slowloris that
 * sends one byte a second never goes idle, so a connection older than
 * CB_METRICS_CONN_MS is shut down (MHD still owns and closes the fd). */
struct scrape {
	int fd;                         /* -1: free */
	uint64_t since_ms;
};

struct cb_metrics {
	struct MHD_Daemon *d;
	int epfd;
	cb_metrics_render_fn fn;
	void *ctx;
	struct scrape conns[CB_METRICS_CONNS];
};

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct cb_metrics *m = cls;
	const union MHD_ConnectionInfo *ci;
	struct scrape *s = *socket_ctx;
	int i;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (s)
			s->fd = -1;
		*socket_ctx = NULL;
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	for (i = 0; ci && i < CB_METRICS_CONNS; i++)
		if (m->conns[i].fd < 0) {
			m->conns[i] = (struct scrape){ .fd = ci->connect_fd, .since_ms = cb_now_ms64() };
			*socket_ctx = &m->conns[i];
			return;
		}
}

void cb_metrics_tick(struct cb_metrics *m, uint64_t now_ms)
{
	int i;

	for (i = 0; m && i < CB_METRICS_CONNS; i++)
		if (m->conns[i].fd >= 0 && now_ms - m->conns[i].since_ms > CB_METRICS_CONN_MS) {
			shutdown(m->conns[i].fd, SHUT_RDWR);    /* MHD sees the end and closes it */
			m->conns[i].since_ms = now_ms;          /* once a period, not every tick */
		}
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code, char *body,
			     size_t len, const char *type)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct cb_metrics *m = cls;
	char *body = NULL;
	size_t len = 0;
	FILE *out;

	(void)version;
	(void)upload;
	if (*upload_size)
		return MHD_NO;          /* GET only: no bodies */
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, 405, strdup("method not allowed\n"), 19, "text/plain");
	if (strcmp(url, "/metrics"))
		return reply(conn, 404, strdup("not found: try /metrics\n"), 24, "text/plain");
	(void)req_cls;
	out = open_memstream(&body, &len);
	if (!out)
		return MHD_NO;
	m->fn(m->ctx, out);
	fclose(out);
	return reply(conn, 200, body, len, "text/plain; version=0.0.4; charset=utf-8");
}

/* libmicrohttpd's own messages, prefixed and through our log (stderr/journal). */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	cb_debug("metrics: libmicrohttpd: %s", line);
}

struct cb_metrics *cb_metrics_start(const char *addr, cb_metrics_render_fn fn, void *ctx)
{
	struct cb_service_key k;
	struct sockaddr_storage sa;
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;
	struct cb_metrics *m;
	int i;

	if (cb_parse_service(addr, &k)) {
		cb_err("metrics: bad address '%s': expected IPv4:PORT or [IPv6]:PORT", addr);
		return NULL;
	}
	cb_addr_to_sockaddr(&k.vip, k.port_be, &sa);
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->fn = fn;
	m->ctx = ctx;
	for (i = 0; i < CB_METRICS_CONNS; i++)
		m->conns[i].fd = -1;
	/* bounded: connections in all, per client address, idle and total time */
	m->d = MHD_start_daemon(flags, ntohs(k.port_be), NULL, NULL,
				on_request, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CB_METRICS_CONNS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)CB_METRICS_PER_ADDR,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CB_METRICS_IDLE_S,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, m,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (!m->d) {
		cb_err("metrics: cannot listen on %s: in use (another controller? each needs its "
		       "own: [broker] metrics = ADDR:PORT, or run --metrics ADDR:PORT|off), or not "
		       "a local address", addr);
		free(m);
		return NULL;
	}
	di = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
	m->epfd = di ? di->epoll_fd : -1;
	return m;
}

int cb_metrics_fd(const struct cb_metrics *m)
{
	return m->epfd;
}

void cb_metrics_run(struct cb_metrics *m)
{
	if (m)
		MHD_run(m->d);
}

void cb_metrics_stop(struct cb_metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	free(m);
}
