#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The benchmark: portfwd against other TCP forwarders (haproxy, nginx stream,
# socat, rinetd, redir) and against no forwarder at all ("direct"), in a
# network namespace of its own; then UDP (portfwd, nginx stream, socat,
# rinetd, direct), the cost of portfwd's schedulers and of proxy-protocol
# v2, and of its status server scraped every second. See bench/README.md.
#
#   bench/run.sh [quick|full]        (root; 'make bench BENCH_MODE=quick')
#
# Settings (environment; the defaults depend on the mode, quick / full):
#   BENCH_ONLY         sections to run: tcp, udp, sched, status (default all
#                      four), e.g. BENCH_ONLY=udp,sched
#   BENCH_SECONDS      length of each iperf3, wrk and UDP measurement (1 / 4)
#   BENCH_RUNS         repetitions of every figure, each run in another order
#                      of the forwarders; the table shows medians (1 / 5)
#   BENCH_WARMUP       seconds of untimed wrk through each TCP forwarder
#                      before it is measured (1)
#   BENCH_IDLE_CONNS   connections held open for the memory figure (200 / 5000)
#   BENCH_LAT_ROUNDS   ping-pongs of the latency figure (2000 / 20000)
#   BENCH_IDLE_WINDOW  how many of those may be connecting at once (8)
#   BENCH_WRK_CONNS    concurrent wrk connections (32)
#   BENCH_WRK_THREADS  wrk threads (2)
#   BENCH_FORWARDERS   which to run, in order (direct portfwd haproxy nginx socat rinetd redir)
#   BENCH_CPUS         taskset CPU list for the forwarders (default: no pinning)
#   BENCH_LOAD_CPUS    taskset CPU list for backends and load generators (default: none)
#   BENCH_PORTFWD_ARGS extra portfwd options, e.g. "-w 1" or "-m copy"
#   BENCH_UDP_FORWARDERS  UDP section's forwarders (direct portfwd nginx socat rinetd)
#   BENCH_UDP_CPU      the one CPU of the sequential UDP test (0)
#   BENCH_UDP_CLIENTS  clients of the many-client UDP test (64)
#   BENCH_UDP_WINDOW   requests each of them keeps in flight (1)
#   BENCH_UDP_THREADS  threads of that client (1)
#   BENCH_UDP_SIZE     datagram size, bytes (64)
#   BENCH_UDP_TIMEOUT_MS  a reply not back by then is lost (200)
#   BENCH_UDP_WARMUP   untimed seconds before each UDP measurement (0.5 / 1)
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
# shellcheck source=bench/common.sh
. "$BENCH_DIR/common.sh"
MODE=${1:-full}
case $MODE in
quick)
	: "${BENCH_SECONDS:=1}" "${BENCH_RUNS:=1}" "${BENCH_IDLE_CONNS:=200}"
	: "${BENCH_LAT_ROUNDS:=2000}" "${BENCH_UDP_WARMUP:=0.5}"
	;;
full)
	: "${BENCH_SECONDS:=4}" "${BENCH_RUNS:=5}" "${BENCH_IDLE_CONNS:=5000}"
	: "${BENCH_LAT_ROUNDS:=20000}" "${BENCH_UDP_WARMUP:=1}"
	;;
*)
	echo "usage: $0 [quick|full]" >&2
	exit 2
	;;
esac
: "${BENCH_WRK_CONNS:=32}" "${BENCH_WRK_THREADS:=2}" "${BENCH_IDLE_WINDOW:=8}" "${BENCH_WARMUP:=1}"
: "${BENCH_FORWARDERS:=direct portfwd haproxy nginx socat rinetd redir}"
: "${BENCH_CPUS:=}" "${BENCH_LOAD_CPUS:=}" "${BENCH_PORTFWD_ARGS:=}"
: "${BENCH_NOFILE:=65536}" "${BENCH_NO_INSTALL:=0}" "${BENCH_KEEP:=0}"
: "${BENCH_RESULTS:=$BENCH_DIR/results}"
: "${BENCH_ONLY:=tcp udp sched status}"
: "${BENCH_UDP_FORWARDERS:=direct portfwd nginx socat rinetd}"
: "${BENCH_UDP_CPU:=0}" "${BENCH_UDP_CLIENTS:=64}" "${BENCH_UDP_WINDOW:=1}"
: "${BENCH_UDP_THREADS:=1}" "${BENCH_UDP_SIZE:=64}" "${BENCH_UDP_TIMEOUT_MS:=200}"
BENCH_ONLY=${BENCH_ONLY//,/ }
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
# Those of the UDP section (haproxy 2.6 and redir do not forward UDP).
UDP_FWDS=(direct portfwd nginx socat rinetd)
# The scheduler section's portfwd forwards: one backend, the same with
# proxy-protocol v2, four with wrr, four with leastconn (the rows of its
# table).
SCHED_CONFS=(portfwd/1 portfwd/proxy2 portfwd/wrr4 portfwd/leastconn4)

# Backends, in the namespace: iperf3 (bulk), nginx http (connection rate),
# pf_idle server (echo: latency and idle connections).
IPERF_BACK=5201
HTTP_BACK=8080
ECHO_BACK=7007
# The same nginx on four more ports: the scheduler section's four backends.
HTTP_BACK1=8081 HTTP_BACK2=8082 HTTP_BACK3=8083 HTTP_BACK4=8084
# And on one that reads a PROXY header first: behind proxy-protocol v2.
HTTP_BACKPP=8085
# The status section's HTTP server (portfwd's 'status' line).
STATUS_PORT=9190
# UDP echo servers (pf_udp echo): one pinned with the sequential test, one
# for the many-client test.
UDP_RR_BACK=7100
UDP_MANY_BACK=7101
# Ephemeral ports in the namespace start above every port used here.
EPHEMERAL="20000 64999"

for v in BENCH_SECONDS BENCH_RUNS BENCH_IDLE_CONNS BENCH_IDLE_WINDOW BENCH_LAT_ROUNDS \
	BENCH_WRK_CONNS BENCH_WRK_THREADS BENCH_NOFILE BENCH_UDP_CLIENTS BENCH_UDP_WINDOW \
	BENCH_UDP_THREADS BENCH_UDP_SIZE BENCH_UDP_TIMEOUT_MS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v='${!v}': expected a positive integer"
done
[[ $BENCH_WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP='$BENCH_WARMUP': expected whole seconds"
[[ $BENCH_UDP_CPU =~ ^[0-9]+$ ]] || die "BENCH_UDP_CPU='$BENCH_UDP_CPU': expected a CPU number"
[[ $BENCH_UDP_WARMUP =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "BENCH_UDP_WARMUP='$BENCH_UDP_WARMUP': expected seconds"
((BENCH_UDP_SIZE >= 16 && BENCH_UDP_SIZE <= 2048)) || die "BENCH_UDP_SIZE: 16 to 2048 bytes"
((BENCH_UDP_WINDOW <= 64)) || die "BENCH_UDP_WINDOW: at most 64"
((BENCH_UDP_THREADS <= BENCH_UDP_CLIENTS)) || die "BENCH_UDP_THREADS: at most BENCH_UDP_CLIENTS"
for f in $BENCH_FORWARDERS; do
	[[ " ${ALL_FWDS[*]} " == *" $f "* ]] || die "BENCH_FORWARDERS: unknown '$f' (known: ${ALL_FWDS[*]})"
done
for f in $BENCH_UDP_FORWARDERS; do
	[[ " ${UDP_FWDS[*]} " == *" $f "* ]] || die "BENCH_UDP_FORWARDERS: unknown '$f' (known: ${UDP_FWDS[*]})"
done
for s in $BENCH_ONLY; do
	[[ $s == tcp || $s == udp || $s == sched || $s == status ]] ||
		die "BENCH_ONLY: unknown section '$s' (known: tcp udp sched status)"
done
[[ -n $BENCH_ONLY ]] || die "BENCH_ONLY: no section"
# section NAME: NAME is to run.
section() {
	[[ " $BENCH_ONLY " == *" $1 "* ]]
}
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
for t in pf_idle pf_lat pf_reap pf_udp; do
	if [[ ! -x $TOOLS_BIN/$t || $BENCH_DIR/tools/$t.c -nt $TOOLS_BIN/$t ]]; then
		cc -O2 -g -std=gnu17 -Wall -Wextra -D_GNU_SOURCE -pthread -o "$TOOLS_BIN/$t" \
			"$BENCH_DIR/tools/$t.c" || die "building $t failed"
	fi
done
PF_IDLE=$TOOLS_BIN/pf_idle
PF_LAT=$TOOLS_BIN/pf_lat
PF_REAP=$TOOLS_BIN/pf_reap
PF_UDP=$TOOLS_BIN/pf_udp
PORTFW=$PORTFW_BUILD/portfw
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

# listening PORT: a TCP socket listens on PORT; listening u:PORT: a UDP
# socket is bound to PORT.
listening() {
	case $1 in
	u:*) nsx ss -Hlun "sport = :${1#u:}" 2>/dev/null | grep -q . ;;
	*) nsx ss -Hltn "sport = :$1" 2>/dev/null | grep -q LISTEN ;;
	esac
}

# wait_listen SECONDS PID... -- PORT...: every PORT listens (u:PORT: UDP),
# every PID alive.
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

# The UDP echo servers: the sequential test's on BENCH_UDP_CPU (with its
# client and the forwarder), the many-client test's where the load goes.
udp_rr_start() {
	ip netns exec "$NS" taskset -c "$BENCH_UDP_CPU" "$PF_UDP" echo -l "127.0.0.1:$UDP_RR_BACK" \
		>>"$W/udp-echo.log" 2>&1 &
	UDP_RR_PID=$!
	wait_listen 10 "$UDP_RR_PID" -- "u:$UDP_RR_BACK" || die "UDP echo server did not start: $(tail -5 "$W/udp-echo.log")"
}

udp_many_start() {
	ip netns exec "$NS" "${PIN_LOAD[@]}" "$PF_UDP" echo -l "127.0.0.1:$UDP_MANY_BACK" \
		>>"$W/udp-echo.log" 2>&1 &
	UDP_MANY_PID=$!
	wait_listen 10 "$UDP_MANY_PID" -- "u:$UDP_MANY_BACK" || die "UDP echo server did not start: $(tail -5 "$W/udp-echo.log")"
}

# render TEMPLATE OUT: a peers/ file with its @PLACEHOLDERS@ filled in.
render() {
	sed -e "s|@DIR@|$W|g" -e "s|@NOFILE@|$NOFILE|g" -e "s|@MAXCONN@|$MAXCONN|g" \
		-e "s|@WORKER_CONNS@|$WORKER_CONNS|g" -e "s|@FRONT_ADDR@|127.0.0.1|g" -e "s|@BACK_ADDR@|127.0.0.1|g" \
		-e "s|@IPERF_FRONT@|$IPERF_FRONT|g" -e "s|@IPERF_BACK@|$IPERF_BACK|g" \
		-e "s|@HTTP_FRONT@|$HTTP_FRONT|g" -e "s|@HTTP_BACK@|$HTTP_BACK|g" \
		-e "s|@ECHO_FRONT@|$ECHO_FRONT|g" -e "s|@ECHO_BACK@|$ECHO_BACK|g" \
		-e "s|@HTTP_BACK1@|$HTTP_BACK1|g" -e "s|@HTTP_BACK2@|$HTTP_BACK2|g" \
		-e "s|@HTTP_BACK3@|$HTTP_BACK3|g" -e "s|@HTTP_BACK4@|$HTTP_BACK4|g" \
		-e "s|@UDP_RR_FRONT@|$UDP_RR_FRONT|g" -e "s|@UDP_RR_BACK@|$UDP_RR_BACK|g" \
		-e "s|@UDP_MANY_FRONT@|$UDP_MANY_FRONT|g" -e "s|@UDP_MANY_BACK@|$UDP_MANY_BACK|g" \
		-e "s|@SCHED1_FRONT@|$SCHED1_FRONT|g" -e "s|@SCHEDWRR_FRONT@|$SCHEDWRR_FRONT|g" \
		-e "s|@SCHEDLC_FRONT@|$SCHEDLC_FRONT|g" -e "s|@SCHEDPP_FRONT@|$SCHEDPP_FRONT|g" \
		-e "s|@HTTP_BACKPP@|$HTTP_BACKPP|g" -e "s|@STATUS_PORT@|$STATUS_PORT|g" \
		"$BENCH_DIR/peers/$1" >"$2"
}

backends_start() {
	mkdir -p "$W/www" "$W/tmp"
	# The 100-byte file of the connection-rate tests.
	printf '%099d\n' 0 >"$W/www/100b"
	IPERF_FRONT=0 HTTP_FRONT=0 ECHO_FRONT=0 UDP_RR_FRONT=0 UDP_MANY_FRONT=0
	SCHED1_FRONT=0 SCHEDWRR_FRONT=0 SCHEDLC_FRONT=0 SCHEDPP_FRONT=0
	render nginx-http.conf "$W/nginx-http.conf"
	# The HTTP backend serves the TCP and the scheduler sections, and
	# every sanity check.
	http_start
	if section tcp; then
		echo_start
		iperf_start
	fi
	if section udp; then
		udp_rr_start
		udp_many_start
	fi
}

# backends_check: restarts a backend that is gone (on a shared machine,
# something may kill processes by name).
backends_check() {
	local pids
	if ! kill -0 "$HTTP_PID" 2>/dev/null || ! listening "$HTTP_BACK" || ! listening "$HTTP_BACK4" ||
		! listening "$HTTP_BACKPP"; then
		say "   (nginx http backend gone: restarting it)"
		pids=$(tree_pids "$HTTP_PID")
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		wait "$HTTP_PID" 2>/dev/null || true
		http_start
	fi
	if section tcp; then
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
	fi
	if section udp; then
		if ! kill -0 "$UDP_RR_PID" 2>/dev/null || ! listening "u:$UDP_RR_BACK"; then
			say "   (UDP echo server gone: restarting it)"
			kill -KILL "$UDP_RR_PID" 2>/dev/null || true
			wait "$UDP_RR_PID" 2>/dev/null || true
			udp_rr_start
		fi
		if ! kill -0 "$UDP_MANY_PID" 2>/dev/null || ! listening "u:$UDP_MANY_BACK"; then
			say "   (UDP echo server gone: restarting it)"
			kill -KILL "$UDP_MANY_PID" 2>/dev/null || true
			wait "$UDP_MANY_PID" 2>/dev/null || true
			udp_many_start
		fi
	fi
}

# ---- forwarders ----

# fwd_ports NAME RUN: the ports NAME listens on in run RUN (fresh ones each
# time, so nothing left of a previous instance is in the way); FWD_PORTS:
# those of the current SECTION (u:PORT for UDP), which fwd_start waits for and
# fwd_alive checks.
fwd_ports() {
	local i idx=-1
	for i in "${!ALL_FWDS[@]}"; do
		[[ ${ALL_FWDS[$i]} == "$1" ]] && idx=$i
	done
	local base=$((10000 + ($2 % 90) * 100 + idx * 10))
	IPERF_FRONT=$((base + 1)) HTTP_FRONT=$((base + 2)) ECHO_FRONT=$((base + 3))
	UDP_RR_FRONT=$((base + 4)) UDP_MANY_FRONT=$((base + 5))
	SCHED1_FRONT=$((base + 6)) SCHEDWRR_FRONT=$((base + 7)) SCHEDLC_FRONT=$((base + 8))
	SCHEDPP_FRONT=$((base + 9))
	if [[ $1 == direct ]]; then
		IPERF_FRONT=$IPERF_BACK HTTP_FRONT=$HTTP_BACK ECHO_FRONT=$ECHO_BACK
		UDP_RR_FRONT=$UDP_RR_BACK UDP_MANY_FRONT=$UDP_MANY_BACK
	fi
	case $SECTION in
	tcp) FWD_PORTS=("$IPERF_FRONT" "$HTTP_FRONT" "$ECHO_FRONT") ;;
	udp) FWD_PORTS=("u:$UDP_RR_FRONT" "u:$UDP_MANY_FRONT") ;;
	sched) FWD_PORTS=("$SCHED1_FRONT" "$SCHEDWRR_FRONT" "$SCHEDLC_FRONT" "$SCHEDPP_FRONT") ;;
	status) FWD_PORTS=("$SCHED1_FRONT") ;;
	esac
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

# fwd_start NAME: starts NAME in front of the backends of the current
# SECTION (tcp, udp, sched; ports from fwd_ports); returns 1 if it did not
# come up. The peers/ files of the UDP section are *-udp.*, the scheduler
# section's portfwd-sched.conf.
fwd_start() {
	local name=$1 line args sfx=""
	FWD_PIDS=()
	FWD_LOG=$W/$name-$SECTION.log
	[[ $SECTION != tcp ]] && sfx=-$SECTION
	case $name in
	direct) return 0 ;;
	portfwd)
		render "portfwd$sfx.conf" "$W/portfwd$sfx.conf"
		# The status section's baseline: the same table without its
		# 'status' line.
		if [[ $SECTION == status ]] && ((!STATUS_ON)); then
			sed -i '/^status /d' "$W/portfwd$sfx.conf"
		fi
		# shellcheck disable=SC2086
		fwd_spawn "$FWD_LOG" "$PORTFWD" -c "$W/portfwd$sfx.conf" -s "$W/portfwd.sock" $BENCH_PORTFWD_ARGS
		;;
	haproxy)
		render haproxy.cfg "$W/haproxy.cfg"
		fwd_spawn "$FWD_LOG" haproxy -db -f "$W/haproxy.cfg"
		;;
	nginx)
		[[ $SECTION == udp ]] || sfx=-stream
		render "nginx$sfx.conf" "$W/nginx$sfx.conf"
		fwd_spawn "$FWD_LOG" nginx -p "$W/" -c "$W/nginx$sfx.conf" -e "$W/nginx$sfx.error.log"
		;;
	rinetd)
		render "rinetd$sfx.conf" "$W/rinetd$sfx.conf"
		fwd_spawn "$FWD_LOG" rinetd -f -c "$W/rinetd$sfx.conf"
		;;
	socat | redir)
		render "$name$sfx.args" "$W/$name$sfx.args"
		while read -r line; do
			[[ -z $line || $line == \#* ]] && continue
			read -ra args <<<"$line"
			fwd_spawn "$FWD_LOG" "$name" "${args[@]}"
		done <"$W/$name$sfx.args"
		;;
	*) return 1 ;;
	esac
	wait_listen 10 "${FWD_PIDS[@]}" -- "${FWD_PORTS[@]}"
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
	for p in "${FWD_PORTS[@]}"; do
		listening "$p" || return 1
	done
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

# http FWD KIND [PORT KEY LABEL]: HTTP through to the nginx backend: wrk,
# one request per connection (KIND cps: Connection: close) or keep-alive
# (rps), to PORT (default HTTP_FRONT); the forwarder's CPU per 10,000 (cps) or
# 100,000 (rps). The samples are FWD's metrics KEY (default KIND),
# KEY_errors, KEY_cpu_s_per_10k (or rps_cpu_s_per_100k).
http() {
	local fwd=$1 kind=$2 port=${3:-$HTTP_FRONT} key=${4:-$2} label=${5:-$2}
	local out=$W/wrk-${1//\//-}-$2.txt c0=0 c1=0 hdr=() reqs rate errs non2xx
	[[ $kind == cps ]] && hdr=(-H "Connection: close")
	[[ $fwd != direct ]] && { pstat || return 1; } && c0=$PS_cpu_ticks
	if ! load $((BENCH_SECONDS + 30)) wrk -t "$BENCH_WRK_THREADS" -c "$BENCH_WRK_CONNS" \
		-d "${BENCH_SECONDS}s" "${hdr[@]}" "http://127.0.0.1:$port/100b" >"$out" 2>&1; then
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
	record "$fwd" "$key" "$rate"
	record "$fwd" "${key}_errors" "$((${errs:-0} + ${non2xx:-0}))"
	SUMMARY+=" $label $rate/s"
	if ((${errs:-0} + ${non2xx:-0} > 0)); then
		SUMMARY+=" (${errs:-0} socket errors, ${non2xx:-0} non-2xx)"
	fi
	if [[ $fwd != direct ]]; then
		if [[ $kind == cps ]]; then
			record "$fwd" "${key}_cpu_s_per_10k" "$(calc "($c1 - $c0) / $PS_clk_tck / ($reqs / 10000)")"
			SUMMARY+=" ($(calc "($c1 - $c0) / $PS_clk_tck / ($reqs / 10000)") CPU s/10k)"
		else
			record "$fwd" rps_cpu_s_per_100k "$(calc "($c1 - $c0) / $PS_clk_tck / ($reqs / 100000)")"
		fi
	fi
	SUMMARY+=";"
}
measure_cps() { http "$1" cps; }
measure_rps() { http "$1" rps; }

# ---- UDP section ----
#
# The forwarder listens on two UDP ports, one in front of each echo server.
# measure_udp_rr runs with the forwarder started on BENCH_UDP_CPU (as are its
# client and echo server); measure_udp_many with a forwarder started again,
# unpinned (or on BENCH_CPUS).

# Sequential request/replies of one client, everything on one CPU.
measure_udp_rr() {
	local fwd=$1 out kv rate="" lost=0
	out=$(nsx timeout -k 3 $((BENCH_SECONDS + 30)) taskset -c "$BENCH_UDP_CPU" "$PF_UDP" rr \
		-c "127.0.0.1:$UDP_RR_FRONT" -s "$BENCH_UDP_SIZE" -d "$BENCH_SECONDS" \
		-W "$(calc "$BENCH_UDP_WARMUP / 2")" -T "$BENCH_UDP_TIMEOUT_MS" 2>"$W/udp.err") || {
		fail_note "$fwd: pf_udp rr failed: $(head -3 "$W/udp.err")"
		return 1
	}
	read -ra kv <<<"$out"
	set -- "${kv[@]}"
	while (($# >= 2)); do
		case $1 in
		rate) rate=$2 && record "$fwd" udp_rr "$2" ;;
		p50_us | p99_us) record "$fwd" "udp_rr_$1" "$2" ;;
		lost) lost=$2 && record "$fwd" udp_rr_lost "$2" ;;
		esac
		shift 2
	done
	if [[ -z $rate ]]; then
		fail_note "$fwd: pf_udp rr: unreadable output: $out"
		return 1
	fi
	SUMMARY+=" udp rr $rate/s (p50 $(awk '{ for (i = 1; i < NF; i++) if ($i == "p50_us") print $(i + 1) }' <<<"$out") us, $lost lost);"
}

# BENCH_UDP_CLIENTS clients, each with BENCH_UDP_WINDOW request/replies in
# flight; the forwarder's CPU per million round trips (read after the
# warm-up and at the end).
measure_udp_many() {
	local fwd=$1 out=$W/udp-many.out pid c0=0 c1=0 rc=0 kv replies="" rate="" lost=0 idle=0
	ip netns exec "$NS" timeout -k 3 $((BENCH_SECONDS + 30)) "${PIN_LOAD[@]}" "$PF_UDP" many \
		-c "127.0.0.1:$UDP_MANY_FRONT" -k "$BENCH_UDP_CLIENTS" -w "$BENCH_UDP_WINDOW" \
		-j "$BENCH_UDP_THREADS" -s "$BENCH_UDP_SIZE" -d "$BENCH_SECONDS" -W "$BENCH_UDP_WARMUP" \
		-T "$BENCH_UDP_TIMEOUT_MS" >"$out" 2>"$W/udp.err" &
	pid=$!
	sleep "$BENCH_UDP_WARMUP"
	[[ $fwd != direct ]] && pstat && c0=$PS_cpu_ticks
	wait "$pid" || rc=$?
	[[ $fwd != direct ]] && pstat && c1=$PS_cpu_ticks
	if [[ $rc != 0 ]]; then
		fail_note "$fwd: pf_udp many failed (rc $rc): $(head -3 "$W/udp.err")"
		return 1
	fi
	read -ra kv <"$out"
	set -- "${kv[@]}"
	while (($# >= 2)); do
		case $1 in
		replies) replies=$2 ;;
		rate) rate=$2 && record "$fwd" udp_many "$2" ;;
		lost) lost=$2 && record "$fwd" udp_many_lost "$2" ;;
		idle) idle=$2 && record "$fwd" udp_many_idle "$2" ;;
		esac
		shift 2
	done
	if [[ -z $rate || -z $replies ]]; then
		fail_note "$fwd: pf_udp many: unreadable output: $(head -c 300 "$out")"
		return 1
	fi
	SUMMARY+=" udp $BENCH_UDP_CLIENTS clients $rate/s ($lost lost, $idle idle clients"
	if [[ $fwd != direct ]]; then
		record "$fwd" udp_many_cpu_s_per_m "$(calc "($c1 - $c0) / $PS_clk_tck / ($replies / 1e6)")"
		SUMMARY+=", $(calc "($c1 - $c0) / $PS_clk_tck / ($replies / 1e6)") CPU s/M"
	fi
	SUMMARY+=");"
}

# ---- scheduler section ----
#
# One portfwd with four forwards to the same nginx: to one of its ports, to
# its PROXY protocol port with proxy-protocol v2 (the cost of the header:
# portfwd writing it, nginx reading it), to four of them with balance wrr,
# to four with leastconn. Each is measured with the Connection: close wrk
# test (new connections per second); the report divides each by
# portfwd/1's, so portfwd/proxy2's ratio is the cost of proxy-protocol v2.

# sched_conns NAME: the connections portfwd counted to each backend of its
# forward NAME, space-separated.
sched_conns() {
	"$PORTFW" -s "$W/portfwd.sock" list -j 2>/dev/null | "$PY" -c '
import json, sys
for f in json.load(sys.stdin):
    if f.get("name") == sys.argv[1]:
        print(" ".join(str(b.get("conns", 0)) for b in f.get("backends", [])))' "$1"
}

# sched CONF FORWARD PORT: the wrk cps test through PORT, recorded as CONF
# (a row of the table); how the connections spread over the backends.
sched() {
	local conf=$1 name=$2 port=$3 b0 b1 share
	b0=$(sched_conns "$name")
	http "$conf" cps "$port" sched_cps "${conf#portfwd/}" || return 1
	b1=$(sched_conns "$name")
	# The busiest backend's share of the new connections, in percent.
	share=$(awk -v a="$b0" -v b="$b1" 'BEGIN {
		n = split(a, x, " "); split(b, y, " "); t = 0; m = 0; s = ""
		for (i = 1; i <= n; i++) { d = y[i] - x[i]; t += d; if (d > m) m = d; v[i] = d }
		if (t <= 0) exit
		for (i = 1; i <= n; i++) s = s (i > 1 ? "/" : "") sprintf("%.0f", 100 * v[i] / t)
		printf "%.1f %s\n", 100 * m / t, s }')
	if [[ -n $share ]]; then
		record "$conf" sched_max_share "${share%% *}"
		SUMMARY=${SUMMARY%;}" [${share#* }%];"
	fi
}
measure_sched1() { sched portfwd/1 bench-sched-1 "$SCHED1_FRONT"; }
measure_schedpp() { sched portfwd/proxy2 bench-sched-pp2 "$SCHEDPP_FRONT"; }
measure_schedwrr() { sched portfwd/wrr4 bench-sched-wrr "$SCHEDWRR_FRONT"; }
measure_schedlc() { sched portfwd/leastconn4 bench-sched-lc "$SCHEDLC_FRONT"; }

# ---- status section ----
#
# The cost of the status server to the relay: the Connection: close wrk test
# through one forward, by a portfwd without a 'status' line
# (portfwd/nostatus), then by one with it and /metrics scraped every second
# (portfwd/status), in the same run (which comes first alternates); the
# run's ratio of the two is recorded too (status_cps_ratio).
STATUS_ON=0

measure_status() {
	local label=portfwd/nostatus scraper="" rc=0
	if ((STATUS_ON)); then
		label=portfwd/status
		ip netns exec "$NS" "${PIN_LOAD[@]}" bash -c "while curl -sf -o /dev/null --max-time 2 \
			http://127.0.0.1:$STATUS_PORT/metrics; do sleep 1; done" &
		scraper=$!
		sleep 0.2
	fi
	SUMMARY+=" $label"
	http "$label" cps "$SCHED1_FRONT" status_cps || rc=1
	if [[ -n $scraper ]]; then
		if ! kill -0 "$scraper" 2>/dev/null; then
			fail_note "portfwd/status: a scrape of /metrics failed"
			rc=1
		fi
		kill "$scraper" 2>/dev/null || true
		wait "$scraper" 2>/dev/null || true
	fi
	return $rc
}

# status_ratio: this run's portfwd/status cps over portfwd/nostatus's.
status_ratio() {
	local r
	r=$(awk -F, -v run="$RUN" '$1 == run && $3 == "status_cps" { v[$2] = $4 }
		END { if (v["portfwd/nostatus"] > 0 && v["portfwd/status"] > 0)
			printf "%.4f", v["portfwd/status"] / v["portfwd/nostatus"] }' "$CSV")
	[[ -n $r ]] || return 0
	record portfwd/status status_cps_ratio "$r"
	commit
	say "[run $RUN/$BENCH_RUNS] status: with a scrape every second / without: $r"
}

# ---- sanity ----

# sanity_http PORT: one HTTP request through PORT returns the 100 bytes.
sanity_http() {
	local got
	got=$(load 10 curl -sS --max-time 5 "http://127.0.0.1:$1/100b" 2>&1) || true
	[[ $got == "$(cat "$W/www/100b")" ]]
}

# sanity_udp PORT: UDP round trips through PORT for 0.2 s (pf_udp fails if none came back).
sanity_udp() {
	load 10 "$PF_UDP" rr -c "127.0.0.1:$1" -s "$BENCH_UDP_SIZE" -d 0.2 -W 0 -T 500 >/dev/null 2>&1
}

# sanity: the forwarder relays, on each port of the current SECTION.
sanity() {
	case $SECTION in
	tcp) sanity_http "$HTTP_FRONT" ;;
	udp) sanity_udp "$UDP_RR_FRONT" && sanity_udp "$UDP_MANY_FRONT" ;;
	sched) sanity_http "$SCHED1_FRONT" && sanity_http "$SCHEDWRR_FRONT" && sanity_http "$SCHEDLC_FRONT" &&
		sanity_http "$SCHEDPP_FRONT" ;;
	status) sanity_http "$SCHED1_FRONT" ;;
	esac
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
read -ra UFWDS <<<"$BENCH_UDP_FORWARDERS"

# run_one FWD: FWD started in front of the current SECTION's backends, the
# MEASURES taken, FWD stopped.
run_one() {
	local fwd=$1 t0 m
	fwd_ports "$fwd" "$RUN"
	t0=$(now_ms)
	# No socket left in TIME_WAIT by the forwarder before (its wrk tests
	# leave tens of thousands for a minute): each forwarder's connections
	# would otherwise compete with its predecessor's for ephemeral ports
	# and hash chains.
	nsx ss -K state time-wait >/dev/null 2>&1 || true
	backends_check
	if ! fwd_start_retry "$fwd"; then
		fail_note "$fwd ($SECTION) did not start, or did not relay ($TRIES tries): $(tail -5 "$FWD_LOG" 2>/dev/null | tr '\n' ' ')"
		commit
		fwd_stop
		return 0
	fi
	SUMMARY=""
	# Whatever a forwarder does on its first connections (threads, pools,
	# buffers) is not measured.
	if [[ $SECTION == tcp ]] && ((BENCH_WARMUP > 0)); then
		load $((BENCH_WARMUP + 30)) wrk -t "$BENCH_WRK_THREADS" -c "$BENCH_WRK_CONNS" -d "${BENCH_WARMUP}s" \
			-H "Connection: close" "http://127.0.0.1:$HTTP_FRONT/100b" >/dev/null 2>&1 || true
	fi
	for m in "${MEASURES[@]}"; do
		run_measure "$fwd" "$m" || break
	done
	fwd_stop
	say "[run $RUN/$BENCH_RUNS] $fwd $SECTION ($(($(now_ms) - t0)) ms):$SUMMARY"
}

PIN_FWD_ALL=("${PIN_FWD[@]}")
for ((RUN = 1; RUN <= BENCH_RUNS; RUN++)); do
	# Every run goes through all forwarders in turn, so a burst of load
	# from elsewhere on the machine hits one sample of each, not all
	# samples of one; each run in another order (run_order), so that none
	# is always measured first, last, or after the same other one.
	mapfile -t ORDER < <(run_order "$RUN" "${FWDS[@]}")
	mapfile -t UORDER < <(run_order "$RUN" "${UFWDS[@]}")
	if section tcp; then
		SECTION=tcp MEASURES=(lat idle bulk1 bulk4 cps rps)
		for fwd in "${ORDER[@]}"; do
			run_one "$fwd"
		done
	fi
	if section udp; then
		SECTION=udp
		for fwd in "${UORDER[@]}"; do
			# The sequential test: forwarder, client and echo server on
			# one CPU (the reference figure's conditions); then the
			# many-client test on a fresh, unpinned instance.
			PIN_FWD=(taskset -c "$BENCH_UDP_CPU") MEASURES=(udp_rr)
			run_one "$fwd"
			PIN_FWD=("${PIN_FWD_ALL[@]}") MEASURES=(udp_many)
			run_one "$fwd"
		done
	fi
	if section sched; then
		# proxy2 right after 1: the pair whose ratio is read, close in time.
		SECTION=sched MEASURES=(sched1 schedpp schedwrr schedlc)
		run_one portfwd
	fi
	if section status; then
		# Each first in every other run: neither gets the warmer machine
		# always.
		SECTION=status MEASURES=(status)
		for STATUS_ON in $((RUN % 2)) $(((RUN + 1) % 2)); do
			run_one portfwd
		done
		status_ratio
	fi
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
	--setting idle_conns="$IDLE_CONNS" --setting lat_rounds="$BENCH_LAT_ROUNDS" --setting warmup="$BENCH_WARMUP" \
	--setting wrk_conns="$BENCH_WRK_CONNS" --setting wrk_threads="$BENCH_WRK_THREADS" \
	--setting cpus="${BENCH_CPUS:-any}" --setting load_cpus="${BENCH_LOAD_CPUS:-any}" \
	--setting portfwd_args="$BENCH_PORTFWD_ARGS" --setting nofile="$NOFILE" \
	--setting elapsed_s="$ELAPSED" --setting forwarders="$BENCH_FORWARDERS" \
	--setting udp_forwarders="$BENCH_UDP_FORWARDERS" --setting sections="$BENCH_ONLY" \
	--setting udp_clients="$BENCH_UDP_CLIENTS" --setting udp_size="$BENCH_UDP_SIZE"
say
say "bench: results in $OUTB.{md,json,csv} (${ELAPSED}s)"
if [[ -s $FAILS ]]; then
	say "bench: $(wc -l <"$FAILS") measurement(s) failed:"
	sed 's/^/  /' "$FAILS"
	exit 1
fi
