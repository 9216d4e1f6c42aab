// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pf_lat: round-trip latency of small request/responses over one TCP
 * connection, against an echo server (pf_idle server).
 *
 *   pf_lat -c ADDR:PORT [-n ROUNDS] [-s BYTES] [-W WARMUP] [-t SECONDS]
 *
 * Connects once (TCP_NODELAY), sends BYTES (default 64), waits for the same
 * BYTES back, ROUNDS times (default 10000) one after another, after WARMUP
 * untimed rounds (default 100). Stops early, with what it has, once SECONDS
 * (default 30) are over. Prints one line:
 *
 *   rounds N p50_us X p90_us X p99_us X p999_us X min_us X max_us X mean_us X
 *
 * Exits 1 if the connection fails or the echo differs from what was sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "pf_lat: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: pf_lat -c ADDR:PORT [-n ROUNDS] [-s BYTES] [-W WARMUP] "
			"[-t SECONDS]\n");
	exit(2);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct(const double *v, size_t n, double p)
{
	size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);

	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static void round_trip(int fd, unsigned char *out, unsigned char *in, size_t len, unsigned seq)
{
	size_t got = 0, i;
	ssize_t n;

	for (i = 0; i < len; i++)
		out[i] = (unsigned char)(seq * 31u + i);
	errno = 0;
	while (got < len) {
		n = write(fd, out + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write");
		got += (size_t)n;
	}
	got = 0;
	while (got < len) {
		n = read(fd, in + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			errno = 0;
			die("closed by the peer");
		}
		if (n < 0)
			die("read");
		got += (size_t)n;
	}
	if (memcmp(in, out, len) != 0) {
		errno = 0;
		die("echo differs from what was sent");
	}
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *colon;
	char host[64];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	long rounds = 10000, warmup = 100, bytes = 64, secs = 30, i, done = 0;
	unsigned char *out, *in;
	double *rtt, t0, t1, end, sum = 0;
	int fd, one = 1, opt;

	while ((opt = getopt(argc, argv, "c:n:s:W:t:")) != -1) {
		switch (opt) {
		case 'c':
			addr = optarg;
			break;
		case 'n':
			rounds = atol(optarg);
			break;
		case 's':
			bytes = atol(optarg);
			break;
		case 'W':
			warmup = atol(optarg);
			break;
		case 't':
			secs = atol(optarg);
			break;
		default:
			usage();
		}
	}
	if (!addr || rounds < 1 || bytes < 1 || bytes > 1 << 20 || warmup < 0 || secs < 1)
		usage();
	colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		usage();
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	sin.sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		usage();

	out = malloc((size_t)bytes);
	in = malloc((size_t)bytes);
	rtt = malloc(sizeof(*rtt) * (size_t)rounds);
	if (!out || !in || !rtt)
		die("malloc");
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect");

	end = now_us() + (double)secs * 1e6;
	for (i = 0; i < warmup; i++)
		round_trip(fd, out, in, (size_t)bytes, (unsigned)i);
	for (i = 0; i < rounds; i++) {
		t0 = now_us();
		round_trip(fd, out, in, (size_t)bytes, (unsigned)(warmup + i));
		t1 = now_us();
		rtt[done++] = t1 - t0;
		sum += t1 - t0;
		if (t1 > end)
			break;
	}
	close(fd);
	qsort(rtt, (size_t)done, sizeof(*rtt), cmp_double);
	printf("rounds %ld p50_us %.1f p90_us %.1f p99_us %.1f p999_us %.1f min_us %.1f "
	       "max_us %.1f mean_us %.1f\n",
	       done, pct(rtt, (size_t)done, 50), pct(rtt, (size_t)done, 90),
	       pct(rtt, (size_t)done, 99), pct(rtt, (size_t)done, 99.9), rtt[0], rtt[done - 1],
	       sum / (double)done);
	return 0;
}
