// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Counters of the kernel engine's forwards, from conntrack events: the
 * kernel carries their flows, so the daemon learns of one only when
 * conntrack tells it. A NEW event of one of our entries (ct mark
 * PFK_MARK_OURS | forward id) counts a flow of the forward and of the
 * backend it was sent to (the reply tuple's source); an UPDATE that shows
 * TCP closed it (TIME_WAIT, CLOSE) ends it as an active flow (pfk_closed.c),
 * and its DESTROY event, when conntrack lets go of the entry, adds its
 * accounting (nf_conntrack_acct: the original direction is up, the reply
 * direction down) to both; an entry DESTROYed without such an UPDATE (UDP,
 * a timeout, a flush) ends then.
 *
 * The bytes are conntrack's: whole IP packets, headers included (L3), not
 * the payload the user engine counts.
 *
 * Events come on a netlink socket in the engine's event set, filtered in
 * the kernel on our mark, and read in batches (pfk_sys_watch_batched). Of
 * an entry of ours conntrack reports only its creation, its close (the
 * table's closing chain sets PFK_MARK_DONE) and its end, unless portfwd
 * runs with --conntrack-events all (pfk_render.c says why). When the
 * socket overflows (ENOBUFS) events are lost: active flows are counted
 * again from a dump; connections and bytes of the lost ones are not, and
 * the loss is counted and logged.
 */
#include "pfk_int.h"
#include "../common/pf_log.h"
#include "../common/pf_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <string.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <sys/socket.h>

/* Room for a burst of events while the main loop is busy elsewhere. */
#define PFK_STATS_RCVBUF (8 << 20)
#define PFK_STATS_LOST_LOG_MS 10000
/* Datagrams read by one system call, and the room for each: an event of
 * an entry with every attribute (helper, sequence adjustment, labels)
 * stays well under a page. */
#define PFK_STATS_BATCH 32
#define PFK_STATS_MSG 4096

static struct nfct_handle *pfk_st_ev;
/* An event parsed (pfk_stats_event), reset from blank before each. */
static struct nf_conntrack *pfk_st_ct, *pfk_st_blank;
static bool pfk_st_lost; /* a resync is due */
static uint64_t pfk_st_nlost; /* overflows since the start */
static struct pf_ratelimit pfk_st_rl;

/* One end of an entry's tuple as an address with its port (0 without). */
static void pfk_stats_sa(union pf_sa *sa, const struct nf_conntrack *ct, int fam,
			 enum nf_conntrack_attr a4, enum nf_conntrack_attr a6,
			 enum nf_conntrack_attr port)
{
	uint8_t l4 = nfct_get_attr_u8(ct, ATTR_L4PROTO);

	memset(sa, 0, sizeof(*sa));
	if (fam == AF_INET6) {
		sa->sin6.sin6_family = AF_INET6;
		memcpy(&sa->sin6.sin6_addr, nfct_get_attr(ct, a6), 16);
	} else {
		sa->sin.sin_family = AF_INET;
		memcpy(&sa->sin.sin_addr, nfct_get_attr(ct, a4), 4);
	}
	if (pf_l4_has_ports(l4))
		pf_sa_set_port(sa, ntohs(nfct_get_attr_u16(ct, port)));
}

void pfk_stats_ends(const struct nf_conntrack *ct, union pf_sa *client, union pf_sa *listen,
		    union pf_sa *backend)
{
	int fam = nfct_get_attr_u8(ct, ATTR_L3PROTO);

	pfk_stats_sa(client, ct, fam, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC, ATTR_ORIG_PORT_SRC);
	pfk_stats_sa(listen, ct, fam, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST, ATTR_ORIG_PORT_DST);
	pfk_stats_sa(backend, ct, fam, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC, ATTR_REPL_PORT_SRC);
}

/* The backend of f a flow went to: its address and port, else its address
 * alone (a whole-host forward, a port range); NULL: none of f's now. */
static struct pf_backend *pfk_stats_backend(const struct pf_forward *f, const union pf_sa *listen,
					    const union pf_sa *to)
{
	struct pf_backend *by_addr = NULL;
	uint32_t b;

	for (b = 0; b < f->nbe; b++) {
		struct pf_backend *be = &f->be[b];

		if (!pf_sa_addr_equal(&be->addr, to))
			continue;
		if (pf_backend_port(f, be, pf_sa_port(listen)) == pf_sa_port(to))
			return be;
		if (!by_addr)
			by_addr = be;
	}
	return by_addr;
}

/* active - 1, never below 0: an entry made before the subscription ends
 * without its NEW having been counted. */
static void pfk_stats_dec(struct pf_stats *st)
{
	uint64_t v = atomic_load_explicit(&st->active, memory_order_relaxed);

	while (v && !atomic_compare_exchange_weak(&st->active, &v, v - 1))
		;
}

static void pfk_stats_add(struct pf_stats *st, const struct nf_conntrack *ct)
{
	if (!nfct_attr_is_set(ct, ATTR_ORIG_COUNTER_BYTES))
		return;
	atomic_fetch_add_explicit(&st->bytes_up, nfct_get_attr_u64(ct, ATTR_ORIG_COUNTER_BYTES),
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&st->bytes_down, nfct_get_attr_u64(ct, ATTR_REPL_COUNTER_BYTES),
				  memory_order_relaxed);
}

static int pfk_stats_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	uint32_t mark = nfct_get_attr_u32(ct, ATTR_MARK);
	const struct pf_forward *f;
	union pf_sa client, listen, to;
	struct pf_backend *be;

	uint32_t id = nfct_get_attr_u32(ct, ATTR_ID);
	bool was_closed = false;

	(void)data;
	if (!(mark & PFK_MARK_OURS))
		return NFCT_CB_CONTINUE;
	/* Whatever became of its forward: the set forgets the entry. */
	if (type == NFCT_T_DESTROY)
		was_closed = pfk_closed_del(id);
	/* The forward as loaded now; a flow of one that is gone counts nowhere. */
	f = pfk_loaded_by_id(mark & PFK_MARK_ID);
	if (!f)
		return NFCT_CB_CONTINUE;
	pfk_stats_ends(ct, &client, &listen, &to);
	be = pfk_stats_backend(f, &listen, &to);
	if (type == NFCT_T_UPDATE) {
		/* TCP closed it: the flow is over, though conntrack keeps the
		 * entry (TIME_WAIT) until it expires. */
		if (pfk_ct_closed(ct) && pfk_closed_add(id)) {
			pfk_stats_dec(f->st);
			if (be)
				pfk_stats_dec(be->st);
		}
	} else if (type == NFCT_T_NEW) {
		atomic_fetch_add_explicit(&f->st->conns, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&f->st->active, 1, memory_order_relaxed);
		if (be) {
			atomic_fetch_add_explicit(&be->st->conns, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&be->st->active, 1, memory_order_relaxed);
		}
	} else if (type == NFCT_T_DESTROY) {
		if (!was_closed)
			pfk_stats_dec(f->st);
		pfk_stats_add(f->st, ct);
		if (be) {
			if (!was_closed)
				pfk_stats_dec(be->st);
			pfk_stats_add(be->st, ct);
		}
		pfk_flow_ended(f, ct, &client, &listen, &to);
	}
	return NFCT_CB_CONTINUE;
}

static void pfk_stats_lose(void)
{
	uint64_t n;

	pfk_st_lost = true;
	pfk_st_nlost++;
	n = pf_ratelimit_ok(&pfk_st_rl, PFK_STATS_LOST_LOG_MS);
	if (n)
		pf_warn("kernel engine: conntrack events were lost (ENOBUFS, %" PRIu64
			" time%s, %" PRIu64 " in all): active flows are counted again; "
			"connections and bytes of the lost flows are not counted",
			n, n == 1 ? "" : "s", pfk_st_nlost);
}

/* One datagram's events. A NEW message without NLM_F_CREATE is an update. */
static void pfk_stats_parse(const char *buf, size_t len)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	enum nf_conntrack_msg_type type;

	for (; len >= sizeof(*nlh) && NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
		switch (NFNL_MSG_TYPE(nlh->nlmsg_type)) {
		case IPCTNL_MSG_CT_NEW:
			type = nlh->nlmsg_flags & NLM_F_CREATE ? NFCT_T_NEW : NFCT_T_UPDATE;
			break;
		case IPCTNL_MSG_CT_DELETE:
			type = NFCT_T_DESTROY;
			break;
		default:
			continue;
		}
		nfct_copy(pfk_st_ct, pfk_st_blank, NFCT_CP_OVERRIDE);
		if (nfct_nlmsg_parse(nlh, pfk_st_ct) == 0)
			pfk_stats_cb(type, pfk_st_ct, NULL);
	}
}

/* What came since the last batch: many datagrams a system call, parsed
 * into one object, where nfct_catch takes a call and an allocation for
 * each event. */
static void pfk_stats_event(void)
{
	static char buf[PFK_STATS_BATCH][PFK_STATS_MSG];
	struct mmsghdr m[PFK_STATS_BATCH];
	struct iovec iov[PFK_STATS_BATCH];
	int fd, n, i;

	if (!pfk_st_ev)
		return;
	fd = nfct_fd(pfk_st_ev);
	for (;;) {
		memset(m, 0, sizeof(m));
		for (i = 0; i < PFK_STATS_BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, m, PFK_STATS_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == ENOBUFS) {
				pfk_stats_lose();
				continue;
			}
			if (errno == EINTR)
				continue;
			return; /* EAGAIN: drained */
		}
		for (i = 0; i < n; i++) {
			/* An event larger than a buffer: counted again from a dump. */
			if (m[i].msg_hdr.msg_flags & MSG_TRUNC) {
				pfk_stats_lose();
				continue;
			}
			pfk_stats_parse(buf[i], m[i].msg_len);
		}
		if (n < PFK_STATS_BATCH)
			return;
	}
}

bool pfk_stats_lost(void)
{
	return pfk_st_lost;
}

static int pfk_stats_count_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct,
			      void *data)
{
	uint32_t mark = nfct_get_attr_u32(ct, ATTR_MARK);
	const struct pf_forward *f = pfk_loaded_by_id(mark & PFK_MARK_ID);
	union pf_sa client, listen, to;
	struct pf_backend *be;

	(void)type;
	(void)data;
	if (!(mark & PFK_MARK_OURS))
		return NFCT_CB_CONTINUE;
	if (pfk_ct_closed(ct)) {
		/* Without events no UPDATE will need to know it is closed. */
		if (!pfk_events_none())
			pfk_closed_add(nfct_get_attr_u32(ct, ATTR_ID));
		return NFCT_CB_CONTINUE;
	}
	if (!f)
		return NFCT_CB_CONTINUE;
	pfk_stats_ends(ct, &client, &listen, &to);
	be = pfk_stats_backend(f, &listen, &to);
	atomic_fetch_add_explicit(&f->st->active, 1, memory_order_relaxed);
	if (be)
		atomic_fetch_add_explicit(&be->st->active, 1, memory_order_relaxed);
	return NFCT_CB_CONTINUE;
}

void pfk_stats_resync(struct pf_forward *const *fwd, size_t n)
{
	struct nfct_handle *h;
	size_t i;
	uint32_t b;

	pfk_st_lost = false;
	h = nfct_open(CONNTRACK, 0);
	if (!h)
		return;
	pfk_closed_clear();
	for (i = 0; i < n; i++) {
		atomic_store(&fwd[i]->st->active, 0);
		for (b = 0; b < fwd[i]->nbe; b++)
			atomic_store(&fwd[i]->be[b].st->active, 0);
	}
	nfct_callback_register(h, NFCT_T_ALL, pfk_stats_count_cb, NULL);
	/* Under -E none this runs on every read of the counters, and the
	 * closed flows waiting in TIME_WAIT (two minutes of connections) are
	 * most of our entries: the kernel leaves out those the closing chain
	 * marked done. With events the dump must see them too (pfk_closed). */
	pfk_ct_dump_marked(h, PFK_MARK_OURS,
			   pfk_events_none() ? PFK_MARK_OURS | PFK_MARK_DONE : PFK_MARK_OURS);
	nfct_close(h);
}

int pfk_stats_start(void)
{
	struct nfct_filter_dump_mark m = { .val = PFK_MARK_OURS, .mask = PFK_MARK_OURS };
	struct nfct_filter *flt;
	int fd, rcv = PFK_STATS_RCVBUF;

	if (pfk_st_ev)
		return 0;
	/* Before the first entry of ours: accounting and timestamps are given
	 * to entries made after they are turned on. Put back at stop. */
	pfk_sysctl_set("/proc/sys/net/netfilter/nf_conntrack_acct", "1",
		       "bytes of the kernel engine's flows");
	pfk_sysctl_set("/proc/sys/net/netfilter/nf_conntrack_timestamp", "1",
		       "durations of the kernel engine's flows");
	/* UPDATE too: TCP's close is when a flow stops being active. On one
	 * socket: an entry's events are read in the order they were sent. */
	if (!pfk_st_ct)
		pfk_st_ct = nfct_new();
	if (!pfk_st_blank)
		pfk_st_blank = nfct_new();
	if (!pfk_st_ct || !pfk_st_blank) {
		pf_warn("kernel engine: out of memory for conntrack events: its forwards show "
			"no connections or bytes");
		return -1;
	}
	pfk_st_ev = nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_UPDATE |
						 NF_NETLINK_CONNTRACK_DESTROY);
	if (!pfk_st_ev) {
		pf_warn("kernel engine: cannot subscribe to conntrack events (%s): its forwards "
			"show no connections or bytes",
			strerror(errno));
		return -1;
	}
	fd = nfct_fd(pfk_st_ev);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	/* Past rmem_max where the capability allows it. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	flt = nfct_filter_create();
	if (flt) {
		nfct_filter_add_attr(flt, NFCT_FILTER_MARK, &m);
		if (nfct_filter_attach(fd, flt) < 0)
			pf_warn("kernel engine: no kernel filter on conntrack events: %s",
				strerror(errno));
		nfct_filter_destroy(flt);
	}
	if (pfk_sys_watch_batched(fd, pfk_stats_event) < 0) {
		pf_warn("kernel engine: cannot watch conntrack events");
		pfk_stats_stop();
		return -1;
	}
	pfk_st_lost = false;
	pfk_st_nlost = 0;
	return 0;
}

void pfk_stats_stop(void)
{
	if (pfk_st_ct)
		nfct_destroy(pfk_st_ct);
	if (pfk_st_blank)
		nfct_destroy(pfk_st_blank);
	pfk_st_ct = pfk_st_blank = NULL;
	if (!pfk_st_ev)
		return;
	pfk_sys_unwatch(nfct_fd(pfk_st_ev));
	nfct_close(pfk_st_ev);
	pfk_st_ev = NULL;
	pfk_closed_clear();
}
