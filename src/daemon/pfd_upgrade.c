// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The upgrade, as nginx's SIGUSR2 and HAProxy's socket transfer:
 *
 *   old: socketpair; fork; the child resets its signal mask and execs the
 *        binary at the path remembered at start (not /proc/self/exe: after
 *        a package upgrade that is the deleted old file) with the same
 *        command line and PORTFW_UPGRADE_FD naming its end of the pair;
 *        the old sends every listening socket, each with what it is
 *        (pf_handover.h), and serves on;
 *   new: takes them (pfd_upgrade_inherit), reads its config, binds what the
 *        old did not have, brings up its engines, adopts the kernel's
 *        table, then says "ready PID";
 *   old: only then stops accepting (its copies of the listeners close; the
 *        sockets live on in the new process, so no client is refused),
 *        answers 'portfw upgrade', lets its flows finish (pfd_stop.c) and
 *        exits without touching the kernel's table (pfd_engines_detach).
 *
 * Whatever goes wrong before "ready" (no exec, a refused config, a crash,
 * the deadline) leaves the old process serving, and the reason is the
 * answer. Nothing here blocks the main loop but the handover's sendmsg.
 */
#include "pfd_upgrade.h"
#include "pfd.h"
#include "pfd_http.h"
#include "pfd_loop.h"
#include "pfd_notify.h"
#include "pfd_stop.h"
#include "../common/pf_handover.h"
#include "../common/pf_log.h"
#include "../common/pf_util.h"
#include "../kernel/pfk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The child's word when its exec failed: this byte, then errno. */
#define PFD_UP_EXEC_FAILED 'E'

static char pfd_exe[PATH_MAX];
static char **pfd_argv;

/* The old process' side of one upgrade in progress. */
static struct {
	pid_t pid; /* the new process; 0: none in progress */
	int fd;	   /* our end of the pair */
	int64_t timer;
	uint64_t t0;
} pfd_up = { .fd = -1 };
static bool pfd_handed; /* the listeners and the table are the new one's */

/* The new process' side. */
static int pfd_up_parent = -1; /* the pair's end, until ready or failed */

void pfd_upgrade_init(char **argv)
{
	const char *a0 = argv[0] ? argv[0] : "portfwd";
	char cwd[PATH_MAX];

	pfd_argv = argv;
	if (a0[0] == '/') {
		pf_strlcpy(pfd_exe, a0, sizeof(pfd_exe));
	} else if (strchr(a0, '/') && getcwd(cwd, sizeof(cwd))) {
		if ((size_t)snprintf(pfd_exe, sizeof(pfd_exe), "%s/%s", cwd, a0) >= sizeof(pfd_exe))
			pfd_exe[0] = '\0';
	} else {
		/* Found by $PATH, as the shell did. */
		const char *path = getenv("PATH");
		char *copy = strdup(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin"), *save = NULL;

		for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d;
		     d = strtok_r(NULL, ":", &save)) {
			if ((size_t)snprintf(pfd_exe, sizeof(pfd_exe), "%s/%s", d, a0) <
				    sizeof(pfd_exe) &&
			    !access(pfd_exe, X_OK))
				break;
			pfd_exe[0] = '\0';
		}
		free(copy);
	}
}

bool pfd_upgrade_handed(void)
{
	return pfd_handed;
}

bool pfd_upgrade_detached(void)
{
	return pfd_handed || pfd_up_parent >= 0;
}

/* ---- the old process ---- */

struct pfd_up_fds {
	struct pf_handover_ent *e;
	int *fd;
	size_t n, cap;
};

static void pfd_up_collect(const struct pf_handover_ent *e, int fd, void *arg)
{
	struct pfd_up_fds *v = arg;

	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		struct pf_handover_ent *ne = pf_xarray(cap, sizeof(*ne));
		int *nfd = pf_xarray(cap, sizeof(*nfd));

		if (v->n) {
			memcpy(ne, v->e, v->n * sizeof(*ne));
			memcpy(nfd, v->fd, v->n * sizeof(*nfd));
		}
		free(v->e);
		free(v->fd);
		v->e = ne;
		v->fd = nfd;
		v->cap = cap;
	}
	v->e[v->n] = *e;
	v->fd[v->n] = fd;
	v->n++;
}

/* Every socket to hand over, in datagrams of PF_HANDOVER_BATCH. */
static int pfd_up_send(int sock, const struct pfd_up_fds *v)
{
	static unsigned char buf[sizeof(struct pf_handover_wire_hdr) +
				 PF_HANDOVER_BATCH * sizeof(struct pf_handover_wire_ent)];
	union {
		char c[CMSG_SPACE(PF_HANDOVER_BATCH * sizeof(int))];
		struct cmsghdr align;
	} cm;
	size_t off = 0;

	do {
		size_t n = v->n - off > PF_HANDOVER_BATCH ? PF_HANDOVER_BATCH : v->n - off;
		bool last = off + n == v->n;
		struct iovec iov = { .iov_base = buf };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t r;

		iov.iov_len = pf_handover_encode(v->e + off, n, last, buf, sizeof(buf));
		if (n) {
			struct cmsghdr *c;

			memset(&cm, 0, sizeof(cm));
			msg.msg_control = cm.c;
			msg.msg_controllen = CMSG_SPACE(n * sizeof(int));
			c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(n * sizeof(int));
			memcpy(CMSG_DATA(c), v->fd + off, n * sizeof(int));
		}
		do
			r = sendmsg(sock, &msg, MSG_NOSIGNAL);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		off += n;
	} while (off < v->n);
	return 0;
}

/* The environment of the new process: ours, with the pair's end named. */
static char **pfd_up_env(int fd, char *var, size_t varlen)
{
	size_t n = 0, k = 0, i;
	char **env;

	while (environ[n])
		n++;
	env = pf_xcalloc(n + 2, sizeof(*env));
	snprintf(var, varlen, "%s=%d", PF_HANDOVER_ENV, fd);
	env[k++] = var;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], PF_HANDOVER_ENV "=", sizeof(PF_HANDOVER_ENV)) != 0)
			env[k++] = environ[i];
	return env;
}

static void pfd_up_end(void)
{
	/* The child has exec'd (its copies were O_CLOEXEC) or is gone. */
	if (pfd_up.pid)
		pfd_engines_fork_guard(false);
	pfd_timer_del(pfd_up.timer);
	if (pfd_up.fd >= 0) {
		pfd_loop_del(pfd_up.fd);
		close(pfd_up.fd);
	}
	pfd_up.fd = -1;
	pfd_up.pid = 0;
}

/* The new process will not be: it goes, this one serves on. */
static void pfd_up_fail(const char *why, bool reaped)
{
	char msg[1024];
	int st;

	if (!reaped) {
		kill(pfd_up.pid, SIGKILL);
		while (waitpid(pfd_up.pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	snprintf(msg, sizeof(msg), "upgrade failed: the new portfwd (pid %d, %.300s) %.600s; this one "
		 "(pid %d) serves on",
		 (int)pfd_up.pid, pfd_exe, why, (int)getpid());
	pf_err("%s", msg);
	pfd_up_end();
	pfd_ctl_upgrade_reply(pfd_json_error(msg));
}

static void pfd_up_ready(pid_t pid)
{
	json_t *res = json_pack("{s:b, s:i, s:i, s:s}", "ok", 1, "pid", (json_int_t)pid,
				"old_pid", (json_int_t)getpid(), "path", pfd_exe);
	char why[64];

	pf_info("upgrade: the new portfwd (pid %d) is ready after %.1f s: handing over", (int)pid,
		(double)(pf_now_ms() - pfd_up.t0) / 1000);
	pfd_up_end();
	pfd_handed = true;
	/* The kernel's table is the new process': the drain below and the stop
	 * after it leave it as it is. */
	pfk_detach();
	/* The new process speaks for the service now (MAINPID=). */
	pfd_notify_silence();
	pfd_ctl_release();
	pfd_http_stop();
	snprintf(why, sizeof(why), "upgraded to pid %d", (int)pid);
	/* The listeners closed first: the answer means the new one holds them. */
	pfd_stop_handover(why);
	pfd_ctl_upgrade_reply(res);
}

static void pfd_up_on_reply(int fd, uint32_t events, void *arg)
{
	char buf[1024], why[1100];
	ssize_t n;
	int st, e;
	long pid;

	(void)events;
	(void)arg;
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && buf[0] == PFD_UP_EXEC_FAILED && (size_t)n == 1 + sizeof(int)) {
		memcpy(&e, buf + 1, sizeof(e));
		snprintf(why, sizeof(why), "could not be run: %s", strerror(e));
		pfd_up_fail(why, false);
		return;
	}
	buf[n > 0 ? n : 0] = '\0';
	if (n > 6 && !strncmp(buf, "ready ", 6)) {
		pid = strtol(buf + 6, NULL, 10);
		pfd_up_ready(pid > 0 ? (pid_t)pid : pfd_up.pid);
		return;
	}
	if (n > 5 && !strncmp(buf, "fail ", 5)) {
		snprintf(why, sizeof(why), "refused to start: %s", buf + 5);
		pfd_up_fail(why, false);
		return;
	}
	/* End of file: it is gone (or going) without a word. */
	while (waitpid(pfd_up.pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st))
		snprintf(why, sizeof(why), "exited with status %d before it was ready",
			 WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(why, sizeof(why), "was killed by signal %d before it was ready",
			 WTERMSIG(st));
	else
		snprintf(why, sizeof(why), "went away before it was ready");
	pfd_up_fail(why, true);
}

static void pfd_up_timeout(void *arg)
{
	char why[128];

	(void)arg;
	snprintf(why, sizeof(why), "was not ready within %d s", PFD_UPGRADE_MS / 1000);
	pfd_up_fail(why, false);
}

int pfd_upgrade_start(char *err, size_t errlen)
{
	struct pfd_up_fds v = { 0 };
	char var[64], **env = NULL;
	const char *cpath;
	union pf_sa hsa;
	int sv[2] = { -1, -1 }, e, fd, fdmax;
	pid_t pid;

	if (pfd_up.pid) {
		snprintf(err, errlen, "an upgrade is in progress: the new portfwd (pid %d) started "
			 "%.1f s ago; wait for its outcome",
			 (int)pfd_up.pid, (double)(pf_now_ms() - pfd_up.t0) / 1000);
		return -1;
	}
	if (pfd_handed || pfd_stop_draining()) {
		snprintf(err, errlen, "portfwd (pid %d) is stopping%s: no upgrade from it",
			 (int)getpid(), pfd_handed ? " (upgraded already)" : "");
		return -1;
	}
	if (!pfd_exe[0]) {
		snprintf(err, errlen, "the path portfwd was started from is not known (argv[0] "
			 "'%s' not found in PATH)", pfd_argv && pfd_argv[0] ? pfd_argv[0] : "");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "upgrade: socketpair: %s", strerror(errno));
		return -1;
	}
	fd = pfd_ctl_fd(&cpath);
	if (fd >= 0) {
		struct pf_handover_ent c = { .kind = PF_HO_CTL };

		pf_strlcpy(c.path, cpath, sizeof(c.path));
		pfd_up_collect(&c, fd, &v);
	}
	fd = pfd_http_fd(&hsa);
	if (fd >= 0) {
		struct pf_handover_ent h = { .kind = PF_HO_HTTP, .addr = hsa };

		pfd_up_collect(&h, fd, &v);
	}
	pfd_engines_sockets(pfd_up_collect, &v);
	/* Built before the fork: the child of a threaded process may only
	 * make async-signal-safe calls. */
	env = pfd_up_env(sv[1], var, sizeof(var));
	fdmax = sysconf(_SC_OPEN_MAX) > 0 && sysconf(_SC_OPEN_MAX) < 65536
			? (int)sysconf(_SC_OPEN_MAX)
			: 65536;
	pfd_engines_fork_guard(true);
	pid = fork();
	if (pid == 0) {
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		sigset_t none;

		/* The signalfd's blocked signals would stay blocked across
		 * exec, and SIGPIPE ignored. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		sigaction(SIGPIPE, &dfl, NULL);
		/* The one descriptor that crosses exec on purpose; the handed
		 * sockets come over it. Ours are O_CLOEXEC, but not every
		 * library's (netlink sockets of libmnl, libnetfilter_conntrack
		 * and libnftables are not): each would pile up in the new
		 * process, upgrade after upgrade. */
		if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
			for (int i = 3; i < fdmax; i++)
				fcntl(i, F_SETFD, FD_CLOEXEC);
		fcntl(sv[1], F_SETFD, 0);
		execve(pfd_exe, pfd_argv, env);
		{
			char m[1 + sizeof(int)];

			e = errno;
			m[0] = PFD_UP_EXEC_FAILED;
			memcpy(m + 1, &e, sizeof(e));
			(void)!send(sv[1], m, sizeof(m), MSG_NOSIGNAL);
		}
		_exit(127);
	}
	e = pid < 0 ? -errno : 0;
	if (pid < 0)
		pfd_engines_fork_guard(false);
	free(env);
	close(sv[1]);
	if (e) {
		snprintf(err, errlen, "upgrade: fork: %s", strerror(-e));
		goto fail;
	}
	pfd_up.pid = pid;
	pfd_up.fd = sv[0];
	pfd_up.t0 = pf_now_ms();
	pfd_up.timer = 0;
	e = pfd_up_send(sv[0], &v);
	if (!e)
		e = pfd_loop_add(sv[0], EPOLLIN, pfd_up_on_reply, NULL);
	if (!e) {
		pfd_up.timer = pfd_timer_add(PFD_UPGRADE_MS, 0, pfd_up_timeout, NULL);
		if (pfd_up.timer < 0)
			e = (int)pfd_up.timer;
	}
	if (e) {
		snprintf(err, errlen, "upgrade: handing the sockets to pid %d: %s", (int)pid,
			 strerror(-e));
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		pfd_timer_del(pfd_up.timer);
		pfd_loop_del(sv[0]);
		pfd_up.pid = 0;
		pfd_engines_fork_guard(false);
		pfd_up.fd = -1;
		goto fail;
	}
	pf_info("upgrade: started %s (pid %d) with %zu socket%s", pfd_exe, (int)pid, v.n,
		v.n == 1 ? "" : "s");
	free(v.e);
	free(v.fd);
	return 0;
fail:
	close(sv[0]);
	free(v.e);
	free(v.fd);
	return -1;
}

/* ---- the new process ---- */

static int pfd_up_recv(int sock, char *err, size_t errlen)
{
	static unsigned char buf[sizeof(struct pf_handover_wire_hdr) +
				 PF_HANDOVER_BATCH * sizeof(struct pf_handover_wire_ent)];
	static struct pf_handover_ent ents[PF_HANDOVER_BATCH];
	union {
		char c[CMSG_SPACE(PF_HANDOVER_BATCH * sizeof(int))];
		struct cmsghdr align;
	} cm;
	bool last = false;

	while (!last) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.c,
				      .msg_controllen = sizeof(cm.c) };
		int fds[PF_HANDOVER_BATCH];
		size_t nfds = 0, i;
		struct cmsghdr *c;
		ssize_t n;
		int k;

		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "upgrade: reading the handed sockets: %s",
				 n ? strerror(errno) : "the old portfwd closed the socket pair");
			return -1;
		}
		for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			size_t m;

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			m = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (nfds + m > PF_HANDOVER_BATCH)
				m = PF_HANDOVER_BATCH - nfds;
			memcpy(fds + nfds, CMSG_DATA(c), m * sizeof(int));
			nfds += m;
		}
		k = (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
			    ? (snprintf(err, errlen, "upgrade: a handover message was truncated"), -1)
			    : pf_handover_decode(buf, (size_t)n, nfds, ents, &last, err, errlen);
		for (i = 0; i < nfds; i++) {
			if (k < 0 || pf_handover_add(&ents[i], fds[i]))
				close(fds[i]);
		}
		if (k < 0)
			return -1;
	}
	return 0;
}

int pfd_upgrade_inherit(char *err, size_t errlen)
{
	const char *v = getenv(PF_HANDOVER_ENV);
	struct timeval tv = { .tv_sec = 10 };
	uint64_t fd;
	struct stat st;

	if (!v)
		return 0;
	if (pf_parse_uint(v, 3, INT_MAX, &fd) || fstat((int)fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s='%s': expected the descriptor of the upgrade's socket "
			 "pair (set by the portfwd that runs this one)", PF_HANDOVER_ENV, v);
		unsetenv(PF_HANDOVER_ENV);
		return -1;
	}
	unsetenv(PF_HANDOVER_ENV);
	pfd_up_parent = (int)fd;
	/* Not to a process this one may start in its turn. */
	fcntl(pfd_up_parent, F_SETFD, FD_CLOEXEC);
	setsockopt(pfd_up_parent, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return pfd_up_recv(pfd_up_parent, err, errlen);
}

bool pfd_upgrade_ready(void)
{
	char msg[32];
	size_t unused;
	int n;

	if (pfd_up_parent < 0)
		return false;
	unused = pf_handover_close_rest();
	pfd_ctl_own();
	n = snprintf(msg, sizeof(msg), "ready %d", (int)getpid());
	if (send(pfd_up_parent, msg, (size_t)n, MSG_NOSIGNAL) < 0)
		pf_warn("upgrade: cannot tell the old portfwd (pid %d) it may stop: %s",
			(int)getppid(), strerror(errno));
	close(pfd_up_parent);
	pfd_up_parent = -1;
	pf_info("upgrade: took over from pid %d%s", (int)getppid(),
		unused ? " (sockets of forwards no longer in the config closed)" : "");
	return true;
}

void pfd_upgrade_failed(const char *why)
{
	char msg[1024];
	int n;

	if (pfd_up_parent < 0)
		return;
	pf_handover_close_rest();
	n = snprintf(msg, sizeof(msg), "fail %s", why);
	(void)!send(pfd_up_parent, msg, (size_t)(n < (int)sizeof(msg) ? n : (int)sizeof(msg) - 1),
		    MSG_NOSIGNAL);
	/* The pair stays open until exit: detached (pfd_upgrade_detached). */
}
