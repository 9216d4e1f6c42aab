// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The handed sockets' descriptions (pf_handover.h) and the new process'
 * pool of them. The pool lives from the start until the first table is in:
 * it is small, and a linear search is enough for it.
 */
#include "pf_handover.h"
#include "pf_table.h"
#include "pf_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char pf_handover_magic[4] = { 'P', 'F', 'H', 'O' };

size_t pf_handover_encode(const struct pf_handover_ent *e, size_t n, bool last, void *buf,
			  size_t cap)
{
	struct pf_handover_wire_hdr h = { .version = PF_HANDOVER_VERSION, .n = (uint16_t)n,
					  .last = last };
	unsigned char *p = buf;
	size_t i;

	if (n > PF_HANDOVER_BATCH || cap < sizeof(h) + n * sizeof(struct pf_handover_wire_ent))
		return 0;
	memcpy(h.magic, pf_handover_magic, sizeof(h.magic));
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	for (i = 0; i < n; i++) {
		struct pf_handover_wire_ent w = { .kind = e[i].kind, .proto = e[i].proto,
						  .v6only = e[i].v6only,
						  .family = e[i].addr.sa.sa_family,
						  .port = pf_sa_port(&e[i].addr) };

		if (w.family == AF_INET6) {
			memcpy(w.addr, &e[i].addr.sin6.sin6_addr, 16);
			w.scope = e[i].addr.sin6.sin6_scope_id;
		} else if (w.family == AF_INET) {
			memcpy(w.addr, &e[i].addr.sin.sin_addr, 4);
		}
		pf_strlcpy(w.ifname, e[i].ifname, sizeof(w.ifname));
		pf_strlcpy(w.path, e[i].path, sizeof(w.path));
		memcpy(p, &w, sizeof(w));
		p += sizeof(w);
	}
	return (size_t)(p - (unsigned char *)buf);
}

int pf_handover_decode(const void *buf, size_t len, size_t nfds, struct pf_handover_ent *out,
		       bool *last, char *err, size_t errlen)
{
	const unsigned char *p = buf;
	struct pf_handover_wire_hdr h;
	size_t i;

	if (len < sizeof(h)) {
		snprintf(err, errlen, "handover: a message of %zu bytes; expected at least %zu",
			 len, sizeof(h));
		return -1;
	}
	memcpy(&h, p, sizeof(h));
	if (memcmp(h.magic, pf_handover_magic, sizeof(h.magic)) != 0) {
		snprintf(err, errlen, "handover: not a handover message (bad magic)");
		return -1;
	}
	if (h.version != PF_HANDOVER_VERSION) {
		snprintf(err, errlen, "handover: version %u; expected %u", (unsigned)h.version,
			 (unsigned)PF_HANDOVER_VERSION);
		return -1;
	}
	if (h.n > PF_HANDOVER_BATCH || h.n != nfds ||
	    len != sizeof(h) + (size_t)h.n * sizeof(struct pf_handover_wire_ent)) {
		snprintf(err, errlen,
			 "handover: %u entries in %zu bytes with %zu descriptors; expected one "
			 "descriptor per entry, at most %d",
			 (unsigned)h.n, len, nfds, PF_HANDOVER_BATCH);
		return -1;
	}
	p += sizeof(h);
	for (i = 0; i < h.n; i++) {
		struct pf_handover_ent *e = &out[i];
		struct pf_handover_wire_ent w;

		memcpy(&w, p + i * sizeof(w), sizeof(w));
		memset(e, 0, sizeof(*e));
		if (w.kind < PF_HO_CTL || w.kind > PF_HO_LISTEN ||
		    (w.kind == PF_HO_CTL && w.family != 0) ||
		    (w.kind != PF_HO_CTL && w.family != AF_INET && w.family != AF_INET6) ||
		    (w.kind == PF_HO_LISTEN && w.proto != PF_PROTO_TCP && w.proto != PF_PROTO_UDP) ||
		    !memchr(w.ifname, 0, sizeof(w.ifname)) || !memchr(w.path, 0, sizeof(w.path))) {
			snprintf(err, errlen, "handover: entry %zu: bad kind, family, protocol or "
					      "name", i);
			return -1;
		}
		e->kind = w.kind;
		e->proto = w.proto;
		e->v6only = w.v6only != 0;
		memcpy(e->ifname, w.ifname, sizeof(e->ifname));
		memcpy(e->path, w.path, sizeof(e->path));
		if (w.family == AF_INET6) {
			e->addr.sin6.sin6_family = AF_INET6;
			memcpy(&e->addr.sin6.sin6_addr, w.addr, 16);
			e->addr.sin6.sin6_scope_id = w.scope;
		} else if (w.family == AF_INET) {
			e->addr.sin.sin_family = AF_INET;
			memcpy(&e->addr.sin.sin_addr, w.addr, 4);
		}
		if (w.family)
			pf_sa_set_port(&e->addr, w.port);
	}
	*last = h.last != 0;
	return h.n;
}

struct pf_handover_sock {
	struct pf_handover_ent e;
	int fd; /* -1: taken */
};

static struct pf_handover_sock *pf_ho;
static size_t pf_nho, pf_ho_cap;

int pf_handover_add(const struct pf_handover_ent *e, int fd)
{
	if (pf_nho == pf_ho_cap) {
		size_t cap = pf_ho_cap ? pf_ho_cap * 2 : 16;
		struct pf_handover_sock *v = realloc(pf_ho, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		pf_ho = v;
		pf_ho_cap = cap;
	}
	pf_ho[pf_nho].e = *e;
	pf_ho[pf_nho].fd = fd;
	pf_nho++;
	return 0;
}

static bool pf_handover_is(const struct pf_handover_ent *e, uint8_t kind, uint8_t proto,
			   bool v6only, const char *ifname, const union pf_sa *addr)
{
	return e->kind == kind && e->proto == proto && e->v6only == v6only &&
	       !strcmp(e->ifname, ifname) && pf_sa_port(&e->addr) == pf_sa_port(addr) &&
	       pf_sa_addr_equal(&e->addr, addr);
}

int pf_handover_take(uint8_t kind, uint8_t proto, bool v6only, const char *ifname,
		     const union pf_sa *addr)
{
	size_t i;

	for (i = 0; i < pf_nho; i++) {
		if (pf_ho[i].fd >= 0 &&
		    pf_handover_is(&pf_ho[i].e, kind, proto, v6only, ifname, addr)) {
			int fd = pf_ho[i].fd;

			pf_ho[i].fd = -1;
			return fd;
		}
	}
	return -1;
}

bool pf_handover_has(uint8_t kind, uint8_t proto, bool v6only, const char *ifname,
		     const union pf_sa *addr)
{
	size_t i;

	for (i = 0; i < pf_nho; i++)
		if (pf_handover_is(&pf_ho[i].e, kind, proto, v6only, ifname, addr))
			return true;
	return false;
}

int pf_handover_take_ctl(const char *path)
{
	size_t i;

	for (i = 0; i < pf_nho; i++) {
		if (pf_ho[i].fd >= 0 && pf_ho[i].e.kind == PF_HO_CTL &&
		    !strcmp(pf_ho[i].e.path, path)) {
			int fd = pf_ho[i].fd;

			pf_ho[i].fd = -1;
			return fd;
		}
	}
	return -1;
}

size_t pf_handover_close_rest(void)
{
	size_t i, n = 0;

	for (i = 0; i < pf_nho; i++) {
		if (pf_ho[i].fd >= 0) {
			close(pf_ho[i].fd);
			n++;
		}
	}
	free(pf_ho);
	pf_ho = NULL;
	pf_nho = pf_ho_cap = 0;
	return n;
}
