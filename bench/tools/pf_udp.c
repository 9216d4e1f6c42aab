// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pf_udp: the UDP echo server and the UDP load clients of the benchmark.
 *
 *   pf_udp echo -l ADDR:PORT
 *   pf_udp rr   -c ADDR:PORT [-s BYTES] [-d SECONDS] [-W SECONDS] [-T MS]
 *   pf_udp many -c ADDR:PORT [-k CLIENTS] [-w WINDOW] [-j THREADS] [-s BYTES]
 *               [-d SECONDS] [-W SECONDS] [-T MS]
 *
 * echo: a single-threaded UDP echo server: recvmmsg a batch (blocking until
 * at least one), sendmmsg every datagram back to its sender, except empty
 * ones (rinetd 0.73 opens each UDP session with an empty datagram, and takes
 * an empty reply for the end of the session). Prints "listening" once bound;
 * runs until killed.
 *
 * rr: ONE client socket (connected to ADDR:PORT) doing sequential
 * request/replies of BYTES (default 64): send one, wait for its reply, send
 * the next. A reply that does not come within -T MS (default 200) counts as
 * lost and the next request goes out; a late or foreign reply is counted as
 * stale and ignored. -W SECONDS (default 0.2) of untimed warm-up, then -d
 * SECONDS (default 1) measured. Prints one line:
 *
 *   rtts N rate X lost N stale N p50_us X p90_us X p99_us X mean_us X
 *
 * many: CLIENTS sockets (default 64), each its own source port and connected
 * to ADDR:PORT, each keeping WINDOW requests (default 1) in flight: a reply
 * sends the next request at once. A client that has waited -T MS for a
 * reply counts what it has in flight as lost and starts a new window (new
 * epoch: the late replies of the old one are stale, not counted); the next
 * wait is drawn between -T and twice that, so clients that lost together do
 * not retry together (socat, which sets up one client at a time, would take
 * one per burst). The clients start one after another over the first half
 * of the warm-up (-W, default 0.2 s). Spread over -j THREADS (default 1),
 * each with its own epoll. Prints one line:
 *
 *   replies N rate X sent N lost N stale N clients N idle N
 *
 * (idle: clients that completed no round trip in the measured time).
 *
 * Only complete, intact round trips count: a reply must carry the client,
 * epoch and sequence number of a request in flight and its exact bytes.
 * Nothing is allocated per datagram. Exits 1 on a setup error or if no
 * round trip completed in the measured time.
 */
#include "bt_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64	/* datagrams per recvmmsg/sendmmsg */
#define DGRAM 2048	/* largest datagram handled (longer ones are cut) */
#define HDR 16		/* client id, epoch, sequence number */
#define MAX_CLIENTS 4096
#define HIST_NS 100	/* latency histogram: 100 ns buckets */
#define HIST_N 1000000	/* ... up to 100 ms */
#define SOCKBUF (4 << 20)

static void die(const char *what)
{
	fprintf(stderr, "pf_udp: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pf_udp echo -l ADDR:PORT\n"
		"       pf_udp rr -c ADDR:PORT [-s BYTES] [-d SECONDS] [-W SECONDS] [-T MS]\n"
		"       pf_udp many -c ADDR:PORT [-k CLIENTS] [-w WINDOW] [-j THREADS] "
		"[-s BYTES] [-d SECONDS] [-W SECONDS] [-T MS]\n");
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void parse_addr(const char *s, struct sockaddr_in *sin)
{
	bt_parse_addr("pf_udp", s, sin);
}

/* Big socket buffers, so that the tools themselves drop nothing in a burst
 * (SO_*BUFFORCE as root, else what rmem_max/wmem_max allow). */
static void bufs(int fd)
{
	int sz = SOCKBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* ---- echo ---- */

static unsigned char echo_data[BATCH][DGRAM];

static int run_echo(int argc, char **argv)
{
	struct sockaddr_in sin, names[BATCH];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	const char *addr = NULL;
	int fd, opt, one = 1, i, k, n, off, r;

	while ((opt = getopt(argc, argv, "l:")) != -1) {
		if (opt == 'l')
			addr = optarg;
		else
			usage();
	}
	if (!addr)
		usage();
	parse_addr(addr, &sin);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bufs(fd);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind");
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		for (i = 0; i < BATCH; i++) {
			iov[i].iov_base = echo_data[i];
			iov[i].iov_len = DGRAM;
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_name = &names[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(names[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == ECONNREFUSED)
				continue;
			die("recvmmsg");
		}
		/* Empty datagrams are not echoed: rinetd 0.73 opens each UDP
		 * session with one, and takes an empty reply for its end. */
		for (i = k = 0; i < n; i++) {
			if (!msgs[i].msg_len)
				continue;
			iov[i].iov_len = msgs[i].msg_len;
			if (k != i)
				msgs[k] = msgs[i];
			k++;
		}
		n = k;
		/* Send all back; one that fails (its sender gone) is skipped. */
		for (off = 0; off < n;) {
			r = sendmmsg(fd, msgs + off, (unsigned)(n - off), 0);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				off++;
			} else {
				off += r;
			}
		}
	}
	return 0;
}

/* ---- message format ---- */

static void fill(unsigned char *p, size_t len, uint32_t id, uint32_t epoch, uint64_t seq)
{
	size_t i;

	memcpy(p, &id, 4);
	memcpy(p + 4, &epoch, 4);
	memcpy(p + 8, &seq, 8);
	for (i = HDR; i < len; i++)
		p[i] = (unsigned char)(seq * 31u + i * 7u + id);
}

static int intact(const unsigned char *p, size_t len, uint32_t id, uint64_t seq)
{
	size_t i;

	for (i = HDR; i < len; i++)
		if (p[i] != (unsigned char)(seq * 31u + i * 7u + id))
			return 0;
	return 1;
}

static int client_socket(const struct sockaddr_in *to)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	bufs(fd);
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0)
		die("connect");
	return fd;
}

static struct sockaddr_in target;
static long msg_len = 64, timeout_ms = 200;
static double dur_s = 1, warm_s = 0.2;

/* ---- rr ---- */

static uint32_t hist[HIST_N + 1];

static double hist_pct(uint64_t n, double p)
{
	uint64_t k = (uint64_t)(p / 100.0 * (double)n + 0.999999), c = 0;
	size_t i;

	if (k < 1)
		k = 1;
	for (i = 0; i <= HIST_N; i++) {
		c += hist[i];
		if (c >= k)
			return ((double)i + 0.5) * HIST_NS / 1000.0;
	}
	return (double)HIST_N * HIST_NS / 1000.0;
}

static int run_rr(void)
{
	unsigned char out[DGRAM], in[DGRAM];
	uint64_t seq = 0, rtts = 0, lost = 0, stale = 0, t, t_send, t_start, t_end, sum = 0;
	uint64_t start = now_ns();
	int fd = client_socket(&target), measuring = 0;
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	ssize_t n;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		die("SO_RCVTIMEO");
	t_start = start + (uint64_t)(warm_s * 1e9);
	t_end = t_start + (uint64_t)(dur_s * 1e9);
	for (;;) {
		seq++;
		fill(out, (size_t)msg_len, 0, 0, seq);
		t_send = now_ns();
		if (!measuring && t_send >= t_start) {
			measuring = 1;
			t_start = t_send;
		}
		if (t_send >= t_end)
			break;
		if (send(fd, out, (size_t)msg_len, 0) < 0) {
			if (errno != ECONNREFUSED && errno != ENOBUFS && errno != EAGAIN &&
			    errno != EINTR)
				die("send");
			/* Nothing listening yet (an ICMP error): try again shortly. */
			if (measuring)
				lost++;
			usleep(1000);
			continue;
		}
		for (;;) {
			n = recv(fd, in, sizeof(in), 0);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED) {
					if (measuring)
						lost++;
					if (errno == ECONNREFUSED)
						usleep(1000);
					break;
				}
				die("recv");
			}
			if (n != msg_len || memcmp(in, out, (size_t)msg_len) != 0) {
				if (measuring)
					stale++;
				continue;
			}
			t = now_ns();
			if (measuring) {
				uint64_t d = t - t_send, b = d / HIST_NS;

				hist[b > HIST_N ? HIST_N : b]++;
				sum += d;
				rtts++;
			}
			break;
		}
	}
	t = now_ns();
	if (!measuring || !rtts) {
		fprintf(stderr, "pf_udp: rr: no round trip completed (%llu lost)\n",
			(unsigned long long)lost);
		return 1;
	}
	printf("rtts %llu rate %.1f lost %llu stale %llu p50_us %.1f p90_us %.1f p99_us %.1f "
	       "mean_us %.2f\n",
	       (unsigned long long)rtts, (double)rtts / ((double)(t - t_start) / 1e9),
	       (unsigned long long)lost, (unsigned long long)stale, hist_pct(rtts, 50),
	       hist_pct(rtts, 90), hist_pct(rtts, 99), (double)sum / (double)rtts / 1000.0);
	return 0;
}

/* ---- many ---- */

struct client {
	int fd;
	uint32_t id, epoch;
	uint64_t next_seq;	/* next sequence number to send */
	uint64_t low_seq;	/* lowest still in flight in this epoch */
	int inflight;
	int started;
	uint64_t start_at;	/* when it sends its first request, ns */
	uint64_t deadline;	/* no reply by then: a new window, ns */
	uint64_t replies;	/* in the measured time */
};

struct worker {
	pthread_t th;
	struct client *c;
	int nc, ep;
	uint64_t replies, sent, lost, stale, rnd;
	unsigned char rx[BATCH][DGRAM], tx[BATCH][DGRAM];
	struct mmsghdr rmsg[BATCH], smsg[BATCH];
	struct iovec riov[BATCH], siov[BATCH];
};

static int window = 1;
static uint64_t m_start, m_end, tmo_ns;
static volatile int stop;

/* Sends what it takes to have WINDOW requests in flight. */
static void refill(struct worker *w, struct client *c, int measuring)
{
	int want = window - c->inflight, i, r, off = 0;

	if (want <= 0)
		return;
	for (i = 0; i < want; i++) {
		fill(w->tx[i], (size_t)msg_len, c->id, c->epoch, c->next_seq + (uint64_t)i);
		w->siov[i].iov_len = (size_t)msg_len;
	}
	while (off < want) {
		r = sendmmsg(c->fd, w->smsg + off, (unsigned)(want - off), MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN, ENOBUFS, ECONNREFUSED (no listener yet): the
			 * timeout starts a new window. */
			break;
		}
		off += r;
	}
	c->next_seq += (uint64_t)off;
	c->inflight += off;
	if (measuring)
		w->sent += (uint64_t)off;
}

/* A new window after a timeout. The next timeout is drawn between -T and
 * twice that, so clients that lost their requests together do not all retry
 * together (a forwarder that sets up sessions one at a time, like socat's
 * fork per client, would take one client per burst). */
static void restart(struct worker *w, struct client *c, uint64_t t, int measuring)
{
	if (measuring)
		w->lost += (uint64_t)c->inflight;
	c->epoch++;
	c->inflight = 0;
	c->low_seq = c->next_seq;
	w->rnd ^= w->rnd << 13;
	w->rnd ^= w->rnd >> 7;
	w->rnd ^= w->rnd << 17;
	c->deadline = t + tmo_ns + w->rnd % tmo_ns;
	refill(w, c, measuring);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[MAX_CLIENTS];
	uint64_t t, last_scan = 0;
	int i, j, n, r, measuring = 0;

	for (i = 0; i < BATCH; i++) {
		w->riov[i].iov_base = w->rx[i];
		w->riov[i].iov_len = DGRAM;
		w->rmsg[i].msg_hdr.msg_iov = &w->riov[i];
		w->rmsg[i].msg_hdr.msg_iovlen = 1;
		w->siov[i].iov_base = w->tx[i];
		w->smsg[i].msg_hdr.msg_iov = &w->siov[i];
		w->smsg[i].msg_hdr.msg_iovlen = 1;
	}
	while (!stop) {
		n = epoll_wait(w->ep, evs, MAX_CLIENTS, 10);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		t = now_ns();
		if (t >= m_end)
			break;
		if (!measuring && t >= m_start) {
			/* What is in flight now was sent before: its replies
			 * count, its requests are not counted as sent. */
			measuring = 1;
		}
		for (j = 0; j < n; j++) {
			struct client *c = evs[j].data.ptr;

			r = recvmmsg(c->fd, w->rmsg, BATCH, MSG_DONTWAIT, NULL);
			if (r <= 0)
				continue;	/* EAGAIN, or an ICMP error */
			for (i = 0; i < r; i++) {
				const unsigned char *p = w->rx[i];
				uint32_t id, ep;
				uint64_t seq;

				if (w->rmsg[i].msg_len != (unsigned)msg_len)
					goto bad;
				memcpy(&id, p, 4);
				memcpy(&ep, p + 4, 4);
				memcpy(&seq, p + 8, 8);
				if (id != c->id || ep != c->epoch || seq < c->low_seq ||
				    seq >= c->next_seq || !intact(p, (size_t)msg_len, id, seq))
					goto bad;
				/* Replies may be reordered: only the count matters. */
				c->inflight--;
				if (seq == c->low_seq)
					c->low_seq++;
				c->deadline = t + tmo_ns;
				if (measuring) {
					w->replies++;
					c->replies++;
				}
				continue;
bad:
				if (measuring)
					w->stale++;
			}
			refill(w, c, measuring);
		}
		if (t - last_scan >= 5000000u) {
			last_scan = t;
			for (i = 0; i < w->nc; i++) {
				struct client *c = &w->c[i];

				if (!c->started) {
					if (t >= c->start_at) {
						c->started = 1;
						restart(w, c, t, measuring);
					}
				} else if (t >= c->deadline) {
					restart(w, c, t, measuring);
				}
			}
		}
	}
	return NULL;
}

static int run_many(int clients, int threads)
{
	struct worker *ws;
	struct client *cs;
	uint64_t replies = 0, sent = 0, lost = 0, stale = 0, t0;
	int i, idle = 0;

	ws = calloc((size_t)threads, sizeof(*ws));
	cs = calloc((size_t)clients, sizeof(*cs));
	if (!ws || !cs)
		die("calloc");
	for (i = 0; i < threads; i++) {
		ws[i].ep = epoll_create1(EPOLL_CLOEXEC);
		if (ws[i].ep < 0)
			die("epoll_create1");
		ws[i].c = cs + (size_t)clients * (size_t)i / (size_t)threads;
		ws[i].nc = (int)((size_t)clients * (size_t)(i + 1) / (size_t)threads -
				 (size_t)clients * (size_t)i / (size_t)threads);
	}
	for (i = 0; i < clients; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &cs[i] };
		struct worker *w = &ws[0];
		int k;

		/* The worker whose slice holds client i. */
		for (k = 0; k < threads; k++)
			if (&cs[i] >= ws[k].c && &cs[i] < ws[k].c + ws[k].nc)
				w = &ws[k];
		cs[i].fd = client_socket(&target);
		cs[i].id = (uint32_t)i + 1;
		cs[i].next_seq = 1;
		cs[i].low_seq = 1;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0)
			die("epoll_ctl");
	}
	t0 = now_ns();
	tmo_ns = (uint64_t)timeout_ms * 1000000u;
	/* The clients start one after another over the first half of the
	 * warm-up, as clients would come: not all in the same microsecond. */
	for (i = 0; i < clients; i++)
		cs[i].start_at = t0 + (uint64_t)(warm_s * 0.5e9 * i / clients);
	for (i = 0; i < threads; i++)
		ws[i].rnd = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
	m_start = t0 + (uint64_t)(warm_s * 1e9);
	m_end = m_start + (uint64_t)(dur_s * 1e9);
	for (i = 0; i < threads; i++)
		if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0)
			die("pthread_create");
	for (i = 0; i < threads; i++) {
		pthread_join(ws[i].th, NULL);
		replies += ws[i].replies;
		sent += ws[i].sent;
		lost += ws[i].lost;
		stale += ws[i].stale;
	}
	for (i = 0; i < clients; i++)
		idle += cs[i].replies == 0;
	if (!replies) {
		fprintf(stderr, "pf_udp: many: no round trip completed (%llu lost)\n",
			(unsigned long long)lost);
		return 1;
	}
	printf("replies %llu rate %.1f sent %llu lost %llu stale %llu clients %d idle %d\n",
	       (unsigned long long)replies, (double)replies / dur_s, (unsigned long long)sent,
	       (unsigned long long)lost, (unsigned long long)stale, clients, idle);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode, *addr = NULL;
	int opt, clients = 64, threads = 1;

	if (argc < 2)
		usage();
	mode = argv[1];
	argv++;
	argc--;
	if (!strcmp(mode, "echo"))
		return run_echo(argc, argv);
	while ((opt = getopt(argc, argv, "c:s:d:W:T:k:w:j:")) != -1) {
		switch (opt) {
		case 'c':
			addr = optarg;
			break;
		case 's':
			msg_len = atol(optarg);
			break;
		case 'd':
			dur_s = atof(optarg);
			break;
		case 'W':
			warm_s = atof(optarg);
			break;
		case 'T':
			timeout_ms = atol(optarg);
			break;
		case 'k':
			clients = atoi(optarg);
			break;
		case 'w':
			window = atoi(optarg);
			break;
		case 'j':
			threads = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!addr || msg_len < HDR || msg_len > DGRAM || dur_s <= 0 || warm_s < 0 ||
	    timeout_ms < 1 || clients < 1 || clients > MAX_CLIENTS || window < 1 ||
	    window > BATCH || threads < 1 || threads > clients)
		usage();
	parse_addr(addr, &target);
	if (!strcmp(mode, "rr"))
		return run_rr();
	if (!strcmp(mode, "many"))
		return run_many(clients, threads);
	usage();
	return 2;
}
