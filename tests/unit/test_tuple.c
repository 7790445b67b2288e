// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The kernel's sockets on a tuple (user/repair/tuple.c), against real loopback sockets. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "repair/tuple.h"

static void pair(int *l, int *cli, int *srv, union cb_sockaddr *laddr, union cb_sockaddr *caddr)
{
	socklen_t al = sizeof(laddr->in4);

	memset(laddr, 0, sizeof(*laddr));
	laddr->in4.sin_family = AF_INET;
	laddr->in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*l = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(*l, &laddr->sa, sizeof(laddr->in4)), 0);
	cr_assert_eq(listen(*l, 8), 0);
	cr_assert_eq(getsockname(*l, &laddr->sa, &al), 0);
	*cli = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(*cli, &laddr->sa, sizeof(laddr->in4)), 0);
	*srv = accept(*l, NULL, NULL);
	cr_assert_geq(*srv, 0);
	al = sizeof(caddr->in4);
	cr_assert_eq(getsockname(*cli, &caddr->sa, &al), 0);
}

Test(tuple, count_and_state_of_real_sockets)
{
	union cb_sockaddr laddr, caddr, other;
	int l, cli, srv, cli2, srv2;

	if (geteuid() != 0)
		cr_skip_test("sock_diag of other sockets needs root");
	pair(&l, &cli, &srv, &laddr, &caddr);
	cr_expect_eq(cb_tuple_count_local(&laddr), 1, "one connection on the port (not the listener)");
	cli2 = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(cli2, &laddr.sa, sizeof(laddr.in4)), 0);
	srv2 = accept(l, NULL, NULL);
	cr_expect_eq(cb_tuple_count_local(&laddr), 2);
	cr_expect_eq(cb_tuple_state(&laddr, &caddr), TCP_ESTABLISHED);
	other = caddr;
	other.in4.sin_port = htons(1);
	cr_expect_eq(cb_tuple_state(&laddr, &other), -ENOENT);
	/* the server closes first: its side goes to TIME_WAIT */
	close(srv);
	close(cli);
	usleep(50000);
	cr_expect_eq(cb_tuple_state(&laddr, &caddr), TCP_TIME_WAIT);
	cr_expect_eq(cb_tuple_count_local(&laddr), 1, "TIME_WAIT is not a connection");
	cr_expect_eq(cb_timewait_destroy(&laddr, &caddr), 0);
	cr_expect_eq(cb_tuple_state(&laddr, &caddr), -ENOENT, "destroyed");
	close(srv2);
	close(cli2);
	close(l);
}
