// SPDX-License-Identifier: GPL-2.0-or-later
#include "pf_sched.h"
#include "pf_util.h"

/*
 * Smooth weighted round robin (the algorithm nginx uses for upstreams): every
 * pick adds each candidate's weight to its current value, takes the largest,
 * and subtracts the total from the winner. Over any window of sum(weights)
 * picks each backend is chosen exactly weight times, evenly interleaved.
 */
static int pf_swrr(struct pf_forward *f, const struct pf_tried *tried, bool skip_down,
		   uint64_t now)
{
	int64_t total = 0;
	int best = -1;
	uint32_t i;

	for (i = 0; i < f->nbe; i++) {
		struct pf_backend *be = &f->be[i];

		if (pf_tried_has(tried, i) || !be->weight)
			continue;
		if (skip_down &&
		    atomic_load_explicit(&be->down_until_ms, memory_order_relaxed) > now)
			continue;
		be->sched_cur += be->weight;
		total += be->weight;
		if (best < 0 || be->sched_cur > f->be[best].sched_cur)
			best = (int)i;
	}
	if (best >= 0)
		f->be[best].sched_cur -= total;
	return best;
}

int pf_sched_pick(struct pf_forward *f, const struct pf_tried *tried)
{
	uint64_t now = pf_now_ms();
	int best;
	uint32_t i;

	pthread_mutex_lock(&f->sched_lock);
	/* Backends that just failed (passive check) are skipped, unless they are
	 * all that is left: then trying one beats dropping the client. */
	best = pf_swrr(f, tried, true, now);
	if (best < 0)
		best = pf_swrr(f, tried, false, now);
	/* Only spares (weight 0) are left: take them in order. */
	for (i = 0; i < f->nbe && best < 0; i++)
		if (!pf_tried_has(tried, i))
			best = (int)i;
	pthread_mutex_unlock(&f->sched_lock);
	return best;
}
