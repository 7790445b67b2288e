// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Writes the seed corpus of fuzz_image (tests/fuzz/corpus/image/): socket
 * images (cb_image_encode) of states a node really ships: a fresh flow XDP
 * accepted (IPv4, the request in the receive queue, RTT probe), keep-alive
 * connections migrated mid-response (IPv6, microsecond TS clock, data sent
 * and unsent), a client without options, each closing state, sequence
 * numbers about to wrap, a large upload; plus two images of a later minor
 * version (fields appended before the queues, unknown valid bits), which
 * decode must read too.  Run once when the image format changes; the seeds
 * are committed:
 *   cc -Iuser -Iinclude tests/fuzz/gen_image_seeds.c user/repair/image.c -o /tmp/g &&
 *   /tmp/g tests/fuzz/corpus/image
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "repair/image.h"

static uint8_t buf[1 << 16];

static int write_bytes(const char *dir, const char *name, const uint8_t *b, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, n, f) != n || fclose(f))
		return perror(path), 1;
	return 0;
}

static int write_seed(const char *dir, const char *name, const struct cb_sock_state *st)
{
	ssize_t n = cb_image_encode(st, buf, sizeof(buf));

	if (n < 0)
		return fprintf(stderr, "%s: encode: %s\n", name, strerror((int)-n)), 1;
	return write_bytes(dir, name, buf, (size_t)n);
}

static void v4(struct cb_sock_state *st, const char *local, int lport, const char *peer, int pport)
{
	memset(st, 0, sizeof(*st));
	st->local.in4.sin_family = st->peer.in4.sin_family = AF_INET;
	inet_pton(AF_INET, local, &st->local.in4.sin_addr);
	inet_pton(AF_INET, peer, &st->peer.in4.sin_addr);
	st->local.in4.sin_port = htons((uint16_t)lport);
	st->peer.in4.sin_port = htons((uint16_t)pport);
}

static void v6(struct cb_sock_state *st, const char *local, int lport, const char *peer, int pport)
{
	memset(st, 0, sizeof(*st));
	st->local.in6.sin6_family = st->peer.in6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, local, &st->local.in6.sin6_addr);
	inet_pton(AF_INET6, peer, &st->peer.in6.sin6_addr);
	st->local.in6.sin6_port = htons((uint16_t)lport);
	st->peer.in6.sin6_port = htons((uint16_t)pport);
}

static void win(struct cb_sock_state *st, uint32_t snd_wnd, uint32_t rcv_wnd)
{
	st->win.snd_wl1 = st->rcv_seq - 1;
	st->win.snd_wnd = snd_wnd;
	st->win.max_window = snd_wnd;
	st->win.rcv_wnd = rcv_wnd;
	st->win.rcv_wup = st->rcv_seq;
}

int main(int argc, char **argv)
{
	static const uint8_t req[] =
		"GET /api/v1/items?id=3 HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: curl/7.88.1\r\n"
		"Accept: */*\r\n\r\n";
	static const uint8_t resp_sent[] =
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 61\r\n\r\n"
		"{\"items\": [";
	static const uint8_t resp_unsent[] = "{\"id\": 3, \"name\": \"lamp\", \"price\": 1999}]}";
	static const uint8_t next_req[] = "GET /api/v1/cart HTTP/1.1\r\nHost: shop.example\r\n\r\n";
	static const uint8_t tls_records[] =
		"\x17\x03\x03\x00\x20" "0123456789abcdef0123456789abcdef";
	static uint8_t upload[12000], img[1 << 16];
	const char *dir = argc > 1 ? argv[1] : ".";
	struct cb_sock_state st;
	ssize_t n;
	size_t i;
	int err = 0;

	/* a fresh flow from XDP: the request queued, nothing sent yet */
	v4(&st, "198.18.0.100", 80, "198.18.0.50", 40312);
	st.tcp_state = 1;
	st.opts = CB_OPT_SACK | CB_OPT_TS | CB_OPT_WSCALE;
	st.flags = CB_SOCK_RTT_PROBE;
	st.snd_wscale = 7;
	st.rcv_wscale = 7;
	st.mss = 1460;
	st.snd_una = 0x5e2a9c01;
	st.rcv_seq = 0x0b7f3a11;
	st.tsval = 0x0042f1c8;                  /* millisecond clock: bit 0 clear */
	win(&st, 64256, 65535);
	st.rcvq = req;
	st.rcvq_len = sizeof(req) - 1;
	err |= write_seed(dir, "v4-fresh-flow-request-queued", &st);

	/* migrated mid-response over IPv6: part sent, part unsent, us clock */
	v6(&st, "2001:db8::100", 443, "2001:db8:1::50", 51234);
	st.tcp_state = 1;
	st.opts = CB_OPT_SACK | CB_OPT_TS | CB_OPT_WSCALE;
	st.snd_wscale = 9;
	st.rcv_wscale = 7;
	st.mss = 1440;
	st.snd_una = 0x9ab3c4d5;
	st.rcv_seq = 0x11223344;
	st.tsval = 0x3b9aca01;                  /* bit 0: a microsecond clock */
	win(&st, 3145728 >> 9, 131072 >> 7);
	st.sndq = resp_sent;
	st.sndq_len = sizeof(resp_sent) - 1;
	st.unsent = resp_unsent;
	st.unsent_len = sizeof(resp_unsent) - 1;
	err |= write_seed(dir, "v6-migrated-mid-response", &st);

	/* keep-alive between requests: the next request already received */
	st.sndq_len = st.unsent_len = 0;
	st.sndq = st.unsent = NULL;
	st.rcvq = next_req;
	st.rcvq_len = sizeof(next_req) - 1;
	st.flags = CB_SOCK_RTT_PROBE;
	err |= write_seed(dir, "v6-keepalive-next-request", &st);

	/* TLS passed through: records in both directions */
	st.rcvq = tls_records;
	st.rcvq_len = sizeof(tls_records) - 1;
	st.sndq = tls_records;
	st.sndq_len = sizeof(tls_records) - 1;
	st.flags = 0;
	err |= write_seed(dir, "v6-tls-records-both-queues", &st);

	/* an old client: no SACK, no timestamps, no window scaling, MSS 536 */
	v4(&st, "198.18.0.100", 80, "203.0.113.7", 1025);
	st.tcp_state = 1;
	st.mss = 536;
	st.snd_una = 1;
	st.rcv_seq = 0x7fffffff;
	win(&st, 8760, 8760);
	st.rcvq = req;
	st.rcvq_len = sizeof(req) - 1;
	err |= write_seed(dir, "v4-no-options-mss-536", &st);

	/* sequence numbers about to wrap, the minimum MSS, shifts at 14 */
	v4(&st, "10.0.0.1", 8080, "10.0.0.2", 65535);
	st.tcp_state = 1;
	st.opts = CB_OPT_TS | CB_OPT_WSCALE;
	st.snd_wscale = 14;
	st.rcv_wscale = 14;
	st.mss = CB_IMAGE_MSS_MIN;
	st.snd_una = 0xfffffff0;
	st.rcv_seq = 0xfffffffe;
	st.tsval = 0xfffffffe;
	win(&st, 1, 1);
	st.sndq = resp_sent;
	st.sndq_len = 32;
	err |= write_seed(dir, "v4-wrapping-sequence-numbers", &st);

	/* each state a live connection can be dumped in besides ESTABLISHED */
	{
		static const struct { int state; const char *name; } closing[] = {
			{ 4, "v4-fin-wait1-unacked" }, { 5, "v4-fin-wait2" },
			{ 8, "v6-close-wait-unread" }, { 9, "v6-last-ack" }, { 11, "v4-closing" },
		};

		for (i = 0; i < sizeof(closing) / sizeof(closing[0]); i++) {
			if (closing[i].name[1] == '6')
				v6(&st, "2001:db8::100", 80, "2001:db8::7", 40000 + (int)i);
			else
				v4(&st, "198.18.0.100", 80, "198.18.0.51", 40000 + (int)i);
			st.tcp_state = (uint8_t)closing[i].state;
			st.opts = CB_OPT_SACK | CB_OPT_TS | CB_OPT_WSCALE;
			st.snd_wscale = 7;
			st.rcv_wscale = 8;
			st.mss = 1448;
			st.snd_una = 0x10000000u * (uint32_t)(i + 1);
			st.rcv_seq = 0x01000000u * (uint32_t)(i + 3);
			st.tsval = 123456 * (uint32_t)(i + 1) * 2;
			win(&st, 502, 1024);
			if (closing[i].state == 4) {
				st.sndq = resp_sent;
				st.sndq_len = sizeof(resp_sent) - 1;
			}
			if (closing[i].state == 8) {
				st.rcvq = next_req;
				st.rcvq_len = sizeof(next_req) - 1;
			}
			err |= write_seed(dir, closing[i].name, &st);
		}
	}

	/* a large upload received but unread */
	for (i = 0; i < sizeof(upload); i++)
		upload[i] = (uint8_t)("0123456789abcdef"[i % 16]);
	memcpy(upload, "POST /upload HTTP/1.1\r\nHost: files.example\r\nContent-Length: 11920\r\n\r\n", 70);
	v4(&st, "198.18.0.100", 80, "198.18.0.60", 45000);
	st.tcp_state = 1;
	st.opts = CB_OPT_SACK | CB_OPT_TS | CB_OPT_WSCALE;
	st.snd_wscale = 7;
	st.rcv_wscale = 7;
	st.mss = 1460;
	st.snd_una = 42;
	st.rcv_seq = 4242;
	st.tsval = 99999998;
	win(&st, 502, 65535);
	st.rcvq = upload;
	st.rcvq_len = sizeof(upload);
	err |= write_seed(dir, "v4-large-upload-unread", &st);

	/* version 1.1: 8 bytes of new fields before the queues, a new valid bit */
	v4(&st, "198.18.0.100", 80, "198.18.0.50", 40312);
	st.tcp_state = 1;
	st.opts = CB_OPT_SACK | CB_OPT_TS | CB_OPT_WSCALE;
	st.flags = CB_SOCK_RTT_PROBE;
	st.snd_wscale = st.rcv_wscale = 7;
	st.mss = 1460;
	st.snd_una = 1000;
	st.rcv_seq = 2000;
	st.tsval = 3000;
	win(&st, 64256, 65535);
	st.rcvq = req;
	st.rcvq_len = sizeof(req) - 1;
	n = cb_image_encode(&st, buf, sizeof(buf));
	if (n < 0)
		return 1;
	memcpy(img, buf, CB_IMAGE_HDR_LEN);
	memcpy(img + CB_IMAGE_HDR_LEN, "\x00\x00\x00\x2a\x00\x00\x00\x00", 8);
	memcpy(img + CB_IMAGE_HDR_LEN + 8, buf + CB_IMAGE_HDR_LEN, (size_t)n - CB_IMAGE_HDR_LEN);
	img[5] = 1;                             /* minor */
	img[7] = CB_IMAGE_HDR_LEN + 8;          /* hdr_len */
	img[8] = 0x80;                          /* valid: a group of 1.1 */
	err |= write_bytes(dir, "v4-minor-1-appended-fields", img, (size_t)n + 8);
	/* and one with no queues at all */
	st.rcvq_len = 0;
	st.rcvq = NULL;
	n = cb_image_encode(&st, buf, sizeof(buf));
	if (n < 0)
		return 1;
	memcpy(img, buf, CB_IMAGE_HDR_LEN);
	memset(img + CB_IMAGE_HDR_LEN, 0, 16);
	img[5] = 3;
	img[7] = CB_IMAGE_HDR_LEN + 16;
	err |= write_bytes(dir, "v4-minor-3-no-queues", img, CB_IMAGE_HDR_LEN + 16);
	return err;
}
