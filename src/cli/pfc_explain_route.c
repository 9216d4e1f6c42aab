// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Whether a backend takes a TCP connection from here, within a short time
 * (where its packets go: src/sys/pf_route.c).
 */
#include "pfc_explain.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

int pfc_route_connect(const union pf_sa *addr, uint16_t port, int ms)
{
	union pf_sa sa = *addr;
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, err = 0, rc;

	pf_sa_set_port(&sa, port);
	fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, &sa.sa, pf_sa_len(&sa)) == 0) {
		rc = 0;
		goto out;
	}
	if (errno != EINPROGRESS) {
		rc = -errno;
		goto out;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	rc = poll(&pfd, 1, ms);
	if (rc < 0) {
		rc = -errno;
		goto out;
	}
	if (rc == 0) {
		rc = -ETIMEDOUT;
		goto out;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	rc = -err;
out:
	close(fd);
	return rc;
}
