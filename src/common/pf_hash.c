// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hashes that are part of how portfw behaves, not of how it is built: two
 * gateways (or two engines) that disagree on one of them send the same
 * client to different backends, or name a taken-over flow by the wrong
 * forward. Changing any of them is an incompatible change for HA pairs and
 * fleets (docs/ha.md).
 */
#include "pf_hash.h"

#include <string.h>

uint64_t pf_hash_fnv(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

/* FNV-1a leaves the low bits a plain function of the input's low bits, and
 * neighbouring inputs would fall into regular patterns. */
uint64_t pf_hash_mix(uint64_t h)
{
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

static inline uint32_t pf_rol32(uint32_t w, unsigned s)
{
	return (w << s) | (w >> (32 - s));
}

/* lookup3's mix() and final(): each step as the kernel's __jhash_mix and
 * __jhash_final. */
static inline void pf_jhash_mix(uint32_t *a, uint32_t *b, uint32_t *c)
{
	*a -= *c; *a ^= pf_rol32(*c, 4); *c += *b;
	*b -= *a; *b ^= pf_rol32(*a, 6); *a += *c;
	*c -= *b; *c ^= pf_rol32(*b, 8); *b += *a;
	*a -= *c; *a ^= pf_rol32(*c, 16); *c += *b;
	*b -= *a; *b ^= pf_rol32(*a, 19); *a += *c;
	*c -= *b; *c ^= pf_rol32(*b, 4); *b += *a;
}

static inline void pf_jhash_final(uint32_t *a, uint32_t *b, uint32_t *c)
{
	*c ^= *b; *c -= pf_rol32(*b, 14);
	*a ^= *c; *a -= pf_rol32(*c, 11);
	*b ^= *a; *b -= pf_rol32(*a, 25);
	*c ^= *b; *c -= pf_rol32(*b, 16);
	*a ^= *c; *a -= pf_rol32(*c, 4);
	*b ^= *a; *b -= pf_rol32(*a, 14);
	*c ^= *b; *c -= pf_rol32(*b, 24);
}

/* Whole 12-byte blocks are read as the CPU's words (the kernel reads them
 * unaligned in CPU order), the tail byte by byte: the same value as the
 * kernel's on the same machine. */
uint32_t pf_jhash(const void *key, uint32_t len, uint32_t seed)
{
	const unsigned char *k = key;
	uint32_t a, b, c, w[3];

	a = b = c = 0xdeadbeefu + len + seed;
	while (len > 12) {
		memcpy(w, k, sizeof(w));
		a += w[0];
		b += w[1];
		c += w[2];
		pf_jhash_mix(&a, &b, &c);
		len -= 12;
		k += 12;
	}
	if (!len)
		return c;
	switch (len) {
	case 12: c += (uint32_t)k[11] << 24; /* fall through */
	case 11: c += (uint32_t)k[10] << 16; /* fall through */
	case 10: c += (uint32_t)k[9] << 8; /* fall through */
	case 9: c += k[8]; /* fall through */
	case 8: b += (uint32_t)k[7] << 24; /* fall through */
	case 7: b += (uint32_t)k[6] << 16; /* fall through */
	case 6: b += (uint32_t)k[5] << 8; /* fall through */
	case 5: b += k[4]; /* fall through */
	case 4: a += (uint32_t)k[3] << 24; /* fall through */
	case 3: a += (uint32_t)k[2] << 16; /* fall through */
	case 2: a += (uint32_t)k[1] << 8; /* fall through */
	default: a += k[0];
	}
	pf_jhash_final(&a, &b, &c);
	return c;
}
