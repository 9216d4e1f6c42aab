// SPDX-License-Identifier: GPL-2.0-or-later
#include "pf_opt.h"
#include "pf_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PF_FIELD(m) .off = offsetof(struct pf_fwd_conf, m), .size = sizeof(((struct pf_fwd_conf *)0)->m)
#define PF_DAY_MS (24ULL * 3600 * 1000)

static const char *const pf_bal_names[] = { "wrr", "pref", "rr", "leastconn", "source", "maglev" };
/* PF_ENGINE_DEFAULT is written as no 'engine' at all. */
static const char *const pf_engine_names[] = { NULL, "user", "kernel" };
/* enum pf_proxy_ver; PF_PROXY_OFF is written as no 'proxy-protocol'. */
static const char *const pf_proxy_names[] = { NULL, "v1", "v2" };
/* enum pf_resolve; the first address is written as no 'resolve'. */
static const char *const pf_resolve_names[] = { "first", "all" };

/* In the order 'portfw save' writes them. The defaults of the checks are
 * HAProxy's (inter 2s, fall 3, rise 2); the UDP timeouts conntrack's
 * (nf_conntrack_udp_timeout) and RFC 4787 REQ-5's (at least 120 s once a
 * reply was seen); an idle flow lasts as long as TCP keepalive's first
 * probe waits. */
const struct pf_opt pf_opts[] = {
	{ .word = "balance", .kind = PF_OPT_ENUM, PF_FIELD(balance), .def = PF_BAL_WRR,
	  .max = PF_BAL_MAGLEV, .names = pf_bal_names, .expect = "wrr, pref, rr, leastconn, source or maglev" },
	{ .word = "engine", .kind = PF_OPT_ENUM, PF_FIELD(engine), .def = PF_ENGINE_DEFAULT,
	  .max = PF_ENGINE_KERNEL, .names = pf_engine_names, .expect = "kernel or user" },
	{ .word = "ftp", .kind = PF_OPT_FLAG, PF_FIELD(ftp) },
	{ .word = "allow-loopback", .kind = PF_OPT_FLAG, PF_FIELD(allow_loopback) },
	{ .word = "masquerade", .json = "masquerade", .kind = PF_OPT_MASQ, .group = PF_OPT_G_OPTIONS,
	  .off = offsetof(struct pf_fwd_conf, masq) },
	{ .word = "transparent", .kind = PF_OPT_FLAG, PF_FIELD(transparent) },
	{ .word = "from", .kind = PF_OPT_CIDRS, .off = offsetof(struct pf_fwd_conf, from) },
	{ .word = "allow", .kind = PF_OPT_CIDRS, .off = offsetof(struct pf_fwd_conf, allow) },
	{ .word = "deny", .kind = PF_OPT_CIDRS, .off = offsetof(struct pf_fwd_conf, deny) },
	{ .word = "proxy-protocol", .json = "proxy_protocol", .kind = PF_OPT_ENUM,
	  .group = PF_OPT_G_OPTIONS, PF_FIELD(proxy_send), .def = 0, .max = 2,
	  .names = pf_proxy_names, .only = PF_OPT_ONLY_TCP | PF_OPT_ONLY_USER,
	  .expect = "v1 or v2 (the PROXY protocol version sent to the backends)" },
	{ .word = "accept-proxy", .kind = PF_OPT_CIDRS, .off = offsetof(struct pf_fwd_conf, accept_proxy),
	  .only = PF_OPT_ONLY_TCP | PF_OPT_ONLY_USER },
	{ .word = "defer-accept", .kind = PF_OPT_FLAG, PF_FIELD(defer_accept),
	  .only = PF_OPT_ONLY_TCP | PF_OPT_ONLY_USER },
	{ .word = "check", .kind = PF_OPT_FLAG, PF_FIELD(check.on), .sets_check = true },
	{ .word = "check-interval", .json = "interval_ms", .kind = PF_OPT_DUR,
	  .group = PF_OPT_G_CHECK, PF_FIELD(check.interval_ms), .min = 100, .max = 30 * PF_DAY_MS,
	  .def = 2000, .sets_check = true },
	{ .word = "check-timeout", .json = "timeout_ms", .kind = PF_OPT_DUR,
	  .group = PF_OPT_G_CHECK, PF_FIELD(check.timeout_ms), .min = 100, .max = 30 * PF_DAY_MS,
	  .def = 2000, .sets_check = true },
	{ .word = "fall", .json = "fall", .kind = PF_OPT_UINT, .group = PF_OPT_G_CHECK,
	  PF_FIELD(check.fall), .min = 1, .max = 100, .def = 3, .sets_check = true,
	  .expect = "a number of checks 1-100" },
	{ .word = "rise", .json = "rise", .kind = PF_OPT_UINT, .group = PF_OPT_G_CHECK,
	  PF_FIELD(check.rise), .min = 1, .max = 100, .def = 2, .sets_check = true,
	  .expect = "a number of checks 1-100" },
	{ .word = "check-port", .json = "port", .kind = PF_OPT_UINT, .group = PF_OPT_G_CHECK,
	  PF_FIELD(check.port), .min = 1, .max = 65535, .sets_check = true,
	  .expect = "a port number 1-65535" },
	{ .word = "check-send", .json = "send", .kind = PF_OPT_STR, .group = PF_OPT_G_CHECK,
	  .off = offsetof(struct pf_fwd_conf, check.send), .sets_check = true },
	{ .word = "check-expect", .json = "expect", .kind = PF_OPT_STR, .group = PF_OPT_G_CHECK,
	  .off = offsetof(struct pf_fwd_conf, check.expect), .sets_check = true },
	{ .word = "agent-port", .json = "agent_port", .kind = PF_OPT_UINT, .group = PF_OPT_G_CHECK,
	  PF_FIELD(check.agent_port), .min = 1, .max = 65535, .sets_check = true,
	  .expect = "a port number 1-65535" },
	{ .word = "agent-interval", .json = "agent_interval_ms", .kind = PF_OPT_DUR,
	  .group = PF_OPT_G_CHECK, PF_FIELD(check.agent_interval_ms), .min = 100,
	  .max = 30 * PF_DAY_MS, .def = 2000, .sets_check = true },
	{ .word = "connect-timeout", .json = "connect_timeout_ms", .kind = PF_OPT_DUR,
	  .group = PF_OPT_G_OPTIONS, PF_FIELD(o.connect_ms), .min = 10, .max = 30 * PF_DAY_MS,
	  .def = 5000 },
	{ .word = "idle-timeout", .json = "idle_timeout_ms", .kind = PF_OPT_DUR,
	  .group = PF_OPT_G_OPTIONS, PF_FIELD(o.idle_ms), .min = 100, .max = 30 * PF_DAY_MS,
	  .def = 2ULL * 3600 * 1000 },
	{ .word = "half-close-timeout", .json = "half_close_timeout_ms", .kind = PF_OPT_DUR,
	  .group = PF_OPT_G_OPTIONS, PF_FIELD(o.halfclose_ms), .min = 100, .max = 30 * PF_DAY_MS,
	  .def = 60ULL * 1000 },
	{ .word = "maxconn", .json = "maxconn", .kind = PF_OPT_UINT, .group = PF_OPT_G_OPTIONS,
	  PF_FIELD(o.maxconn), .min = 0, .max = 10000000, .def = 0,
	  .expect = "a number 0-10000000 (0: no limit)" },
	{ .word = "udp-timeout", .json = "udp_timeout_ms", .kind = PF_OPT_DUR,
	  .group = PF_OPT_G_OPTIONS, PF_FIELD(o.udp_ms), .min = 1000, .max = 30 * PF_DAY_MS,
	  .def = 30ULL * 1000 },
	{ .word = "udp-stream-timeout", .json = "udp_stream_timeout_ms", .kind = PF_OPT_DUR,
	  .group = PF_OPT_G_OPTIONS, PF_FIELD(o.udp_stream_ms), .min = 1000, .max = 30 * PF_DAY_MS,
	  .def = 120ULL * 1000 },
	{ .word = "max-sessions", .json = "max_sessions", .kind = PF_OPT_UINT,
	  .group = PF_OPT_G_OPTIONS, PF_FIELD(o.max_sessions), .min = 1, .max = 10000000,
	  .def = 65536, .expect = "a number 1-10000000" },
	{ .word = "max-per-source", .json = "max_per_source", .kind = PF_OPT_UINT,
	  .group = PF_OPT_G_OPTIONS, PF_FIELD(o.max_per_src), .min = 0, .max = 10000000, .def = 0,
	  .only = PF_OPT_ONLY_HAS_TCP,
	  .expect = "a number of TCP connections 0-10000000 (0: no limit)" },
	{ .word = "max-sessions-per-source", .json = "max_sessions_per_source", .kind = PF_OPT_UINT,
	  .group = PF_OPT_G_OPTIONS, PF_FIELD(o.max_sess_per_src), .min = 0, .max = 10000000,
	  .def = 0, .only = PF_OPT_ONLY_HAS_UDP,
	  .expect = "a number of UDP sessions 0-10000000 (0: no limit)" },
	{ .word = "rate-per-source", .json = "rate_per_source", .kind = PF_OPT_RATE,
	  .group = PF_OPT_G_OPTIONS, PF_FIELD(o.rate_per_src), .min = 1, .max = 1000000, .def = 0,
	  .expect = "a rate N/s or N/m, N 1-1000000 (new flows per client address)" },
	{ .word = "log", .json = "log", .kind = PF_OPT_FLAG, .group = PF_OPT_G_OPTIONS,
	  PF_FIELD(log) },
	{ .word = "resolve", .json = "resolve", .kind = PF_OPT_ENUM, .group = PF_OPT_G_OPTIONS,
	  PF_FIELD(o.resolve), .def = PF_RESOLVE_FIRST, .max = PF_RESOLVE_ALL,
	  .names = pf_resolve_names,
	  .expect = "first or all (which addresses of a backend's host name are backends)" },
	{ .word = "resolve-interval", .json = "resolve_interval_ms", .kind = PF_OPT_DUR,
	  .group = PF_OPT_G_OPTIONS, PF_FIELD(o.resolve_ms), .min = PF_RESOLVE_MIN_MS,
	  .max = 30 * PF_DAY_MS, .def = PF_RESOLVE_DEFAULT_MS,
	  .expect = "a duration of at least 1s (how often backend host names are resolved again)" },
};

const size_t pf_nopts = PF_ARRAY_SIZE(pf_opts);

const struct pf_opt *pf_opt_find(const char *word)
{
	size_t i;

	for (i = 0; i < pf_nopts; i++)
		if (!strcmp(pf_opts[i].word, word))
			return &pf_opts[i];
	return NULL;
}

uint64_t pf_opt_get(const struct pf_fwd_conf *c, const struct pf_opt *o)
{
	const char *p = (const char *)c + o->off;
	uint64_t v8;
	uint32_t v4;
	uint16_t v2;
	uint8_t v1;

	switch (o->size) {
	case 1:
		memcpy(&v1, p, 1);
		return v1;
	case 2:
		memcpy(&v2, p, 2);
		return v2;
	case 4:
		memcpy(&v4, p, 4);
		return v4;
	default:
		memcpy(&v8, p, 8);
		return v8;
	}
}

void pf_opt_set(struct pf_fwd_conf *c, const struct pf_opt *o, uint64_t v)
{
	char *p = (char *)c + o->off;
	uint32_t v4 = (uint32_t)v;
	uint16_t v2 = (uint16_t)v;
	uint8_t v1 = (uint8_t)v;

	switch (o->size) {
	case 1:
		memcpy(p, &v1, 1);
		break;
	case 2:
		memcpy(p, &v2, 2);
		break;
	case 4:
		memcpy(p, &v4, 4);
		break;
	default:
		memcpy(p, &v, 8);
		break;
	}
}

static char **pf_opt_strp(struct pf_fwd_conf *c, const struct pf_opt *o)
{
	return (char **)(void *)((char *)c + o->off);
}

const char *pf_opt_str(const struct pf_fwd_conf *c, const struct pf_opt *o)
{
	const char *s = *(char *const *)(const void *)((const char *)c + o->off);

	return s ? s : "";
}

void pf_opt_set_str(struct pf_fwd_conf *c, const struct pf_opt *o, const char *s)
{
	char **p = pf_opt_strp(c, o);

	if (*p)
		pf_xstrfree(*p);
	*p = pf_xstrdup(s);
}

struct pf_cidrset *pf_opt_cidrs(struct pf_fwd_conf *c, const struct pf_opt *o)
{
	return (struct pf_cidrset *)(void *)((char *)c + o->off);
}

const struct pf_masq *pf_opt_masq(const struct pf_fwd_conf *c, const struct pf_opt *o)
{
	return (const struct pf_masq *)(const void *)((const char *)c + o->off);
}

const struct pf_cidrset *pf_opt_cidrs_c(const struct pf_fwd_conf *c, const struct pf_opt *o)
{
	return (const struct pf_cidrset *)(const void *)((const char *)c + o->off);
}

const struct pf_opt *pf_opt_engine_misfit(const struct pf_fwd_conf *c, uint8_t engine)
{
	size_t i;

	if (engine != PF_ENGINE_KERNEL)
		return NULL;
	for (i = 0; i < pf_nopts; i++)
		if ((pf_opts[i].only & PF_OPT_ONLY_USER) && !pf_opt_is_default(c, &pf_opts[i]))
			return &pf_opts[i];
	return NULL;
}

bool pf_opt_is_default(const struct pf_fwd_conf *c, const struct pf_opt *o)
{
	switch (o->kind) {
	case PF_OPT_STR:
		return !*pf_opt_str(c, o);
	case PF_OPT_CIDRS:
		return !pf_opt_cidrs_c(c, o)->n;
	case PF_OPT_MASQ:
		return !pf_opt_masq(c, o)->on;
	default:
		return pf_opt_get(c, o) == o->def;
	}
}

size_t pf_opt_format(const struct pf_fwd_conf *c, const struct pf_opt *o, char *buf, size_t len,
		     size_t off)
{
	char tmp[64];

	off = pf_append(buf, len, off, " ");
	off = pf_append(buf, len, off, o->word);
	switch (o->kind) {
	case PF_OPT_FLAG:
		return off;
	case PF_OPT_UINT:
		snprintf(tmp, sizeof(tmp), " %llu", (unsigned long long)pf_opt_get(c, o));
		return pf_append(buf, len, off, tmp);
	case PF_OPT_RATE:
		tmp[0] = ' ';
		pf_rate_format(pf_opt_get(c, o), tmp + 1, sizeof(tmp) - 1);
		return pf_append(buf, len, off, tmp);
	case PF_OPT_DUR:
		tmp[0] = ' ';
		pf_format_duration(pf_opt_get(c, o), tmp + 1, sizeof(tmp) - 1);
		return pf_append(buf, len, off, tmp);
	case PF_OPT_ENUM: {
		uint64_t v = pf_opt_get(c, o);

		off = pf_append(buf, len, off, " ");
		return pf_append(buf, len, off, v <= o->max && o->names[v] ? o->names[v] : "?");
	}
	case PF_OPT_STR:
		/* Escaped text already (pf_escape): quoted as it is. */
		off = pf_append(buf, len, off, " \"");
		off = pf_append(buf, len, off, pf_opt_str(c, o));
		return pf_append(buf, len, off, "\"");
	case PF_OPT_MASQ: {
		const struct pf_masq *m = pf_opt_masq(c, o);

		if (!m->addr.sa.sa_family)
			return off;
		tmp[0] = ' ';
		pf_sa_format(&m->addr, false, tmp + 1, sizeof(tmp) - 1);
		return pf_append(buf, len, off, tmp);
	}
	default:
		off = pf_append(buf, len, off, " ");
		if (off < len)
			pf_cidrset_format(pf_opt_cidrs_c(c, o), buf + off, len - off);
		return off < len ? off + strlen(buf + off) : off;
	}
}

void pf_rate_format(uint64_t v, char *buf, size_t len)
{
	if (!pf_rate_n(v))
		snprintf(buf, len, "%s", "");
	else
		snprintf(buf, len, "%llu/%c", (unsigned long long)pf_rate_n(v),
			 pf_rate_per_min(v) ? 'm' : 's');
}

void pf_fwd_conf_init(struct pf_fwd_conf *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	c->lhost = pf_xstrdup("");
	c->src = pf_xstrdup("");
	for (i = 0; i < pf_nopts; i++) {
		if (pf_opts[i].kind == PF_OPT_STR)
			pf_opt_set_str(c, &pf_opts[i], "");
		else if (pf_opts[i].kind != PF_OPT_CIDRS && pf_opts[i].kind != PF_OPT_MASQ)
			pf_opt_set(c, &pf_opts[i], pf_opts[i].def);
	}
}

void pf_fwd_conf_copy(struct pf_fwd_conf *dst, const struct pf_fwd_conf *src)
{
	size_t i;

	*dst = *src;
	dst->lhost = pf_xstrdup(src->lhost);
	dst->src = pf_xstrdup(src->src);
	for (i = 0; i < pf_nopts; i++) {
		const struct pf_opt *o = &pf_opts[i];

		if (o->kind == PF_OPT_STR) {
			*pf_opt_strp(dst, o) = NULL;
			pf_opt_set_str(dst, o, pf_opt_str(src, o));
		} else if (o->kind == PF_OPT_CIDRS) {
			pf_cidrset_copy(pf_opt_cidrs(dst, o), pf_opt_cidrs_c(src, o));
		}
	}
}

void pf_fwd_conf_free(struct pf_fwd_conf *c)
{
	size_t i;

	pf_xstrfree(c->lhost);
	pf_xstrfree(c->src);
	c->lhost = c->src = NULL;
	for (i = 0; i < pf_nopts; i++) {
		const struct pf_opt *o = &pf_opts[i];

		if (o->kind == PF_OPT_STR) {
			char **p = pf_opt_strp(c, o);

			if (*p)
				pf_xstrfree(*p);
			*p = NULL;
		} else if (o->kind == PF_OPT_CIDRS) {
			pf_cidrset_free(pf_opt_cidrs(c, o));
		}
	}
}

bool pf_fwd_conf_opts_equal(const struct pf_fwd_conf *a, const struct pf_fwd_conf *b)
{
	size_t i;

	for (i = 0; i < pf_nopts; i++) {
		const struct pf_opt *o = &pf_opts[i];

		if (o->kind == PF_OPT_STR) {
			if (strcmp(pf_opt_str(a, o), pf_opt_str(b, o)) != 0)
				return false;
		} else if (o->kind == PF_OPT_CIDRS) {
			if (!pf_cidrset_equal(pf_opt_cidrs_c(a, o), pf_opt_cidrs_c(b, o)))
				return false;
		} else if (o->kind == PF_OPT_MASQ) {
			const struct pf_masq *x = pf_opt_masq(a, o), *y = pf_opt_masq(b, o);

			if (x->on != y->on || x->addr.sa.sa_family != y->addr.sa.sa_family ||
			    (x->addr.sa.sa_family && !pf_sa_addr_equal(&x->addr, &y->addr)))
				return false;
		} else if (pf_opt_get(a, o) != pf_opt_get(b, o)) {
			return false;
		}
	}
	return true;
}

void pf_be_conf_copy(struct pf_be_conf *dst, const struct pf_be_conf *src)
{
	*dst = *src;
	dst->host = pf_xstrdup(src->host);
}

void pf_be_conf_free(struct pf_be_conf *c)
{
	pf_xstrfree(c->host);
	c->host = NULL;
}
