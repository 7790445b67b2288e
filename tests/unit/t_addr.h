/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Addresses and flow keys for the unit tests, built without the code under
 * test: IPv4 in host order (mapped as ::ffff:a.b.c.d by hand), IPv6 from
 * text by inet_pton.
 */
#ifndef CB_TEST_ADDR_H
#define CB_TEST_ADDR_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include <connbroker/shared.h>

/* ::ffff:a.b.c.d from an IPv4 address in host order. */
static inline union cb_addr a4(uint32_t host)
{
	union cb_addr a;

	memset(&a, 0, sizeof(a));
	a.b[10] = 0xff;
	a.b[11] = 0xff;
	a.b[12] = (uint8_t)(host >> 24);
	a.b[13] = (uint8_t)(host >> 16);
	a.b[14] = (uint8_t)(host >> 8);
	a.b[15] = (uint8_t)host;
	return a;
}

/* An IPv6 address from its text; aborts on a typo. */
static inline union cb_addr a6(const char *text)
{
	union cb_addr a;

	if (inet_pton(AF_INET6, text, &a) != 1)
		abort();
	return a;
}

/* A flow key from addresses and host-order ports. */
static inline struct cb_flow_key t_key(union cb_addr s, union cb_addr d, uint16_t sport,
				       uint16_t dport)
{
	struct cb_flow_key k;

	memset(&k, 0, sizeof(k));
	k.saddr = s;
	k.daddr = d;
	k.sport_be = htons(sport);
	k.dport_be = htons(dport);
	return k;
}

#endif
