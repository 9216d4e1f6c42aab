// SPDX-License-Identifier: GPL-2.0-or-later
#include "pf_addr.h"
#include "pf_util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int pf_port_parse(const char *s, uint16_t *out)
{
	uint64_t v;

	if (pf_parse_uint(s, 1, 65535, &v))
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int pf_hostport_parse(const char *s, bool need_port, struct pf_hostport *hp, char *err,
		      size_t errlen)
{
	char buf[PF_HOST_MAX + 16];
	const char *ports = NULL;
	char *dash;

	memset(hp, 0, sizeof(*hp));
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "address too long");
		return -1;
	}
	memcpy(buf, s, strlen(s) + 1);
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		union pf_sa sa;

		if (!close) {
			snprintf(err, errlen, "missing ']' after IPv6 address");
			return -1;
		}
		*close = '\0';
		if (close[1] == ':')
			ports = close + 2;
		else if (close[1]) {
			snprintf(err, errlen, "expected ':PORT' after ']'");
			return -1;
		}
		if (!buf[1] || pf_sa_from_literal(buf + 1, &sa) || sa.sa.sa_family != AF_INET6) {
			snprintf(err, errlen, "'%s' is not an IPv6 address", buf + 1);
			return -1;
		}
		pf_strlcpy(hp->host, buf + 1, sizeof(hp->host));
		hp->bracketed = true;
	} else {
		char *colon = strchr(buf, ':');

		if (colon && strchr(colon + 1, ':')) {
			union pf_sa sa;

			/* A bare IPv6 address is fine where no port is needed. */
			if (!need_port && !pf_sa_from_literal(buf, &sa) &&
			    sa.sa.sa_family == AF_INET6) {
				pf_strlcpy(hp->host, buf, sizeof(hp->host));
				hp->bracketed = true;
				return 0;
			}
			snprintf(err, errlen,
				 "IPv6 addresses are written in brackets: [ADDR] or [ADDR]:PORT");
			return -1;
		}
		if (colon) {
			*colon = '\0';
			ports = colon + 1;
		}
		if (buf[0] && !pf_hostname_valid(buf)) {
			snprintf(err, errlen, "'%s' is not an address or host name", buf);
			return -1;
		}
		pf_strlcpy(hp->host, buf, sizeof(hp->host));
	}
	if (!ports) {
		if (need_port) {
			snprintf(err, errlen, "expected ADDR:PORT, :PORT or [IPV6]:PORT");
			return -1;
		}
		if (!hp->host[0]) {
			snprintf(err, errlen, "empty address");
			return -1;
		}
		return 0;
	}
	dash = strchr(ports, '-');
	if (dash) {
		char lo[8];
		size_t n = (size_t)(dash - ports);

		if (n < sizeof(lo)) {
			memcpy(lo, ports, n);
			lo[n] = '\0';
		}
		if (n >= sizeof(lo) || pf_port_parse(lo, &hp->port_lo) ||
		    pf_port_parse(dash + 1, &hp->port_hi) || hp->port_hi < hp->port_lo) {
			snprintf(err, errlen, "'%s' is not a port range LOW-HIGH within 1-65535", ports);
			return -1;
		}
	} else {
		if (pf_port_parse(ports, &hp->port_lo)) {
			snprintf(err, errlen, "'%s' is not a port number 1-65535", ports);
			return -1;
		}
		hp->port_hi = hp->port_lo;
	}
	return 0;
}

bool pf_hostname_valid(const char *host)
{
	size_t n = strlen(host);
	const char *p;

	if (!n || n > 253 || host[0] == '-' || host[0] == '.')
		return false;
	for (p = host; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return false;
	return true;
}

int pf_sa_from_literal(const char *host, union pf_sa *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (!host[0]) {
		sa->sin6.sin6_family = AF_INET6;
		sa->sin6.sin6_addr = in6addr_any;
		return 0;
	}
	if (inet_pton(AF_INET, host, &sa->sin.sin_addr) == 1) {
		sa->sin.sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sa->sin6.sin6_addr) == 1) {
		sa->sin6.sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

socklen_t pf_sa_len(const union pf_sa *sa)
{
	return sa->sa.sa_family == AF_INET6 ? sizeof(sa->sin6) : sizeof(sa->sin);
}

uint16_t pf_sa_port(const union pf_sa *sa)
{
	return ntohs(sa->sa.sa_family == AF_INET6 ? sa->sin6.sin6_port : sa->sin.sin_port);
}

void pf_sa_set_port(union pf_sa *sa, uint16_t port)
{
	if (sa->sa.sa_family == AF_INET6)
		sa->sin6.sin6_port = htons(port);
	else
		sa->sin.sin_port = htons(port);
}

bool pf_sa_is_any(const union pf_sa *sa)
{
	if (sa->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&sa->sin6.sin6_addr);
	return sa->sin.sin_addr.s_addr == htonl(INADDR_ANY);
}

bool pf_sa_addr_equal(const union pf_sa *a, const union pf_sa *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET6)
		return !memcmp(&a->sin6.sin6_addr, &b->sin6.sin6_addr, sizeof(a->sin6.sin6_addr));
	return a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr;
}

void pf_sa_format(const union pf_sa *sa, bool with_port, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (sa->sa.sa_family == AF_INET6) {
		const struct in6_addr *in6 = &sa->sin6.sin6_addr;

		/* Show v4-mapped peers of a dual-stack listener as plain IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(in6))
			inet_ntop(AF_INET, &in6->s6_addr[12], a, sizeof(a));
		else
			inet_ntop(AF_INET6, in6, a, sizeof(a));
		if (!with_port)
			snprintf(buf, len, "%s", a);
		else if (IN6_IS_ADDR_V4MAPPED(in6))
			snprintf(buf, len, "%s:%u", a, pf_sa_port(sa));
		else
			snprintf(buf, len, "[%s]:%u", a, pf_sa_port(sa));
	} else if (sa->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &sa->sin.sin_addr, a, sizeof(a));
		if (with_port)
			snprintf(buf, len, "%s:%u", a, pf_sa_port(sa));
		else
			snprintf(buf, len, "%s", a);
	} else {
		snprintf(buf, len, "-");
	}
}
