// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What 'transparent' forwards need from the host. Their backend sockets are
 * bound to the client's address (IP_TRANSPARENT), so the backends' replies
 * are addressed to the client, not to us: they reach this gateway only
 * because the backend's route back goes through it, and the kernel would
 * forward them on to the client. Three things make it deliver them to our
 * sockets instead (the recipe of the kernel's Documentation/networking/
 * tproxy.rst):
 *
 *   table inet portfw_tproxy (nftables): a packet that belongs to a
 *     transparent socket (the 'socket' expression finds it) gets the mark
 *     bit PFU_TPROXY_MARK, before routing;
 *   a routing rule 'fwmark MARK/MARK lookup PFU_TPROXY_TABLE', IPv4 and
 *     IPv6;
 *   in that table 'local default dev lo': to it, every address is local.
 *
 * All of it is portfwd's own and made by the main thread: when the first
 * transparent forward of the user engine comes (in prepare, so a host
 * that cannot refuses the change before anything runs), removed when the
 * last one has gone and the last of its flows has ended (a deleted
 * forward's flows run to their end), and at exit. The kernel engine
 * rewrites its table (inet portfw) whole, so the mark lives in a table of
 * its own.
 */
#include "pfu_int.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define PFU_TP_FAM4 1u
#define PFU_TP_FAM6 2u

static bool pfu_tp_up; /* the rules, routes and nft table are in */
static bool pfu_tp_fresh; /* made by the change now prepared */
static bool pfu_tp_want; /* the prepared table has transparent forwards */
static bool pfu_tp_nft_in; /* table inet portfw_tproxy is loaded */
static uint8_t pfu_tp_fams; /* families whose rule and route are in */
/* Written by the workers: flows of transparent forwards now open, and
 * whether the setup goes once they are none (its forwards are gone). */
static _Atomic unsigned pfu_tp_flows;
static _Atomic bool pfu_tp_pending;
static int pfu_tp_efd = -1; /* tells the main thread: the last flow ended */
static struct nft_ctx *pfu_tp_nft;
static struct pf_ratelimit pfu_rl_tproxy;

#define PFU_TP_STR2(x) #x
#define PFU_TP_STR(x) PFU_TP_STR2(x)

/* Replaced whole if a portfwd that was killed left it behind. */
static const char pfu_tp_ruleset[] =
	"table inet portfw_tproxy\n"
	"delete table inet portfw_tproxy\n"
	"table inet portfw_tproxy {\n"
	"\tchain prerouting {\n"
	"\t\ttype filter hook prerouting priority mangle; policy accept;\n"
	"\t\tmeta l4proto { tcp, udp } socket transparent 1 "
	"meta mark set meta mark | " PFU_TP_STR(PFU_TPROXY_MARK) "\n"
	"\t}\n"
	"}\n";

/* One request, answered by an ack; 0 or -errno (the kernel's). */
static int pfu_tp_talk(struct mnl_socket *nl, char *buf)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)(void *)buf;
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t n;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);
	if (n < 0)
		return -errno;
	if (mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), NULL, NULL) < 0)
		return -errno;
	return 0;
}

/* 'ip rule add|del pref PREF fwmark MARK/MARK lookup TABLE' */
static int pfu_tp_rule(struct mnl_socket *nl, int family, bool add, uint32_t seq)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *fr;
	int rc;

	nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	/* EXCL: else every start would add one more of the same rule. */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
	nlh->nlmsg_seq = seq;
	fr = mnl_nlmsg_put_extra_header(nlh, sizeof(*fr));
	fr->family = (uint8_t)family;
	fr->action = FR_ACT_TO_TBL;
	mnl_attr_put_u32(nlh, FRA_PRIORITY, PFU_TPROXY_PREF);
	mnl_attr_put_u32(nlh, FRA_FWMARK, PFU_TPROXY_MARK);
	mnl_attr_put_u32(nlh, FRA_FWMASK, PFU_TPROXY_MARK);
	mnl_attr_put_u32(nlh, FRA_TABLE, PFU_TPROXY_TABLE);
	rc = pfu_tp_talk(nl, buf);
	/* A rule left by a portfwd that was killed is the same: ours. */
	return add && rc == -EEXIST ? 0 : rc;
}

/* 'ip route add|del local default dev lo table TABLE' */
static int pfu_tp_route(struct mnl_socket *nl, int family, bool add, uint32_t seq)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	unsigned lo = if_nametoindex("lo");
	struct rtmsg *rt;

	if (!lo)
		return -errno;
	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	nlh->nlmsg_seq = seq;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = (uint8_t)family;
	rt->rtm_table = RT_TABLE_UNSPEC; /* RTA_TABLE: ours is above 255 */
	rt->rtm_protocol = RTPROT_STATIC;
	rt->rtm_scope = RT_SCOPE_HOST;
	rt->rtm_type = RTN_LOCAL;
	mnl_attr_put_u32(nlh, RTA_TABLE, PFU_TPROXY_TABLE);
	mnl_attr_put_u32(nlh, RTA_OIF, lo);
	return pfu_tp_talk(nl, buf);
}

/* Removes what is in (each part alone: what was never made is skipped). */
static void pfu_tp_remove(void)
{
	struct mnl_socket *nl = NULL;
	uint32_t seq = 1;
	int fam;

	if (pfu_tp_fams) {
		nl = mnl_socket_open(NETLINK_ROUTE);
		if (nl && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
			mnl_socket_close(nl);
			nl = NULL;
		}
	}
	for (fam = 0; nl && fam < 2; fam++) {
		int family = fam ? AF_INET6 : AF_INET;
		int rc;

		if (!(pfu_tp_fams & (fam ? PFU_TP_FAM6 : PFU_TP_FAM4)))
			continue;
		rc = pfu_tp_rule(nl, family, false, seq++);
		if (rc && rc != -ENOENT)
			pf_err("user engine: could not remove the %s rule of transparent forwards "
			       "(lookup %u): %s", fam ? "IPv6" : "IPv4", PFU_TPROXY_TABLE,
			       strerror(-rc));
		rc = pfu_tp_route(nl, family, false, seq++);
		if (rc && rc != -ENOENT && rc != -ESRCH)
			pf_err("user engine: could not remove the %s route of table %u: %s",
			       fam ? "IPv6" : "IPv4", PFU_TPROXY_TABLE, strerror(-rc));
	}
	if (nl)
		mnl_socket_close(nl);
	if (pfu_tp_nft_in &&
	    nft_run_cmd_from_buffer(pfu_tp_nft, "table inet portfw_tproxy\n"
						"delete table inet portfw_tproxy\n"))
		pf_err("user engine: could not remove table inet portfw_tproxy");
	if (pfu_tp_up)
		pf_info("user engine: removed what transparent forwards need: table inet "
			"portfw_tproxy, the rule and routing table %u", PFU_TPROXY_TABLE);
	pfu_tp_fams = 0;
	pfu_tp_nft_in = false;
	pfu_tp_up = false;
	atomic_store(&pfu_tp_pending, false);
}

/* The process may bind to addresses not its own: CAP_NET_ADMIN (or
 * CAP_NET_RAW). Asked of the kernel, not of our capability sets: a user
 * namespace or an LSM has the last word. */
static int pfu_tp_probe(char *why, size_t whylen)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), one = 1, e = 0;

	if (fd < 0) {
		snprintf(why, whylen, "socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0) {
		e = errno;
		snprintf(why, whylen,
			 "portfwd may not bind to the client's address (IP_TRANSPARENT: %s); "
			 "it needs CAP_NET_ADMIN",
			 strerror(e));
	}
	close(fd);
	return e ? -1 : 0;
}

/* Why a netlink request was refused, in the operator's terms. */
static const char *pfu_tp_errstr(int err)
{
	return err == -EPERM ? "Operation not permitted (it needs CAP_NET_ADMIN)" : strerror(-err);
}

/* The rule and route of each family. First: without CAP_NET_ADMIN, the
 * kernel's plain EPERM here says it best. */
static int pfu_tp_routing(char *why, size_t whylen)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	uint32_t seq = 1;
	int fam, err = 0;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(why, whylen, "rtnetlink socket: %s", strerror(errno));
		if (nl)
			mnl_socket_close(nl);
		return -1;
	}
	for (fam = 0; fam < 2; fam++) {
		int family = fam ? AF_INET6 : AF_INET;

		err = pfu_tp_rule(nl, family, true, seq++);
		if (fam && err == -EAFNOSUPPORT) {
			err = 0; /* no IPv6 in this kernel: no IPv6 clients either */
			break;
		}
		if (err) {
			snprintf(why, whylen,
				 "cannot add the routing rule 'pref %u fwmark %#x/%#x lookup %u' "
				 "(%s): %s",
				 PFU_TPROXY_PREF, PFU_TPROXY_MARK, PFU_TPROXY_MARK,
				 PFU_TPROXY_TABLE, fam ? "IPv6" : "IPv4", pfu_tp_errstr(err));
			break;
		}
		pfu_tp_fams |= fam ? PFU_TP_FAM6 : PFU_TP_FAM4;
		err = pfu_tp_route(nl, family, true, seq++);
		if (err) {
			snprintf(why, whylen,
				 "cannot add the route 'local default dev lo table %u' (%s): %s",
				 PFU_TPROXY_TABLE, fam ? "IPv6" : "IPv4", pfu_tp_errstr(err));
			break;
		}
	}
	mnl_socket_close(nl);
	return err ? -1 : 0;
}

static int pfu_tp_make(char *why, size_t whylen)
{
	const char *e;

	if (pfu_tp_probe(why, whylen))
		return -1;
	if (pfu_tp_efd < 0) {
		pfu_tp_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (pfu_tp_efd < 0) {
			snprintf(why, whylen, "eventfd: %s", strerror(errno));
			return -1;
		}
	}
	if (!pfu_tp_nft) {
		pfu_tp_nft = nft_ctx_new(NFT_CTX_DEFAULT);
		if (!pfu_tp_nft) {
			snprintf(why, whylen, "cannot create a libnftables context");
			return -1;
		}
		nft_ctx_buffer_output(pfu_tp_nft);
		nft_ctx_buffer_error(pfu_tp_nft);
	}
	if (pfu_tp_routing(why, whylen))
		goto fail;
	if (nft_run_cmd_from_buffer(pfu_tp_nft, pfu_tp_ruleset)) {
		e = nft_ctx_get_error_buffer(pfu_tp_nft);
		snprintf(why, whylen,
			 "nftables refused table inet portfw_tproxy, which marks the replies of "
			 "transparent sockets ('socket transparent 1': kernel module nft_socket): "
			 "%.*s",
			 (int)strcspn(e ? e : "", "\n"), e && *e ? e : "refused");
		goto fail;
	}
	pfu_tp_nft_in = true;
	pfu_tp_up = true;
	pf_info("user engine: transparent forwards: replies marked %#x by table inet "
		"portfw_tproxy, rule 'fwmark %#x/%#x lookup %u' (%s), 'local default dev lo' "
		"in table %u",
		PFU_TPROXY_MARK, PFU_TPROXY_MARK, PFU_TPROXY_MARK, PFU_TPROXY_TABLE,
		(pfu_tp_fams & PFU_TP_FAM6) ? "IPv4, IPv6" : "IPv4", PFU_TPROXY_TABLE);
	return 0;
fail:
	pfu_tp_remove(); /* what was made of it */
	return -1;
}

int pfu_tproxy_prepare(const struct pf_forward *who, char *err, size_t errlen)
{
	char why[768], where[PF_WHERE_MAX];

	pfu_tp_want = who != NULL;
	pfu_tp_fresh = false;
	if (!who || pfu_tp_up)
		return 0;
	if (pfu_tp_make(why, sizeof(why))) {
		snprintf(err, errlen, "%s: transparent: %s",
			 pf_forward_where(who, who->conf.line, where, sizeof(where)), why);
		return -1;
	}
	pfu_tp_fresh = true;
	return 0;
}

void pfu_tproxy_abort(void)
{
	if (pfu_tp_fresh)
		pfu_tp_remove();
	pfu_tp_fresh = false;
}

void pfu_tproxy_commit(void)
{
	pfu_tp_fresh = false;
	if (pfu_tp_want || !pfu_tp_up) {
		atomic_store(&pfu_tp_pending, false);
		return;
	}
	/* Set before the count is read: a worker ending the last flow now
	 * sees it and wakes us (pfu_tproxy_flow_end). */
	atomic_store(&pfu_tp_pending, true);
	if (!atomic_load(&pfu_tp_flows))
		pfu_tp_remove();
	else
		pf_info("user engine: no transparent forward left; its table and rules go with "
			"the last of its %u flows", atomic_load(&pfu_tp_flows));
}

int pfu_tproxy_event_fd(void)
{
	return pfu_tp_efd;
}

bool pfu_tproxy_event(void)
{
	uint64_t n;

	(void)!read(pfu_tp_efd, &n, sizeof(n));
	if (pfu_tp_up && atomic_load(&pfu_tp_pending) && !atomic_load(&pfu_tp_flows))
		pfu_tp_remove();
	return false; /* nothing for the table to follow */
}

void pfu_tproxy_stop(void)
{
	if (pfu_tp_up)
		pfu_tp_remove();
	if (pfu_tp_nft)
		nft_ctx_free(pfu_tp_nft);
	pfu_tp_nft = NULL;
	if (pfu_tp_efd >= 0)
		close(pfu_tp_efd);
	pfu_tp_efd = -1;
}

void pfu_tproxy_flow_begin(void)
{
	atomic_fetch_add(&pfu_tp_flows, 1);
}

void pfu_tproxy_flow_end(void)
{
	uint64_t one = 1;

	if (atomic_fetch_sub(&pfu_tp_flows, 1) == 1 && atomic_load(&pfu_tp_pending))
		(void)!write(pfu_tp_efd, &one, sizeof(one));
}

/* The client's address as a source of FAMILY. A dual-stack listener's IPv4
 * clients come as ::ffff:a.b.c.d: plain IPv4 toward an IPv4 backend; toward
 * an IPv6 one, bind() would take it, connect() fail and blame the backend. */
static int pfu_tp_source(const union pf_sa *client, int family, union pf_sa *src)
{
	const struct in6_addr *a6 = &client->sin6.sin6_addr;
	bool mapped = client->sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(a6);

	*src = *client;
	if (!mapped)
		return client->sa.sa_family == family ? 0 : -EAFNOSUPPORT;
	if (family != AF_INET)
		return -EAFNOSUPPORT;
	memset(src, 0, sizeof(*src));
	src->sin.sin_family = AF_INET;
	memcpy(&src->sin.sin_addr, &a6->s6_addr[12], 4);
	src->sin.sin_port = client->sin6.sin6_port;
	return 0;
}

int pfu_tproxy_bind(int fd, const struct pf_forward *fwd, const union pf_sa *client,
		    const union pf_sa *backend, bool udp)
{
	int family = backend->sa.sa_family, one = 1, rc;
	union pf_sa src;
	char a[PF_ADDRSTR_MAX], b[PF_ADDRSTR_MAX], l[PF_WHERE_MAX];
	uint64_t k;

	rc = pfu_tp_source(client, family, &src);
	if (!rc && (family == AF_INET6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, &one,
						    sizeof(one))
				       : setsockopt(fd, IPPROTO_IP, IP_TRANSPARENT, &one,
						    sizeof(one))) < 0)
		rc = -errno;
	if (!rc && udp) {
		/* Its own client port: a session's socket is its 4-tuple. Where
		 * that is taken (a client on this host), another port. */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, &src.sa, pf_sa_len(&src)) == 0)
			return 0;
	}
	if (!rc) {
		/* TCP: the port comes with connect(), chosen for the backend's
		 * 4-tuple, not reserved for every destination by bind(). */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		pf_sa_set_port(&src, 0);
		if (bind(fd, &src.sa, pf_sa_len(&src)) < 0)
			rc = -errno;
	}
	if (!rc)
		return 0;
	k = pf_ratelimit_ok(&pfu_rl_tproxy, 1000);
	if (k) {
		pf_sa_format(client, false, a, sizeof(a));
		pf_sa_format(backend, true, b, sizeof(b));
		pf_warn("forward %s: transparent: client %s cannot be the source toward %s: %s; "
			"client dropped (%lu times)",
			pf_forward_label(fwd, l, sizeof(l)), a, b,
			rc == -EAFNOSUPPORT ? "another address family" : strerror(-rc),
			(unsigned long)k);
	}
	return rc;
}
