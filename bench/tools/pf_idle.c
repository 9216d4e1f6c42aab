// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pf_idle: the echo server and idle-connection holder of the benchmark.
 *
 *   pf_idle server -l ADDR:PORT
 *   pf_idle client -c ADDR:PORT -n CONNS [-w WINDOW] [-t SECONDS] [-H SECONDS]
 *
 * server: a single-threaded epoll echo server (any number of connections,
 * TCP_NODELAY); prints "listening" once it listens, runs until killed.
 *
 * client: opens CONNS connections to ADDR:PORT (at most WINDOW connecting at
 * once, default 128), proves each one alive by an echo round trip of a small
 * message unique to it, then prints "alive N MS PID" (MS: how long that took,
 * PID: its own, for the signal below) and holds them all, idle. On SIGUSR1 it proves every connection alive again
 * (one more round trip each), prints "verified N" and exits 0; on SIGTERM or
 * once the hold time (-H, default 300 s) is over, it exits 0 without that.
 * Each phase must finish within -t SECONDS (default 60), or it exits 1. Any
 * connection that fails, closes or echoes the wrong bytes makes it exit 1
 * with a message on stderr.
 */
#include "bt_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG_LEN 16
#define ECHO_BUF 16384

static void die(const char *what)
{
	fprintf(stderr, "pf_idle: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: pf_idle server -l ADDR:PORT\n"
			"       pf_idle client -c ADDR:PORT -n CONNS [-w WINDOW] [-t SECONDS] "
			"[-H SECONDS]\n");
	exit(2);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void parse_addr(const char *s, struct sockaddr_in *sin)
{
	bt_parse_addr("pf_idle", s, sin);
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ---- server ---- */

struct econn {
	int fd;
	size_t off, len; /* pending bytes to send back: buf[off, len) */
	char buf[ECHO_BUF];
};

static void echo_close(int ep, struct econn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Flushes what is pending, then echoes what can be read; false once closed. */
static bool echo_io(int ep, struct econn *c)
{
	struct epoll_event ev = { .data.ptr = c };
	ssize_t n;

	for (;;) {
		while (c->off < c->len) {
			n = write(c->fd, c->buf + c->off, c->len - c->off);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					ev.events = EPOLLOUT;
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
					return true;
				}
				if (errno == EINTR)
					continue;
				return false;
			}
			c->off += (size_t)n;
		}
		c->off = c->len = 0;
		n = read(c->fd, c->buf, sizeof(c->buf));
		if (n == 0)
			return false;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return false;
			ev.events = EPOLLIN;
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			return true;
		}
		c->len = (size_t)n;
	}
}

static _Noreturn void run_server(const char *addr)
{
	struct sockaddr_in sin;
	struct epoll_event ev, evs[256];
	int lfd, ep, one = 1, i, n, fd;

	parse_addr(addr, &sin);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind");
	if (listen(lfd, 4096) < 0)
		die("listen");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("listening %s\n", addr);
	fflush(stdout);
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			struct econn *c = evs[i].data.ptr;

			if (c) {
				if (!echo_io(ep, c))
					echo_close(ep, c);
				continue;
			}
			while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
				c = malloc(sizeof(*c));
				if (!c) {
					close(fd);
					continue;
				}
				c->fd = fd;
				c->off = c->len = 0;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				ev.events = EPOLLIN;
				ev.data.ptr = c;
				if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
					close(fd);
					free(c);
				}
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				fprintf(stderr, "pf_idle: accept: %s\n", strerror(errno));
		}
	}
}

/* ---- client ---- */

enum cstate { C_IDLE, C_CONNECTING, C_WAIT_ECHO, C_ALIVE };

struct cconn {
	int fd;
	int idx;
	enum cstate st;
	size_t got;
	char msg[MSG_LEN];
	char in[MSG_LEN];
};

static int opt_conns, opt_window = 128, opt_secs = 60, opt_hold = 300;
static struct sockaddr_in peer;

static void cfail(const struct cconn *c, const char *what)
{
	fprintf(stderr, "pf_idle: connection %d: %s%s%s\n", c->idx, what, errno ? ": " : "",
		errno ? strerror(errno) : "");
	exit(1);
}

static void send_ping(int ep, struct cconn *c, unsigned round)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	ssize_t n;

	snprintf(c->msg, sizeof(c->msg), "%07d:%06u\n", c->idx, round % 1000000u);
	errno = 0;
	n = write(c->fd, c->msg, MSG_LEN);
	if (n != MSG_LEN)
		cfail(c, "short write of the ping");
	c->got = 0;
	c->st = C_WAIT_ECHO;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		cfail(c, "epoll_ctl");
}

/* Reads the echo; true once complete and right. */
static bool read_echo(struct cconn *c)
{
	ssize_t n;

	for (;;) {
		errno = 0;
		n = read(c->fd, c->in + c->got, MSG_LEN - c->got);
		if (n == 0)
			cfail(c, "closed by the peer");
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return false;
			cfail(c, "read");
		}
		c->got += (size_t)n;
		if (c->got == MSG_LEN) {
			errno = 0;
			if (memcmp(c->in, c->msg, MSG_LEN) != 0)
				cfail(c, "echo differs from the ping");
			return true;
		}
	}
}

static void start_connect(int ep, struct cconn *c)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		cfail(c, "socket (raise ulimit -n?)");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&peer, sizeof(peer)) < 0 && errno != EINPROGRESS)
		cfail(c, "connect");
	c->st = C_CONNECTING;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		cfail(c, "epoll_ctl");
}

static void deadline_check(long deadline, const char *phase, int done)
{
	if (now_ms() > deadline) {
		fprintf(stderr, "pf_idle: %s: only %d of %d connections after %d s\n", phase, done,
			opt_conns, opt_secs);
		exit(1);
	}
}

static int run_client(void)
{
	struct cconn *cs = calloc((size_t)opt_conns, sizeof(*cs));
	struct epoll_event evs[256];
	struct signalfd_siginfo si;
	long t0 = now_ms(), deadline = t0 + opt_secs * 1000L, hold_end;
	int ep, sfd, next = 0, inflight = 0, alive = 0, i, n;
	sigset_t mask;

	if (!cs)
		die("calloc");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	while (alive < opt_conns) {
		while (next < opt_conns && inflight < opt_window) {
			cs[next].idx = next;
			start_connect(ep, &cs[next]);
			next++;
			inflight++;
		}
		n = epoll_wait(ep, evs, 256, 200);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			struct cconn *c = evs[i].data.ptr;
			int err = 0;
			socklen_t el = sizeof(err);

			if (c->st == C_CONNECTING) {
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err) {
					errno = err;
					cfail(c, "connect");
				}
				send_ping(ep, c, 0);
			} else if (c->st == C_WAIT_ECHO && read_echo(c)) {
				c->st = C_ALIVE;
				/* Idle from now on: no events wanted. */
				struct epoll_event none = { .events = 0, .data.ptr = c };
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &none);
				alive++;
				inflight--;
			}
		}
		deadline_check(deadline, "connect+echo", alive);
	}
	printf("alive %d %ld %d\n", alive, now_ms() - t0, (int)getpid());
	fflush(stdout);

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		die("signalfd");
	hold_end = now_ms() + opt_hold * 1000L;
	for (;;) {
		struct pollfd pfd = { .fd = sfd, .events = POLLIN };
		long left = hold_end - now_ms();

		if (left <= 0)
			return 0;
		if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) <= 0)
			continue;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo != SIGUSR1)
			return 0;
		break;
	}

	/* SIGUSR1: every connection must still be alive. */
	deadline = now_ms() + opt_secs * 1000L;
	for (i = 0; i < opt_conns; i++)
		send_ping(ep, &cs[i], 1);
	alive = 0;
	while (alive < opt_conns) {
		n = epoll_wait(ep, evs, 256, 200);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (i = 0; i < n; i++) {
			struct cconn *c = evs[i].data.ptr;

			if (c->st == C_WAIT_ECHO && read_echo(c)) {
				c->st = C_ALIVE;
				alive++;
			}
		}
		deadline_check(deadline, "verify", alive);
	}
	printf("verified %d\n", alive);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode, *addr = NULL;
	int opt;

	if (argc < 2)
		usage();
	mode = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "l:c:n:w:t:H:")) != -1) {
		switch (opt) {
		case 'l':
		case 'c':
			addr = optarg;
			break;
		case 'n':
			opt_conns = atoi(optarg);
			break;
		case 'w':
			opt_window = atoi(optarg);
			break;
		case 't':
			opt_secs = atoi(optarg);
			break;
		case 'H':
			opt_hold = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!addr || opt_window < 1 || opt_secs < 1 || opt_hold < 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (strcmp(mode, "server") == 0)
		run_server(addr);
	if (strcmp(mode, "client") != 0 || opt_conns < 1)
		usage();
	parse_addr(addr, &peer);
	return run_client();
}
