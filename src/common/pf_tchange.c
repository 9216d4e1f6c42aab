// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The forwards of a table and how a change to the running one is made:
 * membership (add, remove, replace), drafts, the running table's index, the
 * lookups a change makes, and the install. A change of one forward in a
 * table of 100,000 must not read 100,000 forwards: each read of one is a
 * cache miss, and a change used to walk the table a dozen times. Here a
 * change walks only the table's array of pointers (a copy, a search for a
 * position), and finds what it needs by name and port.
 */
#include "pf_conf.h"
#include "pf_fwdid.h"
#include "pf_index.h"
#include "pf_table.h"
#include "pf_util.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define PF_ID_WORDS ((PF_ID_MAX + 64) / 64)

struct pf_tindex {
	struct pf_index name; /* named forwards, by pf_name_hash */
	struct pf_index port; /* forwards of one port (or none), by it */
	struct pf_fwdvec wide; /* forwards of a range of ports */
	uint64_t ids[PF_ID_WORDS]; /* the ids in use */
};

/* ---- lists of forwards ---- */

void pf_fwdvec_push(struct pf_fwdvec *v, struct pf_forward *f)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		struct pf_forward **n = realloc(v->v, cap * sizeof(*n));

		if (!n)
			abort(); /* as pf_xcalloc */
		v->v = n;
		v->cap = cap;
	}
	v->v[v->n++] = f;
}

bool pf_fwdvec_has(const struct pf_fwdvec *v, const struct pf_forward *f)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (v->v[i] == f)
			return true;
	return false;
}

bool pf_fwdvec_remove(struct pf_fwdvec *v, const struct pf_forward *f)
{
	size_t i;

	for (i = v->n; i-- > 0;) {
		if (v->v[i] == f) {
			memmove(&v->v[i], &v->v[i + 1], (v->n - i - 1) * sizeof(v->v[0]));
			v->n--;
			return true;
		}
	}
	return false;
}

void pf_fwdvec_free(struct pf_fwdvec *v)
{
	free(v->v);
	memset(v, 0, sizeof(*v));
}

/* ---- the index ---- */

static bool pf_wide(const struct pf_forward *f)
{
	return f->conf.lport_hi != f->conf.lport_lo;
}

static void pf_id_set(uint64_t *bits, uint32_t id)
{
	bits[id / 64] |= 1ULL << (id % 64);
}

static void pf_id_clear(uint64_t *bits, uint32_t id)
{
	bits[id / 64] &= ~(1ULL << (id % 64));
}

static bool pf_id_has(const uint64_t *bits, uint32_t id)
{
	return bits[id / 64] & (1ULL << (id % 64));
}

static void pf_tindex_add(struct pf_tindex *x, struct pf_forward *f)
{
	pf_id_set(x->ids, f->id);
	if (f->conf.name[0])
		pf_index_add(&x->name, f->namehash, f);
	if (pf_wide(f))
		pf_fwdvec_push(&x->wide, f);
	else
		pf_index_add(&x->port, f->conf.lport_lo, f);
}

static void pf_tindex_del(struct pf_tindex *x, const struct pf_forward *f)
{
	pf_id_clear(x->ids, f->id);
	if (f->conf.name[0])
		pf_index_del(&x->name, f->namehash, f);
	if (pf_wide(f))
		pf_fwdvec_remove(&x->wide, f);
	else
		pf_index_del(&x->port, f->conf.lport_lo, f);
}

static void pf_tindex_free(struct pf_tindex *x)
{
	if (!x)
		return;
	pf_index_free(&x->name);
	pf_index_free(&x->port);
	pf_fwdvec_free(&x->wide);
	free(x);
}

void pf_table_index(struct pf_table *t)
{
	size_t i;

	if (t->idx || t->base)
		return;
	t->idx = pf_xcalloc(1, sizeof(*t->idx));
	for (i = 0; i < t->n; i++)
		pf_tindex_add(t->idx, t->fwd[i]);
}

/*
 * Ids for the forwards of next that have none (new keys): each wants the id
 * its key hashes to (pf_fwdid.c), and takes the first free one from there.
 * The new forwards take theirs in the order of their hashes, not of the file
 * or of the commands, so that two gateways given the same forwards in
 * another order (or among other forwards that want other ids) give the same
 * ids. Forwards kept from cur keep theirs; ids of forwards that leave are
 * free again at once, since the same key brings back the same id.
 */
void pf_table_give_ids(const struct pf_table *cur, struct pf_table *next)
{
	bool draft = next->base && next->base == cur && cur->idx;
	struct pf_forward **v = draft ? next->add.v : next->fwd;
	struct pf_fwdid_ent *fresh;
	size_t n = draft ? next->add.n : next->n, i, nnew = 0;
	uint64_t *used;

	for (i = 0; i < n; i++)
		nnew += !v[i]->id;
	if (!nnew)
		return;
	used = pf_xcalloc(PF_ID_WORDS, sizeof(uint64_t));
	/* A draft of the running table: its ids (without reading its 100,000
	 * forwards), less those of the forwards the change takes out. */
	if (draft) {
		memcpy(used, cur->idx->ids, sizeof(cur->idx->ids));
		for (i = 0; i < next->del.n; i++)
			pf_id_clear(used, next->del.v[i]->id);
	}
	fresh = pf_xcalloc(nnew, sizeof(*fresh));
	nnew = 0;
	for (i = 0; i < n; i++) {
		if (v[i]->id)
			pf_id_set(used, v[i]->id);
		else
			fresh[nnew++] = (struct pf_fwdid_ent){ .h = pf_fwdid_hash(v[i]), .f = v[i] };
	}
	qsort(fresh, nnew, sizeof(*fresh), pf_fwdid_cmp);
	for (i = 0; i < nnew; i++) {
		uint32_t k = 0, id;

		/* Fewer forwards than ids (PF_FWD_MAX): one is free. */
		do
			id = pf_fwdid_probe(fresh[i].h, k++);
		while (pf_id_has(used, id));
		pf_id_set(used, id);
		fresh[i].f->id = id;
	}
	free(fresh);
	free(used);
}

/* ---- membership ---- */

void pf_table_init(struct pf_table *t)
{
	memset(t, 0, sizeof(*t));
}

uint64_t pf_table_drain_ms(const struct pf_table *t)
{
	return t->drain_set ? t->drain_ms : PF_DRAIN_DEFAULT_MS;
}

/* What t holds besides its forwards. */
static void pf_table_free_own(struct pf_table *t)
{
	free(t->fwd);
	pf_cidrset_free(&t->def_allow);
	pf_cidrset_free(&t->def_deny);
	pf_marks_free(t);
	pf_fwdvec_free(&t->add);
	pf_fwdvec_free(&t->del);
	pf_tindex_free(t->idx);
	pf_table_init(t);
}

void pf_table_clear(struct pf_table *t)
{
	struct pf_forward **v = t->base ? t->add.v : t->fwd;
	size_t n = t->base ? t->add.n : t->n, i;

	for (i = 0; i < n; i++)
		pf_forward_unref(v[i]);
	pf_table_free_own(t);
}

/* f left t (the caller took it out of the array). */
static void pf_table_out(struct pf_table *t, struct pf_forward *f)
{
	if (t->base) {
		if (pf_fwdvec_remove(&t->add, f))
			pf_forward_unref(f);
		else
			pf_fwdvec_push(&t->del, f); /* base's: base holds it */
		return;
	}
	if (t->idx)
		pf_tindex_del(t->idx, f);
	pf_forward_unref(f);
}

/* f, with the caller's reference, came into t's array. */
static void pf_table_in(struct pf_table *t, struct pf_forward *f)
{
	if (!f->live) {
		f->namehash = pf_name_hash(f->conf.name);
		f->checked = f->conf.check.on;
	}
	if (t->base) {
		if (pf_fwdvec_remove(&t->del, f))
			pf_forward_unref(f); /* base's again: base holds it */
		else
			pf_fwdvec_push(&t->add, f);
		return;
	}
	if (t->idx)
		pf_tindex_add(t->idx, f);
}

void pf_table_add(struct pf_table *t, struct pf_forward *f)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct pf_forward **n = realloc(t->fwd, cap * sizeof(*n));

		if (!n)
			abort(); /* as pf_xcalloc */
		t->fwd = n;
		t->cap = cap;
	}
	t->fwd[t->n++] = f;
	pf_table_in(t, f);
}

void pf_table_remove_at(struct pf_table *t, size_t i)
{
	struct pf_forward *f = t->fwd[i];

	memmove(&t->fwd[i], &t->fwd[i + 1], (t->n - i - 1) * sizeof(t->fwd[0]));
	t->n--;
	pf_table_out(t, f);
}

void pf_table_replace_at(struct pf_table *t, size_t i, struct pf_forward *c)
{
	struct pf_forward *f = t->fwd[i];

	t->fwd[i] = c;
	pf_table_out(t, f);
	pf_table_in(t, c);
}

size_t pf_table_pos(const struct pf_table *t, const struct pf_forward *f)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->fwd[i] == f)
			return i;
	return SIZE_MAX;
}

void pf_table_copy(struct pf_table *dst, const struct pf_table *src)
{
	size_t i;

	pf_table_init(dst);
	dst->cap = src->n + 16;
	dst->fwd = pf_xarray(dst->cap, sizeof(*dst->fwd));
	for (i = 0; i < src->n; i++)
		dst->fwd[i] = pf_forward_ref(src->fwd[i]);
	dst->n = src->n;
	pf_cidrset_copy(&dst->def_allow, &src->def_allow);
	pf_cidrset_copy(&dst->def_deny, &src->def_deny);
	dst->def_log = src->def_log;
	dst->log_format = src->log_format;
	dst->drain_ms = src->drain_ms;
	dst->drain_set = src->drain_set;
	pf_marks_copy(dst, src);
	dst->user = src->user;
	dst->status = src->status;
}

void pf_table_draft(struct pf_table *dst, struct pf_table *base)
{
	assert(!base->base);
	pf_table_init(dst);
	dst->cap = base->n + 16;
	dst->fwd = pf_xarray(dst->cap, sizeof(*dst->fwd));
	if (base->n)
		memcpy(dst->fwd, base->fwd, base->n * sizeof(*dst->fwd));
	dst->n = base->n;
	pf_cidrset_copy(&dst->def_allow, &base->def_allow);
	pf_cidrset_copy(&dst->def_deny, &base->def_deny);
	dst->def_log = base->def_log;
	dst->log_format = base->log_format;
	dst->drain_ms = base->drain_ms;
	dst->drain_set = base->drain_set;
	pf_marks_copy(dst, base);
	dst->user = base->user;
	dst->status = base->status;
	dst->base = base;
}

void pf_table_install(struct pf_table *cur, struct pf_table *next)
{
	struct pf_tindex *idx = NULL;
	size_t i;

	assert(!next->base || next->base == cur);
	if (next->base) {
		/* What went loses the running table's reference; what came
		 * brings its own; the rest passes over as it is. */
		idx = cur->idx;
		cur->idx = NULL;
		for (i = 0; i < next->del.n; i++) {
			if (idx)
				pf_tindex_del(idx, next->del.v[i]);
			pf_forward_unref(next->del.v[i]);
		}
		for (i = 0; i < next->add.n; i++) {
			next->add.v[i]->live = true;
			if (idx)
				pf_tindex_add(idx, next->add.v[i]);
		}
		pf_table_free_own(cur);
		pf_fwdvec_free(&next->add);
		pf_fwdvec_free(&next->del);
	} else {
		pf_table_clear(cur);
		for (i = 0; i < next->n; i++)
			next->fwd[i]->live = true;
	}
	*cur = *next;
	cur->base = NULL;
	cur->idx = idx;
	pf_table_index(cur);
	pf_table_init(next);
}

/* ---- lookups ---- */

/* Which forwards a lookup wants: by name, by ports in common, then a test. */
struct pf_tquery {
	const char *name; /* NULL or "": not by name */
	uint32_t nh;
	bool ports;
	uint16_t lo, hi;
	bool (*keep)(const struct pf_forward *b, const struct pf_tquery *q);
	const void *arg;
};

/* Whether b was found by the name part of q (the port part skips it). */
static bool pf_tq_by_name(const struct pf_forward *b, const struct pf_tquery *q)
{
	return q->name && q->name[0] && b->namehash == q->nh && !strcmp(b->conf.name, q->name);
}

static bool pf_tq_match(const struct pf_forward *b, const struct pf_tquery *q)
{
	bool hit = pf_tq_by_name(b, q) ||
		   (q->ports && b->conf.lport_lo <= q->hi && q->lo <= b->conf.lport_hi);

	return hit && (!q->keep || q->keep(b, q));
}

/* More ports than this in a lookup: the table is walked instead. */
#define PF_TQ_PORTS_MAX 4096

/* Appends what q finds in t, each forward once: a base's and a draft's own
 * are apart, and so are the index's name, range and port parts once the
 * port part skips what the name part found (no search of out, which may
 * grow to the whole table). */
static void pf_tq_run(const struct pf_table *t, const struct pf_tquery *q, struct pf_fwdvec *out)
{
	struct pf_forward *b;
	size_t i, pos;
	uint32_t p;

	if (t->base) {
		struct pf_fwdvec in = { 0 };

		pf_tq_run(t->base, q, &in);
		for (i = 0; i < in.n; i++)
			if (!pf_fwdvec_has(&t->del, in.v[i]))
				pf_fwdvec_push(out, in.v[i]);
		pf_fwdvec_free(&in);
		for (i = 0; i < t->add.n; i++)
			if (pf_tq_match(t->add.v[i], q))
				pf_fwdvec_push(out, t->add.v[i]);
		return;
	}
	if (!t->idx || (q->ports && q->hi - q->lo > PF_TQ_PORTS_MAX)) {
		for (i = 0; i < t->n; i++)
			if (pf_tq_match(t->fwd[i], q))
				pf_fwdvec_push(out, t->fwd[i]);
		return;
	}
	if (q->name && q->name[0])
		for (pos = 0; (b = pf_index_next(&t->idx->name, q->nh, &pos));)
			if (pf_tq_match(b, q))
				pf_fwdvec_push(out, b);
	if (!q->ports)
		return;
	for (i = 0; i < t->idx->wide.n; i++)
		if (!pf_tq_by_name(t->idx->wide.v[i], q) && pf_tq_match(t->idx->wide.v[i], q))
			pf_fwdvec_push(out, t->idx->wide.v[i]);
	for (p = q->lo; p <= q->hi; p++)
		for (pos = 0; (b = pf_index_next(&t->idx->port, p, &pos));)
			if (!pf_tq_by_name(b, q) && pf_tq_match(b, q))
				pf_fwdvec_push(out, b);
}

void pf_table_order(const struct pf_table *t, struct pf_fwdvec *v)
{
	struct pf_index x = { 0 };
	size_t i, k = 0;

	if (v->n < 2)
		return;
	/* One walk over t's pointers, each looked up in an index of v's:
	 * no forward is read. */
	for (i = 0; i < v->n; i++)
		pf_index_add(&x, pf_index_ptr(v->v[i]), v->v[i]);
	for (i = 0; i < t->n && k < v->n; i++)
		if (pf_index_has(&x, pf_index_ptr(t->fwd[i]), t->fwd[i]))
			v->v[k++] = t->fwd[i];
	pf_index_free(&x);
}

/* The first forward a lookup finds, by table order where there are more
 * (a draft may hold two of a name until it is validated). */
static struct pf_forward *pf_tq_first(const struct pf_table *t, const struct pf_tquery *q)
{
	struct pf_fwdvec v = { 0 };
	struct pf_forward *f;

	pf_tq_run(t, q, &v);
	pf_table_order(t, &v);
	f = v.n ? v.v[0] : NULL;
	pf_fwdvec_free(&v);
	return f;
}

struct pf_forward *pf_table_find_name(const struct pf_table *t, const char *name)
{
	struct pf_tquery q = { .name = name, .nh = pf_name_hash(name) };

	return name[0] ? pf_tq_first(t, &q) : NULL;
}

static bool pf_tq_same_key(const struct pf_forward *b, const struct pf_tquery *q)
{
	return pf_forward_same_key(b, q->arg);
}

struct pf_forward *pf_table_find_key(const struct pf_table *t, const struct pf_forward *f)
{
	struct pf_tquery q = { .ports = true, .lo = f->conf.lport_lo, .hi = f->conf.lport_lo,
			       .keep = pf_tq_same_key, .arg = f };

	return pf_tq_first(t, &q);
}

static bool pf_tq_other(const struct pf_forward *b, const struct pf_tquery *q)
{
	return b != q->arg;
}

void pf_table_neighbours(const struct pf_table *t, const struct pf_forward *f,
			 struct pf_fwdvec *out)
{
	struct pf_tquery q = { .name = f->conf.name, .nh = f->namehash, .ports = true,
			       .lo = f->conf.lport_lo, .hi = f->conf.lport_hi,
			       .keep = pf_tq_other, .arg = f };

	pf_tq_run(t, &q, out);
}

static bool pf_tq_selected(const struct pf_forward *b, const struct pf_tquery *q)
{
	return pf_selector_match(q->arg, b);
}

void pf_table_select(const struct pf_table *t, const struct pf_selector *sel,
		     struct pf_fwdvec *out)
{
	struct pf_tquery q = { .keep = pf_tq_selected, .arg = sel };
	size_t i;

	if (sel->all) {
		for (i = 0; i < t->n; i++)
			pf_fwdvec_push(out, t->fwd[i]);
		return;
	}
	if (sel->name[0]) {
		q.name = sel->name;
		q.nh = pf_name_hash(sel->name);
	} else {
		q.ports = true;
		q.lo = q.hi = sel->listen.port_lo;
	}
	pf_tq_run(t, &q, out);
	/* In table order, as a walk would have found them. */
	pf_table_order(t, out);
}
