/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The controller's configuration file: INI (parsed by inih), e.g.
 *
 *   [broker]
 *   interface = eth0
 *   metrics = 127.0.0.1:9464
 *   decide_bytes = 16384         ; classify within this many bytes...
 *   decide_ms = 500              ; ...and this long, else the default app
 *   decision_log = resets        ; or all, off: a line per flow decided
 *   no_controller = 2s           ; or hold: with no controller for this long,
 *                                ; new connections get an RST
 *   mode = native                ; the attachment's settings, as attach's
 *   flow_cap = 65536             ; options of the same names (mode, mss,
 *   flows = 65536                ; flows,
 *   rst_rate = 1000              ; wscale, flow-cap, rst-rate, and
 *   csum_verify = yes            ; --no-csum-verify for csum_verify = no);
 *                                ; these and no_controller are read by
 *                                ; `attach --config` (options given win),
 *                                ; not by the controller
 *   include = conf.d             ; then its *.conf, in name order (a file, too)
 *
 * Comments: whole lines with ; or #, and after a value: "; note" or " # note".
 * A key or a section given twice is refused, naming both lines; durations
 * (*_ms keys) take 500, 500ms, 2s, 5m, 1h; uid, gid, socket_owner and
 * socket_group take names or numbers.
 *   node = dir                   ; this node (a [node] section), for a cluster
 *   cluster = prod               ; and the cluster's name and key (peer links)
 *   psk_file = /etc/connbroker/cluster.psk
 *
 *   [service shop]
 *   listen = 198.18.0.100:80, [2001:db8::100]:80   ; 1 to 4 addresses
 *   default = web                ; app when no rule matches
 *   queue = 64                   ; flows waiting for an app
 *   wait_ms = 2000               ; how long they may wait
 *   on_timeout = http503         ; or rst
 *   route = per-request          ; or per-connection (the default): apps give
 *                                ; each connection back after every request,
 *                                ; and its next request is routed afresh
 *   idle_ms = 30000              ; a connection given back waits this long for
 *                                ; its next request, then is closed (FIN)
 *   rtt_probe = yes              ; or no: a fresh flow's socket goes live
 *                                ; sending nothing (two segments less; no RTT
 *                                ; until the first answer is acknowledged:
 *                                ; repair/repair.h)
 *
 *   [rule api]                   ; rules are tried in file order; all given
 *   service = shop               ; conditions must hold
 *   path_prefix = /api/
 *   host = *.example.com         ; HTTP Host, exact or wildcard
 *   sni = api.example.com        ; TLS server_name, exact or wildcard
 *   alpn = h2
 *   prefix = SSH-                ; raw byte prefix (\xNN escapes allowed)
 *   app = api
 *
 *   placement = spread           ; local (default) | spread | affinity: which node
 *   capacity = 100               ; connections per node before spilling (0: no bound)
 *   affinity_key = path          ; affinity: path | host | client
 *
 *   [node dir]                   ; the cluster: one [node] per controller
 *   id = 1                       ; all nodes read the same file; each is told
 *   control = 198.18.0.2:9400    ; which it is ([broker] node = dir, or
 *   mac = auto                   ; run --node dir); mac: how a director steers
 *   services = shop              ; to it (auto: the neighbour of its control IP)
 *
 *   [app api]
 *   uid = 1000                   ; who may register (SO_PEERCRED); default: the
 *                                ; controller's own user; -1 = anyone
 *   command = /usr/local/bin/api-worker   ; started on demand (optional): it
 *                                ; registers itself ($CONNBROKER_SOCKET,
 *                                ; $CONNBROKER_APP); with inetd = yes, one
 *                                ; process per connection, socket on stdin/stdout
 *
 * Errors name the file and line.
 */
#ifndef CB_CONFIG_H
#define CB_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <connbroker/shared.h>
#include "ctl/classify.h"
#include "util/parse_util.h"           /* CB_ADDR_PORT_STRLEN */

#define CB_CFG_NAME 64
#define CB_CFG_MAX_BYTES (1 << 20)      /* a larger file is refused (not a configuration) */
#define CB_CFG_KEYS_MAX 32              /* distinct keys one section may give */
#define CB_CFG_INCLUDES_MAX 8           /* include = lines in [broker] */
#define CB_CFG_INCLUDE_FILES 64         /* files one include may name (a directory) */
#define CB_CFG_MAX_SERVICES 64
#define CB_CFG_MAX_RULES 256
#define CB_CFG_MAX_APPS 64
#define CB_CFG_MAX_NODES 64

enum cb_on_timeout { CB_TIMEOUT_RST = 0, CB_TIMEOUT_HTTP503 };

/* Where a service's flows run (ctl/place.c). */
enum cb_placement {
	CB_PLACE_LOCAL = 0,     /* this node only (the default) */
	CB_PLACE_SPREAD,        /* here while under capacity, else the less loaded of
	                         * two random healthy nodes offering the service */
	CB_PLACE_AFFINITY,      /* the node a request key hashes to (rendezvous),
	                         * spread when it is over capacity */
};

/* Which part of the request an affinity hashes. */
enum cb_affinity_key { CB_AFFINITY_PATH = 0, CB_AFFINITY_HOST, CB_AFFINITY_CLIENT };

struct cb_app_cfg {
	char name[CB_CFG_NAME];
	long uid, gid;                  /* -1: any */
	char command[256];
	int inetd;                      /* 1: one process per connection, socket on stdin/stdout */
	int line;
	int src;                        /* its file: 0 the main one, else an include's */
};

struct cb_rule_cfg {
	char name[CB_CFG_NAME];
	char service_name[CB_CFG_NAME], app_name[CB_CFG_NAME];
	int service, app;               /* indexes, resolved after parsing */
	char path_prefix[256], host[256], sni[256], alpn[32];
	uint8_t prefix[64];
	size_t prefix_len;
	int line;
	int src;                        /* its file: 0 the main one, else an include's */
};

#define CB_SVC_LISTEN_MAX 4             /* addresses one service listens on */

struct cb_service_cfg {
	char name[CB_CFG_NAME];
	struct cb_service_key listen[CB_SVC_LISTEN_MAX];     /* IPv4 and/or IPv6 */
	int n_listen;
	char default_name[CB_CFG_NAME];
	int default_app;                /* -1: none (flows get on_timeout) */
	uint32_t queue, wait_ms;
	enum cb_on_timeout on_timeout;
	enum cb_placement placement;
	enum cb_affinity_key affinity_key;
	uint32_t capacity;              /* connections per node (active + waiting +
	                                 * being handed off); 0: unbounded */
	int per_request;                /* route = per-request: apps release after
	                                 * each request (ctl/release.c) */
	int rtt_probe;                  /* 1 (default): sockets built for its fresh
	                                 * flows go live with the RTT probe */
	uint32_t idle_ms;               /* a released connection's wait for its next
	                                 * request */
	int line;
	int src;                        /* its file: 0 the main one, else an include's */
};

/*
 * A node of the cluster: the controllers of all nodes read one file, each
 * told which node it is ([broker] node, or run --node).
 */
struct cb_node_cfg {
	char name[CB_CFG_NAME];
	uint32_t id;                    /* 1..CB_MAX_PEERS-1, unique: its cb_peers index */
	char control[64];               /* IP:PORT its controller listens on for peers */
	uint8_t mac[6];                 /* how a director steers to it */
	int mac_auto;                   /* 1: the neighbour entry of its control address */
	uint64_t services;              /* bit i: it serves service i */
	char services_text[512];        /* as written, resolved after parsing */
	int line;
	int src;                        /* its file: 0 the main one, else an include's */
};

/* [broker] decision_log: a line per flow decided (rate-limited). */
enum cb_decision_log {
	CB_DLOG_RESETS = 0,             /* resets and 503s only (the default) */
	CB_DLOG_ALL,                    /* every flow: app, node, reset */
	CB_DLOG_OFF,
};

struct cb_config_file {
	char interface[16];
	char metrics[64];
	uint32_t decide_bytes, decide_ms;
	enum cb_decision_log decision_log;
	uint32_t no_ctl_ms;             /* no_controller: cb_config.no_ctl_ms, 0 = hold */
	/* the attachment's settings for `attach --config` (0 / -1: not given) */
	uint32_t att_mode;              /* enum cb_attach_mode */
	uint32_t att_mss, att_flow_cap;
	uint32_t att_flows;             /* [broker] flows: the flow table's entries (0: default) */
	uint32_t att_workers;           /* [broker] workers: controller loops (0: not given) */
	int att_wscale, att_csum_verify;        /* -1: not given */
	long att_rst_rate;                      /* -1: not given */
	char node[CB_CFG_NAME];         /* this node ([node NAME]); "": a single node */
	char cluster[CB_CFG_NAME];      /* name both ends of a peer link must share */
	char psk_file[256];             /* the cluster's pre-shared key (hex, >= 32 bytes) */
	/* the app socket's owner, group (-1: the controller's) and mode (0666) */
	long socket_uid, socket_gid;
	unsigned int socket_mode;
	struct cb_node_cfg nodes[CB_CFG_MAX_NODES];
	int n_nodes;
	int self;                       /* index of this node in nodes[], -1: none */
	struct cb_service_cfg services[CB_CFG_MAX_SERVICES];
	struct cb_rule_cfg rules[CB_CFG_MAX_RULES];
	struct cb_app_cfg apps[CB_CFG_MAX_APPS];
	int n_services, n_rules, n_apps;
};

/* A duration: 500 (ms), 500ms, 2s, 5m, 1h into ms within [min, max]; 0,
 * -EINVAL or -ERANGE. */
int cb_config_parse_ms(const char *v, uint32_t min, uint32_t max, uint32_t *out);
/* Controller loops: 1..CB_MAX_WORKERS, or "auto" (the CPUs online, at most
 * that): 0 or -EINVAL. */
int cb_config_parse_workers(const char *v, uint32_t *out);
/* 0, or -1 with "FILE:LINE: message" in err. */
int cb_config_load(const char *path, struct cb_config_file *c, char *err, size_t errlen);
/* 1 when name is printable ASCII without spaces (section and app names). */
int cb_config_name_ok(const char *name);
/* Same, from a string (tests). */
int cb_config_parse(const char *text, const char *name, struct cb_config_file *c, char *err,
		    size_t errlen);

/* The first rule of service svc that matches, or -1 (the default applies). */
int cb_route(const struct cb_config_file *c, int svc, const struct cb_request_info *ri,
	     const uint8_t *bytes, size_t len);
/* "a:p, [b]:p": the addresses a service listens on, for messages. */
#define CB_LISTEN_STRLEN (CB_SVC_LISTEN_MAX * (CB_ADDR_PORT_STRLEN + 2))
const char *cb_fmt_listen(const struct cb_service_cfg *s, char *buf, size_t len);
/* The service listening on key, or -1. */
int cb_service_find(const struct cb_config_file *c, const struct cb_service_key *key);
/* Index by name, or -1. */
int cb_config_app(const struct cb_config_file *c, const char *name);
int cb_config_service(const struct cb_config_file *c, const char *name);
int cb_config_rule(const struct cb_config_file *c, const char *name);
int cb_config_node(const struct cb_config_file *c, const char *name);
/* Make `name` this node (run --node): 0, or -1 with a message in err. */
int cb_config_set_node(struct cb_config_file *c, const char *name, char *err, size_t errlen);

/*
 * 1 when a and b describe the same cluster as a running controller sees it
 * (name, key file, this node, and every node's name, id, control address
 * and MAC, in order): what a reload may not change.  Services a node
 * offers may change.
 */
int cb_config_same_cluster(const struct cb_config_file *a, const struct cb_config_file *b);

/*
 * What changed from a to b, one line per section added, removed or changed
 * ("service shop: changed: default web -> api"), in file order; returns how
 * many lines were said.  For the log of a reload.
 */
typedef void (*cb_config_say_fn)(void *arg, const char *line);
int cb_config_diff(const struct cb_config_file *a, const struct cb_config_file *b,
		   cb_config_say_fn say, void *arg);

#endif
