// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The admin form's body into a 'backend' statement (see pf_admin.h). The
 * values are checked against what the statement's words may hold, so that
 * no byte of the body can add a word or a statement to the request.
 */
#include "pf_admin.h"
#include "pf_addr.h"
#include "pf_table.h"
#include "pf_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define PF_ADMIN_WHAT "expected forward=NAME&backend=HOST:PORT&action=ACTION"

/* Decodes s[0..n) (%HH, '+' for a space) into out; -1 when it does not fit
 * or holds a bad escape or a NUL. */
static int pf_admin_decode(const char *s, size_t n, char *out, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (i + 2 >= n || pf_hexval(s[i + 1]) < 0 || pf_hexval(s[i + 2]) < 0)
				return -1;
			c = (char)(pf_hexval(s[i + 1]) * 16 + pf_hexval(s[i + 2]));
			i += 2;
		}
		if (!c || o + 1 >= len)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static bool pf_admin_name_ok(const char *s)
{
	const char *p;

	if (!*s || strlen(s) >= PF_NAME_MAX ||
	    !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

/* HOST:PORT as written in the config: a name, an IPv4 or [IPv6] address. */
static bool pf_admin_backend_ok(const char *s)
{
	const char *p;

	if (!*s)
		return false;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("-_.:[]%", *p)))
			return false;
	return true;
}

int pf_admin_parse(const char *body, size_t len, char *stmt, size_t stmtlen, char *err,
		   size_t errlen)
{
	static const char *const actions[] = { "drain", "enable", "disable", "backup", "primary" };
	static const char *const keys[] = { "forward", "backend", "action" };
	char val[3][PF_HOST_MAX + 16];
	bool seen[3] = { false, false, false };
	size_t off = 0, k;

	if (len > PF_ADMIN_BODY_MAX) {
		snprintf(err, errlen, "body longer than %d bytes; " PF_ADMIN_WHAT,
			 PF_ADMIN_BODY_MAX);
		return -1;
	}
	while (off < len) {
		const char *pair = body + off, *amp = memchr(pair, '&', len - off), *eq;
		size_t plen = amp ? (size_t)(amp - pair) : len - off;

		off += plen + (amp ? 1 : 0);
		if (!plen)
			continue;
		eq = memchr(pair, '=', plen);
		for (k = 0; eq && k < PF_ARRAY_SIZE(keys); k++)
			if ((size_t)(eq - pair) == strlen(keys[k]) &&
			    !memcmp(pair, keys[k], strlen(keys[k])))
				break;
		if (!eq || k == PF_ARRAY_SIZE(keys)) {
			snprintf(err, errlen, "unknown field '%.*s'; " PF_ADMIN_WHAT,
				 (int)(eq ? (size_t)(eq - pair) : plen > 32 ? 32 : plen), pair);
			return -1;
		}
		if (seen[k]) {
			snprintf(err, errlen, "field '%s' given twice; " PF_ADMIN_WHAT, keys[k]);
			return -1;
		}
		seen[k] = true;
		if (pf_admin_decode(eq + 1, plen - (size_t)(eq + 1 - pair), val[k],
				    sizeof(val[k]))) {
			snprintf(err, errlen,
				 "field '%s': a bad %%-escape, a NUL or too long; " PF_ADMIN_WHAT,
				 keys[k]);
			return -1;
		}
	}
	for (k = 0; k < PF_ARRAY_SIZE(keys); k++)
		if (!seen[k]) {
			snprintf(err, errlen, "field '%s' missing; " PF_ADMIN_WHAT, keys[k]);
			return -1;
		}
	if (!pf_admin_name_ok(val[0])) {
		snprintf(err, errlen,
			 "forward: expected a forward's name (a letter, then letters, digits, '-', "
			 "'_' or '.')");
		return -1;
	}
	if (!pf_admin_backend_ok(val[1])) {
		snprintf(err, errlen, "backend: expected HOST:PORT as 'portfw list' shows it");
		return -1;
	}
	for (k = 0; k < PF_ARRAY_SIZE(actions); k++)
		if (!strcmp(val[2], actions[k]))
			break;
	if (k == PF_ARRAY_SIZE(actions)) {
		snprintf(err, errlen,
			 "action: expected drain, enable, disable, backup or primary");
		return -1;
	}
	if ((size_t)snprintf(stmt, stmtlen, "backend name %s %s %s", val[0], val[1],
			     actions[k]) >= stmtlen) {
		snprintf(err, errlen, "statement too long");
		return -1;
	}
	return 0;
}
