// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the flow log's writer: the text and JSON lines of a record
 * (odd bytes in the name escaped, a flow without a backend), the names of
 * the ends, and a reader that does not read: submitting never waits, the
 * records beyond the ring are dropped, and every record is either written
 * or counted as dropped.
 */
#include "common/pf_flowlog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void sa4(union pf_sa *sa, const char *ip, uint16_t port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin.sin_family = AF_INET;
	sa->sin.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sa->sin.sin_addr), 1);
}

static void rec_init(struct pf_flowlog_rec *r, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->engine = PF_ENGINE_USER;
	r->l4 = IPPROTO_TCP;
	r->end = PF_END_CLIENT_CLOSE;
	snprintf(r->forward, sizeof(r->forward), "%s", name);
	sa4(&r->client, "198.51.100.7", 50412);
	sa4(&r->listen, "0.0.0.0", 8080);
	sa4(&r->backend, "10.0.0.2", 80);
	r->bytes_up = 1234;
	r->bytes_down = 56789;
	r->start_ms = 1767323045678ULL; /* 2026-01-02T03:04:05.678Z */
	r->duration_ms = 1234;
}

/* Runs the writer with stderr on fd for the records given. */
static void write_records(int fd, enum pf_flowlog_format fmt, const struct pf_flowlog_rec *r,
			  size_t n)
{
	int saved = dup(2);
	size_t i;

	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	assert_int_equal(pf_flowlog_start(fmt), 0);
	for (i = 0; i < n; i++)
		assert_true(pf_flowlog_submit(&r[i]));
	pf_flowlog_stop();
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
}

static char *read_all(int fd)
{
	static char buf[65536];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

static void truncate_fd(int fd)
{
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
}

static void test_text_and_json_lines(void **state)
{
	char path[] = "/tmp/test_flowlog.XXXXXX";
	struct pf_flowlog_rec r[2];
	uint64_t w0 = pf_flowlog_written();
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	rec_init(&r[0], "web");
	rec_init(&r[1], "");
	r[1].l4 = IPPROTO_UDP;
	r[1].end = PF_END_NO_BACKEND;
	r[1].engine = PF_ENGINE_KERNEL;
	memset(&r[1].backend, 0, sizeof(r[1].backend));
	r[1].duration_ms = 5;
	write_records(fd, PF_FLOWLOG_TEXT, r, 2);
	assert_string_equal(read_all(fd),
			    "flow web tcp 198.51.100.7:50412 -> 0.0.0.0:8080 -> 10.0.0.2:80 "
			    "up=1234 down=56789 start=2026-01-02T03:04:05.678Z dur=1.234s "
			    "end=client-close engine=user\n"
			    "flow - udp 198.51.100.7:50412 -> 0.0.0.0:8080 -> - up=1234 "
			    "down=56789 start=2026-01-02T03:04:05.678Z dur=0.005s end=no-backend "
			    "engine=kernel\n");
	truncate_fd(fd);
	/* Odd bytes in a name (a record is never trusted): escaped. */
	rec_init(&r[0], "a\"b\\c\x01\xe9 d");
	write_records(fd, PF_FLOWLOG_JSON, r, 2);
	assert_string_equal(read_all(fd),
			    "{\"forward\":\"a\\\"b\\\\c\\u0001\\u00e9 d\",\"proto\":\"tcp\","
			    "\"client\":\"198.51.100.7:50412\",\"listen\":\"0.0.0.0:8080\","
			    "\"backend\":\"10.0.0.2:80\",\"bytes_up\":1234,\"bytes_down\":56789,"
			    "\"start\":\"2026-01-02T03:04:05.678Z\",\"duration_ms\":1234,"
			    "\"end\":\"client-close\",\"engine\":\"user\"}\n"
			    "{\"forward\":\"\",\"proto\":\"udp\",\"client\":\"198.51.100.7:50412\","
			    "\"listen\":\"0.0.0.0:8080\",\"backend\":null,\"bytes_up\":1234,"
			    "\"bytes_down\":56789,\"start\":\"2026-01-02T03:04:05.678Z\","
			    "\"duration_ms\":5,\"end\":\"no-backend\",\"engine\":\"kernel\"}\n");
	truncate_fd(fd);
	write_records(fd, PF_FLOWLOG_TEXT, r, 1);
	assert_string_equal(read_all(fd),
			    "flow a\"b\\x5cc\\x01\\xe9\\x20d tcp 198.51.100.7:50412 -> 0.0.0.0:8080 "
			    "-> 10.0.0.2:80 up=1234 down=56789 start=2026-01-02T03:04:05.678Z "
			    "dur=1.234s end=client-close engine=user\n");
	assert_int_equal(pf_flowlog_written() - w0, 5);
	close(fd);
}

static void test_end_names(void **state)
{
	static const char *const names[] = { "client-close", "backend-close", "client-reset",
					     "backend-reset", "timeout",       "refused",
					     "no-backend",    "killed",	       "shutdown",
					     "error" };
	uint8_t i;

	(void)state;
	for (i = 0; i <= PF_END_ERROR; i++)
		assert_string_equal(pf_flow_end_name(i), names[i]);
	assert_string_equal(pf_flow_end_name(200), "error");
	assert_string_equal(pf_flowlog_format_name(PF_FLOWLOG_JSON), "json");
	assert_string_equal(pf_flowlog_format_name(PF_FLOWLOG_TEXT), "text");
}

/* Not started: every record is dropped, and counted. */
static void test_not_started_drops(void **state)
{
	struct pf_flowlog_rec r;
	uint64_t d0 = pf_flowlog_dropped();

	(void)state;
	rec_init(&r, "web");
	assert_false(pf_flowlog_submit(&r));
	assert_int_equal(pf_flowlog_dropped() - d0, 1);
}

/* A reader that never reads: the submits go on at once, the ring fills
 * and drops; each record is written or dropped, none lost. */
static void test_stalled_reader_drops(void **state)
{
	enum { N = 20000 };
	uint64_t w0 = pf_flowlog_written(), d0 = pf_flowlog_dropped(), taken = 0;
	int p[2], saved = dup(2), i;
	struct pf_flowlog_rec r;

	(void)state;
	rec_init(&r, "web");
	assert_int_equal(pipe(p), 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	assert_int_equal(dup2(p[1], 2), 2);
	assert_int_equal(pf_flowlog_start(PF_FLOWLOG_TEXT), 0);
	for (i = 0; i < N; i++)
		taken += pf_flowlog_submit(&r);
	assert_true(taken < N);
	assert_true(pf_flowlog_dropped() - d0 >= N - taken);
	pf_flowlog_stop();
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	assert_int_equal((pf_flowlog_written() - w0) + (pf_flowlog_dropped() - d0), N);
	assert_true(pf_flowlog_written() - w0 < taken);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_and_json_lines),
		cmocka_unit_test(test_end_names),
		cmocka_unit_test(test_not_started_drops),
		cmocka_unit_test(test_stalled_reader_drops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
