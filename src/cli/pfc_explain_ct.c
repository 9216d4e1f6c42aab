// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Flows of a kernel forward that never got a reply. The kernel engine's
 * conntrack entries carry the forward's id in their mark, and portfwd lists
 * them by forward ('conns'). An entry that stays unreplied (a TCP SYN
 * without SYN-ACK, a UDP session without an answer) for more than a moment
 * while the backend takes connections from this host means the backend's
 * replies go elsewhere: its route back to the client does not pass here.
 * Two looks 1.5 s apart tell an old entry from one just made.
 */
#include "pfc_explain.h"
#include "../common/pf_util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PFC_XCT_WAIT_MS 1500

static const char *pfc_s(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* An unreplied flow of our forward (and client, if given). */
static bool pfc_unreplied(const struct pfc_xctx *x, json_t *c)
{
	const char *ct = pfc_s(c, "conntrack"), *st = pfc_s(c, "state");
	const char *client = pfc_s(c, "client"), *port = strrchr(pfc_s(c, "listen"), ':');
	long p = port ? strtol(port + 1, NULL, 10) : 0;
	char a[PF_ADDRSTR_MAX + 4];
	size_t n;

	if (strcmp(pfc_s(c, "forward"), x->f.name) != 0 || strcmp(pfc_s(c, "engine"), "kernel") != 0)
		return false;
	/* Unnamed forwards share a name (""): the port tells them apart. */
	if (x->f.port_lo && (p < x->f.port_lo || p > x->f.port_hi))
		return false;
	if (x->client.sa.sa_family) {
		/* "1.2.3.4:5678", "[::1]:5678": the address before the port. */
		pf_sa_format(&x->client, false, a, sizeof(a));
		n = strlen(a);
		if (client[0] == '[' ? strncmp(client + 1, a, n) != 0 || client[n + 1] != ']'
				     : strncmp(client, a, n) != 0 || (client[n] != ':' && client[n]))
			return false;
	}
	if (*ct)
		return strstr(ct, "[UNREPLIED]") != NULL;
	return !strcmp(st, "syn-sent") || !strcmp(st, "unreplied");
}

/* The flow's key, to find it again in the second look. */
static void pfc_flow_key(json_t *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s %s", pfc_s(c, "proto"), pfc_s(c, "client"), pfc_s(c, "listen"));
}

void pfc_xct_check(struct pfc_xctx *x, json_t *(*conns)(void *arg), void *arg)
{
	json_t *first, *second, *c, *d, *example = NULL;
	size_t i, j, old = 0, total = 0;
	struct timespec ts = { PFC_XCT_WAIT_MS / 1000, (PFC_XCT_WAIT_MS % 1000) * 1000000L };
	bool reach = false;

	if (!x->f.kernel) {
		pfc_x_add(&x->r, "replies", PFC_X_SKIP, NULL,
			  "the user engine's flows are its own connections: no conntrack to read");
		return;
	}
	first = conns(arg);
	if (!first) {
		pfc_x_add(&x->r, "replies", PFC_X_SKIP, NULL, "portfwd did not list the flows");
		return;
	}
	json_array_foreach(first, i, c)
		total += pfc_unreplied(x, c);
	if (!total) {
		pfc_x_add(&x->r, "replies", PFC_X_OK, NULL,
			  "no flow of the forward is waiting for the backend's reply");
		json_decref(first);
		return;
	}
	nanosleep(&ts, NULL);
	second = conns(arg);
	json_array_foreach(second, j, d)
	{
		char k2[256];

		if (!pfc_unreplied(x, d))
			continue;
		pfc_flow_key(d, k2, sizeof(k2));
		json_array_foreach(first, i, c)
		{
			char k1[256];

			if (!pfc_unreplied(x, c))
				continue;
			pfc_flow_key(c, k1, sizeof(k1));
			if (!strcmp(k1, k2)) {
				old++;
				if (!example)
					example = d;
				break;
			}
		}
	}
	for (i = 0; i < x->f.nbe; i++)
		reach |= x->be_conn[i] == 0;
	if (!old)
		pfc_x_add(&x->r, "replies", PFC_X_OK, NULL,
			  "%zu new flow(s) waited briefly for a reply, none for %d ms", total,
			  PFC_XCT_WAIT_MS);
	else if (x->f.masq)
		pfc_x_add(&x->r, "replies", PFC_X_FAIL,
			  "check the backend's service and the firewalls between it and this host",
			  "%zu flow(s) got no reply from the backend in %d ms (e.g. %s -> %s), "
			  "masqueraded already",
			  old, PFC_XCT_WAIT_MS, pfc_s(example, "client"), pfc_s(example, "backend"));
	else
		pfc_x_add(&x->r, "replies", PFC_X_FAIL,
			  "use `masquerade` on the forward (the backend's route back goes elsewhere)",
			  "%zu flow(s) got no reply through this host in %d ms (e.g. %s -> %s)%s", old,
			  PFC_XCT_WAIT_MS, pfc_s(example, "client"), pfc_s(example, "backend"),
			  reach ? ", while the backend answers this host itself: its replies to clients "
				  "take another way"
				: "");
	json_decref(first);
	json_decref(second);
}
