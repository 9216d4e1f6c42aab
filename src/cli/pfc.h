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
int pfc_show_conns(const struct pfc_opts *o, json_t *res);

#endif
