// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of portfw explain's pure parts: the report (exit status, text,
 * JSON), the walk of other nftables tables (libnftables JSON in, findings
 * out) and the reading of iptables-legacy-save's text.
 */
#include "cli/pfc_explain.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- the report ---- */

static void test_report(void **state)
{
	struct pfc_xreport r = { 0 };
	json_t *j;
	char *text = NULL;
	size_t len = 0;
	FILE *fp;
	int i;

	(void)state;
	pfc_x_add(&r, "listen", PFC_X_OK, NULL, "%s is local", "10.0.0.1");
	assert_int_equal(pfc_x_exit(&r), 0);
	pfc_x_add(&r, "health", PFC_X_WARN, NULL, "drain");
	assert_int_equal(pfc_x_exit(&r), 0); /* a warning blocks nothing */
	pfc_x_add(&r, "ip_forward", PFC_X_FAIL, "sysctl -w net.ipv4.ip_forward=1", "off");
	assert_int_equal(pfc_x_exit(&r), 1);
	/* More than the first allocation holds. */
	for (i = 0; i < 40; i++)
		pfc_x_add(&r, "firewall", PFC_X_SKIP, NULL, "n %d", i);
	assert_int_equal(r.n, 43);

	fp = open_memstream(&text, &len);
	pfc_x_print(fp, &r);
	fclose(fp);
	assert_non_null(strstr(text, "ok    listen      10.0.0.1 is local\n"));
	assert_non_null(strstr(text, "FAIL  ip_forward  off\n"));
	assert_non_null(strstr(text, "fix: sysctl -w net.ipv4.ip_forward=1\n"));
	assert_non_null(strstr(text, "=> 1 problem blocks the forward (1 warning)\n"));
	free(text);

	j = pfc_x_json(&r);
	assert_int_equal(json_array_size(j), 43);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 2), "status")),
			    "fail");
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 2), "fix")),
			    "sysctl -w net.ipv4.ip_forward=1");
	assert_true(json_is_null(json_object_get(json_array_get(j, 0), "fix")));
	json_decref(j);
	pfc_x_free(&r);
	assert_int_equal(r.n, 0);
}

/* ---- the nftables walk ---- */

static const char *const hook_fwd[] = { "forward", "postrouting", NULL };
static const char *const hook_pre[] = { "prerouting", NULL };

/* A forwarded packet to 10.0.0.2:9000 (DNATed) and the same arriving on
 * the gateway for :8080, before our DNAT. */
static void stages(struct pfc_xstage st[2])
{
	struct pfc_xpkt p = { .family = AF_INET, .l4 = IPPROTO_TCP, .dport = 9000, .dnat = true };

	p.daddr.sin.sin_family = AF_INET;
	inet_pton(AF_INET, "10.0.0.2", &p.daddr.sin.sin_addr);
	p.oif = "lan";
	st[1] = (struct pfc_xstage){ .what = "forwarded", .hooks = hook_fwd, .pkt = p,
				     .prio_lo = INT_MIN, .prio_hi = INT_MAX,
				     .accept = "ct status dnat" };
	p.dport = 8080;
	p.dnat = false;
	memset(&p.daddr, 0, sizeof(p.daddr));
	p.oif = NULL;
	st[0] = (struct pfc_xstage){ .what = "arriving", .hooks = hook_pre, .pkt = p,
				     .prio_lo = INT_MIN, .prio_hi = -110, .nat_check = true,
				     .nat_prio = -110, .accept = "tcp dport 8080" };
}

/* Scans a ruleset written as a JSON text; the findings in r. */
static size_t scan(const char *text, struct pfc_xreport *r)
{
	struct pfc_xstage st[2];
	json_error_t e;
	json_t *rs = json_loads(text, 0, &e);
	size_t n;

	if (!rs)
		fail_msg("bad test JSON: %s (line %d)", e.text, e.line);
	stages(st);
	n = pfc_xrules_scan(rs, st, 2, r);
	json_decref(rs);
	return n;
}

#define CHAIN(fam, tab, name, type, hook, prio, pol)                                          \
	"{\"chain\": {\"family\": \"" fam "\", \"table\": \"" tab "\", \"name\": \"" name     \
	"\", \"handle\": 1, \"type\": \"" type "\", \"hook\": \"" hook "\", \"prio\": " #prio \
	", \"policy\": \"" pol "\"}}"
#define RCHAIN(fam, tab, name)                                                                \
	"{\"chain\": {\"family\": \"" fam "\", \"table\": \"" tab "\", \"name\": \"" name     \
	"\", \"handle\": 2}}"
#define RULE(fam, tab, chain, handle, expr)                                                   \
	"{\"rule\": {\"family\": \"" fam "\", \"table\": \"" tab "\", \"chain\": \"" chain    \
	"\", \"handle\": " #handle ", \"expr\": [" expr "]}}"
#define M(left, op, right) "{\"match\": {\"op\": \"" op "\", \"left\": " left ", \"right\": " right "}}"
#define DPORT(p) "{\"payload\": {\"protocol\": \"" p "\", \"field\": \"dport\"}}"
#define CTSTATE "{\"ct\": {\"key\": \"state\"}}"
#define CTSTATUS "{\"ct\": {\"key\": \"status\"}}"
#define DADDR "{\"payload\": {\"protocol\": \"ip\", \"field\": \"daddr\"}}"
#define RS(items) "{\"nftables\": [{\"metainfo\": {}}, " items "]}"

static void test_policy_drop(void **state)
{
	struct pfc_xreport r = { 0 };

	(void)state;
	/* A forward chain with policy drop, accepting only established flows. */
	assert_int_equal(scan(RS(CHAIN("inet", "fw", "fwd_in", "filter", "forward", 0, "drop") ","
				 RULE("inet", "fw", "fwd_in", 3,
				      M(CTSTATE, "in", "[\"established\", \"related\"]")
				      ", {\"accept\": null}")),
			      &r),
			 1);
	assert_int_equal(r.v[0].st, PFC_X_FAIL);
	assert_non_null(strstr(r.v[0].found, "table inet fw, chain fwd_in (hook forward): "
					     "policy drop drops the forwarded packets"));
	assert_non_null(strstr(r.v[0].fix, "nft insert rule inet fw fwd_in ct status dnat accept"));
	pfc_x_free(&r);

	/* ... with a rule that accepts DNATed flows: nothing found. */
	assert_int_equal(scan(RS(CHAIN("inet", "fw", "f", "filter", "forward", 0, "drop") ","
				 RULE("inet", "fw", "f", 3, M(CTSTATUS, "==", "\"dnat\"")
							    ", {\"accept\": null}")),
			      &r),
			 0);
	/* ... or the backend's address and port. */
	assert_int_equal(scan(RS(CHAIN("ip", "filter", "FORWARD", "filter", "forward", 0, "drop") ","
				 RULE("ip", "filter", "FORWARD", 3,
				      M(DADDR, "==", "{\"prefix\": {\"addr\": \"10.0.0.0\", \"len\": 24}}")
				      ", " M(DPORT("tcp"), "==", "{\"set\": [80, 9000]}")
				      ", {\"accept\": null}")),
			      &r),
			 0);
	/* An accept we cannot read (a named set): may be dropped. */
	assert_int_equal(scan(RS(CHAIN("ip", "filter", "FORWARD", "filter", "forward", 0, "drop") ","
				 RULE("ip", "filter", "FORWARD", 3,
				      M(DADDR, "==", "\"@allowed\"") ", {\"accept\": null}")),
			      &r),
			 1);
	assert_int_equal(r.v[0].st, PFC_X_WARN);
	pfc_x_free(&r);
	/* An ip6 table, an input chain: not on this IPv4 flow's way. */
	assert_int_equal(scan(RS(CHAIN("ip6", "filter", "FORWARD", "filter", "forward", 0, "drop") ","
				 CHAIN("inet", "filter", "input", "filter", "input", 0, "drop")),
			      &r),
			 0);
	/* Our own table is ours. */
	assert_int_equal(scan(RS(CHAIN("inet", "portfw", "x", "filter", "forward", 0, "drop")), &r),
			 0);
	assert_int_equal(r.n, 0);
}

static void test_drop_rules(void **state)
{
	struct pfc_xreport r = { 0 };

	(void)state;
	/* A drop of another port, of UDP, of invalid packets: not ours. */
	assert_int_equal(scan(RS(CHAIN("ip", "f", "c", "filter", "forward", 0, "accept") ","
				 RULE("ip", "f", "c", 4, M(DPORT("tcp"), "==", "22") ", {\"drop\": null}") ","
				 RULE("ip", "f", "c", 5, M(DPORT("udp"), "==", "9000") ", {\"drop\": null}") ","
				 RULE("ip", "f", "c", 6, M(CTSTATE, "==", "\"invalid\"") ", {\"drop\": null}") ","
				 RULE("ip", "f", "c", 7, M(DPORT("tcp"), "!=", "9000") ", {\"drop\": null}")),
			      &r),
			 0);
	/* A drop of our port behind a jump; a reject after it is not reached. */
	assert_int_equal(scan(RS(CHAIN("ip", "f", "FORWARD", "filter", "forward", 0, "accept") ","
				 RCHAIN("ip", "f", "blocked") ","
				 RULE("ip", "f", "blocked", 9, M(DPORT("tcp"), "==", "{\"range\": [8000, 9999]}")
							       ", {\"counter\": null}, {\"drop\": null}") ","
				 RULE("ip", "f", "FORWARD", 4,
				      M("{\"meta\": {\"key\": \"oifname\"}}", "==", "\"la*\"")
				      ", {\"jump\": {\"target\": \"blocked\"}}") ","
				 RULE("ip", "f", "FORWARD", 5, "{\"reject\": null}")),
			      &r),
			 1);
	assert_int_equal(r.v[0].st, PFC_X_FAIL);
	assert_non_null(strstr(r.v[0].found, "table ip f, (from base chain FORWARD) chain blocked "
					     "(hook forward): rule 9 (drop) drops"));
	assert_non_null(strstr(r.v[0].fix, "nft delete rule ip f blocked handle 9"));
	pfc_x_free(&r);
	/* A verdict map or an iptables match: it may. */
	assert_int_equal(scan(RS(CHAIN("ip", "filter", "FORWARD", "filter", "forward", 0, "accept") ","
				 RULE("ip", "filter", "FORWARD", 4, "{\"xt\": null}, {\"drop\": null}")),
			      &r),
			 1);
	assert_int_equal(r.v[0].st, PFC_X_WARN);
	pfc_x_free(&r);
	/* A jump loop ends at the depth limit. */
	assert_int_equal(scan(RS(CHAIN("ip", "f", "FORWARD", "filter", "forward", 0, "drop") ","
				 RCHAIN("ip", "f", "a") ","
				 RULE("ip", "f", "a", 3, "{\"jump\": {\"target\": \"a\"}}") ","
				 RULE("ip", "f", "FORWARD", 4, "{\"jump\": {\"target\": \"a\"}}")),
			      &r),
			 1);
	pfc_x_free(&r);
}

static void test_nat_first(void **state)
{
	struct pfc_xreport r = { 0 };

	(void)state;
	/* A redirect of our port before our DNAT takes the flow... */
	assert_int_equal(scan(RS(CHAIN("ip", "e", "pre", "nat", "prerouting", -150, "accept") ","
				 RULE("ip", "e", "pre", 2, M(DPORT("tcp"), "==", "8080")
							   ", {\"redirect\": {\"port\": 9999}}")),
			      &r),
			 1);
	assert_int_equal(r.v[0].st, PFC_X_FAIL);
	assert_non_null(strstr(r.v[0].found, "table ip e, chain pre (hook prerouting): rule 2 "
					     "(redirect) takes the arriving packets"));
	pfc_x_free(&r);
	/* ... one after it finds the flow NATed already. */
	assert_int_equal(scan(RS(CHAIN("ip", "nat", "PREROUTING", "nat", "prerouting", -100, "accept") ","
				 RULE("ip", "nat", "PREROUTING", 2, M(DPORT("tcp"), "==", "8080")
								    ", {\"dnat\": {\"addr\": \"1.2.3.4\"}}")),
			      &r),
			 0);
}

static void test_garbage(void **state)
{
	struct pfc_xreport r = { 0 };

	(void)state;
	/* Shapes libnftables never writes: nothing found, nothing broken. */
	assert_int_equal(scan("{\"nftables\": 3}", &r), 0);
	assert_int_equal(scan("{\"nftables\": [1, \"x\", {\"chain\": 5}, {\"rule\": []}]}", &r), 0);
	assert_int_equal(scan(RS(CHAIN("ip", "f", "c", "filter", "forward", 0, "accept") ","
				 "{\"rule\": {\"family\": \"ip\", \"table\": \"f\", \"chain\": \"c\", "
				 "\"expr\": [{\"match\": {\"op\": 1, \"left\": [], \"right\": null}}, "
				 "{\"jump\": {}}, {\"drop\": null}]}}"),
			      &r),
			 1);
	assert_int_equal(r.v[0].st, PFC_X_WARN);
	pfc_x_free(&r);
}

/* ---- iptables-legacy-save ---- */

static void test_legacy(void **state)
{
	static const char *const fwd[] = { "mangle:FORWARD", "filter:FORWARD", NULL };
	struct pfc_xlegacy q = { .tool = "iptables-legacy", .what = "forwarded", .where = fwd,
				 .l4 = IPPROTO_TCP, .dport = 9000, .dnat = true,
				 .accept = "-m conntrack --ctstate DNAT" };
	struct pfc_xreport r = { 0 };
	const char *drop = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n"
			   "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
			   "-A FORWARD -p udp -m udp --dport 9000 -j REJECT\n"
			   "-A FORWARD -m comment --comment \"a -j DROP\" -j LOG\nCOMMIT\n";
	const char *ok = "*filter\n:FORWARD DROP [0:0]\n"
			 "-A FORWARD -m conntrack --ctstate DNAT -j ACCEPT\nCOMMIT\n";
	const char *jump = "*filter\n:FORWARD ACCEPT [0:0]\n:DOCKER - [0:0]\n"
			   "-A FORWARD -o lan -j DOCKER\n"
			   "-A DOCKER -p tcp -m multiport --dports 80,8000:9999 -j DROP\nCOMMIT\n";
	const char *sure = "*filter\n:FORWARD ACCEPT [0:0]\n"
			   "-A FORWARD -p tcp -m comment --comment \"no -j ACCEPT\" -m tcp "
			   "--dport 9000 -j REJECT --reject-with tcp-reset\nCOMMIT\n";

	(void)state;
	assert_int_equal(pfc_xlegacy_scan(drop, &q, &r), 1);
	assert_int_equal(r.v[0].st, PFC_X_FAIL);
	assert_non_null(strstr(r.v[0].found, "iptables-legacy table filter, chain FORWARD: "
					     "policy DROP drops the forwarded packets"));
	assert_string_equal(r.v[0].fix, "iptables-legacy -t filter -I FORWARD -m conntrack "
					"--ctstate DNAT -j ACCEPT");
	pfc_x_free(&r);
	assert_int_equal(pfc_xlegacy_scan(ok, &q, &r), 0);
	/* A jump to a chain that drops our port, behind an -o test: it may. */
	assert_int_equal(pfc_xlegacy_scan(jump, &q, &r), 1);
	assert_int_equal(r.v[0].st, PFC_X_WARN);
	assert_non_null(strstr(r.v[0].found, "chain DOCKER: a rule -j DROP may drop"));
	pfc_x_free(&r);
	/* A comment is no test: this reject surely applies. */
	assert_int_equal(pfc_xlegacy_scan(sure, &q, &r), 1);
	assert_int_equal(r.v[0].st, PFC_X_FAIL);
	assert_non_null(strstr(r.v[0].found, "chain FORWARD: a rule -j REJECT drops"));
	pfc_x_free(&r);
	assert_int_equal(pfc_xlegacy_scan("", &q, &r), 0);
	assert_int_equal(pfc_xlegacy_scan("-A FORWARD -j DROP\n*\n-A \n-A x\n:FORWARD\n", &q, &r), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report),	   cmocka_unit_test(test_policy_drop),
		cmocka_unit_test(test_drop_rules), cmocka_unit_test(test_nat_first),
		cmocka_unit_test(test_garbage),	   cmocka_unit_test(test_legacy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
