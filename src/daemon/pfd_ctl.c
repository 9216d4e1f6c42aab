// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket: a unix stream socket, mode 0600. A client writes one
 * request (statements in the command language), shuts down its write side,
 * and reads one JSON object back. Requests are length-capped and clients
 * that stall are dropped, so a bad client cannot wedge the daemon.
 */
#include "pfd.h"
#include "pfd_loop.h"
#include "../common/pf_log.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define PFD_CLIENT_TIMEOUT_MS 10000

struct pfd_client {
	int fd;
	char *buf;
	size_t len, cap;
	uint64_t start_ms;
	struct pfd_client *next;
};

static int pfd_lfd = -1;
/* One descriptor held in reserve: when the process runs out, it is freed to
 * accept a control client, so the operator can still look and act. */
static int pfd_reserve = -1;
static bool pfd_paused;
static uint64_t pfd_resume_ms;
static char pfd_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct pfd_client *pfd_clients;
static int64_t pfd_sweep;

static void pfd_ctl_event(int fd, uint32_t events, void *arg);
static void pfd_ctl_expire(void *arg);

int pfd_ctl_open(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;
	int fd;

	if (pf_strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		pf_err("control socket path too long: %s", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* A live daemon answers; a stale socket file of a dead one is replaced. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		pf_err("another portfwd is running on %s", path);
		close(fd);
		return -1;
	}
	close(fd);
	unlink(path);
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
	if (chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
		pf_err("control socket %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	pfd_sweep = pfd_timer_add(1000, 1000, pfd_ctl_expire, NULL);
	if (pfd_sweep < 0 || pfd_loop_add(fd, EPOLLIN, pfd_ctl_event, NULL) < 0) {
		pf_err("control socket %s: %s", path, strerror(ENOMEM));
		close(fd);
		unlink(path);
		return -1;
	}
	pfd_lfd = fd;
	pf_strlcpy(pfd_path, path, sizeof(pfd_path));
	pfd_reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return fd;
}

static void pfd_client_free(struct pfd_client *c)
{
	struct pfd_client **pp;

	for (pp = &pfd_clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pfd_loop_del(c->fd);
	close(c->fd);
	free(c->buf);
	free(c);
	if (pfd_reserve < 0)
		pfd_reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (pfd_paused) {
		pfd_paused = false;
		pfd_loop_mod(pfd_lfd, EPOLLIN);
	}
}

static void pfd_reply(struct pfd_client *c, json_t *res)
{
	char *out = json_dumps(res, JSON_COMPACT);
	struct timeval tv = { .tv_sec = 5 };
	size_t len, off = 0;

	json_decref(res);
	if (!out)
		return;
	len = strlen(out);
	/* The reply can be large (conns); write it whole, with a time limit. */
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (off < len) {
		ssize_t n = send(c->fd, out + off, len - off, MSG_NOSIGNAL);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		off += (size_t)n;
	}
	(void)!send(c->fd, "\n", 1, MSG_NOSIGNAL);
	free(out);
}

static void pfd_client_read(struct pfd_client *c)
{
	for (;;) {
		ssize_t n;

		if (c->len == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 4096;
			char *nb;

			if (cap > PFD_REQ_MAX + 1)
				cap = PFD_REQ_MAX + 1;
			if (c->len == cap) {
				pfd_reply(c, json_pack("{s:b, s:s}", "ok", 0, "error",
						       "request larger than 4 MiB"));
				pfd_client_free(c);
				return;
			}
			nb = realloc(c->buf, cap);
			if (!nb) {
				pfd_client_free(c);
				return;
			}
			c->buf = nb;
			c->cap = cap;
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			pfd_client_free(c);
			return;
		}
		break; /* EOF: the request is complete */
	}
	pfd_reply(c, pfd_table_request(c->buf ? c->buf : "", c->len));
	pfd_client_free(c);
}

static void pfd_ctl_event(int fd, uint32_t events, void *arg)
{
	struct pfd_client *c;

	(void)events;
	(void)arg;
	if (fd == pfd_lfd) {
		for (;;) {
			int cfd = accept4(pfd_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

			if (cfd < 0 && (errno == EMFILE || errno == ENFILE) && pfd_reserve >= 0) {
				close(pfd_reserve);
				pfd_reserve = -1;
				cfd = accept4(pfd_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			}
			if (cfd < 0 && (errno == EMFILE || errno == ENFILE)) {
				/* No reserve left either: stop polling the socket for a
				 * while rather than spin on it. */
				pfd_loop_mod(pfd_lfd, 0);
				pfd_paused = true;
				pfd_resume_ms = pf_now_ms() + 100;
				pfd_timer_set(pfd_sweep, 100);
				return;
			}
			if (cfd < 0)
				return;
			c = calloc(1, sizeof(*c));
			if (!c) {
				close(cfd);
				return;
			}
			c->fd = cfd;
			c->start_ms = pf_now_ms();
			if (pfd_loop_add(cfd, EPOLLIN | EPOLLRDHUP, pfd_ctl_event, NULL) < 0) {
				close(cfd);
				free(c);
				return;
			}
			c->next = pfd_clients;
			pfd_clients = c;
		}
	}
	for (c = pfd_clients; c; c = c->next) {
		if (c->fd == fd) {
			pfd_client_read(c);
			return;
		}
	}
}

/* Every second (and sooner while the listener is paused). */
static void pfd_ctl_expire(void *arg)
{
	struct pfd_client *c = pfd_clients, *next;
	uint64_t now = pf_now_ms();

	(void)arg;
	if (pfd_paused && now >= pfd_resume_ms) {
		pfd_paused = false;
		pfd_loop_mod(pfd_lfd, EPOLLIN);
	}
	for (; c; c = next) {
		next = c->next;
		if (now - c->start_ms > PFD_CLIENT_TIMEOUT_MS)
			pfd_client_free(c);
	}
}

void pfd_ctl_close(void)
{
	while (pfd_clients) {
		struct pfd_client *c = pfd_clients;

		pfd_clients = c->next;
		pfd_loop_del(c->fd);
		close(c->fd);
		free(c->buf);
		free(c);
	}
	if (pfd_reserve >= 0) {
		close(pfd_reserve);
		pfd_reserve = -1;
	}
	if (pfd_lfd >= 0) {
		pfd_loop_del(pfd_lfd);
		close(pfd_lfd);
		unlink(pfd_path);
		pfd_lfd = -1;
	}
}
