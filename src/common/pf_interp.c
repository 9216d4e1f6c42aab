// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The interpreter of statements (see pf_interp.h): one switch that says what
 * a statement does to a table, for config files, config text and control
 * requests alike, and one table that says where each statement may stand.
 */
#include "pf_interp.h"
#include "pf_buf.h"
#include "pf_opt.h"
#include "pf_tablefile.h"
#include "pf_util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PF_IN_F (1U << PF_IN_FILE)
#define PF_IN_T (1U << PF_IN_TEXT)
#define PF_IN_R (1U << PF_IN_REQUEST)

/* Where each statement may stand (the header's table). */
static const unsigned pf_interp_allowed[] = {
	[PF_ST_FORWARD] = PF_IN_F | PF_IN_T | PF_IN_R,
	[PF_ST_DEFAULT] = PF_IN_F | PF_IN_T | PF_IN_R,
	[PF_ST_MARK] = PF_IN_F | PF_IN_T | PF_IN_R,
	[PF_ST_USER] = PF_IN_F | PF_IN_T | PF_IN_R,
	[PF_ST_STATUS] = PF_IN_F | PF_IN_T | PF_IN_R,
	[PF_ST_INCLUDE] = PF_IN_F,
	[PF_ST_INCLUDE_TABLE] = PF_IN_F,
	[PF_ST_DEL] = PF_IN_R,
	[PF_ST_FLUSH] = PF_IN_R,
	[PF_ST_KILL] = PF_IN_R,
	[PF_ST_BACKEND] = PF_IN_R,
	[PF_ST_SCHEDULE] = PF_IN_R,
	[PF_ST_SOURCE] = PF_IN_R,
	[PF_ST_LIST] = PF_IN_R,
	[PF_ST_CONNS] = PF_IN_R,
	[PF_ST_SAVE] = PF_IN_R,
	[PF_ST_RELOAD] = PF_IN_R,
};

bool pf_stmt_reads(enum pf_stmt_kind kind)
{
	return kind == PF_ST_LIST || kind == PF_ST_CONNS || kind == PF_ST_SAVE;
}

const char *pf_stmt_name(enum pf_stmt_kind kind)
{
	static const char *const names[] = {
		[PF_ST_NONE] = "(nothing)",
		[PF_ST_FORWARD] = "forward",
		[PF_ST_INCLUDE] = "include",
		[PF_ST_DEL] = "del",
		[PF_ST_FLUSH] = "flush",
		[PF_ST_KILL] = "kill",
		[PF_ST_DEFAULT] = "default",
		[PF_ST_BACKEND] = "backend",
		[PF_ST_SCHEDULE] = "schedule",
		[PF_ST_MARK] = "mark",
		[PF_ST_INCLUDE_TABLE] = "include-table",
		[PF_ST_USER] = "user",
		[PF_ST_STATUS] = "status",
		[PF_ST_SOURCE] = "source",
		[PF_ST_LIST] = "list",
		[PF_ST_CONNS] = "conns",
		[PF_ST_SAVE] = "save",
		[PF_ST_RELOAD] = "reload",
	};

	if ((size_t)kind >= PF_ARRAY_SIZE(names) || !names[kind])
		return "(unknown)";
	return names[kind];
}

void pf_interp_init(struct pf_interp *ip, enum pf_interp_origin origin, struct pf_table *next,
		    struct pf_table *base)
{
	memset(ip, 0, sizeof(*ip));
	ip->origin = origin;
	ip->next = next;
	ip->base = base;
	ip->based = !base;
}

void pf_interp_free(struct pf_interp *ip)
{
	free(ip->after);
	ip->after = NULL;
	ip->nafter = 0;
}

const struct pf_table *pf_interp_table(const struct pf_interp *ip)
{
	return ip->based ? ip->next : ip->base;
}

/* The table to change: a request's copy of the running one, made now. */
static struct pf_table *pf_interp_edit(struct pf_interp *ip)
{
	if (!ip->based) {
		pf_table_draft(ip->next, ip->base);
		ip->based = true;
	}
	return ip->next;
}

/* A new version c of forward f in t (the running f keeps its flows; sockets
 * and counters carry over to c). */
static void pf_interp_replace(struct pf_table *t, struct pf_forward *f, struct pf_forward *c)
{
	size_t i = pf_table_pos(t, f);

	if (i == SIZE_MAX)
		pf_forward_unref(c);
	else
		pf_table_replace_at(t, i, c);
}

/* ---- the statements ---- */

void pf_table_default(struct pf_table *t, struct pf_stmt *st)
{
	struct pf_cidrset *set = st->action == PF_ACT_ALLOW ? &t->def_allow : &t->def_deny;
	struct pf_cidr *nv;

	if (st->action == PF_ACT_LOG || st->action == PF_ACT_NOLOG) {
		t->def_log = st->action == PF_ACT_LOG;
		return;
	}
	if (st->action == PF_ACT_LOG_FORMAT) {
		t->log_format = st->log_format;
		return;
	}
	if (st->action == PF_ACT_DRAIN_TIMEOUT) {
		t->drain_ms = st->drain_ms;
		t->drain_set = true;
		return;
	}
	/* 'clear' is the ACL's: the flow log's default has its 'no-log'. */
	if (st->action == PF_ACT_CLEAR) {
		pf_cidrset_free(&t->def_allow);
		pf_cidrset_free(&t->def_deny);
		return;
	}
	if (!st->cidrs.n)
		return;
	nv = realloc(set->v, (set->n + st->cidrs.n) * sizeof(*nv));
	if (!nv)
		abort();
	memcpy(nv + set->n, st->cidrs.v, st->cidrs.n * sizeof(*nv));
	set->v = nv;
	set->n += st->cidrs.n;
}

void pf_table_mark(struct pf_table *t, struct pf_stmt *st)
{
	struct pf_mark m = st->mark;

	if (st->mark_del) {
		pf_table_del_mark(t, st->mark.id);
		return;
	}
	m.from = st->cidrs; /* taken over */
	st->cidrs.v = NULL;
	st->cidrs.n = 0;
	pf_table_set_mark(t, &m);
}

/* user USER [group GROUP]: the accounts must exist here and now, so that a
 * table that names a wrong one is refused where it is written rather than
 * at the next start. The last line wins. */
static int pf_interp_user(struct pf_table *t, struct pf_stmt *st, const struct pf_where *w,
			  char *err, size_t errlen)
{
	if (!getpwnam(st->user.user))
		return pf_where_err(err, errlen, w,
				    "user '%s': no such user; expected an account of this "
				    "system (getent passwd)",
				    st->user.user);
	if (st->user.group[0] && !getgrnam(st->user.group))
		return pf_where_err(err, errlen, w,
				    "group '%s': no such group; expected a group of this "
				    "system (getent group)",
				    st->user.group);
	t->user = st->user;
	return 0;
}

/* mark N ...: a changed mark moves the forward made from it (mfw-N, by
 * ipmasqadm mfw) along: its listen address and sources follow the mark,
 * whether the mark line is in a file or in a request. */
static int pf_interp_mark(struct pf_table *t, struct pf_stmt *st, const struct pf_where *w,
			  char *err, size_t errlen)
{
	const struct pf_mark *m;
	struct pf_forward *f, *c;
	char name[PF_NAME_MAX];
	uint32_t id = st->mark.id;

	if (st->mark_del && !pf_table_find_mark(t, id))
		return pf_where_err(err, errlen, w,
				    "no mark %u; expected one of the 'mark' lines 'portfw save' shows",
				    id);
	pf_table_mark(t, st);
	if (st->mark_del)
		return 0;
	m = pf_table_find_mark(t, id);
	snprintf(name, sizeof(name), "mfw-%u", id);
	f = pf_table_find_name(t, name);
	if (!f || !m)
		return 0;
	c = pf_mark_apply(m, f);
	if (!c)
		return pf_where_err(err, errlen, w,
				    "forward '%s' cannot follow mark %u (a port forward and a "
				    "whole-host mark, or backend ranges that no longer fit); "
				    "expected 'ipmasqadm mfw -D -m %u' first",
				    name, id, id);
	pf_interp_replace(t, f, c);
	return 0;
}

static bool pf_backend_is(const struct pf_backend *be, const struct pf_hostport *hp)
{
	return !strcmp(be->conf.host, hp->host) && be->conf.port_lo == hp->port_lo &&
	       be->conf.port_hi == hp->port_hi;
}

static struct pf_backend *pf_find_backend(struct pf_forward *f, const struct pf_hostport *hp)
{
	uint32_t b;

	for (b = 0; b < f->nbe; b++)
		if (pf_backend_is(&f->be[b], hp))
			return &f->be[b];
	return NULL;
}

/* del: whole forwards, or one backend out of a pool (ipmasqadm -d -R). */
static int pf_interp_del(struct pf_table *t, const struct pf_selector *sel,
			 const struct pf_where *w, char *err, size_t errlen)
{
	struct pf_fwdvec hits = { 0 };
	size_t k;
	int rc = 0;

	/* Found by name or port (not by a walk over the table), in table
	 * order. */
	pf_table_select(t, sel, &hits);
	for (k = 0; k < hits.n && !rc; k++) {
		struct pf_forward *f = hits.v[k], *c;
		size_t i = pf_table_pos(t, f);
		struct pf_backend *be;
		uint32_t b;

		if (!sel->has_backend) {
			pf_table_remove_at(t, i);
			continue;
		}
		be = pf_find_backend(f, &sel->backend);
		if (!be) {
			rc = pf_where_err(err, errlen, w,
					  "the forward has no backend '%s'; expected one of its "
					  "backends as written in 'portfw list'",
					  sel->backend.host);
			break;
		}
		if (f->nbe == 1) {
			pf_table_remove_at(t, i);
			continue;
		}
		b = (uint32_t)(be - f->be);
		c = pf_forward_clone(f);
		pf_be_conf_free(&c->be[b].conf);
		memmove(&c->be[b], &c->be[b + 1], (c->nbe - b - 1) * sizeof(c->be[0]));
		c->nbe--;
		pf_table_replace_at(t, i, c);
	}
	if (!hits.n)
		rc = pf_where_err(err, errlen, w,
				  "no forward matches; expected a name or PROTO LISTEN as shown "
				  "by 'portfw list'");
	pf_fwdvec_free(&hits);
	return rc;
}

/* backend name NAME BACKEND ACTION: an admin change of one backend. */
static int pf_interp_backend(struct pf_table *t, const struct pf_stmt *st,
			     const struct pf_where *w, char *err, size_t errlen)
{
	struct pf_forward *f = pf_table_find_name(t, st->sel.name), *c;
	struct pf_backend *be;

	if (!f)
		return pf_where_err(err, errlen, w, "no forward named '%s'", st->sel.name);
	if (!pf_find_backend(f, &st->sel.backend))
		return pf_where_err(err, errlen, w,
				    "forward '%s' has no backend '%s'; expected one of its "
				    "backends as written in 'portfw list'",
				    f->conf.name, st->sel.backend.host);
	c = pf_forward_clone(f);
	be = pf_find_backend(c, &st->sel.backend);
	switch (st->action) {
	case PF_ACT_DRAIN:
		be->conf.admin = PF_ADMIN_DRAIN;
		break;
	case PF_ACT_ENABLE:
		be->conf.admin = PF_ADMIN_ENABLED;
		break;
	case PF_ACT_DISABLE:
		be->conf.admin = PF_ADMIN_DISABLED;
		break;
	case PF_ACT_BACKUP:
		be->conf.backup = true;
		break;
	case PF_ACT_PRIMARY:
		be->conf.backup = false;
		break;
	default:
		be->conf.weight = st->weight;
		break;
	}
	pf_interp_replace(t, f, c);
	return 0;
}

/* schedule name NAME: checked here, against the table as it will be; the
 * rotation itself is the daemon's, once the change is installed. */
static int pf_interp_schedule(const struct pf_table *t, const struct pf_stmt *st,
			      const struct pf_where *w, char *err, size_t errlen)
{
	const struct pf_forward *f = pf_table_find_name(t, st->sel.name);

	if (!f)
		return pf_where_err(err, errlen, w, "no forward named '%s'", st->sel.name);
	if (f->conf.balance != PF_BAL_PREF && f->conf.balance != PF_BAL_RR)
		return pf_where_err(err, errlen, w,
				    "forward '%s' balances with %s; 'schedule' rotates pref and "
				    "rr pools",
				    st->sel.name, pf_balance_name(f->conf.balance));
	return 0;
}

static void pf_interp_later(struct pf_interp *ip, const struct pf_stmt *st)
{
	struct pf_interp_after *a = realloc(ip->after, (ip->nafter + 1) * sizeof(*a));

	if (!a)
		abort();
	a[ip->nafter].kind = st->kind;
	a[ip->nafter].sel = st->sel;
	ip->after = a;
	ip->nafter++;
}

/* ---- includes ---- */

static int pf_read_file(const char *path, char **textp, size_t *lenp, char *err, size_t errlen)
{
	struct pf_buf b = PF_BUF_INIT(64UL * 1024 * 1024);
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	pf_buf_read_fd(&b, fd);
	close(fd);
	*textp = pf_buf_detach(&b, lenp);
	if (*textp)
		return 0;
	if (b.err == -E2BIG)
		snprintf(err, errlen, "%s: larger than 64 MiB", path);
	else if (b.err == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", path);
	else
		snprintf(err, errlen, "%s: read error: %s", path, strerror(-b.err));
	return -1;
}

/* include-table FILE: the seed-004 port table, translated line for line so
 * that errors (and each forward's origin) name FILE:LINE. */
static int pf_interp_table_file(struct pf_interp *ip, const char *path, char *err,
				size_t errlen)
{
	char *text = NULL, *stmts = NULL;
	size_t len = 0;
	int rc = -1;

	if (pf_read_file(path, &text, &len, err, errlen))
		return -1;
	if (pf_tablefile_translate(path, text, len, &stmts, err, errlen))
		goto out;
	/* Forwards only: an include in it would be the translator's bug. */
	ip->depth = PF_INCLUDE_DEPTH;
	rc = pf_interp_text(ip, path, stmts, strlen(stmts), err, errlen);
out:
	free(stmts);
	free(text);
	return rc;
}

/* include FILE / include-table FILE: relative to the including file. */
static int pf_interp_include(struct pf_interp *ip, const struct pf_stmt *st,
			     const struct pf_where *w, char *err, size_t errlen)
{
	const char *saved_path = ip->path;
	int saved_depth = ip->depth, rc;
	char full[PATH_MAX], inner[1024];

	if (ip->depth >= PF_INCLUDE_DEPTH)
		return pf_where_err(err, errlen, w, "includes nested deeper than %d",
				    PF_INCLUDE_DEPTH);
	if (st->path[0] == '/' || !strchr(ip->path, '/')) {
		pf_strlcpy(full, st->path, sizeof(full));
	} else {
		int dl = (int)(strrchr(ip->path, '/') - ip->path);

		if (snprintf(full, sizeof(full), "%.*s/%s", dl, ip->path, st->path) >=
		    (int)sizeof(full))
			return pf_where_err(err, errlen, w, "include path too long");
	}
	ip->depth++;
	rc = st->kind == PF_ST_INCLUDE_TABLE ? pf_interp_table_file(ip, full, err, errlen)
					     : pf_interp_file(ip, full, err, errlen);
	ip->path = saved_path;
	ip->depth = saved_depth;
	if (rc) {
		pf_strlcpy(inner, err, sizeof(inner));
		snprintf(err, errlen, "%s (included from %s:%d)", inner, w->file, w->line);
	}
	return rc;
}

/* ---- one statement ---- */

static int pf_interp_refuse(const struct pf_interp *ip, const struct pf_stmt *st,
			    const struct pf_where *w, char *err, size_t errlen)
{
	bool include = st->kind == PF_ST_INCLUDE || st->kind == PF_ST_INCLUDE_TABLE;

	if (ip->origin == PF_IN_REQUEST && include)
		return pf_where_err(err, errlen, w,
				    "'%s' belongs in a config file; expected a control statement "
				    "(portfw restore FILE sends a config file with its includes, "
				    "portfw import FILE a port table)",
				    st->kind == PF_ST_INCLUDE ? "include" : "include-table");
	if (include)
		return pf_where_err(err, errlen, w, "includes are read from config files only");
	if (st->kind == PF_ST_SOURCE)
		return pf_where_err(err, errlen, w,
				    "'source' names where the lines of a control request come "
				    "from; expected it in requests only");
	return pf_where_err(err, errlen, w,
			    "this is a control command; a config file holds 'forward', "
			    "'default' and 'include' lines");
}

int pf_interp_stmt(struct pf_interp *ip, struct pf_stmt *st, const struct pf_where *w,
		   char *err, size_t errlen)
{
	bool query = st->kind >= PF_ST_LIST;
	int rc = 0;

	if ((size_t)st->kind >= PF_ARRAY_SIZE(pf_interp_allowed) ||
	    !(pf_interp_allowed[st->kind] & (1U << ip->origin)))
		return pf_interp_refuse(ip, st, w, err, errlen);
	if (st->kind == PF_ST_SOURCE)
		return 0; /* pf_conf_foreach follows it */
	/* Before the statement runs: its errors (no such forward) are no
	 * business of a peer that may not make the change. */
	if (ip->read_only && !pf_stmt_reads(st->kind)) {
		ip->refused = st->kind;
		return pf_where_err(err, errlen, w, "'%s' changes the table: permission denied",
				    pf_stmt_name(st->kind));
	}
	if (ip->origin == PF_IN_REQUEST && (query ? ip->nstmts != 0 : ip->query != PF_ST_NONE))
		return pf_where_err(err, errlen, w,
				    "list, conns, save and reload must be sent alone");
	ip->nstmts++;
	switch (st->kind) {
	case PF_ST_FORWARD:
		pf_table_add(pf_interp_edit(ip), st->fwd);
		st->fwd = NULL;
		break;
	case PF_ST_DEFAULT:
		pf_table_default(pf_interp_edit(ip), st);
		break;
	case PF_ST_STATUS:
		/* The last line wins, as a reload that changes it rebinds. */
		if (w->line)
			snprintf(st->status.where, sizeof(st->status.where), "%s:%d", w->file,
				 w->line);
		else
			pf_strlcpy(st->status.where, w->file, sizeof(st->status.where));
		pf_interp_edit(ip)->status = st->status;
		break;
	case PF_ST_MARK:
		rc = pf_interp_mark(pf_interp_edit(ip), st, w, err, errlen);
		break;
	case PF_ST_USER:
		rc = pf_interp_user(pf_interp_edit(ip), st, w, err, errlen);
		break;
	case PF_ST_INCLUDE:
	case PF_ST_INCLUDE_TABLE:
		return pf_interp_include(ip, st, w, err, errlen);
	case PF_ST_DEL:
		rc = pf_interp_del(pf_interp_edit(ip), &st->sel, w, err, errlen);
		break;
	case PF_ST_FLUSH:
		/* Nothing of the running table is kept: no copy of it either. */
		ip->based = true;
		pf_table_clear(ip->next);
		break;
	case PF_ST_BACKEND:
		rc = pf_interp_backend(pf_interp_edit(ip), st, w, err, errlen);
		break;
	case PF_ST_SCHEDULE:
		rc = pf_interp_schedule(pf_interp_table(ip), st, w, err, errlen);
		if (!rc)
			pf_interp_later(ip, st);
		break;
	case PF_ST_KILL:
		pf_interp_later(ip, st);
		break;
	default:
		ip->query = st->kind;
		break;
	}
	if (!rc && ip->echo && ip->origin == PF_IN_FILE)
		ip->echo(ip->echo_arg, w);
	return rc;
}

/* ---- texts and files ---- */

static int pf_interp_cb(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
			size_t errlen)
{
	return pf_interp_stmt(arg, st, w, err, errlen);
}

int pf_interp_text(struct pf_interp *ip, const char *name, const char *text, size_t len,
		   char *err, size_t errlen)
{
	size_t before = ip->nstmts;

	if (ip->origin == PF_IN_FILE)
		ip->path = name;
	if (pf_conf_foreach(name, text, len, pf_interp_cb, ip, err, errlen))
		return -1;
	if (ip->origin == PF_IN_REQUEST && ip->nstmts == before) {
		snprintf(err, errlen, "empty request; expected a statement such as 'list'");
		return -1;
	}
	return 0;
}

int pf_interp_file(struct pf_interp *ip, const char *path, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (pf_read_file(path, &text, &len, err, errlen))
		return -1;
	rc = pf_interp_text(ip, path, text ? text : "", len, err, errlen);
	free(text);
	return rc;
}

int pf_conf_load(const char *path, struct pf_table *t, char *err, size_t errlen)
{
	struct pf_interp ip;
	int rc;

	pf_interp_init(&ip, PF_IN_FILE, t, NULL);
	rc = pf_interp_file(&ip, path, err, errlen);
	pf_interp_free(&ip);
	return rc;
}

int pf_conf_load_text(const char *name, const char *text, size_t len, struct pf_table *t,
		      char *err, size_t errlen)
{
	struct pf_interp ip;
	int rc;

	pf_interp_init(&ip, PF_IN_TEXT, t, NULL);
	rc = pf_interp_text(&ip, name, text, len, err, errlen);
	pf_interp_free(&ip);
	return rc;
}
