#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""TCP peers for t_flowlog.sh: flows of known sizes that end in a known way,
and a flood of short flows. Every mode is bounded in time.

  pft_flowlog.py serve ADDR:PORT MODE [DOWN]    servers; print "listening"
      reply  read to EOF, then send DOWN bytes and close: the client closes
             first (client-close)
      first  read the UP bytes the client's first line announces, then
             send DOWN bytes and close while the client waits: the backend
             closes first (backend-close)
      echo   echo to EOF, then close (one thread, many flows: the flood)
  pft_flowlog.py client ADDR:PORT UP [--wait-eof]
      connect; send UP bytes; shutdown(SHUT_WR) unless --wait-eof (then
      read to EOF first, and close); print "got N" (bytes received)
  pft_flowlog.py flood ADDR:PORT N [--threads K]
      N flows of 10 bytes each way, K at a time; print "ok N failed N secs S"
"""
import selectors
import socket
import sys
import threading
import time

LIFE = 120


def addr(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def read_eof(s):
    n = 0
    while True:
        b = s.recv(65536)
        if not b:
            return n
        n += len(b)


def serve_conn(c, mode, down):
    c.settimeout(20)
    try:
        if mode == "reply":
            read_eof(c)
            c.sendall(b"d" * down)
        else:  # first: the UP bytes, then answer and close first
            need, got = None, b""
            while need is None or len(got) < need:
                b = c.recv(65536)
                if not b:
                    break
                got += b
                if need is None and b"\n" in got:
                    need = int(got.split(b"\n", 1)[0])
            c.sendall(b"d" * down)
    finally:
        c.close()


def serve_echo(ls):
    sel = selectors.DefaultSelector()
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ)
    end = time.time() + LIFE
    while time.time() < end:
        for key, _ in sel.select(1):
            if key.fileobj is ls:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ)
                continue
            c = key.fileobj
            try:
                b = c.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionError:
                b = b""
            if b:
                c.setblocking(True)
                c.sendall(b)
                c.setblocking(False)
            else:
                sel.unregister(c)
                c.close()


def serve(a, mode, down):
    ls = socket.socket(socket.AF_INET6 if ":" in addr(a)[0] else socket.AF_INET)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(addr(a))
    ls.listen(1024)
    print("listening", flush=True)
    if mode == "echo":
        serve_echo(ls)
        return
    ls.settimeout(LIFE)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve_conn, args=(c, mode, down), daemon=True).start()


def client(a, up, wait_eof):
    s = socket.create_connection(addr(a), timeout=20)
    if wait_eof:
        head = b"%d\n" % up
        s.sendall(head + b"u" * (up - len(head)))
        n = read_eof(s)
    else:
        s.sendall(b"u" * up)
        s.shutdown(socket.SHUT_WR)
        n = read_eof(s)
    s.close()
    print("got", n, flush=True)


def flood(a, n, threads):
    ok = [0]
    failed = [0]
    lock = threading.Lock()
    left = [n]

    def one():
        s = socket.create_connection(addr(a), timeout=10)
        s.sendall(b"x" * 10)
        s.shutdown(socket.SHUT_WR)
        got = read_eof(s)
        s.close()
        return got == 10

    def run():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            try:
                r = one()
            except OSError:
                r = False
            with lock:
                if r:
                    ok[0] += 1
                else:
                    failed[0] += 1

    t0 = time.time()
    ts = [threading.Thread(target=run) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("ok %d failed %d secs %.2f" % (ok[0], failed[0], time.time() - t0), flush=True)


def main():
    a = sys.argv
    if a[1] == "serve":
        serve(a[2], a[3], int(a[4]) if len(a) > 4 else 0)
    elif a[1] == "client":
        client(a[2], int(a[3]), "--wait-eof" in a)
    elif a[1] == "flood":
        k = int(a[a.index("--threads") + 1]) if "--threads" in a else 4
        flood(a[2], int(a[3]), k)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
