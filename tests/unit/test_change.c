// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of a change to the running table as the daemon makes it: a
 * draft of the running table (what it adds and drops, the references it
 * holds), the install, the running table's index, and validation of the
 * draft's new forwards alone, which must find the same first error as
 * validating the whole table; forward ids, which must not depend on the
 * order a table was loaded in.
 */
#include "common/pf_conf.h"
#include "common/pf_digest.h"
#include "common/pf_fwdid.h"
#include "common/pf_interp.h"
#include "common/pf_table.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ERRLEN 4096

/* A running table made from text, as the daemon installs it. */
static void running(struct pf_table *cur, const char *text)
{
	struct pf_table t, empty;
	struct pf_change ch;
	char err[ERRLEN];

	pf_table_init(cur);
	pf_table_init(&t);
	pf_table_init(&empty);
	if (pf_conf_load_text("t.conf", text, strlen(text), &t, err, sizeof(err)))
		fail_msg("%s", err);
	if (pf_table_prepare_change(&t, &empty, &ch, err, sizeof(err)))
		fail_msg("%s", err);
	pf_table_install(cur, &t);
}

/* A request against cur: 0 with next its draft, or -1 and err. */
static int request(struct pf_table *cur, const char *text, struct pf_table *next, char *err)
{
	struct pf_interp ip;
	int rc;

	pf_table_init(next);
	pf_interp_init(&ip, PF_IN_REQUEST, next, cur);
	err[0] = '\0';
	rc = pf_interp_text(&ip, "request", text, strlen(text), err, ERRLEN);
	pf_interp_free(&ip);
	return rc;
}

static int refs(const struct pf_forward *f)
{
	return atomic_load(&((struct pf_forward *)f)->refs);
}

/* 1,000 forwards on ports 10000.. of 192.0.2.1, named f0..f999. */
static char *big_text(void)
{
	size_t len = 1000 * 80, off = 0;
	char *s = malloc(len);
	int i;

	assert_non_null(s);
	for (i = 0; i < 1000; i++)
		off += (size_t)snprintf(s + off, len - off,
					"forward name f%d tcp 192.0.2.1:%d to 10.0.0.%d:80\n", i,
					10000 + i, 1 + i % 200);
	return s;
}

static void test_draft_lists_and_install(void **state)
{
	struct pf_table cur, next;
	struct pf_forward *f5, *f6;
	struct pf_change ch;
	char err[ERRLEN], *text = big_text();

	(void)state;
	running(&cur, text);
	free(text);
	assert_int_equal(cur.n, 1000);
	f5 = pf_table_find_name(&cur, "f5");
	f6 = pf_table_find_name(&cur, "f6");
	assert_non_null(f5);
	assert_int_equal(refs(f5), 1);
	assert_true(f5->live);
	assert_int_equal(request(&cur, "del name f5\nforward name new tcp :9 to 10.0.0.1:9\n"
				       "backend name f6 10.0.0.7:80 drain\n",
				 &next, err),
			 0);
	/* The draft holds cur's forwards without references of its own. */
	assert_ptr_equal(next.base, &cur);
	assert_int_equal(next.n, 1000);
	assert_int_equal(refs(f5), 1);
	assert_int_equal(next.del.n, 2); /* f5, and f6 replaced by a copy */
	assert_int_equal(next.add.n, 2); /* new, and the copy of f6 */
	assert_null(pf_table_find_name(&next, "f5"));
	assert_ptr_not_equal(pf_table_find_name(&next, "f6"), f6);
	assert_non_null(pf_table_find_name(&next, "new"));
	/* The running table is untouched. */
	assert_ptr_equal(pf_table_find_name(&cur, "f5"), f5);
	assert_int_equal(pf_table_prepare_change(&next, &cur, &ch, err, sizeof(err)), 0);
	assert_int_equal(ch.fresh, 2);
	assert_int_equal(ch.changed, 1);
	/* The copy of f6 carries its counters. */
	assert_ptr_equal(pf_table_find_name(&next, "f6")->st, f6->st);
	pf_forward_ref(f5);
	pf_table_install(&cur, &next);
	assert_int_equal(refs(f5), 1); /* ours alone: the table dropped it */
	pf_forward_unref(f5);
	assert_int_equal(cur.n, 1000);
	assert_null(cur.base);
	assert_int_equal(next.n, 0);
	assert_null(pf_table_find_name(&cur, "f5"));
	assert_non_null(pf_table_find_name(&cur, "new"));
	assert_true(pf_table_find_name(&cur, "new")->live);
	assert_int_equal(refs(pf_table_find_name(&cur, "new")), 1);
	assert_int_equal(pf_table_find_name(&cur, "f6")->be[0].conf.admin, PF_ADMIN_DRAIN);
	/* Still in table order: f4, f6 ... new last. */
	assert_string_equal(cur.fwd[4]->conf.name, "f4");
	assert_string_equal(cur.fwd[5]->conf.name, "f6");
	assert_string_equal(cur.fwd[999]->conf.name, "new");
	pf_table_clear(&cur);
}

/* A request that puts back what it took away changes nothing. */
static void test_draft_same_again(void **state)
{
	struct pf_table cur, next;
	struct pf_forward *f7;
	struct pf_change ch;
	char err[ERRLEN], *text = big_text();

	(void)state;
	running(&cur, text);
	free(text);
	f7 = pf_table_find_name(&cur, "f7");
	assert_int_equal(request(&cur, "del name f7\nforward name f7 tcp 192.0.2.1:10007 to 10.0.0.8:80\n",
				 &next, err),
			 0);
	assert_int_equal(pf_table_prepare_change(&next, &cur, &ch, err, sizeof(err)), 0);
	assert_int_equal(ch.fresh, 0);
	assert_int_equal(next.add.n, 0);
	assert_int_equal(next.del.n, 0);
	assert_ptr_equal(pf_table_find_name(&next, "f7"), f7);
	pf_table_install(&cur, &next);
	assert_ptr_equal(pf_table_find_name(&cur, "f7"), f7);
	assert_int_equal(refs(f7), 1);
	pf_table_clear(&cur);
}

/* An aborted draft leaves every reference as it was. */
static void test_draft_abort(void **state)
{
	struct pf_table cur, next;
	struct pf_forward *f1;
	char err[ERRLEN], *text = big_text();

	(void)state;
	running(&cur, text);
	free(text);
	f1 = pf_table_find_name(&cur, "f1");
	assert_int_equal(request(&cur, "del name f1\nforward name x tcp :1 to 10.0.0.1:1\n", &next,
				 err),
			 0);
	pf_table_clear(&next);
	assert_int_equal(refs(f1), 1);
	assert_ptr_equal(pf_table_find_name(&cur, "f1"), f1);
	pf_table_clear(&cur);
}

/* An error's words from "overlaps" or "name" up to the other forward's
 * place, in a static buffer (one per call site: two calls per assert). */
static const char *what(const char *err)
{
	static char buf[2][ERRLEN];
	static int k;
	const char *p = strstr(err, "overlaps") ? strstr(err, "overlaps") : strstr(err, "name");
	char *b = buf[k++ % 2];

	snprintf(b, ERRLEN, "%s", p ? p : err);
	b[strcspn(b, "(")] = '\0';
	if (strstr(b, "t.conf:"))
		*strstr(b, "t.conf:") = '\0';
	return b;
}

/* The error of a draft's validation, and of the same table whole. */
static void assert_same_error(const char *base, const char *req)
{
	struct pf_table cur, next, whole, empty;
	struct pf_change ch;
	char err[ERRLEN], err2[ERRLEN] = "";
	char *text;

	running(&cur, base);
	if (request(&cur, req, &next, err))
		fail_msg("%s", err);
	assert_int_equal(pf_table_prepare_change(&next, &cur, &ch, err, sizeof(err)), -1);
	/* The same table, as a table of its own, validated whole. */
	text = pf_table_format(&next);
	pf_table_init(&whole);
	pf_table_init(&empty);
	if (pf_conf_load_text("t.conf", text, strlen(text), &whole, err2, sizeof(err2)))
		fail_msg("%s", err2);
	free(text);
	assert_int_equal(pf_table_prepare_change(&whole, &empty, &ch, err2, sizeof(err2)), -1);
	/* Where each was defined differs (the request, t.conf and its line):
	 * compare what each says from the listen address or name on, up to
	 * where the other forward is. */
	assert_string_equal(what(err), what(err2));
	pf_table_clear(&next);
	pf_table_clear(&whole);
	pf_table_clear(&cur);
}

static void test_delta_validation(void **state)
{
	char *text = big_text();

	(void)state;
	/* A port in use, a name in use, a range over ports in use. */
	assert_same_error(text, "forward tcp 192.0.2.1:10500 to 10.0.0.1:80\n");
	assert_same_error(text, "forward name f9 tcp :7 to 10.0.0.1:80\n");
	assert_same_error(text, "forward tcp 192.0.2.1:10990-11000 to 10.0.0.1\n");
	/* Two new ones against each other. */
	assert_same_error(text, "forward tcp :7 to 10.0.0.1:80\nforward tcp :7 to 10.0.0.2:80\n");
	/* A trigger's range, opened on every address. */
	assert_same_error(text, "trigger tcp 10300-10310 on tcp 6667 timeout 30s\n");
	free(text);
}

/* A mark that changes moves its forward (mfw-N): onto a port in use. */
static void test_delta_mark_moves(void **state)
{
	(void)state;
	assert_same_error("mark 1 tcp 192.0.2.3:80 from 209.81.8.0/24\n"
			  "forward name mfw-1 tcp 192.0.2.3:80 to 10.0.0.2 from 209.81.8.0/24\n"
			  "forward name web tcp :80 to 10.0.0.2:8080\n",
			  "mark 1 tcp :80\n");
}

/* What may share a port does, and the index finds it. */
static void test_delta_from_pools(void **state)
{
	struct pf_table cur, next;
	struct pf_change ch;
	char err[ERRLEN];

	(void)state;
	running(&cur, "forward name a tcp :80 to 10.0.0.1 from 10.1.0.0/16\n"
		      "forward name b tcp :80 to 10.0.0.2\n");
	assert_int_equal(request(&cur, "forward name c tcp :80 to 10.0.0.3 from 10.2.0.0/16\n",
				 &next, err),
			 0);
	assert_int_equal(pf_table_prepare_change(&next, &cur, &ch, err, sizeof(err)), 0);
	pf_table_install(&cur, &next);
	assert_int_equal(request(&cur, "forward name d tcp :80 to 10.0.0.4 from 10.2.0.0/16\n",
				 &next, err),
			 0);
	assert_int_equal(pf_table_prepare_change(&next, &cur, &ch, err, sizeof(err)), -1);
	if (!strstr(err, "with the same 'from' sources overlaps forward 'c'"))
		fail_msg("%s", err);
	pf_table_clear(&next);
	/* del by PROTO LISTEN finds every forward of the key's port. */
	assert_int_equal(request(&cur, "del tcp :80\n", &next, err), 0);
	assert_int_equal(next.n, 0);
	assert_int_equal(next.del.n, 3);
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

static uint32_t id_of(const struct pf_table *t, const char *name)
{
	const struct pf_forward *f = pf_table_find_name(t, name);

	assert_non_null(f);
	return f->id;
}

#define LINE_A "forward name a tcp 192.0.2.1:80 to 10.0.0.1\n"
#define LINE_B "forward name b udp :53 to 10.0.0.2 from 10.9.0.0/16\n"
#define LINE_C "forward name c tcp [2001:db8::1]:443 to [2001:db8::2]:8443\n"
#define LINE_X "forward name x tcp 192.0.2.1:81 to 10.0.0.3\n"

/* The same forward has the same id in another table, loaded in another
 * order, among other forwards, or added one change at a time. */
static void test_ids_from_content(void **state)
{
	struct pf_table one, two, inc, next;
	struct pf_change ch;
	char err[ERRLEN];
	const char *adds[] = { LINE_X, LINE_C, LINE_A, LINE_B };
	const char *names[] = { "a", "b", "c" };
	size_t i;

	(void)state;
	running(&one, LINE_A LINE_B LINE_C);
	running(&two, LINE_X LINE_C LINE_B LINE_A);
	pf_table_init(&inc);
	for (i = 0; i < 4; i++) {
		assert_int_equal(request(&inc, adds[i], &next, err), 0);
		assert_int_equal(pf_table_prepare_change(&next, &inc, &ch, err, sizeof(err)), 0);
		pf_table_install(&inc, &next);
	}
	for (i = 0; i < 3; i++) {
		const struct pf_forward *f = pf_table_find_name(&one, names[i]);

		assert_int_equal(id_of(&two, names[i]), f->id);
		assert_int_equal(id_of(&inc, names[i]), f->id);
		/* No other forward wants it: the id its key hashes to. */
		assert_int_equal(f->id, pf_fwdid_probe(pf_fwdid_hash(f), 0));
	}
	/* A new version of a forward keeps the id. */
	if (request(&inc, "backend name a 10.0.0.1 drain\n", &next, err))
		fail_msg("%s", err);
	assert_int_equal(pf_table_prepare_change(&next, &inc, &ch, err, sizeof(err)), 0);
	assert_int_equal(ch.changed, 1);
	assert_int_equal(id_of(&next, "a"), id_of(&one, "a"));
	pf_table_clear(&next);
	pf_table_clear(&one);
	pf_table_clear(&two);
	pf_table_clear(&inc);
}

/* Two keys that want the same id: the smaller hash gets it, the other the
 * next free one, whatever the order of the file; a running forward keeps
 * its id when a newcomer wants it. */
static void test_ids_collide(void **state)
{
	struct pf_table all, one, two, next;
	struct pf_change ch;
	char err[ERRLEN], text[256];
	uint32_t *seen = calloc(PF_ID_MAX + 1, sizeof(uint32_t));
	size_t len = 4000 * 64, off = 0, i, lo = 0, hi = 0;
	char *s = malloc(len);
	const struct pf_forward *first, *second;

	(void)state;
	assert_non_null(seen);
	assert_non_null(s);
	for (i = 0; i < 4000; i++)
		off += (size_t)snprintf(s + off, len - off, "forward tcp 192.0.2.1:%zu to 10.0.0.1\n",
					1000 + i);
	pf_table_init(&all);
	if (pf_conf_load_text("t.conf", s, off, &all, err, sizeof(err)))
		fail_msg("%s", err);
	free(s);
	/* Among 4,000 keys, two want the same id (birthday: about 99.95 %). */
	for (i = 0; i < all.n && !hi; i++) {
		uint32_t id = pf_fwdid_probe(pf_fwdid_hash(all.fwd[i]), 0);

		if (seen[id]) {
			lo = seen[id] - 1;
			hi = i;
		}
		seen[id] = (uint32_t)i + 1;
	}
	free(seen);
	assert_true(hi > 0);
	if (pf_fwdid_hash(all.fwd[lo]) > pf_fwdid_hash(all.fwd[hi])) {
		size_t t = lo;

		lo = hi;
		hi = t;
	}
	snprintf(text, sizeof(text), "forward name lo tcp 192.0.2.1:%u to 10.0.0.1\n"
		 "forward name hi tcp 192.0.2.1:%u to 10.0.0.1\n", all.fwd[lo]->conf.lport_lo,
		 all.fwd[hi]->conf.lport_lo);
	running(&one, text);
	snprintf(text, sizeof(text), "forward name hi tcp 192.0.2.1:%u to 10.0.0.1\n"
		 "forward name lo tcp 192.0.2.1:%u to 10.0.0.1\n", all.fwd[hi]->conf.lport_lo,
		 all.fwd[lo]->conf.lport_lo);
	running(&two, text);
	first = pf_table_find_name(&one, "lo");
	second = pf_table_find_name(&one, "hi");
	assert_int_equal(first->id, pf_fwdid_probe(pf_fwdid_hash(first), 0));
	assert_int_equal(second->id, pf_fwdid_probe(pf_fwdid_hash(second), 1));
	assert_int_equal(id_of(&two, "lo"), first->id);
	assert_int_equal(id_of(&two, "hi"), second->id);
	/* Running alone, hi has the id both want, and keeps it. */
	pf_table_clear(&two);
	snprintf(text, sizeof(text), "forward name hi tcp 192.0.2.1:%u to 10.0.0.1\n",
		 all.fwd[hi]->conf.lport_lo);
	running(&two, text);
	assert_int_equal(id_of(&two, "hi"), first->id);
	snprintf(text, sizeof(text), "forward name lo tcp 192.0.2.1:%u to 10.0.0.1\n",
		 all.fwd[lo]->conf.lport_lo);
	assert_int_equal(request(&two, text, &next, err), 0);
	assert_int_equal(pf_table_prepare_change(&next, &two, &ch, err, sizeof(err)), 0);
	assert_int_equal(id_of(&next, "hi"), first->id);
	assert_int_equal(id_of(&next, "lo"), pf_fwdid_probe(pf_fwdid_hash(first), 1));
	pf_table_clear(&next);
	pf_table_clear(&all);
	pf_table_clear(&one);
	pf_table_clear(&two);
}

/* Two gateways hold the same table when they hold the same forwards with
 * the same ids and defaults, whatever the order. */
static void test_table_digest(void **state)
{
	struct pf_table one, two;
	uint64_t d;

	(void)state;
	running(&one, LINE_A LINE_B LINE_C);
	running(&two, LINE_C LINE_B LINE_A "status 127.0.0.1:9181\nlog-format json\n");
	d = pf_table_digest(&one);
	assert_true(pf_table_digest(&two) == d);
	pf_table_clear(&two);
	running(&two, LINE_C LINE_B LINE_A LINE_X);
	assert_true(pf_table_digest(&two) != d);
	pf_table_clear(&two);
	/* A default ACL is part of what a forward does. */
	running(&two, "default deny 10.0.0.0/8\n" LINE_C LINE_B LINE_A);
	assert_true(pf_table_digest(&two) != d);
	pf_table_clear(&two);
	/* The same line with another id (a collision on one side only). */
	running(&two, LINE_A LINE_B LINE_C);
	two.fwd[0]->id++;
	assert_true(pf_table_digest(&two) != d);
	two.fwd[0]->id--;
	assert_true(pf_table_digest(&two) == d);
	pf_table_clear(&two);
	pf_table_clear(&one);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_draft_lists_and_install),
		cmocka_unit_test(test_draft_same_again),
		cmocka_unit_test(test_draft_abort),
		cmocka_unit_test(test_delta_validation),
		cmocka_unit_test(test_delta_mark_moves),
		cmocka_unit_test(test_delta_from_pools),
		cmocka_unit_test(test_ids_from_content),
		cmocka_unit_test(test_ids_collide),
		cmocka_unit_test(test_table_digest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
