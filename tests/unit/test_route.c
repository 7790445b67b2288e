// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* From first bytes to {service, rule, app} (user/ctl/route.c), and the
 * configuration diff a reload logs (user/ctl/config.c). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ctl/route.h"
#include "t_addr.h"

static const char *conf =
	"[broker]\ndecide_bytes = 64\n"
	"[service shop]\nlisten = 198.18.0.100:80\ndefault = web\n"
	"[rule api]\nservice = shop\npath_prefix = /api/\napp = api\n"
	"[app web]\n[app api]\n";

static struct cb_config_file *load(const char *text)
{
	struct cb_config_file *c = malloc(sizeof(*c));
	char err[256];

	cr_assert_not_null(c);
	cr_assert_eq(cb_config_parse(text, "t.conf", c, err, sizeof(err)), 0, "%s", err);
	return c;
}

static struct cb_flow_key K;

static void key_init(void)
{
	K = t_key(a4(0xc6120001), a4(0xc6120064), 40000, 80);
}

Test(route, by_path_then_default, .init = key_init)
{
	struct cb_config_file *c = load(conf);
	struct cb_decision d;
	const char *a = "GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n", *b = "GET / HTTP/1.1\r\n\r\n";

	cr_expect_eq(cb_route_decide(c, &K, (const uint8_t *)a, strlen(a), 0, &d), 0);
	cr_expect_eq(d.service, 0);
	cr_expect_eq(d.rule, 0);
	cr_expect_eq(d.app, cb_config_app(c, "api"));
	cr_expect_eq(cb_route_decide(c, &K, (const uint8_t *)b, strlen(b), 0, &d), 0);
	cr_expect_eq(d.rule, -1);
	cr_expect_eq(d.app, cb_config_app(c, "web"));
	free(c);
}

Test(route, waits_for_more_until_bound_or_forced, .init = key_init)
{
	struct cb_config_file *c = load(conf);
	struct cb_decision d;
	const char *part = "GET /api/x HTTP/1.1\r\nHo";

	cr_expect_eq(cb_route_decide(c, &K, (const uint8_t *)part, strlen(part), 0, &d), -EAGAIN);
	cr_expect_eq(cb_route_decide(c, &K, NULL, 0, 0, &d), -EAGAIN, "no bytes yet");
	cr_expect_eq(cb_route_decide(c, &K, (const uint8_t *)part, strlen(part), 1, &d), 0,
		     "forced at decide_ms");
	cr_expect_eq(d.rule, -1, "an incomplete head matches no rule: the default");
	free(c);
}

/* A dual-stack service: an IPv6 flow to its IPv6 address is routed by the
 * same rules; the IPv6 address's last word equal to the IPv4 VIP is not it. */
Test(route, ipv6_flow_to_a_dual_stack_service)
{
	static const char *dual =
		"[service shop]\nlisten = 198.18.0.100:80, [2001:db8::100]:80\ndefault = web\n"
		"[service v6only]\nlisten = [2001:db8::200]:80\ndefault = api\n"
		"[rule api]\nservice = shop\npath_prefix = /api/\napp = api\n"
		"[app web]\n[app api]\n";
	struct cb_config_file *c = load(dual);
	struct cb_flow_key k = t_key(a6("2001:db8::1"), a6("2001:db8::100"), 40000, 80);
	struct cb_decision d;
	const char *a = "GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n";

	cr_expect_eq(cb_route_decide(c, &k, (const uint8_t *)a, strlen(a), 0, &d), 0);
	cr_expect_eq(d.service, 0);
	cr_expect_eq(d.rule, 0);
	cr_expect_eq(d.app, cb_config_app(c, "api"));
	k.daddr = a6("2001:db8::200");
	cr_expect_eq(cb_route_decide(c, &k, (const uint8_t *)a, strlen(a), 0, &d), 0);
	cr_expect_eq(d.service, 1);
	cr_expect_eq(d.app, cb_config_app(c, "api"), "v6only's default");
	k.daddr = a6("::c612:64");
	cr_expect_eq(cb_route_decide(c, &k, (const uint8_t *)a, strlen(a), 1, &d), -ENOENT);
	k.daddr = a4(0xc6120064);
	cr_expect_eq(cb_route_decide(c, &k, (const uint8_t *)a, strlen(a), 0, &d), 0);
	cr_expect_eq(d.service, 0, "the IPv4 address of the same service");
	free(c);
}

Test(route, no_service_on_that_address, .init = key_init)
{
	struct cb_config_file *c = load(conf);
	struct cb_decision d;

	K.dport_be = htons(81);
	cr_expect_eq(cb_route_decide(c, &K, (const uint8_t *)"x", 1, 1, &d), -ENOENT);
	free(c);
}

struct said {
	char lines[16][512];
	int n;
};

static void say(void *arg, const char *line)
{
	struct said *s = arg;

	if (s->n < 16)
		snprintf(s->lines[s->n++], 512, "%s", line);
}

Test(config_diff, names_what_changed)
{
	struct cb_config_file *a = load(conf), *b;
	struct said s = { .n = 0 };

	b = load("[broker]\ndecide_bytes = 64\ndecide_ms = 200\n"
		 "[service shop]\nlisten = 198.18.0.100:80\ndefault = api\n"
		 "[rule static]\nservice = shop\npath_prefix = /static/\napp = web\n"
		 "[app web]\n[app api]\ncommand = /bin/api\n[app new]\n");
	cr_expect_eq(cb_config_diff(a, b, say, &s), 6);
	cr_expect_str_eq(s.lines[0], "broker settings: changed: decide_ms '500' -> '200'");
	cr_expect_str_eq(s.lines[1], "service shop: changed: default 'web' -> 'api'");
	cr_expect_str_eq(s.lines[2], "rule api: removed");
	cr_expect_str_eq(s.lines[3], "rule static: added");
	cr_expect_str_eq(s.lines[4], "app api: changed: command '' -> '/bin/api'");
	cr_expect_str_eq(s.lines[5], "app new: added");
	s.n = 0;
	cr_expect_eq(cb_config_diff(a, a, say, &s), 0, "no change, nothing said");
	free(a);
	free(b);
}

Test(config_diff, rule_order)
{
	struct cb_config_file *a, *b;
	struct said s = { .n = 0 };

	a = load("[service s]\nlisten = 198.18.0.1:80\n[rule r1]\nservice = s\nprefix = a\napp = x\n"
		 "[rule r2]\nservice = s\nprefix = b\napp = x\n[app x]\n");
	b = load("[service s]\nlisten = 198.18.0.1:80\n[rule r2]\nservice = s\nprefix = b\napp = x\n"
		 "[rule r1]\nservice = s\nprefix = a\napp = x\n[app x]\n");
	cr_expect_eq(cb_config_diff(a, b, say, &s), 1);
	cr_expect(strstr(s.lines[0], "order changed"), "%s", s.lines[0]);
	free(a);
	free(b);
}
