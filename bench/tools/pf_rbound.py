#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""relay-bound.sh's report: medians and ratios to routing, the CPU
breakdown of each profile, and the bound a relay without splice/pipe and
without its own syscall/user work could reach at the same busy CPU.

    pf_rbound.py WORKDIR SETUP...   (WORKDIR/samples.csv, perf-*.txt)
"""
import csv
import os
import re
import statistics
import sys

RELAY_COMMS = ("portfwd", "pfu", "haproxy", "sockmap-relay")
IDLE = re.compile(r"idle|safe_halt|mwait|poll_idle|^halt")
SPLICE = re.compile(r"splice|pipe|spd_")
PSOCK = re.compile(r"psock|sk_msg|tcp_bpf|bpf|sock_map|sock_hash|read_skb|strp_")
COPY = re.compile(r"copy_user|rep_movs|copy_to_iter|copy_from_iter|memcpy|rep_stos|clear_user")
NET = re.compile(
    r"tcp|^_*ip_|^_*ip_|ipv4|inet|skb|^_*sk_|sock|veth|net_rx|netif|napi|^_*dev_|^_*nf_|csum|"
    r"neigh|softirq|^_*net_|xmit|qdisc|pfifo|fib_|^_*rt_|dst_|page_pool|process_backlog|"
    r"rcv|_ack|sendmsg|recvmsg")
CATS = ("net", "splice", "relay", "psock", "copy", "other")
FRAME = re.compile(r"^\s+([0-9a-f]+)\s+(.*?)\s*$")
KERNEL_IP = 0xFFFF800000000000


def frame_cat(sym):
    for cat, rx in (("splice", SPLICE), ("psock", PSOCK), ("net", NET), ("copy", COPY)):
        if rx.search(sym):
            return cat
    return None


def classify(comm, stack):
    """One sample's category (None: idle) and whether its leaf is user space.
    STACK: (ip, sym) from the leaf outwards."""
    if not stack:
        return "other", False
    leaf_user = stack[0][0] < KERNEL_IP
    if comm.startswith("swapper") and IDLE.search(stack[0][1]):
        return None, False
    for ip, sym in stack:
        if ip < KERNEL_IP:
            break
        cat = frame_cat(sym)
        if cat:
            return cat, False
    if comm.startswith(RELAY_COMMS):
        # The rest of the relay's process: syscall entry/exit, epoll,
        # scheduling, file lookups, and all of its user space.
        return "relay", leaf_user
    return "other", False


def profile(path):
    """Shares (of busy samples) per category, and the relay's user share."""
    tot = dict.fromkeys(CATS, 0)
    user = 0
    try:
        f = open(path, errors="replace")
    except OSError:
        return None
    comm, stack = None, []

    def flush():
        nonlocal user
        if comm is None:
            return
        cat, is_user = classify(comm, stack)
        if cat:
            tot[cat] += 1
            user += is_user

    for ln in f:
        if not ln.strip():
            flush()
            comm, stack = None, []
            continue
        m = FRAME.match(ln)
        if m and comm is not None:
            stack.append((int(m.group(1), 16), m.group(2)))
        elif not ln[0].isspace() or comm is None:
            flush()
            comm, stack = ln.strip(), []
    flush()
    busy = sum(tot.values())
    if busy <= 0:
        return None
    shares = {k: v / busy for k, v in tot.items()}
    shares["relay_user"] = user / busy
    shares["samples"] = busy
    return shares


NCPU = os.cpu_count()


def main():
    wd, setups = sys.argv[1], sys.argv[2:]
    vals = {}
    with open(f"{wd}/samples.csv") as f:
        for row in csv.DictReader(f):
            vals.setdefault((row["setup"], row["metric"]), []).append(float(row["value"]))

    def med(s, m):
        v = vals.get((s, m))
        return statistics.median(v) if v else None

    def fmt(x, f="%.2f"):
        return "-" if x is None else f % x

    print("## Throughput and keep-alive requests, medians (ratios to route)\n")
    print("| setup | 1 stream Gbit/s | ratio | busy CPUs | 4 streams Gbit/s | ratio | busy CPUs "
          "| keep-alive req/s | ratio | n |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    r1, r4, rka = med("route", "bulk1"), med("route", "bulk4"), med("route", "ka")
    for s in setups:
        b1, b4, ka = med(s, "bulk1"), med(s, "bulk4"), med(s, "ka")
        n = len(vals.get((s, "bulk1"), []))
        print(f"| {s} | {fmt(b1)} | {fmt(b1 and r1 and b1 / r1)} | {fmt(med(s, 'cpu1'))} "
              f"| {fmt(b4)} | {fmt(b4 and r4 and b4 / r4)} | {fmt(med(s, 'cpu4'))} "
              f"| {fmt(ka, '%.0f')} | {fmt(ka and rka and ka / rka)} | {n} |")
    ku = med("user", "ka")
    for s in setups:
        ks = med(s, "ka")
        if s.startswith("sockmap") and ku and ks:
            print(f"\nkeep-alive: {s} / user = {ks / ku:.2f}")

    print("\n## CPU breakdown of the profiled runs (shares of busy samples)\n")
    print("(a) net: TCP/IP, skb, veth, softirq of every socket on the machine; (b) splice/pipe;"
          " (c) relay: the relay process's syscalls, epoll, scheduling and user space"
          " (user part in brackets); (d) psock: sockmap/BPF; copy: user<->kernel copies"
          " (the iperf3 endpoints'); other: the rest (endpoints' syscalls, scheduler, ...)\n")
    print("| setup | streams | (a) net | (b) splice | (c) relay [user] | (d) psock | copy | other "
          "| cost/Gbit if (b)+(c)=0, vs route | bound at same busy CPU | bound at all CPUs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rcost = {}
    for st in (1, 4):
        g, c = med("route", f"bulk{st}"), med("route", f"cpu{st}")
        rcost[st] = c / g if g and c else None
    for s in setups:
        for st in (1, 4):
            p = profile(f"{wd}/perf-{s}-{st}.txt")
            g, rg, c = med(s, f"bulk{st}"), med("route", f"bulk{st}"), med(s, f"cpu{st}")
            if not p or not g or not rg or not c:
                continue
            free = p["splice"] + p["relay"]
            # Busy CPUs per Gbit/s without (b) and (c); the relay's rate at
            # the same busy CPU, and at every CPU of the machine busy.
            cost = c / g * (1 - free)
            same = c / cost / rg
            full = NCPU / cost / rg
            print(f"| {s} | {st} | {p['net']:.0%} | {p['splice']:.0%} | {p['relay']:.0%} "
                  f"[{p['relay_user']:.0%}] | {p['psock']:.0%} | {p['copy']:.0%} | {p['other']:.0%} "
                  f"| {cost / rcost[st]:.2f} | {same:.2f} | {full:.2f} |")
    print(f"\n(bounds as ratios to route's measured rate; n = {int(p['samples']) if p else 0} busy samples"
          " in the last profile)")
    print("\n## Network-stack CPU per Gbit/s ((a) share x busy CPUs / Gbit/s), vs route\n")
    print("| setup | 1 stream | 4 streams |")
    print("|---|---|---|")
    rnet = {}
    for s in setups:
        row = []
        for st in (1, 4):
            p = profile(f"{wd}/perf-{s}-{st}.txt")
            g, c = med(s, f"bulk{st}"), med(s, f"cpu{st}")
            v = p["net"] * c / g if p and g and c else None
            if s == "route":
                rnet[st] = v
            row.append(fmt(v and rnet.get(st) and v / rnet[st]))
        print(f"| {s} | " + " | ".join(row) + " |")

    print("\n## CPU cost per Gbit/s (busy CPUs / Gbit/s, medians)\n")
    print("| setup | 1 stream | vs route | 4 streams | vs route |")
    print("|---|---|---|---|---|")
    base = {}
    for s in setups:
        row = []
        for st in (1, 4):
            g, c = med(s, f"bulk{st}"), med(s, f"cpu{st}")
            cost = c / g if g and c else None
            if s == "route":
                base[st] = cost
            row.append(fmt(cost, "%.3f"))
            row.append(fmt(cost and base.get(st) and cost / base[st]))
        print(f"| {s} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
