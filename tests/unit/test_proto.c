// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Peer protocol codec: round trips of every type, the header layout written
 * here again from docs/peer-protocol.md (on purpose), every truncation of a
 * valid frame, and each way a damaged or hostile frame is refused with its
 * documented errno.  Frames the encoder cannot write (bad values) are built
 * by hand with the little builder below.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "peer/proto.h"

static uint8_t image[2000];

static void sample_flow(struct cb_msg_flow *f, int family)
{
	memset(f, 0, sizeof(*f));
	f->family = (uint8_t)family;
	if (family == 6) {
		memcpy(f->client, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
		memcpy(f->service, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	} else {
		memcpy(f->client, "\xc6\x12\x00\x64", 4);
		memcpy(f->service, "\xc6\x12\x00\x0a", 4);
	}
	f->client_port = 40000;
	f->service_port = 80;
}

static void sample(struct cb_msg *m, int type)
{
	uint32_t i;

	memset(m, 0, sizeof(*m));
	m->type = (uint8_t)type;
	m->msg_id = 0x01020304u + (uint32_t)type;
	switch (type) {
	case CB_MSG_HELLO:
		m->hello.node_id = 7;
		strcpy(m->hello.cluster, "prod-eu");
		memcpy(m->hello.mac, "\x02\x00\x00\x00\x00\x07", 6);
		m->hello.n_services = 3;
		strcpy(m->hello.services[0], "web");
		strcpy(m->hello.services[1], "api");
		memset(m->hello.services[2], 's', CB_MSG_NAME_MAX);
		break;
	case CB_MSG_LOAD:
		m->load.seq = 0x0102030405060708ull;
		m->load.draining = 1;
		m->load.n_services = 2;
		for (i = 0; i < 2; i++) {
			struct cb_msg_svc_load *s = &m->load.svc[i];

			snprintf(s->name, sizeof(s->name), "svc%u", i);
			s->apps = 1 + i;
			s->capacity = 100 + i;
			s->active = 50 + i;
			s->waiting = 3 + i;
			s->inflight = 0xffffffffu - i;
		}
		break;
	case CB_MSG_SHIP:
	case CB_MSG_MOVE:
		sample_flow(&m->ship.flow, 6);
		m->ship.epoch = 42;
		strcpy(m->ship.service, "web");
		strcpy(m->ship.rule, "api-path");
		strcpy(m->ship.app, "backend");
		m->ship.deadline_ms = 50;
		for (i = 0; i < sizeof(image); i++)
			image[i] = (uint8_t)(i * 7);
		m->ship.image = image;
		m->ship.image_len = sizeof(image);
		/* the app's state blob; MOVE also names a target node */
		m->ship.blob = image + 3;
		m->ship.blob_len = 17;
		if (type == CB_MSG_MOVE)
			m->ship.target = 3;
		break;
	case CB_MSG_DRAIN:
		m->drain.node_id = 9;
		m->drain.draining = 1;
		break;
	default:
		sample_flow(&m->ref.flow, 4);
		m->ref.epoch = 0xfffffffeu;
		if (type == CB_MSG_REFUSED)
			m->ref.reason = CB_REFUSE_FULL;
		if (type == CB_MSG_CLOSED || type == CB_MSG_RESUME)
			m->ref.reason = CB_CLOSED_UNKNOWN;
	}
}

static size_t encode(const struct cb_msg *m, uint8_t *buf, size_t cap)
{
	ssize_t n = cb_msg_encode(m, buf, cap);

	cr_assert_gt(n, 0, "encode %s: %s", cb_msg_type_name(m->type), strerror((int)-n));
	return (size_t)n;
}

/* Two messages are the same when they encode to the same bytes. */
static void expect_same(const struct cb_msg *a, const struct cb_msg *b)
{
	static uint8_t ea[CB_MSG_MAX], eb[CB_MSG_MAX];
	size_t na = encode(a, ea, sizeof(ea)), nb = encode(b, eb, sizeof(eb));

	cr_assert_eq(na, nb);
	cr_expect_eq(memcmp(ea, eb, na), 0);
}

static struct cb_msg dec;
static uint8_t buf[CB_MSG_MAX + 64];

static int decode(const uint8_t *p, size_t len)
{
	return cb_msg_decode(p, len, &dec);
}

Test(proto, round_trip_every_type)
{
	struct cb_msg m;
	int t;

	for (t = CB_MSG_HELLO; t <= CB_MSG_TYPE_MAX; t++) {
		size_t n;

		sample(&m, t);
		n = encode(&m, buf, sizeof(buf));
		cr_assert_eq(decode(buf, n), 0, "%s", cb_msg_type_name(t));
		cr_expect_eq(dec.type, t);
		cr_expect_eq(dec.msg_id, m.msg_id);
		expect_same(&m, &dec);
	}
}

Test(proto, fields_survive)
{
	struct cb_msg m;
	size_t n;

	sample(&m, CB_MSG_HELLO);
	n = encode(&m, buf, sizeof(buf));
	cr_assert_eq(decode(buf, n), 0);
	cr_expect_eq(dec.hello.node_id, 7);
	cr_expect_str_eq(dec.hello.cluster, "prod-eu");
	cr_expect_eq(memcmp(dec.hello.mac, m.hello.mac, 6), 0);
	cr_expect_eq(dec.hello.n_services, 3);
	cr_expect_str_eq(dec.hello.services[1], "api");
	cr_expect_eq(strlen(dec.hello.services[2]), CB_MSG_NAME_MAX);

	sample(&m, CB_MSG_LOAD);
	n = encode(&m, buf, sizeof(buf));
	cr_assert_eq(decode(buf, n), 0);
	cr_expect_eq(dec.load.seq, 0x0102030405060708ull);
	cr_expect_eq(dec.load.n_services, 2);
	cr_expect_str_eq(dec.load.svc[1].name, "svc1");
	cr_expect_eq(dec.load.svc[1].inflight, 0xfffffffeu);
	cr_expect_eq(dec.load.svc[0].capacity, 100);

	sample(&m, CB_MSG_SHIP);
	n = encode(&m, buf, sizeof(buf));
	cr_assert_eq(decode(buf, n), 0);
	cr_expect_eq(memcmp(&dec.ship.flow, &m.ship.flow, sizeof(m.ship.flow)), 0);
	cr_expect_eq(dec.ship.epoch, 42);
	cr_expect_str_eq(dec.ship.rule, "api-path");
	cr_expect_eq(dec.ship.deadline_ms, 50);
	cr_expect_eq(dec.ship.image_len, sizeof(image));
	/* zero-copy: the image is the frame's own bytes */
	cr_expect(dec.ship.image > buf && dec.ship.image + dec.ship.image_len <= buf + n);
	cr_expect_eq(memcmp(dec.ship.image, image, sizeof(image)), 0);

	sample(&m, CB_MSG_REFUSED);
	n = encode(&m, buf, sizeof(buf));
	cr_assert_eq(decode(buf, n), 0);
	cr_expect_eq(dec.ref.reason, CB_REFUSE_FULL);
	cr_expect_eq(dec.ref.epoch, 0xfffffffeu);
	cr_expect_eq(dec.ref.flow.client_port, 40000);

	sample(&m, CB_MSG_CLOSED);              /* REASON optional, kept when set */
	n = encode(&m, buf, sizeof(buf));
	cr_assert_eq(decode(buf, n), 0);
	cr_expect_eq(dec.ref.reason, CB_CLOSED_UNKNOWN);
	m.ref.reason = CB_CLOSED_ENDED;
	cr_assert_eq(decode(buf, encode(&m, buf, sizeof(buf))), 0);
	cr_expect_eq(dec.ref.reason, CB_CLOSED_ENDED);
}

/* The layout of docs/peer-protocol.md, byte by byte, on a COMMIT. */
Test(proto, documented_layout)
{
	static const uint8_t want[] = {
		'C', 'B', 'P', 'M', 1, CB_MSG_COMMIT, 0, 0,     /* magic, version, type, flags */
		0, 0, 0, 60, 0x01, 0x02, 0x03, 0x0a,            /* body_len 60, msg_id */
		0, 12, 0, 0, 0, 0, 0, 40,                       /* FLOW, 40 bytes */
		4, 0, 0, 0, 0xc6, 0x12, 0x00, 0x64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xc6, 0x12, 0x00, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x9c, 0x40, 0x00, 0x50,                         /* ports 40000, 80 */
		0, 13, 0, 0, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfe, /* EPOCH */
	};
	struct cb_msg m;

	sample(&m, CB_MSG_COMMIT);
	cr_assert_eq(encode(&m, buf, sizeof(buf)), sizeof(want));
	cr_expect_eq(memcmp(buf, want, sizeof(want)), 0);
}

Test(proto, empty_rule_and_no_services)
{
	struct cb_msg m;
	size_t n;

	sample(&m, CB_MSG_SHIP);
	m.ship.rule[0] = '\0';
	n = encode(&m, buf, sizeof(buf));
	cr_assert_eq(decode(buf, n), 0);
	cr_expect_str_eq(dec.ship.rule, "");

	sample(&m, CB_MSG_HELLO);
	m.hello.n_services = 0;
	n = encode(&m, buf, sizeof(buf));
	cr_assert_eq(decode(buf, n), 0);
	cr_expect_eq(dec.hello.n_services, 0);

	sample(&m, CB_MSG_LOAD);
	m.load.n_services = 0;
	n = encode(&m, buf, sizeof(buf));
	cr_assert_eq(decode(buf, n), 0);
}

Test(proto, every_truncation_rejected)
{
	struct cb_msg m;
	size_t n, k;
	int t;

	for (t = CB_MSG_HELLO; t <= CB_MSG_TYPE_MAX; t++) {
		sample(&m, t);
		n = encode(&m, buf, sizeof(buf));
		for (k = 0; k < n; k++)
			cr_assert_eq(decode(buf, k), -ENODATA, "%s cut at %zu",
				     cb_msg_type_name(t), k);
		/* and the stream reader's view of the same cuts */
		for (k = 0; k < n; k++)
			cr_assert_eq(cb_msg_peek(buf, k, NULL), k < CB_MSG_HDR_LEN ? 0 : (ssize_t)n);
	}
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Offsets where a top-level TLV starts, and the end. */
static int boundaries(const uint8_t *f, size_t n, size_t *at, int max)
{
	size_t off = CB_MSG_HDR_LEN;
	int k = 0;

	while (off < n && k < max) {
		at[k++] = off;
		off += CB_MSG_TLV_LEN + get32(f + off + 4);
	}
	at[k++] = n;
	return k;
}

static bool is_boundary(const size_t *at, int k, size_t off)
{
	while (k--)
		if (at[k] == off)
			return true;
	return false;
}

/* Cut and re-framed (body_len agrees with the cut): a cut inside a TLV is a
 * bad length; at a TLV boundary the message is shorter, complete or not. */
Test(proto, reframed_truncation)
{
	static uint8_t c[CB_MSG_MAX];
	struct cb_msg m;
	size_t at[64], n, k;
	int t, nb, rc;

	for (t = CB_MSG_HELLO; t <= CB_MSG_TYPE_MAX; t++) {
		sample(&m, t);
		n = encode(&m, buf, sizeof(buf));
		nb = boundaries(buf, n, at, 63);
		for (k = CB_MSG_HDR_LEN; k < n; k++) {
			memcpy(c, buf, k);
			put32(c + 8, (uint32_t)(k - CB_MSG_HDR_LEN));
			rc = cb_msg_decode(c, k, &dec);
			if (is_boundary(at, nb, k))
				cr_assert(rc == 0 || rc == -ENOENT, "%s at %zu: %d",
					  cb_msg_type_name(t), k, rc);
			else
				cr_assert_eq(rc, -EMSGSIZE, "%s at %zu", cb_msg_type_name(t), k);
		}
	}
}

/* ---- frames built by hand ---- */

struct fb {
	uint8_t *p;
	size_t n;
};

static struct fb fb_begin(uint8_t *p, int type)
{
	memcpy(p, "CBPM", 4);
	p[4] = 1;
	p[5] = (uint8_t)type;
	p[6] = p[7] = 0;
	memset(p + 8, 0, 8);
	return (struct fb){ p, CB_MSG_HDR_LEN };
}

static void fb_tlv(struct fb *b, uint16_t tag, const void *v, uint32_t len)
{
	b->p[b->n] = (uint8_t)(tag >> 8);
	b->p[b->n + 1] = (uint8_t)tag;
	b->p[b->n + 2] = b->p[b->n + 3] = 0;
	put32(b->p + b->n + 4, len);
	if (len)
		memcpy(b->p + b->n + 8, v, len);
	b->n += CB_MSG_TLV_LEN + len;
}

static void fb_u32(struct fb *b, uint16_t tag, uint32_t v)
{
	uint8_t x[4];

	put32(x, v);
	fb_tlv(b, tag, x, 4);
}

static void fb_str(struct fb *b, uint16_t tag, const char *s)
{
	fb_tlv(b, tag, s, (uint32_t)strlen(s));
}

static size_t fb_end(struct fb *b)
{
	put32(b->p + 8, (uint32_t)(b->n - CB_MSG_HDR_LEN));
	return b->n;
}

static struct fb hello_head(uint8_t *p)
{
	struct fb b = fb_begin(p, CB_MSG_HELLO);

	fb_u32(&b, CB_TAG_NODE_ID, 3);
	fb_str(&b, CB_TAG_CLUSTER, "c");
	fb_tlv(&b, CB_TAG_MAC, "\x02\0\0\0\0\x03", 6);
	return b;
}

Test(proto, hand_built_hello_decodes)
{
	struct fb b = hello_head(buf);

	fb_str(&b, CB_TAG_SERVICE, "web");
	cr_assert_eq(decode(buf, fb_end(&b)), 0);
	cr_expect_eq(dec.hello.node_id, 3);
	cr_expect_str_eq(dec.hello.services[0], "web");
}

Test(proto, bad_header)
{
	struct cb_msg m;
	size_t n;

	sample(&m, CB_MSG_DONE);
	n = encode(&m, buf, sizeof(buf));

	buf[0] = 'X';
	cr_expect_eq(decode(buf, n), -EBADMSG);
	cr_expect_eq(cb_msg_peek(buf, n, NULL), -EBADMSG);
	buf[0] = 'C';

	buf[4] = 2;
	cr_expect_eq(decode(buf, n), -EPROTONOSUPPORT);
	cr_expect_eq(cb_msg_peek(buf, n, NULL), -EPROTONOSUPPORT);
	buf[4] = 0;
	cr_expect_eq(decode(buf, n), -EPROTONOSUPPORT);
	buf[4] = 1;

	buf[5] = 0;
	cr_expect_eq(decode(buf, n), -ENOMSG);
	buf[5] = CB_MSG_TYPE_MAX + 1;
	cr_expect_eq(decode(buf, n), -ENOMSG);
	buf[5] = 0xff;
	cr_expect_eq(decode(buf, n), -ENOMSG);
	buf[5] = CB_MSG_DONE;

	buf[7] = 1;
	cr_expect_eq(decode(buf, n), -EPROTO);
	buf[7] = 0;

	/* a body_len no frame may have, whatever follows */
	put32(buf + 8, CB_MSG_MAX - CB_MSG_HDR_LEN + 1);
	cr_expect_eq(decode(buf, n), -EMSGSIZE);
	cr_expect_eq(cb_msg_peek(buf, n, NULL), -EMSGSIZE);
	put32(buf + 8, 0xffffffffu);
	cr_expect_eq(decode(buf, n), -EMSGSIZE);
	put32(buf + 8, (uint32_t)(n - CB_MSG_HDR_LEN));

	/* one byte more than the frame */
	cr_expect_eq(decode(buf, n + 1), -EMSGSIZE);
	cr_expect_eq(decode(buf, n), 0);
}

Test(proto, peek_fills_header)
{
	struct cb_msg_hdr h;
	struct cb_msg m;
	size_t n;

	sample(&m, CB_MSG_LOAD);
	n = encode(&m, buf, sizeof(buf));
	cr_assert_eq(cb_msg_peek(buf, CB_MSG_HDR_LEN, &h), (ssize_t)n);
	cr_expect_eq(h.version, 1);
	cr_expect_eq(h.type, CB_MSG_LOAD);
	cr_expect_eq(h.flags, 0);
	cr_expect_eq(h.body_len, n - CB_MSG_HDR_LEN);
	cr_expect_eq(h.msg_id, m.msg_id);
}

Test(proto, bad_tlv_lengths)
{
	struct fb b;
	size_t n;

	/* a TLV header cut short */
	b = hello_head(buf);
	memset(buf + b.n, 0, 5);
	b.n += 5;
	cr_expect_eq(decode(buf, fb_end(&b)), -EMSGSIZE);

	/* a value running past the body */
	b = hello_head(buf);
	fb_str(&b, CB_TAG_SERVICE, "web");
	n = fb_end(&b);
	put32(buf + n - 3 - 4, 4);
	cr_expect_eq(decode(buf, n), -EMSGSIZE);
	put32(buf + n - 3 - 4, 0xffffffffu);
	cr_expect_eq(decode(buf, n), -EMSGSIZE);

	/* fixed-width values of the wrong width */
	b = fb_begin(buf, CB_MSG_HELLO);
	fb_tlv(&b, CB_TAG_NODE_ID, "\0\0\3", 3);
	cr_expect_eq(decode(buf, fb_end(&b)), -EMSGSIZE);
	b = fb_begin(buf, CB_MSG_HELLO);
	fb_tlv(&b, CB_TAG_MAC, "\2\0\0\0\0\3\0", 7);
	cr_expect_eq(decode(buf, fb_end(&b)), -EMSGSIZE);
	b = fb_begin(buf, CB_MSG_LOAD);
	fb_u32(&b, CB_TAG_SEQ, 1);
	cr_expect_eq(decode(buf, fb_end(&b)), -EMSGSIZE);
	b = fb_begin(buf, CB_MSG_DONE);
	fb_tlv(&b, CB_TAG_FLOW, image, CB_MSG_FLOW_LEN - 1);
	cr_expect_eq(decode(buf, fb_end(&b)), -EMSGSIZE);

	/* a nested TLV running past its SVC_LOAD (but not past the frame) */
	b = fb_begin(buf, CB_MSG_LOAD);
	fb_tlv(&b, CB_TAG_SEQ, "\0\0\0\0\0\0\0\1", 8);
	{
		uint8_t inner[16] = { 0, CB_TAG_APPS, 0, 0, 0, 0, 0, 9 };

		fb_tlv(&b, CB_TAG_SVC_LOAD, inner, 12);
		fb_tlv(&b, 999, "12345678", 8);
	}
	cr_expect_eq(decode(buf, fb_end(&b)), -EMSGSIZE);
}

Test(proto, reserved_field_must_be_zero)
{
	struct fb b = hello_head(buf);
	size_t n;

	fb_str(&b, CB_TAG_SERVICE, "web");
	n = fb_end(&b);
	buf[n - 3 - 8 + 3] = 1;
	cr_expect_eq(decode(buf, n), -EPROTO);
}

Test(proto, bad_strings)
{
	char s[CB_MSG_NAME_MAX + 2];
	struct fb b;

	memset(s, 'x', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	b = hello_head(buf);
	fb_str(&b, CB_TAG_SERVICE, s);          /* 64 bytes: one too many */
	cr_expect_eq(decode(buf, fb_end(&b)), -EPROTO);

	b = hello_head(buf);
	fb_tlv(&b, CB_TAG_SERVICE, "we\0b", 4);
	cr_expect_eq(decode(buf, fb_end(&b)), -EPROTO);

	b = hello_head(buf);
	fb_tlv(&b, CB_TAG_SERVICE, "", 0);      /* an empty service name */
	cr_expect_eq(decode(buf, fb_end(&b)), -EPROTO);

	b = fb_begin(buf, CB_MSG_HELLO);
	fb_u32(&b, CB_TAG_NODE_ID, 3);
	fb_tlv(&b, CB_TAG_CLUSTER, "", 0);
	fb_tlv(&b, CB_TAG_MAC, "\x02\0\0\0\0\x03", 6);
	cr_expect_eq(decode(buf, fb_end(&b)), -EPROTO);
}

Test(proto, bad_values)
{
	struct cb_msg m;
	struct fb b;
	size_t n;

	b = fb_begin(buf, CB_MSG_HELLO);
	fb_u32(&b, CB_TAG_NODE_ID, 0);
	fb_str(&b, CB_TAG_CLUSTER, "c");
	fb_tlv(&b, CB_TAG_MAC, "\x02\0\0\0\0\x03", 6);
	cr_expect_eq(decode(buf, fb_end(&b)), -EPROTO);

	/* a single-valued tag twice */
	b = hello_head(buf);
	fb_u32(&b, CB_TAG_NODE_ID, 3);
	cr_expect_eq(decode(buf, fb_end(&b)), -EPROTO);

	/* a service named twice */
	b = hello_head(buf);
	fb_str(&b, CB_TAG_SERVICE, "web");
	fb_str(&b, CB_TAG_SERVICE, "web");
	cr_expect_eq(decode(buf, fb_end(&b)), -EPROTO);

	/* flows: family, padding, reserved bytes (offsets in the encoded PREPARED) */
	sample(&m, CB_MSG_PREPARED);
	n = encode(&m, buf, sizeof(buf));
	buf[24] = 5;
	cr_expect_eq(decode(buf, n), -EPROTO);
	buf[24] = 6;                            /* the same bytes as IPv6: fine */
	cr_expect_eq(decode(buf, n), 0);
	buf[24] = 4;
	buf[28 + 15] = 1;                       /* client address padding */
	cr_expect_eq(decode(buf, n), -EPROTO);
	buf[28 + 15] = 0;
	buf[44 + 4] = 1;                        /* service address padding */
	cr_expect_eq(decode(buf, n), -EPROTO);
	buf[44 + 4] = 0;
	buf[25] = 1;
	cr_expect_eq(decode(buf, n), -EPROTO);
	buf[25] = 0;
	cr_expect_eq(decode(buf, n), 0);
}

Test(proto, too_many_services)
{
	struct fb b = hello_head(buf);
	char name[16];
	int i;

	for (i = 0; i <= CB_MSG_SVC_MAX; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		fb_str(&b, CB_TAG_SERVICE, name);
	}
	cr_expect_eq(decode(buf, fb_end(&b)), -E2BIG);
	b.n -= CB_MSG_TLV_LEN + strlen(name);   /* exactly the limit */
	cr_expect_eq(decode(buf, fb_end(&b)), 0);
	cr_expect_eq(dec.hello.n_services, CB_MSG_SVC_MAX);
}

Test(proto, too_many_service_loads)
{
	struct cb_msg m;
	size_t n, one, k;

	sample(&m, CB_MSG_LOAD);
	m.load.n_services = 1;
	m.load.draining = 0;                    /* SEQ, then the SVC_LOAD */
	n = encode(&m, buf, sizeof(buf));
	one = n - CB_MSG_HDR_LEN - 16;          /* the SVC_LOAD after SEQ */
	for (k = 0; k < CB_MSG_SVC_MAX; k++) {
		/* the same entry again would be a duplicate: rename it */
		memcpy(buf + n, buf + CB_MSG_HDR_LEN + 16, one);
		buf[n + 16 + 3] = (uint8_t)('A' + k % 26);
		buf[n + 16 + 2] = (uint8_t)('A' + k / 26);
		n += one;
	}
	put32(buf + 8, (uint32_t)(n - CB_MSG_HDR_LEN));
	cr_expect_eq(decode(buf, n), -E2BIG);
	n -= one;
	put32(buf + 8, (uint32_t)(n - CB_MSG_HDR_LEN));
	cr_expect_eq(decode(buf, n), 0);
	cr_expect_eq(dec.load.n_services, CB_MSG_SVC_MAX);
}

static bool required(int type, uint16_t tag)
{
	switch (type) {
	case CB_MSG_HELLO:
		return tag == CB_TAG_NODE_ID || tag == CB_TAG_CLUSTER || tag == CB_TAG_MAC;
	case CB_MSG_LOAD:
		return tag == CB_TAG_SEQ;
	case CB_MSG_DRAIN:
		return true;
	case CB_MSG_SHIP:
	case CB_MSG_MOVE:
		return tag != CB_TAG_RULE && tag != CB_TAG_BLOB && tag != CB_TAG_TARGET;
	case CB_MSG_REFUSED:
		return true;
	}
	return tag == CB_TAG_FLOW || tag == CB_TAG_EPOCH;
}

/* Each top-level TLV left out in turn: required ones are missed. */
Test(proto, each_field_left_out)
{
	static uint8_t c[CB_MSG_MAX];
	struct cb_msg m;
	size_t at[64], n, len;
	int t, nb, i;

	for (t = CB_MSG_HELLO; t <= CB_MSG_TYPE_MAX; t++) {
		sample(&m, t);
		n = encode(&m, buf, sizeof(buf));
		nb = boundaries(buf, n, at, 63);
		for (i = 0; i + 1 < nb; i++) {
			uint16_t tag = (uint16_t)(buf[at[i]] << 8 | buf[at[i] + 1]);

			len = at[i + 1] - at[i];
			memcpy(c, buf, at[i]);
			memcpy(c + at[i], buf + at[i + 1], n - at[i + 1]);
			put32(c + 8, (uint32_t)(n - len - CB_MSG_HDR_LEN));
			cr_expect_eq(cb_msg_decode(c, n - len, &dec), required(t, tag) ? -ENOENT : 0,
				     "%s without tag %u", cb_msg_type_name(t), tag);
		}
	}
}

Test(proto, nested_required_missing)
{
	struct fb b = fb_begin(buf, CB_MSG_LOAD);
	uint8_t inner[64];
	struct fb ib = { inner, 0 };

	fb_tlv(&b, CB_TAG_SEQ, "\0\0\0\0\0\0\0\1", 8);
	fb_str(&ib, CB_TAG_SERVICE, "web");
	fb_u32(&ib, CB_TAG_APPS, 1);
	fb_tlv(&b, CB_TAG_SVC_LOAD, inner, (uint32_t)ib.n);
	cr_expect_eq(decode(buf, fb_end(&b)), -ENOENT);
}

/* Tags a type does not know are skipped wherever they stand, so a later
 * version may add fields; their values are never looked at. */
Test(proto, unknown_tags_skipped)
{
	static uint8_t c[CB_MSG_MAX];
	static const uint16_t odd[] = { 0, 31, 32, 999, 0xffff, CB_TAG_IMAGE };
	struct cb_msg m;
	size_t at[64], n, i, j;
	int t, nb, k;

	for (t = CB_MSG_HELLO; t <= CB_MSG_TYPE_MAX; t++) {
		sample(&m, t);
		n = encode(&m, buf, sizeof(buf));
		nb = boundaries(buf, n, at, 63);
		for (k = 0; k < nb; k++)
			for (j = 0; j < sizeof(odd) / sizeof(odd[0]); j++) {
				struct fb b = { c, at[k] };

				if (odd[j] == CB_TAG_IMAGE && (t == CB_MSG_SHIP || t == CB_MSG_MOVE))
					continue;
				memcpy(c, buf, at[k]);
				fb_tlv(&b, odd[j], "\0\0\0\xff garbage", 12);
				memcpy(c + b.n, buf + at[k], n - at[k]);
				i = b.n + n - at[k];
				put32(c + 8, (uint32_t)(i - CB_MSG_HDR_LEN));
				cr_assert_eq(cb_msg_decode(c, i, &dec), 0, "%s, tag %u at %zu",
					     cb_msg_type_name(t), odd[j], at[k]);
				expect_same(&m, &dec);
			}
	}
}

Test(proto, blob_bounded)
{
	static uint8_t big[CB_MSG_BLOB_MAX + 1];
	struct cb_msg m;
	size_t n;

	sample(&m, CB_MSG_MOVE);
	m.ship.blob = big;
	m.ship.blob_len = CB_MSG_BLOB_MAX;
	n = encode(&m, buf, sizeof(buf));
	cr_assert_eq(decode(buf, n), 0);
	cr_expect_eq(dec.ship.blob_len, CB_MSG_BLOB_MAX);
	cr_expect_eq(dec.ship.target, 3);
	m.ship.blob_len = CB_MSG_BLOB_MAX + 1;
	cr_expect_eq(cb_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
}

Test(proto, reason_outside_refused_is_unknown)
{
	struct cb_msg m;
	struct fb b;
	size_t n;

	sample(&m, CB_MSG_COMMIT);
	n = encode(&m, buf, sizeof(buf));
	b = (struct fb){ buf, n };
	fb_u32(&b, CB_TAG_REASON, 3);
	fb_u32(&b, CB_TAG_REASON, 4);           /* twice: still not looked at */
	cr_assert_eq(decode(buf, fb_end(&b)), 0);
	cr_expect_eq(dec.ref.reason, 0);
}

Test(proto, encode_refuses_bad_values)
{
	struct cb_msg m;

	sample(&m, CB_MSG_HELLO);
	m.hello.node_id = 0;
	cr_expect_eq(cb_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m, CB_MSG_HELLO);
	m.hello.cluster[0] = '\0';
	cr_expect_eq(cb_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m, CB_MSG_HELLO);
	memset(m.hello.cluster, 'x', sizeof(m.hello.cluster));  /* no terminator */
	cr_expect_eq(cb_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m, CB_MSG_HELLO);
	m.hello.n_services = CB_MSG_SVC_MAX + 1;
	cr_expect_eq(cb_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m, CB_MSG_HELLO);
	strcpy(m.hello.services[1], "web");
	cr_expect_eq(cb_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m, CB_MSG_LOAD);
	m.load.svc[0].name[0] = '\0';
	cr_expect_eq(cb_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m, CB_MSG_SHIP);
	m.ship.image = NULL;
	cr_expect_eq(cb_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m, CB_MSG_SHIP);
	m.ship.app[0] = '\0';
	cr_expect_eq(cb_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m, CB_MSG_ABORT);
	m.ref.flow.family = 10;                 /* AF_INET6, not 6 */
	cr_expect_eq(cb_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m, CB_MSG_ABORT);
	m.ref.flow.client[4] = 1;
	cr_expect_eq(cb_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	sample(&m, CB_MSG_ABORT);
	m.type = 0;
	cr_expect_eq(cb_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m.type = CB_MSG_TYPE_MAX + 1;
	cr_expect_eq(cb_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
}

/* Too small a buffer: -ENOSPC at every size, and nothing there decodes. */
Test(proto, encode_no_space)
{
	static uint8_t small[CB_MSG_MAX];
	struct cb_msg m;
	size_t n, cap;
	int t;

	for (t = CB_MSG_HELLO; t <= CB_MSG_TYPE_MAX; t++) {
		sample(&m, t);
		n = encode(&m, buf, sizeof(buf));
		for (cap = 0; cap < n; cap++) {
			memcpy(small, buf, n);          /* a valid frame was there before */
			cr_assert_eq(cb_msg_encode(&m, small, cap), -ENOSPC);
			/* below a header's size nothing at all is written */
			if (cap >= CB_MSG_HDR_LEN)
				cr_assert_neq(cb_msg_decode(small, n, &dec), 0);
			else
				cr_assert_eq(memcmp(small, buf, n), 0);
		}
		cr_assert_eq(cb_msg_encode(&m, small, n), (ssize_t)n);
	}
}

Test(proto, largest_frame)
{
	static uint8_t big[CB_MSG_MAX];
	struct cb_msg m;
	size_t n;

	sample(&m, CB_MSG_SHIP);
	n = encode(&m, buf, sizeof(buf));
	m.ship.image = big;
	m.ship.image_len = (uint32_t)(CB_MSG_MAX - (n - sizeof(image)));
	cr_assert_eq(cb_msg_encode(&m, buf, sizeof(buf)), CB_MSG_MAX);
	cr_assert_eq(decode(buf, CB_MSG_MAX), 0);
	cr_expect_eq(dec.ship.image_len, m.ship.image_len);
	m.ship.image_len++;
	cr_expect_eq(cb_msg_encode(&m, buf, sizeof(buf)), -EMSGSIZE);
}

Test(proto, names)
{
	cr_expect_str_eq(cb_msg_type_name(CB_MSG_HELLO), "HELLO");
	cr_expect_str_eq(cb_msg_type_name(CB_MSG_CLOSED), "CLOSED");
	cr_expect_str_eq(cb_msg_type_name(0), "?");
	cr_expect_str_eq(cb_msg_type_name(200), "?");
	cr_expect_str_eq(cb_msg_strerror(-EBADMSG), "bad magic");
	cr_expect_str_eq(cb_msg_strerror(-ENODATA), "truncated frame");
}
