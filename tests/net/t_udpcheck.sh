#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Health checks of UDP-only forwards: a DNS query (binary, NUL bytes and
# all, as \xHH escapes) sent to a real dnsmasq keeps its backend up while it
# answers with the expected address, and marks it down within fall x
# interval once dnsmasq is gone (ICMP port unreachable); a reply without
# check-expect, and a port that answers ICMP, fail the check; 'portfw save'
# writes check-send back so that it loads again; 'check' on a UDP-only
# forward without check-send is refused, naming the line.
source "$(dirname "$0")/lib.sh"
pft_init

command -v dnsmasq >/dev/null || fail "dnsmasq not installed (dnsmasq-base)"

nsx timeout -k 5 120 dnsmasq -d -k --conf-file=/dev/null --port=5300 \
	--listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
	--pid-file= --user=root --local=/test.portfw/ \
	--host-record=www.test.portfw,10.1.2.3 --log-queries --log-facility=- \
	>"$T/dnsmasq.log" 2>&1 &
wait_for 10 "dnsmasq to listen" eval "nsx ss -Hlun 'sport = :5300' | grep -q 5300"
# Its own pid (not the wrappers'): what stops it for good later.
dnsmasq=$(nsx ss -Hlunp 'sport = :5300' | grep -o 'pid=[0-9]*' | head -1)
dnsmasq=${dnsmasq#pid=}
[[ -n $dnsmasq ]] || fail "no pid of dnsmasq"

# An A query for www.test.portfw (id 0x1234, recursion desired), and the
# answer's address (10.1.2.3) as it stands in the reply.
Q='\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x04test\x06portfw\x00\x00\x01\x00\x01'
A='\x0a\x01\x02\x03'
CHK="check check-interval 300ms check-timeout 300ms fall 2 rise 1 check-send \"$Q\""

cat >"$PFD_CONF" <<EOF
forward name dns udp 127.0.0.1:5353 to 127.0.0.1:5300 $CHK check-expect "$A"
forward name other udp 127.0.0.1:5354 to 127.0.0.1:5300 $CHK check-expect "\x0a\x09\x09\x09"
forward name closed udp 127.0.0.1:5355 to 127.0.0.1:5399 $CHK
EOF
pfd_start

health() {
	be_stat "$1" 0 health
}

info "dnsmasq answers the check's query: up; a wrong answer and a closed port: down"
wait_for 5 "the dns backend to be up" eval '[[ $(be_stat dns 0 checks_failed) == 0 && $(health dns) == up ]]'
wait_for 5 "the backend whose reply lacks check-expect to be down" eval '[[ $(health other) == down ]]'
wait_for 5 "the closed port's backend to be down" eval '[[ $(health closed) == down ]]'
grep -q "check of 127.0.0.1:5399.*port unreachable\|backend 127.0.0.1:5399 of forward closed is down" "$PFD_LOG" ||
	fail "the closed port's backend is not logged down: $(grep closed "$PFD_LOG")"
nq=$(grep -c "query\[A\] www.test.portfw" "$T/dnsmasq.log" || true)
((nq >= 2)) || fail "dnsmasq saw $nq check queries"
sleep 1
expect_eq "the dns backend after more checks" "$(health dns)" up
expect_eq "failed checks of the dns backend" "$(be_stat dns 0 checks_failed)" 0
got=$(nsx timeout 10 dig @127.0.0.1 -p 5353 www.test.portfw +short +tries=1 +time=3)
expect_eq "dig through the checked forward" "$got" "10.1.2.3"

# Saved in the one spelling of each byte: \x0a is "\n".
info "portfw save writes check-send back; the saved table loads again"
pf save >"$T/saved.conf"
grep -qF 'check-send "\x124\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x04test\x06portfw\x00\x00\x01\x00\x01" check-expect "\n\x01\x02\x03"' "$T/saved.conf" ||
	fail "check-send not saved as written: $(grep dns "$T/saved.conf")"
capture "$PORTFWD" -t -c "$T/saved.conf"
[[ $RC == 0 ]] || fail "the saved table does not load: $ERR"
cp "$T/saved.conf" "$PFD_CONF"
pf reload >/dev/null
expect_eq "the dns backend after reloading the saved table" "$(health dns)" up

info "dnsmasq stops: down within fall x interval + timeout"
kill "$dnsmasq"
wait_for 5 "dnsmasq to exit" pid_gone "$dnsmasq"
t0=$(now_ms)
wait_for 5 "the dns backend to be down" eval '[[ $(health dns) == down ]]'
took=$(($(now_ms) - t0))
# 2 x 300 ms + 300 ms, plus the poll and the checker's schedule.
((took <= 2000 * PFT_SLOW)) || fail "down after ${took} ms, expected within ~900 ms"
info "down ${took} ms after dnsmasq stopped"

info "'check' on a UDP-only forward without check-send: refused, naming the line"
printf 'forward name ok tcp 127.0.0.1:8001 to 127.0.0.1:9001\nforward name u udp 127.0.0.1:5356 to 127.0.0.1:5300 check\n' >"$T/bad.conf"
capture "$PORTFWD" -t -c "$T/bad.conf"
[[ $RC != 0 ]] || fail "a UDP-only forward with 'check' and no check-send was taken"
expect_in "the refusal" "$ERR" "$T/bad.conf:2: 'check': a UDP service answers no connect; expected check-send"
capture pf add name u udp 127.0.0.1:5356 to 127.0.0.1:5300 check
[[ $RC != 0 ]] || fail "portfw add took a UDP-only forward with 'check' and no check-send"
expect_in "the refusal of portfw add" "$ERR" "'check': a UDP service answers no connect"
capture pf list -j
[[ $OUT != *'"u"'* ]] || fail "the refused forward is in the table"

pfd_stop
pft_done
