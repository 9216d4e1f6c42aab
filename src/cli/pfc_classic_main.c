// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The client under its classic names (ipportfw, ipmasqadm): translate the
 * arguments, fetch the running table when the translation needs it, send the
 * statements as one change, or print the table the way the old tools did.
 * There is no -s in the classic syntax: PORTFW_SOCKET or /run/portfw.sock.
 */
#include "pfc.h"
#include "pfc_classic.h"
#include "../common/pf_conf.h"
#include "../common/pf_interp.h"
#include "../common/pf_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *pfc_js(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static uint64_t pfc_ji(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v < 0 ? 0 : (uint64_t)v;
}

/* The listen host as written: "192.0.2.1:80" -> "192.0.2.1", "[::1]:80" -> "::1". */
static void pfc_listen_host(json_t *f, bool numeric, char *buf, size_t len)
{
	const char *l = pfc_js(f, "listen"), *colon = strrchr(l, ':');
	size_t n = colon ? (size_t)(colon - l) : strlen(l);

	if (numeric && *pfc_js(f, "listen_addr")) {
		snprintf(buf, len, "%s", pfc_js(f, "listen_addr"));
		return;
	}
	if (n >= 2 && l[0] == '[' && l[n - 1] == ']') {
		l++;
		n -= 2;
	}
	snprintf(buf, len, "%.*s", (int)n, n ? l : "0.0.0.0");
}

/* Backends in their rotation order (pref pools move the used one back). */
static size_t pfc_backends_ordered(json_t *bes, json_t **out, size_t max)
{
	size_t n = 0, i, j;
	json_t *b;

	json_array_foreach(bes, i, b)
	{
		if (n == max)
			break;
		out[n++] = b;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && pfc_ji(out[j - 1], "position") > pfc_ji(out[j], "position"); j--) {
			json_t *t = out[j];

			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

static void pfc_print_list(const struct pfc_xl *xl, json_t *res)
{
	json_t *fwds = json_object_get(res, "forwards"), *f;
	const char *prefix = xl->list == PFC_LIST_MFW ? PFC_MFW_PREFIX : PFC_PORTFW_PREFIX;
	size_t i;

	if (xl->list == PFC_LIST_IPPORTFW)
		printf("Prot Local Addr/Port > Remote Addr/Port\n");
	else if (xl->list == PFC_LIST_PORTFW)
		printf("%-4s %-24s   %-24s %5s %5s\n", "Prot", "Local Addr/Port",
		       "Remote Addr/Port", "Pcnt", "Pref");
	else
		printf("%-10s %-24s %5s %5s\n", "Mark", "Remote Addr/Port", "Pcnt", "Pref");
	json_array_foreach(fwds, i, f)
	{
		const char *name = pfc_js(f, "name"), *proto = pfc_js(f, "proto");
		json_t *bes[PF_BACKENDS_MAX];
		char lh[PF_HOST_MAX], loc[PF_HOST_MAX + 24];
		size_t nb, k, p;

		if (strncmp(name, prefix, strlen(prefix)) != 0)
			continue;
		pfc_listen_host(f, xl->numeric, lh, sizeof(lh));
		snprintf(loc, sizeof(loc), "%s/%" PRIu64, lh, pfc_ji(f, "port_lo"));
		nb = pfc_backends_ordered(json_object_get(f, "backends"), bes, PF_BACKENDS_MAX);
		/* A tcp,udp forward is two entries of the old tables. */
		for (p = 0; p < 2; p++) {
			const char *pn = p ? "udp" : "tcp", *PN = p ? "UDP" : "TCP";

			if (xl->list != PFC_LIST_MFW && !strstr(proto, pn))
				continue;
			if (xl->list == PFC_LIST_MFW && p)
				break;
			for (k = 0; k < nb; k++) {
				json_t *b = bes[k];
				uint64_t port = pfc_ji(b, "port_lo");
				char rem[PF_HOST_MAX + 24], pcnt[24];

				if (!port)
					port = pfc_ji(f, "port_lo");
				if (port)
					snprintf(rem, sizeof(rem), "%s/%" PRIu64,
						 pfc_js(b, xl->numeric ? "addr" : "host"), port);
				else
					snprintf(rem, sizeof(rem), "%s",
						 pfc_js(b, xl->numeric ? "addr" : "host"));
				if (json_object_get(b, "pcnt"))
					snprintf(pcnt, sizeof(pcnt), "%" PRIu64, pfc_ji(b, "pcnt"));
				else
					snprintf(pcnt, sizeof(pcnt), "-");
				if (xl->list == PFC_LIST_IPPORTFW)
					printf("%s %s > %s\n", PN, loc, rem);
				else if (xl->list == PFC_LIST_PORTFW)
					printf("%-4s %-24s > %-24s %5s %5" PRIu64 "\n", PN, loc, rem,
					       pcnt, pfc_ji(b, "weight"));
				else
					printf("%-10s %-24s %5s %5" PRIu64 "\n",
					       name + strlen(PFC_MFW_PREFIX), rem, pcnt,
					       pfc_ji(b, "weight"));
			}
		}
	}
}

int pfc_fetch_table(const struct pfc_opts *o, struct pf_table *t)
{
	json_t *res = pfc_request(o, "save");
	const char *text;
	char err[1024];
	int rc = -1;

	if (!res)
		return -1;
	if (pfc_check_reply(res))
		goto out;
	text = json_string_value(json_object_get(res, "config"));
	if (!text) {
		fprintf(stderr, "portfw: portfwd's 'save' reply holds no table\n");
		goto out;
	}
	if (pf_conf_load_text("portfwd's table", text, strlen(text), t, err, sizeof(err))) {
		fprintf(stderr, "portfw: cannot read portfwd's table: %s\n", err);
		goto out;
	}
	rc = 0;
out:
	json_decref(res);
	return rc;
}

/* The daemon's verdict on a change, in the tool's name: its "request:N: "
 * prefix numbers statements the operator never wrote. */
static int pfc_classic_reply(const struct pfc_xl *xl, json_t *res)
{
	const char *e = json_string_value(json_object_get(res, "error"));
	int n = 0;

	if (json_is_true(json_object_get(res, "ok")))
		return 0;
	if (!e)
		e = "request failed";
	if (sscanf(e, "request:%*d: %n", &n) == 0 && n)
		e += n;
	fprintf(stderr, "%s: %s\n", xl->tool, e);
	return 1;
}

int pfc_classic_main(const char *prog, int argc, char **argv)
{
	struct pfc_opts o = { .sock = getenv("PORTFW_SOCKET") };
	struct pf_table cur;
	struct pfc_xl xl;
	json_t *res;
	int rc = 1;

	if (!o.sock || !*o.sock)
		o.sock = "/run/portfw.sock";
	pf_table_init(&cur);
	pfc_classic_xlate(prog, argc - 1, argv + 1, NULL, &xl);
	if (xl.kind == PFC_XL_NEED_TABLE) {
		if (pfc_fetch_table(&o, &cur))
			goto out;
		pfc_classic_xlate(prog, argc - 1, argv + 1, &cur, &xl);
	}
	switch (xl.kind) {
	case PFC_XL_HELP:
		fputs(xl.usage, stdout);
		rc = 0;
		break;
	case PFC_XL_USAGE:
		if (xl.err[0])
			fprintf(stderr, "%s: %s\n", xl.tool, xl.err);
		fputs(xl.usage, stderr);
		rc = 2;
		break;
	case PFC_XL_ERROR:
		fprintf(stderr, "%s: %s\n", xl.tool, xl.err);
		rc = 1;
		break;
	case PFC_XL_NOTHING:
		rc = 0;
		break;
	case PFC_XL_LIST:
		res = pfc_request(&o, "list");
		if (!res)
			break;
		rc = pfc_check_reply(res);
		if (!rc)
			pfc_print_list(&xl, res);
		json_decref(res);
		break;
	default:
		if (xl.verbose)
			fputs(xl.text, stderr);
		res = pfc_request(&o, xl.text);
		if (!res)
			break;
		rc = pfc_classic_reply(&xl, res);
		json_decref(res);
		break;
	}
out:
	pfc_xl_free(&xl);
	pf_table_clear(&cur);
	return rc;
}
