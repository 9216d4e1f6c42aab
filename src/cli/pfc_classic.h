/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The classic command lines (ipportfw, ipmasqadm portfw / mfw / autofw) as
 * front ends of the one command language. The translators are pure: argv and
 * a snapshot of the running table in, statements (or a usage error) out, so
 * the unit tests and the fuzzer drive them without a daemon. The client's
 * main (pfc_classic_main.c) does the talking.
 */
#ifndef PFC_CLASSIC_H
#define PFC_CLASSIC_H

#include "../common/pf_buf.h"
#include "../common/pf_table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pfc_xl_kind {
	PFC_XL_SEND, /* text: statements, sent as one change */
	PFC_XL_NOTHING, /* nothing to change (e.g. clearing an empty table) */
	PFC_XL_NEED_TABLE, /* call again with the running table */
	PFC_XL_LIST, /* print the 'list' reply in style 'list' */
	PFC_XL_HELP, /* the usage, on stdout; exit 0 */
	PFC_XL_USAGE, /* err, then the usage on stderr; exit 2, nothing changed */
	PFC_XL_ERROR, /* err on stderr; exit 1, nothing changed */
};

enum pfc_list_style { PFC_LIST_IPPORTFW, PFC_LIST_PORTFW, PFC_LIST_MFW };

struct pfc_xl {
	enum pfc_xl_kind kind;
	char *text; /* PFC_XL_SEND: malloc'd */
	size_t len;
	struct pf_buf out; /* the statements while they are written; then text */
	int list; /* PFC_XL_LIST: enum pfc_list_style */
	bool numeric; /* -n */
	bool verbose; /* autofw -v: show the statements sent */
	const char *tool; /* "ipportfw", "ipmasqadm portfw", ... for messages */
	const char *usage; /* the tool's usage text */
	char err[512];
};

/* Forward names the front ends give what they create, so later -d/-D/-F find it. */
#define PFC_PORTFW_PREFIX "portfw-" /* portfw-tcp-192.0.2.1-80 (ipportfw, ipmasqadm portfw) */
#define PFC_MFW_PREFIX "mfw-" /* mfw-MARK */
#define PFC_AUTOFW_PREFIX "autofw-" /* autofw-tcp-6000-6010 */
#define PFC_MFW_PREF_DEFAULT 10
#define PFC_PORTFW_PREF_DEFAULT 10

/*
 * prog: "ipportfw" or "ipmasqadm"; argv: the arguments after the program
 * name. cur: the running table, or NULL on the first call (the translator
 * answers PFC_XL_NEED_TABLE once the syntax is checked and it needs it).
 * Fills xl; free it with pfc_xl_free().
 */
void pfc_classic_xlate(const char *prog, int argc, char *const *argv, const struct pf_table *cur,
		       struct pfc_xl *xl);
void pfc_xl_free(struct pfc_xl *xl);

/* The front ends. */
void pfc_ipportfw_xlate(int argc, char *const *argv, const struct pf_table *cur,
			struct pfc_xl *xl);
void pfc_mpfw_xlate(int argc, char *const *argv, const struct pf_table *cur, struct pfc_xl *xl);
void pfc_mfw_xlate(int argc, char *const *argv, const struct pf_table *cur, struct pfc_xl *xl);
void pfc_autofw_xlate(int argc, char *const *argv, const struct pf_table *cur, struct pfc_xl *xl);

extern const char pfc_ipportfw_usage[], pfc_mpfw_usage[], pfc_mfw_usage[], pfc_autofw_usage[],
	pfc_ipmasqadm_usage[];

/* ---- helpers shared by the front ends ---- */

/* Appends to xl->out. */
__attribute__((format(printf, 2, 3))) void pfc_xl_printf(struct pfc_xl *xl, const char *fmt, ...);
/* Sets PFC_XL_USAGE (or PFC_XL_ERROR) with a message; returns -1. */
__attribute__((format(printf, 2, 3))) int pfc_xl_usage(struct pfc_xl *xl, const char *fmt, ...);
__attribute__((format(printf, 2, 3))) int pfc_xl_error(struct pfc_xl *xl, const char *fmt, ...);

/*
 * The option walker: each front end lists the options it takes, one
 * pfc_walk() reads argv by that list and gives the usage errors they share
 * (an unknown option, a second command, an option given twice), and calls
 * the option's take() to read and check its values. What is left to each
 * front end is its values and which options go with which command.
 */
enum pfc_opt_kind {
	PFC_OPT_CMD, /* the command (-A, -D, ...): one per line */
	PFC_OPT_HELP, /* the usage on stdout: the walk stops there */
	PFC_OPT_FLAG, /* no value, may be repeated */
	PFC_OPT_VALUE, /* values read by take(), given at most once */
};

struct pfc_args;

struct pfc_opt {
	char letter;
	enum pfc_opt_kind kind;
	/* PFC_OPT_VALUE: the letter of another option that excludes this one
	 * (ipportfw's -t and -u are one choice) and the name of the pair in the
	 * "given twice" message ("-t or -u"); 0 and NULL: alone, "-LETTER". */
	char pair;
	const char *name;
	/* PFC_OPT_VALUE: reads the values after option word 'opt' with
	 * pfc_optarg/pfc_optnext into a->out; 0, or -1 after pfc_xl_usage(). */
	int (*take)(struct pfc_args *a, const char *opt);
};

struct pfc_args {
	int argc;
	char *const *argv;
	int i; /* the word being read */
	struct pfc_xl *xl;
	void *out; /* the front end's parse, for take() */
	char cmd; /* the command's letter; 0 before one */
	uint64_t seen; /* the options given (pfc_seen) */
	bool glued; /* values may be glued to the option ("-t1.2.3.4/80"); else every
		     * option word is exactly "-X", its values the next words */
};

/* Walks a->argv by opts. 0: all read; 1: -h (xl: PFC_XL_HELP); -1: a usage
 * error (in xl). */
int pfc_walk(struct pfc_args *a, const struct pfc_opt *opts, size_t nopts);
/* Whether any of the options 'letters' was given. */
bool pfc_seen(const struct pfc_args *a, const char *letters);
/* The value of the option being read: glued ("-t1.2.3.4/80") or the next
 * word (which a->i then points at). NULL when there is none. */
const char *pfc_optarg(struct pfc_args *a);
/* The next word as a further value of the same option; NULL when none. */
const char *pfc_optnext(struct pfc_args *a);
/* -p PREF of ipmasqadm portfw and mfw: a preference 0-65535. */
int pfc_opt_pref(struct pfc_args *a, const char *opt, uint32_t *pref);
/* The next word without taking it; NULL when none. */
const char *pfc_optpeek(const struct pfc_args *a);

int pfc_parse_port(const char *s, uint16_t *port);
int pfc_parse_proto(const char *s, uint8_t *proto);
/* An IPv4/IPv6 address or a host name. */
bool pfc_host_ok(const char *s);
/* "HOST[:PORT]" for the command language ([v6]:PORT); port 0: none. */
void pfc_backend_str(const char *host, uint16_t port, char *buf, size_t len);
/* A forward name from parts; characters a name may not hold become '_'.
 * Returns -1 when it would be too long. */
__attribute__((format(printf, 3, 4))) int pfc_make_name(char *out, size_t len, const char *fmt,
							 ...);

/*
 * Adds backend HOST[:PORT] with weight pref to the pool of forward 'name':
 * the forward is replaced by a copy with one more backend (at the head when
 * 'head'), in one change, so the daemon's diff keeps the other backends'
 * flows. Without such a forward, a new one is made:
 * "forward name NAME LISTEN to BACKEND weight PREF balance pref OPTIONS".
 */
int pfc_pool_add(struct pfc_xl *xl, const struct pf_table *cur, const char *name,
		 const char *listen, const char *options, const char *host, uint16_t port,
		 uint32_t pref, bool head);
/* 'del name N' for every forward whose name starts with prefix. */
void pfc_del_prefix(struct pfc_xl *xl, const struct pf_table *cur, const char *prefix);

#endif
