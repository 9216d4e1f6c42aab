// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * portfw import FILE: a port table file (seed 004: EXT-PORT INT-IP INT-PORT
 * lines) sent as one change. Its forwards are named table-EXT-PORT; one of
 * that name already running is replaced, so importing an edited file again
 * updates the table in place (unchanged lines keep their flows).
 */
#include "pfc.h"
#include "../common/pf_conf.h"
#include "../common/pf_interp.h"
#include "../common/pf_tablefile.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PFC_READ_MAX ((size_t)4 << 20)

char *pfc_read_all(const char *what, const char *path, size_t *len)
{
	FILE *fp = strcmp(path, "-") != 0 ? fopen(path, "re") : stdin;
	char *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (!fp) {
		fprintf(stderr, "portfw %s: %s: %s\n", what, path, strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t n;

		if (*len + 4096 > cap) {
			char *nb;

			cap = cap ? cap * 2 : 65536;
			nb = cap <= PFC_READ_MAX * 2 ? realloc(buf, cap) : NULL;
			if (!nb) {
				fprintf(stderr, "portfw %s: %s: larger than 4 MiB\n", what, path);
				free(buf);
				buf = NULL;
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + *len, 1, cap - *len - 1, fp);
		*len += n;
		if (!n)
			break;
	}
	buf[*len] = '\0';
out:
	if (fp != stdin)
		fclose(fp);
	return buf;
}

int pfc_import(const struct pfc_opts *o, const char *path)
{
	struct pf_table cur, in;
	char *text, *stmts = NULL, *req = NULL, err[1024];
	size_t len, i, off = 0, cap;
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
	cap = strlen(stmts) + in.n * (PF_NAME_MAX + 16) + pf_quote(NULL, 0, path) + 16;
	req = pf_xcalloc(1, cap);
	for (i = 0; i < in.n; i++)
		if (pf_table_find_name(&cur, in.fwd[i]->conf.name))
			off += (size_t)snprintf(req + off, cap - off, "del name %s\n",
						in.fwd[i]->conf.name);
	off += (size_t)snprintf(req + off, cap - off, "source ");
	off += pf_quote(req + off, cap - off, path);
	snprintf(req + off, cap - off, "\n%s", stmts);
	res = pfc_request(o, req);
	if (res) {
		const char *e = json_string_value(json_object_get(res, "error"));

		rc = json_is_true(json_object_get(res, "ok")) ? 0 : 1;
		if (rc)
			fprintf(stderr, "portfw import: %s\n", e ? e : "request failed");
		json_decref(res);
	}
out:
	free(req);
	free(stmts);
	free(text);
	pf_table_clear(&cur);
	pf_table_clear(&in);
	return rc;
}
