// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the kernel engine's changes as diffs (pfk_diff): the nft
 * commands between two renders of 'inet portfw'. Applying them to a kernel
 * is tested by tests/net/t_kernel*.sh (every live change goes through them)
 * and bench/kernel.sh; here the text is checked.
 */
#include "kernel/pfk_diff.c" /* standalone: libc only */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define HEAD "table inet portfw\ndelete table inet portfw\ntable inet portfw {\n"
#define WAN "\tset wan {\n\t\ttype ifname\n\t\telements = { \"wan\" }\n\t}\n"
#define MAP(e) "\tmap any {\n\t\ttype inet_proto . inet_service : verdict\n" e "\t}\n"
#define FTP(e) "\tset ftp_ports {\n\t\ttype inet_proto . inet_service\n" e "\t}\n"
#define CHAIN(n, body) "\tchain " n " {\n" body "\t}\n"
#define BASE CHAIN("dstnat", "\t\ttype nat hook prerouting priority dstnat - 10; policy accept;\n\t\tjump dispatch\n")
#define TAIL "}\n"

static char *diff(const char *a, const char *b, size_t *n)
{
	*n = 99;
	return pfk_diff(a, b, n);
}

static void test_same(void **state)
{
	const char *t = HEAD WAN MAP("\t\telements = { tcp . 80 : goto f1 }\n") FTP("")
		CHAIN("f1", "\t\tgoto f1_nat\n") BASE TAIL;
	size_t n;
	char *d = diff(t, t, &n);

	(void)state;
	assert_non_null(d);
	assert_string_equal(d, "");
	assert_int_equal(n, 0);
	free(d);
}

static void test_add_del_forward(void **state)
{
	const char *a = HEAD WAN MAP("\t\telements = { tcp . 80 : goto f1 }\n") FTP("")
		CHAIN("f1", "\t\tgoto f1_nat\n") CHAIN("f1_nat", "\t\tdnat ip to 10.0.0.2\n") BASE TAIL;
	const char *b = HEAD WAN
		MAP("\t\telements = { tcp . 80 : goto f1,\n\t\t\ttcp . 21 : goto f2 }\n")
		FTP("\t\telements = { tcp . 21 }\n") CHAIN("f1", "\t\tgoto f1_nat\n")
		CHAIN("f1_nat", "\t\tdnat ip to 10.0.0.2\n") CHAIN("f2", "\t\tgoto f2_nat\n")
		CHAIN("f2_nat", "\t\tdnat ip to 10.0.0.3\n") BASE TAIL;
	size_t n;
	char *d = diff(a, b, &n);

	(void)state;
	assert_non_null(d);
	assert_string_equal(d, "table inet portfw {\n"
			       "\tchain f2 {\n\t\tgoto f2_nat\n\t}\n"
			       "\tchain f2_nat {\n\t\tdnat ip to 10.0.0.3\n\t}\n"
			       "}\n"
			       "add element inet portfw any { tcp . 21 : goto f2 }\n"
			       "add element inet portfw ftp_ports { tcp . 21 }\n");
	assert_int_equal(n, 4);
	free(d);
	/* And back: elements first (by key), then the chains' rules, then them. */
	d = diff(b, a, &n);
	assert_non_null(d);
	assert_string_equal(d, "delete element inet portfw any { tcp . 21 }\n"
			       "delete element inet portfw ftp_ports { tcp . 21 }\n"
			       "flush chain inet portfw f2\n"
			       "flush chain inet portfw f2_nat\n"
			       "delete chain inet portfw f2\n"
			       "delete chain inet portfw f2_nat\n");
	assert_int_equal(n, 6);
	free(d);
}

static void test_changed_chain_and_value(void **state)
{
	const char *a = HEAD MAP("\t\telements = { tcp . 80 : goto f1, tcp . 81 : goto f1 }\n")
		CHAIN("f1", "\t\tct mark set 0x40000001\n\t\tdnat ip to 10.0.0.2\n") BASE TAIL;
	const char *b = HEAD MAP("\t\telements = { tcp . 80 : goto f1, tcp . 81 : goto f3 }\n")
		CHAIN("f1", "\t\tct mark set 0x40000001\n\t\tdnat ip to 10.0.0.9\n")
		CHAIN("f3", "\t\tdrop\n") BASE TAIL;
	size_t n;
	char *d = diff(a, b, &n);

	(void)state;
	assert_non_null(d);
	assert_string_equal(d, "delete element inet portfw any { tcp . 81 }\n"
			       "flush chain inet portfw f1\n"
			       "table inet portfw {\n"
			       "\tchain f1 {\n\t\tct mark set 0x40000001\n\t\tdnat ip to 10.0.0.9\n\t}\n"
			       "\tchain f3 {\n\t\tdrop\n\t}\n"
			       "}\n"
			       "add element inet portfw any { tcp . 81 : goto f3 }\n");
	free(d);
}

/* What the diff does not carry: the caller loads the table whole. */
static void test_whole(void **state)
{
	const char *a = HEAD WAN MAP("") BASE TAIL;
	const char *flags = HEAD WAN
		"\tmap any {\n\t\ttype inet_proto . inet_service : verdict\n\t\tflags interval\n\t}\n"
		BASE TAIL;
	const char *newmap = HEAD WAN MAP("") "\tmap more {\n\t\ttype ipv4_addr : verdict\n\t}\n" BASE TAIL;
	size_t n;

	(void)state;
	assert_null(diff(a, flags, &n));
	assert_null(diff(a, newmap, &n));
	assert_null(diff(newmap, a, &n));
	assert_null(diff(a, "table inet portfw {\n}\n", &n));
	assert_null(diff("", a, &n));
	assert_null(diff(a, HEAD WAN MAP("") BASE, &n)); /* cut short */
}

/* A base chain that comes or goes (the FTP helper's, with the first or the
 * last FTP port): added with its hook, or flushed and deleted. */
static void test_base_chain(void **state)
{
	const char *a = HEAD WAN MAP("") BASE TAIL;
	const char *nobase = HEAD WAN MAP("") TAIL;
	size_t n;
	char *d = diff(a, nobase, &n);

	(void)state;
	assert_non_null(d);
	assert_string_equal(d, "flush chain inet portfw dstnat\ndelete chain inet portfw dstnat\n");
	assert_int_equal(n, 2);
	free(d);
	d = diff(nobase, a, &n);
	assert_non_null(d);
	assert_string_equal(d, "table inet portfw {\n" BASE "}\n");
	assert_int_equal(n, 1);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_add_del_forward),
		cmocka_unit_test(test_changed_chain_and_value),
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_base_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
