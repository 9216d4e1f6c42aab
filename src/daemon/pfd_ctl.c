// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket: a unix stream socket, mode 0600, or 0660 with a group
 * whose members may read (pfd_priv.c). A client writes one
 * request (statements in the command language), shuts down its write side,
 * and reads one JSON object back.
 *
 * Nothing a client does may hold up the main thread, which also serves the
 * signals, the health checks' news and every other client: each socket is
 * non-blocking, a reply is queued and written as the client reads it, and a
 * client is dropped when its request is not complete within
 * PFD_REQUEST_MS of its connect, or its reply makes no progress for
 * PFD_REPLY_MS. At most PFD_CLIENTS_MAX are served at once; more wait in the
 * listen backlog, as clients of a busy server do, until one is done.
 */
#include "pfd.h"
#include "pfd_loop.h"
#include "pfd_priv.h"
#include "pfd_upgrade.h"
#include "../common/pf_buf.h"
#include "../common/pf_handover.h"
#include "../common/pf_log.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define PFD_CLIENTS_MAX 64
#define PFD_REQUEST_MS 10000
#define PFD_REPLY_MS 10000
/* After EMFILE with no reserve left: how long the listener rests. */
#define PFD_EMFILE_PAUSE_MS 100
/* A reply at least this long was built from a tree of many small blocks
 * (a listing of every flow): once it is gone, the free memory it leaves
 * in the heap is given back to the kernel. */
#define PFD_TRIM_REPLY ((size_t)256 * 1024)

/* What a client gets when no reply could be built (out of memory). */
static const char pfd_reply_fallback[] =
	"{\"ok\":false,\"error\":\"portfwd could not build the reply\"}\n";

struct pfd_client {
	int fd;
	int64_t timer; /* the deadline of the request, then of the reply's progress */
	bool too_big;  /* over PFD_REQ_MAX: the rest is read and dropped */
	bool replying;
	bool upgrading; /* its 'upgrade' waits for the new process */
	enum pfd_role role; /* what its peer may do (SO_PEERCRED at accept) */
	uid_t uid;	    /* the peer's uid */
	struct pf_buf req;
	char *reply;     /* NULL: the fallback */
	const char *out; /* the reply, off bytes of it sent */
	size_t outlen, off;
	struct pfd_client *next;
};

static int pfd_lfd = -1;
/* One descriptor held in reserve: when the process runs out, it is freed to
 * accept a control client, so the operator can still look and act. */
static int pfd_reserve = -1;
static bool pfd_listening; /* the listener is in the loop's set (not paused) */
static bool pfd_emfile;	   /* paused: out of descriptors */
static int64_t pfd_emfile_timer;
static char pfd_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
/* The socket file we made, the one pfd_ctl_close may remove. */
static dev_t pfd_sock_dev;
static ino_t pfd_sock_ino;
static struct pfd_client *pfd_clients;
static unsigned pfd_nclients;
/* The socket came from an upgrade and the start is not done: a start that
 * fails must leave its file to the old process. */
static bool pfd_sock_borrowed;
/* The client whose 'upgrade' waits (one at most: a second is refused). */
static struct pfd_client *pfd_upgrader;

/* Accepts while a client may be served; rests while none can. */
static void pfd_listen_update(void)
{
	bool want = !pfd_emfile && pfd_nclients < PFD_CLIENTS_MAX;

	if (pfd_lfd < 0)
		return; /* handed over to a new process */
	if (want != pfd_listening && !pfd_loop_mod(pfd_lfd, want ? EPOLLIN : 0))
		pfd_listening = want;
}

static void pfd_client_free(struct pfd_client *c)
{
	struct pfd_client **pp;
	bool big = c->reply && c->outlen >= PFD_TRIM_REPLY;

	for (pp = &pfd_clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pfd_nclients--;
	if (c == pfd_upgrader)
		pfd_upgrader = NULL;
	pfd_timer_del(c->timer);
	pfd_loop_del(c->fd);
	close(c->fd);
	pf_buf_free(&c->req);
	free(c->reply);
	free(c);
	if (big)
		malloc_trim(0);
	if (pfd_reserve < 0)
		pfd_reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* A descriptor was freed: worth trying accept again now. */
	if (pfd_emfile) {
		pfd_emfile = false;
		pfd_timer_del(pfd_emfile_timer);
	}
	pfd_listen_update();
}

static void pfd_client_timeout(void *arg)
{
	struct pfd_client *c = arg;

	if (c->replying)
		pf_info("control client dropped: its reply made no progress for %d s",
			PFD_REPLY_MS / 1000);
	else
		pf_info("control client dropped: no whole request within %d s",
			PFD_REQUEST_MS / 1000);
	pfd_client_free(c);
}

static void pfd_client_write(struct pfd_client *c)
{
	bool progress = false;

	while (c->off < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->off, c->outlen - c->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (progress)
				pfd_timer_set(c->timer, PFD_REPLY_MS);
			return; /* the rest when the client has read some */
		}
		if (n <= 0)
			break; /* the client went away */
		c->off += (size_t)n;
		progress = true;
	}
	pfd_client_free(c);
}

static void pfd_buf_free_req(struct pfd_client *c)
{
	pf_buf_free(&c->req);
}

/* Takes res (NULL: it could not be built) and starts sending it. */
static void pfd_client_reply(struct pfd_client *c, json_t *res)
{
	char *text = res ? json_dumps(res, JSON_COMPACT) : NULL;
	size_t len = text ? strlen(text) : 0;

	json_decref(res);
	pf_buf_free(&c->req);
	if (text) {
		char *t = realloc(text, len + 2);

		if (t) {
			c->reply = t;
			memcpy(t + len, "\n", 2);
			len++;
		} else {
			free(text);
		}
	}
	c->out = c->reply ? c->reply : pfd_reply_fallback;
	c->outlen = c->reply ? len : sizeof(pfd_reply_fallback) - 1;
	c->replying = true;
	pfd_timer_set(c->timer, PFD_REPLY_MS);
	/* Only the reply is of interest from now on: EPOLLIN would report the
	 * request's EOF again and again. */
	pfd_loop_mod(c->fd, EPOLLOUT);
	pfd_client_write(c);
}

/* Reads and drops what fd gives: 0 at end of file, else -errno (-EAGAIN:
 * nothing more for now). */
static int pfd_drain(int fd)
{
	char sink[4096];
	ssize_t n;

	for (;;) {
		n = read(fd, sink, sizeof(sink));
		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		return n ? -errno : 0;
	}
}

/* Whether the request is 'upgrade' (alone, as the client sends it). It is
 * no statement of the table's language: its reply comes when the new
 * process is ready or failed, not from the table. */
static bool pfd_is_upgrade(const struct pf_buf *req)
{
	const char *p = req->s ? req->s : "";
	size_t n = req->len;

	while (n && strchr(" \t\r\n", p[n - 1]))
		n--;
	while (n && strchr(" \t\r\n", *p)) {
		p++;
		n--;
	}
	return n == 7 && !memcmp(p, "upgrade", 7);
}

/* 'upgrade': refused at once, or its reply waits (pfd_ctl_upgrade_reply). */
static void pfd_client_upgrade(struct pfd_client *c)
{
	char err[512];

	if (c->role != PFD_ROLE_ADMIN) {
		snprintf(err, sizeof(err),
			 "permission denied: 'upgrade' needs root or portfwd's user (uid %u)",
			 (unsigned)geteuid());
		pfd_client_reply(c, pfd_json_error(err));
		return;
	}
	if (pfd_upgrade_start(err, sizeof(err))) {
		pfd_client_reply(c, pfd_json_error(err));
		return;
	}
	c->upgrading = true;
	pfd_upgrader = c;
	pfd_buf_free_req(c);
	/* The upgrade's own deadline answers first. */
	pfd_timer_set(c->timer, PFD_UPGRADE_MS + PFD_REPLY_MS);
	/* Nothing to read, nothing to write yet; a hang-up still frees it. */
	pfd_loop_mod(c->fd, 0);
}

void pfd_ctl_upgrade_reply(json_t *res)
{
	struct pfd_client *c = pfd_upgrader;

	pfd_upgrader = NULL;
	if (!c) {
		json_decref(res);
		return;
	}
	c->upgrading = false;
	pfd_client_reply(c, res);
}

static void pfd_client_read(struct pfd_client *c)
{
	int rc = c->too_big ? pfd_drain(c->fd) : pf_buf_read_fd(&c->req, c->fd);

	if (rc == -E2BIG) {
		/* Read on to the end, so the client's writes do not fail
		 * before it looks for the answer. */
		c->too_big = true;
		pf_buf_free(&c->req);
		rc = pfd_drain(c->fd);
	}
	if (rc == -EAGAIN)
		return;
	if (rc == -ENOMEM) {
		pfd_client_reply(c, NULL);
		return;
	}
	if (rc < 0) {
		pfd_client_free(c);
		return;
	}
	/* End of file: the request is complete. */
	if (c->too_big) {
		pfd_client_reply(c, pfd_json_error("request larger than 4 MiB"));
	} else if (pfd_is_upgrade(&c->req)) {
		pfd_client_upgrade(c);
	} else if (c->role == PFD_ROLE_NONE) {
		char err[256];

		pfd_priv_refusal(err, sizeof(err), PF_ST_NONE, c->uid);
		pfd_client_reply(c, pfd_json_error(err));
	} else {
		pfd_client_reply(c, pfd_table_request(c->req.s ? c->req.s : "", c->req.len,
						      c->role == PFD_ROLE_READ, c->uid));
	}
}

static void pfd_client_event(int fd, uint32_t events, void *arg)
{
	struct pfd_client *c = arg;

	(void)fd;
	(void)events;
	if (c->upgrading)
		pfd_client_free(c); /* hung up while it waited */
	else if (c->replying)
		pfd_client_write(c);
	else
		pfd_client_read(c);
}

static void pfd_emfile_over(void *arg)
{
	(void)arg;
	pfd_emfile = false;
	pfd_listen_update();
}

static void pfd_accept(int fd, uint32_t events, void *arg)
{
	(void)events;
	(void)arg;
	while (pfd_nclients < PFD_CLIENTS_MAX) {
		struct pfd_client *c;
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0 && (errno == EMFILE || errno == ENFILE) && pfd_reserve >= 0) {
			close(pfd_reserve);
			pfd_reserve = -1;
			cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		}
		if (cfd < 0 && (errno == EMFILE || errno == ENFILE)) {
			/* No reserve left either: rest rather than spin on it. */
			pfd_emfile_timer = pfd_timer_add(PFD_EMFILE_PAUSE_MS, 0, pfd_emfile_over,
							 NULL);
			if (pfd_emfile_timer > 0)
				pfd_emfile = true;
			break;
		}
		if (cfd < 0)
			break;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			break;
		}
		c->fd = cfd;
		c->role = pfd_priv_peer(cfd, &c->uid);
		c->req = (struct pf_buf)PF_BUF_INIT(PFD_REQ_MAX);
		c->timer = pfd_timer_add(PFD_REQUEST_MS, 0, pfd_client_timeout, c);
		if (c->timer < 0 || pfd_loop_add(cfd, EPOLLIN, pfd_client_event, c) < 0) {
			pfd_timer_del(c->timer);
			close(cfd);
			free(c);
			break;
		}
		c->next = pfd_clients;
		pfd_clients = c;
		pfd_nclients++;
	}
	pfd_listen_update();
}

/* What mode is, for an error that names what was found instead of a socket. */
static const char *pfd_file_kind(mode_t mode)
{
	if (S_ISREG(mode))
		return "a regular file";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISLNK(mode))
		return "a symbolic link";
	if (S_ISFIFO(mode))
		return "a FIFO";
	return "a device";
}

/* Clears the way for our socket at path: nothing there, or the socket of a
 * daemon that is gone. Anything else (a live daemon, a config file given
 * to -s by mistake) stays as it is and the start fails. */
static int pfd_ctl_claim(const struct sockaddr_un *sun)
{
	const char *path = sun->sun_path;
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		pf_err("control socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		pf_err("control socket %s: the path is %s, not a socket; expected a unix socket "
		       "or no file there (-s names the socket, -c the config); left as it is",
		       path, pfd_file_kind(st.st_mode));
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		pf_err("control socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0) {
		pf_err("another portfwd is running on %s", path);
		close(fd);
		return -1;
	}
	close(fd);
	/* No one answers: the socket of a daemon that died. */
	if (unlink(path) < 0 && errno != ENOENT) {
		pf_err("control socket %s: removing the stale socket: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int pfd_ctl_open(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	gid_t gid;
	mode_t old;
	int fd, e;

	if (pf_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		pf_err("control socket path too long: %s", path);
		return -1;
	}
	fd = pf_handover_take_ctl(path);
	if (fd >= 0) {
		/* Bound, with its mode and owner, and listening: the old
		 * process answers on it until this one is ready. */
		pfd_sock_borrowed = true;
		if (lstat(path, &st) < 0)
			memset(&st, 0, sizeof(st));
		e = pfd_loop_add(fd, EPOLLIN, pfd_accept, NULL);
		if (e) {
			pf_err("control socket %s: %s", path, strerror(-e));
			close(fd);
			return -1;
		}
		goto listening;
	}
	if (pfd_ctl_claim(&sun) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		pf_err("control socket %s: %s", path, strerror(errno));
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	if (chmod(path, 0600) < 0) {
		e = -errno;
		goto fail;
	}
	/* Owned by -u's user (an admin of the socket, which must reach it),
	 * with the group's members let in to read. */
	if (pfd_priv_sock_group(&gid) || pfd_priv_sock_owner() != (uid_t)-1) {
		if (chown(path, pfd_priv_sock_owner(), gid) < 0 ||
		    (gid != (gid_t)-1 && chmod(path, 0660) < 0)) {
			e = -errno;
			goto fail;
		}
	}
	if (listen(fd, 64) < 0 || lstat(path, &st) < 0) {
		e = -errno;
		goto fail;
	}
	e = pfd_loop_add(fd, EPOLLIN, pfd_accept, NULL);
	if (e)
		goto fail;
listening:
	pfd_lfd = fd;
	pfd_listening = true;
	pfd_sock_dev = st.st_dev;
	pfd_sock_ino = st.st_ino;
	pf_strlcpy(pfd_path, path, sizeof(pfd_path));
	pfd_reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return fd;
fail:
	pf_err("control socket %s: %s", path, strerror(-e));
	close(fd);
	unlink(path); /* ours: bound just now */
	return -1;
}

void pfd_ctl_close(void)
{
	struct stat st;

	while (pfd_clients)
		pfd_client_free(pfd_clients);
	if (pfd_reserve >= 0) {
		close(pfd_reserve);
		pfd_reserve = -1;
	}
	if (pfd_lfd >= 0) {
		pfd_loop_del(pfd_lfd);
		close(pfd_lfd);
		/* Only the socket we made: someone may have put something else
		 * there since (another daemon's socket, a file). */
		if (!pfd_sock_borrowed && !lstat(pfd_path, &st) && S_ISSOCK(st.st_mode) &&
		    st.st_dev == pfd_sock_dev && st.st_ino == pfd_sock_ino)
			unlink(pfd_path);
		pfd_lfd = -1;
	}
}

int pfd_ctl_fd(const char **path)
{
	*path = pfd_path;
	return pfd_lfd;
}

void pfd_ctl_release(void)
{
	if (pfd_lfd < 0)
		return;
	pfd_loop_del(pfd_lfd);
	close(pfd_lfd);
	pfd_lfd = -1;
	pfd_listening = false;
	if (pfd_emfile) {
		pfd_emfile = false;
		pfd_timer_del(pfd_emfile_timer);
	}
}

void pfd_ctl_own(void)
{
	pfd_sock_borrowed = false;
}
