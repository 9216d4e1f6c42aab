/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Digests of a table, to tell whether two gateways hold the same one (an HA
 * pair, a fleet): 'portfw list -j' shows them, 'portfw ha-check' compares.
 */
#ifndef PF_DIGEST_H
#define PF_DIGEST_H

#include "pf_table.h"

#include <stdint.h>

/* A forward as 'portfw save' writes it and as the table's defaults apply
 * it (its ACL, its flow log); not its id. */
uint64_t pf_forward_digest(const struct pf_forward *f);

/* The table: its forwards' digests with their ids, in any order (two
 * gateways may have loaded them in other orders). pf_table_digest_add
 * folds in one forward (from 0; the result through pf_hash_mix), for
 * 'portfw ha-check', which has them from 'portfw list -j'. */
uint64_t pf_table_digest(const struct pf_table *t);
uint64_t pf_table_digest_add(uint64_t sum, uint64_t fwd_digest, uint32_t id);

#endif
