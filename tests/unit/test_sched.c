// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the backend choice: smooth weighted round robin, retries that
 * skip the backends a flow already tried, and weight-0 spares.
 */
#include "common/pf_sched.h"
#include "common/pf_table.h"
#include "common/pf_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A forward with n backends of the given weights (names are 'a' + index). */
static struct pf_forward *forward_with(const uint32_t *weights, uint32_t n)
{
	struct pf_forward *f = pf_forward_new();
	uint32_t i;

	f->protos = PF_PROTO_TCP;
	f->lport_lo = f->lport_hi = 80;
	f->nbe = n;
	f->be = pf_xcalloc(n, sizeof(*f->be));
	for (i = 0; i < n; i++) {
		snprintf(f->be[i].host, sizeof(f->be[i].host), "%c", 'a' + (int)(i % 26));
		f->be[i].weight = weights[i];
		f->be[i].st = pf_stats_new();
	}
	return f;
}

#define FORWARD(...)                                                   \
	({                                                             \
		static const uint32_t w_[] = { __VA_ARGS__ };          \
		forward_with(w_, (uint32_t)PF_ARRAY_SIZE(w_));          \
	})

static const struct pf_tried none;

/* n first picks as letters: "aabacaa". */
static void picks(struct pf_forward *f, int n, char *out)
{
	int i;

	for (i = 0; i < n; i++) {
		int k = pf_sched_pick(f, &none, NULL);

		assert_in_range(k, 0, f->nbe - 1);
		out[i] = (char)('a' + k);
	}
	out[n] = '\0';
}

static void test_smooth_5_1_1(void **state)
{
	struct pf_forward *f = FORWARD(5, 1, 1);
	char seq[32];

	(void)state;
	/* Not a a a a a b c: the heavy backend's picks are spread out. */
	picks(f, 7, seq);
	assert_string_equal(seq, "aabacaa");
	/* After sum(weights) picks the state is back to zero: the cycle repeats. */
	picks(f, 14, seq);
	assert_string_equal(seq, "aabacaaaabacaa");
	pf_forward_unref(f);
}

static void test_equal_weights_round_robin(void **state)
{
	struct pf_forward *f = FORWARD(1, 1, 1);
	char seq[32];

	(void)state;
	picks(f, 7, seq);
	assert_string_equal(seq, "abcabca");
	pf_forward_unref(f);
}

static void test_smooth_3_2(void **state)
{
	struct pf_forward *f = FORWARD(3, 2);
	char seq[32];

	(void)state;
	picks(f, 10, seq);
	assert_string_equal(seq, "ababaababa");
	pf_forward_unref(f);
}

static void test_single_backend(void **state)
{
	struct pf_forward *f = FORWARD(7);
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		assert_int_equal(pf_sched_pick(f, &none, NULL), 0);
	pf_forward_unref(f);
}

/* 2000 picks: each backend within 1% of the total of its share. */
static void assert_distribution(const uint32_t *weights, uint32_t n)
{
	struct pf_forward *f = forward_with(weights, n);
	const int total = 2000;
	int count[16] = { 0 }, i;
	uint64_t wsum = 0;
	uint32_t k;

	assert_true(n <= PF_ARRAY_SIZE(count));
	for (k = 0; k < n; k++)
		wsum += weights[k];
	for (i = 0; i < total; i++) {
		int b = pf_sched_pick(f, &none, NULL);

		assert_in_range(b, 0, n - 1);
		count[b]++;
	}
	for (k = 0; k < n; k++) {
		double expected = (double)total * weights[k] / (double)wsum;

		if (count[k] < expected - total / 100.0 || count[k] > expected + total / 100.0)
			fail_msg("backend %u (weight %u): %d picks of %d, expected %.1f", k,
				 weights[k], count[k], total, expected);
	}
	pf_forward_unref(f);
}

static void test_distribution_follows_weights(void **state)
{
	static const uint32_t w1[] = { 5, 1, 1 };
	static const uint32_t w2[] = { 1, 1, 1, 1 };
	static const uint32_t w3[] = { 10, 5, 3, 1, 1 };
	static const uint32_t w4[] = { 100, 1 };
	static const uint32_t w5[] = { 65535, 1000, 3 };
	static const uint32_t w6[] = { 7, 0, 3 };

	(void)state;
	assert_distribution(w1, PF_ARRAY_SIZE(w1));
	assert_distribution(w2, PF_ARRAY_SIZE(w2));
	assert_distribution(w3, PF_ARRAY_SIZE(w3));
	assert_distribution(w4, PF_ARRAY_SIZE(w4));
	assert_distribution(w5, PF_ARRAY_SIZE(w5));
	assert_distribution(w6, PF_ARRAY_SIZE(w6));
}

static void test_retry_skips_tried_backends(void **state)
{
	struct pf_forward *f = FORWARD(5, 1, 1);
	struct pf_tried tried = { { 0 } };
	int k;

	(void)state;
	/* A flow's first attempt, then its retries after failed connects. */
	k = pf_sched_pick(f, &tried, NULL);
	assert_int_equal(k, 0);
	pf_tried_set(&tried, (uint32_t)k);
	k = pf_sched_pick(f, &tried, NULL);
	assert_int_equal(k, 1);
	pf_tried_set(&tried, (uint32_t)k);
	k = pf_sched_pick(f, &tried, NULL);
	assert_int_equal(k, 2);
	pf_tried_set(&tried, (uint32_t)k);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), -1);
	pf_forward_unref(f);
}

static void test_retry_goes_to_next_best(void **state)
{
	struct pf_forward *f = FORWARD(1, 1, 4);
	struct pf_tried tried = { { 0 } };

	(void)state;
	/* Without c, the choice is between a and b only. */
	pf_tried_set(&tried, 2);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 0);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 1);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 0);
	pf_forward_unref(f);
}

static void test_tried_set_beyond_64_backends(void **state)
{
	uint32_t w[PF_BACKENDS_MAX];
	struct pf_tried tried = { { 0 } };
	struct pf_forward *f;
	uint32_t i;

	(void)state;
	for (i = 0; i < PF_BACKENDS_MAX; i++)
		w[i] = 1;
	f = forward_with(w, PF_BACKENDS_MAX);
	for (i = 0; i < PF_BACKENDS_MAX; i++)
		if (i != 130)
			pf_tried_set(&tried, i);
	assert_true(pf_tried_has(&tried, 255));
	assert_false(pf_tried_has(&tried, 130));
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 130);
	pf_tried_set(&tried, 130);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), -1);
	pf_forward_unref(f);
}

static void test_weight_zero_never_picked_while_others_left(void **state)
{
	struct pf_forward *f = FORWARD(1, 0, 1);
	struct pf_tried tried = { { 0 } };
	int i;

	(void)state;
	for (i = 0; i < 100; i++)
		assert_int_not_equal(pf_sched_pick(f, &none, NULL), 1);
	pf_tried_set(&tried, 0);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 2);
	pf_forward_unref(f);
}

static void test_weight_zero_spare_when_all_weighted_tried(void **state)
{
	struct pf_forward *f = FORWARD(0, 3, 0, 1);
	struct pf_tried tried = { { 0 } };

	(void)state;
	pf_tried_set(&tried, 1);
	pf_tried_set(&tried, 3);
	/* Spares in their order. */
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 0);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 0);
	pf_tried_set(&tried, 0);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 2);
	pf_tried_set(&tried, 2);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), -1);
	pf_forward_unref(f);
}

static void test_only_spares(void **state)
{
	struct pf_forward *f = FORWARD(0, 0);
	struct pf_tried tried = { { 0 } };

	(void)state;
	assert_int_equal(pf_sched_pick(f, &none, NULL), 0);
	assert_int_equal(pf_sched_pick(f, &none, NULL), 0);
	pf_tried_set(&tried, 0);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 1);
	pf_forward_unref(f);
}

static void test_rotation_after_a_retry(void **state)
{
	struct pf_forward *f = FORWARD(1, 1);
	struct pf_tried tried = { { 0 } };
	char seq[8];

	(void)state;
	/*
	 * The failed attempt on a was a's turn; the retry on b is charged only
	 * the weight of the backends left (b's own), so b keeps its turn and the
	 * next fresh flows go b, a, b, a.
	 */
	assert_int_equal(pf_sched_pick(f, &none, NULL), 0);
	pf_tried_set(&tried, 0);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 1);
	picks(f, 4, seq);
	assert_string_equal(seq, "baba");
	pf_forward_unref(f);
}

/* Passive check: a backend whose connect just failed is held down a while. */
static void hold_down(struct pf_forward *f, uint32_t i, int64_t ms_from_now)
{
	atomic_store(&f->be[i].st->down_until_ms, (uint64_t)((int64_t)pf_now_ms() + ms_from_now));
}

static void test_down_backend_skipped(void **state)
{
	struct pf_forward *f = FORWARD(5, 1, 1);
	char seq[32];

	(void)state;
	hold_down(f, 0, 60000);
	picks(f, 6, seq);
	assert_string_equal(seq, "bcbcbc");
	pf_forward_unref(f);
}

static void test_down_hold_expires(void **state)
{
	struct pf_forward *f = FORWARD(5, 1, 1);
	char seq[32];

	(void)state;
	hold_down(f, 0, -1000);
	picks(f, 7, seq);
	assert_string_equal(seq, "aabacaa");
	pf_forward_unref(f);
}

static void test_all_down_still_picked(void **state)
{
	struct pf_forward *f = FORWARD(5, 1, 1);
	char seq[32];

	(void)state;
	/* Trying a backend that just failed beats dropping the client. */
	hold_down(f, 0, 60000);
	hold_down(f, 1, 60000);
	hold_down(f, 2, 60000);
	picks(f, 7, seq);
	assert_string_equal(seq, "aabacaa");
	pf_forward_unref(f);
}

static void test_down_backend_used_when_the_others_were_tried(void **state)
{
	struct pf_forward *f = FORWARD(1, 1, 0);
	struct pf_tried tried = { { 0 } };

	(void)state;
	hold_down(f, 0, 60000);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 1);
	pf_tried_set(&tried, 1);
	/* A held-down weighted backend comes before a spare. */
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 0);
	pf_tried_set(&tried, 0);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 2);
	pf_tried_set(&tried, 2);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), -1);
	pf_forward_unref(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smooth_5_1_1),
		cmocka_unit_test(test_equal_weights_round_robin),
		cmocka_unit_test(test_smooth_3_2),
		cmocka_unit_test(test_single_backend),
		cmocka_unit_test(test_distribution_follows_weights),
		cmocka_unit_test(test_retry_skips_tried_backends),
		cmocka_unit_test(test_retry_goes_to_next_best),
		cmocka_unit_test(test_tried_set_beyond_64_backends),
		cmocka_unit_test(test_weight_zero_never_picked_while_others_left),
		cmocka_unit_test(test_weight_zero_spare_when_all_weighted_tried),
		cmocka_unit_test(test_only_spares),
		cmocka_unit_test(test_rotation_after_a_retry),
		cmocka_unit_test(test_down_backend_skipped),
		cmocka_unit_test(test_down_hold_expires),
		cmocka_unit_test(test_all_down_still_picked),
		cmocka_unit_test(test_down_backend_used_when_the_others_were_tried),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
