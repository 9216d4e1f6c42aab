// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iptables-legacy: tables that nft does not list (x_tables, loaded when a
 * legacy iptables ran). Their names are in /proc/net/ip_tables_names; their
 * rules are what iptables-legacy-save prints, read here as the nft walk
 * reads chains: the chains the flow passes, rule by rule, jumps followed, a
 * test we do not model "may" match. The text comes from another program:
 * any line may be anything, and one we cannot read is skipped.
 */
#include "pfc_explain.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PFC_XL_DEPTH 8
#define PFC_XL_VISITS 4096 /* chains entered in one scan: see pfc_explain_rules.c */

struct pfc_xl_rule {
	const char *table; /* in the copy of the text */
	char *chain; /* malloc'd: the chain, then the rule's words */
	char *line; /* the rule's words, NUL-separated, two NULs at the end */
};

struct pfc_xl {
	const struct pfc_xlegacy *q;
	struct pfc_xl_rule *rules;
	size_t nrules;
	struct pfc_xreport *r;
	size_t found, visits;
};

/* Whether a port list ("80", "80:90", "80,443,8000:8080") holds port. */
static enum pfc_tri pfc_xl_ports(const char *list, uint16_t port)
{
	const char *p = list;

	if (!port)
		return PFC_MAYBE;
	while (*p) {
		char *end;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;

		if (end == p)
			return PFC_MAYBE; /* a service name */
		if (*end == ':') {
			p = end + 1;
			hi = strtoul(p, &end, 10);
			if (end == p)
				hi = 65535;
		}
		if (port >= lo && port <= hi)
			return PFC_YES;
		if (*end != ',')
			break;
		p = end + 1;
	}
	return PFC_NO;
}

/* Whether a comma list holds word (case-insensitive: NEW, new). */
static bool pfc_xl_has(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while (p && *p) {
		if (!strncasecmp(p, word, n) && (p[n] == ',' || !p[n]))
			return true;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

/* The word after o in a NUL-separated list (two NULs end it), or NULL. */
static const char *pfc_xl_next(const char *o)
{
	o += strlen(o) + 1;
	return *o ? o : NULL;
}

/* One rule's words: its match against the query's packet, its target. */
static enum pfc_tri pfc_xl_match(const struct pfc_xl *x, const char *words, const char **target,
				 bool *jump)
{
	const struct pfc_xlegacy *q = x->q;
	enum pfc_tri t = PFC_YES;
	bool neg = false;
	const char *o, *v;

	*target = NULL;
	*jump = true;
	for (o = *words ? words : NULL; o; o = v ? pfc_xl_next(o) : NULL) {
		enum pfc_tri m = PFC_MAYBE;

		v = pfc_xl_next(o);
		if (!strcmp(o, "!")) {
			neg = true;
			continue;
		}
		if ((!strcmp(o, "-j") || !strcmp(o, "-g")) && v) {
			/* What follows are the target's options, no tests. */
			*target = v;
			*jump = !strcmp(o, "-j");
			break;
		}
		if (!strcmp(o, "-m") && v) { /* a module: its options are the tests */
			o = v;
			continue;
		}
		if (o[0] != '-' || !v)
			continue; /* a value we skipped, a word of a comment */
		if (!strcmp(o, "--comment"))
			m = PFC_YES; /* no test */
		else if (!strcmp(o, "-p"))
			m = !strcasecmp(v, q->l4 == IPPROTO_TCP ? "tcp" : "udp") || !strcasecmp(v, "all")
				    ? PFC_YES
				    : PFC_NO;
		else if (!strcmp(o, "--dport") || !strcmp(o, "--dports") ||
			 !strcmp(o, "--destination-port") || !strcmp(o, "--destination-ports"))
			m = pfc_xl_ports(v, q->dport);
		else if (!strcmp(o, "--ctstate") || !strcmp(o, "--state"))
			/* The flow's first packet; DNAT is a state for iptables. */
			m = pfc_xl_has(v, "NEW") || (q->dnat && pfc_xl_has(v, "DNAT")) ? PFC_YES
											 : PFC_NO;
		if (neg)
			m = m == PFC_MAYBE ? PFC_MAYBE : m == PFC_YES ? PFC_NO : PFC_YES;
		neg = false;
		if (m < t)
			t = m;
		if (v[0] != '-')
			o = v; /* the option's value */
	}
	return t;
}

static void pfc_xl_finding(struct pfc_xl *x, enum pfc_tri how, const char *table,
			   const char *chain, const char *what, const char *fix)
{
	pfc_x_add(x->r, "firewall", how == PFC_YES ? PFC_X_FAIL : PFC_X_WARN, fix,
		  "%s table %s, chain %s: %s %s the %s packets%s", x->q->tool, table, chain, what,
		  how == PFC_YES ? "drops" : "may drop", x->q->what,
		  how == PFC_YES ? "" : " (a test we cannot evaluate)");
	x->found++;
}

/* Whether a target is a chain of the table with rules (else a target
 * that lets the packet go on: LOG, MARK, CONNMARK, ...). */
static bool pfc_xl_is_chain(const struct pfc_xl *x, const char *table, const char *name)
{
	size_t i;

	for (i = 0; i < x->nrules; i++)
		if (!strcmp(x->rules[i].table, table) && !strcmp(x->rules[i].chain, name))
			return true;
	return false;
}

/* Follows the packet through a chain; returns whether it comes out. */
static enum pfc_tri pfc_xl_chain(struct pfc_xl *x, const char *table, const char *chain,
				 enum pfc_tri reach, int depth)
{
	size_t i;

	if (depth > PFC_XL_DEPTH || ++x->visits > PFC_XL_VISITS)
		return PFC_MAYBE;
	for (i = 0; i < x->nrules && reach != PFC_NO; i++) {
		struct pfc_xl_rule *ru = &x->rules[i];
		char fix[256], what[96];
		const char *target;
		bool jump;
		enum pfc_tri t;

		if (strcmp(ru->table, table) != 0 || strcmp(ru->chain, chain) != 0)
			continue;
		t = pfc_xl_match(x, ru->line, &target, &jump);
		if (t > reach)
			t = reach;
		if (t == PFC_NO || !target)
			continue;
		if (!strcmp(target, "DROP") || !strcmp(target, "REJECT")) {
			snprintf(what, sizeof(what), "a rule -j %s", target);
			snprintf(fix, sizeof(fix), "%s-save shows it; delete it (%s -t %s -D %s ...)",
				 x->q->tool, x->q->tool, table, chain);
			pfc_xl_finding(x, t, table, chain, what, fix);
		} else if (!strcmp(target, "DNAT") || !strcmp(target, "REDIRECT")) {
			if (!x->q->nat_check)
				continue;
			snprintf(fix, sizeof(fix), "delete it (%s -t %s -D %s ...) or move the forward",
				 x->q->tool, table, chain);
			pfc_x_add(x->r, "firewall", t == PFC_YES ? PFC_X_FAIL : PFC_X_WARN, fix,
				  "%s table %s, chain %s: a rule -j %s %s the %s packets first",
				  x->q->tool, table, chain, target, t == PFC_YES ? "takes" : "may take",
				  x->q->what);
			x->found++;
		} else if (!strcmp(target, "RETURN")) {
			if (t == PFC_YES)
				return reach;
			continue;
		} else if (!strcmp(target, "ACCEPT")) {
			/* a terminal verdict below */
		} else if (!pfc_xl_is_chain(x, table, target)) {
			continue; /* LOG, MARK, an empty chain, ...: the packet goes on */
		} else {
			enum pfc_tri sub = pfc_xl_chain(x, table, target, t, depth + 1);

			if (t == PFC_YES && jump) {
				reach = sub;
				continue;
			}
			if (t == PFC_YES)
				return sub;
			continue;
		}
		if (t == PFC_YES)
			return PFC_NO;
		reach = PFC_MAYBE;
	}
	return reach;
}

/* A line's words after "-A CHAIN " (or ":CHAIN "), NUL-separated, two NULs
 * at the end; quotes removed (a comment "a b" is one word). */
static char *pfc_xl_words(const char *p)
{
	char *w = pf_xcalloc(strlen(p) + 2, 1), *o = w;
	bool quoted = false;

	for (; *p; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == ' ' && !quoted) {
			if (o > w && o[-1])
				*o++ = '\0';
		} else
			*o++ = *p;
	}
	return w;
}

static void pfc_xl_add(struct pfc_xl *x, size_t *cap, const char *table, const char *line)
{
	struct pfc_xl_rule *ru;
	char *words = pfc_xl_words(line);

	if (!words[0]) {
		free(words);
		return;
	}
	if (x->nrules == *cap) {
		struct pfc_xl_rule *v;

		*cap = *cap ? *cap * 2 : 64;
		v = pf_xarray(*cap, sizeof(*v));
		if (x->nrules)
			memcpy(v, x->rules, x->nrules * sizeof(*v));
		free(x->rules);
		x->rules = v;
	}
	ru = &x->rules[x->nrules++];
	ru->table = table;
	ru->chain = words; /* the first word; the rest follow it */
	ru->line = words + strlen(words) + 1;
}

/* The policy of a base chain: ":CHAIN POLICY [p:b]" in its table. */
static bool pfc_xl_policy_drop(const char *text, const char *table, const char *chain)
{
	const char *p = text, *cur = NULL;
	size_t tl = strlen(table), cl = strlen(chain);

	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (*p == '*')
			cur = p + 1;
		else if (*p == ':' && cur && !strncmp(cur, table, tl) &&
			 (cur[tl] == '\n' || !cur[tl]) && !strncmp(p + 1, chain, cl) &&
			 p[1 + cl] == ' ')
			return !strncmp(p + 2 + cl, "DROP", 4);
	}
	return false;
}

size_t pfc_xlegacy_scan(const char *text, const struct pfc_xlegacy *q, struct pfc_xreport *r)
{
	struct pfc_xl x = { .q = q, .r = r };
	char *copy = pf_xstrdup(text), *line, *save = NULL, *table = NULL;
	size_t cap = 0, i;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '*')
			table = line + 1;
		else if (table && !strncmp(line, "-A ", 3))
			pfc_xl_add(&x, &cap, table, line + 3);
	}
	for (i = 0; q->where[i]; i++) {
		char tab[32], chain[64], fix[256];
		const char *colon = strchr(q->where[i], ':');
		enum pfc_tri out;

		if (!colon || (size_t)(colon - q->where[i]) >= sizeof(tab))
			continue;
		snprintf(tab, sizeof(tab), "%.*s", (int)(colon - q->where[i]), q->where[i]);
		snprintf(chain, sizeof(chain), "%s", colon + 1);
		out = pfc_xl_chain(&x, tab, chain, PFC_YES, 0);
		if (out != PFC_NO && pfc_xl_policy_drop(text, tab, chain)) {
			snprintf(fix, sizeof(fix), "%s -t %s -I %s %s -j ACCEPT", q->tool, tab, chain,
				 q->accept);
			pfc_xl_finding(&x, out, tab, chain, "policy DROP", fix);
		}
	}
	for (i = 0; i < x.nrules; i++)
		free(x.rules[i].chain);
	free(x.rules);
	pf_xstrfree(copy);
	return x.found;
}
