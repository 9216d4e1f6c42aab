/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rule table: forwards, their backends and options. Parsed config is kept
 * apart from runtime state (counters, scheduler position); a forward object is
 * immutable once it is in a table, so the workers may read it without a lock.
 */
#ifndef PF_TABLE_H
#define PF_TABLE_H

#include "pf_addr.h"
#include "pf_log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PF_NAME_MAX 64
/* Forward ids (struct pf_forward): what a kernel conntrack mark has room
 * for. */
#define PF_ID_MAX 0xfffffu
/* Forwards in a table: ids half used at most, so that one whose id is
 * taken finds a free one a few steps on. */
#define PF_FWD_MAX (PF_ID_MAX / 2)
#define PF_BACKENDS_MAX 256
#define PF_WEIGHT_MAX 65535
#define PF_SRC_MAX 256
/* How long a port trigger's range stays open after the control connection. */
#define PF_TRIGGER_DEFAULT_MS 60000

/* PF_PROTO_ALL: a whole-host forward (every protocol, ICMP too; no ports). */
enum { PF_PROTO_TCP = 1, PF_PROTO_UDP = 2, PF_PROTO_ALL = 4 };
#define PF_IFNAME_MAX 16 /* IFNAMSIZ */

/* The upper bounds of the backend connect time histogram, in microseconds
 * (Prometheus' le="0.0001" ... le="5"; the last bucket is +Inf). From a LAN
 * backend well under a millisecond to a WAN one retried by TCP. */
#define PF_CONNECT_BUCKETS 13
extern const uint64_t pf_connect_bucket_us[PF_CONNECT_BUCKETS];

/* Counters shared by every version of one forward (or backend), so that a
 * forward whose backends change keeps its history. Updated with relaxed
 * atomics by the workers. */
struct pf_stats {
	_Atomic int refs;
	_Atomic uint64_t conns; /* flows accepted (forward) or connected (backend) */
	_Atomic uint64_t active; /* flows now open */
	_Atomic uint64_t failed; /* connects that failed (refused, timed out) */
	_Atomic uint64_t refused; /* clients dropped: no backend, maxconn, ACL */
	_Atomic uint64_t denied; /* of which refused by the ACL (allow/deny) */
	_Atomic uint64_t proxy_errors; /* accept-proxy: no valid PROXY header in time */
	_Atomic uint64_t bytes_up; /* client -> backend */
	_Atomic uint64_t bytes_down; /* backend -> client */
	/* Backend health, shared by every version of the backend: written by the
	 * health checker and the passive check, read by the schedulers. */
	_Atomic uint8_t health; /* enum pf_health */
	_Atomic uint8_t agent; /* enum pf_agent: what the agent check said */
	_Atomic uint32_t agent_pct; /* effective weight in % of the weight (agent) */
	_Atomic uint64_t down_until_ms; /* passive check: no new flows until then */
	_Atomic uint64_t checks_failed; /* active checks that failed */
	_Atomic uint64_t changed_ms; /* last health change (wall clock, ms) */
	/* Backend connect times (user engine, TCP): a count per bucket, not
	 * cumulative (a flow adds one to one bucket), and their sum. */
	_Atomic uint64_t connect_hist[PF_CONNECT_BUCKETS + 1];
	_Atomic uint64_t connect_us_sum;
};

/* Counts one backend connect that took us microseconds (no allocation, a
 * few relaxed adds: the relay calls it once per connection). */
static inline void pf_stats_connect_time(struct pf_stats *st, uint64_t us)
{
	unsigned i = 0;

	while (i < PF_CONNECT_BUCKETS && us > pf_connect_bucket_us[i])
		i++;
	atomic_fetch_add_explicit(&st->connect_hist[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->connect_us_sum, us, memory_order_relaxed);
}

enum pf_health { PF_HEALTH_UP, PF_HEALTH_DOWN };
/* Which data plane carries a forward. DEFAULT: the daemon's (-e). */
enum pf_engine { PF_ENGINE_DEFAULT, PF_ENGINE_USER, PF_ENGINE_KERNEL };
extern uint8_t pf_engine_default;
enum pf_agent { PF_AGENT_NONE, PF_AGENT_UP, PF_AGENT_DRAIN, PF_AGENT_DOWN };
enum pf_admin { PF_ADMIN_ENABLED, PF_ADMIN_DRAIN, PF_ADMIN_DISABLED };
enum pf_balance {
	PF_BAL_WRR,
	PF_BAL_PREF,
	PF_BAL_RR,
	PF_BAL_LEASTCONN,
	PF_BAL_SOURCE,
	PF_BAL_MAGLEV,
};

/* A set of source networks (from, allow, deny). */
struct pf_cidr {
	union pf_sa addr; /* the network; port unused */
	uint8_t plen;
};

struct pf_cidrset {
	struct pf_cidr *v;
	uint32_t n;
};

#define PF_CHECK_STR_MAX 256 /* bytes of a check string, with room for a NUL */
/* Its escaped text (pf_escape: at most 4 characters a byte), as kept. */
#define PF_CHECK_ESC_MAX (4 * PF_CHECK_STR_MAX)

/* Active health checks of a forward's backends (configuration). */
struct pf_check {
	uint64_t interval_ms, timeout_ms, agent_interval_ms;
	uint32_t fall, rise;
	uint16_t port; /* 0: the backend's (first) port */
	uint16_t agent_port; /* 0: no agent check */
	bool on;
	/* Owned, never NULL; "": none. Escaped text (pf_escape), as written
	 * in quotes: the bytes may hold NULs (pf_unescape gives them). */
	char *send, *expect;
};

/*
 * Configuration and runtime are kept apart (relayd's host_conf / host): the
 * *_conf structs are plain values, what 'portfw save' prints, compared,
 * copied and freed as a whole; the rest belongs to the table, the scheduler
 * or the health checker. The options of a forward are described once, in
 * pf_opt.c's table, which drives parsing, printing, defaults, equality and
 * JSON.
 */
struct pf_be_conf {
	char *host; /* as written; owned, never NULL */
	uint16_t port_lo, port_hi; /* 0: the listener's port */
	uint32_t weight; /* also the ipmasqadm preference of 'balance pref' */
	bool bracketed;
	bool backup; /* only while no primary is usable */
	uint8_t admin; /* enum pf_admin */
	int line;
};

enum pf_resolve { PF_RESOLVE_FIRST, PF_RESOLVE_ALL };
/* How often a backend's host name is resolved again by default, and the
 * least time between two resolutions (a TTL of 0 must not spin). */
#define PF_RESOLVE_DEFAULT_MS 30000
#define PF_RESOLVE_MIN_MS 1000

struct pf_backend {
	struct pf_be_conf conf;
	/* runtime */
	union pf_sa addr; /* resolved; port unused */
	/* 'resolve all': another address of the backend before it, made from
	 * the same line (not written back by save). */
	bool extra;
	struct pf_stats *st;
	int64_t sched_cur; /* smooth weighted round robin state */
};

/* 'masquerade [ADDR]': the backend sees the gateway's address (the
 * outgoing interface's, or addr when it has a family). */
struct pf_masq {
	bool on;
	union pf_sa addr; /* family 0: the outgoing interface's address */
};

struct pf_fwd_opts {
	uint64_t connect_ms;
	uint64_t idle_ms;
	uint64_t halfclose_ms;
	uint64_t udp_ms; /* UDP session that never saw a reply */
	uint64_t udp_stream_ms; /* UDP session that did (RFC 4787 REQ-5: >= 120 s) */
	uint32_t maxconn; /* 0: unlimited */
	uint32_t max_sessions; /* UDP sessions per forward */
	/* Per client address (0: no limit): open TCP connections, open UDP
	 * sessions, and new flows in time (pf_rate_*: a rate and its unit). */
	uint32_t max_per_src;
	uint32_t max_sess_per_src;
	uint64_t rate_per_src;
	/* Backends given as host names: resolved again this often (at most;
	 * a shorter TTL of the answer comes first), and whether every address
	 * of the name is a backend (enum pf_resolve) or the first only. */
	uint64_t resolve_ms;
	uint8_t resolve;
};

struct pf_fwd_conf {
	uint16_t lport_lo, lport_hi;
	uint8_t protos; /* PF_PROTO_* bits */
	uint8_t balance; /* enum pf_balance */
	uint8_t engine; /* enum pf_engine, as written */
	bool ftp; /* kernel engine: attach the FTP helper (also for port 21) */
	bool allow_loopback; /* kernel engine: DNAT to 127/8 or ::1 (CVE-2020-8558) */
	/* User engine: connect to the backend from the client's address
	 * (IP_TRANSPARENT). The kernel engine's DNAT keeps it anyway. */
	bool transparent;
	bool trigger; /* a port trigger: see trig_proto */
	bool log; /* 'log': a flow log line per flow (see also 'default log') */
	/* User engine, TCP: the client speaks first ('defer-accept'): accept
	 * with its first bytes (TCP_DEFER_ACCEPT) and send the backend's
	 * handshake ACK with them. Never for SMTP, FTP, SSH: their server
	 * speaks first. */
	bool defer_accept;
	bool lbracketed;
	/* User engine, TCP: the PROXY protocol header sent to the backends
	 * (enum pf_proxy_ver; 0: none). Here, where it takes no room. */
	uint8_t proxy_send;
	/* 'trigger': protos/lport_* are the range opened, no backends; the host
	 * that opens a connection out to trig_proto/trig_port gets the range. */
	uint8_t trig_proto; /* PF_PROTO_TCP or PF_PROTO_UDP */
	uint16_t trig_port;
	int line;
	uint64_t trig_ms; /* how long the range stays open */
	char *lhost; /* owned, never NULL; "" = every address */
	char *src; /* where it was defined, for messages; owned, never NULL */
	char lif[PF_IFNAME_MAX]; /* "%IF:PORT": arriving on this interface ("" = any) */
	char name[PF_NAME_MAX]; /* "" when not named */
	struct pf_cidrset from; /* sources this forward serves (empty: all) */
	struct pf_cidrset allow, deny; /* its own ACL (empty: the table's default) */
	/* User engine, TCP: the sources that must start their connections
	 * with a PROXY protocol header (empty: none is read). */
	struct pf_cidrset accept_proxy;
	struct pf_fwd_opts o;
	struct pf_masq masq;
	struct pf_check check;
};

/* Why a client was refused (pf_refused: one log line per forward and
 * reason per interval). */
enum pf_refuse {
	PF_REFUSE_ACL,
	PF_REFUSE_NO_POOL, /* no forward of the port serves the source ('from') */
	PF_REFUSE_MAXCONN,
	PF_REFUSE_SESSIONS,
	PF_REFUSE_NO_BACKEND,
	PF_REFUSE_PER_SRC, /* max-per-source or max-sessions-per-source */
	PF_REFUSE_RATE_SRC, /* rate-per-source */
	PF_REFUSE_N,
};

/* The scheduler's state of a pool (pf_sched.c): made with the forward when
 * it has more than one backend; a single backend needs none. */
struct pf_sched_state;

struct pf_forward {
	/* What every walk over the table reads, together at the start: each
	 * cache line a walk touches per forward counts. */
	_Atomic int refs;
	bool checked; /* conf.check.on, where the walks read it */
	bool live; /* installed in the running table once: never changed since */
	/* Its flows are logged: its own 'log' or the table's 'default log'
	 * (pf_flowlog_wanted reads it as each flow ends). */
	bool logged;
	/* The forward's id: derived from its key (pf_fwdid.c), so the same on
	 * every gateway, and kept by the version that replaces it (same key),
	 * so that what an engine keeps by id follows (the kernel engine's
	 * chains and conntrack marks). 1..PF_ID_MAX, unique in a table;
	 * given when the forward enters one (pf_table_prepare_change). */
	uint32_t id;
	uint32_t nbe;
	uint32_t tstamp; /* pf_table.c: in which table (control thread only) */
	uint32_t namehash; /* pf_name_hash(name), set when it enters a table */
	struct pf_backend *be;
	struct pf_stats *st;
	struct pf_fwd_conf conf;
	/* runtime */
	struct pf_cidrset eff_allow, eff_deny; /* own ACL or the table's default */
	union pf_sa laddr; /* resolved listen address, port unused */
	_Atomic(struct pf_sched_state *) sched;
	/* The log's rate limit of refused clients, per reason. */
	struct pf_ratelimit refuse_rl[PF_REFUSE_N];
};

/*
 * A mark ('mark N [PROTO LISTEN] [from CIDR,...]'): the stand-in for the
 * ipchains '-m N' rule of 'ipmasqadm mfw'. It names which traffic (sources,
 * and optionally a protocol and listen address) the forward mfw-N serves.
 */
struct pf_mark {
	uint32_t id;
	uint8_t protos; /* 0: no PROTO LISTEN given: every protocol, the whole host */
	char lhost[PF_HOST_MAX];
	bool lbracketed;
	uint16_t lport_lo, lport_hi;
	struct pf_cidrset from; /* empty: every source no other pool claims */
};

/* A list of forwards (no references of its own unless said). */
struct pf_fwdvec {
	struct pf_forward **v;
	size_t n, cap;
};

/* 'user USER [group GROUP]': who portfwd runs as once its socket is bound
 * (portfwd -u and -g win). Read when portfwd starts; a change of it is kept
 * and saved but takes effect at the next start. "" when not given. */
#define PF_USER_MAX 33 /* useradd's 32 characters */
struct pf_user_conf {
	char user[PF_USER_MAX];
	char group[PF_USER_MAX];
};

/* 'status ADDR:PORT [admin]': where portfwd serves its metrics and status
 * page over HTTP (pfd_http.c). A plain value, compared and copied whole. */
struct pf_status_conf {
	bool on;
	bool admin; /* POST /api/backend, from loopback clients only */
	bool bracketed;
	uint16_t port;
	char host[PF_HOST_MAX]; /* a literal address */
	/* Where the line is ("FILE:LINE"), for the errors of binding; not
	 * part of the value (neither compared nor saved). */
	char where[PF_HOST_MAX];
};

bool pf_status_conf_equal(const struct pf_status_conf *a, const struct pf_status_conf *b);
/* "status 127.0.0.1:9100 admin", or "" when off. */
void pf_status_conf_format(const struct pf_status_conf *s, char *buf, size_t len);

/* The default 'drain-timeout' (HAProxy's hard-stop-after is often set
 * so), and the most it may be. */
#define PF_DRAIN_DEFAULT_MS 30000
#define PF_DRAIN_MAX_MS 86400000

struct pf_tindex;
struct pf_selector;

struct pf_table {
	struct pf_forward **fwd;
	size_t n, cap;
	struct pf_cidrset def_allow, def_deny; /* 'default allow|deny' lines */
	bool def_log; /* 'default log': every forward's flows are logged */
	uint8_t log_format; /* 'log-format': enum pf_flowlog_format */
	/* 'drain-timeout': how long a stopping portfwd lets the user engine's
	 * flows finish (pf_table_drain_ms); drain_set: the line was given,
	 * so that save writes it back even when it says the default. */
	uint64_t drain_ms;
	bool drain_set;
	struct pf_mark *marks; /* 'mark' lines, by id */
	size_t nmarks;
	struct pf_user_conf user; /* the 'user' line */
	struct pf_status_conf status; /* the 'status' line */
	/*
	 * A draft (pf_table_draft): a change being made to the running table
	 * base. It holds base's forwards without references of its own; add
	 * lists the forwards it added (with a reference each), del those of
	 * base it dropped. Validation, the engines and the install read these
	 * lists instead of the whole table, so a change costs what it
	 * changes. NULL base: a table of its own (a file's, a flush's).
	 */
	struct pf_table *base;
	struct pf_fwdvec add, del;
	/* The forwards by name and by port, for a table that lives (the
	 * running one: pf_table_install keeps it); NULL: lookups walk. */
	struct pf_tindex *idx;
};

struct pf_forward *pf_forward_new(void);
struct pf_forward *pf_forward_ref(struct pf_forward *f);
void pf_forward_unref(struct pf_forward *f);

const char *pf_balance_name(uint8_t balance);
/* The engine that carries f: its own choice or the daemon's default. */
uint8_t pf_forward_engine(const struct pf_forward *f);
const char *pf_admin_name(uint8_t admin);
/* The state 'portfw list' shows: disabled, drain, down or up. */
const char *pf_backend_state(const struct pf_forward *f, const struct pf_backend *be);

bool pf_cidr_match(const struct pf_cidr *c, const union pf_sa *sa);
/*
 * Longest-prefix order, the one rule by which every choice among networks
 * that hold an address is made (a forward's 'from' pool, allow against deny,
 * and the order of the kernel engine's rules, where the first match wins):
 * a and b are prefix lengths, or -1 for no match. < 0: a is the longer
 * (more specific), > 0: b is, 0: a tie, which each caller settles its way.
 */
static inline int pf_prefix_cmp(int a, int b)
{
	return (b > a) - (a > b);
}
/* The longest prefix of set that contains sa, or -1. */
int pf_cidrset_match(const struct pf_cidrset *set, const union pf_sa *sa);
bool pf_cidrset_equal(const struct pf_cidrset *a, const struct pf_cidrset *b);
void pf_cidrset_copy(struct pf_cidrset *dst, const struct pf_cidrset *src);
void pf_cidrset_free(struct pf_cidrset *set);
/* "10.0.0.0/8,192.0.2.1/32" */
void pf_cidrset_format(const struct pf_cidrset *set, char *buf, size_t len);
/* May a client of this address use the forward (its ACL, or the default)? */
bool pf_acl_allows(const struct pf_forward *f, const union pf_sa *sa);

/* Sets each forward's effective ACL from the table's default where it has no
 * list of its own; a forward still shared with cur whose ACL changes is
 * replaced by a copy. */
void pf_table_effective(struct pf_table *next, const struct pf_table *cur);

/* A copy of the configuration and resolved addresses, without runtime state. */
struct pf_forward *pf_forward_clone(const struct pf_forward *f);

/* Same protocols, listen address as written and port range. */
bool pf_forward_same_key(const struct pf_forward *a, const struct pf_forward *b);
/* Same configuration in every respect (the diff keeps such a forward as is). */
bool pf_forward_equal(const struct pf_forward *a, const struct pf_forward *b);
/* Port of backend 'be' for a flow that arrived on listen port 'lport'. */
uint16_t pf_backend_port(const struct pf_forward *f, const struct pf_backend *be, uint16_t lport);

/* One config line that loads back into the same forward. */
void pf_forward_format(const struct pf_forward *f, char *buf, size_t len);
void pf_backend_format(const struct pf_backend *be, char *buf, size_t len);
void pf_listen_format(const struct pf_forward *f, char *buf, size_t len);
/* How messages name a forward: "FILE:LINE" of the text that defined it (line:
 * the forward's or one backend's), else, for one given as arguments (portfw
 * add: line 0), "forward 'NAME'" or "PROTO LISTEN". Returns buf. */
#define PF_WHERE_MAX 512
const char *pf_forward_where(const struct pf_forward *f, int line, char *buf, size_t len);
/* How the relay's log lines name a forward: "'NAME'", else where it was
 * defined (its source). Returns buf. */
const char *pf_forward_label(const struct pf_forward *f, char *buf, size_t len);
const char *pf_proto_name(uint8_t protos);

/* Logs (rate-limited) that f refused client for why. From any thread. */
void pf_refused(struct pf_forward *f, enum pf_refuse why, const union pf_sa *client);

struct pf_stats *pf_stats_new(void);
struct pf_stats *pf_stats_ref(struct pf_stats *st);
void pf_stats_unref(struct pf_stats *st);

/* The whole table as a config file ('portfw save'); malloc'd, NULL when out
 * of memory. */
char *pf_table_format(const struct pf_table *t);

void pf_table_init(struct pf_table *t);
/* The table's 'drain-timeout', or the default. */
uint64_t pf_table_drain_ms(const struct pf_table *t);
void pf_table_clear(struct pf_table *t);
/* Takes over the caller's reference. */
void pf_table_add(struct pf_table *t, struct pf_forward *f);
void pf_table_remove_at(struct pf_table *t, size_t i);
/* Puts c (the caller's reference) in the place of forward i. */
void pf_table_replace_at(struct pf_table *t, size_t i, struct pf_forward *c);
/* Where f is in t (a walk over pointers, no forward read); SIZE_MAX: not. */
size_t pf_table_pos(const struct pf_table *t, const struct pf_forward *f);
/* Shallow copy: the same forward objects, one more reference each. */
void pf_table_copy(struct pf_table *dst, const struct pf_table *src);
/* dst: a draft of a change to base (see struct pf_table). */
void pf_table_draft(struct pf_table *dst, struct pf_table *base);
/* Makes next the running table cur: next is a draft of cur, or a table of
 * its own that replaces it whole. Drops cur's references to what went,
 * keeps (and updates) its index; next is left empty. */
void pf_table_install(struct pf_table *cur, struct pf_table *next);
/* An id for a forward new to the running table cur: one no forward of cur
 * has. */
/* Gives ids to the forwards of next that have none (pf_tchange.c). */
void pf_table_give_ids(const struct pf_table *cur, struct pf_table *next);
/* Builds t's index (pf_table_install does). */
void pf_table_index(struct pf_table *t);
struct pf_forward *pf_table_find_name(const struct pf_table *t, const char *name);
/* The forward of t with f's key (pf_forward_same_key), or NULL. */
struct pf_forward *pf_table_find_key(const struct pf_table *t, const struct pf_forward *f);
/* Adds to out the forwards of t (not f) that may clash with f: the same
 * name, or protocols and ports in common. */
void pf_table_neighbours(const struct pf_table *t, const struct pf_forward *f,
			 struct pf_fwdvec *out);
/* The forwards sel matches, in table order (out: empty). */
void pf_table_select(const struct pf_table *t, const struct pf_selector *sel,
		     struct pf_fwdvec *out);
/* Puts v (distinct forwards of t) in t's order. */
void pf_table_order(const struct pf_table *t, struct pf_fwdvec *v);

void pf_fwdvec_push(struct pf_fwdvec *v, struct pf_forward *f);
/* Removes f; false if it is not there. */
bool pf_fwdvec_remove(struct pf_fwdvec *v, const struct pf_forward *f);
bool pf_fwdvec_has(const struct pf_fwdvec *v, const struct pf_forward *f);
void pf_fwdvec_free(struct pf_fwdvec *v);

/* Marks: find by id; set (adds or replaces; takes over m->from); delete. */
const struct pf_mark *pf_table_find_mark(const struct pf_table *t, uint32_t id);
void pf_table_set_mark(struct pf_table *t, struct pf_mark *m);
bool pf_table_del_mark(struct pf_table *t, uint32_t id);
/* "mark 1 tcp :80 from 10.0.0.0/8" */
void pf_mark_format(const struct pf_mark *m, char *buf, size_t len);
void pf_marks_copy(struct pf_table *dst, const struct pf_table *src);
void pf_marks_free(struct pf_table *t);
/* A copy of forward f (mfw-N) serving what mark m names now: its protocol,
 * listen address and sources. NULL when that cannot be (a whole-host mark and
 * a port forward, or the other way round, or backend ranges that no longer fit
 * the listen range). */
struct pf_forward *pf_mark_apply(const struct pf_mark *m, const struct pf_forward *f);

/*
 * Checks a whole table before it may replace the running one: unique names,
 * no two forwards claiming the same protocol, address and port. Returns 0, or
 * -1 with "FILE:LINE: message" in err.
 */
int pf_table_validate(const struct pf_table *t, char *err, size_t errlen);
/* Names are compared by hash first: the name is far from the fields a walk
 * over 100,000 forwards reads anyway. */
uint32_t pf_name_hash(const char *name);
/* effective, inherit, resolve and validate for next, made from the valid
 * running table cur by a change. When next is a draft of cur (pf_table_draft)
 * with few new forwards, only those and what they may clash with are looked
 * at: ch->fresh says how many there are, ch->changed how many of them
 * replace one of cur's (same key); a new forward equal to the one of cur it
 * replaces is replaced by that running one, and leaves the draft's lists.
 * Else the whole table is, and ch->fresh is SIZE_MAX. */
struct pf_change {
	size_t fresh, changed;
	bool checked; /* one of the fresh forwards has health checks */
};
int pf_table_prepare_change(struct pf_table *next, const struct pf_table *cur,
			    struct pf_change *ch, char *err, size_t errlen);

/* Resolves listen and backend hosts (getaddrinfo; may block on DNS). */
int pf_table_resolve(struct pf_table *t, char *err, size_t errlen);
/* The same for one forward (pf_resolve.c) not yet shared: nothing to do
 * when it has its addresses (its listen address is set). A backend name that
 * does not resolve keeps the addresses of the running version of f in cur
 * (NULL: none), else it is an error naming its line. */
int pf_forward_resolve(struct pf_forward *f, const struct pf_table *cur, char *err,
		       size_t errlen);
/* When to resolve a name again: after the interval, or the answer's TTL
 * (seconds; 0: none given) when shorter, but not sooner than
 * PF_RESOLVE_MIN_MS. */
uint64_t pf_resolve_wait_ms(uint64_t interval_ms, int ttl_s);
/* Whether host is a name to resolve (not "" nor a literal address). */
bool pf_host_is_name(const char *host);
/* Of a name's answer v[0..n-1], the addresses to use, put first in v: of
 * the family given (0: v[0]'s), without duplicates; 'all': every one, in
 * a stable order, else one (cur when it is still among them, else v[0]).
 * Returns how many; 0: none of the family. */
size_t pf_addrs_pick(union pf_sa *v, size_t n, int family, bool all, const union pf_sa *cur);
/* Backend j (a line's first entry) and the extra entries after it: their
 * number, and their addresses copied to out (at most max; out may be
 * NULL). */
uint32_t pf_backend_group(const struct pf_forward *f, uint32_t j, union pf_sa *out, size_t max);
/* Puts addrs[0..n-1] in place of backend j's addresses (f not yet shared),
 * as many entries as addresses (capped by PF_BACKENDS_MAX). Returns the
 * index after them. */
uint32_t pf_backend_set_addrs(struct pf_forward *f, uint32_t j, const union pf_sa *addrs,
			      size_t n);

/*
 * Prepares 'next' to replace 'cur': a forward equal to one of 'cur' is
 * replaced by that very object (it keeps its state and flows); one with the
 * same key shares its counters; new ones get fresh runtime state.
 */
void pf_table_inherit(const struct pf_table *cur, struct pf_table *next);

/* Diff of two tables, for engines and tests. */
enum pf_diff_op { PF_DIFF_KEEP, PF_DIFF_ADD, PF_DIFF_DEL, PF_DIFF_MODIFY };
typedef void (*pf_diff_cb)(enum pf_diff_op op, struct pf_forward *old, struct pf_forward *nw,
			   void *arg);
void pf_table_diff(const struct pf_table *cur, const struct pf_table *next, pf_diff_cb cb,
		   void *arg);

#endif
