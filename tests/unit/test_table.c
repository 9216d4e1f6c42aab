// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the rule table: formatting (the `portfw save` round trip),
 * equality, validation, resolution of literals, inheritance of runtime state
 * and the diff that the engines apply.
 */
#include "common/pf_addr.h"
#include "common/pf_conf.h"
#include "common/pf_table.h"
#include "common/pf_util.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ERRLEN 4096
#define OVERLAP_TAIL "expected each protocol, address and port to be forwarded once for each source"

/* ---- helpers ---- */

static int add_cb(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
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

/* Parses the forwards of a text ("t.conf") into t. */
static void table_from(const char *text, struct pf_table *t)
{
	char err[ERRLEN];

	pf_table_init(t);
	if (pf_conf_foreach("t.conf", text, strlen(text), add_cb, t, err, sizeof(err)))
		fail_msg("%s", err);
}

/* One forward parsed from a line; the caller unrefs it. */
static struct pf_forward *forward_ok(const char *line)
{
	struct pf_table t;
	struct pf_forward *f;

	table_from(line, &t);
	assert_int_equal(t.n, 1);
	f = pf_forward_ref(t.fwd[0]);
	pf_table_clear(&t);
	return f;
}

static int refs(struct pf_forward *f)
{
	return atomic_load(&f->refs);
}

static int stat_refs(struct pf_stats *st)
{
	return atomic_load(&st->refs);
}

/* Gives a table fresh runtime state, as the first load does. */
static void inherit_from_nothing(struct pf_table *t)
{
	struct pf_table empty;

	pf_table_init(&empty);
	pf_table_inherit(&empty, t);
}

static void assert_validate_ok(const char *text)
{
	struct pf_table t;
	char err[ERRLEN] = "";

	table_from(text, &t);
	if (pf_table_validate(&t, err, sizeof(err)))
		fail_msg("validate failed: %s", err);
	pf_table_clear(&t);
}

static void assert_validate_error(const char *text, const char *expected)
{
	struct pf_table t;
	char err[ERRLEN] = "";

	table_from(text, &t);
	assert_int_equal(pf_table_validate(&t, err, sizeof(err)), -1);
	assert_string_equal(err, expected);
	pf_table_clear(&t);
}

static void assert_sa(const union pf_sa *sa, int family, const char *addr)
{
	char buf[PF_ADDRSTR_MAX];

	assert_int_equal(sa->sa.sa_family, family);
	pf_sa_format(sa, false, buf, sizeof(buf));
	assert_string_equal(buf, addr);
}

/* ==== format: the save round trip ==== */

static const char *const round_trip_lines[] = {
	"forward tcp :80 to b",
	"forward udp :53 to 10.0.0.53:5353",
	"forward name web tcp,udp [::1]:443 to a:1 weight 5, b:2 weight 0, [fe80::1]:3, c.example",
	"forward udp 10.0.0.1:5000-5009 to b:6000-6009, c:7, d connect-timeout 250ms "
	"idle-timeout 90s half-close-timeout 1h maxconn 100",
	"forward tcp [::]:1-65535 to x, y:1-65535 maxconn 10000000 connect-timeout 30d",
	"forward udp,tcp :80 to a weight 1, b weight 65535 name last",
	"forward tcp :80 to a connect-timeout 5s idle-timeout 2h half-close-timeout 60s maxconn 0",
	"forward tcp :80 to a connect-timeout 10ms idle-timeout 100ms half-close-timeout 1500ms",
	"forward tcp :80 to a connect-timeout 61 idle-timeout 86400 half-close-timeout 1d",
	"forward name \"q\" tcp \":8080\" to \"b\" weight \"3\"",
	"forward tcp [::1]:80 to [::1], [::ffff:10.0.0.1]:8080 weight 7",
	"forward name a.b_c-9 tcp gw.example:22 to host_1.example:2222",
	"forward tcp :080 to b:0080 weight 02 maxconn 007",
	"forward tcp :1-2 to b:3-4, c:5, d weight 0",
	"forward udp :53 to b udp-timeout 1s udp-stream-timeout 90 max-sessions 1",
	"forward udp :53 to b udp-timeout 30s udp-stream-timeout 2m max-sessions 65536",
	"forward tcp,udp :53 to b max-sessions 10000000 udp-timeout 30d maxconn 1",
};

static void assert_round_trip(const char *line)
{
	struct pf_forward *f = forward_ok(line), *g;
	char buf[PF_LINE_MAX];

	pf_forward_format(f, buf, sizeof(buf));
	g = forward_ok(buf);
	if (!pf_forward_equal(f, g))
		fail_msg("'%s' formats as '%s', which parses differently", line, buf);
	pf_forward_unref(g);
	pf_forward_unref(f);
}

static void test_format_round_trip(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(round_trip_lines); i++)
		assert_round_trip(round_trip_lines[i]);
}

static void test_format_round_trip_big_forward(void **state)
{
	/* 256 backends with ranges, the longest name, every option. */
	size_t cap = 2 * PF_LINE_MAX, off;
	char *line = malloc(cap), *name = malloc(PF_NAME_MAX);
	int i;

	(void)state;
	assert_non_null(line);
	assert_non_null(name);
	memset(name, 'n', PF_NAME_MAX - 1);
	name[PF_NAME_MAX - 1] = '\0';
	off = (size_t)snprintf(line, cap, "forward name %s tcp,udp [::1]:1-65535 to", name);
	for (i = 0; i < PF_BACKENDS_MAX; i++)
		off += (size_t)snprintf(line + off, cap - off,
					"%sh%03d.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
					"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb:1-65535",
					i ? "," : " ", i);
	snprintf(line + off, cap - off, " connect-timeout 1001ms idle-timeout 1001ms "
					"half-close-timeout 1001ms maxconn 9999999");
	assert_true(strlen(line) < PF_LINE_MAX - 2);
	assert_round_trip(line);
	free(name);
	free(line);
}

/* "forward tcp :1 to H:1,H:1,..." with 256 backends whose host names have hlen
 * characters: written without spaces, but saved with ", " between backends. */
static char *compact_forward(size_t hlen)
{
	size_t cap = 32 + PF_BACKENDS_MAX * (hlen + 4), off;
	char *line = malloc(cap);
	int i;

	assert_non_null(line);
	off = (size_t)snprintf(line, cap, "forward tcp :1 to ");
	for (i = 0; i < PF_BACKENDS_MAX; i++) {
		memset(line + off, 'h', hlen);
		off += hlen;
		off += (size_t)snprintf(line + off, cap - off, ":1%s",
					i < PF_BACKENDS_MAX - 1 ? "," : "");
	}
	return line;
}

static void test_format_long_saved_line_loads_back(void **state)
{
	char *line = compact_forward(250), *text;
	struct pf_forward *f = forward_ok(line);
	struct pf_table t;

	(void)state;
	text = malloc(PF_LINE_MAX);
	assert_non_null(text);
	pf_forward_format(f, text, PF_LINE_MAX);
	assert_true(strlen(text) > strlen(line));
	table_from(text, &t);
	assert_int_equal(t.n, 1);
	assert_true(pf_forward_equal(t.fwd[0], f));
	pf_table_clear(&t);
	pf_forward_unref(f);
	free(text);
	free(line);
}

static void test_forward_too_long_to_save_is_rejected(void **state)
{
	/* 65297 bytes as written (a statement may have 65534), 65552 when saved. */
	char *line = compact_forward(252);
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	assert_true(strlen(line) <= PF_LINE_MAX - 2);
	pf_table_init(&t);
	assert_int_equal(pf_conf_foreach("t.conf", line, strlen(line), add_cb, &t, err,
					 sizeof(err)),
			 -1);
	assert_string_equal(err, "t.conf:1: 'forward': saved as one line, this forward would be "
				 "longer than 65534 bytes; expected fewer or shorter backends");
	assert_int_equal(t.n, 0);
	free(line);
}

static void test_format_canonical(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "forward tcp :80 to b", "forward tcp :80 to b" },
		{ "forward udp,tcp 1.2.3.4:80-81 to b:1-2 weight 1 , c weight 3 name w",
		  "forward name w tcp,udp 1.2.3.4:80-81 to b:1-2, c weight 3" },
		{ "forward tcp [::1]:80 to [::2] maxconn 5 connect-timeout 90 idle-timeout 120 "
		  "half-close-timeout 1500ms",
		  "forward tcp [::1]:80 to [::2] connect-timeout 90s idle-timeout 2m "
		  "half-close-timeout 1500ms maxconn 5" },
		{ "forward tcp :80 to b connect-timeout 5000ms maxconn 0",
		  "forward tcp :80 to b" },
		{ "forward udp :53 to b max-sessions 7 udp-stream-timeout 150 udp-timeout 1500ms "
		  "maxconn 3",
		  "forward udp :53 to b maxconn 3 udp-timeout 1500ms udp-stream-timeout 150s "
		  "max-sessions 7" },
		{ "forward udp :53 to b max-sessions 65536 udp-stream-timeout 120 udp-timeout 30",
		  "forward udp :53 to b" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(cases); i++) {
		struct pf_forward *f = forward_ok(cases[i].in);
		char buf[1024];

		pf_forward_format(f, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].out);
		pf_forward_unref(f);
	}
}

static void test_format_saved_table_loads_back(void **state)
{
	/* What `portfw save` writes: one line per forward, read back as a file. */
	struct pf_table t, back;
	char *text = NULL;
	size_t len = 0, i;
	FILE *fp = open_memstream(&text, &len);

	(void)state;
	assert_non_null(fp);
	pf_table_init(&t);
	for (i = 0; i < PF_ARRAY_SIZE(round_trip_lines); i++) {
		struct pf_forward *f = forward_ok(round_trip_lines[i]);
		char buf[PF_LINE_MAX];

		pf_forward_format(f, buf, sizeof(buf));
		fprintf(fp, "%s\n", buf);
		pf_table_add(&t, f);
	}
	assert_int_equal(fclose(fp), 0);
	table_from(text, &back);
	assert_int_equal(back.n, t.n);
	for (i = 0; i < t.n; i++)
		assert_true(pf_forward_equal(t.fwd[i], back.fwd[i]));
	pf_table_clear(&back);
	pf_table_clear(&t);
	free(text);
}

static void test_format_truncates_to_buffer(void **state)
{
	struct pf_forward *f = forward_ok("forward name web tcp :80 to b, c, d maxconn 5");
	char buf[12];

	(void)state;
	pf_forward_format(f, buf, sizeof(buf));
	assert_string_equal(buf, "forward nam");
	pf_forward_unref(f);
}

static void test_format_listen_and_backend(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp [::1]:80-90 to [::2], b:1-11, c:5");
	char buf[PF_ADDRSTR_MAX];

	(void)state;
	pf_listen_format(f, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:80-90");
	pf_backend_format(&f->be[0], buf, sizeof(buf));
	assert_string_equal(buf, "[::2]");
	pf_backend_format(&f->be[1], buf, sizeof(buf));
	assert_string_equal(buf, "b:1-11");
	pf_backend_format(&f->be[2], buf, sizeof(buf));
	assert_string_equal(buf, "c:5");
	pf_forward_unref(f);
}

static void test_proto_name(void **state)
{
	(void)state;
	assert_string_equal(pf_proto_name(PF_PROTO_TCP), "tcp");
	assert_string_equal(pf_proto_name(PF_PROTO_UDP), "udp");
	assert_string_equal(pf_proto_name(PF_PROTO_TCP | PF_PROTO_UDP), "tcp,udp");
}

/* ==== equality ==== */

static void test_equal_ignores_source_and_runtime(void **state)
{
	struct pf_forward *a = forward_ok("forward tcp :80 to b:1 weight 2");
	struct pf_forward *b = forward_ok("forward  tcp  :80  to  b:1  weight  2  # other file");

	(void)state;
	pf_strlcpy(b->src, "other.conf", sizeof(b->src));
	b->line = 99;
	b->be[0].sched_cur = 7;
	assert_true(pf_forward_equal(a, b));
	assert_true(pf_forward_same_key(a, b));
	pf_forward_unref(b);
	pf_forward_unref(a);
}

static void test_equal_detects_each_difference(void **state)
{
	static const char *const variants[] = {
		"forward name x tcp :80 to b:1 weight 2, c",
		"forward udp :80 to b:1 weight 2, c",
		"forward tcp,udp :80 to b:1 weight 2, c",
		"forward tcp 127.0.0.1:80 to b:1 weight 2, c",
		"forward tcp :81 to b:1 weight 2, c",
		"forward tcp :80-81 to b:1 weight 2, c",
		"forward tcp :80 to b:2 weight 2, c",
		"forward tcp :80 to b weight 2, c",
		"forward tcp :80 to b2:1 weight 2, c",
		"forward tcp :80 to b:1 weight 3, c",
		"forward tcp :80 to b:1 weight 2",
		"forward tcp :80 to b:1 weight 2, c, d",
		"forward tcp :80 to c, b:1 weight 2",
		"forward tcp :80 to b:1 weight 2, c connect-timeout 1s",
		"forward tcp :80 to b:1 weight 2, c idle-timeout 1s",
		"forward tcp :80 to b:1 weight 2, c half-close-timeout 1s",
		"forward tcp :80 to b:1 weight 2, c maxconn 1",
		"forward tcp :80 to b:1 weight 2, c udp-timeout 1s",
		"forward tcp :80 to b:1 weight 2, c udp-stream-timeout 1s",
		"forward tcp :80 to b:1 weight 2, c max-sessions 1",
	};
	struct pf_forward *base = forward_ok("forward tcp :80 to b:1 weight 2, c");
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(variants); i++) {
		struct pf_forward *v = forward_ok(variants[i]);

		if (pf_forward_equal(base, v) || pf_forward_equal(v, base))
			fail_msg("'%s' compares equal to the base forward", variants[i]);
		pf_forward_unref(v);
	}
	pf_forward_unref(base);
}

static void test_same_key(void **state)
{
	struct pf_forward *a = forward_ok("forward name a tcp :80 to b maxconn 3");
	struct pf_forward *b = forward_ok("forward name b tcp :80 to c, d");
	struct pf_forward *c = forward_ok("forward tcp,udp :80 to b");
	struct pf_forward *d = forward_ok("forward tcp :80-81 to b");

	(void)state;
	assert_true(pf_forward_same_key(a, b));
	assert_false(pf_forward_equal(a, b));
	assert_false(pf_forward_same_key(a, c));
	assert_false(pf_forward_same_key(a, d));
	pf_forward_unref(d);
	pf_forward_unref(c);
	pf_forward_unref(b);
	pf_forward_unref(a);
}

/* ==== clone ==== */

static void test_clone_copies_configuration(void **state)
{
	struct pf_table t;
	struct pf_forward *f, *c;
	char err[ERRLEN];

	(void)state;
	table_from("\nforward name web tcp 127.0.0.1:80 to 10.0.0.1:8080 weight 3, [::1] "
		   "maxconn 7 idle-timeout 5m",
		   &t);
	assert_int_equal(pf_table_resolve(&t, err, sizeof(err)), 0);
	inherit_from_nothing(&t);
	f = t.fwd[0];
	f->be[0].sched_cur = 42;
	c = pf_forward_clone(f);
	assert_ptr_not_equal(c, f);
	assert_ptr_not_equal(c->be, f->be);
	assert_true(pf_forward_equal(c, f));
	assert_string_equal(c->src, "t.conf");
	assert_int_equal(c->line, 2);
	assert_int_equal(c->be[1].line, 2);
	assert_true(c->be[1].bracketed);
	assert_sa(&c->laddr, AF_INET, "127.0.0.1");
	assert_sa(&c->be[0].addr, AF_INET, "10.0.0.1");
	assert_sa(&c->be[1].addr, AF_INET6, "::1");
	assert_int_equal(refs(c), 1);
	pf_forward_unref(c);
	pf_table_clear(&t);
}

static void test_clone_has_no_runtime_state(void **state)
{
	struct pf_table t;
	struct pf_forward *f, *c;

	(void)state;
	table_from("forward tcp :80 to a, b", &t);
	inherit_from_nothing(&t);
	f = t.fwd[0];
	f->be[1].sched_cur = -5;
	c = pf_forward_clone(f);
	assert_null(c->st);
	assert_null(c->be[0].st);
	assert_null(c->be[1].st);
	assert_int_equal(c->be[1].sched_cur, 0);
	/* The original keeps its own. */
	assert_non_null(f->st);
	assert_int_equal(stat_refs(f->st), 1);
	assert_int_equal(f->be[1].sched_cur, -5);
	pf_forward_unref(c);
	pf_table_clear(&t);
}

static void test_clone_is_independent(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :80 to a:1");
	struct pf_forward *c = pf_forward_clone(f);

	(void)state;
	c->be[0].port_lo = c->be[0].port_hi = 2;
	pf_strlcpy(c->name, "changed", sizeof(c->name));
	assert_int_equal(f->be[0].port_lo, 1);
	assert_string_equal(f->name, "");
	pf_forward_unref(f);
	pf_forward_unref(c);
}

/* ==== backend ports ==== */

static void test_backend_port_single(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :1000-1009 to b:80");

	(void)state;
	assert_int_equal(pf_backend_port(f, &f->be[0], 1000), 80);
	assert_int_equal(pf_backend_port(f, &f->be[0], 1009), 80);
	pf_forward_unref(f);
}

static void test_backend_port_none_is_listen_port(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :1000-1009 to b");

	(void)state;
	assert_int_equal(pf_backend_port(f, &f->be[0], 1000), 1000);
	assert_int_equal(pf_backend_port(f, &f->be[0], 1007), 1007);
	pf_forward_unref(f);
}

static void test_backend_port_range_1to1(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :1000-1009 to b:2000-2009, c:65526-65535");

	(void)state;
	assert_int_equal(pf_backend_port(f, &f->be[0], 1000), 2000);
	assert_int_equal(pf_backend_port(f, &f->be[0], 1005), 2005);
	assert_int_equal(pf_backend_port(f, &f->be[0], 1009), 2009);
	assert_int_equal(pf_backend_port(f, &f->be[1], 1009), 65535);
	pf_forward_unref(f);
}

/* ==== the table ==== */

static void test_table_add_remove_find(void **state)
{
	struct pf_table t;
	struct pf_forward *b;
	int i;

	(void)state;
	pf_table_init(&t);
	for (i = 0; i < 40; i++) { /* grows past the first allocation */
		char line[64];

		snprintf(line, sizeof(line), "forward name f%d tcp :%d to b", i, i + 1);
		pf_table_add(&t, forward_ok(line));
	}
	assert_int_equal(t.n, 40);
	b = pf_table_find_name(&t, "f20");
	assert_non_null(b);
	assert_int_equal(b->lport_lo, 21);
	assert_null(pf_table_find_name(&t, "f40"));
	assert_null(pf_table_find_name(&t, ""));
	pf_table_remove_at(&t, 20);
	assert_int_equal(t.n, 39);
	assert_null(pf_table_find_name(&t, "f20"));
	assert_int_equal(t.fwd[20]->lport_lo, 22);
	assert_int_equal(t.fwd[38]->lport_lo, 40);
	pf_table_clear(&t);
	assert_int_equal(t.n, 0);
	assert_null(t.fwd);
}

static void test_table_copy_shares_forwards(void **state)
{
	struct pf_table t, c;

	(void)state;
	table_from("forward tcp :80 to a\nforward tcp :81 to b\n", &t);
	pf_table_copy(&c, &t);
	assert_int_equal(c.n, 2);
	assert_ptr_equal(c.fwd[0], t.fwd[0]);
	assert_ptr_equal(c.fwd[1], t.fwd[1]);
	assert_int_equal(refs(t.fwd[0]), 2);
	pf_table_clear(&c);
	assert_int_equal(refs(t.fwd[0]), 1);
	pf_table_clear(&t);
}

/* ==== validate ==== */

static void test_validate_accepts_distinct_forwards(void **state)
{
	(void)state;
	assert_validate_ok("forward name a tcp :80 to x\n"
			   "forward name b tcp :81 to x\n"
			   "forward tcp :82 to x\n"
			   "forward tcp :83 to x\n"
			   "forward udp :80 to x\n"
			   "forward tcp :1000-1999 to x\n"
			   "forward tcp :2000-2999 to x\n"
			   "forward tcp 127.0.0.1:80 to x\n");
}

static void test_validate_duplicate_name(void **state)
{
	(void)state;
	assert_validate_error("forward name web tcp :80 to a\n"
			      "forward name other tcp :81 to a\n"
			      "\n"
			      "forward name web udp :82 to b\n",
			      "t.conf:4: name 'web' is already used by the forward at t.conf:1; "
			      "expected a unique name");
}

static void test_validate_same_port(void **state)
{
	(void)state;
	assert_validate_error("forward tcp :80 to a\nforward tcp :80 to b\n",
			      "t.conf:2: tcp :80 overlaps forward (t.conf:1); " OVERLAP_TAIL);
}

static void test_validate_overlap_names_the_other_forward(void **state)
{
	(void)state;
	assert_validate_error("forward name web tcp :80 to a\nforward name web2 tcp :80 to b\n",
			      "t.conf:2: tcp :80 overlaps forward 'web' (t.conf:1); " OVERLAP_TAIL);
}

static void test_validate_different_protocols_do_not_conflict(void **state)
{
	(void)state;
	assert_validate_ok("forward tcp :53 to a\nforward udp :53 to b\n");
}

static void test_validate_tcp_udp_conflicts_with_udp(void **state)
{
	(void)state;
	assert_validate_error("forward tcp,udp :53 to a\nforward udp :53 to b\n",
			      "t.conf:2: udp :53 overlaps forward (t.conf:1); " OVERLAP_TAIL);
	assert_validate_error("forward tcp :53 to a\nforward udp,tcp :53 to b\n",
			      "t.conf:2: tcp :53 overlaps forward (t.conf:1); " OVERLAP_TAIL);
	assert_validate_error("forward tcp,udp :53 to a\nforward tcp,udp :53 to b\n",
			      "t.conf:2: tcp,udp :53 overlaps forward (t.conf:1); " OVERLAP_TAIL);
}

static void test_validate_range_overlap(void **state)
{
	(void)state;
	assert_validate_error("forward tcp :1000-2000 to a\nforward tcp :2000-3000 to b\n",
			      "t.conf:2: tcp :2000-3000 overlaps forward (t.conf:1); " OVERLAP_TAIL);
	assert_validate_error("forward tcp :1000-2000 to a\nforward tcp :1500 to b\n",
			      "t.conf:2: tcp :1500 overlaps forward (t.conf:1); " OVERLAP_TAIL);
	assert_validate_error("forward tcp :1500 to a\nforward tcp :1000-2000 to b\n",
			      "t.conf:2: tcp :1000-2000 overlaps forward (t.conf:1); " OVERLAP_TAIL);
	assert_validate_error("forward tcp :1-10 to a\nforward tcp :11-20 to a\n"
			      "forward tcp :5-15 to b\n",
			      "t.conf:3: tcp :5-15 overlaps forward (t.conf:1); " OVERLAP_TAIL);
}

static void test_validate_unresolved_hosts_compare_as_written(void **state)
{
	(void)state;
	assert_validate_ok("forward tcp 127.0.0.1:80 to a\nforward tcp 127.0.0.2:80 to b\n");
	assert_validate_error("forward tcp 127.0.0.1:80 to a\nforward tcp 127.0.0.1:80 to b\n",
			      "t.conf:2: tcp 127.0.0.1:80 overlaps forward (t.conf:1); " OVERLAP_TAIL);
}

static void test_validate_resolved_wildcards_conflict(void **state)
{
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	/* "" (IPv6 any) and 0.0.0.0 are both every address. */
	table_from("forward tcp :80 to 10.0.0.1\nforward tcp 0.0.0.0:80 to 10.0.0.2\n", &t);
	assert_int_equal(pf_table_validate(&t, err, sizeof(err)), 0);
	assert_int_equal(pf_table_resolve(&t, err, sizeof(err)), 0);
	assert_int_equal(pf_table_validate(&t, err, sizeof(err)), -1);
	assert_string_equal(err, "t.conf:2: tcp 0.0.0.0:80 overlaps forward (t.conf:1); " OVERLAP_TAIL);
	pf_table_clear(&t);
}

static void test_validate_resolved_same_address_conflicts(void **state)
{
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	table_from("forward udp [::1]:80 to 10.0.0.1\nforward udp [0:0::1]:80 to 10.0.0.2\n", &t);
	assert_int_equal(pf_table_resolve(&t, err, sizeof(err)), 0);
	assert_int_equal(pf_table_validate(&t, err, sizeof(err)), -1);
	assert_string_equal(err, "t.conf:2: udp [0:0::1]:80 overlaps forward (t.conf:1); " OVERLAP_TAIL);
	pf_table_clear(&t);
}

static void test_validate_resolved_different_addresses(void **state)
{
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	table_from("forward tcp 127.0.0.1:80 to 10.0.0.1\nforward tcp [::1]:80 to 10.0.0.1\n"
		   "forward tcp 127.0.0.2:80 to 10.0.0.1\n",
		   &t);
	assert_int_equal(pf_table_resolve(&t, err, sizeof(err)), 0);
	assert_int_equal(pf_table_validate(&t, err, sizeof(err)), 0);
	pf_table_clear(&t);
}

/* ==== resolve ==== */

static void test_resolve_literals(void **state)
{
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	table_from("forward tcp 127.0.0.1:80 to 10.0.0.1, [::1]:5\n"
		   "forward udp :53 to 192.168.1.1\n"
		   "forward tcp [fe80::1]:81 to 10.0.0.2\n",
		   &t);
	assert_int_equal(pf_table_resolve(&t, err, sizeof(err)), 0);
	assert_sa(&t.fwd[0]->laddr, AF_INET, "127.0.0.1");
	assert_sa(&t.fwd[0]->be[0].addr, AF_INET, "10.0.0.1");
	assert_sa(&t.fwd[0]->be[1].addr, AF_INET6, "::1");
	assert_sa(&t.fwd[1]->laddr, AF_INET6, "::"); /* every address, dual stack */
	assert_true(pf_sa_is_any(&t.fwd[1]->laddr));
	assert_sa(&t.fwd[1]->be[0].addr, AF_INET, "192.168.1.1");
	assert_sa(&t.fwd[2]->laddr, AF_INET6, "fe80::1");
	pf_table_clear(&t);
}

static void assert_loopback(const union pf_sa *sa)
{
	if (sa->sa.sa_family == AF_INET)
		assert_int_equal(ntohl(sa->sin.sin_addr.s_addr), INADDR_LOOPBACK);
	else if (sa->sa.sa_family == AF_INET6)
		assert_true(IN6_IS_ADDR_LOOPBACK(&sa->sin6.sin6_addr));
	else
		fail_msg("family %d", sa->sa.sa_family);
}

static void test_resolve_localhost(void **state)
{
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	table_from("forward tcp localhost:80 to localhost:8080\n", &t);
	if (pf_table_resolve(&t, err, sizeof(err)))
		fail_msg("%s", err);
	assert_loopback(&t.fwd[0]->laddr);
	assert_loopback(&t.fwd[0]->be[0].addr);
	pf_table_clear(&t);
}

/* "a..b" is a valid word for the parser but no DNS name: getaddrinfo rejects it
 * without sending a query. */
static void assert_resolve_error(const char *text, const char *prefix)
{
	struct pf_table t;
	char err[ERRLEN];

	table_from(text, &t);
	assert_int_equal(pf_table_resolve(&t, err, sizeof(err)), -1);
	if (strncmp(err, prefix, strlen(prefix)) || strlen(err) == strlen(prefix))
		fail_msg("got '%s', expected '%s' and a reason", err, prefix);
	pf_table_clear(&t);
}

static void test_resolve_listen_error(void **state)
{
	(void)state;
	assert_resolve_error("forward tcp :1 to 10.0.0.1\n\nforward tcp a..b:80 to 10.0.0.1\n",
			     "t.conf:3: cannot resolve listen host 'a..b': ");
}

static void test_resolve_backend_error(void **state)
{
	(void)state;
	assert_resolve_error("\nforward tcp :80 to 10.0.0.1, \\\n    a..b\n",
			     "t.conf:2: cannot resolve backend host 'a..b': ");
}

static void test_resolve_skips_resolved_forwards(void **state)
{
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	table_from("forward tcp 10.0.0.1:80 to a..b\n", &t);
	/* Kept from the running table: resolved already, never again. */
	assert_int_equal(pf_sa_from_literal("10.9.9.9", &t.fwd[0]->laddr), 0);
	assert_int_equal(pf_table_resolve(&t, err, sizeof(err)), 0);
	assert_sa(&t.fwd[0]->laddr, AF_INET, "10.9.9.9");
	pf_table_clear(&t);
}

/* ==== inherit ==== */

static void test_inherit_new_table_gets_fresh_state(void **state)
{
	struct pf_table t;

	(void)state;
	table_from("forward tcp :80 to a, b\nforward tcp :81 to a\n", &t);
	inherit_from_nothing(&t);
	assert_non_null(t.fwd[0]->st);
	assert_non_null(t.fwd[1]->st);
	assert_ptr_not_equal(t.fwd[0]->st, t.fwd[1]->st);
	assert_non_null(t.fwd[0]->be[0].st);
	assert_non_null(t.fwd[0]->be[1].st);
	assert_ptr_not_equal(t.fwd[0]->be[0].st, t.fwd[0]->be[1].st);
	assert_ptr_not_equal(t.fwd[0]->be[0].st, t.fwd[1]->be[0].st);
	assert_int_equal(stat_refs(t.fwd[0]->st), 1);
	pf_table_clear(&t);
}

static void test_inherit_equal_forward_keeps_old_object(void **state)
{
	struct pf_table cur, next;
	struct pf_forward *old;

	(void)state;
	table_from("forward name web tcp :80 to a weight 2, b\nforward tcp :81 to c\n", &cur);
	inherit_from_nothing(&cur);
	old = cur.fwd[0];
	old->be[0].sched_cur = 3;
	table_from("forward tcp :82 to d\n# reordered and reformatted\n"
		   "forward tcp :80 to a weight 2,b name web\n",
		   &next);
	pf_table_inherit(&cur, &next);
	assert_ptr_equal(next.fwd[1], old);
	assert_int_equal(refs(old), 2);
	assert_int_equal(old->be[0].sched_cur, 3);
	assert_int_equal(stat_refs(old->st), 1);
	pf_table_clear(&next);
	assert_int_equal(refs(old), 1);
	pf_table_clear(&cur);
}

static void test_inherit_same_key_shares_stats(void **state)
{
	struct pf_table cur, next;
	struct pf_forward *old, *nw;

	(void)state;
	table_from("forward tcp :80 to a:1, b:2, c\n", &cur);
	inherit_from_nothing(&cur);
	old = cur.fwd[0];
	table_from("forward tcp :80 to c, b:2 weight 5, d, a:9\n", &next);
	pf_table_inherit(&cur, &next);
	nw = next.fwd[0];
	assert_ptr_not_equal(nw, old);
	assert_ptr_equal(nw->st, old->st);
	assert_int_equal(stat_refs(old->st), 2);
	/* Same host and ports: same counters, whatever the weight or order. */
	assert_ptr_equal(nw->be[0].st, old->be[2].st); /* c */
	assert_ptr_equal(nw->be[1].st, old->be[1].st); /* b:2 */
	assert_int_equal(stat_refs(old->be[1].st), 2);
	/* New backends (and a:9 is not a:1) get their own. */
	assert_non_null(nw->be[2].st);
	assert_non_null(nw->be[3].st);
	assert_ptr_not_equal(nw->be[3].st, old->be[0].st);
	assert_int_equal(stat_refs(nw->be[3].st), 1);
	pf_table_clear(&cur);
	/* The new forward holds the shared counters alone now. */
	assert_int_equal(stat_refs(nw->st), 1);
	assert_int_equal(stat_refs(nw->be[1].st), 1);
	pf_table_clear(&next);
}

static void test_inherit_new_key_gets_fresh_stats(void **state)
{
	struct pf_table cur, next;

	(void)state;
	table_from("forward tcp :80 to a\n", &cur);
	inherit_from_nothing(&cur);
	table_from("forward udp :80 to a\nforward tcp :81 to a\n", &next);
	pf_table_inherit(&cur, &next);
	assert_non_null(next.fwd[0]->st);
	assert_ptr_not_equal(next.fwd[0]->st, cur.fwd[0]->st);
	assert_ptr_not_equal(next.fwd[0]->be[0].st, cur.fwd[0]->be[0].st);
	assert_ptr_not_equal(next.fwd[1]->st, cur.fwd[0]->st);
	assert_int_equal(stat_refs(cur.fwd[0]->st), 1);
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

static void test_inherit_copied_table_is_unchanged(void **state)
{
	struct pf_table cur, next;
	struct pf_stats *st;

	(void)state;
	table_from("forward tcp :80 to a\n", &cur);
	inherit_from_nothing(&cur);
	st = cur.fwd[0]->st;
	pf_table_copy(&next, &cur);
	pf_table_inherit(&cur, &next);
	assert_ptr_equal(next.fwd[0], cur.fwd[0]);
	assert_int_equal(refs(cur.fwd[0]), 2);
	assert_ptr_equal(cur.fwd[0]->st, st);
	assert_int_equal(stat_refs(st), 1);
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

static void test_inherit_keeps_state_already_set(void **state)
{
	struct pf_table cur, next;
	struct pf_stats *mine = pf_stats_new();

	(void)state;
	table_from("forward tcp :80 to a\n", &cur);
	inherit_from_nothing(&cur);
	table_from("forward tcp :80 to a, b\n", &next);
	next.fwd[0]->st = mine;
	pf_table_inherit(&cur, &next);
	assert_ptr_equal(next.fwd[0]->st, mine);
	assert_int_equal(stat_refs(cur.fwd[0]->st), 1);
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

/* ==== diff ==== */

struct diff_rec {
	int n;
	struct {
		enum pf_diff_op op;
		struct pf_forward *old, *nw;
	} e[16];
};

static void diff_cb(enum pf_diff_op op, struct pf_forward *old, struct pf_forward *nw, void *arg)
{
	struct diff_rec *r = arg;

	assert_true(r->n < (int)PF_ARRAY_SIZE(r->e));
	r->e[r->n].op = op;
	r->e[r->n].old = old;
	r->e[r->n].nw = nw;
	r->n++;
}

/* Loads cur, then next, inherits as a reload does and diffs. */
static void diff_texts(const char *cur_text, const char *next_text, struct pf_table *cur,
		       struct pf_table *next, struct diff_rec *r)
{
	table_from(cur_text, cur);
	inherit_from_nothing(cur);
	table_from(next_text, next);
	pf_table_inherit(cur, next);
	memset(r, 0, sizeof(*r));
	pf_table_diff(cur, next, diff_cb, r);
}

static void assert_diff(const struct diff_rec *r, int i, enum pf_diff_op op,
			const struct pf_forward *old, const struct pf_forward *nw)
{
	assert_true(i < r->n);
	assert_int_equal(r->e[i].op, op);
	assert_ptr_equal(r->e[i].old, old);
	assert_ptr_equal(r->e[i].nw, nw);
}

static void test_diff_unchanged(void **state)
{
	struct pf_table cur, next;
	struct diff_rec r;

	(void)state;
	diff_texts("forward tcp :80 to a\nforward udp :53 to b\n",
		   "forward udp :53 to b\nforward tcp :80 to a\n", &cur, &next, &r);
	assert_int_equal(r.n, 2);
	assert_diff(&r, 0, PF_DIFF_KEEP, cur.fwd[0], cur.fwd[0]);
	assert_diff(&r, 1, PF_DIFF_KEEP, cur.fwd[1], cur.fwd[1]);
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

static void test_diff_add(void **state)
{
	struct pf_table cur, next;
	struct diff_rec r;

	(void)state;
	diff_texts("forward tcp :80 to a\n", "forward tcp :80 to a\nforward tcp :81 to a\n", &cur,
		   &next, &r);
	assert_int_equal(r.n, 2);
	assert_diff(&r, 0, PF_DIFF_KEEP, cur.fwd[0], cur.fwd[0]);
	assert_diff(&r, 1, PF_DIFF_ADD, NULL, next.fwd[1]);
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

static void test_diff_delete(void **state)
{
	struct pf_table cur, next;
	struct diff_rec r;

	(void)state;
	diff_texts("forward tcp :80 to a\nforward tcp :81 to a\n", "forward tcp :81 to a\n", &cur,
		   &next, &r);
	assert_int_equal(r.n, 2);
	assert_diff(&r, 0, PF_DIFF_DEL, cur.fwd[0], NULL);
	assert_diff(&r, 1, PF_DIFF_KEEP, cur.fwd[1], cur.fwd[1]);
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

static void test_diff_modify(void **state)
{
	struct pf_table cur, next;
	struct diff_rec r;

	(void)state;
	diff_texts("forward name web tcp :80 to a\n", "forward tcp :80 to a, b maxconn 4\n", &cur,
		   &next, &r);
	assert_int_equal(r.n, 1);
	assert_diff(&r, 0, PF_DIFF_MODIFY, cur.fwd[0], next.fwd[0]);
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

static void test_diff_key_change_is_delete_and_add(void **state)
{
	struct pf_table cur, next;
	struct diff_rec r;

	(void)state;
	/* Another port, another protocol set: a new listener, not a modification. */
	diff_texts("forward tcp :80 to a\nforward tcp :53 to a\n",
		   "forward tcp :8080 to a\nforward tcp,udp :53 to a\n", &cur, &next, &r);
	assert_int_equal(r.n, 4);
	assert_diff(&r, 0, PF_DIFF_DEL, cur.fwd[0], NULL);
	assert_diff(&r, 1, PF_DIFF_DEL, cur.fwd[1], NULL);
	assert_diff(&r, 2, PF_DIFF_ADD, NULL, next.fwd[0]);
	assert_diff(&r, 3, PF_DIFF_ADD, NULL, next.fwd[1]);
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

static void test_diff_mixed(void **state)
{
	struct pf_table cur, next;
	struct diff_rec r;

	(void)state;
	diff_texts("forward name a tcp :1 to x\n"
		   "forward name b tcp :2 to x\n"
		   "forward name c tcp :3 to x\n",
		   "forward name d tcp :4 to x\n"
		   "forward name b tcp :2 to y\n"
		   "forward name a tcp :1 to x\n",
		   &cur, &next, &r);
	assert_int_equal(r.n, 4);
	assert_diff(&r, 0, PF_DIFF_KEEP, cur.fwd[0], cur.fwd[0]);
	assert_ptr_equal(next.fwd[2], cur.fwd[0]);
	assert_diff(&r, 1, PF_DIFF_MODIFY, cur.fwd[1], next.fwd[1]);
	assert_diff(&r, 2, PF_DIFF_DEL, cur.fwd[2], NULL);
	assert_diff(&r, 3, PF_DIFF_ADD, NULL, next.fwd[0]);
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

static void test_diff_from_and_to_empty(void **state)
{
	struct pf_table cur, next;
	struct diff_rec r;

	(void)state;
	diff_texts("", "forward tcp :1 to x\nforward tcp :2 to x\n", &cur, &next, &r);
	assert_int_equal(r.n, 2);
	assert_diff(&r, 0, PF_DIFF_ADD, NULL, next.fwd[0]);
	assert_diff(&r, 1, PF_DIFF_ADD, NULL, next.fwd[1]);
	memset(&r, 0, sizeof(r));
	pf_table_diff(&next, &cur, diff_cb, &r);
	assert_int_equal(r.n, 2);
	assert_diff(&r, 0, PF_DIFF_DEL, next.fwd[0], NULL);
	assert_diff(&r, 1, PF_DIFF_DEL, next.fwd[1], NULL);
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_format_round_trip_big_forward),
		cmocka_unit_test(test_format_long_saved_line_loads_back),
		cmocka_unit_test(test_forward_too_long_to_save_is_rejected),
		cmocka_unit_test(test_format_canonical),
		cmocka_unit_test(test_format_saved_table_loads_back),
		cmocka_unit_test(test_format_truncates_to_buffer),
		cmocka_unit_test(test_format_listen_and_backend),
		cmocka_unit_test(test_proto_name),

		cmocka_unit_test(test_equal_ignores_source_and_runtime),
		cmocka_unit_test(test_equal_detects_each_difference),
		cmocka_unit_test(test_same_key),

		cmocka_unit_test(test_clone_copies_configuration),
		cmocka_unit_test(test_clone_has_no_runtime_state),
		cmocka_unit_test(test_clone_is_independent),

		cmocka_unit_test(test_backend_port_single),
		cmocka_unit_test(test_backend_port_none_is_listen_port),
		cmocka_unit_test(test_backend_port_range_1to1),

		cmocka_unit_test(test_table_add_remove_find),
		cmocka_unit_test(test_table_copy_shares_forwards),

		cmocka_unit_test(test_validate_accepts_distinct_forwards),
		cmocka_unit_test(test_validate_duplicate_name),
		cmocka_unit_test(test_validate_same_port),
		cmocka_unit_test(test_validate_overlap_names_the_other_forward),
		cmocka_unit_test(test_validate_different_protocols_do_not_conflict),
		cmocka_unit_test(test_validate_tcp_udp_conflicts_with_udp),
		cmocka_unit_test(test_validate_range_overlap),
		cmocka_unit_test(test_validate_unresolved_hosts_compare_as_written),
		cmocka_unit_test(test_validate_resolved_wildcards_conflict),
		cmocka_unit_test(test_validate_resolved_same_address_conflicts),
		cmocka_unit_test(test_validate_resolved_different_addresses),

		cmocka_unit_test(test_resolve_literals),
		cmocka_unit_test(test_resolve_localhost),
		cmocka_unit_test(test_resolve_listen_error),
		cmocka_unit_test(test_resolve_backend_error),
		cmocka_unit_test(test_resolve_skips_resolved_forwards),

		cmocka_unit_test(test_inherit_new_table_gets_fresh_state),
		cmocka_unit_test(test_inherit_equal_forward_keeps_old_object),
		cmocka_unit_test(test_inherit_same_key_shares_stats),
		cmocka_unit_test(test_inherit_new_key_gets_fresh_stats),
		cmocka_unit_test(test_inherit_copied_table_is_unchanged),
		cmocka_unit_test(test_inherit_keeps_state_already_set),

		cmocka_unit_test(test_diff_unchanged),
		cmocka_unit_test(test_diff_add),
		cmocka_unit_test(test_diff_delete),
		cmocka_unit_test(test_diff_modify),
		cmocka_unit_test(test_diff_key_change_is_delete_and_add),
		cmocka_unit_test(test_diff_mixed),
		cmocka_unit_test(test_diff_from_and_to_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
