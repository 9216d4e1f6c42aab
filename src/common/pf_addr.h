/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Socket addresses: parsing the HOST[:PORT[-PORT]] forms and printing them. */
#ifndef PF_ADDR_H
#define PF_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define PF_HOST_MAX 256 /* a DNS name is at most 253 characters */
#define PF_ADDRSTR_MAX 64 /* "[v6%scope]:65535" */

union pf_sa {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

/* One endpoint as the operator wrote it: a host (name or literal, "" = any
 * address) and an optional port or port range. */
struct pf_hostport {
	char host[PF_HOST_MAX];
	bool bracketed; /* written as [v6] */
	uint16_t port_lo, port_hi; /* 0/0: no port given */
};

/* Splits "HOST", "HOST:PORT", "HOST:P1-P2", ":PORT", "[V6]:PORT", "[V6]".
 * need_port: a port is mandatory. Returns 0, or -1 with a message in err. */
int pf_hostport_parse(const char *s, bool need_port, struct pf_hostport *hp, char *err,
		      size_t errlen);

/* A literal IPv4/IPv6 address ("" = unspecified). Returns 0 or -1. */
int pf_sa_from_literal(const char *host, union pf_sa *sa);
/* Is the string a valid DNS host name (letters, digits, '-', '.', '_')? */
bool pf_hostname_valid(const char *host);

socklen_t pf_sa_len(const union pf_sa *sa);
uint16_t pf_sa_port(const union pf_sa *sa);
void pf_sa_set_port(union pf_sa *sa, uint16_t port);
bool pf_sa_is_any(const union pf_sa *sa);
/* Same family and address (ports ignored). */
bool pf_sa_addr_equal(const union pf_sa *a, const union pf_sa *b);
/* "1.2.3.4:80", "[::1]:80"; with_port false: "1.2.3.4", "::1". */
void pf_sa_format(const union pf_sa *sa, bool with_port, char *buf, size_t len);

#endif
