/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sockmap-relay: the BPF object, its two maps and the pairing of sockets. */
#ifndef SMR_MAP_H
#define SMR_MAP_H

#include <stdint.h>

struct bpf_object;

struct smr_map {
	struct bpf_object *obj;
	int socks_fd; /* slot -> socket (sockmap) */
	int peer_fd;  /* cookie -> peer's slot */
	int prog_fd;
};

int smr_map_open(struct smr_map *m, const char *path);
void smr_map_close(struct smr_map *m);
int smr_map_pair(struct smr_map *m, const int fd[2], const uint32_t slot[2], uint64_t cookie[2]);
void smr_map_unpair(struct smr_map *m, const uint32_t slot[2], const uint64_t cookie[2]);

#endif
