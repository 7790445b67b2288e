// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The controller's config file: parsing, errors with line numbers, routing. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>
#include "ctl/config.h"
#include "ctl/handoff.h"

static const char *good =
	"; connbroker example\n"
	"[broker]\n"
	"interface = eth0\n"
	"decide_bytes = 4096\n"
	"\n"
	"[service shop]\n"
	"listen = 198.18.0.100:80\n"
	"default = web\n"
	"on_timeout = http503   ; canned answer\n"
	"\n"
	"[service tls]\n"
	"listen = 198.18.0.100:443\n"
	"\n"
	"[rule api]\n"
	"service = shop\n"
	"path_prefix = /api/\n"
	"app = api\n"
	"\n"
	"[rule admin-host]\n"
	"service = shop\n"
	"host = *.admin.example\n"
	"app = api\n"
	"\n"
	"[rule h2]\n"
	"service = tls\n"
	"sni = shop.example\n"
	"alpn = h2\n"
	"app = web\n"
	"\n"
	"[rule ssh]\n"
	"service = tls\n"
	"prefix = SSH-\\x32\n"
	"app = api\n"
	"\n"
	"[app web]\n"
	"[app api]\n"
	"uid = 1000\n";

Test(config, parses_the_example)
{
	static struct cb_config_file c;
	char err[256] = "";

	cr_assert_eq(cb_config_parse(good, "t.conf", &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(c.interface, "eth0");
	cr_expect_eq(c.decide_bytes, 4096);
	cr_expect_eq(c.decide_ms, 500, "default");
	cr_expect_eq(c.n_services, 2);
	cr_expect_eq(c.n_rules, 4);
	cr_expect_eq(c.n_apps, 2, "an app section without keys counts");
	cr_expect_eq(c.services[0].n_listen, 1);
	cr_expect(cb_addr_is_v4(&c.services[0].listen[0].vip));
	cr_expect_eq(c.services[0].listen[0].vip.w[3], inet_addr("198.18.0.100"));
	cr_expect_eq(ntohs(c.services[0].listen[0].port_be), 80);
	cr_expect_eq(c.services[0].default_app, 0);
	cr_expect_eq(c.services[0].on_timeout, CB_TIMEOUT_HTTP503);
	cr_expect_eq(c.services[1].default_app, -1);
	cr_expect_eq(c.rules[3].prefix_len, 5);
	cr_expect_eq(memcmp(c.rules[3].prefix, "SSH-2", 5), 0);
	cr_expect_eq(c.apps[1].uid, 1000);
	cr_expect_eq(c.apps[0].uid, (long)geteuid(), "default: only the controller's user");
}

static void expect_error(const char *text, const char *want)
{
	static struct cb_config_file c;
	char err[256] = "";

	cr_expect_neq(cb_config_parse(text, "t.conf", &c, err, sizeof(err)), 0, "accepted: %s", text);
	cr_expect(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
}

/* listen = a list: one service on IPv4 and IPv6, found by either address. */
Test(config, listen_on_both_families)
{
	static struct cb_config_file c;
	static const char *text =
		"[service dual]\n"
		"listen = 198.18.0.100:80, [2001:db8::100]:80\n"
		"[service v6]\n"
		"listen = [2001:db8::100]:443,[2001:db8::200]:443\n";
	struct cb_service_key k;
	union cb_addr v6;
	char err[256] = "";

	cr_assert_eq(cb_config_parse(text, "t.conf", &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.n_services, 2);
	cr_expect_eq(c.services[0].n_listen, 2);
	cr_expect(cb_addr_is_v4(&c.services[0].listen[0].vip));
	cr_expect_eq(c.services[0].listen[0].vip.w[3], inet_addr("198.18.0.100"));
	cr_expect_eq(ntohs(c.services[0].listen[0].port_be), 80);
	cr_assert_eq(inet_pton(AF_INET6, "2001:db8::100", &v6), 1);
	cr_expect_eq(memcmp(&c.services[0].listen[1].vip, &v6, 16), 0);
	cr_expect_eq(ntohs(c.services[0].listen[1].port_be), 80);
	cr_expect_eq(c.services[1].n_listen, 2, "no space after the comma");
	/* cb_service_find by either address */
	cr_assert_eq(cb_parse_service("198.18.0.100:80", &k), 0);
	cr_expect_eq(cb_service_find(&c, &k), 0);
	cr_assert_eq(cb_parse_service("[2001:db8::100]:80", &k), 0);
	cr_expect_eq(cb_service_find(&c, &k), 0);
	cr_assert_eq(cb_parse_service("[2001:db8::200]:443", &k), 0);
	cr_expect_eq(cb_service_find(&c, &k), 1);
	cr_assert_eq(cb_parse_service("[2001:db8::100]:443", &k), 0);
	cr_expect_eq(cb_service_find(&c, &k), 1);
	cr_assert_eq(cb_parse_service("198.18.0.100:443", &k), 0);
	cr_expect_lt(cb_service_find(&c, &k), 0, "not a service");
	cr_assert_eq(cb_parse_service("[::c612:64]:80", &k), 0);
	cr_expect_lt(cb_service_find(&c, &k), 0, "IPv4-compatible is not the IPv4 VIP");
	/* four addresses are allowed */
	cr_expect_eq(cb_config_parse("[service a]\nlisten = 198.18.0.1:80, 198.18.0.2:80, "
				     "[2001:db8::1]:80, [2001:db8::2]:80\n", "t.conf", &c, err,
				     sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.services[0].n_listen, 4);
}

Test(config, listen_lists_refused)
{
	expect_error("[service a]\nlisten = 198.18.0.1:80, 198.18.0.2:80, [2001:db8::1]:80, "
		     "[2001:db8::2]:80, [2001:db8::3]:80\n", "t.conf:2: listen: more than 4");
	expect_error("[service a]\nlisten = [2001:db8::1]:80, [2001:db8::1]:80\n",
		     "t.conf:2: listen: '[2001:db8::1]:80' given twice");
	expect_error("[service a]\nlisten = 198.18.0.1:80,198.18.0.1:80\n", "t.conf:2: listen:");
	expect_error("[service a]\nlisten = 198.18.0.1:80\n[service b]\n"
		     "listen = [2001:db8::1]:80, 198.18.0.1:80\n",
		     "t.conf:3: [service b]: listens on the same address as [service a]");
	expect_error("[service a]\nlisten = [2001:db8::1]:80\n[service b]\n"
		     "listen = [2001:db8:0::1]:80\n", "listens on the same address");
	expect_error("[service a]\nlisten = 2001:db8::1:80\n", "t.conf:2: listen: bad address");
	expect_error("[service a]\nlisten = [2001:db8::1]\n", "t.conf:2: listen: bad address");
	expect_error("[service a]\nlisten = ,\n", "t.conf:2: listen");
	expect_error("[service a]\nlisten = 198.18.0.1:80,\n",
		     "t.conf:2: listen: an empty address in the list");
	expect_error("[service a]\nlisten = 198.18.0.1:80,,[2001:db8::1]:80\n",
		     "t.conf:2: listen: an empty address in the list");
	expect_error("[service a]\nlisten = 198.18.0.1:80 [2001:db8::1]:80\n",
		     "t.conf:2: listen: '198.18.0.1:80 [2001:db8::1]:80': addresses are separated by commas");
}

Test(config, errors_name_the_line)
{
	expect_error("[service a]\nlisten = 198.18.0.1\n", "t.conf:2: listen: bad address");
	expect_error("[service a]\nlisten = 198.18.0.1:80\nqueue = many\n", "t.conf:3: queue:");
	expect_error("[service a]\nlisten = 198.18.0.1:80\n[rule r]\nservice = a\npaht_prefix = /x\n",
		     "t.conf:5: [rule r]: unknown key 'paht_prefix'");
	expect_error("[service a]\nlisten = 198.18.0.1:80\n\n[rule r]\nservice = b\npath_prefix = /\napp = x\n",
		     "t.conf:4: [rule r]: unknown service 'b'");
	expect_error("[service a]\nlisten = 198.18.0.1:80\n[rule r]\nservice = a\npath_prefix = /\napp = nope\n",
		     "t.conf:3: [rule r]: unknown app 'nope'");
	expect_error("[service a]\nlisten = 198.18.0.1:80\n[app w]\n[rule r]\nservice = a\napp = w\n",
		     "t.conf:4: [rule r]: no condition");
	expect_error("[service a]\n", "t.conf:1: [service a]: 'listen = VIP:PORT' is required");
	expect_error("[service a]\nlisten = 198.18.0.1:80\n[service b]\nlisten = 198.18.0.1:80\n",
		     "t.conf:3: [service b]: listens on the same address");
	expect_error("[service a]\nlisten = 198.18.0.1:80\n[service a]\n", "t.conf:3: [service a] defined twice");
	expect_error("[servce a]\n", "t.conf:1: [servce a]: unknown section kind");
	expect_error("[service a]\nthis is not ini\n", "t.conf:2: syntax error");
	expect_error("listen = 1.2.3.4:5\n", "t.conf:1: key 'listen' outside of a section");
	expect_error("[service a]\nlisten = 198.18.0.1:80\non_timeout = later\n", "t.conf:3: on_timeout:");
	expect_error("[service a]\nlisten = 198.18.0.1:80\n[rule r]\nprefix = \\q\n", "t.conf:4: prefix: bad escape");
	expect_error("", "no [service NAME] section");
	expect_error("[service a]\nlisten = 198.18.0.1:80\n[rule r]\nprefix = \\x1G\n", "t.conf:4: prefix: bad escape");
	{
		char long_line[400];

		snprintf(long_line, sizeof(long_line), "[service a]\nlisten = 198.18.0.1:80\n[app x]\ncommand = %0250d\n", 0);
		expect_error(long_line, "t.conf:4: line longer than");
	}
}

Test(config, routing_by_path_host_sni_alpn_prefix)
{
	static struct cb_config_file c;
	struct cb_request_info ri;
	char err[256];
	const char *r1 = "GET /api/items HTTP/1.1\r\nHost: shop.example\r\n\r\n";
	const char *r2 = "GET /index.html HTTP/1.1\r\nHost: x.admin.example\r\n\r\n";
	const char *r3 = "GET /index.html HTTP/1.1\r\nHost: shop.example\r\n\r\n";

	cr_assert_eq(cb_config_parse(good, "t.conf", &c, err, sizeof(err)), 0, "%s", err);
	cb_classify((const uint8_t *)r1, strlen(r1), &ri);
	cr_expect_eq(cb_route(&c, 0, &ri, (const uint8_t *)r1, strlen(r1)), 0, "path rule");
	cb_classify((const uint8_t *)r2, strlen(r2), &ri);
	cr_expect_eq(cb_route(&c, 0, &ri, (const uint8_t *)r2, strlen(r2)), 1, "host wildcard rule");
	cb_classify((const uint8_t *)r3, strlen(r3), &ri);
	cr_expect_eq(cb_route(&c, 0, &ri, (const uint8_t *)r3, strlen(r3)), -1, "default");
	/* rules of another service never apply: r1 matches [rule api] of shop only */
	cb_classify((const uint8_t *)r1, strlen(r1), &ri);
	cr_expect_eq(cb_route(&c, 1, &ri, (const uint8_t *)r1, strlen(r1)), -1);

	memset(&ri, 0, sizeof(ri));
	ri.proto = CB_PROTO_TLS;
	strcpy(ri.sni, "shop.example");
	strcpy(ri.alpn[0], "http/1.1");
	ri.n_alpn = 1;
	cr_expect_eq(cb_route(&c, 1, &ri, (const uint8_t *)"\x16", 1), -1, "sni matches, alpn not");
	strcpy(ri.alpn[1], "h2");
	ri.n_alpn = 2;
	cr_expect_eq(cb_route(&c, 1, &ri, (const uint8_t *)"\x16", 1), 2);
	memset(&ri, 0, sizeof(ri));
	cr_expect_eq(cb_route(&c, 1, &ri, (const uint8_t *)"SSH-2.0-x", 9), 3, "byte prefix");
	cr_expect_eq(cb_route(&c, 1, &ri, (const uint8_t *)"SSH-1", 5), -1);
}

static const char *cluster =
	"[broker]\nnode = dir\ncluster = t\npsk_file = /k\n"
	"[service shop]\nlisten = 198.18.0.100:80\ndefault = web\nplacement = spread\ncapacity = 4\n"
	"[service api]\nlisten = 198.18.0.100:81\nplacement = affinity\naffinity_key = host\n"
	"[app web]\n"
	"[node dir]\nid = 1\ncontrol = 198.18.0.2:9400\nservices = shop\n"
	"[node b1]\nid = 2\ncontrol = 198.18.0.3:9400\nmac = 02:00:00:00:00:03\nservices = shop, api\n";

Test(config, nodes_and_placement)
{
	static struct cb_config_file c;
	char err[256];

	cr_assert_eq(cb_config_parse(cluster, "c.conf", &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.n_nodes, 2);
	cr_expect_eq(c.self, 0);
	cr_expect_eq(c.nodes[1].id, 2);
	cr_expect_eq(c.nodes[0].mac_auto, 1);
	cr_expect_eq(c.nodes[1].mac_auto, 0);
	cr_expect_eq(c.nodes[1].mac[5], 3);
	cr_expect_eq(c.nodes[0].services, 1);
	cr_expect_eq(c.nodes[1].services, 3);
	cr_expect_eq(c.services[0].placement, CB_PLACE_SPREAD);
	cr_expect_eq(c.services[0].capacity, 4);
	cr_expect_eq(c.services[1].placement, CB_PLACE_AFFINITY);
	cr_expect_eq(c.services[1].affinity_key, CB_AFFINITY_HOST);
	cr_expect_eq(cb_config_set_node(&c, "b1", err, sizeof(err)), 0);
	cr_expect_eq(c.self, 1);
	cr_expect_eq(cb_config_set_node(&c, "nope", err, sizeof(err)), -1);
	cr_expect(strstr(err, "no [node nope]"), "%s", err);
}

/* What a reload may change in a cluster: services; not the nodes. */
Test(config, same_cluster)
{
	static struct cb_config_file a, b;
	static const struct { const char *from, *to; int same; } rows[] = {
		{ "services = shop, api\n", "services = shop\n", 1 },
		{ "id = 2\n", "id = 3\n", 0 },
		{ "control = 198.18.0.3:9400\n", "control = 198.18.0.4:9400\n", 0 },
		{ "mac = 02:00:00:00:00:03\n", "mac = 02:00:00:00:00:04\n", 0 },
		{ "mac = 02:00:00:00:00:03\n", "mac = auto\n", 0 },
		{ "node = dir\n", "node = b1\n", 0 },
		{ "cluster = t\n", "cluster = u\n", 0 },
		{ "[node b1]\n", "[node b2]\n", 0 },
	};
	char err[256], text[1024], *at;
	size_t i;

	cr_assert_eq(cb_config_parse(cluster, "c.conf", &a, err, sizeof(err)), 0, "%s", err);
	cr_expect(cb_config_same_cluster(&a, &a));
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		at = strstr(cluster, rows[i].from);
		cr_assert(at, "%zu", i);
		snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - cluster), cluster, rows[i].to,
			 at + strlen(rows[i].from));
		cr_assert_eq(cb_config_parse(text, "c.conf", &b, err, sizeof(err)), 0, "%zu: %s", i,
			     err);
		cr_expect_eq(cb_config_same_cluster(&a, &b), rows[i].same, "%zu: %s -> %s", i,
			     rows[i].from, rows[i].to);
	}
}

Test(config, node_errors_name_their_line)
{
	static struct cb_config_file c;
	static const struct { const char *text, *want; } bad[] = {
		{ "[service s]\nlisten = 1.2.3.4:80\n[node a]\nid = 1\ncontrol = 1.2.3.4:9\nservices = s, x\n",
		  "t.conf:3: [node a]: services names unknown service 'x'" },
		{ "[broker]\ncluster = t\npsk_file = /k\n[service s]\nlisten = 1.2.3.4:80\n[node a]\nid = 1\ncontrol = 1.2.3.4:9\n[node b]\nid = 1\ncontrol = 1.2.3.5:9\n",
		  "t.conf:9: [node b]: id 1 is [node a]'s too" },
		{ "[service s]\nlisten = 1.2.3.4:80\n[node a]\nid = 1\ncontrol = 1.2.3.4:9\n[node b]\nid = 2\ncontrol = 1.2.3.5:9\n",
		  "a cluster ([node] sections) needs cluster and psk_file" },
		{ "[service s]\nlisten = 1.2.3.4:80\n[node a]\nid = 1\ncontrol = 1.2.3.4:9\nmac = zz\n",
		  "t.conf:6: mac: 'zz': expected aa:bb:cc:dd:ee:ff or auto" },
		{ "[service s]\nlisten = 1.2.3.4:80\n[node a]\nid = 64\ncontrol = 1.2.3.4:9\n",
		  "t.conf:4: id: '64'" },
		{ "[service s]\nlisten = 1.2.3.4:80\nplacement = nearest\n",
		  "t.conf:3: placement: 'nearest': expected local, spread or affinity" },
		{ "[broker]\nnode = x\n[service s]\nlisten = 1.2.3.4:80\n",
		  "[broker] node = x: no [node x] section" },
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(cb_config_parse(bad[i].text, "t.conf", &c, err, sizeof(err)), -1, "%zu", i);
		cr_expect(strstr(err, bad[i].want), "%zu: got '%s'", i, err);
	}
}

Test(config, route_mode_and_idle)
{
	static struct cb_config_file c;
	char err[256] = "";

	cr_assert_eq(cb_config_parse("[service a]\nlisten = 198.18.0.1:80\nroute = per-request\n"
				     "idle_ms = 5000\n[service b]\nlisten = 198.18.0.1:81\n",
				     "t.conf", &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.services[0].per_request, 1);
	cr_expect_eq(c.services[0].idle_ms, 5000);
	cr_expect_eq(c.services[1].per_request, 0, "per-connection by default");
	cr_expect_eq(c.services[1].idle_ms, 30000, "default idle_ms");
	expect_error("[service a]\nlisten = 198.18.0.1:80\nroute = sometimes\n",
		     "t.conf:3: route: 'sometimes': expected per-connection or per-request");
	expect_error("[service a]\nlisten = 198.18.0.1:80\nidle_ms = 0\n", "t.conf:3: idle_ms:");
}

/* rtt_probe: on unless a service turns it off; how its sockets go live. */
Test(config, rtt_probe_per_service)
{
	static struct cb_config_file c;
	char err[256] = "";

	cr_assert_eq(cb_config_parse("[service a]\nlisten = 198.18.0.1:80\nrtt_probe = no\n"
				     "[service b]\nlisten = 198.18.0.1:81\n",
				     "t.conf", &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.services[0].rtt_probe, 0);
	cr_expect_eq(c.services[1].rtt_probe, 1, "on by default");
	cr_expect_eq(cb_handoff_sock_flags(&c.services[0]), CB_SOCK_QUIET);
	cr_expect_eq(cb_handoff_sock_flags(&c.services[1]), CB_SOCK_RTT_PROBE);
	expect_error("[service a]\nlisten = 198.18.0.1:80\nrtt_probe = off\n",
		     "t.conf:3: rtt_probe: 'off': expected yes or no");
}

/* The app socket's access: owner, group (names or numbers) and mode. */
Test(config, app_socket_access)
{
	struct cb_config_file c;
	char err[256] = "";

	cr_assert_eq(cb_config_parse("[service a]\nlisten = 198.18.0.1:80\n", "t.conf", &c, err,
				     sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.socket_uid, -1, "default: the controller's user");
	cr_expect_eq(c.socket_gid, -1);
	cr_expect_eq(c.socket_mode, 0666u, "default: anyone may connect (admission at accept)");
	cr_assert_eq(cb_config_parse("[broker]\nsocket_owner = root\nsocket_group = 0\nsocket_mode = 0660\n"
				     "[service a]\nlisten = 198.18.0.1:80\n", "t.conf", &c, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_eq(c.socket_uid, 0);
	cr_expect_eq(c.socket_gid, 0);
	cr_expect_eq(c.socket_mode, 0660u);
	expect_error("[broker]\nsocket_mode = 0999\n", "t.conf:2: socket_mode: '0999': expected octal");
	expect_error("[broker]\nsocket_mode = 1777\n", "t.conf:2: socket_mode: '1777': expected octal");
	expect_error("[broker]\nsocket_mode = 0066\n", "t.conf:2: socket_mode: 0066: the owner needs");
	expect_error("[broker]\nsocket_mode =\n", "t.conf:2: socket_mode: '': expected octal");
	expect_error("[broker]\nsocket_owner = no-such-user-here\n",
		     "t.conf:2: socket_owner: no user 'no-such-user-here'");
	expect_error("[broker]\nsocket_group = no-such-group-here\n",
		     "t.conf:2: socket_group: no group 'no-such-group-here'");
}

/* Names are printable ASCII: a control character is refused with its line. */
Test(config, names_are_printable)
{
	expect_error("[service a]\nlisten = 198.18.0.1:80\n[app w\x01x]\n",
		     "t.conf:3: [app ...]: a name is printable ASCII");
	cr_expect(cb_config_name_ok("web-1.x_y"));
	cr_expect(!cb_config_name_ok("we\tb"));
	cr_expect(!cb_config_name_ok("w\x7f"));
}

static void expect_load_error(const char *path, const char *want)
{
	struct cb_config_file c;
	char err[256] = "";

	cr_assert_eq(cb_config_load(path, &c, err, sizeof(err)), -1, "%s loaded", path);
	cr_expect(strstr(err, want), "%s: got '%s', want '%s'", path, err, want);
}

/* Input is bounded: devices and binaries end with a message, at once. */
Test(config, bounded_input)
{
	char path[] = "/tmp/cb-test-conf.XXXXXX";
	int fd = mkstemp(path), i;
	FILE *f = fdopen(fd, "w");

	expect_load_error("/dev/zero", "/dev/zero:1: a NUL byte: not a text file");
	expect_load_error("/dev/urandom", "/dev/urandom:");
	cr_assert(f);
	fputs("[service a]\nlisten = 198.18.0.1:80\n", f);
	for (i = 0; i < (CB_CFG_MAX_BYTES / 32) + 10; i++)
		fputs("; a comment line of 32 bytes...\n", f);
	fclose(f);
	expect_load_error(path, "is larger than 1048576 bytes");
	f = fopen(path, "w");
	fwrite("[service a]\nlisten = 198.18.0.1:80\n[app w]\nuid = 1\0junk\n", 1, 56, f);
	fclose(f);
	expect_load_error(path, ":4: a NUL byte");
	unlink(path);
}

/* A UTF-8 byte order mark before the first section is skipped, as inih does
 * (it hid that section from the parser: its keys were "outside"). */
Test(config, utf8_bom_before_the_first_section)
{
	struct cb_config_file c;
	char err[256] = "";

	cr_assert_eq(cb_config_parse("\xEF\xBB\xBF[app web]\n[service a]\nlisten = 198.18.0.1:80\n",
				     "t.conf", &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.n_apps, 1);
	cr_assert_eq(cb_config_parse("\xEF\xBB\xBF[service a]\nlisten = 198.18.0.1:80\n", "t.conf", &c,
				     err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.n_services, 1);
}

Test(config, decision_log_values)
{
	struct cb_config_file c;
	char err[256];

	cr_assert_eq(cb_config_parse("[broker]\ndecision_log = all\n[service a]\nlisten = 198.18.0.1:80\n",
				     "t.conf", &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.decision_log, CB_DLOG_ALL);
	cr_assert_eq(cb_config_parse("[service a]\nlisten = 198.18.0.1:80\n", "t.conf", &c, err,
				     sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.decision_log, CB_DLOG_RESETS, "resets by default");
	expect_error("[broker]\ndecision_log = loud\n", "t.conf:2: decision_log: 'loud': expected resets, all or off");
}

/* Issue 10 part 6: a configuration as operators expect it. */
Test(config, inline_comments)
{
	static struct cb_config_file c;
	char err[256];

	cr_assert_eq(cb_config_parse("[service a]   ; the shop\n"
				     "listen = 198.18.0.1:80 # IPv4 only for now\n"
				     "queue = 8   ; a few\n"
				     "[rule r]\nservice = a\napp = w\npath_prefix = /a#b\n[app w]\n",
				     "t.conf", &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.services[0].n_listen, 1);
	cr_expect_eq(c.services[0].queue, 8);
	cr_expect_str_eq(c.rules[0].path_prefix, "/a#b", "a # not after a blank is the value's");
}

Test(config, duplicates_are_refused_with_both_lines)
{
	expect_error("[service a]\nlisten = 198.18.0.1:80\nqueue = 4\nlisten = 198.18.0.2:80\n",
		     "t.conf:4: [service a]: 'listen' given twice (first on line 2)");
	expect_error("[service a]\nlisten = 198.18.0.1:80\n\n[service a]\n",
		     "t.conf:4: [service a] defined twice (first on line 1)");
	expect_error("[broker]\ndecide_ms = 100\n[broker]\n",
		     "t.conf:3: [broker] defined twice (first on line 1)");
	expect_error("[app w]\n[app w]\n", "t.conf:2: [app w] defined twice (first on line 1)");
	expect_error("[service a]\nlisten = 198.18.0.1:80\n  queue = 4\n",
		     "t.conf:3: an indented line continues the previous value");
}

Test(config, users_and_groups_by_name)
{
	static struct cb_config_file c;
	char err[256];

	cr_assert_eq(cb_config_parse("[service a]\nlisten = 198.18.0.1:80\n[app w]\nuid = nobody\n"
				     "gid = nogroup\n[app v]\nuid = any\n", "t.conf", &c, err,
				     sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.apps[0].uid, 65534);
	cr_expect_eq(c.apps[0].gid, 65534);
	cr_expect_eq(c.apps[1].uid, -1);
	expect_error("[app w]\nuid = no-such-user-here\n", "t.conf:2: uid: no user 'no-such-user-here'");
}

/* [broker] settings of the attachment (read by attach --config) and
 * no_controller: given, defaulted, refused with their line. */
Test(config, attachment_settings)
{
	static struct cb_config_file c;
	char err[256];

	cr_assert_eq(cb_config_parse("[broker]\n[service a]\nlisten = 198.18.0.1:80\n", "t.conf", &c,
				     err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.no_ctl_ms, CB_NO_CTL_MS_DEFAULT);
	cr_expect_eq(c.att_mode, 0, "not given");
	cr_expect_eq(c.att_rst_rate, -1);
	cr_expect_eq(c.att_wscale, -1);
	cr_expect_eq(c.att_csum_verify, -1);
	cr_expect_eq(c.att_flows, 0, "not given: the build's size");
	cr_assert_eq(cb_config_parse("[broker]\nmode = skb\nmss = 1400\nwscale = 0\nflow_cap = 4096\n"
				     "rst_rate = 0\ncsum_verify = no\nno_controller = hold\nflows = 1100000\n"
				     "[service a]\nlisten = 198.18.0.1:80\n", "t.conf", &c, err,
				     sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.att_mode, CB_MODE_SKB);
	cr_expect_eq(c.att_mss, 1400);
	cr_expect_eq(c.att_wscale, 0, "0 is a value, not 'not given'");
	cr_expect_eq(c.att_flow_cap, 4096);
	cr_expect_eq(c.att_rst_rate, 0);
	cr_expect_eq(c.att_csum_verify, 0);
	cr_expect_eq(c.no_ctl_ms, 0, "hold");
	cr_expect_eq(c.att_flows, 1100000);
	cr_assert_eq(cb_config_parse("[broker]\nno_controller = 1m\n[service a]\nlisten = 198.18.0.1:80\n",
				     "t.conf", &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.no_ctl_ms, 60000);
	expect_error("[broker]\nmode = fast\n", "t.conf:2: mode: 'fast': expected native, skb or tc");
	expect_error("[broker]\ncsum_verify = 1\n", "t.conf:2: csum_verify: '1': expected yes or no");
	expect_error("[broker]\nwscale = 15\n", "t.conf:2: wscale: '15' is not a number in 0..14");
	expect_error("[broker]\nflows = 1000\n", "t.conf:2: flows: '1000' is not a number in 1024..16777216");
	/* workers: a count, or auto (the CPUs online, at most 64) */
	cr_expect_eq(c.att_workers, 0, "not given");
	cr_assert_eq(cb_config_parse("[broker]\nworkers = 3\n[service a]\nlisten = 198.18.0.1:80\n",
				     "t.conf", &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.att_workers, 3);
	cr_assert_eq(cb_config_parse("[broker]\nworkers = auto\n[service a]\nlisten = 198.18.0.1:80\n",
				     "t.conf", &c, err, sizeof(err)), 0, "%s", err);
	{
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		cr_expect_eq(c.att_workers, cpus > CB_MAX_WORKERS ? CB_MAX_WORKERS : (uint32_t)cpus);
	}
	expect_error("[broker]\nworkers = 0\n", "t.conf:2: workers: '0': expected auto or 1..64");
	expect_error("[broker]\nworkers = 65\n", "t.conf:2: workers: '65': expected auto or 1..64");
	expect_error("[broker]\nno_controller = 100ms\n",
		     "t.conf:2: no_controller: '100ms': expected hold or a duration from 800 ms to 1h");
}

Test(config, durations_with_units)
{
	static const struct { const char *v; int ok; uint32_t ms; } rows[] = {
		{ "500", 1, 500 }, { "500ms", 1, 500 }, { "2s", 1, 2000 }, { "5m", 1, 300000 },
		{ "1h", 1, 3600000 }, { "0", 0, 0 }, { "1.5s", 0, 0 }, { "2 s", 0, 0 },
		{ "s", 0, 0 }, { "-1s", 0, 0 }, { "2d", 0, 0 }, { "99999999999", 0, 0 },
	};
	static struct cb_config_file c;
	char err[256];
	uint32_t ms;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = cb_config_parse_ms(rows[i].v, 1, 3600000, &ms);

		cr_expect_eq(rc == 0, rows[i].ok, "'%s'", rows[i].v);
		if (rows[i].ok)
			cr_expect_eq(ms, rows[i].ms, "'%s'", rows[i].v);
	}
	cr_assert_eq(cb_config_parse("[broker]\ndecide_ms = 1s\n[service a]\nlisten = 198.18.0.1:80\n"
				     "wait_ms = 2s\nidle_ms = 5m\n", "t.conf", &c, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_eq(c.decide_ms, 1000);
	cr_expect_eq(c.services[0].wait_ms, 2000);
	cr_expect_eq(c.services[0].idle_ms, 300000);
	expect_error("[broker]\ndecide_ms = 2m\n", "t.conf:2: decide_ms: '2m': expected a duration from 1 to 60000 ms");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

Test(config, include_a_directory)
{
	static struct cb_config_file c;
	char dir[] = "/tmp/cb-conf-XXXXXX", path[256], err[512];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/conf.d", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/conf.d/20-api.conf", dir);
	write_file(path, "[rule api]\nservice = shop\npath_prefix = /api/\napp = api\n[app api]\n");
	snprintf(path, sizeof(path), "%s/conf.d/10-shop.conf", dir);
	write_file(path, "[service shop]\nlisten = 198.18.0.1:80\ndefault = web\n[app web]\n");
	snprintf(path, sizeof(path), "%s/conf.d/README", dir);
	write_file(path, "not a .conf file: not read\n");
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	write_file(path, "[broker]\ndecide_ms = 100\ninclude = conf.d\n");
	cr_assert_eq(cb_config_load(path, &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.n_services, 1);
	cr_expect_eq(c.n_rules, 1);
	cr_expect_eq(c.n_apps, 2);
	cr_expect_str_eq(c.apps[0].name, "web", "files in name order: 10- before 20-");

	/* an error in an included file names that file and its line */
	snprintf(path, sizeof(path), "%s/conf.d/30-bad.conf", dir);
	write_file(path, "[app x]\nuid = 0\ncolour = blue\n");
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	cr_expect_neq(cb_config_load(path, &c, err, sizeof(err)), 0);
	cr_expect(strstr(err, "conf.d/30-bad.conf:3: [app x]: unknown key 'colour'") != NULL, "%s", err);
	/* checks across sections too: a rule's app missing, in its own file */
	snprintf(path, sizeof(path), "%s/conf.d/30-bad.conf", dir);
	write_file(path, "[rule r2]\nservice = shop\npath_prefix = /x/\napp = nope\n");
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	cr_expect_neq(cb_config_load(path, &c, err, sizeof(err)), 0);
	cr_expect(strstr(err, "conf.d/30-bad.conf:1: [rule r2]: unknown app 'nope'") != NULL, "%s", err);
	/* no [broker] and no include in an included file */
	snprintf(path, sizeof(path), "%s/conf.d/30-bad.conf", dir);
	write_file(path, "[broker]\n");
	snprintf(path, sizeof(path), "%s/main.conf", dir);
	cr_expect_neq(cb_config_load(path, &c, err, sizeof(err)), 0);
	cr_expect(strstr(err, "30-bad.conf:1: [broker] belongs in the main file") != NULL, "%s", err);
	/* a missing directory */
	write_file(path, "[broker]\ninclude = nowhere.d\n[service a]\nlisten = 198.18.0.1:80\n");
	cr_expect_neq(cb_config_load(path, &c, err, sizeof(err)), 0);
	cr_expect(strstr(err, "include") && strstr(err, "nowhere.d: No such file"), "%s", err);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		cr_expect_eq(system(cmd), 0);
	}
}
