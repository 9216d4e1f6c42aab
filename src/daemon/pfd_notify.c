// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sd_notify(3) without libsystemd: the protocol is one unix datagram to the
 * path in $NOTIFY_SOCKET ('@' for the abstract namespace), and linking
 * libsystemd for that would add a runtime dependency for a dozen lines.
 */
#include "pfd_notify.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* After an upgrade the new process is systemd's: this one is silent. */
static bool pfd_notify_off;

void pfd_notify_silence(void)
{
	pfd_notify_off = true;
}

int pfd_notify(const char *fmt, ...)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char msg[512];
	size_t plen;
	va_list ap;
	int fd, n, rc = 0;

	if (!path || !*path || pfd_notify_off)
		return 0;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sun.sun_path))
		return -EAFNOSUPPORT;
	memcpy(sun.sun_path, path, plen);
	/* Abstract socket: a leading NUL, and the length says where it ends. */
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -EMSGSIZE;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&sun,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
