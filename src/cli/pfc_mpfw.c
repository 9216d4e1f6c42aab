// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ipmasqadm portfw (seed 002):
 *
 *   portfw -a -P PROTO -L LADDR LPORT -R RADDR RPORT [-p PREF]
 *   portfw -d -P PROTO -L LADDR LPORT [-R RADDR RPORT]
 *   portfw -f | -l [-n] | -h
 *
 * An LADDR LPORT is the forward portfw-PROTO-LADDR-LPORT with 'balance pref'
 * (ipmasqadm's pcnt/pref rotation): each -a adds a backend at the end of its
 * list, so '-p 15' then '-p 5' gives 15 flows to the first, then 5 to the
 * second. -d -R takes one backend out; -d alone, the whole entry.
 */
#include "pfc_classic.h"
#include "../common/pf_util.h"

#include <stdio.h>
#include <string.h>

const char pfc_mpfw_usage[] =
	"Usage: portfw -a -P PROTO -L LADDR LPORT -R RADDR RPORT [-p PREF] add entry\n"
	"portfw -d -P PROTO -L LADDR LPORT [-R RADDR RPORT]                delete entry\n"
	"portfw -f                                                         clear table\n"
	"portfw -l                                                         list table\n"
	"portfw <args> -n                                                  no names\n"
	"\n"
	"PROTO is the protocol, can be \"tcp\" or \"udp\"\n"
	"LADDR is the local interface receiving packets to be forwarded\n"
	"LPORT is the port being redirected\n"
	"RADDR is the remote address\n"
	"RPORT is the port being redirected to\n"
	"PREF  is the preference level (load balancing, default=10)\n";

struct pfc_mpfw {
	char cmd; /* a d f l */
	uint8_t proto;
	char lhost[PF_HOST_MAX], rhost[PF_HOST_MAX];
	uint16_t lport, rport;
	uint32_t pref;
	bool have_l, have_r, have_p;
};

/* -L LADDR LPORT, -R RADDR RPORT */
static int pfc_mpfw_pair(struct pfc_args *a, const char *opt)
{
	struct pfc_mpfw *m = a->out;
	char *host = opt[1] == 'L' ? m->lhost : m->rhost;
	uint16_t *port = opt[1] == 'L' ? &m->lport : &m->rport;
	const char *h = pfc_optarg(a), *p;

	if (!h)
		return pfc_xl_usage(a->xl, "'%s': expected an address and a port after it", opt);
	if (!pfc_host_ok(h))
		return pfc_xl_usage(a->xl, "'%s': expected an address (or host name) after %.2s",
				    h, opt);
	pf_strlcpy(host, h, PF_HOST_MAX);
	p = pfc_optnext(a);
	if (!p)
		return pfc_xl_usage(a->xl, "'%s': expected a port after the address %s", opt, h);
	if (pfc_parse_port(p, port))
		return pfc_xl_usage(a->xl, "'%s': expected a port 1-65535 after %.2s %s", p, opt,
				    h);
	return 0;
}

/* -P tcp|udp */
static int pfc_mpfw_proto(struct pfc_args *a, const char *opt)
{
	struct pfc_mpfw *m = a->out;
	const char *v = pfc_optarg(a);

	if (pfc_parse_proto(v, &m->proto))
		return pfc_xl_usage(a->xl, "'%s': -P expects tcp or udp", v ? v : opt);
	return 0;
}

/* -p PREF */
static int pfc_mpfw_pref(struct pfc_args *a, const char *opt)
{
	struct pfc_mpfw *m = a->out;

	return pfc_opt_pref(a, opt, &m->pref);
}

static const struct pfc_opt pfc_mpfw_opts[] = {
	{ 'a', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'd', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'f', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'l', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'h', PFC_OPT_HELP, 0, NULL, NULL },
	{ 'n', PFC_OPT_FLAG, 0, NULL, NULL },
	{ 'P', PFC_OPT_VALUE, 0, NULL, pfc_mpfw_proto },
	{ 'L', PFC_OPT_VALUE, 0, NULL, pfc_mpfw_pair },
	{ 'R', PFC_OPT_VALUE, 0, NULL, pfc_mpfw_pair },
	{ 'p', PFC_OPT_VALUE, 0, NULL, pfc_mpfw_pref },
};

static int pfc_mpfw_parse(int argc, char *const *argv, struct pfc_xl *xl, struct pfc_mpfw *m)
{
	struct pfc_args a = { .argc = argc, .argv = argv, .xl = xl, .out = m, .glued = true };
	bool have_proto;
	int rc;

	m->pref = PFC_PORTFW_PREF_DEFAULT;
	rc = pfc_walk(&a, pfc_mpfw_opts, PF_ARRAY_SIZE(pfc_mpfw_opts));
	if (rc)
		return rc;
	m->cmd = a.cmd;
	xl->numeric = pfc_seen(&a, "n");
	have_proto = pfc_seen(&a, "P");
	m->have_l = pfc_seen(&a, "L");
	m->have_r = pfc_seen(&a, "R");
	m->have_p = pfc_seen(&a, "p");
	if (!m->cmd)
		return pfc_xl_usage(xl, "expected a command: -a, -d, -f or -l");
	if (m->cmd == 'a' || m->cmd == 'd') {
		if (!have_proto)
			return pfc_xl_usage(xl, "-%c: expected -P tcp|udp", m->cmd);
		if (!m->have_l)
			return pfc_xl_usage(xl, "-%c: expected -L LADDR LPORT", m->cmd);
	} else if (have_proto || m->have_l || m->have_r) {
		return pfc_xl_usage(xl, "-%c: takes no -P, -L or -R", m->cmd);
	}
	if (m->cmd == 'a' && !m->have_r)
		return pfc_xl_usage(xl, "-a: expected -R RADDR RPORT");
	if (m->cmd != 'a' && m->have_p)
		return pfc_xl_usage(xl, "'-p': only -a takes a preference");
	return 0;
}

void pfc_mpfw_xlate(int argc, char *const *argv, const struct pf_table *cur, struct pfc_xl *xl)
{
	struct pfc_mpfw m = { 0 };
	char name[PF_NAME_MAX], listen[PF_HOST_MAX + 24], be[PF_HOST_MAX + 16];

	if (pfc_mpfw_parse(argc, argv, xl, &m))
		return;
	if (m.cmd == 'l') {
		xl->kind = PFC_XL_LIST;
		xl->list = PFC_LIST_PORTFW;
		return;
	}
	if (m.cmd != 'f' && pfc_make_name(name, sizeof(name), PFC_PORTFW_PREFIX "%s-%s-%u",
					  pf_proto_name(m.proto), m.lhost, m.lport)) {
		pfc_xl_usage(xl, "'%s': too long for a forward name", m.lhost);
		return;
	}
	if (m.cmd == 'd') {
		/* With -R, only that backend leaves (the last one takes the forward). */
		pfc_backend_str(m.rhost, m.rport, be, sizeof(be));
		pfc_xl_printf(xl, "del name %s%s%s\n", name, m.have_r ? " " : "",
			      m.have_r ? be : "");
		return;
	}
	if (!cur) {
		xl->kind = PFC_XL_NEED_TABLE;
		return;
	}
	if (m.cmd == 'f') {
		pfc_del_prefix(xl, cur, PFC_PORTFW_PREFIX);
		return;
	}
	snprintf(listen, sizeof(listen), "%s ", pf_proto_name(m.proto));
	pfc_backend_str(m.lhost, m.lport, listen + strlen(listen), sizeof(listen) - strlen(listen));
	pfc_pool_add(xl, cur, name, listen, "", m.rhost, m.rport, m.pref, false);
}
