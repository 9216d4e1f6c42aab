// SPDX-License-Identifier: GPL-2.0-or-later
/* The user engine's limits per client address (pfu_persrc.c): counts,
 * rates, the bound of its table, and the limit held by threads at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "user/pfu_int.h"
#include "common/pf_opt.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static union pf_sa addr4(uint32_t host)
{
	union pf_sa sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin.sin_family = AF_INET;
	sa.sin.sin_addr.s_addr = htonl(host);
	return sa;
}

static void fwd_init(struct pf_forward *f, uint32_t id)
{
	memset(f, 0, sizeof(*f));
	f->id = id;
}

static void test_count(void **state)
{
	struct pf_forward f;
	union pf_sa a = addr4(0x0a000001), b = addr4(0x0a000002), c6;
	bool h1, h2, h3;

	(void)state;
	fwd_init(&f, 1);
	assert_int_equal(pfu_ps_admit(&f, &a, false, &h1), PF_REFUSE_N);
	assert_false(h1); /* no limit: nothing held */
	f.conf.o.max_per_src = 2;
	f.conf.o.max_sess_per_src = 1;
	assert_int_equal(pfu_ps_admit(&f, &a, false, &h1), PF_REFUSE_N);
	assert_int_equal(pfu_ps_admit(&f, &a, false, &h2), PF_REFUSE_N);
	assert_true(h1 && h2);
	assert_int_equal(pfu_ps_admit(&f, &a, false, &h3), PF_REFUSE_PER_SRC);
	assert_false(h3);
	/* Another address, the same address's UDP sessions: their own counts. */
	assert_int_equal(pfu_ps_admit(&f, &b, false, &h3), PF_REFUSE_N);
	assert_int_equal(pfu_ps_admit(&f, &a, true, &h3), PF_REFUSE_N);
	assert_int_equal(pfu_ps_admit(&f, &a, true, &h3), PF_REFUSE_PER_SRC);
	pfu_ps_release(&f, &a, true);
	pfu_ps_release(&f, &b, false);
	/* One closes: one more may come. */
	pfu_ps_release(&f, &a, false);
	assert_int_equal(pfu_ps_admit(&f, &a, false, &h3), PF_REFUSE_N);
	assert_int_equal(pfu_ps_admit(&f, &a, false, &h3), PF_REFUSE_PER_SRC);
	pfu_ps_release(&f, &a, false);
	pfu_ps_release(&f, &a, false);
	/* IPv6, and the same address on another forward: apart. */
	memset(&c6, 0, sizeof(c6));
	c6.sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &c6.sin6.sin6_addr);
	f.conf.o.max_per_src = 1;
	assert_int_equal(pfu_ps_admit(&f, &c6, false, &h1), PF_REFUSE_N);
	assert_int_equal(pfu_ps_admit(&f, &c6, false, &h2), PF_REFUSE_PER_SRC);
	f.id = 2;
	assert_int_equal(pfu_ps_admit(&f, &c6, false, &h2), PF_REFUSE_N);
	pfu_ps_release(&f, &c6, false);
	f.id = 1;
	pfu_ps_release(&f, &c6, false);
}

/* 10/s: a burst of 10, then one every 100 ms. */
static void test_rate(void **state)
{
	struct pf_forward f;
	union pf_sa a = addr4(0x0a000101);
	uint64_t t0 = pf_now_us();
	bool held;
	int i;

	(void)state;
	fwd_init(&f, 3);
	f.conf.o.rate_per_src = pf_rate_make(10, false);
	for (i = 0; i < 10; i++)
		assert_int_equal(pfu_ps_admit(&f, &a, false, &held), PF_REFUSE_N);
	assert_false(held); /* a rate holds nothing to release */
	assert_int_equal(pfu_ps_admit(&f, &a, true, &held), PF_REFUSE_RATE_SRC);
	usleep(150 * 1000);
	assert_int_equal(pfu_ps_admit(&f, &a, false, &held), PF_REFUSE_N);
	/* A loaded machine may have slept past the next token. */
	if (pf_now_us() - t0 < 190 * 1000)
		assert_int_equal(pfu_ps_admit(&f, &a, false, &held), PF_REFUSE_RATE_SRC);
}

/* More sources than entries: the table does not grow; a source that finds
 * its bucket full of open flows goes uncounted; once they close, new
 * sources are counted again. */
static void test_bound(void **state)
{
	enum { N = 100000 };
	static bool held[N];
	struct pf_forward f;
	uint32_t i, counted = 0;
	bool h;

	(void)state;
	fwd_init(&f, 4);
	f.conf.o.max_per_src = 1;
	for (i = 0; i < N; i++) {
		union pf_sa a = addr4(0x0b000000 + i);

		assert_int_equal(pfu_ps_admit(&f, &a, false, &held[i]), PF_REFUSE_N);
		counted += held[i];
	}
	assert_true(counted < N);
	assert_true(counted <= 16384);
	assert_true(counted > 8192);
	for (i = 0; i < N; i++) {
		union pf_sa a = addr4(0x0b000000 + i);

		if (held[i])
			pfu_ps_release(&f, &a, false);
	}
	for (i = 0; i < 1000; i++) {
		union pf_sa a = addr4(0x0c000000 + i);

		assert_int_equal(pfu_ps_admit(&f, &a, false, &h), PF_REFUSE_N);
		assert_true(h);
		assert_int_equal(pfu_ps_admit(&f, &a, false, &h), PF_REFUSE_PER_SRC);
		pfu_ps_release(&f, &a, false);
	}
}

/* Workers admit and release one address at once: never more than the
 * limit open together. */
static struct pf_forward thr_fwd;
static _Atomic int thr_open, thr_max;

static void *thr_main(void *arg)
{
	union pf_sa a = addr4(0x0d000001);
	bool held;
	int i;

	(void)arg;
	for (i = 0; i < 20000; i++) {
		int n;

		if (pfu_ps_admit(&thr_fwd, &a, false, &held) != PF_REFUSE_N)
			continue;
		n = atomic_fetch_add(&thr_open, 1) + 1;
		if (n > atomic_load(&thr_max))
			atomic_store(&thr_max, n);
		atomic_fetch_sub(&thr_open, 1);
		pfu_ps_release(&thr_fwd, &a, false);
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[4];
	int i;

	(void)state;
	fwd_init(&thr_fwd, 5);
	thr_fwd.conf.o.max_per_src = 3;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thr_main, NULL), 0);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_true(atomic_load(&thr_max) <= 3);
	assert_true(atomic_load(&thr_max) >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
