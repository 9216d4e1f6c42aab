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

static int pfc_afw_parse(int argc, char *const *argv, struct pfc_xl *xl, struct pfc_afw *w)
{
	int i;

	if (!argc) /* as ipautofw did: no arguments, the usage */
		return pfc_xl_usage(xl, "%s", "");
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v;
		char o = '\0'; /* not an option: matches no case */

		if (a[0] == '-' && a[1] && !a[2])
			o = a[1];

		switch (o) {
		case 'A':
		case 'D':
		case 'F':
			if (w->cmd)
				return pfc_xl_usage(xl, "'%s': only one of -A, -D, -F", a);
			w->cmd = o;
			break;
		case 'u':
			w->longer = true;
			break;
		case 'v':
			xl->verbose = true;
			break;
		case 'r':
			if (w->have_r)
				return pfc_xl_usage(xl, "'%s': -r given twice", a);
			w->have_r = true;
			v = pfc_optnext(argc, argv, &i);
			if (pfc_parse_proto(v, &w->proto))
				return pfc_xl_usage(xl, "'%s': -r expects tcp or udp, then LOW HIGH",
						    v ? v : a);
			v = pfc_optnext(argc, argv, &i);
			if (pfc_parse_port(v, &w->lo))
				return pfc_xl_usage(xl, "'%s': -r %s expects a low port 1-65535",
						    v ? v : a, pf_proto_name(w->proto));
			v = pfc_optnext(argc, argv, &i);
			if (pfc_parse_port(v, &w->hi) || w->hi < w->lo)
				return pfc_xl_usage(xl, "'%s': -r %s %u expects a high port %u-65535",
						    v ? v : a, pf_proto_name(w->proto), w->lo, w->lo);
			break;
		case 'h':
			if (w->have_h)
				return pfc_xl_usage(xl, "'%s': -h given twice", a);
			w->have_h = true;
			v = pfc_optnext(argc, argv, &i);
			if (!v || !pfc_host_ok(v))
				return pfc_xl_usage(xl, "'%s': -h expects the hidden host's address",
						    v ? v : a);
			pf_strlcpy(w->host, v, sizeof(w->host));
			break;
		case 'c':
			if (w->have_c)
				return pfc_xl_usage(xl, "'%s': -c given twice", a);
			w->have_c = true;
			v = pfc_optnext(argc, argv, &i);
			if (pfc_parse_proto(v, &w->cproto))
				return pfc_xl_usage(xl, "'%s': -c expects tcp or udp, then PORT",
						    v ? v : a);
			v = pfc_optnext(argc, argv, &i);
			if (pfc_parse_port(v, &w->cport))
				return pfc_xl_usage(xl, "'%s': -c %s expects a port 1-65535",
						    v ? v : a, pf_proto_name(w->cproto));
			break;
		default:
			return pfc_xl_usage(xl, "'%s': unknown option", a);
		}
	}
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
