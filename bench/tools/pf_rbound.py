#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""relay-bound.sh's report: medians and ratios to routing, the CPU
breakdown of each profile, and the bound a relay without splice/pipe and
without its own syscall/user work could reach at the same busy CPU.

    pf_rbound.py WORKDIR SETUP...   (WORKDIR/samples.csv, perf-*.txt)
    pf_rbound.py --cps WORKDIR SETUP...   (perf-SETUP-cps.txt, pids-SETUP.txt)
    pf_rbound.py --base direct WORKDIR SETUP...   (loopback: ratios to direct)

--cps: the new-connection rate instead; a sample is the relay's when its
pid ran in the gateway namespace (pids-SETUP.txt), since nginx is both a
relay there and the server behind it.
"""
import csv
import os
import re
import statistics
import sys

import pf_perf
from pf_perf import KERNEL_IP

RELAY_COMMS = ("portfwd", "pfu", "haproxy", "sockmap-relay")
IDLE = re.compile(r"idle|safe_halt|mwait|poll_idle|^halt")
SPLICE = re.compile(r"splice|pipe|spd_")
PSOCK = re.compile(r"psock|sk_msg|tcp_bpf|bpf|sock_map|sock_hash|read_skb|strp_")
COPY = re.compile(r"copy_user|rep_movs|copy_to_iter|copy_from_iter|memcpy|rep_stos|clear_user")
NET = re.compile(
    r"tcp|^_*ip_|^_*ip_|ipv4|inet|skb|^_*sk_|sock|veth|net_rx|netif|napi|^_*dev_|^_*nf_|csum|"
    r"neigh|softirq|^_*net_|xmit|qdisc|pfifo|fib_|^_*rt_|dst_|page_pool|process_backlog|"
    r"rcv|_ack|sendmsg|recvmsg")
# cps: opening and closing sockets is TCP work too, epoll is the relay's.
CONN = re.compile(r"accept|connect|fput|alloc_file|_pseudo|new_inode|inode_init|destroy_inode|evict")
EPOLL = re.compile(r"^_*ep_|epoll|eventpoll")
CATS = ("net", "splice", "relay", "psock", "copy", "other")


def frame_cat(sym):
    for cat, rx in (("splice", SPLICE), ("psock", PSOCK), ("net", NET), ("copy", COPY)):
        if rx.search(sym):
            return cat
    return None


def classify(comm, stack, relay_pids=None):
    """One sample's category (None: idle) and whether its leaf is user space.
    STACK: (ip, sym) from the leaf outwards. RELAY_PIDS (cps): COMM is
    "comm pid" and the relay is whoever has one of these pids."""
    if not stack:
        return "other", False
    leaf_user = stack[0][0] < KERNEL_IP
    if comm.startswith("swapper") and IDLE.search(stack[0][1]):
        return None, False
    if relay_pids is not None:
        parts = comm.rsplit(None, 1)
        is_relay = len(parts) == 2 and parts[1] in relay_pids
    else:
        is_relay = comm.startswith(RELAY_COMMS)
    for ip, sym in stack:
        if ip < KERNEL_IP:
            break
        if relay_pids is not None:
            # Epoll, in or on behalf of the relay (its wakeups): (c).
            if EPOLL.search(sym):
                return ("relay" if is_relay else "other"), False
            if CONN.search(sym):
                return "net", False
        cat = frame_cat(sym)
        if cat:
            return cat, False
    if is_relay:
        # The rest of the relay's process: syscall entry/exit, epoll,
        # scheduling, file lookups, and all of its user space.
        return "relay", leaf_user
    return "other", False


def profile(path, relay_pids=None):
    """Shares (of busy samples) per category, and the relay's user share."""
    tot = dict.fromkeys(CATS, 0)
    user = 0
    got = pf_perf.samples(path)
    if got is None:
        return None
    for comm, stack in got:
        cat, is_user = classify(comm, stack, relay_pids)
        if cat:
            tot[cat] += 1
            user += is_user
    busy = sum(tot.values())
    if busy <= 0:
        return None
    shares = {k: v / busy for k, v in tot.items()}
    shares["relay_user"] = user / busy
    shares["samples"] = busy
    return shares


NCPU = os.cpu_count()


def read_vals(wd):
    vals = {}
    with open(f"{wd}/samples.csv") as f:
        for row in csv.DictReader(f):
            vals.setdefault((row["setup"], row["metric"]), []).append(float(row["value"]))
    return vals


def fmt(x, f="%.2f"):
    return "-" if x is None else f % x


def main_cps(wd, setups):
    vals = read_vals(wd)

    def med(s, m):
        v = vals.get((s, m))
        return statistics.median(v) if v else None

    def rng(s, m):
        v = vals.get((s, m))
        return f"{min(v):.0f}-{max(v):.0f}" if v else "-"

    rr = med("route", "cps")
    peers = [med(s, "cps") for s in ("haproxy", "nginx") if s in setups and med(s, "cps")]
    best = max(peers) if peers else None
    print("## New connections (wrk, Connection: close, 100-byte file), medians\n")
    print("CPU per connection: busy CPUs / conn/s, the whole machine (wrk, the relay,"
          " nginx behind it) and the relay's processes alone (/proc/PID/stat).\n")
    print("| setup | conn/s | range | vs route | vs best peer | busy CPUs | machine us/conn "
          "| relay us/conn | n |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in setups:
        r, c, rc = med(s, "cps"), med(s, "cpucps"), med(s, "relcps")
        n = len(vals.get((s, "cps"), []))
        print(f"| {s} | {fmt(r, '%.0f')} | {rng(s, 'cps')} | {fmt(r and rr and r / rr)} "
              f"| {fmt(r and best and r / best)} | {fmt(c)} | {fmt(r and c and c / r * 1e6, '%.1f')} "
              f"| {fmt(r and rc is not None and rc / r * 1e6, '%.1f')} | {n} |")
    print("\n## CPU breakdown of the profiled wrk runs (shares of busy samples)\n")
    print("(a) net: TCP/IP, skb, veth, softirq, socket/accept/connect/close internals of every"
          " socket on the machine; (b) splice/pipe; (c) relay: the relay's syscall entry/exit,"
          " epoll, scheduling/wakeups and user space (user part in brackets); other: the rest"
          " (wrk, the nginx server's own non-TCP work, scheduler, ...).\n")
    print("The bound: the relay's rate if (b) and (c) cost nothing, at the same busy CPU"
          " and with every CPU busy, as a ratio to the best of haproxy and nginx.\n")
    print("| setup | (a) net | (b) splice | (c) relay [user] | copy | other | us/conn if (b)+(c)=0 "
          "| bound, same busy CPU, x best peer | bound, all CPUs, x best peer | samples |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s in setups:
        try:
            with open(f"{wd}/pids-{s}.txt") as f:
                pids = set(f.read().split())
        except OSError:
            pids = set()
        p = profile(f"{wd}/perf-{s}-cps.txt", pids)
        r, c = med(s, "cps"), med(s, "cpucps")
        if not p or not r or not c:
            continue
        free = p["splice"] + p["relay"]
        cost = c / r * (1 - free)
        same = c / cost
        full = NCPU / cost
        print(f"| {s} | {p['net']:.0%} | {p['splice']:.0%} | {p['relay']:.0%} [{p['relay_user']:.0%}] "
              f"| {p['copy']:.0%} | {p['other']:.0%} | {cost * 1e6:.1f} "
              f"| {fmt(best and same / best)} | {fmt(best and full / best)} | {int(p['samples'])} |")
    print(f"\n(best peer: {fmt(best, '%.0f')} conn/s; route: {fmt(rr, '%.0f')} conn/s; {NCPU} CPUs)")


def main():
    args = sys.argv[1:]
    cps = args[0] == "--cps"
    if cps:
        args = args[1:]
    base = "route"
    if args[0] == "--base":
        base, args = args[1], args[2:]
    if cps:
        main_cps(args[0], args[1:])
        return
    main_bulk(args[0], args[1:], base)


def main_bulk(wd, setups, base):
    """BASE: the row every ratio is to (route on the gateway, direct on
    loopback)."""
    vals = {}
    with open(f"{wd}/samples.csv") as f:
        for row in csv.DictReader(f):
            vals.setdefault((row["setup"], row["metric"]), []).append(float(row["value"]))

    def med(s, m):
        v = vals.get((s, m))
        return statistics.median(v) if v else None

    def fmt(x, f="%.2f"):
        return "-" if x is None else f % x

    print(f"## Throughput and keep-alive requests, medians (ratios to {base})\n")
    print("| setup | 1 stream Gbit/s | ratio | busy CPUs | 4 streams Gbit/s | ratio | busy CPUs "
          "| keep-alive req/s | ratio | n |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    r1, r4, rka = med(base, "bulk1"), med(base, "bulk4"), med(base, "ka")
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
    print(f"| setup | streams | (a) net | (b) splice | (c) relay [user] | (d) psock | copy | other "
          f"| cost/Gbit if (b)+(c)=0, vs {base} | bound at same busy CPU | bound at all CPUs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rcost = {}
    for st in (1, 4):
        g, c = med(base, f"bulk{st}"), med(base, f"cpu{st}")
        rcost[st] = c / g if g and c else None
    for s in setups:
        for st in (1, 4):
            p = profile(f"{wd}/perf-{s}-{st}.txt")
            g, rg, c = med(s, f"bulk{st}"), med(base, f"bulk{st}"), med(s, f"cpu{st}")
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
    print(f"\n(bounds as ratios to {base}'s measured rate; n = {int(p['samples']) if p else 0} busy samples"
          " in the last profile)")
    print(f"\n## Network-stack CPU per Gbit/s ((a) share x busy CPUs / Gbit/s), vs {base}\n")
    print("| setup | 1 stream | 4 streams |")
    print("|---|---|---|")
    rnet = {}
    for s in setups:
        row = []
        for st in (1, 4):
            p = profile(f"{wd}/perf-{s}-{st}.txt")
            g, c = med(s, f"bulk{st}"), med(s, f"cpu{st}")
            v = p["net"] * c / g if p and g and c else None
            if s == base:
                rnet[st] = v
            row.append(fmt(v and rnet.get(st) and v / rnet[st]))
        print(f"| {s} | " + " | ".join(row) + " |")

    print("\n## CPU cost per Gbit/s (busy CPUs / Gbit/s, medians)\n")
    print(f"| setup | 1 stream | vs {base} | 4 streams | vs {base} |")
    print("|---|---|---|---|---|")
    bcost = {}
    for s in setups:
        row = []
        for st in (1, 4):
            g, c = med(s, f"bulk{st}"), med(s, f"cpu{st}")
            cost = c / g if g and c else None
            if s == base:
                bcost[st] = cost
            row.append(fmt(cost, "%.3f"))
            row.append(fmt(cost and bcost.get(st) and cost / bcost[st]))
        print(f"| {s} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
