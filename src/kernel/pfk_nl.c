// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Map elements of 'inet portfw' added and deleted through nfnetlink (libmnl),
 * one batch per call: one transaction, all or nothing.
 *
 * Why not libnftables for these: it parses each element as text, on its own
 * CPU, before the kernel sees any, and each command first lists the table's
 * objects to fill its cache. An element here is a few bytes in a message that carries
 * up to PFK_NL_PER_MSG of them.
 */
#include "pfk_int.h"
#include "../common/pf_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#define PFK_NL_PER_MSG 512

static const char *const pfk_set_names[PFK_SET_N] = {
	[PFK_SET_M_IN4] = "m_in4", [PFK_SET_D4_IN4] = "d4_in4",
	[PFK_SET_M_IN6] = "m_in6", [PFK_SET_D6_IN6] = "d6_in6",
	[PFK_SET_M_IFC] = "m_ifc", [PFK_SET_D4_IFC] = "d4_ifc",
	[PFK_SET_D6_IFC] = "d6_ifc", [PFK_SET_M_ANY] = "m_any",
	[PFK_SET_D4_ANY] = "d4_any", [PFK_SET_D6_ANY] = "d6_any",
};

const char *pfk_set_name(unsigned set)
{
	return set < PFK_SET_N ? pfk_set_names[set] : "?";
}

void pfk_ops_add(struct pfk_ops *o, const struct pfk_op *op)
{
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 64;
		struct pfk_op *v = realloc(o->v, cap * sizeof(*v));

		if (!v) {
			o->oom = true;
			return;
		}
		o->v = v;
		o->cap = cap;
	}
	o->v[o->n++] = *op;
}

void pfk_ops_free(struct pfk_ops *o)
{
	free(o->v);
	memset(o, 0, sizeof(*o));
}

static struct mnl_socket *pfk_nl;
static unsigned pfk_nl_buf; /* the socket's buffer sizes as last set */

static int pfk_nl_open(char *err, size_t errlen)
{
	int one = 1;

	if (pfk_nl)
		return 0;
	pfk_nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!pfk_nl || mnl_socket_bind(pfk_nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		snprintf(err, errlen, "kernel engine: nfnetlink socket: %s", strerror(errno));
		if (pfk_nl)
			mnl_socket_close(pfk_nl);
		pfk_nl = NULL;
		return -1;
	}
	/* Acks without a copy of the request: a batch of elements is megabytes. */
	mnl_socket_setsockopt(pfk_nl, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(pfk_nl, NETLINK_EXT_ACK, &one, sizeof(one));
	{
		struct timeval tv = { .tv_sec = 10 };

		setsockopt(mnl_socket_get_fd(pfk_nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	pfk_nl_buf = 0;
	return 0;
}

void pfk_nl_close(void)
{
	if (pfk_nl)
		mnl_socket_close(pfk_nl);
	pfk_nl = NULL;
}

static void pfk_nl_batch_mark(char *buf, uint16_t type, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC;
	g->version = NFNETLINK_V0;
	g->res_id = htons(NFNL_SUBSYS_NFTABLES);
}

/* One NEWSETELEM / DELSETELEM message with ops v[0..n) (same set and verb). */
static size_t pfk_nl_elems(char *buf, const struct pfk_op *const *v, size_t n, bool undo,
			   uint32_t seq)
{
	bool del = v[0]->del != undo;
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;
	struct nlattr *list;
	size_t i;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | (del ? NFT_MSG_DELSETELEM
							     : NFT_MSG_NEWSETELEM);
	/* Without NLM_F_EXCL an element already there with the same data is no
	 * error (a reload after a refused diff puts back what is there). */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (del ? 0 : NLM_F_CREATE);
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = NFPROTO_INET;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, "portfw");
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, pfk_set_name(v[0]->set));
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	for (i = 0; i < n; i++) {
		struct nlattr *e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM), *d;

		d = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
		mnl_attr_put(nlh, NFTA_DATA_VALUE, v[i]->klen, v[i]->key);
		mnl_attr_nest_end(nlh, d);
		if (!del && v[i]->dlen) {
			d = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
			mnl_attr_put(nlh, NFTA_DATA_VALUE, v[i]->dlen, v[i]->data);
			mnl_attr_nest_end(nlh, d);
		}
		mnl_attr_nest_end(nlh, e);
	}
	mnl_attr_nest_end(nlh, list);
	return nlh->nlmsg_len;
}

/* Reads the acks of nmsg messages numbered first..; the first error wins. */
static int pfk_nl_acks(uint32_t first, uint32_t nmsg, const struct pfk_op *const *msg_op,
		       char *err, size_t errlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint32_t got = 0;
	int rc = 0;

	while (got < nmsg) {
		ssize_t len = mnl_socket_recvfrom(pfk_nl, buf, sizeof(buf));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int left = (int)len;

		if (len < 0) {
			snprintf(err, errlen, "kernel engine: nfnetlink: no answer to a change of "
					      "map elements: %s",
				 strerror(errno));
			return -1;
		}
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_seq < first ||
			    nlh->nlmsg_seq >= first + nmsg)
				continue;
			got++;
			if (e->error && !rc) {
				const struct pfk_op *op = msg_op[nlh->nlmsg_seq - first];

				snprintf(err, errlen,
					 "kernel engine: the kernel refused a change of map %s: %s",
					 pfk_set_name(op->set),
					 e->error == -ENFILE ? "the map is full" : strerror(-e->error));
				rc = -1;
			}
		}
	}
	return rc;
}

/* The ops in the order they go: deletes first (an element replaced in the same
 * batch must be gone before its key comes back), each map's together (one
 * message carries up to PFK_NL_PER_MSG of one map). undo swaps the verbs. */
static const struct pfk_op **pfk_nl_order(const struct pfk_ops *o, bool undo)
{
	size_t start[(size_t)2 * PFK_SET_N + 1] = { 0 }, i, b;
	const struct pfk_op **v = calloc(o->n + 1, sizeof(*v));

	if (!v)
		return NULL;
	for (i = 0; i < o->n; i++)
		start[((o->v[i].del != undo) ? 0 : PFK_SET_N) + o->v[i].set + 1]++;
	for (b = 1; b <= (size_t)2 * PFK_SET_N; b++)
		start[b] += start[b - 1];
	for (i = 0; i < o->n; i++)
		v[start[((o->v[i].del != undo) ? 0 : PFK_SET_N) + o->v[i].set]++] = &o->v[i];
	return v;
}

int pfk_nl_apply(const struct pfk_ops *o, bool undo, char *err, size_t errlen)
{
	static uint32_t seq = 1;
	size_t cap, len, i, j, nmsg = 0;
	const struct pfk_op **v = NULL, **msg_op = NULL;
	uint32_t first;
	char *buf = NULL;
	int rc = -1;

	if (!o->n)
		return 0;
	if (o->oom) {
		snprintf(err, errlen, "kernel engine: out of memory");
		return -1;
	}
	if (pfk_nl_open(err, errlen))
		return -1;
	v = pfk_nl_order(o, undo);
	/* At most a message per map and verb, plus one per PFK_NL_PER_MSG. */
	cap = 4096 + ((size_t)2 * PFK_SET_N + o->n / PFK_NL_PER_MSG + 1) * 256 + o->n * 96;
	buf = malloc(cap);
	msg_op = calloc(o->n + 1, sizeof(*msg_op));
	if (!v || !buf || !msg_op) {
		snprintf(err, errlen, "kernel engine: out of memory");
		goto out;
	}
	pfk_nl_batch_mark(buf, NFNL_MSG_BATCH_BEGIN, seq++);
	len = ((struct nlmsghdr *)buf)->nlmsg_len;
	first = seq;
	for (i = 0; i < o->n; i = j) {
		for (j = i + 1; j < o->n && j - i < PFK_NL_PER_MSG; j++)
			if (v[j]->set != v[i]->set || v[j]->del != v[i]->del)
				break;
		len += pfk_nl_elems(buf + len, v + i, j - i, undo, seq++);
		msg_op[nmsg++] = v[i];
	}
	pfk_nl_batch_mark(buf + len, NFNL_MSG_BATCH_END, seq++);
	len += ((struct nlmsghdr *)(buf + len))->nlmsg_len;
	if (len + 4096 > pfk_nl_buf) {
		int sz = (int)(len + 65536);

		/* One batch is one message to the kernel: the socket must hold it,
		 * and the acks of all its messages (about 1 KiB each as queued)
		 * must fit before we read them. */
		setsockopt(mnl_socket_get_fd(pfk_nl), SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
		setsockopt(mnl_socket_get_fd(pfk_nl), SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
		pfk_nl_buf = (unsigned)sz;
	}
	if (mnl_socket_sendto(pfk_nl, buf, len) < 0) {
		snprintf(err, errlen, "kernel engine: nfnetlink: sending %zu map elements: %s",
			 o->n, strerror(errno));
		/* The socket may hold a half-read answer now: start afresh. */
		pfk_nl_close();
		goto out;
	}
	rc = pfk_nl_acks(first, (uint32_t)nmsg, msg_op, err, errlen);
	if (rc)
		pfk_nl_close();
out:
	free(v);
	free(msg_op);
	free(buf);
	return rc;
}
