// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libconnbroker against a scripted controller on a real unix socket. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "connbroker.h"

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
	cr_expect_eq(ntohs(ci.client.sin_port), 40000);
	cr_expect_eq(ci.client.sin_addr.s_addr, inet_addr("198.18.0.1"));
	/* the fd is a working descriptor of the same pipe */
	cr_assert_eq(write(p[1], "hello", 5), 5);
	cr_expect_eq(read(fd, buf, sizeof(buf)), 5);
	cr_expect_str_eq(buf, "hello");
	close(fd);
	/* a message without an fd and bad fields: EPROTO, not a crash */
	cr_expect_eq(cb_app_accept(a, &ci), -1);
	cr_expect_eq(errno, EPROTO);
	/* the controller goes away: ECONNRESET */
	pthread_join(t, NULL);
	cr_expect_eq(cb_app_accept(a, &ci), -1);
	cr_expect_eq(errno, ECONNRESET);
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

Test(libconnbroker, parse_flow_messages)
{
	struct cb_conn_info ci;

	cr_expect_eq(cb_app_parse_flow("FLOW client=1.2.3.4:5 service=s rule=default app=a bytes=0", &ci), 0);
	cr_expect_str_eq(ci.rule, "default");
	cr_expect_eq(cb_app_parse_flow("FLOW client=1.2.3.4 service=s rule=r app=a bytes=1", &ci), -1);
	cr_expect_eq(cb_app_parse_flow("FLOW client=1.2.3.4:70000 service=s rule=r app=a bytes=1", &ci), -1);
	cr_expect_eq(cb_app_parse_flow("FLOW service=s rule=r app=a bytes=1", &ci), -1);
	cr_expect_eq(cb_app_parse_flow("HELLO client=1.2.3.4:5 service=s rule=r app=a bytes=1", &ci), -1);
	cr_expect_eq(cb_app_parse_flow("FLOW client=1.2.3.4:5 xservice=s rule=r app=a bytes=1", &ci), -1);
}
