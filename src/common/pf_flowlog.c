// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The flow log's queue and writer. The queue is a fixed ring of slots, each
 * with a sequence number (a bounded multi-producer queue): a producer claims
 * a slot with one compare-and-swap on the tail and publishes it by its
 * sequence, so no producer ever waits for another or for the writer, and a
 * full ring is seen at once (the record is dropped and counted). The one
 * consumer, the writer thread, formats whole lines into a batch and writes
 * it to stderr in one write.
 *
 * The writer does not let a slow reader stall the daemon either: when
 * stderr is a pipe or a socket, it writes only while the other end has room
 * and keeps a part of it free for the daemon's own log lines (pf_log writes
 * to the same stderr and blocks when it is full). Meanwhile the ring fills
 * and the records beyond it are dropped.
 */
#include "pf_flowlog.h"
#include "pf_engine.h"
#include "pf_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sockios.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Records the ring holds: a burst of short flows while the writer waits
 * for the reader. A power of two (the index is masked). */
#define PF_FL_SLOTS 4096u
/* One write: whole lines, at most what a pipe takes atomically (PIPE_BUF),
 * so that the lines of pf_log's writers never land inside ours. */
#define PF_FL_BATCH 4096
#define PF_FL_LINE_MAX 1024
/* How long the writer waits, idle or for room, before it looks again. */
#define PF_FL_IDLE_MS 1000
#define PF_FL_ROOM_MS 20
/* At exit: how long what is queued may take to go out. */
#define PF_FL_DRAIN_MS 2000

struct pf_fl_slot {
	_Atomic size_t seq;
	struct pf_flowlog_rec r;
};

enum pf_fl_out { PF_FL_OUT_OTHER, PF_FL_OUT_PIPE, PF_FL_OUT_SOCK };

static struct pf_fl_slot *pf_fl_ring;
static _Atomic size_t pf_fl_tail; /* next slot a producer claims */
static size_t pf_fl_head; /* next slot the writer reads (writer only) */
static _Atomic bool pf_fl_on;
static _Atomic bool pf_fl_running; /* the writer thread has not returned */
static _Atomic bool pf_fl_stopping;
/* Set by pf_flowlog_stop: the writer gives up on a reader without room
 * then (UINT64_MAX: not stopping). */
static _Atomic uint64_t pf_fl_deadline_ms = UINT64_MAX;
static _Atomic uint8_t pf_fl_fmt;
static _Atomic uint64_t pf_fl_dropped, pf_fl_written;
/* The writer sleeps on this word (a futex) while it is idle; producers wake
 * it only then, so a busy log costs them no system call. */
static _Atomic uint32_t pf_fl_wake;
static _Atomic bool pf_fl_idle;
static pthread_t pf_fl_thread;
static enum pf_fl_out pf_fl_out;
static const int pf_fl_fd = 2;

const char *pf_flow_end_name(uint8_t end)
{
	static const char *const names[] = {
		[PF_END_CLIENT_CLOSE] = "client-close", [PF_END_BACKEND_CLOSE] = "backend-close",
		[PF_END_CLIENT_RESET] = "client-reset", [PF_END_BACKEND_RESET] = "backend-reset",
		[PF_END_TIMEOUT] = "timeout",		[PF_END_REFUSED] = "refused",
		[PF_END_NO_BACKEND] = "no-backend",	[PF_END_KILLED] = "killed",
		[PF_END_SHUTDOWN] = "shutdown",		[PF_END_ERROR] = "error",
	};

	return end < PF_ARRAY_SIZE(names) ? names[end] : "error";
}

const char *pf_flowlog_format_name(uint8_t fmt)
{
	return fmt == PF_FLOWLOG_JSON ? "json" : "text";
}

static long pf_fl_futex(uint32_t op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, &pf_fl_wake, op, val, ts, NULL, 0);
}

static void pf_fl_kick(void)
{
	atomic_store(&pf_fl_idle, false);
	atomic_fetch_add(&pf_fl_wake, 1);
	pf_fl_futex(FUTEX_WAKE_PRIVATE, 1, NULL);
}

bool pf_flowlog_submit(const struct pf_flowlog_rec *r)
{
	size_t pos = atomic_load_explicit(&pf_fl_tail, memory_order_relaxed);
	struct pf_fl_slot *s;

	if (!atomic_load_explicit(&pf_fl_on, memory_order_acquire))
		goto drop;
	for (;;) {
		s = &pf_fl_ring[pos & (PF_FL_SLOTS - 1)];
		size_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
		intptr_t dif = (intptr_t)seq - (intptr_t)pos;

		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&pf_fl_tail, &pos, pos + 1,
								  memory_order_relaxed,
								  memory_order_relaxed))
				break;
		} else if (dif < 0) {
			goto drop; /* the writer has not freed this slot: full */
		} else {
			pos = atomic_load_explicit(&pf_fl_tail, memory_order_relaxed);
		}
	}
	s->r = *r;
	/* Sequentially consistent, as the writer's store of idle and its look
	 * at the ring (pf_fl_wait): of the two, one sees the other's store,
	 * so a record never waits for a writer that went to sleep on it. */
	atomic_store(&s->seq, pos + 1);
	if (atomic_load(&pf_fl_idle))
		pf_fl_kick();
	return true;
drop:
	atomic_fetch_add_explicit(&pf_fl_dropped, 1, memory_order_relaxed);
	return false;
}

/* The writer's next record, or false when the ring is empty. */
static bool pf_fl_pop(struct pf_flowlog_rec *r)
{
	struct pf_fl_slot *s = &pf_fl_ring[pf_fl_head & (PF_FL_SLOTS - 1)];

	if (atomic_load_explicit(&s->seq, memory_order_acquire) != pf_fl_head + 1)
		return false;
	*r = s->r;
	atomic_store_explicit(&s->seq, pf_fl_head + PF_FL_SLOTS, memory_order_release);
	pf_fl_head++;
	return true;
}

static bool pf_fl_empty(void)
{
	const struct pf_fl_slot *s = &pf_fl_ring[pf_fl_head & (PF_FL_SLOTS - 1)];

	return atomic_load(&s->seq) != pf_fl_head + 1;
}

/* ---- formatting ---- */

/* A forward's name for a text line: a word without spaces or control
 * bytes ("\xHH" for those), "-" for an unnamed forward. */
static size_t pf_fl_text_name(char *buf, size_t len, const char *name)
{
	size_t off = 0;

	if (!*name)
		return pf_append(buf, len, 0, "-");
	for (; *name && off + 5 < len; name++) {
		unsigned char ch = (unsigned char)*name;

		if (ch <= ' ' || ch >= 0x7f || ch == '\\')
			off += (size_t)snprintf(buf + off, len - off, "\\x%02x", ch);
		else
			buf[off++] = (char)ch;
	}
	buf[off] = '\0';
	return off;
}

/* A JSON string's body: '"', '\' and every byte outside printable ASCII
 * escaped (bytes of no valid UTF-8 become their Latin-1 code point, so
 * the line is valid JSON whatever the name holds). */
static size_t pf_fl_json_str(char *buf, size_t len, const char *s)
{
	size_t off = 0;

	for (; *s && off + 7 < len; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			buf[off++] = '\\';
			buf[off++] = (char)ch;
		} else if (ch < ' ' || ch >= 0x7f) {
			off += (size_t)snprintf(buf + off, len - off, "\\u%04x", ch);
		} else {
			buf[off++] = (char)ch;
		}
	}
	buf[off] = '\0';
	return off;
}

/* "2026-01-02T03:04:05.678Z" */
static void pf_fl_time(uint64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(ms % 1000));
}

static void pf_fl_addr(const union pf_sa *sa, uint8_t l4, char *buf, size_t len)
{
	if (!sa->sa.sa_family)
		pf_strlcpy(buf, "-", len);
	else
		pf_sa_format(sa, pf_l4_has_ports(l4), buf, len);
}

/* One line, its newline included; returns its length. */
static size_t pf_fl_format(const struct pf_flowlog_rec *r, uint8_t fmt, char *buf, size_t len)
{
	char name[PF_NAME_MAX * 6 + 1], cl[PF_ADDRSTR_MAX], li[PF_ADDRSTR_MAX];
	char be[PF_ADDRSTR_MAX], start[80];
	const char *engine = r->engine == PF_ENGINE_KERNEL ? "kernel" : "user";
	char fwd[PF_NAME_MAX];
	int n;

	/* The record is a copy from another thread: never trust its string. */
	memcpy(fwd, r->forward, sizeof(fwd));
	fwd[sizeof(fwd) - 1] = '\0';
	pf_fl_addr(&r->client, r->l4, cl, sizeof(cl));
	pf_fl_addr(&r->listen, r->l4, li, sizeof(li));
	pf_fl_addr(&r->backend, r->l4, be, sizeof(be));
	pf_fl_time(r->start_ms, start, sizeof(start));
	if (fmt == PF_FLOWLOG_JSON) {
		pf_fl_json_str(name, sizeof(name), fwd);
		n = snprintf(buf, len,
			     "{\"forward\":\"%s\",\"proto\":\"%s\",\"client\":\"%s\","
			     "\"listen\":\"%s\",\"backend\":%s%s%s,\"bytes_up\":%llu,"
			     "\"bytes_down\":%llu,\"start\":\"%s\",\"duration_ms\":%llu,"
			     "\"end\":\"%s\",\"engine\":\"%s\"}\n",
			     name, pf_l4_name(r->l4), cl, li, r->backend.sa.sa_family ? "\"" : "",
			     r->backend.sa.sa_family ? be : "null",
			     r->backend.sa.sa_family ? "\"" : "", (unsigned long long)r->bytes_up,
			     (unsigned long long)r->bytes_down, start,
			     (unsigned long long)r->duration_ms, pf_flow_end_name(r->end), engine);
	} else {
		pf_fl_text_name(name, sizeof(name), fwd);
		n = snprintf(buf, len,
			     "flow %s %s %s -> %s -> %s up=%llu down=%llu start=%s dur=%llu.%03llus "
			     "end=%s engine=%s\n",
			     name, pf_l4_name(r->l4), cl, li, be, (unsigned long long)r->bytes_up,
			     (unsigned long long)r->bytes_down, start,
			     (unsigned long long)(r->duration_ms / 1000),
			     (unsigned long long)(r->duration_ms % 1000), pf_flow_end_name(r->end),
			     engine);
	}
	if (n < 0)
		return 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}

/* ---- writing ---- */

/* Whether len bytes may go to stderr now without filling what the reader
 * has not read past the part kept for pf_log. Other outputs (a file, a
 * terminal) are written as they come. */
static bool pf_fl_room(size_t len)
{
	int cap = 0, queued = 0;
	socklen_t sl = sizeof(cap);

	if (pf_fl_out == PF_FL_OUT_PIPE) {
		cap = fcntl(pf_fl_fd, F_GETPIPE_SZ);
		if (cap <= 0 || ioctl(pf_fl_fd, FIONREAD, &queued) < 0)
			return true;
	} else if (pf_fl_out == PF_FL_OUT_SOCK) {
		if (getsockopt(pf_fl_fd, SOL_SOCKET, SO_SNDBUF, &cap, &sl) < 0 ||
		    ioctl(pf_fl_fd, SIOCOUTQ, &queued) < 0)
			return true;
	} else {
		return true;
	}
	/* (An empty pipe smaller than a batch takes it all the same.) */
	return !queued || (long)queued + (long)len <= (long)cap - (long)cap / 4;
}

static void pf_fl_sleep_ms(uint32_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Writes a batch of lines; when it cannot go out in time (no room before
 * the drain at exit ends, an error), its lines count as dropped. */
static void pf_fl_flush(const char *buf, size_t len, uint64_t lines)
{
	size_t off = 0;

	while (!pf_fl_room(len)) {
		if (pf_now_ms() >= atomic_load(&pf_fl_deadline_ms))
			goto drop;
		pf_fl_sleep_ms(PF_FL_ROOM_MS);
	}
	while (off < len) {
		ssize_t n = write(pf_fl_fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto drop;
		off += (size_t)n;
	}
	atomic_fetch_add_explicit(&pf_fl_written, lines, memory_order_relaxed);
	return;
drop:
	atomic_fetch_add_explicit(&pf_fl_dropped, lines, memory_order_relaxed);
}

static void pf_fl_wait(void)
{
	struct timespec ts = { .tv_sec = PF_FL_IDLE_MS / 1000 };
	uint32_t w = atomic_load(&pf_fl_wake);

	atomic_store(&pf_fl_idle, true);
	if (pf_fl_empty() && !atomic_load(&pf_fl_stopping))
		pf_fl_futex(FUTEX_WAIT_PRIVATE, w, &ts);
	atomic_store(&pf_fl_idle, false);
}

static void *pf_fl_main(void *arg)
{
	static char buf[PF_FL_BATCH];
	struct pf_flowlog_rec r;

	(void)arg;
	for (;;) {
		size_t len = 0;
		uint64_t lines = 0;

		while (len + PF_FL_LINE_MAX <= sizeof(buf) && pf_fl_pop(&r)) {
			len += pf_fl_format(&r, atomic_load_explicit(&pf_fl_fmt,
								     memory_order_relaxed),
					    buf + len, sizeof(buf) - len);
			lines++;
		}
		if (lines) {
			pf_fl_flush(buf, len, lines);
			continue;
		}
		if (atomic_load(&pf_fl_stopping))
			break;
		pf_fl_wait();
	}
	atomic_store(&pf_fl_running, false);
	return NULL;
}

int pf_flowlog_start(enum pf_flowlog_format fmt)
{
	struct stat st;
	size_t i;
	int rc;

	if (atomic_load(&pf_fl_on))
		return -EALREADY;
	/* A writer left behind by a stop, still in its write: one reader of
	 * the ring at a time. */
	if (atomic_load(&pf_fl_running))
		return -EBUSY;
	if (!pf_fl_ring) {
		pf_fl_ring = calloc(PF_FL_SLOTS, sizeof(*pf_fl_ring));
		if (!pf_fl_ring)
			return -ENOMEM;
	}
	for (i = 0; i < PF_FL_SLOTS; i++)
		atomic_init(&pf_fl_ring[i].seq, i);
	atomic_store(&pf_fl_tail, 0);
	pf_fl_head = 0;
	pf_fl_out = PF_FL_OUT_OTHER;
	if (!fstat(pf_fl_fd, &st))
		pf_fl_out = S_ISFIFO(st.st_mode)   ? PF_FL_OUT_PIPE
			    : S_ISSOCK(st.st_mode) ? PF_FL_OUT_SOCK
						   : PF_FL_OUT_OTHER;
	atomic_store(&pf_fl_fmt, (uint8_t)fmt);
	atomic_store(&pf_fl_stopping, false);
	atomic_store(&pf_fl_deadline_ms, UINT64_MAX);
	atomic_store(&pf_fl_running, true);
	rc = pthread_create(&pf_fl_thread, NULL, pf_fl_main, NULL);
	if (rc) {
		atomic_store(&pf_fl_running, false);
		return -rc;
	}
	atomic_store_explicit(&pf_fl_on, true, memory_order_release);
	return 0;
}

void pf_flowlog_set_format(enum pf_flowlog_format fmt)
{
	atomic_store(&pf_fl_fmt, (uint8_t)fmt);
}

void pf_flowlog_stop(void)
{
	struct timespec ts;

	if (!atomic_exchange(&pf_fl_on, false))
		return;
	atomic_store(&pf_fl_deadline_ms, pf_now_ms() + PF_FL_DRAIN_MS);
	atomic_store(&pf_fl_stopping, true);
	pf_fl_kick();
	/* The writer gives up on a reader without room at the deadline. A
	 * write that blocks itself (a terminal on hold) is left behind: the
	 * process is about to exit. */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += PF_FL_DRAIN_MS / 1000 + 1;
	if (pthread_timedjoin_np(pf_fl_thread, NULL, &ts))
		pthread_detach(pf_fl_thread);
}

uint64_t pf_flowlog_dropped(void)
{
	return atomic_load_explicit(&pf_fl_dropped, memory_order_relaxed);
}

uint64_t pf_flowlog_written(void)
{
	return atomic_load_explicit(&pf_fl_written, memory_order_relaxed);
}
