// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The checks of 'portfw explain' as they are found, and their two forms: one
 * line a check for an operator (status first, so a FAIL stands out in a
 * column), or a JSON array for scripts.
 */
#include "pfc_explain.h"
#include "../common/pf_util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void pfc_x_add(struct pfc_xreport *r, const char *name, enum pfc_xst st, const char *fix,
	       const char *fmt, ...)
{
	struct pfc_xcheck *c;
	va_list ap;
	int n;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct pfc_xcheck *v = pf_xarray(cap, sizeof(*v));

		if (r->n)
			memcpy(v, r->v, r->n * sizeof(*v));
		free(r->v);
		r->v = v;
		r->cap = cap;
	}
	c = &r->v[r->n++];
	c->name = pf_xstrdup(name);
	c->st = st;
	c->fix = fix ? pf_xstrdup(fix) : NULL;
	va_start(ap, fmt);
	n = vasprintf(&c->found, fmt, ap);
	va_end(ap);
	if (n < 0)
		c->found = NULL;
}

int pfc_x_exit(const struct pfc_xreport *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->v[i].st == PFC_X_FAIL)
			return 1;
	return 0;
}

const char *pfc_x_stname(enum pfc_xst st)
{
	static const char *const names[] = { "ok", "warn", "fail", "skip" };

	return (unsigned)st < PF_ARRAY_SIZE(names) ? names[st] : "?";
}

void pfc_x_print(FILE *fp, const struct pfc_xreport *r)
{
	/* Upper case for what needs the operator's eye. */
	static const char *const tags[] = { "ok", "WARN", "FAIL", "skip" };
	size_t i, fails = 0, warns = 0;

	for (i = 0; i < r->n; i++) {
		const struct pfc_xcheck *c = &r->v[i];

		fprintf(fp, "%-4s  %-11s %s\n", tags[c->st], c->name, c->found ? c->found : "?");
		if (c->fix)
			fprintf(fp, "%-4s  %-11s fix: %s\n", "", "", c->fix);
		fails += c->st == PFC_X_FAIL;
		warns += c->st == PFC_X_WARN;
	}
	if (fails)
		fprintf(fp, "=> %zu problem%s block%s the forward", fails, fails == 1 ? "" : "s",
			fails == 1 ? "s" : "");
	else
		fprintf(fp, "=> nothing blocks the forward");
	if (warns)
		fprintf(fp, " (%zu warning%s)", warns, warns == 1 ? "" : "s");
	fputc('\n', fp);
}

json_t *pfc_x_json(const struct pfc_xreport *r)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct pfc_xcheck *c = &r->v[i];

		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:o}", "name", c->name,
						   "status", pfc_x_stname(c->st), "found",
						   c->found ? c->found : "",
						   "fix", c->fix ? json_string(c->fix) : json_null()));
	}
	return a;
}

void pfc_x_free(struct pfc_xreport *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		pf_xstrfree(r->v[i].name);
		free(r->v[i].found);
		if (r->v[i].fix)
			pf_xstrfree(r->v[i].fix);
	}
	free(r->v);
	memset(r, 0, sizeof(*r));
}
