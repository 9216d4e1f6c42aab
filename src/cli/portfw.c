// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * portfw: the client. One function per subcommand behind a dispatch table;
 * each turns its arguments into a statement of the command language, checks
 * the syntax here (so an error names the argument) and sends it to portfwd.
 */
#include "pfc.h"
#include "../common/pf_restore.h"
#include "../common/pf_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pfc_cmd {
	const char *name;
	const char *args;
	int (*fn)(struct pfc_opts *o, int argc, char **argv);
};

static int pfc_send(struct pfc_opts *o, const char *text)
{
	json_t *res = pfc_request(o, text);
	int rc;

	if (!res)
		return 1;
	rc = pfc_check_reply(res);
	json_decref(res);
	return rc;
}

/*
 * One command's statement (and then's, e.g. "del name web" then "kill name
 * web"), as one atomic request behind 'source "portfw del" 0': the daemon's
 * errors name the command ("portfw del: no forward matches ...") and a
 * forward by its name or PROTO LISTEN, not a line of the request.
 */
static int pfc_send_stmt(struct pfc_opts *o, const char *what, const char *verb, int argc,
			 char *const *argv, const char *then)
{
	char *s = pfc_statement(what, verb, argc, argv), *t;
	size_t len, off;
	int rc;

	if (!s)
		return 2;
	len = pf_quote(NULL, 0, what) + strlen(s) * 2 + (then ? strlen(then) : 0) + 16;
	t = pf_xcalloc(1, len);
	off = (size_t)snprintf(t, len, "source ");
	off += pf_quote(t + off, len - off, what);
	off += (size_t)snprintf(t + off, len - off, " 0\n%s\n", s);
	if (then)
		snprintf(t + off, len - off, "%s%s\n", then, s + strlen(verb));
	rc = pfc_send(o, t);
	free(t);
	free(s);
	return rc;
}

static int cmd_add(struct pfc_opts *o, int argc, char **argv)
{
	return pfc_send_stmt(o, "portfw add", "forward", argc, argv, NULL);
}

static int cmd_trigger(struct pfc_opts *o, int argc, char **argv)
{
	return pfc_send_stmt(o, "portfw trigger", "trigger", argc, argv, NULL);
}

static int cmd_del(struct pfc_opts *o, int argc, char **argv)
{
	return pfc_send_stmt(o, "portfw del", "del", argc, argv, o->kill ? "kill" : NULL);
}

static int cmd_kill(struct pfc_opts *o, int argc, char **argv)
{
	return pfc_send_stmt(o, "portfw kill", "kill", argc, argv, NULL);
}

/* backend FORWARD BACKEND drain|enable|disable|backup|primary|weight N */
static int cmd_backend(struct pfc_opts *o, int argc, char **argv)
{
	char *args[8];
	int i;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "portfw backend: expected FORWARD BACKEND "
				"drain|enable|disable|backup|primary|weight N\n");
		return 2;
	}
	args[0] = "name";
	for (i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	return pfc_send_stmt(o, "portfw backend", "backend", argc + 1, args, NULL);
}

/* schedule FORWARD: the old 'ipmasqadm mfw -S' */
static int cmd_schedule(struct pfc_opts *o, int argc, char **argv)
{
	char *args[2] = { "name", NULL };

	if (argc != 1) {
		fprintf(stderr, "portfw schedule: expected the name of a forward\n");
		return 2;
	}
	args[1] = argv[0];
	return pfc_send_stmt(o, "portfw schedule", "schedule", 2, args, NULL);
}

/* mark N [PROTO LISTEN] [from CIDR,...]: what 'ipmasqadm mfw -m N' forwards. */
static int cmd_mark(struct pfc_opts *o, int argc, char **argv)
{
	return pfc_send_stmt(o, "portfw mark", "mark", argc, argv, NULL);
}

/* import FILE: a seed-004 port table (EXT-PORT INT-IP INT-PORT), one change. */
static int cmd_import(struct pfc_opts *o, int argc, char **argv)
{
	if (argc != 1) {
		fprintf(stderr, "portfw import: expected one FILE (or - for standard input)\n");
		return 2;
	}
	return pfc_import(o, argv[0]);
}

static int cmd_default(struct pfc_opts *o, int argc, char **argv)
{
	return pfc_send_stmt(o, "portfw default", "default", argc, argv, NULL);
}

static int cmd_log_format(struct pfc_opts *o, int argc, char **argv)
{
	return pfc_send_stmt(o, "portfw log-format", "log-format", argc, argv, NULL);
}

static int cmd_flush(struct pfc_opts *o, int argc, char **argv)
{
	(void)argv;
	if (argc) {
		fprintf(stderr, "portfw flush: unexpected argument '%s'\n", argv[0]);
		return 2;
	}
	return pfc_send(o, o->kill ? "flush\nkill all" : "flush");
}

static int pfc_query(struct pfc_opts *o, int argc, char **argv, const char *verb,
		     int (*show)(const struct pfc_opts *, json_t *))
{
	json_t *res;
	int rc;

	if (argc) {
		fprintf(stderr, "portfw %s: unexpected argument '%s'\n", verb, argv[0]);
		return 2;
	}
	res = pfc_request(o, verb);
	if (!res)
		return 1;
	rc = pfc_check_reply(res);
	if (!rc && show)
		rc = show(o, res);
	json_decref(res);
	return rc;
}

static int cmd_list(struct pfc_opts *o, int argc, char **argv)
{
	return pfc_query(o, argc, argv, "list", pfc_show_list);
}

static int cmd_conns(struct pfc_opts *o, int argc, char **argv)
{
	return pfc_query(o, argc, argv, "conns", pfc_show_conns);
}

static int pfc_print_config(const struct pfc_opts *o, json_t *res)
{
	(void)o;
	fputs(json_string_value(json_object_get(res, "config")), stdout);
	return 0;
}

static int cmd_save(struct pfc_opts *o, int argc, char **argv)
{
	return pfc_query(o, argc, argv, "save", pfc_print_config);
}

static int cmd_reload(struct pfc_opts *o, int argc, char **argv)
{
	return pfc_query(o, argc, argv, "reload", NULL);
}

static int pfc_print_upgrade(const struct pfc_opts *o, json_t *res)
{
	(void)o;
	printf("portfwd upgraded: pid %lld is serving (%s); pid %lld finishes its flows and "
	       "exits\n",
	       (long long)json_integer_value(json_object_get(res, "pid")),
	       json_string_value(json_object_get(res, "path")) ?: "?",
	       (long long)json_integer_value(json_object_get(res, "old_pid")));
	return 0;
}

/* upgrade: portfwd runs the binary at its path again and hands it the
 * sockets; the answer comes when the new one is ready, or says why not. */
static int cmd_upgrade(struct pfc_opts *o, int argc, char **argv)
{
	return pfc_query(o, argc, argv, "upgrade", pfc_print_upgrade);
}

/* restore FILE: the file's forwards replace the table, in one change. The
 * client reads the file and its includes (pf_restore.h says why). */
static int cmd_restore(struct pfc_opts *o, int argc, char **argv)
{
	const char *name;
	char *text, *req = NULL, err[1024];
	size_t len;
	int rc;

	if (argc != 1) {
		fprintf(stderr, "portfw restore: expected one FILE (or - for standard input)\n");
		return 2;
	}
	text = pfc_read_all("restore", argv[0], &len);
	if (!text)
		return 1;
	/* Standard input: includes are relative to the working directory. */
	name = strcmp(argv[0], "-") != 0 ? argv[0] : "stdin";
	if (pf_restore_request(name, text, len, &req, err, sizeof(err))) {
		fprintf(stderr, "portfw: %s\n", err);
		rc = 2;
	} else {
		rc = pfc_send(o, req);
	}
	free(req);
	free(text);
	return rc;
}

static int cmd_explain(struct pfc_opts *o, int argc, char **argv)
{
	return pfc_explain(o, argc, argv);
}

static int cmd_hacheck(struct pfc_opts *o, int argc, char **argv)
{
	return pfc_hacheck(o, argc, argv);
}

static const struct pfc_cmd pfc_cmds[] = {
	{ "add", "[name NAME] PROTO LISTEN to BACKEND [weight N] [, BACKEND ...] [OPTION ...]",
	  cmd_add },
	{ "trigger", "[name NAME] PROTO LOW-HIGH on tcp|udp PORT [timeout DUR]", cmd_trigger },
	{ "del", "[-k] name NAME | [-k] PROTO LISTEN [BACKEND]", cmd_del },
	{ "kill", "all | name NAME | PROTO LISTEN", cmd_kill },
	{ "backend", "FORWARD BACKEND drain|enable|disable|backup|primary|weight N", cmd_backend },
	{ "schedule", "FORWARD", cmd_schedule },
	{ "default", "allow|deny CIDR[,CIDR...] | clear | log | no-log", cmd_default },
	{ "log-format", "text|json   (the flow log's lines)", cmd_log_format },
	{ "mark", "N [PROTO LISTEN] [from CIDR[,CIDR...]]   (del mark N)", cmd_mark },
	{ "import", "FILE|-   (EXT-PORT INT-IP INT-PORT lines, TCP and UDP)", cmd_import },
	{ "flush", "[-k]", cmd_flush },
	{ "list", "[-n] [-j]", cmd_list },
	{ "conns", "[-j]", cmd_conns },
	{ "save", "", cmd_save },
	{ "restore", "FILE|-", cmd_restore },
	{ "reload", "", cmd_reload },
	{ "upgrade", "   (run the binary anew, handing over the sockets)", cmd_upgrade },
	{ "explain", "[-j] NAME|PROTO LISTEN [from ADDR]   (why a forward works or not)",
	  cmd_explain },
	{ "ha-check", "[-j] FILE|-   (the other gateway's 'portfw list -j': same table?)",
	  cmd_hacheck },
};

/* A usage error: one line, what was wrong and where the whole usage is
 * (printing the usage itself would bury the message). */
static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("portfw: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see 'portfw --help')\n", stderr);
	return 2;
}

static void usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: portfw [-s SOCKET] COMMAND [ARGS]\n");
	for (i = 0; i < PF_ARRAY_SIZE(pfc_cmds); i++)
		fprintf(fp, "  portfw %-8s %s\n", pfc_cmds[i].name, pfc_cmds[i].args);
	fprintf(fp, "options: -n numeric addresses, -j JSON, -k also cut the existing flows\n"
		    "OPTION: connect-timeout DUR, idle-timeout DUR, half-close-timeout DUR, maxconn N,\n"
		    "  name NAME, balance wrr|pref|rr|leastconn|source|maglev, check, check-interval DUR,\n"
		    "  check-timeout DUR, fall N, rise N, check-port N, check-send STR, check-expect STR,\n"
		    "  agent-port N, agent-interval DUR, from CIDRS, allow CIDRS, deny CIDRS,\n"
		    "  udp-timeout DUR, udp-stream-timeout DUR, max-sessions N, max-per-source N,\n"
		    "  max-sessions-per-source N, rate-per-source N/s|N/m, log\n"
		    "BACKEND: HOST[:PORT[-PORT]] [weight N] [backup] [drain|disabled]\n"
		    "portfw help [COMMAND], portfw --version; see portfw(8) and portfw.conf(5)\n");
}

static const struct pfc_cmd *pfc_find(const char *name)
{
	size_t i;

	for (i = 0; i < PF_ARRAY_SIZE(pfc_cmds); i++)
		if (!strcmp(name, pfc_cmds[i].name))
			return &pfc_cmds[i];
	return NULL;
}

/* help [COMMAND]: the whole usage, or one command's line. */
static int pfc_help(int argc, char **argv)
{
	const struct pfc_cmd *cmd;

	if (!argc) {
		usage(stdout);
		return 0;
	}
	cmd = pfc_find(argv[0]);
	if (argc > 1 || !cmd) {
		return usage_error("help: unknown command '%s'", argv[argc > 1 ? 1 : 0]);
	}
	printf("usage: portfw [-s SOCKET] %s %s\n", cmd->name, cmd->args);
	return 0;
}

int main(int argc, char **argv)
{
	struct pfc_opts o = { .sock = getenv("PORTFW_SOCKET") };
	const struct pfc_cmd *cmd = NULL;
	const char *prog = argc ? strrchr(argv[0], '/') : NULL;
	char **rest;
	int i, n = 0;

	/* Installed also as ipportfw and ipmasqadm: the old scripts run as they are. */
	prog = prog ? prog + 1 : argc ? argv[0] : "portfw";
	if (!strcmp(prog, "ipportfw") || !strcmp(prog, "ipmasqadm"))
		return pfc_classic_main(prog, argc, argv);

	if (!o.sock || !*o.sock)
		o.sock = "/run/portfw.sock";
	rest = calloc((size_t)argc + 1, sizeof(*rest));
	if (!rest)
		return 1;
	/* Flags may stand before or after the command (portfw -n list, portfw list -n);
	 * after the command's first argument every word belongs to the statement. */
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-s") && !n) {
			if (++i == argc) {
				fprintf(stderr, "portfw: -s expects a socket path\n");
				free(rest);
				return 2;
			}
			o.sock = argv[i];
		} else if (!strcmp(a, "-n") && n <= 1) {
			o.numeric = true;
		} else if (!strcmp(a, "-j") && n <= 1) {
			o.json = true;
		} else if (!strcmp(a, "-k") && n <= 1) {
			o.kill = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			free(rest);
			return 0;
		} else if ((!strcmp(a, "-V") || !strcmp(a, "--version")) && !n) {
			printf("portfw %s\n", PORTFW_VERSION);
			free(rest);
			return 0;
		} else if (a[0] == '-' && a[1] && n <= 1) {
			free(rest);
			return usage_error("unknown option '%s'", a);
		} else {
			rest[n++] = argv[i];
		}
	}
	if (!n) {
		free(rest);
		return usage_error("no command given");
	}
	if (!strcmp(rest[0], "help")) {
		i = pfc_help(n - 1, rest + 1);
		free(rest);
		return i;
	}
	cmd = pfc_find(rest[0]);
	if (!cmd) {
		i = usage_error("unknown command '%s'", rest[0]);
		free(rest);
		return i;
	}
	i = cmd->fn(&o, n - 1, rest + 1);
	free(rest);
	return i;
}
