// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pf_ctltime: times live changes over portfwd's control socket, without the
 * cost of starting a client process each time (tens of milliseconds on a
 * small VM, more than the change itself).
 *
 *   pf_ctltime -s SOCKET -n COUNT -a REQUEST -d REQUEST
 *
 * COUNT times: sends the -a request (e.g. "forward name x tcp :9 to
 * 10.0.0.2:80"), waits for the daemon's whole answer, then the -d request
 * ("del name x"). Each request is what 'portfw add' / 'portfw del' sends:
 * the text, a half-close, the JSON answer read to its end; an answer without
 * "ok":true is an error. Prints one line:
 *
 *   add_ms A1,A2,... del_ms D1,D2,...
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One request; its round trip in ms, or -1. */
static double request(const char *path, const char *req)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[65536];
	size_t got = 0;
	double t0 = now_ms();
	ssize_t r;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "pf_ctltime: socket path too long\n");
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "pf_ctltime: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req) ||
	    shutdown(fd, SHUT_WR) < 0) {
		fprintf(stderr, "pf_ctltime: send: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	while ((r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
		got += (size_t)r;
		if (got == sizeof(buf) - 1)
			got = 0; /* only the start matters; keep reading to the end */
	}
	close(fd);
	buf[got] = '\0';
	if (r < 0 || !strstr(buf, "\"ok\":true")) {
		fprintf(stderr, "pf_ctltime: '%s' was refused: %.300s\n", req, buf);
		return -1;
	}
	return now_ms() - t0;
}

int main(int argc, char **argv)
{
	const char *path = NULL, *add = NULL, *del = NULL;
	double *ta, *td;
	long n = 1, i;
	int opt;

	while ((opt = getopt(argc, argv, "s:n:a:d:")) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'a':
			add = optarg;
			break;
		case 'd':
			del = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (!path || !add || !del || n < 1 || n > 100000)
		goto usage;
	ta = calloc((size_t)n, sizeof(*ta));
	td = calloc((size_t)n, sizeof(*td));
	if (!ta || !td)
		return 1;
	for (i = 0; i < n; i++) {
		ta[i] = request(path, add);
		if (ta[i] < 0)
			return 1;
		td[i] = request(path, del);
		if (td[i] < 0)
			return 1;
	}
	printf("add_ms");
	for (i = 0; i < n; i++)
		printf("%c%.3f", i ? ',' : ' ', ta[i]);
	printf(" del_ms");
	for (i = 0; i < n; i++)
		printf("%c%.3f", i ? ',' : ' ', td[i]);
	printf("\n");
	free(ta);
	free(td);
	return 0;
usage:
	fprintf(stderr, "usage: pf_ctltime -s SOCKET -n COUNT -a REQUEST -d REQUEST\n");
	return 2;
}
