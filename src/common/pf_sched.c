// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The schedulers. All run under the pool's lock (a pick is a few
 * hundred nanoseconds; workers contend only on the same forward), over the
 * set of candidate backends that pf_sched_pick computes first.
 */
#include "pf_sched.h"
#include "pf_hash.h"
#include "pf_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A pool's scheduler state: made on the first pick of a forward with more
 * than one backend (a forward with one needs none, and a table of simple
 * forwards is most of them), freed with the forward. */
struct pf_sched_state {
	pthread_mutex_t lock;
	uint32_t rr_next; /* rr, leastconn: where the next search starts */
	uint32_t *pref_order, *pcnt; /* pref: rotation order, counters */
	uint16_t *maglev; /* maglev: lookup table of maglev_m slots */
	uint32_t maglev_m;
	uint64_t maglev_set[PF_BACKENDS_MAX / 64]; /* the usable backends it was built for */
	uint64_t maglev_wsig; /* the weights it was built with */
	enum pf_tier maglev_tier;
};

/* Workers pick concurrently: the first to need the state publishes it, a
 * loser of the race frees its copy. */
static struct pf_sched_state *pf_sched_state(struct pf_forward *f)
{
	struct pf_sched_state *s = atomic_load_explicit(&f->sched, memory_order_acquire), *exp = NULL;

	if (s)
		return s;
	s = pf_xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	if (atomic_compare_exchange_strong_explicit(&f->sched, &exp, s, memory_order_acq_rel,
						    memory_order_acquire))
		return s;
	pthread_mutex_destroy(&s->lock);
	free(s);
	return exp;
}

void pf_sched_free(struct pf_forward *f)
{
	struct pf_sched_state *s = atomic_load_explicit(&f->sched, memory_order_acquire);

	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s->pref_order);
	free(s->pcnt);
	free(s->maglev);
	free(s);
	atomic_store_explicit(&f->sched, NULL, memory_order_relaxed);
}

struct pf_cands {
	uint64_t bits[PF_BACKENDS_MAX / 64];
	uint32_t n;
};

static bool pf_cand_has(const struct pf_cands *c, uint32_t i)
{
	return c->bits[i / 64] & (1ULL << (i % 64));
}

uint32_t pf_sched_eff_weight(const struct pf_backend *be)
{
	uint32_t pct = be->st ? atomic_load_explicit(&be->st->agent_pct, memory_order_relaxed) : 100;
	uint64_t w = (uint64_t)be->conf.weight * pct / 100;

	if (!w && be->conf.weight && pct)
		w = 1;
	return (uint32_t)w;
}

uint32_t pf_sched_usable(const struct pf_forward *f, enum pf_tier tier, bool held, uint64_t now,
			 const struct pf_tried *tried, uint32_t *w)
{
	bool pref = f->conf.balance == PF_BAL_PREF;
	uint32_t i, n = 0;

	for (i = 0; i < f->nbe; i++) {
		const struct pf_backend *be = &f->be[i];
		const struct pf_stats *st = be->st;

		w[i] = 0;
		if ((tried && pf_tried_has(tried, i)) || be->conf.admin != PF_ADMIN_ENABLED)
			continue;
		if (st && (atomic_load_explicit(&st->health, memory_order_relaxed) != PF_HEALTH_UP ||
			   atomic_load_explicit(&st->agent, memory_order_relaxed) >= PF_AGENT_DRAIN))
			continue;
		if (tier == PF_TIER_SPARE) {
			/* The last resort: whatever the hold and the backup flag. */
			w[i] = !pref && !be->conf.weight;
		} else if ((tier == PF_TIER_BACKUP) == be->conf.backup &&
			   (held || !st ||
			    atomic_load_explicit(&st->down_until_ms, memory_order_relaxed) <= now)) {
			w[i] = pref && !be->conf.weight ? 1 : pf_sched_eff_weight(be);
		}
		n += !!w[i];
	}
	return n;
}

/* pf_sched_usable as a set of backend indexes. */
static void pf_cands_get(const struct pf_forward *f, const struct pf_tried *tried,
			 enum pf_tier tier, bool held, uint64_t now, struct pf_cands *c)
{
	uint32_t w[PF_BACKENDS_MAX], i;

	memset(c, 0, sizeof(*c));
	c->n = pf_sched_usable(f, tier, held, now, tried, w);
	for (i = 0; i < f->nbe && c->n; i++)
		if (w[i])
			c->bits[i / 64] |= 1ULL << (i % 64);
}

/*
 * Smooth weighted round robin (nginx's upstream algorithm): every pick adds
 * each candidate's weight to its current value, takes the largest and
 * subtracts the total from it. Over sum(weights) picks each backend is chosen
 * exactly weight times, evenly interleaved (5,1,1: a a b a c a a).
 */
static int pf_wrr(struct pf_forward *f, const struct pf_cands *c)
{
	int64_t total = 0;
	int best = -1;
	uint32_t i;

	for (i = 0; i < f->nbe; i++) {
		struct pf_backend *be = &f->be[i];
		uint32_t w;

		if (!pf_cand_has(c, i))
			continue;
		w = pf_sched_eff_weight(be);
		be->sched_cur += w;
		total += w;
		if (best < 0 || be->sched_cur > f->be[best].sched_cur)
			best = (int)i;
	}
	if (best >= 0)
		f->be[best].sched_cur -= total;
	return best;
}

static int pf_rr(struct pf_forward *f, struct pf_sched_state *S, const struct pf_cands *c)
{
	uint32_t k;

	for (k = 0; k < f->nbe; k++) {
		uint32_t i = (S->rr_next + k) % f->nbe;

		if (pf_cand_has(c, i)) {
			S->rr_next = i + 1;
			return (int)i;
		}
	}
	return -1;
}

/* Fewest active flows per unit of weight; among equals, weighted round robin
 * (so an idle pool still shares by weight). */
static int pf_leastconn(struct pf_forward *f, const struct pf_cands *c)
{
	uint64_t best_a = 0, best_w = 1, a[PF_BACKENDS_MAX];
	struct pf_cands tie;
	uint32_t i;

	memset(&tie, 0, sizeof(tie));
	for (i = 0; i < f->nbe; i++) {
		uint64_t w;

		if (!pf_cand_has(c, i))
			continue;
		a[i] = f->be[i].st ? atomic_load_explicit(&f->be[i].st->active, memory_order_relaxed)
				   : 0;
		w = pf_sched_eff_weight(&f->be[i]);
		if (!tie.n || a[i] * best_w < best_a * w) {
			memset(&tie, 0, sizeof(tie));
			best_a = a[i];
			best_w = w;
		}
		if (a[i] * best_w == best_a * w) {
			tie.bits[i / 64] |= 1ULL << (i % 64);
			tie.n++;
		}
	}
	return tie.n ? pf_wrr(f, &tie) : -1;
}

/* A client address always lands on the same backend while the set is the
 * same; shares follow the weights. */
static int pf_source(struct pf_forward *f, const struct pf_cands *c, const union pf_sa *client)
{
	uint64_t total = 0, h, acc = 0;
	uint32_t i;

	if (!client)
		return pf_wrr(f, c);
	for (i = 0; i < f->nbe; i++)
		if (pf_cand_has(c, i))
			total += pf_sched_eff_weight(&f->be[i]);
	if (!total)
		return -1;
	h = pf_sched_client_slot(client, (uint32_t)total);
	for (i = 0; i < f->nbe; i++) {
		if (!pf_cand_has(c, i))
			continue;
		acc += pf_sched_eff_weight(&f->be[i]);
		if (h < acc)
			return (int)i;
	}
	return -1;
}

/*
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016): each backend walks
 * its own permutation of the table's slots, derived from its name, and the
 * backends take turns claiming free slots (a backend claims up to 16 per turn
 * in proportion to its weight). Adding or removing one backend moves only
 * about its share of the slots, hence of the clients.
 */
static void pf_maglev_fill(const struct pf_forward *f, const uint32_t *cw, uint16_t *t, uint32_t m)
{
	uint32_t idx[PF_BACKENDS_MAX] = { 0 }, w[PF_BACKENDS_MAX] = { 0 };
	uint64_t off[PF_BACKENDS_MAX] = { 0 }, skip[PF_BACKENDS_MAX] = { 0 };
	uint64_t next[PF_BACKENDS_MAX] = { 0 };
	uint32_t i, n = 0, wmax = 1, filled = 0;

	for (i = 0; i < f->nbe; i++)
		if (cw[i] > wmax)
			wmax = cw[i];
	for (i = 0; i < f->nbe; i++) {
		char name[PF_HOST_MAX + 16];
		size_t l;

		if (!cw[i])
			continue;
		pf_backend_format(&f->be[i], name, sizeof(name));
		l = strlen(name);
		idx[n] = i;
		off[n] = pf_hash_mix(pf_hash_fnv(name, l, PF_FNV_SEED)) % m;
		skip[n] = pf_hash_mix(pf_hash_fnv(name, l, 0x5eed5eed5eed5eedULL)) % (m - 1) + 1;
		w[n] = (uint32_t)(((uint64_t)cw[i] * 16 + wmax - 1) / wmax);
		n++;
	}
	for (i = 0; i < m; i++)
		t[i] = PF_MAGLEV_NONE;
	while (n && filled < m) {
		for (i = 0; i < n && filled < m; i++) {
			uint32_t r;

			for (r = 0; r < w[i] && filled < m; r++) {
				uint64_t sl;

				do {
					sl = (off[i] + next[i] * skip[i]) % m;
					next[i]++;
				} while (t[sl] != PF_MAGLEV_NONE);
				t[sl] = (uint16_t)idx[i];
				filled++;
			}
		}
	}
}

uint32_t pf_maglev_size(const struct pf_forward *f)
{
	/* Primes over 100 slots a backend (shares within about 1 % of the
	 * weights: the paper's M > 100 N), in two sizes only: a size that
	 * followed the pool's would move every client when one backend is
	 * added or removed. The smaller keeps the kernel engine's map of a
	 * usual pool to a few thousand elements. */
	return f->nbe <= 40 ? 4099 : 65537;
}

/* The weight of backend i in the pool's table: every backend of the tier
 * that has a weight, usable now or not (its agent's share kept, at least
 * 1), so that one going down leaves the others' slots where they were. */
static uint32_t pf_maglev_cw(const struct pf_forward *f, enum pf_tier tier, int fam, uint32_t i)
{
	const struct pf_backend *be = &f->be[i];
	uint32_t w;

	if (!be->conf.weight || be->conf.backup != (tier == PF_TIER_BACKUP) ||
	    (fam && be->addr.sa.sa_family != fam))
		return 0;
	w = pf_sched_eff_weight(be);
	return w ? w : 1;
}

void pf_maglev_table(const struct pf_forward *f, enum pf_tier tier, int fam, const uint32_t *up,
		     uint16_t *t, uint32_t m)
{
	uint32_t cw[PF_BACKENDS_MAX] = { 0 }, uw[PF_BACKENDS_MAX] = { 0 }, i, s;
	bool all_up = true;
	uint16_t *u;

	for (i = 0; i < f->nbe; i++) {
		cw[i] = pf_maglev_cw(f, tier, fam, i);
		uw[i] = up[i] ? cw[i] : 0;
		all_up &= !cw[i] || up[i];
	}
	pf_maglev_fill(f, cw, t, m);
	if (all_up)
		return;
	/* The slots of a backend that cannot take flows go where a table of
	 * the usable ones puts them: only its clients move, and they spread
	 * as over a pool without it. */
	u = pf_xcalloc(m, sizeof(*u));
	pf_maglev_fill(f, uw, u, m);
	for (s = 0; s < m; s++)
		if (t[s] == PF_MAGLEV_NONE || !up[t[s]])
			t[s] = u[s];
	free(u);
}

uint32_t pf_sched_client_slot(const union pf_sa *sa, uint32_t n)
{
	const void *a = &sa->sin.sin_addr;
	uint32_t len = 4;

	if (sa->sa.sa_family == AF_INET6) {
		a = &sa->sin6.sin6_addr;
		len = 16;
		if (IN6_IS_ADDR_V4MAPPED(&sa->sin6.sin6_addr)) {
			a = &sa->sin6.sin6_addr.s6_addr[12];
			len = 4;
		}
	}
	return pf_jhash_scale(pf_jhash(a, len, PF_JHASH_SEED), n);
}

/* A signature of the weights a table is built with: the agent check
 * changes them. */
static uint64_t pf_maglev_wsig(const struct pf_forward *f, enum pf_tier tier)
{
	uint64_t h = PF_FNV_SEED;
	uint32_t i;

	for (i = 0; i < f->nbe; i++) {
		uint32_t w = pf_maglev_cw(f, tier, 0, i);

		h = pf_hash_fnv(&w, sizeof(w), h);
	}
	return h;
}

static int pf_maglev(struct pf_forward *f, struct pf_sched_state *S, enum pf_tier tier,
		     const struct pf_cands *all, const struct pf_cands *c, const union pf_sa *client)
{
	uint64_t sig;
	uint32_t k, slot;

	if (!client)
		return pf_wrr(f, c);
	/* The table covers the backends usable now; retries walk on from the
	 * client's slot to the next one not tried, so they stay consistent too. */
	sig = pf_maglev_wsig(f, tier);
	if (!S->maglev || S->maglev_tier != tier || S->maglev_wsig != sig ||
	    memcmp(S->maglev_set, all->bits, sizeof(S->maglev_set)) != 0) {
		uint32_t up[PF_BACKENDS_MAX];

		if (!S->maglev) {
			S->maglev_m = pf_maglev_size(f);
			S->maglev = pf_xcalloc(S->maglev_m, sizeof(uint16_t));
		}
		for (k = 0; k < f->nbe; k++)
			up[k] = pf_cand_has(all, k);
		pf_maglev_table(f, tier, 0, up, S->maglev, S->maglev_m);
		memcpy(S->maglev_set, all->bits, sizeof(S->maglev_set));
		S->maglev_tier = tier;
		S->maglev_wsig = sig;
	}
	slot = pf_sched_client_slot(client, S->maglev_m);
	for (k = 0; k < S->maglev_m; k++) {
		uint16_t i = S->maglev[(slot + k) % S->maglev_m];

		if (i < f->nbe && pf_cand_has(c, i))
			return i;
	}
	return -1;
}

static void pf_pref_init(struct pf_forward *f, struct pf_sched_state *S)
{
	uint32_t i;

	if (S->pref_order)
		return;
	S->pref_order = pf_xcalloc(f->nbe ? f->nbe : 1, sizeof(*S->pref_order));
	S->pcnt = pf_xcalloc(f->nbe ? f->nbe : 1, sizeof(*S->pcnt));
	for (i = 0; i < f->nbe; i++) {
		S->pref_order[i] = i;
		S->pcnt[i] = f->be[i].conf.weight;
	}
}

/* Moves the backend at position pos of the rotation to the end, counter reset. */
static void pf_pref_to_end(struct pf_forward *f, struct pf_sched_state *S, uint32_t pos)
{
	uint32_t b = S->pref_order[pos];

	memmove(&S->pref_order[pos], &S->pref_order[pos + 1],
		(f->nbe - pos - 1) * sizeof(S->pref_order[0]));
	S->pref_order[f->nbe - 1] = b;
	S->pcnt[b] = f->be[b].conf.weight;
}

/*
 * ipmasqadm's preference counting: the first usable backend of the list takes
 * the flow and its counter (pcnt, from pref) goes down by one; at 0 the
 * counter is reset and the backend moves to the end of the list. pref 0 is
 * never counted down, so such a backend stays where it is (failover order
 * until 'schedule' moves it).
 */
static int pf_pref(struct pf_forward *f, struct pf_sched_state *S, const struct pf_cands *c)
{
	uint32_t pos;

	pf_pref_init(f, S);
	for (pos = 0; pos < f->nbe; pos++) {
		uint32_t b = S->pref_order[pos];

		if (!pf_cand_has(c, b))
			continue;
		if (f->be[b].conf.weight && --S->pcnt[b] == 0)
			pf_pref_to_end(f, S, pos);
		return (int)b;
	}
	return -1;
}

int pf_sched_pick(struct pf_forward *f, const struct pf_tried *tried, const union pf_sa *client)
{
	static const struct {
		enum pf_tier tier;
		bool held;
	} passes[] = { { PF_TIER_PRIMARY, false },
		       { PF_TIER_BACKUP, false },
		       { PF_TIER_PRIMARY, true },
		       { PF_TIER_BACKUP, true } };
	uint64_t now = pf_now_ms();
	struct pf_cands c, all;
	int best = -1;
	struct pf_sched_state *S = NULL;
	size_t p;
	uint32_t i;

	/* One backend: it is the choice if it may take the flow, and no
	 * scheduler's state shows; no state, no lock. pref's counter shows
	 * ('ipmasqadm mfw -L' lists it), so pref counts even then. */
	if (f->nbe > 1 || f->conf.balance == PF_BAL_PREF) {
		S = pf_sched_state(f);
		pthread_mutex_lock(&S->lock);
	}
	for (p = 0; p < PF_ARRAY_SIZE(passes) && best < 0; p++) {
		pf_cands_get(f, tried, passes[p].tier, passes[p].held, now, &c);
		if (!c.n)
			continue;
		if (!S) {
			best = 0;
			break;
		}
		switch (f->conf.balance) {
		case PF_BAL_PREF:
			best = pf_pref(f, S, &c);
			break;
		case PF_BAL_RR:
			best = pf_rr(f, S, &c);
			break;
		case PF_BAL_LEASTCONN:
			best = pf_leastconn(f, &c);
			break;
		case PF_BAL_SOURCE:
			best = pf_source(f, &c, client);
			break;
		case PF_BAL_MAGLEV:
			pf_cands_get(f, NULL, passes[p].tier, passes[p].held, now, &all);
			best = pf_maglev(f, S, passes[p].tier, &all, &c, client);
			break;
		default:
			best = pf_wrr(f, &c);
			break;
		}
	}
	/* Spares (weight 0) only when every weighted backend was tried: the first. */
	if (best < 0) {
		pf_cands_get(f, tried, PF_TIER_SPARE, true, now, &c);
		for (i = 0; i < f->nbe && best < 0; i++)
			if (pf_cand_has(&c, i))
				best = (int)i;
	}
	if (S)
		pthread_mutex_unlock(&S->lock);
	return best;
}

int pf_sched_rotate(struct pf_forward *f)
{
	struct pf_sched_state *S = pf_sched_state(f);
	int rc = 0;

	pthread_mutex_lock(&S->lock);
	if (f->conf.balance == PF_BAL_PREF) {
		pf_pref_init(f, S);
		if (f->nbe)
			pf_pref_to_end(f, S, 0);
	} else if (f->conf.balance == PF_BAL_RR) {
		S->rr_next++;
	} else {
		rc = -1;
	}
	pthread_mutex_unlock(&S->lock);
	return rc;
}

void pf_sched_pref_order(struct pf_forward *f, uint32_t *order)
{
	struct pf_sched_state *S = pf_sched_state(f);

	pthread_mutex_lock(&S->lock);
	pf_pref_init(f, S);
	if (f->nbe)
		memcpy(order, S->pref_order, f->nbe * sizeof(*order));
	pthread_mutex_unlock(&S->lock);
}

void pf_sched_pref_info(struct pf_forward *f, uint32_t i, uint32_t *pos, uint32_t *pcnt)
{
	struct pf_sched_state *S = pf_sched_state(f);
	uint32_t k;

	pthread_mutex_lock(&S->lock);
	pf_pref_init(f, S);
	*pos = i;
	for (k = 0; k < f->nbe; k++)
		if (S->pref_order[k] == i)
			*pos = k;
	*pcnt = S->pcnt[i];
	pthread_mutex_unlock(&S->lock);
}
