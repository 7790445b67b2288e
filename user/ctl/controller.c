// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cb_ctl.skel.h"
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#include "lib/csum.h"
#include "ctl/classify.h"
#include "datapath/attach.h"
#include "cli/cli.h"
#include "ctl/config.h"
#include "ctl/controller.h"
#include "util/log.h"
#include "ctl/metrics_http.h"
#include "datapath/stats.h"
#include "util/parse_util.h"
#include "datapath/pins.h"
#include "repair/repair.h"

#define CB_MAX_PENDING CB_STASH_SLOTS   /* flows being assembled or waiting */
#define CB_MAX_PENDING_PER_SOURCE (CB_MAX_PENDING / 4)   /* one client address may hold */
#define CB_MAX_APP_CONNS 256
#define CB_TICK_MS 50

enum pend_state { P_FREE = 0, P_ASSEMBLING, P_WAITING };

/*
 * A flow between its first record and its hand-off.  Its bytes live in the
 * pinned stash slot of the same index (slot->data/len/first_seq), so a
 * restarted controller finds them; the rest is rebuilt on restart.
 */
struct pending {
	enum pend_state state;
	struct cb_flow_key key;
	struct cb_stash_slot *slot;
	uint64_t first_ms;              /* when the first byte arrived here */
	uint64_t first_xdp_ns;          /* first byte at the hook (0: unknown) */
	uint64_t wait_since_ms;
	int service, rule, app;         /* decided route (rule -1: default) */
	int closed;                     /* the client closed while we handed it off */
	int dirty;                      /* new bytes since the last classification */
};

struct app_conn {
	int fd;                         /* -1: free slot */
	int app;                        /* -1 until REGISTER */
	unsigned long delivered;
	uint64_t since_ms;              /* accepted at */
};

#define CB_REGISTER_MS 5000             /* an app connection must register by then */

struct ctl {
	struct cb_config_file cfg;
	const char *ifname;
	int ep, lsock, tfd, sfd;
	int flows_fd;
	struct ring_buffer *rb;
	struct cb_ctl *ctlprog;         /* in-place flow state changes */
	struct pending *busy;           /* the flow being handed off right now */
	struct cb_stash_slot *stash;    /* mmap of the pinned cb_stash map */
	size_t stash_size;
	struct pending pend[CB_MAX_PENDING];
	struct app_conn conns[CB_MAX_APP_CONNS];
	unsigned long rr;               /* round-robin cursor over app instances */
	/* counters, exported by the metrics endpoint */
	unsigned long materialized, failed, timeouts, dropped_full, queue_full, source_full;
	int refused_for_source;         /* why the last pend_find(create) failed */
	unsigned long rule_hits[CB_CFG_MAX_RULES], default_hits[CB_CFG_MAX_SERVICES];
	unsigned long svc_timeouts[CB_CFG_MAX_SERVICES];
	uint64_t hist[16];              /* first byte at the hook -> fd to the app */
	double hist_sum;
	uint64_t hist_count;
	int stats_fd;
	struct cb_metrics *metrics;
	const char *sock_path;
	pid_t worker[CB_CFG_MAX_APPS];  /* on-demand worker running, per app */
	uint64_t spawned_ms[CB_CFG_MAX_APPS];
	unsigned long spawns;
	int children;                   /* inetd children running */
	unsigned long flows_by_state[4];        /* cached for the metrics */
	uint64_t flows_at_ms;
	int lock_fd;
	int stop;
};


static const char *flow_str(const struct cb_flow_key *k, char *buf, size_t len)
{
	char a[32], b[32];

	snprintf(buf, len, "%s > %s", cb_fmt_addr(k->saddr_be, k->sport_be, a, sizeof(a)),
		 cb_fmt_addr(k->daddr_be, k->dport_be, b, sizeof(b)));
	return buf;
}

/* ---- pending flows ------------------------------------------------------ */

/*
 * The pending flow of k; with create, a new one if there is room.  A client
 * address holds at most CB_MAX_PENDING_PER_SOURCE of the slots, so one
 * client opening idle connections cannot lock everyone else out.
 */
static struct pending *pend_find(struct ctl *c, const struct cb_flow_key *k, int create)
{
	struct pending *free_slot = NULL;
	int i, same_source = 0;

	for (i = 0; i < CB_MAX_PENDING; i++) {
		struct pending *p = &c->pend[i];

		if (p->state == P_FREE) {
			if (!free_slot)
				free_slot = p;
		} else if (!memcmp(&p->key, k, sizeof(*k))) {
			return p;
		} else if (p->key.saddr_be == k->saddr_be) {
			same_source++;
		}
	}
	c->refused_for_source = create && same_source >= CB_MAX_PENDING_PER_SOURCE;
	if (c->refused_for_source)
		return NULL;
	if (!create || !free_slot)
		return NULL;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->state = P_ASSEMBLING;
	free_slot->key = *k;
	free_slot->slot = &c->stash[free_slot - c->pend];
	free_slot->service = -1;
	free_slot->rule = -1;
	free_slot->app = -1;
	free_slot->first_ms = cb_now_ms64();
	free_slot->slot->key = *k;
	free_slot->slot->len = 0;
	free_slot->slot->first_seq = 0;
	__atomic_store_n(&free_slot->slot->used, 1, __ATOMIC_RELEASE);
	return free_slot;
}

static void pend_free(struct pending *p)
{
	if (p->state == P_FREE)
		return;                 /* already closed while being handled */
	__atomic_store_n(&p->slot->used, 0, __ATOMIC_RELEASE);
	memset(p, 0, sizeof(*p));
}

/* Append a record's bytes; the stash's len is the commit point. */
static int pend_append(struct pending *p, uint32_t seq, const uint8_t *data, size_t n)
{
	struct cb_stash_slot *s = p->slot;
	uint32_t expect;
	size_t skip;

	if (!s->len && !s->first_seq)
		s->first_seq = seq;
	expect = s->first_seq + s->len;
	if ((int32_t)(seq - expect) > 0)
		return -1;                      /* a gap: records were lost */
	skip = (size_t)(expect - seq);
	if (skip >= n)
		return 0;                       /* a record seen before a restart */
	data += skip;
	n -= skip;
	if (s->len + n > CB_STASH_BYTES)
		return -1;                      /* the flow cap keeps this from happening */
	memcpy(s->data + s->len, data, n);
	__atomic_store_n(&s->len, s->len + (uint32_t)n, __ATOMIC_RELEASE);
	return 0;
}

/* After a restart: every used stash slot is a flow to finish. */
static int pend_recover(struct ctl *c)
{
	int i, n = 0;

	for (i = 0; i < CB_MAX_PENDING; i++) {
		struct cb_stash_slot *s = &c->stash[i];
		struct pending *p = &c->pend[i];

		if (!__atomic_load_n(&s->used, __ATOMIC_ACQUIRE))
			continue;
		memset(p, 0, sizeof(*p));
		p->state = P_ASSEMBLING;
		p->key = s->key;
		p->slot = s;
		p->service = p->rule = p->app = -1;
		p->first_ms = cb_now_ms64();
		n++;
	}
	return n;
}

/* ---- app connections ---------------------------------------------------- */

static int app_pick(struct ctl *c, int app)
{
	int i;

	for (i = 0; i < CB_MAX_APP_CONNS; i++) {
		int j = (int)((c->rr + (unsigned long)i) % CB_MAX_APP_CONNS);

		if (c->conns[j].fd >= 0 && c->conns[j].app == app) {
			c->rr = (unsigned long)j + 1;
			return j;
		}
	}
	return -1;
}

static int send_fd(int sock, const char *msg, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -errno : 0;
}

static void conn_close(struct ctl *c, struct app_conn *a)
{
	epoll_ctl(c->ep, EPOLL_CTL_DEL, a->fd, NULL);
	close(a->fd);
	a->fd = -1;
	a->app = -1;
}

/* ---- materialization ------------------------------------------------------ */

/* Compare-and-swap a flow's state in place (bpf/cb_ctl.bpf.c). */
static int flow_cas(struct ctl *c, const struct cb_flow_key *k, uint32_t expect, uint32_t state,
		    struct cb_state_req *req)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = req, .ctx_size_in = sizeof(*req));

	memset(req, 0, sizeof(*req));
	req->key = *k;
	req->expect = expect;
	req->state = state;
	if (bpf_prog_test_run_opts(bpf_program__fd(c->ctlprog->progs.cb_flow_cas), &o))
		return -errno;
	return req->result == -2 ? -ENOENT : req->result;
}

/*
 * Build the socket for p.  The flow is frozen first (the program drops its
 * packets, the client retransmits), the ring drained so that every byte the
 * program acknowledged is here, and only then is the socket built and the
 * flow handed to the kernel (LOCAL).  Returns the fd or a negative errno.
 */
static int materialize_flow(struct ctl *c, struct pending *p)
{
	struct cb_state_req req;
	struct cb_sock_state st;
	struct cb_flow f;
	const char *step = "lookup";
	char fs[64];
	int fd, err;

	/* FROZEN already: a controller died between freezing and handing off */
	err = flow_cas(c, &p->key, CB_FLOW_UNBOUND, CB_FLOW_FROZEN, &req);
	if (err == -1 && req.old_state != CB_FLOW_FROZEN)
		return -EINVAL;
	if (err < -1)
		return err;
	ring_buffer__consume(c->rb);
	if (p->closed)
		return -ECONNRESET;     /* a FIN or RST already in the ring ended it */
	if (bpf_map_lookup_elem(c->flows_fd, &p->key, &f))
		return -ENOENT;
	/*
	 * Every byte the program acknowledged must be here: it acknowledges
	 * only after its record is in the ring and only while the flow is
	 * UNBOUND, and the ring was drained after the freeze.
	 */
	if ((p->slot->len && p->slot->first_seq != f.client_isn + 1) || f.bytes_in > p->slot->len) {
		cb_err("run: %s: %u bytes assembled but the flow acknowledged %u",
		       flow_str(&p->key, fs, sizeof(fs)), p->slot->len, f.bytes_in);
		return -EPROTO;
	}
	f.rcv_nxt = f.client_isn + 1 + p->slot->len;
	f.bytes_in = p->slot->len;
	cb_state_from_flow(&st, &p->key, &f, p->slot->data, p->slot->len, cb_now_ms());
	fd = cb_repair_restore(&st, &step);
	if (fd < 0) {
		cb_err("run: %s: TCP_REPAIR %s: %s", flow_str(&p->key, fs, sizeof(fs)), step,
		       strerror(-fd));
		return fd;
	}
	if ((err = flow_cas(c, &p->key, CB_FLOW_FROZEN, CB_FLOW_LOCAL, &req))) {
		close(fd);
		return err < 0 ? err : -EIO;
	}
	return fd;
}

/* The ring callbacks run inside: a CLOSE for p marks it instead of freeing. */
static int materialize(struct ctl *c, struct pending *p)
{
	int fd;

	c->busy = p;
	fd = materialize_flow(c, p);
	c->busy = NULL;
	return fd;
}

/*
 * An RST from the VIP, sent through a raw socket when no socket could be
 * built to reset the connection with: seq = our snd_nxt, ack = rcv_nxt.
 */
static int send_raw_rst(struct ctl *c, const struct cb_flow_key *k)
{
	struct cb_flow f;
	struct {
		uint8_t ip[20];
		uint8_t tcp[20];
	} pkt;
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr.s_addr = k->saddr_be };
	uint32_t seq, ack;
	uint16_t ck;
	int fd;

	if (bpf_map_lookup_elem(c->flows_fd, k, &f))
		return 0;               /* gone already (reset before) */
	seq = htonl(f.snd_nxt);
	ack = htonl(f.rcv_nxt);
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
	/* the entry goes first, or the egress guard would drop our own RST */
	bpf_map_delete_elem(c->flows_fd, k);
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0)
		return 0;
	if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		cb_debug("run: raw RST: %s", strerror(errno));
	close(fd);
	return 1;
}

/* No pending slot for k (table or per-source bound): reset it, count once. */
static void refuse_flow(struct ctl *c, const struct cb_flow_key *k)
{
	int for_source = c->refused_for_source;

	if (!send_raw_rst(c, k))
		return;
	if (for_source)
		c->source_full++;
	else
		c->dropped_full++;
}

/* Fail closed: a flow that cannot be delivered gets an RST, never a hang. */
static void reset_flow(struct ctl *c, struct pending *p, int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (p->state == P_FREE || p->closed) {  /* the client itself closed meanwhile */
		if (fd >= 0)
			close(fd);
		return;
	}
	/*
	 * With a socket, close it with linger 0: the kernel sends the RST.
	 * Without one, do not build one just to reset it (a failed build would
	 * only fail again): the RST goes out through a raw socket.
	 */
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	} else {
		send_raw_rst(c, &p->key);
	}
	c->failed++;
}

static void answer_timeout(struct ctl *c, struct pending *p)
{
	static const char resp[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Connection: close\r\n\r\n";
	const struct cb_service_cfg *s = &c->cfg.services[p->service];
	char fs[64];
	int fd;

	c->timeouts++;
	c->svc_timeouts[p->service]++;
	cb_info("run: %s: no app for service %s within %u ms: %s", flow_str(&p->key, fs, sizeof(fs)),
		s->name, s->wait_ms, s->on_timeout == CB_TIMEOUT_HTTP503 ? "503" : "reset");
	if (s->on_timeout == CB_TIMEOUT_HTTP503 && (fd = materialize(c, p)) >= 0) {
		char sink[4096];

		if (write(fd, resp, sizeof(resp) - 1) < 0)
			cb_debug("run: 503 write: %s", strerror(errno));
		shutdown(fd, SHUT_WR);
		/* unread request bytes would turn close() into an RST */
		while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
		close(fd);
	} else {
		reset_flow(c, p, -1);
	}
	pend_free(p);
}

static const double hist_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				      0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
#define HIST_N (sizeof(hist_bounds) / sizeof(hist_bounds[0]))

static void observe_handoff(struct ctl *c, const struct pending *p)
{
	struct timespec ts;
	double secs;
	size_t i;

	if (!p->first_xdp_ns)
		return;                 /* recovered after a restart: no start time */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	secs = ((double)ts.tv_sec * 1e9 + (double)ts.tv_nsec - (double)p->first_xdp_ns) / 1e9;
	for (i = 0; i < HIST_N && secs > hist_bounds[i]; i++)
		;
	c->hist[i]++;
	c->hist_sum += secs;
	c->hist_count++;
}

/*
 * Start an app's command: stdin/stdout = fd (inetd style, fd >= 0), or a
 * worker that registers itself (fd < 0).  The shell runs the command line.
 */
static pid_t spawn(struct ctl *c, int app, int fd, const struct pending *p)
{
	const struct cb_app_cfg *a = &c->cfg.apps[app];
	char client[32];
	pid_t pid = fork();

	if (pid != 0) {
		if (pid < 0)
			cb_err("run: start app %s: fork: %s", a->name, strerror(errno));
		else
			c->spawns++;
		return pid;
	}
	/* the child: default signal mask, the socket as stdin/stdout */
	{
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	setenv("CONNBROKER_SOCKET", c->sock_path, 1);
	setenv("CONNBROKER_APP", a->name, 1);
	if (fd >= 0) {
		setenv("CONNBROKER_CLIENT", cb_fmt_addr(p->key.saddr_be, p->key.sport_be, client,
							sizeof(client)), 1);
		dup2(fd, 0);
		dup2(fd, 1);
		if (fd > 1)
			close(fd);
	}
	execl("/bin/sh", "sh", "-c", a->command, (char *)NULL);
	_exit(127);
}

/* An app with a command and no instance: start one worker, at most every 2 s. */
static void maybe_start_worker(struct ctl *c, int app)
{
	const struct cb_app_cfg *a = &c->cfg.apps[app];
	uint64_t now = cb_now_ms64();

	if (!a->command[0] || a->inetd || c->worker[app] > 0 || now - c->spawned_ms[app] < 2000)
		return;
	c->spawned_ms[app] = now;
	c->worker[app] = spawn(c, app, -1, NULL);
	if (c->worker[app] > 0)
		cb_info("run: started app %s on demand (pid %d)", a->name, (int)c->worker[app]);
}

static void reap_children(struct ctl *c)
{
	pid_t pid;
	int st, i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		int worker = 0;

		for (i = 0; i < c->cfg.n_apps; i++)
			if (c->worker[i] == pid) {
				worker = 1;
				c->worker[i] = 0;
				cb_info("run: app %s (pid %d) exited with %d", c->cfg.apps[i].name,
					(int)pid, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			}
		if (!worker && c->children > 0)
			c->children--;          /* an inetd child */
	}
}

/* inetd style: one process per connection, the socket as its stdin/stdout. */
#define CB_MAX_CHILDREN 64

static int deliver_inetd(struct ctl *c, struct pending *p)
{
	int fd;

	if (c->children >= CB_MAX_CHILDREN)
		return 0;               /* waits, bounded by wait_ms and the queue */
	fd = materialize(c, p);

	if (fd < 0 || spawn(c, p->app, fd, p) < 0) {
		reset_flow(c, p, fd);
	} else {
		c->children++;
		close(fd);
		c->materialized++;
		observe_handoff(c, p);
	}
	pend_free(p);
	return 1;
}

/* Try to hand p to an instance of its app; 1 when done (p freed). */
static int deliver(struct ctl *c, struct pending *p)
{
	char msg[256], a[32], fs[64];
	int conn, fd, err;

	if (p->app >= 0 && c->cfg.apps[p->app].inetd)
		return deliver_inetd(c, p);
	if (p->app < 0)
		return 0;
	if ((conn = app_pick(c, p->app)) < 0) {
		maybe_start_worker(c, p->app);
		return 0;
	}
	fd = materialize(c, p);
	if (fd == -ENOENT || fd == -ECONNRESET) {
		pend_free(p);           /* the client closed or reset it meanwhile */
		return 1;
	}
	if (fd < 0) {
		reset_flow(c, p, -1);
		pend_free(p);
		return 1;
	}
	snprintf(msg, sizeof(msg), "FLOW client=%s service=%s rule=%s app=%s bytes=%u",
		 cb_fmt_addr(p->key.saddr_be, p->key.sport_be, a, sizeof(a)),
		 c->cfg.services[p->service].name,
		 p->rule >= 0 ? c->cfg.rules[p->rule].name : "default", c->cfg.apps[p->app].name,
		 p->slot->len);
	err = send_fd(c->conns[conn].fd, msg, fd);
	while (err == -EAGAIN) {
		/* that instance's socket buffer is full: another one, if any */
		int next = app_pick(c, p->app);

		if (next < 0 || next == conn)
			break;
		conn = next;
		err = send_fd(c->conns[conn].fd, msg, fd);
	}
	if (err == -EAGAIN) {
		cb_err("run: %s: every instance of app %s is busy", flow_str(&p->key, fs, sizeof(fs)),
		       c->cfg.apps[p->app].name);
		reset_flow(c, p, fd);
	} else if (err) {
		/* the app died mid-handoff: the connection is not lost, it is reset */
		cb_err("run: %s: hand-off to app %s failed: %s", flow_str(&p->key, fs, sizeof(fs)),
		       c->cfg.apps[p->app].name, strerror(-err));
		conn_close(c, &c->conns[conn]);
		reset_flow(c, p, fd);
	} else {
		close(fd);
		c->materialized++;
		c->conns[conn].delivered++;
		observe_handoff(c, p);
		cb_debug("run: %s -> app %s", flow_str(&p->key, fs, sizeof(fs)), c->cfg.apps[p->app].name);
	}
	pend_free(p);
	return 1;
}

static uint32_t waiting_for(const struct ctl *c, int service)
{
	uint32_t n = 0;
	int i;

	for (i = 0; i < CB_MAX_PENDING; i++)
		n += c->pend[i].state == P_WAITING && c->pend[i].service == service;
	return n;
}

static void decide(struct ctl *c, struct pending *p, int forced)
{
	struct cb_request_info ri;
	struct cb_service_key sk = { .vip_be = p->key.daddr_be, .port_be = p->key.dport_be };
	enum cb_cls r;

	if (p->state != P_ASSEMBLING)
		return;
	r = p->slot->len ? cb_classify(p->slot->data, p->slot->len, &ri) : CB_CLS_NEED_MORE;
	if (r == CB_CLS_NEED_MORE && !forced && p->slot->len < c->cfg.decide_bytes)
		return;
	if (r != CB_CLS_DONE)
		memset(&ri, 0, sizeof(ri));     /* prefix rules still apply */
	p->service = cb_service_find(&c->cfg, &sk);
	if (p->service < 0) {
		reset_flow(c, p, -1);
		pend_free(p);
		return;
	}
	p->rule = cb_route(&c->cfg, p->service, &ri, p->slot->data, p->slot->len);
	p->app = p->rule >= 0 ? c->cfg.rules[p->rule].app : c->cfg.services[p->service].default_app;
	if (p->rule >= 0)
		c->rule_hits[p->rule]++;
	else
		c->default_hits[p->service]++;
	p->state = P_WAITING;
	p->wait_since_ms = cb_now_ms64();
	if (deliver(c, p))
		return;
	/* no app instance free: wait, within the service's queue bound */
	if (waiting_for(c, p->service) > c->cfg.services[p->service].queue) {
		c->queue_full++;
		answer_timeout(c, p);
	}
}

/* ---- ring buffer ------------------------------------------------------------ */

static int on_event(void *vctx, void *data, size_t size)
{
	struct ctl *c = vctx;
	const struct cb_event *ev = data;
	struct pending *p;

	if (size < sizeof(*ev) || sizeof(*ev) + ev->len > size)
		return 0;
	switch (ev->type) {
	case CB_EV_DATA:
		p = pend_find(c, &ev->key, 1);
		if (!p) {
			/* its bytes were acknowledged and cannot be kept: fail closed */
			refuse_flow(c, &ev->key);
			return 0;
		}
		if (!p->first_xdp_ns)
			p->first_xdp_ns = ev->ts_ns;
		p->dirty = 1;
		if (pend_append(p, ev->seq, (const uint8_t *)(ev + 1), ev->len))
			cb_err("run: flow bytes out of sequence (seq %u)", ev->seq);
		break;
	case CB_EV_OPEN:
		/* a client that waits for the server to speak first still gets
		 * its default app after decide_ms; a new connection on a tuple
		 * whose CLOSE was lost starts afresh */
		p = pend_find(c, &ev->key, 0);
		if (p && p != c->busy)
			pend_free(p);
		if (!pend_find(c, &ev->key, 1))
			refuse_flow(c, &ev->key);
		break;
	case CB_EV_CLOSE:
		p = pend_find(c, &ev->key, 0);
		if (p == c->busy && p)
			p->closed = 1;          /* freed by whoever is handing it off */
		else if (p)
			pend_free(p);
		break;
	default:
		break;
	}
	return 0;
}

/* After a batch of records: decide what can be decided. */
static void after_events(struct ctl *c)
{
	int i;

	for (i = 0; i < CB_MAX_PENDING; i++)
		if (c->pend[i].state == P_ASSEMBLING && c->pend[i].dirty) {
			c->pend[i].dirty = 0;
			decide(c, &c->pend[i], 0);
		}
}

static void on_tick(struct ctl *c)
{
	uint64_t now = cb_now_ms64();
	int i;

	/* a connection that never registers must not hold a slot forever */
	for (i = 0; i < CB_MAX_APP_CONNS; i++)
		if (c->conns[i].fd >= 0 && c->conns[i].app < 0 &&
		    now - c->conns[i].since_ms > CB_REGISTER_MS)
			conn_close(c, &c->conns[i]);

	for (i = 0; i < CB_MAX_PENDING; i++) {
		struct pending *p = &c->pend[i];

		if (p->state == P_ASSEMBLING && now - p->first_ms >= c->cfg.decide_ms)
			decide(c, p, 1);
		else if (p->state == P_WAITING && !deliver(c, p) &&
			 now - p->wait_since_ms >= c->cfg.services[p->service].wait_ms)
			answer_timeout(c, p);
	}
}

/* ---- the app socket ------------------------------------------------------------- */

static void on_app_message(struct ctl *c, struct app_conn *a)
{
	char buf[256], reply[128];
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	ssize_t n = recv(a->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	int app;

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_close(c, a);
		return;
	}
	buf[n] = 0;
	if (strncmp(buf, "REGISTER ", 9) || a->app >= 0) {
		send_fd(a->fd, "ERR expected one REGISTER <app>", -1);
		return;
	}
	app = -1;
	for (int i = 0; i < c->cfg.n_apps; i++)
		if (!strcmp(c->cfg.apps[i].name, buf + 9))
			app = i;
	if (app < 0) {
		snprintf(reply, sizeof(reply), "ERR unknown app '%.60s'", buf + 9);
		send_fd(a->fd, reply, -1);
		return;
	}
	if (getsockopt(a->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) ||
	    (c->cfg.apps[app].uid >= 0 && cred.uid != (uid_t)c->cfg.apps[app].uid) ||
	    (c->cfg.apps[app].gid >= 0 && cred.gid != (gid_t)c->cfg.apps[app].gid)) {
		send_fd(a->fd, "ERR not allowed (SO_PEERCRED)", -1);
		return;
	}
	a->app = app;
	send_fd(a->fd, "OK", -1);
	cb_info("run: app %s registered (pid %d)", c->cfg.apps[app].name, (int)cred.pid);
}

static void on_accept(struct ctl *c)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd = accept4(c->lsock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), i;

	if (fd < 0)
		return;
	for (i = 0; i < CB_MAX_APP_CONNS; i++)
		if (c->conns[i].fd < 0)
			break;
	if (i == CB_MAX_APP_CONNS) {
		close(fd);              /* bounded: refuse beyond the limit */
		return;
	}
	c->conns[i].fd = fd;
	c->conns[i].app = -1;
	c->conns[i].since_ms = cb_now_ms64();
	ev.data.u64 = 1000 + (uint64_t)i;
	epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev);
}

static int open_app_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0666) || listen(fd, 64)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* ---- metrics ---------------------------------------------------------------------- */

static void render_metrics(void *vctx, FILE *o)
{
	struct ctl *c = vctx;
	uint64_t st[CB_STAT_MAX], cum = 0;
	unsigned long apps[CB_CFG_MAX_APPS] = { 0 }, flows[4] = { 0 };
	struct cb_flow_key k, next;
	struct cb_flow f;
	char name[40];
	int i, more, pending = 0;

	fprintf(o, "# HELP connbroker_datapath_total Verdicts and events of the XDP/TC programs (per-CPU counters summed).\n"
		   "# TYPE connbroker_datapath_total counter\n");
	if (cb_stats_read(c->stats_fd, st) == 0)
		for (i = 0; i < CB_STAT_MAX; i++)
			if (i != CB_STAT_DATA_BYTES)
				fprintf(o, "connbroker_datapath_total{event=\"%s\"} %llu\n",
					cb_stat_name(i, name, sizeof(name)), (unsigned long long)st[i]);
	fprintf(o, "# HELP connbroker_ring_bytes_total Payload bytes queued to the controller by the programs.\n"
		   "# TYPE connbroker_ring_bytes_total counter\nconnbroker_ring_bytes_total %llu\n",
		(unsigned long long)st[CB_STAT_DATA_BYTES]);

	/* walking the flow table costs two syscalls an entry: at most once a second */
	if (cb_now_ms64() - c->flows_at_ms >= 1000) {
		memset(c->flows_by_state, 0, sizeof(c->flows_by_state));
		more = bpf_map_get_next_key(c->flows_fd, NULL, &k) == 0;
		while (more) {
			if (bpf_map_lookup_elem(c->flows_fd, &k, &f) == 0 && f.state < 4)
				c->flows_by_state[f.state]++;
			more = bpf_map_get_next_key(c->flows_fd, &k, &next) == 0;
			k = next;
		}
		c->flows_at_ms = cb_now_ms64();
	}
	memcpy(flows, c->flows_by_state, sizeof(flows));
	fprintf(o, "# HELP connbroker_flows Entries in the flow table by state.\n# TYPE connbroker_flows gauge\n"
		   "connbroker_flows{state=\"unbound\"} %lu\nconnbroker_flows{state=\"local\"} %lu\n"
		   "connbroker_flows{state=\"frozen\"} %lu\n",
		flows[CB_FLOW_UNBOUND], flows[CB_FLOW_LOCAL], flows[CB_FLOW_FROZEN]);

	fprintf(o, "# HELP connbroker_decisions_total Flows routed, by service and matching rule.\n"
		   "# TYPE connbroker_decisions_total counter\n");
	for (i = 0; i < c->cfg.n_rules; i++)
		fprintf(o, "connbroker_decisions_total{service=\"%s\",rule=\"%s\"} %lu\n",
			c->cfg.services[c->cfg.rules[i].service].name, c->cfg.rules[i].name, c->rule_hits[i]);
	for (i = 0; i < c->cfg.n_services; i++)
		fprintf(o, "connbroker_decisions_total{service=\"%s\",rule=\"default\"} %lu\n",
			c->cfg.services[i].name, c->default_hits[i]);
	fprintf(o, "# HELP connbroker_materializations_total Sockets built with TCP_REPAIR and handed to apps, by result.\n"
		   "# TYPE connbroker_materializations_total counter\n"
		   "connbroker_materializations_total{result=\"ok\"} %lu\n"
		   "connbroker_materializations_total{result=\"failed\"} %lu\n", c->materialized, c->failed);
	fprintf(o, "# HELP connbroker_wait_timeouts_total Flows answered with RST/503: no app within wait_ms or queue full.\n"
		   "# TYPE connbroker_wait_timeouts_total counter\n");
	for (i = 0; i < c->cfg.n_services; i++)
		fprintf(o, "connbroker_wait_timeouts_total{service=\"%s\"} %lu\n", c->cfg.services[i].name,
			c->svc_timeouts[i]);
	fprintf(o, "# HELP connbroker_table_full_total Flows reset because the controller's pending table was full.\n"
		   "# TYPE connbroker_table_full_total counter\nconnbroker_table_full_total %lu\n", c->dropped_full);
	fprintf(o, "# HELP connbroker_source_full_total Flows reset because their client address held too many pending flows.\n"
		   "# TYPE connbroker_source_full_total counter\nconnbroker_source_full_total %lu\n", c->source_full);
	fprintf(o, "# HELP connbroker_queue_full_total Flows refused because the service queue was full.\n"
		   "# TYPE connbroker_queue_full_total counter\nconnbroker_queue_full_total %lu\n", c->queue_full);
	for (i = 0; i < CB_MAX_PENDING; i++)
		pending += c->pend[i].state != P_FREE;
	fprintf(o, "# HELP connbroker_pending_flows Flows being classified or waiting for an app.\n"
		   "# TYPE connbroker_pending_flows gauge\nconnbroker_pending_flows %d\n", pending);
	for (i = 0; i < CB_MAX_APP_CONNS; i++)
		if (c->conns[i].fd >= 0 && c->conns[i].app >= 0)
			apps[c->conns[i].app]++;
	fprintf(o, "# HELP connbroker_app_instances Registered app connections, by app.\n"
		   "# TYPE connbroker_app_instances gauge\n");
	for (i = 0; i < c->cfg.n_apps; i++)
		fprintf(o, "connbroker_app_instances{app=\"%s\"} %lu\n", c->cfg.apps[i].name, apps[i]);
	fprintf(o, "# HELP connbroker_handoff_seconds Time from a request's first byte at the hook to its socket reaching the app.\n"
		   "# TYPE connbroker_handoff_seconds histogram\n");
	for (i = 0; i < (int)HIST_N; i++) {
		cum += c->hist[i];
		fprintf(o, "connbroker_handoff_seconds_bucket{le=\"%g\"} %llu\n", hist_bounds[i],
			(unsigned long long)cum);
	}
	fprintf(o, "connbroker_handoff_seconds_bucket{le=\"+Inf\"} %llu\n"
		   "connbroker_handoff_seconds_sum %.9f\nconnbroker_handoff_seconds_count %llu\n",
		(unsigned long long)c->hist_count, c->hist_sum, (unsigned long long)c->hist_count);
}

/* ---- the loop ----------------------------------------------------------------- */

#define EV_RING 1
#define EV_LISTEN 2
#define EV_TIMER 3
#define EV_SIGNAL 4
#define EV_METRICS 5

static int add_ep(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int ctl_setup(struct ctl *c, const char *sock_path)
{
	struct itimerspec it = { .it_interval = { 0, CB_TICK_MS * 1000000L },
				 .it_value = { 0, CB_TICK_MS * 1000000L } };
	sigset_t ss;
	int ring_fd, stash_fd, err, i, n;

	for (i = 0; i < CB_MAX_APP_CONNS; i++)
		c->conns[i].fd = -1;
	c->flows_fd = cb_pin_open_map(c->ifname, "cb_flows");
	c->stats_fd = cb_pin_open_map(c->ifname, "cb_stats");
	ring_fd = cb_pin_open_map(c->ifname, "cb_events");
	if (c->flows_fd < 0 || ring_fd < 0) {
		cb_err("run: %s is not attached (run connbroker attach first)", c->ifname);
		return -ENOENT;
	}
	c->ctlprog = cb_ctl__open();
	if (!c->ctlprog || cb_pin_maps(c->ctlprog->obj, c->ifname) || cb_ctl__load(c->ctlprog)) {
		cb_err("run: %s: load the flow-state program: %s", c->ifname, strerror(errno));
		return -errno;
	}
	stash_fd = cb_pin_open_map(c->ifname, "cb_stash");
	if (stash_fd < 0) {
		cb_err("run: %s: no stash map (attached by an older build? detach and attach)",
		       c->ifname);
		return stash_fd;
	}
	c->stash_size = sizeof(struct cb_stash_slot) * CB_STASH_SLOTS;
	c->stash = mmap(NULL, c->stash_size, PROT_READ | PROT_WRITE, MAP_SHARED, stash_fd, 0);
	close(stash_fd);
	if (c->stash == MAP_FAILED) {
		cb_err("run: mmap the stash: %s", strerror(errno));
		return -errno;
	}
	if ((n = pend_recover(c)))
		cb_info("run: %s: recovered %d flows from the stash", c->ifname, n);
	c->rb = ring_buffer__new(ring_fd, on_event, c, NULL);
	close(ring_fd);
	if (!c->rb)
		return -errno;
	c->lsock = open_app_socket(sock_path);
	if (c->lsock < 0) {
		cb_err("run: app socket %s: %s", sock_path, strerror(-c->lsock));
		return c->lsock;
	}
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGCHLD);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	c->sfd = signalfd(-1, &ss, SFD_CLOEXEC);
	c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	if (c->sfd < 0 || c->tfd < 0 || c->ep < 0 || timerfd_settime(c->tfd, 0, &it, NULL))
		return -errno;
	if ((err = add_ep(c->ep, ring_buffer__epoll_fd(c->rb), EV_RING)) ||
	    (err = add_ep(c->ep, c->lsock, EV_LISTEN)) || (err = add_ep(c->ep, c->tfd, EV_TIMER)) ||
	    (err = add_ep(c->ep, c->sfd, EV_SIGNAL)))
		return err;
	if (strcmp(c->cfg.metrics, "off")) {
		c->metrics = cb_metrics_start(c->cfg.metrics, render_metrics, c);
		if (!c->metrics)
			return -EADDRINUSE;
		if ((err = add_ep(c->ep, cb_metrics_fd(c->metrics), EV_METRICS)))
			return err;
	}
	return 0;
}

static void ctl_loop(struct ctl *c)
{
	struct epoll_event evs[64];
	uint64_t x;
	int n, i;

	while (!c->stop) {
		n = epoll_wait(c->ep, evs, 64, -1);
		if (n < 0 && errno == EINTR)
			continue;
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == EV_RING) {
				ring_buffer__consume(c->rb);
				after_events(c);
			} else if (tag == EV_LISTEN) {
				on_accept(c);
			} else if (tag == EV_TIMER) {
				if (read(c->tfd, &x, sizeof(x)) > 0)
					on_tick(c);
				cb_metrics_run(c->metrics);     /* its own timeouts */
			} else if (tag == EV_METRICS) {
				cb_metrics_run(c->metrics);
			} else if (tag == EV_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(c->sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGCHLD)
					reap_children(c);
				else
					c->stop = 1;
			} else if (tag >= 1000 && tag < 1000 + CB_MAX_APP_CONNS) {
				on_app_message(c, &c->conns[tag - 1000]);
			}
		}
	}
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "interface", required_argument, NULL, 'i' },
		{ "socket", required_argument, NULL, 's' },
		{ "metrics", required_argument, NULL, 'm' },
		{ 0 },
	};
	static struct ctl c;
	const char *cfg_path = NULL, *sock = NULL, *metrics = NULL;
	char err[512], sockbuf[128], lockbuf[128];
	int o, i;

	while ((o = getopt_long(argc, argv, "c:i:s:m:", opts, NULL)) != -1) {
		if (o == 'm')
			metrics = optarg;
		else if (o == 'c')
			cfg_path = optarg;
		else if (o == 'i')
			c.ifname = optarg;
		else if (o == 's')
			sock = optarg;
		else
			goto usage;
	}
	if (!cfg_path || optind != argc)
		goto usage;
	if (cb_config_load(cfg_path, &c.cfg, err, sizeof(err))) {
		cb_err("run: %s", err);
		return CB_EXIT_FAIL;
	}
	if (!c.ifname)
		c.ifname = c.cfg.interface;
	if (metrics)
		snprintf(c.cfg.metrics, sizeof(c.cfg.metrics), "%s", metrics);
	if (!c.ifname[0]) {
		cb_err("run: no interface ([broker] interface or --interface)");
		return CB_EXIT_USAGE;
	}
	mkdir("/run/connbroker", 0755);
	if (!sock) {
		snprintf(sockbuf, sizeof(sockbuf), "/run/connbroker/%s.sock", c.ifname);
		sock = sockbuf;
	}
	/* one controller per interface: two would share the ring and the stash */
	snprintf(lockbuf, sizeof(lockbuf), "/run/connbroker/%s.lock", c.ifname);
	c.lock_fd = open(lockbuf, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
	if (c.lock_fd < 0 || flock(c.lock_fd, LOCK_EX | LOCK_NB)) {
		cb_err("run: %s: another controller is running (%s)", c.ifname, lockbuf);
		return CB_EXIT_FAIL;
	}
	c.sock_path = sock;
	if (cb_require_root("run") || ctl_setup(&c, sock))
		return CB_EXIT_FAIL;
	cb_info("run: %s: %d services, %d rules, %d apps; apps connect to %s; metrics on %s",
		c.ifname, c.cfg.n_services, c.cfg.n_rules, c.cfg.n_apps, sock, c.cfg.metrics);
	ctl_loop(&c);
	cb_info("run: stopping: %lu materialized, %lu failed, %lu timed out", c.materialized,
		c.failed, c.timeouts);
	for (i = 0; i < CB_MAX_APP_CONNS; i++)
		if (c.conns[i].fd >= 0)
			close(c.conns[i].fd);
	for (i = 0; i < c.cfg.n_apps; i++)
		if (c.worker[i] > 0)
			kill(c.worker[i], SIGTERM);     /* workers we started end with us */
	ring_buffer__free(c.rb);
	cb_ctl__destroy(c.ctlprog);
	cb_metrics_stop(c.metrics);
	unlink(sock);
	return CB_EXIT_OK;
usage:
	fprintf(stderr, "Usage: connbroker run --config FILE [--interface IFNAME] [--socket PATH]\n"
			"                      [--metrics IP:PORT|off]\n");
	return CB_EXIT_USAGE;
}
