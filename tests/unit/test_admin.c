// SPDX-License-Identifier: GPL-2.0-or-later
/* The status page's admin form: the body into a 'backend' statement. */
#include "common/pf_admin.h"
#include "common/pf_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define WHAT "expected forward=NAME&backend=HOST:PORT&action=ACTION"

static void assert_admin(const char *body, const char *want)
{
	char stmt[2048], err[512];

	if (pf_admin_parse(body, strlen(body), stmt, sizeof(stmt), err, sizeof(err)))
		fail_msg("'%s': %s", body, err);
	assert_string_equal(stmt, want);
}

static void assert_admin_error(const char *body, const char *want)
{
	char stmt[2048], err[512];

	assert_int_equal(pf_admin_parse(body, strlen(body), stmt, sizeof(stmt), err, sizeof(err)),
			 -1);
	assert_string_equal(err, want);
}

static void test_admin_forms(void **state)
{
	(void)state;
	assert_admin("forward=web&backend=127.0.0.1:8080&action=drain",
		     "backend name web 127.0.0.1:8080 drain");
	assert_admin("action=enable&backend=%5B%3A%3A1%5D%3A80&forward=a.b-c_d",
		     "backend name a.b-c_d [::1]:80 enable");
	assert_admin("&forward=w&&backend=h:1&action=primary&", "backend name w h:1 primary");
}

static void test_admin_errors(void **state)
{
	static const struct {
		const char *body, *err;
	} cases[] = {
		{ "", "field 'forward' missing; " WHAT },
		{ "forward=web&backend=h:1", "field 'action' missing; " WHAT },
		{ "forward=web&forward=x&backend=h:1&action=drain",
		  "field 'forward' given twice; " WHAT },
		{ "user=root", "unknown field 'user'; " WHAT },
		{ "forward", "unknown field 'forward'; " WHAT },
		{ "forward=web%0a&backend=h:1&action=drain",
		  "forward: expected a forward's name (a letter, then letters, digits, '-', '_' or "
		  "'.')" },
		{ "forward=web&backend=h:1%0aflush&action=drain",
		  "backend: expected HOST:PORT as 'portfw list' shows it" },
		{ "forward=web&backend=h:1+x&action=drain",
		  "backend: expected HOST:PORT as 'portfw list' shows it" },
		{ "forward=web&backend=h:1&action=weight",
		  "action: expected drain, enable, disable, backup or primary" },
		{ "forward=web&backend=h:1&action=dr%4", "field 'action': a bad %-escape, a NUL or "
							"too long; " WHAT },
		{ "forward=web&backend=h:1&action=dr%00", "field 'action': a bad %-escape, a NUL or "
							  "too long; " WHAT },
	};
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(cases); i++)
		assert_admin_error(cases[i].body, cases[i].err);
}

static void test_admin_too_long(void **state)
{
	char body[PF_ADMIN_BODY_MAX + 2];

	(void)state;
	memset(body, 'a', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	assert_admin_error(body, "body longer than 1024 bytes; " WHAT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admin_forms),
		cmocka_unit_test(test_admin_errors),
		cmocka_unit_test(test_admin_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
