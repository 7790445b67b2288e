// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the peer codec (user/peer/proto.c): `make fuzz`.
 * Any input must decode or be refused without a sanitizer report; a frame
 * that decodes must agree with the stream reader's peek, re-encode, and
 * re-encode to the very same bytes after a second decode (the encoding of a
 * decoded message is canonical: unknown tags dropped, nothing added).
 * The input is also read as a stream of frames, as the channel reads it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "peer/proto.h"

static struct cb_msg a, b;
static uint8_t e1[CB_MSG_MAX], e2[CB_MSG_MAX];

static void check_frame(const uint8_t *data, size_t size)
{
	ssize_t n1, n2;

	if (cb_msg_decode(data, size, &a))
		return;
	if (cb_msg_peek(data, size, NULL) != (ssize_t)size)
		abort();
	n1 = cb_msg_encode(&a, e1, sizeof(e1));
	if (n1 <= 0 || (size_t)n1 > size)
		abort();
	if (cb_msg_decode(e1, (size_t)n1, &b))
		abort();
	n2 = cb_msg_encode(&b, e2, sizeof(e2));
	if (n2 != n1 || memcmp(e1, e2, (size_t)n1))
		abort();
}

/* Frames back to back, as link.c takes them off the TLS stream. */
static void check_stream(const uint8_t *data, size_t size)
{
	size_t off = 0;
	ssize_t n;

	while ((n = cb_msg_peek(data + off, size - off, NULL)) > 0 &&
	       (size_t)n <= size - off) {
		cb_msg_decode(data + off, (size_t)n, &a);
		off += (size_t)n;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_frame(data, size);
	check_stream(data, size);
	return 0;
}
