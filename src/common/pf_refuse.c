// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Refused clients in the log: at most one line per forward and reason per
 * interval, naming the forward and the client refused, with how many more
 * were refused for that reason since the last line. A flood of refused
 * connects costs each a counter, not a line.
 */
#include "pf_table.h"
#include "pf_log.h"

#include <inttypes.h>

#define PF_REFUSE_LOG_MS 5000

static const char *const pf_refuse_why[PF_REFUSE_N] = {
	[PF_REFUSE_ACL] = "denied by its ACL (allow/deny)",
	[PF_REFUSE_NO_POOL] = "no 'from' pool serves this source",
	[PF_REFUSE_MAXCONN] = "maxconn reached",
	[PF_REFUSE_SESSIONS] = "max-sessions (UDP) reached",
	[PF_REFUSE_NO_BACKEND] = "no backend up or reachable",
	[PF_REFUSE_PER_SRC] = "max-per-source (or max-sessions-per-source) reached",
	[PF_REFUSE_RATE_SRC] = "rate-per-source reached",
};

void pf_refused(struct pf_forward *f, enum pf_refuse why, const union pf_sa *client)
{
	char l[PF_WHERE_MAX], a[PF_ADDRSTR_MAX];
	uint64_t k;

	if ((unsigned)why >= PF_REFUSE_N)
		return;
	k = pf_ratelimit_ok(&f->refuse_rl[why], PF_REFUSE_LOG_MS);
	if (!k)
		return;
	pf_sa_format(client, true, a, sizeof(a));
	if (k == 1)
		pf_warn("forward %s: client %s refused: %s", pf_forward_label(f, l, sizeof(l)), a,
			pf_refuse_why[why]);
	else
		pf_warn("forward %s: client %s refused: %s (and %" PRIu64
			" more since the last such line)",
			pf_forward_label(f, l, sizeof(l)), a, pf_refuse_why[why], k - 1);
}
