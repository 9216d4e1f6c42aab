// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * portfw import FILE: a port table file (seed 004: EXT-PORT INT-IP INT-PORT
 * lines) sent as one change. Its forwards are named table-EXT-PORT; one of
 * that name already running is replaced, so importing an edited file again
 * updates the table in place (unchanged lines keep their flows).
 */
#include "pfc.h"
#include "../common/pf_buf.h"
#include "../common/pf_conf.h"
#include "../common/pf_interp.h"
#include "../common/pf_tablefile.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PFC_READ_MAX ((size_t)4 << 20)

char *pfc_read_all(const char *what, const char *path, size_t *len)
{
	int fd = strcmp(path, "-") != 0 ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	struct pf_buf b = PF_BUF_INIT(PFC_READ_MAX);
	char *text;

	*len = 0;
	if (fd < 0) {
		fprintf(stderr, "portfw %s: %s: %s\n", what, path, strerror(errno));
		return NULL;
	}
	pf_buf_read_fd(&b, fd);
	if (fd != STDIN_FILENO)
		close(fd);
	text = pf_buf_detach(&b, len);
	if (!text)
		fprintf(stderr, "portfw %s: %s: %s\n", what, path,
			b.err == -E2BIG ? "larger than 4 MiB" : strerror(-b.err));
	return text;
}

int pfc_import(const struct pfc_opts *o, const char *path)
{
	struct pf_table cur, in;
	struct pf_buf req = { 0 };
	char *text, *stmts = NULL, *quoted = NULL, err[1024];
	size_t len, i, qlen;
	json_t *res;
	int rc = 1;

	pf_table_init(&cur);
	pf_table_init(&in);
	text = pfc_read_all("import", path, &len);
	if (!text)
		return 1;
	if (pf_tablefile_translate(path, text, len, &stmts, err, sizeof(err)) ||
	    pf_conf_load_text(path, stmts, strlen(stmts), &in, err, sizeof(err))) {
		fprintf(stderr, "portfw import: %s\n", err);
		rc = 2;
		goto out;
	}
	if (!in.n) {
		fprintf(stderr, "portfw import: %s: no EXT-PORT INT-IP INT-PORT line\n", path);
		rc = 2;
		goto out;
	}
	if (pfc_fetch_table(o, &cur))
		goto out;
	/* The table's lines behind a header naming the file: the daemon's
	 * errors (a port another forward holds) name its lines. */
	for (i = 0; i < in.n; i++)
		if (pf_table_find_name(&cur, in.fwd[i]->conf.name))
			pf_buf_printf(&req, "del name %s\n", in.fwd[i]->conf.name);
	qlen = pf_quote(NULL, 0, path) + 1;
	quoted = pf_xcalloc(1, qlen);
	pf_quote(quoted, qlen, path);
	pf_buf_printf(&req, "source %s\n", quoted);
	if (pf_buf_puts(&req, stmts)) {
		fprintf(stderr, "portfw import: %s: out of memory\n", path);
		goto out;
	}
	res = pfc_request(o, req.s);
	if (res) {
		const char *e = json_string_value(json_object_get(res, "error"));

		rc = json_is_true(json_object_get(res, "ok")) ? 0 : 1;
		if (rc)
			fprintf(stderr, "portfw import: %s\n", e ? e : "request failed");
		json_decref(res);
	}
out:
	pf_buf_free(&req);
	free(quoted);
	free(stmts);
	free(text);
	pf_table_clear(&cur);
	pf_table_clear(&in);
	return rc;
}
