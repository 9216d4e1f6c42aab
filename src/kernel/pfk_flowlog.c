// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel engine's flow log: a conntrack DESTROY event of a logged
 * forward's entry (pfk_stats.c) becomes one record, with the entry's
 * accounting (whole IP packets: L3 bytes, headers included) and its
 * timestamps. Why it ended is read from what conntrack kept:
 *
 * - TCP: TIME_WAIT is a close, by the side that sent the first FIN (the
 *   direction's CLOSE_INIT flag); CLOSE is a reset, or, with at most one
 *   packet back (the backend's RST to the SYN), a refused connect; any
 *   other state means the entry expired (timeout). Which side sent a reset
 *   conntrack does not keep: the kernel's resets are logged client-reset.
 * - UDP and the rest: timeout.
 * - An entry portfwd deleted itself ('portfw kill', a changed or deleted
 *   forward): killed. Its id is noted when it is deleted, and the DESTROY
 *   event that follows finds it there.
 */
#include "pfk_int.h"
#include "../common/pf_flowlog.h"
#include "../common/pf_util.h"

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <netinet/in.h>
#include <string.h>

/* Room for the ids of one kill's entries until their events are read;
 * past it, older kills are logged by their state instead. */
#define PFK_KILLED_MAX 4096
#define PFK_KILLED_KEEP_MS 10000

static uint32_t pfk_killed[PFK_KILLED_MAX];
static size_t pfk_nkilled, pfk_killed_at;
static uint64_t pfk_killed_until;

void pfk_flow_killed(const struct nf_conntrack *ct)
{
	if (!nfct_attr_is_set(ct, ATTR_ID))
		return;
	pfk_killed[pfk_killed_at] = nfct_get_attr_u32(ct, ATTR_ID);
	pfk_killed_at = (pfk_killed_at + 1) % PFK_KILLED_MAX;
	if (pfk_nkilled < PFK_KILLED_MAX)
		pfk_nkilled++;
	pfk_killed_until = pf_now_ms() + PFK_KILLED_KEEP_MS;
}

static bool pfk_was_killed(const struct nf_conntrack *ct)
{
	uint32_t id;
	size_t i;

	if (!pfk_nkilled)
		return false;
	if (pf_now_ms() > pfk_killed_until) {
		pfk_nkilled = 0; /* their events came long ago */
		return false;
	}
	if (!nfct_attr_is_set(ct, ATTR_ID))
		return false;
	id = nfct_get_attr_u32(ct, ATTR_ID);
	for (i = 0; i < pfk_nkilled; i++)
		if (pfk_killed[i] == id)
			return true;
	return false;
}

static uint8_t pfk_tcp_end(const struct nf_conntrack *ct)
{
	uint8_t st, orig;

	if (!nfct_attr_is_set(ct, ATTR_TCP_STATE))
		return PF_END_TIMEOUT;
	st = nfct_get_attr_u8(ct, ATTR_TCP_STATE);
	if (st == TCP_CONNTRACK_TIME_WAIT) {
		orig = nfct_attr_is_set(ct, ATTR_TCP_FLAGS_ORIG)
			       ? nfct_get_attr_u8(ct, ATTR_TCP_FLAGS_ORIG)
			       : 0;
		return orig & IP_CT_TCP_FLAG_CLOSE_INIT ? PF_END_CLIENT_CLOSE
							: PF_END_BACKEND_CLOSE;
	}
	if (st == TCP_CONNTRACK_CLOSE) {
		if (nfct_attr_is_set(ct, ATTR_REPL_COUNTER_PACKETS) &&
		    nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_PACKETS) <= 1)
			return PF_END_REFUSED;
		return PF_END_CLIENT_RESET;
	}
	return PF_END_TIMEOUT;
}

uint8_t pfk_flow_end(const struct nf_conntrack *ct)
{
	if (pfk_was_killed(ct))
		return PF_END_KILLED;
	if (nfct_get_attr_u8(ct, ATTR_L4PROTO) == IPPROTO_TCP)
		return pfk_tcp_end(ct);
	return PF_END_TIMEOUT;
}

void pfk_flow_ended(const struct pf_forward *f, const struct nf_conntrack *ct,
		    const union pf_sa *client, const union pf_sa *listen,
		    const union pf_sa *backend)
{
	struct pf_flowlog_rec r = {
		.engine = PF_ENGINE_KERNEL,
		.l4 = nfct_get_attr_u8(ct, ATTR_L4PROTO),
		.client = *client,
		.listen = *listen,
		.backend = *backend,
	};

	if (!pf_flowlog_wanted(f))
		return;
	/* Names fit (PF_NAME_MAX both); unnamed: "", as the user engine's. */
	memcpy(r.forward, f->conf.name, sizeof(r.forward));
	if (nfct_attr_is_set(ct, ATTR_ORIG_COUNTER_BYTES)) {
		r.bytes_up = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_BYTES);
		r.bytes_down = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_BYTES);
	}
	if (nfct_attr_is_set(ct, ATTR_TIMESTAMP_START)) {
		uint64_t start = nfct_get_attr_u64(ct, ATTR_TIMESTAMP_START);
		uint64_t stop = nfct_attr_is_set(ct, ATTR_TIMESTAMP_STOP)
					? nfct_get_attr_u64(ct, ATTR_TIMESTAMP_STOP)
					: start;

		r.start_ms = start / 1000000;
		r.duration_ms = stop > start ? (stop - start) / 1000000 : 0;
	}
	r.end = pfk_flow_end(ct);
	pf_flowlog_submit(&r);
}
