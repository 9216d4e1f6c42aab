#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The gateway benchmark: portfw where it is deployed, on a gateway between a
# client and a server, against what an operator would run there instead, in
# one run and one table:
#
#   client 198.51.100.2 --- wan 198.51.100.1  gateway  10.0.0.1 lan --- server 10.0.0.2
#    iperf3 -c, wrk          (routes, DNATs or relays)                   iperf3 -s, nginx
#
# The gateway's setups: plain routing (the client addresses the server), one
# hand-written nft DNAT rule, portfwd's kernel engine (one forward, and one
# among BENCH_SCALE; each also with -E none, the daemon reading no conntrack
# event), portfwd's user engine, haproxy (splicing every
# connection; and haproxy-auto: its splice-auto mode), nginx stream and socat
# (the configs of bench/peers/, as bench/run.sh runs them on loopback).
# The -tuned rows: each of portfwd's user engine, haproxy and nginx with
# what its own documentation offers for many short connections on a
# multi-core gateway: a relay thread or worker pinned on each CPU, and
# accepting a client with its first bytes where it can (portfwd -a and
# defer-accept; haproxy cpu-map and bind defer-accept; nginx
# worker_cpu_affinity auto, its stream module having no deferred accept).
# Each: throughput (iperf3, 1 and 4 streams) and new connections per second
# (wrk, Connection: close, nginx's 100-byte file), as ratios to plain
# routing's figure of the same run. See bench/README.md, "The gateway".
#
#   bench/gateway.sh [quick|full]       (root; 'make bench-gateway BENCH_MODE=quick')
#
# Settings (environment; quick / full):
#   BENCH_SECONDS     length of each iperf3 and wrk measurement (1 / 4)
#   BENCH_RUNS        repetitions, each in another order (1 / 5)
#   BENCH_SCALE       forwards of the kernel engine's scale row (1000 / 100000)
#   BENCH_WARMUP      seconds of untimed wrk through each setup before it is measured (1)
#   BENCH_SETUPS      which rows (default: route nft kernel kernel-N kernel-none
#                     kernel-none-N user haproxy haproxy-auto nginx socat
#                     user-tuned haproxy-tuned nginx-tuned)
#   BENCH_WRK_CONNS   concurrent wrk connections (32)
#   BENCH_WRK_THREADS wrk threads (2)
#   BENCH_NOFILE      descriptor limit asked for (65536)
#   BENCH_LOAD_TIMEOUT  seconds a load of forwards may take (600)
#   BENCH_NO_INSTALL=1  do not run scripts/deps.sh bench
#   BENCH_KEEP=1      keep the work dir (configs, logs, raw tool output)
#   BENCH_RESULTS     where the results go (bench/results)
#   PORTFW_BUILD      the build to test (default <repo>/$BUILD, else <repo>/build)
#
# Prints versions, one progress line per setup and run, then the table;
# writes results/<stamp>-gateway-<mode>.{csv,json,md}. Exits 1 if a
# measurement failed (the rest is still reported).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/gateway-lib.sh
. "$BENCH_DIR/gateway-lib.sh"
MODE=${1:-full}
case $MODE in
quick) : "${BENCH_SECONDS:=1}" "${BENCH_RUNS:=1}" "${BENCH_SCALE:=1000}" ;;
full) : "${BENCH_SECONDS:=4}" "${BENCH_RUNS:=5}" "${BENCH_SCALE:=100000}" ;;
*)
	echo "usage: $0 [quick|full]" >&2
	exit 2
	;;
esac
: "${BENCH_WARMUP:=1}" "${BENCH_WRK_CONNS:=32}" "${BENCH_WRK_THREADS:=2}" "${BENCH_NOFILE:=65536}"
: "${BENCH_LOAD_TIMEOUT:=600}" "${BENCH_NO_INSTALL:=0}" "${BENCH_KEEP:=0}"
: "${BENCH_RESULTS:=$BENCH_DIR/results}"
if [[ -z ${PORTFW_BUILD-} && -n ${BUILD-} ]]; then
	case $BUILD in
	/*) PORTFW_BUILD=$BUILD ;;
	*) PORTFW_BUILD=$REPO/$BUILD ;;
	esac
fi
: "${PORTFW_BUILD:=$REPO/build}"
PORTFWD=$PORTFW_BUILD/portfwd
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

for v in BENCH_SECONDS BENCH_RUNS BENCH_WRK_CONNS BENCH_WRK_THREADS BENCH_NOFILE BENCH_LOAD_TIMEOUT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v='${!v}': expected a positive integer"
done
[[ $BENCH_WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP='$BENCH_WARMUP': expected whole seconds"
if ! [[ $BENCH_SCALE =~ ^[1-9][0-9]*$ ]] || ((BENCH_SCALE < 3 || BENCH_SCALE > 1000000)); then
	die "BENCH_SCALE='$BENCH_SCALE': expected one forward count from 3 to 1000000"
fi
ALL_SETUPS="route nft kernel kernel-$BENCH_SCALE kernel-none kernel-none-$BENCH_SCALE user haproxy
	haproxy-auto nginx socat user-tuned haproxy-tuned nginx-tuned"
ALL_SETUPS=${ALL_SETUPS//[$'\n\t']/ }
ALL_SETUPS=${ALL_SETUPS//  / }
: "${BENCH_SETUPS:=$ALL_SETUPS}"
for s in $BENCH_SETUPS; do
	[[ " $ALL_SETUPS " == *" $s "* ]] || die "BENCH_SETUPS: unknown '$s' (known: $ALL_SETUPS)"
done
[[ " $BENCH_SETUPS " == *" route "* ]] || die "BENCH_SETUPS: 'route' is needed (every ratio is to it)"
[[ $(id -u) == 0 ]] || die "needs root (network namespaces, nftables)"
[[ -x $PORTFWD ]] || die "$PORTFWD is missing: build first (make BUILD=... all), or set PORTFW_BUILD"

T_START=$EPOCHREALTIME

if [[ $BENCH_NO_INSTALL != 1 ]]; then
	"$REPO/scripts/deps.sh" bench || die "scripts/deps.sh bench failed"
fi
for b in ip nft conntrack ss iperf3 wrk nginx haproxy socat curl "$PY"; do
	command -v "$b" >/dev/null || die "$b not found (scripts/deps.sh bench installs it)"
done
[[ -e /usr/lib/nginx/modules/ngx_stream_module.so ]] ||
	die "nginx stream module missing (Debian package libnginx-mod-stream)"

# Descriptors for the relays, as bench/run.sh sizes them.
ulimit -n "$BENCH_NOFILE" 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
NOFILE=$(ulimit -n)
NCPU=$(nproc)
MAXCONN=$(((NOFILE - 500) * 2 / 5))
WORKER_CONNS=$((NOFILE - 100))

W=$(mktemp -d /tmp/pfgwbench.XXXXXX)
# nginx's workers run as an unprivileged user: they read W.
chmod 755 "$W"
gw_netns_up pfgw

# ---- versions ----

print_versions() {
	local rev
	rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
	git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || rev+=" (src/ modified)"
	{
		echo "portfwd	$("$PORTFWD" -V 2>&1 | head -1 || true), git $rev ($PORTFWD)"
		echo "haproxy	$(haproxy -v 2>&1 | head -1 || true)"
		echo "nginx	$(nginx -v 2>&1 | head -1 || true)"
		echo "socat	$(socat -V 2>&1 | grep -m1 'socat version' || true)"
		echo "kernel	$(uname -sr)"
		echo "nft	$(nft --version 2>&1 | head -1 || true)"
		echo "iperf3	$(iperf3 --version 2>&1 | head -1 || true)"
		echo "wrk	$(wrk -v 2>&1 | head -1 || true)"
		echo "cpus	$(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true))"
	} >"$W/versions.tsv"
	say "## Versions"
	say
	awk -F'\t' '{ printf "- %s: %s\n", $1, $2 }' "$W/versions.tsv"
	say
}

# ---- the user-space peers on the gateway ----
#
# The same peers/ files as bench/run.sh's, listening on the gateway's WAN
# address and relaying to the server. Their third forward (run.sh's echo
# server) points at a port nobody listens on: it is never used here.
ECHO_FRONT=17007
ECHO_BACK=7007

# render TEMPLATE OUT: a peers/ file with its @PLACEHOLDERS@ filled in.
render() {
	sed -e "s|@DIR@|$W|g" -e "s|@NOFILE@|$NOFILE|g" -e "s|@MAXCONN@|$MAXCONN|g" \
		-e "s|@WORKER_CONNS@|$WORKER_CONNS|g" -e "s|@FRONT_ADDR@|$WAN_G|g" -e "s|@BACK_ADDR@|$SRV|g" \
		-e "s|@IPERF_FRONT@|$T_IPERF|g" -e "s|@IPERF_BACK@|$IPERF_BACK|g" \
		-e "s|@HTTP_FRONT@|$T_HTTP|g" -e "s|@HTTP_BACK@|$HTTP_BACK|g" \
		-e "s|@ECHO_FRONT@|$ECHO_FRONT|g" -e "s|@ECHO_BACK@|$ECHO_BACK|g" \
		"$BENCH_DIR/peers/$1" >"$2"
}

# peer_start NAME: NAME in the gateway namespace, in the background; waits
# until it listens on both measured ports.
peer_start() {
	local name=$1 line args log=$W/$1.log
	case $name in
	haproxy | haproxy-auto | haproxy-tuned)
		render haproxy.cfg "$W/haproxy.cfg"
		# haproxy-tuned: a thread pinned on each CPU (cpu-map, as its
		# management guide's "CPU usage" advises), accepting a client
		# once its first bytes are in (bind ... defer-accept).
		if [[ $name == haproxy-tuned ]]; then
			sed -i -e "s/^global\$/global\n\tnbthread $NCPU\n\tcpu-map auto:1\/1-$NCPU 0-$((NCPU - 1))/" \
				-e 's/^\(\s*bind .*\)$/\1 defer-accept/' "$W/haproxy.cfg"
		fi
		# haproxy-auto: the same with splicing left to haproxy's
		# heuristics (option splice-auto) instead of forced both ways.
		if [[ $name == haproxy-auto ]]; then
			sed -i -e 's/^\(\s*\)option splice-request$/\1option splice-auto/' \
				-e '/^\s*option splice-response$/d' "$W/haproxy.cfg"
			grep -q 'option splice-auto' "$W/haproxy.cfg" || {
				say "   !! peers/haproxy.cfg has no 'option splice-request' line to turn into splice-auto"
				return 1
			}
		fi
		ip netns exec "$NS_G" haproxy -db -f "$W/haproxy.cfg" >>"$log" 2>&1 &
		;;
	nginx | nginx-tuned)
		render nginx-stream.conf "$W/nginx-stream.conf"
		# nginx-tuned: a worker pinned on each CPU (worker_cpu_affinity
		# auto). Its stream module has no deferred accept (the http
		# module's 'listen ... deferred').
		if [[ $name == nginx-tuned ]]; then
			sed -i 's/^worker_processes auto;$/&\nworker_cpu_affinity auto;/' "$W/nginx-stream.conf"
		fi
		ip netns exec "$NS_G" nginx -p "$W/" -c "$W/nginx-stream.conf" -e "$W/nginx-stream.error.log" \
			>>"$log" 2>&1 &
		;;
	socat)
		render socat.args "$W/socat.args"
		while read -r line; do
			[[ -z $line || $line == \#* ]] && continue
			read -ra args <<<"$line"
			ip netns exec "$NS_G" socat "${args[@]}" >>"$log" 2>&1 &
		done <"$W/socat.args"
		;;
	*) return 1 ;;
	esac
	if ! wait_for 10 listening "$NS_G" "$T_IPERF" || ! wait_for 10 listening "$NS_G" "$T_HTTP"; then
		say "   !! $name did not start: $(tail -2 "$log" | tr '\n' ' ')"
		return 1
	fi
}

# peers_stop: every process in the gateway namespace (only the peer runs
# there, with whatever it forked), TERM then KILL.
peers_stop() {
	local pids end
	pids=$(ip netns pids "$NS_G" 2>/dev/null || true)
	[[ -n $pids ]] || return 0
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	end=$(($(now_ms) + 5000))
	while [[ -n $(ip netns pids "$NS_G" 2>/dev/null) ]] && (($(now_ms) < end)); do
		sleep 0.05
	done
	pids=$(ip netns pids "$NS_G" 2>/dev/null || true)
	# shellcheck disable=SC2086
	[[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
	# Reap those that were our children.
	wait_children
}

wait_children() {
	local p
	for p in $(jobs -p); do
		[[ " ${IPERF_PIDS[*]} $HTTP_PID " == *" $p "* ]] || wait "$p" 2>/dev/null || true
	done
}

# ---- setups ----

setup_start() {
	TARGET=$WAN_G T_IPERF=$IPERF_FRONT T_HTTP=$HTTP_FRONT LOAD_MS=""
	case $1 in
	haproxy | haproxy-auto | haproxy-tuned | nginx | nginx-tuned | socat) peer_start "$1" ;;
	*) gw_setup_start "$1" ;;
	esac
}

setup_stop() {
	case $1 in
	haproxy | haproxy-auto | haproxy-tuned | nginx | nginx-tuned | socat) peers_stop ;;
	esac
	gw_setup_stop "$1"
}

# ---- main ----

gw_samples_init
say "# portfw gateway benchmark ($MODE)"
say
say "bench: mode $MODE, $BENCH_RUNS run(s), ${BENCH_SECONDS}s per load test, ${BENCH_WARMUP}s warm-up," \
	"wrk -t$BENCH_WRK_THREADS -c$BENCH_WRK_CONNS, scale row $BENCH_SCALE forwards, nofile $NOFILE," \
	"namespaces $NS_C $NS_G $NS_S"
say
print_versions
server_start
warm_up

for ((RUN = 1; RUN <= BENCH_RUNS; RUN++)); do
	# shellcheck disable=SC2086
	mapfile -t SETUPS < <(run_order "$RUN" $BENCH_SETUPS)
	say "[run $RUN/$BENCH_RUNS] order: ${SETUPS[*]}"
	for setup in "${SETUPS[@]}"; do
		t0=$(now_ms)
		SUMMARY=""
		servers_check
		if ! setup_start "$setup"; then
			fail_note "$setup: could not be set up"
			setup_stop "$setup"
			continue
		fi
		if [[ -n $LOAD_MS ]]; then
			record "$setup" load_ms "$LOAD_MS"
			SUMMARY+=" loaded in $LOAD_MS ms;"
		fi
		if ! wait_for 5 sanity; then
			fail_note "$setup: an HTTP request through $TARGET:$T_HTTP did not return the file"
			setup_stop "$setup"
			continue
		fi
		# Whatever a setup does on its first connections (threads, pools,
		# conntrack's and the relays' first allocations) is not measured.
		if ((BENCH_WARMUP > 0)); then
			in_c timeout -k 3 $((BENCH_WARMUP + 30)) wrk -t "$BENCH_WRK_THREADS" -c "$BENCH_WRK_CONNS" \
				-d "${BENCH_WARMUP}s" -H "Connection: close" "http://$TARGET:$T_HTTP/100b" >/dev/null 2>&1 || true
		fi
		bulk "$setup" 1 || true
		bulk "$setup" 4 || true
		cps "$setup" || true
		setup_stop "$setup"
		say "[run $RUN/$BENCH_RUNS] $setup ($(($(now_ms) - t0)) ms):$SUMMARY"
	done
done

# ---- report ----

mkdir -p "$BENCH_RESULTS"
STAMP=$(date +%Y%m%d-%H%M%S)
OUTB=$BENCH_RESULTS/$STAMP-gateway-$MODE
cp "$CSV" "$OUTB.csv"
ELAPSED=$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
say
"$PY" "$BENCH_DIR/tools/pf_greport.py" --csv "$CSV" --versions "$W/versions.tsv" \
	--failures "$FAILS" --json "$OUTB.json" --md "$OUTB.md" \
	--setting mode="$MODE" --setting runs="$BENCH_RUNS" --setting seconds="$BENCH_SECONDS" \
	--setting warmup="$BENCH_WARMUP" --setting wrk_conns="$BENCH_WRK_CONNS" \
	--setting wrk_threads="$BENCH_WRK_THREADS" --setting scale="$BENCH_SCALE" \
	--setting setups="$BENCH_SETUPS" --setting elapsed_s="$ELAPSED"
say
say "bench: results in $OUTB.{md,json,csv} (${ELAPSED}s)"
if [[ -s $FAILS ]]; then
	say "bench: $(wc -l <"$FAILS") measurement(s) failed:"
	sed 's/^/  /' "$FAILS"
	exit 1
fi
