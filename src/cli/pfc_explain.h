/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * portfw explain: the path of a client's flow through this gateway, checked
 * step by step. The checks look at the host the client runs on (it must be
 * the daemon's, in its network namespace): sockets, routes, sysctls, the
 * nftables ruleset, and what portfwd answers about the forward.
 */
#ifndef PFC_EXPLAIN_H
#define PFC_EXPLAIN_H

#include "../common/pf_addr.h"
#include "../sys/pf_route.h"

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- the report (pfc_explain_report.c) ---- */

enum pfc_xst { PFC_X_OK, PFC_X_WARN, PFC_X_FAIL, PFC_X_SKIP };

struct pfc_xcheck {
	char *name; /* "listen", "ip_forward", "firewall", ... */
	enum pfc_xst st;
	char *found; /* what the check found, one sentence */
	char *fix; /* a command or option that fixes it; NULL: none needed */
};

struct pfc_xreport {
	struct pfc_xcheck *v;
	size_t n, cap;
};

/* Adds a check; fix may be NULL. */
__attribute__((format(printf, 5, 6))) void pfc_x_add(struct pfc_xreport *r, const char *name,
						     enum pfc_xst st, const char *fix,
						     const char *fmt, ...);
/* 1 when a check failed (something blocks the forward), else 0. */
int pfc_x_exit(const struct pfc_xreport *r);
const char *pfc_x_stname(enum pfc_xst st);
/* The human form: one line a check, its fix under it; then a summary. */
void pfc_x_print(FILE *fp, const struct pfc_xreport *r);
/* [{"name", "status", "found", "fix"}, ...] (fix null when none). */
json_t *pfc_x_json(const struct pfc_xreport *r);
void pfc_x_free(struct pfc_xreport *r);

/* ---- the packet a firewall check follows (pfc_explain_rules.c) ---- */

/* Tri-state: whether a rule matches a packet we only partly know. */
enum pfc_tri { PFC_NO, PFC_MAYBE, PFC_YES };

struct pfc_xpkt {
	int family; /* AF_INET or AF_INET6 */
	uint8_t l4; /* IPPROTO_TCP or IPPROTO_UDP */
	union pf_sa saddr, daddr; /* family 0: not known */
	uint16_t dport; /* 0: not known */
	const char *iif, *oif; /* NULL: not known */
	bool dnat; /* ct status has dnat (after our prerouting) */
};

/* One stage of the path: the hooks it passes and the packet there. */
struct pfc_xstage {
	const char *what; /* "arriving", "forwarded", ... for messages */
	const char *const *hooks; /* NULL-terminated */
	struct pfc_xpkt pkt;
	/* The chains of these priorities only (our DNAT, at -110 in
	 * prerouting, changes the packet between two stages). */
	int prio_lo, prio_hi;
	/* A NAT chain that rewrites the packet before ours takes the flow from
	 * us: one of priority up to nat_prio (user engine: any). */
	bool nat_check;
	int nat_prio;
	const char *accept; /* what a rule that lets the packet pass tests */
};

/* Walks the base chains of the ruleset (libnftables JSON, "nftables": [...])
 * of every table but ours (inet portfw) on each stage's hooks, and adds a
 * check "firewall" for each chain that drops, rejects or redirects the
 * packet (fail when it surely does, warn when it may), or one ok check.
 * Returns the number of findings. */
size_t pfc_xrules_scan(json_t *ruleset, const struct pfc_xstage *stages, size_t nstages,
		       struct pfc_xreport *r);

/* What iptables-legacy-save's text is searched for (pfc_explain_legacy.c):
 * the base chains the flow passes ("filter:FORWARD", "nat:PREROUTING"),
 * with the packet's protocol and destination port there. */
struct pfc_xlegacy {
	const char *tool; /* "iptables-legacy", "ip6tables-legacy" */
	const char *what; /* "forwarded", ... for messages */
	const char *const *where; /* NULL-terminated */
	uint8_t l4;
	uint16_t dport; /* 0: not known */
	bool dnat; /* ct status DNAT: after our prerouting */
	bool nat_check; /* a DNAT or REDIRECT there takes the flow */
	const char *accept; /* the tests of a rule that lets the flow pass */
};
/* Adds a check "firewall" for each chain that drops or redirects the
 * packet; returns how many. */
size_t pfc_xlegacy_scan(const char *text, const struct pfc_xlegacy *q, struct pfc_xreport *r);

/* ---- the host (pfc_explain_sys.c, pfc_explain_diag.c, pfc_explain_route.c) ---- */

/* A sysctl under /proc/sys ("net/ipv4/ip_forward"): its value, or -1. */
int pfc_sys_int(const char *path);
/* Whether an interface exists (0), is up (1): -1 when it does not exist. */
int pfc_sys_ifup(const char *ifname);
/* Whether addr is one of this host's addresses. */
bool pfc_sys_local(const union pf_sa *addr);
/* Whether a kernel module is loaded or built in. */
bool pfc_sys_module(const char *name);

/* A socket bound to a port, found through NETLINK_SOCK_DIAG. */
struct pfc_xsock {
	union pf_sa addr; /* bound address and port */
	uint8_t l4;
	uint32_t inode;
	int pid; /* 0: not found (another user's process, without root) */
	char comm[32];
};
/* The listening TCP (or bound UDP) sockets of both families on ports
 * lo..hi; a malloc'd array in *out. Returns how many, or -errno. */
int pfc_diag_listeners(uint8_t l4, uint16_t lo, uint16_t hi, struct pfc_xsock **out);

/* A TCP connection to addr:port within ms: 0 or -errno (-ETIMEDOUT). */
int pfc_route_connect(const union pf_sa *addr, uint16_t port, int ms);

/* ---- the forward, as 'list -j' gives it ---- */

struct pfc_xbe {
	union pf_sa addr; /* resolved; the port is the backend's (first) port */
	const char *text; /* as listed ("10.0.0.2:80") */
	const char *state; /* up, down, drain, disabled, ... */
};

struct pfc_xfwd {
	const char *name;
	bool kernel; /* the engine that carries it */
	bool tcp, udp;
	bool ftp; /* from the forward as 'save' prints it */
	bool masq; /* 'masquerade [ADDR]' */
	const char *masq_addr; /* its ADDR, or NULL */
	union pf_sa laddr; /* family 0: every local address */
	char lif[IF_NAMESIZE]; /* "%IF:PORT" listens: the interface */
	const char *listen; /* as listed */
	uint16_t port_lo, port_hi;
	struct pfc_xbe *be;
	size_t nbe;
};

/* ---- one run: what the checks share ---- */

struct pfc_xctx {
	struct pfc_xfwd f;
	union pf_sa client; /* 'from ADDR'; family 0: not given */
	int daemon_pid; /* portfwd's (SO_PEERCRED); 0: not known */
	struct pf_route client_rt; /* the route back to the client */
	int client_rt_rc; /* its pf_route_get() result */
	struct pf_route *be_rt; /* by backend */
	int *be_rt_rc;
	int *be_conn; /* by backend: pfc_route_connect() (1: not tried) */
	struct pfc_xreport r;
};

/* pfc_explain_path.c: the checks of the host, each adding its lines. */
/* The route and a TCP connection to each backend (no line yet). */
void pfc_xpath_probe(struct pfc_xctx *x);
void pfc_xpath_listen(struct pfc_xctx *x);
void pfc_xpath_listener(struct pfc_xctx *x);
void pfc_xpath_forwarding(struct pfc_xctx *x);
void pfc_xpath_backends(struct pfc_xctx *x);
void pfc_xpath_masq(struct pfc_xctx *x);
/* pfc_explain_nft.c: other tables and the FTP helper (libnftables). */
void pfc_xnft_checks(struct pfc_xctx *x);
/* pfc_explain_ct.c: flows of the forward that the backend never answered. */
void pfc_xct_check(struct pfc_xctx *x, json_t *(*conns)(void *arg), void *arg);

#endif
