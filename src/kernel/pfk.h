/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel engine: forwards carried by nftables DNAT and conntrack in a
 * table of our own, 'inet portfw'. The daemon drives it through
 * pfk_engine_ops (pf_engine.h); this header holds its settings and what the
 * tests and the benchmark look at.
 */
#ifndef PFK_H
#define PFK_H

#include "../common/pf_engine.h"

#include <stddef.h>

/* What conntrack reports of the kernel engine's flows (--conntrack-events). */
enum pfk_events {
	PFK_EVENTS_OWN, /* their creation, close and end, read by the daemon */
	PFK_EVENTS_ALL, /* every change (conntrackd), read by the daemon */
	PFK_EVENTS_NONE, /* as own for others; the daemon reads none and counts
			  * active flows from the table when asked */
};

struct pfk_config {
	const char *wan; /* "eth0,ppp0": WAN interfaces (hairpin); NULL: default routes' */
	enum pfk_events events;
	/* One of an HA pair whose conntrack tables conntrackd keeps in step
	 * (portfwd --ha, docs/ha.md): conntrack picks up no TCP flow from its
	 * packets (nf_conntrack_tcp_loose 0) and what it calls invalid is
	 * dropped before NAT, so that a flow taken over at failover waits for
	 * conntrackd's entry instead of being reset. */
	bool ha;
};

/* The --conntrack-events word: 0, or -1 for another. */
int pfk_events_parse(const char *word, enum pfk_events *ev);

/* Before start (or first use). */
void pfk_configure(const struct pfk_config *cfg);

/* This process hands the kernel over to another portfwd, which has taken
 * table inet portfw over already (portfw upgrade): from now on nothing is
 * forwarded anew by this process's doing and its stop leaves the table, the
 * flows and the sysctls exactly as they are. Call it before the stop, and
 * before a soft stop's drain. */
void pfk_detach(void);

/* For tests and the benchmark: the rendered ruleset of a table. */
char *pfk_render(const struct pf_table *t, char *err, size_t errlen);

#endif
