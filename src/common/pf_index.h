/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Forwards by a 32-bit hash (a name's, a port): what a change looks up in
 * the running table, so that it costs what it changes and not what the
 * table holds. A multimap: several forwards may share a hash (and a port),
 * each lookup returns every one of them, the caller compares. Open
 * addressing with linear probing; a deleted entry leaves a tombstone until
 * the next growth.
 */
#ifndef PF_INDEX_H
#define PF_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pf_forward;

struct pf_index_slot {
	uint32_t h;
	struct pf_forward *f; /* NULL: empty; pf_index_gone: deleted */
};

struct pf_index {
	struct pf_index_slot *s;
	size_t mask; /* slots - 1; no slots while empty */
	size_t used; /* entries and tombstones */
};

void pf_index_free(struct pf_index *x);
void pf_index_add(struct pf_index *x, uint32_t h, struct pf_forward *f);
/* Deletes the entry of f under h (nothing if there is none). */
void pf_index_del(struct pf_index *x, uint32_t h, const struct pf_forward *f);
/* The entries under h, one per call: *pos starts at 0; NULL at the end. */
struct pf_forward *pf_index_next(const struct pf_index *x, uint32_t h, size_t *pos);
/* Whether f is there under h. */
bool pf_index_has(const struct pf_index *x, uint32_t h, const struct pf_forward *f);
/* The hash of a forward by its address: the index as a set of forwards. */
static inline uint32_t pf_index_ptr(const struct pf_forward *f)
{
	uintptr_t u = (uintptr_t)f;

	return (uint32_t)(u ^ (u >> 16 >> 16));
}

#endif
