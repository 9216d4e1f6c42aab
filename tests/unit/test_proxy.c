// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the PROXY protocol headers (pf_proxy.c): what is written
 * reads back (v1 and v2, IPv4, IPv6, mixed families, no addresses), the
 * exact bytes of known headers, the reader fed a byte at a time, data after
 * the header left alone, and what it refuses: garbage, truncation, bad
 * fields, unsupported families, oversized headers.
 */
#include "common/pf_proxy.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static union pf_sa sa(const char *lit, uint16_t port)
{
	union pf_sa s;

	assert_int_equal(pf_sa_from_literal(lit, &s), 0);
	pf_sa_set_port(&s, port);
	return s;
}

/* Parses all of buf at once; returns the result, *used its bytes. */
static int parse_all(const void *buf, size_t len, struct pf_proxy_parser *p, size_t *used)
{
	pf_proxy_parser_init(p);
	return pf_proxy_parse(p, buf, len, used);
}

/* The same a byte at a time: the result and length must agree. */
static void parse_split_agrees(const void *buf, size_t len)
{
	struct pf_proxy_parser whole, bytes;
	size_t used_whole, used, total = 0, i;
	int rc_whole = parse_all(buf, len, &whole, &used_whole), rc = PF_PROXY_MORE;

	pf_proxy_parser_init(&bytes);
	for (i = 0; i < len && rc == PF_PROXY_MORE; i++) {
		rc = pf_proxy_parse(&bytes, (const uint8_t *)buf + i, 1, &used);
		total += used;
	}
	assert_int_equal(rc, rc_whole);
	if (rc == PF_PROXY_DONE) {
		assert_int_equal(total, used_whole);
		assert_int_equal(bytes.hdr.has_addr, whole.hdr.has_addr);
		assert_memory_equal(&bytes.hdr.src, &whole.hdr.src, sizeof(whole.hdr.src));
	}
}

static void roundtrip(uint8_t ver, const char *s, uint16_t sp, const char *d, uint16_t dp,
		      int family)
{
	union pf_sa src = sa(s, sp), dst = sa(d, dp);
	uint8_t buf[PF_PROXY_OUT_MAX + 8];
	struct pf_proxy_parser p;
	size_t used;
	int n = pf_proxy_encode(ver, &src, &dst, buf, sizeof(buf));

	assert_true(n > 0);
	/* Data after the header is the connection's. */
	memcpy(buf + n, "DATA", 4);
	assert_int_equal(parse_all(buf, (size_t)n + 4, &p, &used), PF_PROXY_DONE);
	assert_int_equal(used, n);
	assert_int_equal(p.hdr.version, ver);
	assert_true(p.hdr.has_addr);
	assert_int_equal(p.hdr.src.sa.sa_family, family);
	assert_int_equal(pf_sa_port(&p.hdr.src), sp);
	assert_int_equal(pf_sa_port(&p.hdr.dst), dp);
	if (family == src.sa.sa_family)
		assert_true(pf_sa_addr_equal(&p.hdr.src, &src));
	parse_split_agrees(buf, (size_t)n + 4);
}

static void test_roundtrip(void **state)
{
	(void)state;
	roundtrip(PF_PROXY_V1, "192.0.2.1", 51234, "198.51.100.2", 80, AF_INET);
	roundtrip(PF_PROXY_V2, "192.0.2.1", 51234, "198.51.100.2", 80, AF_INET);
	roundtrip(PF_PROXY_V1, "2001:db8::1", 65535, "2001:db8::ffff:2", 0, AF_INET6);
	roundtrip(PF_PROXY_V2, "2001:db8::1", 1, "fe80::1", 443, AF_INET6);
	/* A v4-mapped peer of a dual-stack socket is IPv4 on both sides. */
	roundtrip(PF_PROXY_V1, "::ffff:192.0.2.9", 1000, "192.0.2.1", 80, AF_INET);
	roundtrip(PF_PROXY_V2, "::ffff:192.0.2.9", 1000, "::ffff:192.0.2.1", 80, AF_INET);
	/* Mixed families: IPv6, the IPv4 one mapped (and read back as IPv6
	 * for the IPv6 side). */
	roundtrip(PF_PROXY_V1, "2001:db8::1", 1000, "192.0.2.1", 80, AF_INET6);
	roundtrip(PF_PROXY_V2, "2001:db8::1", 1000, "192.0.2.1", 80, AF_INET6);
}

static void test_known_bytes(void **state)
{
	static const uint8_t v2[] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
				      0x54, 0x0a, 0x21, 0x11, 0x00, 0x0c, 192,  0,    2,    1,
				      198,  51,   100,  2,    0xc8, 0x22, 0x00, 0x50 };
	union pf_sa src = sa("192.0.2.1", 51234), dst = sa("198.51.100.2", 80);
	char buf[PF_PROXY_OUT_MAX];
	int n;

	(void)state;
	n = pf_proxy_encode(PF_PROXY_V1, &src, &dst, buf, sizeof(buf));
	assert_int_equal(n, strlen("PROXY TCP4 192.0.2.1 198.51.100.2 51234 80\r\n"));
	assert_memory_equal(buf, "PROXY TCP4 192.0.2.1 198.51.100.2 51234 80\r\n", (size_t)n);
	n = pf_proxy_encode(PF_PROXY_V2, &src, &dst, buf, sizeof(buf));
	assert_int_equal(n, sizeof(v2));
	assert_memory_equal(buf, v2, sizeof(v2));
	/* Without addresses: the health checks' header. */
	n = pf_proxy_encode(PF_PROXY_V1, NULL, NULL, buf, sizeof(buf));
	assert_int_equal(n, 15);
	assert_memory_equal(buf, "PROXY UNKNOWN\r\n", 15);
	n = pf_proxy_encode(PF_PROXY_V2, NULL, NULL, buf, sizeof(buf));
	assert_int_equal(n, 16);
	assert_int_equal((uint8_t)buf[12], 0x20);
	assert_int_equal((uint8_t)buf[13], 0x00);
	assert_int_equal(buf[15], 0);
	/* Too small a buffer, an unknown version. */
	assert_int_equal(pf_proxy_encode(PF_PROXY_V1, &src, &dst, buf, 20), -1);
	assert_int_equal(pf_proxy_encode(PF_PROXY_V2, &src, &dst, buf, 20), -1);
	assert_int_equal(pf_proxy_encode(7, &src, &dst, buf, sizeof(buf)), -1);
}

static void test_longest_v1(void **state)
{
	union pf_sa src = sa("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535),
		    dst = sa("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd", 65535);
	char buf[PF_PROXY_OUT_MAX];
	int n;

	(void)state;
	n = pf_proxy_encode(PF_PROXY_V1, &src, &dst, buf, sizeof(buf));
	assert_int_equal(n, 104);
	assert_true(n <= PF_PROXY_V1_MAX);
}

static void expect_done(const char *s, bool has_addr)
{
	struct pf_proxy_parser p;
	size_t used;

	assert_int_equal(parse_all(s, strlen(s), &p, &used), PF_PROXY_DONE);
	assert_int_equal(used, strlen(s));
	assert_int_equal(p.hdr.has_addr, has_addr);
	parse_split_agrees(s, strlen(s));
}

static void expect_error(const void *s, size_t len)
{
	struct pf_proxy_parser p;
	size_t used;

	assert_int_equal(parse_all(s, len, &p, &used), PF_PROXY_ERROR);
	assert_non_null(p.why);
	parse_split_agrees(s, len);
}

static void expect_more(const void *s, size_t len)
{
	struct pf_proxy_parser p;
	size_t used;

	assert_int_equal(parse_all(s, len, &p, &used), PF_PROXY_MORE);
	assert_int_equal(used, len);
}

static void test_v1_forms(void **state)
{
	(void)state;
	expect_done("PROXY UNKNOWN\r\n", false);
	expect_done("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", false);
	expect_done("PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", true);
	expect_done("PROXY TCP6 ::1 ::ffff:10.0.0.1 80 8080\r\n", true);
}

static void test_v1_errors(void **state)
{
	char big[200];

	(void)state;
	expect_error("GET / HTTP/1.0\r\n", 16);
	expect_error("PROXI", 5);
	expect_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 31); /* bare LF */
	expect_error("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", 32);
	expect_error("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", 30);
	expect_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", 34);
	expect_error("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", 33);
	expect_error("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", 28);
	expect_error("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", 28);
	expect_error("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", 36);
	expect_error("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", 34);
	expect_error("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", 33);
	expect_error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", 33);
	/* No CRLF within 107 bytes. */
	memcpy(big, "PROXY UNKNOWN ", 14);
	memset(big + 14, 'x', sizeof(big) - 14);
	expect_more(big, PF_PROXY_V1_MAX);
	expect_error(big, PF_PROXY_V1_MAX + 1);
	/* Truncated: not an error yet, the rest may come. */
	expect_more("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", 31);
	expect_more("PRO", 3);
}

static void v2_head(uint8_t *b, uint8_t cmd, uint8_t fam, uint16_t len)
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

	memcpy(b, sig, 12);
	b[12] = cmd;
	b[13] = fam;
	b[14] = (uint8_t)(len >> 8);
	b[15] = (uint8_t)len;
}

static void test_v2_forms(void **state)
{
	uint8_t b[PF_PROXY_MAX + 16];
	struct pf_proxy_parser p;
	size_t used;

	(void)state;
	memset(b, 0xaa, sizeof(b));
	/* LOCAL, with or without an address block: no addresses. */
	v2_head(b, 0x20, 0x00, 0);
	assert_int_equal(parse_all(b, 20, &p, &used), PF_PROXY_DONE);
	assert_int_equal(used, 16);
	assert_false(p.hdr.has_addr);
	v2_head(b, 0x20, 0x12, 40);
	assert_int_equal(parse_all(b, 60, &p, &used), PF_PROXY_DONE);
	assert_int_equal(used, 56);
	assert_false(p.hdr.has_addr);
	/* PROXY UNSPEC: the connection's addresses. */
	v2_head(b, 0x21, 0x00, 3);
	assert_int_equal(parse_all(b, 19, &p, &used), PF_PROXY_DONE);
	assert_false(p.hdr.has_addr);
	/* TCP4 with TLVs up to the bound: skipped. */
	v2_head(b, 0x21, 0x11, PF_PROXY_MAX - 16);
	memcpy(b + 16, "\x0a\x00\x00\x01\x0a\x00\x00\x02\x00\x50\x01\xbb", 12);
	assert_int_equal(parse_all(b, PF_PROXY_MAX + 16, &p, &used), PF_PROXY_DONE);
	assert_int_equal(used, PF_PROXY_MAX);
	assert_true(p.hdr.has_addr);
	assert_int_equal(pf_sa_port(&p.hdr.src), 80);
	assert_int_equal(pf_sa_port(&p.hdr.dst), 443);
	assert_true(pf_sa_addr_equal(&p.hdr.src, &(union pf_sa){ .sin = { .sin_family = AF_INET,
							.sin_addr.s_addr = htonl(0x0a000001) } }));
	parse_split_agrees(b, PF_PROXY_MAX + 16);
}

static void test_v2_errors(void **state)
{
	uint8_t b[64];

	(void)state;
	memset(b, 0, sizeof(b));
	v2_head(b, 0x21, 0x11, 12);
	b[5] = 0x0b; /* a broken signature */
	expect_error(b, 28);
	v2_head(b, 0x11, 0x11, 12); /* version 1 in binary */
	expect_error(b, 28);
	v2_head(b, 0x22, 0x11, 12); /* command 2 */
	expect_error(b, 28);
	v2_head(b, 0x21, 0x12, 12); /* UDP over IPv4 */
	expect_error(b, 28);
	v2_head(b, 0x21, 0x31, 12); /* unix stream */
	expect_error(b, 28);
	v2_head(b, 0x21, 0x11, 11); /* too short for its addresses */
	expect_error(b, 27);
	v2_head(b, 0x21, 0x21, 35);
	expect_error(b, 51);
	v2_head(b, 0x21, 0x11, PF_PROXY_MAX - 15); /* one byte over the bound */
	expect_error(b, 16);
	/* Truncated: more is needed. */
	v2_head(b, 0x21, 0x11, 12);
	expect_more(b, 27);
	expect_more(b, 10);
}

static void test_done_is_sticky(void **state)
{
	struct pf_proxy_parser p;
	size_t used;

	(void)state;
	assert_int_equal(parse_all("PROXY UNKNOWN\r\n", 15, &p, &used), PF_PROXY_DONE);
	assert_int_equal(pf_proxy_parse(&p, "more", 4, &used), PF_PROXY_DONE);
	assert_int_equal(used, 0);
	assert_int_equal(parse_all("x", 1, &p, &used), PF_PROXY_ERROR);
	assert_int_equal(pf_proxy_parse(&p, "PROXY", 5, &used), PF_PROXY_ERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),     cmocka_unit_test(test_known_bytes),
		cmocka_unit_test(test_longest_v1),    cmocka_unit_test(test_v1_forms),
		cmocka_unit_test(test_v1_errors),     cmocka_unit_test(test_v2_forms),
		cmocka_unit_test(test_v2_errors),     cmocka_unit_test(test_done_is_sticky),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
