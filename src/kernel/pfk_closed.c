// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Entries of ours that TCP has closed (TIME_WAIT, CLOSE) while conntrack
 * still holds them, for a while after the flow is over (two minutes in
 * TIME_WAIT by default). For the operator the flow ended with its close,
 * so 'active' stops counting it then; its DESTROY event, later, must not
 * end it a second time. Kept by conntrack id in a set of open addressing
 * (linear probing, deletion by backward shift), grown by doubling up to a
 * cap: beyond it an entry is not marked, and counts as active until its
 * DESTROY, as before the set existed.
 */
#include "pfk_int.h"

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <netinet/in.h>
#include <stdlib.h>

#define PFK_CLOSED_MIN 1024
/* conntrack's own table is bounded (nf_conntrack_max): this is room for
 * every entry of a large one, at 4 bytes each. */
#define PFK_CLOSED_MAX (1u << 22)

static struct {
	uint32_t *v; /* 0: a free slot (an id of 0 is never kept) */
	size_t cap, n;
} pfk_closed;

bool pfk_ct_closed(const struct nf_conntrack *ct)
{
	uint8_t st;

	/* The table's closing chain saw it close (it may not be in TIME_WAIT
	 * yet: the last ACK is still to come). */
	if (nfct_attr_is_set(ct, ATTR_MARK) && (nfct_get_attr_u32(ct, ATTR_MARK) & PFK_MARK_DONE))
		return true;
	if (nfct_get_attr_u8(ct, ATTR_L4PROTO) != IPPROTO_TCP ||
	    !nfct_attr_is_set(ct, ATTR_TCP_STATE))
		return false;
	st = nfct_get_attr_u8(ct, ATTR_TCP_STATE);
	return st == TCP_CONNTRACK_TIME_WAIT || st == TCP_CONNTRACK_CLOSE;
}

static size_t pfk_closed_home(uint32_t id, size_t cap)
{
	/* Fibonacci hashing: ids are hashed pointers already, but cheaply. */
	uint32_t h = id * 2654435769u;

	return (size_t)h & (cap - 1);
}

static size_t pfk_closed_find(uint32_t id)
{
	size_t i = pfk_closed_home(id, pfk_closed.cap);

	while (pfk_closed.v[i] && pfk_closed.v[i] != id)
		i = (i + 1) & (pfk_closed.cap - 1);
	return i;
}

static int pfk_closed_grow(void)
{
	size_t cap = pfk_closed.cap ? pfk_closed.cap * 2 : PFK_CLOSED_MIN, i, old = pfk_closed.cap;
	uint32_t *ov = pfk_closed.v, *nv;

	if (cap > PFK_CLOSED_MAX)
		return -1;
	nv = calloc(cap, sizeof(*nv));
	if (!nv)
		return -1;
	pfk_closed.v = nv;
	pfk_closed.cap = cap;
	for (i = 0; i < old; i++)
		if (ov[i])
			pfk_closed.v[pfk_closed_find(ov[i])] = ov[i];
	free(ov);
	return 0;
}

bool pfk_closed_add(uint32_t id)
{
	size_t i;

	if (!id)
		return false;
	/* At most half full: probes stay short. */
	if ((pfk_closed.n + 1) * 2 > pfk_closed.cap && pfk_closed_grow() < 0)
		return false;
	i = pfk_closed_find(id);
	if (pfk_closed.v[i])
		return false;
	pfk_closed.v[i] = id;
	pfk_closed.n++;
	return true;
}

bool pfk_closed_del(uint32_t id)
{
	size_t i, j, h;

	if (!id || !pfk_closed.cap)
		return false;
	i = pfk_closed_find(id);
	if (!pfk_closed.v[i])
		return false;
	/* Backward shift: move up every entry of the run after i that may
	 * live in the hole, so that no lookup stops early at it. */
	j = i;
	for (;;) {
		j = (j + 1) & (pfk_closed.cap - 1);
		if (!pfk_closed.v[j])
			break;
		h = pfk_closed_home(pfk_closed.v[j], pfk_closed.cap);
		/* v[j] stays where it is if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		pfk_closed.v[i] = pfk_closed.v[j];
		i = j;
	}
	pfk_closed.v[i] = 0;
	pfk_closed.n--;
	return true;
}

void pfk_closed_clear(void)
{
	free(pfk_closed.v);
	pfk_closed.v = NULL;
	pfk_closed.cap = pfk_closed.n = 0;
}
