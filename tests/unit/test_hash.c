// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the hashes that gateways and engines must agree on. The
 * jhash values were read off the kernel: conntrack marks set by
 * 'ct mark set jhash ip saddr mod 1000003 seed 0x5eed' (and ip6) on this
 * machine's kernel for the source addresses below.
 */
#include "common/pf_hash.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static uint32_t nft_jhash(const char *addr, uint32_t mod)
{
	unsigned char a[16];
	int v6 = strchr(addr, ':') != NULL;

	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, addr, a), 1);
	return pf_jhash_scale(pf_jhash(a, v6 ? 16 : 4, 0x5eed), mod);
}

static void test_jhash_as_the_kernel(void **state)
{
	static const struct {
		const char *addr;
		uint32_t mark;
	} v[] = {
		{ "10.1.1.7", 5667 },	   { "10.1.2.14", 361177 },  { "10.1.3.21", 7380 },
		{ "10.1.4.28", 250899 },   { "10.1.5.35", 881556 },  { "fd00::d:1", 619354 },
		{ "fd00::1a:2", 888609 },  { "fd00::27:3", 990978 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(nft_jhash(v[i].addr, 1000003), v[i].mark);
}

static void test_jhash_lengths(void **state)
{
	unsigned char b[40];
	uint32_t seen[41];
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(b); i++)
		b[i] = (unsigned char)(i * 37 + 1);
	/* Every tail length and block count takes its own path: all differ. */
	for (i = 0; i <= sizeof(b); i++) {
		seen[i] = pf_jhash(b, (uint32_t)i, 0x5eed);
		for (j = 0; j < i; j++)
			assert_int_not_equal(seen[i], seen[j]);
	}
	assert_int_equal(pf_jhash_scale(0xffffffffu, 7), 6);
	assert_int_equal(pf_jhash_scale(0, 7), 0);
}

static void test_fnv_fixed(void **state)
{
	(void)state;
	/* FNV-1a's published value for "a"; a change here changes every id. */
	assert_true(pf_hash_fnv("a", 1, PF_FNV_SEED) == 0xaf63dc4c8601ec8cULL);
	assert_true(pf_hash_mix(0) == 0);
	assert_true(pf_hash_mix(1) != pf_hash_mix(2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jhash_as_the_kernel),
		cmocka_unit_test(test_jhash_lengths),
		cmocka_unit_test(test_fnv_fixed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
