#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Small TCP roles for the tests/net scripts, where pf_xfer does not fit:
timing how and when the daemon closes a flow, servers that misbehave on
purpose, and probes. Every mode is bounded in time.

  pft_tcp.py listen  ADDR:PORT [--reuseport]     bind+listen, never accept
  pft_tcp.py sink    ADDR:PORT                   accept; read to EOF; never write
                                                 nor close
  pft_tcp.py greet   ADDR:PORT TEXT              accept; send TEXT; read to EOF;
                                                 close
  pft_tcp.py probe   ADDR:PORT                   prints open|refused|timeout|ERRNO
  pft_tcp.py idle    ADDR:PORT [--ping S --for S] [--wait S]
        connect; optionally send a byte every S seconds for a while; then stay
        silent and print "closed HOW SECONDS" measured from the last byte sent
        (or the connect), or "open SECONDS" if nothing closed it within --wait.
  pft_tcp.py halfclose ADDR:PORT BYTES [--wait S] [--reset]
        connect; send BYTES; shutdown(SHUT_WR); print "closed HOW SECONDS"
        measured from the shutdown (HOW: eof or reset), or "open SECONDS";
        --reset: then abort the connection (RST) if it was still open.
  pft_tcp.py firstbyte ADDR:PORT [-n N] [--wait S]
        N times, one after another: connect, print "data SECONDS TEXT" with
        the time from connect() to the first bytes, or "closed HOW SECONDS".

Servers print "listening" once bound and run until killed (or --life S).
"""
import argparse
import errno
import select
import socket
import struct
import sys
import threading
import time


def parse_addr(s):
    host, _, port = s.rpartition(":")
    if host.startswith("["):
        host = host[1:-1]
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    return fam, (host, int(port))


def out(*a):
    print(*a, flush=True)


def server_socket(addr, reuseport=False):
    fam, sa = parse_addr(addr)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(sa)
    s.listen(128)
    out("listening")
    return s


def serve(s, handler, life):
    held = []  # sink keeps its sockets referenced, so they are never closed
    s.settimeout(0.2)
    end = time.monotonic() + life
    while time.monotonic() < end:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        held.append(c)
        threading.Thread(target=handler, args=(c,), daemon=True).start()


def read_to_eof(c, limit):
    c.settimeout(limit)
    try:
        while c.recv(65536):
            pass
    except OSError:
        pass


def wait_close(c, limit):
    """Blocks until the peer closes: ('eof'|'reset'|'open', when)."""
    end = time.monotonic() + limit
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return "open", time.monotonic()
        r, _, _ = select.select([c], [], [], left)
        if not r:
            continue
        try:
            data = c.recv(65536)
        except ConnectionResetError:
            return "reset", time.monotonic()
        except OSError as e:
            return errno.errorcode.get(e.errno, str(e.errno)), time.monotonic()
        if not data:
            return "eof", time.monotonic()


def connect(addr, timeout=5.0):
    fam, sa = parse_addr(addr)
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.settimeout(timeout)
    c.connect(sa)
    c.settimeout(None)
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    ap.add_argument("addr")
    ap.add_argument("arg", nargs="?")
    ap.add_argument("--reuseport", action="store_true")
    ap.add_argument("--life", type=float, default=120.0)
    ap.add_argument("--ping", type=float, default=0.0)
    ap.add_argument("--for", dest="ping_for", type=float, default=0.0)
    ap.add_argument("--wait", type=float, default=10.0)
    ap.add_argument("-n", type=int, default=1)
    ap.add_argument("--reset", action="store_true")
    a = ap.parse_args()

    if a.mode == "listen":
        s = server_socket(a.addr, a.reuseport)  # referenced: else closed at once
        time.sleep(a.life)
        s.close()
    elif a.mode == "sink":
        serve(server_socket(a.addr), lambda c: read_to_eof(c, a.life), a.life)
    elif a.mode == "greet":
        text = (a.arg or "hello").encode()

        def greet(c):
            try:
                c.sendall(text)
                read_to_eof(c, a.life)
            finally:
                c.close()

        serve(server_socket(a.addr), greet, a.life)
    elif a.mode == "probe":
        try:
            connect(a.addr, a.wait).close()
            out("open")
        except ConnectionRefusedError:
            out("refused")
        except socket.timeout:
            out("timeout")
        except OSError as e:
            out(errno.errorcode.get(e.errno, str(e.errno)))
    elif a.mode == "idle":
        c = connect(a.addr)
        last = time.monotonic()
        stop = last + a.ping_for
        while a.ping and time.monotonic() + a.ping <= stop:
            time.sleep(a.ping)
            try:
                c.send(b".")
            except OSError as e:
                out("closed", "send-" + errno.errorcode.get(e.errno, "?"),
                    "%.3f" % (time.monotonic() - last))
                return 0
            last = time.monotonic()
        how, when = wait_close(c, a.wait)
        out("open" if how == "open" else "closed " + how, "%.3f" % (when - last))
    elif a.mode == "halfclose":
        c = connect(a.addr)
        c.sendall(b"x" * int(a.arg or "1"))
        c.shutdown(socket.SHUT_WR)
        t0 = time.monotonic()
        how, when = wait_close(c, a.wait)
        out("open" if how == "open" else "closed " + how, "%.3f" % (when - t0))
        if how == "open" and a.reset:
            # Abort (RST): the only news a relay gets of a half-closed client
            # that goes away; a plain close() of it sends nothing more.
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    elif a.mode == "firstbyte":
        for _ in range(a.n):
            t0 = time.monotonic()
            try:
                c = connect(a.addr)
            except ConnectionResetError:
                # Accepted, then reset before connect() even returned.
                out("closed reset", "%.3f" % (time.monotonic() - t0))
                continue
            r, _, _ = select.select([c], [], [], a.wait)
            try:
                data = c.recv(4096) if r else None
            except ConnectionResetError:
                out("closed reset", "%.3f" % (time.monotonic() - t0))
            else:
                if data is None:
                    out("open", "%.3f" % (time.monotonic() - t0))
                elif not data:
                    out("closed eof", "%.3f" % (time.monotonic() - t0))
                else:
                    out("data", "%.3f" % (time.monotonic() - t0), data.decode(errors="replace"))
            c.close()
    else:
        ap.error("unknown mode " + a.mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
