// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The running table and every change to it. A change builds a whole new
 * table, resolves, validates and prepares it (listening sockets bound) before
 * anything is touched; only then is it committed as a diff. Any error leaves
 * the running table and its flows exactly as they were.
 */
#include "pfd.h"
#include "pfd_http.h"
#include "pfd_priv.h"
#include "pfd_upgrade.h"
#include "../common/pf_conf.h"
#include "../common/pf_digest.h"
#include "../common/pf_flowlog.h"
#include "../common/pf_interp.h"
#include "../common/pf_log.h"
#include "../common/pf_opt.h"
#include "../common/pf_sched.h"
#include "../common/pf_util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct pf_table pfd_tab;
static char pfd_conf[PATH_MAX];
static struct pfd_reloads pfd_reloads;
static bool pfd_frozen;

void pfd_table_set_config(const char *path)
{
	pf_strlcpy(pfd_conf, path, sizeof(pfd_conf));
}

static int pfd_prepare(struct pf_table *next, struct pf_change *ch, char *err, size_t errlen)
{
	return pf_table_prepare_change(next, &pfd_tab, ch, err, errlen);
}

struct pfd_count {
	unsigned add, del, mod, keep;
};

static void pfd_count_cb(enum pf_diff_op op, struct pf_forward *o, struct pf_forward *n, void *arg)
{
	struct pfd_count *c = arg;

	(void)o;
	(void)n;
	if (op == PF_DIFF_ADD)
		c->add++;
	else if (op == PF_DIFF_DEL)
		c->del++;
	else if (op == PF_DIFF_MODIFY)
		c->mod++;
	else
		c->keep++;
}

/* The 'user' line is read at the start only: a table that names another
 * user keeps the line (save writes it) and says when it takes effect. */
static void pfd_user_check(void)
{
	const char *running = pfd_priv_user();
	const char *want = pfd_tab.user.user;

	if (!want[0] || (running && !strcmp(running, want)))
		return;
	pf_warn("table: 'user %s' takes effect when portfwd starts again; it runs as %s now",
		want, running ? running : "the user that started it");
}

/* Takes next over (it is cleared whatever happens). t0: when the change
 * began (pf_now_us), for the log line and the request's answer. */
static uint64_t pfd_change_us;

/* Tables installed so far: the digest below is made again only after a
 * change (it formats every forward). */
static uint64_t pfd_tab_gen;

const char *pfd_table_digest(void)
{
	static char digest[20];
	static uint64_t gen = UINT64_MAX;

	if (gen != pfd_tab_gen) {
		snprintf(digest, sizeof(digest), "%016llx",
			 (unsigned long long)pf_table_digest(&pfd_tab));
		gen = pfd_tab_gen;
	}
	return digest;
}

static int pfd_install(struct pf_table *next, uint64_t t0, char *err, size_t errlen)
{
	struct pfd_count c = { 0 };
	struct pf_change ch;

	if (pfd_frozen) {
		snprintf(err, errlen, "portfwd is stopping (its flows are draining): no change "
				      "is taken; expected a started portfwd");
		pf_table_clear(next);
		return -1;
	}
	/* The status server's socket is bound before any engine commits, and
	 * given up if one refuses: a change is all or nothing. */
	if (pfd_prepare(next, &ch, err, errlen) ||
	    pfd_http_prepare(&pfd_tab.status, &next->status, err, errlen)) {
		pf_table_clear(next);
		return -1;
	}
	if (pfd_engines_change(next, err, errlen)) {
		pfd_http_abort();
		pf_table_clear(next);
		return -1;
	}
	pfd_http_commit();
	if (ch.fresh == SIZE_MAX) {
		pf_table_diff(&pfd_tab, next, pfd_count_cb, &c);
	} else {
		/* A small change: counted from what validation found (the diff
		 * would walk both tables four times). */
		c.mod = (unsigned)ch.changed;
		c.add = (unsigned)(ch.fresh - ch.changed);
		c.keep = (unsigned)(next->n - ch.fresh);
		c.del = (unsigned)(pfd_tab.n - c.keep - ch.changed);
	}
	/* The health checker follows: the whole table, or (a draft) what
	 * came and went. */
	if (ch.fresh == SIZE_MAX)
		pfd_health_set(next);
	else
		pfd_health_change(next);
	pfd_resolve_follow(next, &pfd_tab);
	pf_table_install(&pfd_tab, next);
	pfd_tab_gen++;
	pf_flowlog_set_format(pfd_tab.log_format);
	pfd_change_us = pf_now_us() - t0;
	pfd_user_check();
	pf_info("table: %zu forwards (%u added, %u removed, %u changed, %u unchanged) in %.3f ms",
		pfd_tab.n, c.add, c.del, c.mod, c.keep, (double)pfd_change_us / 1000.0);
	return 0;
}

static int pfd_reload(char *err, size_t errlen)
{
	uint64_t t0 = pf_now_us();
	struct pf_table next;

	pf_table_init(&next);
	if (pf_conf_load(pfd_conf, &next, err, errlen)) {
		pf_table_clear(&next);
		return -1;
	}
	return pfd_install(&next, t0, err, errlen);
}

int pfd_table_readdress(struct pf_forward *f, uint32_t be, const union pf_sa *addrs, size_t n,
			char *err, size_t errlen)
{
	uint64_t t0 = pf_now_us();
	struct pf_table next;
	struct pf_forward *c;
	size_t i = pf_table_pos(&pfd_tab, f);

	if (i == SIZE_MAX) {
		snprintf(err, errlen, "the forward is no longer in the table");
		return -1;
	}
	pf_table_init(&next);
	pf_table_draft(&next, &pfd_tab);
	/* The copy keeps the listen address: it is resolved already, and
	 * only this line's addresses are new. */
	c = pf_forward_clone(f);
	pf_backend_set_addrs(c, be, addrs, n);
	pf_table_replace_at(&next, i, c);
	return pfd_install(&next, t0, err, errlen);
}

int pfd_table_conf_user(struct pf_user_conf *uc, char *err, size_t errlen)
{
	struct pf_table next;
	int rc;

	pf_table_init(&next);
	rc = pf_conf_load(pfd_conf, &next, err, errlen);
	if (!rc)
		*uc = next.user;
	pf_table_clear(&next);
	return rc;
}

int pfd_table_reload(char *err, size_t errlen)
{
	int rc = pfd_reload(err, errlen);

	pfd_reloads.count++;
	if (rc)
		pfd_reloads.failed++;
	pfd_reloads.last_ok = !rc;
	pfd_reloads.last_ms = pf_wall_ms();
	return rc;
}

const struct pfd_reloads *pfd_table_reloads(void)
{
	return &pfd_reloads;
}

const struct pf_table *pfd_table_running(void)
{
	return &pfd_tab;
}

int pfd_table_check(char *err, size_t errlen)
{
	struct pf_table next;
	int rc;

	pf_table_init(&next);
	rc = pf_conf_load(pfd_conf, &next, err, errlen);
	if (!rc) {
		struct pf_change ch;

		rc = pfd_prepare(&next, &ch, err, errlen);
	}
	pf_table_clear(&next);
	return rc;
}

size_t pfd_table_count(void)
{
	return pfd_tab.n;
}

void pfd_table_refresh(void)
{
	/* After an upgrade the kernel's pools are the new process' to follow:
	 * this one's health checks would write their states over its. */
	if (pfd_upgrade_handed())
		return;
	pfd_engines_refresh(&pfd_tab);
}

void pfd_table_freeze(void)
{
	pfd_frozen = true;
	/* No change is taken any more: a name that moves would only make
	 * refused changes. */
	pfd_resolve_stop();
}

uint64_t pfd_table_drain_ms(void)
{
	return pf_table_drain_ms(&pfd_tab);
}

void pfd_table_free(void)
{
	pf_table_clear(&pfd_tab);
}

/* ---- requests ---- */

/* totals: the engine counts connections and bytes (pfd_counts_totals);
 * else they are left out, for 'not counted' is not 0. */
static json_t *pfd_stats_json(json_t *o, const struct pf_stats *st, bool totals)
{
	if (totals)
		json_object_set_new(o, "conns", json_integer((json_int_t)atomic_load(&st->conns)));
	json_object_set_new(o, "active", json_integer((json_int_t)atomic_load(&st->active)));
	json_object_set_new(o, "failed", json_integer((json_int_t)atomic_load(&st->failed)));
	json_object_set_new(o, "refused", json_integer((json_int_t)atomic_load(&st->refused)));
	json_object_set_new(o, "denied", json_integer((json_int_t)atomic_load(&st->denied)));
	if (!totals)
		return o;
	json_object_set_new(o, "bytes_up", json_integer((json_int_t)atomic_load(&st->bytes_up)));
	json_object_set_new(o, "bytes_down",
			    json_integer((json_int_t)atomic_load(&st->bytes_down)));
	return o;
}

static void pfd_sets_json(json_t *o, const struct pf_forward *f)
{
	const struct pf_cidrset *sets[] = { &f->conf.from, &f->eff_allow, &f->eff_deny,
					    &f->conf.accept_proxy };
	static const char *const names[] = { "from", "allow", "deny", "accept_proxy" };
	size_t i;
	uint32_t k;

	for (i = 0; i < PF_ARRAY_SIZE(sets); i++) {
		json_t *a = json_array();

		for (k = 0; k < sets[i]->n; k++) {
			char n[PF_ADDRSTR_MAX + 8];

			pf_sa_format(&sets[i]->v[k].addr, false, n, sizeof(n));
			snprintf(n + strlen(n), sizeof(n) - strlen(n), "/%u", sets[i]->v[k].plen);
			json_array_append_new(a, json_string(n));
		}
		json_object_set_new(o, names[i], a);
	}
}

/* The options of the table (pf_opt.c) in their groups: "options", and
 * "check" while checks are on. */
static void pfd_opts_json(json_t *o, const struct pf_fwd_conf *c)
{
	json_t *grp[3] = { NULL, json_object(), c->check.on ? json_object() : NULL };
	size_t i;

	for (i = 0; i < pf_nopts; i++) {
		const struct pf_opt *opt = &pf_opts[i];
		json_t *g = grp[opt->group], *v;

		if (!g || !opt->json)
			continue;
		if (opt->kind == PF_OPT_STR) {
			v = pfd_json_string(pf_opt_str(c, opt));
		} else if (opt->kind == PF_OPT_MASQ) {
			const struct pf_masq *m = pf_opt_masq(c, opt);
			char a[PF_ADDRSTR_MAX];

			/* false, true (the outgoing interface's address), or the address */
			if (m->on && m->addr.sa.sa_family) {
				pf_sa_format(&m->addr, false, a, sizeof(a));
				v = json_string(a);
			} else {
				v = json_boolean(m->on);
			}
		} else if (opt->kind == PF_OPT_FLAG) {
			v = json_boolean(pf_opt_get(c, opt));
		} else if (opt->kind == PF_OPT_RATE) {
			char r[32];

			/* "10/s" as written, null when there is none */
			pf_rate_format(pf_opt_get(c, opt), r, sizeof(r));
			v = *r ? json_string(r) : json_null();
		} else {
			v = json_integer((json_int_t)pf_opt_get(c, opt));
		}
		json_object_set_new(g, opt->json, v);
	}
	if (grp[PF_OPT_G_CHECK])
		json_object_set_new(o, "check", grp[PF_OPT_G_CHECK]);
	json_object_set_new(o, "options", grp[PF_OPT_G_OPTIONS]);
}

static void pfd_trigger_json(json_t *o, const struct pf_forward *f)
{
	const struct pf_engine_ops *e = pfd_engine_of(f);
	struct pf_trigger_state ts;
	char a[PF_ADDRSTR_MAX];

	if (!e->trigger_state || !e->trigger_state(f, &ts))
		return;
	pf_sa_format(&ts.holder, false, a, sizeof(a));
	json_object_set_new(o, "holder", json_string(a));
	json_object_set_new(o, "left_ms", json_integer((json_int_t)ts.left_ms));
}

/* An address of a flow as listed: with its port where the protocol has
 * ports; nothing when the engine does not know it. */
static void pfd_flow_addr(json_t *o, const char *key, const union pf_sa *sa, uint8_t l4)
{
	char buf[PF_ADDRSTR_MAX];

	if (!sa->sa.sa_family)
		return;
	pf_sa_format(sa, pf_l4_has_ports(l4), buf, sizeof(buf));
	json_object_set_new(o, key, json_string(buf));
}

/* One flow of any engine into the 'conns' array (a pf_flow_cb). */
static void pfd_flow_json(const struct pf_flow *fl, void *arg)
{
	json_t *o = json_object();

	json_object_set_new(o, "proto", json_string(pf_l4_name(fl->l4)));
	json_object_set_new(o, "engine", json_string(fl->engine == PF_ENGINE_KERNEL ? "kernel"
										      : "user"));
	json_object_set_new(o, "forward", json_string(fl->forward ? fl->forward : ""));
	pfd_flow_addr(o, "client", &fl->client, fl->l4);
	pfd_flow_addr(o, "listen", &fl->listen, fl->l4);
	pfd_flow_addr(o, "backend", &fl->backend, fl->l4);
	if (fl->known & PF_FLOW_PACKETS) {
		json_object_set_new(o, "packets_up", json_integer((json_int_t)fl->packets_up));
		json_object_set_new(o, "packets_down", json_integer((json_int_t)fl->packets_down));
	}
	if (fl->known & PF_FLOW_BYTES) {
		json_object_set_new(o, "bytes_up", json_integer((json_int_t)fl->bytes_up));
		json_object_set_new(o, "bytes_down", json_integer((json_int_t)fl->bytes_down));
	}
	if (fl->known & PF_FLOW_AGE) {
		json_object_set_new(o, "age_ms", json_integer((json_int_t)fl->age_ms));
		json_object_set_new(o, "idle_ms", json_integer((json_int_t)fl->idle_ms));
	}
	if (fl->known & PF_FLOW_EXPIRES)
		json_object_set_new(o, "expires_ms", json_integer((json_int_t)fl->expires_ms));
	json_object_set_new(o, "state", json_string(fl->state ? fl->state : ""));
	if (fl->worker >= 0)
		json_object_set_new(o, "worker", json_integer(fl->worker));
	if (fl->detail)
		json_object_set_new(o, "conntrack", json_string(fl->detail));
	json_array_append_new(arg, o);
}

static json_t *pfd_forward_json(const struct pf_forward *f)
{
	json_t *o = json_object(), *bes = json_array();
	char buf[PF_HOST_MAX + 32];
	uint32_t i;

	json_object_set_new(o, "name", json_string(f->conf.name));
	/* What another gateway compares (portfw ha-check): the id in the
	 * kernel engine's conntrack marks, and the forward as saved. */
	json_object_set_new(o, "id", json_integer(f->id));
	snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)pf_forward_digest(f));
	json_object_set_new(o, "digest", json_string(buf));
	json_object_set_new(o, "proto",
			    json_string(pf_proto_name(f->conf.protos)));
	pf_listen_format(f, buf, sizeof(buf));
	json_object_set_new(o, "listen", json_string(buf));
	pf_sa_format(&f->laddr, false, buf, sizeof(buf));
	json_object_set_new(o, "listen_addr",
			    json_string(f->conf.lhost[0] ? buf : ""));
	json_object_set_new(o, "interface", json_string(f->conf.lif));
	if (f->conf.trigger) {
		json_t *tr = json_object();

		json_object_set_new(tr, "proto",
				    json_string(pf_proto_name(f->conf.trig_proto)));
		json_object_set_new(tr, "port",
				    json_integer(f->conf.trig_port));
		json_object_set_new(tr, "timeout_ms",
				    json_integer((json_int_t)f->conf.trig_ms));
		pfd_trigger_json(tr, f); /* holder, left_ms: while the range is open */
		json_object_set_new(o, "trigger", tr);
	}
	json_object_set_new(o, "port_lo", json_integer(f->conf.lport_lo));
	json_object_set_new(o, "port_hi", json_integer(f->conf.lport_hi));
	json_object_set_new(o, "engine", json_string(pf_forward_engine(f) == PF_ENGINE_KERNEL
							     ? "kernel"
							     : "user"));
	json_object_set_new(o, "scheduler",
			    json_string(pf_balance_name(f->conf.balance)));
	pfd_sets_json(o, f);
	/* "FILE:LINE", or what gave it as arguments ("portfw add"). */
	if (f->conf.line > 0)
		snprintf(buf, sizeof(buf), "%s:%d", f->conf.src, f->conf.line);
	else
		pf_strlcpy(buf, f->conf.src, sizeof(buf));
	json_object_set_new(o, "source", pfd_json_string(buf));
	pfd_opts_json(o, &f->conf);
	pfd_stats_json(o, f->st, pfd_counts_totals(f));
	json_object_set_new(o, "proxy_errors",
			    json_integer((json_int_t)atomic_load(&f->st->proxy_errors)));
	for (i = 0; i < f->nbe; i++) {
		const struct pf_backend *be = &f->be[i];
		json_t *b = json_object();

		pf_backend_format(be, buf, sizeof(buf));
		json_object_set_new(b, "backend", json_string(buf));
		json_object_set_new(b, "host", json_string(be->conf.host));
		pf_sa_format(&be->addr, false, buf, sizeof(buf));
		json_object_set_new(b, "addr", json_string(buf));
		json_object_set_new(b, "port_lo",
				    json_integer(be->conf.port_lo));
		json_object_set_new(b, "port_hi",
				    json_integer(be->conf.port_hi));
		json_object_set_new(b, "weight",
				    json_integer(be->conf.weight));
		json_object_set_new(b, "effective_weight", json_integer(pf_sched_eff_weight(be)));
		json_object_set_new(b, "state", json_string(pf_backend_state(f, be)));
		json_object_set_new(b, "admin",
				    json_string(pf_admin_name(be->conf.admin)));
		json_object_set_new(b, "backup",
				    json_boolean(be->conf.backup));
		json_object_set_new(b, "health", json_string(atomic_load(&be->st->health) == PF_HEALTH_DOWN
								   ? "down"
								   : "up"));
		json_object_set_new(b, "agent_pct", json_integer(atomic_load(&be->st->agent_pct)));
		json_object_set_new(b, "checks_failed",
				    json_integer((json_int_t)atomic_load(&be->st->checks_failed)));
		if (f->conf.balance == PF_BAL_PREF) {
			uint32_t pos, pcnt;

			pf_sched_pref_info((struct pf_forward *)f, i, &pos, &pcnt);
			json_object_set_new(b, "pref",
					    json_integer(be->conf.weight));
			json_object_set_new(b, "pcnt", json_integer(pcnt));
			json_object_set_new(b, "position", json_integer(pos));
		}
		pfd_stats_json(b, be->st, pfd_counts_totals(f));
		json_array_append_new(bes, b);
	}
	json_object_set_new(o, "backends", bes);
	return o;
}

/* The daemon's flow log: its settings and what it wrote and dropped. */
static json_t *pfd_flowlog_json(void)
{
	return json_pack("{s:s, s:b, s:I, s:I}", "format",
			 pf_flowlog_format_name(pfd_tab.log_format), "default", pfd_tab.def_log,
			 "written", (json_int_t)pf_flowlog_written(), "dropped",
			 (json_int_t)pf_flowlog_dropped());
}

static json_t *pfd_query(enum pf_stmt_kind kind)
{
	json_t *r = json_pack("{s:b}", "ok", 1), *arr;
	char err[1024];
	size_t i;

	switch (kind) {
	case PF_ST_LIST:
		pfd_engines_sample();
		arr = json_array();
		for (i = 0; i < pfd_tab.n; i++)
			json_array_append_new(arr, pfd_forward_json(pfd_tab.fwd[i]));
		json_object_set_new(r, "forwards", arr);
		json_object_set_new(r, "flowlog", pfd_flowlog_json());
		break;
	case PF_ST_CONNS:
		arr = json_array();
		pfd_engines_flows(&pfd_tab, pfd_flow_json, arr);
		json_object_set_new(r, "conns", arr);
		break;
	case PF_ST_SAVE: {
		char *text = pf_table_format(&pfd_tab);

		if (!text) {
			json_decref(r);
			return pfd_json_error("save: out of memory");
		}
		json_object_set_new(r, "config", json_string(text));
		free(text);
		break;
	}
	case PF_ST_RELOAD:
		if (pfd_table_reload(err, sizeof(err))) {
			pf_err("reload refused: %s", err);
			json_decref(r);
			return pfd_json_error(err);
		}
		json_object_set_new(r, "forwards", json_integer((json_int_t)pfd_tab.n));
		break;
	default:
		break;
	}
	return r;
}

/* The statements were applied to next by the interpreter: install it, then
 * what acts on the installed table (kill, schedule). */
static json_t *pfd_change(struct pf_interp *ip, uint64_t t0)
{
	const struct pf_interp_after *r = ip->after;
	char err[1024];
	unsigned killed = 0;
	size_t i;

	/* A request that only kills or rotates changed no table: nothing to install. */
	pfd_change_us = 0;
	if (ip->based && pfd_install(ip->next, t0, err, sizeof(err)))
		return pfd_json_error(err);
	for (i = 0; i < ip->nafter; i++) {
		if (r[i].kind == PF_ST_KILL)
			killed += pfd_engines_kill(&r[i].sel, &pfd_tab);
		if (r[i].kind == PF_ST_SCHEDULE) {
			struct pf_forward *f = pf_table_find_name(&pfd_tab, r[i].sel.name);

			if (f && !pf_sched_rotate(f)) {
				pf_info("forward '%s': rotation forced",
					f->conf.name);
				/* A kernel pool's DNAT follows the new order now. */
				if (pfd_engine_of(f)->refresh)
					pfd_engine_of(f)->refresh(&pfd_tab);
			}
		}
	}
	/* change_us: the daemon's own time for the change, from the request's
	 * text to the table installed in every engine (0: none to install). */
	return json_pack("{s:b, s:I, s:I, s:I}", "ok", 1, "forwards", (json_int_t)pfd_tab.n,
			 "killed", (json_int_t)killed, "change_us", (json_int_t)pfd_change_us);
}

json_t *pfd_table_request(const char *text, size_t len, bool read_only, uid_t peer)
{
	uint64_t t0 = pf_now_us();
	struct pf_table next;
	struct pf_interp ip;
	char err[1024];
	json_t *res;

	pf_table_init(&next);
	pf_interp_init(&ip, PF_IN_REQUEST, &next, &pfd_tab);
	ip.read_only = read_only;
	if (pf_interp_text(&ip, "request", text, len, err, sizeof(err))) {
		if (ip.refused != PF_ST_NONE)
			pfd_priv_refusal(err, sizeof(err), ip.refused, peer);
		res = pfd_json_error(err);
	} else if (read_only && !pf_stmt_reads(ip.query))
		/* Nothing to refuse statement by statement: an empty request. */
		res = pfd_json_error("permission denied: members of the socket's group may only read");
	else if (ip.query)
		res = pfd_query(ip.query);
	else
		res = pfd_change(&ip, t0);
	pf_interp_free(&ip);
	pf_table_clear(&next);
	return res;
}
