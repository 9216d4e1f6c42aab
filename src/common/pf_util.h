/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers shared by the daemon, the client and the tests. */
#ifndef PF_UTIL_H
#define PF_UTIL_H

/* portfwd's and portfw's version: they are released together. */
#define PORTFW_VERSION "0.1.0"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic milliseconds (coarse clock: one vDSO read, ~1-4 ms resolution). */
uint64_t pf_now_ms(void);
/* Monotonic, precise: for timing what the daemon does. */
uint64_t pf_now_us(void);
/* The wall clock, in milliseconds since the epoch: for timestamps shown. */
uint64_t pf_wall_ms(void);

/* Parses "250ms", "5s", "2m", "1h", "1d" or a bare number of seconds into
 * milliseconds. Returns 0 or -1. */
int pf_parse_duration(const char *s, uint64_t *ms);
/* Formats a duration in the largest unit that is exact: "90s", "2m", "1500ms". */
void pf_format_duration(uint64_t ms, char *buf, size_t len);

/* Parses a decimal number in [min, max]. Returns 0 or -1. */
int pf_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Copies with truncation, always NUL-terminated; returns strlen(src). */
size_t pf_strlcpy(char *dst, const char *src, size_t size);

/* Appends s at buf[off] (truncated to len); returns off + strlen(s), as
 * snprintf counts, so that a caller can tell it was truncated. */
size_t pf_append(char *buf, size_t len, size_t off, const char *s);
/* s as a quoted word that the lexer reads back as it is ("a b" -> "\"a b\"",
 * with \" \\ \n \r \t \xHH), truncated to len; returns its whole length,
 * as snprintf. */
size_t pf_quote(char *buf, size_t len, const char *s);
/* The n bytes at s (NUL bytes too) as the inside of such a quoted word,
 * truncated to len; returns its whole length, as snprintf. One spelling per
 * byte string, so two escaped strings are equal when their bytes are. */
size_t pf_escape(char *buf, size_t len, const char *s, size_t n);
/* The value of hex digit c, or -1 when it is none. */
int pf_hexval(int c);
/* The bytes an escaped string (pf_escape's) stands for, at most len of
 * them into buf; returns how many, or -1 if s is not escaped text. */
int pf_unescape(const char *s, char *buf, size_t len);

void *pf_xcalloc(size_t n, size_t size);
/* n elements, not zeroed (for arrays filled before they are read). */
void *pf_xarray(size_t n, size_t size);

/* A copy of s ("" and NULL: a shared empty string, not allocated); aborts
 * when out of memory, as pf_xcalloc. Free with pf_xstrfree. */
char *pf_xstrdup(const char *s);
void pf_xstrfree(char *s);
/* Replaces the string *dst (NULL or from pf_xstrdup) with a copy of s. */
void pf_xstrset(char **dst, const char *s);

#endif
