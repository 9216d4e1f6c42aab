// SPDX-License-Identifier: GPL-2.0-or-later
#include "pf_conf.h"
#include "pf_flowlog.h"
#include "pf_opt.h"
#include "pf_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- lexer ---- */

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
					/* \x00 too: a check string may carry
					 * binary (a DNS query); the parser lets
					 * NUL bytes stand only there. */
					if (pf_hexval(p[1]) < 0 || pf_hexval(p[2]) < 0) {
						snprintf(err, errlen,
							 "'\\x' expects two hex digits");
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
		t->t[t->n].len = (size_t)(o - t->t[t->n].s);
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

int pf_where_err(char *err, size_t errlen, const struct pf_where *w, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	if (w->line)
		snprintf(err, errlen, "%s:%d: ", w->file, w->line);
	else
		snprintf(err, errlen, "%s: ", w->file);
	n = strlen(err);
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
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

static int pf_parse_proto_all(struct pf_cur *c, uint8_t *protos, bool allow_all)
{
	*protos = 0;
	if (allow_all && pf_peek_is(c, "all")) {
		/* A whole-host forward: every protocol, ICMP too (ipmasqadm mfw). */
		*protos = PF_PROTO_ALL;
		pf_next(c);
		return 0;
	}
	for (;;) {
		uint8_t p;

		if (pf_peek_is(c, "tcp"))
			p = PF_PROTO_TCP;
		else if (pf_peek_is(c, "udp"))
			p = PF_PROTO_UDP;
		else if (allow_all && !*protos)
			return pf_fail(c, "expected a protocol: tcp, udp, tcp,udp or all");
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

static int pf_parse_proto(struct pf_cur *c, uint8_t *protos)
{
	return pf_parse_proto_all(c, protos, false);
}

static int pf_parse_hostport(struct pf_cur *c, bool need_port, const char *what,
			     struct pf_hostport *hp)
{
	char why[256];
	const char *s = pf_peek(c);

	/* Defined on every path: the analyzer cannot see that pf_fail (variadic,
	 * not inlined) always returns -1. */
	memset(hp, 0, sizeof(*hp));
	if (!s || pf_peek_is(c, ","))
		return pf_fail(c, "expected %s", what);
	if (pf_hostport_parse(s, need_port, hp, why, sizeof(why)))
		return pf_fail(c, "%s; expected %s", why, what);
	pf_next(c);
	return 0;
}

#define PF_LISTEN_WHAT "a listen address ADDR:PORT, :PORT, [IPV6]:PORT or ADDR:LOW-HIGH"
#define PF_LISTEN_ALL_WHAT                                                                   \
	"a listen address without a port: ADDR, [IPV6], 'any' (every local address) or " \
	"%INTERFACE ('all' forwards every port)"

/* Linux interface names: 1-15 bytes, no '/', ':' or white space; we take the
 * usual letters, digits, '-', '_', '.' and '@'. */
static bool pf_ifname_valid(const char *s, size_t n)
{
	size_t i;

	if (!n || n >= PF_IFNAME_MAX || (n == 1 && s[0] == '.') ||
	    (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.' ||
		      s[i] == '@'))
			return false;
	return true;
}

/*
 * The listen part: as pf_parse_hostport, plus "%IF:PORT" (every local
 * address, arriving on interface IF: a PPP or DHCP address that changes) and,
 * for 'all' forwards, an address, 'any' or "%IF" without a port.
 */
static int pf_parse_listen(struct pf_cur *c, bool all, struct pf_hostport *hp, char *lif)
{
	const char *s = pf_peek(c), *colon;
	char why[256];
	size_t n;

	memset(hp, 0, sizeof(*hp));
	lif[0] = '\0';
	if (!s || pf_peek_is(c, ","))
		return pf_fail(c, "expected %s", all ? PF_LISTEN_ALL_WHAT : PF_LISTEN_WHAT);
	if (s[0] == '%') {
		colon = strchr(s, ':');
		n = colon ? (size_t)(colon - s - 1) : strlen(s + 1);
		if (!pf_ifname_valid(s + 1, n))
			return pf_fail(c, "'%%' names an interface: 1-%d letters, digits, '-', "
					  "'_', '.' or '@'; expected %%INTERFACE%s",
				       PF_IFNAME_MAX - 1, all ? "" : ":PORT");
		if (all && colon)
			return pf_fail(c, "'all' forwards every port; expected %%INTERFACE "
					  "without a port");
		if (!all) {
			if (!colon)
				return pf_fail(c, "expected %%INTERFACE:PORT or %%INTERFACE:LOW-HIGH");
			if (pf_hostport_parse(colon, true, hp, why, sizeof(why)))
				return pf_fail(c, "%s; expected %%INTERFACE:PORT or "
						  "%%INTERFACE:LOW-HIGH",
					       why);
		}
		memcpy(lif, s + 1, n);
		lif[n] = '\0';
		pf_next(c);
		return 0;
	}
	if (!all)
		return pf_parse_hostport(c, true, PF_LISTEN_WHAT, hp);
	if (pf_peek_is(c, "any")) {
		pf_next(c);
		return 0;
	}
	if (pf_hostport_parse(s, false, hp, why, sizeof(why)))
		return pf_fail(c, "%s; expected %s", why, PF_LISTEN_ALL_WHAT);
	if (hp->port_lo || !hp->host[0])
		return pf_fail(c, "'all' forwards every port; expected %s", PF_LISTEN_ALL_WHAT);
	pf_next(c);
	return 0;
}
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
	uint32_t lsize = (uint32_t)f->conf.lport_hi - f->conf.lport_lo + 1;
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
	pf_xstrset(&be->conf.host, hp.host);
	be->conf.bracketed = hp.bracketed;
	be->conf.port_lo = hp.port_lo;
	be->conf.port_hi = hp.port_hi;
	be->conf.weight = 1;
	be->conf.line = c->w->line;
	for (;;) {
		uint64_t v;

		if (pf_peek_is(c, "backup")) {
			if (be->conf.backup)
				return pf_fail(c, "option given twice");
			be->conf.backup = true;
			pf_next(c);
			continue;
		}
		if (pf_peek_is(c, "drain") || pf_peek_is(c, "disabled")) {
			if (be->conf.admin != PF_ADMIN_ENABLED)
				return pf_fail(c, "option given twice; expected drain or disabled");
			be->conf.admin = pf_peek_is(c, "drain") ? PF_ADMIN_DRAIN : PF_ADMIN_DISABLED;
			pf_next(c);
			continue;
		}
		if (!pf_peek_is(c, "weight"))
			break;
		if (seen_weight++)
			return pf_fail(c, "option given twice");
		pf_next(c);
		if (!pf_peek(c) || pf_parse_uint(pf_peek(c), 0, PF_WEIGHT_MAX, &v))
			return pf_fail(c, "'weight' expects a number 0-%d", PF_WEIGHT_MAX);
		be->conf.weight = (uint32_t)v;
		pf_next(c);
	}
	return 0;
}

/* ADDR[/LEN]: a network (host bits cleared) or, without /LEN, one address. */
static int pf_parse_cidr(const char *s, struct pf_cidr *out)
{
	char buf[PF_ADDRSTR_MAX];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t len;
	uint8_t *a, max;
	unsigned i;

	if (!n || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (buf[0] == '[' && buf[n - 1] == ']') {
		memmove(buf, buf + 1, n - 2);
		buf[n - 2] = '\0';
	}
	if (!buf[0] || pf_sa_from_literal(buf, &out->addr))
		return -1;
	max = out->addr.sa.sa_family == AF_INET6 ? 128 : 32;
	if (!slash)
		len = max;
	else if (pf_parse_uint(slash + 1, 0, max, &len))
		return -1;
	out->plen = (uint8_t)len;
	a = out->addr.sa.sa_family == AF_INET6 ? out->addr.sin6.sin6_addr.s6_addr
					       : (uint8_t *)&out->addr.sin.sin_addr;
	for (i = 0; i < max / 8u; i++) {
		uint64_t bit = (uint64_t)i * 8;

		if (bit >= len)
			a[i] = 0;
		else if (bit + 8 > len)
			a[i] &= (uint8_t)(0xff << (8 - (len - bit)));
	}
	return 0;
}

/* CIDR[,CIDR...] into set (appending). */
static int pf_parse_cidrs(struct pf_cur *c, const char *opt, struct pf_cidrset *set)
{
	for (;;) {
		struct pf_cidr cidr;
		struct pf_cidr *nv;

		if (!pf_peek(c) || pf_peek_is(c, ",") || pf_parse_cidr(pf_peek(c), &cidr))
			return pf_fail(c, "'%s' expects networks ADDR[/LEN][,ADDR[/LEN]...]", opt);
		if (set->n == 1024)
			return pf_fail(c, "too many networks (at most 1024)");
		nv = realloc(set->v, (set->n + 1) * sizeof(*nv));
		if (!nv)
			return pf_fail(c, "out of memory");
		set->v = nv;
		set->v[set->n++] = cidr;
		pf_next(c);
		if (!pf_peek_is(c, ","))
			return 0;
		pf_next(c);
	}
}

/* 'masquerade' [ADDR]: an address literal after it is its source (no
 * option word can be read as one). */
static int pf_parse_masq(struct pf_cur *c, struct pf_masq *m)
{
	struct pf_cidr cidr;
	const char *arg = pf_peek(c);

	m->on = true;
	memset(&m->addr, 0, sizeof(m->addr));
	if (!arg || pf_peek_is(c, ",") || pf_parse_cidr(arg, &cidr))
		return 0;
	if (strchr(arg, '/'))
		return pf_fail(c, "'masquerade' expects an address without a prefix length "
				  "(the source the backends see), or nothing");
	m->addr = cidr.addr;
	pf_next(c);
	return 0;
}

/* "N/s" or "N/m" (N/sec, N/second, N/min, N/minute as nft writes them). */
static int pf_parse_rate(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	static const char *const per_s[] = { "s", "sec", "second" };
	static const char *const per_m[] = { "m", "min", "minute" };
	const char *slash = strchr(s, '/');
	char num[16];
	uint64_t n;
	size_t i;

	if (!slash || (size_t)(slash - s) >= sizeof(num))
		return -1;
	memcpy(num, s, (size_t)(slash - s));
	num[slash - s] = '\0';
	if (pf_parse_uint(num, min, max, &n))
		return -1;
	for (i = 0; i < PF_ARRAY_SIZE(per_s); i++) {
		if (!strcmp(slash + 1, per_s[i])) {
			*out = pf_rate_make(n, false);
			return 0;
		}
		if (!strcmp(slash + 1, per_m[i])) {
			*out = pf_rate_make(n, true);
			return 0;
		}
	}
	return -1;
}

/* One option of a forward, by its row in pf_opts: the word is at the cursor. */
static int pf_parse_fwd_opt(struct pf_cur *c, struct pf_forward *f, const struct pf_opt *o)
{
	const char *opt = pf_next(c), *arg = pf_peek(c);
	uint64_t v;

	if (o->sets_check)
		f->conf.check.on = true;
	switch (o->kind) {
	case PF_OPT_FLAG:
		pf_opt_set(&f->conf, o, 1);
		return 0;
	case PF_OPT_DUR:
		if (!arg || pf_parse_duration(arg, &v) || v < o->min || v > o->max)
			return pf_fail(c, "'%s' expects a duration such as 500ms, 5s, 10m, 2h (at least "
					  "%llums, at most 30d)",
				       opt, (unsigned long long)o->min);
		break;
	case PF_OPT_UINT:
		if (!arg || pf_parse_uint(arg, o->min, o->max, &v))
			return pf_fail(c, "'%s' expects %s", opt, o->expect);
		break;
	case PF_OPT_RATE:
		if (!arg || pf_parse_rate(arg, o->min, o->max, &v))
			return pf_fail(c, "'%s' expects %s", opt, o->expect);
		break;
	case PF_OPT_ENUM:
		for (v = 0; v <= o->max; v++)
			if (o->names[v] && pf_peek_is(c, o->names[v]))
				break;
		if (v > o->max)
			return pf_fail(c, "'%s' expects %s", opt, o->expect);
		break;
	case PF_OPT_MASQ:
		return pf_parse_masq(c, (struct pf_masq *)(void *)((char *)&f->conf + o->off));
	case PF_OPT_STR: {
		/* Kept as its escaped text: bytes (NUL ones too) in a C string
		 * that save writes back as it is; the checker unescapes it. */
		size_t n = arg ? c->t->t[c->i].len : 0;
		char esc[PF_CHECK_ESC_MAX];

		if (!n || n >= PF_CHECK_STR_MAX)
			return pf_fail(c, "'%s' expects a string of 1-%d bytes (\"...\" with \\r\\n "
					  "\\xHH escapes)",
				       opt, PF_CHECK_STR_MAX - 1);
		pf_escape(esc, sizeof(esc), arg, n);
		pf_opt_set_str(&f->conf, o, esc);
		pf_next(c);
		return 0;
	}
	default:
		return pf_parse_cidrs(c, opt, pf_opt_cidrs(&f->conf, o));
	}
	pf_opt_set(&f->conf, o, v);
	pf_next(c);
	return 0;
}

/* "name, balance, engine, ...": every option word, for the parser's message. */
static const char *pf_opt_words(void)
{
	static char words[1024];
	size_t i, off;

	if (words[0])
		return words;
	off = pf_strlcpy(words, "name", sizeof(words));
	for (i = 0; i < pf_nopts && off < sizeof(words); i++)
		off += (size_t)snprintf(words + off, sizeof(words) - off, ", %s", pf_opts[i].word);
	return words;
}

/* What a whole-host forward cannot have, said at the end of its line. */
static int pf_parse_all_opts(struct pf_cur *c, const struct pf_forward *f)
{
	if (f->conf.engine == PF_ENGINE_USER)
		return pf_fail(c, "'all' forwards every protocol and needs the kernel engine: "
				  "expected 'engine kernel' (or no 'engine' under portfwd -e kernel)");
	if (f->conf.ftp)
		return pf_fail(c, "'ftp' attaches the helper to TCP ports; an 'all' forward has "
				  "none: expected a 'tcp' forward of the FTP port");
	if (f->conf.check.on && !f->conf.check.port && !f->conf.check.agent_port)
		return pf_fail(c, "an 'all' forward has no port to check; expected 'check-port N' "
				  "or 'agent-port N'");
	return 0;
}

/* Options of one protocol or engine given where they cannot work, said at
 * the option's word. */
static int pf_parse_only_opts(struct pf_cur *c, const struct pf_forward *f, uint64_t seen,
			      const int *at)
{
	size_t i;

	for (i = 0; i < pf_nopts; i++) {
		const struct pf_opt *o = &pf_opts[i];

		if (!(seen & (2ULL << i)) || !o->only)
			continue;
		if ((o->only & PF_OPT_ONLY_TCP) && f->conf.protos != PF_PROTO_TCP) {
			c->i = at[i];
			return pf_fail(c, "works on TCP connections only; expected a 'tcp' "
					  "forward (a tcp,udp one: a forward per protocol)");
		}
		if ((o->only & PF_OPT_ONLY_HAS_TCP) && !(f->conf.protos & PF_PROTO_TCP)) {
			c->i = at[i];
			return pf_fail(c, "limits TCP connections; expected a 'tcp' or 'tcp,udp' "
					  "forward (UDP: max-sessions-per-source)");
		}
		if ((o->only & PF_OPT_ONLY_HAS_UDP) && !(f->conf.protos & PF_PROTO_UDP)) {
			c->i = at[i];
			return pf_fail(c, "limits UDP sessions; expected a 'udp' or 'tcp,udp' "
					  "forward (TCP: max-per-source)");
		}
		if ((o->only & PF_OPT_ONLY_USER) && f->conf.engine == PF_ENGINE_KERNEL) {
			c->i = at[i];
			return pf_fail(c, "needs the user engine (the kernel engine does not "
					  "see the bytes of a connection); expected no 'engine "
					  "kernel' on this forward");
		}
	}
	return 0;
}

/* A UDP service has no connect to check: a UDP-only forward's 'check' needs
 * a datagram it answers (check-send), or a TCP port beside it (check-port).
 * An agent alone (agent-port) is a TCP service beside it too. */
static int pf_parse_udp_check(struct pf_cur *c, const struct pf_forward *f, uint64_t seen,
			      const int *at)
{
	int first = -1;
	size_t i;

	if (f->conf.protos != PF_PROTO_UDP || f->conf.check.send[0] || f->conf.check.port)
		return 0;
	for (i = 0; i < pf_nopts; i++)
		if ((seen & (2ULL << i)) && pf_opts[i].sets_check &&
		    strncmp(pf_opts[i].word, "agent-", 6) != 0 && (first < 0 || at[i] < first))
			first = at[i];
	if (first < 0)
		return 0;
	c->i = first;
	return pf_fail(c, "a UDP service answers no connect; expected check-send \"...\" (a "
			  "datagram it replies to, like a DNS query in \\xHH escapes) or "
			  "check-port PORT (a TCP port beside it)");
}

static int pf_parse_forward(struct pf_cur *c, struct pf_stmt *st)
{
	struct pf_forward *f = pf_forward_new();
	struct pf_hostport hp = { 0 };
	uint64_t seen = 0;
	int opt_at[64]; /* where each option given was (a bit of seen each), for messages */

	st->fwd = f;
	pf_xstrset(&f->conf.src, c->w->file);
	f->conf.line = c->w->line;
	if (pf_peek_is(c, "name")) {
		pf_next(c);
		if (pf_parse_name(c, f->conf.name))
			return -1;
	}
	if (pf_parse_proto_all(c, &f->conf.protos, true))
		return -1;
	if (pf_parse_listen(c, f->conf.protos == PF_PROTO_ALL, &hp, f->conf.lif))
		return -1;
	pf_xstrset(&f->conf.lhost, hp.host);
	f->conf.lbracketed = hp.bracketed;
	f->conf.lport_lo = hp.port_lo;
	f->conf.lport_hi = hp.port_hi;
	if (!pf_peek_is(c, "to"))
		return pf_fail(c, "expected 'to' and the backends after the listen address");
	pf_next(c);
	f->be = pf_xcalloc(PF_BACKENDS_MAX, sizeof(*f->be));
	for (;;) {
		if (f->nbe == PF_BACKENDS_MAX)
			return pf_fail(c, "too many backends; at most %d per forward",
				       PF_BACKENDS_MAX);
		int at = c->i;

		/* Counted at once: the forward frees what a failed parse set. */
		f->nbe++;
		if (pf_parse_backend(c, f, &f->be[f->nbe - 1]))
			return -1;
		if (f->conf.protos == PF_PROTO_ALL && f->be[f->nbe - 1].conf.port_lo) {
			c->i = at;
			return pf_fail(c, "'all' forwards every port to the same port of the "
					  "backend; expected a host without a port");
		}
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
		const struct pf_opt *o = c->t->t[c->i].quoted ? NULL : pf_opt_find(pf_peek(c));
		uint64_t bit;

		if (pf_peek_is(c, "name")) {
			if (f->conf.name[0] || (seen & 1))
				return pf_fail(c, "option given twice");
			seen |= 1;
			pf_next(c);
			if (pf_parse_name(c, f->conf.name))
				return -1;
			continue;
		}
		if (!o)
			return pf_fail(c, "unknown option; expected ',' and another backend, "
					  "'weight N', or one of: %s",
				       pf_opt_words());
		bit = 2ULL << (o - pf_opts);
		if (seen & bit)
			return pf_fail(c, "option given twice");
		seen |= bit;
		/* The backend sees the client's address or the gateway's. */
		if ((o->kind == PF_OPT_MASQ && f->conf.transparent) ||
		    (!strcmp(o->word, "transparent") && f->conf.masq.on))
			return pf_fail(c, "'transparent' and 'masquerade' exclude each other: the "
					  "backends see the client's address or the gateway's; "
					  "expected one of them");
		opt_at[o - pf_opts] = c->i;
		if (pf_parse_fwd_opt(c, f, o))
			return -1;
	}
	if (f->conf.protos == PF_PROTO_ALL && pf_parse_all_opts(c, f))
		return -1;
	if (pf_parse_only_opts(c, f, seen, opt_at) || pf_parse_udp_check(c, f, seen, opt_at))
		return -1;
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

/*
 * trigger [name NAME] PROTO LOW[-HIGH] on tcp|udp PORT [timeout DUR]: when a
 * host inside connects out to PORT, the range is forwarded to it for DUR
 * (ipmasqadm autofw -r PROTO LOW HIGH -c PROTO PORT). Kept in the table as a
 * forward without backends.
 */
static int pf_parse_trigger(struct pf_cur *c, struct pf_stmt *st)
{
	struct pf_forward *f = pf_forward_new();
	struct pf_hostport hp;
	char range[32], why[256];
	const char *s;
	unsigned seen = 0;
	uint64_t v;

	st->fwd = f;
	pf_xstrset(&f->conf.src, c->w->file);
	f->conf.line = c->w->line;
	f->conf.trigger = true;
	f->conf.trig_ms = PF_TRIGGER_DEFAULT_MS;
	if (pf_peek_is(c, "name")) {
		pf_next(c);
		if (pf_parse_name(c, f->conf.name))
			return -1;
	}
	if (pf_parse_proto(c, &f->conf.protos))
		return -1;
	s = pf_peek(c);
	if (!s || strchr(s, ':') || pf_peek_is(c, ",") || strlen(s) + 2 > sizeof(range))
		return pf_fail(c, "expected the ports to open, LOW-HIGH or PORT (on every address "
				  "of the gateway: no address)");
	snprintf(range, sizeof(range), ":%s", s);
	if (pf_hostport_parse(range, true, &hp, why, sizeof(why)))
		return pf_fail(c, "%s; expected the ports to open, LOW-HIGH or PORT", why);
	f->conf.lport_lo = hp.port_lo;
	f->conf.lport_hi = hp.port_hi;
	pf_next(c);
	if (!pf_peek_is(c, "on"))
		return pf_fail(c, "expected 'on PROTO PORT': the port whose outgoing connections "
				  "open the range");
	pf_next(c);
	if (pf_peek_is(c, "tcp") || pf_peek_is(c, "udp")) {
		f->conf.trig_proto = pf_peek_is(c, "tcp") ? PF_PROTO_TCP : PF_PROTO_UDP;
		pf_next(c);
	} else {
		return pf_fail(c, "expected the protocol of the control connection: tcp or udp");
	}
	if (!pf_peek(c) || pf_parse_uint(pf_peek(c), 1, 65535, &v))
		return pf_fail(c, "expected the port of the control connection, 1-65535");
	f->conf.trig_port = (uint16_t)v;
	pf_next(c);
	while (pf_peek(c)) {
		if (pf_peek_is(c, "timeout") && !(seen & 1)) {
			seen |= 1;
			if (pf_parse_duration_opt(c, &f->conf.trig_ms, 1000))
				return -1;
		} else if (pf_peek_is(c, "name") && !f->conf.name[0]) {
			pf_next(c);
			if (pf_parse_name(c, f->conf.name))
				return -1;
		} else if (pf_peek_is(c, "timeout") || pf_peek_is(c, "name")) {
			return pf_fail(c, "option given twice");
		} else {
			return pf_fail(c, "unknown option; expected 'timeout DUR' or 'name NAME'");
		}
	}
	return 0;
}

static int pf_parse_selector(struct pf_cur *c, struct pf_stmt *st, bool allow_backend,
			     bool allow_all)
{
	struct pf_selector *sel = &st->sel;

	/* 'kill all' is every flow (a whole-host forward is killed by name). */
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
		/* 'all ADDR': a whole-host forward, for del (kill and schedule: by name). */
		if (pf_parse_proto_all(c, &sel->protos, allow_backend) ||
		    pf_parse_listen(c, sel->protos == PF_PROTO_ALL, &sel->listen, sel->lif))
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

static int pf_parse_default(struct pf_cur *c, struct pf_stmt *st)
{
	if (pf_peek_is(c, "clear")) {
		pf_next(c);
		st->action = PF_ACT_CLEAR;
		return 0;
	}
	if (pf_peek_is(c, "allow") || pf_peek_is(c, "deny")) {
		st->action = pf_peek_is(c, "allow") ? PF_ACT_ALLOW : PF_ACT_DENY;
		pf_next(c);
		return pf_parse_cidrs(c, st->action == PF_ACT_ALLOW ? "allow" : "deny", &st->cidrs);
	}
	if (pf_peek_is(c, "log") || pf_peek_is(c, "no-log")) {
		st->action = pf_peek_is(c, "log") ? PF_ACT_LOG : PF_ACT_NOLOG;
		pf_next(c);
		return 0;
	}
	return pf_fail(c, "expected 'allow CIDR[,CIDR...]', 'deny CIDR[,CIDR...]', 'clear', "
			  "'log' or 'no-log'");
}

/* log-format text|json: a setting of the whole table, like the defaults
 * (and carried as one, so that it stands wherever they may). */
static int pf_parse_log_format(struct pf_cur *c, struct pf_stmt *st)
{
	st->action = PF_ACT_LOG_FORMAT;
	if (pf_peek_is(c, "text") || pf_peek_is(c, "json")) {
		st->log_format = pf_peek_is(c, "json") ? PF_FLOWLOG_JSON : PF_FLOWLOG_TEXT;
		pf_next(c);
		return 0;
	}
	return pf_fail(c, "'log-format' expects text or json");
}

/* drain-timeout DUR: a setting of the whole table, carried as a 'default'
 * as log-format is. 0 cuts every flow at once, as a stop did before. */
static int pf_parse_drain_timeout(struct pf_cur *c, struct pf_stmt *st)
{
	st->action = PF_ACT_DRAIN_TIMEOUT;
	if (pf_peek(c) && !pf_parse_duration(pf_peek(c), &st->drain_ms) &&
	    st->drain_ms <= PF_DRAIN_MAX_MS) {
		pf_next(c);
		return 0;
	}
	return pf_fail(c, "'drain-timeout' expects a duration 0-1d (like 30s, 5m; 0: cut "
			  "flows at once)");
}

/* An account name as useradd takes it (POSIX portable characters, not
 * starting with '-'); whether it exists is the interpreter's question. */
static int pf_parse_account(struct pf_cur *c, const char *what, char *dst)
{
	const char *s = pf_peek(c);
	size_t n;

	if (!s)
		return pf_fail(c, "expected %s", what);
	n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
	if (!n || s[n] || s[0] == '-' || n >= PF_USER_MAX)
		return pf_fail(c, "expected %s (letters, digits, '.', '_', '-', at most %d "
				  "characters, not starting with '-')",
			       what, PF_USER_MAX - 1);
	memcpy(dst, s, n + 1);
	pf_next(c);
	return 0;
}

/* user USER [group GROUP] */
static int pf_parse_user(struct pf_cur *c, struct pf_stmt *st)
{
	if (pf_parse_account(c, "a user name", st->user.user))
		return -1;
	if (!pf_peek_is(c, "group"))
		return 0;
	pf_next(c);
	return pf_parse_account(c, "a group name after 'group'", st->user.group);
}

/* backend name NAME BACKEND ACTION: an admin change of one backend. */
static int pf_parse_backend_cmd(struct pf_cur *c, struct pf_stmt *st)
{
	static const struct {
		const char *word;
		int action;
	} acts[] = {
		{ "drain", PF_ACT_DRAIN },   { "enable", PF_ACT_ENABLE },   { "disable", PF_ACT_DISABLE },
		{ "backup", PF_ACT_BACKUP }, { "primary", PF_ACT_PRIMARY }, { "weight", PF_ACT_WEIGHT },
	};
	size_t k;

	if (!pf_peek_is(c, "name"))
		return pf_fail(c, "expected 'name NAME BACKEND ACTION'");
	pf_next(c);
	if (pf_parse_name(c, st->sel.name) ||
	    pf_parse_hostport(c, false, PF_BACKEND_WHAT, &st->sel.backend))
		return -1;
	st->sel.has_backend = true;
	for (k = 0; k < PF_ARRAY_SIZE(acts); k++)
		if (pf_peek_is(c, acts[k].word))
			break;
	if (k == PF_ARRAY_SIZE(acts))
		return pf_fail(c, "expected drain, enable, disable, backup, primary or weight N");
	st->action = acts[k].action;
	pf_next(c);
	if (st->action == PF_ACT_WEIGHT) {
		uint64_t v;

		if (!pf_peek(c) || pf_parse_uint(pf_peek(c), 0, PF_WEIGHT_MAX, &v))
			return pf_fail(c, "'weight' expects a number 0-%d", PF_WEIGHT_MAX);
		st->weight = (uint32_t)v;
		pf_next(c);
	}
	return 0;
}

/* mark N [PROTO LISTEN] [from CIDR,...]: the stand-in for an ipchains -m rule. */
static int pf_parse_mark(struct pf_cur *c, struct pf_stmt *st)
{
	struct pf_hostport hp;
	uint64_t v;

	if (!pf_peek(c) || pf_parse_uint(pf_peek(c), 1, UINT32_MAX, &v))
		return pf_fail(c, "'mark' expects a mark number 1-4294967295 (the ipchains -m / "
				  "ipmasqadm mfw -m value)");
	st->mark.id = (uint32_t)v;
	pf_next(c);
	if (st->mark_del)
		return 0;
	if (pf_peek(c) && !pf_peek_is(c, "from")) {
		if (pf_parse_proto(c, &st->mark.protos) ||
		    pf_parse_hostport(c, true, PF_LISTEN_WHAT, &hp))
			return -1;
		pf_strlcpy(st->mark.lhost, hp.host, sizeof(st->mark.lhost));
		st->mark.lbracketed = hp.bracketed;
		st->mark.lport_lo = hp.port_lo;
		st->mark.lport_hi = hp.port_hi;
	}
	if (!pf_peek(c))
		return 0;
	if (!pf_peek_is(c, "from"))
		return pf_fail(c, "expected 'from CIDR[,CIDR...]' or the end of the mark");
	pf_next(c);
	return pf_parse_cidrs(c, "from", &st->cidrs);
}

/* status ADDR:PORT [admin] | status off: a literal address (no name to
 * resolve, so that the line means one socket), one port. */
#define PF_STATUS_WHAT                                                                     \
	"expected 'status ADDR:PORT [admin]' with a literal address such as "              \
	"127.0.0.1:9100 or [::1]:9100, or 'status off'"

static int pf_parse_status(struct pf_cur *c, struct pf_stmt *st)
{
	struct pf_status_conf *s = &st->status;
	struct pf_hostport hp;
	union pf_sa sa;
	char why[256];
	const char *w = pf_peek(c);

	if (pf_peek_is(c, "off")) {
		pf_next(c);
		return 0;
	}
	if (!w || pf_peek_is(c, ","))
		return pf_fail(c, PF_STATUS_WHAT);
	if (pf_hostport_parse(w, true, &hp, why, sizeof(why)))
		return pf_fail(c, "%s; " PF_STATUS_WHAT, why);
	if (!hp.host[0] || pf_sa_from_literal(hp.host, &sa))
		return pf_fail(c, "not a literal IPv4 or IPv6 address; " PF_STATUS_WHAT);
	if (hp.port_lo != hp.port_hi)
		return pf_fail(c, "a port range; " PF_STATUS_WHAT);
	s->on = true;
	s->bracketed = hp.bracketed;
	s->port = hp.port_lo;
	pf_strlcpy(s->host, hp.host, sizeof(s->host));
	pf_next(c);
	if (pf_peek_is(c, "admin")) {
		s->admin = true;
		pf_next(c);
	} else if (pf_peek(c)) {
		return pf_fail(c, "unknown option; expected 'admin' or the end of the line");
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
	/* A NUL byte would cut any other word short without a word said. */
	for (k = 0; k < (size_t)t->n; k++) {
		if (t->t[k].len == strlen(t->t[k].s))
			continue;
		if (k && !t->t[k - 1].quoted &&
		    (!strcmp(t->t[k - 1].s, "check-send") || !strcmp(t->t[k - 1].s, "check-expect")))
			continue;
		c.i = (int)k;
		return pf_fail(&c, "a NUL byte (\\x00) may only stand in a check-send or "
				   "check-expect string");
	}
	c.i = 0;
	verb = pf_peek(&c);
	c.i = 1;
	if (t->t[0].quoted)
		verb = "";
	if (!strcmp(verb, "forward")) {
		st->kind = PF_ST_FORWARD;
		rc = pf_parse_forward(&c, st);
	} else if (!strcmp(verb, "trigger")) {
		st->kind = PF_ST_FORWARD; /* a table item like a forward */
		rc = pf_parse_trigger(&c, st);
	} else if (!strcmp(verb, "include")) {
		st->kind = PF_ST_INCLUDE;
		if (!pf_peek(&c))
			return pf_fail(&c, "'include' expects a file name");
		if (pf_strlcpy(st->path, pf_next(&c), sizeof(st->path)) >= sizeof(st->path)) {
			c.i--;
			return pf_fail(&c, "file name too long");
		}
		rc = 0;
	} else if (!strcmp(verb, "del") && pf_peek_is(&c, "mark")) {
		st->kind = PF_ST_MARK;
		st->mark_del = true;
		pf_next(&c);
		rc = pf_parse_mark(&c, st);
	} else if (!strcmp(verb, "mark")) {
		st->kind = PF_ST_MARK;
		rc = pf_parse_mark(&c, st);
	} else if (!strcmp(verb, "include-table")) {
		st->kind = PF_ST_INCLUDE_TABLE;
		if (!pf_peek(&c))
			return pf_fail(&c, "'include-table' expects a file name");
		if (pf_strlcpy(st->path, pf_next(&c), sizeof(st->path)) >= sizeof(st->path)) {
			c.i--;
			return pf_fail(&c, "file name too long");
		}
		rc = 0;
	} else if (!strcmp(verb, "source")) {
		uint64_t v = 1;

		st->kind = PF_ST_SOURCE;
		if (!pf_peek(&c))
			return pf_fail(&c, "'source' expects the name the lines after it come from");
		if (pf_strlcpy(st->path, pf_next(&c), sizeof(st->path)) >= sizeof(st->path)) {
			c.i--;
			return pf_fail(&c, "file name too long");
		}
		if (pf_peek(&c) && pf_parse_uint(pf_peek(&c), 0, INT_MAX / 2, &v))
			return pf_fail(&c, "'source' expects the number of the next line (0: "
					   "arguments, not lines)");
		if (pf_peek(&c))
			pf_next(&c);
		st->line = (int)v;
		rc = 0;
	} else if (!strcmp(verb, "del")) {
		st->kind = PF_ST_DEL;
		rc = pf_parse_selector(&c, st, true, false);
	} else if (!strcmp(verb, "kill")) {
		st->kind = PF_ST_KILL;
		rc = pf_parse_selector(&c, st, false, true);
	} else if (!strcmp(verb, "default")) {
		st->kind = PF_ST_DEFAULT;
		rc = pf_parse_default(&c, st);
	} else if (!strcmp(verb, "user")) {
		st->kind = PF_ST_USER;
		rc = pf_parse_user(&c, st);
	} else if (!strcmp(verb, "log-format")) {
		st->kind = PF_ST_DEFAULT;
		rc = pf_parse_log_format(&c, st);
	} else if (!strcmp(verb, "drain-timeout")) {
		st->kind = PF_ST_DEFAULT;
		rc = pf_parse_drain_timeout(&c, st);
	} else if (!strcmp(verb, "backend")) {
		st->kind = PF_ST_BACKEND;
		rc = pf_parse_backend_cmd(&c, st);
	} else if (!strcmp(verb, "status")) {
		st->kind = PF_ST_STATUS;
		rc = pf_parse_status(&c, st);
	} else if (!strcmp(verb, "schedule")) {
		st->kind = PF_ST_SCHEDULE;
		rc = pf_parse_selector(&c, st, false, false);
	} else {
		for (k = 0; k < PF_ARRAY_SIZE(plain); k++)
			if (!strcmp(verb, plain[k].word))
				break;
		if (k == PF_ARRAY_SIZE(plain)) {
			c.i = 0;
			return pf_fail(&c, "unknown statement; expected forward, trigger, include, "
					   "include-table, mark, default, log-format, drain-timeout, user, status, del, "
					   "kill, backend, "
					   "schedule, flush, list, conns, save or reload");
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
	if (st->fwd) {
		st->fwd->namehash = pf_name_hash(st->fwd->conf.name);
		st->fwd->checked = st->fwd->conf.check.on;
	}
	return 0;
}

void pf_stmt_free(struct pf_stmt *st)
{
	pf_forward_unref(st->fwd);
	st->fwd = NULL;
	pf_cidrset_free(&st->cidrs);
	st->kind = PF_ST_NONE;
}

bool pf_selector_match(const struct pf_selector *sel, const struct pf_forward *f)
{
	if (sel->all)
		return true;
	if (sel->name[0])
		return pf_name_hash(sel->name) == f->namehash && !strcmp(sel->name,
	       	       	       	                    f->conf.name);
	return sel->protos == f->conf.protos && !strcmp(sel->listen.host,
	       	       	                  f->conf.lhost) &&
	       !strcmp(sel->lif, f->conf.lif) &&
	       sel->listen.port_lo == f->conf.lport_lo && sel->listen.port_hi == f->conf.lport_hi;
}

/* ---- texts ---- */

int pf_conf_foreach(const char *name, const char *text, size_t len, pf_stmt_cb cb, void *arg,
		    char *err, size_t errlen)
{
	char *stmt = malloc(PF_LINE_MAX), *src = NULL;
	struct pf_where w = { .file = name }, here;
	size_t off = 0, slen = 0;
	/* Line n of the text is line n - skip of w.file; args: no lines (0). */
	int lineno = 0, skip = 0, rc = 0;
	bool args = false;

	if (!stmt) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	w.text = stmt;
	while (off < len && !rc) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t l = nl ? (size_t)(nl - (text + off)) : len - off;
		bool cont;

		lineno++;
		here = w;
		here.line = args ? 0 : lineno - skip;
		if (!slen)
			w.line = here.line;
		if (memchr(text + off, '\0', l)) {
			rc = pf_where_err(err, errlen, &here, "NUL byte in line; expected text");
			break;
		}
		while (l && (text[off + l - 1] == '\r'))
			l--;
		cont = l && text[off + l - 1] == '\\';
		if (cont)
			l--;
		if (slen + l + 2 > PF_LINE_MAX) {
			rc = pf_where_err(err, errlen, &w, "statement longer than %d bytes",
					  PF_LINE_MAX);
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
				rc = pf_where_err(err, errlen, &w, "%s", why);
				break;
			}
			if (toks.n) {
				rc = pf_parse_stmt(&toks, &w, &st, err, errlen);
				if (!rc)
					rc = cb(&st, &w, arg, err, errlen);
				if (!rc && st.kind == PF_ST_SOURCE) {
					free(src);
					src = pf_xstrdup(st.path);
					w.file = src;
					args = !st.line;
					skip = lineno + 1 - st.line;
				}
				pf_stmt_free(&st); /* parsed or not: it was cleared first */
			}
			pf_toks_free(&toks);
		}
	}
	free(src);
	free(stmt);
	return rc ? -1 : 0;
}
