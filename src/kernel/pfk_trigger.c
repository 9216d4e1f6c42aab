// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Port triggering (ipmasqadm autofw -c): when a host inside opens a
 * connection out to a trigger's control port, the trigger's range is
 * forwarded to it for the trigger's timeout.
 *
 * The forward chain marks such a connection (PFK_MARK_TRIG, only for
 * connections arriving from a non-WAN interface to a control port in
 * @trig_ctl), so a kernel-filtered conntrack NEW event subscription sees
 * exactly those. On one, the trigger's chain tN_nat (after tN, its ACL) gets
 * a DNAT to the host and the map @trig an element "range : goto tN" with a
 * timeout: the kernel expires it, no timer of ours is needed. As with AUTOFW, one host holds a
 * range at a time; another host's control connection opens it to that host
 * only once the first one's has expired. A new control connection of the
 * holder starts its timeout again.
 */
#include "pfk_int.h"
#include "../common/pf_log.h"
#include "../common/pf_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pfk_trig {
	struct pf_forward *f; /* the trigger as in the running table */
	union pf_sa host; /* holder (IPv4) */
	uint64_t until_ms; /* monotonic; 0: nobody holds it */
};

static struct pfk_trig *pfk_tr;
static size_t pfk_ntr;
static struct nfct_handle *pfk_ev;

static struct pfk_trig *pfk_trig_find(uint32_t id)
{
	size_t i;

	for (i = 0; i < pfk_ntr; i++)
		if (pfk_tr[i].f->id == id)
			return &pfk_tr[i];
	return NULL;
}

bool pfk_trig_holder(uint32_t id, union pf_sa *host, uint64_t *left_ms)
{
	const struct pfk_trig *tr = pfk_trig_find(id);
	uint64_t now = pf_now_ms();

	if (!tr || tr->until_ms <= now)
		return false;
	*host = tr->host;
	*left_ms = tr->until_ms - now;
	return true;
}

static int pfk_trig_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data);
static void pfk_trig_event(void);

/* Subscribes to conntrack NEW events (first: since kernel 5.19 events are
 * only recorded for connections created while a listener exists). */
static int pfk_trig_subscribe(void)
{
	struct nfct_filter_dump_mark m = { .val = PFK_MARK_TRIG, .mask = PFK_MARK_TRIG };
	struct nfct_filter *flt;
	int fd, rcv = 1 << 20;

	pfk_ev = nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_NEW);
	if (!pfk_ev) {
		pf_warn("kernel engine: triggers: cannot subscribe to conntrack events: %s",
			strerror(errno));
		return -1;
	}
	fd = nfct_fd(pfk_ev);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	/* Only our marked connections reach us (checked again in the callback). */
	flt = nfct_filter_create();
	if (flt) {
		nfct_filter_add_attr(flt, NFCT_FILTER_MARK, &m);
		if (nfct_filter_attach(fd, flt) < 0)
			pf_warn("kernel engine: triggers: no kernel event filter: %s",
				strerror(errno));
		nfct_filter_destroy(flt);
	}
	nfct_callback_register(pfk_ev, NFCT_T_NEW, pfk_trig_cb, NULL);
	if (pfk_sys_watch(fd, pfk_trig_event) < 0)
		pf_warn("kernel engine: triggers: cannot watch conntrack events");
	return 0;
}

void pfk_trig_sync(struct pf_forward *const *fwd, size_t n)
{
	struct pfk_trig *nt;
	size_t i, k = 0;

	nt = pf_xcalloc(n ? n : 1, sizeof(*nt));
	for (i = 0; i < n; i++) {
		const struct pfk_trig *old;

		if (!fwd[i]->conf.trigger)
			continue;
		old = pfk_trig_find(fwd[i]->id);
		if (old)
			nt[k] = *old; /* the holder stays while the trigger's key does */
		nt[k++].f = pf_forward_ref(fwd[i]);
	}
	for (i = 0; i < pfk_ntr; i++)
		pf_forward_unref(pfk_tr[i].f);
	free(pfk_tr);
	pfk_tr = nt;
	pfk_ntr = k;
	if (pfk_ntr && !pfk_ev)
		pfk_trig_subscribe();
}


static void pfk_trig_fire(struct pfk_trig *tr, const union pf_sa *host)
{
	const struct pf_forward *f = tr->f;
	struct pf_buf b = { 0 };
	uint64_t now = pf_now_ms();
	bool same = tr->until_ms > now && pf_sa_addr_equal(&tr->host, host);
	char a[PF_ADDRSTR_MAX], h[PF_ADDRSTR_MAX], err[512], dur[32];
	uint32_t proto;

	pf_sa_format(host, false, a, sizeof(a));
	if (tr->until_ms > now && !same) {
		pf_sa_format(&tr->host, false, h, sizeof(h));
		pf_info("trigger '%s': %s %u-%u is held by %s for %llums more; %s's connection "
			"does not take it",
			f->conf.name, pf_proto_name(f->conf.protos),
			f->conf.lport_lo, f->conf.lport_hi, h,
			(unsigned long long)(tr->until_ms - now), a);
		return;
	}
	if (!same) {
		/* A new holder: the chain's DNAT names it before the range opens. */
		pfk_out(&b, "flush chain inet portfw t%u_nat\n", f->id);
		pfk_out(&b, "add rule inet portfw t%u_nat ct mark set 0x%x\n", f->id,
			PFK_MARK_OURS | f->id);
		pfk_out(&b, "add rule inet portfw t%u_nat meta nfproto ipv4 dnat ip to %s\n", f->id,
			a);
	}
	/* Adding an element that is there already starts its timeout again. */
	for (proto = PF_PROTO_TCP; proto <= PF_PROTO_UDP; proto <<= 1)
		if (f->conf.protos & proto)
			pfk_out(&b,
				"add element inet portfw trig { %s . %u-%u timeout %llums : goto t%u }\n",
				proto == PF_PROTO_TCP ? "tcp" : "udp", f->conf.lport_lo, f->conf.lport_hi,
				(unsigned long long)f->conf.trig_ms, f->id);
	if (b.err || pfk_nft_run(b.s, err, sizeof(err))) {
		pf_err("trigger '%s': cannot open %s %u-%u to %s: %s", f->conf.name,
		       pf_proto_name(f->conf.protos), f->conf.lport_lo, f->conf.lport_hi, a,
		       b.err ? "out of memory" : err);
		pf_buf_free(&b);
		return;
	}
	pf_buf_free(&b);
	tr->host = *host;
	tr->until_ms = now + f->conf.trig_ms;
	pf_format_duration(f->conf.trig_ms, dur, sizeof(dur));
	pf_info("trigger '%s': %s %u-%u %s to %s for %s (connection out to %s %u)",
		f->conf.name,
		pf_proto_name(f->conf.protos), f->conf.lport_lo,
		f->conf.lport_hi, same ? "stays open" : "open",
		a, dur, pf_proto_name(f->conf.trig_proto), f->conf.trig_port);
}

static int pfk_trig_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	uint8_t l4 = nfct_get_attr_u8(ct, ATTR_L4PROTO);
	uint16_t dport;
	union pf_sa host = { 0 };
	size_t i;

	(void)type;
	(void)data;
	if (!(nfct_get_attr_u32(ct, ATTR_MARK) & PFK_MARK_TRIG) ||
	    nfct_get_attr_u8(ct, ATTR_L3PROTO) != AF_INET ||
	    (l4 != IPPROTO_TCP && l4 != IPPROTO_UDP))
		return NFCT_CB_CONTINUE; /* triggers open ranges to IPv4 hosts */
	dport = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
	host.sin.sin_family = AF_INET;
	host.sin.sin_addr.s_addr = nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_SRC);
	for (i = 0; i < pfk_ntr; i++) {
		const struct pf_forward *f = pfk_tr[i].f;

		if (f->conf.trig_port == dport &&
		    f->conf.trig_proto == (l4 == IPPROTO_TCP ? PF_PROTO_TCP : PF_PROTO_UDP))
			pfk_trig_fire(&pfk_tr[i], &host);
	}
	return NFCT_CB_CONTINUE;
}

static void pfk_trig_event(void)
{
	if (!pfk_ev)
		return;
	/* Non-blocking: returns once the socket is drained (EAGAIN). */
	if (nfct_catch(pfk_ev) < 0 && errno == ENOBUFS)
		pf_warn("kernel engine: triggers: conntrack events were lost (ENOBUFS); "
			"a control connection may have gone unseen");
}

bool pfk_trig_state(const struct pf_forward *f, struct pf_trigger_state *ts)
{
	return f->conf.trigger && pfk_trig_holder(f->id, &ts->holder, &ts->left_ms);
}

void pfk_trig_stop(void)
{
	size_t i;

	for (i = 0; i < pfk_ntr; i++)
		pf_forward_unref(pfk_tr[i].f);
	free(pfk_tr);
	pfk_tr = NULL;
	pfk_ntr = 0;
	if (pfk_ev) {
		pfk_sys_unwatch(nfct_fd(pfk_ev));
		nfct_close(pfk_ev);
	}
	pfk_ev = NULL;
}
