// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Marks: 'mark N [PROTO LISTEN] [from CIDR,...]' lines of the table. They
 * stand in for the ipchains '-m N' rules that fed 'ipmasqadm mfw': a mark
 * says which traffic the forward mfw-N serves. The table keeps them (save
 * shows them, flush clears them) so that the classic front end can build
 * mfw-N from them and a changed mark can move its forward along.
 */
#include "pf_table.h"
#include "pf_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct pf_mark *pf_table_find_mark(const struct pf_table *t, uint32_t id)
{
	size_t i;

	for (i = 0; i < t->nmarks; i++)
		if (t->marks[i].id == id)
			return &t->marks[i];
	return NULL;
}

void pf_table_set_mark(struct pf_table *t, struct pf_mark *m)
{
	struct pf_mark *nv;
	size_t i;

	for (i = 0; i < t->nmarks; i++) {
		if (t->marks[i].id == m->id) {
			pf_cidrset_free(&t->marks[i].from);
			t->marks[i] = *m;
			m->from.v = NULL;
			m->from.n = 0;
			return;
		}
	}
	nv = realloc(t->marks, (t->nmarks + 1) * sizeof(*nv));
	if (!nv) {
		fprintf(stderr, "portfw: out of memory\n");
		abort();
	}
	t->marks = nv;
	/* Kept sorted by id: 'save' prints them in a stable order. */
	for (i = t->nmarks; i > 0 && t->marks[i - 1].id > m->id; i--)
		t->marks[i] = t->marks[i - 1];
	t->marks[i] = *m;
	t->nmarks++;
	m->from.v = NULL;
	m->from.n = 0;
}

bool pf_table_del_mark(struct pf_table *t, uint32_t id)
{
	size_t i;

	for (i = 0; i < t->nmarks; i++) {
		if (t->marks[i].id == id) {
			pf_cidrset_free(&t->marks[i].from);
			memmove(&t->marks[i], &t->marks[i + 1],
				(t->nmarks - i - 1) * sizeof(t->marks[0]));
			t->nmarks--;
			return true;
		}
	}
	return false;
}

void pf_mark_format(const struct pf_mark *m, char *buf, size_t len)
{
	size_t off;

	snprintf(buf, len, "mark %u", m->id);
	off = strlen(buf);
	if (m->protos && off < len) {
		const char *l = m->lbracketed ? "[" : "", *r = m->lbracketed ? "]" : "";

		if (m->lport_lo == m->lport_hi)
			snprintf(buf + off, len - off, " %s %s%s%s:%u", pf_proto_name(m->protos), l,
				 m->lhost, r, m->lport_lo);
		else
			snprintf(buf + off, len - off, " %s %s%s%s:%u-%u", pf_proto_name(m->protos),
				 l, m->lhost, r, m->lport_lo, m->lport_hi);
		off = strlen(buf);
	}
	if (m->from.n && off + 6 < len) {
		snprintf(buf + off, len - off, " from ");
		pf_cidrset_format(&m->from, buf + off + 6, len - off - 6);
	}
}

void pf_marks_copy(struct pf_table *dst, const struct pf_table *src)
{
	size_t i;

	dst->marks = NULL;
	dst->nmarks = src->nmarks;
	if (!src->nmarks)
		return;
	dst->marks = pf_xcalloc(src->nmarks, sizeof(*dst->marks));
	for (i = 0; i < src->nmarks; i++) {
		dst->marks[i] = src->marks[i];
		pf_cidrset_copy(&dst->marks[i].from, &src->marks[i].from);
	}
}

void pf_marks_free(struct pf_table *t)
{
	size_t i;

	for (i = 0; i < t->nmarks; i++)
		pf_cidrset_free(&t->marks[i].from);
	free(t->marks);
	t->marks = NULL;
	t->nmarks = 0;
}

struct pf_forward *pf_mark_apply(const struct pf_mark *m, const struct pf_forward *f)
{
	uint32_t size = m->lport_hi - m->lport_lo + 1u, i;
	struct pf_forward *c;

	/* A whole-host mark (no port) goes with a whole-host forward ('all'),
	 * whose listen address stays; a port forward cannot turn into one. */
	if (!m->protos != (f->conf.protos == PF_PROTO_ALL))
		return NULL;
	if (!m->protos) {
		c = pf_forward_clone(f);
		pf_cidrset_free(&c->conf.from);
		pf_cidrset_copy(&c->conf.from, &m->from);
		return c;
	}
	for (i = 0; i < f->nbe; i++)
		if (f->be[i].conf.port_lo != f->be[i].conf.port_hi &&
		    f->be[i].conf.port_hi - f->be[i].conf.port_lo + 1u != size)
			return NULL;
	c = pf_forward_clone(f);
	c->conf.protos = m->protos;
	pf_xstrset(&c->conf.lhost, m->lhost);
	/* The listen address is resolved again (a clone keeps the old one:
	 * it would be taken for the new host's, and validation misled). */
	memset(&c->laddr, 0, sizeof(c->laddr));
	c->conf.lbracketed = m->lbracketed;
	c->conf.lport_lo = m->lport_lo;
	c->conf.lport_hi = m->lport_hi;
	pf_cidrset_free(&c->conf.from);
	pf_cidrset_copy(&c->conf.from, &m->from);
	return c;
}
