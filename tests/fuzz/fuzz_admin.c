// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for the status page's admin form (pf_admin_parse): the
 * input is a POST body. An accepted body must give exactly one statement,
 * 'backend name NAME BACKEND ACTION', that the command language's parser
 * accepts as such, so that no byte of the body adds a word or a statement
 * to the control request the daemon runs; a refused one a message.
 */
#include "common/pf_admin.h"
#include "common/pf_conf.h"
#include "fuzz_check.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char stmt[PF_ADMIN_BODY_MAX + 64], err[512];
	struct pf_where w = { .file = "admin", .line = 0 };
	struct pf_toks t;
	struct pf_stmt st;

	err[0] = '\0';
	if (pf_admin_parse((const char *)data, size, stmt, sizeof(stmt), err, sizeof(err))) {
		CHECK(err[0], "refused without a message");
		return 0;
	}
	CHECK(!strchr(stmt, '\n') && !strchr(stmt, '#') && !strchr(stmt, '"'),
	      "statement '%s'", stmt);
	CHECK(!pf_lex(stmt, &t, err, sizeof(err)), "lex '%s': %s", stmt, err);
	CHECK(t.n == 5, "'%s': %d words", stmt, t.n);
	if (!pf_parse_stmt(&t, &w, &st, err, sizeof(err))) {
		CHECK(st.kind == PF_ST_BACKEND && st.sel.has_backend && st.sel.name[0],
		      "'%s': kind %d", stmt, st.kind);
		CHECK(st.action >= PF_ACT_DRAIN && st.action <= PF_ACT_PRIMARY, "'%s': action %d",
		      stmt, st.action);
		pf_stmt_free(&st);
	}
	pf_toks_free(&t);
	return 0;
}
