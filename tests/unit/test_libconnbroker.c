// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libconnbroker against a scripted controller on a real unix socket. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include "connbroker.h"
#include "../../lib/connbroker_priv.h"

struct fake {
	char path[108];
	int lsock;
	const char *answer;     /* reply to REGISTER */
	int pipe_rd;            /* fd sent with the FLOW message */
	char got[128];
};

static void *controller(void *arg)
{
	struct fake *f = arg;
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	const char *flow = "FLOW client=198.18.0.1:40000 service=shop rule=api app=api bytes=85";
	struct iovec iov = { .iov_base = (void *)flow, .iov_len = strlen(flow) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int c = accept(f->lsock, NULL, NULL);
	ssize_t n = recv(c, f->got, sizeof(f->got) - 1, 0);

	f->got[n > 0 ? n : 0] = 0;
	send(c, f->answer, strlen(f->answer), 0);
	if (!strcmp(f->answer, "OK")) {
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &f->pipe_rd, sizeof(int));
		sendmsg(c, &mh, 0);
		send(c, "FLOW garbage", 12, 0);         /* no fd, bad fields */
	}
	usleep(100000);
	close(c);
	return NULL;
}

static void start(struct fake *f, pthread_t *t, const char *answer)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(f->path, sizeof(f->path), "/tmp/cb-libtest-%d.sock", getpid());
	strcpy(sa.sun_path, f->path);
	unlink(f->path);
	f->lsock = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	cr_assert_eq(bind(f->lsock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(f->lsock, 1), 0);
	f->answer = answer;
	pthread_create(t, NULL, controller, f);
}

Test(libconnbroker, register_and_accept)
{
	struct fake f = { 0 };
	struct cb_conn_info ci;
	pthread_t t;
	int p[2], fd;
	char buf[16] = "";

	cr_assert_eq(pipe(p), 0);
	f.pipe_rd = p[0];
	start(&f, &t, "OK");
	struct cb_app *a = cb_app_register(f.path, "api");

	cr_assert_not_null(a, "register: %s", strerror(errno));
	fd = cb_app_accept(a, &ci);
	cr_assert_geq(fd, 0, "accept: %s", strerror(errno));
	cr_expect_str_eq(ci.service, "shop");
	cr_expect_str_eq(ci.rule, "api");
	cr_expect_str_eq(ci.app, "api");
	cr_expect_eq(ci.request_bytes, 85);
	cr_expect_eq(ci.client.ss_family, AF_INET);
	cr_expect_eq(ntohs(((struct sockaddr_in *)&ci.client)->sin_port), 40000);
	cr_expect_eq(((struct sockaddr_in *)&ci.client)->sin_addr.s_addr, inet_addr("198.18.0.1"));
	/* the fd is a working descriptor of the same pipe */
	cr_assert_eq(write(p[1], "hello", 5), 5);
	cr_expect_eq(read(fd, buf, sizeof(buf)), 5);
	cr_expect_str_eq(buf, "hello");
	close(fd);
	/* a message without an fd and bad fields: EPROTO, not a crash */
	cr_expect_eq(cb_app_accept(a, &ci), -1);
	cr_expect_eq(errno, EPROTO);
	/* the controller goes away: no error, the library registers again
	 * (tests/unit/test_app_reconnect.c); non-blocking, EAGAIN meanwhile */
	pthread_join(t, NULL);
	cr_assert_eq(cb_app_set_nonblock(a, 1), 0);
	cr_expect_eq(cb_app_accept(a, &ci), -1);
	cr_expect_eq(errno, EAGAIN);
	cr_expect_not(cb_app_registered(a));
	cr_expect_str_eq(f.got, "REGISTER api");
	cb_app_close(a);
	close(p[0]);
	close(p[1]);
	close(f.lsock);
	unlink(f.path);
}

Test(libconnbroker, refused_registration)
{
	struct fake f = { 0 };
	pthread_t t;

	start(&f, &t, "ERR not allowed (SO_PEERCRED)");
	cr_expect_null(cb_app_register(f.path, "api"));
	cr_expect_eq(errno, ECONNREFUSED);
	pthread_join(t, NULL);
	close(f.lsock);
	unlink(f.path);
	cr_expect_null(cb_app_register("/nonexistent/x.sock", "api"));
	cr_expect_eq(errno, ENOENT);
}

/* A controller that takes the connection and never answers (stopped, stuck):
 * the first registration fails with ETIMEDOUT after the bound, not never. */
Test(libconnbroker, silent_controller_times_out, .timeout = 10)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec t0, t1;
	int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	long ms;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/cb-libtest-silent-%d.sock", getpid());
	unlink(sa.sun_path);
	cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(l, 4), 0);      /* the kernel completes connect(); nobody reads */
	setenv("CONNBROKER_REGISTER_TIMEOUT_MS", "300", 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_null(cb_app_register(sa.sun_path, "api"));
	cr_expect_eq(errno, ETIMEDOUT, "errno %d (%s)", errno, strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_expect(ms >= 250 && ms < 3000, "waited %ld ms for a 300 ms bound", ms);
	unsetenv("CONNBROKER_REGISTER_TIMEOUT_MS");
	close(l);
	unlink(sa.sun_path);
}

static int parse(const char *msg, struct cb_conn_info *ci)
{
	return cb_app_parse_flow(msg, strlen(msg), ci);
}

Test(libconnbroker, parse_flow_messages)
{
	struct cb_conn_info ci;

	cr_expect_eq(parse("FLOW client=1.2.3.4:5 service=s rule=default app=a bytes=0", &ci), 0);
	cr_expect_str_eq(ci.rule, "default");
	cr_expect_eq(parse("FLOW client=1.2.3.4 service=s rule=r app=a bytes=1", &ci), -1);
	cr_expect_eq(parse("FLOW client=1.2.3.4:70000 service=s rule=r app=a bytes=1", &ci), -1);
	cr_expect_eq(parse("FLOW service=s rule=r app=a bytes=1", &ci), -1);
	cr_expect_eq(parse("HELLO client=1.2.3.4:5 service=s rule=r app=a bytes=1", &ci), -1);
	cr_expect_eq(parse("FLOW client=1.2.3.4:5 xservice=s rule=r app=a bytes=1", &ci), -1);
}

Test(libconnbroker, parse_route_moves_and_blob)
{
	static struct cb_conn_info ci;
	char msg[600];
	int n;

	cr_expect_eq(parse("FLOW client=1.2.3.4:5 service=s rule=r app=a bytes=9 route=per-request", &ci), 0);
	cr_expect_eq(ci.per_request, 1);
	cr_expect_eq(ci.blob_len, 0);
	cr_expect_eq(parse("FLOW client=1.2.3.4:5 service=s rule=r app=a bytes=9 route=per-connection", &ci), 0);
	cr_expect_eq(ci.per_request, 0);
	cr_expect_eq(parse("FLOW client=1.2.3.4:5 service=s rule=r app=a bytes=9 route=sometimes", &ci), -1);
	cr_expect_eq(errno, EPROTO);
	/* a name that merely contains a key is not that key */
	cr_expect_eq(parse("FLOW client=1.2.3.4:5 service=myblob rule=xblob app=a bytes=1", &ci), 0);
	cr_expect_eq(ci.blob_len, 0);
	/* the blob: exactly N bytes after the newline, binary */
	n = snprintf(msg, sizeof(msg), "FLOW client=1.2.3.4:5 service=s rule=r app=a bytes=0 blob=4\n");
	memcpy(msg + n, "a\0\nb", 4);
	cr_expect_eq(cb_app_parse_flow(msg, (size_t)n + 4, &ci), 0);
	cr_expect_eq(ci.blob_len, 4);
	cr_expect_eq(memcmp(ci.blob, "a\0\nb", 4), 0);
	cr_expect_eq(cb_app_parse_flow(msg, (size_t)n + 3, &ci), -1, "a blob cut short");
	cr_expect_eq(cb_app_parse_flow(msg, (size_t)n + 4 + 1, &ci), -1, "bytes after the blob");
	cr_expect_eq(parse("FLOW client=1.2.3.4:5 service=s rule=r app=a bytes=0\nextra", &ci), -1);
	cr_expect_eq(parse("FLOW client=1.2.3.4:5 service=s rule=r app=a bytes=0 blob=4097\n", &ci), -1);
	cr_expect_eq(parse("FLOW client=1.2.3.4:5 service=s rule=r app=a bytes=0 blob=-1\n", &ci), -1);
	cr_expect_eq(parse("FLOW client=1.2.3.4:5 service=s rule=r app=a bytes=x", &ci), -1);
	/* the largest blob fits */
	n = snprintf(msg, sizeof(msg), "FLOW client=1.2.3.4:5 service=s rule=r app=a bytes=0 blob=%d\n",
		     CB_APP_BLOB_MAX);
	{
		static char big[600 + CB_APP_BLOB_MAX];

		memcpy(big, msg, (size_t)n);
		memset(big + n, 'z', CB_APP_BLOB_MAX);
		cr_expect_eq(cb_app_parse_flow(big, (size_t)n + CB_APP_BLOB_MAX, &ci), 0);
		cr_expect_eq(ci.blob_len, CB_APP_BLOB_MAX);
		cr_expect_eq(ci.blob[CB_APP_BLOB_MAX - 1], 'z');
	}
}

/* A controller that takes one RELEASE: its text, blob and fd. */
struct releaser {
	int sock;
	char got[256 + CB_APP_BLOB_MAX];
	ssize_t n;
	int fd;
};

static void *take_release(void *arg)
{
	struct releaser *r = arg;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = r->got, .iov_len = sizeof(r->got) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;

	r->fd = -1;
	r->n = recvmsg(r->sock, &mh, 0);
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_type == SCM_RIGHTS)
			memcpy(&r->fd, CMSG_DATA(cm), sizeof(int));
	return NULL;
}

Test(libconnbroker, release_sends_fd_target_and_blob)
{
	static struct releaser r;
	struct fake f = { 0 };
	struct cb_conn_info ci;
	pthread_t t, rt;
	int p[2], fd, c;
	char buf[8] = "";

	cr_assert_eq(pipe(p), 0);
	f.pipe_rd = p[0];
	start(&f, &t, "OK");
	struct cb_app *a = cb_app_register(f.path, "api");

	cr_assert_not_null(a);
	fd = cb_app_accept(a, &ci);
	cr_assert_geq(fd, 0);
	/* bad arguments: EINVAL, and the fd is closed all the same */
	c = dup(fd);
	cr_expect_eq(cb_app_release(a, c, NULL, "x", CB_APP_BLOB_MAX + 1), -1);
	cr_expect_eq(errno, EINVAL);
	cr_expect_eq(fcntl(c, F_GETFD), -1, "the fd was closed");
	cr_expect_eq(cb_app_release(a, dup(fd), "two words", NULL, 0), -1);
	cr_expect_eq(errno, EINVAL);
	pthread_join(t, NULL);
	close(f.lsock);
	unlink(f.path);

	/* a real release on a connected pair */
	int sp[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	struct cb_app *b = cb_app_register(NULL, NULL);     /* EINVAL: no app */

	cr_expect_null(b);
	r.sock = sp[1];
	pthread_create(&rt, NULL, take_release, &r);
	{
		/* an app handle over sp[0], as register would leave it */
		struct cb_app *h = a;
		int old = cb_app_socket(h);

		dup2(sp[0], old);
		cr_expect_eq(cb_app_release(h, fd, "web", "st\0te", 5), 0);
	}
	pthread_join(rt, NULL);
	cr_expect_eq(r.n, (ssize_t)strlen("RELEASE to=web blob=5\n") + 5);
	cr_expect_eq(memcmp(r.got, "RELEASE to=web blob=5\nst\0te", r.n), 0);
	cr_assert_geq(r.fd, 0, "the fd travelled");
	cr_assert_eq(write(p[1], "moved", 5), 5);
	cr_expect_eq(read(r.fd, buf, sizeof(buf)), 5, "it is the same pipe");
	close(r.fd);
	/* the longest target and the largest blob fit (no overflow, all sent) */
	{
		static char to[128], blob[CB_APP_BLOB_MAX];

		memset(to, 'a', 127);
		memset(to + 60, '@', 1);
		memset(blob, 'b', sizeof(blob));
		pthread_create(&rt, NULL, take_release, &r);
		cr_expect_eq(cb_app_release(a, dup(p[0]), to, blob, sizeof(blob)), 0);
		pthread_join(rt, NULL);
		cr_expect_eq(r.n, (ssize_t)(strlen("RELEASE to= blob=4096\n") + 127 + CB_APP_BLOB_MAX));
		cr_expect_eq(r.got[r.n - 1], 'b');
		close(r.fd);
	}
	cb_app_close(a);
	close(sp[0]);
	close(sp[1]);
	close(p[0]);
	close(p[1]);
}

/* client=[v6]:port (docs/app-protocol.md) into a sockaddr_in6; bad forms
 * refused. */
Test(libconnbroker, parse_flow_ipv6_client)
{
	static const char *bad[] = {
		"2001:db8::1:40000", "[2001:db8::1]", "[2001:db8::1]:0", "[x]:80", "[]:80",
		"[2001:db8::1:80", "2001:db8::1]:80", "[2001:db8::1]:70000", "[2001:db8::1]:-1",
		"[198.18.0.1]:80", "[2001:db8::1]:", "[2001:db8::1]80",
	};
	struct cb_conn_info ci;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ci.client;
	struct in6_addr want;
	char msg[256];
	size_t i;

	cr_assert_eq(parse("FLOW client=[2001:db8::1]:40000 service=s rule=r app=a bytes=7", &ci), 0);
	cr_expect_eq(ci.client.ss_family, AF_INET6);
	cr_expect_eq(ntohs(s6->sin6_port), 40000);
	cr_assert_eq(inet_pton(AF_INET6, "2001:db8::1", &want), 1);
	cr_expect_eq(memcmp(&s6->sin6_addr, &want, 16), 0);
	cr_expect_eq(ci.request_bytes, 7);
	cr_expect_str_eq(ci.service, "s");
	cr_assert_eq(parse("FLOW client=[::1]:1 service=s rule=r app=a bytes=0", &ci), 0);
	cr_expect_eq(ci.client.ss_family, AF_INET6);
	cr_expect_eq(ntohs(s6->sin6_port), 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(msg, sizeof(msg), "FLOW client=%s service=s rule=r app=a bytes=0", bad[i]);
		cr_expect_eq(parse(msg, &ci), -1, "accepted %s", bad[i]);
	}
}

/* ASK client=... from the controller: cb_app_accept_or_ask reports it, with
 * an IPv6 or an IPv4 client; a bad client is a protocol error. */
Test(libconnbroker, ask_with_ipv6_and_ipv4_clients)
{
	struct fake f = { 0 };
	struct cb_conn_info ci;
	struct cb_release_ask ask;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ask.client;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ask.client;
	struct in6_addr want;
	pthread_t t;
	int p[2], sp[2], fd;

	cr_assert_eq(pipe(p), 0);
	f.pipe_rd = p[0];
	start(&f, &t, "OK");
	struct cb_app *a = cb_app_register(f.path, "api");

	cr_assert_not_null(a);
	fd = cb_app_accept(a, &ci);
	cr_assert_geq(fd, 0);
	close(fd);
	pthread_join(t, NULL);
	/* from here the app talks to this test over a socket pair */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
	dup2(sp[0], cb_app_socket(a));
	cr_assert_gt(send(sp[1], "ASK client=[2001:db8::1]:40000 to=web", 37, 0), 0);
	cr_assert_eq(cb_app_accept_or_ask(a, &ci, &ask), CB_APP_ASKED);
	cr_expect_eq(ask.client.ss_family, AF_INET6);
	cr_expect_eq(ntohs(s6->sin6_port), 40000);
	cr_assert_eq(inet_pton(AF_INET6, "2001:db8::1", &want), 1);
	cr_expect_eq(memcmp(&s6->sin6_addr, &want, 16), 0);
	cr_expect_str_eq(ask.to, "web");
	cr_assert_gt(send(sp[1], "ASK client=198.18.0.1:40001", 27, 0), 0);
	cr_assert_eq(cb_app_accept_or_ask(a, &ci, &ask), CB_APP_ASKED);
	cr_expect_eq(ask.client.ss_family, AF_INET);
	cr_expect_eq(ntohs(s4->sin_port), 40001);
	cr_expect_eq(s4->sin_addr.s_addr, inet_addr("198.18.0.1"));
	cr_expect_str_eq(ask.to, "");
	cr_assert_gt(send(sp[1], "ASK client=[2001:db8::1] to=web", 31, 0), 0);
	cr_expect_eq(cb_app_accept_or_ask(a, &ci, &ask), -1);
	cr_expect_eq(errno, EPROTO);
	cr_assert_gt(send(sp[1], "ASK client=2001:db8::1:80", 25, 0), 0);
	cr_expect_eq(cb_app_accept_or_ask(a, &ci, &ask), -1);
	cr_expect_eq(errno, EPROTO);
	cb_app_close(a);
	close(sp[0]);
	close(sp[1]);
	close(p[0]);
	close(p[1]);
	close(f.lsock);
	unlink(f.path);
}
