// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Limits per client address (max-per-source, max-sessions-per-source,
 * rate-per-source) for the user engine.
 *
 * SO_REUSEPORT spreads one client's connections over the workers, so a
 * count per worker would let a client have the limit once per worker: the
 * state is one table shared by every worker. It is a fixed array of
 * buckets of a few entries each, keyed by (forward id, client address),
 * each bucket behind its own spin lock held for a few loads and stores; the
 * hash is seeded at start so that a client cannot pick its bucket. Nothing
 * is allocated: a flood of sources evicts entries, it does not grow the
 * daemon.
 *
 * An entry holds the client's open TCP connections, its open UDP sessions
 * and its rate as a GCRA clock (the time at which its token bucket would be
 * full again). A new client takes a free entry, else the entry with no open
 * flow whose bucket refills soonest (it forgets a partly spent rate: under
 * such a flood the rate of a few clients restarts with a full burst). When
 * every entry of its bucket holds open flows, the client is let through
 * untracked: a flood of sources must not lock out clients that the limits
 * were never meant for.
 */
#include "pfu_int.h"
#include "../common/pf_opt.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>

#define PFU_PS_BUCKETS 4096u /* a power of two */
#define PFU_PS_WAYS 4

struct pfu_ps_ent {
	uint32_t fwd_id; /* 0: free */
	uint32_t tcp, udp; /* open flows */
	uint64_t tat_us; /* rate: when the bucket is full again */
	unsigned char addr[16]; /* IPv4 as IPv4-mapped IPv6 */
};

struct pfu_ps_bucket {
	atomic_flag lock;
	struct pfu_ps_ent e[PFU_PS_WAYS];
};

static struct pfu_ps_bucket pfu_ps[PFU_PS_BUCKETS];
static uint32_t pfu_ps_seed;
static pthread_once_t pfu_ps_once = PTHREAD_ONCE_INIT;

static void pfu_ps_init(void)
{
	size_t i;

	for (i = 0; i < PFU_PS_BUCKETS; i++)
		atomic_flag_clear(&pfu_ps[i].lock);
	if (getrandom(&pfu_ps_seed, sizeof(pfu_ps_seed), GRND_NONBLOCK) != sizeof(pfu_ps_seed))
		pfu_ps_seed = (uint32_t)pf_now_us();
}

static void pfu_ps_key(const union pf_sa *client, unsigned char addr[16])
{
	if (client->sa.sa_family == AF_INET6) {
		memcpy(addr, &client->sin6.sin6_addr, 16);
		return;
	}
	memset(addr, 0, 10);
	addr[10] = addr[11] = 0xff;
	memcpy(addr + 12, &client->sin.sin_addr, 4);
}

static uint32_t pfu_ps_mix(uint32_t h, uint32_t v)
{
	h ^= v * 0xcc9e2d51u;
	h = (h << 13 | h >> 19) * 5u + 0xe6546b64u;
	return h;
}

static struct pfu_ps_bucket *pfu_ps_bucket(uint32_t id, const unsigned char addr[16])
{
	uint32_t h = pfu_ps_mix(pfu_ps_seed, id), v;
	size_t i;

	for (i = 0; i < 16; i += 4) {
		memcpy(&v, addr + i, 4);
		h = pfu_ps_mix(h, v);
	}
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return &pfu_ps[h & (PFU_PS_BUCKETS - 1)];
}

static void pfu_ps_lock(struct pfu_ps_bucket *b)
{
	while (atomic_flag_test_and_set_explicit(&b->lock, memory_order_acquire))
		;
}

static void pfu_ps_unlock(struct pfu_ps_bucket *b)
{
	atomic_flag_clear_explicit(&b->lock, memory_order_release);
}

/* The client's entry in b, or one made for it; NULL when every entry
 * holds open flows. */
static struct pfu_ps_ent *pfu_ps_find(struct pfu_ps_bucket *b, uint32_t id,
				      const unsigned char addr[16])
{
	struct pfu_ps_ent *victim = NULL;
	size_t i;

	for (i = 0; i < PFU_PS_WAYS; i++) {
		struct pfu_ps_ent *e = &b->e[i];

		if (e->fwd_id == id && !memcmp(e->addr, addr, 16))
			return e;
	}
	for (i = 0; i < PFU_PS_WAYS; i++) {
		struct pfu_ps_ent *e = &b->e[i];

		if (!e->fwd_id) {
			victim = e;
			break;
		}
		if (!e->tcp && !e->udp && (!victim || e->tat_us < victim->tat_us))
			victim = e;
	}
	if (!victim)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	victim->fwd_id = id;
	memcpy(victim->addr, addr, 16);
	return victim;
}

/* GCRA: a new flow at now_us conforms while the bucket's clock is at most
 * burst - 1 emission intervals ahead; burst is the rate's N. */
static bool pfu_ps_rate_ok(struct pfu_ps_ent *e, uint64_t rate, uint64_t now_us)
{
	uint64_t t = pf_rate_us_per_token(rate), tau = (pf_rate_n(rate) - 1) * t;
	uint64_t tat = e->tat_us > now_us ? e->tat_us : now_us;

	if (tat - now_us > tau)
		return false;
	e->tat_us = tat + t;
	return true;
}

enum pf_refuse pfu_ps_admit(const struct pf_forward *fwd, const union pf_sa *client, bool udp,
			    bool *held)
{
	const struct pf_fwd_opts *o = &fwd->conf.o;
	uint32_t max = udp ? o->max_sess_per_src : o->max_per_src;
	enum pf_refuse verdict = PF_REFUSE_N;
	unsigned char addr[16];
	struct pfu_ps_bucket *b;
	struct pfu_ps_ent *e;
	uint64_t now_us = 0;

	*held = false;
	if (!max && !o->rate_per_src)
		return PF_REFUSE_N;
	pthread_once(&pfu_ps_once, pfu_ps_init);
	if (o->rate_per_src)
		now_us = pf_now_us();
	pfu_ps_key(client, addr);
	b = pfu_ps_bucket(fwd->id, addr);
	pfu_ps_lock(b);
	e = pfu_ps_find(b, fwd->id, addr);
	if (!e)
		goto out;
	if (max && (udp ? e->udp : e->tcp) >= max) {
		verdict = PF_REFUSE_PER_SRC;
		goto out;
	}
	if (o->rate_per_src && !pfu_ps_rate_ok(e, o->rate_per_src, now_us)) {
		verdict = PF_REFUSE_RATE_SRC;
		goto out;
	}
	if (max) {
		if (udp)
			e->udp++;
		else
			e->tcp++;
		*held = true;
	}
out:
	pfu_ps_unlock(b);
	return verdict;
}

void pfu_ps_release(const struct pf_forward *fwd, const union pf_sa *client, bool udp)
{
	unsigned char addr[16];
	struct pfu_ps_bucket *b;
	size_t i;

	pfu_ps_key(client, addr);
	b = pfu_ps_bucket(fwd->id, addr);
	pfu_ps_lock(b);
	for (i = 0; i < PFU_PS_WAYS; i++) {
		struct pfu_ps_ent *e = &b->e[i];
		uint32_t *n = udp ? &e->udp : &e->tcp;

		/* Held entries are never evicted: it is there. */
		if (e->fwd_id == fwd->id && !memcmp(e->addr, addr, 16)) {
			if (*n)
				(*n)--;
			break;
		}
	}
	pfu_ps_unlock(b);
}
