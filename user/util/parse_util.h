/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Strict parsers for command-line values.  Pure: unit-tested. */
#ifndef CB_PARSE_UTIL_H
#define CB_PARSE_UTIL_H

#include <stdint.h>
#include <connbroker/shared.h>

/* Whole string must be a number in [min, max]; 0 or -EINVAL/-ERANGE. */
int cb_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
/* "198.18.0.10:80" or "[2001:db8::10]:80" -> address (IPv4 mapped) and
 * port in network order; 0 or -EINVAL. */
int cb_parse_addr_port(const char *s, union cb_addr *addr, uint16_t *port_be);
/* The same into a service key; 0 or -EINVAL. */
int cb_parse_service(const char *s, struct cb_service_key *key);
/* "native" | "skb" | "tc" -> enum cb_attach_mode; 0 or -EINVAL. */
int cb_parse_mode(const char *s, uint32_t *mode);
const char *cb_mode_name(uint32_t mode);

/* Longest "[v6]:port" or "a.b.c.d:port", with its NUL. */
#define CB_ADDR_PORT_STRLEN 48
/* Format a service key as "a.b.c.d:port" or "[v6]:port" into buf. */
const char *cb_fmt_service(const struct cb_service_key *key, char *buf, size_t len);
/* Format "a.b.c.d:port" or "[v6]:port" from an address and a port. */
const char *cb_fmt_addr(const union cb_addr *addr, uint16_t port_be, char *buf, size_t len);
/* The address alone: "a.b.c.d" or "v6" (buf >= INET6_ADDRSTRLEN). */
const char *cb_fmt_ip(const union cb_addr *addr, char *buf, size_t len);
/* "client > service" of a flow key, for messages (buf >= CB_FLOW_STRLEN). */
#define CB_FLOW_STRLEN (2 * CB_ADDR_PORT_STRLEN + 4)
const char *cb_fmt_flow(const struct cb_flow_key *k, char *buf, size_t len);

struct sockaddr;
/* AF_INET for a mapped address, AF_INET6 otherwise. */
int cb_addr_family(const union cb_addr *addr);
/* A socket address of the address's own family at sa (room for a
 * sockaddr_in6: a sockaddr_storage or a union cb_sockaddr); its length. */
unsigned int cb_addr_to_sockaddr(const union cb_addr *addr, uint16_t port_be, void *sa);
/* From an AF_INET or AF_INET6 socket address (a v4-mapped AF_INET6 one
 * becomes IPv4); 0 or -EAFNOSUPPORT. */
int cb_addr_from_sockaddr(const struct sockaddr *sa, union cb_addr *addr, uint16_t *port_be);

#endif
