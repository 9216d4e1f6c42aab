// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the interpreter of statements: the same statement does the
 * same to a table from a config file and from a control request; where each
 * statement may stand; what a request's errors name (the source its client
 * gave, a live forward by its name or PROTO LISTEN).
 */
#include "common/pf_conf.h"
#include "common/pf_interp.h"
#include "common/pf_restore.h"
#include "common/pf_table.h"
#include "common/pf_util.h"

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

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_interp.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes tmpdir/name; returns its path in a static buffer of its own. */
static const char *write_file(const char *name, const char *text)
{
	static char paths[4][256];
	static int k;
	char *path = paths[k++ % 4];
	FILE *fp;

	snprintf(path, 256, "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

static void load_text(struct pf_table *t, const char *text)
{
	char err[ERRLEN];

	pf_table_init(t);
	if (pf_conf_load_text("t.conf", text, strlen(text), t, err, sizeof(err)))
		fail_msg("%s", err);
}

/* Runs a request against base: 0 with next the new table, or -1 and err. */
static int request(struct pf_table *base, const char *text, struct pf_table *next,
		   struct pf_interp *ip, char *err)
{
	pf_table_init(next);
	pf_interp_init(ip, PF_IN_REQUEST, next, base);
	err[0] = '\0';
	return pf_interp_text(ip, "request", text, strlen(text), err, ERRLEN);
}

static char *format(const struct pf_table *t)
{
	return pf_table_format(t);
}

/* ---- the same semantics from a file and from a request ---- */

#define MARK_BASE                                                               \
	"mark 1 tcp 192.0.2.3:80 from 209.81.8.0/24\n"                           \
	"forward name mfw-1 tcp 192.0.2.3:80 to 10.0.0.2 from 209.81.8.0/24\n"

static void test_mark_resync_file_and_request(void **state)
{
	const char *path;
	struct pf_table file, base, next;
	struct pf_interp ip;
	char err[ERRLEN], *a, *b;

	(void)state;
	/* The file: the mark changed after the forward made from it. */
	path = write_file("mark.conf", MARK_BASE "mark 1 udp [::1]:5000-5009\n");
	pf_table_init(&file);
	if (pf_conf_load(path, &file, err, sizeof(err)))
		fail_msg("%s", err);
	/* The request: the same mark line sent to a running table. */
	load_text(&base, MARK_BASE);
	assert_int_equal(request(&base, "mark 1 udp [::1]:5000-5009\n", &next, &ip, err), 0);
	a = format(&file);
	b = format(&next);
	assert_string_equal(a, b);
	assert_non_null(strstr(a, "forward name mfw-1 udp [::1]:5000-5009 to 10.0.0.2\n"));
	free(a);
	free(b);
	pf_interp_free(&ip);
	pf_table_clear(&next);
	pf_table_clear(&file);

	/* A mark its forward cannot follow: refused the same way from both. */
	path = write_file("mark2.conf", MARK_BASE "mark 1 from 10.0.0.0/8\n");
	pf_table_init(&file);
	assert_int_equal(pf_conf_load(path, &file, err, sizeof(err)), -1);
	{
		char want[512];

		snprintf(want, sizeof(want),
			 "%s:3: forward 'mfw-1' cannot follow mark 1 (a port forward and a "
			 "whole-host mark, or backend ranges that no longer fit); expected "
			 "'ipmasqadm mfw -D -m 1' first",
			 path);
		assert_string_equal(err, want);
	}
	pf_table_clear(&file);
	assert_int_equal(request(&base, "list\n", &next, &ip, err), 0);
	pf_interp_free(&ip);
	pf_table_clear(&next);
	assert_int_equal(request(&base, "default clear\nmark 1 from 10.0.0.0/8\n", &next, &ip, err),
			 -1);
	assert_string_equal(err, "request:2: forward 'mfw-1' cannot follow mark 1 (a port forward "
				 "and a whole-host mark, or backend ranges that no longer fit); "
				 "expected 'ipmasqadm mfw -D -m 1' first");
	pf_interp_free(&ip);
	pf_table_clear(&next);

	/* del mark of no mark: the same everywhere. */
	assert_int_equal(pf_conf_load_text("t.conf", "del mark 4\n", 11, &file, err, sizeof(err)),
			 -1);
	assert_string_equal(err, "t.conf:1: no mark 4; expected one of the 'mark' lines 'portfw "
				 "save' shows");
	pf_table_clear(&file);
	pf_table_clear(&base);
}

/* A request's statements, applied in order to a copy of the running table. */
static void test_request_statements(void **state)
{
	struct pf_table base, next;
	struct pf_interp ip;
	char err[ERRLEN], *text;

	(void)state;
	load_text(&base, "forward name web tcp :80 to 10.0.0.1, 10.0.0.2 balance rr\n"
			 "forward name ssh tcp :22 to 10.0.0.5\n");
	assert_int_equal(request(&base,
				 "del name ssh\nbackend name web 10.0.0.2 drain\n"
				 "del tcp :80 10.0.0.1\nkill name ssh\nschedule name web\n"
				 "default deny 192.0.2.0/24\n",
				 &next, &ip, err),
			 0);
	text = format(&next);
	assert_string_equal(text, "# portfw table, 1 forwards\n"
				  "default deny 192.0.2.0/24\n"
				  "forward name web tcp :80 to 10.0.0.2 drain balance rr\n");
	free(text);
	/* kill and schedule act once the change is installed: the daemon's. */
	assert_int_equal(ip.nafter, 2);
	assert_int_equal(ip.after[0].kind, PF_ST_KILL);
	assert_string_equal(ip.after[0].sel.name, "ssh");
	assert_int_equal(ip.after[1].kind, PF_ST_SCHEDULE);
	assert_int_equal(ip.query, PF_ST_NONE);
	pf_interp_free(&ip);
	pf_table_clear(&next);

	/* A query or a kill copies nothing of the running table. */
	assert_int_equal(request(&base, "list", &next, &ip, err), 0);
	assert_int_equal(ip.query, PF_ST_LIST);
	assert_false(ip.based);
	pf_interp_free(&ip);
	assert_int_equal(request(&base, "kill all", &next, &ip, err), 0);
	assert_false(ip.based);
	assert_true(ip.after[0].sel.all);
	pf_interp_free(&ip);

	/* Errors name the request's line. */
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "del name nosuch", "request:1: no forward matches; expected a name or PROTO "
				     "LISTEN as shown by 'portfw list'" },
		{ "flush\ndel tcp :80", "request:2: no forward matches; expected a name or PROTO "
					"LISTEN as shown by 'portfw list'" },
		{ "del name web 10.9.9.9", "request:1: the forward has no backend '10.9.9.9'; "
					   "expected one of its backends as written in 'portfw "
					   "list'" },
		{ "backend name nosuch 1.2.3.4 drain", "request:1: no forward named 'nosuch'" },
		{ "backend name web 1.2.3.4 drain",
		  "request:1: forward 'web' has no backend '1.2.3.4'; expected one of its backends "
		  "as written in 'portfw list'" },
		{ "schedule name ssh", "request:1: forward 'ssh' balances with wrr; 'schedule' "
				       "rotates pref and rr pools" },
		{ "del name web\nschedule name web", "request:2: no forward named 'web'" },
		{ "list\nlist", "request:2: list, conns, save and reload must be sent alone" },
		{ "flush\nsave", "request:2: list, conns, save and reload must be sent alone" },
		{ "include x.conf", "request:1: 'include' belongs in a config file; expected a "
				    "control statement (portfw restore FILE sends a config file "
				    "with its includes, portfw import FILE a port table)" },
		{ "", "empty request; expected a statement such as 'list'" },
		{ "# nothing\nsource a.conf\n", "empty request; expected a statement such as "
						"'list'" },
		{ "del mark 3", "request:1: no mark 3; expected one of the 'mark' lines 'portfw "
				"save' shows" },
	};
	size_t i;

	for (i = 0; i < PF_ARRAY_SIZE(bad); i++) {
		assert_int_equal(request(&base, bad[i].text, &next, &ip, err), -1);
		assert_string_equal(err, bad[i].err);
		pf_interp_free(&ip);
		pf_table_clear(&next);
	}
	pf_table_clear(&base);
}

/* Where each statement may stand: the interpreter says, not its callers. */
static void test_where_statements_stand(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "del name x", "t.conf:1: this is a control command; a config file holds "
				"'forward', 'default' and 'include' lines" },
		{ "kill all", "t.conf:1: this is a control command; a config file holds "
			      "'forward', 'default' and 'include' lines" },
		{ "list", "t.conf:1: this is a control command; a config file holds 'forward', "
			  "'default' and 'include' lines" },
		{ "include x", "t.conf:1: includes are read from config files only" },
		{ "source x", "t.conf:1: 'source' names where the lines of a control request "
			      "come from; expected it in requests only" },
	};
	struct pf_table t;
	char err[ERRLEN];
	const char *path;
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(bad); i++) {
		pf_table_init(&t);
		assert_int_equal(pf_conf_load_text("t.conf", bad[i].text, strlen(bad[i].text), &t,
						   err, sizeof(err)),
				 -1);
		assert_string_equal(err, bad[i].err);
		pf_table_clear(&t);
	}
	path = write_file("src.conf", "forward tcp :1 to h\nsource other.conf 9\n");
	pf_table_init(&t);
	assert_int_equal(pf_conf_load(path, &t, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "src.conf:2: 'source' names where"));
	pf_table_clear(&t);
}

/* portfw restore bad.conf: the client names the file; the daemon's errors
 * name its lines, not the request's. */
static void test_request_source_names_file(void **state)
{
	struct pf_table base, next;
	struct pf_interp ip;
	char err[ERRLEN];

	(void)state;
	load_text(&base, "forward name web tcp :80 to 10.0.0.1\n");
	assert_int_equal(request(&base,
				 "flush\nsource bad.conf\nforward name a tcp :81 to h\n"
				 "forward name b tcp :82 to\n",
				 &next, &ip, err),
			 -1);
	assert_string_equal(err, "bad.conf:2: at end of line: expected a backend HOST, "
				 "HOST:PORT or HOST:LOW-HIGH");
	pf_interp_free(&ip);
	pf_table_clear(&next);
	/* Validation (done on the whole table) names the file's lines too. */
	assert_int_equal(request(&base,
				 "flush\nsource bad.conf\n# two\n\nforward name a tcp :81 to h\n"
				 "source inc.conf 1\nforward tcp :81 to h2\n",
				 &next, &ip, err),
			 0);
	assert_int_equal(pf_table_validate(&next, err, sizeof(err)), -1);
	assert_string_equal(err, "inc.conf:1: tcp :81 overlaps forward 'a' (bad.conf:3); "
				 "expected each protocol, address and port to be forwarded once "
				 "for each source");
	pf_interp_free(&ip);
	pf_table_clear(&next);
	pf_table_clear(&base);
}

/* portfw add: a forward given as arguments is named by its name or by
 * PROTO LISTEN, and so is a running one that was. */
static void test_live_forward_named(void **state)
{
	struct pf_table base, next;
	struct pf_interp ip;
	char err[ERRLEN];

	(void)state;
	load_text(&base, "forward name a tcp :8080 to 10.0.0.1\n");
	assert_int_equal(request(&base,
				 "source \"portfw add\" 0\nforward name web tcp :8080 to 10.0.0.2\n",
				 &next, &ip, err),
			 0);
	assert_int_equal(pf_table_validate(&next, err, sizeof(err)), -1);
	assert_string_equal(err, "forward 'web': tcp :8080 overlaps forward 'a' (t.conf:1); "
				 "expected each protocol, address and port to be forwarded once "
				 "for each source");
	pf_interp_free(&ip);
	pf_table_clear(&next);
	pf_table_clear(&base);

	load_text(&base, "");
	assert_int_equal(request(&base,
				 "source \"portfw add\" 0\nforward tcp :8080 to 10.0.0.2\n"
				 "forward name a tcp :8080 to 10.0.0.1\n",
				 &next, &ip, err),
			 0);
	assert_int_equal(pf_table_validate(&next, err, sizeof(err)), -1);
	assert_string_equal(err, "forward 'a': tcp :8080 overlaps forward tcp :8080; expected "
				 "each protocol, address and port to be forwarded once for each "
				 "source");
	pf_interp_free(&ip);
	pf_table_clear(&next);
	assert_int_equal(request(&base,
				 "source \"portfw add\" 0\nforward tcp :8081 to 10.0.0.2\n"
				 "forward tcp :8081 to 10.0.0.1\n",
				 &next, &ip, err),
			 0);
	assert_int_equal(pf_table_validate(&next, err, sizeof(err)), -1);
	assert_string_equal(err, "tcp :8081: tcp :8081 overlaps forward tcp :8081; expected "
				 "each protocol, address and port to be forwarded once for each "
				 "source");
	pf_interp_free(&ip);
	pf_table_clear(&next);
	/* The statements' own errors name the command. */
	assert_int_equal(request(&base, "source \"portfw del\" 0\ndel name nosuch\n", &next, &ip,
				 err),
			 -1);
	assert_string_equal(err, "portfw del: no forward matches; expected a name or PROTO LISTEN "
				 "as shown by 'portfw list'");
	pf_interp_free(&ip);
	pf_table_clear(&next);
	pf_table_clear(&base);
}

/* portfw restore FILE with an include: the client expands it, relative to
 * the file; what it sends names every line of both files. */
static void test_restore_include(void **state)
{
	char main_path[256], sub[256], err[ERRLEN], *text, *req = NULL, want[1024];
	struct pf_table base, next;
	struct pf_interp ip;
	const char *inc;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/d", tmpdir);
	mkdir(sub, 0700);
	inc = write_file("d/inc.conf", "# included\nforward name b tcp :82 to h\n"
				       "forward name c tcp :81 \\\n   to h2\n");
	snprintf(main_path, sizeof(main_path), "%s/main.conf", tmpdir);
	text = "# restored\nforward name a tcp :81 to h\ninclude d/inc.conf\n\n"
	       "default deny 192.0.2.0/24\n";
	write_file("main.conf", text);
	assert_int_equal(pf_restore_request(main_path, text, strlen(text), &req, err,
					    sizeof(err)),
			 0);
	snprintf(want, sizeof(want),
		 "flush\nsource \"%s\" 2\nforward name a tcp :81 to h\n"
		 "source \"%s\" 2\nforward name b tcp :82 to h\nforward name c tcp :81     to h2\n"
		 "source \"%s\" 5\ndefault deny 192.0.2.0/24\n",
		 main_path, inc, main_path);
	assert_string_equal(req, want);
	/* The daemon's side: its validation names the included file's line. */
	load_text(&base, "forward name web tcp :80 to 10.0.0.1\n");
	assert_int_equal(request(&base, req, &next, &ip, err), 0);
	assert_int_equal(next.n, 3);
	assert_int_equal(pf_table_validate(&next, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
		 "%s:3: tcp :81 overlaps forward 'a' (%s:2); expected each protocol, address "
		 "and port to be forwarded once for each source",
		 inc, main_path);
	assert_string_equal(err, want);
	pf_interp_free(&ip);
	pf_table_clear(&next);
	pf_table_clear(&base);
	free(req);
	req = NULL;

	/* A bad line in the included file: found before anything is sent. */
	write_file("d/inc.conf", "forward name b tcp :82 to h\nforward name c tcp :83 to\n");
	assert_int_equal(pf_restore_request(main_path, text, strlen(text), &req, err,
					    sizeof(err)),
			 -1);
	assert_null(req);
	snprintf(want, sizeof(want),
		 "%s:2: at end of line: expected a backend HOST, HOST:PORT or HOST:LOW-HIGH "
		 "(included from %s:3)",
		 inc, main_path);
	assert_string_equal(err, want);
	/* And a bad line in the restored file names it. */
	text = "forward name a tcp :81 to h\nforward name b tcp :82 to1.2.3.4\n";
	assert_int_equal(pf_restore_request("bad.conf", text, strlen(text), &req, err,
					    sizeof(err)),
			 -1);
	assert_string_equal(err, "bad.conf:2: 'to1.2.3.4': expected 'to' and the backends "
				 "after the listen address");
	/* Statements a file may not hold are refused as in a config file. */
	text = "flush\n";
	assert_int_equal(pf_restore_request("x.conf", text, strlen(text), &req, err,
					    sizeof(err)),
			 -1);
	assert_string_equal(err, "x.conf:1: this is a control command; a config file holds "
				 "'forward', 'default' and 'include' lines");
}

/* What 'portfw save' prints restores into the same table. */
static void test_restore_saved(void **state)
{
	struct pf_table base, next;
	struct pf_interp ip;
	char err[ERRLEN], *saved, *req = NULL, *again;

	(void)state;
	load_text(&base, MARK_BASE "default allow 10.0.0.0/8\n"
				   "forward name q tcp :90 to h check-send \"a b\\n\"\n");
	saved = format(&base);
	assert_int_equal(pf_restore_request("saved", saved, strlen(saved), &req, err,
					    sizeof(err)),
			 0);
	assert_int_equal(request(&base, req, &next, &ip, err), 0);
	again = format(&next);
	assert_string_equal(saved, again);
	free(again);
	free(saved);
	free(req);
	pf_interp_free(&ip);
	pf_table_clear(&next);
	pf_table_clear(&base);
}

/* ---- what a read-only peer of the control socket may send ---- */

static void test_stmt_reads(void **state)
{
	static const enum pf_stmt_kind reads[] = { PF_ST_LIST, PF_ST_CONNS, PF_ST_SAVE };
	static const enum pf_stmt_kind changes[] = {
		PF_ST_FORWARD, PF_ST_DEL,  PF_ST_FLUSH,	   PF_ST_KILL,	 PF_ST_DEFAULT,
		PF_ST_BACKEND, PF_ST_MARK, PF_ST_SCHEDULE, PF_ST_RELOAD, PF_ST_NONE,
	};
	size_t i;

	(void)state;
	for (i = 0; i < PF_ARRAY_SIZE(reads); i++)
		assert_true(pf_stmt_reads(reads[i]));
	for (i = 0; i < PF_ARRAY_SIZE(changes); i++)
		assert_false(pf_stmt_reads(changes[i]));
	assert_string_equal(pf_stmt_name(PF_ST_DEL), "del");
	assert_string_equal(pf_stmt_name(PF_ST_RELOAD), "reload");
	assert_string_equal(pf_stmt_name(PF_ST_FORWARD), "forward");
	assert_string_equal(pf_stmt_name((enum pf_stmt_kind)99), "(unknown)");
}

/* A reader's change is refused before it runs: not "no such forward". */
static void test_read_only_refused(void **state)
{
	static const struct {
		const char *text;
		enum pf_stmt_kind refused;
	} cases[] = {
		{ "del tcp :9999\n", PF_ST_DEL },
		{ "source \"portfw add\" 0\nforward tcp :81 to 10.0.0.2\n", PF_ST_FORWARD },
		{ "flush\n", PF_ST_FLUSH },
		{ "reload\n", PF_ST_RELOAD },
		{ "kill all\n", PF_ST_KILL },
	};
	struct pf_table base, next;
	struct pf_interp ip;
	char err[ERRLEN];
	size_t i;

	(void)state;
	load_text(&base, "forward name a tcp :8080 to 10.0.0.1\n");
	for (i = 0; i < PF_ARRAY_SIZE(cases); i++) {
		pf_table_init(&next);
		pf_interp_init(&ip, PF_IN_REQUEST, &next, &base);
		ip.read_only = true;
		assert_int_equal(pf_interp_text(&ip, "request", cases[i].text,
						strlen(cases[i].text), err, sizeof(err)),
				 -1);
		assert_int_equal(ip.refused, cases[i].refused);
		assert_non_null(strstr(err, "permission denied"));
		pf_interp_free(&ip);
		pf_table_clear(&next);
	}
	pf_table_init(&next);
	pf_interp_init(&ip, PF_IN_REQUEST, &next, &base);
	ip.read_only = true;
	assert_int_equal(pf_interp_text(&ip, "request", "list\n", 5, err, sizeof(err)), 0);
	assert_int_equal(ip.query, PF_ST_LIST);
	assert_int_equal(ip.refused, PF_ST_NONE);
	pf_interp_free(&ip);
	pf_table_clear(&next);
	pf_table_clear(&base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mark_resync_file_and_request),
		cmocka_unit_test(test_request_statements),
		cmocka_unit_test(test_where_statements_stand),
		cmocka_unit_test(test_request_source_names_file),
		cmocka_unit_test(test_live_forward_named),
		cmocka_unit_test(test_restore_include),
		cmocka_unit_test(test_restore_saved),
		cmocka_unit_test(test_stmt_reads),
		cmocka_unit_test(test_read_only_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
