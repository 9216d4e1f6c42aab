// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The classic front ends' dispatch and the helpers they share: option words,
 * forward names, and pools that grow one backend at a time (ipmasqadm's
 * several '-a' on one LADDR LPORT).
 */
#include "pfc_classic.h"
#include "../common/pf_addr.h"
#include "../common/pf_conf.h"
#include "../common/pf_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char pfc_ipmasqadm_usage[] =
	"Usage: ipmasqadm <module> <module args>\n"
	"\n"
	"Modules:\n"
	"    portfw    port forwarding          (ipmasqadm portfw -h)\n"
	"    mfw       firewall-mark forwarding (ipmasqadm mfw -h)\n"
	"    autofw    port range forwarding and port triggering (ipmasqadm autofw)\n";

void pfc_xl_free(struct pfc_xl *xl)
{
	free(xl->text);
	xl->text = NULL;
	xl->len = 0;
	pf_buf_free(&xl->out);
}

void pfc_xl_printf(struct pfc_xl *xl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pf_buf_vprintf(&xl->out, fmt, ap);
	va_end(ap);
}

int pfc_xl_usage(struct pfc_xl *xl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(xl->err, sizeof(xl->err), fmt, ap);
	va_end(ap);
	xl->kind = PFC_XL_USAGE;
	return -1;
}

int pfc_xl_error(struct pfc_xl *xl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(xl->err, sizeof(xl->err), fmt, ap);
	va_end(ap);
	xl->kind = PFC_XL_ERROR;
	return -1;
}

const char *pfc_optarg(struct pfc_args *a)
{
	const char *w = a->argv[a->i];

	if (w[0] == '-' && w[1] && w[2])
		return w + 2;
	return pfc_optnext(a);
}

const char *pfc_optnext(struct pfc_args *a)
{
	if (a->i + 1 >= a->argc)
		return NULL;
	return a->argv[++a->i];
}

const char *pfc_optpeek(const struct pfc_args *a)
{
	return a->i + 1 < a->argc ? a->argv[a->i + 1] : NULL;
}

/* Options are letters: one bit each in pfc_args.seen. */
static uint64_t pfc_opt_bit(char c)
{
	if (c >= 'a' && c <= 'z')
		return 1ULL << (c - 'a');
	if (c >= 'A' && c <= 'Z')
		return 1ULL << (26 + c - 'A');
	return 0;
}

bool pfc_seen(const struct pfc_args *a, const char *letters)
{
	for (; *letters; letters++)
		if (a->seen & pfc_opt_bit(*letters))
			return true;
	return false;
}

/* "'-X': only one of -A, -D, -C, -L": the commands in table order. */
static int pfc_walk_second_cmd(struct pfc_args *a, const char *w, const struct pfc_opt *opts,
			       size_t nopts)
{
	char list[64] = "";
	size_t k, off = 0;

	for (k = 0; k < nopts && off < sizeof(list); k++)
		if (opts[k].kind == PFC_OPT_CMD)
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s-%c",
						off ? ", " : "", opts[k].letter);
	return pfc_xl_usage(a->xl, "'%s': only one of %s", w, list);
}

int pfc_walk(struct pfc_args *a, const struct pfc_opt *opts, size_t nopts)
{
	for (a->i = 0; a->i < a->argc; a->i++) {
		const char *w = a->argv[a->i];
		const struct pfc_opt *o = NULL;
		size_t k;

		/* An option is '-' and a letter of the table; in glued mode a
		 * value may follow the letter, which only value options take. */
		if (w[0] == '-' && w[1] && (a->glued || !w[2]))
			for (k = 0; k < nopts && !o; k++)
				if (opts[k].letter == w[1])
					o = &opts[k];
		if (!o || (o->kind != PFC_OPT_VALUE && w[2]))
			return pfc_xl_usage(a->xl, "'%s': unknown option", w);
		switch (o->kind) {
		case PFC_OPT_CMD:
			if (a->cmd)
				return pfc_walk_second_cmd(a, w, opts, nopts);
			a->cmd = o->letter;
			break;
		case PFC_OPT_HELP:
			a->xl->kind = PFC_XL_HELP;
			return 1;
		case PFC_OPT_FLAG:
			break;
		case PFC_OPT_VALUE:
			if (a->seen & (pfc_opt_bit(o->letter) | pfc_opt_bit(o->pair))) {
				if (o->name)
					return pfc_xl_usage(a->xl, "'%s': %s given twice", w, o->name);
				return pfc_xl_usage(a->xl, "'%s': -%c given twice", w, o->letter);
			}
			if (o->take(a, w))
				return -1;
			break;
		}
		a->seen |= pfc_opt_bit(o->letter);
	}
	return 0;
}

int pfc_parse_port(const char *s, uint16_t *port)
{
	uint64_t v;

	if (!s || pf_parse_uint(s, 1, 65535, &v))
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int pfc_parse_proto(const char *s, uint8_t *proto)
{
	if (s && !strcmp(s, "tcp"))
		*proto = PF_PROTO_TCP;
	else if (s && !strcmp(s, "udp"))
		*proto = PF_PROTO_UDP;
	else
		return -1;
	return 0;
}

bool pfc_host_ok(const char *s)
{
	union pf_sa sa;

	if (!s || !*s || strlen(s) >= PF_HOST_MAX)
		return false;
	return !pf_sa_from_literal(s, &sa) || pf_hostname_valid(s);
}

void pfc_backend_str(const char *host, uint16_t port, char *buf, size_t len)
{
	bool v6 = strchr(host, ':') != NULL;

	if (!port)
		snprintf(buf, len, "%s", host);
	else
		snprintf(buf, len, v6 ? "[%s]:%u" : "%s:%u", host, port);
}

int pfc_make_name(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len || (size_t)n >= PF_NAME_MAX)
		return -1;
	/* Names hold letters, digits, '-', '_' and '.': an IPv6 address's
	 * colons (or anything odd in a host name) become '_'. */
	for (p = out; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			*p = '_';
	return 0;
}

int pfc_pool_add(struct pfc_xl *xl, const struct pf_table *cur, const char *name,
		 const char *listen, const char *options, const char *host, uint16_t port,
		 uint32_t pref, bool head)
{
	const struct pf_forward *f = pf_table_find_name(cur, name);
	struct pf_forward *c;
	struct pf_backend *be, *nbe;
	char b[PF_HOST_MAX + 16], *line;
	uint32_t i;

	pfc_backend_str(host, port, b, sizeof(b));
	if (!f) {
		pfc_xl_printf(xl, "forward name %s %s to %s weight %u balance pref%s%s\n", name,
			      listen, b, pref, options[0] ? " " : "", options);
		return 0;
	}
	for (i = 0; i < f->nbe; i++)
		if (!strcmp(f->be[i].conf.host, host) && f->be[i].conf.port_lo == port)
			return pfc_xl_error(xl, "'%s': already in the pool of forward '%s'; "
						"expected another RADDR RPORT (or -E to change its "
						"pref)",
					    b, name);
	if (f->nbe >= PF_BACKENDS_MAX)
		return pfc_xl_error(xl, "forward '%s' has %d backends, the most a pool holds",
				    name, PF_BACKENDS_MAX);
	/* The running forward is replaced by a copy with one more backend; its
	 * other options stay as they are, whoever set them. */
	c = pf_forward_clone(f);
	nbe = realloc(c->be, (c->nbe + 1) * sizeof(*nbe));
	if (!nbe) {
		pf_forward_unref(c);
		return pfc_xl_error(xl, "out of memory");
	}
	c->be = nbe;
	if (head)
		memmove(&c->be[1], &c->be[0], c->nbe * sizeof(c->be[0]));
	be = &c->be[head ? 0 : c->nbe];
	memset(be, 0, sizeof(*be));
	pf_xstrset(&be->conf.host, host);
	be->conf.bracketed = port && strchr(host, ':');
	be->conf.port_lo = be->conf.port_hi = port;
	be->conf.weight = pref;
	c->nbe++;
	line = pf_xcalloc(1, PF_LINE_MAX);
	pf_forward_format(c, line, PF_LINE_MAX);
	pfc_xl_printf(xl, "del name %s\n%s\n", name, line);
	free(line);
	pf_forward_unref(c);
	return 0;
}

void pfc_del_prefix(struct pfc_xl *xl, const struct pf_table *cur, const char *prefix)
{
	size_t i, n = strlen(prefix);

	for (i = 0; i < cur->n; i++)
		if (!strncmp(cur->fwd[i]->conf.name, prefix, n))
			pfc_xl_printf(xl, "del name %s\n", cur->fwd[i]->conf.name);
}

void pfc_classic_xlate(const char *prog, int argc, char *const *argv, const struct pf_table *cur,
		       struct pfc_xl *xl)
{
	memset(xl, 0, sizeof(*xl));
	xl->kind = PFC_XL_SEND;
	if (!strcmp(prog, "ipportfw")) {
		xl->tool = "ipportfw";
		xl->usage = pfc_ipportfw_usage;
		pfc_ipportfw_xlate(argc, argv, cur, xl);
	} else if (argc && !strcmp(argv[0], "portfw")) {
		xl->tool = "ipmasqadm portfw";
		xl->usage = pfc_mpfw_usage;
		pfc_mpfw_xlate(argc - 1, argv + 1, cur, xl);
	} else if (argc && !strcmp(argv[0], "mfw")) {
		xl->tool = "ipmasqadm mfw";
		xl->usage = pfc_mfw_usage;
		pfc_mfw_xlate(argc - 1, argv + 1, cur, xl);
	} else if (argc && !strcmp(argv[0], "autofw")) {
		xl->tool = "ipmasqadm autofw";
		xl->usage = pfc_autofw_usage;
		pfc_autofw_xlate(argc - 1, argv + 1, cur, xl);
	} else {
		xl->tool = "ipmasqadm";
		xl->usage = pfc_ipmasqadm_usage;
		if (argc && (!strcmp(argv[0], "-h") || !strcmp(argv[0], "--help")))
			xl->kind = PFC_XL_HELP;
		else if (argc)
			pfc_xl_usage(xl, "'%s': unknown module; expected portfw, mfw or autofw",
				     argv[0]);
		else
			pfc_xl_usage(xl, "expected a module: portfw, mfw or autofw");
	}
	/* An empty change is no change: say so rather than send nothing. */
	if (xl->kind == PFC_XL_SEND && !xl->out.len)
		xl->kind = PFC_XL_NOTHING;
	if (xl->kind == PFC_XL_SEND) {
		xl->text = pf_buf_detach(&xl->out, &xl->len);
		if (!xl->text)
			pfc_xl_error(xl, "out of memory");
	}
	if (xl->kind != PFC_XL_SEND)
		pfc_xl_free(xl);
}

int pfc_opt_pref(struct pfc_args *a, const char *opt, uint32_t *pref)
{
	const char *v = pfc_optarg(a);
	uint64_t n;

	if (!v || pf_parse_uint(v, 0, PF_WEIGHT_MAX, &n))
		return pfc_xl_usage(a->xl, "'%s': -p expects a preference 0-%d", v ? v : opt,
				    PF_WEIGHT_MAX);
	*pref = (uint32_t)n;
	return 0;
}
