/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The main thread's event loop: each descriptor it watches has a handler,
 * and timers call theirs at a deadline (once, or every period). Handlers
 * must not block: whatever waits on a peer is a registration or a timer.
 */
#ifndef PFD_LOOP_H
#define PFD_LOOP_H

#include <stdint.h>

/* events: the EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP... bits that were ready. */
typedef void pfd_loop_fn(int fd, uint32_t events, void *arg);
typedef void pfd_timer_fn(void *arg);

int pfd_loop_init(void);
void pfd_loop_free(void);

/* Watches fd for events (EPOLLIN, EPOLLOUT; 0 pauses it but keeps the
 * handler). One handler per descriptor. Each returns 0 or -errno. */
int pfd_loop_add(int fd, uint32_t events, pfd_loop_fn *fn, void *arg);
int pfd_loop_mod(int fd, uint32_t events);
/* Forgets fd before the caller closes it; events of it still pending in
 * this round are dropped. */
void pfd_loop_del(int fd);

/* Calls fn after ms, then every period_ms (0: once; the timer is gone once
 * it has fired). Returns an id > 0 (never reused), or -errno. */
int64_t pfd_timer_add(uint64_t ms, uint64_t period_ms, pfd_timer_fn *fn, void *arg);
/* Moves the timer's next deadline to ms from now (also from its own fn). */
int pfd_timer_set(int64_t id, uint64_t ms);
/* Safe from any handler, for any id (a fired one-shot or 0 is a no-op). */
void pfd_timer_del(int64_t id);

/* Called before each wait: for work that follows from what the handlers
 * did, such as watching a descriptor that a table change opened. */
void pfd_loop_before_wait(void (*fn)(void));

/* Runs until pfd_loop_stop (returns 0) or epoll fails (-errno). */
int pfd_loop_run(void);
void pfd_loop_stop(void);

#endif
