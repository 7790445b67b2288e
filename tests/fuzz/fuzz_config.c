// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target for the configuration parser (cb_config_parse and
 * cb_config_load in user/ctl/config.c, over inih): `make fuzz FUZZ=config`.
 * The input is a configuration file.  Beyond "no sanitizer report":
 *  - the answer is 0 or -1; -1 leaves "fuzz.conf:LINE: message" in err (LINE
 *    a number no greater than the text's line count, the message non-empty),
 *    NUL-terminated; 0 leaves err as it was (the parser never writes it
 *    then, though config.h promises nothing about it);
 *  - parsing the same text again gives the same answer: the same message, or
 *    a byte-identical struct cb_config_file (run_parse clears it first and
 *    only copies fields in) that cb_config_diff finds no change in and
 *    cb_config_same_cluster calls the same;
 *  - cb_config_load on the same bytes in a file says exactly what
 *    cb_config_parse says on the string (config.h: "Same, from a string"),
 *    or, for bytes with a NUL, refuses them;
 *  - a parsed configuration is consistent: at least one service; every
 *    index (a rule's service and app, a default app, this node) in range;
 *    every name printable and found again by its lookup; node ids unique
 *    and in 1..CB_MAX_PEERS-1; every string ends within its array; and
 *    cb_route, cb_service_find, cb_config_diff against the example and
 *    cb_config_set_node answer within range on it.
 * Nothing here allocates (the structs are static); the memfd is opened once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "ctl/config.h"

#define NAME "fuzz.conf"

static struct cb_config_file c1, c2, base;
static char err1[512], err2[512], sentinel[512];
static char *text;
static size_t text_cap;
static int memfd = -1, base_ok;
static char fdpath[64];

static const char example[] =
	"[broker]\ninterface = eth0\ndecide_bytes = 4096\n"
	"[service shop]\nlisten = 198.18.0.100:80\ndefault = web\non_timeout = http503\n"
	"[service tls]\nlisten = 198.18.0.100:443\n"
	"[rule api]\nservice = shop\npath_prefix = /api/\napp = api\n"
	"[rule h2]\nservice = tls\nsni = shop.example\nalpn = h2\napp = web\n"
	"[app web]\n[app api]\nuid = 1000\n";

static int ends_within(const char *s, size_t cap)
{
	return memchr(s, 0, cap) != NULL;
}

static void say(void *arg, const char *line)
{
	if (!ends_within(line, 512) || !*line)
		abort();
	(*(int *)arg)++;
}

/* "fuzz.conf:LINE: message" with 0 <= LINE <= lines. */
static void check_message(const char *err, size_t lines)
{
	const char *p = err + strlen(NAME ":");
	char *end;
	unsigned long line;

	if (!ends_within(err, sizeof(err1)) || strncmp(err, NAME ":", strlen(NAME ":")))
		abort();
	if (*p < '0' || *p > '9')
		abort();
	line = strtoul(p, &end, 10);
	if (line > lines || end[0] != ':' || end[1] != ' ' || !end[2])
		abort();
}

static void check_parsed(const struct cb_config_file *c)
{
	static const char *const reqs[] = {
		"GET /api/items HTTP/1.1\r\nHost: shop.example\r\n\r\n",
		"GET /index.html HTTP/1.1\r\nHost: x.admin.example\r\n\r\n",
		"SSH-2.0-OpenSSH_9.2\r\n",
	};
	struct cb_config_file *copy = &c2;
	struct cb_request_info ri;
	int i, j, said = 0;

	if (c->n_services < 1 || c->n_services > CB_CFG_MAX_SERVICES ||
	    c->n_rules < 0 || c->n_rules > CB_CFG_MAX_RULES ||
	    c->n_apps < 0 || c->n_apps > CB_CFG_MAX_APPS ||
	    c->n_nodes < 0 || c->n_nodes > CB_CFG_MAX_NODES || c->self < -1 || c->self >= c->n_nodes)
		abort();
	if (!ends_within(c->interface, sizeof(c->interface)) ||
	    !ends_within(c->metrics, sizeof(c->metrics)) || !ends_within(c->node, sizeof(c->node)) ||
	    !ends_within(c->cluster, sizeof(c->cluster)) ||
	    !ends_within(c->psk_file, sizeof(c->psk_file)))
		abort();
	for (i = 0; i < c->n_services; i++) {
		const struct cb_service_cfg *s = &c->services[i];

		if (!ends_within(s->name, sizeof(s->name)) || !cb_config_name_ok(s->name) ||
		    cb_config_service(c, s->name) != i || s->n_listen < 1 ||
		    s->n_listen > CB_SVC_LISTEN_MAX || s->default_app < -1 ||
		    s->default_app >= c->n_apps)
			abort();
		/* every address it listens on finds it, and no other service */
		for (j = 0; j < s->n_listen; j++)
			if (cb_service_find(c, &s->listen[j]) != i || !s->listen[j].port_be)
				abort();
		for (j = 0; j < (int)(sizeof(reqs) / sizeof(reqs[0])); j++) {
			const uint8_t *b = (const uint8_t *)reqs[j];
			int r;

			cb_classify(b, strlen(reqs[j]), &ri);
			r = cb_route(c, i, &ri, b, strlen(reqs[j]));
			if (r < -1 || r >= c->n_rules || (r >= 0 && c->rules[r].service != i))
				abort();
		}
	}
	for (i = 0; i < c->n_rules; i++) {
		const struct cb_rule_cfg *r = &c->rules[i];

		if (!ends_within(r->name, sizeof(r->name)) || !cb_config_name_ok(r->name) ||
		    cb_config_rule(c, r->name) != i || r->service < 0 || r->service >= c->n_services ||
		    r->app < 0 || r->app >= c->n_apps || r->prefix_len > sizeof(r->prefix) ||
		    !ends_within(r->path_prefix, sizeof(r->path_prefix)) ||
		    !ends_within(r->host, sizeof(r->host)) || !ends_within(r->sni, sizeof(r->sni)) ||
		    !ends_within(r->alpn, sizeof(r->alpn)) ||
		    (r->path_prefix[0] && r->path_prefix[0] != '/'))
			abort();
		if (!r->path_prefix[0] && !r->host[0] && !r->sni[0] && !r->alpn[0] && !r->prefix_len)
			abort();                        /* a rule without a condition */
	}
	for (i = 0; i < c->n_apps; i++) {
		const struct cb_app_cfg *a = &c->apps[i];

		if (!ends_within(a->name, sizeof(a->name)) || !cb_config_name_ok(a->name) ||
		    cb_config_app(c, a->name) != i || !ends_within(a->command, sizeof(a->command)) ||
		    (a->inetd && !a->command[0]))
			abort();
	}
	for (i = 0; i < c->n_nodes; i++) {
		const struct cb_node_cfg *n = &c->nodes[i];

		if (!ends_within(n->name, sizeof(n->name)) || !cb_config_name_ok(n->name) ||
		    cb_config_node(c, n->name) != i || !ends_within(n->control, sizeof(n->control)) ||
		    n->id < 1 || n->id >= CB_MAX_PEERS || !n->control[0] ||
		    (c->n_services < 64 && n->services >> c->n_services))
			abort();
		for (j = 0; j < i; j++)
			if (c->nodes[j].id == n->id)
				abort();
	}
	if (c->n_nodes > 1 && (!c->cluster[0] || !c->psk_file[0]))
		abort();

	if (base_ok && cb_config_diff(&base, c, say, &said) != said)
		abort();
	said = 0;
	if (cb_config_diff(c, c, say, &said) || said)
		abort();
	/* make each node this one, on a copy */
	for (i = 0; i < c->n_nodes; i++) {
		memcpy(copy, c, sizeof(*copy));
		if (cb_config_set_node(copy, c->nodes[i].name, err2, sizeof(err2)) || copy->self != i)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t lines = 1, i;
	int r1, r2, rf, has_nul = memchr(data, 0, size) != NULL;

	if (memfd < 0) {
		memfd = memfd_create("fuzz.conf", 0);
		if (memfd < 0)
			abort();
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", memfd);
		memset(sentinel, 0x5a, sizeof(sentinel));
		base_ok = !cb_config_parse(example, NAME, &base, err1, sizeof(err1));
	}
	if (size + 1 > text_cap) {
		free(text);
		text_cap = size + 1;
		text = malloc(text_cap);
		if (!text)
			abort();
	}
	memcpy(text, data, size);
	text[size] = 0;
	for (i = 0; i < size && data[i]; i++)
		lines += data[i] == '\n';

	memcpy(err1, sentinel, sizeof(err1));
	r1 = cb_config_parse(text, NAME, &c1, err1, sizeof(err1));
	if (r1 != 0 && r1 != -1)
		abort();
	if (!r1 && memcmp(err1, sentinel, sizeof(err1)))
		abort();                        /* success wrote to err */
	if (r1)
		check_message(err1, lines);

	memcpy(err2, sentinel, sizeof(err2));
	r2 = cb_config_parse(text, NAME, &c2, err2, sizeof(err2));
	if (r2 != r1 || (r1 && strcmp(err1, err2)) || (!r1 && memcmp(&c1, &c2, sizeof(c1))))
		abort();
	if (!r1 && !cb_config_same_cluster(&c1, &c2))
		abort();

	/* the same bytes as a file */
	if (ftruncate(memfd, 0) || pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	memcpy(err2, sentinel, sizeof(err2));
	rf = cb_config_load(fdpath, &c2, err2, sizeof(err2));
	if (memmem(data, size, "include", 7)) {
		/* a file follows its includes (text does not): paths are the
		 * machine's, and relative ones resolve beside the file */
	} else if (has_nul) {
		if (rf != -1)
			abort();                        /* a NUL byte is refused */
	} else {
		char want[sizeof(err1) + 64];

		if (rf != r1 || (!r1 && memcmp(&c1, &c2, sizeof(c1))))
			abort();
		if (r1) {
			/* the same message, naming the file's path instead */
			snprintf(want, sizeof(want), "%s%s", fdpath, err1 + strlen(NAME));
			if (strncmp(want, err2, sizeof(err2) - 1))
				abort();
		}
	}

	if (!r1)
		check_parsed(&c1);
	return 0;
}
