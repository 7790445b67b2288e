// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * handshakes IFNAME DST_MAC DST_IP DPORT COUNT: complete COUNT TCP handshakes
 * with DST_IP:DPORT from raw frames, without a kernel socket on this side,
 * and leave every connection idle (tests/net/tests_scale.sh: a flow table
 * of a million held connections).
 *
 * Connection i comes from 198.18.1.(1 + i / 60000), port 1024 + i % 60000:
 * addresses this host does not own, so its kernel drops the SYN-ACKs (no
 * RST) while an AF_PACKET socket reads them.  The SYN carries an MSS option
 * only; its ISN is a function of i, so an answer needs no table: the ACK is
 * built from the SYN-ACK alone.  SYNs go out in a window of WINDOW
 * outstanding; those unanswered after a pass are sent again (up to PASSES
 * passes).  An ACK gets no answer, so a frame the device dropped (veth
 * drops what its peer's queue has no room for) would go unnoticed: every
 * ACK is sent once more at the end (a duplicate ACK is ignored by the
 * server).  Prints "completed N of COUNT in S s" and exits 0 when all were.
 * Test helper, not part of the product.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define PORTS_PER_ADDR 60000u
#define WINDOW 2048u
#define PASSES 8

struct ctx {
	int fd;
	struct sockaddr_ll to;
	uint8_t smac[6], dmac[6];
	uint32_t daddr;         /* network order */
	uint16_t dport;         /* network order */
	uint32_t count;
	uint8_t *done;          /* one byte per connection: its ACK went out */
	uint32_t *their;        /* the server's ISN of each connection done */
	uint32_t completed;
};

static uint32_t addr_of(uint32_t i)
{
	return htonl((198u << 24) | (18u << 16) | (1u << 8) | (1 + i / PORTS_PER_ADDR));
}

static uint16_t port_of(uint32_t i)
{
	return htons((uint16_t)(1024 + i % PORTS_PER_ADDR));
}

/* The ISN of connection i: any fixed function does (a multiplicative hash). */
static uint32_t isn_of(uint32_t i)
{
	return i * 2654435761u + 12345u;
}

static uint32_t sum16(const void *p, size_t n, uint32_t s)
{
	const uint8_t *b = p;
	size_t k;

	for (k = 0; k + 1 < n; k += 2)
		s += (uint32_t)b[k] << 8 | b[k + 1];
	if (n & 1)
		s += (uint32_t)b[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet + IPv4 + TCP (with an MSS option when syn) of connection i. */
static size_t frame(const struct ctx *c, uint8_t *f, uint32_t i, uint8_t flags, uint32_t seq,
		    uint32_t ack)
{
	size_t optlen = flags & 0x02 ? 4 : 0, tcplen = 20 + optlen;
	uint8_t *ip = f + 14, *tcp = ip + 20;
	uint32_t saddr = addr_of(i), s;
	uint16_t sport = port_of(i), v;

	memcpy(f, c->dmac, 6);
	memcpy(f + 6, c->smac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	v = htons((uint16_t)(20 + tcplen));
	memcpy(ip + 2, &v, 2);
	ip[6] = 0x40;           /* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &c->daddr, 4);
	v = htons(fold(sum16(ip, 20, 0)));
	memcpy(ip + 10, &v, 2);
	memset(tcp, 0, tcplen);
	memcpy(tcp, &sport, 2);
	memcpy(tcp + 2, &c->dport, 2);
	seq = htonl(seq);
	ack = htonl(ack);
	memcpy(tcp + 4, &seq, 4);
	memcpy(tcp + 8, &ack, 4);
	tcp[12] = (uint8_t)((tcplen / 4) << 4);
	tcp[13] = flags;
	v = htons(64240);
	memcpy(tcp + 14, &v, 2);
	if (optlen) {
		tcp[20] = 2;
		tcp[21] = 4;
		tcp[22] = 0x05;
		tcp[23] = 0xb4; /* 1460 */
	}
	s = sum16(ip + 12, 8, 0) + IPPROTO_TCP + (uint32_t)tcplen;
	v = htons(fold(sum16(tcp, tcplen, s)));
	memcpy(tcp + 16, &v, 2);
	return 14 + 20 + tcplen;
}

static int send_frame(const struct ctx *c, const uint8_t *f, size_t n)
{
	for (;;) {
		if (sendto(c->fd, f, n, 0, (const struct sockaddr *)&c->to, sizeof(c->to)) ==
		    (ssize_t)n)
			return 0;
		if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
			return -errno;
		usleep(50);     /* the device queue is full: let it drain */
	}
}

/* The connection a frame answers, or -1: a SYN-ACK from the service to us. */
static int64_t answered(const struct ctx *c, const uint8_t *f, ssize_t n, uint32_t *their_seq)
{
	const uint8_t *ip = f + 14, *tcp;
	uint32_t saddr, daddr, host, seq, ack, i;
	uint16_t sport, dport;

	if (n < 54 || f[12] != 0x08 || f[13] != 0x00 || (ip[0] >> 4) != 4 || ip[9] != IPPROTO_TCP)
		return -1;
	tcp = ip + (ip[0] & 0xf) * 4;
	if (tcp + 20 > f + n || (tcp[13] & 0x12) != 0x12)
		return -1;
	memcpy(&saddr, ip + 12, 4);
	memcpy(&daddr, ip + 16, 4);
	memcpy(&sport, tcp, 2);
	memcpy(&dport, tcp + 2, 2);
	if (saddr != c->daddr || sport != c->dport)
		return -1;
	host = ntohl(daddr);
	if ((host >> 8) != ((198u << 16) | (18u << 8) | 1u) || (host & 0xff) == 0)
		return -1;
	i = ((host & 0xff) - 1) * PORTS_PER_ADDR + (uint32_t)(ntohs(dport) - 1024);
	if (ntohs(dport) < 1024 || i >= c->count)
		return -1;
	memcpy(&seq, tcp + 4, 4);
	memcpy(&ack, tcp + 8, 4);
	if (ntohl(ack) != isn_of(i) + 1)
		return -1;
	*their_seq = ntohl(seq);
	return i;
}

/* Read what has come; ACK every SYN-ACK of ours not yet answered. */
static int drain(struct ctx *c, int wait_ms)
{
	uint8_t in[2048], out[128];
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	int got = 0;

	if (poll(&p, 1, wait_ms) <= 0)
		return 0;
	for (;;) {
		uint32_t their;
		ssize_t n = recv(c->fd, in, sizeof(in), MSG_DONTWAIT);
		int64_t i;

		if (n < 0)
			return got;
		if ((i = answered(c, in, n, &their)) < 0 || c->done[i])
			continue;
		if (send_frame(c, out, frame(c, out, (uint32_t)i, 0x10, isn_of((uint32_t)i) + 1,
					       their + 1)))
			return -1;
		c->done[i] = 1;
		c->their[i] = their;
		c->completed++;
		got++;
	}
}

static int parse_mac(const char *s, uint8_t m[6])
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &m[0], &m[1], &m[2], &m[3], &m[4],
		      &m[5]) == 6 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct ctx c = { 0 };
	struct ifreq ifr = { 0 };
	struct timespec t0, t1;
	uint8_t f[128];
	uint32_t i, sent;
	int pass, rcvbuf = 64 << 20;
	struct in_addr a;

	if (argc != 6 || parse_mac(argv[2], c.dmac) || inet_pton(AF_INET, argv[3], &a) != 1 ||
	    atoi(argv[4]) <= 0 || atoi(argv[4]) > 65535 || strtoul(argv[5], NULL, 10) == 0 ||
	    strtoul(argv[5], NULL, 10) > 254ul * PORTS_PER_ADDR) {
		fprintf(stderr, "usage: handshakes IFNAME DST_MAC DST_IP DPORT COUNT\n");
		return 2;
	}
	c.daddr = a.s_addr;
	c.dport = htons((uint16_t)atoi(argv[4]));
	c.count = (uint32_t)strtoul(argv[5], NULL, 10);
	c.done = calloc(c.count, 1);
	c.their = calloc(c.count, sizeof(*c.their));
	c.fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
	if (!c.done || !c.their || c.fd < 0) {
		perror("handshakes: socket");
		return 1;
	}
	setsockopt(c.fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	if (ioctl(c.fd, SIOCGIFHWADDR, &ifr)) {
		perror("handshakes: SIOCGIFHWADDR");
		return 1;
	}
	memcpy(c.smac, ifr.ifr_hwaddr.sa_data, 6);
	c.to.sll_family = AF_PACKET;
	c.to.sll_protocol = htons(ETH_P_IP);
	c.to.sll_ifindex = (int)if_nametoindex(argv[1]);
	c.to.sll_halen = 6;
	memcpy(c.to.sll_addr, c.dmac, 6);
	if (!c.to.sll_ifindex || bind(c.fd, (struct sockaddr *)&c.to, sizeof(c.to))) {
		perror("handshakes: bind");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (pass = 0; pass < PASSES && c.completed < c.count; pass++) {
		for (i = 0, sent = 0; i < c.count; i++) {
			if (c.done[i])
				continue;
			if (send_frame(&c, f, frame(&c, f, i, 0x02, isn_of(i), 0)))
				goto fail;
			/* keep at most WINDOW SYNs unanswered */
			if (++sent % WINDOW == 0 && drain(&c, 1) < 0)
				goto fail;
		}
		while (drain(&c, 200) > 0)
			;
		fprintf(stderr, "handshakes: pass %d: %u of %u completed\n", pass + 1, c.completed,
			c.count);
	}
	for (i = 0; i < c.count; i++) {
		if (!c.done[i])
			continue;
		if (send_frame(&c, f, frame(&c, f, i, 0x10, isn_of(i) + 1, c.their[i] + 1)))
			goto fail;
		if (i % WINDOW == 0)
			usleep(100);    /* the device's queue drains */
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("completed %u of %u in %.1f s\n", c.completed, c.count,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return c.completed == c.count ? 0 : 1;
fail:
	perror("handshakes: send");
	return 1;
}
