// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The soft stop, as HAProxy's: the first SIGTERM closes the listeners at
 * once and lets the flows that run finish, up to the table's drain-timeout
 * (hard-stop-after); a second signal, or the deadline, cuts what is left.
 * While the flows drain the main loop runs on, so the control socket still
 * answers 'list' and 'conns' (and 'kill' cuts flows), but no change is
 * taken: it would open listeners again.
 */
#include "pfd.h"
#include "pfd_http.h"
#include "pfd_loop.h"
#include "pfd_notify.h"
#include "pfd_stop.h"
#include "../common/pf_log.h"
#include "../common/pf_util.h"

#include <netinet/in.h>
#include <stdio.h>

/* How often the engines are asked how many flows are left: a stop waits at
 * most this long after the last flow ended. */
#define PFD_DRAIN_POLL_MS 100
/* The flows named one by one in the log when they are cut. */
#define PFD_CUT_LOGGED 10

static bool pfd_draining;
static uint64_t pfd_drain_t0, pfd_drain_deadline;
static unsigned pfd_drain_left;

bool pfd_stop_draining(void)
{
	return pfd_draining;
}

struct pfd_cut_count {
	unsigned tcp, udp, logged;
};

/* One flow that is cut, in the log (the first few), and counted. */
static void pfd_cut_flow(const struct pf_flow *fl, void *arg)
{
	struct pfd_cut_count *c = arg;
	char cl[PF_ADDRSTR_MAX], be[PF_ADDRSTR_MAX];

	if (fl->engine != PF_ENGINE_USER)
		return; /* the kernel's run on without portfwd */
	if (fl->l4 == IPPROTO_UDP)
		c->udp++;
	else
		c->tcp++;
	if (c->logged++ >= PFD_CUT_LOGGED)
		return;
	pf_sa_format(&fl->client, true, cl, sizeof(cl));
	pf_sa_format(&fl->backend, true, be, sizeof(be));
	pf_info("stop: cutting %s %s -> %s (forward '%s', %s, %llu s old, %llu bytes up, "
		"%llu down)",
		pf_l4_name(fl->l4), cl, fl->backend.sa.sa_family ? be : "-", fl->forward,
		fl->state ? fl->state : "-", (unsigned long long)(fl->age_ms / 1000),
		(unsigned long long)fl->bytes_up, (unsigned long long)fl->bytes_down);
}

void pfd_stop_cut(const char *why)
{
	struct pfd_cut_count c = { 0 };

	pfd_engines_flows(pfd_table_running(), pfd_cut_flow, &c);
	if (c.tcp + c.udp) {
		pf_warn("stop: %s: cutting %u flow%s still open (%u TCP, %u UDP)%s", why,
			c.tcp + c.udp, c.tcp + c.udp == 1 ? "" : "s", c.tcp, c.udp,
			c.logged > PFD_CUT_LOGGED ? "; the first ones are listed above" : "");
		pfd_notify("STATUS=stopping: cutting %u flows", c.tcp + c.udp);
	}
	pfd_loop_stop();
}

static void pfd_drain_poll(void *arg)
{
	uint64_t now = pf_now_ms();
	unsigned left = pfd_engines_drain();
	char d[32], why[64];

	(void)arg;
	if (!left) {
		pf_info("stop: every flow finished after %.1f s", (double)(now - pfd_drain_t0) / 1000);
		pfd_loop_stop();
		return;
	}
	if (now >= pfd_drain_deadline) {
		pf_format_duration(pfd_drain_deadline - pfd_drain_t0, d, sizeof(d));
		snprintf(why, sizeof(why), "drain-timeout %s reached", d);
		pfd_stop_cut(why);
		return;
	}
	if (left != pfd_drain_left)
		pfd_notify("STATUS=draining: %u flows left", left);
	pfd_drain_left = left;
}

/* The soft stop; why: what began it, for the log. */
static void pfd_stop_soft(const char *why)
{
	uint64_t ms = pfd_table_drain_ms();
	unsigned left;
	char d[32];

	pfd_table_freeze();
	left = pfd_engines_drain();
	if (!left) {
		pf_info("%s: stopping (no flow to finish)", why);
		pfd_loop_stop();
		return;
	}
	if (!ms) {
		pf_info("%s: stopping", why);
		pfd_stop_cut("drain-timeout 0");
		return;
	}
	pf_format_duration(ms, d, sizeof(d));
	pf_info("%s: stopping: listeners closed, draining %u flow%s for up to %s "
		"(drain-timeout; another SIGTERM or SIGINT cuts them)",
		why, left, left == 1 ? "" : "s", d);
	pfd_notify("STATUS=draining: %u flows left, up to %s", left, d);
	pfd_draining = true;
	pfd_drain_left = left;
	pfd_drain_t0 = pf_now_ms();
	pfd_drain_deadline = pfd_drain_t0 + ms;
	if (pfd_timer_add(PFD_DRAIN_POLL_MS, PFD_DRAIN_POLL_MS, pfd_drain_poll, NULL) < 0)
		pfd_stop_cut("no timer to wait with");
}

void pfd_stop_begin(int signo)
{
	char why[32];

	pfd_notify("STOPPING=1");
	snprintf(why, sizeof(why), "signal %d", signo);
	pfd_stop_soft(why);
}

void pfd_stop_handover(const char *why)
{
	pfd_stop_soft(why);
}
