/* SPDX-License-Identifier: GPL-2.0-or-later */
/* portfwd internals: the running table and the control socket. */
#ifndef PFD_H
#define PFD_H

#include "../common/pf_engine.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

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
/* The engines' drain (pf_engine.h): the flows still open in all of them. */
unsigned pfd_engines_drain(void);
/* An upgrade: every engine's listening sockets, to hand over. */
void pfd_engines_sockets(pf_handover_cb cb, void *arg);
/* Tells every engine a child is forked (on) or holds no copies any more. */
void pfd_engines_fork_guard(bool on);
/* Instead of pfd_engines_stop once the sockets and the kernel's table were
 * handed over (or, in the new process, before it took them for good). */
void pfd_engines_detach(void);
/* Before the counters are read (list, metrics): what engines count on
 * demand is brought up to date. */
void pfd_engines_sample(void);
/* Whether f's engine counts its connections and bytes (else only active). */
bool pfd_counts_totals(const struct pf_forward *f);

/* The running table. */
void pfd_table_set_config(const char *path);
/* Reads the config file and installs it: all of it, or nothing. */
int pfd_table_reload(char *err, size_t errlen);
/* The config file's 'user' line, read before anything runs (portfwd drops
 * to that user before it loads the table for good). 0 or -1. */
struct pf_user_conf;
int pfd_table_conf_user(struct pf_user_conf *uc, char *err, size_t errlen);
/* Checks the config file (parse, resolve, validate) without applying it. */
int pfd_table_check(char *err, size_t errlen);
/* Runs one control request (statements in the command language). A
 * read_only request (a member of the socket's group, uid peer) may only
 * read: anything else is refused before it runs. */
json_t *pfd_table_request(const char *text, size_t len, bool read_only, uid_t peer);
void pfd_table_free(void);
/* The running table's number of forwards. */
size_t pfd_table_count(void);
/* Backend health changed: the kernel's pools follow. */
void pfd_table_refresh(void);
/* portfwd is stopping: from now on every change (a reload, a request) is
 * refused, so that no listener opens again while the flows drain. */
void pfd_table_freeze(void);
/* The running table's 'drain-timeout'. */
uint64_t pfd_table_drain_ms(void);

/* Backends by host name (pfd_resolve.c): resolved again on the main loop
 * (c-ares) every resolve-interval. follow: the table next is about to
 * replace cur (next: a draft of cur, or a whole table). */
int pfd_resolve_start(void);
void pfd_resolve_stop(void);
struct pf_table;
void pfd_resolve_follow(const struct pf_table *next, const struct pf_table *cur);
/* A new answer for backend be (a line's first entry) of the running f: a
 * change of the running table in which a copy of f has these addresses. */
union pf_sa;
int pfd_table_readdress(struct pf_forward *f, uint32_t be, const union pf_sa *addrs, size_t n,
			char *err, size_t errlen);

/* Health checks (a thread of their own). */
int pfd_health_start(void);
/* Checks what the table asks for from now on (after each change). */
struct pf_table;
void pfd_health_set(const struct pf_table *t);
/* The same for a draft (pf_table_draft): only what came and went is read,
 * unless a checked forward is among them. */
void pfd_health_change(const struct pf_table *t);
void pfd_health_stop(void);
/* Readable when a backend's health or agent state changed. */
int pfd_health_notify_fd(void);

/* Error replies: {"ok": false, "error": msg}, any byte of msg that is not
 * UTF-8 shown as \xHH (NULL if out of memory). */
json_t *pfd_json_error(const char *msg);
/* A copy of s that is valid UTF-8 the same way (free it). */
char *pfd_json_text(const char *s);
/* A JSON string of text that may hold any bytes (a check string, a file
 * name): shown as pfd_json_text does, never refused. */
json_t *pfd_json_string(const char *s);

/* The control socket, served by handlers of the main loop (pfd_loop). One
 * an upgrade handed over is taken as it is (pf_handover.h). */
int pfd_ctl_open(const char *path);
void pfd_ctl_close(void);
/* An upgrade: the listener and its path, to hand over (-1: none). */
int pfd_ctl_fd(const char **path);
/* The listener is the new process' now: this one closes its copy, and
 * neither it nor pfd_ctl_close removes the file. */
void pfd_ctl_release(void);
/* The new process: the handed socket's file is its own from now on (until
 * then, a start that fails leaves it to the old process). */
void pfd_ctl_own(void);
/* The reply to a 'portfw upgrade' that waits (pfd_upgrade.c). */
void pfd_ctl_upgrade_reply(json_t *res);

#endif
