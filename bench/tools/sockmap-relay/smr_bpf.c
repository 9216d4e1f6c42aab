// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sockmap-relay's kernel half: every segment a relayed socket receives is
 * handed to the stream verdict below, which sends it out of the socket's
 * peer. Established data therefore never reaches user space; the user half
 * only pairs sockets and handles half-close.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "smr_slots.h"

/* Slot -> socket. Each relayed connection owns two slots, one a side. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, SMR_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} smr_socks SEC(".maps");

/*
 * Socket cookie -> the slot of its peer. Keyed by cookie rather than by
 * 4-tuple: the cookie is one helper call, with no byte-order traps in the
 * __sk_buff port fields.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SMR_SLOTS);
	__type(key, __u64);
	__type(value, __u32);
} smr_peer SEC(".maps");

SEC("sk_skb/stream_verdict")
int smr_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	__u32 *slot = bpf_map_lookup_elem(&smr_peer, &cookie);

	/* Not paired (yet, or any more): leave it to the socket's reader. */
	if (!slot)
		return SK_PASS;
	/* Flags 0: out of the peer (egress), not into its receive queue. */
	return bpf_sk_redirect_map(skb, &smr_socks, *slot, 0);
}

char LICENSE[] SEC("license") = "GPL";
