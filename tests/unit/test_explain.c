// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of portfw explain's pure parts: the report (exit status, text,
 * JSON).
 */
#include "cli/pfc_explain.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- the report ---- */

static void test_report(void **state)
{
	struct pfc_xreport r = { 0 };
	json_t *j;
	char *text = NULL;
	size_t len = 0;
	FILE *fp;
	int i;

	(void)state;
	pfc_x_add(&r, "listen", PFC_X_OK, NULL, "%s is local", "10.0.0.1");
	assert_int_equal(pfc_x_exit(&r), 0);
	pfc_x_add(&r, "health", PFC_X_WARN, NULL, "drain");
	assert_int_equal(pfc_x_exit(&r), 0); /* a warning blocks nothing */
	pfc_x_add(&r, "ip_forward", PFC_X_FAIL, "sysctl -w net.ipv4.ip_forward=1", "off");
	assert_int_equal(pfc_x_exit(&r), 1);
	/* More than the first allocation holds. */
	for (i = 0; i < 40; i++)
		pfc_x_add(&r, "firewall", PFC_X_SKIP, NULL, "n %d", i);
	assert_int_equal(r.n, 43);

	fp = open_memstream(&text, &len);
	pfc_x_print(fp, &r);
	fclose(fp);
	assert_non_null(strstr(text, "ok    listen      10.0.0.1 is local\n"));
	assert_non_null(strstr(text, "FAIL  ip_forward  off\n"));
	assert_non_null(strstr(text, "fix: sysctl -w net.ipv4.ip_forward=1\n"));
	assert_non_null(strstr(text, "=> 1 problem blocks the forward (1 warning)\n"));
	free(text);

	j = pfc_x_json(&r);
	assert_int_equal(json_array_size(j), 43);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 2), "status")),
			    "fail");
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 2), "fix")),
			    "sysctl -w net.ipv4.ip_forward=1");
	assert_true(json_is_null(json_object_get(json_array_get(j, 0), "fix")));
	json_decref(j);
	pfc_x_free(&r);
	assert_int_equal(r.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
