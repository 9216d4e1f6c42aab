// SPDX-License-Identifier: GPL-2.0-or-later
#include "pf_buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PF_BUF_MIN 256
#define PF_BUF_READ_CHUNK 65536

/* Never above SIZE_MAX / 2, so len + n + 1 and the doubling cannot wrap. */
static size_t pf_buf_max(const struct pf_buf *b)
{
	if (!b->max)
		return PF_BUF_MAX_DEFAULT;
	return b->max < SIZE_MAX / 2 ? b->max : SIZE_MAX / 2;
}

static int pf_buf_fail(struct pf_buf *b, int err)
{
	if (!b->err)
		b->err = err;
	return b->err;
}

int pf_buf_reserve(struct pf_buf *b, size_t n)
{
	size_t max = pf_buf_max(b), need, cap;
	char *ns;

	if (b->err)
		return b->err;
	if (n > max - b->len)
		return pf_buf_fail(b, -E2BIG);
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	/* Doubling keeps appends amortised O(1); never past the cap (+ NUL). */
	cap = b->cap > PF_BUF_MIN / 2 ? b->cap * 2 : PF_BUF_MIN;
	if (cap < need)
		cap = need;
	if (cap > max + 1)
		cap = max + 1;
	ns = realloc(b->s, cap);
	if (!ns)
		return pf_buf_fail(b, -ENOMEM);
	if (!b->s)
		ns[0] = '\0';
	b->s = ns;
	b->cap = cap;
	return 0;
}

int pf_buf_add(struct pf_buf *b, const void *p, size_t n)
{
	if (pf_buf_reserve(b, n))
		return b->err;
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int pf_buf_puts(struct pf_buf *b, const char *s)
{
	return pf_buf_add(b, s, strlen(s));
}

int pf_buf_vprintf(struct pf_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	size_t room;
	int n;

	if (b->err)
		return b->err;
	/* Most pieces fit in what is left: one vsnprintf, no measuring pass. */
	room = b->s ? b->cap - b->len : 0;
	va_copy(ap2, ap);
	n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return pf_buf_fail(b, -EINVAL);
	if ((size_t)n >= room) {
		if (pf_buf_reserve(b, (size_t)n)) {
			if (b->s)
				b->s[b->len] = '\0'; /* the truncated try wrote there */
			return b->err;
		}
		vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
	return 0;
}

int pf_buf_printf(struct pf_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = pf_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int pf_buf_read_fd(struct pf_buf *b, int fd)
{
	for (;;) {
		size_t want = pf_buf_max(b) - b->len;
		ssize_t n;

		if (b->err)
			return b->err;
		if (!want) {
			char c;

			/* Full to the cap: an error only if there is more. */
			do
				n = read(fd, &c, 1);
			while (n < 0 && errno == EINTR);
			if (n < 0)
				return errno == EAGAIN ? -EAGAIN : pf_buf_fail(b, -errno);
			return n ? pf_buf_fail(b, -E2BIG) : 0;
		}
		if (want > PF_BUF_READ_CHUNK)
			want = PF_BUF_READ_CHUNK;
		if (pf_buf_reserve(b, want))
			return b->err;
		n = read(fd, b->s + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return -EAGAIN; /* not sticky: call again when readable */
		if (n < 0)
			return pf_buf_fail(b, -errno);
		if (!n)
			return 0;
		b->len += (size_t)n;
		b->s[b->len] = '\0';
	}
}

void pf_buf_reset(struct pf_buf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

char *pf_buf_detach(struct pf_buf *b, size_t *len)
{
	char *s;

	if (pf_buf_reserve(b, 0)) {
		free(b->s);
		b->s = NULL;
		b->len = b->cap = 0;
		return NULL;
	}
	s = b->s;
	if (len)
		*len = b->len;
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void pf_buf_free(struct pf_buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}
