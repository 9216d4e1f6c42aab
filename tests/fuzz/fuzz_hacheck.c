// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for what 'portfw ha-check' reads: another gateway's
 * 'portfw list -j' (pfc_ha_compare_lists). The input is that JSON. It may
 * not crash, leak or loop; a list compared with itself agrees with no
 * difference; one compared with an empty table agrees only if it is empty,
 * and then each of its forwards is named only here.
 */
#include "cli/pfc.h"
#include "fuzz_check.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in = json_loadb((const char *)data, size, 0, NULL), *empty, *r;
	char err[512];

	if (!in)
		return 0;
	r = pfc_ha_compare_lists(in, in, "fuzz", err, sizeof(err));
	if (!r) {
		CHECK(err[0], "refused without saying why");
		json_decref(in);
		return 0;
	}
	CHECK(json_is_true(json_object_get(r, "agree")), "a list differs from itself");
	CHECK(!json_array_size(json_object_get(r, "differences")), "differences with itself");
	json_decref(r);
	empty = json_array();
	r = pfc_ha_compare_lists(empty, in, "fuzz", err, sizeof(err));
	CHECK(r, "a valid list refused against an empty one: %s", err);
	if (json_is_true(json_object_get(r, "agree")))
		CHECK(!json_integer_value(json_object_get(json_object_get(r, "there"), "forwards")),
		      "an empty table agrees with forwards");
	else
		CHECK(json_array_size(json_object_get(r, "differences")), "no difference named");
	json_decref(r);
	json_decref(empty);
	json_decref(in);
	return 0;
}
