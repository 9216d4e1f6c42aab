/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Forward ids from what a forward is: the kernel engine keys its chains and
 * the conntrack marks of its flows by them, and conntrackd carries those
 * marks to the other gateway of an HA pair, which must read them the same
 * whatever order its table was loaded in and whatever else it holds.
 */
#ifndef PF_FWDID_H
#define PF_FWDID_H

#include "pf_table.h"

#include <stdint.h>

/* A hash of f's key (what pf_forward_same_key compares: protocols, listen
 * address and ports as written, interface, sources, trigger), the same on
 * every machine and version. */
uint64_t pf_fwdid_hash(const struct pf_forward *f);

/* The k-th id a forward of hash h may take (k = 0: the one it wants, the
 * next ones when a forward of another key holds it): 1..PF_ID_MAX. */
uint32_t pf_fwdid_probe(uint64_t h, uint32_t k);

/* New forwards take ids in the order of their hashes, then of their keys
 * (the result must not depend on the order of a file): qsort's comparison
 * of an array of these, each hash computed once. */
struct pf_fwdid_ent {
	uint64_t h;
	struct pf_forward *f;
};
int pf_fwdid_cmp(const void *a, const void *b);

#endif
