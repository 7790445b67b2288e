// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
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

int cb_parse_addr_port(const char *s, union cb_addr *addr, uint16_t *port_be)
{
	char host[INET6_ADDRSTRLEN];
	const char *colon = s ? strrchr(s, ':') : NULL;
	const char *h = s;
	struct in6_addr a6;
	struct in_addr a;
	uint32_t port;
	size_t hl;

	if (!colon)
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {              /* [v6]:port, brackets required */
		if (hl < 3 || s[hl - 1] != ']')
			return -EINVAL;
		h = s + 1;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	if (cb_parse_u32(colon + 1, 1, 65535, &port))
		return -EINVAL;
	memset(addr, 0, sizeof(*addr));
	if (h == s) {
		if (inet_pton(AF_INET, host, &a) != 1)
			return -EINVAL;
		cb_addr_set_v4(addr, a.s_addr);
	} else {
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return -EINVAL;
		memcpy(addr, &a6, sizeof(*addr));
		/* an IPv4 address written as IPv6 is one spelling too many */
		if (cb_addr_is_v4(addr))
			return -EINVAL;
	}
	*port_be = htons((uint16_t)port);
	return 0;
}

int cb_parse_service(const char *s, struct cb_service_key *key)
{
	union cb_addr a;
	uint16_t port;

	if (cb_parse_addr_port(s, &a, &port))
		return -EINVAL;
	memset(key, 0, sizeof(*key));
	key->vip = a;
	key->port_be = port;
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

const char *cb_fmt_ip(const union cb_addr *addr, char *buf, size_t len)
{
	if (cb_addr_is_v4(addr))
		inet_ntop(AF_INET, &addr->w[3], buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, addr, buf, (socklen_t)len);
	return buf;
}

const char *cb_fmt_addr(const union cb_addr *addr, uint16_t port_be, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	cb_fmt_ip(addr, ip, sizeof(ip));
	if (cb_addr_is_v4(addr))
		snprintf(buf, len, "%s:%u", ip, ntohs(port_be));
	else
		snprintf(buf, len, "[%s]:%u", ip, ntohs(port_be));
	return buf;
}

const char *cb_fmt_service(const struct cb_service_key *key, char *buf, size_t len)
{
	return cb_fmt_addr(&key->vip, key->port_be, buf, len);
}

const char *cb_fmt_flow(const struct cb_flow_key *k, char *buf, size_t len)
{
	char a[CB_ADDR_PORT_STRLEN], b[CB_ADDR_PORT_STRLEN];

	snprintf(buf, len, "%s > %s", cb_fmt_addr(&k->saddr, k->sport_be, a, sizeof(a)),
		 cb_fmt_addr(&k->daddr, k->dport_be, b, sizeof(b)));
	return buf;
}

int cb_addr_family(const union cb_addr *addr)
{
	return cb_addr_is_v4(addr) ? AF_INET : AF_INET6;
}

unsigned int cb_addr_to_sockaddr(const union cb_addr *addr, uint16_t port_be, void *ss)
{
	memset(ss, 0, sizeof(struct sockaddr_in6));
	if (cb_addr_is_v4(addr)) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = addr->w[3];
		in->sin_port = port_be;
		return sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, addr, sizeof(*addr));
		in6->sin6_port = port_be;
		return sizeof(*in6);
	}
}

int cb_addr_from_sockaddr(const struct sockaddr *sa, union cb_addr *addr, uint16_t *port_be)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		cb_addr_set_v4(addr, in->sin_addr.s_addr);
		*port_be = in->sin_port;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		memcpy(addr, &in6->sin6_addr, sizeof(*addr));
		*port_be = in6->sin6_port;
		return 0;
	}
	return -EAFNOSUPPORT;
}
