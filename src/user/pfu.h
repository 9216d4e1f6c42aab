/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The user engine: listening sockets, worker threads, the TCP and UDP
 * relays. The daemon drives it through pfu_engine_ops (pf_engine.h); this
 * header holds only its settings.
 */
#ifndef PFU_H
#define PFU_H

#include "../common/pf_engine.h"

#include <stdbool.h>

#define PFU_WORKERS_MAX 64

struct pfu_config {
	int workers; /* 0: one per online CPU */
	bool pin; /* a worker per CPU, on it, taking the clients that come in there */
	bool copy; /* relay with recv/send instead of splice (tests both paths) */
	unsigned pipe_size; /* bytes per pipe (F_SETPIPE_SZ); 0: kernel default */
};

/* Before start. */
void pfu_configure(const struct pfu_config *cfg);

#endif
