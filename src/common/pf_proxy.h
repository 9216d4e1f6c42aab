/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The PROXY protocol (HAProxy's doc/proxy-protocol.txt), versions 1 (a text
 * line) and 2 (binary), for TCP over IPv4 and IPv6: the header a forward
 * sends its backends ('proxy-protocol v1|v2') and the one it reads from the
 * proxies it trusts ('accept-proxy'). Nothing here allocates or does I/O.
 */
#ifndef PF_PROXY_H
#define PF_PROXY_H

#include "pf_addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pf_proxy_ver { PF_PROXY_OFF, PF_PROXY_V1, PF_PROXY_V2 };

/* A v1 line, "PROXY ... \r\n" included, is at most this long (the spec's
 * bound). */
#define PF_PROXY_V1_MAX 107
/* The v2 signature, version/command, family and length bytes. */
#define PF_PROXY_V2_FIXED 16
/* The longest header read: the spec's advice for a receiver's buffer
 * (v2 with its TLVs; longer ones are refused). */
#define PF_PROXY_MAX 536
/* The longest header written (v1 TCP6 with the longest addresses: 104). */
#define PF_PROXY_OUT_MAX 108

/* What a header said. */
struct pf_proxy_hdr {
	uint8_t version; /* enum pf_proxy_ver */
	/* false: v1 UNKNOWN, v2 LOCAL or v2 PROXY with family UNSPEC; the
	 * connection's own addresses stand (src and dst are unset). */
	bool has_addr;
	/* The client and the address it connected to, with ports; an
	 * IPv4-mapped IPv6 address is given as IPv4. */
	union pf_sa src, dst;
};

/*
 * The header for a connection from src to dst, written to buf; src NULL:
 * one without addresses (v1 "PROXY UNKNOWN", v2 LOCAL), for a connection the
 * gateway makes itself (health checks). Mixed families are written as IPv6
 * (the IPv4 one mapped). Returns the length, or -1 when buf (len bytes) is
 * too short or an address is neither IPv4 nor IPv6.
 */
int pf_proxy_encode(uint8_t version, const union pf_sa *src, const union pf_sa *dst, void *buf,
		    size_t len);

/* The reader of one header: fed bytes as they come, in pieces of any size. */
struct pf_proxy_parser {
	uint16_t seen; /* bytes of the header fed so far */
	uint16_t total; /* v2: the whole header's length, once known (else 0) */
	int8_t state; /* PF_PROXY_MORE, _DONE or _ERROR */
	uint8_t version;
	const char *why; /* PF_PROXY_ERROR: what was wrong, and what was expected */
	/* v1: the line; v2: the fixed part and the addresses (TLVs are
	 * skipped, not kept). */
	uint8_t buf[PF_PROXY_V1_MAX + 1];
	struct pf_proxy_hdr hdr;
};

enum { PF_PROXY_ERROR = -1, PF_PROXY_MORE = 0, PF_PROXY_DONE = 1 };

void pf_proxy_parser_init(struct pf_proxy_parser *p);
/*
 * Feeds len bytes that follow those fed before. Returns PF_PROXY_MORE (all
 * of them were taken; the header is not complete), PF_PROXY_DONE (the header
 * is p->hdr; *used says how many of these bytes were its end, the rest is
 * the connection's data) or PF_PROXY_ERROR (p->why says why; *used is
 * meaningless). Once done or failed it stays so and takes no more bytes.
 * Never reads more than PF_PROXY_MAX bytes in all.
 */
int pf_proxy_parse(struct pf_proxy_parser *p, const void *data, size_t len, size_t *used);

#endif
