#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""pf_greport: turns the samples of bench/gateway.sh into the result files.

    pf_greport.py --csv SAMPLES --versions TSV --failures TXT --json OUT --md OUT
                  [--setting KEY=VALUE ...]

SAMPLES: run,setup,metric,value. Every figure is given as a ratio to plain
routing's ("route") figure of the same run: the median of those per-run
ratios, and their range (min-max), so that a reader sees whether two rows
differ by more than the runs scatter. Prints the Markdown report (also
written to --md); --json gets everything.
"""
import argparse
import csv
import json
import statistics
import sys

METRICS = [("bulk1", "1 stream"), ("bulk4", "4 streams"), ("cps", "new conn/s")]
PEERS = ["haproxy", "haproxy-auto", "nginx", "socat"]
# The same with each one's own tuning (pinned threads, accept on data).
TUNED = ["haproxy-tuned", "nginx-tuned"]


def per_run(rows, setup, metric):
    """{run: value} of one setup's metric."""
    return {r: v for (r, s, m), v in rows.items() if s == setup and m == metric}


def ratios(rows, setup, ref, metric):
    """The per-run ratios setup / ref (runs where both were measured)."""
    a, b = per_run(rows, setup, metric), per_run(rows, ref, metric)
    return [a[r] / b[r] for r in sorted(a) if r in b and b[r]]


def summary(vals):
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "samples": vals}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True)
    ap.add_argument("--versions", required=True)
    ap.add_argument("--failures", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--setting", action="append", default=[])
    a = ap.parse_args()

    rows = {}
    order = []
    with open(a.csv) as fp:
        for row in csv.DictReader(fp):
            s = row["setup"]
            if s not in order:
                order.append(s)
            rows[(int(row["run"]), s, row["metric"])] = float(row["value"])
    versions = []
    with open(a.versions) as fp:
        for line in fp:
            k, _, v = line.rstrip("\n").partition("\t")
            versions.append((k, v))
    settings = dict(kv.split("=", 1) for kv in a.setting)
    with open(a.failures) as fp:
        failures = [line.rstrip("\n") for line in fp if line.strip()]

    scale = settings.get("scale", "")
    names = {
        "route": "plain routing",
        "nft": "nft: 1 hand-written DNAT rule",
        "kernel": "portfw kernel engine",
        f"kernel-{scale}": f"portfw kernel engine, 1 of {int(scale):,} forwards" if scale else "",
        "kernel-none": "portfw kernel engine, -E none (no live counters)",
        f"kernel-none-{scale}": f"portfw kernel engine, -E none, 1 of {int(scale):,} forwards"
        if scale else "",
        "user": "portfw user engine",
        "haproxy": "haproxy (splice both ways)",
        "haproxy-auto": "haproxy (splice-auto)",
        "nginx": "nginx stream",
        "socat": "socat (fork per connection)",
        "user-tuned": "portfw user engine, tuned (-a, defer-accept)",
        "haproxy-tuned": "haproxy, tuned (cpu-map, defer-accept)",
        "nginx-tuned": "nginx stream, tuned (worker_cpu_affinity)",
    }
    rowsets = [s for s in names if s in order] + [s for s in order if s not in names]

    stats = {}
    for s in rowsets:
        stats[s] = {}
        for m, _ in METRICS:
            v = list(per_run(rows, s, m).values())
            stats[s][m] = {"value": summary(v), "x_route": summary(ratios(rows, s, "route", m))}
        ld = list(per_run(rows, s, "load_ms").values())
        if ld:
            stats[s]["load_ms"] = {"value": summary(ld)}

    def cell(s, m):
        st = stats[s][m]
        v, r = st["value"], st["x_route"]
        if v is None:
            return "n/a", "n/a"
        val = f"{v['median']:,.0f}" if m == "cps" else f"{v['median']:.2f}"
        if r is None:
            return val, "n/a"
        if s == "route":
            return val, "1"
        return val, f"**{r['median']:.2f}** ({r['min']:.2f}-{r['max']:.2f})"

    out = []
    p = out.append
    p(f"## Gateway benchmark ({settings.get('mode', '?')}: {settings.get('runs', '?')} run(s), "
      f"{settings.get('seconds', '?')} s per test)")
    p("")
    p("Client -> gateway -> server, three network namespaces joined by veth pairs; every "
      "forwarder runs on the gateway. Throughput in Gbit/s, connection rate in new "
      "connections per second: medians over the runs. Ratios: to plain routing's figure "
      "of the same run, median over the runs (in brackets: the lowest and the highest "
      "of those per-run ratios).")
    p("")
    hdr = "| setup |"
    sep = "|---|"
    for _, t in METRICS:
        hdr += f" {t} | x routing |"
        sep += "---:|---:|"
    p(hdr)
    p(sep)
    for s in rowsets:
        cells = []
        for m, _ in METRICS:
            cells.extend(cell(s, m))
        p(f"| {names.get(s, s)} | " + " | ".join(cells) + " |")
    p("")

    # Issue 15's targets, on the ratios of the same run.
    tg = []

    def med_ratio(s, ref, m):
        r = ratios(rows, s, ref, m)
        return (statistics.median(r), min(r), max(r)) if r else None

    for k in [s for s in ("kernel", f"kernel-{scale}", "kernel-none", f"kernel-none-{scale}")
              if s in stats]:
        parts, ok = [], True
        for m, t in METRICS:
            r = med_ratio(k, "nft", m)
            if r is None:
                ok = None
                break
            parts.append(f"{t} {r[0]:.2f}x ({r[1]:.2f}-{r[2]:.2f})")
            ok = ok and r[0] >= 0.95
        if ok is not None:
            tg.append(f"- {names[k]} >= 0.95x the hand-written nft rule on every figure: "
                      + ", ".join(parts) + (": **met**" if ok else ": **missed**"))
    for user, group, what in (("user", PEERS, "user-space peer"),
                              ("user-tuned", TUNED, "tuned user-space peer")):
        peers = [s for s in group if s in stats]
        if user not in stats or not peers:
            continue
        for m, t, want in (("cps", "connection rate", 1.2), ("bulk1", "1-stream throughput", 1.5),
                           ("bulk4", "4-stream throughput", 1.5)):
            best = max(peers, key=lambda s: (stats[s][m]["x_route"] or {}).get("median", 0))
            r = med_ratio(user, best, m)
            if r is not None:
                tg.append(f"- {names[user]} >= {want}x the best {what}'s {t} ({best}): "
                          f"{r[0]:.2f}x ({r[1]:.2f}-{r[2]:.2f}): "
                          + ("**met**" if r[0] >= want else "**missed**"))
    if tg:
        p("### Targets (issue 15)")
        p("")
        p("Ratios of the same run, median over the runs (lowest-highest).")
        p("")
        out.extend(tg)
        p("")
    loads = [f"{names.get(s, s)}: {stats[s]['load_ms']['value']['median'] / 1000:.2f} s"
             for s in rowsets if "load_ms" in stats[s]]
    if loads:
        p("Load time (start to running, median): " + "; ".join(loads) + ".")
        p("")
    errs = []
    for s in rowsets:
        n = sum(v for (r, s2, m), v in rows.items() if s2 == s and m == "cps_errors")
        if n:
            errs.append(f"{s} {int(n)}")
    if errs:
        p("wrk socket errors / non-2xx (all runs): " + ", ".join(errs) + ".")
        p("")
    if failures:
        p("Failed measurements:")
        p("")
        out.extend(f"- {f}" for f in failures)
        p("")
    p("Versions: " + "; ".join(f"{k} {v}" for k, v in versions) + ".")
    md = "\n".join(out) + "\n"
    sys.stdout.write(md)
    with open(a.md, "w") as fp:
        fp.write(md)
    with open(a.json, "w") as fp:
        json.dump({"settings": settings, "versions": dict(versions), "failures": failures,
                   "names": {s: names.get(s, s) for s in rowsets}, "stats": stats}, fp, indent=1)
        fp.write("\n")


if __name__ == "__main__":
    main()
