// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ipmasqadm mfw, firewall-mark forwarding (seed 002):
 *
 *   mfw -A|-I -m MARK -r RADDR [RPORT] [-p PREF]   add (-I: at the head)
 *   mfw -D -m MARK [-r RADDR [RPORT]]              delete
 *   mfw -E -m MARK [-r RADDR [RPORT]] [-p PREF]    edit the pref
 *   mfw -S -m MARK                                 force scheduling
 *   mfw -F | -L [-n] | -h
 *
 * ipchains marked the packets; here a 'mark N [PROTO LISTEN] [from CIDR,...]'
 * line of the table says what mark N is, and mark N's entries are the pref
 * pool of forward mfw-N, built from the mark: its listen address and its
 * sources ('from'). A mark without PROTO LISTEN is the whole host (every
 * port, TCP, UDP and ICMP): the kernel engine's 'all' forward.
 */
#include "pfc_classic.h"
#include "../common/pf_conf.h"
#include "../common/pf_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char pfc_mfw_usage[] =
	"Usage: mfw -A -m FWMARK -r RADDR RPORT [-p PREF] add entry\n"
	"mfw -I -m FWMARK -r RADDR RPORT [-p PREF]        insert entry (at the head)\n"
	"mfw -D -m FWMARK [-r RADDR RPORT]                delete entry\n"
	"mfw -E -m FWMARK [-r RADDR RPORT] [-p PREF]      edit entry\n"
	"mfw -S -m FWMARK                                 force scheduling\n"
	"mfw -F                                           clear table\n"
	"mfw -L                                           list table\n"
	"mfw <args> -n                                    no names\n"
	"\n"
	"FWMARK is the mark, defined by a 'mark' line of the table (it stands in for\n"
	"       the ipchains -m rule): portfw mark FWMARK [PROTO LISTEN] [from CIDR,...]\n"
	"RADDR is the remote address; RPORT the port (none: the same port, or the\n"
	"       whole host when the mark has no PROTO LISTEN)\n"
	"PREF  is the preference level (load balancing, default=10; 0: never\n"
	"       rotated, only by -S)\n";

struct pfc_mfw {
	char cmd; /* A I D E S F L */
	uint32_t mark;
	char rhost[PF_HOST_MAX];
	uint16_t rport;
	uint32_t pref;
	bool have_m, have_r, have_p;
};

/* -m FWMARK */
static int pfc_mfw_mark(struct pfc_args *a, const char *opt)
{
	struct pfc_mfw *m = a->out;
	const char *v = pfc_optarg(a);
	uint64_t n;

	if (!v || pf_parse_uint(v, 1, UINT32_MAX, &n))
		return pfc_xl_usage(a->xl, "'%s': -m expects a mark 1-4294967295", v ? v : opt);
	m->mark = (uint32_t)n;
	return 0;
}

/* -r RADDR [RPORT] */
static int pfc_mfw_remote(struct pfc_args *a, const char *opt)
{
	struct pfc_mfw *m = a->out;
	const char *v = pfc_optarg(a);

	if (!v || !pfc_host_ok(v))
		return pfc_xl_usage(a->xl, "'%s': -r expects RADDR [RPORT]", v ? v : opt);
	pf_strlcpy(m->rhost, v, sizeof(m->rhost));
	/* RPORT is optional: the next word, unless it is an option. */
	v = pfc_optpeek(a);
	if (v && v[0] != '-') {
		v = pfc_optnext(a);
		if (pfc_parse_port(v, &m->rport))
			return pfc_xl_usage(a->xl, "'%s': expected a port 1-65535 after -r %s", v,
					    m->rhost);
	}
	return 0;
}

/* -p PREF */
static int pfc_mfw_pref(struct pfc_args *a, const char *opt)
{
	struct pfc_mfw *m = a->out;

	return pfc_opt_pref(a, opt, &m->pref);
}

static const struct pfc_opt pfc_mfw_opts[] = {
	{ 'A', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'I', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'D', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'E', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'S', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'F', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'L', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'h', PFC_OPT_HELP, 0, NULL, NULL },
	{ 'n', PFC_OPT_FLAG, 0, NULL, NULL },
	{ 'm', PFC_OPT_VALUE, 0, NULL, pfc_mfw_mark },
	{ 'r', PFC_OPT_VALUE, 0, NULL, pfc_mfw_remote },
	{ 'p', PFC_OPT_VALUE, 0, NULL, pfc_mfw_pref },
};

static int pfc_mfw_parse(int argc, char *const *argv, struct pfc_xl *xl, struct pfc_mfw *m)
{
	struct pfc_args a = { .argc = argc, .argv = argv, .xl = xl, .out = m, .glued = true };
	int rc;

	m->pref = PFC_MFW_PREF_DEFAULT;
	rc = pfc_walk(&a, pfc_mfw_opts, PF_ARRAY_SIZE(pfc_mfw_opts));
	if (rc)
		return rc;
	m->cmd = a.cmd;
	xl->numeric = pfc_seen(&a, "n");
	m->have_m = pfc_seen(&a, "m");
	m->have_r = pfc_seen(&a, "r");
	m->have_p = pfc_seen(&a, "p");
	if (!m->cmd)
		return pfc_xl_usage(xl, "expected a command: -A, -I, -D, -E, -S, -F or -L");
	if (strchr("AIDES", m->cmd) && !m->have_m)
		return pfc_xl_usage(xl, "-%c: expected -m FWMARK", m->cmd);
	if (strchr("FL", m->cmd) && (m->have_m || m->have_r || m->have_p))
		return pfc_xl_usage(xl, "-%c: takes no -m, -r or -p", m->cmd);
	if ((m->cmd == 'A' || m->cmd == 'I') && !m->have_r)
		return pfc_xl_usage(xl, "-%c: expected -r RADDR [RPORT]", m->cmd);
	if ((m->cmd == 'D' || m->cmd == 'S') && m->have_p)
		return pfc_xl_usage(xl, "'-p': -%c takes no preference", m->cmd);
	if (m->cmd == 'S' && m->have_r)
		return pfc_xl_usage(xl, "'-r': -S takes only -m FWMARK");
	return 0;
}

/* -A/-I: the first entry of a mark makes forward mfw-N from the mark. */
static void pfc_mfw_add(const struct pfc_mfw *m, const struct pf_table *cur, const char *name,
			struct pfc_xl *xl)
{
	const struct pf_mark *mk = pf_table_find_mark(cur, m->mark);
	char listen[PF_HOST_MAX + 32], *opts;
	size_t off = 0, olen = PF_LINE_MAX;

	if (!mk) {
		pfc_xl_error(xl, "'%u': no mark %u in the table; expected 'portfw mark %u [PROTO "
				 "LISTEN] from CIDR[,CIDR...]' first (it stands in for the "
				 "ipchains -m %u rule)",
			     m->mark, m->mark, m->mark, m->mark);
		return;
	}
	/* A mark holds up to 1024 networks: its 'from' can be long. */
	opts = pf_xcalloc(1, olen);
	if (mk->from.n) {
		off = (size_t)snprintf(opts, olen, "from ");
		pf_cidrset_format(&mk->from, opts + off, olen - off);
		off = strlen(opts);
	}
	if (!mk->protos) {
		/* No port on the mark: the whole host, every protocol (ICMP too),
		 * which only the kernel engine can carry. */
		if (m->rport) {
			pfc_xl_error(xl, "'%u': mark %u has no PROTO LISTEN (the whole host), so "
					 "its entries take no RPORT; expected -r RADDR alone",
				     m->rport, m->mark);
			free(opts);
			return;
		}
		snprintf(listen, sizeof(listen), "all any");
		snprintf(opts + off, olen - off, "%sengine kernel", off ? " " : "");
	} else {
		const char *l = mk->lbracketed ? "[" : "", *r = mk->lbracketed ? "]" : "";

		if (mk->lport_lo == mk->lport_hi)
			snprintf(listen, sizeof(listen), "%s %s%s%s:%u", pf_proto_name(mk->protos),
				 l, mk->lhost, r, mk->lport_lo);
		else
			snprintf(listen, sizeof(listen), "%s %s%s%s:%u-%u",
				 pf_proto_name(mk->protos), l, mk->lhost, r, mk->lport_lo,
				 mk->lport_hi);
	}
	pfc_pool_add(xl, cur, name, listen, opts, m->rhost, m->rport, m->pref, m->cmd == 'I');
	free(opts);
}

/* -E: the pref of one entry, or of every entry of the mark. */
static void pfc_mfw_edit(const struct pfc_mfw *m, const struct pf_table *cur, const char *name,
			 struct pfc_xl *xl)
{
	const struct pf_forward *f = pf_table_find_name(cur, name);
	char be[PF_HOST_MAX + 16];
	uint32_t i;

	if (!f) {
		pfc_xl_error(xl, "'%u': mark %u has no entries (no forward %s)", m->mark, m->mark,
			     name);
		return;
	}
	for (i = 0; i < f->nbe; i++) {
		if (m->have_r &&
		    (strcmp(f->be[i].conf.host, m->rhost) != 0 || f->be[i].conf.port_lo != m->rport))
			continue;
		pf_backend_format(&f->be[i], be, sizeof(be));
		pfc_xl_printf(xl, "backend name %s %s weight %u\n", name, be, m->pref);
	}
	if (!xl->out.len) {
		pfc_backend_str(m->rhost, m->rport, be, sizeof(be));
		pfc_xl_error(xl, "'%s': not an entry of mark %u", be, m->mark);
	}
}

void pfc_mfw_xlate(int argc, char *const *argv, const struct pf_table *cur, struct pfc_xl *xl)
{
	struct pfc_mfw m = { 0 };
	char name[PF_NAME_MAX], be[PF_HOST_MAX + 16];

	if (pfc_mfw_parse(argc, argv, xl, &m))
		return;
	snprintf(name, sizeof(name), PFC_MFW_PREFIX "%u", m.mark);
	switch (m.cmd) {
	case 'L':
		xl->kind = PFC_XL_LIST;
		xl->list = PFC_LIST_MFW;
		return;
	case 'D':
		pfc_backend_str(m.rhost, m.rport, be, sizeof(be));
		pfc_xl_printf(xl, "del name %s%s%s\n", name, m.have_r ? " " : "",
			      m.have_r ? be : "");
		return;
	case 'S':
		pfc_xl_printf(xl, "schedule name %s\n", name);
		return;
	default:
		break;
	}
	if (!cur) {
		xl->kind = PFC_XL_NEED_TABLE;
		return;
	}
	if (m.cmd == 'F')
		pfc_del_prefix(xl, cur, PFC_MFW_PREFIX);
	else if (m.cmd == 'E')
		pfc_mfw_edit(&m, cur, name, xl);
	else
		pfc_mfw_add(&m, cur, name, xl);
}
