// SPDX-License-Identifier: GPL-2.0-or-later
#include "pf_index.h"
#include "pf_util.h"

#include <stdlib.h>

/* A tombstone's mark: the address of a static, never a forward's. */
static char pf_index_tomb;
#define PF_INDEX_GONE ((struct pf_forward *)(void *)&pf_index_tomb)

/* Names' FNV hashes and small port numbers both need their bits mixed
 * before they pick a slot (Murmur3's finaliser). */
static size_t pf_index_slot0(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

void pf_index_free(struct pf_index *x)
{
	free(x->s);
	x->s = NULL;
	x->mask = 0;
	x->used = 0;
}

static void pf_index_put(struct pf_index_slot *s, size_t mask, uint32_t h, struct pf_forward *f)
{
	size_t k = pf_index_slot0(h) & mask;

	while (s[k].f && s[k].f != PF_INDEX_GONE)
		k = (k + 1) & mask;
	s[k].h = h;
	s[k].f = f;
}

/* Makes room: at most three quarters of the slots used (tombstones count),
 * so that a probe stays short, half after a growth; tombstones go. */
static void pf_index_grow(struct pf_index *x)
{
	size_t live = 0, size, i;
	struct pf_index_slot *s;

	for (i = 0; x->s && i <= x->mask; i++)
		live += x->s[i].f && x->s[i].f != PF_INDEX_GONE;
	for (size = 16; size < 2 * (live + 1); size <<= 1)
		;
	s = pf_xcalloc(size, sizeof(*s));
	for (i = 0; x->s && i <= x->mask; i++)
		if (x->s[i].f && x->s[i].f != PF_INDEX_GONE)
			pf_index_put(s, size - 1, x->s[i].h, x->s[i].f);
	free(x->s);
	x->s = s;
	x->mask = size - 1;
	x->used = live;
}

void pf_index_add(struct pf_index *x, uint32_t h, struct pf_forward *f)
{
	if (!x->s || 4 * (x->used + 1) > 3 * (x->mask + 1))
		pf_index_grow(x);
	pf_index_put(x->s, x->mask, h, f);
	x->used++;
}

void pf_index_del(struct pf_index *x, uint32_t h, const struct pf_forward *f)
{
	size_t k;

	if (!x->s)
		return;
	for (k = pf_index_slot0(h) & x->mask; x->s[k].f; k = (k + 1) & x->mask) {
		if (x->s[k].f == f && x->s[k].h == h) {
			x->s[k].f = PF_INDEX_GONE;
			return;
		}
	}
}

struct pf_forward *pf_index_next(const struct pf_index *x, uint32_t h, size_t *pos)
{
	size_t k;

	if (!x->s)
		return NULL;
	/* pos: how many slots of h's probe were looked at already. */
	for (k = (pf_index_slot0(h) + *pos) & x->mask; x->s[k].f; k = (k + 1) & x->mask) {
		(*pos)++;
		if (x->s[k].h == h && x->s[k].f != PF_INDEX_GONE)
			return x->s[k].f;
		if (*pos > x->mask)
			break;
	}
	return NULL;
}

bool pf_index_has(const struct pf_index *x, uint32_t h, const struct pf_forward *f)
{
	const struct pf_forward *g;
	size_t pos = 0;

	while ((g = pf_index_next(x, h, &pos)))
		if (g == f)
			return true;
	return false;
}
