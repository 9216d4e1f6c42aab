/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel engine internals. */
#ifndef PFK_INT_H
#define PFK_INT_H

#include "pfk.h"
#include "../common/pf_conf.h"

/* ct mark bits: the connection was DNATed by one of our forwards (whose id is
 * in the low bits), and it came in on a non-WAN interface (hairpin). */
#define PFK_MARK_OURS 0x40000000u
#define PFK_MARK_INSIDE 0x20000000u
#define PFK_MARK_ID 0x000fffffu

#define PFK_MARK_TRIG 0x10000000u /* an inside host's connection to a trigger's port */

char *pfk_render_table(const struct pf_table *t, const char *const *wan, size_t nwan);

/* pfk_render.c: a growing text buffer (oom set when realloc failed). */
struct pfk_buf {
	char *s;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3))) void pfk_out(struct pfk_buf *b, const char *fmt, ...);
void pfk_addr(struct pfk_buf *b, const union pf_sa *sa);
bool pfk_v6(const union pf_sa *sa);
/* The ACL of forward (kind 'f') or trigger ('t') f: its rules go on to the
 * chain "<kind><id>_nat" or drop (nothing when it has no ACL). */
void pfk_render_acl(struct pfk_buf *b, const struct pf_forward *f, char kind);

/* pfk_dispatch.c: how a new connection finds its forward. The maps keyed by
 * address, interface, protocol and port (one lookup whatever their size),
 * the chains that pick among forwards sharing a key by source ('from'), the
 * triggers' map and chains, and the dispatch chains that look them up. */
struct pfk_disp;
struct pfk_disp *pfk_disp_build(const struct pf_table *t);
void pfk_disp_maps(struct pfk_buf *b, const struct pfk_disp *d);
void pfk_disp_chains(struct pfk_buf *b, const struct pfk_disp *d);
/* Rules of the forward chain (trigger control ports) and whether the
 * prerouting NAT chain must also jump to dispatch_host. */
void pfk_disp_forward_rules(struct pfk_buf *b, const struct pfk_disp *d);
bool pfk_disp_has_host(const struct pfk_disp *d);
void pfk_disp_free(struct pfk_disp *d);

/* pfk_trigger.c: who holds a trigger's range now (IPv4), for how long. */
bool pfk_trig_holder(uint32_t kid, union pf_sa *host, uint64_t *left_ms);
/* After a change: follow the table's triggers (subscribe to conntrack
 * events while there are any; forget holders of triggers that went). */
void pfk_trig_sync(struct pf_forward *const *fwd, size_t n);
void pfk_trig_stop(void);
/* pfk_engine.c: runs a script in the engine's libnftables context. */
int pfk_nft_run(const char *text, char *err, size_t errlen);

/* pfk_ct.c */
/* Deletes conntrack entries marked with one of these forward ids. */
/* UDP entries only (flows follow a changed forward), or every one (kill). */
unsigned pfk_ct_flush_ids(const uint32_t *ids, size_t n);
unsigned pfk_ct_kill_ids(const uint32_t *ids, size_t n);
/* UDP entries to the ports of newly added forwards that are not ours. */
unsigned pfk_ct_flush_stale(const struct pf_forward *const *f, size_t n);
void pfk_ct_list(json_t *arr, const struct pf_table *t);

#endif
