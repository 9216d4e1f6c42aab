// SPDX-License-Identifier: GPL-2.0-or-later
#include "pf_route.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static int pf_route_attr(const struct nlattr *a, void *data)
{
	struct pf_route *rt = data;
	uint16_t len = mnl_attr_get_payload_len(a);

	switch (mnl_attr_get_type(a)) {
	case RTA_OIF:
		if (len >= 4 && !if_indextoname(mnl_attr_get_u32(a), rt->oif))
			rt->oif[0] = '\0';
		break;
	case RTA_GATEWAY:
		if (len == 4) {
			rt->gw.sin.sin_family = AF_INET;
			memcpy(&rt->gw.sin.sin_addr, mnl_attr_get_payload(a), 4);
		} else if (len == 16) {
			rt->gw.sin6.sin6_family = AF_INET6;
			memcpy(&rt->gw.sin6.sin6_addr, mnl_attr_get_payload(a), 16);
		}
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

static int pf_route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rm = mnl_nlmsg_get_payload(nlh);
	struct pf_route *rt = data;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rm))
		return MNL_CB_ERROR;
	rt->type = rm->rtm_type;
	return mnl_attr_parse(nlh, sizeof(*rm), pf_route_attr, rt);
}

int pf_route_get(const union pf_sa *dst, struct pf_route *rt)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct mnl_socket *nl;
	struct rtmsg *rm;
	unsigned seq = (unsigned)time(NULL);
	ssize_t n;
	int rc;

	memset(rt, 0, sizeof(*rt));
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	rm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rm));
	rm->rtm_family = (unsigned char)dst->sa.sa_family;
	if (dst->sa.sa_family == AF_INET6) {
		rm->rtm_dst_len = 128;
		mnl_attr_put(nlh, RTA_DST, 16, &dst->sin6.sin6_addr);
	} else {
		rm->rtm_dst_len = 32;
		mnl_attr_put(nlh, RTA_DST, 4, &dst->sin.sin_addr);
	}
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	/* An unreachable destination is an error message (ENETUNREACH). */
	rc = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), pf_route_cb, rt);
	rc = rc < 0 ? (errno ? -errno : -EIO) : 0;
out:
	mnl_socket_close(nl);
	return rc;
}
