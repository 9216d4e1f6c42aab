// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * portfw ha-check FILE|-: whether this gateway's table is the other one's,
 * FILE holding the other's 'portfw list -j' (ssh gw2 portfw list -j |
 * portfw ha-check -). An HA pair needs the same forwards with the same ids
 * on both: conntrackd carries the flows' marks, which name forwards by id.
 * Exit 0: they agree; 1: they differ (each difference listed); 2: bad input.
 */
#include "pfc.h"
#include "../common/pf_digest.h"
#include "../common/pf_hash.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a forward is matched across gateways: its name, else what it
 * listens on (its key: protocol, listen, sources). */
static void pfc_ha_key(json_t *f, char *buf, size_t len)
{
	const char *name = json_string_value(json_object_get(f, "name"));
	json_t *from = json_object_get(f, "from"), *v;
	size_t off, i;

	if (name && name[0]) {
		snprintf(buf, len, "forward '%s'", name);
		return;
	}
	off = (size_t)snprintf(buf, len, "%s %s",
			       json_string_value(json_object_get(f, "proto")) ?: "?",
			       json_string_value(json_object_get(f, "listen")) ?: "?");
	json_array_foreach(from, i, v)
		if (off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "," : " from ",
						json_string_value(v) ?: "?");
}

/* The forwards of a 'portfw list -j' (an array of them; the daemon's reply
 * holds it as "forwards"), and the table's digest from theirs; NULL after
 * saying what is wrong with it. */
static json_t *pfc_ha_forwards(json_t *list, const char *what, char *digest, size_t len)
{
	json_t *fw = json_is_array(list) ? list : json_object_get(list, "forwards"), *f;
	uint64_t sum = 0;
	size_t i;

	if (!json_is_array(fw)) {
		fprintf(stderr, "portfw ha-check: %s: not the output of 'portfw list -j' "
			"(expected an array of forwards)\n", what);
		return NULL;
	}
	json_array_foreach(fw, i, f) {
		json_t *id = json_object_get(f, "id");
		const char *d = json_string_value(json_object_get(f, "digest"));
		char *end;
		unsigned long long v;

		errno = 0;
		v = d ? strtoull(d, &end, 16) : 0;
		if (!json_is_integer(id) || !d || !*d || *end || errno) {
			fprintf(stderr, "portfw ha-check: %s: forward %zu has no \"id\" and hex "
				"\"digest\" (a portfwd too old to give them?)\n", what, i + 1);
			return NULL;
		}
		sum = pf_table_digest_add(sum, v, (uint32_t)json_integer_value(id));
	}
	snprintf(digest, len, "%016llx", (unsigned long long)pf_hash_mix(sum));
	return fw;
}

static json_t *pfc_ha_find(json_t *fw, const char *key)
{
	char k[512];
	json_t *f;
	size_t i;

	json_array_foreach(fw, i, f) {
		pfc_ha_key(f, k, sizeof(k));
		if (!strcmp(k, key))
			return f;
	}
	return NULL;
}

static void pfc_ha_diff(json_t *diffs, const char *key, const char *what, const char *detail)
{
	json_array_append_new(diffs, json_pack("{s:s, s:s, s:s}", "forward", key, "what", what,
					       "detail", detail));
}

/* The differences, forward by forward, both ways. */
static void pfc_ha_compare(json_t *here, json_t *there, json_t *diffs)
{
	char key[512], d[128];
	json_t *f, *g;
	size_t i;

	json_array_foreach(here, i, f) {
		pfc_ha_key(f, key, sizeof(key));
		g = pfc_ha_find(there, key);
		if (!g) {
			pfc_ha_diff(diffs, key, "only here", "");
			continue;
		}
		if (strcmp(json_string_value(json_object_get(f, "digest")),
			   json_string_value(json_object_get(g, "digest"))) != 0)
			pfc_ha_diff(diffs, key, "differs",
				    "another configuration: compare 'portfw save' of both");
		if (json_integer_value(json_object_get(f, "id")) !=
		    json_integer_value(json_object_get(g, "id"))) {
			snprintf(d, sizeof(d), "id %lld here, %lld there: taken-over flows would "
				 "be another forward's",
				 (long long)json_integer_value(json_object_get(f, "id")),
				 (long long)json_integer_value(json_object_get(g, "id")));
			pfc_ha_diff(diffs, key, "id differs", d);
		}
	}
	json_array_foreach(there, i, g) {
		pfc_ha_key(g, key, sizeof(key));
		if (!pfc_ha_find(here, key))
			pfc_ha_diff(diffs, key, "only there", "");
	}
}

int pfc_hacheck(const struct pfc_opts *o, int argc, char **argv)
{
	json_t *mine = NULL, *other = NULL, *here, *there, *diffs = json_array(), *d;
	char dh[20], dt[20];
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
	there = pfc_ha_forwards(other, argv[0], dt, sizeof(dt));
	if (!there)
		goto out;
	mine = pfc_request(o, "list");
	if (!mine || pfc_check_reply(mine))
		goto out;
	here = pfc_ha_forwards(mine, "this gateway", dh, sizeof(dh));
	if (!here)
		goto out;
	rc = strcmp(dh, dt) != 0;
	if (rc)
		pfc_ha_compare(here, there, diffs);
	if (rc && !json_array_size(diffs))
		pfc_ha_diff(diffs, "", "order",
			    "not matched forward by forward: compare 'portfw save' of both");
	if (o->json) {
		json_t *r = json_pack("{s:b, s:{s:s, s:I}, s:{s:s, s:I}, s:O}", "agree", !rc, "here",
				      "digest", dh, "forwards", (json_int_t)json_array_size(here),
				      "there", "digest", dt, "forwards",
				      (json_int_t)json_array_size(there), "differences", diffs);

		json_dumpf(r, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(r);
		goto out;
	}
	if (!rc) {
		printf("tables agree: %zu forwards, digest %s\n", json_array_size(here), dh);
		goto out;
	}
	printf("tables differ: here %zu forwards (digest %s), there %zu (digest %s)\n",
	       json_array_size(here), dh, json_array_size(there), dt);
	json_array_foreach(diffs, i, d) {
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
	json_decref(diffs);
	return rc;
}
