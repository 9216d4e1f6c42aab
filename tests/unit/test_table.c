// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the rule table: formatting (the `portfw save` round trip),
 * equality, validation, resolution of literals, inheritance of runtime state
 * and the diff that the engines apply.
 */
#include "common/pf_addr.h"
#include "common/pf_conf.h"
#include "common/pf_interp.h"
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

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	return s;
}

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
	/* Balancing, checks, sources. */
	"forward tcp :80 to a weight 3 backup, b drain, c disabled, d backup drain weight 0 "
	"balance pref",
	"forward tcp :80 to a, b balance rr",
	"forward tcp :80 to a, b balance leastconn",
	"forward tcp :80 to a, b balance source",
	"forward tcp :80 to a, b balance maglev",
	"forward tcp :80 to a, b balance wrr",
	"forward tcp :80 to a check",
	"forward tcp :80 to a check check-interval 500ms check-timeout 1500ms fall 1 rise 100 "
	"check-port 8080 agent-port 9999 agent-interval 1m",
	"forward tcp :80 to a check-send \"GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n\" "
	"check-expect \"HTTP/1.\"",
	"forward tcp :80 to a check-send \"q\\\"uo\\\\te\\\\\\\"\" check-expect \"\\\\\"",
	"forward tcp :80 to a check-send \"\\x01\\x7f\\xff\\t#, x\" check-expect 220",
	"forward tcp :80 to a check-expect \"\\\"\" fall 100 rise 1 check-timeout 30d",
	"forward tcp :80 to a agent-port 1 agent-interval 100ms check-port 65535",
	"forward tcp :80 to a from 10.0.0.0/8,192.168.1.0/24 allow 10.1.0.0/16 "
	"deny 10.1.2.0/24, 2001:db8::/32",
	"forward tcp :80 to a from ::/0 deny 0.0.0.0/0",
	"forward udp :53 to a allow 10.1.2.3/8, fe80::1/10, 192.0.2.7, ::1",
	"forward tcp :80 to 10.0.0.2 masquerade",
	"forward tcp :80 to 10.0.0.2, 10.0.0.3 masquerade 10.0.0.1 maxconn 3",
	"forward tcp :80 to [2001:db8::2] masquerade 2001:db8::1",
	"forward tcp,udp [::1]:1000-1009 to a:2000-2009 backup weight 2, b balance source "
	"from 2001:db8::/48 check fall 2 name all.options connect-timeout 1s maxconn 9",
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
		{ "forward tcp :80 to 10.0.0.2 maxconn 2 masquerade", "forward tcp :80 to 10.0.0.2 masquerade maxconn 2" },
		{ "forward tcp :80 to 10.0.0.2 masquerade 10.0.0.1 maxconn 2",
		  "forward tcp :80 to 10.0.0.2 masquerade 10.0.0.1 maxconn 2" },
		{ "forward tcp :80 to [2001:db8::2] masquerade [2001:db8::1]",
		  "forward tcp :80 to [2001:db8::2] masquerade 2001:db8::1" },
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
	pf_xstrset(&b->conf.src, "other.conf");
	b->conf.line = 99;
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
	assert_string_equal(c->conf.src, "t.conf");
	assert_int_equal(c->conf.line, 2);
	assert_int_equal(c->be[1].conf.line, 2);
	assert_true(c->be[1].conf.bracketed);
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
	c->be[0].conf.port_lo = c->be[0].conf.port_hi = 2;
	pf_strlcpy(c->conf.name, "changed", sizeof(c->conf.name));
	assert_int_equal(f->be[0].conf.port_lo, 1);
	assert_string_equal(f->conf.name, "");
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
	assert_int_equal(b->conf.lport_lo, 21);
	assert_null(pf_table_find_name(&t, "f40"));
	assert_null(pf_table_find_name(&t, ""));
	pf_table_remove_at(&t, 20);
	assert_int_equal(t.n, 39);
	assert_null(pf_table_find_name(&t, "f20"));
	assert_int_equal(t.fwd[20]->conf.lport_lo, 22);
	assert_int_equal(t.fwd[38]->conf.lport_lo, 40);
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

static void test_validate_masquerade_family(void **state)
{
	struct pf_table t;
	char err[ERRLEN] = "";

	(void)state;
	/* Checked once the backends' addresses are known. */
	table_from("forward tcp :80 to 10.0.0.2 masquerade 2001:db8::1\n", &t);
	assert_int_equal(pf_table_resolve(&t, err, sizeof(err)), 0);
	assert_int_equal(pf_table_validate(&t, err, sizeof(err)), -1);
	assert_string_equal(err, "t.conf:1: 'masquerade 2001:db8::1' cannot be the source of a "
				 "connection to backend 10.0.0.2 (another address family); "
				 "expected an address of the backends' family");
	pf_table_clear(&t);
	table_from("forward tcp :80 to [2001:db8::2] masquerade 2001:db8::1\n", &t);
	assert_int_equal(pf_table_resolve(&t, err, sizeof(err)), 0);
	assert_int_equal(pf_table_validate(&t, err, sizeof(err)), 0);
	pf_table_clear(&t);
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

/* A reload while a backend's name does not resolve keeps the running
 * forward's address instead of refusing the table; a name the running table
 * does not have is still an error. */
static void test_resolve_keeps_last_address(void **state)
{
	struct pf_table cur, next;
	struct pf_change ch;
	union pf_sa want;
	char err[ERRLEN];

	(void)state;
	table_from("forward tcp 10.0.0.1:80 to a..b:81 resolve-interval 5s\n", &cur);
	assert_int_equal(pf_sa_from_literal("10.0.0.1", &cur.fwd[0]->laddr), 0);
	assert_int_equal(pf_sa_from_literal("10.0.0.9", &want), 0);
	cur.fwd[0]->be[0].addr = want;
	cur.fwd[0]->st = pf_stats_new();
	cur.fwd[0]->be[0].st = pf_stats_new();
	cur.fwd[0]->id = 1;
	table_from("forward tcp 10.0.0.1:80 to a..b:81 resolve-interval 5s\n", &next);
	if (pf_table_prepare_change(&next, &cur, &ch, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(pf_sa_addr_equal(&next.fwd[0]->be[0].addr, &want));
	/* Equal to the running one, address included: kept as it is. */
	assert_ptr_equal(next.fwd[0], cur.fwd[0]);
	pf_table_clear(&next);
	table_from("forward tcp 10.0.0.1:80 to a..b:82\n", &next);
	assert_int_equal(pf_table_prepare_change(&next, &cur, &ch, err, sizeof(err)), -1);
	assert_true(strstr(err, "cannot resolve backend host 'a..b'") != NULL);
	pf_table_clear(&next);
	pf_table_clear(&cur);
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

/* ==== balancing, checks, sources: format ==== */

/* Applies forwards and 'default' lines, as a config file load does. */
static int load_cb(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
		   size_t errlen)
{
	if (st->kind == PF_ST_DEFAULT) {
		pf_table_default(arg, st);
		return 0;
	}
	return add_cb(st, w, arg, err, errlen);
}

static void table_load(const char *text, struct pf_table *t)
{
	char err[ERRLEN];

	pf_table_init(t);
	if (pf_conf_foreach("t.conf", text, strlen(text), load_cb, t, err, sizeof(err)))
		fail_msg("%s", err);
}

/* The table's default ACL applied to its forwards (nothing running yet). */
static void effective(struct pf_table *t)
{
	struct pf_table empty;

	pf_table_init(&empty);
	pf_table_effective(t, &empty);
}

static void assert_format(const char *in, const char *out)
{
	struct pf_forward *f = forward_ok(in);
	char buf[4096];

	pf_forward_format(f, buf, sizeof(buf));
	if (strcmp(buf, out))
		fail_msg("'%s':\n  formats as %s\n  expected   %s", in, buf, out);
	pf_forward_unref(f);
}

static void test_format_canonical_balancing(void **state)
{
	(void)state;
	assert_format("forward tcp :80 to a backup weight 2 drain, b disabled balance maglev "
		      "fall 3 check",
		      "forward tcp :80 to a weight 2 backup drain, b disabled balance maglev check");
	assert_format("forward tcp :80 to a weight 1 balance wrr", "forward tcp :80 to a");
	assert_format("forward tcp :80 to b deny 10.1.2.3/8 allow 1.2.3.4 from 2001:db8::1/32",
		      "forward tcp :80 to b from 2001:db8::/32 allow 1.2.3.4/32 deny 10.0.0.0/8");
	assert_format("forward tcp :80 to b agent-port 5555",
		      "forward tcp :80 to b check agent-port 5555");
	assert_format("forward tcp :80 to b check-interval 2s check-timeout 2000ms rise 2",
		      "forward tcp :80 to b check");
	assert_format("forward tcp :80 to b check-interval 1500ms check-timeout 90 fall 5 rise 4 "
		      "check-port 81",
		      "forward tcp :80 to b check check-interval 1500ms check-timeout 90s fall 5 "
		      "rise 4 check-port 81");
	assert_format("forward tcp :80 to b agent-interval 2m",
		      "forward tcp :80 to b check agent-interval 2m");
	assert_format("forward tcp :80 to b check-send \"a\\x01\\xff\\t\\r\\n\\\"\\\\\" "
		      "check-expect OK",
		      "forward tcp :80 to b check check-send \"a\\x01\\xff\\t\\r\\n\\\"\\\\\" "
		      "check-expect \"OK\"");
	assert_format("forward tcp :80 to b maxconn 5 check balance rr from 10.0.0.0/8 "
		      "allow 10.0.0.0/8",
		      "forward tcp :80 to b balance rr from 10.0.0.0/8 allow 10.0.0.0/8 check "
		      "maxconn 5");
}

static void test_format_longest_check_strings(void **state)
{
	/* 255 bytes each, of the characters that take the most room when quoted. */
	static const char *const fill[] = { "\\\"", "\\\\", "\\xff", "\\x01", "\\r", "a",
					    "\\x00" };
	size_t k;

	(void)state;
	for (k = 0; k < PF_ARRAY_SIZE(fill); k++) {
		char *body = malloc(4096), *line, *want, *buf = malloc(8192);
		size_t off;
		struct pf_forward *f, *g;
		int i;

		assert_non_null(body);
		assert_non_null(buf);
		off = (size_t)snprintf(body, 4096, " check-send \"");
		for (i = 0; i < PF_CHECK_STR_MAX - 1; i++)
			off += (size_t)snprintf(body + off, 4096 - off, "%s", fill[k]);
		off += (size_t)snprintf(body + off, 4096 - off, "\" check-expect \"");
		for (i = 0; i < PF_CHECK_STR_MAX - 1; i++)
			off += (size_t)snprintf(body + off, 4096 - off, "%s", fill[k]);
		snprintf(body + off, 4096 - off, "\"");
		line = xasprintf("forward tcp :80 to b%s", body);
		want = xasprintf("forward tcp :80 to b check%s", body);
		f = forward_ok(line);
		assert_int_equal(pf_unescape(f->conf.check.send, buf, 8192), PF_CHECK_STR_MAX - 1);
		assert_int_equal(pf_unescape(f->conf.check.expect, buf, 8192), PF_CHECK_STR_MAX - 1);
		pf_forward_format(f, buf, 8192);
		/* Quoted the way it was written, nothing cut. */
		assert_string_equal(buf, want);
		g = forward_ok(buf);
		assert_true(pf_forward_equal(f, g));
		assert_string_equal(f->conf.check.send, g->conf.check.send);
		pf_forward_unref(g);
		pf_forward_unref(f);
		free(want);
		free(line);
		free(buf);
		free(body);
	}
}

static void test_format_v4_mapped_network_round_trip(void **state)
{
	static const char *const lines[] = {
		"forward tcp :80 to b allow ::ffff:10.0.0.0/104",
		"forward tcp :80 to b from ::ffff:0:0/96",
		"forward tcp :80 to b deny ::ffff:192.0.2.1",
	};
	size_t i;

	(void)state;
	/*
	 * BUG: pf_cidrset_format (pf_table.c) prints an IPv4-mapped IPv6
	 * network with pf_sa_format, which shows ::ffff:a.b.c.d as plain
	 * a.b.c.d: "allow ::ffff:10.0.0.0/104" is saved as
	 * "allow 10.0.0.0/104", which does not load back ('10.0.0.0/104':
	 * 'allow' expects networks ...), so 'portfw save' writes a config the
	 * daemon rejects.
	 */
	for (i = 0; i < PF_ARRAY_SIZE(lines); i++) {
		struct pf_forward *f = forward_ok(lines[i]);
		char buf[512], err[ERRLEN] = "";
		struct pf_table t;
		bool same;

		/* Checked after the cleanup: a failure leaks nothing. */
		pf_forward_format(f, buf, sizeof(buf));
		pf_table_init(&t);
		same = !pf_conf_foreach("t.conf", buf, strlen(buf), add_cb, &t, err, sizeof(err)) &&
		       t.n == 1 && pf_forward_equal(f, t.fwd[0]);
		pf_table_clear(&t);
		pf_forward_unref(f);
		if (!same)
			fail_msg("'%s' is saved as '%s', which does not load back: %s", lines[i], buf,
				 err);
	}
}

static void test_table_format_with_defaults(void **state)
{
	struct pf_table t, back;
	char *text;
	size_t i;

	(void)state;
	table_load("default allow 10.1.2.3/8, 2001:db8::/32\n"
		   "forward name web tcp :80 to a weight 2, b backup balance leastconn check\n"
		   "default deny 10.9.0.0/16\n"
		   "default allow 192.0.2.1\n"
		   "forward udp :53 to c from 192.168.0.0/16 deny 192.168.9.0/24\n",
		   &t);
	text = pf_table_format(&t);
	assert_string_equal(text, "# portfw table, 2 forwards\n"
				  "default allow 10.0.0.0/8,2001:db8::/32,192.0.2.1/32\n"
				  "default deny 10.9.0.0/16\n"
				  "forward name web tcp :80 to a weight 2, b backup balance leastconn "
				  "check\n"
				  "forward udp :53 to c from 192.168.0.0/16 deny 192.168.9.0/24\n");
	table_load(text, &back);
	assert_true(pf_cidrset_equal(&back.def_allow, &t.def_allow));
	assert_true(pf_cidrset_equal(&t.def_allow, &back.def_allow));
	assert_true(pf_cidrset_equal(&back.def_deny, &t.def_deny));
	assert_true(pf_cidrset_equal(&t.def_deny, &back.def_deny));
	assert_int_equal(back.n, t.n);
	for (i = 0; i < t.n; i++)
		assert_true(pf_forward_equal(t.fwd[i], back.fwd[i]));
	/* With the defaults applied too. */
	effective(&t);
	effective(&back);
	for (i = 0; i < t.n; i++)
		assert_true(pf_forward_equal(t.fwd[i], back.fwd[i]));
	free(text);
	pf_table_clear(&back);
	pf_table_clear(&t);
}

static void test_table_format_defaults_only(void **state)
{
	struct pf_table t;
	char *text;

	(void)state;
	table_load("default deny ::/0\n", &t);
	text = pf_table_format(&t);
	assert_string_equal(text, "# portfw table, 0 forwards\ndefault deny ::/0\n");
	free(text);
	/* 'default clear' empties both lists. */
	pf_table_clear(&t);
	table_load("default deny ::/0\ndefault allow 1.2.3.4\ndefault clear\n"
		   "default allow 5.6.7.8/30\n",
		   &t);
	text = pf_table_format(&t);
	assert_string_equal(text, "# portfw table, 0 forwards\ndefault allow 5.6.7.8/30\n");
	assert_int_equal(t.def_deny.n, 0);
	free(text);
	pf_table_clear(&t);
	pf_table_init(&t);
	text = pf_table_format(&t);
	assert_string_equal(text, "# portfw table, 0 forwards\n");
	free(text);
}

static void test_cidrset_format(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :80 to b allow 10.0.0.0/8, 192.0.2.1, "
					  "2001:db8::/32, ::/0");
	char buf[256];

	(void)state;
	pf_cidrset_format(&f->conf.allow, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.0/8,192.0.2.1/32,2001:db8::/32,::/0");
	pf_cidrset_format(&f->conf.deny, buf, sizeof(buf));
	assert_string_equal(buf, "");
	pf_cidrset_format(&f->conf.allow, buf, 12);
	assert_string_equal(buf, "10.0.0.0/8,");
	pf_forward_unref(f);
}

/* ==== CIDR: masking, matching, ACLs ==== */

/* The one network of "allow S" (host bits cleared). */
static struct pf_cidr cidr(const char *s)
{
	char line[256];
	struct pf_forward *f;
	struct pf_cidr c;

	snprintf(line, sizeof(line), "forward tcp :1 to b allow %s", s);
	f = forward_ok(line);
	assert_int_equal(f->conf.allow.n, 1);
	c = f->conf.allow.v[0];
	pf_forward_unref(f);
	return c;
}

static union pf_sa addr(const char *s)
{
	union pf_sa sa;

	if (pf_sa_from_literal(s, &sa))
		fail_msg("'%s' is not an address", s);
	return sa;
}

static void test_cidr_masking(void **state)
{
	static const struct {
		const char *in, *out;
		int family;
	} cases[] = {
		{ "10.1.2.3/8", "10.0.0.0/8", AF_INET },
		{ "10.1.2.3/0", "0.0.0.0/0", AF_INET },
		{ "10.1.2.3/31", "10.1.2.2/31", AF_INET },
		{ "10.1.2.3/32", "10.1.2.3/32", AF_INET },
		{ "10.1.2.255/25", "10.1.2.128/25", AF_INET },
		{ "10.255.255.255/9", "10.128.0.0/9", AF_INET },
		{ "10.1.2.3", "10.1.2.3/32", AF_INET },
		{ "255.255.255.255/1", "128.0.0.0/1", AF_INET },
		{ "10.1.2.3/08", "10.0.0.0/8", AF_INET },
		{ "2001:db8:abcd:1234::1/48", "2001:db8:abcd::/48", AF_INET6 },
		{ "2001:db8::ffff/127", "2001:db8::fffe/127", AF_INET6 },
		{ "2001:db8::1/0", "::/0", AF_INET6 },
		{ "::1", "::1/128", AF_INET6 },
		{ "[fe80::1]/10", "fe80::/10", AF_INET6 },
		{ "[2001:db8::1]", "2001:db8::1/128", AF_INET6 },
		{ "febf:ffff::1/7", "fe00::/7", AF_INET6 },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/121", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff80/121",
		  AF_INET6 },
		{ "2001:db8:1:2:3:4:5:6/65", "2001:db8:1:2::/65", AF_INET6 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(cases); i++) {
		struct pf_cidr c = cidr(cases[i].in);
		struct pf_cidrset set = { &c, 1 };
		char buf[128];

		assert_int_equal(c.addr.sa.sa_family, cases[i].family);
		pf_cidrset_format(&set, buf, sizeof(buf));
		if (strcmp(buf, cases[i].out))
			fail_msg("'%s' is stored as %s; expected %s", cases[i].in, buf, cases[i].out);
	}
}

static void test_cidr_match(void **state)
{
	static const struct {
		const char *net, *client;
		bool match;
	} cases[] = {
		{ "10.0.0.0/8", "10.255.1.2", true },
		{ "10.0.0.0/8", "10.0.0.0", true },
		{ "10.0.0.0/8", "11.0.0.1", false },
		{ "10.0.0.0/8", "9.255.255.255", false },
		{ "10.0.0.0/8", "::ffff:10.1.2.3", true }, /* a dual-stack listener's client */
		{ "10.0.0.0/8", "::ffff:11.0.0.1", false },
		{ "10.0.0.0/8", "2001:db8::1", false },
		{ "10.0.0.0/8", "::a01:203", false }, /* not v4-mapped */
		{ "0.0.0.0/0", "1.2.3.4", true },
		{ "0.0.0.0/0", "::ffff:1.2.3.4", true },
		{ "0.0.0.0/0", "::1", false },
		{ "::/0", "::1", true },
		{ "::/0", "2001:db8::1", true },
		{ "::/0", "1.2.3.4", false },
		{ "192.168.1.128/25", "192.168.1.128", true },
		{ "192.168.1.128/25", "192.168.1.255", true },
		{ "192.168.1.128/25", "192.168.1.127", false },
		{ "192.168.1.128/25", "192.168.0.200", false },
		{ "10.1.2.3", "10.1.2.3", true },
		{ "10.1.2.3", "10.1.2.4", false },
		{ "10.1.2.3", "::ffff:10.1.2.3", true },
		{ "10.1.2.2/31", "10.1.2.3", true },
		{ "10.1.2.2/31", "10.1.2.4", false },
		{ "2001:db8::/32", "2001:db8:ffff::1", true },
		{ "2001:db8::/32", "2001:db9::", false },
		{ "2001:db8::/32", "1.2.3.4", false },
		{ "2001:db8::/33", "2001:db8:7fff:ffff::", true },
		{ "2001:db8::/33", "2001:db8:8000::", false },
		{ "::1", "::1", true },
		{ "::1", "::2", false },
		{ "fe80::/10", "febf::1", true },
		{ "fe80::/10", "fec0::1", false },
		{ "2001:db8::fffe/127", "2001:db8::ffff", true },
		{ "2001:db8::fffe/127", "2001:db8::1:0", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(cases); i++) {
		struct pf_cidr c = cidr(cases[i].net);
		union pf_sa sa = addr(cases[i].client);

		pf_sa_set_port(&sa, 40000); /* ports play no part */
		if (pf_cidr_match(&c, &sa) != cases[i].match)
			fail_msg("%s %s %s", cases[i].client,
				 cases[i].match ? "does not match" : "matches", cases[i].net);
	}
}

static void test_cidrset_longest_prefix(void **state)
{
	static const char *const orders[] = {
		"forward tcp :1 to b from 10.0.0.0/8, 10.1.0.0/16, 10.1.2.0/24, 2001:db8::/32, "
		"0.0.0.0/0, 2001:db8:1::/48",
		"forward tcp :1 to b from 2001:db8:1::/48, 0.0.0.0/0, 2001:db8::/32, 10.1.2.0/24, "
		"10.1.0.0/16, 10.0.0.0/8",
	};
	static const struct {
		const char *client;
		int plen;
	} cases[] = {
		{ "10.1.2.3", 24 },	       { "10.1.3.1", 16 },	 { "10.2.0.0", 8 },
		{ "11.0.0.0", 0 },	       { "::ffff:10.1.2.3", 24 }, { "::ffff:8.8.8.8", 0 },
		{ "2001:db8::1", 32 },	       { "2001:db8:1::1", 48 },	 { "::1", -1 },
		{ "2001:db9::", -1 },
	};
	size_t o, i;

	(void)state;
	for (o = 0; o < PF_ARRAY_SIZE(orders); o++) {
		struct pf_forward *f = forward_ok(orders[o]);
		struct pf_cidrset empty = { NULL, 0 };

		for (i = 0; i < PF_ARRAY_SIZE(cases); i++) {
			union pf_sa sa = addr(cases[i].client);

			if (pf_cidrset_match(&f->conf.from, &sa) != cases[i].plen)
				fail_msg("%s: longest prefix %d; expected %d", cases[i].client,
					 pf_cidrset_match(&f->conf.from, &sa),
					 cases[i].plen);
			assert_int_equal(pf_cidrset_match(&empty, &sa), -1);
		}
		pf_forward_unref(f);
	}
}

/* The one longest-prefix order: longer first, -1 (no match) last, ties 0;
 * as a qsort order it puts /32 before /24 before /0. */
static int prefix_qsort(const void *a, const void *b)
{
	return pf_prefix_cmp(*(const int *)a, *(const int *)b);
}

static void test_prefix_cmp(void **state)
{
	int v[] = { 0, -1, 24, 32, 8, 24, 128, -1 };
	static const int want[] = { 128, 32, 24, 24, 8, 0, -1, -1 };

	(void)state;
	assert_true(pf_prefix_cmp(24, 16) < 0);
	assert_true(pf_prefix_cmp(16, 24) > 0);
	assert_int_equal(pf_prefix_cmp(24, 24), 0);
	assert_true(pf_prefix_cmp(0, -1) < 0); /* /0 matches; -1 does not */
	assert_true(pf_prefix_cmp(-1, -2) < 0); /* pfu_select's "nothing yet" */
	qsort(v, PF_ARRAY_SIZE(v), sizeof(v[0]), prefix_qsort);
	assert_memory_equal(v, want, sizeof(want));
}

struct acl_case {
	const char *client;
	bool allowed;
};

/* The forward of 'text' (with the table's default applied) allows exactly the
 * clients marked so. */
static void assert_acl(const char *text, const struct acl_case *cases, size_t n)
{
	struct pf_table t;
	size_t i;

	table_load(text, &t);
	effective(&t);
	assert_int_equal(t.n, 1);
	for (i = 0; i < n; i++) {
		union pf_sa sa = addr(cases[i].client);

		if (pf_acl_allows(t.fwd[0], &sa) != cases[i].allowed)
			fail_msg("'%s': %s is %s; expected %s", text, cases[i].client,
				 cases[i].allowed ? "denied" : "allowed",
				 cases[i].allowed ? "allowed" : "denied");
	}
	pf_table_clear(&t);
}

#define ASSERT_ACL(text, ...)                                                \
	do {                                                                 \
		static const struct acl_case c_[] = { __VA_ARGS__ };         \
		assert_acl(text, c_, PF_ARRAY_SIZE(c_));                     \
	} while (0)

static void test_acl_allows(void **state)
{
	(void)state;
	/* No lists: everyone. */
	ASSERT_ACL("forward tcp :1 to b", { "10.1.2.3", true }, { "::1", true },
		   { "::ffff:1.2.3.4", true });
	/* An allow list excludes everyone else. */
	ASSERT_ACL("forward tcp :1 to b allow 10.0.0.0/8", { "10.1.2.3", true },
		   { "::ffff:10.1.2.3", true }, { "11.0.0.1", false }, { "2001:db8::1", false },
		   { "::ffff:11.0.0.1", false });
	/* A deny list alone excludes its networks only. */
	ASSERT_ACL("forward tcp :1 to b deny 10.0.0.0/8", { "10.1.2.3", false },
		   { "::ffff:10.0.0.1", false }, { "11.0.0.1", true }, { "::1", true });
	/* The most specific entry decides. */
	ASSERT_ACL("forward tcp :1 to b allow 10.0.0.0/8 deny 10.1.0.0/16", { "10.2.0.1", true },
		   { "10.1.0.1", false }, { "::ffff:10.1.0.1", false }, { "11.0.0.1", false });
	ASSERT_ACL("forward tcp :1 to b deny 10.0.0.0/8 allow 10.1.0.0/16", { "10.1.9.9", true },
		   { "10.2.0.1", false }, { "11.0.0.1", false });
	ASSERT_ACL("forward tcp :1 to b allow 0.0.0.0/0 deny 10.1.2.3", { "10.1.2.3", false },
		   { "10.1.2.4", true }, { "::1", false });
	ASSERT_ACL("forward tcp :1 to b deny 0.0.0.0/0 allow 192.0.2.1, ::/0",
		   { "192.0.2.1", true }, { "192.0.2.2", false }, { "::ffff:192.0.2.1", true },
		   { "2001:db8::1", true });
	ASSERT_ACL("forward tcp :1 to b allow ::/0, 0.0.0.0/0 deny 2001:db8::/32",
		   { "2001:db8::1", false }, { "2001:db9::1", true }, { "1.2.3.4", true });
	/* A tie: deny wins, however the network was written. */
	ASSERT_ACL("forward tcp :1 to b allow 10.0.0.0/8 deny 10.0.0.0/8", { "10.1.2.3", false },
		   { "11.1.2.3", false });
	ASSERT_ACL("forward tcp :1 to b allow 10.1.2.3/8 deny 10.200.0.0/8",
		   { "10.1.2.3", false });
	ASSERT_ACL("forward tcp :1 to b deny 10.1.2.3 allow 10.1.2.3/32", { "10.1.2.3", false },
		   { "10.1.2.4", false });
	/* The table's default, for a forward without lists of its own. */
	ASSERT_ACL("default allow 10.0.0.0/8\ndefault deny 10.9.0.0/16\nforward tcp :1 to b",
		   { "10.1.1.1", true }, { "10.9.1.1", false }, { "11.1.1.1", false });
	/* Its own lists replace the default, both of them. */
	ASSERT_ACL("default allow 10.0.0.0/8\ndefault deny 10.9.0.0/16\n"
		   "forward tcp :1 to b deny 1.2.3.4",
		   { "10.9.1.1", true }, { "1.2.3.4", false }, { "11.1.1.1", true });
	ASSERT_ACL("default deny 10.9.0.0/16\nforward tcp :1 to b allow 10.0.0.0/8",
		   { "10.9.1.1", true }, { "11.1.1.1", false });
	/* 'default clear' leaves no default. */
	ASSERT_ACL("default deny 0.0.0.0/0\ndefault clear\nforward tcp :1 to b",
		   { "10.9.1.1", true });
}

static void test_acl_uses_the_effective_lists(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :1 to b deny 10.0.0.0/8");
	union pf_sa sa = addr("10.1.2.3");

	(void)state;
	/* Not yet through pf_table_effective: no effective lists, no ACL. */
	assert_true(pf_acl_allows(f, &sa));
	pf_forward_unref(f);
}

/* ==== the effective ACL ==== */

static void test_effective_default_and_own_lists(void **state)
{
	struct pf_table t;
	char buf[256];

	(void)state;
	table_load("default allow 10.0.0.0/8\n"
		   "default deny 10.9.0.0/16\n"
		   "forward tcp :1 to a\n"
		   "forward tcp :2 to a deny 1.2.3.4\n"
		   "forward tcp :3 to a allow 192.0.2.0/24\n",
		   &t);
	effective(&t);
	pf_cidrset_format(&t.fwd[0]->eff_allow, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.0/8");
	pf_cidrset_format(&t.fwd[0]->eff_deny, buf, sizeof(buf));
	assert_string_equal(buf, "10.9.0.0/16");
	assert_int_equal(t.fwd[0]->conf.allow.n, 0); /* the configuration is unchanged */
	assert_int_equal(t.fwd[1]->eff_allow.n, 0);
	pf_cidrset_format(&t.fwd[1]->eff_deny, buf, sizeof(buf));
	assert_string_equal(buf, "1.2.3.4/32");
	pf_cidrset_format(&t.fwd[2]->eff_allow, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.0/24");
	assert_int_equal(t.fwd[2]->eff_deny.n, 0);
	/* The saved table has the default once, not in each forward. */
	{
		char *text = pf_table_format(&t);

		assert_string_equal(text, "# portfw table, 3 forwards\n"
					  "default allow 10.0.0.0/8\n"
					  "default deny 10.9.0.0/16\n"
					  "forward tcp :1 to a\n"
					  "forward tcp :2 to a deny 1.2.3.4/32\n"
					  "forward tcp :3 to a allow 192.0.2.0/24\n");
		free(text);
	}
	pf_table_clear(&t);
}

static void test_effective_fresh_forward_changed_in_place(void **state)
{
	struct pf_table t;
	struct pf_forward *f;

	(void)state;
	table_load("default deny 10.0.0.0/8\nforward tcp :1 to a\n", &t);
	f = t.fwd[0];
	effective(&t);
	assert_ptr_equal(t.fwd[0], f);
	assert_int_equal(refs(f), 1);
	assert_int_equal(f->eff_deny.n, 1);
	/* The default is gone: so is the effective list. */
	pf_cidrset_free(&t.def_deny);
	effective(&t);
	assert_ptr_equal(t.fwd[0], f);
	assert_int_equal(f->eff_deny.n, 0);
	pf_table_clear(&t);
}

static void test_effective_shared_forward_is_cloned(void **state)
{
	struct pf_table cur, next;
	struct pf_forward *orig, *own;
	struct pf_stmt st;
	char err[ERRLEN], a[PF_LINE_MAX], b[PF_LINE_MAX];
	struct pf_toks toks;
	struct pf_where w = { .file = "t", .line = 1 };
	union pf_sa ten = addr("10.1.1.1");

	(void)state;
	table_load("forward tcp :1 to a, b\nforward tcp :2 to c deny 1.2.3.4\n", &cur);
	effective(&cur);
	inherit_from_nothing(&cur);
	orig = cur.fwd[0];
	own = cur.fwd[1];
	/* The running table, copied, gets a default: the forward without lists of
	 * its own changes, in a copy, the running one stays as it is. */
	pf_table_copy(&next, &cur);
	assert_int_equal(refs(orig), 2);
	assert_int_equal(pf_lex("default deny 10.0.0.0/8", &toks, err, sizeof(err)), 0);
	assert_int_equal(pf_parse_stmt(&toks, &w, &st, err, sizeof(err)), 0);
	pf_table_default(&next, &st);
	pf_stmt_free(&st);
	pf_toks_free(&toks);
	pf_table_effective(&next, &cur);
	assert_ptr_not_equal(next.fwd[0], orig);
	assert_int_equal(refs(orig), 1);
	assert_int_equal(refs(next.fwd[0]), 1);
	assert_int_equal(orig->eff_deny.n, 0);
	assert_true(pf_acl_allows(orig, &ten));
	assert_int_equal(next.fwd[0]->eff_deny.n, 1);
	assert_false(pf_acl_allows(next.fwd[0], &ten));
	assert_false(pf_forward_equal(orig, next.fwd[0]));
	/* The same configuration otherwise. */
	pf_forward_format(orig, a, sizeof(a));
	pf_forward_format(next.fwd[0], b, sizeof(b));
	assert_string_equal(a, b);
	/* A forward with its own lists is not touched: still the running object. */
	assert_ptr_equal(next.fwd[1], own);
	assert_int_equal(refs(own), 2);
	/* Nothing changes on a second pass. */
	orig = next.fwd[0];
	pf_table_effective(&next, &cur);
	assert_ptr_equal(next.fwd[0], orig);
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

static void test_effective_unchanged_shared_forward_kept(void **state)
{
	struct pf_table cur, next;

	(void)state;
	table_load("default allow 10.0.0.0/8\nforward tcp :1 to a\n", &cur);
	effective(&cur);
	pf_table_copy(&next, &cur);
	pf_table_effective(&next, &cur);
	assert_ptr_equal(next.fwd[0], cur.fwd[0]);
	assert_int_equal(refs(cur.fwd[0]), 2);
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

/* ==== validation of shared ports ==== */

static void test_validate_disjoint_sources_share_a_port(void **state)
{
	(void)state;
	assert_validate_ok("forward tcp :80 to a from 10.0.0.0/8\n"
			   "forward tcp :80 to b from 192.168.0.0/16\n");
	/* Nested networks: the longest prefix decides, no ambiguity. */
	assert_validate_ok("forward tcp :80 to a from 10.0.0.0/8\n"
			   "forward tcp :80 to b from 10.1.0.0/16\n");
	/* A pool and the rest. */
	assert_validate_ok("forward tcp :80 to a\n"
			   "forward tcp :80 to b from 10.0.0.0/8\n"
			   "forward tcp :80 to c from 2001:db8::/32, 192.168.0.0/16\n");
	assert_validate_ok("forward tcp :80 to b from 10.0.0.0/8\nforward tcp :80 to a\n");
	assert_validate_ok("forward tcp :80-90 to a from 10.0.0.0/8\n"
			   "forward tcp :85 to b from 10.0.0.0/9\n");
	/* The same sources on other ports or protocols. */
	assert_validate_ok("forward tcp :80 to a from 10.0.0.0/8\n"
			   "forward udp :80 to b from 10.0.0.0/8\n"
			   "forward tcp :81 to b from 10.0.0.0/8\n");
}

static void test_validate_same_sources_conflict(void **state)
{
	(void)state;
	assert_validate_error("forward tcp :80 to a from 10.0.0.0/8\n"
			      "forward tcp :80 to b from 10.0.0.0/8\n",
			      "t.conf:2: tcp :80 with the same 'from' sources overlaps forward "
			      "(t.conf:1); " OVERLAP_TAIL);
	/* In another order, written otherwise: still the same set. */
	assert_validate_error("forward name p tcp :80 to a from 10.0.0.0/8, 192.168.0.0/16\n"
			      "forward tcp :80 to b from 192.168.7.7/16, 10.1.2.3/8\n",
			      "t.conf:2: tcp :80 with the same 'from' sources overlaps forward 'p' "
			      "(t.conf:1); " OVERLAP_TAIL);
	assert_validate_error("forward tcp,udp :53 to a from 2001:db8::/32\n"
			      "forward udp :53 to b from 2001:db8::1/32\n",
			      "t.conf:2: udp :53 with the same 'from' sources overlaps forward "
			      "(t.conf:1); " OVERLAP_TAIL);
}

static void test_validate_shared_source_conflicts(void **state)
{
	(void)state;
	assert_validate_error("forward tcp :80 to a from 10.0.0.0/8, 192.168.0.0/16\n"
			      "forward tcp :80 to b from 172.16.0.0/12, 192.168.0.0/16\n",
			      "t.conf:2: tcp :80 with source 192.168.0.0/16 in both overlaps forward "
			      "(t.conf:1); " OVERLAP_TAIL);
	assert_validate_error("forward tcp :80-90 to a from 10.0.0.0/8\n"
			      "forward tcp :85 to b from 1.2.3.4, 10.9.9.9/8\n",
			      "t.conf:2: tcp :85 with source 10.0.0.0/8 in both overlaps forward "
			      "(t.conf:1); " OVERLAP_TAIL);
	assert_validate_error("forward tcp :80 to a\n"
			      "forward tcp :80 to b from 2001:db8::/32\n"
			      "forward tcp :80 to c from 10.0.0.0/8, 2001:db8::/32\n",
			      "t.conf:3: tcp :80 with source 2001:db8::/32 in both overlaps forward "
			      "(t.conf:2); " OVERLAP_TAIL);
}

/* ==== equality, key, clone, state ==== */

static void test_equal_detects_balancing_differences(void **state)
{
	static const char *const variants[] = {
		"forward tcp :80 to b:1 weight 2, c balance pref",
		"forward tcp :80 to b:1 weight 2, c balance rr",
		"forward tcp :80 to b:1 weight 2, c balance leastconn",
		"forward tcp :80 to b:1 weight 2, c balance source",
		"forward tcp :80 to b:1 weight 2, c balance maglev",
		"forward tcp :80 to b:1 weight 2, c check",
		"forward tcp :80 to b:1 weight 2, c check-interval 3s",
		"forward tcp :80 to b:1 weight 2, c check-timeout 3s",
		"forward tcp :80 to b:1 weight 2, c fall 4",
		"forward tcp :80 to b:1 weight 2, c rise 3",
		"forward tcp :80 to b:1 weight 2, c check-port 81",
		"forward tcp :80 to b:1 weight 2, c check-send x",
		"forward tcp :80 to b:1 weight 2, c check-expect x",
		"forward tcp :80 to b:1 weight 2, c agent-port 81",
		"forward tcp :80 to b:1 weight 2, c agent-interval 3s",
		"forward tcp :80 to b:1 weight 2, c from 10.0.0.0/8",
		"forward tcp :80 to b:1 weight 2, c allow 10.0.0.0/8",
		"forward tcp :80 to b:1 weight 2, c deny 10.0.0.0/8",
		"forward tcp :80 to b:1 weight 2 backup, c",
		"forward tcp :80 to b:1 weight 2, c backup",
		"forward tcp :80 to b:1 weight 2 drain, c",
		"forward tcp :80 to b:1 weight 2, c disabled",
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

static void test_equal_check_values(void **state)
{
	static const char *const variants[] = {
		"forward tcp :80 to b check check-interval 1s",
		"forward tcp :80 to b check check-timeout 1s",
		"forward tcp :80 to b check fall 1",
		"forward tcp :80 to b check rise 1",
		"forward tcp :80 to b check check-port 2",
		"forward tcp :80 to b check check-send \"a\\r\\n\"",
		"forward tcp :80 to b check check-send \"a\\n\"",
		"forward tcp :80 to b check check-expect b",
		"forward tcp :80 to b check agent-port 2",
		"forward tcp :80 to b check agent-interval 1s",
		"forward tcp :80 to b drain check",
		"forward tcp :80 to b disabled check",
		"forward tcp :80 to b from 10.0.0.0/9 check",
		"forward tcp :80 to b from 10.0.0.0/8, 10.0.0.0/8 check",
		"forward tcp :80 to b allow 10.0.0.0/8, 10.0.0.0/9 check",
		"forward tcp :80 to b deny ::/0 check",
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(variants); i++) {
		for (j = 0; j < PF_ARRAY_SIZE(variants); j++) {
			struct pf_forward *a = forward_ok(variants[i]), *b = forward_ok(variants[j]);

			if (pf_forward_equal(a, b) != (i == j))
				fail_msg("'%s' and '%s': %s", variants[i], variants[j],
					 i == j ? "not equal" : "equal");
			pf_forward_unref(b);
			pf_forward_unref(a);
		}
	}
}

static void test_equal_sets_in_any_order(void **state)
{
	struct pf_forward *a = forward_ok("forward tcp :80 to b from 10.0.0.0/8, ::/0 allow 1.2.3.4, "
					  "5.6.7.8 deny 9.9.9.9");
	struct pf_forward *b = forward_ok("forward tcp :80 to b deny 9.9.9.9/32 allow 5.6.7.8, "
					  "1.2.3.4/32 from ::1/0, 10.9.9.9/8");

	(void)state;
	assert_true(pf_forward_equal(a, b));
	assert_true(pf_forward_equal(b, a));
	assert_true(pf_forward_same_key(a, b));
	pf_forward_unref(b);
	pf_forward_unref(a);
}

static void test_equal_duplicate_networks(void **state)
{
	struct pf_forward *a = forward_ok("forward tcp :80 to b allow 10.0.0.1/8, 10.0.0.2/8");
	struct pf_forward *b = forward_ok("forward tcp :80 to b allow 10.0.0.0/8, 192.168.0.0/16");

	(void)state;
	/* (Checked after the cleanup: a failure leaks nothing.) */
	/*
	 * BUG: pf_cidrset_equal (pf_table.c) checks only that both sets have
	 * the same count and that each network of the first is in the second:
	 * {10.0.0.0/8, 10.0.0.0/8} "equals" {10.0.0.0/8, 192.168.0.0/16} (but
	 * not the other way round). pf_table_inherit then keeps the running
	 * forward (allow 10/8 only) for a reload that allows 192.168.0.0/16
	 * too; pf_forward_same_key and the 'from' checks are affected alike.
	 */
	bool ba = pf_forward_equal(b, a), ab = pf_forward_equal(a, b);
	bool sets = pf_cidrset_equal(&a->conf.allow, &b->conf.allow);

	pf_forward_unref(b);
	pf_forward_unref(a);
	assert_false(ba);
	assert_false(ab);
	assert_false(sets);
}

static void test_equal_effective_lists(void **state)
{
	struct pf_table t;

	(void)state;
	table_load("default deny 10.0.0.0/8\nforward tcp :1 to a\n", &t);
	{
		struct pf_forward *plain = forward_ok("forward tcp :1 to a");

		assert_true(pf_forward_equal(plain, t.fwd[0]));
		effective(&t);
		/* Under another default ACL it is another forward. */
		assert_false(pf_forward_equal(plain, t.fwd[0]));
		assert_false(pf_forward_equal(t.fwd[0], plain));
		assert_true(pf_forward_same_key(plain, t.fwd[0]));
		pf_forward_unref(plain);
	}
	pf_table_clear(&t);
}

static void test_same_key_sources(void **state)
{
	struct pf_forward *a = forward_ok("forward tcp :80 to b from 10.0.0.0/8");
	struct pf_forward *b = forward_ok("forward tcp :80 to c from 10.1.1.1/8 allow 1.2.3.4 "
					  "balance rr check");
	struct pf_forward *c = forward_ok("forward tcp :80 to b from 10.0.0.0/9");
	struct pf_forward *d = forward_ok("forward tcp :80 to b");

	(void)state;
	/* A source pool is its own listener entry; its ACL and scheduler are not. */
	assert_true(pf_forward_same_key(a, b));
	assert_false(pf_forward_same_key(a, c));
	assert_false(pf_forward_same_key(a, d));
	assert_false(pf_forward_same_key(d, a));
	pf_forward_unref(d);
	pf_forward_unref(c);
	pf_forward_unref(b);
	pf_forward_unref(a);
}

static void test_clone_copies_balancing(void **state)
{
	struct pf_table t;
	struct pf_forward *f, *c;

	(void)state;
	table_load("default allow 192.0.2.0/24\n"
		   "forward tcp :80 to a weight 3 backup drain, b disabled, c balance maglev "
		   "check-send \"x\\r\\n\" check-expect y fall 7 rise 5 check-port 81 "
		   "agent-port 82 agent-interval 5s check-interval 4s check-timeout 3s "
		   "from 10.0.0.0/8 deny 10.9.0.0/16\n"
		   "forward tcp :81 to a from 10.0.0.0/8\n",
		   &t);
	effective(&t);
	f = t.fwd[0];
	c = pf_forward_clone(f);
	assert_true(pf_forward_equal(c, f));
	assert_int_equal(c->conf.balance, PF_BAL_MAGLEV);
	assert_true(c->be[0].conf.backup);
	assert_int_equal(c->be[0].conf.admin, PF_ADMIN_DRAIN);
	assert_int_equal(c->be[1].conf.admin, PF_ADMIN_DISABLED);
	assert_true(c->conf.check.on);
	assert_string_equal(c->conf.check.send, "x\\r\\n");
	assert_string_equal(c->conf.check.expect, "y");
	assert_int_equal(c->conf.check.fall, 7);
	assert_int_equal(c->conf.check.rise, 5);
	assert_int_equal(c->conf.check.port, 81);
	assert_int_equal(c->conf.check.agent_port, 82);
	assert_int_equal(c->conf.check.agent_interval_ms, 5000);
	assert_int_equal(c->conf.check.interval_ms, 4000);
	assert_int_equal(c->conf.check.timeout_ms, 3000);
	assert_true(pf_cidrset_equal(&c->conf.from, &f->conf.from));
	assert_ptr_not_equal(c->conf.from.v, f->conf.from.v);
	assert_int_equal(c->conf.deny.n, 1);
	assert_int_equal(c->eff_deny.n, 1);
	assert_int_equal(c->eff_allow.n, 0);
	/* No scheduler state. */
	assert_null(c->sched);
	pf_forward_unref(c);
	/* The second forward got the default. */
	c = pf_forward_clone(t.fwd[1]);
	assert_int_equal(c->eff_allow.n, 1);
	assert_true(pf_forward_equal(c, t.fwd[1]));
	pf_forward_unref(c);
	pf_table_clear(&t);
}

static void test_inherit_backend_state_across_admin_change(void **state)
{
	struct pf_table cur, next;
	struct pf_forward *c;

	(void)state;
	/* 'portfw backend name web b drain': a new version of the forward, whose
	 * backends keep their health (and counters). */
	table_from("forward name web tcp :80 to a, b balance pref\n", &cur);
	inherit_from_nothing(&cur);
	atomic_store(&cur.fwd[0]->be[1].st->health, (uint8_t)PF_HEALTH_DOWN);
	pf_table_copy(&next, &cur);
	c = pf_forward_clone(next.fwd[0]);
	c->be[1].conf.admin = PF_ADMIN_DRAIN;
	pf_forward_unref(next.fwd[0]);
	next.fwd[0] = c;
	pf_table_inherit(&cur, &next);
	assert_ptr_equal(next.fwd[0], c);
	assert_ptr_equal(c->st, cur.fwd[0]->st);
	assert_ptr_equal(c->be[0].st, cur.fwd[0]->be[0].st);
	assert_ptr_equal(c->be[1].st, cur.fwd[0]->be[1].st);
	assert_int_equal(atomic_load(&c->be[1].st->health), PF_HEALTH_DOWN);
	assert_string_equal(pf_backend_state(c, &c->be[1]), "drain");
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

static void test_diff_sources_and_acls(void **state)
{
	struct pf_table cur, next;
	struct diff_rec r;

	(void)state;
	/* Another 'from' is another listener entry; another ACL a modification. */
	diff_texts("forward tcp :80 to a from 10.0.0.0/8\nforward tcp :81 to a allow 1.2.3.4\n",
		   "forward tcp :80 to a from 10.0.0.0/9\nforward tcp :81 to a allow 1.2.3.5\n",
		   &cur, &next, &r);
	assert_int_equal(r.n, 3);
	assert_diff(&r, 0, PF_DIFF_DEL, cur.fwd[0], NULL);
	assert_diff(&r, 1, PF_DIFF_MODIFY, cur.fwd[1], next.fwd[1]);
	assert_diff(&r, 2, PF_DIFF_ADD, NULL, next.fwd[0]);
	pf_table_clear(&next);
	pf_table_clear(&cur);
}

/* ==== names and states ==== */

static void test_balance_and_admin_names(void **state)
{
	(void)state;
	assert_string_equal(pf_balance_name(PF_BAL_WRR), "wrr");
	assert_string_equal(pf_balance_name(PF_BAL_PREF), "pref");
	assert_string_equal(pf_balance_name(PF_BAL_RR), "rr");
	assert_string_equal(pf_balance_name(PF_BAL_LEASTCONN), "leastconn");
	assert_string_equal(pf_balance_name(PF_BAL_SOURCE), "source");
	assert_string_equal(pf_balance_name(PF_BAL_MAGLEV), "maglev");
	assert_string_equal(pf_balance_name(PF_BAL_MAGLEV + 1), "?");
	assert_string_equal(pf_admin_name(PF_ADMIN_ENABLED), "enabled");
	assert_string_equal(pf_admin_name(PF_ADMIN_DRAIN), "drain");
	assert_string_equal(pf_admin_name(PF_ADMIN_DISABLED), "disabled");
	assert_string_equal(pf_admin_name(PF_ADMIN_DISABLED + 1), "?");
}

static void test_backend_state(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :80 to a, b drain, c disabled, d");
	struct pf_backend *d = &f->be[3];

	(void)state;
	assert_string_equal(pf_backend_state(f, &f->be[0]), "up"); /* no stats yet */
	assert_string_equal(pf_backend_state(f, &f->be[1]), "drain");
	assert_string_equal(pf_backend_state(f, &f->be[2]), "disabled");
	d->st = pf_stats_new();
	f->be[2].st = pf_stats_new();
	assert_string_equal(pf_backend_state(f, d), "up");
	atomic_store(&d->st->agent, (uint8_t)PF_AGENT_UP);
	assert_string_equal(pf_backend_state(f, d), "up");
	atomic_store(&d->st->agent, (uint8_t)PF_AGENT_DRAIN);
	assert_string_equal(pf_backend_state(f, d), "drain");
	atomic_store(&d->st->agent, (uint8_t)PF_AGENT_DOWN);
	assert_string_equal(pf_backend_state(f, d), "down");
	atomic_store(&d->st->agent, (uint8_t)PF_AGENT_NONE);
	atomic_store(&d->st->health, (uint8_t)PF_HEALTH_DOWN);
	assert_string_equal(pf_backend_state(f, d), "down");
	atomic_store(&d->st->agent, (uint8_t)PF_AGENT_DRAIN);
	assert_string_equal(pf_backend_state(f, d), "down");
	/* The operator's word comes first. */
	atomic_store(&f->be[2].st->health, (uint8_t)PF_HEALTH_DOWN);
	assert_string_equal(pf_backend_state(f, &f->be[2]), "disabled");
	pf_forward_unref(f);
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
		cmocka_unit_test(test_validate_masquerade_family),
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
		cmocka_unit_test(test_resolve_keeps_last_address),

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

		cmocka_unit_test(test_format_canonical_balancing),
		cmocka_unit_test(test_format_longest_check_strings),
		cmocka_unit_test(test_format_v4_mapped_network_round_trip),
		cmocka_unit_test(test_table_format_with_defaults),
		cmocka_unit_test(test_table_format_defaults_only),
		cmocka_unit_test(test_cidrset_format),
		cmocka_unit_test(test_cidr_masking),
		cmocka_unit_test(test_cidr_match),
		cmocka_unit_test(test_cidrset_longest_prefix),
		cmocka_unit_test(test_prefix_cmp),
		cmocka_unit_test(test_acl_allows),
		cmocka_unit_test(test_acl_uses_the_effective_lists),
		cmocka_unit_test(test_effective_default_and_own_lists),
		cmocka_unit_test(test_effective_fresh_forward_changed_in_place),
		cmocka_unit_test(test_effective_shared_forward_is_cloned),
		cmocka_unit_test(test_effective_unchanged_shared_forward_kept),
		cmocka_unit_test(test_validate_disjoint_sources_share_a_port),
		cmocka_unit_test(test_validate_same_sources_conflict),
		cmocka_unit_test(test_validate_shared_source_conflicts),
		cmocka_unit_test(test_equal_detects_balancing_differences),
		cmocka_unit_test(test_equal_check_values),
		cmocka_unit_test(test_equal_sets_in_any_order),
		cmocka_unit_test(test_equal_duplicate_networks),
		cmocka_unit_test(test_equal_effective_lists),
		cmocka_unit_test(test_same_key_sources),
		cmocka_unit_test(test_clone_copies_balancing),
		cmocka_unit_test(test_inherit_backend_state_across_admin_change),
		cmocka_unit_test(test_diff_sources_and_acls),
		cmocka_unit_test(test_balance_and_admin_names),
		cmocka_unit_test(test_backend_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
