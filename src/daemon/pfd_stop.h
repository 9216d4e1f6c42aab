/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The soft stop of portfwd (pfd_stop.c), driven by its signals. */
#ifndef PFD_STOP_H
#define PFD_STOP_H

#include <stdbool.h>

/* SIGTERM or SIGINT: the listeners close and the flows may finish within
 * the table's drain-timeout; the main loop stops when they did, or then. */
void pfd_stop_begin(int signo);
/* An upgrade handed the listeners over: the same soft stop, without a
 * word to systemd (the new process is its service now). */
void pfd_stop_handover(const char *why);
/* Whether a stop began and waits for flows. */
bool pfd_stop_draining(void);
/* Logs the flows still open (they are cut when the engines stop) and
 * stops the main loop; why: what cut them. */
void pfd_stop_cut(const char *why);

#endif
