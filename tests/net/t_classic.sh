#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The classic command lines run unchanged (issue 7), each seed example
# checked by traffic: seed 001's ipportfw script (-C, -A -t/-u glued, -L in
# its format), seed 002's ipmasqadm portfw 15/5 pref example (the rotation
# order), its mfw FRIEND/NEUTRAL example (two source networks, two servers;
# -S forcing the rotation; a mark changed live), autofw (the usage with no
# arguments, a range to a hidden host), seed 004's port table file through
# 'portfw import' and 'include-table' (TCP and UDP); the round trip classic
# commands -> save -> flush -> restore -> same behaviour; bad classic input
# (usage, exit 2, nothing changed).
#
# The seeds' addresses become test ones on lo of the test's namespace:
# 194.160.1.1 -> 192.0.2.1, extip -> 192.0.2.2, the mfw gateway 192.0.2.3;
# servers keep the seeds' inside addresses; FRIEND 209.81.8.0/24 ->
# 127.2.8.0/24 (clients bind 127.x sources, all on lo).
source "$(dirname "$0")/lib.sh"
pft_init

PF_IDS=$PORTFW_BUILD/tests/pf_ids
PF_UDP=$PORTFW_BUILD/tests/pf_udp
IPPORTFW=$PORTFW_BUILD/ipportfw
IPMASQADM=$PORTFW_BUILD/ipmasqadm
for b in "$PF_IDS" "$PF_UDP" "$IPPORTFW" "$IPMASQADM"; do
	[[ -x $b ]] || fail "$b not built (make BUILD=... all \$BUILD/tests/pf_ids \$BUILD/tests/pf_udp)"
done

# The classic tools have no -s: they find the daemon through PORTFW_SOCKET.
ipportfw() {
	ip netns exec "$NS" env PORTFW_SOCKET="$PFD_SOCK" timeout $((20 * PFT_SLOW)) "$IPPORTFW" "$@"
}
ipmasqadm() {
	ip netns exec "$NS" env PORTFW_SOCKET="$PFD_SOCK" timeout $((20 * PFT_SLOW)) "$IPMASQADM" "$@"
}

# ids_serve NAME ADDR:PORT=ID...: TCP servers answering their id, inside.
ids_serve() {
	local name=$1 a args=()
	shift
	for a in "$@"; do args+=(-l "$a"); done
	ip netns exec "$NSI" timeout -k 5 600 "$PF_IDS" serve "${args[@]}" >"$T/$name.out" \
		2>"$T/$name.err" &
	wait_for 10 "$name to listen" grep -qs '^listening' "$T/$name.out"
}

# seq_of ADDR:PORT N [SRC]: the ids of N connections in a row, as one word.
seq_of() {
	nsx timeout -k 5 120 "$PF_IDS" count -c "$1" -n "$2" ${3:+-s "$3"} -m | awk '{printf "%s", $2}'
}

# expect_seq WHAT ADDR:PORT N WANT [SRC]
expect_seq() {
	expect_eq "$1" "$(seq_of "$2" "$3" "${5-}")" "$4"
}

udp_echo() {
	local name=$1
	shift
	ip netns exec "$NSI" timeout -k 5 600 "$PF_UDP" echo -l "$@" >"$T/$name.out" \
		2>"$T/$name.err" &
	wait_for 10 "$name to listen" grep -qs '^listening' "$T/$name.out"
}

# expect_udp WHAT ADDR:PORT: 20 request/replies through it, none lost.
expect_udp() {
	local out rc=0
	out=$(nsx timeout -k 5 60 "$PF_UDP" client -c "$2" -r 20 -t 1000 2>&1) || rc=$?
	[[ $rc == 0 ]] || fail "$1: UDP through $2: $out"
}

# The gateway ($NS) holds the seeds' outside addresses on lo; the inside
# hosts are addresses of a second namespace behind a veth pair (autofw and
# the table forward to the same port numbers, which the gateway listens on).
for a in 192.0.2.1 192.0.2.2 192.0.2.3; do
	nsx ip addr add "$a/32" dev lo
done
ns_add in
NSI=$NS_LAST
ip link add lan netns "$NS" type veth peer name eth0 netns "$NSI"
nsx ip addr add 10.9.0.1/24 dev lan
nsx ip link set lan up
ip -n "$NSI" addr add 10.9.0.2/24 dev eth0
ip -n "$NSI" link set eth0 up
for a in 10.0.0.2 10.0.0.3 10.0.0.9 192.168.16.27 192.168.16.28 192.168.17.3 192.168.17.4 \
	192.168.15.46; do
	ip -n "$NSI" addr add "$a/32" dev lo
	nsx ip route add "$a/32" via 10.9.0.2
done

ids_serve web 10.0.0.2:80=W 10.0.0.3:80=D 192.168.16.27:80=a 192.168.16.28:80=b \
	192.168.17.3:80=F 192.168.17.4:80=G 192.168.15.46:80=N 10.0.0.2:13110=S \
	10.0.0.2:13120=R 10.0.0.2:13121=Q 10.0.0.9:6000=H 10.0.0.9:6001=I 10.0.0.9:6002=J
nsx timeout -k 5 600 "$PF_IDS" serve -l 127.0.0.1:9201=X >"$T/x.out" 2>&1 &
wait_for 10 "X to listen" grep -qs '^listening' "$T/x.out"
udp_echo u525 10.0.0.2:525
udp_echo u13110 10.0.0.2:13110
udp_echo u13111 10.0.0.2:13111
nsx timeout -k 5 600 "$PF_IDS" serve -H -l 127.0.0.1:9301=HA -l 127.0.0.1:9302=HB \
	>"$T/held.out" 2>&1 &
wait_for 10 "held servers to listen" grep -qs '^listening' "$T/held.out"

# A native forward beside the classic ones: they mix, and the classic
# tools' -C/-f/-F leave it alone.
echo "forward name native tcp 127.0.0.1:8000 to 127.0.0.1:9201" >"$PFD_CONF"
pfd_start

# ---------------------------------------------------------------- seed 001
info "seed 001: ipportfw -C, -A -t/-u (glued), -L"
ipportfw -C
ipportfw -A -t192.0.2.1/80 -R 10.0.0.2/80
ipportfw -A -u192.0.2.1/525 -R 10.0.0.2/525
capture ipportfw -L
expect_eq "ipportfw -L exit status" "$RC" 0
expect_eq "ipportfw -L (seed 001's format)" "$OUT" "Prot Local Addr/Port > Remote Addr/Port
TCP 192.0.2.1/80 > 10.0.0.2/80
UDP 192.0.2.1/525 > 10.0.0.2/525"
expect_seq "TCP 192.0.2.1/80 reaches 10.0.0.2/80" 192.0.2.1:80 3 WWW
expect_udp "UDP 192.0.2.1/525 reaches 10.0.0.2/525" 192.0.2.1:525
info "ipportfw: separate words work too; -D; -C leaves native forwards alone"
ipportfw -A -t 192.0.2.1 /81 -R 10.0.0.2/80 2>/dev/null && fail "ipportfw took '192.0.2.1 /81'"
ipportfw -A -t 192.0.2.1/81 -R 10.0.0.3/80
expect_seq "ipportfw -A -t ADDR/PORT (separate)" 192.0.2.1:81 2 DD
ipportfw -D -t192.0.2.1/81
expect_refused 192.0.2.1:81 "after ipportfw -D"
capture ipportfw -h
expect_eq "ipportfw -h exit status" "$RC" 0
expect_in "ipportfw -h" "$OUT" "ipportfw -A -[t|u] l.l.l.l/lport -R a.a.a.a/rport"
expect_in "ipportfw -h" "$OUT" "rport is the port being redirected to."
pf save >"$T/seed001.save"
grep -q '^forward name portfw-tcp-192.0.2.1-80 tcp 192.0.2.1:80 to 10.0.0.2:80 weight 10 balance pref$' \
	"$T/seed001.save" || fail "save does not show ipportfw's forward: $(cat "$T/seed001.save")"
ipportfw -C
grep -q portfw- <<<"$(pf save)" && fail "ipportfw -C left entries: $(pf save)"
expect_seq "ipportfw -C left the native forward" 127.0.0.1:8000 1 X
ipportfw -A -t192.0.2.1/80 -R 10.0.0.2/80
ipportfw -A -u192.0.2.1/525 -R 10.0.0.2/525

# ---------------------------------------------------------------- seed 002 portfw
info "seed 002: ipmasqadm portfw -a ... -p 15, -p 5: one pref pool, 15 to .27 then 5 to .28"
ipmasqadm portfw -a -P tcp -L 192.0.2.2 80 -R 192.168.16.27 80 -p 15
ipmasqadm portfw -a -P tcp -L 192.0.2.2 80 -R 192.168.16.28 80 -p 5
expect_seq "pref 15/5 rotation" 192.0.2.2:80 45 \
	aaaaaaaaaaaaaaabbbbbaaaaaaaaaaaaaaabbbbbaaaaa
capture ipmasqadm portfw -l -n
expect_eq "ipmasqadm portfw -l exit status" "$RC" 0
expect_in "portfw -l header" "$OUT" "Prot Local Addr/Port"
expect_in "portfw -l header" "$OUT" "Pcnt  Pref"
# After 45 flows: .27 used 5 of its 15 (pcnt 10) and stands first.
grep -Eq '^TCP +192\.0\.2\.2/80 +> 192\.168\.16\.27/80 +10 +15$' <<<"$OUT" ||
	fail "portfw -l: no '.27 pcnt 10 pref 15' line: $OUT"
grep -Eq '^TCP +192\.0\.2\.2/80 +> 192\.168\.16\.28/80 +5 +5$' <<<"$OUT" ||
	fail "portfw -l: no '.28 pcnt 5 pref 5' line: $OUT"

info "ipmasqadm portfw -a on a running pool: the flows already open stay"
ipmasqadm portfw -a -P tcp -L 192.0.2.2 81 -R 127.0.0.1 9301
nsx timeout 60 "$PF_XFER" hold -c 192.0.2.2:81 -n 5 -t $((8 * PFT_SLOW)) >"$T/hold.out" 2>&1 &
hold_pid=$!
wait_for 10 "5 held flows" eval '[[ $(fwd_stat portfw-tcp-192.0.2.2-81 active) == 5 ]]'
ipmasqadm portfw -a -P tcp -L 192.0.2.2 81 -R 127.0.0.1 9302 -p 1
expect_eq "flows open after adding a backend" "$(fwd_stat portfw-tcp-192.0.2.2-81 active)" 5
expect_eq "flows listed after adding a backend" "$(nconns portfw-tcp-192.0.2.2-81)" 5
expect_eq "backends after the second -a" "$(pf list -j | jget "len([f for f in d if f['name']=='portfw-tcp-192.0.2.2-81'][0]['backends'])")" 2
wait_pid "$hold_pid" "the held flows" 60
ipmasqadm portfw -d -P tcp -L 192.0.2.2 81

info "ipmasqadm portfw -d -R: one backend leaves; -d: the entry"
ipmasqadm portfw -a -P udp -L 192.0.2.2 525 -R 10.0.0.2 525
expect_udp "ipmasqadm portfw -a -P udp" 192.0.2.2:525
ipmasqadm portfw -d -P udp -L 192.0.2.2 525
capture ipmasqadm portfw -d -P udp -L 192.0.2.2 525
expect_eq "deleting a missing entry: exit status" "$RC" 1
expect_eq "deleting a missing entry" "$ERR" "ipmasqadm portfw: no forward matches; expected a name or PROTO LISTEN as shown by 'portfw list'"

# ---------------------------------------------------------------- seed 002 mfw
info "seed 002: mfw FRIEND/NEUTRAL: two source networks reach two servers"
MARK_FRIEND=1
MARK_NEUTRAL=3
FRIEND=127.2.8.0/24
FRIEND_SVR=192.168.17.3
NEUTRAL_SVR=192.168.15.46
capture ipmasqadm mfw -I -m $MARK_NEUTRAL -r $NEUTRAL_SVR
expect_eq "mfw -I without a mark line: exit status" "$RC" 1
expect_in "mfw -I without a mark line" "$ERR" "portfw mark 3"
# What the ipchains -m rules did: mark the web traffic by source.
pf mark $MARK_FRIEND tcp 192.0.2.3:80 from ${FRIEND}
pf mark $MARK_NEUTRAL tcp 192.0.2.3:80
ipmasqadm mfw -I -m ${MARK_NEUTRAL} -r ${NEUTRAL_SVR}
ipmasqadm mfw -I -m ${MARK_FRIEND} -r ${FRIEND_SVR}
expect_seq "a FRIEND client" 192.0.2.3:80 4 FFFF 127.2.8.1
expect_seq "a client outside FRIEND" 192.0.2.3:80 4 NNNN 127.3.0.1
capture ipmasqadm mfw -L
# 4 flows each: pcnt 10 - 4.
expect_in "mfw -L" "$OUT" "Mark"
grep -Eq "^1 +$FRIEND_SVR/80 +6 +10$" <<<"$OUT" || fail "mfw -L: no mark 1 entry: $OUT"
grep -Eq "^3 +$NEUTRAL_SVR/80 +6 +10$" <<<"$OUT" || fail "mfw -L: no mark 3 entry: $OUT"

info "mfw -S forces the rotation (pref 0 entries: failover order); -E edits the pref"
ipmasqadm mfw -A -m $MARK_FRIEND -r 192.168.17.4 -p 0
ipmasqadm mfw -E -m $MARK_FRIEND -r $FRIEND_SVR -p 0
expect_seq "pref 0 pool before -S" 192.0.2.3:80 6 FFFFFF 127.2.8.1
ipmasqadm mfw -S -m $MARK_FRIEND
expect_seq "pref 0 pool after -S" 192.0.2.3:80 6 GGGGGG 127.2.8.1
ipmasqadm mfw -S -m $MARK_FRIEND
expect_seq "pref 0 pool after a second -S" 192.0.2.3:80 6 FFFFFF 127.2.8.1
ipmasqadm mfw -D -m $MARK_FRIEND -r 192.168.17.4
ipmasqadm mfw -E -m $MARK_FRIEND -p 10

info "a mark changed live moves its forward: 127.2.9.0/24 is the FRIEND now"
pf mark $MARK_FRIEND tcp 192.0.2.3:80 from 127.2.9.0/24
expect_seq "the old FRIEND network" 192.0.2.3:80 2 NN 127.2.8.1
expect_seq "the new FRIEND network" 192.0.2.3:80 2 FF 127.2.9.1
pf mark $MARK_FRIEND tcp 192.0.2.3:80 from ${FRIEND}
grep -q "^mark 1 tcp 192.0.2.3:80 from 127.2.8.0/24$" <<<"$(pf save)" ||
	fail "save does not show mark 1: $(pf save)"
pf mark 9 udp :5353 from 10.9.0.0/16
grep -q "^mark 9 udp :5353 from 10.9.0.0/16$" <<<"$(pf save)" || fail "save does not show mark 9"
pf del mark 9
[[ $(pf save) != *"mark 9"* ]] || fail "del mark 9 left it: $(pf save)"
capture pf del mark 9
expect_eq "del of a missing mark: exit status" "$RC" 1
expect_in "del of a missing mark" "$ERR" "no mark 9"
capture pf mark 0 from 10.0.0.0/8
expect_eq "mark 0: exit status" "$RC" 2
expect_in "mark 0" "$ERR" "'0': 'mark' expects a mark number 1-4294967295"

# ---------------------------------------------------------------- autofw
info "autofw: the usage with no arguments, as seed 002 shows it"
capture ipmasqadm autofw
expect_eq "ipmasqadm autofw: exit status" "$RC" 2
expect_eq "ipmasqadm autofw: the usage's head" "$(head -7 <<<"$ERR")" "Usage:
    ipautofw <command> <options>

Valid commands:
    -A                           add new autoforward entry
    -D                           delete an autoforward entry
    -F                           flush the autoforward table"
expect_in "autofw usage" "$ERR" "-h <host>"
expect_in "autofw usage" "$ERR" "-c <proto> <port>"

info "autofw -A -r tcp 6000 6002 -h HOST -u: the range to a hidden host"
ipmasqadm autofw -A -r tcp 6000 6002 -h 10.0.0.9 -u
expect_seq "autofw range, port 6000" 192.0.2.1:6000 1 H
expect_seq "autofw range, port 6002" 192.0.2.1:6002 1 J
ipmasqadm autofw -D -r tcp 6000 6002
expect_refused 192.0.2.1:6001 "after autofw -D"
ipmasqadm autofw -A -r tcp 6000 6002 -h 10.0.0.9
ipmasqadm autofw -F
expect_refused 192.0.2.1:6000 "after autofw -F"

# ---------------------------------------------------------------- round trip
info "round trip: classic commands -> save -> flush -> restore -> same behaviour"
pf save >"$T/classic.save"
pf flush
expect_refused 192.0.2.2:80 "after flush"
pf restore "$T/classic.save"
diff <(pf save) "$T/classic.save" >/dev/null ||
	fail "restore gave another table: $(diff <(pf save) "$T/classic.save")"
expect_seq "ipportfw's entry after the round trip" 192.0.2.1:80 2 WW
expect_udp "ipportfw's UDP entry after the round trip" 192.0.2.1:525
expect_seq "pref 15/5 after the round trip" 192.0.2.2:80 20 aaaaaaaaaaaaaaabbbbb
expect_seq "FRIEND after the round trip" 192.0.2.3:80 2 FF 127.2.8.1
expect_seq "NEUTRAL after the round trip" 192.0.2.3:80 2 NN 127.3.0.1
capture ipportfw -L
expect_in "ipportfw -L after the round trip" "$OUT" "TCP 192.0.2.1/80 > 10.0.0.2/80"
# The classic tools go on working on the restored table.
ipmasqadm mfw -A -m $MARK_NEUTRAL -r 192.168.17.4 -p 1
ipmasqadm mfw -E -m $MARK_NEUTRAL -r $NEUTRAL_SVR -p 1
expect_seq "mfw -A on the restored table (rr by pref 1)" 192.0.2.3:80 4 NGNG 127.3.0.1

# ---------------------------------------------------------------- bad input
info "bad classic input: usage on stderr, exit 2, nothing changed"
pf save >"$T/before.save"
# bad WORD TOOL ARGS...: exit 2, WORD named, the usage printed, table unchanged.
bad() {
	local word=$1 tool=$2
	shift 2
	capture "$tool" "$@"
	[[ $RC == 2 ]] || fail "$tool $*: exit status $RC, expected 2 (stderr: $ERR)"
	expect_in "$tool $*" "$ERR" "$word"
	expect_in "$tool $*: the usage" "$ERR" "sage"
	diff <(pf save) "$T/before.save" >/dev/null || fail "the table changed after: $tool $*"
}
bad "'-X'" ipportfw -X
bad "'192.0.2.1/99999'" ipportfw -A -t192.0.2.1/99999 -R 10.0.0.2/80
bad "'192.0.2.1'" ipportfw -A -t192.0.2.1 -R 10.0.0.2/80
bad "-R" ipportfw -A -t192.0.2.1/82
bad "expected a command" ipportfw
bad "'sctp'" ipmasqadm portfw -a -P sctp -L 192.0.2.2 82 -R 10.0.0.2 80
bad "'x'" ipmasqadm portfw -a -P tcp -L 192.0.2.2 82 -R 10.0.0.2 80 -p x
bad "'82x'" ipmasqadm portfw -a -P tcp -L 192.0.2.2 82x -R 10.0.0.2 80
bad "'-q'" ipmasqadm portfw -a -q
bad "-R" ipmasqadm portfw -a -P tcp -L 192.0.2.2 82
bad "'frob'" ipmasqadm frob
bad "'abc'" ipmasqadm mfw -A -m abc -r 10.0.0.2
bad "-m" ipmasqadm mfw -A -r 10.0.0.2
bad "'-Z'" ipmasqadm mfw -Z
bad "'icmp'" ipmasqadm autofw -A -r icmp 1 2 -h 10.0.0.9
bad "'5'" ipmasqadm autofw -A -r tcp 10 5 -h 10.0.0.9
bad "-h HOST or -c" ipmasqadm autofw -A -r tcp 10 20

# ---------------------------------------------------------------- seed 004
cat >"$T/ports.txt" <<'EOF'
# Ext-port Int-IP Int-port
13102 10.0.0.2 80 # Netbook Apache
13103 10.0.0.3 80 # D800 Apache
13110 10.0.0.2 13110 # Sauerbraten
13111	10.0.0.2	13111 # Sauerbraten Ping
# 7777 10.0.0.4 7777 # UT2004
# 7778 10.0.0.4 7778 # UT2004

13120-13121 10.0.0.2 RANGE# the same ports, a range
EOF
# check_table WHAT: seed 004's table forwards TCP and UDP.
check_table() {
	expect_seq "$1: 13102" 127.0.0.1:13102 1 W
	expect_seq "$1: 13103" 127.0.0.1:13103 1 D
	expect_seq "$1: 13110/tcp" 127.0.0.1:13110 1 S
	expect_udp "$1: 13110/udp" 127.0.0.1:13110
	expect_udp "$1: 13111/udp" 127.0.0.1:13111
	expect_seq "$1: 13120 (range, same ports)" 127.0.0.1:13120 1 R
	expect_seq "$1: 13121 (range, same ports)" 127.0.0.1:13121 1 Q
	expect_refused 127.0.0.1:7777 "$1: a commented-out line"
}
info "seed 004: portfw import FILE"
pf import "$T/ports.txt"
check_table "import"
grep -q '^forward name table-13110 tcp,udp :13110 to 10.0.0.2:13110$' <<<"$(pf save)" ||
	fail "save does not show the table's forward: $(pf save)"
info "import again (an edited file) replaces its forwards in place"
sed -i 's/^13103 10.0.0.3 80/13103 10.0.0.2 80/' "$T/ports.txt"
pf import "$T/ports.txt"
expect_seq "re-import: 13103 moved" 127.0.0.1:13103 1 W
sed -i 's/^13103 10.0.0.2 80/13103 10.0.0.3 80/' "$T/ports.txt"
pf save >"$T/before.save"
printf '13102 10.0.0.2 80\n\n13110x 10.0.0.2 13110 # typo\n' >"$T/bad-ports.txt"
capture pf import "$T/bad-ports.txt"
expect_eq "import of a bad table: exit status" "$RC" 2
expect_eq "import of a bad table: message" "$ERR" \
	"portfw import: $T/bad-ports.txt:3: '13110x': expected EXT-PORT INT-IP INT-PORT [# comment]; EXT-PORT is a port 1-65535 or a range LOW-HIGH"
diff <(pf save) "$T/before.save" >/dev/null || fail "a bad import changed the table"
# What only the daemon can see (a port another forward holds) names the line too.
printf '# games\n13102 10.0.0.2 80\n13120-13122 10.0.0.2 RANGE\n' >"$T/clash.txt"
capture pf import "$T/clash.txt"
expect_eq "import of a clashing table: exit status" "$RC" 1
expect_in "import of a clashing table" "$ERR" "portfw import: $T/clash.txt:3: "
expect_in "import of a clashing table" "$ERR" "overlaps forward 'table-13120-13121'"
diff <(pf save) "$T/before.save" >/dev/null || fail "a refused import changed the table"

info "seed 004: include-table FILE in the config (relative to it), by reload"
mkdir "$T/tables"
cp "$T/ports.txt" "$T/tables/ports.txt"
printf 'forward name native tcp 127.0.0.1:8000 to 127.0.0.1:9201\ninclude-table tables/ports.txt\n' \
	>"$PFD_CONF"
pf flush
expect_refused 127.0.0.1:13102 "after flush"
pf reload
check_table "include-table"
cp "$T/bad-ports.txt" "$T/tables/ports.txt"
pf save >"$T/before.save"
capture pf reload
expect_eq "reload with a bad table: exit status" "$RC" 1
expect_in "reload with a bad table" "$ERR" "tables/ports.txt:3: '13110x': expected EXT-PORT INT-IP INT-PORT"
expect_in "reload with a bad table" "$ERR" "included from $PFD_CONF:2"
diff <(pf save) "$T/before.save" >/dev/null || fail "a bad include-table changed the table"
check_table "after a refused reload"

pfd_stop
pft_done
