// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the classic front ends: the translators of ipportfw and
 * ipmasqadm portfw/mfw/autofw (argv and a table in, statements out), the
 * seed-004 port table file (its statements and every error with its line),
 * 'mark' lines (parse, save, a mark moving its forward) and include-table.
 */
#include "cli/pfc_classic.h"
#include "common/pf_conf.h"
#include "common/pf_interp.h"
#include "common/pf_table.h"
#include "common/pf_tablefile.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define ERRLEN 4096

/* ---- helpers ---- */

static void table_from(const char *text, struct pf_table *t)
{
	char err[ERRLEN];

	pf_table_init(t);
	if (pf_conf_load_text("t.conf", text, strlen(text), t, err, sizeof(err)))
		fail_msg("table_from: %s", err);
}

static int any_cb(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
		  size_t errlen)
{
	(void)st;
	(void)w;
	(void)arg;
	(void)err;
	(void)errlen;
	return 0;
}

/* Every statement a translator sends must parse. */
static void assert_parses(const char *text)
{
	char err[ERRLEN];

	if (pf_conf_foreach("sent", text, strlen(text), any_cb, NULL, err, sizeof(err)))
		fail_msg("sent text does not parse: %s\n%s", err, text);
}

/* Runs a translator on a space-separated command line (no quoting needed). */
static void xlate(const char *prog, const char *line, const struct pf_table *cur,
		  struct pfc_xl *xl)
{
	char buf[1024], *argv[64], *save = NULL, *p;
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (p = strtok_r(buf, " ", &save); p && argc < 63; p = strtok_r(NULL, " ", &save))
		argv[argc++] = p;
	argv[argc] = NULL;
	pfc_classic_xlate(prog, argc, argv, cur, xl);
}

/* The statements a command sends, given the table text (NULL: first call). */
static void expect_send(const char *prog, const char *line, const char *table, const char *want)
{
	struct pf_table t;
	struct pfc_xl xl;

	table_from(table ? table : "", &t);
	xlate(prog, line, table ? &t : NULL, &xl);
	if (xl.kind != PFC_XL_SEND)
		fail_msg("%s %s: kind %d (%s), expected statements", prog, line, xl.kind, xl.err);
	assert_string_equal(xl.text, want);
	assert_parses(xl.text);
	pfc_xl_free(&xl);
	pf_table_clear(&t);
}

static void expect_kind(const char *prog, const char *line, const char *table,
			enum pfc_xl_kind kind, const char *err)
{
	struct pf_table t;
	struct pfc_xl xl;

	table_from(table ? table : "", &t);
	xlate(prog, line, table ? &t : NULL, &xl);
	if (xl.kind != kind)
		fail_msg("%s %s: kind %d (%s), expected %d", prog, line, xl.kind, xl.err, kind);
	if (err)
		assert_string_equal(xl.err, err);
	assert_null(xl.text);
	pf_table_clear(&t);
}

/* ---- ipportfw ---- */

#define PF80 "forward name portfw-tcp-194.160.1.1-80 tcp 194.160.1.1:80 to 10.0.0.2:80 weight 10 balance pref"

static void test_ipportfw(void **state)
{
	(void)state;
	/* Seed 001, glued and separate; it needs the table to join a pool. */
	expect_kind("ipportfw", "-A -t194.160.1.1/80 -R 10.0.0.2/80", NULL, PFC_XL_NEED_TABLE, NULL);
	expect_send("ipportfw", "-A -t194.160.1.1/80 -R 10.0.0.2/80", "", PF80 "\n");
	expect_send("ipportfw", "-A -t 194.160.1.1/80 -R10.0.0.2/80", "", PF80 "\n");
	expect_send("ipportfw", "-A -u194.160.1.1/525 -R 10.0.0.2/525", "",
		    "forward name portfw-udp-194.160.1.1-525 udp 194.160.1.1:525 to 10.0.0.2:525 "
		    "weight 10 balance pref\n");
	/* A second -A on one address/port: the same forward, one more backend. */
	expect_send("ipportfw", "-A -t194.160.1.1/80 -R 10.0.0.3/80 -p 5", PF80 "\n",
		    "del name portfw-tcp-194.160.1.1-80\n"
		    "forward name portfw-tcp-194.160.1.1-80 tcp 194.160.1.1:80 to 10.0.0.2:80 "
		    "weight 10, 10.0.0.3:80 weight 5 balance pref\n");
	expect_send("ipportfw", "-D -t194.160.1.1/80", NULL, "del name portfw-tcp-194.160.1.1-80\n");
	/* -C clears the classic entries only. */
	expect_send("ipportfw", "-C",
		    PF80 "\nforward name web tcp :8080 to 10.0.0.9\n"
			 "forward name portfw-udp-1.2.3.4-53 udp 1.2.3.4:53 to 10.0.0.9\n",
		    "del name portfw-tcp-194.160.1.1-80\ndel name portfw-udp-1.2.3.4-53\n");
	expect_kind("ipportfw", "-C", "forward name web tcp :8080 to 10.0.0.9\n", PFC_XL_NOTHING,
		    NULL);
	expect_kind("ipportfw", "-L", NULL, PFC_XL_LIST, NULL);
	expect_kind("ipportfw", "-h", NULL, PFC_XL_HELP, NULL);
	expect_kind("ipportfw", "", NULL, PFC_XL_USAGE, "expected a command: -A, -D, -C or -L");
	expect_kind("ipportfw", "-X", NULL, PFC_XL_USAGE, "'-X': unknown option");
	expect_kind("ipportfw", "-A -t194.160.1.1/80", NULL, PFC_XL_USAGE,
		    "-A: expected -R a.a.a.a/rport");
	expect_kind("ipportfw", "-A -t194.160.1.1 -R 10.0.0.2/80", NULL, PFC_XL_USAGE,
		    "'194.160.1.1': expected address/port, e.g. 192.0.2.1/80");
	expect_kind("ipportfw", "-A -t194.160.1.1/0 -R 10.0.0.2/80", NULL, PFC_XL_USAGE,
		    "'194.160.1.1/0': '0' is not a port 1-65535; expected address/port");
	expect_kind("ipportfw", "-A -t", NULL, PFC_XL_USAGE, "'-t': expected an address/port after it");
	expect_kind("ipportfw", "-A -D", NULL, PFC_XL_USAGE, "'-D': only one of -A, -D, -C, -L");
	expect_kind("ipportfw", "-D -t1.2.3.4/80 -R 1.2.3.4/80", NULL, PFC_XL_USAGE,
		    "'-R': only -A takes it");
	expect_kind("ipportfw", "-A -t1.2.3.4/80 -R 10.0.0.2/80 -p 70000", NULL, PFC_XL_USAGE,
		    "'70000': -p expects a preference 0-65535");
	/* The same backend twice is refused, not duplicated. */
	expect_kind("ipportfw", "-A -t194.160.1.1/80 -R 10.0.0.2/80", PF80 "\n", PFC_XL_ERROR,
		    "'10.0.0.2:80': already in the pool of forward 'portfw-tcp-194.160.1.1-80'; "
		    "expected another RADDR RPORT (or -E to change its pref)");
}

/* ---- ipmasqadm portfw ---- */

static void test_mpfw(void **state)
{
	static const char *const t27 =
		"forward name portfw-tcp-192.0.2.2-80 tcp 192.0.2.2:80 to 192.168.16.27:80 weight 15 "
		"balance pref\n";

	(void)state;
	/* Seed 002: 15 then 5, in that order, one pref pool. */
	expect_send("ipmasqadm", "portfw -a -P tcp -L 192.0.2.2 80 -R 192.168.16.27 80 -p 15", "",
		    t27);
	expect_send("ipmasqadm", "portfw -a -P tcp -L 192.0.2.2 80 -R 192.168.16.28 80 -p 5", t27,
		    "del name portfw-tcp-192.0.2.2-80\n"
		    "forward name portfw-tcp-192.0.2.2-80 tcp 192.0.2.2:80 to 192.168.16.27:80 "
		    "weight 15, 192.168.16.28:80 weight 5 balance pref\n");
	/* Default pref 10; a host name for LADDR (the seed's 'extip'). */
	expect_send("ipmasqadm", "portfw -a -P udp -L extip 53 -R 10.0.0.5 53", "",
		    "forward name portfw-udp-extip-53 udp extip:53 to 10.0.0.5:53 weight 10 balance "
		    "pref\n");
	expect_send("ipmasqadm", "portfw -d -P tcp -L 192.0.2.2 80", NULL,
		    "del name portfw-tcp-192.0.2.2-80\n");
	expect_send("ipmasqadm", "portfw -d -P tcp -L 192.0.2.2 80 -R 192.168.16.28 80", NULL,
		    "del name portfw-tcp-192.0.2.2-80 192.168.16.28:80\n");
	expect_send("ipmasqadm", "portfw -f", t27, "del name portfw-tcp-192.0.2.2-80\n");
	expect_kind("ipmasqadm", "portfw -l -n", NULL, PFC_XL_LIST, NULL);
	expect_kind("ipmasqadm", "portfw -h", NULL, PFC_XL_HELP, NULL);
	expect_kind("ipmasqadm", "portfw -a -P sctp -L 1.2.3.4 80 -R 10.0.0.2 80", NULL,
		    PFC_XL_USAGE, "'sctp': -P expects tcp or udp");
	expect_kind("ipmasqadm", "portfw -a -P tcp -L 1.2.3.4 80x -R 10.0.0.2 80", NULL,
		    PFC_XL_USAGE, "'80x': expected a port 1-65535 after -L 1.2.3.4");
	expect_kind("ipmasqadm", "portfw -a -P tcp -L 1.2.3.4", NULL, PFC_XL_USAGE,
		    "'-L': expected a port after the address 1.2.3.4");
	expect_kind("ipmasqadm", "portfw -a -P tcp -L 1.2.3.4 80", NULL, PFC_XL_USAGE,
		    "-a: expected -R RADDR RPORT");
	expect_kind("ipmasqadm", "portfw -a -L 1.2.3.4 80 -R 10.0.0.2 80", NULL, PFC_XL_USAGE,
		    "-a: expected -P tcp|udp");
	expect_kind("ipmasqadm", "portfw -f -P tcp", NULL, PFC_XL_USAGE, "-f: takes no -P, -L or -R");
	expect_kind("ipmasqadm", "portfw -d -P tcp -L 1.2.3.4 80 -p 3", NULL, PFC_XL_USAGE,
		    "'-p': only -a takes a preference");
	expect_kind("ipmasqadm", "portfw", NULL, PFC_XL_USAGE,
		    "expected a command: -a, -d, -f or -l");
	expect_kind("ipmasqadm", "frob", NULL, PFC_XL_USAGE,
		    "'frob': unknown module; expected portfw, mfw or autofw");
	expect_kind("ipmasqadm", "", NULL, PFC_XL_USAGE, "expected a module: portfw, mfw or autofw");
}

/* ---- ipmasqadm mfw ---- */

#define MARKS                                                  \
	"mark 1 tcp 192.0.2.3:80 from 209.81.8.0/24\n"         \
	"mark 3 tcp 192.0.2.3:80\n"                            \
	"mark 7 from 10.7.0.0/16,10.8.0.0/16\n"

static void test_mfw(void **state)
{
	static const char *const m1 = MARKS "forward name mfw-1 tcp 192.0.2.3:80 to 192.168.17.3 "
					  "weight 10 balance pref from 209.81.8.0/24\n";

	(void)state;
	/* Seed 002's FRIEND/NEUTRAL, with the marks the ipchains rules made. */
	expect_send("ipmasqadm", "mfw -I -m 3 -r 192.168.15.46", MARKS,
		    "forward name mfw-3 tcp 192.0.2.3:80 to 192.168.15.46 weight 10 balance pref\n");
	expect_send("ipmasqadm", "mfw -I -m 1 -r 192.168.17.3", MARKS,
		    "forward name mfw-1 tcp 192.0.2.3:80 to 192.168.17.3 weight 10 balance pref "
		    "from 209.81.8.0/24\n");
	/* -A appends, -I inserts at the head. */
	expect_send("ipmasqadm", "mfw -A -m 1 -r 192.168.17.4 8080 -p 0", m1,
		    "del name mfw-1\nforward name mfw-1 tcp 192.0.2.3:80 to 192.168.17.3 weight 10, "
		    "192.168.17.4:8080 weight 0 balance pref from 209.81.8.0/24\n");
	expect_send("ipmasqadm", "mfw -I -m 1 -r 192.168.17.4", m1,
		    "del name mfw-1\nforward name mfw-1 tcp 192.0.2.3:80 to 192.168.17.4 weight 10, "
		    "192.168.17.3 weight 10 balance pref from 209.81.8.0/24\n");
	expect_send("ipmasqadm", "mfw -E -m 1 -r 192.168.17.3 -p 0", m1,
		    "backend name mfw-1 192.168.17.3 weight 0\n");
	expect_send("ipmasqadm", "mfw -E -m 1", m1, "backend name mfw-1 192.168.17.3 weight 10\n");
	expect_send("ipmasqadm", "mfw -S -m 1", NULL, "schedule name mfw-1\n");
	expect_send("ipmasqadm", "mfw -D -m 1", NULL, "del name mfw-1\n");
	expect_send("ipmasqadm", "mfw -D -m 1 -r 192.168.17.4 8080", NULL,
		    "del name mfw-1 192.168.17.4:8080\n");
	expect_send("ipmasqadm", "mfw -F", m1, "del name mfw-1\n");
	expect_kind("ipmasqadm", "mfw -L", NULL, PFC_XL_LIST, NULL);
	expect_kind("ipmasqadm", "mfw -A -m 2 -r 10.0.0.2", MARKS, PFC_XL_ERROR,
		    "'2': no mark 2 in the table; expected 'portfw mark 2 [PROTO LISTEN] from "
		    "CIDR[,CIDR...]' first (it stands in for the ipchains -m 2 rule)");
	expect_kind("ipmasqadm", "mfw -E -m 3 -p 1", MARKS, PFC_XL_ERROR,
		    "'3': mark 3 has no entries (no forward mfw-3)");
	expect_kind("ipmasqadm", "mfw -E -m 1 -r 10.9.9.9 -p 1", m1, PFC_XL_ERROR,
		    "'10.9.9.9': not an entry of mark 1");
	expect_kind("ipmasqadm", "mfw -A -m abc -r 10.0.0.2", NULL, PFC_XL_USAGE,
		    "'abc': -m expects a mark 1-4294967295");
	expect_kind("ipmasqadm", "mfw -A -r 10.0.0.2", NULL, PFC_XL_USAGE, "-A: expected -m FWMARK");
	expect_kind("ipmasqadm", "mfw -A -m 1", NULL, PFC_XL_USAGE, "-A: expected -r RADDR [RPORT]");
	expect_kind("ipmasqadm", "mfw -A -m 1 -r 10.0.0.2 99999", NULL, PFC_XL_USAGE,
		    "'99999': expected a port 1-65535 after -r 10.0.0.2");
	expect_kind("ipmasqadm", "mfw -S -m 1 -r 10.0.0.2", NULL, PFC_XL_USAGE,
		    "'-r': -S takes only -m FWMARK");
	expect_kind("ipmasqadm", "mfw -L -m 1", NULL, PFC_XL_USAGE, "-L: takes no -m, -r or -p");
}

/* A mark without PROTO LISTEN: the whole host, through the kernel engine. */
static void test_mfw_whole_host(void **state)
{
	struct pf_table t;
	struct pfc_xl xl;

	(void)state;
	table_from(MARKS, &t);
	xlate("ipmasqadm", "mfw -A -m 7 -r 10.0.0.2", &t, &xl);
	assert_int_equal(xl.kind, PFC_XL_SEND);
	assert_string_equal(xl.text, "forward name mfw-7 all any to 10.0.0.2 weight 10 balance "
				     "pref from 10.7.0.0/16,10.8.0.0/16 engine kernel\n");
	assert_parses(xl.text);
	pfc_xl_free(&xl);
	xlate("ipmasqadm", "mfw -A -m 7 -r 10.0.0.2 80", &t, &xl);
	assert_int_equal(xl.kind, PFC_XL_ERROR);
	assert_string_equal(xl.err, "'80': mark 7 has no PROTO LISTEN (the whole host), so its "
				    "entries take no RPORT; expected -r RADDR alone");
	pf_table_clear(&t);
}

/* ---- ipmasqadm autofw ---- */

static void test_autofw(void **state)
{
	struct pf_table t;
	struct pfc_xl xl;

	(void)state;
	/* No arguments: the usage (ipautofw's, as seed 002 shows it). */
	expect_kind("ipmasqadm", "autofw", NULL, PFC_XL_USAGE, "");
	xlate("ipmasqadm", "autofw", NULL, &xl);
	assert_non_null(strstr(xl.usage, "Usage:\n    ipautofw <command> <options>\n\nValid "
					 "commands:\n    -A                           add new "
					 "autoforward entry\n"));
	expect_send("ipmasqadm", "autofw -A -r udp 6970 6999 -h 10.0.0.9 -u", NULL,
		    "forward name autofw-udp-6970-6999 udp :6970-6999 to 10.0.0.9\n");
	expect_send("ipmasqadm", "autofw -A -r tcp 7000 7000 -h 10.0.0.9", NULL,
		    "forward name autofw-tcp-7000-7000 tcp :7000 to 10.0.0.9\n");
	expect_send("ipmasqadm", "autofw -D -r udp 6970 6999", NULL,
		    "del name autofw-udp-6970-6999\n");
	expect_send("ipmasqadm", "autofw -F",
		    "forward name autofw-udp-6970-6999 udp :6970-6999 to 10.0.0.9\n"
		    "forward name x tcp :1 to 10.0.0.1\n",
		    "del name autofw-udp-6970-6999\n");
	/* Port triggering: the kernel engine's 'trigger' (15 s, -u 15 min). */
	table_from("", &t);
	xlate("ipmasqadm", "autofw -A -r udp 6970 6999 -c tcp 554", &t, &xl);
	assert_int_equal(xl.kind, PFC_XL_SEND);
	assert_string_equal(xl.text, "trigger name autofw-udp-6970-6999 udp 6970-6999 on tcp 554 "
				     "timeout 15s\n");
	assert_parses(xl.text);
	pfc_xl_free(&xl);
	xlate("ipmasqadm", "autofw -A -r udp 6970 6999 -c tcp 554 -u", &t, &xl);
	assert_string_equal(xl.text, "trigger name autofw-udp-6970-6999 udp 6970-6999 on tcp 554 "
				     "timeout 15m\n");
	pfc_xl_free(&xl);
	pf_table_clear(&t);
	expect_kind("ipmasqadm", "autofw -A -r icmp 1 2 -h 10.0.0.9", NULL, PFC_XL_USAGE,
		    "'icmp': -r expects tcp or udp, then LOW HIGH");
	expect_kind("ipmasqadm", "autofw -A -r tcp 10 5 -h 10.0.0.9", NULL, PFC_XL_USAGE,
		    "'5': -r tcp 10 expects a high port 10-65535");
	expect_kind("ipmasqadm", "autofw -A -r tcp 10 20", NULL, PFC_XL_USAGE,
		    "-A: expected -h HOST or -c PROTO PORT");
	expect_kind("ipmasqadm", "autofw -A -r tcp 10 20 -h 1.2.3.4 -c tcp 1", NULL, PFC_XL_USAGE,
		    "'-c': expected either -h HOST or -c PROTO PORT, not both");
	expect_kind("ipmasqadm", "autofw -A -r tcp 10 20 -c tcp", NULL, PFC_XL_USAGE,
		    "'-c': -c tcp expects a port 1-65535");
	expect_kind("ipmasqadm", "autofw -Q", NULL, PFC_XL_USAGE, "'-Q': unknown option");
}

/* ---- the port table file (seed 004) ---- */

static void expect_table(const char *text, const char *want)
{
	char *out = NULL, err[ERRLEN];

	if (pf_tablefile_translate("ports.txt", text, strlen(text), &out, err, sizeof(err)))
		fail_msg("table file refused: %s", err);
	assert_string_equal(out, want);
	assert_parses(out);
	free(out);
}

static void expect_table_error(const char *text, const char *want)
{
	char *out = NULL, err[ERRLEN];

	assert_int_equal(pf_tablefile_translate("ports.txt", text, strlen(text), &out, err,
						sizeof(err)),
			 -1);
	assert_null(out);
	assert_string_equal(err, want);
}

#define TF_WHAT "expected EXT-PORT INT-IP INT-PORT [# comment]"

static void test_tablefile(void **state)
{
	(void)state;
	/* The seed's own table: comments anywhere, one output line per line. */
	expect_table("# Ext-port Int-IP Int-port\n"
		     "13102 172.16.0.2 80 # Netbook Apache\n"
		     "13103 172.16.0.3 80 # D800 Apache\n"
		     "13110 172.16.0.2 13110 # Sauerbraten\n"
		     "13111 172.16.0.2 13111 # Sauerbraten Ping\n"
		     "# 7777 172.16.0.4 7777 # UT2004\n"
		     "\n"
		     "  # 7779 172.16.0.4 80 # UT2004 Webcontrol\n",
		     "\n"
		     "forward name table-13102 tcp,udp :13102 to 172.16.0.2:80\n"
		     "forward name table-13103 tcp,udp :13103 to 172.16.0.3:80\n"
		     "forward name table-13110 tcp,udp :13110 to 172.16.0.2:13110\n"
		     "forward name table-13111 tcp,udp :13111 to 172.16.0.2:13111\n"
		     "\n\n\n");
	/* Ranges: RANGE (same ports), a range of the same size, one port; tabs,
	 * CRLF, a comment glued to a word, no newline at the end, IPv6. */
	expect_table("7000-7010\t10.0.0.4\tRANGE\r\n"
		     "8000-8001 10.0.0.4 9000-9001#glued\n"
		     "8100-8101 10.0.0.4 80\n"
		     "53 2001:db8::53 53\n"
		     "54 2001:db8::53 range",
		     "forward name table-7000-7010 tcp,udp :7000-7010 to 10.0.0.4\n"
		     "forward name table-8000-8001 tcp,udp :8000-8001 to 10.0.0.4:9000-9001\n"
		     "forward name table-8100-8101 tcp,udp :8100-8101 to 10.0.0.4:80\n"
		     "forward name table-53 tcp,udp :53 to [2001:db8::53]:53\n"
		     "forward name table-54 tcp,udp :54 to 2001:db8::53\n");
	expect_table("", "");
	expect_table("# only a comment", "\n");
	/* Errors name the line and the word. */
	expect_table_error("13102 10.0.0.2 80\n\n13110x 10.0.0.2 13110 # typo\n",
			   "ports.txt:3: '13110x': " TF_WHAT
			   "; EXT-PORT is a port 1-65535 or a range LOW-HIGH");
	expect_table_error("13102 10.0.0.2\n",
			   "ports.txt:1: at end of line: " TF_WHAT "; INT-PORT is missing");
	expect_table_error("13102\n", "ports.txt:1: at end of line: " TF_WHAT
				      "; INT-IP and INT-PORT are missing");
	expect_table_error("1 10.0.0.2 80 Apache\n", "ports.txt:1: 'Apache': " TF_WHAT
						     "; one line holds three words (start a comment "
						     "with '#')");
	expect_table_error("1 netbook 80\n",
			   "ports.txt:1: 'netbook': " TF_WHAT "; INT-IP is an IPv4 or IPv6 address");
	expect_table_error("1 0.0.0.0 80\n",
			   "ports.txt:1: '0.0.0.0': " TF_WHAT "; INT-IP is an IPv4 or IPv6 address");
	expect_table_error("0 10.0.0.2 80\n", "ports.txt:1: '0': " TF_WHAT
					      "; EXT-PORT is a port 1-65535 or a range LOW-HIGH");
	expect_table_error("20-10 10.0.0.2 80\n", "ports.txt:1: '20-10': " TF_WHAT
						  "; EXT-PORT is a port 1-65535 or a range "
						  "LOW-HIGH");
	expect_table_error("1 10.0.0.2 65536\n",
			   "ports.txt:1: '65536': " TF_WHAT "; INT-PORT is a port 1-65535, a range "
			   "LOW-HIGH or RANGE (the same ports)");
	expect_table_error("10-12 10.0.0.2 20-21\n",
			   "ports.txt:1: '20-21': " TF_WHAT "; the INT-PORT range has 2 ports, the "
			   "EXT-PORT range 3 (ranges map 1:1; or give one port, or RANGE)");
	{
		static const char nul[] = "1 10.0.0.2 80\n2 10.0.\0000.2 80\n";
		char *out = NULL, err[ERRLEN];

		assert_int_equal(pf_tablefile_translate("ports.txt", nul, sizeof(nul) - 1, &out,
							err, sizeof(err)),
				 -1);
		assert_string_equal(err, "ports.txt:2: NUL byte in line; expected text");
	}
}

/* ---- marks and include-table in the config ---- */

static void test_marks(void **state)
{
	struct pf_table t;
	struct pf_forward *f, *c;
	char err[ERRLEN], *text;

	(void)state;
	table_from("mark 3 tcp 192.0.2.3:80\n"
		   "mark 1 tcp 192.0.2.3:80 from 209.81.8.0/24\n"
		   "mark 7 from 10.7.0.0/16, 10.8.0.0/16\n"
		   "mark 9 udp [::1]:5000-5010\n"
		   "mark 9 udp [::1]:5000-5009\n"
		   "mark 11\n"
		   "del mark 11\n"
		   "forward name mfw-1 tcp 192.0.2.3:80 to 10.0.0.2 from 209.81.8.0/24\n",
		   &t);
	assert_int_equal(t.nmarks, 4);
	text = pf_table_format(&t);
	assert_string_equal(text, "# portfw table, 1 forwards\n"
				  "mark 1 tcp 192.0.2.3:80 from 209.81.8.0/24\n"
				  "mark 3 tcp 192.0.2.3:80\n"
				  "mark 7 from 10.7.0.0/16,10.8.0.0/16\n"
				  "mark 9 udp [::1]:5000-5009\n"
				  "forward name mfw-1 tcp 192.0.2.3:80 to 10.0.0.2 from "
				  "209.81.8.0/24\n");
	free(text);
	/* A changed mark moves its forward: listen and sources follow. */
	f = pf_table_find_name(&t, "mfw-1");
	c = pf_mark_apply(pf_table_find_mark(&t, 9), f);
	assert_non_null(c);
	text = calloc(1, PF_LINE_MAX);
	pf_forward_format(c, text, PF_LINE_MAX);
	assert_string_equal(text, "forward name mfw-1 udp [::1]:5000-5009 to 10.0.0.2");
	free(text);
	pf_forward_unref(c);
	/* A port forward cannot follow a whole-host mark, nor the other way round;
	 * a whole-host forward follows the sources of a whole-host mark. */
	assert_null(pf_mark_apply(pf_table_find_mark(&t, 7), f));
	pf_table_clear(&t);
	table_from("mark 7 from 10.7.0.0/16\nmark 8 tcp :80\n"
		   "forward name mfw-7 all any to 10.0.0.2 from 10.9.0.0/16 engine kernel\n",
		   &t);
	f = pf_table_find_name(&t, "mfw-7");
	assert_null(pf_mark_apply(pf_table_find_mark(&t, 8), f));
	c = pf_mark_apply(pf_table_find_mark(&t, 7), f);
	assert_non_null(c);
	text = calloc(1, PF_LINE_MAX);
	pf_forward_format(c, text, PF_LINE_MAX);
	assert_string_equal(text, "forward name mfw-7 all any to 10.0.0.2 engine kernel from "
				  "10.7.0.0/16");
	free(text);
	pf_forward_unref(c);
	assert_true(pf_table_del_mark(&t, 8));
	assert_false(pf_table_del_mark(&t, 8));
	assert_null(pf_table_find_mark(&t, 8));
	pf_table_clear(&t);

	/* Errors. */
	pf_table_init(&t);
	assert_int_equal(pf_conf_load_text("t.conf", "mark x\n", 7, &t, err, sizeof(err)), -1);
	assert_string_equal(err, "t.conf:1: 'x': 'mark' expects a mark number 1-4294967295 (the "
				 "ipchains -m / ipmasqadm mfw -m value)");
	assert_int_equal(pf_conf_load_text("t.conf", "mark 1 tcp :80 frm 1.2.3.4\n", 26, &t, err,
					   sizeof(err)),
			 -1);
	assert_string_equal(err, "t.conf:1: 'frm': expected 'from CIDR[,CIDR...]' or the end of "
				 "the mark");
	assert_int_equal(pf_conf_load_text("t.conf", "mark 1 from\n", 12, &t, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "t.conf:1: at end of line: 'from' expects networks "
				 "ADDR[/LEN][,ADDR[/LEN]...]");
	assert_int_equal(pf_conf_load_text("t.conf", "include-table x\n", 16, &t, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "t.conf:1: includes are read from config files only");
	pf_table_clear(&t);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_include_table(void **state)
{
	char dir[] = "/tmp/test_classic.XXXXXX", conf[256], sub[256], tab[256], err[ERRLEN];
	struct pf_table t;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/portfw.conf", dir);
	snprintf(sub, sizeof(sub), "%s/tables", dir);
	snprintf(tab, sizeof(tab), "%s/tables/ports.txt", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	write_file(conf, "forward name web tcp :80 to 10.0.0.1\ninclude-table tables/ports.txt\n");
	write_file(tab, "# Ext-port Int-IP Int-port\n13102 172.16.0.2 80\n");
	pf_table_init(&t);
	if (pf_conf_load(conf, &t, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.fwd[1]->conf.name, "table-13102");
	/* The forward remembers the table file's line. */
	assert_int_equal(t.fwd[1]->conf.line, 2);
	assert_non_null(strstr(t.fwd[1]->conf.src, "tables/ports.txt"));
	pf_table_clear(&t);
	write_file(tab, "13102 172.16.0.2 80\n13103 172.16.0.3 8o\n");
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(conf, &t, err, sizeof(err)), -1);
	{
		char want[1024];

		snprintf(want, sizeof(want),
			 "%s:2: '8o': " TF_WHAT "; INT-PORT is a port 1-65535, a range LOW-HIGH "
			 "or RANGE (the same ports) (included from %s:2)",
			 tab, conf);
		assert_string_equal(err, want);
	}
	pf_table_clear(&t);
	unlink(tab);
	unlink(conf);
	rmdir(sub);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipportfw),     cmocka_unit_test(test_mpfw),
		cmocka_unit_test(test_mfw),	     cmocka_unit_test(test_mfw_whole_host),
		cmocka_unit_test(test_autofw),	     cmocka_unit_test(test_tablefile),
		cmocka_unit_test(test_marks),	     cmocka_unit_test(test_include_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
