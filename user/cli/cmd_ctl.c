// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * connbroker drain NODE [--off] [--wait SECONDS]
 * connbroker migrate CLIENT_IP:PORT APP|APP@NODE|@NODE
 * Both talk to the running controller of this node (its apps' socket,
 * "CTL ..." messages: ctl/command.c) and print its JSON answer (-j) or a
 * line of text.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <connbroker/paths.h>
#include "cli/cli.h"
#include "datapath/pins.h"
#include "util/log.h"

struct ctl_target {
	const char *sock;
	const char *ifname;
	char buf[256];
};

/* One command, one answer: 0 (answer in reply) or -errno. */
static int ask(struct ctl_target *t, const char *cmd, char *reply, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char msg[512];
	ssize_t n;
	int fd, err;

	if (!t->sock) {
		if ((err = cb_run_path(t->buf, sizeof(t->buf), t->ifname ? t->ifname : "eth0", "sock")))
			return err;
		t->sock = t->buf;
	}
	if (strlen(t->sock) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, t->sock);
	snprintf(msg, sizeof(msg), "CTL %s", cmd);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || send(fd, msg, strlen(msg), 0) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	n = recv(fd, reply, cap - 1, 0);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (n <= 0)
		return err ? err : -ECONNRESET;
	reply[n] = 0;
	return 0;
}

/* A number field of a flat JSON answer, or -1. */
static long field(const char *json, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = strstr(json, k);
	return p ? strtol(p + strlen(k), NULL, 10) : -1;
}

/* The controller's answer: printed as it is (-j); an error in it fails the command. */
static int answer(const struct cb_cli *cli, const char *what, const char *reply)
{
	const char *e = strstr(reply, "\"error\":\"");
	char msg[512];

	if (!e) {
		if (cli->json)
			printf("%s\n", reply);
		return CB_EXIT_OK;
	}
	snprintf(msg, sizeof(msg), "%s: %.*s", what, (int)strcspn(e + 9, "\""), e + 9);
	cb_err("%s", msg);
	if (cli->json)  /* one error object, the controller's answer in it */
		cb_json_error(stdout, cli->cmd, msg, "reply", reply);
	return CB_EXIT_FAIL;
}

static int talk_failed(struct ctl_target *t, int err)
{
	cb_err("cannot reach the controller at %s: %s (is `connbroker run` running? give "
	       "--interface IF or --socket PATH)", t->sock ? t->sock : "?", strerror(-err));
	return CB_EXIT_FAIL;
}

/*
 * The options of drain and migrate: the index of the first argument, or
 * -CB_EXIT_USAGE after the usage was printed.
 */
static int parse_target(const struct cb_cli *cli, int argc, char **argv, const char *shortopts,
			struct ctl_target *t, int *off, double *wait)
{
	static const struct option base[] = { { "socket", 1, NULL, 's' }, { "interface", 1, NULL, 'i' },
					      { "off", 0, NULL, 'o' }, { "wait", 1, NULL, 'w' },
					      { 0 } };
	char *end;
	int o;

	optind = 1;
	while ((o = getopt_long(argc, argv, shortopts, base, NULL)) != -1) {
		if (o == 's') {
			t->sock = optarg;
		} else if (o == 'i') {
			t->ifname = optarg;
		} else if (o == 'o' && off) {
			*off = 1;
		} else if (o == 'w' && wait) {
			*wait = strtod(optarg, &end);
			if (end == optarg || *end || !(*wait > 0 && *wait <= 86400)) {
				cb_usage_error(cli->cmd, "%s: --wait '%s': expected seconds, 0 < S <= 86400",
					       cli->cmd, optarg);
				return -CB_EXIT_USAGE;
			}
		} else {
			if (o != '?')   /* a long option of the other command */
				cb_err("%s: unrecognized option '--%s'", cli->cmd, o == 'o' ? "off" : "wait");
			cb_cmd_usage(stderr, cli->cmd);
			return -CB_EXIT_USAGE;
		}
	}
	if (!t->ifname)
		t->ifname = getenv("CONNBROKER_IFACE");
	return optind;
}

int cmd_drain(const struct cb_cli *cli, int argc, char **argv)
{
	struct ctl_target t = { 0 };
	char cmd[256], reply[4096];
	double wait = 0;
	struct timespec ts;
	int off = 0, i = parse_target(cli, argc, argv, "s:i:ow:", &t, &off, &wait), err, rc;
	double until;

	if (i < 0)
		return -i;
	if (argc - i != 1)
		return cb_usage_error(cli->cmd, "drain: expected exactly one NODE, got %d", argc - i);
	snprintf(cmd, sizeof(cmd), "drain %s %s", argv[i], off ? "off" : "on");
	if ((err = ask(&t, cmd, reply, sizeof(reply))))
		return talk_failed(&t, err);
	/* with --wait, JSON gives the final state only */
	struct cb_cli quiet = { .json = cli->json && !(wait > 0 && !off), .cmd = cli->cmd };

	if ((rc = answer(&quiet, "drain", reply)) || off || wait <= 0) {
		if (!rc && !cli->json)
			printf("%s: %s\n", argv[i], off ? "takes connections again" : "draining");
		return rc;
	}
	/* until nothing is served there, or the time is up */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	until = (double)ts.tv_sec + ts.tv_nsec / 1e9 + wait;
	snprintf(cmd, sizeof(cmd), "drain-state %s", argv[i]);
	for (;;) {
		if ((err = ask(&t, cmd, reply, sizeof(reply))))
			return talk_failed(&t, err);
		if (strstr(reply, "\"error\""))
			return answer(cli, "drain", reply);
		if (field(reply, "connections") == 0 && field(reply, "moving") <= 0 &&
		    field(reply, "released_held") <= 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((double)ts.tv_sec + ts.tv_nsec / 1e9 > until) {
			char msg[256];

			snprintf(msg, sizeof(msg), "drain %s: still %ld connections after %.1f s "
				 "(those its apps hold move when released)", argv[i],
				 field(reply, "connections"), wait);
			cb_err("%s", msg);
			if (cli->json)
				cb_json_error(stdout, cli->cmd, msg, "state", reply);
			return CB_EXIT_FAIL;
		}
		usleep(200000);
	}
	if (cli->json)
		printf("%s\n", reply);
	else
		printf("%s: drained (no connections)\n", argv[i]);
	return CB_EXIT_OK;
}

int cmd_migrate(const struct cb_cli *cli, int argc, char **argv)
{
	struct ctl_target t = { 0 };
	char cmd[512], reply[4096];
	int i = parse_target(cli, argc, argv, "s:i:", &t, NULL, NULL), err, rc;

	if (i < 0)
		return -i;
	if (argc - i != 2)
		return cb_usage_error(cli->cmd, "migrate: expected CLIENT_IP:PORT and a destination, "
				      "got %d arguments", argc - i);
	snprintf(cmd, sizeof(cmd), "migrate %s %s", argv[i], argv[i + 1]);
	if ((err = ask(&t, cmd, reply, sizeof(reply))))
		return talk_failed(&t, err);
	rc = answer(cli, "migrate", reply);
	if (!rc && !cli->json)
		printf("%s -> %s: %s\n", argv[i], argv[i + 1],
		       strstr(reply, "\"moving\"") ? "moving"
		       : strstr(reply, "\"asked\"") ? "asked its app to give it back"
						   : "noted: no app here is known to hold it; it moves "
						     "if its app gives it back within a minute");
	return rc;
}
