/* SPDX-License-Identifier: GPL-2.0-or-later */
/* portfwd internals: the running table and the control socket. */
#ifndef PFD_H
#define PFD_H

#include "../common/pf_engine.h"

#include <jansson.h>
#include <stddef.h>

#define PFD_REQ_MAX (4U << 20)

/* The engines (pfd_engine.c): all of them at once, in the order a change
 * goes through them. */
const struct pf_engine_ops *pfd_engine_of(const struct pf_forward *f);
int pfd_engines_start(uint8_t engine, char *err, size_t errlen);
void pfd_engines_stop(void);
/* Prepares next in every engine, then commits: all or nothing. */
int pfd_engines_change(const struct pf_table *next, char *err, size_t errlen);
void pfd_engines_refresh(const struct pf_table *cur);
void pfd_engines_flows(const struct pf_table *cur, pf_flow_cb cb, void *arg);
unsigned pfd_engines_kill(const struct pf_selector *sel, const struct pf_table *cur);
/* The engines' event descriptors now (at most pf_nengines) and their handlers. */
void pfd_engines_poll(int *fds, void (**handlers)(void), size_t *n);

/* The running table. */
void pfd_table_set_config(const char *path);
/* Reads the config file and installs it: all of it, or nothing. */
int pfd_table_reload(char *err, size_t errlen);
/* Checks the config file (parse, resolve, validate) without applying it. */
int pfd_table_check(char *err, size_t errlen);
/* Runs one control request (statements in the command language). */
json_t *pfd_table_request(const char *text, size_t len);
void pfd_table_free(void);
/* Backend health changed: the kernel's pools follow. */
void pfd_table_refresh(void);

/* Health checks (a thread of their own). */
int pfd_health_start(void);
/* Checks what the table asks for from now on (after each change). */
struct pf_table;
void pfd_health_set(const struct pf_table *t);
void pfd_health_stop(void);
/* Readable when a backend's health or agent state changed. */
int pfd_health_notify_fd(void);

/* The control socket. */
int pfd_ctl_open(const char *path);
/* Serves the socket from the main loop's epoll set; fd is the ready one. */
void pfd_ctl_event(int ep, int fd, unsigned events);
void pfd_ctl_expire(int ep);
/* How long the main loop may sleep (shorter while the socket is paused). */
int pfd_ctl_wait_ms(void);
int pfd_ctl_listen_fd(void);
void pfd_ctl_close(void);

#endif
