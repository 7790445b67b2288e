// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "util/parse_util.h"

int cb_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

int cb_parse_service(const char *s, struct cb_service_key *key)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = s ? strrchr(s, ':') : NULL;
	struct in_addr a;
	uint32_t port;
	size_t hl;

	if (!colon)
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = 0;
	if (inet_pton(AF_INET, host, &a) != 1)
		return -EINVAL;
	if (cb_parse_u32(colon + 1, 1, 65535, &port))
		return -EINVAL;
	memset(key, 0, sizeof(*key));
	key->vip_be = a.s_addr;
	key->port_be = htons((uint16_t)port);
	return 0;
}

int cb_parse_mode(const char *s, uint32_t *mode)
{
	if (!strcmp(s, "native") || !strcmp(s, "xdp") || !strcmp(s, "xdpdrv"))
		*mode = CB_MODE_NATIVE;
	else if (!strcmp(s, "skb") || !strcmp(s, "generic") || !strcmp(s, "xdpgeneric"))
		*mode = CB_MODE_SKB;
	else if (!strcmp(s, "tc"))
		*mode = CB_MODE_TC;
	else
		return -EINVAL;
	return 0;
}

const char *cb_mode_name(uint32_t mode)
{
	switch (mode) {
	case CB_MODE_NATIVE: return "native";
	case CB_MODE_SKB: return "skb";
	case CB_MODE_TC: return "tc";
	default: return "unknown";
	}
}

const char *cb_fmt_addr(uint32_t addr_be, uint16_t port_be, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];
	struct in_addr a = { .s_addr = addr_be };

	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, ntohs(port_be));
	return buf;
}

const char *cb_fmt_service(const struct cb_service_key *key, char *buf, size_t len)
{
	return cb_fmt_addr(key->vip_be, key->port_be, buf, len);
}

const char *cb_fmt_flow(const struct cb_flow_key *k, char *buf, size_t len)
{
	char a[32], b[32];

	snprintf(buf, len, "%s > %s", cb_fmt_addr(k->saddr_be, k->sport_be, a, sizeof(a)),
		 cb_fmt_addr(k->daddr_be, k->dport_be, b, sizeof(b)));
	return buf;
}
