#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The soft stop: SIGTERM closes the listeners at once (a new client is
# refused) while a running transfer finishes byte-exact; the control socket
# still answers, changes (and SIGHUP) are refused, UDP sessions end at once; portfwd
# exits as soon as the last flow ends. drain-timeout cuts what is left, and
# so does a second SIGTERM; what was cut is logged.
source "$(dirname "$0")/lib.sh"
pft_init

PF_UDP=$PORTFW_BUILD/tests/pf_udp
[[ -x $PF_UDP ]] || fail "$PF_UDP not built"

# pfd_exited WHAT SECONDS: portfwd exits within SECONDS, status 0, its
# control socket removed; how long it took (ms) in EXIT_MS.
pfd_exited() {
	local t0 rc=0
	t0=$(now_ms)
	wait_for "$2" "portfwd to exit ($1)" pid_gone "$PFD_PID"
	wait "$PFD_PID" || rc=$?
	[[ $rc == 0 ]] || fail "$1: portfwd exited with status $rc"
	[[ ! -e $PFD_SOCK ]] || fail "$1: portfwd left its control socket behind"
	pfd_check_log
	EXIT_MS=$(($(now_ms) - t0))
}

nsx timeout -k 5 120 "$PF_UDP" echo -l 127.0.0.1:7000 >"$T/echo.out" 2>"$T/echo.err" &
wait_for 10 "the UDP echo server to listen" grep -qs '^listening' "$T/echo.out"
tcp_bg sink sink 127.0.0.1:9002

cat >"$PFD_CONF" <<'EOF'
drain-timeout 10s
forward name A tcp 127.0.0.1:8001 to 127.0.0.1:9001
forward name U udp 127.0.0.1:7001 to 127.0.0.1:7000
EOF
pfd_start

# The client reads at 4 MB/s: 16 MB take 4 s, longer than the socket
# buffers on the way could hide.
info "a transfer (16 MB down at 4 MB/s) and a UDP session, then SIGTERM"
xfer_server srv -l 127.0.0.1:9001 -n 1 -S 16000000
xfer_client_bg cli -c 127.0.0.1:8001 -n 1 -s 100000 -R 4000000 -t 30
cli=$XFER_PID
wait_for 5 "the transfer to start" eval '[[ $(nconns A) == 1 ]]'
out=$(nsx timeout 20 "$PF_UDP" client -c 127.0.0.1:7001 -n 1 -r 1 -t 1000 2>&1)
expect_eq "a UDP request/reply" "$out" "ok 1 lost 0 wrong 0"
expect_eq "UDP sessions before the stop" "$(nconns U)" 1
t_term=$(now_ms)
kill -TERM "$PFD_PID"
wait_for 5 "the drain in the log" grep -q "draining 1 flow for up to 10s" "$PFD_LOG"

info "while draining: new clients refused, conns and list answer, changes refused"
expect_refused 127.0.0.1:8001 "a new client during the drain"
refused_ms=$(($(now_ms) - t_term))
info "refused ${refused_ms} ms after SIGTERM"
pid_alive "$cli" || fail "the transfer ended before the checks (make it longer)"
expect_eq "the running transfer during the drain" "$(nconns A)" 1
expect_eq "UDP sessions during the drain (ended at once)" "$(nconns U)" 0
out=$(nsx timeout 5 "$PF_UDP" client -c 127.0.0.1:7001 -n 1 -r 1 -t 300 2>&1 || true)
expect_eq "a UDP datagram during the drain" "$out" "ok 0 lost 1 wrong 0"
[[ $(fwd_stat A active) == 1 ]] || fail "portfw list during the drain: A's active flows"
capture pf add name B tcp 127.0.0.1:8003 to 127.0.0.1:9001
[[ $RC != 0 ]] || fail "a change was taken during the drain"
expect_in "a change during the drain" "$ERR" "portfwd is stopping (its flows are draining)"
expect_refused 127.0.0.1:8003 "the forward refused during the drain"
kill -HUP "$PFD_PID"
wait_for 5 "SIGHUP to be ignored" grep -q "SIGHUP while draining: no reload" "$PFD_LOG"
expect_refused 127.0.0.1:8001 "the listener after SIGHUP during the drain"

info "the transfer ends byte-exact; portfwd exits right after it"
wait_pid "$cli" "the transfer's client" 20
check_xfer cli srv 1 100000 16000000
pfd_exited "after the last flow" 5
elapsed=$(($(now_ms) - t_term))
((elapsed < 8000)) || fail "portfwd took ${elapsed} ms to stop, expected well under the 10 s drain-timeout"
grep -q "stop: every flow finished after" "$PFD_LOG" || fail "no log line about the drain's end"
info "stopped ${elapsed} ms after SIGTERM (${EXIT_MS} ms after the transfer ended)"

info "drain-timeout 2s cuts a flow that does not end, and names it"
cat >"$PFD_CONF" <<'EOF'
drain-timeout 2s
forward name I tcp 127.0.0.1:8002 to 127.0.0.1:9002
EOF
pfd_start
nsx timeout -k 5 60 "$PFT_PY" "$PFT_TCP" idle 127.0.0.1:8002 --wait 20 >"$T/idle.out" 2>&1 &
idle=$!
wait_for 5 "the idle flow" eval '[[ $(nconns I) == 1 ]]'
t_term=$(now_ms)
kill -TERM "$PFD_PID"
pfd_exited "at the drain-timeout" 10
elapsed=$(($(now_ms) - t_term))
((elapsed >= 1800 && elapsed < 2000 + 2000 * PFT_SLOW)) ||
	fail "the drain-timeout 2s cut after ${elapsed} ms"
grep -q "stop: drain-timeout 2s reached: cutting 1 flow still open (1 TCP, 0 UDP)" "$PFD_LOG" ||
	fail "no log line about the cut: $(grep stop: "$PFD_LOG")"
grep -q "stop: cutting tcp 127.0.0.1:[0-9]* -> 127.0.0.1:9002 (forward 'I'" "$PFD_LOG" ||
	fail "the cut flow is not named in the log: $(grep stop: "$PFD_LOG")"
wait_pid "$idle" "the idle client" 10
expect_in "the idle client" "$(cat "$T/idle.out")" "closed"
info "cut ${elapsed} ms after SIGTERM"

info "a second SIGTERM cuts at once"
echo "drain-timeout 30s" >>"$PFD_CONF"
pfd_start
nsx timeout -k 5 60 "$PFT_PY" "$PFT_TCP" idle 127.0.0.1:8002 --wait 20 >"$T/idle2.out" 2>&1 &
idle=$!
wait_for 5 "the idle flow" eval '[[ $(nconns I) == 1 ]]'
kill -TERM "$PFD_PID"
wait_for 5 "the drain in the log" grep -q "draining 1 flow for up to 30s" "$PFD_LOG"
t_term=$(now_ms)
kill -TERM "$PFD_PID"
pfd_exited "on the second SIGTERM" 5
elapsed=$(($(now_ms) - t_term))
((elapsed < 1000 * PFT_SLOW)) || fail "the second SIGTERM took ${elapsed} ms to stop portfwd"
grep -q "stop: a second signal: cutting 1 flow" "$PFD_LOG" || fail "no log line about the cut"
wait_pid "$idle" "the idle client" 10

info "drain-timeout 0: SIGTERM cuts at once, as before"
echo "drain-timeout 0" >>"$PFD_CONF"
pfd_start
nsx timeout -k 5 60 "$PFT_PY" "$PFT_TCP" idle 127.0.0.1:8002 --wait 20 >"$T/idle3.out" 2>&1 &
idle=$!
wait_for 5 "the idle flow" eval '[[ $(nconns I) == 1 ]]'
kill -TERM "$PFD_PID"
pfd_exited "with drain-timeout 0" 5
grep -q "stop: drain-timeout 0: cutting 1 flow" "$PFD_LOG" || fail "no log line about the cut"
wait_pid "$idle" "the idle client" 10

pft_done
