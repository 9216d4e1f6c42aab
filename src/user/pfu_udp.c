// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The UDP relay, in the manner of UDPRED and conntrack: a session per client
 * address and listening port. The first datagram picks a backend (the same
 * choice as TCP) and opens a connected socket toward it; replies go back to
 * that client from the listening socket, with the address the client sent
 * to as their source (IP_PKTINFO) when the listener is on every address.
 *
 * SO_REUSEPORT hashes a client's 4-tuple to one worker's socket, so each
 * worker keeps its own session table and nothing is locked. Datagrams move
 * in batches (recvmmsg/sendmmsg) through buffers allocated once per worker;
 * nothing is allocated per datagram. Sessions expire like conntrack's: a
 * short timeout until the backend replies, a long one after.
 */
#include "pfu_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>


static void pfu_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

int pfu_udp_ready(struct pfu_worker *w)
{
	int i;

	if (w->ub)
		return 0;
	w->uhash = calloc(PFU_UDP_HASH, sizeof(*w->uhash));
	w->ub = calloc(1, sizeof(*w->ub));
	if (!w->uhash || !w->ub) {
		free(w->uhash);
		free(w->ub);
		w->uhash = NULL;
		w->ub = NULL;
		return -1;
	}
	for (i = 0; i < PFU_UDP_BATCH; i++) {
		w->ub->iov[i].iov_base = w->ub->data[i];
		w->ub->iov[i].iov_len = PFU_UDP_DGRAM;
	}
	return 0;
}

static uint32_t pfu_hash(const struct pfu_wl *wl, const union pf_sa *sa)
{
	/* FNV-1a over the address, port and listener: cheap and well spread. */
	const unsigned char *p;
	uint32_t h = 2166136261u;
	size_t n, i;
	uintptr_t l = (uintptr_t)wl;

	if (sa->sa.sa_family == AF_INET6) {
		p = (const unsigned char *)&sa->sin6.sin6_addr;
		n = sizeof(sa->sin6.sin6_addr);
	} else {
		p = (const unsigned char *)&sa->sin.sin_addr;
		n = sizeof(sa->sin.sin_addr);
	}
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	h = (h ^ (uint32_t)pf_sa_port(sa)) * 16777619u;
	h = (h ^ (uint32_t)(l >> 4)) * 16777619u;
	return h & (PFU_UDP_HASH - 1);
}

static bool pfu_same_client(const union pf_sa *a, const union pf_sa *b)
{
	return pf_sa_addr_equal(a, b) && pf_sa_port(a) == pf_sa_port(b);
}

static struct pfu_usess *pfu_lookup(struct pfu_worker *w, const struct pfu_wl *wl,
				    const union pf_sa *client)
{
	struct pfu_usess *s = w->uhash[pfu_hash(wl, client)];

	for (; s; s = s->hnext)
		if (s->wl == wl && pfu_same_client(&s->client, client))
			return s;
	return NULL;
}

/* The destination address of a datagram, from IP_PKTINFO/IPV6_PKTINFO. */
static bool pfu_pktinfo(struct msghdr *mh, const struct pfu_wl *wl, union pf_sa *local)
{
	struct cmsghdr *c;

	memset(local, 0, sizeof(*local));
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			local->sin.sin_family = AF_INET;
			local->sin.sin_addr = pi.ipi_addr;
			pf_sa_set_port(local, wl->port);
			return true;
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			local->sin6.sin6_family = AF_INET6;
			local->sin6.sin6_addr = pi.ipi6_addr;
			pf_sa_set_port(local, wl->port);
			return true;
		}
	}
	return false;
}

static struct pfu_usess *pfu_udp_new(struct pfu_worker *w, struct pfu_wl *wl,
				     const union pf_sa *client, const union pf_sa *local,
				     bool has_local)
{
	struct pf_forward *fwd = pfu_select(wl, client);
	struct epoll_event ev = { .events = EPOLLIN };
	struct pf_tried tried = { { 0 } };
	bool tried_any = false;
	struct pfu_usess *s;
	enum pf_refuse why;
	bool held;
	uint32_t h;

	if (!fwd)
		return NULL;
	if (atomic_load_explicit(&fwd->st->active, memory_order_relaxed) >= fwd->conf.o.max_sessions) {
		/* Existing sessions go on; new clients are dropped. */
		pf_refused(fwd, PF_REFUSE_SESSIONS, client);
		pfu_add(&fwd->st->refused, 1);
		if (pf_flowlog_wanted(fwd))
			pfu_log_refused(fwd, wl, client, PF_END_REFUSED);
		return NULL;
	}
	/* Over the client's own limit: its datagram is dropped, no session. */
	why = pfu_ps_admit(fwd, client, true, &held);
	if (why != PF_REFUSE_N) {
		pf_refused(fwd, why, client);
		pfu_add(&fwd->st->refused, 1);
		if (pf_flowlog_wanted(fwd))
			pfu_log_refused(fwd, wl, client, PF_END_REFUSED);
		return NULL;
	}
	s = pfu_cache_alloc(&w->sessc);
	if (!s)
		goto fail;
	s->fd = -1;
	for (;;) {
		struct pf_backend *be;
		union pf_sa sa;
		int idx = pf_sched_pick(fwd, &tried, client);

		if (idx < 0) {
			pf_refused(fwd, PF_REFUSE_NO_BACKEND, client);
			pfu_add(&fwd->st->refused, 1);
			/* No route to those tried: refused; none up: no backend. */
			if (pf_flowlog_wanted(fwd))
				pfu_log_refused(fwd, wl, client,
						tried_any ? PF_END_REFUSED : PF_END_NO_BACKEND);
			goto fail;
		}
		pf_tried_set(&tried, (uint32_t)idx);
		tried_any = true;
		be = &fwd->be[idx];
		sa = be->addr;
		pf_sa_set_port(&sa, pf_backend_port(fwd, be, wl->port));
		s->fd = socket(sa.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s->fd < 0 || pfu_masq_bind(s->fd, fwd, false) < 0 ||
		    (fwd->conf.transparent && pfu_tproxy_bind(s->fd, fwd, client, &sa, true) < 0)) {
			/* The gateway's setting, not the backend's fault; never
			 * from the gateway's address instead (see pfu_tcp.c). */
			if (s->fd >= 0)
				close(s->fd);
			pfu_add(&fwd->st->refused, 1);
			goto fail;
		}
		if (connect(s->fd, &sa.sa, pf_sa_len(&sa)) == 0) {
			s->be = (int16_t)idx;
			break;
		}
		/* No route to that backend: count it and try the next one. */
		pfu_add(&be->st->failed, 1);
		close(s->fd);
		s->fd = -1;
	}
	ev.data.u64 = (uint64_t)(uintptr_t)s | PFU_EV_OTHER;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
		close(s->fd);
		goto fail;
	}
	s->t.kind = PFU_T_UDP;
	s->wl = wl;
	s->fwd = pf_forward_ref(fwd);
	s->client = *client;
	s->local = *local;
	s->has_local = has_local;
	s->ps_held = held;
	s->start_ms = s->last_ms = w->now;
	h = pfu_hash(wl, client);
	s->hnext = w->uhash[h];
	w->uhash[h] = s;
	s->next = w->usess.next;
	s->prev = &w->usess;
	w->usess.next->prev = s;
	w->usess.next = s;
	pfu_add(&fwd->st->conns, 1);
	pfu_add(&fwd->st->active, 1);
	if (fwd->conf.transparent)
		pfu_tproxy_flow_begin();
	pfu_add(&fwd->be[s->be].st->conns, 1);
	pfu_add(&fwd->be[s->be].st->active, 1);
	pfu_timer_set(w, &s->t, pfu_udp_deadline(s));
	return s;
fail:
	pfu_cache_free(&w->sessc, s);
	if (held)
		pfu_ps_release(fwd, client, true);
	return NULL;
}

void pfu_udp_end(struct pfu_worker *w, struct pfu_usess *s, uint8_t end)
{
	struct pfu_usess **pp;

	if (s->dead)
		return;
	if (pf_flowlog_wanted(s->fwd))
		pfu_log_udp(w, s, end);
	for (pp = &w->uhash[pfu_hash(s->wl, &s->client)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	}
	pfu_close_sock(w, s->fd);
	s->fd = -1;
	pfu_timer_del(w, &s->t);
	atomic_fetch_sub_explicit(&s->fwd->st->active, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&s->fwd->be[s->be].st->active, 1, memory_order_relaxed);
	if (s->ps_held)
		pfu_ps_release(s->fwd, &s->client, true);
	s->ps_held = false;
	if (s->fwd->conf.transparent)
		pfu_tproxy_flow_end();
	s->prev->next = s->next;
	s->next->prev = s->prev;
	s->dead = true;
	s->next = w->udead;
	w->udead = s;
}

void pfu_udp_free_dead(struct pfu_worker *w)
{
	/* Queued replies name their sessions. */
	if (w->udead)
		pfu_udp_flush(w);
	while (w->udead) {
		struct pfu_usess *s = w->udead;

		w->udead = s->next;
		pf_forward_unref(s->fwd);
		pfu_cache_free(&w->sessc, s);
	}
}

/* Client -> backend: a batch from the listening socket, sent on in runs of
 * datagrams of the same client. */
void pfu_udp_input(struct pfu_worker *w, struct pfu_wl *wl)
{
	struct pfu_udpbuf *ub = w->ub;
	int round;

	for (round = 0; round < 8; round++) {
		int n, i, j;

		for (i = 0; i < PFU_UDP_BATCH; i++) {
			struct msghdr *mh = &ub->rx[i].msg_hdr;

			memset(mh, 0, sizeof(*mh));
			mh->msg_name = &ub->names[i];
			mh->msg_namelen = sizeof(ub->names[i]);
			mh->msg_iov = &ub->iov[i];
			mh->msg_iovlen = 1;
			mh->msg_control = ub->ctrl[i];
			mh->msg_controllen = sizeof(ub->ctrl[i]);
		}
		n = recvmmsg(wl->fd, ub->rx, PFU_UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n; i = j) {
			union pf_sa local;
			bool has_local = pfu_pktinfo(&ub->rx[i].msg_hdr, wl, &local);
			struct pfu_usess *s = pfu_lookup(w, wl, &ub->names[i]);
			int k, sent;

			for (j = i + 1; j < n && pfu_same_client(&ub->names[j], &ub->names[i]); j++)
				;
			if (!s)
				s = pfu_udp_new(w, wl, &ub->names[i], &local, has_local);
			if (!s)
				continue; /* dropped: limit reached or no backend */
			for (k = i; k < j; k++) {
				struct msghdr *mh = &ub->tx[k - i].msg_hdr;

				memset(mh, 0, sizeof(*mh));
				ub->txiov[k - i].iov_base = ub->data[k];
				ub->txiov[k - i].iov_len = ub->rx[k].msg_len;
				mh->msg_iov = &ub->txiov[k - i];
				mh->msg_iovlen = 1;
			}
			if (j - i == 1) {
				/* One datagram (the usual case with many clients):
				 * send() copies no message header from userspace. */
				ssize_t r = send(s->fd, ub->data[i], ub->rx[i].msg_len, MSG_DONTWAIT);

				ub->tx[0].msg_len = r > 0 ? (unsigned)r : 0;
				sent = r >= 0 ? 1 : -1;
			} else {
				sent = sendmmsg(s->fd, ub->tx, (unsigned)(j - i), MSG_DONTWAIT);
			}
			if (sent > 0) {
				uint64_t bytes = 0;

				for (k = 0; k < sent; k++)
					bytes += ub->tx[k].msg_len;
				s->pkts_up += (uint64_t)sent;
				s->bytes_up += bytes;
				pfu_add(&s->fwd->st->bytes_up, bytes);
				pfu_add(&s->fwd->be[s->be].st->bytes_up, bytes);
			}
			s->last_ms = w->now;
		}
		if (n < PFU_UDP_BATCH)
			return;
	}
}

/* The source address of a reply (IP_PKTINFO): the address the client sent to. */
static size_t pfu_pktinfo_out(char *ctrl, const union pf_sa *local)
{
	struct cmsghdr *c = (struct cmsghdr *)ctrl;
	struct in_pktinfo pi4 = { .ipi_spec_dst = local->sin.sin_addr };
	struct in6_pktinfo pi6 = { .ipi6_addr = local->sin6.sin6_addr };
	bool v4 = local->sa.sa_family == AF_INET;
	size_t len = v4 ? sizeof(pi4) : sizeof(pi6);

	memset(ctrl, 0, 64);
	c->cmsg_level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
	c->cmsg_type = v4 ? IP_PKTINFO : IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), v4 ? (const void *)&pi4 : (const void *)&pi6, len);
	return CMSG_SPACE(len);
}

/* Counts what went down, a session's run at a time (one atomic add per run
 * and counter, not per datagram). */
static void pfu_count_down(struct pfu_usess *s, uint64_t pkts, uint64_t bytes)
{
	s->pkts_down += pkts;
	s->bytes_down += bytes;
	pfu_add(&s->fwd->st->bytes_down, bytes);
	pfu_add(&s->fwd->be[s->be].st->bytes_down, bytes);
}

void pfu_udp_flush(struct pfu_worker *w)
{
	struct pfu_udpbuf *ub = w->ub;
	int i = 0;

	if (!ub)
		return;
	while (i < ub->nq) {
		int fd = ub->qsess[i]->wl->fd, j, sent, k;

		for (j = i + 1; j < ub->nq && ub->qsess[j]->wl->fd == fd; j++)
			;
		sent = sendmmsg(fd, &ub->q[i], (unsigned)(j - i), MSG_DONTWAIT);
		if (sent <= 0) {
			i++; /* this one is lost (as UDP may be); the rest go on */
			continue;
		}
		for (k = i; k < i + sent;) {
			struct pfu_usess *s = ub->qsess[k];
			uint64_t bytes = 0, pkts = 0;

			for (; k < i + sent && ub->qsess[k] == s; k++) {
				bytes += ub->q[k].msg_len;
				pkts++;
			}
			pfu_count_down(s, pkts, bytes);
		}
		i += sent;
	}
	ub->nq = 0;
}

/* Backend -> client: a session's replies, queued to go from the listening
 * socket with the others of this batch of events. */
void pfu_udp_reply(struct pfu_worker *w, struct pfu_usess *s)
{
	struct pfu_udpbuf *ub = w->ub;
	int round;

	if (s->dead)
		return;
	for (round = 0; round < 8; round++) {
		int n, i, room, q0;

		if (ub->nq == PFU_UDP_BATCH)
			pfu_udp_flush(w);
		q0 = ub->nq;
		room = PFU_UDP_BATCH - q0;
		for (i = q0; i < PFU_UDP_BATCH; i++) {
			struct msghdr *mh = &ub->q[i].msg_hdr;

			memset(mh, 0, sizeof(*mh));
			ub->qiov[i].iov_base = ub->qdata[i];
			ub->qiov[i].iov_len = PFU_UDP_DGRAM;
			mh->msg_iov = &ub->qiov[i];
			mh->msg_iovlen = 1;
		}
		n = recvmmsg(s->fd, &ub->q[q0], (unsigned)room, MSG_DONTWAIT, NULL);
		if (n < 0 && errno == ECONNREFUSED) {
			/* ICMP port unreachable: this backend is not serving. The
			 * session ends, so the client's next datagram picks another. */
			struct pf_backend *be = &s->fwd->be[s->be];

			pfu_add(&be->st->failed, 1);
			atomic_store_explicit(&be->st->down_until_ms, w->now + PFU_PASSIVE_HOLD_MS,
					      memory_order_relaxed);
			pfu_udp_end(w, s, PF_END_REFUSED);
			return;
		}
		if (n <= 0)
			return;
		for (i = q0; i < q0 + n; i++) {
			struct msghdr *mh = &ub->q[i].msg_hdr;

			/* What was received is what goes: the length, to the client. */
			ub->qiov[i].iov_len = ub->q[i].msg_len;
			mh->msg_name = &s->client;
			mh->msg_namelen = pf_sa_len(&s->client);
			if (s->has_local) {
				mh->msg_control = ub->qctrl[i];
				mh->msg_controllen = pfu_pktinfo_out(ub->qctrl[i], &s->local);
			}
			ub->qsess[i] = s;
		}
		ub->nq += n;
		if (!s->replied) {
			s->replied = true;
			pfu_timer_set(w, &s->t, pfu_udp_deadline(s));
		}
		s->last_ms = w->now;
		if (n < room)
			return;
	}
}

/* As conntrack: a query and its answer (a DNS lookup) are done, so such a
 * session keeps the short timeout; only more than one datagram each way
 * makes it a stream worth the long one. The wheel asks again when the
 * timer fires, so a session that becomes a stream lives on then. */
bool pfu_udp_stream(const struct pfu_usess *s)
{
	return s->pkts_up > 1 && s->pkts_down > 1;
}

uint64_t pfu_udp_deadline(const struct pfu_usess *s)
{
	return s->last_ms + (pfu_udp_stream(s) ? s->fwd->conf.o.udp_stream_ms : s->fwd->conf.o.udp_ms);
}

void pfu_udp_timeout(struct pfu_worker *w, struct pfu_usess *s)
{
	pfu_udp_end(w, s, PF_END_TIMEOUT);
}

void pfu_udp_close_wl(struct pfu_worker *w, struct pfu_wl *wl)
{
	struct pfu_usess *s, *next;

	for (s = w->usess.next; s != &w->usess; s = next) {
		next = s->next;
		if (s->wl == wl)
			pfu_udp_end(w, s, PF_END_KILLED);
	}
}

unsigned pfu_udp_kill(struct pfu_worker *w, const struct pf_selector *sel)
{
	struct pfu_usess *s, *next;
	unsigned n = 0;

	for (s = w->usess.next; s != &w->usess; s = next) {
		next = s->next;
		if (pf_selector_match(sel, s->fwd)) {
			pfu_udp_end(w, s, PF_END_KILLED);
			n++;
		}
	}
	return n;
}

void pfu_udp_flows(struct pfu_worker *w, pf_flow_cb cb, void *arg)
{
	struct pfu_usess *s;

	for (s = w->usess.next; s != &w->usess; s = s->next) {
		struct pf_flow fl = {
			.engine = PF_ENGINE_USER,
			.l4 = IPPROTO_UDP,
			.known = PF_FLOW_BYTES | PF_FLOW_PACKETS | PF_FLOW_AGE | PF_FLOW_EXPIRES,
			.worker = w->id,
			.forward = s->fwd->conf.name,
			.client = s->client,
			.listen = s->has_local ? s->local : s->wl->ls->addr,
			.bytes_up = s->bytes_up,
			.bytes_down = s->bytes_down,
			.packets_up = s->pkts_up,
			.packets_down = s->pkts_down,
			.age_ms = w->now - s->start_ms,
			.idle_ms = w->now - s->last_ms,
			.state = pfu_udp_stream(s) ? "stream" : s->replied ? "replied" : "unreplied",
		};
		socklen_t len = sizeof(fl.backend);
		uint64_t dl = pfu_udp_deadline(s);

		fl.expires_ms = dl > w->now ? dl - w->now : 0;
		if (getpeername(s->fd, &fl.backend.sa, &len) < 0)
			memset(&fl.backend, 0, sizeof(fl.backend));
		cb(&fl, arg);
	}
}

void pfu_udp_cleanup(struct pfu_worker *w)
{
	while (w->usess.next != &w->usess)
		pfu_udp_end(w, w->usess.next, PF_END_SHUTDOWN);
	pfu_udp_free_dead(w);
	free(w->uhash);
	free(w->ub);
	w->uhash = NULL;
	w->ub = NULL;
}
