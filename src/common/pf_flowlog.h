/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The flow log: one line per flow when it ends ('log' on a forward,
 * 'default log'), in text (like HAProxy's tcplog) or JSON ('log-format
 * json'). Both engines hand over a fixed-size record from whatever thread
 * ends the flow; a thread of the log's own formats and writes them to
 * stderr. Submitting never blocks and never allocates: when the writer
 * falls behind (a slow journald, a stopped reader), records are dropped
 * and counted instead of stalling the relay.
 */
#ifndef PF_FLOWLOG_H
#define PF_FLOWLOG_H

#include "pf_addr.h"
#include "pf_table.h"

#include <stdbool.h>
#include <stdint.h>

/* Why a flow ended. */
enum pf_flow_end {
	PF_END_CLIENT_CLOSE, /* the client closed (FIN), then the backend */
	PF_END_BACKEND_CLOSE, /* the backend closed first */
	PF_END_CLIENT_RESET,
	PF_END_BACKEND_RESET,
	PF_END_TIMEOUT, /* idle or half-close timeout; UDP: session expired */
	PF_END_REFUSED, /* the connect to the backend failed (refused, timed out) */
	PF_END_NO_BACKEND, /* no backend was up */
	PF_END_KILLED, /* 'portfw kill', the forward changed or was deleted */
	PF_END_SHUTDOWN, /* portfwd stopped */
	PF_END_ERROR, /* any other socket error */
};

enum pf_flowlog_format { PF_FLOWLOG_TEXT, PF_FLOWLOG_JSON };

struct pf_flowlog_rec {
	uint8_t engine; /* enum pf_engine: PF_ENGINE_USER or PF_ENGINE_KERNEL */
	uint8_t l4; /* IPPROTO_TCP, IPPROTO_UDP, ... */
	uint8_t end; /* enum pf_flow_end */
	char forward[PF_NAME_MAX]; /* a copy: the forward may be gone by then */
	union pf_sa client, listen, backend; /* backend: family 0 when none */
	uint64_t bytes_up, bytes_down; /* client -> backend, backend -> client */
	uint64_t start_ms; /* wall clock (ms since the epoch) */
	uint64_t duration_ms;
};

/* Starts the writer thread. 0 or -errno. */
int pf_flowlog_start(enum pf_flowlog_format fmt);
void pf_flowlog_set_format(enum pf_flowlog_format fmt);
/* Writes what is queued, then stops the writer. */
void pf_flowlog_stop(void);
/* From any thread; never blocks. false: the queue was full (or the log
 * is not started) and the record was dropped and counted. */
bool pf_flowlog_submit(const struct pf_flowlog_rec *r);
/* Records dropped since the start, and records written. */
uint64_t pf_flowlog_dropped(void);
uint64_t pf_flowlog_written(void);
/* The reason as logged: "client-close", "backend-close", ... */
const char *pf_flow_end_name(uint8_t end);
/* The format's word in the config: "text" or "json". */
const char *pf_flowlog_format_name(uint8_t fmt);

/* Whether the flows of f are logged: its own 'log', or the table's
 * 'default log' (settled when the table was built: a read, per flow). */
static inline bool pf_flowlog_wanted(const struct pf_forward *f)
{
	return f->logged;
}

#endif
