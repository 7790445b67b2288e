/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Classifying a flow's first bytes: an HTTP/1.x request head, a TLS
 * ClientHello (read, never terminated), or neither.  Pure functions over the
 * bytes assembled so far: the caller feeds the growing prefix and stops at
 * CB_CLS_DONE, CB_CLS_NOT_MINE or CB_CLS_MALFORMED (or at its byte/time
 * bound, where the service's default applies).
 */
#ifndef CB_CLASSIFY_H
#define CB_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

enum cb_cls {
	CB_CLS_NEED_MORE = 0,   /* a prefix of a valid message: wait for more */
	CB_CLS_DONE,            /* decided: the fields below are filled */
	CB_CLS_NOT_MINE,        /* not this protocol */
	CB_CLS_MALFORMED,       /* claims to be this protocol but is broken */
};

enum cb_proto { CB_PROTO_NONE = 0, CB_PROTO_HTTP, CB_PROTO_TLS };

#define CB_MAX_ALPN 8

struct cb_request_info {
	enum cb_proto proto;
	size_t head_len;        /* bytes of the request head / ClientHello records */
	/* HTTP/1.x */
	char method[16];
	char path[1024];        /* origin-form path (absolute-form reduced to it) */
	char host[256];         /* lower case, without port; from the target or Host */
	int http_minor;         /* 0 or 1 */
	/* TLS */
	char sni[256];          /* lower case server_name, "" if absent */
	char alpn[CB_MAX_ALPN][32];
	int n_alpn;
};

/* HTTP/1.x request line and headers, up to and including the empty line. */
enum cb_cls cb_classify_http(const uint8_t *buf, size_t len, struct cb_request_info *ri);
/* TLS ClientHello, possibly spread over several handshake records. */
enum cb_cls cb_classify_tls(const uint8_t *buf, size_t len, struct cb_request_info *ri);
/* Try TLS, then HTTP.  NOT_MINE when neither matches (byte-prefix rules may). */
enum cb_cls cb_classify(const uint8_t *buf, size_t len, struct cb_request_info *ri);

/* Host or SNI pattern match: "example.com" exact, "*.example.com" any one or
 * more labels below example.com; case-insensitive. */
int cb_host_match(const char *pattern, const char *host);

#endif
