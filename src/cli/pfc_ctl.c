// SPDX-License-Identifier: GPL-2.0-or-later
#include "pfc.h"
#include "../common/pf_buf.h"
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
	struct pf_buf reply = { 0 }; /* the default cap, 1 GiB: only a runaway reaches it */
	int fd, rc;

	if (pf_strlcpy(sun.sun_path, o->sock, sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "portfw: socket path too long: %s\n", o->sock);
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (fd >= 0 && (errno == EACCES || errno == EPERM))
			/* It runs, but the socket's mode (0600, or 0660 with a
			 * group) keeps us out: not a question of -s. */
			fprintf(stderr, "portfw: cannot connect to %s: %s (portfwd admits root, "
					"its own user and the members of its socket's group)\n",
				o->sock, strerror(errno));
		else
			fprintf(stderr, "portfw: cannot reach portfwd at %s: %s (is it running? "
					"-s or PORTFW_SOCKET name another socket)\n",
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
	rc = pf_buf_read_fd(&reply, fd);
	if (rc) {
		fprintf(stderr, "portfw: reading from %s: %s\n", o->sock,
			rc == -E2BIG ? "reply larger than 1 GiB" : strerror(-rc));
		goto out;
	}
	if (!reply.len) {
		fprintf(stderr, "portfw: portfwd closed the connection without a reply\n");
		goto out;
	}
	res = json_loads(reply.s, 0, &jerr);
	if (!res)
		fprintf(stderr, "portfw: bad reply from portfwd: %s\n", jerr.text);
out:
	pf_buf_free(&reply);
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
	struct pf_where w = { .file = what, .line = 0 };
	struct pf_buf b = { 0 };
	struct pf_toks toks;
	struct pf_stmt st;
	char err[1024], *s;
	int i;

	pf_buf_puts(&b, verb);
	for (i = 0; i < argc; i++)
		pf_buf_printf(&b, " %s", argv[i]);
	s = pf_buf_detach(&b, NULL);
	if (!s)
		return NULL;
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
