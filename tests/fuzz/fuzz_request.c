// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for a change made over the control socket: the input is
 * a request, run by the interpreter against a running table (named
 * forwards, 'from' pools, port ranges, a trigger, a mark, a default ACL) as
 * the daemon runs it: into a draft of the running table.
 *
 *  - validation of the draft (its new forwards and what may clash with
 *    them) must accept exactly what validation of the same table whole does
 *    (the table saved and loaded back as a file);
 *  - an accepted draft is installed: every forward of the running table
 *    then has one reference (the table's), an id of its own, and the index
 *    finds it by name and by key;
 *  - an aborted draft leaves the running table's references as they were;
 *  - nothing leaks (ASan).
 *
 * Hosts that are not literal addresses would be resolved (DNS): such an
 * input is skipped.
 */
#include "common/pf_addr.h"
#include "common/pf_conf.h"
#include "common/pf_interp.h"
#include "common/pf_table.h"
#include "fuzz_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char base_text[] =
	"default deny 203.0.113.0/24\n"
	"mark 1 tcp 192.0.2.3:80 from 209.81.8.0/24\n"
	"forward name mfw-1 tcp 192.0.2.3:80 to 10.0.0.2 from 209.81.8.0/24\n"
	"forward name web tcp :80 to 10.0.0.2:8080, 10.0.0.3:8080 weight 2\n"
	"forward name a tcp :443 to 10.0.0.4 from 10.1.0.0/16\n"
	"forward name b tcp :443 to 10.0.0.5\n"
	"forward name dns udp :53 to 10.0.0.6\n"
	"forward name range tcp :20000-20099 to 10.0.0.7:30000-30099\n"
	"forward tcp [2001:db8::1]:8443 to [2001:db8::2]:443 allow 2001:db8::/32\n"
	"trigger name game tcp 6000-6010 on tcp 6667 timeout 30s\n";

static bool literal(const char *host)
{
	union pf_sa sa;

	return !host[0] || !pf_sa_from_literal(host, &sa);
}

/* Whether every host of the draft's new forwards is a literal address. */
static bool no_dns(const struct pf_table *t)
{
	size_t i;
	uint32_t b;

	for (i = 0; i < t->add.n; i++) {
		const struct pf_forward *f = t->add.v[i];

		if (!literal(f->conf.lhost))
			return false;
		for (b = 0; b < f->nbe; b++)
			if (!literal(f->be[b].conf.host))
				return false;
	}
	return true;
}

static void running(struct pf_table *cur)
{
	struct pf_table t, empty;
	struct pf_change ch;
	char err[1024];

	pf_table_init(cur);
	pf_table_init(&t);
	pf_table_init(&empty);
	CHECK(!pf_conf_load_text("base.conf", base_text, strlen(base_text), &t, err, sizeof(err)),
	      "%s", err);
	CHECK(!pf_table_prepare_change(&t, &empty, &ch, err, sizeof(err)), "%s", err);
	pf_table_install(cur, &t);
}

/* The table t whole: saved, loaded back as a file, validated from nothing. */
static int whole_rc(const struct pf_table *t)
{
	struct pf_table w, empty;
	struct pf_change ch;
	char err[1024], *text = pf_table_format(t);
	int rc;

	CHECK(text, "out of memory");
	pf_table_init(&w);
	pf_table_init(&empty);
	rc = pf_conf_load_text("saved.conf", text, strlen(text), &w, err, sizeof(err));
	if (!rc)
		rc = pf_table_prepare_change(&w, &empty, &ch, err, sizeof(err));
	pf_table_clear(&w);
	free(text);
	return rc ? -1 : 0;
}

static void check_installed(const struct pf_table *cur)
{
	size_t i, j;

	for (i = 0; i < cur->n; i++) {
		const struct pf_forward *f = cur->fwd[i];

		CHECK(atomic_load(&((struct pf_forward *)f)->refs) == 1, "forward %zu: refs %d", i,
		      atomic_load(&((struct pf_forward *)f)->refs));
		CHECK(f->id >= 1 && f->id <= PF_ID_MAX, "forward %zu: id %u", i, f->id);
		CHECK(f->live, "forward %zu not live", i);
		CHECK(!f->conf.name[0] || pf_table_find_name(cur, f->conf.name) == f,
		      "forward '%s' not found by name", f->conf.name);
		CHECK(pf_table_find_key(cur, f) == f, "forward %zu not found by key", i);
		for (j = 0; j < i; j++)
			CHECK(cur->fwd[j]->id != f->id, "forwards %zu and %zu share id %u", j, i,
			      f->id);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pf_table cur, next;
	struct pf_interp ip;
	struct pf_change ch;
	char err[1024];
	int rc;

	if (size > 4096)
		return 0;
	running(&cur);
	pf_table_init(&next);
	pf_interp_init(&ip, PF_IN_REQUEST, &next, &cur);
	rc = pf_interp_text(&ip, "request", (const char *)data, size, err, sizeof(err));
	if (rc || ip.query || !ip.based || !no_dns(&next)) {
		pf_interp_free(&ip);
		pf_table_clear(&next);
		check_installed(&cur); /* nothing changed */
		pf_table_clear(&cur);
		return 0;
	}
	pf_interp_free(&ip);
	{
		int whole = whole_rc(&next);

		rc = pf_table_prepare_change(&next, &cur, &ch, err, sizeof(err));
		CHECK(rc == whole, "the draft's validation says %d (%s), the whole table's %d", rc,
		      rc ? err : "ok", whole);
	}
	if (rc) {
		pf_table_clear(&next);
		check_installed(&cur);
	} else {
		pf_table_install(&cur, &next);
		check_installed(&cur);
	}
	pf_table_clear(&cur);
	return 0;
}
