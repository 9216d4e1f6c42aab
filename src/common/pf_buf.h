/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A growable byte buffer, always NUL-terminated, for text built piece by
 * piece (the saved table, the kernel engine's nft scripts, a client's
 * request) and for whole files or replies read into memory.
 *
 * Out of memory, and growing past the buffer's size cap, set a sticky error:
 * every later append does nothing, and the owner checks once, at the end
 * (pf_buf_detach gives NULL, b->err says why). Not pf_xcalloc's abort: the
 * daemon builds these from what clients and files send it, so running out
 * of room must fail one request or one reload, never the gateway; and
 * callers that append a hundred pieces stay free of a check after each.
 */
#ifndef PF_BUF_H
#define PF_BUF_H

#include <stdarg.h>
#include <stddef.h>

/* The cap of a buffer whose max is 0 (a zeroed one): no text of ours comes
 * near it, so reaching it means something ran away. */
#define PF_BUF_MAX_DEFAULT ((size_t)1 << 30)

struct pf_buf {
	char *s; /* NULL until the first append; then NUL-terminated */
	size_t len; /* bytes in s, the NUL not counted */
	size_t cap; /* bytes allocated */
	size_t max; /* the most len may reach; 0: PF_BUF_MAX_DEFAULT */
	int err; /* 0, or the first failure: -ENOMEM, -E2BIG (over max) */
};

/* A zeroed struct pf_buf is an empty buffer with the default cap; this
 * one has cap max. */
#define PF_BUF_INIT(cap) { .max = (cap) }

/* Room for n more bytes (and the NUL) without another allocation.
 * All of these return 0 or b->err. */
int pf_buf_reserve(struct pf_buf *b, size_t n);
int pf_buf_add(struct pf_buf *b, const void *p, size_t n);
int pf_buf_puts(struct pf_buf *b, const char *s);
__attribute__((format(printf, 2, 3))) int pf_buf_printf(struct pf_buf *b, const char *fmt, ...);
__attribute__((format(printf, 2, 0))) int pf_buf_vprintf(struct pf_buf *b, const char *fmt,
							  va_list ap);
/* Appends what fd gives until end of file (EINTR retried); -errno of a
 * failed read, else as above. On a non-blocking fd, -EAGAIN (not sticky:
 * b->err stays 0) when nothing more is there yet: call it again once fd is
 * readable. */
int pf_buf_read_fd(struct pf_buf *b, int fd);

/* Empties the buffer, keeping its memory (and its error). */
void pf_buf_reset(struct pf_buf *b);
/* The text (malloc'd, "" when nothing was added; its length into *len when
 * len is not NULL), the buffer left empty; NULL when b->err is set, the
 * memory freed and b->err kept. */
char *pf_buf_detach(struct pf_buf *b, size_t *len);
/* Frees the memory; the buffer is empty again, error cleared. */
void pf_buf_free(struct pf_buf *b);

#endif
