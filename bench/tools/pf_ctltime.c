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
 *   add_ms A1,A2,... del_ms D1,D2,... add_daemon_ms X1,X2,... del_daemon_ms Y1,Y2,...
 *
 * add_ms / del_ms: the round trip as this client sees it (connect, request,
 * the daemon's change, the whole answer). add_daemon_ms / del_daemon_ms: the
 * daemon's own time for the change, its answer's "change_us" (from the
 * request's text to the table installed in every engine; 0 when nothing was
 * installed), in ms. An answer without "change_us" is an error.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
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

/* The value after "KEY" and its colon in the JSON text (whitespace allowed
 * around the colon), or NULL. Enough for portfwd's flat answers, whose keys
 * do not occur inside string values before the real ones. */
static const char *json_value(const char *json, const char *key)
{
	size_t klen = strlen(key);
	const char *p = json;

	while ((p = strstr(p, key))) {
		const char *v = p + klen;

		if (p > json && p[-1] == '"' && *v == '"') {
			v++;
			while (isspace((unsigned char)*v))
				v++;
			if (*v == ':') {
				v++;
				while (isspace((unsigned char)*v))
					v++;
				return v;
			}
		}
		p = v;
	}
	return NULL;
}

/* One request: its round trip in ms into *rt_ms, the answer's change_us
 * into *daemon_us; -1 on an error (said on stderr). */
static int request(const char *path, const char *req, double *rt_ms, long long *daemon_us)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char buf[65536], rest[4096];
	const char *v;
	char *end;
	size_t got = 0;
	double t0 = now_ms(), t1;
	ssize_t r;
	bool ok;
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
	/* The answer to its end; a change's is small, and of a longer one only
	 * the start is kept (the rest is read and dropped). */
	for (;;) {
		if (got < sizeof(buf) - 1)
			r = read(fd, buf + got, sizeof(buf) - 1 - got);
		else
			r = read(fd, rest, sizeof(rest));
		if (r <= 0)
			break;
		if (got < sizeof(buf) - 1)
			got += (size_t)r;
	}
	t1 = now_ms();
	close(fd);
	buf[got] = '\0';
	v = json_value(buf, "ok");
	ok = v && !strncmp(v, "true", 4);
	if (r < 0 || !ok) {
		fprintf(stderr, "pf_ctltime: '%s' was refused: %.300s\n", req, buf);
		return -1;
	}
	v = json_value(buf, "change_us");
	errno = 0;
	*daemon_us = v ? strtoll(v, &end, 10) : -1;
	if (!v || end == v || errno || *daemon_us < 0) {
		fprintf(stderr, "pf_ctltime: '%s': expected \"change_us\": <microseconds> "
			"in the daemon's answer (a portfwd that times its changes), got: %.300s\n",
			req, buf);
		return -1;
	}
	*rt_ms = t1 - t0;
	return 0;
}

/* "NAME V1,V2,..." with 3 decimals, after SEP. */
static void print_list(const char *sep, const char *name, const double *v, long n)
{
	long i;

	printf("%s%s", sep, name);
	for (i = 0; i < n; i++)
		printf("%c%.3f", i ? ',' : ' ', v[i]);
}

int main(int argc, char **argv)
{
	const char *path = NULL, *add = NULL, *del = NULL;
	double *ta, *td, *da, *dd;
	long long us;
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
	da = calloc((size_t)n, sizeof(*da));
	dd = calloc((size_t)n, sizeof(*dd));
	if (!ta || !td || !da || !dd)
		return 1;
	for (i = 0; i < n; i++) {
		if (request(path, add, &ta[i], &us))
			return 1;
		da[i] = (double)us / 1000.0;
		if (request(path, del, &td[i], &us))
			return 1;
		dd[i] = (double)us / 1000.0;
	}
	print_list("", "add_ms", ta, n);
	print_list(" ", "del_ms", td, n);
	print_list(" ", "add_daemon_ms", da, n);
	print_list(" ", "del_daemon_ms", dd, n);
	printf("\n");
	free(ta);
	free(td);
	free(da);
	free(dd);
	return 0;
usage:
	fprintf(stderr, "usage: pf_ctltime -s SOCKET -n COUNT -a REQUEST -d REQUEST\n");
	return 2;
}
