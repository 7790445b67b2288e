// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include "ctl/classify.h"

/* ---- HTTP/1.x (RFC 9112) -------------------------------------------- */

#define HTTP_MAX_HEAD 65536

static int is_tchar(uint8_t c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Find the end of the line starting at p (LF, optionally preceded by CR). */
static const uint8_t *line_end(const uint8_t *p, const uint8_t *end, const uint8_t **next)
{
	const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));

	if (!lf)
		return NULL;
	*next = lf + 1;
	return (lf > p && lf[-1] == '\r') ? lf - 1 : lf;
}

static void copy_lower(char *dst, size_t cap, const uint8_t *s, size_t n)
{
	size_t i;

	if (n >= cap)
		n = cap - 1;
	for (i = 0; i < n; i++)
		dst[i] = (char)tolower(s[i]);
	dst[n] = 0;
}

/* "host[:port]" -> lower-case host; 0 or -1 when not a plausible host. */
static int set_host(struct cb_request_info *ri, const uint8_t *s, size_t n)
{
	size_t i, hl = n;

	if (n && s[0] == '[') {                 /* IPv6 literal */
		const uint8_t *rb = memchr(s, ']', n);

		if (!rb)
			return -1;
		hl = (size_t)(rb - s) + 1;
	} else {
		for (i = 0; i < n; i++)
			if (s[i] == ':') {
				hl = i;
				break;
			}
	}
	if (hl == 0 || hl >= sizeof(ri->host))
		return -1;
	for (i = 0; i < hl; i++)
		if (s[i] <= ' ' || s[i] == '/' || s[i] == '@' || s[i] >= 0x7f)
			return -1;
	copy_lower(ri->host, sizeof(ri->host), s, hl);
	return 0;
}

static enum cb_cls http_request_line(const uint8_t *p, const uint8_t *eol,
				     struct cb_request_info *ri, int *host_from_target)
{
	const uint8_t *sp1, *sp2, *t;
	size_t ml, tl;

	/* a complete first line that is no request line: not HTTP at all */
	sp1 = memchr(p, ' ', (size_t)(eol - p));
	if (!sp1)
		return CB_CLS_NOT_MINE;
	ml = (size_t)(sp1 - p);
	if (ml == 0 || ml >= sizeof(ri->method))
		return CB_CLS_MALFORMED;
	for (t = p; t < sp1; t++)
		if (!is_tchar(*t))
			return CB_CLS_NOT_MINE;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || eol - sp2 != 9 || memcmp(sp2 + 1, "HTTP/", 5))
		return CB_CLS_NOT_MINE;
	if (memcmp(sp2 + 1, "HTTP/1.", 7) || (sp2[8] != '0' && sp2[8] != '1'))
		return CB_CLS_MALFORMED;                /* HTTP, but not 1.0/1.1 */
	ri->http_minor = sp2[8] - '0';
	memcpy(ri->method, p, ml);
	ri->method[ml] = 0;
	t = sp1 + 1;
	tl = (size_t)(sp2 - t);
	if (tl == 0)
		return CB_CLS_MALFORMED;
	if (tl > 7 && (!strncasecmp((const char *)t, "http://", 7) ||
		       (tl > 8 && !strncasecmp((const char *)t, "https://", 8)))) {
		/* absolute-form: the authority is the host, the rest the path */
		const uint8_t *a = t + (t[4] == ':' ? 7 : 8), *slash;

		slash = memchr(a, '/', (size_t)(sp2 - a));
		if (set_host(ri, a, (size_t)((slash ? slash : sp2) - a)))
			return CB_CLS_MALFORMED;
		*host_from_target = 1;
		t = slash ? slash : (const uint8_t *)"/";
		tl = slash ? (size_t)(sp2 - slash) : 1;
	}
	if (tl >= sizeof(ri->path))
		tl = sizeof(ri->path) - 1;      /* long paths match by prefix */
	memcpy(ri->path, t, tl);
	ri->path[tl] = 0;
	return CB_CLS_DONE;
}

/*
 * Only the first HTTP_MAX_HEAD bytes are read: a head must be complete within
 * them, or it is MALFORMED once more bytes than that are there.  So the answer
 * depends on those bytes alone, not on how many arrived at once: the answer to
 * a prefix is final (a 70 KB head was DONE when it came in one piece and
 * MALFORMED when its first 64 KiB came first).
 */
enum cb_cls cb_classify_http(const uint8_t *buf, size_t len, struct cb_request_info *ri)
{
	int over = len > HTTP_MAX_HEAD;
	const uint8_t *p = buf, *end = buf + (over ? HTTP_MAX_HEAD : len), *eol, *next;
	int host_from_target = 0, hosts = 0;
	enum cb_cls r;
	size_t i;

	memset(ri, 0, sizeof(*ri));
	/* a method token is the only thing that can start a request */
	for (i = 0; i < len && i < 16 && buf[i] != ' '; i++)
		if (!is_tchar(buf[i]))
			return CB_CLS_NOT_MINE;
	if (len && buf[0] == '\r')
		return CB_CLS_NOT_MINE;
	eol = line_end(p, end, &next);
	if (!eol)
		return over ? CB_CLS_MALFORMED : CB_CLS_NEED_MORE;
	r = http_request_line(p, eol, ri, &host_from_target);
	if (r != CB_CLS_DONE)
		return r;
	p = next;
	for (;;) {
		const uint8_t *colon, *v, *ve;

		eol = line_end(p, end, &next);
		if (!eol)
			return over ? CB_CLS_MALFORMED : CB_CLS_NEED_MORE;
		if (eol == p)
			break;                          /* the empty line: head complete */
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p)
			return CB_CLS_MALFORMED;
		for (v = p; v < colon; v++)
			if (!is_tchar(*v))
				return CB_CLS_MALFORMED;    /* incl. space before ':' */
		v = colon + 1;
		ve = eol;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if (colon - p == 4 && !strncasecmp((const char *)p, "host", 4)) {
			if (++hosts > 1)
				return CB_CLS_MALFORMED;    /* RFC 9112 3.2 */
			if (!host_from_target && set_host(ri, v, (size_t)(ve - v)))
				return CB_CLS_MALFORMED;
		}
		p = next;
	}
	if (!hosts && ri->http_minor == 1 && !host_from_target)
		return CB_CLS_MALFORMED;                /* HTTP/1.1 requires Host */
	ri->proto = CB_PROTO_HTTP;
	ri->head_len = (size_t)(next - buf);
	return CB_CLS_DONE;
}

/* ---- TLS ClientHello (RFC 8446 4.1.2, RFC 6066 3, RFC 7301) ----------- */

#define TLS_MAX_HELLO 65536             /* handshake bytes we are willing to gather */

struct rd {
	const uint8_t *p;
	size_t n;
	int bad;
};

static uint32_t rd_u(struct rd *r, size_t bytes)
{
	uint32_t v = 0;
	size_t i;

	if (r->bad || r->n < bytes) {
		r->bad = 1;
		return 0;
	}
	for (i = 0; i < bytes; i++)
		v = v << 8 | r->p[i];
	r->p += bytes;
	r->n -= bytes;
	return v;
}

static struct rd rd_sub(struct rd *r, size_t len)
{
	struct rd s = { r->p, len, 0 };

	if (r->bad || r->n < len) {
		r->bad = 1;
		s.bad = 1;
		s.n = 0;
		return s;
	}
	r->p += len;
	r->n -= len;
	return s;
}

static void tls_ext_sni(struct rd e, struct cb_request_info *ri)
{
	struct rd list = rd_sub(&e, rd_u(&e, 2));

	while (!list.bad && list.n) {
		uint32_t type = rd_u(&list, 1);
		struct rd name = rd_sub(&list, rd_u(&list, 2));

		/* a name that would not be itself as a C string (a NUL in it:
		 * "api.example\0.other" read as "api.example") is skipped, as a
		 * name too long for ri->sni is */
		if (!name.bad && type == 0 && name.n && name.n < sizeof(ri->sni) &&
		    !memchr(name.p, 0, name.n)) {
			copy_lower(ri->sni, sizeof(ri->sni), name.p, name.n);
			return;
		}
	}
}

static void tls_ext_alpn(struct rd e, struct cb_request_info *ri)
{
	struct rd list = rd_sub(&e, rd_u(&e, 2));

	while (!list.bad && list.n && ri->n_alpn < CB_MAX_ALPN) {
		struct rd proto = rd_sub(&list, rd_u(&list, 1));

		if (proto.bad || !proto.n)
			return;
		if (proto.n < sizeof(ri->alpn[0]) && !memchr(proto.p, 0, proto.n)) {
			memcpy(ri->alpn[ri->n_alpn], proto.p, proto.n);
			ri->alpn[ri->n_alpn][proto.n] = 0;
			ri->n_alpn++;
		}
	}
}

static enum cb_cls tls_client_hello(const uint8_t *msg, size_t len, struct cb_request_info *ri)
{
	struct rd r = { msg, len, 0 }, ext;

	rd_u(&r, 2);                            /* legacy_version */
	rd_sub(&r, 32);                         /* random */
	rd_sub(&r, rd_u(&r, 1));                /* legacy_session_id */
	rd_sub(&r, rd_u(&r, 2));                /* cipher_suites */
	rd_sub(&r, rd_u(&r, 1));                /* legacy_compression_methods */
	if (r.bad)
		return CB_CLS_MALFORMED;
	ri->proto = CB_PROTO_TLS;
	if (!r.n)
		return CB_CLS_DONE;             /* no extensions: no SNI, no ALPN */
	ext = rd_sub(&r, rd_u(&r, 2));
	while (!ext.bad && ext.n) {
		uint32_t type = rd_u(&ext, 2);
		struct rd body = rd_sub(&ext, rd_u(&ext, 2));

		if (body.bad)
			break;
		if (type == 0)
			tls_ext_sni(body, ri);
		else if (type == 16)
			tls_ext_alpn(body, ri);
	}
	return ext.bad || r.bad ? CB_CLS_MALFORMED : CB_CLS_DONE;
}

enum cb_cls cb_classify_tls(const uint8_t *buf, size_t len, struct cb_request_info *ri)
{
	static __thread uint8_t hs[TLS_MAX_HELLO];
	size_t off = 0, have = 0, need = 0;

	memset(ri, 0, sizeof(*ri));
	if (len >= 1 && buf[0] != 0x16)
		return CB_CLS_NOT_MINE;
	if (len >= 2 && buf[1] != 0x03)
		return CB_CLS_NOT_MINE;
	/* gather the handshake message from as many records as it spans */
	for (;;) {
		size_t rl;

		if (len - off < 5)
			return CB_CLS_NEED_MORE;
		if (buf[off] != 0x16 || buf[off + 1] != 0x03)
			return CB_CLS_MALFORMED;
		rl = (size_t)buf[off + 3] << 8 | buf[off + 4];
		if (rl == 0 || rl > 16384 + 256)
			return CB_CLS_MALFORMED;
		if (len - off - 5 < rl)
			return CB_CLS_NEED_MORE;
		if (have + rl > sizeof(hs))
			return CB_CLS_MALFORMED;
		memcpy(hs + have, buf + off + 5, rl);
		have += rl;
		off += 5 + rl;
		if (!need && have >= 4) {
			if (hs[0] != 1)
				return CB_CLS_MALFORMED;        /* not a ClientHello */
			need = 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]);
			if (need > sizeof(hs))
				return CB_CLS_MALFORMED;
		}
		if (need && have >= need)
			break;
	}
	ri->head_len = off;
	return tls_client_hello(hs + 4, need - 4, ri);
}

enum cb_cls cb_classify(const uint8_t *buf, size_t len, struct cb_request_info *ri)
{
	enum cb_cls r = cb_classify_tls(buf, len, ri);

	if (r != CB_CLS_NOT_MINE)
		return r;
	return cb_classify_http(buf, len, ri);
}

int cb_host_match(const char *pattern, const char *host)
{
	size_t pl, hl;

	if (!pattern || !host || !*host)
		return 0;
	if (pattern[0] == '*' && pattern[1] == '.') {
		pl = strlen(pattern + 1);       /* ".example.com" */
		hl = strlen(host);
		return hl > pl && !strcasecmp(host + hl - pl, pattern + 1);
	}
	return !strcasecmp(pattern, host);
}
