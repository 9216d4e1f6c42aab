#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Reloading the config, and changes the daemon must refuse:
# - a config with a syntax error, on 'portfw reload' and on SIGHUP: refused
#   with FILE:LINE, the daemon keeps running with the table unchanged, and a
#   transfer running across it completes byte-exact;
# - a good reload that changes one forward keeps the other's listening
#   sockets (same inodes) and its running transfer;
# - portfwd -t on good and bad configs; portfwd refuses to start on a bad one;
# - a port bound by another process, or overlapping forwards: refused with a
#   message naming the address, the table unchanged.
. "$(dirname "$0")/lib.sh"
pft_init

MIB=$((1024 * 1024))
LONG=$((32 * MIB))

good1() {
	cat <<EOF
# portfw test config
forward name A tcp 127.0.0.1:8001 to 127.0.0.1:9001
forward name B tcp 127.0.0.1:8002 to 127.0.0.1:9002
EOF
}
# Line 4 has the error ('too' for 'to').
bad() {
	good1
	echo "forward name D tcp 127.0.0.1:8004 too 127.0.0.1:9004"
	echo "forward name E tcp 127.0.0.1:8005 to 127.0.0.1:9005"
}
# B moves to another backend, D is added; A is unchanged.
good2() {
	cat <<EOF
# portfw test config, changed
forward name A tcp 127.0.0.1:8001 to 127.0.0.1:9001
forward name B tcp 127.0.0.1:8002 to 127.0.0.1:9003 idle-timeout 5m
forward name D tcp 127.0.0.1:8004 to 127.0.0.1:9004
EOF
}

first_text() {
	local r
	r=$(tcp firstbyte "$1" --wait 5)
	[[ $r == data* ]] || fail "no greeting through $1: $r"
	echo "${r#data * }"
}

tcp_bg greet-b greet 127.0.0.1:9002 B-old
tcp_bg greet-b2 greet 127.0.0.1:9003 B-new
tcp_bg greet-d greet 127.0.0.1:9004 D

good1 >"$PFD_CONF"
pfd_start
pf save >"$T/save0"
ino_a=$(listen_inodes 8001)
ino_b=$(listen_inodes 8002)
[[ $ino_a == ino:* && $ino_b == ino:* ]] || fail "no listening sockets found: '$ino_a' '$ino_b'"

info "a long transfer through A (32 MiB down at 4 MB/s)"
xfer_server srv-long -l 127.0.0.1:9001 -n 1 -S $LONG
long_srv=$XFER_PID
xfer_client_bg cli-long -c 127.0.0.1:8001 -n 1 -s $MIB -R 4000000 -t 60
long_cli=$XFER_PID
wait_for 5 "the long transfer to start" eval '[[ $(nconns A) == 1 ]]'

still_running() {
	pid_alive "$long_cli" || fail "the long transfer ended before: $1 (make LONG larger)"
	expect_eq "flows of A during: $1" "$(nconns A)" 1
}

info "portfw reload of a config with a syntax error on line 4"
bad >"$PFD_CONF"
capture pf reload
expect_eq "reload of a bad config: exit status" "$RC" 1
expect_in "reload of a bad config: message" "$ERR" "$PFD_CONF:4:"
expect_in "reload of a bad config: message" "$ERR" "'too'"
pid_alive "$PFD_PID" || fail "portfwd died on a bad reload"
diff <(pf save) "$T/save0" || fail "the table changed on a refused reload"
expect_eq "A's sockets after a refused reload" "$(listen_inodes 8001)" "$ino_a"
expect_refused 127.0.0.1:8005 "a forward after the error line was not installed"
still_running "the refused reload"

info "SIGHUP with the same bad config"
kill -HUP "$PFD_PID"
wait_for 5 "portfwd to log the refused reload" \
	grep -q "reload refused.*$PFD_CONF:4:" "$PFD_LOG"
pid_alive "$PFD_PID" || fail "portfwd died on SIGHUP with a bad config"
diff <(pf save) "$T/save0" || fail "the table changed on a refused SIGHUP reload"
still_running "the refused SIGHUP"

info "an error in an included file names that file and line"
printf '# included\nforward name X tcp 127.0.0.1:8009 to 127.0.0.1:99999\n' >"$T/inc.conf"
{
	good1
	echo "include inc.conf"
} >"$PFD_CONF"
capture pf reload
expect_eq "reload with a bad include: exit status" "$RC" 1
expect_in "reload with a bad include: message" "$ERR" "$T/inc.conf:2:"
expect_in "reload with a bad include: message" "$ERR" "$PFD_CONF:4"
diff <(pf save) "$T/save0" || fail "the table changed on a refused reload (include)"

info "a good reload changes B and adds D; A keeps its sockets and its transfer"
good2 >"$PFD_CONF"
pf reload
expect_eq "A's sockets after the reload" "$(listen_inodes 8001)" "$ino_a"
# B's key (address and port) did not change either: its sockets stay too.
expect_eq "B's sockets after the reload" "$(listen_inodes 8002)" "$ino_b"
expect_eq "B's new backend" "$(first_text 127.0.0.1:8002)" B-new
expect_eq "the added forward D" "$(first_text 127.0.0.1:8004)" D
still_running "the good reload"

info "a good reload on SIGHUP (D goes away again)"
good1 >"$PFD_CONF"
kill -HUP "$PFD_PID"
wait_for 5 "D to leave the table" eval \
	"[[ \$(pf list -j | jget \"[f['name'] for f in d]\") == '[\"A\", \"B\"]' ]]"
expect_refused 127.0.0.1:8004 "D after the SIGHUP reload"
expect_eq "B back on its first backend" "$(first_text 127.0.0.1:8002)" B-old
expect_eq "A's sockets after SIGHUP" "$(listen_inodes 8001)" "$ino_a"
diff <(pf save) "$T/save0" || fail "the table after reloading the first config differs"
still_running "the SIGHUP reload"

info "the transfer that ran across all of it is byte-exact"
wait_pid "$long_cli" "the long transfer's client" 60
wait_pid "$long_srv" "the long transfer's server"
check_xfer cli-long srv-long 1 $MIB $LONG

info "portfwd -t: good and bad configs"
good2 >"$T/good.conf"
bad >"$T/bad.conf"
capture nsx "$PORTFWD" -t -c "$T/good.conf"
expect_eq "portfwd -t good: exit status" "$RC" 0
expect_in "portfwd -t good: message" "$OUT" "configuration OK"
capture nsx "$PORTFWD" -t -c "$T/bad.conf"
expect_eq "portfwd -t bad: exit status" "$RC" 1
expect_in "portfwd -t bad: message" "$ERR" "$T/bad.conf:4:"
# -t binds nothing: checking a config whose ports are in use is fine.
capture nsx "$PORTFWD" -t -c "$PFD_CONF"
expect_eq "portfwd -t on the running daemon's config" "$RC" 0

info "portfwd refuses to start on a bad config"
capture nsx timeout 20 "$PORTFWD" -c "$T/bad.conf" -s "$T/other.sock"
[[ $RC != 0 && $RC != 124 ]] || fail "portfwd on a bad config: exit status $RC, expected a refusal"
expect_in "portfwd on a bad config: message" "$ERR" "$T/bad.conf:4:"
[[ ! -e $T/other.sock ]] || fail "portfwd on a bad config left a control socket"

info "a port bound by another process is refused, naming the address"
tcp_bg busy listen 127.0.0.1:8006
capture pf add name F tcp 127.0.0.1:8006 to 127.0.0.1:9002
expect_eq "add on a busy port: exit status" "$RC" 1
expect_in "add on a busy port: message" "$ERR" "127.0.0.1:8006"
diff <(pf save) "$T/save0" || fail "the table changed on a refused add (busy port)"
# A range with the busy port in the middle: refused as a whole, and the ports
# it did bind before the busy one are closed again.
capture pf add name F tcp 127.0.0.1:8005-8007 to 127.0.0.1:9002
expect_eq "add of a range over a busy port: exit status" "$RC" 1
expect_in "add of a range over a busy port: message" "$ERR" "127.0.0.1:8006"
expect_eq "listeners left on 8005" "$(listen_inodes 8005)" ""
expect_eq "listeners left on 8007" "$(listen_inodes 8007)" ""
diff <(pf save) "$T/save0" || fail "the table changed on a refused add (range)"
# The same through a reload, and at startup.
{
	good1
	echo "forward name F tcp 127.0.0.1:8006 to 127.0.0.1:9002"
} >"$T/busy.conf"
cp "$T/busy.conf" "$PFD_CONF"
capture pf reload
expect_eq "reload with a busy port: exit status" "$RC" 1
expect_in "reload with a busy port: message" "$ERR" "127.0.0.1:8006"
diff <(pf save) "$T/save0" || fail "the table changed on a refused reload (busy port)"
capture nsx timeout 20 "$PORTFWD" -c "$T/busy.conf" -s "$T/other.sock"
[[ $RC != 0 && $RC != 124 ]] || fail "portfwd with a busy port: exit status $RC, expected a refusal"
# The first port it finds taken is named: here one of the running daemon's,
# since a second daemon must not share them either (SO_REUSEPORT is probed).
expect_in "portfwd with a busy port: message" "$ERR" "Address already in use"

info "overlapping forwards are refused"
capture pf add tcp 127.0.0.1:8001 to 127.0.0.1:9009
expect_eq "add on A's address: exit status" "$RC" 1
expect_in "add on A's address: message" "$ERR" "overlaps"
capture pf add name G tcp 127.0.0.1:7999-8001 to 127.0.0.1:9009
expect_eq "add of a range over A: exit status" "$RC" 1
expect_in "add of a range over A: message" "$ERR" "overlaps"
capture pf add name A tcp 127.0.0.1:8010 to 127.0.0.1:9009
expect_eq "add of a second forward named A: exit status" "$RC" 1
expect_in "add of a second forward named A: message" "$ERR" "'A'"
diff <(pf save) "$T/save0" || fail "the table changed on a refused overlapping add"
expect_eq "A's sockets after all refusals" "$(listen_inodes 8001)" "$ino_a"

# DAEMON BUG (reported): portfwd sets SO_REUSEPORT on its listening sockets
# (one per worker), so when another process of the same user already listens
# on the address with SO_REUSEPORT (nginx 'listen ... reuseport', envoy,
# haproxy and friends do), the bind succeeds: portfwd joins that process's
# group and the kernel spreads new connections over both, silently. The add
# must be refused like any other busy port.
info "a port bound by another process with SO_REUSEPORT is refused too"
tcp_bg busy-rp listen 127.0.0.1:8008 --reuseport
capture pf add name H tcp 127.0.0.1:8008 to 127.0.0.1:9002
if [[ $RC == 0 ]]; then
	fail "DAEMON BUG: 'add' on 127.0.0.1:8008, where another process listens with SO_REUSEPORT, was accepted: portfwd now shares the port with it ($(nsx ss -Hltnp 'sport = :8008' 2>/dev/null | grep -o 'users:.*' | tr '\n' ' '))"
fi
expect_in "add on a reuseport-busy port: message" "$ERR" "127.0.0.1:8008"
diff <(pf save) "$T/save0" || fail "the table changed on a refused add (reuseport)"

pfd_stop
pft_done
