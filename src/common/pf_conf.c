// SPDX-License-Identifier: GPL-2.0-or-later
#include "pf_conf.h"
#include "pf_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lexer ---- */

static int pf_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int pf_lex(const char *line, struct pf_toks *t, char *err, size_t errlen)
{
	size_t len = strlen(line);
	const char *p = line;
	char *o;

	t->n = 0;
	/* Every word is at most as long as its source text, plus its NUL. */
	t->buf = malloc(len * 2 + 2);
	if (!t->buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	o = t->buf;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p || *p == '#')
			return 0;
		if (t->n == PF_TOKS_MAX) {
			snprintf(err, errlen, "too many words (at most %d)", PF_TOKS_MAX);
			goto fail;
		}
		t->t[t->n].s = o;
		t->t[t->n].quoted = false;
		if (*p == ',') {
			*o++ = *p++;
		} else if (*p == '"') {
			t->t[t->n].quoted = true;
			for (p++; *p != '"'; p++) {
				if (!*p) {
					snprintf(err, errlen, "missing closing '\"'");
					goto fail;
				}
				if (*p != '\\') {
					*o++ = *p;
					continue;
				}
				switch (*++p) {
				case 'n': *o++ = '\n'; break;
				case 'r': *o++ = '\r'; break;
				case 't': *o++ = '\t'; break;
				case '\\': *o++ = '\\'; break;
				case '"': *o++ = '"'; break;
				case 'x':
					if (pf_hexval(p[1]) < 0 || pf_hexval(p[2]) < 0 ||
					    (!pf_hexval(p[1]) && !pf_hexval(p[2]))) {
						snprintf(err, errlen,
							 "'\\x' expects two hex digits (not 00)");
						goto fail;
					}
					*o++ = (char)(pf_hexval(p[1]) * 16 + pf_hexval(p[2]));
					p += 2;
					break;
				default:
					snprintf(err, errlen,
						 "unknown escape in quoted string; expected \\n \\r "
						 "\\t \\\\ \\\" or \\xHH");
					goto fail;
				}
			}
			p++;
		} else {
			while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' &&
			       *p != ',' && *p != '"')
				*o++ = *p++;
		}
		*o++ = '\0';
		t->n++;
	}
fail:
	pf_toks_free(t);
	return -1;
}

void pf_toks_free(struct pf_toks *t)
{
	free(t->buf);
	t->buf = NULL;
	t->n = 0;
}

/* ---- parser ---- */

struct pf_cur {
	const struct pf_toks *t;
	int i;
	const struct pf_where *w;
	char *err;
	size_t errlen;
};

static const char *pf_peek(struct pf_cur *c)
{
	return c->i < c->t->n ? c->t->t[c->i].s : NULL;
}

static bool pf_peek_is(struct pf_cur *c, const char *word)
{
	return c->i < c->t->n && !c->t->t[c->i].quoted && !strcmp(c->t->t[c->i].s, word);
}

static const char *pf_next(struct pf_cur *c)
{
	return c->i < c->t->n ? c->t->t[c->i++].s : NULL;
}

/* "FILE:LINE: 'word': message" (or "at end of line" when the words ran out). */
__attribute__((format(printf, 2, 3))) static int pf_fail(struct pf_cur *c, const char *fmt, ...)
{
	char msg[768];
	const char *tok = c->i < c->t->n ? c->t->t[c->i].s : NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->w->line)
		snprintf(c->err, c->errlen, "%s:%d: ", c->w->file, c->w->line);
	else
		snprintf(c->err, c->errlen, "%s: ", c->w->file);
	if (tok)
		snprintf(c->err + strlen(c->err), c->errlen - strlen(c->err), "'%.64s': %s", tok,
			 msg);
	else
		snprintf(c->err + strlen(c->err), c->errlen - strlen(c->err),
			 "at end of line: %s", msg);
	return -1;
}

static bool pf_name_valid(const char *s)
{
	size_t n = strlen(s);
	const char *p;

	if (!n || n >= PF_NAME_MAX || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

static int pf_parse_name(struct pf_cur *c, char *out)
{
	const char *s = pf_peek(c);

	if (!s || !pf_name_valid(s))
		return pf_fail(c, "expected a name: a letter, then letters, digits, '-', '_' "
				  "or '.', at most %d characters",
			       PF_NAME_MAX - 1);
	pf_strlcpy(out, pf_next(c), PF_NAME_MAX);
	return 0;
}

static int pf_parse_proto(struct pf_cur *c, uint8_t *protos)
{
	*protos = 0;
	for (;;) {
		uint8_t p;

		if (pf_peek_is(c, "tcp"))
			p = PF_PROTO_TCP;
		else if (pf_peek_is(c, "udp"))
			p = PF_PROTO_UDP;
		else
			return pf_fail(c, "expected a protocol: tcp, udp or tcp,udp");
		if (*protos & p)
			return pf_fail(c, "protocol given twice; expected tcp, udp or tcp,udp");
		*protos |= p;
		pf_next(c);
		if (!pf_peek_is(c, ","))
			return 0;
		pf_next(c);
	}
}

static int pf_parse_hostport(struct pf_cur *c, bool need_port, const char *what,
			     struct pf_hostport *hp)
{
	char why[256];
	const char *s = pf_peek(c);

	if (!s || pf_peek_is(c, ","))
		return pf_fail(c, "expected %s", what);
	if (pf_hostport_parse(s, need_port, hp, why, sizeof(why)))
		return pf_fail(c, "%s; expected %s", why, what);
	pf_next(c);
	return 0;
}

#define PF_LISTEN_WHAT "a listen address ADDR:PORT, :PORT, [IPV6]:PORT or ADDR:LOW-HIGH"
#define PF_BACKEND_WHAT "a backend HOST, HOST:PORT or HOST:LOW-HIGH"

static int pf_parse_duration_opt(struct pf_cur *c, uint64_t *ms, uint64_t min_ms)
{
	const char *opt = pf_next(c);

	if (!pf_peek(c) || pf_parse_duration(pf_peek(c), ms) || *ms < min_ms)
		return pf_fail(c, "'%s' expects a duration such as 500ms, 5s, 10m, 2h (at least "
				  "%llums, at most 30d)",
			       opt, (unsigned long long)min_ms);
	pf_next(c);
	return 0;
}

static int pf_parse_backend(struct pf_cur *c, struct pf_forward *f, struct pf_backend *be)
{
	struct pf_hostport hp;
	uint32_t lsize = (uint32_t)f->lport_hi - f->lport_lo + 1;
	int seen_weight = 0;

	if (pf_parse_hostport(c, false, PF_BACKEND_WHAT, &hp))
		return -1;
	if (!hp.host[0]) {
		c->i--;
		return pf_fail(c, "a backend needs a host; expected " PF_BACKEND_WHAT);
	}
	if (hp.port_lo != hp.port_hi && (uint32_t)hp.port_hi - hp.port_lo + 1 != lsize) {
		c->i--;
		return pf_fail(c,
			       "the backend range has %u ports, the listen range %u; expected "
			       "ranges of the same size (mapped 1:1), one port, or no port",
			       (unsigned)(hp.port_hi - hp.port_lo + 1), lsize);
	}
	pf_strlcpy(be->host, hp.host, sizeof(be->host));
	be->bracketed = hp.bracketed;
	be->port_lo = hp.port_lo;
	be->port_hi = hp.port_hi;
	be->weight = 1;
	be->line = c->w->line;
	while (pf_peek_is(c, "weight")) {
		uint64_t v;

		if (seen_weight++)
			return pf_fail(c, "option given twice");
		pf_next(c);
		if (!pf_peek(c) || pf_parse_uint(pf_peek(c), 0, PF_WEIGHT_MAX, &v))
			return pf_fail(c, "'weight' expects a number 0-%d", PF_WEIGHT_MAX);
		be->weight = (uint32_t)v;
		pf_next(c);
	}
	return 0;
}

static int pf_parse_forward(struct pf_cur *c, struct pf_stmt *st)
{
	struct pf_forward *f = pf_forward_new();
	struct pf_hostport hp = { 0 };
	unsigned seen = 0;

	st->fwd = f;
	pf_strlcpy(f->src, c->w->file, sizeof(f->src));
	f->line = c->w->line;
	if (pf_peek_is(c, "name")) {
		pf_next(c);
		if (pf_parse_name(c, f->name))
			return -1;
	}
	if (pf_parse_proto(c, &f->protos))
		return -1;
	if (pf_parse_hostport(c, true, PF_LISTEN_WHAT, &hp))
		return -1;
	pf_strlcpy(f->lhost, hp.host, sizeof(f->lhost));
	f->lbracketed = hp.bracketed;
	f->lport_lo = hp.port_lo;
	f->lport_hi = hp.port_hi;
	if (!pf_peek_is(c, "to"))
		return pf_fail(c, "expected 'to' and the backends after the listen address");
	pf_next(c);
	f->be = pf_xcalloc(PF_BACKENDS_MAX, sizeof(*f->be));
	for (;;) {
		if (f->nbe == PF_BACKENDS_MAX)
			return pf_fail(c, "too many backends; at most %d per forward",
				       PF_BACKENDS_MAX);
		if (pf_parse_backend(c, f, &f->be[f->nbe]))
			return -1;
		f->nbe++;
		if (!pf_peek_is(c, ","))
			break;
		pf_next(c);
	}
	/* Give back what the parse reserved: a table may hold many forwards. */
	{
		struct pf_backend *be = realloc(f->be, f->nbe * sizeof(*be));

		if (be)
			f->be = be;
	}
	while (pf_peek(c)) {
		static const char *const opts[] = { "name",	    "connect-timeout",
						    "idle-timeout", "half-close-timeout",
						    "maxconn",	    "udp-timeout",
						    "udp-stream-timeout", "max-sessions" };
		unsigned k;

		for (k = 0; k < PF_ARRAY_SIZE(opts); k++)
			if (pf_peek_is(c, opts[k]))
				break;
		if (k == PF_ARRAY_SIZE(opts))
			return pf_fail(c, "unknown option; expected ',' and another backend, "
					  "'weight N', or one of: name, connect-timeout, "
					  "idle-timeout, half-close-timeout, maxconn, udp-timeout, "
					  "udp-stream-timeout, max-sessions");
		if ((seen & (1U << k)) || (k == 0 && f->name[0]))
			return pf_fail(c, "option given twice");
		seen |= 1U << k;
		switch (k) {
		case 0: {
			pf_next(c);
			if (pf_parse_name(c, f->name))
				return -1;
			break;
		}
		case 1:
			if (pf_parse_duration_opt(c, &f->o.connect_ms, 10))
				return -1;
			break;
		case 2:
			if (pf_parse_duration_opt(c, &f->o.idle_ms, 100))
				return -1;
			break;
		case 3:
			if (pf_parse_duration_opt(c, &f->o.halfclose_ms, 100))
				return -1;
			break;
		case 4: {
			uint64_t v;

			pf_next(c);
			if (!pf_peek(c) || pf_parse_uint(pf_peek(c), 0, 10000000, &v))
				return pf_fail(c, "'maxconn' expects a number 0-10000000 (0: "
						  "no limit)");
			f->o.maxconn = (uint32_t)v;
			pf_next(c);
			break;
		}
		case 5:
			if (pf_parse_duration_opt(c, &f->o.udp_ms, 1000))
				return -1;
			break;
		case 6:
			if (pf_parse_duration_opt(c, &f->o.udp_stream_ms, 1000))
				return -1;
			break;
		default: {
			uint64_t v;

			pf_next(c);
			if (!pf_peek(c) || pf_parse_uint(pf_peek(c), 1, 10000000, &v))
				return pf_fail(c, "'max-sessions' expects a number 1-10000000");
			f->o.max_sessions = (uint32_t)v;
			pf_next(c);
			break;
		}
		}
	}
	/* `portfw save` writes it as one line, which must load back: ", " between
	 * backends and "Ns" for a bare N make it longer than it may be written. */
	{
		char *line = pf_xcalloc(1, PF_LINE_MAX);
		size_t n;

		pf_forward_format(f, line, PF_LINE_MAX);
		n = strlen(line);
		free(line);
		if (n > PF_LINE_MAX - 2) {
			c->i = 0;
			return pf_fail(c, "saved as one line, this forward would be longer than "
					  "%d bytes; expected fewer or shorter backends",
				       PF_LINE_MAX - 2);
		}
	}
	return 0;
}

static int pf_parse_selector(struct pf_cur *c, struct pf_stmt *st, bool allow_backend,
			     bool allow_all)
{
	struct pf_selector *sel = &st->sel;

	if (allow_all && pf_peek_is(c, "all")) {
		pf_next(c);
		sel->all = true;
		return 0;
	}
	if (pf_peek_is(c, "name")) {
		pf_next(c);
		if (pf_parse_name(c, sel->name))
			return -1;
	} else {
		if (!pf_peek(c))
			return pf_fail(c, "expected %s'name NAME' or PROTO LISTEN%s",
				       allow_all ? "'all', " : "", allow_backend ? ", then [BACKEND]" : "");
		if (pf_parse_proto(c, &sel->protos) ||
		    pf_parse_hostport(c, true, PF_LISTEN_WHAT, &sel->listen))
			return -1;
	}
	if (allow_backend && pf_peek(c)) {
		if (pf_parse_hostport(c, false, PF_BACKEND_WHAT, &sel->backend))
			return -1;
		if (!sel->backend.host[0]) {
			c->i--;
			return pf_fail(c, "a backend needs a host; expected " PF_BACKEND_WHAT);
		}
		sel->has_backend = true;
	}
	return 0;
}

int pf_parse_stmt(const struct pf_toks *t, const struct pf_where *w, struct pf_stmt *st,
		  char *err, size_t errlen)
{
	struct pf_cur c = { .t = t, .i = 1, .w = w, .err = err, .errlen = errlen };
	static const struct {
		const char *word;
		enum pf_stmt_kind kind;
	} plain[] = {
		{ "flush", PF_ST_FLUSH }, { "list", PF_ST_LIST },     { "conns", PF_ST_CONNS },
		{ "save", PF_ST_SAVE },	  { "reload", PF_ST_RELOAD },
	};
	const char *verb;
	size_t k;
	int rc;

	memset(st, 0, sizeof(*st));
	if (!t->n)
		return 0;
	c.i = 0;
	verb = pf_peek(&c);
	c.i = 1;
	if (t->t[0].quoted)
		verb = "";
	if (!strcmp(verb, "forward")) {
		st->kind = PF_ST_FORWARD;
		rc = pf_parse_forward(&c, st);
	} else if (!strcmp(verb, "include")) {
		st->kind = PF_ST_INCLUDE;
		if (!pf_peek(&c))
			return pf_fail(&c, "'include' expects a file name");
		if (pf_strlcpy(st->path, pf_next(&c), sizeof(st->path)) >= sizeof(st->path)) {
			c.i--;
			return pf_fail(&c, "file name too long");
		}
		rc = 0;
	} else if (!strcmp(verb, "del")) {
		st->kind = PF_ST_DEL;
		rc = pf_parse_selector(&c, st, true, false);
	} else if (!strcmp(verb, "kill")) {
		st->kind = PF_ST_KILL;
		rc = pf_parse_selector(&c, st, false, true);
	} else {
		for (k = 0; k < PF_ARRAY_SIZE(plain); k++)
			if (!strcmp(verb, plain[k].word))
				break;
		if (k == PF_ARRAY_SIZE(plain)) {
			c.i = 0;
			return pf_fail(&c, "unknown statement; expected forward, include, del, "
					   "kill, flush, list, conns, save or reload");
		}
		st->kind = plain[k].kind;
		rc = 0;
	}
	if (!rc && pf_peek(&c))
		rc = pf_fail(&c, "unexpected word at the end of the statement");
	if (rc) {
		pf_stmt_free(st);
		return -1;
	}
	return 0;
}

void pf_stmt_free(struct pf_stmt *st)
{
	pf_forward_unref(st->fwd);
	st->fwd = NULL;
	st->kind = PF_ST_NONE;
}

bool pf_selector_match(const struct pf_selector *sel, const struct pf_forward *f)
{
	if (sel->all)
		return true;
	if (sel->name[0])
		return !strcmp(sel->name, f->name);
	return sel->protos == f->protos && !strcmp(sel->listen.host, f->lhost) &&
	       sel->listen.port_lo == f->lport_lo && sel->listen.port_hi == f->lport_hi;
}

/* ---- texts and files ---- */

int pf_conf_foreach(const char *name, const char *text, size_t len, pf_stmt_cb cb, void *arg,
		    char *err, size_t errlen)
{
	char *stmt = malloc(PF_LINE_MAX);
	struct pf_where w = { .file = name };
	size_t off = 0, slen = 0;
	int lineno = 0, rc = 0;

	if (!stmt) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while (off < len && !rc) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t l = nl ? (size_t)(nl - (text + off)) : len - off;
		bool cont;

		lineno++;
		if (!slen)
			w.line = lineno;
		if (memchr(text + off, '\0', l)) {
			snprintf(err, errlen, "%s:%d: NUL byte in line; expected text", name, lineno);
			rc = -1;
			break;
		}
		while (l && (text[off + l - 1] == '\r'))
			l--;
		cont = l && text[off + l - 1] == '\\';
		if (cont)
			l--;
		if (slen + l + 2 > PF_LINE_MAX) {
			snprintf(err, errlen, "%s:%d: statement longer than %d bytes", name, w.line,
				 PF_LINE_MAX);
			rc = -1;
			break;
		}
		memcpy(stmt + slen, text + off, l);
		slen += l;
		stmt[slen++] = ' ';
		stmt[slen] = '\0';
		off += (nl ? (size_t)(nl - (text + off)) + 1 : len - off);
		if (cont && off < len)
			continue;
		{
			struct pf_toks toks;
			struct pf_stmt st;
			char why[512];

			slen = 0;
			if (pf_lex(stmt, &toks, why, sizeof(why))) {
				snprintf(err, errlen, "%s:%d: %s", name, w.line, why);
				rc = -1;
				break;
			}
			if (toks.n) {
				rc = pf_parse_stmt(&toks, &w, &st, err, errlen);
				if (!rc) {
					rc = cb(&st, &w, arg, err, errlen);
					pf_stmt_free(&st);
				}
			}
			pf_toks_free(&toks);
		}
	}
	free(stmt);
	return rc ? -1 : 0;
}

struct pf_load_ctx {
	struct pf_table *t;
	const char *path;
	int depth;
};

static int pf_load_depth(const char *path, struct pf_table *t, int depth, char *err,
			 size_t errlen);

static int pf_load_cb(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
		      size_t errlen)
{
	struct pf_load_ctx *ctx = arg;
	char full[PATH_MAX];

	switch (st->kind) {
	case PF_ST_FORWARD:
		pf_table_add(ctx->t, st->fwd);
		st->fwd = NULL;
		return 0;
	case PF_ST_INCLUDE:
		if (ctx->depth >= PF_INCLUDE_DEPTH) {
			snprintf(err, errlen, "%s:%d: includes nested deeper than %d", w->file,
				 w->line, PF_INCLUDE_DEPTH);
			return -1;
		}
		if (st->path[0] == '/' || !strchr(ctx->path, '/')) {
			pf_strlcpy(full, st->path, sizeof(full));
		} else {
			int dl = (int)(strrchr(ctx->path, '/') - ctx->path);

			if (snprintf(full, sizeof(full), "%.*s/%s", dl, ctx->path, st->path) >=
			    (int)sizeof(full)) {
				snprintf(err, errlen, "%s:%d: include path too long", w->file,
					 w->line);
				return -1;
			}
		}
		if (pf_load_depth(full, ctx->t, ctx->depth + 1, err, errlen)) {
			char inner[1024];

			pf_strlcpy(inner, err, sizeof(inner));
			snprintf(err, errlen, "%s (included from %s:%d)", inner, w->file, w->line);
			return -1;
		}
		return 0;
	default:
		snprintf(err, errlen,
			 "%s:%d: this is a control command; a config file holds 'forward' and "
			 "'include' lines",
			 w->file, w->line);
		return -1;
	}
}

static int pf_load_depth(const char *path, struct pf_table *t, int depth, char *err,
			 size_t errlen)
{
	struct pf_load_ctx ctx = { .t = t, .path = path, .depth = depth };
	char *text = NULL;
	size_t len = 0, cap = 0;
	FILE *fp;
	int rc = -1;

	fp = fopen(path, "re");
	if (!fp) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t n;

		if (len + 4096 > cap) {
			char *nt;

			cap = cap ? cap * 2 : 65536;
			if (cap > 64UL * 1024 * 1024) {
				snprintf(err, errlen, "%s: larger than 64 MiB", path);
				goto out;
			}
			nt = realloc(text, cap);
			if (!nt) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto out;
			}
			text = nt;
		}
		n = fread(text + len, 1, cap - len, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	rc = pf_conf_foreach(path, text ? text : "", len, pf_load_cb, &ctx, err, errlen);
out:
	free(text);
	fclose(fp);
	return rc;
}

int pf_conf_load(const char *path, struct pf_table *t, char *err, size_t errlen)
{
	return pf_load_depth(path, t, 0, err, errlen);
}
