// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * portfw explain NAME [from ADDR]: why a forward works or does not. The
 * forward comes from portfwd ('list' for what it is and its backends'
 * state, 'save' for its options, 'conns' for its flows); the checks look
 * at this host (pfc_explain_path.c, pfc_explain_nft.c, pfc_explain_ct.c),
 * so explain runs where portfwd runs, as root to see everything.
 */
#include "pfc.h"
#include "pfc_explain.h"
#include "../common/pf_conf.h"
#include "../common/pf_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* portfwd's pid: the peer of a connection to its control socket. Sockets
 * of that process are the forward's own. The request sent is a harmless
 * query, so the daemon sees an ordinary client. */
static int pfc_daemon_pid(const struct pfc_opts *o)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ucred cred = { 0 };
	socklen_t len = sizeof(cred);
	char buf[256];
	int fd, pid = 0;

	if (pf_strlcpy(sun.sun_path, o->sock, sizeof(sun.sun_path)) >= sizeof(sun.sun_path))
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		pid = cred.pid;
	if (send(fd, "save", 4, MSG_NOSIGNAL) == 4 && shutdown(fd, SHUT_WR) == 0)
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	close(fd);
	return pid;
}

/* 'ftp', which 'list' does not show: a word of the forward's statement as
 * 'save' prints it, not a quoted one (a check-send "ftp" is no option). */
static void pfc_save_ftp(const struct pfc_opts *o, struct pfc_xfwd *f)
{
	json_t *res = pfc_request(o, "save");
	const char *text = json_string_value(json_object_get(res, "config"));
	struct pf_toks *t = pf_xcalloc(1, sizeof(*t));
	char *copy = pf_xstrdup(text ? text : ""), *line, *save = NULL, err[256];

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		bool mine = false;
		int i;

		if (strncmp(line, "forward ", 8) != 0 || pf_lex(line, t, err, sizeof(err)))
			continue;
		for (i = 1; i + 1 < t->n; i++)
			mine |= !t->t[i].quoted && !strcmp(t->t[i].s, "name") &&
				!strcmp(t->t[i + 1].s, f->name);
		for (i = 1; mine && i < t->n; i++)
			f->ftp |= !t->t[i].quoted && !strcmp(t->t[i].s, "ftp");
		pf_toks_free(t);
		if (mine)
			break;
	}
	pf_xstrfree(copy);
	free(t);
	json_decref(res);
}

static const char *pfc_jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* The forward of 'list' into f (its strings stay in fj). -1 with a message
 * when it is not one explain follows. */
static int pfc_xfwd_from_json(json_t *fj, struct pfc_xfwd *f)
{
	const char *proto = pfc_jstr(fj, "proto");
	json_t *bes = json_object_get(fj, "backends"), *b;
	json_t *mq = json_object_get(json_object_get(fj, "options"), "masquerade");
	size_t i;

	f->kernel = !strcmp(pfc_jstr(fj, "engine"), "kernel");
	/* false, true (the outgoing interface's address) or the address */
	f->masq = json_is_true(mq) || json_is_string(mq);
	f->masq_addr = json_string_value(mq);
	f->tcp = strstr(proto, "tcp") != NULL;
	f->udp = strstr(proto, "udp") != NULL;
	f->listen = pfc_jstr(fj, "listen");
	f->port_lo = (uint16_t)json_integer_value(json_object_get(fj, "port_lo"));
	f->port_hi = (uint16_t)json_integer_value(json_object_get(fj, "port_hi"));
	pf_strlcpy(f->lif, pfc_jstr(fj, "interface"), sizeof(f->lif));
	if (*pfc_jstr(fj, "listen_addr") && pf_sa_from_literal(pfc_jstr(fj, "listen_addr"),
							       &f->laddr))
		memset(&f->laddr, 0, sizeof(f->laddr));
	if (pf_sa_is_any(&f->laddr))
		memset(&f->laddr, 0, sizeof(f->laddr));
	f->nbe = json_array_size(bes);
	f->be = pf_xcalloc(f->nbe ? f->nbe : 1, sizeof(*f->be));
	json_array_foreach(bes, i, b)
	{
		struct pfc_xbe *be = &f->be[i];

		be->text = pfc_jstr(b, "backend");
		be->state = pfc_jstr(b, "state");
		if (pf_sa_from_literal(pfc_jstr(b, "addr"), &be->addr)) {
			fprintf(stderr, "portfw explain: backend '%s' has no address portfwd lists\n",
				be->text);
			return -1;
		}
		pf_sa_set_port(&be->addr,
			       (uint16_t)json_integer_value(json_object_get(b, "port_lo")));
	}
	return 0;
}

static json_t *pfc_conns(void *arg)
{
	const struct pfc_opts *o = arg;
	json_t *res = pfc_request(o, "conns"), *c = NULL;

	if (res && !pfc_check_reply(res))
		c = json_incref(json_object_get(res, "conns"));
	json_decref(res);
	return c;
}

static int pfc_explain_usage(const char *why, const char *arg)
{
	fprintf(stderr, "portfw explain: %s%s%s%s; expected: portfw explain NAME|PROTO LISTEN "
			"[from ADDR]\n",
		why, arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
	return 2;
}

/* The forward named name, or (proto given) listed as PROTO LISTEN, as
 * 'portfw del' takes an unnamed one. */
static json_t *pfc_find(json_t *list, const char *proto, const char *name)
{
	json_t *f;
	size_t i;

	json_array_foreach(json_object_get(list, "forwards"), i, f)
	{
		if (proto ? !strcmp(pfc_jstr(f, "proto"), proto) &&
				    !strcmp(pfc_jstr(f, "listen"), name)
			  : !strcmp(pfc_jstr(f, "name"), name))
			return f;
	}
	return NULL;
}

static bool pfc_is_proto(const char *s)
{
	return !strcmp(s, "tcp") || !strcmp(s, "udp") || !strcmp(s, "tcp,udp") ||
	       !strcmp(s, "udp,tcp") || !strcmp(s, "all");
}

int pfc_explain(const struct pfc_opts *o, int argc, char **argv)
{
	struct pfc_xctx x = { 0 };
	json_t *list = NULL, *fj;
	const char *proto = NULL;
	char what[300];
	int rc = 2;

	if (argc >= 2 && !strcmp(argv[0], "name")) {
		argc--;
		argv++;
	} else if (argc >= 2 && pfc_is_proto(argv[0])) {
		proto = argv[0];
		argc--;
		argv++;
	}
	if (!argc)
		return pfc_explain_usage("the name of a forward is missing", NULL);
	if (argc != 1 && argc != 3)
		return pfc_explain_usage("unexpected words after", argv[0]);
	if (argc == 3 && strcmp(argv[1], "from") != 0)
		return pfc_explain_usage("expected 'from' instead of", argv[1]);
	if (argc == 3 && (pf_sa_from_literal(argv[2], &x.client) || pf_sa_is_any(&x.client)))
		return pfc_explain_usage("not an IPv4 or IPv6 address of a client:", argv[2]);
	list = pfc_request(o, "list");
	if (!list)
		return 1;
	if (pfc_check_reply(list)) {
		rc = 1;
		goto out;
	}
	fj = pfc_find(list, proto, argv[0]);
	if (proto)
		snprintf(what, sizeof(what), "%s %s", proto, argv[0]);
	else
		snprintf(what, sizeof(what), "%s", argv[0]);
	if (!fj) {
		fprintf(stderr, "portfw explain: no forward %s '%s' (portfw list shows them)\n",
			proto ? "listens on" : "named", what);
		goto out;
	}
	if (json_object_get(fj, "trigger")) {
		fprintf(stderr, "portfw explain: '%s' is a port trigger; explain follows forwards\n",
			what);
		goto out;
	}
	/* Flows name their forward as 'list' does ("" when unnamed). */
	x.f.name = pfc_jstr(fj, "name");
	if (pfc_xfwd_from_json(fj, &x.f))
		goto out;
	pfc_save_ftp(o, &x.f);
	x.daemon_pid = pfc_daemon_pid(o);
	x.be_rt = pf_xcalloc(x.f.nbe + 1, sizeof(*x.be_rt));
	x.be_rt_rc = pf_xcalloc(x.f.nbe + 1, sizeof(*x.be_rt_rc));
	x.be_conn = pf_xcalloc(x.f.nbe + 1, sizeof(*x.be_conn));
	if (x.client.sa.sa_family)
		x.client_rt_rc = pf_route_get(&x.client, &x.client_rt);

	pfc_x_add(&x.r, "forward", PFC_X_OK, NULL, "%s: %s %s -> %zu backend(s), %s engine%s",
		  *x.f.name ? x.f.name : "(unnamed)", pfc_jstr(fj, "proto"), x.f.listen, x.f.nbe,
		  x.f.kernel ? "kernel" : "user", x.f.masq ? ", masquerade" : "");
	/* In the order the flow meets them; the backends' routes first, which
	 * forwarding and the firewall's packet need. */
	pfc_xpath_probe(&x);
	pfc_xpath_listen(&x);
	pfc_xpath_listener(&x);
	pfc_xpath_forwarding(&x);
	pfc_xnft_checks(&x);
	pfc_xpath_backends(&x);
	pfc_xpath_masq(&x);
	pfc_xct_check(&x, pfc_conns, (void *)o);

	if (o->json) {
		json_t *a = pfc_x_json(&x.r);

		json_dumpf(a, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(a);
	} else {
		printf("explain %s", what);
		if (x.client.sa.sa_family) {
			char c[PF_ADDRSTR_MAX];

			pf_sa_format(&x.client, false, c, sizeof(c));
			printf(" from %s", c);
		}
		printf(":\n");
		pfc_x_print(stdout, &x.r);
	}
	rc = pfc_x_exit(&x.r);
out:
	pfc_x_free(&x.r);
	free(x.f.be);
	free(x.be_rt);
	free(x.be_rt_rc);
	free(x.be_conn);
	json_decref(list);
	return rc;
}
