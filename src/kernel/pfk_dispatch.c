// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * How a new connection finds its forward in 'inet portfw'. Every kernel
 * forward contributes keys: (address | interface | any, protocol, port) for
 * port forwards, (address | interface | any) for whole-host ('all') ones.
 * Keys go into verdict maps, so one lookup finds the forward whatever the
 * number of forwards. Forwards that share a key serve different sources
 * ('from'): the key then leads to a chain of its own that tries their
 * networks, the longest prefix first (no two forwards on a key hold the same
 * network: validation refuses that), then the forward without 'from'.
 *
 * Order of precedence: port forwards on an address, on an interface, on any
 * address (chain 'dispatch', also for the gateway's own connections); then,
 * for connections from outside only ('dispatch_host'), the ranges opened by
 * port triggers and the whole-host forwards.
 */
#include "pfk_int.h"
#include "../common/pf_util.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>


struct pfk_key {
	uint8_t map, proto; /* PF_PROTO_TCP / _UDP, 0 for whole-host keys */
	uint16_t port;
	uint8_t addr[16];
	const char *lif;
	uint32_t fi; /* index of the forward in the table */
};

/* Forwards that share a key: a chain 'gN' chooses among them by source. */
struct pfk_group {
	uint32_t *fi, n;
};

struct pfk_disp {
	const struct pf_table *t;
	struct pfk_key *k;
	size_t nk;
	/* For each run of equal keys: the verdict's target ("f3" or "g1"). */
	char (*target)[16];
	size_t nrun;
	size_t *run_start; /* index in k of each run's first key */
	struct pfk_group *g;
	size_t ng;
	bool has[PFK_M_N];
	bool has_trig;
	/* Ports of the user engine's forwards (TCP, UDP): its sockets come
	 * before whole-host forwards and triggers, as kernel port forwards do. */
	uint64_t *user_ports[2];
	/* Simple forwards' keys per map (PFK_M_IN4 .. PFK_M_ANY), and whether
	 * their elements are rendered as text. */
	size_t nsimple[PFK_M_ALL4];
	bool text;
	bool fresh; /* decide every forward's form anew (health changed) */
	/* No 'from' pool, and not text: the chains of the forwards that own
	 * their keys (port forwards with chains) and those keys' elements are
	 * left out, for the engine to load forward by forward (pfk_fchain). */
	bool model;
	/* What the rest of the render walks instead of the table (each walk
	 * over a big table costs a cache miss per forward): indexes in t of the
	 * triggers, of the forwards with chains, of those with the FTP helper. */
	size_t *trig, ntrig, *chained, nchained, *ftp, nftp;
};

/* The simple maps' sizes: as loaded, and as last rendered. A map's size is
 * fixed once made (the kernel then picks a fixed hash, faster to fill
 * than a resizable one) and the most elements it takes: it grows, by a
 * whole reload, only when the forwards outgrow it. */
static uint32_t pfk_msize[PFK_M_ALL4], pfk_msize_next[PFK_M_ALL4];
/* Whether the verdict map of each kind of port key has elements (its
 * dispatch rule is there), and whether the forwards' own chains are loaded
 * forward by forward (pfk_disp model): as loaded, as last rendered. */
static bool pfk_vhas[PFK_M_ALL4], pfk_vhas_next[PFK_M_ALL4];
static bool pfk_model, pfk_model_next;
/* The simple forwards' keys per map: as loaded, as last rendered. */
static size_t pfk_nsimple[PFK_M_ALL4], pfk_nsimple_next[PFK_M_ALL4];


static uint32_t pfk_map_size(unsigned m, size_t n)
{
	uint32_t size = 4096;

	if (pfk_msize[m] && n <= pfk_msize[m])
		return pfk_msize[m];
	while (size < 2 * n && size < (1u << 30))
		size <<= 1;
	return size;
}

bool pfk_disp_model(const struct pfk_disp *d)
{
	return d->model;
}

bool pfk_fchain_owns(const struct pf_forward *f)
{
	/* 'masquerade ADDR': its SNAT rule is in the core's srcnat chain. */
	return f->conf.protos != PF_PROTO_ALL && !f->conf.trigger && !f->conf.from.n &&
	       !f->conf.masq.addr.sa.sa_family;
}

const size_t *pfk_disp_chained(const struct pfk_disp *d, size_t *n)
{
	*n = d->nchained;
	return d->chained;
}

const size_t *pfk_disp_ftp(const struct pfk_disp *d, size_t *n)
{
	*n = d->nftp;
	return d->ftp;
}

static const char *pfk_proto_word(uint8_t proto)
{
	return proto == PF_PROTO_TCP ? "tcp" : "udp";
}

static void pfk_key_addr(uint8_t *out, const union pf_sa *sa)
{
	memset(out, 0, 16);
	if (sa->sa.sa_family == AF_INET6)
		memcpy(out, &sa->sin6.sin6_addr, 16);
	else
		memcpy(out, &sa->sin.sin_addr, 4);
}

static int pfk_key_cmp(const void *pa, const void *pb)
{
	const struct pfk_key *a = pa, *b = pb;
	int c;

	if (a->map != b->map)
		return a->map < b->map ? -1 : 1;
	c = memcmp(a->addr, b->addr, sizeof(a->addr));
	if (c)
		return c;
	c = strcmp(a->lif ? a->lif : "", b->lif ? b->lif : "");
	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return a->fi < b->fi ? -1 : a->fi > b->fi;
}

static bool pfk_key_same(const struct pfk_key *a, const struct pfk_key *b)
{
	return a->map == b->map && !memcmp(a->addr, b->addr, sizeof(a->addr)) &&
	       !strcmp(a->lif ? a->lif : "", b->lif ? b->lif : "") && a->proto == b->proto &&
	       a->port == b->port;
}

static uint8_t pfk_map_of(const struct pf_forward *f)
{
	bool v6 = pfk_v6(&f->laddr);

	if (f->conf.protos == PF_PROTO_ALL) {
		if (f->conf.lif[0])
			return PFK_M_ALLIF;
		if (!f->conf.lhost[0])
			return PFK_M_ALLANY;
		return v6 ? PFK_M_ALL6 : PFK_M_ALL4;
	}
	if (f->conf.lif[0])
		return PFK_M_IFC;
	if (!f->conf.lhost[0])
		return PFK_M_ANY;
	return v6 ? PFK_M_IN6 : PFK_M_IN4;
}

static void pfk_key_of(struct pfk_key *k, const struct pf_forward *f, uint8_t map,
		       uint32_t proto, uint32_t port, size_t fi)
{
	memset(k, 0, sizeof(*k));
	k->map = map;
	k->proto = proto == PF_PROTO_ALL ? 0 : (uint8_t)proto;
	k->port = (uint16_t)port;
	if (f->conf.lhost[0])
		pfk_key_addr(k->addr, &f->laddr);
	k->lif = f->conf.lif[0] ? f->conf.lif : NULL;
	k->fi = (uint32_t)fi;
}

/* Keys of the 'from' pools, sorted: a forward on one of them chooses by
 * source in a group chain, so it cannot be a simple element. */
static struct pfk_key *pfk_from_keys(const struct pf_table *t, const size_t *idx, size_t nidx,
				     size_t *nout)
{
	struct pfk_key *v = NULL;
	size_t n = 0, cap = 0, i;

	for (i = 0; i < nidx; i++) {
		const struct pf_forward *f = t->fwd[idx[i]];
		uint32_t p, proto;

		if (!f->conf.from.n || f->conf.protos == PF_PROTO_ALL)
			continue;
		for (proto = PF_PROTO_TCP; proto <= PF_PROTO_UDP; proto <<= 1) {
			if (!(f->conf.protos & proto))
				continue;
			for (p = f->conf.lport_lo; p <= f->conf.lport_hi; p++) {
				if (n == cap) {
					cap = cap ? cap * 2 : 64;
					v = realloc(v, cap * sizeof(*v));
					if (!v)
						abort();
				}
				pfk_key_of(&v[n++], f, pfk_map_of(f), proto, p, 0);
			}
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), pfk_key_cmp);
	*nout = n;
	return v;
}

static bool pfk_key_in(const struct pfk_key *v, size_t n, const struct pfk_key *k)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c;

		if (pfk_key_same(&v[mid], k))
			return true;
		c = pfk_key_cmp(&v[mid], k);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* 'from' pools in the table last rendered: their keys may have kept other
 * forwards from being simple. */
static bool pfk_had_from, pfk_had_from_next;

/* The keys of a simple forward (one per protocol and port). */
static size_t pfk_nkeys(const struct pf_forward *f)
{
	return (size_t)(!!(f->conf.protos & PF_PROTO_TCP) + !!(f->conf.protos & PF_PROTO_UDP)) *
	       ((size_t)f->conf.lport_hi - f->conf.lport_lo + 1);
}

static void pfk_count(struct pfk_disp *d, const struct pf_forward *f)
{
	d->nsimple[PFK_FORM_MAP_OF(pfk_form(f))] += pfk_nkeys(f);
}

void pfk_disp_commit(void)
{
	memcpy(pfk_msize, pfk_msize_next, sizeof(pfk_msize));
	memcpy(pfk_nsimple, pfk_nsimple_next, sizeof(pfk_nsimple));
	memcpy(pfk_vhas, pfk_vhas_next, sizeof(pfk_vhas));
	pfk_model = pfk_model_next;
	pfk_had_from = pfk_had_from_next;
}

bool pfk_disp_model_loaded(void)
{
	return pfk_model;
}

bool pfk_disp_model_flips(void)
{
	return pfk_model != pfk_model_next;
}

bool pfk_disp_grows(void)
{
	return memcmp(pfk_msize, pfk_msize_next, sizeof(pfk_msize)) != 0;
}

void pfk_disp_reset(void)
{
	memset(pfk_msize, 0, sizeof(pfk_msize));
	memset(pfk_nsimple, 0, sizeof(pfk_nsimple));
	memset(pfk_vhas, 0, sizeof(pfk_vhas));
	pfk_model = false;
	pfk_had_from = false;
}

/* Decides f's form: simple elements unless something needs its chains. A
 * forward loaded already keeps its form while no 'from' pool is about (its
 * settings never change, and pfk_refresh follows its backend's health), so
 * a change reads one cache line of it and not its backend's. */
static void pfk_decide(struct pfk_disp *d, const struct pf_forward *f, const struct pfk_key *fk,
		       size_t nfk)
{
	uint8_t map, loaded = pfk_loaded_form(f);
	uint32_t p, proto;

	if (!nfk && !pfk_had_from && (loaded & PFK_FORM_LOADED) && !d->fresh) {
		pfk_set_form(f, loaded & (uint8_t)~PFK_FORM_LOADED);
		if (loaded & PFK_FORM_SIMPLE)
			pfk_count(d, f);
		return;
	}
	pfk_set_form(f, 0);
	if (!pfk_simple_ok(f))
		return;
	map = pfk_map_of(f);
	for (proto = PF_PROTO_TCP; nfk && proto <= PF_PROTO_UDP; proto <<= 1) {
		if (!(f->conf.protos & proto))
			continue;
		for (p = f->conf.lport_lo; p <= f->conf.lport_hi; p++) {
			struct pfk_key k;

			pfk_key_of(&k, f, map, proto, p, 0);
			if (pfk_key_in(fk, nfk, &k))
				return;
		}
	}
	pfk_set_form(f, (uint8_t)(pfk_simple_form(f) | PFK_FORM_MAP(map)));
	pfk_count(d, f);
}

/* The group chain of a run of forwards: an existing one with the same
 * members (a port range shares one), or a new one. */
static size_t pfk_group_of(struct pfk_disp *d, const struct pfk_key *k, size_t n)
{
	size_t gi, i;

	for (gi = d->ng; gi-- > 0;) {
		if (d->g[gi].n != n)
			continue;
		for (i = 0; i < n && d->g[gi].fi[i] == k[i].fi; i++)
			;
		if (i == n)
			return gi;
	}
	d->g = realloc(d->g, (d->ng + 1) * sizeof(*d->g));
	if (!d->g)
		abort();
	d->g[d->ng].fi = pf_xcalloc(n, sizeof(uint32_t));
	d->g[d->ng].n = (uint32_t)n;
	for (i = 0; i < n; i++)
		d->g[d->ng].fi[i] = k[i].fi;
	return d->ng++;
}

static bool pfk_ftp_port(const struct pf_forward *f)
{
	return (f->conf.protos & PF_PROTO_TCP) && (f->conf.ftp || (f->conf.lport_lo <= 21 && f->conf.lport_hi >= 21));
}

void pfk_walk_init(struct pfk_walk *w, size_t n)
{
	memset(w, 0, sizeof(*w));
	w->car = pf_xarray(n + 1, sizeof(*w->car));
	w->trig = pf_xarray(n + 1, sizeof(*w->trig));
}

void pfk_walk_one(struct pfk_walk *w, const struct pf_forward *f, size_t i)
{
	uint8_t eng = pf_forward_engine(f);

	/* Only the kernel's port and whole-host forwards have a form: the
	 * state of the id of any other says it has none. */
	if (f->conf.trigger || eng != PF_ENGINE_KERNEL)
		pfk_set_form(f, 0);
	if (f->conf.trigger) {
		w->trig[w->ntrig++] = i;
		w->has_ktrig |= eng == PF_ENGINE_KERNEL;
	} else if (eng == PF_ENGINE_USER) {
		uint32_t p, k;

		for (k = 0; k < 2; k++) {
			if (!(f->conf.protos & (k ? PF_PROTO_UDP : PF_PROTO_TCP)))
				continue;
			if (!w->user_ports[k])
				w->user_ports[k] = pf_xcalloc(65536 / 64, sizeof(uint64_t));
			for (p = f->conf.lport_lo; p <= f->conf.lport_hi; p++)
				w->user_ports[k][p / 64] |= 1ULL << (p % 64);
		}
	} else if (eng == PF_ENGINE_KERNEL) {
		w->car[w->ncar++] = i;
		w->nfrom += f->conf.from.n > 0;
	}
}

void pfk_walk_free(struct pfk_walk *w)
{
	free(w->car);
	free(w->trig);
	free(w->user_ports[0]);
	free(w->user_ports[1]);
	free(w->touched);
	free(w->own);
	memset(w, 0, sizeof(*w));
}

bool pfk_disp_delta(const struct pf_table *next)
{
	size_t n[PFK_M_ALL4], i;
	unsigned m;

	/* A 'from' pool's keys may keep a forward from being simple. */
	if (pfk_had_from)
		return false;
	memcpy(n, pfk_nsimple, sizeof(n));
	for (i = 0; i < next->del.n; i++) {
		const struct pf_forward *f = next->del.v[i];
		uint8_t loaded = pfk_loaded_form(f);

		if (f->conf.trigger || pfk_ftp_port(f) || !(loaded & PFK_FORM_LOADED))
			return false;
		if (loaded & PFK_FORM_SIMPLE)
			n[PFK_FORM_MAP_OF(loaded)] -= pfk_nkeys(f);
		else if (!pfk_model || !pfk_fchain_owns(f))
			return false; /* its chain is the core's */
	}
	for (i = 0; i < next->add.n; i++) {
		const struct pf_forward *f = next->add.v[i];
		uint8_t map = pfk_map_of(f);

		if (f->conf.trigger || f->conf.from.n || pfk_ftp_port(f) || map >= PFK_M_ALL4)
			return false;
		if (pfk_simple_ok(f))
			n[map] += pfk_nkeys(f);
		else if (!pfk_model || !pfk_vhas[map] || !pfk_fchain_owns(f))
			return false; /* the first chain of its kind (a dispatch rule), or the core's */
	}
	/* A map that must grow is made again: the table is loaded whole. The
	 * first key of a kind needs its dispatch rule (pfk_disp_chains; one
	 * left without keys is harmless until the next render drops it). */
	for (m = 0; m < PFK_M_ALL4; m++)
		if (pfk_map_size(m, n[m]) != pfk_msize[m] || (n[m] && !pfk_nsimple[m]))
			return false;
	for (i = 0; i < next->add.n; i++) {
		const struct pf_forward *f = next->add.v[i];

		pfk_set_form(f, pfk_simple_ok(f) ? (uint8_t)(pfk_simple_form(f) |
							     PFK_FORM_MAP(pfk_map_of(f)))
						 : 0);
	}
	memcpy(pfk_nsimple_next, n, sizeof(n));
	memcpy(pfk_msize_next, pfk_msize, sizeof(pfk_msize));
	memcpy(pfk_vhas_next, pfk_vhas, sizeof(pfk_vhas));
	pfk_model_next = pfk_model;
	pfk_had_from_next = false;
	return true;
}

struct pfk_disp *pfk_disp_build(const struct pf_table *t, bool fresh, bool text,
				struct pfk_walk *wk)
{
	struct pfk_disp *d = pf_xcalloc(1, sizeof(*d));
	size_t i, j, nk = 0, r, nfk, *from;
	struct pfk_walk own, *w = wk;
	struct pfk_key *fk;
	unsigned m;

	d->t = t;
	d->fresh = fresh;
	d->text = text;
	if (!w) {
		/* One walk over the table sorts the forwards out (the engine's
		 * prepare does it in its own walk and hands it over). */
		w = &own;
		pfk_walk_init(w, t->n);
		for (i = 0; i < t->n; i++)
			pfk_walk_one(w, t->fwd[i], i);
	}
	/* The triggers and the user engine's ports are the render's now. */
	d->trig = w->trig;
	d->ntrig = w->ntrig;
	d->has_trig = w->has_ktrig;
	d->user_ports[0] = w->user_ports[0];
	d->user_ports[1] = w->user_ports[1];
	w->trig = NULL;
	w->ntrig = 0;
	w->user_ports[0] = w->user_ports[1] = NULL;
	from = pf_xarray(w->nfrom + 1, sizeof(*from));
	for (i = 0, j = 0; i < w->ncar && j < w->nfrom; i++)
		if (t->fwd[w->car[i]]->conf.from.n)
			from[j++] = w->car[i];
	fk = pfk_from_keys(t, from, w->nfrom, &nfk);
	free(from);
	d->chained = pf_xarray(w->ncar + 1, sizeof(*d->chained));
	d->ftp = pf_xarray(w->ncar + 1, sizeof(*d->ftp));
	if (wk) {
		free(wk->touched);
		wk->touched = pf_xarray(w->ncar + 1, sizeof(*wk->touched));
		wk->ntouched = 0;
		free(wk->own);
		wk->own = pf_xarray(w->ncar + 1, sizeof(*wk->own));
		wk->nown = 0;
	}
	for (i = 0; i < w->ncar; i++) {
		const struct pf_forward *f = t->fwd[w->car[i]];
		uint8_t loaded;

		pfk_decide(d, f, fk, nfk);
		/* Not as loaded (the form's bits, not LOADED), or new: its
		 * elements change. */
		loaded = pfk_loaded_form(f);
		if (wk && (((loaded ^ pfk_form(f)) & (uint8_t)~PFK_FORM_LOADED) ||
			   !(loaded & PFK_FORM_LOADED)))
			wk->touched[wk->ntouched++] = w->car[i];
		if (pfk_ftp_port(f))
			d->ftp[d->nftp++] = w->car[i];
		if (pfk_form(f) & PFK_FORM_SIMPLE)
			continue;
		d->chained[d->nchained++] = w->car[i];
		if (f->conf.protos == PF_PROTO_ALL)
			nk++;
		else
			nk += (size_t)((f->conf.protos & PF_PROTO_TCP) + !!(f->conf.protos & PF_PROTO_UDP)) *
			      ((size_t)f->conf.lport_hi - f->conf.lport_lo + 1);
	}
	free(fk);
	d->model = !d->text && !nfk;
	if (wk) {
		wk->model = d->model;
		for (j = 0; d->model && j < d->nchained; j++)
			if (pfk_fchain_owns(t->fwd[d->chained[j]]))
				wk->own[wk->nown++] = d->chained[j];
	}
	if (!wk)
		pfk_walk_free(&own);
	pfk_had_from_next = nfk > 0;
	for (m = 0; m < PFK_M_ALL4; m++)
		pfk_msize_next[m] = pfk_map_size(m, d->nsimple[m]);
	memcpy(pfk_nsimple_next, d->nsimple, sizeof(pfk_nsimple_next));
	d->k = pf_xcalloc(nk ? nk : 1, sizeof(*d->k));
	for (j = 0; j < d->nchained; j++) {
		const struct pf_forward *f = t->fwd[d->chained[j]];
		uint32_t p, proto;
		uint8_t map = pfk_map_of(f);

		for (proto = PF_PROTO_TCP; proto <= PF_PROTO_ALL; proto <<= 1) {
			if (!(f->conf.protos & proto))
				continue;
			for (p = f->conf.lport_lo; p <= f->conf.lport_hi; p++)
				pfk_key_of(&d->k[d->nk++], f, map, proto, p, d->chained[j]);
		}
	}
	qsort(d->k, d->nk, sizeof(*d->k), pfk_key_cmp);
	d->run_start = pf_xcalloc(d->nk + 1, sizeof(*d->run_start));
	d->target = pf_xcalloc(d->nk ? d->nk : 1, sizeof(*d->target));
	for (i = 0; i < d->nk; i = r) {
		const struct pf_forward *f = t->fwd[d->k[i].fi];

		for (r = i + 1; r < d->nk && pfk_key_same(&d->k[r], &d->k[i]); r++)
			;
		d->has[d->k[i].map] = true;
		d->run_start[d->nrun] = i;
		if (r - i == 1 && !f->conf.from.n)
			snprintf(d->target[d->nrun], sizeof(d->target[0]), "f%u", f->id);
		else
			snprintf(d->target[d->nrun], sizeof(d->target[0]), "g%zu",
				 pfk_group_of(d, &d->k[i], r - i));
		d->nrun++;
	}
	d->run_start[d->nrun] = d->nk;
	for (m = 0; m < PFK_M_ALL4; m++)
		pfk_vhas_next[m] = d->has[m];
	pfk_model_next = d->model;
	return d;
}

void pfk_disp_free(struct pfk_disp *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->ng; i++)
		free(d->g[i].fi);
	free(d->g);
	free(d->user_ports[0]);
	free(d->user_ports[1]);
	free(d->trig);
	free(d->chained);
	free(d->ftp);
	free(d->k);
	free(d->run_start);
	free(d->target);
	free(d);
}

bool pfk_disp_has_host(const struct pfk_disp *d)
{
	return d->has_trig || d->has[PFK_M_ALL4] || d->has[PFK_M_ALL6] || d->has[PFK_M_ALLIF] ||
	       d->has[PFK_M_ALLANY];
}

static void pfk_disp_key(struct pf_buf *b, const struct pfk_disp *d, const struct pfk_key *k)
{
	const struct pf_forward *f = d->t->fwd[k->fi];

	switch (k->map) {
	case PFK_M_IN4:
	case PFK_M_IN6:
		pfk_addr(b, &f->laddr);
		pfk_out(b, " . %s . %u", pfk_proto_word(k->proto), k->port);
		break;
	case PFK_M_IFC:
		pfk_out(b, "\"%s\" . %s . %u", k->lif, pfk_proto_word(k->proto), k->port);
		break;
	case PFK_M_ANY:
		pfk_out(b, "%s . %u", pfk_proto_word(k->proto), k->port);
		break;
	case PFK_M_ALL4:
	case PFK_M_ALL6:
		pfk_addr(b, &f->laddr);
		break;
	default:
		pfk_out(b, "\"%s\"", k->lif);
		break;
	}
}

static void pfk_disp_map(struct pf_buf *b, const struct pfk_disp *d, uint8_t map,
			 const char *name, const char *type)
{
	bool first = true;
	size_t r;

	pfk_out(b, "\tmap %s {\n\t\ttype %s : verdict\n", name, type);
	for (r = 0; r < d->nrun; r++) {
		const struct pfk_key *k = &d->k[d->run_start[r]];

		if (k->map != map || (d->model && pfk_fchain_owns(d->t->fwd[k->fi])))
			continue;
		pfk_out(b, "%s", first ? "\t\telements = { " : ",\n\t\t\t");
		first = false;
		pfk_disp_key(b, d, k);
		pfk_out(b, " : goto %s", d->target[r]);
	}
	pfk_out(b, "%s\t}\n", first ? "" : " }\n");
}

/* The triggers' ranges: elements with a timeout, added by pfk_trigger.c when
 * a host opens its control connection; a full reload puts back the ones
 * still open with the time they have left. */
static void pfk_disp_trig_map(struct pf_buf *b, const struct pfk_disp *d)
{
	const struct pf_table *t = d->t;
	bool first = true;
	size_t i, j;

	pfk_out(b, "\tmap trig {\n\t\ttype inet_proto . inet_service : verdict\n"
		   "\t\tflags interval,timeout\n");
	for (i = 0; i < d->ntrig; i++) {
		const struct pf_forward *f = t->fwd[d->trig[i]];
		union pf_sa host;
		uint64_t left;
		uint32_t proto;

		if (!pfk_trig_holder(f->id, &host, &left))
			continue;
		for (proto = PF_PROTO_TCP; proto <= PF_PROTO_UDP; proto <<= 1) {
			if (!(f->conf.protos & proto))
				continue;
			pfk_out(b, "%s%s . %u-%u timeout %llums expires %llums : goto t%u",
				first ? "\t\telements = { " : ",\n\t\t\t", pfk_proto_word((uint8_t)proto),
				f->conf.lport_lo, f->conf.lport_hi,
				(unsigned long long)f->conf.trig_ms,
				(unsigned long long)(left ? left : 1), f->id);
			first = false;
		}
	}
	pfk_out(b, "%s\t}\n", first ? "" : " }\n");
	/* The control ports: connections out to them are marked (forward chain). */
	pfk_out(b, "\tset trig_ctl {\n\t\ttype inet_proto . inet_service\n");
	first = true;
	for (i = 0; i < d->ntrig; i++) {
		const struct pf_forward *f = t->fwd[d->trig[i]];
		bool dup = false;

		for (j = 0; j < i; j++)
			dup |= t->fwd[d->trig[j]]->conf.trig_proto == f->conf.trig_proto &&
			       t->fwd[d->trig[j]]->conf.trig_port == f->conf.trig_port;
		if (dup)
			continue;
		pfk_out(b, "%s%s . %u", first ? "\t\telements = { " : ", ",
			pfk_proto_word(f->conf.trig_proto), f->conf.trig_port);
		first = false;
	}
	pfk_out(b, "%s\t}\n", first ? "" : " }\n");
}

static bool pfk_port_in(const uint64_t *bits, uint32_t p)
{
	return bits[p / 64] & (1ULL << (p % 64));
}

/* The user engine's ports as merged ranges (an interval set refuses overlaps). */
static void pfk_disp_user_ports(struct pf_buf *b, const struct pfk_disp *d)
{
	bool first = true;
	uint32_t k, p, q;

	pfk_out(b, "\tset user_ports {\n\t\ttype inet_proto . inet_service\n\t\tflags interval\n");
	for (k = 0; k < 2; k++) {
		for (p = 1; d->user_ports[k] && p < 65536; p = q + 1) {
			if (!pfk_port_in(d->user_ports[k], p)) {
				q = p;
				continue;
			}
			for (q = p; q + 1 < 65536 && pfk_port_in(d->user_ports[k], q + 1); q++)
				;
			pfk_out(b, "%s%s . %u-%u", first ? "\t\telements = { " : ", ",
				k ? "udp" : "tcp", p, q);
			first = false;
		}
	}
	pfk_out(b, "%s\t}\n", first ? "" : " }\n");
}

/* The simple forwards' maps, always there (a new map would mean a whole
 * reload): the mark of each key, the DNAT target of each family. */
static void pfk_disp_simple_maps(struct pf_buf *b, const struct pfk_disp *d)
{
	static const struct {
		uint8_t set, map;
		const char *key, *value;
	} m[] = {
		{ PFK_SET_M_IN4, PFK_M_IN4, "ipv4_addr . inet_proto . inet_service", "mark" },
		{ PFK_SET_D4_IN4, PFK_M_IN4, "ipv4_addr . inet_proto . inet_service",
		  "ipv4_addr . inet_service" },
		{ PFK_SET_M_IN6, PFK_M_IN6, "ipv6_addr . inet_proto . inet_service", "mark" },
		{ PFK_SET_D6_IN6, PFK_M_IN6, "ipv6_addr . inet_proto . inet_service",
		  "ipv6_addr . inet_service" },
		{ PFK_SET_M_IFC, PFK_M_IFC, "ifname . inet_proto . inet_service", "mark" },
		{ PFK_SET_D4_IFC, PFK_M_IFC, "ifname . inet_proto . inet_service",
		  "ipv4_addr . inet_service" },
		{ PFK_SET_D6_IFC, PFK_M_IFC, "ifname . inet_proto . inet_service",
		  "ipv6_addr . inet_service" },
		{ PFK_SET_M_ANY, PFK_M_ANY, "inet_proto . inet_service", "mark" },
		{ PFK_SET_D4_ANY, PFK_M_ANY, "inet_proto . inet_service", "ipv4_addr . inet_service" },
		{ PFK_SET_D6_ANY, PFK_M_ANY, "inet_proto . inet_service", "ipv6_addr . inet_service" },
	};
	size_t i;

	for (i = 0; i < PF_ARRAY_SIZE(m); i++) {
		pfk_out(b, "\tmap %s {\n\t\ttype %s : %s\n\t\tsize %u\n", pfk_set_name(m[i].set),
			m[i].key, m[i].value, pfk_msize_next[m[i].map]);
		if (d->text)
			pfk_simple_text(b, d->t, m[i].set);
		pfk_out(b, "\t}\n");
	}
}

void pfk_disp_maps(struct pf_buf *b, const struct pfk_disp *d)
{
	pfk_disp_simple_maps(b, d);
	pfk_disp_map(b, d, PFK_M_ANY, "any", "inet_proto . inet_service");
	pfk_disp_map(b, d, PFK_M_IN4, "in4", "ipv4_addr . inet_proto . inet_service");
	pfk_disp_map(b, d, PFK_M_IN6, "in6", "ipv6_addr . inet_proto . inet_service");
	pfk_disp_map(b, d, PFK_M_IFC, "ifc", "ifname . inet_proto . inet_service");
	pfk_disp_map(b, d, PFK_M_ALL4, "all4", "ipv4_addr");
	pfk_disp_map(b, d, PFK_M_ALL6, "all6", "ipv6_addr");
	pfk_disp_map(b, d, PFK_M_ALLIF, "allif", "ifname");
	pfk_disp_trig_map(b, d);
	pfk_disp_user_ports(b, d);
}

/* One source network of a forward in a group, for sorting. */
struct pfk_src {
	const struct pf_cidr *c;
	uint32_t id;
};

static int pfk_src_cmp(const void *pa, const void *pb)
{
	const struct pfk_src *a = pa, *b = pb;
	int c = pf_prefix_cmp(a->c->plen, b->c->plen);

	if (c)
		return c;
	return a->id < b->id ? -1 : a->id > b->id;
}

static void pfk_disp_group(struct pf_buf *b, const struct pfk_disp *d, size_t gi)
{
	const struct pfk_group *g = &d->g[gi];
	const struct pf_forward *rest = NULL;
	struct pfk_src *src;
	size_t n = 0, i;
	uint32_t m, c;

	for (m = 0; m < g->n; m++)
		n += d->t->fwd[g->fi[m]]->conf.from.n;
	src = pf_xcalloc(n ? n : 1, sizeof(*src));
	n = 0;
	for (m = 0; m < g->n; m++) {
		const struct pf_forward *f = d->t->fwd[g->fi[m]];

		if (!f->conf.from.n)
			rest = f;
		for (c = 0; c < f->conf.from.n; c++)
			src[n++] = (struct pfk_src){ &f->conf.from.v[c], f->id };
	}
	/* Longest prefix first: the most specific 'from' wins, as in the user engine. */
	qsort(src, n, sizeof(*src), pfk_src_cmp);
	pfk_out(b, "\tchain g%zu {\n", gi);
	for (i = 0; i < n; i++) {
		pfk_out(b, "\t\t%s saddr ", pfk_v6(&src[i].c->addr) ? "ip6" : "ip");
		pfk_addr(b, &src[i].c->addr);
		pfk_out(b, "/%u goto f%u\n", src[i].c->plen, src[i].id);
	}
	/* Sources no pool claims: the forward without 'from', or nobody (the
	 * connection goes on to triggers, whole-host forwards, the gateway). */
	if (rest)
		pfk_out(b, "\t\tgoto f%u\n", rest->id);
	pfk_out(b, "\t}\n");
	free(src);
}

static void pfk_disp_trig_chain(struct pf_buf *b, const struct pf_forward *f)
{
	union pf_sa host;
	uint64_t left;

	/* The ACL (the table's default: a trigger has none of its own), then
	 * tN_nat, which pfk_trigger.c rewrites when a new host takes the range. */
	pfk_out(b, "\tchain t%u {\n", f->id);
	pfk_render_acl(b, f, 't');
	if (!f->eff_allow.n && !f->eff_deny.n)
		pfk_out(b, "\t\tgoto t%u_nat\n", f->id);
	pfk_out(b, "\t}\n\tchain t%u_nat {\n", f->id);
	if (pfk_trig_holder(f->id, &host, &left)) {
		pfk_out(b, "\t\tct mark set 0x%x\n", PFK_MARK_OURS | f->id);
		pfk_out(b, "\t\tmeta nfproto ipv4 dnat ip to ");
		pfk_addr(b, &host);
		pfk_out(b, "\n");
	}
	pfk_out(b, "\t}\n");
}

/* The kinds of port key, in the order of precedence: what a rule matches
 * first (the family, or a local address), the key, and the simple forwards'
 * DNAT maps of each family. */
static const struct {
	const char *name, *match, *key, *d4, *d6;
} pfk_kinds[PFK_M_ALL4] = {
	[PFK_M_IN4] = { "in4", "meta nfproto ipv4 ", "ip daddr . meta l4proto . th dport", "d4_in4",
			NULL },
	[PFK_M_IN6] = { "in6", "meta nfproto ipv6 ", "ip6 daddr . meta l4proto . th dport", NULL,
			"d6_in6" },
	[PFK_M_IFC] = { "ifc", "fib daddr type local ", "iifname . meta l4proto . th dport",
			"d4_ifc", "d6_ifc" },
	[PFK_M_ANY] = { "any", "fib daddr type local ", "meta l4proto . th dport", "d4_any",
			"d6_any" },
};

unsigned pfk_fchain_map(const struct pf_forward *f)
{
	return pfk_map_of(f);
}

const char *pfk_vmap_name(unsigned map)
{
	return pfk_kinds[map].name;
}

unsigned pfk_fchain_keys(struct pf_buf *b, const struct pf_forward *f, bool verdict)
{
	uint8_t map = pfk_map_of(f);
	uint32_t proto, p;

	for (proto = PF_PROTO_TCP; proto <= PF_PROTO_UDP; proto <<= 1) {
		if (!(f->conf.protos & proto))
			continue;
		for (p = f->conf.lport_lo; p <= f->conf.lport_hi; p++) {
			pfk_out(b, ", ");
			pfk_key_text(b, f, map, proto, p);
			if (verdict)
				pfk_out(b, " : goto f%u", f->id);
		}
	}
	return map;
}

/* The simple forwards' shared chains: the connection's mark is set (the
 * dispatch rule that jumped here), then as in a forward's own chain: DNAT
 * to the key's target of the packet's family, or drop. */
static void pfk_disp_simple_chains(struct pf_buf *b)
{
	unsigned m;

	for (m = 0; m < PFK_M_ALL4; m++) {
		pfk_out(b, "\tchain s_%s {\n", pfk_kinds[m].name);
		if (pfk_kinds[m].d4)
			pfk_out(b, "\t\tmeta nfproto ipv4 dnat ip to %s map @%s\n", pfk_kinds[m].key,
				pfk_kinds[m].d4);
		if (pfk_kinds[m].d6)
			pfk_out(b, "\t\tmeta nfproto ipv6 dnat ip6 to %s map @%s\n", pfk_kinds[m].key,
				pfk_kinds[m].d6);
		pfk_out(b, "\t\tcounter drop\n\t}\n");
	}
}

void pfk_disp_chains(struct pf_buf *b, const struct pfk_disp *d)
{
	unsigned m;
	size_t i;
	const char *allany = NULL;

	for (i = 0; i < d->ng; i++)
		pfk_disp_group(b, d, i);
	for (i = 0; i < d->ntrig; i++)
		if (pf_forward_engine(d->t->fwd[d->trig[i]]) == PF_ENGINE_KERNEL)
			pfk_disp_trig_chain(b, d->t->fwd[d->trig[i]]);
	pfk_disp_simple_chains(b);
	/* Each kind of key: the forwards with chains (a verdict map), then the
	 * simple ones (their mark, then their shared chain). Only what the
	 * table uses: every rule costs each new connection. */
	pfk_out(b, "\tchain dispatch {\n");
	for (m = 0; m < PFK_M_ALL4; m++) {
		const char *match = pfk_kinds[m].match, *key = pfk_kinds[m].key,
			   *name = pfk_kinds[m].name;

		if (d->has[m])
			pfk_out(b, "\t\t%s%s vmap @%s\n", match, key, name);
		if (d->nsimple[m])
			pfk_out(b, "\t\t%sct mark set %s map @m_%s goto s_%s\n", match, key, name,
				name);
	}
	pfk_out(b, "\t}\n");
	if (!pfk_disp_has_host(d))
		return;
	for (i = 0; i < d->nrun; i++)
		if (d->k[d->run_start[i]].map == PFK_M_ALLANY)
			allany = d->target[i];
	pfk_out(b, "\tchain dispatch_host {\n"
		   /* Link-local IPv6 is neighbour discovery and the like: the gateway's. */
		   "\t\tmeta nfproto ipv6 ip6 daddr fe80::/10 return\n");
	if (d->user_ports[0] || d->user_ports[1])
		pfk_out(b, "\t\tfib daddr type local meta l4proto . th dport @user_ports return\n");
	if (d->has_trig)
		pfk_out(b, "\t\tfib daddr type local meta l4proto . th dport vmap @trig\n");
	if (d->has[PFK_M_ALL4])
		pfk_out(b, "\t\tmeta nfproto ipv4 ip daddr vmap @all4\n");
	if (d->has[PFK_M_ALL6])
		pfk_out(b, "\t\tmeta nfproto ipv6 ip6 daddr vmap @all6\n");
	if (d->has[PFK_M_ALLIF])
		pfk_out(b, "\t\tfib daddr type local iifname vmap @allif\n");
	if (allany)
		pfk_out(b, "\t\tfib daddr type local goto %s\n", allany);
	pfk_out(b, "\t}\n");
}

void pfk_disp_forward_chain(struct pf_buf *b, const struct pfk_disp *d, const char *hook)
{
	/* An inside host's new connection out to a trigger's control port: the
	 * mark lets the conntrack event through to pfk_trigger.c. Our own
	 * flows leave first. */
	if (d->has_trig)
		pfk_out(b,
			"\tchain forward {\n\t\t%s\n\t\tct mark & 0x%x == 0x%x accept\n"
			"\t\tct state new iifname != @wan meta l4proto . th dport @trig_ctl "
			"ct mark set ct mark | 0x%x\n\t}\n",
			hook, PFK_MARK_OURS, PFK_MARK_OURS, PFK_MARK_TRIG);
}
