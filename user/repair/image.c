// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Socket image codec (layout in image.h and docs/socket-image.md).  Every
 * field is written and read on its own with explicit byte order: no struct
 * is ever copied to or from the wire.  The encoder builds the header, then
 * runs the decoder's own checks on it, so that it never writes an image the
 * decoder would refuse.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <arpa/inet.h>
#include "repair/image.h"
#include "util/be.h"

enum {
	OFF_MAGIC = 0, OFF_MAJOR = 4, OFF_MINOR = 5, OFF_HDR_LEN = 6, OFF_VALID = 8,
	OFF_FAMILY = 12, OFF_STATE = 13, OFF_OPTS = 14, OFF_FLAGS = 15,
	OFF_SND_WSCALE = 16, OFF_RCV_WSCALE = 17, OFF_MSS = 18,
	OFF_LADDR = 20, OFF_PADDR = 36, OFF_LPORT = 52, OFF_PPORT = 54,
	OFF_SND_UNA = 56, OFF_RCV_SEQ = 60, OFF_TSVAL = 64,
	OFF_SND_WL1 = 68, OFF_SND_WND = 72, OFF_MAX_WINDOW = 76, OFF_RCV_WND = 80,
	OFF_RCV_WUP = 84, OFF_RCVQ_LEN = 88, OFF_SNDQ_LEN = 92, OFF_UNSENT_LEN = 96,
	OFF_RESERVED = 100,
};

#define V_REQUIRED (CB_IMG_V_ADDR | CB_IMG_V_SEQ | CB_IMG_V_OPTS | CB_IMG_V_WIN)
#define OPTS_KNOWN (CB_OPT_SACK | CB_OPT_TS | CB_OPT_WSCALE)
#define FLAGS_KNOWN (CB_SOCK_RTT_PROBE | CB_SOCK_QUIET)
#define WSCALE_MAX 14
/* the states a live connection can be dumped in (Linux numbering) */
#define STATES_OK ((1u << 1) | (1u << 4) | (1u << 5) | (1u << 8) | (1u << 9) | (1u << 11))

static uint64_t queues_len(const uint8_t *h)
{
	return (uint64_t)get32(h + OFF_RCVQ_LEN) + get32(h + OFF_SNDQ_LEN) +
	       get32(h + OFF_UNSENT_LEN);
}

size_t cb_image_size(const struct cb_sock_state *st)
{
	return CB_IMAGE_HDR_LEN + st->rcvq_len + st->sndq_len + st->unsent_len;
}

/* 16 address bytes (v4: 4, then zeros); the port is returned in host order. */
static uint16_t put_addr(uint8_t *p, const union cb_sockaddr *a)
{
	memset(p, 0, 16);
	if (a->sa.sa_family == AF_INET6) {
		memcpy(p, &a->in6.sin6_addr, 16);
		return ntohs(a->in6.sin6_port);
	}
	memcpy(p, &a->in4.sin_addr, 4);
	return ntohs(a->in4.sin_port);
}

static void get_addr(const uint8_t *p, uint16_t port, int family, union cb_sockaddr *a)
{
	memset(a, 0, sizeof(*a));
	if (family == 6) {
		a->in6.sin6_family = AF_INET6;
		memcpy(&a->in6.sin6_addr, p, 16);
		a->in6.sin6_port = htons(port);
	} else {
		a->in4.sin_family = AF_INET;
		memcpy(&a->in4.sin_addr, p, 4);
		a->in4.sin_port = htons(port);
	}
}

static void put_header(const struct cb_sock_state *st, uint8_t *h)
{
	uint32_t valid = V_REQUIRED | (st->opts & CB_OPT_TS ? CB_IMG_V_TS : 0);

	put32(h + OFF_MAGIC, CB_IMAGE_MAGIC);
	h[OFF_MAJOR] = CB_IMAGE_MAJOR;
	h[OFF_MINOR] = CB_IMAGE_MINOR;
	put16(h + OFF_HDR_LEN, CB_IMAGE_HDR_LEN);
	put32(h + OFF_VALID, valid);
	h[OFF_FAMILY] = st->local.sa.sa_family == AF_INET6 ? 6 : 4;
	h[OFF_STATE] = st->tcp_state;
	h[OFF_OPTS] = st->opts;
	h[OFF_FLAGS] = st->flags;
	h[OFF_SND_WSCALE] = st->snd_wscale;
	h[OFF_RCV_WSCALE] = st->rcv_wscale;
	put16(h + OFF_MSS, st->mss);
	put16(h + OFF_LPORT, put_addr(h + OFF_LADDR, &st->local));
	put16(h + OFF_PPORT, put_addr(h + OFF_PADDR, &st->peer));
	put32(h + OFF_SND_UNA, st->snd_una);
	put32(h + OFF_RCV_SEQ, st->rcv_seq);
	put32(h + OFF_TSVAL, valid & CB_IMG_V_TS ? st->tsval : 0);
	put32(h + OFF_SND_WL1, st->win.snd_wl1);
	put32(h + OFF_SND_WND, st->win.snd_wnd);
	put32(h + OFF_MAX_WINDOW, st->win.max_window);
	put32(h + OFF_RCV_WND, st->win.rcv_wnd);
	put32(h + OFF_RCV_WUP, st->win.rcv_wup);
	put32(h + OFF_RCVQ_LEN, (uint32_t)st->rcvq_len);
	put32(h + OFF_SNDQ_LEN, (uint32_t)st->sndq_len);
	put32(h + OFF_UNSENT_LEN, (uint32_t)st->unsent_len);
	put32(h + OFF_RESERVED, 0);
}

/* Framing: do these len bytes form one image of a version we read? */
static int check_frame(const uint8_t *buf, size_t len)
{
	size_t hdr_len;

	/* magic, versions and hdr_len come first */
	if (len < OFF_VALID || get32(buf + OFF_MAGIC) != CB_IMAGE_MAGIC)
		return -EBADMSG;
	if (buf[OFF_MAJOR] != CB_IMAGE_MAJOR)
		return -EPROTONOSUPPORT;
	hdr_len = get16(buf + OFF_HDR_LEN);
	if (hdr_len < CB_IMAGE_HDR_LEN || hdr_len > len)
		return -EBADMSG;
	/* 64-bit sum: three 32-bit lengths cannot wrap it */
	return queues_len(buf) == len - hdr_len ? 0 : -EBADMSG;
}

static bool addr_padding_zero(const uint8_t *p)
{
	static const uint8_t zero[12];

	return !memcmp(p + 4, zero, sizeof(zero));
}

/* Values of a well-formed version 1 header. */
static int check_values(const uint8_t *h)
{
	uint32_t valid = get32(h + OFF_VALID);
	bool ts = h[OFF_OPTS] & CB_OPT_TS;

	if ((valid & V_REQUIRED) != V_REQUIRED || !(valid & CB_IMG_V_TS) != !ts)
		return -EPROTO;
	if (h[OFF_FAMILY] != 4 && h[OFF_FAMILY] != 6)
		return -EPROTO;
	if (h[OFF_FAMILY] == 4 && (!addr_padding_zero(h + OFF_LADDR) ||
				   !addr_padding_zero(h + OFF_PADDR)))
		return -EPROTO;
	if (h[OFF_STATE] >= 32 || !(STATES_OK & (1u << h[OFF_STATE])))
		return -EPROTO;
	if ((h[OFF_OPTS] & ~OPTS_KNOWN) || (h[OFF_FLAGS] & ~FLAGS_KNOWN) ||
	    get32(h + OFF_RESERVED))
		return -EPROTO;
	if (h[OFF_SND_WSCALE] > WSCALE_MAX || h[OFF_RCV_WSCALE] > WSCALE_MAX ||
	    get16(h + OFF_MSS) < CB_IMAGE_MSS_MIN)
		return -EPROTO;
	if (get32(h + OFF_RCVQ_LEN) > CB_IMAGE_QUEUE_MAX ||
	    get32(h + OFF_SNDQ_LEN) > CB_IMAGE_QUEUE_MAX ||
	    get32(h + OFF_UNSENT_LEN) > CB_IMAGE_QUEUE_MAX)
		return -EPROTO;
	return 0;
}

ssize_t cb_image_encode(const struct cb_sock_state *st, uint8_t *buf, size_t cap)
{
	uint8_t h[CB_IMAGE_HDR_LEN];
	size_t size = cb_image_size(st);
	sa_family_t fam = st->local.sa.sa_family;

	if ((fam != AF_INET && fam != AF_INET6) || st->peer.sa.sa_family != fam)
		return -EINVAL;
	/* lengths that put32 would cut */
	if (st->rcvq_len > CB_IMAGE_QUEUE_MAX || st->sndq_len > CB_IMAGE_QUEUE_MAX ||
	    st->unsent_len > CB_IMAGE_QUEUE_MAX)
		return -EINVAL;
	put_header(st, h);
	if (check_values(h))
		return -EINVAL;
	if (size > cap)
		return -ENOSPC;
	memcpy(buf, h, sizeof(h));
	buf += sizeof(h);
	if (st->rcvq_len)
		memcpy(buf, st->rcvq, st->rcvq_len);
	buf += st->rcvq_len;
	if (st->sndq_len)
		memcpy(buf, st->sndq, st->sndq_len);
	buf += st->sndq_len;
	if (st->unsent_len)
		memcpy(buf, st->unsent, st->unsent_len);
	return (ssize_t)size;
}

/* Queue pointers into the image; NULL for an empty queue. */
static const uint8_t *take(const uint8_t **p, size_t len)
{
	const uint8_t *q = len ? *p : NULL;

	*p += len;
	return q;
}

static void get_header(const uint8_t *h, struct cb_sock_state *st)
{
	memset(st, 0, sizeof(*st));
	get_addr(h + OFF_LADDR, get16(h + OFF_LPORT), h[OFF_FAMILY], &st->local);
	get_addr(h + OFF_PADDR, get16(h + OFF_PPORT), h[OFF_FAMILY], &st->peer);
	st->tcp_state = h[OFF_STATE];
	st->opts = h[OFF_OPTS];
	st->flags = h[OFF_FLAGS];
	st->snd_wscale = h[OFF_SND_WSCALE];
	st->rcv_wscale = h[OFF_RCV_WSCALE];
	st->mss = get16(h + OFF_MSS);
	st->snd_una = get32(h + OFF_SND_UNA);
	st->rcv_seq = get32(h + OFF_RCV_SEQ);
	/* a group valid does not name carries nothing: the clock is read only
	 * with timestamps, as put_header() writes it only then (a sender's
	 * leftover bytes there did not survive a re-encode) */
	st->tsval = get32(h + OFF_VALID) & CB_IMG_V_TS ? get32(h + OFF_TSVAL) : 0;
	st->win.snd_wl1 = get32(h + OFF_SND_WL1);
	st->win.snd_wnd = get32(h + OFF_SND_WND);
	st->win.max_window = get32(h + OFF_MAX_WINDOW);
	st->win.rcv_wnd = get32(h + OFF_RCV_WND);
	st->win.rcv_wup = get32(h + OFF_RCV_WUP);
	st->rcvq_len = get32(h + OFF_RCVQ_LEN);
	st->sndq_len = get32(h + OFF_SNDQ_LEN);
	st->unsent_len = get32(h + OFF_UNSENT_LEN);
}

int cb_image_decode(const uint8_t *buf, size_t len, struct cb_sock_state *out)
{
	struct cb_sock_state st;
	const uint8_t *q;
	int err;

	if ((err = check_frame(buf, len)) || (err = check_values(buf)))
		return err;
	get_header(buf, &st);
	/* fields of a later minor version sit before hdr_len: skipped */
	q = buf + get16(buf + OFF_HDR_LEN);
	st.rcvq = take(&q, st.rcvq_len);
	st.sndq = take(&q, st.sndq_len);
	st.unsent = take(&q, st.unsent_len);
	*out = st;
	return 0;
}
