/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel engine: forwards carried by nftables DNAT and conntrack in a
 * table of our own, 'inet portfw'. The daemon talks to it through the same
 * few calls as to the user engine.
 */
#ifndef PFK_H
#define PFK_H

#include "../common/pf_conf.h"
#include "../common/pf_table.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct pfk_config {
	const char *wan; /* "eth0,ppp0": WAN interfaces (hairpin); NULL: default routes' */
};

/* Where the engine starts on first use (a table with kernel forwards). */
void pfk_set_config(const struct pfk_config *cfg);
/* Sets the sysctls it needs, replaces a stale table left by a killed daemon. */
int pfk_start(const struct pfk_config *cfg, char *err, size_t errlen);
void pfk_stop(void);

/* Renders the kernel forwards of next and checks the transaction (nft -c);
 * nothing changes. commit loads it in one transaction; abort drops it. */
int pfk_prepare(const struct pf_table *next, char *err, size_t errlen);
int pfk_commit(char *err, size_t errlen);
void pfk_abort(void);

/* Re-renders the running table when backend health changed (pools follow). */
void pfk_refresh(const struct pf_table *cur);

/* Conntrack entries of our forwards, like /proc/net/nf_conntrack. */
void pfk_conns(json_t *arr);
/* Deletes conntrack entries of the forwards sel matches (kill). */
unsigned pfk_kill(const struct pf_selector *sel, const struct pf_table *cur);

/* Port triggers: the conntrack event socket (-1 until a table has a
 * trigger; then it stays open), to be polled by the daemon's loop, and what
 * to call when it is readable. */
int pfk_event_fd(void);
void pfk_event(void);
/* Adds the holder and the time left of an open trigger to its JSON. */
void pfk_trig_info(uint32_t kid, json_t *o);

/* For tests and the benchmark: the rendered ruleset of a table. */
char *pfk_render(const struct pf_table *t, char *err, size_t errlen);

#endif
