/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A binary upgrade without a dropped connection (pfd_upgrade.c): 'portfw
 * upgrade' or SIGUSR2 starts the binary at portfwd's own path with the same
 * command line and hands it the listening sockets; the old process stops
 * accepting only when the new one said it is ready.
 */
#ifndef PFD_UPGRADE_H
#define PFD_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>

/* How long the new process may take to be ready. */
#define PFD_UPGRADE_MS 60000

/* At the start: the path the binary was started from (made absolute now:
 * a package manager may replace the file later, and the new file is the
 * one to run) and the command line to run it with. */
void pfd_upgrade_init(char **argv);

/* The old process: starts the new one. -1 with the reason in err when it
 * cannot (one in progress, stopping, no fork); else the outcome comes
 * later, logged and given to pfd_ctl_upgrade_reply. */
int pfd_upgrade_start(char *err, size_t errlen);

/* The new process, early: takes the sockets handed over, if started by an
 * upgrade ($PORTFW_UPGRADE_FD). 0 when none or all taken. */
int pfd_upgrade_inherit(char *err, size_t errlen);
/* The new process, its table in: closes what no forward took and tells the
 * old process it may stop. false (and nothing done) when not started by an
 * upgrade. */
bool pfd_upgrade_ready(void);
/* The new process failed to start: tells the old one why (it serves on). */
void pfd_upgrade_failed(const char *why);

/* Whether this process handed over to a new one (and exits with 0). */
bool pfd_upgrade_handed(void);
/* Whether this process must leave the kernel's table and the control
 * socket's file alone at exit: it handed them over, or it is a new process
 * that never became ready. */
bool pfd_upgrade_detached(void);

#endif
