#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The kernel engine's flows across a stop and a restart of portfwd:
#
#   client C 198.51.100.2 --- wan 198.51.100.1  gateway G  10.0.0.1 lan --- S 10.0.0.2
#
# Slow streams (a reader throttled to a steady rate) through a simple forward
# (map elements) and one with chains of its own (an ACL) survive, byte for
# byte, a kill -9 of portfwd and its restart, then a SIGTERM and a restart:
# the stop leaves table inet portfw with its NAT hooks and no forward, and
# ip_forward; while portfwd is down new connections are refused by the
# gateway (the backends see none); the next start replaces the table in one
# transaction, and the table it loads is a fresh start's (no rule twice).
# New connections work after each restart. Forward ids come from what the
# forwards are, so a restart with them in another order keeps them; one with
# a forward whose key changed (another id) marks its flow again: they are
# listed under their forwards and 'del -k' of one cuts its flow only.
# 'portfw flush -k' still cuts a flow, and a stop after it removes the
# table and puts the sysctls back.
source "$(dirname "$0")/lib.sh"
pft_init

command -v nft >/dev/null || fail "nft not installed"
topo_gateway

# Each stream: the server sends DOWN bytes, the client reads them at RATE
# bytes/s (about 8 s: an instrumented portfwd's stop and start fit well in it),
# and sends UP bytes.
DOWN=2000000 RATE=250000 UP=20000

cat >"$PFD_CONF" <<'EOF'
forward name simple tcp :8080 to 10.0.0.2:9000 engine kernel
forward name acl tcp :8081 to 10.0.0.2:9001 engine kernel allow 198.51.100.0/24
EOF

# table_now FILE: the ruleset as listed, without handles and counters.
table_now() {
	nsx nft list table inet portfw | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/' >"$1" ||
		fail "nft list table inet portfw failed"
}

# servers TAG [N]: a pf_xfer server per forward's backend, in S, for N
# connections.
servers() {
	local i
	for i in 0 1; do
		in_ns "$S" timeout -k 5 60 "$PF_XFER" server -l 10.0.0.2:900$i -n "${2:-1}" -S $DOWN \
			-t 30 >"$T/$1-s$i.out" 2>"$T/$1-s$i.err" &
	done
	wait_for 10 "the servers of $1 to listen" eval \
		"grep -qs '^listening' '$T/$1-s0.out' && grep -qs '^listening' '$T/$1-s1.out'"
}

# streams TAG: a slow stream through each forward, from C; pids in CLI_PIDS.
streams() {
	local p
	CLI_PIDS=()
	for p in 8080 8081; do
		in_ns "$C" timeout -k 5 60 "$PF_XFER" client -c 198.51.100.1:$p -s $UP -R $RATE -t 30 \
			>"$T/$1-c$((p - 8080)).out" 2>"$T/$1-c$((p - 8080)).err" &
		CLI_PIDS+=($!)
	done
	# Both under way through the forwards before anything happens to portfwd.
	wait_for 5 "the streams of $1 to start" eval '[[ $(nconns simple) -ge 1 && $(nconns acl) -ge 1 ]]'
	sleep 1
}

# streams_check TAG: both streams ended whole, byte for byte.
streams_check() {
	local i
	for i in 0 1; do
		wait_pid "${CLI_PIDS[$i]}" "stream $1 through forward $i" 30
		check_xfer "$1-c$i" "$1-s$i" 1 $UP $DOWN
	done
}

# fresh_check TAG: the table loaded by a restart is a fresh start's.
fresh_check() {
	table_now "$T/$1.nft"
	cmp -s "$T/fresh.nft" "$T/$1.nft" ||
		fail "$1: the table differs from a fresh start's: $(diff "$T/fresh.nft" "$T/$1.nft" | head)"
}

# new_conns TAG: a new connection from C through each forward works.
new_conns() {
	local i
	servers "$1-new"
	for i in 0 1; do
		in_ns "$C" timeout -k 5 30 "$PF_XFER" client -c 198.51.100.1:808$i -s 1000 -t 10 \
			>"$T/$1-new-c$i.out" 2>"$T/$1-new-c$i.err" || fail "a new connection to :808$i after $1 failed"
		check_xfer "$1-new-c$i" "$1-new-s$i" 1 1000 $DOWN
	done
}

info "a fresh start: the table as loaded"
[[ $(nsx cat /proc/sys/net/ipv4/ip_forward) == 0 ]] || fail "ip_forward is not 0 in a new namespace"
pfd_start -W wan
table_now "$T/fresh.nft"
grep -q '198.51.100.0/24' "$T/fresh.nft" || fail "the ACL forward has no chain: $(cat "$T/fresh.nft")"

info "kill -9 and a restart under two slow streams"
servers k9
streams k9
kill -KILL "$PFD_PID"
wait_for 5 "portfwd to die" pid_gone "$PFD_PID"
wait "$PFD_PID" 2>/dev/null || true
rm -f "$PFD_SOCK"
sleep 0.3
pfd_start -W wan
streams_check k9
fresh_check k9
new_conns k9

info "SIGTERM and a restart under two slow streams"
servers term
streams term
t0=$(now_ms)
pfd_stop TERM
grep -q "table inet portfw left in place" "$PFD_LOG" || fail "the stop does not say it left the table"
nsx nft list table inet portfw >/dev/null 2>&1 || fail "SIGTERM removed table inet portfw"
expect_eq "ip_forward after a stop that leaves flows" "$(nsx cat /proc/sys/net/ipv4/ip_forward)" 1
grep -q "stopped forwarding new connections" "$PFD_LOG" || fail "the stop does not say it stopped the forwards"
table_now "$T/stopped.nft"
grep -Eq 'dnat (ip6? )?to|snat|masquerade|map|dispatch|808[01]' "$T/stopped.nft" &&
	fail "the stopped table still forwards: $(cat "$T/stopped.nft")"
for c in dstnat output_nat srcnat; do
	grep -q "chain $c " "$T/stopped.nft" || fail "the stopped table has no chain $c (the NAT hooks of the flows)"
done
# A new connection while portfwd is down is refused by the gateway itself:
# the backends (which still listen, for the streams) see none.
for i in 0 1; do
	b0=$(in_ns "$S" ss -Htn state established "( sport = :900$i )" | wc -l)
	t1=$(now_ms)
	in_ns "$C" timeout -k 2 5 "$PF_XFER" client -c 198.51.100.1:808$i -s 1000 -t 3 \
		>"$T/stopped-c$i.out" 2>"$T/stopped-c$i.err" &&
		fail "a new connection to :808$i was forwarded while portfwd was stopped"
	grep -q "refused" "$T/stopped-c$i.err" ||
		fail "a new connection to :808$i while stopped was not refused: $(cat "$T/stopped-c$i.err")"
	(($(now_ms) - t1 < 3000)) || fail "the refusal of :808$i took $(($(now_ms) - t1)) ms"
	expect_eq "connections the backend :900$i got while portfwd was stopped" \
		"$(in_ns "$S" ss -Htn state established "( sport = :900$i )" | wc -l)" "$b0"
done
# The streams run on while no portfwd runs at all.
sleep 1
for pid in "${CLI_PIDS[@]}"; do
	pid_alive "$pid" || fail "a stream ended while portfwd was stopped: $(cat "$T"/term-c*.out "$T"/term-c*.err)"
done
pfd_start -W wan
info "stopped for $(($(now_ms) - t0)) ms"
# Counted from conntrack's table as the engine starts (an instrumented
# build may answer the first list before its dump is read).
for f in simple acl; do
	wait_for $((3 * PFT_SLOW)) "the active flow of $f taken over by the restart" eval \
		"[[ \$(fwd_stat $f active) == 1 ]]"
done
streams_check term
fresh_check term
new_conns term

info "a restart, forwards in another order, acl with a new key: the flows follow their forwards"
servers swap
streams swap
pfd_stop
cat >"$PFD_CONF" <<'EOF2'
forward name acl tcp :8081 to 10.0.0.2:9001 engine kernel allow 198.51.100.0/24 from 198.51.100.0/24
forward name simple tcp :8080 to 10.0.0.2:9000 engine kernel
EOF2
pfd_start -W wan
grep -q "flow(s) left running by the previous portfwd" "$PFD_LOG" ||
	fail "the restart did not mark the flows again: $(grep 'kernel engine' "$PFD_LOG")"
# The streams' entries (established, or close-wait once the server has sent
# its last byte; those of earlier connections are in time-wait).
pf conns -j >"$T/swap-conns.json" || fail "portfw conns -j failed"
got=$(jget "sorted(c['forward'] + ' ' + c['listen'].rsplit(':', 1)[1] for c in d if c['state'] not in ('time-wait', 'close'))" <"$T/swap-conns.json")
[[ $got == '["acl 8081", "simple 8080"]' ]] ||
	fail "the flows' forwards after the restart: got '$got', expected acl 8081 and simple 8080: $(cat "$T/swap-conns.json")"
pf del -k name simple >/dev/null || fail "portfw del -k name simple failed"
rc=0
wait_for 10 "the stream of simple to be cut" pid_gone "${CLI_PIDS[0]}"
wait "${CLI_PIDS[0]}" || rc=$?
[[ $rc != 0 ]] || fail "del -k name simple did not cut its stream: $(cat "$T/swap-c0.out")"
wait_pid "${CLI_PIDS[1]}" "stream swap through acl" 30
check_xfer swap-c1 swap-s1 1 $UP $DOWN
pf add name simple tcp :8080 to 10.0.0.2:9000 engine kernel >/dev/null || fail "add simple again"

info "portfw flush -k still cuts a flow"
servers flush
streams flush
pf flush -k >/dev/null || fail "portfw flush -k failed"
for i in 0 1; do
	rc=0
	wait_for 10 "stream $i to be cut" pid_gone "${CLI_PIDS[$i]}"
	wait "${CLI_PIDS[$i]}" || rc=$?
	[[ $rc != 0 ]] || fail "stream $i through a flushed forward ended whole: $(cat "$T/flush-c$i.out")"
done

info "a stop with nothing left removes the table and puts sysctls back"
pfd_stop
nsx nft list table inet portfw >/dev/null 2>&1 && fail "table inet portfw left behind after flush -k"
expect_eq "ip_forward put back" "$(nsx cat /proc/sys/net/ipv4/ip_forward)" 0
pft_done
