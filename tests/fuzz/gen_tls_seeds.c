// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Writes the seed corpus of fuzz_tls (tests/fuzz/corpus/tls/): real
 * ClientHellos, captured on 127.0.0.1 from the TLS clients on this machine
 * (openssl s_client 1.2 and 1.3, with and without SNI and ALPN, nine ALPN
 * names, a 253-byte SNI, resumption with a session ticket and with a TLS 1.3
 * PSK plus 0-RTT data, curl and Python (OpenSSL), wget (GnuTLS)), then the
 * same handshake re-cut into records at awkward offsets and truncated
 * mid-record.  Each capture: a socket listens on an ephemeral loopback port,
 * the client is started against it, and what arrives until the handshake
 * message is complete is saved (nothing answers, so the client then gives
 * up).  Sessions for the resumption hellos come from an openssl s_server on
 * loopback.  Nothing leaves the machine.  Run once when the seeds should
 * change (the hellos' random bytes differ on every run); the seeds are
 * committed:
 *   cc tests/fuzz/gen_tls_seeds.c -o /tmp/g && /tmp/g tests/fuzz/corpus/tls
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static char tmp[64];

static int write_file(const char *name, const uint8_t *b, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, n, f) != n || fclose(f))
		return perror(path), 1;
	printf("%-40s %5zu bytes\n", name, n);
	return 0;
}

/* sh -c cmd in the background, stdin/stdout/stderr on /dev/null. */
static pid_t spawn(const char *cmd)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		dup2(fd, 0), dup2(fd, 1), dup2(fd, 2);
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void stop(pid_t pid)
{
	kill(-pid, SIGTERM);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Handshake records in b: is the first handshake message complete? */
static int hello_complete(const uint8_t *b, size_t n)
{
	static uint8_t hs[1 << 16];
	size_t off = 0, have = 0;

	while (n - off >= 5) {
		size_t rl = (size_t)b[off + 3] << 8 | b[off + 4];

		if (n - off - 5 < rl || have + rl > sizeof(hs))
			return 0;
		memcpy(hs + have, b + off + 5, rl);
		have += rl;
		off += 5 + rl;
		if (have >= 4 && have >= 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]))
			return 1;
	}
	return 0;
}

/*
 * Start fmt (a shell command: %1$d the port, %2$s and %3$s a1 and a2)
 * against a loopback listener and keep what it sends until its hello is
 * complete, plus what follows within 500 ms when `more` (0-RTT data).
 * Returns the length, 0 on failure.
 */
static size_t capture(uint8_t *buf, size_t cap, int more, const char *fmt, const char *a1,
		      const char *a2)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	char cmd[2048];
	size_t n = 0;
	int ls, c = -1;
	long until = 0;
	pid_t pid;
	struct pollfd p;

	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1) ||
	    getsockname(ls, (struct sockaddr *)&a, &al))
		return perror("listen"), 0;
	snprintf(cmd, sizeof(cmd), fmt, ntohs(a.sin_port), a1 ? a1 : "", a2 ? a2 : "");
	pid = spawn(cmd);
	p = (struct pollfd){ .fd = ls, .events = POLLIN };
	if (poll(&p, 1, 10000) == 1)
		c = accept(ls, NULL, NULL);
	while (c >= 0 && n < cap) {
		long left = until ? until - now_ms() : 3000;
		ssize_t r;

		p = (struct pollfd){ .fd = c, .events = POLLIN };
		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			break;
		r = read(c, buf + n, cap - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (!until && hello_complete(buf, n)) {
			if (!more)
				break;
			until = now_ms() + 500;
		}
	}
	if (c >= 0)
		close(c);
	close(ls);
	stop(pid);
	if (!n || !hello_complete(buf, n))
		fprintf(stderr, "capture failed: %s\n", cmd);
	return hello_complete(buf, n) ? n : 0;
}

/* A session file for resumption: one full handshake with s_server on loopback. */
static int session(const char *version, const char *alpn, const char *out)
{
	char cmd[1024];
	int port = 20000 + (int)(getpid() % 20000), rc;
	pid_t srv;

	snprintf(cmd, sizeof(cmd),
		 "sleep 4 | openssl s_server -accept 127.0.0.1:%d -cert %s/cert.pem -key %s/key.pem "
		 "-%s -alpn %s -early_data -naccept 1", port, tmp, tmp, version, alpn);
	srv = spawn(cmd);
	usleep(700000);
	/* sleep: a TLS 1.3 ticket arrives after the handshake */
	snprintf(cmd, sizeof(cmd),
		 "sleep 1.5 | openssl s_client -connect 127.0.0.1:%d -servername shop.example -%s "
		 "-alpn %s -sess_out %s >/dev/null 2>&1", port, version, alpn, out);
	rc = system(cmd);
	stop(srv);
	if (access(out, R_OK))
		return fprintf(stderr, "no session from s_server (%s, rc %d)\n", version, rc), 1;
	return 0;
}

/*
 * The handshake bytes of one record-framed hello (a single record) re-cut
 * into records: cuts[] are offsets into the handshake message.
 */
static size_t recut(const uint8_t *h, size_t n, const size_t *cuts, size_t ncuts, uint8_t *out)
{
	size_t body = (size_t)h[3] << 8 | h[4], from = 0, m = 0, i;

	for (i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : body;

		memcpy(out + m, h, 3);          /* type and record version */
		out[m + 3] = (uint8_t)((to - from) >> 8);
		out[m + 4] = (uint8_t)(to - from);
		memcpy(out + m + 5, h + 5 + from, to - from);
		m += 5 + to - from;
		from = to;
	}
	(void)n;
	return m;
}

/* Offset of the server_name's bytes in the handshake message (after the
 * record header), or 0. */
static size_t sni_offset(const uint8_t *h, size_t n, const char *name)
{
	const uint8_t *p = memmem(h, n, name, strlen(name));

	return p ? (size_t)(p - h) - 5 : 0;
}

int main(int argc, char **argv)
{
	static uint8_t h[8192], f[16384];
	char sess12[128], sess13[128], cmd[512];
	size_t n, m, i, c;
	int err = 0;

	dir = argc > 1 ? argv[1] : ".";
	strcpy(tmp, "/tmp/gen-tls-XXXXXX");
	if (!mkdtemp(tmp))
		return perror("mkdtemp"), 1;
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "
		 "/CN=shop.example -keyout %s/key.pem -out %s/cert.pem 2>/dev/null", tmp, tmp);
	if (system(cmd))
		return fprintf(stderr, "openssl req failed\n"), 1;
	snprintf(sess12, sizeof(sess12), "%s/s12.pem", tmp);
	snprintf(sess13, sizeof(sess13), "%s/s13.pem", tmp);

#define S_CLIENT "timeout 5 openssl s_client -connect 127.0.0.1:%1$d "
#define CAP(name, more, fmt, a1, a2) do { \
		size_t len_ = capture(h, sizeof(h), more, fmt, a1, a2); \
		err |= !len_ || write_file(name, h, len_); \
	} while (0)
	CAP("tls13-sni-alpn-openssl", 0, S_CLIENT "-servername shop.example -alpn h2,http/1.1",
	    NULL, NULL);
	CAP("tls13-nosni-openssl", 0, S_CLIENT "-noservername", NULL, NULL);
	CAP("tls13-mixedcase-sni-openssl", 0, S_CLIENT "-tls1_3 -servername Shop.EXAMPLE -alpn h2",
	    NULL, NULL);
	CAP("tls13-nine-alpn-openssl", 0, S_CLIENT "-servername many.example "
	    "-alpn h2,http/1.1,http/1.0,spdy/3,acme-tls/1,imap,pop3,smtp,xmpp-client", NULL, NULL);
	CAP("tls13-long-sni-openssl", 0, S_CLIENT "-servername "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", NULL, NULL);
	CAP("tls12-sni-alpn-openssl", 0, S_CLIENT "-tls1_2 -servername api.example -alpn http/1.1",
	    NULL, NULL);
	CAP("tls12-nosni-openssl", 0, S_CLIENT "-tls1_2 -noservername", NULL, NULL);
	CAP("tls12-groups-ciphers-openssl", 0, S_CLIENT "-tls1_2 -servername legacy.example "
	    "-cipher ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA -groups P-256", NULL, NULL);
	CAP("curl-openssl", 0, "timeout 5 curl -sk --resolve curl.example:%1$d:127.0.0.1 "
	    "https://curl.example:%1$d/", NULL, NULL);
	CAP("wget-gnutls-localhost", 0, "timeout 5 wget -4 -q -t1 --no-check-certificate "
	    "-O /dev/null https://localhost:%1$d/", NULL, NULL);
	CAP("python-ssl", 0, "timeout 5 python3 -c 'import socket, ssl, sys\n"
	    "c = ssl.create_default_context(); c.check_hostname = False; c.verify_mode = ssl.CERT_NONE\n"
	    "c.set_alpn_protocols([\"h2\", \"http/1.1\"])\n"
	    "s = socket.create_connection((\"127.0.0.1\", %1$d))\n"
	    "c.wrap_socket(s, server_hostname=\"py.example\")'",
	    NULL, NULL);
	if (!session("tls1_2", "h2", sess12))
		CAP("tls12-resume-ticket-openssl", 0, S_CLIENT "-tls1_2 -servername shop.example "
		    "-alpn h2 -sess_in %2$s", sess12, NULL);
	else
		err = 1;
	if (!session("tls1_3", "h2", sess13)) {
		CAP("tls13-resume-psk-openssl", 0, S_CLIENT "-tls1_3 -servername shop.example "
		    "-alpn h2 -sess_in %2$s", sess13, NULL);
		snprintf(cmd, sizeof(cmd), "printf 'GET / HTTP/1.1' > %s/early.txt", tmp);
		err |= system(cmd) != 0;
		/* the hello, a ChangeCipherSpec and 0-RTT application data */
		CAP("tls13-resume-early-data-openssl", 1, S_CLIENT "-tls1_3 -servername shop.example "
		    "-alpn h2 -sess_in %2$s -early_data %3$s/early.txt", sess13, tmp);
	} else {
		err = 1;
	}

	/* one hello, re-cut and truncated */
	n = capture(h, sizeof(h), 0, S_CLIENT "-servername split.example -alpn h2,http/1.1", NULL,
		    NULL);
	if (!n || (size_t)(h[3] << 8 | h[4]) + 5 != n)
		return fprintf(stderr, "no single-record hello to cut\n"), 1;
	c = sni_offset(h, n, "split.example");
	{
		const size_t one[] = { 1 }, four[] = { 4 }, three[] = { 3, 5 }, sni[] = { c + 5 };
		const size_t last[] = { n - 5 - 1 };

		m = recut(h, n, one, 1, f);
		err |= write_file("split-records-after-1-byte", f, m);
		m = recut(h, n, four, 1, f);
		err |= write_file("split-records-after-handshake-header", f, m);
		m = recut(h, n, three, 2, f);
		err |= write_file("split-records-inside-handshake-header", f, m);
		m = recut(h, n, sni, 1, f);
		err |= write_file("split-records-inside-sni", f, m);
		m = recut(h, n, last, 1, f);
		err |= write_file("split-records-last-byte-alone", f, m);
	}
	{
		size_t cuts[64], k = 0, body = (size_t)h[3] << 8 | h[4];

		for (i = 16; i < body && k < 64; i += 16)
			cuts[k++] = i;
		m = recut(h, n, cuts, k, f);
		err |= write_file("split-records-every-16-bytes", f, m);
	}
	err |= write_file("truncated-in-record-header", h, 3);
	err |= write_file("truncated-after-handshake-header", h, 9);
	err |= write_file("truncated-inside-sni", h, 5 + c + 4);
	err |= write_file("truncated-last-byte", h, n - 1);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	err |= system(cmd) != 0;
	return err;
}
