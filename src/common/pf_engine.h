/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The engine seam: what the daemon asks of a data plane, and nothing else.
 * Each engine (src/user: sockets and splice; src/kernel: nftables and
 * conntrack) fills one struct pf_engine_ops; the daemon walks pf_engines[]
 * and has no other engine-specific code. Like wireguard-tools' ipc.h: a
 * few calls of one shape, -1 with a message in err on failure.
 *
 * A change of the table is two-phase: prepare(next) does everything that
 * can fail without touching what runs; commit() makes it live; abort()
 * throws a prepared change away. At most one engine's commit may fail (the
 * kernel's transaction): pf_engines[] lists it first, so an engine whose
 * commit cannot fail never has to be undone.
 *
 * Flows are plain structs handed to a callback; the daemon alone turns
 * them into text, JSON, metrics and log lines.
 */
#ifndef PF_ENGINE_H
#define PF_ENGINE_H

#include "pf_addr.h"
#include "pf_conf.h"
#include "pf_handover.h"
#include "pf_table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which of a flow's fields the engine knows. */
#define PF_FLOW_BYTES 0x1u
#define PF_FLOW_PACKETS 0x2u
#define PF_FLOW_AGE 0x4u /* age_ms, idle_ms */
#define PF_FLOW_EXPIRES 0x8u

/* One live flow (a TCP connection, a UDP session, a conntrack entry). */
struct pf_flow {
	uint8_t engine; /* enum pf_engine */
	uint8_t l4; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, ... */
	uint8_t known; /* PF_FLOW_* */
	int worker; /* user engine: the worker thread carrying it; -1: none */
	const char *forward; /* the forward's name ("" when unnamed) */
	/* Family 0: not known (yet). Ports only for protocols that have them. */
	union pf_sa client, listen, backend;
	uint64_t bytes_up, bytes_down; /* client -> backend, backend -> client */
	uint64_t packets_up, packets_down;
	uint64_t age_ms, idle_ms, expires_ms;
	const char *state; /* "established", "replied", ... */
	const char *detail; /* kernel: the entry as /proc/net/nf_conntrack shows it */
};

typedef void (*pf_flow_cb)(const struct pf_flow *fl, void *arg);
/* One socket an upgrade hands over, and what it is. */
typedef void (*pf_handover_cb)(const struct pf_handover_ent *e, int fd, void *arg);

/* What an open port trigger holds (kernel engine). */
struct pf_trigger_state {
	union pf_sa holder;
	uint64_t left_ms;
};

struct pf_engine_ops {
	const char *name;
	uint8_t engine; /* enum pf_engine */
	/* Brings the engine up (its settings were given before, by its own
	 * configure call); an engine may also start on first use. */
	int (*start)(char *err, size_t errlen);
	void (*stop)(void);
	int (*prepare)(const struct pf_table *next, char *err, size_t errlen);
	int (*commit)(char *err, size_t errlen);
	void (*abort)(void);
	/* Backend health or a pool's rotation changed: follow cur. NULL: the
	 * engine reads them per flow already. */
	void (*refresh)(const struct pf_table *cur);
	/* Every live flow of the forwards of cur. */
	void (*flows)(const struct pf_table *cur, pf_flow_cb cb, void *arg);
	/* Stops taking new flows, for a soft stop: the listeners close (new
	 * clients are refused by the kernel) and what cannot outlive them ends
	 * (UDP sessions, which have no close to wait for). Returns the flows
	 * still open; called again, it only counts them. No change may follow
	 * but stop. NULL: the engine has no flows of its own to let finish. */
	unsigned (*drain)(void);
	/* Cuts the flows of the forwards sel matches (current or deleted). */
	unsigned (*kill)(const struct pf_selector *sel, const struct pf_table *cur);
	/* A descriptor for the daemon's loop (-1: none now; it may appear
	 * after a change) and what to call when it is readable; true: the
	 * network around changed and the engine must follow cur (refresh). */
	int (*event_fd)(void);
	bool (*event)(void);
	/* An open trigger's holder; false when it holds none. NULL: no triggers. */
	bool (*trigger_state)(const struct pf_forward *f, struct pf_trigger_state *ts);
	/* An upgrade: the listening sockets to hand to the new process
	 * (pf_handover.h), each to cb. NULL: the engine has none. */
	void (*sockets)(pf_handover_cb cb, void *arg);
	/* true: the daemon is about to fork a child, which holds a copy of
	 * every descriptor until it execs; false: no child holds any now.
	 * While on, a socket's close does not take it out of an epoll set
	 * (only its last descriptor's does). NULL: the engine does not care. */
	void (*fork_guard)(bool on);
	/* Instead of stop, once an upgrade handed over: lets go of what this
	 * process holds and touches nothing the new process adopted (the
	 * kernel's table, its conntrack entries, the sysctls), as if the
	 * process had been killed. NULL: stop is that already. */
	void (*detach)(void);
	/* The counters are about to be read (list, metrics): brings up to
	 * date what the engine counts on demand. NULL: it counts live. */
	void (*sample)(void);
	/* false: the engine counts its forwards' active flows only, not their
	 * connections and bytes (left out of what is shown). NULL: it counts
	 * them all. */
	bool (*counts_totals)(void);
};

extern const struct pf_engine_ops pfk_engine_ops, pfu_engine_ops;
/* The kernel's first (its commit may fail), then the user engine. */
extern const struct pf_engine_ops *const pf_engines[];
extern const size_t pf_nengines;

/* "tcp", "udp", "icmp", ...: a flow's protocol as listed. */
const char *pf_l4_name(uint8_t l4);
/* Whether addresses of this protocol have ports. */
bool pf_l4_has_ports(uint8_t l4);

#endif
