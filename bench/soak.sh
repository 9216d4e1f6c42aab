#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/soak.sh: long runs through portfwd (user engine) that prove nothing
# leaks: TCP churn, many UDP sessions, a slow reader. See bench/README.md
# ("Soak"). Not part of CI: `make soak`, or
#
#     SOAK_SCALE=0.01 PORTFW_BUILD=$PWD/build bench/soak.sh
#
# Client C, gateway G (portfwd) and server S in namespaces (topo_gateway of
# tests/net/lib.sh). Holds /tmp/pfnet.lock while it runs, so no net test
# runs under its load. Prints a table and one "SOAK ..." line; exits 1 when
# a bound is broken.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../tests/net/lib.sh
source "$BENCH_DIR/../tests/net/lib.sh"

SCALE=${SOAK_SCALE:-1}
scaled() { # scaled N MIN: N x SCALE, at least MIN
	awk -v n="$1" -v s="$SCALE" -v m="$2" 'BEGIN { v = int(n * s); print (v < m ? m : v) }'
}
FLOWS=$(scaled 1000000 1000)
DGRAMS=$(scaled 10000000 10000)
PORTS=$(scaled 100000 200)
SLOW_S=$(scaled 60 5)
INFLIGHT=${SOAK_INFLIGHT:-64}
PIPE=262144

exec 9>/tmp/pfnet.lock
flock 9

pft_init
TOOL=$T/pf_soak
cc -O2 -g -std=gnu17 -Wall -Wextra -D_GNU_SOURCE -o "$TOOL" "$BENCH_DIR/tools/pf_soak.c"
PF_UDP=$T/pf_udp
cc -O2 -g -std=gnu17 -Wall -Wextra -D_GNU_SOURCE -pthread -o "$PF_UDP" "$BENCH_DIR/tools/pf_udp.c"

topo_gateway
# UDP sources over four client addresses (25,000 ports each at full size).
for i in 3 4 5; do ip -n "$C" addr add "198.51.100.$i/24" dev eth0; done
# portfwd's backend connections: the whole port range, TIME_WAIT reused.
nsx sysctl -qw net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
in_ns "$C" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"

GW=198.51.100.1
cat >"$PFD_CONF" <<EOF
status 127.0.0.1:9100
forward name churn tcp $GW:7000 to 10.0.0.2:8000
forward name dead tcp $GW:7001 to 10.0.0.2:8001
forward name flap tcp $GW:7002 to 10.0.0.2:8002
forward name dgram udp $GW:7100 to 10.0.0.2:8100 udp-timeout 1s udp-stream-timeout 1s
forward name slow tcp $GW:7200 to 10.0.0.2:8200
EOF
in_ns "$S" "$TOOL" tsrv -l 10.0.0.2:8000 >"$T/tsrv.log" 2>&1 &
in_ns "$S" "$TOOL" tsrv -l 10.0.0.2:8002 -f 1500 >"$T/flap.log" 2>&1 &
in_ns "$S" "$PF_UDP" echo -l 10.0.0.2:8100 >"$T/echo.log" 2>&1 &
pfd_start -p "$PIPE"
PID=$PFD_PID

FAILS=0
ROWS=()
breach() {
	echo "soak: BOUND BROKEN: $*" >&2
	FAILS=$((FAILS + 1))
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status"; }
# Descriptors apart from pooled pipes (a worker keeps up to 64 idle pipes
# for splice, by design: they are counted on their own).
fds_nopipe() { find "/proc/$PID/fd" -mindepth 1 -printf '%l\n' | grep -vc '^pipe:' || true; }
fds_pipe() { find "/proc/$PID/fd" -mindepth 1 -printf '%l\n' | grep -c '^pipe:' || true; }
active_gauge() {
	nsx curl -fsS http://127.0.0.1:9100/metrics |
		awk '/^portfw_forward_active_flows/ { s += $2 } END { print s + 0 }'
}
# settle SECONDS: until portfwd lists no flow and its gauges read zero.
settle() {
	local end=$(($(now_ms) + $1 * 1000))
	while (($(now_ms) < end)); do
		# The gauges first: a listing of live flows is not wanted here.
		if [[ $(active_gauge) == 0 && $(nconns) == 0 ]]; then return 0; fi
		sleep 0.5
	done
	return 1
}

# snap: descriptors (pipes apart), pipe ends, RSS, flows listed, active gauges.
snap() {
	echo "$(fds_nopipe) $(fds_pipe) $(rss_kb) $(nconns) $(active_gauge)"
}

# The rule: descriptors (pipes apart) equal; pipes at most the pool's bound;
# no flow listed, every gauge zero; RSS at most 1 % above the baseline, or
# 256 KiB where that is more (glibc keeps up to its trim threshold, 128 KiB
# by default, free at the top of the heap, and the timer wheel and hash
# buckets may have grown a page or two).
check_back() { # check_back NAME LOAD
	local n=$1 slack
	local bf=${before_fds} af=${after_fds} ap=${after_pipes} br=${before_rss} ar=${after_rss}
	slack=$((br / 100))
	((slack >= 256)) || slack=256
	((af == bf)) || breach "$n: $af descriptors after, $bf before"
	((ap <= 2 * 64 * $(nproc))) || breach "$n: $ap pipe ends, more than the pools hold"
	((after_flows == 0)) || breach "$n: $after_flows flows listed after"
	((after_active == 0)) || breach "$n: active gauges sum to $after_active after"
	((ar <= br + slack)) || breach "$n: RSS $ar KiB after, $br before (slack $slack)"
	ROWS+=("$(printf '| %-9s | %5s -> %-5s | %4s -> %-4s | %6s -> %-6s KiB (%+d) | %s -> %s | %s |' \
		"$n" "$bf" "$af" "${before_pipes}" "$ap" "$br" "$ar" $((ar - br)) \
		"${before_flows}" "${after_flows}" "$2")")
	MACHINE+=" ${n}_fds=$bf/$af ${n}_rss_kb=$br/$ar ${n}_open_after=$after_flows"
}
MACHINE="SOAK scale=$SCALE"

# ---- 1. TCP churn ----
info "warm-up: $((FLOWS / 100 > 2000 ? 2000 : FLOWS / 100 + 100)) flows"
in_ns "$C" "$TOOL" tcp -c $GW:7000 -r $GW:7001 -F $GW:7002 -k "$INFLIGHT" -d 60 \
	-n $((FLOWS / 100 > 2000 ? 2000 : FLOWS / 100 + 100)) >"$T/warm.out" || true
settle 30 || breach "tcp warm-up: flows still open after 30 s"
read -r before_fds before_pipes before_rss before_flows _ <<<"$(snap)"
info "tcp: $FLOWS flows, $INFLIGHT in flight"
rc=0
in_ns "$C" "$TOOL" tcp -c $GW:7000 -r $GW:7001 -F $GW:7002 -k "$INFLIGHT" -n "$FLOWS" \
	-d $((600 * 2)) >"$T/tcp.out" 2>"$T/tcp.err" || rc=$?
cat "$T/tcp.err" >&2
tcp_out=$(cat "$T/tcp.out")
info "tcp: $tcp_out"
((rc == 0)) || breach "tcp: a flow was misdelivered or stalled: $tcp_out"
read -r _ tflows _ tok _ tref _ tbad _ ttmo _ tunf _ tsecs <<<"$tcp_out"
((tflows == FLOWS && tunf == 0)) || breach "tcp: $tflows of $FLOWS flows ran, $tunf unfinished"
settle 60 || breach "tcp: flows still open 60 s after the churn"
read -r after_fds after_pipes after_rss after_flows after_active <<<"$(snap)"
check_back tcp "$tflows flows in ${tsecs}s: ok $tok, refused $tref, bad $tbad, stalled $ttmo"
MACHINE+=" tcp_flows=$tflows tcp_ok=$tok tcp_refused=$tref tcp_bad=$tbad tcp_stalled=$ttmo tcp_s=$tsecs"

# ---- 2. UDP sessions ----
# The warm-up is small (200 sessions at once) and the run holds a few thousand:
# memory taken for the run's peak must be given back after it, not merely
# reused (an allocator's arena would keep the peak and pass a warm-up at it).
in_ns "$C" "$TOOL" udp -c $GW:7100 -a 198.51.100.2 -A 4 -P 20000 -p 200 -n 2000 -W 200 -w 1 \
	>"$T/uwarm.out" || true
settle 30 || breach "udp warm-up: sessions still open after 30 s"
read -r before_fds before_pipes before_rss before_flows _ <<<"$(snap)"
info "udp: $DGRAMS datagrams from $PORTS source ports"
rc=0
in_ns "$C" "$TOOL" udp -c $GW:7100 -a 198.51.100.2 -A 4 -P 20000 -p "$PORTS" -n "$DGRAMS" \
	-W 1000 -w 2 -d 600 >"$T/udp.out" || rc=$?
udp_out=$(cat "$T/udp.out")
info "udp: $udp_out"
read -r _ usent _ urep _ ulost _ ulate _ umis _ usrc _ usecs <<<"$udp_out"
((rc == 0 && umis == 0)) || breach "udp: $umis replies misdelivered"
((usrc == PORTS)) || breach "udp: $usrc of $PORTS sources ran (time bound)"
# Lost: dropped under load (a full receive queue), not misdelivered; a
# sign of a stall when many: at most 2 %.
((ulost * 50 <= usent)) || breach "udp: $ulost of $usent datagrams lost"
((usent == DGRAMS)) || breach "udp: $usent of $DGRAMS datagrams sent (time bound)"
settle 60 || breach "udp: sessions still open 60 s after the run"
read -r after_fds after_pipes after_rss after_flows after_active <<<"$(snap)"
check_back udp "$usent sent in ${usecs}s, $urep replies, $ulost lost ($ulate late), $umis misdelivered"
MACHINE+=" udp_sent=$usent udp_replies=$urep udp_lost=$ulost udp_late=$ulate udp_misdelivered=$umis udp_s=$usecs"

# ---- 3. Backpressure: a 10 KB/s reader behind a fast sender ----
DATA=$T/data
head -c $((SLOW_S * 10240 + 8 * 1048576)) /dev/urandom >"$DATA"
want=$(sha256sum <"$DATA" | cut -d' ' -f1)
read -r before_fds before_pipes before_rss before_flows _ <<<"$(snap)"
in_ns "$S" "$TOOL" sink -l 10.0.0.2:8200 -r 10240 -t "$SLOW_S" 2>"$T/sink.err" | sha256sum >"$T/sink.sum" &
sinkp=$!
wait_for 10 "the sink" grep -q listening "$T/sink.err"
in_ns "$C" "$TOOL" send -c $GW:7200 <"$DATA" &
sendp=$!
info "backpressure: ${SLOW_S}s at 10 KiB/s, $((PIPE / 1024)) KiB pipes"
peak=0
end=$(($(now_ms) + SLOW_S * 1000 - 500))
while (($(now_ms) < end)); do
	r=$(rss_kb)
	((r > peak)) && peak=$r
	sleep 0.5
done
bp_flows=$(nconns slow)
wait "$sendp" || breach "backpressure: the sender failed"
wait "$sinkp" || breach "backpressure: the sink failed"
got=$(cut -d' ' -f1 <"$T/sink.sum")
[[ $got == "$want" ]] || breach "backpressure: sha256 of what arrived differs from what was sent"
delta=$((peak - before_rss))
# The flow's bytes wait in the kernel (socket buffers, the pipe): portfwd's
# own memory for it must stay within one pipe's size.
((delta * 1024 <= PIPE)) || breach "backpressure: RSS grew $delta KiB with one slow flow"
((bp_flows == 1)) || breach "backpressure: $bp_flows flows listed during the slow phase"
ROWS+=("$(printf '| %-9s | RSS peak %s KiB, %+d KiB over %s (bound %d KiB: the pipe) | sha256 %s |' \
	slow "$peak" "$delta" "$before_rss" $((PIPE / 1024)) "$([[ $got == "$want" ]] && echo equal || echo DIFFERS)")")
MACHINE+=" slow_s=$SLOW_S slow_rss_delta_kb=$delta slow_sha=$([[ $got == "$want" ]] && echo ok || echo bad)"

echo
echo "| run       | fds (no pipes) | pipe ends   | RSS                          | flows  | load |"
echo "|-----------|----------------|-------------|------------------------------|--------|------|"
printf '%s\n' "${ROWS[@]}"
echo
echo "$MACHINE fails=$FAILS"
pfd_check_log
((FAILS == 0)) || fail "$FAILS bound(s) broken"
pft_done
