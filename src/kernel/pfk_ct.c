// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Conntrack, through libnetfilter_conntrack: our connections carry a ct mark
 * (PFK_MARK_OURS | forward id), so one kernel-filtered dump finds them all,
 * for 'portfw conns' and for deleting the entries of a changed forward (so
 * its UDP flows follow the new mapping at once instead of keeping the old).
 */
#include "pfk_int.h"
#include "../common/pf_log.h"

#include <arpa/inet.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pfk_ct_port {
	uint16_t lo, hi;
};

struct pfk_ct_ctx {
	const struct pfk_ct_port *ports;
	size_t nports;
	const uint32_t *ids;
	size_t nids;
	bool udp_only;
	struct nfct_handle *hd; /* a second handle: deletes during a dump */
	unsigned count;
	json_t *arr;
	const struct pf_table *t;
};

static bool pfk_id_in(const struct pfk_ct_ctx *c, uint32_t id)
{
	size_t i;

	for (i = 0; i < c->nids; i++)
		if (c->ids[i] == id)
			return true;
	return false;
}

static int pfk_ct_flush_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct pfk_ct_ctx *c = data;
	uint32_t mark = nfct_get_attr_u32(ct, ATTR_MARK);

	(void)type;
	if (!(mark & PFK_MARK_OURS) || !pfk_id_in(c, mark & PFK_MARK_ID))
		return NFCT_CB_CONTINUE;
	if (c->udp_only && nfct_get_attr_u8(ct, ATTR_L4PROTO) != IPPROTO_UDP)
		return NFCT_CB_CONTINUE;
	if (nfct_query(c->hd, NFCT_Q_DESTROY, ct) == 0)
		c->count++;
	return NFCT_CB_CONTINUE;
}

/* UDP entries to a newly forwarded port that are not ours: created while the
 * port was not forwarded (to the gateway itself), they would keep catching
 * the client's datagrams and the new forward would never see them. */
static int pfk_ct_stale_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct pfk_ct_ctx *c = data;
	uint16_t port;
	size_t i;

	(void)type;
	if ((nfct_get_attr_u32(ct, ATTR_MARK) & PFK_MARK_OURS) ||
	    nfct_get_attr_u8(ct, ATTR_L4PROTO) != IPPROTO_UDP)
		return NFCT_CB_CONTINUE;
	port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
	for (i = 0; i < c->nports; i++) {
		if (port >= c->ports[i].lo && port <= c->ports[i].hi) {
			if (nfct_query(c->hd, NFCT_Q_DESTROY, ct) == 0)
				c->count++;
			break;
		}
	}
	return NFCT_CB_CONTINUE;
}

/* Whole-host forwards carry every protocol. */
static const char *pfk_ct_proto(uint8_t proto)
{
	switch (proto) {
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

static bool pfk_ct_has_ports(const struct nf_conntrack *ct)
{
	uint8_t p = nfct_get_attr_u8(ct, ATTR_L4PROTO);

	return p == IPPROTO_TCP || p == IPPROTO_UDP || p == IPPROTO_SCTP || p == IPPROTO_UDPLITE ||
	       p == IPPROTO_DCCP;
}

static void pfk_endpoint(char *buf, size_t len, const struct nf_conntrack *ct, int fam,
			 enum nf_conntrack_attr a4, enum nf_conntrack_attr a6,
			 enum nf_conntrack_attr port)
{
	char a[INET6_ADDRSTRLEN];

	if (!pfk_ct_has_ports(ct)) {
		inet_ntop(fam, nfct_get_attr(ct, fam == AF_INET6 ? a6 : a4), a, sizeof(a));
		snprintf(buf, len, "%s", a);
	} else if (fam == AF_INET6) {
		inet_ntop(AF_INET6, nfct_get_attr(ct, a6), a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(nfct_get_attr_u16(ct, port)));
	} else {
		inet_ntop(AF_INET, nfct_get_attr(ct, a4), a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(nfct_get_attr_u16(ct, port)));
	}
}

static int pfk_ct_list_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct pfk_ct_ctx *c = data;
	uint32_t mark = nfct_get_attr_u32(ct, ATTR_MARK), id = mark & PFK_MARK_ID;
	int fam = nfct_get_attr_u8(ct, ATTR_L3PROTO);
	uint8_t proto = nfct_get_attr_u8(ct, ATTR_L4PROTO);
	const char *name = "";
	char buf[1024];
	json_t *o;
	size_t i;

	(void)type;
	if (!(mark & PFK_MARK_OURS))
		return NFCT_CB_CONTINUE;
	for (i = 0; i < c->t->n; i++)
		if (c->t->fwd[i]->kid == id)
			name = c->t->fwd[i]->conf.name;
	o = json_object();
	json_object_set_new(o, "proto", json_string(pfk_ct_proto(proto)));
	json_object_set_new(o, "engine", json_string("kernel"));
	json_object_set_new(o, "forward", json_string(name));
	pfk_endpoint(buf, sizeof(buf), ct, fam, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC,
		     ATTR_ORIG_PORT_SRC);
	json_object_set_new(o, "client", json_string(buf));
	pfk_endpoint(buf, sizeof(buf), ct, fam, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST,
		     ATTR_ORIG_PORT_DST);
	json_object_set_new(o, "listen", json_string(buf));
	pfk_endpoint(buf, sizeof(buf), ct, fam, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC,
		     ATTR_REPL_PORT_SRC);
	json_object_set_new(o, "backend", json_string(buf));
	if (nfct_attr_is_set(ct, ATTR_ORIG_COUNTER_BYTES)) {
		json_object_set_new(o, "bytes_up",
				    json_integer((json_int_t)nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_BYTES)));
		json_object_set_new(o, "bytes_down",
				    json_integer((json_int_t)nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_BYTES)));
		json_object_set_new(o, "packets_up",
				    json_integer((json_int_t)nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_PACKETS)));
		json_object_set_new(o, "packets_down",
				    json_integer((json_int_t)nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_PACKETS)));
	}
	json_object_set_new(o, "expires_ms",
			    json_integer((json_int_t)nfct_get_attr_u32(ct, ATTR_TIMEOUT) * 1000));
	if (proto == IPPROTO_TCP) {
		static const char *const states[] = { "none",	   "syn-sent",	 "syn-recv",
						      "established", "fin-wait",	 "close-wait",
						      "last-ack",    "time-wait", "close",
						      "syn-sent2" };
		uint8_t st = nfct_get_attr_u8(ct, ATTR_TCP_STATE);

		json_object_set_new(o, "state",
				    json_string(st < sizeof(states) / sizeof(states[0]) ? states[st]
											: "?"));
	} else {
		json_object_set_new(o, "state",
				    json_string(nfct_get_attr_u32(ct, ATTR_STATUS) & IPS_SEEN_REPLY
							? "replied"
							: "unreplied"));
	}
	/* The line /proc/net/nf_conntrack would show. */
	nfct_snprintf(buf, sizeof(buf), ct, NFCT_T_UNKNOWN, NFCT_O_DEFAULT, NFCT_OF_SHOW_LAYER3);
	json_object_set_new(o, "conntrack", json_string(buf));
	json_array_append_new(c->arr, o);
	return NFCT_CB_CONTINUE;
}

/* Dumps our entries (kernel-filtered by mark) of both families into cb. */
/* Dumps the entries whose ct mark & mask == mark (filtered in the kernel). */
static int pfk_ct_dump(int (*cb)(enum nf_conntrack_msg_type, struct nf_conntrack *, void *),
		       struct pfk_ct_ctx *c, uint32_t mark, uint32_t mask)
{
	struct nfct_filter_dump_mark m = { .val = mark, .mask = mask };
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	static const uint8_t fams[] = { AF_INET, AF_INET6 };
	size_t i;

	c->hd = nfct_open(CONNTRACK, 0);
	if (!h || !c->hd) {
		pf_warn("kernel engine: cannot open conntrack");
		if (h)
			nfct_close(h);
		if (c->hd)
			nfct_close(c->hd);
		return -1;
	}
	nfct_callback_register(h, NFCT_T_ALL, cb, c);
	for (i = 0; i < sizeof(fams); i++) {
		struct nfct_filter_dump *fd = nfct_filter_dump_create();

		if (!fd)
			break;
		nfct_filter_dump_set_attr(fd, NFCT_FILTER_DUMP_MARK, &m);
		nfct_filter_dump_set_attr_u8(fd, NFCT_FILTER_DUMP_L3NUM, fams[i]);
		nfct_query(h, NFCT_Q_DUMP_FILTER, fd);
		nfct_filter_dump_destroy(fd);
	}
	nfct_close(h);
	nfct_close(c->hd);
	return 0;
}

static unsigned pfk_ct_flush(const uint32_t *ids, size_t n, bool udp_only)
{
	struct pfk_ct_ctx c = { .ids = ids, .nids = n, .udp_only = udp_only };
	size_t i;

	/* A few forwards (a live change): one dump each, filtered in the kernel
	 * on the forward's own mark, so that the other forwards' connections
	 * (tens of thousands on a busy gateway) are not copied out only to be
	 * skipped: that made deleting one forward take 20-40 ms after a burst of
	 * connections, against 1 ms to add one. */
	if (n <= 8) {
		for (i = 0; i < n; i++)
			pfk_ct_dump(pfk_ct_flush_cb, &c, PFK_MARK_OURS | (ids[i] & PFK_MARK_ID),
				    PFK_MARK_OURS | PFK_MARK_ID);
		return c.count;
	}
	pfk_ct_dump(pfk_ct_flush_cb, &c, PFK_MARK_OURS, PFK_MARK_OURS);
	return c.count;
}

unsigned pfk_ct_flush_stale(const struct pf_forward *const *f, size_t n)
{
	struct pfk_ct_port *ports = calloc(n ? n : 1, sizeof(*ports));
	struct pfk_ct_ctx c = { .ports = ports };
	size_t i;

	if (!ports)
		return 0;
	for (i = 0; i < n; i++) {
		/* A trigger's range is also where its inside hosts talk to (a game
		 * server's ports): their flows out are not stale. */
		if (!(f[i]->conf.protos & PF_PROTO_UDP) || f[i]->conf.trigger)
			continue;
		ports[c.nports].lo = f[i]->conf.lport_lo;
		ports[c.nports++].hi = f[i]->conf.lport_hi;
	}
	if (c.nports)
		pfk_ct_dump(pfk_ct_stale_cb, &c, 0, 0);
	free(ports);
	return c.count;
}

unsigned pfk_ct_flush_ids(const uint32_t *ids, size_t n)
{
	return pfk_ct_flush(ids, n, true);
}

unsigned pfk_ct_kill_ids(const uint32_t *ids, size_t n)
{
	return pfk_ct_flush(ids, n, false);
}

void pfk_ct_list(json_t *arr, const struct pf_table *t)
{
	struct pfk_ct_ctx c = { .arr = arr, .t = t };

	pfk_ct_dump(pfk_ct_list_cb, &c, PFK_MARK_OURS, PFK_MARK_OURS);
}
