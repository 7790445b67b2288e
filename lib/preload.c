// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libconnbroker-preload.so: an LD_PRELOAD shim that puts an unmodified
 * server behind connbroker (`connbroker exec --app NAME -- CMD ...`).
 *
 * A bind() of a TCP socket (AF_INET or AF_INET6) to one of $CONNBROKER_PORTS
 * is recorded, not done: the port stays free (connbroker's materialized
 * sockets hold VIP:PORT, and their TIME_WAITs would refuse the bind of a
 * server that does not set SO_REUSEADDR, or binds another address of that
 * port, after a restart).  When the
 * server calls listen() on such a socket, the shim registers as app
 * $CONNBROKER_APP with the controller at $CONNBROKER_SOCKET (libconnbroker,
 * linked in) and puts that registration (a SOCK_SEQPACKET unix socket,
 * readable exactly when a FLOW is queued) in place of the listening socket,
 * under the same fd number, with the same O_NONBLOCK and FD_CLOEXEC.  The
 * server's poll/select/epoll on that number keep working; accept() and
 * accept4() on it receive the next FLOW's socket (the request already in
 * its receive queue) and fill the address from the FLOW's client= (the
 * socket's peer: no getpeername() on every connection), as the kernel
 * would on that listener (an IPv4 client on a dual-stack AF_INET6 listener
 * is ::ffff:a.b.c.d; a listener of one family may get clients of both).  ASK messages are skipped.  getsockname() on it
 * gives the address the server bound; getsockopt() answers SO_TYPE,
 * SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN and IPV6_V6ONLY as a TCP listener
 * would; setsockopt() of other than SOL_SOCKET options is accepted and
 * ignored (connections arrive built).  Forked workers share the
 * registration: one SEQPACKET message is one connection, whole.
 *
 * If the controller goes away, the next accept() sees it (EOF), the shim
 * tries to register again at once and then every CB_PL_RETRY_MS: until it
 * succeeds a timerfd stands in the listener's place (readable at each
 * retry), so the server waits rather than spinning; epoll registrations
 * this process made on the fd are moved to each replacement.
 *
 * Fail safe: a socket not on a captured port is never touched; if the
 * controller cannot be reached at listen(), listen() fails with
 * ECONNREFUSED and a message on stderr (rather than listening for nothing).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include "connbroker.h"
#include "connbroker/paths.h"
#include "connbroker_priv.h"
#include "preload.h"

#define CB_PL_MAX_LISTENERS 64
#define CB_PL_MAX_EPOLL 8
#define CB_PL_RETRY_MS 500

#define EXPORT __attribute__((visibility("default")))

struct ep_reg {
	pid_t pid;              /* the process that registered it (epoll fds are
				 * shared with children across fork) */
	int epfd;
	struct epoll_event ev;
};

struct listener {
	int fd;                 /* -1: free slot */
	int family, v6only;
	uint16_t port;
	int listening;          /* 0: bound (recorded, not done), 1: registered */
	int waiting;            /* 1: the controller went away; a timerfd is in place */
	struct sockaddr_storage bound;
	socklen_t bound_len;
	struct ep_reg ep[CB_PL_MAX_EPOLL];
};

static struct listener L[CB_PL_MAX_LISTENERS];
static int n_live;              /* slots in use (a fast "none" check) */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct cb_pl_ports ports;
/* copies: servers rewrite their environment (nginx's setproctitle overwrites it) */
static char app_buf[64], sock_buf[108];
static const char *app_name, *sock_path;

static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_listen)(int, int);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_close)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);
static int (*real_getsockname)(int, struct sockaddr *, socklen_t *);
static int (*real_getpeername)(int, struct sockaddr *, socklen_t *);
static int (*real_getsockopt)(int, int, int, void *, socklen_t *);
static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
static int (*real_epoll_ctl)(int, int, int, struct epoll_event *);

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "connbroker-preload[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strcat(buf, "\n");
	if (write(2, buf, strlen(buf)) < 0)
		return;
}

#define RESOLVE(name) \
	do { if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name); } while (0)

static void resolve(void)
{
	RESOLVE(bind);
	RESOLVE(listen);
	RESOLVE(accept);
	RESOLVE(accept4);
	RESOLVE(close);
	RESOLVE(dup2);
	RESOLVE(dup3);
	RESOLVE(getsockname);
	RESOLVE(getpeername);
	RESOLVE(getsockopt);
	RESOLVE(setsockopt);
	RESOLVE(epoll_ctl);
}

/*
 * This process's pid, asked on every epoll_ctl() of a listener (servers
 * like nginx re-add it on every accept): kept here, not a syscall each
 * time (glibc no longer caches getpid()); a fork()ed child refreshes it.
 */
static pid_t self_pid;

static void pid_refresh(void)
{
	self_pid = getpid();
}

__attribute__((constructor)) static void cb_pl_init(void)
{
	const char *p = getenv("CONNBROKER_PORTS");
	int i;

	resolve();
	pid_refresh();
	pthread_atfork(NULL, NULL, pid_refresh);
	for (i = 0; i < CB_PL_MAX_LISTENERS; i++)
		L[i].fd = -1;
	app_name = getenv("CONNBROKER_APP");
	sock_path = getenv("CONNBROKER_SOCKET");
	if (app_name && strlen(app_name) < sizeof(app_buf))
		app_name = strcpy(app_buf, app_name);
	else if (app_name)
		app_name = "";  /* too long for an app name: refused below */
	if (sock_path && strlen(sock_path) < sizeof(sock_buf))
		sock_path = strcpy(sock_buf, sock_path);
	else if (sock_path)
		say("CONNBROKER_SOCKET is too long for a unix socket path; using the default");
	if (sock_path != sock_buf) {
		/* libconnbroker's default, fixed now: workers may lose $CONNBROKER_IFACE */
		const char *ifn = getenv("CONNBROKER_IFACE");
		char ns[64];

		if (cb_netns_subdir(ns, sizeof(ns)))
			ns[0] = 0;
		snprintf(sock_buf, sizeof(sock_buf), "/run/connbroker/%s%s.sock", ns,
			 ifn && strlen(ifn) < 16 ? ifn : "eth0");
		sock_path = sock_buf;
	}
	if (!p || !app_name || !app_name[0]) {
		if (p || app_name)
			say("CONNBROKER_PORTS and CONNBROKER_APP are both needed; capturing nothing");
		return;
	}
	if (cb_pl_parse_ports(p, &ports)) {
		say("CONNBROKER_PORTS='%s' is not a list of ports; capturing nothing", p);
		memset(&ports, 0, sizeof(ports));
	}
}

/* The listener on fd, or NULL; the caller holds mu or only reads fd. */
static struct listener *find(int fd)
{
	int i;

	if (fd < 0 || !__atomic_load_n(&n_live, __ATOMIC_ACQUIRE))
		return NULL;
	for (i = 0; i < CB_PL_MAX_LISTENERS; i++)
		if (__atomic_load_n(&L[i].fd, __ATOMIC_ACQUIRE) == fd)
			return &L[i];
	return NULL;
}

static void forget(int fd)
{
	struct listener *l;

	if (!find(fd))
		return;         /* the common case (every accepted socket's close): no lock */
	pthread_mutex_lock(&mu);
	if ((l = find(fd))) {
		__atomic_store_n(&l->fd, -1, __ATOMIC_RELEASE);
		__atomic_sub_fetch(&n_live, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&mu);
}

/*
 * Put newfd (closed here) in place of l->fd, keeping its O_NONBLOCK and
 * FD_CLOEXEC and this process's epoll registrations of it.  0 or -1.
 */
static int replace(struct listener *l, int newfd)
{
	int fl = fcntl(l->fd, F_GETFL), fdfl = fcntl(l->fd, F_GETFD), i, err = 0;
	pid_t me = self_pid;

	if (fl < 0 || fdfl < 0)
		err = -1;
	for (i = 0; !err && i < CB_PL_MAX_EPOLL; i++)
		if (l->ep[i].epfd >= 0 && l->ep[i].pid == me)
			real_epoll_ctl(l->ep[i].epfd, EPOLL_CTL_DEL, l->fd, NULL);
	if (!err && real_dup3(newfd, l->fd, fdfl & FD_CLOEXEC ? O_CLOEXEC : 0) < 0)
		err = -1;
	real_close(newfd);
	if (err)
		return -1;
	fcntl(l->fd, F_SETFL, (fcntl(l->fd, F_GETFL) & ~O_NONBLOCK) | (fl & O_NONBLOCK));
	for (i = 0; i < CB_PL_MAX_EPOLL; i++)
		if (l->ep[i].epfd >= 0 && l->ep[i].pid == me &&
		    real_epoll_ctl(l->ep[i].epfd, EPOLL_CTL_ADD, l->fd, &l->ep[i].ev))
			say("fd %d: epoll %d: cannot register again: %s", l->fd, l->ep[i].epfd,
			    strerror(errno));
	return 0;
}

/* A new registration for app_name: its fd, or -1 with errno. */
static int register_app(void)
{
	struct cb_app *a = cb_app_register(sock_path, app_name);
	int fd;

	if (!a)
		return -1;
	/* the socket itself, not cb_app_fd()'s epoll fd: it goes in the
	 * listener's place, and the shim registers again on its own (below) */
	fd = fcntl(cb_app_socket(a), F_DUPFD_CLOEXEC, 0);
	cb_app_close(a);
	return fd;
}

/* 1 when fd is a TCP socket of family (SOCK_STREAM, IPPROTO_TCP). */
static int is_tcp(int fd, int family)
{
	int type = 0, proto = 0, dom = 0;
	socklen_t ol = sizeof(int);

	if (real_getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ol) || type != SOCK_STREAM)
		return 0;
	ol = sizeof(int);
	if (real_getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &ol) || proto != IPPROTO_TCP)
		return 0;
	ol = sizeof(int);
	return !real_getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &ol) && dom == family;
}

/* A new (not yet listening) entry for fd bound to ss: it, or NULL (full). */
static struct listener *add_entry(int fd, const struct sockaddr_storage *ss, socklen_t len, int port)
{
	struct listener *l = NULL;
	int i;

	pthread_mutex_lock(&mu);
	for (i = 0; i < CB_PL_MAX_LISTENERS; i++)
		if (L[i].fd < 0) {
			l = &L[i];
			break;
		}
	if (l) {
		memset(l, 0, sizeof(*l));
		l->family = ss->ss_family;
		l->port = (uint16_t)port;
		l->bound = *ss;
		l->bound_len = len;
		for (i = 0; i < CB_PL_MAX_EPOLL; i++)
			l->ep[i].epfd = -1;
		__atomic_store_n(&l->fd, fd, __ATOMIC_RELEASE);
		__atomic_add_fetch(&n_live, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&mu);
	if (!l)
		say("port %d: more than %d captured sockets; this one is the server's own", port,
		    CB_PL_MAX_LISTENERS);
	return l;
}

/*
 * bind() to a captured port is recorded, not done: the port stays free
 * (connbroker's materialized sockets hold it, and their TIME_WAITs would
 * refuse a bind without SO_REUSEADDR); getsockname() answers it.
 */
EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct sockaddr_storage ss;
	int port;

	resolve();
	if (!ports.n || !addr || len < sizeof(sa_family_t) || len > sizeof(ss))
		return real_bind(fd, addr, len);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, addr, len);
	if ((port = cb_pl_sockaddr_port(&ss, len)) <= 0 || !cb_pl_port_in(&ports, (uint16_t)port) ||
	    !is_tcp(fd, ss.ss_family))
		return real_bind(fd, addr, len);
	if (find(fd)) {
		errno = EINVAL;         /* bound already, as the kernel says */
		return -1;
	}
	return add_entry(fd, &ss, len, port) ? 0 : real_bind(fd, addr, len);
}

EXPORT int listen(int fd, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss), ol = sizeof(int);
	int v6only = 0, port, c;
	struct listener *l;

	resolve();
	if (!ports.n)
		return real_listen(fd, backlog);
	if ((l = find(fd)) && l->listening)
		return 0;               /* again (a new backlog): nothing to do */
	if (!l) {
		/* bound before the shim saw it (inherited): by its real address */
		if (real_getsockname(fd, (struct sockaddr *)&ss, &len) ||
		    (port = cb_pl_sockaddr_port(&ss, len)) <= 0 ||
		    !cb_pl_port_in(&ports, (uint16_t)port) || !is_tcp(fd, ss.ss_family) ||
		    !(l = add_entry(fd, &ss, len, port)))
			return real_listen(fd, backlog);
	}
	if (l->family == AF_INET6 &&
	    real_getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol))
		v6only = 0;
	c = register_app();
	if (c < 0) {
		say("listen on port %u: cannot register app '%s' with the controller at %s: %s; "
		    "listen() fails (ECONNREFUSED)", l->port, app_name, sock_path, strerror(errno));
		errno = ECONNREFUSED;
		return -1;
	}
	pthread_mutex_lock(&mu);
	l->v6only = v6only;
	if (replace(l, c)) {
		int e = errno;

		pthread_mutex_unlock(&mu);
		errno = e;
		return -1;
	}
	l->listening = 1;
	pthread_mutex_unlock(&mu);
	say("port %u (fd %d): connections of app '%s' from connbroker", l->port, fd, app_name);
	return 0;
}

/*
 * The controller went away (or was never back): register again, else keep
 * a timerfd that fires every CB_PL_RETRY_MS in the listener's place.
 * Returns 0 when registered.
 */
static int reconnect(struct listener *l)
{
	int c = register_app(), t;

	if (c >= 0) {
		if (replace(l, c))
			return -1;
		say("port %u (fd %d): registered again as app '%s'", l->port, l->fd, app_name);
		l->waiting = 0;
		return 0;
	}
	if (l->waiting)
		return -1;      /* the timerfd is there already */
	say("port %u (fd %d): the controller went away; registering app '%s' again every %d ms",
	    l->port, l->fd, app_name, CB_PL_RETRY_MS);
	t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (t >= 0) {
		struct itimerspec its = { .it_interval = { 0, CB_PL_RETRY_MS * 1000000L },
					  .it_value = { 0, CB_PL_RETRY_MS * 1000000L } };

		timerfd_settime(t, 0, &its, NULL);
		if (!replace(l, t))
			l->waiting = 1;
	}
	return -1;
}

static int do_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	char buf[1024], cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct sockaddr_storage peer, shown;
	socklen_t plen = sizeof(peer);
	struct listener *l;
	ssize_t n = 0;
	int nfd;

	resolve();
	if (!(l = find(fd)) || !l->listening)
		return real_accept4(fd, addr, addrlen, flags);
	if (cb_pl_accept_flags_ok(flags))
		return -1;
	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;

		if (l->waiting) {
			uint64_t ticks;
			int r;

			/* blocks on a blocking listener, EAGAIN on a non-blocking one */
			if (read(fd, &ticks, sizeof(ticks)) < 0)
				return -1;
			pthread_mutex_lock(&mu);
			r = l->waiting ? reconnect(l) : 0;
			pthread_mutex_unlock(&mu);
			if (r) {
				if (fcntl(fd, F_GETFL) & O_NONBLOCK) {
					errno = EAGAIN;
					return -1;
				}
				continue;
			}
		}
		n = recvmsg(fd, &mh, flags & SOCK_CLOEXEC ? MSG_CMSG_CLOEXEC : 0);
		if (n < 0 && errno != ECONNRESET)
			return -1;              /* EAGAIN, EINTR: as accept */
		if (n <= 0) {
			pthread_mutex_lock(&mu);
			reconnect(l);
			pthread_mutex_unlock(&mu);
			continue;
		}
		nfd = -1;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			{
				size_t k, nf = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				int fds[4];

				if (nf > 4)
					nf = 4;
				memcpy(fds, CMSG_DATA(cm), nf * sizeof(int));
				for (k = 0; k < nf; k++) {
					if (nfd < 0)
						nfd = fds[k];
					else
						real_close(fds[k]);
				}
			}
		}
		/* a FLOW with its socket; anything else (an ASK) is skipped */
		if (nfd >= 0 && n >= 5 && !memcmp(buf, "FLOW ", 5) && !(mh.msg_flags & MSG_CTRUNC))
			break;
		if (nfd >= 0)
			real_close(nfd);
	}
	/* the status flags a socket accept4() made would have (one call, not
	 * a read then a write: a resumed socket may come with others) */
	fcntl(nfd, F_SETFL, cb_pl_status_flags(0, flags));
	if (addr && addrlen) {
		socklen_t slen;

		if (!cb_pl_flow_client(buf, (size_t)n, &peer, &plen) &&
		    real_getpeername(nfd, (struct sockaddr *)&peer, &plen)) {
			memset(&peer, 0, sizeof(peer));
			plen = sizeof(sa_family_t);
		}
		slen = cb_pl_present_peer(&peer, plen, l->family, l->v6only, &shown);
		cb_pl_copy_addr(&shown, slen, addr, addrlen);
	}
	return nfd;
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	return do_accept(fd, addr, addrlen, 0);
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	return do_accept(fd, addr, addrlen, flags);
}

EXPORT int close(int fd)
{
	resolve();
	forget(fd);
	return real_close(fd);
}

EXPORT int dup2(int oldfd, int newfd)
{
	resolve();
	if (oldfd != newfd)
		forget(newfd);
	return real_dup2(oldfd, newfd);
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	resolve();
	if (oldfd != newfd)
		forget(newfd);
	return real_dup3(oldfd, newfd, flags);
}

EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	struct listener *l;

	resolve();
	if (!(l = find(fd)))
		return real_getsockname(fd, addr, addrlen);
	if (!addr || !addrlen) {
		errno = EFAULT;
		return -1;
	}
	cb_pl_copy_addr(&l->bound, l->bound_len, addr, addrlen);
	return 0;
}

EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	struct listener *l;

	resolve();
	if ((l = find(fd)) && l->listening) {
		errno = ENOTCONN;
		return -1;
	}
	return real_getpeername(fd, addr, addrlen);
}

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct listener *l;
	int v;

	resolve();
	if (!(l = find(fd)) || !l->listening)
		return real_getsockopt(fd, level, name, val, len);
	if (level == SOL_SOCKET && name == SO_TYPE)
		v = SOCK_STREAM;
	else if (level == SOL_SOCKET && name == SO_DOMAIN)
		v = l->family;
	else if (level == SOL_SOCKET && name == SO_PROTOCOL)
		v = IPPROTO_TCP;
	else if (level == SOL_SOCKET && name == SO_ACCEPTCONN)
		v = 1;
	else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY && l->family == AF_INET6)
		v = l->v6only;
	else
		return real_getsockopt(fd, level, name, val, len);
	if (!val || !len || *len < sizeof(int)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(val, &v, sizeof(v));
	*len = sizeof(v);
	return 0;
}

EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct listener *l;

	resolve();
	if (level != SOL_SOCKET && (l = find(fd)) && l->listening)
		return 0;       /* TCP/IP options of a listener: its connections come built */
	return real_setsockopt(fd, level, name, val, len);
}

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	struct listener *l;
	int r, i, e;

	resolve();
	r = real_epoll_ctl(epfd, op, fd, ev);
	if (r || !(l = find(fd)) || !l->listening)
		return r;
	e = errno;
	pthread_mutex_lock(&mu);
	if ((l = find(fd))) {
		struct ep_reg *free_slot = NULL, *same = NULL;

		for (i = 0; i < CB_PL_MAX_EPOLL; i++) {
			if (l->ep[i].epfd == epfd && l->ep[i].pid == self_pid)
				same = &l->ep[i];
			else if (l->ep[i].epfd < 0 && !free_slot)
				free_slot = &l->ep[i];
		}
		if (op == EPOLL_CTL_DEL && same) {
			same->epfd = -1;
		} else if (op != EPOLL_CTL_DEL && ev) {
			struct ep_reg *s = same ? same : free_slot;

			if (s) {
				s->pid = self_pid;
				s->epfd = epfd;
				s->ev = *ev;
			}
		}
	}
	pthread_mutex_unlock(&mu);
	errno = e;
	return 0;
}
