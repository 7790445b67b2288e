// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/types.h>
#include "lib/frame.h"
#include "ctl/reset.h"
#include "util/parse_util.h"
#include "util/log.h"

int cb_reset_send(const struct cb_flow_key *k, uint32_t seq, uint32_t ack)
{
	/* from the service to the client: the flow key reversed */
	struct cb_seg seg = {
		.saddr = k->daddr, .daddr = k->saddr, .sport = k->dport_be,
		.dport = k->sport_be, .seq = seq, .ack = ack, .flags = CB_TCP_RST | CB_TCP_ACK,
		.kind = CB_SEG_KIND_RST,
	};
	struct sockaddr_storage dst;
	/* the port of the destination must be 0 for a raw IPv6 socket */
	socklen_t dl = cb_addr_to_sockaddr(&k->saddr, 0, &dst);
	struct cb_frame f;
	uint32_t len = cb_frame_build(&f, &seg);    /* the builder the programs use */
	int fd, err = 0;

	/* IPPROTO_RAW: the header is ours (IP_HDRINCL implied, IPv4 and IPv6) */
	fd = socket(dst.ss_family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &f, len, 0, (struct sockaddr *)&dst, dl) < 0) {
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
