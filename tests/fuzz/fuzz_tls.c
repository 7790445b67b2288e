// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the TLS ClientHello classifier (cb_classify_tls in
 * user/ctl/classify.c): `make fuzz FUZZ=tls`.  Seeds: real hellos captured
 * on loopback, re-cut into records and truncated (gen_tls_seeds.c).  Beyond
 * "no sanitizer report":
 *  - the answer is one of enum cb_cls; sni and every ALPN name end within
 *    their arrays, n_alpn is 0..CB_MAX_ALPN and the names past it are empty;
 *    the HTTP fields stay empty; NOT_MINE only when the first two bytes are
 *    not a handshake record's;
 *  - DONE: proto is TLS; head_len is where a record ends, and the records up
 *    to it (reassembled here, independently) hold one ClientHello that is
 *    complete in the last of them; the SNI, if any, is lower case and is a
 *    whole host_name entry of that hello (type 0, its two length bytes equal
 *    to the name's length), and each ALPN name a whole ProtocolName (its
 *    length byte equal to the name's length): nothing cut or altered;
 *  - the answer to a prefix that is not NEED_MORE is the whole input's, with
 *    the same fields (the caller stops at it, classify.h).  Checked at every
 *    cut of short inputs, around every record boundary and at spread cuts of
 *    longer ones;
 *  - the dispatcher (cb_classify) answers as cb_classify_tls unless that is
 *    NOT_MINE, and then as cb_classify_http.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ctl/classify.h"

static struct cb_request_info ri, rj;
static uint8_t hs[1 << 17];

static int ends_within(const char *s, size_t cap)
{
	return memchr(s, 0, cap) != NULL;
}

static void check_fields(const struct cb_request_info *r)
{
	static const char empty_name[sizeof(r->alpn[0])];
	int i;

	if (!ends_within(r->sni, sizeof(r->sni)) || r->n_alpn < 0 || r->n_alpn > CB_MAX_ALPN)
		abort();
	for (i = 0; i < CB_MAX_ALPN; i++) {
		if (!ends_within(r->alpn[i], sizeof(r->alpn[i])))
			abort();
		if (i >= r->n_alpn && memcmp(r->alpn[i], empty_name, sizeof(empty_name)))
			abort();
	}
	if (r->method[0] || r->path[0] || r->host[0] || r->http_minor)
		abort();                        /* TLS never fills the HTTP fields */
}

/* Is s a whole entry of hs[0..n): preceded by its length in lb bytes (and
 * for an SNI by name type 0), equal ignoring case when nocase? */
static int is_entry(const uint8_t *h, size_t n, const char *s, size_t lb, int nocase)
{
	size_t l = strlen(s), i, j;

	for (i = lb + nocase; i + l <= n; i++) {
		size_t len = lb == 2 ? (size_t)h[i - 2] << 8 | h[i - 1] : h[i - 1];

		if (len != l || (nocase && h[i - 3] != 0))
			continue;
		for (j = 0; j < l; j++)
			if ((nocase ? tolower(h[i + j]) : h[i + j]) != (uint8_t)s[j])
				break;
		if (j == l)
			return 1;
	}
	return 0;
}

static void check_done(const uint8_t *d, size_t n, const struct cb_request_info *r)
{
	size_t off = 0, have = 0, last = 0, need = 0, i;

	if (r->proto != CB_PROTO_TLS || r->head_len < 5 + 4 || r->head_len > n)
		abort();
	if (r->head_len > sizeof(hs))
		return;                         /* past -max_len in any run of ours */
	/* the records up to head_len, their bodies concatenated */
	while (off < r->head_len) {
		size_t rl;

		if (r->head_len - off < 5 || d[off] != 0x16 || d[off + 1] != 0x03)
			abort();
		rl = (size_t)d[off + 3] << 8 | d[off + 4];
		if (!rl || r->head_len - off - 5 < rl)
			abort();
		memcpy(hs + have, d + off + 5, rl);
		last = have;
		have += rl;
		off += 5 + rl;
	}
	if (have < 4 || hs[0] != 1)
		abort();
	need = 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]);
	if (have < need || last >= need)
		abort();                        /* complete, and only in the last record */
	for (i = 0; r->sni[i]; i++)
		if (isupper((unsigned char)r->sni[i]))
			abort();
	if (r->sni[0] && !is_entry(hs + 4, need - 4, r->sni, 2, 1))
		abort();
	for (i = 0; i < (size_t)r->n_alpn; i++)
		if (!r->alpn[i][0] || !is_entry(hs + 4, need - 4, r->alpn[i], 1, 0))
			abort();
}

static void check_prefix(const uint8_t *d, size_t k, enum cb_cls full)
{
	enum cb_cls r = cb_classify_tls(d, k, &rj);

	if (r == CB_CLS_NEED_MORE)
		return;
	if (r != full || memcmp(&rj, &ri, sizeof(ri)))
		abort();
}

static void check_prefixes(const uint8_t *d, size_t n, enum cb_cls full, uint64_t seed)
{
	size_t k, off = 0, records = 0;
	int i;

	if (n <= 64) {
		for (k = 0; k < n; k++)
			check_prefix(d, k, full);
		return;
	}
	/* around each record boundary: inside the header, just before the end */
	while (off + 5 <= n && records++ < 32) {
		size_t rl = (size_t)d[off + 3] << 8 | d[off + 4];

		check_prefix(d, off + 4, full);
		check_prefix(d, off + 5, full);
		if (off + 5 + rl > n || !rl)
			break;
		check_prefix(d, off + 5 + rl - 1, full);
		off += 5 + rl;
		if (off < n)
			check_prefix(d, off, full);
	}
	for (i = 0; i < 8; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		check_prefix(d, (size_t)(seed >> 33) % n, full);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum cb_cls r = cb_classify_tls(data, size, &ri), d;
	uint64_t seed = size;
	size_t i;

	if (r != CB_CLS_NEED_MORE && r != CB_CLS_DONE && r != CB_CLS_NOT_MINE &&
	    r != CB_CLS_MALFORMED)
		abort();
	check_fields(&ri);
	if (r == CB_CLS_NOT_MINE && !(data[0] != 0x16 || (size >= 2 && data[1] != 0x03)))
		abort();
	if (r != CB_CLS_NOT_MINE && size && data[0] != 0x16)
		abort();
	if (r == CB_CLS_DONE)
		check_done(data, size, &ri);
	else if (r != CB_CLS_MALFORMED && (ri.proto != CB_PROTO_NONE || ri.head_len))
		abort();
	for (i = 0; i < size && i < 64; i++)
		seed = seed * 31 + data[i];
	check_prefixes(data, size, r, seed);
	if (r == CB_CLS_DONE)
		check_prefix(data, ri.head_len, r);

	d = cb_classify(data, size, &rj);
	if (r != CB_CLS_NOT_MINE) {
		if (d != r || memcmp(&rj, &ri, sizeof(ri)))
			abort();
	} else if (d != cb_classify_http(data, size, &ri) || memcmp(&rj, &ri, sizeof(ri))) {
		abort();
	}
	return 0;
}
