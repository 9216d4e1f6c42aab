#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# An HA pair of kernel-engine gateways (docs/ha.md, dist/ha): keepalived
# moves the virtual addresses, conntrackd (FT-FW on a dedicated link) keeps
# the conntrack tables in step, portfwd runs '-e kernel --ha':
#
#   client C 198.51.100.2 --- 198.51.100.1 router R 192.0.2.1 (br0)
#                                                  |-- eth0 192.0.2.2 gw1 eth1 10.0.0.2 --|
#                                                  `-- eth0 192.0.2.3 gw2 eth1 10.0.0.3 --+-- br0 10.0.0.10 server S
#   VIPs: 192.0.2.10 (outside), 10.0.0.254 (inside, S's default gateway)
#   gw1 eth2 172.31.255.1 --- 172.31.255.2 eth2 gw2 (conntrackd only)
#
# The configs are dist/ha's, with this test's addresses, paths and logs.
# The streams send both ways for most of their life (established entries
# in conntrack), the client's half at a paced rate.
# gw1 loads forwards A (TCP) and B (UDP); gw2 another forward first, then B,
# then A. Run 1: 200 slow TCP streams through A and a UDP flow through B; the
# master's keepalived is killed (SIGKILL): the VIPs move within 3 adverts
# plus skew, the streams end byte for byte (at least 99.5 %), the UDP flow
# goes on, new connections work; the new master lists the streams under A,
# and 'portfw kill name B' cuts B's flow and none of A's. The old master's
# keepalived comes back: nothing moves (nopreempt), nothing breaks. Run 2:
# the same with the master's links cut, then back up. The failover times
# and survival shares are printed.
source "$(dirname "$0")/lib.sh"
pft_init

for b in keepalived conntrackd conntrack nft; do
	command -v $b >/dev/null || fail "$b not installed"
done
REPO=$(cd "$PFT_NET_DIR/../.." && pwd)
HA=$REPO/dist/ha
PF_UDP=$PORTFW_BUILD/tests/pf_udp
[[ -x $PF_UDP ]] || fail "$PF_UDP not built"

VIP=192.0.2.10 IVIP=10.0.0.254 SRV=10.0.0.10
FLOWS=200
# Each stream: the server sends DOWN bytes, read by the client at RATE
# bytes/s: about 14 s, longer than a failover, its checks and the old
# master's return. Far more than the sockets buffer, so the streams carry
# data across each switchover. The client sends SUP bytes at URATE bytes/s
# (-U): the streams stay established, both ways busy, until near their
# end. A new connection sends UP bytes at once.
RATE=50000 DOWN=700000 UP=1000 URATE=2000 SUP=24000
ADVERT=1
SUMMARY=""

# ---- topology ----
R=$NS
ns_add c
C=$NS_LAST
ns_add s
S=$NS_LAST
ns_add gw1
GW[1]=$NS_LAST
ns_add gw2
GW[2]=$NS_LAST

ip link add eth0 netns "$C" type veth peer name cli netns "$R"
ip -n "$C" addr add 198.51.100.2/24 dev eth0
ip -n "$C" link set eth0 up
ip -n "$C" route add default via 198.51.100.1
ip -n "$R" addr add 198.51.100.1/24 dev cli
ip -n "$R" link set cli up
ip -n "$R" link add br0 type bridge
ip -n "$R" addr add 192.0.2.1/24 dev br0
ip -n "$R" link set br0 up
in_ns "$R" sysctl -qw net.ipv4.ip_forward=1
ip -n "$S" link add br0 type bridge
ip -n "$S" addr add $SRV/24 dev br0
ip -n "$S" link set br0 up
ip -n "$S" route add default via $IVIP
for i in 1 2; do
	g=${GW[$i]}
	ip link add eth0 netns "$g" type veth peer name "gw$i" netns "$R"
	ip -n "$R" link set "gw$i" master br0 up
	ip link add eth1 netns "$g" type veth peer name "gw$i" netns "$S"
	ip -n "$S" link set "gw$i" master br0 up
	ip -n "$g" addr add "192.0.2.$((i + 1))/24" dev eth0
	ip -n "$g" addr add "10.0.0.$((i + 1))/24" dev eth1
	ip -n "$g" link set eth0 up
	ip -n "$g" link set eth1 up
	ip -n "$g" route add default via 192.0.2.1
done
ip link add eth2 netns "${GW[1]}" type veth peer name eth2 netns "${GW[2]}"
for i in 1 2; do
	ip -n "${GW[$i]}" addr add "172.31.255.$i/30" dev eth2
	ip -n "${GW[$i]}" link set eth2 up
done

# ---- portfwd on each gateway ----
cat >"$T/portfw-gw1.conf" <<EOF
forward name A tcp $VIP:8000 to $SRV:9000
forward name B udp $VIP:7000 to $SRV:7000
EOF
cat >"$T/portfw-gw2.conf" <<EOF
forward name X tcp $VIP:8100 to $SRV:9100
forward name B udp $VIP:7000 to $SRV:7000
forward name A tcp $VIP:8000 to $SRV:9000
EOF

# gw N: the lib's daemon helpers (pf, nconns, ...) act on gateway N.
gw() {
	NS=${GW[$1]}
	PFD_CONF=$T/portfw-gw$1.conf
	PFD_SOCK=$T/ctl-gw$1.sock
	PFD_PID=${PFD_PIDS[$1]-}
}

PFD_PIDS=()
for i in 1 2; do
	gw $i
	pfd_start -e kernel --ha -W eth0
	PFD_PIDS[i]=$PFD_PID
	# --ha: conntrack picks up no flow in its middle (on the new master, a
	# packet of a flow conntrackd has not committed yet would get an entry
	# of its own and reset the flow), and such invalid packets are dropped
	# before NAT: TCP sends them again once the flow's entry is in.
	expect_eq "gw$i: nf_conntrack_tcp_loose under --ha" \
		"$(nsx cat /proc/sys/net/netfilter/nf_conntrack_tcp_loose)" 0
	nsx nft list chain inet portfw ha_invalid | grep 'ct state invalid drop' >/dev/null ||
		fail "gw$i: no ha_invalid chain under --ha"
done

# ---- conntrackd and keepalived on each gateway, from dist/ha ----
ka_conf() {
	local i=$1
	sed -e "s|/usr/share/portfw/ha/portfw-ha-notify|$HA/portfw-ha-notify|" \
		-e "s|-C /etc/conntrackd/conntrackd.conf|-C $T/conntrackd-gw$i.conf -l $T/notify-gw$i.log|" \
		-e '/enable_script_security/d' "$HA/keepalived.conf" >"$T/keepalived-gw$i.conf"
	# enable_script_security would refuse a script under /tmp (others may
	# write there); the rest is the file operators get.
}
ct_conf() {
	local i=$1 peer=$((3 - $1))
	sed -e "s/\(IPv4_Destination_Address\) 172\.31\.255\.2\b/\1 172.31.255.$peer/" \
		-e "s/\(IPv4_address\) 172\.31\.255\.1\b/\1 172.31.255.$i/" \
		-e "s/\(IPv4_address\) 192\.0\.2\.2\b/\1 192.0.2.$((i + 1))/" \
		-e "s/\(IPv4_address\) 10\.0\.0\.2\b/\1 10.0.0.$((i + 1))/" \
		-e "s|^\(\s*Syslog\) on|\1 off|" \
		-e "s|^\(\s*LogFile\) off|\1 $T/conntrackd-gw$i.log|" \
		-e "s|^\(\s*LockFile\) .*|\1 $T/conntrackd-gw$i.lock|" \
		-e "s|^\(\s*Path\) .*|\1 $T/conntrackd-gw$i.ctl|" \
		"$HA/conntrackd.conf" >"$T/conntrackd-gw$i.conf"
}

# ct_cmd N ARGS...: conntrackd's client on gateway N.
ct_cmd() {
	local i=$1
	shift
	in_ns "${GW[$i]}" timeout 10 conntrackd -C "$T/conntrackd-gw$i.conf" "$@"
}

ka_start() {
	local i=$1
	rm -f "$T/keepalived-gw$i.pid" "$T/keepalived-vrrp-gw$i.pid"
	ip netns exec "${GW[$i]}" keepalived -n -l -D -G -P -i "gw$i" -f "$T/keepalived-gw$i.conf" \
		-p "$T/keepalived-gw$i.pid" -r "$T/keepalived-vrrp-gw$i.pid" >>"$T/keepalived-gw$i.log" 2>&1 &
	# Not reported by bash when killed; the cleanup finds it in its namespace.
	disown "$!"
	wait_for 10 "keepalived on gw$i to start" eval \
		"[[ -s '$T/keepalived-gw$i.pid' && -s '$T/keepalived-vrrp-gw$i.pid' ]]"
}

# ka_kill N: keepalived on gateway N dies at once, VRRP process and all, as in
# a crash: no advert with priority 0, the addresses stay where they are.
# The parent is stopped first so that it cannot start a new VRRP process.
ka_kill() {
	local i=$1 parent child
	parent=$(cat "$T/keepalived-gw$i.pid")
	child=$(cat "$T/keepalived-vrrp-gw$i.pid")
	kill -STOP "$parent"
	kill -KILL "$child" "$parent"
	wait_for 5 "keepalived on gw$i to die" eval "pid_gone $child && pid_gone $parent"
}

vip_on() {
	ip -n "${GW[$1]}" -4 -o addr show dev eth0 | grep -q " $VIP/" &&
		ip -n "${GW[$1]}" -4 -o addr show dev eth1 | grep -q " $IVIP/"
}

notified() {
	grep -qs ": $2" "$T/notify-gw$1.log"
}

info "conntrackd and keepalived on both gateways"
for i in 1 2; do
	ct_conf $i
	ka_conf $i
	in_ns "${GW[$i]}" conntrackd -C "$T/conntrackd-gw$i.conf" >"$T/conntrackd-gw$i.out" 2>&1 &
done
for i in 1 2; do
	wait_for 10 "conntrackd on gw$i" eval "ct_cmd $i -s >/dev/null 2>&1"
done
# keepalived sees a link still coming up as a fault, which delays its first
# election.
links_up() {
	local i d
	for i in 1 2; do
		for d in eth0 eth1 eth2; do
			ip -n "${GW[$i]}" -o link show dev $d | grep -q 'state UP' || return 1
		done
	done
}
wait_for 10 "the gateways' links up" links_up
# Both start as backup, gw1 first: it is master when gw2 starts (which, with
# nopreempt, would otherwise keep the VIPs if it won the race).
ka_start 1
wait_for 10 "gw1 to take the VIPs" vip_on 1
ka_start 2
wait_for 5 "gw1's notify primary" grep -qs 'becoming master' "$T/notify-gw1.log"
wait_for 5 "gw2's notify backup" grep -qs 'becoming backup' "$T/notify-gw2.log"
vip_on 2 && fail "both gateways hold the VIPs"

# ---- traffic ----

# servers TAG: a pf_xfer server for the streams and 2 more connections, and
# a UDP echo server (once).
servers() {
	in_ns "$S" timeout -k 5 90 "$PF_XFER" server -l $SRV:9000 -n $((FLOWS + 2)) -S $DOWN \
		-t 60 >"$T/$1-s.out" 2>"$T/$1-s.err" &
	wait_for 10 "the server of $1 to listen" grep -qs '^listening' "$T/$1-s.out"
}
in_ns "$S" timeout -k 5 200 "$PF_UDP" echo -l $SRV:7000 >"$T/udp-echo.out" 2>&1 &
wait_for 10 "the UDP echo server" grep -qs listening "$T/udp-echo.out"

# streams TAG MASTER: FLOWS slow streams through A and a UDP flow through
# B (150 requests, one every 100 ms), once both are in the backup's
# conntrackd cache.
streams() {
	local tag=$1 m=$2 b=$((3 - $2))
	in_ns "$C" timeout -k 5 90 "$PF_XFER" client -c $VIP:8000 -n $FLOWS -s $SUP -U $URATE -R $RATE -t 60 \
		>"$T/$tag-c.out" 2>"$T/$tag-c.err" &
	STREAMS_PID=$!
	in_ns "$C" timeout -k 5 60 "$PF_UDP" client -c $VIP:7000 -n 1 -r 150 -i 100 -t 400 \
		-p 41000 >"$T/$tag-udp.out" 2>&1 &
	UDP_PID=$!
	gw "$m"
	wait_for 20 "$FLOWS streams through gw$m" eval "[[ \$(nconns A) -ge $FLOWS ]]"
	# The backup's external cache holds them, established.
	wait_for 10 "the streams in gw$b's conntrackd cache" eval \
		"[[ \$(ct_cmd $b -e ct | grep -c 'dport=8000') -ge $FLOWS ]]"
	wait_for 5 "the UDP flow in gw$b's conntrackd cache" eval \
		"ct_cmd $b -e ct | grep -q 'udp.*dport=7000'"
}

# new_conn TAG: one new connection through A, fast, byte for byte.
new_conn() {
	local rc=0
	in_ns "$C" timeout -k 5 30 "$PF_XFER" client -c $VIP:8000 -s $UP -t 20 \
		>"$T/$1.out" 2>"$T/$1.err" || rc=$?
	if [[ $rc != 0 ]] || ! grep -q "^client 0 sent $UP .* recv $DOWN " "$T/$1.out"; then
		fail_later "$1: a new connection through A failed: $(cat "$T/$1.out" "$T/$1.err" | head -3)"
	fi
}

# survivors TAG: how many of the streams arrived whole both ways (their
# hashes among the server's), of FLOWS.
survivors() {
	awk -v up=$SUP -v down=$DOWN '
		FNR == NR && /^server / && $4 == down && $7 == up { srv_sent[$5] = 1; srv_recv[$8] = 1; next }
		FNR != NR && /^client / && !/FAILED/ && $4 == up && $7 == down &&
			($8 in srv_sent) && ($5 in srv_recv) { n++ }
		END { print n + 0 }' "$T/$1-s.out" "$T/$1-c.out"
}

# udp_packets N: the packets the UDP flow's entry on gateway N counted from
# the client (empty: no entry).
udp_packets() {
	in_ns "${GW[$1]}" conntrack -L -p udp --orig-port-dst 7000 --sport 41000 2>/dev/null |
		grep -o 'packets=[0-9]*' | head -1 | cut -d= -f2 || true
}

# a_entries N: the ids of A's conntrack entries on gateway N, sorted.
a_entries() {
	in_ns "${GW[$1]}" conntrack -L -p tcp --orig-port-dst 8000 -o id 2>/dev/null |
		grep -o 'id=[0-9]*' | sort || true
}

# failover TAG OLD NEW HOW: OLD fails by HOW (kill or link); asserts the VIPs
# reach NEW in time, then what NEW does with the flows it took over.
failover() {
	local tag=$1 old=$2 new=$3 how=$4 t0 dt limit ms other pk1 pk2 before after prio n
	n=$(grep -c 'becoming master' "$T/notify-gw$new.log" || true)
	# 3 adverts, and the skew of NEW's priority ((256 - p) / 256 s).
	prio=$(sed -n "s/^@gw${new}[[:space:]]*priority \([0-9]*\).*/\1/p" "$T/keepalived-gw$new.conf" | head -1)
	limit=$((3 * ADVERT * 1000 + (256 - prio) * ADVERT * 1000 / 256))
	t0=$(now_ms)
	case $how in
	kill) ka_kill "$old" ;;
	link)
		ip -n "${GW[$old]}" link set eth0 down
		ip -n "${GW[$old]}" link set eth1 down
		;;
	esac
	until vip_on "$new"; do
		(($(now_ms) - t0 < 10000)) || break
		sleep 0.02
	done
	dt=$(($(now_ms) - t0))
	vip_on "$new" || fail "$tag: gw$new did not take the VIPs within 10 s"
	info "$tag: the VIPs moved to gw$new after $dt ms (3 x advert_int + skew: $limit ms)"
	SUMMARY+="$tag ($how): VIPs moved in $dt ms (limit $limit ms); "
	# Allowed on top: the scheduling of keepalived and of this poll on a
	# loaded machine.
	((dt <= limit + 500 * PFT_SLOW)) || fail_later "$tag: the VIPs moved after $dt ms, more than $limit ms"
	t0=$(now_ms)
	new_conn "$tag-new1"
	info "$tag: a new connection through gw$new took $(($(now_ms) - t0)) ms"
	wait_for 5 "gw$new's notify primary ($tag)" eval "[[ \$(grep -c 'becoming master' '$T/notify-gw$new.log') -gt $n ]]"
	grep -qi 'failed' "$T/notify-gw$new.log" && fail_later "$tag: a step of the notify script failed: $(cat "$T/notify-gw$new.log")"

	info "$tag: gw$new carries the streams and the UDP flow"
	gw "$new"
	wait_for 10 "gw$new to list the streams" eval "[[ \$(pf conns -j | jget 'len(d)') -ge $FLOWS ]]"
	ms=$(nconns A)
	other=$(pf conns -j | jget "len([c for c in d if c['backend'].startswith('$SRV:9000') and c['forward'] != 'A'])")
	info "$tag: 'portfw conns' on gw$new lists $ms flows under A, $other of A's under another name or none"
	((ms >= FLOWS && other == 0)) ||
		fail_later "$tag: gw$new lists $ms flows under A (expected $FLOWS) and $other of A's elsewhere (the gateways give A different ids?)"
	pk1=$(udp_packets "$new")
	sleep 0.5
	pk2=$(udp_packets "$new")
	[[ -n $pk2 && $pk1 != "$pk2" ]] || fail_later "$tag: the UDP flow does not go on through gw$new ($pk1, $pk2)"

	info "$tag: 'portfw kill name B' on gw$new cuts B's flow and none of A's"
	# A cut entry comes back with the flow's next request, counting from 0
	# (its id may well be the same: the kernel derives it from the
	# entry's address).
	before=$(udp_packets "$new")
	a_entries "$new" >"$T/$tag-a-before"
	pf kill name B >/dev/null || fail_later "$tag: portfw kill name B failed"
	after=$(udp_packets "$new")
	if [[ -z $before ]] || ((before < 3)) || { [[ -n $after ]] && ((after >= before)); }; then
		fail_later "$tag: B's UDP flow was not cut (its entry counted ${before:-no} packets, then ${after:-none})"
	fi
	a_entries "$new" >"$T/$tag-a-after"
	cmp -s "$T/$tag-a-before" "$T/$tag-a-after" ||
		fail_later "$tag: 'kill name B' touched A's flows: $(diff "$T/$tag-a-before" "$T/$tag-a-after" | grep -c '^<') gone"
}

# comeback TAG OLD NEW HOW: OLD returns; the VIPs stay on NEW.
comeback() {
	local tag=$1 old=$2 new=$3 how=$4 n
	n=$(grep -c 'becoming backup' "$T/notify-gw$old.log" || true)
	case $how in
	kill) ka_start "$old" ;;
	link)
		ip -n "${GW[$old]}" link set eth0 up
		ip -n "${GW[$old]}" link set eth1 up
		;;
	esac
	wait_for 10 "gw$old back as backup ($tag)" eval \
		"[[ \$(grep -c 'becoming backup' '$T/notify-gw$old.log') -gt $n ]]"
	# Two adverts: time for a preemption, were there one.
	sleep $((2 * ADVERT))
	vip_on "$new" || fail_later "$tag: the VIPs left gw$new when gw$old came back (nopreempt)"
	vip_on "$old" && fail_later "$tag: gw$old holds the VIPs too"
	new_conn "$tag-new2"
}

# finish TAG: the streams and the UDP flow ended; prints and checks the share.
finish() {
	local tag=$1 ok pct udp_ok udp_lost udp_wrong
	wait_for 60 "the streams of $tag to end" pid_gone "$STREAMS_PID"
	wait "$STREAMS_PID" || true
	wait_for 30 "the UDP flow of $tag to end" pid_gone "$UDP_PID"
	wait "$UDP_PID" || true
	ok=$(survivors "$tag")
	pct=$(awk -v a="$ok" -v b=$FLOWS 'BEGIN { printf "%.1f", 100 * a / b }')
	info "$tag: $ok of $FLOWS streams went on byte for byte ($pct %)"
	SUMMARY+="$tag: $ok/$FLOWS streams byte for byte; "
	((ok * 1000 >= FLOWS * 995)) ||
		fail_later "$tag: only $ok of $FLOWS streams survived: $(grep -h -m3 -E 'FAILED|recv:|timed out' "$T/$tag-c.out" "$T/$tag-c.err")"
	read -r _ udp_ok _ udp_lost _ udp_wrong <"$T/$tag-udp.out"
	info "$tag: UDP flow: $udp_ok replies, $udp_lost lost, $udp_wrong wrong"
	# Lost: the failover's requests (one each 400 ms timeout); none wrong.
	((udp_wrong == 0 && udp_lost <= 20 && udp_ok >= 130)) ||
		fail_later "$tag: the UDP flow: $(cat "$T/$tag-udp.out")"
}

info "run 1: gw1's keepalived killed under $FLOWS streams"
servers run1
streams run1 1
failover run1 1 2 kill
comeback run1 1 2 kill
finish run1

info "run 2: gw2's links cut under $FLOWS streams"
servers run2
streams run2 2
failover run2 2 1 link
comeback run2 2 1 link
finish run2

vip_on 1 || fail_later "the VIPs should end on gw1 (nopreempt: the last to take them)"
info "summary: ${SUMMARY%; }"
pft_done
