// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Every command's usage, in one table (usage.h). */
#include <string.h>
#include <connbroker/shared.h>
#include "cli/usage.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const struct cb_opt_doc attach_opts[] = {
	{ "-s, --service VIP:PORT", "a service: IPv4:PORT or [IPv6]:PORT, e.g. 198.18.0.10:80 or\n"
				    "[2001:db8::10]:80; repeat for more (up to " STR(CB_MAX_SERVICES) ")" },
	{ "--config FILE", "every address the [service] sections of the controller's\n"
			   "FILE listen on (one place to declare them)" },
	{ "-m, --mode MODE", "native: XDP in the driver (default); skb: generic XDP;\n"
			     "tc: clsact ingress" },
	{ "--mss N", "MSS offered in the SYN-ACK (536..9000; default: the interface's\n"
		     "MTU - 40, as the kernel offers)" },
	{ "--wscale N", "window scale offered (0..14; default: what the kernel offers,\n"
			"from net.ipv4.tcp_rmem and net.core.rmem_max)" },
	{ "--flow-cap BYTES", "bytes an unbound flow may queue, also its receive window\n"
			      "(1460.." STR(CB_STASH_BYTES) ", default " STR(CB_STASH_BYTES) ")" },
	{ "--rst-rate N", "RSTs per second and CPU answering segments of unknown\n"
			  "connections to a service, as the kernel answers them\n"
			  "(0 = never; default " STR(CB_RST_RATE_DEFAULT) ")" },
	{ "--no-csum-verify", "acknowledge data without checking its TCP checksum (for paths\n"
			      "that deliver partial checksums, e.g. veth with tx offload)" },
	{ "--no-controller DURATION|hold", "fail closed: once no controller has run for DURATION\n"
					   "(800ms..1h, default 2s), SYNs and handshake ACKs to\n"
					   "the services get an RST; hold: accept and hold them\n"
					   "for a controller to come (as [broker] no_controller)" },
	{ "--replace", "over a live attachment, load this build's programs and swap\n"
		       "them in even if the running ones are this build's (they are\n"
		       "swapped anyway when they are another build's)" },
	{ "--flows N", "connections the flow table holds (1024..16777216, default\n"
		       STR(CB_MAX_FLOWS) ", ~152 bytes each); set at a fresh attach: a\n"
		       "live attachment keeps its table and the flows in it" },
	{ "--workers N|auto", "controller loops, each with its own ring and its share of\n"
			      "the flows (1.." STR(CB_MAX_WORKERS) ", auto: one per CPU; default 1); set\n"
			      "at a fresh attach, as --flows" },
	{ 0 },
};

static const struct cb_opt_doc detach_opts[] = {
	{ "-f, --force", "also remove connbroker programs that no pins record (orphans,\n"
			 "e.g. after the pin directory was removed by hand)" },
	{ 0 },
};

static const struct cb_opt_doc events_opts[] = {
	{ "-n, --count N", "stop after N records" },
	{ "-t, --timeout SECONDS", "stop after SECONDS without a record (1..86400)" },
	{ "-f, --force", "read even while a controller consumes this interface's ring:\n"
			 "what is read here is lost to it (its flows wait, then time out)" },
	{ 0 },
};

static const struct cb_opt_doc run_opts[] = {
	{ "-c, --config FILE", "the configuration (connbroker.conf(5)); SIGHUP reloads it" },
	{ "-i, --interface IFNAME", "the interface (default: [broker] interface of FILE)" },
	{ "-s, --socket PATH", "the apps' socket (default: /run/connbroker/IFNAME.sock)" },
	{ "-m, --metrics IP:PORT|off", "the Prometheus endpoint (default: metrics of FILE, else\n"
				       "127.0.0.1:9464)" },
	{ "-n, --node NAME", "which [node] of the configuration this is (a cluster)" },
	{ 0 },
};

#define CTL_TARGET_OPTS                                                                   \
	{ "-i, --interface IFNAME", "the controller of IFNAME (default: $CONNBROKER_IFACE,\n" \
				    "else eth0)" },                                            \
	{ "-s, --socket PATH", "the controller's apps' socket, instead" }

static const struct cb_opt_doc drain_opts[] = {
	{ "-o, --off", "NODE takes connections again" },
	{ "-w, --wait SECONDS", "wait until NODE serves no connection; exit 1 if it still does\n"
				"after SECONDS" },
	CTL_TARGET_OPTS,
	{ 0 },
};

static const struct cb_opt_doc migrate_opts[] = {
	CTL_TARGET_OPTS,
	{ 0 },
};

static const struct cb_opt_doc exec_opts[] = {
	{ "-a, --app NAME", "the [app] whose connections CMD gets (required)" },
	{ "-p, --port PORT[,PORT...]", "ports to capture (default: those of the config's\n"
				       "services that route to NAME)" },
	{ "-c, --config FILE", "the controller's configuration (default\n"
			       "/etc/connbroker/connbroker.conf)" },
	{ "-s, --socket PATH", "the controller's app socket (default: $CONNBROKER_SOCKET,\n"
			       "else the default for the config's interface)" },
	{ "-i, --interface IFNAME", "the interface whose controller's socket to use" },
	{ 0 },
};

static const struct cb_opt_doc help_opts[] = {
	{ "--man", "connbroker(8) in roff, from the same text as every --help" },
	{ "--man5", "connbroker.conf(5) in roff, from the same table as help config" },
	{ "--bash-completion", "a bash completion script, from the same table" },
	{ 0 },
};

const struct cb_opt_doc cb_global_opts[] = {
	{ "-j, --json", "JSON output; a failure is {\"error\":MESSAGE,\"command\":CMD}\n"
			"on stdout" },
	{ "-v, --verbose", "more messages (twice, or -vv: libbpf's and libxdp's debug)" },
	{ "-h, --help", "the usage (of the command, when after one)" },
	{ "-V, --version", "the versions, as `connbroker version`" },
	{ 0 },
};

const struct cb_cmd_doc cb_cmd_docs[] = {
	{ .name = "attach",
	  .args = "IFNAME {--service VIP:PORT ... | --config FILE}\n"
		  "[--mode native|skb|tc] [--mss N] [--wscale N] [--flow-cap BYTES]\n"
		  "[--rst-rate N] [--no-csum-verify] [--no-controller DURATION|hold]\n"
		  "[--flows N] [--workers N] [--replace]",
	  .summary = "attach the datapath to an interface for the given services",
	  .opts = attach_opts,
	  .notes = "Attaching again updates the services and settings, and upgrades in place:\n"
		   "programs of another build (same map layout) are replaced atomically, the\n"
		   "pinned maps and every held, local and steered flow kept.  Another map layout\n"
		   "is re-attached (its flows dropped, with a warning); another mode fails (detach\n"
		   "first).  With --config, the file's [broker] mode, mss, wscale, flow_cap,\n"
		   "flows, rst_rate, csum_verify and no_controller apply where no option is\n"
		   "given, so a reload (systemctl reload) keeps them." },
	{ .name = "detach", .args = "IFNAME [--force]",
	  .summary = "remove programs, pins and the clsact qdisc connbroker created",
	  .opts = detach_opts,
	  .notes = "Only this network namespace's attachment: pins are per namespace." },
	{ .name = "status", .args = "[IFNAME]",
	  .summary = "what is attached: mode, pins, services, flows, counters, the controller",
	  .notes = "Every interface of this network namespace, or IFNAME (exit 1 when not\n"
		   "attached); with -j a JSON array of one object per interface." },
	{ .name = "flows", .args = "IFNAME", .summary = "the flow table of an interface" },
	{ .name = "events", .args = "IFNAME [--count N] [--timeout SECONDS] [--force]",
	  .summary = "ring-buffer records (open, data, close): a debugging tool",
	  .opts = events_opts,
	  .notes = "The records are consumed, not copied: while a controller (connbroker run) runs\n"
		   "on IFNAME, events refuses to start (exit 1), and stops when one starts, unless\n"
		   "--force.  Stops on SIGINT or SIGTERM, or when IFNAME is detached." },
	{ .name = "secret", .args = "rotate IFNAME",
	  .summary = "new SYN-cookie secret; cookies made with the old one stay valid" },
	{ .name = "check-config", .args = "FILE",
	  .summary = "validate a controller configuration and list what it declares",
	  .notes = "Errors carry their line numbers; exit 1 when FILE is not valid." },
	{ .name = "run",
	  .args = "--config FILE [--interface IFNAME] [--socket PATH]\n"
		  "[--metrics IP:PORT|off] [--node NAME]",
	  .summary = "the controller: apps register with it, it hands them their connections",
	  .opts = run_opts,
	  .notes = "SIGHUP reloads FILE; SIGTERM and SIGINT stop.  One controller per interface\n"
		   "and network namespace." },
	{ .name = "drain",
	  .args = "NODE [--off] [--wait SECONDS]\n[--interface IFNAME | --socket PATH]",
	  .summary = "NODE takes no new connections; those its apps release move",
	  .opts = drain_opts },
	{ .name = "migrate",
	  .args = "CLIENT_IP:PORT APP|APP@NODE|@NODE\n[--interface IFNAME | --socket PATH]",
	  .summary = "move one live connection to another app or node", .opts = migrate_opts,
	  .notes = "CLIENT_IP:PORT is the client's end: IPv4:PORT or [IPv6]:PORT." },
	{ .name = "exec",
	  .args = "--app NAME [--port PORT[,PORT...]] [--config FILE] [--socket PATH]\n"
		  "[--interface IFNAME] -- CMD [ARGS...]",
	  .summary = "run an unmodified server: its listen()/accept() get connbroker's connections",
	  .opts = exec_opts, .runs_cmd = 1,
	  .notes = "CMD runs in connbroker's place (same pid) with LD_PRELOAD set to\n"
		   "libconnbroker-preload.so ($CONNBROKER_PRELOAD overrides where it is found):\n"
		   "its listen() on a captured port registers app NAME, its accept() and accept4()\n"
		   "receive the sockets connbroker builds, the request already in them." },
	{ .name = "version", .args = "",
	  .summary = "connbroker's version, and the libbpf and libxdp it runs with" },
	{ .name = "help", .args = "[COMMAND | config | --man | --man5 | --bash-completion]",
	  .summary = "this list, or the usage of COMMAND", .opts = help_opts,
	  .notes = "help config: the configuration file's reference, every section and key\n"
		   "(the text of connbroker.conf(5))." },
	{ .name = NULL },
};

const struct cb_cmd_doc *cb_cmd_doc(const char *name)
{
	const struct cb_cmd_doc *d;

	for (d = cb_cmd_docs; d->name; d++)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}

#define WIDTH 80         /* the usages fill lines up to this */
#define OPT_COL 26      /* where the help of an option begins */

/* up to a space or newline outside brackets: "[--interface IFNAME | --socket PATH]" is one */
static int word_len(const char *s)
{
	int n, depth = 0;

	for (n = 0; s[n] && (depth || (s[n] != ' ' && s[n] != '\n')); n++)
		depth += s[n] == '[' ? 1 : s[n] == ']' && depth ? -1 : 0;
	return n;
}

/*
 * s filled from column col to WIDTH, words separated by spaces or newlines
 * (a word longer than a line stands alone, a bracketed group is a word), each
 * line after the first indented by indent columns.
 */
static void fill(FILE *f, const char *s, int col, int indent)
{
	int first = 1;

	while (*s) {
		int n;

		s += strspn(s, " \n");
		n = word_len(s);
		if (!n)
			break;
		if (!first && col + 1 + n > WIDTH) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (!first) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", n, s);
		col += n;
		s += n;
		first = 0;
	}
}

void cb_opts_print(FILE *f, const struct cb_opt_doc *o)
{
	for (; o && o->flag; o++) {
		int w = fprintf(f, "  %s", o->flag);

		if (w > OPT_COL - 2)
			fprintf(f, "\n%*s", OPT_COL, "");
		else
			fprintf(f, "%*s", OPT_COL - w, "");
		fill(f, o->help, OPT_COL, OPT_COL);
		fputc('\n', f);
	}
}

void cb_usage_print(FILE *f, const struct cb_cmd_doc *d)
{
	int w = fprintf(f, "Usage: connbroker %s%s", d->name, *d->args ? " " : "");

	fill(f, d->args, w, w);
	fprintf(f, "\n%s\n", d->summary);
	if (d->opts && d->opts->flag) {
		fprintf(f, "\nOptions:\n");
		cb_opts_print(f, d->opts);
	}
	if (d->notes) {
		fputc('\n', f);
		fill(f, d->notes, 0, 0);
		fputc('\n', f);
	}
}

/* roff text: backslashes doubled, a leading . or ' and every - escaped */
static void roff(FILE *f, const char *s, int join)
{
	int bol = 1;

	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		bol = 0;
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else if (*s == '\n' && join)
			fputc(' ', f);
		else {
			fputc(*s, f);
			bol = *s == '\n';
		}
	}
}

static void man_opts(FILE *f, const struct cb_opt_doc *o)
{
	for (; o && o->flag; o++) {
		fputs(".TP\n.B ", f);
		roff(f, o->flag, 1);
		fputc('\n', f);
		roff(f, o->help, 1);
		fputc('\n', f);
	}
}

/* The long and short options of a flag text: "-s, --service VIP:PORT" ->
 * " -s --service". */
static void bash_flags(FILE *f, const struct cb_opt_doc *o)
{
	for (; o && o->flag; o++) {
		const char *p = o->flag;

		while (*p) {
			size_t n;

			while (*p == ' ' || *p == ',')
				p++;
			n = strcspn(p, " ,");
			if (*p == '-')
				fprintf(f, " %.*s", (int)n, p);
			p += n;
		}
	}
}

void cb_usage_bash(FILE *f)
{
	const struct cb_cmd_doc *d;

	fputs("# bash completion for connbroker, generated by `connbroker help --bash-completion`\n"
	      "# from user/cli/usage.c (the table every --help comes from)\n"
	      "_connbroker() {\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd='' i opts\n"
	      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	      "\t\tcase ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]}; break ;; esac\n"
	      "\tdone\n"
	      "\tcase $prev in\n"
	      "\t--mode) COMPREPLY=($(compgen -W 'native skb tc' -- \"$cur\")); return ;;\n"
	      "\t--config|--socket) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
	      "\t--interface) COMPREPLY=($(compgen -W \"$(ls /sys/class/net 2>/dev/null)\" -- \"$cur\")); return ;;\n"
	      "\tesac\n"
	      "\tif [ -z \"$cmd\" ]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W '", f);
	for (d = cb_cmd_docs; d->name; d++)
		fprintf(f, "%s%s", d == cb_cmd_docs ? "" : " ", d->name);
	bash_flags(f, cb_global_opts);
	fputs("' -- \"$cur\"))\n\t\treturn\n\tfi\n\tcase $cmd in\n", f);
	for (d = cb_cmd_docs; d->name; d++) {
		fprintf(f, "\t%s) opts='", d->name);
		bash_flags(f, d->opts);
		fputs("' ;;\n", f);
	}
	fputs("\t*) opts='' ;;\n\tesac\n"
	      "\tif [[ $cur == -* ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$opts",
	      f);
	bash_flags(f, cb_global_opts);
	fputs("\" -- \"$cur\"))\n"
	      "\telse\n"
	      "\t\t# most commands take an interface\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$(ls /sys/class/net 2>/dev/null)\" -- \"$cur\"))\n"
	      "\tfi\n"
	      "}\n"
	      "complete -F _connbroker connbroker\n", f);
}

void cb_usage_man(FILE *f, const char *version)
{
	const struct cb_cmd_doc *d;

	fprintf(f, ".\\\" generated by `connbroker help --man` from user/cli/usage.c\n"
		   ".TH CONNBROKER 8 \"\" \"connbroker %s\" \"System Administration\"\n"
		   ".SH NAME\nconnbroker \\- eBPF/XDP TCP connection broker\n"
		   ".SH SYNOPSIS\n.B connbroker\n[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]\n"
		   ".br\n.B connbroker help\n[\\fICOMMAND\\fR]\n.br\n.B connbroker \\-\\-version\n"
		   ".SH DESCRIPTION\nconnbroker completes TCP handshakes in XDP or tc, holds each "
		   "connection's first bytes, and hands the connection to the application its rules "
		   "choose, on this node or another.\n"
		   ".SH OPTIONS\nGlobal options go before or after the command (not after "
		   "\\fB\\-\\-\\fR).\n", version);
	man_opts(f, cb_global_opts);
	fputs(".SH COMMANDS\n", f);
	for (d = cb_cmd_docs; d->name; d++) {
		fputs(".SS \"", f);
		roff(f, d->name, 1);
		fputc(' ', f);
		roff(f, d->args, 1);
		fputs("\"\n", f);
		roff(f, d->summary, 1);
		fputs(".\n", f);
		if (d->opts && d->opts->flag) {
			fputs(".RS\n", f);
			man_opts(f, d->opts);
			fputs(".RE\n", f);
		}
		if (d->notes) {
			fputs(".PP\n", f);
			roff(f, d->notes, 1);
			fputc('\n', f);
		}
	}
	fputs(".SH \"EXIT STATUS\"\n0 success, 1 failure, 2 usage error.\n"
	      ".SH \"SEE ALSO\"\n.BR connbroker.conf (5),\n.BR bpftool (8),\n.BR xdp\\-loader (8)\n",
	      f);
}

void cb_conf_print(FILE *f)
{
	const struct cb_conf_section *sec;

	fprintf(f, "connbroker.conf: the configuration file (INI). Comments: lines starting with\n"
		   "; or #, and \" ; \" or \" # \" after a value. Durations: 500, 500ms, 2s, 5m, 1h.\n"
		   "A key or a section given twice is refused, naming both lines.\n");
	for (sec = cb_conf_sections; sec->name; sec++) {
		fprintf(f, "\n%s\n", sec->name);
		cb_opts_print(f, sec->keys);
	}
	fprintf(f, "\nCheck a file with: connbroker check-config FILE\n");
}

void cb_conf_man(FILE *f, const char *version)
{
	const struct cb_conf_section *sec;

	fprintf(f, ".\\\" generated by `connbroker help --man5` from user/cli/conf_doc.c\n"
		   ".TH CONNBROKER.CONF 5 \"\" \"connbroker %s\" \"File Formats\"\n"
		   ".SH NAME\nconnbroker.conf \\- connbroker configuration file\n"
		   ".SH SYNOPSIS\n/etc/connbroker/\\fIIFNAME\\fR.conf\n"
		   ".SH DESCRIPTION\nAn INI file read by \\fBconnbroker run \\-\\-config\\fR, "
		   "\\fBconnbroker attach IFNAME \\-\\-config\\fR and \\fBconnbroker "
		   "check\\-config\\fR. Comments are whole lines starting with ; or #, and \\(dq ; "
		   "\\(dq or \\(dq # \\(dq after a value. Durations take 500, 500ms, 2s, 5m, 1h. A "
		   "key or a section given twice is refused, naming both lines; every error names "
		   "the file and the line.\n", version);
	for (sec = cb_conf_sections; sec->name; sec++) {
		fputs(".SH \"", f);
		roff(f, sec->name, 1);
		fputs("\"\n", f);
		roff(f, sec->intro, 1);
		fputc('\n', f);
		man_opts(f, sec->keys);
	}
	fputs(".SH FILES\n/etc/connbroker/IFNAME.conf (the systemd unit connbroker@IFNAME)\n"
	      ".SH \"SEE ALSO\"\n.BR connbroker (8)\n", f);
}
