/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The interpreter of statements: what each statement of the command language
 * does to the table being built, and where it may stand. The config file
 * loader, the daemon's control requests and the client (restore, the
 * classic front ends' view of the running table) all run through it, so a
 * statement means the same wherever it is written.
 *
 *   statement                    file   text   request
 *   forward trigger default mark  yes    yes    yes   (log-format: a default)
 *   include include-table         yes    -      -     (portfw restore expands them)
 *   del flush backend             -      -      yes
 *   kill schedule                 -      -      yes   (act once the change is installed)
 *   source NAME [LINE]            -      -      yes   (names the lines after it)
 *   list conns save reload        -      -      alone in a request
 *
 * Errors name the statement ("FILE:LINE: ", "portfw add: "); the forwards
 * keep where they were defined for the errors of validation.
 */
#ifndef PF_INTERP_H
#define PF_INTERP_H

#include "pf_conf.h"
#include "pf_table.h"

#include <stdbool.h>
#include <stddef.h>

enum pf_interp_origin {
	PF_IN_FILE, /* a config file: includes, relative to it */
	PF_IN_TEXT, /* config text of no file ('portfw save' output): no includes */
	PF_IN_REQUEST, /* a control request */
};

/* What a request does once its change is installed (kill, schedule). */
struct pf_interp_after {
	enum pf_stmt_kind kind;
	struct pf_selector sel;
};

/* Echo of each statement a file applied (forward, default, mark), for a
 * caller that passes the file on: w->text is the statement. */
typedef void (*pf_interp_echo)(void *arg, const struct pf_where *w);

struct pf_interp {
	enum pf_interp_origin origin;
	struct pf_table *next; /* the table being built */
	/* A request starts from base; next becomes a draft of it
	 * (pf_table_draft) at its first change: a query or a kill makes
	 * none, a restore (flush first) neither. */
	struct pf_table *base;
	bool based;
	size_t nstmts; /* statements seen (source headers aside) */
	enum pf_stmt_kind query; /* a request that is one query, else PF_ST_NONE */
	/* A request of a peer that may only read (the control socket's
	 * group): any statement but a read is refused, before it runs, and
	 * named in refused. */
	bool read_only;
	enum pf_stmt_kind refused;
	struct pf_interp_after *after;
	size_t nafter;
	const char *path; /* the file being read: includes are relative to it */
	int depth; /* of includes */
	pf_interp_echo echo;
	void *echo_arg;
};

/* Whether a statement only reads the running table (list, conns, save):
 * all a read-only peer of the control socket may send. reload changes the
 * table (it installs the config file again). */
bool pf_stmt_reads(enum pf_stmt_kind kind);
/* The statement's word in the command language ("del", "forward"). */
const char *pf_stmt_name(enum pf_stmt_kind kind);

/* next: an empty table (or, without base, the table to append to). */
void pf_interp_init(struct pf_interp *ip, enum pf_interp_origin origin, struct pf_table *next,
		    struct pf_table *base);
void pf_interp_free(struct pf_interp *ip);

/* Applies one statement; takes its forward and sources. -1 with a message. */
int pf_interp_stmt(struct pf_interp *ip, struct pf_stmt *st, const struct pf_where *w,
		   char *err, size_t errlen);
/* Runs a text: name is its file for PF_IN_FILE, else what messages call it
 * ("request"). A request holds at least one statement. */
int pf_interp_text(struct pf_interp *ip, const char *name, const char *text, size_t len,
		   char *err, size_t errlen);
/* Reads and runs a file (PF_IN_FILE). */
int pf_interp_file(struct pf_interp *ip, const char *path, char *err, size_t errlen);
/* The table as the statements so far left it. */
const struct pf_table *pf_interp_table(const struct pf_interp *ip);

/* Loads a config file (with its includes) into t, which it appends to. */
int pf_conf_load(const char *path, struct pf_table *t, char *err, size_t errlen);
/* Loads config text (what 'portfw save' prints) into t; includes are refused. */
int pf_conf_load_text(const char *name, const char *text, size_t len, struct pf_table *t,
		      char *err, size_t errlen);

/* The statements' effects on a table, for the interpreter and the fuzzers. */
void pf_table_mark(struct pf_table *t, struct pf_stmt *st);
void pf_table_default(struct pf_table *t, struct pf_stmt *st);

#endif
