#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The kernel engine's whole-host forwards, forwards on an interface name and
# port triggers, across hosts:
#
#   client C  198.51.100.2 --- wan  198.51.100.1, .10 \
#                                                    gateway G  10.0.0.1 br0 --- H1 10.0.0.2
#   client C2 203.0.113.2  --- wan2 203.0.113.1      /                      |--- H2 10.0.0.3
#                                                                            `--- I  10.0.0.4
#
# 'all 198.51.100.10': ping, TCP and UDP reach H1 with the client's own
# address, while a port forward on the same address keeps its own backend;
# 'all any ... from 203.0.113.0/24' (the mfw form) serves C2 and not C;
# 'tcp %wan2:8080' keeps working when wan2's address changes, and is not
# forwarded for a connection arriving on wan (kernel and user engine);
# 'trigger tcp 6112-6119 on tcp 7000': I connects out to C:7000, the range
# opens to I (C reaches I's server in it, with its own address), a second
# host does not take it while it is held, it closes after its timeout and
# then goes to the next host that asks, and a live change of the trigger
# keeps its holder; a change overlapping it is refused
# with FILE:LINE and leaves the ruleset byte for byte; save round-trips.
source "$(dirname "$0")/lib.sh"
pft_init

PF_IDS=$PORTFW_BUILD/tests/pf_ids
command -v nft >/dev/null || fail "nft not installed"
command -v socat >/dev/null || fail "socat not installed"
G=$NS
ns_add c
C=$NS_LAST
ns_add c2
C2=$NS_LAST
ns_add h1
H1=$NS_LAST
ns_add h2
H2=$NS_LAST
ns_add i
I=$NS_LAST

ip link add wan netns "$G" type veth peer name eth0 netns "$C"
ip -n "$G" addr add 198.51.100.1/24 dev wan
ip -n "$G" addr add 198.51.100.10/24 dev wan
ip -n "$G" addr add 198.51.100.11/24 dev wan
ip -n "$G" link set wan up
ip -n "$C" addr add 198.51.100.2/24 dev eth0
ip -n "$C" link set eth0 up
# C may reach wan2's address too, through wan: it must not be forwarded.
ip -n "$C" route add 203.0.113.0/24 via 198.51.100.1
ip link add wan2 netns "$G" type veth peer name eth0 netns "$C2"
ip -n "$G" addr add 203.0.113.1/24 dev wan2
ip -n "$G" link set wan2 up
ip -n "$C2" addr add 203.0.113.2/24 dev eth0
ip -n "$C2" link set eth0 up
# No route from the clients to the private LAN, as on the internet.
ip -n "$G" link add br0 type bridge
ip -n "$G" addr add 10.0.0.1/24 dev br0
ip -n "$G" link set br0 up
n=2
for h in "$H1" "$H2" "$I"; do
	ip link add "lan$n" netns "$G" type veth peer name eth0 netns "$h"
	ip -n "$G" link set "lan$n" master br0 up
	ip -n "$h" addr add "10.0.0.$n/24" dev eth0
	ip -n "$h" link set eth0 up
	ip -n "$h" route add default via 10.0.0.1
	n=$((n + 1))
done
# The inside hosts' own connections out are masqueraded, as on any home
# gateway (a table of the test's, not portfw's).
nsx nft -f - <<'EOF'
table ip pftest {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname { "wan", "wan2" } ip saddr 10.0.0.0/24 masquerade
	}
}
EOF

# whoami NS NAME ADDR PORT: TCP and UDP servers (socat) answering
# "NAME saw PEER" to every connection or datagram.
whoami() {
	in_ns "$1" timeout -k 5 600 socat TCP-LISTEN:"$4",bind="$3",fork,reuseaddr \
		SYSTEM:"echo $2 saw \$SOCAT_PEERADDR" >/dev/null 2>&1 &
	# The UDP answer reads the datagram first: socat writes it to the
	# command, and fails without forwarding the answer (EPIPE) if the
	# command has already exited.
	in_ns "$1" timeout -k 5 600 socat UDP-RECVFROM:"$4",bind="$3",fork \
		SYSTEM:"read -r _; echo $2 saw \$SOCAT_PEERADDR" >/dev/null 2>&1 &
	wait_for 10 "$2's servers on $3:$4" eval "in_ns $1 ss -Hltn 'sport = :$4' | grep -q LISTEN &&
		in_ns $1 ss -Hlun 'sport = :$4' | grep -q $4"
}
# ask NS ADDR PORT tcp|udp: what the server there answers (empty if nothing).
ask() {
	if [[ $4 == tcp ]]; then
		in_ns "$1" timeout 10 socat -T3 - TCP:"$2:$3",connect-timeout=3 </dev/null 2>/dev/null || true
	else
		echo hello | in_ns "$1" timeout 10 socat -T3 -t3 - UDP:"$2:$3" 2>/dev/null || true
	fi
}
# probe_from NS ADDR:PORT: open, refused, timeout (pft_tcp.py in NS).
probe_from() {
	in_ns "$1" timeout -k 5 20 "$PFT_PY" "$PFT_TCP" probe "$2" --wait 2
}
# inechos NS: ICMP echo requests NS has received.
inechos() {
	in_ns "$1" awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "InEchos") c = i; h = 1 } else print $c }' /proc/net/snmp
}
# holder NAME: the host that holds trigger NAME's range now ("" if none).
holder() {
	pf list -j | jget "[f for f in d if f['name'] == '$1'][0]['trigger'].get('holder', '')"
}

info "servers: H1 whole host (5000 tcp+udp), H2 on 80, I in the trigger range, C the control port"
whoami "$H1" H1 10.0.0.2 5000
whoami "$I" I 10.0.0.4 6113
in_ns "$H2" timeout -k 5 600 "$PF_IDS" serve -l 10.0.0.3:80=H2 >"$T/h2.out" 2>&1 &
in_ns "$C" timeout -k 5 600 "$PF_IDS" serve -l 198.51.100.2:7000=CTL >"$T/ctl.out" 2>&1 &
wait_for 10 "id servers" eval 'grep -qs listening "$T/h2.out" && grep -qs listening "$T/ctl.out"'

info "'all' needs the kernel engine: refused under the user engine, with FILE:LINE"
cat >"$T/user.conf" <<'EOF'
forward name web tcp :80 to 10.0.0.3
forward name host all 198.51.100.10 to 10.0.0.2
EOF
capture "$PORTFWD" -c "$T/user.conf" -t
expect_eq "portfwd -t of an 'all' forward under the user engine: status" "$RC" 1
expect_in "the refusal" "$ERR" "$T/user.conf:2: 'all' forwards every protocol and needs the kernel engine: add 'engine kernel' or run portfwd -e kernel"

cat >"$PFD_CONF" <<'EOF'
forward name web tcp 198.51.100.10:80 to 10.0.0.3:80
forward name host all 198.51.100.10 to 10.0.0.2
forward name mfw-1 all any to 10.0.0.2 balance pref from 203.0.113.0/24 engine kernel
forward name pool all 198.51.100.11 to 10.0.0.2, 10.0.0.3 check check-port 5000 check-interval 300ms check-timeout 200ms fall 2 rise 2
forward name ifw tcp %wan2:8080 to 10.0.0.2:5000
forward name ifu tcp %wan2:8081 to 10.0.0.2:5000 engine user
trigger name game tcp 6112-6119 on tcp 7000 timeout 3s
EOF
pfd_start -e kernel -W wan,wan2

info "whole host: ping, TCP and UDP to 198.51.100.10 reach H1, which sees the client"
e0=$(inechos "$H1")
in_ns "$C" ping -c 3 -i 0.2 -W 2 198.51.100.10 >"$T/ping.out" 2>&1 || fail "ping 198.51.100.10: $(cat "$T/ping.out")"
e1=$(inechos "$H1")
((e1 - e0 >= 3)) || fail "H1 received $((e1 - e0)) echo requests, expected 3 (the gateway answered itself?)"
expect_eq "TCP to the whole-host address" "$(ask "$C" 198.51.100.10 5000 tcp)" "H1 saw 198.51.100.2"
expect_eq "UDP to the whole-host address" "$(ask "$C" 198.51.100.10 5000 udp)" "H1 saw 198.51.100.2"
info "the first FTP port adds the helper's chains as a diff (no reload), the last one takes them"
nsx nft list chain inet portfw helpers >/dev/null 2>&1 && fail "helper chains without FTP ports"
pf add name ftpx tcp :2121 to 10.0.0.3 ftp
nsx nft list chain inet portfw helpers | grep 'ct helper set "ftp-fwd"' >/dev/null || fail "no helper chain after an FTP forward"
pf del name ftpx
nsx nft list chain inet portfw helpers >/dev/null 2>&1 && fail "the helper chains stayed after the last FTP forward"
grep -q "loading the table whole" "$PFD_LOG" && fail "a whole reload: $(grep "loading the table whole" "$PFD_LOG")"

info "a port forward on the same address keeps its own backend"
expect_eq "tcp 198.51.100.10:80" "$(in_ns "$C" timeout 10 socat -T3 - TCP:198.51.100.10:80 </dev/null)" "H2"
conn=$(pf conns -j | jget "[c['conntrack'] for c in d if c['forward'] == 'host' and c['proto'] == 'udp'][0]")
expect_in "conntrack entry of the whole-host forward" "$conn" "src=10.0.0.2 dst=198.51.100.2 sport=5000"
got=$(pf conns -j | jget "len([c for c in d if c['forward'] == 'host' and c['proto'] == 'icmp'])")
((got >= 1)) || fail "portfw conns lists no ICMP entry of the whole-host forward"

info "a whole-host pool follows its health check (H2 has no port 5000: down)"
wait_for 10 "H2 marked down in the pool" eval \
	"[[ \$(pf list -j | jget \"[f for f in d if f['name']=='pool'][0]['backends'][1]['state']\") == down ]]"
for k in 1 2 3 4 5 6; do
	expect_eq "TCP to the pool's address ($k)" "$(ask "$C" 198.51.100.11 5000 tcp)" "H1 saw 198.51.100.2"
done

info "'all any ... from 203.0.113.0/24' (the mfw form) serves C2, not C"
e0=$(inechos "$H1")
in_ns "$C2" ping -c 2 -i 0.2 -W 2 203.0.113.1 >"$T/ping2.out" 2>&1 || fail "ping 203.0.113.1 from C2: $(cat "$T/ping2.out")"
e1=$(inechos "$H1")
((e1 - e0 >= 2)) || fail "H1 received $((e1 - e0)) of C2's echo requests, expected 2"
expect_eq "TCP from C2 to any gateway address" "$(ask "$C2" 203.0.113.1 5000 tcp)" "H1 saw 203.0.113.2"
e0=$(inechos "$H1")
in_ns "$C" ping -c 2 -i 0.2 -W 2 198.51.100.1 >/dev/null 2>&1 || fail "the gateway did not answer C's ping itself"
expect_eq "C's echo requests at H1" "$(inechos "$H1")" "$e0"
expect_eq "TCP from C (not in the pool's sources)" "$(probe_from "$C" 198.51.100.1:5000)" refused

info "interface forward: %wan2:8080 from C2; not for a connection arriving on wan"
expect_eq "C2 through %wan2:8080" "$(ask "$C2" 203.0.113.1 8080 tcp)" "H1 saw 203.0.113.2"
expect_eq "C to 198.51.100.1:8080 (arrives on wan)" "$(probe_from "$C" 198.51.100.1:8080)" refused
expect_eq "C to wan2's address 203.0.113.1:8080 (arrives on wan)" "$(probe_from "$C" 203.0.113.1:8080)" refused
info "user engine: %wan2:8081 is a socket bound to wan2 (SO_BINDTODEVICE)"
nsx ss -Hltn 'sport = :8081' | grep -q '%wan2:8081' || fail "no socket bound to wan2: $(nsx ss -Hltn 'sport = :8081')"
expect_eq "C2 through %wan2:8081 (user engine)" "$(ask "$C2" 203.0.113.1 8081 tcp)" "H1 saw 10.0.0.1"
expect_eq "C to 198.51.100.1:8081 (arrives on wan)" "$(probe_from "$C" 198.51.100.1:8081)" refused
info "wan2's address changes: the interface forwards keep working"
ip -n "$G" addr del 203.0.113.1/24 dev wan2
ip -n "$G" addr add 203.0.113.9/24 dev wan2
expect_eq "C2 through the new address (kernel)" "$(ask "$C2" 203.0.113.9 8080 tcp)" "H1 saw 203.0.113.2"
expect_eq "C2 through the new address (user)" "$(ask "$C2" 203.0.113.9 8081 tcp)" "H1 saw 10.0.0.1"

info "trigger: closed until an inside host connects out to the control port"
expect_eq "trigger range before" "$(probe_from "$C" 198.51.100.1:6113)" refused
expect_eq "I's control connection out" "$(in_ns "$I" "$PF_IDS" count -c 198.51.100.2:7000 -n 1)" "$(printf 'CTL 1\nFAILED 0')"
wait_for 5 "the range to open to I" eval '[[ $(holder game) == 10.0.0.4 ]]'
expect_eq "C through the open range" "$(ask "$C" 198.51.100.1 6113 tcp)" "I saw 198.51.100.2"
list=$(pf list)
expect_in "portfw list shows the open trigger" "$list" "open to 10.0.0.4"
info "a second host does not take a range that is held"
expect_eq "H2's control connection out" "$(in_ns "$H2" "$PF_IDS" count -c 198.51.100.2:7000 -n 1)" "$(printf 'CTL 1\nFAILED 0')"
sleep 0.3
expect_eq "holder while H2 asks" "$(holder game)" 10.0.0.4
grep -q "is held by 10.0.0.4" "$PFD_LOG" || fail "the daemon did not log that the range is held"
info "the range closes after its timeout (3 s)"
wait_for 8 "the range to close" eval '[[ $(probe_from "$C" 198.51.100.1:6113) == refused ]]'
expect_eq "holder after the timeout" "$(holder game)" ""

info "a change overlapping the trigger is refused with FILE:LINE; the ruleset stays byte for byte"
nsx nft list table inet portfw >"$T/before.nft"
cp "$PFD_CONF" "$T/good.conf"
echo "forward name clash tcp :6115 to 10.0.0.3" >>"$PFD_CONF"
capture pf reload
expect_eq "reload with an overlap: status" "$RC" 1
expect_in "reload with an overlap" "$ERR" "$PFD_CONF:8: tcp :6115 overlaps trigger 'game' ($PFD_CONF:7)"
capture pf trigger name t2 udp,tcp 6000-6200 on udp 9999
expect_eq "a trigger over others: status" "$RC" 1
expect_in "a trigger over others" "$ERR" "overlaps"
cp "$T/good.conf" "$PFD_CONF"
nsx nft list table inet portfw >"$T/after.nft"
cmp -s "$T/before.nft" "$T/after.nft" || fail "the ruleset changed: $(diff "$T/before.nft" "$T/after.nft" | head)"

info "after the timeout, the next host that asks gets the range"
in_ns "$H2" "$PF_IDS" count -c 198.51.100.2:7000 -n 1 >/dev/null
wait_for 5 "the range to open to H2" eval '[[ $(holder game) == 10.0.0.3 ]]'
info "a live change of the trigger (its timeout) keeps the holder"
pf save | sed 's/^trigger name game tcp 6112-6119 on tcp 7000 timeout 3s$/trigger name game tcp 6112-6119 on tcp 7000 timeout 20s/' >"$T/longer.conf"
grep -q "timeout 20s" "$T/longer.conf" || fail "no trigger line to change in: $(cat "$T/longer.conf")"
pf restore "$T/longer.conf"
expect_eq "holder across the change" "$(holder game)" 10.0.0.3
expect_eq "the new timeout" "$(pf list -j | jget "[f for f in d if f['name'] == 'game'][0]['trigger']['timeout_ms']")" 20000
# The hold that runs keeps its end; H2's next control connection holds it for 20 s.
in_ns "$H2" "$PF_IDS" count -c 198.51.100.2:7000 -n 1 >/dev/null
wait_for 5 "the hold of 20 s" eval \
	"(( \$(pf list -j | jget \"[f for f in d if f['name'] == 'game'][0]['trigger'].get('left_ms', 0)\") > 10000 ))"
in_ns "$H2" timeout -k 5 600 "$PF_IDS" serve -l 10.0.0.3:6114=H2R >"$T/h2r.out" 2>&1 &
wait_for 10 "H2's server in the range" grep -qs listening "$T/h2r.out"
expect_eq "C reaches H2's server in the range" "$(in_ns "$C" timeout 10 socat -T3 - TCP:198.51.100.1:6114 </dev/null)" "H2R"
info "the table's default ACL applies to a trigger's range"
pf default deny 198.51.100.2/32
expect_eq "C through the range under 'default deny'" "$(probe_from "$C" 198.51.100.1:6114)" timeout
expect_eq "holder across the ACL change" "$(holder game)" 10.0.0.3
pf default clear
expect_eq "C through the range again" "$(in_ns "$C" timeout 10 socat -T3 - TCP:198.51.100.1:6114 </dev/null)" "H2R"

info "save round-trips every new kind of item"
pf save >"$T/saved.conf"
for l in "forward name host all 198.51.100.10 to 10.0.0.2" \
	"forward name mfw-1 all any to 10.0.0.2 balance pref engine kernel from 203.0.113.0/24" \
	"forward name ifw tcp %wan2:8080 to 10.0.0.2:5000" \
	"trigger name game tcp 6112-6119 on tcp 7000 timeout 20s"; do
	grep -qxF "$l" "$T/saved.conf" || fail "save lacks '$l': $(cat "$T/saved.conf")"
done
pf restore "$T/saved.conf"
pf save >"$T/saved2.conf"
cmp -s "$T/saved.conf" "$T/saved2.conf" || fail "save after restore differs: $(diff "$T/saved.conf" "$T/saved2.conf")"
expect_eq "TCP to the whole-host address after restore" "$(ask "$C" 198.51.100.10 5000 tcp)" "H1 saw 198.51.100.2"
pf del name game
capture pf list -j
[[ $OUT != *'"game"'* ]] || fail "trigger 'game' still listed after del"

info "after flush -k, stopping removes the table"
pf flush -k >/dev/null || fail "portfw flush -k failed"
pfd_stop
if nsx nft list table inet portfw >/dev/null 2>&1; then
	fail "table inet portfw left behind"
fi
pft_done
