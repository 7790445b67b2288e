// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the socket image codec (user/repair/image.c): `make
 * fuzz FUZZ=image`.  Seeds: images of realistic states (gen_image_seeds.c).
 * Beyond "no sanitizer report":
 *  - decode answers 0 or one of the documented errnos (-EBADMSG,
 *    -EPROTONOSUPPORT, -EPROTO), and leaves *out untouched when it refuses;
 *  - a decoded state's queues lie in the image, in order, right after
 *    hdr_len (NULL when empty), and cb_image_size() is the image's length
 *    less the fields of a later minor version;
 *  - it re-encodes (cb_image_encode) to exactly cb_image_size() bytes,
 *    -ENOSPC with one byte less (nothing written), and those bytes decode
 *    to an identical state; they are the input made canonical (minor 0,
 *    hdr_len 104, valid exactly the groups 1.0 has, later fields dropped),
 *    and encoding them again gives them again;
 *  - the input read as a state (fields taken from its bytes, queues from the
 *    rest) either is refused by encode or round-trips through decode to the
 *    same state (the encoder runs the decoder's checks: it never writes an
 *    image the decoder refuses).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "repair/image.h"
#include "util/be.h"

static uint8_t enc[CB_IMAGE_HDR_LEN + (1 << 20)], enc2[sizeof(enc)], canon[sizeof(enc)];

static int same_addr(const union cb_sockaddr *a, const union cb_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return 0;
	if (a->sa.sa_family == AF_INET6)
		return !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) &&
		       a->in6.sin6_port == b->in6.sin6_port;
	return a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr && a->in4.sin_port == b->in4.sin_port;
}

static int same_queue(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	return al == bl && (!al || !memcmp(a, b, al));
}

/* Every field a state carries: what a node rebuilds the socket from. */
static int same_state(const struct cb_sock_state *a, const struct cb_sock_state *b)
{
	return same_addr(&a->local, &b->local) && same_addr(&a->peer, &b->peer) &&
	       a->snd_una == b->snd_una && a->rcv_seq == b->rcv_seq && a->mss == b->mss &&
	       a->snd_wscale == b->snd_wscale && a->rcv_wscale == b->rcv_wscale &&
	       a->opts == b->opts && a->tcp_state == b->tcp_state && a->flags == b->flags &&
	       a->tsval == b->tsval && !memcmp(&a->win, &b->win, sizeof(a->win)) &&
	       same_queue(a->rcvq, a->rcvq_len, b->rcvq, b->rcvq_len) &&
	       same_queue(a->sndq, a->sndq_len, b->sndq, b->sndq_len) &&
	       same_queue(a->unsent, a->unsent_len, b->unsent, b->unsent_len);
}

static void check_decoded(const uint8_t *d, size_t size, const struct cb_sock_state *st)
{
	size_t hdr = get16(d + 6), n, i;
	const uint8_t *q = d + hdr;
	struct cb_sock_state st2;
	uint32_t valid;
	ssize_t r;

	if (hdr < CB_IMAGE_HDR_LEN || hdr > size ||
	    st->rcvq != (st->rcvq_len ? q : NULL) ||
	    st->sndq != (st->sndq_len ? q + st->rcvq_len : NULL) ||
	    st->unsent != (st->unsent_len ? q + st->rcvq_len + st->sndq_len : NULL) ||
	    hdr + st->rcvq_len + st->sndq_len + st->unsent_len != size)
		abort();
	if (cb_image_size(st) != size - (hdr - CB_IMAGE_HDR_LEN))
		abort();
	n = cb_image_size(st);
	if (n > sizeof(enc))
		abort();                        /* queues are bounded by the input */
	memset(enc, 0xa5, n);
	if (cb_image_encode(st, enc, n - 1) != -ENOSPC)
		abort();
	for (i = 0; i < n; i++)
		if (enc[i] != 0xa5)
			abort();                /* -ENOSPC wrote something */
	r = cb_image_encode(st, enc, sizeof(enc));
	if (r < 0 || (size_t)r != n)
		abort();
	if (cb_image_decode(enc, n, &st2) || !same_state(st, &st2))
		abort();

	/* the canonical form of the input */
	memcpy(canon, d, CB_IMAGE_HDR_LEN);
	memcpy(canon + CB_IMAGE_HDR_LEN, q, size - hdr);
	canon[5] = CB_IMAGE_MINOR;
	put16(canon + 6, CB_IMAGE_HDR_LEN);
	valid = CB_IMG_V_ADDR | CB_IMG_V_SEQ | CB_IMG_V_OPTS | CB_IMG_V_WIN |
		(st->opts & CB_OPT_TS ? CB_IMG_V_TS : 0);
	put32(canon + 8, valid);
	if (!(st->opts & CB_OPT_TS))
		put32(canon + 64, 0);           /* no clock without timestamps */
	if (memcmp(enc, canon, n))
		abort();
	r = cb_image_encode(&st2, enc2, sizeof(enc2));
	if (r < 0 || (size_t)r != n || memcmp(enc, enc2, n))
		abort();
}

/* The input's bytes as a state: fields first, then the three queues. */
static void check_encode(const uint8_t *d, size_t size)
{
	struct cb_sock_state st, out;
	size_t rest, l1, l2;
	ssize_t n;

	if (size < 64)
		return;
	memset(&st, 0, sizeof(st));
	/* bit 0: local IPv6, bit 1: peer IPv6 (mixed families are refused),
	 * bit 2: a local family the image has no room for */
	st.local.sa.sa_family = d[0] & 4 ? AF_UNIX : d[0] & 1 ? AF_INET6 : AF_INET;
	st.peer.sa.sa_family = d[0] & 2 ? AF_INET6 : AF_INET;
	if (st.local.sa.sa_family == AF_INET6)
		memcpy(&st.local.in6.sin6_addr, d + 4, 16), st.local.in6.sin6_port = get16(d + 36);
	else if (st.local.sa.sa_family == AF_INET)
		memcpy(&st.local.in4.sin_addr, d + 4, 4), st.local.in4.sin_port = get16(d + 36);
	if (st.peer.sa.sa_family == AF_INET6)
		memcpy(&st.peer.in6.sin6_addr, d + 20, 16), st.peer.in6.sin6_port = get16(d + 38);
	else
		memcpy(&st.peer.in4.sin_addr, d + 20, 4), st.peer.in4.sin_port = get16(d + 38);
	st.tcp_state = d[1] & 15;
	st.opts = d[2] & 15;
	st.flags = d[3] & 3;
	st.snd_wscale = d[40] & 15;
	st.rcv_wscale = d[41] & 15;
	st.mss = get16(d + 42);
	st.snd_una = get32(d + 44);
	st.rcv_seq = get32(d + 48);
	st.tsval = get32(d + 52);
	st.win.snd_wl1 = get32(d + 56);
	st.win.snd_wnd = get32(d + 60);
	st.win.max_window = get16(d + 36) * 3u;
	st.win.rcv_wnd = get16(d + 38) * 5u;
	st.win.rcv_wup = get32(d + 44) ^ get32(d + 48);
	rest = size - 64;
	l1 = rest ? d[1] >> 4 : 0;
	l1 = l1 * rest / 15;
	l2 = (rest - l1) * (d[3] >> 4) / 15;
	st.rcvq = d + 64;
	st.rcvq_len = l1;
	st.sndq = d + 64 + l1;
	st.sndq_len = l2;
	st.unsent = d + 64 + l1 + l2;
	st.unsent_len = rest - l1 - l2;
	n = cb_image_encode(&st, enc, sizeof(enc));
	if (n == -EINVAL)
		return;
	if (n < 0 || (size_t)n != cb_image_size(&st) || cb_image_decode(enc, (size_t)n, &out))
		abort();
	if (!(st.opts & CB_OPT_TS))
		st.tsval = 0;                   /* not carried without timestamps */
	if (!same_state(&st, &out))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cb_sock_state st, before;
	int r;

	memset(&st, 0x5a, sizeof(st));
	memcpy(&before, &st, sizeof(st));
	r = cb_image_decode(data, size, &st);
	if (r && r != -EBADMSG && r != -EPROTONOSUPPORT && r != -EPROTO)
		abort();
	if (r && memcmp(&st, &before, sizeof(st)))
		abort();                        /* out written on failure */
	if (!r)
		check_decoded(data, size, &st);
	check_encode(data, size);
	return 0;
}
