// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the kernel engine's rendering (pfk_render_table): the maps
 * and chains of whole-host forwards, interface forwards, source pools and
 * port triggers, and that a table without them keeps the plain shape (no
 * rule a new connection would pay for). The ruleset itself is loaded by
 * tests/net/t_kernel*.sh; here the text is checked.
 *
 * Each case renders a table and compares the whole ruleset with its golden
 * file, tests/unit/golden/CASE.nft (the directory comes from the Makefile:
 * PF_GOLDEN_DIR, or the environment variable of that name). A mismatch prints
 * 'diff -u GOLDEN ACTUAL'. After a deliberate change of the rendering:
 *
 *     make golden        (PF_GOLDEN_UPDATE=1 build/tests/test_render)
 *
 * rewrites the golden files from the current output; review the git diff of
 * tests/unit/golden/ before committing it: those files are the spec.
 */
#include "common/pf_conf.h"
#include "common/pf_interp.h"
#include "common/pf_table.h"
#include "common/pf_sched.h"
#include "common/pf_util.h"
#include "kernel/pfk_int.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
		st.fwd->id = (uint32_t)i + 1;
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

#ifndef PF_GOLDEN_DIR
#define PF_GOLDEN_DIR "tests/unit/golden"
#endif

static const char *golden_dir(void)
{
	const char *d = getenv("PF_GOLDEN_DIR");

	return d && *d ? d : PF_GOLDEN_DIR;
}

/* The whole file at path (NUL-terminated), or NULL with errno. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap += 65536);

			assert_non_null(nb);
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static void spill(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	if (!f || fputs(text, f) == EOF || fclose(f) == EOF)
		fail_msg("cannot write %s: %s", path, strerror(errno));
}

/* The first line where a and b differ (1-based). */
static int first_diff_line(const char *a, const char *b)
{
	int line = 1;

	for (; *a && *a == *b; a++, b++)
		if (*a == '\n')
			line++;
	return line;
}

/* 'diff -u golden actual' on stdout (the test fails whatever it says). */
static void show_diff(const char *golden, const char *actual)
{
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		dup2(STDOUT_FILENO, STDERR_FILENO);
		execlp("diff", "diff", "-u", "--", golden, actual, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &st, 0);
}

/* The whole ruleset text equals the golden file CASE.nft; with
 * PF_GOLDEN_UPDATE=1 in the environment, the golden file is rewritten. */
static void assert_golden(const char *text, const char *name)
{
	const char *upd = getenv("PF_GOLDEN_UPDATE");
	char path[4096], actual[] = "/tmp/pf-render-XXXXXX.nft";
	char *want;
	int fd;

	snprintf(path, sizeof(path), "%s/%s.nft", golden_dir(), name);
	if (upd && strcmp(upd, "1") == 0) {
		spill(path, text);
		printf("updated %s\n", path);
		return;
	}
	want = slurp(path);
	if (!want)
		fail_msg("%s: %s (new case? 'make golden' writes it)", path, strerror(errno));
	if (strcmp(want, text) == 0) {
		free(want);
		return;
	}
	fd = mkstemps(actual, 4);
	if (fd < 0)
		fail_msg("mkstemps: %s", strerror(errno));
	close(fd);
	spill(actual, text);
	printf("%s: the rendered ruleset differs from line %d:\n", path,
	       first_diff_line(want, text));
	show_diff(path, actual);
	printf("(rendered ruleset kept in %s; if the change is meant, 'make golden' "
	       "rewrites the golden files: review their diff)\n",
	       actual);
	fflush(stdout);
	free(want);
	fail_msg("%s.nft: the rendered ruleset differs from the golden file", name);
}

/* The rendering of the table of these lines equals golden file NAME.nft. */
#define GOLDEN(name, ...)                                   \
	do {                                                \
		char *s_ = RENDER(__VA_ARGS__);             \
		assert_golden(s_, name);                    \
		free(s_);                                   \
	} while (0)

/* One backend (render_plain): elements of the mark and DNAT maps (m_any,
 * d4_any), the dispatch rule on local addresses, s_any with the hairpin mark,
 * the DNATs and the drop; no chain fN, no 'vmap @any'. Nothing a new
 * connection would pay for without the new kinds: no dispatch_host, no
 * 'vmap @ifc', no '@trig_ctl'. */
static void test_plain_table_keeps_its_shape(void **state)
{
	(void)state;
	GOLDEN("render_plain", "forward name web tcp :80 to 10.0.0.2");
}

/* render_whole_host: the all4, all6 and allif verdict maps; every protocol
 * (f2_nat: no l4proto in the DNAT, no port on the backend, both families);
 * the weighted numgen of f5; port forwards first, then (from outside only)
 * the whole hosts: 'jump dispatch', 'jump dispatch_host', chain dispatch
 * before chain dispatch_host (link-local skipped, the any-address last); the
 * gateway's own connections (output_nat) jump to dispatch only. */
static void test_whole_host(void **state)
{
	(void)state;
	GOLDEN("render_whole_host", "forward name web tcp 198.51.100.10:80 to 10.0.0.3",
	       "forward name host all 198.51.100.10 to 10.0.0.2",
	       "forward name h6 all [2001:db8::10] to [2001:db8:1::2]",
	       "forward name hi all %ppp0 to 10.0.0.4",
	       "forward name rest all any to 10.0.0.5 weight 3, 10.0.0.6");
}

/* render_stopped, the table a stop leaves: the three nat base chains with
 * no rule (established entries are translated, nothing new is), the
 * forward chain's accept of our marks, the input guard, the FTP helper;
 * no map, no DNAT, no masquerade. */
static void test_stopped_table(void **state)
{
	char *s = pfk_render_stopped();

	(void)state;
	assert_non_null(s);
	assert_null(strstr(s, "dnat to"));
	assert_null(strstr(s, "masquerade"));
	assert_null(strstr(s, "map"));
	assert_golden(s, "render_stopped");
	free(s);
}

/* The rendering of a one-forward table LINE equals golden file NAME.nft, and
 * NAME_rotated.nft once 'schedule' has rotated it. */
static void assert_rotation(const char *line, const char *name)
{
	static const char *const wan[] = { "wan" };
	char rotated[256];
	struct pf_table t;
	char *s;

	pf_engine_default = PF_ENGINE_KERNEL;
	table_of(&t, &line, 1);
	s = pfk_render_table(&t, wan, 1);
	assert_non_null(s);
	assert_golden(s, name);
	free(s);
	assert_int_equal(pf_sched_rotate(t.fwd[0]), 0);
	s = pfk_render_table(&t, wan, 1);
	assert_non_null(s);
	snprintf(rotated, sizeof(rotated), "%s_rotated", name);
	assert_golden(s, rotated);
	free(s);
	pf_table_clear(&t);
}

/* balance pref: the numgen slots in rotation order; a pref 0 backend takes
 * everything (where ipmasqadm's rotation comes to rest) until 'schedule'.
 * render_pref_zero: a plain 'dnat ip to 10.0.0.2' (no numgen), then
 * 10.0.0.3 once rotated; render_pref_weights: 'numgen inc mod 3 map { 0-1 :
 * 10.0.0.2 . 80, 2 : 10.0.0.3 . 80 }', rotated '{ 0 : 10.0.0.3 . 80, 1-2 :
 * 10.0.0.2 . 80 }'. */
static void test_pref_pools(void **state)
{
	(void)state;
	assert_rotation("forward name fo all any to 10.0.0.2 weight 0, 10.0.0.3 weight 0 balance pref",
			"render_pref_zero");
	assert_rotation(
		"forward name r tcp :80 to 10.0.0.2:80 weight 2, 10.0.0.3:80 weight 1 balance pref",
		"render_pref_weights");
}

/* render_source_pools: port 80 is shared ('tcp . 80 : goto g0'): chain g0
 * tries the longest prefixes first (2001:db8::/32 -> f5, 10.1.0.0/16 and
 * 10.2.0.0/16 -> f4, 10.0.0.0/8 -> f3) and leaves the rest to later rules (no
 * pool without 'from' there). A pool alone on a port still serves only its
 * sources ('tcp . 81 : goto g1', g1 without a final goto). The mfw pair
 * (g2): the friends' network to f1, then everybody else to f2, reached by
 * 'fib daddr type local goto g2'. */
static void test_source_pools(void **state)
{
	(void)state;
	GOLDEN("render_source_pools",
	       "forward name mfw-1 all any to 10.0.0.2 balance pref from 209.81.8.0/24",
	       "forward name mfw-3 all any to 10.0.0.46",
	       "forward name wide tcp :80 to 10.0.0.7 from 10.0.0.0/8",
	       "forward name narrow tcp :80-81 to 10.0.0.8 from 10.1.0.0/16,10.2.0.0/16",
	       "forward name v6 tcp :80 to 10.0.0.9 from 2001:db8::/32");
}

/* render_interfaces: map m_ifc keyed by ifname . inet_proto . inet_service,
 * its elements ("ppp0" . udp . 5000-5001, "wan" . tcp . 8080 -> 10.0.0.2 .
 * 80); the interface rule before the any-address rule, both on local
 * addresses only; the user engine's forward (9000) in no map. */
static void test_interfaces(void **state)
{
	(void)state;
	GOLDEN("render_interfaces", "forward name w tcp %wan:8080 to 10.0.0.2:80",
	       "forward name wr udp %ppp0:5000-5001 to 10.0.0.3",
	       "forward name any tcp :8080 to 10.0.0.4",
	       "forward name u tcp %wan:9000 to 10.0.0.4 engine user");
}

/* Which forwards are map elements, which keep chains; both kinds together
 * (render_simple_and_chained): tcp,udp on one address as two elements of
 * m_in4 and d4_in4; a 1:1 range shift, each port its own target (d6_in6:
 * 443 -> 8443, 444 -> 8444); a pool, an ACL, a port shared with a 'from'
 * pool are chains (goto f3, goto f4, goto g0 with 192.0.2.0/24 -> f6 then
 * f5); a backend that takes nothing (weight 0): 'tcp . 83 : 0x40000007' in
 * the mark map, no DNAT element (s_any drops). Chains first, then elements,
 * for each kind of key; no rule for a kind without forwards (no 'vmap @in4'). */
static void test_simple_and_chained(void **state)
{
	(void)state;
	GOLDEN("render_simple_and_chained",
	       "forward name four tcp,udp 198.51.100.1:53 to 10.0.0.5",
	       "forward name six tcp [2001:db8::1]:443-444 to [2001:db8::2]:8443-8444",
	       "forward name pool tcp :80 to 10.0.0.2, 10.0.0.3",
	       "forward name acl tcp :81 to 10.0.0.2 allow 10.0.0.0/8",
	       "forward name rest tcp :82 to 10.0.0.2",
	       "forward name friends tcp :82 to 10.0.0.3 from 192.0.2.0/24",
	       "forward name down tcp :83 to 10.0.0.4 weight 0");
}

/* render_triggers: map trig (interval, timeout); the control ports once
 * each, whatever the number of triggers on them (set trig_ctl: tcp . 7000,
 * udp . 27015) and the rule marking connections to them from inside; nobody
 * holds a trigger yet: the NAT chains (t1_nat) and the map are empty; the
 * user engine's sockets (set user_ports: tcp . 9000-9003) return before
 * 'vmap @trig'. A trigger is no forward: no chain fN, no element of its own. */
static void test_triggers(void **state)
{
	(void)state;
	GOLDEN("render_triggers", "trigger name game tcp 6112-6119 on tcp 7000",
	       "trigger name q tcp,udp 27000 on udp 27015",
	       "trigger name dup udp 28000 on tcp 7000",
	       "forward name u tcp :9000-9001 to 10.0.0.4 engine user",
	       "forward name u2 tcp 1.2.3.4:9001-9003 to 10.0.0.4 engine user");
}

/* The table's default ACL applies to a trigger's range too
 * (render_trigger_acl: chain t2 drops 198.51.100.0/24 before goto t2_nat). */
static void test_trigger_acl(void **state)
{
	(void)state;
	GOLDEN("render_trigger_acl", "default deny 198.51.100.0/24",
	       "trigger name game tcp 6112-6119 on tcp 7000");
}

/* render_masquerade: 'masquerade' marks the forward's connections for the
 * srcnat chain's masquerade (0x60000001: ours, masqueraded, id 1), so it is
 * no simple forward; 'masquerade ADDR' is an SNAT rule of its own by id
 * before the masquerade (ip, and ip6 for an IPv6 one); a plain forward
 * keeps its client's address unless the hairpin chain marks it. */
static void test_masquerade(void **state)
{
	(void)state;
	GOLDEN("render_masquerade", "forward name vpn tcp :80 to 10.0.0.2:8080 masquerade",
	       "forward name fixed tcp :81 to 10.0.0.3 masquerade 10.0.0.1",
	       "forward name six tcp [2001:db8::1]:82 to [2001:db8::2] masquerade 2001:db8::1",
	       "forward name plain tcp :83 to 10.0.0.4");
}

/* render_per_source: limits per client address make a forward chained
 * (f1, f2, f3 are chains, f4 stays a map element); each limit its sets per
 * family (f1_t4/f1_t6: TCP counts, f2_u4/f2_u6: UDP counts, f1_r4/f1_r6 and
 * f3_r4/f3_r6: rates, with a timeout), sized, dynamic; the rules at the
 * head of the nat chain, after the ACL (f2), counts before the rate, each
 * with its counter and the comment the counters are read back by; the rate
 * as written (10/second burst 10; 5/minute burst 5, a longer timeout). */
static void test_per_source(void **state)
{
	(void)state;
	GOLDEN("render_per_source",
	       "forward name web tcp :80 to 10.0.0.2 max-per-source 2 rate-per-source 10/s",
	       "forward name dns tcp,udp :53 to 10.0.0.3 max-sessions-per-source 4 deny 192.0.2.0/24",
	       "forward name host all 198.51.100.10 to 10.0.0.5 rate-per-source 5/m",
	       "forward name plain tcp :81 to 10.0.0.4");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_table_keeps_its_shape),
		cmocka_unit_test(test_whole_host),
		cmocka_unit_test(test_stopped_table),
		cmocka_unit_test(test_pref_pools),
		cmocka_unit_test(test_source_pools),
		cmocka_unit_test(test_interfaces),
		cmocka_unit_test(test_simple_and_chained),
		cmocka_unit_test(test_triggers),
		cmocka_unit_test(test_trigger_acl),
		cmocka_unit_test(test_masquerade),
		cmocka_unit_test(test_per_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
