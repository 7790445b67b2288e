// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Commands to the running controller (connbroker drain, connbroker
 * migrate), arriving on the apps' socket as "CTL <command>" from root or
 * the controller's own user (ctl/apps.c checks).  Every reply is one JSON
 * object: what was done, or {"error": "..."} saying what failed.
 *
 *   drain NODE on|off        NODE stops (starts again) taking connections
 *   drain-state NODE         what NODE still serves
 *   migrate IP:PORT TARGET   the client's connection goes to TARGET: APP,
 *                            APP@NODE or @NODE (its own app, on NODE)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include "ctl/cluster.h"
#include "ctl/command.h"
#include "ctl/ctl.h"
#include "util/parse_util.h"

static void reply_err(char *reply, size_t cap, const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	snprintf(reply, cap, "{\"error\":\"%s\"}", msg);
}

static int node_of(const struct ctl *c, const char *name, char *reply, size_t cap)
{
	int n;

	if (!c->cluster) {
		reply_err(reply, cap, "%s: this controller runs no cluster ([node] sections)", name);
		return -1;
	}
	if ((n = cb_cluster_node(c->cluster, name)) < 0)
		reply_err(reply, cap, "no node '%s' in the configuration", name);
	return n;
}

static void drain(struct ctl *c, const char *name, const char *onoff, char *reply, size_t cap)
{
	int n = node_of(c, name, reply, cap), on = !strcmp(onoff, "on"), err;

	if (n < 0)
		return;
	if (!on && strcmp(onoff, "off")) {
		reply_err(reply, cap, "drain %s: expected on or off", name);
		return;
	}
	if ((err = cb_cluster_drain(c->cluster, n, on))) {
		snprintf(reply, cap, "{\"error\":\"drain %s: %s (is its channel up?)\"}", name,
			 strerror(-err));
		return;
	}
	snprintf(reply, cap, "{\"node\":\"%s\",\"draining\":%s}", name, on ? "true" : "false");
}

static void drain_state(struct ctl *c, const char *name, char *reply, size_t cap)
{
	struct cb_drain_state ds;
	int n = node_of(c, name, reply, cap);

	if (n < 0)
		return;
	cb_cluster_drain_state(c->cluster, n, &ds);
	if (ds.self)
		snprintf(reply, cap, "{\"node\":\"%s\",\"draining\":%s,\"connections\":%u,"
			 "\"moving\":%u,\"released_held\":%u,\"pending\":%u}", name,
			 ds.draining ? "true" : "false", ds.connections, ds.moving,
			 cb_released_held(&c->rel), cb_ctl_pending(c));
	else
		snprintf(reply, cap, "{\"node\":\"%s\",\"draining\":%s,\"up\":%s,\"connections\":%u}",
			 name, ds.draining ? "true" : "false", ds.up ? "true" : "false",
			 ds.connections);
}

static void migrate(struct ctl *c, const char *client, const char *target, char *reply,
		    size_t cap)
{
	char app[CB_CFG_NAME] = "", ask[256], *at;
	struct cb_service_key ck;
	int to_app = -1, node = -1, r;

	if (cb_parse_service(client, &ck)) {
		reply_err(reply, cap, "%s: expected the client as IPv4:PORT or [IPv6]:PORT", client);
		return;
	}
	snprintf(app, sizeof(app), "%s", target);
	if ((at = strchr(app, '@'))) {
		*at++ = 0;
		if ((node = node_of(c, at, reply, cap)) < 0)
			return;
	}
	if (app[0] && (to_app = cb_config_app(c->cfg, app)) < 0) {
		reply_err(reply, cap, "no app '%s' in the configuration", app);
		return;
	}
	if (to_app < 0 && node < 0) {
		reply_err(reply, cap, "%s: expected APP, APP@NODE or @NODE", target);
		return;
	}
	r = cb_released_direct(&c->rel, &ck.vip, ck.port_be, to_app, node);
	if (r < 0) {
		reply_err(reply, cap, "%s: too many migrations waiting for their apps", client);
		return;
	}
	if (r == 1) {
		snprintf(reply, cap, "{\"flow\":\"%s\",\"target\":\"%s\",\"result\":\"moving\"}", client,
			 target);
		return;
	}
	/* held by an app: ask it to give the connection back between two requests */
	snprintf(ask, sizeof(ask), "ASK client=%s to=%s%s", client, app[0] ? app : "",
		 node >= 0 ? strchr(target, '@') : "");
	r = cb_apps_ask(&c->apps, &ck.vip, ck.port_be, ask);
	if (r != 1) {
		snprintf(reply, cap, "{\"flow\":\"%s\",\"target\":\"%s\",\"result\":\"noted\","
			 "\"why\":\"no app here is known to hold it; it moves if an app gives it "
			 "back within %d s\"}", client, target, CB_DIRECTIVE_MS / 1000);
		return;
	}
	snprintf(reply, cap, "{\"flow\":\"%s\",\"target\":\"%s\",\"result\":\"asked\",\"apps_asked\":1}",
		 client, target);
}

void cb_ctl_command(void *arg, const char *cmd, char *reply, size_t cap)
{
	struct ctl *c = arg;
	char verb[32] = "", a1[128] = "", a2[128] = "", extra[8] = "";
	int n = sscanf(cmd, "%31s %127s %127s %7s", verb, a1, a2, extra);

	if (n == 3 && !strcmp(verb, "drain"))
		drain(c, a1, a2, reply, cap);
	else if (n == 2 && !strcmp(verb, "drain-state"))
		drain_state(c, a1, reply, cap);
	else if (n == 3 && !strcmp(verb, "migrate"))
		migrate(c, a1, a2, reply, cap);
	else
		reply_err(reply, cap, "unknown command '%s' (drain, drain-state, migrate)", verb);
}
