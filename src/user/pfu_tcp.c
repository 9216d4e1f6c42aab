// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The TCP relay: one flow per accepted client, a non-blocking connect to a
 * backend (the next one on refusal or timeout), then bytes moved with
 * splice() through a pooled pipe per direction. Half-close is relayed: EOF
 * one way becomes shutdown(SHUT_WR) on the other side once the pipe is
 * drained, and the other direction keeps flowing until it ends too.
 *
 * Both sockets are registered once, edge-triggered, for IN|OUT|RDHUP, so a
 * flow costs exactly two epoll_ctl calls in its life; readiness is kept in
 * the flow and cleared when a syscall says EAGAIN, or a read comes back short.
 *
 * Small transfers (a request, a response) are not spliced: recv into the
 * worker's buffer and send take one syscall each, where splice takes two and
 * a pipe. A direction whose read fills that buffer is bulk and splices from
 * then on; what a small send leaves over waits in a pipe like spliced bytes.
 */
#include "pfu_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define PFU_SPLICE_MAX (1U << 20)
/* Reads up to this are copied; one that fills it makes the direction bulk.
 * Well under a pipe's default capacity, so a remainder always fits one. */
#define PFU_SMALL_MAX 16384u

static void pfu_stat_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void pfu_stat_sub(_Atomic uint64_t *c, uint64_t n)
{
	atomic_fetch_sub_explicit(c, n, memory_order_relaxed);
}

static int pfu_ep_add(struct pfu_worker *w, int fd, struct pfu_flow *f, uint64_t tag)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = (uint64_t)(uintptr_t)f | tag,
	};

	return epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Closes a flow's sockets; the memory goes after the current event batch,
 * since later events of the same batch may still name it. end: why, for
 * the flow log (enum pf_flow_end). */
static void pfu_flow_end(struct pfu_worker *w, struct pfu_flow *f, bool reset, uint8_t end)
{
	struct pf_forward *fwd = f->fwd;

	if (f->state == PFU_DEAD)
		return;
	if (end != PFU_END_UNLOGGED && pf_flowlog_wanted(fwd))
		pfu_log_tcp(w, f, end);
	if (reset) {
		/* Propagate an abort as an abort: RST rather than a clean FIN. */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(f->c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (f->s.fd >= 0)
			setsockopt(f->s.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	pfu_close_sock(w, f->c.fd);
	if (f->s.fd >= 0)
		pfu_close_sock(w, f->s.fd);
	f->c.fd = f->s.fd = -1;
	pfu_pipe_put(w, &f->up.p, !f->up.inpipe);
	pfu_pipe_put(w, &f->down.p, !f->down.inpipe);
	pfu_timer_del(w, &f->t);
	pfu_stat_sub(&fwd->st->active, 1);
	if (f->ps_held)
		pfu_ps_release(fwd, &f->client, false);
	f->ps_held = false;
	if (fwd->conf.transparent)
		pfu_tproxy_flow_end();
	if (f->be_counted)
		pfu_stat_sub(&fwd->be[f->be].st->active, 1);
	f->prev->next = f->next;
	f->next->prev = f->prev;
	f->state = PFU_DEAD;
	f->next = w->dead;
	w->dead = f;
}

void pfu_tcp_abort(struct pfu_worker *w, struct pfu_flow *f, uint8_t end)
{
	pfu_flow_end(w, f, true, end);
}

static void pfu_connect_next(struct pfu_worker *w, struct pfu_flow *f);

static void pfu_connect_failed(struct pfu_worker *w, struct pfu_flow *f, int err)
{
	struct pf_backend *be = &f->fwd->be[f->be];
	char a[PF_ADDRSTR_MAX];
	union pf_sa sa = be->addr;

	pf_sa_set_port(&sa, pf_backend_port(f->fwd, be, f->lport));
	pf_sa_format(&sa, true, a, sizeof(a));
	pf_dbg("connect to %s failed: %s", a, strerror(err));
	pfu_stat_add(&be->st->failed, 1);
	pfu_stat_sub(&be->st->active, 1);
	f->be_counted = false;
	atomic_store_explicit(&be->st->down_until_ms, w->now + PFU_PASSIVE_HOLD_MS,
			      memory_order_relaxed);
	if (f->s.fd >= 0) {
		pfu_close_sock(w, f->s.fd);
		f->s.fd = -1;
	}
	f->s.rd = f->s.wr = false;
	pfu_connect_next(w, f);
}

/* Tries backends until a connect is in progress or none is left. */
static void pfu_connect_next(struct pfu_worker *w, struct pfu_flow *f)
{
	struct pf_forward *fwd = f->fwd;

	for (;;) {
		struct pf_backend *be;
		union pf_sa sa;
		int idx, fd, one = 1;

		idx = pf_sched_pick(fwd, &f->tried, &f->client);
		if (idx < 0) {
			pf_refused(fwd, PF_REFUSE_NO_BACKEND, &f->client);
			pfu_stat_add(&fwd->st->refused, 1);
			/* After failed connects: refused (by the last backend
			 * tried); none tried: no backend was up. */
			pfu_flow_end(w, f, true, f->be >= 0 ? PF_END_REFUSED : PF_END_NO_BACKEND);
			return;
		}
		pf_tried_set(&f->tried, (uint32_t)idx);
		f->be = (int16_t)idx;
		be = &fwd->be[idx];
		/* Active from the pick on, so leastconn sees flows still connecting. */
		pfu_stat_add(&be->st->active, 1);
		f->be_counted = true;
		sa = be->addr;
		pf_sa_set_port(&sa, pf_backend_port(fwd, be, f->lport));
		fd = pfu_spare_take(w, sa.sa.sa_family);
		if (fd < 0) {
			/* Out of descriptors or memory: no other backend will do better. */
			pfu_stat_add(&fwd->st->refused, 1);
			pfu_flow_end(w, f, true, PF_END_ERROR);
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		/* The client speaks first: the handshake's last ACK waits for its
		 * bytes and leaves with them, one packet fewer for the backend. */
		if (fwd->conf.defer_accept)
			setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof(one));
		if (pfu_masq_bind(fd, fwd, true) < 0 ||
		    (fwd->conf.transparent &&
		     pfu_tproxy_bind(fd, fwd, &f->client, &sa, false) < 0)) {
			/* The gateway's setting, not the backend's fault. A
			 * transparent one never leaves from the gateway's
			 * address instead: the backend may trust it more. */
			close(fd);
			pfu_stat_add(&fwd->st->refused, 1);
			pfu_flow_end(w, f, true, PF_END_ERROR);
			return;
		}
		f->s.fd = fd;
		f->attempt_ms = w->now;
		/* The worker's clock has milliseconds; a LAN connect takes less. */
		f->attempt_us = pf_now_us();
		if (connect(fd, &sa.sa, pf_sa_len(&sa)) < 0 && errno != EINPROGRESS) {
			pfu_connect_failed(w, f, errno);
			return;
		}
		if (pfu_ep_add(w, fd, f, PFU_EV_SERVER) < 0) {
			pfu_stat_add(&fwd->st->refused, 1);
			pfu_flow_end(w, f, true, PF_END_ERROR);
			return;
		}
		pfu_timer_set(w, &f->t, w->now + fwd->conf.o.connect_ms);
		return;
	}
}

static bool pfu_maxconn_reached(struct pf_forward *fwd, const union pf_sa *client)
{
	if (!fwd->conf.o.maxconn ||
	    atomic_load_explicit(&fwd->st->active, memory_order_relaxed) < fwd->conf.o.maxconn)
		return false;
	pfu_stat_add(&fwd->st->refused, 1);
	pf_refused(fwd, PF_REFUSE_MAXCONN, client);
	return true;
}

/* A flow of fwd for the accepted client socket fd, on the list head, in
 * its epoll set, counted active; NULL (fd closed) when that fails. */
static struct pfu_flow *pfu_flow_new(struct pfu_worker *w, int fd, struct pfu_wl *wl,
				     const union pf_sa *client, struct pf_forward *fwd,
				     struct pfu_flow *head, uint8_t state)
{
	struct pfu_flow *f = pfu_cache_alloc(&w->flowc);

	if (!f) {
		close(fd);
		return NULL;
	}
	f->w = w;
	f->fwd = pf_forward_ref(fwd);
	f->c.fd = fd;
	f->s.fd = -1;
	f->up.p.rfd = f->up.p.wfd = -1;
	f->down.p.rfd = f->down.p.wfd = -1;
	f->start_ms = f->last_ms = w->now;
	f->t.kind = PFU_T_TCP;
	f->lport = wl->port;
	f->client = *client;
	f->be = -1;
	f->state = state;
	f->next = head->next;
	f->prev = head;
	head->next->prev = f;
	head->next = f;
	pfu_stat_add(&fwd->st->active, 1);
	/* The host setup stays while a transparent flow lives (pfu_tproxy.c). */
	if (fwd->conf.transparent)
		pfu_tproxy_flow_begin();
	if (pfu_ep_add(w, fd, f, PFU_EV_CLIENT) < 0) {
		pfu_flow_end(w, f, true, PF_END_ERROR);
		return NULL;
	}
	return f;
}

void pfu_tcp_accept(struct pfu_worker *w, int fd, struct pfu_wl *wl, const union pf_sa *client)
{
	struct pf_forward *fwd;
	struct pfu_flow *f;
	enum pf_refuse why;
	bool held;

	/* A trusted proxy's client is known once its header is read: the
	 * forward (its 'from' pool and ACL) is picked then. */
	if (wl->proxy && (fwd = pfu_proxy_trusted(wl, client))) {
		f = pfu_flow_new(w, fd, wl, client, fwd, &w->hdrwait, PFU_PROXYHDR);
		if (f) {
			f->wl = wl;
			pfu_timer_set(w, &f->t, pfu_tcp_deadline(f));
		}
		return;
	}
	fwd = wl->nfwd == 1 && !wl->fwd[0]->eff_allow.n && !wl->fwd[0]->eff_deny.n &&
			      !wl->fwd[0]->conf.from.n
		      ? wl->fwd[0]
		      : pfu_select(wl, client);
	if (!fwd)
		goto refused;
	if (pfu_maxconn_reached(fwd, client)) {
		if (pf_flowlog_wanted(fwd))
			pfu_log_refused(fwd, wl, client, PF_END_REFUSED);
		goto refused;
	}
	/* Over its own limit, before any backend is tried: the client's
	 * socket is the only thing it cost. */
	why = pfu_ps_admit(fwd, client, false, &held);
	if (why != PF_REFUSE_N) {
		pfu_stat_add(&fwd->st->refused, 1);
		pf_refused(fwd, why, client);
		if (pf_flowlog_wanted(fwd))
			pfu_log_refused(fwd, wl, client, PF_END_REFUSED);
		goto refused;
	}
	f = pfu_flow_new(w, fd, wl, client, fwd, &w->flows, PFU_CONNECTING);
	if (!f) {
		if (held)
			pfu_ps_release(fwd, client, false);
		return;
	}
	f->ps_held = held;
	pfu_stat_add(&fwd->st->conns, 1);
	pfu_connect_next(w, f);
	return;
refused:
	close(fd);
}

void pfu_tcp_start(struct pfu_worker *w, struct pfu_flow *f, struct pf_forward *fwd)
{
	enum pf_refuse why;
	if (fwd != f->fwd) {
		/* It was counted active where its proxy was trusted. */
		pfu_stat_sub(&f->fwd->st->active, 1);
		pfu_stat_add(&fwd->st->active, 1);
		/* pfu_flow_end ends what the flow's forward began. */
		if (f->fwd->conf.transparent)
			pfu_tproxy_flow_end();
		if (fwd->conf.transparent)
			pfu_tproxy_flow_begin();
		pf_forward_unref(f->fwd);
		f->fwd = pf_forward_ref(fwd);
	}
	/* Counted active already: the limit is that of the others. */
	if (fwd->conf.o.maxconn &&
	    atomic_load_explicit(&fwd->st->active, memory_order_relaxed) > fwd->conf.o.maxconn) {
		pfu_stat_add(&fwd->st->refused, 1);
		pf_refused(fwd, PF_REFUSE_MAXCONN, &f->client);
		pfu_flow_end(w, f, true, PF_END_REFUSED);
		return;
	}
	/* The client the header named is the one limited. */
	why = pfu_ps_admit(fwd, &f->client, false, &f->ps_held);
	if (why != PF_REFUSE_N) {
		pfu_stat_add(&fwd->st->refused, 1);
		pf_refused(fwd, why, &f->client);
		pfu_flow_end(w, f, true, PF_END_REFUSED);
		return;
	}
	f->prev->next = f->next;
	f->next->prev = f->prev;
	f->next = w->flows.next;
	f->prev = &w->flows;
	w->flows.next->prev = f;
	w->flows.next = f;
	f->wl = NULL;
	f->state = PFU_CONNECTING;
	pfu_stat_add(&fwd->st->conns, 1);
	pfu_connect_next(w, f);
}

/*
 * Zero-copy is not possible (copy mode, or no pipe to be had under EMFILE):
 * peek into the worker's scratch buffer, send what the destination takes and
 * only then consume that much, so no bytes are ever held by the flow.
 */
static ssize_t pfu_copy(struct pfu_worker *w, struct pfu_side *src, struct pfu_side *dst,
			bool *src_eagain)
{
	ssize_t n, m;

	*src_eagain = false;
	n = recv(src->fd, w->scratch, 65536, MSG_PEEK | MSG_DONTWAIT);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			*src_eagain = true;
		return n;
	}
	m = send(dst->fd, w->scratch, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (m <= 0)
		return m < 0 ? -2 : 0; /* -2: the destination's errno is set */
	(void)!recv(src->fd, w->scratch, (size_t)m, MSG_DONTWAIT);
	return m;
}

/* Why a direction failed (pfu_pump's return). */
enum { PFU_FAIL_SRC = -1, PFU_FAIL_DST = -2 };

/*
 * One small read, sent on at once. 1: progress, 0: none (src or dst not
 * ready), or PFU_FAIL_SRC / PFU_FAIL_DST. The pipe is held and empty: a
 * remainder the destination did not take goes there, in order.
 */
static int pfu_small(struct pfu_worker *w, struct pfu_side *src, struct pfu_side *dst,
		     struct pfu_dir *d, uint64_t *sent)
{
	/* A smaller pipe (-p) must still hold any remainder. */
	size_t max = pfu_cfg.pipe_size && pfu_cfg.pipe_size < PFU_SMALL_MAX ? pfu_cfg.pipe_size
									  : PFU_SMALL_MAX;
	ssize_t n, m;
	int more = 0;

	*sent = 0;
	n = recv(src->fd, w->scratch, max, MSG_DONTWAIT);
	if (n == 0) {
		d->eof = true;
		return 1;
	}
	if (n < 0) {
		if (errno == EAGAIN)
			src->rd = false;
		return errno == EAGAIN || errno == EINTR ? 0 : PFU_FAIL_SRC;
	}
	/* A stream socket's read stops short only when its queue is empty;
	 * edge-triggered epoll reports what arrives next: no EAGAIN read. */
	if ((size_t)n == max)
		d->bulk = true;
	else if (!src->hup)
		src->rd = false;
	else
		/* The source's FIN is all that is left: held back, these bytes
		 * leave with our FIN (shutdown or close, next) in one segment. */
		more = MSG_MORE;
	m = send(dst->fd, w->scratch, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT | more);
	if (m < 0 && errno != EAGAIN && errno != EINTR)
		return PFU_FAIL_DST;
	if (m < 0)
		m = 0;
	if (m < n) {
		dst->wr = false;
		if (write(d->p.wfd, w->scratch + m, (size_t)(n - m)) != n - m)
			return PFU_FAIL_DST; /* not with an empty pipe; never drop bytes */
		d->inpipe = (uint32_t)(n - m);
	}
	*sent = (uint64_t)m;
	return 1;
}

/* Moves what can be moved in one direction. Returns -1 when the flow must be
 * aborted: PFU_FAIL_SRC (a read failed: reset by the source) or
 * PFU_FAIL_DST (a write failed: the destination reset or closed). */
static int pfu_pump(struct pfu_worker *w, struct pfu_flow *f, struct pfu_side *src,
		    struct pfu_side *dst, struct pfu_dir *d, const struct pfu_dir *other, bool up)
{
	struct pf_backend *be = &f->fwd->be[f->be];
	_Atomic uint64_t *fc = up ? &f->fwd->st->bytes_up : &f->fwd->st->bytes_down;
	_Atomic uint64_t *bc = up ? &be->st->bytes_up : &be->st->bytes_down;

	for (;;) {
		bool progress = false;
		ssize_t n;

		if (d->inpipe && dst->wr) {
			n = splice(d->p.rfd, NULL, dst->fd, NULL, d->inpipe,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->inpipe -= (uint32_t)n;
				d->bytes += (uint64_t)n;
				pfu_stat_add(fc, (uint64_t)n);
				pfu_stat_add(bc, (uint64_t)n);
				progress = true;
			} else if (n < 0 && errno == EAGAIN) {
				dst->wr = false;
			} else if (!(n < 0 && errno == EINTR)) {
				return PFU_FAIL_DST;
			}
		}
		if (!d->eof && src->rd && !d->inpipe && d->p.rfd < 0 &&
		    (pfu_cfg.copy || pfu_pipe_get(w, &d->p) < 0)) {
			bool eagain;

			if (!pfu_cfg.copy) {
				uint64_t k = pf_ratelimit_ok(&pfu_rl_pipe, 1000);

				if (k)
					pf_warn("no pipe for splice (%lu times): copying instead",
						(unsigned long)k);
			}
			if (!dst->wr)
				break;
			n = pfu_copy(w, src, dst, &eagain);
			if (n > 0) {
				d->bytes += (uint64_t)n;
				pfu_stat_add(fc, (uint64_t)n);
				pfu_stat_add(bc, (uint64_t)n);
				progress = true;
			} else if (n == 0) {
				d->eof = true;
				progress = true;
			} else if (eagain) {
				src->rd = false;
			} else if (n == -2 && errno == EAGAIN) {
				dst->wr = false;
			} else if (errno != EINTR) {
				return n == -2 ? PFU_FAIL_DST : PFU_FAIL_SRC;
			}
		} else if (!d->eof && src->rd && d->p.rfd >= 0 && !d->bulk && !d->inpipe &&
			   dst->wr) {
			uint64_t sent;
			int rc = pfu_small(w, src, dst, d, &sent);

			if (rc < 0)
				return rc;
			if (sent) {
				d->bytes += sent;
				pfu_stat_add(fc, sent);
				pfu_stat_add(bc, sent);
			}
			progress = rc > 0;
		} else if (!d->eof && src->rd && d->p.rfd >= 0) {
			n = splice(src->fd, NULL, d->p.wfd, NULL, PFU_SPLICE_MAX,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				d->inpipe += (uint32_t)n;
				progress = true;
			} else if (n == 0) {
				d->eof = true;
				progress = true;
			} else if (errno == EAGAIN) {
				/* Ambiguous: an empty socket or a full pipe. Only an
				 * empty pipe proves the socket is drained. */
				if (!d->inpipe)
					src->rd = false;
			} else if (errno != EINTR) {
				return PFU_FAIL_SRC;
			}
		}
		if (d->eof && !d->inpipe && !d->shut) {
			/* The last FIN of the flow comes with close(), right after:
			 * one syscall fewer per connection. */
			if (!other->shut)
				shutdown(dst->fd, SHUT_WR);
			d->shut = true;
		}
		if (!progress)
			break;
		f->last_ms = w->now;
	}
	if (!d->inpipe)
		pfu_pipe_put(w, &d->p, true);
	return 0;
}

static void pfu_relay(struct pfu_worker *w, struct pfu_flow *f)
{
	bool half = f->up.eof || f->down.eof;
	int rc;

	/* Which side reset: the source of a failed read, the destination of
	 * a failed write. */
	rc = pfu_pump(w, f, &f->c, &f->s, &f->up, &f->down, true);
	if (rc < 0) {
		pfu_flow_end(w, f, true,
			     rc == PFU_FAIL_SRC ? PF_END_CLIENT_RESET : PF_END_BACKEND_RESET);
		return;
	}
	rc = pfu_pump(w, f, &f->s, &f->c, &f->down, &f->up, false);
	if (rc < 0) {
		pfu_flow_end(w, f, true,
			     rc == PFU_FAIL_SRC ? PF_END_BACKEND_RESET : PF_END_CLIENT_RESET);
		return;
	}
	/* Who closed first names the end (both at once: the client). */
	if (!half && f->down.eof && !f->up.eof)
		f->backend_first = true;
	if (f->up.shut && f->down.shut) {
		pfu_flow_end(w, f, false,
			     f->backend_first ? PF_END_BACKEND_CLOSE : PF_END_CLIENT_CLOSE);
		return;
	}
	/* Half-closed flows live by the (shorter) half-close timeout from now on. */
	if (!half && (f->up.eof || f->down.eof))
		pfu_timer_set(w, &f->t, pfu_tcp_deadline(f));
}

/* false: the flow went on to another backend or ended. */
static bool pfu_connected(struct pfu_worker *w, struct pfu_flow *f)
{
	struct pf_backend *be = &f->fwd->be[f->be];
	int err;

	/* The header first, before any of the client's bytes: nothing was
	 * relayed yet, so a backend that fails it is a failed connect. */
	if (f->fwd->conf.proxy_send && (err = pfu_proxy_send(f)) < 0) {
		pfu_connect_failed(w, f, -err);
		return false;
	}
	f->state = PFU_ESTABLISHED;
	f->last_ms = w->now;
	pfu_stat_add(&be->st->conns, 1);
	pf_stats_connect_time(be->st, pf_now_us() - f->attempt_us);
	pfu_timer_set(w, &f->t, pfu_tcp_deadline(f));
	return true;
}

void pfu_tcp_event(struct pfu_worker *w, struct pfu_flow *f, bool server, uint32_t events)
{
	struct pfu_side *sd = server ? &f->s : &f->c;

	if (f->state == PFU_DEAD)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		sd->rd = true;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		sd->hup = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		sd->wr = true;
	if (f->state == PFU_PROXYHDR) {
		if (f->c.rd)
			pfu_proxy_read(w, f);
		return;
	}
	if (f->state == PFU_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!server || !f->s.wr) {
			/* Client bytes arriving early wait in its socket buffer. */
			if (server || !(events & (EPOLLERR | EPOLLHUP)))
				return;
			/* The client gave up. */
			pfu_flow_end(w, f, true,
				     events & EPOLLERR ? PF_END_CLIENT_RESET : PF_END_CLIENT_CLOSE);
			return;
		}
		/* Writable without an error condition means connected: no need to
		 * ask SO_ERROR (a syscall per connection). */
		if ((events & (EPOLLERR | EPOLLHUP)) &&
		    getsockopt(f->s.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if ((events & (EPOLLERR | EPOLLHUP)) && !err)
			err = ECONNRESET;
		if (err) {
			pfu_connect_failed(w, f, err);
			return;
		}
		if (!pfu_connected(w, f))
			return;
	} else if (events & EPOLLERR) {
		/* A reset by a peer. It would surface on the next read or write of
		 * that side, but a half-closed flow may never do either again. */
		pfu_flow_end(w, f, true, server ? PF_END_BACKEND_RESET : PF_END_CLIENT_RESET);
		return;
	}
	pfu_relay(w, f);
}

uint64_t pfu_tcp_deadline(const struct pfu_flow *f)
{
	const struct pf_fwd_opts *o = &f->fwd->conf.o;

	if (f->state == PFU_PROXYHDR)
		return f->start_ms + pfu_proxy_wait_ms(f->fwd);
	if (f->state == PFU_CONNECTING)
		return f->attempt_ms + o->connect_ms;
	if (f->up.eof || f->down.eof)
		return f->last_ms + o->halfclose_ms;
	return f->last_ms + o->idle_ms;
}

void pfu_tcp_timeout(struct pfu_worker *w, struct pfu_flow *f)
{
	if (f->state == PFU_PROXYHDR) {
		pfu_proxy_timeout(w, f);
		return;
	}
	if (f->state == PFU_CONNECTING) {
		pfu_connect_failed(w, f, ETIMEDOUT);
		return;
	}
	pf_dbg("flow of forward '%s' timed out", f->fwd->conf.name);
	pfu_flow_end(w, f, false, PF_END_TIMEOUT);
}

static void pfu_sock_addr(union pf_sa *sa, int fd, bool peer)
{
	socklen_t len = sizeof(*sa);
	int rc;

	memset(sa, 0, sizeof(*sa));
	if (fd < 0)
		return;
	rc = peer ? getpeername(fd, &sa->sa, &len) : getsockname(fd, &sa->sa, &len);
	if (rc < 0)
		memset(sa, 0, sizeof(*sa));
}

void pfu_tcp_flow(const struct pfu_worker *w, const struct pfu_flow *f, struct pf_flow *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->engine = PF_ENGINE_USER;
	fl->l4 = IPPROTO_TCP;
	fl->known = PF_FLOW_BYTES | PF_FLOW_AGE;
	fl->worker = w->id;
	fl->forward = f->fwd->conf.name;
	if (f->state == PFU_PROXYHDR)
		fl->state = "proxy-header";
	else if (f->state == PFU_CONNECTING)
		fl->state = "connecting";
	else if (f->up.eof && f->down.eof)
		fl->state = "closing";
	else if (f->up.eof)
		fl->state = "client-fin";
	else if (f->down.eof)
		fl->state = "server-fin";
	else
		fl->state = "established";
	/* The real client, also where a proxy's header said who it is. */
	fl->client = f->client;
	pfu_sock_addr(&fl->listen, f->c.fd, false);
	if (f->state == PFU_CONNECTING && f->be >= 0) {
		fl->backend = f->fwd->be[f->be].addr;
		pf_sa_set_port(&fl->backend,
			       pf_backend_port(f->fwd, &f->fwd->be[f->be], f->lport));
	} else {
		pfu_sock_addr(&fl->backend, f->s.fd, true);
	}
	fl->bytes_up = f->up.bytes;
	fl->bytes_down = f->down.bytes;
	fl->age_ms = w->now - f->start_ms;
	fl->idle_ms = w->now - f->last_ms;
}
