// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Who listens on a port: NETLINK_SOCK_DIAG (inet_diag, as ss does) dumps
 * the sockets with their inode, and the process that holds the inode is
 * found among /proc/PID/fd's links "socket:[INODE]". Another user's
 * processes are visible only to root: their sockets are listed without one.
 */
#include "pfc_explain.h"
#include "../common/pf_util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct pfc_diag {
	uint8_t l4;
	uint16_t lo, hi;
	struct pfc_xsock *v;
	size_t n, cap;
};

static int pfc_diag_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct pfc_diag *d = data;
	struct pfc_xsock *s;
	uint16_t port;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*m))
		return MNL_CB_ERROR;
	port = ntohs(m->id.idiag_sport);
	if (port < d->lo || port > d->hi)
		return MNL_CB_OK;
	/* UDP: only unconnected sockets receive what arrives on the port. */
	if (d->l4 == IPPROTO_UDP && m->id.idiag_dport)
		return MNL_CB_OK;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct pfc_xsock *v = pf_xcalloc(cap, sizeof(*v));

		if (d->n)
			memcpy(v, d->v, d->n * sizeof(*v));
		free(d->v);
		d->v = v;
		d->cap = cap;
	}
	s = &d->v[d->n++];
	memset(s, 0, sizeof(*s));
	s->l4 = d->l4;
	s->inode = m->idiag_inode;
	if (m->idiag_family == AF_INET6) {
		s->addr.sin6.sin6_family = AF_INET6;
		memcpy(&s->addr.sin6.sin6_addr, m->id.idiag_src, 16);
		s->addr.sin6.sin6_port = m->id.idiag_sport;
	} else {
		s->addr.sin.sin_family = AF_INET;
		memcpy(&s->addr.sin.sin_addr, m->id.idiag_src, 4);
		s->addr.sin.sin_port = m->id.idiag_sport;
	}
	return MNL_CB_OK;
}

/* One family's dump into d. */
static int pfc_diag_dump(struct mnl_socket *nl, struct pfc_diag *d, uint8_t family)
{
	char buf[32768]; /* a dump's messages come in batches this size */
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct inet_diag_req_v2 *req;
	unsigned seq = (unsigned)time(NULL) + family, portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int rc;

	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = d->l4;
	/* A bound UDP socket is in state CLOSE (ss -lu asks the same). */
	req->idiag_states = d->l4 == IPPROTO_TCP ? 1u << TCP_LISTEN : 1u << TCP_CLOSE;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, pfc_diag_cb, d);
		if (rc == MNL_CB_STOP)
			return 0;
		if (rc < 0)
			return errno ? -errno : -EIO;
	}
	return n < 0 ? -errno : 0;
}

/* A process names itself (prctl, its executable's name): any bytes. Shown
 * on a terminal and put in JSON, it keeps printable ASCII only. */
static void pfc_diag_printable(char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			*s = '?';
}

/* Each socket's process: one walk over /proc/PID/fd for all of them. */
static void pfc_diag_owners(struct pfc_xsock *v, size_t n)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;

	if (!proc)
		return;
	while ((de = readdir(proc))) {
		char path[300], link[64];
		DIR *fds;
		struct dirent *fe;
		int pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		fds = opendir(path);
		if (!fds)
			continue; /* gone, or another user's */
		while ((fe = readdir(fds))) {
			unsigned long ino;
			ssize_t len;
			size_t i;

			if (fe->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, fe->d_name);
			len = readlink(path, link, sizeof(link) - 1);
			if (len <= 0)
				continue;
			link[len] = '\0';
			if (sscanf(link, "socket:[%lu]", &ino) != 1)
				continue;
			for (i = 0; i < n; i++) {
				FILE *fp;

				if (v[i].pid || v[i].inode != ino)
					continue;
				v[i].pid = pid;
				snprintf(path, sizeof(path), "/proc/%d/comm", pid);
				fp = fopen(path, "re");
				if (fp) {
					if (fgets(v[i].comm, sizeof(v[i].comm), fp))
						v[i].comm[strcspn(v[i].comm, "\n")] = '\0';
					fclose(fp);
				}
				pfc_diag_printable(v[i].comm);
			}
		}
		closedir(fds);
	}
	closedir(proc);
}

int pfc_diag_listeners(uint8_t l4, uint16_t lo, uint16_t hi, struct pfc_xsock **out)
{
	struct pfc_diag d = { .l4 = l4, .lo = lo, .hi = hi };
	struct mnl_socket *nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	int rc;

	*out = NULL;
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto out;
	}
	rc = pfc_diag_dump(nl, &d, AF_INET);
	if (!rc)
		rc = pfc_diag_dump(nl, &d, AF_INET6);
	if (rc)
		goto out;
	pfc_diag_owners(d.v, d.n);
	*out = d.v;
	d.v = NULL;
	rc = (int)d.n;
out:
	free(d.v);
	mnl_socket_close(nl);
	return rc;
}
