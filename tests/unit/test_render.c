// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the kernel engine's rendering (pfk_render_table): the maps
 * and chains of whole-host forwards, interface forwards, source pools and
 * port triggers, and that a table without them keeps the plain shape (no
 * rule a new connection would pay for). The ruleset itself is loaded by
 * tests/net/t_kernel*.sh; here the text is checked.
 */
#include "common/pf_conf.h"
#include "common/pf_interp.h"
#include "common/pf_table.h"
#include "common/pf_sched.h"
#include "common/pf_util.h"
#include "kernel/pfk_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define ERRLEN 4096

/* The table of these lines, resolved, with kernel ids 1, 2, ... */
static void table_of(struct pf_table *t, const char *const *lines, size_t n)
{
	char err[ERRLEN];
	size_t i;

	pf_table_init(t);
	for (i = 0; i < n; i++) {
		struct pf_where w = { .file = "t.conf", .line = (int)i + 1 };
		struct pf_toks toks;
		struct pf_stmt st;

		assert_int_equal(pf_lex(lines[i], &toks, err, ERRLEN), 0);
		if (pf_parse_stmt(&toks, &w, &st, err, ERRLEN))
			fail_msg("'%s': %s", lines[i], err);
		pf_toks_free(&toks);
		if (st.kind == PF_ST_DEFAULT) {
			pf_table_default(t, &st);
			pf_stmt_free(&st);
			continue;
		}
		st.fwd->kid = (uint32_t)i + 1;
		pf_table_add(t, st.fwd);
		st.fwd = NULL;
		pf_stmt_free(&st);
	}
	pf_table_effective(t, NULL);
	if (pf_table_resolve(t, err, ERRLEN) || pf_table_validate(t, err, ERRLEN))
		fail_msg("%s", err);
}

static char *render(const char *const *lines, size_t n)
{
	static const char *const wan[] = { "wan" };
	struct pf_table t;
	char *s;

	pf_engine_default = PF_ENGINE_KERNEL;
	table_of(&t, lines, n);
	s = pfk_render_table(&t, wan, 1);
	assert_non_null(s);
	pf_table_clear(&t);
	return s;
}

#define RENDER(...)                                               \
	({                                                        \
		static const char *const r_[] = { __VA_ARGS__ }; \
		render(r_, PF_ARRAY_SIZE(r_));                    \
	})

static void assert_has(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("expected '%s' in:\n%s", needle, text);
}

static void assert_lacks(const char *text, const char *needle)
{
	if (strstr(text, needle))
		fail_msg("did not expect '%s' in:\n%s", needle, text);
}

/* needle a before needle b. */
static void assert_order(const char *text, const char *a, const char *b)
{
	const char *pa = strstr(text, a), *pb = strstr(text, b);

	if (!pa || !pb || pa > pb)
		fail_msg("expected '%s' before '%s' in:\n%s", a, b, text);
}

static void test_plain_table_keeps_its_shape(void **state)
{
	char *s = RENDER("forward name web tcp :80 to 10.0.0.2");

	(void)state;
	/* One backend: elements of the mark and DNAT maps, no chain. */
	assert_has(s, "\tmap m_any {\n\t\ttype inet_proto . inet_service : mark\n\t\tsize 4096\n"
		      "\t\telements = { tcp . 80 : 0x40000001 }\n");
	assert_has(s, "\tmap d4_any {\n\t\ttype inet_proto . inet_service : ipv4_addr . "
		      "inet_service\n\t\tsize 4096\n\t\telements = { tcp . 80 : 10.0.0.2 . 80 }\n");
	assert_has(s, "\tchain dispatch {\n\t\tfib daddr type local ct mark set meta l4proto . "
		      "th dport map @m_any goto s_any\n\t}\n");
	assert_has(s, "\tchain s_any {\n\t\tiifname != @wan ct mark set ct mark | 0x20000000\n"
		      "\t\tmeta nfproto ipv4 dnat ip to meta l4proto . th dport map @d4_any\n"
		      "\t\tmeta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @d6_any\n"
		      "\t\tcounter drop\n\t}\n");
	assert_lacks(s, "chain f1 ");
	assert_lacks(s, "vmap @any");
	/* Nothing a new connection would pay for without the new kinds. */
	assert_lacks(s, "dispatch_host");
	assert_lacks(s, "vmap @ifc");
	assert_lacks(s, "@trig_ctl");
	free(s);
}

static void test_whole_host(void **state)
{
	char *s = RENDER("forward name web tcp 198.51.100.10:80 to 10.0.0.3",
			 "forward name host all 198.51.100.10 to 10.0.0.2",
			 "forward name h6 all [2001:db8::10] to [2001:db8:1::2]",
			 "forward name hi all %ppp0 to 10.0.0.4",
			 "forward name rest all any to 10.0.0.5 weight 3, 10.0.0.6");

	(void)state;
	assert_has(s, "\tmap all4 {\n\t\ttype ipv4_addr : verdict\n"
		      "\t\telements = { 198.51.100.10 : goto f2 }\n");
	assert_has(s, "elements = { 2001:db8::10 : goto f3 }");
	assert_has(s, "\tmap allif {\n\t\ttype ifname : verdict\n\t\telements = { \"ppp0\" : goto f4 }");
	/* Every protocol: no l4proto in the DNAT, no port on the backend. */
	assert_has(s, "\tchain f2_nat {\n\t\tct mark set 0x40000002\n"
		      "\t\tiifname != @wan ct mark set ct mark | 0x20000000\n"
		      "\t\tmeta nfproto ipv4 dnat ip to 10.0.0.2\n\t}\n");
	assert_has(s, "meta nfproto ipv6 dnat ip6 to 2001:db8:1::2\n");
	assert_has(s, "meta nfproto ipv4 dnat ip to numgen inc mod 4 map { 0-2 : 10.0.0.5, 3 : "
		      "10.0.0.6 }\n");
	/* Port forwards first, then (from outside only) the whole hosts. */
	assert_has(s, "\t\tjump dispatch\n\t\tjump dispatch_host\n");
	assert_has(s, "\tchain dispatch_host {\n\t\tmeta nfproto ipv6 ip6 daddr fe80::/10 return\n"
		      "\t\tmeta nfproto ipv4 ip daddr vmap @all4\n"
		      "\t\tmeta nfproto ipv6 ip6 daddr vmap @all6\n"
		      "\t\tfib daddr type local iifname vmap @allif\n"
		      "\t\tfib daddr type local goto f5\n\t}\n");
	assert_order(s, "chain dispatch {", "chain dispatch_host {");
	/* The gateway's own connections never reach a whole-host forward. */
	assert_has(s, "\tchain output_nat {\n\t\ttype nat hook output priority -110; policy "
		      "accept;\n\t\tjump dispatch\n\t}\n");
	free(s);
}

/* The rendering of a one-forward table LINE holds BEFORE (and not ABSENT, if
 * given), and AFTER once 'schedule' has rotated it. */
static void assert_rotation(const char *line, const char *before, const char *absent,
			    const char *after)
{
	static const char *const wan[] = { "wan" };
	struct pf_table t;
	char *s;

	pf_engine_default = PF_ENGINE_KERNEL;
	table_of(&t, &line, 1);
	s = pfk_render_table(&t, wan, 1);
	assert_has(s, before);
	if (absent)
		assert_lacks(s, absent);
	free(s);
	assert_int_equal(pf_sched_rotate(t.fwd[0]), 0);
	s = pfk_render_table(&t, wan, 1);
	assert_has(s, after);
	free(s);
	pf_table_clear(&t);
}

/* balance pref: the numgen slots in rotation order; a pref 0 backend takes
 * everything (where ipmasqadm's rotation comes to rest) until 'schedule'. */
static void test_pref_pools(void **state)
{
	(void)state;
	assert_rotation("forward name fo all any to 10.0.0.2 weight 0, 10.0.0.3 weight 0 balance pref",
			"meta nfproto ipv4 dnat ip to 10.0.0.2\n", "numgen",
			"meta nfproto ipv4 dnat ip to 10.0.0.3\n");
	assert_rotation(
		"forward name r tcp :80 to 10.0.0.2:80 weight 2, 10.0.0.3:80 weight 1 balance pref",
		"numgen inc mod 3 map { 0-1 : 10.0.0.2 . 80, 2 : 10.0.0.3 . 80 }", NULL,
		"numgen inc mod 3 map { 0 : 10.0.0.3 . 80, 1-2 : 10.0.0.2 . 80 }");
}

static void test_source_pools(void **state)
{
	char *s = RENDER("forward name mfw-1 all any to 10.0.0.2 balance pref from 209.81.8.0/24",
			 "forward name mfw-3 all any to 10.0.0.46",
			 "forward name wide tcp :80 to 10.0.0.7 from 10.0.0.0/8",
			 "forward name narrow tcp :80-81 to 10.0.0.8 from 10.1.0.0/16,10.2.0.0/16",
			 "forward name v6 tcp :80 to 10.0.0.9 from 2001:db8::/32");

	(void)state;
	/* Port 80 is shared: a chain tries the longest prefixes first and
	 * leaves the rest to later rules (no pool without 'from' there). */
	assert_has(s, "tcp . 80 : goto g0");
	assert_has(s, "\tchain g0 {\n"
		      "\t\tip6 saddr 2001:db8::/32 goto f5\n"
		      "\t\tip saddr 10.1.0.0/16 goto f4\n"
		      "\t\tip saddr 10.2.0.0/16 goto f4\n"
		      "\t\tip saddr 10.0.0.0/8 goto f3\n\t}\n");
	/* A pool alone on a port still serves only its sources. */
	assert_has(s, "tcp . 81 : goto g1");
	assert_has(s, "\tchain g1 {\n\t\tip saddr 10.1.0.0/16 goto f4\n"
		      "\t\tip saddr 10.2.0.0/16 goto f4\n\t}\n");
	/* The mfw pair: the friends' network, then everybody else. */
	assert_has(s, "\tchain g2 {\n\t\tip saddr 209.81.8.0/24 goto f1\n\t\tgoto f2\n\t}\n");
	assert_has(s, "fib daddr type local goto g2\n");
	free(s);
}

static void test_interfaces(void **state)
{
	char *s = RENDER("forward name w tcp %wan:8080 to 10.0.0.2:80",
			 "forward name wr udp %ppp0:5000-5001 to 10.0.0.3",
			 "forward name any tcp :8080 to 10.0.0.4",
			 "forward name u tcp %wan:9000 to 10.0.0.4 engine user");

	(void)state;
	assert_has(s, "\tmap m_ifc {\n\t\ttype ifname . inet_proto . inet_service : mark\n");
	assert_has(s, "\"ppp0\" . udp . 5000 : 0x40000002");
	assert_has(s, "\"ppp0\" . udp . 5001 : 10.0.0.3 . 5001");
	assert_has(s, "\"wan\" . tcp . 8080 : 10.0.0.2 . 80");
	/* The interface before the any-address, both on local addresses only. */
	assert_order(s, "fib daddr type local ct mark set iifname . meta l4proto . th dport map "
			"@m_ifc goto s_ifc",
		     "fib daddr type local ct mark set meta l4proto . th dport map @m_any goto s_any");
	assert_lacks(s, "9000 :");
	free(s);
}

/* Which forwards are map elements, which keep chains; both kinds together. */
static void test_simple_and_chained(void **state)
{
	char *s = RENDER("forward name four tcp,udp 198.51.100.1:53 to 10.0.0.5",
			 "forward name six tcp [2001:db8::1]:443-444 to [2001:db8::2]:8443-8444",
			 "forward name pool tcp :80 to 10.0.0.2, 10.0.0.3",
			 "forward name acl tcp :81 to 10.0.0.2 allow 10.0.0.0/8",
			 "forward name rest tcp :82 to 10.0.0.2",
			 "forward name friends tcp :82 to 10.0.0.3 from 192.0.2.0/24",
			 "forward name down tcp :83 to 10.0.0.4 weight 0");

	(void)state;
	assert_has(s, "\tmap m_in4 {\n\t\ttype ipv4_addr . inet_proto . inet_service : mark\n"
		      "\t\tsize 4096\n\t\telements = { 198.51.100.1 . tcp . 53 : 0x40000001,\n"
		      "\t\t\t198.51.100.1 . udp . 53 : 0x40000001 }\n");
	assert_has(s, "198.51.100.1 . udp . 53 : 10.0.0.5 . 53");
	/* A 1:1 range shift: each port its own target. */
	assert_has(s, "\tmap d6_in6 {\n\t\ttype ipv6_addr . inet_proto . inet_service : ipv6_addr . "
		      "inet_service\n\t\tsize 4096\n\t\telements = { 2001:db8::1 . tcp . 443 : "
		      "2001:db8::2 . 8443,\n\t\t\t2001:db8::1 . tcp . 444 : 2001:db8::2 . 8444 }\n");
	/* A pool, an ACL, a port shared with a 'from' pool: chains. */
	assert_has(s, "tcp . 80 : goto f3");
	assert_has(s, "tcp . 81 : goto f4");
	assert_has(s, "tcp . 82 : goto g0");
	assert_has(s, "\tchain g0 {\n\t\tip saddr 192.0.2.0/24 goto f6\n\t\tgoto f5\n\t}\n");
	/* A backend that takes nothing (weight 0): the mark, no target (s_any drops). */
	assert_has(s, "tcp . 83 : 0x40000007");
	assert_lacks(s, "tcp . 83 : 10.0.0.4");
	/* Chains first, then elements, for each kind of key; no rule for a
	 * kind without forwards. */
	assert_lacks(s, "vmap @in4");
	assert_order(s, "map @m_in6 goto s_in6", "vmap @any");
	assert_order(s, "vmap @any", "map @m_any goto s_any");
	free(s);
}

static void test_triggers(void **state)
{
	char *s = RENDER("trigger name game tcp 6112-6119 on tcp 7000",
			 "trigger name q tcp,udp 27000 on udp 27015",
			 "trigger name dup udp 28000 on tcp 7000",
			 "forward name u tcp :9000-9001 to 10.0.0.4 engine user",
			 "forward name u2 tcp 1.2.3.4:9001-9003 to 10.0.0.4 engine user");

	(void)state;
	assert_has(s, "\tmap trig {\n\t\ttype inet_proto . inet_service : verdict\n"
		      "\t\tflags interval,timeout\n\t}\n");
	/* Control ports once each, whatever the number of triggers on them. */
	assert_has(s, "\tset trig_ctl {\n\t\ttype inet_proto . inet_service\n"
		      "\t\telements = { tcp . 7000, udp . 27015 }\n\t}\n");
	assert_has(s, "\t\tct state new iifname != @wan meta l4proto . th dport @trig_ctl ct "
		      "mark set ct mark | 0x10000000\n");
	/* Nobody holds them yet: the NAT chains are empty, the map too. */
	assert_has(s, "\tchain t1 {\n\t\tgoto t1_nat\n\t}\n\tchain t1_nat {\n\t}\n");
	assert_has(s, "\t\tfib daddr type local meta l4proto . th dport vmap @trig\n");
	/* The user engine's sockets come before triggers and whole hosts. */
	assert_has(s, "\t\telements = { tcp . 9000-9003 }\n");
	assert_order(s, "@user_ports return", "vmap @trig");
	/* A trigger is no forward: no chain fN, no element of its own. */
	assert_lacks(s, "chain f1 ");
	assert_lacks(s, "6112 : goto");
	free(s);
}

/* The table's default ACL applies to a trigger's range too. */
static void test_trigger_acl(void **state)
{
	char *s = RENDER("default deny 198.51.100.0/24", "trigger name game tcp 6112-6119 on tcp 7000");

	(void)state;
	assert_has(s, "\tchain t2 {\n\t\tip saddr 198.51.100.0/24 counter drop\n"
		      "\t\tgoto t2_nat\n\t}\n\tchain t2_nat {\n\t}\n");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_table_keeps_its_shape),
		cmocka_unit_test(test_whole_host),
		cmocka_unit_test(test_pref_pools),
		cmocka_unit_test(test_source_pools),
		cmocka_unit_test(test_interfaces),
		cmocka_unit_test(test_simple_and_chained),
		cmocka_unit_test(test_triggers),
		cmocka_unit_test(test_trigger_acl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
