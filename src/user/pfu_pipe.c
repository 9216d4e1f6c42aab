// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Pipes for splice, pooled per worker: a flow holds a pipe only while bytes
 * sit in it, so an idle connection costs two descriptors and no pipe pages.
 */
#include "pfu_int.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int pfu_pipe_get(struct pfu_worker *w, struct pfu_pipe *p)
{
	int fds[2];

	if (w->npool) {
		*p = w->pool[--w->npool];
		return 0;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	/* A bigger pipe moves more per splice; if the limit refuses, keep 64 KiB. */
	if (pfu_cfg.pipe_size)
		(void)fcntl(fds[0], F_SETPIPE_SZ, (int)pfu_cfg.pipe_size);
	p->rfd = fds[0];
	p->wfd = fds[1];
	return 0;
}

void pfu_pipe_put(struct pfu_worker *w, struct pfu_pipe *p, bool empty)
{
	if (p->rfd < 0)
		return;
	if (empty && w->npool < PFU_POOL_MAX) {
		w->pool[w->npool++] = *p;
	} else {
		close(p->rfd);
		close(p->wfd);
	}
	p->rfd = p->wfd = -1;
}

void pfu_pipe_drain_pool(struct pfu_worker *w)
{
	while (w->npool) {
		struct pfu_pipe *p = &w->pool[--w->npool];

		close(p->rfd);
		close(p->wfd);
	}
}
