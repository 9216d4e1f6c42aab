// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pf_ids: backends that say who they are, and a client that counts, for the
 * load-balancing tests.
 *
 *   pf_ids serve [-H] -l ADDR:PORT=ID [-l ADDR:PORT=ID ...]
 *       every connection gets "ID\n" and is closed (-H: held open instead);
 *   pf_ids agent -l ADDR:PORT -f FILE
 *       every connection gets FILE's contents (re-read each time), then EOF;
 *   pf_ids count -c ADDR:PORT -n N [-s SRC] [-m] [-t TIMEOUT_MS]
 *       N connections one after another, each from source SRC+k when -s is
 *       given (127.x addresses all live on lo); prints "ID COUNT" per backend
 *       and "FAILED COUNT"; with -m, one "SRC ID" line per connection instead.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXL 64

static int parse(const char *s, struct sockaddr_in *sa)
{
	char h[64], *p;

	snprintf(h, sizeof(h), "%s", s);
	p = strrchr(h, ':');
	if (!p)
		return -1;
	*p++ = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(p));
	return inet_pton(AF_INET, h, &sa->sin_addr) == 1 ? 0 : -1;
}

static int listen_on(const char *addr)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	if (parse(addr, &sa))
		return -1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0) {
		fprintf(stderr, "pf_ids: %s: %s\n", addr, strerror(errno));
		return -1;
	}
	return fd;
}

static int hold_open;

static int serve(int n, char **specs, const char *file)
{
	struct pollfd p[MAXL];
	char ids[MAXL][64];
	int i;

	for (i = 0; i < n; i++) {
		char a[128], *eq;

		snprintf(a, sizeof(a), "%s", specs[i]);
		eq = strchr(a, '=');
		if (eq)
			*eq++ = '\0';
		snprintf(ids[i], sizeof(ids[i]), "%s\n", eq ? eq : "?");
		p[i].fd = listen_on(a);
		p[i].events = POLLIN;
		if (p[i].fd < 0)
			return 2;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		if (poll(p, (nfds_t)n, -1) < 0 && errno != EINTR)
			return 1;
		for (i = 0; i < n; i++) {
			char buf[4096];
			ssize_t len;
			int c;

			if (!(p[i].revents & POLLIN))
				continue;
			c = accept(p[i].fd, NULL, NULL);
			if (c < 0)
				continue;
			if (file) {
				FILE *fp = fopen(file, "r");

				len = fp ? (ssize_t)fread(buf, 1, sizeof(buf), fp) : 0;
				if (fp)
					fclose(fp);
			} else {
				len = (ssize_t)strlen(ids[i]);
				memcpy(buf, ids[i], (size_t)len);
			}
			(void)!write(c, buf, (size_t)len);
			if (!hold_open)
				close(c); /* else the descriptor stays open until we exit */
		}
	}
}

struct tally {
	char id[64];
	int n;
};

static int count(const char *addr, int n, const char *src, int map, int timeout_ms)
{
	struct tally t[MAXL + 1];
	struct sockaddr_in sa, me;
	uint32_t base = 0;
	int nt = 0, failed = 0, k, i;

	if (parse(addr, &sa))
		return 2;
	if (src) {
		if (inet_pton(AF_INET, src, &me.sin_addr) != 1)
			return 2;
		base = ntohl(me.sin_addr.s_addr);
	}
	for (k = 0; k < n; k++) {
		char buf[128] = "", s[32] = "-";
		size_t got = 0;
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok = 0;
		struct timeval tv = { .tv_sec = timeout_ms / 1000,
				      .tv_usec = (timeout_ms % 1000) * 1000 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (src) {
			memset(&me, 0, sizeof(me));
			me.sin_family = AF_INET;
			me.sin_addr.s_addr = htonl(base + (uint32_t)k);
			inet_ntop(AF_INET, &me.sin_addr, s, sizeof(s));
			if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
				perror("bind");
				return 2;
			}
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			for (;;) {
				ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);

				if (r <= 0)
					break;
				got += (size_t)r;
				if (memchr(buf, '\n', got))
					break;
			}
			buf[got] = '\0';
			if (got && buf[got - 1] == '\n') {
				buf[got - 1] = '\0';
				ok = 1;
			}
		}
		close(fd);
		if (!ok) {
			failed++;
			snprintf(buf, sizeof(buf), "FAILED");
		}
		if (map) {
			printf("%s %s\n", s, buf);
			continue;
		}
		if (!ok)
			continue;
		for (i = 0; i < nt && strcmp(t[i].id, buf) != 0; i++)
			;
		if (i == nt && nt < MAXL) {
			snprintf(t[nt].id, sizeof(t[nt].id), "%.63s", buf);
			t[nt++].n = 0;
		}
		if (i < nt)
			t[i].n++;
	}
	if (!map) {
		for (i = 0; i < nt; i++)
			printf("%s %d\n", t[i].id, t[i].n);
		printf("FAILED %d\n", failed);
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *specs[MAXL];
	const char *addr = NULL, *src = NULL, *file = NULL;
	int nspec = 0, n = 1, map = 0, timeout_ms = 3000, opt;

	if (argc < 2)
		return 2;
	optind = 2;
	while ((opt = getopt(argc, argv, "l:c:n:s:f:mt:H")) != -1) {
		switch (opt) {
		case 'H':
			hold_open = 1;
			break;
		case 'l':
			if (nspec < MAXL)
				specs[nspec++] = optarg;
			break;
		case 'c':
			addr = optarg;
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 's':
			src = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'm':
			map = 1;
			break;
		case 't':
			timeout_ms = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!strcmp(argv[1], "serve") && nspec)
		return serve(nspec, specs, NULL);
	if (!strcmp(argv[1], "agent") && nspec == 1 && file)
		return serve(1, specs, file);
	if (!strcmp(argv[1], "count") && addr)
		return count(addr, n, src, map, timeout_ms);
	fprintf(stderr, "usage: pf_ids serve|agent|count ...\n");
	return 2;
}
