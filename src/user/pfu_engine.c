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
static struct pfu_lsock **pfu_cur, **pfu_next;
static size_t pfu_ncur, pfu_nnext;
static struct pfu_plan *pfu_plan;
static bool pfu_prepared;

int pfu_start(const struct pfu_config *cfg)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int i;

	pfu_cfg = *cfg;
	pfu_nw = cfg->workers > 0 ? cfg->workers : (int)(ncpu > 0 ? ncpu : 1);
	if (pfu_nw > PFU_WORKERS_MAX)
		pfu_nw = PFU_WORKERS_MAX;
	pfu_w = pf_xcalloc((size_t)pfu_nw, sizeof(*pfu_w));
	for (i = 0; i < pfu_nw; i++) {
		if (pfu_worker_init(&pfu_w[i], i) < 0) {
			pf_err("worker %d: %s", i, strerror(errno));
			return -1;
		}
		if (pthread_create(&pfu_w[i].th, NULL, pfu_worker_main, &pfu_w[i])) {
			pf_err("cannot start worker %d", i);
			return -1;
		}
	}
	pf_info("user engine: %d worker%s, %s relay", pfu_nw, pfu_nw > 1 ? "s" : "",
		cfg->copy ? "copy" : "splice");
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

static int pfu_listen_one(uint8_t proto, union pf_sa *sa, bool v6only, bool any, char *why,
			  size_t whylen)
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
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
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
		if (bind(fd, &sa->sa, pf_sa_len(sa)) < 0)
			goto fail;
		return fd;
	}
	/* Inherited by accepted sockets: saves a setsockopt per client. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, &sa->sa, pf_sa_len(sa)) < 0 || listen(fd, PFU_BACKLOG) < 0)
		goto fail;
	return fd;
fail:
	snprintf(why, whylen, "%s", strerror(errno));
	close(fd);
	return -1;
}

static struct pfu_lsock *pfu_lsock_open(const struct pf_forward *f, uint8_t proto, uint16_t port,
					char *err, size_t errlen)
{
	struct pfu_lsock *ls = pf_xcalloc(1, sizeof(*ls));
	char why[128], a[PF_ADDRSTR_MAX];
	int i;

	ls->proto = proto;
	ls->v6only = f->lbracketed;
	ls->addr = f->laddr;
	pf_sa_set_port(&ls->addr, port);
	for (i = 0; i < PFU_WORKERS_MAX; i++)
		ls->fds[i] = -1;
	for (i = 0; i < pfu_nw; i++) {
		/* ":PORT" is every address, v4 and v6 on one socket; "[::]:PORT" is v6 only. */
		ls->fds[i] = pfu_listen_one(proto, &ls->addr, f->lbracketed,
					    pf_sa_is_any(&ls->addr), why, sizeof(why));
		if (ls->fds[i] == -EAFNOSUPPORT && !f->lhost[0]) {
			/* No IPv6 in this kernel: every address means every IPv4 one. */
			memset(&ls->addr, 0, sizeof(ls->addr));
			ls->addr.sin.sin_family = AF_INET;
			pf_sa_set_port(&ls->addr, port);
			ls->fds[i] = pfu_listen_one(proto, &ls->addr, false, true, why,
						    sizeof(why));
		}
		if (ls->fds[i] < 0) {
			ls->fds[i] = -1;
			pf_sa_format(&ls->addr, true, a, sizeof(a));
			snprintf(err, errlen, "%s:%d: cannot listen on %s %s: %s", f->src, f->line,
				 pf_proto_name(proto), a, why);
			pfu_lsock_close(ls);
			return NULL;
		}
	}
	return ls;
}

static struct pfu_lsock *pfu_find_cur(const struct pf_forward *f, uint8_t proto, uint16_t port)
{
	size_t i;

	for (i = 0; i < pfu_ncur; i++) {
		struct pfu_lsock *ls = pfu_cur[i];

		if (!ls->reused && ls->proto == proto && pf_sa_port(&ls->addr) == port &&
		    ls->v6only == f->lbracketed &&
		    (pf_sa_addr_equal(&ls->addr, &f->laddr) ||
		     (!f->lhost[0] && pf_sa_is_any(&ls->addr))))
			return ls;
	}
	return NULL;
}

void pfu_abort(void)
{
	size_t i;

	for (i = 0; i < pfu_nnext; i++) {
		if (pfu_next[i]->reused)
			pfu_next[i]->reused = false;
		else
			pfu_lsock_close(pfu_next[i]);
	}
	free(pfu_next);
	free(pfu_plan);
	pfu_next = NULL;
	pfu_plan = NULL;
	pfu_nnext = 0;
	pfu_prepared = false;
}

/* Finds or opens the sockets of one forward's ports for one protocol. */
static int pfu_prepare_ports(struct pf_forward *f, uint8_t proto, char *err, size_t errlen)
{
	uint32_t port;

	for (port = f->lport_lo; port <= f->lport_hi; port++) {
		struct pfu_lsock *ls = pfu_find_cur(f, proto, (uint16_t)port);

		if (ls)
			ls->reused = true;
		else if (!(ls = pfu_lsock_open(f, proto, (uint16_t)port, err, errlen)))
			return -1;
		pfu_next[pfu_nnext] = ls;
		pfu_plan[pfu_nnext].ls = ls;
		pfu_plan[pfu_nnext].fwd = f;
		pfu_plan[pfu_nnext].port = (uint16_t)port;
		pfu_nnext++;
	}
	return 0;
}

int pfu_prepare(const struct pf_table *next, char *err, size_t errlen)
{
	size_t i, cap = 0;

	if (pfu_prepared)
		pfu_abort();
	pfu_prepared = true;
	for (i = 0; i < next->n; i++)
		cap += 2 * ((size_t)next->fwd[i]->lport_hi - next->fwd[i]->lport_lo + 1);
	pfu_next = pf_xcalloc(cap ? cap : 1, sizeof(*pfu_next));
	pfu_plan = pf_xcalloc(cap ? cap : 1, sizeof(*pfu_plan));
	for (i = 0; i < next->n; i++) {
		struct pf_forward *f = next->fwd[i];

		if (((f->protos & PF_PROTO_TCP) && pfu_prepare_ports(f, PF_PROTO_TCP, err, errlen)) ||
		    ((f->protos & PF_PROTO_UDP) && pfu_prepare_ports(f, PF_PROTO_UDP, err, errlen))) {
			pfu_abort();
			return -1;
		}
	}
	return 0;
}

void pfu_commit(void)
{
	struct pfu_cmd c = { .type = PFU_CMD_APPLY, .plan = pfu_plan, .nplan = pfu_nnext };
	size_t i;
	int w;

	for (w = 0; w < pfu_nw; w++)
		pfu_worker_send(&pfu_w[w], &c);
	/* The workers closed their sockets of the ports that went away. */
	for (i = 0; i < pfu_ncur; i++) {
		if (!pfu_cur[i]->reused)
			free(pfu_cur[i]);
	}
	for (i = 0; i < pfu_nnext; i++)
		pfu_next[i]->reused = false;
	free(pfu_cur);
	free(pfu_plan);
	pfu_cur = pfu_next;
	pfu_ncur = pfu_nnext;
	pfu_next = NULL;
	pfu_plan = NULL;
	pfu_nnext = 0;
	pfu_prepared = false;
}

unsigned pfu_kill(const struct pf_selector *sel)
{
	struct pfu_cmd c = { .type = PFU_CMD_KILL, .sel = sel };
	int w;

	for (w = 0; w < pfu_nw; w++)
		pfu_worker_send(&pfu_w[w], &c);
	return c.killed;
}

void pfu_conns(json_t *arr)
{
	struct pfu_cmd c = { .type = PFU_CMD_CONNS, .arr = arr };
	int w;

	for (w = 0; w < pfu_nw; w++)
		pfu_worker_send(&pfu_w[w], &c);
}

void pfu_stop(void)
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
}
