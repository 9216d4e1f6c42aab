#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""pf_pstat: resource totals of a forwarder's process tree.

    pf_pstat.py PID...

Takes the given processes and all their descendants (found through the
ppid of every process in /proc) and prints one line of totals:

    procs N threads N rss_kb N pss_kb N fds N cpu_ticks N clk_tck N

rss_kb: sum of VmRSS (/proc/PID/status); shared pages count once per process.
pss_kb: sum of Pss (/proc/PID/smaps_rollup): shared pages split between the
        processes that map them, so a fork-per-connection forwarder's
        children are not charged the whole binary and libc each.
fds:    sum of the entries in /proc/PID/fd.
cpu_ticks: sum of utime+stime+cutime+cstime (/proc/PID/stat, all threads).
        Every live process counts its own time; a child that has exited and
        was reaped counts through its parent's cutime/cstime, so the delta of
        two readings is the CPU the tree used in between, short-lived
        children (socat, redir: one per connection) included.
A process that vanishes while being read is skipped.
"""
import os
import sys


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("ascii", "replace")


def stat_fields(pid):
    s = read(f"/proc/{pid}/stat")
    # comm may hold spaces and parentheses: split after the last ')'.
    rest = s[s.rindex(")") + 2:].split()
    return rest  # rest[0] is field 3 (state)


def main():
    roots = {int(a) for a in sys.argv[1:]}
    if not roots:
        print("usage: pf_pstat.py PID...", file=sys.stderr)
        return 2
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid = int(stat_fields(d)[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    tree, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in tree:
            continue
        tree.add(p)
        todo.extend(children.get(p, ()))
    tot = dict(procs=0, threads=0, rss_kb=0, pss_kb=0, fds=0, cpu_ticks=0)
    for p in sorted(tree):
        try:
            f = stat_fields(p)
            # fields 14-17 utime stime cutime cstime; 20 num_threads
            ticks = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
            threads = int(f[17])
            rss = 0
            for line in read(f"/proc/{p}/status").splitlines():
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
            pss = 0
            try:
                for line in read(f"/proc/{p}/smaps_rollup").splitlines():
                    if line.startswith("Pss:"):
                        pss = int(line.split()[1])
            except OSError:
                pss = rss
            fds = len(os.listdir(f"/proc/{p}/fd"))
        except (OSError, ValueError, IndexError):
            continue
        tot["procs"] += 1
        tot["threads"] += threads
        tot["rss_kb"] += rss
        tot["pss_kb"] += pss
        tot["fds"] += fds
        tot["cpu_ticks"] += ticks
    tot["clk_tck"] = os.sysconf("SC_CLK_TCK")
    print(" ".join(f"{k} {v}" for k, v in tot.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
