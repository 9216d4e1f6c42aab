#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Roles for t_persrc.sh (limits per client address). Every mode is
bounded in time.

  pft_persrc.py serve tcp|udp ADDR PORT...
        a server on each port; prints "listening" once bound, then
        "accept PORT IP" for each TCP connection accepted (held open until
        its client closes) or "peer PORT IP:PORT" for each new UDP source
        (datagrams echoed); runs until killed (or 120 s).
  pft_persrc.py limit SRC_A SRC_B ADDR:PORT N
        N connections from SRC_A, held; prints "held K" (how many are open
        0.3 s later); one more from SRC_A: "extra closed SECONDS" (the time
        from connect() to its close or reset), "extra dropped" (no
        handshake within 1 s) or "extra open"; then one from SRC_B: "other
        open" or "other closed".
  pft_persrc.py rate SRC ADDR:PORT SECONDS
        non-blocking connects from SRC, as fast as 2 a millisecond, for
        SECONDS; each socket closed 0.2 s after its connect; prints
        "attempts N".
  pft_persrc.py udp SRC ADDR:PORT N
        one datagram from each of N sockets on SRC (N source ports); prints
        "replied K", how many got their echo within 0.5 s.
"""
import errno
import select
import socket
import sys
import time


def out(*a):
    print(*a, flush=True)


def serve(proto, addr, ports):
    socks = {}
    for p in ports:
        if proto == "tcp":
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, p))
            s.listen(512)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((addr, p))
        socks[s] = p
    out("listening")
    conns = set()
    peers = set()
    end = time.monotonic() + 120
    while time.monotonic() < end:
        r, _, _ = select.select(list(socks) + list(conns), [], [], 1.0)
        for s in r:
            if s in socks and proto == "tcp":
                c, peer = s.accept()
                out("accept", socks[s], peer[0])
                conns.add(c)
            elif s in socks:
                data, peer = s.recvfrom(2048)
                if (socks[s], peer) not in peers:
                    peers.add((socks[s], peer))
                    out("peer", socks[s], "%s:%d" % peer)
                s.sendto(data, peer)
            else:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    conns.discard(s)
                    s.close()


def connect_from(src, dst, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(dst)
    return s


def is_open(s):
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def parse(hp):
    h, _, p = hp.rpartition(":")
    return (h, int(p))


def limit(a, b, dst, n):
    dst = parse(dst)
    held = [connect_from(a, dst, 2.0) for _ in range(n)]
    time.sleep(0.3)
    out("held", sum(1 for s in held if is_open(s)))
    t0 = time.monotonic()
    try:
        x = connect_from(a, dst, 1.0)
    except (socket.timeout, TimeoutError):
        out("extra dropped")
    except OSError as e:
        out("extra closed %.3f" % (time.monotonic() - t0), errno.errorcode.get(e.errno, ""))
    else:
        x.settimeout(max(0.0, 1.0 - (time.monotonic() - t0)))
        try:
            data = x.recv(1)
        except (socket.timeout, TimeoutError):
            out("extra open")
        except OSError:
            out("extra closed %.3f" % (time.monotonic() - t0))
        else:
            out("extra closed %.3f" % (time.monotonic() - t0) if not data else "extra open")
        x.close()
    o = connect_from(b, dst, 2.0)
    time.sleep(0.3)
    out("other", "open" if is_open(o) else "closed")
    time.sleep(0.2)
    for s in held + [o]:
        s.close()


def rate(src, dst, secs):
    dst = parse(dst)
    live = []
    n = 0
    t0 = time.monotonic()
    while True:
        now = time.monotonic()
        while live and now - live[0][0] >= 0.2:
            live.pop(0)[1].close()
        if now - t0 >= secs:
            break
        if n >= (now - t0) * 2000:
            time.sleep(0.0005)
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((src, 0))
        try:
            s.connect(dst)
        except BlockingIOError:
            pass
        except OSError:
            pass
        live.append((now, s))
        n += 1
    for _, s in live:
        s.close()
    out("attempts", n)


def udp(src, dst, n):
    dst = parse(dst)
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.sendto(b"x", dst)
        socks.append(s)
    got = set()
    end = time.monotonic() + 0.5
    while len(got) < n and time.monotonic() < end:
        r, _, _ = select.select([s for s in socks if s not in got], [], [], 0.05)
        for s in r:
            s.recv(64)
            got.add(s)
    out("replied", len(got))


def main():
    m = sys.argv[1]
    if m == "serve":
        serve(sys.argv[2], sys.argv[3], [int(p) for p in sys.argv[4:]])
    elif m == "limit":
        limit(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif m == "rate":
        rate(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif m == "udp":
        udp(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit("unknown mode " + m)


if __name__ == "__main__":
    main()
