// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the kernel engine's kinds of table items: whole-host
 * forwards ('all'), forwards on an interface name ("%IF:PORT") and port
 * triggers ('trigger'): their grammar (every error with its "FILE:LINE:
 * 'word': " prefix), 'save' round trips, selectors, and validation (overlaps,
 * the kernel engine that 'all' needs).
 */
#include "common/pf_conf.h"
#include "common/pf_table.h"
#include "common/pf_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ERRLEN 4096
#define LISTEN_ALL_WHAT                                                                  \
	"a listen address without a port: ADDR, [IPV6], 'any' (every local address) or " \
	"%INTERFACE ('all' forwards every port)"

static int parse(const char *line, struct pf_stmt *st, char *err)
{
	struct pf_where w = { .file = "t.conf", .line = 1 };
	struct pf_toks toks;
	int rc;

	err[0] = '\0';
	rc = pf_lex(line, &toks, err, ERRLEN);
	assert_int_equal(rc, 0);
	rc = pf_parse_stmt(&toks, &w, st, err, ERRLEN);
	pf_toks_free(&toks);
	return rc;
}

static struct pf_forward *item_ok(const char *line)
{
	char err[ERRLEN];
	struct pf_stmt st;
	struct pf_forward *f;

	if (parse(line, &st, err))
		fail_msg("'%s' did not parse: %s", line, err);
	assert_int_equal(st.kind, PF_ST_FORWARD);
	f = st.fwd;
	st.fwd = NULL;
	pf_stmt_free(&st);
	return f;
}

struct error_case {
	const char *in;
	const char *msg; /* after "t.conf:1: " */
};

static void assert_errors(const struct error_case *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char err[ERRLEN], want[ERRLEN];
		struct pf_stmt st;

		snprintf(want, sizeof(want), "t.conf:1: %s", c[i].msg);
		if (parse(c[i].in, &st, err) != -1)
			fail_msg("'%s' parsed, expected the error: %s", c[i].in, want);
		if (strcmp(err, want) != 0)
			fail_msg("'%s':\n  got      %s\n  expected %s", c[i].in, err, want);
		assert_null(st.fwd);
	}
}

/* ---- whole-host forwards ---- */

static void test_all_parses(void **state)
{
	struct pf_forward *f;

	(void)state;
	f = item_ok("forward name mfw-1 all any to 10.0.0.2 balance pref from 192.0.2.0/24 "
		    "engine kernel");
	assert_int_equal(f->conf.protos, PF_PROTO_ALL);
	assert_string_equal(f->conf.lhost, "");
	assert_string_equal(f->conf.lif, "");
	assert_int_equal(f->conf.lport_lo, 0);
	assert_int_equal(f->nbe, 1);
	assert_int_equal(f->be[0].conf.port_lo, 0);
	assert_int_equal(f->conf.from.n, 1);
	pf_forward_unref(f);
	f = item_ok("forward all 198.51.100.10 to 10.0.0.2 weight 3, 10.0.0.3");
	assert_string_equal(f->conf.lhost, "198.51.100.10");
	assert_int_equal(f->nbe, 2);
	pf_forward_unref(f);
	f = item_ok("forward all [2001:db8::1] to [2001:db8:1::2]");
	assert_string_equal(f->conf.lhost, "2001:db8::1");
	pf_forward_unref(f);
	f = item_ok("forward all %ppp0 to 10.0.0.2 check check-port 22");
	assert_string_equal(f->conf.lif, "ppp0");
	pf_forward_unref(f);
}

static void test_all_errors(void **state)
{
	static const struct error_case c[] = {
		{ "forward all :80 to 10.0.0.2", "':80': 'all' forwards every port; expected " LISTEN_ALL_WHAT },
		{ "forward all 1.2.3.4:80 to 10.0.0.2",
		  "'1.2.3.4:80': 'all' forwards every port; expected " LISTEN_ALL_WHAT },
		{ "forward all", "at end of line: expected " LISTEN_ALL_WHAT },
		{ "forward all any to 10.0.0.2:80",
		  "'10.0.0.2:80': 'all' forwards every port to the same port of the backend; "
		  "expected a host without a port" },
		{ "forward all any to 10.0.0.2, 10.0.0.3:1-2",
		  "'10.0.0.3:1-2': the backend range has 2 ports, the listen range 1; expected "
		  "ranges of the same size (mapped 1:1), one port, or no port" },
		{ "forward all any to 10.0.0.2 engine user",
		  "at end of line: 'all' forwards every protocol and needs the kernel engine: "
		  "expected 'engine kernel' (or no 'engine' under portfwd -e kernel)" },
		{ "forward all any to 10.0.0.2 ftp",
		  "at end of line: 'ftp' attaches the helper to TCP ports; an 'all' forward has "
		  "none: expected a 'tcp' forward of the FTP port" },
		{ "forward all any to 10.0.0.2 check",
		  "at end of line: an 'all' forward has no port to check; expected 'check-port N' "
		  "or 'agent-port N'" },
		{ "forward all %wan:80 to 10.0.0.2",
		  "'%wan:80': 'all' forwards every port; expected %INTERFACE without a port" },
		{ "forward tcp,all :80 to 10.0.0.2", "'all': expected a protocol: tcp, udp or tcp,udp" },
		{ "forward icmp any to 10.0.0.2",
		  "'icmp': expected a protocol: tcp, udp, tcp,udp or all" },
	};

	(void)state;
	assert_errors(c, PF_ARRAY_SIZE(c));
}

/* ---- interfaces ---- */

static void test_iface_parses(void **state)
{
	struct pf_forward *f;

	(void)state;
	f = item_ok("forward name w tcp,udp %wan0:8000-8009 to 10.0.0.2:9000-9009");
	assert_string_equal(f->conf.lif, "wan0");
	assert_string_equal(f->conf.lhost, "");
	assert_int_equal(f->conf.lport_lo, 8000);
	assert_int_equal(f->conf.lport_hi, 8009);
	pf_forward_unref(f);
	f = item_ok("forward tcp %eth0.100@x_y-z:80 to b");
	assert_string_equal(f->conf.lif, "eth0.100@x_y-z");
	pf_forward_unref(f);
}

static void test_iface_errors(void **state)
{
	static const struct error_case c[] = {
		{ "forward tcp %wan to b", "'%wan': expected %INTERFACE:PORT or %INTERFACE:LOW-HIGH" },
		{ "forward tcp %:80 to b",
		  "'%:80': '%' names an interface: 1-15 letters, digits, '-', '_', '.' or '@'; "
		  "expected %INTERFACE:PORT" },
		{ "forward tcp %abcdefghijklmnop:80 to b",
		  "'%abcdefghijklmnop:80': '%' names an interface: 1-15 letters, digits, '-', '_', "
		  "'.' or '@'; expected %INTERFACE:PORT" },
		{ "forward tcp %w/x:80 to b",
		  "'%w/x:80': '%' names an interface: 1-15 letters, digits, '-', '_', '.' or '@'; "
		  "expected %INTERFACE:PORT" },
		{ "forward tcp %..:80 to b",
		  "'%..:80': '%' names an interface: 1-15 letters, digits, '-', '_', '.' or '@'; "
		  "expected %INTERFACE:PORT" },
		{ "forward tcp %wan:0 to b",
		  "'%wan:0': '0' is not a port number 1-65535; expected %INTERFACE:PORT or "
		  "%INTERFACE:LOW-HIGH" },
	};

	(void)state;
	assert_errors(c, PF_ARRAY_SIZE(c));
}

/* ---- triggers ---- */

static void test_trigger_parses(void **state)
{
	struct pf_forward *f;

	(void)state;
	f = item_ok("trigger name game tcp 6112-6119 on tcp 7000 timeout 10m");
	assert_true(f->conf.trigger);
	assert_string_equal(f->conf.name, "game");
	assert_int_equal(f->conf.protos, PF_PROTO_TCP);
	assert_int_equal(f->conf.lport_lo, 6112);
	assert_int_equal(f->conf.lport_hi, 6119);
	assert_int_equal(f->conf.trig_proto, PF_PROTO_TCP);
	assert_int_equal(f->conf.trig_port, 7000);
	assert_int_equal(f->conf.trig_ms, 600000);
	assert_int_equal(f->nbe, 0);
	assert_int_equal(pf_forward_engine(f), PF_ENGINE_KERNEL);
	pf_forward_unref(f);
	f = item_ok("trigger tcp,udp 27000 on udp 27015 name q3");
	assert_int_equal(f->conf.protos, PF_PROTO_TCP | PF_PROTO_UDP);
	assert_int_equal(f->conf.lport_lo, 27000);
	assert_int_equal(f->conf.lport_hi, 27000);
	assert_int_equal(f->conf.trig_ms, PF_TRIGGER_DEFAULT_MS);
	assert_string_equal(f->conf.name, "q3");
	pf_forward_unref(f);
}

static void test_trigger_errors(void **state)
{
	static const struct error_case c[] = {
		{ "trigger", "at end of line: expected a protocol: tcp, udp or tcp,udp" },
		{ "trigger all 1-2 on tcp 3", "'all': expected a protocol: tcp, udp or tcp,udp" },
		{ "trigger tcp", "at end of line: expected the ports to open, LOW-HIGH or PORT (on "
				 "every address of the gateway: no address)" },
		{ "trigger tcp 1.2.3.4:80 on tcp 1",
		  "'1.2.3.4:80': expected the ports to open, LOW-HIGH or PORT (on every address of "
		  "the gateway: no address)" },
		{ "trigger tcp 6010-6000 on tcp 1",
		  "'6010-6000': '6010-6000' is not a port range LOW-HIGH within 1-65535; expected "
		  "the ports to open, LOW-HIGH or PORT" },
		{ "trigger tcp 6000-6010 tcp 7000",
		  "'tcp': expected 'on PROTO PORT': the port whose outgoing connections open the "
		  "range" },
		{ "trigger tcp 6000-6010 on icmp 1",
		  "'icmp': expected the protocol of the control connection: tcp or udp" },
		{ "trigger tcp 6000-6010 on tcp 0",
		  "'0': expected the port of the control connection, 1-65535" },
		{ "trigger tcp 6000-6010 on tcp",
		  "at end of line: expected the port of the control connection, 1-65535" },
		{ "trigger tcp 6000-6010 on tcp 7000 timeout 10ms",
		  "'10ms': 'timeout' expects a duration such as 500ms, 5s, 10m, 2h (at least "
		  "1000ms, at most 30d)" },
		{ "trigger tcp 6000-6010 on tcp 7000 timeout 5s timeout 6s",
		  "'timeout': option given twice" },
		{ "trigger name a tcp 6000-6010 on tcp 7000 name b", "'name': option given twice" },
		{ "trigger tcp 6000-6010 on tcp 7000 to 10.0.0.2",
		  "'to': unknown option; expected 'timeout DUR' or 'name NAME'" },
	};

	(void)state;
	assert_errors(c, PF_ARRAY_SIZE(c));
}

/* ---- save round trips ---- */

static void test_round_trips(void **state)
{
	static const char *const lines[] = {
		"forward name mfw-1 all any to 10.0.0.2 balance pref engine kernel from "
		"192.0.2.0/24",
		"forward all 198.51.100.10 to 10.0.0.2 weight 3, 10.0.0.3 backup",
		"forward all [2001:db8::1] to [2001:db8:1::2]",
		"forward name h all %ppp0 to 10.0.0.2 check check-port 22",
		"forward name w tcp,udp %wan0:8000-8009 to 10.0.0.2:9000-9009",
		"forward tcp %wan:80 to 10.0.0.2 engine user",
		"forward name t tcp,udp :8080 to 10.0.0.2:80 transparent",
		"forward tcp [::]:443 to [2001:db8::2] engine kernel transparent",
		"trigger name game tcp 6112-6119 on tcp 7000 timeout 10m",
		"trigger tcp,udp 27000 on udp 27015",
	};
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(lines); i++) {
		struct pf_forward *f = item_ok(lines[i]), *g;
		char buf[PF_LINE_MAX];

		pf_forward_format(f, buf, sizeof(buf));
		assert_string_equal(buf, lines[i]);
		g = item_ok(buf);
		assert_true(pf_forward_equal(f, g));
		pf_forward_unref(g);
		pf_forward_unref(f);
	}
}

/* ---- selectors ---- */

static void test_selectors(void **state)
{
	struct pf_forward *host = item_ok("forward all any to 10.0.0.2");
	struct pf_forward *ifc = item_ok("forward tcp %wan:80 to 10.0.0.2");
	struct pf_forward *plain = item_ok("forward tcp :80 to 10.0.0.2");
	char err[ERRLEN];
	struct pf_stmt st;

	(void)state;
	assert_int_equal(parse("del all any", &st, err), 0);
	assert_true(pf_selector_match(&st.sel, host));
	assert_false(pf_selector_match(&st.sel, plain));
	pf_stmt_free(&st);
	assert_int_equal(parse("del tcp %wan:80", &st, err), 0);
	assert_true(pf_selector_match(&st.sel, ifc));
	assert_false(pf_selector_match(&st.sel, plain));
	pf_stmt_free(&st);
	assert_int_equal(parse("del tcp :80", &st, err), 0);
	assert_false(pf_selector_match(&st.sel, ifc));
	assert_true(pf_selector_match(&st.sel, plain));
	pf_stmt_free(&st);
	/* 'kill all' stays every flow. */
	assert_int_equal(parse("kill all", &st, err), 0);
	assert_true(st.sel.all);
	pf_stmt_free(&st);
	pf_forward_unref(host);
	pf_forward_unref(ifc);
	pf_forward_unref(plain);
}

/* ---- validation ---- */

/* Validates the lines as lines 1.. of t.conf; returns 0 or -1 with err. */
static int validate(const char *const *lines, size_t n, char *err)
{
	struct pf_table t;
	size_t i;
	int rc;

	pf_table_init(&t);
	for (i = 0; i < n; i++) {
		struct pf_forward *f = item_ok(lines[i]);

		f->conf.line = (int)i + 1;
		pf_table_add(&t, f);
	}
	err[0] = '\0';
	rc = pf_table_validate(&t, err, ERRLEN);
	pf_table_clear(&t);
	return rc;
}

#define VALIDATE(err, ...)                                                      \
	({                                                                      \
		static const char *const v_[] = { __VA_ARGS__ };               \
		validate(v_, PF_ARRAY_SIZE(v_), err);                           \
	})

static void test_validate(void **state)
{
	char err[ERRLEN];
	uint8_t def = pf_engine_default;

	(void)state;
	pf_engine_default = PF_ENGINE_KERNEL;
	/* Coexisting: an interface and the any-address, two interfaces, a
	 * whole-host forward and port forwards on its address, source pools. */
	assert_int_equal(VALIDATE(err, "forward tcp %wan:80 to a", "forward tcp :80 to b",
				  "forward tcp %lan:80 to c", "forward tcp 1.2.3.4:80 to d",
				  "forward all 1.2.3.4 to e", "forward all any to f from 10.0.0.0/8",
				  "forward all any to g", "trigger tcp 6000-6010 on tcp 7000"),
			 0);
	assert_int_equal(VALIDATE(err, "forward tcp %wan:80 to a", "forward tcp %wan:79-81 to b"),
			 -1);
	assert_string_equal(err, "t.conf:2: tcp %wan:79-81 overlaps forward (t.conf:1); expected "
				 "each protocol, address and port to be forwarded once for each "
				 "source");
	assert_int_equal(VALIDATE(err, "forward all any to a", "forward name x all any to b"), -1);
	assert_string_equal(err, "t.conf:2: all any overlaps forward (t.conf:1); expected each "
				 "protocol, address and port to be forwarded once for each source");
	/* A trigger's range is on every address: a forward on one address clashes too. */
	assert_int_equal(VALIDATE(err, "trigger name game tcp 6112-6119 on tcp 7000",
				  "forward name clash tcp 1.2.3.4:6115 to b"),
			 -1);
	assert_string_equal(err, "t.conf:2: tcp 1.2.3.4:6115 overlaps trigger 'game' (t.conf:1); "
				 "expected each protocol, address and port to be forwarded once "
				 "for each source (a trigger's range is opened on every address of "
				 "the gateway)");
	assert_int_equal(VALIDATE(err, "forward tcp :6119 to b from 10.0.0.0/8",
				  "trigger udp,tcp 6100-6200 on udp 9"),
			 -1);
	assert_string_equal(err, "t.conf:2: trigger tcp 6100-6200 overlaps forward (t.conf:1); "
				 "expected each protocol, address and port to be forwarded once "
				 "for each source (a trigger's range is opened on every address of "
				 "the gateway)");
	/* Other protocols or ports: no clash. */
	assert_int_equal(VALIDATE(err, "trigger udp 6112-6119 on tcp 7000", "forward tcp :6115 to b",
				  "trigger tcp 6120 on tcp 7000"),
			 0);
	/* 'all' under the user engine. */
	pf_engine_default = PF_ENGINE_USER;
	assert_int_equal(VALIDATE(err, "forward tcp :80 to a", "forward all any to b"), -1);
	assert_string_equal(err, "t.conf:2: 'all' forwards every protocol and needs the kernel "
				 "engine: add 'engine kernel' or run portfwd -e kernel");
	assert_int_equal(VALIDATE(err, "forward all any to b engine kernel",
				  "trigger tcp 1-2 on tcp 3"),
			 0);
	/* The PROXY protocol options under -e kernel, without 'engine user'. */
	pf_engine_default = PF_ENGINE_KERNEL;
	assert_int_equal(VALIDATE(err, "forward tcp :80 to a proxy-protocol v1"), -1);
	assert_string_equal(err, "t.conf:1: 'proxy-protocol' needs the user engine (the kernel "
				 "engine does not see the bytes of a connection); add 'engine "
				 "user' or run portfwd -e user");
	assert_int_equal(VALIDATE(err, "forward tcp :80 to a accept-proxy 10.0.0.1"), -1);
	assert_int_equal(VALIDATE(err, "forward tcp :80 to a accept-proxy 10.0.0.1 proxy-protocol "
				       "v2 engine user"),
			 0);
	pf_engine_default = def;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_parses),	cmocka_unit_test(test_all_errors),
		cmocka_unit_test(test_iface_parses),	cmocka_unit_test(test_iface_errors),
		cmocka_unit_test(test_trigger_parses), cmocka_unit_test(test_trigger_errors),
		cmocka_unit_test(test_round_trips),	cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_validate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
