// SPDX-License-Identifier: GPL-2.0-or-later
/* portfw restore's request: a config file, its includes expanded (see pf_restore.h). */
#include "pf_restore.h"
#include "pf_buf.h"
#include "pf_interp.h"
#include "pf_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A blank line costs less than a header: small gaps (comments) are kept. */
#define PF_RESTORE_GAP 8

struct pf_restore {
	struct pf_buf b; /* the request; its error is checked once, at the end */
	char *file; /* of the last statement sent */
	int line; /* its line: the request is at line + 1 of file */
};

static void pf_restore_add(struct pf_restore *r, const char *s, size_t n)
{
	pf_buf_add(&r->b, s, n);
}

/* Each statement the file applied, behind a 'source' header where it does
 * not follow on from the one before. */
static void pf_restore_echo(void *arg, const struct pf_where *w)
{
	struct pf_restore *r = arg;
	size_t n = strlen(w->text);
	int gap = w->line - r->line - 1;

	if (!r->file || strcmp(r->file, w->file) != 0 || gap < 0 || gap > PF_RESTORE_GAP) {
		size_t qlen = pf_quote(NULL, 0, w->file) + 1;
		char *q = pf_xcalloc(1, qlen), num[16];

		pf_quote(q, qlen, w->file);
		pf_restore_add(r, "source ", 7);
		pf_restore_add(r, q, strlen(q));
		snprintf(num, sizeof(num), " %d\n", w->line);
		pf_restore_add(r, num, strlen(num));
		free(q);
		free(r->file);
		r->file = strdup(w->file);
		if (!r->file)
			abort();
	} else {
		for (; gap > 0; gap--)
			pf_restore_add(r, "\n", 1);
	}
	while (n && w->text[n - 1] == ' ')
		n--; /* the joint pf_conf_foreach put after each line */
	pf_restore_add(r, w->text, n);
	pf_restore_add(r, "\n", 1);
	r->line = w->line;
}

int pf_restore_request(const char *name, const char *text, size_t len, char **req, char *err,
		       size_t errlen)
{
	/* The daemon takes requests up to 4 MiB. */
	struct pf_restore r = { .b = PF_BUF_INIT((size_t)4 << 20) };
	struct pf_table scratch;
	struct pf_interp ip;
	int rc;

	pf_table_init(&scratch);
	pf_interp_init(&ip, PF_IN_FILE, &scratch, NULL);
	ip.echo = pf_restore_echo;
	ip.echo_arg = &r;
	pf_restore_add(&r, "flush\n", 6);
	rc = pf_interp_text(&ip, name, text, len, err, errlen);
	pf_interp_free(&ip);
	pf_table_clear(&scratch);
	free(r.file);
	if (!rc && r.b.err) {
		snprintf(err, errlen, "%s: %s", name,
			 r.b.err == -E2BIG ? "the request would be larger than 4 MiB"
					   : "out of memory");
		rc = -1;
	}
	if (rc) {
		pf_buf_free(&r.b);
		return -1;
	}
	*req = pf_buf_detach(&r.b, NULL);
	return 0;
}
