// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ipmasqadm autofw, the old ipautofw (seed 002):
 *
 *   autofw -A -r PROTO LOW HIGH -h HOST [-u]         the range to a hidden host
 *   autofw -A -r PROTO LOW HIGH -c PROTO PORT [-u]   port triggering
 *   autofw -D -r PROTO LOW HIGH [...]                delete
 *   autofw -F                                        flush
 *
 * A hidden host is a plain range forward, autofw-PROTO-LOW-HIGH. Port
 * triggering is the kernel engine's 'trigger': the range goes to whichever
 * inside host last sent to the control port, for 15 s after it did (the old
 * default), or 15 minutes with -u ("timeouts longer than 15 s").
 */
#include "pfc_classic.h"
#include "../common/pf_util.h"

#include <stdio.h>
#include <string.h>

#define PFC_AUTOFW_TIMEOUT "15s"
#define PFC_AUTOFW_TIMEOUT_LONG "15m" /* -u */

const char pfc_autofw_usage[] =
	"Usage:\n"
	"    ipautofw <command> <options>\n"
	"\n"
	"Valid commands:\n"
	"    -A                           add new autoforward entry\n"
	"    -D                           delete an autoforward entry\n"
	"    -F                           flush the autoforward table\n"
	"\n"
	"Valid options:\n"
	"    -r <proto> <low> <high>      the port range to forward (proto: tcp or udp)\n"
	"    -h <host>                    forward the range to this hidden host\n"
	"    -c <proto> <port>            control port: forward the range to the inside\n"
	"                                 host that last sent to it (port triggering)\n"
	"    -u                           timeouts longer than the default 15 seconds\n"
	"                                 (port triggering: 15 minutes)\n"
	"    -v                           verbose: print the statements sent\n";

struct pfc_afw {
	char cmd; /* A D F */
	uint8_t proto, cproto;
	uint16_t lo, hi, cport;
	char host[PF_HOST_MAX];
	bool have_r, have_h, have_c, longer;
};

/* -r PROTO LOW HIGH */
static int pfc_afw_range(struct pfc_args *a, const char *opt)
{
	struct pfc_afw *w = a->out;
	const char *v = pfc_optnext(a);

	if (pfc_parse_proto(v, &w->proto))
		return pfc_xl_usage(a->xl, "'%s': -r expects tcp or udp, then LOW HIGH", v ? v : opt);
	v = pfc_optnext(a);
	if (pfc_parse_port(v, &w->lo))
		return pfc_xl_usage(a->xl, "'%s': -r %s expects a low port 1-65535", v ? v : opt,
				    pf_proto_name(w->proto));
	v = pfc_optnext(a);
	if (pfc_parse_port(v, &w->hi) || w->hi < w->lo)
		return pfc_xl_usage(a->xl, "'%s': -r %s %u expects a high port %u-65535",
				    v ? v : opt, pf_proto_name(w->proto), w->lo, w->lo);
	return 0;
}

/* -h HOST */
static int pfc_afw_host(struct pfc_args *a, const char *opt)
{
	struct pfc_afw *w = a->out;
	const char *v = pfc_optnext(a);

	if (!v || !pfc_host_ok(v))
		return pfc_xl_usage(a->xl, "'%s': -h expects the hidden host's address",
				    v ? v : opt);
	pf_strlcpy(w->host, v, sizeof(w->host));
	return 0;
}

/* -c PROTO PORT */
static int pfc_afw_control(struct pfc_args *a, const char *opt)
{
	struct pfc_afw *w = a->out;
	const char *v = pfc_optnext(a);

	if (pfc_parse_proto(v, &w->cproto))
		return pfc_xl_usage(a->xl, "'%s': -c expects tcp or udp, then PORT", v ? v : opt);
	v = pfc_optnext(a);
	if (pfc_parse_port(v, &w->cport))
		return pfc_xl_usage(a->xl, "'%s': -c %s expects a port 1-65535", v ? v : opt,
				    pf_proto_name(w->cproto));
	return 0;
}

/* ipautofw's options are single letters only, and -h is the hidden host. */
static const struct pfc_opt pfc_afw_opts[] = {
	{ 'A', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'D', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'F', PFC_OPT_CMD, 0, NULL, NULL },
	{ 'u', PFC_OPT_FLAG, 0, NULL, NULL },
	{ 'v', PFC_OPT_FLAG, 0, NULL, NULL },
	{ 'r', PFC_OPT_VALUE, 0, NULL, pfc_afw_range },
	{ 'h', PFC_OPT_VALUE, 0, NULL, pfc_afw_host },
	{ 'c', PFC_OPT_VALUE, 0, NULL, pfc_afw_control },
};

static int pfc_afw_parse(int argc, char *const *argv, struct pfc_xl *xl, struct pfc_afw *w)
{
	struct pfc_args a = { .argc = argc, .argv = argv, .xl = xl, .out = w };
	int rc;

	if (!argc) /* as ipautofw did: no arguments, the usage */
		return pfc_xl_usage(xl, "%s", "");
	rc = pfc_walk(&a, pfc_afw_opts, PF_ARRAY_SIZE(pfc_afw_opts));
	if (rc)
		return rc;
	w->cmd = a.cmd;
	w->longer = pfc_seen(&a, "u");
	xl->verbose = pfc_seen(&a, "v");
	w->have_r = pfc_seen(&a, "r");
	w->have_h = pfc_seen(&a, "h");
	w->have_c = pfc_seen(&a, "c");
	if (!w->cmd)
		return pfc_xl_usage(xl, "expected a command: -A, -D or -F");
	if (w->cmd == 'F' && (w->have_r || w->have_h || w->have_c))
		return pfc_xl_usage(xl, "-F: takes no -r, -h or -c");
	if (w->cmd != 'F' && !w->have_r)
		return pfc_xl_usage(xl, "-%c: expected -r PROTO LOW HIGH", w->cmd);
	if (w->have_h && w->have_c)
		return pfc_xl_usage(xl, "'-c': expected either -h HOST or -c PROTO PORT, not both");
	if (w->cmd == 'A' && !w->have_h && !w->have_c)
		return pfc_xl_usage(xl, "-A: expected -h HOST or -c PROTO PORT");
	return 0;
}

void pfc_autofw_xlate(int argc, char *const *argv, const struct pf_table *cur, struct pfc_xl *xl)
{
	struct pfc_afw w = { 0 };
	char name[PF_NAME_MAX];

	if (pfc_afw_parse(argc, argv, xl, &w))
		return;
	snprintf(name, sizeof(name), PFC_AUTOFW_PREFIX "%s-%u-%u", pf_proto_name(w.proto), w.lo,
		 w.hi);
	switch (w.cmd) {
	case 'D':
		pfc_xl_printf(xl, "del name %s\n", name);
		return;
	case 'F':
		if (!cur) {
			xl->kind = PFC_XL_NEED_TABLE;
			return;
		}
		pfc_del_prefix(xl, cur, PFC_AUTOFW_PREFIX);
		return;
	default:
		break;
	}
	if (w.have_h) {
		/* The hidden host gets the range on the same ports. portfw's flow
		 * timeouts (UDP 30 s unreplied, 120 s replied; TCP 2 h idle) are
		 * already past the old 15 s, so -u changes nothing here. */
		char range[16];

		if (w.lo == w.hi)
			snprintf(range, sizeof(range), "%u", w.lo);
		else
			snprintf(range, sizeof(range), "%u-%u", w.lo, w.hi);
		pfc_xl_printf(xl, "forward name %s %s :%s to %s\n", name, pf_proto_name(w.proto),
			      range, w.host);
		return;
	}
	pfc_xl_printf(xl, "trigger name %s %s %u-%u on %s %u timeout %s\n", name,
		      pf_proto_name(w.proto), w.lo, w.hi, pf_proto_name(w.cproto), w.cport,
		      w.longer ? PFC_AUTOFW_TIMEOUT_LONG : PFC_AUTOFW_TIMEOUT);
}
