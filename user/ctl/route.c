// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include "ctl/classify.h"
#include "ctl/route.h"

int cb_route_decide(const struct cb_config_file *c, const struct cb_flow_key *k,
		    const uint8_t *bytes, size_t len, int forced, struct cb_decision *d)
{
	struct cb_service_key sk = { .vip = k->daddr, .port_be = k->dport_be };
	struct cb_request_info ri;
	enum cb_cls r = len ? cb_classify(bytes, len, &ri) : CB_CLS_NEED_MORE;

	if (r == CB_CLS_NEED_MORE && !forced && len < c->decide_bytes)
		return -EAGAIN;
	if (r != CB_CLS_DONE)
		memset(&ri, 0, sizeof(ri));     /* prefix rules still apply */
	d->service = cb_service_find(c, &sk);
	if (d->service < 0)
		return -ENOENT;
	d->rule = cb_route(c, d->service, &ri, bytes, len);
	d->app = d->rule >= 0 ? c->rules[d->rule].app : c->services[d->service].default_app;
	return 0;
}
