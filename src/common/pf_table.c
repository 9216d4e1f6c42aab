// SPDX-License-Identifier: GPL-2.0-or-later
#include "pf_table.h"
#include "pf_buf.h"
#include "pf_util.h"

#include <arpa/inet.h>
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
	f->o = pf_fwd_defaults;
	f->balance = PF_BAL_WRR;
	f->check.interval_ms = 2000; /* HAProxy's defaults: inter 2s, fall 3, rise 2 */
	f->check.timeout_ms = 2000;
	f->check.fall = 3;
	f->check.rise = 2;
	f->check.agent_interval_ms = 2000;
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
	pf_cidrset_free(&f->from);
	pf_cidrset_free(&f->allow);
	pf_cidrset_free(&f->deny);
	pf_cidrset_free(&f->eff_allow);
	pf_cidrset_free(&f->eff_deny);
	free(f->pref_order);
	free(f->pcnt);
	free(f->maglev);
	free(f->be);
	free(f);
}

struct pf_forward *pf_forward_clone(const struct pf_forward *f)
{
	struct pf_forward *c = pf_forward_new();
	uint32_t i;

	memcpy(c->name, f->name, sizeof(c->name));
	c->namehash = f->namehash;
	c->checked = f->checked;
	memcpy(c->src, f->src, sizeof(c->src));
	memcpy(c->lhost, f->lhost, sizeof(c->lhost));
	c->line = f->line;
	c->protos = f->protos;
	c->lbracketed = f->lbracketed;
	c->lport_lo = f->lport_lo;
	c->lport_hi = f->lport_hi;
	c->o = f->o;
	c->balance = f->balance;
	c->engine = f->engine;
	c->ftp = f->ftp;
	c->allow_loopback = f->allow_loopback;
	memcpy(c->lif, f->lif, sizeof(c->lif));
	c->trigger = f->trigger;
	c->trig_proto = f->trig_proto;
	c->trig_port = f->trig_port;
	c->trig_ms = f->trig_ms;
	c->check = f->check;
	pf_cidrset_copy(&c->from, &f->from);
	pf_cidrset_copy(&c->allow, &f->allow);
	pf_cidrset_copy(&c->deny, &f->deny);
	pf_cidrset_copy(&c->eff_allow, &f->eff_allow);
	pf_cidrset_copy(&c->eff_deny, &f->eff_deny);
	c->laddr = f->laddr;
	c->nbe = f->nbe;
	c->be = pf_xcalloc(f->nbe ? f->nbe : 1, sizeof(*c->be));
	for (i = 0; i < f->nbe; i++) {
		c->be[i] = f->be[i];
		c->be[i].st = NULL;
		c->be[i].sched_cur = 0;
	}
	return c;
}

bool pf_forward_same_key(const struct pf_forward *a, const struct pf_forward *b)
{
	/* The ports first: they differ most often, and sit in the forward's
	 * first cache line (the strings do not). */
	return a->lport_lo == b->lport_lo && a->lport_hi == b->lport_hi &&
	       a->protos == b->protos && a->trigger == b->trigger && !strcmp(a->lhost, b->lhost) &&
	       !strcmp(a->lif, b->lif) && pf_cidrset_equal(&a->from, &b->from);
}

static bool pf_check_equal(const struct pf_check *a, const struct pf_check *b)
{
	return a->on == b->on && a->interval_ms == b->interval_ms &&
	       a->timeout_ms == b->timeout_ms && a->fall == b->fall && a->rise == b->rise &&
	       a->port == b->port && !strcmp(a->send, b->send) && !strcmp(a->expect, b->expect) &&
	       a->agent_port == b->agent_port && a->agent_interval_ms == b->agent_interval_ms;
}

static bool pf_backend_same(const struct pf_backend *a, const struct pf_backend *b)
{
	return !strcmp(a->host, b->host) && a->port_lo == b->port_lo && a->port_hi == b->port_hi;
}

bool pf_forward_equal(const struct pf_forward *a, const struct pf_forward *b)
{
	uint32_t i;

	if (!pf_forward_same_key(a, b) || a->namehash != b->namehash ||
	    strcmp(a->name, b->name) != 0 || a->nbe != b->nbe ||
	    a->o.connect_ms != b->o.connect_ms || a->o.idle_ms != b->o.idle_ms ||
	    a->o.halfclose_ms != b->o.halfclose_ms || a->o.maxconn != b->o.maxconn ||
	    a->o.udp_ms != b->o.udp_ms || a->o.udp_stream_ms != b->o.udp_stream_ms ||
	    a->o.max_sessions != b->o.max_sessions || a->balance != b->balance ||
	    a->engine != b->engine || a->ftp != b->ftp || a->allow_loopback != b->allow_loopback ||
	    a->trig_proto != b->trig_proto || a->trig_port != b->trig_port ||
	    a->trig_ms != b->trig_ms ||
	    !pf_check_equal(&a->check, &b->check) || !pf_cidrset_equal(&a->allow, &b->allow) ||
	    !pf_cidrset_equal(&a->deny, &b->deny) ||
	    !pf_cidrset_equal(&a->eff_allow, &b->eff_allow) ||
	    !pf_cidrset_equal(&a->eff_deny, &b->eff_deny))
		return false;
	for (i = 0; i < a->nbe; i++)
		if (!pf_backend_same(&a->be[i], &b->be[i]) || a->be[i].weight != b->be[i].weight ||
		    a->be[i].backup != b->be[i].backup || a->be[i].admin != b->be[i].admin)
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

	if (f->lif[0]) {
		/* "%wan:80", "%wan" (whole host): an interface, never a host name. */
		snprintf(ifn, sizeof(ifn), "%%%s", f->lif);
		pf_hostport_format(ifn, false, f->lport_lo, f->lport_hi, buf, len);
	} else if (f->protos == PF_PROTO_ALL && !f->lhost[0]) {
		snprintf(buf, len, "any");
	} else if (f->trigger) {
		/* A range on the gateway's addresses: written without a colon. */
		if (f->lport_lo == f->lport_hi)
			snprintf(buf, len, "%u", f->lport_lo);
		else
			snprintf(buf, len, "%u-%u", f->lport_lo, f->lport_hi);
	} else {
		pf_hostport_format(f->lhost, f->lbracketed, f->lport_lo, f->lport_hi, buf, len);
	}
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

/* A word quoted so the lexer reads it back as it is. */
static size_t pf_append_quoted(char *buf, size_t len, size_t off, const char *s)
{
	char q[PF_CHECK_STR_MAX * 4 + 3];
	size_t o = 0;

	q[o++] = '"';
	for (; *s && o + 6 < sizeof(q); s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			q[o++] = '\\';
			q[o++] = (char)ch;
		} else if (ch == '\n') {
			q[o++] = '\\';
			q[o++] = 'n';
		} else if (ch == '\r') {
			q[o++] = '\\';
			q[o++] = 'r';
		} else if (ch == '\t') {
			q[o++] = '\\';
			q[o++] = 't';
		} else if (ch < 0x20 || ch >= 0x7f) {
			o += (size_t)snprintf(q + o, sizeof(q) - o, "\\x%02x", ch);
		} else {
			q[o++] = (char)ch;
		}
	}
	q[o++] = '"';
	q[o] = '\0';
	return pf_append(buf, len, off, " %s", q);
}

static size_t pf_format_sets(const struct pf_forward *f, char *buf, size_t len, size_t off)
{
	static const char *const names[] = { "from", "allow", "deny" };
	const struct pf_cidrset *sets[] = { &f->from, &f->allow, &f->deny };
	size_t i;

	for (i = 0; i < PF_ARRAY_SIZE(sets); i++) {
		if (!sets[i]->n)
			continue;
		off = pf_append(buf, len, off, " %s ", names[i]);
		if (off < len) {
			pf_cidrset_format(sets[i], buf + off, len - off);
			off += strlen(buf + off);
		}
	}
	return off;
}

static size_t pf_format_check(const struct pf_check *c, char *buf, size_t len, size_t off)
{
	char tmp[64];

	if (!c->on)
		return off;
	off = pf_append(buf, len, off, "%s", " check");
	if (c->interval_ms != 2000) {
		pf_format_duration(c->interval_ms, tmp, sizeof(tmp));
		off = pf_append(buf, len, off, " check-interval %s", tmp);
	}
	if (c->timeout_ms != 2000) {
		pf_format_duration(c->timeout_ms, tmp, sizeof(tmp));
		off = pf_append(buf, len, off, " check-timeout %s", tmp);
	}
	if (c->fall != 3) {
		snprintf(tmp, sizeof(tmp), "%u", c->fall);
		off = pf_append(buf, len, off, " fall %s", tmp);
	}
	if (c->rise != 2) {
		snprintf(tmp, sizeof(tmp), "%u", c->rise);
		off = pf_append(buf, len, off, " rise %s", tmp);
	}
	if (c->port) {
		snprintf(tmp, sizeof(tmp), "%u", c->port);
		off = pf_append(buf, len, off, " check-port %s", tmp);
	}
	if (c->send[0]) {
		off = pf_append(buf, len, off, "%s", " check-send");
		off = pf_append_quoted(buf, len, off, c->send);
	}
	if (c->expect[0]) {
		off = pf_append(buf, len, off, "%s", " check-expect");
		off = pf_append_quoted(buf, len, off, c->expect);
	}
	if (c->agent_port) {
		snprintf(tmp, sizeof(tmp), "%u", c->agent_port);
		off = pf_append(buf, len, off, " agent-port %s", tmp);
	}
	if (c->agent_interval_ms != 2000) {
		pf_format_duration(c->agent_interval_ms, tmp, sizeof(tmp));
		off = pf_append(buf, len, off, " agent-interval %s", tmp);
	}
	return off;
}

void pf_forward_format(const struct pf_forward *f, char *buf, size_t len)
{
	char tmp[PF_HOST_MAX + 32];
	size_t off = 0;
	uint32_t i;

	if (f->trigger) {
		off = pf_append(buf, len, off, "%s", "trigger");
		if (f->name[0])
			off = pf_append(buf, len, off, " name %s", f->name);
		off = pf_append(buf, len, off, " %s", pf_proto_name(f->protos));
		pf_listen_format(f, tmp, sizeof(tmp));
		off = pf_append(buf, len, off, " %s", tmp);
		snprintf(tmp, sizeof(tmp), "%s %u", pf_proto_name(f->trig_proto), f->trig_port);
		off = pf_append(buf, len, off, " on %s", tmp);
		if (f->trig_ms != PF_TRIGGER_DEFAULT_MS) {
			pf_format_duration(f->trig_ms, tmp, sizeof(tmp));
			pf_append(buf, len, off, " timeout %s", tmp);
		}
		return;
	}
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
		if (f->be[i].backup)
			off = pf_append(buf, len, off, "%s", " backup");
		if (f->be[i].admin != PF_ADMIN_ENABLED)
			off = pf_append(buf, len, off, " %s", pf_admin_name(f->be[i].admin));
	}
	if (f->balance != PF_BAL_WRR)
		off = pf_append(buf, len, off, " balance %s", pf_balance_name(f->balance));
	if (f->engine != PF_ENGINE_DEFAULT)
		off = pf_append(buf, len, off, " engine %s",
				f->engine == PF_ENGINE_KERNEL ? "kernel" : "user");
	if (f->ftp)
		off = pf_append(buf, len, off, "%s", " ftp");
	if (f->allow_loopback)
		off = pf_append(buf, len, off, "%s", " allow-loopback");
	off = pf_format_sets(f, buf, len, off);
	off = pf_format_check(&f->check, buf, len, off);
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

/* One line of the saved table: the line and its newline. */
static void pf_table_line(struct pf_buf *b, const char *line)
{
	pf_buf_puts(b, line);
	pf_buf_add(b, "\n", 1);
}

char *pf_table_format(const struct pf_table *t)
{
	struct pf_buf b = { 0 };
	char *line = pf_xcalloc(1, 65536);
	size_t i;

	snprintf(line, 65536, "# portfw table, %zu forwards", t->n);
	pf_table_line(&b, line);
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
	pf_cidrset_free(&t->def_allow);
	pf_cidrset_free(&t->def_deny);
	pf_marks_free(t);
	pf_table_init(t);
}

uint32_t pf_name_hash(const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	while (*name)
		h = (h ^ (uint8_t)*name++) * 16777619u;
	return h;
}

void pf_table_add(struct pf_table *t, struct pf_forward *f)
{
	f->namehash = pf_name_hash(f->name);
	f->checked = f->check.on;
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
	/* One allocation, and the forwards' own fields left alone (they are
	 * set already): a change with 100,000 forwards copies the table. */
	dst->cap = src->n + 16;
	dst->fwd = pf_xarray(dst->cap, sizeof(*dst->fwd));
	for (i = 0; i < src->n; i++)
		dst->fwd[i] = pf_forward_ref(src->fwd[i]);
	dst->n = src->n;
	pf_cidrset_copy(&dst->def_allow, &src->def_allow);
	pf_cidrset_copy(&dst->def_deny, &src->def_deny);
	pf_marks_copy(dst, src);
}

struct pf_forward *pf_table_find_name(const struct pf_table *t, const char *name)
{
	uint32_t h = pf_name_hash(name);
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->fwd[i]->namehash == h && t->fwd[i]->name[0] && !strcmp(t->fwd[i]->name, name))
			return t->fwd[i];
	return NULL;
}

uint8_t pf_engine_default = PF_ENGINE_USER;

uint8_t pf_forward_engine(const struct pf_forward *f)
{
	if (f->trigger)
		return PF_ENGINE_KERNEL; /* conntrack events and nftables only */
	return f->engine == PF_ENGINE_DEFAULT ? pf_engine_default : f->engine;
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
	if (be->admin == PF_ADMIN_DISABLED)
		return "disabled";
	if (be->admin == PF_ADMIN_DRAIN)
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

/* Forward i's effective ACL: its own, or the table's default. */
static void pf_effective_one(struct pf_table *next, size_t i)
{
	struct pf_forward *f = next->fwd[i];
	bool own = f->allow.n || f->deny.n;
	const struct pf_cidrset *a = own ? &f->allow : &next->def_allow;
	const struct pf_cidrset *d = own ? &f->deny : &next->def_deny;

	if (pf_cidrset_equal(&f->eff_allow, a) && pf_cidrset_equal(&f->eff_deny, d))
		return;
	if (atomic_load(&f->refs) > 1) {
		/* Running already: flows read it, so change a copy (and read the
		 * ACL from the copy: ours goes with the reference we drop). */
		struct pf_forward *c = pf_forward_clone(f);

		pf_forward_unref(f);
		next->fwd[i] = f = c;
		a = own ? &f->allow : &next->def_allow;
		d = own ? &f->deny : &next->def_deny;
	}
	pf_cidrset_free(&f->eff_allow);
	pf_cidrset_free(&f->eff_deny);
	pf_cidrset_copy(&f->eff_allow, a);
	pf_cidrset_copy(&f->eff_deny, d);
}

void pf_table_effective(struct pf_table *next, const struct pf_table *cur)
{
	size_t i;

	(void)cur;
	for (i = 0; i < next->n; i++)
		pf_effective_one(next, i);
}

/* Two forwards may share ports only when they serve different sources; the
 * same network in both would make the choice ambiguous. */
static bool pf_from_conflict(const struct pf_forward *a, const struct pf_forward *b,
			     char *why, size_t whylen)
{
	uint32_t i, j;

	if (pf_cidrset_equal(&a->from, &b->from)) {
		snprintf(why, whylen, "%s", a->from.n ? "with the same 'from' sources " : "");
		return true;
	}
	for (i = 0; i < a->from.n; i++) {
		for (j = 0; j < b->from.n; j++) {
			if (pf_cidr_equal(&a->from.v[i], &b->from.v[j])) {
				char n[PF_ADDRSTR_MAX];

				pf_sa_format(&a->from.v[i].addr, false, n, sizeof(n));
				snprintf(why, whylen, "with source %s/%u in both ", n,
					 a->from.v[i].plen);
				return true;
			}
		}
	}
	return false;
}

static bool pf_forward_overlap(const struct pf_forward *a, const struct pf_forward *b)
{
	if (!(a->protos & b->protos))
		return false;
	if (a->lport_hi < b->lport_lo || b->lport_hi < a->lport_lo)
		return false;
	/* A trigger opens its range on every address of the gateway. */
	if (a->trigger || b->trigger)
		return true;
	if (strcmp(a->lif, b->lif) != 0)
		return false; /* "%wan:80" and ":80" (or "%lan:80") coexist */
	if (a->laddr.sa.sa_family && b->laddr.sa.sa_family)
		return pf_sa_addr_equal(&a->laddr, &b->laddr) ||
		       (pf_sa_is_any(&a->laddr) && pf_sa_is_any(&b->laddr));
	/* Not resolved yet: compare as written. */
	return !strcmp(a->lhost, b->lhost);
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
		vp[i] = (struct pf_vport){ t->fwd[i]->lport_lo, t->fwd[i]->lport_hi, i };
		if (t->fwd[i]->name[0])
			vn[nn++] = (struct pf_vname){ t->fwd[i]->name, i };
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

static struct pf_forward *pf_table_find_key(const struct pf_table *t, const struct pf_forward *f)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (pf_forward_same_key(t->fwd[i], f))
			return t->fwd[i];
	return NULL;
}

/* Which forwards a table holds: each is stamped with a number fresh for the
 * question, then a forward is in the table if it bears it. One pass, no sort
 * (sorted copies of 100,000 pointers cost 10 ms a change); the stamps are
 * only read and written by the control thread. */
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

/* Forward i against the rest: alone, then (cand) against every one before it. */
static int pf_validate_one(const struct pf_table *t, size_t i, bool cand, char *err,
			   size_t errlen)
{
	const struct pf_forward *a = t->fwd[i];
	size_t j;

	if (a->protos == PF_PROTO_ALL && pf_forward_engine(a) != PF_ENGINE_KERNEL) {
		snprintf(err, errlen,
			 "%s:%d: 'all' forwards every protocol and needs the kernel engine: "
			 "add 'engine kernel' or run portfwd -e kernel",
			 a->src, a->line);
		return -1;
	}
	for (j = cand ? 0 : i; j < i; j++) {
		const struct pf_forward *b = t->fwd[j];
		char l[PF_HOST_MAX + 16], why[128];

		if (a->name[0] && a->namehash == b->namehash && !strcmp(a->name, b->name)) {
			snprintf(err, errlen,
				 "%s:%d: name '%s' is already used by the forward at %s:%d; "
				 "expected a unique name",
				 a->src, a->line, a->name, b->src, b->line);
			return -1;
		}
		if (pf_forward_overlap(a, b) &&
		    ((a->trigger || b->trigger) ? (why[0] = '\0', true)
						 : pf_from_conflict(a, b, why, sizeof(why)))) {
			pf_listen_format(a, l, sizeof(l));
			snprintf(err, errlen,
				 "%s:%d: %s%s %s %soverlaps %s %s%s%s(%s:%d); expected "
				 "each protocol, address and port to be forwarded once for "
				 "each source%s",
				 a->src, a->line, a->trigger ? "trigger " : "",
				 pf_proto_name(a->protos & b->protos), l, why,
				 b->trigger ? "trigger" : "forward", b->name[0] ? "'" : "",
				 b->name, b->name[0] ? "' " : "", b->src, b->line,
				 (a->trigger || b->trigger) ? " (a trigger's range is opened on "
							      "every address of the gateway)"
							    : "");
			return -1;
		}
	}
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
 * were valid together), so only pairs with one of them are looked at, and
 * the table is not sorted (15 ms with 100,000 forwards, for one change). */
#define PF_VALIDATE_FEW 32

static int pf_validate_fresh(const struct pf_table *t, const size_t *fresh, size_t nfresh,
			     char *err, size_t errlen)
{
	bool *cand = pf_xcalloc(t->n ? t->n : 1, sizeof(*cand));
	size_t i, k;
	int rc = 0;

	for (k = 0; k < nfresh; k++) {
		const struct pf_forward *a = t->fwd[fresh[k]];

		cand[fresh[k]] = true;
		for (i = 0; i < t->n; i++) {
			const struct pf_forward *b = t->fwd[i];

			if (i != fresh[k] && (pf_forward_overlap(a, b) ||
					      (a->name[0] && a->namehash == b->namehash &&
					       !strcmp(a->name, b->name))))
				cand[i > fresh[k] ? i : fresh[k]] = true;
		}
	}
	for (i = 0; i < t->n && !rc; i++)
		if (cand[i])
			rc = pf_validate_one(t, i, true, err, errlen);
	free(cand);
	return rc;
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

static int pf_resolve_one(struct pf_forward *f, char *err, size_t errlen)
{
	char why[128];
	uint32_t j;

	if (f->laddr.sa.sa_family)
		return 0; /* kept from the running table */
	if (pf_resolve_host(f->lhost, true, &f->laddr, why, sizeof(why))) {
		snprintf(err, errlen, "%s:%d: cannot resolve listen host '%s': %s", f->src, f->line,
			 f->lhost, why);
		return -1;
	}
	for (j = 0; j < f->nbe; j++) {
		struct pf_backend *be = &f->be[j];

		if (pf_resolve_host(be->host, false, &be->addr, why, sizeof(why))) {
			snprintf(err, errlen, "%s:%d: cannot resolve backend host '%s': %s", f->src,
				 be->line, be->host, why);
			return -1;
		}
	}
	return 0;
}

int pf_table_resolve(struct pf_table *t, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (pf_resolve_one(t->fwd[i], err, errlen))
			return -1;
	return 0;
}


enum pf_inherited { PF_INH_NEW, PF_INH_CHANGED, PF_INH_SAME };

/* Forward i of next, not in cur: the running forward itself if it is the
 * same, else its counters if one has its key. At most one forward of a
 * valid table has a key, and equal forwards share it: one walk, not two. */
static enum pf_inherited pf_inherit_from(struct pf_table *next, size_t i, struct pf_forward *old)
{
	struct pf_forward *f = next->fwd[i];
	uint32_t j;

	if (old && pf_forward_equal(old, f)) {
		if (old != f) {
			next->fwd[i] = pf_forward_ref(old);
			pf_forward_unref(f);
		}
		return PF_INH_SAME;
	}
	if (!f->st)
		f->st = old ? pf_stats_ref(old->st) : pf_stats_new();
	/* The kernel engine's id goes with the key (its chains, its marks on
	 * conntrack entries: they can be traced to the forward that follows). */
	if (old && !f->kid)
		f->kid = old->kid;
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
	return old ? PF_INH_CHANGED : PF_INH_NEW;
}

static enum pf_inherited pf_inherit_one(const struct pf_table *cur, struct pf_table *next,
					size_t i)
{
	return pf_inherit_from(next, i, pf_table_find_key(cur, next->fwd[i]));
}

/* A hash of what pf_forward_same_key compares (but the sources). */
static uint32_t pf_key_hash(const struct pf_forward *f)
{
	uint32_t h = pf_name_hash(f->lhost) ^ (pf_name_hash(f->lif) * 31u);

	h = (h ^ f->lport_lo) * 16777619u;
	h = (h ^ f->lport_hi) * 16777619u;
	return (h ^ f->protos ^ ((uint32_t)f->trigger << 8)) * 16777619u;
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
				pf_inherit_one(cur, next, i);
		return;
	}
	/* Many new forwards (a reload makes every one new): the running ones
	 * by key. */
	pf_keyidx_build(&x, cur);
	for (i = 0; i < next->n; i++)
		if (next->fwd[i]->tstamp != kept)
			pf_inherit_from(next, i, pf_keyidx_find(&x, next->fwd[i]));
	free(x.slot);
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
	uint32_t in_cur = pf_table_stamp(cur);
	size_t fresh[PF_VALIDATE_FEW], n = 0, i, k, same = 0, changed = 0;

	ch->fresh = SIZE_MAX;
	ch->changed = 0;
	ch->checked = false;
	for (i = 0; i < next->n; i++) {
		if (next->fwd[i]->tstamp == in_cur)
			continue;
		if (n == PF_VALIDATE_FEW)
			goto whole;
		fresh[n++] = i;
	}
	/* A new default ACL reaches every forward that has none of its own. */
	if (!pf_cidrset_equal(&next->def_allow, &cur->def_allow) ||
	    !pf_cidrset_equal(&next->def_deny, &cur->def_deny))
		goto whole;
	for (k = 0; k < n; k++)
		pf_effective_one(next, fresh[k]);
	for (k = 0; k < n; k++) {
		enum pf_inherited h = pf_inherit_one(cur, next, fresh[k]);

		same += h == PF_INH_SAME;
		changed += h == PF_INH_CHANGED;
	}
	for (k = 0; k < n; k++) {
		if (pf_resolve_one(next->fwd[fresh[k]], err, errlen))
			return -1;
		ch->checked |= next->fwd[fresh[k]]->checked;
	}
	if (pf_validate_fresh(next, fresh, n, err, errlen))
		return -1;
	ch->fresh = n - same;
	ch->changed = changed;
	return 0;
whole:
	pf_table_effective(next, cur);
	pf_table_inherit(cur, next);
	if (pf_table_resolve(next, err, errlen) || pf_table_validate(next, err, errlen))
		return -1;
	return 0;
}
