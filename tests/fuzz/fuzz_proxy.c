// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for the PROXY protocol reader (pf_proxy.c). The first
 * input byte picks a place to split the rest; the rest is a connection's
 * first bytes. Properties:
 *
 *  - whole or split in two (and a byte at a time), the result, the bytes
 *    taken and the header read are the same;
 *  - the bytes taken are at most those fed, at most PF_PROXY_MAX in all,
 *    and a v1 header at most PF_PROXY_V1_MAX;
 *  - an error has a reason; a header with addresses has IPv4 or IPv6 ones,
 *    never IPv4-mapped, and written again (same version) it reads back the
 *    same.
 */
#include "common/pf_proxy.h"
#include "fuzz_check.h"

#include <string.h>

/* Feeds data in pieces cut at the offsets in cuts (ascending). */
static int feed(struct pf_proxy_parser *p, const uint8_t *d, size_t len, const size_t *cuts,
		size_t ncuts, size_t *taken)
{
	size_t at = 0, i, used;
	int rc = PF_PROXY_MORE;

	pf_proxy_parser_init(p);
	*taken = 0;
	for (i = 0; i <= ncuts && rc == PF_PROXY_MORE; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		rc = pf_proxy_parse(p, d + at, end - at, &used);
		CHECK(used <= end - at, "took %zu of %zu bytes", used, end - at);
		if (rc != PF_PROXY_ERROR)
			*taken += used;
		at = end;
	}
	return rc;
}

static void check_addr(const union pf_sa *sa)
{
	CHECK(sa->sa.sa_family == AF_INET || sa->sa.sa_family == AF_INET6, "family %d",
	      sa->sa.sa_family);
	CHECK(sa->sa.sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sa->sin6.sin6_addr),
	      "an IPv4-mapped address");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pf_proxy_parser whole, split, bytes, back;
	size_t taken_whole, taken, cut, i, one[1];
	uint8_t out[PF_PROXY_OUT_MAX];
	int rc, n;

	if (!size)
		return 0;
	cut = data[0];
	data++;
	size--;
	cut = size ? cut % (size + 1) : 0;
	rc = feed(&whole, data, size, NULL, 0, &taken_whole);
	one[0] = cut;
	CHECK(feed(&split, data, size, one, 1, &taken) == rc, "split at %zu: another result",
	      cut);
	if (rc == PF_PROXY_DONE)
		CHECK(taken == taken_whole, "split at %zu: %zu bytes, whole %zu", cut, taken,
		      taken_whole);
	/* A byte at a time (only the first PF_PROXY_MAX + 1 can matter). */
	{
		size_t cuts[PF_PROXY_MAX + 1], nc = 0;

		for (i = 1; i < size && nc < PF_PROXY_MAX + 1; i++)
			cuts[nc++] = i;
		CHECK(feed(&bytes, data, size, cuts, nc, &taken) == rc, "bytewise: another result");
		if (rc == PF_PROXY_DONE)
			CHECK(taken == taken_whole, "bytewise: %zu bytes, whole %zu", taken,
			      taken_whole);
	}
	if (rc == PF_PROXY_ERROR) {
		CHECK(whole.why && whole.why[0], "an error without a reason");
		return 0;
	}
	if (rc == PF_PROXY_MORE) {
		CHECK(size < PF_PROXY_MAX, "more wanted after %zu bytes", size);
		return 0;
	}
	CHECK(taken_whole <= size && taken_whole <= PF_PROXY_MAX, "took %zu", taken_whole);
	CHECK(whole.hdr.version != PF_PROXY_V1 || taken_whole <= PF_PROXY_V1_MAX,
	      "a v1 header of %zu bytes", taken_whole);
	CHECK(whole.hdr.has_addr == split.hdr.has_addr && whole.hdr.has_addr == bytes.hdr.has_addr,
	      "another header when split");
	if (!whole.hdr.has_addr)
		return 0;
	CHECK(!memcmp(&whole.hdr.src, &split.hdr.src, sizeof(whole.hdr.src)) &&
		      !memcmp(&whole.hdr.dst, &bytes.hdr.dst, sizeof(whole.hdr.dst)),
	      "other addresses when split");
	check_addr(&whole.hdr.src);
	check_addr(&whole.hdr.dst);
	n = pf_proxy_encode(whole.hdr.version, &whole.hdr.src, &whole.hdr.dst, out, sizeof(out));
	CHECK(n > 0, "a header read cannot be written");
	CHECK(feed(&back, out, (size_t)n, NULL, 0, &taken) == PF_PROXY_DONE && taken == (size_t)n,
	      "a header written does not read back");
	CHECK(pf_sa_addr_equal(&back.hdr.src, &whole.hdr.src) &&
		      pf_sa_addr_equal(&back.hdr.dst, &whole.hdr.dst) &&
		      pf_sa_port(&back.hdr.src) == pf_sa_port(&whole.hdr.src) &&
		      pf_sa_port(&back.hdr.dst) == pf_sa_port(&whole.hdr.dst),
	      "a header written reads back other addresses");
	return 0;
}
