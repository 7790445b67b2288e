// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Peer protocol codec (layout in proto.h and docs/peer-protocol.md).  Every
 * field is written and read on its own with explicit byte order: no struct
 * crosses the wire.  Decoding walks TLVs with one bounds-checked iterator,
 * so a length can never point outside the frame; the encoder runs the
 * decoder's value checks first, so it never writes a frame the decoder
 * would refuse.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include "peer/proto.h"
#include "util/be.h"

/* ---- value checks, shared by encode and decode ---- */

static bool name_ok(const char *s, bool may_be_empty)
{
	size_t n = strnlen(s, CB_MSG_NAME_MAX + 1);

	return n <= CB_MSG_NAME_MAX && (n || may_be_empty);
}

static bool flow_ok(const struct cb_msg_flow *f)
{
	static const uint8_t zero[12];

	if (f->family == 6)
		return true;
	return f->family == 4 && !memcmp(f->client + 4, zero, 12) &&
	       !memcmp(f->service + 4, zero, 12);
}

/* n names, each non-empty and none twice; stride: bytes from one to the next */
static int names_ok(const char *first, uint32_t n, size_t stride)
{
	uint32_t i, j;

	if (n > CB_MSG_SVC_MAX)
		return -E2BIG;
	for (i = 0; i < n; i++) {
		const char *a = first + i * stride;

		if (!name_ok(a, false))
			return -EPROTO;
		for (j = 0; j < i; j++)
			if (!strcmp(a, first + j * stride))
				return -EPROTO;
	}
	return 0;
}

static int check_msg(const struct cb_msg *m)
{
	const struct cb_msg_hello *h = &m->hello;
	const struct cb_msg_ship *s = &m->ship;

	switch (m->type) {
	case CB_MSG_HELLO:
		if (!h->node_id || !name_ok(h->cluster, false))
			return -EPROTO;
		return names_ok(h->services[0], h->n_services, sizeof(h->services[0]));
	case CB_MSG_LOAD:
		if (m->load.draining > 1)
			return -EPROTO;
		return names_ok(m->load.svc[0].name, m->load.n_services, sizeof(m->load.svc[0]));
	case CB_MSG_SHIP:
	case CB_MSG_MOVE:
		if (!flow_ok(&s->flow) || !name_ok(s->service, false) ||
		    !name_ok(s->rule, true) || !name_ok(s->app, false) ||
		    !s->image || !s->image_len || s->blob_len > CB_MSG_BLOB_MAX ||
		    (s->blob_len && !s->blob))
			return -EPROTO;
		return 0;
	case CB_MSG_DRAIN:
		return m->drain.node_id && m->drain.draining <= 1 ? 0 : -EPROTO;
	case CB_MSG_PREPARED ... CB_MSG_CLOSED:
	case CB_MSG_MOVED:
	case CB_MSG_RESUME:
		return flow_ok(&m->ref.flow) ? 0 : -EPROTO;
	}
	return -ENOMSG;
}

/* ---- encode ---- */

/*
 * off always advances, bytes are stored only while they fit: at the end off
 * is the size the frame needs, whatever cap was.
 */
struct wr {
	uint8_t *buf;
	size_t cap;
	size_t off;
};

static void w_bytes(struct wr *w, const void *v, size_t n)
{
	if (w->off <= w->cap && n <= w->cap - w->off && n)
		memcpy(w->buf + w->off, v, n);
	w->off += n;
}

static void w_tlv(struct wr *w, uint16_t tag, const void *v, uint32_t len)
{
	uint8_t h[CB_MSG_TLV_LEN];

	put16(h, tag);
	put16(h + 2, 0);
	put32(h + 4, len);
	w_bytes(w, h, sizeof(h));
	w_bytes(w, v, len);
}

static void w_u32(struct wr *w, uint16_t tag, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	w_tlv(w, tag, b, sizeof(b));
}

static void w_u64(struct wr *w, uint16_t tag, uint64_t v)
{
	uint8_t b[8];

	put64(b, v);
	w_tlv(w, tag, b, sizeof(b));
}

static void w_str(struct wr *w, uint16_t tag, const char *s)
{
	w_tlv(w, tag, s, (uint32_t)strlen(s));
}

static void w_flow_epoch(struct wr *w, const struct cb_msg_flow *f, uint32_t epoch)
{
	uint8_t b[CB_MSG_FLOW_LEN] = { f->family };

	memcpy(b + 4, f->client, 16);
	memcpy(b + 20, f->service, 16);
	put16(b + 36, f->client_port);
	put16(b + 38, f->service_port);
	w_tlv(w, CB_TAG_FLOW, b, sizeof(b));
	w_u32(w, CB_TAG_EPOCH, epoch);
}

static void enc_hello(struct wr *w, const struct cb_msg_hello *h)
{
	uint32_t i;

	w_u32(w, CB_TAG_NODE_ID, h->node_id);
	w_str(w, CB_TAG_CLUSTER, h->cluster);
	w_tlv(w, CB_TAG_MAC, h->mac, sizeof(h->mac));
	for (i = 0; i < h->n_services; i++)
		w_str(w, CB_TAG_SERVICE, h->services[i]);
}

static void enc_svc_load(struct wr *w, const struct cb_msg_svc_load *s)
{
	size_t start = w->off;

	/* the length is patched once the nested TLVs are written */
	w_tlv(w, CB_TAG_SVC_LOAD, NULL, 0);
	w_str(w, CB_TAG_SERVICE, s->name);
	w_u32(w, CB_TAG_APPS, s->apps);
	w_u32(w, CB_TAG_CAPACITY, s->capacity);
	w_u32(w, CB_TAG_ACTIVE, s->active);
	w_u32(w, CB_TAG_WAITING, s->waiting);
	w_u32(w, CB_TAG_INFLIGHT, s->inflight);
	if (start + CB_MSG_TLV_LEN <= w->cap)
		put32(w->buf + start + 4, (uint32_t)(w->off - start - CB_MSG_TLV_LEN));
}

static void enc_load(struct wr *w, const struct cb_msg_load *l)
{
	uint32_t i;

	w_u64(w, CB_TAG_SEQ, l->seq);
	if (l->draining)
		w_u32(w, CB_TAG_DRAINING, l->draining);
	for (i = 0; i < l->n_services; i++)
		enc_svc_load(w, &l->svc[i]);
}

static void enc_ship(struct wr *w, const struct cb_msg_ship *s)
{
	w_flow_epoch(w, &s->flow, s->epoch);
	w_str(w, CB_TAG_SERVICE, s->service);
	if (s->rule[0])
		w_str(w, CB_TAG_RULE, s->rule);
	w_str(w, CB_TAG_APP, s->app);
	w_u32(w, CB_TAG_DEADLINE, s->deadline_ms);
	w_tlv(w, CB_TAG_IMAGE, s->image, s->image_len);
	if (s->blob_len)
		w_tlv(w, CB_TAG_BLOB, s->blob, s->blob_len);
	if (s->target)
		w_u32(w, CB_TAG_TARGET, s->target);
}

static void enc_body(struct wr *w, const struct cb_msg *m)
{
	switch (m->type) {
	case CB_MSG_HELLO:
		enc_hello(w, &m->hello);
		break;
	case CB_MSG_LOAD:
		enc_load(w, &m->load);
		break;
	case CB_MSG_DRAIN:
		w_u32(w, CB_TAG_NODE_ID, m->drain.node_id);
		w_u32(w, CB_TAG_DRAINING, m->drain.draining);
		break;
	case CB_MSG_SHIP:
	case CB_MSG_MOVE:
		enc_ship(w, &m->ship);
		break;
	default:
		w_flow_epoch(w, &m->ref.flow, m->ref.epoch);
		if (m->type == CB_MSG_REFUSED ||
		    ((m->type == CB_MSG_CLOSED || m->type == CB_MSG_RESUME) && m->ref.reason))
			w_u32(w, CB_TAG_REASON, m->ref.reason);
	}
}

ssize_t cb_msg_encode(const struct cb_msg *m, uint8_t *buf, size_t cap)
{
	struct wr w = { .buf = buf, .cap = cap, .off = CB_MSG_HDR_LEN };
	uint8_t *h = buf;

	if (check_msg(m))
		return -EINVAL;
	enc_body(&w, m);
	if (w.off > CB_MSG_MAX || w.off > cap) {
		/* whatever was stored must not read as a frame */
		if (cap >= CB_MSG_HDR_LEN)
			memset(buf, 0, CB_MSG_HDR_LEN);
		return w.off > CB_MSG_MAX ? -EMSGSIZE : -ENOSPC;
	}
	put32(h, CB_MSG_MAGIC);
	h[4] = CB_MSG_VERSION;
	h[5] = m->type;
	put16(h + 6, 0);
	put32(h + 8, (uint32_t)(w.off - CB_MSG_HDR_LEN));
	put32(h + 12, m->msg_id);
	return (ssize_t)w.off;
}

/* ---- decode ---- */

struct tlv {
	uint16_t tag;
	uint32_t len;
	const uint8_t *v;
};

/* The next TLV in [*p, end): 1, 0 at the end, or -errno. */
static int tlv_next(const uint8_t **p, const uint8_t *end, struct tlv *t)
{
	size_t left = (size_t)(end - *p);

	if (!left)
		return 0;
	if (left < CB_MSG_TLV_LEN)
		return -EMSGSIZE;
	t->tag = get16(*p);
	t->len = get32(*p + 4);
	if (t->len > left - CB_MSG_TLV_LEN)
		return -EMSGSIZE;
	if (get16(*p + 2))
		return -EPROTO;
	t->v = *p + CB_MSG_TLV_LEN;
	*p += CB_MSG_TLV_LEN + t->len;
	return 1;
}

/* A single-valued tag seen twice is ambiguous: which one would count? */
static int once(uint32_t *seen, uint16_t tag)
{
	if (*seen & (1u << tag))
		return -EPROTO;
	*seen |= 1u << tag;
	return 0;
}

static int rd_u32(const struct tlv *t, uint32_t *seen, uint32_t *out)
{
	if (t->len != 4)
		return -EMSGSIZE;
	*out = get32(t->v);
	return once(seen, t->tag);
}

static int rd_u64(const struct tlv *t, uint32_t *seen, uint64_t *out)
{
	if (t->len != 8)
		return -EMSGSIZE;
	*out = get64(t->v);
	return once(seen, t->tag);
}

/* seen NULL: a tag that may repeat */
static int rd_str(const struct tlv *t, uint32_t *seen, char out[CB_MSG_NAME_MAX + 1])
{
	if (t->len > CB_MSG_NAME_MAX || memchr(t->v, 0, t->len))
		return -EPROTO;
	memcpy(out, t->v, t->len);
	out[t->len] = '\0';
	return seen ? once(seen, t->tag) : 0;
}

static int rd_flow(const struct tlv *t, uint32_t *seen, struct cb_msg_flow *f)
{
	const uint8_t *v = t->v;

	if (t->len != CB_MSG_FLOW_LEN)
		return -EMSGSIZE;
	if (v[1] | v[2] | v[3])
		return -EPROTO;
	f->family = v[0];
	memcpy(f->client, v + 4, 16);
	memcpy(f->service, v + 20, 16);
	f->client_port = get16(v + 36);
	f->service_port = get16(v + 38);
	return once(seen, t->tag);
}

typedef int (*tlv_fn)(const struct tlv *t, uint32_t *seen, void *obj);

/* Every TLV of [p, end) through fn, then the required tags. */
static int walk(const uint8_t *p, const uint8_t *end, tlv_fn fn, void *obj, uint32_t required)
{
	uint32_t seen = 0;
	struct tlv t;
	int err;

	while ((err = tlv_next(&p, end, &t)) > 0)
		if ((err = fn(&t, &seen, obj)))
			return err;
	if (err)
		return err;
	return (seen & required) == required ? 0 : -ENOENT;
}

#define BIT(tag) (1u << (tag))

static int dec_hello(const struct tlv *t, uint32_t *seen, void *obj)
{
	struct cb_msg_hello *h = obj;

	switch (t->tag) {
	case CB_TAG_NODE_ID:
		return rd_u32(t, seen, &h->node_id);
	case CB_TAG_CLUSTER:
		return rd_str(t, seen, h->cluster);
	case CB_TAG_MAC:
		if (t->len != sizeof(h->mac))
			return -EMSGSIZE;
		memcpy(h->mac, t->v, sizeof(h->mac));
		return once(seen, t->tag);
	case CB_TAG_SERVICE:
		if (h->n_services == CB_MSG_SVC_MAX)
			return -E2BIG;
		return rd_str(t, NULL, h->services[h->n_services++]);
	}
	return 0;
}

static int dec_svc_load(const struct tlv *t, uint32_t *seen, void *obj)
{
	struct cb_msg_svc_load *s = obj;

	switch (t->tag) {
	case CB_TAG_SERVICE:
		return rd_str(t, seen, s->name);
	case CB_TAG_APPS:
		return rd_u32(t, seen, &s->apps);
	case CB_TAG_CAPACITY:
		return rd_u32(t, seen, &s->capacity);
	case CB_TAG_ACTIVE:
		return rd_u32(t, seen, &s->active);
	case CB_TAG_WAITING:
		return rd_u32(t, seen, &s->waiting);
	case CB_TAG_INFLIGHT:
		return rd_u32(t, seen, &s->inflight);
	}
	return 0;
}

#define SVC_LOAD_REQUIRED (BIT(CB_TAG_SERVICE) | BIT(CB_TAG_APPS) | BIT(CB_TAG_CAPACITY) | \
			   BIT(CB_TAG_ACTIVE) | BIT(CB_TAG_WAITING) | BIT(CB_TAG_INFLIGHT))

static int dec_load(const struct tlv *t, uint32_t *seen, void *obj)
{
	struct cb_msg_load *l = obj;

	switch (t->tag) {
	case CB_TAG_SEQ:
		return rd_u64(t, seen, &l->seq);
	case CB_TAG_SVC_LOAD:
		if (l->n_services == CB_MSG_SVC_MAX)
			return -E2BIG;
		return walk(t->v, t->v + t->len, dec_svc_load, &l->svc[l->n_services++],
			    SVC_LOAD_REQUIRED);
	case CB_TAG_DRAINING:
		return rd_u32(t, seen, &l->draining);
	}
	return 0;
}

static int dec_drain(const struct tlv *t, uint32_t *seen, void *obj)
{
	struct cb_msg_drain *d = obj;

	switch (t->tag) {
	case CB_TAG_NODE_ID:
		return rd_u32(t, seen, &d->node_id);
	case CB_TAG_DRAINING:
		return rd_u32(t, seen, &d->draining);
	}
	return 0;
}

static int dec_ship(const struct tlv *t, uint32_t *seen, void *obj)
{
	struct cb_msg_ship *s = obj;

	switch (t->tag) {
	case CB_TAG_FLOW:
		return rd_flow(t, seen, &s->flow);
	case CB_TAG_EPOCH:
		return rd_u32(t, seen, &s->epoch);
	case CB_TAG_SERVICE:
		return rd_str(t, seen, s->service);
	case CB_TAG_RULE:
		return rd_str(t, seen, s->rule);
	case CB_TAG_APP:
		return rd_str(t, seen, s->app);
	case CB_TAG_DEADLINE:
		return rd_u32(t, seen, &s->deadline_ms);
	case CB_TAG_IMAGE:
		s->image = t->v;
		s->image_len = t->len;
		return once(seen, t->tag);
	case CB_TAG_BLOB:
		if (t->len > CB_MSG_BLOB_MAX)
			return -EMSGSIZE;
		s->blob = t->v;
		s->blob_len = t->len;
		return once(seen, t->tag);
	case CB_TAG_TARGET:
		return rd_u32(t, seen, &s->target);
	}
	return 0;
}

/* REASON is read in REFUSED (required), CLOSED and RESUME (optional):
 * elsewhere it is an unknown tag, skipped. */
static int dec_ref(const struct tlv *t, uint32_t *seen, void *obj)
{
	struct cb_msg *m = obj;

	switch (t->tag) {
	case CB_TAG_FLOW:
		return rd_flow(t, seen, &m->ref.flow);
	case CB_TAG_EPOCH:
		return rd_u32(t, seen, &m->ref.epoch);
	case CB_TAG_REASON:
		if (m->type == CB_MSG_REFUSED || m->type == CB_MSG_CLOSED ||
		    m->type == CB_MSG_RESUME)
			return rd_u32(t, seen, &m->ref.reason);
	}
	return 0;
}

static int dec_body(const uint8_t *p, const uint8_t *end, struct cb_msg *m)
{
	const uint32_t ref = BIT(CB_TAG_FLOW) | BIT(CB_TAG_EPOCH);

	switch (m->type) {
	case CB_MSG_HELLO:
		return walk(p, end, dec_hello, &m->hello,
			    BIT(CB_TAG_NODE_ID) | BIT(CB_TAG_CLUSTER) | BIT(CB_TAG_MAC));
	case CB_MSG_LOAD:
		return walk(p, end, dec_load, &m->load, BIT(CB_TAG_SEQ));
	case CB_MSG_DRAIN:
		return walk(p, end, dec_drain, &m->drain, BIT(CB_TAG_NODE_ID) | BIT(CB_TAG_DRAINING));
	case CB_MSG_SHIP:
	case CB_MSG_MOVE:
		return walk(p, end, dec_ship, &m->ship,
			    ref | BIT(CB_TAG_SERVICE) | BIT(CB_TAG_APP) |
			    BIT(CB_TAG_DEADLINE) | BIT(CB_TAG_IMAGE));
	case CB_MSG_REFUSED:
		return walk(p, end, dec_ref, m, ref | BIT(CB_TAG_REASON));
	}
	return walk(p, end, dec_ref, m, ref);
}

ssize_t cb_msg_peek(const uint8_t *buf, size_t len, struct cb_msg_hdr *hdr)
{
	uint32_t body;

	if (len < CB_MSG_HDR_LEN)
		return 0;
	if (get32(buf) != CB_MSG_MAGIC)
		return -EBADMSG;
	if (buf[4] != CB_MSG_VERSION)
		return -EPROTONOSUPPORT;
	body = get32(buf + 8);
	if (body > CB_MSG_MAX - CB_MSG_HDR_LEN)
		return -EMSGSIZE;
	if (hdr)
		*hdr = (struct cb_msg_hdr){
			.version = buf[4], .type = buf[5], .flags = get16(buf + 6),
			.body_len = body, .msg_id = get32(buf + 12),
		};
	return CB_MSG_HDR_LEN + (ssize_t)body;
}

int cb_msg_decode(const uint8_t *buf, size_t len, struct cb_msg *out)
{
	struct cb_msg_hdr h;
	ssize_t n = cb_msg_peek(buf, len, &h);
	int err;

	if (!n || (n > 0 && (size_t)n > len))
		return -ENODATA;
	if (n < 0)
		return (int)n;
	if ((size_t)n < len)
		return -EMSGSIZE;
	if (h.type < CB_MSG_HELLO || h.type > CB_MSG_TYPE_MAX)
		return -ENOMSG;
	if (h.flags)
		return -EPROTO;
	memset(out, 0, sizeof(*out));
	out->type = h.type;
	out->msg_id = h.msg_id;
	err = dec_body(buf + CB_MSG_HDR_LEN, buf + n, out);
	return err ? err : check_msg(out);
}

/* ---- names ---- */

const char *cb_msg_type_name(unsigned int type)
{
	static const char *const names[] = {
		[CB_MSG_HELLO] = "HELLO", [CB_MSG_LOAD] = "LOAD", [CB_MSG_SHIP] = "SHIP",
		[CB_MSG_PREPARED] = "PREPARED", [CB_MSG_REFUSED] = "REFUSED",
		[CB_MSG_COMMIT] = "COMMIT", [CB_MSG_ABORT] = "ABORT", [CB_MSG_DONE] = "DONE",
		[CB_MSG_CLOSED] = "CLOSED", [CB_MSG_MOVE] = "MOVE", [CB_MSG_MOVED] = "MOVED",
		[CB_MSG_RESUME] = "RESUME", [CB_MSG_DRAIN] = "DRAIN",
	};

	return type < sizeof(names) / sizeof(names[0]) && names[type] ? names[type] : "?";
}

const char *cb_msg_strerror(int err)
{
	switch (err) {
	case -ENODATA:
		return "truncated frame";
	case -EBADMSG:
		return "bad magic";
	case -EPROTONOSUPPORT:
		return "unsupported version";
	case -EMSGSIZE:
		return "bad length";
	case -ENOMSG:
		return "unknown message type";
	case -EPROTO:
		return "bad value";
	case -E2BIG:
		return "too many entries";
	case -ENOENT:
		return "required field missing";
	}
	return "malformed frame";
}
