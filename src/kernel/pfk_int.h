/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel engine internals. */
#ifndef PFK_INT_H
#define PFK_INT_H

#include "pfk.h"
#include "../common/pf_conf.h"

/* ct mark bits: the connection was DNATed by one of our forwards (whose id is
 * in the low bits), and it came in on a non-WAN interface (hairpin). */
#define PFK_MARK_OURS 0x40000000u
#define PFK_MARK_INSIDE 0x20000000u
#define PFK_MARK_ID 0x000fffffu

char *pfk_render_table(const struct pf_table *t, const char *const *wan, size_t nwan);

/* pfk_ct.c */
/* Deletes conntrack entries marked with one of these forward ids. */
/* UDP entries only (flows follow a changed forward), or every one (kill). */
unsigned pfk_ct_flush_ids(const uint32_t *ids, size_t n);
unsigned pfk_ct_kill_ids(const uint32_t *ids, size_t n);
/* UDP entries to the ports of newly added forwards that are not ours. */
unsigned pfk_ct_flush_stale(const struct pf_forward *const *f, size_t n);
void pfk_ct_list(json_t *arr, const struct pf_table *t);

#endif
