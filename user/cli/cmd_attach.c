// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* connbroker attach | detach | secret rotate */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "ctl/config.h"
#include "datapath/attach.h"
#include "util/log.h"
#include "util/parse_util.h"
#include "datapath/pins.h"

/* What attach's command line gave (the file's [broker] settings fill the rest). */
struct given {
	int mode, mss, wscale, cap, rst, csum, no_ctl, flows, workers;
};

/* The file's [broker] attachment settings, where the command line gave none. */
static void settings_of_config(const struct cb_config_file *c, const struct given *g,
			       struct cb_attach_opts *o, int *mss_set, int *wscale_set)
{
	if (!g->mode && c->att_mode)
		o->mode = c->att_mode;
	if (!g->mss && c->att_mss) {
		o->cfg.mss = (uint16_t)c->att_mss;
		*mss_set = 1;
	}
	if (!g->wscale && c->att_wscale >= 0) {
		o->cfg.wscale = (uint8_t)c->att_wscale;
		*wscale_set = 1;
	}
	if (!g->cap && c->att_flow_cap)
		o->cfg.flow_byte_cap = c->att_flow_cap;
	if (!g->rst && c->att_rst_rate >= 0)
		o->cfg.rst_rate = (uint32_t)c->att_rst_rate;
	if (!g->csum && c->att_csum_verify == 0)
		o->cfg.flags &= (uint8_t)~CB_CFG_VERIFY_CSUM;
	if (!g->no_ctl)
		o->cfg.no_ctl_ms = c->no_ctl_ms;
	if (!g->flows && c->att_flows)
		o->max_flows = c->att_flows;
	if (!g->workers && c->att_workers)
		o->cfg.workers = c->att_workers;
}

/*
 * --config FILE: the services are every address the configuration's
 * [service] sections listen on (with any --service given too), so the
 * controller's file is the one place they are declared (a systemd unit
 * attaches with the file its controller runs with), and so are the
 * attachment's settings ([broker] mode, mss, ...: settings_of_config).
 */
static int services_of_config(const char *path, struct cb_service_key *svcs, size_t *n,
			      const struct given *g, struct cb_attach_opts *o, int *mss_set,
			      int *wscale_set)
{
	struct cb_config_file *c = malloc(sizeof(*c));  /* large: not on the stack */
	char err[512];
	int i, l;
	size_t k;

	if (!c || cb_config_load(path, c, err, sizeof(err))) {
		cb_err("attach: %s", c ? err : "out of memory");
		free(c);
		return -1;
	}
	for (i = 0; i < c->n_services; i++)
		for (l = 0; l < c->services[i].n_listen; l++) {
			for (k = 0; k < *n; k++)
				if (!memcmp(&svcs[k], &c->services[i].listen[l], sizeof(svcs[k])))
					break;
			if (k < *n)
				continue;
			if (*n == CB_MAX_SERVICES) {
				cb_err("attach: %s: more than %d service addresses", path, CB_MAX_SERVICES);
				free(c);
				return -1;
			}
			svcs[(*n)++] = c->services[i].listen[l];
		}
	settings_of_config(c, g, o, mss_set, wscale_set);
	free(c);
	return 0;
}

int cmd_attach(const struct cb_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "service", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "mss", required_argument, NULL, 'M' },
		{ "wscale", required_argument, NULL, 'w' },
		{ "flow-cap", required_argument, NULL, 'c' },
		{ "rst-rate", required_argument, NULL, 'r' },
		{ "no-csum-verify", no_argument, NULL, 'C' },
		{ "config", required_argument, NULL, 'F' },
		{ "no-controller", required_argument, NULL, 'N' },
		{ "replace", no_argument, NULL, 'R' },
		{ "flows", required_argument, NULL, 'f' },
		{ "workers", required_argument, NULL, 'W' },
		{ 0 },
	};
	const char *cfg_path = NULL;
	struct cb_service_key svcs[CB_MAX_SERVICES];
	struct cb_attach_opts o = { .mode = CB_MODE_NATIVE, .services = svcs };
	struct cb_config kernel;
	int c, mss_set = 0, wscale_set = 0;
	struct given g = { 0 };
	uint32_t v;
	size_t i;

	cb_config_defaults(&o.cfg);
	while ((c = getopt_long(argc, argv, "s:m:", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (o.n_services == CB_MAX_SERVICES) {
				cb_err("attach: at most %d services", CB_MAX_SERVICES);
				return CB_EXIT_USAGE;
			}
			if (cb_parse_service(optarg, &svcs[o.n_services])) {
				cb_err("attach: bad service '%s': expected IPv4:PORT or [IPv6]:PORT, e.g. 198.18.0.10:80 or [2001:db8::10]:80",
				       optarg);
				return CB_EXIT_USAGE;
			}
			for (i = 0; i < o.n_services; i++)
				if (!memcmp(&svcs[i], &svcs[o.n_services], sizeof(svcs[i])))
					break;
			if (i == o.n_services)
				o.n_services++;     /* a repeated service is not an error */
			break;
		case 'F':
			cfg_path = optarg;
			break;
		case 'm':
			if (cb_parse_mode(optarg, &o.mode)) {
				cb_err("attach: unknown mode '%s': use native, skb or tc", optarg);
				return CB_EXIT_USAGE;
			}
			g.mode = 1;
			break;
		case 'M':
			if (cb_parse_u32(optarg, 536, 9000, &v)) {
				cb_err("attach: --mss '%s': expected 536..9000", optarg);
				return CB_EXIT_USAGE;
			}
			o.cfg.mss = (uint16_t)v;
			mss_set = g.mss = 1;
			break;
		case 'w':
			if (cb_parse_u32(optarg, 0, 14, &v)) {
				cb_err("attach: --wscale '%s': expected 0..14", optarg);
				return CB_EXIT_USAGE;
			}
			o.cfg.wscale = (uint8_t)v;
			wscale_set = g.wscale = 1;
			break;
		case 'r':
			if (cb_parse_u32(optarg, 0, 1000000, &v)) {
				cb_err("attach: --rst-rate '%s': expected 0..1000000", optarg);
				return CB_EXIT_USAGE;
			}
			o.cfg.rst_rate = v;
			g.rst = 1;
			break;
		case 'c':
			if (cb_parse_u32(optarg, 1460, CB_STASH_BYTES, &v)) {
				cb_err("attach: --flow-cap '%s': expected 1460..%u", optarg, CB_STASH_BYTES);
				return CB_EXIT_USAGE;
			}
			o.cfg.flow_byte_cap = v;
			g.cap = 1;
			break;
		case 'C':
			o.cfg.flags &= (uint8_t)~CB_CFG_VERIFY_CSUM;
			g.csum = 1;
			break;
		case 'R':
			o.replace = 1;
			break;
		case 'f':
			if (cb_parse_u32(optarg, CB_FLOWS_MIN, CB_FLOWS_MAX, &v)) {
				cb_err("attach: --flows '%s': expected %u..%u", optarg, CB_FLOWS_MIN,
				       CB_FLOWS_MAX);
				return CB_EXIT_USAGE;
			}
			o.max_flows = v;
			g.flows = 1;
			break;
		case 'W':
			if (cb_config_parse_workers(optarg, &v)) {
				cb_err("attach: --workers '%s': expected auto or 1..%d", optarg,
				       CB_MAX_WORKERS);
				return CB_EXIT_USAGE;
			}
			o.cfg.workers = v;
			g.workers = 1;
			break;
		case 'N':
			if (!strcmp(optarg, "hold")) {
				v = 0;
			} else if (cb_config_parse_ms(optarg, 4 * CB_CTL_BEAT_MS, 3600000, &v)) {
				cb_err("attach: --no-controller '%s': expected hold or a duration "
				       "from %u ms to 1h: 800ms, 2s, 1m", optarg, 4 * CB_CTL_BEAT_MS);
				return CB_EXIT_USAGE;
			}
			o.cfg.no_ctl_ms = v;
			g.no_ctl = 1;
			break;
		default:        /* getopt said why */
			return cb_cmd_usage(stderr, cli->cmd);
		}
	}
	if (optind != argc - 1)
		return cb_usage_error(cli->cmd, "attach: expected exactly one interface name, got %d",
				      argc - optind);
	o.ifname = argv[optind];
	if (strlen(o.ifname) >= 16) {
		cb_err("attach %s: interface name too long", o.ifname);
		return CB_EXIT_USAGE;
	}
	if (cfg_path && services_of_config(cfg_path, svcs, &o.n_services, &g, &o, &mss_set,
					   &wscale_set))
		return CB_EXIT_FAIL;
	/* unless told otherwise, offer what the kernel itself would offer */
	kernel = o.cfg;
	cb_config_like_kernel(&kernel, o.ifname);
	if (!mss_set)
		o.cfg.mss = kernel.mss;
	if (!wscale_set)
		o.cfg.wscale = kernel.wscale;
	if (o.n_services == 0)
		return cb_usage_error(cli->cmd, "attach %s: at least one --service VIP:PORT (or "
				      "--config FILE) is required", o.ifname);
	if (cb_require_root("attach"))
		return CB_EXIT_FAIL;
	if (cb_attach(&o))
		return CB_EXIT_FAIL;
	if (o.mode == CB_MODE_SKB)
		cb_info("%s: note: generic XDP does not see packets that tc redirects or mirrors into "
			"this interface (container networks, act_mirred, bpf_redirect); where that "
			"happens use --mode tc", o.ifname);
	if (!cli->json)
		cb_debug("%s: attached in mode %s with %zu service(s)", o.ifname,
			 cb_mode_name(o.mode), o.n_services);
	return CB_EXIT_OK;
}

/* This network namespace's attachment only: pins are per namespace. */
int cmd_detach(const struct cb_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { "force", no_argument, NULL, 'f' }, { 0 } };
	const char *ifname;
	int was, force = 0, c, n;

	while ((c = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (c != 'f')
			return cb_cmd_usage(stderr, cli->cmd);
		force = 1;
	}
	if (optind != argc - 1)
		return cb_usage_error(cli->cmd, "detach: expected exactly one interface name, got %d",
				      argc - optind);
	ifname = argv[optind];
	if (cb_require_root("detach") || cb_bpffs_ensure())
		return CB_EXIT_FAIL;
	if (cb_detach(ifname, &was))
		return CB_EXIT_FAIL;
	n = force ? cb_detach_orphans(ifname) : 0;
	if (n < 0) {
		cb_err("detach %s --force: %s", ifname, strerror(-n));
		return CB_EXIT_FAIL;
	}
	if (!was && !n)
		cb_info("%s: not attached in this network namespace; nothing to do%s", ifname,
			force ? "" : " (--force also looks for orphaned programs)");
	return CB_EXIT_OK;
}

int cmd_secret(const struct cb_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { 0 } };
	int fd, err;

	if (getopt_long(argc, argv, "", opts, NULL) != -1)
		return cb_cmd_usage(stderr, cli->cmd);
	argc -= optind - 1;
	argv += optind - 1;
	if (argc < 2)
		return cb_usage_error(cli->cmd, "secret: expected 'rotate IFNAME'");
	if (strcmp(argv[1], "rotate"))
		return cb_usage_error(cli->cmd, "secret: unknown subcommand '%s'", argv[1]);
	if (argc != 3)
		return cb_usage_error(cli->cmd, "secret rotate: expected exactly one interface name");
	if (cb_require_root("secret rotate"))
		return CB_EXIT_FAIL;
	fd = cb_pin_open_map(argv[2], "cb_secrets");
	if (fd < 0) {
		cb_err("secret rotate %s: not attached (%s)", argv[2], strerror(-fd));
		return CB_EXIT_FAIL;
	}
	err = cb_secret_rotate(fd);
	close(fd);
	if (err) {
		cb_err("secret rotate %s: %s", argv[2], strerror(-err));
		return CB_EXIT_FAIL;
	}
	return CB_EXIT_OK;
}
