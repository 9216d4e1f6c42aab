/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The command language: one parser for the config file, the control socket
 * and the client's arguments.
 *
 *   forward [name NAME] PROTO LISTEN to BACKEND [weight N] [, BACKEND ...] [OPTION ...]
 *   include FILE
 *   del name NAME | del PROTO LISTEN [BACKEND]
 *   kill all | kill name NAME | kill PROTO LISTEN
 *   default allow|deny CIDR[,CIDR...] | default clear | default log|no-log
 *   log-format text|json    (a table-wide setting, parsed as a 'default')
 *   drain-timeout DUR       (how long a stopping portfwd lets flows finish; the same)
 *   backend name NAME BACKEND drain|enable|disable|backup|primary|weight N
 *   schedule name NAME
 *   mark N [PROTO LISTEN] [from CIDR[,CIDR...]] | del mark N
 *   include-table FILE      (a seed-004 port table: EXT-PORT INT-IP INT-PORT)
 *   user USER [group GROUP] (who portfwd runs as: read when it starts)
 *   status ADDR:PORT [admin] | status off   (the HTTP metrics and status page)
 *   flush | list | conns | save | reload
 *   source NAME [LINE]      (a control request's header: see pf_conf_foreach)
 */
#ifndef PF_CONF_H
#define PF_CONF_H

#include "pf_addr.h"
#include "pf_table.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define PF_TOKS_MAX 1024
#define PF_LINE_MAX 65536
#define PF_INCLUDE_DEPTH 8

struct pf_tok {
	char *s;
	size_t len; /* of s, which may hold NUL bytes ("\x00") when quoted */
	bool quoted;
};

struct pf_toks {
	int n;
	struct pf_tok t[PF_TOKS_MAX];
	char *buf;
};

/* Splits one statement into words: whitespace separates, ',' is a word of its
 * own, '#' at the start of a word starts a comment, "..." quotes with C
 * escapes. Returns 0 or -1 with a message; free with pf_toks_free(). */
int pf_lex(const char *line, struct pf_toks *t, char *err, size_t errlen);
void pf_toks_free(struct pf_toks *t);

enum pf_stmt_kind {
	PF_ST_NONE,
	PF_ST_FORWARD,
	PF_ST_INCLUDE,
	PF_ST_DEL,
	PF_ST_FLUSH,
	PF_ST_KILL,
	PF_ST_DEFAULT,
	PF_ST_BACKEND,
	PF_ST_SCHEDULE,
	PF_ST_MARK, /* mark N ... (mark.id), or del mark N (mark_del) */
	PF_ST_INCLUDE_TABLE,
	PF_ST_USER, /* user USER [group GROUP] */
	PF_ST_STATUS, /* status ADDR:PORT [admin] | status off (status) */
	PF_ST_SOURCE, /* source NAME [LINE]: where the lines after it come from */
	PF_ST_LIST, /* from here on: queries, sent alone */
	PF_ST_CONNS,
	PF_ST_SAVE,
	PF_ST_RELOAD,
};

struct pf_selector {
	bool all;
	char name[PF_NAME_MAX];
	uint8_t protos;
	struct pf_hostport listen;
	char lif[PF_IFNAME_MAX]; /* listen "%IF[:PORT]" */
	bool has_backend;
	struct pf_hostport backend;
};

struct pf_stmt {
	enum pf_stmt_kind kind;
	struct pf_forward *fwd; /* PF_ST_FORWARD: owned by the statement */
	char path[PATH_MAX]; /* PF_ST_INCLUDE, PF_ST_INCLUDE_TABLE, PF_ST_SOURCE */
	int line; /* PF_ST_SOURCE: the number of the next line, 0: arguments */
	struct pf_selector sel; /* PF_ST_DEL, PF_ST_KILL, PF_ST_BACKEND, PF_ST_SCHEDULE */
	struct pf_cidrset cidrs; /* PF_ST_DEFAULT */
	int action; /* PF_ST_DEFAULT, PF_ST_BACKEND: enum pf_stmt_action */
	uint32_t weight; /* PF_ST_BACKEND weight N */
	uint8_t log_format; /* PF_ACT_LOG_FORMAT: enum pf_flowlog_format */
	uint64_t drain_ms; /* PF_ACT_DRAIN_TIMEOUT */
	struct pf_mark mark; /* PF_ST_MARK: its sources are in cidrs */
	bool mark_del;
	struct pf_user_conf user; /* PF_ST_USER */
	struct pf_status_conf status; /* PF_ST_STATUS */
};

enum pf_stmt_action {
	PF_ACT_ALLOW,
	PF_ACT_DENY,
	PF_ACT_CLEAR,
	PF_ACT_DRAIN,
	PF_ACT_ENABLE,
	PF_ACT_DISABLE,
	PF_ACT_BACKUP,
	PF_ACT_PRIMARY,
	PF_ACT_WEIGHT,
	PF_ACT_LOG, /* default log */
	PF_ACT_NOLOG, /* default no-log */
	PF_ACT_LOG_FORMAT, /* log-format FMT (log_format) */
	PF_ACT_DRAIN_TIMEOUT, /* drain-timeout DUR (drain_ms) */
};

/* Where a statement comes from: "FILE:LINE: " in messages, or "WHAT: " when
 * line is 0 (command-line arguments). */
struct pf_where {
	const char *file;
	int line;
	const char *text; /* pf_conf_foreach: the statement, its lines joined */
};

/* Writes "FILE:LINE: message" (or "WHAT: message") into err; returns -1. */
__attribute__((format(printf, 4, 5))) int pf_where_err(char *err, size_t errlen,
							const struct pf_where *w,
							const char *fmt, ...);

int pf_parse_stmt(const struct pf_toks *t, const struct pf_where *w, struct pf_stmt *st,
		  char *err, size_t errlen);
void pf_stmt_free(struct pf_stmt *st);

/* Calls cb for each statement of a text (lines, '\' continuations, comments).
 * Stops at the first error or non-zero return of cb. A 'source NAME [LINE]'
 * statement that cb accepts renames what follows: the next line is NAME's
 * line LINE (default 1), or with LINE 0 every statement after it is named
 * "NAME: " (arguments, not lines). */
typedef int (*pf_stmt_cb)(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
			  size_t errlen);
int pf_conf_foreach(const char *name, const char *text, size_t len, pf_stmt_cb cb, void *arg,
		    char *err, size_t errlen);

/* Does a selector match a forward (del/kill)? */
bool pf_selector_match(const struct pf_selector *sel, const struct pf_forward *f);

#endif
