// SPDX-License-Identifier: GPL-2.0-or-later
#include "pf_engine.h"

#include <netinet/in.h>

const char *pf_l4_name(uint8_t l4)
{
	switch (l4) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	case IPPROTO_SCTP:
		return "sctp";
	default:
		return "other";
	}
}

bool pf_l4_has_ports(uint8_t l4)
{
	return l4 == IPPROTO_TCP || l4 == IPPROTO_UDP || l4 == IPPROTO_SCTP ||
	       l4 == IPPROTO_UDPLITE || l4 == IPPROTO_DCCP;
}
