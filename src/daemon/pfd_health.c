// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Active health checks, in a thread of their own: every backend of a forward
 * with 'check' gets a TCP connect (then optionally a string sent and one
 * expected back) every interval, or, for a UDP-only forward, a datagram
 * (check-send) that must bring a reply (with check-expect in it, if given)
 * before the timeout; an ICMP port unreachable fails it at once. 'fall'
 * failures in a row mark it down,
 * 'rise' successes up again, like HAProxy's checks. An agent check connects
 * to a port beside the backend and reads one line: "75%", "up", "drain",
 * "down", or a load average, which scales the backend's weight (the "live
 * feedback such as which machine has the lower load average" IPPORTFW's
 * author wanted). Results land in the backend's shared state (pf_stats),
 * which the schedulers read; nothing else is locked.
 */
#include "pfd.h"
#include "../common/pf_table.h"
#include "../common/pf_log.h"
#include "../common/pf_proxy.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

enum { PFD_T_HEALTH, PFD_T_AGENT };

struct pfd_target {
	struct pf_stats *st; /* referenced */
	int kind;
	union pf_sa addr;
	struct pf_check chk; /* its strings are not used: see send, expect */
	/* The bytes of the forward's (escaped) strings: copies, as the
	 * forward may go while the list still holds the target. */
	char send[PF_CHECK_STR_MAX], expect[PF_CHECK_STR_MAX];
	size_t send_len, expect_len;
	bool udp; /* a datagram check */
	char name[PF_NAME_MAX + PF_HOST_MAX + 32];
	int fd;
	bool sent;
	/* enum pf_proxy_ver: a backend that reads a PROXY header on every
	 * connection refuses a check without one. */
	uint8_t proxy;
	uint64_t due_ms, deadline_ms;
	uint32_t ok_streak, fail_streak;
	char buf[512];
	size_t blen;
};

static struct {
	pthread_t th;
	pthread_mutex_t lock;
	int ep, efd, notify;
	bool running;
	_Atomic bool stop;
	struct pfd_target *pending; /* a new list from the main thread */
	size_t npending;
	bool has_pending;
	struct pfd_target *t; /* the thread's own */
	size_t n;
} H = { .lock = PTHREAD_MUTEX_INITIALIZER, .ep = -1, .efd = -1, .notify = -1 };

int pfd_health_notify_fd(void)
{
	return H.notify;
}

static void pfd_notify(void)
{
	uint64_t one = 1;

	(void)!write(H.notify, &one, sizeof(one));
}

static void pfd_set_health(struct pfd_target *t, uint8_t h)
{
	if (atomic_exchange(&t->st->health, h) == h)
		return;
	atomic_store(&t->st->changed_ms, pf_now_ms());
	pfd_notify();
	if (h == PF_HEALTH_DOWN)
		pf_warn("backend %s is down (%u failed checks)", t->name, t->fail_streak);
	else
		pf_info("backend %s is up (%u good checks)", t->name, t->ok_streak);
}

static void pfd_close(struct pfd_target *t)
{
	if (t->fd >= 0) {
		close(t->fd); /* leaves the epoll set */
		t->fd = -1;
	}
}

/* Parses an agent's line; returns false if nothing in it was understood. */
static bool pfd_agent_parse(struct pfd_target *t)
{
	char *save = NULL, *w;
	bool any = false;
	uint32_t pct0 = atomic_load(&t->st->agent_pct);
	uint8_t ag0 = atomic_load(&t->st->agent);

	t->buf[t->blen] = '\0';
	for (w = strtok_r(t->buf, " \t\r\n,", &save); w; w = strtok_r(NULL, " \t\r\n,", &save)) {
		size_t l = strlen(w);
		char *end;
		double v;

		if (l > 1 && w[l - 1] == '%') {
			w[l - 1] = '\0';
			v = strtod(w, &end);
			if (*end || v < 0 || v > 1000)
				continue;
			atomic_store(&t->st->agent_pct, (uint32_t)(v + 0.5));
			any = true;
		} else if (!strcmp(w, "up") || !strcmp(w, "ready")) {
			atomic_store(&t->st->agent, PF_AGENT_UP);
			any = true;
		} else if (!strcmp(w, "drain")) {
			atomic_store(&t->st->agent, PF_AGENT_DRAIN);
			any = true;
		} else if (!strcmp(w, "down") || !strcmp(w, "maint") || !strcmp(w, "stopped") ||
			   !strcmp(w, "fail")) {
			atomic_store(&t->st->agent, PF_AGENT_DOWN);
			any = true;
		} else if (!strcmp(w, "load")) {
			continue;
		} else {
			/* A load average: weight / (1 + load). */
			v = strtod(w, &end);
			if (*end || v < 0 || v > 1e6)
				continue;
			atomic_store(&t->st->agent_pct, (uint32_t)(100.0 / (1.0 + v) + 0.5));
			any = true;
		}
	}
	if (pct0 != atomic_load(&t->st->agent_pct) || ag0 != atomic_load(&t->st->agent))
		pfd_notify();
	return any;
}

static void pfd_done(struct pfd_target *t, bool ok, const char *why)
{
	uint64_t now = pf_now_ms();

	pfd_close(t);
	t->due_ms = now + (t->kind == PFD_T_AGENT ? t->chk.agent_interval_ms : t->chk.interval_ms);
	if (t->kind == PFD_T_AGENT) {
		if (!ok || !pfd_agent_parse(t))
			pf_dbg("agent of %s: %s", t->name, ok ? "reply not understood" : why);
		return;
	}
	if (ok) {
		t->ok_streak++;
		t->fail_streak = 0;
		if (t->ok_streak >= t->chk.rise)
			pfd_set_health(t, PF_HEALTH_UP);
		return;
	}
	atomic_fetch_add(&t->st->checks_failed, 1);
	t->fail_streak++;
	t->ok_streak = 0;
	pf_dbg("check of %s failed: %s", t->name, why);
	if (t->fail_streak >= t->chk.fall)
		pfd_set_health(t, PF_HEALTH_DOWN);
}

static void pfd_start(struct pfd_target *t)
{
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP };

	t->blen = 0;
	t->sent = false;
	t->deadline_ms = pf_now_ms() + t->chk.timeout_ms;
	t->fd = socket(t->addr.sa.sa_family,
		       (t->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		pfd_done(t, false, strerror(errno));
		return;
	}
	if (connect(t->fd, &t->addr.sa, pf_sa_len(&t->addr)) < 0 && errno != EINPROGRESS) {
		pfd_done(t, false, strerror(errno));
		return;
	}
	/* A connected UDP socket: only the backend's replies come in, and
	 * its ICMP port unreachable comes back as ECONNREFUSED. */
	if (t->udp) {
		if (send(t->fd, t->send, t->send_len, 0) < 0) {
			pfd_done(t, false, strerror(errno));
			return;
		}
		t->sent = true;
		ev.events = EPOLLIN;
	}
	ev.data.ptr = t;
	epoll_ctl(H.ep, EPOLL_CTL_ADD, t->fd, &ev);
}

/* A header without addresses (v1 UNKNOWN, v2 LOCAL): the check is the
 * gateway's own connection, which is what those say. -1 with errno set. */
static int pfd_send_proxy(const struct pfd_target *t)
{
	char hdr[PF_PROXY_OUT_MAX];
	int n = pf_proxy_encode(t->proxy, NULL, NULL, hdr, sizeof(hdr));
	ssize_t m;

	if (n < 0) {
		errno = EINVAL;
		return -1;
	}
	m = send(t->fd, hdr, (size_t)n, MSG_NOSIGNAL);
	if (m >= 0 && m != n)
		errno = EAGAIN;
	return m == n ? 0 : -1;
}

/* A UDP check's reply (or its ICMP error). */
static void pfd_event_udp(struct pfd_target *t)
{
	ssize_t n = recv(t->fd, t->buf, sizeof(t->buf), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		pfd_done(t, false, errno == ECONNREFUSED ? "port unreachable" : strerror(errno));
		return;
	}
	if (t->expect_len && !memmem(t->buf, (size_t)n, t->expect, t->expect_len)) {
		pfd_done(t, false, "the reply holds no check-expect");
		return;
	}
	pfd_done(t, true, NULL);
}

static void pfd_event(struct pfd_target *t, uint32_t events)
{
	const char *expect = t->kind == PFD_T_AGENT ? NULL : t->expect;
	int err = 0;
	socklen_t len = sizeof(err);

	if (t->fd < 0)
		return;
	if (t->udp) {
		pfd_event_udp(t);
		return;
	}
	if (!t->sent) {
		if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			pfd_done(t, false, strerror(err));
			return;
		}
		t->sent = true;
		if (t->proxy && pfd_send_proxy(t) < 0) {
			pfd_done(t, false, strerror(errno));
			return;
		}
		if (t->kind == PFD_T_HEALTH && t->send_len &&
		    send(t->fd, t->send, t->send_len, MSG_NOSIGNAL) < 0) {
			pfd_done(t, false, strerror(errno));
			return;
		}
		if (t->kind == PFD_T_HEALTH && !t->expect_len) {
			pfd_done(t, true, NULL);
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		ssize_t n = recv(t->fd, t->buf + t->blen, sizeof(t->buf) - 1 - t->blen, 0);

		if (n > 0) {
			t->blen += (size_t)n;
			t->buf[t->blen] = '\0';
			if (expect && memmem(t->buf, t->blen, expect, t->expect_len)) {
				pfd_done(t, true, NULL);
				return;
			}
			if (!expect && memchr(t->buf, '\n', t->blen)) {
				pfd_done(t, true, NULL); /* the agent's line */
				return;
			}
			if (t->blen == sizeof(t->buf) - 1) {
				pfd_done(t, !expect, "expected string not in the first 511 bytes");
				return;
			}
		} else if (n == 0 || errno != EAGAIN) {
			pfd_done(t, !expect && t->blen, n == 0 ? "closed before the expected string"
								 : strerror(errno));
		}
	}
}

/* Adopts a new list: unchanged targets keep their streaks and schedule. */
static void pfd_adopt(void)
{
	struct pfd_target *nt;
	size_t nn, i, j;

	pthread_mutex_lock(&H.lock);
	nt = H.pending;
	nn = H.npending;
	H.pending = NULL;
	H.has_pending = false;
	pthread_mutex_unlock(&H.lock);
	for (i = 0; i < nn; i++) {
		for (j = 0; j < H.n; j++) {
			struct pfd_target *o = &H.t[j];

			if (o->st == nt[i].st && o->kind == nt[i].kind &&
			    pf_sa_addr_equal(&o->addr, &nt[i].addr) &&
			    pf_sa_port(&o->addr) == pf_sa_port(&nt[i].addr)) {
				nt[i].ok_streak = o->ok_streak;
				nt[i].fail_streak = o->fail_streak;
				nt[i].due_ms = o->due_ms;
				break;
			}
		}
	}
	for (j = 0; j < H.n; j++) {
		pfd_close(&H.t[j]);
		pf_stats_unref(H.t[j].st);
	}
	free(H.t);
	H.t = nt;
	H.n = nn;
}

static void *pfd_health_main(void *arg)
{
	(void)arg;
	while (!H.stop) {
		struct epoll_event evs[64];
		uint64_t now = pf_now_ms(), next = now + 1000;
		int n, i;
		size_t k;

		for (k = 0; k < H.n; k++) {
			struct pfd_target *t = &H.t[k];

			if (t->fd >= 0 && now >= t->deadline_ms)
				pfd_done(t, false, "timed out");
			if (t->fd < 0 && now >= t->due_ms)
				pfd_start(t);
			if (t->fd >= 0 && t->deadline_ms < next)
				next = t->deadline_ms;
			if (t->fd < 0 && t->due_ms < next)
				next = t->due_ms;
		}
		n = epoll_wait(H.ep, evs, 64, next > now ? (int)(next - now) : 0);
		for (i = 0; i < n; i++) {
			if (!evs[i].data.ptr) {
				uint64_t v;

				(void)!read(H.efd, &v, sizeof(v));
				if (H.has_pending)
					pfd_adopt();
				break; /* the list may have changed under the other events */
			}
			pfd_event(evs[i].data.ptr, evs[i].events);
		}
	}
	return NULL;
}

int pfd_health_start(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	H.ep = epoll_create1(EPOLL_CLOEXEC);
	H.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	H.notify = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (H.ep < 0 || H.efd < 0 || epoll_ctl(H.ep, EPOLL_CTL_ADD, H.efd, &ev) < 0)
		return -1;
	if (pthread_create(&H.th, NULL, pfd_health_main, NULL))
		return -1;
	H.running = true;
	return 0;
}

static void pfd_target_add(struct pfd_target **v, size_t *n, size_t *cap, const struct pf_forward *f,
			   const struct pf_backend *be, int kind, uint16_t port, bool udp)
{
	struct pfd_target *t;
	char b[PF_HOST_MAX + 16];
	int len;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = realloc(*v, *cap * sizeof(**v));
		if (!*v)
			abort();
	}
	t = &(*v)[(*n)++];
	memset(t, 0, sizeof(*t));
	t->st = pf_stats_ref(be->st);
	t->kind = kind;
	t->addr = be->addr;
	pf_sa_set_port(&t->addr, port);
	t->chk = f->conf.check;
	t->chk.send = t->chk.expect = NULL;
	t->udp = udp;
	/* The parser kept them escaped and at most PF_CHECK_STR_MAX - 1
	 * bytes long: they fit (NUL-terminated, for the agent's strtok). */
	len = pf_unescape(f->conf.check.send, t->send, sizeof(t->send) - 1);
	t->send_len = len > 0 ? (size_t)len : 0;
	len = pf_unescape(f->conf.check.expect, t->expect, sizeof(t->expect) - 1);
	t->expect_len = len > 0 ? (size_t)len : 0;
	t->expect[t->expect_len] = '\0';
	t->fd = -1;
	t->due_ms = pf_now_ms(); /* a new target is checked at once */
	/* The service's own port gets the header its flows get; a check-port
	 * or an agent is another service. */
	if (kind == PFD_T_HEALTH && !f->conf.check.port)
		t->proxy = f->conf.proxy_send;
	pf_backend_format(be, b, sizeof(b));
	snprintf(t->name, sizeof(t->name), "%s%s%s", b,
		 f->conf.name[0] ? " of forward " : "",
		 f->conf.name);
}

/* A forward new to the running table without checks: its backends are
 * up, whatever they were (their counters may be a changed forward's). */
static void pfd_health_unchecked(struct pf_forward *f)
{
	uint32_t b;

	for (b = 0; b < f->nbe; b++) {
		atomic_store(&f->be[b].st->health, PF_HEALTH_UP);
		atomic_store(&f->be[b].st->agent, PF_AGENT_NONE);
		atomic_store(&f->be[b].st->agent_pct, 100);
	}
}

static bool pfd_any_checked(const struct pf_fwdvec *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (v->v[i]->checked)
			return true;
	return false;
}

void pfd_health_change(const struct pf_table *t)
{
	size_t i;

	/* A checked forward came or went: the checker's targets change. */
	if (pfd_any_checked(&t->add) || pfd_any_checked(&t->del)) {
		pfd_health_set(t);
		return;
	}
	for (i = 0; i < t->add.n; i++)
		pfd_health_unchecked(t->add.v[i]);
}

void pfd_health_set(const struct pf_table *t)
{
	struct pfd_target *v = NULL;
	size_t n = 0, cap = 0, i;
	uint32_t b;
	uint64_t one = 1;

	for (i = 0; i < t->n; i++) {
		struct pf_forward *f = t->fwd[i];

		/* Unchecked and running: nothing to do, and its backends (in
		 * memory of their own) are not read. */
		if (!f->checked) {
			if (!f->live)
				pfd_health_unchecked(f);
			continue;
		}
		for (b = 0; b < f->nbe; b++) {
			const struct pf_backend *be = &f->be[b];
			uint16_t port = f->conf.check.port ? f->conf.check.port
					: be->conf.port_lo	? be->conf.port_lo
							: f->conf.lport_lo;

			/* UDP only: a datagram that must bring a reply, or
			 * without one a TCP service beside it, at check-port
			 * (the parser allows no UDP-only check with neither). */
			bool udp = !(f->conf.protos & PF_PROTO_TCP) && f->conf.check.send[0];

			if (udp || (f->conf.protos & PF_PROTO_TCP) || f->conf.check.port)
				pfd_target_add(&v, &n, &cap, f, be, PFD_T_HEALTH, port, udp);
			if (f->conf.check.agent_port)
				pfd_target_add(&v, &n, &cap, f, be, PFD_T_AGENT,
					       f->conf.check.agent_port, false);
		}
	}
	if (!H.running) {
		for (i = 0; i < n; i++)
			pf_stats_unref(v[i].st);
		free(v);
		return;
	}
	pthread_mutex_lock(&H.lock);
	if (H.has_pending) {
		for (i = 0; i < H.npending; i++)
			pf_stats_unref(H.pending[i].st);
		free(H.pending);
	}
	H.pending = v;
	H.npending = n;
	H.has_pending = true;
	pthread_mutex_unlock(&H.lock);
	(void)!write(H.efd, &one, sizeof(one));
}

void pfd_health_stop(void)
{
	uint64_t one = 1;
	size_t i;

	if (H.running) {
		H.stop = true;
		(void)!write(H.efd, &one, sizeof(one));
		pthread_join(H.th, NULL);
		H.running = false;
	}
	for (i = 0; i < H.n; i++) {
		pfd_close(&H.t[i]);
		pf_stats_unref(H.t[i].st);
	}
	free(H.t);
	H.t = NULL;
	H.n = 0;
	if (H.has_pending) {
		for (i = 0; i < H.npending; i++)
			pf_stats_unref(H.pending[i].st);
		free(H.pending);
		H.pending = NULL;
		H.has_pending = false;
	}
	if (H.ep >= 0)
		close(H.ep);
	if (H.efd >= 0)
		close(H.efd);
	if (H.notify >= 0)
		close(H.notify);
	H.ep = H.efd = H.notify = -1;
}
