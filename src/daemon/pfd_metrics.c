// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * GET /metrics: the running table's counters in the Prometheus text format
 * (version 0.0.4). Names follow Prometheus' conventions: counters end in
 * _total, sizes are _bytes, times _seconds. Every forward of either engine
 * is read the same way, from its struct pf_stats, so a kernel forward has
 * the names of a user one. Built on the main thread, which owns the table;
 * the workers only add to the atomics meanwhile.
 *
 * A forward is labelled forward (its name, or "PROTO LISTEN" when it has
 * none: unique in a valid table), proto, listen and engine; a backend by
 * forward and backend (as written in the config).
 */
#include "pfd.h"
#include "pfd_http.h"
#include "../common/pf_buf.h"
#include "../common/pf_flowlog.h"
#include "../common/pf_util.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Label values: '\', '"' and newlines escaped, as the format says. */
static void pfd_m_escape(char *out, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

#define PFD_LABEL_MAX (2 * (PF_HOST_MAX + 64) + 8)
#define PFD_LABELS_MAX (4 * PFD_LABEL_MAX)

static void pfd_m_fwd_name(const struct pf_forward *f, char *buf, size_t len)
{
	char l[PF_HOST_MAX + 32];

	if (f->conf.name[0]) {
		pf_strlcpy(buf, f->conf.name, len);
		return;
	}
	pf_listen_format(f, l, sizeof(l));
	snprintf(buf, len, "%s %s", pf_proto_name(f->conf.protos), l);
}

static void pfd_m_fwd_labels(const struct pf_forward *f, char *buf, size_t len)
{
	char raw[PF_HOST_MAX + 96], name[PFD_LABEL_MAX], listen[PFD_LABEL_MAX];

	pfd_m_fwd_name(f, raw, sizeof(raw));
	pfd_m_escape(name, sizeof(name), raw);
	pf_listen_format(f, raw, sizeof(raw));
	pfd_m_escape(listen, sizeof(listen), raw);
	snprintf(buf, len, "forward=\"%s\",proto=\"%s\",listen=\"%s\",engine=\"%s\"", name,
		 pf_proto_name(f->conf.protos), listen,
		 pf_forward_engine(f) == PF_ENGINE_KERNEL ? "kernel" : "user");
}

static void pfd_m_be_labels(const struct pf_forward *f, const struct pf_backend *be, char *buf,
			    size_t len)
{
	char raw[PF_HOST_MAX + 96], name[PFD_LABEL_MAX], addr[PFD_LABEL_MAX];

	pfd_m_fwd_name(f, raw, sizeof(raw));
	pfd_m_escape(name, sizeof(name), raw);
	pf_backend_format(be, raw, sizeof(raw));
	pfd_m_escape(addr, sizeof(addr), raw);
	if (!pf_host_is_name(be->conf.host)) {
		snprintf(buf, len, "forward=\"%s\",backend=\"%s\"", name, addr);
		return;
	}
	/* A name: its address now, which also tells apart the backends
	 * of one line under 'resolve all'. */
	pf_sa_format(&be->addr, false, raw, sizeof(raw));
	snprintf(buf, len, "forward=\"%s\",backend=\"%s\",addr=\"%s\"", name, addr, raw);
}

static void pfd_m_head(struct pf_buf *b, const char *name, const char *type, const char *help)
{
	pf_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t pfd_m_get(const struct pf_stats *st, size_t off)
{
	return atomic_load_explicit((const _Atomic uint64_t *)((const char *)st + off),
				    memory_order_relaxed);
}

/* The families read straight from a forward's counters. */
static const struct {
	const char *name, *type, *help;
	size_t off;
} pfd_m_fwd[] = {
	{ "portfw_forward_connections_total", "counter",
	  "Flows accepted by the forward (TCP connections, UDP sessions).",
	  offsetof(struct pf_stats, conns) },
	{ "portfw_forward_active_flows", "gauge", "Flows of the forward open now.",
	  offsetof(struct pf_stats, active) },
	{ "portfw_forward_refused_total", "counter",
	  "Clients dropped: no backend, maxconn, max-sessions, a limit per source or the ACL.",
	  offsetof(struct pf_stats, refused) },
	{ "portfw_forward_denied_total", "counter",
	  "Clients refused by the ACL (allow/deny), also counted as refused.",
	  offsetof(struct pf_stats, denied) },
	{ "portfw_forward_proxy_errors_total", "counter",
	  "Clients of accept-proxy that sent no valid PROXY header in time.",
	  offsetof(struct pf_stats, proxy_errors) },
};

static const struct {
	const char *name, *type, *help;
	size_t off;
} pfd_m_be[] = {
	{ "portfw_backend_connections_total", "counter", "Flows connected to the backend.",
	  offsetof(struct pf_stats, conns) },
	{ "portfw_backend_active_flows", "gauge", "Flows of the backend open now.",
	  offsetof(struct pf_stats, active) },
	{ "portfw_backend_failed_total", "counter",
	  "Connects to the backend that failed (refused, timed out).",
	  offsetof(struct pf_stats, failed) },
	{ "portfw_backend_health_check_failures_total", "counter",
	  "Active health checks of the backend that failed.",
	  offsetof(struct pf_stats, checks_failed) },
};

static void pfd_m_process(struct pf_buf *b, const struct pf_table *t)
{
	const struct pfd_reloads *r = pfd_table_reloads();

	pfd_m_head(b, "portfw_build_info", "gauge", "The running portfwd's version (always 1).");
	pf_buf_printf(b, "portfw_build_info{version=\"%s\"} 1\n", PORTFW_VERSION);
	pfd_m_head(b, "portfw_start_time_seconds", "gauge",
		   "When portfwd started, in seconds since the epoch.");
	pf_buf_printf(b, "portfw_start_time_seconds %.3f\n", (double)pfd_start_ms / 1000.0);
	pfd_m_head(b, "portfw_table_info", "gauge",
		   "The running table's digest, as portfw ha-check computes it (always 1).");
	pf_buf_printf(b, "portfw_table_info{digest=\"%s\"} 1\n", pfd_table_digest());
	pfd_m_head(b, "portfw_forwards", "gauge", "Forwards in the running table.");
	pf_buf_printf(b, "portfw_forwards %zu\n", t->n);
	pfd_m_head(b, "portfw_reloads_total", "counter",
		   "Loads of the config file (start, SIGHUP, portfw reload), refused ones too.");
	pf_buf_printf(b, "portfw_reloads_total %llu\n", (unsigned long long)r->count);
	pfd_m_head(b, "portfw_reload_failures_total", "counter",
		   "Loads of the config file that were refused (the old table stayed).");
	pf_buf_printf(b, "portfw_reload_failures_total %llu\n", (unsigned long long)r->failed);
	pfd_m_head(b, "portfw_last_reload_success", "gauge",
		   "Whether the last load of the config file was installed (1) or refused (0).");
	pf_buf_printf(b, "portfw_last_reload_success %d\n", r->last_ok ? 1 : 0);
	pfd_m_head(b, "portfw_last_reload_timestamp_seconds", "gauge",
		   "When the config file was last loaded, in seconds since the epoch.");
	pf_buf_printf(b, "portfw_last_reload_timestamp_seconds %.3f\n",
		      (double)r->last_ms / 1000.0);
	pfd_m_head(b, "portfw_flowlog_lines_total", "counter",
		   "Flow log lines written to standard error.");
	pf_buf_printf(b, "portfw_flowlog_lines_total %llu\n",
		      (unsigned long long)pf_flowlog_written());
	pfd_m_head(b, "portfw_flowlog_dropped_total", "counter",
		   "Flow log lines dropped because the log's reader fell behind.");
	pf_buf_printf(b, "portfw_flowlog_dropped_total %llu\n",
		      (unsigned long long)pf_flowlog_dropped());
}

/* A series an engine does not count (pfd_counts_totals) is left out, not
 * shown as 0: a rate of it would read as no traffic. */
static bool pfd_m_counted(const struct pf_forward *f, size_t off)
{
	return off != offsetof(struct pf_stats, conns) || pfd_counts_totals(f);
}

static void pfd_m_forwards(struct pf_buf *b, const struct pf_table *t)
{
	char lab[PFD_LABELS_MAX];
	size_t i, k;
	uint32_t j;

	for (k = 0; k < PF_ARRAY_SIZE(pfd_m_fwd); k++) {
		pfd_m_head(b, pfd_m_fwd[k].name, pfd_m_fwd[k].type, pfd_m_fwd[k].help);
		for (i = 0; i < t->n; i++) {
			if (!pfd_m_counted(t->fwd[i], pfd_m_fwd[k].off))
				continue;
			pfd_m_fwd_labels(t->fwd[i], lab, sizeof(lab));
			pf_buf_printf(b, "%s{%s} %llu\n", pfd_m_fwd[k].name, lab,
				      (unsigned long long)pfd_m_get(t->fwd[i]->st, pfd_m_fwd[k].off));
		}
	}
	pfd_m_head(b, "portfw_forward_bytes_total", "counter",
		   "Bytes relayed by the forward: up is client to backend, down backend to client.");
	for (i = 0; i < t->n; i++) {
		const struct pf_stats *st = t->fwd[i]->st;

		if (!pfd_counts_totals(t->fwd[i]))
			continue;
		pfd_m_fwd_labels(t->fwd[i], lab, sizeof(lab));
		pf_buf_printf(b, "portfw_forward_bytes_total{%s,direction=\"up\"} %llu\n", lab,
			      (unsigned long long)atomic_load(&st->bytes_up));
		pf_buf_printf(b, "portfw_forward_bytes_total{%s,direction=\"down\"} %llu\n", lab,
			      (unsigned long long)atomic_load(&st->bytes_down));
	}
	/* The engines count failed connects per backend: the forward's is
	 * their sum. */
	pfd_m_head(b, "portfw_forward_failed_total", "counter",
		   "Connects to the forward's backends that failed (refused, timed out).");
	for (i = 0; i < t->n; i++) {
		uint64_t sum = 0;

		for (j = 0; j < t->fwd[i]->nbe; j++)
			sum += atomic_load(&t->fwd[i]->be[j].st->failed);
		pfd_m_fwd_labels(t->fwd[i], lab, sizeof(lab));
		pf_buf_printf(b, "portfw_forward_failed_total{%s} %llu\n", lab,
			      (unsigned long long)sum);
	}
	/* A UDP forward's flows are its sessions; a tcp,udp forward counts
	 * both together, so only UDP-only ones are shown here. */
	pfd_m_head(b, "portfw_forward_udp_sessions", "gauge",
		   "UDP sessions of a UDP forward open now.");
	for (i = 0; i < t->n; i++) {
		if (t->fwd[i]->conf.protos != PF_PROTO_UDP)
			continue;
		pfd_m_fwd_labels(t->fwd[i], lab, sizeof(lab));
		pf_buf_printf(b, "portfw_forward_udp_sessions{%s} %llu\n", lab,
			      (unsigned long long)atomic_load(&t->fwd[i]->st->active));
	}
	pfd_m_head(b, "portfw_forward_udp_sessions_limit", "gauge",
		   "The most UDP sessions a UDP forward keeps (max-sessions).");
	for (i = 0; i < t->n; i++) {
		if (t->fwd[i]->conf.protos != PF_PROTO_UDP)
			continue;
		pfd_m_fwd_labels(t->fwd[i], lab, sizeof(lab));
		pf_buf_printf(b, "portfw_forward_udp_sessions_limit{%s} %u\n", lab,
			      t->fwd[i]->conf.o.max_sessions);
	}
}

static void pfd_m_hist(struct pf_buf *b, const struct pf_stats *st, const char *lab)
{
	uint64_t cum = 0;
	unsigned k;

	for (k = 0; k < PF_CONNECT_BUCKETS; k++) {
		cum += atomic_load_explicit(&st->connect_hist[k], memory_order_relaxed);
		pf_buf_printf(b, "portfw_backend_connect_seconds_bucket{%s,le=\"%g\"} %llu\n", lab,
			      (double)pf_connect_bucket_us[k] / 1e6, (unsigned long long)cum);
	}
	cum += atomic_load_explicit(&st->connect_hist[k], memory_order_relaxed);
	pf_buf_printf(b, "portfw_backend_connect_seconds_bucket{%s,le=\"+Inf\"} %llu\n", lab,
		      (unsigned long long)cum);
	pf_buf_printf(b, "portfw_backend_connect_seconds_sum{%s} %.6f\n", lab,
		      (double)atomic_load(&st->connect_us_sum) / 1e6);
	pf_buf_printf(b, "portfw_backend_connect_seconds_count{%s} %llu\n", lab,
		      (unsigned long long)cum);
}

static void pfd_m_backends(struct pf_buf *b, const struct pf_table *t)
{
	static const uint8_t admins[] = { PF_ADMIN_ENABLED, PF_ADMIN_DRAIN, PF_ADMIN_DISABLED };
	char lab[PFD_LABELS_MAX];
	size_t i, k;
	uint32_t j;

	for (k = 0; k < PF_ARRAY_SIZE(pfd_m_be); k++) {
		pfd_m_head(b, pfd_m_be[k].name, pfd_m_be[k].type, pfd_m_be[k].help);
		for (i = 0; i < t->n; i++)
			for (j = 0; j < t->fwd[i]->nbe; j++) {
				const struct pf_backend *be = &t->fwd[i]->be[j];

				if (!pfd_m_counted(t->fwd[i], pfd_m_be[k].off))
					continue;
				pfd_m_be_labels(t->fwd[i], be, lab, sizeof(lab));
				pf_buf_printf(b, "%s{%s} %llu\n", pfd_m_be[k].name, lab,
					      (unsigned long long)pfd_m_get(be->st, pfd_m_be[k].off));
			}
	}
	pfd_m_head(b, "portfw_backend_bytes_total", "counter",
		   "Bytes relayed through the backend: up is client to backend, down backend to "
		   "client.");
	for (i = 0; i < t->n; i++)
		for (j = 0; j < t->fwd[i]->nbe && pfd_counts_totals(t->fwd[i]); j++) {
			const struct pf_backend *be = &t->fwd[i]->be[j];

			pfd_m_be_labels(t->fwd[i], be, lab, sizeof(lab));
			pf_buf_printf(b, "portfw_backend_bytes_total{%s,direction=\"up\"} %llu\n", lab,
				      (unsigned long long)atomic_load(&be->st->bytes_up));
			pf_buf_printf(b, "portfw_backend_bytes_total{%s,direction=\"down\"} %llu\n",
				      lab, (unsigned long long)atomic_load(&be->st->bytes_down));
		}
	pfd_m_head(b, "portfw_backend_up", "gauge",
		   "Whether the backend's health (checks, agent) is up (1) or down (0).");
	for (i = 0; i < t->n; i++)
		for (j = 0; j < t->fwd[i]->nbe; j++) {
			const struct pf_backend *be = &t->fwd[i]->be[j];
			bool up = atomic_load(&be->st->health) != PF_HEALTH_DOWN &&
				  atomic_load(&be->st->agent) != PF_AGENT_DOWN;

			pfd_m_be_labels(t->fwd[i], be, lab, sizeof(lab));
			pf_buf_printf(b, "portfw_backend_up{%s} %d\n", lab, up ? 1 : 0);
		}
	pfd_m_head(b, "portfw_backend_admin_state", "gauge",
		   "The backend's admin state: 1 for the one it is in (enabled, drain, disabled).");
	for (i = 0; i < t->n; i++)
		for (j = 0; j < t->fwd[i]->nbe; j++) {
			const struct pf_backend *be = &t->fwd[i]->be[j];

			pfd_m_be_labels(t->fwd[i], be, lab, sizeof(lab));
			for (k = 0; k < PF_ARRAY_SIZE(admins); k++)
				pf_buf_printf(b, "portfw_backend_admin_state{%s,state=\"%s\"} %d\n",
					      lab, pf_admin_name(admins[k]),
					      be->conf.admin == admins[k] ? 1 : 0);
		}
	pfd_m_head(b, "portfw_backend_backup", "gauge",
		   "Whether the backend is a backup (1), used only while no primary is.");
	for (i = 0; i < t->n; i++)
		for (j = 0; j < t->fwd[i]->nbe; j++) {
			const struct pf_backend *be = &t->fwd[i]->be[j];

			pfd_m_be_labels(t->fwd[i], be, lab, sizeof(lab));
			pf_buf_printf(b, "portfw_backend_backup{%s} %d\n", lab, be->conf.backup ? 1 : 0);
		}
	pfd_m_head(b, "portfw_backend_connect_seconds", "histogram",
		   "Time to connect to the backend (user engine, TCP).");
	for (i = 0; i < t->n; i++)
		for (j = 0; j < t->fwd[i]->nbe; j++) {
			const struct pf_backend *be = &t->fwd[i]->be[j];

			pfd_m_be_labels(t->fwd[i], be, lab, sizeof(lab));
			pfd_m_hist(b, be->st, lab);
		}
}

char *pfd_metrics_text(const struct pf_table *t, size_t *len)
{
	struct pf_buf b = { 0 };

	pfd_engines_sample();
	pfd_m_process(&b, t);
	pfd_m_forwards(&b, t);
	pfd_m_backends(&b, t);
	return pf_buf_detach(&b, len);
}
