#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Drives headless Chromium through chromedriver's WebDriver HTTP API (plain
urllib: no Selenium) to check portfwd's status page, for t_status.sh:

  pft_webdriver.py --driver PORT --url URL --expect FWD=ADDR[,FWD=ADDR...]
                   [--run CMD --down FWD=ADDR] [--screenshot FILE] [--timeout S]

Opens URL, waits until the page shows every forward FWD with backend ADDR,
all 'up'; then runs CMD (which kills a backend) and waits, without loading
the page again, until FWD's backend ADDR shows 'down'; saves a screenshot.
Prints what it saw; exits 1 on a failed or timed-out check."""
import argparse
import base64
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

DOM_SCRIPT = """
const out = {};
document.querySelectorAll('[data-forward]').forEach(f => {
  const b = {};
  f.querySelectorAll('tr[data-backend]').forEach(r => {
    b[r.getAttribute('data-backend')] = r.querySelector('.state').textContent;
  });
  out[f.getAttribute('data-forward')] = b;
});
return {forwards: out, marker: window.__pft_marker || 0,
        updated: document.body.getAttribute('data-updated') || ''};
"""


def call(base, method, path, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        raise SystemExit(f"webdriver {method} {path}: HTTP {e.code}: {e.read()[:500]!r}")


def pairs(text):
    out = []
    for item in text.split(","):
        fwd, _, addr = item.partition("=")
        out.append((fwd, addr))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", type=int, required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--expect", required=True)
    ap.add_argument("--run")
    ap.add_argument("--down")
    ap.add_argument("--screenshot")
    ap.add_argument("--profile", default="/tmp/pft-chromium")
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--size", default="1100,900")
    a = ap.parse_args()
    base = f"http://127.0.0.1:{a.driver}"

    end = time.monotonic() + a.timeout
    while True:
        try:
            if call(base, "GET", "/status", timeout=2)["value"].get("ready"):
                break
        except (OSError, SystemExit):
            pass
        if time.monotonic() > end:
            raise SystemExit("chromedriver did not become ready")
        time.sleep(0.1)

    caps = {"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--no-first-run",
                     f"--window-size={a.size}", f"--user-data-dir={a.profile}"],
        }}}}
    sid = call(base, "POST", "/session", caps, timeout=60)["value"]["sessionId"]
    s = f"/session/{sid}"
    rc = 0
    try:
        call(base, "POST", s + "/url", {"url": a.url})
        call(base, "POST", s + "/execute/sync",
             {"script": "window.__pft_marker = 42; return 1;", "args": []})

        def dom():
            return call(base, "POST", s + "/execute/sync",
                        {"script": DOM_SCRIPT, "args": []})["value"]

        def wait(what, ok):
            d = dom()
            end = time.monotonic() + a.timeout
            while not ok(d):
                if time.monotonic() > end:
                    print(f"FAIL: timed out waiting for {what}; the page shows {d}")
                    return None
                time.sleep(0.2)
                d = dom()
            return d

        want = pairs(a.expect)
        d = wait("every forward and backend, up",
                 lambda d: all(d["forwards"].get(f, {}).get(b) == "up" for f, b in want))
        if d is None:
            return 1
        print("page shows", json.dumps(d["forwards"], sort_keys=True))
        if a.run:
            subprocess.run(a.run, shell=True, check=True, timeout=30)
            fwd, be = pairs(a.down)[0]
            d = wait(f"{fwd} {be} to show down",
                     lambda d: d["forwards"].get(fwd, {}).get(be) == "down")
            if d is None:
                return 1
            if d["marker"] != 42:
                print("FAIL: the page was loaded again (its state is gone)")
                rc = 1
            print("after the kill, page shows", json.dumps(d["forwards"], sort_keys=True))
    finally:
        # Also when a check failed: the picture shows what the page showed.
        if a.screenshot:
            # One more refresh of the page's chart before the picture.
            time.sleep(2)
            png = call(base, "GET", s + "/screenshot")["value"]
            with open(a.screenshot, "wb") as f:
                f.write(base64.b64decode(png))
            print("screenshot", a.screenshot)
        call(base, "DELETE", s)
    return rc


if __name__ == "__main__":
    sys.exit(main())
