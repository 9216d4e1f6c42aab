#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Is a relay's throughput on the gateway bound by the kernel's own TCP work?
# For plain routing and three relays on the gateway of bench/gateway.sh
# (portfwd's user engine, haproxy splicing both ways with bench's config,
# and the BPF sockmap prototype of bench/tools/sockmap-relay):
#
#   - iperf3, 1 and 4 streams, and wrk with keep-alive (small requests),
#     BENCH_RUNS interleaved repetitions, medians, ratios to routing;
#   - the machine's busy CPUs during each iperf3 run (/proc/stat deltas);
#   - one profiled iperf3 run per row and stream count (perf record -a -g),
#     each sample sorted by the innermost frame of its call chain that says
#     whose work it is: (a) network stack,
#     (b) splice/pipe, (c) the relay's own syscalls, epoll, user space and
#     scheduling, (d) sockmap/psock, and the rest;
#   - sockmap-big: the same prototype with 4 MiB send buffers (-S);
#   - the bound: the throughput a relay would reach at the same busy CPU if
#     (b) and (c) cost nothing, as a ratio to routing.
#
# BENCH_TOPO=loopback measures the same on loopback instead, as bench/run.sh
# does: one namespace, iperf3 and nginx on 127.0.0.1, rows direct (client to
# server), user (portfwd's user engine, 127.0.0.1:15201 -> 127.0.0.1:5201,
# default options) and haproxy; every ratio and the bound are then to
# direct. Bulk only.
#
# BENCH_MODE=cps measures the new-connection rate instead (wrk with
# "Connection: close" on nginx's 100-byte file, as bench/gateway.sh's cps),
# for route, user, haproxy and nginx stream (bench's peers/ configs): the
# machine's busy CPU and the relay processes' own CPU per connection, one
# profiled wrk run per row (samples tagged with their pid: the relay is
# whatever runs in the gateway namespace), and the rate a relay would reach
# if (b) and (c) cost nothing, as a ratio to the best of haproxy and nginx.
#
#   flock -o /tmp/pfnet.lock bench/tools/relay-bound.sh     (root)
#   BENCH_MODE=cps flock -o /tmp/pfnet.lock bench/tools/relay-bound.sh
#   BENCH_TOPO=loopback flock -o /tmp/pfnet.lock bench/tools/relay-bound.sh
#
# Settings (environment): BENCH_SECONDS (4) per measurement, BENCH_RUNS (3),
# BENCH_PROFILE_SECONDS (3), BENCH_SETUPS (route user haproxy sockmap
# sockmap-big),
# BENCH_WRK_CONNS (32), BENCH_WRK_THREADS (2), SMR_ARGS (more options of
# sockmap-relay, e.g. -S 4194304), BENCH_KEEP=1 keeps the work
# dir, PORTFW_BUILD (<repo>/build), BENCH_MODE (bulk, or cps: BENCH_SETUPS
# then defaults to route user haproxy nginx). Takes about 4-5 minutes with
# the defaults, about 1.5 with BENCH_MODE=cps.
set -euo pipefail

TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_DIR=$(cd "$TOOLS/.." && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/gateway-lib.sh
. "$BENCH_DIR/gateway-lib.sh"
: "${BENCH_SECONDS:=4}" "${BENCH_RUNS:=3}" "${BENCH_PROFILE_SECONDS:=3}"
: "${BENCH_MODE:=bulk}" "${BENCH_TOPO:=gateway}"
case $BENCH_TOPO/$BENCH_MODE in
gateway/bulk) : "${BENCH_SETUPS:=route user haproxy sockmap sockmap-big}" ;;
gateway/cps) : "${BENCH_SETUPS:=route user haproxy nginx}" ;;
# cps would need the relay's pids apart from the servers' (one namespace).
loopback/bulk) : "${BENCH_SETUPS:=direct user haproxy}" ;;
*) echo "BENCH_MODE: bulk or cps; BENCH_TOPO: gateway, or loopback (bulk only)" >&2; exit 2 ;;
esac
# The row every ratio is to: routing through the gateway, or no relay at all.
BASE=route
[[ $BENCH_TOPO == gateway ]] || BASE=direct
: "${BENCH_WRK_CONNS:=32}" "${BENCH_WRK_THREADS:=2}" "${BENCH_KEEP:=0}" "${BENCH_LOAD_TIMEOUT:=60}"
: "${PORTFW_BUILD:=$REPO/build}"
PORTFWD=$PORTFW_BUILD/portfwd
SMR=$TOOLS/sockmap-relay/sockmap-relay
PY=/usr/bin/python3

[[ $(id -u) == 0 ]] || die "needs root"
[[ -x $PORTFWD ]] || die "$PORTFWD missing: make first"
[[ " $BENCH_SETUPS " == *" $BASE "* ]] || die "BENCH_SETUPS: '$BASE' is needed (every ratio is to it)"
if [[ " $BENCH_SETUPS " == *" sockmap"* ]]; then
	make -s -C "$TOOLS/sockmap-relay" >/dev/null || die "sockmap-relay does not build"
fi
for b in perf iperf3 wrk haproxy nginx; do
	command -v "$b" >/dev/null || die "$b not found (apt-get install linux-perf ...)"
done
ulimit -n 65536 2>/dev/null || true
NOFILE=$(ulimit -n)
MAXCONN=$(((NOFILE - 500) * 2 / 5))
WORKER_CONNS=$((NOFILE - 100))
NCPU=$(nproc)
T_START=$EPOCHREALTIME

# lb_netns_up: one namespace (pfrb-l-PID) with lo up, which is client,
# relay and server at once; every address of gateway-lib.sh is 127.0.0.1,
# so its setups and measurements run unchanged.
lb_netns_up() {
	NS_C=pfrb-l-$$
	NS_G=$NS_C NS_S=$NS_C
	WAN_G=127.0.0.1 SRV=127.0.0.1
	trap gw_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	ip netns add "$NS_C" || die "ip netns add $NS_C failed"
	NS_MADE+=("$NS_C")
	ip -n "$NS_C" link set lo up
	ip netns exec "$NS_C" sysctl -qw net.ipv4.ip_local_port_range="20000 64999" \
		net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096 >/dev/null
}

W=$(mktemp -d /tmp/pfrelaybound.XXXXXX)
chmod 755 "$W"
if [[ $BENCH_TOPO == loopback ]]; then
	lb_netns_up
else
	gw_netns_up pfrb
fi

# ---- the relays ----

RELAY_PIDS=()
relay_start() {
	local log=$W/$1.log args
	TARGET=$WAN_G T_IPERF=$IPERF_FRONT T_HTTP=$HTTP_FRONT RELAY_PIDS=()
	case $1 in
	direct)
		# Loopback: the client talks to the servers themselves.
		TARGET=$SRV T_IPERF=$IPERF_BACK T_HTTP=$HTTP_BACK
		return
		;;
	haproxy)
		# bench's own config (peers/haproxy.cfg), as gateway.sh renders it.
		sed -e "s|@DIR@|$W|g" -e "s|@NOFILE@|$NOFILE|g" -e "s|@MAXCONN@|$MAXCONN|g" \
			-e "s|@FRONT_ADDR@|$WAN_G|g" -e "s|@BACK_ADDR@|$SRV|g" \
			-e "s|@IPERF_FRONT@|$T_IPERF|g" -e "s|@IPERF_BACK@|$IPERF_BACK|g" \
			-e "s|@HTTP_FRONT@|$T_HTTP|g" -e "s|@HTTP_BACK@|$HTTP_BACK|g" \
			-e "s|@ECHO_FRONT@|17007|g" -e "s|@ECHO_BACK@|7007|g" \
			"$BENCH_DIR/peers/haproxy.cfg" >"$W/haproxy.cfg"
		ip netns exec "$NS_G" haproxy -db -f "$W/haproxy.cfg" >>"$log" 2>&1 &
		RELAY_PIDS+=($!)
		;;
	nginx)
		# nginx stream as bench/gateway.sh runs it (peers/nginx-stream.conf).
		sed -e "s|@DIR@|$W|g" -e "s|@NOFILE@|$NOFILE|g" -e "s|@WORKER_CONNS@|$WORKER_CONNS|g" \
			-e "s|@FRONT_ADDR@|$WAN_G|g" -e "s|@BACK_ADDR@|$SRV|g" \
			-e "s|@IPERF_FRONT@|$T_IPERF|g" -e "s|@IPERF_BACK@|$IPERF_BACK|g" \
			-e "s|@HTTP_FRONT@|$T_HTTP|g" -e "s|@HTTP_BACK@|$HTTP_BACK|g" \
			-e "s|@ECHO_FRONT@|17007|g" -e "s|@ECHO_BACK@|7007|g" \
			"$BENCH_DIR/peers/nginx-stream.conf" >"$W/nginx-stream.conf"
		ip netns exec "$NS_G" nginx -p "$W/" -c "$W/nginx-stream.conf" -e "$W/nginx-stream.error.log" \
			>>"$log" 2>&1 &
		RELAY_PIDS+=($!)
		;;
	sockmap | sockmap-big)
		# sockmap-big: 4 MiB send buffers. The verdict's sends wait a
		# jiffy whenever the peer's send buffer is full (psock backlog).
		args=${SMR_ARGS-}
		[[ $1 == sockmap ]] || args+=" -S 4194304"
		# shellcheck disable=SC2086
		ip netns exec "$NS_G" "$SMR" $args -l "$WAN_G:$T_IPERF" -b "$SRV:$IPERF_BACK" >>"$log" 2>&1 &
		RELAY_PIDS+=($!)
		# shellcheck disable=SC2086
		ip netns exec "$NS_G" "$SMR" $args -l "$WAN_G:$T_HTTP" -b "$SRV:$HTTP_BACK" >>"$log" 2>&1 &
		RELAY_PIDS+=($!)
		;;
	*)
		gw_setup_start "$1"
		return
		;;
	esac
	if ! wait_for 10 listening "$NS_G" "$T_IPERF" || ! wait_for 10 listening "$NS_G" "$T_HTTP"; then
		say "   !! $1 did not start: $(tail -2 "$log" | tr '\n' ' ')"
		return 1
	fi
}

# relay_pids: the relay's processes: all of the gateway namespace, or on
# loopback (where the servers run too) those relay_start started.
relay_pids() {
	if [[ $BENCH_TOPO == loopback ]]; then
		local p
		for p in "${RELAY_PIDS[@]}"; do
			! kill -0 "$p" 2>/dev/null || echo "$p"
		done
	else
		ip netns pids "$NS_G" 2>/dev/null || true
	fi
}

relay_stop() {
	local pids
	case $1 in
	haproxy | nginx | sockmap | sockmap-big)
		pids=$(relay_pids)
		# shellcheck disable=SC2086
		[[ -z $pids ]] || kill -TERM $pids 2>/dev/null || true
		# shellcheck disable=SC2016
		wait_for 5 eval '[[ -z $(relay_pids) ]]' || true
		pids=$(relay_pids)
		# shellcheck disable=SC2086
		[[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
		;;
	esac
	gw_setup_stop "$1"
	for p in $(jobs -p); do
		[[ " ${IPERF_PIDS[*]} $HTTP_PID " == *" $p "* ]] || wait "$p" 2>/dev/null || true
	done
}

# ---- CPU busy: both cores, whole machine ----

# cpu_snap: "busy total" jiffies over all CPUs.
cpu_snap() {
	awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

# busy_cores A B: CPUs busy on average between two cpu_snap's.
busy_cores() {
	local b0 t0 b1 t1
	read -r b0 t0 <<<"$1"
	read -r b1 t1 <<<"$2"
	calc "($b1 - $b0) / ($t1 - $t0) * $NCPU"
}

# bulk_cpu SETUP STREAMS: bulk, with the machine's busy CPUs recorded.
bulk_cpu() {
	local s0 s1
	s0=$(cpu_snap)
	bulk "$1" "$2" || return 1
	s1=$(cpu_snap)
	record "$1" "cpu$2" "$(busy_cores "$s0" "$s1")"
}

# keepalive SETUP: wrk with keep-alive on nginx's 100-byte file, req/s.
keepalive() {
	local out=$W/wrk-ka-$1.txt rate
	in_c timeout -k 3 $((BENCH_SECONDS + 30)) wrk -t "$BENCH_WRK_THREADS" -c "$BENCH_WRK_CONNS" \
		-d "${BENCH_SECONDS}s" "http://$TARGET:$T_HTTP/100b" >"$out" 2>&1 || {
		fail_note "$1: wrk keep-alive failed: $(tail -2 "$out")"
		return 1
	}
	rate=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	[[ -n $rate ]] || return 1
	record "$1" ka "$rate"
	SUMMARY+=" ka $rate req/s;"
}

# profile SETUP STREAMS: perf record -a over the middle of an iperf3 run.
profile() {
	local data=$W/perf-$1-$2.data ip
	in_c timeout -k 3 $((BENCH_PROFILE_SECONDS + 30)) iperf3 -c "$TARGET" -p "$T_IPERF" \
		-t $((BENCH_PROFILE_SECONDS + 2)) -P "$2" >"$W/profile-iperf-$1-$2.txt" 2>&1 &
	ip=$!
	sleep 1
	# Call chains: in this VM perf samples on a timer, and a sample taken
	# with interrupts off lands on the function that turns them back on
	# (_raw_spin_unlock_irqrestore): only its callers say whose work it was.
	perf record -a -g -F 999 -o "$data" -- sleep "$BENCH_PROFILE_SECONDS" >/dev/null 2>&1 || true
	wait "$ip" || fail_note "$1: profiled iperf3 -P $2 failed: $(tail -2 "$W/profile-iperf-$1-$2.txt" | tr '\n' ' ')"
	perf script -i "$data" -F comm,ip,sym 2>/dev/null >"$W/perf-$1-$2.txt" || true
	rm -f "$data"
}

# relay_ticks: CPU jiffies (user + system, all threads) of every process in
# the gateway namespace: the relay and whatever it forked.
relay_ticks() {
	local p t=0 f
	for p in $(ip netns pids "$NS_G" 2>/dev/null || true); do
		# Fields after the ")" of comm: utime and stime are the 12th and 13th.
		f=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
		read -ra f <<<"$f"
		t=$((t + f[11] + f[12]))
	done
	echo "$t"
}

# cps_cpu SETUP: cps (gateway-lib.sh), with the machine's busy CPUs and the
# relay's own CPUs recorded (cpucps, relcps).
cps_cpu() {
	local s0 s1 r0 r1 t0 t1 hz
	hz=$(getconf CLK_TCK)
	s0=$(cpu_snap) r0=$(relay_ticks) t0=$EPOCHREALTIME
	cps "$1" || return 1
	s1=$(cpu_snap) r1=$(relay_ticks) t1=$EPOCHREALTIME
	record "$1" cpucps "$(busy_cores "$s0" "$s1")"
	record "$1" relcps "$(calc "($r1 - $r0) / $hz / ($t1 - $t0)")"
}

# profile_cps SETUP: perf record -a over the middle of a wrk Connection:
# close run; the relay's pids go to pids-SETUP.txt.
profile_cps() {
	local data=$W/perf-$1-cps.data wp
	in_c timeout -k 3 $((BENCH_PROFILE_SECONDS + 30)) wrk -t "$BENCH_WRK_THREADS" -c "$BENCH_WRK_CONNS" \
		-d "$((BENCH_PROFILE_SECONDS + 2))s" -H "Connection: close" "http://$TARGET:$T_HTTP/100b" \
		>"$W/profile-wrk-$1.txt" 2>&1 &
	wp=$!
	sleep 1
	{ ip netns pids "$NS_G" 2>/dev/null || true; } >"$W/pids-$1.txt"
	perf record -a -g -F 999 -o "$data" -- sleep "$BENCH_PROFILE_SECONDS" >/dev/null 2>&1 || true
	wait "$wp" || fail_note "$1: profiled wrk failed: $(tail -2 "$W/profile-wrk-$1.txt" | tr '\n' ' ')"
	perf script -i "$data" -F comm,pid,ip,sym 2>/dev/null >"$W/perf-$1-cps.txt" || true
	rm -f "$data"
}

# ---- main ----

gw_samples_init
say "# relay-bound: $BASE vs relays, $BENCH_TOPO ($(uname -r), $NCPU CPUs)"
say "bench: $BENCH_MODE, $BENCH_RUNS runs of ${BENCH_SECONDS}s, profile ${BENCH_PROFILE_SECONDS}s, setups: $BENCH_SETUPS; namespaces $(printf '%s\n' "$NS_C" "$NS_G" "$NS_S" | sort -u | xargs)"
server_start
warm_up
for ((RUN = 1; RUN <= BENCH_RUNS; RUN++)); do
	# shellcheck disable=SC2086
	mapfile -t SETUPS < <(run_order "$RUN" $BENCH_SETUPS)
	for setup in "${SETUPS[@]}"; do
		SUMMARY=""
		servers_check
		if ! relay_start "$setup" || ! wait_for 5 sanity; then
			fail_note "$setup: could not be set up"
			relay_stop "$setup"
			continue
		fi
		if [[ $BENCH_MODE == cps ]]; then
			cps_cpu "$setup" || true
		else
			bulk_cpu "$setup" 1 || true
			bulk_cpu "$setup" 4 || true
			keepalive "$setup" || true
		fi
		relay_stop "$setup"
		say "[run $RUN/$BENCH_RUNS] $setup:$SUMMARY"
	done
done
# Profiles last, apart: perf's own sampling would weigh on the timed runs.
RUN=profile
for setup in $BENCH_SETUPS; do
	servers_check
	if relay_start "$setup" && wait_for 5 sanity; then
		if [[ $BENCH_MODE == cps ]]; then
			profile_cps "$setup"
		else
			profile "$setup" 1
			profile "$setup" 4
		fi
	fi
	relay_stop "$setup"
	say "[profile] $setup done"
done
MODE_ARGS=() SUFFIX=""
[[ $BENCH_MODE == bulk ]] || MODE_ARGS=(--cps) SUFFIX=-cps
[[ $BASE == route ]] || MODE_ARGS+=(--base "$BASE") SUFFIX+=-$BENCH_TOPO
# shellcheck disable=SC2086
"$PY" "$TOOLS/pf_rbound.py" "${MODE_ARGS[@]}" "$W" $BENCH_SETUPS | tee "$W/report.md"
mkdir -p "$BENCH_DIR/results"
OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-relay-bound$SUFFIX
cp "$W/report.md" "$OUT.md"
cp "$CSV" "$OUT.csv"
say "bench: $OUT.{md,csv} ($(calc "$EPOCHREALTIME - $T_START")s)"
[[ ! -s $FAILS ]] || { sed 's/^/  /' "$FAILS"; exit 1; }
