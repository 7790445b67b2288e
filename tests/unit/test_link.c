// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The peer channel (user/peer/link.c) over 127.0.0.1: two or three
 * in-process nodes, each with its own cb_loop, driven in turn by this file
 * (step()); hostile clients run as a plain blocking OpenSSL client in a
 * thread of the test (rogue), or as raw TCP.  Ports are ephemeral: no fixed
 * names, nothing outside this process.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <openssl/ssl.h>
#include "peer/link.h"
#include "util/clock.h"

static const uint8_t psk_a[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t psk_b[32] = "0123456789abcdef0123456789abcdeX";

struct node {
	uint32_t id;
	struct cb_loop loop;
	struct cb_links *l;
	struct cb_links_cfg cfg;
	bool silent;            /* not driven: a stopped process */
	bool echo;              /* answer COMMIT with DONE */
	int msgs[CB_MSG_TYPE_MAX + 1];
	struct { uint32_t peer; int state; uint64_t at; } st[64];
	int n_st;
	uint8_t *got;           /* the last frame other than HELLO/LOAD, re-encoded, msg_id 0 */
	size_t got_len;
	struct cb_msg_hello hello;
	struct cb_msg_load load;
	uint64_t heard_at;      /* the last message, any peer */
	uint64_t done_at;
	bool hello_before_up;
};

static struct node *nodes[4];
static int n_nodes;
static void (*hook)(void);
static int poll_ms = 1;         /* 0: busy polling, for timings */

static void on_msg(void *arg, uint32_t peer, const struct cb_msg *m)
{
	struct node *n = arg;
	struct cb_msg c = *m;
	ssize_t len;

	n->msgs[m->type]++;
	n->heard_at = cb_now_ms64();
	if (m->type == CB_MSG_HELLO) {
		n->hello = m->hello;
		n->hello_before_up = cb_links_state(n->l, peer) == CB_LINK_DOWN &&
				     cb_links_send(n->l, peer, m) == -ENOTCONN;
	} else if (m->type == CB_MSG_LOAD) {
		n->load = m->load;
	} else {
		c.msg_id = 0;
		len = cb_msg_encode(&c, n->got, CB_MSG_MAX);
		cr_assert_gt(len, 0);
		n->got_len = (size_t)len;
	}
	if (m->type == CB_MSG_DONE)
		n->done_at = cb_now_ns();
	if (n->echo && m->type == CB_MSG_COMMIT) {
		c.type = CB_MSG_DONE;
		cr_assert_eq(cb_links_send(n->l, peer, &c), 0);
	}
}

static void on_state(void *arg, uint32_t peer, int state)
{
	struct node *n = arg;

	if (n->n_st < 64)
		n->st[n->n_st++] = (typeof(n->st[0])){ peer, state, cb_now_ms64() };
}

static void fill_load(void *arg, struct cb_msg_load *load)
{
	struct node *n = arg;

	load->n_services = 1;
	snprintf(load->svc[0].name, sizeof(load->svc[0].name), "web");
	load->svc[0].apps = n->id;
	load->svc[0].capacity = 100;
}

static void fill_hello(void *arg, struct cb_msg_hello *h)
{
	struct node *n = arg;

	memcpy(h->mac, "\x02\0\0\0\0", 5);
	h->mac[5] = (uint8_t)n->id;
	h->n_services = 1;
	snprintf(h->services[0], sizeof(h->services[0]), "web");
}

static const struct cb_link_ops ops = { on_msg, on_state, fill_load, fill_hello };

static struct node *node_new(uint32_t id, const uint8_t *psk)
{
	struct node *n = calloc(1, sizeof(*n));

	cr_assert(n);
	n->id = id;
	n->got = malloc(CB_MSG_MAX);
	cr_assert_eq(cb_loop_init(&n->loop), 0);
	n->cfg.self_id = id;
	n->cfg.cluster = "test";
	n->cfg.psk = psk;
	n->cfg.psk_len = 32;
	n->cfg.listen = "127.0.0.1:0";
	nodes[n_nodes++] = n;
	return n;
}

/* port 0: a peer that connects to us (lower id), no address needed */
static void node_peer(struct node *n, uint32_t id, int port)
{
	struct cb_link_peer_cfg *p = &n->cfg.peers[n->cfg.n_peers++];

	p->id = id;
	snprintf(p->name, sizeof(p->name), "node%u", id);
	if (port)
		snprintf(p->addr, sizeof(p->addr), "127.0.0.1:%d", port);
}

static int node_open(struct node *n)
{
	cr_assert_eq(cb_links_open(&n->l, &n->loop, &n->cfg, &ops, n), 0);
	return cb_links_port(n->l);
}

static unsigned long wakeups;   /* callbacks run by poll_once() */

static void poll_once(struct cb_loop *lp, int timeout_ms)
{
	struct epoll_event evs[64];
	int n = epoll_wait(lp->ep, evs, 64, timeout_ms), i;

	wakeups += n > 0 ? (unsigned long)n : 0;
	for (i = 0; i < n; i++) {
		struct cb_loop_slot *s = evs[i].data.ptr;

		if (s->fd >= 0)
			s->fn(s->arg);
	}
}

/* One turn of every node that is not silent, then the test's hook. */
static void step(int timeout_ms)
{
	int i;

	for (i = 0; i < n_nodes; i++)
		if (!nodes[i]->silent && nodes[i]->l) {
			poll_once(&nodes[i]->loop, timeout_ms);
			cb_links_tick(nodes[i]->l, cb_now_ms64());
		}
	if (hook)
		hook();
}

#define RUN_UNTIL(ms, cond) ({                                          \
	uint64_t _end = cb_now_ms64() + (ms);                           \
	while (!(cond) && cb_now_ms64() < _end)                         \
		step(poll_ms);                                          \
	(cond);                                                         \
})

static void run_for(int ms)
{
	uint64_t end = cb_now_ms64() + ms;

	while (cb_now_ms64() < end)
		step(1);
}

static bool up(struct node *n, uint32_t peer)
{
	return cb_links_state(n->l, peer) == CB_LINK_UP;
}

static const struct cb_link_stats *stats(struct node *n, uint32_t peer)
{
	return cb_links_stats(n->l, peer);
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);       /* for the raw clients of the tests */
}

static void teardown(void)
{
	int i;

	for (i = 0; i < n_nodes; i++) {
		cb_links_close(nodes[i]->l);
		cb_loop_fini(&nodes[i]->loop);
		free(nodes[i]->got);
		free(nodes[i]);
	}
	n_nodes = 0;
}

/* a (1) connects to b (2) */
static void pair(struct node **a, struct node **b, const uint8_t *pa, const uint8_t *pb)
{
	int port;

	*b = node_new(2, pb);
	node_peer(*b, 1, 0);
	port = node_open(*b);
	*a = node_new(1, pa);
	node_peer(*a, 2, port);
	node_open(*a);
}

static void sample_flow(struct cb_msg_flow *f)
{
	f->family = 4;
	memcpy(f->client, "\xc6\x12\0\x64", 4);
	memcpy(f->service, "\xc6\x12\0\x0a", 4);
	f->client_port = 40000;
	f->service_port = 80;
}

static void sample_ref(struct cb_msg *m, int type, uint32_t epoch)
{
	memset(m, 0, sizeof(*m));
	m->type = (uint8_t)type;
	sample_flow(&m->ref.flow);
	m->ref.epoch = epoch;
	m->ref.reason = CB_REFUSE_NO_APP;
}

TestSuite(link, .init = setup, .fini = teardown, .timeout = 30);

Test(link, handshake_and_hello)
{
	struct node *a, *b;
	uint64_t t0 = cb_now_ns();

	poll_ms = 0;
	pair(&a, &b, psk_a, psk_a);
	cr_assert(RUN_UNTIL(2000, up(a, 2) && up(b, 1)));
	poll_ms = 1;
	cr_log_info("channel up %.2f ms after open, busy-polled (TCP to peer's HELLO: %u us as seen by a, %u us by b)",
		    (double)(cb_now_ns() - t0) / 1e6, stats(a, 2)->handshake_us,
		    stats(b, 1)->handshake_us);
	cr_expect_eq(a->msgs[CB_MSG_HELLO], 1);
	cr_expect_eq(b->msgs[CB_MSG_HELLO], 1);
	cr_expect_eq(a->hello.node_id, 2);
	cr_expect_eq(b->hello.node_id, 1);
	cr_expect_str_eq(b->hello.cluster, "test");
	cr_expect_eq(b->hello.mac[5], 1);
	cr_expect_str_eq(b->hello.services[0], "web");
	cr_expect(a->hello_before_up);
	cr_expect(b->hello_before_up);
	cr_expect_eq(stats(a, 2)->opened, 1);
	cr_expect_eq(stats(b, 1)->opened, 1);
	cr_expect_eq(stats(a, 2)->connects, 1);
	cr_expect_eq(stats(b, CB_LINK_ANON)->connects, 1);
	cr_expect_gt(stats(a, 2)->handshake_us, 0);
	/* on_state: DOWN -> UP once on each side */
	cr_expect_eq(a->n_st, 1);
	cr_expect_eq(a->st[0].peer, 2);
	cr_expect_eq(a->st[0].state, CB_LINK_UP);
	cr_expect_eq(b->n_st, 1);
	cr_expect_eq(cb_links_stats(a->l, 99), NULL);
	cr_expect_eq(cb_links_state(a->l, 99), CB_LINK_DOWN);
}

/* What a sent is what b got, byte for byte (msg_id aside: the link sets it). */
static void send_and_check(struct node *from, struct node *to, struct cb_msg *m)
{
	static uint8_t want[CB_MSG_MAX];
	int before = to->msgs[m->type];
	ssize_t n;

	m->msg_id = 0;
	n = cb_msg_encode(m, want, sizeof(want));
	cr_assert_gt(n, 0);
	cr_assert_eq(cb_links_send(from->l, to->id, m), 0);
	cr_assert(RUN_UNTIL(2000, to->msgs[m->type] > before), "%s", cb_msg_type_name(m->type));
	cr_assert_eq(to->got_len, (size_t)n);
	cr_assert_eq(memcmp(to->got, want, (size_t)n), 0, "%s", cb_msg_type_name(m->type));
}

Test(link, messages_both_ways_byte_exact)
{
	static uint8_t image[200 * 1000];
	struct node *a, *b, *from, *to;
	struct cb_msg m;
	size_t i;
	int t, dir;

	for (i = 0; i < sizeof(image); i++)
		image[i] = (uint8_t)(i * 31 + i / 251);
	pair(&a, &b, psk_a, psk_a);
	cr_assert(RUN_UNTIL(2000, up(a, 2) && up(b, 1)));
	for (dir = 0; dir < 2; dir++) {
		from = dir ? b : a;
		to = dir ? a : b;
		memset(&m, 0, sizeof(m));
		m.type = CB_MSG_SHIP;
		sample_flow(&m.ship.flow);
		m.ship.flow.family = 6;
		memset(m.ship.flow.client, 0x20, 16);
		m.ship.epoch = 7;
		strcpy(m.ship.service, "web");
		strcpy(m.ship.rule, "api");
		strcpy(m.ship.app, "backend");
		m.ship.deadline_ms = 50;
		m.ship.image = image;
		m.ship.image_len = sizeof(image);
		send_and_check(from, to, &m);
		for (t = CB_MSG_PREPARED; t <= CB_MSG_CLOSED; t++) {
			sample_ref(&m, t, (uint32_t)(t + dir));
			send_and_check(from, to, &m);
		}
	}
	cr_expect_eq(stats(a, 2)->closed[CB_LINK_R_FRAME], 0);
	cr_expect_geq(stats(a, 2)->bytes_out, sizeof(image));
	cr_expect_geq(stats(b, 1)->bytes_in, sizeof(image));
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* COMMIT there, DONE back, both loops busy-polled in this one thread. */
Test(link, round_trip)
{
	enum { N = 200 };
	static uint64_t rtt[N];
	struct node *a, *b;
	struct cb_msg m;
	int i;

	pair(&a, &b, psk_a, psk_a);
	cr_assert(RUN_UNTIL(2000, up(a, 2) && up(b, 1)));
	b->echo = true;
	for (i = 0; i < N; i++) {
		uint64_t t0 = cb_now_ns(), end = t0 + 1000000000ull;

		sample_ref(&m, CB_MSG_COMMIT, (uint32_t)i);
		a->done_at = 0;
		cr_assert_eq(cb_links_send(a->l, 2, &m), 0);
		while (!a->done_at && cb_now_ns() < end)
			step(0);
		cr_assert(a->done_at);
		rtt[i] = a->done_at - t0;
	}
	qsort(rtt, N, sizeof(rtt[0]), cmp_u64);
	cr_log_info("COMMIT -> DONE round trip over TLS, %d samples: min %.1f us, median %.1f us, p99 %.1f us",
		    N, rtt[0] / 1e3, rtt[N / 2] / 1e3, rtt[N * 99 / 100] / 1e3);
	cr_expect_eq(b->msgs[CB_MSG_COMMIT], N);
}

Test(link, load_heartbeats_keep_peers_up)
{
	struct node *a, *b;
	uint64_t seq;

	pair(&a, &b, psk_a, psk_a);
	cr_assert(RUN_UNTIL(2000, up(a, 2) && up(b, 1)));
	seq = a->load.seq;
	run_for(1500);
	/* every 100 ms: about 15 in 1.5 s */
	cr_expect_geq(a->msgs[CB_MSG_LOAD], 12, "%d", a->msgs[CB_MSG_LOAD]);
	cr_expect_leq(a->msgs[CB_MSG_LOAD], 18, "%d", a->msgs[CB_MSG_LOAD]);
	cr_expect_geq(b->msgs[CB_MSG_LOAD], 12);
	cr_expect_gt(a->load.seq, seq);
	cr_expect_eq(a->load.n_services, 1);
	cr_expect_eq(a->load.svc[0].apps, 2);   /* b's fill_load */
	cr_expect_eq(b->load.svc[0].apps, 1);
	/* never SUSPECT: one UP each, nothing else */
	cr_expect_eq(a->n_st, 1);
	cr_expect_eq(b->n_st, 1);
}

static int first_state(struct node *n, uint32_t peer, int state, int from)
{
	int i;

	for (i = from; i < n->n_st; i++)
		if (n->st[i].peer == peer && n->st[i].state == state)
			return i;
	return -1;
}

Test(link, silent_peer_suspect_then_down_then_up)
{
	struct node *a, *b;
	uint64_t heard, resumed;
	int s, d, u;

	pair(&a, &b, psk_a, psk_a);
	cr_assert(RUN_UNTIL(2000, up(a, 2) && up(b, 1)));
	run_for(200);
	b->silent = true;               /* b's process stops: no reads, no LOADs */
	cr_assert(RUN_UNTIL(2000, cb_links_state(a->l, 2) == CB_LINK_DOWN));
	heard = a->heard_at;            /* b's last LOAD, as a saw it */
	s = first_state(a, 2, CB_LINK_SUSPECT, 0);
	d = first_state(a, 2, CB_LINK_DOWN, 0);
	cr_assert(s > 0 && d > s);
	cr_log_info("silent peer: SUSPECT after %llu ms, DOWN after %llu ms of silence",
		    (unsigned long long)(a->st[s].at - heard),
		    (unsigned long long)(a->st[d].at - heard));
	cr_expect_geq(a->st[s].at - heard, 300);
	cr_expect_leq(a->st[s].at - heard, 350);
	cr_expect_geq(a->st[d].at - heard, 1000);
	cr_expect_leq(a->st[d].at - heard, 1050);
	cr_expect_eq(stats(a, 2)->closed[CB_LINK_R_SILENT], 1);

	/* b runs again: a new channel, UP on both sides */
	b->silent = false;
	resumed = cb_now_ms64();
	cr_assert(RUN_UNTIL(3000, up(a, 2) && up(b, 1)));
	u = first_state(a, 2, CB_LINK_UP, d);
	cr_assert(u > d);
	cr_log_info("back UP %llu ms after the peer resumed",
		    (unsigned long long)(a->st[u].at - resumed));
	cr_expect_leq(a->st[u].at - resumed, 2500);
	cr_expect_eq(stats(a, 2)->opened, 2);
	cr_expect_eq(stats(b, 1)->opened, 2);
	/* b saw the old channel end, and said so: DOWN between its two UPs */
	cr_expect_geq(first_state(b, 1, CB_LINK_DOWN, 0), 1);
}

Test(link, suspect_peer_that_speaks_is_up_again)
{
	struct node *a, *b;
	int s, u;

	pair(&a, &b, psk_a, psk_a);
	cr_assert(RUN_UNTIL(2000, up(a, 2) && up(b, 1)));
	b->silent = true;
	cr_assert(RUN_UNTIL(1000, cb_links_state(a->l, 2) == CB_LINK_SUSPECT));
	b->silent = false;
	cr_assert(RUN_UNTIL(500, up(a, 2)));
	s = first_state(a, 2, CB_LINK_SUSPECT, 0);
	u = first_state(a, 2, CB_LINK_UP, s);
	cr_expect(u > s);
	cr_expect_eq(first_state(a, 2, CB_LINK_DOWN, 0), -1);
	cr_expect_eq(stats(a, 2)->opened, 1);   /* the same channel */
}

Test(link, wrong_psk_refused_both_sides)
{
	struct node *a, *b;

	pair(&a, &b, psk_b, psk_a);
	cr_assert(RUN_UNTIL(2000, stats(a, 2)->closed[CB_LINK_R_BAD_PSK] >= 2 &&
			    stats(b, 1)->closed[CB_LINK_R_BAD_PSK] >= 2));
	cr_expect(!up(a, 2));
	cr_expect(!up(b, 1));
	cr_expect_eq(a->msgs[CB_MSG_HELLO] + b->msgs[CB_MSG_HELLO], 0);
	cr_expect_eq(stats(a, 2)->opened + stats(b, 1)->opened, 0);
	cr_expect_eq(a->n_st + b->n_st, 0);
}

/* ---- a plain OpenSSL client, blocking, in a thread of the test ---- */

struct rogue {
	int port;
	char ident[48];
	const uint8_t *psk;
	uint8_t script[CB_MSG_MAX];     /* sent once the handshake is done */
	size_t script_len;
	bool handshake_ok;
	int group;
	char cipher[64];
	bool closed;                    /* the server ended it (not our timeout) */
	bool done;
	pthread_t th;
};

static int rogue_psk(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
		     SSL_SESSION **sess)
{
	static const unsigned char aes256gcm[] = { 0x13, 0x02 };
	struct rogue *r = SSL_get_app_data(ssl);
	SSL_SESSION *s = SSL_SESSION_new();

	SSL_SESSION_set1_master_key(s, r->psk, 32);
	SSL_SESSION_set_cipher(s, SSL_CIPHER_find(ssl, aes256gcm));
	SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION);
	*id = (const unsigned char *)r->ident;
	*idlen = strlen(r->ident);
	*sess = s;
	return 1;
}

static int tcp_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", strerror(errno));
	return fd;
}

static void *rogue_main(void *arg)
{
	struct rogue *r = arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct timeval tv = { .tv_sec = 3 };
	int fd = tcp_connect(r->port);
	SSL *ssl;
	char buf[4096];

	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384");
	SSL_CTX_set_psk_use_session_callback(ctx, rogue_psk);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssl = SSL_new(ctx);
	SSL_set_app_data(ssl, r);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) == 1) {
		r->handshake_ok = true;
		r->group = (int)SSL_get_negotiated_group(ssl);
		snprintf(r->cipher, sizeof(r->cipher), "%s", SSL_get_cipher_name(ssl));
		if (r->script_len)
			SSL_write(ssl, r->script, (int)r->script_len);
		errno = 0;
		while (SSL_read(ssl, buf, sizeof(buf)) > 0)
			;
		r->closed = errno != EAGAIN;
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	__atomic_store_n(&r->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static struct rogue *rogue_new(int port, const char *ident, const uint8_t *psk)
{
	struct rogue *r = calloc(1, sizeof(*r));

	r->port = port;
	snprintf(r->ident, sizeof(r->ident), "%s", ident);
	r->psk = psk;
	return r;
}

static void rogue_add(struct rogue *r, const struct cb_msg *m)
{
	ssize_t n = cb_msg_encode(m, r->script + r->script_len, sizeof(r->script) - r->script_len);

	cr_assert_gt(n, 0);
	r->script_len += (size_t)n;
}

static void rogue_add_bytes(struct rogue *r, const void *p, size_t n)
{
	memcpy(r->script + r->script_len, p, n);
	r->script_len += n;
}

static void rogue_hello(struct rogue *r, uint32_t id, const char *cluster)
{
	struct cb_msg m = { .type = CB_MSG_HELLO };

	m.hello.node_id = id;
	snprintf(m.hello.cluster, sizeof(m.hello.cluster), "%s", cluster);
	rogue_add(r, &m);
}

static void rogue_start(struct rogue *r)
{
	cr_assert_eq(pthread_create(&r->th, NULL, rogue_main, r), 0);
}

static bool rogue_done(struct rogue *r)
{
	return __atomic_load_n(&r->done, __ATOMIC_ACQUIRE);
}

static void rogue_end(struct rogue *r)
{
	pthread_join(r->th, NULL);
	free(r);
}

/* b (3) takes a (1) and a rogue (2) */
static struct node *acceptor(uint32_t id)
{
	struct node *b = node_new(id, psk_a);

	node_peer(b, 1, 0);
	node_peer(b, 2, 0);
	node_open(b);
	return b;
}

Test(link, fresh_keys_each_channel)
{
	struct node *b = acceptor(3);
	struct rogue *r = rogue_new(cb_links_port(b->l), "connbroker-node-2", psk_a);

	rogue_hello(r, 2, "test");
	rogue_start(r);
	cr_assert(RUN_UNTIL(3000, up(b, 2)));
	cr_assert(RUN_UNTIL(5000, rogue_done(r)));
	/* psk_dhe_ke: an ECDHE group was negotiated, so keys are fresh */
	cr_expect(r->handshake_ok);
	cr_expect_neq(r->group, 0);
	cr_expect_str_eq(r->cipher, "TLS_AES_256_GCM_SHA384");
	rogue_end(r);
}

Test(link, unknown_identity_refused)
{
	static const char *const idents[] = {
		"connbroker-node-99",   /* not a peer */
		"connbroker-node-4",    /* a peer with a higher id: we connect to it */
		"connbroker-node-02",   /* not canonical */
		"node-1",
	};
	struct node *b = node_new(3, psk_a);
	size_t i;

	node_peer(b, 1, 0);
	node_peer(b, 4, 1);             /* unreachable port: only its identity matters */
	node_open(b);
	for (i = 0; i < sizeof(idents) / sizeof(idents[0]); i++) {
		struct rogue *r = rogue_new(cb_links_port(b->l), idents[i], psk_a);

		rogue_hello(r, 1, "test");
		rogue_start(r);
		cr_assert(RUN_UNTIL(3000, rogue_done(r)));
		cr_expect(!r->handshake_ok, "%s", idents[i]);
		cr_expect_eq(stats(b, CB_LINK_ANON)->closed[CB_LINK_R_UNKNOWN_ID], i + 1);
		rogue_end(r);
	}
	cr_expect(!up(b, 1));
	cr_expect_eq(b->msgs[CB_MSG_HELLO], 0);
}

/* A cb_links node with an id b does not know. */
Test(link, unknown_node_refused)
{
	struct node *b, *x;
	int port;

	b = node_new(5, psk_a);
	node_peer(b, 1, 0);
	port = node_open(b);
	x = node_new(3, psk_a);         /* lower than 5: it connects */
	node_peer(x, 5, port);
	node_open(x);
	cr_assert(RUN_UNTIL(2000, stats(b, CB_LINK_ANON)->closed[CB_LINK_R_UNKNOWN_ID] >= 1));
	cr_expect_geq(stats(x, 5)->closed[CB_LINK_R_HANDSHAKE], 1);
	cr_expect(!up(x, 5));
	cr_expect_eq(b->msgs[CB_MSG_HELLO], 0);
}

static void expect_hello_refused(struct rogue *r, struct node *b, uint32_t peer, int reason)
{
	rogue_start(r);
	cr_assert(RUN_UNTIL(3000, rogue_done(r)));
	cr_expect(r->handshake_ok);
	cr_expect(r->closed);
	cr_expect_eq(stats(b, peer)->closed[reason], 1, "%s: %lu", cb_link_reason_name(reason),
		     (unsigned long)stats(b, peer)->closed[reason]);
	cr_expect(!up(b, peer));
	cr_expect_eq(b->n_st, 0);
	rogue_end(r);
}

Test(link, hello_with_another_id_refused)
{
	struct node *b = acceptor(3);
	struct rogue *r = rogue_new(cb_links_port(b->l), "connbroker-node-2", psk_a);

	rogue_hello(r, 1, "test");      /* identity says 2 */
	expect_hello_refused(r, b, 2, CB_LINK_R_HELLO);
}

Test(link, hello_from_another_cluster_refused)
{
	struct node *b = acceptor(3);
	struct rogue *r = rogue_new(cb_links_port(b->l), "connbroker-node-2", psk_a);

	rogue_hello(r, 2, "staging\n");
	expect_hello_refused(r, b, 2, CB_LINK_R_HELLO);
}

Test(link, first_message_not_hello_refused)
{
	struct node *b = acceptor(3);
	struct rogue *r = rogue_new(cb_links_port(b->l), "connbroker-node-2", psk_a);
	struct cb_msg m;

	sample_ref(&m, CB_MSG_COMMIT, 1);
	rogue_add(r, &m);
	expect_hello_refused(r, b, 2, CB_LINK_R_HELLO);
	cr_expect_eq(b->msgs[CB_MSG_COMMIT], 0);
}

Test(link, second_hello_refused)
{
	struct node *b = acceptor(3);
	struct rogue *r = rogue_new(cb_links_port(b->l), "connbroker-node-2", psk_a);

	rogue_hello(r, 2, "test");
	rogue_hello(r, 2, "test");
	rogue_start(r);
	cr_assert(RUN_UNTIL(3000, rogue_done(r)));
	cr_expect_eq(stats(b, 2)->closed[CB_LINK_R_HELLO], 1);
	cr_expect_eq(stats(b, 2)->opened, 1);
	cr_expect(!up(b, 2));
	rogue_end(r);
}

Test(link, garbage_frame_after_hello_refused)
{
	struct node *b = acceptor(3);
	struct rogue *r = rogue_new(cb_links_port(b->l), "connbroker-node-2", psk_a);

	rogue_hello(r, 2, "test");
	rogue_add_bytes(r, "GARBAGE, NOT A FRAME, SIXTEEN+ BYTES", 36);
	rogue_start(r);
	cr_assert(RUN_UNTIL(3000, rogue_done(r)));
	cr_expect(r->closed);
	cr_expect_eq(stats(b, 2)->closed[CB_LINK_R_FRAME], 1);
	cr_expect(!up(b, 2));
	/* it was UP for a moment, then DOWN */
	cr_expect_eq(b->n_st, 2);
	rogue_end(r);
}

Test(link, bad_frame_value_refused)
{
	struct node *b = acceptor(3);
	struct rogue *r = rogue_new(cb_links_port(b->l), "connbroker-node-2", psk_a);
	struct cb_msg m;
	size_t at;

	rogue_hello(r, 2, "test");
	sample_ref(&m, CB_MSG_PREPARED, 5);
	at = r->script_len;
	rogue_add(r, &m);
	r->script[at + CB_MSG_HDR_LEN + CB_MSG_TLV_LEN] = 5;    /* family 5 */
	rogue_start(r);
	cr_assert(RUN_UNTIL(3000, rogue_done(r)));
	cr_expect_eq(stats(b, 2)->closed[CB_LINK_R_FRAME], 1);
	cr_expect_eq(b->msgs[CB_MSG_PREPARED], 0);
	rogue_end(r);
}

/* A peer that sends half a frame and stops does not hold up anyone else. */
Test(link, stalled_peer_blocks_nobody)
{
	struct node *a, *b;
	struct rogue *r;
	struct cb_msg m;
	uint64_t t0;
	int i;

	b = node_new(3, psk_a);
	node_peer(b, 1, 0);
	node_peer(b, 2, 0);
	a = node_new(1, psk_a);
	node_peer(a, 3, node_open(b));
	node_open(a);
	cr_assert(RUN_UNTIL(2000, up(a, 3) && up(b, 1)));

	r = rogue_new(cb_links_port(b->l), "connbroker-node-2", psk_a);
	rogue_hello(r, 2, "test");
	sample_ref(&m, CB_MSG_DONE, 1);
	rogue_add(r, &m);
	r->script_len -= 10;            /* the frame's last 10 bytes never come */
	rogue_start(r);
	cr_assert(RUN_UNTIL(3000, up(b, 2)));

	/* meanwhile a and b talk as before */
	t0 = cb_now_ms64();
	for (i = 0; i < 100; i++) {
		sample_ref(&m, CB_MSG_COMMIT, (uint32_t)i);
		cr_assert_eq(cb_links_send(a->l, 3, &m), 0);
	}
	cr_assert(RUN_UNTIL(1000, b->msgs[CB_MSG_COMMIT] == 100));
	cr_log_info("100 COMMITs delivered in %llu ms beside a stalled peer",
		    (unsigned long long)(cb_now_ms64() - t0));
	cr_expect_eq(b->msgs[CB_MSG_DONE], 0);

	/* the staller is silent: SUSPECT, then DOWN and cut off */
	cr_assert(RUN_UNTIL(3000, rogue_done(r)));
	cr_expect(r->closed);
	cr_expect_eq(stats(b, 2)->closed[CB_LINK_R_SILENT], 1);
	cr_expect_geq(first_state(b, 2, CB_LINK_SUSPECT, 0), 0);
	cr_expect(up(b, 1));
	cr_expect(up(a, 3));
	rogue_end(r);
}

static int raw_client(int port, const void *p, size_t n)
{
	int fd = tcp_connect(port);

	if (n)
		cr_assert_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
	return fd;
}

/* until the other side closes; false on a 3 s timeout */
static bool closed_by_peer(int fd)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = 1000 };
	uint64_t end = cb_now_ms64() + 3000;
	char buf[4096];
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (cb_now_ms64() < end) {
		step(1);
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return true;
	}
	return false;
}

Test(link, raw_garbage_refused)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	uint8_t noise[3000];
	struct node *b = acceptor(3);
	int port = cb_links_port(b->l), fd;
	size_t i;

	fd = raw_client(port, http, sizeof(http) - 1);
	cr_expect(closed_by_peer(fd));
	close(fd);
	cr_expect_eq(stats(b, CB_LINK_ANON)->closed[CB_LINK_R_HANDSHAKE], 1);

	for (i = 0; i < sizeof(noise); i++)
		noise[i] = (uint8_t)(i * 2654435761u >> 13);
	fd = raw_client(port, noise, sizeof(noise));
	cr_expect(closed_by_peer(fd));
	close(fd);
	cr_expect_eq(stats(b, CB_LINK_ANON)->closed[CB_LINK_R_HANDSHAKE], 2);

	/* a TLS record header promising more than it sends, then silence */
	fd = raw_client(port, "\x16\x03\x01\x02\x00\x01", 6);
	cr_expect(closed_by_peer(fd));
	close(fd);
	cr_expect_eq(stats(b, CB_LINK_ANON)->closed[CB_LINK_R_TIMEOUT], 1);
	cr_expect_eq(stats(b, CB_LINK_ANON)->connects, 3);
	cr_expect_eq(b->n_st, 0);
}

/* 16 idle connections wait at most; more evict the oldest, so a real peer
 * still gets in behind a crowd of them. */
Test(link, pending_connections_bounded)
{
	enum { N = CB_LINK_PENDING_MAX + 2 };
	struct node *b = acceptor(3);
	struct rogue *r;
	int fds[N], i;

	for (i = 0; i < N; i++)
		fds[i] = raw_client(cb_links_port(b->l), NULL, 0);
	cr_assert(RUN_UNTIL(500, stats(b, CB_LINK_ANON)->connects == N));
	cr_expect_eq(stats(b, CB_LINK_ANON)->closed[CB_LINK_R_FULL], 2);
	/* the two oldest went: the server closed them */
	cr_expect(closed_by_peer(fds[0]));
	cr_expect(closed_by_peer(fds[1]));

	r = rogue_new(cb_links_port(b->l), "connbroker-node-2", psk_a);
	rogue_hello(r, 2, "test");
	rogue_start(r);
	cr_assert(RUN_UNTIL(2000, up(b, 2)));
	cr_expect_eq(stats(b, CB_LINK_ANON)->closed[CB_LINK_R_FULL], 3);

	/* the idle ones go at their deadline */
	cr_assert(RUN_UNTIL(2000, stats(b, CB_LINK_ANON)->closed[CB_LINK_R_TIMEOUT] ==
			    CB_LINK_PENDING_MAX - 1));
	for (i = 0; i < N; i++)
		close(fds[i]);
	cr_assert(RUN_UNTIL(3000, rogue_done(r)));
	rogue_end(r);
}

/* ---- replay: a proxy between a and b records a's bytes ---- */

static struct {
	int lfd, a, b, to_port;
	uint8_t rec[1 << 20];
	size_t rec_len;
} px = { .lfd = -1, .a = -1, .b = -1 };

static void px_copy(int from, int to, bool record)
{
	uint8_t buf[16384];
	ssize_t n = recv(from, buf, sizeof(buf), MSG_DONTWAIT);

	if (n <= 0)
		return;
	cr_assert_eq(send(to, buf, (size_t)n, MSG_NOSIGNAL), n);
	if (record && px.rec_len + (size_t)n <= sizeof(px.rec)) {
		memcpy(px.rec + px.rec_len, buf, (size_t)n);
		px.rec_len += (size_t)n;
	}
}

static void px_hook(void)
{
	if (px.a < 0) {
		px.a = accept4(px.lfd, NULL, NULL, SOCK_CLOEXEC);
		if (px.a >= 0)
			px.b = tcp_connect(px.to_port);
		return;
	}
	px_copy(px.a, px.b, true);
	px_copy(px.b, px.a, false);
}

static int px_listen(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	px.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	cr_assert_eq(bind(px.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(px.lfd, 4), 0);
	getsockname(px.lfd, (struct sockaddr *)&sa, &len);
	return ntohs(sa.sin_port);
}

static void replay_into(struct node *to)
{
	int fd = raw_client(cb_links_port(to->l), px.rec, px.rec_len);

	cr_expect(closed_by_peer(fd));
	close(fd);
}

Test(link, replayed_stream_refused)
{
	struct node *a, *b, *b2;
	struct cb_msg m;

	b = node_new(2, psk_a);
	node_peer(b, 1, 0);
	px.to_port = node_open(b);
	a = node_new(1, psk_a);
	node_peer(a, 2, px_listen());
	node_open(a);
	hook = px_hook;
	cr_assert(RUN_UNTIL(2000, up(a, 2) && up(b, 1)));
	sample_ref(&m, CB_MSG_COMMIT, 77);
	cr_assert_eq(cb_links_send(a->l, 2, &m), 0);
	cr_assert(RUN_UNTIL(2000, b->msgs[CB_MSG_COMMIT] == 1));
	cr_log_info("recorded %zu bytes of a's side of the channel", px.rec_len);

	/* the same bytes to a fresh acceptor with the same PSK and peers */
	b2 = node_new(2, psk_a);
	node_peer(b2, 1, 0);
	node_open(b2);
	replay_into(b2);
	cr_expect_eq(stats(b2, 1)->closed[CB_LINK_R_RECORD], 1);
	cr_expect_eq(stats(b2, 1)->opened, 0);
	cr_expect_eq(b2->msgs[CB_MSG_HELLO] + b2->msgs[CB_MSG_COMMIT], 0);
	cr_expect_eq(b2->n_st, 0);

	/* and to the acceptor it was recorded from: refused, the real channel untouched */
	replay_into(b);
	cr_expect_eq(stats(b, 1)->closed[CB_LINK_R_RECORD], 1);
	cr_expect_eq(b->msgs[CB_MSG_COMMIT], 1);
	cr_expect_eq(stats(b, 1)->opened, 1);
	cr_expect(up(b, 1));
	hook = NULL;
	close(px.a);
	close(px.b);
	close(px.lfd);
}

/* A peer that does not read: the queue stops at CB_LINK_QUEUE_MAX. */
Test(link, send_queue_bounded)
{
	static uint8_t image[200 * 1000];
	struct node *a, *b;
	struct cb_msg m = { .type = CB_MSG_SHIP };
	int i, r = 0;

	pair(&a, &b, psk_a, psk_a);
	cr_assert(RUN_UNTIL(2000, up(a, 2) && up(b, 1)));
	b->silent = true;
	m.ship.flow.family = 4;
	strcpy(m.ship.service, "web");
	strcpy(m.ship.app, "x");
	m.ship.image = image;
	m.ship.image_len = sizeof(image);
	/* the kernel's buffers take some, then the link's queue */
	for (i = 0; i < 200 && !r; i++)
		r = cb_links_send(a->l, 2, &m);
	cr_expect_eq(r, -ENOBUFS);
	cr_expect_eq(stats(a, 2)->enobufs, 1);
	cr_log_info("-ENOBUFS after %d frames of 200 KB", i - 1);
	cr_expect_leq(i - 1, 150);
	/* the channel itself is fine; b is only slow */
	cr_expect(up(a, 2));
	cr_expect_eq(cb_links_send(a->l, 99, &m), -ENOENT);
}

Test(link, send_without_channel)
{
	struct node *a, *b;
	struct cb_msg m;

	pair(&a, &b, psk_a, psk_a);
	sample_ref(&m, CB_MSG_ABORT, 1);
	cr_expect_eq(cb_links_send(a->l, 2, &m), -ENOTCONN);
	cr_assert(RUN_UNTIL(2000, up(a, 2)));
	m.ref.flow.family = 7;
	cr_expect_eq(cb_links_send(a->l, 2, &m), -EINVAL);
}

Test(link, unreachable_peer_backs_off)
{
	struct node *a = node_new(1, psk_a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	/* a port nobody listens on: bound, never listening */
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &len);
	port = ntohs(sa.sin_port);
	node_peer(a, 2, port);
	node_open(a);
	run_for(2000);
	/* 100, 200, 400, 800 ms: five attempts in 2 s (the first at once) */
	cr_expect_geq(stats(a, 2)->connects, 4);
	cr_expect_leq(stats(a, 2)->connects, 6);
	cr_expect_geq(stats(a, 2)->closed[CB_LINK_R_IO] + 1, stats(a, 2)->connects);
	close(fd);
}

Test(link, bad_config_refused)
{
	struct cb_loop loop;
	struct cb_links *l;
	struct cb_links_cfg cfg = { .self_id = 1, .cluster = "c", .psk = psk_a, .psk_len = 32 };

	cr_assert_eq(cb_loop_init(&loop), 0);
	cr_expect_eq(cb_links_open(&l, &loop, &cfg, &ops, NULL), 0);
	cb_links_close(l);
	cfg.psk_len = 31;
	cr_expect_eq(cb_links_open(&l, &loop, &cfg, &ops, NULL), -EINVAL);
	cfg.psk_len = 32;
	cfg.self_id = 0;
	cr_expect_eq(cb_links_open(&l, &loop, &cfg, &ops, NULL), -EINVAL);
	cfg.self_id = 1;
	cfg.n_peers = 1;
	cfg.peers[0].id = 1;            /* ourselves */
	cr_expect_eq(cb_links_open(&l, &loop, &cfg, &ops, NULL), -EINVAL);
	cfg.peers[0].id = 2;            /* higher: needs an address */
	cr_expect_eq(cb_links_open(&l, &loop, &cfg, &ops, NULL), -EINVAL);
	strcpy(cfg.peers[0].addr, "[::1]:7000");
	cr_expect_eq(cb_links_open(&l, &loop, &cfg, &ops, NULL), 0);
	cb_links_close(l);
	strcpy(cfg.peers[0].addr, "localhost:7000");
	cr_expect_eq(cb_links_open(&l, &loop, &cfg, &ops, NULL), -EINVAL);
	strcpy(cfg.peers[0].addr, "10.0.0.1:0");
	cr_expect_eq(cb_links_open(&l, &loop, &cfg, &ops, NULL), -EINVAL);
	strcpy(cfg.peers[0].addr, "10.0.0.1:7000");
	cfg.n_peers = 2;
	cfg.peers[1] = cfg.peers[0];    /* the same id twice */
	cr_expect_eq(cb_links_open(&l, &loop, &cfg, &ops, NULL), -EINVAL);
	cfg.n_peers = 1;
	cfg.suspect_ms = 2000;          /* not below down_ms */
	cr_expect_eq(cb_links_open(&l, &loop, &cfg, &ops, NULL), -EINVAL);
	cfg.suspect_ms = 0;
	cfg.listen = "127.0.0.1:99999";
	cr_expect_eq(cb_links_open(&l, &loop, &cfg, &ops, NULL), -EINVAL);
	cb_loop_fini(&loop);
}

/* accept() out of fds: the listener is paused until the next tick, not
 * spun on (level-triggered epoll would wake at once, forever). */
Test(link, accept_out_of_fds_does_not_spin)
{
	struct node *b = acceptor(3);
	struct rlimit old, low;
	int fd, spare;

	getrlimit(RLIMIT_NOFILE, &old);
	fd = raw_client(cb_links_port(b->l), NULL, 0);
	spare = dup(0);                 /* the next free fd number */
	close(spare);
	low = old;
	low.rlim_cur = (rlim_t)spare;   /* no fd left for accept() */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	wakeups = 0;
	run_for(300);
	cr_expect_eq(stats(b, CB_LINK_ANON)->connects, 0);
	cr_log_info("listener woke %lu times in 300 ms without fds", wakeups);
	cr_expect_leq(wakeups, 10);     /* every 100 ms, not a spin */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	cr_assert(RUN_UNTIL(500, stats(b, CB_LINK_ANON)->connects == 1));
	close(fd);
}

/* A restarted peer opens a new channel while the old one still looks alive:
 * the new one wins, and the caller sees DOWN then UP. */
Test(link, newer_channel_replaces_older)
{
	struct node *b = acceptor(3);
	struct rogue *r1 = rogue_new(cb_links_port(b->l), "connbroker-node-1", psk_a);
	struct rogue *r2 = rogue_new(cb_links_port(b->l), "connbroker-node-1", psk_a);

	rogue_hello(r1, 1, "test");
	rogue_hello(r2, 1, "test");
	rogue_start(r1);
	cr_assert(RUN_UNTIL(2000, up(b, 1)));
	rogue_start(r2);
	cr_assert(RUN_UNTIL(2000, stats(b, 1)->opened == 2));
	cr_assert(RUN_UNTIL(2000, rogue_done(r1)));
	cr_expect(r1->closed);
	cr_expect_eq(stats(b, 1)->closed[CB_LINK_R_REPLACED], 1);
	cr_expect(up(b, 1));
	cr_assert_eq(b->n_st, 3);
	cr_expect_eq(b->st[0].state, CB_LINK_UP);
	cr_expect_eq(b->st[1].state, CB_LINK_DOWN);
	cr_expect_eq(b->st[2].state, CB_LINK_UP);
	cr_expect_eq(b->msgs[CB_MSG_HELLO], 2);
	cr_assert(RUN_UNTIL(3000, rogue_done(r2)));    /* silent: cut off in 1 s */
	rogue_end(r1);
	rogue_end(r2);
}
