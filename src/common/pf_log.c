// SPDX-License-Identifier: GPL-2.0-or-later
#include "pf_log.h"
#include "pf_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int pf_log_verbosity = PF_LOG_INFO;

void pf_log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level > pf_log_verbosity)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ld portfwd %s: ",
		      ts.tv_nsec / 1000000, names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so that lines of several threads do not interleave. */
	fprintf(stderr, "%s\n", line);
}

uint64_t pf_ratelimit_ok(struct pf_ratelimit *rl, uint64_t interval_ms)
{
	uint64_t now = pf_now_ms();
	uint64_t next = atomic_load_explicit(&rl->next_ms, memory_order_relaxed);

	if (now < next ||
	    !atomic_compare_exchange_strong(&rl->next_ms, &next, now + interval_ms)) {
		atomic_fetch_add_explicit(&rl->suppressed, 1, memory_order_relaxed);
		return 0;
	}
	return atomic_exchange(&rl->suppressed, 0) + 1;
}
