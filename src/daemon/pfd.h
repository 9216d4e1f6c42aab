/* SPDX-License-Identifier: GPL-2.0-or-later */
/* portfwd internals: the running table and the control socket. */
#ifndef PFD_H
#define PFD_H

#include <jansson.h>
#include <stddef.h>

#define PFD_REQ_MAX (4U << 20)

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

/* Error replies: {"ok": false, "error": msg}, any byte of msg that is not
 * UTF-8 shown as \xHH (NULL if out of memory). */
json_t *pfd_json_error(const char *msg);
/* A copy of s that is valid UTF-8 the same way (free it). */
char *pfd_json_text(const char *s);

/* The control socket, served by handlers of the main loop (pfd_loop). */
int pfd_ctl_open(const char *path);
void pfd_ctl_close(void);

#endif
