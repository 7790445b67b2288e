// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/types.h>
#include "lib/frame.h"
#include "ctl/reset.h"
#include "util/log.h"

int cb_reset_send(const struct cb_flow_key *k, uint32_t seq, uint32_t ack)
{
	/* from the service to the client: the flow key reversed */
	struct cb_seg seg = {
		.saddr = k->daddr_be, .daddr = k->saddr_be, .sport = k->dport_be,
		.dport = k->sport_be, .seq = seq, .ack = ack, .flags = CB_TCP_RST | CB_TCP_ACK,
		.kind = CB_SEG_KIND_RST,
	};
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr.s_addr = k->saddr_be };
	struct cb_frame f;
	uint32_t len = cb_frame_build(&f, &seg);    /* the builder the programs use */
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &f, len, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
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
