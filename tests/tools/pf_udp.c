// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pf_udp: UDP peers for the end-to-end tests.
 *
 *   pf_udp echo   -l ADDR:PORT [-x]      echo every datagram back (-x: never answer)
 *   pf_udp client -c ADDR:PORT [-n CLIENTS] [-r REQUESTS] [-s BYTES] [-i GAP_MS]
 *                 [-t TIMEOUT_MS] [-p FIRST_SOURCE_PORT]
 *
 * Each client is a socket of its own (its own source port) in a thread of its
 * own, doing REQUESTS sequential request/replies of BYTES bytes (>= 16). A
 * request carries the client's id and sequence number and bytes derived from
 * them, so a reply is checked byte for byte against what this client sent:
 * a reply meant for another client, or stale, counts as wrong. Prints
 * "ok N lost N wrong N" and exits 0 only when every request got its reply.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXDG 65536

static struct sockaddr_storage peer;
static socklen_t peerlen;
static int opt_clients = 1, opt_reqs = 1, opt_size = 64, opt_gap_ms, opt_timeout_ms = 1000;
static int opt_sport;
static long n_ok, n_lost, n_wrong;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256], *port;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;

	snprintf(host, sizeof(host), "%s", s);
	port = strrchr(host, ':');
	if (!port)
		return -1;
	*port++ = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res))
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void fill(unsigned char *b, int size, uint32_t id, uint32_t seq)
{
	uint64_t x = ((uint64_t)id << 32 | seq) * 0x9E3779B97F4A7C15ULL + 7;
	int i;

	memcpy(b, "PFUDP", 5);
	memcpy(b + 8, &id, 4);
	memcpy(b + 12, &seq, 4);
	for (i = 16; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (unsigned char)x;
	}
}

static void *client(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg, seq;
	unsigned char *req = malloc(MAXDG), *rep = malloc(MAXDG);
	long ok = 0, lost = 0, wrong = 0;
	int fd = socket(peer.ss_family, SOCK_DGRAM, 0);

	if (opt_sport) {
		struct sockaddr_storage me;
		socklen_t ml = peerlen;

		memset(&me, 0, sizeof(me));
		me.ss_family = peer.ss_family;
		if (peer.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&me)->sin6_port = htons((uint16_t)(opt_sport + (int)id));
		else
			((struct sockaddr_in *)&me)->sin_port = htons((uint16_t)(opt_sport + (int)id));
		if (bind(fd, (struct sockaddr *)&me, ml) < 0)
			perror("bind");
	}
	for (seq = 0; seq < (uint32_t)opt_reqs; seq++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		fill(req, opt_size, id, seq);
		if (sendto(fd, req, (size_t)opt_size, 0, (struct sockaddr *)&peer, peerlen) < 0) {
			lost++;
			continue;
		}
		for (;;) {
			ssize_t n;

			if (poll(&p, 1, opt_timeout_ms) <= 0) {
				lost++;
				break;
			}
			n = recv(fd, rep, MAXDG, 0);
			if (n < 0) {
				lost++; /* e.g. ECONNREFUSED from an ICMP error */
				break;
			}
			if (n == opt_size && !memcmp(rep, req, (size_t)n)) {
				ok++;
				break;
			}
			wrong++; /* someone else's reply, or a stale one: keep waiting */
		}
		if (opt_gap_ms)
			usleep((useconds_t)opt_gap_ms * 1000);
	}
	pthread_mutex_lock(&lock);
	n_ok += ok;
	n_lost += lost;
	n_wrong += wrong;
	pthread_mutex_unlock(&lock);
	close(fd);
	free(req);
	free(rep);
	return NULL;
}

static int run_echo(const char *addr, int silent)
{
	static unsigned char buf[MAXDG];
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, big = 4 << 20;

	if (parse_addr(addr, &ss, &len))
		return 2;
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		perror("pf_udp echo: bind");
		return 2;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (!silent)
			sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
	}
}

int main(int argc, char **argv)
{
	const char *addr = NULL;
	pthread_t *th;
	int opt, silent = 0, i;

	if (argc < 2) {
		fprintf(stderr, "usage: pf_udp echo|client [options]\n");
		return 2;
	}
	optind = 2;
	while ((opt = getopt(argc, argv, "l:c:n:r:s:i:t:p:x")) != -1) {
		switch (opt) {
		case 'l':
		case 'c':
			addr = optarg;
			break;
		case 'n':
			opt_clients = atoi(optarg);
			break;
		case 'r':
			opt_reqs = atoi(optarg);
			break;
		case 's':
			opt_size = atoi(optarg);
			break;
		case 'i':
			opt_gap_ms = atoi(optarg);
			break;
		case 't':
			opt_timeout_ms = atoi(optarg);
			break;
		case 'p':
			opt_sport = atoi(optarg);
			break;
		case 'x':
			silent = 1;
			break;
		default:
			return 2;
		}
	}
	if (!addr || opt_size < 16 || opt_size > 65507 || opt_clients < 1)
		return 2;
	if (!strcmp(argv[1], "echo"))
		return run_echo(addr, silent);
	if (strcmp(argv[1], "client") != 0 || parse_addr(addr, &peer, &peerlen))
		return 2;
	th = calloc((size_t)opt_clients, sizeof(*th));
	for (i = 0; i < opt_clients; i++)
		pthread_create(&th[i], NULL, client, (void *)(uintptr_t)i);
	for (i = 0; i < opt_clients; i++)
		pthread_join(th[i], NULL);
	printf("ok %ld lost %ld wrong %ld\n", n_ok, n_lost, n_wrong);
	free(th);
	return n_lost || n_wrong || n_ok != (long)opt_clients * opt_reqs ? 1 : 0;
}
