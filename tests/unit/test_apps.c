// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The app socket (user/ctl/apps.c) against hostile local users: strict
 * REGISTER parsing, admission by uid at accept, per-uid limits, and the
 * socket file's owner and mode from the configuration.  Peers of other uids
 * are forked children that drop to uid 65534 (nobody).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "ctl/apps.h"
#include "ctl/loop.h"
#include "util/clock.h"

#define NOBODY 65534

Test(apps, register_is_strict)
{
	static const struct {
		const char *msg;
		size_t len;             /* 0: strlen */
		const char *name;       /* NULL: refused */
	} rows[] = {
		{ "REGISTER web", 0, "web" },
		{ "REGISTER web-1.a_b", 0, "web-1.a_b" },
		{ "REGISTER web\0junk", 17, NULL },     /* bytes after a NUL */
		{ "REGISTER web\0", 13, NULL },
		{ "REGISTER web ", 0, NULL },           /* trailing space */
		{ "REGISTER web\n", 0, NULL },
		{ "REGISTER we b", 0, NULL },
		{ "REGISTER w\x01", 0, NULL },          /* control character */
		{ "REGISTER w\xc3\xa9", 0, NULL },      /* not ASCII */
		{ "REGISTER ", 0, NULL },
		{ "REGISTER", 0, NULL },
		{ "register web", 0, NULL },
		{ "REGISTER  web", 0, NULL },
		{ "REGISTER aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0,
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }, /* 63 */
		{ "REGISTER aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, NULL },
	};
	char name[CB_CFG_NAME];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t len = rows[i].len ? rows[i].len : strlen(rows[i].msg);
		int ok = cb_apps_parse_register(rows[i].msg, len, name);

		cr_expect_eq(ok, rows[i].name != NULL, "row %zu (%s)", i, rows[i].msg);
		if (ok && rows[i].name)
			cr_expect_str_eq(name, rows[i].name, "row %zu", i);
	}
}

Test(apps, who_may_connect)
{
	static struct cb_config_file c;

	c.n_apps = 1;
	c.apps[0].uid = 1000;
	c.apps[0].gid = -1;
	cr_expect(cb_apps_may_connect(&c, 0, 0), "root");
	cr_expect(cb_apps_may_connect(&c, geteuid(), 5), "the controller's user");
	cr_expect(cb_apps_may_connect(&c, 1000, 77), "the app's uid, any group");
	cr_expect(!cb_apps_may_connect(&c, 1001, 77), "no app admits 1001");
	c.apps[0].gid = 50;
	cr_expect(!cb_apps_may_connect(&c, 1000, 77), "the uid but not the gid");
	cr_expect(cb_apps_may_connect(&c, 1000, 50));
	c.apps[0].uid = -1;
	cr_expect(cb_apps_may_connect(&c, 4242, 50), "any uid of group 50");
	cr_expect(!cb_apps_may_connect(&c, 4242, 51));
}

struct rig {
	struct cb_loop loop;
	struct cb_apps apps;
	struct cb_config_file cfg;
	const struct cb_config_file *cfgp;
	char path[108];
};

/* Dispatch what is ready for up to ms milliseconds. */
static void pump(struct cb_loop *l, int ms)
{
	struct epoll_event evs[64];
	int n, i;

	while ((n = epoll_wait(l->ep, evs, 64, ms)) > 0) {
		for (i = 0; i < n; i++) {
			struct cb_loop_slot *s = evs[i].data.ptr;

			if (s->fd >= 0)
				s->fn(s->arg);
		}
		ms = 0;
	}
}

static struct rig *rig_open(long app_uid, unsigned int mode)
{
	static struct rig r;

	memset(&r, 0, sizeof(r));
	snprintf(r.path, sizeof(r.path), "/tmp/cb-test-apps.%d.sock", getpid());
	r.cfg.n_apps = 1;
	strcpy(r.cfg.apps[0].name, "web");
	r.cfg.apps[0].uid = app_uid;
	r.cfg.apps[0].gid = -1;
	r.cfg.socket_uid = r.cfg.socket_gid = -1;
	r.cfg.socket_mode = mode;
	r.cfgp = &r.cfg;
	cr_assert_eq(cb_loop_init(&r.loop), 0);
	cr_assert_eq(cb_apps_open(&r.apps, r.path, &r.loop, &r.cfgp), 0);
	return &r;
}

static void rig_close(struct rig *r)
{
	cb_apps_close(&r->apps);
	cb_loop_fini(&r->loop);
}

/*
 * A child as uid 65534 opens n connections, sends msg on each (NULL: none),
 * and writes to the pipe how many the controller closed (EOF within 1 s)
 * and how many connect() itself refused.
 */
static pid_t hostile(const char *path, int n, const char *msg, int out)
{
	pid_t pid = fork();
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int i, fds[300], closed = 0, refused = 0;
	char buf[64];

	cr_assert(pid >= 0);
	if (pid)
		return pid;
	if (setresgid(NOBODY, NOBODY, NOBODY) || setresuid(NOBODY, NOBODY, NOBODY))
		_exit(2);
	strcpy(sa.sun_path, path);
	for (i = 0; i < n; i++) {
		fds[i] = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		if (connect(fds[i], (struct sockaddr *)&sa, sizeof(sa))) {
			refused++;
			close(fds[i]);
			fds[i] = -1;
		} else if (msg) {
			send(fds[i], msg, strlen(msg), 0);
		}
	}
	for (i = 0; i < n; i++) {
		struct pollfd p = { .fd = fds[i], .events = POLLIN };

		if (fds[i] >= 0 && poll(&p, 1, i ? 10 : 1000) == 1 && recv(fds[i], buf, sizeof(buf), 0) == 0)
			closed++;
	}
	dprintf(out, "%d %d\n", closed, refused);
	pause();                /* hold what is still open until killed */
	_exit(0);
}

static void run_hostile(struct rig *r, int n, const char *msg, int *closed, int *refused)
{
	int p[2], i;
	char buf[64] = "";
	pid_t pid;
	ssize_t got = 0;

	cr_assert_eq(pipe(p), 0);
	pid = hostile(r->path, n, msg, p[1]);
	for (i = 0; i < 400 && got <= 0; i++) {
		struct pollfd pf = { .fd = p[0], .events = POLLIN };

		pump(&r->loop, 5);
		if (poll(&pf, 1, 0) == 1)
			got = read(p[0], buf, sizeof(buf) - 1);
	}
	cr_assert(got > 0, "the hostile child reported");
	cr_assert_eq(sscanf(buf, "%d %d", closed, refused), 2);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
	pump(&r->loop, 20);     /* the controller sees them go */
}

/* A uid no app admits is closed at once and counted. */
Test(apps, refuses_a_uid_no_app_admits)
{
	struct rig *r = rig_open(1000, 0666);
	int closed, refused;

	run_hostile(r, 20, NULL, &closed, &refused);
	cr_expect_eq(refused, 0, "mode 0666: connect() itself succeeds");
	cr_expect_eq(closed, 20, "every connection closed at once");
	cr_expect_eq(r->apps.refused_uid, 20);
	rig_close(r);
}

/* Where every uid is admitted, one uid keeps at most CB_APP_UNREG_PER_UID
 * unregistered connections: the rest are closed at once. */
Test(apps, limits_unregistered_per_uid)
{
	struct rig *r = rig_open(-1, 0666);
	int closed, refused, i, held = 0;

	run_hostile(r, 200, NULL, &closed, &refused);
	cr_expect_eq(closed, 200 - CB_APP_UNREG_PER_UID, "%d closed", closed);
	cr_expect_eq(r->apps.refused_per_uid, 200u - CB_APP_UNREG_PER_UID);
	for (i = 0; i < CB_APP_CONNS_MAX; i++)
		held += r->apps.conns[i].fd >= 0;
	cr_expect_eq(held, 0, "the child is gone: nothing held");
	rig_close(r);
}

/* Messages with a NUL, junk or control bytes are refused, not registered. */
Test(apps, register_with_junk_is_refused)
{
	struct rig *r = rig_open(-1, 0666);
	int closed, refused, i, registered = 0;

	run_hostile(r, 3, "REGISTER web\x01", &closed, &refused);
	for (i = 0; i < CB_APP_CONNS_MAX; i++)
		registered += r->apps.conns[i].app >= 0;
	cr_expect_eq(registered, 0);
	cr_expect_geq(r->apps.bad_messages, 3u);
	rig_close(r);
}

/*
 * Refused registrations are counted by reason (unknown_app, credentials),
 * and a connection that never registers is closed after CB_REGISTER_MS and
 * counted (no_register): each refusal has its label in the metrics.
 */
Test(apps, refusals_counted_by_reason)
{
	struct rig *r = rig_open(-1, 0666);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int closed, refused, fd;
	char b;

	r->cfg.n_apps = 2;                      /* admin: root only */
	strcpy(r->cfg.apps[1].name, "admin");
	r->cfg.apps[1].uid = 0;
	r->cfg.apps[1].gid = -1;
	run_hostile(r, 2, "REGISTER nosuch", &closed, &refused);
	cr_expect_eq(r->apps.refused_unknown, 2);
	cr_expect_eq(r->apps.refused_cred, 0);
	run_hostile(r, 3, "REGISTER admin", &closed, &refused);
	cr_expect_eq(r->apps.refused_cred, 3, "uid 65534 registering a root-only app");
	cr_expect_eq(r->apps.refused_unknown, 2);
	/* ours says nothing: closed once CB_REGISTER_MS has passed */
	strcpy(sa.sun_path, r->path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	pump(&r->loop, 20);
	cb_apps_tick(&r->apps, cb_now_ms64() + CB_REGISTER_MS / 2);
	cr_expect_eq(r->apps.register_timeouts, 0, "closed before its time");
	cb_apps_tick(&r->apps, cb_now_ms64() + CB_REGISTER_MS + 1000);
	cr_expect_eq(r->apps.register_timeouts, 1);
	cr_expect_eq(recv(fd, &b, 1, MSG_DONTWAIT), 0, "closed: EOF");
	close(fd);
	rig_close(r);
}

/* Mode from the configuration: 0600 keeps other users out at connect(). */
Test(apps, socket_mode_from_config)
{
	struct rig *r = rig_open(-1, 0600);
	struct stat st;
	int closed, refused;

	cr_assert_eq(stat(r->path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600u);
	run_hostile(r, 5, NULL, &closed, &refused);
	cr_expect_eq(refused, 5, "connect() refused by the file's mode");
	r->cfg.socket_mode = 0666;
	cr_expect_eq(cb_apps_set_access(&r->apps, &r->cfg), 0);
	cr_assert_eq(stat(r->path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0666u, "applied again (a reload)");
	rig_close(r);
}

Test(apps, release_is_strict)
{
	static const struct {
		const char *msg;
		size_t len;             /* 0: strlen */
		int ok;
		const char *to;
		size_t blob;
	} rows[] = {
		{ "RELEASE blob=0", 0, 1, "", 0 },
		{ "RELEASE to=api blob=0", 0, 1, "api", 0 },
		{ "RELEASE blob=0 to=api@b2", 0, 1, "api@b2", 0 },
		{ "RELEASE to=@b2 blob=3\nabc", 0, 1, "@b2", 3 },
		{ "RELEASE blob=3\na\0c", 18, 1, "", 3 },       /* the blob is binary */
		{ "RELEASE blob=3\nab", 0, 0, NULL, 0 },        /* short blob */
		{ "RELEASE blob=3\nabcd", 0, 0, NULL, 0 },      /* bytes beyond it */
		{ "RELEASE blob=0\n", 0, 0, NULL, 0 },
		{ "RELEASE", 0, 0, NULL, 0 },                   /* no blob= */
		{ "RELEASE to=api", 0, 0, NULL, 0 },
		{ "RELEASE blob=0 blob=0", 0, 0, NULL, 0 },     /* twice */
		{ "RELEASE blob=0 junk=1", 0, 0, NULL, 0 },     /* unknown field */
		{ "RELEASE  blob=0", 0, 0, NULL, 0 },           /* two spaces */
		{ "RELEASE blob=0 ", 0, 0, NULL, 0 },
		{ "RELEASE to= blob=0", 0, 0, NULL, 0 },        /* empty target */
		{ "RELEASE blob=-1", 0, 0, NULL, 0 },
		{ "RELEASE blob=4097\n", 0, 0, NULL, 0 },       /* over CB_BLOB_MAX */
		{ "RELEASE blob=0\0x", 16, 0, NULL, 0 },        /* a NUL in the text */
		{ "RELEASE to=a\x01 blob=0", 0, 0, NULL, 0 },
		{ "RELEASEblob=0", 0, 0, NULL, 0 },
	};
	const uint8_t *blob;
	size_t i, len;
	char to[128];

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = rows[i].len ? rows[i].len : strlen(rows[i].msg);
		int rc = cb_apps_parse_release(rows[i].msg, n, to, sizeof(to), &blob, &len);

		cr_expect_eq(rc == 0, rows[i].ok, "row %zu (%s): %d", i, rows[i].msg, rc);
		if (!rc && rows[i].ok) {
			cr_expect_str_eq(to, rows[i].to, "row %zu", i);
			cr_expect_eq(len, rows[i].blob, "row %zu", i);
		}
	}
}

/* n instances of app web connect to the rig and register, each answered. */
static void register_web(struct rig *r, const struct sockaddr_un *sa, int *fds, int n)
{
	char b[16];
	int i;

	for (i = 0; i < n; i++) {
		fds[i] = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		cr_assert_eq(connect(fds[i], (const struct sockaddr *)sa, sizeof(*sa)), 0);
		pump(&r->loop, 20);
		cr_assert_eq(send(fds[i], "REGISTER web", 12, 0), 12);
		pump(&r->loop, 20);
		cr_assert_gt(recv(fds[i], b, sizeof(b), 0), 0, "an answer");
	}
}

/* Registered instances are counted per app (asked on every delivery):
 * up at REGISTER, down when an instance goes, rebuilt on a reload's remap. */
Test(apps, instances_counted_per_app)
{
	struct rig *r = rig_open(-1, 0666);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fds[3], to_new[1] = { 1 };

	strcpy(sa.sun_path, r->path);
	cr_expect_eq(cb_apps_instances(&r->apps, 0), 0);
	register_web(r, &sa, fds, 3);
	cr_expect_eq(cb_apps_instances(&r->apps, 0), 3);
	cr_expect_eq(cb_apps_instances(&r->apps, 1), 0);
	cr_expect_eq(cb_apps_instances(&r->apps, -1), 0);
	close(fds[1]);
	pump(&r->loop, 50);
	cr_expect_eq(cb_apps_instances(&r->apps, 0), 2, "one instance went");
	/* a reload moves app web to index 1 */
	r->cfg.n_apps = 2;
	r->cfg.apps[1] = r->cfg.apps[0];
	strcpy(r->cfg.apps[0].name, "other");
	cb_apps_remap(&r->apps, &r->cfg, to_new, 1);
	cr_expect_eq(cb_apps_instances(&r->apps, 0), 0);
	cr_expect_eq(cb_apps_instances(&r->apps, 1), 2);
	close(fds[0]);
	close(fds[2]);
	pump(&r->loop, 50);
	cr_expect_eq(cb_apps_instances(&r->apps, 1), 0);
	rig_close(r);
}

/* Which of n instance sockets got a FLOW (its fd closed at once); -1: none. */
static int who_got_it(const int *fds, int n)
{
	char b[512], cbuf[CMSG_SPACE(sizeof(int))];
	int i, got = -1;

	for (i = 0; i < n; i++) {
		struct iovec iov = { .iov_base = b, .iov_len = sizeof(b) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;

		if (fds[i] < 0 || recvmsg(fds[i], &mh, MSG_DONTWAIT) <= 0)
			continue;
		cr_expect_eq(got, -1, "one delivery, one instance");
		got = i;
		if ((cm = CMSG_FIRSTHDR(&mh)) && cm->cmsg_type == SCM_RIGHTS) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
			close(fd);
		}
	}
	return got;
}

/* Deliveries go round robin over an app's registered instances, in O(1)
 * (a ring per app): every instance in turn, a gone one skipped, the same
 * after a reload renumbers the apps; none registered: -ENOENT. */
Test(apps, deliveries_round_robin_over_instances)
{
	struct rig *r = rig_open(-1, 0666);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct cb_flow_msg m = { .bytes = 1, .service = "s", .rule = "default", .app = "web" };
	int fds[3], seen[3] = { 0 }, i, conn, to_new[1] = { 1 }, sp[2];

	strcpy(sa.sun_path, r->path);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);     /* the fd passed */
	cr_expect_eq(cb_apps_deliver(&r->apps, 0, &m, sp[0], &conn), -ENOENT, "no instance yet");
	register_web(r, &sa, fds, 3);
	for (i = 0; i < 6; i++) {
		int w;

		cr_assert_eq(cb_apps_deliver(&r->apps, 0, &m, sp[0], &conn), 0);
		w = who_got_it(fds, 3);
		cr_assert_geq(w, 0, "delivery %d reached an instance", i);
		seen[w]++;
		if (i >= 3)
			cr_expect_eq(seen[w], 2, "delivery %d: instance %d again before the others", i, w);
	}
	close(fds[1]);
	fds[1] = -1;
	pump(&r->loop, 50);
	for (i = 0; i < 4; i++) {
		cr_assert_eq(cb_apps_deliver(&r->apps, 0, &m, sp[0], &conn), 0);
		cr_expect_neq(who_got_it(fds, 3), -1);
	}
	/* a reload moves app web to index 1: its instances follow */
	r->cfg.n_apps = 2;
	r->cfg.apps[1] = r->cfg.apps[0];
	strcpy(r->cfg.apps[0].name, "other");
	cb_apps_remap(&r->apps, &r->cfg, to_new, 1);
	cr_expect_eq(cb_apps_deliver(&r->apps, 0, &m, sp[0], &conn), -ENOENT, "app 0 has none now");
	seen[0] = seen[2] = 0;
	for (i = 0; i < 4; i++) {
		int w;

		cr_assert_eq(cb_apps_deliver(&r->apps, 1, &m, sp[0], &conn), 0);
		w = who_got_it(fds, 3);
		cr_assert(w == 0 || w == 2, "delivery after the remap: %d", w);
		seen[w]++;
	}
	cr_expect_eq(seen[0], 2, "alternating");
	cr_expect_eq(seen[2], 2);
	close(fds[0]);
	close(fds[2]);
	pump(&r->loop, 50);
	cr_expect_eq(cb_apps_deliver(&r->apps, 1, &m, sp[0], &conn), -ENOENT, "all gone");
	close(sp[0]);
	close(sp[1]);
	rig_close(r);
}

/* An instance that died before the loop saw its EOF takes nothing (a
 * SEQPACKET message is delivered whole or not at all): it is forgotten and
 * the socket goes to the next instance; only when every one is dead does
 * the delivery fail, with the error of the last. */
Test(apps, a_dead_instance_passes_the_socket_on)
{
	struct rig *r = rig_open(-1, 0666);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct cb_flow_msg m = { .bytes = 1, .service = "s", .rule = "default", .app = "web" };
	int fds[3], i, conn, sp[2], err;

	strcpy(sa.sun_path, r->path);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	register_web(r, &sa, fds, 3);
	close(fds[1]);          /* dies; the loop is not run: nobody noticed */
	fds[1] = -1;
	for (i = 0; i < 6; i++) {
		int w;

		cr_assert_eq(cb_apps_deliver(&r->apps, 0, &m, sp[0], &conn), 0, "delivery %d", i);
		w = who_got_it(fds, 3);
		cr_expect(w == 0 || w == 2, "delivery %d reached a live instance: %d", i, w);
	}
	cr_expect_eq(cb_apps_instances(&r->apps, 0), 2, "the dead one forgotten");
	close(fds[0]);
	close(fds[2]);
	err = cb_apps_deliver(&r->apps, 0, &m, sp[0], &conn);
	cr_expect(err == -EPIPE || err == -ECONNRESET || err == -ECONNREFUSED,
		  "every instance dead: %d", err);
	cr_expect_eq(cb_apps_instances(&r->apps, 0), 0);
	cr_expect_eq(cb_apps_deliver(&r->apps, 0, &m, sp[0], &conn), -ENOENT, "none left");
	close(sp[0]);
	close(sp[1]);
	rig_close(r);
}
