// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The one source of the configuration file's reference: `connbroker help
 * config` and connbroker.conf(5) (`connbroker help --man5`) print this table;
 * tests/net/tests_cli.sh checks that every key user/ctl/config.c accepts is
 * here.  Help texts are filled as the usages are: a "\n" is a space.
 */
#include <stddef.h>
#include "cli/usage.h"

static const struct cb_opt_doc broker_keys[] = {
	{ "interface = IFNAME", "the interface the controller serves (run --interface wins)" },
	{ "metrics = ADDR:PORT | off", "the Prometheus endpoint (default 127.0.0.1:9464)" },
	{ "decide_bytes = N", "classify within this many bytes (default 16384)..." },
	{ "decide_ms = DURATION", "...and this long, then the service's default (default 500ms)" },
	{ "decision_log = resets | all | off", "a line per flow reset or answered 503 (default),\n"
					       "per flow, or none; at most 50 a second" },
	{ "include = DIR | FILE", "more [service], [rule], [app] and [node] sections: a file,\n"
				  "or a directory's *.conf in name order" },
	{ "socket_owner = USER", "owner of the app socket (a name or a number)" },
	{ "socket_group = GROUP", "its group" },
	{ "socket_mode = OCTAL", "its mode (default 0666; the owner keeps rw)" },
	{ "node = NAME", "this node (a [node] section), in a cluster (run --node wins)" },
	{ "cluster = NAME", "the cluster's name: both ends of a peer link must share it" },
	{ "psk_file = PATH", "the cluster's pre-shared key (hex, at least 32 bytes)" },
	{ "no_controller = DURATION | hold", "the attachment: once no controller has run this\n"
					     "long (800ms..1h, default 2s), new connections get\n"
					     "an RST; hold: accept and hold them for one to come" },
	{ "mode = native | skb | tc", "the attachment's hook (default native)" },
	{ "mss = N", "MSS offered (536..9000; default the interface's MTU - 40)" },
	{ "wscale = N", "window scale offered (0..14; default what the kernel offers)" },
	{ "flow_cap = BYTES", "bytes an unbound flow may queue, its window (default 65536)" },
	{ "flows = N", "connections the flow table holds (1024..16777216, default 65536;\n"
		       "about 152 bytes each; set at a fresh attach)" },
	{ "workers = N | auto", "controller loops, each with its own ring and share of the\n"
				"flows (1..64, auto: one per CPU; default 1; set at a\n"
				"fresh attach; a cluster needs 1)" },
	{ "rst_rate = N", "RSTs a second and CPU for segments of unknown connections (1000)" },
	{ "csum_verify = yes | no", "check TCP checksums before acknowledging data (yes)" },
	{ 0 },
};

static const struct cb_opt_doc service_keys[] = {
	{ "listen = ADDR:PORT[, ...]", "1 to 4 addresses, IPv4 a.b.c.d:port, IPv6 [addr]:port" },
	{ "default = APP", "the app when no rule matches" },
	{ "queue = N", "flows that may wait for an app (default 64)" },
	{ "wait_ms = DURATION", "how long they may wait (default 2s)" },
	{ "on_timeout = rst | http503", "then: an RST, or an HTTP 503 answer" },
	{ "route = per-connection | per-request", "per-request: apps give each connection\n"
						  "back after every answer and its next request\n"
						  "is routed afresh" },
	{ "idle_ms = DURATION", "a connection given back waits this long for its next\n"
				"request, then is closed (FIN)" },
	{ "rtt_probe = yes | no", "yes (default): a socket built for a new connection goes\n"
				  "live with a one-byte probe, for an RTT sample at once;\n"
				  "no: it sends nothing (two segments less a connection,\n"
				  "but a lost first answer waits ~1 s, not ~200 ms)" },
	{ "placement = local | spread | affinity", "which node serves it, in a cluster" },
	{ "capacity = N", "connections per node before spilling (0: no bound)" },
	{ "affinity_key = path | host | client", "what affinity placement hashes" },
	{ 0 },
};

static const struct cb_opt_doc rule_keys[] = {
	{ "service = NAME", "the service whose flows the rule sees" },
	{ "app = NAME", "where a match goes" },
	{ "path_prefix = /PREFIX", "HTTP request path starts with it" },
	{ "host = NAME | *.DOMAIN", "HTTP Host, exact or wildcard" },
	{ "sni = NAME | *.DOMAIN", "TLS server_name, exact or wildcard" },
	{ "alpn = PROTOCOL", "a TLS ALPN protocol offered, e.g. h2" },
	{ "prefix = BYTES", "a raw byte prefix (\\xNN escapes)" },
	{ 0 },
};

static const struct cb_opt_doc app_keys[] = {
	{ "uid = USER | -1", "who may register (SO_PEERCRED); default the controller's own\n"
			     "user; -1 or any: anyone" },
	{ "gid = GROUP | -1", "the group too (default any)" },
	{ "command = PATH [ARGS]", "started on demand; it registers itself\n"
				   "($CONNBROKER_SOCKET, $CONNBROKER_APP)" },
	{ "inetd = yes | no", "yes: one process per connection, the socket on stdin/stdout" },
	{ 0 },
};

static const struct cb_opt_doc node_keys[] = {
	{ "id = N", "its index in the steering table (1..63)" },
	{ "control = ADDR:PORT", "its peer-link address" },
	{ "mac = aa:bb:cc:dd:ee:ff | auto", "where a director steers its flows (auto: the\n"
					    "neighbour of its control address)" },
	{ "services = NAME[, ...]", "the services it serves" },
	{ 0 },
};

const struct cb_conf_section cb_conf_sections[] = {
	{ "[broker]", "The controller, and the attachment's settings (read by attach --config;\n"
		      "an option given on attach's command line wins).", broker_keys },
	{ "[service NAME]", "A service: the addresses the datapath answers on and what waits\n"
			    "for an app.", service_keys },
	{ "[rule NAME]", "Rules are tried in file order; every condition given must hold.",
	  rule_keys },
	{ "[app NAME]", "An application that registers for connections.", app_keys },
	{ "[node NAME]", "A cluster: one [node] per controller; every node reads the same\n"
			 "file and is told which it is.", node_keys },
	{ 0 },
};
