// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The channels between nodes (link.h says what they guarantee).
 *
 * A connection goes TCP -> TLS -> HELLO -> OPEN.  Every fd's callback
 * (conn_event) just pushes the connection as far as it will go, so a
 * spurious or stale wake-up is harmless.  Connections are closed in one
 * place, conn_close(), and only from code that holds no pointer into them
 * afterwards: a failure found while sending from the caller's code (which
 * may run inside another connection's callback) is only recorded (fail) and
 * acted on at the connection's next event or tick.
 *
 * Time comes from cb_links_tick() only; the I/O path marks a peer "heard"
 * and the next tick stamps it, so every timer runs on the caller's clock.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "peer/link.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/parse_util.h"

#define IDENT_PREFIX       "connbroker-node-"
#define CIPHERSUITE        "TLS_AES_256_GCM_SHA384"
#define BACKOFF_MIN_MS     100
#define BACKOFF_MAX_MS     2000
#define READS_PER_EVENT    64   /* records per wake-up: one busy peer cannot
				 * starve the loop */
#define ACCEPTS_PER_EVENT  16
#define QUEUE_MIN          (64u << 10)
#define LOGS_PER_SECOND    20   /* refusals of unauthenticated connections:
				 * a flood must not flood the log */
#define DETAIL             160

enum phase { P_TCP, P_TLS, P_HELLO, P_OPEN };

struct link_peer;

struct cb_conn {
	struct cb_links *l;
	struct link_peer *peer;   /* ours to connect to; accepted: the identity
				 * it claimed (trusted once OPEN) */
	int fd;
	SSL *ssl;
	enum phase phase;
	bool out;               /* we connected */
	bool want_out;          /* TLS needs the socket writable */
	uint32_t events;        /* what the loop waits for */
	uint64_t deadline;      /* OPEN by then, or closed */
	uint64_t t0_ns;
	int reason;             /* set by a PSK callback: why the handshake fails */
	int fail;               /* a failure seen outside conn_event: close soon */
	char fail_detail[DETAIL];
	uint8_t *rbuf;          /* CB_MSG_MAX, once the handshake is done */
	size_t rlen;
	uint8_t *wbuf;          /* queued frames: [whead, wlen) */
	size_t whead, wlen, wcap;
	uint32_t next_id;
	char remote[64];        /* "ip:port", for messages */
	char claim[48];         /* an unknown identity, printable */
};

struct link_peer {
	uint32_t id;
	char name[CB_LINK_NAME];
	char addr_str[CB_LINK_NAME];
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char ident[32];         /* the PSK identity it connects with */
	bool we_connect;        /* its id is higher */
	struct cb_conn *conn;   /* outgoing attempt, or the authenticated channel */
	int state;
	bool heard;             /* a frame came since the last tick */
	uint64_t last_rx;
	uint32_t backoff;
	uint64_t next_try;
	struct cb_link_stats st;
};

struct cb_links {
	struct cb_loop *loop;
	struct cb_link_ops ops;
	void *arg;
	uint32_t self_id;
	char cluster[CB_MSG_NAME_MAX + 1];
	char ident[32];
	uint8_t psk[CB_LINK_PSK_MAX];
	size_t psk_len;
	uint32_t heartbeat_ms, suspect_ms, down_ms;
	SSL_CTX *ctx;
	BIO_METHOD *bio_meth;
	int lfd;
	struct link_peer peers[CB_LINK_PEERS_MAX];
	int n_peers;
	struct cb_conn *pending[CB_LINK_PENDING_MAX];  /* accepted, not OPEN */
	struct cb_link_stats anon;
	uint64_t now, next_load, load_seq;
	uint64_t log_window;
	uint32_t logs_in_window, logs_dropped;
	bool closing;           /* cb_links_close: no more callbacks */
	bool accept_failing;    /* accept() failed for want of fds or memory: */
	uint64_t accept_resume; /* the listener waits again then (0: it does) */
	uint8_t *scratch;       /* CB_MSG_MAX: the frame being encoded */
};

static const char *const reason_names[CB_LINK_R_MAX] = {
	[CB_LINK_R_NONE] = "none",
	[CB_LINK_R_BAD_PSK] = "wrong PSK",
	[CB_LINK_R_UNKNOWN_ID] = "unknown identity",
	[CB_LINK_R_HANDSHAKE] = "TLS handshake failed",
	[CB_LINK_R_RECORD] = "a TLS record failed authentication (replayed or tampered)",
	[CB_LINK_R_FRAME] = "malformed frame",
	[CB_LINK_R_HELLO] = "bad HELLO",
	[CB_LINK_R_TIMEOUT] = "handshake timed out",
	[CB_LINK_R_SILENT] = "silent",
	[CB_LINK_R_EOF] = "closed by the other side",
	[CB_LINK_R_IO] = "I/O error",
	[CB_LINK_R_FULL] = "too many connections waiting for a handshake",
	[CB_LINK_R_REPLACED] = "replaced by a newer channel",
	[CB_LINK_R_LOCAL] = "closed here",
};

const char *cb_link_reason_name(int reason)
{
	return reason >= 0 && reason < CB_LINK_R_MAX ? reason_names[reason] : "?";
}

const char *cb_link_state_name(int state)
{
	switch (state) {
	case CB_LINK_DOWN:
		return "down";
	case CB_LINK_SUSPECT:
		return "suspect";
	case CB_LINK_UP:
		return "up";
	}
	return "?";
}

/* ---- small helpers ---- */

/* "1.2.3.4:80" or "[2001:db8::1]:80"; port 0 only if any_port. */
static int parse_addr(const char *s, bool any_port, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[CB_LINK_NAME];
	const char *colon = strrchr(s, ':');
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	uint32_t port;
	size_t n;

	if (!colon || cb_parse_u32(colon + 1, any_port ? 0 : 1, 65535, &port))
		return -EINVAL;
	n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
		s++, n -= 2;
	if (n >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return 0;
	}
	return -EINVAL;
}

static void fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const struct sockaddr_in6 *a6 = (const void *)ss;
	const struct sockaddr_in *a4 = (const void *)ss;
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(a6->sin6_port));
	} else {
		inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(a4->sin_port));
	}
}

/* Bytes from the network, made safe for a log line. */
static void printable(const void *p, size_t n, char *out, size_t len)
{
	const uint8_t *s = p;
	size_t i;

	for (i = 0; i < n && i + 1 < len; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	out[i] = '\0';
}

static struct link_peer *peer_find(const struct cb_links *l, uint32_t id)
{
	int i;

	for (i = 0; i < l->n_peers; i++)
		if (l->peers[i].id == id)
			return (struct link_peer *)&l->peers[i];
	return NULL;
}

/* Only peers with a lower id connect to us. */
static struct link_peer *peer_by_identity(struct cb_links *l, const uint8_t *id, size_t len)
{
	int i;

	for (i = 0; i < l->n_peers; i++) {
		struct link_peer *p = &l->peers[i];

		if (!p->we_connect && strlen(p->ident) == len && !memcmp(p->ident, id, len))
			return p;
	}
	return NULL;
}

static struct cb_link_stats *stats_of(struct cb_conn *c)
{
	return c->peer ? &c->peer->st : &c->l->anon;
}

static void sock_opts(const struct cb_links *l, int fd)
{
	int one = 1;
	unsigned int timeout = l->down_ms;

	/* frames are small and latency counts; unacknowledged data for longer
	 * than down_ms means the peer is gone */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof(timeout));
}

/* ---- the socket BIO: send() with MSG_NOSIGNAL, so a dead peer cannot
 * SIGPIPE the controller (OpenSSL's own socket BIO uses write()) ---- */

static int bio_write(BIO *b, const char *p, int n)
{
	struct cb_conn *c = BIO_get_data(b);
	ssize_t r = send(c->fd, p, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);

	BIO_clear_retry_flags(b);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)r;
}

static int bio_read(BIO *b, char *p, int n)
{
	struct cb_conn *c = BIO_get_data(b);
	ssize_t r = recv(c->fd, p, (size_t)n, MSG_DONTWAIT);

	BIO_clear_retry_flags(b);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)r;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	return cmd == BIO_CTRL_FLUSH;   /* nothing is buffered here */
}

static BIO_METHOD *bio_meth_new(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cb-peer");

	if (m && BIO_meth_set_write(m, bio_write) && BIO_meth_set_read(m, bio_read) &&
	    BIO_meth_set_ctrl(m, bio_ctrl))
		return m;
	BIO_meth_free(m);
	return NULL;
}

/* ---- TLS 1.3 external PSK ---- */

static SSL_SESSION *psk_session(const struct cb_links *l, SSL *ssl)
{
	static const unsigned char aes256gcm[] = { 0x13, 0x02 };
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, aes256gcm);
	SSL_SESSION *s = SSL_SESSION_new();

	if (cipher && s && SSL_SESSION_set1_master_key(s, l->psk, l->psk_len) &&
	    SSL_SESSION_set_cipher(s, cipher) &&
	    SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION))
		return s;
	SSL_SESSION_free(s);
	return NULL;
}

static int psk_use(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
		   SSL_SESSION **sess)
{
	struct cb_conn *c = SSL_get_app_data(ssl);
	SSL_SESSION *s = psk_session(c->l, ssl);

	*sess = NULL;
	if (!s)
		return 0;
	/* after a HelloRetryRequest OpenSSL asks again, for a given hash */
	if (md && md != SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(s))) {
		SSL_SESSION_free(s);
		return 1;
	}
	*id = (const unsigned char *)c->l->ident;
	*idlen = strlen(c->l->ident);
	*sess = s;
	return 1;
}

static int psk_find(SSL *ssl, const unsigned char *id, size_t len, SSL_SESSION **sess)
{
	struct cb_conn *c = SSL_get_app_data(ssl);
	struct link_peer *p = peer_by_identity(c->l, id, len);

	*sess = NULL;
	if (!p) {
		c->reason = CB_LINK_R_UNKNOWN_ID;
		printable(id, len, c->claim, sizeof(c->claim));
		return 0;       /* fatal: no other way in (no certificate) */
	}
	c->peer = p;            /* claimed; proven by the binder, then HELLO */
	*sess = psk_session(c->l, ssl);
	return *sess != NULL;
}

static SSL_CTX *ctx_new(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());

	if (!ctx)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, CIPHERSUITE) ||
	    !SSL_CTX_set_num_tickets(ctx, 0)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* no resumption: every channel starts from the PSK, with a fresh
	 * ECDHE share (psk_dhe_ke; psk_ke would reuse the PSK's keys) */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_clear_options(ctx, SSL_OP_ALLOW_NO_DHE_KEX);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* the send queue hands SSL_write everything queued; it only grows, and
	 * may move when compacted */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_psk_use_session_callback(ctx, psk_use);
	SSL_CTX_set_psk_find_session_callback(ctx, psk_find);
	return ctx;
}

/*
 * Why an SSL call that returned ret failed, with OpenSSL's words in d; 0
 * when it only waits for the socket (want_out set if it must be writable).
 */
static int ssl_failure(struct cb_conn *c, int ret, char *d, size_t dl)
{
	int sys = errno, e = SSL_get_error(c->ssl, ret);
	unsigned long err = ERR_peek_error();

	switch (e) {
	case SSL_ERROR_WANT_READ:
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->want_out = true;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		return CB_LINK_R_EOF;
	case SSL_ERROR_SYSCALL:
		snprintf(d, dl, "%s", sys ? strerror(sys) : "connection closed");
		ERR_clear_error();
		return sys ? CB_LINK_R_IO : CB_LINK_R_EOF;
	}
	snprintf(d, dl, "%s", ERR_reason_error_string(err) ?: "unknown TLS error");
	ERR_clear_error();
	if (c->reason)
		return c->reason;
	switch (ERR_GET_REASON(err)) {
	case SSL_R_BINDER_DOES_NOT_VERIFY:
		return CB_LINK_R_BAD_PSK;
	case SSL_R_SSLV3_ALERT_ILLEGAL_PARAMETER:
	case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
		/* the acceptor's answer to a binder that does not verify
		 * (OpenSSL 3.0 sends illegal_parameter, later ones
		 * decrypt_error): our own ClientHello is otherwise sound */
		if (c->out && c->phase == P_TLS)
			return CB_LINK_R_BAD_PSK;
		break;
	case SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC:
	case SSL_R_SSLV3_ALERT_BAD_RECORD_MAC:
		return CB_LINK_R_RECORD;
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		return CB_LINK_R_EOF;
	}
	return c->phase == P_TLS ? CB_LINK_R_HANDSHAKE : CB_LINK_R_RECORD;
}

/* ---- connections: life and death ---- */

static void conn_event(void *arg);

static void conn_free(struct cb_conn *c, bool polite)
{
	if (polite && c->phase == P_OPEN) {
		ERR_clear_error();
		SSL_shutdown(c->ssl);   /* close_notify, best effort */
		ERR_clear_error();
	}
	cb_loop_del(c->l->loop, c->fd);
	SSL_free(c->ssl);       /* and its BIO */
	close(c->fd);
	free(c->rbuf);
	free(c->wbuf);
	free(c);
}

/* fd is the connection's from here on, even on failure. */
static struct cb_conn *conn_new(struct cb_links *l, int fd, struct link_peer *p, bool out)
{
	struct cb_conn *c = calloc(1, sizeof(*c));
	BIO *bio = NULL;

	if (!c)
		goto fail;
	c->l = l;
	c->fd = fd;
	c->peer = p;
	c->out = out;
	c->phase = out ? P_TCP : P_TLS;
	c->deadline = l->now + l->down_ms;
	c->t0_ns = cb_now_ns();
	c->ssl = SSL_new(l->ctx);
	bio = BIO_new(l->bio_meth);
	if (!c->ssl || !bio)
		goto fail;
	BIO_set_data(bio, c);
	BIO_set_init(bio, 1);
	SSL_set_bio(c->ssl, bio, bio);
	bio = NULL;
	SSL_set_app_data(c->ssl, c);
	if (out)
		SSL_set_connect_state(c->ssl);
	else
		SSL_set_accept_state(c->ssl);
	if (cb_loop_add(l->loop, fd, conn_event, c))
		goto fail;
	c->events = EPOLLIN;
	return c;
fail:
	BIO_free(bio);
	if (c)
		SSL_free(c->ssl);
	free(c);
	close(fd);
	return NULL;
}

static void set_state(struct link_peer *p, struct cb_links *l, int state)
{
	if (p->state == state)
		return;
	p->state = state;
	if (l->closing)
		return;
	(state == CB_LINK_UP ? cb_info : cb_err)("peer %u (%s): %s", p->id, p->name,
						 cb_link_state_name(state));
	if (l->ops.on_state)
		l->ops.on_state(l->arg, p->id, state);
}

static void peer_retry(struct cb_links *l, struct link_peer *p)
{
	p->next_try = l->now + p->backoff;
	p->backoff = p->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff * 2;
}

/* Unauthenticated connections are logged at most LOGS_PER_SECOND times a
 * second; the counters still count every one. */
static bool log_budget(struct cb_links *l)
{
	uint64_t window = l->now / 1000;

	if (window != l->log_window) {
		if (l->logs_dropped)
			cb_err("peer listener: %u more refused connections not logged",
			       l->logs_dropped);
		l->log_window = window;
		l->logs_in_window = l->logs_dropped = 0;
	}
	if (l->logs_in_window < LOGS_PER_SECOND) {
		l->logs_in_window++;
		return true;
	}
	l->logs_dropped++;
	return false;
}

static void log_close(struct cb_conn *c, int reason, const char *d)
{
	struct link_peer *p = c->peer;
	const char *sep = d[0] ? ": " : "";
	const char *what = cb_link_reason_name(reason);

	if (c->l->closing || (reason == CB_LINK_R_LOCAL && !d[0]))
		return;         /* closing down: not news; a drop says why */
	if (c->out && c->phase != P_OPEN) {
		/* a peer that is down fails every retry: say it once */
		(p->backoff == BACKOFF_MIN_MS ? cb_err : cb_debug)(
			"peer %u (%s) at %s: cannot open a channel: %s%s%s; retrying every %u ms at most",
			p->id, p->name, p->addr_str, what, sep, d, BACKOFF_MAX_MS);
	} else if (c->phase == P_OPEN) {
		cb_err("peer %u (%s): channel closed: %s%s%s", p->id, p->name, what, sep, d);
	} else if (!log_budget(c->l)) {
		return;
	} else if (p) {
		cb_err("connection from %s claiming to be peer %u (%s): refused: %s%s%s",
		       c->remote, p->id, p->name, what, sep, d);
	} else if (c->claim[0]) {
		cb_err("connection from %s as '%s': refused: %s", c->remote, c->claim, what);
	} else {
		cb_err("connection from %s: refused: %s%s%s", c->remote, what, sep, d);
	}
}

static void pending_remove(struct cb_links *l, struct cb_conn *c)
{
	int i;

	for (i = 0; i < CB_LINK_PENDING_MAX; i++)
		if (l->pending[i] == c)
			l->pending[i] = NULL;
}

/* The one way a connection ends: counted, logged once, its peer DOWN. */
static void conn_close(struct cb_conn *c, int reason, const char *d)
{
	struct cb_links *l = c->l;
	struct link_peer *p = c->peer;

	stats_of(c)->closed[reason]++;
	log_close(c, reason, d);
	if (p && p->conn == c) {
		p->conn = NULL;
		if (p->we_connect)
			peer_retry(l, p);
		set_state(p, l, CB_LINK_DOWN);
	} else {
		pending_remove(l, c);
	}
	conn_free(c, reason == CB_LINK_R_LOCAL);
}

static void conn_defer_fail(struct cb_conn *c, int reason, const char *d)
{
	if (c->fail)
		return;
	c->fail = reason;
	snprintf(c->fail_detail, sizeof(c->fail_detail), "%s", d);
}

/* ---- sending ---- */

static int conn_set_events(struct cb_conn *c)
{
	uint32_t ev = EPOLLIN;
	int err;

	if (c->phase == P_TCP || c->want_out || c->whead < c->wlen)
		ev |= EPOLLOUT;
	if (ev == c->events)
		return 0;
	err = cb_loop_mod(c->l->loop, c->fd, ev);
	if (!err)
		c->events = ev;
	return err;
}

static int queue_room(struct cb_conn *c, size_t n)
{
	size_t used = c->wlen - c->whead, cap;
	uint8_t *p;

	if (used + n > CB_LINK_QUEUE_MAX)
		return -ENOBUFS;
	if (c->wlen + n <= c->wcap)
		return 0;
	if (c->whead) {
		memmove(c->wbuf, c->wbuf + c->whead, used);
		c->wlen = used;
		c->whead = 0;
		if (c->wlen + n <= c->wcap)
			return 0;
	}
	for (cap = c->wcap ? c->wcap : QUEUE_MIN; cap < c->wlen + n; cap *= 2)
		;
	p = realloc(c->wbuf, cap);
	if (!p)
		return -ENOBUFS;
	c->wbuf = p;
	c->wcap = cap;
	return 0;
}

/* Queue one encoded frame (its msg_id is set here); no I/O. */
static int conn_push(struct cb_conn *c, uint8_t *frame, size_t n)
{
	struct cb_link_stats *st = stats_of(c);
	uint32_t id;

	if (queue_room(c, n)) {
		st->enobufs++;
		return -ENOBUFS;
	}
	id = htonl(++c->next_id);
	memcpy(frame + 12, &id, sizeof(id));
	memcpy(c->wbuf + c->wlen, frame, n);
	c->wlen += n;
	st->msgs_out++;
	st->bytes_out += n;
	return 0;
}

static int conn_flush(struct cb_conn *c, char *d, size_t dl)
{
	size_t n;

	while (c->whead < c->wlen) {
		ERR_clear_error();
		errno = 0;
		if (SSL_write_ex(c->ssl, c->wbuf + c->whead, c->wlen - c->whead, &n) <= 0)
			return ssl_failure(c, 0, d, dl);
		c->whead += n;
	}
	c->whead = c->wlen = 0;
	return 0;
}

/* From the caller's code or a tick: a failure waits for conn_event. */
static int conn_send(struct cb_conn *c, uint8_t *frame, size_t n)
{
	char d[DETAIL] = "";
	int r;

	if (!c || c->phase != P_OPEN || c->fail)
		return -ENOTCONN;
	r = conn_push(c, frame, n);
	if (r)
		return r;
	r = conn_flush(c, d, sizeof(d));
	if (!r && conn_set_events(c))
		r = CB_LINK_R_IO;
	if (r) {
		conn_defer_fail(c, r, d);
		return -ENOTCONN;
	}
	return 0;
}

static int hello_send(struct cb_conn *c, char *d, size_t dl)
{
	struct cb_links *l = c->l;
	struct cb_msg m = { .type = CB_MSG_HELLO };
	ssize_t n;

	if (l->ops.fill_hello)
		l->ops.fill_hello(l->arg, &m.hello);
	m.hello.node_id = l->self_id;
	snprintf(m.hello.cluster, sizeof(m.hello.cluster), "%s", l->cluster);
	n = cb_msg_encode(&m, l->scratch, CB_MSG_MAX);
	if (n < 0) {
		snprintf(d, dl, "our own HELLO does not encode: %s", strerror((int)-n));
		return CB_LINK_R_HELLO;
	}
	return conn_push(c, l->scratch, (size_t)n) ? CB_LINK_R_IO : 0;
}

/* ---- receiving ---- */

static void peer_heard(struct cb_links *l, struct link_peer *p)
{
	p->heard = true;
	if (p->state == CB_LINK_SUSPECT)
		set_state(p, l, CB_LINK_UP);
}

/* An accepted connection proven to be p's becomes p's channel. */
static void conn_adopt(struct cb_conn *c)
{
	struct cb_links *l = c->l;
	struct link_peer *p = c->peer;

	if (c->out)
		return;
	pending_remove(l, c);
	if (p->conn)            /* the peer restarted: its old session is over */
		conn_close(p->conn, CB_LINK_R_REPLACED, "");
	p->conn = c;
}

/* The channel is proven: TLS with our PSK, then the right HELLO. */
static void conn_open(struct cb_conn *c)
{
	struct cb_links *l = c->l;
	struct link_peer *p = c->peer;

	c->phase = P_OPEN;
	p->backoff = BACKOFF_MIN_MS;
	p->st.opened++;
	p->st.handshake_us = (uint32_t)((cb_now_ns() - c->t0_ns) / 1000);
	p->heard = true;
	p->last_rx = l->now;
	cb_info("peer %u (%s): channel open (%s %s, %u us)", p->id, p->name,
		c->out ? "to" : "from", c->remote, p->st.handshake_us);
	set_state(p, l, CB_LINK_UP);
}

static int hello_check(struct cb_conn *c, const struct cb_msg *m, char *d, size_t dl)
{
	char s[CB_MSG_NAME_MAX + 1];

	if (m->type != CB_MSG_HELLO) {
		snprintf(d, dl, "first message is %s, not HELLO", cb_msg_type_name(m->type));
		return CB_LINK_R_HELLO;
	}
	if (m->hello.node_id != c->peer->id) {
		snprintf(d, dl, "it says it is node %u", m->hello.node_id);
		return CB_LINK_R_HELLO;
	}
	if (strcmp(m->hello.cluster, c->l->cluster)) {
		printable(m->hello.cluster, strlen(m->hello.cluster), s, sizeof(s));
		snprintf(d, dl, "cluster '%s', ours is '%s'", s, c->l->cluster);
		return CB_LINK_R_HELLO;
	}
	return 0;
}

static int conn_dispatch(struct cb_conn *c, const struct cb_msg *m, size_t n, char *d, size_t dl)
{
	struct cb_links *l = c->l;
	struct link_peer *p = c->peer;
	int r;

	p->st.msgs_in++;
	p->st.bytes_in += n;
	if (c->phase == P_HELLO) {
		/* the caller learns the peer's MAC and services before UP */
		r = hello_check(c, m, d, dl);
		if (r)
			return r;
		conn_adopt(c);
		if (l->ops.on_msg)
			l->ops.on_msg(l->arg, p->id, m);
		conn_open(c);
		return 0;
	}
	if (m->type == CB_MSG_HELLO) {
		snprintf(d, dl, "a second HELLO");
		return CB_LINK_R_HELLO;
	}
	peer_heard(l, p);
	if (l->ops.on_msg)
		l->ops.on_msg(l->arg, p->id, m);
	return 0;
}

/* Every whole frame in rbuf, in order; a partial one waits for more. */
static int conn_frames(struct cb_conn *c, char *d, size_t dl)
{
	struct cb_msg m;
	size_t off = 0;
	ssize_t n;
	int err;

	for (;;) {
		n = cb_msg_peek(c->rbuf + off, c->rlen - off, NULL);
		if (!n || (n > 0 && (size_t)n > c->rlen - off))
			break;
		err = n < 0 ? (int)n : cb_msg_decode(c->rbuf + off, (size_t)n, &m);
		if (err) {
			snprintf(d, dl, "%s", cb_msg_strerror(err));
			return CB_LINK_R_FRAME;
		}
		err = conn_dispatch(c, &m, (size_t)n, d, dl);
		if (err)
			return err;
		off += (size_t)n;
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	return 0;
}

static int conn_read(struct cb_conn *c, char *d, size_t dl)
{
	size_t n;
	int i, r;

	for (i = 0; i < READS_PER_EVENT || SSL_pending(c->ssl); i++) {
		ERR_clear_error();
		errno = 0;
		/* room for one more whole frame: conn_frames leaves less */
		if (SSL_read_ex(c->ssl, c->rbuf + c->rlen, CB_MSG_MAX - c->rlen, &n) <= 0)
			return ssl_failure(c, 0, d, dl);
		c->rlen += n;
		r = conn_frames(c, d, dl);
		if (r)
			return r;
	}
	return 0;
}

/* ---- the state machine ---- */

static int conn_connected(struct cb_conn *c, char *d, size_t dl)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (!err) {
		len = sizeof(ss);
		if (!getpeername(c->fd, (struct sockaddr *)&ss, &len)) {
			c->phase = P_TLS;
			return 0;
		}
		if (errno == ENOTCONN)  /* still connecting: a stale wake-up */
			return 0;
		err = errno;
	}
	snprintf(d, dl, "connect: %s", strerror(err));
	return CB_LINK_R_IO;
}

static int conn_handshake(struct cb_conn *c, char *d, size_t dl)
{
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->ssl);
	if (r != 1)
		return ssl_failure(c, r, d, dl);
	if (!c->peer) {         /* cannot happen: no PSK, no handshake */
		snprintf(d, dl, "no PSK identity");
		return CB_LINK_R_UNKNOWN_ID;
	}
	c->rbuf = malloc(CB_MSG_MAX);
	if (!c->rbuf) {
		snprintf(d, dl, "out of memory");
		return CB_LINK_R_IO;
	}
	c->phase = P_HELLO;
	return hello_send(c, d, dl);
}

/* As far as the connection will go now; a reason when it must close. */
static int conn_pump(struct cb_conn *c, char *d, size_t dl)
{
	int r;

	c->want_out = false;
	if (c->phase == P_TCP) {
		r = conn_connected(c, d, dl);
		if (r || c->phase == P_TCP)
			return r;
	}
	if (c->phase == P_TLS) {
		r = conn_handshake(c, d, dl);
		if (r || c->phase == P_TLS)
			return r;
	}
	r = conn_flush(c, d, dl);
	return r ? r : conn_read(c, d, dl);
}

static void conn_event(void *arg)
{
	struct cb_conn *c = arg;
	char d[DETAIL] = "";
	int r = c->fail;

	if (r)
		snprintf(d, sizeof(d), "%s", c->fail_detail);
	else
		r = conn_pump(c, d, sizeof(d));
	if (!r && !c->fail && conn_set_events(c))
		r = CB_LINK_R_IO;
	if (!r && c->fail) {    /* a send from a callback failed */
		r = c->fail;
		snprintf(d, sizeof(d), "%s", c->fail_detail);
	}
	if (r)
		conn_close(c, r, d);
}

/*
 * A free pending slot, evicting the oldest connection still in its TLS
 * handshake when there is none (else the oldest of all): idle connections
 * then lock peers out only at thousands a second, not at 16.
 */
static int pending_slot(struct cb_links *l)
{
	struct cb_conn *old = NULL, *c;
	int i;

	for (i = 0; i < CB_LINK_PENDING_MAX; i++) {
		c = l->pending[i];
		if (!c)
			return i;
		if (!old || (c->phase == P_TLS && old->phase != P_TLS) ||
		    (c->phase == old->phase && c->t0_ns < old->t0_ns))
			old = c;
	}
	conn_close(old, CB_LINK_R_FULL, "evicted by a newer connection");
	for (i = 0; i < CB_LINK_PENDING_MAX && l->pending[i]; i++)
		;
	return i;
}

static void accept_one(struct cb_links *l, int fd, const struct sockaddr_storage *ss)
{
	struct cb_conn *c;
	int i = pending_slot(l);

	l->anon.connects++;
	sock_opts(l, fd);
	c = conn_new(l, fd, NULL, false);
	if (!c) {
		l->anon.closed[CB_LINK_R_IO]++;
		return;
	}
	fmt_addr(ss, c->remote, sizeof(c->remote));
	l->pending[i] = c;
}

static void on_accept(void *arg)
{
	struct cb_links *l = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	int i, fd;

	for (i = 0; i < ACCEPTS_PER_EVENT; i++) {
		len = sizeof(ss);
		fd = accept4(l->lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED))
			return;
		if (fd < 0) {
			/* out of fds or memory: the listener stays readable, so
			 * stop waiting on it for a while rather than spin */
			if (!l->accept_failing)
				cb_err("peer listener: accept: %s; retrying every %u ms",
				       strerror(errno), BACKOFF_MIN_MS);
			l->accept_failing = true;
			if (!cb_loop_mod(l->loop, l->lfd, 0))
				l->accept_resume = l->now + BACKOFF_MIN_MS;
			return;
		}
		l->accept_failing = false;
		accept_one(l, fd, &ss);
	}
}

static void peer_connect(struct cb_links *l, struct link_peer *p)
{
	int fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	const char *what = "socket";

	p->st.connects++;
	if (fd >= 0) {
		sock_opts(l, fd);
		what = "connect";
		if (!connect(fd, (struct sockaddr *)&p->addr, p->addr_len) || errno == EINPROGRESS) {
			p->conn = conn_new(l, fd, p, true);
			if (p->conn) {
				snprintf(p->conn->remote, sizeof(p->conn->remote), "%s", p->addr_str);
				conn_event(p->conn);
				return;
			}
			what = "setup";
			errno = ENOMEM;
			fd = -1;
		}
	}
	p->st.closed[CB_LINK_R_IO]++;
	(p->backoff == BACKOFF_MIN_MS ? cb_err : cb_debug)("peer %u (%s) at %s: %s: %s",
							   p->id, p->name, p->addr_str, what,
							   strerror(errno));
	if (fd >= 0)
		close(fd);
	peer_retry(l, p);
}

/* ---- timers ---- */

static void send_loads(struct cb_links *l)
{
	struct cb_msg m = { .type = CB_MSG_LOAD };
	ssize_t n;
	int i;

	for (i = 0; i < l->n_peers; i++)
		if (l->peers[i].conn && l->peers[i].conn->phase == P_OPEN)
			break;
	if (i == l->n_peers)
		return;
	if (l->ops.fill_load)
		l->ops.fill_load(l->arg, &m.load);
	m.load.seq = ++l->load_seq;
	n = cb_msg_encode(&m, l->scratch, CB_MSG_MAX);
	if (n < 0) {
		cb_err("peer: our LOAD does not encode: %s", strerror((int)-n));
		return;
	}
	for (; i < l->n_peers; i++)
		conn_send(l->peers[i].conn, l->scratch, (size_t)n);
}

/* Closes c for a deferred failure or a missed deadline: true if it did. */
static bool conn_expired(struct cb_conn *c, uint64_t now)
{
	char d[DETAIL];

	if (c->fail) {
		snprintf(d, sizeof(d), "%s", c->fail_detail);
		conn_close(c, c->fail, d);
		return true;
	}
	if (c->phase != P_OPEN && now >= c->deadline) {
		snprintf(d, sizeof(d), "not open within %u ms", c->l->down_ms);
		conn_close(c, CB_LINK_R_TIMEOUT, d);
		return true;
	}
	return false;
}

static void tick_peer(struct cb_links *l, struct link_peer *p, uint64_t now)
{
	struct cb_conn *c = p->conn;
	char d[DETAIL];

	/* conn_expired() also closes a channel cb_links_drop() failed */
	if (c && !conn_expired(c, now) && c->phase == P_OPEN) {
		uint64_t silent = now - p->last_rx;

		if (silent >= l->down_ms) {
			snprintf(d, sizeof(d), "nothing heard for %llu ms",
				 (unsigned long long)silent);
			conn_close(c, CB_LINK_R_SILENT, d);
		} else if (silent >= l->suspect_ms && p->state == CB_LINK_UP) {
			set_state(p, l, CB_LINK_SUSPECT);
		}
	}
	if (!p->conn && p->we_connect && now >= p->next_try)
		peer_connect(l, p);
}

void cb_links_tick(struct cb_links *l, uint64_t now_ms)
{
	int i;

	l->now = now_ms;
	for (i = 0; i < l->n_peers; i++)
		if (l->peers[i].heard) {
			l->peers[i].last_rx = now_ms;
			l->peers[i].heard = false;
		}
	if (now_ms >= l->next_load) {
		l->next_load = now_ms + l->heartbeat_ms;
		send_loads(l);
	}
	if (l->accept_resume && now_ms >= l->accept_resume &&
	    !cb_loop_mod(l->loop, l->lfd, EPOLLIN))
		l->accept_resume = 0;
	for (i = 0; i < CB_LINK_PENDING_MAX; i++)
		if (l->pending[i])
			conn_expired(l->pending[i], now_ms);
	for (i = 0; i < l->n_peers; i++)
		tick_peer(l, &l->peers[i], now_ms);
}

/* ---- setup ---- */

static int check_cfg(const struct cb_links_cfg *cfg)
{
	int i, j;

	if (!cfg->self_id || !cfg->cluster || !cfg->cluster[0] ||
	    strlen(cfg->cluster) > CB_MSG_NAME_MAX || !cfg->psk ||
	    cfg->psk_len < CB_LINK_PSK_MIN || cfg->psk_len > CB_LINK_PSK_MAX ||
	    cfg->n_peers < 0 || cfg->n_peers > CB_LINK_PEERS_MAX)
		return -EINVAL;
	for (i = 0; i < cfg->n_peers; i++) {
		const struct cb_link_peer_cfg *p = &cfg->peers[i];

		if (!p->id || p->id == cfg->self_id ||
		    !memchr(p->name, 0, sizeof(p->name)) || !memchr(p->addr, 0, sizeof(p->addr)))
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (cfg->peers[j].id == p->id)
				return -EINVAL;
	}
	return 0;
}

static int peers_init(struct cb_links *l, const struct cb_links_cfg *cfg)
{
	int i;

	for (i = 0; i < cfg->n_peers; i++) {
		const struct cb_link_peer_cfg *pc = &cfg->peers[i];
		struct link_peer *p = &l->peers[i];

		p->id = pc->id;
		p->we_connect = pc->id > cfg->self_id;
		snprintf(p->name, sizeof(p->name), "%s", pc->name);
		snprintf(p->addr_str, sizeof(p->addr_str), "%s", pc->addr);
		snprintf(p->ident, sizeof(p->ident), IDENT_PREFIX "%u", pc->id);
		p->backoff = BACKOFF_MIN_MS;
		p->state = CB_LINK_DOWN;
		if ((p->we_connect || pc->addr[0]) &&
		    parse_addr(pc->addr, false, &p->addr, &p->addr_len))
			return -EINVAL;
	}
	l->n_peers = cfg->n_peers;
	return 0;
}

static int listen_on(struct cb_links *l, const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, err;

	if (parse_addr(addr, true, &ss, &len))
		return -EINVAL;
	l->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->lfd < 0)
		return -errno;
	setsockopt(l->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l->lfd, (struct sockaddr *)&ss, len) || listen(l->lfd, 64))
		return -errno;
	err = cb_loop_add(l->loop, l->lfd, on_accept, l);
	if (err) {
		close(l->lfd);
		l->lfd = -1;
	}
	return err;
}

int cb_links_open(struct cb_links **out, struct cb_loop *loop, const struct cb_links_cfg *cfg,
		  const struct cb_link_ops *ops, void *arg)
{
	struct cb_links *l;
	int err = check_cfg(cfg);

	if (err)
		return err;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->loop = loop;
	l->ops = *ops;
	l->arg = arg;
	l->lfd = -1;
	l->self_id = cfg->self_id;
	snprintf(l->cluster, sizeof(l->cluster), "%s", cfg->cluster);
	snprintf(l->ident, sizeof(l->ident), IDENT_PREFIX "%u", cfg->self_id);
	memcpy(l->psk, cfg->psk, cfg->psk_len);
	l->psk_len = cfg->psk_len;
	l->heartbeat_ms = cfg->heartbeat_ms ?: 100;
	l->suspect_ms = cfg->suspect_ms ?: 300;
	l->down_ms = cfg->down_ms ?: 1000;
	l->now = cb_now_ms64();
	err = peers_init(l, cfg);
	if (!err && (l->heartbeat_ms >= l->suspect_ms || l->suspect_ms >= l->down_ms))
		err = -EINVAL;
	if (!err) {
		l->scratch = malloc(CB_MSG_MAX);
		l->ctx = ctx_new();
		l->bio_meth = bio_meth_new();
		err = !l->scratch ? -ENOMEM : !l->ctx || !l->bio_meth ? -EPROTO : 0;
	}
	if (!err && cfg->listen)
		err = listen_on(l, cfg->listen);
	if (err) {
		cb_links_close(l);
		return err;
	}
	*out = l;
	return 0;
}

void cb_links_close(struct cb_links *l)
{
	int i;

	if (!l)
		return;
	l->closing = true;
	for (i = 0; i < CB_LINK_PENDING_MAX; i++)
		if (l->pending[i])
			conn_close(l->pending[i], CB_LINK_R_LOCAL, "");
	for (i = 0; i < l->n_peers; i++)
		if (l->peers[i].conn)
			conn_close(l->peers[i].conn, CB_LINK_R_LOCAL, "");
	if (l->lfd >= 0) {
		cb_loop_del(l->loop, l->lfd);
		close(l->lfd);
	}
	SSL_CTX_free(l->ctx);
	BIO_meth_free(l->bio_meth);
	OPENSSL_cleanse(l->psk, sizeof(l->psk));
	free(l->scratch);
	free(l);
}

/* ---- the rest of the API ---- */

int cb_links_send(struct cb_links *l, uint32_t peer_id, const struct cb_msg *m)
{
	struct link_peer *p = peer_find(l, peer_id);
	ssize_t n;

	if (!p)
		return -ENOENT;
	if (!p->conn || p->conn->phase != P_OPEN || p->conn->fail)
		return -ENOTCONN;
	n = cb_msg_encode(m, l->scratch, CB_MSG_MAX);
	if (n < 0)
		return (int)n;
	return conn_send(p->conn, l->scratch, (size_t)n);
}

int cb_links_drop(struct cb_links *l, uint32_t peer_id, const char *why)
{
	struct link_peer *p = peer_find(l, peer_id);

	if (!p)
		return -ENOENT;
	if (!p->conn)
		return -ENOTCONN;
	conn_defer_fail(p->conn, CB_LINK_R_LOCAL, why);
	return 0;
}

int cb_links_state(const struct cb_links *l, uint32_t peer_id)
{
	const struct link_peer *p = peer_find(l, peer_id);

	return p ? p->state : CB_LINK_DOWN;
}

const struct cb_link_stats *cb_links_stats(const struct cb_links *l, uint32_t peer_id)
{
	const struct link_peer *p;

	if (peer_id == CB_LINK_ANON)
		return &l->anon;
	p = peer_find(l, peer_id);
	return p ? &p->st : NULL;
}

int cb_links_port(const struct cb_links *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (l->lfd < 0 || getsockname(l->lfd, (struct sockaddr *)&ss, &len))
		return -ENOTCONN;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}
