// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * repair-time LOCAL PEER [SOCKETS [ROUNDS]]: what building a socket in
 * TCP_REPAIR costs, the controller's way (cb_repair_build() and
 * cb_repair_go_live(), a system call per step) against the same steps
 * submitted to io_uring in batches of CB_FLOW_BATCH (make bench, section 3c).
 *
 * Issue 11 asked for io_uring "where the kernel offers the operation": on
 * 6.18 it offers every step a hand-off takes (IORING_OP_SOCKET, BIND,
 * CONNECT, SEND and setsockopt as a socket uring_cmd), so a batch's sockets
 * can be built with three io_uring_enter() calls instead of ~15 system calls
 * a socket.  This tool measures whether that pays before the controller
 * uses it.  Each socket is the one a local hand-off builds: IPv4, MSS,
 * window scaling, SACK, timestamps, a 100-byte request in its receive queue,
 * live without a window probe (nothing is sent: LOCAL is a local address,
 * PEER a routed one, and the sockets are closed in repair mode, silently).
 *
 * Prints, per socket, the median over ROUNDS interleaved rounds of SOCKETS
 * sockets each: "sync NS uring NS" (the teardown is not counted).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <liburing.h>
#include "connbroker/shared.h"
#include "repair/repair.h"

/* Newer than Debian 12's liburing 2.3 and its uapi copy (kernel ABI, stable):
 * IORING_OP_BIND (6.11) and the socket command SOCKET_URING_OP_SETSOCKOPT
 * (6.7), whose level and optname share the sqe's addr, optlen its
 * file_index and optval its addr3. */
#define RT_IORING_OP_BIND 56
#define RT_SOCKET_URING_OP_SETSOCKOPT 3

#define RT_BATCH CB_FLOW_BATCH
#define RT_OPS_PER_SOCKET 12     /* queue_build()'s sqes: the ring's size */

struct rt_sock {
	struct cb_sock_state st;
	int fd;
	int v[8];               /* setsockopt values the ring reads at issue */
	struct tcp_repair_opt opt[4];
};

static const uint8_t request[100] = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* The state a hand-off of the i-th client of this round builds from. */
static void make_state(struct cb_sock_state *st, const struct in_addr *local,
		       const struct in_addr *peer, int i)
{
	memset(st, 0, sizeof(*st));
	st->local.in4 = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(80),
					      .sin_addr = *local };
	st->peer.in4 = (struct sockaddr_in){ .sin_family = AF_INET,
					     .sin_port = htons((uint16_t)(10000 + i)),
					     .sin_addr = *peer };
	st->tcp_state = TCP_ESTABLISHED;
	st->flags = CB_SOCK_QUIET;
	st->snd_una = 1000001;
	st->rcv_seq = 5000001;
	st->mss = 1460;
	st->snd_wscale = st->rcv_wscale = 7;
	st->opts = CB_OPT_WSCALE | CB_OPT_SACK | CB_OPT_TS;
	st->tsval = 123456;
	st->win = (struct tcp_repair_window){ .snd_wl1 = st->rcv_seq, .snd_wnd = 64240,
					      .max_window = 64240, .rcv_wnd = 65535,
					      .rcv_wup = st->rcv_seq + sizeof(request) };
	st->rcvq = request;
	st->rcvq_len = sizeof(request);
}

static int sync_batch(struct rt_sock *s, int n)
{
	const char *step;
	int i, err;

	for (i = 0; i < n; i++) {
		s[i].fd = cb_repair_build(&s[i].st, &step);
		if (s[i].fd < 0 || (err = cb_repair_go_live(s[i].fd, &s[i].st, &step))) {
			fprintf(stderr, "repair-time: sync %s: %s\n", step,
				strerror(s[i].fd < 0 ? -s[i].fd : -err));
			return -1;
		}
	}
	return 0;
}

static struct io_uring_sqe *sqe_link(struct io_uring *r)
{
	struct io_uring_sqe *q = io_uring_get_sqe(r);

	memset(q, 0, sizeof(*q));
	q->flags = IOSQE_IO_LINK;
	return q;
}

static struct io_uring_sqe *setsockopt_sqe(struct io_uring *r, int fd, int level, int name,
					   const void *val, unsigned len)
{
	struct io_uring_sqe *q = sqe_link(r);

	q->opcode = IORING_OP_URING_CMD;
	q->fd = fd;
	q->cmd_op = RT_SOCKET_URING_OP_SETSOCKOPT;
	q->addr = (uint32_t)level | (uint64_t)(uint32_t)name << 32;
	q->file_index = len;
	q->addr3 = (uintptr_t)val;
	return q;
}

/* Submit what is queued, wait for want completions; -1 if any failed. */
static int reap(struct io_uring *r, unsigned want, const char *phase)
{
	struct io_uring_cqe *c;
	unsigned head, seen = 0;
	int bad = 0;

	if (io_uring_submit_and_wait(r, want) < 0)
		return -1;
	io_uring_for_each_cqe(r, head, c) {
		if (c->res < 0 && !bad++)
			fprintf(stderr, "repair-time: io_uring %s, op %llu: %s\n", phase,
				(unsigned long long)c->user_data, strerror(-c->res));
		seen++;
	}
	io_uring_cq_advance(r, seen);
	return bad || seen != want ? -1 : 0;
}

/* One socket's chain, in cb_repair_build()'s order (the same setsockopts):
 * how many sqes it queued. */
static unsigned queue_build(struct io_uring *r, struct rt_sock *s)
{
	const struct cb_sock_state *st = &s->st;
	unsigned before = io_uring_sq_ready(r);
	struct io_uring_sqe *q;
	int fd = s->fd;

	s->v[0] = TCP_REPAIR_ON;
	s->v[1] = TCP_SEND_QUEUE;
	s->v[2] = (int)st->snd_una;
	s->v[3] = TCP_RECV_QUEUE;
	s->v[4] = (int)st->rcv_seq;
	s->v[5] = st->mss;
	s->v[6] = (int)st->tsval;
	s->opt[0] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, st->mss };
	s->opt[1] = (struct tcp_repair_opt){ TCPOPT_WINDOW,
					     st->snd_wscale | (uint32_t)st->rcv_wscale << 16 };
	s->opt[2] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	s->opt[3] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	setsockopt_sqe(r, fd, IPPROTO_TCP, TCP_REPAIR, &s->v[0], sizeof(int));
	setsockopt_sqe(r, fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &s->v[1], sizeof(int));
	setsockopt_sqe(r, fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &s->v[2], sizeof(int));
	setsockopt_sqe(r, fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &s->v[3], sizeof(int));
	setsockopt_sqe(r, fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &s->v[4], sizeof(int));
	setsockopt_sqe(r, fd, IPPROTO_TCP, TCP_MAXSEG, &s->v[5], sizeof(int));
	q = sqe_link(r);
	q->opcode = RT_IORING_OP_BIND;
	q->fd = fd;
	q->addr = (uintptr_t)&st->local.sa;
	q->off = sizeof(st->local.in4);
	q = sqe_link(r);
	io_uring_prep_connect(q, fd, &st->peer.sa, sizeof(st->peer.in4));
	q->flags = IOSQE_IO_LINK;
	setsockopt_sqe(r, fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, s->opt, sizeof(s->opt));
	setsockopt_sqe(r, fd, IPPROTO_TCP, TCP_TIMESTAMP, &s->v[6], sizeof(int));
	q = sqe_link(r);
	io_uring_prep_send(q, fd, st->rcvq, st->rcvq_len, 0);
	q->flags = IOSQE_IO_LINK;
	q = setsockopt_sqe(r, fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &st->win, sizeof(st->win));
	q->flags = 0;           /* the chain's end */
	return io_uring_sq_ready(r) - before;
}

static int uring_batch(struct io_uring *r, struct rt_sock *s, int n)
{
	struct io_uring_cqe *c;
	unsigned head, seen = 0, ops = 0;
	int i;

	for (i = 0; i < n; i++) {
		struct io_uring_sqe *q = io_uring_get_sqe(r);

		io_uring_prep_socket(q, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0, 0);
		q->user_data = (unsigned)i;
	}
	if (io_uring_submit_and_wait(r, (unsigned)n) < 0)
		return -1;
	io_uring_for_each_cqe(r, head, c) {
		s[c->user_data].fd = c->res;
		seen++;
	}
	io_uring_cq_advance(r, seen);
	for (i = 0; i < n; i++)
		if (s[i].fd < 0)
			return -1;
	for (i = 0; i < n; i++)
		ops += queue_build(r, &s[i]);
	if (reap(r, ops, "build"))
		return -1;
	for (i = 0; i < n; i++) {       /* cb_repair_go_live(), no probe */
		s[i].v[7] = TCP_REPAIR_OFF_NO_WP;
		setsockopt_sqe(r, s[i].fd, IPPROTO_TCP, TCP_REPAIR, &s[i].v[7], sizeof(int));
		setsockopt_sqe(r, s[i].fd, SOL_SOCKET, SO_REUSEADDR, &s[i].v[0], sizeof(int))->flags = 0;
	}
	return reap(r, (unsigned)(2 * n), "go live");
}

/* Closed in repair mode: no FIN, no TIME_WAIT, the tuples free again. */
static void teardown(struct rt_sock *s, int n)
{
	int i, on = TCP_REPAIR_ON;

	for (i = 0; i < n; i++) {
		if (s[i].fd >= 0) {
			setsockopt(s[i].fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on));
			close(s[i].fd);
		}
		s[i].fd = -1;
	}
}

/* ns per socket for `total` sockets built `how`, in batches. */
static double one_round(struct io_uring *r, int uring, struct rt_sock *s, int total,
			const struct in_addr *local, const struct in_addr *peer)
{
	double spent = 0, t0;
	int done, i, n;

	for (done = 0; done < total; done += n) {
		n = total - done < RT_BATCH ? total - done : RT_BATCH;
		for (i = 0; i < n; i++)
			make_state(&s[i].st, local, peer, done + i);
		t0 = now_ns();
		if (uring ? uring_batch(r, s, n) : sync_batch(s, n))
			return -1;
		spent += now_ns() - t0;
		teardown(s, n);
	}
	return spent / total;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct rt_sock s[RT_BATCH];
	struct in_addr local, peer;
	struct io_uring ring;
	double sync_ns[64], uring_ns[64];
	int total = argc > 3 ? atoi(argv[3]) : 4096, rounds = argc > 4 ? atoi(argv[4]) : 5, i, err;

	if (argc < 3 || inet_pton(AF_INET, argv[1], &local) != 1 ||
	    inet_pton(AF_INET, argv[2], &peer) != 1 || total < 1 || total > 50000 ||
	    rounds < 1 || rounds > 64) {
		fprintf(stderr, "usage: repair-time LOCAL_IPV4 PEER_IPV4 [SOCKETS [ROUNDS]]\n");
		return 2;
	}
	/* the setup a single-threaded owner of the ring would choose */
	err = io_uring_queue_init(RT_BATCH * RT_OPS_PER_SOCKET, &ring,
				  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
				  IORING_SETUP_SINGLE_ISSUER);
	if (err == -EINVAL)
		err = io_uring_queue_init(RT_BATCH * RT_OPS_PER_SOCKET, &ring, 0);
	if (err) {
		fprintf(stderr, "repair-time: io_uring_queue_init: %s\n", strerror(-err));
		return 1;
	}
	for (i = 0; i < RT_BATCH; i++)
		s[i].fd = -1;
	for (i = 0; i < rounds; i++) {  /* interleaved, the order swapped each round */
		int first = i & 1;

		double a = one_round(&ring, first, s, total, &local, &peer);
		double b = one_round(&ring, !first, s, total, &local, &peer);

		if (a < 0 || b < 0)
			return 1;
		sync_ns[i] = first ? b : a;
		uring_ns[i] = first ? a : b;
	}
	qsort(sync_ns, (size_t)rounds, sizeof(double), cmp_double);
	qsort(uring_ns, (size_t)rounds, sizeof(double), cmp_double);
	printf("sync %.0f uring %.0f\n", sync_ns[rounds / 2], uring_ns[rounds / 2]);
	io_uring_queue_exit(&ring);
	return 0;
}
