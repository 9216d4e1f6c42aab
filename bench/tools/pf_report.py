#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""pf_report: turns the samples of bench/run.sh into the result files.

    pf_report.py --csv SAMPLES --versions TSV --failures TXT --json OUT
                 --notes TXT --md OUT [--setting KEY=VALUE ...]

SAMPLES: run,forwarder,metric,value (one line per measurement). For every
forwarder and metric: the median of the runs (and min, max, every sample).
Prints the Markdown report (also written to --md); --json gets everything.
Ratios are figure / reference (direct or haproxy) whatever the direction, so
"0.5x haproxy" is half haproxy's figure: better for memory, worse for
throughput.
"""
import argparse
import csv
import json
import statistics
import sys

# (title, rows, [(metric, column title, decimals, references)]): rows names the
# setting that lists the table's forwarders ('forwarders', 'udp_forwarders')
# or 'sched' (portfwd's scheduler rows) or 'status' (with and without it). A table none of whose metrics was
# measured is left out.
SCHED_ROWS = ["portfwd/1", "portfwd/proxy2", "portfwd/wrr4", "portfwd/leastconn4"]
STATUS_ROWS = ["portfwd/nostatus", "portfwd/status"]
GROUPS = [
    (
        "Throughput and rates (higher is better)",
        "forwarders",
        [
            ("bulk1_gbps", "iperf3 1 stream, Gbit/s", 2, ("direct", "haproxy")),
            ("bulk4_gbps", "iperf3 4 streams, Gbit/s", 2, ("direct", "haproxy")),
            ("cps", "new conn/s (HTTP, Connection: close)", 0, ("direct", "haproxy")),
            ("rps", "keep-alive req/s (HTTP)", 0, ("direct", "haproxy")),
        ],
    ),
    (
        "Latency: 64-byte ping-pong over one connection, microseconds (lower is better)",
        "forwarders",
        [
            ("lat_p50_us", "p50 us", 1, ("direct", "haproxy")),
            ("lat_p99_us", "p99 us", 1, ("direct", "haproxy")),
        ],
    ),
    (
        "Cost in the forwarder's processes (lower is better; none for direct)",
        "forwarders",
        [
            ("idle_rss_kb", "RSS KiB / idle conn", 2, ("haproxy",)),
            ("idle_pss_kb", "PSS KiB / idle conn", 2, ("haproxy",)),
            ("idle_fds", "fds / idle conn", 2, ("haproxy",)),
            ("bulk1_cpu_s_per_gib", "CPU s / GiB (1 stream)", 3, ("haproxy",)),
            ("cps_cpu_s_per_10k", "CPU s / 10k conns", 3, ("haproxy",)),
        ],
    ),
    (
        "UDP: round trips per second (higher is better) and their latency",
        "udp_forwarders",
        [
            ("udp_rr", "1 client, sequential round trips/s (one CPU)", 0, ("direct", "nginx")),
            ("udp_rr_p50_us", "its p50 us", 1, ("direct", "nginx")),
            ("udp_rr_p99_us", "its p99 us", 1, ("direct", "nginx")),
            ("udp_many", "many clients, round trips/s", 0, ("direct", "nginx")),
            ("udp_many_lost", "lost", 0, ()),
            ("udp_many_cpu_s_per_m", "CPU s / M round trips", 2, ("nginx",)),
        ],
    ),
    (
        "Schedulers and proxy-protocol v2: new conn/s through one forward to 1 and to 4 backends "
        "(higher is better)",
        "sched",
        [
            ("sched_cps", "new conn/s (HTTP, Connection: close)", 0, ("portfwd/1",)),
            ("sched_cps_cpu_s_per_10k", "CPU s / 10k conns", 3, ("portfwd/1",)),
            ("sched_max_share", "busiest backend's share, %", 1, ()),
        ],
    ),
    (
        "The status server: new conn/s through one forward without 'status', and with it and "
        "/metrics scraped every second (higher is better)",
        "status",
        [
            ("status_cps", "new conn/s (HTTP, Connection: close)", 0, ("portfwd/nostatus",)),
            ("status_cps_cpu_s_per_10k", "CPU s / 10k conns", 3, ("portfwd/nostatus",)),
            ("status_cps_ratio", "with / without, same run", 3, ()),
        ],
    ),
]
NOISY = 0.20  # spread (max - min) / median above which a figure is flagged


def fmt(v, dec):
    if v is None:
        return "n/a"
    if dec == 0:
        return f"{v:,.0f}"
    return f"{v:.{dec}f}"


def fmt_ratio(r):
    if r is None:
        return None
    return f"{r:.2f}x" if abs(r) < 10 else f"{r:.1f}x"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True)
    ap.add_argument("--versions", required=True)
    ap.add_argument("--failures", required=True)
    ap.add_argument("--notes", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--setting", action="append", default=[])
    a = ap.parse_args()

    settings = dict(s.split("=", 1) for s in a.setting)
    versions = {}
    with open(a.versions) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            versions[k] = v
    with open(a.failures) as f:
        failures = [line.rstrip("\n") for line in f if line.strip()]
    with open(a.notes) as f:
        notes = [line.rstrip("\n") for line in f if line.strip()]

    samples = {}  # fwd -> metric -> [values]
    order = []
    with open(a.csv) as f:
        for row in csv.DictReader(f):
            fwd = row["forwarder"]
            if fwd not in samples:
                samples[fwd] = {}
                order.append(fwd)
            samples[fwd].setdefault(row["metric"], []).append(float(row["value"]))
    forwarders = settings.get("forwarders", "").split() or order
    rowsets = {
        "forwarders": forwarders,
        "udp_forwarders": settings.get("udp_forwarders", "").split(),
        "sched": SCHED_ROWS,
        "status": STATUS_ROWS,
    }
    # Forwarders that produced nothing still get a row.
    for fwd in [f for rows in rowsets.values() for f in rows]:
        samples.setdefault(fwd, {})

    stats = {}
    for fwd, ms in samples.items():
        stats[fwd] = {}
        for m, vals in ms.items():
            stats[fwd][m] = {
                "median": statistics.median(vals),
                "min": min(vals),
                "max": max(vals),
                "samples": vals,
            }

    def med(fwd, m):
        s = stats.get(fwd, {}).get(m)
        return s["median"] if s else None

    out = []
    runs = settings.get("runs", "?")
    out.append(f"## Results ({settings.get('mode', '?')} mode: median of {runs} run(s), "
               f"{settings.get('seconds', '?')} s per load test, "
               f"{settings.get('idle_conns', '?')} idle connections)")
    out.append("")
    out.append("Each cell: the figure (ratio to direct, ratio to haproxy); "
               "ratio = figure / reference.")
    for title, rowkey, cols in GROUPS:
        rows = rowsets[rowkey]
        if not any(med(f, c[0]) is not None for f in rows for c in cols):
            continue
        out.append("")
        out.append(f"### {title}")
        out.append("")
        out.append("| forwarder | " + " | ".join(c[1] for c in cols) + " |")
        out.append("|---|" + "---:|" * len(cols))
        for fwd in rows:
            cells = []
            for m, _, dec, refs in cols:
                v = med(fwd, m)
                if v is None:
                    cells.append("—" if fwd == "direct" and "direct" not in refs else "n/a")
                    continue
                rs = []
                for ref in refs:
                    if ref == fwd:
                        continue
                    rv = med(ref, m)
                    if rv:
                        rs.append(f"{fmt_ratio(v / rv)} {ref}")
                cells.append(fmt(v, dec) + (f" ({', '.join(rs)})" if rs else ""))
            out.append(f"| {fwd} | " + " | ".join(cells) + " |")

    noisy = []
    for fwd in stats:
        for m, s in stats[fwd].items():
            if len(s["samples"]) > 1 and s["median"] and m in {c[0] for g in GROUPS for c in g[2]}:
                spread = (s["max"] - s["min"]) / abs(s["median"])
                if spread > NOISY:
                    noisy.append(f"{fwd} {m} {spread * 100:.0f}%")
    errs = []
    for fwd in stats:
        for m in ("cps_errors", "rps_errors", "sched_cps_errors", "status_cps_errors"):
            s = stats[fwd].get(m)
            if s and s["max"] > 0:
                errs.append(f"{fwd} {m[:-len('_errors')]} {int(sum(s['samples']))}")
    procs = []
    for fwd in forwarders:
        p, t = med(fwd, "idle_procs"), med(fwd, "idle_threads")
        if p is not None:
            procs.append(f"{fwd} {p:.0f}/{t:.0f}")
    out.append("")
    if procs:
        out.append("- Processes/threads of each forwarder while holding the idle connections: "
                   + ", ".join(procs) + ".")
    if noisy:
        out.append(f"- Noisy (max-min spread over {NOISY * 100:.0f}% of the median): "
                   + ", ".join(noisy) + ".")
    if errs:
        out.append("- wrk socket errors or non-2xx responses (all runs): " + ", ".join(errs) + ".")
    for n in notes:
        out.append(f"- Note: {n}.")
    for fl in failures:
        out.append(f"- FAILED: {fl}")
    out.append("- Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))

    md = "\n".join(out) + "\n"
    vers = "## Versions\n\n" + "".join(f"- {k}: {v}\n" for k, v in versions.items())
    with open(a.md, "w") as f:
        f.write(md + "\n" + vers)
    with open(a.json, "w") as f:
        json.dump({"settings": settings, "versions": versions, "failures": failures, "notes": notes,
                   "results": stats}, f, indent=1, sort_keys=True)
        f.write("\n")
    sys.stdout.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
