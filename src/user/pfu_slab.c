// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The slabs of pfu_slab.h. A slab starts with its header; its objects follow.
 * Free objects are chained through their first bytes; objects never handed
 * out yet are carved from the untouched end one at a time, so a new slab
 * costs resident memory only as it fills.
 */
#include "pfu_slab.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define PFU_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define PFU_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define PFU_POISON(p, n) ((void)(p), (void)(n))
#define PFU_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define PFU_SLAB_ALIGN 16u

struct pfu_free {
	struct pfu_free *next;
};

struct pfu_slab {
	struct pfu_slab *next, *prev; /* in the cache's partial list */
	struct pfu_free *free;
	uint32_t used;	 /* objects handed out */
	uint32_t carved; /* objects ever handed out: the rest is untouched */
	bool listed;	 /* in the partial list */
};

#define PFU_SLAB_HDR ((sizeof(struct pfu_slab) + PFU_SLAB_ALIGN - 1) & ~(size_t)(PFU_SLAB_ALIGN - 1))

void pfu_cache_init(struct pfu_cache *c, size_t size)
{
	memset(c, 0, sizeof(*c));
	if (size < sizeof(struct pfu_free))
		size = sizeof(struct pfu_free);
	c->size = (size + PFU_SLAB_ALIGN - 1) & ~(size_t)(PFU_SLAB_ALIGN - 1);
	c->per_slab = (uint32_t)((PFU_SLAB_BYTES - PFU_SLAB_HDR) / c->size);
}

static struct pfu_slab *pfu_slab_of(const void *p)
{
	return (struct pfu_slab *)((uintptr_t)p & ~(uintptr_t)(PFU_SLAB_BYTES - 1));
}

static void *pfu_slab_obj(const struct pfu_cache *c, struct pfu_slab *s, uint32_t i)
{
	return (char *)s + PFU_SLAB_HDR + (size_t)i * c->size;
}

/* A slab aligned to its size: twice that mapped, the excess unmapped. */
static struct pfu_slab *pfu_slab_map(void)
{
	size_t len = 2 * (size_t)PFU_SLAB_BYTES;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t start, end;

	if (p == MAP_FAILED)
		return NULL;
	start = ((uintptr_t)p + PFU_SLAB_BYTES - 1) & ~(uintptr_t)(PFU_SLAB_BYTES - 1);
	end = start + PFU_SLAB_BYTES;
	if (start > (uintptr_t)p)
		munmap(p, start - (uintptr_t)p);
	if ((uintptr_t)p + len > end)
		munmap((void *)end, (uintptr_t)p + len - end);
	/* Fresh anonymous pages read as zero: the header is all clear. */
	return (struct pfu_slab *)start;
}

static void pfu_list_add(struct pfu_cache *c, struct pfu_slab *s)
{
	s->prev = NULL;
	s->next = c->partial;
	if (c->partial)
		c->partial->prev = s;
	c->partial = s;
	s->listed = true;
}

static void pfu_list_del(struct pfu_cache *c, struct pfu_slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->partial = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	s->listed = false;
}

void *pfu_cache_alloc(struct pfu_cache *c)
{
	struct pfu_slab *s = c->partial;
	void *p;

	if (!s) {
		if (c->spare) {
			s = c->spare;
			c->spare = NULL;
		} else {
			s = pfu_slab_map();
			if (!s) {
				errno = ENOMEM;
				return NULL;
			}
			PFU_POISON(pfu_slab_obj(c, s, 0), PFU_SLAB_BYTES - PFU_SLAB_HDR);
			c->nslabs++;
		}
		pfu_list_add(c, s);
	}
	if (s->free) {
		p = s->free;
		PFU_UNPOISON(p, c->size);
		s->free = s->free->next;
	} else {
		p = pfu_slab_obj(c, s, s->carved++);
		PFU_UNPOISON(p, c->size);
	}
	if (++s->used == c->per_slab)
		pfu_list_del(c, s);
	c->nobj++;
	memset(p, 0, c->size);
	return p;
}

void pfu_cache_free(struct pfu_cache *c, void *p)
{
	struct pfu_slab *s;
	struct pfu_free *f = p;

	if (!p)
		return;
	s = pfu_slab_of(p);
	f->next = s->free;
	s->free = f;
	PFU_POISON(p, c->size);
	c->nobj--;
	if (!s->listed)
		pfu_list_add(c, s);
	if (--s->used)
		return;
	pfu_list_del(c, s);
	if (!c->spare) {
		/* Kept for the next burst, with its pages given back: an empty
		 * slab costs address space only. */
		madvise(s, PFU_SLAB_BYTES, MADV_DONTNEED);
		c->spare = s;
		return;
	}
	munmap(s, PFU_SLAB_BYTES);
	c->nslabs--;
}

void pfu_cache_destroy(struct pfu_cache *c)
{
	while (c->partial) {
		struct pfu_slab *s = c->partial;

		pfu_list_del(c, s);
		munmap(s, PFU_SLAB_BYTES);
	}
	if (c->spare)
		munmap(c->spare, PFU_SLAB_BYTES);
	c->partial = c->spare = NULL;
	c->nslabs = 0;
}
