#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# How fast could any relay carry sequential UDP round trips on one CPU?
# bench/run.sh's sequential UDP test (pf_udp rr, 64-byte datagrams, client,
# relay and pf_udp echo all on BENCH_UDP_CPU) for direct, portfwd (user
# engine), socat and nginx stream (bench's peers/ configs, one forward):
#
#   - BENCH_RUNS interleaved timed runs, with the CPU's context switches
#     (perf stat -C), medians and ratios to nginx;
#   - one profiled run per row (perf record -C CPU -g), each sample sorted
#     by pf_ubound.py into (a) kernel UDP/IP/loopback work, (s) scheduler,
#     context switches and wakeups, (c) the relay's own syscall entry/exit,
#     epoll/select and user space, (e) the client's and echo server's own;
#   - the bound: round trips/s of each relay with (c) at zero, as x nginx.
#
#   flock -o /tmp/pfnet.lock timeout 300 bench/tools/udp-bound.sh   (root, ~2 min)
#
# Settings (environment): BENCH_SECONDS (4), BENCH_RUNS (3),
# BENCH_PROFILE_SECONDS (3), BENCH_UDP_CPU (0), BENCH_UDP_SIZE (64),
# BENCH_SETUPS (direct portfwd socat nginx), PORTFW_BUILD (<repo>/build).
set -euo pipefail

TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_DIR=$(cd "$TOOLS/.." && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
: "${BENCH_SECONDS:=4}" "${BENCH_RUNS:=3}" "${BENCH_PROFILE_SECONDS:=3}"
: "${BENCH_UDP_CPU:=0}" "${BENCH_UDP_SIZE:=64}" "${BENCH_SETUPS:=direct portfwd socat nginx}"
: "${PORTFW_BUILD:=$REPO/build}"
PORTFWD=$PORTFW_BUILD/portfwd
TOOLS_BIN=$PORTFW_BUILD/bench
PF_UDP=$TOOLS_BIN/pf_udp
BACK=7100 FRONT=17100

die() { echo "udp-bound: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root"
[[ -x $PORTFWD ]] || die "$PORTFWD missing: make first"
for b in perf socat nginx taskset cc; do
	command -v "$b" >/dev/null || die "$b not found"
done
# Built as bench/run.sh builds it, in the same place.
mkdir -p "$TOOLS_BIN"
if [[ ! -x $PF_UDP || $TOOLS/pf_udp.c -nt $PF_UDP ]]; then
	cc -O2 -g -std=gnu17 -Wall -Wextra -D_GNU_SOURCE -pthread -o "$PF_UDP" "$TOOLS/pf_udp.c" ||
		die "building pf_udp failed"
fi

W=$(mktemp -d /tmp/pfudpbound.XXXXXX)
chmod 755 "$W"
NS=pfub-$$
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip netns add "$NS" || die "ip netns add $NS failed"
ip -n "$NS" link set lo up
ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="20000 64999" >/dev/null
# In the namespace, on the test's CPU, as bench/run.sh pins the sequential
# test's client, echo server and relay. An array, not a function: $! of a
# function run in the background is its subshell's, not the relay's.
PIN=(ip netns exec "$NS" taskset -c "$BENCH_UDP_CPU")

"${PIN[@]}" "$PF_UDP" echo -l "127.0.0.1:$BACK" >>"$W/echo.log" 2>&1 &
ECHO_PID=$!
PIDS+=("$ECHO_PID")

RELAY=()
relay_start() {
	local log=$W/$1.log
	RELAY=() PORT=$FRONT
	# The port is free: no earlier relay answers in this one's place.
	[[ -z $(ip netns exec "$NS" ss -Hua "sport = :$FRONT") ]] || { echo "$1: port $FRONT still taken" >>"$W/fails.txt"; return 1; }
	case $1 in
	direct) PORT=$BACK ;;
	portfwd)
		echo "forward name ub udp 127.0.0.1:$FRONT to 127.0.0.1:$BACK" >"$W/portfwd.conf"
		"${PIN[@]}" "$PORTFWD" -c "$W/portfwd.conf" -s "$W/portfwd.sock" >>"$log" 2>&1 &
		RELAY=($!)
		;;
	socat)
		"${PIN[@]}" socat "UDP-LISTEN:$FRONT,bind=127.0.0.1,fork,reuseaddr" "UDP:127.0.0.1:$BACK" >>"$log" 2>&1 &
		RELAY=($!)
		;;
	nginx)
		# peers/nginx-udp.conf, its sequential test's server only.
		sed -e "s|@DIR@|$W|g" -e "s|@NOFILE@|4096|g" -e "s|@WORKER_CONNS@|4000|g" \
			-e "s|@UDP_RR_FRONT@|$FRONT|g" -e "s|@UDP_RR_BACK@|$BACK|g" \
			-e "s|@UDP_MANY_FRONT@|$((FRONT + 1))|g" -e "s|@UDP_MANY_BACK@|$((BACK + 1))|g" \
			"$BENCH_DIR/peers/nginx-udp.conf" >"$W/nginx-udp.conf"
		"${PIN[@]}" nginx -p "$W/" -c "$W/nginx-udp.conf" -e "$W/nginx-udp.error.log" >>"$log" 2>&1 &
		RELAY=($!)
		;;
	*) die "unknown setup $1" ;;
	esac
	PIDS+=("${RELAY[@]}")
	# Up when a short round-trip run gets replies (pf_udp fails if none).
	local i
	for ((i = 0; i < 50; i++)); do
		"${PIN[@]}" timeout -k 1 5 "$PF_UDP" rr -c "127.0.0.1:$PORT" -d 0.2 -T 200 >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# any_alive PID...: one of them still runs.
any_alive() {
	local p
	for p; do
		kill -0 "$p" 2>/dev/null && return 0
	done
	return 1
}

# relay_stop: TERM to the relay (nginx's master ends its workers itself;
# a worker killed first would be respawned), then to socat's children, then
# KILL to whatever of them is left after 5 s, and the port is free again.
relay_stop() {
	local p pids="" i
	for p in "${RELAY[@]}"; do
		pids+=" $p $(pgrep -P "$p" | xargs || true)"
		kill -TERM "$p" 2>/dev/null || true
	done
	if [[ ${RELAY[0]-} ]]; then
		pkill -TERM -P "${RELAY[0]}" socat 2>/dev/null || true
	fi
	for ((i = 0; i < 50; i++)); do
		# shellcheck disable=SC2086
		any_alive $pids || break
		sleep 0.1
	done
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		# shellcheck disable=SC2086
		any_alive $pids || break
		sleep 0.1
	done
	for p in "${RELAY[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	for ((i = 0; i < 50; i++)); do
		[[ -z $(ip netns exec "$NS" ss -Hua "sport = :$FRONT") ]] && break
		sleep 0.1
	done
}

# rr SECONDS OUT: one sequential test; its "key value" line in OUT.
rr() {
	"${PIN[@]}" timeout -k 3 $(($1 + 20)) "$PF_UDP" rr -c "127.0.0.1:$PORT" -s "$BENCH_UDP_SIZE" \
		-d "$1" -W 0.5 -T 200 >"$2" 2>>"$W/rr.err"
}

# timed SETUP RUN: rr with the CPU's context switches counted meanwhile.
timed() {
	local out=$W/rr-$1-$2.txt cs=$W/cs-$1-$2.txt
	perf stat -C "$BENCH_UDP_CPU" -e context-switches -x, -o "$cs" -- sleep "$((BENCH_SECONDS + 1))" &
	rr "$((BENCH_SECONDS + 1))" "$out" || echo "$1 run $2: pf_udp rr failed" >>"$W/fails.txt"
	wait $! || true
	echo "[run $2] $1: $(cat "$out") cs $(awk -F, '/context-switches/ { print $1 }' "$cs")"
}

# profile SETUP: perf record on the CPU over the middle of a run.
profile() {
	local rp
	rr "$((BENCH_PROFILE_SECONDS + 2))" "$W/prof-rr-$1.txt" &
	rp=$!
	sleep 1.5
	perf record -C "$BENCH_UDP_CPU" -g -F 999 -o "$W/perf-$1.data" -- sleep "$BENCH_PROFILE_SECONDS" >/dev/null 2>&1 || true
	wait "$rp" || echo "$1 profile: pf_udp rr failed" >>"$W/fails.txt"
	perf script -i "$W/perf-$1.data" -F comm,pid,ip,sym 2>/dev/null >"$W/perf-$1.txt" || true
	rm -f "$W/perf-$1.data"
	echo "[profile] $1: $(cat "$W/prof-rr-$1.txt")"
}

echo "# udp-bound: sequential UDP round trips on CPU $BENCH_UDP_CPU ($(uname -r), $(nproc) CPUs)"
echo "bench: $BENCH_RUNS runs of ${BENCH_SECONDS}s, profile ${BENCH_PROFILE_SECONDS}s, setups: $BENCH_SETUPS; namespace $NS, work dir $W"
read -ra SETUPS <<<"$BENCH_SETUPS"
for ((RUN = 1; RUN <= BENCH_RUNS; RUN++)); do
	# Rotated each run: no setup always first or last.
	n=${#SETUPS[@]}
	for ((i = 0; i < n; i++)); do
		s=${SETUPS[$(((i + RUN - 1) % n))]}
		relay_start "$s" || { echo "$s: did not start" >>"$W/fails.txt"; relay_stop "$s"; continue; }
		timed "$s" "$RUN"
		relay_stop "$s"
	done
done
# Profiles apart: perf's sampling would weigh on the timed runs.
for s in "${SETUPS[@]}"; do
	relay_start "$s" && profile "$s"
	relay_stop "$s"
done
kill -0 "$ECHO_PID" || die "echo server died: $(tail -3 "$W/echo.log")"
python3 "$TOOLS/pf_ubound.py" --seconds="$((BENCH_SECONDS + 1))" "$W" "${SETUPS[@]}" | tee "$W/report.md"
mkdir -p "$BENCH_DIR/results"
OUT=$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)-udp-bound.md
cp "$W/report.md" "$OUT"
echo "bench: $OUT"
[[ ! -s $W/fails.txt ]] || { sed 's/^/  /' "$W/fails.txt"; exit 1; }
