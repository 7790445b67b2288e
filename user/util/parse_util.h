/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Strict parsers for command-line values.  Pure: unit-tested. */
#ifndef CB_PARSE_UTIL_H
#define CB_PARSE_UTIL_H

#include <stdint.h>
#include <connbroker/shared.h>

/* Whole string must be a number in [min, max]; 0 or -EINVAL/-ERANGE. */
int cb_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
/* "198.18.0.10:80" -> key in network order; 0 or -EINVAL. */
int cb_parse_service(const char *s, struct cb_service_key *key);
/* "native" | "skb" | "tc" -> enum cb_attach_mode; 0 or -EINVAL. */
int cb_parse_mode(const char *s, uint32_t *mode);
const char *cb_mode_name(uint32_t mode);
/* Format a service key as "a.b.c.d:port" into buf (>= 22 bytes). */
const char *cb_fmt_service(const struct cb_service_key *key, char *buf, size_t len);
/* Format "a.b.c.d:port" from network-order address and port. */
const char *cb_fmt_addr(uint32_t addr_be, uint16_t port_be, char *buf, size_t len);
/* "client > service" of a flow key, for messages (buf >= 48 bytes). */
const char *cb_fmt_flow(const struct cb_flow_key *k, char *buf, size_t len);

#endif
