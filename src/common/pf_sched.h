/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Backend choice: which backend of a forward a new flow goes to. */
#ifndef PF_SCHED_H
#define PF_SCHED_H

#include "pf_table.h"

#include <stdbool.h>
#include <stdint.h>

/* The seed of nft's 'jhash ... seed' in the kernel engine's source and
 * maglev maps, and of the user engine's same choice. */
#define PF_JHASH_SEED 0x5eed
#define PF_MAGLEV_NONE 0xffff /* a slot of a maglev table no backend has */

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
 * connect, by the forward's scheduler, among the backends that may take new
 * flows: enabled (not drain, not disabled), up (health and agent checks), not
 * held by the passive check, and not tried yet; backups only while no primary
 * is usable. Backends held after a failed connect are used only when nothing
 * else is left. client (may be NULL) feeds the source and maglev hashes.
 * Returns the backend index, or -1 when none may take the flow.
 */
int pf_sched_pick(struct pf_forward *f, const struct pf_tried *tried, const union pf_sa *client);

/* 'portfw schedule': forces the next rotation (pref: the head moves to the end,
 * as 'ipmasqadm mfw -S' did; rr: the next backend). -1 for other schedulers. */
int pf_sched_rotate(struct pf_forward *f);

/* pref: the backends' indexes in rotation order (the list's head first), into
 * order[f->nbe]. */
void pf_sched_pref_order(struct pf_forward *f, uint32_t *order);

/* pref: the position of backend i in the rotation and its counter (pcnt). */
void pf_sched_pref_info(struct pf_forward *f, uint32_t i, uint32_t *pos, uint32_t *pcnt);

/* Frees the pool's scheduler state (with the forward). */
void pf_sched_free(struct pf_forward *f);
/* The tiers of a pool, in the order they get new flows. */
enum pf_tier {
	PF_TIER_PRIMARY,
	PF_TIER_BACKUP, /* 'backup': only while no primary qualifies */
	PF_TIER_SPARE, /* weight 0 (not under pref), backup or not: the last resort */
};

/*
 * The one rule of which backends of f may take new flows, for both engines.
 * A backend qualifies when it is enabled (not drain, not disabled), up (its
 * health check, and its agent says neither drain nor down), of the tier
 * asked for, and has a weight to schedule with: its weight scaled by the
 * agent (an agent at 0 % takes no new flows), or 1 for a spare and for a
 * pref 0 backend under 'balance pref' (a place in the rotation, not a share).
 *
 * What differs between the engines is what they can see, hence parameters:
 * tried: the backends this flow tried already (the user engine's retries
 * after a failed connect; NULL: none). held: whether backends that the
 * passive check holds back (a failed connect, for 2 s) qualify; the user
 * engine takes them only after every other one (its passes: primaries,
 * backups, held primaries, held backups, then the first spare), the kernel
 * engine always (true), as it renders a pool when health changes, sees no
 * connect fail and could not end a 2 s hold per packet. Spares are the user
 * engine's alone: the kernel's maps give weight 0 no slot.
 *
 * w[i] (for every backend): the weight backend i schedules with, 0 when it
 * does not qualify. Returns how many qualify.
 */
uint32_t pf_sched_usable(const struct pf_forward *f, enum pf_tier tier, bool held, uint64_t now,
			 const struct pf_tried *tried, uint32_t *w);

/* The weight a backend schedules with: its weight scaled by the agent check. */
uint32_t pf_sched_eff_weight(const struct pf_backend *be);

/* The slot of a client (its address, not its port) among n: what the
 * kernel's 'jhash ip saddr mod n seed PF_JHASH_SEED' (ip6 saddr for IPv6)
 * gives, so that both engines, and every gateway, place a client alike.
 * A v4-mapped address is its IPv4 one. */
uint32_t pf_sched_client_slot(const union pf_sa *sa, uint32_t n);

/* maglev, for both engines: the table's size for f's pool (a prime, over
 * 100 slots a backend), and the backend of each of its m slots: f's
 * backends of the tier (of the address family fam; 0: any) fill it by
 * their weights, and the slots of those that may not take new flows now
 * (up[i] == 0) go to the others as a table of these alone has them. */
uint32_t pf_maglev_size(const struct pf_forward *f);
void pf_maglev_table(const struct pf_forward *f, enum pf_tier tier, int fam, const uint32_t *up,
		     uint16_t *t, uint32_t m);

#endif
