// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pf_soak: the load tools of bench/soak.sh, which proves that long runs
 * through portfwd leave nothing behind.
 *
 *   pf_soak tsrv -l ADDR:PORT [-f MS]
 *   pf_soak tcp  -c ADDR:PORT -r ADDR:PORT -F ADDR:PORT [-n FLOWS] [-k INFLIGHT] [-d SECONDS]
 *   pf_soak udp  -c ADDR:PORT -a FIRST_ADDR [-A ADDRS] [-P FIRST_PORT] [-p PORTS]
 *                [-n DATAGRAMS] [-W WAVE] [-w WINDOW] [-d SECONDS]
 *   pf_soak sink -l ADDR:PORT [-r BYTES_PER_S] [-t SECONDS]
 *   pf_soak send -c ADDR:PORT
 *
 * tsrv: a TCP server (one epoll thread). Each connection sends a request of
 * TOKEN bytes, the first its kind; the server echoes it and then: 'N' closes
 * (FIN); 'C' waits for the client to go (it resets); 'R' waits for one more
 * byte and resets (SO_LINGER 0). -f MS: a flapping backend, its listener
 * closed for MS every 2 x MS (what was in its backlog is reset).
 *
 * tcp: FLOWS connections (default 1000), INFLIGHT at once (default 64), in a
 * fixed mix by flow number: of every 10, 5 normal, 2 client resets and 1
 * backend reset to -c, 1 to -r (a forward whose backend port is closed:
 * refused) and 1 to -F (the flapping backend). A flow that reaches a backend
 * must get its own token back, whole: anything else is "bad"; one to -r must
 * get nothing (refused), one to -F its token or nothing. Stops after -d
 * SECONDS (default 600) whatever is left. Prints
 *
 *   flows N ok N refused N bad N timeout N unfinished N seconds X
 *
 * and exits 1 if a flow was bad or timed out (10 s without progress).
 *
 * udp: DATAGRAMS (default 100000) from PORTS source ports (default 1000)
 * spread over ADDRS addresses (default 1) from FIRST_ADDR up, ports from
 * FIRST_PORT (default 20000): each source its own socket, bound to it, each
 * sending DATAGRAMS / PORTS, WINDOW (default 4) in flight; WAVE sources
 * (default 2000) at a time. Each datagram carries its source's address,
 * port and a sequence number; the echo server sends it back, and a reply
 * that reaches another socket, or does not match, is "misdelivered". A
 * window without a reply for 200 ms counts as lost and the next is sent (a
 * reply that comes after that is "late"). Prints
 *
 *   sent N replies N lost N late N misdelivered N sources N seconds X
 *
 * and exits 1 if anything was misdelivered.
 *
 * sink: accepts one connection and reads it at BYTES_PER_S (default 10240)
 * for SECONDS (default 60), then as fast as it comes, to its end; what it
 * read goes to stdout. send: stdin to ADDR:PORT, then waits for the peer's
 * end.
 *
 * Nothing is allocated per flow or datagram: slots are arrays.
 */
#include "bt_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOKEN 16
#define MAXFD 65536
#define STALL_MS 10000
#define UDP_LOST_MS 200

static void die(const char *what)
{
	fprintf(stderr, "pf_soak: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pf_soak tsrv -l ADDR:PORT [-f MS]\n"
		"       pf_soak tcp -c ADDR:PORT -r ADDR:PORT -F ADDR:PORT [-n FLOWS] [-k INFLIGHT] "
		"[-d SECONDS]\n"
		"       pf_soak udp -c ADDR:PORT -a FIRST_ADDR [-A ADDRS] [-P FIRST_PORT] [-p PORTS] "
		"[-n DATAGRAMS] [-W WAVE] [-w WINDOW] [-d SECONDS]\n"
		"       pf_soak sink -l ADDR:PORT [-r BYTES_PER_S] [-t SECONDS]\n"
		"       pf_soak send -c ADDR:PORT\n");
	exit(2);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void parse_addr(const char *s, struct sockaddr_in *sin)
{
	bt_parse_addr("pf_soak", s, sin);
}

static long num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 0) {
		fprintf(stderr, "pf_soak: '%s': expected a number\n", s);
		exit(2);
	}
	return v;
}

static int listener(const struct sockaddr_in *sin)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sin, sizeof(*sin)) < 0 || listen(fd, 4096) < 0)
		die("bind/listen");
	return fd;
}

static void reset_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

/* ---- tsrv ---- */

struct sconn {
	uint8_t got;
	uint8_t kind; /* 0: slot free */
	bool echoed;
	char buf[TOKEN];
};

static struct sconn sconns[MAXFD];

static void srv_close(int ep, int fd, bool rst)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	sconns[fd].kind = 0;
	if (rst)
		reset_close(fd);
	else
		close(fd);
}

static void srv_read(int ep, int fd)
{
	struct sconn *c = &sconns[fd];
	char b[64];
	ssize_t n;

	for (;;) {
		if (!c->echoed) {
			n = read(fd, c->buf + c->got, TOKEN - c->got);
		} else {
			n = read(fd, b, sizeof(b));
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			srv_close(ep, fd, false);
			return;
		}
		if (c->echoed) {
			/* 'R': the client's go-ahead; anything else is ignored. */
			if (c->buf[0] == 'R') {
				srv_close(ep, fd, true);
				return;
			}
			continue;
		}
		c->got = (uint8_t)(c->got + n);
		if (c->got < TOKEN)
			continue;
		/* A few bytes into an empty send buffer: written whole. */
		if (write(fd, c->buf, TOKEN) != TOKEN) {
			srv_close(ep, fd, true);
			return;
		}
		c->echoed = true;
		if (c->buf[0] == 'N') {
			srv_close(ep, fd, false);
			return;
		}
	}
}

static int cmd_tsrv(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct epoll_event ev, evs[256];
	const char *l = NULL;
	long flap = 0;
	uint64_t next = 0;
	int opt, ep, lfd;
	bool up = true;

	while ((opt = getopt(argc, argv, "l:f:")) != -1) {
		if (opt == 'l')
			l = optarg;
		else if (opt == 'f')
			flap = num(optarg);
		else
			usage();
	}
	if (!l)
		usage();
	parse_addr(l, &sin);
	ep = epoll_create1(EPOLL_CLOEXEC);
	lfd = listener(&sin);
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("listening\n");
	fflush(stdout);
	if (flap)
		next = now_ms() + 2 * (uint64_t)flap;
	for (;;) {
		int i, n = epoll_wait(ep, evs, 256, flap ? 50 : -1);

		if (flap && now_ms() >= next) {
			if (up) {
				epoll_ctl(ep, EPOLL_CTL_DEL, lfd, NULL);
				close(lfd);
				lfd = -1;
				next = now_ms() + (uint64_t)flap;
			} else {
				lfd = listener(&sin);
				ev.events = EPOLLIN;
				ev.data.fd = lfd;
				epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
				next = now_ms() + 2 * (uint64_t)flap;
			}
			up = !up;
		}
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				int c;

				while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					if (c >= MAXFD) {
						close(c);
						continue;
					}
					memset(&sconns[c], 0, sizeof(sconns[c]));
					sconns[c].kind = 1;
					ev.events = EPOLLIN | EPOLLRDHUP;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
			} else if (sconns[fd].kind) {
				srv_read(ep, fd);
			}
		}
	}
	return 0; /* not reached: killed when done */
}

/* ---- tcp client ---- */

enum { K_NORMAL, K_CRESET, K_BRESET, K_REFUSED, K_FLAP };
enum { S_CONNECT, S_READ, S_WAITEND };

struct cconn {
	int fd;
	uint8_t kind, state, got;
	uint64_t last_ms;
	char tok[TOKEN], buf[TOKEN];
};

static struct {
	uint64_t flows, ok, refused, bad, timeout;
	uint64_t bad_kind[5];
} tst;

static uint64_t rng = 88172645463325252ull;

static uint64_t xrand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const uint8_t mix[10] = { K_NORMAL, K_CRESET, K_NORMAL, K_BRESET, K_NORMAL,
				 K_REFUSED, K_NORMAL, K_CRESET, K_NORMAL, K_FLAP };

static void cli_done(int ep, struct cconn *c, int result)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	if (c->kind == K_CRESET && result == 0)
		reset_close(c->fd);
	else
		close(c->fd);
	c->fd = -1;
	if (result == 0)
		tst.ok++;
	else if (result == 1)
		tst.refused++;
	else
		tst.bad++;
	if (result == 2)
		tst.bad_kind[c->kind]++;
}

static bool cli_start(int ep, struct cconn *c, uint64_t id, const struct sockaddr_in *dst)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };
	uint64_t r = xrand();

	c->kind = mix[id % 10];
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return false;
	c->tok[0] = c->kind == K_CRESET ? 'C' : c->kind == K_BRESET ? 'R' : 'N';
	memcpy(c->tok + 1, &id, 7);
	memcpy(c->tok + 8, &r, 8);
	c->got = 0;
	c->state = S_CONNECT;
	c->last_ms = now_ms();
	ev.data.ptr = c;
	if (connect(c->fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0 &&
	    errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return false;
	}
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	tst.flows++;
	return true;
}

/* Moves c on; the flow ends through cli_done. */
static void cli_event(int ep, struct cconn *c)
{
	bool may_refuse = c->kind == K_REFUSED || c->kind == K_FLAP;
	ssize_t n;

	c->last_ms = now_ms();
	if (c->state == S_CONNECT) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err == EINPROGRESS || err == EALREADY)
			return;
		if (err) {
			/* A refused flow may be reset before we looked. */
			cli_done(ep, c, may_refuse ? 1 : 2);
			return;
		}
		n = send(c->fd, c->tok, TOKEN, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n != TOKEN) {
			cli_done(ep, c, may_refuse ? 1 : 2);
			return;
		}
		c->state = S_READ;
	}
	if (c->state == S_READ) {
		for (;;) {
			n = read(c->fd, c->buf + c->got, TOKEN - c->got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				return;
			if (n <= 0) {
				/* Closed with nothing: a refusal; mid-token: bad. */
				cli_done(ep, c, may_refuse && c->got == 0 ? 1 : 2);
				return;
			}
			if (memcmp(c->buf + c->got, c->tok + c->got, (size_t)n) != 0) {
				cli_done(ep, c, 2);
				return;
			}
			c->got = (uint8_t)(c->got + n);
			if (c->got < TOKEN)
				continue;
			if (c->kind == K_REFUSED) {
				cli_done(ep, c, 2); /* the dead port answered */
				return;
			}
			if (c->kind == K_CRESET) {
				cli_done(ep, c, 0);
				return;
			}
			if (c->kind == K_BRESET && send(c->fd, "x", 1, MSG_NOSIGNAL) != 1) {
				cli_done(ep, c, 2);
				return;
			}
			c->state = S_WAITEND;
			break;
		}
	}
	/* S_WAITEND: the backend's FIN or reset; bytes past the token are bad. */
	for (;;) {
		char b[64];

		n = read(c->fd, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		cli_done(ep, c, n > 0 ? 2 : 0);
		return;
	}
}

static int cmd_tcp(int argc, char **argv)
{
	struct sockaddr_in dst[3];
	const char *a[3] = { NULL, NULL, NULL };
	long flows = 1000, inflight = 64, secs = 600;
	struct epoll_event evs[256];
	struct cconn *cs;
	uint64_t start, id = 0, lastscan;
	long i, open = 0;
	int opt, ep;

	while ((opt = getopt(argc, argv, "c:r:F:n:k:d:")) != -1) {
		switch (opt) {
		case 'c': a[0] = optarg; break;
		case 'r': a[1] = optarg; break;
		case 'F': a[2] = optarg; break;
		case 'n': flows = num(optarg); break;
		case 'k': inflight = num(optarg); break;
		case 'd': secs = num(optarg); break;
		default: usage();
		}
	}
	if (!a[0] || !a[1] || !a[2] || inflight < 1 || inflight > 4096)
		usage();
	for (i = 0; i < 3; i++)
		parse_addr(a[i], &dst[i]);
	cs = calloc((size_t)inflight, sizeof(*cs));
	if (!cs)
		die("calloc");
	ep = epoll_create1(EPOLL_CLOEXEC);
	start = lastscan = now_ms();
	for (i = 0; i < inflight; i++)
		cs[i].fd = -1;
	for (;;) {
		uint64_t now = now_ms();
		int n, j;

		if (now - start > (uint64_t)secs * 1000)
			break;
		open = 0;
		for (i = 0; i < inflight; i++) {
			struct cconn *c = &cs[i];

			if (c->fd < 0 && id < (uint64_t)flows) {
				uint8_t k = mix[id % 10];
				const struct sockaddr_in *d = k == K_REFUSED ? &dst[1]
							      : k == K_FLAP  ? &dst[2]
									     : &dst[0];

				if (!cli_start(ep, c, id, d))
					break; /* out of ports or descriptors: later */
				id++;
			}
			if (c->fd >= 0)
				open++;
		}
		if (!open && id >= (uint64_t)flows)
			break;
		n = epoll_wait(ep, evs, 256, 100);
		for (j = 0; j < n; j++)
			cli_event(ep, evs[j].data.ptr);
		now = now_ms(); /* flows started above are newer than the loop's start */
		if (now - lastscan >= 1000) {
			lastscan = now;
			for (i = 0; i < inflight; i++) {
				struct cconn *c = &cs[i];

				if (c->fd >= 0 && now > c->last_ms + STALL_MS) {
					epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
					close(c->fd);
					c->fd = -1;
					tst.timeout++;
				}
			}
		}
	}
	printf("flows %llu ok %llu refused %llu bad %llu timeout %llu unfinished %ld seconds %.1f\n",
	       (unsigned long long)tst.flows, (unsigned long long)tst.ok,
	       (unsigned long long)tst.refused, (unsigned long long)tst.bad,
	       (unsigned long long)tst.timeout, open, (double)(now_ms() - start) / 1000.0);
	if (tst.bad)
		fprintf(stderr,
			"pf_soak: bad flows by kind: normal %llu, client reset %llu, backend reset "
			"%llu, refused %llu, flapping %llu\n",
			(unsigned long long)tst.bad_kind[K_NORMAL],
			(unsigned long long)tst.bad_kind[K_CRESET],
			(unsigned long long)tst.bad_kind[K_BRESET],
			(unsigned long long)tst.bad_kind[K_REFUSED],
			(unsigned long long)tst.bad_kind[K_FLAP]);
	return tst.bad || tst.timeout ? 1 : 0;
}

/* ---- udp client ---- */

struct usrc {
	int fd;
	uint32_t addr; /* host order */
	uint16_t port;
	uint32_t sent, inflight, quota;
	uint32_t given_up; /* replies below this sequence number were counted lost */
	bool done;
	uint64_t last_ms;
};

struct udgram {
	uint32_t addr;
	uint16_t port, pad;
	uint32_t seq;
	uint32_t magic;
};

#define UMAGIC 0x50465344u

static struct {
	uint64_t sent, replies, lost, late, misdelivered, sources;
} ust;

static void usend(struct usrc *s)
{
	struct udgram d = { .addr = s->addr, .port = s->port, .seq = s->sent, .magic = UMAGIC };
	char pkt[64];

	memset(pkt, 0, sizeof(pkt));
	memcpy(pkt, &d, sizeof(d));
	if (send(s->fd, pkt, sizeof(pkt), 0) == (ssize_t)sizeof(pkt)) {
		s->sent++;
		s->inflight++;
		ust.sent++;
	} else {
		/* A full buffer is a drop too: counted lost, never awaited. */
		s->sent++;
		s->given_up = s->sent;
		ust.sent++;
		ust.lost++;
	}
}

static int cmd_udp(int argc, char **argv)
{
	struct sockaddr_in dst, first;
	const char *c = NULL, *fa = NULL;
	long naddr = 1, port0 = 20000, ports = 1000, total = 100000, wave = 2000, window = 4,
	     secs = 600;
	struct epoll_event evs[256];
	struct usrc *ss;
	uint64_t start;
	long base, i;
	int opt, ep;

	while ((opt = getopt(argc, argv, "c:a:A:P:p:n:W:w:d:")) != -1) {
		switch (opt) {
		case 'c': c = optarg; break;
		case 'a': fa = optarg; break;
		case 'A': naddr = num(optarg); break;
		case 'P': port0 = num(optarg); break;
		case 'p': ports = num(optarg); break;
		case 'n': total = num(optarg); break;
		case 'W': wave = num(optarg); break;
		case 'w': window = num(optarg); break;
		case 'd': secs = num(optarg); break;
		default: usage();
		}
	}
	if (!c || !fa || naddr < 1 || ports < 1 || wave < 1 || wave > 16384 || window < 1)
		usage();
	parse_addr(c, &dst);
	{
		char tmp[80];

		snprintf(tmp, sizeof(tmp), "%s:0", fa);
		parse_addr(tmp, &first);
	}
	if (port0 + (ports + naddr - 1) / naddr > 65536) {
		fprintf(stderr, "pf_soak: %ld ports from %ld over %ld addresses pass 65535\n",
			ports, port0, naddr);
		return 2;
	}
	ss = calloc((size_t)wave, sizeof(*ss));
	if (!ss)
		die("calloc");
	ep = epoll_create1(EPOLL_CLOEXEC);
	start = now_ms();
	for (base = 0; base < ports; base += wave) {
		long nw = ports - base < wave ? ports - base : wave, left = 0;
		uint64_t lastscan = now_ms();

		for (i = 0; i < nw; i++) {
			struct usrc *s = &ss[i];
			long k = base + i;
			struct sockaddr_in src = first;
			struct epoll_event ev = { .events = EPOLLIN };
			int one = 1;

			s->addr = ntohl(first.sin_addr.s_addr) + (uint32_t)(k % naddr);
			s->port = (uint16_t)(port0 + k / naddr);
			s->quota = (uint32_t)(total / ports + (k < total % ports ? 1 : 0));
			s->sent = s->inflight = s->given_up = 0;
			s->done = false;
			src.sin_addr.s_addr = htonl(s->addr);
			src.sin_port = htons(s->port);
			s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (s->fd < 0)
				die("socket");
			setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(s->fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
			    connect(s->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
				die("bind/connect of a source");
			ev.data.ptr = s;
			epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
			ust.sources++;
			s->last_ms = now_ms();
			while (s->inflight < (uint32_t)window && s->sent < s->quota)
				usend(s);
			left++;
		}
		while (left > 0 && now_ms() - start <= (uint64_t)secs * 1000) {
			int n = epoll_wait(ep, evs, 256, 50), j;
			uint64_t now = now_ms();

			for (j = 0; j < n; j++) {
				struct usrc *s = evs[j].data.ptr;
				char pkt[128];
				ssize_t r;

				while ((r = recv(s->fd, pkt, sizeof(pkt), 0)) >= 0) {
					struct udgram d;

					memcpy(&d, pkt, sizeof(d));
					if (r != 64 || d.magic != UMAGIC || d.addr != s->addr ||
					    d.port != s->port || d.seq >= s->sent) {
						ust.misdelivered++;
						continue;
					}
					if (d.seq < s->given_up) {
						ust.late++; /* counted lost already */
						continue;
					}
					ust.replies++;
					s->inflight--;
					s->last_ms = now;
					if (s->sent < s->quota) {
						usend(s);
					} else if (!s->inflight && !s->done) {
						s->done = true;
						left--;
					}
				}
			}
			if (now - lastscan >= UDP_LOST_MS / 2) {
				lastscan = now;
				for (i = 0; i < nw; i++) {
					struct usrc *s = &ss[i];

					if (s->done || !s->inflight || now <= s->last_ms + UDP_LOST_MS)
						continue;
					ust.lost += s->inflight;
					s->inflight = 0;
					s->given_up = s->sent;
					s->last_ms = now;
					if (s->sent >= s->quota) {
						s->done = true;
						left--;
						continue;
					}
					while (s->inflight < (uint32_t)window && s->sent < s->quota)
						usend(s);
				}
			}
		}
		for (i = 0; i < nw; i++)
			close(ss[i].fd);
		if (now_ms() - start > (uint64_t)secs * 1000)
			break;
	}
	printf("sent %llu replies %llu lost %llu late %llu misdelivered %llu sources %llu "
	       "seconds %.1f\n",
	       (unsigned long long)ust.sent, (unsigned long long)ust.replies,
	       (unsigned long long)ust.lost, (unsigned long long)ust.late,
	       (unsigned long long)ust.misdelivered,
	       (unsigned long long)ust.sources, (double)(now_ms() - start) / 1000.0);
	return ust.misdelivered ? 1 : 0;
}

/* ---- sink and send ---- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int cmd_sink(int argc, char **argv)
{
	struct sockaddr_in sin;
	const char *l = NULL;
	long rate = 10240, secs = 60;
	static char buf[65536];
	uint64_t end;
	int opt, lfd, fd, fl;

	while ((opt = getopt(argc, argv, "l:r:t:")) != -1) {
		if (opt == 'l')
			l = optarg;
		else if (opt == 'r')
			rate = num(optarg);
		else if (opt == 't')
			secs = num(optarg);
		else
			usage();
	}
	if (!l || rate < 10)
		usage();
	parse_addr(l, &sin);
	lfd = listener(&sin);
	fl = fcntl(lfd, F_GETFL);
	fcntl(lfd, F_SETFL, fl & ~O_NONBLOCK);
	fprintf(stderr, "listening\n");
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		die("accept");
	end = now_ms() + (uint64_t)secs * 1000;
	/* Slow: a tenth of the rate every 100 ms. */
	while (now_ms() < end) {
		size_t want = (size_t)rate / 10, got = 0;

		while (got < want) {
			ssize_t n = read(fd, buf, want - got);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? 1 : 0;
			if (write_all(1, buf, (size_t)n) < 0)
				return 1;
			got += (size_t)n;
		}
		poll(NULL, 0, 100);
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 1;
		if (n == 0)
			return 0;
		if (write_all(1, buf, (size_t)n) < 0)
			return 1;
	}
}

static int cmd_send(int argc, char **argv)
{
	struct sockaddr_in sin;
	static char buf[65536];
	const char *c = NULL;
	int opt, fd;

	while ((opt = getopt(argc, argv, "c:")) != -1) {
		if (opt == 'c')
			c = optarg;
		else
			usage();
	}
	if (!c)
		usage();
	parse_addr(c, &sin);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect");
	for (;;) {
		ssize_t n = read(0, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		if (write_all(fd, buf, (size_t)n) < 0)
			die("send");
	}
	shutdown(fd, SHUT_WR);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	argv++;
	argc--;
	if (!strcmp(argv[0], "tsrv"))
		return cmd_tsrv(argc, argv);
	if (!strcmp(argv[0], "tcp"))
		return cmd_tcp(argc, argv);
	if (!strcmp(argv[0], "udp"))
		return cmd_udp(argc, argv);
	if (!strcmp(argv[0], "sink"))
		return cmd_sink(argc, argv);
	if (!strcmp(argv[0], "send"))
		return cmd_send(argc, argv);
	usage();
	return 2;
}
