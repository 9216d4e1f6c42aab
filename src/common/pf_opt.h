/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The options of a forward, described once: one row per option drives the
 * parser, 'portfw save', the defaults, the comparison of two versions of a
 * forward and 'portfw list -j'. Adding an option is adding a field to
 * struct pf_fwd_conf and a row to pf_opts (pf_opt.c).
 */
#ifndef PF_OPT_H
#define PF_OPT_H

#include "pf_table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pf_opt_kind {
	PF_OPT_FLAG, /* a word alone: true */
	PF_OPT_UINT, /* a number in [min, max] */
	PF_OPT_DUR, /* a duration in ms, at least min */
	PF_OPT_ENUM, /* one of names[] */
	PF_OPT_STR, /* a quoted string of 1-PF_CHECK_STR_MAX-1 bytes */
	PF_OPT_CIDRS, /* networks ADDR[/LEN][,ADDR[/LEN]...] */
	PF_OPT_MASQ, /* a word alone, or followed by an address (struct pf_masq) */
	PF_OPT_RATE, /* N/s or N/m, N in [min, max], kept as pf_rate_make() */
};

/* Where 'list -j' shows an option: in "options", in "check" (while checks
 * are on), or not by this table (shown its own way, or not at all). */
enum pf_opt_group { PF_OPT_G_NONE, PF_OPT_G_OPTIONS, PF_OPT_G_CHECK };

/* Options of one protocol or one engine: refused elsewhere, not ignored. */
#define PF_OPT_ONLY_TCP 1u /* a 'tcp' forward (not udp, tcp,udp or all) */
#define PF_OPT_ONLY_USER 2u /* the user engine */
#define PF_OPT_ONLY_HAS_TCP 4u /* a forward of TCP among others (tcp, tcp,udp) */
#define PF_OPT_ONLY_HAS_UDP 8u /* a forward of UDP among others (udp, tcp,udp) */

struct pf_opt {
	const char *word;
	const char *json; /* key in its group */
	uint8_t kind, group;
	uint8_t size; /* of the field: 1, 2, 4 or 8 bytes (FLAG, UINT, DUR, ENUM) */
	bool sets_check; /* giving it turns active health checks on */
	uint8_t only; /* PF_OPT_ONLY_*: where a value other than the default is allowed */
	uint16_t off; /* of the field in struct pf_fwd_conf */
	uint64_t min, max, def; /* ENUM: max is the last value */
	const char *const *names; /* ENUM: the word of each value (NULL: none) */
	const char *expect; /* what the parser says it expects */
};

/* A rate option's value: 0 (none), or N per second or per minute, one
 * number so that the table's generic get, set and compare carry it. The
 * unit is kept as written so that 'save' gives back the same burst. */
static inline uint64_t pf_rate_make(uint64_t n, bool per_min)
{
	return n << 1 | (per_min ? 1u : 0u);
}
static inline uint64_t pf_rate_n(uint64_t v)
{
	return v >> 1;
}
static inline bool pf_rate_per_min(uint64_t v)
{
	return v & 1u;
}
/* Microseconds between two tokens of the rate's bucket (0: no rate). */
static inline uint64_t pf_rate_us_per_token(uint64_t v)
{
	return pf_rate_n(v) ? (pf_rate_per_min(v) ? 60000 : 1000) * 1000 / pf_rate_n(v) : 0;
}
/* "N/s" or "N/m"; "" for 0. */
void pf_rate_format(uint64_t v, char *buf, size_t len);

extern const struct pf_opt pf_opts[];
extern const size_t pf_nopts;

/* The row of an option word, or NULL. */
const struct pf_opt *pf_opt_find(const char *word);
/* Numeric options (FLAG, UINT, DUR, ENUM). */
uint64_t pf_opt_get(const struct pf_fwd_conf *c, const struct pf_opt *o);
void pf_opt_set(struct pf_fwd_conf *c, const struct pf_opt *o, uint64_t v);
/* MASQ: the setting. */
const struct pf_masq *pf_opt_masq(const struct pf_fwd_conf *c, const struct pf_opt *o);
/* STR: the string ("" when not set); CIDRS: the set. */
const char *pf_opt_str(const struct pf_fwd_conf *c, const struct pf_opt *o);
void pf_opt_set_str(struct pf_fwd_conf *c, const struct pf_opt *o, const char *s);
struct pf_cidrset *pf_opt_cidrs(struct pf_fwd_conf *c, const struct pf_opt *o);
const struct pf_cidrset *pf_opt_cidrs_c(const struct pf_fwd_conf *c, const struct pf_opt *o);
/* The first option of c that its engine may not carry (PF_OPT_ONLY_USER
 * under the kernel engine), or NULL. */
const struct pf_opt *pf_opt_engine_misfit(const struct pf_fwd_conf *c, uint8_t engine);
/* Whether the option has its default value (then 'save' leaves it out). */
bool pf_opt_is_default(const struct pf_fwd_conf *c, const struct pf_opt *o);
/* " WORD VALUE" as 'save' writes it, appended at buf[off]; returns the new
 * length (which may exceed len: the output was truncated). */
size_t pf_opt_format(const struct pf_fwd_conf *c, const struct pf_opt *o, char *buf, size_t len,
		     size_t off);

/* A configuration with every option at its default. */
void pf_fwd_conf_init(struct pf_fwd_conf *c);
/* A deep copy (dst is overwritten, not freed). */
void pf_fwd_conf_copy(struct pf_fwd_conf *dst, const struct pf_fwd_conf *src);
void pf_fwd_conf_free(struct pf_fwd_conf *c);
/* Every option of the table equal (not the key, name or backends). */
bool pf_fwd_conf_opts_equal(const struct pf_fwd_conf *a, const struct pf_fwd_conf *b);

void pf_be_conf_copy(struct pf_be_conf *dst, const struct pf_be_conf *src);
void pf_be_conf_free(struct pf_be_conf *c);

#endif
