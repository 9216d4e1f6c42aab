// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ipportfw, the Linux 2.0 port forwarding tool (seed 001):
 *
 *   ipportfw -A -t|-u LADDR/LPORT -R RADDR/RPORT [-p PREF]
 *   ipportfw -D -t|-u LADDR/LPORT
 *   ipportfw -C | -L [-n] | -h
 *
 * "-t194.160.1.1/80" (glued, as the seed writes it) and "-t 194.160.1.1/80"
 * both work. An entry is the forward portfw-PROTO-LADDR-LPORT, shared with
 * 'ipmasqadm portfw': a second -A on one LADDR/LPORT joins its pref pool.
 */
#include "pfc_classic.h"
#include "../common/pf_util.h"

#include <stdio.h>
#include <string.h>

const char pfc_ipportfw_usage[] =
	"ipportfw Usage:\n"
	"  ipportfw -A -[t|u] l.l.l.l/lport -R a.a.a.a/rport [-p pref]  add entry\n"
	"  ipportfw -D -[t|u] l.l.l.l/lport                             delete entry\n"
	"  ipportfw -C                                                  clear table\n"
	"  ipportfw -L [-n]                                             list table\n"
	"\n"
	"l.l.l.l is the local interface receiving packets to be forwarded.\n"
	"a.a.a.a is the remote address.\n"
	"lport is the port being redirected.\n"
	"rport is the port being redirected to.\n"
	"pref is the preference level (load balancing, default 10).\n";

struct pfc_ipp {
	char cmd; /* A D C L */
	uint8_t proto;
	char lhost[PF_HOST_MAX], rhost[PF_HOST_MAX];
	uint16_t lport, rport;
	uint32_t pref;
};

/* "ADDR/PORT" */
static int pfc_ipp_addr(struct pfc_xl *xl, const char *opt, const char *s, char *host,
			uint16_t *port)
{
	const char *slash = s ? strrchr(s, '/') : NULL;

	if (!s)
		return pfc_xl_usage(xl, "'%s': expected an address/port after it", opt);
	if (!slash || (size_t)(slash - s) >= PF_HOST_MAX)
		return pfc_xl_usage(xl, "'%s': expected address/port, e.g. 192.0.2.1/80", s);
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = '\0';
	if (!pfc_host_ok(host))
		return pfc_xl_usage(xl, "'%s': '%s' is not an address; expected address/port", s,
				    host);
	if (pfc_parse_port(slash + 1, port))
		return pfc_xl_usage(xl, "'%s': '%s' is not a port 1-65535; expected address/port",
				    s, slash + 1);
	return 0;
}

/* -t/-u l.l.l.l/lport */
static int pfc_ipp_listen(struct pfc_args *a, const char *opt)
{
	struct pfc_ipp *p = a->out;

	p->proto = opt[1] == 't' ? PF_PROTO_TCP : PF_PROTO_UDP;
	return pfc_ipp_addr(a->xl, opt, pfc_optarg(a), p->lhost, &p->lport);
}

/* -R a.a.a.a/rport */
static int pfc_ipp_remote(struct pfc_args *a, const char *opt)
{
	struct pfc_ipp *p = a->out;

	return pfc_ipp_addr(a->xl, opt, pfc_optarg(a), p->rhost, &p->rport);
}

/* -p pref */
static int pfc_ipp_pref(struct pfc_args *a, const char *opt)
{
	struct pfc_ipp *p = a->out;
	const char *v = pfc_optarg(a);
	uint64_t n;

	if (!v || pf_parse_uint(v, 0, PF_WEIGHT_MAX, &n))
		return pfc_xl_usage(a->xl, "'%s': -p expects a preference 0-%d", v ? v : opt,
				    PF_WEIGHT_MAX);
	p->pref = (uint32_t)n;
	return 0;
}

static const struct pfc_opt pfc_ipp_opts[] = {
	{ 'A', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'D', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'C', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'L', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'h', PFC_OPT_HELP, 0, NULL, NULL },
	{ 'n', PFC_OPT_FLAG, 0, NULL, NULL },
	{ 't', PFC_OPT_VALUE, 'u', "-t or -u", pfc_ipp_listen },
	{ 'u', PFC_OPT_VALUE, 't', "-t or -u", pfc_ipp_listen },
	{ 'R', PFC_OPT_VALUE, 0, NULL, pfc_ipp_remote },
	{ 'p', PFC_OPT_VALUE, 0, NULL, pfc_ipp_pref },
};

static int pfc_ipp_parse(int argc, char *const *argv, struct pfc_xl *xl, struct pfc_ipp *p)
{
	struct pfc_args a = { .argc = argc, .argv = argv, .xl = xl, .out = p, .glued = true };
	bool have_l, have_r, have_p;
	int rc;

	p->pref = PFC_PORTFW_PREF_DEFAULT;
	rc = pfc_walk(&a, pfc_ipp_opts, PF_ARRAY_SIZE(pfc_ipp_opts));
	if (rc)
		return rc;
	p->cmd = a.cmd;
	xl->numeric = pfc_seen(&a, "n");
	have_l = pfc_seen(&a, "tu");
	have_r = pfc_seen(&a, "R");
	have_p = pfc_seen(&a, "p");
	if (!p->cmd)
		return pfc_xl_usage(xl, "expected a command: -A, -D, -C or -L");
	if ((p->cmd == 'A' || p->cmd == 'D') && !have_l)
		return pfc_xl_usage(xl, "-%c: expected -t or -u and l.l.l.l/lport", p->cmd);
	if (p->cmd == 'A' && !have_r)
		return pfc_xl_usage(xl, "-A: expected -R a.a.a.a/rport");
	if (p->cmd != 'A' && (have_r || have_p))
		return pfc_xl_usage(xl, "'%s': only -A takes it", have_r ? "-R" : "-p");
	if ((p->cmd == 'C' || p->cmd == 'L') && have_l)
		return pfc_xl_usage(xl, "-%c: takes no address", p->cmd);
	return 0;
}

void pfc_ipportfw_xlate(int argc, char *const *argv, const struct pf_table *cur,
			struct pfc_xl *xl)
{
	struct pfc_ipp p = { 0 };
	char name[PF_NAME_MAX], listen[PF_HOST_MAX + 24];

	if (pfc_ipp_parse(argc, argv, xl, &p))
		return;
	if (p.cmd == 'L') {
		xl->kind = PFC_XL_LIST;
		xl->list = PFC_LIST_IPPORTFW;
		return;
	}
	if (p.cmd == 'D' || p.cmd == 'A') {
		if (pfc_make_name(name, sizeof(name), PFC_PORTFW_PREFIX "%s-%s-%u",
				  pf_proto_name(p.proto), p.lhost, p.lport)) {
			pfc_xl_usage(xl, "'%s': too long for a forward name", p.lhost);
			return;
		}
	}
	if (p.cmd == 'D') {
		pfc_xl_printf(xl, "del name %s\n", name);
		return;
	}
	if (!cur) {
		xl->kind = PFC_XL_NEED_TABLE;
		return;
	}
	if (p.cmd == 'C') {
		pfc_del_prefix(xl, cur, PFC_PORTFW_PREFIX);
		return;
	}
	/* "tcp 192.0.2.1:80": the listen part of a new forward. */
	snprintf(listen, sizeof(listen), "%s ", pf_proto_name(p.proto));
	pfc_backend_str(p.lhost, p.lport, listen + strlen(listen), sizeof(listen) - strlen(listen));
	pfc_pool_add(xl, cur, name, listen, "", p.rhost, p.rport, p.pref, false);
}
