/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The status page's admin request (POST /api/backend), an HTML form's body
 * (application/x-www-form-urlencoded):
 *
 *   forward=NAME&backend=HOST:PORT&action=drain|enable|disable|backup|primary
 *
 * turned into the control statement it stands for,
 *
 *   backend name NAME HOST:PORT ACTION
 *
 * which the daemon then runs as a control request: the same parser, checks
 * and change as 'portfw backend'. Pure (no I/O), for the fuzzer.
 */
#ifndef PF_ADMIN_H
#define PF_ADMIN_H

#include <stddef.h>

#define PF_ADMIN_BODY_MAX 1024

/* Returns 0 with the statement in stmt, or -1 with a message that says
 * what was expected. */
int pf_admin_parse(const char *body, size_t len, char *stmt, size_t stmtlen, char *err,
		   size_t errlen);

#endif
