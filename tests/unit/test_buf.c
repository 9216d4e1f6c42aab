// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the growable buffer: appends of bytes, strings and printf
 * text across many growths, the size cap and the sticky error it sets,
 * reserve, reset, detach and free, and reading a whole pipe (to the byte
 * at the cap, and one past it).
 */
#include "common/pf_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void test_empty_detach_is_empty_string(void **state)
{
	struct pf_buf b = { 0 };
	size_t len = 99;
	char *s;

	(void)state;
	s = pf_buf_detach(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	assert_null(b.s);
	free(s);
}

static void test_add_puts_printf(void **state)
{
	struct pf_buf b = { 0 };
	char *s;

	(void)state;
	assert_int_equal(pf_buf_add(&b, "ab", 2), 0);
	assert_int_equal(pf_buf_puts(&b, "cd"), 0);
	assert_int_equal(pf_buf_printf(&b, "-%d-%s", 42, "x"), 0);
	assert_int_equal(pf_buf_add(&b, "", 0), 0);
	assert_int_equal(b.len, 9);
	assert_string_equal(b.s, "abcd-42-x");
	s = pf_buf_detach(&b, NULL);
	assert_string_equal(s, "abcd-42-x");
	free(s);
	assert_int_equal(b.len, 0);
}

/* Many small pieces and one larger than everything so far: the text is
 * whole and NUL-terminated after each. */
static void test_growth_keeps_text(void **state)
{
	struct pf_buf b = { 0 };
	char big[5000], want[16];
	size_t i;

	(void)state;
	for (i = 0; i < 10000; i++) {
		assert_int_equal(pf_buf_printf(&b, "%05zu\n", i), 0);
		assert_int_equal(b.len, (i + 1) * 6);
		assert_int_equal(strlen(b.s), b.len);
	}
	for (i = 0; i < 10000; i += 997) {
		snprintf(want, sizeof(want), "%05zu\n", i);
		assert_memory_equal(b.s + i * 6, want, 6);
	}
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(pf_buf_printf(&b, "[%s]", big), 0);
	assert_int_equal(b.len, 60000 + sizeof(big) + 1);
	assert_int_equal(b.s[b.len - 1], ']');
	assert_int_equal(b.s[b.len], '\0');
	pf_buf_free(&b);
	assert_null(b.s);
	assert_int_equal(b.len, 0);
}

static void test_reserve(void **state)
{
	struct pf_buf b = { 0 };
	char *s;

	(void)state;
	assert_int_equal(pf_buf_reserve(&b, 1000), 0);
	assert_true(b.cap >= 1001);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.s, "");
	s = b.s;
	/* What was reserved takes no further allocation. */
	assert_int_equal(pf_buf_printf(&b, "%0999d", 7), 0);
	assert_ptr_equal(b.s, s);
	assert_int_equal(b.len, 999);
	pf_buf_free(&b);
}

/* The cap is on the text: exactly max bytes fit, one more is -E2BIG, and
 * the error sticks (later appends that would fit do nothing). */
static void test_cap_and_sticky_error(void **state)
{
	struct pf_buf b = PF_BUF_INIT(10);
	size_t len = 5;

	(void)state;
	assert_int_equal(pf_buf_puts(&b, "0123456789"), 0);
	assert_int_equal(b.len, 10);
	assert_true(b.cap <= 11);
	assert_int_equal(pf_buf_puts(&b, "x"), -E2BIG);
	assert_int_equal(b.err, -E2BIG);
	assert_string_equal(b.s, "0123456789");
	pf_buf_reset(&b);
	assert_int_equal(pf_buf_puts(&b, "y"), -E2BIG);
	assert_int_equal(pf_buf_printf(&b, "%d", 1), -E2BIG);
	assert_int_equal(pf_buf_reserve(&b, 0), -E2BIG);
	assert_null(pf_buf_detach(&b, &len));
	assert_int_equal(len, 5); /* untouched on failure */
	assert_int_equal(b.err, -E2BIG);
	assert_null(b.s);
	/* free clears the error: the buffer can be used again. */
	pf_buf_free(&b);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.max, 10);
	assert_int_equal(pf_buf_puts(&b, "ok"), 0);
	pf_buf_free(&b);
}

/* A printf that overflows the cap leaves the text as it was. */
static void test_printf_over_cap_leaves_text(void **state)
{
	struct pf_buf b = PF_BUF_INIT(300);

	(void)state;
	assert_int_equal(pf_buf_puts(&b, "keep"), 0);
	assert_int_equal(pf_buf_printf(&b, "%0400d", 1), -E2BIG);
	assert_int_equal(b.len, 4);
	assert_string_equal(b.s, "keep");
	pf_buf_free(&b);
}

static void test_huge_reserve_is_refused(void **state)
{
	struct pf_buf b = { 0 };

	(void)state;
	assert_int_equal(pf_buf_reserve(&b, PF_BUF_MAX_DEFAULT + 1), -E2BIG);
	assert_null(b.s);
	assert_null(pf_buf_detach(&b, NULL));
	pf_buf_free(&b);
	/* len + n must not wrap around. */
	b.max = SIZE_MAX;
	assert_int_equal(pf_buf_puts(&b, "a"), 0);
	assert_int_equal(pf_buf_reserve(&b, SIZE_MAX), -E2BIG);
	pf_buf_free(&b);
}

/* n bytes through a pipe from a child, into a buffer with cap max. */
static int read_pipe(size_t n, size_t max, struct pf_buf *b)
{
	int fd[2], rc;
	pid_t pid;

	*b = (struct pf_buf)PF_BUF_INIT(max);
	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		char chunk[4096];
		size_t off = 0;

		close(fd[0]);
		while (off < n) {
			size_t k = n - off < sizeof(chunk) ? n - off : sizeof(chunk), j;

			for (j = 0; j < k; j++)
				chunk[j] = (char)('a' + (off + j) % 26);
			if (write(fd[1], chunk, k) != (ssize_t)k)
				_exit(1);
			off += k;
		}
		_exit(0);
	}
	close(fd[1]);
	rc = pf_buf_read_fd(b, fd[0]);
	close(fd[0]);
	return rc;
}

static void test_read_fd(void **state)
{
	struct pf_buf b;
	size_t i;

	(void)state;
	assert_int_equal(read_pipe(300000, 0, &b), 0);
	assert_int_equal(b.len, 300000);
	for (i = 0; i < b.len; i += 4999)
		assert_int_equal(b.s[i], 'a' + (int)(i % 26));
	assert_int_equal(b.s[b.len], '\0');
	pf_buf_free(&b);

	/* Exactly the cap: whole. One byte more: -E2BIG. */
	assert_int_equal(read_pipe(70000, 70000, &b), 0);
	assert_int_equal(b.len, 70000);
	pf_buf_free(&b);
	assert_int_equal(read_pipe(70001, 70000, &b), -E2BIG);
	pf_buf_free(&b);

	/* Empty input: "" */
	assert_int_equal(read_pipe(0, 0, &b), 0);
	assert_int_equal(b.len, 0);
	pf_buf_free(&b);
}

static void test_read_fd_appends_and_reports_errno(void **state)
{
	struct pf_buf b = { 0 };

	(void)state;
	assert_int_equal(pf_buf_puts(&b, "flush\n"), 0);
	assert_int_equal(pf_buf_read_fd(&b, -1), -EBADF);
	assert_int_equal(b.err, -EBADF);
	pf_buf_free(&b);
}

/* A non-blocking descriptor with nothing more yet: -EAGAIN, not sticky;
 * the next call goes on where the last stopped (the control socket reads
 * requests this way). */
static void test_read_fd_nonblocking(void **state)
{
	struct pf_buf b = PF_BUF_INIT(4);
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_int_equal(write(p[1], "abc", 3), 3);
	assert_int_equal(pf_buf_read_fd(&b, p[0]), -EAGAIN);
	assert_int_equal(b.err, 0);
	assert_string_equal(b.s, "abc");
	assert_int_equal(write(p[1], "d", 1), 1);
	assert_int_equal(pf_buf_read_fd(&b, p[0]), -EAGAIN);
	assert_string_equal(b.s, "abcd");
	/* Full to the cap: one byte more is too big, nothing more is not. */
	assert_int_equal(write(p[1], "e", 1), 1);
	assert_int_equal(pf_buf_read_fd(&b, p[0]), -E2BIG);
	assert_int_equal(b.err, -E2BIG);
	pf_buf_free(&b);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_detach_is_empty_string),
		cmocka_unit_test(test_add_puts_printf),
		cmocka_unit_test(test_growth_keeps_text),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_cap_and_sticky_error),
		cmocka_unit_test(test_printf_over_cap_leaves_text),
		cmocka_unit_test(test_huge_reserve_is_refused),
		cmocka_unit_test(test_read_fd),
		cmocka_unit_test(test_read_fd_appends_and_reports_errno),
		cmocka_unit_test(test_read_fd_nonblocking),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
