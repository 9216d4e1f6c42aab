// SPDX-License-Identifier: GPL-2.0-or-later
#include "pf_table.h"
#include "pf_util.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct pf_fwd_opts pf_fwd_defaults = {
	.connect_ms = 5000,
	.idle_ms = 2ULL * 3600 * 1000, /* like TCP keepalive's first probe */
	.halfclose_ms = 60ULL * 1000,
	.maxconn = 0,
	.udp_ms = 30ULL * 1000, /* conntrack's nf_conntrack_udp_timeout */
	.udp_stream_ms = 120ULL * 1000, /* RFC 4787 REQ-5 */
	.max_sessions = 65536,
};

struct pf_stats *pf_stats_new(void)
{
	struct pf_stats *st = pf_xcalloc(1, sizeof(*st));

	atomic_init(&st->refs, 1);
	return st;
}

struct pf_stats *pf_stats_ref(struct pf_stats *st)
{
	atomic_fetch_add(&st->refs, 1);
	return st;
}

void pf_stats_unref(struct pf_stats *st)
{
	if (st && atomic_fetch_sub(&st->refs, 1) == 1)
		free(st);
}

struct pf_forward *pf_forward_new(void)
{
	struct pf_forward *f = pf_xcalloc(1, sizeof(*f));

	atomic_init(&f->refs, 1);
	f->o = pf_fwd_defaults;
	pthread_mutex_init(&f->sched_lock, NULL);
	return f;
}

struct pf_forward *pf_forward_ref(struct pf_forward *f)
{
	atomic_fetch_add(&f->refs, 1);
	return f;
}

void pf_forward_unref(struct pf_forward *f)
{
	uint32_t i;

	if (!f || atomic_fetch_sub(&f->refs, 1) != 1)
		return;
	for (i = 0; i < f->nbe; i++)
		pf_stats_unref(f->be[i].st);
	pf_stats_unref(f->st);
	pthread_mutex_destroy(&f->sched_lock);
	free(f->be);
	free(f);
}

struct pf_forward *pf_forward_clone(const struct pf_forward *f)
{
	struct pf_forward *c = pf_forward_new();
	uint32_t i;

	memcpy(c->name, f->name, sizeof(c->name));
	memcpy(c->src, f->src, sizeof(c->src));
	memcpy(c->lhost, f->lhost, sizeof(c->lhost));
	c->line = f->line;
	c->protos = f->protos;
	c->lbracketed = f->lbracketed;
	c->lport_lo = f->lport_lo;
	c->lport_hi = f->lport_hi;
	c->o = f->o;
	c->laddr = f->laddr;
	c->nbe = f->nbe;
	c->be = pf_xcalloc(f->nbe ? f->nbe : 1, sizeof(*c->be));
	for (i = 0; i < f->nbe; i++) {
		c->be[i] = f->be[i];
		c->be[i].st = NULL;
		c->be[i].sched_cur = 0;
		atomic_init(&c->be[i].down_until_ms, 0);
	}
	return c;
}

bool pf_forward_same_key(const struct pf_forward *a, const struct pf_forward *b)
{
	return a->protos == b->protos && !strcmp(a->lhost, b->lhost) &&
	       a->lport_lo == b->lport_lo && a->lport_hi == b->lport_hi;
}

static bool pf_backend_same(const struct pf_backend *a, const struct pf_backend *b)
{
	return !strcmp(a->host, b->host) && a->port_lo == b->port_lo && a->port_hi == b->port_hi;
}

bool pf_forward_equal(const struct pf_forward *a, const struct pf_forward *b)
{
	uint32_t i;

	if (!pf_forward_same_key(a, b) || strcmp(a->name, b->name) != 0 || a->nbe != b->nbe ||
	    a->o.connect_ms != b->o.connect_ms || a->o.idle_ms != b->o.idle_ms ||
	    a->o.halfclose_ms != b->o.halfclose_ms || a->o.maxconn != b->o.maxconn ||
	    a->o.udp_ms != b->o.udp_ms || a->o.udp_stream_ms != b->o.udp_stream_ms ||
	    a->o.max_sessions != b->o.max_sessions)
		return false;
	for (i = 0; i < a->nbe; i++)
		if (!pf_backend_same(&a->be[i], &b->be[i]) || a->be[i].weight != b->be[i].weight)
			return false;
	return true;
}

uint16_t pf_backend_port(const struct pf_forward *f, const struct pf_backend *be, uint16_t lport)
{
	if (!be->port_lo)
		return lport;
	if (be->port_lo == be->port_hi)
		return be->port_lo;
	return (uint16_t)(be->port_lo + (lport - f->lport_lo));
}

const char *pf_proto_name(uint8_t protos)
{
	switch (protos) {
	case PF_PROTO_TCP:
		return "tcp";
	case PF_PROTO_UDP:
		return "udp";
	default:
		return "tcp,udp";
	}
}

static void pf_hostport_format(const char *host, bool bracketed, uint16_t lo, uint16_t hi,
			       char *buf, size_t len)
{
	const char *l = bracketed ? "[" : "", *r = bracketed ? "]" : "";

	if (!lo)
		snprintf(buf, len, "%s%s%s", l, host, r);
	else if (lo == hi)
		snprintf(buf, len, "%s%s%s:%u", l, host, r, lo);
	else
		snprintf(buf, len, "%s%s%s:%u-%u", l, host, r, lo, hi);
}

void pf_listen_format(const struct pf_forward *f, char *buf, size_t len)
{
	pf_hostport_format(f->lhost, f->lbracketed, f->lport_lo, f->lport_hi, buf, len);
}

void pf_backend_format(const struct pf_backend *be, char *buf, size_t len)
{
	pf_hostport_format(be->host, be->bracketed, be->port_lo, be->port_hi, buf, len);
}

static size_t pf_append(char *buf, size_t len, size_t off, const char *fmt, const char *s)
{
	int n;

	if (off >= len)
		return off;
	n = snprintf(buf + off, len - off, fmt, s);
	return n < 0 ? off : off + (size_t)n;
}

void pf_forward_format(const struct pf_forward *f, char *buf, size_t len)
{
	char tmp[PF_HOST_MAX + 32];
	size_t off = 0;
	uint32_t i;

	off = pf_append(buf, len, off, "%s", "forward");
	if (f->name[0])
		off = pf_append(buf, len, off, " name %s", f->name);
	off = pf_append(buf, len, off, " %s", pf_proto_name(f->protos));
	pf_listen_format(f, tmp, sizeof(tmp));
	off = pf_append(buf, len, off, " %s to", tmp);
	for (i = 0; i < f->nbe; i++) {
		pf_backend_format(&f->be[i], tmp, sizeof(tmp));
		off = pf_append(buf, len, off, i ? ", %s" : " %s", tmp);
		if (f->be[i].weight != 1) {
			snprintf(tmp, sizeof(tmp), "%u", f->be[i].weight);
			off = pf_append(buf, len, off, " weight %s", tmp);
		}
	}
	if (f->o.connect_ms != pf_fwd_defaults.connect_ms) {
		pf_format_duration(f->o.connect_ms, tmp, sizeof(tmp));
		off = pf_append(buf, len, off, " connect-timeout %s", tmp);
	}
	if (f->o.idle_ms != pf_fwd_defaults.idle_ms) {
		pf_format_duration(f->o.idle_ms, tmp, sizeof(tmp));
		off = pf_append(buf, len, off, " idle-timeout %s", tmp);
	}
	if (f->o.halfclose_ms != pf_fwd_defaults.halfclose_ms) {
		pf_format_duration(f->o.halfclose_ms, tmp, sizeof(tmp));
		off = pf_append(buf, len, off, " half-close-timeout %s", tmp);
	}
	if (f->o.maxconn) {
		snprintf(tmp, sizeof(tmp), "%u", f->o.maxconn);
		off = pf_append(buf, len, off, " maxconn %s", tmp);
	}
	if (f->o.udp_ms != pf_fwd_defaults.udp_ms) {
		pf_format_duration(f->o.udp_ms, tmp, sizeof(tmp));
		off = pf_append(buf, len, off, " udp-timeout %s", tmp);
	}
	if (f->o.udp_stream_ms != pf_fwd_defaults.udp_stream_ms) {
		pf_format_duration(f->o.udp_stream_ms, tmp, sizeof(tmp));
		off = pf_append(buf, len, off, " udp-stream-timeout %s", tmp);
	}
	if (f->o.max_sessions != pf_fwd_defaults.max_sessions) {
		snprintf(tmp, sizeof(tmp), "%u", f->o.max_sessions);
		pf_append(buf, len, off, " max-sessions %s", tmp);
	}
}

void pf_table_init(struct pf_table *t)
{
	memset(t, 0, sizeof(*t));
}

void pf_table_clear(struct pf_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		pf_forward_unref(t->fwd[i]);
	free(t->fwd);
	pf_table_init(t);
}

void pf_table_add(struct pf_table *t, struct pf_forward *f)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct pf_forward **n = realloc(t->fwd, cap * sizeof(*n));

		if (!n) {
			fprintf(stderr, "portfw: out of memory\n");
			abort();
		}
		t->fwd = n;
		t->cap = cap;
	}
	t->fwd[t->n++] = f;
}

void pf_table_remove_at(struct pf_table *t, size_t i)
{
	pf_forward_unref(t->fwd[i]);
	memmove(&t->fwd[i], &t->fwd[i + 1], (t->n - i - 1) * sizeof(t->fwd[0]));
	t->n--;
}

void pf_table_copy(struct pf_table *dst, const struct pf_table *src)
{
	size_t i;

	pf_table_init(dst);
	for (i = 0; i < src->n; i++)
		pf_table_add(dst, pf_forward_ref(src->fwd[i]));
}

struct pf_forward *pf_table_find_name(const struct pf_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->fwd[i]->name[0] && !strcmp(t->fwd[i]->name, name))
			return t->fwd[i];
	return NULL;
}

static bool pf_forward_overlap(const struct pf_forward *a, const struct pf_forward *b)
{
	if (!(a->protos & b->protos))
		return false;
	if (a->lport_hi < b->lport_lo || b->lport_hi < a->lport_lo)
		return false;
	if (a->laddr.sa.sa_family && b->laddr.sa.sa_family)
		return pf_sa_addr_equal(&a->laddr, &b->laddr) ||
		       (pf_sa_is_any(&a->laddr) && pf_sa_is_any(&b->laddr));
	/* Not resolved yet: compare as written. */
	return !strcmp(a->lhost, b->lhost);
}

int pf_table_validate(const struct pf_table *t, char *err, size_t errlen)
{
	size_t i, j;

	for (i = 0; i < t->n; i++) {
		const struct pf_forward *a = t->fwd[i];

		for (j = 0; j < i; j++) {
			const struct pf_forward *b = t->fwd[j];
			char l[PF_HOST_MAX + 16];

			if (a->name[0] && !strcmp(a->name, b->name)) {
				snprintf(err, errlen,
					 "%s:%d: name '%s' is already used by the forward at %s:%d; "
					 "expected a unique name",
					 a->src, a->line, a->name, b->src, b->line);
				return -1;
			}
			if (pf_forward_overlap(a, b)) {
				pf_listen_format(a, l, sizeof(l));
				snprintf(err, errlen,
					 "%s:%d: %s %s overlaps forward %s%s%s(%s:%d); expected "
					 "each protocol, address and port to be forwarded once",
					 a->src, a->line, pf_proto_name(a->protos & b->protos), l,
					 b->name[0] ? "'" : "", b->name, b->name[0] ? "' " : "",
					 b->src, b->line);
				return -1;
			}
		}
	}
	return 0;
}

static int pf_resolve_host(const char *host, bool passive, union pf_sa *out, char *why,
			   size_t whylen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int rc;

	if (!pf_sa_from_literal(host, out))
		return 0;
	if (passive)
		hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc) {
		snprintf(why, whylen, "%s", gai_strerror(rc));
		return -1;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr,
	       res->ai_addrlen < sizeof(*out) ? res->ai_addrlen : sizeof(*out));
	freeaddrinfo(res);
	return 0;
}

int pf_table_resolve(struct pf_table *t, char *err, size_t errlen)
{
	char why[128];
	size_t i;
	uint32_t j;

	for (i = 0; i < t->n; i++) {
		struct pf_forward *f = t->fwd[i];

		if (f->laddr.sa.sa_family)
			continue; /* kept from the running table */
		if (pf_resolve_host(f->lhost, true, &f->laddr, why, sizeof(why))) {
			snprintf(err, errlen, "%s:%d: cannot resolve listen host '%s': %s",
				 f->src, f->line, f->lhost, why);
			return -1;
		}
		for (j = 0; j < f->nbe; j++) {
			struct pf_backend *be = &f->be[j];

			if (pf_resolve_host(be->host, false, &be->addr, why, sizeof(why))) {
				snprintf(err, errlen, "%s:%d: cannot resolve backend host '%s': %s",
					 f->src, be->line, be->host, why);
				return -1;
			}
		}
	}
	return 0;
}

static struct pf_forward *pf_table_find_key(const struct pf_table *t, const struct pf_forward *f)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (pf_forward_same_key(t->fwd[i], f))
			return t->fwd[i];
	return NULL;
}

void pf_table_inherit(const struct pf_table *cur, struct pf_table *next)
{
	size_t i, k;
	uint32_t j;

	for (i = 0; i < next->n; i++) {
		struct pf_forward *f = next->fwd[i], *old = NULL;

		for (k = 0; k < cur->n; k++) {
			if (pf_forward_equal(cur->fwd[k], f)) {
				old = cur->fwd[k];
				break;
			}
		}
		if (old) {
			if (old != f) {
				next->fwd[i] = pf_forward_ref(old);
				pf_forward_unref(f);
			}
			continue;
		}
		old = pf_table_find_key(cur, f);
		if (!f->st)
			f->st = old ? pf_stats_ref(old->st) : pf_stats_new();
		for (j = 0; j < f->nbe; j++) {
			struct pf_backend *be = &f->be[j];
			uint32_t m;

			if (be->st)
				continue;
			for (m = 0; old && m < old->nbe; m++) {
				if (pf_backend_same(&old->be[m], be)) {
					be->st = pf_stats_ref(old->be[m].st);
					break;
				}
			}
			if (!be->st)
				be->st = pf_stats_new();
		}
	}
}

static bool pf_table_contains(const struct pf_table *t, const struct pf_forward *f)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->fwd[i] == f)
			return true;
	return false;
}

void pf_table_diff(const struct pf_table *cur, const struct pf_table *next, pf_diff_cb cb,
		   void *arg)
{
	size_t i;

	for (i = 0; i < cur->n; i++) {
		struct pf_forward *o = cur->fwd[i], *n;

		if (pf_table_contains(next, o)) {
			cb(PF_DIFF_KEEP, o, o, arg);
			continue;
		}
		n = pf_table_find_key(next, o);
		if (n && pf_table_find_key(cur, n) == o)
			cb(PF_DIFF_MODIFY, o, n, arg);
		else
			cb(PF_DIFF_DEL, o, NULL, arg);
	}
	for (i = 0; i < next->n; i++) {
		struct pf_forward *n = next->fwd[i];

		if (!pf_table_contains(cur, n) && !pf_table_find_key(cur, n))
			cb(PF_DIFF_ADD, NULL, n, arg);
	}
}
