#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Many backends per forward: weighted spread of every weighted scheduler over
# 2,000 connections (+-5 %); the ipmasqadm pref rotation step by step (the
# seed's 15/5 example); maglev moving only a disabled backend's clients and
# few others with a removed one;
# backup, schedule (mfw -S), drain; a backend killed under load (no failed
# client, down within fall x interval + timeout, up again after rise x
# interval); source pools and ACLs; the agent check shifting the spread.
source "$(dirname "$0")/lib.sh"
pft_init

PF_IDS=$PORTFW_BUILD/tests/pf_ids
[[ -x $PF_IDS ]] || fail "$PF_IDS not built"

# ids_serve NAME ADDR:PORT=ID...: backends answering their id, in $NS.
ids_serve() {
	local name=$1 a args=()
	shift
	for a in "$@"; do args+=(-l "$a"); done
	nsx timeout -k 5 600 "$PF_IDS" serve "${args[@]}" >"$T/$name.out" 2>"$T/$name.err" &
	IDS_PID=$!
	wait_for 10 "$name to listen" grep -qs '^listening' "$T/$name.out"
}

# count ADDR:PORT N [SRC]: "ID COUNT" lines and "FAILED N" into COUNTS.
count() {
	COUNTS=$(nsx timeout -k 5 300 "$PF_IDS" count -c "$1" -n "$2" ${3:+-s "$3"})
}

# share ID: how many connections ID got in COUNTS.
share() {
	awk -v id="$1" '$1 == id { print $2; f = 1 } END { if (!f) print 0 }' <<<"$COUNTS"
}

# within GOT WANT PCT: GOT is within PCT % of WANT.
within() {
	awk -v g="$1" -v w="$2" -v p="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(d <= w * p / 100) }'
}

# expect_spread WHAT ID=WANT...: the connections of COUNTS split as wanted (+-5 %).
expect_spread() {
	local what=$1 kv
	shift
	expect_eq "$what: failed connections" "$(share FAILED)" 0
	for kv in "$@"; do
		within "$(share "${kv%%=*}")" "${kv#*=}" 5 ||
			fail "$what: ${kv%%=*} got $(share "${kv%%=*}") of the connections, expected ${kv#*=} +-5 % ($(echo $COUNTS))"
	done
}

ids_serve ids 127.0.0.1:9101=A 127.0.0.1:9102=B 127.0.0.1:9103=C 127.0.0.1:9104=D \
	127.0.0.1:9105=E
nsx ip addr add 127.1.0.0/16 dev lo 2>/dev/null || true # sources for hashing (lo holds 127/8)

cat >"$PFD_CONF" <<'EOF'
forward name pref  tcp 127.0.0.1:8100 to 127.0.0.1:9101 weight 15, 127.0.0.1:9102 weight 5 balance pref
forward name wrr   tcp 127.0.0.1:8101 to 127.0.0.1:9101 weight 3, 127.0.0.1:9102, 127.0.0.1:9103 weight 2
forward name lc    tcp 127.0.0.1:8102 to 127.0.0.1:9101 weight 3, 127.0.0.1:9102 balance leastconn
forward name rr    tcp 127.0.0.1:8103 to 127.0.0.1:9101, 127.0.0.1:9102, 127.0.0.1:9103 balance rr
forward name src   tcp 127.0.0.1:8104 to 127.0.0.1:9101 weight 3, 127.0.0.1:9102 balance source
forward name mag   tcp 127.0.0.1:8105 to 127.0.0.1:9101, 127.0.0.1:9102, 127.0.0.1:9103, 127.0.0.1:9104, 127.0.0.1:9105 balance maglev
forward name bk    tcp 127.0.0.1:8106 to 127.0.0.1:9101, 127.0.0.1:9102, 127.0.0.1:9103 backup check check-interval 200ms check-timeout 200ms fall 2 rise 2
forward name fo    tcp 127.0.0.1:8107 to 127.0.0.1:9101 weight 0, 127.0.0.1:9102 weight 0 balance pref
EOF
pfd_start

info "weighted spread over 2,000 connections, +-5 %"
count 127.0.0.1:8101 2000
expect_spread "wrr 3:1:2" A=1000 B=333 C=667
info "leastconn 3:1: 400 held connections split 300/100"
nsx timeout -k 5 120 "$PF_IDS" serve -H -l 127.0.0.1:9111=HA -l 127.0.0.1:9112=HB >"$T/hold.out" 2>&1 &
wait_for 5 "held backends to listen" grep -qs listening "$T/hold.out"
pf add name lch tcp 127.0.0.1:8109 to 127.0.0.1:9111 weight 3, 127.0.0.1:9112 balance leastconn
nsx bash -c "ulimit -n 4096; exec timeout 60 '$PF_XFER' hold -c 127.0.0.1:8109 -n 400 -t 4" >"$T/lch.out" &
wait_for 10 "400 flows" eval '[[ $(fwd_stat lch active) -ge 400 ]]'
a=$(be_stat lch 0 active)
b=$(be_stat lch 1 active)
within "$a" 300 5 && within "$b" 100 5 || fail "leastconn 3:1 over 400 held flows: $a / $b, expected 300 / 100"
count 127.0.0.1:8103 2001
expect_spread "rr" A=667 B=667 C=667
count 127.0.0.1:8100 2000
expect_spread "pref 15:5" A=1500 B=500
count 127.0.0.1:8104 2000 127.1.0.1
expect_spread "source 3:1 over 2,000 client addresses" A=1500 B=500
count 127.0.0.1:8105 2000 127.1.0.1
# A hash over 2,000 addresses into 5 equal shares: one standard deviation is
# ~18 connections (4.5 %), so +-5 % would fail by chance; 3 sigma is ~13 %.
for id in A B C D E; do
	within "$(share $id)" 400 15 || fail "maglev: $id got $(share $id) of 2000, expected 400 +-15 % ($(echo $COUNTS))"
done

info "source affinity: a client address always reaches the same backend"
a=$(for i in 1 2 3 4 5 6 7 8; do
	nsx "$PF_IDS" count -c 127.0.0.1:8104 -n 1 -s 127.1.3.3 -m
	nsx "$PF_IDS" count -c 127.0.0.1:8105 -n 1 -s 127.1.3.3 -m | sed 's/ / maglev-/'
done | awk '{print $2}' | sort -u)
[[ $(wc -l <<<"$a") == 2 ]] || fail "one client address reached several backends: $a"
a=$(head -1 <<<"$a")
[[ $(wc -l <<<"$a") == 1 ]] || fail "one client address reached several backends: $a"

info "pref: the seed's 15/5 rotation, step by step"
pf del name pref
pf add name pref tcp 127.0.0.1:8100 to 127.0.0.1:9101 weight 15, 127.0.0.1:9102 weight 5 balance pref
seq=$(nsx "$PF_IDS" count -c 127.0.0.1:8100 -n 45 -m | awk '{printf "%s", $2}')
expect_eq "pref rotation (.27 gets 15 in a row, then .28 gets 5, ...)" "$seq" \
	"AAAAAAAAAAAAAAABBBBBAAAAAAAAAAAAAAABBBBBAAAAA"
j=$(pf list -j)
expect_eq "pcnt of A after 45 flows" "$(jget "[f for f in d if f['name']=='pref'][0]['backends'][0]['pcnt']" <<<"$j")" 10
expect_eq "pref of A" "$(jget "[f for f in d if f['name']=='pref'][0]['backends'][0]['pref']" <<<"$j")" 15
grep -q "PCNT" <<<"$(pf list)" || fail "portfw list shows no PCNT column"

info "pref 0: failover order, 'portfw schedule' forces the rotation (mfw -S)"
count 127.0.0.1:8107 10
expect_eq "pref 0 pool before schedule" "$(share A)" 10
pf schedule fo
count 127.0.0.1:8107 10
expect_eq "pref 0 pool after schedule" "$(share B)" 10
capture pf schedule wrr
expect_eq "schedule on a wrr forward: exit status" "$RC" 1
expect_in "schedule on a wrr forward" "$ERR" "rotates pref and rr"

info "maglev: a backend disabled moves its clients and no other"
nsx "$PF_IDS" count -c 127.0.0.1:8105 -n 2000 -s 127.1.0.1 -m >"$T/mag1"
pf backend mag 127.0.0.1:9103 disable
nsx "$PF_IDS" count -c 127.0.0.1:8105 -n 2000 -s 127.1.0.1 -m >"$T/mag2"
read -r moved onc others < <(paste "$T/mag1" "$T/mag2" |
	awk '$2 != $4 { m++ } $2 == "C" { c++ } $2 != $4 && $2 != "C" { o++ } END { print m + 0, c + 0, o + 0 }')
info "moved $moved of 2000 clients; $onc were on the disabled backend; $others others moved"
((moved == onc)) || fail "maglev moved $moved clients, expected the disabled backend's $onc"
((others == 0)) || fail "maglev moved $others clients that were not on the disabled backend"
pf backend mag 127.0.0.1:9103 enable
nsx "$PF_IDS" count -c 127.0.0.1:8105 -n 2000 -s 127.1.0.1 -m >"$T/mag2"
cmp -s "$T/mag1" "$T/mag2" || fail "maglev: the clients did not come back when the backend did"

info "maglev: removing 1 of 5 backends moves its clients (~20 %) and few others"
pf del name mag 127.0.0.1:9103
nsx "$PF_IDS" count -c 127.0.0.1:8105 -n 2000 -s 127.1.0.1 -m >"$T/mag2"
read -r moved onc others < <(paste "$T/mag1" "$T/mag2" |
	awk '$2 != $4 { m++ } $2 == "C" { c++ } $2 != $4 && $2 != "C" { o++ } END { print m + 0, c + 0, o + 0 }')
info "moved $moved of 2000 clients; $onc were on the removed backend; $others others moved"
((moved >= 300 && moved <= 500)) || fail "maglev moved $moved of 2000 clients, expected ~400"
((others <= 40)) || fail "maglev moved $others clients that were not on the removed backend (more than 2 %)"

info "backup: takes flows only while no primary is up"
count 127.0.0.1:8106 30
expect_eq "backup while primaries are up" "$(share C)" 0
pf backend bk 127.0.0.1:9101 disable
pf backend bk 127.0.0.1:9102 disable
count 127.0.0.1:8106 10
expect_eq "backup with every primary disabled" "$(share C)" 10
pf backend bk 127.0.0.1:9102 enable
count 127.0.0.1:8106 10
expect_eq "backup once a primary is back" "$(share B)" 10
pf backend bk 127.0.0.1:9101 enable
grep -q "forward name bk .*127.0.0.1:9103 backup" <<<"$(pf save)" || fail "save lost the backup flag"

info "drain: existing flows go on, no new ones"
pf add name dr tcp 127.0.0.1:8110 to 127.0.0.1:9001, 127.0.0.1:9002
xfer_server drsrv -l 127.0.0.1:9001 -n 1 -S $((8 * 1024 * 1024))
srv=$XFER_PID
nsx "$PF_IDS" serve -l 127.0.0.1:9002=Z >"$T/z.out" 2>&1 &
wait_for 5 "Z to listen" grep -qs listening "$T/z.out"
# The first flow goes to 9001 (wrr order): a slow transfer there.
xfer_client_bg drcli -c 127.0.0.1:8110 -n 1 -s 1024 -R 2000000 -t 60
cli=$XFER_PID
wait_for 5 "the transfer to start" eval '[[ $(nconns dr) == 1 ]]'
pf backend dr 127.0.0.1:9001 drain
expect_eq "state after drain" "$(pf list -j | jget "[f for f in d if f['name']=='dr'][0]['backends'][0]['state']")" drain
count 127.0.0.1:8110 10
expect_eq "new flows while 9001 drains" "$(share Z)" 10
wait_pid "$cli" "the transfer through the draining backend" 60
wait_pid "$srv" "its server" 10
check_xfer drcli drsrv 1 1024 $((8 * 1024 * 1024))
grep -q "127.0.0.1:9001 drain" <<<"$(pf save)" || fail "save lost the drain state"

info "a backend killed under load: 0 failed clients, down within fall x interval + timeout"
pf add name hc tcp 127.0.0.1:8120 to 127.0.0.1:9201, 127.0.0.1:9202 check check-interval 500ms check-timeout 300ms fall 3 rise 2
nsx "$PF_IDS" serve -l 127.0.0.1:9201=K >"$T/k.out" 2>&1 &
nsx "$PF_IDS" serve -l 127.0.0.1:9202=L >"$T/l.out" 2>&1 &
wait_for 5 "K and L to listen" eval 'grep -qs listening "$T/k.out" && grep -qs listening "$T/l.out"'
# Load: connections in a loop while K dies; each must succeed (retries).
nsx timeout 20 "$PF_IDS" count -c 127.0.0.1:8120 -n 1500 >"$T/load.out" &
load=$!
sleep 0.5
# K goes away as a host that dies does for new connections: refused at once
# (a reset), then the process is killed once the connections it accepted
# were answered. Killing it outright would reset the connections its
# kernel had accepted but it had not yet answered: established, so no proxy
# can retry them (the test then failed now and then, under ASan mostly).
nsx nft -f - <<'EOF'
table inet pft_k {
	chain out {
		type filter hook output priority 0; policy accept;
		ip daddr 127.0.0.1 tcp dport 9201 tcp flags syn reject with tcp reset
	}
}
EOF
t0=$(date +%s%3N)
sleep 0.2
# nsx is a function: $! would be a subshell, so find K itself.
pkill -f -- "-l 127.0.0.1:9201=K" || fail "K was not running"
wait_for 10 "K marked down" eval \
	"[[ \$(pf list -j | jget \"[f for f in d if f['name']=='hc'][0]['backends'][0]['state']\") == down ]]"
# When did the daemon decide? Its log line's time (polling here can lag).
log_ms() {
	local ts
	ts=$(grep "$1" "$PFD_LOG" | tail -1 | cut -d' ' -f1)
	[[ -n $ts ]] || fail "no log line '$1'"
	echo $(($(date -d "${ts/T/ }" +%s%3N)))
}
dt=$(($(log_ms "backend 127.0.0.1:9201 of forward hc is down") - t0))
info "K marked down after $dt ms (fall 3 x 500 ms + 300 ms = 1800 ms)"
((dt <= 1800)) || fail "K was marked down after $dt ms, expected <= 1800"
wait "$load" || true
expect_eq "failed client connections while K died" "$(awk '$1=="FAILED"{print $2}' "$T/load.out")" 0
[[ $(be_stat hc 0 checks_failed) -ge 3 ]] || fail "failed checks were not counted"
grep -q "backend 127.0.0.1:9201 of forward hc is down" "$PFD_LOG" || fail "no log line for the state change"
count 127.0.0.1:8120 20
expect_eq "flows to a down backend" "$(share K)" 0
nsx nft delete table inet pft_k
nsx "$PF_IDS" serve -l 127.0.0.1:9201=K >"$T/k2.out" 2>&1 &
wait_for 5 "K to listen again" grep -qs listening "$T/k2.out"
t0=$(date +%s%3N)
wait_for 10 "K marked up" eval \
	"[[ \$(pf list -j | jget \"[f for f in d if f['name']=='hc'][0]['backends'][0]['state']\") == up ]]"
dt=$(($(log_ms "backend 127.0.0.1:9201 of forward hc is up") - t0))
info "K up again after $dt ms (rise 2 x 500 ms)"
((dt <= 1000)) || fail "K was marked up after $dt ms, expected <= 1000"
count 127.0.0.1:8120 20
[[ $(share K) -ge 8 ]] || fail "K gets no flows after coming back: $(echo $COUNTS)"

info "source pools: 127.0.0.2 and 127.0.0.3 reach different backends; a denied source is refused"
pf add name friend tcp 127.0.0.1:8130 to 127.0.0.1:9101 from 127.0.0.2/32
pf add name neutral tcp 127.0.0.1:8130 to 127.0.0.1:9102 deny 127.0.0.4
count 127.0.0.1:8130 1 127.0.0.2
expect_eq "source 127.0.0.2 (FRIEND pool)" "$(share A)" 1
count 127.0.0.1:8130 1 127.0.0.3
expect_eq "source 127.0.0.3 (NEUTRAL pool)" "$(share B)" 1
count 127.0.0.1:8130 1 127.0.0.4
expect_eq "denied source 127.0.0.4" "$(share FAILED)" 1
expect_eq "denied clients counted" "$(fwd_stat neutral denied)" 1
capture pf add name dup tcp 127.0.0.1:8130 to 127.0.0.1:9103 from 127.0.0.2/32
expect_eq "a second pool for the same sources: exit status" "$RC" 1
expect_in "a second pool for the same sources" "$ERR" "with the same 'from' sources overlaps forward 'friend'"
capture pf add name dup tcp 127.0.0.1:8130 to 127.0.0.1:9103 from 127.0.0.9,127.0.0.2/32
expect_eq "a second pool sharing a source: exit status" "$RC" 1
expect_in "a second pool sharing a source" "$ERR" "with source 127.0.0.2/32 in both"
pf save >"$T/saved.conf"
grep -q "from 127.0.0.2/32" "$T/saved.conf" || fail "save lost the from set"
grep -q "deny 127.0.0.4/32" "$T/saved.conf" || fail "save lost the deny list"

info "a global default ACL applies to forwards without their own"
pf default deny 127.0.0.5
count 127.0.0.1:8101 1 127.0.0.5
expect_eq "source denied by the default" "$(share FAILED)" 1
count 127.0.0.1:8101 1 127.0.0.6
expect_eq "another source under the default" "$(share FAILED)" 0
grep -q "^default deny 127.0.0.5/32" <<<"$(pf save)" || fail "save lost the default"
pf default clear

info "agent check: the reported load shifts the spread"
echo "100%" >"$T/agent1"
echo "100%" >"$T/agent2"
nsx "$PF_IDS" agent -l 127.0.0.1:9301 -f "$T/agent1" >"$T/a1.out" 2>&1 &
nsx "$PF_IDS" agent -l 127.0.0.1:9302 -f "$T/agent2" >"$T/a2.out" 2>&1 &
wait_for 5 "agents to listen" eval 'grep -qs listening "$T/a1.out" && grep -qs listening "$T/a2.out"'
# One agent port for both backends would not tell them apart: two forwards.
pf add name ag tcp 127.0.0.1:8140 to 127.0.0.1:9101, 127.0.0.1:9102 check check-port 9101 agent-port 9301 agent-interval 200ms
count 127.0.0.1:8140 1000
expect_spread "agent 100% each" A=500 B=500
echo "25%" >"$T/agent1"
wait_for 5 "the agent's 25% to apply" eval \
	"[[ \$(pf list -j | jget \"[f for f in d if f['name']=='ag'][0]['backends'][0]['effective_weight']\") == 0 ]] ||
	 [[ \$(pf list -j | jget \"[f for f in d if f['name']=='ag'][0]['backends'][0]['agent_pct']\") == 25 ]]"
echo "1.0" >"$T/agent1" # a load average of 1: weight / 2
wait_for 5 "the agent's load to apply" eval \
	"[[ \$(pf list -j | jget \"[f for f in d if f['name']=='ag'][0]['backends'][0]['agent_pct']\") == 50 ]]"
pf backend ag 127.0.0.1:9101 weight 4
pf backend ag 127.0.0.1:9102 weight 4
wait_for 5 "the agent's load after the weight change" eval \
	"[[ \$(pf list -j | jget \"[f for f in d if f['name']=='ag'][0]['backends'][0]['effective_weight']\") == 2 ]]"
count 127.0.0.1:8140 1200
# Both backends share the agent (same port); both at 50 %: equal again.
expect_spread "agent load 1.0 on both" A=600 B=600
echo "drain" >"$T/agent1"
wait_for 5 "the agent's drain" eval \
	"[[ \$(pf list -j | jget \"[f for f in d if f['name']=='ag'][0]['backends'][0]['state']\") == drain ]]"
count 127.0.0.1:8140 20
expect_eq "flows while the agent says drain" "$(share A)" 0

info "bad input changes nothing"
pf save >"$T/before"
capture pf add name x tcp 127.0.0.1:8150 to 127.0.0.1:9101 balance fastest
expect_eq "unknown scheduler: exit status" "$RC" 2
expect_in "unknown scheduler" "$ERR" "'balance' expects wrr, pref, rr, leastconn, source or maglev"
capture pf backend wrr 127.0.0.1:9999 drain
expect_eq "backend that is not in the pool: exit status" "$RC" 1
expect_in "backend that is not in the pool" "$ERR" "has no backend '127.0.0.1'"
capture pf add name y tcp 127.0.0.1:8151 to 127.0.0.1:9101 from 10.0.0.0/33
expect_eq "bad CIDR: exit status" "$RC" 2
diff "$T/before" <(pf save) || fail "refused changes changed the table"

pfd_stop
