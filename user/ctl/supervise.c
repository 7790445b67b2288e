// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "ctl/supervise.h"
#include "util/log.h"

void cb_sup_init(struct cb_supervisor *s, const char *sock_path)
{
	memset(s, 0, sizeof(*s));
	s->sock_path = sock_path;
}

/* The child: default signal mask, the socket (if any) as stdin/stdout. */
static void exec_app(const struct cb_supervisor *s, const struct cb_app_cfg *a, int fd,
		     const char *client)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (s->nofile.rlim_max)
		setrlimit(RLIMIT_NOFILE, &s->nofile);
	setenv("CONNBROKER_SOCKET", s->sock_path, 1);
	setenv("CONNBROKER_APP", a->name, 1);
	if (fd >= 0) {
		setenv("CONNBROKER_CLIENT", client, 1);
		dup2(fd, 0);
		dup2(fd, 1);
		if (fd > 1)
			close(fd);
	}
	execl("/bin/sh", "sh", "-c", a->command, (char *)NULL);
	_exit(127);
}

static pid_t spawn(struct cb_supervisor *s, const struct cb_app_cfg *a, int fd,
		   const char *client)
{
	pid_t pid = fork();

	if (pid == 0)
		exec_app(s, a, fd, client);
	if (pid < 0) {
		cb_err("run: start app %s: fork: %s", a->name, strerror(errno));
		return -errno;
	}
	s->spawns++;
	return pid;
}

void cb_sup_want_worker(struct cb_supervisor *s, const struct cb_config_file *cfg, int app,
			uint64_t now_ms)
{
	const struct cb_app_cfg *a = &cfg->apps[app];
	pid_t pid;

	if (!a->command[0] || a->inetd || s->worker[app] > 0 ||
	    now_ms - s->spawned_ms[app] < CB_RESPAWN_MS)
		return;
	s->spawned_ms[app] = now_ms;
	pid = spawn(s, a, -1, NULL);
	if (pid > 0) {
		s->worker[app] = pid;
		cb_info("run: started app %s on demand (pid %d)", a->name, (int)pid);
	}
}

int cb_sup_inetd(struct cb_supervisor *s, const struct cb_app_cfg *a, int fd,
		 const char *client)
{
	pid_t pid;
	int i;

	for (i = 0; i < CB_MAX_CHILDREN && s->child[i] > 0; i++)
		;
	if (i == CB_MAX_CHILDREN)
		return -EAGAIN;
	pid = spawn(s, a, fd, client);
	if (pid > 0) {
		s->child[i] = pid;
		s->children++;
	}
	return pid;
}

void cb_sup_reap(struct cb_supervisor *s, const struct cb_config_file *cfg)
{
	pid_t pid;
	int st, i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < CB_MAX_CHILDREN; i++)
			if (s->child[i] == pid) {
				s->child[i] = 0;
				s->children--;
			}
		for (i = 0; i < CB_CFG_MAX_APPS; i++)
			if (s->worker[i] == pid) {
				s->worker[i] = 0;
				cb_info("run: app %s (pid %d) exited with %d",
					i < cfg->n_apps ? cfg->apps[i].name : "(removed)", (int)pid,
					WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
			}
	}
}

void cb_sup_remap(struct cb_supervisor *s, const int *old_to_new, int n_old)
{
	pid_t worker[CB_CFG_MAX_APPS] = { 0 };
	uint64_t spawned[CB_CFG_MAX_APPS] = { 0 };
	int i;

	for (i = 0; i < n_old; i++) {
		if (old_to_new[i] >= 0) {
			worker[old_to_new[i]] = s->worker[i];
			spawned[old_to_new[i]] = s->spawned_ms[i];
		} else if (s->worker[i] > 0) {
			kill(s->worker[i], SIGTERM);    /* its app left the configuration */
		}
	}
	memcpy(s->worker, worker, sizeof(worker));
	memcpy(s->spawned_ms, spawned, sizeof(spawned));
}

void cb_sup_stop(struct cb_supervisor *s)
{
	int i;

	for (i = 0; i < CB_CFG_MAX_APPS; i++)
		if (s->worker[i] > 0)
			kill(s->worker[i], SIGTERM);
}
