// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * connbroker exec --app NAME [--port LIST] [--config FILE] [--socket PATH]
 *                 [--interface IFNAME] -- CMD ARGS...
 *
 * Runs an unmodified server with libconnbroker-preload.so (lib/preload.c):
 * its listen() on a captured port registers app NAME with the controller,
 * and its accept() receives the connections connbroker materializes.  The
 * ports are --port, else those of the services of FILE (--config, default
 * /etc/connbroker/connbroker.conf) that route to NAME (their default app or
 * a rule's app).  The socket is --socket, else $CONNBROKER_SOCKET, else the
 * controller's default for --interface or FILE's interface.  Then exec:
 * the server keeps this process's pid.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "cli/cli.h"
#include "ctl/config.h"
#include "datapath/pins.h"
#include "util/log.h"
#include "../../lib/preload.h"

#define DEFAULT_CONFIG "/etc/connbroker/connbroker.conf"
#define PRELOAD_SO "libconnbroker-preload.so"

/* The usage is exec's entry in usage.c, as every command's. */
static int usage(FILE *f)
{
	return cb_cmd_usage(f, "exec");
}

/* The shim: $CONNBROKER_PRELOAD, else beside this binary, else ../lib/connbroker/. */
static int find_preload(char *out, size_t len)
{
	const char *env = getenv("CONNBROKER_PRELOAD");
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (env && env[0]) {
		if (env[0] != '/' || access(env, R_OK))
			return -1;
		snprintf(out, len, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = 0;
	if (!(slash = strrchr(exe, '/')))
		return -1;
	*slash = 0;
	if ((size_t)snprintf(out, len, "%s/%s", exe, PRELOAD_SO) < len && !access(out, R_OK))
		return 0;
	if ((size_t)snprintf(out, len, "%s/../lib/connbroker/%s", exe, PRELOAD_SO) < len &&
	    !access(out, R_OK))
		return 0;
#ifdef CB_PRELOAD_DIR
	/* where make install put it (a multiarch LIBDIR: /usr/lib/x86_64-linux-gnu) */
	if ((size_t)snprintf(out, len, "%s/%s", CB_PRELOAD_DIR, PRELOAD_SO) < len &&
	    !access(out, R_OK))
		return 0;
#endif
	return -1;
}

/* The ports of cfg's services that route to app: into list ("80,8080"). */
static int config_ports(const struct cb_config_file *cfg, int app, char *list, size_t len)
{
	struct cb_pl_ports seen = { 0 };
	size_t used = 0;
	int s, r, k;

	list[0] = 0;
	for (s = 0; s < cfg->n_services; s++) {
		int routes = cfg->services[s].default_app == app;

		for (r = 0; r < cfg->n_rules && !routes; r++)
			routes = cfg->rules[r].service == s && cfg->rules[r].app == app;
		for (k = 0; routes && k < cfg->services[s].n_listen; k++) {
			uint16_t port = ntohs(cfg->services[s].listen[k].port_be);

			if (cb_pl_port_in(&seen, port) || seen.n == CB_PL_MAX_PORTS)
				continue;
			seen.port[seen.n++] = port;
			used += (size_t)snprintf(list + used, len - used, "%s%u", used ? "," : "", port);
			if (used >= len)
				return -1;
		}
	}
	return seen.n ? 0 : -1;
}

int cmd_exec(const struct cb_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "app", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "interface", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *app = NULL, *cfg_path = NULL, *sock = NULL, *ifname = NULL, *old;
	static struct cb_config_file cfg;
	char portlist[256] = "", so[PATH_MAX], sockbuf[108], err[256], *preload;
	struct cb_pl_ports ports;
	int c, have_cfg = 0;
	size_t used = 0;

	(void)cli;
	/* '+': options end at CMD (or at "--") */
	while ((c = getopt_long(argc, argv, "+a:p:c:s:i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': app = optarg; break;
		case 'c': cfg_path = optarg; break;
		case 's': sock = optarg; break;
		case 'i': ifname = optarg; break;
		case 'p':
			if (cb_pl_parse_ports(optarg, &ports)) {
				cb_err("exec: --port %s: not a list of ports (1..65535, comma-separated)", optarg);
				return CB_EXIT_USAGE;
			}
			used += (size_t)snprintf(portlist + used, sizeof(portlist) - used, "%s%s",
						 used ? "," : "", optarg);
			if (used >= sizeof(portlist)) {
				cb_err("exec: too many ports");
				return CB_EXIT_USAGE;
			}
			break;
		case 'h': return usage(stdout);
		default: return usage(stderr);
		}
	}
	if (!app || optind >= argc)
		return usage(stderr);
	if (!cb_config_name_ok(app) || strlen(app) >= CB_CFG_NAME) {
		cb_err("exec: --app '%s': not an app name", app);
		return CB_EXIT_USAGE;
	}
	if (portlist[0] && cb_pl_parse_ports(portlist, &ports)) {
		cb_err("exec: more than %d ports", CB_PL_MAX_PORTS);
		return CB_EXIT_USAGE;
	}
	if (cfg_path || !portlist[0] || (!sock && !getenv("CONNBROKER_SOCKET") && !ifname)) {
		const char *p = cfg_path ? cfg_path : DEFAULT_CONFIG;

		if (cb_config_load(p, &cfg, err, sizeof(err))) {
			if (cfg_path || !portlist[0]) {
				cb_err("exec: %s%s", err,
				       cfg_path ? "" : " (give the ports with --port, or --config FILE)");
				return CB_EXIT_FAIL;
			}
		} else {
			have_cfg = 1;
		}
	}
	if (have_cfg) {
		int ai = cb_config_app(&cfg, app);

		if (ai < 0 && (cfg_path || !portlist[0])) {
			cb_err("exec: the configuration has no [app %s]", app);
			return CB_EXIT_FAIL;
		}
		if (ai < 0)
			have_cfg = 0;   /* the default file, for another app: not ours */
	}
	if (have_cfg) {
		int ai = cb_config_app(&cfg, app);

		if (!portlist[0] && config_ports(&cfg, ai, portlist, sizeof(portlist))) {
			cb_err("exec: no service of the configuration routes to app %s: give --port", app);
			return CB_EXIT_FAIL;
		}
		if (!ifname && cfg.interface[0])
			ifname = cfg.interface;
	}
	if (!sock)
		sock = getenv("CONNBROKER_SOCKET");
	if (!sock && ifname) {
		if (cb_run_path(sockbuf, sizeof(sockbuf), ifname, "sock")) {
			cb_err("exec: no socket path for interface %s", ifname);
			return CB_EXIT_FAIL;
		}
		sock = sockbuf;
	}
	if (find_preload(so, sizeof(so))) {
		cb_err("exec: %s not found ($CONNBROKER_PRELOAD, beside the connbroker binary, "
		       "../lib/connbroker/, or the install's library directory)", PRELOAD_SO);
		return CB_EXIT_FAIL;
	}
	old = getenv("LD_PRELOAD");
	if (asprintf(&preload, "%s%s%s", so, old && old[0] ? ":" : "", old ? old : "") < 0)
		return CB_EXIT_FAIL;
	if (setenv("LD_PRELOAD", preload, 1) || setenv("CONNBROKER_APP", app, 1) ||
	    setenv("CONNBROKER_PORTS", portlist, 1) || (sock && setenv("CONNBROKER_SOCKET", sock, 1)) ||
	    (ifname && setenv("CONNBROKER_IFACE", ifname, 1))) {
		cb_err("exec: setenv: %s", strerror(errno));
		return CB_EXIT_FAIL;
	}
	cb_info("exec: %s as app %s, ports %s, socket %s", argv[optind], app, portlist,
		sock ? sock : "(libconnbroker's default)");
	execvp(argv[optind], argv + optind);
	cb_err("exec: %s: %s", argv[optind], strerror(errno));
	return CB_EXIT_FAIL;
}
