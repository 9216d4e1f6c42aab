/* SPDX-License-Identifier: GPL-2.0-or-later */
/* portfw, the client: shared between its subcommands. */
#ifndef PFC_H
#define PFC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct pfc_opts {
	const char *sock;
	bool numeric; /* -n */
	bool json; /* -j */
	bool kill; /* -k */
};

/* Sends a request, returns the daemon's reply (NULL after printing why). */
json_t *pfc_request(const struct pfc_opts *o, const char *text);
/* Prints a reply's error and returns 1, or returns 0 when it says ok. */
int pfc_check_reply(json_t *res);

/* Joins words into one statement, checks its syntax locally so the error can
 * name the argument at fault. Returns a malloc'd statement or NULL. */
char *pfc_statement(const char *what, const char *verb, int argc, char *const *argv);

int pfc_show_list(const struct pfc_opts *o, json_t *res);
/* A file, or standard input for "-", up to 4 MiB (NUL-terminated); NULL
 * after printing why, as "portfw WHAT: ...". */
char *pfc_read_all(const char *what, const char *path, size_t *len);

struct pf_table;
/* The running table, as 'save' prints it, parsed back into t. */
int pfc_fetch_table(const struct pfc_opts *o, struct pf_table *t);
/* ipportfw, ipmasqadm: the classic command lines (pfc_classic_main.c). */
int pfc_classic_main(const char *prog, int argc, char **argv);
/* portfw import FILE: a seed-004 port table, as one change. */
int pfc_import(const struct pfc_opts *o, const char *path);
int pfc_show_conns(const struct pfc_opts *o, json_t *res);
/* portfw explain NAME [from ADDR] (pfc_explain.c): 0, 1 when something
 * blocks the forward, 2 on a usage error. */
int pfc_explain(const struct pfc_opts *o, int argc, char **argv);
/* portfw ha-check FILE|- (pfc_hacheck.c): 0 when this gateway's table is
 * the one in FILE (another's 'portfw list -j'), 1 when not, 2 on bad input. */
int pfc_hacheck(const struct pfc_opts *o, int argc, char **argv);
/* Its comparison: this gateway's 'list' reply (or array) against another's
 * 'list -j' (what names it in errors): {"agree", "here", "there",
 * "differences"}, or NULL with err saying what is wrong with either. */
json_t *pfc_ha_compare_lists(json_t *mine, json_t *other, const char *what, char *err,
			     size_t errlen);

#endif
