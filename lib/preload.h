/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The pure parts of the LD_PRELOAD shim (lib/preload.c) that `connbroker
 * exec` loads into unmodified servers: the list of captured ports, accept4
 * flags, and how a connection's peer address is presented on a listener of
 * either family.  Header-only: shared by the shim, `connbroker exec` (which
 * checks the list it passes) and the unit tests (tests/unit/test_preload.c).
 */
#ifndef CB_PRELOAD_H
#define CB_PRELOAD_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define CB_PL_MAX_PORTS 32

struct cb_pl_ports {
	int n;
	uint16_t port[CB_PL_MAX_PORTS];
};

/*
 * "80", "80,8080", "80, 443" (commas, optional spaces; duplicates kept
 * once) into *p: 0, or -1 (empty list, empty item, not a port 1..65535,
 * more than CB_PL_MAX_PORTS).
 */
static inline int cb_pl_parse_ports_(const char *s, struct cb_pl_ports *p)
{
	for (;;) {
		unsigned long v = 0;
		int digits = 0, i, dup = 0;

		while (*s == ' ')
			s++;
		for (; *s >= '0' && *s <= '9'; s++, digits++) {
			v = v * 10 + (unsigned long)(*s - '0');
			if (v > 65535)
				return -1;
		}
		while (*s == ' ')
			s++;
		if (!digits || v == 0 || (*s && *s != ','))
			return -1;
		for (i = 0; i < p->n; i++)
			dup |= p->port[i] == v;
		if (!dup) {
			if (p->n == CB_PL_MAX_PORTS)
				return -1;
			p->port[p->n++] = (uint16_t)v;
		}
		if (!*s)
			return 0;
		s++;            /* the comma: an item must follow */
	}
}

/* ... and *p empty on failure */
static inline int cb_pl_parse_ports(const char *s, struct cb_pl_ports *p)
{
	memset(p, 0, sizeof(*p));
	if (!s || cb_pl_parse_ports_(s, p)) {
		memset(p, 0, sizeof(*p));
		return -1;
	}
	return 0;
}

static inline int cb_pl_port_in(const struct cb_pl_ports *p, uint16_t port)
{
	int i;

	for (i = 0; i < p->n; i++)
		if (p->port[i] == port)
			return 1;
	return 0;
}

/*
 * The TCP port of an AF_INET or AF_INET6 address of len bytes (host order),
 * or -1 for anything else.
 */
static inline int cb_pl_sockaddr_port(const struct sockaddr_storage *ss, socklen_t len)
{
	if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in))
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return -1;
}

/* accept4() flags the shim takes: 0, or -1 with errno EINVAL (as the kernel). */
static inline int cb_pl_accept_flags_ok(int flags)
{
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* The file status flags an accepted socket gets: fl with O_NONBLOCK as accept4 says. */
static inline int cb_pl_status_flags(int fl, int accept_flags)
{
	return accept_flags & SOCK_NONBLOCK ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
}

/*
 * The peer address accept() reports on a listener of family listen_family
 * (v6only: its IPV6_V6ONLY), as the kernel would: an IPv4 client on a
 * dual-stack AF_INET6 listener is ::ffff:a.b.c.d; otherwise the address as
 * it is (an IPv4 client on a v6only listener, which the kernel would not
 * give it, is a plain sockaddr_in).  Returns its length.
 */
static inline socklen_t cb_pl_present_peer(const struct sockaddr_storage *peer, socklen_t plen,
					   int listen_family, int v6only,
					   struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (listen_family == AF_INET6 && !v6only && peer->ss_family == AF_INET &&
	    plen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)peer;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = in->sin_port;
		in6->sin6_addr.s6_addr[10] = 0xff;
		in6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&in6->sin6_addr.s6_addr[12], &in->sin_addr, 4);
		return sizeof(*in6);
	}
	if (plen > sizeof(*out))
		plen = sizeof(*out);
	memcpy(out, peer, plen);
	return plen;
}

/*
 * The client address of a FLOW message (msg, len bytes: "FLOW client=IP:PORT
 * ..." or client=[IP6]:PORT, on its first line) into *peer, *plen: 1, or 0
 * when there is none, it does not parse, or it is IPv6 link-local (its scope
 * id is not in the text): the caller asks getpeername() then.
 * The controller writes it from the flow's key, the socket's own peer.
 */
static inline int cb_pl_flow_client(const char *msg, size_t len, struct sockaddr_storage *peer,
				    socklen_t *plen)
{
	const char *nl = memchr(msg, '\n', len), *v = NULL, *end;
	char host[INET6_ADDRSTRLEN + 2];
	unsigned long port = 0;
	size_t i, hl;

	if (nl)
		len = (size_t)(nl - msg);
	for (i = 0; i + 8 <= len; i++)
		if (msg[i] == ' ' && !memcmp(msg + i + 1, "client=", 7)) {
			v = msg + i + 8;
			break;
		}
	if (!v)
		return 0;
	for (end = v; end < msg + len && *end != ' '; end++)
		;
	/* the port: the digits after the last ':' */
	for (i = (size_t)(end - v); i > 0 && v[i - 1] >= '0' && v[i - 1] <= '9'; i--)
		;
	if (i == 0 || v[i - 1] != ':' || i == (size_t)(end - v) || (size_t)(end - v) - i > 5)
		return 0;
	for (const char *d = v + i; d < end; d++)
		port = port * 10 + (unsigned long)(*d - '0');
	if (port == 0 || port > 65535)
		return 0;
	hl = i - 1;
	if (hl >= sizeof(host))
		return 0;
	memcpy(host, v, hl);
	host[hl] = 0;
	memset(peer, 0, sizeof(*peer));
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)peer;

		host[hl - 1] = 0;
		/* link-local: the scope is the socket's to say (getpeername) */
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1 ||
		    IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr))
			return 0;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*plen = sizeof(*in6);
		return 1;
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)peer;

		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return 0;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*plen = sizeof(*in);
		return 1;
	}
}

/*
 * Copy an address of len bytes to the caller's (addr, *addrlen) as the
 * kernel does: truncated to *addrlen, *addrlen set to the full length.
 */
static inline void cb_pl_copy_addr(const void *src, socklen_t len, struct sockaddr *addr,
				   socklen_t *addrlen)
{
	if (!addr || !addrlen)
		return;
	memcpy(addr, src, len < *addrlen ? len : *addrlen);
	*addrlen = len;
}

#endif
