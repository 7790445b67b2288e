// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include "repair/repair.h"
#include "util/parse_util.h"
#include "repair/tuple.h"

socklen_t cb_sockaddr_len(const union cb_sockaddr *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in4);
}

/*
 * A millisecond TS clock value: bit 0 set would select microseconds (Linux
 * >= 6.7).  Round an odd value up, so the peer never sees the clock go back.
 */
static uint32_t ts_ms_clock(uint32_t v)
{
	return v + (v & 1);
}

void cb_state_from_flow(struct cb_sock_state *st, const struct cb_flow_key *key,
			const struct cb_flow *f, const uint8_t *data, size_t len, uint32_t now_ms)
{
	memset(st, 0, sizeof(*st));
	cb_addr_to_sockaddr(&key->daddr, key->dport_be, &st->local);
	cb_addr_to_sockaddr(&key->saddr, key->sport_be, &st->peer);
	st->tcp_state = TCP_ESTABLISHED;
	st->flags = CB_SOCK_RTT_PROBE;
	st->snd_una = f->snd_nxt;
	st->rcv_seq = f->client_isn + 1;
	st->mss = f->mss;
	st->snd_wscale = f->snd_wscale;
	st->rcv_wscale = f->rcv_wscale;
	st->opts = f->opts;
	/* continue the clock the XDP program stamped the handshake with */
	st->tsval = ts_ms_clock(now_ms + f->ts_offset);
	/* the window XDP offered: right edge client_isn + 1 + rcv_wnd */
	st->win.snd_wl1 = f->rcv_nxt;
	st->win.snd_wnd = f->snd_wnd;
	st->win.max_window = f->snd_wnd;
	st->win.rcv_wnd = cb_flow_window_left(f);
	st->win.rcv_wup = f->rcv_nxt;
	st->rcvq = data;
	st->rcvq_len = len;
}

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) ? -errno : 0;
}

static int get_int(int fd, int level, int opt, int *v)
{
	socklen_t sl = sizeof(*v);

	return getsockopt(fd, level, opt, v, &sl) ? -errno : 0;
}

/*
 * Write a queue in repair mode; a large write can fail with ENOMEM: halve.
 * *selected is the queue TCP_REPAIR_QUEUE names now (connect() keeps it):
 * selected again only when it differs, and not at all for nothing to write
 * (each setsockopt is a syscall on every connection built).
 */
static int write_queue(int fd, int queue, const uint8_t *p, size_t len, int *selected)
{
	size_t chunk = len;
	int err = 0;

	if (!len)
		return 0;
	if (*selected != queue && !(err = set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, queue)))
		*selected = queue;

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

/* Sent whole or not at all: the buffers were sized for it at build time. */
static int send_all(int fd, const void *p, size_t len)
{
	ssize_t n = send(fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -ENOBUFS;
}

#define STEP(name, expr)                 \
	do {                             \
		*step = (name);          \
		if ((err = (expr)) < 0)  \
			goto fail;       \
	} while (0)

static int check_state(const struct cb_sock_state *st)
{
	sa_family_t fam = st->local.sa.sa_family;

	if ((fam != AF_INET && fam != AF_INET6) || st->peer.sa.sa_family != fam)
		return -EAFNOSUPPORT;
	/* half-closed sockets need a FIN replayed: not supported (P8) */
	return st->tcp_state == TCP_ESTABLISHED ? 0 : -EOPNOTSUPP;
}

/*
 * bind() to the VIP.  It is usually a local address (the director's
 * interface, a backend's lo): nothing else is needed, and nothing is set (a
 * syscall less on every connection).  Where it is not (routed here by
 * policy, as TPROXY setups do), IP_TRANSPARENT lets the bind and the repair
 * connect() through; IP_FREEBIND alone does not: connect() then fails with
 * ENETUNREACH (repair::nonlocal_vip_binds_transparent).
 * A v6 socket never stands for a v4-mapped flow: IPV6_V6ONLY first.
 */
static int bind_vip(int fd, const union cb_sockaddr *local)
{
	sa_family_t fam = local->sa.sa_family;
	socklen_t len = cb_sockaddr_len(local);
	int err;

	if (fam == AF_INET6 && (err = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1)))
		return err;
	if (!bind(fd, &local->sa, len))
		return 0;
	if (errno != EADDRNOTAVAIL)
		return -errno;
	err = fam == AF_INET ? set_int(fd, IPPROTO_IP, IP_TRANSPARENT, 1)
			     : set_int(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, 1);
	return err ? err : bind(fd, &local->sa, len) ? -errno : 0;
}

/* Room for what the queues already hold, beyond the defaults' reach (a
 * write that does not fit would block or fail half-way). */
static int set_buffers(int fd, const struct cb_sock_state *st)
{
	size_t snd = st->sndq_len + st->unsent_len + 1;     /* + the probe */
	int err = 0;

	if (snd > 65536)
		err = set_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, (int)(2 * snd));
	if (!err && st->rcvq_len > 65536)
		err = set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, (int)(2 * st->rcvq_len));
	return err;
}

static int set_queue_seq(int fd, int queue, uint32_t seq)
{
	int err = set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, queue);

	return err ? err : set_int(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, (int)seq);
}

/*
 * Before connect(), which syncs the MSS against the clamp (536 by default).
 * TCP_MAXSEG refuses more than 32767 (MAX_TCP_WINDOW); only loopback-sized
 * MSSs are larger, and TCP_REPAIR_OPTIONS raises the clamp afterwards.
 */
static int set_maxseg(int fd, uint16_t mss)
{
	return set_int(fd, IPPROTO_TCP, TCP_MAXSEG, mss < 32767 ? mss : 32767);
}

/*
 * connect() in repair mode sends nothing.  A TIME_WAIT socket of an older
 * connection on the tuple without timestamps makes it fail with
 * EADDRNOTAVAIL (repair/tuple.h): that one is destroyed and we retry once.
 */
static int repair_connect(int fd, const struct cb_sock_state *st)
{
	socklen_t len = cb_sockaddr_len(&st->peer);
	int err;

	if (!connect(fd, &st->peer.sa, len))
		return 0;
	err = -errno;
	if (err != -EADDRNOTAVAIL || cb_timewait_destroy(&st->local, &st->peer))
		return err;
	return connect(fd, &st->peer.sa, len) ? -errno : 0;
}

static int set_options(int fd, const struct cb_sock_state *st)
{
	struct tcp_repair_opt o[4];
	int n = 0;

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
	return setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, o,
			  (socklen_t)(n * sizeof(o[0]))) ? -errno : 0;
}

static int set_window(int fd, const struct cb_sock_state *st)
{
	struct tcp_repair_window w = st->win;

	/* the send queue starts one byte early for the probe: the peer's
	 * window keeps its right edge */
	if (cb_sock_probes(st)) {
		w.snd_wnd++;
		if (w.max_window < w.snd_wnd)
			w.max_window = w.snd_wnd;
	}
	return setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)) ? -errno : 0;
}

int cb_repair_build(const struct cb_sock_state *st, const char **step)
{
	sa_family_t fam = st->local.sa.sa_family;
	const char *dummy;
	int fd, err, queue;

	if (!step)
		step = &dummy;
	*step = "state";
	if ((err = check_state(st)))
		return err;
	*step = "socket";
	fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	STEP("repair on", set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON));
	STEP("buffers", set_buffers(fd, st));
	/* the probe byte goes out at snd_una - 1 */
	STEP("send queue seq", set_queue_seq(fd, TCP_SEND_QUEUE, st->snd_una - cb_sock_probes(st)));
	STEP("recv queue seq", set_queue_seq(fd, TCP_RECV_QUEUE, st->rcv_seq));
	queue = TCP_RECV_QUEUE;         /* selected last: the data goes there first */
	STEP("maxseg", set_maxseg(fd, st->mss));
	STEP("bind", bind_vip(fd, &st->local));
	STEP("connect", repair_connect(fd, st));
	STEP("options", set_options(fd, st));
	if (st->opts & CB_OPT_TS)
		STEP("timestamp", set_int(fd, IPPROTO_TCP, TCP_TIMESTAMP, (int)st->tsval));
	STEP("recv queue data", write_queue(fd, TCP_RECV_QUEUE, st->rcvq, st->rcvq_len, &queue));
	STEP("send queue data", write_queue(fd, TCP_SEND_QUEUE, st->sndq, st->sndq_len, &queue));
	STEP("window", set_window(fd, st));
	*step = NULL;
	return fd;
fail:
	close(fd);              /* still in repair mode: close sends nothing */
	return err;
}

int cb_repair_rto_seeded(int fd)
{
	struct tcp_info ti;
	socklen_t sl = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &sl))
		return -errno;
	/* TCP_TIMEOUT_FALLBACK, what tcp_init_metrics() sets with no RTT */
	return ti.tcpi_rto < 3000000;
}

int cb_repair_off(int fd, int mode)
{
	int err = set_int(fd, IPPROTO_TCP, TCP_REPAIR, mode);

	return err ? err : set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
}

int cb_repair_go_live(int fd, const struct cb_sock_state *st, const char **step)
{
	static const uint8_t probe;     /* discarded by the peer: any value */
	const char *dummy;
	int err;

	if (!step)
		step = &dummy;
	if (cb_sock_probes(st)) {
		STEP("repair off", cb_repair_off(fd, TCP_REPAIR_OFF_NO_WP));
		STEP("rtt probe", send_all(fd, &probe, 1));
	} else if ((st->flags & CB_SOCK_QUIET) && !st->sndq_len) {
		/* nothing in flight to have acknowledged: nothing to send */
		STEP("repair off", cb_repair_off(fd, TCP_REPAIR_OFF_NO_WP));
	} else {
		/* the window probe's answer acknowledges what is in flight */
		STEP("repair off", cb_repair_off(fd, TCP_REPAIR_OFF));
	}
	if (st->unsent_len)
		STEP("unsent data", send_all(fd, st->unsent, st->unsent_len));
	*step = NULL;
	return 0;
fail:
	return err;
}

int cb_repair_restore(const struct cb_sock_state *st, const char **step)
{
	int fd = cb_repair_build(st, step), err;

	if (fd < 0)
		return fd;
	if ((err = cb_repair_go_live(fd, st, step))) {
		close(fd);
		return err;
	}
	return fd;
}

/* What moves when packets reach a socket being dumped. */
struct qcounts {
	int inq, outq, unsent;          /* SIOCINQ, SIOCOUTQ, SIOCOUTQNSD */
	int snd_end, rcv_end;           /* TCP_QUEUE_SEQ: write_seq, rcv_nxt */
};

static int queue_seq(int fd, int queue, int *seq)
{
	int err = set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, queue);

	return err ? err : get_int(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, seq);
}

static int read_counts(int fd, struct qcounts *c)
{
	int err;

	if (ioctl(fd, SIOCINQ, &c->inq) || ioctl(fd, SIOCOUTQ, &c->outq) ||
	    ioctl(fd, SIOCOUTQNSD, &c->unsent))
		return -errno;
	if ((err = queue_seq(fd, TCP_SEND_QUEUE, &c->snd_end)))
		return err;
	if ((err = queue_seq(fd, TCP_RECV_QUEUE, &c->rcv_end)))
		return err;
	return c->inq < 0 || c->unsent < 0 || c->unsent > c->outq ? -EIO : 0;
}

/* Everything but the queues and the clock; read between the two counts. */
static int read_params(int fd, struct cb_sock_state *st)
{
	struct tcp_info ti;
	socklen_t sl = sizeof(ti);
	int mss, err;

	/* in repair mode TCP_MAXSEG gives the clamp: the peer's MSS */
	if ((err = get_int(fd, IPPROTO_TCP, TCP_MAXSEG, &mss)))
		return err;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &sl))
		return -errno;
	sl = sizeof(st->win);
	if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &st->win, &sl))
		return -errno;
	st->mss = (uint16_t)mss;
	st->tcp_state = ti.tcpi_state;
	st->snd_wscale = ti.tcpi_snd_wscale;
	st->rcv_wscale = ti.tcpi_rcv_wscale;
	st->opts = 0;
	if (ti.tcpi_options & TCPI_OPT_WSCALE)
		st->opts |= CB_OPT_WSCALE;
	if (ti.tcpi_options & TCPI_OPT_SACK)
		st->opts |= CB_OPT_SACK;
	if (ti.tcpi_options & TCPI_OPT_TIMESTAMPS)
		st->opts |= CB_OPT_TS;
	return 0;
}

/*
 * Copy one queue (in repair mode, MSG_PEEK reads it without consuming).
 * One byte more is asked for: getting anything but len means the queue
 * changed (1: try again).
 */
static int peek_queue(int fd, int queue, size_t len, uint8_t **out)
{
	uint8_t *buf;
	ssize_t n;
	int err;

	*out = NULL;
	if ((err = set_int(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, queue)))
		return err;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	n = recv(fd, buf, len + 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		n = 0;                  /* an empty receive queue */
	else if (n < 0 && errno != EFAULT)
		err = -errno;           /* EFAULT: a send queue grown past buf */
	if (err || n != (ssize_t)len || !len) {
		free(buf);
		return err ? err : n != (ssize_t)len;
	}
	*out = buf;
	return 0;
}

static int copy_queues(int fd, const struct qcounts *c, struct cb_sock_state *st)
{
	uint8_t *rq, *sq;
	int err;

	if ((err = peek_queue(fd, TCP_RECV_QUEUE, (size_t)c->inq, &rq)))
		return err;
	if ((err = peek_queue(fd, TCP_SEND_QUEUE, (size_t)c->outq, &sq))) {
		free(rq);
		return err;
	}
	st->rcvq = rq;
	st->rcvq_len = (size_t)c->inq;
	/* the send queue is sent-unacked bytes followed by never-sent ones */
	st->sndq = sq;
	st->sndq_len = (size_t)(c->outq - c->unsent);
	st->unsent = sq ? sq + st->sndq_len : NULL;
	st->unsent_len = (size_t)c->unsent;
	/* TCP_QUEUE_SEQ gives write_seq and rcv_nxt: the ends of the queues */
	st->snd_una = (uint32_t)c->snd_end - (uint32_t)c->outq;
	st->rcv_seq = (uint32_t)c->rcv_end - (uint32_t)c->inq;
	return 0;
}

/* One attempt: 0, 1 when the queues moved under it, or a negative errno. */
static int dump_once(int fd, struct cb_sock_state *st, void (*between)(void *), void *arg)
{
	struct qcounts a, b;
	int err;

	if ((err = read_counts(fd, &a)) || (err = read_params(fd, st)) ||
	    (err = copy_queues(fd, &a, st)))
		return err;
	if (between)
		between(arg);
	if ((err = read_counts(fd, &b)) < 0)
		return err;
	return memcmp(&a, &b, sizeof(a)) ? 1 : 0;
}

/* An IPv4 connection on an AF_INET6 socket (an app's [::] listener) has
 * ::ffff:a.b.c.d addresses: it is rebuilt, and keyed, as the IPv4 one it is
 * (a rebuilt AF_INET6 socket is IPV6_V6ONLY). */
static void fold_v4mapped(union cb_sockaddr *a)
{
	struct sockaddr_in in4 = { .sin_family = AF_INET };

	if (a->sa.sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr))
		return;
	in4.sin_port = a->in6.sin6_port;
	memcpy(&in4.sin_addr, &a->in6.sin6_addr.s6_addr[12], 4);
	memset(a, 0, sizeof(*a));
	a->in4 = in4;
}

static int dump_addrs(int fd, struct cb_sock_state *st)
{
	socklen_t sl = sizeof(st->local);

	if (getsockname(fd, &st->local.sa, &sl))
		return -errno;
	sl = sizeof(st->peer);
	if (getpeername(fd, &st->peer.sa, &sl))
		return -errno;
	fold_v4mapped(&st->local);
	fold_v4mapped(&st->peer);
	return 0;
}

int cb_repair_dump_hook(int fd, struct cb_sock_state *st, void (*between)(void *), void *arg)
{
	int err, tries, ts;

	memset(st, 0, sizeof(*st));
	if ((err = set_int(fd, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON)) ||
	    (err = dump_addrs(fd, st)))
		return err;
	for (tries = 0; tries < CB_REPAIR_DUMP_TRIES; tries++) {
		err = dump_once(fd, st, between, arg);
		if (err < 0 || err == 1)
			cb_sock_state_free(st);
		if (err <= 0)
			break;
	}
	if (err)
		return err < 0 ? err : -EAGAIN;
	/* the clock last: it is a value for now */
	if ((err = get_int(fd, IPPROTO_TCP, TCP_TIMESTAMP, &ts))) {
		cb_sock_state_free(st);
		return err;
	}
	st->tsval = (uint32_t)ts;
	st->flags = CB_SOCK_RTT_PROBE;
	return 0;
}

int cb_repair_dump(int fd, struct cb_sock_state *st)
{
	return cb_repair_dump_hook(fd, st, NULL, NULL);
}

void cb_sock_state_free(struct cb_sock_state *st)
{
	free((void *)st->rcvq);
	free((void *)st->sndq);      /* unsent points into the same buffer */
	st->rcvq = st->sndq = st->unsent = NULL;
}
