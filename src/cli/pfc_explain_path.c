// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The checks of 'portfw explain' that look at the host itself, in the order
 * a flow meets what they check: the listen address, who else holds the
 * port, forwarding and reverse path filtering, the route and the connection
 * to each backend, and whether the kernel engine masquerades the flow.
 */
#include "pfc_explain.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* The backend's port: its own, or the listener's where it has none. */
static uint16_t pfc_be_port(const struct pfc_xctx *x, size_t i)
{
	uint16_t p = pf_sa_port(&x->f.be[i].addr);

	return p ? p : x->f.port_lo;
}

static const char *pfc_addr(const union pf_sa *sa, char *buf, size_t len)
{
	pf_sa_format(sa, false, buf, len);
	return buf;
}

void pfc_xpath_listen(struct pfc_xctx *x)
{
	const struct pfc_xfwd *f = &x->f;
	char a[PF_ADDRSTR_MAX], fix[300];
	int up;

	if (f->lif[0]) {
		up = pfc_sys_ifup(f->lif);
		snprintf(fix, sizeof(fix), "ip link set %s up", f->lif);
		if (up < 0)
			pfc_x_add(&x->r, "listen", PFC_X_FAIL,
				  "create the interface, or give the forward another listen address "
				  "(portfw del name NAME, then portfw add)",
				  "interface %s does not exist: nothing arrives on it", f->lif);
		else if (!up)
			pfc_x_add(&x->r, "listen", PFC_X_FAIL, fix, "interface %s is down", f->lif);
		else
			pfc_x_add(&x->r, "listen", PFC_X_OK, NULL,
				  "interface %s exists and is up", f->lif);
		return;
	}
	if (!f->laddr.sa.sa_family) {
		pfc_x_add(&x->r, "listen", PFC_X_OK, NULL, "%s: every local address", f->listen);
		return;
	}
	pfc_addr(&f->laddr, a, sizeof(a));
	if (pfc_sys_local(&f->laddr)) {
		pfc_x_add(&x->r, "listen", PFC_X_OK, NULL, "%s is an address of this host", a);
		return;
	}
	snprintf(fix, sizeof(fix),
		 "ip addr add %s/%d dev IF (the interface clients reach), or listen on :%u", a,
		 f->laddr.sa.sa_family == AF_INET6 ? 128 : 32, f->port_lo);
	pfc_x_add(&x->r, "listen", PFC_X_FAIL, fix,
		  "%s is not an address of this host: no packet for it arrives here", a);
}

/* Whether a socket bound to s gets what arrives for the forward's address. */
static bool pfc_overlaps(const struct pfc_xfwd *f, const union pf_sa *s)
{
	if (!f->laddr.sa.sa_family || pf_sa_is_any(s))
		return true;
	if (f->laddr.sa.sa_family == AF_INET && s->sa.sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s->sin6.sin6_addr))
		return !memcmp(&s->sin6.sin6_addr.s6_addr[12], &f->laddr.sin.sin_addr, 4);
	return pf_sa_addr_equal(&f->laddr, s);
}

static void pfc_who(const struct pfc_xsock *s, char *buf, size_t len)
{
	if (s->pid)
		snprintf(buf, len, "%s (pid %d)", s->comm[0] ? s->comm : "?", s->pid);
	else
		snprintf(buf, len, "a process explain cannot see (run it as root to name it)");
}

static void pfc_listener_proto(struct pfc_xctx *x, uint8_t l4)
{
	const struct pfc_xfwd *f = &x->f;
	const char *pn = l4 == IPPROTO_TCP ? "tcp" : "udp";
	struct pfc_xsock *v;
	size_t i, ours = 0, others = 0;
	int n = pfc_diag_listeners(l4, f->port_lo, f->port_hi, &v);
	char who[128], sa[PF_ADDRSTR_MAX + 8], fix[300];

	if (n < 0) {
		pfc_x_add(&x->r, "listener", PFC_X_SKIP, NULL, "cannot list %s sockets: %s", pn,
			  strerror(-n));
		return;
	}
	for (i = 0; i < (size_t)n; i++) {
		if (!pfc_overlaps(f, &v[i].addr))
			continue;
		if (x->daemon_pid && v[i].pid == x->daemon_pid && !f->kernel) {
			ours++;
			continue;
		}
		others++;
		pfc_who(&v[i], who, sizeof(who));
		pf_sa_format(&v[i].addr, true, sa, sizeof(sa));
		if (f->kernel) {
			snprintf(fix, sizeof(fix),
				 "move %s or the forward to another port (or stop %s)",
				 v[i].comm[0] ? v[i].comm : "it", v[i].comm[0] ? v[i].comm : "it");
			pfc_x_add(&x->r, "listener", PFC_X_WARN, fix,
				  "%s listens on %s %s, but the forward DNATs that port first: "
				  "%s gets no connection from the network",
				  who, pn, sa, v[i].comm[0] ? v[i].comm : "it");
		} else {
			snprintf(fix, sizeof(fix), "stop %s or move it to another port",
				 v[i].comm[0] ? v[i].comm : "it");
			pfc_x_add(&x->r, "listener", PFC_X_FAIL, fix,
				  "%s also listens on %s %s: it takes connections meant for the "
				  "forward",
				  who, pn, sa);
		}
	}
	free(v);
	if (!f->kernel && !ours && x->daemon_pid)
		pfc_x_add(&x->r, "listener", PFC_X_FAIL, "portfw reload (and read portfwd's log)",
			  "portfwd does not listen on %s port %u: the forward is not bound", pn,
			  f->port_lo);
	else if (!others)
		pfc_x_add(&x->r, "listener", PFC_X_OK, NULL,
			  f->kernel ? "no other program listens on %s port %u"
				    : "portfwd listens on %s port %u, no other program does",
			  pn, f->port_lo);
}

void pfc_xpath_listener(struct pfc_xctx *x)
{
	if (!x->f.port_lo) {
		pfc_x_add(&x->r, "listener", PFC_X_SKIP, NULL, "a whole-host forward: no port");
		return;
	}
	if (x->f.tcp)
		pfc_listener_proto(x, IPPROTO_TCP);
	if (x->f.udp)
		pfc_listener_proto(x, IPPROTO_UDP);
}

/* rp_filter of an interface as the kernel applies it: the larger of "all"
 * and its own. */
static int pfc_rp_filter(const char *ifname)
{
	char path[128];
	int all = pfc_sys_int("net/ipv4/conf/all/rp_filter"), own;

	snprintf(path, sizeof(path), "net/ipv4/conf/%s/rp_filter", ifname);
	own = pfc_sys_int(path);
	return own > all ? own : all;
}

static void pfc_rp_check(struct pfc_xctx *x)
{
	const struct pfc_xfwd *f = &x->f;
	const char *in = f->lif[0] ? f->lif : NULL;
	char fix[200], c[PF_ADDRSTR_MAX];
	int rp;

	if (!in && x->client.sa.sa_family && !x->client_rt_rc)
		in = x->client_rt.oif;
	if (!in || !in[0]) {
		rp = pfc_sys_int("net/ipv4/conf/all/rp_filter");
		pfc_x_add(&x->r, "rp_filter", PFC_X_OK, NULL,
			  "net.ipv4.conf.all.rp_filter is %d%s", rp,
			  rp == 1 ? " (strict: a client whose packets arrive by another interface than "
				    "the route back to it is dropped; give 'from ADDR' to check one)"
				  : "");
		return;
	}
	rp = pfc_rp_filter(in);
	if (rp == 1 && x->client.sa.sa_family && f->lif[0] && !x->client_rt_rc &&
	    strcmp(x->client_rt.oif, f->lif) != 0) {
		snprintf(fix, sizeof(fix), "sysctl -w net.ipv4.conf.%s.rp_filter=2 "
					   "net.ipv4.conf.all.rp_filter=2 (loose)",
			 f->lif);
		pfc_x_add(&x->r, "rp_filter", PFC_X_FAIL, fix,
			  "strict on %s, and the route back to %s leaves by %s: its packets are "
			  "dropped as spoofed",
			  f->lif, pfc_addr(&x->client, c, sizeof(c)), x->client_rt.oif);
		return;
	}
	pfc_x_add(&x->r, "rp_filter", PFC_X_OK, NULL, "%s on %s (%d)%s",
		  rp == 1 ? "strict" : rp == 2 ? "loose" : "off", in, rp,
		  rp == 1 ? ": clients must arrive by the interface of the route back to them" : "");
}

void pfc_xpath_forwarding(struct pfc_xctx *x)
{
	bool v4 = false, v6 = false;
	size_t i;

	if (x->f.laddr.sa.sa_family != AF_INET6 || x->client.sa.sa_family == AF_INET)
		pfc_rp_check(x);
	if (!x->f.kernel) {
		pfc_x_add(&x->r, "ip_forward", PFC_X_SKIP, NULL,
			  "the user engine relays the flow itself: no forwarding needed");
		return;
	}
	for (i = 0; i < x->f.nbe; i++) {
		if (!x->be_rt_rc[i] && x->be_rt[i].type == RTN_LOCAL)
			continue; /* this host: nothing forwarded */
		v4 |= x->f.be[i].addr.sa.sa_family == AF_INET;
		v6 |= x->f.be[i].addr.sa.sa_family == AF_INET6;
	}
	if (v4) {
		if (pfc_sys_int("net/ipv4/ip_forward") == 0)
			pfc_x_add(&x->r, "ip_forward", PFC_X_FAIL, "sysctl -w net.ipv4.ip_forward=1",
				  "net.ipv4.ip_forward is 0: the kernel forwards no IPv4 packet");
		else
			pfc_x_add(&x->r, "ip_forward", PFC_X_OK, NULL, "net.ipv4.ip_forward is 1");
	}
	if (v6) {
		if (pfc_sys_int("net/ipv6/conf/all/forwarding") == 0)
			pfc_x_add(&x->r, "ip_forward", PFC_X_FAIL,
				  "sysctl -w net.ipv6.conf.all.forwarding=1",
				  "net.ipv6.conf.all.forwarding is 0: the kernel forwards no IPv6 "
				  "packet");
		else
			pfc_x_add(&x->r, "ip_forward", PFC_X_OK, NULL,
				  "net.ipv6.conf.all.forwarding is 1");
	}
	if (!v4 && !v6)
		pfc_x_add(&x->r, "ip_forward", PFC_X_SKIP, NULL,
			  "every backend is this host: nothing is forwarded");
}

static void pfc_route_text(const struct pf_route *rt, char *buf, size_t len)
{
	char gw[PF_ADDRSTR_MAX];

	if (rt->type == RTN_LOCAL)
		snprintf(buf, len, "this host");
	else if (rt->gw.sa.sa_family)
		snprintf(buf, len, "via %s dev %s", pfc_addr(&rt->gw, gw, sizeof(gw)), rt->oif);
	else
		snprintf(buf, len, "dev %s (directly connected)", rt->oif);
}

static const char *pfc_conn_err(int rc)
{
	switch (rc) {
	case -ECONNREFUSED:
		return "refused: nothing listens on that port";
	case -ETIMEDOUT:
		return "no answer within 1 s: the host is down or a firewall drops";
	default:
		return strerror(-rc);
	}
}

/* One backend: its route, a TCP connection, its state in portfwd. bad: the
 * status of a problem (fail when no backend is left, else warn). */
static void pfc_backend(struct pfc_xctx *x, size_t i, enum pfc_xst bad)
{
	const struct pfc_xbe *be = &x->f.be[i];
	char rtext[64 + IF_NAMESIZE + PF_ADDRSTR_MAX], fix[300], a[PF_ADDRSTR_MAX];
	int rc = x->be_rt_rc[i];

	pfc_addr(&be->addr, a, sizeof(a));
	if (rc || x->be_rt[i].type == RTN_UNREACHABLE || x->be_rt[i].type == RTN_BLACKHOLE ||
	    x->be_rt[i].type == RTN_PROHIBIT) {
		snprintf(fix, sizeof(fix), "ip route add %s via GATEWAY (a router that reaches it)",
			 a);
		pfc_x_add(&x->r, "route", bad, fix, "no route to %s%s%s", be->text, rc ? ": " : "",
			  rc ? strerror(-rc) : "");
	} else {
		pfc_route_text(&x->be_rt[i], rtext, sizeof(rtext));
		pfc_x_add(&x->r, "route", PFC_X_OK, NULL, "%s: %s", be->text, rtext);
	}
	if (x->be_conn[i] == 1)
		pfc_x_add(&x->r, "backend", PFC_X_SKIP, NULL, "%s: %s, no connection to try",
			  be->text, x->f.udp ? "UDP" : "a whole-host forward");
	else if (x->be_conn[i])
		pfc_x_add(&x->r, "backend", bad,
			  "start the service on the backend, or correct the forward's backend",
			  "%s: a TCP connection from here is %s", be->text,
			  pfc_conn_err(x->be_conn[i]));
	else
		pfc_x_add(&x->r, "backend", PFC_X_OK, NULL, "%s takes TCP connections from here",
			  be->text);
	if (!strcmp(be->state, "down"))
		pfc_x_add(&x->r, "health", bad,
			  "bring the service up; portfw list shows when the checks see it again",
			  "portfwd's health checks say %s is down: it gets no new flow", be->text);
	else if (strcmp(be->state, "up") != 0)
		pfc_x_add(&x->r, "health", PFC_X_WARN, NULL,
			  "%s is %s: it gets no new flow (portfw backend FORWARD BACKEND enable)",
			  be->text, be->state);
	else
		pfc_x_add(&x->r, "health", PFC_X_OK, NULL, "portfwd says %s is up", be->text);
}

void pfc_xpath_probe(struct pfc_xctx *x)
{
	size_t i;

	for (i = 0; i < x->f.nbe; i++) {
		x->be_rt_rc[i] = pf_route_get(&x->f.be[i].addr, &x->be_rt[i]);
		x->be_conn[i] = x->f.tcp ? pfc_route_connect(&x->f.be[i].addr,
							      pfc_be_port(x, i), 1000)
					 : 1;
	}
}

void pfc_xpath_backends(struct pfc_xctx *x)
{
	size_t i, good = 0;

	/* A backend is usable: routed, it takes a connection (or it is UDP:
	 * nothing to try), and portfwd sends it flows. */
	for (i = 0; i < x->f.nbe; i++)
		if (!x->be_rt_rc[i] && (x->be_conn[i] == 0 || x->be_conn[i] == 1) &&
		    !strcmp(x->f.be[i].state, "up"))
			good++;
	for (i = 0; i < x->f.nbe; i++)
		pfc_backend(x, i, good ? PFC_X_WARN : PFC_X_FAIL);
	if (!x->f.nbe)
		pfc_x_add(&x->r, "backend", PFC_X_FAIL, "portfw add ... to BACKEND",
			  "the forward has no backend");
}

void pfc_xpath_masq(struct pfc_xctx *x)
{
	char c[PF_ADDRSTR_MAX];
	const char *beif = NULL;
	size_t i;

	if (!x->f.kernel) {
		pfc_x_add(&x->r, "masquerade", PFC_X_SKIP, NULL,
			  "the user engine connects from this host: backends see %s",
			  x->f.masq_addr ? x->f.masq_addr : "its address");
		return;
	}
	if (x->f.masq) {
		pfc_x_add(&x->r, "masquerade", PFC_X_OK, NULL,
			  "the forward has 'masquerade': backends see %s",
			  x->f.masq_addr ? x->f.masq_addr : "this host's address");
		return;
	}
	for (i = 0; i < x->f.nbe && !beif; i++)
		if (!x->be_rt_rc[i] && x->be_rt[i].oif[0])
			beif = x->be_rt[i].oif;
	if (!beif) {
		pfc_x_add(&x->r, "masquerade", PFC_X_SKIP, NULL, "no route to a backend");
		return;
	}
	if (!x->client.sa.sa_family) {
		pfc_x_add(&x->r, "masquerade", PFC_X_OK, NULL,
			  "clients arriving by %s (the backends' side) are masqueraded (hairpin); "
			  "others keep their address, so the backend's route back to them must go "
			  "through this host (else: the option 'masquerade')",
			  beif);
		return;
	}
	pfc_addr(&x->client, c, sizeof(c));
	if (x->client_rt_rc) {
		pfc_x_add(&x->r, "masquerade", PFC_X_WARN, NULL, "no route back to %s: %s", c,
			  strerror(-x->client_rt_rc));
	} else if (!strcmp(x->client_rt.oif, beif)) {
		pfc_x_add(&x->r, "masquerade", PFC_X_OK, NULL,
			  "applies to %s: it is reached by %s as the backend is (hairpin), so the "
			  "backend sees this host's address",
			  c, beif);
	} else {
		pfc_x_add(&x->r, "masquerade", PFC_X_OK, NULL,
			  "does not apply to %s (reached by %s, the backend by %s): the backend sees "
			  "%s, and its route back to it must go through this host",
			  c, x->client_rt.oif, beif, c);
	}
}
