/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The user engine: listening sockets, worker threads, the TCP relay. The
 * daemon talks to it only through these functions (the engine seam).
 */
#ifndef PFU_H
#define PFU_H

#include "../common/pf_conf.h"
#include "../common/pf_table.h"

#include <jansson.h>
#include <stdbool.h>

#define PFU_WORKERS_MAX 64

struct pfu_config {
	int workers; /* 0: one per online CPU */
	bool copy; /* relay with recv/send instead of splice (tests both paths) */
	unsigned pipe_size; /* bytes per pipe (F_SETPIPE_SZ); 0: kernel default */
};

int pfu_start(const struct pfu_config *cfg);
void pfu_stop(void);

/*
 * Two-phase apply: prepare opens every listening socket the new table needs
 * (reusing the running ones) and fails without changing anything; commit
 * hands the result to the workers; abort throws a prepared change away.
 */
int pfu_prepare(const struct pf_table *next, char *err, size_t errlen);
void pfu_commit(void);
void pfu_abort(void);

/* Cuts the flows of the forwards that sel matches (current or deleted ones). */
unsigned pfu_kill(const struct pf_selector *sel);
/* Appends one object per live flow. */
void pfu_conns(json_t *arr);

#endif
