// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <sys/stat.h>
#include "ctl/config.h"
#include "util/parse_util.h"

/* Parser state: inih calls the handler per key; our reader counts lines so
 * every message can name one. */
struct pstate {
	struct cb_config_file *c;
	const char *name;               /* file name for messages */
	int line;
	char *err;
	size_t errlen;
	int failed;
	/* reader over a string */
	const char *text;
	size_t pos;
	FILE *f;
	size_t bytes;                   /* read so far (bounded: CB_CFG_MAX_BYTES) */
	/* the section being filled */
	enum { SEC_NONE, SEC_BROKER, SEC_SERVICE, SEC_RULE, SEC_APP, SEC_NODE } kind;
	char section[128];
	/* its keys so far, with their lines: a key given twice is refused */
	struct { char key[32]; int line; } seen[CB_CFG_KEYS_MAX];
	int n_seen;
	int broker_line;                /* where [broker] began, 0: not yet */
	int cont;                       /* this line starts with a space: inih continues a value */
	/* include = DIR or FILE ([broker] of the main file): read after it */
	char includes[CB_CFG_INCLUDES_MAX][256];
	int include_line[CB_CFG_INCLUDES_MAX];
	int n_includes;
	int cur_include;                /* the include being read, for its messages */
	int included;                   /* reading an included file now */
	/* every file read, for messages: 0 the main one (ps->name), the rest
	 * strdup'ed, freed at the end of the parse */
	char *srcs[1 + CB_CFG_INCLUDES_MAX * CB_CFG_INCLUDE_FILES];
	int n_srcs;
	const char *main_name;
};

/* Messages about x (a service, rule, app or node) name its file and line. */
#define AT(ps, x) ((ps)->line = (x)->line, (ps)->name = (ps)->srcs[(x)->src])
/* ... or the main file, for what belongs to no section */
#define AT_MAIN(ps) ((ps)->line = 0, (ps)->name = (ps)->main_name)

static int fail(struct pstate *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct pstate *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ps->failed++)
		return 0;
	n = snprintf(ps->err, ps->errlen, "%s:%d: ", ps->name, ps->line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < ps->errlen)
		vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return 0;
}

static int begin_section(struct pstate *ps, const char *section);

/*
 * Section headers are noticed here, as lines go by: Debian's inih does not
 * call the handler for a section without keys ([app web] alone is valid).
 */
static void see_line(struct pstate *ps, const char *str, int num)
{
	const char *p = str, *rb;
	char name[128];
	size_t n = strlen(str);

	ps->line++;
	ps->bytes += n;
	if (ps->bytes > CB_CFG_MAX_BYTES) {
		fail(ps, "the file is larger than %d bytes: not a configuration", CB_CFG_MAX_BYTES);
		return;
	}
	if (n == (size_t)num - 1 && str[n - 1] != '\n') {
		/* inih would split it into two "lines": refuse instead */
		fail(ps, "line longer than %d characters", num - 2);
		return;
	}
	if (ps->line == 1 && !strncmp(p, "\xEF\xBB\xBF", 3))
		p += 3;                 /* a UTF-8 BOM, which inih skips too */
	while (*p == ' ' || *p == '\t')
		p++;
	/* indented and not blank or a comment: inih takes it as the previous
	 * key's value continued (a multi-line value), which nothing here means */
	ps->cont = p > str && *p && *p != '\n' && *p != '\r' && *p != ';' && *p != '#' && *p != '[';
	if (*p != '[' || ps->failed)
		return;
	rb = strchr(p, ']');
	if (!rb || (size_t)(rb - p - 1) >= sizeof(name))
		return;                 /* inih reports the syntax error */
	memcpy(name, p + 1, (size_t)(rb - p - 1));
	name[rb - p - 1] = 0;
	begin_section(ps, name);
}

/* The next line of the file or string into str (at most num - 1 bytes).  A
 * NUL byte, or a file larger than CB_CFG_MAX_BYTES (/dev/zero, a binary),
 * ends the parse with a message: nothing after it is read. */
static char *reader(char *str, int num, void *stream)
{
	struct pstate *ps = stream;
	size_t i = 0;
	int ch = 0;

	if (ps->failed)
		return NULL;            /* the first error is the answer: stop reading */
	while (i + 1 < (size_t)num && ch != '\n') {
		if (ps->f) {
			if ((ch = getc(ps->f)) == EOF)
				break;
		} else if (!(ch = (unsigned char)ps->text[ps->pos])) {
			break;
		} else {
			ps->pos++;
		}
		if (!ch) {
			ps->line++;
			fail(ps, "a NUL byte: not a text file");
			return NULL;
		}
		str[i++] = (char)ch;
	}
	if (!i)
		return NULL;
	str[i] = 0;
	see_line(ps, str, num);
	return ps->failed ? NULL : str;
}

static int copy_str(struct pstate *ps, char *dst, size_t cap, const char *key, const char *v)
{
	if (strlen(v) >= cap)
		return fail(ps, "%s: value too long (at most %zu characters)", key, cap - 1);
	strcpy(dst, v);
	return 1;
}

static int parse_u32_key(struct pstate *ps, const char *key, const char *v, uint32_t min,
			 uint32_t max, uint32_t *out)
{
	if (cb_parse_u32(v, min, max, out))
		return fail(ps, "%s: '%s' is not a number in %u..%u", key, v, min, max);
	return 1;
}

/*
 * A duration in milliseconds: 500 (ms, as the key's name says), 500ms, 2s,
 * 5m, 1h; a whole number and one unit.  Within [min, max] ms.
 */
int cb_config_parse_workers(const char *v, uint32_t *out)
{
	long n;

	if (!strcmp(v, "auto")) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		*out = n < 1 ? 1 : n > CB_MAX_WORKERS ? CB_MAX_WORKERS : (uint32_t)n;
		return 0;
	}
	return cb_parse_u32(v, 1, CB_MAX_WORKERS, out) ? -EINVAL : 0;
}

int cb_config_parse_ms(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	char *end;
	unsigned long long n;
	size_t i;

	if (!isdigit((unsigned char)v[0]))
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || n > UINT32_MAX)
		return -ERANGE;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].unit)) {
			if (n * units[i].ms < min || n * units[i].ms > max)
				return -ERANGE;
			*out = (uint32_t)(n * units[i].ms);
			return 0;
		}
	return -EINVAL;
}

static int parse_ms_key(struct pstate *ps, const char *key, const char *v, uint32_t min,
			uint32_t max, uint32_t *out)
{
	if (cb_config_parse_ms(v, min, max, out))
		return fail(ps, "%s: '%s': expected a duration from %u to %u ms: 500, 500ms, 2s, 5m, 1h",
			    key, v, min, max);
	return 1;
}

/* "SSH-" or "\x16\x03": bytes with \xNN and \\ escapes. */
static int parse_prefix(struct pstate *ps, const char *v, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = 0;

	while (*v) {
		unsigned int b;

		if (n == cap)
			return fail(ps, "prefix: longer than %zu bytes", cap);
		if (v[0] == '\\' && v[1] == 'x' && isxdigit((unsigned char)v[2]) &&
		    isxdigit((unsigned char)v[3]) && sscanf(v + 2, "%2x", &b) == 1) {
			out[n++] = (uint8_t)b;
			v += 4;
		} else if (v[0] == '\\' && v[1] == '\\') {
			out[n++] = '\\';
			v += 2;
		} else if (v[0] == '\\') {
			return fail(ps, "prefix: bad escape (use \\xNN or \\\\)");
		} else {
			out[n++] = (uint8_t)*v++;
		}
	}
	if (!n)
		return fail(ps, "prefix: empty");
	*len = n;
	return 1;
}

static int find_name(const char *name, const void *base, size_t stride, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp((const char *)base + (size_t)i * stride, name))
			return i;
	return -1;
}

static int begin_section(struct pstate *ps, const char *section)
{
	struct cb_config_file *c = ps->c;
	const char *sp = strchr(section, ' ');
	const char *name = sp ? sp + 1 : "";
	size_t kl = sp ? (size_t)(sp - section) : strlen(section);
	int i;

	snprintf(ps->section, sizeof(ps->section), "%s", section);
	ps->n_seen = 0;
	if (kl == 6 && !strncmp(section, "broker", 6) && !sp) {
		if (ps->included)
			return fail(ps, "[broker] belongs in the main file, not in an included one");
		if (ps->broker_line)
			return fail(ps, "[broker] defined twice (first on line %d)", ps->broker_line);
		ps->kind = SEC_BROKER;
		ps->broker_line = ps->line;
		return 1;
	}
	if (!*name || strlen(name) >= CB_CFG_NAME || strchr(name, ' '))
		return fail(ps, "[%s]: expected [broker], [service NAME], [rule NAME] or [app NAME]",
			    section);
	if (!cb_config_name_ok(name))
		return fail(ps, "[%.*s ...]: a name is printable ASCII without spaces", (int)kl,
			    section);
	if (kl == 7 && !strncmp(section, "service", 7)) {
		if ((i = find_name(name, c->services, sizeof(c->services[0]), c->n_services)) >= 0)
			return fail(ps, "[service %s] defined twice (first on line %d)", name,
				    c->services[i].line);
		if (c->n_services == CB_CFG_MAX_SERVICES)
			return fail(ps, "more than %d services", CB_CFG_MAX_SERVICES);
		ps->kind = SEC_SERVICE;
		strcpy(c->services[c->n_services].name, name);
		c->services[c->n_services].line = ps->line;
		c->services[c->n_services].src = ps->n_srcs - 1;
		c->services[c->n_services].default_app = -1;
		c->services[c->n_services].queue = 64;
		c->services[c->n_services].wait_ms = 2000;
		c->services[c->n_services].idle_ms = 30000;
		c->services[c->n_services].rtt_probe = 1;
		c->n_services++;
	} else if (kl == 4 && !strncmp(section, "rule", 4)) {
		/* rules are named in logs, metrics and reloads: one name, one rule */
		if ((i = find_name(name, c->rules, sizeof(c->rules[0]), c->n_rules)) >= 0)
			return fail(ps, "[rule %s] defined twice (first on line %d)", name, c->rules[i].line);
		if (c->n_rules == CB_CFG_MAX_RULES)
			return fail(ps, "more than %d rules", CB_CFG_MAX_RULES);
		ps->kind = SEC_RULE;
		strcpy(c->rules[c->n_rules].name, name);
		c->rules[c->n_rules].line = ps->line;
		c->rules[c->n_rules].src = ps->n_srcs - 1;
		c->n_rules++;
	} else if (kl == 3 && !strncmp(section, "app", 3)) {
		if ((i = find_name(name, c->apps, sizeof(c->apps[0]), c->n_apps)) >= 0)
			return fail(ps, "[app %s] defined twice (first on line %d)", name, c->apps[i].line);
		if (c->n_apps == CB_CFG_MAX_APPS)
			return fail(ps, "more than %d apps", CB_CFG_MAX_APPS);
		ps->kind = SEC_APP;
		strcpy(c->apps[c->n_apps].name, name);
		c->apps[c->n_apps].line = ps->line;
		c->apps[c->n_apps].src = ps->n_srcs - 1;
		/* by default only the controller's own user may register */
		c->apps[c->n_apps].uid = (long)geteuid();
		c->apps[c->n_apps].gid = -1;
		c->n_apps++;
	} else if (kl == 4 && !strncmp(section, "node", 4)) {
		if ((i = find_name(name, c->nodes, sizeof(c->nodes[0]), c->n_nodes)) >= 0)
			return fail(ps, "[node %s] defined twice (first on line %d)", name, c->nodes[i].line);
		if (c->n_nodes == CB_CFG_MAX_NODES)
			return fail(ps, "more than %d nodes", CB_CFG_MAX_NODES);
		ps->kind = SEC_NODE;
		strcpy(c->nodes[c->n_nodes].name, name);
		c->nodes[c->n_nodes].line = ps->line;
		c->nodes[c->n_nodes].src = ps->n_srcs - 1;
		c->nodes[c->n_nodes].mac_auto = 1;
		c->n_nodes++;
	} else {
		return fail(ps, "[%s]: unknown section kind", section);
	}
	return 1;
}

int cb_config_name_ok(const char *name)
{
	for (; *name; name++)
		if ((unsigned char)*name < 0x21 || (unsigned char)*name > 0x7e)
			return 0;
	return 1;
}

/* A user (group: 1) by name or number; the name must exist here. */
static int parse_owner(struct pstate *ps, const char *k, const char *v, int group, long *id)
{
	uint32_t n;

	if (!cb_parse_u32(v, 0, 0x7fffffff, &n)) {
		*id = n;
		return 1;
	}
	if (group) {
		struct group *g = getgrnam(v);

		if (g) {
			*id = g->gr_gid;
			return 1;
		}
	} else {
		struct passwd *pw = getpwnam(v);

		if (pw) {
			*id = pw->pw_uid;
			return 1;
		}
	}
	return fail(ps, "%s: no %s '%s' on this machine (a name or a number)", k,
		    group ? "group" : "user", v);
}

/* Octal permission bits, e.g. 0660; owner read/write is required (the
 * controller's own apps connect as its user). */
static int parse_mode(struct pstate *ps, const char *k, const char *v, unsigned int *mode)
{
	char *end;
	unsigned long m;

	errno = 0;
	m = strtoul(v, &end, 8);
	if (!*v || *end || errno || m > 0777 || v[0] == '-' || v[0] == '+')
		return fail(ps, "%s: '%s': expected octal permission bits such as 0660", k, v);
	if ((m & 0600) != 0600)
		return fail(ps, "%s: %s: the owner needs read and write (0600)", k, v);
	*mode = (unsigned int)m;
	return 1;
}

static int key_broker(struct pstate *ps, const char *k, const char *v)
{
	struct cb_config_file *c = ps->c;

	if (!strcmp(k, "interface"))
		return copy_str(ps, c->interface, sizeof(c->interface), k, v);
	if (!strcmp(k, "metrics"))
		return copy_str(ps, c->metrics, sizeof(c->metrics), k, v);
	if (!strcmp(k, "decide_bytes"))
		return parse_u32_key(ps, k, v, 1, 1u << 20, &c->decide_bytes);
	if (!strcmp(k, "decide_ms"))
		return parse_ms_key(ps, k, v, 1, 60000, &c->decide_ms);
	if (!strcmp(k, "decision_log")) {
		if (!strcmp(v, "resets"))
			c->decision_log = CB_DLOG_RESETS;
		else if (!strcmp(v, "all"))
			c->decision_log = CB_DLOG_ALL;
		else if (!strcmp(v, "off"))
			c->decision_log = CB_DLOG_OFF;
		else
			return fail(ps, "decision_log: '%s': expected resets, all or off", v);
		return 1;
	}
	if (!strcmp(k, "no_controller")) {
		if (!strcmp(v, "hold")) {
			c->no_ctl_ms = 0;
			return 1;
		}
		/* at least a few beats (CB_CTL_BEAT_MS): a busy loop is not gone */
		if (cb_config_parse_ms(v, 4 * CB_CTL_BEAT_MS, 3600000, &c->no_ctl_ms))
			return fail(ps, "no_controller: '%s': expected hold or a duration from "
				    "%u ms to 1h: 800ms, 2s, 1m", v, 4 * CB_CTL_BEAT_MS);
		return 1;
	}
	if (!strcmp(k, "mode")) {
		if (cb_parse_mode(v, &c->att_mode))
			return fail(ps, "mode: '%s': expected native, skb or tc", v);
		return 1;
	}
	if (!strcmp(k, "mss"))
		return parse_u32_key(ps, k, v, 536, 9000, &c->att_mss);
	if (!strcmp(k, "flow_cap"))
		return parse_u32_key(ps, k, v, 1460, CB_STASH_BYTES, &c->att_flow_cap);
	if (!strcmp(k, "flows"))
		return parse_u32_key(ps, k, v, 1024, 16777216, &c->att_flows);
	if (!strcmp(k, "workers")) {
		if (cb_config_parse_workers(v, &c->att_workers))
			return fail(ps, "workers: '%s': expected auto or 1..%d", v, CB_MAX_WORKERS);
		return 1;
	}
	if (!strcmp(k, "wscale") || !strcmp(k, "rst_rate")) {
		uint32_t n;

		if (!parse_u32_key(ps, k, v, 0, k[0] == 'w' ? 14 : 1000000, &n))
			return 0;
		if (k[0] == 'w')
			c->att_wscale = (int)n;
		else
			c->att_rst_rate = n;
		return 1;
	}
	if (!strcmp(k, "csum_verify")) {
		if (strcmp(v, "yes") && strcmp(v, "no"))
			return fail(ps, "csum_verify: '%s': expected yes or no", v);
		c->att_csum_verify = !strcmp(v, "yes");
		return 1;
	}
	if (!strcmp(k, "node"))
		return copy_str(ps, c->node, sizeof(c->node), k, v);
	if (!strcmp(k, "cluster"))
		return copy_str(ps, c->cluster, sizeof(c->cluster), k, v);
	if (!strcmp(k, "psk_file"))
		return copy_str(ps, c->psk_file, sizeof(c->psk_file), k, v);
	if (!strcmp(k, "socket_owner"))
		return parse_owner(ps, k, v, 0, &c->socket_uid);
	if (!strcmp(k, "socket_group"))
		return parse_owner(ps, k, v, 1, &c->socket_gid);
	if (!strcmp(k, "socket_mode"))
		return parse_mode(ps, k, v, &c->socket_mode);
	return fail(ps, "[broker]: unknown key '%s'", k);
}

/*
 * listen = ADDR:PORT[, ADDR:PORT...]: IPv4 as a.b.c.d:port, IPv6 as
 * [addr]:port; one service may answer on both families.  (A second listen
 * line is refused, as every key given twice.)
 */
static int parse_listen(struct pstate *ps, struct cb_service_cfg *s, const char *v)
{
	char buf[4 * CB_ADDR_PORT_STRLEN + 16], *tok, *next;
	int n = 0, i;

	if (strlen(v) >= sizeof(buf))
		return fail(ps, "listen: too long: at most %d addresses", CB_SVC_LISTEN_MAX);
	strcpy(buf, v);
	for (tok = buf; tok; tok = next) {
		struct cb_service_key key;
		size_t end;

		next = strchr(tok, ',');
		if (next)
			*next++ = 0;
		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = strcspn(tok, " \t");
		if (tok[end + strspn(tok + end, " \t")])
			return fail(ps, "listen: '%s': addresses are separated by commas", tok);
		tok[end] = 0;
		if (!*tok)
			return fail(ps, "listen: an empty address in the list");
		if (cb_parse_service(tok, &key))
			return fail(ps, "listen: bad address '%s': expected IPv4:PORT or "
				    "[IPv6]:PORT, comma-separated", tok);
		if (n == CB_SVC_LISTEN_MAX)
			return fail(ps, "listen: more than %d addresses", CB_SVC_LISTEN_MAX);
		for (i = 0; i < n; i++)
			if (!memcmp(&s->listen[i], &key, sizeof(key)))
				return fail(ps, "listen: '%s' given twice", tok);
		s->listen[n++] = key;
	}
	if (!n)
		return fail(ps, "listen: no address: expected IPv4:PORT or [IPv6]:PORT");
	s->n_listen = n;
	return 1;
}

static int key_service(struct pstate *ps, const char *k, const char *v)
{
	struct cb_service_cfg *s = &ps->c->services[ps->c->n_services - 1];

	if (!strcmp(k, "listen"))
		return parse_listen(ps, s, v);
	if (!strcmp(k, "default"))
		return copy_str(ps, s->default_name, sizeof(s->default_name), k, v);
	if (!strcmp(k, "queue"))
		return parse_u32_key(ps, k, v, 1, 65536, &s->queue);
	if (!strcmp(k, "wait_ms"))
		return parse_ms_key(ps, k, v, 1, 600000, &s->wait_ms);
	if (!strcmp(k, "on_timeout")) {
		if (!strcmp(v, "rst"))
			s->on_timeout = CB_TIMEOUT_RST;
		else if (!strcmp(v, "http503"))
			s->on_timeout = CB_TIMEOUT_HTTP503;
		else
			return fail(ps, "on_timeout: '%s': expected rst or http503", v);
		return 1;
	}
	if (!strcmp(k, "placement")) {
		if (!strcmp(v, "local"))
			s->placement = CB_PLACE_LOCAL;
		else if (!strcmp(v, "spread"))
			s->placement = CB_PLACE_SPREAD;
		else if (!strcmp(v, "affinity"))
			s->placement = CB_PLACE_AFFINITY;
		else
			return fail(ps, "placement: '%s': expected local, spread or affinity", v);
		return 1;
	}
	if (!strcmp(k, "capacity"))
		return parse_u32_key(ps, k, v, 0, 1000000, &s->capacity);
	if (!strcmp(k, "route")) {
		if (!strcmp(v, "per-connection"))
			s->per_request = 0;
		else if (!strcmp(v, "per-request"))
			s->per_request = 1;
		else
			return fail(ps, "route: '%s': expected per-connection or per-request", v);
		return 1;
	}
	if (!strcmp(k, "idle_ms"))
		return parse_ms_key(ps, k, v, 1, 3600000, &s->idle_ms);
	if (!strcmp(k, "rtt_probe")) {
		if (strcmp(v, "yes") && strcmp(v, "no"))
			return fail(ps, "rtt_probe: '%s': expected yes or no", v);
		s->rtt_probe = !strcmp(v, "yes");
		return 1;
	}
	if (!strcmp(k, "affinity_key")) {
		if (!strcmp(v, "path"))
			s->affinity_key = CB_AFFINITY_PATH;
		else if (!strcmp(v, "host"))
			s->affinity_key = CB_AFFINITY_HOST;
		else if (!strcmp(v, "client"))
			s->affinity_key = CB_AFFINITY_CLIENT;
		else
			return fail(ps, "affinity_key: '%s': expected path, host or client", v);
		return 1;
	}
	return fail(ps, "[service %s]: unknown key '%s'", s->name, k);
}

static int key_rule(struct pstate *ps, const char *k, const char *v)
{
	struct cb_rule_cfg *r = &ps->c->rules[ps->c->n_rules - 1];

	if (!strcmp(k, "service"))
		return copy_str(ps, r->service_name, sizeof(r->service_name), k, v);
	if (!strcmp(k, "app"))
		return copy_str(ps, r->app_name, sizeof(r->app_name), k, v);
	if (!strcmp(k, "path_prefix")) {
		if (v[0] != '/')
			return fail(ps, "path_prefix: '%s' must start with '/'", v);
		return copy_str(ps, r->path_prefix, sizeof(r->path_prefix), k, v);
	}
	if (!strcmp(k, "host"))
		return copy_str(ps, r->host, sizeof(r->host), k, v);
	if (!strcmp(k, "sni"))
		return copy_str(ps, r->sni, sizeof(r->sni), k, v);
	if (!strcmp(k, "alpn"))
		return copy_str(ps, r->alpn, sizeof(r->alpn), k, v);
	if (!strcmp(k, "prefix"))
		return parse_prefix(ps, v, r->prefix, sizeof(r->prefix), &r->prefix_len);
	return fail(ps, "[rule %s]: unknown key '%s'", r->name, k);
}

static int key_app(struct pstate *ps, const char *k, const char *v)
{
	struct cb_app_cfg *a = &ps->c->apps[ps->c->n_apps - 1];

	if (!strcmp(k, "uid") || !strcmp(k, "gid")) {
		long *dst = k[0] == 'u' ? &a->uid : &a->gid;

		if (!strcmp(v, "-1") || !strcmp(v, "any")) {
			*dst = -1;
			return 1;
		}
		/* a number, or a user / group name of this machine */
		return parse_owner(ps, k, v, k[0] == 'g', dst);
	}
	if (!strcmp(k, "command"))
		return copy_str(ps, a->command, sizeof(a->command), k, v);
	if (!strcmp(k, "inetd")) {
		if (strcmp(v, "yes") && strcmp(v, "no"))
			return fail(ps, "inetd: '%s': expected yes or no", v);
		a->inetd = !strcmp(v, "yes");
		return 1;
	}
	return fail(ps, "[app %s]: unknown key '%s'", a->name, k);
}

/* "aa:bb:cc:dd:ee:ff" into mac; 0 or -1. */
static int parse_mac(const char *v, uint8_t mac[6])
{
	unsigned int b[6];
	char end;
	int i;

	if (sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6)
		return -1;
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int key_node(struct pstate *ps, const char *k, const char *v)
{
	struct cb_node_cfg *n = &ps->c->nodes[ps->c->n_nodes - 1];
	struct cb_service_key ck;

	/* the index of its entry in cb_peers (steered flows name it) */
	if (!strcmp(k, "id"))
		return parse_u32_key(ps, k, v, 1, CB_MAX_PEERS - 1, &n->id);
	if (!strcmp(k, "control")) {
		if (cb_parse_service(v, &ck))
			return fail(ps, "control: bad address '%s': expected IPv4:PORT or [IPv6]:PORT", v);
		return copy_str(ps, n->control, sizeof(n->control), k, v);
	}
	if (!strcmp(k, "mac")) {
		n->mac_auto = !strcmp(v, "auto");
		if (!n->mac_auto && parse_mac(v, n->mac))
			return fail(ps, "mac: '%s': expected aa:bb:cc:dd:ee:ff or auto", v);
		return 1;
	}
	if (!strcmp(k, "services"))
		return copy_str(ps, n->services_text, sizeof(n->services_text), k, v);
	return fail(ps, "[node %s]: unknown key '%s'", n->name, k);
}

/* include = DIR (its *.conf files, in name order) or FILE: read after the
 * main file, as if appended to it (services, rules, apps, nodes; not
 * [broker], not another include).  Relative to the main file's directory. */
static int add_include(struct pstate *ps, const char *v)
{
	const char *slash = strrchr(ps->name, '/');
	size_t dl;

	if (ps->included)
		return fail(ps, "include: only the main file may include others");
	if (ps->text)
		return fail(ps, "include: only in a configuration file (this one is text)");
	if (ps->n_includes == CB_CFG_INCLUDES_MAX)
		return fail(ps, "include: at most %d", CB_CFG_INCLUDES_MAX);
	if (!*v)
		return fail(ps, "include: expected a directory or a file");
	/* the main file's directory, with its '/', unless v is absolute */
	dl = v[0] == '/' || !slash ? 0 : (size_t)(slash - ps->name) + 1;
	if (dl + strlen(v) + 1 > sizeof(ps->includes[0]))
		return fail(ps, "include: path too long");
	memcpy(ps->includes[ps->n_includes], ps->name, dl);
	strcpy(ps->includes[ps->n_includes] + dl, v);
	ps->include_line[ps->n_includes] = ps->line;
	ps->n_includes++;
	return 1;
}

/* A key once per section: a second one is a mistake, not an override. */
static int see_key(struct pstate *ps, const char *name)
{
	int i;

	for (i = 0; i < ps->n_seen; i++)
		if (!strcmp(ps->seen[i].key, name))
			return fail(ps, "[%s]: '%s' given twice (first on line %d)", ps->section, name,
				    ps->seen[i].line);
	if (ps->n_seen == CB_CFG_KEYS_MAX)
		return fail(ps, "[%s]: more than %d keys", ps->section, CB_CFG_KEYS_MAX);
	if (strlen(name) >= sizeof(ps->seen[0].key))
		return fail(ps, "[%s]: unknown key '%s'", ps->section, name);
	strcpy(ps->seen[ps->n_seen].key, name);
	ps->seen[ps->n_seen++].line = ps->line;
	return 1;
}

/*
 * An inline comment: `key = value ; note` (inih removes those) and
 * `key = value # note`, a # after a space or tab; the value is what is left,
 * trailing blanks removed.  A # not after a blank is part of the value.
 */
static const char *strip_comment(const char *v, char *buf, size_t cap)
{
	const char *h;
	size_t n;

	for (h = strchr(v, '#'); h && h > v && h[-1] != ' ' && h[-1] != '\t'; h = strchr(h + 1, '#'))
		;
	if (!h)
		return v;
	n = (size_t)(h - v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(buf, v, n);
	buf[n] = 0;
	return buf;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct pstate *ps = user;
	char vbuf[1024];

	if (ps->failed)
		return 0;
	if (ps->cont)
		return fail(ps, "an indented line continues the previous value, which is not "
			    "supported: remove the indentation");
	if (strcmp(section, ps->section))
		return fail(ps, "key '%s' outside of a section", name);
	value = strip_comment(value, vbuf, sizeof(vbuf));
	if (ps->kind == SEC_BROKER && !strcmp(name, "include"))
		return add_include(ps, value);          /* the one key that may repeat */
	if (!see_key(ps, name))
		return 0;
	switch (ps->kind) {
	case SEC_BROKER: return key_broker(ps, name, value);
	case SEC_SERVICE: return key_service(ps, name, value);
	case SEC_RULE: return key_rule(ps, name, value);
	case SEC_APP: return key_app(ps, name, value);
	case SEC_NODE: return key_node(ps, name, value);
	default: return fail(ps, "key '%s' outside of a section", name);
	}
}

/* "shop, api" -> bits of the services named; 0 or a message. */
static int node_services(struct pstate *ps, struct cb_node_cfg *n)
{
	char buf[512], *tok, *save = NULL;
	int s;

	snprintf(buf, sizeof(buf), "%s", n->services_text);
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		s = find_name(tok, ps->c->services, sizeof(ps->c->services[0]), ps->c->n_services);
		if (s < 0)
			return fail(ps, "[node %s]: services names unknown service '%s'", n->name, tok);
		n->services |= 1ull << s;
	}
	return 1;
}

static int resolve_nodes(struct pstate *ps)
{
	struct cb_config_file *c = ps->c;
	int i, j;

	c->self = -1;
	for (i = 0; i < c->n_nodes; i++) {
		struct cb_node_cfg *n = &c->nodes[i];

		AT(ps, n);
		if (!n->id || !n->control[0])
			return fail(ps, "[node %s]: 'id' and 'control' are required", n->name);
		for (j = 0; j < i; j++)
			if (c->nodes[j].id == n->id)
				return fail(ps, "[node %s]: id %u is [node %s]'s too", n->name, n->id,
					    c->nodes[j].name);
		if (!node_services(ps, n))
			return 0;
	}
	if (c->node[0]) {
		c->self = find_name(c->node, c->nodes, sizeof(c->nodes[0]), c->n_nodes);
		if (c->self < 0) {
			AT_MAIN(ps);
			return fail(ps, "[broker] node = %s: no [node %s] section", c->node, c->node);
		}
	}
	if (c->n_nodes > 1 && (!c->psk_file[0] || !c->cluster[0])) {
		AT_MAIN(ps);
		return fail(ps, "[broker]: a cluster ([node] sections) needs cluster and psk_file");
	}
	return 1;
}

/* References between sections, checked once everything is read. */
static int resolve(struct pstate *ps)
{
	struct cb_config_file *c = ps->c;
	int i, j;

	for (i = 0; i < c->n_services; i++) {
		struct cb_service_cfg *s = &c->services[i];

		AT(ps, s);
		if (!s->n_listen)
			return fail(ps, "[service %s]: 'listen = VIP:PORT' is required", s->name);
		for (j = 0; j < i; j++) {
			int a, b;

			for (a = 0; a < s->n_listen; a++)
				for (b = 0; b < c->services[j].n_listen; b++)
					if (!memcmp(&c->services[j].listen[b], &s->listen[a],
						    sizeof(s->listen[a])))
						return fail(ps, "[service %s]: listens on the same "
							    "address as [service %s]", s->name,
							    c->services[j].name);
		}
		if (s->default_name[0]) {
			s->default_app = find_name(s->default_name, c->apps, sizeof(c->apps[0]), c->n_apps);
			if (s->default_app < 0)
				return fail(ps, "[service %s]: default names unknown app '%s'", s->name,
					    s->default_name);
		}
	}
	for (i = 0; i < c->n_apps; i++) {
		AT(ps, &c->apps[i]);
		if (c->apps[i].inetd && !c->apps[i].command[0])
			return fail(ps, "[app %s]: inetd = yes needs a command", c->apps[i].name);
	}
	for (i = 0; i < c->n_rules; i++) {
		struct cb_rule_cfg *r = &c->rules[i];

		AT(ps, r);
		r->service = find_name(r->service_name, c->services, sizeof(c->services[0]),
				       c->n_services);
		if (r->service < 0)
			return fail(ps, "[rule %s]: %s service '%s'", r->name,
				    r->service_name[0] ? "unknown" : "needs a", r->service_name);
		r->app = find_name(r->app_name, c->apps, sizeof(c->apps[0]), c->n_apps);
		if (r->app < 0)
			return fail(ps, "[rule %s]: %s app '%s'", r->name,
				    r->app_name[0] ? "unknown" : "needs an", r->app_name);
		if (!r->path_prefix[0] && !r->host[0] && !r->sni[0] && !r->alpn[0] && !r->prefix_len)
			return fail(ps, "[rule %s]: no condition (path_prefix, host, sni, alpn, prefix)",
				    r->name);
	}
	if (!c->n_services) {
		AT_MAIN(ps);
		return fail(ps, "no [service NAME] section");
	}
	return resolve_nodes(ps);
}

/* One stream (the main file or text, or an included file) through inih. */
static int parse_stream(struct pstate *ps)
{
	int rc = ini_parse_stream(reader, ps, handler, ps);

	if (rc > 0 && !ps->failed) {
		ps->line = rc;
		fail(ps, "syntax error (expected [section] or key = value)");
	}
	if (rc < 0 && !ps->failed)
		fail(ps, "cannot read the file");
	return ps->failed ? -1 : 0;
}

static int conf_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".conf");
}

/* A message at the include line of the main file: "MAIN:LINE: include ...". */
static int include_fail(struct pstate *ps, const char *path, const char *why)
{
	ps->name = ps->main_name;
	ps->line = ps->include_line[ps->cur_include];
	return fail(ps, "include %s: %s", path, why);
}

/* Read one included file as the continuation of the configuration. */
static int parse_included(struct pstate *ps, const char *path)
{
	FILE *main_f = ps->f;
	char *copy;
	int rc;

	if (ps->n_srcs == (int)(sizeof(ps->srcs) / sizeof(ps->srcs[0])) || !(copy = strdup(path))) {
		include_fail(ps, path, "too many files");
		return -1;
	}
	ps->srcs[ps->n_srcs++] = copy;
	ps->name = copy;
	ps->line = 0;
	ps->kind = SEC_NONE;
	ps->section[0] = 0;
	ps->n_seen = 0;
	ps->included = 1;
	ps->text = NULL;
	ps->f = fopen(path, "r");
	if (!ps->f) {
		ps->f = main_f;
		include_fail(ps, path, strerror(errno));
		return -1;
	}
	rc = parse_stream(ps);
	fclose(ps->f);
	ps->f = main_f;         /* the main file's, closed by whoever opened it */
	return rc;
}

/* The includes the main file named, in order: a directory's *.conf by name. */
static int parse_includes(struct pstate *ps)
{
	char path[600];
	int i, j, n, rc = 0;

	for (i = 0; i < ps->n_includes && !rc; i++) {
		struct dirent **list = NULL;
		struct stat st;

		ps->cur_include = i;
		if (stat(ps->includes[i], &st)) {
			include_fail(ps, ps->includes[i], strerror(errno));
			return -1;
		}
		if (!S_ISDIR(st.st_mode)) {
			/* a regular file only: not a FIFO, a device, /dev/stdin */
			if (S_ISREG(st.st_mode)) {
				rc = parse_included(ps, ps->includes[i]);
			} else {
				include_fail(ps, ps->includes[i], "not a regular file or a directory");
				rc = -1;
			}
			continue;
		}
		n = scandir(ps->includes[i], &list, conf_file, alphasort);
		if (n < 0 || n > CB_CFG_INCLUDE_FILES) {
			include_fail(ps, ps->includes[i],
				     n < 0 ? strerror(errno) : "more than 64 *.conf files");
			for (j = 0; j < n; j++)
				free(list[j]);
			free(list);
			return -1;
		}
		for (j = 0; j < n; j++) {
			snprintf(path, sizeof(path), "%s/%s", ps->includes[i], list[j]->d_name);
			if (!rc && (stat(path, &st) || !S_ISREG(st.st_mode))) {
				include_fail(ps, path, "not a regular file");
				rc = -1;
			}
			if (!rc)
				rc = parse_included(ps, path);
			free(list[j]);
		}
		free(list);
	}
	return rc;
}

static int run_parse(struct pstate *ps)
{
	struct cb_config_file *c = ps->c;
	int rc;

	memset(c, 0, sizeof(*c));
	c->decide_bytes = 16384;
	c->decide_ms = 500;
	c->no_ctl_ms = CB_NO_CTL_MS_DEFAULT;
	c->att_wscale = c->att_csum_verify = -1;
	c->att_rst_rate = -1;
	c->socket_uid = c->socket_gid = -1;
	c->socket_mode = 0666;
	strcpy(c->metrics, "127.0.0.1:9464");
	ps->main_name = ps->name;
	ps->srcs[0] = (char *)ps->name;
	ps->n_srcs = 1;
	rc = parse_stream(ps);
	if (!rc)
		rc = parse_includes(ps);
	/* the checks across sections name each one's own file and line */
	if (!rc && !resolve(ps))
		rc = -1;
	while (ps->n_srcs > 1)
		free(ps->srcs[--ps->n_srcs]);
	ps->name = ps->main_name;
	return rc ? -1 : 0;
}

int cb_config_parse(const char *text, const char *name, struct cb_config_file *c, char *err,
		    size_t errlen)
{
	struct pstate ps = { .c = c, .name = name, .err = err, .errlen = errlen, .text = text };

	return run_parse(&ps);
}

int cb_config_load(const char *path, struct cb_config_file *c, char *err, size_t errlen)
{
	struct pstate ps = { .c = c, .name = path, .err = err, .errlen = errlen };
	int rc;

	ps.f = fopen(path, "r");
	if (!ps.f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = run_parse(&ps);
	fclose(ps.f);
	return rc;
}

static int has_alpn(const struct cb_request_info *ri, const char *alpn)
{
	int i;

	for (i = 0; i < ri->n_alpn; i++)
		if (!strcmp(ri->alpn[i], alpn))
			return 1;
	return 0;
}

static int rule_matches(const struct cb_rule_cfg *r, const struct cb_request_info *ri,
			const uint8_t *bytes, size_t len)
{
	if (r->prefix_len && (len < r->prefix_len || memcmp(bytes, r->prefix, r->prefix_len)))
		return 0;
	if (r->path_prefix[0] && (ri->proto != CB_PROTO_HTTP ||
				  strncmp(ri->path, r->path_prefix, strlen(r->path_prefix))))
		return 0;
	if (r->host[0] && (ri->proto != CB_PROTO_HTTP || !cb_host_match(r->host, ri->host)))
		return 0;
	if (r->sni[0] && (ri->proto != CB_PROTO_TLS || !cb_host_match(r->sni, ri->sni)))
		return 0;
	if (r->alpn[0] && (ri->proto != CB_PROTO_TLS || !has_alpn(ri, r->alpn)))
		return 0;
	return 1;
}

int cb_route(const struct cb_config_file *c, int svc, const struct cb_request_info *ri,
	     const uint8_t *bytes, size_t len)
{
	int i;

	for (i = 0; i < c->n_rules; i++)
		if (c->rules[i].service == svc && rule_matches(&c->rules[i], ri, bytes, len))
			return i;
	return -1;
}

const char *cb_fmt_listen(const struct cb_service_cfg *s, char *buf, size_t len)
{
	char a[CB_ADDR_PORT_STRLEN];
	size_t used = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < s->n_listen && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
					 cb_fmt_service(&s->listen[i], a, sizeof(a)));
	return buf;
}

int cb_service_find(const struct cb_config_file *c, const struct cb_service_key *key)
{
	int i, j;

	for (i = 0; i < c->n_services; i++)
		for (j = 0; j < c->services[i].n_listen; j++)
			if (!memcmp(&c->services[i].listen[j], key, sizeof(*key)))
				return i;
	return -1;
}

int cb_config_app(const struct cb_config_file *c, const char *name)
{
	int i;

	for (i = 0; i < c->n_apps; i++)
		if (!strcmp(c->apps[i].name, name))
			return i;
	return -1;
}

int cb_config_service(const struct cb_config_file *c, const char *name)
{
	int i;

	for (i = 0; i < c->n_services; i++)
		if (!strcmp(c->services[i].name, name))
			return i;
	return -1;
}

int cb_config_rule(const struct cb_config_file *c, const char *name)
{
	int i;

	for (i = 0; i < c->n_rules; i++)
		if (!strcmp(c->rules[i].name, name))
			return i;
	return -1;
}

int cb_config_same_cluster(const struct cb_config_file *a, const struct cb_config_file *b)
{
	int i;

	if (a->n_nodes != b->n_nodes || a->self != b->self || strcmp(a->cluster, b->cluster) ||
	    strcmp(a->psk_file, b->psk_file))
		return 0;
	for (i = 0; i < a->n_nodes; i++) {
		const struct cb_node_cfg *x = &a->nodes[i], *y = &b->nodes[i];

		if (strcmp(x->name, y->name) || x->id != y->id || strcmp(x->control, y->control) ||
		    x->mac_auto != y->mac_auto || (!x->mac_auto && memcmp(x->mac, y->mac, 6)))
			return 0;
	}
	return 1;
}

/* ---- diff, for the log of a reload --------------------------------------- */

struct diff {
	cb_config_say_fn say;
	void *arg;
	int n, fields;
	char line[512];
	size_t len;
};

static void d_begin(struct diff *d, const char *kind, const char *name)
{
	d->len = (size_t)snprintf(d->line, sizeof(d->line), "%s %s: changed:", kind, name);
	d->fields = 0;
}

/* Note one field that differs (values already formatted). */
static void d_field(struct diff *d, const char *field, const char *from, const char *to)
{
	if (!strcmp(from, to) || d->len >= sizeof(d->line))
		return;
	d->fields++;
	d->len += (size_t)snprintf(d->line + d->len, sizeof(d->line) - d->len, " %s '%s' -> '%s'",
				   field, from, to);
}

static void d_u32(struct diff *d, const char *field, uint32_t from, uint32_t to)
{
	char a[16], b[16];

	snprintf(a, sizeof(a), "%u", from);
	snprintf(b, sizeof(b), "%u", to);
	d_field(d, field, a, b);
}

static void d_end(struct diff *d)
{
	if (!d->fields)
		return;                 /* nothing differed */
	d->say(d->arg, d->line);
	d->n++;
}

static void d_say(struct diff *d, const char *kind, const char *name, const char *what)
{
	snprintf(d->line, sizeof(d->line), "%s %s: %s", kind, name, what);
	d->say(d->arg, d->line);
	d->n++;
}

static void diff_service(struct diff *d, const struct cb_service_cfg *a,
			 const struct cb_service_cfg *b)
{
	char x[CB_LISTEN_STRLEN], y[CB_LISTEN_STRLEN];

	d_begin(d, "service", a->name);
	d_field(d, "listen", cb_fmt_listen(a, x, sizeof(x)), cb_fmt_listen(b, y, sizeof(y)));
	d_field(d, "default", a->default_name, b->default_name);
	d_u32(d, "queue", a->queue, b->queue);
	d_u32(d, "wait_ms", a->wait_ms, b->wait_ms);
	d_field(d, "on_timeout", a->on_timeout == CB_TIMEOUT_RST ? "rst" : "http503",
		b->on_timeout == CB_TIMEOUT_RST ? "rst" : "http503");
	d_field(d, "route", a->per_request ? "per-request" : "per-connection",
		b->per_request ? "per-request" : "per-connection");
	d_u32(d, "idle_ms", a->idle_ms, b->idle_ms);
	d_field(d, "rtt_probe", a->rtt_probe ? "yes" : "no", b->rtt_probe ? "yes" : "no");
	d_end(d);
}

static void diff_rule(struct diff *d, const struct cb_rule_cfg *a, const struct cb_rule_cfg *b)
{
	d_begin(d, "rule", a->name);
	d_field(d, "service", a->service_name, b->service_name);
	d_field(d, "app", a->app_name, b->app_name);
	d_field(d, "path_prefix", a->path_prefix, b->path_prefix);
	d_field(d, "host", a->host, b->host);
	d_field(d, "sni", a->sni, b->sni);
	d_field(d, "alpn", a->alpn, b->alpn);
	if (a->prefix_len != b->prefix_len || memcmp(a->prefix, b->prefix, a->prefix_len))
		d_field(d, "prefix", "(old)", "(new)");
	d_end(d);
}

static void diff_app(struct diff *d, const struct cb_app_cfg *a, const struct cb_app_cfg *b)
{
	d_begin(d, "app", a->name);
	d_u32(d, "uid", (uint32_t)a->uid, (uint32_t)b->uid);
	d_u32(d, "gid", (uint32_t)a->gid, (uint32_t)b->gid);
	d_field(d, "command", a->command, b->command);
	d_u32(d, "inetd", (uint32_t)a->inetd, (uint32_t)b->inetd);
	d_end(d);
}

/* Do the rules both files have appear in another order? */
static int rules_reordered(const struct cb_config_file *a, const struct cb_config_file *b)
{
	int i, j, last = -1;

	for (i = 0; i < a->n_rules; i++) {
		if ((j = cb_config_rule(b, a->rules[i].name)) < 0)
			continue;
		if (j < last)
			return 1;
		last = j;
	}
	return 0;
}

int cb_config_diff(const struct cb_config_file *a, const struct cb_config_file *b,
		   cb_config_say_fn say, void *arg)
{
	struct diff d = { .say = say, .arg = arg };
	int i, j;

	d_begin(&d, "broker", "settings");
	d_u32(&d, "decide_bytes", a->decide_bytes, b->decide_bytes);
	d_u32(&d, "decide_ms", a->decide_ms, b->decide_ms);
	d_u32(&d, "decision_log", (uint32_t)a->decision_log, (uint32_t)b->decision_log);
	d_u32(&d, "no_controller", a->no_ctl_ms, b->no_ctl_ms);
	d_field(&d, "metrics", a->metrics, b->metrics);
	d_field(&d, "interface", a->interface, b->interface);
	d_u32(&d, "socket_owner", (uint32_t)a->socket_uid, (uint32_t)b->socket_uid);
	d_u32(&d, "socket_group", (uint32_t)a->socket_gid, (uint32_t)b->socket_gid);
	d_u32(&d, "socket_mode", a->socket_mode, b->socket_mode);
	d_end(&d);
	for (i = 0; i < a->n_services; i++)
		if ((j = cb_config_service(b, a->services[i].name)) < 0)
			d_say(&d, "service", a->services[i].name, "removed");
		else
			diff_service(&d, &a->services[i], &b->services[j]);
	for (i = 0; i < b->n_services; i++)
		if (cb_config_service(a, b->services[i].name) < 0)
			d_say(&d, "service", b->services[i].name, "added");
	for (i = 0; i < a->n_rules; i++)
		if ((j = cb_config_rule(b, a->rules[i].name)) < 0)
			d_say(&d, "rule", a->rules[i].name, "removed");
		else
			diff_rule(&d, &a->rules[i], &b->rules[j]);
	for (i = 0; i < b->n_rules; i++)
		if (cb_config_rule(a, b->rules[i].name) < 0)
			d_say(&d, "rule", b->rules[i].name, "added");
	if (rules_reordered(a, b))
		d_say(&d, "rules", "(all)", "order changed (rules are tried in file order)");
	for (i = 0; i < a->n_apps; i++)
		if ((j = cb_config_app(b, a->apps[i].name)) < 0)
			d_say(&d, "app", a->apps[i].name, "removed");
		else
			diff_app(&d, &a->apps[i], &b->apps[j]);
	for (i = 0; i < b->n_apps; i++)
		if (cb_config_app(a, b->apps[i].name) < 0)
			d_say(&d, "app", b->apps[i].name, "added");
	return d.n;
}

int cb_config_node(const struct cb_config_file *c, const char *name)
{
	int i;

	for (i = 0; i < c->n_nodes; i++)
		if (!strcmp(c->nodes[i].name, name))
			return i;
	return -1;
}

int cb_config_set_node(struct cb_config_file *c, const char *name, char *err, size_t errlen)
{
	int i = cb_config_node(c, name);

	if (i < 0) {
		snprintf(err, errlen, "--node %s: no [node %s] section in the configuration", name,
			 name);
		return -1;
	}
	snprintf(c->node, sizeof(c->node), "%s", name);
	c->self = i;
	return 0;
}
