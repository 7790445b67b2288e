// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include "repair/repair.h"

void cb_state_from_flow(struct cb_sock_state *st, const struct cb_flow_key *key,
			const struct cb_flow *f, const uint8_t *data, size_t len, uint32_t now_ms)
{
	memset(st, 0, sizeof(*st));
	st->local.sin_family = AF_INET;
	st->local.sin_addr.s_addr = key->daddr_be;
	st->local.sin_port = key->dport_be;
	st->peer.sin_family = AF_INET;
	st->peer.sin_addr.s_addr = key->saddr_be;
	st->peer.sin_port = key->sport_be;
	st->snd_una = f->server_isn + 1;
	st->rcv_seq = f->client_isn + 1;
	st->mss = f->mss;
	st->snd_wscale = f->snd_wscale;
	st->rcv_wscale = f->rcv_wscale;
	st->opts = f->opts;
	/* continue the clock the XDP program stamped the handshake with */
	st->tsval = now_ms + f->ts_offset;
	/* the window XDP offered: right edge client_isn + 1 + rcv_wnd */
	st->win.snd_wl1 = f->rcv_nxt;
	st->win.snd_wnd = f->snd_wnd;
	st->win.max_window = f->snd_wnd;
	st->win.rcv_wnd = f->bytes_in < f->rcv_wnd ? f->rcv_wnd - f->bytes_in : 0;
	st->win.rcv_wup = f->rcv_nxt;
	st->rcvq = data;
	st->rcvq_len = len;
}

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) ? -errno : 0;
}

/* Write a queue in repair mode; a large write can fail with ENOMEM: halve. */
static int write_queue(int fd, int queue, const uint8_t *p, size_t len)
{
	size_t chunk = len;
	int err = set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, queue);

	while (!err && len) {
		ssize_t n = send(fd, p, chunk < len ? chunk : len, 0);

		if (n < 0 && errno == ENOMEM && chunk > 1024) {
			chunk /= 2;
			continue;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return err;
}

#define STEP(name, expr)                 \
	do {                             \
		*step = (name);          \
		if ((err = (expr)) < 0)  \
			goto fail;       \
	} while (0)

int cb_repair_restore(const struct cb_sock_state *st, const char **step)
{
	struct tcp_repair_opt o[4];
	const char *dummy;
	int fd, err, n = 0;

	if (!step)
		step = &dummy;
	*step = "socket";
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	STEP("repair on", set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON));
	/* room for what the queues already hold, beyond the defaults' reach
	 * (a write that does not fit would block or fail half-way) */
	if (st->sndq_len + st->unsent_len > 65536)
		STEP("send buffer", set_int(fd, SOL_SOCKET, SO_SNDBUFFORCE,
					    (int)(2 * (st->sndq_len + st->unsent_len))));
	if (st->rcvq_len > 65536)
		STEP("receive buffer", set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, (int)(2 * st->rcvq_len)));
	STEP("send queue seq", set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE));
	STEP("send queue seq", set_int(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, (int)st->snd_una));
	STEP("recv queue seq", set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE));
	STEP("recv queue seq", set_int(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, (int)st->rcv_seq));
	/* the VIP need not be a local address (backends behind a director) */
	STEP("freebind", set_int(fd, IPPROTO_IP, IP_FREEBIND, 1));
	STEP("bind", bind(fd, (const struct sockaddr *)&st->local, sizeof(st->local)) ? -errno : 0);
	STEP("connect",
	     connect(fd, (const struct sockaddr *)&st->peer, sizeof(st->peer)) ? -errno : 0);

	o[n].opt_code = TCPOPT_MAXSEG;
	o[n++].opt_val = st->mss;
	if (st->opts & CB_OPT_WSCALE) {
		o[n].opt_code = TCPOPT_WINDOW;
		o[n++].opt_val = st->snd_wscale | ((uint32_t)st->rcv_wscale << 16);
	}
	if (st->opts & CB_OPT_SACK) {
		o[n].opt_code = TCPOPT_SACK_PERMITTED;
		o[n++].opt_val = 0;
	}
	if (st->opts & CB_OPT_TS) {
		o[n].opt_code = TCPOPT_TIMESTAMP;
		o[n++].opt_val = 0;
	}
	STEP("options", setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, o,
				   (socklen_t)(n * sizeof(o[0]))) ? -errno : 0);
	if (st->opts & CB_OPT_TS)
		STEP("timestamp", set_int(fd, IPPROTO_TCP, TCP_TIMESTAMP, (int)st->tsval));
	STEP("recv queue data", write_queue(fd, TCP_RECV_QUEUE, st->rcvq, st->rcvq_len));
	STEP("send queue data", write_queue(fd, TCP_SEND_QUEUE, st->sndq, st->sndq_len));
	STEP("window", setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &st->win,
				  sizeof(st->win)) ? -errno : 0);
	STEP("repair off", set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP));
	if (st->unsent_len)
		STEP("unsent data", send(fd, st->unsent, st->unsent_len, MSG_DONTWAIT) ==
					    (ssize_t)st->unsent_len ? 0 : -ENOBUFS);
	*step = NULL;
	return fd;
fail:
	/* still in repair mode (unless the last step failed): close sends nothing */
	close(fd);
	return err;
}

/* Copy one queue (in repair mode, MSG_PEEK reads it without consuming). */
static int peek_queue(int fd, int queue, size_t len, uint8_t **out)
{
	uint8_t *buf;
	ssize_t n;
	int err;

	*out = NULL;
	if (!len)
		return 0;
	if ((err = set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, queue)))
		return err;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	n = recv(fd, buf, len, MSG_PEEK | MSG_DONTWAIT);
	if (n != (ssize_t)len) {
		free(buf);
		return n < 0 ? -errno : -EIO;
	}
	*out = buf;
	return 0;
}

int cb_repair_dump(int fd, struct cb_sock_state *st)
{
	struct tcp_info ti;
	socklen_t sl;
	int inq, outq, unsent, mss, seq_snd, seq_rcv, ts, err;
	uint8_t *rq = NULL, *sq = NULL;

	memset(st, 0, sizeof(*st));
	if ((err = set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON)))
		return err;
	sl = sizeof(st->local);
	if (getsockname(fd, (struct sockaddr *)&st->local, &sl))
		return -errno;
	sl = sizeof(st->peer);
	if (getpeername(fd, (struct sockaddr *)&st->peer, &sl))
		return -errno;
	if (ioctl(fd, SIOCINQ, &inq) || ioctl(fd, SIOCOUTQ, &outq) ||
	    ioctl(fd, SIOCOUTQNSD, &unsent))
		return -errno;
	sl = sizeof(int);
	if ((err = set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)) ||
	    getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq_snd, &sl))
		return err ? err : -errno;
	if ((err = set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE)) ||
	    getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq_rcv, &sl))
		return err ? err : -errno;
	sl = sizeof(mss);
	if (getsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, &sl))
		return -errno;
	sl = sizeof(ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &sl))
		return -errno;
	sl = sizeof(st->win);
	if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &st->win, &sl))
		return -errno;
	sl = sizeof(ts);
	if (getsockopt(fd, IPPROTO_TCP, TCP_TIMESTAMP, &ts, &sl))
		return -errno;

	/* TCP_QUEUE_SEQ gives write_seq and rcv_nxt: the ends of the queues */
	st->snd_una = (uint32_t)seq_snd - (uint32_t)outq;
	st->rcv_seq = (uint32_t)seq_rcv - (uint32_t)inq;
	st->mss = (uint16_t)mss;
	st->snd_wscale = ti.tcpi_snd_wscale;
	st->rcv_wscale = ti.tcpi_rcv_wscale;
	if (ti.tcpi_options & TCPI_OPT_WSCALE)
		st->opts |= CB_OPT_WSCALE;
	if (ti.tcpi_options & TCPI_OPT_SACK)
		st->opts |= CB_OPT_SACK;
	if (ti.tcpi_options & TCPI_OPT_TIMESTAMPS)
		st->opts |= CB_OPT_TS;
	st->tsval = (uint32_t)ts;

	if ((err = peek_queue(fd, TCP_RECV_QUEUE, (size_t)inq, &rq)) ||
	    (err = peek_queue(fd, TCP_SEND_QUEUE, (size_t)outq, &sq))) {
		free(rq);
		return err;
	}
	st->rcvq = rq;
	st->rcvq_len = (size_t)inq;
	/* the send queue is sent-unacked bytes followed by never-sent ones */
	st->sndq = sq;
	st->sndq_len = (size_t)(outq - unsent);
	st->unsent = sq ? sq + st->sndq_len : NULL;
	st->unsent_len = (size_t)unsent;
	return 0;
}

void cb_sock_state_free(struct cb_sock_state *st)
{
	free((void *)st->rcvq);
	free((void *)st->sndq);      /* unsent points into the same buffer */
	st->rcvq = st->sndq = st->unsent = NULL;
}
