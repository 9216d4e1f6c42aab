// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Renders the kernel forwards of a table as one nft script for the table
 * 'inet portfw' (the shape of design/kernel-dataplane.md): verdict maps keyed
 * by protocol and port (and address, for forwards on one address) send a new
 * connection to its forward's chain in one lookup, whatever the number of
 * forwards; the chain checks the ACL, marks the connection (ours, which
 * forward, from inside?) and DNATs it: straight to one backend, or through a
 * numgen (weighted) or jhash (source, maglev: fixed seed, the slots both
 * engines share) map over the usable ones.
 */
#include "pfk_int.h"
#include "../common/pf_sched.h"
#include "../common/pf_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pfk_out(struct pf_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pf_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

bool pfk_v6(const union pf_sa *sa)
{
	return sa->sa.sa_family == AF_INET6;
}

/* The backends that take new connections now, with their weights, by the
 * user engine's rule (pf_sched_usable): the primaries, else the backups;
 * no passive-check hold (held: true) and no spares, which get no slot. */
uint32_t pfk_usable(const struct pf_forward *f, uint32_t *w)
{
	uint32_t n = pf_sched_usable(f, PF_TIER_PRIMARY, true, 0, NULL, w);

	return n ? n : pf_sched_usable(f, PF_TIER_BACKUP, true, 0, NULL, w);
}

void pfk_addr(struct pf_buf *b, const union pf_sa *sa)
{
	char a[PF_ADDRSTR_MAX];

	pf_sa_format(sa, false, a, sizeof(a));
	pfk_out(b, "%s", a);
}

/* The ACL: the most specific entry first, deny before allow on a tie. */
struct pfk_acl_ent {
	const struct pf_cidr *c;
	bool deny;
};

static int pfk_acl_cmp(const void *a, const void *b)
{
	const struct pfk_acl_ent *x = a, *y = b;
	int c = pf_prefix_cmp(x->c->plen, y->c->plen);

	/* As pf_acl_allows decides: the longest prefix, deny on a tie. */
	if (c)
		return c;
	return (int)y->deny - (int)x->deny;
}

void pfk_render_acl(struct pf_buf *b, const struct pf_forward *f, char kind)
{
	uint32_t n = f->eff_allow.n + f->eff_deny.n, i, k = 0;
	struct pfk_acl_ent *e;

	if (!n)
		return;
	e = pf_xcalloc(n, sizeof(*e));
	for (i = 0; i < f->eff_allow.n; i++)
		e[k++] = (struct pfk_acl_ent){ &f->eff_allow.v[i], false };
	for (i = 0; i < f->eff_deny.n; i++)
		e[k++] = (struct pfk_acl_ent){ &f->eff_deny.v[i], true };
	qsort(e, n, sizeof(*e), pfk_acl_cmp);
	for (i = 0; i < n; i++) {
		pfk_out(b, "\t\t%s saddr ", pfk_v6(&e[i].c->addr) ? "ip6" : "ip");
		pfk_addr(b, &e[i].c->addr);
		/* An allowed source skips the rest of the list. */
		if (e[i].deny)
			pfk_out(b, "/%u counter drop\n", e[i].c->plen);
		else
			pfk_out(b, "/%u goto %c%u_nat\n", e[i].c->plen, kind, f->id);
	}
	if (f->eff_allow.n)
		pfk_out(b, "\t\tcounter drop\n");
	else
		pfk_out(b, "\t\tgoto %c%u_nat\n", kind, f->id);
	free(e);
}

/* "ADDR . PORT", "ADDR" (same port) or a port map for 1:1 ranges. */
static void pfk_render_target(struct pf_buf *b, const struct pf_backend *be, bool with_port)
{
	pfk_addr(b, &be->addr);
	if (with_port && be->conf.port_lo)
		pfk_out(b, " . %u", be->conf.port_lo);
}

/* source's or maglev's slots for one family of a pool (NULL: another
 * scheduler). */
struct pfk_slots {
	uint16_t *t;
	uint32_t m;
};

static void pfk_render_dnat(struct pf_buf *b, const struct pf_forward *f, int fam,
			    const uint32_t *w, const uint32_t *order, uint32_t total, int one,
			    bool shifted, bool same_port, const char *l4,
			    const struct pfk_slots *mag);

/*
 * 'balance pref' in the kernel: the numgen slots follow the rotation order
 * (the list's head first, each backend its pref in a row: the pcnt rotation
 * with its start unknown), and a pool with a usable pref 0 backend sends
 * everything to the first of them in that order, which is where ipmasqadm's
 * rotation comes to rest ("the zero-preference rule eventually becomes the
 * first rule ... and stays there") until 'schedule' (mfw -S) moves it to the
 * end and the table is rendered again.
 */
static void pfk_pref_pool(struct pf_forward *f, uint32_t *w, uint32_t *order, uint32_t *total,
			  int *one)
{
	uint32_t k;

	pf_sched_pref_order(f, order);
	for (k = 0; k < f->nbe; k++) {
		uint32_t i = order[k], wi = i < f->nbe ? w[i] : 0;

		if (wi && !f->be[i].conf.weight) {
			uint32_t j;

			for (j = 0; j < f->nbe; j++)
				if (j != i)
					w[j] = 0;
			*total = wi;
			*one = (int)i;
			return;
		}
	}
}

static void pfk_render_nat(struct pf_buf *b, struct pf_forward *f, int fam)
{
	uint32_t w[PF_BACKENDS_MAX], order[PF_BACKENDS_MAX], n, i, total = 0, proto;
	struct pfk_slots mag = { 0 };
	bool shifted = false, same_port = false;
	int one = -1;

	n = pfk_usable(f, w);
	for (i = 0; i < f->nbe; i++) {
		if (!w[i] || f->be[i].addr.sa.sa_family != fam) {
			w[i] = 0;
			continue;
		}
		total += w[i];
		one = (int)i;
		if (f->be[i].conf.port_lo != f->be[i].conf.port_hi)
			shifted = true;
		if (!f->be[i].conf.port_lo)
			same_port = true;
	}
	(void)n;
	for (i = 0; i < f->nbe; i++)
		order[i] = i;
	if (total && f->conf.balance == PF_BAL_PREF)
		pfk_pref_pool(f, w, order, &total, &one);
	if (!total) {
		/* Nothing usable of this family: refuse rather than reach the gateway. */
		pfk_out(b, "\t\tmeta nfproto %s counter drop\n", fam == AF_INET6 ? "ipv6" : "ipv4");
		return;
	}
	/* One rule per protocol of the forward: an anonymous set ('meta l4proto
	 * { tcp, udp }') in every forward's chain costs the kernel a walk over
	 * all the table's sets and the whole transaction per rule, which made
	 * loading 10,000 forwards take over 20 s. */
	if ((f->conf.balance == PF_BAL_SOURCE || f->conf.balance == PF_BAL_MAGLEV) &&
	    total != w[one]) {
		uint32_t tmp[PF_BACKENDS_MAX];
		/* The tier pfk_usable took: primaries while one is usable. */
		enum pf_tier tier = pf_sched_usable(f, PF_TIER_PRIMARY, true, 0, NULL, tmp)
					    ? PF_TIER_PRIMARY
					    : PF_TIER_BACKUP;

		mag.m = pf_sched_nslots(f);
		mag.t = pf_xcalloc(mag.m, sizeof(*mag.t));
		pf_sched_slots(f, tier, fam, w, mag.t, mag.m);
	}
	if (f->conf.protos == PF_PROTO_ALL)
		pfk_render_dnat(b, f, fam, w, order, total, one, shifted, same_port, NULL,
				mag.t ? &mag : NULL);
	for (proto = PF_PROTO_TCP; proto <= PF_PROTO_UDP; proto <<= 1)
		if (f->conf.protos & proto)
			pfk_render_dnat(b, f, fam, w, order, total, one, shifted, same_port,
					proto == PF_PROTO_TCP ? "tcp" : "udp", mag.t ? &mag : NULL);
	free(mag.t);
}

/* source's and maglev's map: the client's slot as the user engine computes
 * it (pf_sched_client_slot), each run of slots of one backend an interval. */
static void pfk_render_slots(struct pf_buf *b, const struct pf_forward *f, const char *ip,
			      const struct pfk_slots *mag, bool with_port)
{
	uint32_t s, e;

	pfk_out(b, "jhash %s saddr mod %u seed 0x%x map { ", ip, mag->m, PF_JHASH_SEED);
	for (s = 0; s < mag->m; s = e) {
		for (e = s + 1; e < mag->m && mag->t[e] == mag->t[s]; e++)
			;
		if (e - s == 1)
			pfk_out(b, "%s%u : ", s ? ", " : "", s);
		else
			pfk_out(b, "%s%u-%u : ", s ? ", " : "", s, e - 1);
		pfk_render_target(b, &f->be[mag->t[s]], with_port);
	}
}

static void pfk_render_dnat(struct pf_buf *b, const struct pf_forward *f, int fam,
			    const uint32_t *w, const uint32_t *order, uint32_t total, int one,
			    bool shifted, bool same_port, const char *l4,
			    const struct pfk_slots *mag)
{
	const char *ip = fam == AF_INET6 ? "ip6" : "ip";
	uint32_t k, i, first = 0;

	/* l4 NULL: a whole-host forward, every protocol (ICMP too). */
	pfk_out(b, "\t\tmeta nfproto %s %s%s%sdnat %s to ", fam == AF_INET6 ? "ipv6" : "ipv4",
		l4 ? "meta l4proto " : "", l4 ? l4 : "", l4 ? " " : "", ip);
	if (total == w[one]) {
		/* One backend: no choice to make. */
		const struct pf_backend *be = &f->be[one];

		if (shifted) {
			uint32_t p;

			pfk_out(b, "th dport map { ");
			for (p = f->conf.lport_lo; p <= f->conf.lport_hi; p++) {
				pfk_out(b, "%s%u : ",
					p == f->conf.lport_lo ? "" : ", ", p);
				pfk_addr(b, &be->addr);
				pfk_out(b, " . %u", pf_backend_port(f, be, (uint16_t)p));
			}
			pfk_out(b, " }\n");
		} else if (be->conf.port_lo) {
			/* Outside a map the port follows a colon ("[v6]:port"). */
			if (fam == AF_INET6) {
				pfk_out(b, "[");
				pfk_addr(b, &be->addr);
				pfk_out(b, "]:%u\n", be->conf.port_lo);
			} else {
				pfk_addr(b, &be->addr);
				pfk_out(b, ":%u\n", be->conf.port_lo);
			}
		} else {
			pfk_addr(b, &be->addr);
			pfk_out(b, "\n");
		}
		return;
	}
	if (mag)
		pfk_render_slots(b, f, ip, mag, !shifted && !same_port);
	else
		/* A counter, not random: the weights hold exactly, as in the user engine. */
		pfk_out(b, "numgen inc mod %u map { ", total);
	for (k = 0; k < f->nbe && !mag; k++) {
		i = order[k];
		if (!w[i])
			continue;
		if (w[i] == 1)
			pfk_out(b, "%s%u : ", first ? ", " : "", first);
		else
			pfk_out(b, "%s%u-%u : ", first ? ", " : "", first, first + w[i] - 1);
		/* With several backends the port comes from one map for all (the
		 * pool's backends share it, checked in prepare). */
		pfk_render_target(b, &f->be[i], !shifted && !same_port);
		first += w[i];
	}
	pfk_out(b, " }");
	if (shifted) {
		uint32_t p;
		const struct pf_backend *be = &f->be[one];

		pfk_out(b, " : th dport map { ");
		for (p = f->conf.lport_lo; p <= f->conf.lport_hi; p++)
			pfk_out(b, "%s%u : %u",
				p == f->conf.lport_lo ? "" : ", ", p,
				pf_backend_port(f, be, (uint16_t)p));
		pfk_out(b, " }");
	}
	pfk_out(b, "\n");
}

void pfk_fchain_render(struct pf_buf *b, struct pf_forward *f)
{
	pfk_persrc_sets(b, f);
	pfk_out(b, "\tchain f%u {\n", f->id);
	pfk_render_acl(b, f, 'f');
	if (!f->eff_allow.n && !f->eff_deny.n)
		pfk_out(b, "\t\tgoto f%u_nat\n", f->id);
	pfk_out(b, "\t}\n\tchain f%u_nat {\n", f->id);
	/* After the ACL: a denied client takes no slot of its limits. */
	pfk_persrc_rules(b, f);
	/* Ours, which forward; masqueraded whatever the client ('masquerade'). */
	pfk_out(b, "\t\tct mark set 0x%x\n",
		PFK_MARK_OURS | (f->conf.masq.on ? PFK_MARK_MASQ : 0) | f->id);
	if (!f->conf.lhost[0] || !pfk_v6(&f->laddr))
		pfk_render_nat(b, f, AF_INET);
	if (!f->conf.lhost[0] || pfk_v6(&f->laddr))
		pfk_render_nat(b, f, AF_INET6);
	pfk_out(b, "\t}\n");
}

/* 'masquerade ADDR': the forward's connections leave from ADDR. */
static void pfk_render_snat(struct pf_buf *b, const struct pf_forward *f)
{
	const union pf_sa *a = &f->conf.masq.addr;

	if (!a->sa.sa_family)
		return;
	pfk_out(b, "\t\tct mark & 0x%x == 0x%x %s snat %s to ", PFK_MARK_OURS | PFK_MARK_ID,
		PFK_MARK_OURS | f->id, pfk_v6(a) ? "meta nfproto ipv6" : "meta nfproto ipv4",
		pfk_v6(a) ? "ip6" : "ip");
	pfk_addr(b, a);
	pfk_out(b, "\n");
}

/* The base chains' hooks, the same in a running table and a stopped one.
 * Before Docker/iptables-nft (-100) and firewalld (-90). */
#define PFK_HOOK_DSTNAT "type nat hook prerouting priority dstnat - 10; policy accept;"
#define PFK_HOOK_OUTNAT "type nat hook output priority -110; policy accept;"
#define PFK_HOOK_FORWARD "type filter hook forward priority filter - 10; policy accept;"
#define PFK_HOOK_SRCNAT "type nat hook postrouting priority srcnat + 10; policy accept;"
/* portfwd --ha: before NAT (and conntrack's own pickup), what conntrack
 * calls invalid is dropped: a segment of a flow taken over at failover,
 * come before conntrackd's entry, is sent again by TCP rather than reach
 * the gateway's own stack and be answered with a reset. */
#define PFK_CHAIN_HA                                                                       \
	"\tchain ha_invalid {\n"                                                             \
	"\t\ttype filter hook prerouting priority mangle - 10; policy accept;\n"             \
	"\t\tct state invalid drop\n"                                                         \
	"\t}\n"
/* route_localnet (pfk_sys.c) lets 127/8 in from an interface: only as
 * the target of a DNAT, never addressed so by a host out there. */
#define PFK_CHAIN_INPUT                                                                      \
	"\tchain input {\n"                                                                   \
	"\t\ttype filter hook input priority filter - 10; policy accept;\n"                    \
	"\t\tmeta nfproto ipv4 iifname != \"lo\" ip daddr 127.0.0.0/8 ct status & dnat == 0 " \
	"drop\n"                                                                              \
	"\t}\n"
#define PFK_HELPER_FTP "\tct helper ftp-fwd {\n\t\ttype \"ftp\" protocol tcp\n\t\tl3proto inet\n\t}\n"

/*
 * How our flows are reported: conntrack sends an event on every change of
 * an entry (each TCP state, the first reply, assured: six or more for a
 * short connection), and building them and waking the daemon for them cost
 * a gateway more CPU than the connection's NAT did. Of those the daemon
 * needs the creation, the end and the close (when a flow stops being
 * active, though conntrack keeps the entry in TIME_WAIT). So a new flow of
 * ours is reported only when made and destroyed, and this chain marks its
 * close in the ct mark, one change reported (PFK_MARK_DONE): on a reset,
 * or on the FIN of the second side (the first side's is noted without a
 * report). Packets arriving (forwarded, or to a local backend) pass here
 * after the DNAT (marks_in, which the hairpin's mark shares: a base chain
 * more costs every packet), and those the gateway sends (marks_out: its own
 * connections to a forward, a local backend's replies); every flow's two
 * sides are seen in one of them. With --conntrack-events all, conntrack reports everything
 * (conntrackd keeps a peer's table from those events) and only the marks
 * are set here.
 */
static void pfk_render_closing(struct pf_buf *b)
{
	const char *ev = pfk_events_all() ? "" : "\t\tct event set new,destroy\n";

	/* For every packet (a base chain each): first what rules out most of
	 * them, an established flow's packet with neither FIN nor RST. */
	pfk_out(b,
		"\tchain marks_in {\n"
		"\t\ttype filter hook prerouting priority dstnat + 5; policy accept;\n"
		"\t\tct state new ct mark & 0x%x == 0x%x jump new_in\n"
		"\t\ttcp flags & (fin | rst) != 0 ct mark & 0x%x == 0x%x jump closing\n"
		"\t}\n"
		/* Hairpin: a client on the backend's side (the routes to both leave
		 * by the interface it came in on) would get the backend's replies
		 * straight from it, not through the gateway: masqueraded. Any other
		 * client keeps its address. After the DNAT (the NAT hook's -100,
		 * whatever the priority of our nat chain), on a connection's first
		 * packet. */
		"\tchain new_in {\n"
		"\t\tfib daddr . iif oif exists ct mark set ct mark | 0x%x\n"
		"%s"
		"\t}\n"
		"\tchain marks_out {\n"
		"\t\ttype filter hook output priority filter + 5; policy accept;\n",
		PFK_MARK_OURS, PFK_MARK_OURS, PFK_MARK_OURS, PFK_MARK_OURS, PFK_MARK_MASQ, ev);
	if (*ev)
		pfk_out(b, "\t\tct state new ct mark & 0x%x == 0x%x ct event set new,destroy\n",
			PFK_MARK_OURS, PFK_MARK_OURS);
	pfk_out(b,
		"\t\ttcp flags & (fin | rst) != 0 ct mark & 0x%x == 0x%x jump closing\n"
		"\t}\n"
		"\tchain closing {\n"
		"\t\tct mark & 0x%x != 0 return\n"
		"\t\ttcp flags & rst != 0 goto closed\n"
		"\t\tct direction original ct mark & 0x%x != 0 goto closed\n"
		"\t\tct direction reply ct mark & 0x%x != 0 goto closed\n"
		"\t\tct direction original ct mark set ct mark | 0x%x return\n"
		"\t\tct mark set ct mark | 0x%x\n"
		"\t}\n"
		"\tchain closed {\n"
		"%s"
		"\t\tct mark set ct mark | 0x%x\n"
		"\t}\n",
		PFK_MARK_OURS, PFK_MARK_OURS, PFK_MARK_DONE, PFK_MARK_FINR, PFK_MARK_FINO,
		PFK_MARK_FINO, PFK_MARK_FINR,
		*ev ? "\t\tct event set new,destroy,\"mark\"\n" : "", PFK_MARK_DONE);
}

static char *pfk_render_all(const struct pf_table *t, const char *const *wan, size_t nwan,
			    bool text, bool fresh, struct pfk_walk *w)
{
	struct pf_buf b = { 0 };
	struct pfk_disp *d = pfk_disp_build(t, fresh, text, w);
	bool ftp = false;
	const size_t *idx;
	size_t i, n;

	/* Creating then deleting replaces whatever a killed daemon left. */
	pfk_out(&b, "table inet portfw\ndelete table inet portfw\ntable inet portfw {\n");
	pfk_out(&b, "\tset wan {\n\t\ttype ifname\n");
	for (i = 0; i < nwan; i++)
		pfk_out(&b, "%s\"%s\"", i ? ", " : "\t\telements = { ", wan[i]);
	pfk_out(&b, "%s\t}\n", nwan ? " }\n" : "");
	pfk_disp_maps(&b, d);
	pfk_out(&b, "\tset ftp_ports {\n\t\ttype inet_proto . inet_service\n");
	idx = pfk_disp_ftp(d, &n);
	for (i = 0; i < n; i++) {
		const struct pf_forward *f = t->fwd[idx[i]];
		uint32_t p;

		for (p = f->conf.lport_lo; p <= f->conf.lport_hi; p++) {
			pfk_out(&b, "%s tcp . %u", ftp ? "," : "\t\telements = {", p);
			ftp = true;
		}
	}
	pfk_out(&b, "%s\t}\n", ftp ? " }\n" : "");
	pfk_out(&b, "%s", PFK_HELPER_FTP);
	idx = pfk_disp_chained(d, &n);
	for (i = 0; i < n; i++)
		if (!pfk_disp_model(d) || !pfk_fchain_owns(t->fwd[idx[i]]))
			pfk_fchain_render(&b, t->fwd[idx[i]]);
	/* New connections to one of our ports: one map lookup whatever the count. */
	pfk_disp_chains(&b, d);
	/* Triggered ranges and whole-host forwards come after every port
	 * forward. */
	pfk_out(&b, "\tchain dstnat {\n\t\t%s\n\t\tjump dispatch\n%s\t}\n", PFK_HOOK_DSTNAT,
		pfk_disp_has_host(d) ? "\t\tjump dispatch_host\n" : "");
	/* The gateway itself connecting to its own forwards. */
	pfk_out(&b, "\tchain output_nat {\n\t\t%s\n\t\tjump dispatch\n\t}\n", PFK_HOOK_OUTNAT);
	/* The FTP helper must be attached before NAT (kernel 6: never automatic).
	 * Only with FTP ports: these chains see every packet. */
	if (ftp)
		pfk_out(&b, "\tchain helpers {\n"
			    "\t\ttype filter hook prerouting priority mangle; policy accept;\n"
			    "\t\tct state new meta l4proto . th dport @ftp_ports ct helper set "
			    "\"ftp-fwd\"\n"
			    "\t}\n"
			    "\tchain helpers_out {\n"
			    "\t\ttype filter hook output priority mangle; policy accept;\n"
			    "\t\tct state new meta l4proto . th dport @ftp_ports ct helper set "
			    "\"ftp-fwd\"\n"
			    "\t}\n");
	pfk_out(&b, "%s%s", PFK_CHAIN_INPUT, pfk_ha() ? PFK_CHAIN_HA : "");
	/* A base chain costs every packet that passes its hook: the forward
	 * hook's only while triggers need it (an accept under policy accept
	 * would decide nothing: another table's drop wins whatever we say). */
	pfk_disp_forward_chain(&b, d, PFK_HOOK_FORWARD);
	pfk_render_closing(&b);
	pfk_out(&b, "\tchain srcnat {\n\t\t%s\n", PFK_HOOK_SRCNAT);
	idx = pfk_disp_chained(d, &n);
	for (i = 0; i < n; i++)
		pfk_render_snat(&b, t->fwd[idx[i]]);
	pfk_out(&b,
		"\t\tct mark & 0x%x == 0x%x masquerade\n"
		/* The gateway's own connections leave with the address they were
		 * made from: a loopback one cannot leave by another interface. */
		"\t\tct mark & 0x%x == 0x%x oifname != \"lo\" fib saddr type local masquerade\n"
		"\t}\n"
		"}\n",
		PFK_MARK_OURS | PFK_MARK_MASQ, PFK_MARK_OURS | PFK_MARK_MASQ, PFK_MARK_OURS,
		PFK_MARK_OURS);
	pfk_disp_free(d);
	return pf_buf_detach(&b, NULL);
}

char *pfk_render_table(const struct pf_table *t, const char *const *wan, size_t nwan)
{
	return pfk_render_all(t, wan, nwan, true, true, NULL);
}

char *pfk_render_core(const struct pf_table *t, const char *const *wan, size_t nwan, bool fresh,
		      struct pfk_walk *w)
{
	return pfk_render_all(t, wan, nwan, false, fresh, w);
}

/*
 * The table a stop leaves for the flows that run, which forwards nothing
 * new. Conntrack translates an established entry (its DNAT and SNAT alike)
 * only while some nat base chain of its family is hooked, so the nat chains
 * stay, with no rule: new connections reach the gateway itself and are
 * refused. The forward chain keeps accepting our flows (and the related
 * ones, which inherit the mark) as the running table did, the input chain
 * keeps guarding route_localnet (which stays set), the FTP helper object
 * keeps the helper of running control connections loaded. A start
 * replaces it whole, as any table it finds.
 */
char *pfk_render_stopped(void)
{
	struct pf_buf b = { 0 };

	pfk_out(&b, "table inet portfw\ndelete table inet portfw\ntable inet portfw {\n%s",
		PFK_HELPER_FTP);
	pfk_out(&b, "\tchain dstnat {\n\t\t%s\n\t}\n", PFK_HOOK_DSTNAT);
	pfk_out(&b, "\tchain output_nat {\n\t\t%s\n\t}\n", PFK_HOOK_OUTNAT);
	pfk_out(&b, "%s%s", PFK_CHAIN_INPUT, pfk_ha() ? PFK_CHAIN_HA : "");
	pfk_out(&b, "\tchain srcnat {\n\t\t%s\n\t}\n}\n", PFK_HOOK_SRCNAT);
	return pf_buf_detach(&b, NULL);
}
