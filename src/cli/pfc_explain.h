/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * portfw explain: the path of a client's flow through this gateway, checked
 * step by step. The checks look at the host the client runs on (it must be
 * the daemon's, in its network namespace): sockets, routes, sysctls, the
 * nftables ruleset, and what portfwd answers about the forward.
 */
#ifndef PFC_EXPLAIN_H
#define PFC_EXPLAIN_H

#include "../common/pf_addr.h"

#include <jansson.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- the report (pfc_explain_report.c) ---- */

enum pfc_xst { PFC_X_OK, PFC_X_WARN, PFC_X_FAIL, PFC_X_SKIP };

struct pfc_xcheck {
	char *name; /* "listen", "ip_forward", "firewall", ... */
	enum pfc_xst st;
	char *found; /* what the check found, one sentence */
	char *fix; /* a command or option that fixes it; NULL: none needed */
};

struct pfc_xreport {
	struct pfc_xcheck *v;
	size_t n, cap;
};

/* Adds a check; fix may be NULL. */
__attribute__((format(printf, 5, 6))) void pfc_x_add(struct pfc_xreport *r, const char *name,
						     enum pfc_xst st, const char *fix,
						     const char *fmt, ...);
/* 1 when a check failed (something blocks the forward), else 0. */
int pfc_x_exit(const struct pfc_xreport *r);
const char *pfc_x_stname(enum pfc_xst st);
/* The human form: one line a check, its fix under it; then a summary. */
void pfc_x_print(FILE *fp, const struct pfc_xreport *r);
/* [{"name", "status", "found", "fix"}, ...] (fix null when none). */
json_t *pfc_x_json(const struct pfc_xreport *r);
void pfc_x_free(struct pfc_xreport *r);

#endif
