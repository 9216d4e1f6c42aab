// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for the small parsers under the command language: the
 * input (up to its first NUL) is one word.
 *
 *  - pf_hostport_parse: what parses formats (as a backend) into a word that
 *    parses into the same host, brackets and ports;
 *  - pf_parse_duration: what parses is at most 30 days and formats into a
 *    word that parses into the same duration;
 *  - pf_parse_uint, pf_sa_from_literal + pf_sa_format.
 *
 * A broken property abort()s, which libFuzzer reports as a crash.
 */
#include "common/pf_addr.h"
#include "common/pf_table.h"
#include "common/pf_util.h"
#include "fuzz_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_hostport(const char *s, bool need_port)
{
	struct pf_hostport hp, back;
	struct pf_backend be;
	char err[512], buf[PF_HOST_MAX + 32];

	err[0] = '\0';
	if (pf_hostport_parse(s, need_port, &hp, err, sizeof(err))) {
		CHECK(err[0], "'%s': an error without a message", s);
		return;
	}
	CHECK(hp.port_lo <= hp.port_hi && !hp.port_lo == !hp.port_hi, "'%s': ports %u-%u", s,
	      hp.port_lo, hp.port_hi);
	CHECK(!need_port || hp.port_lo, "'%s': no port", s);
	CHECK(hp.host[0] || hp.port_lo, "'%s': neither host nor port", s);
	if (hp.bracketed) {
		union pf_sa sa;

		CHECK(!pf_sa_from_literal(hp.host, &sa) && sa.sa.sa_family == AF_INET6,
		      "'%s': [%s] is no IPv6 address", s, hp.host);
	} else if (hp.host[0]) {
		CHECK(pf_hostname_valid(hp.host), "'%s': host '%s'", s, hp.host);
	}

	memset(&be, 0, sizeof(be));
	be.conf.host = hp.host;
	be.conf.bracketed = hp.bracketed;
	be.conf.port_lo = hp.port_lo;
	be.conf.port_hi = hp.port_hi;
	pf_backend_format(&be, buf, sizeof(buf));
	CHECK(!pf_hostport_parse(buf, need_port, &back, err, sizeof(err)),
	      "'%s' formats as '%s', which does not parse: %s", s, buf, err);
	CHECK(!strcmp(back.host, hp.host) && back.bracketed == hp.bracketed &&
		      back.port_lo == hp.port_lo && back.port_hi == hp.port_hi,
	      "'%s' formats as '%s', which parses differently", s, buf);
}

static void check_duration(const char *s)
{
	uint64_t ms, back;
	char buf[32];

	if (pf_parse_duration(s, &ms))
		return;
	CHECK(ms <= 30ULL * 86400000, "'%s': %llu ms", s, (unsigned long long)ms);
	pf_format_duration(ms, buf, sizeof(buf));
	CHECK(!pf_parse_duration(buf, &back) && back == ms, "'%s' formats as '%s'", s, buf);
}

static void check_uint(const char *s)
{
	uint64_t v;
	char buf[32];

	if (pf_parse_uint(s, 3, 65535, &v))
		return;
	CHECK(v >= 3 && v <= 65535, "'%s': %llu", s, (unsigned long long)v);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	CHECK(strlen(s) >= strlen(buf), "'%s' is shorter than its value", s);
}

static void check_literal(const char *s)
{
	union pf_sa sa, back;
	char buf[PF_ADDRSTR_MAX];

	if (pf_sa_from_literal(s, &sa))
		return;
	pf_sa_set_port(&sa, 4242);
	CHECK(pf_sa_port(&sa) == 4242, "port");
	pf_sa_format(&sa, false, buf, sizeof(buf));
	CHECK(!pf_sa_from_literal(buf, &back), "'%s' formats as '%s'", s, buf);
	if (sa.sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sa.sin6.sin6_addr))
		CHECK(back.sa.sa_family == AF_INET &&
			      !memcmp(&back.sin.sin_addr, &sa.sin6.sin6_addr.s6_addr[12], 4),
		      "'%s' formats as '%s'", s, buf);
	else
		CHECK(pf_sa_addr_equal(&sa, &back), "'%s' formats as '%s'", s, buf);
	pf_sa_format(&sa, true, buf, sizeof(buf));
	CHECK(pf_sa_len(&sa) >= sizeof(struct sockaddr_in), "length");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_hostport(s, false);
	check_hostport(s, true);
	check_duration(s);
	check_uint(s);
	check_literal(s);
	free(s);
	return 0;
}
