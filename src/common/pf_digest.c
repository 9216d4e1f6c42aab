// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Table digests from the saved form: what 'portfw save' writes is what an
 * operator copies from one gateway to the other, so two tables that save
 * the same forwards (in any order), apply the same defaults to them and
 * give them the same ids have one digest. Each machine's own lines (user,
 * status) and those that do not change what is forwarded (log-format,
 * drain-timeout) are not in it.
 */
#include "pf_digest.h"
#include "pf_hash.h"
#include "pf_util.h"

#include <stdlib.h>
#include <string.h>

#define PF_DIGEST_LINE 65536

uint64_t pf_forward_digest(const struct pf_forward *f)
{
	char *line = pf_xcalloc(1, PF_DIGEST_LINE);
	uint64_t h;

	/* The line, and what the table's defaults make of it: the ACL it
	 * applies ('default allow|deny' where it has none) and its flow log. */
	pf_forward_format(f, line, PF_DIGEST_LINE);
	h = pf_hash_fnv(line, strlen(line) + 1, PF_FNV_SEED);
	pf_cidrset_format(&f->eff_allow, line, PF_DIGEST_LINE);
	h = pf_hash_fnv(line, strlen(line) + 1, h);
	pf_cidrset_format(&f->eff_deny, line, PF_DIGEST_LINE);
	h = pf_hash_fnv(line, strlen(line) + 1, h);
	h = pf_hash_fnv(f->logged ? "l" : "-", 1, h);
	free(line);
	return pf_hash_mix(h);
}

uint64_t pf_table_digest_add(uint64_t sum, uint64_t fwd_digest, uint32_t id)
{
	return sum + pf_hash_mix(fwd_digest ^ ((uint64_t)id << 32 | id));
}

uint64_t pf_table_digest(const struct pf_table *t)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < t->n; i++)
		sum = pf_table_digest_add(sum, pf_forward_digest(t->fwd[i]), t->fwd[i]->id);
	return pf_hash_mix(sum);
}
