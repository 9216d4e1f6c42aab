#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The client and the arithmetic of t_agree.sh (many gateways agree).

Backends answer "GATEWAY.BACKEND" (pf_ids: "G2.12") and close. A probe file
holds one "SRC LABEL REP ANSWER" line per connection; a LABEL is
"GATEWAY:FORWARD" ("G1:mu"), or "VIP:FORWARD" for the ECMP address, which
any gateway may carry.

  pft_agree.py probe OUT FIRST_SRC N REPEAT SECONDS LABEL=ADDR:PORT...
        from each of N client addresses from FIRST_SRC up, REPEAT
        connections to each target (each from another source port); 48 at
        a time, each bounded to 5 s, all to SECONDS (what is left undone
        counts as failed). Prints "probed C failed F in S s".
  pft_agree.py agree FILE NAME LABEL,LABEL...
        every client reached the same backend through every LABEL (and
        through the gateway the label names). Prints the spread as a
        "figures" line; lists up to 10 clients that disagree with what
        each label gave; exits 1 on a disagreement or a failed connection.
  pft_agree.py moved BEFORE AFTER NAME LABEL [GONE]
        compares the backend of each client through LABEL in two files;
        prints "moved GONE_CLIENTS MOVED_OF_THEM OTHERS MOVED_OTHERS" and a
        figures line (where the gone backend's clients went).
  pft_agree.py ecmp FILE BASE BASELABEL LABEL,LABEL...
        the ECMP run: every connection of a client, through any gateway
        and any LABEL, reached the backend BASELABEL gave it in BASE.
        Prints the flows per gateway and how many clients were carried by
        more than one; exits 1 on a difference or a failed connection.
"""
import collections
import concurrent.futures
import errno
import ipaddress
import socket
import sys
import threading
import time


def out(*a):
    print(*a, flush=True)


def ask(src, addr, port, deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        return "FAIL:deadline"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(min(5.0, left))
        s.bind((src, 0))
        s.connect((addr, port))
        data = b""
        while len(data) < 64:
            b = s.recv(64)
            if not b:
                break
            data += b
        a = data.decode(errors="replace").strip()
        return a if a and " " not in a else "FAIL:answer=" + (a.replace(" ", "_") or "none")
    except OSError as e:
        if e.errno is None:
            return "FAIL:" + type(e).__name__
        return "FAIL:" + errno.errorcode.get(e.errno, str(e.errno))
    finally:
        s.close()


def probe(outf, first, n, rep, secs, targets):
    deadline = time.monotonic() + secs
    base = int(ipaddress.IPv4Address(first))
    tg = []
    for t in targets:
        label, ap = t.split("=", 1)
        a, p = ap.rsplit(":", 1)
        tg.append((label, a, int(p)))
    jobs = [(str(ipaddress.IPv4Address(base + i)), lab, a, p, r)
            for r in range(rep) for (lab, a, p) in tg for i in range(n)]
    lock = threading.Lock()
    lines = []
    t0 = time.monotonic()

    def one(j):
        src, lab, a, p, r = j
        ans = ask(src, a, p, deadline)
        with lock:
            lines.append(f"{src} {lab} {r} {ans}\n")

    with concurrent.futures.ThreadPoolExecutor(48) as ex:
        list(ex.map(one, jobs))
    failed = sum(1 for ln in lines if " FAIL:" in ln)
    with open(outf, "w") as f:
        f.writelines(sorted(lines))
    out(f"probed {len(lines)} failed {failed} in {time.monotonic() - t0:.1f} s")


def load(path):
    """{src: {label: [answers]}}"""
    d = collections.defaultdict(lambda: collections.defaultdict(list))
    with open(path) as f:
        for ln in f:
            src, lab, _, ans = ln.split()
            d[src][lab].append(ans)
    return d


def backend(ans):
    return ans.split(".", 1)[1] if "." in ans and not ans.startswith("FAIL") else ans


def srckey(s):
    return int(ipaddress.IPv4Address(s))


def agree(path, name, labels):
    d = load(path)
    labels = labels.split(",")
    bad = []
    failed = 0
    spread = collections.Counter()
    for src in sorted(d, key=srckey):
        answers = {lab: d[src].get(lab, ["FAIL:missing"]) for lab in labels}
        flat = [(lab, a) for lab, al in answers.items() for a in al]
        failed += sum(1 for _, a in flat if a.startswith("FAIL"))
        wrong_gw = [(lab, a) for lab, a in flat
                    if not lab.startswith("VIP:") and not a.startswith(lab.split(":")[0] + ".")]
        bes = {backend(a) for _, a in flat}
        if len(bes) != 1 or wrong_gw:
            bad.append(src + ": " + " ".join(f"{lab}={a}" for lab, a in flat))
        else:
            spread[bes.pop()] += 1
    sp = " ".join(f".{b}:{c}" for b, c in sorted(spread.items()))
    out(f"-- figures: {name}: {len(d)} clients x {len(labels)} (gateway x forward);"
        f" agree {len(d) - len(bad)}/{len(d)}; clients per backend {sp}")
    for b in bad[:10]:
        out("DISAGREE " + b)
    if bad or failed:
        out(f"{name}: {len(bad)} clients disagree, {failed} connections failed")
        sys.exit(1)


def first_backend(d, src, label):
    al = d[src].get(label, [])
    return backend(al[0]) if al else "FAIL"


def moved(before, after, name, label, gone=None):
    b, a = load(before), load(after)
    on_gone = moved_gone = others = moved_others = 0
    went = collections.Counter()
    for src in b:
        x, y = first_backend(b, src, label), first_backend(a, src, label)
        if x == gone:
            on_gone += 1
            moved_gone += x != y
            went[y] += 1
        else:
            others += 1
            moved_others += x != y
    out(f"moved {on_gone} {moved_gone} {others} {moved_others}")
    pct = 100.0 * moved_others / others if others else 0.0
    w = " ".join(f".{k}:{v}" for k, v in sorted(went.items()))
    out(f"-- figures: {name}: of {on_gone} clients on .{gone}, {moved_gone} moved"
        f" ({w}); of the other {others}, {moved_others} moved ({pct:.1f} %)")


def ecmp(path, base, baselabel, labels):
    d, b = load(path), load(base)
    labels = labels.split(",")
    per_gw = collections.Counter()
    multi = 0
    bad = []
    failed = 0
    for src in sorted(d, key=srckey):
        want = first_backend(b, src, baselabel)
        flat = [(lab, a) for lab in labels for a in d[src].get(lab, ["FAIL:missing"])]
        gws = set()
        for _, a in flat:
            if a.startswith("FAIL"):
                failed += 1
                continue
            gw = a.split(".", 1)[0]
            gws.add(gw)
            per_gw[gw] += 1
        multi += len(gws) > 1
        if any(backend(a) != want for _, a in flat):
            bad.append(f"{src} (.{want} before): " + " ".join(f"{lab}={a}" for lab, a in flat))
    total = sum(per_gw.values())
    sh = " ".join(f"{g}:{c} ({100.0 * c / total:.1f} %)" for g, c in sorted(per_gw.items()))
    out(f"-- figures: ECMP: {total} flows from {len(d)} clients, per gateway {sh};"
        f" {multi} clients carried by more than one gateway;"
        f" same backend as before {len(d) - len(bad)}/{len(d)}")
    for x in bad[:10]:
        out("DIFFER " + x)
    if bad or failed:
        out(f"ECMP: {len(bad)} clients reached another backend, {failed} connections failed")
        sys.exit(1)


def main():
    a = sys.argv[1:]
    if a and a[0] == "probe" and len(a) >= 7:
        probe(a[1], a[2], int(a[3]), int(a[4]), float(a[5]), a[6:])
    elif a and a[0] == "agree" and len(a) == 4:
        agree(a[1], a[2], a[3])
    elif a and a[0] == "moved" and len(a) in (5, 6):
        moved(a[1], a[2], a[3], a[4], a[5] if len(a) == 6 else None)
    elif a and a[0] == "ecmp" and len(a) == 5:
        ecmp(a[1], a[2], a[3], a[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
