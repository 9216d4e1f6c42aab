/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * portfw restore FILE: the control request that replaces the running table
 * with a config file. The client reads the file and its includes itself: it
 * runs with the user's permissions and working directory, which a relative
 * include means, and the daemon never opens a file a request names. The
 * file is first run through the interpreter on an empty table (what restore
 * makes of it: every statement error, with "(included from X:N)", before
 * anything is sent), then sent as
 *
 *   flush
 *   source "FILE" 1
 *   ...FILE's statements...
 *   source "DIR/INC.conf" 1
 *   ...INC.conf's statements...
 *   source "FILE" 9
 *   ...
 *
 * so that what the daemon finds (an overlap, a port in use, a name that does
 * not resolve) names the file and line at fault.
 */
#ifndef PF_RESTORE_H
#define PF_RESTORE_H

#include <stddef.h>

/* name: the file (includes are relative to it); text: its contents. Returns 0
 * and a malloc'd request in *req, or -1 and a message. */
int pf_restore_request(const char *name, const char *text, size_t len, char **req, char *err,
		       size_t errlen);

#endif
