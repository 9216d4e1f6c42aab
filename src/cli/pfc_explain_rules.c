// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Other tables of the ruleset (firewalld, Docker, ufw, iptables-nft, a hand
 * written one) that drop or redirect a forward's packets. Chains of every
 * table on one hook all see a packet, each in its priority's turn, and an
 * accept in one does not spare it the next: so each foreign base chain on
 * the hooks the flow passes is followed, rule by rule (jumps and gotos
 * into its regular chains), with the packet as far as we know it.
 *
 * We know the packet only in part (no source port; no source address
 * without 'from'), and rules can test what we do not model (marks, limits,
 * iptables matches): such a test "may" match. A drop that surely matches
 * blocks the forward (fail), one that may is a warning. The input is
 * libnftables' JSON, which we do not trust to have any shape: whatever is
 * not as expected is a rule we cannot read, which "may" match.
 */
#include "pfc_explain.h"
#include "../common/pf_buf.h"
#include "../common/pf_util.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define PFC_XR_DEPTH 16 /* jumps followed; deeper: "may" */
/* Chains entered in one scan, at most: jumps to the same chains from many
 * rules would otherwise cost rules^depth. Beyond it: "may". */
#define PFC_XR_VISITS 4096

struct pfc_xr {
	json_t *items; /* the "nftables" array */
	const struct pfc_xstage *stage;
	struct pfc_xreport *r;
	size_t found, visits;
	/* The base chain being walked, for messages. */
	const char *family, *table, *base, *hook;
};

static enum pfc_tri pfc_tmin(enum pfc_tri a, enum pfc_tri b)
{
	return a < b ? a : b;
}

static enum pfc_tri pfc_tnot(enum pfc_tri a)
{
	return a == PFC_MAYBE ? PFC_MAYBE : a == PFC_YES ? PFC_NO : PFC_YES;
}

static const char *pfc_jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- values ---- */

/* An address value ("10.0.0.2", {"prefix": {"addr", "len"}}, {"range":
 * [a, b]}) against a known address. */
static enum pfc_tri pfc_addr_value(json_t *v, const union pf_sa *sa)
{
	const uint8_t *mine;
	uint8_t theirs[16], hi[16];
	size_t alen;
	int fam;

	if (!sa->sa.sa_family)
		return PFC_MAYBE;
	fam = sa->sa.sa_family;
	alen = fam == AF_INET6 ? 16 : 4;
	mine = fam == AF_INET6 ? sa->sin6.sin6_addr.s6_addr : (const uint8_t *)&sa->sin.sin_addr;
	if (json_is_string(v)) {
		if (inet_pton(fam, json_string_value(v), theirs) != 1)
			return PFC_MAYBE; /* a named set ("@x"), another family */
		return memcmp(theirs, mine, alen) != 0 ? PFC_NO : PFC_YES;
	}
	if (json_object_get(v, "prefix")) {
		json_t *p = json_object_get(v, "prefix");
		json_int_t len = json_integer_value(json_object_get(p, "len"));
		const char *a = pfc_jstr(p, "addr");
		size_t i;

		if (!a || inet_pton(fam, a, theirs) != 1 || len < 0 || (size_t)len > alen * 8)
			return PFC_MAYBE;
		for (i = 0; i < (size_t)len; i++) {
			uint8_t bit = (uint8_t)(0x80u >> (i % 8));

			if ((theirs[i / 8] & bit) != (mine[i / 8] & bit))
				return PFC_NO;
		}
		return PFC_YES;
	}
	if (json_is_array(json_object_get(v, "range"))) {
		json_t *rg = json_object_get(v, "range");
		const char *a = json_string_value(json_array_get(rg, 0));
		const char *b = json_string_value(json_array_get(rg, 1));

		if (!a || !b || inet_pton(fam, a, theirs) != 1 || inet_pton(fam, b, hi) != 1)
			return PFC_MAYBE;
		return memcmp(mine, theirs, alen) >= 0 && memcmp(mine, hi, alen) <= 0 ? PFC_YES
										   : PFC_NO;
	}
	return PFC_MAYBE;
}

/* A number (a port, a protocol) against ours (-1: not known). Protocols may
 * be written by name ("tcp"). */
static enum pfc_tri pfc_num_value(json_t *v, long mine)
{
	if (mine < 0)
		return PFC_MAYBE;
	if (json_is_integer(v))
		return json_integer_value(v) == mine ? PFC_YES : PFC_NO;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (!strcmp(s, "tcp"))
			return mine == IPPROTO_TCP ? PFC_YES : PFC_NO;
		if (!strcmp(s, "udp"))
			return mine == IPPROTO_UDP ? PFC_YES : PFC_NO;
		if (!strcmp(s, "ipv4") || !strcmp(s, "ip"))
			return mine == AF_INET ? PFC_YES : PFC_NO;
		if (!strcmp(s, "ipv6") || !strcmp(s, "ip6"))
			return mine == AF_INET6 ? PFC_YES : PFC_NO;
		return PFC_MAYBE; /* a service name, a named set */
	}
	if (json_is_array(json_object_get(v, "range"))) {
		json_t *rg = json_object_get(v, "range");

		if (!json_is_integer(json_array_get(rg, 0)) || !json_is_integer(json_array_get(rg, 1)))
			return PFC_MAYBE;
		return mine >= json_integer_value(json_array_get(rg, 0)) &&
				       mine <= json_integer_value(json_array_get(rg, 1))
			       ? PFC_YES
			       : PFC_NO;
	}
	return PFC_MAYBE;
}

/* A string (an interface, a ct state) against ours (NULL: not known);
 * nft's wildcard "eth*" is a prefix. */
static enum pfc_tri pfc_str_value(json_t *v, const char *mine)
{
	const char *s = json_string_value(v);
	size_t n;

	if (!mine || !s)
		return PFC_MAYBE;
	n = strlen(s);
	if (n && s[n - 1] == '*')
		return strncmp(s, mine, n - 1) != 0 ? PFC_NO : PFC_YES;
	return strcmp(s, mine) != 0 ? PFC_NO : PFC_YES;
}

enum pfc_kind { PFC_K_ADDR, PFC_K_NUM, PFC_K_STR, PFC_K_FLAGS };

struct pfc_val {
	enum pfc_kind kind;
	const union pf_sa *addr;
	long num;
	const char *str;
	const char *const *flags; /* PFC_K_FLAGS: the names that are set */
};

static enum pfc_tri pfc_one_value(json_t *v, const struct pfc_val *m)
{
	size_t i;

	switch (m->kind) {
	case PFC_K_ADDR:
		return pfc_addr_value(v, m->addr);
	case PFC_K_NUM:
		return pfc_num_value(v, m->num);
	case PFC_K_STR:
		return pfc_str_value(v, m->str);
	case PFC_K_FLAGS:
		if (!json_is_string(v))
			return PFC_MAYBE;
		for (i = 0; m->flags[i]; i++)
			if (!strcmp(m->flags[i], json_string_value(v)))
				return PFC_YES;
		return PFC_NO;
	}
	return PFC_MAYBE;
}

/* A right-hand side: a value, {"set": [...]} or a list (ct state
 * established,related): matches when one of its values does. */
static enum pfc_tri pfc_value(json_t *v, const struct pfc_val *m)
{
	json_t *set = json_is_array(v) ? v : json_object_get(v, "set"), *e;
	enum pfc_tri best = PFC_NO;
	size_t i;

	if (!json_is_array(set))
		return pfc_one_value(v, m);
	json_array_foreach(set, i, e)
	{
		enum pfc_tri t = pfc_one_value(e, m);

		if (t > best)
			best = t;
	}
	return best;
}

/* ---- matches ---- */

/* What the left-hand side is, as a value of our packet; false: something
 * we do not model. */
static bool pfc_left(const struct pfc_xpkt *p, json_t *l, struct pfc_val *m, long *fam_need)
{
	static const char *const st_new[] = { "new", NULL };
	static const char *const status_dnat[] = { "dnat", NULL };
	static const char *const status_none[] = { NULL };
	json_t *pl = json_object_get(l, "payload"), *meta = json_object_get(l, "meta");
	json_t *ct = json_object_get(l, "ct");

	*fam_need = 0;
	if (pl) {
		const char *proto = pfc_jstr(pl, "protocol"), *field = pfc_jstr(pl, "field");

		if (!proto || !field)
			return false;
		if (!strcmp(proto, "tcp") || !strcmp(proto, "udp") || !strcmp(proto, "th")) {
			/* A tcp dport match is false for a UDP packet. */
			if (strcmp(proto, "th") != 0 && (!strcmp(proto, "tcp") ? IPPROTO_TCP
									   : IPPROTO_UDP) != p->l4) {
				m->kind = PFC_K_NUM;
				m->num = -2; /* matches nothing: see pfc_match */
				return true;
			}
			if (strcmp(field, "dport") != 0)
				return false;
			m->kind = PFC_K_NUM;
			m->num = p->dport ? p->dport : -1;
			return true;
		}
		if (!strcmp(proto, "ip") || !strcmp(proto, "ip6")) {
			*fam_need = !strcmp(proto, "ip") ? AF_INET : AF_INET6;
			if (!strcmp(field, "daddr") || !strcmp(field, "saddr")) {
				m->kind = PFC_K_ADDR;
				m->addr = !strcmp(field, "daddr") ? &p->daddr : &p->saddr;
				return true;
			}
			if (!strcmp(field, "protocol") || !strcmp(field, "nexthdr")) {
				m->kind = PFC_K_NUM;
				m->num = p->l4;
				return true;
			}
		}
		return false;
	}
	if (meta) {
		const char *key = pfc_jstr(meta, "key");

		if (!key)
			return false;
		if (!strcmp(key, "l4proto")) {
			m->kind = PFC_K_NUM;
			m->num = p->l4;
		} else if (!strcmp(key, "nfproto")) {
			m->kind = PFC_K_NUM;
			m->num = p->family;
		} else if (!strcmp(key, "iifname") || !strcmp(key, "oifname")) {
			m->kind = PFC_K_STR;
			m->str = !strcmp(key, "iifname") ? p->iif : p->oif;
		} else {
			return false;
		}
		return true;
	}
	if (ct) {
		const char *key = pfc_jstr(ct, "key");

		if (!key || json_object_get(ct, "dir"))
			return false;
		if (!strcmp(key, "state")) {
			/* The flow's first packet: what decides whether it passes. */
			m->kind = PFC_K_FLAGS;
			m->flags = st_new;
			return true;
		}
		if (!strcmp(key, "status")) {
			m->kind = PFC_K_FLAGS;
			m->flags = p->dnat ? status_dnat : status_none;
			return true;
		}
	}
	return false;
}

static enum pfc_tri pfc_match(const struct pfc_xpkt *p, json_t *mt)
{
	const char *op = pfc_jstr(mt, "op");
	struct pfc_val m = { 0 };
	enum pfc_tri t;
	long fam;

	if (!op || !pfc_left(p, json_object_get(mt, "left"), &m, &fam))
		return PFC_MAYBE;
	if (fam && fam != p->family)
		return PFC_NO; /* an ip match in an inet chain: not for IPv6 packets */
	if (m.kind == PFC_K_NUM && m.num == -2)
		return PFC_NO;
	if (strcmp(op, "==") != 0 && strcmp(op, "!=") != 0 && strcmp(op, "in") != 0)
		return PFC_MAYBE;
	t = pfc_value(json_object_get(mt, "right"), &m);
	return strcmp(op, "!=") != 0 ? t : pfc_tnot(t);
}

/* ---- rules and chains ---- */

enum pfc_verdict { PFC_V_NONE, PFC_V_ACCEPT, PFC_V_DROP, PFC_V_REJECT, PFC_V_JUMP, PFC_V_GOTO,
		   PFC_V_RETURN, PFC_V_DNAT, PFC_V_REDIRECT, PFC_V_UNKNOWN };

static const char *pfc_verdict_name(enum pfc_verdict v)
{
	static const char *const n[] = { "",     "accept", "drop",	"reject",   "jump",
					 "goto", "return", "dnat", "redirect", "?" };

	return n[v];
}

/* A rule's match (all its tests), its verdict and the target chain. */
static enum pfc_tri pfc_rule(const struct pfc_xpkt *p, json_t *expr, enum pfc_verdict *v,
			     const char **target)
{
	enum pfc_tri t = PFC_YES;
	json_t *e;
	size_t i;

	*v = PFC_V_NONE;
	*target = NULL;
	if (!json_is_array(expr))
		return PFC_NO;
	json_array_foreach(expr, i, e)
	{
		if (json_object_get(e, "match"))
			t = pfc_tmin(t, pfc_match(p, json_object_get(e, "match")));
		else if (json_object_get(e, "accept"))
			*v = PFC_V_ACCEPT;
		else if (json_object_get(e, "drop"))
			*v = PFC_V_DROP;
		else if (json_object_get(e, "reject"))
			*v = PFC_V_REJECT;
		else if (json_object_get(e, "return"))
			*v = PFC_V_RETURN;
		else if (json_object_get(e, "dnat"))
			*v = PFC_V_DNAT;
		else if (json_object_get(e, "redirect"))
			*v = PFC_V_REDIRECT;
		else if (json_object_get(e, "jump") || json_object_get(e, "goto")) {
			json_t *j = json_object_get(e, "jump");

			*v = j ? PFC_V_JUMP : PFC_V_GOTO;
			*target = pfc_jstr(j ? j : json_object_get(e, "goto"), "target");
		} else if (json_object_get(e, "vmap") || json_object_get(e, "xt") ||
			   json_object_get(e, "limit") || json_object_get(e, "quota"))
			/* A verdict map, an iptables match or target, a rate: a
			 * test that may or may not match, a verdict we cannot read. */
			t = pfc_tmin(t, PFC_MAYBE);
		/* counter, log, meta set, ...: no verdict, no test */
		if (t == PFC_NO)
			return PFC_NO;
	}
	return t;
}

static void pfc_finding(struct pfc_xr *x, enum pfc_tri how, const char *chain, json_t *rule,
			const char *what)
{
	struct pf_buf fix = { 0 };
	json_int_t h = json_integer_value(json_object_get(rule, "handle"));
	char where[256];

	if (chain && strcmp(chain, x->base) != 0)
		snprintf(where, sizeof(where), "(from base chain %s) chain %s", x->base, chain);
	else
		snprintf(where, sizeof(where), "chain %s", x->base);
	if (rule)
		pf_buf_printf(&fix, "allow the flow before it, or delete the rule: nft delete rule %s %s "
				    "%s handle %lld",
			      x->family, x->table, chain, (long long)h);
	else
		pf_buf_printf(&fix, "accept it in that chain, e.g. nft insert rule %s %s %s %s accept",
			      x->family, x->table, x->base, x->stage->accept);
	pfc_x_add(x->r, "firewall", how == PFC_YES ? PFC_X_FAIL : PFC_X_WARN,
		  fix.err ? NULL : fix.s, "table %s %s, %s (hook %s): %s %s the %s packets%s",
		  x->family, x->table, where, x->hook, what, how == PFC_YES ? "drops" : "may drop",
		  x->stage->what, how == PFC_YES ? "" : " (a test we cannot evaluate)");
	pf_buf_free(&fix);
	x->found++;
}

static json_t *pfc_chain_rules_next(struct pfc_xr *x, const char *chain, size_t *pos)
{
	for (; *pos < json_array_size(x->items); (*pos)++) {
		json_t *rule = json_object_get(json_array_get(x->items, *pos), "rule");
		const char *fam = pfc_jstr(rule, "family"), *tab = pfc_jstr(rule, "table");
		const char *ch = pfc_jstr(rule, "chain");

		if (fam && tab && ch && !strcmp(fam, x->family) && !strcmp(tab, x->table) &&
		    !strcmp(ch, chain)) {
			(*pos)++;
			return rule;
		}
	}
	return NULL;
}

/*
 * Follows the packet through chain from 'reach' (YES: it surely gets here,
 * MAYBE: it may). Returns whether it comes out of the end (or a return):
 * NO when a verdict surely ends it here.
 */
static enum pfc_tri pfc_chain(struct pfc_xr *x, const char *chain, enum pfc_tri reach, int depth)
{
	const struct pfc_xpkt *p = &x->stage->pkt;
	size_t pos = 0;
	json_t *rule;

	if (depth > PFC_XR_DEPTH || ++x->visits > PFC_XR_VISITS)
		return PFC_MAYBE;
	while (reach != PFC_NO && (rule = pfc_chain_rules_next(x, chain, &pos))) {
		enum pfc_verdict v;
		const char *target;
		enum pfc_tri t = pfc_tmin(reach, pfc_rule(p, json_object_get(rule, "expr"), &v,
							   &target));
		enum pfc_tri sub;
		char what[160];

		if (t == PFC_NO || v == PFC_V_NONE)
			continue;
		switch (v) {
		case PFC_V_DROP:
		case PFC_V_REJECT:
			snprintf(what, sizeof(what), "rule %lld (%s)",
				 (long long)json_integer_value(json_object_get(rule, "handle")),
				 pfc_verdict_name(v));
			pfc_finding(x, t, chain, rule, what);
			break;
		case PFC_V_DNAT:
		case PFC_V_REDIRECT:
			if (x->stage->nat_check) {
				char fix[256];

				snprintf(fix, sizeof(fix),
					 "delete it (nft delete rule %s %s %s handle %lld) or move "
					 "the forward to another port",
					 x->family, x->table, chain,
					 (long long)json_integer_value(json_object_get(rule, "handle")));
				pfc_x_add(x->r, "firewall", t == PFC_YES ? PFC_X_FAIL : PFC_X_WARN,
					  fix,
					  "table %s %s, chain %s (hook %s): rule %lld (%s) %s the %s "
					  "packets before the forward does",
					  x->family, x->table, chain, x->hook,
					  (long long)json_integer_value(json_object_get(rule, "handle")),
					  pfc_verdict_name(v), t == PFC_YES ? "takes" : "may take",
					  x->stage->what);
				x->found++;
			}
			break;
		case PFC_V_ACCEPT:
		case PFC_V_UNKNOWN:
		case PFC_V_NONE:
			break;
		case PFC_V_RETURN:
			if (t == PFC_YES)
				return reach;
			continue;
		case PFC_V_JUMP:
		case PFC_V_GOTO:
			if (!target)
				break;
			sub = pfc_chain(x, target, t, depth + 1);
			if (t == PFC_YES && v == PFC_V_JUMP) {
				reach = sub;
				continue;
			}
			if (t == PFC_YES) /* goto: it never comes back here */
				return sub;
			continue;
		}
		/* A terminal verdict: the packet surely stops here, or may. */
		if (t == PFC_YES)
			return PFC_NO;
		reach = PFC_MAYBE;
	}
	return reach;
}

static bool pfc_hook_in(const struct pfc_xstage *s, const char *hook)
{
	size_t i;

	for (i = 0; s->hooks[i]; i++)
		if (!strcmp(s->hooks[i], hook))
			return true;
	return false;
}

static void pfc_base(struct pfc_xr *x, json_t *ch)
{
	const char *type = pfc_jstr(ch, "type"), *policy = pfc_jstr(ch, "policy");
	json_int_t prio = json_integer_value(json_object_get(ch, "prio"));
	enum pfc_tri out;

	if (prio < x->stage->prio_lo || prio > x->stage->prio_hi)
		return;
	/* A NAT chain that comes after ours finds the flow NATed already. */
	if (type && !strcmp(type, "nat") &&
	    (!x->stage->nat_check || prio > x->stage->nat_prio))
		return;
	out = pfc_chain(x, x->base, PFC_YES, 0);
	if (out != PFC_NO && policy && !strcmp(policy, "drop"))
		pfc_finding(x, out, x->base, NULL, "policy drop");
}

size_t pfc_xrules_scan(json_t *ruleset, const struct pfc_xstage *stages, size_t nstages,
		       struct pfc_xreport *r)
{
	struct pfc_xr x = { .items = json_object_get(ruleset, "nftables"), .r = r };
	size_t s, i;
	json_t *it;

	if (!json_is_array(x.items))
		return 0;
	for (s = 0; s < nstages; s++) {
		x.stage = &stages[s];
		json_array_foreach(x.items, i, it)
		{
			json_t *ch = json_object_get(it, "chain");
			const char *fam = pfc_jstr(ch, "family"), *hook = pfc_jstr(ch, "hook");

			if (!ch || !fam || !hook || !pfc_jstr(ch, "table") || !pfc_jstr(ch, "name"))
				continue;
			if (!strcmp(fam, "inet") && !strcmp(pfc_jstr(ch, "table"), "portfw"))
				continue; /* ours */
			if (strcmp(fam, "inet") != 0 &&
			    strcmp(fam, x.stage->pkt.family == AF_INET6 ? "ip6" : "ip") != 0)
				continue;
			if (!pfc_hook_in(x.stage, hook))
				continue;
			x.family = fam;
			x.table = pfc_jstr(ch, "table");
			x.base = pfc_jstr(ch, "name");
			x.hook = hook;
			pfc_base(&x, ch);
		}
	}
	return x.found;
}
