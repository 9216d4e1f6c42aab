// SPDX-License-Identifier: GPL-2.0-or-later
#include "pf_table.h"
#include "pf_flowlog.h"
#include "pf_opt.h"
#include "pf_sched.h"
#include "pf_buf.h"
#include "pf_util.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


const uint64_t pf_connect_bucket_us[PF_CONNECT_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000,
};

struct pf_stats *pf_stats_new(void)
{
	struct pf_stats *st = pf_xcalloc(1, sizeof(*st));

	atomic_init(&st->refs, 1);
	atomic_init(&st->agent_pct, 100);
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
	pf_fwd_conf_init(&f->conf);
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
	for (i = 0; i < f->nbe; i++) {
		pf_stats_unref(f->be[i].st);
		pf_be_conf_free(&f->be[i].conf);
	}
	pf_stats_unref(f->st);
	pf_sched_free(f);
	pf_fwd_conf_free(&f->conf);
	pf_cidrset_free(&f->eff_allow);

	pf_cidrset_free(&f->eff_deny);
	free(f->be);
	free(f);
}

struct pf_forward *pf_forward_clone(const struct pf_forward *f)
{
	struct pf_forward *c = pf_xcalloc(1, sizeof(*c));
	uint32_t i;

	atomic_init(&c->refs, 1);
	pf_fwd_conf_copy(&c->conf, &f->conf);

	c->namehash = f->namehash;
	c->checked = f->checked;
	c->logged = f->logged;
	pf_cidrset_copy(&c->eff_allow, &f->eff_allow);
	pf_cidrset_copy(&c->eff_deny, &f->eff_deny);
	c->laddr = f->laddr;
	c->nbe = f->nbe;
	c->be = pf_xcalloc(f->nbe ? f->nbe : 1, sizeof(*c->be));
	for (i = 0; i < f->nbe; i++) {
		pf_be_conf_copy(&c->be[i].conf, &f->be[i].conf);
		c->be[i].addr = f->be[i].addr;
		c->be[i].extra = f->be[i].extra;
	}
	return c;
}

bool pf_forward_same_key(const struct pf_forward *a, const struct pf_forward *b)
{
	/* The ports first: they differ most often, and sit in the forward's
	 * first cache line (the strings do not). */
	return a->conf.lport_lo == b->conf.lport_lo && a->conf.lport_hi == b->conf.lport_hi &&
	       a->conf.protos == b->conf.protos && a->conf.trigger == b->conf.trigger && !strcmp(a->conf.lhost,
	       	       	       	       	       	              b->conf.lhost) &&
	       !strcmp(a->conf.lif, b->conf.lif) && pf_cidrset_equal(&a->conf.from,
	       	       	       	                &b->conf.from);
}

static bool pf_backend_same(const struct pf_backend *a, const struct pf_backend *b)
{
	return !strcmp(a->conf.host, b->conf.host) && a->conf.port_lo == b->conf.port_lo && a->conf.port_hi == b->conf.port_hi;
}

bool pf_forward_equal(const struct pf_forward *a, const struct pf_forward *b)
{
	uint32_t i;

	if (!pf_forward_same_key(a, b) || a->namehash != b->namehash ||
	    strcmp(a->conf.name, b->conf.name) != 0 || a->nbe != b->nbe ||
	    a->conf.trig_proto != b->conf.trig_proto || a->conf.trig_port != b->conf.trig_port ||
	    a->conf.trig_ms != b->conf.trig_ms || !pf_fwd_conf_opts_equal(&a->conf, &b->conf) ||
	    !pf_cidrset_equal(&a->eff_allow, &b->eff_allow) ||
	    !pf_cidrset_equal(&a->eff_deny, &b->eff_deny) || a->logged != b->logged)
		return false;
	/* The addresses too: a name that resolves to another address makes
	 * another forward (a reload follows it); unresolved ones compare as
	 * written. */
	for (i = 0; i < a->nbe; i++)
		if (!pf_backend_same(&a->be[i], &b->be[i]) || a->be[i].extra != b->be[i].extra ||
		    (a->be[i].addr.sa.sa_family && b->be[i].addr.sa.sa_family &&
		     !pf_sa_addr_equal(&a->be[i].addr, &b->be[i].addr)) ||
		    a->be[i].conf.weight != b->be[i].conf.weight ||
		    a->be[i].conf.backup != b->be[i].conf.backup ||
		    a->be[i].conf.admin != b->be[i].conf.admin)
			return false;
	return true;
}

uint16_t pf_backend_port(const struct pf_forward *f, const struct pf_backend *be, uint16_t lport)
{
	if (!be->conf.port_lo)
		return lport;
	if (be->conf.port_lo == be->conf.port_hi)
		return be->conf.port_lo;
	return (uint16_t)(be->conf.port_lo + (lport - f->conf.lport_lo));
}

const char *pf_proto_name(uint8_t protos)
{
	switch (protos) {
	case PF_PROTO_TCP:
		return "tcp";
	case PF_PROTO_UDP:
		return "udp";
	case PF_PROTO_ALL:
		return "all";
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
	char ifn[PF_IFNAME_MAX + 1];

	if (f->conf.lif[0]) {
		/* "%wan:80", "%wan" (whole host): an interface, never a host name. */
		snprintf(ifn, sizeof(ifn), "%%%s", f->conf.lif);
		pf_hostport_format(ifn, false, f->conf.lport_lo,
				   f->conf.lport_hi, buf, len);
	} else if (f->conf.protos == PF_PROTO_ALL && !f->conf.lhost[0]) {
		snprintf(buf, len, "any");
	} else if (f->conf.trigger) {
		/* A range on the gateway's addresses: written without a colon. */
		if (f->conf.lport_lo == f->conf.lport_hi)
			snprintf(buf, len, "%u", f->conf.lport_lo);
		else
			snprintf(buf, len, "%u-%u", f->conf.lport_lo,
				 f->conf.lport_hi);
	} else {
		pf_hostport_format(f->conf.lhost, f->conf.lbracketed,
				   f->conf.lport_lo, f->conf.lport_hi, buf,
				   len);
	}
}

const char *pf_forward_where(const struct pf_forward *f, int line, char *buf, size_t len)
{
	char l[PF_HOST_MAX + 16];

	if (line > 0) {
		snprintf(buf, len, "%s:%d", f->conf.src, line);
	} else if (f->conf.name[0]) {
		snprintf(buf, len, "%s '%s'", f->conf.trigger ? "trigger" : "forward",
			 f->conf.name);
	} else {
		pf_listen_format(f, l, sizeof(l));
		snprintf(buf, len, "%s%s %s", f->conf.trigger ? "trigger " : "",
			 pf_proto_name(f->conf.protos), l);
	}
	return buf;
}

const char *pf_forward_label(const struct pf_forward *f, char *buf, size_t len)
{
	if (f->conf.name[0])
		snprintf(buf, len, "'%s'", f->conf.name);
	else
		snprintf(buf, len, "%s", f->conf.src);
	return buf;
}

void pf_backend_format(const struct pf_backend *be, char *buf, size_t len)
{
	pf_hostport_format(be->conf.host, be->conf.bracketed,
			   be->conf.port_lo, be->conf.port_hi, buf, len);
}

static size_t pf_appendf(char *buf, size_t len, size_t off, const char *fmt, const char *s)
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

	if (f->conf.trigger) {
		off = pf_appendf(buf, len, off, "%s", "trigger");
		if (f->conf.name[0])
			off = pf_appendf(buf, len, off, " name %s",
					f->conf.name);
		off = pf_appendf(buf, len, off, " %s",
				pf_proto_name(f->conf.protos));
		pf_listen_format(f, tmp, sizeof(tmp));
		off = pf_appendf(buf, len, off, " %s", tmp);
		snprintf(tmp, sizeof(tmp), "%s %u",
			 pf_proto_name(f->conf.trig_proto), f->conf.trig_port);
		off = pf_appendf(buf, len, off, " on %s", tmp);
		if (f->conf.trig_ms != PF_TRIGGER_DEFAULT_MS) {
			pf_format_duration(f->conf.trig_ms, tmp, sizeof(tmp));
			pf_appendf(buf, len, off, " timeout %s", tmp);
		}
		return;
	}
	off = pf_appendf(buf, len, off, "%s", "forward");
	if (f->conf.name[0])
		off = pf_appendf(buf, len, off, " name %s", f->conf.name);
	off = pf_appendf(buf, len, off, " %s", pf_proto_name(f->conf.protos));
	pf_listen_format(f, tmp, sizeof(tmp));
	off = pf_appendf(buf, len, off, " %s to", tmp);
	for (i = 0; i < f->nbe; i++) {
		if (f->be[i].extra)
			continue; /* the line's other addresses: not configuration */
		pf_backend_format(&f->be[i], tmp, sizeof(tmp));
		off = pf_appendf(buf, len, off, i ? ", %s" : " %s", tmp);
		if (f->be[i].conf.weight != 1) {
			snprintf(tmp, sizeof(tmp), "%u", f->be[i].conf.weight);
			off = pf_appendf(buf, len, off, " weight %s", tmp);
		}
		if (f->be[i].conf.backup)
			off = pf_appendf(buf, len, off, "%s", " backup");
		if (f->be[i].conf.admin != PF_ADMIN_ENABLED)
			off = pf_appendf(buf, len, off, " %s",
					pf_admin_name(f->be[i].conf.admin));
	}
	for (i = 0; i < pf_nopts; i++) {
		const struct pf_opt *o = &pf_opts[i];

		/* Check settings mean nothing while checks are off. */
		if (pf_opt_is_default(&f->conf, o) ||
		    (o->group == PF_OPT_G_CHECK && !f->conf.check.on))
			continue;
		off = pf_opt_format(&f->conf, o, buf, len, off);
	}
}

/* One line of the saved table: the line and its newline. */
static void pf_table_line(struct pf_buf *b, const char *line)
{
	pf_buf_puts(b, line);
	pf_buf_add(b, "\n", 1);
}

bool pf_status_conf_equal(const struct pf_status_conf *a, const struct pf_status_conf *b)
{
	if (!a->on || !b->on)
		return a->on == b->on;
	return a->admin == b->admin && a->port == b->port && !strcmp(a->host, b->host);
}

void pf_status_conf_format(const struct pf_status_conf *s, char *buf, size_t len)
{
	if (!s->on) {
		snprintf(buf, len, "%s", "");
		return;
	}
	snprintf(buf, len, "status %s%s%s:%u%s", s->bracketed ? "[" : "", s->host,
		 s->bracketed ? "]" : "", (unsigned)s->port, s->admin ? " admin" : "");
}

char *pf_table_format(const struct pf_table *t)
{
	struct pf_buf b = { 0 };
	char *line = pf_xcalloc(1, 65536);
	size_t i;

	snprintf(line, 65536, "# portfw table, %zu forwards", t->n);
	pf_table_line(&b, line);
	if (t->user.user[0]) {
		snprintf(line, 65536, "user %s%s%s", t->user.user, t->user.group[0] ? " group " : "",
			 t->user.group);
		pf_table_line(&b, line);
	}
	if (t->def_allow.n) {
		snprintf(line, 65536, "default allow ");
		pf_cidrset_format(&t->def_allow, line + strlen(line), 65536 - strlen(line));
		pf_table_line(&b, line);
	}
	if (t->def_deny.n) {
		snprintf(line, 65536, "default deny ");
		pf_cidrset_format(&t->def_deny, line + strlen(line), 65536 - strlen(line));
		pf_table_line(&b, line);
	}
	if (t->def_log)
		pf_table_line(&b, "default log");
	if (t->log_format == PF_FLOWLOG_JSON)
		pf_table_line(&b, "log-format json");
	if (t->drain_set) {
		char d[32];

		pf_format_duration(t->drain_ms, d, sizeof(d));
		snprintf(line, 65536, "drain-timeout %s", d);
		pf_table_line(&b, line);
	}
	if (t->status.on) {
		pf_status_conf_format(&t->status, line, 65536);
		pf_table_line(&b, line);
	}
	/* Marks first: the mfw-N forwards below were made from them. */
	for (i = 0; i < t->nmarks; i++) {
		pf_mark_format(&t->marks[i], line, 65536);
		pf_table_line(&b, line);
	}
	for (i = 0; i < t->n; i++) {
		pf_forward_format(t->fwd[i], line, 65536);
		pf_table_line(&b, line);
	}
	free(line);
	return pf_buf_detach(&b, NULL);
}

uint32_t pf_name_hash(const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	while (*name)
		h = (h ^ (uint8_t)*name++) * 16777619u;
	return h;
}

uint8_t pf_engine_default = PF_ENGINE_USER;

uint8_t pf_forward_engine(const struct pf_forward *f)
{
	if (f->conf.trigger)
		return PF_ENGINE_KERNEL; /* conntrack events and nftables only */
	return f->conf.engine == PF_ENGINE_DEFAULT ? pf_engine_default : f->conf.engine;
}

const char *pf_balance_name(uint8_t balance)
{
	static const char *const names[] = { "wrr", "pref", "rr", "leastconn", "source", "maglev" };

	return balance < PF_ARRAY_SIZE(names) ? names[balance] : "?";
}

const char *pf_admin_name(uint8_t admin)
{
	static const char *const names[] = { "enabled", "drain", "disabled" };

	return admin < PF_ARRAY_SIZE(names) ? names[admin] : "?";
}

const char *pf_backend_state(const struct pf_forward *f, const struct pf_backend *be)
{
	uint8_t agent;

	(void)f;
	if (be->conf.admin == PF_ADMIN_DISABLED)
		return "disabled";
	if (be->conf.admin == PF_ADMIN_DRAIN)
		return "drain";
	if (!be->st)
		return "up";
	agent = atomic_load_explicit(&be->st->agent, memory_order_relaxed);
	if (atomic_load_explicit(&be->st->health, memory_order_relaxed) == PF_HEALTH_DOWN ||
	    agent == PF_AGENT_DOWN)
		return "down";
	if (agent == PF_AGENT_DRAIN)
		return "drain";
	return "up";
}

bool pf_cidr_match(const struct pf_cidr *c, const union pf_sa *sa)
{
	const uint8_t *a, *n;
	uint8_t bits = c->plen;
	struct in_addr v4;
	size_t i;

	if (sa->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sa->sin6.sin6_addr) &&
	    c->addr.sa.sa_family == AF_INET) {
		/* A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d. */
		memcpy(&v4, &sa->sin6.sin6_addr.s6_addr[12], 4);
		a = (const uint8_t *)&v4;
	} else if (sa->sa.sa_family != c->addr.sa.sa_family) {
		return false;
	} else if (sa->sa.sa_family == AF_INET6) {
		a = sa->sin6.sin6_addr.s6_addr;
	} else {
		a = (const uint8_t *)&sa->sin.sin_addr;
	}
	n = c->addr.sa.sa_family == AF_INET6 ? c->addr.sin6.sin6_addr.s6_addr
					      : (const uint8_t *)&c->addr.sin.sin_addr;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (a[i] != n[i])
			return false;
	return !bits || !((a[i] ^ n[i]) & (uint8_t)(0xff << (8 - bits)));
}

int pf_cidrset_match(const struct pf_cidrset *set, const union pf_sa *sa)
{
	int best = -1;
	uint32_t i;

	for (i = 0; i < set->n; i++)
		if (pf_prefix_cmp(set->v[i].plen, best) < 0 && pf_cidr_match(&set->v[i], sa))
			best = set->v[i].plen;
	return best;
}

static bool pf_cidr_equal(const struct pf_cidr *a, const struct pf_cidr *b)
{
	return a->plen == b->plen && pf_sa_addr_equal(&a->addr, &b->addr);
}

bool pf_cidrset_equal(const struct pf_cidrset *a, const struct pf_cidrset *b)
{
	uint32_t i, j;

	/*
	 * Sets, not lists: order does not matter, but duplicates must not let
	 * {A, A} pass for {A, B}, so look both ways.
	 */
	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		for (j = 0; j < b->n && !pf_cidr_equal(&a->v[i], &b->v[j]); j++)
			;
		if (j == b->n)
			return false;
	}
	for (i = 0; i < b->n; i++) {
		for (j = 0; j < a->n && !pf_cidr_equal(&b->v[i], &a->v[j]); j++)
			;
		if (j == a->n)
			return false;
	}
	return true;
}

void pf_cidrset_copy(struct pf_cidrset *dst, const struct pf_cidrset *src)
{
	dst->n = src->n;
	dst->v = NULL;
	if (src->n) {
		dst->v = pf_xcalloc(src->n, sizeof(*dst->v));
		memcpy(dst->v, src->v, src->n * sizeof(*dst->v));
	}
}

void pf_cidrset_free(struct pf_cidrset *set)
{
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

void pf_cidrset_format(const struct pf_cidrset *set, char *buf, size_t len)
{
	size_t off = 0;
	uint32_t i;

	buf[0] = '\0';
	for (i = 0; i < set->n && off < len; i++) {
		char a[PF_ADDRSTR_MAX];
		int n;

		/*
		 * pf_sa_format shows a v4-mapped address as plain IPv4, which
		 * suits peers but not a /104 network: keep its IPv6 form so
		 * that 'save' loads back.
		 */
		if (set->v[i].addr.sa.sa_family == AF_INET6)
			inet_ntop(AF_INET6, &set->v[i].addr.sin6.sin6_addr, a, sizeof(a));
		else
			pf_sa_format(&set->v[i].addr, false, a, sizeof(a));
		n = snprintf(buf + off, len - off, "%s%s/%u", i ? "," : "", a, set->v[i].plen);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

bool pf_acl_allows(const struct pf_forward *f, const union pf_sa *sa)
{
	int allow, deny;

	if (!f->eff_allow.n && !f->eff_deny.n)
		return true;
	/* The most specific entry decides; on a tie, deny. */
	deny = pf_cidrset_match(&f->eff_deny, sa);
	allow = f->eff_allow.n ? pf_cidrset_match(&f->eff_allow, sa) : -1;
	if (deny >= 0 && pf_prefix_cmp(deny, allow) <= 0)
		return false;
	return allow >= 0 || !f->eff_allow.n;
}

/* Forward f's effective ACL: its own, or the table's default; and whether
 * its flows are logged ('log', or 'default log'). i: its place in next
 * (SIZE_MAX: found if it must be copied). */
static void pf_effective_set(struct pf_table *next, struct pf_forward *f, size_t i)
{
	bool own = f->conf.allow.n || f->conf.deny.n;
	bool logged = f->conf.log || next->def_log;
	const struct pf_cidrset *a = own ? &f->conf.allow : &next->def_allow;
	const struct pf_cidrset *d = own ? &f->conf.deny : &next->def_deny;

	if (pf_cidrset_equal(&f->eff_allow, a) && pf_cidrset_equal(&f->eff_deny, d) &&
	    f->logged == logged)
		return;
	if (f->live || atomic_load(&f->refs) > 1) {
		/* Running already: flows read it, so change a copy (and read the
		 * ACL from the copy: ours goes with the reference we drop). */
		struct pf_forward *c = pf_forward_clone(f);

		pf_table_replace_at(next, i == SIZE_MAX ? pf_table_pos(next, f) : i, c);
		f = c;
		a = own ? &f->conf.allow : &next->def_allow;
		d = own ? &f->conf.deny : &next->def_deny;
	}
	pf_cidrset_free(&f->eff_allow);
	pf_cidrset_free(&f->eff_deny);
	pf_cidrset_copy(&f->eff_allow, a);
	pf_cidrset_copy(&f->eff_deny, d);
	f->logged = logged;
}

void pf_table_effective(struct pf_table *next, const struct pf_table *cur)
{
	size_t i;

	(void)cur;
	for (i = 0; i < next->n; i++)
		pf_effective_set(next, next->fwd[i], i);
}

/* Two forwards may share ports only when they serve different sources; the
 * same network in both would make the choice ambiguous. */
static bool pf_from_conflict(const struct pf_forward *a, const struct pf_forward *b,
			     char *why, size_t whylen)
{
	uint32_t i, j;

	if (pf_cidrset_equal(&a->conf.from, &b->conf.from)) {
		snprintf(why, whylen, "%s",
			 a->conf.from.n ? "with the same 'from' sources " : "");
		return true;
	}
	for (i = 0; i < a->conf.from.n; i++) {
		for (j = 0; j < b->conf.from.n; j++) {
			if (pf_cidr_equal(&a->conf.from.v[i], &b->conf.from.v[j])) {
				char n[PF_ADDRSTR_MAX];

				pf_sa_format(&a->conf.from.v[i].addr, false,
					     n, sizeof(n));
				snprintf(why, whylen, "with source %s/%u in both ", n,
					 a->conf.from.v[i].plen);
				return true;
			}
		}
	}
	return false;
}

static bool pf_forward_overlap(const struct pf_forward *a, const struct pf_forward *b)
{
	if (!(a->conf.protos & b->conf.protos))
		return false;
	if (a->conf.lport_hi < b->conf.lport_lo || b->conf.lport_hi < a->conf.lport_lo)
		return false;
	/* A trigger opens its range on every address of the gateway. */
	if (a->conf.trigger || b->conf.trigger)
		return true;
	if (strcmp(a->conf.lif, b->conf.lif) != 0)
		return false; /* "%wan:80" and ":80" (or "%lan:80") coexist */
	if (a->laddr.sa.sa_family && b->laddr.sa.sa_family)
		return pf_sa_addr_equal(&a->laddr, &b->laddr) ||
		       (pf_sa_is_any(&a->laddr) && pf_sa_is_any(&b->laddr));
	/* Not resolved yet: compare as written. */
	return !strcmp(a->conf.lhost, b->conf.lhost);
}

/* Which forwards may clash with an earlier one: the same name, or ports
 * that overlap and pf_forward_overlap. Only those are compared with every
 * earlier forward (the same checks, the same first error as comparing all
 * pairs); found by sorting on name and on the first port, so that a table of
 * 100,000 forwards is not 5 * 10^9 pairs (minutes) to check. */
struct pf_vport {
	uint16_t lo, hi;
	size_t i;
};

struct pf_vname {
	const char *name;
	size_t i;
};

static int pf_vport_cmp(const void *x, const void *y)
{
	const struct pf_vport *a = x, *b = y;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

static int pf_vname_cmp(const void *x, const void *y)
{
	const struct pf_vname *a = x, *b = y;
	int c = strcmp(a->name, b->name);

	if (c)
		return c;
	return a->i < b->i ? -1 : a->i > b->i;
}

static bool *pf_validate_candidates(const struct pf_table *t)
{
	size_t n = t->n, i, k, nn = 0;
	bool *cand = pf_xcalloc(n ? n : 1, sizeof(*cand));
	struct pf_vport *vp = pf_xcalloc(n ? n : 1, sizeof(*vp));
	struct pf_vname *vn = pf_xcalloc(n ? n : 1, sizeof(*vn));

	for (i = 0; i < n; i++) {
		vp[i] = (struct pf_vport){ t->fwd[i]->conf.lport_lo, t->fwd[i]->conf.lport_hi, i };
		if (t->fwd[i]->conf.name[0])
			vn[nn++] = (struct pf_vname){ t->fwd[i]->conf.name, i };
	}
	qsort(vp, n, sizeof(*vp), pf_vport_cmp);
	for (i = 0; i < n; i++) {
		for (k = i + 1; k < n && vp[k].lo <= vp[i].hi; k++) {
			size_t a = vp[i].i, b = vp[k].i;

			if (pf_forward_overlap(t->fwd[a], t->fwd[b]))
				cand[a > b ? a : b] = true;
		}
	}
	qsort(vn, nn, sizeof(*vn), pf_vname_cmp);
	for (i = 1; i < nn; i++)
		if (!strcmp(vn[i].name, vn[i - 1].name))
			cand[vn[i].i] = true;
	free(vp);
	free(vn);
	return cand;
}

/* Which forwards a table holds: each is stamped with a number fresh for the
 * question, then a forward is in the table if it bears it. One pass, no
 * sort (a sort of a big table's pointers on every change costs more); the
 * stamps are only read and written by the control thread. */
static uint32_t pf_stamp_last;

static uint32_t pf_table_stamp(const struct pf_table *t)
{
	uint32_t s = ++pf_stamp_last;
	size_t i;

	if (!s)
		s = ++pf_stamp_last;
	for (i = 0; i < t->n; i++)
		t->fwd[i]->tstamp = s;
	return s;
}

/* The other forward of a conflict: "forward 'web' (t.conf:2)", or without a
 * line (given as arguments) "forward 'web'" / "forward tcp :8080". */
static void pf_other_label(const struct pf_forward *b, char *buf, size_t len)
{
	const char *kind = b->conf.trigger ? "trigger" : "forward";
	char l[PF_HOST_MAX + 16];

	if (b->conf.line > 0) {
		snprintf(buf, len, "%s %s%s%s(%s:%d)", kind, b->conf.name[0] ? "'" : "",
			 b->conf.name, b->conf.name[0] ? "' " : "", b->conf.src, b->conf.line);
	} else if (b->conf.name[0]) {
		snprintf(buf, len, "%s '%s'", kind, b->conf.name);
	} else {
		pf_listen_format(b, l, sizeof(l));
		snprintf(buf, len, "%s %s %s", kind, pf_proto_name(b->conf.protos), l);
	}
}

/* What a forward may not be whatever the others are. */
static int pf_validate_alone(const struct pf_forward *a, const char *where, char *err,
			     size_t errlen)
{
	char m[PF_ADDRSTR_MAX], b[PF_ADDRSTR_MAX];
	const struct pf_opt *o;
	uint32_t i;

	if (a->conf.protos == PF_PROTO_ALL && pf_forward_engine(a) != PF_ENGINE_KERNEL) {
		snprintf(err, errlen,
			 "%s: 'all' forwards every protocol and needs the kernel engine: "
			 "add 'engine kernel' or run portfwd -e kernel",
			 where);
		return -1;
	}
	/* Under 'portfwd -e kernel' a forward without 'engine' is the
	 * kernel's; the parser saw only what was written. */
	if ((o = pf_opt_engine_misfit(&a->conf, pf_forward_engine(a)))) {
		snprintf(err, errlen,
			 "%s: '%s' needs the user engine (the kernel engine does not see the "
			 "bytes of a connection); add 'engine user' or run portfwd -e user",
			 where, o->word);
		return -1;
	}
	/* The source of a connection to a backend is of the backend's family. */
	for (i = 0; a->conf.masq.addr.sa.sa_family && i < a->nbe; i++) {
		const union pf_sa *be = &a->be[i].addr;

		if (be->sa.sa_family && be->sa.sa_family != a->conf.masq.addr.sa.sa_family) {
			pf_sa_format(&a->conf.masq.addr, false, m, sizeof(m));
			pf_sa_format(be, false, b, sizeof(b));
			snprintf(err, errlen,
				 "%s: 'masquerade %s' cannot be the source of a connection to "
				 "backend %s (another address family); expected an address of "
				 "the backends' family",
				 where, m, b);
			return -1;
		}
	}
	return 0;
}

/* Forward a against b, which comes before it. */
static int pf_validate_pair(const struct pf_forward *a, const struct pf_forward *b,
			    const char *where, char *err, size_t errlen)
{
	char l[PF_HOST_MAX + 16], why[128], other[PF_WHERE_MAX + PF_NAME_MAX + 16];

	if (a->conf.name[0] && a->namehash == b->namehash && !strcmp(a->conf.name, b->conf.name)) {
		if (b->conf.line > 0)
			snprintf(other, sizeof(other), "the forward at %s:%d", b->conf.src,
				 b->conf.line);
		else
			snprintf(other, sizeof(other), "another forward");
		snprintf(err, errlen, "%s: name '%s' is already used by %s; expected a unique name",
			 where, a->conf.name, other);
		return -1;
	}
	if (pf_forward_overlap(a, b) &&
	    ((a->conf.trigger || b->conf.trigger) ? (why[0] = '\0', true)
						  : pf_from_conflict(a, b, why, sizeof(why)))) {
		pf_listen_format(a, l, sizeof(l));
		pf_other_label(b, other, sizeof(other));
		snprintf(err, errlen,
			 "%s: %s%s %s %soverlaps %s; expected "
			 "each protocol, address and port to be forwarded once for "
			 "each source%s",
			 where, a->conf.trigger ? "trigger " : "",
			 pf_proto_name(a->conf.protos & b->conf.protos), l, why, other,
			 (a->conf.trigger || b->conf.trigger)
				 ? " (a trigger's range is opened on every address of the gateway)"
				 : "");
		return -1;
	}
	return 0;
}

/* Forward i against the rest: alone, then (cand) against every one before it. */
static int pf_validate_one(const struct pf_table *t, size_t i, bool cand, char *err,
			   size_t errlen)
{
	const struct pf_forward *a = t->fwd[i];
	char where[PF_WHERE_MAX];
	size_t j;

	pf_forward_where(a, a->conf.line, where, sizeof(where));
	if (pf_validate_alone(a, where, err, errlen))
		return -1;
	for (j = cand ? 0 : i; j < i; j++)
		if (pf_validate_pair(a, t->fwd[j], where, err, errlen))
			return -1;
	return 0;
}

int pf_table_validate(const struct pf_table *t, char *err, size_t errlen)
{
	bool *cand = pf_validate_candidates(t);
	size_t i;
	int rc = 0;

	for (i = 0; i < t->n && !rc; i++)
		rc = pf_validate_one(t, i, cand[i], err, errlen);
	free(cand);
	return rc;
}

/* Few forwards new to the running table: only they can conflict (the rest
 * were valid together), so only they and what they may clash with are
 * looked at. More than this: the whole table is. */
#define PF_VALIDATE_FEW 32

/* A draft's new forwards (t->add), and the forwards they may clash with
 * (pf_table_neighbours): each against those before it in the table, in
 * table order, as pf_table_validate would (the same first error). */
static int pf_validate_delta(const struct pf_table *t, char *err, size_t errlen)
{
	struct pf_fwdvec c = { 0 };
	char where[PF_WHERE_MAX];
	size_t i, k;
	int rc = 0;

	for (i = 0; i < t->add.n; i++)
		if (!pf_fwdvec_has(&c, t->add.v[i]))
			pf_fwdvec_push(&c, t->add.v[i]);
	/* Of the neighbours (same ports or name), those that clash with a
	 * new one: most share a port on another address, and the table is
	 * walked for their order only when there is more than one forward. */
	for (i = 0; i < t->add.n; i++) {
		struct pf_fwdvec nb = { 0 };

		pf_table_neighbours(t, t->add.v[i], &nb);
		for (k = 0; k < nb.n; k++)
			if (!pf_fwdvec_has(&c, nb.v[k]) &&
			    pf_validate_pair(t->add.v[i], nb.v[k], "", where, sizeof(where)))
				pf_fwdvec_push(&c, nb.v[k]);
		pf_fwdvec_free(&nb);
	}
	pf_table_order(t, &c);
	for (k = 0; k < c.n && !rc; k++) {
		pf_forward_where(c.v[k], c.v[k]->conf.line, where, sizeof(where));
		rc = pf_validate_alone(c.v[k], where, err, errlen);
		for (i = 0; i < k && !rc; i++)
			rc = pf_validate_pair(c.v[k], c.v[i], where, err, errlen);
	}
	pf_fwdvec_free(&c);
	return rc;
}

enum pf_inherited { PF_INH_NEW, PF_INH_CHANGED, PF_INH_SAME };

/* Forward i of next, not in cur: the running forward itself if it is the
 * same, else its counters if one has its key. At most one forward of a
 * valid table has a key, and equal forwards share it: one walk, not two. */
static enum pf_inherited pf_inherit_from(struct pf_table *next, struct pf_forward *f, size_t i,
					 struct pf_forward *old)
{
	uint32_t j;

	if (old && pf_forward_equal(old, f)) {
		if (old != f) /* f goes */
			pf_table_replace_at(next, i == SIZE_MAX ? pf_table_pos(next, f) : i,
					    pf_forward_ref(old));
		return PF_INH_SAME;
	}
	if (!f->st)
		f->st = old ? pf_stats_ref(old->st) : pf_stats_new();
	/* The id goes with the key (the kernel engine's chains, its marks on
	 * conntrack entries: they can be traced to the forward that follows);
	 * a new key gets one once all are known (pf_table_give_ids). */
	if (!f->id && old)
		f->id = old->id;
	for (j = 0; j < f->nbe; j++) {
		struct pf_backend *be = &f->be[j];
		uint32_t m;

		if (be->st)
			continue;
		/* The same address of the same line first: each address of a
		 * name ('resolve all') keeps its own counters. */
		for (m = 0; old && m < old->nbe && !be->st; m++)
			if (pf_backend_same(&old->be[m], be) &&
			    pf_sa_addr_equal(&old->be[m].addr, &be->addr))
				be->st = pf_stats_ref(old->be[m].st);
		for (m = 0; old && m < old->nbe && !be->st && !be->extra; m++)
			if (pf_backend_same(&old->be[m], be) && !old->be[m].extra)
				be->st = pf_stats_ref(old->be[m].st);
		if (!be->st)
			be->st = pf_stats_new();
	}
	return old ? PF_INH_CHANGED : PF_INH_NEW;
}


/* A hash of what pf_forward_same_key compares (but the sources). */
static uint32_t pf_key_hash(const struct pf_forward *f)
{
	uint32_t h = pf_name_hash(f->conf.lhost) ^ (pf_name_hash(f->conf.lif) * 31u);

	h = (h ^ f->conf.lport_lo) * 16777619u;
	h = (h ^ f->conf.lport_hi) * 16777619u;
	return (h ^ f->conf.protos ^ ((uint32_t)f->conf.trigger << 8)) * 16777619u;
}

/* A table's forwards by key: for the changes that touch many of them (a
 * reload), where a walk per forward (pf_table_find_key) made 100,000
 * forwards 10^10 comparisons. Open addressing, index + 1, 0 empty. */
struct pf_keyidx {
	const struct pf_table *t;
	size_t *slot;
	uint32_t mask;
};

static void pf_keyidx_build(struct pf_keyidx *x, const struct pf_table *t)
{
	size_t size = 16, i;

	while (size < 2 * t->n)
		size <<= 1;
	x->t = t;
	x->mask = (uint32_t)(size - 1);
	x->slot = pf_xcalloc(size, sizeof(*x->slot));
	for (i = 0; i < t->n; i++) {
		uint32_t k = pf_key_hash(t->fwd[i]) & x->mask;

		while (x->slot[k])
			k = (k + 1) & x->mask;
		x->slot[k] = i + 1;
	}
}

static struct pf_forward *pf_keyidx_find(const struct pf_keyidx *x, const struct pf_forward *f)
{
	uint32_t k;

	for (k = pf_key_hash(f) & x->mask; x->slot[k]; k = (k + 1) & x->mask)
		if (pf_forward_same_key(x->t->fwd[x->slot[k] - 1], f))
			return x->t->fwd[x->slot[k] - 1];
	return NULL;
}

void pf_table_inherit(const struct pf_table *cur, struct pf_table *next)
{
	uint32_t kept = pf_table_stamp(cur);
	struct pf_keyidx x;
	size_t i, nnew = 0;

	for (i = 0; i < next->n; i++)
		nnew += next->fwd[i]->tstamp != kept;
	if (nnew <= PF_VALIDATE_FEW) {
		for (i = 0; i < next->n; i++)
			/* The same forward (a change copies the table): nothing to take. */
			if (next->fwd[i]->tstamp != kept)
				pf_inherit_from(next, next->fwd[i], i,
						pf_table_find_key(cur, next->fwd[i]));
		pf_table_give_ids(cur, next);
		return;
	}
	/* Many new forwards (a reload makes every one new): the running ones
	 * by key. */
	pf_keyidx_build(&x, cur);
	for (i = 0; i < next->n; i++)
		if (next->fwd[i]->tstamp != kept)
			pf_inherit_from(next, next->fwd[i], i,
					pf_keyidx_find(&x, next->fwd[i]));
	free(x.slot);
	pf_table_give_ids(cur, next);
}

void pf_table_diff(const struct pf_table *cur, const struct pf_table *next, pf_diff_cb cb,
		   void *arg)
{
	uint32_t in_next = pf_table_stamp(next), in_cur;
	struct pf_keyidx xc, xn;
	size_t i;

	pf_keyidx_build(&xc, cur);
	pf_keyidx_build(&xn, next);
	for (i = 0; i < cur->n; i++) {
		struct pf_forward *o = cur->fwd[i], *n;

		if (o->tstamp == in_next) {
			cb(PF_DIFF_KEEP, o, o, arg);
			continue;
		}
		n = pf_keyidx_find(&xn, o);
		if (n && pf_keyidx_find(&xc, n) == o)
			cb(PF_DIFF_MODIFY, o, n, arg);
		else
			cb(PF_DIFF_DEL, o, NULL, arg);
	}
	in_cur = pf_table_stamp(cur);
	for (i = 0; i < next->n; i++) {
		struct pf_forward *n = next->fwd[i];

		if (n->tstamp != in_cur && !pf_keyidx_find(&xc, n))
			cb(PF_DIFF_ADD, NULL, n, arg);
	}
	free(xc.slot);
	free(xn.slot);
}

int pf_table_prepare_change(struct pf_table *next, const struct pf_table *cur,
			    struct pf_change *ch, char *err, size_t errlen)
{
	struct pf_forward *fresh[PF_VALIDATE_FEW];
	size_t n = next->add.n, k, same = 0, changed = 0;

	ch->fresh = SIZE_MAX;
	ch->changed = 0;
	ch->checked = false;
	if (next->n > PF_FWD_MAX) {
		snprintf(err, errlen, "the table would hold %zu forwards: at most %u", next->n,
			 PF_FWD_MAX);
		return -1;
	}
	/* A draft of cur with few new forwards: only those are looked at. */
	if (next->base != cur || n > PF_VALIDATE_FEW)
		goto whole;
	/* A new default ACL (or flow log default) reaches every forward that has none of its own. */
	if (!pf_cidrset_equal(&next->def_allow, &cur->def_allow) ||
	    !pf_cidrset_equal(&next->def_deny, &cur->def_deny) || next->def_log != cur->def_log)
		goto whole;
	/* A copy of the list: inheriting may put a running forward back in
	 * the place of an equal new one, which then goes. */
	for (k = 0; k < n; k++)
		fresh[k] = next->add.v[k];
	for (k = 0; k < n; k++)
		pf_effective_set(next, fresh[k], SIZE_MAX);
	/* (The list again, in case a copy was made there.) Resolved before
	 * the comparison with the running forwards, which reads the
	 * addresses: a name that moved makes a change. */
	for (k = 0; k < n; k++) {
		fresh[k] = next->add.v[k];
		if (pf_forward_resolve(fresh[k], cur, err, errlen))
			return -1;
	}
	for (k = 0; k < n; k++) {
		enum pf_inherited h = pf_inherit_from(next, fresh[k], SIZE_MAX,
						      pf_table_find_key(cur, fresh[k]));

		if (h == PF_INH_SAME)
			fresh[k] = NULL;
		same += h == PF_INH_SAME;
		changed += h == PF_INH_CHANGED;
	}
	pf_table_give_ids(cur, next);
	for (k = 0; k < n; k++)
		if (fresh[k])
			ch->checked |= fresh[k]->checked;
	if (pf_validate_delta(next, err, errlen))
		return -1;
	ch->fresh = n - same;
	ch->changed = changed;
	return 0;
whole:
	pf_table_effective(next, cur);
	for (k = 0; k < next->n; k++)
		if (pf_forward_resolve(next->fwd[k], cur, err, errlen))
			return -1;
	pf_table_inherit(cur, next);
	return pf_table_validate(next, err, errlen);
}
