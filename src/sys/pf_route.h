/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where a packet to an address goes, as the kernel answers it (RTM_GETROUTE
 * for one address, as 'ip route get' asks): policy routing, VRFs and
 * unreachable routes are what they really are. Shared by the daemon (the
 * kernel engine's route_localnet) and the client (portfw explain); kept out
 * of src/common, whose code the unit tests and fuzzers link without libmnl.
 */
#ifndef PF_ROUTE_H
#define PF_ROUTE_H

#include "../common/pf_addr.h"

#include <net/if.h>

struct pf_route {
	int type; /* RTN_UNICAST, RTN_LOCAL, RTN_UNREACHABLE, ... */
	char oif[IF_NAMESIZE]; /* "" when none */
	union pf_sa gw; /* family 0: directly connected */
};

/* The route to dst: 0, or -errno (-ENETUNREACH: none). */
int pf_route_get(const union pf_sa *dst, struct pf_route *rt);

#endif
