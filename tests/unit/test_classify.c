// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* HTTP/1.x and TLS ClientHello classification on whole, split, pipelined,
 * oversized and malformed input. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl/classify.h"

#define S(x) (const uint8_t *)(x), strlen(x)

Test(http, simple_request)
{
	struct cb_request_info ri;
	const char *r = "GET /api/v1/items?id=3 HTTP/1.1\r\nHost: Shop.Example:8080\r\n"
			"User-Agent: t\r\n\r\n";

	cr_assert_eq(cb_classify_http(S(r), &ri), CB_CLS_DONE);
	cr_expect_eq(ri.proto, CB_PROTO_HTTP);
	cr_expect_str_eq(ri.method, "GET");
	cr_expect_str_eq(ri.path, "/api/v1/items?id=3");
	cr_expect_str_eq(ri.host, "shop.example");
	cr_expect_eq(ri.http_minor, 1);
	cr_expect_eq(ri.head_len, strlen(r));
}

Test(http, every_split_point_needs_more_until_complete)
{
	struct cb_request_info ri;
	const char *r = "POST /upload HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\n";
	size_t i, n = strlen(r);

	for (i = 0; i < n; i++)
		cr_expect_eq(cb_classify_http((const uint8_t *)r, i, &ri), CB_CLS_NEED_MORE,
			     "prefix %zu", i);
	cr_expect_eq(cb_classify_http((const uint8_t *)r, n, &ri), CB_CLS_DONE);
}

Test(http, pipelined_and_body_bytes_after_head)
{
	struct cb_request_info ri;
	const char *r = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: y\r\n\r\n";

	cr_assert_eq(cb_classify_http(S(r), &ri), CB_CLS_DONE);
	cr_expect_str_eq(ri.path, "/a");
	cr_expect_str_eq(ri.host, "x");
	cr_expect_eq(ri.head_len, strlen("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"));
}

Test(http, absolute_form_and_bare_lf_and_http10)
{
	struct cb_request_info ri;

	cr_assert_eq(cb_classify_http(S("GET http://Proxy.Example:81/p/q HTTP/1.1\r\nHost: other\r\n\r\n"),
				      &ri), CB_CLS_DONE);
	cr_expect_str_eq(ri.host, "proxy.example");
	cr_expect_str_eq(ri.path, "/p/q");
	cr_assert_eq(cb_classify_http(S("GET / HTTP/1.0\n\n"), &ri), CB_CLS_DONE);
	cr_expect_eq(ri.http_minor, 0);
	cr_expect_str_eq(ri.host, "");
}

Test(http, malformed_and_foreign)
{
	struct cb_request_info ri;

	cr_expect_eq(cb_classify_http(S("GET / HTTP/1.1\r\n\r\n"), &ri), CB_CLS_MALFORMED,
		     "1.1 without Host");
	cr_expect_eq(cb_classify_http(S("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), &ri),
		     CB_CLS_MALFORMED, "two Hosts");
	cr_expect_eq(cb_classify_http(S("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), &ri),
		     CB_CLS_MALFORMED, "space before colon");
	cr_expect_eq(cb_classify_http(S("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), &ri), CB_CLS_MALFORMED);
	cr_expect_eq(cb_classify_http(S("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), &ri),
		     CB_CLS_MALFORMED, "space in host");
	cr_expect_eq(cb_classify_http(S("SSH-2.0-OpenSSH_9.2\r\n"), &ri), CB_CLS_NOT_MINE);
	cr_expect_eq(cb_classify_http(S("\x16\x03\x01"), &ri), CB_CLS_NOT_MINE);
	cr_expect_eq(cb_classify_http(S("HELO mail.example\r\n"), &ri), CB_CLS_NOT_MINE);
}

Test(http, oversized_head_is_bounded)
{
	struct cb_request_info ri;
	size_t n = 70000, i;
	uint8_t *b = malloc(n);
	const char *start = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ";

	memcpy(b, start, strlen(start));
	for (i = strlen(start); i < n; i++)
		b[i] = 'x';
	cr_expect_eq(cb_classify_http(b, n, &ri), CB_CLS_MALFORMED);
	cr_expect_eq(cb_classify_http(b, 60000, &ri), CB_CLS_NEED_MORE);
	free(b);
}

/*
 * Found by fuzz_http: a complete head over the 64 KiB bound was DONE in one
 * piece but MALFORMED when its first 64 KiB came first (and a long line that
 * is no request NOT_MINE or MALFORMED alike): the answer now depends on the
 * first 65,536 bytes only, so the answer to any prefix is final.
 */
Test(http, answer_past_the_head_bound_does_not_depend_on_arrival)
{
	struct cb_request_info ri;
	size_t cap = 70000, n, m, k;
	uint8_t *b = malloc(cap);
	const char *start = "GET /api/x HTTP/1.1\r\nHost: a\r\nX-Pad: ";
	enum cb_cls whole;

	cr_assert_not_null(b);
	n = strlen(start);
	memcpy(b, start, n);
	memset(b + n, 'a', 65600);
	m = n + 65600;
	memcpy(b + m, "\r\n\r\n", 4);
	m += 4;
	whole = cb_classify_http(b, m, &ri);
	cr_expect_eq(whole, CB_CLS_MALFORMED, "a complete head of %zu bytes", m);
	for (k = 65537; k < m; k += 17)
		cr_expect_eq(cb_classify_http(b, k, &ri), whole, "prefix %zu", k);
	cr_expect_eq(cb_classify_http(b, 65536, &ri), CB_CLS_NEED_MORE);

	/* a head of exactly 65,536 bytes is still one */
	m = 65536;
	memset(b + n, 'a', m - n - 4);
	memcpy(b + m - 4, "\r\n\r\n", 4);
	cr_expect_eq(cb_classify_http(b, m, &ri), CB_CLS_DONE);
	cr_expect_eq(ri.head_len, m);
	cr_expect_str_eq(ri.path, "/api/x");

	/* a 69 KB token line: MALFORMED however it arrives */
	memset(b, 'A', 69000);
	memcpy(b + 69000, "\r\n\r\n", 4);
	cr_expect_eq(cb_classify_http(b, 69004, &ri), CB_CLS_MALFORMED);
	cr_expect_eq(cb_classify_http(b, 65537, &ri), CB_CLS_MALFORMED);
	free(b);
}

static size_t load_hello(uint8_t *buf, size_t cap)
{
	FILE *f = fopen("tests/unit/data/clienthello-openssl3.bin", "rb");
	size_t n;

	cr_assert_not_null(f, "run from the repository root");
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

Test(tls, real_openssl_client_hello)
{
	uint8_t b[4096];
	struct cb_request_info ri;
	size_t n = load_hello(b, sizeof(b)), i;

	cr_assert_eq(cb_classify_tls(b, n, &ri), CB_CLS_DONE);
	cr_expect_eq(ri.proto, CB_PROTO_TLS);
	cr_expect_str_eq(ri.sni, "shop.example");
	cr_assert_eq(ri.n_alpn, 2);
	cr_expect_str_eq(ri.alpn[0], "h2");
	cr_expect_str_eq(ri.alpn[1], "http/1.1");
	cr_expect_eq(ri.head_len, n);
	/* split anywhere: a prefix always asks for more */
	for (i = 0; i < n; i++)
		cr_expect_eq(cb_classify_tls(b, i, &ri), CB_CLS_NEED_MORE, "prefix %zu", i);
	cr_expect_eq(cb_classify(b, n, &ri), CB_CLS_DONE);
	cr_expect_eq(ri.proto, CB_PROTO_TLS);
}

Test(tls, hello_fragmented_across_records)
{
	uint8_t b[4096], f[4200];
	struct cb_request_info ri;
	size_t n = load_hello(b, sizeof(b)), body = n - 5, cut = 100, m = 0;

	/* same handshake bytes in two records: 100 bytes, then the rest */
	memcpy(f, b, 3);
	f[3] = 0;
	f[4] = (uint8_t)cut;
	memcpy(f + 5, b + 5, cut);
	m = 5 + cut;
	memcpy(f + m, b, 3);
	f[m + 3] = (uint8_t)((body - cut) >> 8);
	f[m + 4] = (uint8_t)(body - cut);
	memcpy(f + m + 5, b + 5 + cut, body - cut);
	m += 5 + body - cut;
	cr_assert_eq(cb_classify_tls(f, m, &ri), CB_CLS_DONE);
	cr_expect_str_eq(ri.sni, "shop.example");
	cr_expect_eq(ri.n_alpn, 2);
	cr_expect_eq(cb_classify_tls(f, m - 1, &ri), CB_CLS_NEED_MORE);
}

/*
 * Found by fuzz_tls: a server_name or ALPN name with a NUL byte in it was
 * reported cut at the NUL, a name the client never sent ("shop\0example" as
 * "shop", which an sni = shop rule matched).  Such names are skipped, as
 * names too long for the fields are.
 */
Test(tls, names_with_a_nul_byte_are_not_reported_cut)
{
	uint8_t b[4096];
	struct cb_request_info ri;
	size_t n = load_hello(b, sizeof(b));
	uint8_t *sni = memmem(b, n, "Shop.Example", 12), *h2 = memmem(b, n, "\x02h2", 3);

	cr_assert(sni && h2);
	sni[4] = 0;                             /* "Shop\0Example" */
	h2[2] = 0;                              /* "h\0" */
	cr_assert_eq(cb_classify_tls(b, n, &ri), CB_CLS_DONE);
	cr_expect_str_eq(ri.sni, "", "got '%s'", ri.sni);
	cr_assert_eq(ri.n_alpn, 1);
	cr_expect_str_eq(ri.alpn[0], "http/1.1");
}

Test(tls, malformed_lengths)
{
	uint8_t b[4096];
	struct cb_request_info ri;
	size_t n = load_hello(b, sizeof(b));

	b[5] = 2;                                /* ServerHello, not ClientHello */
	cr_expect_eq(cb_classify_tls(b, n, &ri), CB_CLS_MALFORMED);
	n = load_hello(b, sizeof(b));
	b[5 + 4 + 2 + 32] = 0xff;                /* session id longer than the message */
	cr_expect_eq(cb_classify_tls(b, n, &ri), CB_CLS_MALFORMED);
	b[0] = 0x17;                             /* application data: not a hello */
	cr_expect_eq(cb_classify_tls(b, n, &ri), CB_CLS_NOT_MINE);
}

Test(match, host_patterns)
{
	cr_expect(cb_host_match("shop.example", "SHOP.example"));
	cr_expect(!cb_host_match("shop.example", "xshop.example"));
	cr_expect(cb_host_match("*.example", "a.example"));
	cr_expect(cb_host_match("*.example", "a.b.example"));
	cr_expect(!cb_host_match("*.example", "example"));
	cr_expect(!cb_host_match("*.example", "aexample"));
	cr_expect(!cb_host_match("shop.example", ""));
}
