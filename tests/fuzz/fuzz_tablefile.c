// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for the seed-004 port table file (pf_tablefile.c), which
 * 'portfw import' and 'include-table' share. Properties:
 *
 *  - a refused file has a message naming "ports.txt:LINE:" with a line that
 *    exists;
 *  - an accepted file gives exactly one output line per input line, each
 *    empty or a forward of both protocols that the command language parses,
 *    named table-PORT after its own listen port, loaded into a table whose
 *    'save' text loads back into the same forwards.
 *
 * A broken property abort()s, which libFuzzer reports as a crash.
 */
#include "common/pf_conf.h"
#include "common/pf_interp.h"
#include "common/pf_table.h"
#include "common/pf_tablefile.h"
#include "fuzz_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t lines_of(const char *text, size_t len)
{
	size_t n = 0, i;

	for (i = 0; i < len; i++)
		if (text[i] == '\n')
			n++;
	return n + (len && text[len - 1] != '\n');
}

static int fwd_cb(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
		  size_t errlen)
{
	char name[PF_NAME_MAX];

	(void)err;
	(void)errlen;
	CHECK(st->kind == PF_ST_FORWARD, "line %d: statement kind %d", w->line, st->kind);
	CHECK(st->fwd->conf.protos == (PF_PROTO_TCP | PF_PROTO_UDP), "line %d: protocols %u", w->line,
	      st->fwd->conf.protos);
	CHECK(!st->fwd->conf.lhost[0] && st->fwd->nbe == 1, "line %d: listen/backends", w->line);
	if (st->fwd->conf.lport_lo == st->fwd->conf.lport_hi)
		snprintf(name, sizeof(name), "table-%u", st->fwd->conf.lport_lo);
	else
		snprintf(name, sizeof(name), "table-%u-%u", st->fwd->conf.lport_lo, st->fwd->conf.lport_hi);
	CHECK(!strcmp(name, st->fwd->conf.name), "line %d: name %s, listen %s", w->line, st->fwd->conf.name,
	      name);
	pf_table_add(arg, st->fwd);
	st->fwd = NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char *out = NULL, err[2048], *saved;
	struct pf_table t, back;
	size_t i;

	err[0] = '\0';
	if (pf_tablefile_translate("ports.txt", text, size, &out, err, sizeof(err))) {
		int line = 0;

		CHECK(!out, "an output with an error");
		CHECK(sscanf(err, "ports.txt:%d:", &line) == 1 && line >= 1 &&
			      (size_t)line <= lines_of(text, size),
		      "message '%s' (%zu lines)", err, lines_of(text, size));
		return 0;
	}
	CHECK(out, "no output");
	CHECK(lines_of(out, strlen(out)) == lines_of(text, size), "%zu lines in, %zu out",
	      lines_of(text, size), lines_of(out, strlen(out)));
	pf_table_init(&t);
	CHECK(!pf_conf_foreach("ports.txt", out, strlen(out), fwd_cb, &t, err, sizeof(err)),
	      "the translation does not parse: %s\n%s", err, out);
	saved = pf_table_format(&t);
	pf_table_init(&back);
	CHECK(!pf_conf_load_text("saved", saved, strlen(saved), &back, err, sizeof(err)),
	      "save does not load back: %s", err);
	CHECK(back.n == t.n, "%zu forwards saved, %zu loaded", t.n, back.n);
	for (i = 0; i < t.n; i++)
		CHECK(pf_forward_equal(t.fwd[i], back.fwd[i]), "forward %zu changed in save", i);
	pf_table_clear(&back);
	pf_table_clear(&t);
	free(saved);
	free(out);
	return 0;
}
