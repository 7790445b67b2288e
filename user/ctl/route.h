/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * From a flow's first bytes to a decision {service, rule, app}: classify
 * (classify.c), then the first matching rule of the flow's service, else its
 * default app (config.c).  Pure: no I/O, unit-tested.
 */
#ifndef CB_ROUTE_H
#define CB_ROUTE_H

#include <stddef.h>
#include <stdint.h>
#include <connbroker/shared.h>
#include "ctl/config.h"
#include "ctl/pending.h"

/*
 * 0 decided (*d filled); -EAGAIN: not yet, the request may still be
 * incomplete (call again with more bytes, or with `forced` once the byte or
 * time bound is reached); -ENOENT: no service listens on the flow's address.
 */
int cb_route_decide(const struct cb_config_file *c, const struct cb_flow_key *k,
		    const uint8_t *bytes, size_t len, int forced, struct cb_decision *d);

#endif
