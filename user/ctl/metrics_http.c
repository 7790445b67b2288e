// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include "util/log.h"
#include "ctl/metrics_http.h"
#include "util/parse_util.h"

struct cb_metrics {
	struct MHD_Daemon *d;
	int epfd;
	cb_metrics_render_fn fn;
	void *ctx;
};

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

struct cb_metrics *cb_metrics_start(const char *addr, cb_metrics_render_fn fn, void *ctx)
{
	struct cb_service_key k;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const union MHD_DaemonInfo *di;
	struct cb_metrics *m;

	if (cb_parse_service(addr, &k)) {
		cb_err("metrics: bad address '%s': expected IPv4:PORT", addr);
		return NULL;
	}
	sa.sin_addr.s_addr = k.vip_be;
	sa.sin_port = k.port_be;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->fn = fn;
	m->ctx = ctx;
	m->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, ntohs(k.port_be), NULL, NULL,
				on_request, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)16,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
	if (!m->d) {
		cb_err("metrics: cannot listen on %s (in use, or not a local address)", addr);
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
