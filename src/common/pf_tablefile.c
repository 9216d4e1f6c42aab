// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The seed-004 port table file, translated into 'forward' statements. Shared
 * by 'portfw import' (the client) and 'include-table' (the config loader),
 * and fuzzed (tests/fuzz/fuzz_tablefile.c).
 */
#include "pf_tablefile.h"
#include "pf_addr.h"
#include "pf_buf.h"
#include "pf_util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "NAME:LINE: 'word': expected EXT-PORT INT-IP INT-PORT [# comment]; why" */
__attribute__((format(printf, 5, 6))) static int pf_tf_fail(char *err, size_t errlen,
							     const char *name, int line,
							     const char *fmt, ...)
{
	size_t off;
	va_list ap;

	snprintf(err, errlen, "%s:%d: ", name, line);
	off = strlen(err);
	va_start(ap, fmt);
	vsnprintf(err + off, errlen - off, fmt, ap);
	va_end(ap);
	return -1;
}

/* "80" or "13110-13111". */
static int pf_tf_ports(const char *s, uint16_t *lo, uint16_t *hi)
{
	const char *dash = strchr(s, '-');
	char a[8];
	uint64_t v1, v2;
	size_t n = dash ? (size_t)(dash - s) : strlen(s);

	if (!n || n >= sizeof(a))
		return -1;
	memcpy(a, s, n);
	a[n] = '\0';
	if (pf_parse_uint(a, 1, 65535, &v1))
		return -1;
	v2 = v1;
	if (dash && (pf_parse_uint(dash + 1, 1, 65535, &v2) || v2 < v1))
		return -1;
	*lo = (uint16_t)v1;
	*hi = (uint16_t)v2;
	return 0;
}

/* One line without its comment: "" (nothing to do) or a forward statement. */
static int pf_tf_line(const char *name, int lineno, char *line, char *stmt, size_t slen,
		      char *err, size_t errlen)
{
	char *w[4], *save = NULL, *p;
	int n = 0;
	uint16_t elo, ehi, ilo = 0, ihi = 0;
	union pf_sa sa;
	bool v6;
	char ext[16], in[16] = "";

	stmt[0] = '\0';
	for (p = strtok_r(line, " \t\r\v\f", &save); p && n < 4; p = strtok_r(NULL, " \t\r\v\f", &save))
		w[n++] = p;
	if (!n)
		return 0;
	if (n < 3)
		return pf_tf_fail(err, errlen, name, lineno, "at end of line: " PF_TABLEFILE_WHAT
				  "; %s missing", n == 1 ? "INT-IP and INT-PORT are" : "INT-PORT is");
	if (n > 3)
		return pf_tf_fail(err, errlen, name, lineno, "'%.64s': " PF_TABLEFILE_WHAT
				  "; one line holds three words (start a comment with '#')", w[3]);
	if (pf_tf_ports(w[0], &elo, &ehi))
		return pf_tf_fail(err, errlen, name, lineno, "'%.64s': " PF_TABLEFILE_WHAT
				  "; EXT-PORT is a port 1-65535 or a range LOW-HIGH", w[0]);
	if (pf_sa_from_literal(w[1], &sa) || pf_sa_is_any(&sa))
		return pf_tf_fail(err, errlen, name, lineno, "'%.64s': " PF_TABLEFILE_WHAT
				  "; INT-IP is an IPv4 or IPv6 address", w[1]);
	v6 = sa.sa.sa_family == AF_INET6;
	if (strcasecmp(w[2], "RANGE") != 0) {
		if (pf_tf_ports(w[2], &ilo, &ihi))
			return pf_tf_fail(err, errlen, name, lineno, "'%.64s': " PF_TABLEFILE_WHAT
					  "; INT-PORT is a port 1-65535, a range LOW-HIGH or RANGE "
					  "(the same ports)", w[2]);
		if (ilo != ihi && ihi - ilo != ehi - elo)
			return pf_tf_fail(err, errlen, name, lineno, "'%.64s': " PF_TABLEFILE_WHAT
					  "; the INT-PORT range has %u ports, the EXT-PORT range %u "
					  "(ranges map 1:1; or give one port, or RANGE)",
					  w[2], ihi - ilo + 1u, ehi - elo + 1u);
		if (ilo == ihi)
			snprintf(in, sizeof(in), ":%u", ilo);
		else
			snprintf(in, sizeof(in), ":%u-%u", ilo, ihi);
	}
	if (elo == ehi)
		snprintf(ext, sizeof(ext), "%u", elo);
	else
		snprintf(ext, sizeof(ext), "%u-%u", elo, ehi);
	/* Both protocols, as the seed's script did ("for good measure"). */
	snprintf(stmt, slen, "forward name table-%s tcp,udp :%s to %s%s%s%s", ext, ext,
		 v6 && in[0] ? "[" : "", w[1], v6 && in[0] ? "]" : "", in);
	return 0;
}

int pf_tablefile_translate(const char *name, const char *text, size_t len, char **out,
			   char *err, size_t errlen)
{
	struct pf_buf o = { 0 }, line = { 0 };
	char stmt[512];
	size_t off = 0;
	int lineno = 0, rc = -1;

	*out = NULL;
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t l = nl ? (size_t)(nl - (text + off)) : len - off;
		char *hash;

		lineno++;
		if (memchr(text + off, '\0', l)) {
			pf_tf_fail(err, errlen, name, lineno, "NUL byte in line; expected text");
			goto out;
		}
		pf_buf_reset(&line);
		if (pf_buf_add(&line, text + off, l))
			goto oom;
		off += l + (nl ? 1 : 0);
		/* '#' anywhere starts a comment, as in the seed's script. */
		hash = strchr(line.s, '#');
		if (hash)
			*hash = '\0';
		if (pf_tf_line(name, lineno, line.s, stmt, sizeof(stmt), err, errlen))
			goto out;
		pf_buf_puts(&o, stmt);
		pf_buf_add(&o, "\n", 1);
	}
	/* An empty file gives an empty text. */
	*out = pf_buf_detach(&o, NULL);
	if (!*out)
		goto oom;
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "%s: out of memory", name);
out:
	pf_buf_free(&line);
	pf_buf_free(&o);
	return rc;
}
