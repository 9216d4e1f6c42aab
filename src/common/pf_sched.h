/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Backend choice: which backend of a forward a new flow goes to. */
#ifndef PF_SCHED_H
#define PF_SCHED_H

#include "pf_table.h"

#include <stdint.h>

/* A set of backend indexes already tried by one flow (retries skip them). */
struct pf_tried {
	uint64_t bits[PF_BACKENDS_MAX / 64];
};

static inline void pf_tried_set(struct pf_tried *t, uint32_t i)
{
	t->bits[i / 64] |= 1ULL << (i % 64);
}

static inline int pf_tried_has(const struct pf_tried *t, uint32_t i)
{
	return !!(t->bits[i / 64] & (1ULL << (i % 64)));
}

/*
 * Picks a backend for a new flow (first attempt) or for a retry after a failed
 * connect: smooth weighted round robin over the backends not tried yet, so a
 * forward with weights 5,1,1 sends a a b a c a a (not a a a a a b c) and
 * retries go to the next best backend. Weight 0 backends are picked only when
 * every weighted one was tried. Returns the index or -1 when none is left.
 */
int pf_sched_pick(struct pf_forward *f, const struct pf_tried *tried);

#endif
