// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The user engine's flow log records: filled on the worker's stack as a
 * flow ends (or a client is turned away) and handed to the log's queue,
 * which copies them; nothing here allocates or waits. Called only for the
 * forwards that log (pf_flowlog_wanted).
 */
#include "pfu_int.h"

#include <string.h>
#include <time.h>

static uint64_t pfu_log_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The wall clock time of monotonic instant ms (the worker's clock). */
static uint64_t pfu_log_wall(const struct pfu_worker *w, uint64_t ms)
{
	return pfu_log_now() - (w->now > ms ? w->now - ms : 0);
}

static void pfu_log_init(struct pf_flowlog_rec *r, const struct pf_forward *fwd, uint8_t l4,
			 uint8_t end)
{
	memset(r, 0, sizeof(*r));
	r->engine = PF_ENGINE_USER;
	r->l4 = l4;
	r->end = end;
	/* Names fit (PF_NAME_MAX both); a copy, the forward may go first. */
	memcpy(r->forward, fwd->conf.name, sizeof(r->forward));
}

static void pfu_log_backend(union pf_sa *sa, const struct pf_forward *fwd, int be,
			    uint16_t lport)
{
	if (be < 0 || (uint32_t)be >= fwd->nbe)
		return;
	*sa = fwd->be[be].addr;
	pf_sa_set_port(sa, pf_backend_port(fwd, &fwd->be[be], lport));
}

void pfu_log_tcp(const struct pfu_worker *w, const struct pfu_flow *f, uint8_t end)
{
	struct pf_flowlog_rec r;
	socklen_t len = sizeof(r.listen);

	pfu_log_init(&r, f->fwd, IPPROTO_TCP, end);
	r.client = f->client;
	/* Where the client connected: its proxy's word, else this socket's
	 * own address (a listener on any address learns it only so). */
	if (f->client_dst.sa.sa_family)
		r.listen = f->client_dst;
	else if (getsockname(f->c.fd, &r.listen.sa, &len) < 0)
		memset(&r.listen, 0, sizeof(r.listen));
	pfu_log_backend(&r.backend, f->fwd, f->be, f->lport);
	r.bytes_up = f->up.bytes;
	r.bytes_down = f->down.bytes;
	r.start_ms = pfu_log_wall(w, f->start_ms);
	r.duration_ms = w->now - f->start_ms;
	pf_flowlog_submit(&r);
}

void pfu_log_udp(const struct pfu_worker *w, const struct pfu_usess *s, uint8_t end)
{
	struct pf_flowlog_rec r;

	pfu_log_init(&r, s->fwd, IPPROTO_UDP, end);
	r.client = s->client;
	r.listen = s->has_local ? s->local : s->wl->ls->addr;
	pfu_log_backend(&r.backend, s->fwd, s->be, s->wl->port);
	r.bytes_up = s->bytes_up;
	r.bytes_down = s->bytes_down;
	r.start_ms = pfu_log_wall(w, s->start_ms);
	r.duration_ms = w->now - s->start_ms;
	pf_flowlog_submit(&r);
}

void pfu_log_refused(const struct pf_forward *fwd, const struct pfu_wl *wl,
		     const union pf_sa *client, uint8_t end)
{
	struct pf_flowlog_rec r;

	pfu_log_init(&r, fwd, wl->ls->proto == PF_PROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP, end);
	r.client = *client;
	r.listen = wl->ls->addr;
	r.start_ms = pfu_log_now();
	pf_flowlog_submit(&r);
}
