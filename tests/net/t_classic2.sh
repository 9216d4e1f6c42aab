#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The classic command lines' kernel-engine forms, across hosts:
#
#   NEUTRAL client C  198.51.100.2 --- wan  198.51.100.1 \
#                                                        gateway G  10.0.0.1 br0 --- N 10.0.0.46
#   FRIEND client  C2 203.0.113.2  --- wan2 203.0.113.1  /                      |--- F 10.0.0.3
#                                                                                `--- I 10.0.0.4
#
# Seed 002's mfw FRIEND/NEUTRAL script as the seed writes it: marks without
# a port (the whole host: every port, TCP, UDP and ICMP), so 'ipmasqadm mfw'
# makes 'all any' forwards in the kernel engine; ping, TCP and UDP from the
# FRIEND network reach the FRIEND server, everything else the NEUTRAL one,
# each seeing the client's own address; save -> flush -> restore gives the
# same; a second server joins a mark's pool and leaves it (-A, -D -r). Then 'ipmasqadm autofw -A -r tcp LOW HIGH -c tcp PORT': the range
# opens to the inside host that connects out to the control port; -D closes it.
source "$(dirname "$0")/lib.sh"
pft_init

PF_IDS=$PORTFW_BUILD/tests/pf_ids
IPMASQADM=$PORTFW_BUILD/ipmasqadm
[[ -x $IPMASQADM ]] || fail "$IPMASQADM not built"
command -v nft >/dev/null || fail "nft not installed"
command -v socat >/dev/null || fail "socat not installed"

ipmasqadm() {
	ip netns exec "$NS" env PORTFW_SOCKET="$PFD_SOCK" timeout $((20 * PFT_SLOW)) "$IPMASQADM" "$@"
}

G=$NS
ns_add c
C=$NS_LAST
ns_add c2
C2=$NS_LAST
ns_add n
N=$NS_LAST
ns_add f
F=$NS_LAST
ns_add i
I=$NS_LAST

ip link add wan netns "$G" type veth peer name eth0 netns "$C"
ip -n "$G" addr add 198.51.100.1/24 dev wan
ip -n "$G" link set wan up
ip -n "$C" addr add 198.51.100.2/24 dev eth0
ip -n "$C" link set eth0 up
ip link add wan2 netns "$G" type veth peer name eth0 netns "$C2"
ip -n "$G" addr add 203.0.113.1/24 dev wan2
ip -n "$G" link set wan2 up
ip -n "$C2" addr add 203.0.113.2/24 dev eth0
ip -n "$C2" link set eth0 up
ip -n "$G" link add br0 type bridge
ip -n "$G" addr add 10.0.0.1/24 dev br0
ip -n "$G" link set br0 up
n=0
for h in "$N:10.0.0.46" "$F:10.0.0.3" "$I:10.0.0.4"; do
	ip link add "lan$n" netns "$G" type veth peer name eth0 netns "${h%%:*}"
	ip -n "$G" link set "lan$n" master br0 up
	ip -n "${h%%:*}" addr add "${h#*:}/24" dev eth0
	ip -n "${h%%:*}" link set eth0 up
	ip -n "${h%%:*}" route add default via 10.0.0.1
	n=$((n + 1))
done
# The inside hosts' own connections out are masqueraded (a table of the
# test's, not portfw's), as the seed's 'ipchains ... -j MASQ' lines did.
nsx nft -f - <<'EOF'
table ip pftest {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname { "wan", "wan2" } ip saddr 10.0.0.0/24 masquerade
	}
}
EOF

# whoami NS NAME ADDR PORT: TCP and UDP servers answering "NAME saw PEER".
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
probe_from() {
	in_ns "$1" timeout -k 5 20 "$PFT_PY" "$PFT_TCP" probe "$2" --wait 2
}
# inechos NS: ICMP echo requests NS has received.
inechos() {
	in_ns "$1" awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "InEchos") c = i; h = 1 } else print $c }' /proc/net/snmp
}
# expect_pings NS ADDR SERVER_NS WHAT: 2 pings from NS to ADDR reach SERVER_NS.
expect_pings() {
	local e0 e1
	e0=$(inechos "$3")
	in_ns "$1" ping -c 2 -i 0.2 -W 2 "$2" >"$T/ping.out" 2>&1 || fail "$4: ping $2: $(cat "$T/ping.out")"
	e1=$(inechos "$3")
	((e1 - e0 >= 2)) || fail "$4: the server received $((e1 - e0)) echo requests, expected 2"
}

whoami "$N" NEUTRAL 10.0.0.46 5000
whoami "$F" FRIEND 10.0.0.3 5000
whoami "$I" SPARE 10.0.0.4 5000
pfd_start -e kernel -W wan,wan2

info "seed 002's mfw script, whole host: marks without a port"
MARK_FRIEND=1
MARK_NEUTRAL=3
FRIEND=203.0.113.0/24
FRIEND_SVR=10.0.0.3
NEUTRAL_SVR=10.0.0.46
# ipchains -I input -s ${FRIEND} -m 1; ipchains -I input -s ! ${FRIEND} -m 3
pf mark $MARK_FRIEND from ${FRIEND}
pf mark $MARK_NEUTRAL
capture ipmasqadm mfw -I -m ${MARK_NEUTRAL} -r ${NEUTRAL_SVR} 80
expect_eq "mfw -I with an RPORT on a whole-host mark: exit status" "$RC" 1
expect_in "mfw -I with an RPORT on a whole-host mark" "$ERR" "no PROTO LISTEN (the whole host)"
ipmasqadm mfw -I -m ${MARK_NEUTRAL} -r ${NEUTRAL_SVR}
ipmasqadm mfw -I -m ${MARK_FRIEND} -r ${FRIEND_SVR}
save=$(pf save)
expect_in "save" "$save" "forward name mfw-1 all any to 10.0.0.3 weight 10 balance pref engine kernel from 203.0.113.0/24"
expect_in "save" "$save" "forward name mfw-3 all any to 10.0.0.46 weight 10 balance pref engine kernel"

info "FRIEND: ping, TCP and UDP reach the FRIEND server, which sees the client"
expect_pings "$C2" 203.0.113.1 "$F" "FRIEND"
expect_eq "FRIEND TCP" "$(ask "$C2" 203.0.113.1 5000 tcp)" "FRIEND saw 203.0.113.2"
expect_eq "FRIEND UDP" "$(ask "$C2" 203.0.113.1 5000 udp)" "FRIEND saw 203.0.113.2"
info "everybody else: the NEUTRAL server"
expect_pings "$C" 198.51.100.1 "$N" "NEUTRAL"
expect_eq "NEUTRAL TCP" "$(ask "$C" 198.51.100.1 5000 tcp)" "NEUTRAL saw 198.51.100.2"
expect_eq "NEUTRAL UDP" "$(ask "$C" 198.51.100.1 5000 udp)" "NEUTRAL saw 198.51.100.2"
capture ipmasqadm mfw -L -n
grep -Eq "^1 +10\.0\.0\.3 " <<<"$OUT" || fail "mfw -L: no mark 1 entry: $OUT"

info "round trip: save -> flush -> restore -> the same behaviour"
pf save >"$T/k.save"
pf flush
expect_eq "FRIEND after flush" "$(probe_from "$C2" 203.0.113.1:5000)" refused
pf restore "$T/k.save"
diff <(pf save) "$T/k.save" >/dev/null || fail "restore gave another table: $(diff <(pf save) "$T/k.save")"
expect_pings "$C2" 203.0.113.1 "$F" "FRIEND after restore"
expect_eq "FRIEND TCP after restore" "$(ask "$C2" 203.0.113.1 5000 tcp)" "FRIEND saw 203.0.113.2"
expect_eq "NEUTRAL UDP after restore" "$(ask "$C" 198.51.100.1 5000 udp)" "NEUTRAL saw 198.51.100.2"

info "mfw -A: a second server joins mark 1's pool (the kernel spreads by pref)"
ipmasqadm mfw -A -m $MARK_FRIEND -r 10.0.0.4
got=$(for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do ask "$C2" 203.0.113.1 5000 tcp; done | sort | uniq -c)
[[ $got == *"FRIEND saw 203.0.113.2"* && $got == *"SPARE saw 203.0.113.2"* ]] ||
	fail "12 FRIEND connections did not reach both servers of mark 1: $got"
expect_eq "NEUTRAL after mark 1 grew" "$(ask "$C" 198.51.100.1 5000 tcp)" "NEUTRAL saw 198.51.100.2"
ipmasqadm mfw -D -m $MARK_FRIEND -r 10.0.0.4
expect_eq "FRIEND after mfw -D -r" "$(ask "$C2" 203.0.113.1 5000 tcp)" "FRIEND saw 203.0.113.2"

# friends N: what N TCP connections of a FRIEND client were answered by, counted.
friends() {
	local i
	for ((i = 0; i < $1; i++)); do ask "$C2" 203.0.113.1 5000 tcp; done | sort | uniq -c |
		awk '{ $1 = $1 " x"; print }' | paste -sd, -
}
info "seed 002's failover: every pref 0, mfw -S moves the head to the end (kernel engine)"
ipmasqadm mfw -A -m $MARK_FRIEND -r 10.0.0.4 -p 0
ipmasqadm mfw -E -m $MARK_FRIEND -p 0
expect_eq "pref 0 pool: 6 connections" "$(friends 6)" "6 x FRIEND saw 203.0.113.2"
ipmasqadm mfw -S -m $MARK_FRIEND
expect_eq "after mfw -S: 6 connections" "$(friends 6)" "6 x SPARE saw 203.0.113.2"
ipmasqadm mfw -S -m $MARK_FRIEND
expect_eq "after a second mfw -S: 6 connections" "$(friends 6)" "6 x FRIEND saw 203.0.113.2"
info "prefs 2 and 1: the kernel's slots follow the rotation (2 in a row, then 1)"
ipmasqadm mfw -E -m $MARK_FRIEND -r 10.0.0.3 -p 2
ipmasqadm mfw -E -m $MARK_FRIEND -r 10.0.0.4 -p 1
got=$(friends 9)
expect_eq "prefs 2/1 over 9 connections" "$got" "6 x FRIEND saw 203.0.113.2,3 x SPARE saw 203.0.113.2"
ipmasqadm mfw -D -m $MARK_FRIEND -r 10.0.0.4
ipmasqadm mfw -E -m $MARK_FRIEND -p 10
expect_eq "FRIEND after the failover steps" "$(ask "$C2" 203.0.113.1 5000 tcp)" "FRIEND saw 203.0.113.2"

info "a whole-host mark changed live: its forward's sources follow"
pf mark $MARK_FRIEND from 192.0.2.0/24
expect_eq "the old FRIEND network after the change" "$(ask "$C2" 203.0.113.1 5000 tcp)" \
	"NEUTRAL saw 203.0.113.2"
capture pf mark $MARK_FRIEND tcp :80 from ${FRIEND}
expect_eq "a port on a whole-host mark in use: exit status" "$RC" 1
expect_in "a port on a whole-host mark in use" "$ERR" "ipmasqadm mfw -D -m 1"
ipmasqadm mfw -F
[[ $(pf save) != *mfw-* ]] || fail "mfw -F left entries: $(pf save)"
expect_eq "after mfw -F" "$(probe_from "$C" 198.51.100.1:5000)" refused

info "autofw -c: port triggering (the kernel engine's trigger)"
in_ns "$C" timeout -k 5 600 "$PF_IDS" serve -l 198.51.100.2:7000=CTL >"$T/ctl.out" 2>&1 &
wait_for 10 "the control port's server" grep -qs listening "$T/ctl.out"
whoami "$I" I 10.0.0.4 6113
ipmasqadm autofw -A -r tcp 6112 6119 -c tcp 7000 -u
expect_in "save" "$(pf save)" "trigger name autofw-tcp-6112-6119 tcp 6112-6119 on tcp 7000 timeout 15m"
expect_eq "the range before the control connection" "$(probe_from "$C" 198.51.100.1:6113)" refused
expect_eq "I's control connection out" "$(in_ns "$I" "$PF_IDS" count -c 198.51.100.2:7000 -n 1)" \
	"$(printf 'CTL 1\nFAILED 0')"
wait_for 5 "the range to open to I" eval \
	'[[ $(ask "$C" 198.51.100.1 6113 tcp) == "I saw 198.51.100.2" ]]'
ipmasqadm autofw -D -r tcp 6112 6119
expect_eq "the range after autofw -D" "$(probe_from "$C" 198.51.100.1:6113)" refused

pfd_stop
pft_done
