// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Backends given by host name, followed as the name changes: each name of
 * the running table is resolved again every 'resolve-interval' (sooner when
 * the answer's TTL says so, never more often than PF_RESOLVE_MIN_MS) with
 * c-ares, whose sockets and timeouts the main loop drives: no thread, and
 * never the relay's. A new answer becomes a table change like any other
 * (pfd_table_readdress): new flows go to the new address, the flows to the
 * old one run on. A name that stops resolving keeps its last addresses; that
 * is logged once each time the name's state changes.
 *
 * A job is one name of one forward (the forward without a reference: the
 * jobs follow each change of the table before the forwards that went are
 * dropped). A job outlives a change of its forward (same id, host and
 * ports), so that a query in flight and the failing state carry over.
 */
#include "pfd.h"
#include "pfd_loop.h"
#include "../common/pf_log.h"
#include "../common/pf_table.h"
#include "../common/pf_util.h"

#include <ares.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

/* How long the timer sleeps when no name is watched. */
#define PFD_RESOLVE_IDLE_MS 3600000

struct pfd_rjob {
	struct pf_forward *f; /* NULL: orphaned by the change being followed */
	uint32_t be; /* index of the line's first entry in f->be */
	uint32_t id; /* f->id, kept across versions of f */
	uint32_t key; /* pfd_rjob_key of the line: which job a new version takes */
	uint64_t qid; /* the query in flight (0: none) */
	uint64_t due; /* pf_now_ms of the next query */
	bool failing; /* the last answer was no address */
};

static ares_channel pfd_ares;
static bool pfd_ares_up;
static struct pfd_rjob *pfd_jobs;
static size_t pfd_njobs, pfd_capjobs;
static int64_t pfd_rtimer;
static uint64_t pfd_next_qid = 1;

static const struct pf_be_conf *pfd_rjob_conf(const struct pfd_rjob *j)
{
	return &j->f->be[j->be].conf;
}

static uint32_t pfd_rjob_key(const struct pf_be_conf *bc)
{
	return pf_name_hash(bc->host) ^ ((uint32_t)bc->port_lo << 16 | bc->port_hi);
}

static struct pfd_rjob *pfd_rjob_by_qid(uint64_t qid)
{
	size_t i;

	for (i = 0; i < pfd_njobs; i++)
		if (pfd_jobs[i].qid == qid && pfd_jobs[i].f)
			return &pfd_jobs[i];
	return NULL;
}

static void pfd_resolve_arm(void)
{
	struct timeval tv, *tp;
	uint64_t now = pf_now_ms(), next = UINT64_MAX, wait;
	size_t i;

	if (!pfd_rtimer)
		return;
	for (i = 0; i < pfd_njobs; i++)
		if (pfd_jobs[i].f && !pfd_jobs[i].qid && pfd_jobs[i].due < next)
			next = pfd_jobs[i].due;
	wait = next == UINT64_MAX ? PFD_RESOLVE_IDLE_MS : next > now ? next - now : 0;
	tp = ares_timeout(pfd_ares, NULL, &tv);
	if (tp) {
		uint64_t t = (uint64_t)tp->tv_sec * 1000 + (uint64_t)tp->tv_usec / 1000;

		if (t < wait)
			wait = t;
	}
	/* Never 0: a one-shot timer its fn leaves due now is gone. */
	pfd_timer_set(pfd_rtimer, wait ? wait : 1);
}

/* c-ares opens, watches and closes its sockets: the loop follows. */
static void pfd_on_ares(int fd, uint32_t events, void *arg)
{
	(void)arg;
	ares_process_fd(pfd_ares, events & (EPOLLIN | EPOLLERR | EPOLLHUP) ? fd : ARES_SOCKET_BAD,
			events & EPOLLOUT ? fd : ARES_SOCKET_BAD);
	pfd_resolve_arm();
}

static void pfd_ares_sock(void *data, ares_socket_t fd, int readable, int writable)
{
	uint32_t ev = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
	int e;

	(void)data;
	if (!ev) {
		pfd_loop_del(fd);
		return;
	}
	e = pfd_loop_mod(fd, ev);
	if (e == -ENOENT)
		e = pfd_loop_add(fd, ev, pfd_on_ares, NULL);
	if (e)
		pf_err("resolver: cannot watch a socket: %s", strerror(-e));
}

/* The addresses of an answer, and its shortest TTL in seconds (0: none). */
static size_t pfd_answer(const struct ares_addrinfo *res, union pf_sa *v, size_t max,
			 int *ttl)
{
	const struct ares_addrinfo_node *n;
	size_t k = 0;

	*ttl = 0;
	for (n = res ? res->nodes : NULL; n && k < max; n = n->ai_next) {
		if (n->ai_family != AF_INET && n->ai_family != AF_INET6)
			continue;
		memset(&v[k], 0, sizeof(v[k]));
		memcpy(&v[k], n->ai_addr,
		       n->ai_addrlen < sizeof(v[k]) ? n->ai_addrlen : sizeof(v[k]));
		if (n->ai_ttl > 0 && (!*ttl || n->ai_ttl < *ttl))
			*ttl = n->ai_ttl;
		k++;
	}
	return k;
}

static void pfd_addrs_text(const union pf_sa *v, size_t n, char *buf, size_t len)
{
	size_t k, off = 0;

	buf[0] = '\0';
	for (k = 0; k < n && off < len; k++) {
		char a[PF_ADDRSTR_MAX];

		pf_sa_format(&v[k], false, a, sizeof(a));
		off += (size_t)snprintf(buf + off, len - off, "%s%s", k ? "," : "", a);
	}
}

static bool pfd_addrs_same(const union pf_sa *a, size_t na, const union pf_sa *b, size_t nb)
{
	size_t k;

	if (na != nb)
		return false;
	for (k = 0; k < na; k++)
		if (!pf_sa_addr_equal(&a[k], &b[k]))
			return false;
	return true;
}

static void pfd_on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	union pf_sa got[PF_BACKENDS_MAX], cur[PF_BACKENDS_MAX];
	struct pfd_rjob *j = pfd_rjob_by_qid((uint64_t)(uintptr_t)arg);
	char lab[PF_WHERE_MAX], was[512], now[512], err[512], host[PF_HOST_MAX];
	size_t n = 0, nc;
	int ttl = 0;

	(void)timeouts;
	if (j)
		j->qid = 0;
	/* Its forward went meanwhile, or the channel is being replaced. */
	if (!j || status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		ares_freeaddrinfo(res);
		return;
	}
	/* A copy: the change below may drop the forward. */
	pf_strlcpy(host, pfd_rjob_conf(j)->host, sizeof(host));
	nc = pf_backend_group(j->f, j->be, cur, PF_ARRAY_SIZE(cur));
	if (status == ARES_SUCCESS)
		n = pf_addrs_pick(got, pfd_answer(res, got, PF_ARRAY_SIZE(got), &ttl),
				  cur[0].sa.sa_family, j->f->conf.o.resolve == PF_RESOLVE_ALL,
				  &cur[0]);
	ares_freeaddrinfo(res);
	pf_forward_label(j->f, lab, sizeof(lab));
	pfd_addrs_text(cur, nc, was, sizeof(was));
	j->due = pf_now_ms() + pf_resolve_wait_ms(j->f->conf.o.resolve_ms, ttl);
	if (!n) {
		if (!j->failing)
			pf_warn("forward %s: backend host '%s' does not resolve (%s): keeps %s",
				lab, host,
				status == ARES_SUCCESS ? "no address of its family"
						       : ares_strerror(status),
				was);
		j->failing = true;
		return;
	}
	if (j->failing)
		pf_info("forward %s: backend host '%s' resolves again", lab, host);
	j->failing = false;
	if (pfd_addrs_same(cur, nc, got, n))
		return;
	pfd_addrs_text(got, n, now, sizeof(now));
	pf_info("forward %s: backend host '%s' is now %s (was %s)", lab, host, now, was);
	/* j is followed (or dropped) by the change: not read after it. */
	if (pfd_table_readdress(j->f, j->be, got, n, err, sizeof(err)))
		pf_err("forward %s: backend host '%s' moved, but the change failed: %s", lab,
		       host, err);
}

static void pfd_resolve_query(struct pfd_rjob *j)
{
	struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC,
					     .ai_socktype = SOCK_STREAM };
	uint64_t qid = pfd_next_qid++;

	j->qid = qid;
	/* The answer may come at once (a name of /etc/hosts): j is looked up
	 * again by its query then, never held across the call. */
	ares_getaddrinfo(pfd_ares, pfd_rjob_conf(j)->host, NULL, &hints, pfd_on_answer,
			 (void *)(uintptr_t)qid);
}

static void pfd_on_rtimer(void *arg)
{
	uint64_t now = pf_now_ms();
	size_t i;

	(void)arg;
	ares_process_fd(pfd_ares, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
	/* By index: an answer from /etc/hosts changes the table, and the jobs,
	 * inside the call. */
	for (i = 0; i < pfd_njobs; i++)
		if (pfd_jobs[i].f && !pfd_jobs[i].qid && pfd_jobs[i].due <= now)
			pfd_resolve_query(&pfd_jobs[i]);
	pfd_resolve_arm();
}

static void pfd_rjob_add(struct pf_forward *f, uint32_t be, uint64_t due, bool adopt)
{
	uint32_t key = pfd_rjob_key(&f->be[be].conf);
	size_t i;

	/* The job of the forward's previous version, if it had this line. */
	for (i = 0; adopt && i < pfd_njobs; i++) {
		struct pfd_rjob *j = &pfd_jobs[i];

		if (!j->f && j->id == f->id && j->key == key) {
			j->f = f;
			j->be = be;
			return;
		}
	}
	if (pfd_njobs == pfd_capjobs) {
		size_t cap = pfd_capjobs ? pfd_capjobs * 2 : 16;
		struct pfd_rjob *v = realloc(pfd_jobs, cap * sizeof(*v));

		if (!v) {
			pf_err("resolver: %s: host '%s' is not followed", strerror(ENOMEM),
			       f->be[be].conf.host);
			return;
		}
		pfd_jobs = v;
		pfd_capjobs = cap;
	}
	pfd_jobs[pfd_njobs++] =
		(struct pfd_rjob){ .f = f, .be = be, .id = f->id, .key = key, .due = due };
}

/* A new name is asked soon after the table resolved it: the system's
 * resolver gave no TTL, and a TTL shorter than the interval is to be
 * followed from the start. */
static void pfd_rjobs_of(struct pf_forward *f, uint64_t now, bool adopt)
{
	uint32_t b;

	for (b = 0; b < f->nbe; b++)
		if (!f->be[b].extra && pf_host_is_name(f->be[b].conf.host))
			pfd_rjob_add(f, b, now + PF_RESOLVE_MIN_MS, adopt);
}

static void pfd_rjobs_orphan(const struct pf_forward *f)
{
	size_t i;

	for (i = 0; i < pfd_njobs; i++)
		if (pfd_jobs[i].f == f)
			pfd_jobs[i].f = NULL;
}

static int pfd_ares_init(ares_channel *ch)
{
	struct ares_options o = { .sock_state_cb = pfd_ares_sock,
				  /* Short: a name that does not answer keeps its
				   * address anyway, and is asked again soon. */
				  .timeout = 2000,
				  .tries = 2 };

	return ares_init_options(ch, &o,
				 ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
}

/* c-ares reads resolv.conf once, into its channel: a reload makes a new
 * one, so that a changed name server is followed too. The old channel's
 * queries end unanswered (their jobs ask again when due). */
static void pfd_ares_renew(void)
{
	ares_channel ch;
	size_t i;
	int rc = pfd_ares_init(&ch);

	if (rc != ARES_SUCCESS) {
		pf_warn("resolver: keeps its name servers: %s", ares_strerror(rc));
		return;
	}
	ares_destroy(pfd_ares);
	pfd_ares = ch;
	for (i = 0; i < pfd_njobs; i++)
		pfd_jobs[i].qid = 0;
}

void pfd_resolve_follow(const struct pf_table *next, const struct pf_table *cur)
{
	uint64_t now = pf_now_ms();
	size_t i, k;

	if (!pfd_ares_up)
		return;
	if (next->base == cur) {
		for (i = 0; i < next->del.n; i++)
			pfd_rjobs_orphan(next->del.v[i]);
		for (i = 0; i < next->add.n; i++)
			pfd_rjobs_of(next->add.v[i], now, true);
	} else {
		/* A whole table (a reload): it resolved every name just now,
		 * and logged those that failed; the jobs start again, without
		 * a search for their previous versions (a reload of many
		 * names would be quadratic). */
		pfd_ares_renew();
		pfd_njobs = 0;
		for (i = 0; i < next->n; i++)
			pfd_rjobs_of(next->fwd[i], now, false);
	}
	/* The jobs no forward took any more (a query in flight of one is
	 * answered to nobody). */
	for (i = k = 0; i < pfd_njobs; i++)
		if (pfd_jobs[i].f)
			pfd_jobs[k++] = pfd_jobs[i];
	pfd_njobs = k;
	pfd_resolve_arm();
}

int pfd_resolve_start(void)
{
	int rc = ares_library_init(ARES_LIB_INIT_ALL);

	if (rc == ARES_SUCCESS)
		rc = pfd_ares_init(&pfd_ares);
	if (rc != ARES_SUCCESS) {
		pf_err("resolver: %s", ares_strerror(rc));
		return -1;
	}
	pfd_ares_up = true;
	pfd_rtimer = pfd_timer_add(PFD_RESOLVE_IDLE_MS, 0, pfd_on_rtimer, NULL);
	if (pfd_rtimer < 0) {
		pfd_rtimer = 0;
		pf_err("resolver: %s", strerror(ENOMEM));
		return -1;
	}
	return 0;
}

void pfd_resolve_stop(void)
{
	if (!pfd_ares_up)
		return;
	pfd_timer_del(pfd_rtimer);
	pfd_rtimer = 0;
	/* Its queries are answered (cancelled) to no job: none is left. */
	pfd_njobs = 0;
	ares_destroy(pfd_ares);
	ares_library_cleanup();
	pfd_ares_up = false;
	free(pfd_jobs);
	pfd_jobs = NULL;
	pfd_capjobs = 0;
}
