#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Changes to a live table, while a long rate-limited transfer runs through
# forward A: add and use forward B, delete it (its port refuses at once),
# change A's backends and options with a restore (A keeps its listening
# sockets, same inodes), flush (A's port refuses at once, the running transfer
# still completes byte-exact), restore the saved table (all works again).
# Finally kill and del -k cut running transfers and 'conns' forgets them.
. "$(dirname "$0")/lib.sh"
pft_init

MIB=$((1024 * 1024))
LONG=$((32 * MIB)) # at 4 MB/s: ~8 s, the time every change below gets

cat >"$PFD_CONF" <<EOF
forward name A tcp 127.0.0.1:8001 to 127.0.0.1:9001
forward name C tcp 127.0.0.1:8003 to 127.0.0.1:9003
EOF
tcp_bg greet-c greet 127.0.0.1:9003 C
tcp_bg greet-a2 greet 127.0.0.1:9004 A-new
pfd_start
pf save >"$T/save0"
ino_a=$(listen_inodes 8001)
[[ $ino_a == ino:* ]] || fail "no listening socket of portfwd found on 8001: '$ino_a'"

# first_text ADDR:PORT: what the backend behind ADDR:PORT greets with.
first_text() {
	local r
	r=$(tcp firstbyte "$1" --wait 5)
	[[ $r == data* ]] || fail "no greeting through $1: $r"
	echo "${r#data * }"
}

# still_running WHAT: the long transfer has not ended yet (else the test
# proves nothing about it and must say so).
still_running() {
	pid_alive "$long_cli" || fail "the long transfer ended before: $1 (make LONG larger)"
	expect_eq "flows of A during: $1" "$(nconns A)" 1
}

info "a long transfer through A (32 MiB down at 4 MB/s)"
xfer_server srv-long -l 127.0.0.1:9001 -n 1 -S $LONG
long_srv=$XFER_PID
xfer_client_bg cli-long -c 127.0.0.1:8001 -n 1 -s $MIB -R 4000000 -t 60
long_cli=$XFER_PID
wait_for 5 "the long transfer to start" eval \
	"pf conns -j | jget \"sum(c['bytes_down'] for c in d if c['forward'] == 'A')\" | grep -qv '^0$'"

info "add forward B and use it"
pf add name B tcp 127.0.0.1:8002 to 127.0.0.1:9002 idle-timeout 30s
xfer_server srv-b -l 127.0.0.1:9002 -n 1 -S $MIB
srv=$XFER_PID
xfer_client cli-b -c 127.0.0.1:8002 -n 1 -s $((2 * MIB)) -t 30
wait_pid "$srv" "pf_xfer server of B"
[[ $XFER_RC == 0 ]] || fail "transfer through B failed: $(cat "$T/cli-b.err")"
check_xfer cli-b srv-b 1 $((2 * MIB)) $MIB
expect_eq "A's listening sockets after adding B" "$(listen_inodes 8001)" "$ino_a"
still_running "add B"

info "del name B: its port refuses at once, the table is as before"
pf del name B
expect_refused 127.0.0.1:8002 "after del name B"
expect_eq "listeners on 8002 after del" "$(listen_inodes 8002)" ""
diff <(pf save) "$T/save0" || fail "save after add+del B differs from the original table"
still_running "del B"

info "change A's backends and options in one restore: same listening sockets"
cat >"$T/changed.conf" <<EOF
forward name A tcp 127.0.0.1:8001 to 127.0.0.1:9004 idle-timeout 1h connect-timeout 2s
forward name C tcp 127.0.0.1:8003 to 127.0.0.1:9003
EOF
pf restore "$T/changed.conf"
expect_eq "A's listening sockets after the change" "$(listen_inodes 8001)" "$ino_a"
expect_eq "A's backend after the change" \
	"$(pf list -j | jget "[f for f in d if f['name'] == 'A'][0]['backends'][0]['backend']")" \
	127.0.0.1:9004
expect_eq "A's idle timeout after the change" \
	"$(pf list -j | jget "[f for f in d if f['name'] == 'A'][0]['options']['idle_timeout_ms']")" \
	3600000
expect_eq "a new connection to A reaches the new backend" "$(first_text 127.0.0.1:8001)" A-new
# The forward's counters survive a change of its backends (same key).
expect_eq "A's conns after the change" "$(fwd_stat A conns)" 2
still_running "the change of A"

info "flush: A's port refuses at once, the running transfer goes on"
pf flush
expect_refused 127.0.0.1:8001 "after flush"
expect_refused 127.0.0.1:8003 "after flush"
expect_eq "listeners on 8001 after flush" "$(listen_inodes 8001)" ""
expect_eq "forwards after flush" "$(pf list -j | jget 'len(d)')" 0
still_running "flush"
wait_pid "$long_cli" "the long transfer's client" 60
wait_pid "$long_srv" "the long transfer's server"
check_xfer cli-long srv-long 1 $MIB $LONG
expect_eq "flows after the long transfer" "$(nconns)" 0

info "restore the saved table: everything works again"
pf restore "$T/save0"
diff <(pf save) "$T/save0" || fail "save after restore differs from the saved table"
xfer_server srv-back -l 127.0.0.1:9001 -n 1 -S $MIB
srv=$XFER_PID
xfer_client cli-back -c 127.0.0.1:8001 -n 1 -s $MIB -t 30
wait_pid "$srv" "pf_xfer server behind the restored A"
[[ $XFER_RC == 0 ]] || fail "transfer through restored A failed: $(cat "$T/cli-back.err")"
check_xfer cli-back srv-back 1 $MIB $MIB
expect_eq "C after the restore" "$(first_text 127.0.0.1:8003)" C

# cut_test HOW CMD...: starts a slow transfer through A, runs CMD, and checks
# that it cut the transfer: the client fails fast, conns forgets the flow.
cut_test() {
	local how=$1 t0 took rc=0 srv cli
	shift
	info "$how cuts a running transfer"
	xfer_server "srv-cut-$how" -l 127.0.0.1:9001 -n 1 -S $((200 * MIB))
	srv=$XFER_PID
	xfer_client_bg "cli-cut-$how" -c 127.0.0.1:8001 -n 1 -s $MIB -R 2000000 -t 60
	cli=$XFER_PID
	wait_for 5 "the transfer to start" eval \
		"pf conns -j | jget \"sum(c['bytes_down'] for c in d if c['forward'] == 'A')\" | grep -qv '^0$'"
	t0=$(now_ms)
	"$@"
	expect_eq "flows of A right after $how" "$(nconns A)" 0
	wait_for 5 "the client to notice the cut" pid_gone "$cli"
	took=$(($(now_ms) - t0))
	wait "$cli" || rc=$?
	# A reset: recv fails (ECONNRESET), pf_xfer prints FAILED and exits 1.
	[[ $rc != 0 ]] || fail "$how: the client exited 0, as if the transfer had completed: $(cat "$T/cli-cut-$how.out")"
	grep -q FAILED "$T/cli-cut-$how.out" || fail "$how: the client did not report a failure"
	info "$how: client failed after ${took} ms: $(head -1 "$T/cli-cut-$how.err")"
	wait_for 5 "the server to notice the cut" pid_gone "$srv"
	rc=0
	wait "$srv" || rc=$?
	[[ $rc != 0 ]] || fail "$how: the server completed a transfer that was cut"
}

cut_test kill pf kill name A
expect_open 127.0.0.1:8001 "kill leaves the forward in place"
expect_eq "A's conns after kill" "$(fwd_stat A active)" 0

cut_test del-k pf del -k name A
expect_refused 127.0.0.1:8001 "after del -k name A"
expect_eq "forwards after del -k" "$(pf list -j | jget "[f['name'] for f in d]")" '["C"]'
expect_eq "C after del -k A" "$(first_text 127.0.0.1:8003)" C

pfd_stop
pft_done
