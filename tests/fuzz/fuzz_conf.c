// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for the command language: the input is a config text.
 *
 *  - pf_conf_foreach parses it; every forward must format (`portfw save`) into
 *    one line that reads back (pf_conf_foreach again) into an equal forward,
 *    and that formats the same again;
 *  - the forwards of the text go into a table that is validated, cloned,
 *    inherited, diffed and scheduled on (no DNS: pf_table_resolve is never
 *    called);
 *  - pf_lex splits the whole input as one line, and each word goes through
 *    pf_hostport_parse, whose results must hold together.
 *
 * A broken property abort()s, which libFuzzer reports as a crash.
 */
#include "common/pf_addr.h"
#include "common/pf_conf.h"
#include "common/pf_sched.h"
#include "common/pf_table.h"
#include "common/pf_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                                              \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "fuzz_conf: %s:%d: %s: ", __FILE__, __LINE__, \
				#cond);                                               \
			fprintf(stderr, __VA_ARGS__);                                 \
			fputc('\n', stderr);                                          \
			abort();                                                      \
		}                                                                     \
	} while (0)

static char saved[PF_LINE_MAX];
static char again[PF_LINE_MAX];

/* ---- one forward ---- */

static int collect_cb(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
		      size_t errlen)
{
	(void)w;
	if (st->kind != PF_ST_FORWARD) {
		snprintf(err, errlen, "not a forward");
		return -1;
	}
	pf_table_add(arg, st->fwd);
	st->fwd = NULL;
	return 0;
}

static void check_fields(const struct pf_forward *f)
{
	uint32_t i;

	CHECK(f->protos >= 1 && f->protos <= 3, "protos %u", f->protos);
	CHECK(f->lport_lo >= 1 && f->lport_lo <= f->lport_hi, "listen ports %u-%u", f->lport_lo,
	      f->lport_hi);
	CHECK(f->nbe >= 1 && f->nbe <= PF_BACKENDS_MAX, "%u backends", f->nbe);
	CHECK(f->o.connect_ms >= 10 && f->o.idle_ms >= 100 && f->o.halfclose_ms >= 100 &&
		      f->o.connect_ms <= 30ULL * 86400000 && f->o.idle_ms <= 30ULL * 86400000 &&
		      f->o.halfclose_ms <= 30ULL * 86400000,
	      "timeouts %llu %llu %llu", (unsigned long long)f->o.connect_ms,
	      (unsigned long long)f->o.idle_ms, (unsigned long long)f->o.halfclose_ms);
	CHECK(f->o.udp_ms >= 1000 && f->o.udp_ms <= 30ULL * 86400000 &&
		      f->o.udp_stream_ms >= 1000 && f->o.udp_stream_ms <= 30ULL * 86400000,
	      "udp timeouts %llu %llu", (unsigned long long)f->o.udp_ms,
	      (unsigned long long)f->o.udp_stream_ms);
	CHECK(f->o.maxconn <= 10000000 && f->o.max_sessions >= 1 &&
		      f->o.max_sessions <= 10000000,
	      "maxconn %u, max-sessions %u", f->o.maxconn, f->o.max_sessions);
	for (i = 0; i < f->nbe; i++) {
		const struct pf_backend *be = &f->be[i];
		uint16_t p;

		CHECK(be->host[0], "backend %u has no host", i);
		CHECK(be->port_lo <= be->port_hi && (be->port_lo || !be->port_hi),
		      "backend ports %u-%u", be->port_lo, be->port_hi);
		CHECK(be->port_lo == be->port_hi ||
			      be->port_hi - be->port_lo == f->lport_hi - f->lport_lo,
		      "backend range %u-%u for listen range %u-%u", be->port_lo, be->port_hi,
		      f->lport_lo, f->lport_hi);
		CHECK(be->weight <= PF_WEIGHT_MAX, "weight %u", be->weight);
		p = pf_backend_port(f, be, f->lport_hi);
		CHECK(p >= 1 && (!be->port_lo || (p >= be->port_lo && p <= be->port_hi)),
		      "backend port %u", p);
	}
}

/* `portfw save` writes pf_forward_format's line; `portfw restore` reads it. */
static void check_round_trip(const struct pf_forward *f)
{
	struct pf_table t;
	char err[1024];
	size_t len;

	pf_forward_format(f, saved, sizeof(saved));
	len = strlen(saved);
	CHECK(len <= PF_LINE_MAX - 2, "saved line of %zu bytes", len);
	pf_table_init(&t);
	CHECK(!pf_conf_foreach("saved", saved, len, collect_cb, &t, err, sizeof(err)),
	      "'%s' does not load back: %s", saved, err);
	CHECK(t.n == 1, "'%s' loads as %zu forwards", saved, t.n);
	CHECK(pf_forward_equal(f, t.fwd[0]), "'%s' loads back as another forward", saved);
	CHECK(pf_forward_equal(t.fwd[0], f), "pf_forward_equal is not symmetric");
	pf_forward_format(t.fwd[0], again, sizeof(again));
	CHECK(!strcmp(saved, again), "'%s' formats again as '%s'", saved, again);
	pf_table_clear(&t);
}

static void check_clone(const struct pf_forward *f)
{
	struct pf_forward *c = pf_forward_clone(f);

	CHECK(pf_forward_equal(f, c), "a clone differs");
	CHECK(pf_forward_same_key(f, c), "a clone has another key");
	pf_forward_unref(c);
}

/* Fresh flows, each retried until no backend is left. */
static void check_sched(struct pf_forward *f)
{
	int flow;

	for (flow = 0; flow < 3; flow++) {
		struct pf_tried tried;
		uint32_t n;

		memset(&tried, 0, sizeof(tried));
		for (n = 0; n < f->nbe; n++) {
			int k = pf_sched_pick(f, &tried, NULL);

			CHECK(k >= 0 && (uint32_t)k < f->nbe, "pick %d of %u backends", k, f->nbe);
			CHECK(!pf_tried_has(&tried, (uint32_t)k), "backend %d picked twice", k);
			if (!f->be[k].weight) {
				uint32_t j;

				/* A spare only when every weighted backend was tried. */
				for (j = 0; j < f->nbe; j++)
					CHECK(!f->be[j].weight || pf_tried_has(&tried, j),
					      "spare %d picked before backend %u", k, j);
			}
			pf_tried_set(&tried, (uint32_t)k);
		}
		CHECK(pf_sched_pick(f, &tried, NULL) == -1, "a pick after every backend was tried");
	}
}

/* ---- statements ---- */

struct ctx {
	struct pf_table tab;
	int stmts;
};

static int stmt_cb(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
		   size_t errlen)
{
	struct ctx *c = arg;
	size_t i;

	(void)err;
	(void)errlen;
	CHECK(w->line >= 1, "line %d", w->line);
	c->stmts++;
	switch (st->kind) {
	case PF_ST_FORWARD:
		CHECK(st->fwd && st->fwd->line == w->line, "forward line");
		check_fields(st->fwd);
		check_round_trip(st->fwd);
		check_clone(st->fwd);
		if (c->tab.n < 64) {
			pf_table_add(&c->tab, st->fwd);
			st->fwd = NULL;
		}
		break;
	case PF_ST_DEL:
	case PF_ST_KILL:
		CHECK(!st->fwd, "a selector with a forward");
		for (i = 0; i < c->tab.n; i++)
			(void)pf_selector_match(&st->sel, c->tab.fwd[i]);
		break;
	case PF_ST_INCLUDE:
		CHECK(strlen(st->path) < sizeof(st->path), "include path");
		break;
	case PF_ST_NONE:
		CHECK(0, "an empty statement reached the callback");
		break;
	default:
		break;
	}
	return 0;
}

static void diff_cb(enum pf_diff_op op, struct pf_forward *old, struct pf_forward *nw, void *arg)
{
	int *n = arg;

	CHECK((op == PF_DIFF_ADD) == !old && (op == PF_DIFF_DEL) == !nw, "diff op %d", op);
	CHECK(op != PF_DIFF_KEEP || old == nw, "KEEP of two objects");
	CHECK(op != PF_DIFF_MODIFY || pf_forward_same_key(old, nw), "MODIFY of another key");
	(*n)++;
}

static void check_table(struct pf_table *t)
{
	struct pf_table empty, copy, half;
	char err[1024];
	size_t i;
	int n = 0;

	(void)pf_table_validate(t, err, sizeof(err));
	pf_table_init(&empty);
	pf_table_inherit(&empty, t);
	for (i = 0; i < t->n; i++) {
		CHECK(t->fwd[i]->st, "no stats after inherit");
		check_sched(t->fwd[i]);
	}

	/* Reload the same table: everything is kept. */
	pf_table_init(&copy);
	for (i = 0; i < t->n; i++)
		pf_table_add(&copy, pf_forward_clone(t->fwd[i]));
	pf_table_inherit(t, &copy);
	for (i = 0; i < t->n; i++)
		CHECK(pf_forward_equal(copy.fwd[i], t->fwd[i]), "inherit changed a forward");
	pf_table_diff(t, &copy, diff_cb, &n);

	/* Reload every other forward, modified. */
	pf_table_init(&half);
	for (i = 0; i < t->n; i += 2) {
		struct pf_forward *c = pf_forward_clone(t->fwd[i]);

		c->o.maxconn++;
		pf_table_add(&half, c);
	}
	pf_table_inherit(t, &half);
	pf_table_diff(t, &half, diff_cb, &n);
	pf_table_diff(&empty, t, diff_cb, &n);
	pf_table_diff(t, &empty, diff_cb, &n);
	pf_table_clear(&half);
	pf_table_clear(&copy);
}

/* ---- words ---- */

static void check_hostport(const char *s)
{
	struct pf_hostport hp;
	char err[512];
	int need;

	for (need = 0; need < 2; need++) {
		if (pf_hostport_parse(s, need, &hp, err, sizeof(err))) {
			CHECK(err[0], "'%s': an error without a message", s);
			continue;
		}
		CHECK(strlen(hp.host) < PF_HOST_MAX, "host length");
		CHECK(hp.port_lo <= hp.port_hi, "ports %u-%u", hp.port_lo, hp.port_hi);
		CHECK(!hp.port_lo == !hp.port_hi, "ports %u-%u", hp.port_lo, hp.port_hi);
		CHECK(!need || hp.port_lo, "'%s': no port where one is needed", s);
		CHECK(hp.port_lo || hp.host[0], "'%s': empty", s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c;
	char err[1024];
	char *s;

	if (size > 4 * PF_LINE_MAX)
		return 0;
	memset(&c, 0, sizeof(c));
	pf_table_init(&c.tab);
	if (pf_conf_foreach("fuzz", (const char *)data, size, stmt_cb, &c, err, sizeof(err)))
		CHECK(err[0], "an error without a message");
	check_table(&c.tab);
	pf_table_clear(&c.tab);

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	{
		struct pf_toks toks;

		if (!pf_lex(s, &toks, err, sizeof(err))) {
			int i;

			for (i = 0; i < toks.n; i++)
				check_hostport(toks.t[i].s);
			pf_toks_free(&toks);
		} else {
			CHECK(err[0] && !toks.buf, "a lexer error");
		}
	}
	free(s);
	return 0;
}
