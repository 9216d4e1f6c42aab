// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for the upgrade's handover messages (pf_handover.c),
 * which the new process reads from the old one. The first input byte is
 * the number of descriptors said to have come with the message; the rest
 * is the message. Properties:
 *
 *  - a refusal has a reason; an accepted message has exactly one entry per
 *    descriptor, each of a known kind, with a known family and protocol
 *    where its kind needs them, and NUL-terminated names;
 *  - encoded again, it decodes to the same entries.
 */
#include "common/pf_handover.h"
#include "common/pf_table.h"
#include "fuzz_check.h"

#include <string.h>

static unsigned char again[sizeof(struct pf_handover_wire_hdr) +
			   PF_HANDOVER_BATCH * sizeof(struct pf_handover_wire_ent)];
static struct pf_handover_ent ents[PF_HANDOVER_BATCH], ents2[PF_HANDOVER_BATCH];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "";
	bool last = false, last2 = false;
	size_t nfds, len, i;
	int n, n2;

	if (!size)
		return 0;
	nfds = data[0];
	n = pf_handover_decode(data + 1, size - 1, nfds, ents, &last, err, sizeof(err));
	if (n < 0) {
		CHECK(err[0], "a refusal without a reason");
		return 0;
	}
	CHECK((size_t)n == nfds, "%d entries for %zu descriptors", n, nfds);
	for (i = 0; i < (size_t)n; i++) {
		const struct pf_handover_ent *e = &ents[i];

		CHECK(e->kind >= PF_HO_CTL && e->kind <= PF_HO_LISTEN, "kind %u", e->kind);
		CHECK(e->kind == PF_HO_CTL || e->addr.sa.sa_family == AF_INET ||
			      e->addr.sa.sa_family == AF_INET6,
		      "family %d", e->addr.sa.sa_family);
		CHECK(e->kind != PF_HO_LISTEN || e->proto == PF_PROTO_TCP || e->proto == PF_PROTO_UDP,
		      "protocol %u", e->proto);
		CHECK(memchr(e->ifname, 0, sizeof(e->ifname)) && memchr(e->path, 0, sizeof(e->path)),
		      "a name without its NUL");
	}
	len = pf_handover_encode(ents, (size_t)n, last, again, sizeof(again));
	CHECK(len >= sizeof(struct pf_handover_wire_hdr), "encoded in %zu bytes", len);
	n2 = pf_handover_decode(again, len, nfds, ents2, &last2, err, sizeof(err));
	CHECK(n2 == n && last2 == last, "encoded again: %d entries (was %d): %s", n2, n, err);
	for (i = 0; i < (size_t)n; i++)
		CHECK(ents2[i].kind == ents[i].kind && ents2[i].proto == ents[i].proto &&
			      ents2[i].v6only == ents[i].v6only &&
			      !strcmp(ents2[i].ifname, ents[i].ifname) &&
			      !strcmp(ents2[i].path, ents[i].path) &&
			      pf_sa_port(&ents2[i].addr) == pf_sa_port(&ents[i].addr) &&
			      (ents[i].addr.sa.sa_family == 0 ||
			       pf_sa_addr_equal(&ents2[i].addr, &ents[i].addr)),
		      "entry %zu differs once encoded again", i);
	return 0;
}
