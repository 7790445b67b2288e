// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include "repair/tuple.h"
#include "util/parse_util.h"

#ifndef SOCK_DESTROY
#define SOCK_DESTROY 21
#endif
#define CB_TCPF_ALL 0xfff                /* every TCP state */

static void fill_id(struct inet_diag_sockid *id, const union cb_sockaddr *local,
		    const union cb_sockaddr *peer)
{
	memset(id, 0, sizeof(*id));
	id->idiag_cookie[0] = id->idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (local->sa.sa_family == AF_INET6) {
		id->idiag_sport = local->in6.sin6_port;
		id->idiag_dport = peer->in6.sin6_port;
		memcpy(id->idiag_src, &local->in6.sin6_addr, 16);
		memcpy(id->idiag_dst, &peer->in6.sin6_addr, 16);
	} else {
		id->idiag_sport = local->in4.sin_port;
		id->idiag_dport = peer->in4.sin_port;
		id->idiag_src[0] = local->in4.sin_addr.s_addr;
		id->idiag_dst[0] = peer->in4.sin_addr.s_addr;
	}
}

/*
 * One request about one exact tuple; the answer is an inet_diag_msg (found:
 * its state) or an error (0 for a SOCK_DESTROY that worked).
 */
static int diag_request(__u16 type, __u32 states, const union cb_sockaddr *local,
			const union cb_sockaddr *peer)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 req;
	} msg = {
		.nh = { .nlmsg_len = sizeof(msg), .nlmsg_type = type,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .nlmsg_seq = 1 },
		.req = { .sdiag_family = (__u8)local->sa.sa_family, .sdiag_protocol = IPPROTO_TCP,
			 .idiag_states = states },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	char buf[1024];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	ssize_t n;
	int fd, err;

	fill_id(&msg.req.id, local, peer);
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		err = -errno;
		goto out;
	}
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	if ((size_t)n >= NLMSG_LENGTH(sizeof(struct inet_diag_msg)) &&
	    nh->nlmsg_type == SOCK_DIAG_BY_FAMILY)
		err = ((struct inet_diag_msg *)NLMSG_DATA(nh))->idiag_state;
	else if ((size_t)n >= NLMSG_LENGTH(sizeof(struct nlmsgerr)) && nh->nlmsg_type == NLMSG_ERROR)
		err = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
	else
		err = -EPROTO;
out:
	close(fd);
	return err;
}

int cb_timewait_destroy(const union cb_sockaddr *local, const union cb_sockaddr *peer)
{
	return diag_request(SOCK_DESTROY, 1u << TCP_TIME_WAIT, local, peer);
}

int cb_tuple_state(const union cb_sockaddr *local, const union cb_sockaddr *peer)
{
	int state = diag_request(SOCK_DIAG_BY_FAMILY, CB_TCPF_ALL, local, peer);

	/* the kernel's exact lookup falls back to a listener on the local port */
	return state == TCP_LISTEN ? -ENOENT : state;
}

int cb_tuple_state_of(const struct cb_flow_key *k)
{
	union cb_sockaddr local, peer;

	cb_addr_to_sockaddr(&k->daddr, k->dport_be, &local);
	cb_addr_to_sockaddr(&k->saddr, k->sport_be, &peer);
	return cb_tuple_state(&local, &peer);
}

/* States that hold a connection: all but LISTEN, CLOSE, TIME_WAIT, SYN_RECV. */
#define CB_TCPF_CONN ((1u << TCP_ESTABLISHED) | (1u << TCP_SYN_SENT) | (1u << TCP_FIN_WAIT1) | \
		      (1u << TCP_FIN_WAIT2) | (1u << TCP_CLOSE_WAIT) | (1u << TCP_LAST_ACK) | \
		      (1u << TCP_CLOSING))

static int count_msgs(int fd, const union cb_sockaddr *local)
{
	char buf[16384];
	int n = 0;

	for (;;) {
		ssize_t len = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh = (struct nlmsghdr *)buf;

		if (len < 0)
			return -errno;
		for (; NLMSG_OK(nh, (size_t)len); nh = NLMSG_NEXT(nh, len)) {
			const struct inet_diag_msg *m = NLMSG_DATA(nh);

			if (nh->nlmsg_type == NLMSG_DONE)
				return n;
			if (nh->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(nh))->error ?: -EIO;
			/* the kernel filtered by port; the address is checked here */
			if (local->sa.sa_family == AF_INET6
				    ? !memcmp(m->id.idiag_src, &local->in6.sin6_addr, 16)
				    : m->id.idiag_src[0] == local->in4.sin_addr.s_addr)
				n++;
		}
	}
}

int cb_tuple_count_local(const union cb_sockaddr *local)
{
	struct {
		struct nlmsghdr nh;
		struct inet_diag_req_v2 req;
		struct nlattr attr;
		struct inet_diag_bc_op op;      /* source port == ours */
		struct inet_diag_bc_op port;
	} msg = {
		.nh = { .nlmsg_len = sizeof(msg), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.req = { .sdiag_family = (__u8)local->sa.sa_family, .sdiag_protocol = IPPROTO_TCP,
			 .idiag_states = CB_TCPF_CONN },
		.attr = { .nla_len = sizeof(struct nlattr) + 2 * sizeof(struct inet_diag_bc_op),
			  .nla_type = INET_DIAG_REQ_BYTECODE },
		.op = { .code = INET_DIAG_BC_S_EQ, .yes = 2 * sizeof(struct inet_diag_bc_op),
			.no = 2 * sizeof(struct inet_diag_bc_op) + 4 },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	int fd, n;

	msg.port.no = ntohs(local->sa.sa_family == AF_INET6 ? local->in6.sin6_port
							     : local->in4.sin_port);
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	n = sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0
		    ? -errno
		    : count_msgs(fd, local);
	close(fd);
	return n;
}
