#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Timeouts and backend failures:
# - idle-timeout 1s closes an idle flow after 0.9-2.5 s, and traffic resets it;
# - half-close-timeout closes a flow whose server never answers a FIN;
# - failover past a backend that refuses (its 'failed' counts it);
# - connect-timeout 300ms past a backend that never answers SYNs;
# - no backend reachable, or maxconn reached: the client is dropped and the
#   forward's 'refused' counts it.
. "$(dirname "$0")/lib.sh"
pft_init

# An address nobody answers: routed to a device that drops everything sent to
# it (dummy; ifb where this kernel has no dummy driver). SYNs to 10.99.0.2
# vanish, so a connect there only ends by its timeout.
ip -n "$NS" link add dum0 type dummy 2>/dev/null || ip -n "$NS" link add dum0 type ifb
ip -n "$NS" addr add 10.99.0.1/24 dev dum0
ip -n "$NS" link set dum0 up
r=$(tcp probe 10.99.0.2:80 --wait 0.5)
expect_eq "connecting to the black-hole address" "$r" timeout

cat >"$PFD_CONF" <<EOF
forward name idle tcp 127.0.0.1:8001 to 127.0.0.1:9001 idle-timeout 1s
forward name half tcp 127.0.0.1:8002 to 127.0.0.1:9001 half-close-timeout 1s
forward name failover tcp 127.0.0.1:8003 to 127.0.0.1:9999, 127.0.0.1:9002
forward name slow tcp 127.0.0.1:8004 to 10.99.0.2:80 weight 100, 127.0.0.1:9003 connect-timeout 300ms
forward name none tcp 127.0.0.1:8005 to 127.0.0.1:9998, 127.0.0.1:9997
forward name dead tcp 127.0.0.1:8006 to 10.99.0.2:80 connect-timeout 300ms
forward name max tcp 127.0.0.1:8007 to 127.0.0.1:9001 maxconn 2
EOF
# A server that reads everything and never writes nor closes.
tcp_bg sink sink 127.0.0.1:9001
tcp_bg greet greet 127.0.0.1:9003 hello
pfd_start

# in_range VALUE LO HI: LO <= VALUE <= HI (decimals).
in_range() {
	awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'
}

# closed_after WHAT RESULT LO HI: RESULT is "closed HOW SECONDS" with SECONDS
# in [LO, HI].
closed_after() {
	local what=$1 r=$2 secs
	[[ $r == "closed "* ]] || fail "$what: the connection was not closed: $r"
	secs=${r##* }
	in_range "$secs" "$3" "$4" || fail "$what: closed after ${secs}s, expected $3-$4 s ($r)"
	info "$what: $r"
}

info "idle-timeout 1s: an idle flow is closed after about 1 s"
r=$(tcp idle 127.0.0.1:8001 --wait 5)
closed_after "idle flow" "$r" 0.9 2.5
expect_eq "idle flows left" "$(nconns idle)" 0

info "idle-timeout 1s: traffic every 0.4 s keeps it open; closed ~1 s after the last"
# Measured from the last byte sent: 6 pings span 2.4 s, longer than the timeout.
r=$(tcp idle 127.0.0.1:8001 --ping 0.4 --for 2.4 --wait 5)
closed_after "idle flow after pings" "$r" 0.9 2.5
# At least 4 pings (1.6 s) went through: the flow outlived the timeout.
pings=$(fwd_stat idle bytes_up)
((pings >= 4)) || fail "the pinging client got only $pings bytes through"

info "half-close-timeout 1s: the server never answers the client's FIN"
r=$(tcp halfclose 127.0.0.1:8002 100 --wait 5)
closed_after "half-closed flow" "$r" 0.9 2.5
expect_eq "half-closed flows left" "$(nconns half)" 0

info "failover: the first backend refuses, the second serves all 20 clients"
xfer_server srv-fo -l 127.0.0.1:9002 -n 20 -S 65536
srv=$XFER_PID
xfer_client cli-fo -c 127.0.0.1:8003 -n 20 -s 65536 -t 30
wait_pid "$srv" "pf_xfer server behind the failover forward"
[[ $XFER_RC == 0 ]] || fail "failover clients failed: $(head -3 "$T/cli-fo.err")"
check_xfer cli-fo srv-fo 20 65536 65536
failed=$(be_stat failover 0 failed)
((failed > 0)) || fail "the refusing backend shows failed=$failed, expected > 0"
expect_eq "connections to the refusing backend" "$(be_stat failover 0 conns)" 0
expect_eq "connections to the good backend" "$(be_stat failover 1 conns)" 20
expect_eq "clients refused by the failover forward" "$(fwd_stat failover refused)" 0
info "refusing backend: failed=$failed"

info "connect-timeout 300ms: past a backend that never answers, in 0.3-1 s"
# The first client waits out the timeout on the black hole, then gets the good
# backend. A backend that failed sits out a while (passive hold), so the next
# clients may go straight to the good one: none may take longer, though.
tcp firstbyte 127.0.0.1:8004 -n 5 --wait 5 >"$T/slow.out"
expect_eq "answers through the slow forward" "$(grep -c '^data .* hello$' "$T/slow.out")" 5
slow=0
while read -r r; do
	secs=$(cut -d' ' -f2 <<<"$r")
	in_range "$secs" 0 1.0 || fail "first byte through the slow forward after ${secs}s, expected at most 1 s"
	if in_range "$secs" 0.29 1.0; then slow=$((slow + 1)); fi
done <"$T/slow.out"
first=$(head -1 "$T/slow.out" | cut -d' ' -f2)
in_range "$first" 0.29 1.0 || fail "the first client through the slow forward got its first byte after ${first}s, expected 0.3-1 s (the connect timeout, then the good backend)"
info "first bytes after: $(cut -d' ' -f2 "$T/slow.out" | tr '\n' ' ')"
# Each client that waited is one connect that timed out.
expect_eq "timed-out connects to the black hole" "$(be_stat slow 0 failed)" "$slow"
expect_eq "connections to the good backend" "$(be_stat slow 1 conns)" 5
expect_eq "connections to the black hole" "$(be_stat slow 0 conns)" 0

info "no backend reachable (both refuse): the client is dropped and counted"
tcp firstbyte 127.0.0.1:8005 -n 3 --wait 3 >"$T/none.out"
while read -r r; do
	closed_after "client of a forward without backends" "$r" 0 1
done <"$T/none.out"
expect_eq "clients dropped" "$(wc -l <"$T/none.out")" 3
expect_eq "refused (no backend)" "$(fwd_stat none refused)" 3
expect_eq "failed connects to backend 0" "$(be_stat none 0 failed)" 3
expect_eq "failed connects to backend 1" "$(be_stat none 1 failed)" 3
expect_eq "flows left" "$(nconns none)" 0

info "no backend reachable (the only one times out): dropped after the timeout"
r=$(tcp firstbyte 127.0.0.1:8006 --wait 5)
closed_after "client of a forward whose backend times out" "$r" 0.29 1.0
expect_eq "refused (timeout)" "$(fwd_stat dead refused)" 1
expect_eq "failed connects (timeout)" "$(be_stat dead 0 failed)" 1

info "maxconn 2: the third client is dropped and counted"
tcp idle 127.0.0.1:8007 --wait 4 >/dev/null &
tcp idle 127.0.0.1:8007 --wait 4 >/dev/null &
wait_for 5 "two flows on the maxconn forward" eval '[[ $(fwd_stat max active) == 2 ]]'
r=$(tcp firstbyte 127.0.0.1:8007 --wait 3)
closed_after "third client of a maxconn 2 forward" "$r" 0 1
expect_eq "refused (maxconn)" "$(fwd_stat max refused)" 1
expect_eq "flows of the maxconn forward" "$(fwd_stat max active)" 2

pfd_stop
pft_done
