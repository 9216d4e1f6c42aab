// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * PROXY protocol headers, written and read. The reader takes its bytes in
 * pieces of any size, so the user engine can feed it what a socket has so
 * far; it keeps at most a v1 line, skips v2 TLVs without keeping them and
 * stops at PF_PROXY_MAX bytes, so a peer cannot make it hold more.
 */
#include "pf_proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* The v2 signature: chosen by the spec so that no v1 line or common
 * protocol starts with it. */
static const uint8_t pf_proxy_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					  0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

#define PF_PROXY_V2_LOCAL 0x20
#define PF_PROXY_V2_PROXY 0x21
#define PF_PROXY_FAM_UNSPEC 0x00
#define PF_PROXY_FAM_TCP4 0x11
#define PF_PROXY_FAM_TCP6 0x21
#define PF_PROXY_V2_ADDR4 12 /* two IPv4 addresses and two ports */
#define PF_PROXY_V2_ADDR6 36
/* What of a v2 header is kept: the fixed part and the IPv6 addresses. */
#define PF_PROXY_V2_KEEP (PF_PROXY_V2_FIXED + PF_PROXY_V2_ADDR6)

_Static_assert(PF_PROXY_V2_KEEP <= PF_PROXY_V1_MAX + 1, "the parser's buffer holds a v2 head");

/* An IPv4-mapped IPv6 address as the IPv4 address it is, so that ACLs
 * and listings written with IPv4 networks see it as such. */
static void pf_proxy_unmap(union pf_sa *sa)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	if (sa->sa.sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sa->sin6.sin6_addr))
		return;
	memcpy(&sin.sin_addr, &sa->sin6.sin6_addr.s6_addr[12], 4);
	sin.sin_port = sa->sin6.sin6_port;
	memset(sa, 0, sizeof(*sa));
	sa->sin = sin;
}

static void pf_proxy_map(union pf_sa *sa)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	if (sa->sa.sa_family != AF_INET)
		return;
	sin6.sin6_addr.s6_addr[10] = sin6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&sin6.sin6_addr.s6_addr[12], &sa->sin.sin_addr, 4);
	sin6.sin6_port = sa->sin.sin_port;
	memset(sa, 0, sizeof(*sa));
	sa->sin6 = sin6;
}

static bool pf_proxy_inet(const union pf_sa *sa)
{
	return sa->sa.sa_family == AF_INET || sa->sa.sa_family == AF_INET6;
}

static int pf_proxy_encode_v1(const union pf_sa *s, const union pf_sa *d, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	bool v6 = s && s->sa.sa_family == AF_INET6;
	int n;

	if (!s) {
		n = snprintf(buf, len, "PROXY UNKNOWN\r\n");
	} else {
		inet_ntop(s->sa.sa_family, v6 ? (const void *)&s->sin6.sin6_addr
					      : (const void *)&s->sin.sin_addr,
			  a, sizeof(a));
		inet_ntop(d->sa.sa_family, v6 ? (const void *)&d->sin6.sin6_addr
					      : (const void *)&d->sin.sin_addr,
			  b, sizeof(b));
		n = snprintf(buf, len, "PROXY TCP%c %s %s %u %u\r\n", v6 ? '6' : '4', a, b,
			     pf_sa_port(s), pf_sa_port(d));
	}
	return n < 0 || (size_t)n >= len ? -1 : n;
}

static int pf_proxy_encode_v2(const union pf_sa *s, const union pf_sa *d, uint8_t *buf, size_t len)
{
	size_t alen = !s ? 0 : s->sa.sa_family == AF_INET6 ? PF_PROXY_V2_ADDR6 : PF_PROXY_V2_ADDR4;
	uint8_t *p = buf + PF_PROXY_V2_FIXED;

	if (len < PF_PROXY_V2_FIXED + alen)
		return -1;
	memcpy(buf, pf_proxy_sig, sizeof(pf_proxy_sig));
	buf[12] = s ? PF_PROXY_V2_PROXY : PF_PROXY_V2_LOCAL;
	buf[13] = !s ? PF_PROXY_FAM_UNSPEC : alen == PF_PROXY_V2_ADDR6 ? PF_PROXY_FAM_TCP6
								      : PF_PROXY_FAM_TCP4;
	buf[14] = 0;
	buf[15] = (uint8_t)alen;
	if (!s)
		return PF_PROXY_V2_FIXED;
	/* Addresses and ports are in network order, as sockaddrs hold them. */
	if (alen == PF_PROXY_V2_ADDR6) {
		memcpy(p, &s->sin6.sin6_addr, 16);
		memcpy(p + 16, &d->sin6.sin6_addr, 16);
		memcpy(p + 32, &s->sin6.sin6_port, 2);
		memcpy(p + 34, &d->sin6.sin6_port, 2);
	} else {
		memcpy(p, &s->sin.sin_addr, 4);
		memcpy(p + 4, &d->sin.sin_addr, 4);
		memcpy(p + 8, &s->sin.sin_port, 2);
		memcpy(p + 10, &d->sin.sin_port, 2);
	}
	return (int)(PF_PROXY_V2_FIXED + alen);
}

int pf_proxy_encode(uint8_t version, const union pf_sa *src, const union pf_sa *dst, void *buf,
		    size_t len)
{
	union pf_sa s, d;

	if (src) {
		if (!dst || !pf_proxy_inet(src) || !pf_proxy_inet(dst))
			return -1;
		/* One family for both: IPv4 where both are (mapped or not),
		 * else IPv6 with the IPv4 one mapped. */
		s = *src;
		d = *dst;
		pf_proxy_unmap(&s);
		pf_proxy_unmap(&d);
		if (s.sa.sa_family != d.sa.sa_family) {
			pf_proxy_map(&s);
			pf_proxy_map(&d);
		}
	}
	if (version == PF_PROXY_V1)
		return pf_proxy_encode_v1(src ? &s : NULL, src ? &d : NULL, buf, len);
	if (version == PF_PROXY_V2)
		return pf_proxy_encode_v2(src ? &s : NULL, src ? &d : NULL, buf, len);
	return -1;
}

void pf_proxy_parser_init(struct pf_proxy_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->state = PF_PROXY_MORE;
}

static int pf_proxy_fail(struct pf_proxy_parser *p, const char *why)
{
	p->state = PF_PROXY_ERROR;
	p->why = why;
	return PF_PROXY_ERROR;
}

/* A v1 port: decimal 0-65535, without leading zeros (the spec's form). */
static int pf_proxy_v1_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (!*s || strlen(s) > 5 || (s[0] == '0' && s[1]))
		return -1;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = htons((uint16_t)v);
	return 0;
}

static int pf_proxy_v1_addr(int family, const char *s, union pf_sa *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sa.sa_family = (sa_family_t)family;
	if (inet_pton(family, s, family == AF_INET ? (void *)&sa->sin.sin_addr
						   : (void *)&sa->sin6.sin6_addr) != 1)
		return -1;
	return 0;
}

/* The whole v1 line is in p->buf, its LF last. */
static int pf_proxy_v1_line(struct pf_proxy_parser *p)
{
	char line[PF_PROXY_V1_MAX + 1], *f[5], *s;
	uint16_t sport, dport;
	int family, n = 0;

	if (p->seen < 2 || p->buf[p->seen - 2] != '\r')
		return pf_proxy_fail(p, "a v1 header ends with CRLF, not a bare LF");
	memcpy(line, p->buf, p->seen - 2);
	line[p->seen - 2] = '\0';
	s = line + 6; /* after "PROXY " */
	/* "UNKNOWN", then anything up to the CRLF, which the receiver ignores. */
	if (!strncmp(s, "UNKNOWN", 7) && (s[7] == '\0' || s[7] == ' ')) {
		p->hdr.has_addr = false;
		return PF_PROXY_DONE;
	}
	/* Exactly five fields, one space apart. */
	for (f[n++] = s; *s; s++) {
		if (*s != ' ')
			continue;
		if (n == 5)
			return pf_proxy_fail(p, "a v1 header has five fields after 'PROXY'; "
						"expected PROTO SRC DST SPORT DPORT");
		*s = '\0';
		f[n++] = s + 1;
	}
	if (n != 5)
		return pf_proxy_fail(p, "a v1 header has five fields after 'PROXY'; expected "
					"PROTO SRC DST SPORT DPORT");
	if (!strcmp(f[0], "TCP4"))
		family = AF_INET;
	else if (!strcmp(f[0], "TCP6"))
		family = AF_INET6;
	else
		return pf_proxy_fail(p, "unknown v1 protocol; expected TCP4, TCP6 or UNKNOWN");
	if (pf_proxy_v1_addr(family, f[1], &p->hdr.src) ||
	    pf_proxy_v1_addr(family, f[2], &p->hdr.dst))
		return pf_proxy_fail(p, "a v1 address is not of its protocol's family; expected "
					"dotted IPv4 for TCP4, IPv6 for TCP6");
	if (pf_proxy_v1_port(f[3], &sport) || pf_proxy_v1_port(f[4], &dport))
		return pf_proxy_fail(p, "a v1 port is not a number 0-65535 (without leading "
					"zeros)");
	pf_sa_set_port(&p->hdr.src, ntohs(sport));
	pf_sa_set_port(&p->hdr.dst, ntohs(dport));
	pf_proxy_unmap(&p->hdr.src);
	pf_proxy_unmap(&p->hdr.dst);
	p->hdr.has_addr = true;
	return PF_PROXY_DONE;
}

/* The fixed part of a v2 header is in: its command, family and length. */
static int pf_proxy_v2_fixed(struct pf_proxy_parser *p)
{
	uint8_t cmd = p->buf[12] & 0x0f, fam = p->buf[13];
	size_t alen = ((size_t)p->buf[14] << 8) | p->buf[15];

	if ((p->buf[12] >> 4) != 2)
		return pf_proxy_fail(p, "a v2 header of an unknown version; expected 2");
	if (cmd > 1)
		return pf_proxy_fail(p, "a v2 header with an unknown command; expected LOCAL "
					"or PROXY");
	if (PF_PROXY_V2_FIXED + alen > PF_PROXY_MAX)
		return pf_proxy_fail(p, "a v2 header longer than 536 bytes");
	/* LOCAL: the proxy's own connection (its health checks); whatever the
	 * address block holds is ignored, as the spec says. */
	if (cmd == 1) {
		if (fam == PF_PROXY_FAM_TCP4 && alen < PF_PROXY_V2_ADDR4)
			return pf_proxy_fail(p, "a v2 TCP4 header shorter than its addresses");
		if (fam == PF_PROXY_FAM_TCP6 && alen < PF_PROXY_V2_ADDR6)
			return pf_proxy_fail(p, "a v2 TCP6 header shorter than its addresses");
		if (fam != PF_PROXY_FAM_TCP4 && fam != PF_PROXY_FAM_TCP6 &&
		    fam != PF_PROXY_FAM_UNSPEC)
			return pf_proxy_fail(p, "a v2 header of an unsupported family (UDP or "
						"unix); expected TCP over IPv4 or IPv6");
	}
	p->total = (uint16_t)(PF_PROXY_V2_FIXED + alen);
	return PF_PROXY_MORE;
}

static int pf_proxy_v2_done(struct pf_proxy_parser *p)
{
	const uint8_t *a = p->buf + PF_PROXY_V2_FIXED;
	union pf_sa *s = &p->hdr.src, *d = &p->hdr.dst;

	p->hdr.has_addr = (p->buf[12] & 0x0f) == 1 && p->buf[13] != PF_PROXY_FAM_UNSPEC;
	if (!p->hdr.has_addr)
		return PF_PROXY_DONE;
	memset(s, 0, sizeof(*s));
	memset(d, 0, sizeof(*d));
	if (p->buf[13] == PF_PROXY_FAM_TCP4) {
		s->sin.sin_family = d->sin.sin_family = AF_INET;
		memcpy(&s->sin.sin_addr, a, 4);
		memcpy(&d->sin.sin_addr, a + 4, 4);
		memcpy(&s->sin.sin_port, a + 8, 2);
		memcpy(&d->sin.sin_port, a + 10, 2);
	} else {
		s->sin6.sin6_family = d->sin6.sin6_family = AF_INET6;
		memcpy(&s->sin6.sin6_addr, a, 16);
		memcpy(&d->sin6.sin6_addr, a + 16, 16);
		memcpy(&s->sin6.sin6_port, a + 32, 2);
		memcpy(&d->sin6.sin6_port, a + 34, 2);
		pf_proxy_unmap(s);
		pf_proxy_unmap(d);
	}
	return PF_PROXY_DONE;
}

/* One more byte of a v1 line; DONE with the LF. */
static int pf_proxy_v1_byte(struct pf_proxy_parser *p, uint8_t c)
{
	if (p->seen < 6 && c != (uint8_t)"PROXY "[p->seen])
		return pf_proxy_fail(p, "no PROXY header; expected 'PROXY ' (v1) or the v2 "
					"signature");
	if (p->seen == PF_PROXY_V1_MAX)
		return pf_proxy_fail(p, "a v1 header longer than 107 bytes (no CRLF)");
	p->buf[p->seen++] = c;
	return c == '\n' ? pf_proxy_v1_line(p) : PF_PROXY_MORE;
}

int pf_proxy_parse(struct pf_proxy_parser *p, const void *data, size_t len, size_t *used)
{
	const uint8_t *d = data;
	size_t i = 0;

	*used = 0;
	if (p->state != PF_PROXY_MORE)
		return p->state;
	while (i < len) {
		size_t take;

		if (!p->seen)
			p->version = d[i] == 'P' ? PF_PROXY_V1 : PF_PROXY_V2;
		if (p->version == PF_PROXY_V1) {
			p->state = (int8_t)pf_proxy_v1_byte(p, d[i++]);
			if (p->state != PF_PROXY_MORE)
				break;
			continue;
		}
		if (p->seen < PF_PROXY_V2_FIXED) {
			if (p->seen < sizeof(pf_proxy_sig) && d[i] != pf_proxy_sig[p->seen])
				return pf_proxy_fail(p, "no PROXY header; expected 'PROXY ' (v1) "
							"or the v2 signature");
			p->buf[p->seen++] = d[i++];
			if (p->seen == PF_PROXY_V2_FIXED &&
			    pf_proxy_v2_fixed(p) == PF_PROXY_ERROR)
				return PF_PROXY_ERROR;
		} else {
			/* The addresses are kept, TLVs only counted. */
			take = p->total - p->seen;
			if (take > len - i)
				take = len - i;
			if (p->seen < PF_PROXY_V2_KEEP)
				memcpy(p->buf + p->seen, d + i,
				       take < (size_t)(PF_PROXY_V2_KEEP - p->seen)
					       ? take
					       : (size_t)(PF_PROXY_V2_KEEP - p->seen));
			p->seen = (uint16_t)(p->seen + take);
			i += take;
		}
		if (p->seen == p->total) {
			p->state = (int8_t)pf_proxy_v2_done(p);
			break;
		}
	}
	p->hdr.version = p->version;
	*used = i;
	return p->state;
}
