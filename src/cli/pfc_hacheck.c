// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * portfw ha-check FILE|-: whether this gateway's table is the other one's,
 * FILE holding the other's 'portfw list -j' (ssh gw2 portfw list -j |
 * portfw ha-check -). An HA pair needs the same forwards with the same ids
 * on both: conntrackd carries the flows' marks, which name forwards by id.
 * Exit 0: they agree; 1: they differ (each difference listed); 2: bad input.
 */
#include "pfc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pfc_hacheck(const struct pfc_opts *o, int argc, char **argv)
{
	json_t *mine = NULL, *other = NULL, *r = NULL, *d;
	char err[512];
	json_error_t jerr;
	FILE *fp = NULL;
	int rc = 2;
	size_t i;

	if (argc != 1) {
		fprintf(stderr, "portfw ha-check: expected one FILE (or - for standard input) "
			"holding the other gateway's 'portfw list -j'\n");
		goto out;
	}
	fp = strcmp(argv[0], "-") ? fopen(argv[0], "re") : stdin;
	if (!fp) {
		fprintf(stderr, "portfw ha-check: %s: %s\n", argv[0], strerror(errno));
		goto out;
	}
	other = json_loadf(fp, 0, &jerr);
	if (!other) {
		fprintf(stderr, "portfw ha-check: %s:%d: %s (expected the JSON of 'portfw list -j')\n",
			argv[0], jerr.line, jerr.text);
		goto out;
	}
	mine = pfc_request(o, "list");
	if (!mine || pfc_check_reply(mine))
		goto out;
	r = pfc_ha_compare_lists(mine, other, argv[0], err, sizeof(err));
	if (!r) {
		fprintf(stderr, "portfw ha-check: %s\n", err);
		goto out;
	}
	rc = !json_is_true(json_object_get(r, "agree"));
	if (o->json) {
		json_dumpf(r, stdout, JSON_INDENT(2));
		putchar('\n');
		goto out;
	}
	if (!rc) {
		printf("tables agree: %lld forwards, digest %s\n",
		       (long long)json_integer_value(json_object_get(json_object_get(r, "here"), "forwards")),
		       json_string_value(json_object_get(json_object_get(r, "here"), "digest")));
		goto out;
	}
	printf("tables differ: here %lld forwards (digest %s), there %lld (digest %s)\n",
	       (long long)json_integer_value(json_object_get(json_object_get(r, "here"), "forwards")),
	       json_string_value(json_object_get(json_object_get(r, "here"), "digest")),
	       (long long)json_integer_value(json_object_get(json_object_get(r, "there"), "forwards")),
	       json_string_value(json_object_get(json_object_get(r, "there"), "digest")));
	json_array_foreach(json_object_get(r, "differences"), i, d) {
		const char *detail = json_string_value(json_object_get(d, "detail"));

		printf("  %-12s %s%s%s\n", json_string_value(json_object_get(d, "what")),
		       json_string_value(json_object_get(d, "forward")), detail[0] ? ": " : "",
		       detail);
	}
out:
	if (fp && fp != stdin)
		fclose(fp);
	json_decref(mine);
	json_decref(other);
	json_decref(r);
	return rc;
}
