// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The user engine's side of a change: listening sockets are keyed by
 * protocol, address and port, so a port that stays in the table keeps its
 * sockets (and its backlog) whatever else changed about its forward. New
 * sockets are bound in prepare, before anything changes, so "address in use"
 * is an error that leaves the running table alone.
 */
#include "pfu_int.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PFU_BACKLOG 4096

struct pfu_config pfu_cfg;

static struct pfu_worker *pfu_w;
static int pfu_nw;
static struct pfu_lsock **pfu_cur;
static size_t pfu_ncur, pfu_nnext;
static struct pfu_plan *pfu_plan;
static bool pfu_prepared;
static bool pfu_draining; /* the listeners are closed: no change comes in */

void pfu_configure(const struct pfu_config *cfg)
{
	pfu_cfg = *cfg;
}

/*
 * -a: worker i runs on the i-th CPU the process may run on, and the kernel
 * hands a new connection to the listener of the worker on the CPU its
 * packets came in on: the client's socket, the backend's and the worker
 * stay on one CPU's caches, and no wakeup crosses CPUs. An option: a
 * pinned worker cannot leave a CPU that something else keeps busy, and the
 * connections of one client CPU (many streams of one process, over veth or
 * loopback) all go to one worker.
 */
static void pfu_pin_plan(void)
{
	cpu_set_t set;
	int cpu, i = 0;

	if (!pfu_cfg.pin)
		return;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) < 0 || CPU_COUNT(&set) != pfu_nw) {
		pf_warn("-a: %d worker%s for %d CPU%s: not pinned (expected one per CPU)", pfu_nw,
			pfu_nw > 1 ? "s" : "", CPU_COUNT(&set), CPU_COUNT(&set) > 1 ? "s" : "");
		return;
	}
	for (cpu = 0; cpu < CPU_SETSIZE && i < pfu_nw; cpu++)
		if (CPU_ISSET(cpu, &set))
			pfu_w[i++].cpu = cpu;
}

static int pfu_start(char *err, size_t errlen)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	const struct pfu_config *cfg = &pfu_cfg;
	int i;

	cpu_set_t set;

	pfu_nw = cfg->workers > 0 ? cfg->workers : (int)(ncpu > 0 ? ncpu : 1);
	/* Pinned, one per CPU this process may use (taskset, cgroup cpuset). */
	CPU_ZERO(&set);
	if (cfg->pin && !cfg->workers && !sched_getaffinity(0, sizeof(set), &set))
		pfu_nw = CPU_COUNT(&set);
	if (pfu_nw > PFU_WORKERS_MAX)
		pfu_nw = PFU_WORKERS_MAX;
	pfu_w = pf_xcalloc((size_t)pfu_nw, sizeof(*pfu_w));
	for (i = 0; i < pfu_nw; i++) {
		if (pfu_worker_init(&pfu_w[i], i) < 0) {
			snprintf(err, errlen, "user engine: worker %d: %s", i, strerror(errno));
			return -1;
		}
	}
	pfu_pin_plan();
	for (i = 0; i < pfu_nw; i++) {
		pthread_attr_t attr;
		cpu_set_t one;
		int rc;

		pthread_attr_init(&attr);
		if (pfu_w[i].cpu >= 0) {
			CPU_ZERO(&one);
			CPU_SET(pfu_w[i].cpu, &one);
			pthread_attr_setaffinity_np(&attr, sizeof(one), &one);
		}
		rc = pthread_create(&pfu_w[i].th, &attr, pfu_worker_main, &pfu_w[i]);
		pthread_attr_destroy(&attr);
		if (rc) {
			snprintf(err, errlen, "user engine: cannot start worker %d", i);
			return -1;
		}
	}
	pf_info("user engine: %d worker%s%s, %s relay", pfu_nw, pfu_nw > 1 ? "s" : "",
		pfu_w[0].cpu >= 0 ? ", one on each CPU" : "", cfg->copy ? "copy" : "splice");
	return 0;
}

static void pfu_lsock_close(struct pfu_lsock *ls)
{
	int i;

	for (i = 0; i < pfu_nw; i++)
		if (ls->fds[i] >= 0)
			close(ls->fds[i]);
	free(ls);
}

/* "%IF:PORT": only what arrives on interface IF, whatever its address is now
 * (a PPP or DHCP address that changes keeps the socket). */
static int pfu_bind_dev(int fd, const char *ifname)
{
	if (!ifname[0])
		return 0;
	return setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname));
}

/*
 * bind(), and for an address this host does not have (yet) bind() again
 * with IP_FREEBIND: the backup of an HA pair listens on the virtual address
 * that keepalived gives it only at failover, and must serve at once then.
 * *freed (may be NULL) says it took that.
 */
static int pfu_bind(int fd, const union pf_sa *sa, bool *freed)
{
	bool v6 = sa->sa.sa_family == AF_INET6;
	int one = 1;

	if (!bind(fd, &sa->sa, pf_sa_len(sa)))
		return 0;
	if (errno != EADDRNOTAVAIL)
		return -1;
	if (setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_FREEBIND : IP_FREEBIND, &one,
		       sizeof(one)) < 0) {
		errno = EADDRNOTAVAIL; /* what the operator must hear about */
		return -1;
	}
	if (bind(fd, &sa->sa, pf_sa_len(sa)) < 0)
		return -1;
	if (freed)
		*freed = true;
	return 0;
}

static int pfu_listen_one(uint8_t proto, union pf_sa *sa, bool v6only, bool any,
			  const char *ifname, char *why, size_t whylen)
{
	int fd, one = 1;

	fd = socket(sa->sa.sa_family,
		    (proto == PF_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -errno;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    pfu_bind_dev(fd, ifname) < 0)
		goto fail;
	if (sa->sa.sa_family == AF_INET6) {
		int v = v6only;

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v)) < 0)
			goto fail;
	}
	if (proto == PF_PROTO_UDP) {
		int rcv = 4 << 20;

		/* Replies must leave from the address the client sent to. */
		if (any && sa->sa.sa_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
		if (any && sa->sa.sa_family == AF_INET)
			setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		/* Bursts wait here while the worker is busy (capped by rmem_max). */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
		if (pfu_bind(fd, sa, NULL) < 0)
			goto fail;
		return fd;
	}
	/* Inherited by accepted sockets: saves a setsockopt per client. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (pfu_bind(fd, sa, NULL) < 0 || listen(fd, PFU_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	snprintf(why, whylen, "%s", strerror(errno));
	close(fd);
	return -1;
}

/* Ports (per protocol) where the running table has sockets already. */
static uint64_t pfu_held[2][65536 / 64];

static bool pfu_port_held(uint8_t proto, uint16_t port)
{
	return pfu_held[proto == PF_PROTO_UDP][port / 64] & (1ULL << (port % 64));
}

/*
 * SO_REUSEPORT would let our sockets join another program's listener on the
 * same port (same user), and the kernel would split its clients with us.
 * So a port we do not hold yet is first bound once without it: that fails
 * if anybody listens there.
 */
static int pfu_probe(uint8_t proto, const union pf_sa *sa, bool v6only, const char *ifname,
		     char *why, size_t whylen)
{
	int fd, one = 1, v = v6only;
	bool freed = false;

	fd = socket(sa->sa.sa_family, (proto == PF_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	/* TCP: TIME_WAIT leftovers of our own earlier flows are no conflict. */
	if (proto == PF_PROTO_TCP)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v));
	if (pfu_bind_dev(fd, ifname) < 0 || pfu_bind(fd, sa, &freed) < 0) {
		int e = errno;

		snprintf(why, whylen, "%s", strerror(e));
		close(fd);
		return -e;
	}
	close(fd);
	if (freed) {
		char a[PF_ADDRSTR_MAX];

		pf_sa_format(sa, true, a, sizeof(a));
		pf_warn("user engine: %s %s is no address of this host now: listening anyway "
			"(IP_FREEBIND), it serves once the address comes (the backup of an HA "
			"pair: docs/ha.md)", pf_proto_name(proto), a);
	}
	return 0;
}

/* An inherited socket may be bound to the IPv4 fallback of the address
 * asked for (no IPv6 in the kernel): what it is bound to is the truth. */
static void pfu_handed_addr(struct pfu_lsock *ls)
{
	union pf_sa sa;
	socklen_t len = sizeof(sa);

	if (!getsockname(ls->fds[0], &sa.sa, &len))
		ls->addr = sa;
}

/* A TCP listener takes the clients that come in on its worker's CPU. Not
 * UDP: a client's datagrams may come in on any CPU, and its session lives
 * in one worker's table, the one SO_REUSEPORT's hash names. */
static void pfu_steer(uint8_t proto, int fd, int cpu)
{
	if (proto == PF_PROTO_TCP && cpu >= 0)
		setsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, sizeof(cpu));
}

static struct pfu_lsock *pfu_lsock_open(const struct pf_forward *f, uint8_t proto, uint16_t port,
					char *err, size_t errlen)
{
	struct pfu_lsock *ls = pf_xcalloc(1, sizeof(*ls));
	char why[128], a[PF_ADDRSTR_MAX], where[PF_WHERE_MAX];
	bool held;
	int i;

	ls->proto = proto;
	ls->v6only = f->conf.lbracketed;
	ls->addr = f->laddr;
	pf_sa_set_port(&ls->addr, port);
	ls->key = ls->addr;
	pf_strlcpy(ls->ifname, f->conf.lif, sizeof(ls->ifname));
	for (i = 0; i < PFU_WORKERS_MAX; i++)
		ls->fds[i] = -1;
	/* An upgrade handed these over: they are ours, and bound already. */
	held = pf_handover_has(PF_HO_LISTEN, proto, ls->v6only, ls->ifname, &ls->key);
	if (!held && !pfu_port_held(proto, port)) {
		int rc = pfu_probe(proto, &ls->addr, f->conf.lbracketed,
				   f->conf.lif, why, sizeof(why));

		if (rc == -EAFNOSUPPORT && !f->conf.lhost[0]) {
			memset(&ls->addr, 0, sizeof(ls->addr));
			ls->addr.sin.sin_family = AF_INET;
			pf_sa_set_port(&ls->addr, port);
			rc = pfu_probe(proto, &ls->addr, false, f->conf.lif,
				       why, sizeof(why));
		}
		if (rc < 0) {
			pf_sa_format(&ls->addr, true, a, sizeof(a));
			snprintf(err, errlen, "%s: cannot listen on %s %s: %s",
				 pf_forward_where(f, f->conf.line, where, sizeof(where)),
				 pf_proto_name(proto), a, why);
			pfu_lsock_close(ls);
			return NULL;
		}
	}
	for (i = 0; i < pfu_nw; i++) {
		ls->fds[i] = held ? pf_handover_take(PF_HO_LISTEN, proto, ls->v6only, ls->ifname,
						     &ls->key)
				  : -1;
		if (ls->fds[i] >= 0) {
			pfu_handed_addr(ls);
			continue;
		}
		/* ":PORT" is every address, v4 and v6 on one socket; "[::]:PORT" is v6 only. */
		ls->fds[i] = pfu_listen_one(proto, &ls->addr,
					    f->conf.lbracketed,
					    pf_sa_is_any(&ls->addr),
					    f->conf.lif, why, sizeof(why));
		if (ls->fds[i] == -EAFNOSUPPORT && !f->conf.lhost[0]) {
			/* No IPv6 in this kernel: every address means every IPv4 one. */
			memset(&ls->addr, 0, sizeof(ls->addr));
			ls->addr.sin.sin_family = AF_INET;
			pf_sa_set_port(&ls->addr, port);
			ls->fds[i] = pfu_listen_one(proto, &ls->addr, false, true,
						    f->conf.lif, why,
						    sizeof(why));
		}
		if (ls->fds[i] < 0) {
			ls->fds[i] = -1;
			pf_sa_format(&ls->addr, true, a, sizeof(a));
			snprintf(err, errlen, "%s: cannot listen on %s %s: %s",
				 pf_forward_where(f, f->conf.line, where, sizeof(where)),
				 pf_proto_name(proto), a, why);
			pfu_lsock_close(ls);
			return NULL;
		}
		pfu_steer(proto, ls->fds[i], pfu_w[i].cpu);
	}
	return ls;
}

/* Listening sockets by protocol, address and port: an open-addressing hash
 * (prepare runs in O(ports), not O(ports^2), for big port ranges). */
struct pfu_lsmap {
	struct pfu_lsock **slot;
	size_t mask;
};

static uint64_t pfu_lskey(uint8_t proto, bool v6only, const union pf_sa *sa, const char *ifname)
{
	const unsigned char *p = (const unsigned char *)&sa->sin.sin_addr;
	size_t n = sizeof(sa->sin.sin_addr), i;
	uint64_t h = 14695981039346656037ULL ^ proto ^ ((uint64_t)v6only << 8) ^
		     ((uint64_t)pf_sa_port(sa) << 16);

	if (sa->sa.sa_family == AF_INET6) {
		p = (const unsigned char *)&sa->sin6.sin6_addr;
		n = sizeof(sa->sin6.sin6_addr);
	}
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	for (; *ifname; ifname++)
		h = (h ^ (unsigned char)*ifname) * 1099511628211ULL;
	return h;
}

static void pfu_lsmap_init(struct pfu_lsmap *m, size_t n)
{
	size_t size = 16;

	while (size < n * 2)
		size <<= 1;
	m->slot = pf_xcalloc(size, sizeof(*m->slot));
	m->mask = size - 1;
}

static bool pfu_lsock_is(const struct pfu_lsock *ls, uint8_t proto, bool v6only,
			 const union pf_sa *key, const char *ifname)
{
	return ls->proto == proto && ls->v6only == v6only && !strcmp(ls->ifname, ifname) &&
	       pf_sa_port(&ls->key) == pf_sa_port(key) && pf_sa_addr_equal(&ls->key, key);
}

static struct pfu_lsock **pfu_lsmap_find(struct pfu_lsmap *m, uint8_t proto, bool v6only,
					 const union pf_sa *key, const char *ifname)
{
	size_t i = pfu_lskey(proto, v6only, key, ifname) & m->mask;

	while (m->slot[i] && !pfu_lsock_is(m->slot[i], proto, v6only, key, ifname))
		i = (i + 1) & m->mask;
	return &m->slot[i];
}

static struct pfu_lsmap pfu_curmap, pfu_nextmap;

static int pfu_plan_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct pfu_plan *)a)->ls;
	uintptr_t y = (uintptr_t)((const struct pfu_plan *)b)->ls;

	return x < y ? -1 : x > y;
}

static void pfu_abort(void)
{
	size_t i;

	/* Each socket once: the ones opened for this change close, the running
	 * ones it would have reused stay as they are. */
	for (i = 0; pfu_nextmap.slot && i <= pfu_nextmap.mask; i++) {
		struct pfu_lsock *ls = pfu_nextmap.slot[i];

		if (!ls)
			continue;
		ls->nfwd = 0;
		if (ls->reused)
			ls->reused = false;
		else
			pfu_lsock_close(ls);
	}
	free(pfu_curmap.slot);
	free(pfu_nextmap.slot);
	memset(&pfu_curmap, 0, sizeof(pfu_curmap));
	memset(&pfu_nextmap, 0, sizeof(pfu_nextmap));
	free(pfu_plan);
	pfu_plan = NULL;
	pfu_nnext = 0;
	pfu_prepared = false;
	pfu_tproxy_abort();
}

/* Finds or opens the sockets of one forward's ports for one protocol. */
static int pfu_prepare_ports(struct pf_forward *f, uint8_t proto, char *err, size_t errlen)
{
	char where[PF_WHERE_MAX];
	uint32_t port;

	for (port = f->conf.lport_lo; port <= f->conf.lport_hi; port++) {
		union pf_sa key = f->laddr;
		struct pfu_lsock **np, **cp, *ls;

		pf_sa_set_port(&key, (uint16_t)port);
		np = pfu_lsmap_find(&pfu_nextmap, proto, f->conf.lbracketed,
				    &key, f->conf.lif);
		ls = *np;
		if (!ls) {
			cp = pfu_lsmap_find(&pfu_curmap, proto,
					    f->conf.lbracketed, &key,
					    f->conf.lif);
			if (*cp) {
				ls = *cp;
				ls->reused = true;
			} else if (!(ls = pfu_lsock_open(f, proto, (uint16_t)port, err, errlen))) {
				return -1;
			}
			*np = ls;
		}
		if (ls->nfwd == PFU_LFWD_MAX) {
			snprintf(err, errlen,
				 "%s: more than %d forwards on %s port %u; expected at most %d "
				 "source pools per port",
				 pf_forward_where(f, f->conf.line, where, sizeof(where)), PFU_LFWD_MAX,
				 pf_proto_name(proto), port,
				 PFU_LFWD_MAX);
			return -1;
		}
		/* A client of one forward that lets the server speak first may
		 * come to the socket: none is deferred then. */
		ls->defer_next = (ls->nfwd == 0 || ls->defer_next) && f->conf.defer_accept;
		ls->nfwd++;
		pfu_plan[pfu_nnext].ls = ls;
		pfu_plan[pfu_nnext].fwd = f;
		pfu_plan[pfu_nnext].port = (uint16_t)port;
		pfu_nnext++;
	}
	return 0;
}

/* A draft (see struct pf_table) whose forwards that come and go are all
 * the kernel's: this engine's sockets and plan stay as they are. */
static bool pfu_untouched(const struct pf_table *next)
{
	size_t i;

	if (!next->base)
		return false;
	for (i = 0; i < next->add.n; i++)
		if (pf_forward_engine(next->add.v[i]) != PF_ENGINE_KERNEL)
			return false;
	for (i = 0; i < next->del.n; i++)
		if (pf_forward_engine(next->del.v[i]) != PF_ENGINE_KERNEL)
			return false;
	return true;
}

static int pfu_prepare(const struct pf_table *next, char *err, size_t errlen)
{
	const struct pf_forward *tp = NULL;
	size_t i, cap = 0, nuser = 0;
	size_t *user;

	if (pfu_prepared)
		pfu_abort();
	if (pfu_draining) {
		snprintf(err, errlen, "user engine: stopping (its flows are draining)");
		return -1;
	}
	if (pfu_untouched(next))
		return 0; /* commit has nothing to do */
	pfu_prepared = true;
	user = pf_xarray(next->n, sizeof(*user));
	/* One walk: this engine's forwards, and room for their ports (a table
	 * of 100,000 kernel forwards needs none). */
	for (i = 0; i < next->n; i++) {
		const struct pf_forward *f = next->fwd[i];

		if (pf_forward_engine(f) == PF_ENGINE_KERNEL)
			continue; /* nftables carries it */
		user[nuser++] = i;
		cap += 2 * ((size_t)f->conf.lport_hi - f->conf.lport_lo + 1);
		/* Named if the host cannot: a new one rather than a running one. */
		if (f->conf.transparent && (!tp || (tp->live && !f->live)))
			tp = f;
	}
	pfu_plan = pf_xcalloc(cap ? cap : 1, sizeof(*pfu_plan));
	pfu_lsmap_init(&pfu_curmap, pfu_ncur);
	pfu_lsmap_init(&pfu_nextmap, cap);
	memset(pfu_held, 0, sizeof(pfu_held));
	for (i = 0; i < pfu_ncur; i++) {
		uint16_t port = pf_sa_port(&pfu_cur[i]->key);

		*pfu_lsmap_find(&pfu_curmap, pfu_cur[i]->proto, pfu_cur[i]->v6only,
				&pfu_cur[i]->key, pfu_cur[i]->ifname) = pfu_cur[i];
		pfu_held[pfu_cur[i]->proto == PF_PROTO_UDP][port / 64] |= 1ULL << (port % 64);
	}
	for (i = 0; i < nuser; i++) {
		struct pf_forward *f = next->fwd[user[i]];

		if (((f->conf.protos & PF_PROTO_TCP) && pfu_prepare_ports(f, PF_PROTO_TCP, err, errlen)) ||
		    ((f->conf.protos & PF_PROTO_UDP) && pfu_prepare_ports(f, PF_PROTO_UDP, err, errlen))) {
			free(user);
			pfu_abort();
			return -1;
		}
	}
	free(user);
	if (pfu_tproxy_prepare(tp, err, errlen)) {
		pfu_abort();
		return -1;
	}
	/* Workers merge the plan with their sockets in one pass: sort by socket. */
	qsort(pfu_plan, pfu_nnext, sizeof(*pfu_plan), pfu_plan_cmp);
	return 0;
}

/*
 * A TCP socket whose every forward has 'defer-accept' is accepted with the
 * client's first bytes: one wakeup for both, and the kernel drops the bare
 * ACK. A client that sends nothing is accepted anyway once the SYN-ACK was
 * sent again, after about a second (the value given).
 */
static void pfu_defer_apply(struct pfu_lsock *ls)
{
	int v = ls->defer_next, w;

	if (ls->proto != PF_PROTO_TCP || (ls->defer_known && ls->defer == ls->defer_next))
		return;
	for (w = 0; w < pfu_nw; w++)
		if (ls->fds[w] >= 0)
			setsockopt(ls->fds[w], IPPROTO_TCP, TCP_DEFER_ACCEPT, &v, sizeof(v));
	ls->defer = ls->defer_next;
	ls->defer_known = true;
}

static int pfu_commit(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	struct pfu_cmd c = { .type = PFU_CMD_APPLY, .plan = pfu_plan, .nplan = pfu_nnext };
	struct pfu_lsock **cur;
	size_t i, n = 0;
	int w;

	if (!pfu_prepared)
		return 0;

	/* Before the workers take the sockets: no client is accepted under
	 * the old setting after the change. */
	for (i = 0; i < pfu_nnext; i++)
		pfu_defer_apply(pfu_plan[i].ls);
	for (w = 0; w < pfu_nw; w++)
		pfu_worker_send(&pfu_w[w], &c);
	/* The workers closed their sockets of the ports that went away. */
	for (i = 0; i < pfu_ncur; i++)
		if (!pfu_cur[i]->reused)
			free(pfu_cur[i]);
	cur = pf_xcalloc(pfu_nnext ? pfu_nnext : 1, sizeof(*cur));
	for (i = 0; i < pfu_nnext; i++) {
		struct pfu_lsock *ls = pfu_plan[i].ls;

		if (i && pfu_plan[i - 1].ls == ls)
			continue;
		ls->reused = false;
		ls->nfwd = 0;
		cur[n++] = ls;
	}
	free(pfu_cur);
	free(pfu_plan);
	free(pfu_curmap.slot);
	free(pfu_nextmap.slot);
	memset(&pfu_curmap, 0, sizeof(pfu_curmap));
	memset(&pfu_nextmap, 0, sizeof(pfu_nextmap));
	pfu_cur = cur;
	pfu_ncur = n;
	pfu_plan = NULL;
	pfu_nnext = 0;
	pfu_prepared = false;
	/* After the workers' apply: no new flow of a forward that went. */
	pfu_tproxy_commit();
	return 0;
}

static unsigned pfu_kill(const struct pf_selector *sel, const struct pf_table *cur)
{
	struct pfu_cmd c = { .type = PFU_CMD_KILL, .sel = sel };
	int w;

	(void)cur; /* a flow knows its forward, deleted or not */
	for (w = 0; w < pfu_nw; w++)
		pfu_worker_send(&pfu_w[w], &c);
	return c.killed;
}

static void pfu_flows(const struct pf_table *cur, pf_flow_cb cb, void *arg)
{
	struct pfu_cmd c = { .type = PFU_CMD_CONNS, .flow_cb = cb, .flow_arg = arg };
	int w;

	(void)cur;
	for (w = 0; w < pfu_nw; w++)
		pfu_worker_send(&pfu_w[w], &c);
}

static unsigned pfu_drain(void)
{
	struct pfu_cmd c = { .type = PFU_CMD_DRAIN };
	size_t i;
	int w;

	if (!pfu_w)
		return 0;
	if (pfu_prepared)
		pfu_abort();
	pfu_draining = true;
	for (w = 0; w < pfu_nw; w++)
		pfu_worker_send(&pfu_w[w], &c);
	/* The workers closed their sockets of every port. */
	for (i = 0; i < pfu_ncur; i++)
		free(pfu_cur[i]);
	free(pfu_cur);
	pfu_cur = NULL;
	pfu_ncur = 0;
	return c.left;
}

static void pfu_stop(void)
{
	struct pfu_cmd c = { .type = PFU_CMD_STOP };
	size_t i;
	int w;

	if (!pfu_w)
		return;
	if (pfu_prepared)
		pfu_abort();
	for (w = 0; w < pfu_nw; w++) {
		pfu_worker_send(&pfu_w[w], &c);
		pthread_join(pfu_w[w].th, NULL);
		pfu_worker_cleanup(&pfu_w[w]);
	}
	for (i = 0; i < pfu_ncur; i++)
		free(pfu_cur[i]);
	free(pfu_cur);
	pfu_cur = NULL;
	pfu_ncur = 0;
	free(pfu_w);
	pfu_w = NULL;
	pfu_draining = false;
	pfu_tproxy_stop(); /* the flows are closed: nothing is left behind */
}

static void pfu_fork_guard(bool on)
{
	struct pfu_cmd c = { .type = PFU_CMD_SYNC };
	int w;

	atomic_store_explicit(&pfu_fork_on, on, memory_order_release);
	/* Raised: a worker between reading the flag down and its close would
	 * close after the fork, and its set would keep the socket. Each
	 * answers the command after such a close, never in between. */
	if (on && pfu_w)
		for (w = 0; w < pfu_nw; w++)
			pfu_worker_send(&pfu_w[w], &c);
}

/* Every worker's socket of every port, keyed by the address asked for. */
static void pfu_sockets(pf_handover_cb cb, void *arg)
{
	size_t i;
	int w;

	for (i = 0; i < pfu_ncur; i++) {
		const struct pfu_lsock *ls = pfu_cur[i];
		struct pf_handover_ent e = { .kind = PF_HO_LISTEN, .proto = ls->proto,
					     .v6only = ls->v6only, .addr = ls->key };

		pf_strlcpy(e.ifname, ls->ifname, sizeof(e.ifname));
		for (w = 0; w < pfu_nw; w++)
			if (ls->fds[w] >= 0)
				cb(&e, ls->fds[w], arg);
	}
}

const struct pf_engine_ops pfu_engine_ops = {
	.name = "user",
	.engine = PF_ENGINE_USER,
	.start = pfu_start,
	.stop = pfu_stop,
	.prepare = pfu_prepare,
	.commit = pfu_commit,
	.abort = pfu_abort,
	.flows = pfu_flows,
	.kill = pfu_kill,
	.drain = pfu_drain,
	.event_fd = pfu_tproxy_event_fd,
	.event = pfu_tproxy_event,
	.sockets = pfu_sockets,
	.fork_guard = pfu_fork_guard,
};
