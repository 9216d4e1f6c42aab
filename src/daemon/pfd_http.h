/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The status server ('status ADDR:PORT [admin]'): HTTP (libmicrohttpd) on
 * the main thread's loop, so that its handlers read the running table where
 * it is owned and never touch the relay's workers.
 *
 *   GET /metrics       Prometheus text (pfd_metrics.c)
 *   GET /api/status    'portfw list -j' and counters, JSON (pfd_api.c)
 *   GET /              the status page (pfd_page.html)
 *   POST /api/backend  drain / enable / disable a backend (admin, loopback)
 */
#ifndef PFD_HTTP_H
#define PFD_HTTP_H

#include "../common/pf_table.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A table change: binds next's socket when it differs from cur's (the
 * running server keeps serving). Then pfd_http_commit (the prepared server
 * replaces the running one, or it stops) or pfd_http_abort. */
int pfd_http_prepare(const struct pf_status_conf *cur, const struct pf_status_conf *next,
		     char *err, size_t errlen);
void pfd_http_commit(void);
void pfd_http_abort(void);
void pfd_http_stop(void);
/* An upgrade: the running server's listener and its address (-1: none). */
int pfd_http_fd(union pf_sa *sa);

/* The reloads of the config file (SIGHUP, 'portfw reload', the first load). */
struct pfd_reloads {
	uint64_t count, failed;
	bool last_ok;
	uint64_t last_ms; /* wall clock */
};
const struct pfd_reloads *pfd_table_reloads(void);
/* The running table's digest (pf_table_digest), 16 hex digits. */
const char *pfd_table_digest(void);
const struct pf_table *pfd_table_running(void);

/* The process' start (wall clock, ms), for the metrics. */
extern uint64_t pfd_start_ms;

/* GET /metrics: the exposition text (malloc'd; NULL when out of memory). */
char *pfd_metrics_text(const struct pf_table *t, size_t *len);
/* GET /api/status: the reply of 'list' with the time and process facts. */
json_t *pfd_api_status(bool admin);
/* The page, compiled in (pfd_page.c). */
extern const char pfd_page[];
extern const size_t pfd_page_len;

#endif
