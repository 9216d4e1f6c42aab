// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ruleset as libnftables lists it (JSON, read with jansson), for two
 * checks: the other tables whose chains the flow passes (the walk is
 * pfc_explain_rules.c's; here, the stages of the path for each engine),
 * and the FTP helper of a forward with 'ftp'. Tables of iptables-legacy,
 * which nft does not see, are read from iptables-legacy-save.
 */
#include "pfc_explain.h"
#include "../common/pf_util.h"

#include "../common/pf_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Our NAT chain's priority in prerouting and output (pfk_render.c:
 * dstnat - 10): chains before it see the packet as the client sent it. */
#define PFC_OUR_DNAT_PRIO (-110)

/* "list ruleset" as JSON; NULL after adding why to the report. */
static json_t *pfc_ruleset(struct pfc_xctx *x)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	json_t *rs = NULL;
	json_error_t jerr;
	const char *out;

	if (!nft) {
		pfc_x_add(&x->r, "firewall", PFC_X_SKIP, NULL, "cannot start libnftables");
		return NULL;
	}
	nft_ctx_output_set_flags(nft, NFT_CTX_OUTPUT_JSON);
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	if (nft_run_cmd_from_buffer(nft, "list ruleset")) {
		const char *e = nft_ctx_get_error_buffer(nft);

		pfc_x_add(&x->r, "firewall", PFC_X_SKIP, NULL,
			  "cannot list the ruleset (%.*s): run explain as root", e ? (int)strcspn(e, "\n") : 0,
			  e ? e : "");
		goto out;
	}
	out = nft_ctx_get_output_buffer(nft);
	rs = json_loads(out ? out : "", 0, &jerr);
	if (!rs)
		pfc_x_add(&x->r, "firewall", PFC_X_SKIP, NULL,
			  "cannot read libnftables' JSON: %s", jerr.text);
out:
	nft_ctx_free(nft);
	return rs;
}

/* The backend that new flows go to, as far as explain can tell: the first
 * that is up, else the first. */
static size_t pfc_main_backend(const struct pfc_xfwd *f)
{
	size_t i;

	for (i = 0; i < f->nbe; i++)
		if (!strcmp(f->be[i].state, "up"))
			return i;
	return 0;
}

static size_t pfc_firewall(struct pfc_xctx *x, json_t *rs)
{
	static const char *const pre[] = { "prerouting", NULL };
	static const char *const fwd[] = { "forward", "postrouting", NULL };
	static const char *const in[] = { "prerouting", "input", NULL };
	static const char *const out[] = { "output", "postrouting", NULL };
	const struct pfc_xfwd *f = &x->f;
	size_t b = pfc_main_backend(f), n;
	struct pfc_xstage st[3];
	struct pfc_xpkt arrive = { 0 }, to_be;
	char acc_in[64], acc_be[128], a[PF_ADDRSTR_MAX];
	uint16_t bport;

	if (!f->nbe)
		return 0;
	bport = pf_sa_port(&f->be[b].addr) ? pf_sa_port(&f->be[b].addr) : f->port_lo;
	arrive.family = f->be[b].addr.sa.sa_family;
	if (f->laddr.sa.sa_family && !f->kernel)
		arrive.family = f->laddr.sa.sa_family;
	arrive.l4 = f->tcp ? IPPROTO_TCP : IPPROTO_UDP;
	arrive.saddr = x->client;
	if (f->laddr.sa.sa_family == arrive.family)
		arrive.daddr = f->laddr;
	arrive.dport = f->port_lo;
	arrive.iif = f->lif[0] ? f->lif : (x->client.sa.sa_family && !x->client_rt_rc)
						  ? x->client_rt.oif
						  : NULL;
	to_be = arrive;
	to_be.family = f->be[b].addr.sa.sa_family;
	to_be.daddr = f->be[b].addr;
	to_be.dport = bport;
	to_be.oif = !x->be_rt_rc[b] && x->be_rt[b].oif[0] ? x->be_rt[b].oif : NULL;
	snprintf(acc_in, sizeof(acc_in), "%s dport %u", arrive.l4 == IPPROTO_TCP ? "tcp" : "udp",
		 f->port_lo);
	pf_sa_format(&to_be.daddr, false, a, sizeof(a));
	snprintf(acc_be, sizeof(acc_be), "%s daddr %s %s dport %u",
		 to_be.family == AF_INET6 ? "ip6" : "ip", a,
		 arrive.l4 == IPPROTO_TCP ? "tcp" : "udp", bport);
	if (f->kernel) {
		to_be.dnat = true;
		/* Before our DNAT: the packet as sent; a NAT chain there takes it. */
		st[0] = (struct pfc_xstage){ .what = "arriving", .hooks = pre, .pkt = arrive,
					     .prio_lo = INT_MIN, .prio_hi = PFC_OUR_DNAT_PRIO,
					     .nat_check = true, .nat_prio = PFC_OUR_DNAT_PRIO,
					     .accept = acc_in };
		/* After it: on its way to the backend. */
		st[1] = (struct pfc_xstage){ .what = "arriving", .hooks = pre, .pkt = to_be,
					     .prio_lo = PFC_OUR_DNAT_PRIO + 1, .prio_hi = INT_MAX,
					     .accept = "ct status dnat" };
		st[2] = (struct pfc_xstage){ .what = "forwarded", .hooks = fwd, .pkt = to_be,
					     .prio_lo = INT_MIN, .prio_hi = INT_MAX,
					     .accept = "ct status dnat" };
	} else {
		to_be.saddr = (union pf_sa){ 0 }; /* this host's, chosen by the route */
		to_be.iif = NULL;
		st[0] = (struct pfc_xstage){ .what = "arriving", .hooks = in, .pkt = arrive,
					     .prio_lo = INT_MIN, .prio_hi = INT_MAX,
					     .nat_check = true, .nat_prio = INT_MAX,
					     .accept = acc_in };
		st[1] = (struct pfc_xstage){ .what = "outgoing (to the backend)", .hooks = out,
					     .pkt = to_be, .prio_lo = INT_MIN, .prio_hi = INT_MAX,
					     .nat_check = true, .nat_prio = INT_MAX,
					     .accept = acc_be };
	}
	n = pfc_xrules_scan(rs, st, f->kernel ? 3 : 2, &x->r);
	return n;
}

/* What a program prints (argv[0] an absolute path), up to 16 MiB; NULL
 * when it cannot run or fails. */
static char *pfc_run(char *const argv[])
{
	struct pf_buf out = { .max = 16u << 20 };
	int p[2], status = 0, null;
	pid_t pid;
	char *text = NULL;

	if (pipe2(p, O_CLOEXEC) < 0)
		return NULL;
	pid = fork();
	if (pid == 0) {
		null = open("/dev/null", O_WRONLY);
		dup2(p[1], 1);
		if (null >= 0)
			dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	if (pid > 0 && !pf_buf_read_fd(&out, p[0]))
		text = pf_buf_detach(&out, NULL);
	close(p[0]);
	if (pid > 0 && (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
			WEXITSTATUS(status))) {
		free(text);
		text = NULL;
	}
	pf_buf_free(&out);
	return text;
}

/* The names of the legacy tables of a family ("filter nat"), "" if none. */
static void pfc_legacy_names(bool v6, char *buf, size_t len)
{
	FILE *fp = fopen(v6 ? "/proc/net/ip6_tables_names" : "/proc/net/ip_tables_names", "re");
	char name[64];
	size_t off = 0;

	buf[0] = '\0';
	if (!fp)
		return;
	while (fgets(name, sizeof(name), fp) && off < len) {
		name[strcspn(name, "\n")] = '\0';
		off = pf_append(buf, len, off, off ? " " : "");
		off = pf_append(buf, len, off, name);
	}
	fclose(fp);
}

static size_t pfc_legacy(struct pfc_xctx *x)
{
	static const char *const k_pre[] = { "raw:PREROUTING", "mangle:PREROUTING", NULL };
	static const char *const k_fwd[] = { "mangle:FORWARD", "filter:FORWARD", NULL };
	static const char *const u_in[] = { "raw:PREROUTING", "mangle:PREROUTING",
					    "nat:PREROUTING", "mangle:INPUT",
					    "filter:INPUT",   NULL };
	static const char *const u_out[] = { "raw:OUTPUT", "mangle:OUTPUT", "nat:OUTPUT",
					     "filter:OUTPUT", NULL };
	const struct pfc_xfwd *f = &x->f;
	size_t b = pfc_main_backend(f), n = 0;
	bool v6 = f->nbe && f->be[b].addr.sa.sa_family == AF_INET6;
	const char *tool = v6 ? "ip6tables-legacy" : "iptables-legacy";
	char names[256], path[64], *argv[2], *text, acc_in[64], acc_be[64];
	uint16_t bport;
	uint8_t l4 = f->tcp ? IPPROTO_TCP : IPPROTO_UDP;
	struct pfc_xlegacy q[2];

	pfc_legacy_names(v6, names, sizeof(names));
	if (!names[0] || !f->nbe)
		return 0;
	snprintf(path, sizeof(path), "/usr/sbin/%s-save", tool);
	if (access(path, X_OK) != 0)
		snprintf(path, sizeof(path), "/sbin/%s-save", tool);
	argv[0] = path;
	argv[1] = NULL;
	text = pfc_run(argv);
	if (!text) {
		pfc_x_add(&x->r, "firewall", PFC_X_WARN, NULL,
			  "%s tables are loaded (%s), which nft does not show, and %s-save cannot "
			  "list them here",
			  tool, names, tool);
		return 1;
	}
	bport = pf_sa_port(&f->be[b].addr) ? pf_sa_port(&f->be[b].addr) : f->port_lo;
	snprintf(acc_in, sizeof(acc_in), "-p %s --dport %u", l4 == IPPROTO_TCP ? "tcp" : "udp",
		 f->port_lo);
	snprintf(acc_be, sizeof(acc_be), "-p %s --dport %u", l4 == IPPROTO_TCP ? "tcp" : "udp",
		 bport);
	if (f->kernel) {
		q[0] = (struct pfc_xlegacy){ .tool = tool, .what = "arriving", .where = k_pre,
					     .l4 = l4, .dport = f->port_lo, .accept = acc_in };
		q[1] = (struct pfc_xlegacy){ .tool = tool, .what = "forwarded", .where = k_fwd,
					     .l4 = l4, .dport = bport, .dnat = true,
					     .accept = "-m conntrack --ctstate DNAT" };
	} else {
		q[0] = (struct pfc_xlegacy){ .tool = tool, .what = "arriving", .where = u_in,
					     .l4 = l4, .dport = f->port_lo, .nat_check = true,
					     .accept = acc_in };
		q[1] = (struct pfc_xlegacy){ .tool = tool, .what = "outgoing (to the backend)",
					     .where = u_out, .l4 = l4, .dport = bport,
					     .nat_check = true, .accept = acc_be };
	}
	n = pfc_xlegacy_scan(text, &q[0], &x->r) + pfc_xlegacy_scan(text, &q[1], &x->r);
	free(text);
	return n;
}

static bool pfc_has_helper(json_t *rs, const char *name)
{
	json_t *it, *items = json_object_get(rs, "nftables");
	size_t i;

	json_array_foreach(items, i, it)
	{
		json_t *h = json_object_get(it, "ct helper");
		const char *fam = json_string_value(json_object_get(h, "family"));
		const char *tab = json_string_value(json_object_get(h, "table"));
		const char *nm = json_string_value(json_object_get(h, "name"));

		if (fam && tab && nm && !strcmp(fam, "inet") && !strcmp(tab, "portfw") &&
		    !strcmp(nm, name))
			return true;
	}
	return false;
}

static void pfc_ftp(struct pfc_xctx *x, json_t *rs)
{
	const struct pfc_xfwd *f = &x->f;
	bool p21 = f->tcp && f->port_lo <= 21 && f->port_hi >= 21;

	if (!f->kernel || (!f->ftp && !p21)) {
		pfc_x_add(&x->r, "ftp", PFC_X_SKIP, NULL,
			  f->kernel ? "the forward has no 'ftp' option"
				    : "the user engine carries FTP without a kernel helper");
		return;
	}
	if (!pfc_sys_module("nf_conntrack_ftp")) {
		pfc_x_add(&x->r, "ftp", PFC_X_FAIL, "modprobe nf_conntrack_ftp",
			  "the kernel's FTP helper (nf_conntrack_ftp) is not loaded: data "
			  "connections are not forwarded");
		return;
	}
	if (rs && !pfc_has_helper(rs, "ftp-fwd")) {
		pfc_x_add(&x->r, "ftp", PFC_X_FAIL, "portfw reload",
			  "table inet portfw has no ct helper ftp-fwd: data connections are not "
			  "forwarded");
		return;
	}
	pfc_x_add(&x->r, "ftp", PFC_X_OK, NULL,
		  "nf_conntrack_ftp is loaded%s", rs ? " and table inet portfw has its helper" : "");
}

void pfc_xnft_checks(struct pfc_xctx *x)
{
	json_t *rs = pfc_ruleset(x);
	size_t n = 0;

	if (rs)
		n = pfc_firewall(x, rs);
	n += pfc_legacy(x);
	if (rs && !n)
		pfc_x_add(&x->r, "firewall", PFC_X_OK, NULL,
			  "no other table drops or redirects the flow's packets");
	pfc_ftp(x, rs);
	json_decref(rs);
}
