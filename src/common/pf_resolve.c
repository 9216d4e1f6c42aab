// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Host names of a forward made addresses: when a table is loaded or changed
 * (getaddrinfo, on the control thread), and the helpers the daemon's
 * resolver (pfd_resolve.c) shares to put a name's new answer in place. The
 * name stays configuration (be->conf.host); the address is runtime state
 * (be->addr), and with 'resolve all' the line's further addresses are
 * backends of their own marked extra, which save leaves out.
 */
#include "pf_table.h"
#include "pf_opt.h"
#include "pf_util.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pf_sa_cmp(const void *x, const void *y)
{
	const union pf_sa *a = x, *b = y;

	if (a->sa.sa_family != b->sa.sa_family)
		return a->sa.sa_family < b->sa.sa_family ? -1 : 1;
	if (a->sa.sa_family == AF_INET)
		return memcmp(&a->sin.sin_addr, &b->sin.sin_addr, sizeof(a->sin.sin_addr));
	return memcmp(&a->sin6.sin6_addr, &b->sin6.sin6_addr, sizeof(a->sin6.sin6_addr));
}

size_t pf_addrs_pick(union pf_sa *v, size_t n, int family, bool all, const union pf_sa *cur)
{
	size_t i, k, m = 0;

	if (!n)
		return 0;
	if (!family)
		family = v[0].sa.sa_family;
	for (i = 0; i < n; i++) {
		bool dup = false;

		if (v[i].sa.sa_family != family)
			continue;
		for (k = 0; k < m && !dup; k++)
			dup = pf_sa_addr_equal(&v[k], &v[i]);
		if (!dup)
			v[m++] = v[i];
	}
	if (!m)
		return 0;
	if (all) {
		/* A server that rotates its records must not make a change
		 * of every answer. */
		qsort(v, m, sizeof(*v), pf_sa_cmp);
		return m;
	}
	/* The first address, unless the one in use is still among them: the
	 * same reason. */
	for (k = 0; cur && k < m; k++)
		if (pf_sa_addr_equal(&v[k], cur))
			v[0] = v[k];
	return 1;
}

uint32_t pf_backend_group(const struct pf_forward *f, uint32_t j, union pf_sa *out, size_t max)
{
	uint32_t g = 1;

	while (j + g < f->nbe && f->be[j + g].extra)
		g++;
	for (uint32_t k = 0; out && k < g && k < max; k++)
		out[k] = f->be[j + k].addr;
	return out && g > max ? (uint32_t)max : g;
}

uint32_t pf_backend_set_addrs(struct pf_forward *f, uint32_t j, const union pf_sa *addrs, size_t n)
{
	uint32_t g = pf_backend_group(f, j, NULL, 0), nbe, k;
	struct pf_backend *v;

	if (g == 1 && n <= 1) {
		/* One address for one: the common case, in place. */
		f->be[j].addr = addrs[0];
		return j + 1;
	}
	if (f->nbe - g + n > PF_BACKENDS_MAX)
		n = PF_BACKENDS_MAX - (f->nbe - g);
	if (!n)
		n = 1;
	nbe = (uint32_t)(f->nbe - g + n);
	v = pf_xcalloc(nbe, sizeof(*v));
	memcpy(v, f->be, j * sizeof(*v));
	v[j] = f->be[j];
	v[j].addr = addrs[0];
	v[j].sched_cur = 0;
	for (k = 1; k < n; k++) {
		pf_be_conf_copy(&v[j + k].conf, &f->be[j].conf);
		v[j + k].addr = addrs[k];
		v[j + k].extra = true;
	}
	for (k = 1; k < g; k++) {
		pf_stats_unref(f->be[j + k].st);
		pf_be_conf_free(&f->be[j + k].conf);
	}
	memcpy(&v[j + n], &f->be[j + g], (f->nbe - j - g) * sizeof(*v));
	free(f->be);
	f->be = v;
	f->nbe = nbe;
	return (uint32_t)(j + n);
}

/* A host's addresses (out, at most max; *n of them). */
static int pf_resolve_host(const char *host, bool passive, union pf_sa *out, size_t max,
			   size_t *n, char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	int rc;

	*n = 0;
	memset(out, 0, sizeof(*out));
	if (!pf_sa_from_literal(host, out)) {
		*n = 1;
		return 0;
	}
	if (passive)
		hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc) {
		snprintf(why, whylen, "%s", gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai && *n < max; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		memset(&out[*n], 0, sizeof(out[*n]));
		memcpy(&out[*n], ai->ai_addr,
		       ai->ai_addrlen < sizeof(out[*n]) ? ai->ai_addrlen : sizeof(out[*n]));
		(*n)++;
	}
	freeaddrinfo(res);
	if (!*n) {
		snprintf(why, whylen, "no IPv4 or IPv6 address");
		return -1;
	}
	return 0;
}

/* The addresses the running version of f (same key) has for its backend
 * line be, when the name does not resolve now: a reload while DNS is away
 * keeps them, as the resolver does between reloads. */
static size_t pf_resolve_last(const struct pf_table *cur, const struct pf_forward *f,
			      const struct pf_backend *be, union pf_sa *out, size_t max)
{
	const struct pf_forward *old = cur ? pf_table_find_key(cur, f) : NULL;
	uint32_t m;

	for (m = 0; old && m < old->nbe; m++) {
		const struct pf_backend *o = &old->be[m];

		if (!o->extra && o->addr.sa.sa_family && !strcmp(o->conf.host, be->conf.host) &&
		    o->conf.port_lo == be->conf.port_lo && o->conf.port_hi == be->conf.port_hi)
			return pf_backend_group(old, m, out, max);
	}
	return 0;
}

int pf_forward_resolve(struct pf_forward *f, const struct pf_table *cur, char *err,
		       size_t errlen)
{
	union pf_sa addrs[PF_BACKENDS_MAX];
	char why[128], where[PF_WHERE_MAX];
	size_t n;
	uint32_t j;

	if (f->laddr.sa.sa_family)
		return 0; /* kept from the running table, or resolved already */
	if (pf_resolve_host(f->conf.lhost, true, addrs, 1, &n, why, sizeof(why))) {
		snprintf(err, errlen, "%s: cannot resolve listen host '%s': %s",
			 pf_forward_where(f, f->conf.line, where, sizeof(where)),
			 f->conf.lhost, why);
		return -1;
	}
	f->laddr = addrs[0];
	for (j = 0; j < f->nbe;) {
		struct pf_backend *be = &f->be[j];

		if (be->extra) {
			j++;
			continue;
		}
		if (pf_resolve_host(be->conf.host, false, addrs, PF_ARRAY_SIZE(addrs), &n, why,
				    sizeof(why))) {
			n = pf_resolve_last(cur, f, be, addrs, PF_ARRAY_SIZE(addrs));
			if (!n) {
				snprintf(err, errlen, "%s: cannot resolve backend host '%s': %s",
					 pf_forward_where(f, be->conf.line, where, sizeof(where)),
					 be->conf.host, why);
				f->laddr.sa.sa_family = 0;
				return -1;
			}
			pf_warn("%s: backend host '%s' does not resolve (%s): keeps its last "
				"address",
				pf_forward_where(f, be->conf.line, where, sizeof(where)),
				be->conf.host, why);
		} else {
			n = pf_addrs_pick(addrs, n, 0, f->conf.o.resolve == PF_RESOLVE_ALL, NULL);
		}
		j = pf_backend_set_addrs(f, j, addrs, n);
	}
	return 0;
}

int pf_table_resolve(struct pf_table *t, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (pf_forward_resolve(t->fwd[i], NULL, err, errlen))
			return -1;
	return 0;
}

uint64_t pf_resolve_wait_ms(uint64_t interval_ms, int ttl_s)
{
	uint64_t ttl_ms = ttl_s > 0 ? (uint64_t)ttl_s * 1000 : UINT64_MAX;
	uint64_t ms = interval_ms < ttl_ms ? interval_ms : ttl_ms;

	return ms < PF_RESOLVE_MIN_MS ? PF_RESOLVE_MIN_MS : ms;
}

bool pf_host_is_name(const char *host)
{
	union pf_sa sa;

	return host[0] && pf_sa_from_literal(host, &sa) != 0;
}
