/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Least privilege: the user portfwd runs as (-u), the group of its control
 * socket (-g), and who of the socket's peers may change the table.
 */
#ifndef PFD_PRIV_H
#define PFD_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What a peer of the control socket may do. */
enum pfd_role {
	PFD_ROLE_NONE,	/* nothing: refused */
	PFD_ROLE_READ,	/* list, conns, save: a member of the socket's group */
	PFD_ROLE_ADMIN, /* everything: root or the daemon's own user */
};

/* -u USER: looked up now, so a bad name fails before anything runs. 0 or
 * -1 with a message in err. */
int pfd_priv_set_user(const char *name, char *err, size_t errlen);
/* -g GROUP: the same. Without -g, the group 'portfw' if it exists. */
int pfd_priv_set_group(const char *name, char *err, size_t errlen);
/* The socket's group: true with *gid when there is one (-g, or 'portfw'),
 * else false with *gid -1. */
bool pfd_priv_sock_group(gid_t *gid);
/* -u's user name, or NULL when portfwd keeps running as who started it. */
const char *pfd_priv_user(void);
/* The owner the control socket gets: -u's uid, else -1 (unchanged). */
uid_t pfd_priv_sock_owner(void);

/* Becomes -u's user keeping only the capabilities the table may need; does
 * nothing without -u. Call before any thread starts: capabilities are per
 * thread. 0 or -1 (logged). */
int pfd_priv_drop(void);

/* The role of the peer of a connected control socket (SO_PEERCRED); *uid
 * is the peer's uid. */
enum pfd_role pfd_priv_peer(int fd, uid_t *uid);
/* The refusal of a statement a reader may not send, or of any request of
 * a peer of no role (kind PF_ST_NONE). */
void pfd_priv_refusal(char *buf, size_t len, int kind, uid_t peer);

#endif
