// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sockmap-relay: an experiment, not part of portfwd. A TCP relay whose
 * established data never reaches user space: it accepts a client, connects
 * to the backend, and puts both sockets in a sockmap whose stream verdict
 * (smr_bpf.c) sends every received segment out of the peer socket. User
 * space only pairs sockets and turns an EOF on one side into a shutdown of
 * the other's write side.
 *
 *   sockmap-relay -l ADDR:PORT -b ADDR:PORT [-o smr_bpf.o] [-S SNDBUF]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smr_map.h"
#include "smr_slots.h"

/* One relayed connection; side 0 is the client, 1 the backend. Its slots
 * in the sockmap are fixed by its index: 2 * index + side. */
struct smr_conn {
	int fd[2];
	uint64_t cookie[2];
	int eof[2]; /* the side's peer has sent its FIN */
};

static struct smr_conn smr_conns[SMR_CONNS];
static uint32_t smr_free[SMR_CONNS];
static uint32_t smr_nfree;
static volatile sig_atomic_t smr_stop;

static void smr_on_signal(int sig)
{
	(void)sig;
	smr_stop = 1;
}

static int smr_parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

static int smr_sndbuf; /* -S: SO_SNDBUF of both sides, 0 for the kernel's */

static void smr_tune(int fd)
{
	int one = 1;

	/* The verdict's sends wait a jiffy each time the peer's send buffer
	 * is full (psock backlog): -S tries a larger one. */
	if (smr_sndbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &smr_sndbuf, sizeof(smr_sndbuf));

	/* Redirected segments are sent as they come: no Nagle delay on the
	 * small replies of request/response traffic. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static uint32_t smr_slot(uint32_t idx, int side)
{
	return 2 * idx + (uint32_t)side;
}

static void smr_conn_close(struct smr_map *m, uint32_t idx)
{
	struct smr_conn *c = &smr_conns[idx];
	uint32_t slot[2] = { smr_slot(idx, 0), smr_slot(idx, 1) };

	smr_map_unpair(m, slot, c->cookie);
	close(c->fd[0]);
	close(c->fd[1]);
	c->fd[0] = c->fd[1] = -1;
	smr_free[smr_nfree++] = idx;
}

/*
 * smr_flush_early: bytes that arrive before a socket enters the sockmap
 * stay in its receive queue: the verdict only runs when the next segment
 * comes, and a client that speaks first and then waits (HTTP) would wait
 * forever. Bytes the verdict passed while the pair was incomplete sit in
 * the psock's own queue. Called before and again after pairing, copying by
 * hand (FIONREAD cannot tell: on a sockmap socket it counts the psock's
 * queue only). A segment redirected between pairing and the second call
 * could overtake bytes still waiting here: a race the experiment accepts.
 */
static int smr_flush_early(int from, int to)
{
	char buf[16384];
	ssize_t n, w, off;

	for (;;) {
		n = recv(from, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return 0; /* EOF: epoll reports it */
		for (off = 0; off < n; off += w) {
			w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
			if (w < 0)
				return -errno;
		}
	}
}

static int smr_accept_one(struct smr_map *m, int lfd, int efd, const struct sockaddr_in *back)
{
	struct epoll_event ev = { .events = EPOLLRDHUP | EPOLLET };
	struct smr_conn *c;
	uint32_t idx, slot[2];
	int cfd, bfd = -1, rc, side;

	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return -errno;
	rc = -EMFILE;
	if (smr_nfree == 0)
		goto out;
	bfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bfd < 0) {
		rc = -errno;
		goto out;
	}
	/* A blocking connect: the prototype measures the data path, not
	 * connection setup under load. */
	if (connect(bfd, (const struct sockaddr *)back, sizeof(*back)) < 0) {
		rc = -errno;
		goto out;
	}
	smr_tune(cfd);
	smr_tune(bfd);
	rc = smr_flush_early(cfd, bfd);
	if (rc < 0)
		goto out;
	idx = smr_free[--smr_nfree];
	c = &smr_conns[idx];
	c->fd[0] = cfd;
	c->fd[1] = bfd;
	c->eof[0] = c->eof[1] = 0;
	slot[0] = smr_slot(idx, 0);
	slot[1] = smr_slot(idx, 1);
	rc = smr_map_pair(m, c->fd, slot, c->cookie);
	if (rc < 0) {
		c->fd[0] = c->fd[1] = -1;
		smr_free[smr_nfree++] = idx;
		goto out;
	}
	for (side = 0; side < 2; side++) {
		/* Only EPOLLRDHUP: data wakeups are of no use here. */
		ev.data.u64 = (uint64_t)idx << 1 | (uint64_t)side;
		if (epoll_ctl(efd, EPOLL_CTL_ADD, c->fd[side], &ev) < 0) {
			rc = -errno;
			smr_conn_close(m, idx);
			return rc;
		}
	}
	if (smr_flush_early(cfd, bfd) < 0 || smr_flush_early(bfd, cfd) < 0)
		smr_conn_close(m, idx);
	return 0;
out:
	if (bfd >= 0)
		close(bfd);
	close(cfd);
	return rc;
}

static void smr_on_event(struct smr_map *m, uint64_t data, uint32_t events)
{
	uint32_t idx = (uint32_t)(data >> 1);
	int side = (int)(data & 1);
	struct smr_conn *c = &smr_conns[idx];

	if (c->fd[side] < 0)
		return;
	if (events & (EPOLLERR | EPOLLHUP)) {
		smr_conn_close(m, idx);
		return;
	}
	if (!(events & EPOLLRDHUP) || c->eof[side])
		return;
	c->eof[side] = 1;
	/*
	 * Pass the FIN on. Segments the verdict redirected just before may
	 * still wait in the peer's psock queue (sent from a kworker): a
	 * shutdown now can overtake them. Acceptable for the experiment,
	 * not for a product (see README.md).
	 */
	shutdown(c->fd[!side], SHUT_WR);
	if (c->eof[!side])
		smr_conn_close(m, idx);
}

int main(int argc, char **argv)
{
	struct sockaddr_in front, back;
	struct smr_map m = { 0 };
	struct epoll_event evs[256];
	char objpath[PATH_MAX], self[PATH_MAX];
	const char *lopt = NULL, *bopt = NULL, *obj = NULL;
	int opt, lfd = -1, efd = -1, one = 1, n, i, rc = 1;
	ssize_t len;
	uint32_t k;

	while ((opt = getopt(argc, argv, "l:b:o:S:")) != -1) {
		switch (opt) {
		case 'l': lopt = optarg; break;
		case 'b': bopt = optarg; break;
		case 'o': obj = optarg; break;
		case 'S': smr_sndbuf = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (!lopt || !bopt || smr_parse_addr(lopt, &front) < 0 || smr_parse_addr(bopt, &back) < 0)
		goto usage;
	if (!obj) {
		/* By default the BPF object next to the binary. */
		len = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (len < 0)
			return 1;
		self[len] = '\0';
		snprintf(objpath, sizeof(objpath), "%s/smr_bpf.o", dirname(self));
		obj = objpath;
	}
	for (k = 0; k < SMR_CONNS; k++) {
		smr_conns[k].fd[0] = smr_conns[k].fd[1] = -1;
		smr_free[k] = SMR_CONNS - 1 - k;
	}
	smr_nfree = SMR_CONNS;
	signal(SIGINT, smr_on_signal);
	signal(SIGTERM, smr_on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (smr_map_open(&m, obj) < 0)
		goto out;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	efd = epoll_create1(EPOLL_CLOEXEC);
	if (lfd < 0 || efd < 0)
		goto out;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&front, sizeof(front)) < 0 || listen(lfd, 4096) < 0) {
		perror("sockmap-relay: listen");
		goto out;
	}
	{
		/* The listener's data word: one past every connection's. */
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };

		if (epoll_ctl(efd, EPOLL_CTL_ADD, lfd, &ev) < 0)
			goto out;
	}
	fprintf(stderr, "sockmap-relay: %s -> %s running\n", lopt, bopt);
	while (!smr_stop) {
		n = epoll_wait(efd, evs, 256, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.u64 == UINT64_MAX) {
				/* Until the backlog is empty, or accept itself fails. */
				while ((rc = smr_accept_one(&m, lfd, efd, &back)) != -EAGAIN &&
				       rc != -EMFILE && rc != -ENFILE)
					;
				rc = 1;
				continue;
			}
			smr_on_event(&m, evs[i].data.u64, evs[i].events);
		}
	}
	rc = 0;
out:
	for (k = 0; k < SMR_CONNS; k++)
		if (smr_conns[k].fd[0] >= 0)
			smr_conn_close(&m, k);
	if (efd >= 0)
		close(efd);
	if (lfd >= 0)
		close(lfd);
	smr_map_close(&m);
	return rc;
usage:
	fprintf(stderr, "usage: sockmap-relay -l ADDR:PORT -b ADDR:PORT [-o smr_bpf.o] [-S SNDBUF]\n");
	return 2;
}
