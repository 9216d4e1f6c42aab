// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A hashed timer wheel per worker, 100 ms ticks. Activity on a flow only
 * stores a timestamp; when its slot comes round the flow's real deadline is
 * computed and it either times out or moves to a later slot. So the data
 * path never touches the wheel, and each flow costs O(1) per revolution.
 */
#include "pfu_int.h"

void pfu_timer_del(struct pfu_worker *w, struct pfu_flow *f)
{
	if (!f->tpprev)
		return;
	*f->tpprev = f->tnext;
	if (f->tnext)
		f->tnext->tpprev = f->tpprev;
	f->tnext = NULL;
	f->tpprev = NULL;
	w->ntimers--;
}

void pfu_timer_set(struct pfu_worker *w, struct pfu_flow *f, uint64_t deadline)
{
	uint64_t t = (deadline + PFU_TICK_MS - 1) / PFU_TICK_MS;
	struct pfu_flow **slot;

	pfu_timer_del(w, f);
	if (!w->ntimers && !w->tick)
		w->tick = w->now / PFU_TICK_MS;
	if (t < w->tick)
		t = w->tick;
	slot = &w->wheel[t % PFU_WHEEL_SLOTS];
	f->tnext = *slot;
	if (*slot)
		(*slot)->tpprev = &f->tnext;
	f->tpprev = slot;
	*slot = f;
	w->ntimers++;
}

void pfu_timer_run(struct pfu_worker *w)
{
	uint64_t now_tick = w->now / PFU_TICK_MS;
	unsigned steps = 0;

	if (!w->ntimers) {
		w->tick = now_tick;
		return;
	}
	while (w->tick <= now_tick && steps++ < PFU_WHEEL_SLOTS) {
		struct pfu_flow **slot = &w->wheel[w->tick % PFU_WHEEL_SLOTS];
		struct pfu_flow *f = *slot, *next;

		/* Detach the whole slot first: re-armed flows may land in it again. */
		*slot = NULL;
		for (next = f; next; next = next->tnext)
			w->ntimers--;
		w->tick++;
		for (; f; f = next) {
			uint64_t dl;

			next = f->tnext;
			f->tnext = NULL;
			f->tpprev = NULL;
			if (next)
				next->tpprev = NULL;
			dl = pfu_tcp_deadline(f);
			if (dl <= w->now)
				pfu_tcp_timeout(w, f);
			else
				pfu_timer_set(w, f, dl);
		}
	}
	if (w->tick <= now_tick)
		w->tick = now_tick + 1; /* slept through a whole revolution */
}

int pfu_timer_wait_ms(struct pfu_worker *w)
{
	uint64_t next_ms;

	if (!w->ntimers)
		return -1;
	next_ms = w->tick * PFU_TICK_MS;
	return next_ms <= w->now ? 0 : (int)(next_ms - w->now);
}
