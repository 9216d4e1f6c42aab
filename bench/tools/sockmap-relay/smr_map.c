// SPDX-License-Identifier: GPL-2.0-or-later
/* sockmap-relay: loads smr_bpf.o and puts socket pairs in its maps. */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "smr_map.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

static int smr_map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, name);

	return map ? bpf_map__fd(map) : -ENOENT;
}

/* smr_map_open: loads the object at PATH, attaches its verdict to the sockmap. */
int smr_map_open(struct smr_map *m, const char *path)
{
	struct bpf_program *prog;
	int rc;

	m->obj = bpf_object__open_file(path, NULL);
	if (!m->obj) {
		rc = -errno;
		m->obj = NULL;
		fprintf(stderr, "sockmap-relay: %s: cannot open\n", path);
		return rc;
	}
	rc = bpf_object__load(m->obj);
	if (rc < 0) {
		fprintf(stderr, "sockmap-relay: %s: load failed\n", path);
		goto out;
	}
	m->socks_fd = smr_map_fd(m->obj, "smr_socks");
	m->peer_fd = smr_map_fd(m->obj, "smr_peer");
	prog = bpf_object__find_program_by_name(m->obj, "smr_verdict");
	rc = -ENOENT;
	if (m->socks_fd < 0 || m->peer_fd < 0 || !prog)
		goto out;
	m->prog_fd = bpf_program__fd(prog);
	/*
	 * A verdict without a parser: since Linux 5.10 the psock then reads
	 * the receive queue itself (read_skb) instead of through strparser,
	 * which costs a message framing pass we do not need for a byte stream.
	 */
	rc = bpf_prog_attach(m->prog_fd, m->socks_fd, BPF_SK_SKB_STREAM_VERDICT, 0);
	if (rc < 0) {
		rc = -errno;
		fprintf(stderr, "sockmap-relay: attaching the verdict failed\n");
		goto out;
	}
	return 0;
out:
	bpf_object__close(m->obj);
	m->obj = NULL;
	return rc;
}

void smr_map_close(struct smr_map *m)
{
	if (m->obj)
		bpf_object__close(m->obj);
	m->obj = NULL;
}

/*
 * smr_map_pair: both sockets enter the sockmap first, and only then does
 * each cookie point at its peer's slot. The other order lost bytes: a
 * segment that reached the backend's socket while the client's slot was
 * still empty was redirected to nothing, which drops it (iperf3's
 * one-byte control messages, now and then). Until the cookies are in, the
 * verdict passes segments to the socket's own queue, where the caller's
 * flush picks them up.
 */
int smr_map_pair(struct smr_map *m, const int fd[2], const uint32_t slot[2], uint64_t cookie[2])
{
	socklen_t len;
	uint32_t v;
	int i, rc;

	for (i = 0; i < 2; i++) {
		len = sizeof(cookie[i]);
		if (getsockopt(fd[i], SOL_SOCKET, SO_COOKIE, &cookie[i], &len) < 0)
			return -errno;
	}
	for (i = 0; i < 2; i++) {
		v = (uint32_t)fd[i];
		rc = bpf_map_update_elem(m->socks_fd, &slot[i], &v, BPF_ANY);
		if (rc < 0)
			goto out;
	}
	for (i = 0; i < 2; i++) {
		rc = bpf_map_update_elem(m->peer_fd, &cookie[i], &slot[!i], BPF_ANY);
		if (rc < 0)
			goto out;
	}
	return 0;
out:
	rc = -errno;
	smr_map_unpair(m, slot, cookie);
	return rc;
}

void smr_map_unpair(struct smr_map *m, const uint32_t slot[2], const uint64_t cookie[2])
{
	int i;

	for (i = 0; i < 2; i++) {
		bpf_map_delete_elem(m->peer_fd, &cookie[i]);
		bpf_map_delete_elem(m->socks_fd, &slot[i]);
	}
}
