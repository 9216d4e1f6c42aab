#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""udp-bound.sh's report: sequential UDP round trips per second on one CPU,
the CPU time of each round trip by class, and the rate a relay whose own
work (c) cost nothing would reach, as a ratio to nginx.

    pf_ubound.py [--seconds=S] WORKDIR SETUP...   (rr-SETUP-RUN.txt, cs-SETUP-RUN.txt,
                                     perf-SETUP.txt: perf script -F comm,pid,ip,sym)

Classes, decided by the innermost kernel frame of a sample's call chain
that says whose work it is (in this VM a sample taken with interrupts off
lands on the function that turns them back on, so its callers decide):
(a) UDP/IP/loopback, softirq, copies: the kernel's work for every socket;
(s) scheduling, context switches, wakeups (innermost first: a wakeup
from epoll's callback is (s)); (c) the relay's syscall entry/exit,
epoll/select/poll (with the socket readiness checks under them), other
kernel and user space; (e) the same for
the client and the echo server (pf_udp); (i) idle. Samples of other
processes (perf itself) are left out.
"""
import glob
import re
import statistics
import sys

import pf_perf
from pf_perf import KERNEL_IP

IDLE = re.compile(r"idle|safe_halt|mwait|poll_idle|^halt")
SCHED = re.compile(
    r"schedule|__switch_to|switch_mm|switch_fpu|finish_task_switch|context_switch|ttwu|"
    r"try_to_wake_up|wake_up|enqueue_|dequeue_|pick_next|update_curr|update_load|update_cfs|"
    r"_sched|sched_|psi_|select_task_rq|put_prev|set_next|reweight|check_preempt|resched|"
    r"cpuacct|load_balance|finish_wait|prepare_to_wait|autoremove_wake|pollwake|default_wake|"
    r"__wake|hrtick|vruntime|place_entity|sched")
NET = re.compile(
    r"udp|^_*ip_|ipv4|inet|skb|^_*sk_|sock|net_rx|netif|napi|^_*dev_|^_*nf_|csum|loopback|"
    r"softirq|xmit|qdisc|fib_|^_*rt_|dst_|process_backlog|rcv|sendmsg|recvmsg|sendto|recvfrom|"
    r"copy_user|copy_to_iter|copy_from_iter|_copy_|memcpy|neigh|raw_v4|icmp|__udp")
# A socket's wakeup of its reader: sock_def_readable wakes with interrupts
# off, so the samples of try_to_wake_up land on its unlock there: (s).
WAKE = re.compile(r"sock_def_readable|sock_def_write_space|sk_wake_async|__wake_up|try_to_wake_up")
# The relay's epoll/select/poll: its wait, its readiness checks (sock_poll
# and udp_poll below them too) and the callbacks that wake it.
POLL = re.compile(r"^_*ep_|epoll|eventpoll|do_select|core_sys_select|do_sys_poll|do_poll|sock_poll")
IGNORE = ("perf",)
CLASSES = ("a", "s", "c", "e", "i")


def classify(comm, stack):
    """One sample's class, or None for another process's."""
    if comm.startswith(IGNORE):
        return None
    own = "e" if comm.startswith("pf_udp") else "c"
    if not stack:
        return own
    if comm.startswith("swapper"):
        own = "i"
        if IDLE.search(stack[0][1]):
            return "i"
    net = False
    for ip, sym in stack:
        if ip < KERNEL_IP:
            break
        if POLL.search(sym):
            return own
        if net:
            # Network work: unless under epoll/select/poll, (a).
            continue
        # NET before SCHED: __udp_enqueue_schedule_skb is not the
        # scheduler's.
        if WAKE.search(sym):
            return "s"
        if NET.search(sym):
            net = True
        elif SCHED.search(sym):
            return "s"
    return "a" if net else own


def profile(path):
    """Samples per class."""
    tot = dict.fromkeys(CLASSES, 0)
    # Its headers end in the event's name: the command is what comes before.
    got = pf_perf.samples(path, lambda ln: ln.rsplit(None, 1)[0].strip())
    if got is None:
        return None
    for comm, stack in got:
        cls = classify(comm, stack)
        if cls:
            tot[cls] += 1
    return tot if sum(tot.values()) else None


def kv(path):
    try:
        words = open(path).read().split()
    except OSError:
        return {}
    return {words[i]: words[i + 1] for i in range(0, len(words) - 1, 2)}


def main():
    work, setups = sys.argv[1], sys.argv[2:]
    rows = {}
    for s in setups:
        rates, cs_rt = [], []
        for path in sorted(glob.glob(f"{work}/rr-{s}-*.txt")):
            rate = float(kv(path).get("rate", 0))
            if rate <= 0:
                continue
            rates.append(rate)
            cs = None
            try:
                for ln in open(path.replace("/rr-", "/cs-")):
                    if "context-switches" in ln:
                        cs = float(ln.split(",")[0])
            except (OSError, ValueError):
                pass
            if cs is not None:
                cs_rt.append(cs)
        if not rates:
            continue
        rows[s] = {"rate": statistics.median(rates), "runs": rates,
                   "cs": statistics.median(cs_rt) if cs_rt else None,
                   "prof": profile(f"{work}/perf-{s}.txt")}
    base = rows.get("nginx", {}).get("rate")
    print("| row | round trips/s (median, runs) | x nginx | ctx sw / rt "
          "| (a) us | (s) us | (c) us | (e) us | (i) us | us / rt | bound rt/s (c = 0) | bound x nginx |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    best = None
    for s, r in rows.items():
        t = 1e6 / r["rate"]
        ratio = f"{r['rate'] / base:.2f}" if base else "-"
        csrt = "-"
        # The count spans the whole run, warm-up included: an estimate.
        if r["cs"] is not None and SECONDS:
            csrt = f"{r['cs'] / (r['rate'] * SECONDS):.2f}"
        cells = ["-"] * 5
        bound = bx = "-"
        p = r["prof"]
        if p:
            n = sum(p.values())
            us = {k: p[k] / n * t for k in CLASSES}
            cells = [f"{us[k]:.2f}" for k in CLASSES]
            if s != "direct":
                b = 1e6 / (t - us["c"])
                bound = f"{b:.0f}"
                if base:
                    bx = f"{b / base:.2f}"
                    best = max(best or 0, b / base)
        runs = ", ".join(f"{x:.0f}" for x in r["runs"])
        print(f"| {s} | {r['rate']:.0f} ({runs}) | {ratio} | {csrt} | " + " | ".join(cells)
              + f" | {t:.2f} | {bound} | {bx} |")
    if best is not None:
        print(f"\nbest bound: {best:.2f}x nginx (a relay's own work (c) at zero; "
              f"(a), (s), (e) as measured with it)")


SECONDS = None
if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1].startswith("--seconds="):
        SECONDS = float(sys.argv.pop(1).split("=", 1)[1])
    main()
