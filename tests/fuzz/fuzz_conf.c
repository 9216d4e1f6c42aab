// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for the command language: the input is a config text.
 *
 *  - pf_conf_foreach parses it; every forward must format (`portfw save`) into
 *    one line that reads back (pf_conf_foreach again) into an equal forward,
 *    and that formats the same again;
 *  - the forwards of the text go into a table that is validated, cloned,
 *    inherited, diffed and scheduled on (no DNS: pf_table_resolve is never
 *    called); with its 'default' lines it saves (pf_table_format) into a text
 *    that loads back into the same table;
 *  - every forward is scheduled on with each balance value (pref, rr, wrr,
 *    leastconn, source, maglev) and client addresses taken from its source
 *    sets, its backends in states (health, agent, passive hold) derived from
 *    their names: each pick must be a backend the rules allow, in the order of
 *    the candidate tiers (primaries, backups, held ones, spares), and source
 *    and maglev must be consistent per client (v4 and v4-mapped alike);
 *  - pf_cidr_match, pf_cidrset_match and pf_acl_allows (after
 *    pf_table_effective) agree with a bit-by-bit reference on addresses
 *    around every network of the text;
 *  - pf_lex splits the whole input as one line, and each word goes through
 *    pf_hostport_parse, whose results must hold together.
 *
 * A broken property abort()s, which libFuzzer reports as a crash.
 *
 * Built with -DFUZZ_SKIP_KNOWN_BUGS (FUZZ_CFLAGS=-DFUZZ_SKIP_KNOWN_BUGS
 * tests/fuzz/run.sh), the properties that src/common is known to break (the
 * tests marked BUG in tests/unit) are skipped, to fuzz past them.
 */
#include "common/pf_addr.h"
#include "common/pf_conf.h"
#include "common/pf_flowlog.h"
#include "common/pf_interp.h"
#include "common/pf_sched.h"
#include "common/pf_table.h"
#include "common/pf_util.h"
#include "fuzz_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char saved[PF_LINE_MAX];
static char again[PF_LINE_MAX];

#ifdef FUZZ_SKIP_KNOWN_BUGS
#define SKIP_KNOWN_BUGS 1
#else
#define SKIP_KNOWN_BUGS 0
#endif

/* ---- source networks ---- */

static bool net_is_v4mapped(const struct pf_cidr *c)
{
	return c->addr.sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&c->addr.sin6.sin6_addr);
}

/* Known bug: pf_cidrset_format writes an IPv4-mapped network as plain IPv4
 * ("::ffff:10.0.0.0/104" as "10.0.0.0/104"), which does not load back. */
static bool set_has_v4mapped(const struct pf_cidrset *s)
{
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (net_is_v4mapped(&s->v[i]))
			return true;
	return false;
}

static bool fwd_has_v4mapped(const struct pf_forward *f)
{
	return set_has_v4mapped(&f->conf.from) || set_has_v4mapped(&f->conf.allow) ||
	       set_has_v4mapped(&f->conf.deny);
}

/* Known bug: pf_cidrset_equal counts and looks up one way only, so a set with
 * the same network twice "equals" other sets of that size. */
static bool set_has_dups(const struct pf_cidrset *s)
{
	uint32_t i, j;

	for (i = 0; i < s->n; i++)
		for (j = 0; j < i; j++)
			if (s->v[i].plen == s->v[j].plen &&
			    pf_sa_addr_equal(&s->v[i].addr, &s->v[j].addr))
				return true;
	return false;
}

static bool fwd_has_dups(const struct pf_forward *f)
{
	return set_has_dups(&f->conf.from) || set_has_dups(&f->conf.allow) || set_has_dups(&f->conf.deny) ||
	       set_has_dups(&f->eff_allow) || set_has_dups(&f->eff_deny);
}

static const uint8_t *sa_bytes(const union pf_sa *sa)
{
	return sa->sa.sa_family == AF_INET6 ? sa->sin6.sin6_addr.s6_addr
					    : (const uint8_t *)&sa->sin.sin_addr;
}

static int bit(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

/* The reference: the first plen bits agree; an IPv4 network also holds the
 * v4-mapped IPv6 form of its addresses (a dual-stack listener's clients). */
static bool ref_match(const struct pf_cidr *c, const union pf_sa *sa)
{
	const uint8_t *a, *n = sa_bytes(&c->addr);
	unsigned i;

	if (c->addr.sa.sa_family == AF_INET) {
		if (sa->sa.sa_family == AF_INET)
			a = sa_bytes(sa);
		else if (sa->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sa->sin6.sin6_addr))
			a = &sa->sin6.sin6_addr.s6_addr[12];
		else
			return false;
	} else {
		if (sa->sa.sa_family != AF_INET6)
			return false;
		a = sa_bytes(sa);
	}
	for (i = 0; i < c->plen; i++)
		if (bit(a, i) != bit(n, i))
			return false;
	return true;
}

static int ref_set(const struct pf_cidrset *s, const union pf_sa *sa)
{
	int best = -1;
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].plen > best && ref_match(&s->v[i], sa))
			best = s->v[i].plen;
	return best;
}

/* The most specific entry decides, deny on a tie; an allow list excludes the
 * rest; no lists allow everyone. */
static bool ref_acl(const struct pf_forward *f, const union pf_sa *sa)
{
	int allow = ref_set(&f->eff_allow, sa), deny = ref_set(&f->eff_deny, sa);

	if (deny >= 0 && deny >= allow)
		return false;
	return allow >= 0 || !f->eff_allow.n;
}

#define PROBES_MAX 96

struct probes {
	union pf_sa a[PROBES_MAX];
	int n;
};

static void probe_add(struct probes *p, const union pf_sa *sa)
{
	if (p->n < PROBES_MAX)
		p->a[p->n++] = *sa;
}

static union pf_sa v4mapped_of(const union pf_sa *v4)
{
	union pf_sa m;

	memset(&m, 0, sizeof(m));
	m.sin6.sin6_family = AF_INET6;
	m.sin6.sin6_addr.s6_addr[10] = 0xff;
	m.sin6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&m.sin6.sin6_addr.s6_addr[12], &v4->sin.sin_addr, 4);
	return m;
}

/* A network's first and last address and the addresses just outside it, and
 * for IPv4 their v4-mapped forms. */
static void probes_of(struct probes *p, const struct pf_cidr *c)
{
	unsigned max = c->addr.sa.sa_family == AF_INET6 ? 128 : 32, i, k;
	union pf_sa v[3];

	v[0] = v[1] = v[2] = c->addr;
	for (i = c->plen; i < max; i++) {
		uint8_t *b = (uint8_t *)sa_bytes(&v[1]);

		b[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	}
	if (c->plen) {
		uint8_t *b = (uint8_t *)sa_bytes(&v[2]);

		b[(c->plen - 1) / 8] ^= (uint8_t)(0x80 >> ((c->plen - 1) % 8));
	}
	for (k = 0; k < 3; k++) {
		probe_add(p, &v[k]);
		if (c->addr.sa.sa_family == AF_INET) {
			union pf_sa m = v4mapped_of(&v[k]);

			probe_add(p, &m);
		}
	}
}

static void probes_fixed(struct probes *p)
{
	static const char *const lit[] = { "0.0.0.0",	  "10.0.0.1",	  "255.255.255.255",
					   "::",	  "::1",	  "2001:db8::1",
					   "::ffff:10.0.0.1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" };
	size_t i;

	for (i = 0; i < PF_ARRAY_SIZE(lit); i++) {
		union pf_sa sa;

		CHECK(!pf_sa_from_literal(lit[i], &sa), "'%s'", lit[i]);
		probe_add(p, &sa);
	}
}

static void probes_of_set(struct probes *p, const struct pf_cidrset *s)
{
	uint32_t i;

	for (i = 0; i < s->n && p->n < PROBES_MAX; i++)
		probes_of(p, &s->v[i]);
}

/* A parsed network: IPv4 or IPv6, a prefix that fits, host bits cleared. */
static void check_net(const struct pf_cidr *c)
{
	unsigned max = c->addr.sa.sa_family == AF_INET6 ? 128 : 32, i;
	const uint8_t *a = sa_bytes(&c->addr);

	CHECK(c->addr.sa.sa_family == AF_INET || c->addr.sa.sa_family == AF_INET6, "family %d",
	      c->addr.sa.sa_family);
	CHECK(c->plen <= max, "prefix /%u", c->plen);
	for (i = c->plen; i < max; i++)
		CHECK(!bit(a, i), "host bit %u of a /%u network set", i, c->plen);
	CHECK(pf_cidr_match(c, &c->addr), "a network does not hold its own address");
}

static void check_set(const struct pf_cidrset *s, const struct probes *p)
{
	uint32_t i;
	int k;

	CHECK(s->n <= 1024 && (!s->n || s->v), "set of %u", s->n);
	for (i = 0; i < s->n; i++) {
		check_net(&s->v[i]);
		CHECK(pf_cidrset_match(s, &s->v[i].addr) >= s->v[i].plen, "longest prefix");
		for (k = 0; k < p->n && i < 16; k++)
			CHECK(pf_cidr_match(&s->v[i], &p->a[k]) == ref_match(&s->v[i], &p->a[k]),
			      "pf_cidr_match of probe %d against /%u", k, s->v[i].plen);
	}
	for (k = 0; k < p->n; k++)
		CHECK(pf_cidrset_match(s, &p->a[k]) == ref_set(s, &p->a[k]),
		      "pf_cidrset_match of probe %d: %d, reference %d", k,
		      pf_cidrset_match(s, &p->a[k]), ref_set(s, &p->a[k]));
}

static void check_sets(const struct pf_forward *f)
{
	struct probes p = { .n = 0 };

	probes_fixed(&p);
	probes_of_set(&p, &f->conf.from);
	probes_of_set(&p, &f->conf.allow);
	probes_of_set(&p, &f->conf.deny);
	check_set(&f->conf.from, &p);
	check_set(&f->conf.allow, &p);
	check_set(&f->conf.deny, &p);
}

/* After pf_table_effective: own lists or the table's default, and the ACL
 * answers as the reference does. */
static void check_acls(const struct pf_table *t)
{
	size_t i;
	int k;

	for (i = 0; i < t->n && i < 16; i++) {
		const struct pf_forward *f = t->fwd[i];
		bool own = f->conf.allow.n || f->conf.deny.n;
		struct probes p = { .n = 0 };

		if (!SKIP_KNOWN_BUGS || !fwd_has_dups(f)) {
			CHECK(pf_cidrset_equal(&f->eff_allow, own ? &f->conf.allow : &t->def_allow),
			      "effective allow list");
			CHECK(pf_cidrset_equal(&f->eff_deny, own ? &f->conf.deny : &t->def_deny),
			      "effective deny list");
		}
		CHECK(f->eff_allow.n == (own ? f->conf.allow.n : t->def_allow.n) &&
			      f->eff_deny.n == (own ? f->conf.deny.n : t->def_deny.n),
			      "effective list sizes");
		probes_fixed(&p);
		probes_of_set(&p, &f->eff_allow);
		probes_of_set(&p, &f->eff_deny);
		probes_of_set(&p, &f->conf.from);
		for (k = 0; k < p.n; k++)
			CHECK(pf_acl_allows(f, &p.a[k]) == ref_acl(f, &p.a[k]),
			      "pf_acl_allows of probe %d: %d, reference %d", k,
			      pf_acl_allows(f, &p.a[k]), ref_acl(f, &p.a[k]));
	}
}

/* ---- one forward ---- */

static int collect_cb(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
		      size_t errlen)
{
	(void)w;
	if (st->kind != PF_ST_FORWARD) {
		snprintf(err, errlen, "not a forward");
		return -1;
	}
	pf_table_add(arg, st->fwd);
	st->fwd = NULL;
	return 0;
}

static void check_fields(const struct pf_forward *f)
{
	char cbuf[PF_CHECK_STR_MAX];
	uint32_t i;

	CHECK((f->conf.protos >= 1 && f->conf.protos <= 3) || (f->conf.protos == PF_PROTO_ALL && !f->conf.trigger),
	      "protos %u", f->conf.protos);
	CHECK(strlen(f->conf.lif) < PF_IFNAME_MAX && !strchr(f->conf.lif, ':') && !strchr(f->conf.lif, '/') &&
		      (!f->conf.lif[0] || !f->conf.lhost[0]),
		      "interface '%s' with host '%s'", f->conf.lif,
		      f->conf.lhost);
	if (f->conf.protos == PF_PROTO_ALL) {
		/* A whole-host forward: no ports, anywhere. */
		CHECK(!f->conf.lport_lo && !f->conf.lport_hi,
		      "whole host with ports %u-%u", f->conf.lport_lo,
		      f->conf.lport_hi);
		for (i = 0; i < f->nbe; i++)
			CHECK(!f->be[i].conf.port_lo, "whole-host backend with port %u", f->be[i].conf.port_lo);
		CHECK(f->conf.engine != PF_ENGINE_USER && !f->conf.ftp,
		      "whole host in the user engine");
	} else {
		CHECK(f->conf.lport_lo >= 1 && f->conf.lport_lo <= f->conf.lport_hi,
		      "listen ports %u-%u",
		      f->conf.lport_lo, f->conf.lport_hi);
	}
	if (f->conf.trigger) {
		/* A port trigger: a range, a control port, a timeout; no backends. */
		CHECK(!f->nbe && !f->conf.lhost[0] && !f->conf.lif[0],
		      "trigger with %u backends", f->nbe);
		CHECK((f->conf.trig_proto == PF_PROTO_TCP || f->conf.trig_proto == PF_PROTO_UDP) &&
			      f->conf.trig_port >= 1 && f->conf.trig_ms >= 1000 &&
			      f->conf.trig_ms <= 30ULL * 86400000,
			      "trigger on %u/%u for %llums",
			      f->conf.trig_proto, f->conf.trig_port,
			      (unsigned long long)f->conf.trig_ms);
		check_sets(f);
		return;
	}
	CHECK(f->nbe >= 1 && f->nbe <= PF_BACKENDS_MAX, "%u backends", f->nbe);
	CHECK(f->conf.o.connect_ms >= 10 && f->conf.o.idle_ms >= 100 && f->conf.o.halfclose_ms >= 100 &&
		      f->conf.o.connect_ms <= 30ULL * 86400000 && f->conf.o.idle_ms <= 30ULL * 86400000 &&
		      f->conf.o.halfclose_ms <= 30ULL * 86400000,
		      "timeouts %llu %llu %llu",
		      (unsigned long long)f->conf.o.connect_ms,
		      (unsigned long long)f->conf.o.idle_ms,
		      (unsigned long long)f->conf.o.halfclose_ms);
	CHECK(f->conf.o.udp_ms >= 1000 && f->conf.o.udp_ms <= 30ULL * 86400000 &&
		      f->conf.o.udp_stream_ms >= 1000 && f->conf.o.udp_stream_ms <= 30ULL * 86400000,
		      "udp timeouts %llu %llu",
		      (unsigned long long)f->conf.o.udp_ms,
		      (unsigned long long)f->conf.o.udp_stream_ms);
	CHECK(f->conf.o.maxconn <= 10000000 && f->conf.o.max_sessions >= 1 &&
		      f->conf.o.max_sessions <= 10000000,
		      "maxconn %u, max-sessions %u", f->conf.o.maxconn,
		      f->conf.o.max_sessions);
	for (i = 0; i < f->nbe; i++) {
		const struct pf_backend *be = &f->be[i];
		uint16_t p;

		CHECK(be->conf.host[0], "backend %u has no host", i);
		CHECK(be->conf.port_lo <= be->conf.port_hi && (be->conf.port_lo || !be->conf.port_hi),
		      "backend ports %u-%u", be->conf.port_lo, be->conf.port_hi);
		CHECK(be->conf.port_lo == be->conf.port_hi ||
			      be->conf.port_hi - be->conf.port_lo == f->conf.lport_hi - f->conf.lport_lo,
			      "backend range %u-%u for listen range %u-%u",
			      be->conf.port_lo, be->conf.port_hi,
			      f->conf.lport_lo, f->conf.lport_hi);
		CHECK(be->conf.weight <= PF_WEIGHT_MAX, "weight %u", be->conf.weight);
		p = pf_backend_port(f, be, f->conf.lport_hi);
		CHECK((p >= 1 || f->conf.protos == PF_PROTO_ALL) &&
			      (!be->conf.port_lo || (p >= be->conf.port_lo && p <= be->conf.port_hi)),
		      "backend port %u", p);
		CHECK(be->conf.admin <= PF_ADMIN_DISABLED, "admin %u", be->conf.admin);
	}
	CHECK(f->conf.balance <= PF_BAL_MAGLEV, "balance %u", f->conf.balance);
	CHECK(f->conf.check.interval_ms >= 100 && f->conf.check.interval_ms <= 30ULL * 86400000 &&
		      f->conf.check.timeout_ms >= 100 && f->conf.check.timeout_ms <= 30ULL * 86400000 &&
		      f->conf.check.agent_interval_ms >= 100 &&
		      f->conf.check.agent_interval_ms <= 30ULL * 86400000,
		      "check intervals %llu %llu %llu",
		      (unsigned long long)f->conf.check.interval_ms,
		      (unsigned long long)f->conf.check.timeout_ms,
		      (unsigned long long)f->conf.check.agent_interval_ms);
	CHECK(f->conf.check.fall >= 1 && f->conf.check.fall <= 100 && f->conf.check.rise >= 1 &&
		      f->conf.check.rise <= 100,
		      "fall %u rise %u", f->conf.check.fall,
		      f->conf.check.rise);
	/* Kept escaped; the bytes they stand for fit the checker's buffers. */
	CHECK(pf_unescape(f->conf.check.send, cbuf, sizeof(cbuf)) >= 0 &&
		      pf_unescape(f->conf.check.expect, cbuf, sizeof(cbuf)) >= 0 &&
		      strlen(f->conf.check.send) < PF_CHECK_ESC_MAX &&
		      strlen(f->conf.check.expect) < PF_CHECK_ESC_MAX,
	      "check strings");
	/* Every check option turns the checks on. */
	CHECK(f->conf.check.on || (f->conf.check.interval_ms == 2000 && f->conf.check.timeout_ms == 2000 &&
				   f->conf.check.fall == 3 && f->conf.check.rise == 2 && !f->conf.check.port &&
				   !f->conf.check.send[0] && !f->conf.check.expect[0] && !f->conf.check.agent_port &&
				   f->conf.check.agent_interval_ms == 2000),
	      "check options without 'check'");
	check_sets(f);
}

/* `portfw save` writes pf_forward_format's line; `portfw restore` reads it. */
static void check_round_trip(const struct pf_forward *f)
{
	struct pf_table t;
	char err[1024];
	size_t len;

	pf_forward_format(f, saved, sizeof(saved));
	len = strlen(saved);
	CHECK(len <= PF_LINE_MAX - 2, "saved line of %zu bytes", len);
	if (SKIP_KNOWN_BUGS && fwd_has_v4mapped(f))
		return;
	pf_table_init(&t);
	CHECK(!pf_conf_foreach("saved", saved, len, collect_cb, &t, err, sizeof(err)),
	      "'%s' does not load back: %s", saved, err);
	CHECK(t.n == 1, "'%s' loads as %zu forwards", saved, t.n);
	CHECK(pf_forward_equal(f, t.fwd[0]), "'%s' loads back as another forward", saved);
	CHECK(pf_forward_equal(t.fwd[0], f), "pf_forward_equal is not symmetric");
	pf_forward_format(t.fwd[0], again, sizeof(again));
	CHECK(!strcmp(saved, again), "'%s' formats again as '%s'", saved, again);
	pf_table_clear(&t);
}

static void check_clone(const struct pf_forward *f)
{
	struct pf_forward *c = pf_forward_clone(f);

	CHECK(pf_forward_equal(f, c), "a clone differs");
	CHECK(pf_forward_same_key(f, c), "a clone has another key");
	pf_forward_unref(c);
}

/* ---- scheduling ---- */

#define NEVER 99

/* A backend's health, agent and passive-check state, from words in its host
 * name: hdown (health check failed), adrain, adown, aup (agent check),
 * pct0, pct50 (agent weight), held (passive check), e.g. "b1-held-pct50". */
static void set_states(struct pf_forward *f, uint64_t now)
{
	uint32_t i;

	for (i = 0; i < f->nbe; i++) {
		struct pf_stats *st = f->be[i].st;
		const char *h = f->be[i].conf.host;

		atomic_store(&st->health,
			     (uint8_t)(strstr(h, "hdown") ? PF_HEALTH_DOWN : PF_HEALTH_UP));
		atomic_store(&st->agent, (uint8_t)(strstr(h, "adrain")  ? PF_AGENT_DRAIN
						   : strstr(h, "adown") ? PF_AGENT_DOWN
						   : strstr(h, "aup")   ? PF_AGENT_UP
									: PF_AGENT_NONE));
		atomic_store(&st->agent_pct, strstr(h, "pct0")	   ? 0u
					     : strstr(h, "pct50") ? 50u
								  : 100u);
		atomic_store(&st->down_until_ms, strstr(h, "held") ? now + 3600000 : 0);
	}
}

/* Which tier a backend is picked in: 0 primary, 1 backup, 2 held primary,
 * 3 held backup, 4 spare (weight 0, not pref); NEVER: not at all. */
static int tier(const struct pf_forward *f, uint32_t i, uint64_t now)
{
	const struct pf_backend *be = &f->be[i];
	bool up = atomic_load(&be->st->health) == PF_HEALTH_UP &&
		  atomic_load(&be->st->agent) < PF_AGENT_DRAIN;
	bool held = atomic_load(&be->st->down_until_ms) > now;

	if (be->conf.admin != PF_ADMIN_ENABLED)
		return NEVER;
	if (f->conf.balance != PF_BAL_PREF && !be->conf.weight)
		return up ? 4 : NEVER; /* a spare: the last resort, if up */
	/* An agent at 0 % takes no new flows, under pref too; a pref 0
	 * backend (no weight to scale) keeps its place in the rotation. */
	if (!up || (be->conf.weight && !pf_sched_eff_weight(be)))
		return NEVER;
	return (held ? 2 : 0) + (be->conf.backup ? 1 : 0);
}

/* One flow, retried until no backend is left: every pick is allowed, in the
 * best tier left, and all usable backends are tried once. */
static void check_flow(struct pf_forward *f, const union pf_sa *client, uint64_t now)
{
	struct pf_tried tried;
	uint32_t i, n, usable = 0;

	memset(&tried, 0, sizeof(tried));
	for (i = 0; i < f->nbe; i++)
		usable += tier(f, i, now) != NEVER;
	for (n = 0;; n++) {
		int k = pf_sched_pick(f, &tried, client), best = NEVER;

		for (i = 0; i < f->nbe; i++)
			if (!pf_tried_has(&tried, i) && tier(f, i, now) < best)
				best = tier(f, i, now);
		if (k < 0) {
			CHECK(best == NEVER, "%s: no pick, but a backend of tier %d is left",
			      pf_balance_name(f->conf.balance), best);
			break;
		}
		CHECK((uint32_t)k < f->nbe, "pick %d of %u backends", k, f->nbe);
		CHECK(!pf_tried_has(&tried, (uint32_t)k), "backend %d picked twice", k);
		CHECK(tier(f, (uint32_t)k, now) != NEVER,
		      "%s: picked backend %d (%s), which may take no flows (%s, health %u, agent "
		      "%u, %u %%)",
		      pf_balance_name(f->conf.balance), k, f->be[k].conf.host,
		      pf_admin_name(f->be[k].conf.admin), atomic_load(&f->be[k].st->health),
		      atomic_load(&f->be[k].st->agent), atomic_load(&f->be[k].st->agent_pct));
		CHECK(tier(f, (uint32_t)k, now) == best,
		      "%s: picked backend %d (%s) of tier %d, a backend of tier %d is left",
		      pf_balance_name(f->conf.balance), k, f->be[k].conf.host,
		      tier(f, (uint32_t)k, now),
		      best);
		if (client && (f->conf.balance == PF_BAL_SOURCE || f->conf.balance == PF_BAL_MAGLEV))
			CHECK(pf_sched_pick(f, &tried, client) == k, "%s: another pick for the "
			      "same client", pf_balance_name(f->conf.balance));
		pf_tried_set(&tried, (uint32_t)k);
		CHECK(n < f->nbe, "more picks than backends");
	}
	CHECK(n == usable, "%s: %u picks, %u usable backends",
	      pf_balance_name(f->conf.balance), n,
	      usable);
}

static void check_pref_state(struct pf_forward *f)
{
	bool seen[PF_BACKENDS_MAX] = { false };
	uint32_t i;

	for (i = 0; i < f->nbe; i++) {
		uint32_t pos, pcnt;

		pf_sched_pref_info(f, i, &pos, &pcnt);
		CHECK(pos < f->nbe && !seen[pos], "backend %u at position %u", i, pos);
		seen[pos] = true;
		CHECK(f->be[i].conf.weight ? pcnt >= 1 && pcnt <= f->be[i].conf.weight : pcnt == 0,
		      "pcnt %u of pref %u", pcnt, f->be[i].conf.weight);
	}
}

static void client_of(const struct pf_cidrset *s, union pf_sa *out, int *n)
{
	if (s->n)
		out[(*n)++] = s->v[0].addr;
}

/* The forward (with stats) under every scheduler, with clients from its sets
 * (maglev only for a forward that balances with it). */
static void check_balances(const struct pf_forward *f, uint64_t now)
{
	union pf_sa clients[8];
	int nc = 0, k;
	uint8_t b;

	client_of(&f->conf.from, clients, &nc);
	client_of(&f->conf.allow, clients, &nc);
	client_of(&f->conf.deny, clients, &nc);
	CHECK(!pf_sa_from_literal("10.1.2.3", &clients[nc]), "literal");
	nc++;
	CHECK(!pf_sa_from_literal("2001:db8::7", &clients[nc]), "literal");
	nc++;
	for (b = PF_BAL_WRR; b <= PF_BAL_MAGLEV; b++) {
		struct pf_forward *c;
		uint32_t i;

		/* A maglev table takes milliseconds to build: only for maglev pools. */
		if (b == PF_BAL_MAGLEV && f->conf.balance != PF_BAL_MAGLEV)
			continue;
		c = pf_forward_clone(f);

		c->conf.balance = b;
		c->st = pf_stats_ref(f->st);
		for (i = 0; i < c->nbe; i++)
			c->be[i].st = pf_stats_ref(f->be[i].st);
		check_flow(c, NULL, now);
		for (k = 0; k < nc && (b != PF_BAL_MAGLEV || k < 2); k++) {
			check_flow(c, &clients[k], now);
			if (clients[k].sa.sa_family == AF_INET &&
			    (b == PF_BAL_SOURCE || b == PF_BAL_MAGLEV)) {
				union pf_sa m = v4mapped_of(&clients[k]);

				CHECK(pf_sched_pick(c, NULL, &clients[k]) ==
					      pf_sched_pick(c, NULL, &m),
				      "%s: v4 and v4-mapped clients differ", pf_balance_name(b));
			}
		}
		CHECK(pf_sched_rotate(c) == (b == PF_BAL_PREF || b == PF_BAL_RR ? 0 : -1),
		      "pf_sched_rotate of %s", pf_balance_name(b));
		if (b == PF_BAL_PREF) {
			check_pref_state(c);
			check_flow(c, NULL, now);
			check_pref_state(c);
		}
		pf_forward_unref(c);
	}
}

/* The parsed forward with its own scheduler: fresh flows, with and without a
 * client. */
static void check_sched(struct pf_forward *f, uint64_t now)
{
	union pf_sa c;

	CHECK(!pf_sa_from_literal("::ffff:192.0.2.9", &c), "literal");
	check_flow(f, NULL, now);
	check_flow(f, &c, now);
	check_flow(f, NULL, now);
}

/* ---- statements ---- */

struct ctx {
	struct pf_table tab;
	int stmts;
};

static int stmt_cb(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
		   size_t errlen)
{
	struct ctx *c = arg;
	size_t i;

	(void)err;
	(void)errlen;
	CHECK(w->line >= 1, "line %d", w->line);
	c->stmts++;
	switch (st->kind) {
	case PF_ST_FORWARD:
		CHECK(st->fwd && st->fwd->conf.line == w->line,
		      "forward line");
		check_fields(st->fwd);
		check_round_trip(st->fwd);
		check_clone(st->fwd);
		if (c->tab.n < 64) {
			pf_table_add(&c->tab, st->fwd);
			st->fwd = NULL;
		}
		break;
	case PF_ST_DEFAULT:
		CHECK(st->action <= PF_ACT_CLEAR || (st->action >= PF_ACT_LOG &&
						     st->action <= PF_ACT_LOG_FORMAT),
		      "default action %d", st->action);
		CHECK(st->action == PF_ACT_ALLOW || st->action == PF_ACT_DENY ? st->cidrs.n > 0
									     : !st->cidrs.n,
		      "default with %u networks", st->cidrs.n);
		CHECK(st->log_format <= PF_FLOWLOG_JSON, "log-format %u", st->log_format);
		for (i = 0; i < st->cidrs.n; i++)
			check_net(&st->cidrs.v[i]);
		pf_table_default(&c->tab, st);
		break;
	case PF_ST_MARK:
		/* A mark: an id, an optional PROTO LISTEN with a port, sources. */
		CHECK(st->mark.id && !st->fwd, "mark %u", st->mark.id);
		CHECK(!st->mark.protos || (st->mark.lport_lo && st->mark.lport_lo <= st->mark.lport_hi),
		      "mark %u listen ports %u-%u", st->mark.id, st->mark.lport_lo,
		      st->mark.lport_hi);
		CHECK(!st->mark_del || (!st->mark.protos && !st->cidrs.n), "del mark with a body");
		for (i = 0; i < st->cidrs.n; i++)
			check_net(&st->cidrs.v[i]);
		pf_table_mark(&c->tab, st);
		break;
	case PF_ST_BACKEND:
		CHECK(st->action >= PF_ACT_DRAIN && st->action <= PF_ACT_WEIGHT, "backend action %d",
		      st->action);
		CHECK(st->sel.name[0] && st->sel.has_backend, "backend selector");
		CHECK(st->weight <= PF_WEIGHT_MAX && (st->action == PF_ACT_WEIGHT || !st->weight),
		      "backend weight %u", st->weight);
		CHECK(!st->fwd, "a backend statement with a forward");
		break;
	case PF_ST_SCHEDULE:
		CHECK(!st->fwd && !st->sel.all && !st->sel.has_backend, "schedule selector");
		CHECK(st->sel.name[0] || st->sel.protos, "schedule of nothing");
		break;
	case PF_ST_DEL:
	case PF_ST_KILL:
		CHECK(!st->fwd, "a selector with a forward");
		for (i = 0; i < c->tab.n; i++)
			(void)pf_selector_match(&st->sel, c->tab.fwd[i]);
		break;
	case PF_ST_INCLUDE:
		CHECK(strlen(st->path) < sizeof(st->path), "include path");
		break;
	case PF_ST_NONE:
		CHECK(0, "an empty statement reached the callback");
		break;
	default:
		break;
	}
	return 0;
}

static void diff_cb(enum pf_diff_op op, struct pf_forward *old, struct pf_forward *nw, void *arg)
{
	int *n = arg;

	CHECK((op == PF_DIFF_ADD) == !old && (op == PF_DIFF_DEL) == !nw, "diff op %d", op);
	CHECK(op != PF_DIFF_KEEP || old == nw, "KEEP of two objects");
	CHECK(op != PF_DIFF_MODIFY || pf_forward_same_key(old, nw), "MODIFY of another key");
	(*n)++;
}

static void check_table(struct pf_table *t)
{
	struct pf_table empty, copy, half;
	uint64_t now = pf_now_ms();
	char err[1024];
	size_t i;
	int n = 0;

	(void)pf_table_validate(t, err, sizeof(err));
	pf_table_init(&empty);
	pf_table_inherit(&empty, t);
	for (i = 0; i < t->n; i++) {
		CHECK(t->fwd[i]->st, "no stats after inherit");
		set_states(t->fwd[i], now);
		check_sched(t->fwd[i], now);
		if (i < 4 && t->fwd[i]->nbe <= 16)
			check_balances(t->fwd[i], now);
	}
	/* Equality and keys are symmetric. */
	for (i = 0; i < t->n && i < 16; i++) {
		size_t j;

		for (j = 0; j < i; j++) {
			const struct pf_forward *a = t->fwd[i], *b = t->fwd[j];

			CHECK(pf_forward_same_key(a, b) == pf_forward_same_key(b, a) ||
				      (SKIP_KNOWN_BUGS && (fwd_has_dups(a) || fwd_has_dups(b))),
			      "pf_forward_same_key is not symmetric");
			CHECK(pf_forward_equal(a, b) == pf_forward_equal(b, a) ||
				      (SKIP_KNOWN_BUGS && (fwd_has_dups(a) || fwd_has_dups(b))),
			      "pf_forward_equal is not symmetric");
		}
	}

	/* Reload the same table: everything is kept. */
	pf_table_init(&copy);
	for (i = 0; i < t->n; i++)
		pf_table_add(&copy, pf_forward_clone(t->fwd[i]));
	pf_table_inherit(t, &copy);
	for (i = 0; i < t->n; i++)
		CHECK(pf_forward_equal(copy.fwd[i], t->fwd[i]), "inherit changed a forward");
	pf_table_diff(t, &copy, diff_cb, &n);

	/* Reload every other forward, modified. */
	pf_table_init(&half);
	for (i = 0; i < t->n; i += 2) {
		struct pf_forward *c = pf_forward_clone(t->fwd[i]);

		c->conf.o.maxconn++;
		pf_table_add(&half, c);
	}
	pf_table_inherit(t, &half);
	pf_table_diff(t, &half, diff_cb, &n);
	pf_table_diff(&empty, t, diff_cb, &n);
	pf_table_diff(t, &empty, diff_cb, &n);
	pf_table_clear(&half);
	pf_table_clear(&copy);
}

static int load_cb(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
		   size_t errlen)
{
	if (st->kind == PF_ST_DEFAULT) {
		pf_table_default(arg, st);
		return 0;
	}
	if (st->kind == PF_ST_MARK) {
		pf_table_mark(arg, st);
		return 0;
	}
	return collect_cb(st, w, arg, err, errlen);
}

/* `portfw save` of the whole table (default lines included) loads back. */
static void check_table_format(const struct pf_table *t)
{
	struct pf_table back;
	char err[1024], *text;
	size_t i;

	if (SKIP_KNOWN_BUGS) {
		if (set_has_v4mapped(&t->def_allow) || set_has_v4mapped(&t->def_deny))
			return;
		for (i = 0; i < t->n; i++)
			if (fwd_has_v4mapped(t->fwd[i]))
				return;
	}
	text = pf_table_format(t);
	pf_table_init(&back);
	CHECK(!pf_conf_foreach("saved", text, strlen(text), load_cb, &back, err, sizeof(err)),
	      "the saved table does not load back: %s", err);
	CHECK(back.n == t->n, "%zu forwards saved, %zu loaded", t->n, back.n);
	for (i = 0; i < t->n; i++)
		CHECK(pf_forward_equal(t->fwd[i], back.fwd[i]), "forward %zu loads back otherwise",
		      i);
	CHECK(back.def_allow.n == t->def_allow.n && back.def_deny.n == t->def_deny.n &&
		      pf_cidrset_equal(&back.def_allow, &t->def_allow) &&
		      pf_cidrset_equal(&back.def_deny, &t->def_deny),
	      "the default lines load back otherwise");
	/* Marks ('mark' lines) load back as they were, in id order. */
	CHECK(back.nmarks == t->nmarks, "%zu marks saved, %zu loaded", t->nmarks, back.nmarks);
	for (i = 0; i < t->nmarks; i++) {
		const struct pf_mark *a = &t->marks[i], *b = &back.marks[i];

		CHECK(a->id == b->id && a->protos == b->protos && !strcmp(a->lhost, b->lhost) &&
			      a->lbracketed == b->lbracketed && a->lport_lo == b->lport_lo &&
			      a->lport_hi == b->lport_hi && pf_cidrset_equal(&a->from, &b->from),
		      "mark %u loads back otherwise", a->id);
		CHECK(!i || t->marks[i - 1].id < a->id, "marks out of order");
	}
	pf_table_clear(&back);
	free(text);
}

/* ---- words ---- */

static void check_hostport(const char *s)
{
	struct pf_hostport hp;
	char err[512];
	int need;

	for (need = 0; need < 2; need++) {
		if (pf_hostport_parse(s, need, &hp, err, sizeof(err))) {
			CHECK(err[0], "'%s': an error without a message", s);
			continue;
		}
		CHECK(strlen(hp.host) < PF_HOST_MAX, "host length");
		CHECK(hp.port_lo <= hp.port_hi, "ports %u-%u", hp.port_lo, hp.port_hi);
		CHECK(!hp.port_lo == !hp.port_hi, "ports %u-%u", hp.port_lo, hp.port_hi);
		CHECK(!need || hp.port_lo, "'%s': no port where one is needed", s);
		CHECK(hp.port_lo || hp.host[0], "'%s': empty", s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c;
	char err[1024];
	char *s;

	if (size > 4 * PF_LINE_MAX)
		return 0;
	memset(&c, 0, sizeof(c));
	pf_table_init(&c.tab);
	if (pf_conf_foreach("fuzz", (const char *)data, size, stmt_cb, &c, err, sizeof(err)))
		CHECK(err[0], "an error without a message");
	check_table_format(&c.tab);
	{
		struct pf_table none;

		pf_table_init(&none);
		pf_table_effective(&c.tab, &none);
		check_acls(&c.tab);
	}
	check_table(&c.tab);
	pf_table_clear(&c.tab);

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	{
		struct pf_toks toks;

		if (!pf_lex(s, &toks, err, sizeof(err))) {
			int i;

			for (i = 0; i < toks.n; i++)
				check_hostport(toks.t[i].s);
			pf_toks_free(&toks);
		} else {
			CHECK(err[0] && !toks.buf, "a lexer error");
		}
	}
	free(s);
	return 0;
}
