// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A forward's id is its key's hash folded into the ct mark's id bits; two
 * keys that want the same id are told apart by probing, the forward with the
 * smaller (hash, key) first. The serialisation below is fixed byte by byte
 * (no structure layout, no host byte order): gateways of other builds must
 * derive the same ids.
 */
#include "pf_fwdid.h"
#include "pf_hash.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static uint64_t pf_fwdid_u32(uint64_t h, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 24) };

	return pf_hash_fnv(b, sizeof(b), h);
}

/* A string with its terminating NUL: "a" "bc" and "ab" "c" differ. */
static uint64_t pf_fwdid_str(uint64_t h, const char *s)
{
	return pf_hash_fnv(s, strlen(s) + 1, h);
}

uint64_t pf_fwdid_hash(const struct pf_forward *f)
{
	uint64_t h = PF_FNV_SEED;
	uint32_t i;

	h = pf_fwdid_u32(h, f->conf.protos);
	h = pf_fwdid_u32(h, f->conf.trigger);
	h = pf_fwdid_u32(h, f->conf.lport_lo);
	h = pf_fwdid_u32(h, f->conf.lport_hi);
	h = pf_fwdid_str(h, f->conf.lhost);
	h = pf_fwdid_str(h, f->conf.lif);
	h = pf_fwdid_u32(h, f->conf.from.n);
	for (i = 0; i < f->conf.from.n; i++) {
		const struct pf_cidr *c = &f->conf.from.v[i];

		if (c->addr.sa.sa_family == AF_INET6) {
			h = pf_fwdid_u32(h, 6);
			h = pf_hash_fnv(&c->addr.sin6.sin6_addr, 16, h); /* network order */
		} else {
			h = pf_fwdid_u32(h, 4);
			h = pf_hash_fnv(&c->addr.sin.sin_addr, 4, h);
		}
		h = pf_fwdid_u32(h, c->plen);
	}
	return pf_hash_mix(h);
}

uint32_t pf_fwdid_probe(uint64_t h, uint32_t k)
{
	return (uint32_t)((h + k) % PF_ID_MAX) + 1;
}

/* The key's fields in a fixed order, for ties of the 64-bit hash. */
static int pf_fwdid_key_cmp(const struct pf_forward *a, const struct pf_forward *b)
{
	int r;

	if (a->conf.protos != b->conf.protos)
		return a->conf.protos < b->conf.protos ? -1 : 1;
	if (a->conf.trigger != b->conf.trigger)
		return a->conf.trigger < b->conf.trigger ? -1 : 1;
	if (a->conf.lport_lo != b->conf.lport_lo)
		return a->conf.lport_lo < b->conf.lport_lo ? -1 : 1;
	if (a->conf.lport_hi != b->conf.lport_hi)
		return a->conf.lport_hi < b->conf.lport_hi ? -1 : 1;
	r = strcmp(a->conf.lhost, b->conf.lhost);
	if (r)
		return r;
	r = strcmp(a->conf.lif, b->conf.lif);
	if (r)
		return r;
	if (a->conf.from.n != b->conf.from.n)
		return a->conf.from.n < b->conf.from.n ? -1 : 1;
	if (!a->conf.from.n) /* the same key: a table that validation refuses */
		return 0;
	return memcmp(a->conf.from.v, b->conf.from.v, a->conf.from.n * sizeof(*a->conf.from.v));
}

int pf_fwdid_cmp(const void *pa, const void *pb)
{
	const struct pf_fwdid_ent *a = pa, *b = pb;

	if (a->h != b->h)
		return a->h < b->h ? -1 : 1;
	return pf_fwdid_key_cmp(a->f, b->f);
}
