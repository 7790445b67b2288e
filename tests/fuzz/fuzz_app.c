// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the app protocol (docs/app-protocol.md), both ends:
 * the controller's parsers of what apps send (REGISTER, RELEASE in
 * user/ctl/apps.c) and libconnbroker's parser of what the controller sends
 * (FLOW, cb_app_parse_flow).  Beyond "no sanitizer report":
 *  - a REGISTER that parses names a printable name that is the whole rest of
 *    the message;
 *  - a RELEASE that parses has its blob inside the input, exactly at its end;
 *    its text re-built from the parsed fields parses to the same fields;
 *  - a FLOW that parses has a port and a blob within bounds; the FLOW the
 *    controller would write for those fields (cb_apps_flow_msg) parses back
 *    to the same fields.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "connbroker.h"
#include "ctl/apps.h"
#include "util/parse_util.h"

static struct cb_conn_info ci, ci2;
static char out[CB_APP_MSG_MAX + 1];

static void check_register(const char *p, size_t n)
{
	char name[CB_CFG_NAME];
	size_t i;

	if (!cb_apps_parse_register(p, n, name))
		return;
	if (strlen(name) != n - 9 || memcmp(name, p + 9, n - 9))
		abort();
	for (i = 0; name[i]; i++)
		if (name[i] <= ' ' || name[i] > '~')
			abort();
}

static void check_release(const char *p, size_t n)
{
	char to[128], to2[128], text[CB_APP_MSG_MAX + 8];
	const uint8_t *blob, *blob2;
	size_t len, len2;
	int tl;

	if (cb_apps_parse_release(p, n, to, sizeof(to), &blob, &len))
		return;
	if (len > CB_BLOB_MAX || (len && (blob < (const uint8_t *)p ||
					  blob + len != (const uint8_t *)p + n)))
		abort();
	tl = snprintf(text, sizeof(text), "RELEASE%s%s blob=%zu%s", to[0] ? " to=" : "", to, len,
		      len ? "\n" : "");
	if (tl < 0 || (size_t)tl + len > sizeof(text))
		abort();
	memcpy(text + tl, blob ? (const char *)blob : "", len);
	if (cb_apps_parse_release(text, (size_t)tl + len, to2, sizeof(to2), &blob2, &len2) ||
	    strcmp(to, to2) || len != len2 || (len && memcmp(blob, blob2, len)))
		abort();
}

static void check_flow(const char *p, size_t n)
{
	struct cb_flow_msg m;
	int len;

	union cb_addr a, a2;
	uint16_t port, port2;

	if (cb_app_parse_flow(p, n, &ci))
		return;
	if (cb_addr_from_sockaddr((const struct sockaddr *)&ci.client, &a, &port) || !port ||
	    ci.blob_len > CB_APP_BLOB_MAX)
		abort();
	if (!ci.service[0] || !ci.rule[0] || !ci.app[0] || ci.request_bytes > UINT32_MAX)
		return;         /* the controller never writes these: no round trip */
	/* [::ffff:a.b.c.d]:p parses as IPv6 but is written back as a.b.c.d:p:
	 * the same address, compared as the controller's key */
	m = (struct cb_flow_msg){ .saddr = a,
				  .sport_be = port, .service = ci.service,
				  .rule = ci.rule, .app = ci.app, .bytes = (uint32_t)ci.request_bytes,
				  .per_request = ci.per_request, .blob = ci.blob,
				  .blob_len = ci.blob_len };
	len = cb_apps_flow_msg(&m, out, sizeof(out));
	if (len < 0)
		return;         /* fields too long for one message: refused, fine */
	if (cb_app_parse_flow(out, (size_t)len, &ci2) ||
	    cb_addr_from_sockaddr((const struct sockaddr *)&ci2.client, &a2, &port2) ||
	    memcmp(&a, &a2, sizeof(a)) || port != port2 || strcmp(ci2.service, ci.service) ||
	    strcmp(ci2.rule, ci.rule) || strcmp(ci2.app, ci.app) ||
	    ci2.request_bytes != ci.request_bytes || ci2.per_request != ci.per_request ||
	    ci2.blob_len != ci.blob_len || memcmp(ci2.blob, ci.blob, ci.blob_len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;

	if (size > CB_APP_MSG_MAX)
		return 0;       /* recvmsg never delivers more (MSG_TRUNC is refused) */
	check_register(p, size);
	check_release(p, size);
	check_flow(p, size);
	return 0;
}
