/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The benchmark tools' IPV4:PORT arguments. A header of static functions
 * because each tool is built alone from its one file (bench/run.sh,
 * bench/soak.sh), without a library to link.
 */
#ifndef BT_ADDR_H
#define BT_ADDR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exits with status 2 and a line naming PROG and the argument if S is not
 * IPV4:PORT: a tool run with a bad argument must not measure anything. */
static inline void bt_parse_addr(const char *prog, const char *s, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host)) {
		fprintf(stderr, "%s: bad address '%s' (want IPV4:PORT)\n", prog, s);
		exit(2);
	}
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		fprintf(stderr, "%s: bad IPv4 address '%s'\n", prog, host);
		exit(2);
	}
}

#endif
