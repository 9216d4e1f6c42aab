// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the backend choice: smooth weighted round robin, retries that
 * skip the backends a flow already tried, and weight-0 spares; the pref
 * (ipmasqadm), rr, leastconn, source and maglev schedulers, forced rotation
 * ('portfw schedule'), and the candidate rules every scheduler shares: admin
 * state, health and agent checks, backups, the passive check's hold, spares and
 * the agent's weight scaling.
 */
#include "common/pf_hash.h"
#include "common/pf_sched.h"
#include "common/pf_table.h"
#include "common/pf_util.h"

#include <arpa/inet.h>
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

	f->conf.protos = PF_PROTO_TCP;
	f->conf.lport_lo = f->conf.lport_hi = 80;
	f->nbe = n;
	f->be = pf_xcalloc(n, sizeof(*f->be));
	for (i = 0; i < n; i++) {
		{
			char h[2] = { (char)('a' + (int)(i % 26)), '\0' };

			f->be[i].conf.host = pf_xstrdup(h);
		}
		f->be[i].conf.weight = weights[i];
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

/* ==== helpers for the schedulers ==== */

static const uint8_t all_balances[] = {
	PF_BAL_WRR, PF_BAL_PREF, PF_BAL_RR, PF_BAL_LEASTCONN, PF_BAL_SOURCE, PF_BAL_MAGLEV,
};

#define FORWARD_BAL(bal, ...)                                                  \
	({                                                                     \
		static const uint32_t w_[] = { __VA_ARGS__ };                  \
		struct pf_forward *f_ = forward_with(w_, (uint32_t)PF_ARRAY_SIZE(w_)); \
		f_->conf.balance = (bal);                                           \
		f_;                                                            \
	})

/* A client a.b.c.d:port (a is host order). */
static union pf_sa v4(uint32_t a, uint16_t port)
{
	union pf_sa sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin.sin_family = AF_INET;
	sa.sin.sin_addr.s_addr = htonl(a);
	sa.sin.sin_port = htons(port);
	return sa;
}

/* The same client as a dual-stack listener sees it: ::ffff:a.b.c.d. */
static union pf_sa v4mapped(uint32_t a, uint16_t port)
{
	union pf_sa sa;
	uint32_t n = htonl(a);

	memset(&sa, 0, sizeof(sa));
	sa.sin6.sin6_family = AF_INET6;
	sa.sin6.sin6_addr.s6_addr[10] = 0xff;
	sa.sin6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&sa.sin6.sin6_addr.s6_addr[12], &n, 4);
	sa.sin6.sin6_port = htons(port);
	return sa;
}

/* 2001:db8::a (a in the last 32 bits). */
static union pf_sa v6(uint32_t a)
{
	union pf_sa sa;
	uint32_t n = htonl(a);

	memset(&sa, 0, sizeof(sa));
	sa.sin6.sin6_family = AF_INET6;
	sa.sin6.sin6_addr.s6_addr[0] = 0x20;
	sa.sin6.sin6_addr.s6_addr[1] = 0x01;
	sa.sin6.sin6_addr.s6_addr[2] = 0x0d;
	sa.sin6.sin6_addr.s6_addr[3] = 0xb8;
	memcpy(&sa.sin6.sin6_addr.s6_addr[12], &n, 4);
	return sa;
}

#define CLIENT_BASE 0x0a010000u /* 10.1.0.0: clients are CLIENT_BASE + i */

/* n picks of one client, as letters. */
static void picks_for(struct pf_forward *f, const union pf_sa *client, int n, char *out)
{
	int i;

	for (i = 0; i < n; i++) {
		int k = pf_sched_pick(f, &none, client);

		assert_in_range(k, 0, f->nbe - 1);
		out[i] = (char)('a' + k);
	}
	out[n] = '\0';
}

/* One pick for each of the clients CLIENT_BASE + 0 .. n - 1, counted per backend. */
static void count_clients(struct pf_forward *f, int n, int *count)
{
	int i;

	memset(count, 0, f->nbe * sizeof(*count));
	for (i = 0; i < n; i++) {
		union pf_sa c = v4(CLIENT_BASE + (uint32_t)i, 40000);
		int k = pf_sched_pick(f, &none, &c);

		assert_in_range(k, 0, f->nbe - 1);
		count[k]++;
	}
}

static void set_health(struct pf_forward *f, uint32_t i, enum pf_health h)
{
	atomic_store(&f->be[i].st->health, (uint8_t)h);
}

static void set_agent(struct pf_forward *f, uint32_t i, enum pf_agent a, uint32_t pct)
{
	atomic_store(&f->be[i].st->agent, (uint8_t)a);
	atomic_store(&f->be[i].st->agent_pct, pct);
}

static void set_active(struct pf_forward *f, uint32_t i, uint64_t n)
{
	atomic_store(&f->be[i].st->active, n);
}

static void assert_pref(struct pf_forward *f, uint32_t i, uint32_t pos, uint32_t pcnt)
{
	uint32_t p = 99, c = 99;

	pf_sched_pref_info(f, i, &p, &c);
	if (p != pos || c != pcnt)
		fail_msg("backend %c: position %u, pcnt %u; expected position %u, pcnt %u",
			 'a' + (int)i, p, c, pos, pcnt);
}

/* A string of runs: ("a", 15, "b", 5, NULL) -> "aaaaaaaaaaaaaaabbbbb". */
static void runs(char *out, ...)
{
	va_list ap;
	const char *s;

	va_start(ap, out);
	while ((s = va_arg(ap, const char *))) {
		int n = va_arg(ap, int);

		while (n--)
			*out++ = *s;
	}
	*out = '\0';
	va_end(ap);
}

/* ==== pref: ipmasqadm's preference counting ==== */

static void test_pref_15_5(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_PREF, 15, 5);
	char seq[256], want[256];
	int i, n[2] = { 0, 0 };

	(void)state;
	/* Before any flow: counters at their pref, list order. */
	assert_pref(f, 0, 0, 15);
	assert_pref(f, 1, 1, 5);
	picks(f, 14, seq);
	runs(want, "a", 14, NULL);
	assert_string_equal(seq, want);
	assert_pref(f, 0, 0, 1);
	assert_pref(f, 1, 1, 5);
	/* The 15th flow takes a's counter to 0: reset, a moves to the end. */
	picks(f, 1, seq);
	assert_string_equal(seq, "a");
	assert_pref(f, 0, 1, 15);
	assert_pref(f, 1, 0, 5);
	picks(f, 2, seq);
	assert_string_equal(seq, "bb");
	assert_pref(f, 1, 0, 3);
	picks(f, 3, seq);
	assert_string_equal(seq, "bbb");
	assert_pref(f, 0, 0, 15);
	assert_pref(f, 1, 1, 5);
	/* And again: 15 a, 5 b, 15 a, 5 b. */
	picks(f, 40, seq);
	runs(want, "a", 15, "b", 5, "a", 15, "b", 5, NULL);
	assert_string_equal(seq, want);
	for (i = 0; i < 200; i++)
		n[pf_sched_pick(f, &none, NULL)]++;
	assert_int_equal(n[0], 150);
	assert_int_equal(n[1], 50);
	pf_forward_unref(f);
}

static void test_pref_three_backends(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_PREF, 3, 1, 2);
	char seq[32];

	(void)state;
	picks(f, 12, seq);
	assert_string_equal(seq, "aaabccaaabcc");
	/* Clients and their addresses play no part. */
	{
		union pf_sa c = v4(CLIENT_BASE, 1);

		picks_for(f, &c, 6, seq);
		assert_string_equal(seq, "aaabcc");
	}
	pf_forward_unref(f);
}

static void test_pref_zero_never_rotates(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_PREF, 0, 5);
	char seq[128], want[128];

	(void)state;
	/* pref 0: failover order, the head keeps every flow. */
	picks(f, 100, seq);
	runs(want, "a", 100, NULL);
	assert_string_equal(seq, want);
	assert_pref(f, 0, 0, 0);
	assert_pref(f, 1, 1, 5);
	/* a fails: b takes the flows, counting down and rotating behind a. */
	set_health(f, 0, PF_HEALTH_DOWN);
	picks(f, 12, seq);
	runs(want, "b", 12, NULL);
	assert_string_equal(seq, want);
	assert_pref(f, 0, 0, 0);
	assert_pref(f, 1, 1, 3);
	/* a is back: first in the list again. */
	set_health(f, 0, PF_HEALTH_UP);
	picks(f, 3, seq);
	assert_string_equal(seq, "aaa");
	pf_forward_unref(f);
}

static void test_pref_zero_at_the_head_stays(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_PREF, 2, 0, 1);
	char seq[32];

	(void)state;
	/* a rotates behind c; b (pref 0) is then the head and never moves. */
	picks(f, 10, seq);
	assert_string_equal(seq, "aabbbbbbbb");
	assert_pref(f, 0, 2, 2);
	assert_pref(f, 1, 0, 0);
	assert_pref(f, 2, 1, 1);
	/* Until 'schedule' moves it. */
	assert_int_equal(pf_sched_rotate(f), 0);
	assert_pref(f, 1, 2, 0);
	picks(f, 4, seq);
	assert_string_equal(seq, "caab");
	pf_forward_unref(f);
}

static void test_pref_skips_unusable_backends(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_PREF, 2, 2, 2);
	char seq[32];

	(void)state;
	f->be[1].conf.admin = PF_ADMIN_DRAIN;
	picks(f, 8, seq);
	assert_string_equal(seq, "aaccaacc");
	/* b kept its counter and drifted to the head of the list. */
	assert_pref(f, 1, 0, 2);
	assert_pref(f, 0, 1, 2);
	assert_pref(f, 2, 2, 2);
	f->be[1].conf.admin = PF_ADMIN_ENABLED;
	picks(f, 6, seq);
	assert_string_equal(seq, "bbaacc");
	pf_forward_unref(f);
}

static void test_pref_retry_takes_the_next_in_order(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_PREF, 3, 3, 3);
	struct pf_tried tried = { { 0 } };
	char seq[32];

	(void)state;
	pf_tried_set(&tried, 0);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 1);
	assert_pref(f, 0, 0, 3);
	assert_pref(f, 1, 1, 2);
	pf_tried_set(&tried, 1);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 2);
	pf_tried_set(&tried, 2);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), -1);
	picks(f, 8, seq);
	assert_string_equal(seq, "aaabbcca");
	pf_forward_unref(f);
}

static void test_pref_rotate(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_PREF, 15, 5);
	char seq[64], want[64];

	(void)state;
	picks(f, 3, seq);
	assert_string_equal(seq, "aaa");
	assert_pref(f, 0, 0, 12);
	/* mfw -S: the head moves to the end, its counter reset. */
	assert_int_equal(pf_sched_rotate(f), 0);
	assert_pref(f, 0, 1, 15);
	assert_pref(f, 1, 0, 5);
	picks(f, 20, seq);
	runs(want, "b", 5, "a", 15, NULL);
	assert_string_equal(seq, want);
	/* b is the head now; twice around is where we started. */
	assert_int_equal(pf_sched_rotate(f), 0);
	assert_int_equal(pf_sched_rotate(f), 0);
	assert_pref(f, 0, 1, 15);
	assert_pref(f, 1, 0, 5);
	pf_forward_unref(f);
}

static void test_pref_rotate_before_any_flow(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_PREF, 2, 2, 2);
	char seq[16];

	(void)state;
	assert_int_equal(pf_sched_rotate(f), 0);
	assert_pref(f, 0, 2, 2);
	assert_pref(f, 1, 0, 2);
	assert_pref(f, 2, 1, 2);
	picks(f, 6, seq);
	assert_string_equal(seq, "bbccaa");
	pf_forward_unref(f);
}

static void test_rotate_other_schedulers(void **state)
{
	static const uint8_t other[] = { PF_BAL_WRR, PF_BAL_LEASTCONN, PF_BAL_SOURCE,
					 PF_BAL_MAGLEV };
	size_t b;

	(void)state;
	for (b = 0; b < PF_ARRAY_SIZE(other); b++) {
		struct pf_forward *f = FORWARD_BAL(other[b], 5, 1, 1);
		char seq[16];

		assert_int_equal(pf_sched_rotate(f), -1);
		/* ...and the schedule is as it was (no client: the wrr order). */
		picks(f, 7, seq);
		assert_string_equal(seq, "aabacaa");
		pf_forward_unref(f);
	}
}

/* ==== rr ==== */

static void test_rr_order_ignores_weights(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_RR, 5, 1, 1);
	char seq[16];

	(void)state;
	picks(f, 7, seq);
	assert_string_equal(seq, "abcabca");
	pf_forward_unref(f);
}

static void test_rr_skips_unusable(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_RR, 1, 1, 1, 1);
	struct pf_tried tried = { { 0 } };
	char seq[16];

	(void)state;
	f->be[2].conf.admin = PF_ADMIN_DISABLED;
	picks(f, 6, seq);
	assert_string_equal(seq, "abdabd");
	/* A retry goes on from where the failed attempt was. */
	assert_int_equal(pf_sched_pick(f, &none, NULL), 0);
	pf_tried_set(&tried, 0);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 1);
	picks(f, 3, seq);
	assert_string_equal(seq, "dab");
	pf_forward_unref(f);
}

static void test_rr_rotate(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_RR, 1, 1, 1);
	char seq[16];

	(void)state;
	assert_int_equal(pf_sched_rotate(f), 0);
	picks(f, 3, seq);
	assert_string_equal(seq, "bca");
	assert_int_equal(pf_sched_rotate(f), 0);
	picks(f, 4, seq);
	assert_string_equal(seq, "cabc");
	/* Many rotations wrap around. */
	assert_int_equal(pf_sched_rotate(f), 0);
	assert_int_equal(pf_sched_rotate(f), 0);
	assert_int_equal(pf_sched_rotate(f), 0);
	picks(f, 2, seq);
	assert_string_equal(seq, "ab");
	pf_forward_unref(f);
}

/* ==== leastconn ==== */

static void test_leastconn_fewest_active(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_LEASTCONN, 1, 1, 1);
	char seq[16];

	(void)state;
	set_active(f, 0, 5);
	set_active(f, 1, 2);
	set_active(f, 2, 7);
	picks(f, 5, seq);
	assert_string_equal(seq, "bbbbb");
	set_active(f, 1, 9);
	picks(f, 3, seq);
	assert_string_equal(seq, "aaa");
	set_active(f, 2, 4);
	picks(f, 3, seq);
	assert_string_equal(seq, "ccc");
	pf_forward_unref(f);
}

static void test_leastconn_per_unit_of_weight(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_LEASTCONN, 2, 1);
	char seq[16];

	(void)state;
	set_active(f, 0, 4); /* 2 per unit of weight */
	set_active(f, 1, 3); /* 3 */
	picks(f, 3, seq);
	assert_string_equal(seq, "aaa");
	set_active(f, 0, 7); /* 3.5 */
	picks(f, 3, seq);
	assert_string_equal(seq, "bbb");
	/* 6/2 == 3/1: a tie, shared 2:1 by weighted round robin. */
	set_active(f, 0, 6);
	picks(f, 6, seq);
	assert_string_equal(seq, "abaaba");
	pf_forward_unref(f);
}

static void test_leastconn_idle_pool_shares_by_weight(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_LEASTCONN, 3, 1);
	int i, n[2] = { 0, 0 };
	char seq[16];

	(void)state;
	picks(f, 4, seq);
	assert_string_equal(seq, "aaba");
	for (i = 0; i < 400; i++)
		n[pf_sched_pick(f, &none, NULL)]++;
	assert_int_equal(n[0], 300);
	assert_int_equal(n[1], 100);
	pf_forward_unref(f);
}

static void test_leastconn_retry_takes_the_next_least(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_LEASTCONN, 1, 1, 1);
	struct pf_tried tried = { { 0 } };

	(void)state;
	set_active(f, 0, 0);
	set_active(f, 1, 9);
	set_active(f, 2, 5);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 0);
	pf_tried_set(&tried, 0);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 2);
	pf_tried_set(&tried, 2);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), 1);
	pf_tried_set(&tried, 1);
	assert_int_equal(pf_sched_pick(f, &tried, NULL), -1);
	pf_forward_unref(f);
}

static void test_leastconn_agent_weight(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_LEASTCONN, 4, 4);
	char seq[16];

	(void)state;
	/* 6 flows on weight 4 (1.5) against 3 on weight 4 * 25 % = 1 (3). */
	set_active(f, 0, 6);
	set_active(f, 1, 3);
	set_agent(f, 1, PF_AGENT_UP, 25);
	picks(f, 3, seq);
	assert_string_equal(seq, "aaa");
	set_agent(f, 1, PF_AGENT_UP, 100); /* 0.75 */
	picks(f, 3, seq);
	assert_string_equal(seq, "bbb");
	pf_forward_unref(f);
}

/* ==== source ==== */

static void test_source_same_client_same_backend(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_SOURCE, 1, 1, 1, 1);
	int seen[4] = { 0 }, i, j;

	(void)state;
	for (i = 0; i < 100; i++) {
		union pf_sa c = v4(CLIENT_BASE + (uint32_t)i * 7, 1000);
		int k = pf_sched_pick(f, &none, &c);

		assert_in_range(k, 0, 3);
		seen[k]++;
		/* Another connection of the client (another port): the same backend. */
		for (j = 0; j < 20; j++) {
			union pf_sa d = v4(CLIENT_BASE + (uint32_t)i * 7, (uint16_t)(2000 + j));

			assert_int_equal(pf_sched_pick(f, &none, &d), k);
		}
	}
	for (i = 0; i < 4; i++)
		assert_true(seen[i] > 0);
	pf_forward_unref(f);
}

static void test_source_v4_mapped_is_the_same_client(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_SOURCE, 1, 1, 1);
	int i, same_as_v6 = 0;

	(void)state;
	for (i = 0; i < 500; i++) {
		union pf_sa a = v4(CLIENT_BASE + (uint32_t)i, 1);
		union pf_sa m = v4mapped(CLIENT_BASE + (uint32_t)i, 2);
		union pf_sa s = v6(CLIENT_BASE + (uint32_t)i);

		assert_true(pf_sched_client_slot(&a, 1000003) == pf_sched_client_slot(&m, 1000003));
		assert_int_equal(pf_sched_pick(f, &none, &a), pf_sched_pick(f, &none, &m));
		/* A native IPv6 address with the same low bits is another client. */
		same_as_v6 += pf_sched_client_slot(&a, 1000003) == pf_sched_client_slot(&s, 1000003);
	}
	assert_int_equal(same_as_v6, 0);
	pf_forward_unref(f);
}

static void test_source_spread_follows_weights(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_SOURCE, 3, 1);
	int n[2];

	(void)state;
	count_clients(f, 2000, n);
	/* Shares of 75 % and 25 %, each within 5 % (of the clients). */
	if (n[0] < 1400 || n[0] > 1600 || n[0] + n[1] != 2000)
		fail_msg("2000 clients on weights 3:1: %d and %d; expected 1500 and 500 +-100",
			 n[0], n[1]);
	pf_forward_unref(f);
}

static void test_source_without_client_is_wrr(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_SOURCE, 3, 1);
	char seq[16];

	(void)state;
	picks(f, 8, seq);
	assert_string_equal(seq, "aabaaaba");
	pf_forward_unref(f);
}

static void test_source_retry_and_unusable(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_SOURCE, 1, 1, 1);
	int i;

	(void)state;
	f->be[1].conf.admin = PF_ADMIN_DRAIN;
	for (i = 0; i < 300; i++) {
		union pf_sa c = v4(CLIENT_BASE + (uint32_t)i, 1);
		struct pf_tried tried = { { 0 } };
		int k = pf_sched_pick(f, &tried, &c), k2;

		assert_true(k == 0 || k == 2);
		pf_tried_set(&tried, (uint32_t)k);
		k2 = pf_sched_pick(f, &tried, &c);
		assert_int_equal(k2, 2 - k);
		pf_tried_set(&tried, (uint32_t)k2);
		assert_int_equal(pf_sched_pick(f, &tried, &c), -1);
	}
	pf_forward_unref(f);
}

/* ==== maglev ==== */

static void test_maglev_spread_equal_weights(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_MAGLEV, 1, 1, 1, 1, 1);
	int n[5], i;

	(void)state;
	count_clients(f, 2000, n);
	for (i = 0; i < 5; i++)
		if (n[i] < 340 || n[i] > 460)
			fail_msg("backend %c: %d of 2000 clients; expected 400 +-15 %%", 'a' + i,
				 n[i]);
	pf_forward_unref(f);
}

static void test_maglev_same_client_same_backend(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_MAGLEV, 1, 1, 1, 1, 1);
	int i, j;

	(void)state;
	for (i = 0; i < 200; i++) {
		union pf_sa c = v4(CLIENT_BASE + (uint32_t)i * 13, 1);
		union pf_sa m = v4mapped(CLIENT_BASE + (uint32_t)i * 13, 9);
		int k = pf_sched_pick(f, &none, &c);

		assert_in_range(k, 0, 4);
		for (j = 0; j < 5; j++)
			assert_int_equal(pf_sched_pick(f, &none, &c), k);
		assert_int_equal(pf_sched_pick(f, &none, &m), k);
	}
	pf_forward_unref(f);
}

static void test_maglev_removal_moves_only_its_clients(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_MAGLEV, 1, 1, 1, 1, 1);
	struct pf_forward *g = FORWARD_BAL(PF_BAL_MAGLEV, 1, 1, 1, 1);
	int i, others = 0, moved = 0, of_d = 0;

	(void)state;
	/* g: the same pool without d (a, b, c, e). */
	pf_xstrset(&g->be[3].conf.host, "e");
	for (i = 0; i < 2000; i++) {
		union pf_sa c = v4(CLIENT_BASE + (uint32_t)i, 1);
		const char *before = f->be[pf_sched_pick(f, &none, &c)].conf.host;
		const char *after = g->be[pf_sched_pick(g, &none, &c)].conf.host;

		if (!strcmp(before, "d")) {
			of_d++;
			assert_string_not_equal(after, "d");
			continue;
		}
		others++;
		moved += strcmp(before, after) != 0;
	}
	assert_in_range(of_d, 340, 460);
	if (moved * 100 >= others * 2)
		fail_msg("removing d moved %d of the %d clients of the other backends", moved,
			 others);
	pf_forward_unref(g);
	pf_forward_unref(f);
}

/* A backend that cannot take flows (disabled, down) moves its own clients
 * and no other: the others' slots stay where they were. */
static void test_maglev_down_backend_moves_only_its_clients(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_MAGLEV, 1, 1, 1, 1, 1);
	int before[2000], i, of_d = 0, n[5] = { 0 };

	(void)state;
	for (i = 0; i < 2000; i++) {
		union pf_sa c = v4(CLIENT_BASE + (uint32_t)i, 1);

		before[i] = pf_sched_pick(f, &none, &c);
		assert_in_range(before[i], 0, 4);
	}
	f->be[3].conf.admin = PF_ADMIN_DISABLED;
	for (i = 0; i < 2000; i++) {
		union pf_sa c = v4(CLIENT_BASE + (uint32_t)i, 1);
		int k = pf_sched_pick(f, &none, &c);

		if (before[i] == 3) {
			of_d++;
			assert_int_not_equal(k, 3);
			n[k]++;
		} else {
			assert_int_equal(k, before[i]);
		}
	}
	/* d's clients spread over the four others. */
	for (i = 0; i < 5; i++)
		if (i != 3 && (n[i] < of_d / 8 || n[i] > of_d / 2))
			fail_msg("backend %c took %d of d's %d clients", 'a' + i, n[i], of_d);
	f->be[3].conf.admin = PF_ADMIN_ENABLED;
	for (i = 0; i < 2000; i++) {
		union pf_sa c = v4(CLIENT_BASE + (uint32_t)i, 1);

		assert_int_equal(pf_sched_pick(f, &none, &c), before[i]);
	}
	pf_forward_unref(f);
}

/* Both engines and every gateway: the slot is nft's 'jhash ip saddr mod N
 * seed 0x5eed', source takes the weights' ranges of it in backend order
 * (the kernel engine's map), maglev a table of a size both compute. */
static void test_source_is_the_kernel_map(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_SOURCE, 2, 1, 3);
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		union pf_sa c = v4(CLIENT_BASE + (uint32_t)i * 7, 1);
		uint32_t a = htonl(CLIENT_BASE + (uint32_t)i * 7);
		uint32_t slot = pf_jhash_scale(pf_jhash(&a, 4, 0x5eed), 6);

		assert_int_equal(pf_sched_client_slot(&c, 6), slot);
		assert_int_equal(pf_sched_pick(f, &none, &c), slot < 2 ? 0 : slot < 3 ? 1 : 2);
	}
	assert_int_equal(pf_maglev_size(f), 4099);
	pf_forward_unref(f);
}

static void test_maglev_retry_returns_another_backend(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_MAGLEV, 1, 1, 1, 1, 1);
	int i, n;

	(void)state;
	for (i = 0; i < 200; i++) {
		union pf_sa c = v4(CLIENT_BASE + (uint32_t)i * 3, 1);
		struct pf_tried tried = { { 0 } };
		int k = pf_sched_pick(f, &tried, &c), k2;

		pf_tried_set(&tried, (uint32_t)k);
		k2 = pf_sched_pick(f, &tried, &c);
		assert_in_range(k2, 0, 4);
		assert_int_not_equal(k2, k);
		/* Consistent too: the same retry for the same client. */
		assert_int_equal(pf_sched_pick(f, &tried, &c), k2);
		/* And the first choice is still the first choice. */
		assert_int_equal(pf_sched_pick(f, &none, &c), k);
		for (n = 2; n < 5; n++) {
			pf_tried_set(&tried, (uint32_t)k2);
			k2 = pf_sched_pick(f, &tried, &c);
			assert_in_range(k2, 0, 4);
			assert_false(pf_tried_has(&tried, (uint32_t)k2));
		}
		pf_tried_set(&tried, (uint32_t)k2);
		assert_int_equal(pf_sched_pick(f, &tried, &c), -1);
	}
	pf_forward_unref(f);
}

static void test_maglev_weights(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_MAGLEV, 2, 1);
	int n[2];

	(void)state;
	/* a claims 16 slots a turn, b 8: two thirds of the table and of the clients. */
	count_clients(f, 2000, n);
	if (n[0] < 1233 || n[0] > 1433 || n[0] + n[1] != 2000)
		fail_msg("2000 clients on weights 2:1: %d and %d; expected 1333 and 667 +-100",
			 n[0], n[1]);
	pf_forward_unref(f);
}

static void test_maglev_follows_agent_weight(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_MAGLEV, 4, 4);
	struct pf_forward *g = FORWARD_BAL(PF_BAL_MAGLEV, 4, 4);
	int i, differ = 0;

	(void)state;
	/*
	 * The maglev table follows the agent check's weights, not only the set
	 * of usable backends: f, built at 4:4, must spread as g does once the
	 * agent said 25 % (1:4).
	 */
	for (i = 0; i < 100; i++) {
		union pf_sa c = v4(CLIENT_BASE + (uint32_t)i, 1);

		assert_in_range(pf_sched_pick(f, &none, &c), 0, 1);
	}
	set_agent(f, 0, PF_AGENT_UP, 25);
	set_agent(g, 0, PF_AGENT_UP, 25);
	for (i = 0; i < 2000; i++) {
		union pf_sa c = v4(CLIENT_BASE + (uint32_t)i, 1);

		differ += pf_sched_pick(f, &none, &c) != pf_sched_pick(g, &none, &c);
	}
	pf_forward_unref(g);
	pf_forward_unref(f);
	if (differ)
		fail_msg("%d of 2000 clients go elsewhere than on a fresh table with the agent's "
			 "weights",
			 differ);
}

static void test_maglev_without_client_is_wrr(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_MAGLEV, 3, 1);
	char seq[16];

	(void)state;
	picks(f, 8, seq);
	assert_string_equal(seq, "aabaaaba");
	pf_forward_unref(f);
}

/* ==== the candidates, for every scheduler ==== */

/* 40 picks (clients varied) must all be in the set 'allowed' ("bd"); each
 * backend of 'must' must be among them. */
static void assert_picks_among(struct pf_forward *f, const char *allowed, const char *must)
{
	bool seen[26] = { false };
	int i;

	for (i = 0; i < 40; i++) {
		union pf_sa c = v4(CLIENT_BASE + (uint32_t)i * 101, 1);
		int k = pf_sched_pick(f, &none, &c);

		if (k < 0 || !strchr(allowed, 'a' + k))
			fail_msg("%s: picked %d; expected one of %s",
				 pf_balance_name(f->conf.balance),
				 k, allowed);
		seen[k] = true;
	}
	for (; *must; must++)
		if (!seen[*must - 'a'])
			fail_msg("%s: %c never picked",
			         pf_balance_name(f->conf.balance), *must);
}

/* With every backend in 'tried_set' tried, a retry picks one of 'expected'
 * ("" for none: -1). */
static void assert_retry(struct pf_forward *f, const char *tried_set, const char *expected)
{
	struct pf_tried tried = { { 0 } };
	union pf_sa c = v4(CLIENT_BASE, 1);
	int k;

	for (; *tried_set; tried_set++)
		pf_tried_set(&tried, (uint32_t)(*tried_set - 'a'));
	k = pf_sched_pick(f, &tried, &c);
	if (!*expected ? k != -1 : (k < 0 || !strchr(expected, 'a' + k)))
		fail_msg("%s: retry picked %d; expected %s",
		         pf_balance_name(f->conf.balance), k,
			 *expected ? expected : "none (-1)");
}

static void test_drain_and_disabled_never_picked(void **state)
{
	size_t b;

	(void)state;
	for (b = 0; b < PF_ARRAY_SIZE(all_balances); b++) {
		struct pf_forward *f = FORWARD_BAL(all_balances[b], 1, 1, 1, 1);

		f->be[0].conf.admin = PF_ADMIN_DRAIN;
		f->be[2].conf.admin = PF_ADMIN_DISABLED;
		assert_picks_among(f, "bd", "bd");
		assert_retry(f, "bd", "");
		/* Not even as spares or last resorts. */
		f->be[1].conf.weight = f->be[3].conf.weight = 0;
		assert_retry(f, "bd", "");
		pf_forward_unref(f);
	}
}

static void test_health_and_agent_down_never_picked(void **state)
{
	size_t b;

	(void)state;
	for (b = 0; b < PF_ARRAY_SIZE(all_balances); b++) {
		struct pf_forward *f = FORWARD_BAL(all_balances[b], 1, 1, 1, 1, 1);

		set_health(f, 0, PF_HEALTH_DOWN);
		set_agent(f, 1, PF_AGENT_DRAIN, 100);
		set_agent(f, 2, PF_AGENT_DOWN, 100);
		set_agent(f, 3, PF_AGENT_UP, 100);
		assert_picks_among(f, "de", "de");
		assert_retry(f, "de", "");
		assert_retry(f, "e", "d");
		/* Back up: used again. */
		set_health(f, 0, PF_HEALTH_UP);
		set_agent(f, 2, PF_AGENT_UP, 100);
		assert_picks_among(f, "acde", "");
		assert_retry(f, "cde", "a");
		pf_forward_unref(f);
	}
}

static void test_backup_only_without_usable_primary(void **state)
{
	size_t b;

	(void)state;
	for (b = 0; b < PF_ARRAY_SIZE(all_balances); b++) {
		struct pf_forward *f = FORWARD_BAL(all_balances[b], 1, 1, 1, 1);

		f->be[1].conf.backup = f->be[3].conf.backup = true;
		assert_picks_among(f, "ac", "ac");
		/* A flow that tried every primary goes to a backup. */
		assert_retry(f, "ac", "bd");
		assert_retry(f, "abc", "d");
		assert_retry(f, "abcd", "");
		pf_forward_unref(f);
	}
}

static void test_backups_take_over_and_give_back(void **state)
{
	size_t b;

	(void)state;
	for (b = 0; b < PF_ARRAY_SIZE(all_balances); b++) {
		struct pf_forward *f = FORWARD_BAL(all_balances[b], 1, 1, 1, 1);

		f->be[2].conf.backup = f->be[3].conf.backup = true;
		assert_picks_among(f, "ab", "ab");
		set_health(f, 0, PF_HEALTH_DOWN);
		f->be[1].conf.admin = PF_ADMIN_DRAIN;
		assert_picks_among(f, "cd", "cd");
		assert_retry(f, "cd", "");
		/* One primary is back: the backups stop taking new flows. */
		set_health(f, 0, PF_HEALTH_UP);
		assert_picks_among(f, "a", "a");
		assert_retry(f, "a", "cd");
		pf_forward_unref(f);
	}
}

static void test_backups_in_scheduler_order(void **state)
{
	struct pf_forward *f;
	char seq[16];

	(void)state;
	f = FORWARD_BAL(PF_BAL_WRR, 1, 3, 1);
	f->be[1].conf.backup = f->be[2].conf.backup = true;
	set_health(f, 0, PF_HEALTH_DOWN);
	picks(f, 8, seq);
	assert_string_equal(seq, "bbcbbbcb");
	pf_forward_unref(f);

	f = FORWARD_BAL(PF_BAL_PREF, 1, 2, 1);
	f->be[1].conf.backup = f->be[2].conf.backup = true;
	set_health(f, 0, PF_HEALTH_DOWN);
	picks(f, 6, seq);
	assert_string_equal(seq, "bbcbbc");
	pf_forward_unref(f);

	f = FORWARD_BAL(PF_BAL_RR, 1, 2, 1);
	f->be[1].conf.backup = f->be[2].conf.backup = true;
	set_health(f, 0, PF_HEALTH_DOWN);
	picks(f, 4, seq);
	assert_string_equal(seq, "bcbc");
	pf_forward_unref(f);

	f = FORWARD_BAL(PF_BAL_LEASTCONN, 1, 1, 1);
	f->be[1].conf.backup = f->be[2].conf.backup = true;
	set_health(f, 0, PF_HEALTH_DOWN);
	set_active(f, 1, 3);
	picks(f, 3, seq);
	assert_string_equal(seq, "ccc");
	pf_forward_unref(f);
}

static void test_held_backend_only_as_last_resort(void **state)
{
	size_t b;

	(void)state;
	for (b = 0; b < PF_ARRAY_SIZE(all_balances); b++) {
		struct pf_forward *f = FORWARD_BAL(all_balances[b], 1, 1, 1);

		hold_down(f, 0, 60000);
		assert_picks_among(f, "bc", "bc");
		/* Held: tried after every other one... */
		assert_retry(f, "bc", "a");
		/* ...even after the backups. */
		f->be[2].conf.backup = true;
		assert_picks_among(f, "b", "b");
		assert_retry(f, "b", "c");
		assert_retry(f, "bc", "a");
		/* Everything held: still a backend, primaries first. */
		hold_down(f, 1, 60000);
		hold_down(f, 2, 60000);
		assert_picks_among(f, "ab", "");
		assert_retry(f, "ab", "c");
		/* An expired hold is no hold. */
		hold_down(f, 0, -1);
		hold_down(f, 1, -1);
		assert_picks_among(f, "ab", "");
		pf_forward_unref(f);
	}
}

static void test_spares_after_every_weighted_backend(void **state)
{
	size_t b;

	(void)state;
	for (b = 0; b < PF_ARRAY_SIZE(all_balances); b++) {
		struct pf_forward *f = FORWARD_BAL(all_balances[b], 0, 1, 1, 0);

		if (all_balances[b] == PF_BAL_PREF) {
			/* pref 0 is a preference, not a spare: a is first and stays. */
			assert_picks_among(f, "a", "a");
			assert_retry(f, "a", "b");
			pf_forward_unref(f);
			continue;
		}
		assert_picks_among(f, "bc", "bc");
		assert_retry(f, "b", "c");
		assert_retry(f, "bc", "a");
		assert_retry(f, "abc", "d");
		assert_retry(f, "abcd", "");
		/* A held weighted backend still comes before a spare. */
		hold_down(f, 1, 60000);
		assert_retry(f, "c", "b");
		pf_forward_unref(f);
	}
}

static void test_spare_down_not_picked(void **state)
{
	static const uint8_t bal[] = { PF_BAL_WRR, PF_BAL_RR, PF_BAL_LEASTCONN, PF_BAL_SOURCE,
				       PF_BAL_MAGLEV };
	size_t b;

	(void)state;
	/*
	 * The last resort (weight-0 spares) takes only spares that are up: one
	 * whose health check failed, or whose agent says drain or down, gets
	 * no flow even once the weighted backends were tried.
	 */
	for (b = 0; b < PF_ARRAY_SIZE(bal); b++) {
		struct pf_forward *f = FORWARD_BAL(bal[b], 1, 0, 0, 0);
		struct pf_tried tried = { { 0 } };
		int k;

		set_health(f, 1, PF_HEALTH_DOWN);
		set_agent(f, 2, PF_AGENT_DOWN, 100);
		set_agent(f, 3, PF_AGENT_DRAIN, 100);
		pf_tried_set(&tried, 0);
		k = pf_sched_pick(f, &tried, NULL);
		pf_forward_unref(f);
		if (k != -1)
			fail_msg("%s: a retry after the only usable backend picked %c (%s); "
				 "expected none (-1)",
				 pf_balance_name(bal[b]), 'a' + k,
				 k == 1 ? "health down" : k == 2 ? "agent down" : "agent drain");
	}
}

static void test_agent_pct_zero_never_picked(void **state)
{
	static const uint8_t bal[] = { PF_BAL_WRR, PF_BAL_RR, PF_BAL_LEASTCONN, PF_BAL_SOURCE,
				       PF_BAL_MAGLEV };
	size_t b;

	(void)state;
	for (b = 0; b < PF_ARRAY_SIZE(bal); b++) {
		struct pf_forward *f = FORWARD_BAL(bal[b], 5, 1);

		/* The agent says 0 %: no new flows, not even as a spare. */
		set_agent(f, 0, PF_AGENT_UP, 0);
		assert_picks_among(f, "b", "b");
		assert_retry(f, "b", "");
		pf_forward_unref(f);
	}
}

/* Under pref too: an agent at 0 % takes no new flows (a pref 0 backend,
 * whose weight is a place in the list, not a share, is not scaled). */
static void test_pref_agent_pct_zero_never_picked(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_PREF, 5, 1, 0);

	(void)state;
	set_agent(f, 0, PF_AGENT_UP, 0);
	set_agent(f, 2, PF_AGENT_UP, 0);
	assert_picks_among(f, "bc", "bc");
	assert_retry(f, "bc", "");
	pf_forward_unref(f);
}

/* w as letters and weights: "a5 c1" (the backends that qualify). */
static void usable(const struct pf_forward *f, enum pf_tier tier, bool held,
		   const char *tried_set, const char *want)
{
	struct pf_tried tried = { { 0 } };
	uint32_t w[PF_BACKENDS_MAX], i, n, k = 0;
	char got[256] = "";
	size_t off = 0;

	for (; *tried_set; tried_set++)
		pf_tried_set(&tried, (uint32_t)(*tried_set - 'a'));
	memset(w, 0xff, sizeof(w));
	n = pf_sched_usable(f, tier, held, pf_now_ms(), &tried, w);
	for (i = 0; i < f->nbe; i++) {
		if (!w[i])
			continue;
		off += (size_t)snprintf(got + off, sizeof(got) - off, "%s%c%u", k ? " " : "",
					'a' + (int)i, w[i]);
		k++;
	}
	assert_int_equal(n, k);
	if (strcmp(got, want) != 0)
		fail_msg("%s tier %d held %d: usable '%s'; expected '%s'",
			 pf_balance_name(f->conf.balance), tier, held, got, want);
}

/* The rule both engines share, case by case. */
static void test_usable_rule(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_WRR, 4, 4, 4, 4, 4, 4, 4, 0, 4, 0);

	(void)state;
	f->be[0].conf.admin = PF_ADMIN_DRAIN;
	f->be[1].conf.admin = PF_ADMIN_DISABLED;
	set_health(f, 2, PF_HEALTH_DOWN);
	set_agent(f, 3, PF_AGENT_DRAIN, 100);
	set_agent(f, 4, PF_AGENT_UP, 50); /* 4 x 50 % */
	set_agent(f, 5, PF_AGENT_UP, 0); /* no new flows */
	hold_down(f, 6, 60000); /* the passive check */
	f->be[8].conf.backup = true;
	f->be[9].conf.backup = true; /* a spare, backup or not */

	usable(f, PF_TIER_PRIMARY, false, "", "e2");
	usable(f, PF_TIER_PRIMARY, true, "", "e2 g4");
	usable(f, PF_TIER_PRIMARY, true, "e", "g4");
	usable(f, PF_TIER_BACKUP, false, "", "i4");
	usable(f, PF_TIER_SPARE, false, "", "h1 j1");
	usable(f, PF_TIER_SPARE, false, "h", "j1");
	/* An expired hold is no hold. */
	hold_down(f, 6, -1);
	usable(f, PF_TIER_PRIMARY, false, "", "e2 g4");

	/* pref: weight 0 is a place in the rotation (1), never a spare. */
	f->conf.balance = PF_BAL_PREF;
	usable(f, PF_TIER_PRIMARY, false, "", "e2 g4 h1");
	usable(f, PF_TIER_BACKUP, false, "", "i4 j1");
	usable(f, PF_TIER_SPARE, false, "", "");
	pf_forward_unref(f);
}

/* The kernel engine's pool is the same rule (primaries, else backups; no
 * hold, no spares): what pf_sched_pick takes first. */
static void test_usable_tiers_as_the_kernel_sees_them(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_WRR, 2, 3, 0);

	(void)state;
	f->be[1].conf.backup = true;
	hold_down(f, 0, 60000);
	usable(f, PF_TIER_PRIMARY, true, "", "a2");
	set_health(f, 0, PF_HEALTH_DOWN);
	usable(f, PF_TIER_PRIMARY, true, "", "");
	usable(f, PF_TIER_BACKUP, true, "", "b3");
	assert_picks_among(f, "b", "b");
	pf_forward_unref(f);
}

static void test_agent_pct_scales_wrr(void **state)
{
	struct pf_forward *f = FORWARD(2, 2);
	int i, n[2] = { 0, 0 };
	char seq[16];

	(void)state;
	set_agent(f, 0, PF_AGENT_UP, 50); /* 2 * 50 % = 1 */
	picks(f, 6, seq);
	assert_string_equal(seq, "babbab");
	for (i = 0; i < 300; i++)
		n[pf_sched_pick(f, &none, NULL)]++;
	assert_int_equal(n[0], 100);
	assert_int_equal(n[1], 200);
	pf_forward_unref(f);
}

static void test_agent_pct_scales_source(void **state)
{
	struct pf_forward *f = FORWARD_BAL(PF_BAL_SOURCE, 4, 4);
	int n[2];

	(void)state;
	set_agent(f, 1, PF_AGENT_UP, 300); /* 12: 1:3 */
	count_clients(f, 2000, n);
	if (n[0] < 400 || n[0] > 600 || n[0] + n[1] != 2000)
		fail_msg("2000 clients on weights 4 and 4 * 300 %%: %d and %d; expected 500 and "
			 "1500 +-100",
			 n[0], n[1]);
	pf_forward_unref(f);
}

static void test_eff_weight(void **state)
{
	static const struct {
		uint32_t weight, pct, eff;
	} cases[] = {
		{ 10, 100, 10 },   { 10, 50, 5 },	 { 3, 50, 1 },	   { 199, 50, 99 },
		{ 1, 1, 1 },	   { 1, 99, 1 },	 { 100, 1, 1 },	   { 150, 1, 1 },
		{ 250, 1, 2 },	   { 10, 0, 0 },	 { 0, 100, 0 },	   { 0, 0, 0 },
		{ 0, 300, 0 },	   { 7, 200, 14 },	 { 65535, 100, 65535 },
		{ 65535, 1000, 655350 },		 { 65535, 1, 655 },
	};
	struct pf_backend be;
	size_t i;

	(void)state;
	memset(&be, 0, sizeof(be));
	be.st = pf_stats_new();
	/* A fresh stats object: 100 %. */
	be.conf.weight = 9;
	assert_int_equal(pf_sched_eff_weight(&be), 9);
	for (i = 0; i < PF_ARRAY_SIZE(cases); i++) {
		be.conf.weight = cases[i].weight;
		atomic_store(&be.st->agent_pct, cases[i].pct);
		if (pf_sched_eff_weight(&be) != cases[i].eff)
			fail_msg("weight %u at %u %%: %u; expected %u", cases[i].weight,
				 cases[i].pct, pf_sched_eff_weight(&be), cases[i].eff);
	}
	pf_stats_unref(be.st);
	/* Without stats: the weight as configured. */
	be.st = NULL;
	be.conf.weight = 42;
	assert_int_equal(pf_sched_eff_weight(&be), 42);
}

static void test_client_hash(void **state)
{
	union pf_sa a = v4(0x0a000001, 1), b = v4(0x0a000001, 2), c = v4(0x0a000002, 1);
	union pf_sa m = v4mapped(0x0a000001, 3), s = v6(0x0a000001);

	(void)state;
	assert_true(pf_sched_client_slot(&a, 1000003) == pf_sched_client_slot(&b, 1000003));
	assert_true(pf_sched_client_slot(&a, 1000003) == pf_sched_client_slot(&m, 1000003));
	assert_true(pf_sched_client_slot(&a, 1000003) != pf_sched_client_slot(&c, 1000003));
	assert_true(pf_sched_client_slot(&a, 1000003) != pf_sched_client_slot(&s, 1000003));
}

static void test_pick_without_backends_usable_returns_minus_one(void **state)
{
	size_t b;

	(void)state;
	for (b = 0; b < PF_ARRAY_SIZE(all_balances); b++) {
		struct pf_forward *f = FORWARD_BAL(all_balances[b], 1, 2);
		union pf_sa c = v4(CLIENT_BASE, 1);

		f->be[0].conf.admin = PF_ADMIN_DISABLED;
		set_health(f, 1, PF_HEALTH_DOWN);
		assert_int_equal(pf_sched_pick(f, &none, &c), -1);
		assert_int_equal(pf_sched_pick(f, NULL, NULL), -1);
		pf_forward_unref(f);
	}
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

		cmocka_unit_test(test_pref_15_5),
		cmocka_unit_test(test_pref_three_backends),
		cmocka_unit_test(test_pref_zero_never_rotates),
		cmocka_unit_test(test_pref_zero_at_the_head_stays),
		cmocka_unit_test(test_pref_skips_unusable_backends),
		cmocka_unit_test(test_pref_retry_takes_the_next_in_order),
		cmocka_unit_test(test_pref_rotate),
		cmocka_unit_test(test_pref_rotate_before_any_flow),
		cmocka_unit_test(test_rotate_other_schedulers),
		cmocka_unit_test(test_rr_order_ignores_weights),
		cmocka_unit_test(test_rr_skips_unusable),
		cmocka_unit_test(test_rr_rotate),
		cmocka_unit_test(test_leastconn_fewest_active),
		cmocka_unit_test(test_leastconn_per_unit_of_weight),
		cmocka_unit_test(test_leastconn_idle_pool_shares_by_weight),
		cmocka_unit_test(test_leastconn_retry_takes_the_next_least),
		cmocka_unit_test(test_leastconn_agent_weight),
		cmocka_unit_test(test_source_same_client_same_backend),
		cmocka_unit_test(test_source_v4_mapped_is_the_same_client),
		cmocka_unit_test(test_source_spread_follows_weights),
		cmocka_unit_test(test_source_without_client_is_wrr),
		cmocka_unit_test(test_source_retry_and_unusable),
		cmocka_unit_test(test_maglev_spread_equal_weights),
		cmocka_unit_test(test_maglev_same_client_same_backend),
		cmocka_unit_test(test_maglev_removal_moves_only_its_clients),
		cmocka_unit_test(test_maglev_down_backend_moves_only_its_clients),
		cmocka_unit_test(test_source_is_the_kernel_map),
		cmocka_unit_test(test_maglev_retry_returns_another_backend),
		cmocka_unit_test(test_maglev_weights),
		cmocka_unit_test(test_maglev_follows_agent_weight),
		cmocka_unit_test(test_maglev_without_client_is_wrr),
		cmocka_unit_test(test_drain_and_disabled_never_picked),
		cmocka_unit_test(test_health_and_agent_down_never_picked),
		cmocka_unit_test(test_backup_only_without_usable_primary),
		cmocka_unit_test(test_backups_take_over_and_give_back),
		cmocka_unit_test(test_backups_in_scheduler_order),
		cmocka_unit_test(test_held_backend_only_as_last_resort),
		cmocka_unit_test(test_spares_after_every_weighted_backend),
		cmocka_unit_test(test_spare_down_not_picked),
		cmocka_unit_test(test_agent_pct_zero_never_picked),
		cmocka_unit_test(test_pref_agent_pct_zero_never_picked),
		cmocka_unit_test(test_usable_rule),
		cmocka_unit_test(test_usable_tiers_as_the_kernel_sees_them),
		cmocka_unit_test(test_agent_pct_scales_wrr),
		cmocka_unit_test(test_agent_pct_scales_source),
		cmocka_unit_test(test_eff_weight),
		cmocka_unit_test(test_client_hash),
		cmocka_unit_test(test_pick_without_backends_usable_returns_minus_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
