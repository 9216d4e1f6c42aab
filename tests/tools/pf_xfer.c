// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pf_xfer: a traffic generator and checker for the end-to-end tests.
 *
 *   pf_xfer server -l ADDR:PORT [-n CONNS] [-S BYTES] [-a] [-d MS]
 *   pf_xfer client -c ADDR:PORT [-n CONNS] [-s BYTES] [-R BYTES_PER_S] [-U BYTES_PER_S]
 *                  [-t SECONDS]
 *   pf_xfer hold   -c ADDR:PORT -n CONNS -t SECONDS
 *
 * Each connection carries a pseudo-random stream (xorshift, seeded per
 * connection) both ways; both ends print the byte count and SHA-256 of what
 * they sent and received, one line per connection, so a test compares the
 * multisets. The client shuts down its write side after sending; the server
 * with -a answers only after that EOF (the half-close case), and shuts its
 * write side after sending. 'hold' opens CONNS connections and keeps them
 * idle for SECONDS, printing how many connected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF (256 * 1024)

static const char *opt_addr;
static int opt_conns = 1;
static uint64_t opt_send, opt_rate, opt_urate;
static bool opt_after_eof;
static int opt_secs = 120, opt_delay_ms;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static int failures;

struct stream {
	uint64_t s;
	EVP_MD_CTX *md;
	uint64_t bytes;
};

static void stream_init(struct stream *st, uint64_t seed)
{
	st->s = seed * 0x9E3779B97F4A7C15ULL + 1;
	st->md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(st->md, EVP_sha256(), NULL);
	st->bytes = 0;
}

static void stream_fill(struct stream *st, unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		st->s ^= st->s >> 12;
		st->s ^= st->s << 25;
		st->s ^= st->s >> 27;
		uint64_t v = st->s * 0x2545F4914F6CDD1DULL;
		memcpy(buf + i, &v, 8);
	}
	for (; i < len; i++)
		buf[i] = (unsigned char)i;
}

static void hash_hex(struct stream *st, char *out)
{
	unsigned char d[32];
	unsigned int n = 0, i;

	EVP_DigestFinal_ex(st->md, d, &n);
	EVP_MD_CTX_free(st->md);
	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256], *port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;

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

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sends 'total' bytes of the stream and reads until EOF, both at once.
 * send_after_eof: read to EOF first. Returns 0 or -1. */
static int exchange(int fd, uint64_t total, uint64_t seed_out, bool send_after_eof,
		    const char *role, int idx)
{
	unsigned char *ob = malloc(BUF), *ib = malloc(BUF);
	struct stream out, in;
	size_t olen = 0, ooff = 0;
	bool in_eof = false, out_done = total == 0;
	double start = now_s();
	char ho[65], hi[65];
	int rc = 0;

	stream_init(&out, seed_out);
	in.md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(in.md, EVP_sha256(), NULL);
	in.bytes = 0;
	if (out_done)
		shutdown(fd, SHUT_WR);
	while (!in_eof || !out_done) {
		struct pollfd p = { .fd = fd, .events = 0 };
		bool can_send = !out_done && (!send_after_eof || in_eof);
		int to = 1000;

		if (!in_eof)
			p.events |= POLLIN;
		if (can_send)
			p.events |= POLLOUT;
		if (now_s() - start > opt_secs) {
			fprintf(stderr, "%s %d: timed out after %d s (sent %llu, received %llu)\n",
				role, idx, opt_secs, (unsigned long long)out.bytes,
				(unsigned long long)in.bytes);
			rc = -1;
			break;
		}
		if (opt_rate && !in_eof) {
			double allowed = (now_s() - start) * (double)opt_rate;

			if ((double)in.bytes > allowed) {
				p.events &= (short)~POLLIN;
				to = 10;
			}
		}
		/* -U: the upload paced too, so that the flow stays established
		 * (no half-close) until its last byte. */
		if (opt_urate && can_send &&
		    (double)out.bytes >= (now_s() - start) * (double)opt_urate) {
			p.events &= (short)~POLLOUT;
			to = 10;
		}
		if (poll(&p, 1, to) < 0 && errno != EINTR) {
			rc = -1;
			break;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			size_t want = BUF;
			ssize_t n;

			if (opt_rate && want > opt_rate / 10 + 1)
				want = opt_rate / 10 + 1;
			n = recv(fd, ib, want, MSG_DONTWAIT);
			if (n > 0) {
				EVP_DigestUpdate(in.md, ib, (size_t)n);
				in.bytes += (uint64_t)n;
			} else if (n == 0) {
				in_eof = true;
			} else if (errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "%s %d: recv: %s\n", role, idx, strerror(errno));
				rc = -1;
				break;
			}
		}
		if (p.revents & POLLOUT && can_send) {
			ssize_t n;

			if (ooff == olen) {
				uint64_t left = total - out.bytes;

				olen = left < BUF ? (size_t)left : BUF;
				if (opt_urate && olen > opt_urate / 10 + 1)
					olen = (size_t)(opt_urate / 10 + 1);
				stream_fill(&out, ob, olen);
				ooff = 0;
			}
			n = send(fd, ob + ooff, olen - ooff, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0) {
				EVP_DigestUpdate(out.md, ob + ooff, (size_t)n);
				ooff += (size_t)n;
				out.bytes += (uint64_t)n;
				if (out.bytes == total) {
					out_done = true;
					shutdown(fd, SHUT_WR);
				}
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "%s %d: send: %s\n", role, idx, strerror(errno));
				rc = -1;
				break;
			}
		}
	}
	hash_hex(&out, ho);
	hash_hex(&in, hi);
	pthread_mutex_lock(&out_lock);
	printf("%s %d sent %llu %s recv %llu %s%s\n", role, idx, (unsigned long long)out.bytes, ho,
	       (unsigned long long)in.bytes, hi, rc ? " FAILED" : "");
	fflush(stdout);
	if (rc)
		failures++;
	pthread_mutex_unlock(&out_lock);
	free(ob);
	free(ib);
	return rc;
}

struct job {
	int fd, idx;
	pthread_t th;
};

static void *server_conn(void *arg)
{
	struct job *j = arg;

	if (opt_delay_ms)
		usleep((useconds_t)opt_delay_ms * 1000);
	exchange(j->fd, opt_send, 1000000 + (uint64_t)j->idx, opt_after_eof, "server", j->idx);
	close(j->fd);
	return NULL;
}

static int run_server(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct job *jobs = calloc((size_t)opt_conns, sizeof(*jobs));
	int lfd, one = 1, i;

	if (parse_addr(opt_addr, &ss, &len))
		return 2;
	lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, len) < 0 || listen(lfd, 1024) < 0) {
		perror("pf_xfer server: bind/listen");
		return 2;
	}
	printf("listening\n");
	fflush(stdout);
	for (i = 0; i < opt_conns; i++) {
		jobs[i].fd = accept(lfd, NULL, NULL);
		jobs[i].idx = i;
		if (jobs[i].fd < 0) {
			perror("accept");
			return 1;
		}
		pthread_create(&jobs[i].th, NULL, server_conn, &jobs[i]);
	}
	for (i = 0; i < opt_conns; i++)
		pthread_join(jobs[i].th, NULL);
	close(lfd);
	free(jobs);
	return failures ? 1 : 0;
}

static void *client_conn(void *arg)
{
	struct job *j = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	parse_addr(opt_addr, &ss, &len);
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		fprintf(stderr, "client %d: connect: %s\n", j->idx, strerror(errno));
		pthread_mutex_lock(&out_lock);
		failures++;
		pthread_mutex_unlock(&out_lock);
		close(fd);
		return NULL;
	}
	exchange(fd, opt_send, (uint64_t)j->idx, false, "client", j->idx);
	close(fd);
	return NULL;
}

static int run_client(void)
{
	struct job *jobs = calloc((size_t)opt_conns, sizeof(*jobs));
	struct sockaddr_storage ss;
	socklen_t len;
	int i;

	if (parse_addr(opt_addr, &ss, &len)) {
		fprintf(stderr, "pf_xfer: bad address %s\n", opt_addr);
		return 2;
	}
	for (i = 0; i < opt_conns; i++) {
		jobs[i].idx = i;
		pthread_create(&jobs[i].th, NULL, client_conn, &jobs[i]);
	}
	for (i = 0; i < opt_conns; i++)
		pthread_join(jobs[i].th, NULL);
	free(jobs);
	return failures ? 1 : 0;
}

static int run_hold(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int *fds = calloc((size_t)opt_conns, sizeof(int)), i, ok = 0;
	double end;

	if (parse_addr(opt_addr, &ss, &len))
		return 2;
	for (i = 0; i < opt_conns; i++) {
		fds[i] = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fds[i] < 0) {
			perror("socket");
			break;
		}
		if (connect(fds[i], (struct sockaddr *)&ss, len) == 0 || errno == EINPROGRESS)
			ok++;
	}
	printf("opened %d\n", ok);
	fflush(stdout);
	end = now_s() + opt_secs;
	while (now_s() < end)
		usleep(50000);
	for (i = 0; i < opt_conns; i++)
		if (fds[i] > 0)
			close(fds[i]);
	free(fds);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode;
	int opt;

	if (argc < 2) {
		fprintf(stderr, "usage: pf_xfer server|client|hold [options]\n");
		return 2;
	}
	mode = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "l:c:n:s:S:aR:U:t:d:")) != -1) {
		switch (opt) {
		case 'l':
		case 'c':
			opt_addr = optarg;
			break;
		case 'n':
			opt_conns = atoi(optarg);
			break;
		case 's':
		case 'S':
			opt_send = strtoull(optarg, NULL, 0);
			break;
		case 'a':
			opt_after_eof = true;
			break;
		case 'U':
			opt_urate = strtoull(optarg, NULL, 0);
			break;
		case 'R':
			opt_rate = strtoull(optarg, NULL, 0);
			break;
		case 't':
			opt_secs = atoi(optarg);
			break;
		case 'd':
			opt_delay_ms = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!opt_addr || opt_conns < 1)
		return 2;
	if (!strcmp(mode, "server"))
		return run_server();
	if (!strcmp(mode, "client"))
		return run_client();
	if (!strcmp(mode, "hold"))
		return run_hold();
	fprintf(stderr, "pf_xfer: unknown mode %s\n", mode);
	return 2;
}
