/* SPDX-License-Identifier: GPL-2.0-or-later */
/* User engine internals, shared by its files only. */
#ifndef PFU_INT_H
#define PFU_INT_H

#include "pfu.h"
#include "../common/pf_flowlog.h"
#include "../common/pf_log.h"
#include "../common/pf_sched.h"
#include "../common/pf_util.h"
#include "pfu_slab.h"

#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define PFU_TICK_MS 100
#define PFU_WHEEL_SLOTS 1024
#define PFU_POOL_MAX 64 /* idle pipes kept per worker */
#define PFU_ACCEPT_BURST 64
#define PFU_PAUSE_MS 100 /* listener pause after EMFILE & co: <= 10 tries/s */

#define PFU_PASSIVE_HOLD_MS 2000 /* a backend that failed a connect sits out this long */
#define PFU_UDP_BATCH 32
#define PFU_UDP_DGRAM 65536 /* holds the largest datagram, 65,507 bytes over IPv4 */
#define PFU_UDP_HASH 16384 /* session hash buckets per worker */

/* epoll_event.data.u64 = pointer | tag; PFU_EV_OTHER is the worker itself
 * (its command eventfd) or a UDP session's backend socket. */
enum { PFU_EV_CLIENT = 0, PFU_EV_SERVER = 1, PFU_EV_LISTENER = 2, PFU_EV_OTHER = 3 };
#define PFU_EV_TAGMASK 3ULL

/* One listening port of the table, owned by the main thread: a socket per
 * worker in one SO_REUSEPORT group. */
struct pfu_lsock {
	uint8_t proto;
	bool v6only;
	union pf_sa key; /* the address asked for, with port (addr may differ: v4 fallback) */
	union pf_sa addr; /* bound, with port */
	char ifname[PF_IFNAME_MAX]; /* "%IF:PORT": bound to that device (SO_BINDTODEVICE) */
	int fds[PFU_WORKERS_MAX];
	uint32_t nfwd; /* forwards on it in the prepared table */
	bool reused;
	/* TCP_DEFER_ACCEPT: set on the sockets (once known), and wanted by the
	 * prepared table (every forward on it has 'defer-accept'). */
	bool defer_known, defer, defer_next;
};

#define PFU_LFWD_MAX 64 /* forwards sharing one port (different 'from' sources) */

/* A worker's view of one listening socket. */
struct pfu_wl {
	int fd;
	struct pfu_lsock *ls;
	struct pf_forward *fwd[PFU_LFWD_MAX]; /* by 'from' sources; [0] if only one */
	uint32_t nfwd;
	uint16_t port;
	bool paused;
	uint8_t fams; /* PFU_FAM_* of its forwards' backends */
	bool proxy; /* one of its forwards has 'accept-proxy' */
	uint64_t resume_ms;
	struct pfu_wl *pnext; /* paused list */
};

#define PFU_FAM_4 1u
#define PFU_FAM_6 2u

struct pfu_pipe {
	int rfd, wfd;
};

struct pfu_side {
	int fd;
	bool rd, wr; /* edge-triggered readiness we have not consumed */
	/* A FIN or an error came: a short read no longer proves the socket
	 * drained, its end is still to be read. */
	bool hup;
};

struct pfu_dir {
	struct pfu_pipe p; /* rfd -1 when no pipe is held */
	uint32_t inpipe; /* bytes in the pipe */
	bool eof; /* read 0 from the source */
	bool shut; /* sent FIN to the destination */
	/* A read filled the small buffer: bulk traffic, spliced from now on. */
	bool bulk;
	uint64_t bytes;
};

/* PFU_PROXYHDR: waiting for the PROXY header of a trusted proxy, before
 * any backend is picked. */
enum pfu_state { PFU_PROXYHDR, PFU_CONNECTING, PFU_ESTABLISHED, PFU_DEAD };

#define pfu_container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

/* A timer wheel entry, embedded in a TCP flow or a UDP session. */
enum pfu_tkind { PFU_T_TCP, PFU_T_UDP };
struct pfu_tnode {
	struct pfu_tnode *tnext, **tpprev;
	uint8_t kind;
};

struct pfu_worker;

struct pfu_flow {
	struct pfu_flow *next, *prev; /* worker's flow list */
	struct pfu_tnode t;
	struct pfu_worker *w;
	struct pf_forward *fwd; /* referenced */
	struct pfu_side c, s;
	struct pfu_dir up, down; /* up: client -> backend */
	uint64_t start_ms, last_ms, attempt_ms;
	uint64_t attempt_us; /* the connect's start, for its time (the histogram) */
	/* The client: the peer, or what its proxy's PROXY header said; for
	 * the source and maglev schedulers on retries, listings and the
	 * header sent onward. */
	union pf_sa client;
	/* Where the client connected to, from its proxy's header (family 0:
	 * this gateway's listening address, asked of the socket when needed). */
	union pf_sa client_dst;
	struct pfu_wl *wl; /* PFU_PROXYHDR: its listener, to pick the forward */
	uint16_t lport;
	int16_t be; /* backend index, -1 before the first pick */
	uint8_t state;
	bool be_counted;
	bool ps_held; /* counted in the per-source table (pfu_persrc.c) */
	bool backend_first; /* the backend's EOF came first (the flow log) */
	struct pf_tried tried;
};

/* A UDP session: one client address on one listening port, with a
 * connected socket of its own toward the backend. */
struct pfu_usess {
	struct pfu_tnode t;
	struct pfu_usess *hnext; /* hash chain */
	struct pfu_usess *next, *prev; /* worker's session list */
	struct pfu_wl *wl; /* replies leave through this socket */
	struct pf_forward *fwd; /* referenced */
	int fd;
	int16_t be;
	bool replied, dead, has_local;
	bool ps_held; /* counted in the per-source table (pfu_persrc.c) */
	union pf_sa client;
	union pf_sa local; /* where the client sent to (any-address listeners) */
	uint64_t start_ms, last_ms;
	uint64_t pkts_up, bytes_up, pkts_down, bytes_down;
};

/* Per-worker datagram buffers, allocated once when the first UDP port opens. */
struct pfu_udpbuf {
	struct mmsghdr rx[PFU_UDP_BATCH], tx[PFU_UDP_BATCH];
	struct iovec iov[PFU_UDP_BATCH], txiov[PFU_UDP_BATCH];
	union pf_sa names[PFU_UDP_BATCH];
	char ctrl[PFU_UDP_BATCH][64];
	char data[PFU_UDP_BATCH][PFU_UDP_DGRAM];
	/* Replies of any sessions, received straight into these slots and sent
	 * together by pfu_udp_flush: with many clients, one sendmmsg carries
	 * the replies of every session an epoll batch found ready. */
	struct mmsghdr q[PFU_UDP_BATCH];
	struct iovec qiov[PFU_UDP_BATCH];
	struct pfu_usess *qsess[PFU_UDP_BATCH];
	char qctrl[PFU_UDP_BATCH][64];
	int nq;
	char qdata[PFU_UDP_BATCH][PFU_UDP_DGRAM];
};

/* PFU_CMD_SYNC does nothing: once a worker answers it, it has finished
 * whatever it was doing when the command was sent. */
enum pfu_cmd_type {
	PFU_CMD_APPLY,
	PFU_CMD_KILL,
	PFU_CMD_CONNS,
	PFU_CMD_DRAIN,
	PFU_CMD_STOP,
	PFU_CMD_SYNC,
};

struct pfu_plan {
	struct pfu_lsock *ls;
	struct pf_forward *fwd;
	uint16_t port;
};

struct pfu_cmd {
	enum pfu_cmd_type type;
	const struct pfu_plan *plan;
	size_t nplan;
	const struct pf_selector *sel;
	unsigned killed;
	unsigned left; /* PFU_CMD_DRAIN: the flows still open */
	pf_flow_cb flow_cb; /* PFU_CMD_CONNS: called for each flow, on the worker */
	void *flow_arg;
};

struct pfu_worker {
	int id;
	/* The CPU it runs on, where its TCP listeners take their clients
	 * (SO_INCOMING_CPU); -1: not pinned. */
	int cpu;
	pthread_t th;
	int ep, efd;
	pthread_mutex_t lock;
	struct pfu_cmd *cmd;
	sem_t done;
	bool stop;
	uint64_t now;
	struct pfu_wl **wl;
	size_t nwl;
	struct pfu_wl *paused;
	struct pfu_flow flows; /* list head */
	/* Flows waiting for a PROXY header (few, short-lived): apart, so that
	 * a listener that goes can end its own without a walk of every flow. */
	struct pfu_flow hdrwait;
	struct pfu_flow *dead; /* freed after the current event batch */
	struct pfu_tnode *wheel[PFU_WHEEL_SLOTS];
	uint64_t tick; /* next tick to run */
	size_t ntimers;
	struct pfu_usess **uhash;
	struct pfu_usess usess; /* list head */
	struct pfu_usess *udead; /* freed after the current event batch */
	struct pfu_udpbuf *ub;
	/* Where its flows and sessions live (pfu_slab.h). */
	struct pfu_cache flowc, sessc;
	struct pfu_pipe pool[PFU_POOL_MAX];
	int npool;
	char *scratch; /* copy mode and fallback buffer */
	/* A backend socket made before the accept, per family (IPv4, IPv6):
	 * a client accepted with the last free descriptor still gets its
	 * backend side. It is this worker's own, so no other thread can take
	 * the slot in between (closing a spare descriptor and calling socket()
	 * could lose it to another worker's accept). While the spare a
	 * listener needs cannot be made, that listener does not accept. */
	int spare[2];
};

extern struct pfu_config pfu_cfg;
extern struct pf_ratelimit pfu_rl_accept, pfu_rl_pipe, pfu_rl_proxy;
/* A forked child may hold copies of the workers' sockets (pf_engine.h,
 * fork_guard): pfu_close_sock takes each out of its epoll set itself. */
extern _Atomic bool pfu_fork_on;

/* pfu_flowlog.c: flow log records (enum pf_flow_end), for the forwards
 * that log; the TCP flow's client socket still open. */
void pfu_log_tcp(const struct pfu_worker *w, const struct pfu_flow *f, uint8_t end);
void pfu_log_udp(const struct pfu_worker *w, const struct pfu_usess *s, uint8_t end);
/* A client of listener wl turned away before any backend was tried
 * (ACL, maxconn, session limit): the listener's address stands for
 * where it came in. */
void pfu_log_refused(const struct pf_forward *fwd, const struct pfu_wl *wl,
		     const union pf_sa *client, uint8_t end);

/* pfu_persrc.c: the limits per client address of a forward. Whether a
 * new flow (a TCP connection, or a UDP session when udp) of client may
 * start: PF_REFUSE_N when it may (*held: it was counted, and
 * pfu_ps_release must be called as it ends), else why not. Workers call
 * it concurrently; it allocates nothing. */
enum pf_refuse pfu_ps_admit(const struct pf_forward *fwd, const union pf_sa *client, bool udp,
			    bool *held);
void pfu_ps_release(const struct pf_forward *fwd, const union pf_sa *client, bool udp);

/* pfu_udp.c */
void pfu_udp_input(struct pfu_worker *w, struct pfu_wl *wl);
void pfu_udp_reply(struct pfu_worker *w, struct pfu_usess *s);
/* Sends the queued replies; after each batch of events, before sessions
 * or listeners may go. */
void pfu_udp_flush(struct pfu_worker *w);
bool pfu_udp_stream(const struct pfu_usess *s);
uint64_t pfu_udp_deadline(const struct pfu_usess *s);
void pfu_udp_timeout(struct pfu_worker *w, struct pfu_usess *s);
/* end: why (enum pf_flow_end), for the flow log. */
void pfu_udp_end(struct pfu_worker *w, struct pfu_usess *s, uint8_t end);
/* Ends the sessions of a listening socket that leaves the table. */
void pfu_udp_close_wl(struct pfu_worker *w, struct pfu_wl *wl);
unsigned pfu_udp_kill(struct pfu_worker *w, const struct pf_selector *sel);
void pfu_udp_flows(struct pfu_worker *w, pf_flow_cb cb, void *arg);
void pfu_udp_free_dead(struct pfu_worker *w);
void pfu_udp_cleanup(struct pfu_worker *w);
int pfu_udp_ready(struct pfu_worker *w);

/* pfu_timer.c */
void pfu_timer_set(struct pfu_worker *w, struct pfu_tnode *t, uint64_t deadline);
void pfu_timer_del(struct pfu_worker *w, struct pfu_tnode *t);
void pfu_timer_run(struct pfu_worker *w);
int pfu_timer_wait_ms(struct pfu_worker *w);

/* pfu_pipe.c */
int pfu_pipe_get(struct pfu_worker *w, struct pfu_pipe *p);
void pfu_pipe_put(struct pfu_worker *w, struct pfu_pipe *p, bool empty);
void pfu_pipe_drain_pool(struct pfu_worker *w);

/* pfu_worker.c */
int pfu_worker_init(struct pfu_worker *w, int id);
void *pfu_worker_main(void *arg);
/* Runs one command in the worker and waits for it to finish. */
void pfu_worker_send(struct pfu_worker *w, struct pfu_cmd *c);
/* Tears down everything the worker holds (on stop, after its thread ended). */
void pfu_worker_cleanup(struct pfu_worker *w);

/* The forward a client of this listener belongs to (its most specific 'from'
 * match) and whether its ACL lets it in. NULL: refused (and counted). */
struct pf_forward *pfu_select(struct pfu_wl *wl, const union pf_sa *client);

/* Makes the spare backend sockets of the families in FAMS that are spent;
 * -1 (errno set) when one is not to be had. */
int pfu_spare_fill(struct pfu_worker *w, uint8_t fams);
/* A TCP socket of FAMILY for a backend: the spare, replaced at once where
 * descriptors allow, or a new one; -1 with errno set. */
int pfu_spare_take(struct pfu_worker *w, int family);
/* 'masquerade ADDR': the backend socket leaves from ADDR (0 without one, or
 * -errno: ADDR is not an address of the gateway now). Logs the failure. */
int pfu_masq_bind(int fd, const struct pf_forward *fwd, bool stream);

/* pfu_tproxy.c: what transparent forwards need of the host. The mark bit
 * of their replies, the routing table that delivers them to us and the
 * priority of its rule (the mark a bare number: it is nftables text too). */
#define PFU_TPROXY_MARK 0x20000000
#define PFU_TPROXY_TABLE 28774u /* 0x7066, "pf" */
#define PFU_TPROXY_PREF 100u
/* In prepare, WHO: the first transparent forward of the user engine in the
 * new table (NULL: none); makes the setup if it is not in, else -1 with
 * "WHERE: transparent: why" in err. */
int pfu_tproxy_prepare(const struct pf_forward *who, char *err, size_t errlen);
void pfu_tproxy_commit(void);
void pfu_tproxy_abort(void);
void pfu_tproxy_stop(void);
/* Readable when the last flow of a deleted transparent forward ended. */
int pfu_tproxy_event_fd(void);
bool pfu_tproxy_event(void);
/* Workers: a flow (or UDP session) of a transparent forward opens, ends. */
void pfu_tproxy_flow_begin(void);
void pfu_tproxy_flow_end(void);
/* Binds a backend socket to the client's address (UDP: and port); 0, or
 * -errno (logged, rate limited): the client is to be dropped. */
int pfu_tproxy_bind(int fd, const struct pf_forward *fwd, const union pf_sa *client,
		    const union pf_sa *backend, bool udp);

/* pfu_tcp.c */
void pfu_tcp_accept(struct pfu_worker *w, int fd, struct pfu_wl *wl, const union pf_sa *client);
/* A flow whose PROXY header was read goes on as a flow of fwd (picked for
 * its client): a backend is connected. */
void pfu_tcp_start(struct pfu_worker *w, struct pfu_flow *f, struct pf_forward *fwd);
void pfu_tcp_event(struct pfu_worker *w, struct pfu_flow *f, bool server, uint32_t events);
void pfu_tcp_timeout(struct pfu_worker *w, struct pfu_flow *f);
uint64_t pfu_tcp_deadline(const struct pfu_flow *f);
/* Ends a flow with a reset; end: why (enum pf_flow_end), for the log, or
 * PFU_END_UNLOGGED where a record was made already. */
#define PFU_END_UNLOGGED 0xff
void pfu_tcp_abort(struct pfu_worker *w, struct pfu_flow *f, uint8_t end);
void pfu_tcp_flow(const struct pfu_worker *w, const struct pfu_flow *f, struct pf_flow *fl);

/* pfu_proxy.c: the PROXY protocol on the user engine's TCP flows */
/* The forward whose 'accept-proxy' trusts this peer of the listener, or NULL. */
struct pf_forward *pfu_proxy_trusted(const struct pfu_wl *wl, const union pf_sa *peer);
/* How long a trusted proxy has to send its whole header. */
uint64_t pfu_proxy_wait_ms(const struct pf_forward *fwd);
/* The client socket of a PFU_PROXYHDR flow is readable (or closed). */
void pfu_proxy_read(struct pfu_worker *w, struct pfu_flow *f);
/* No whole header in time: the flow is closed and counted. */
void pfu_proxy_timeout(struct pfu_worker *w, struct pfu_flow *f);
/* Sends the forward's header to a just connected backend; -errno. */
int pfu_proxy_send(struct pfu_flow *f);
/* Ends the flows waiting for a header on a listener that goes. */
void pfu_proxy_close_wl(struct pfu_worker *w, const struct pfu_wl *wl);

/* Closes a socket of the worker's epoll set, leaving the set first. */
void pfu_close_sock(struct pfu_worker *w, int fd);
/* The same for a socket that another process may share for good (a
 * listener handed to the new process of an upgrade). */
void pfu_close_shared(struct pfu_worker *w, int fd);

#endif
