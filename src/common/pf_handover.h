/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sockets an upgrade hands from the running portfwd to the one it
 * starts (pfd_upgrade.c). They travel with SCM_RIGHTS over a socket pair
 * whose descriptor the new process finds in $PORTFW_UPGRADE_FD, each batch
 * of descriptors in one datagram that says what each one is, so that the
 * new process takes a socket by what it is bound to rather than by its
 * number, and binds anew only what the old one did not have.
 *
 * A datagram: a header (magic, version, count, last) and count entries of
 * fixed size, with as many descriptors in its SCM_RIGHTS. A version this
 * binary does not know is refused, and the new process binds everything
 * anew (and fails where the old one still listens: the old one serves on).
 */
#ifndef PF_HANDOVER_H
#define PF_HANDOVER_H

#include "pf_addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PF_HANDOVER_ENV "PORTFW_UPGRADE_FD"
#define PF_HANDOVER_VERSION 1
/* Descriptors per datagram (the kernel's SCM_MAX_FD is higher). */
#define PF_HANDOVER_BATCH 128

enum pf_handover_kind {
	PF_HO_CTL = 1,	  /* the control socket (path) */
	PF_HO_HTTP = 2,	  /* the status server's listener */
	PF_HO_LISTEN = 3, /* a user engine listener (proto, v6only, ifname) */
};

/* What one handed descriptor is. */
struct pf_handover_ent {
	uint8_t kind;	/* enum pf_handover_kind */
	uint8_t proto;	/* PF_PROTO_TCP or PF_PROTO_UDP for PF_HO_LISTEN */
	bool v6only;
	char ifname[16]; /* SO_BINDTODEVICE ("" none) */
	union pf_sa addr; /* bound: the key the forward asks for, with port */
	char path[108];	  /* PF_HO_CTL: the socket's path */
};

/* The header and entries of one datagram, as sent. */
struct pf_handover_wire_hdr {
	char magic[4]; /* "PFHO" */
	uint16_t version;
	uint16_t n;
	uint8_t last;
	uint8_t pad[7];
};

struct pf_handover_wire_ent {
	uint8_t kind, proto, v6only, pad;
	uint16_t family, port; /* port in host order */
	uint8_t addr[16];
	uint32_t scope;
	char ifname[16];
	char path[108];
};

/* Encodes n (at most PF_HANDOVER_BATCH) entries into buf: the length. */
size_t pf_handover_encode(const struct pf_handover_ent *e, size_t n, bool last, void *buf,
			  size_t cap);
/* Decodes one datagram of len bytes that came with nfds descriptors into
 * out (room for PF_HANDOVER_BATCH): the number of entries, or -1 with a
 * message in err (a bad datagram: its descriptors are to be closed). */
int pf_handover_decode(const void *buf, size_t len, size_t nfds, struct pf_handover_ent *out,
		       bool *last, char *err, size_t errlen);

/* The new process' pool of inherited sockets. */
int pf_handover_add(const struct pf_handover_ent *e, int fd);
/* A user engine listener's socket (-1: none left of that kind). */
int pf_handover_take(uint8_t kind, uint8_t proto, bool v6only, const char *ifname,
		     const union pf_sa *addr);
/* The control socket at path (-1: none). */
int pf_handover_take_ctl(const char *path);
/* Whether a listener like that was handed over at all (taken or not). */
bool pf_handover_has(uint8_t kind, uint8_t proto, bool v6only, const char *ifname,
		     const union pf_sa *addr);
/* Closes what no forward took: the number closed. The pool is freed. */
size_t pf_handover_close_rest(void);

#endif
