/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hashes whose values must not change: what gateways compare with each other
 * (forward ids, the source and maglev choices), what the user engine computes
 * as the kernel's nft 'jhash' does, so that both engines and every gateway
 * make the same choice for the same input.
 */
#ifndef PF_HASH_H
#define PF_HASH_H

#include <stddef.h>
#include <stdint.h>

#define PF_FNV_SEED 14695981039346656037ULL

/* FNV-1a, 64 bits, over n bytes, from h (PF_FNV_SEED to start). */
uint64_t pf_hash_fnv(const void *p, size_t n, uint64_t h);

/* The splitmix64 finaliser: every output bit depends on every input bit. */
uint64_t pf_hash_mix(uint64_t h);

/* The kernel's jhash() (Bob Jenkins' lookup3 over bytes, as in
 * include/linux/jhash.h): what nft's 'jhash EXPR seed S' computes. */
uint32_t pf_jhash(const void *key, uint32_t len, uint32_t seed);

/* nft's 'jhash ... mod n': the hash scaled into [0, n) by multiplication,
 * as the kernel's reciprocal_scale() (not a remainder). */
static inline uint32_t pf_jhash_scale(uint32_t h, uint32_t n)
{
	return (uint32_t)(((uint64_t)h * n) >> 32);
}

#endif
