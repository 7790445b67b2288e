// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#include "lib/csum.h"
#include "ctl/reset.h"
#include "util/log.h"

int cb_reset_send(const struct cb_flow_key *k, uint32_t seq_h, uint32_t ack_h)
{
	struct {
		uint8_t ip[20];
		uint8_t tcp[20];
	} pkt;
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr.s_addr = k->saddr_be };
	uint32_t seq = htonl(seq_h), ack = htonl(ack_h);
	uint16_t ck;
	int fd, err = 0;

	memset(&pkt, 0, sizeof(pkt));
	pkt.ip[0] = 0x45;
	pkt.ip[3] = sizeof(pkt);
	pkt.ip[6] = 0x40;                       /* DF */
	pkt.ip[8] = 64;
	pkt.ip[9] = IPPROTO_TCP;
	memcpy(pkt.ip + 12, &k->daddr_be, 4);
	memcpy(pkt.ip + 16, &k->saddr_be, 4);
	memcpy(pkt.tcp, &k->dport_be, 2);
	memcpy(pkt.tcp + 2, &k->sport_be, 2);
	memcpy(pkt.tcp + 4, &seq, 4);
	memcpy(pkt.tcp + 8, &ack, 4);
	pkt.tcp[12] = 5 << 4;
	pkt.tcp[13] = 0x14;                     /* RST|ACK */
	/* the checksum code the BPF programs use (bpf/lib/csum.h), memory order */
	ck = cb_csum_fold(cb_csum_add(cb_csum_pseudo(k->daddr_be, k->saddr_be, 20), pkt.tcp, 20, 20));
	memcpy(pkt.tcp + 16, &ck, 2);
	ck = cb_csum_fold(cb_csum_add(0, pkt.ip, 20, 20));
	memcpy(pkt.ip + 10, &ck, 2);
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
		err = -errno;
		cb_debug("run: raw RST: %s", strerror(errno));
	}
	close(fd);
	return err;
}

void cb_reset_socket(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

void cb_answer_503(int fd)
{
	static const char resp[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Connection: close\r\n\r\n";
	char sink[4096];

	if (write(fd, resp, sizeof(resp) - 1) < 0)
		cb_debug("run: 503 write: %s", strerror(errno));
	shutdown(fd, SHUT_WR);
	/* unread request bytes would turn close() into an RST */
	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	close(fd);
}
