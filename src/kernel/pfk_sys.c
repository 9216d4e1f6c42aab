// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the kernel engine changes around its table, and what it follows:
 *
 * - sysctls (ip_forward, forwarding, route_localnet): each is set only
 *   where it differs, its first value is kept, and a stop that removes the
 *   table puts every one back (one that leaves it, for the flows that run
 *   on, leaves them: a forwarded packet needs ip_forward);
 * - route_localnet, on the interfaces where a connection to a loopback
 *   backend arrives (a client on the network reaching 127.0.0.1: the kernel
 *   drops a packet routed to 127/8 from another interface unless this is
 *   set), or by which one leaves (the gateway's own connection to a
 *   loopback listen address, DNATed to a host elsewhere); the table's input
 *   chain drops what reaches 127/8 from outside without our DNAT;
 * - links, addresses and default routes, over rtnetlink: they decide the
 *   outside interfaces and route_localnet's interfaces, which are followed
 *   without a reload.
 *
 * The engine's event descriptor is an epoll set of this file's: the
 * rtnetlink socket and, once there are triggers, the conntrack events.
 * The counters' conntrack events are read in batches (pfk_sys_watch_batched):
 * with a wakeup of the daemon per event (three or more per connection),
 * waking it cost a gateway more CPU than the connection's NAT did.
 */
#include "pfk_int.h"
#include "../common/pf_log.h"
#include "../common/pf_util.h"
#include "../sys/pf_route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define PFK_SYSCTL_MAX 64
#define PFK_WATCH_MAX 8
/* How long a batched descriptor rests after it was read: its events wait
 * in its socket buffer meanwhile, so the buffer must hold what comes in
 * that time at the highest rate (pfk_stats.c sizes it). */
#define PFK_BATCH_MS 20
/* The epoll data of the batch timer (a watch's is its index). */
#define PFK_BATCH_TIMER UINT32_MAX

/* A sysctl this engine set, and what it was. */
struct pfk_sysctl {
	char path[96];
	char orig[16];
	char ifname[IF_NAMESIZE]; /* route_localnet: its interface; else "" */
	bool set; /* ours now (false: put back already) */
};

static struct pfk_sysctl pfk_sc[PFK_SYSCTL_MAX];
static size_t pfk_nsc;
/* Set or put back since the table last noted them (pfk_sysctl_note). */
static bool pfk_sc_dirty;

static struct {
	void (*fn)(void);
	int fd;
	bool batched; /* read at most once per PFK_BATCH_MS */
	bool resting; /* batched, read, not watched until the timer */
} pfk_watch[PFK_WATCH_MAX];
static size_t pfk_nwatch;
static int pfk_ep = -1;
static int pfk_batch_tfd = -1;
static bool pfk_batch_armed;
static struct mnl_socket *pfk_rt;
static bool pfk_net_changed;

static struct pfk_sysctl *pfk_sysctl_find(const char *path)
{
	size_t i;

	for (i = 0; i < pfk_nsc; i++)
		if (!strcmp(pfk_sc[i].path, path))
			return &pfk_sc[i];
	return NULL;
}

static int pfk_sysctl_read(const char *path, char *buf, size_t len)
{
	FILE *fp = fopen(path, "r");
	int rc = -1;

	if (!fp)
		return -errno;
	if (fgets(buf, (int)len, fp)) {
		buf[strcspn(buf, "\n")] = '\0';
		rc = 0;
	}
	fclose(fp);
	return rc;
}

static int pfk_sysctl_write(const char *path, const char *v)
{
	FILE *fp = fopen(path, "w");
	int rc = 0;

	if (!fp)
		return -errno;
	if (fputs(v, fp) < 0)
		rc = -EIO;
	if (fclose(fp) && !rc)
		rc = -errno;
	return rc;
}

static int pfk_sysctl_apply(const char *path, const char *want, const char *why,
			    const char *ifname)
{
	struct pfk_sysctl *s = pfk_sysctl_find(path);
	char cur[16] = "";
	int rc = pfk_sysctl_read(path, cur, sizeof(cur));

	if (rc) {
		pf_warn("kernel engine: %s: %s", path, strerror(-rc));
		return rc;
	}
	if (!strcmp(cur, want)) {
		if (!s)
			pf_info("kernel engine: %s = %s", path, want);
		return 0;
	}
	rc = pfk_sysctl_write(path, want);
	if (rc) {
		pf_warn("kernel engine: cannot set %s to %s: %s", path, want, strerror(-rc));
		return rc;
	}
	if (!s && pfk_nsc < PFK_SYSCTL_MAX) {
		s = &pfk_sc[pfk_nsc++];
		snprintf(s->path, sizeof(s->path), "%s", path);
		snprintf(s->ifname, sizeof(s->ifname), "%s", ifname);
	}
	if (s && !s->set) {
		snprintf(s->orig, sizeof(s->orig), "%s", cur);
		s->set = true;
		pfk_sc_dirty = true;
	}
	pf_info("kernel engine: %s = %s (was %s)%s%s", path, want, cur, why ? ": " : "",
		why ? why : "");
	return 0;
}

int pfk_sysctl_set(const char *path, const char *want, const char *why)
{
	return pfk_sysctl_apply(path, want, why, "");
}

static void pfk_sysctl_put_back(struct pfk_sysctl *s)
{
	int rc;

	if (!s->set)
		return;
	s->set = false;
	pfk_sc_dirty = true;
	rc = pfk_sysctl_write(s->path, s->orig);
	/* An interface that went took its settings with it. */
	if (rc && rc != -ENOENT)
		pf_warn("kernel engine: cannot put %s back to %s: %s", s->path, s->orig,
			strerror(-rc));
	else if (!rc)
		pf_info("kernel engine: %s = %s (put back)", s->path, s->orig);
}

void pfk_sysctl_restore(void)
{
	size_t i;

	for (i = pfk_nsc; i-- > 0;)
		pfk_sysctl_put_back(&pfk_sc[i]);
	pfk_nsc = 0;
}

/* ---- route_localnet ---- */

struct pfk_ifset {
	char name[32][IF_NAMESIZE];
	size_t n;
};

static bool pfk_ifset_has(const struct pfk_ifset *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return true;
	return false;
}

static void pfk_ifset_add(struct pfk_ifset *s, const char *name)
{
	if (!name[0] || !strcmp(name, "lo") || pfk_ifset_has(s, name))
		return;
	if (s->n < PF_ARRAY_SIZE(s->name))
		snprintf(s->name[s->n++], IF_NAMESIZE, "%s", name);
}

static bool pfk_v4_loopback(const union pf_sa *sa)
{
	return sa->sa.sa_family == AF_INET && (ntohl(sa->sin.sin_addr.s_addr) >> 24) == 127;
}

/* Where the connections of f that need route_localnet arrive or leave. */
static void pfk_localnet_of(const struct pf_forward *f, const struct ifaddrs *ifa,
			    struct pfk_ifset *s)
{
	bool lo_be = false, far_be = false;
	const struct ifaddrs *i;
	struct pf_route rt;
	uint32_t b;

	for (b = 0; b < f->nbe; b++) {
		if (pfk_v4_loopback(&f->be[b].addr))
			lo_be = true;
		else if (f->be[b].addr.sa.sa_family == AF_INET)
			far_be = true;
	}
	if (lo_be && f->conf.lif[0]) {
		pfk_ifset_add(s, f->conf.lif);
	} else if (lo_be && f->conf.lhost[0] && f->laddr.sa.sa_family == AF_INET) {
		/* The interface holding the listen address (a loopback one: none). */
		for (i = ifa; i; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
			    pf_sa_addr_equal((const union pf_sa *)(const void *)i->ifa_addr, &f->laddr))
				pfk_ifset_add(s, i->ifa_name);
	} else if (lo_be && !f->conf.lhost[0]) {
		for (i = ifa; i; i = i->ifa_next)
			if ((i->ifa_flags & IFF_UP) && !(i->ifa_flags & IFF_LOOPBACK))
				pfk_ifset_add(s, i->ifa_name);
	}
	/* The gateway's own connection to 127.x, DNATed to a host elsewhere,
	 * leaves with its loopback source (masqueraded after routing). */
	if (far_be && pfk_v4_loopback(&f->laddr)) {
		for (b = 0; b < f->nbe; b++)
			if (f->be[b].addr.sa.sa_family == AF_INET &&
			    !pfk_v4_loopback(&f->be[b].addr) && !pf_route_get(&f->be[b].addr, &rt))
				pfk_ifset_add(s, rt.oif);
	}
}

bool pfk_localnet_needs(const struct pf_forward *f)
{
	return f->conf.allow_loopback || pfk_v4_loopback(&f->laddr);
}

bool pfk_localnet_sync(struct pf_forward *const *fwd, size_t n)
{
	struct pfk_ifset want = { .n = 0 };
	struct ifaddrs *ifa = NULL;
	char path[96], why[96];
	size_t i, k;
	bool any = false;

	for (i = 0; i < n && !any; i++)
		any = pfk_localnet_needs(fwd[i]);
	if (any && getifaddrs(&ifa))
		ifa = NULL;
	for (i = 0; any && i < n; i++)
		if (pfk_localnet_needs(fwd[i]))
			pfk_localnet_of(fwd[i], ifa, &want);
	if (ifa)
		freeifaddrs(ifa);
	for (k = 0; k < want.n; k++) {
		snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet",
			 want.name[k]);
		snprintf(why, sizeof(why), "connections to or from 127/8 through %s", want.name[k]);
		pfk_sysctl_apply(path, "1", why, want.name[k]);
	}
	/* What no forward needs any more goes back as it was. */
	for (i = 0; i < pfk_nsc; i++)
		if (pfk_sc[i].set && pfk_sc[i].ifname[0] && !pfk_ifset_has(&want, pfk_sc[i].ifname))
			pfk_sysctl_put_back(&pfk_sc[i]);
	return any;
}

/* ---- events: rtnetlink, and the descriptors of others ---- */

static int pfk_rt_cb(const struct nlmsghdr *nlh, void *data)
{
	(void)data;
	switch (nlh->nlmsg_type) {
	case RTM_NEWROUTE:
	case RTM_DELROUTE: {
		const struct rtmsg *rm = mnl_nlmsg_get_payload(nlh);

		/* Default routes say where the outside is; other routes are
		 * many on a router and change nothing of ours. */
		if (!rm->rtm_dst_len && rm->rtm_table == RT_TABLE_MAIN)
			pfk_net_changed = true;
		break;
	}
	case RTM_NEWLINK:
	case RTM_DELLINK:
	case RTM_NEWADDR:
	case RTM_DELADDR:
		pfk_net_changed = true;
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

static void pfk_rt_event(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t len;

	for (;;) {
		len = mnl_socket_recvfrom(pfk_rt, buf, sizeof(buf));
		if (len < 0) {
			/* Lost messages: look at everything again. */
			if (errno == ENOBUFS)
				pfk_net_changed = true;
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			return; /* EAGAIN: drained */
		}
		mnl_cb_run(buf, (size_t)len, 0, 0, pfk_rt_cb, NULL);
	}
}

static int pfk_sys_add(int fd, void (*fn)(void), bool batched)
{
	struct epoll_event ev = { .events = EPOLLIN | (batched ? EPOLLONESHOT : 0) };
	size_t i;

	if (pfk_ep < 0)
		return -1;
	for (i = 0; i < pfk_nwatch && pfk_watch[i].fd >= 0; i++)
		;
	if (i == PFK_WATCH_MAX)
		return -1;
	ev.data.u32 = (uint32_t)i;
	if (epoll_ctl(pfk_ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	pfk_watch[i].fd = fd;
	pfk_watch[i].fn = fn;
	pfk_watch[i].batched = batched;
	pfk_watch[i].resting = false;
	if (i == pfk_nwatch)
		pfk_nwatch++;
	return 0;
}

int pfk_sys_watch(int fd, void (*fn)(void))
{
	return pfk_sys_add(fd, fn, false);
}

int pfk_sys_watch_batched(int fd, void (*fn)(void))
{
	return pfk_sys_add(fd, fn, true);
}

void pfk_sys_unwatch(int fd)
{
	size_t i;

	for (i = 0; i < pfk_nwatch; i++)
		if (pfk_watch[i].fd == fd) {
			epoll_ctl(pfk_ep, EPOLL_CTL_DEL, fd, NULL);
			pfk_watch[i].fd = -1;
			pfk_watch[i].fn = NULL;
		}
}

/* A batched descriptor was read: it rests (EPOLLONESHOT keeps it quiet,
 * the kernel queueing its events without waking anyone) until the timer. */
static void pfk_batch_rest(size_t w)
{
	struct itimerspec its = { .it_value = { .tv_nsec = PFK_BATCH_MS * 1000000L } };

	pfk_watch[w].resting = true;
	if (pfk_batch_armed || pfk_batch_tfd < 0)
		return;
	if (timerfd_settime(pfk_batch_tfd, 0, &its, NULL) == 0)
		pfk_batch_armed = true;
}

/* The rest is over: what came meanwhile is read, and each is watched again. */
static void pfk_batch_wake(void)
{
	uint64_t n;
	size_t i;

	if (read(pfk_batch_tfd, &n, sizeof(n)) < 0 && errno == EAGAIN)
		return;
	pfk_batch_armed = false;
	for (i = 0; i < pfk_nwatch; i++) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT, .data.u32 = (uint32_t)i };

		if (pfk_watch[i].fd < 0 || !pfk_watch[i].resting)
			continue;
		pfk_watch[i].resting = false;
		pfk_watch[i].fn();
		/* fn may have unwatched it. */
		if (pfk_watch[i].fd >= 0)
			epoll_ctl(pfk_ep, EPOLL_CTL_MOD, pfk_watch[i].fd, &ev);
	}
}

int pfk_sys_start(void)
{
	unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
			  RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	int fd;

	pfk_ep = epoll_create1(EPOLL_CLOEXEC);
	if (pfk_ep < 0)
		return -errno;
	/* Without it, batched descriptors are plain ones (pfk_batch_rest). */
	pfk_batch_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (pfk_batch_tfd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = PFK_BATCH_TIMER };

		epoll_ctl(pfk_ep, EPOLL_CTL_ADD, pfk_batch_tfd, &ev);
	}
	pfk_batch_armed = false;
	pfk_rt = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!pfk_rt || mnl_socket_bind(pfk_rt, groups, MNL_SOCKET_AUTOPID) < 0) {
		pf_warn("kernel engine: cannot follow links and routes (rtnetlink): %s; a "
			"change of them is seen at the next change of the table",
			strerror(errno));
		if (pfk_rt)
			mnl_socket_close(pfk_rt);
		pfk_rt = NULL;
		return 0;
	}
	fd = mnl_socket_get_fd(pfk_rt);
	return pfk_sys_watch(fd, pfk_rt_event);
}

/*
 * The sysctls a stop leaves as set, and what they were, kept in the table it
 * leaves (element comments of a set 'put_back': the table is the one thing
 * that outlives us and that the next start reads anyway), so that the
 * portfwd that finally removes the table puts back the values from before
 * the first start, not the ones the stopped daemon left.
 */
char *pfk_sysctl_note(void)
{
	struct pf_buf b = { 0 };
	size_t i, n = 0;

	pfk_sc_dirty = false;
	pfk_out(&b, "add set inet portfw put_back { type ifname; }\n"
		    "flush set inet portfw put_back\n");
	for (i = 0; i < pfk_nsc; i++) {
		if (!pfk_sc[i].set)
			continue;
		pfk_out(&b, "%s\"%zu\" comment \"%s=%s\"",
			n ? ", " : "add element inet portfw put_back { ", n, pfk_sc[i].path,
			pfk_sc[i].orig);
		n++;
	}
	if (n)
		pfk_out(&b, " }\n");
	return pf_buf_detach(&b, NULL);
}

bool pfk_sysctl_dirty(void)
{
	return pfk_sc_dirty;
}

void pfk_sysctl_adopt(const char *listing)
{
	static const char tag[] = "comment \"";
	const char *p = listing, *v, *end, *ifn;
	struct pfk_sysctl t;

	while ((p = strstr(p, tag)) && pfk_nsc < PFK_SYSCTL_MAX) {
		p += sizeof(tag) - 1;
		end = strchr(p, '"');
		if (!end)
			break;
		v = memchr(p, '=', (size_t)(end - p));
		memset(&t, 0, sizeof(t));
		/* Only sysctl paths of ours, whole: anything else is not ours. */
		if (!v || (size_t)(v - p) >= sizeof(t.path) ||
		    (size_t)(end - v - 1) >= sizeof(t.orig) || strncmp(p, "/proc/sys/net/", 14) != 0)
			continue;
		memcpy(t.path, p, (size_t)(v - p));
		memcpy(t.orig, v + 1, (size_t)(end - v - 1));
		if (strstr(t.path, "..") || pfk_sysctl_find(t.path))
			continue;
		ifn = strstr(t.path, "/conf/");
		if (ifn && strstr(t.path, "/route_localnet"))
			snprintf(t.ifname, sizeof(t.ifname), "%.*s", (int)strcspn(ifn + 6, "/"),
				 ifn + 6);
		t.set = true;
		pfk_sc[pfk_nsc++] = t;
		pfk_sc_dirty = true;
		pf_info("kernel engine: %s was %s before a previous portfwd set it", t.path,
			t.orig);
	}
}

/* The sysctls stay as set: said once each, so the operator knows. */
static void pfk_sysctl_leave(void)
{
	size_t i;

	for (i = 0; i < pfk_nsc; i++)
		if (pfk_sc[i].set)
			pf_info("kernel engine: %s left as set (was %s): flows run on", pfk_sc[i].path,
				pfk_sc[i].orig);
	pfk_nsc = 0;
	pfk_sc_dirty = false;
}

void pfk_sys_stop(bool put_back)
{
	if (pfk_rt)
		mnl_socket_close(pfk_rt);
	pfk_rt = NULL;
	if (pfk_ep >= 0)
		close(pfk_ep);
	pfk_ep = -1;
	if (pfk_batch_tfd >= 0)
		close(pfk_batch_tfd);
	pfk_batch_tfd = -1;
	pfk_batch_armed = false;
	pfk_nwatch = 0;
	pfk_net_changed = false;
	if (put_back)
		pfk_sysctl_restore();
	else
		pfk_sysctl_leave();
}

int pfk_sys_fd(void)
{
	return pfk_ep;
}

bool pfk_sys_event(void)
{
	struct epoll_event ev[PFK_WATCH_MAX + 1];
	int n, i;
	bool changed;

	n = epoll_wait(pfk_ep, ev, PFK_WATCH_MAX + 1, 0);
	for (i = 0; i < n; i++) {
		uint32_t w = ev[i].data.u32;

		if (w == PFK_BATCH_TIMER) {
			pfk_batch_wake();
			continue;
		}
		if (w >= pfk_nwatch || !pfk_watch[w].fn)
			continue;
		pfk_watch[w].fn();
		if (pfk_watch[w].batched && pfk_watch[w].fd >= 0) {
			if (pfk_batch_tfd >= 0) {
				pfk_batch_rest(w);
			} else {
				struct epoll_event re = { .events = EPOLLIN | EPOLLONESHOT,
							  .data.u32 = w };

				epoll_ctl(pfk_ep, EPOLL_CTL_MOD, pfk_watch[w].fd, &re);
			}
		}
	}
	changed = pfk_net_changed;
	pfk_net_changed = false;
	return changed;
}
