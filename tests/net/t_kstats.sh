#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Counters of the kernel engine's forwards, from conntrack events with
# accounting:
#
#   client C 198.51.100.2 --- wan 198.51.100.1  gateway G  10.0.0.1 lan --- S 10.0.0.2
#
# N TCP connections and M UDP flows of known sizes through kernel forwards:
# 'portfw list -j' counts N and M connections for the forwards and their
# backends; 'portfw conns' shows the live entries' bytes; once the entries
# end ('portfw kill'), the bytes are conntrack's (whole IP packets: exactly
# payload + 28 per datagram for UDP over IPv4, payload plus headers for TCP);
# the ENGINE column says which engine carries each forward, and a user
# forward next to them keeps its own counters; a client denied by a kernel
# forward's ACL is counted and logged.
source "$(dirname "$0")/lib.sh"
pft_init

PF_UDP=$PORTFW_BUILD/tests/pf_udp
command -v nft >/dev/null || fail "nft not installed"
topo_gateway
N=5 UP=100000 DOWN=40000
M=3 R=4 SIZE=200

in_ns "$S" timeout -k 5 120 "$PF_XFER" server -l 10.0.0.2:9000 -n $((N + 1)) -S $DOWN \
	>"$T/srv.out" 2>"$T/srv.err" &
in_ns "$S" timeout -k 5 120 "$PF_UDP" echo -l 10.0.0.2:7000 >"$T/udp.out" 2>&1 &
wait_for 10 "servers to listen" eval 'grep -qs listening "$T/srv.out" && grep -qs listening "$T/udp.out"'

cat >"$PFD_CONF" <<'EOF'
forward name kt tcp :8080 to 10.0.0.2:9000 engine kernel
forward name ku udp :7000 to 10.0.0.2:7000 engine kernel
forward name ut tcp 198.51.100.1:8081 to 10.0.0.2:9000 engine user
forward name kd tcp :8090 to 10.0.0.2:9000 engine kernel deny 198.51.100.2
forward name kh tcp :8085 to 10.0.0.2:9100 engine kernel
EOF
pfd_start -W wan
expect_eq "nf_conntrack_acct" "$(nsx cat /proc/sys/net/netfilter/nf_conntrack_acct)" 1
expect_eq "nf_conntrack_timestamp" "$(nsx cat /proc/sys/net/netfilter/nf_conntrack_timestamp)" 1

info "ENGINE column"
list=$(pf list)
expect_in "portfw list header" "$(head -1 <<<"$list")" "ENGINE"
[[ $(awk '$1 == "kt" {print $3}' <<<"$list") == kernel ]] || fail "kt's engine is not kernel: $list"
[[ $(awk '$1 == "ku" {print $3}' <<<"$list") == kernel ]] || fail "ku's engine is not kernel: $list"
[[ $(awk '$1 == "ut" {print $3}' <<<"$list") == user ]] || fail "ut's engine is not user: $list"

info "$N TCP connections ($UP bytes up, $DOWN down each) through kernel forward kt"
XFER_RC=0
in_ns "$C" timeout -k 5 60 "$PF_XFER" client -c 198.51.100.1:8080 -n $N -s $UP -t 30 \
	>"$T/cli.out" 2>"$T/cli.err" || XFER_RC=$?
[[ $XFER_RC == 0 ]] || fail "pf_xfer client exited $XFER_RC: $(head -5 "$T/cli.err")"
wait_for 5 "kt to count $N connections" eval '[[ $(fwd_stat kt conns) == $N ]]'
expect_eq "kt backend conns" "$(be_stat kt 0 conns)" $N
# Closed connections stay in conntrack (TIME_WAIT) until they expire, but
# they are no longer active: TCP's close ends them.
wait_for 5 "kt's closed connections to leave active" eval '[[ $(fwd_stat kt active) == 0 ]]'
expect_eq "kt backend active after the close" "$(be_stat kt 0 active)" 0
expect_eq "kt's entries still in conntrack (TIME_WAIT)" \
	"$(pf conns -j | jget "len([c for c in d if c['forward'] == 'kt'])")" $N
j=$(pf conns -j)
short=$(jget "[c for c in d if c['forward'] == 'kt' and not (c.get('bytes_up', 0) >= $UP and c.get('bytes_down', 0) >= $DOWN)]" <<<"$j")
expect_eq "kt's live entries with fewer bytes than sent" "$short" "[]"
expect_in "portfw conns shows bytes" "$(pf conns | awk '$2 == "kt"')" "K"

info "$M UDP flows ($R datagrams of $SIZE bytes each way) through kernel forward ku"
got=$(in_ns "$C" timeout 20 "$PF_UDP" client -c 198.51.100.1:7000 -n $M -r $R -s $SIZE -t 2000)
expect_eq "UDP echo" "$got" "ok $((M * R)) lost 0 wrong 0"
wait_for 5 "ku to count $M flows" eval '[[ $(fwd_stat ku conns) == $M ]]'
expect_eq "ku backend conns" "$(be_stat ku 0 conns)" $M
j=$(pf conns -j)
expect_eq "ku's live bytes up" "$(jget "sum(c['bytes_up'] for c in d if c['forward'] == 'ku')" <<<"$j")" \
	$((M * R * (SIZE + 28)))

info "the entries end: bytes are added to the forwards and backends"
pf kill name kt >/dev/null || fail "portfw kill name kt failed"
pf kill name ku >/dev/null || fail "portfw kill name ku failed"
wait_for 5 "kt's flows to end" eval '[[ $(fwd_stat kt active) == 0 ]]'
wait_for 5 "ku's flows to end" eval '[[ $(fwd_stat ku active) == 0 ]]'
expect_eq "kt backend active" "$(be_stat kt 0 active)" 0
# UDP over IPv4: each datagram is its payload, 8 bytes of UDP header and 20 of IP.
expect_eq "ku bytes_up" "$(fwd_stat ku bytes_up)" $((M * R * (SIZE + 28)))
expect_eq "ku bytes_down" "$(fwd_stat ku bytes_down)" $((M * R * (SIZE + 28)))
expect_eq "ku backend bytes_up" "$(be_stat ku 0 bytes_up)" $((M * R * (SIZE + 28)))
# TCP: the payload and, per packet, 20 bytes of IP and 32 of TCP (timestamps)
# at least; the bound allows every ACK and handshake packet.
bu=$(fwd_stat kt bytes_up)
bd=$(fwd_stat kt bytes_down)
info "kt: $bu bytes up, $bd down (payload $((N * UP)) / $((N * DOWN)))"
((bu >= N * UP && bu <= N * UP * 11 / 10 + N * 4096)) ||
	fail "kt bytes_up $bu: expected $((N * UP)) plus headers"
((bd >= N * DOWN && bd <= N * DOWN * 11 / 10 + N * 4096)) ||
	fail "kt bytes_down $bd: expected $((N * DOWN)) plus headers"
expect_eq "kt backend bytes_up" "$(be_stat kt 0 bytes_up)" "$bu"
expect_eq "kt conns after the end" "$(fwd_stat kt conns)" $N

info "the user forward next to them counts its own"
XFER_RC=0
in_ns "$C" timeout -k 5 60 "$PF_XFER" client -c 198.51.100.1:8081 -n 1 -s $UP -t 30 \
	>"$T/cli2.out" 2>"$T/cli2.err" || XFER_RC=$?
[[ $XFER_RC == 0 ]] || fail "pf_xfer client (user forward) exited $XFER_RC: $(head -5 "$T/cli2.err")"
wait_for 5 "ut's flow to end" eval '[[ $(fwd_stat ut active) == 0 ]]'
expect_eq "ut conns" "$(fwd_stat ut conns)" 1
expect_eq "ut bytes_up (payload)" "$(fwd_stat ut bytes_up)" $UP
expect_eq "kt conns unchanged" "$(fwd_stat kt conns)" $N

info "a client denied by a kernel forward's ACL: counted (nft counter, read every 5 s) and logged"
got=$(in_ns "$C" timeout 5 "$PFT_PY" "$PFT_TCP" probe 198.51.100.1:8090 --wait 1)
expect_eq "the denied client's connect" "$got" timeout
wait_for 8 "the kernel ACL's log line" grep -q "forward 'kd': [0-9]* packets\\? of clients denied by its ACL (kernel engine" "$PFD_LOG"
d=$(fwd_stat kd denied)
((d >= 1)) || fail "kd's denied counter: $d"
expect_eq "kd refused = denied" "$(fwd_stat kd refused)" "$d"

info "an open kernel connection is active until TCP closes it"
# The backend holds the connection 3 s, then closes it.
in_ns "$S" timeout -k 5 60 socat TCP-LISTEN:9100,reuseaddr SYSTEM:"sleep 3" >/dev/null 2>&1 &
wait_for 10 "the holding server to listen" eval 'in_ns "$S" ss -Hltn "sport = :9100" | grep -q .'
in_ns "$C" timeout -k 5 40 socat -u TCP:198.51.100.1:8085 STDOUT >/dev/null 2>&1 &
cli=$!
wait_for 2 "kh's connection to be active" eval '[[ $(fwd_stat kh active) == 1 ]]'
expect_eq "kh backend active" "$(be_stat kh 0 active)" 1
wait_for 8 "kh's connection to end when the backend closes" eval '[[ $(fwd_stat kh active) == 0 ]]'
expect_eq "kh conns" "$(fwd_stat kh conns)" 1
wait "$cli" 2>/dev/null

# watched_xfer FILE CONNS: 3 connections through kt while another listener
# (conntrack -E) writes what it sees to FILE; waits until kt has counted
# CONNS in all and none is active any more.
watched_xfer() {
	local evp
	nsx timeout 20 conntrack -E -e NEW,UPDATES,DESTROY -p tcp >"$1" 2>&1 &
	evp=$!
	sleep 0.5
	in_ns "$C" timeout -k 5 60 "$PF_XFER" client -c 198.51.100.1:8080 -n 3 -s 1000 -t 30 \
		>/dev/null 2>&1 || fail "3 connections through kt failed"
	wait_for 5 "kt to count $2 connections" eval '[[ $(fwd_stat kt conns) == '"$2"' ]]'
	wait_for 5 "kt's active to go back to 0" eval '[[ $(fwd_stat kt active) == 0 ]]'
	sleep 0.3
	kill "$evp" 2>/dev/null
	wait "$evp" 2>/dev/null || true
}

# ev_count TYPE FILE: the events of that type the listener saw of kt's flows.
ev_count() {
	grep -c "\[$1\].*dport=8080" "$2" || true
}

info "conntrack reports of our flows only their creation, close and end"
in_ns "$S" timeout -k 5 120 "$PF_XFER" server -l 10.0.0.2:9000 -n 6 -S 1000 >"$T/srv2.out" 2>&1 &
wait_for 10 "the second server to listen" eval 'grep -qs listening "$T/srv2.out"'
watched_xfer "$T/ev-own.txt" $((N + 3))
expect_eq "another listener's NEW events of kt" "$(ev_count NEW "$T/ev-own.txt")" 3
expect_eq "another listener's UPDATE events of kt (the close: one each)" \
	"$(ev_count UPDATE "$T/ev-own.txt")" 3
expect_in "the new_in chain by default" "$(nsx nft list chain inet portfw new_in)" \
	"ct event set new,destroy"

info "portfwd --conntrack-events: a bad value is refused"
out=$("$PORTFWD" --conntrack-events most -t -c "$PFD_CONF" 2>&1) && fail "--conntrack-events most was accepted"
expect_in "the refusal" "$out" "--conntrack-events 'most': expected own, all or none"

# A stop leaves the sysctls while forwards or flows are left: flush them first.
pf flush -k >/dev/null || fail "portfw flush -k failed"
pfd_stop
expect_eq "nf_conntrack_acct put back" "$(nsx cat /proc/sys/net/netfilter/nf_conntrack_acct)" 0

# pfd_ct_listeners: portfwd's netlink sockets subscribed to a conntrack event
# group (NETLINK_NETFILTER, groups NEW|UPDATE|DESTROY in /proc/net/netlink).
pfd_ct_listeners() {
	local sk eth pid groups rmem wmem dump locks drops inode n=0 mine
	mine=" $(find "/proc/$PFD_PID/fd" -lname 'socket:*' -printf '%l\n' | tr -dc '0-9\n' | tr '\n' ' ') "
	while read -r sk eth pid groups rmem wmem dump locks drops inode; do
		[[ $eth == 12 && $mine == *" $inode "* ]] && (((16#$groups) & 7)) && n=$((n + 1))
	done < <(nsx tail -n +2 /proc/net/netlink)
	echo "$n"
}

info "portfwd --conntrack-events all: every change reported, counters the same"
pfd_start -W wan --conntrack-events all
expect_eq "portfwd subscribed to conntrack events with -E all" "$(pfd_ct_listeners)" 1
[[ $(nsx nft list table inet portfw) != *"ct event set"* ]] ||
	fail "'ct event set' in the table with --conntrack-events all"
watched_xfer "$T/ev-all.txt" 3
u=$(ev_count UPDATE "$T/ev-all.txt")
((u >= 9)) || fail "with --conntrack-events all another listener saw only $u UPDATE events of 3 connections"
pf flush -k >/dev/null || fail "portfw flush -k failed"
pfd_stop

info "portfwd --conntrack-events none: no subscription, active flows counted when asked"
echo "status 127.0.0.1:9181" >>"$PFD_CONF"
pfd_start -W wan --conntrack-events none
expect_eq "portfwd subscribed to conntrack events with -E none" "$(pfd_ct_listeners)" 0
expect_eq "nf_conntrack_acct left off with -E none" \
	"$(nsx cat /proc/sys/net/netfilter/nf_conntrack_acct)" 0
expect_in "the new_in chain as with own" "$(nsx nft list chain inet portfw new_in)" \
	"ct event set new,destroy"
in_ns "$S" timeout -k 5 60 socat TCP-LISTEN:9100,reuseaddr,fork SYSTEM:"sleep 4" >/dev/null 2>&1 &
wait_for 10 "the holding server to listen" eval 'in_ns "$S" ss -Hltn "sport = :9100" | grep -q .'
clis=()
for i in 1 2; do
	in_ns "$C" timeout -k 5 40 socat -u TCP:198.51.100.1:8085 STDOUT >/dev/null 2>&1 &
	clis+=($!)
done
wait_for 3 "kh's 2 connections to count as active" eval '[[ $(fwd_stat kh active) == 2 ]]'
expect_eq "kh backend active with -E none" "$(be_stat kh 0 active)" 2
j=$(pf list -j)
expect_eq "kh's conns left out (not counted)" "$(jget "'conns' in [f for f in d if f['name'] == 'kh'][0]" <<<"$j")" False
expect_eq "kh's bytes left out (not counted)" "$(jget "'bytes_up' in [f for f in d if f['name'] == 'kh'][0]" <<<"$j")" False
expect_eq "kh's conns shown as -" "$(pf list | awk '$1 == "kh" { print $6 }')" "-"
expect_eq "a user forward's conns still shown" "$(pf list | awk '$1 == "ut" { print $6 }')" 0
m=$(nsx curl -sS --max-time 5 http://127.0.0.1:9181/metrics) || fail "GET /metrics failed"
expect_in "kh's active flows in /metrics" "$m" 'portfw_forward_active_flows{forward="kh",'
[[ $m != *'portfw_forward_connections_total{forward="kh",'* ]] ||
	fail "/metrics shows kh's connections with -E none (not counted)"
[[ $m != *'portfw_forward_bytes_total{forward="kh",'* ]] ||
	fail "/metrics shows kh's bytes with -E none (not counted)"
expect_in "a user forward's connections in /metrics" "$m" 'portfw_forward_connections_total{forward="ut",'
wait_for 8 "kh's connections to end when the backend closes" eval '[[ $(fwd_stat kh active) == 0 ]]'
wait "${clis[@]}" 2>/dev/null || true
expect_eq "portfwd subscribed after the flows" "$(pfd_ct_listeners)" 0

info "-E none: a forward whose flows are logged is refused, naming it"
out=$(pf add name klog tcp :8095 to 10.0.0.2:9000 engine kernel log 2>&1) &&
	fail "a logged kernel forward was accepted with -E none: $out"
expect_in "the refusal" "$out" "--conntrack-events none"
expect_eq "nothing added" "$(pf list -j | jget "len([f for f in d if f['name'] == 'klog'])")" 0
pf flush -k >/dev/null || fail "portfw flush -k failed"
pfd_stop
pft_done
