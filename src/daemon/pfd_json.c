// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Text in replies of the control socket that may be any bytes: error
 * messages quote what the client sent (a config word, a file name), and the
 * table holds check strings and file names as given. jansson refuses
 * a string that is not UTF-8, and a refused reply would leave the client
 * with no answer at all. So each byte that is not part of valid UTF-8 is
 * shown as the four characters \xHH, here and only here.
 */
#include "pfd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The length of the UTF-8 sequence at s if it is a valid one (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), else 0. s is
 * NUL-terminated: a short sequence fails its check on the NUL. */
static size_t pfd_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
				       (s[3] & 0xc0) == 0x80
			       ? 4
			       : 0;
	}
	return 0;
}

char *pfd_json_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(strlen(s) * 4 + 1), *o = out;

	if (!out)
		return NULL;
	while (*p) {
		size_t n = pfd_utf8_len(p);

		if (n) {
			memcpy(o, p, n);
			o += n;
			p += n;
		} else {
			o += sprintf(o, "\\x%02X", *p++);
		}
	}
	*o = '\0';
	return out;
}

json_t *pfd_json_error(const char *msg)
{
	char *text = pfd_json_text(msg);
	json_t *res;

	if (!text)
		return NULL;
	res = json_pack("{s:b, s:s}", "ok", 0, "error", text);
	free(text);
	return res;
}

json_t *pfd_json_string(const char *s)
{
	char *text = pfd_json_text(s);
	json_t *j = json_string(text ? text : "");

	free(text);
	return j;
}
