// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Socket image codec: round trips, the documented byte layout (offsets
 * written here again from docs/socket-image.md, on purpose), and every way
 * a damaged or hostile image is refused, each with its documented errno.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "repair/image.h"

static const uint8_t rq[] = "GET / HTTP/1.1\r\n\r\n";
static const uint8_t sq[] = "sent, not acknowledged";
static const uint8_t uq[] = "never sent";

static void sample(struct cb_sock_state *st, int family)
{
	memset(st, 0, sizeof(*st));
	if (family == AF_INET6) {
		st->local.in6.sin6_family = AF_INET6;
		inet_pton(AF_INET6, "2001:db8::1", &st->local.in6.sin6_addr);
		st->local.in6.sin6_port = htons(443);
		st->peer.in6.sin6_family = AF_INET6;
		inet_pton(AF_INET6, "2001:db8::ffff:2", &st->peer.in6.sin6_addr);
		st->peer.in6.sin6_port = htons(51234);
	} else {
		st->local.in4.sin_family = AF_INET;
		st->local.in4.sin_addr.s_addr = htonl(0xc6120001);
		st->local.in4.sin_port = htons(80);
		st->peer.in4.sin_family = AF_INET;
		st->peer.in4.sin_addr.s_addr = htonl(0xc6120064);
		st->peer.in4.sin_port = htons(40000);
	}
	st->tcp_state = 1;
	st->opts = CB_OPT_SACK | CB_OPT_TS | CB_OPT_WSCALE;
	st->flags = CB_SOCK_RTT_PROBE;
	st->snd_wscale = 7;
	st->rcv_wscale = 10;
	st->mss = 1460;
	st->snd_una = 0xfffffff1u;
	st->rcv_seq = 0x01020304;
	st->tsval = 0x80000001u;
	st->win = (struct tcp_repair_window){ 0x11111111, 65535, 70000, 64000, 0x22222222 };
	st->rcvq = rq;
	st->rcvq_len = sizeof(rq);
	st->sndq = sq;
	st->sndq_len = sizeof(sq);
	st->unsent = uq;
	st->unsent_len = sizeof(uq);
}

static size_t encode(const struct cb_sock_state *st, uint8_t *buf, size_t cap)
{
	ssize_t n = cb_image_encode(st, buf, cap);

	cr_assert_gt(n, 0, "encode: %s", strerror((int)-n));
	cr_assert_eq((size_t)n, cb_image_size(st));
	return (size_t)n;
}

static void expect_same(const struct cb_sock_state *a, const struct cb_sock_state *b)
{
	cr_expect_eq(memcmp(&a->local, &b->local, cb_sockaddr_len(&a->local)), 0);
	cr_expect_eq(memcmp(&a->peer, &b->peer, cb_sockaddr_len(&a->peer)), 0);
	cr_expect_eq(a->tcp_state, b->tcp_state);
	cr_expect_eq(a->opts, b->opts);
	cr_expect_eq(a->flags, b->flags);
	cr_expect_eq(a->snd_wscale, b->snd_wscale);
	cr_expect_eq(a->rcv_wscale, b->rcv_wscale);
	cr_expect_eq(a->mss, b->mss);
	cr_expect_eq(a->snd_una, b->snd_una);
	cr_expect_eq(a->rcv_seq, b->rcv_seq);
	cr_expect_eq(a->tsval, b->tsval);
	cr_expect_eq(memcmp(&a->win, &b->win, sizeof(a->win)), 0);
	cr_expect_eq(a->rcvq_len, b->rcvq_len);
	cr_expect_eq(a->sndq_len, b->sndq_len);
	cr_expect_eq(a->unsent_len, b->unsent_len);
	cr_expect_eq(memcmp(a->rcvq, b->rcvq, a->rcvq_len), 0);
	cr_expect_eq(memcmp(a->sndq, b->sndq, a->sndq_len), 0);
	cr_expect_eq(memcmp(a->unsent, b->unsent, a->unsent_len), 0);
}

static void round_trip(int family)
{
	struct cb_sock_state st, out;
	uint8_t buf[256];
	size_t n;

	sample(&st, family);
	n = encode(&st, buf, sizeof(buf));
	cr_assert_eq(cb_image_decode(buf, n, &out), 0);
	expect_same(&st, &out);
	cr_expect_eq(out.local.sa.sa_family, family);
	/* zero-copy: the queues are the image's own bytes, in order */
	cr_expect_eq(out.rcvq, buf + CB_IMAGE_HDR_LEN);
	cr_expect_eq(out.sndq, out.rcvq + sizeof(rq));
	cr_expect_eq(out.unsent, out.sndq + sizeof(sq));
}

Test(image, round_trip_ipv4)
{
	round_trip(AF_INET);
}

Test(image, round_trip_ipv6)
{
	round_trip(AF_INET6);
}

Test(image, empty_queues_decode_to_null)
{
	struct cb_sock_state st, out;
	uint8_t buf[CB_IMAGE_HDR_LEN];

	sample(&st, AF_INET);
	st.rcvq_len = st.sndq_len = st.unsent_len = 0;
	st.opts = 0;                    /* no timestamps: no clock carried */
	cr_assert_eq(encode(&st, buf, sizeof(buf)), CB_IMAGE_HDR_LEN);
	cr_assert_eq(cb_image_decode(buf, sizeof(buf), &out), 0);
	cr_expect_null(out.rcvq);
	cr_expect_null(out.sndq);
	cr_expect_null(out.unsent);
	cr_expect_eq(out.tsval, 0);
}

/* The documented table, byte for byte (big-endian everywhere). */
Test(image, layout_is_the_documented_one)
{
	static const uint8_t want[CB_IMAGE_HDR_LEN] = {
		'C', 'B', 'S', 'I', 1, 0, 0, 104,       /* magic, major, minor, hdr_len */
		0, 0, 0, 0x1f, 4, 1, 0x07, 0x01,        /* valid, family, state, opts, flags */
		7, 10, 0x05, 0xb4,                      /* wscales, mss 1460 */
		198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		198, 18, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 80, 0x9c, 0x40,                      /* ports 80, 40000 */
		0xff, 0xff, 0xff, 0xf1, 1, 2, 3, 4,     /* snd_una, rcv_seq */
		0x80, 0, 0, 1,                          /* tsval */
		0x11, 0x11, 0x11, 0x11, 0, 0, 0xff, 0xff, 0, 1, 0x11, 0x70,
		0, 0, 0xfa, 0, 0x22, 0x22, 0x22, 0x22,  /* the window */
		0, 0, 0, sizeof(rq), 0, 0, 0, sizeof(sq), 0, 0, 0, sizeof(uq),
		0, 0, 0, 0,                             /* reserved */
	};
	struct cb_sock_state st;
	uint8_t buf[256];
	size_t n;

	sample(&st, AF_INET);
	n = encode(&st, buf, sizeof(buf));
	cr_assert_eq(n, sizeof(want) + sizeof(rq) + sizeof(sq) + sizeof(uq));
	cr_expect_eq(memcmp(buf, want, sizeof(want)), 0);
	cr_expect_eq(memcmp(buf + sizeof(want), rq, sizeof(rq)), 0);
	cr_expect_eq(memcmp(buf + n - sizeof(uq), uq, sizeof(uq)), 0);
}

Test(image, every_truncation_is_refused)
{
	struct cb_sock_state st, out;
	uint8_t buf[256];
	size_t n, len;

	sample(&st, AF_INET6);
	n = encode(&st, buf, sizeof(buf));
	for (len = 0; len < n; len++)
		cr_expect_eq(cb_image_decode(buf, len, &out), -EBADMSG, "%zu of %zu bytes", len, n);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The sample's image, in buf; returns its length. */
static size_t sample_image(uint8_t *buf, size_t cap)
{
	struct cb_sock_state st;

	sample(&st, AF_INET);
	memset(buf, 0, cap);
	return encode(&st, buf, cap);
}

/* One byte of a valid image set to another value, and what decode says. */
static const struct patch {
	const char *what;
	size_t off;
	uint8_t val;
	int err;
} patches[] = {
	{ "bad magic", 3, 'J', -EBADMSG },
	{ "header length below 104", 7, 100, -EBADMSG },
	{ "header length past the end", 6, 0xff, -EBADMSG },
	{ "header length 108: queues no longer add up", 7, 108, -EBADMSG },
	{ "receive queue past the end", 91, sizeof(rq) + 1, -EBADMSG },
	{ "unsent queue short of the end", 99, sizeof(uq) - 1, -EBADMSG },
	{ "major version 2", 4, 2, -EPROTONOSUPPORT },
	{ "major version 0", 4, 0, -EPROTONOSUPPORT },
	{ "reserved field", 103, 1, -EPROTO },
	{ "unknown flag", 15, 0x81, -EPROTO },
	{ "unknown option", 14, 0x0f, -EPROTO },
	{ "IPv4 address padding", 36 + 15, 1, -EPROTO },
	{ "family 5", 12, 5, -EPROTO },
	{ "family AF_INET6: 4 or 6, not a host's AF_*", 12, AF_INET6, -EPROTO },
	{ "state LISTEN", 13, 10, -EPROTO },
	{ "state 200", 13, 200, -EPROTO },
	{ "snd_wscale 15", 16, 15, -EPROTO },
	{ "rcv_wscale 15", 17, 15, -EPROTO },
	{ "MSS 87", 19, 87, -EPROTO },
	{ "window group missing", 11, 0x0f, -EPROTO },
	{ "TS clock without the TS option", 14, CB_OPT_SACK | CB_OPT_WSCALE, -EPROTO },
	{ "minor version 7", 5, 7, 0 },
	{ "a group of a later minor version", 10, 0x80, 0 },
};

Test(image, damaged_images_are_refused_with_the_documented_errno)
{
	struct cb_sock_state out;
	uint8_t buf[256];
	size_t i, n;

	for (i = 0; i < sizeof(patches) / sizeof(patches[0]); i++) {
		const struct patch *p = &patches[i];

		n = sample_image(buf, sizeof(buf));
		if (p->off == 19)
			buf[18] = 0;    /* MSS is two bytes */
		buf[p->off] = p->val;
		cr_expect_eq(cb_image_decode(buf, n, &out), p->err, "%s", p->what);
	}
}

Test(image, trailing_bytes_are_ebadmsg)
{
	struct cb_sock_state out;
	uint8_t buf[256];
	size_t n = sample_image(buf, sizeof(buf));

	cr_expect_eq(cb_image_decode(buf, n + 1, &out), -EBADMSG);
}

Test(image, queue_lengths_that_wrap_are_ebadmsg)
{
	struct cb_sock_state out;
	uint8_t buf[256];
	size_t n = sample_image(buf, sizeof(buf));

	/* the sum wraps to the right value in 32 bits */
	put32(buf + 88, 0xffffffff);
	put32(buf + 92, 0xffffffff);
	put32(buf + 96, (uint32_t)(n - CB_IMAGE_HDR_LEN) + 2);
	cr_expect_eq(cb_image_decode(buf, n, &out), -EBADMSG);
}

/* A 1.1 image: 8 bytes of new fields between the 1.0 header and the queues. */
Test(image, appended_fields_are_skipped)
{
	struct cb_sock_state st, out;
	uint8_t buf[300], img[300];
	size_t n;

	sample(&st, AF_INET6);
	n = encode(&st, buf, sizeof(buf));
	memcpy(img, buf, CB_IMAGE_HDR_LEN);
	memset(img + CB_IMAGE_HDR_LEN, 0xee, 8);
	memcpy(img + CB_IMAGE_HDR_LEN + 8, buf + CB_IMAGE_HDR_LEN, n - CB_IMAGE_HDR_LEN);
	img[5] = 1;
	img[7] = CB_IMAGE_HDR_LEN + 8;
	cr_assert_eq(cb_image_decode(img, n + 8, &out), 0);
	expect_same(&st, &out);
}

Test(image, queue_over_the_bound_is_eproto)
{
	size_t q = CB_IMAGE_QUEUE_MAX + 1, n = CB_IMAGE_HDR_LEN + q;
	uint8_t *buf = calloc(1, n);    /* untouched pages: no real memory */
	struct cb_sock_state st, out;

	cr_assert_not_null(buf);
	sample(&st, AF_INET);
	st.rcvq_len = st.sndq_len = st.unsent_len = 0;
	encode(&st, buf, CB_IMAGE_HDR_LEN);
	put32(buf + 88, (uint32_t)q);
	cr_expect_eq(cb_image_decode(buf, n, &out), -EPROTO);
	/* nor would encode write one */
	st.rcvq_len = q;
	cr_expect_eq(cb_image_encode(&st, buf, n), -EINVAL);
	free(buf);
}

Test(image, encode_refuses_what_decode_would)
{
	struct cb_sock_state st;
	uint8_t buf[256];

	sample(&st, AF_INET);
	st.snd_wscale = 15;
	cr_expect_eq(cb_image_encode(&st, buf, sizeof(buf)), -EINVAL);
	sample(&st, AF_INET);
	st.local.sa.sa_family = AF_UNIX;
	cr_expect_eq(cb_image_encode(&st, buf, sizeof(buf)), -EINVAL);
	sample(&st, AF_INET6);
	st.peer.sa.sa_family = AF_INET;
	cr_expect_eq(cb_image_encode(&st, buf, sizeof(buf)), -EINVAL, "mixed families");
}

Test(image, too_small_a_buffer_is_enospc_and_untouched)
{
	struct cb_sock_state st;
	uint8_t buf[256];
	size_t size, i;

	sample(&st, AF_INET6);
	size = cb_image_size(&st);
	cr_assert_lt(size, sizeof(buf));
	memset(buf, 0xa5, sizeof(buf));
	cr_expect_eq(cb_image_encode(&st, buf, size - 1), -ENOSPC);
	cr_expect_eq(cb_image_encode(&st, buf, 0), -ENOSPC);
	for (i = 0; i < sizeof(buf); i++)
		cr_assert_eq(buf[i], 0xa5, "byte %zu written", i);
}

/*
 * Found by fuzz_image: without timestamps the tsval bytes carry nothing
 * (valid has no TS group), yet decode returned them, and since encode writes
 * zero there, decode(encode(decode(image))) differed from decode(image).
 * They now decode as zero, so a decoded state re-encodes to itself.
 */
Test(image, tsval_without_timestamps_is_not_read)
{
	struct cb_sock_state st, out, again;
	uint8_t buf[256], buf2[256];
	size_t n;

	sample(&st, AF_INET);
	st.opts = CB_OPT_SACK | CB_OPT_WSCALE;  /* no timestamps */
	n = encode(&st, buf, sizeof(buf));
	put32(buf + 64, 0x04000000);            /* a sender's leftover */
	cr_assert_eq(cb_image_decode(buf, n, &out), 0);
	cr_expect_eq(out.tsval, 0);
	cr_assert_eq(cb_image_encode(&out, buf2, sizeof(buf2)), (ssize_t)n);
	cr_assert_eq(cb_image_decode(buf2, n, &again), 0);
	expect_same(&out, &again);
	/* with timestamps the value is the image's */
	sample(&st, AF_INET);
	n = encode(&st, buf, sizeof(buf));
	put32(buf + 64, 0x04000000);
	cr_assert_eq(cb_image_decode(buf, n, &out), 0);
	cr_expect_eq(out.tsval, 0x04000000);
}
