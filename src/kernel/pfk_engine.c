// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel engine's side of a change. The 'inet portfw' table is made from
 * our own model in three parts: the core (the dispatch and base chains,
 * sets, the maps' declarations, 'from' pools' and triggers' chains), loaded
 * through libnftables as a diff from what is loaded; the chains of forwards
 * that own their keys (pfk_own.c), of which only those that change go, in
 * the same transaction; the simple forwards' map elements (pfk_simple.c), of
 * which only those that change go, through nfnetlink (pfk_nl.c). A change
 * of a draft that only brings and takes simple forwards and forwards with
 * chains of their own renders no core and walks no table. pfk_load orders
 * the two transactions and undoes the first if the second is refused, so a
 * refused change leaves the previous ruleset as it was, byte for byte. A
 * forward's id (chain names, ct marks) is kept by the version that replaces
 * it, so conntrack entries can be traced back to it and deleted when it
 * changes.
 */
#include "pfk_int.h"
#include "pfk_diff.h"
#include "../common/pf_log.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct nft_ctx *pfk_nft;
static struct pfk_config pfk_cfg;
static char *pfk_pending, *pfk_loaded;
/* The first load's simple elements as nft commands (NULL: none, or not the
 * first load), and whether the last whole load carried them. */
static char *pfk_pending_elems;
static bool pfk_elems_in;
/* The loaded table holds the sysctls' note (pfk_sysctl_note): a whole load
 * replaced it. */
static bool pfk_noted;
/* The table found at start was left by a previous portfwd: its flows are
 * taken over at the first commit (pfk_ct_adopt). */
static bool pfk_adopt;
/* The loaded table is the stopped one (pfk_render_stopped): a soft stop
 * began, nothing new is forwarded. */
static bool pfk_stopped;
/* Another portfwd took the table over (portfw upgrade): ours to leave as
 * it is, flows, sysctls and all. */
static bool pfk_detached;
/* A soft stop's drain began (it stops new connections once). */
static bool pfk_draining;
/* The pending change leaves the core as loaded: only elements change. */
static bool pfk_core_same;
/* The outside interfaces the loaded core was rendered for, and the last
 * render's ("a,b"). */
static char *pfk_wan_loaded, *pfk_wan_next;
/* The kernel forwards loaded and pending. They are the daemon's table's,
 * which holds them for as long as they are here (the table being changed
 * lives until commit or abort, the running one until the next commit): no
 * reference of our own, which was two walks with atomics per change. */
static struct pf_forward **pfk_prev, **pfk_next;
static size_t pfk_nprev, pfk_nnext, pfk_prev_cap;
/* Found by prepare for commit: forwards that went, that are new, whose
 * form (what they are loaded as) changes. */
static struct pf_forward **pfk_gone, **pfk_added, **pfk_touched;
static size_t pfk_ngone, pfk_nadded, pfk_ntouched;
/* The forwards the last change took away, held (a reference each) until
 * the next one: 'del -k' and 'flush -k' kill after the change is in, when
 * their forwards are no longer loaded. */
static struct pf_fwdvec pfk_went;
static uint32_t pfk_gen;
static size_t pfk_ntrig_next, pfk_ntrig; /* triggers in the pending and loaded tables */
/* The simple forwards' elements that change with the pending table. */
static struct pfk_ops pfk_ops;
/* Some loaded forward has 'allow-loopback' (route_localnet follows them). */
static bool pfk_ln_any;

/* The outside interfaces of a render that is loaded now, said once. */
static void pfk_wan_log(const char *next)
{
	if (!next || (pfk_wan_loaded && !strcmp(next, pfk_wan_loaded)))
		return;
	pf_info("kernel engine: outside interfaces%s: %s", pfk_cfg.wan ? " (-W)" : "",
		*next ? next : "none (no default route)");
}

/* route_localnet for the loaded forwards: a walk only while some may need
 * it or one that may came. */
static void pfk_localnet_follow(struct pf_forward *const *added, size_t nadded)
{
	size_t i;
	bool any = pfk_ln_any;

	for (i = 0; i < nadded && !any; i++)
		any = pfk_localnet_needs(added[i]);
	if (any)
		pfk_ln_any = pfk_localnet_sync(pfk_prev, pfk_nprev);
}
void pfk_configure(const struct pfk_config *cfg)
{
	pfk_cfg = *cfg;
}

int pfk_events_parse(const char *word, enum pfk_events *ev)
{
	static const char *const names[] = { [PFK_EVENTS_OWN] = "own", [PFK_EVENTS_ALL] = "all",
					     [PFK_EVENTS_NONE] = "none" };
	size_t i;

	for (i = 0; i < PF_ARRAY_SIZE(names); i++)
		if (!strcmp(word, names[i])) {
			*ev = (enum pfk_events)i;
			return 0;
		}
	return -1;
}

bool pfk_events_all(void)
{
	return pfk_cfg.events == PFK_EVENTS_ALL;
}

bool pfk_events_none(void)
{
	return pfk_cfg.events == PFK_EVENTS_NONE;
}

bool pfk_ha(void)
{
	return pfk_cfg.ha;
}

/* Also on first use: a table with kernel forwards under portfwd -e user. */
static int pfk_start(char *err, size_t errlen)
{
	const char *prev;

	if (pfk_nft)
		return 0;
	pfk_nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!pfk_nft) {
		snprintf(err, errlen, "kernel engine: cannot create a libnftables context");
		return -1;
	}
	nft_ctx_buffer_output(pfk_nft);
	nft_ctx_buffer_error(pfk_nft);
	/* A table left by a stop says what its portfwd had set, and from what
	 * (put back when a stop finally removes the table). */
	prev = pfk_nft_query("list set inet portfw put_back\n");
	pfk_adopt = prev != NULL;
	if (prev)
		pfk_sysctl_adopt(prev);
	/* Forwarding between interfaces is what a gateway does (put back at stop). */
	pfk_sysctl_set("/proc/sys/net/ipv4/ip_forward", "1", NULL);
	pfk_sysctl_set("/proc/sys/net/ipv6/conf/all/forwarding", "1", NULL);
	/* With pickup, the segments of a taken-over flow that come before
	 * conntrackd commits its entry make an entry of their own (without
	 * the NAT) that resets the flow and blocks the committed one. */
	if (pfk_ha())
		pfk_sysctl_set("/proc/sys/net/netfilter/nf_conntrack_tcp_loose", "0",
			       "an HA pair: taken-over flows come from conntrackd");
	if (pfk_sys_start() < 0) {
		snprintf(err, errlen, "kernel engine: cannot make its event set: %s",
			 strerror(errno));
		return -1;
	}
	/* Without events the forwards carry on, only their counters stay 0.
	 * With none wanted, conntrack builds no event for us (without a
	 * listener it builds none at all) and the active flows are counted
	 * when asked (pfk_sample). */
	if (!pfk_events_none())
		pfk_stats_start();
	pfk_acl_start();
	return 0;
}

/* Interfaces of the default routes: where the outside is, unless told. */
static size_t pfk_wan(char **out, size_t max)
{
	char line[512], ifn[64];
	size_t n = 0;
	FILE *fp;

	if (pfk_cfg.wan) {
		char *copy = strdup(pfk_cfg.wan), *save = NULL, *w;

		for (w = strtok_r(copy, ",", &save); w && n < max; w = strtok_r(NULL, ",", &save))
			out[n++] = strdup(w);
		free(copy);
		return n;
	}
	fp = fopen("/proc/net/route", "r");
	while (fp && fgets(line, sizeof(line), fp) && n < max) {
		unsigned long dst, mask;

		if (sscanf(line, "%63s %lx %*x %*x %*d %*d %*d %lx", ifn, &dst, &mask) == 3 && !dst &&
		    !mask)
			out[n++] = strdup(ifn);
	}
	if (fp)
		fclose(fp);
	fp = fopen("/proc/net/ipv6_route", "r");
	while (fp && fgets(line, sizeof(line), fp) && n < max) {
		char dst[40];
		unsigned plen;
		size_t k;
		bool dup = false;

		if (sscanf(line, "%39s %x %*s %*s %*s %*s %*s %*s %*s %63s", dst, &plen, ifn) != 3 ||
		    plen || strspn(dst, "0") != 32 || !strcmp(ifn, "lo"))
			continue;
		for (k = 0; k < n; k++)
			dup |= !strcmp(out[k], ifn);
		if (!dup)
			out[n++] = strdup(ifn);
	}
	if (fp)
		fclose(fp);
	return n;
}

/* core: without the simple elements; fresh: health may have changed; w:
 * the table's walk, done already (or NULL). */
/* The outside interfaces now, as one string ("a,b"). */
static char *pfk_wan_now(char **wan, size_t n)
{
	struct pf_buf b = { 0 };
	size_t i;

	for (i = 0; i < n; i++)
		pf_buf_printf(&b, "%s%s", i ? "," : "", wan[i]);
	return pf_buf_detach(&b, NULL);
}

static char *pfk_render_now(const struct pf_table *t, bool core, bool fresh, struct pfk_walk *w)
{
	char *wan[32], *text;
	size_t n = pfk_wan(wan, PF_ARRAY_SIZE(wan)), i;

	text = core ? pfk_render_core(t, (const char *const *)wan, n, fresh, w)
		    : pfk_render_table(t, (const char *const *)wan, n);
	if (core) {
		free(pfk_wan_next);
		pfk_wan_next = pfk_wan_now(wan, n);
	}
	for (i = 0; i < n; i++)
		free(wan[i]);
	return text;
}

/* Whether the outside interfaces are those the loaded core was made for. */
static bool pfk_wan_same(void)
{
	char *wan[32], *now;
	size_t n = pfk_wan(wan, PF_ARRAY_SIZE(wan)), i;
	bool same;

	now = pfk_wan_now(wan, n);
	same = now && pfk_wan_loaded && !strcmp(now, pfk_wan_loaded);
	for (i = 0; i < n; i++)
		free(wan[i]);
	free(now);
	return same;
}

char *pfk_render(const struct pf_table *t, char *err, size_t errlen)
{
	char *s = pfk_render_now(t, false, true, NULL);

	if (!s)
		snprintf(err, errlen, "kernel engine: out of memory");
	return s;
}

static bool pfk_loopback(const union pf_sa *sa)
{
	if (sa->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&sa->sin6.sin6_addr);
	return (ntohl(sa->sin.sin_addr.s_addr) >> 24) == 127;
}

/* What nftables cannot carry, said in the forward's terms. */
static int pfk_check(const struct pf_forward *f, char *err, size_t errlen)
{
	uint32_t i;

	if (f->logged && pfk_events_none()) {
		char where[PF_WHERE_MAX];

		snprintf(err, errlen,
			 "%s: the kernel engine logs a flow from conntrack's events, and portfwd "
			 "runs with --conntrack-events none; expected no 'log' (nor 'default log'), "
			 "or portfwd with -E own",
			 pf_forward_where(f, f->conf.line, where, sizeof(where)));
		return -1;
	}
	for (i = 0; i < f->nbe; i++) {
		const struct pf_backend *be = &f->be[i];
		char a[PF_ADDRSTR_MAX], where[PF_WHERE_MAX];

		if (pfk_loopback(&be->addr) && !f->conf.allow_loopback) {
			pf_sa_format(&be->addr, false, a, sizeof(a));
			snprintf(err, errlen,
				 "%s: DNAT to the loopback address %s is refused (it exposes "
				 "local services, CVE-2020-8558); expected another backend, or "
				 "'allow-loopback'",
				 pf_forward_where(f, be->conf.line, where, sizeof(where)), a);
			return -1;
		}
		if (f->conf.lhost[0] && be->addr.sa.sa_family != f->laddr.sa.sa_family) {
			pf_sa_format(&be->addr, false, a, sizeof(a));
			snprintf(err, errlen,
				 "%s: backend %s is not of the listen address's family; the "
				 "kernel engine does not translate between IPv4 and IPv6",
				 pf_forward_where(f, be->conf.line, where, sizeof(where)), a);
			return -1;
		}
		if (i && f->nbe > 1 &&
		    (be->conf.port_lo != f->be[0].conf.port_lo || be->conf.port_hi != f->be[0].conf.port_hi) &&
		    (be->conf.port_lo != be->conf.port_hi || f->be[0].conf.port_lo != f->be[0].conf.port_hi)) {
			snprintf(err, errlen,
				 "%s: in the kernel engine the backends of a port range share "
				 "one port mapping; expected the same ports on every backend",
				 pf_forward_where(f, be->conf.line, where, sizeof(where)));
			return -1;
		}
	}
	return 0;
}


/* A change of the draft's lists was loaded: the loaded list loses what
 * went (the last one takes its place) and gains what came. */
static void pfk_prev_edit(void)
{
	size_t i;

	for (i = 0; i < pfk_ngone; i++) {
		uint32_t at = pfk_fs(pfk_gone[i])->prev_at;

		if (at >= pfk_nprev || pfk_prev[at] != pfk_gone[i])
			continue; /* not ours to drop (cannot be) */
		pfk_prev[at] = pfk_prev[--pfk_nprev];
		pfk_fs(pfk_prev[at])->prev_at = at;
	}
	if (pfk_nprev + pfk_nadded > pfk_prev_cap) {
		size_t cap = 2 * (pfk_nprev + pfk_nadded) + 16;
		struct pf_forward **v = realloc(pfk_prev, cap * sizeof(*v));

		if (!v)
			abort(); /* as pf_xcalloc */
		pfk_prev = v;
		pfk_prev_cap = cap;
	}
	for (i = 0; i < pfk_nadded; i++) {
		pfk_fs(pfk_added[i])->prev_at = (uint32_t)pfk_nprev;
		pfk_prev[pfk_nprev++] = pfk_added[i];
	}
}

static void pfk_release(struct pf_forward ***v, size_t *n)
{
	free(*v);
	*v = NULL;
	*n = 0;
}

static void pfk_abort(void)
{
	free(pfk_pending);
	pfk_pending = NULL;
	free(pfk_pending_elems);
	pfk_pending_elems = NULL;
	pfk_core_same = false;
	pfk_own_abort();
	pfk_ops_free(&pfk_ops);
	pfk_release(&pfk_next, &pfk_nnext);
	pfk_release(&pfk_gone, &pfk_ngone);
	pfk_release(&pfk_added, &pfk_nadded);
	pfk_release(&pfk_touched, &pfk_ntouched);
}

/* Runs a script; with dry_run the kernel checks it but nothing changes. */
static int pfk_run(const char *text, bool dry_run, char *err, size_t errlen)
{
	const char *e;
	int rc;

	nft_ctx_set_dry_run(pfk_nft, dry_run);
	rc = nft_run_cmd_from_buffer(pfk_nft, text);
	nft_ctx_set_dry_run(pfk_nft, false);
	if (!rc)
		return 0;
	e = nft_ctx_get_error_buffer(pfk_nft);
	snprintf(err, errlen, "kernel engine: nftables refused the change: %.*s",
		 (int)strcspn(e ? e : "", "\n"), e ? e : "unknown error");
	return -1;
}

int pfk_nft_run(const char *text, char *err, size_t errlen)
{
	if (!pfk_nft) {
		snprintf(err, errlen, "kernel engine: not started");
		return -1;
	}
	return pfk_run(text, false, err, errlen);
}

const char *pfk_nft_query(const char *cmd)
{
	if (!pfk_nft || nft_run_cmd_from_buffer(pfk_nft, cmd)) {
		if (pfk_nft)
			nft_ctx_get_error_buffer(pfk_nft); /* dropped: the next error's own */
		return NULL;
	}
	return nft_ctx_get_output_buffer(pfk_nft);
}

/* A forward new to the running table: what nftables cannot carry is
 * refused (a running one was checked when it came). */
static int pfk_admit(const struct pf_forward *f, char *err, size_t errlen)
{
	return f->live ? 0 : pfk_check(f, err, errlen);
}

/* The kernel's forwards of a draft that come and go; false if any other
 * engine's does (the user engine's ports are part of the core). */
static bool pfk_draft_ours(const struct pf_table *next, size_t *nadd, size_t *ndel)
{
	size_t i;

	for (i = 0; i < next->add.n + next->del.n; i++) {
		const struct pf_forward *f =
			i < next->add.n ? next->add.v[i] : next->del.v[i - next->add.n];

		if (pf_forward_engine(f) != PF_ENGINE_KERNEL)
			return false;
	}
	*nadd = next->add.n;
	*ndel = next->del.n;
	return true;
}

/*
 * A draft of the loaded table that adds and drops simple forwards only:
 * their elements, and no walk over the table, no render, no libnftables.
 * 1: not such a change (the table is rendered); 0: prepared; -1: error.
 */
static int pfk_prepare_delta(const struct pf_table *next, char *err, size_t errlen)
{
	size_t nadd, ndel, i;

	if (!next->base || !pfk_nft || !pfk_loaded || !pfk_draft_ours(next, &nadd, &ndel))
		return 1;
	for (i = 0; i < nadd; i++)
		if (pfk_admit(next->add.v[i], err, errlen))
			return -1;
	if (!pfk_disp_delta(next) || !pfk_wan_same())
		return 1;
	pfk_gone = pf_xarray(ndel + 1, sizeof(*pfk_gone));
	pfk_added = pf_xarray(nadd + 1, sizeof(*pfk_added));
	pfk_touched = pf_xarray(nadd + 1, sizeof(*pfk_touched));
	/* Chains of their own: the new versions' first (a changed one keeps
	 * its id's chains, flushed), then those that went. */
	pfk_own_begin();
	for (i = 0; i < nadd; i++)
		if (!(pfk_form(next->add.v[i]) & PFK_FORM_SIMPLE))
			pfk_own_plan(next->add.v[i]);
	for (i = 0; i < ndel; i++) {
		pfk_simple_ops(&pfk_ops, next->del.v[i], pfk_loaded_form(next->del.v[i]), 0);
		pfk_own_drop(next->del.v[i]);
		pfk_gone[pfk_ngone++] = next->del.v[i];
	}
	for (i = 0; i < nadd; i++) {
		struct pf_forward *f = next->add.v[i];

		pfk_simple_ops(&pfk_ops, f, 0, pfk_form(f));
		pfk_added[pfk_nadded++] = pfk_touched[pfk_ntouched++] = f;
	}
	/* The list of loaded forwards is edited in place at commit (each
	 * one's place is in its id's state): no copy, no walk. */
	pfk_ntrig_next = pfk_ntrig;
	pfk_core_same = true;
	if (pfk_ops.oom) {
		snprintf(err, errlen, "kernel engine: out of memory");
		return -1;
	}
	return 0;
}

/*
 * The simple forwards' elements of t (forms as just rendered) as 'add
 * element' commands. The first load replaces whatever table a previous
 * portfwd left, whose forwards may be carrying flows and taking new ones:
 * with these in the same transaction no new connection finds the maps
 * empty between the two (nfnetlink fills them after a whole load).
 */
static char *pfk_elems_text(const struct pf_table *t)
{
	static const char lead[] = "\t\telements = { ";
	struct pf_buf b = { 0 }, e = { 0 };
	unsigned set;

	for (set = 0; set < PFK_SET_N; set++) {
		pf_buf_reset(&e);
		pfk_simple_text(&e, t, set);
		if (e.len > sizeof(lead) - 1)
			pfk_out(&b, "add element inet portfw %s { %s", pfk_set_name(set),
				e.s + sizeof(lead) - 1);
		if (e.err)
			b.err = e.err;
	}
	pf_buf_free(&e);
	pf_buf_puts(&b, "");
	return pf_buf_detach(&b, NULL);
}

static int pfk_prepare(const struct pf_table *next, char *err, size_t errlen)
{
	struct pfk_walk w;
	size_t i;
	int rc;

	pfk_abort();
	if (pfk_stopped || pfk_detached) {
		snprintf(err, errlen, "kernel engine: stopping, no change is taken");
		return -1;
	}
	/* A user-engine table's change that brings no kernel forward:
	 * nftables is not touched, and the table not walked. */
	if (next->base && !pfk_nft && !pfk_nprev) {
		for (i = 0; i < next->add.n; i++)
			if (pf_forward_engine(next->add.v[i]) == PF_ENGINE_KERNEL)
				break;
		if (i == next->add.n)
			return 0;
	}
	rc = pfk_prepare_delta(next, err, errlen);
	if (rc <= 0) {
		if (rc)
			pfk_abort();
		return rc;
	}
	pfk_abort();
	/* One walk: the kernel's forwards, their states marked with gen as the
	 * next table's (what is not marked in the loaded one went), and what
	 * the render needs to know of the table. */
	pfk_gen++;
	pfk_ntrig_next = 0;
	pfk_walk_init(&w, next->n);
	pfk_next = pf_xarray(next->n, sizeof(*pfk_next));
	pfk_added = pf_xarray(next->n, sizeof(*pfk_added));
	for (i = 0; i < next->n; i++) {
		struct pf_forward *f = next->fwd[i];
		struct pfk_fstate *fs;

		pfk_walk_one(&w, f, i);
		if (pf_forward_engine(f) != PF_ENGINE_KERNEL)
			continue;
		if (pfk_admit(f, err, errlen))
			goto fail;
		fs = pfk_fs(f);
		fs->gen = pfk_gen;
		fs->next_f = f;
		pfk_ntrig_next += f->conf.trigger;
		if (fs->loaded_f != f)
			pfk_added[pfk_nadded++] = f;
		pfk_next[pfk_nnext++] = f;
	}
	if (!pfk_nnext && !pfk_nprev && !pfk_nft) {
		pfk_walk_free(&w);
		pfk_abort();
		return 0; /* a user-engine table: nftables is not touched */
	}
	if (!pfk_nft && pfk_start(err, errlen))
		goto fail;
	pfk_pending = pfk_render_now(next, true, false, &w);
	if (pfk_pending && !pfk_loaded)
		pfk_pending_elems = pfk_elems_text(next);
	if (!pfk_pending || (!pfk_loaded && !pfk_pending_elems)) {
		snprintf(err, errlen, "kernel engine: out of memory");
		goto fail;
	}
	/* The forwards' own chains, from the model: those of the table to
	 * load, then what the loaded one had that goes. */
	pfk_own_begin();
	for (i = 0; i < w.nown; i++)
		pfk_own_plan(next->fwd[w.own[i]]);
	for (i = 0; pfk_disp_model_loaded() && i < pfk_nprev; i++)
		pfk_own_drop(pfk_prev[i]);
	/* The elements that change: those of forwards that went (none if every
	 * loaded forward is still here), and of those whose form changed or
	 * that are new (the render listed them): no search, no sort. */
	pfk_gone = pf_xarray(pfk_nprev, sizeof(*pfk_gone));
	for (i = 0; pfk_nprev > pfk_nnext - pfk_nadded && i < pfk_nprev; i++) {
		const struct pfk_fstate *fs = pfk_fs(pfk_prev[i]);

		if (fs->gen == pfk_gen && fs->next_f == pfk_prev[i])
			continue;
		pfk_simple_ops(&pfk_ops, pfk_prev[i], pfk_loaded_form(pfk_prev[i]), 0);
		pfk_gone[pfk_ngone++] = pfk_prev[i];
	}
	pfk_touched = pf_xarray(w.ntouched, sizeof(*pfk_touched));
	for (i = 0; i < w.ntouched; i++) {
		struct pf_forward *f = next->fwd[w.touched[i]];

		pfk_simple_ops(&pfk_ops, f, pfk_loaded_form(f), pfk_form(f));
		pfk_touched[pfk_ntouched++] = f;
	}
	pfk_walk_free(&w);
	if (pfk_ops.oom) {
		snprintf(err, errlen, "kernel engine: out of memory");
		goto fail;
	}
	/* No dry run: commit follows at once, and its transaction is all or
	 * nothing already (a dry run doubled the time of every change). */
	return 0;
fail:
	pfk_walk_free(&w);
	pfk_abort();
	return -1;
}

/*
 * Loads text (a core render; NULL: the core stays as loaded) with the
 * commands of the forwards' own chains (pre: before the core's diff, post:
 * after it), as a diff from base when there is one: a change costs what
 * changes, not what the table holds. Else, or if the kernel refuses the
 * diff (our table changed behind our back), the core whole with the chains
 * of every forward of v that owns them (as planned, or as loaded), which
 * empties the simple maps (*whole says so).
 */
static int pfk_apply(const char *base, const char *text, const char *pre, const char *post,
		     struct pf_forward *const *v, size_t n, bool loaded, bool *whole, char *err,
		     size_t errlen)
{
	struct pf_buf b = { 0 };
	size_t nd = 0;
	char *d = NULL, *all;
	int rc;

	*whole = false;
	pfk_elems_in = false;
	if (base && (!text || (d = pfk_diff(base, text, &nd)))) {
		pf_buf_puts(&b, pre ? pre : "");
		if (nd)
			pf_buf_puts(&b, d);
		pf_buf_puts(&b, post ? post : "");
		free(d);
		if (b.err) {
			snprintf(err, errlen, "kernel engine: out of memory");
			rc = -1;
		} else {
			rc = b.len ? pfk_run(b.s, false, err, errlen) : 0;
		}
		pf_buf_free(&b);
		if (!rc || !text)
			return rc;
		pf_info("kernel engine: the change as a diff was refused, loading the table "
			"whole (%s)",
			err);
	}
	*whole = true;
	pfk_noted = false;
	all = pfk_own_all(v, n, loaded);
	pf_buf_puts(&b, text);
	pf_buf_puts(&b, all ? all : "");
	free(all);
	pfk_elems_in = !loaded && pfk_pending_elems;
	if (pfk_elems_in)
		pf_buf_puts(&b, pfk_pending_elems);
	if (b.err || !all) {
		pf_buf_free(&b);
		snprintf(err, errlen, "kernel engine: out of memory");
		return -1;
	}
	rc = pfk_run(b.s, false, err, errlen);
	pf_buf_free(&b);
	return rc;
}

/* After a whole load: every element of the forwards v (forms as rendered, or
 * as loaded). */
static int pfk_fill(struct pf_forward *const *v, size_t n, bool loaded, char *err, size_t errlen)
{
	struct pfk_ops o = { 0 };
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		pfk_simple_ops(&o, v[i], 0, loaded ? pfk_loaded_form(v[i]) : pfk_form(v[i]));
	rc = pfk_nl_apply(&o, false, err, errlen);
	pfk_ops_free(&o);
	return rc;
}

/* A load failed half way: the loaded table again, whole. */
static void pfk_restore(void)
{
	char err[512];
	bool whole;

	if (!pfk_loaded) {
		nft_run_cmd_from_buffer(pfk_nft, "table inet portfw\ndelete table inet portfw\n");
		return;
	}
	if (pfk_apply(NULL, pfk_loaded, NULL, NULL, pfk_prev, pfk_nprev, true, &whole, err,
		      sizeof(err)) ||
	    pfk_fill(pfk_prev, pfk_nprev, true, err, sizeof(err)))
		pf_err("kernel engine: could not put the previous table back: %s", err);
}

/*
 * Loads a core render (NULL: the core as loaded), the commands of the
 * forwards' own chains (pfk_own.c) and the element changes ops, for
 * the forwards v as rendered. Two transactions (libnftables, nfnetlink), in
 * the order that never leaves a key without its forward: new elements before
 * a core that drops the key's chain (a forward that became simple), a core
 * that adds a chain before the elements go (one that stopped being simple).
 * If the second fails, the first is undone.
 */
static int pfk_load(const char *text, const struct pfk_ops *ops, struct pf_forward *const *v,
		    size_t n, char *err, size_t errlen)
{
	/* Maps that must grow, keys that change owner: the table whole. */
	bool whole, adds_first = false, remake = pfk_disp_grows() || pfk_disp_model_flips();
	char *pre = pfk_own_script(true), *post = pfk_own_script(false);
	char e2[512];
	size_t i;
	int rc = -1;

	if (!pre || !post) {
		snprintf(err, errlen, "kernel engine: out of memory");
		goto out;
	}
	for (i = 0; i < ops->n && !adds_first; i++)
		adds_first = !ops->v[i].del;
	adds_first &= pfk_loaded != NULL && !remake;
	if (adds_first && pfk_nl_apply(ops, false, err, errlen))
		goto out;
	if (pfk_apply(remake ? NULL : pfk_loaded, text, pre, post, v, n, false, &whole, err,
		      errlen)) {
		if (adds_first && pfk_nl_apply(ops, true, e2, sizeof(e2)))
			pf_err("%s", e2);
		goto out;
	}
	if (whole) {
		if (pfk_elems_in || !pfk_fill(v, n, false, err, errlen)) {
			rc = 0;
			goto out;
		}
		pfk_restore();
		goto out;
	}
	if (!adds_first && pfk_nl_apply(ops, false, err, errlen)) {
		/* The core's diff is undone by the reverse diff; chains of
		 * their own, by loading the previous table whole. */
		if (text && !*pre && !*post) {
			if (pfk_apply(text, pfk_loaded, NULL, NULL, pfk_prev, pfk_nprev, true, &whole,
				      e2, sizeof(e2)) ||
			    (whole && pfk_fill(pfk_prev, pfk_nprev, true, e2, sizeof(e2))))
				pf_err("kernel engine: could not put the previous table back: %s",
				       e2);
		} else {
			pfk_restore();
		}
		goto out;
	}
	rc = 0;
out:
	free(pre);
	free(post);
	return rc;
}

/* The table notes the sysctls set and what they were, again when they or
 * the table changed: a kill -9 leaves it as it is. */
static void pfk_note(void)
{
	char *note;

	if (pfk_noted && !pfk_sysctl_dirty())
		return;
	note = pfk_sysctl_note();
	pfk_noted = note && !nft_run_cmd_from_buffer(pfk_nft, note);
	if (!pfk_noted)
		pf_warn("kernel engine: could not note in the table which sysctls to put back");
	free(note);
}

static void pfk_went_clear(void)
{
	size_t i;

	for (i = 0; i < pfk_went.n; i++)
		pf_forward_unref(pfk_went.v[i]);
	pf_fwdvec_free(&pfk_went);
}

static int pfk_commit(char *err, size_t errlen)
{
	uint32_t *gone;
	size_t i, ngone = 0;

	if (!pfk_pending && !pfk_core_same)
		return 0;
	if (pfk_core_same ? pfk_load(NULL, &pfk_ops, pfk_prev, pfk_nprev, err, errlen)
			  : pfk_load(pfk_pending, &pfk_ops, pfk_next, pfk_nnext, err, errlen)) {
		pfk_abort();
		return -1;
	}
	pfk_own_commit();
	/* UDP flows of forwards that changed or went away follow at once: their
	 * conntrack entries (which hold the old mapping) go. TCP flows run on to
	 * their end, as in the user engine. Prepare found which went (not
	 * marked with gen), which are new, which changed form: no walk here. */
	pfk_went_clear();
	gone = pf_xarray(pfk_ngone, sizeof(*gone));
	for (i = 0; i < pfk_ngone; i++) {
		struct pf_forward *f = pfk_gone[i];

		pf_fwdvec_push(&pfk_went, pf_forward_ref(f));

		pfk_set_loaded(f, false); /* may come back: as new */
		/* Only UDP entries go (and a TCP-only forward has none): the dump
		 * walks every connection the kernel tracks. */
		if ((f->conf.protos & (PF_PROTO_UDP | PF_PROTO_ALL)) || f->conf.trigger)
			gone[ngone++] = f->id;
	}
	if (ngone)
		pfk_ct_flush_ids(gone, ngone);
	free(gone);
	for (i = 0; i < pfk_ntouched; i++)
		pfk_set_loaded(pfk_touched[i], true);
	if (pfk_nadded)
		pfk_ct_flush_stale((const struct pf_forward **)pfk_added, pfk_nadded);
	pfk_disp_commit();
	pfk_ops_free(&pfk_ops);
	if (pfk_core_same) {
		pfk_prev_edit();
	} else {
		pfk_release(&pfk_prev, &pfk_nprev);
		pfk_prev = pfk_next;
		pfk_nprev = pfk_nnext;
		pfk_prev_cap = pfk_nnext;
		pfk_next = NULL;
		pfk_nnext = 0;
		for (i = 0; i < pfk_nprev; i++)
			pfk_fs(pfk_prev[i])->prev_at = (uint32_t)i;
	}
	pfk_localnet_follow(pfk_core_same ? pfk_added : pfk_prev,
			    pfk_core_same ? pfk_nadded : pfk_nprev);
	pfk_release(&pfk_gone, &pfk_ngone);
	pfk_release(&pfk_added, &pfk_nadded);
	pfk_release(&pfk_touched, &pfk_ntouched);
	/* Triggers follow the table (a walk over it: only when there are any). */
	if (pfk_ntrig || pfk_ntrig_next)
		pfk_trig_sync(pfk_prev, pfk_nprev);
	pfk_ntrig = pfk_ntrig_next;
	if (!pfk_core_same) {
		free(pfk_loaded);
		pfk_loaded = pfk_pending;
		pfk_pending = NULL;
		pfk_wan_log(pfk_wan_next);
		free(pfk_wan_loaded);
		pfk_wan_loaded = pfk_wan_next;
		pfk_wan_next = NULL;
	}
	pfk_core_same = false;
	if (pfk_adopt) {
		unsigned n = pfk_ct_adopt(pfk_prev, pfk_nprev);

		if (n)
			pf_info("kernel engine: %u flow(s) left running by the previous portfwd "
				"belong to other forwards now: marked again",
				n);
		/* Their NEW events went to the previous portfwd: counted here. */
		pfk_stats_resync(pfk_prev, pfk_nprev);
		pfk_adopt = false;
	}
	pfk_note();
	return 0;
}

static void pfk_refresh(const struct pf_table *cur)
{
	struct pfk_ops o = { 0 };
	char err[512], *text;
	struct pfk_walk w;
	size_t i;

	if (!pfk_nft || !pfk_nprev || pfk_stopped || pfk_detached)
		return;
	pfk_walk_init(&w, cur->n);
	for (i = 0; i < cur->n; i++)
		pfk_walk_one(&w, cur->fwd[i], i);
	text = pfk_render_now(cur, true, true, &w);
	if (!text) {
		pfk_walk_free(&w);
		return;
	}
	/* A simple forward's backend that went down or came back: its DNAT
	 * elements; a pool: its chain (in the text, or its own). */
	pfk_own_begin();
	for (i = 0; i < w.nown; i++)
		pfk_own_plan(cur->fwd[w.own[i]]);
	pfk_walk_free(&w);
	for (i = 0; i < pfk_nprev; i++)
		pfk_simple_ops(&o, pfk_prev[i], pfk_loaded_form(pfk_prev[i]), pfk_form(pfk_prev[i]));
	if (!o.n && !pfk_own_pending() && pfk_loaded && !strcmp(text, pfk_loaded)) {
		pfk_own_abort();
		free(text);
		return;
	}
	if (pfk_load(text, &o, pfk_prev, pfk_nprev, err, sizeof(err))) {
		pf_err("%s", err);
		pfk_own_abort();
		free(text);
		pfk_ops_free(&o);
		return;
	}
	pfk_own_commit();
	for (i = 0; i < pfk_nprev; i++)
		pfk_set_loaded(pfk_prev[i], true);
	pfk_disp_commit();
	pfk_ops_free(&o);
	free(pfk_loaded);
	pfk_loaded = text;
	pfk_wan_log(pfk_wan_next);
	free(pfk_wan_loaded);
	pfk_wan_loaded = pfk_wan_next;
	pfk_wan_next = NULL;
	pfk_note();
}

static unsigned pfk_kill(const struct pf_selector *sel, const struct pf_table *cur)
{
	uint32_t *ids;
	size_t i, n = 0;
	unsigned k;

	if (!pfk_nft)
		return 0;
	/* Everything: the flows of forwards gone before too (a previous
	 * portfwd's, whose ids this one may not have given). */
	if (sel->all)
		return pfk_ct_kill_all();
	(void)cur;
	ids = pf_xcalloc(pfk_nprev + pfk_went.n + 1, sizeof(*ids));
	for (i = 0; i < pfk_nprev; i++)
		if (pf_selector_match(sel, pfk_prev[i]))
			ids[n++] = pfk_prev[i]->id;
	for (i = 0; i < pfk_went.n; i++)
		if (pf_selector_match(sel, pfk_went.v[i]))
			ids[n++] = pfk_went.v[i]->id;
	k = n ? pfk_ct_kill_ids(ids, n) : 0;
	free(ids);
	return k;
}

static void pfk_flows(const struct pf_table *cur, pf_flow_cb cb, void *arg)
{
	/* The loaded forwards, not cur: a flow of a deleted one is listed
	 * until it ends (under no name once its forward is gone). */
	(void)cur;
	if (pfk_nft && pfk_nprev)
		pfk_ct_list(cb, arg);
}

/*
 * Stops forwarding new connections, the flows that run running on: the
 * table is replaced, in one transaction, by the stopped one
 * (pfk_render_stopped), with the note of the sysctls to put back, so a
 * later start takes it over as any table left by a previous portfwd. Once:
 * a soft stop does it when it begins (pfk_drain), the stop after it finds
 * it done.
 */
static int pfk_stop_new(void)
{
	char *text, *note;
	struct pf_buf b = { 0 };
	int rc = -1;

	if (pfk_stopped)
		return 0;
	text = pfk_render_stopped();
	note = pfk_sysctl_note();
	pf_buf_puts(&b, text ? text : "");
	pf_buf_puts(&b, note ? note : "");
	if (!text || !note || b.err) {
		pf_warn("kernel engine: out of memory for the stopped table");
		goto out;
	}
	if (nft_run_cmd_from_buffer(pfk_nft, b.s)) {
		pf_warn("kernel engine: could not load the stopped table: %s",
			nft_ctx_get_error_buffer(pfk_nft));
		goto out;
	}
	pfk_stopped = true;
	pfk_noted = true;
	free(pfk_loaded);
	pfk_loaded = NULL;
	pf_info("kernel engine: stopped forwarding new connections (table inet portfw keeps "
		"only the hooks of the flows that run)");
	rc = 0;
out:
	free(text);
	free(note);
	pf_buf_free(&b);
	return rc;
}

/* A soft stop begins: nothing new is forwarded. The kernel's flows run on
 * without portfwd: none to wait for. */
static unsigned pfk_drain(void)
{
	if (pfk_nft && !pfk_detached && !pfk_draining && pfk_loaded)
		pfk_stop_new();
	pfk_draining = true;
	return 0;
}

void pfk_detach(void)
{
	pfk_detached = true;
}

/*
 * Whether a stop leaves table inet portfw, and the sysctls as set. It never
 * leaves anything that forwards new connections: the stopped table first,
 * then, if none of our flows runs in it, it goes too. Conntrack translates
 * an established flow only while some nat chain of its family is hooked
 * (without one the next packet reaches the gateway untranslated and gets a
 * reset), so removing the table would cut every flow. The next start
 * replaces the table in one transaction (pfk_render.c) with the same ids
 * (ct marks) for the same configuration. A table handed over to another
 * portfwd (pfk_detach), or found at a start that failed before its first
 * load, is not ours to touch.
 */
static bool pfk_stop_leaves(void)
{
	bool stopped;
	unsigned n;

	if (pfk_detached) {
		pf_info("kernel engine: table inet portfw and its flows left to the portfwd that "
			"took them over");
		return true;
	}
	if (!pfk_loaded && !pfk_stopped && pfk_adopt) {
		pf_info("kernel engine: table inet portfw of a previous portfwd left as it was");
		return true;
	}
	/* First: no new flow may come between the count and the removal. */
	stopped = pfk_stopped || (pfk_loaded && !pfk_stop_new());
	n = pfk_ct_count_ours();
	if (!n)
		return false;
	if (stopped)
		pf_info("kernel engine: table inet portfw left in place for %u flow(s), with no "
			"forward: new connections are not forwarded (portfw flush -k before a "
			"stop removes it)",
			n);
	else
		pf_warn("kernel engine: table inet portfw left as it is for %u flow(s): it may "
			"still forward new connections",
			n);
	return true;
}

/* Leaves the kernel as it is after pfk_detach; else see pfk_stop_leaves. */
static void pfk_stop(void)
{
	bool leave;

	if (!pfk_nft)
		return;
	pfk_abort();
	pfk_went_clear();
	pfk_trig_stop();
	pfk_ntrig = 0;
	leave = pfk_stop_leaves();
	if (!leave && nft_run_cmd_from_buffer(pfk_nft, "table inet portfw\ndelete table inet portfw\n"))
		pf_warn("kernel engine: could not remove table inet portfw");
	for (size_t i = 0; i < pfk_nprev; i++) {
		pfk_own_forget(pfk_prev[i]);
		pfk_set_loaded(pfk_prev[i], false);
	}
	pfk_release(&pfk_prev, &pfk_nprev);
	pfk_prev_cap = 0;
	free(pfk_loaded);
	pfk_loaded = NULL;
	free(pfk_wan_loaded);
	free(pfk_wan_next);
	pfk_wan_loaded = pfk_wan_next = NULL;
	pfk_disp_reset();
	pfk_nl_close();
	pfk_ln_any = false;
	pfk_noted = false;
	pfk_adopt = false;
	pfk_stopped = false;
	pfk_draining = false;
	pfk_stats_stop();
	pfk_acl_stop();
	pfk_sys_stop(!leave);
	nft_ctx_free(pfk_nft);
	pfk_nft = NULL;
	pfk_detached = false;
}

/* An upgrade handed the table to the new portfwd, which adopted it: the
 * table, the conntrack entries of its flows and the sysctls it relies on
 * stay exactly as they are, as after kill -9. The daemon calls pfk_detach
 * already at the handover, so that the drain leaves them too. */
static void pfk_stop_detached(void)
{
	pfk_detach();
	pfk_stop();
}

static int pfk_event_fd(void)
{
	return pfk_nft ? pfk_sys_fd() : -1;
}

/* Links, addresses or default routes changed: route_localnet follows here;
 * new outside interfaces need the table followed again (true). */
static bool pfk_event(void)
{
	bool changed;

	if (!pfk_nft)
		return false;
	changed = pfk_sys_event();
	/* The other portfwd follows the network now. */
	if (pfk_detached)
		return false;
	if (pfk_stats_lost())
		pfk_stats_resync(pfk_prev, pfk_nprev);
	/* The stopped table has no forward's chain to read. */
	if (pfk_acl_read_due())
		pfk_acl_read(pfk_prev, pfk_stopped ? 0 : pfk_nprev);
	if (!changed)
		return false;
	if (pfk_ln_any)
		pfk_ln_any = pfk_localnet_sync(pfk_prev, pfk_nprev);
	if (pfk_loaded || pfk_stopped)
		pfk_note();
	return pfk_nprev && !pfk_stopped && !pfk_wan_same();
}

/* With --conntrack-events none the active flows are counted from the
 * table when someone reads the counters: a dump of our entries (filtered
 * on the mark in the kernel), at most one per PFK_SAMPLE_MS however many
 * readers ask. */
#define PFK_SAMPLE_MS 200
static void pfk_sample(void)
{
	static uint64_t last;
	uint64_t now;

	if (!pfk_events_none() || !pfk_nft || !pfk_nprev || pfk_stopped || pfk_detached)
		return;
	now = pf_now_ms();
	if (last && now - last < PFK_SAMPLE_MS)
		return;
	last = now;
	pfk_stats_resync(pfk_prev, pfk_nprev);
}

static bool pfk_counts_totals(void)
{
	return !pfk_events_none();
}

const struct pf_engine_ops pfk_engine_ops = {
	.name = "kernel",
	.engine = PF_ENGINE_KERNEL,
	.start = pfk_start,
	.stop = pfk_stop,
	.prepare = pfk_prepare,
	.commit = pfk_commit,
	.abort = pfk_abort,
	.refresh = pfk_refresh,
	.flows = pfk_flows,
	.drain = pfk_drain,
	.kill = pfk_kill,
	.event_fd = pfk_event_fd,
	.event = pfk_event,
	.trigger_state = pfk_trig_state,
	.detach = pfk_stop_detached,
	.sample = pfk_sample,
	.counts_totals = pfk_counts_totals,
};
