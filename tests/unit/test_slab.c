// SPDX-License-Identifier: GPL-2.0-or-later
/* The user engine's slabs (pfu_slab.c): objects are zeroed, distinct and
 * aligned; a slab whose objects are all freed is unmapped (one kept
 * spare, its pages given back); the whole burst's memory goes with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "user/pfu_slab.h"

#include <stdlib.h>
#include <string.h>

#define N 20000

static void test_alloc_free(void **state)
{
	struct pfu_cache c;
	unsigned char **p = calloc(N, sizeof(*p));
	size_t i, j;

	(void)state;
	assert_non_null(p);
	pfu_cache_init(&c, 200);
	assert_int_equal(c.size % 16, 0);
	assert_true(c.size >= 200);
	for (i = 0; i < N; i++) {
		p[i] = pfu_cache_alloc(&c);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 16, 0);
		for (j = 0; j < 200; j++)
			assert_int_equal(p[i][j], 0);
		memset(p[i], 0xa5, 200);
	}
	assert_int_equal(c.nobj, N);
	assert_int_equal(c.nslabs, (N + c.per_slab - 1) / c.per_slab);
	/* Every other one: no slab empties, none goes. */
	for (i = 0; i < N; i += 2)
		pfu_cache_free(&c, p[i]);
	assert_int_equal(c.nslabs, (N + c.per_slab - 1) / c.per_slab);
	/* Taken again: from the partial slabs, zeroed, no new slab. */
	for (i = 0; i < N; i += 2) {
		p[i] = pfu_cache_alloc(&c);
		assert_int_equal(p[i][0], 0);
		assert_int_equal(p[i][199], 0);
	}
	assert_int_equal(c.nslabs, (N + c.per_slab - 1) / c.per_slab);
	/* All gone: one spare slab left mapped. */
	for (i = 0; i < N; i++)
		pfu_cache_free(&c, p[N - 1 - i]);
	assert_int_equal(c.nobj, 0);
	assert_int_equal(c.nslabs, 1);
	assert_null(c.partial);
	assert_non_null(c.spare);
	/* The spare serves the next burst, zeroed after its pages went back. */
	p[0] = pfu_cache_alloc(&c);
	assert_non_null(p[0]);
	assert_int_equal(p[0][0], 0);
	assert_int_equal(c.nslabs, 1);
	pfu_cache_free(&c, p[0]);
	pfu_cache_destroy(&c);
	assert_int_equal(c.nslabs, 0);
	free(p);
}

/* Objects in a slab never overlap, and a full slab is taken off the list
 * until one of its objects is freed. */
static void test_full_slab(void **state)
{
	struct pfu_cache c;
	void *a[1024];
	uint32_t i;

	(void)state;
	pfu_cache_init(&c, 1000);
	assert_true(c.per_slab < 1024);
	for (i = 0; i < c.per_slab; i++) {
		a[i] = pfu_cache_alloc(&c);
		if (i)
			assert_true((char *)a[i] >= (char *)a[i - 1] + c.size);
	}
	assert_null(c.partial);
	assert_int_equal(c.nslabs, 1);
	pfu_cache_free(&c, a[3]);
	assert_non_null(c.partial);
	assert_ptr_equal(pfu_cache_alloc(&c), a[3]);
	assert_null(c.partial);
	/* The next one needs a second slab. */
	a[c.per_slab] = pfu_cache_alloc(&c);
	assert_int_equal(c.nslabs, 2);
	for (i = 0; i <= c.per_slab; i++)
		pfu_cache_free(&c, a[i]);
	assert_int_equal(c.nslabs, 1);
	pfu_cache_free(&c, NULL);
	pfu_cache_destroy(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_free),
		cmocka_unit_test(test_full_slab),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
