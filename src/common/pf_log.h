/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging: one line per event on stderr (systemd/journald captures it). */
#ifndef PF_LOG_H
#define PF_LOG_H

#include <stdatomic.h>
#include <stdint.h>

enum pf_log_level { PF_LOG_ERR, PF_LOG_WARN, PF_LOG_INFO, PF_LOG_DEBUG };

extern int pf_log_verbosity;

void pf_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A rate limit for log lines that an attacker or an overload can trigger in a
 * loop (accept errors, session limits): at most one line per interval, and the
 * next line says how many were suppressed.
 */
struct pf_ratelimit {
	_Atomic uint64_t next_ms;
	_Atomic uint64_t suppressed;
};

/* Returns the number of suppressed lines + 1 when a line may be logged now, else 0. */
uint64_t pf_ratelimit_ok(struct pf_ratelimit *rl, uint64_t interval_ms);

#define pf_err(...) pf_log(PF_LOG_ERR, __VA_ARGS__)
#define pf_warn(...) pf_log(PF_LOG_WARN, __VA_ARGS__)
#define pf_info(...) pf_log(PF_LOG_INFO, __VA_ARGS__)
#define pf_dbg(...)                                              \
	do {                                                     \
		if (pf_log_verbosity >= PF_LOG_DEBUG)            \
			pf_log(PF_LOG_DEBUG, __VA_ARGS__);       \
	} while (0)

#endif
