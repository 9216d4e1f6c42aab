// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A hashed timer wheel per worker, 100 ms ticks, for TCP flows and UDP
 * sessions. Activity on a flow only stores a timestamp; when its slot comes
 * round the real deadline is computed and the flow either times out or
 * moves to a later slot. So the data path never touches the wheel, and each
 * flow costs O(1) per revolution.
 */
#include "pfu_int.h"

void pfu_timer_del(struct pfu_worker *w, struct pfu_tnode *t)
{
	if (!t->tpprev)
		return;
	*t->tpprev = t->tnext;
	if (t->tnext)
		t->tnext->tpprev = t->tpprev;
	t->tnext = NULL;
	t->tpprev = NULL;
	w->ntimers--;
}

void pfu_timer_set(struct pfu_worker *w, struct pfu_tnode *t, uint64_t deadline)
{
	uint64_t tick = (deadline + PFU_TICK_MS - 1) / PFU_TICK_MS;
	struct pfu_tnode **slot;

	pfu_timer_del(w, t);
	if (!w->ntimers && !w->tick)
		w->tick = w->now / PFU_TICK_MS;
	if (tick < w->tick)
		tick = w->tick;
	slot = &w->wheel[tick % PFU_WHEEL_SLOTS];
	t->tnext = *slot;
	if (*slot)
		(*slot)->tpprev = &t->tnext;
	t->tpprev = slot;
	*slot = t;
	w->ntimers++;
}

static uint64_t pfu_deadline(struct pfu_tnode *t)
{
	if (t->kind == PFU_T_TCP)
		return pfu_tcp_deadline(pfu_container_of(t, struct pfu_flow, t));
	return pfu_udp_deadline(pfu_container_of(t, struct pfu_usess, t));
}

static void pfu_expire(struct pfu_worker *w, struct pfu_tnode *t)
{
	if (t->kind == PFU_T_TCP)
		pfu_tcp_timeout(w, pfu_container_of(t, struct pfu_flow, t));
	else
		pfu_udp_timeout(w, pfu_container_of(t, struct pfu_usess, t));
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
		struct pfu_tnode **slot = &w->wheel[w->tick % PFU_WHEEL_SLOTS];
		struct pfu_tnode *t = *slot, *next;

		/* Detach the whole slot first: re-armed entries may land in it again. */
		*slot = NULL;
		for (next = t; next; next = next->tnext)
			w->ntimers--;
		w->tick++;
		for (; t; t = next) {
			uint64_t dl;

			next = t->tnext;
			t->tnext = NULL;
			t->tpprev = NULL;
			if (next)
				next->tpprev = NULL;
			dl = pfu_deadline(t);
			if (dl <= w->now)
				pfu_expire(w, t);
			else
				pfu_timer_set(w, t, dl);
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
