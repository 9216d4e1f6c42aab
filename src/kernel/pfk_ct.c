// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Conntrack, through libnetfilter_conntrack: our connections carry a ct mark
 * (PFK_MARK_OURS | forward id), so one kernel-filtered dump finds them all,
 * for 'portfw conns' and for deleting the entries of a changed forward (so
 * its UDP flows follow the new mapping at once instead of keeping the old).
 */
#include "pfk_int.h"
#include "../common/pf_log.h"
#include "../common/pf_util.h"

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
	bool any_id; /* every entry of ours, whatever its forward */
	struct nfct_handle *hd; /* a second handle: deletes during a dump */
	unsigned count;
	pf_flow_cb flow_cb;
	void *flow_arg;
	struct pf_forward *const *fwd; /* adopt: the loaded forwards */
	size_t nfwd;
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
	if (!(mark & PFK_MARK_OURS) || (!c->any_id && !pfk_id_in(c, mark & PFK_MARK_ID)))
		return NFCT_CB_CONTINUE;
	if (c->udp_only && nfct_get_attr_u8(ct, ATTR_L4PROTO) != IPPROTO_UDP)
		return NFCT_CB_CONTINUE;
	/* Noted first: the DESTROY event may be read before the query returns. */
	pfk_flow_killed(ct);
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
/* One end of an entry as an address (and port, where the protocol has them). */
static void pfk_ct_sa(union pf_sa *sa, const struct nf_conntrack *ct, int fam,
		      enum nf_conntrack_attr a4, enum nf_conntrack_attr a6, enum nf_conntrack_attr port,
		      bool ports)
{
	memset(sa, 0, sizeof(*sa));
	if (fam == AF_INET6) {
		sa->sin6.sin6_family = AF_INET6;
		memcpy(&sa->sin6.sin6_addr, nfct_get_attr(ct, a6), 16);
		if (ports)
			sa->sin6.sin6_port = nfct_get_attr_u16(ct, port);
	} else {
		sa->sin.sin_family = AF_INET;
		memcpy(&sa->sin.sin_addr, nfct_get_attr(ct, a4), 4);
		if (ports)
			sa->sin.sin_port = nfct_get_attr_u16(ct, port);
	}
}

static int pfk_ct_list_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	static const char *const states[] = { "none",	     "syn-sent",  "syn-recv",
					      "established", "fin-wait",  "close-wait",
					      "last-ack",    "time-wait", "close",
					      "syn-sent2" };
	struct pfk_ct_ctx *c = data;
	uint32_t mark = nfct_get_attr_u32(ct, ATTR_MARK), id = mark & PFK_MARK_ID;
	int fam = nfct_get_attr_u8(ct, ATTR_L3PROTO);
	struct pf_flow fl = {
		.engine = PF_ENGINE_KERNEL,
		.l4 = nfct_get_attr_u8(ct, ATTR_L4PROTO),
		.known = PF_FLOW_EXPIRES,
		.worker = -1,
		.forward = "",
	};
	bool ports = pf_l4_has_ports(fl.l4);
	const struct pf_forward *f;
	char line[1024];

	(void)type;
	if (!(mark & PFK_MARK_OURS))
		return NFCT_CB_CONTINUE;
	/* The loaded version of the forward (by id: no walk per entry). */
	f = pfk_loaded_by_id(id);
	if (f)
		fl.forward = f->conf.name;
	pfk_ct_sa(&fl.client, ct, fam, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC, ATTR_ORIG_PORT_SRC,
		  ports);
	pfk_ct_sa(&fl.listen, ct, fam, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST, ATTR_ORIG_PORT_DST,
		  ports);
	pfk_ct_sa(&fl.backend, ct, fam, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC, ATTR_REPL_PORT_SRC,
		  ports);
	if (nfct_attr_is_set(ct, ATTR_ORIG_COUNTER_BYTES)) {
		fl.known |= PF_FLOW_BYTES | PF_FLOW_PACKETS;
		fl.bytes_up = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_BYTES);
		fl.bytes_down = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_BYTES);
		fl.packets_up = nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_PACKETS);
		fl.packets_down = nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_PACKETS);
	}
	fl.expires_ms = (uint64_t)nfct_get_attr_u32(ct, ATTR_TIMEOUT) * 1000;
	if (fl.l4 == IPPROTO_TCP) {
		uint8_t st = nfct_get_attr_u8(ct, ATTR_TCP_STATE);

		fl.state = st < PF_ARRAY_SIZE(states) ? states[st] : "?";
	} else {
		fl.state = nfct_get_attr_u32(ct, ATTR_STATUS) & IPS_SEEN_REPLY ? "replied"
									 : "unreplied";
	}
	/* The line /proc/net/nf_conntrack would show. */
	nfct_snprintf(line, sizeof(line), ct, NFCT_T_UNKNOWN, NFCT_O_DEFAULT, NFCT_OF_SHOW_LAYER3);
	fl.detail = line;
	c->flow_cb(&fl, c->flow_arg);
	return NFCT_CB_CONTINUE;
}

void pfk_ct_dump_marked(struct nfct_handle *h, uint32_t mark, uint32_t mask)
{
	struct nfct_filter_dump_mark m = { .val = mark, .mask = mask };
	static const uint8_t fams[] = { AF_INET, AF_INET6 };
	size_t i;

	for (i = 0; i < sizeof(fams); i++) {
		struct nfct_filter_dump *fd = nfct_filter_dump_create();

		if (!fd)
			break;
		nfct_filter_dump_set_attr(fd, NFCT_FILTER_DUMP_MARK, &m);
		nfct_filter_dump_set_attr_u8(fd, NFCT_FILTER_DUMP_L3NUM, fams[i]);
		nfct_query(h, NFCT_Q_DUMP_FILTER, fd);
		nfct_filter_dump_destroy(fd);
	}
}

/* Dumps the entries whose ct mark & mask == mark, of both families, into
 * cb, with a second handle in c for deletes during the dump. */
static int pfk_ct_dump(int (*cb)(enum nf_conntrack_msg_type, struct nf_conntrack *, void *),
		       struct pfk_ct_ctx *c, uint32_t mark, uint32_t mask)
{
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);

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
	pfk_ct_dump_marked(h, mark, mask);
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
	 * skipped: deleting one forward would cost as much as the whole
	 * conntrack table. */
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

/* Whether the entry ct (protocol, original destination) is one forward f
 * takes: its protocols, its ports, its listen address if it has one. */
static bool pfk_ct_fits(const struct pf_forward *f, const struct nf_conntrack *ct)
{
	uint8_t l4 = nfct_get_attr_u8(ct, ATTR_L4PROTO);
	int fam = nfct_get_attr_u8(ct, ATTR_L3PROTO);
	union pf_sa dst;
	uint16_t port;

	if (f->conf.trigger)
		return false;
	pfk_ct_sa(&dst, ct, fam, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST, ATTR_ORIG_PORT_DST,
		  pf_l4_has_ports(l4));
	if (f->conf.lhost[0] && !pf_sa_addr_equal(&dst, &f->laddr))
		return false;
	if (f->conf.protos & PF_PROTO_ALL)
		return true;
	if (!((l4 == IPPROTO_TCP && (f->conf.protos & PF_PROTO_TCP)) ||
	      (l4 == IPPROTO_UDP && (f->conf.protos & PF_PROTO_UDP))))
		return false;
	port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
	return port >= f->conf.lport_lo && port <= f->conf.lport_hi;
}

/*
 * An entry a previous portfwd left: its mark names a forward by that
 * daemon's id. Where this daemon's forward of that id does not take such
 * an entry (the configuration changed, or forwards had been added live),
 * the mark is given the id of the forward that does, or none (listed under
 * no name; flush -k still cuts it). The search is over the loaded forwards,
 * but only for such entries: with the same configuration there are none.
 */
static int pfk_ct_adopt_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct pfk_ct_ctx *c = data;
	uint32_t mark = nfct_get_attr_u32(ct, ATTR_MARK), id = 0;
	const struct pf_forward *f = pfk_loaded_by_id(mark & PFK_MARK_ID);
	struct nf_conntrack *u;
	size_t i;

	(void)type;
	if ((mark & PFK_MARK_TRIG) || (f && pfk_ct_fits(f, ct)) || !(mark & PFK_MARK_ID))
		return NFCT_CB_CONTINUE;
	for (i = 0; i < c->nfwd && !id; i++)
		if (pfk_ct_fits(c->fwd[i], ct))
			id = c->fwd[i]->id;
	u = nfct_new();
	if (!u)
		return NFCT_CB_CONTINUE;
	nfct_copy(u, ct, NFCT_CP_ORIG);
	nfct_set_attr_u32(u, ATTR_MARK, (mark & ~PFK_MARK_ID) | (id & PFK_MARK_ID));
	if (nfct_query(c->hd, NFCT_Q_UPDATE, u) == 0)
		c->count++;
	nfct_destroy(u);
	return NFCT_CB_CONTINUE;
}

unsigned pfk_ct_adopt(struct pf_forward *const *fwd, size_t n)
{
	struct pfk_ct_ctx c = { .fwd = fwd, .nfwd = n };

	pfk_ct_dump(pfk_ct_adopt_cb, &c, PFK_MARK_OURS, PFK_MARK_OURS);
	return c.count;
}

unsigned pfk_ct_kill_all(void)
{
	struct pfk_ct_ctx c = { .any_id = true };

	pfk_ct_dump(pfk_ct_flush_cb, &c, PFK_MARK_OURS, PFK_MARK_OURS);
	return c.count;
}

static int pfk_ct_count_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct pfk_ct_ctx *c = data;

	(void)type;
	(void)ct;
	c->count++;
	return NFCT_CB_CONTINUE;
}

unsigned pfk_ct_count_ours(void)
{
	struct pfk_ct_ctx c = { 0 };

	pfk_ct_dump(pfk_ct_count_cb, &c, PFK_MARK_OURS, PFK_MARK_OURS);
	return c.count;
}

void pfk_ct_list(pf_flow_cb cb, void *arg)
{
	struct pfk_ct_ctx c = { .flow_cb = cb, .flow_arg = arg };

	pfk_ct_dump(pfk_ct_list_cb, &c, PFK_MARK_OURS, PFK_MARK_OURS);
}
