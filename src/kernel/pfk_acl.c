// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ACL denials of the kernel engine's forwards. The kernel drops a denied
 * client's packets itself; the drop rules of a forward's chain count them
 * (nft counters). Every few seconds the counters of the loaded forwards
 * with an ACL are read back: what they dropped since the last read goes to
 * the forward's refused and denied counters and into one log line per
 * forward that dropped any (the reads are the rate limit).
 *
 * They count packets, not clients: the chain runs for each packet of a
 * connection not yet confirmed, so a client's retransmitted SYN counts
 * again. A change that loads a chain anew starts its counters at 0. The
 * alternative, each drop sent to the daemon (nflog), costs a message per
 * packet of a flood; a counter costs nothing per packet. The drops of the
 * limits per source (pfk_persrc.c) are read the same way, as refused only.
 */
#include "pfk_int.h"
#include "../common/pf_log.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define PFK_ACL_READ_S 5

static int pfk_acl_tfd = -1;
static bool pfk_acl_due;

static void pfk_acl_tick(void)
{
	uint64_t n;

	while (read(pfk_acl_tfd, &n, sizeof(n)) == (ssize_t)sizeof(n))
		pfk_acl_due = true;
}

bool pfk_acl_read_due(void)
{
	return pfk_acl_due;
}

/* The packets the counters of a chain's listing say they counted: those
 * on lines with the comment of the limits per source (ps), or the others. */
static uint64_t pfk_acl_sum(const char *text, bool ps)
{
	const char *p = text;
	uint64_t sum = 0;

	while ((p = strstr(p, "counter packets "))) {
		const char *eol = strchr(p, '\n');
		const char *c = strstr(p, "comment \"" PFK_PS_COMMENT "\"");
		bool mine = c && (!eol || c < eol);

		p += strlen("counter packets ");
		if (mine == ps)
			sum += strtoull(p, NULL, 10);
	}
	return sum;
}

/* Clients over the forward's limits per source (pfk_persrc.c), whose
 * rules are in its nat chain. */
static void pfk_ps_one(const struct pf_forward *f)
{
	struct pfk_fstate *fs = pfk_fs(f);
	char cmd[64], l[PF_WHERE_MAX];
	const char *out;
	uint64_t now, d;

	snprintf(cmd, sizeof(cmd), "list chain inet portfw f%u_nat\n", f->id);
	out = pfk_nft_query(cmd);
	if (!out)
		return;
	now = pfk_acl_sum(out, true);
	d = now >= fs->ps_seen ? now - fs->ps_seen : now;
	fs->ps_seen = now;
	if (!d)
		return;
	atomic_fetch_add_explicit(&f->st->refused, d, memory_order_relaxed);
	pf_warn("forward %s: %" PRIu64 " new connection%s of clients over its limits per "
		"source dropped (kernel engine, counted by nftables: retransmissions count "
		"again)",
		pf_forward_label(f, l, sizeof(l)), d, d == 1 ? "" : "s");
}

static void pfk_acl_one(const struct pf_forward *f)
{
	struct pfk_fstate *fs = pfk_fs(f);
	char cmd[64], l[PF_WHERE_MAX];
	const char *out;
	uint64_t now, d;

	snprintf(cmd, sizeof(cmd), "list chain inet portfw %c%u\n", f->conf.trigger ? 't' : 'f',
		 f->id);
	out = pfk_nft_query(cmd);
	if (!out)
		return;
	now = pfk_acl_sum(out, false);
	/* Loaded anew since the last read: counted from 0 again. */
	d = now >= fs->acl_seen ? now - fs->acl_seen : now;
	fs->acl_seen = now;
	if (!d)
		return;
	atomic_fetch_add_explicit(&f->st->refused, d, memory_order_relaxed);
	atomic_fetch_add_explicit(&f->st->denied, d, memory_order_relaxed);
	pf_warn("forward %s: %" PRIu64 " packet%s of clients denied by its ACL (kernel engine, "
		"counted by nftables: retransmissions count again)",
		pf_forward_label(f, l, sizeof(l)), d, d == 1 ? "" : "s");
}

void pfk_acl_read(struct pf_forward *const *fwd, size_t n)
{
	size_t i;

	pfk_acl_due = false;
	for (i = 0; i < n; i++) {
		const struct pf_forward *f = fwd[i];

		/* A simple forward has no ACL (nor chains). */
		if (pfk_loaded_form(f) & PFK_FORM_SIMPLE)
			continue;
		if (f->eff_allow.n || f->eff_deny.n)
			pfk_acl_one(f);
		if (pfk_persrc_on(f) && !f->conf.trigger)
			pfk_ps_one(f);
	}
}

int pfk_acl_start(void)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = PFK_ACL_READ_S },
		.it_value = { .tv_sec = PFK_ACL_READ_S },
	};

	if (pfk_acl_tfd >= 0)
		return 0;
	pfk_acl_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (pfk_acl_tfd < 0 || timerfd_settime(pfk_acl_tfd, 0, &its, NULL) < 0 ||
	    pfk_sys_watch(pfk_acl_tfd, pfk_acl_tick) < 0) {
		pf_warn("kernel engine: ACL denials will not be counted: %s", strerror(errno));
		pfk_acl_stop();
		return -1;
	}
	return 0;
}

void pfk_acl_stop(void)
{
	if (pfk_acl_tfd < 0)
		return;
	pfk_sys_unwatch(pfk_acl_tfd);
	close(pfk_acl_tfd);
	pfk_acl_tfd = -1;
	pfk_acl_due = false;
}
