// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's side of the engine seam (pf_engine.h): the engines in the
 * order a change goes through them, and what the daemon does with all of
 * them at once. No other daemon code names an engine.
 */
#include "pfd.h"
#include "../common/pf_engine.h"
#include "../common/pf_log.h"
#include "../common/pf_util.h"
#include "../kernel/pfk.h"
#include "../user/pfu.h"

/* The kernel's first: its commit (one nftables transaction) is the only one
 * that may fail, so it is prepared last and committed first, and the user
 * engine's change (which cannot fail) follows it. */
const struct pf_engine_ops *const pf_engines[] = { &pfk_engine_ops, &pfu_engine_ops };
const size_t pf_nengines = PF_ARRAY_SIZE(pf_engines);

const struct pf_engine_ops *pfd_engine_of(const struct pf_forward *f)
{
	uint8_t e = pf_forward_engine(f);
	size_t i;

	for (i = 0; i < pf_nengines; i++)
		if (pf_engines[i]->engine == e)
			return pf_engines[i];
	return pf_engines[pf_nengines - 1];
}

int pfd_engines_start(uint8_t engine, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < pf_nengines; i++)
		if (pf_engines[i]->engine == engine && pf_engines[i]->start(err, errlen))
			return -1;
	return 0;
}

void pfd_engines_stop(void)
{
	size_t i;

	/* The user engine first: its workers read the forwards. */
	for (i = pf_nengines; i-- > 0;)
		pf_engines[i]->stop();
}

int pfd_engines_change(const struct pf_table *next, char *err, size_t errlen)
{
	size_t i, k;

	for (i = pf_nengines; i-- > 0;) {
		if (pf_engines[i]->prepare(next, err, errlen)) {
			for (k = i + 1; k < pf_nengines; k++)
				pf_engines[k]->abort();
			return -1;
		}
	}
	for (i = 0; i < pf_nengines; i++) {
		if (pf_engines[i]->commit(err, errlen)) {
			/* Only the first may fail (see pf_engines): nothing is
			 * committed yet, the others are only prepared. */
			for (k = i; k < pf_nengines; k++)
				pf_engines[k]->abort();
			return -1;
		}
	}
	return 0;
}

void pfd_engines_refresh(const struct pf_table *cur)
{
	size_t i;

	for (i = 0; i < pf_nengines; i++)
		if (pf_engines[i]->refresh)
			pf_engines[i]->refresh(cur);
}

void pfd_engines_flows(const struct pf_table *cur, pf_flow_cb cb, void *arg)
{
	size_t i;

	/* The user engine's first, as 'portfw conns' always listed them. */
	for (i = pf_nengines; i-- > 0;)
		pf_engines[i]->flows(cur, cb, arg);
}

unsigned pfd_engines_drain(void)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < pf_nengines; i++)
		if (pf_engines[i]->drain)
			n += pf_engines[i]->drain();
	return n;
}

unsigned pfd_engines_kill(const struct pf_selector *sel, const struct pf_table *cur)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < pf_nengines; i++)
		n += pf_engines[i]->kill(sel, cur);
	return n;
}

void pfd_engines_sockets(pf_handover_cb cb, void *arg)
{
	size_t i;

	for (i = 0; i < pf_nengines; i++)
		if (pf_engines[i]->sockets)
			pf_engines[i]->sockets(cb, arg);
}

void pfd_engines_fork_guard(bool on)
{
	size_t i;

	for (i = 0; i < pf_nengines; i++)
		if (pf_engines[i]->fork_guard)
			pf_engines[i]->fork_guard(on);
}

void pfd_engines_detach(void)
{
	size_t i;

	/* In stop's order; an engine with nothing to leave behind stops. */
	for (i = pf_nengines; i-- > 0;) {
		if (pf_engines[i]->detach)
			pf_engines[i]->detach();
		else
			pf_engines[i]->stop();
	}
}

void pfd_engines_sample(void)
{
	size_t i;

	for (i = 0; i < pf_nengines; i++)
		if (pf_engines[i]->sample)
			pf_engines[i]->sample();
}

bool pfd_counts_totals(const struct pf_forward *f)
{
	const struct pf_engine_ops *e = pfd_engine_of(f);

	return !e->counts_totals || e->counts_totals();
}
