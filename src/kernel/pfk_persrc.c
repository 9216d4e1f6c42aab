// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Limits per client address in the kernel engine: nftables sets filled by
 * the packet path (dynamic sets), one element per client address, keyed by
 * 'ip saddr' or 'ip6 saddr'. max-per-source and max-sessions-per-source:
 * an element holds a 'ct count' of the client's connections of that
 * protocol (conntrack entries: a UDP session lasts as long as its entry);
 * rate-per-source: an element holds a 'limit' token bucket of the client's
 * new connections, burst N, refreshed by each and forgotten after a quiet
 * while (by then the bucket is full anyway). The forward's nat chain sees
 * only the first packet of a connection, so the rules meet new flows only.
 *
 * A client over its limit has that first packet dropped; the rules count
 * the drops (read back with the ACL's, pfk_acl.c). Each set holds at most
 * PFK_PS_SIZE addresses: when it is full, a new address gets no element and
 * is not limited until elements go (connections closed, quiet clients
 * timed out), which keeps a flood of sources from locking out the rest.
 */
#include "pfk_int.h"
#include "../common/pf_opt.h"

#include <stdio.h>
#include <string.h>

#define PFK_PS_SIZE 65536

/* The sets of a forward: TCP counts, UDP counts, rates; each per family. */
static const char pfk_ps_kinds[] = { 't', 'u', 'r' };

bool pfk_persrc_on(const struct pf_forward *f)
{
	return f->conf.o.max_per_src || f->conf.o.max_sess_per_src || f->conf.o.rate_per_src;
}

/* The set's declaration (the same whenever a forward has it: declaring it
 * again is no change). */
static void pfk_ps_decl(struct pf_buf *b, uint32_t id, char kind, bool v6)
{
	pfk_out(b, "\tset f%u_%c%c {\n\t\ttype %s\n\t\tsize %u\n\t\tflags dynamic%s\n", id, kind,
		v6 ? '6' : '4', v6 ? "ipv6_addr" : "ipv4_addr", PFK_PS_SIZE,
		kind == 'r' ? ",timeout" : "");
	pfk_out(b, "\t}\n");
}

static bool pfk_ps_has(const struct pf_forward *f, char kind)
{
	const struct pf_fwd_opts *o = &f->conf.o;

	if (kind == 't')
		return o->max_per_src && (f->conf.protos & PF_PROTO_TCP);
	if (kind == 'u')
		return o->max_sess_per_src && (f->conf.protos & PF_PROTO_UDP);
	return o->rate_per_src != 0;
}

void pfk_persrc_sets(struct pf_buf *b, const struct pf_forward *f)
{
	size_t k;

	for (k = 0; k < sizeof(pfk_ps_kinds); k++) {
		if (!pfk_ps_has(f, pfk_ps_kinds[k]))
			continue;
		pfk_ps_decl(b, f->id, pfk_ps_kinds[k], false);
		pfk_ps_decl(b, f->id, pfk_ps_kinds[k], true);
	}
}

void pfk_persrc_rules(struct pf_buf *b, const struct pf_forward *f)
{
	const struct pf_fwd_opts *o = &f->conf.o;
	uint64_t r = o->rate_per_src;
	int v6;

	/* The count first: a client turned away for it spends no rate. */
	for (v6 = 0; v6 <= 1; v6++) {
		if (pfk_ps_has(f, 't'))
			pfk_out(b,
				"\t\tmeta l4proto tcp add @f%u_t%c { %s saddr ct count over %u } "
				"counter drop comment \"%s\"\n",
				f->id, v6 ? '6' : '4', v6 ? "ip6" : "ip", o->max_per_src,
				PFK_PS_COMMENT);
		if (pfk_ps_has(f, 'u'))
			pfk_out(b,
				"\t\tmeta l4proto udp add @f%u_u%c { %s saddr ct count over %u } "
				"counter drop comment \"%s\"\n",
				f->id, v6 ? '6' : '4', v6 ? "ip6" : "ip", o->max_sess_per_src,
				PFK_PS_COMMENT);
	}
	if (!r)
		return;
	/* Quiet longer than this, a client's bucket is full again: its
	 * element may go. */
	for (v6 = 0; v6 <= 1; v6++)
		pfk_out(b,
			"\t\tupdate @f%u_r%c { %s saddr timeout %s limit rate over %llu/%s burst "
			"%llu packets } counter drop comment \"%s\"\n",
			f->id, v6 ? '6' : '4', v6 ? "ip6" : "ip", pf_rate_per_min(r) ? "2m" : "10s",
			(unsigned long long)pf_rate_n(r), pf_rate_per_min(r) ? "minute" : "second",
			(unsigned long long)pf_rate_n(r), PFK_PS_COMMENT);
}

void pfk_persrc_drop_sets(struct pf_buf *b, uint32_t id)
{
	size_t k;
	int v6;

	/* Added first: deleting a set that is not there would fail the
	 * whole transaction. */
	for (k = 0; k < sizeof(pfk_ps_kinds); k++) {
		for (v6 = 0; v6 <= 1; v6++) {
			pfk_out(b, "table inet portfw {\n");
			pfk_ps_decl(b, id, pfk_ps_kinds[k], v6);
			pfk_out(b, "}\ndelete set inet portfw f%u_%c%c\n", id, pfk_ps_kinds[k],
				v6 ? '6' : '4');
		}
	}
}

void pfk_persrc_flush_sets(struct pf_buf *b, const struct pf_forward *f, const char *old)
{
	struct pf_buf rules = { 0 };
	char name[32];
	size_t k;
	int v6;

	if (!strstr(old, PFK_PS_COMMENT))
		return;
	pfk_persrc_rules(&rules, f);
	/* The same limits: the clients' counts and buckets stay. */
	if (rules.len && strstr(old, rules.s)) {
		pf_buf_free(&rules);
		return;
	}
	/* None any more: its chains, flushed before, no longer name them. */
	if (!rules.len) {
		pf_buf_free(&rules);
		pfk_persrc_drop_sets(b, f->id);
		return;
	}
	pf_buf_free(&rules);
	for (k = 0; k < sizeof(pfk_ps_kinds); k++) {
		for (v6 = 0; v6 <= 1; v6++) {
			snprintf(name, sizeof(name), "@f%u_%c%c ", f->id, pfk_ps_kinds[k],
				 v6 ? '6' : '4');
			if (strstr(old, name))
				pfk_out(b, "flush set inet portfw %s\n", name + 1);
		}
	}
}
