/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Applications: the unix socket they connect to, their registration
 * ("REGISTER <app>", checked with SO_PEERCRED against the app's uid/gid),
 * the delivery of a socket to one instance (SCM_RIGHTS, round-robin), and
 * the sockets registered apps give back ("RELEASE", to ctl/release.c).
 * Protocol: docs/app-protocol.md.  Bounded: CB_APP_CONNS_MAX connections,
 * each of which must register within CB_REGISTER_MS.
 */
#ifndef CB_APPS_H
#define CB_APPS_H

#include <stdint.h>
#include <sys/types.h>
#include "ctl/config.h"

#define CB_APP_CONNS_MAX 256
#define CB_REGISTER_MS 5000
#define CB_APP_UNREG_PER_UID 16         /* connections of one uid not registered yet */
#define CB_APP_CONNS_PER_UID 128        /* all connections of one uid: others keep room */
#define CB_APP_ACCEPT_BURST 64          /* accepted per wake-up (the loop stays fair) */
#define CB_BLOB_MAX 4096                /* = CB_APP_BLOB_MAX (connbroker.h) */
#define CB_FLOW_TEXT_MAX 512            /* the text of a FLOW or RELEASE message */
#define CB_APP_MSG_MAX (CB_FLOW_TEXT_MAX + 1 + CB_BLOB_MAX)
#define CB_HOLDERS 4096                 /* client -> instance it went to (ASK) */

/* Which instance a client's connection was handed to, hashed by client. */
struct cb_app_holder {
	union cb_addr saddr;
	uint16_t sport_be;              /* 0: none */
	int16_t conn;                   /* conns[] index */
	unsigned long gen;              /* that connection's generation then */
};

struct cb_loop;

struct cb_app_conn {
	int fd;                         /* -1: free slot */
	int app;                        /* -1 until REGISTER */
	uid_t uid;                      /* SO_PEERCRED at accept */
	unsigned long delivered;
	unsigned long gen;              /* grows each time the slot is reused */
	uint64_t since_ms;              /* accepted at */
	struct cb_apps *owner;          /* for the loop callback */
	/* the ring of its app's registered instances (-1: in none) */
	int16_t next, prev;
};

struct cb_apps {
	int lsock;
	char path[108];
	struct cb_loop *loop;
	/* the controller's current configuration (replaced on reload) */
	const struct cb_config_file *const *cfg;
	struct cb_app_conn conns[CB_APP_CONNS_MAX];
	/* per app: the instance delivered to next (round robin around the
	 * ring of its registered conns), -1: none; O(1) per delivery */
	int16_t next_up[CB_CFG_MAX_APPS];
	unsigned int instances[CB_CFG_MAX_APPS];        /* registered conns per app */
	/* registrations refused: no such [app], or SO_PEERCRED not admitted */
	unsigned long refused_unknown, refused_cred;
	unsigned long register_timeouts; /* closed: no REGISTER within CB_REGISTER_MS */
	/* connections closed at accept: a uid no app admits (nor root, nor
	 * the controller's), over CB_APP_UNREG_PER_UID / CB_APP_CONNS_PER_UID,
	 * every slot taken */
	unsigned long refused_uid, refused_per_uid, refused_full;
	uint64_t refusal_logged_ms;     /* refusals are logged once a second */
	unsigned long bad_messages;     /* malformed, or an fd where none belongs */
	struct cb_app_holder holders[CB_HOLDERS];
	/*
	 * A registered instance of `app` gave the live socket fd back, with
	 * what the next app is to receive (blob) and where it goes (to: an
	 * app's name, "" for the rules).  fd is the callee's.
	 */
	void (*on_release)(void *arg, int app, int fd, const char *to, const uint8_t *blob,
			   size_t len);
	void *release_arg;
	/*
	 * "CTL <command>" from a connection of root or of the controller's own
	 * user (connbroker drain, migrate): the reply (text, at most cap
	 * bytes) is sent back and the connection closed.
	 */
	void (*on_ctl)(void *arg, const char *cmd, char *reply, size_t cap);
	void *ctl_arg;
	unsigned long ctl_refused;      /* CTL from other users */
};

/* What a FLOW message says of a connection (docs/app-protocol.md). */
struct cb_flow_msg {
	union cb_addr saddr;            /* IPv4 mapped, or IPv6 */
	uint16_t sport_be;
	const char *service, *rule, *app;       /* rule: "default" when none matched */
	uint32_t bytes;                 /* request bytes already queued */
	int per_request;                /* the service routes each request */
	const uint8_t *blob;
	size_t blob_len;                /* <= CB_BLOB_MAX */
};

/* Listen on path (replacing a stale socket file; owner, group and mode from
 * the configuration) and register with the loop. */
int cb_apps_open(struct cb_apps *a, const char *path, struct cb_loop *loop,
		 const struct cb_config_file *const *cfg);
/* The socket file's owner, group and mode from the configuration (again
 * after a reload): 0 or -errno. */
int cb_apps_set_access(const struct cb_apps *a, const struct cb_config_file *cfg);
/* 1 when a peer with these credentials may connect at all: root, the
 * controller's user, or a uid/gid some app admits. */
int cb_apps_may_connect(const struct cb_config_file *cfg, uid_t uid, gid_t gid);
/* 1 when msg (n bytes) is "REGISTER <name>", name printable ASCII without
 * spaces, shorter than CB_CFG_NAME and nothing else: name is copied out. */
int cb_apps_parse_register(const char *msg, size_t n, char name[CB_CFG_NAME]);
void cb_apps_close(struct cb_apps *a);
/* The FLOW message for m into buf: its length, or -ENOSPC. */
int cb_apps_flow_msg(const struct cb_flow_msg *m, char *buf, size_t cap);
/*
 * Hand fd to an instance of app with the FLOW message m: 0 (*conn =
 * which), -ENOENT (no instance registered), -EAGAIN (every live instance's
 * socket buffer is full, or another passing error), or -EPIPE and the like
 * (every instance had died: their connections are closed).  An instance found dead is closed and the next
 * one tried: a socket is lost to none.
 */
int cb_apps_deliver(struct cb_apps *a, int app, const struct cb_flow_msg *m, int fd, int *conn);
/* 1 if err from cb_apps_deliver() means no instance could take the socket
 * now (none, every one busy, or the last ones gone), not a bad message. */
int cb_apps_no_taker(int err);
/*
 * Send msg (no fd: "ASK client=... to=...") to the instance this module
 * last handed the connection of client saddr:sport to: 1 sent, 0 when no
 * live instance is known for it (forgotten after CB_HOLDERS newer
 * hand-overs collide with it), -errno.
 */
int cb_apps_ask(struct cb_apps *a, const union cb_addr *saddr, uint16_t sport_be, const char *msg);
/*
 * A RELEASE message of n bytes: "RELEASE[ to=TARGET] blob=N", each field at
 * most once, one space apart, printable ASCII, then (N > 0) a newline and
 * exactly N bytes.  0 with to ("" when absent; tocap bytes), *blob and
 * *blob_len (pointing into buf); -EPROTO for anything else.
 */
int cb_apps_parse_release(const char *buf, size_t n, char *to, size_t tocap,
			  const uint8_t **blob, size_t *blob_len);
/* Close connections that did not register in time. */
void cb_apps_tick(struct cb_apps *a, uint64_t now_ms);
unsigned int cb_apps_instances(const struct cb_apps *a, int app);
/*
 * After a reload: app indexes old -> new (-1: the app is gone, close them);
 * instances whose credentials the new cfg no longer admits are closed too.
 */
void cb_apps_remap(struct cb_apps *a, const struct cb_config_file *cfg, const int *old_to_new,
		   int n_old);

#endif
