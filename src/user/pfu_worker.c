// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A worker: one thread, one epoll set, its own SO_REUSEPORT socket of every
 * listening port, its own flows, timers and pipe pool. Nothing on the data
 * path is shared with other workers but the counters (relaxed atomics).
 * The main thread talks to it with one command at a time (eventfd + a
 * semaphore it waits on), so a change is in every worker when it returns.
 */
#include "pfu_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

struct pf_ratelimit pfu_rl_accept, pfu_rl_pipe;
_Atomic bool pfu_fork_on;

static int pfu_wl_arm(struct pfu_worker *w, struct pfu_wl *wl)
{
	struct epoll_event ev = {
		.events = EPOLLIN,
		.data.u64 = (uint64_t)(uintptr_t)wl | PFU_EV_LISTENER,
	};

	return epoll_ctl(w->ep, EPOLL_CTL_ADD, wl->fd, &ev);
}

static void pfu_wl_unpause(struct pfu_worker *w, struct pfu_wl *wl)
{
	struct pfu_wl **pp;

	for (pp = &w->paused; *pp; pp = &(*pp)->pnext) {
		if (*pp == wl) {
			*pp = wl->pnext;
			break;
		}
	}
	wl->paused = false;
	wl->pnext = NULL;
}

/*
 * Out of descriptors or buffers: the pending connection stays in the backlog
 * and the listener leaves the epoll set for PFU_PAUSE_MS, so we neither spin
 * nor drop it; closing flows brings it back sooner.
 */
static void pfu_wl_pause(struct pfu_worker *w, struct pfu_wl *wl, int err)
{
	uint64_t k = pf_ratelimit_ok(&pfu_rl_accept, 1000);
	char a[PF_ADDRSTR_MAX];

	if (k) {
		pf_sa_format(&wl->ls->addr, true, a, sizeof(a));
		pf_warn("accept on %s: %s; pausing the listener for %d ms (%lu times)", a,
			strerror(err), PFU_PAUSE_MS, (unsigned long)k);
	}
	epoll_ctl(w->ep, EPOLL_CTL_DEL, wl->fd, NULL);
	wl->paused = true;
	wl->resume_ms = w->now + PFU_PAUSE_MS;
	wl->pnext = w->paused;
	w->paused = wl;
}

static void pfu_resume(struct pfu_worker *w, bool now)
{
	struct pfu_wl *wl = w->paused, *next;

	for (; wl; wl = next) {
		next = wl->pnext;
		if (now || wl->resume_ms <= w->now) {
			pfu_wl_unpause(w, wl);
			pfu_wl_arm(w, wl);
		}
	}
}

struct pf_forward *pfu_select(struct pfu_wl *wl, const union pf_sa *client)
{
	struct pf_forward *best = NULL;
	int bestlen = -2;
	uint32_t i;

	for (i = 0; i < wl->nfwd; i++) {
		struct pf_forward *f = wl->fwd[i];
		int len = f->conf.from.n ? pf_cidrset_match(&f->conf.from,
							    client) : -1;

		if (f->conf.from.n && len < 0)
			continue;
		/* The longest 'from' wins; a pool without one only when
		 * nothing longer holds the client; first come on a tie. */
		if (pf_prefix_cmp(len, bestlen) < 0) {
			best = f;
			bestlen = len;
		}
	}
	if (!best) {
		/* No pool serves this source: count it where an operator looks. */
		atomic_fetch_add_explicit(&wl->fwd[0]->st->refused, 1, memory_order_relaxed);
		pf_refused(wl->fwd[0], PF_REFUSE_NO_POOL, client);
		return NULL;
	}
	if (!pf_acl_allows(best, client)) {
		atomic_fetch_add_explicit(&best->st->refused, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&best->st->denied, 1, memory_order_relaxed);
		pf_refused(best, PF_REFUSE_ACL, client);
		if (pf_flowlog_wanted(best))
			pfu_log_refused(best, wl, client, PF_END_REFUSED);
		return NULL;
	}
	return best;
}

static int pfu_tcp_socket(int family)
{
	return socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

int pfu_spare_fill(struct pfu_worker *w, uint8_t fams)
{
	static const int family[2] = { AF_INET, AF_INET6 };
	int i;

	for (i = 0; i < 2; i++) {
		if (!(fams & (1u << i)) || w->spare[i] >= 0)
			continue;
		w->spare[i] = pfu_tcp_socket(family[i]);
		if (w->spare[i] < 0)
			return -1;
	}
	return 0;
}

int pfu_spare_take(struct pfu_worker *w, int family)
{
	int i = family == AF_INET6, fd = w->spare[i];

	if (fd < 0)
		return pfu_tcp_socket(family);
	/* Replaced now, while the flow's descriptors are fresh; if that fails
	 * the listener pauses before its next accept. */
	w->spare[i] = pfu_tcp_socket(family);
	return fd;
}

static struct pf_ratelimit pfu_rl_masq;

int pfu_masq_bind(int fd, const struct pf_forward *fwd, bool stream)
{
	union pf_sa src = fwd->conf.masq.addr;
	int one = 1, e;
	uint64_t k;
	char a[PF_ADDRSTR_MAX], l[PF_WHERE_MAX];

	if (!src.sa.sa_family)
		return 0;
	/* The port comes with connect(): a source address shared by many
	 * flows does not use up a port per socket before it connects. */
	if (stream)
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	pf_sa_set_port(&src, 0);
	if (!bind(fd, &src.sa, pf_sa_len(&src)))
		return 0;
	e = errno;
	k = pf_ratelimit_ok(&pfu_rl_masq, 1000);
	if (k) {
		pf_sa_format(&src, false, a, sizeof(a));
		pf_warn("forward %s: cannot connect from %s ('masquerade'): %s; client dropped "
			"(%lu times)",
			pf_forward_label(fwd, l, sizeof(l)), a, strerror(e), (unsigned long)k);
	}
	return -e;
}

static void pfu_accept(struct pfu_worker *w, struct pfu_wl *wl)
{
	int i;

	for (i = 0; i < PFU_ACCEPT_BURST; i++) {
		union pf_sa client;
		socklen_t clen = sizeof(client);
		int fd;

		/* Accept only with the backend socket already made: otherwise
		 * the client waits in the backlog, not reset. */
		if (wl->ls->proto == PF_PROTO_TCP && pfu_spare_fill(w, wl->fams) < 0) {
			pfu_wl_pause(w, wl, errno);
			return;
		}
		fd = accept4(wl->fd, &client.sa, &clen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			pfu_tcp_accept(w, fd, wl, &client);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			return;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			pfu_wl_pause(w, wl, errno);
			return;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
		case EPERM:
		case ENETDOWN:
		case ENOPROTOOPT:
		case EHOSTDOWN:
		case ENONET:
		case EHOSTUNREACH:
		case EOPNOTSUPP:
		case ENETUNREACH:
			continue; /* that client's problem, not the listener's */
		default:
			pf_warn("accept: %s", strerror(errno));
			return;
		}
	}
}

void pfu_close_shared(struct pfu_worker *w, int fd)
{
	/* close alone leaves the epoll set only with the socket's last
	 * descriptor: an event after it would name a freed listener or flow. */
	epoll_ctl(w->ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

void pfu_close_sock(struct pfu_worker *w, int fd)
{
	/* A flow's socket has no other descriptor, so its close leaves the
	 * set without an epoll_ctl per socket; except while an upgrade's
	 * child holds copies of all, from its fork to its exec. The engine
	 * waits for every worker after raising the flag and before the
	 * fork: a close that read it down is done by then. */
	if (atomic_load_explicit(&pfu_fork_on, memory_order_acquire)) {
		pfu_close_shared(w, fd);
		return;
	}
	close(fd);
}

static void pfu_wl_close(struct pfu_worker *w, struct pfu_wl *wl)
{
	if (wl->paused)
		pfu_wl_unpause(w, wl);
	/* Replies of its UDP sessions could no longer leave: they end too. */
	pfu_udp_close_wl(w, wl);
	/* Flows waiting for a header would pick their forward among its. */
	pfu_proxy_close_wl(w, wl);
	/* The new process of an upgrade shares the socket for good. */
	pfu_close_shared(w, wl->fd);
	free(wl);
}

/*
 * The plan is sorted by socket, and so is the worker's listener array: one
 * merge keeps the sockets that stay (whatever their forwards became), adds
 * the new ones and closes those that left the table.
 */
static void pfu_apply(struct pfu_worker *w, const struct pfu_plan *plan, size_t nplan)
{
	struct pfu_wl **nwl = calloc(nplan ? nplan : 1, sizeof(*nwl));
	size_t i = 0, j = 0, k = 0;

	if (!nwl)
		abort(); /* the change was validated; failing half-way is worse */
	while (i < nplan) {
		struct pfu_lsock *ls = plan[i].ls;
		struct pfu_wl *wl = NULL;

		while (j < w->nwl && (uintptr_t)w->wl[j]->ls < (uintptr_t)ls)
			pfu_wl_close(w, w->wl[j++]);
		if (j < w->nwl && w->wl[j]->ls == ls) {
			wl = w->wl[j++];
		} else {
			wl = calloc(1, sizeof(*wl));
			if (!wl || (ls->proto == PF_PROTO_UDP && pfu_udp_ready(w) < 0))
				abort();
			wl->ls = ls;
			wl->fd = ls->fds[w->id];
			if (pfu_wl_arm(w, wl) < 0)
				pf_err("epoll_ctl: %s", strerror(errno));
		}
		wl->nfwd = 0;
		wl->fams = 0;
		wl->proxy = false;
		wl->port = plan[i].port;
		for (; i < nplan && plan[i].ls == ls; i++) {
			const struct pf_forward *fwd = plan[i].fwd;
			uint32_t b;

			wl->fwd[wl->nfwd++] = plan[i].fwd;
			wl->proxy |= fwd->conf.accept_proxy.n > 0;
			for (b = 0; b < fwd->nbe; b++)
				wl->fams |= fwd->be[b].addr.sa.sa_family == AF_INET6 ? PFU_FAM_6
										     : PFU_FAM_4;
		}
		nwl[k++] = wl;
	}
	while (j < w->nwl)
		pfu_wl_close(w, w->wl[j++]);
	free(w->wl);
	w->wl = nwl;
	w->nwl = k;
}

static void pfu_free_dead(struct pfu_worker *w)
{
	while (w->dead) {
		struct pfu_flow *f = w->dead;

		w->dead = f->next;
		pf_forward_unref(f->fwd);
		pfu_cache_free(&w->flowc, f);
	}
}

static void pfu_worker_kill_list(struct pfu_worker *w, struct pfu_flow *head,
				 struct pfu_cmd *c)
{
	struct pfu_flow *f, *next;

	for (f = head->next; f != head; f = next) {
		next = f->next;
		if (pf_selector_match(c->sel, f->fwd)) {
			pfu_tcp_abort(w, f, PF_END_KILLED);
			c->killed++;
		}
	}
}

static void pfu_worker_kill(struct pfu_worker *w, struct pfu_cmd *c)
{
	pfu_worker_kill_list(w, &w->flows, c);
	pfu_worker_kill_list(w, &w->hdrwait, c);
	c->killed += pfu_udp_kill(w, c->sel);
	pfu_free_dead(w);
	pfu_udp_free_dead(w);
}

/*
 * A soft stop: every listening socket closes, so the kernel refuses new
 * clients (a TCP client still in the backlog is reset); the TCP flows run
 * on to their end. UDP sessions end now: nothing tells a UDP session it is
 * over but its timeout, which would only hold the stop for nothing.
 */
static void pfu_worker_drain(struct pfu_worker *w, struct pfu_cmd *c)
{
	const struct pfu_flow *f;
	size_t j;

	while (w->usess.next != &w->usess)
		pfu_udp_end(w, w->usess.next, PF_END_SHUTDOWN);
	for (j = 0; j < w->nwl; j++)
		pfu_wl_close(w, w->wl[j]);
	free(w->wl);
	w->wl = NULL;
	w->nwl = 0;
	pfu_free_dead(w);
	pfu_udp_free_dead(w);
	for (f = w->flows.next; f != &w->flows; f = f->next)
		c->left++;
}

static void pfu_command(struct pfu_worker *w)
{
	uint64_t v;
	struct pfu_cmd *c;
	struct pfu_flow *f;

	(void)!read(w->efd, &v, sizeof(v));
	pthread_mutex_lock(&w->lock);
	c = w->cmd;
	w->cmd = NULL;
	pthread_mutex_unlock(&w->lock);
	if (!c)
		return;
	w->now = pf_now_ms();
	switch (c->type) {
	case PFU_CMD_APPLY:
		pfu_apply(w, c->plan, c->nplan);
		break;
	case PFU_CMD_KILL:
		pfu_worker_kill(w, c);
		break;
	case PFU_CMD_CONNS:
		for (f = w->flows.next; f != &w->flows; f = f->next) {
			struct pf_flow fl;

			pfu_tcp_flow(w, f, &fl);
			c->flow_cb(&fl, c->flow_arg);
		}
		for (f = w->hdrwait.next; f != &w->hdrwait; f = f->next) {
			struct pf_flow fl;

			pfu_tcp_flow(w, f, &fl);
			c->flow_cb(&fl, c->flow_arg);
		}
		pfu_udp_flows(w, c->flow_cb, c->flow_arg);
		break;
	case PFU_CMD_DRAIN:
		pfu_worker_drain(w, c);
		break;
	case PFU_CMD_STOP:
		w->stop = true;
		break;
	case PFU_CMD_SYNC:
		break;
	}
	sem_post(&w->done);
}

void *pfu_worker_main(void *arg)
{
	struct pfu_worker *w = arg;
	struct epoll_event evs[256];

	while (!w->stop) {
		int n, i;

		n = epoll_wait(w->ep, evs, (int)PF_ARRAY_SIZE(evs),
			       w->paused ? PFU_PAUSE_MS / 2 : pfu_timer_wait_ms(w));
		if (n < 0 && errno != EINTR) {
			pf_err("epoll_wait: %s", strerror(errno));
			break;
		}
		bool cmd = false;

		w->now = pf_now_ms();
		for (i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64 & PFU_EV_TAGMASK;
			void *p = (void *)(uintptr_t)(evs[i].data.u64 & ~PFU_EV_TAGMASK);

			switch (tag) {
			case PFU_EV_CLIENT:
			case PFU_EV_SERVER:
				pfu_tcp_event(w, p, tag == PFU_EV_SERVER, evs[i].events);
				break;
			case PFU_EV_LISTENER:
				if (((struct pfu_wl *)p)->ls->proto == PF_PROTO_UDP)
					pfu_udp_input(w, p);
				else
					pfu_accept(w, p);
				break;
			default:
				if (p == w)
					cmd = true; /* after the batch: it may free what events name */
				else
					pfu_udp_reply(w, p);
				break;
			}
		}
		pfu_udp_flush(w);
		/* Descriptors were freed: paused listeners may try again now. */
		if (w->dead && w->paused)
			pfu_resume(w, true);
		pfu_free_dead(w);
		pfu_timer_run(w);
		pfu_free_dead(w);
		pfu_udp_free_dead(w);
		if (w->paused)
			pfu_resume(w, false);
		if (cmd)
			pfu_command(w);
	}
	return NULL;
}

void pfu_worker_cleanup(struct pfu_worker *w)
{
	size_t j;

	while (w->flows.next != &w->flows)
		pfu_tcp_abort(w, w->flows.next, PF_END_SHUTDOWN);
	while (w->hdrwait.next != &w->hdrwait)
		pfu_tcp_abort(w, w->hdrwait.next, PF_END_SHUTDOWN);
	pfu_free_dead(w);
	pfu_udp_cleanup(w);
	pfu_cache_destroy(&w->flowc);
	pfu_cache_destroy(&w->sessc);
	for (j = 0; j < w->nwl; j++) {
		close(w->wl[j]->fd);
		free(w->wl[j]);
	}
	free(w->wl);
	w->wl = NULL;
	w->nwl = 0;
	pfu_pipe_drain_pool(w);
	for (j = 0; j < 2; j++)
		if (w->spare[j] >= 0)
			close(w->spare[j]);
	close(w->ep);
	close(w->efd);
	sem_destroy(&w->done);
	pthread_mutex_destroy(&w->lock);
	free(w->scratch);
}

int pfu_worker_init(struct pfu_worker *w, int id)
{
	struct epoll_event ev = { .events = EPOLLIN };

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->cpu = -1;
	w->flows.next = w->flows.prev = &w->flows;
	w->hdrwait.next = w->hdrwait.prev = &w->hdrwait;
	w->usess.next = w->usess.prev = &w->usess;
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->spare[0] = w->spare[1] = -1;
	pfu_cache_init(&w->flowc, sizeof(struct pfu_flow));
	pfu_cache_init(&w->sessc, sizeof(struct pfu_usess));
	w->scratch = malloc(65536);
	if (w->ep < 0 || w->efd < 0 || !w->scratch)
		return -1;
	ev.data.u64 = (uint64_t)(uintptr_t)w | PFU_EV_OTHER;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->efd, &ev) < 0)
		return -1;
	pthread_mutex_init(&w->lock, NULL);
	sem_init(&w->done, 0, 0);
	return 0;
}

void pfu_worker_send(struct pfu_worker *w, struct pfu_cmd *c)
{
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	w->cmd = c;
	pthread_mutex_unlock(&w->lock);
	(void)!write(w->efd, &one, sizeof(one));
	while (sem_wait(&w->done) < 0 && errno == EINTR)
		;
}
