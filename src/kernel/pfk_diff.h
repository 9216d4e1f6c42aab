/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The kernel engine's changes as diffs between two renders of the table. */
#ifndef PFK_DIFF_H
#define PFK_DIFF_H

#include <stddef.h>

/* The nft commands that turn the loaded ruleset old into next (both full
 * renders of 'inet portfw'): elements deleted and added, chains flushed and
 * given their rules again, chains deleted. NULL when more than elements and
 * chains differ (load next whole then) or out of memory. *ncmds: how many
 * objects change (0: none). */
char *pfk_diff(const char *old, const char *next, size_t *ncmds);

#endif
