#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 'transparent' forwards of the user engine, across hosts:
#
#   client C 198.51.100.2     --- wan  gateway G (portfwd)  lan --- server S 10.0.0.2
#            2001:db8:1::2             198.51.100.1  10.0.0.1           2001:db8:2::2
#                                      2001:db8:1::1 2001:db8:2::1      (default route: G)
#
# A server that answers each TCP connection and UDP datagram with the address
# it came from sees the client's (address and, for UDP, port) through a
# transparent forward, IPv4 and IPv6, and the gateway's through a plain one;
# 'portfw conns' lists the client; 'portfw save' keeps the option. The
# setup (table inet portfw_tproxy, the fwmark rules, routing table 28774)
# comes with the first transparent forward, stays while a deleted one's flow
# lives (and that flow keeps working), goes with it and at exit. Without
# CAP_NET_ADMIN (and CAP_NET_RAW) a transparent forward is refused, named,
# with the reason, at start and live, and nothing changes.
. "$(dirname "$0")/lib.sh"
pft_init

command -v nft >/dev/null || fail "nft not installed"
command -v capsh >/dev/null || fail "capsh not installed (libcap2-bin)"
# The backend's route back goes through the gateway: what 'transparent' needs.
topo_gateway
ip -n "$G" addr add 2001:db8:1::1/64 dev wan nodad
ip -n "$G" addr add 2001:db8:2::1/64 dev lan nodad
ip -n "$C" addr add 2001:db8:1::2/64 dev eth0 nodad
ip -n "$S" addr add 2001:db8:2::2/64 dev eth0 nodad
ip -n "$S" -6 route add default via 2001:db8:2::1
# Not a router: a reply that is not delivered to portfwd's socket goes nowhere.
ip netns exec "$G" sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0

info "server on S: says who it sees, TCP and UDP, IPv4 and IPv6"
cat >"$T/whoami.py" <<'EOF'
import socket, sys, threading

def peer(a):
    h = a[0][7:] if a[0].startswith("::ffff:") else a[0]
    return "%s %d" % (h, a[1])

def tcp_client(c, a):
    # The address, then every line echoed until the client closes.
    with c:
        c.sendall((peer(a) + "\n").encode())
        f = c.makefile("rb")
        for line in f:
            c.sendall(line)

def tcp():
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", 8080))
    s.listen(64)
    while True:
        c, a = s.accept()
        threading.Thread(target=tcp_client, args=(c, a), daemon=True).start()

def udp():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", 8080))
    while True:
        d, a = s.recvfrom(2048)
        s.sendto((peer(a)).encode(), a)

threading.Thread(target=udp, daemon=True).start()
print("listening", flush=True)
tcp()
EOF
in_ns "$S" timeout -k 5 600 "$PFT_PY" "$T/whoami.py" >"$T/whoami.out" 2>&1 &
wait_for 10 "the server on S" grep -qs '^listening' "$T/whoami.out"
wait_for 10 "the server's TCP port" eval \
	"in_ns '$S' ss -Hltn 'sport = :8080' | grep -q LISTEN"

# seen tcp|udp HOST PORT: what the server says it saw, asked from C (for UDP,
# followed by the client's own port).
cat >"$T/ask.py" <<'EOF'
import socket, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
if proto == "tcp":
    c = socket.create_connection((host, port), timeout=5)
    f = c.makefile("rb")
    print(f.readline().decode().strip())
else:
    c = socket.socket(fam, socket.SOCK_DGRAM)
    c.settimeout(2)
    for _ in range(3):
        c.sendto(b"who", (host, port))
        try:
            print(c.recv(2048).decode(), c.getsockname()[1])
            break
        except socket.timeout:
            pass
    else:
        print("timeout")
EOF
seen() {
	in_ns "$C" timeout 20 "$PFT_PY" "$T/ask.py" "$@" 2>&1 || true
}

# The gateway's state of the setup, one line per part found.
tproxy_state() {
	{
		in_ns "$G" ip rule show | grep -F 'fwmark 0x20000000/0x20000000 lookup 28774' |
			sed 's/^/rule4 /'
		in_ns "$G" ip -6 rule show | grep -F 'fwmark 0x20000000/0x20000000 lookup 28774' |
			sed 's/^/rule6 /'
		in_ns "$G" ip route show table 28774 | sed 's/^/route4 /'
		in_ns "$G" ip -6 route show table 28774 | sed 's/^/route6 /'
		in_ns "$G" nft list tables | grep -F portfw_tproxy | sed 's/^/nft /'
	} 2>/dev/null || true
}
expect_setup() {
	local s
	s=$(tproxy_state)
	for part in rule4 rule6 route4 route6 nft; do
		[[ $s == *"$part "* ]] || fail "$1: no $part of the transparent setup in: $s"
	done
	[[ $(grep -c '^rule4' <<<"$s") == 1 && $(grep -c '^rule6' <<<"$s") == 1 ]] ||
		fail "$1: the rule should be there once per family: $s"
}
expect_clean() {
	local s
	s=$(tproxy_state)
	[[ -z $s ]] || fail "$1: left behind: $s"
}
expect_clean "before portfwd"

cat >"$PFD_CONF" <<EOF
forward name tp tcp,udp 198.51.100.1:8000 to 10.0.0.2:8080 transparent
forward name plain tcp,udp 198.51.100.1:8001 to 10.0.0.2:8080
forward name tp6 tcp,udp [2001:db8:1::1]:8006 to [2001:db8:2::2]:8080 transparent
forward name dual tcp :8002 to 10.0.0.2:8080 transparent
EOF
pfd_start -e user
expect_setup "with transparent forwards"
expect_in "log" "$(cat "$PFD_LOG")" "rule 'fwmark 0x20000000/0x20000000 lookup 28774'"

info "TCP, IPv4: the server sees the client through 'transparent', the gateway without"
r=$(seen tcp 198.51.100.1 8000)
expect_eq "tcp via tp (address)" "${r%% *}" 198.51.100.2
r=$(seen tcp 198.51.100.1 8001)
expect_eq "tcp via plain (address)" "${r%% *}" 10.0.0.1
info "TCP over a dual-stack listener (an IPv4 client as ::ffff:...)"
r=$(seen tcp 198.51.100.1 8002)
expect_eq "tcp via dual (address)" "${r%% *}" 198.51.100.2
info "an IPv6 client of an IPv4 backend: dropped and counted, never sent from the gateway"
r=$(seen tcp 2001:db8:1::1 8002)
[[ $r != 10.0.0.1* && $r != 2001:db8:2::1* ]] || fail "dual, IPv6 client: relayed from the gateway: $r"
expect_eq "dual: refused" "$(fwd_stat dual refused)" 1
expect_eq "dual: backend failures (not the backend's fault)" "$(be_stat dual 0 failed)" 0
expect_in "log" "$(cat "$PFD_LOG")" \
	"transparent: client 2001:db8:1::2 cannot be the source toward 10.0.0.2:8080: another address family"
info "TCP, IPv6"
r=$(seen tcp 2001:db8:1::1 8006)
expect_eq "tcp via tp6 (address)" "${r%% *}" 2001:db8:1::2

info "UDP: the session's socket has the client's address and port"
r=$(seen udp 198.51.100.1 8000)
read -r a p cp <<<"$r"
expect_eq "udp via tp (address)" "$a" 198.51.100.2
expect_eq "udp via tp (port: the client's own)" "$p" "$cp"
r=$(seen udp 198.51.100.1 8001)
expect_eq "udp via plain (address)" "${r%% *}" 10.0.0.1
r=$(seen udp 2001:db8:1::1 8006)
read -r a p cp <<<"$r"
expect_eq "udp via tp6 (address)" "$a" 2001:db8:1::2
expect_eq "udp via tp6 (port)" "$p" "$cp"

info "'transparent' and 'masquerade' exclude each other"
capture pf add name both tcp 198.51.100.1:8009 to 10.0.0.2:8080 transparent masquerade
expect_eq "portfw add transparent masquerade: status" "$RC" 2
expect_in "portfw add transparent masquerade" "$ERR" "'transparent' and 'masquerade' exclude each other"

info "'portfw save' keeps the option; 'portfw conns' lists the client"
expect_in "save" "$(pf save)" "forward name tp tcp,udp 198.51.100.1:8000 to 10.0.0.2:8080 transparent"
# A flow held open: a coprocess in C, one line at a time.
coproc HOLD { in_ns "$C" timeout 60 "$PFT_PY" -u -c '
import socket, sys
c = socket.create_connection(("198.51.100.1", 8000), timeout=10)
f = c.makefile("rb")
print(f.readline().decode().strip(), flush=True)
for line in sys.stdin:
    if line.strip() == "close":
        break
    c.sendall(line.encode())
    print(f.readline().decode().strip(), flush=True)
'; }
read -r -t 10 held <&"${HOLD[0]}" || fail "the held flow did not start"
expect_eq "held flow (address)" "${held%% *}" 198.51.100.2
j=$(pf conns -j)
expect_eq "conns: the client of the held flow" \
	"$(jget "[c['client'] for c in d if c['forward'] == 'tp' and c['proto'] == 'tcp'][0].split(':')[0]" <<<"$j")" \
	198.51.100.2

info "live: the last transparent forwards go; the setup waits for the held flow"
pf del name tp6 >/dev/null
pf del name dual >/dev/null
expect_setup "with tp left"
pf del name tp >/dev/null
expect_setup "with tp deleted and its flow open"
echo ping >&"${HOLD[1]}"
read -r -t 10 echoed <&"${HOLD[0]}" || fail "the held flow of the deleted forward stopped"
expect_eq "the held flow of the deleted forward" "$echoed" ping
echo close >&"${HOLD[1]}"
wait_for 5 "the setup to go with the last flow" eval '[[ -z $(tproxy_state) ]]'
r=$(seen tcp 198.51.100.1 8001)
expect_eq "plain forward still (address)" "${r%% *}" 10.0.0.1

info "live: a transparent forward added comes with its setup"
pf add name tp tcp,udp 198.51.100.1:8000 to 10.0.0.2:8080 transparent >/dev/null
expect_setup "after add"
r=$(seen tcp 198.51.100.1 8000)
expect_eq "tcp via tp after add" "${r%% *}" 198.51.100.2
r=$(seen udp 198.51.100.1 8000)
expect_eq "udp via tp after add" "${r%% *}" 198.51.100.2
info "a reload to a table without it removes it"
echo "forward name plain tcp,udp 198.51.100.1:8001 to 10.0.0.2:8080" >"$PFD_CONF"
pf reload >/dev/null
wait_for 5 "the setup to go after the reload (no flow left)" eval '[[ -z $(tproxy_state) ]]'
pf add name tp tcp 198.51.100.1:8000 to 10.0.0.2:8080 transparent >/dev/null
expect_setup "after the second add"

info "SIGTERM: nothing is left behind"
pfd_stop
expect_clean "after portfwd exited"

info "without CAP_NET_ADMIN and CAP_NET_RAW: refused, named, nothing changes"
cat >"$T/nocap" <<EOF
#!/bin/sh
exec capsh --drop=cap_net_admin,cap_net_raw -- -c 'exec "\$@"' sh "$PORTFWD" "\$@"
EOF
chmod +x "$T/nocap"
real=$PORTFWD
PORTFWD=$T/nocap
printf 'forward name plain tcp 198.51.100.1:8001 to 10.0.0.2:8080\nforward name tp tcp 198.51.100.1:8000 to 10.0.0.2:8080 transparent\n' >"$PFD_CONF"
capture ip netns exec "$G" "$T/nocap" -e user -c "$PFD_CONF" -s "$PFD_SOCK"
[[ $RC != 0 ]] || fail "portfwd started with a transparent forward it cannot carry"
expect_in "start refused" "$ERR" "$PFD_CONF:2: transparent: portfwd may not bind to the client's address (IP_TRANSPARENT: Operation not permitted); it needs CAP_NET_ADMIN"
expect_clean "after the refused start"
# With CAP_NET_RAW, IP_TRANSPARENT is allowed, the routing rule is not.
sed -i 's/cap_net_admin,cap_net_raw/cap_net_admin/' "$T/nocap"
capture ip netns exec "$G" "$T/nocap" -e user -c "$PFD_CONF" -s "$PFD_SOCK"
[[ $RC != 0 ]] || fail "portfwd started with a transparent forward it cannot carry (CAP_NET_RAW)"
expect_in "start refused (CAP_NET_RAW)" "$ERR" "$PFD_CONF:2: transparent: cannot add the routing rule 'pref 100 fwmark 0x20000000/0x20000000 lookup 28774' (IPv4): Operation not permitted (it needs CAP_NET_ADMIN)"
expect_clean "after the refused start (CAP_NET_RAW)"
sed -i 's/cap_net_admin/cap_net_admin,cap_net_raw/' "$T/nocap"
echo "forward name plain tcp 198.51.100.1:8001 to 10.0.0.2:8080" >"$PFD_CONF"
pfd_start -e user
before=$(pf save)
capture pf add name tp tcp 198.51.100.1:8000 to 10.0.0.2:8080 transparent
expect_eq "portfw add status" "$RC" 1
expect_in "add refused" "$ERR" "forward 'tp': transparent: portfw"
expect_in "add refused (why)" "$ERR" "IP_TRANSPARENT: Operation not permitted"
expect_eq "the table after the refused add" "$(pf save)" "$before"
expect_refused 198.51.100.1:8000 "the refused forward"
expect_clean "after the refused add"
r=$(seen tcp 198.51.100.1 8001)
expect_eq "plain forward after the refused add (address)" "${r%% *}" 10.0.0.1
pfd_stop
PORTFWD=$real
expect_clean "at the end"
pft_done
