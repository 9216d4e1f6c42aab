#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# UDP forwarding: DNS through a forward to a real dnsmasq (over UDP and, on the
# same tcp,udp forward, TCP); 50 clients x 1,000 request/replies with every
# reply checked to reach the client that asked; 65,507-byte datagrams both
# ways; session expiry (unreplied, one query/reply, a stream) within +-1 s; the session
# limit; a backend answering ICMP port unreachable; live changes.
source "$(dirname "$0")/lib.sh"
pft_init

PF_UDP=$PORTFW_BUILD/tests/pf_udp
[[ -x $PF_UDP ]] || fail "$PF_UDP not built"
command -v dnsmasq >/dev/null || fail "dnsmasq not installed (dnsmasq-base)"
command -v dig >/dev/null || fail "dig not installed (bind9-dnsutils)"

# udp_echo NAME ADDR:PORT [-x]: a pf_udp echo server in $NS (-x: never answers).
udp_echo() {
	local name=$1
	shift
	nsx timeout -k 5 300 "$PF_UDP" echo -l "$@" >"$T/$name.out" 2>"$T/$name.err" &
	wait_for 10 "$name to listen" grep -qs '^listening' "$T/$name.out"
}

# udp_client ARGS...: pf_udp client in $NS; its summary in UOUT, status in URC.
udp_client() {
	URC=0
	UOUT=$(nsx timeout -k 5 120 "$PF_UDP" client "$@" 2>&1) || URC=$?
}

info "dnsmasq answering test.portfw on 127.0.0.1:5300 (UDP and TCP)"
nsx timeout -k 5 300 dnsmasq -d -k --conf-file=/dev/null --port=5300 \
	--listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
	--pid-file= --user=root --local=/test.portfw/ \
	--host-record=www.test.portfw,10.1.2.3 --log-queries --log-facility=- \
	>"$T/dnsmasq.log" 2>&1 &
wait_for 10 "dnsmasq to listen" eval "nsx ss -Hlun 'sport = :5300' | grep -q 5300"

udp_echo echo 127.0.0.1:7000
udp_echo sink 127.0.0.1:7100 -x

cat >"$PFD_CONF" <<'EOF'
forward name dns   tcp,udp :5353 to 127.0.0.1:5300
forward name echo  udp 127.0.0.1:7001 to 127.0.0.1:7000
forward name big   udp [::1]:7002 to 127.0.0.1:7000
forward name short udp 127.0.0.1:7101 to 127.0.0.1:7100 udp-timeout 2s
forward name reply udp 127.0.0.1:7003 to 127.0.0.1:7000 udp-timeout 2s udp-stream-timeout 4s
forward name cap   udp 127.0.0.1:7004 to 127.0.0.1:7000 max-sessions 5
forward name icmp  udp 127.0.0.1:7005 to 127.0.0.1:7999, 127.0.0.1:7000
EOF
pfd_start

info "dig through the forward, over UDP and over TCP"
got=$(nsx timeout 10 dig @127.0.0.1 -p 5353 www.test.portfw +short +tries=1 +time=3)
expect_eq "dig over UDP through the forward" "$got" "10.1.2.3"
got=$(nsx timeout 10 dig @::1 -p 5353 www.test.portfw +short +tries=1 +time=3)
expect_eq "dig over UDP/IPv6 through the any-address forward" "$got" "10.1.2.3"
got=$(nsx timeout 10 dig @127.0.0.1 -p 5353 www.test.portfw +short +tcp +tries=1 +time=3)
expect_eq "dig over TCP through the same tcp,udp forward" "$got" "10.1.2.3"
grep -q "query\[A\] www.test.portfw" "$T/dnsmasq.log" || fail "dnsmasq never saw the query"
[[ $(fwd_stat dns bytes_down) -gt 0 ]] || fail "the dns forward counted no reply bytes"

info "50 clients x 1,000 request/replies, each reply to the client that asked"
udp_client -c 127.0.0.1:7001 -n 50 -r 1000 -s 64 -t 2000
[[ $URC == 0 ]] || fail "request/replies through the forward: $UOUT"
expect_eq "50 x 1,000 request/replies" "$UOUT" "ok 50000 lost 0 wrong 0"
expect_eq "sessions of the echo forward" "$(nconns echo)" 50
expect_eq "sessions counted by portfw list" "$(fwd_stat echo active)" 50

info "65,507-byte datagrams both ways, byte-exact (IPv6 listener, IPv4 backend)"
udp_client -c [::1]:7002 -n 2 -r 20 -s 65487 -t 2000
expect_eq "largest IPv6 datagrams" "$UOUT" "ok 40 lost 0 wrong 0"
udp_client -c 127.0.0.1:7001 -n 2 -r 20 -s 65507 -t 2000
expect_eq "65,507-byte datagrams" "$UOUT" "ok 40 lost 0 wrong 0"

# expect_expiry FORWARD T0 TIMEOUT_MS: the forward's one session is still there
# whenever it is looked at before T0 + TIMEOUT - 200 ms, and gone by T0 +
# TIMEOUT + 1 s. (Polling through the client can be slow on a loaded machine,
# so each look is timed and only a look that ended early enough counts.)
expect_expiry() {
	local fwd=$1 t0=$2 to=$3 n t1 seen=0
	while :; do
		n=$(nconns "$fwd")
		t1=$(now_ms)
		((t1 < t0 + to - 200)) || break
		expect_eq "$fwd: sessions $((t1 - t0)) ms after the last datagram" "$n" 1
		seen=1
		sleep 0.2
	done
	((seen)) || info "(machine too slow to look before the deadline)"
	t1=$(now_ms)
	if ((t1 < t0 + to + 1000)); then
		sleep "$(awk -v ms=$((t0 + to + 1000 - t1)) 'BEGIN { print ms / 1000 }')"
	fi
	expect_eq "$fwd: sessions 1 s after the timeout" "$(nconns "$fwd")" 0
}

info "an unreplied session leaves the table after udp-timeout 2s (+-1 s)"
t0=$(now_ms)
udp_client -c 127.0.0.1:7101 -n 1 -r 1 -t 100
state=$(pf conns -j | jget "[c['state'] for c in d if c['forward'] == 'short']")
left=$(pf conns -j | jget "[c['expires_ms'] for c in d if c['forward'] == 'short'] or [0]")
expect_eq "state of a session without a reply" "$state" '["unreplied"]'
left=${left//[^0-9]/}
((left > 0 && left <= 2000)) || fail "unreplied session: expires_ms $left, expected <= 2000"
expect_expiry short "$t0" 2000

info "one query and its reply (a DNS lookup): the short udp-timeout 2s (+-1 s)"
t0=$(now_ms)
udp_client -c 127.0.0.1:7003 -n 1 -r 1 -t 1000
[[ $URC == 0 ]] || fail "one request/reply: $UOUT"
state=$(pf conns -j | jget "[c['state'] for c in d if c['forward'] == 'reply'][0]")
expect_eq "session state after one reply" "$state" "replied"
left=$(pf conns -j | jget "[c['expires_ms'] for c in d if c['forward'] == 'reply'][0]")
((left > 0 && left <= 2000)) || fail "query/reply session: expires_ms $left, expected <= 2000"
expect_expiry reply "$t0" 2000

info "a stream (3 datagrams each way): udp-stream-timeout 4s (+-1 s)"
udp_client -c 127.0.0.1:7003 -n 1 -r 3 -t 1000
t0=$(now_ms)
[[ $URC == 0 ]] || fail "three request/replies: $UOUT"
state=$(pf conns -j | jget "[c['state'] for c in d if c['forward'] == 'reply'][0]")
expect_eq "session state after three replies" "$state" "stream"
left=$(pf conns -j | jget "[c['expires_ms'] for c in d if c['forward'] == 'reply'][0]")
((left > 2000 && left <= 4000)) || fail "stream session: expires_ms $left, expected ~4000"
expect_expiry reply "$t0" 4000

info "session limit: 5 sessions held, the 6th client dropped, the 5 keep working"
nsx timeout -k 5 60 "$PF_UDP" client -c 127.0.0.1:7004 -n 5 -r 30 -i 100 -t 1000 \
	>"$T/cap5.out" 2>&1 &
cap5=$!
wait_for 5 "5 sessions on the capped forward" eval '[[ $(nconns cap) == 5 ]]'
udp_client -c 127.0.0.1:7004 -n 1 -r 3 -t 300
expect_eq "the 6th client beyond max-sessions" "$UOUT" "ok 0 lost 3 wrong 0"
wait_pid "$cap5" "the 5 clients within the limit" 30
expect_eq "the 5 clients within the limit" "$(cat "$T/cap5.out")" "ok 150 lost 0 wrong 0"
[[ $(fwd_stat cap refused) -ge 3 ]] || fail "refused datagrams were not counted"
grep -q "refused: max-sessions (UDP) reached" "$PFD_LOG" || fail "no log line about the session limit"
[[ $(grep -c "refused: max-sessions (UDP) reached" "$PFD_LOG") -le 2 ]] || fail "the limit log line is not rate limited"

info "a backend answering ICMP port unreachable: skipped, the table survives"
udp_client -c 127.0.0.1:7005 -n 1 -r 3 -t 300
[[ $(be_stat icmp 0 failed) -ge 1 ]] || fail "the refusing backend was not counted as failed"
udp_client -c 127.0.0.1:7005 -n 20 -r 50 -t 1000
# The passive check holds the backend back for a while after each refusal; a
# client whose session lands on it after that loses its first datagram, and
# its next one opens a session on the other backend. So: at most one lost
# datagram per client, never a wrong one.
read -r _ ok _ lost _ wrong <<<"$UOUT"
((ok >= 980 && ok + lost == 1000 && wrong == 0)) ||
	fail "new clients while a backend refuses: $UOUT (expected at most 1 lost per client)"
udp_client -c 127.0.0.1:7001 -n 5 -r 100
expect_eq "other forwards' sessions after the ICMP errors" "$UOUT" "ok 500 lost 0 wrong 0"

info "live changes: deleting a forward ends its sessions, others are untouched"
udp_client -c 127.0.0.1:7001 -n 3 -r 1
before_echo=$(nconns echo)
((before_echo > 0)) || fail "no echo sessions before the change"
pf add name extra udp 127.0.0.1:7006 to 127.0.0.1:7000 >/dev/null
udp_client -c 127.0.0.1:7006 -n 2 -r 5
expect_eq "a forward added live" "$UOUT" "ok 10 lost 0 wrong 0"
expect_eq "sessions of the forward added live" "$(nconns extra)" 2
pf del name extra
expect_eq "sessions of a deleted forward" "$(nconns extra)" 0
expect_eq "sessions of the other forward" "$(nconns echo)" "$before_echo"
udp_client -c 127.0.0.1:7006 -n 1 -r 1 -t 300
expect_eq "the deleted forward's port" "$UOUT" "ok 0 lost 1 wrong 0"

pfd_stop
