// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A change as a diff: the commands that turn the loaded ruleset into the next
 * one, both full renders of 'inet portfw' (pfk_render_table's shape: the
 * table's objects one per block, "\t<kind> <name> {" ... "\t}", map and set
 * elements in one "elements = { ... }" list). Only elements and chains may
 * differ: elements go with 'delete element' / 'add element', a chain that
 * changed is flushed and given its rules again, a chain that went is
 * deleted, a new one (a base chain too: its hook is in its body) added.
 * Anything else (a set's type or flags, a new map) returns NULL and
 * the caller loads the whole table.
 *
 * Loading the whole table costs time in proportion to the number of forwards
 * (libnftables parses and the kernel rebuilds every chain, twice with a dry
 * run): about 3 s per change with 10,000 forwards. The diff of one added or
 * removed forward is a handful of commands, so the kernel's side of a change
 * no longer grows with the table; what is left is rendering and comparing
 * the text (linear, but tens of milliseconds for 100,000 forwards).
 */
#include "pfk_diff.h"
#include "../common/pf_buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pfk_str {
	const char *s;
	size_t n;
};

struct pfk_obj {
	struct pfk_str decl; /* "chain f5", "map any" */
	struct pfk_str head; /* the body's lines before the elements list (all: none) */
	struct pfk_str tail; /* the lines after it */
	struct pfk_str elems; /* between the braces of "elements = { ... }" */
	struct pfk_str body; /* everything between the braces */
	bool chain, setmap;
	bool seen;
};

struct pfk_rs {
	struct pfk_obj *o;
	size_t n, cap;
	size_t *ht; /* index + 1 of objects by decl; 0 empty */
	size_t htcap;
};

static uint64_t pfk_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static bool pfk_eq(struct pfk_str a, struct pfk_str b)
{
	/* Empty strings may have no pointer: memcmp(NULL, ...) is undefined. */
	return a.n == b.n && (!a.n || !memcmp(a.s, b.s, a.n));
}

static bool pfk_prefix(const char *s, const char *end, const char *p)
{
	size_t n = strlen(p);

	return (size_t)(end - s) >= n && !memcmp(s, p, n);
}

static const char *pfk_eol(const char *s, const char *end)
{
	const char *e = memchr(s, '\n', (size_t)(end - s));

	return e ? e + 1 : end;
}

static struct pfk_obj *pfk_rs_find(const struct pfk_rs *rs, struct pfk_str decl)
{
	size_t i;

	if (!rs->htcap)
		return NULL;
	for (i = pfk_hash(decl.s, decl.n) & (rs->htcap - 1); rs->ht[i];
	     i = (i + 1) & (rs->htcap - 1))
		if (pfk_eq(rs->o[rs->ht[i] - 1].decl, decl))
			return &rs->o[rs->ht[i] - 1];
	return NULL;
}

static void pfk_rs_free(struct pfk_rs *rs)
{
	free(rs->o);
	free(rs->ht);
}

static const char pfk_head[] = "table inet portfw\ndelete table inet portfw\ntable inet portfw {\n";

/* Splits a full render into its objects; -1 if it is not of that shape. */
static int pfk_parse(const char *text, struct pfk_rs *rs)
{
	const char *p = text, *end = text + strlen(text);
	size_t i;

	memset(rs, 0, sizeof(*rs));
	if (!pfk_prefix(p, end, pfk_head))
		return -1;
	p += sizeof(pfk_head) - 1;
	while (p < end && !pfk_prefix(p, end, "}\n")) {
		const char *le = pfk_eol(p, end), *b, *e, *q;
		struct pfk_obj o = { 0 };

		/* "\tKIND NAME {\n" */
		if (*p != '\t' || p[1] == '\t' || le - p < 5 || memcmp(le - 3, " {\n", 3) != 0)
			return -1;
		o.decl = (struct pfk_str){ p + 1, (size_t)(le - 3 - (p + 1)) };
		o.chain = pfk_prefix(o.decl.s, le, "chain ");
		o.setmap = pfk_prefix(o.decl.s, le, "set ") || pfk_prefix(o.decl.s, le, "map ");
		b = le;
		for (e = b; e < end && !pfk_prefix(e, end, "\t}\n"); e = pfk_eol(e, end))
			;
		if (e >= end)
			return -1;
		o.body = (struct pfk_str){ b, (size_t)(e - b) };
		o.head = o.body;
		q = NULL;
		if (o.setmap) {
			for (q = b; q < e && !pfk_prefix(q, e, "\t\telements = { "); q = pfk_eol(q, e))
				;
			if (q >= e)
				q = NULL;
		}
		if (q) {
			const char *es = q + strlen("\t\telements = { "), *ee;

			ee = memchr(es, '}', (size_t)(e - es));
			if (!ee)
				return -1;
			o.head = (struct pfk_str){ b, (size_t)(q - b) };
			o.elems = (struct pfk_str){ es, (size_t)(ee - es) };
			/* The lines after the list's (a list that ends its line). */
			ee = pfk_eol(ee, e);
			o.tail = (struct pfk_str){ ee, (size_t)(e - ee) };
		}
		if (rs->n == rs->cap) {
			struct pfk_obj *no;

			rs->cap = rs->cap ? rs->cap * 2 : 256;
			no = realloc(rs->o, rs->cap * sizeof(*no));
			if (!no)
				return -1;
			rs->o = no;
		}
		rs->o[rs->n++] = o;
		p = pfk_eol(e, end);
	}
	if (p >= end)
		return -1;
	for (rs->htcap = 16; rs->htcap < rs->n * 2; rs->htcap *= 2)
		;
	rs->ht = calloc(rs->htcap, sizeof(*rs->ht));
	if (!rs->ht)
		return -1;
	for (i = 0; i < rs->n; i++) {
		size_t h;

		if (pfk_rs_find(rs, rs->o[i].decl))
			return -1; /* the same object twice: not ours */
		for (h = pfk_hash(rs->o[i].decl.s, rs->o[i].decl.n) & (rs->htcap - 1); rs->ht[h];
		     h = (h + 1) & (rs->htcap - 1))
			;
		rs->ht[h] = i + 1;
	}
	return 0;
}

/* The elements of a list, trimmed. */
struct pfk_elems {
	struct pfk_str *v;
	size_t n;
	size_t *ht;
	size_t htcap;
};

static void pfk_elems_free(struct pfk_elems *es)
{
	free(es->v);
	free(es->ht);
}

static int pfk_split(struct pfk_str list, struct pfk_elems *es)
{
	const char *p = list.s, *end = list.s + list.n;
	size_t cap = 0, i;

	memset(es, 0, sizeof(*es));
	while (p < end) {
		const char *c = memchr(p, ',', (size_t)(end - p)), *s = p, *e;

		e = c ? c : end;
		p = c ? c + 1 : end;
		while (s < e && (*s == ' ' || *s == '\t' || *s == '\n'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
			e--;
		if (s == e)
			continue;
		if (es->n == cap) {
			struct pfk_str *nv;

			cap = cap ? cap * 2 : 64;
			nv = realloc(es->v, cap * sizeof(*nv));
			if (!nv)
				return -1;
			es->v = nv;
		}
		es->v[es->n++] = (struct pfk_str){ s, (size_t)(e - s) };
	}
	for (es->htcap = 16; es->htcap < es->n * 2; es->htcap *= 2)
		;
	es->ht = calloc(es->htcap, sizeof(*es->ht));
	if (!es->ht)
		return -1;
	for (i = 0; i < es->n; i++) {
		size_t h = pfk_hash(es->v[i].s, es->v[i].n) & (es->htcap - 1);

		while (es->ht[h])
			h = (h + 1) & (es->htcap - 1);
		es->ht[h] = i + 1;
	}
	return 0;
}

static bool pfk_elems_has(const struct pfk_elems *es, struct pfk_str e)
{
	size_t h = pfk_hash(e.s, e.n) & (es->htcap - 1);

	for (; es->ht[h]; h = (h + 1) & (es->htcap - 1))
		if (pfk_eq(es->v[es->ht[h] - 1], e))
			return true;
	return false;
}

/* "KEY : VALUE" -> "KEY" (a map element is deleted by its key). */
static struct pfk_str pfk_key(struct pfk_str e, bool map)
{
	size_t i;

	if (!map)
		return e;
	for (i = 0; i + 3 <= e.n; i++)
		if (!memcmp(e.s + i, " : ", 3))
			return (struct pfk_str){ e.s, i };
	return e;
}

/* Elements of a (in a but not in b) as one command: "VERB element inet
 * portfw NAME { e, ... }". */
static int pfk_elem_cmd(struct pf_buf *out, const char *verb, struct pfk_str name, bool map,
			const struct pfk_elems *a, const struct pfk_elems *b)
{
	bool first = true;
	size_t i;

	for (i = 0; i < a->n; i++) {
		struct pfk_str e = a->v[i];

		if (b && pfk_elems_has(b, e))
			continue;
		if (first) {
			pf_buf_puts(out, verb);
			pf_buf_puts(out, " element inet portfw ");
			pf_buf_add(out, name.s, name.n);
			pf_buf_puts(out, " { ");
			first = false;
		} else {
			pf_buf_puts(out, ", ");
		}
		if (!strcmp(verb, "delete"))
			e = pfk_key(e, map);
		pf_buf_add(out, e.s, e.n);
	}
	if (!first)
		pf_buf_puts(out, " }\n");
	return 0;
}

char *pfk_diff(const char *old, const char *next, size_t *ncmds)
{
	struct pfk_rs a = { 0 }, b = { 0 };
	struct pf_buf del = { 0 }, flush = { 0 }, gone = { 0 }, chains = { 0 }, add = { 0 };
	struct pf_buf out = { 0 };
	char *res = NULL;
	size_t i, cmds = 0;

	if (pfk_parse(old, &a) || pfk_parse(next, &b))
		goto done;
	for (i = 0; i < b.n; i++) {
		struct pfk_obj *n = &b.o[i], *o = pfk_rs_find(&a, n->decl);

		if (!o) {
			/* A new set or map: load it all. A new chain, base chains
			 * too (their hook is in their body), is added. */
			if (!n->chain)
				goto done;
			pf_buf_puts(&chains, "\t");
			pf_buf_add(&chains, n->decl.s, n->decl.n);
			pf_buf_puts(&chains, " {\n");
			pf_buf_add(&chains, n->body.s, n->body.n);
			pf_buf_puts(&chains, "\t}\n");
			cmds++;
			continue;
		}
		o->seen = true;
		if (n->chain) {
			if (pfk_eq(o->body, n->body))
				continue;
			pf_buf_puts(&flush, "flush ");
			pf_buf_add(&flush, n->decl.s, n->decl.n);
			pf_buf_puts(&flush, "\n");
			pf_buf_puts(&chains, "\t");
			pf_buf_add(&chains, n->decl.s, n->decl.n);
			pf_buf_puts(&chains, " {\n");
			pf_buf_add(&chains, n->body.s, n->body.n);
			pf_buf_puts(&chains, "\t}\n");
			cmds += 2;
			continue;
		}
		if (!n->setmap) {
			if (!pfk_eq(o->body, n->body))
				goto done;
			continue;
		}
		if (!pfk_eq(o->head, n->head) || !pfk_eq(o->tail, n->tail))
			goto done;
		if (!pfk_eq(o->elems, n->elems)) {
			struct pfk_elems eo = { 0 }, en = { 0 };
			struct pfk_str name = { n->decl.s + 4, n->decl.n - 4 };
			bool map = n->decl.s[0] == 'm';
			size_t l0 = del.len, l1 = add.len;

			if (pfk_split(o->elems, &eo) || pfk_split(n->elems, &en)) {
				pfk_elems_free(&eo);
				pfk_elems_free(&en);
				goto done;
			}
			pfk_elem_cmd(&del, "delete", name, map, &eo, &en);
			pfk_elem_cmd(&add, "add", name, map, &en, &eo);
			cmds += (del.len > l0) + (add.len > l1);
			pfk_elems_free(&eo);
			pfk_elems_free(&en);
		}
	}
	for (i = 0; i < a.n; i++) {
		struct pfk_obj *o = &a.o[i];

		if (o->seen)
			continue;
		if (!o->chain)
			goto done;
		/* Its references (elements, other chains' rules) go first. */
		pf_buf_puts(&flush, "flush ");
		pf_buf_add(&flush, o->decl.s, o->decl.n);
		pf_buf_puts(&flush, "\n");
		pf_buf_puts(&gone, "delete ");
		pf_buf_add(&gone, o->decl.s, o->decl.n);
		pf_buf_puts(&gone, "\n");
		cmds += 2;
	}
	if (del.err || flush.err || gone.err || chains.err || add.err)
		goto done;
	if (del.s)
		pf_buf_puts(&out, del.s);
	if (flush.s || gone.s) {
		const char *src[2] = { flush.s, gone.s };
		int k;

		for (k = 0; k < 2; k++) {
			const char *p = src[k];

			if (!p)
				continue;
			while (*p) {
				const char *sp = strchr(p, ' '), *nl = strchr(p, '\n');

				/* "flush chain NAME" -> "flush chain inet portfw NAME":
				 * the family and table follow the object's kind. */
				sp = sp ? strchr(sp + 1, ' ') : NULL;
				if (!sp || !nl || sp > nl)
					break; /* not a line we wrote: cannot happen */
				pf_buf_add(&out, p, (size_t)(sp - p));
				pf_buf_puts(&out, " inet portfw");
				pf_buf_add(&out, sp, (size_t)(nl + 1 - sp));
				p = nl + 1;
			}
		}
	}
	if (chains.s) {
		pf_buf_puts(&out, "table inet portfw {\n");
		pf_buf_puts(&out, chains.s);
		pf_buf_puts(&out, "}\n");
	}
	if (add.s)
		pf_buf_puts(&out, add.s);
	/* No change: an empty script, not NULL. */
	res = pf_buf_detach(&out, NULL);
	if (res && ncmds)
		*ncmds = cmds;
done:
	pfk_rs_free(&a);
	pfk_rs_free(&b);
	pf_buf_free(&del);
	pf_buf_free(&flush);
	pf_buf_free(&gone);
	pf_buf_free(&chains);
	pf_buf_free(&add);
	pf_buf_free(&out);
	return res;
}
