// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The comparison behind 'portfw ha-check': two 'portfw list -j' outputs
 * (this gateway's, another's), forward by forward. A pure function of its
 * input, apart from the client's socket, for the fuzzer too.
 */
#include "pfc.h"
#include "../common/pf_digest.h"
#include "../common/pf_hash.h"

#include <errno.h>
#include <stdbool.h>
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
static json_t *pfc_ha_forwards(json_t *list, const char *what, char *digest, size_t len,
			       json_t *index, char *err, size_t errlen)
{
	json_t *fw = json_is_array(list) ? list : json_object_get(list, "forwards"), *f;
	uint64_t sum = 0;
	char key[512];
	size_t i;

	if (!json_is_array(fw)) {
		snprintf(err, errlen, "%s: not the output of 'portfw list -j' (expected an array of "
			 "forwards)", what);
		return NULL;
	}
	json_array_foreach(fw, i, f) {
		json_t *id = json_object_get(f, "id");
		const char *d = json_string_value(json_object_get(f, "digest"));
		char *end;
		unsigned long long v;

		errno = 0;
		v = d ? strtoull(d, &end, 16) : 0;
		if (!json_is_integer(id) || json_integer_value(id) < 1 ||
		    json_integer_value(id) > PF_ID_MAX || !d || !*d || *end || errno) {
			snprintf(err, errlen, "%s: forward %zu has no \"id\" (1-%u) and hex "
				 "\"digest\" (a portfwd too old to give them?)", what, i + 1, PF_ID_MAX);
			return NULL;
		}
		sum = pf_table_digest_add(sum, v, (uint32_t)json_integer_value(id));
		/* By key, to match the other's in one pass: a table holds each once. */
		pfc_ha_key(f, key, sizeof(key));
		if (json_object_get(index, key)) {
			snprintf(err, errlen, "%s: %s twice (forward %zu)", what, key, i + 1);
			return NULL;
		}
		json_object_set(index, key, f);
	}
	snprintf(digest, len, "%016llx", (unsigned long long)pf_hash_mix(sum));
	return fw;
}

static void pfc_ha_diff(json_t *diffs, const char *key, const char *what, const char *detail)
{
	json_array_append_new(diffs, json_pack("{s:s, s:s, s:s}", "forward", key, "what", what,
					       "detail", detail));
}

/* The differences, forward by forward, both ways (each side by key). */
static void pfc_ha_compare(json_t *here, json_t *there, json_t *hidx, json_t *tidx, json_t *diffs)
{
	char key[512], d[128];
	json_t *f, *g;
	size_t i;

	json_array_foreach(here, i, f) {
		pfc_ha_key(f, key, sizeof(key));
		g = json_object_get(tidx, key);
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
		if (!json_object_get(hidx, key))
			pfc_ha_diff(diffs, key, "only there", "");
	}
}

json_t *pfc_ha_compare_lists(json_t *mine, json_t *other, const char *what, char *err,
			     size_t errlen)
{
	json_t *here, *there, *diffs, *hidx = json_object(), *tidx = json_object(), *r = NULL;
	char dh[20], dt[20];
	bool agree;

	there = pfc_ha_forwards(other, what, dt, sizeof(dt), tidx, err, errlen);
	here = there ? pfc_ha_forwards(mine, "this gateway", dh, sizeof(dh), hidx, err, errlen)
		     : NULL;
	if (!here)
		goto out;
	/* Forward by forward always: the digests are sums, which two tables
	 * could share by chance. */
	diffs = json_array();
	pfc_ha_compare(here, there, hidx, tidx, diffs);
	agree = !strcmp(dh, dt) && json_array_size(here) == json_array_size(there) &&
		!json_array_size(diffs);
	if (!agree && !json_array_size(diffs))
		pfc_ha_diff(diffs, "", "order",
			    "not matched forward by forward: compare 'portfw save' of both");
	r = json_pack("{s:b, s:{s:s, s:I}, s:{s:s, s:I}, s:o}", "agree", agree, "here", "digest",
		      dh, "forwards", (json_int_t)json_array_size(here), "there", "digest", dt,
		      "forwards", (json_int_t)json_array_size(there), "differences", diffs);
out:
	json_decref(hidx);
	json_decref(tidx);
	return r;
}

