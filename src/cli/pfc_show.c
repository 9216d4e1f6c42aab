// SPDX-License-Identifier: GPL-2.0-or-later
/* Text renderings of 'list' and 'conns' (-j prints the daemon's JSON). */
#include "pfc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *pfc_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static uint64_t pfc_int(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v < 0 ? 0 : (uint64_t)v;
}

/* 1023 -> "1023", 1536 -> "1.5K": IEC units, as ip -h and ss do. */
static const char *pfc_bytes(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGTP";
	double d = (double)v / 1024;
	int u = 0;

	if (v < 1024) {
		snprintf(buf, len, "%" PRIu64, v);
		return buf;
	}
	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(buf, len, d < 10 ? "%.1f%c" : "%.0f%c", d, units[u]);
	return buf;
}

/* A counter of o as shown: "-" when the daemon left it out (its engine
 * does not count it: portfwd -E none), bytes in IEC units. */
static const char *pfc_count(json_t *o, const char *key, bool bytes, char *buf, size_t len)
{
	if (!json_object_get(o, key))
		return "-";
	if (bytes)
		return pfc_bytes(pfc_int(o, key), buf, len);
	snprintf(buf, len, "%" PRIu64, pfc_int(o, key));
	return buf;
}

static const char *pfc_age(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, len, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, (s % 3600) / 60);
	return buf;
}

static void pfc_numeric_endpoint(const char *addr, uint64_t lo, uint64_t hi, char *buf,
				 size_t len)
{
	bool v6 = strchr(addr, ':') != NULL;

	if (!lo)
		snprintf(buf, len, "%s", addr);
	else if (lo == hi)
		snprintf(buf, len, v6 ? "[%s]:%" PRIu64 : "%s:%" PRIu64, addr, lo);
	else
		snprintf(buf, len, v6 ? "[%s]:%" PRIu64 "-%" PRIu64 : "%s:%" PRIu64 "-%" PRIu64,
			 addr, lo, hi);
}

int pfc_show_list(const struct pfc_opts *o, json_t *res)
{
	json_t *fwds = json_object_get(res, "forwards"), *f;
	size_t i;

	if (o->json) {
		json_dumpf(fwds, stdout, JSON_INDENT(2));
		putchar('\n');
		return 0;
	}
	/* ENGINE: which data plane carries the forward (the default resolved). */
	printf("%-12s %-7s %-6s %-22s %-24s %6s %-5s %-14s %8s %7s %6s %7s %7s %7s\n", "NAME",
	       "PROTO", "ENGINE", "LISTEN", "BACKEND", "WEIGHT", "PCNT", "STATE", "CONNS", "ACTIVE", "FAILED",
	       "REFUSED", "UP", "DOWN");
	json_array_foreach(fwds, i, f)
	{
		char l[300], b0[24], b1[16], b2[16], sched[32];
		json_t *bes = json_object_get(f, "backends"), *b;
		size_t j;

		if (o->numeric && *pfc_str(f, "listen_addr"))
			pfc_numeric_endpoint(pfc_str(f, "listen_addr"), pfc_int(f, "port_lo"),
					     pfc_int(f, "port_hi"), l, sizeof(l));
		else
			snprintf(l, sizeof(l), "%s", pfc_str(f, "listen"));
		snprintf(sched, sizeof(sched), "(%s)", pfc_str(f, "scheduler"));
		if (json_object_get(f, "trigger")) {
			json_t *tr = json_object_get(f, "trigger");

			/* A port trigger: its control port, and who holds the range. */
			snprintf(sched, sizeof(sched), "(trigger %s %" PRIu64 ")", pfc_str(tr, "proto"),
				 pfc_int(tr, "port"));
			printf("%-12s %-7s %-6s %-22s %-24s\n",
			       *pfc_str(f, "name") ? pfc_str(f, "name") : "-", pfc_str(f, "proto"),
			       pfc_str(f, "engine"), l, sched);
			if (*pfc_str(tr, "holder"))
				printf("%-12s %-7s %-6s %-22s open to %s, %.1fs left\n", "", "", "",
				       "->", pfc_str(tr, "holder"), (double)pfc_int(tr, "left_ms") / 1000);
			continue;
		}
		printf("%-12s %-7s %-6s %-22s %-24s %6s %-5s %-14s %8s %7" PRIu64 " %6" PRIu64
		       " %7" PRIu64 " %7s %7s\n",
		       *pfc_str(f, "name") ? pfc_str(f, "name") : "-", pfc_str(f, "proto"),
		       pfc_str(f, "engine"), l, sched, "", "", "",
		       pfc_count(f, "conns", false, b0, sizeof(b0)), pfc_int(f, "active"),
		       pfc_int(f, "failed"), pfc_int(f, "refused"),
		       pfc_count(f, "bytes_up", true, b1, sizeof(b1)),
		       pfc_count(f, "bytes_down", true, b2, sizeof(b2)));
		json_array_foreach(bes, j, b)
		{
			char be[300], pcnt[24], state[32];

			if (o->numeric)
				pfc_numeric_endpoint(pfc_str(b, "addr"), pfc_int(b, "port_lo"),
						     pfc_int(b, "port_hi"), be, sizeof(be));
			else if (strcmp(pfc_str(b, "host"), pfc_str(b, "addr")) != 0 &&
				 *pfc_str(b, "addr"))
				/* A host name: the address it resolved to now. */
				snprintf(be, sizeof(be), "%s (%s)", pfc_str(b, "backend"),
					 pfc_str(b, "addr"));
			else
				snprintf(be, sizeof(be), "%s", pfc_str(b, "backend"));
			if (json_object_get(b, "pcnt"))
				snprintf(pcnt, sizeof(pcnt), "%" PRIu64, pfc_int(b, "pcnt"));
			else
				snprintf(pcnt, sizeof(pcnt), "-");
			snprintf(state, sizeof(state), "%s%s", pfc_str(b, "state"),
				 json_is_true(json_object_get(b, "backup")) ? ",backup" : "");
			printf("%-12s %-7s %-6s %-22s %-24s %6" PRIu64 " %-5s %-14s %8s %7" PRIu64
			       " %6" PRIu64 " %7s %7s %7s\n",
			       "", "", "", "->", be, pfc_int(b, "weight"), pcnt, state,
			       pfc_count(b, "conns", false, b0, sizeof(b0)), pfc_int(b, "active"),
			       pfc_int(b, "failed"), "", pfc_count(b, "bytes_up", true, b1, sizeof(b1)),
			       pfc_count(b, "bytes_down", true, b2, sizeof(b2)));
		}
	}
	return 0;
}

int pfc_show_conns(const struct pfc_opts *o, json_t *res)
{
	json_t *conns = json_object_get(res, "conns"), *c;
	size_t i;

	if (o->json) {
		json_dumpf(conns, stdout, JSON_INDENT(2));
		putchar('\n');
		return 0;
	}
	printf("%-5s %-12s %-24s %-24s %-24s %8s %8s %8s %s\n", "PROTO", "FORWARD", "CLIENT",
	       "LISTEN", "BACKEND", "UP", "DOWN", "AGE", "STATE");
	json_array_foreach(conns, i, c)
	{
		char b1[16], b2[16], a[32], st[96];

		if (!strcmp(pfc_str(c, "proto"), "udp"))
			/* UDP: datagrams each way and the time left, like conntrack. */
			snprintf(st, sizeof(st), "%s, %" PRIu64 "/%" PRIu64 " dgrams, %" PRIu64 "s left",
				 pfc_str(c, "state"), pfc_int(c, "packets_up"),
				 pfc_int(c, "packets_down"), (pfc_int(c, "expires_ms") + 999) / 1000);
		else
			snprintf(st, sizeof(st), "%s", pfc_str(c, "state"));
		printf("%-5s %-12s %-24s %-24s %-24s %8s %8s %8s %s\n", pfc_str(c, "proto"),
		       *pfc_str(c, "forward") ? pfc_str(c, "forward") : "-", pfc_str(c, "client"),
		       pfc_str(c, "listen"), pfc_str(c, "backend"),
		       pfc_bytes(pfc_int(c, "bytes_up"), b1, sizeof(b1)),
		       pfc_bytes(pfc_int(c, "bytes_down"), b2, sizeof(b2)),
		       pfc_age(pfc_int(c, "age_ms"), a, sizeof(a)), st);
	}
	return 0;
}
