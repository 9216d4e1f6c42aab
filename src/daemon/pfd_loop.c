// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The main thread's event loop. It watches a handful of descriptors (the
 * signals, the control socket and its clients, health news, the kernel's
 * conntrack events) and a few dozen timers at most, so both live in small
 * arrays and lists searched linearly: no fd-indexed table, whose size would
 * follow the highest descriptor number the workers' flows pushed it to.
 */
#include "pfd_loop.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define PFD_LOOP_BATCH 64
/* epoll data of an event whose handler went away during the round. */
#define PFD_IO_GONE UINT64_MAX

struct pfd_io {
	int fd; /* -1: a free slot */
	pfd_loop_fn *fn;
	void *arg;
};

struct pfd_timer {
	int64_t id;
	uint64_t when, period;
	pfd_timer_fn *fn;
	void *arg;
	bool dead; /* freed by the next sweep, so no walk loses its place */
	struct pfd_timer *next;
};

static int pfd_ep = -1;
static struct pfd_io *pfd_ios;
static size_t pfd_nios;
/* The round being dispatched: pfd_loop_del cancels events of it. */
static struct epoll_event pfd_batch[PFD_LOOP_BATCH];
static int pfd_batch_n;
static struct pfd_timer *pfd_timers;
static int64_t pfd_timer_next_id = 1;
static void (*pfd_hook)(void);
static bool pfd_stopping;

int pfd_loop_init(void)
{
	pfd_ep = epoll_create1(EPOLL_CLOEXEC);
	return pfd_ep < 0 ? -errno : 0;
}

void pfd_loop_free(void)
{
	while (pfd_timers) {
		struct pfd_timer *t = pfd_timers;

		pfd_timers = t->next;
		free(t);
	}
	free(pfd_ios);
	pfd_ios = NULL;
	pfd_nios = 0;
	if (pfd_ep >= 0)
		close(pfd_ep);
	pfd_ep = -1;
}

static struct pfd_io *pfd_io_find(int fd)
{
	size_t i;

	for (i = 0; i < pfd_nios; i++)
		if (pfd_ios[i].fd == fd)
			return &pfd_ios[i];
	return NULL;
}

int pfd_loop_add(int fd, uint32_t events, pfd_loop_fn *fn, void *arg)
{
	struct epoll_event ev = { .events = events };
	struct pfd_io *io;

	if (fd < 0 || pfd_io_find(fd))
		return -EEXIST;
	io = pfd_io_find(-1);
	if (!io) {
		size_t n = pfd_nios ? pfd_nios * 2 : 16, i;
		struct pfd_io *v = realloc(pfd_ios, n * sizeof(*v));

		if (!v)
			return -ENOMEM;
		for (i = pfd_nios; i < n; i++)
			v[i].fd = -1;
		io = &v[pfd_nios];
		pfd_ios = v;
		pfd_nios = n;
	}
	ev.data.u64 = (uint64_t)(io - pfd_ios);
	if (epoll_ctl(pfd_ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	io->fd = fd;
	io->fn = fn;
	io->arg = arg;
	return 0;
}

int pfd_loop_mod(int fd, uint32_t events)
{
	struct pfd_io *io = pfd_io_find(fd);
	struct epoll_event ev = { .events = events };

	if (!io)
		return -ENOENT;
	ev.data.u64 = (uint64_t)(io - pfd_ios);
	return epoll_ctl(pfd_ep, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void pfd_loop_del(int fd)
{
	struct pfd_io *io = pfd_io_find(fd);
	uint64_t slot;
	int i;

	if (!io)
		return;
	slot = (uint64_t)(io - pfd_ios);
	epoll_ctl(pfd_ep, EPOLL_CTL_DEL, fd, NULL);
	io->fd = -1;
	/* The slot may be taken by a new descriptor before the round ends:
	 * this one's pending events must not reach that one's handler. */
	for (i = 0; i < pfd_batch_n; i++)
		if (pfd_batch[i].data.u64 == slot)
			pfd_batch[i].data.u64 = PFD_IO_GONE;
}

int64_t pfd_timer_add(uint64_t ms, uint64_t period_ms, pfd_timer_fn *fn, void *arg)
{
	struct pfd_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->id = pfd_timer_next_id++;
	t->when = pf_now_ms() + ms;
	t->period = period_ms;
	t->fn = fn;
	t->arg = arg;
	/* At the head: a timer added by a timer's fn waits for the next round. */
	t->next = pfd_timers;
	pfd_timers = t;
	return t->id;
}

static struct pfd_timer *pfd_timer_find(int64_t id)
{
	struct pfd_timer *t;

	for (t = pfd_timers; t; t = t->next)
		if (t->id == id && !t->dead)
			return t;
	return NULL;
}

int pfd_timer_set(int64_t id, uint64_t ms)
{
	struct pfd_timer *t = pfd_timer_find(id);

	if (!t)
		return -ENOENT;
	t->when = pf_now_ms() + ms;
	return 0;
}

void pfd_timer_del(int64_t id)
{
	struct pfd_timer *t = pfd_timer_find(id);

	if (t)
		t->dead = true;
}

static void pfd_timers_run(void)
{
	struct pfd_timer *t, **pp;
	uint64_t now = pf_now_ms();

	for (t = pfd_timers; t; t = t->next) {
		if (t->dead || t->when > now)
			continue;
		t->fn(t->arg);
		if (t->dead || t->when > now)
			continue; /* deleted, or moved on by its fn */
		if (t->period)
			t->when = now + t->period;
		else
			t->dead = true;
	}
	for (pp = &pfd_timers; *pp;) {
		t = *pp;
		if (t->dead) {
			*pp = t->next;
			free(t);
		} else {
			pp = &t->next;
		}
	}
}

/* Until the nearest deadline; -1 (no limit) without timers. */
static int pfd_timers_wait_ms(void)
{
	const struct pfd_timer *t;
	uint64_t now = pf_now_ms(), next = UINT64_MAX;

	for (t = pfd_timers; t; t = t->next)
		if (!t->dead && t->when < next)
			next = t->when;
	if (next == UINT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

void pfd_loop_before_wait(void (*fn)(void))
{
	pfd_hook = fn;
}

int pfd_loop_run(void)
{
	pfd_stopping = false;
	while (!pfd_stopping) {
		int n, i;

		if (pfd_hook)
			pfd_hook();
		n = epoll_wait(pfd_ep, pfd_batch, PFD_LOOP_BATCH, pfd_timers_wait_ms());
		if (n < 0 && errno != EINTR)
			return -errno;
		pfd_batch_n = n > 0 ? n : 0;
		for (i = 0; i < pfd_batch_n && !pfd_stopping; i++) {
			uint64_t slot = pfd_batch[i].data.u64;
			const struct pfd_io *io;

			if (slot == PFD_IO_GONE)
				continue;
			io = &pfd_ios[slot];
			io->fn(io->fd, pfd_batch[i].events, io->arg);
		}
		pfd_batch_n = 0;
		if (!pfd_stopping)
			pfd_timers_run();
	}
	return 0;
}

void pfd_loop_stop(void)
{
	pfd_stopping = true;
}
