// SPDX-License-Identifier: GPL-2.0-or-later
#include "pfc.h"
#include "../common/pf_conf.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

json_t *pfc_request(const struct pfc_opts *o, const char *text)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(text), off = 0;
	json_error_t jerr;
	json_t *res = NULL;
	char *buf = NULL;
	size_t blen = 0, bcap = 0;
	int fd;

	if (pf_strlcpy(sun.sun_path, o->sock, sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "portfw: socket path too long: %s\n", o->sock);
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "portfw: cannot reach portfwd at %s: %s (is it running? -s or "
				"PORTFW_SOCKET name another socket)\n",
			o->sock, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t n = send(fd, text + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "portfw: sending to %s: %s\n", o->sock, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n;

		if (blen + 65536 > bcap) {
			char *nb;

			bcap = bcap ? bcap * 2 : 131072;
			nb = realloc(buf, bcap);
			if (!nb)
				goto out;
			buf = nb;
		}
		n = read(fd, buf + blen, bcap - blen - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "portfw: reading from %s: %s\n", o->sock, strerror(errno));
			goto out;
		}
		if (!n)
			break;
		blen += (size_t)n;
	}
	if (!blen) {
		fprintf(stderr, "portfw: portfwd closed the connection without a reply\n");
		goto out;
	}
	buf[blen] = '\0';
	res = json_loads(buf, 0, &jerr);
	if (!res)
		fprintf(stderr, "portfw: bad reply from portfwd: %s\n", jerr.text);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return res;
}

int pfc_check_reply(json_t *res)
{
	json_t *ok = json_object_get(res, "ok");

	if (json_is_true(ok))
		return 0;
	fprintf(stderr, "portfw: %s\n", json_string_value(json_object_get(res, "error"))
						 ? json_string_value(json_object_get(res, "error"))
						 : "request failed");
	return 1;
}

char *pfc_statement(const char *what, const char *verb, int argc, char *const *argv)
{
	size_t len = strlen(verb) + 2;
	struct pf_where w = { .file = what, .line = 0 };
	struct pf_toks toks;
	struct pf_stmt st;
	char err[1024], *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	{
		size_t off = (size_t)snprintf(s, len, "%s", verb);

		for (i = 0; i < argc; i++)
			off += (size_t)snprintf(s + off, len - off, " %s", argv[i]);
	}
	if (strchr(s, '\n')) {
		fprintf(stderr, "portfw: %s: arguments may not contain newlines\n", what);
		free(s);
		return NULL;
	}
	if (pf_lex(s, &toks, err, sizeof(err))) {
		fprintf(stderr, "portfw: %s: %s\n", what, err);
		free(s);
		return NULL;
	}
	if (pf_parse_stmt(&toks, &w, &st, err, sizeof(err))) {
		fprintf(stderr, "portfw: %s\n", err);
		pf_toks_free(&toks);
		free(s);
		return NULL;
	}
	pf_stmt_free(&st);
	pf_toks_free(&toks);
	return s;
}
