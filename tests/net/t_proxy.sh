#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The PROXY protocol through portfwd, with a real nginx ('listen ...
# proxy_protocol', logging $proxy_protocol_addr) and a real haproxy:
#  - proxy-protocol v1 and v2: nginx logs the address of IPv4 and IPv6
#    clients; health checks send a header too and keep nginx up (a check
#    without one fails, so the header is what makes it pass);
#  - haproxy send-proxy-v2 -> portfw accept-proxy -> proxy-protocol v2 ->
#    nginx: the client's address travels through both; 'portfw conns'
#    shows it; the ACL judges it;
#  - a v1 header from a trusted proxy with an IPv6 client;
#  - from a source accept-proxy does not name, a header is data;
#  - malformed, truncated and late headers are closed and counted
#    (proxy_errors).
# Every client has an address of its own on lo (127.0.0.5, fd00::5, ...).
. "$(dirname "$0")/lib.sh"
pft_init

command -v haproxy >/dev/null || fail "haproxy not installed (scripts/deps.sh test)"

nsx ip -6 addr add fd00::5/128 dev lo nodad
nsx ip -6 addr add fd00::1/128 dev lo nodad
nsx ip -6 addr add fd00::7/128 dev lo nodad

www=$T/www
mkdir -p "$www" "$T/nginx/tmp"
echo ok >"$www/ok.txt"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$www/big.bin"

# nginx: a proxy_protocol listener that logs the header's address and the
# peer's; it takes v1 and v2 alike.
d=$T/nginx
cat >"$d/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 1000; }
http {
  log_format pp '\$proxy_protocol_addr \$remote_addr "\$request" \$status';
  access_log $d/access.log pp;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  default_type application/octet-stream;
  server { listen 127.0.0.1:9001 proxy_protocol; root $www; limit_rate 200k; }
}
EOF
nsx timeout -k 5 600 nginx -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" >"$d/stdout.log" 2>&1 &
wait_for 10 "nginx to listen" eval "nsx ss -Hltn 'sport = :9001' | grep -q LISTEN"

# haproxy in front of the accept-proxy forward, connecting from 127.0.0.7.
cat >"$T/haproxy.cfg" <<EOF
global
  maxconn 100
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:7000
  default_backend be
backend be
  server pf 127.0.0.1:8003 send-proxy-v2 source 127.0.0.7
EOF
nsx timeout -k 5 600 haproxy -db -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 &
wait_for 10 "haproxy to listen" eval "nsx ss -Hltn 'sport = :7000' | grep -q LISTEN"

chk='check check-interval 200ms check-timeout 1s fall 2 rise 1 check-send "GET /ok.txt HTTP/1.0\r\n\r\n" check-expect " 200 "'
cat >"$PFD_CONF" <<EOF
forward name pp1 tcp :8001 to 127.0.0.1:9001 proxy-protocol v1 $chk
forward name pp2 tcp :8002 to 127.0.0.1:9001 proxy-protocol v2 $chk
forward name nopp tcp :8009 to 127.0.0.1:9001 $chk
forward name chain tcp :8003 to 127.0.0.1:9001 proxy-protocol v2 accept-proxy 127.0.0.7,fd00::7 deny 198.51.100.0/24
forward name poolA tcp :8006 to 127.0.0.1:9001 proxy-protocol v1 from 203.0.113.0/24 accept-proxy 127.0.0.7
forward name poolB tcp :8006 to 127.0.0.1:9001 proxy-protocol v1
EOF
pfd_start

# raw SRC DST HEX [--hold S]: from SRC, sends the bytes HEX to DST, half-closes
# unless --hold; prints what came back (as text) or how it was closed.
cat >"$T/raw.py" <<'EOF'
import socket, sys, time
src, dst, data = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3])
hold = float(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--hold" else 0
host, _, port = dst.rpartition(":")
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.bind((src, 0))
s.settimeout(15)
s.connect((host.strip("[]"), int(port)))
t0 = time.monotonic()
got = b""
try:
    # portfw may reset a bad header before all of it is sent.
    s.sendall(data)
    if not hold:
        s.shutdown(socket.SHUT_WR)
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    how = "eof"
except (ConnectionResetError, BrokenPipeError):
    how = "reset"
except OSError as e:
    how = "reset" if e.errno == 107 else "error"  # ENOTCONN: reset already
except socket.timeout:
    how = "timeout"
print("%s %.1f %s" % (how, time.monotonic() - t0, got[:200].decode("latin-1").replace("\r\n", "|")))
EOF
raw() {
	nsx timeout -k 5 30 "$PFT_PY" "$T/raw.py" "$@"
}
hex() {
	printf '%b' "$1" | od -An -v -tx1 | tr -d ' \n'
}
# logged FROM PATH: the nginx log has a request for PATH with header address FROM.
logged() {
	grep -q "^$1 127.0.0.1 \"GET $2 HTTP/1.1\" 200" "$d/access.log"
}
get() {
	nsx curl -sS --fail --max-time 20 -g --interface "$1" -o /dev/null "$2"
}

info "health checks with a header keep nginx up; without one it goes down"
wait_for 10 "nopp's backend to be down" eval '[[ $(be_stat nopp 0 state) == down ]]'
expect_eq "pp1 backend" "$(be_stat pp1 0 state)" up
expect_eq "pp2 backend" "$(be_stat pp2 0 state)" up
expect_eq "pp1 failed checks" "$(be_stat pp1 0 checks_failed)" 0
expect_eq "pp2 failed checks" "$(be_stat pp2 0 checks_failed)" 0
# nginx logs the checks (headers UNKNOWN, LOCAL) without an address: '-'.
wait_for 5 "a check in nginx's log" grep -q '^- 127.0.0.1 "GET /ok.txt HTTP/1.0" 200' "$d/access.log"

info "proxy-protocol v1 and v2: nginx logs the IPv4 and IPv6 clients"
get 127.0.0.5 http://127.0.0.1:8001/ok.txt?v1-4
get fd00::5 "http://[fd00::1]:8001/ok.txt?v1-6"
get 127.0.0.5 http://127.0.0.1:8002/ok.txt?v2-4
get fd00::5 "http://[fd00::1]:8002/ok.txt?v2-6"
for q in v1-4 v2-4; do
	wait_for 5 "nginx to log 127.0.0.5 for $q" logged 127.0.0.5 "/ok.txt?$q"
done
for q in v1-6 v2-6; do
	wait_for 5 "nginx to log fd00::5 for $q" logged fd00::5 "/ok.txt?$q"
done

info "haproxy send-proxy-v2 -> accept-proxy -> proxy-protocol v2: the client arrives"
get 127.0.0.5 http://127.0.0.1:7000/ok.txt?chain
wait_for 5 "nginx to log 127.0.0.5 through both" logged 127.0.0.5 "/ok.txt?chain"
expect_eq "chain conns" "$(fwd_stat chain conns)" 1
expect_eq "chain proxy_errors" "$(fwd_stat chain proxy_errors)" 0

info "portfw conns shows the client the header named"
nsx curl -sS --max-time 30 --interface 127.0.0.5 -o /dev/null http://127.0.0.1:7000/big.bin &
slow=$!
wait_for 10 "the chain flow to be listed" eval '[[ $(nconns chain) == 1 ]]'
c=$(pf conns -j | jget "[c for c in d if c['forward'] == 'chain'][0]['client']")
expect_in "chain flow client" "$c" "127.0.0.5:"
kill "$slow" 2>/dev/null || true
wait "$slow" 2>/dev/null || true

info "a v1 header of a trusted proxy, IPv6 client, over IPv6"
r=$(raw fd00::7 "[fd00::1]:8003" "$(hex 'PROXY TCP6 2001:db8::9 fd00::1 40000 8003\r\nGET /ok.txt?v1in HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')")
expect_in "v1 header answer" "$r" "200 OK"
wait_for 5 "nginx to log 2001:db8::9" logged 2001:db8::9 "/ok.txt?v1in"

info "the ACL judges the header's address"
denied0=$(fwd_stat chain denied)
r=$(raw 127.0.0.7 127.0.0.1:8003 "$(hex 'PROXY TCP4 198.51.100.1 127.0.0.1 40000 8003\r\nGET /ok.txt?denied HTTP/1.1\r\nHost: x\r\n\r\n')")
expect_eq "denied client" "${r%% *}" reset
expect_eq "chain denied" "$(fwd_stat chain denied)" $((denied0 + 1))

info "the header's address picks the 'from' pool"
r=$(raw 127.0.0.7 127.0.0.1:8006 "$(hex 'PROXY TCP4 203.0.113.5 127.0.0.1 40000 8006\r\nGET /ok.txt?poolA HTTP/1.1\r\nHost: x\r\n\r\n')")
expect_in "pool A answer" "$r" "200 OK"
r=$(raw 127.0.0.7 127.0.0.1:8006 "$(hex 'PROXY TCP4 192.0.2.50 127.0.0.1 40000 8006\r\nGET /ok.txt?poolB HTTP/1.1\r\nHost: x\r\n\r\n')")
expect_in "pool B answer" "$r" "200 OK"
wait_for 5 "nginx to log 203.0.113.5" logged 203.0.113.5 "/ok.txt?poolA"
wait_for 5 "nginx to log 192.0.2.50" logged 192.0.2.50 "/ok.txt?poolB"
expect_eq "poolA conns" "$(fwd_stat poolA conns)" 1
expect_eq "poolB conns" "$(fwd_stat poolB conns)" 1

info "from an untrusted source the header is data"
r=$(raw 127.0.0.9 127.0.0.1:8003 "$(hex 'PROXY TCP4 192.0.2.99 127.0.0.1 40000 8003\r\n')")
expect_in "untrusted answer" "$r" "400 Bad Request"
wait_for 5 "nginx to log the untrusted source" grep -q '^127.0.0.9 127.0.0.1 "PROXY TCP4 192.0.2.99' "$d/access.log"
grep -q '^192.0.2.99 ' "$d/access.log" && fail "the untrusted header was honoured"

info "malformed, truncated and late headers are closed and counted"
e0=$(fwd_stat chain proxy_errors)
r=$(raw 127.0.0.7 127.0.0.1:8003 "$(hex 'GET / HTTP/1.0\r\n\r\n')")
expect_eq "no header" "${r%% *}" reset
r=$(raw 127.0.0.7 127.0.0.1:8003 "$(hex 'PROXY TCP4 1.2.3.400 127.0.0.1 1 2\r\n')")
expect_eq "a bad v1 address" "${r%% *}" reset
r=$(raw 127.0.0.7 127.0.0.1:8003 "$(hex '\r\n\r\n\0\r\nQUIT\n\x21\x12\x00\x0c\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00\x02')")
expect_eq "a v2 UDP header" "${r%% *}" reset
r=$(raw 127.0.0.7 127.0.0.1:8003 "$(hex 'PROXY TCP4 1.2.3.4 ')")
expect_eq "a truncated header, then EOF" "${r%% *}" reset
r=$(raw 127.0.0.7 127.0.0.1:8003 "$(hex 'PROXY TCP4 1.2.3.4 ')" --hold 10)
read -r how secs _ <<<"$r"
expect_eq "a truncated header, held" "$how" reset
awk -v s="$secs" 'BEGIN { exit !(s >= 2.8 && s < 6) }' || fail "closed after ${secs}s, expected 3s"
expect_eq "chain proxy_errors" "$(fwd_stat chain proxy_errors)" $((e0 + 5))
grep -q "connection from 127.0.0.7:[0-9]* closed: no PROXY header" "$PFD_LOG" ||
	fail "the log does not say why: $(tail -5 "$PFD_LOG")"

info "save keeps the options"
s=$(pf save)
expect_in "save" "$s" "proxy-protocol v2 accept-proxy 127.0.0.7/32,fd00::7/128"
expect_in "save" "$s" "proxy-protocol v1"

pfd_stop
pft_done
