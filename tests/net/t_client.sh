#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The client's address, kernel and user engine:
#
#   client C 198.18.1.1 --- out 198.18.1.2  gateway G  10.9.0.1 br0 --- S 10.9.0.2 (server)
#                                                                   `--- L 10.9.0.3 (a LAN host)
#                                           10.9.1.1, .100 vpn  --- V 10.9.1.2 (server whose
#                                                                      default route is elsewhere)
#
# G has no default route at first: C's connection to S keeps C's address
# (kernel engine, no -W); a default route that appears is followed without a
# reload (the log names the outside interface) and changes nothing of that;
# L through G's outside address is hairpin, masqueraded (S sees G), over
# IPv4 and IPv6; G itself
# reaches its forwards, a loopback backend (127.0.0.1 -> 127.0.0.1), and a
# host elsewhere through a loopback listen address; C reaches a loopback
# backend (route_localnet set on the receiving interface, said in the log);
# seed 004's VPN server V answers only with 'masquerade' (the gateway's
# address) or 'masquerade ADDR' (that address), in both engines, and
# 'portfw explain' names 'masquerade' before; at exit
# a forward on every address with a loopback backend follows an interface
# that appears; every sysctl portfwd changed is as it was (ip_forward
# included) and its table is gone.
source "$(dirname "$0")/lib.sh"
pft_init

command -v nft >/dev/null || fail "nft not installed"
G=$NS
ns_add c
C=$NS_LAST
ns_add s
S=$NS_LAST
ns_add l
L=$NS_LAST
ns_add v
V=$NS_LAST

ip link add out netns "$G" type veth peer name eth0 netns "$C"
ip -n "$G" addr add 198.18.1.2/24 dev out
ip -n "$G" addr add 2001:db8:1::2/64 dev out nodad
ip -n "$G" link set out up
ip -n "$C" addr add 198.18.1.1/24 dev eth0
ip -n "$C" addr add 2001:db8:1::1/64 dev eth0 nodad
ip -n "$C" link set eth0 up
ip -n "$G" link add br0 type bridge
ip -n "$G" addr add 10.9.0.1/24 dev br0
ip -n "$G" addr add 2001:db8:9::1/64 dev br0 nodad
ip -n "$G" link set br0 up
n=2
for h in "$S" "$L"; do
	ip link add "lan$n" netns "$G" type veth peer name eth0 netns "$h"
	ip -n "$G" link set "lan$n" master br0 up
	ip -n "$h" addr add "10.9.0.$n/24" dev eth0
	ip -n "$h" addr add "2001:db8:9::$n/64" dev eth0 nodad
	ip -n "$h" link set eth0 up
	ip -n "$h" route add default via 10.9.0.1
	ip -n "$h" -6 route add default via 2001:db8:9::1
	n=$((n + 1))
done
# Seed 004: the VPN's server answers through its own router, not through us.
ip link add vpn netns "$G" type veth peer name eth0 netns "$V"
ip -n "$G" addr add 10.9.1.1/24 dev vpn
ip -n "$G" addr add 10.9.1.100/24 dev vpn
ip -n "$G" link set vpn up
ip -n "$V" addr add 10.9.1.2/24 dev eth0
ip -n "$V" link set eth0 up
ip -n "$V" route add default via 10.9.1.254
nsx sysctl -qw net.ipv4.ip_forward=0

# whoami_server NS ADDR PORT: answers each connection with the peer's address.
whoami_server() {
	in_ns "$1" timeout 120 "$PFT_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(64)
while True:
    c, a = s.accept()
    try:
        c.sendall((a[0] + "\n").encode())
    finally:
        c.close()
' "$2" "$3" >/dev/null 2>&1 &
}

# whoami NS ADDR PORT: the address the server saw, or "none".
whoami() {
	in_ns "$1" timeout 8 "$PFT_PY" -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=4)
    print(s.recv(100).decode().strip() or "none")
except OSError:
    print("none")
' "$2" "$3"
}

sysctl_of() {
	nsx cat "/proc/sys/net/ipv4/$1"
}

whoami_server "$S" 0.0.0.0 8080
whoami_server "$S" :: 8081
whoami_server "$V" 0.0.0.0 8080
whoami_server "$G" 127.0.0.1 9002
wait_for 5 "the servers" eval "[[ \$(whoami $S 10.9.0.2 8080) == 10.9.0.2 ]] && [[ \$(whoami $G 127.0.0.1 9002) == 127.0.0.1 ]] && [[ \$(whoami $S 2001:db8:9::2 8081) == 2001:db8:9::2 ]]"
# IPv6 neighbours found before the first connection counts (a SYN sent while
# the bridge learns is retransmitted a second later).
for h in "$C:2001:db8:1::2" "$S:2001:db8:9::1" "$L:2001:db8:9::1" "$G:2001:db8:9::2" "$G:2001:db8:9::3" "$G:2001:db8:1::1"; do
	wait_for 5 "IPv6 neighbour ${h#*:} from ${h%%:*}" in_ns "${h%%:*}" ping -6 -c 1 -W 1 "${h#*:}" >/dev/null
done

cat >"$PFD_CONF" <<'EOF'
forward name web tcp :80 to 10.9.0.2:8080 engine kernel
forward name web6 tcp [2001:db8:1::2]:80 to [2001:db8:9::2]:8081 engine kernel
forward name lo tcp 127.0.0.1:9001 to 127.0.0.1:9002 allow-loopback engine kernel
forward name lonet tcp 198.18.1.2:81 to 127.0.0.1:9002 allow-loopback engine kernel
forward name loout tcp 127.0.0.1:9003 to 10.9.0.2:8080 engine kernel
forward name vpn tcp :82 to 10.9.1.2:8080 engine kernel
forward name vpnm tcp :83 to 10.9.1.2:8080 masquerade engine kernel
forward name vpna tcp :84 to 10.9.1.2:8080 masquerade 10.9.1.100 engine kernel
forward name vpnu tcp :85 to 10.9.1.2:8080 masquerade 10.9.1.100 engine user
forward name vpnbad tcp :86 to 10.9.1.2:8080 masquerade 10.9.1.200 engine user
EOF
pfd_start

info "no default route on the gateway: the server sees the client's own address"
expect_eq "S sees C" "$(whoami "$C" 198.18.1.2 80)" 198.18.1.1
grep -q "outside interfaces: none (no default route)" "$PFD_LOG" ||
	fail "the log does not say which interfaces are outside: $(grep 'kernel engine' "$PFD_LOG")"

info "a default route appears: followed without a reload, the client keeps its address"
ip -n "$G" route add default via 198.18.1.1
wait_for 5 "the outside interface in the log" grep -q "outside interfaces: out" "$PFD_LOG"
got=$(nsx nft list set inet portfw wan)
[[ $got == *'"out"'* ]] || fail "the wan set did not follow the default route: $got"
expect_eq "S sees C with a default route" "$(whoami "$C" 198.18.1.2 80)" 198.18.1.1

info "hairpin: a LAN host through the outside address is masqueraded"
expect_eq "S sees G for L" "$(whoami "$L" 198.18.1.2 80)" 10.9.0.1

info "IPv6: the client keeps its address, hairpin is masqueraded"
expect_eq "S sees C over IPv6" "$(whoami "$C" 2001:db8:1::2 80)" 2001:db8:1::1
expect_eq "S sees G for L over IPv6" "$(whoami "$L" 2001:db8:1::2 80)" 2001:db8:9::1

info "the gateway itself: its forwards, a loopback backend, a host through a loopback address"
got=$(whoami "$G" 198.18.1.2 80)
[[ $got == 10.9.0.1 || $got == 198.18.1.2 ]] || fail "G through its own forward: S saw '$got'"
expect_eq "G -> 127.0.0.1:9001 -> 127.0.0.1:9002" "$(whoami "$G" 127.0.0.1 9001)" 127.0.0.1
expect_eq "G -> 127.0.0.1:9003 -> S" "$(whoami "$G" 127.0.0.1 9003)" 10.9.0.1
expect_eq "route_localnet where the loopback-sourced connection leaves" "$(sysctl_of conf/br0/route_localnet)" 1

info "a client on the network reaches a loopback backend (route_localnet on the receiving interface)"
expect_eq "C -> :81 -> 127.0.0.1:9002" "$(whoami "$C" 198.18.1.2 81)" 198.18.1.1
expect_eq "route_localnet on out" "$(sysctl_of conf/out/route_localnet)" 1
expect_eq "route_localnet not on vpn" "$(sysctl_of conf/vpn/route_localnet)" 0
expect_eq "route_localnet not on all" "$(sysctl_of conf/all/route_localnet)" 0
grep -q "route_localnet = 1 (was 0): connections to or from 127/8 through out" "$PFD_LOG" ||
	fail "the log does not say route_localnet was set on out"

info "seed 004: the server's route back goes elsewhere; 'masquerade' makes it answer"
expect_eq "V without masquerade (no answer)" "$(whoami "$C" 198.18.1.2 82)" none
capture pf explain vpn from 198.18.1.1
[[ $RC == 1 ]] || fail "explain vpn: exit $RC, expected 1 (a problem blocks it): $OUT $ERR"
[[ $OUT == *'use `masquerade` on the forward'* ]] || fail "explain vpn does not name masquerade: $OUT"
expect_eq "V with masquerade sees G" "$(whoami "$C" 198.18.1.2 83)" 10.9.1.1
capture pf explain vpnm from 198.18.1.1
[[ $RC == 0 ]] || fail "explain vpnm: exit $RC, expected 0: $OUT $ERR"
expect_eq "V with masquerade 10.9.1.100" "$(whoami "$C" 198.18.1.2 84)" 10.9.1.100
expect_eq "user engine, masquerade 10.9.1.100" "$(whoami "$C" 198.18.1.2 85)" 10.9.1.100
expect_eq "user engine, masquerade from an address the gateway lacks" "$(whoami "$C" 198.18.1.2 86)" none
wait_for 5 "the warning about 10.9.1.200" grep -q "forward 'vpnbad': cannot connect from 10.9.1.200 ('masquerade')" "$PFD_LOG"
got=$(pf list -j | jget "[f['options']['masquerade'] for f in d if f['name'] in ('vpn','vpnm','vpna')]")
expect_eq "list -j masquerade" "$got" '[false, true, "10.9.1.100"]'

info "a forward that no longer needs route_localnet gives it back"
pf del name lonet >/dev/null || fail "del lonet"
expect_eq "route_localnet on out put back" "$(sysctl_of conf/out/route_localnet)" 0

info "a loopback backend on every address: every interface, and one that appears later"
pf add name lonany tcp :87 to 127.0.0.1:9002 allow-loopback engine kernel >/dev/null || fail "add lonany"
expect_eq "route_localnet on vpn" "$(sysctl_of conf/vpn/route_localnet)" 1
ip -n "$G" link add new0 type veth peer name new1
ip -n "$G" link set new0 up
ip -n "$G" link set new1 up
wait_for 5 "route_localnet on a new interface" eval "[[ \$(sysctl_of conf/new0/route_localnet) == 1 ]]"
expect_eq "C -> :87 -> 127.0.0.1:9002" "$(whoami "$C" 198.18.1.2 87)" 198.18.1.1
pf del name lonany >/dev/null || fail "del lonany"
expect_eq "route_localnet on new0 put back" "$(sysctl_of conf/new0/route_localnet)" 0

info "flushed (-k) and stopped: every sysctl as it was, the table gone"
pf flush -k >/dev/null || fail "portfw flush -k failed"
pfd_stop
expect_eq "ip_forward" "$(sysctl_of ip_forward)" 0
expect_eq "route_localnet on br0" "$(sysctl_of conf/br0/route_localnet)" 0
nsx nft list table inet portfw >/dev/null 2>&1 && fail "table inet portfw left behind"
grep -q "ip_forward = 0 (put back)" "$PFD_LOG" || fail "the log does not say ip_forward was put back"
pft_done
