#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The benchmark: portfwd against other TCP forwarders (haproxy, nginx stream,
# socat, rinetd, redir) and against no forwarder at all ("direct"), in a
# network namespace of its own. See bench/README.md.
#
#   bench/run.sh [quick|full]        (root; 'make bench BENCH_MODE=quick')
#
# Settings (environment; the defaults depend on the mode, quick / full):
#   BENCH_SECONDS      length of each iperf3 and wrk measurement (1 / 4)
#   BENCH_RUNS         repetitions of every figure; the table shows medians (1 / 3)
#   BENCH_IDLE_CONNS   connections held open for the memory figure (200 / 5000)
#   BENCH_LAT_ROUNDS   ping-pongs of the latency figure (2000 / 20000)
#   BENCH_IDLE_WINDOW  how many of those may be connecting at once (8)
#   BENCH_WRK_CONNS    concurrent wrk connections (32)
#   BENCH_WRK_THREADS  wrk threads (2)
#   BENCH_FORWARDERS   which to run, in order (direct portfwd haproxy nginx socat rinetd redir)
#   BENCH_CPUS         taskset CPU list for the forwarders (default: no pinning)
#   BENCH_LOAD_CPUS    taskset CPU list for backends and load generators (default: none)
#   BENCH_PORTFWD_ARGS extra portfwd options, e.g. "-w 1" or "-m copy"
#   BENCH_NOFILE       descriptor limit to ask for (65536; capped at the hard limit)
#   BENCH_NO_INSTALL=1 do not run scripts/deps.sh bench
#   BENCH_KEEP=1       keep the work dir (configs, logs, raw tool output)
#   BENCH_RESULTS      where the results go (bench/results)
#   PORTFW_BUILD       the build to test (default: <repo>/$BUILD if BUILD is set,
#                      as by 'make BUILD=dir bench', else <repo>/build)
#
# Prints the versions of every program, progress, then Markdown tables; writes
# results/<stamp>-<mode>.{csv,json,md}. Exits 1 if any measurement failed
# (the others are still reported).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
MODE=${1:-full}
case $MODE in
quick)
	: "${BENCH_SECONDS:=1}" "${BENCH_RUNS:=1}" "${BENCH_IDLE_CONNS:=200}"
	: "${BENCH_LAT_ROUNDS:=2000}"
	;;
full)
	: "${BENCH_SECONDS:=4}" "${BENCH_RUNS:=3}" "${BENCH_IDLE_CONNS:=5000}"
	: "${BENCH_LAT_ROUNDS:=20000}"
	;;
*)
	echo "usage: $0 [quick|full]" >&2
	exit 2
	;;
esac
: "${BENCH_WRK_CONNS:=32}" "${BENCH_WRK_THREADS:=2}" "${BENCH_IDLE_WINDOW:=8}"
: "${BENCH_FORWARDERS:=direct portfwd haproxy nginx socat rinetd redir}"
: "${BENCH_CPUS:=}" "${BENCH_LOAD_CPUS:=}" "${BENCH_PORTFWD_ARGS:=}"
: "${BENCH_NOFILE:=65536}" "${BENCH_NO_INSTALL:=0}" "${BENCH_KEEP:=0}"
: "${BENCH_RESULTS:=$BENCH_DIR/results}"
# 'make BUILD=dir bench' exports BUILD (a command-line variable) to us.
if [[ -z ${PORTFW_BUILD-} && -n ${BUILD-} ]]; then
	case $BUILD in
	/*) PORTFW_BUILD=$BUILD ;;
	*) PORTFW_BUILD=$REPO/$BUILD ;;
	esac
fi
: "${PORTFW_BUILD:=$REPO/build}"
PORTFWD=$PORTFW_BUILD/portfwd
TOOLS_BIN=$PORTFW_BUILD/bench
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

# Every forwarder known to the script, in a fixed order (its index picks its
# ports). A new one needs: an entry here, a case in fwd_start, a config in
# peers/, and a line in print_versions.
ALL_FWDS=(direct portfwd haproxy nginx socat rinetd redir)

# Backends, in the namespace: iperf3 (bulk), nginx http (connection rate),
# pf_idle server (echo: latency and idle connections).
IPERF_BACK=5201
HTTP_BACK=8080
ECHO_BACK=7007
# Ephemeral ports in the namespace start above every port used here.
EPHEMERAL="20000 64999"

die() {
	echo "bench: $*" >&2
	exit 1
}

say() {
	echo "$*"
}

for v in BENCH_SECONDS BENCH_RUNS BENCH_IDLE_CONNS BENCH_IDLE_WINDOW BENCH_LAT_ROUNDS \
	BENCH_WRK_CONNS BENCH_WRK_THREADS BENCH_NOFILE; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v='${!v}': expected a positive integer"
done
for f in $BENCH_FORWARDERS; do
	[[ " ${ALL_FWDS[*]} " == *" $f "* ]] || die "BENCH_FORWARDERS: unknown '$f' (known: ${ALL_FWDS[*]})"
done
[[ $(id -u) == 0 ]] || die "needs root (network namespace)"
[[ -x $PORTFWD ]] || die "$PORTFWD is missing: build it first (make BUILD=... all), or set PORTFW_BUILD"

T_START=$EPOCHREALTIME

# ---- peers ----

if [[ $BENCH_NO_INSTALL != 1 ]]; then
	"$REPO/scripts/deps.sh" bench || die "scripts/deps.sh bench failed"
fi
for b in ip iperf3 wrk nginx haproxy socat rinetd redir curl taskset cc "$PY"; do
	command -v "$b" >/dev/null || die "$b not found (scripts/deps.sh bench installs the peers)"
done
[[ -e /usr/lib/nginx/modules/ngx_stream_module.so ]] ||
	die "nginx stream module missing (Debian package libnginx-mod-stream)"

mkdir -p "$TOOLS_BIN"
for t in pf_idle pf_lat pf_reap; do
	if [[ ! -x $TOOLS_BIN/$t || $BENCH_DIR/tools/$t.c -nt $TOOLS_BIN/$t ]]; then
		cc -O2 -g -std=gnu17 -Wall -Wextra -D_GNU_SOURCE -o "$TOOLS_BIN/$t" \
			"$BENCH_DIR/tools/$t.c" || die "building $t failed"
	fi
done
PF_IDLE=$TOOLS_BIN/pf_idle
PF_LAT=$TOOLS_BIN/pf_lat
PF_REAP=$TOOLS_BIN/pf_reap
PSTAT=$BENCH_DIR/tools/pf_pstat.py

# Descriptors: 5,000 idle connections are 10,000 sockets in the forwarder and
# 5,000 each in the client and the echo server. Without CAP_SYS_RESOURCE the
# hard limit caps what we get.
ulimit -n "$BENCH_NOFILE" 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
NOFILE=$(ulimit -n)
# haproxy wants about 2.5 descriptors per maxconn (two sockets, splice pipes).
MAXCONN=$(((NOFILE - 500) * 2 / 5))
WORKER_CONNS=$((NOFILE - 100))
IDLE_CONNS=$BENCH_IDLE_CONNS
if ((IDLE_CONNS + 100 > MAXCONN)); then
	IDLE_CONNS=$((MAXCONN - 100))
	say "!! descriptor limit $NOFILE: holding $IDLE_CONNS idle connections, not $BENCH_IDLE_CONNS"
fi

# ---- the namespace and cleanup ----

NS=pfbench-$$
W=$(mktemp -d /tmp/pfbench.XXXXXX)
# nginx's workers run as www-data: they read www/ under it.
chmod 755 "$W"
NS_MADE=0

cleanup() {
	local rc=$? pids
	set +e
	trap - EXIT INT TERM
	{
		if ((NS_MADE)); then
			pids=$(ip netns pids "$NS" 2>/dev/null)
			# shellcheck disable=SC2086
			[[ -n $pids ]] && kill -KILL $pids
		fi
		pids=$(jobs -p)
		# shellcheck disable=SC2086
		[[ -n $pids ]] && kill -KILL $pids
		wait
	} 2>/dev/null
	((NS_MADE)) && ip netns del "$NS" 2>/dev/null
	if [[ $BENCH_KEEP == 1 ]]; then
		echo "bench: kept $W" >&2
	else
		rm -rf "$W"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A namespace left by a run that was killed hard (pfbench-PID, PID gone).
for old in $(ip netns list 2>/dev/null | awk '$1 ~ /^pfbench-[0-9]+$/ { print $1 }'); do
	if ! kill -0 "${old#pfbench-}" 2>/dev/null; then
		pids=$(ip netns pids "$old" 2>/dev/null || true)
		# shellcheck disable=SC2086
		[[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
		ip netns del "$old" 2>/dev/null && say "(removed stale namespace $old)"
	fi
done

ip netns add "$NS" || die "ip netns add $NS failed"
NS_MADE=1
ip -n "$NS" link set lo up
# Per-namespace settings only: the host's are untouched.
ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="$EPHEMERAL" \
	net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096 >/dev/null ||
	die "sysctl in $NS failed"

# nsx CMD...: CMD in the namespace. In the background, a function is a
# subshell of its own, so $! would not be CMD: background jobs call
# 'ip netns exec' (which execs CMD) directly.
nsx() {
	ip netns exec "$NS" "$@"
}

PIN_FWD=()
PIN_LOAD=()
[[ -n $BENCH_CPUS ]] && PIN_FWD=(taskset -c "$BENCH_CPUS")
[[ -n $BENCH_LOAD_CPUS ]] && PIN_LOAD=(taskset -c "$BENCH_LOAD_CPUS")

# load SECONDS CMD...: a load generator or probe, in the namespace, killed
# after SECONDS.
load() {
	local secs=$1
	shift
	nsx timeout -k 3 "$secs" "${PIN_LOAD[@]}" "$@"
}

now_ms() {
	local t=${EPOCHREALTIME//[.,]/}
	echo $((t / 1000))
}

listening() {
	nsx ss -Hltn "sport = :$1" 2>/dev/null | grep -q LISTEN
}

# wait_listen SECONDS PID... -- PORT...: every PORT listens, every PID alive.
wait_listen() {
	local end=$(($(now_ms) + $1 * 1000)) pids=() p port
	shift
	while [[ $1 != -- ]]; do
		pids+=("$1")
		shift
	done
	shift
	for port in "$@"; do
		until listening "$port"; do
			for p in "${pids[@]}"; do
				kill -0 "$p" 2>/dev/null || return 1
			done
			(($(now_ms) < end)) || return 1
			sleep 0.05
		done
	done
}

# tree_pids PID...: the processes and all their descendants.
tree_pids() {
	ps -e -o pid=,ppid= | awk -v roots="$*" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
		{ par[$1] = $2 }
		END {
			do {
				more = 0
				for (p in par) if (!(p in keep) && (par[p] in keep)) { keep[p] = 1; more = 1 }
			} while (more)
			for (p in keep) print p
		}'
}

# ---- versions ----

print_versions() {
	{
		echo "portfwd	$("$PORTFWD" -V 2>&1 | head -1 || true) ($PORTFWD)"
		echo "haproxy	$(haproxy -v 2>&1 | head -1 || true)"
		echo "nginx	$(nginx -v 2>&1 | head -1 || true)"
		echo "socat	$(socat -V 2>&1 | grep -m1 'socat version' || true)"
		echo "rinetd	$(rinetd --version 2>&1 | head -1 || true)"
		echo "redir	redir $(redir --version 2>&1 | head -1 || true)"
		echo "iperf3	$(iperf3 --version 2>&1 | head -1 || true)"
		echo "wrk	$(wrk -v 2>&1 | head -1 || true)"
		echo "kernel	$(uname -sr)"
		echo "cpus	$(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true))"
		echo "cc	$(cc --version 2>&1 | head -1 || true)"
	} >"$W/versions.tsv"
	say "## Versions"
	say
	awk -F'\t' '{ printf "- %s: %s\n", $1, $2 }' "$W/versions.tsv"
	say
}

# ---- backends ----

iperf_start() {
	ip netns exec "$NS" "${PIN_LOAD[@]}" iperf3 -s -B 127.0.0.1 -p "$IPERF_BACK" >>"$W/iperf3-server.log" 2>&1 &
	IPERF_PID=$!
	wait_listen 10 "$IPERF_PID" -- "$IPERF_BACK" || die "iperf3 server did not start: $(tail -5 "$W/iperf3-server.log")"
}

iperf_restart() {
	kill -KILL "$IPERF_PID" 2>/dev/null || true
	wait "$IPERF_PID" 2>/dev/null || true
	iperf_start
}

http_start() {
	ip netns exec "$NS" "${PIN_LOAD[@]}" nginx -p "$W/" -c "$W/nginx-http.conf" -e "$W/nginx-http.error.log" \
		>>"$W/nginx-http.log" 2>&1 &
	HTTP_PID=$!
	wait_listen 10 "$HTTP_PID" -- "$HTTP_BACK" || die "nginx (http backend) did not start: $(tail -5 "$W/nginx-http.error.log" "$W/nginx-http.log")"
}

echo_start() {
	ip netns exec "$NS" "${PIN_LOAD[@]}" "$PF_IDLE" server -l "127.0.0.1:$ECHO_BACK" >>"$W/echo-server.log" 2>&1 &
	ECHO_PID=$!
	wait_listen 10 "$ECHO_PID" -- "$ECHO_BACK" || die "echo server did not start: $(tail -5 "$W/echo-server.log")"
}

# render TEMPLATE OUT: a peers/ file with its @PLACEHOLDERS@ filled in.
render() {
	sed -e "s|@DIR@|$W|g" -e "s|@NOFILE@|$NOFILE|g" -e "s|@MAXCONN@|$MAXCONN|g" \
		-e "s|@WORKER_CONNS@|$WORKER_CONNS|g" \
		-e "s|@IPERF_FRONT@|$IPERF_FRONT|g" -e "s|@IPERF_BACK@|$IPERF_BACK|g" \
		-e "s|@HTTP_FRONT@|$HTTP_FRONT|g" -e "s|@HTTP_BACK@|$HTTP_BACK|g" \
		-e "s|@ECHO_FRONT@|$ECHO_FRONT|g" -e "s|@ECHO_BACK@|$ECHO_BACK|g" \
		"$BENCH_DIR/peers/$1" >"$2"
}

backends_start() {
	mkdir -p "$W/www" "$W/tmp"
	# The 100-byte file of the connection-rate tests.
	printf '%099d\n' 0 >"$W/www/100b"
	IPERF_FRONT=0 HTTP_FRONT=0 ECHO_FRONT=0
	render nginx-http.conf "$W/nginx-http.conf"
	http_start
	echo_start
	iperf_start
}

# backends_check: restarts a backend that is gone (on a shared machine,
# something may kill processes by name).
backends_check() {
	local pids
	if ! kill -0 "$HTTP_PID" 2>/dev/null || ! listening "$HTTP_BACK"; then
		say "   (nginx http backend gone: restarting it)"
		pids=$(tree_pids "$HTTP_PID")
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		wait "$HTTP_PID" 2>/dev/null || true
		http_start
	fi
	if ! kill -0 "$ECHO_PID" 2>/dev/null || ! listening "$ECHO_BACK"; then
		say "   (echo server gone: restarting it)"
		kill -KILL "$ECHO_PID" 2>/dev/null || true
		wait "$ECHO_PID" 2>/dev/null || true
		echo_start
	fi
	if ! kill -0 "$IPERF_PID" 2>/dev/null || ! listening "$IPERF_BACK"; then
		say "   (iperf3 server gone: restarting it)"
		iperf_restart
	fi
}

# ---- forwarders ----

# fwd_ports NAME RUN: the ports NAME listens on in run RUN (fresh ones each
# time, so nothing left of a previous instance is in the way).
fwd_ports() {
	local i idx=-1
	for i in "${!ALL_FWDS[@]}"; do
		[[ ${ALL_FWDS[$i]} == "$1" ]] && idx=$i
	done
	if [[ $1 == direct ]]; then
		IPERF_FRONT=$IPERF_BACK HTTP_FRONT=$HTTP_BACK ECHO_FRONT=$ECHO_BACK
		return
	fi
	local base=$((10000 + ($2 % 90) * 100 + idx * 10))
	IPERF_FRONT=$((base + 1)) HTTP_FRONT=$((base + 2)) ECHO_FRONT=$((base + 3))
}

FWD_PIDS=()

# fwd_spawn LOG CMD...: one forwarder process in the namespace (pinned if
# BENCH_CPUS), under pf_reap, a child subreaper: whatever processes it forks,
# detached or not, stay in pf_reap's tree, which pf_pstat adds up ('ip netns
# exec' and taskset exec, so $! is pf_reap).
fwd_spawn() {
	local log=$1
	shift
	ip netns exec "$NS" "${PIN_FWD[@]}" "$PF_REAP" "$@" >>"$log" 2>&1 &
	FWD_PIDS+=($!)
}

# fwd_start NAME: starts NAME in front of the backends (ports from
# fwd_ports); returns 1 if it did not come up.
fwd_start() {
	local name=$1 line args
	FWD_PIDS=()
	FWD_LOG=$W/$name.log
	case $name in
	direct) return 0 ;;
	portfwd)
		render portfwd.conf "$W/portfwd.conf"
		# shellcheck disable=SC2086
		fwd_spawn "$FWD_LOG" "$PORTFWD" -c "$W/portfwd.conf" -s "$W/portfwd.sock" $BENCH_PORTFWD_ARGS
		;;
	haproxy)
		render haproxy.cfg "$W/haproxy.cfg"
		fwd_spawn "$FWD_LOG" haproxy -db -f "$W/haproxy.cfg"
		;;
	nginx)
		render nginx-stream.conf "$W/nginx-stream.conf"
		fwd_spawn "$FWD_LOG" nginx -p "$W/" -c "$W/nginx-stream.conf" -e "$W/nginx-stream.error.log"
		;;
	rinetd)
		render rinetd.conf "$W/rinetd.conf"
		fwd_spawn "$FWD_LOG" rinetd -f -c "$W/rinetd.conf"
		;;
	socat | redir)
		render "$name.args" "$W/$name.args"
		while read -r line; do
			[[ -z $line || $line == \#* ]] && continue
			read -ra args <<<"$line"
			fwd_spawn "$FWD_LOG" "$name" "${args[@]}"
		done <"$W/$name.args"
		;;
	*) return 1 ;;
	esac
	wait_listen 10 "${FWD_PIDS[@]}" -- "$IPERF_FRONT" "$HTTP_FRONT" "$ECHO_FRONT"
}

fwd_stop() {
	local pids p end
	((${#FWD_PIDS[@]})) || return 0
	pids=$(tree_pids "${FWD_PIDS[@]}")
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	end=$(($(now_ms) + 5000))
	for p in $pids; do
		while kill -0 "$p" 2>/dev/null && (($(now_ms) < end)); do
			sleep 0.05
		done
	done
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	wait "${FWD_PIDS[@]}" 2>/dev/null || true
	FWD_PIDS=()
}

# fwd_alive: the forwarder still runs (each pf_reap still has its child) and
# listens on its ports.
fwd_alive() {
	local p
	((${#FWD_PIDS[@]})) || return 0
	for p in "${FWD_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || return 1
		[[ -n $(ps -o pid= --ppid "$p") ]] || return 1
	done
	listening "$IPERF_FRONT" && listening "$HTTP_FRONT" && listening "$ECHO_FRONT"
}

# pstat: resource totals of the forwarder's processes, in PS_* variables.
PS_procs=0 PS_threads=0 PS_rss_kb=0 PS_pss_kb=0 PS_fds=0 PS_cpu_ticks=0 PS_clk_tck=100
pstat() {
	local out kv i
	out=$("$PY" "$PSTAT" "${FWD_PIDS[@]}") || return 1
	read -ra kv <<<"$out"
	for ((i = 0; i + 1 < ${#kv[@]}; i += 2)); do
		printf -v "PS_${kv[i]}" '%s' "${kv[i + 1]}"
	done
}

# ---- results ----

CSV=$W/samples.csv
FAILS=$W/failures.txt
PENDING=$W/pending.csv
PENDING_FAILS=$W/pending-failures.txt
NOTES=$W/notes.txt
echo "run,forwarder,metric,value" >"$CSV"
: >"$FAILS"
: >"$NOTES"
: >"$PENDING"
: >"$PENDING_FAILS"

# Samples and failures of a measurement are pending until the forwarder is
# known to have lived through it (commit), else dropped (discard).

# record FWD METRIC VALUE: one sample of the current run.
record() {
	echo "$RUN,$1,$2,$3" >>"$PENDING"
}

fail_note() {
	echo "run $RUN: $*" >>"$PENDING_FAILS"
	say "   !! $*"
}

commit() {
	cat "$PENDING" >>"$CSV"
	cat "$PENDING_FAILS" >>"$FAILS"
	: >"$PENDING"
	: >"$PENDING_FAILS"
}

discard() {
	: >"$PENDING"
	: >"$PENDING_FAILS"
}

# calc EXPR: floating-point arithmetic.
calc() {
	awk "BEGIN { printf \"%.6g\", $1 }"
}

# ---- measurements ----
#
# Each measure_X FWD takes the forwarder already started (fwd_start) and
# records its samples; it returns 1 (after fail_note) when it could not
# measure. The per-run list is MEASURES; a UDP section would add its own
# measure_udp_* functions, backends and peer config lines, and skip the
# forwarders without UDP (haproxy, redir) the way measure_idle skips direct.
MEASURES=(lat idle bulk1 bulk4 cps rps)
SUMMARY=""

# Latency: pf_lat over one connection to the echo server.
measure_lat() {
	local out
	out=$(load 60 "$PF_LAT" -c "127.0.0.1:$ECHO_FRONT" -n "$BENCH_LAT_ROUNDS" -s 64 -t 30 \
		2>"$W/lat.err") || {
		fail_note "$1: pf_lat failed: $(head -3 "$W/lat.err")"
		return 1
	}
	local fwd=$1 kv
	read -ra kv <<<"$out"
	set -- "${kv[@]}"
	while (($# >= 2)); do
		case $1 in
		p50_us | p99_us | p999_us | mean_us) record "$fwd" "lat_$1" "$2" ;;
		esac
		[[ $1 == p50_us ]] && SUMMARY+=" lat p50 ${2}us"
		[[ $1 == p99_us ]] && SUMMARY+=" p99 ${2}us;"
		shift 2
	done
}

# Memory and descriptors per idle connection: the forwarder's totals before
# and while pf_idle holds IDLE_CONNS proven-alive connections through it.
measure_idle() {
	local fwd=$1 n=$IDLE_CONNS out=$W/idle.out pid end rc=0
	[[ $fwd == direct ]] && return 0
	# Warm-up: whatever a forwarder sets up on its first connections is not
	# per connection.
	load 30 "$PF_IDLE" client -c "127.0.0.1:$ECHO_FRONT" -n 16 -w "$BENCH_IDLE_WINDOW" -H 0 -t 20 >/dev/null 2>"$W/idle.err" || {
		fail_note "$fwd: idle warm-up failed: $(head -3 "$W/idle.err")"
		return 1
	}
	sleep 0.5
	pstat || return 1
	local rss0=$PS_rss_kb pss0=$PS_pss_kb fds0=$PS_fds
	# A small connect window: redir listens with a backlog of 10, and
	# overflowing it stalls handshakes for seconds.
	ip netns exec "$NS" timeout -k 3 180 "${PIN_LOAD[@]}" "$PF_IDLE" client \
		-c "127.0.0.1:$ECHO_FRONT" -n "$n" -w "$BENCH_IDLE_WINDOW" -H 150 -t 60 \
		>"$out" 2>"$W/idle.err" &
	pid=$!
	end=$(($(now_ms) + 70000))
	until grep -qs '^alive' "$out"; do
		if ! kill -0 "$pid" 2>/dev/null || (($(now_ms) > end)); then
			kill -TERM "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			fail_note "$fwd: $n idle connections did not come up: $(head -3 "$W/idle.err")"
			return 1
		fi
		sleep 0.1
	done
	# Let lazy work (timers, deferred frees) settle before reading.
	sleep 1
	pstat || return 1
	local rss1=$PS_rss_kb pss1=$PS_pss_kb fds1=$PS_fds procs1=$PS_procs threads1=$PS_threads
	# The client checks every connection again (one more echo each), exits.
	kill -USR1 "$(awk '/^alive/ { print $4 }' "$out")" 2>/dev/null
	wait "$pid" || rc=$?
	if [[ $rc != 0 ]] || ! grep -qs '^verified' "$out"; then
		fail_note "$fwd: idle connections did not survive the hold (rc $rc): $(head -3 "$W/idle.err")"
		return 1
	fi
	record "$fwd" idle_rss_kb "$(calc "($rss1 - $rss0) / $n")"
	record "$fwd" idle_pss_kb "$(calc "($pss1 - $pss0) / $n")"
	record "$fwd" idle_fds "$(calc "($fds1 - $fds0) / $n")"
	# Less the pf_reap wrappers.
	record "$fwd" idle_procs "$((procs1 - ${#FWD_PIDS[@]}))"
	record "$fwd" idle_threads "$((threads1 - ${#FWD_PIDS[@]}))"
	SUMMARY+=" idle $(calc "($pss1 - $pss0) / $n") KiB $(calc "($fds1 - $fds0) / $n") fd/conn;"
}

# Bulk: iperf3 -P STREAMS for BENCH_SECONDS; the forwarder's CPU per GiB.
bulk() {
	local fwd=$1 streams=$2 key=bulk$2 json=$W/iperf-$1-$2.json try c0=0 c1=0 out
	for try in 1 2; do
		[[ $fwd != direct ]] && { pstat || return 1; } && c0=$PS_cpu_ticks
		if load $((BENCH_SECONDS + 30)) iperf3 -c 127.0.0.1 -p "$IPERF_FRONT" -t "$BENCH_SECONDS" \
			-P "$streams" -J >"$json" 2>"$W/iperf.err"; then
			break
		fi
		# A failed test can leave the server stuck ("busy"): restart, retry once.
		if [[ $try == 2 ]]; then
			fail_note "$fwd: iperf3 -P $streams failed: $(grep -m1 '"error"' "$json" || head -2 "$W/iperf.err")"
			return 1
		fi
		iperf_restart
	done
	[[ $fwd != direct ]] && { pstat || return 1; } && c1=$PS_cpu_ticks
	out=$("$PY" -c '
import json, sys
e = json.load(open(sys.argv[1]))["end"]
r = e["sum_received"]
print(r["bits_per_second"], r["bytes"])' "$json") || {
		fail_note "$fwd: iperf3 -P $streams: unreadable output"
		return 1
	}
	local -a res
	read -ra res <<<"$out"
	set -- "${res[@]}"
	record "$fwd" "${key}_gbps" "$(calc "$1 / 1e9")"
	SUMMARY+=" $key $(calc "$1 / 1e9") Gbit/s"
	if [[ $fwd != direct ]]; then
		record "$fwd" "${key}_cpu_s_per_gib" "$(calc "($c1 - $c0) / $PS_clk_tck / ($2 / 1073741824)")"
		SUMMARY+=" ($(calc "($c1 - $c0) / $PS_clk_tck / ($2 / 1073741824)") CPU s/GiB)"
	fi
	SUMMARY+=";"
}
measure_bulk1() { bulk "$1" 1; }
measure_bulk4() { bulk "$1" 4; }

# HTTP through to the nginx backend: wrk, one request per connection
# (Connection: close) or keep-alive; the forwarder's CPU per 10,000.
http() {
	local fwd=$1 kind=$2 out=$W/wrk-$1-$2.txt c0=0 c1=0 hdr=() reqs rate errs non2xx
	[[ $kind == cps ]] && hdr=(-H "Connection: close")
	[[ $fwd != direct ]] && { pstat || return 1; } && c0=$PS_cpu_ticks
	if ! load $((BENCH_SECONDS + 30)) wrk -t "$BENCH_WRK_THREADS" -c "$BENCH_WRK_CONNS" \
		-d "${BENCH_SECONDS}s" "${hdr[@]}" "http://127.0.0.1:$HTTP_FRONT/100b" >"$out" 2>&1; then
		fail_note "$fwd: wrk ($kind) failed: $(tail -3 "$out")"
		return 1
	fi
	[[ $fwd != direct ]] && { pstat || return 1; } && c1=$PS_cpu_ticks
	reqs=$(awk '/requests in/ { print $1 }' "$out")
	rate=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	errs=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")
	non2xx=$(awk '/Non-2xx/ { print $NF }' "$out")
	if [[ -z $reqs || -z $rate || $reqs == 0 ]]; then
		fail_note "$fwd: wrk ($kind): no requests completed: $(tail -3 "$out")"
		return 1
	fi
	record "$fwd" "$kind" "$rate"
	record "$fwd" "${kind}_errors" "$((${errs:-0} + ${non2xx:-0}))"
	SUMMARY+=" $kind $rate/s"
	if ((${errs:-0} + ${non2xx:-0} > 0)); then
		SUMMARY+=" (${errs:-0} socket errors, ${non2xx:-0} non-2xx)"
	fi
	if [[ $fwd != direct ]]; then
		if [[ $kind == cps ]]; then
			record "$fwd" cps_cpu_s_per_10k "$(calc "($c1 - $c0) / $PS_clk_tck / ($reqs / 10000)")"
			SUMMARY+=" ($(calc "($c1 - $c0) / $PS_clk_tck / ($reqs / 10000)") CPU s/10k)"
		else
			record "$fwd" rps_cpu_s_per_100k "$(calc "($c1 - $c0) / $PS_clk_tck / ($reqs / 100000)")"
		fi
	fi
	SUMMARY+=";"
}
measure_cps() { http "$1" cps; }
measure_rps() { http "$1" rps; }

# sanity: one HTTP request through the forwarder returns the 100 bytes.
sanity() {
	local got
	got=$(load 10 curl -sS --max-time 5 "http://127.0.0.1:$HTTP_FRONT/100b" 2>&1) || true
	[[ $got == "$(cat "$W/www/100b")" ]]
}

# Tries at starting a forwarder, and at each measurement.
TRIES=3

# fwd_start_retry NAME: fwd_start, and one HTTP request through it; tried
# again if that failed (on a shared machine, something may kill processes by
# name).
fwd_start_retry() {
	local try
	for ((try = 1; try <= TRIES; try++)); do
		if fwd_start "$1"; then
			sanity && return 0
			say "   !! an HTTP request through $1 did not return the file (try $try)"
		else
			say "   !! $1 did not start (try $try): $(tail -2 "$FWD_LOG" 2>/dev/null | tr '\n' ' ')"
		fi
		fwd_stop
		backends_check
		if ((try < TRIES)); then
			echo "run $RUN: $1 did not come up (killed from outside?); started it again" >>"$NOTES"
		fi
	done
	return 1
}

# run_measure FWD M: measure_M, kept only if FWD lived through it; if it did
# not, measured again on a fresh instance (TRIES in all). Returns 1 if FWD
# cannot be brought back.
run_measure() {
	local fwd=$1 m=$2 try saved=$SUMMARY
	for ((try = 1; try <= TRIES; try++)); do
		discard
		SUMMARY=$saved
		"measure_$m" "$fwd" || true
		if fwd_alive; then
			commit
			return 0
		fi
		discard
		say "   !! $fwd exited during '$m' ($(tail -2 "$FWD_LOG" 2>/dev/null | tr '\n' ' '))"
		fwd_stop
		backends_check
		((try < TRIES)) || break
		fwd_start_retry "$fwd" || break
		say "   (samples dropped; '$m' again on a fresh $fwd)"
		echo "run $RUN: $fwd exited during '$m' (killed from outside?); measured again on a fresh instance" >>"$NOTES"
	done
	SUMMARY=$saved" $m FAILED;"
	fail_note "$fwd exited during '$m' $TRIES times, or could not be restarted"
	commit
	return 1
}

# ---- main ----

say "# portfw benchmark ($MODE)"
say
say "bench: mode $MODE, $BENCH_RUNS run(s), ${BENCH_SECONDS}s per load test, $IDLE_CONNS idle conns," \
	"$BENCH_LAT_ROUNDS latency rounds, wrk -t$BENCH_WRK_THREADS -c$BENCH_WRK_CONNS," \
	"nofile $NOFILE, forwarder CPUs ${BENCH_CPUS:-any}, load CPUs ${BENCH_LOAD_CPUS:-any}, namespace $NS"
say
print_versions
backends_start

read -ra FWDS <<<"$BENCH_FORWARDERS"
for ((RUN = 1; RUN <= BENCH_RUNS; RUN++)); do
	# Every run goes through all forwarders in turn, so a burst of load
	# from elsewhere on the machine hits one sample of each, not all
	# samples of one.
	for fwd in "${FWDS[@]}"; do
		fwd_ports "$fwd" "$RUN"
		t0=$(now_ms)
		backends_check
		if ! fwd_start_retry "$fwd"; then
			fail_note "$fwd did not start, or did not relay ($TRIES tries): $(tail -5 "$FWD_LOG" 2>/dev/null | tr '\n' ' ')"
			commit
			fwd_stop
			continue
		fi
		SUMMARY=""
		for m in "${MEASURES[@]}"; do
			run_measure "$fwd" "$m" || break
		done
		fwd_stop
		say "[run $RUN/$BENCH_RUNS] $fwd ($(($(now_ms) - t0)) ms):$SUMMARY"
	done
done

# ---- report ----

mkdir -p "$BENCH_RESULTS"
STAMP=$(date +%Y%m%d-%H%M%S)
OUTB=$BENCH_RESULTS/$STAMP-$MODE
cp "$CSV" "$OUTB.csv"
ELAPSED=$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
say
"$PY" "$BENCH_DIR/tools/pf_report.py" --csv "$CSV" --versions "$W/versions.tsv" \
	--failures "$FAILS" --notes "$NOTES" --json "$OUTB.json" --md "$OUTB.md" \
	--setting mode="$MODE" --setting runs="$BENCH_RUNS" --setting seconds="$BENCH_SECONDS" \
	--setting idle_conns="$IDLE_CONNS" --setting lat_rounds="$BENCH_LAT_ROUNDS" \
	--setting wrk_conns="$BENCH_WRK_CONNS" --setting wrk_threads="$BENCH_WRK_THREADS" \
	--setting cpus="${BENCH_CPUS:-any}" --setting load_cpus="${BENCH_LOAD_CPUS:-any}" \
	--setting portfwd_args="$BENCH_PORTFWD_ARGS" --setting nofile="$NOFILE" \
	--setting elapsed_s="$ELAPSED" --setting forwarders="$BENCH_FORWARDERS"
say
say "bench: results in $OUTB.{md,json,csv} (${ELAPSED}s)"
if [[ -s $FAILS ]]; then
	say "bench: $(wc -l <"$FAILS") measurement(s) failed:"
	sed 's/^/  /' "$FAILS"
	exit 1
fi
