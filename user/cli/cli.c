// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* What the commands share: global options, usages, JSON errors, the controller's lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "cli/cli.h"
#include "cli/usage.h"
#include "datapath/pins.h"
#include "util/json.h"
#include "util/log.h"

int cb_require_root(const char *what)
{
	if (geteuid() == 0)
		return 0;
	cb_err("%s: must run as root (needs CAP_BPF and CAP_NET_ADMIN)", what);
	return -EPERM;
}

int cb_cli_split(int argc, char **argv, int stop_at_arg, struct cb_cli *cli, int *verbose,
		 int *help, char **out)
{
	int i, n = 0, rest = 0;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (i && !rest) {
			if (!strcmp(a, "--") || (stop_at_arg && a[0] != '-')) {
				rest = 1;
			} else if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
				cli->json = 1;
				continue;
			} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
				++*verbose;
				continue;
			} else if (!strcmp(a, "-vv")) {
				*verbose += 2;
				continue;
			} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
				*help = 1;
				continue;
			}
		}
		out[n++] = argv[i];
	}
	out[n] = NULL;
	return n;
}

int cb_cmd_usage(FILE *f, const char *name)
{
	const struct cb_cmd_doc *d = cb_cmd_doc(name);

	if (d)
		cb_usage_print(f, d);
	else
		fprintf(f, "Usage: connbroker %s ... (connbroker help)\n", name);
	return f == stdout ? CB_EXIT_OK : CB_EXIT_USAGE;
}

int cb_usage_error(const char *name, const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		char msg[512];

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		cb_err("%s", msg);
	}
	return cb_cmd_usage(stderr, name);
}

int cb_json_error_printed;

void cb_json_error(FILE *f, const char *cmd, const char *msg, const char *key, const char *raw)
{
	fputs("{\"error\":", f);
	cb_json_str(f, msg && *msg ? msg : "failed");
	fputs(",\"command\":", f);
	if (cmd)
		cb_json_str(f, cmd);
	else
		fputs("null", f);
	if (key && raw) {
		fputs(",", f);
		cb_json_str(f, key);
		fprintf(f, ":%s", raw);
	}
	fputs("}\n", f);
	fflush(f);
	cb_json_error_printed = 1;
}

/* ---- the stderr tap (-j) ------------------------------------------------ */

static const char *message_of(const char *line)
{
	static const char p[] = "connbroker";
	const char *s;

	/* "<3>connbroker: ...": the syslog priority of a line to the journal (util/log.c) */
	if (line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>')
		line += 3;
	if (strncmp(line, p, sizeof(p) - 1))
		return NULL;
	s = line + sizeof(p) - 1;
	if (s[0] == ':' && s[1] == ' ')
		return s + 2;           /* cb_err, cb_info */
	if (s[0] != ' ')
		return NULL;
	/* "connbroker attach: unrecognized option": getopt, argv[0] of a command */
	s++;
	return s[strcspn(s, ": ")] == ':' && s[0] != ':' ? s : NULL;
}

void cb_errtap_feed(struct cb_errtap *t, const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *m;

		if (buf[i] != '\n') {
			if (t->len < sizeof(t->line) - 1)
				t->line[t->len++] = buf[i];
			continue;
		}
		t->line[t->len] = 0;
		t->len = 0;
		if ((m = message_of(t->line))) {
			snprintf(t->last, sizeof(t->last), "%s", m);
			t->have = 1;
		}
	}
}

static struct cb_errtap tap;

static ssize_t tap_write(void *cookie, const char *buf, size_t n)
{
	size_t off = 0;
	ssize_t w;

	(void)cookie;
	while (off < n) {
		w = write(STDERR_FILENO, buf + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	cb_errtap_feed(&tap, buf, n);
	return (ssize_t)n;
}

int cb_errtap_install(void)
{
	cookie_io_functions_t io = { .write = tap_write };
	FILE *f = fopencookie(NULL, "w", io);

	if (!f)
		return -errno;
	setvbuf(f, NULL, _IOLBF, 0);
	fflush(stderr);
	stderr = f;
	return 0;
}

const char *cb_errtap_last(void)
{
	fflush(stderr);
	return tap.have ? tap.last : NULL;
}

/* ---- the controller's lock (ctl/controller.c, claim_interface) ----------- */

int cb_locks_pid(const char *text, unsigned int maj, unsigned int min, unsigned long ino)
{
	const char *line = text;

	/* "1: FLOCK  ADVISORY  WRITE 1234 00:19:5678 0 EOF"; "1: -> FLOCK ..." waits */
	while (line && *line) {
		char type[16], mode[16], access[16];
		unsigned int lmaj, lmin;
		unsigned long lino;
		int pid;

		if (sscanf(line, "%*d: %15s %15s %15s %d %x:%x:%lu", type, mode, access, &pid, &lmaj,
			   &lmin, &lino) == 7 &&
		    strcmp(type, "->") && lmaj == maj && lmin == min && lino == ino)
			return pid > 0 ? pid : 0;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

/* all of /proc/locks (malloc'd), or NULL */
static char *read_locks(void)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap), *nb;
	ssize_t n;
	int fd = open("/proc/locks", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !buf)
		goto fail;
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len - 1 == 0) {
			if (cap >= (16u << 20) || !(nb = realloc(buf, cap * 2)))
				goto fail;
			buf = nb;
			cap *= 2;
		}
	}
	if (n < 0)
		goto fail;
	close(fd);
	buf[len] = 0;
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* the pid in the controller's status snapshot (ctl/status.c), or 0 */
static int status_pid(const char *ifname)
{
	char path[256];
	int pid = 0;
	FILE *f;

	if (cb_run_path(path, sizeof(path), ifname, "status.json") || !(f = fopen(path, "r")))
		return 0;
	if (fscanf(f, "{\"pid\":%d", &pid) != 1 || pid < 0)
		pid = 0;
	fclose(f);
	return pid;
}

int cb_controller_pid(const char *ifname)
{
	char path[256], *locks;
	struct stat st;
	int pid, fd;

	if (cb_run_path(path, sizeof(path), ifname, "lock") || stat(path, &st))
		return -1;      /* no controller ever ran here */
	/*
	 * /proc/locks says who holds it without taking it (a test lock, however
	 * short, could make a controller starting at that moment fail)
	 */
	if ((locks = read_locks())) {
		pid = cb_locks_pid(locks, major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino);
		free(locks);
		return pid == 0 ? status_pid(ifname) : pid;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		pid = -1;
	} else {
		pid = errno == EWOULDBLOCK ? status_pid(ifname) : -1;
	}
	close(fd);
	return pid;
}
