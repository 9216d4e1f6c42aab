// SPDX-License-Identifier: GPL-2.0-or-later
#include "pf_util.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t pf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t pf_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t pf_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int pf_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static const struct {
	const char *suffix;
	uint64_t ms;
} pf_units[] = {
	{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 },
};

int pf_parse_duration(const char *s, uint64_t *ms)
{
	unsigned long long v;
	char *end;
	size_t i;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > 30ULL * 86400000)
		return -1;
	if (!*end) {
		*ms = v * 1000;
		return v > 30ULL * 86400 ? -1 : 0;
	}
	for (i = 0; i < PF_ARRAY_SIZE(pf_units); i++) {
		if (!strcmp(end, pf_units[i].suffix)) {
			if (v * pf_units[i].ms > 30ULL * 86400000)
				return -1;
			*ms = v * pf_units[i].ms;
			return 0;
		}
	}
	return -1;
}

void pf_format_duration(uint64_t ms, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < PF_ARRAY_SIZE(pf_units); i++) {
		if (ms && ms % pf_units[i].ms == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", ms / pf_units[i].ms, pf_units[i].suffix);
			return;
		}
	}
	snprintf(buf, len, "0s");
}

size_t pf_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

/* Appends s at off (as far as it fits); returns the new off. */
size_t pf_append(char *buf, size_t len, size_t off, const char *s)
{
	if (off < len)
		pf_strlcpy(buf + off, s, len - off);
	return off + strlen(s);
}

size_t pf_quote(char *buf, size_t len, const char *s)
{
	size_t off = pf_append(buf, len, 0, "\"");

	off += pf_escape(off < len ? buf + off : NULL, off < len ? len - off : 0, s, strlen(s));
	return pf_append(buf, len, off, "\"");
}

size_t pf_escape(char *buf, size_t len, const char *s, size_t n)
{
	size_t off = 0, i;
	char esc[8];

	if (len)
		buf[0] = '\0';
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			snprintf(esc, sizeof(esc), "\\%c", ch);
		else if (ch == '\n')
			snprintf(esc, sizeof(esc), "\\n");
		else if (ch == '\r')
			snprintf(esc, sizeof(esc), "\\r");
		else if (ch == '\t')
			snprintf(esc, sizeof(esc), "\\t");
		else if (ch < 0x20 || ch >= 0x7f)
			snprintf(esc, sizeof(esc), "\\x%02x", ch);
		else
			snprintf(esc, sizeof(esc), "%c", ch);
		off = pf_append(buf, len, off, esc);
	}
	return off;
}

int pf_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int pf_unescape(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	for (; *s; s++) {
		char ch = *s;

		if (ch == '\\') {
			switch (*++s) {
			case 'n': ch = '\n'; break;
			case 'r': ch = '\r'; break;
			case 't': ch = '\t'; break;
			case '\\': ch = '\\'; break;
			case '"': ch = '"'; break;
			case 'x':
				if (pf_hexval(s[1]) < 0 || pf_hexval(s[2]) < 0)
					return -1;
				ch = (char)(pf_hexval(s[1]) * 16 + pf_hexval(s[2]));
				s += 2;
				break;
			default:
				return -1;
			}
		}
		if (n == len || n == INT_MAX)
			return -1;
		buf[n++] = ch;
	}
	return (int)n;
}

void *pf_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p) {
		fprintf(stderr, "portfw: out of memory\n");
		abort();
	}
	return p;
}

void *pf_xarray(size_t n, size_t size)
{
	void *p = reallocarray(NULL, n ? n : 1, size);

	if (!p) {
		fprintf(stderr, "portfw: out of memory\n");
		abort();
	}
	return p;
}

/* Strings of configuration values: "" is one shared constant, so the empty
 * listen host of most forwards costs no allocation. */
static char pf_str_empty[1];

char *pf_xstrdup(const char *s)
{
	char *p;

	if (!s || !*s)
		return pf_str_empty;
	p = strdup(s);
	if (!p) {
		fprintf(stderr, "portfw: out of memory\n");
		abort();
	}
	return p;
}

void pf_xstrfree(char *s)
{
	if (s != pf_str_empty)
		free(s);
}

void pf_xstrset(char **dst, const char *s)
{
	char *old = *dst;

	*dst = pf_xstrdup(s);
	if (old)
		pf_xstrfree(old);
}
