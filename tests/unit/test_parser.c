// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the command language: the lexer, HOST:PORT parsing, durations,
 * every statement, every error message (with its "FILE:LINE: 'word': " prefix),
 * texts with comments and continuations, and config files with includes.
 */
#include "common/pf_addr.h"
#include "common/pf_conf.h"
#include "common/pf_flowlog.h"
#include "common/pf_interp.h"
#include "common/pf_opt.h"
#include "common/pf_table.h"
#include "common/pf_util.h"

#include <errno.h>
#include <limits.h>
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

#define LISTEN_WHAT "a listen address ADDR:PORT, :PORT, [IPV6]:PORT or ADDR:LOW-HIGH"
#define BACKEND_WHAT "a backend HOST, HOST:PORT or HOST:LOW-HIGH"
#define PROTO_MSG "expected a protocol: tcp, udp or tcp,udp"
#define PROTO_ALL_MSG "expected a protocol: tcp, udp, tcp,udp or all"
#define LISTEN_ALL_WHAT                                                                  \
	"a listen address without a port: ADDR, [IPV6], 'any' (every local address) or " \
	"%INTERFACE ('all' forwards every port)"
#define NAME_MSG                                                                       \
	"expected a name: a letter, then letters, digits, '-', '_' or '.', at most 63 " \
	"characters"
#define UNKNOWN_OPT_MSG                                                                 \
	"unknown option; expected ',' and another backend, 'weight N', or one of: name, " \
	"balance, engine, ftp, allow-loopback, masquerade, transparent, from, allow, deny, " \
	"proxy-protocol, accept-proxy, defer-accept, check, check-interval, check-timeout, fall, rise, " \
	"check-port, check-send, check-expect, agent-port, agent-interval, connect-timeout, " \
	"idle-timeout, half-close-timeout, maxconn, udp-timeout, udp-stream-timeout, max-sessions, " \
	"max-per-source, max-sessions-per-source, rate-per-source, log, resolve, resolve-interval"
#define TRANSP_MASQ_MSG                                                                \
	"'transparent' and 'masquerade' exclude each other: the backends see the client's " \
	"address or the gateway's; expected one of them"
#define DRAIN_MSG \
	"'drain-timeout' expects a duration 0-1d (like 30s, 5m; 0: cut flows at once)"
#define UDP_CHECK_MSG                                                                   \
	"a UDP service answers no connect; expected check-send \"...\" (a datagram it "       \
	"replies to, like a DNS query in \\xHH escapes) or check-port PORT (a TCP port beside " \
	"it)"
#define TRAILING_MSG "unexpected word at the end of the statement"
#define UNKNOWN_STMT                                                                     \
	"unknown statement; expected forward, trigger, include, include-table, mark, "  \
	"default, log-format, drain-timeout, user, status, del, kill, backend, schedule, flush, list, " \
	"conns, save or "                                                               \
	"reload"
#define CONTROL_MSG                                                               \
	"this is a control command; a config file holds 'forward', 'default' and " \
	"'include' lines"

/* ---- helpers ---- */

/* A string of n copies of c (caller frees). */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

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

/* Lexes and parses one statement as line 1 of "t.conf". */
static int parse_at(const char *line, const char *file, int lineno, struct pf_stmt *st,
		    char *err)
{
	struct pf_where w = { .file = file, .line = lineno };
	struct pf_toks toks;
	int rc;

	err[0] = '\0';
	rc = pf_lex(line, &toks, err, ERRLEN);
	assert_int_equal(rc, 0);
	rc = pf_parse_stmt(&toks, &w, st, err, ERRLEN);
	pf_toks_free(&toks);
	return rc;
}

static int parse(const char *line, struct pf_stmt *st, char *err)
{
	return parse_at(line, "t.conf", 1, st, err);
}

/* Parses a statement that must be valid. */
static void parse_ok(const char *line, struct pf_stmt *st)
{
	char err[ERRLEN];
	int rc = parse(line, st, err);

	if (rc)
		fail_msg("'%s' did not parse: %s", line, err);
}

/* Parses a forward statement that must be valid; the caller unrefs it. */
static struct pf_forward *forward_ok(const char *line)
{
	struct pf_stmt st;
	struct pf_forward *f;

	parse_ok(line, &st);
	assert_int_equal(st.kind, PF_ST_FORWARD);
	f = st.fwd;
	st.fwd = NULL;
	pf_stmt_free(&st);
	return f;
}

/* f saved ('portfw save') writes want, and loads back into an equal forward. */
static void assert_saved_and_loaded(const struct pf_forward *f, const char *want)
{
	struct pf_forward *g;
	char buf[512];

	pf_forward_format(f, buf, sizeof(buf));
	if (!strstr(buf, want))
		fail_msg("saved as '%s', expected '%s' in it", buf, want);
	g = forward_ok(buf);
	assert_true(pf_forward_equal(f, g));
	pf_forward_unref(g);
}

/* The statement (line 1 of t.conf) must fail with exactly this message. */
static void assert_stmt_error(const char *line, const char *expected)
{
	char err[ERRLEN];
	struct pf_stmt st;
	int rc = parse(line, &st, err);

	if (rc != -1)
		fail_msg("'%s' parsed, expected the error: %s", line, expected);
	if (strcmp(err, expected))
		fail_msg("'%s':\n  got      %s\n  expected %s", line, err, expected);
	assert_null(st.fwd); /* nothing for the caller to free */
}

struct error_case {
	const char *in;
	const char *msg; /* after "t.conf:1: " */
};

static void assert_stmt_errors(const struct error_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char *expected = xasprintf("t.conf:1: %s", cases[i].msg);

		assert_stmt_error(cases[i].in, expected);
		free(expected);
	}
}

static void lex_ok(const char *line, struct pf_toks *t)
{
	char err[ERRLEN];

	if (pf_lex(line, t, err, sizeof(err)))
		fail_msg("lexing '%s' failed: %s", line, err);
}

static void assert_lex_error(const char *line, const char *expected)
{
	char err[ERRLEN] = "";
	struct pf_toks t;

	assert_int_equal(pf_lex(line, &t, err, sizeof(err)), -1);
	assert_string_equal(err, expected);
	assert_null(t.buf);
	assert_int_equal(t.n, 0);
}

/* Lexes and checks the words; a word starting with '"' must be a quoted one. */
static void assert_words(const char *line, const char *const *words, int n)
{
	struct pf_toks t;
	int i;

	lex_ok(line, &t);
	assert_int_equal(t.n, n);
	for (i = 0; i < n; i++) {
		bool quoted = words[i][0] == '"';

		assert_string_equal(t.t[i].s, words[i] + quoted);
		assert_int_equal(t.t[i].quoted, quoted);
	}
	pf_toks_free(&t);
}

#define ASSERT_WORDS(line, ...)                                                      \
	do {                                                                         \
		static const char *const w_[] = { __VA_ARGS__ };                     \
		assert_words(line, w_, (int)PF_ARRAY_SIZE(w_));                       \
	} while (0)

static void hostport_ok(const char *s, bool need_port, struct pf_hostport *hp)
{
	char err[ERRLEN];

	if (pf_hostport_parse(s, need_port, hp, err, sizeof(err)))
		fail_msg("'%s' did not parse: %s", s, err);
}

static void assert_hostport(const char *s, bool need_port, const char *host, bool bracketed,
			    uint16_t lo, uint16_t hi)
{
	struct pf_hostport hp;

	hostport_ok(s, need_port, &hp);
	assert_string_equal(hp.host, host);
	assert_int_equal(hp.bracketed, bracketed);
	assert_int_equal(hp.port_lo, lo);
	assert_int_equal(hp.port_hi, hi);
}

static void assert_hostport_error(const char *s, bool need_port, const char *expected)
{
	struct pf_hostport hp;
	char err[ERRLEN] = "";

	assert_int_equal(pf_hostport_parse(s, need_port, &hp, err, sizeof(err)), -1);
	assert_string_equal(err, expected);
}

/* pf_conf_foreach callback: keeps the forwards, counts the statements. */
struct collect {
	struct pf_table tab;
	int kinds[PF_ST_RELOAD + 1];
	int lines[16];
	int nstmt;
	struct pf_stmt last; /* without its forward */
	int fail_at; /* > 0: fail on this statement */
};

static int collect_cb(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
		      size_t errlen)
{
	struct collect *c = arg;

	c->nstmt++;
	if (c->nstmt == c->fail_at) {
		snprintf(err, errlen, "callback refused %s:%d", w->file, w->line);
		return 7;
	}
	if ((size_t)c->nstmt <= PF_ARRAY_SIZE(c->lines))
		c->lines[c->nstmt - 1] = w->line;
	c->kinds[st->kind]++;
	c->last = *st;
	c->last.fwd = NULL;
	if (st->kind == PF_ST_FORWARD) {
		pf_table_add(&c->tab, st->fwd);
		st->fwd = NULL;
	}
	return 0;
}

static void collect_init(struct collect *c)
{
	memset(c, 0, sizeof(*c));
	pf_table_init(&c->tab);
}

static void collect_free(struct collect *c)
{
	pf_table_clear(&c->tab);
}

static int foreach(const char *text, struct collect *c, char *err)
{
	err[0] = '\0';
	return pf_conf_foreach("t.conf", text, strlen(text), collect_cb, c, err, ERRLEN);
}

static void assert_text_error(const char *text, const char *expected)
{
	struct collect c;
	char err[ERRLEN];

	collect_init(&c);
	assert_int_equal(foreach(text, &c, err), -1);
	assert_string_equal(err, expected);
	collect_free(&c);
}

/* ---- files (pf_conf_load) ---- */

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pf_test_parser.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	int rc;

	(void)state;
	rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

/* Writes tmpdir/rel (creating its directories); returns the full path. */
static char *write_file(const char *rel, const char *text)
{
	char *path = xasprintf("%s/%s", tmpdir, rel);
	char *slash;
	FILE *fp;

	for (slash = strchr(path + strlen(tmpdir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(path, 0700) && errno != EEXIST)
			fail_msg("mkdir %s: %s", path, strerror(errno));
		*slash = '/';
	}
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return path;
}

/* ==== lexer ==== */

static void test_lex_splits_on_whitespace(void **state)
{
	(void)state;
	ASSERT_WORDS("  forward\ttcp   :80 \r\n", "forward", "tcp", ":80");
}

static void test_lex_comma_is_a_word(void **state)
{
	(void)state;
	ASSERT_WORDS("a,b , c,,d ,", "a", ",", "b", ",", "c", ",", ",", "d", ",");
}

static void test_lex_empty_line(void **state)
{
	(void)state;
	assert_words("", NULL, 0);
	assert_words(" \t\r\n", NULL, 0);
}

static void test_lex_comment_at_word_start(void **state)
{
	(void)state;
	assert_words("# all comment", NULL, 0);
	ASSERT_WORDS("flush # the rest, \"is\" ignored", "flush");
	ASSERT_WORDS("a,# comment", "a", ",");
}

static void test_lex_hash_inside_word_is_text(void **state)
{
	(void)state;
	ASSERT_WORDS("a#b c", "a#b", "c");
}

static void test_lex_quoted_word(void **state)
{
	(void)state;
	ASSERT_WORDS("x \"a b, # c\" y", "x", "\"a b, # c", "y");
	ASSERT_WORDS("\"\"", "\"");
}

static void test_lex_quote_ends_a_word(void **state)
{
	(void)state;
	ASSERT_WORDS("ab\"cd\"ef", "ab", "\"cd", "ef");
}

static void test_lex_escapes(void **state)
{
	(void)state;
	ASSERT_WORDS("\"\\n\\r\\t\\\\\\\"\\x41\\x7e\\xFF\"", "\"\n\r\t\\\"A~\xff");
}

static void test_lex_unterminated_quote(void **state)
{
	(void)state;
	assert_lex_error("forward \"abc", "missing closing '\"'");
	assert_lex_error("\"", "missing closing '\"'");
}

static void test_lex_bad_hex_escape(void **state)
{
	(void)state;
	assert_lex_error("\"\\x4\"", "'\\x' expects two hex digits");
	assert_lex_error("\"\\xg1\"", "'\\x' expects two hex digits");
	assert_lex_error("\"\\x", "'\\x' expects two hex digits");
}

/* \x00 is a NUL byte in the word, which says its length; the parser lets
 * it stand in check strings only. */
static void test_lex_nul_byte(void **state)
{
	static const struct error_case cases[] = {
		{ "forward name \"a\\x00b\" tcp :80 to b",
		  "'a': a NUL byte (\\x00) may only stand in a check-send or check-expect string" },
		{ "forward tcp :80 to \"b\\x00\"",
		  "'b': a NUL byte (\\x00) may only stand in a check-send or check-expect string" },
		{ "forward tcp :80 to b check-send \"check-expect\" \"\\x00\"",
		  "'': a NUL byte (\\x00) may only stand in a check-send or check-expect string" },
	};
	struct pf_forward *f;
	struct pf_toks t;
	char buf[512];

	(void)state;
	lex_ok("x \"a\\x00b\" y", &t);
	assert_int_equal(t.n, 3);
	assert_int_equal(t.t[1].len, 3);
	assert_memory_equal(t.t[1].s, "a\0b", 3);
	assert_int_equal(t.t[2].len, 1);
	pf_toks_free(&t);
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
	/* A DNS query's bytes: kept escaped, saved as written, loaded back. */
	f = forward_ok("forward udp :53 to b check-send \"\\x12\\x34\\x01\\x00\\x00\\x01\" "
		       "check-expect \"\\x00\"");
	assert_string_equal(f->conf.check.send, "\\x124\\x01\\x00\\x00\\x01");
	assert_string_equal(f->conf.check.expect, "\\x00");
	assert_int_equal(pf_unescape(f->conf.check.send, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "\x12\x34\x01\0\0\x01", 6);
	pf_forward_format(f, buf, sizeof(buf));
	assert_string_equal(buf, "forward udp :53 to b check check-send \"\\x124\\x01\\x00\\x00\\x01\" "
				 "check-expect \"\\x00\"");
	pf_forward_unref(f);
	f = forward_ok(buf);
	assert_string_equal(f->conf.check.send, "\\x124\\x01\\x00\\x00\\x01");
	pf_forward_unref(f);
}

static void test_lex_unknown_escape(void **state)
{
	(void)state;
	assert_lex_error("\"\\q\"", "unknown escape in quoted string; expected \\n \\r \\t \\\\ "
				    "\\\" or \\xHH");
	/* A backslash at the very end of the text. */
	assert_lex_error("\"abc\\", "unknown escape in quoted string; expected \\n \\r \\t \\\\ "
				    "\\\" or \\xHH");
}

static void test_lex_word_limit(void **state)
{
	char *line = malloc(PF_TOKS_MAX * 2 + 3);
	struct pf_toks t;
	int i;

	(void)state;
	assert_non_null(line);
	for (i = 0; i < PF_TOKS_MAX; i++)
		memcpy(line + 2 * i, "a ", 2);
	line[2 * PF_TOKS_MAX] = '\0';
	lex_ok(line, &t);
	assert_int_equal(t.n, PF_TOKS_MAX);
	pf_toks_free(&t);
	strcat(line, "b");
	assert_lex_error(line, "too many words (at most 1024)");
	free(line);
}

static void test_lex_many_commas(void **state)
{
	/* Each ',' becomes a word of its own: twice its size in the buffer. */
	char *line = repeat(',', PF_TOKS_MAX);
	struct pf_toks t;

	(void)state;
	lex_ok(line, &t);
	assert_int_equal(t.n, PF_TOKS_MAX);
	assert_string_equal(t.t[PF_TOKS_MAX - 1].s, ",");
	pf_toks_free(&t);
	free(line);
}

/* ==== HOST[:PORT] ==== */

static void test_hostport_host(void **state)
{
	(void)state;
	assert_hostport("backend.example", false, "backend.example", false, 0, 0);
	assert_hostport("10.0.0.1", false, "10.0.0.1", false, 0, 0);
	assert_hostport("a_b-c.d", false, "a_b-c.d", false, 0, 0);
}

static void test_hostport_host_port(void **state)
{
	(void)state;
	assert_hostport("10.0.0.1:8080", true, "10.0.0.1", false, 8080, 8080);
	assert_hostport("h:1", true, "h", false, 1, 1);
	assert_hostport("h:65535", true, "h", false, 65535, 65535);
}

static void test_hostport_range(void **state)
{
	(void)state;
	assert_hostport("h:1000-1009", true, "h", false, 1000, 1009);
	assert_hostport("h:7-7", true, "h", false, 7, 7);
	assert_hostport("h:1-65535", true, "h", false, 1, 65535);
}

static void test_hostport_port_only(void **state)
{
	(void)state;
	assert_hostport(":80", true, "", false, 80, 80);
	assert_hostport(":80-90", true, "", false, 80, 90);
}

static void test_hostport_ipv6(void **state)
{
	(void)state;
	assert_hostport("[::1]:443", true, "::1", true, 443, 443);
	assert_hostport("[fe80::1:2]:10-20", true, "fe80::1:2", true, 10, 20);
	assert_hostport("[::]", false, "::", true, 0, 0);
	assert_hostport("[::ffff:1.2.3.4]", false, "::ffff:1.2.3.4", true, 0, 0);
}

static void test_hostport_port_required(void **state)
{
	(void)state;
	assert_hostport_error("h", true, "expected ADDR:PORT, :PORT or [IPV6]:PORT");
	assert_hostport_error("[::1]", true, "expected ADDR:PORT, :PORT or [IPV6]:PORT");
}

static void test_hostport_empty(void **state)
{
	(void)state;
	assert_hostport_error("", false, "empty address");
	assert_hostport_error("", true, "expected ADDR:PORT, :PORT or [IPV6]:PORT");
}

static void test_hostport_bad_port(void **state)
{
	(void)state;
	assert_hostport_error("h:0", true, "'0' is not a port number 1-65535");
	assert_hostport_error("h:65536", true, "'65536' is not a port number 1-65535");
	assert_hostport_error("h:", true, "'' is not a port number 1-65535");
	assert_hostport_error("h:http", true, "'http' is not a port number 1-65535");
	assert_hostport_error("h:8o", true, "'8o' is not a port number 1-65535");
	assert_hostport_error("h:+80", true, "'+80' is not a port number 1-65535");
	assert_hostport_error("[::1]:", true, "'' is not a port number 1-65535");
}

static void test_hostport_bad_range(void **state)
{
	(void)state;
	assert_hostport_error("h:80-79", true,
			      "'80-79' is not a port range LOW-HIGH within 1-65535");
	assert_hostport_error("h:0-5", true, "'0-5' is not a port range LOW-HIGH within 1-65535");
	assert_hostport_error("h:5-65536", true,
			      "'5-65536' is not a port range LOW-HIGH within 1-65535");
	assert_hostport_error("h:-5", true, "'-5' is not a port range LOW-HIGH within 1-65535");
	assert_hostport_error("h:5-", true, "'5-' is not a port range LOW-HIGH within 1-65535");
	assert_hostport_error("h:1-2-3", true,
			      "'1-2-3' is not a port range LOW-HIGH within 1-65535");
	assert_hostport_error("h:00000001-2", true,
			      "'00000001-2' is not a port range LOW-HIGH within 1-65535");
}

static void test_hostport_ipv6_needs_brackets(void **state)
{
	(void)state;
	assert_hostport_error("::1:80", true,
			      "IPv6 addresses are written in brackets: [ADDR] or [ADDR]:PORT");
	assert_hostport_error("fe80::1", true,
			      "IPv6 addresses are written in brackets: [ADDR] or [ADDR]:PORT");
	assert_hostport_error("fe80::1:x", false,
			      "IPv6 addresses are written in brackets: [ADDR] or [ADDR]:PORT");
	assert_hostport_error("[]:80", true, "'' is not an IPv6 address");
}

static void test_hostport_bare_ipv6_without_port(void **state)
{
	struct pf_hostport hp;
	char err[ERRLEN] = "";

	(void)state;
	/* Where no port is needed, a bare IPv6 address is unambiguous. */
	assert_int_equal(pf_hostport_parse("fe80::1", false, &hp, err, sizeof(err)), 0);
	assert_string_equal(hp.host, "fe80::1");
	assert_true(hp.bracketed);
	assert_int_equal(hp.port_lo, 0);
}

static void test_hostport_bad_brackets(void **state)
{
	(void)state;
	assert_hostport_error("[::1", false, "missing ']' after IPv6 address");
	assert_hostport_error("[::1]80", true, "expected ':PORT' after ']'");
	assert_hostport_error("[::1]]:80", true, "expected ':PORT' after ']'");
	assert_hostport_error("[1.2.3.4]:80", true, "'1.2.3.4' is not an IPv6 address");
	assert_hostport_error("[host]", false, "'host' is not an IPv6 address");
}

static void test_hostport_bad_host(void **state)
{
	char *host = repeat('h', 254), *s;

	(void)state;
	assert_hostport_error("h!x:80", true, "'h!x' is not an address or host name");
	assert_hostport_error("-h", false, "'-h' is not an address or host name");
	assert_hostport_error(".h:1", true, "'.h' is not an address or host name");
	assert_hostport_error("a/b", false, "'a/b' is not an address or host name");
	assert_hostport_error("a b", false, "'a b' is not an address or host name");
	s = xasprintf("'%s' is not an address or host name", host);
	assert_hostport_error(host, false, s);
	free(s);
	host[253] = '\0'; /* 253 characters: the longest DNS name */
	assert_hostport(host, false, host, false, 0, 0);
	free(host);
}

static void test_hostport_too_long(void **state)
{
	char *s = repeat('h', PF_HOST_MAX + 16);
	char *msg;

	(void)state;

	assert_hostport_error(s, false, "address too long");
	s[PF_HOST_MAX + 15] = '\0'; /* fits the buffer: judged as a host name */
	msg = xasprintf("'%s' is not an address or host name", s);
	assert_hostport_error(s, false, msg);
	free(msg);
	free(s);
}

/* ==== durations ==== */

static void assert_duration(const char *s, uint64_t expected)
{
	uint64_t ms = 0;

	if (pf_parse_duration(s, &ms))
		fail_msg("'%s' did not parse", s);
	assert_int_equal(ms, expected);
}

static void test_duration_units(void **state)
{
	(void)state;
	assert_duration("250ms", 250);
	assert_duration("5s", 5000);
	assert_duration("2m", 120000);
	assert_duration("1h", 3600000);
	assert_duration("1d", 86400000);
	assert_duration("90", 90000);
	assert_duration("0", 0);
	assert_duration("007s", 7000);
}

static void test_duration_limit_30d(void **state)
{
	uint64_t ms;

	(void)state;
	assert_duration("30d", 30ULL * 86400000);
	assert_duration("720h", 30ULL * 86400000);
	assert_duration("2592000", 30ULL * 86400000);
	assert_duration("2592000000ms", 30ULL * 86400000);
	assert_int_equal(pf_parse_duration("31d", &ms), -1);
	assert_int_equal(pf_parse_duration("2592001", &ms), -1);
	assert_int_equal(pf_parse_duration("2592000001ms", &ms), -1);
	assert_int_equal(pf_parse_duration("99999999999999999999999s", &ms), -1);
}

static void test_duration_invalid(void **state)
{
	static const char *const bad[] = { "", "s", "ms", "-1s", "+1s", " 1s", "1 s", "1.5s",
					   "5S", "5sec", "5mss", "1x", "1s1" };
	uint64_t ms;
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(bad); i++)
		if (pf_parse_duration(bad[i], &ms) != -1)
			fail_msg("'%s' parsed", bad[i]);
	assert_int_equal(pf_parse_duration(NULL, &ms), -1);
}

static void assert_format_duration(uint64_t ms, const char *expected)
{
	char buf[32];

	pf_format_duration(ms, buf, sizeof(buf));
	assert_string_equal(buf, expected);
}

static void test_duration_format_largest_exact_unit(void **state)
{
	(void)state;
	assert_format_duration(1500, "1500ms");
	assert_format_duration(90000, "90s");
	assert_format_duration(120000, "2m");
	assert_format_duration(5400000, "90m");
	assert_format_duration(3600000, "1h");
	assert_format_duration(2 * 86400000ULL, "2d");
	assert_format_duration(0, "0s");
	assert_format_duration(1, "1ms");
}

static void test_duration_round_trip(void **state)
{
	static const uint64_t v[] = { 0,	1,	 10,	  999,	    1000,    1001,
				      59999,	60000,	 61000,	  3599999,  3600000, 86399999,
				      86400000, 90061001, 2592000000ULL };
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(v); i++) {
		char buf[32];
		uint64_t ms = ~0ULL;

		pf_format_duration(v[i], buf, sizeof(buf));
		assert_int_equal(pf_parse_duration(buf, &ms), 0);
		assert_int_equal(ms, v[i]);
	}
}

/* ==== forward ==== */

static void test_forward_minimal(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :80 to 10.0.0.1");

	(void)state;
	assert_string_equal(f->conf.name, "");
	assert_string_equal(f->conf.src, "t.conf");
	assert_int_equal(f->conf.line, 1);
	assert_int_equal(f->conf.protos, PF_PROTO_TCP);
	assert_string_equal(f->conf.lhost, "");
	assert_false(f->conf.lbracketed);
	assert_int_equal(f->conf.lport_lo, 80);
	assert_int_equal(f->conf.lport_hi, 80);
	assert_int_equal(f->nbe, 1);
	assert_string_equal(f->be[0].conf.host, "10.0.0.1");
	assert_int_equal(f->be[0].conf.port_lo, 0);
	assert_int_equal(f->be[0].conf.port_hi, 0);
	assert_int_equal(f->be[0].conf.weight, 1);
	assert_int_equal(f->be[0].conf.line, 1);
	assert_int_equal(f->conf.o.connect_ms, pf_opt_find("connect-timeout")->def);
	assert_int_equal(f->conf.o.idle_ms, pf_opt_find("idle-timeout")->def);
	assert_int_equal(f->conf.o.halfclose_ms, pf_opt_find("half-close-timeout")->def);
	assert_int_equal(f->conf.o.maxconn, 0);
	assert_int_equal(f->conf.o.udp_ms, pf_opt_find("udp-timeout")->def);
	assert_int_equal(f->conf.o.udp_stream_ms,
			 pf_opt_find("udp-stream-timeout")->def);
	assert_int_equal(f->conf.o.max_sessions, pf_opt_find("max-sessions")->def);
	assert_null(f->st);
	assert_null(f->be[0].st);
	pf_forward_unref(f);
}

static void test_forward_name_first(void **state)
{
	struct pf_forward *f = forward_ok("forward name web-1.a_b tcp :80 to b");

	(void)state;
	assert_string_equal(f->conf.name, "web-1.a_b");
	assert_int_equal(f->conf.protos, PF_PROTO_TCP);
	pf_forward_unref(f);
}

static void test_forward_name_as_option(void **state)
{
	struct pf_forward *f = forward_ok("forward udp :53 to b maxconn 3 name dns");

	(void)state;
	assert_string_equal(f->conf.name, "dns");
	assert_int_equal(f->conf.o.maxconn, 3);
	pf_forward_unref(f);
}

static void test_forward_name_longest(void **state)
{
	char *name = repeat('n', PF_NAME_MAX - 1);
	char *line = xasprintf("forward name %s tcp :1 to b", name);
	struct pf_forward *f = forward_ok(line);

	(void)state;
	assert_string_equal(f->conf.name, name);
	pf_forward_unref(f);
	free(line);
	free(name);
}

static void test_forward_protocols(void **state)
{
	static const struct {
		const char *line;
		uint8_t protos;
	} cases[] = {
		{ "forward tcp :1 to b", PF_PROTO_TCP },
		{ "forward udp :1 to b", PF_PROTO_UDP },
		{ "forward tcp,udp :1 to b", PF_PROTO_TCP | PF_PROTO_UDP },
		{ "forward udp, tcp :1 to b", PF_PROTO_TCP | PF_PROTO_UDP },
		{ "forward tcp , udp :1 to b", PF_PROTO_TCP | PF_PROTO_UDP },
	};
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(cases); i++) {
		struct pf_forward *f = forward_ok(cases[i].line);

		assert_int_equal(f->conf.protos, cases[i].protos);
		pf_forward_unref(f);
	}
}

static void test_forward_listen_forms(void **state)
{
	static const struct {
		const char *line;
		const char *host;
		bool bracketed;
		uint16_t lo, hi;
	} cases[] = {
		{ "forward tcp :80 to b", "", false, 80, 80 },
		{ "forward tcp 127.0.0.1:8080 to b", "127.0.0.1", false, 8080, 8080 },
		{ "forward tcp gw.example:22 to b", "gw.example", false, 22, 22 },
		{ "forward tcp [::1]:443 to b", "::1", true, 443, 443 },
		{ "forward tcp [::]:1000-1010 to b", "::", true, 1000, 1010 },
		{ "forward udp 10.1.1.1:5000-5999 to b", "10.1.1.1", false, 5000, 5999 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(cases); i++) {
		struct pf_forward *f = forward_ok(cases[i].line);

		assert_string_equal(f->conf.lhost, cases[i].host);
		assert_int_equal(f->conf.lbracketed, cases[i].bracketed);
		assert_int_equal(f->conf.lport_lo, cases[i].lo);
		assert_int_equal(f->conf.lport_hi, cases[i].hi);
		pf_forward_unref(f);
	}
}

static void test_forward_backends_and_weights(void **state)
{
	struct pf_forward *f =
		forward_ok("forward tcp :80 to a:1 weight 5,b:2, c weight 0 ,[::1]:4 , d.example");

	(void)state;
	assert_int_equal(f->nbe, 5);
	assert_string_equal(f->be[0].conf.host, "a");
	assert_int_equal(f->be[0].conf.port_lo, 1);
	assert_int_equal(f->be[0].conf.weight, 5);
	assert_string_equal(f->be[1].conf.host, "b");
	assert_int_equal(f->be[1].conf.port_lo, 2);
	assert_int_equal(f->be[1].conf.weight, 1);
	assert_string_equal(f->be[2].conf.host, "c");
	assert_int_equal(f->be[2].conf.port_lo, 0);
	assert_int_equal(f->be[2].conf.weight, 0);
	assert_string_equal(f->be[3].conf.host, "::1");
	assert_true(f->be[3].conf.bracketed);
	assert_int_equal(f->be[3].conf.port_lo, 4);
	assert_string_equal(f->be[4].conf.host, "d.example");
	assert_int_equal(f->be[4].conf.weight, 1);
	pf_forward_unref(f);
}

static void test_forward_weight_limits(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :80 to a weight 65535, b weight 0");

	(void)state;
	assert_int_equal(f->be[0].conf.weight, 65535);
	assert_int_equal(f->be[1].conf.weight, 0);
	pf_forward_unref(f);
}

static void test_forward_backend_range_1to1(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :1000-1009 to b:2000-2009, c:7, d");

	(void)state;
	assert_int_equal(f->be[0].conf.port_lo, 2000);
	assert_int_equal(f->be[0].conf.port_hi, 2009);
	assert_int_equal(f->be[1].conf.port_lo, 7); /* one port for the whole range */
	assert_int_equal(f->be[1].conf.port_hi, 7);
	assert_int_equal(f->be[2].conf.port_lo, 0); /* the listener's port */
	pf_forward_unref(f);
}

static void test_forward_most_backends(void **state)
{
	size_t cap = 64 + PF_BACKENDS_MAX * 8, off;
	char *line = malloc(cap);
	struct pf_forward *f;
	int i;

	(void)state;
	assert_non_null(line);
	off = (size_t)snprintf(line, cap, "forward tcp :80 to");
	for (i = 0; i < PF_BACKENDS_MAX; i++)
		off += (size_t)snprintf(line + off, cap - off, "%sb%d", i ? "," : " ", i);
	f = forward_ok(line);
	assert_int_equal(f->nbe, PF_BACKENDS_MAX);
	assert_string_equal(f->be[PF_BACKENDS_MAX - 1].conf.host, "b255");
	pf_forward_unref(f);
	free(line);
}

static void test_forward_options(void **state)
{
	struct pf_forward *f = forward_ok(
		"forward tcp :80 to b connect-timeout 250ms idle-timeout 10m half-close-timeout 30 "
		"maxconn 10000000");

	(void)state;
	assert_int_equal(f->conf.o.connect_ms, 250);
	assert_int_equal(f->conf.o.idle_ms, 600000);
	assert_int_equal(f->conf.o.halfclose_ms, 30000);
	assert_int_equal(f->conf.o.maxconn, 10000000);
	pf_forward_unref(f);
}

static void test_forward_option_minimums(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :80 to b maxconn 0 half-close-timeout 100ms "
					  "idle-timeout 100ms connect-timeout 10ms");

	(void)state;
	assert_int_equal(f->conf.o.connect_ms, 10);
	assert_int_equal(f->conf.o.idle_ms, 100);
	assert_int_equal(f->conf.o.halfclose_ms, 100);
	assert_int_equal(f->conf.o.maxconn, 0);
	pf_forward_unref(f);
}

static void test_forward_udp_options(void **state)
{
	struct pf_forward *f = forward_ok("forward udp :53 to b max-sessions 1 udp-stream-timeout 2m "
					  "udp-timeout 1000ms");

	(void)state;
	assert_int_equal(f->conf.o.udp_ms, 1000);
	assert_int_equal(f->conf.o.udp_stream_ms, 120000);
	assert_int_equal(f->conf.o.max_sessions, 1);
	pf_forward_unref(f);
	f = forward_ok("forward udp :53 to b max-sessions 10000000 udp-timeout 30d");
	assert_int_equal(f->conf.o.max_sessions, 10000000);
	assert_int_equal(f->conf.o.udp_ms, 30ULL * 86400000);
	pf_forward_unref(f);
}

/* Limits per client address: parsed, saved as written (the rate's unit
 * too: it sets the burst), loaded back equal. */
static void test_forward_per_source_options(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp,udp :53 to b max-per-source 2 "
					  "rate-per-source 10/s max-sessions-per-source 3");
	struct pf_forward *g;
	char buf[512];

	(void)state;
	assert_int_equal(f->conf.o.max_per_src, 2);
	assert_int_equal(f->conf.o.max_sess_per_src, 3);
	assert_int_equal(pf_rate_n(f->conf.o.rate_per_src), 10);
	assert_false(pf_rate_per_min(f->conf.o.rate_per_src));
	assert_int_equal(pf_rate_us_per_token(f->conf.o.rate_per_src), 100000);
	assert_saved_and_loaded(f, " max-per-source 2 max-sessions-per-source 3 rate-per-source 10/s");
	/* 120/m is not 2/s: the same rate, a larger burst. */
	g = forward_ok("forward tcp,udp :53 to b max-per-source 2 rate-per-source 120/minute "
		       "max-sessions-per-source 3");
	assert_true(pf_rate_per_min(g->conf.o.rate_per_src));
	assert_int_equal(pf_rate_us_per_token(g->conf.o.rate_per_src), 500000);
	assert_false(pf_forward_equal(f, g));
	pf_forward_format(g, buf, sizeof(buf));
	assert_non_null(strstr(buf, " rate-per-source 120/m"));
	pf_forward_unref(g);
	pf_forward_unref(f);
	f = forward_ok("forward tcp :80 to b max-per-source 0 rate-per-source 1000000/sec");
	assert_int_equal(f->conf.o.max_per_src, 0);
	assert_int_equal(pf_rate_us_per_token(f->conf.o.rate_per_src), 1);
	pf_forward_format(f, buf, sizeof(buf));
	assert_null(strstr(buf, "max-per-source"));
	pf_forward_unref(f);
	f = forward_ok("forward all 10.0.0.1 to 10.0.0.2 rate-per-source 5/m engine kernel");
	assert_int_equal(pf_rate_n(f->conf.o.rate_per_src), 5);
	pf_forward_unref(f);
}

/* PROXY protocol: parsed, saved as written, loaded back equal. */
static void test_forward_proxy_options(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :80 to b proxy-protocol v2 accept-proxy "
					  "10.0.0.0/8,2001:db8::1");
	struct pf_forward *g;

	(void)state;
	assert_int_equal(f->conf.proxy_send, 2);
	assert_int_equal(f->conf.accept_proxy.n, 2);
	assert_saved_and_loaded(f, " proxy-protocol v2 accept-proxy 10.0.0.0/8,2001:db8::1/128");
	g = forward_ok("forward tcp :80 to b proxy-protocol v1 engine user");
	assert_int_equal(g->conf.proxy_send, 1);
	assert_false(pf_forward_equal(f, g));
	pf_forward_unref(g);
	pf_forward_unref(f);
}

/* defer-accept: a flag, saved and loaded back; off by default. */
static void test_forward_defer_accept(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :80 to b defer-accept");
	struct pf_forward *g;

	(void)state;
	assert_true(f->conf.defer_accept);
	assert_saved_and_loaded(f, " defer-accept");
	g = forward_ok("forward tcp :80 to b");
	assert_false(g->conf.defer_accept);
	assert_false(pf_forward_equal(f, g));
	pf_forward_unref(g);
	pf_forward_unref(f);
}

static void test_forward_quoted_words(void **state)
{
	/* Quoted words are plain values where a value is expected... */
	struct pf_forward *f = forward_ok("forward name \"web\" tcp \":80\" to \"b\" weight \"2\"");

	(void)state;
	assert_string_equal(f->conf.name, "web");
	assert_string_equal(f->be[0].conf.host, "b");
	assert_int_equal(f->be[0].conf.weight, 2);
	pf_forward_unref(f);
	/* ...but never keywords or separators. */
	assert_stmt_error("forward tcp :80 to a \",\" b",
			  "t.conf:1: ',': " UNKNOWN_OPT_MSG);
	assert_stmt_error("forward tcp :80 \"to\" b",
			  "t.conf:1: 'to': expected 'to' and the backends after the listen address");
}

static void test_forward_errors_name(void **state)
{
	char *longname = repeat('n', PF_NAME_MAX);
	char *line = xasprintf("forward name %s tcp :1 to b", longname);
	char *msg = xasprintf("'%s': " NAME_MSG, longname);
	const struct error_case cases[] = {
		{ "forward name", "at end of line: " NAME_MSG },
		{ "forward name 1web tcp :80 to b", "'1web': " NAME_MSG },
		{ "forward name -web tcp :80 to b", "'-web': " NAME_MSG },
		{ "forward name we/b tcp :80 to b", "'we/b': " NAME_MSG },
		{ "forward name \"\" tcp :80 to b", "'': " NAME_MSG },
		{ "forward tcp :80 to b name", "at end of line: " NAME_MSG },
		{ line, msg },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
	free(msg);
	free(line);
	free(longname);
}

static void test_forward_errors_protocol(void **state)
{
	static const struct error_case cases[] = {
		{ "forward", "at end of line: " PROTO_ALL_MSG },
		{ "forward name web", "at end of line: " PROTO_ALL_MSG },
		{ "forward sctp :80 to b", "'sctp': " PROTO_ALL_MSG },
		{ "forward TCP :80 to b", "'TCP': " PROTO_ALL_MSG },
		{ "forward \"tcp\" :80 to b", "'tcp': " PROTO_ALL_MSG },
		{ "forward tcp, :80 to b", "':80': " PROTO_MSG },
		{ "forward tcp,", "at end of line: " PROTO_MSG },
		{ "forward tcp,tcp :80 to b",
		  "'tcp': protocol given twice; expected tcp, udp or tcp,udp" },
		{ "forward udp,tcp,udp :80 to b",
		  "'udp': protocol given twice; expected tcp, udp or tcp,udp" },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_forward_errors_listen(void **state)
{
	static const struct error_case cases[] = {
		{ "forward tcp", "at end of line: expected " LISTEN_WHAT },
		{ "forward tcp 10.0.0.1 to b",
		  "'10.0.0.1': expected ADDR:PORT, :PORT or [IPV6]:PORT; expected " LISTEN_WHAT },
		{ "forward tcp :0 to b",
		  "':0': '0' is not a port number 1-65535; expected " LISTEN_WHAT },
		{ "forward tcp :65536 to b",
		  "':65536': '65536' is not a port number 1-65535; expected " LISTEN_WHAT },
		{ "forward tcp :90-80 to b",
		  "':90-80': '90-80' is not a port range LOW-HIGH within 1-65535; expected " LISTEN_WHAT },
		{ "forward tcp ::1:80 to b",
		  "'::1:80': IPv6 addresses are written in brackets: [ADDR] or [ADDR]:PORT; expected " LISTEN_WHAT },
		{ "forward tcp [::1 to b",
		  "'[::1': missing ']' after IPv6 address; expected " LISTEN_WHAT },
		{ "forward tcp [::1]x to b",
		  "'[::1]x': expected ':PORT' after ']'; expected " LISTEN_WHAT },
		{ "forward tcp [10.0.0.1]:80 to b",
		  "'[10.0.0.1]:80': '10.0.0.1' is not an IPv6 address; expected " LISTEN_WHAT },
		{ "forward tcp h$t:80 to b",
		  "'h$t:80': 'h$t' is not an address or host name; expected " LISTEN_WHAT },
		{ "forward tcp to b",
		  "'to': expected ADDR:PORT, :PORT or [IPV6]:PORT; expected " LISTEN_WHAT },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_forward_errors_to(void **state)
{
	static const struct error_case cases[] = {
		{ "forward tcp :80", "at end of line: expected 'to' and the backends after the "
				     "listen address" },
		{ "forward tcp :80 b", "'b': expected 'to' and the backends after the listen "
				       "address" },
		{ "forward tcp :80 :81 to b", "':81': expected 'to' and the backends after the "
					      "listen address" },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_forward_errors_backend(void **state)
{
	static const struct error_case cases[] = {
		{ "forward tcp :80 to", "at end of line: expected " BACKEND_WHAT },
		{ "forward tcp :80 to , b", "',': expected " BACKEND_WHAT },
		{ "forward tcp :80 to b,", "at end of line: expected " BACKEND_WHAT },
		{ "forward tcp :80 to b,,c", "',': expected " BACKEND_WHAT },
		{ "forward tcp :80 to \"\"", "'': empty address; expected " BACKEND_WHAT },
		{ "forward tcp :80 to :81",
		  "':81': a backend needs a host; expected " BACKEND_WHAT },
		{ "forward tcp :80 to b, :81",
		  "':81': a backend needs a host; expected " BACKEND_WHAT },
		{ "forward tcp :80 to b:0",
		  "'b:0': '0' is not a port number 1-65535; expected " BACKEND_WHAT },
		{ "forward tcp :80 to b:65536",
		  "'b:65536': '65536' is not a port number 1-65535; expected " BACKEND_WHAT },
		{ "forward tcp :80 to b:9-8",
		  "'b:9-8': '9-8' is not a port range LOW-HIGH within 1-65535; expected " BACKEND_WHAT },
		{ "forward tcp :80 to fe80::1:x",
		  "'fe80::1:x': IPv6 addresses are written in brackets: [ADDR] or [ADDR]:PORT; expected " BACKEND_WHAT },
		{ "forward tcp :80 to b weight 2 weight 3", "'weight': option given twice" },
		{ "forward tcp :80 to b!",
		  "'b!': 'b!' is not an address or host name; expected " BACKEND_WHAT },
		{ "forward tcp :80 to [b]",
		  "'[b]': 'b' is not an IPv6 address; expected " BACKEND_WHAT },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_forward_errors_range_size(void **state)
{
	static const struct error_case cases[] = {
		{ "forward tcp :1000-1009 to b:2000-2008",
		  "'b:2000-2008': the backend range has 9 ports, the listen range 10; expected "
		  "ranges of the same size (mapped 1:1), one port, or no port" },
		{ "forward tcp :80 to b:1-2",
		  "'b:1-2': the backend range has 2 ports, the listen range 1; expected ranges of "
		  "the same size (mapped 1:1), one port, or no port" },
		{ "forward tcp :1-65535 to a, b:1-65534",
		  "'b:1-65534': the backend range has 65534 ports, the listen range 65535; "
		  "expected ranges of the same size (mapped 1:1), one port, or no port" },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_forward_errors_weight(void **state)
{
	static const struct error_case cases[] = {
		{ "forward tcp :80 to b weight", "at end of line: 'weight' expects a number 0-65535" },
		{ "forward tcp :80 to b weight 65536",
		  "'65536': 'weight' expects a number 0-65535" },
		{ "forward tcp :80 to b weight -1", "'-1': 'weight' expects a number 0-65535" },
		{ "forward tcp :80 to b weight x", "'x': 'weight' expects a number 0-65535" },
		{ "forward tcp :80 to b weight , c", "',': 'weight' expects a number 0-65535" },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_forward_errors_too_many_backends(void **state)
{
	size_t cap = 64 + (PF_BACKENDS_MAX + 1) * 8, off;
	char *line = malloc(cap);
	int i;

	(void)state;
	assert_non_null(line);
	off = (size_t)snprintf(line, cap, "forward tcp :80 to");
	for (i = 0; i <= PF_BACKENDS_MAX; i++)
		off += (size_t)snprintf(line + off, cap - off, "%sb%d", i ? "," : " ", i);
	assert_stmt_error(line, "t.conf:1: 'b256': too many backends; at most 256 per forward");
	free(line);
}

static void test_forward_errors_options(void **state)
{
	static const struct error_case cases[] = {
		{ "forward tcp :80 to b c", "'c': " UNKNOWN_OPT_MSG },
		{ "forward tcp :80 to b masquerade 10.0.0.0/24",
		  "'10.0.0.0/24': 'masquerade' expects an address without a prefix length (the "
		  "source the backends see), or nothing" },
		{ "forward tcp :80 to b masquerade 10.0.0.1 10.0.0.2",
		  "'10.0.0.2': " UNKNOWN_OPT_MSG },
		{ "forward tcp :80 to b transparent masquerade", "'masquerade': " TRANSP_MASQ_MSG },
		{ "forward tcp :80 to b masquerade 10.0.0.1 transparent",
		  "'transparent': " TRANSP_MASQ_MSG },
		{ "forward tcp :80 to b timeout 5s", "'timeout': " UNKNOWN_OPT_MSG },
		{ "forward tcp :80 to b \"maxconn\" 5", "'maxconn': " UNKNOWN_OPT_MSG },
		{ "forward tcp :80 to b maxconn 1 maxconn 2", "'maxconn': option given twice" },
		{ "forward tcp :80 to b idle-timeout 1s idle-timeout 1s",
		  "'idle-timeout': option given twice" },
		{ "forward tcp :80 to b connect-timeout 1s connect-timeout 2s",
		  "'connect-timeout': option given twice" },
		{ "forward tcp :80 to b half-close-timeout 1s half-close-timeout 2s",
		  "'half-close-timeout': option given twice" },
		{ "forward name a tcp :80 to b name c", "'name': option given twice" },
		{ "forward tcp :80 to b name a name a", "'name': option given twice" },
		{ "forward tcp :80 to b maxconn", "at end of line: 'maxconn' expects a number "
						  "0-10000000 (0: no limit)" },
		{ "forward tcp :80 to b maxconn 10000001",
		  "'10000001': 'maxconn' expects a number 0-10000000 (0: no limit)" },
		{ "forward tcp :80 to b maxconn -1",
		  "'-1': 'maxconn' expects a number 0-10000000 (0: no limit)" },
		{ "forward tcp :80 to b maxconn 5k",
		  "'5k': 'maxconn' expects a number 0-10000000 (0: no limit)" },
		{ "forward udp :53 to b udp-timeout 1s udp-timeout 2s",
		  "'udp-timeout': option given twice" },
		{ "forward udp :53 to b udp-stream-timeout 1s udp-stream-timeout 1s",
		  "'udp-stream-timeout': option given twice" },
		{ "forward udp :53 to b max-sessions 1 max-sessions 2",
		  "'max-sessions': option given twice" },
		{ "forward udp :53 to b max-sessions",
		  "at end of line: 'max-sessions' expects a number 1-10000000" },
		{ "forward udp :53 to b max-sessions 0", "'0': 'max-sessions' expects a number "
							 "1-10000000" },
		{ "forward udp :53 to b max-sessions 10000001",
		  "'10000001': 'max-sessions' expects a number 1-10000000" },
		{ "forward tcp :80 to b max-per-source",
		  "at end of line: 'max-per-source' expects a number of TCP connections "
		  "0-10000000 (0: no limit)" },
		{ "forward tcp :80 to b max-per-source 2x",
		  "'2x': 'max-per-source' expects a number of TCP connections 0-10000000 (0: no "
		  "limit)" },
		{ "forward tcp :80 to b max-per-source 1 max-per-source 2",
		  "'max-per-source': option given twice" },
		{ "forward udp :53 to b max-per-source 2",
		  "'max-per-source': limits TCP connections; expected a 'tcp' or 'tcp,udp' "
		  "forward (UDP: max-sessions-per-source)" },
		{ "forward tcp :80 to b max-sessions-per-source 2",
		  "'max-sessions-per-source': limits UDP sessions; expected a 'udp' or 'tcp,udp' "
		  "forward (TCP: max-per-source)" },
		{ "forward udp :53 to b max-sessions-per-source 10000001",
		  "'10000001': 'max-sessions-per-source' expects a number of UDP sessions "
		  "0-10000000 (0: no limit)" },
		{ "forward tcp :80 to b rate-per-source",
		  "at end of line: 'rate-per-source' expects a rate N/s or N/m, N 1-1000000 (new "
		  "flows per client address)" },
		{ "forward tcp :80 to b rate-per-source 10",
		  "'10': 'rate-per-source' expects a rate N/s or N/m, N 1-1000000 (new flows per "
		  "client address)" },
		{ "forward tcp :80 to b rate-per-source 0/s",
		  "'0/s': 'rate-per-source' expects a rate N/s or N/m, N 1-1000000 (new flows per "
		  "client address)" },
		{ "forward tcp :80 to b rate-per-source 10/h",
		  "'10/h': 'rate-per-source' expects a rate N/s or N/m, N 1-1000000 (new flows per "
		  "client address)" },
		{ "forward tcp :80 to b rate-per-source 1000001/s",
		  "'1000001/s': 'rate-per-source' expects a rate N/s or N/m, N 1-1000000 (new flows "
		  "per client address)" },
		{ "forward tcp :80 to b rate-per-source /s",
		  "'/s': 'rate-per-source' expects a rate N/s or N/m, N 1-1000000 (new flows per "
		  "client address)" },
		{ "forward tcp :80 to b rate-per-source 12345678901234567890/s",
		  "'12345678901234567890/s': 'rate-per-source' expects a rate N/s or N/m, N "
		  "1-1000000 (new flows per client address)" },
		{ "forward tcp :80 to b proxy-protocol v3",
		  "'v3': 'proxy-protocol' expects v1 or v2 (the PROXY protocol version sent to "
		  "the backends)" },
		{ "forward udp :53 to b proxy-protocol v1",
		  "'proxy-protocol': works on TCP connections only; expected a 'tcp' forward (a "
		  "tcp,udp one: a forward per protocol)" },
		{ "forward tcp,udp :80 to b defer-accept",
		  "'defer-accept': works on TCP connections only; expected a 'tcp' forward (a "
		  "tcp,udp one: a forward per protocol)" },
		{ "forward tcp :80 to b defer-accept engine kernel",
		  "'defer-accept': needs the user engine (the kernel engine does not see the bytes "
		  "of a connection); expected no 'engine kernel' on this forward" },
		{ "forward tcp,udp :53 to b maxconn 1 accept-proxy 10.0.0.1",
		  "'accept-proxy': works on TCP connections only; expected a 'tcp' forward (a "
		  "tcp,udp one: a forward per protocol)" },
		{ "forward tcp :80 to b accept-proxy 10.0.0.1 engine kernel",
		  "'accept-proxy': needs the user engine (the kernel engine does not see the "
		  "bytes of a connection); expected no 'engine kernel' on this forward" },
		{ "forward tcp :80 to b accept-proxy", "at end of line: 'accept-proxy' expects "
						       "networks ADDR[/LEN][,ADDR[/LEN]...]" },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_forward_errors_durations(void **state)
{
	static const struct error_case cases[] = {
		{ "forward tcp :80 to b connect-timeout",
		  "at end of line: 'connect-timeout' expects a duration such as 500ms, 5s, 10m, 2h "
		  "(at least 10ms, at most 30d)" },
		{ "forward tcp :80 to b connect-timeout 9ms",
		  "'9ms': 'connect-timeout' expects a duration such as 500ms, 5s, 10m, 2h (at least "
		  "10ms, at most 30d)" },
		{ "forward tcp :80 to b connect-timeout 0",
		  "'0': 'connect-timeout' expects a duration such as 500ms, 5s, 10m, 2h (at least "
		  "10ms, at most 30d)" },
		{ "forward tcp :80 to b idle-timeout 99ms",
		  "'99ms': 'idle-timeout' expects a duration such as 500ms, 5s, 10m, 2h (at least "
		  "100ms, at most 30d)" },
		{ "forward tcp :80 to b idle-timeout 31d",
		  "'31d': 'idle-timeout' expects a duration such as 500ms, 5s, 10m, 2h (at least "
		  "100ms, at most 30d)" },
		{ "forward tcp :80 to b half-close-timeout 99ms",
		  "'99ms': 'half-close-timeout' expects a duration such as 500ms, 5s, 10m, 2h (at "
		  "least 100ms, at most 30d)" },
		{ "forward udp :53 to b udp-timeout 999ms",
		  "'999ms': 'udp-timeout' expects a duration such as 500ms, 5s, 10m, 2h (at least "
		  "1000ms, at most 30d)" },
		{ "forward udp :53 to b udp-timeout",
		  "at end of line: 'udp-timeout' expects a duration such as 500ms, 5s, 10m, 2h (at "
		  "least 1000ms, at most 30d)" },
		{ "forward udp :53 to b udp-stream-timeout 999ms",
		  "'999ms': 'udp-stream-timeout' expects a duration such as 500ms, 5s, 10m, 2h (at "
		  "least 1000ms, at most 30d)" },
		{ "forward udp :53 to b udp-stream-timeout 2592001",
		  "'2592001': 'udp-stream-timeout' expects a duration such as 500ms, 5s, 10m, 2h (at "
		  "least 1000ms, at most 30d)" },
		{ "forward tcp :80 to b half-close-timeout 5 s",
		  "'s': " UNKNOWN_OPT_MSG },
		{ "forward tcp :80 to b half-close-timeout soon",
		  "'soon': 'half-close-timeout' expects a duration such as 500ms, 5s, 10m, 2h (at "
		  "least 100ms, at most 30d)" },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_forward_resolve_options(void **state)
{
	static const struct error_case cases[] = {
		{ "forward tcp :80 to b resolve-interval 999ms",
		  "'999ms': 'resolve-interval' expects a duration such as 500ms, 5s, 10m, 2h (at "
		  "least 1000ms, at most 30d)" },
		{ "forward tcp :80 to b resolve-interval",
		  "at end of line: 'resolve-interval' expects a duration such as 500ms, 5s, 10m, 2h "
		  "(at least 1000ms, at most 30d)" },
		{ "forward tcp :80 to b resolve-interval often",
		  "'often': 'resolve-interval' expects a duration such as 500ms, 5s, 10m, 2h (at "
		  "least 1000ms, at most 30d)" },
		{ "forward tcp :80 to b resolve every",
		  "'every': 'resolve' expects first or all (which addresses of a backend's host "
		  "name are backends)" },
		{ "forward tcp :80 to b resolve",
		  "at end of line: 'resolve' expects first or all (which addresses of a backend's "
		  "host name are backends)" },
	};
	struct pf_forward *f;
	char buf[512];

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
	f = forward_ok("forward tcp :80 to web.test:8080");
	assert_int_equal(f->conf.o.resolve_ms, PF_RESOLVE_DEFAULT_MS);
	assert_int_equal(f->conf.o.resolve, PF_RESOLVE_FIRST);
	pf_forward_unref(f);
	f = forward_ok("forward tcp :80 to web.test:8080 resolve all resolve-interval 5s");
	assert_int_equal(f->conf.o.resolve_ms, 5000);
	assert_int_equal(f->conf.o.resolve, PF_RESOLVE_ALL);
	pf_forward_format(f, buf, sizeof(buf));
	assert_string_equal(buf, "forward tcp :80 to web.test:8080 resolve all resolve-interval 5s");
	pf_forward_unref(f);
	/* The default is not written back. */
	f = forward_ok("forward tcp :80 to b resolve first resolve-interval 30s");
	pf_forward_format(f, buf, sizeof(buf));
	assert_string_equal(buf, "forward tcp :80 to b");
	pf_forward_unref(f);
}

static void sa4(union pf_sa *sa, const char *a)
{
	assert_int_equal(pf_sa_from_literal(a, sa), 0);
}

static void test_resolve_pick(void **state)
{
	union pf_sa v[5], cur;
	char buf[64];

	(void)state;
	sa4(&v[0], "10.0.0.3");
	sa4(&v[1], "2001:db8::1");
	sa4(&v[2], "10.0.0.1");
	sa4(&v[3], "10.0.0.3");
	sa4(&v[4], "10.0.0.2");
	/* all: the first answer's family, no duplicates, sorted. */
	assert_int_equal(pf_addrs_pick(v, 5, 0, true, NULL), 3);
	pf_sa_format(&v[0], false, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.1");
	pf_sa_format(&v[2], false, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.3");
	/* first: the one in use while it is among them. */
	sa4(&v[0], "10.0.0.3");
	sa4(&v[1], "10.0.0.2");
	sa4(&cur, "10.0.0.2");
	assert_int_equal(pf_addrs_pick(v, 2, AF_INET, false, &cur), 1);
	pf_sa_format(&v[0], false, buf, sizeof(buf));
	assert_string_equal(buf, "10.0.0.2");
	/* No address of the family: none. */
	sa4(&v[0], "2001:db8::1");
	assert_int_equal(pf_addrs_pick(v, 1, AF_INET, false, NULL), 0);
}

static void test_resolve_wait(void **state)
{
	(void)state;
	assert_int_equal(pf_resolve_wait_ms(30000, 0), 30000);
	assert_int_equal(pf_resolve_wait_ms(30000, 5), 5000);
	assert_int_equal(pf_resolve_wait_ms(30000, 300), 30000);
	/* A TTL of a second or less (or a flood) does not make a query loop. */
	assert_int_equal(pf_resolve_wait_ms(30000, 1), 1000);
	assert_int_equal(pf_resolve_wait_ms(500, 0), 1000);
}

static void test_resolve_all_backends(void **state)
{
	struct pf_forward *f, *g;
	union pf_sa v[3];
	char buf[512];

	(void)state;
	f = forward_ok("forward tcp :80 to a.test:81, 10.0.0.9:82 resolve all");
	sa4(&v[0], "10.0.0.1");
	sa4(&v[1], "10.0.0.2");
	sa4(&v[2], "10.0.0.3");
	assert_int_equal(pf_backend_set_addrs(f, 0, v, 3), 3);
	sa4(&f->be[3].addr, "10.0.0.9");
	assert_int_equal(f->nbe, 4);
	assert_true(f->be[1].extra && f->be[2].extra && !f->be[3].extra);
	assert_string_equal(f->be[2].conf.host, "a.test");
	assert_int_equal(pf_backend_group(f, 0, NULL, 0), 3);
	/* save writes the name once, as written. */
	pf_forward_format(f, buf, sizeof(buf));
	assert_string_equal(buf, "forward tcp :80 to a.test:81, 10.0.0.9:82 resolve all");
	/* Another answer: another forward; the same one: equal. */
	g = pf_forward_clone(f);
	assert_true(pf_forward_equal(f, g));
	assert_int_equal(pf_backend_set_addrs(g, 0, v, 1), 1);
	assert_int_equal(g->nbe, 2);
	assert_false(pf_forward_equal(f, g));
	sa4(&v[0], "10.0.0.7");
	pf_backend_set_addrs(g, 0, v, 1);
	assert_false(pf_forward_equal(f, g));
	pf_forward_unref(g);
	pf_forward_unref(f);
}

static void test_error_quotes_at_most_64_chars_of_the_word(void **state)
{
	char *word = repeat('x', 100);
	char *line = xasprintf("forward tcp :80 to b %s", word);
	char *expected;

	(void)state;
	word[64] = '\0';
	expected = xasprintf("t.conf:1: '%s': " UNKNOWN_OPT_MSG, word);
	assert_stmt_error(line, expected);
	free(expected);
	free(line);
	free(word);
}

static void test_error_without_line_number(void **state)
{
	struct pf_where w = { .file = "arguments", .line = 0 };
	struct pf_toks toks;
	struct pf_stmt st;
	char err[ERRLEN];

	(void)state;
	lex_ok("forward tcp :80 to b bogus", &toks);
	assert_int_equal(pf_parse_stmt(&toks, &w, &st, err, sizeof(err)), -1);
	assert_string_equal(err, "arguments: 'bogus': " UNKNOWN_OPT_MSG);
	pf_toks_free(&toks);
}

static void test_error_message_truncated_to_buffer(void **state)
{
	struct pf_where w = { .file = "t.conf", .line = 1 };
	struct pf_toks toks;
	struct pf_stmt st;
	char err[16];

	(void)state;
	lex_ok("forward tcp :80 to b bogus", &toks);
	assert_int_equal(pf_parse_stmt(&toks, &w, &st, err, sizeof(err)), -1);
	assert_string_equal(err, "t.conf:1: 'bogu");
	pf_toks_free(&toks);
}

static void test_error_reports_given_line(void **state)
{
	char err[ERRLEN];
	struct pf_stmt st;

	(void)state;
	assert_int_equal(parse_at("forward tcp :80 to", "dir/x.conf", 42, &st, err), -1);
	assert_string_equal(err, "dir/x.conf:42: at end of line: expected " BACKEND_WHAT);
}

/* ==== other statements ==== */

static void test_empty_statement(void **state)
{
	struct pf_stmt st;

	(void)state;
	parse_ok("  # nothing", &st);
	assert_null(st.fwd); /* nothing for the caller to free */
}

static void test_plain_statements(void **state)
{
	static const struct {
		const char *line;
		enum pf_stmt_kind kind;
	} cases[] = {
		{ "flush", PF_ST_FLUSH }, { "list", PF_ST_LIST },     { "conns", PF_ST_CONNS },
		{ "save", PF_ST_SAVE },	  { "reload", PF_ST_RELOAD }, { "list # all", PF_ST_LIST },
	};
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(cases); i++) {
		struct pf_stmt st;

		parse_ok(cases[i].line, &st);
		assert_int_equal(st.kind, cases[i].kind);
		assert_null(st.fwd);
		pf_stmt_free(&st);
	}
}

static void test_plain_statements_take_no_words(void **state)
{
	static const struct error_case cases[] = {
		{ "flush now", "'now': " TRAILING_MSG },   { "list tcp", "'tcp': " TRAILING_MSG },
		{ "conns all", "'all': " TRAILING_MSG },   { "save x", "'x': " TRAILING_MSG },
		{ "reload ,", "',': " TRAILING_MSG },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_unknown_statement(void **state)
{
	static const struct error_case cases[] = {
		{ "frobnicate", "'frobnicate': " UNKNOWN_STMT },
		{ "Forward tcp :80 to b", "'Forward': " UNKNOWN_STMT },
		{ "\"forward\" tcp :80 to b", "'forward': " UNKNOWN_STMT },
		{ "\"flush\"", "'flush': " UNKNOWN_STMT },
		{ ", flush", "',': " UNKNOWN_STMT },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_include(void **state)
{
	struct pf_stmt st;

	(void)state;
	parse_ok("include conf.d/web.conf", &st);
	assert_int_equal(st.kind, PF_ST_INCLUDE);
	assert_string_equal(st.path, "conf.d/web.conf");
	parse_ok("include \"/etc/portfw/with space.conf\"", &st);
	assert_string_equal(st.path, "/etc/portfw/with space.conf");
}

static void test_include_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "include", "at end of line: 'include' expects a file name" },
		{ "include a b", "'b': " TRAILING_MSG },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_include_path_length(void **state)
{
	char *path = repeat('p', PATH_MAX);
	char *line = xasprintf("include %s", path);
	char *expected;
	struct pf_stmt st;

	(void)state;
	path[64] = '\0';
	expected = xasprintf("t.conf:1: '%s': file name too long", path);
	assert_stmt_error(line, expected);
	/* PATH_MAX - 1 characters fit. */
	line[strlen(line) - 1] = '\0';
	parse_ok(line, &st);
	assert_int_equal(strlen(st.path), PATH_MAX - 1);
	free(expected);
	free(line);
	free(path);
}

static void test_del_by_name(void **state)
{
	struct pf_stmt st;

	(void)state;
	parse_ok("del name web", &st);
	assert_int_equal(st.kind, PF_ST_DEL);
	assert_string_equal(st.sel.name, "web");
	assert_false(st.sel.all);
	assert_false(st.sel.has_backend);
}

static void test_del_by_name_with_backend(void **state)
{
	struct pf_stmt st;

	(void)state;
	parse_ok("del name web 10.0.0.2:8080", &st);
	assert_string_equal(st.sel.name, "web");
	assert_true(st.sel.has_backend);
	assert_string_equal(st.sel.backend.host, "10.0.0.2");
	assert_int_equal(st.sel.backend.port_lo, 8080);
}

static void test_del_by_listen(void **state)
{
	struct pf_stmt st;

	(void)state;
	parse_ok("del tcp,udp [::1]:53", &st);
	assert_int_equal(st.kind, PF_ST_DEL);
	assert_string_equal(st.sel.name, "");
	assert_int_equal(st.sel.protos, PF_PROTO_TCP | PF_PROTO_UDP);
	assert_string_equal(st.sel.listen.host, "::1");
	assert_int_equal(st.sel.listen.port_lo, 53);
	assert_false(st.sel.has_backend);
}

static void test_del_by_listen_with_backend(void **state)
{
	struct pf_stmt st;

	(void)state;
	parse_ok("del udp :5000-5009 b:6000-6009", &st);
	assert_int_equal(st.sel.protos, PF_PROTO_UDP);
	assert_int_equal(st.sel.listen.port_lo, 5000);
	assert_int_equal(st.sel.listen.port_hi, 5009);
	assert_true(st.sel.has_backend);
	assert_string_equal(st.sel.backend.host, "b");
	assert_int_equal(st.sel.backend.port_lo, 6000);
	assert_int_equal(st.sel.backend.port_hi, 6009);
}

static void test_del_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "del", "at end of line: expected 'name NAME' or PROTO LISTEN, then [BACKEND]" },
		{ "del all", "at end of line: expected " LISTEN_ALL_WHAT },
		{ "del name", "at end of line: " NAME_MSG },
		{ "del name 9", "'9': " NAME_MSG },
		{ "del tcp", "at end of line: expected " LISTEN_WHAT },
		{ "del tcp :80 b c", "'c': " TRAILING_MSG },
		{ "del name web b c", "'c': " TRAILING_MSG },
		{ "del tcp :80 [b", "'[b': missing ']' after IPv6 address; expected " BACKEND_WHAT },
		{ "del tcp :80 , b", "',': expected " BACKEND_WHAT },
		{ "del tcp b", "'b': expected ADDR:PORT, :PORT or [IPV6]:PORT; expected " LISTEN_WHAT },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_kill_forms(void **state)
{
	struct pf_stmt st;

	(void)state;
	parse_ok("kill all", &st);
	assert_int_equal(st.kind, PF_ST_KILL);
	assert_true(st.sel.all);
	parse_ok("kill name web", &st);
	assert_false(st.sel.all);
	assert_string_equal(st.sel.name, "web");
	parse_ok("kill udp 10.0.0.1:53", &st);
	assert_int_equal(st.sel.protos, PF_PROTO_UDP);
	assert_string_equal(st.sel.listen.host, "10.0.0.1");
	assert_int_equal(st.sel.listen.port_lo, 53);
	assert_false(st.sel.has_backend);
}

static void test_kill_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "kill", "at end of line: expected 'all', 'name NAME' or PROTO LISTEN" },
		{ "kill all now", "'now': " TRAILING_MSG },
		{ "kill name web b", "'b': " TRAILING_MSG },
		{ "kill tcp :80 b", "'b': " TRAILING_MSG },
		{ "kill \"all\"", "'all': " PROTO_MSG },
		{ "kill everything", "'everything': " PROTO_MSG },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_selector_match(void **state)
{
	struct pf_forward *f = forward_ok("forward name web tcp,udp 10.0.0.1:80-81 to b");
	struct pf_stmt st;

	(void)state;
	parse_ok("kill all", &st);
	assert_true(pf_selector_match(&st.sel, f));
	parse_ok("kill name web", &st);
	assert_true(pf_selector_match(&st.sel, f));
	parse_ok("kill name web2", &st);
	assert_false(pf_selector_match(&st.sel, f));
	parse_ok("kill tcp,udp 10.0.0.1:80-81", &st);
	assert_true(pf_selector_match(&st.sel, f));
	parse_ok("kill tcp 10.0.0.1:80-81", &st);
	assert_false(pf_selector_match(&st.sel, f));
	parse_ok("kill tcp,udp 10.0.0.1:80", &st);
	assert_false(pf_selector_match(&st.sel, f));
	parse_ok("kill tcp,udp 10.0.0.2:80-81", &st);
	assert_false(pf_selector_match(&st.sel, f));
	parse_ok("kill tcp,udp :80-81", &st);
	assert_false(pf_selector_match(&st.sel, f));
	pf_forward_unref(f);
}

/* ==== texts: pf_conf_foreach ==== */

static void test_text_statements_and_lines(void **state)
{
	struct collect c;
	char err[ERRLEN];

	(void)state;
	collect_init(&c);
	assert_int_equal(foreach("# header\n"
				 "\n"
				 "forward tcp :80 to a\n"
				 "   # indented comment\n"
				 "forward udp :53 to b # trailing comment\n"
				 "flush",
				 &c, err),
			 0);
	assert_int_equal(c.nstmt, 3);
	assert_int_equal(c.lines[0], 3);
	assert_int_equal(c.lines[1], 5);
	assert_int_equal(c.lines[2], 6);
	assert_int_equal(c.tab.n, 2);
	assert_int_equal(c.tab.fwd[0]->conf.line, 3);
	assert_int_equal(c.tab.fwd[1]->conf.line, 5);
	assert_string_equal(c.tab.fwd[1]->conf.src, "t.conf");
	assert_int_equal(c.kinds[PF_ST_FLUSH], 1);
	collect_free(&c);
}

static void test_text_empty(void **state)
{
	struct collect c;
	char err[ERRLEN];

	(void)state;
	collect_init(&c);
	assert_int_equal(foreach("", &c, err), 0);
	assert_int_equal(foreach("\n\n# only comments\n  \t\n", &c, err), 0);
	assert_int_equal(c.nstmt, 0);
	collect_free(&c);
}

static void test_text_crlf(void **state)
{
	struct collect c;
	char err[ERRLEN];

	(void)state;
	collect_init(&c);
	assert_int_equal(foreach("forward tcp :80 to a \\\r\n, b\r\n\r\nlist\r\n", &c, err), 0);
	assert_int_equal(c.nstmt, 2);
	assert_int_equal(c.tab.fwd[0]->nbe, 2);
	assert_string_equal(c.tab.fwd[0]->be[1].conf.host, "b");
	assert_int_equal(c.lines[1], 4);
	collect_free(&c);
}

static void test_text_continuation(void **state)
{
	struct collect c;
	char err[ERRLEN];

	(void)state;
	collect_init(&c);
	assert_int_equal(foreach("flush\n"
				 "forward name web tcp :80 to \\\n"
				 "    a:1,\\\n"
				 "    b:2 weight 3 \\\n"
				 "    maxconn 9\n"
				 "list\n",
				 &c, err),
			 0);
	assert_int_equal(c.nstmt, 3);
	assert_int_equal(c.lines[1], 2);
	assert_int_equal(c.lines[2], 6);
	assert_int_equal(c.tab.fwd[0]->conf.line, 2);
	assert_int_equal(c.tab.fwd[0]->be[1].conf.line, 2);
	assert_int_equal(c.tab.fwd[0]->nbe, 2);
	assert_int_equal(c.tab.fwd[0]->be[1].conf.weight, 3);
	assert_int_equal(c.tab.fwd[0]->conf.o.maxconn, 9);
	collect_free(&c);
}

static void test_text_continuation_joins_with_a_space(void **state)
{
	(void)state;
	/* "fl\" + "ush" is two words, not "flush". */
	assert_text_error("fl\\\nush\n", "t.conf:1: 'fl': " UNKNOWN_STMT);
}

static void test_text_continuation_at_end_of_text(void **state)
{
	struct collect c;
	char err[ERRLEN];

	(void)state;
	collect_init(&c);
	assert_int_equal(foreach("list \\", &c, err), 0);
	assert_int_equal(foreach("list \\\n", &c, err), 0);
	assert_int_equal(c.kinds[PF_ST_LIST], 2);
	collect_free(&c);
}

static void test_text_comment_continues_with_backslash(void **state)
{
	struct collect c;
	char err[ERRLEN];

	(void)state;
	/* Commenting out the first line of a continued statement comments it all. */
	collect_init(&c);
	assert_int_equal(foreach("#forward tcp :80 to a, \\\n"
				 "    b\n"
				 "list\n",
				 &c, err),
			 0);
	assert_int_equal(c.nstmt, 1);
	assert_int_equal(c.kinds[PF_ST_LIST], 1);
	assert_int_equal(c.lines[0], 3);
	collect_free(&c);
}

static void test_text_error_line_number(void **state)
{
	(void)state;
	assert_text_error("# one\n"
			  "forward tcp :80 to a\n"
			  "forward tcp :81 to\n"
			  "forward tcp :82 to c\n",
			  "t.conf:3: at end of line: expected " BACKEND_WHAT);
}

static void test_text_error_in_continuation_reports_first_line(void **state)
{
	(void)state;
	assert_text_error("list\n"
			  "\n"
			  "forward tcp :80 \\\n"
			  "  to a \\\n"
			  "  bogus 1\n",
			  "t.conf:3: 'bogus': " UNKNOWN_OPT_MSG);
}

static void test_text_lexer_error_line_number(void **state)
{
	(void)state;
	assert_text_error("list\nforward name \"web tcp :80 to a\n",
			  "t.conf:2: missing closing '\"'");
	assert_text_error("list\n\nlist \\\n\"\\q\"\n",
			  "t.conf:3: unknown escape in quoted string; expected \\n \\r \\t \\\\ "
			  "\\\" or \\xHH");
}

static void test_text_stops_at_first_error(void **state)
{
	struct collect c;
	char err[ERRLEN];

	(void)state;
	collect_init(&c);
	assert_int_equal(foreach("list\nbogus\nflush\n", &c, err), -1);
	assert_int_equal(c.nstmt, 1);
	assert_int_equal(c.kinds[PF_ST_FLUSH], 0);
	collect_free(&c);
}

static void test_text_nul_byte(void **state)
{
	static const char text[] = "list\nfl\0ush\nlist\n";
	struct collect c;
	char err[ERRLEN];

	(void)state;
	collect_init(&c);
	assert_int_equal(pf_conf_foreach("t.conf", text, sizeof(text) - 1, collect_cb, &c, err,
					 sizeof(err)),
			 -1);
	assert_string_equal(err, "t.conf:2: NUL byte in line; expected text");
	assert_int_equal(c.nstmt, 1);
	collect_free(&c);
}

/* 'source NAME [LINE]' renames the lines after it: FILE:LINE, or "NAME: "
 * with LINE 0 (arguments); forwards keep the new origin. */
static void test_text_source_renames(void **state)
{
	struct collect c;
	char err[ERRLEN];

	(void)state;
	collect_init(&c);
	assert_int_equal(foreach("flush\nsource \"a b.conf\"\nforward tcp :1 to h\n\n"
				 "forward tcp :2 to h\nsource x.conf 7\nforward tcp :3 to h\n",
				 &c, err),
			 0);
	assert_int_equal(c.tab.n, 3);
	assert_string_equal(c.tab.fwd[0]->conf.src, "a b.conf");
	assert_int_equal(c.tab.fwd[0]->conf.line, 1);
	assert_int_equal(c.tab.fwd[1]->conf.line, 3);
	assert_string_equal(c.tab.fwd[2]->conf.src, "x.conf");
	assert_int_equal(c.tab.fwd[2]->conf.line, 7);
	collect_free(&c);
	assert_text_error("source bad.conf\nlist\nforward tcp :1 to\n",
			  "bad.conf:2: at end of line: expected " BACKEND_WHAT);
	assert_text_error("source \"portfw add\" 0\nforward tcp :1 to\nlist\n",
			  "portfw add: at end of line: expected " BACKEND_WHAT);
	assert_text_error("source \"portfw add\" 0\nlist\nfl\\\n\"",
			  "portfw add: missing closing '\"'");
	assert_text_error("source\n", "t.conf:1: at end of line: 'source' expects the name "
			  "the lines after it come from");
	assert_text_error("source a x\n", "t.conf:1: 'x': 'source' expects the number of the "
			  "next line (0: arguments, not lines)");
}

static void test_text_uses_len_not_nul(void **state)
{
	struct collect c;
	char err[ERRLEN];

	(void)state;
	collect_init(&c);
	/* Only the first 5 bytes: "list\n". */
	assert_int_equal(pf_conf_foreach("t.conf", "list\nbogus\n", 5, collect_cb, &c, err,
					 sizeof(err)),
			 0);
	assert_int_equal(c.nstmt, 1);
	collect_free(&c);
}

static void test_text_longest_statement(void **state)
{
	/* A line of PF_LINE_MAX - 2 bytes fits (with the joining space and NUL). */
	char *text = repeat(' ', PF_LINE_MAX - 2);
	struct collect c;
	char err[ERRLEN];

	(void)state;
	memcpy(text, "list", 4);
	collect_init(&c);
	assert_int_equal(foreach(text, &c, err), 0);
	assert_int_equal(c.kinds[PF_ST_LIST], 1);
	collect_free(&c);
	free(text);
}

static void test_text_statement_too_long(void **state)
{
	char *text = repeat(' ', PF_LINE_MAX + 8);

	(void)state;
	memcpy(text, "list\n", 5);
	memcpy(text + 5, "list", 4);
	text[5 + PF_LINE_MAX - 1] = '\0'; /* line 2: PF_LINE_MAX - 1 bytes */
	assert_text_error(text, "t.conf:2: statement longer than 65536 bytes");
	free(text);
}

static void test_text_statement_too_long_reports_first_line(void **state)
{
	size_t half = PF_LINE_MAX / 2;
	char *text = repeat(' ', 3 * half + 16);
	char *p = text;

	(void)state;
	memcpy(p, "list\n\nlist", 10);
	p += 10 + half;
	memcpy(p, "\\\n", 2);
	p += 2 + half;
	memcpy(p, "\\\n", 3);
	assert_text_error(text, "t.conf:3: statement longer than 65536 bytes");
	free(text);
}

static void test_text_callback_error_stops(void **state)
{
	struct collect c;
	char err[ERRLEN];

	(void)state;
	collect_init(&c);
	c.fail_at = 2;
	assert_int_equal(foreach("list\n\nlist\nlist\n", &c, err), -1);
	assert_string_equal(err, "callback refused t.conf:3");
	assert_int_equal(c.nstmt, 2);
	collect_free(&c);
}

static void test_text_error_in_forward_leaks_nothing(void **state)
{
	struct collect c;
	char err[ERRLEN];

	(void)state;
	/* The half-built forward is freed (ASan's leak check watches this). */
	collect_init(&c);
	assert_int_equal(foreach("forward name x tcp :80 to a, b weight 3, c bogus\n", &c, err),
			 -1);
	assert_int_equal(c.nstmt, 0);
	collect_free(&c);
}

/* ==== files: pf_conf_load ==== */

static void test_load_file(void **state)
{
	char *path = write_file("load/main.conf", "# main\nforward tcp :80 to a\n\n"
						  "forward name b udp :53 to b\n");
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(path, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.fwd[0]->conf.src, path);
	assert_int_equal(t.fwd[0]->conf.line, 2);
	assert_int_equal(t.fwd[1]->conf.line, 4);
	assert_string_equal(t.fwd[1]->conf.name, "b");
	pf_table_clear(&t);
	free(path);
}

static void test_load_appends_to_table(void **state)
{
	char *path = write_file("append/main.conf", "forward tcp :80 to a\n");
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(path, &t, err, sizeof(err)), 0);
	assert_int_equal(pf_conf_load(path, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, 2);
	pf_table_clear(&t);
	free(path);
}

static void test_load_empty_file(void **state)
{
	char *path = write_file("empty/main.conf", "");
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(path, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, 0);
	pf_table_clear(&t);
	free(path);
}

static void test_load_large_file(void **state)
{
	/* More than the first read buffer (64 KiB): the buffer grows. */
	size_t n = 5000, i;
	char *text = malloc(n * 32), *p = text, *path;
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	assert_non_null(text);
	for (i = 0; i < n; i++)
		p += sprintf(p, "forward tcp :%zu to b\n", i + 1);
	path = write_file("large/main.conf", text);
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(path, &t, err, sizeof(err)), 0);
	assert_int_equal(t.n, n);
	assert_int_equal(t.fwd[n - 1]->conf.line, (int)n);
	assert_int_equal(t.fwd[n - 1]->conf.lport_lo, n);
	pf_table_clear(&t);
	free(path);
	free(text);
}

static void test_load_missing_file(void **state)
{
	char *path = xasprintf("%s/does-not-exist.conf", tmpdir);
	char *expected = xasprintf("%s: cannot open: No such file or directory", path);
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(path, &t, err, sizeof(err)), -1);
	assert_string_equal(err, expected);
	free(expected);
	free(path);
}

static void test_load_directory(void **state)
{
	char *expected = xasprintf("%s: read error: Is a directory", tmpdir);
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(tmpdir, &t, err, sizeof(err)), -1);
	assert_string_equal(err, expected);
	free(expected);
}

static void test_load_too_large(void **state)
{
	char *path = write_file("huge/main.conf", "");
	char *expected = xasprintf("%s: larger than 64 MiB", path);
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(truncate(path, 65 * 1024 * 1024), 0); /* sparse */
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(path, &t, err, sizeof(err)), -1);
	assert_string_equal(err, expected);
	assert_int_equal(unlink(path), 0);
	free(expected);
	free(path);
}

static void test_load_error_names_file_and_line(void **state)
{
	char *path = write_file("err/main.conf", "forward tcp :80 to a\n\nforward tcp :81\n");
	char *expected = xasprintf("%s:3: at end of line: expected 'to' and the backends after "
				   "the listen address",
				   path);
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(path, &t, err, sizeof(err)), -1);
	assert_string_equal(err, expected);
	pf_table_clear(&t);
	free(expected);
	free(path);
}

static void test_load_rejects_control_commands(void **state)
{
	static const char *const cmds[] = { "flush",	    "list",	    "conns",
					    "save",	    "reload",	    "kill all",
					    "del name web", "del tcp :80", "kill tcp :80" };
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(cmds); i++) {
		char *text = xasprintf("forward tcp :80 to a\n%s\n", cmds[i]);
		char *path = write_file("ctl/main.conf", text);
		char *expected = xasprintf("%s:2: " CONTROL_MSG, path);
		struct pf_table t;
		char err[ERRLEN];

		pf_table_init(&t);
		assert_int_equal(pf_conf_load(path, &t, err, sizeof(err)), -1);
		assert_string_equal(err, expected);
		pf_table_clear(&t);
		free(expected);
		free(path);
		free(text);
	}
}

static void test_include_relative_to_including_file(void **state)
{
	char *inc = write_file("rel/sub/web.conf", "forward name web tcp :80 to a\n");
	char *main_path = write_file("rel/main.conf", "forward tcp :1 to x\n"
						       "include sub/web.conf\n"
						       "forward tcp :2 to y\n");
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	if (pf_conf_load(main_path, &t, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(t.n, 3);
	assert_int_equal(t.fwd[0]->conf.lport_lo, 1);
	assert_string_equal(t.fwd[1]->conf.name, "web");
	assert_string_equal(t.fwd[1]->conf.src, inc);
	assert_int_equal(t.fwd[1]->conf.line, 1);
	assert_int_equal(t.fwd[2]->conf.lport_lo, 2);
	assert_string_equal(t.fwd[2]->conf.src, main_path);
	pf_table_clear(&t);
	free(main_path);
	free(inc);
}

static void test_include_absolute(void **state)
{
	char *inc = write_file("abs/other/a.conf", "forward tcp :80 to a\n");
	char *text = xasprintf("include %s\n", inc);
	char *main_path = write_file("abs/main.conf", text);
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	if (pf_conf_load(main_path, &t, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.fwd[0]->conf.src, inc);
	pf_table_clear(&t);
	free(main_path);
	free(text);
	free(inc);
}

static void test_include_from_file_without_directory(void **state)
{
	char *inc = write_file("cwd/b.conf", "forward tcp :80 to a\n");
	char *main_path = write_file("cwd/a.conf", "include b.conf\n");
	char *dir = xasprintf("%s/cwd", tmpdir);
	char old[PATH_MAX];
	struct pf_table t;
	char err[ERRLEN];
	int rc;

	(void)state;
	assert_non_null(getcwd(old, sizeof(old)));
	assert_int_equal(chdir(dir), 0);
	pf_table_init(&t);
	rc = pf_conf_load("a.conf", &t, err, sizeof(err));
	assert_int_equal(chdir(old), 0);
	if (rc)
		fail_msg("%s", err);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.fwd[0]->conf.src, "b.conf");
	pf_table_clear(&t);
	free(dir);
	free(main_path);
	free(inc);
}

static void test_include_missing_file(void **state)
{
	char *main_path = write_file("miss/main.conf", "forward tcp :80 to a\ninclude nope.conf\n");
	char *expected = xasprintf("%s/miss/nope.conf: cannot open: No such file or directory "
				   "(included from %s:2)",
				   tmpdir, main_path);
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(main_path, &t, err, sizeof(err)), -1);
	assert_string_equal(err, expected);
	pf_table_clear(&t);
	free(expected);
	free(main_path);
}

static void test_include_error_inside_included_file(void **state)
{
	char *inc = write_file("inner/x.conf", "forward tcp :1 to a\n\nforward tcp :2 to b bogus\n");
	char *mid = write_file("inner/mid.conf", "\ninclude x.conf\n");
	char *main_path = write_file("inner/main.conf", "\n\n\ninclude mid.conf\n");
	char *expected = xasprintf("%s:3: 'bogus': " UNKNOWN_OPT_MSG
				   " (included from %s:2) (included from %s:4)",
				   inc, mid, main_path);
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(main_path, &t, err, sizeof(err)), -1);
	assert_string_equal(err, expected);
	pf_table_clear(&t);
	free(expected);
	free(main_path);
	free(mid);
	free(inc);
}

static void test_include_control_command_in_included_file(void **state)
{
	char *inc = write_file("incctl/x.conf", "\nflush\n");
	char *main_path = write_file("incctl/main.conf", "include x.conf\n");
	char *expected = xasprintf("%s:2: " CONTROL_MSG " (included from %s:1)", inc, main_path);
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(main_path, &t, err, sizeof(err)), -1);
	assert_string_equal(err, expected);
	free(expected);
	free(main_path);
	free(inc);
}

/* Files depth/f0.conf .. fN.conf, each including the next; the last one
 * includes 'last_include' or nothing. */
static char *write_include_chain(int n, const char *last_include)
{
	int i;

	for (i = 0; i <= n; i++) {
		char *rel = xasprintf("depth/f%d.conf", i);
		char *text = i < n ? xasprintf("include f%d.conf\nforward tcp :%d to b\n", i + 1,
					       i + 1)
				   : xasprintf("forward tcp :%d to b\n%s\n", i + 1, last_include);

		free(write_file(rel, text));
		free(text);
		free(rel);
	}
	return xasprintf("%s/depth/f0.conf", tmpdir);
}

static void test_include_depth_limit_allows_8(void **state)
{
	char *path = write_include_chain(PF_INCLUDE_DEPTH, "");
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	if (pf_conf_load(path, &t, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(t.n, PF_INCLUDE_DEPTH + 1);
	pf_table_clear(&t);
	free(path);
}

static void test_include_depth_limit(void **state)
{
	char *path = write_include_chain(PF_INCLUDE_DEPTH, "include f9.conf");
	char *expected = xasprintf("%s/depth/f8.conf:2: includes nested deeper than 8", tmpdir);
	struct pf_table t;
	char err[ERRLEN];
	int i;

	(void)state;
	for (i = PF_INCLUDE_DEPTH - 1; i >= 0; i--) {
		char *e = xasprintf("%s (included from %s/depth/f%d.conf:1)", expected, tmpdir, i);

		free(expected);
		expected = e;
	}
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(path, &t, err, sizeof(err)), -1);
	assert_string_equal(err, expected);
	pf_table_clear(&t);
	free(expected);
	free(path);
}

static void test_include_self_stops(void **state)
{
	char *path = write_file("self/a.conf", "include a.conf\n");
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(path, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "a.conf:1: includes nested deeper than 8 (included from "));
	pf_table_clear(&t);
	free(path);
}

static void test_include_path_too_long(void **state)
{
	char *name = repeat('n', PATH_MAX - 8);
	char *text = xasprintf("\ninclude %s\n", name);
	char *main_path = write_file("long/main.conf", text);
	char *expected = xasprintf("%s:2: include path too long", main_path);
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(main_path, &t, err, sizeof(err)), -1);
	assert_string_equal(err, expected);
	free(expected);
	free(main_path);
	free(text);
	free(name);
}

/* ==== balancing, checks, sources ==== */

#define BALANCE_MSG "'balance' expects wrr, pref, rr, leastconn, source or maglev"
#define DURATION_MSG(opt, min)                                                         \
	"'" opt "' expects a duration such as 500ms, 5s, 10m, 2h (at least " min ", at " \
	"most 30d)"
#define CHECKS_MSG(opt) "'" opt "' expects a number of checks 1-100"
#define PORT_MSG(opt) "'" opt "' expects a port number 1-65535"
#define STRING_MSG(opt) \
	"'" opt "' expects a string of 1-255 bytes (\"...\" with \\r\\n \\xHH escapes)"
#define CIDRS_MSG(opt) "'" opt "' expects networks ADDR[/LEN][,ADDR[/LEN]...]"
#define DEFAULT_MSG                                                                \
	"expected 'allow CIDR[,CIDR...]', 'deny CIDR[,CIDR...]', 'clear', 'log' or 'no-log'"
#define BACKEND_CMD_MSG "expected 'name NAME BACKEND ACTION'"
#define ACTION_MSG "expected drain, enable, disable, backup, primary or weight N"

/* The network as "ADDR/LEN". */
static void assert_cidr(const struct pf_cidr *c, const char *expected)
{
	char a[PF_ADDRSTR_MAX], buf[PF_ADDRSTR_MAX + 8];

	pf_sa_format(&c->addr, false, a, sizeof(a));
	snprintf(buf, sizeof(buf), "%s/%u", a, c->plen);
	assert_string_equal(buf, expected);
}

static void test_forward_backend_flags(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :80 to a weight 3 backup drain, b disabled, "
					  "c backup, d drain weight 0, e backup weight 2 disabled, f");

	(void)state;
	assert_int_equal(f->nbe, 6);
	assert_int_equal(f->be[0].conf.weight, 3);
	assert_true(f->be[0].conf.backup);
	assert_int_equal(f->be[0].conf.admin, PF_ADMIN_DRAIN);
	assert_int_equal(f->be[1].conf.weight, 1);
	assert_false(f->be[1].conf.backup);
	assert_int_equal(f->be[1].conf.admin, PF_ADMIN_DISABLED);
	assert_true(f->be[2].conf.backup);
	assert_int_equal(f->be[2].conf.admin, PF_ADMIN_ENABLED);
	assert_false(f->be[3].conf.backup);
	assert_int_equal(f->be[3].conf.admin, PF_ADMIN_DRAIN);
	assert_int_equal(f->be[3].conf.weight, 0);
	assert_true(f->be[4].conf.backup);
	assert_int_equal(f->be[4].conf.weight, 2);
	assert_int_equal(f->be[4].conf.admin, PF_ADMIN_DISABLED);
	assert_false(f->be[5].conf.backup);
	assert_int_equal(f->be[5].conf.admin, PF_ADMIN_ENABLED);
	assert_int_equal(f->be[5].conf.weight, 1);
	pf_forward_unref(f);
	/* The flags are words after a backend: a host may have such a name. */
	f = forward_ok("forward tcp :80 to backup backup, drain disabled");
	assert_string_equal(f->be[0].conf.host, "backup");
	assert_true(f->be[0].conf.backup);
	assert_string_equal(f->be[1].conf.host, "drain");
	assert_int_equal(f->be[1].conf.admin, PF_ADMIN_DISABLED);
	pf_forward_unref(f);
}

static void test_forward_balance(void **state)
{
	static const struct {
		const char *word;
		uint8_t balance;
	} cases[] = {
		{ "wrr", PF_BAL_WRR },		   { "pref", PF_BAL_PREF },
		{ "rr", PF_BAL_RR },		   { "leastconn", PF_BAL_LEASTCONN },
		{ "source", PF_BAL_SOURCE },	   { "maglev", PF_BAL_MAGLEV },
	};
	struct pf_forward *f = forward_ok("forward tcp :80 to a");
	size_t i;

	(void)state;
	assert_int_equal(f->conf.balance, PF_BAL_WRR);
	pf_forward_unref(f);
	for (i = 0; i < PF_ARRAY_SIZE(cases); i++) {
		char *line = xasprintf("forward tcp :80 to a, b balance %s maxconn 2", cases[i].word);

		f = forward_ok(line);
		assert_int_equal(f->conf.balance, cases[i].balance);
		assert_int_equal(f->conf.o.maxconn, 2);
		assert_string_equal(pf_balance_name(f->conf.balance),
				    cases[i].word);
		pf_forward_unref(f);
		free(line);
	}
}

static void assert_check_defaults(const struct pf_check *c, bool on)
{
	assert_int_equal(c->on, on);
	assert_int_equal(c->interval_ms, 2000);
	assert_int_equal(c->timeout_ms, 2000);
	assert_int_equal(c->fall, 3);
	assert_int_equal(c->rise, 2);
	assert_int_equal(c->port, 0);
	assert_string_equal(c->send, "");
	assert_string_equal(c->expect, "");
	assert_int_equal(c->agent_port, 0);
	assert_int_equal(c->agent_interval_ms, 2000);
}

static void test_forward_check_defaults(void **state)
{
	struct pf_forward *f = forward_ok("forward tcp :80 to a");

	(void)state;
	assert_check_defaults(&f->conf.check, false);
	assert_int_equal(f->conf.from.n, 0);
	assert_int_equal(f->conf.allow.n, 0);
	assert_int_equal(f->conf.deny.n, 0);
	pf_forward_unref(f);
	f = forward_ok("forward tcp :80 to a check");
	assert_check_defaults(&f->conf.check, true);
	pf_forward_unref(f);
}

static void test_forward_check_options(void **state)
{
	struct pf_forward *f = forward_ok(
		"forward tcp :80 to a check check-interval 500ms check-timeout 1s fall 1 rise 100 "
		"check-port 65535 check-send \"GET / HTTP/1.0\\r\\n\\r\\n\" check-expect HTTP/1. "
		"agent-port 1 agent-interval 10m");

	(void)state;
	assert_true(f->conf.check.on);
	assert_int_equal(f->conf.check.interval_ms, 500);
	assert_int_equal(f->conf.check.timeout_ms, 1000);
	assert_int_equal(f->conf.check.fall, 1);
	assert_int_equal(f->conf.check.rise, 100);
	assert_int_equal(f->conf.check.port, 65535);
	/* Kept as escaped text, the way save writes it. */
	assert_string_equal(f->conf.check.send, "GET / HTTP/1.0\\r\\n\\r\\n");
	assert_string_equal(f->conf.check.expect, "HTTP/1.");
	assert_int_equal(f->conf.check.agent_port, 1);
	assert_int_equal(f->conf.check.agent_interval_ms, 600000);
	pf_forward_unref(f);
	/* Limits. */
	f = forward_ok("forward tcp :80 to a check-interval 100ms check-timeout 30d fall 100 "
		       "rise 1 agent-interval 100ms");
	assert_int_equal(f->conf.check.interval_ms, 100);
	assert_int_equal(f->conf.check.timeout_ms, 30ULL * 86400000);
	assert_int_equal(f->conf.check.fall, 100);
	assert_int_equal(f->conf.check.rise, 1);
	assert_int_equal(f->conf.check.agent_interval_ms, 100);
	pf_forward_unref(f);
}

static void test_forward_check_options_turn_checks_on(void **state)
{
	static const char *const opts[] = {
		"check-interval 1s", "check-timeout 1s", "fall 2",	    "rise 3",
		"check-port 81",     "check-send x",	 "check-expect y", "agent-port 9",
		"agent-interval 3s",
	};
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(opts); i++) {
		char *line = xasprintf("forward tcp :80 to a %s", opts[i]);
		struct pf_forward *f = forward_ok(line);

		if (!f->conf.check.on)
			fail_msg("'%s' does not turn the checks on", line);
		pf_forward_unref(f);
		free(line);
	}
}

static void test_forward_check_strings(void **state)
{
	char *s255 = repeat('s', PF_CHECK_STR_MAX - 1);
	char *line = xasprintf("forward tcp :80 to a check-send %s check-expect \"%s\"", s255, s255);
	struct pf_forward *f = forward_ok(line);

	(void)state;
	assert_string_equal(f->conf.check.send, s255);
	assert_string_equal(f->conf.check.expect, s255);
	pf_forward_unref(f);
	free(line);
	free(s255);
	/* Escapes, quotes, separators and comment marks inside the quotes. */
	f = forward_ok("forward tcp :80 to a check-send \"a\\\"b\\\\c\\x01\\xfe\\t#, d\" "
		       "check-expect \"\\\\\"");
	assert_string_equal(f->conf.check.send, "a\\\"b\\\\c\\x01\\xfe\\t#, d");
	assert_string_equal(f->conf.check.expect, "\\\\");
	pf_forward_unref(f);
	/* A quoted keyword is a string. */
	f = forward_ok("forward tcp :80 to a check-send \"check\" check-expect \"from\"");
	assert_string_equal(f->conf.check.send, "check");
	assert_string_equal(f->conf.check.expect, "from");
	pf_forward_unref(f);
}

/* A UDP-only forward's check needs a datagram to send, or a TCP port. */
static void test_forward_udp_check(void **state)
{
	static const struct error_case cases[] = {
		{ "forward udp :53 to b check", "'check': " UDP_CHECK_MSG },
		{ "forward udp :53 to b weight 2 fall 2 check rise 3", "'fall': " UDP_CHECK_MSG },
		{ "forward udp :53 to b check-expect x", "'check-expect': " UDP_CHECK_MSG },
		{ "forward udp :53 to b agent-port 9 check", "'check': " UDP_CHECK_MSG },
	};
	static const char *const ok[] = {
		"forward udp :53 to b check check-send \"\\x00\\x01\"",
		"forward udp :53 to b check check-port 53",
		"forward udp :53 to b agent-port 9",
		"forward tcp,udp :53 to b check",
		"forward udp :53 to b check check-send q engine kernel",
	};
	size_t i;

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
	for (i = 0; i < PF_ARRAY_SIZE(ok); i++)
		pf_forward_unref(forward_ok(ok[i]));
}

static void test_forward_sources(void **state)
{
	struct pf_forward *f = forward_ok(
		"forward tcp :80 to a from 10.1.2.3/8,192.168.1.0/24 , 2001:db8::1/32, 10.9.9.9 "
		"allow [2001:db8::1]/64, ::1 deny 0.0.0.0/0");

	(void)state;
	assert_int_equal(f->conf.from.n, 4);
	assert_cidr(&f->conf.from.v[0], "10.0.0.0/8");
	assert_cidr(&f->conf.from.v[1], "192.168.1.0/24");
	assert_cidr(&f->conf.from.v[2], "2001:db8::/32");
	assert_cidr(&f->conf.from.v[3], "10.9.9.9/32");
	assert_int_equal(f->conf.allow.n, 2);
	assert_cidr(&f->conf.allow.v[0], "2001:db8::/64");
	assert_cidr(&f->conf.allow.v[1], "::1/128");
	assert_int_equal(f->conf.allow.v[1].addr.sa.sa_family, AF_INET6);
	assert_int_equal(f->conf.deny.n, 1);
	assert_cidr(&f->conf.deny.v[0], "0.0.0.0/0");
	assert_int_equal(f->conf.deny.v[0].addr.sa.sa_family, AF_INET);
	/* Checks off, default scheduler: sources are no balancing options. */
	assert_false(f->conf.check.on);
	assert_int_equal(f->conf.balance, PF_BAL_WRR);
	pf_forward_unref(f);
}

static void test_forward_sources_limit(void **state)
{
	/* As many networks as a statement has words for (1024 words, with the commas). */
	size_t cap = 32 * 1024, off;
	char *line = malloc(cap);
	struct pf_forward *f;
	int i;

	(void)state;
	assert_non_null(line);
	off = (size_t)snprintf(line, cap, "forward tcp :80 to a deny");
	for (i = 0; i < 509; i++)
		off += (size_t)snprintf(line + off, cap - off, "%s10.%d.%d.0/24", i ? "," : " ",
					i / 256, i % 256);
	f = forward_ok(line);
	assert_int_equal(f->conf.deny.n, 509);
	assert_cidr(&f->conf.deny.v[508], "10.1.252.0/24");
	pf_forward_unref(f);
	free(line);
}

static void test_forward_errors_balance(void **state)
{
	static const struct error_case cases[] = {
		{ "forward tcp :80 to a balance", "at end of line: " BALANCE_MSG },
		{ "forward tcp :80 to a balance random", "'random': " BALANCE_MSG },
		{ "forward tcp :80 to a balance WRR", "'WRR': " BALANCE_MSG },
		{ "forward tcp :80 to a balance \"rr\"", "'rr': " BALANCE_MSG },
		{ "forward tcp :80 to a balance , b", "',': " BALANCE_MSG },
		{ "forward tcp :80 to a balance rr balance rr", "'balance': option given twice" },
		{ "forward tcp :80 to a balance rr balance pref", "'balance': option given twice" },
		{ "forward tcp :80 to a balance rr pref", "'pref': " UNKNOWN_OPT_MSG },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_forward_errors_checks(void **state)
{
	static const struct error_case cases[] = {
		{ "forward tcp :80 to a check check", "'check': option given twice" },
		{ "forward tcp :80 to a fall 2 check fall 2", "'fall': option given twice" },
		{ "forward tcp :80 to a rise 2 rise 2", "'rise': option given twice" },
		{ "forward tcp :80 to a check-port 1 check-port 1", "'check-port': option given twice" },
		{ "forward tcp :80 to a check-send a check-send a", "'check-send': option given twice" },
		{ "forward tcp :80 to a check-expect a check-expect a",
		  "'check-expect': option given twice" },
		{ "forward tcp :80 to a agent-port 1 agent-port 1", "'agent-port': option given twice" },
		{ "forward tcp :80 to a check-interval 1s check-interval 1s",
		  "'check-interval': option given twice" },
		{ "forward tcp :80 to a check-timeout 1s check-timeout 1s",
		  "'check-timeout': option given twice" },
		{ "forward tcp :80 to a agent-interval 1s agent-interval 1s",
		  "'agent-interval': option given twice" },
		{ "forward tcp :80 to a fall", "at end of line: " CHECKS_MSG("fall") },
		{ "forward tcp :80 to a fall 0", "'0': " CHECKS_MSG("fall") },
		{ "forward tcp :80 to a fall 101", "'101': " CHECKS_MSG("fall") },
		{ "forward tcp :80 to a fall x", "'x': " CHECKS_MSG("fall") },
		{ "forward tcp :80 to a fall -1", "'-1': " CHECKS_MSG("fall") },
		{ "forward tcp :80 to a rise 0", "'0': " CHECKS_MSG("rise") },
		{ "forward tcp :80 to a rise 101", "'101': " CHECKS_MSG("rise") },
		{ "forward tcp :80 to a rise", "at end of line: " CHECKS_MSG("rise") },
		{ "forward tcp :80 to a check-port", "at end of line: " PORT_MSG("check-port") },
		{ "forward tcp :80 to a check-port 0", "'0': " PORT_MSG("check-port") },
		{ "forward tcp :80 to a check-port 65536", "'65536': " PORT_MSG("check-port") },
		{ "forward tcp :80 to a check-port http", "'http': " PORT_MSG("check-port") },
		{ "forward tcp :80 to a agent-port 0", "'0': " PORT_MSG("agent-port") },
		{ "forward tcp :80 to a agent-port", "at end of line: " PORT_MSG("agent-port") },
		{ "forward tcp :80 to a agent-port 70000", "'70000': " PORT_MSG("agent-port") },
		{ "forward tcp :80 to a check-interval",
		  "at end of line: " DURATION_MSG("check-interval", "100ms") },
		{ "forward tcp :80 to a check-interval 99ms",
		  "'99ms': " DURATION_MSG("check-interval", "100ms") },
		{ "forward tcp :80 to a check-interval 31d",
		  "'31d': " DURATION_MSG("check-interval", "100ms") },
		{ "forward tcp :80 to a check-timeout 0",
		  "'0': " DURATION_MSG("check-timeout", "100ms") },
		{ "forward tcp :80 to a check-timeout soon",
		  "'soon': " DURATION_MSG("check-timeout", "100ms") },
		{ "forward tcp :80 to a agent-interval 50ms",
		  "'50ms': " DURATION_MSG("agent-interval", "100ms") },
		{ "forward tcp :80 to a agent-interval",
		  "at end of line: " DURATION_MSG("agent-interval", "100ms") },
		{ "forward tcp :80 to a check-send", "at end of line: " STRING_MSG("check-send") },
		{ "forward tcp :80 to a check-send \"\"", "'': " STRING_MSG("check-send") },
		{ "forward tcp :80 to a check-expect", "at end of line: " STRING_MSG("check-expect") },
		{ "forward tcp :80 to a check-expect \"\" check", "'': " STRING_MSG("check-expect") },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_forward_errors_check_string_too_long(void **state)
{
	char *s256 = repeat('s', PF_CHECK_STR_MAX);
	char *send = xasprintf("forward tcp :80 to a check-send %s", s256);
	char *expect = xasprintf("forward tcp :80 to a check-expect \"%s\"", s256);
	char *msg1, *msg2;

	(void)state;
	s256[64] = '\0';
	msg1 = xasprintf("t.conf:1: '%s': " STRING_MSG("check-send"), s256);
	msg2 = xasprintf("t.conf:1: '%s': " STRING_MSG("check-expect"), s256);
	assert_stmt_error(send, msg1);
	assert_stmt_error(expect, msg2);
	free(msg2);
	free(msg1);
	free(expect);
	free(send);
	free(s256);
}

static void test_forward_errors_sources(void **state)
{
	static const struct error_case cases[] = {
		{ "forward tcp :80 to a from 10.0.0.0/33", "'10.0.0.0/33': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from x", "'x': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from \"\"", "'': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from", "at end of line: " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from , 10.0.0.0/8", "',': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from 10.0.0.0/8,", "at end of line: " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from 10.0.0.0/8,,10.1.0.0/16", "',': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from 10.0.0.0/8, check", "'check': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from example.com", "'example.com': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from 10.0.0.0/", "'10.0.0.0/': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from /8", "'/8': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from 10.0.0.0/-1", "'10.0.0.0/-1': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from 10.0.0.0/8/8", "'10.0.0.0/8/8': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from 10.0.0.0/x", "'10.0.0.0/x': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from 10.0.0/8", "'10.0.0/8': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from 10.0.0.0:80", "'10.0.0.0:80': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from []", "'[]': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a from [::1", "'[::1': " CIDRS_MSG("from") },
		{ "forward tcp :80 to a allow ::1/129", "'::1/129': " CIDRS_MSG("allow") },
		{ "forward tcp :80 to a allow 2001:db8::/200", "'2001:db8::/200': " CIDRS_MSG("allow") },
		{ "forward tcp :80 to a allow", "at end of line: " CIDRS_MSG("allow") },
		{ "forward tcp :80 to a deny 10.0.0.0/8x", "'10.0.0.0/8x': " CIDRS_MSG("deny") },
		{ "forward tcp :80 to a deny 1.2.3.4 /8", "'/8': " UNKNOWN_OPT_MSG },
		{ "forward tcp :80 to a deny", "at end of line: " CIDRS_MSG("deny") },
		{ "forward tcp :80 to a from 10.0.0.0/8 from 10.1.0.0/16", "'from': option given twice" },
		{ "forward tcp :80 to a allow ::/0 allow ::/0", "'allow': option given twice" },
		{ "forward tcp :80 to a deny ::/0 maxconn 1 deny ::/0", "'deny': option given twice" },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_forward_errors_backend_flags(void **state)
{
	static const struct error_case cases[] = {
		{ "forward tcp :80 to b backup backup", "'backup': option given twice" },
		{ "forward tcp :80 to b backup weight 2 backup", "'backup': option given twice" },
		{ "forward tcp :80 to b drain drain",
		  "'drain': option given twice; expected drain or disabled" },
		{ "forward tcp :80 to b drain disabled",
		  "'disabled': option given twice; expected drain or disabled" },
		{ "forward tcp :80 to b disabled weight 1 drain",
		  "'drain': option given twice; expected drain or disabled" },
		{ "forward tcp :80 to b weight 1 backup weight 2", "'weight': option given twice" },
		{ "forward tcp :80 to b \"backup\"", "'backup': " UNKNOWN_OPT_MSG },
		{ "forward tcp :80 to b enabled", "'enabled': " UNKNOWN_OPT_MSG },
		{ "forward tcp :80 to b check backup", "'backup': " UNKNOWN_OPT_MSG },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

/* ==== default, backend, schedule ==== */

static void test_default_statements(void **state)
{
	struct pf_stmt st;

	(void)state;
	parse_ok("default allow 10.1.2.3/8, 192.168.0.0/16,2001:db8::/32", &st);
	assert_int_equal(st.kind, PF_ST_DEFAULT);
	assert_int_equal(st.action, PF_ACT_ALLOW);
	assert_null(st.fwd);
	assert_int_equal(st.cidrs.n, 3);
	assert_cidr(&st.cidrs.v[0], "10.0.0.0/8");
	assert_cidr(&st.cidrs.v[1], "192.168.0.0/16");
	assert_cidr(&st.cidrs.v[2], "2001:db8::/32");
	pf_stmt_free(&st);
	parse_ok("default deny ::/0", &st);
	assert_int_equal(st.kind, PF_ST_DEFAULT);
	assert_int_equal(st.action, PF_ACT_DENY);
	assert_int_equal(st.cidrs.n, 1);
	assert_cidr(&st.cidrs.v[0], "::/0");
	pf_stmt_free(&st);
	parse_ok("default clear # both lists", &st);
	assert_int_equal(st.kind, PF_ST_DEFAULT);
	assert_int_equal(st.action, PF_ACT_CLEAR);
	assert_int_equal(st.cidrs.n, 0);
	pf_stmt_free(&st);
}

static void test_default_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "default", "at end of line: " DEFAULT_MSG },
		{ "default permit 10.0.0.0/8", "'permit': " DEFAULT_MSG },
		{ "default \"allow\" 10.0.0.0/8", "'allow': " DEFAULT_MSG },
		{ "default 10.0.0.0/8", "'10.0.0.0/8': " DEFAULT_MSG },
		{ "default allow", "at end of line: " CIDRS_MSG("allow") },
		{ "default deny", "at end of line: " CIDRS_MSG("deny") },
		{ "default deny 10.0.0.0/33", "'10.0.0.0/33': " CIDRS_MSG("deny") },
		{ "default allow 10.0.0.0/8,", "at end of line: " CIDRS_MSG("allow") },
		{ "default allow 10.0.0.0/8 192.168.0.0/16", "'192.168.0.0/16': " TRAILING_MSG },
		{ "default allow 10.0.0.0/8 deny 10.1.0.0/16", "'deny': " TRAILING_MSG },
		{ "default clear 10.0.0.0/8", "'10.0.0.0/8': " TRAILING_MSG },
		{ "default clear allow", "'allow': " TRAILING_MSG },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_user_statement(void **state)
{
	struct pf_stmt st;

	(void)state;
	parse_ok("user portfw", &st);
	assert_int_equal(st.kind, PF_ST_USER);
	assert_string_equal(st.user.user, "portfw");
	assert_string_equal(st.user.group, "");
	pf_stmt_free(&st);
	parse_ok("user nobody group nogroup # after the socket is bound", &st);
	assert_int_equal(st.kind, PF_ST_USER);
	assert_string_equal(st.user.user, "nobody");
	assert_string_equal(st.user.group, "nogroup");
	pf_stmt_free(&st);
	parse_ok("user _svc.pf-1", &st);
	assert_string_equal(st.user.user, "_svc.pf-1");
	pf_stmt_free(&st);
}

#define ACCOUNT_MSG(what)                                                             \
	"expected " what " (letters, digits, '.', '_', '-', at most 32 characters, not " \
	"starting with '-')"

static void test_user_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "user", "at end of line: expected a user name" },
		{ "user -root", "'-root': " ACCOUNT_MSG("a user name") },
		{ "user a/b", "'a/b': " ACCOUNT_MSG("a user name") },
		{ "user \"\"", "'': " ACCOUNT_MSG("a user name") },
		{ "user abcdefghijklmnopqrstuvwxyz0123456", "'abcdefghijklmnopqrstuvwxyz0123456': " ACCOUNT_MSG("a user name") },
		{ "user nobody group", "at end of line: expected a group name after 'group'" },
		{ "user nobody group a:b", "'a:b': " ACCOUNT_MSG("a group name after 'group'") },
		{ "user nobody nogroup", "'nogroup': " TRAILING_MSG },
		{ "user nobody group nogroup x", "'x': " TRAILING_MSG },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_backend_statement(void **state)
{
	static const struct {
		const char *action;
		int act;
		uint32_t weight;
	} cases[] = {
		{ "drain", PF_ACT_DRAIN, 0 },	     { "enable", PF_ACT_ENABLE, 0 },
		{ "disable", PF_ACT_DISABLE, 0 },    { "backup", PF_ACT_BACKUP, 0 },
		{ "primary", PF_ACT_PRIMARY, 0 },    { "weight 0", PF_ACT_WEIGHT, 0 },
		{ "weight 65535", PF_ACT_WEIGHT, 65535 }, { "weight 7", PF_ACT_WEIGHT, 7 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(cases); i++) {
		char *line = xasprintf("backend name web 10.0.0.2:8080 %s", cases[i].action);
		struct pf_stmt st;

		parse_ok(line, &st);
		assert_int_equal(st.kind, PF_ST_BACKEND);
		assert_int_equal(st.action, cases[i].act);
		assert_int_equal(st.weight, cases[i].weight);
		assert_string_equal(st.sel.name, "web");
		assert_true(st.sel.has_backend);
		assert_string_equal(st.sel.backend.host, "10.0.0.2");
		assert_int_equal(st.sel.backend.port_lo, 8080);
		assert_int_equal(st.sel.backend.port_hi, 8080);
		assert_null(st.fwd);
		pf_stmt_free(&st);
		free(line);
	}
	{
		struct pf_stmt st;

		parse_ok("backend name w [::1]:1-9 weight 3", &st);
		assert_string_equal(st.sel.backend.host, "::1");
		assert_true(st.sel.backend.bracketed);
		assert_int_equal(st.sel.backend.port_lo, 1);
		assert_int_equal(st.sel.backend.port_hi, 9);
		assert_int_equal(st.weight, 3);
		pf_stmt_free(&st);
		parse_ok("backend name w b.example drain", &st);
		assert_string_equal(st.sel.backend.host, "b.example");
		assert_int_equal(st.sel.backend.port_lo, 0);
		pf_stmt_free(&st);
	}
}

static void test_backend_statement_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "backend", "at end of line: " BACKEND_CMD_MSG },
		{ "backend web b drain", "'web': " BACKEND_CMD_MSG },
		{ "backend tcp :80 b drain", "'tcp': " BACKEND_CMD_MSG },
		{ "backend \"name\" web b drain", "'name': " BACKEND_CMD_MSG },
		{ "backend name", "at end of line: " NAME_MSG },
		{ "backend name 1web b drain", "'1web': " NAME_MSG },
		{ "backend name web", "at end of line: expected " BACKEND_WHAT },
		{ "backend name web , drain", "',': expected " BACKEND_WHAT },
		{ "backend name web [::1 drain", "'[::1': missing ']' after IPv6 address; expected "
						BACKEND_WHAT },
		{ "backend name web b:0 drain",
		  "'b:0': '0' is not a port number 1-65535; expected " BACKEND_WHAT },
		{ "backend name web b", "at end of line: " ACTION_MSG },
		{ "backend name web b enabled", "'enabled': " ACTION_MSG },
		{ "backend name web b disabled", "'disabled': " ACTION_MSG },
		{ "backend name web b Drain", "'Drain': " ACTION_MSG },
		{ "backend name web b \"drain\"", "'drain': " ACTION_MSG },
		{ "backend name web b weight", "at end of line: 'weight' expects a number 0-65535" },
		{ "backend name web b weight 65536", "'65536': 'weight' expects a number 0-65535" },
		{ "backend name web b weight -1", "'-1': 'weight' expects a number 0-65535" },
		{ "backend name web b drain now", "'now': " TRAILING_MSG },
		{ "backend name web b weight 2 3", "'3': " TRAILING_MSG },
		{ "backend name web b drain, c drain", "',': " TRAILING_MSG },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

static void test_schedule_statement(void **state)
{
	struct pf_stmt st;

	(void)state;
	parse_ok("schedule name web", &st);
	assert_int_equal(st.kind, PF_ST_SCHEDULE);
	assert_string_equal(st.sel.name, "web");
	assert_false(st.sel.all);
	assert_false(st.sel.has_backend);
	assert_null(st.fwd);
	pf_stmt_free(&st);
}

static void test_schedule_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "schedule", "at end of line: expected 'name NAME' or PROTO LISTEN" },
		{ "schedule name", "at end of line: " NAME_MSG },
		{ "schedule name 9x", "'9x': " NAME_MSG },
		{ "schedule name web now", "'now': " TRAILING_MSG },
		{ "schedule name web b", "'b': " TRAILING_MSG },
		{ "schedule all", "'all': " PROTO_MSG },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

/* ==== defaults in texts and files ==== */

static int default_cb(struct pf_stmt *st, const struct pf_where *w, void *arg, char *err,
		      size_t errlen)
{
	(void)w;
	if (st->kind != PF_ST_DEFAULT) {
		snprintf(err, errlen, "not a default");
		return -1;
	}
	pf_table_default(arg, st);
	return 0;
}

static void test_table_default_applies_statements(void **state)
{
	static const char text[] = "default allow 10.0.0.0/8\n"
				   "default deny 10.9.0.0/16, 10.8.0.0/16\n"
				   "default allow 2001:db8::/32\n";
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	pf_table_init(&t);
	assert_int_equal(pf_conf_foreach("t.conf", text, strlen(text), default_cb, &t, err,
					 sizeof(err)),
			 0);
	assert_int_equal(t.def_allow.n, 2);
	assert_cidr(&t.def_allow.v[0], "10.0.0.0/8");
	assert_cidr(&t.def_allow.v[1], "2001:db8::/32");
	assert_int_equal(t.def_deny.n, 2);
	assert_cidr(&t.def_deny.v[0], "10.9.0.0/16");
	assert_cidr(&t.def_deny.v[1], "10.8.0.0/16");
	assert_int_equal(pf_conf_foreach("t.conf", "default clear", 13, default_cb, &t, err,
					 sizeof(err)),
			 0);
	assert_int_equal(t.def_allow.n, 0);
	assert_null(t.def_allow.v);
	assert_int_equal(t.def_deny.n, 0);
	assert_int_equal(pf_conf_foreach("t.conf", "default deny 1.2.3.4", 20, default_cb, &t, err,
					 sizeof(err)),
			 0);
	assert_int_equal(t.def_allow.n, 0);
	assert_int_equal(t.def_deny.n, 1);
	assert_cidr(&t.def_deny.v[0], "1.2.3.4/32");
	pf_table_clear(&t);
	assert_int_equal(t.def_deny.n, 0);
}

/* ==== the flow log's settings ==== */

static void test_flowlog_statements(void **state)
{
	static const struct {
		const char *line;
		int action;
		uint8_t fmt;
	} cases[] = {
		{ "default log", PF_ACT_LOG, 0 },
		{ "default no-log", PF_ACT_NOLOG, 0 },
		{ "log-format text", PF_ACT_LOG_FORMAT, PF_FLOWLOG_TEXT },
		{ "log-format json", PF_ACT_LOG_FORMAT, PF_FLOWLOG_JSON },
	};
	struct pf_forward *f;
	struct pf_stmt st;
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(cases); i++) {
		parse_ok(cases[i].line, &st);
		assert_int_equal(st.kind, PF_ST_DEFAULT);
		assert_int_equal(st.action, cases[i].action);
		assert_int_equal(st.log_format, cases[i].fmt);
		assert_int_equal(st.cidrs.n, 0);
		pf_stmt_free(&st);
	}
	f = forward_ok("forward tcp :80 to b log");
	assert_true(f->conf.log);
	pf_forward_unref(f);
	f = forward_ok("forward name web udp :53 to b log maxconn 3");
	assert_true(f->conf.log);
	pf_forward_unref(f);
	f = forward_ok("forward tcp :80 to b");
	assert_false(f->conf.log);
	pf_forward_unref(f);
}

static void test_flowlog_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "default log 10.0.0.0/8", "'10.0.0.0/8': " TRAILING_MSG },
		{ "default no-log now", "'now': " TRAILING_MSG },
		{ "default \"log\"", "'log': " DEFAULT_MSG },
		{ "default nolog", "'nolog': " DEFAULT_MSG },
		{ "log-format", "at end of line: 'log-format' expects text or json" },
		{ "log-format xml", "'xml': 'log-format' expects text or json" },
		{ "log-format JSON", "'JSON': 'log-format' expects text or json" },
		{ "log-format json text", "'text': " TRAILING_MSG },
		{ "forward tcp :80 to b log yes", "'yes': " UNKNOWN_OPT_MSG },
		{ "forward tcp :80 to b log log", "'log': option given twice" },
		{ "forward tcp :80 to b no-log", "'no-log': " UNKNOWN_OPT_MSG },
	};

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
}

/* Which forwards log follows 'log' and 'default log', and 'save' writes
 * the settings back. */
static void test_flowlog_table(void **state)
{
	static const char text[] = "default log\n"
				   "log-format json\n"
				   "forward name a tcp :80 to b\n"
				   "forward name c tcp :81 to d log\n";
	struct pf_table t, cur, back;
	char err[ERRLEN], *saved;

	(void)state;
	pf_table_init(&t);
	pf_table_init(&cur);
	pf_table_init(&back);
	if (pf_conf_load_text("t.conf", text, strlen(text), &t, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(t.def_log);
	assert_int_equal(t.log_format, PF_FLOWLOG_JSON);
	pf_table_effective(&t, &cur);
	assert_true(pf_flowlog_wanted(t.fwd[0]));
	assert_true(pf_flowlog_wanted(t.fwd[1]));
	saved = pf_table_format(&t);
	assert_non_null(strstr(saved, "\ndefault log\n"));
	assert_non_null(strstr(saved, "\nlog-format json\n"));
	assert_non_null(strstr(saved, " log\n"));
	if (pf_conf_load_text("save", saved, strlen(saved), &back, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(back.def_log);
	assert_int_equal(back.log_format, PF_FLOWLOG_JSON);
	assert_false(back.fwd[0]->conf.log);
	assert_true(back.fwd[1]->conf.log);
	free(saved);
	pf_table_clear(&back);
	/* Without the default only the forward of its own 'log' logs. */
	if (pf_conf_load_text("t.conf", "default no-log", 14, &t, err, sizeof(err)))
		fail_msg("%s", err);
	assert_false(t.def_log);
	pf_table_effective(&t, &cur);
	assert_false(pf_flowlog_wanted(t.fwd[0]));
	assert_true(pf_flowlog_wanted(t.fwd[1]));
	saved = pf_table_format(&t);
	assert_null(strstr(saved, "default log"));
	assert_null(strstr(saved, "log-format text"));
	free(saved);
	pf_table_clear(&t);
}

/* drain-timeout: parsed as a table-wide setting, kept by the table, written
 * back by save only when given, and refused with the line's place when bad. */
static void test_drain_timeout(void **state)
{
	static const struct error_case errors[] = {
		{ "drain-timeout", "at end of line: " DRAIN_MSG },
		{ "drain-timeout soon", "'soon': " DRAIN_MSG },
		{ "drain-timeout -1s", "'-1s': " DRAIN_MSG },
		{ "drain-timeout 2d", "'2d': " DRAIN_MSG },
		{ "drain-timeout 10s 20s", "'20s': " TRAILING_MSG },
	};
	struct pf_table t, back;
	struct pf_stmt st;
	char err[ERRLEN], *saved;

	(void)state;
	parse_ok("drain-timeout 90s", &st);
	assert_int_equal(st.kind, PF_ST_DEFAULT);
	assert_int_equal(st.action, PF_ACT_DRAIN_TIMEOUT);
	assert_int_equal(st.drain_ms, 90000);
	pf_stmt_free(&st);
	parse_ok("drain-timeout 0", &st);
	assert_int_equal(st.drain_ms, 0);
	pf_stmt_free(&st);
	assert_stmt_errors(errors, PF_ARRAY_SIZE(errors));

	pf_table_init(&t);
	pf_table_init(&back);
	if (pf_conf_load_text("t.conf", "forward tcp :80 to b\n", 21, &t, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(pf_table_drain_ms(&t), PF_DRAIN_DEFAULT_MS);
	saved = pf_table_format(&t);
	assert_null(strstr(saved, "drain-timeout"));
	free(saved);
	pf_table_clear(&t);

	/* The last line wins; 0 (cut at once) survives a save and a load. */
	static const char text[] = "drain-timeout 5m\nforward tcp :80 to b\ndrain-timeout 0\n";
	if (pf_conf_load_text("t.conf", text, strlen(text), &t, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(pf_table_drain_ms(&t), 0);
	saved = pf_table_format(&t);
	assert_non_null(strstr(saved, "\ndrain-timeout 0s\n"));
	if (pf_conf_load_text("save", saved, strlen(saved), &back, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(back.drain_set);
	assert_int_equal(pf_table_drain_ms(&back), 0);
	free(saved);
	pf_table_clear(&back);
	pf_table_clear(&t);

	if (pf_conf_load_text("t.conf", "drain-timeout 1500ms", 20, &t, err, sizeof(err)))
		fail_msg("%s", err);
	saved = pf_table_format(&t);
	assert_non_null(strstr(saved, "\ndrain-timeout 1500ms\n"));
	free(saved);
	/* A bad line changes nothing and names its place. */
	static const char bad[] = "drain-timeout 1500ms\ndrain-timeout x\n";
	assert_int_not_equal(pf_conf_load_text("u.conf", bad, strlen(bad), &back, err, sizeof(err)),
			     0);
	assert_string_equal(err, "u.conf:2: 'x': " DRAIN_MSG);
	pf_table_clear(&back);
	pf_table_clear(&t);
}

static void test_load_default_lines(void **state)
{
	char *path = write_file("defaults/main.conf",
				"default allow 10.0.0.0/8\n"
				"forward tcp :80 to a from 10.0.0.0/8 balance maglev check\n"
				"include more.conf\n");
	struct pf_table t;
	char err[ERRLEN];

	(void)state;
	free(write_file("defaults/more.conf", "default deny 10.9.0.0/16\nforward tcp :81 to b\n"));
	pf_table_init(&t);
	if (pf_conf_load(path, &t, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.def_allow.n, 1);
	assert_cidr(&t.def_allow.v[0], "10.0.0.0/8");
	assert_int_equal(t.def_deny.n, 1);
	assert_cidr(&t.def_deny.v[0], "10.9.0.0/16");
	assert_int_equal(t.fwd[0]->conf.balance, PF_BAL_MAGLEV);
	pf_table_clear(&t);
	free(path);
}

#define STATUS_MSG                                                                     \
	"expected 'status ADDR:PORT [admin]' with a literal address such as 127.0.0.1:9100 " \
	"or [::1]:9100, or 'status off'"

static void test_status_statement(void **state)
{
	struct pf_stmt st;
	char line[512];

	(void)state;
	parse_ok("status 127.0.0.1:9100", &st);
	assert_int_equal(st.kind, PF_ST_STATUS);
	assert_true(st.status.on);
	assert_false(st.status.admin);
	assert_string_equal(st.status.host, "127.0.0.1");
	assert_int_equal(st.status.port, 9100);
	pf_status_conf_format(&st.status, line, sizeof(line));
	assert_string_equal(line, "status 127.0.0.1:9100");
	pf_stmt_free(&st);
	parse_ok("status [::1]:9101 admin # loopback only", &st);
	assert_true(st.status.on && st.status.admin && st.status.bracketed);
	assert_string_equal(st.status.host, "::1");
	pf_status_conf_format(&st.status, line, sizeof(line));
	assert_string_equal(line, "status [::1]:9101 admin");
	pf_stmt_free(&st);
	parse_ok("status off", &st);
	assert_int_equal(st.kind, PF_ST_STATUS);
	assert_false(st.status.on);
	pf_stmt_free(&st);
}

static void test_status_errors(void **state)
{
	static const struct error_case cases[] = {
		{ "status", "at end of line: " STATUS_MSG },
		{ "status localhost:9100", "'localhost:9100': not a literal IPv4 or IPv6 address; "
					   STATUS_MSG },
		{ "status :9100", "':9100': not a literal IPv4 or IPv6 address; " STATUS_MSG },
		{ "status 127.0.0.1:9100-9101", "'127.0.0.1:9100-9101': a port range; " STATUS_MSG },
		{ "status 127.0.0.1:9100 admin admin", "'admin': " TRAILING_MSG },
		{ "status 127.0.0.1:9100 root", "'root': unknown option; expected 'admin' or the "
						"end of the line" },
		{ "status off admin", "'admin': " TRAILING_MSG },
	};
	static const char *const prefixed[] = { "status 127.0.0.1", "status 127.0.0.1:70000",
						"status [::1:9100" };
	size_t i;

	(void)state;
	assert_stmt_errors(cases, PF_ARRAY_SIZE(cases));
	for (i = 0; i < PF_ARRAY_SIZE(prefixed); i++) {
		struct pf_stmt st;
		char err[ERRLEN];

		assert_int_equal(parse(prefixed[i], &st, err), -1);
		assert_non_null(strstr(err, STATUS_MSG));
		assert_int_equal(strncmp(err, "t.conf:1: '", 11), 0);
	}
}

/* The status line goes into the table, the last one wins, and 'save'
 * prints it back so that it loads into the same thing. */
static void test_status_round_trip(void **state)
{
	static const char text[] = "status 127.0.0.1:9100\nforward name web tcp :80 to b\n"
				   "status [::1]:9200 admin\n";
	struct pf_table t, u;
	char err[ERRLEN], *saved;

	(void)state;
	pf_table_init(&t);
	pf_table_init(&u);
	if (pf_conf_load_text("t.conf", text, strlen(text), &t, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(t.status.on && t.status.admin);
	assert_string_equal(t.status.host, "::1");
	saved = pf_table_format(&t);
	assert_non_null(strstr(saved, "\nstatus [::1]:9200 admin\n"));
	if (pf_conf_load_text("saved", saved, strlen(saved), &u, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(pf_status_conf_equal(&t.status, &u.status));
	free(saved);
	pf_table_clear(&u);
	if (pf_conf_load_text("t.conf", "status off\n", 11, &u, err, sizeof(err)))
		fail_msg("%s", err);
	assert_false(u.status.on);
	assert_false(pf_status_conf_equal(&t.status, &u.status));
	saved = pf_table_format(&u);
	assert_null(strstr(saved, "status"));
	free(saved);
	pf_table_clear(&u);
	pf_table_clear(&t);
}

static void test_load_rejects_backend_and_schedule(void **state)
{
	static const char *const lines[] = { "backend name web b drain", "schedule name web" };
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(lines); i++) {
		char *text = xasprintf("forward name web tcp :80 to b\n%s\n", lines[i]);
		char *path = write_file("ctl2/main.conf", text);
		char *expected = xasprintf("%s:2: " CONTROL_MSG, path);
		struct pf_table t;
		char err[ERRLEN];

		pf_table_init(&t);
		assert_int_equal(pf_conf_load(path, &t, err, sizeof(err)), -1);
		assert_string_equal(err, expected);
		pf_table_clear(&t);
		free(expected);
		free(path);
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lex_splits_on_whitespace),
		cmocka_unit_test(test_lex_comma_is_a_word),
		cmocka_unit_test(test_lex_empty_line),
		cmocka_unit_test(test_lex_comment_at_word_start),
		cmocka_unit_test(test_lex_hash_inside_word_is_text),
		cmocka_unit_test(test_lex_quoted_word),
		cmocka_unit_test(test_lex_quote_ends_a_word),
		cmocka_unit_test(test_lex_escapes),
		cmocka_unit_test(test_lex_unterminated_quote),
		cmocka_unit_test(test_lex_bad_hex_escape),
		cmocka_unit_test(test_lex_nul_byte),
		cmocka_unit_test(test_lex_unknown_escape),
		cmocka_unit_test(test_lex_word_limit),
		cmocka_unit_test(test_lex_many_commas),

		cmocka_unit_test(test_hostport_host),
		cmocka_unit_test(test_hostport_host_port),
		cmocka_unit_test(test_hostport_range),
		cmocka_unit_test(test_hostport_port_only),
		cmocka_unit_test(test_hostport_ipv6),
		cmocka_unit_test(test_hostport_port_required),
		cmocka_unit_test(test_hostport_empty),
		cmocka_unit_test(test_hostport_bad_port),
		cmocka_unit_test(test_hostport_bad_range),
		cmocka_unit_test(test_hostport_ipv6_needs_brackets),
		cmocka_unit_test(test_hostport_bare_ipv6_without_port),
		cmocka_unit_test(test_hostport_bad_brackets),
		cmocka_unit_test(test_hostport_bad_host),
		cmocka_unit_test(test_hostport_too_long),

		cmocka_unit_test(test_duration_units),
		cmocka_unit_test(test_duration_limit_30d),
		cmocka_unit_test(test_duration_invalid),
		cmocka_unit_test(test_duration_format_largest_exact_unit),
		cmocka_unit_test(test_duration_round_trip),

		cmocka_unit_test(test_forward_minimal),
		cmocka_unit_test(test_forward_name_first),
		cmocka_unit_test(test_forward_name_as_option),
		cmocka_unit_test(test_forward_name_longest),
		cmocka_unit_test(test_forward_protocols),
		cmocka_unit_test(test_forward_listen_forms),
		cmocka_unit_test(test_forward_backends_and_weights),
		cmocka_unit_test(test_forward_weight_limits),
		cmocka_unit_test(test_forward_backend_range_1to1),
		cmocka_unit_test(test_forward_most_backends),
		cmocka_unit_test(test_forward_options),
		cmocka_unit_test(test_forward_option_minimums),
		cmocka_unit_test(test_forward_udp_options),
		cmocka_unit_test(test_forward_per_source_options),
		cmocka_unit_test(test_forward_proxy_options),
		cmocka_unit_test(test_forward_defer_accept),
		cmocka_unit_test(test_forward_quoted_words),
		cmocka_unit_test(test_forward_errors_name),
		cmocka_unit_test(test_forward_errors_protocol),
		cmocka_unit_test(test_forward_errors_listen),
		cmocka_unit_test(test_forward_errors_to),
		cmocka_unit_test(test_forward_errors_backend),
		cmocka_unit_test(test_forward_errors_range_size),
		cmocka_unit_test(test_forward_errors_weight),
		cmocka_unit_test(test_forward_errors_too_many_backends),
		cmocka_unit_test(test_forward_errors_options),
		cmocka_unit_test(test_forward_errors_durations),
		cmocka_unit_test(test_forward_resolve_options),
		cmocka_unit_test(test_resolve_pick),
		cmocka_unit_test(test_resolve_wait),
		cmocka_unit_test(test_resolve_all_backends),
		cmocka_unit_test(test_error_quotes_at_most_64_chars_of_the_word),
		cmocka_unit_test(test_error_without_line_number),
		cmocka_unit_test(test_error_message_truncated_to_buffer),
		cmocka_unit_test(test_error_reports_given_line),

		cmocka_unit_test(test_empty_statement),
		cmocka_unit_test(test_plain_statements),
		cmocka_unit_test(test_plain_statements_take_no_words),
		cmocka_unit_test(test_unknown_statement),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_include_errors),
		cmocka_unit_test(test_include_path_length),
		cmocka_unit_test(test_del_by_name),
		cmocka_unit_test(test_del_by_name_with_backend),
		cmocka_unit_test(test_del_by_listen),
		cmocka_unit_test(test_del_by_listen_with_backend),
		cmocka_unit_test(test_del_errors),
		cmocka_unit_test(test_kill_forms),
		cmocka_unit_test(test_kill_errors),
		cmocka_unit_test(test_selector_match),

		cmocka_unit_test(test_text_statements_and_lines),
		cmocka_unit_test(test_text_empty),
		cmocka_unit_test(test_text_crlf),
		cmocka_unit_test(test_text_continuation),
		cmocka_unit_test(test_text_continuation_joins_with_a_space),
		cmocka_unit_test(test_text_continuation_at_end_of_text),
		cmocka_unit_test(test_text_comment_continues_with_backslash),
		cmocka_unit_test(test_text_error_line_number),
		cmocka_unit_test(test_text_error_in_continuation_reports_first_line),
		cmocka_unit_test(test_text_lexer_error_line_number),
		cmocka_unit_test(test_text_stops_at_first_error),
		cmocka_unit_test(test_text_nul_byte),
		cmocka_unit_test(test_text_source_renames),
		cmocka_unit_test(test_text_uses_len_not_nul),
		cmocka_unit_test(test_text_longest_statement),
		cmocka_unit_test(test_text_statement_too_long),
		cmocka_unit_test(test_text_statement_too_long_reports_first_line),
		cmocka_unit_test(test_text_callback_error_stops),
		cmocka_unit_test(test_text_error_in_forward_leaks_nothing),

		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_appends_to_table),
		cmocka_unit_test(test_load_empty_file),
		cmocka_unit_test(test_load_large_file),
		cmocka_unit_test(test_load_missing_file),
		cmocka_unit_test(test_load_directory),
		cmocka_unit_test(test_load_too_large),
		cmocka_unit_test(test_load_error_names_file_and_line),
		cmocka_unit_test(test_load_rejects_control_commands),
		cmocka_unit_test(test_include_relative_to_including_file),
		cmocka_unit_test(test_include_absolute),
		cmocka_unit_test(test_include_from_file_without_directory),
		cmocka_unit_test(test_include_missing_file),
		cmocka_unit_test(test_include_error_inside_included_file),
		cmocka_unit_test(test_include_control_command_in_included_file),
		cmocka_unit_test(test_include_depth_limit_allows_8),
		cmocka_unit_test(test_include_depth_limit),
		cmocka_unit_test(test_include_self_stops),
		cmocka_unit_test(test_include_path_too_long),

		cmocka_unit_test(test_forward_backend_flags),
		cmocka_unit_test(test_forward_balance),
		cmocka_unit_test(test_forward_check_defaults),
		cmocka_unit_test(test_forward_check_options),
		cmocka_unit_test(test_forward_check_options_turn_checks_on),
		cmocka_unit_test(test_forward_check_strings),
		cmocka_unit_test(test_forward_udp_check),
		cmocka_unit_test(test_forward_sources),
		cmocka_unit_test(test_forward_sources_limit),
		cmocka_unit_test(test_forward_errors_balance),
		cmocka_unit_test(test_forward_errors_checks),
		cmocka_unit_test(test_forward_errors_check_string_too_long),
		cmocka_unit_test(test_forward_errors_sources),
		cmocka_unit_test(test_forward_errors_backend_flags),
		cmocka_unit_test(test_default_statements),
		cmocka_unit_test(test_default_errors),
		cmocka_unit_test(test_user_statement),
		cmocka_unit_test(test_user_errors),
		cmocka_unit_test(test_backend_statement),
		cmocka_unit_test(test_backend_statement_errors),
		cmocka_unit_test(test_schedule_statement),
		cmocka_unit_test(test_schedule_errors),
		cmocka_unit_test(test_table_default_applies_statements),
		cmocka_unit_test(test_load_default_lines),
		cmocka_unit_test(test_flowlog_statements),
		cmocka_unit_test(test_flowlog_errors),
		cmocka_unit_test(test_flowlog_table),
		cmocka_unit_test(test_drain_timeout),
		cmocka_unit_test(test_load_rejects_backend_and_schedule),
		cmocka_unit_test(test_status_statement),
		cmocka_unit_test(test_status_errors),
		cmocka_unit_test(test_status_round_trip),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
