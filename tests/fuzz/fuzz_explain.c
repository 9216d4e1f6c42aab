// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for what 'portfw explain' reads of other programs: the
 * ruleset as libnftables' JSON (pfc_xrules_scan) and iptables-legacy-save's
 * text (pfc_xlegacy_scan). The first byte picks which (even: JSON), the
 * rest is the input. Neither may crash, leak or loop; each finding is one
 * check of the report, a fail or a warning, with its text.
 */
#include "cli/pfc_explain.h"
#include "fuzz_check.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <string.h>

static void check_report(const struct pfc_xreport *r, size_t n)
{
	size_t i;

	CHECK(r->n == n, "%zu findings, %zu checks", n, r->n);
	for (i = 0; i < r->n; i++) {
		CHECK(r->v[i].st == PFC_X_FAIL || r->v[i].st == PFC_X_WARN, "status %d",
		      (int)r->v[i].st);
		CHECK(r->v[i].found && r->v[i].found[0], "a finding without its text");
	}
}

static void fuzz_nft(const uint8_t *data, size_t size)
{
	static const char *const pre[] = { "prerouting", "input", NULL };
	static const char *const fwd[] = { "forward", "postrouting", "output", NULL };
	struct pfc_xpkt p = { .family = AF_INET, .l4 = IPPROTO_TCP, .dport = 9000, .dnat = true,
			      .iif = "wan", .oif = "lan" };
	struct pfc_xstage st[2];
	struct pfc_xreport r = { 0 };
	json_t *rs = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
	size_t n;

	if (!rs)
		return;
	p.daddr.sin.sin_family = AF_INET;
	inet_pton(AF_INET, "10.0.0.2", &p.daddr.sin.sin_addr);
	st[1] = (struct pfc_xstage){ .what = "forwarded", .hooks = fwd, .pkt = p,
				     .prio_lo = INT_MIN, .prio_hi = INT_MAX, .accept = "x" };
	p.saddr.sin6.sin6_family = AF_INET6; /* a family the packet does not have */
	st[0] = (struct pfc_xstage){ .what = "arriving", .hooks = pre, .pkt = p,
				     .prio_lo = INT_MIN, .prio_hi = -110, .nat_check = true,
				     .nat_prio = -110, .accept = "y" };
	n = pfc_xrules_scan(rs, st, 2, &r);
	check_report(&r, n);
	pfc_x_free(&r);
	json_decref(rs);
}

static void fuzz_legacy(const uint8_t *data, size_t size)
{
	static const char *const where[] = { "filter:FORWARD", "nat:PREROUTING", "x", ":",
					     "raw:", NULL };
	struct pfc_xlegacy q = { .tool = "iptables-legacy", .what = "forwarded", .where = where,
				 .l4 = IPPROTO_UDP, .dport = 53, .dnat = true, .nat_check = true,
				 .accept = "z" };
	struct pfc_xreport r = { 0 };
	char *text = malloc(size + 1);
	size_t n;

	CHECK(text, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	n = pfc_xlegacy_scan(text, &q, &r);
	check_report(&r, n);
	pfc_x_free(&r);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] % 2 == 0)
		fuzz_nft(data + 1, size - 1);
	else
		fuzz_legacy(data + 1, size - 1);
	return 0;
}
