// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for the classic command lines' translators (ipportfw,
 * ipmasqadm portfw/mfw/autofw: src/cli/pfc_*.c, pure functions). The first
 * byte picks the program and module, the rest is split into arguments at
 * spaces and NULs; the running table is a fixed one with marks, classic and
 * native forwards. Properties:
 *
 *  - the syntax does not depend on the table: a usage error, help or a
 *    listing is the same with and without it;
 *  - a usage error or an error has a message (autofw's bare usage aside) and
 *    no statements; NEED_TABLE only comes without a table;
 *  - statements end in a newline and parse in the command language (the
 *    kernel engine's 'all' and 'trigger' forms where that grammar has them).
 *
 * A broken property abort()s, which libFuzzer reports as a crash.
 */
#include "cli/pfc_classic.h"
#include "common/pf_conf.h"
#include "common/pf_interp.h"
#include "fuzz_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char table_text[] =
	"mark 1 tcp 192.0.2.3:80 from 209.81.8.0/24\n"
	"mark 3 tcp 192.0.2.3:80\n"
	"mark 7 from 10.7.0.0/16\n"
	"forward name mfw-1 tcp 192.0.2.3:80 to 192.168.17.3 weight 10 balance pref from "
	"209.81.8.0/24\n"
	"forward name portfw-tcp-192.0.2.2-80 tcp 192.0.2.2:80 to 192.168.16.27:80 weight 15, "
	"192.168.16.28:80 weight 5 balance pref\n"
	"forward name autofw-udp-6970-6999 udp :6970-6999 to 10.0.0.9\n"
	"forward name web tcp :8080 to 10.0.0.9\n";

static struct pf_table table;

static int any_cb(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
		  size_t errlen)
{
	(void)st;
	(void)w;
	(void)arg;
	(void)err;
	(void)errlen;
	return 0;
}

static void check(const struct pfc_xl *xl, const struct pf_table *cur, const char *what)
{
	char err[2048];

	CHECK(xl->kind >= PFC_XL_SEND && xl->kind <= PFC_XL_ERROR, "%s: kind %d", what, xl->kind);
	CHECK(xl->tool && xl->usage, "%s: no tool or usage", what);
	CHECK(xl->kind != PFC_XL_NEED_TABLE || !cur, "%s: NEED_TABLE with a table", what);
	if (xl->kind != PFC_XL_SEND) {
		CHECK(!xl->text, "%s: statements with kind %d", what, xl->kind);
		CHECK(xl->kind != PFC_XL_ERROR || xl->err[0], "%s: an error without a message",
		      what);
		CHECK(xl->kind != PFC_XL_USAGE || xl->err[0] ||
			      !strcmp(xl->tool, "ipmasqadm autofw"),
		      "%s: a usage error without a message", what);
		return;
	}
	CHECK(xl->text && xl->len && xl->text[xl->len - 1] == '\n' && strlen(xl->text) == xl->len,
	      "%s: statements '%s'", what, xl->text ? xl->text : "(null)");
	if (pf_conf_foreach("sent", xl->text, xl->len, any_cb, NULL, err, sizeof(err)))
		CHECK(strstr(xl->text, "trigger ") || strstr(xl->text, " all any "),
		      "%s: '%s' does not parse: %s", what, xl->text, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const progs[] = { "ipportfw", "ipmasqadm" };
	static const char *const mods[] = { NULL, "portfw", "mfw", "autofw" };
	char *buf, *argv[34];
	struct pfc_xl a, b;
	int argc = 0;
	size_t i, start;

	if (!size)
		return 0;
	if (!table.nmarks) {
		char err[1024];

		if (pf_conf_load_text("t", table_text, strlen(table_text), &table, err, sizeof(err)))
			abort();
	}
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	if (data[0] & 1 && mods[(data[0] >> 1) & 3])
		argv[argc++] = (char *)mods[(data[0] >> 1) & 3];
	for (i = 0, start = 0; i < size && argc < 33; i++) {
		if (i == size - 1 || buf[i] == ' ' || buf[i] == '\0') {
			buf[i] = '\0';
			if (i > start)
				argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;
	pfc_classic_xlate(progs[data[0] & 1], argc, argv, NULL, &a);
	check(&a, NULL, "without a table");
	pfc_classic_xlate(progs[data[0] & 1], argc, argv, &table, &b);
	check(&b, &table, "with the table");
	if (a.kind == PFC_XL_USAGE || a.kind == PFC_XL_HELP || a.kind == PFC_XL_LIST)
		CHECK(b.kind == a.kind && !strcmp(a.err, b.err), "kind %d then %d", a.kind, b.kind);
	if (a.kind == PFC_XL_SEND)
		CHECK(b.kind == PFC_XL_SEND && !strcmp(a.text, b.text),
		      "what needs no table changed with it");
	pfc_xl_free(&a);
	pfc_xl_free(&b);
	free(buf);
	return 0;
}
