// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the HTTP/1.x classifier (cb_classify_http in
 * user/ctl/classify.c): `make fuzz FUZZ=http`.  The input is a flow's first
 * bytes.  Beyond "no sanitizer report":
 *  - the answer is one of enum cb_cls; every string of cb_request_info ends
 *    within its array; the TLS fields stay empty;
 *  - DONE: proto is HTTP, the head ends with its empty line at head_len
 *    (<= len, <= the 64 KiB bound); the input starts with the method and a
 *    space; the path is the request-target (cut at 1,023 bytes or at a NUL),
 *    or for an absolute-form target what follows its authority ("/" when
 *    nothing does); a host is lower case, free of spaces, '/', '@' and
 *    non-ASCII, and occurs (case-insensitively) in the head; HTTP/1.1 always
 *    has one;
 *  - the caller feeds growing prefixes and stops at the first answer that is
 *    not NEED_MORE (classify.h), so that answer must be final: any prefix
 *    answering something else than NEED_MORE answers exactly what the whole
 *    input does, fields included.  Checked at every cut of short inputs and
 *    at line ends, head_len and spread cuts of longer ones; and once more on
 *    the request with a header padded past the 64 KiB head bound (inputs
 *    that long are out of libFuzzer's reach by themselves);
 *  - the dispatcher (cb_classify) answers as cb_classify_http for anything
 *    that is not TLS, and a request is never taken for TLS.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "ctl/classify.h"

#define HEAD_MAX 65536                  /* HTTP_MAX_HEAD in classify.c */

static struct cb_request_info ri, rj;

static int is_tchar(uint8_t c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int ends_within(const char *s, size_t cap)
{
	return memchr(s, 0, cap) != NULL;
}

static void check_strings(const struct cb_request_info *r)
{
	static const char zero[sizeof(r->alpn)];

	if (!ends_within(r->method, sizeof(r->method)) || !ends_within(r->path, sizeof(r->path)) ||
	    !ends_within(r->host, sizeof(r->host)))
		abort();
	if (r->sni[0] || r->n_alpn || memcmp(r->alpn, zero, sizeof(zero)))
		abort();                        /* HTTP never fills the TLS fields */
	if (r->http_minor != 0 && r->http_minor != 1)
		abort();
}

/* Does s (lower case) occur in b[0..n) ignoring case? */
static int occurs_nocase(const uint8_t *b, size_t n, const char *s)
{
	size_t l = strlen(s), i, j;

	for (i = 0; l && i + l <= n; i++) {
		for (j = 0; j < l && tolower(b[i + j]) == (unsigned char)s[j]; j++)
			;
		if (j == l)
			return 1;
	}
	return 0;
}

/* The path as the classifier promises it: the target (or the part after an
 * absolute-form authority), cut at sizeof(path) - 1 or at a NUL byte. */
static void check_path(const uint8_t *t, size_t tl, const char *path)
{
	size_t pl = strlen(path), want;

	if ((tl > 7 && !strncasecmp((const char *)t, "http://", 7)) ||
	    (tl > 8 && !strncasecmp((const char *)t, "https://", 8))) {
		const uint8_t *a = t + (t[4] == ':' ? 7 : 8);
		const uint8_t *slash = memchr(a, '/', tl - (size_t)(a - t));

		if (!slash) {
			if (strcmp(path, "/"))
				abort();
			return;
		}
		tl -= (size_t)(slash - t);
		t = slash;
	}
	want = tl < sizeof(ri.path) - 1 ? tl : sizeof(ri.path) - 1;
	if (pl > want || memcmp(t, path, pl) || (pl < want && t[pl] != 0))
		abort();
}

static void check_done(const uint8_t *d, size_t n, const struct cb_request_info *r)
{
	size_t h = r->head_len, ml = strlen(r->method), i;
	const uint8_t *lf, *eol;

	if (r->proto != CB_PROTO_HTTP || h < 4 || h > n || h > HEAD_MAX)
		abort();
	/* the head ends with its empty line: "\n\n" or "\n\r\n" */
	if (d[h - 1] != '\n' || !(d[h - 2] == '\n' || (d[h - 2] == '\r' && d[h - 3] == '\n')))
		abort();
	/* request line: METHOD SP target SP HTTP/1.x */
	if (!ml || ml >= sizeof(r->method) || memcmp(d, r->method, ml) || d[ml] != ' ')
		abort();
	for (i = 0; i < ml; i++)
		if (!is_tchar(d[i]))
			abort();
	lf = memchr(d, '\n', h);
	eol = lf > d && lf[-1] == '\r' ? lf - 1 : lf;
	if (eol - d < (ptrdiff_t)ml + 11 || memcmp(eol - 9, " HTTP/1.", 8) ||
	    eol[-1] != '0' + r->http_minor)
		abort();
	check_path(d + ml + 1, (size_t)(eol - 9 - (d + ml + 1)), r->path);
	if (r->http_minor == 1 && !r->host[0])
		abort();                        /* 1.1 requires a Host */
	for (i = 0; r->host[i]; i++) {
		uint8_t c = (uint8_t)r->host[i];

		if (c <= ' ' || c >= 0x7f || c == '/' || c == '@' || isupper(c))
			abort();
	}
	if (r->host[0] && !occurs_nocase(d, h, r->host))
		abort();
}

/* An answer given for a prefix must be the answer for the whole input. */
static void check_prefix(const uint8_t *d, size_t k, enum cb_cls full)
{
	enum cb_cls r = cb_classify_http(d, k, &rj);

	if (r == CB_CLS_NEED_MORE)
		return;
	if (r != full || memcmp(&rj, &ri, sizeof(ri)))
		abort();
}

static void check_prefixes(const uint8_t *d, size_t n, enum cb_cls full, uint64_t seed)
{
	size_t k, lines = 0;
	int i;

	if (n <= 128) {
		for (k = 0; k < n; k++)
			check_prefix(d, k, full);
		return;
	}
	for (k = 0; k < n && lines < 64; k++)
		if (d[k] == '\n') {
			check_prefix(d, k, full);       /* between CR and LF */
			check_prefix(d, k + 1, full);
			lines++;
		}
	if (full == CB_CLS_DONE) {
		check_prefix(d, ri.head_len - 1, full);
		check_prefix(d, ri.head_len, full);
	}
	for (i = 0; i < 8; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		check_prefix(d, (size_t)(seed >> 33) % n, full);
	}
}

/*
 * The same request with a header "X-Pad: aaa..." past the head bound after
 * its request line: answers for its prefixes must be final too.
 */
static void check_padded(const uint8_t *d, size_t n)
{
	static uint8_t big[HEAD_MAX + 8192 + 64];
	const uint8_t *lf = memchr(d, '\n', n);
	size_t first = (size_t)(lf - d) + 1, pad = HEAD_MAX, m = 0;
	enum cb_cls full;

	if (n + pad + 16 > sizeof(big))
		return;
	memcpy(big, d, first);
	m = first;
	memcpy(big + m, "X-Pad: ", 7);
	m += 7;
	memset(big + m, 'a', pad);
	m += pad;
	memcpy(big + m, "\r\n", 2);
	m += 2;
	memcpy(big + m, d + first, n - first);
	m += n - first;
	full = cb_classify_http(big, m, &ri);
	if (full == CB_CLS_DONE)
		check_done(big, m, &ri);
	check_prefix(big, HEAD_MAX, full);
	check_prefix(big, HEAD_MAX + 1, full);
	check_prefix(big, m - 1, full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum cb_cls r = cb_classify_http(data, size, &ri), t;
	uint64_t seed = size;
	size_t i;

	if (r != CB_CLS_NEED_MORE && r != CB_CLS_DONE && r != CB_CLS_NOT_MINE &&
	    r != CB_CLS_MALFORMED)
		abort();
	check_strings(&ri);
	if (r == CB_CLS_DONE)
		check_done(data, size, &ri);
	else if (ri.proto != CB_PROTO_NONE || ri.head_len)
		abort();
	for (i = 0; i < size && i < 32; i++)
		seed = seed * 31 + data[i];
	check_prefixes(data, size, r, seed);

	/* the dispatcher: TLS first, then HTTP */
	t = cb_classify_tls(data, size, &rj);
	if (r == CB_CLS_DONE && t != CB_CLS_NOT_MINE)
		abort();                        /* a request is not a ClientHello */
	if (t == CB_CLS_NOT_MINE) {
		if (cb_classify(data, size, &rj) != r || memcmp(&rj, &ri, sizeof(ri)))
			abort();
	}

	if (r == CB_CLS_DONE && size <= 8192)
		check_padded(data, ri.head_len);
	return 0;
}
