// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The PROXY protocol on the user engine's TCP flows: the header read from a
 * proxy that 'accept-proxy' trusts, before the flow's forward and backend
 * are picked for the client it names, and the header written to a backend
 * of a forward with 'proxy-protocol'.
 *
 * The header is read with MSG_PEEK into the worker's scratch buffer and
 * parsed whole each time more has come; only once it is complete are its
 * bytes taken from the socket, so the client's data after it stays there
 * for the relay, and a flow holds no buffer of its own meanwhile.
 */
#include "pfu_int.h"
#include "../common/pf_proxy.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* A proxy sends its header at once: a slow one is a broken one or a
 * client that is not a proxy, holding a descriptor for nothing. */
#define PFU_PROXY_WAIT_MS 3000

struct pf_ratelimit pfu_rl_proxy;

struct pf_forward *pfu_proxy_trusted(const struct pfu_wl *wl, const union pf_sa *peer)
{
	uint32_t i;

	for (i = 0; i < wl->nfwd; i++)
		if (wl->fwd[i]->conf.accept_proxy.n &&
		    pf_cidrset_match(&wl->fwd[i]->conf.accept_proxy, peer) >= 0)
			return wl->fwd[i];
	return NULL;
}

uint64_t pfu_proxy_wait_ms(const struct pf_forward *fwd)
{
	return fwd->conf.o.connect_ms < PFU_PROXY_WAIT_MS ? fwd->conf.o.connect_ms
							  : PFU_PROXY_WAIT_MS;
}

/* No usable header: closed (reset: nothing was relayed) and counted. */
static void pfu_proxy_fail(struct pfu_worker *w, struct pfu_flow *f, const char *why)
{
	const struct pf_forward *fwd = f->fwd;
	uint64_t k = pf_ratelimit_ok(&pfu_rl_proxy, 1000);
	char a[PF_ADDRSTR_MAX], l[PF_WHERE_MAX];

	atomic_fetch_add_explicit(&fwd->st->proxy_errors, 1, memory_order_relaxed);
	if (k) {
		pf_sa_format(&f->client, true, a, sizeof(a));
		pf_warn("forward %s: connection from %s closed: %s (%lu times)",
			pf_forward_label(fwd, l, sizeof(l)), a, why, (unsigned long)k);
	}
	pfu_tcp_abort(w, f, PF_END_ERROR);
}

void pfu_proxy_timeout(struct pfu_worker *w, struct pfu_flow *f)
{
	pfu_proxy_fail(w, f, "no whole PROXY header in time (accept-proxy)");
}

void pfu_proxy_read(struct pfu_worker *w, struct pfu_flow *f)
{
	struct pf_proxy_parser p;
	struct pf_forward *fwd;
	size_t used;
	ssize_t n;
	int rc;

	n = recv(f->c.fd, w->scratch, PF_PROXY_MAX, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		f->c.rd = false;
		return;
	}
	if (n <= 0) {
		pfu_proxy_fail(w, f, n ? strerror(errno)
				       : "closed before its PROXY header was whole (accept-proxy)");
		return;
	}
	pf_proxy_parser_init(&p);
	rc = pf_proxy_parse(&p, w->scratch, (size_t)n, &used);
	if (rc == PF_PROXY_ERROR) {
		pfu_proxy_fail(w, f, p.why);
		return;
	}
	if (rc == PF_PROXY_MORE) {
		/* All there is was seen: wait for more (or the timer). */
		f->c.rd = false;
		return;
	}
	if (recv(f->c.fd, w->scratch, used, MSG_DONTWAIT) != (ssize_t)used) {
		pfu_proxy_fail(w, f, "the PROXY header could not be taken from the socket");
		return;
	}
	/* LOCAL and UNKNOWN: the proxy's own connection, as it is. */
	if (p.hdr.has_addr) {
		f->client = p.hdr.src;
		f->client_dst = p.hdr.dst;
	}
	fwd = pfu_select(f->wl, &f->client);
	if (!fwd) {
		/* Counted (and logged) by pfu_select. */
		pfu_tcp_abort(w, f, PFU_END_UNLOGGED);
		return;
	}
	pfu_tcp_start(w, f, fwd);
}

int pfu_proxy_send(struct pfu_flow *f)
{
	char buf[PF_PROXY_OUT_MAX];
	union pf_sa dst = f->client_dst;
	socklen_t len = sizeof(dst);
	ssize_t n;
	int hl;

	if (!dst.sa.sa_family && getsockname(f->c.fd, &dst.sa, &len) < 0)
		return -errno;
	hl = pf_proxy_encode(f->fwd->conf.proxy_send, &f->client, &dst, buf, sizeof(buf));
	if (hl < 0)
		return -EAFNOSUPPORT;
	/* A socket just connected has room for a hundred bytes: all or error. */
	n = send(f->s.fd, buf, (size_t)hl, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	return n == hl ? 0 : -EAGAIN;
}

void pfu_proxy_close_wl(struct pfu_worker *w, const struct pfu_wl *wl)
{
	struct pfu_flow *f, *next;

	for (f = w->hdrwait.next; f != &w->hdrwait; f = next) {
		next = f->next;
		if (f->wl == wl)
			pfu_tcp_abort(w, f, PF_END_KILLED);
	}
}
