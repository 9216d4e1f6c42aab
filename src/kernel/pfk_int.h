/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel engine internals. */
#ifndef PFK_INT_H
#define PFK_INT_H

#include "pfk.h"
#include "../common/pf_engine.h"
#include "../common/pf_buf.h"
#include "../common/pf_conf.h"

struct pfk_walk;

/* ct mark bits: the connection was DNATed by one of our forwards (whose id is
 * in the low bits), and it is masqueraded: the forward says so
 * ('masquerade'), or its client is on the backend's side (hairpin: the
 * backend's replies would not come back through the gateway). */
#define PFK_MARK_OURS 0x40000000u
#define PFK_MARK_MASQ 0x20000000u
#define PFK_MARK_ID 0x000fffffu
_Static_assert(PFK_MARK_ID == PF_ID_MAX, "a forward id fills a ct mark's id bits");

#define PFK_MARK_TRIG 0x10000000u /* an inside host's connection to a trigger's port */

/* A TCP flow of ours as it closes (the table's closing chain): a FIN went
 * from the client's side (FINO) or from the backend's (FINR); then both,
 * or a reset: DONE, the one change of an entry of ours that conntrack
 * reports (pfk_stats.c). */
#define PFK_MARK_FINO 0x08000000u
#define PFK_MARK_FINR 0x04000000u
#define PFK_MARK_DONE 0x02000000u

/* portfwd --conntrack-events all: conntrack reports every change of our
 * entries, as of any other (conntrackd needs them). Else only their
 * creation, their close (DONE) and their end. */
bool pfk_events_all(void);
bool pfk_events_none(void);
/* portfwd --ha (struct pfk_config). */
bool pfk_ha(void);

/* The whole ruleset as an nft script, the simple forwards' map elements in
 * it (for tests, the benchmark, a look at what the engine loads). */
char *pfk_render_table(const struct pf_table *t, const char *const *wan, size_t nwan);
/* The table a stop leaves: the hooks established flows need, no forward. */
char *pfk_render_stopped(void);
/* The same without those elements: what libnftables loads, the elements
 * going through pfk_nl_apply. Sets every carried forward's form (pfk_state.c): anew
 * (fresh: backend health may have changed), or as loaded where it can. */
char *pfk_render_core(const struct pf_table *t, const char *const *wan, size_t nwan, bool fresh,
		      struct pfk_walk *w);

/*
 * Simple forwards (one backend, no ACL, no 'from', on ports): map elements,
 * no chains. A key (the dispatch maps' key: address, interface or none,
 * protocol, port) gives the ct mark in m_* and the DNAT target of each
 * family in d4_* / d6_*. Chains per forward cost every commit (the kernel
 * validates each chain a verdict map jumps to) and every libnftables command
 * (which lists them all); data maps cost neither.
 */
/* The kinds of key (dispatch maps): port forwards on an address, an
 * interface, every address; whole-host forwards. */
enum pfk_map {
	PFK_M_IN4, /* ADDR . proto . port */
	PFK_M_IN6,
	PFK_M_IFC, /* "wan" . proto . port */
	PFK_M_ANY, /* proto . port on every local address */
	PFK_M_ALL4, /* ADDR: whole host */
	PFK_M_ALL6,
	PFK_M_ALLIF, /* "wan": whole host */
	PFK_M_ALLANY, /* every local address: whole host (one rule, no map) */
	PFK_M_N,
};

#define PFK_FORM_SIMPLE 0x1u
#define PFK_FORM_D4 0x2u /* has a DNAT target of this family now */
#define PFK_FORM_D6 0x4u
#define PFK_FORM_ELEMS 0x7u /* the bits that say which elements it has */
#define PFK_FORM_MAP(m) ((unsigned)(m) << 3) /* which key map (PFK_M_IN4..ANY) */
#define PFK_FORM_MAP_OF(form) (((form) >> 3) & 0x3u)
#define PFK_FORM_LOADED 0x80u /* as loaded: in the loaded table, whatever its form */

enum pfk_set {
	PFK_SET_M_IN4,
	PFK_SET_D4_IN4,
	PFK_SET_M_IN6,
	PFK_SET_D6_IN6,
	PFK_SET_M_IFC,
	PFK_SET_D4_IFC,
	PFK_SET_D6_IFC,
	PFK_SET_M_ANY,
	PFK_SET_D4_ANY,
	PFK_SET_D6_ANY,
	PFK_SET_N,
};

/* One element added or deleted, as the kernel holds it (every part of a
 * concatenation padded to 4 bytes; ports in network order, marks in host). */
struct pfk_op {
	uint8_t set, del, klen, dlen;
	uint8_t key[24], data[20];
};

struct pfk_ops {
	struct pfk_op *v;
	size_t n, cap;
	bool oom;
};

const char *pfk_set_name(unsigned set);
void pfk_ops_add(struct pfk_ops *o, const struct pfk_op *op);
void pfk_ops_free(struct pfk_ops *o);
/* pfk_nl.c: o in one transaction (undo: the inverse, last op first). */
int pfk_nl_apply(const struct pfk_ops *o, bool undo, char *err, size_t errlen);
void pfk_nl_close(void);

/* pfk_simple.c */
/* Whether f can be elements (not counting keys shared with 'from' pools). */
bool pfk_simple_ok(const struct pf_forward *f);
/* Its form now (backend health): PFK_FORM_* bits. */
uint8_t pfk_simple_form(const struct pf_forward *f);
/* Ops that take f's elements from form 'from' to form 'to' (0: none). */
void pfk_simple_ops(struct pfk_ops *o, const struct pf_forward *f, uint8_t from, uint8_t to);
/* A port key of f as nft writes it, for a map of kind (PFK_M_IN4 ..
 * PFK_M_ANY): "ADDR . tcp . 80", "\"wan\" . udp . 53", "tcp . 80". */
void pfk_key_text(struct pf_buf *b, const struct pf_forward *f, unsigned kind, uint32_t proto,
		  uint32_t port);
/* The elements of simple forwards as text in each map's list. */
void pfk_simple_text(struct pf_buf *b, const struct pf_table *t, unsigned set);

/* pfk_state.c: the engine's state of a forward, by its id. A changed
 * forward's new version shares its id with the old one: form is the new
 * version's (the table being rendered), loaded the old one's until the
 * change is committed. */
struct pfk_fstate {
	const struct pf_forward *loaded_f; /* the version loaded; NULL: none */
	const struct pf_forward *next_f; /* the version in the table of change gen */
	uint32_t gen;
	uint8_t loaded; /* PFK_FORM_* of loaded_f, with PFK_FORM_LOADED */
	uint8_t form; /* PFK_FORM_* the table being rendered wants (0: chains) */
	/* A forward whose chains the engine loads itself (pfk_fchain_owns):
	 * their text as loaded (NULL: none), the text a change would load
	 * (NULL: as loaded), and the change (own_gen) whose table owns them. */
	char *chain, *chain_next;
	uint32_t own_gen;
	uint32_t prev_at; /* where loaded_f is in the engine's list of loaded forwards */
	uint64_t acl_seen; /* packets its ACL had dropped at the last read (pfk_acl.c) */
	uint64_t ps_seen; /* the same of its limits per source */
};
struct pfk_fstate *pfk_fs(const struct pf_forward *f);
uint8_t pfk_form(const struct pf_forward *f);
void pfk_set_form(const struct pf_forward *f, uint8_t form);
/* f's form as loaded: 0 when this version of it is not. */
uint8_t pfk_loaded_form(const struct pf_forward *f);
/* f is loaded now, as its form says (true), or is not any more (false). */
void pfk_set_loaded(const struct pf_forward *f, bool loaded);
/* The version of forward id that is loaded, or NULL. */
const struct pf_forward *pfk_loaded_by_id(uint32_t id);

/* pfk_own.c: the chains of the forwards that own theirs, forward by
 * forward. A change (or a refresh) begins, plans each such forward of the
 * table to load and drops each loaded one (nothing if its id still owns
 * chains), then commits or aborts. */
void pfk_own_begin(void);
void pfk_own_plan(struct pf_forward *f);
void pfk_own_drop(struct pf_forward *f);
/* Whether the plan loads any chain. */
bool pfk_own_pending(void);
/* The plan's commands that go before the core's diff (pre: keys and chains
 * deleted) or after it; NULL when out of memory. */
char *pfk_own_script(bool pre);
/* For a load of the whole table: the chains and keys of every forward of v
 * that owns them, as planned or (loaded) as loaded. */
char *pfk_own_all(struct pf_forward *const *v, size_t n, bool loaded);
void pfk_own_commit(void);
void pfk_own_abort(void);
/* The engine stops: f's chains are no more. */
void pfk_own_forget(const struct pf_forward *f);

/* pfk_render.c: pf_buf_printf under the short name of the render's many
 * lines (scripts are built in a struct pf_buf: b->err checked once, at the end). */
__attribute__((format(printf, 2, 3))) void pfk_out(struct pf_buf *b, const char *fmt, ...);
void pfk_addr(struct pf_buf *b, const union pf_sa *sa);
bool pfk_v6(const union pf_sa *sa);
/* The ACL of forward (kind 'f') or trigger ('t') f: its rules go on to the
 * chain "<kind><id>_nat" or drop (nothing when it has no ACL). */
void pfk_render_acl(struct pf_buf *b, const struct pf_forward *f, char kind);

/* pfk_dispatch.c: how a new connection finds its forward. The maps keyed by
 * address, interface, protocol and port (one lookup whatever their size),
 * the chains that pick among forwards sharing a key by source ('from'), the
 * triggers' map and chains, and the dispatch chains that look them up. */
struct pfk_disp;
/* What one walk over a table finds for the render (pfk_walk_one on each
 * forward, in table order): indexes of the kernel's forwards that are not
 * triggers, of the triggers, the user engine's ports. The render adds the
 * kernel forwards whose form is not as loaded (new ones too): touched. */
struct pfk_walk {
	size_t *car, ncar, *trig, ntrig, nfrom;
	bool has_ktrig;
	uint64_t *user_ports[2];
	size_t *touched, ntouched;
	/* The render's model (pfk_disp_model) and, in it, the forwards whose
	 * chains and keys the engine loads one by one (pfk_fchain_owns). */
	bool model;
	size_t *own, nown;
};
void pfk_walk_init(struct pfk_walk *w, size_t n);
void pfk_walk_one(struct pfk_walk *w, const struct pf_forward *f, size_t i);
void pfk_walk_free(struct pfk_walk *w);
/* A draft of the loaded table (see struct pf_table) whose kernel forwards
 * that come and go are all simple ones, with no 'from' pool about and room
 * in the maps: decides the new ones' forms, and the maps as they will be;
 * the core stays as loaded. False: the table must be rendered. */
bool pfk_disp_delta(const struct pf_table *next);
/* Also decides each carried forward's form (simple or chains) and counts
 * the simple keys per map, for the maps' sizes. w: the table's walk done
 * already (NULL: done here). */
struct pfk_disp *pfk_disp_build(const struct pf_table *t, bool fresh, bool text,
				struct pfk_walk *w);
/* text: the simple forwards' elements are rendered in the maps' lists. */
/* The render leaves out the chains of the forwards that own their keys,
 * and those keys (no 'from' pool about, not text): the engine loads them
 * forward by forward, from the model, as it loads simple elements. */
bool pfk_disp_model(const struct pfk_disp *d);
/* Whether the loaded table, and whether the last render, is such. A change
 * between the two loads the table whole (the keys change owner). */
bool pfk_disp_model_loaded(void);
bool pfk_disp_model_flips(void);
/* pfk_fchain: a port forward with chains that owns its keys (no 'from',
 * not whole-host, not a trigger); its chains (f<id>, f<id>_nat) as a
 * table block's lines; its keys in the verdict map of their kind (which it
 * returns), each as ", KEY" or (verdict) ", KEY : goto f<id>". */
bool pfk_fchain_owns(const struct pf_forward *f);
void pfk_fchain_render(struct pf_buf *b, struct pf_forward *f);
unsigned pfk_fchain_keys(struct pf_buf *b, const struct pf_forward *f, bool verdict);
unsigned pfk_fchain_map(const struct pf_forward *f);
/* The verdict map of a kind of port key ("any", "in4", ...). */
const char *pfk_vmap_name(unsigned map);
/* Indexes in the table of the forwards with chains, and of those with the
 * FTP helper, in table order. */
const size_t *pfk_disp_chained(const struct pfk_disp *d, size_t *n);
const size_t *pfk_disp_ftp(const struct pfk_disp *d, size_t *n);
/* The last render is loaded now (the simple maps' sizes, whether 'from'
 * pools were about); or nothing is. */
void pfk_disp_commit(void);
/* The last render's simple maps are not the size of the loaded ones (a map
 * cannot be resized in place: the table is loaded whole). */
bool pfk_disp_grows(void);
void pfk_disp_reset(void);
uint32_t pfk_usable(const struct pf_forward *f, uint32_t *w);
void pfk_disp_maps(struct pf_buf *b, const struct pfk_disp *d);
void pfk_disp_chains(struct pf_buf *b, const struct pfk_disp *d);
/* The forward chain (hook: its type line), while triggers need it: it
 * marks an inside host's connection to a trigger's control port. */
void pfk_disp_forward_chain(struct pf_buf *b, const struct pfk_disp *d, const char *hook);
bool pfk_disp_has_host(const struct pfk_disp *d);
void pfk_disp_free(struct pfk_disp *d);

/* pfk_trigger.c: who holds a trigger's range now (IPv4), for how long. */
bool pfk_trig_holder(uint32_t id, union pf_sa *host, uint64_t *left_ms);
bool pfk_trig_state(const struct pf_forward *f, struct pf_trigger_state *ts);
/* The conntrack event socket of the triggers (-1 until a table has one;
 * then it stays open) and what to call when it is readable. */
/* pfk_sys.c: sysctls set and put back, route_localnet, and the engine's
 * event set (rtnetlink; others' descriptors join it with pfk_sys_watch). */
int pfk_sysctl_set(const char *path, const char *want, const char *why);
/* The sysctls set now and their first values, as nft commands that keep
 * them in the table (a set put_back), which outlives a stop or a kill -9
 * (NULL when out of memory); whether they changed since; and, at the next
 * start, what such a table's 'list set inet portfw put_back' says, taken
 * as ours to put back. */
char *pfk_sysctl_note(void);
bool pfk_sysctl_dirty(void);
void pfk_sysctl_adopt(const char *listing);
void pfk_sysctl_restore(void);
/* Whether f may need route_localnet (a loopback backend or listen address);
 * whether some forward does (then it is set where they need it). */
bool pfk_localnet_needs(const struct pf_forward *f);
bool pfk_localnet_sync(struct pf_forward *const *fwd, size_t n);
int pfk_sys_start(void);
/* put_back: every sysctl as it was; else they stay (flows left running
 * need them). */
void pfk_sys_stop(bool put_back);
int pfk_sys_fd(void);
int pfk_sys_watch(int fd, void (*fn)(void));
/* The same, read at most once in a short while: for a stream of events
 * that may wait a little, whose socket buffer holds them meanwhile. */
int pfk_sys_watch_batched(int fd, void (*fn)(void));
void pfk_sys_unwatch(int fd);
/* Runs what is readable; true when links, addresses or default routes
 * changed. */
bool pfk_sys_event(void);
/* After a change: follow the table's triggers (subscribe to conntrack
 * events while there are any; forget holders of triggers that went). */
void pfk_trig_sync(struct pf_forward *const *fwd, size_t n);
void pfk_trig_stop(void);
/* pfk_engine.c: runs a script in the engine's libnftables context. */
int pfk_nft_run(const char *text, char *err, size_t errlen);
/* What a listing command prints (valid until the next command); NULL when
 * it fails. */
const char *pfk_nft_query(const char *cmd);

/* pfk_stats.c: the forwards' counters from conntrack events (NEW, DESTROY)
 * in the engine's event set; conntrack accounting turned on at start. */
struct nf_conntrack;
int pfk_stats_start(void);
void pfk_stats_stop(void);
/* Events were lost: count the active flows of fwd again (pfk_stats_resync). */
bool pfk_stats_lost(void);
void pfk_stats_resync(struct pf_forward *const *fwd, size_t n);
/* An entry's client (original source), listen address (original
 * destination) and backend (reply source). */
void pfk_stats_ends(const struct nf_conntrack *ct, union pf_sa *client, union pf_sa *listen,
		    union pf_sa *backend);

/* pfk_closed.c: entries TCP has closed that conntrack still holds, by
 * conntrack id. add: true when id was not there yet; del: true when it
 * was (and is now gone). */
bool pfk_ct_closed(const struct nf_conntrack *ct);
bool pfk_closed_add(uint32_t id);
bool pfk_closed_del(uint32_t id);
void pfk_closed_clear(void);

/* pfk_flowlog.c: a DESTROY event of f's entry, as a flow log record
 * (when f is logged); an entry portfwd deletes is noted as killed first. */
void pfk_flow_ended(const struct pf_forward *f, const struct nf_conntrack *ct,
		    const union pf_sa *client, const union pf_sa *listen,
		    const union pf_sa *backend);
void pfk_flow_killed(const struct nf_conntrack *ct);
/* Why the entry ct ended: enum pf_flow_end. */
uint8_t pfk_flow_end(const struct nf_conntrack *ct);

/* pfk_persrc.c: limits per client address (max-per-source,
 * max-sessions-per-source, rate-per-source) as dynamic sets and rules of
 * the forward's chains; their drop rules carry this comment, so that their
 * counters are told from the ACL's. */
#define PFK_PS_COMMENT "per-source"
bool pfk_persrc_on(const struct pf_forward *f);
/* The declarations of f's sets (in a table block). */
void pfk_persrc_sets(struct pf_buf *b, const struct pf_forward *f);
/* Its rules, at the head of its nat chain. */
void pfk_persrc_rules(struct pf_buf *b, const struct pf_forward *f);
/* Commands that delete whichever sets forward id had (any may be absent). */
void pfk_persrc_drop_sets(struct pf_buf *b, uint32_t id);
/* Commands, after its chains are flushed, that empty f's sets named in
 * its chains' old text when its limits changed (the elements keep the
 * limits they were made with), or delete them when it has none now. */
void pfk_persrc_flush_sets(struct pf_buf *b, const struct pf_forward *f, const char *old);

/* pfk_acl.c: ACL denials, from the drop rules' counters read back every
 * few seconds (a timer in the engine's event set sets the flag). */
int pfk_acl_start(void);
void pfk_acl_stop(void);
bool pfk_acl_read_due(void);
void pfk_acl_read(struct pf_forward *const *fwd, size_t n);

/* pfk_ct.c */
/* Runs a dump of the entries whose ct mark & mask == mark (filtered in the
 * kernel), both families, into h's registered callback. */
struct nfct_handle;
void pfk_ct_dump_marked(struct nfct_handle *h, uint32_t mark, uint32_t mask);
/* Deletes conntrack entries marked with one of these forward ids. */
/* UDP entries only (flows follow a changed forward), or every one (kill). */
unsigned pfk_ct_flush_ids(const uint32_t *ids, size_t n);
unsigned pfk_ct_kill_ids(const uint32_t *ids, size_t n);
/* UDP entries to the ports of newly added forwards that are not ours. */
unsigned pfk_ct_flush_stale(const struct pf_forward *const *f, size_t n);
/* Every entry of ours: of the loaded forwards, of forwards deleted, of a
 * previous portfwd's (flush -k). */
unsigned pfk_ct_kill_all(void);
/* The entries a previous portfwd left whose mark's id is not of the
 * forward of fwd that takes them now: marked with the id of the one that
 * does (or none). How many were. */
unsigned pfk_ct_adopt(struct pf_forward *const *fwd, size_t n);
/* How many entries of our forwards conntrack holds (any state). */
unsigned pfk_ct_count_ours(void);
/* Every flow of our forwards (named by the loaded version of each). */
void pfk_ct_list(pf_flow_cb cb, void *arg);

#endif
