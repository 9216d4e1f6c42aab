/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fixed-size objects (TCP flows, UDP sessions) from slabs a worker owns: an
 * object costs its size and no allocator header, taking or giving one back
 * is a few pointer moves, and a slab whose objects are all free goes back
 * to the kernel (munmap), so the memory of a burst of sessions is returned
 * once they end instead of staying in the C library's per-thread arena.
 *
 * A cache is used by one thread at a time (its worker; at the end, the
 * thread that cleans up after it): nothing here locks.
 */
#ifndef PFU_SLAB_H
#define PFU_SLAB_H

#include <stddef.h>
#include <stdint.h>

/* Slabs are this big and aligned to it: an object's slab is its address
 * with the low bits cleared. */
#define PFU_SLAB_BYTES 65536u

struct pfu_slab;

struct pfu_cache {
	size_t size; /* of an object, rounded up to the alignment */
	uint32_t per_slab;
	struct pfu_slab *partial; /* slabs with free objects, each in use */
	struct pfu_slab *spare; /* one empty slab kept: no map/unmap at a boundary */
	size_t nslabs; /* mapped, spare included */
	size_t nobj; /* objects in use */
};

/* size: of one object, at most what fits a slab with its header. */
void pfu_cache_init(struct pfu_cache *c, size_t size);
/* A zeroed object, or NULL (errno ENOMEM) when no slab can be mapped. */
void *pfu_cache_alloc(struct pfu_cache *c);
/* p: an object of c, or NULL. */
void pfu_cache_free(struct pfu_cache *c, void *p);
/* Unmaps the slabs; every object must have been freed. */
void pfu_cache_destroy(struct pfu_cache *c);

#endif
