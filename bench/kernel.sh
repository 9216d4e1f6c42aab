#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The kernel engine's benchmark: client -> gateway -> server, three network
# namespaces joined by veth pairs, the gateway routing or DNATing:
#
#   client 198.51.100.2 --- wan 198.51.100.1  gateway  10.0.0.1 lan --- server 10.0.0.2
#                                                                      (iperf3, nginx)
#
# Throughput (iperf3, 1 and 4 streams) and new connections per second (wrk,
# Connection: close, 100-byte file) through: plain routing (the client
# addresses the server), one hand-written nft DNAT rule, one iptables DNAT
# rule, portfwd's kernel engine with one forward, portfwd's user engine; then
# with many forwards loaded (portfwd kernel engine: N forwards, the measured
# one added last; hand-written nft and iptables: N linear DNAT rules, the
# measured one last); then the control plane: time to load N forwards at
# start, time of one live add / del with N loaded (the daemon's own time, the
# round trip over the control socket, and 'portfw add' / 'portfw del'), the
# daemon's RSS. See bench/README.md.
#
#   bench/kernel.sh [quick|full]       (root; 'make bench-kernel BENCH_MODE=quick')
#
# Settings (environment; quick / full):
#   BENCH_SECONDS     length of each iperf3 and wrk measurement (1 / 4)
#   BENCH_RUNS        repetitions; the tables show medians (1 / 3)
#   BENCH_SCALE       forward counts of the kernel engine's scale rows ("1000" / "10000 100000")
#   BENCH_LINEAR      rule count of the linear nft and iptables rows (1000 / 10000)
#   BENCH_CHANGES     live add+del pairs timed per loaded table (3 / 5)
#   BENCH_SETUPS      which rows to run (default all: route route-ct nft ipt
#                     kernel kernel-N... nft-lin ipt-lin user)
#   BENCH_SETTLE      seconds of pause after the user engine's row (20)
#   BENCH_WRK_CONNS   concurrent wrk connections (32)
#   BENCH_WRK_THREADS wrk threads (2)
#   BENCH_IPTABLES    iptables binary (default iptables-legacy if present, else iptables-nft)
#   BENCH_LOAD_TIMEOUT  seconds a load of forwards may take before it counts as failed (600)
#   BENCH_NO_INSTALL=1  do not run scripts/deps.sh bench
#   BENCH_KEEP=1      keep the work dir (configs, logs, raw tool output)
#   BENCH_RESULTS     where the results go (bench/results)
#   PORTFW_BUILD      the build to test (default <repo>/$BUILD, else <repo>/build)
#
# Prints versions, one progress line per setup and run, then Markdown tables;
# writes results/<stamp>-kernel-<mode>.{csv,json,md}. Exits 1 if a
# measurement failed (the rest is still reported).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/gateway-lib.sh
. "$BENCH_DIR/gateway-lib.sh"
MODE=${1:-full}
case $MODE in
quick)
	: "${BENCH_SECONDS:=1}" "${BENCH_RUNS:=1}" "${BENCH_SCALE:=1000}" "${BENCH_LINEAR:=1000}"
	: "${BENCH_CHANGES:=3}"
	;;
full)
	: "${BENCH_SECONDS:=4}" "${BENCH_RUNS:=3}" "${BENCH_SCALE:=10000 100000}"
	: "${BENCH_LINEAR:=10000}" "${BENCH_CHANGES:=5}"
	;;
*)
	echo "usage: $0 [quick|full]" >&2
	exit 2
	;;
esac
: "${BENCH_WRK_CONNS:=32}" "${BENCH_WRK_THREADS:=2}" "${BENCH_LOAD_TIMEOUT:=600}"
: "${BENCH_SETTLE:=20}"
: "${BENCH_NO_INSTALL:=0}" "${BENCH_KEEP:=0}" "${BENCH_RESULTS:=$BENCH_DIR/results}"
if [[ -z ${PORTFW_BUILD-} && -n ${BUILD-} ]]; then
	case $BUILD in
	/*) PORTFW_BUILD=$BUILD ;;
	*) PORTFW_BUILD=$REPO/$BUILD ;;
	esac
fi
: "${PORTFW_BUILD:=$REPO/build}"
PORTFWD=$PORTFW_BUILD/portfwd
PORTFW=$PORTFW_BUILD/portfw
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3

for v in BENCH_SECONDS BENCH_RUNS BENCH_LINEAR BENCH_CHANGES BENCH_WRK_CONNS BENCH_SETTLE \
	BENCH_WRK_THREADS BENCH_LOAD_TIMEOUT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v='${!v}': expected a positive integer"
done
for n in $BENCH_SCALE; do
	[[ $n =~ ^[1-9][0-9]*$ ]] && ((n >= 3 && n <= 1000000)) ||
		die "BENCH_SCALE: '$n': expected forward counts from 3 to 1000000"
done
((BENCH_LINEAR >= 3)) || die "BENCH_LINEAR: at least 3"
# The user engine's row last, and a pause after it: a NAT row that follows
# it within ~15 s was measured at 0.65-0.75x its connection rate (routing
# was not: something of the relayed connections' aftermath on the gateway).
ALL_SETUPS="route route-ct nft ipt kernel"
for n in $BENCH_SCALE; do
	ALL_SETUPS+=" kernel-$n"
done
ALL_SETUPS+=" nft-lin ipt-lin user"
: "${BENCH_SETUPS:=$ALL_SETUPS}"
for s in $BENCH_SETUPS; do
	[[ " $ALL_SETUPS " == *" $s "* ]] || die "BENCH_SETUPS: unknown '$s' (known: $ALL_SETUPS)"
done
[[ $(id -u) == 0 ]] || die "needs root (network namespaces, nftables)"
[[ -x $PORTFWD && -x $PORTFW ]] || die "$PORTFWD or $PORTFW is missing: build first (make BUILD=... all), or set PORTFW_BUILD"

T_START=$EPOCHREALTIME

if [[ $BENCH_NO_INSTALL != 1 ]]; then
	"$REPO/scripts/deps.sh" bench || die "scripts/deps.sh bench failed"
fi
IPT_AUTO=0
if [[ -z ${BENCH_IPTABLES-} ]]; then
	IPT_AUTO=1
	BENCH_IPTABLES=iptables-nft
	command -v iptables-legacy >/dev/null && BENCH_IPTABLES=iptables-legacy
fi
for b in ip nft conntrack iperf3 wrk nginx curl "$BENCH_IPTABLES" "$BENCH_IPTABLES-restore" "$PY"; do
	command -v "$b" >/dev/null || die "$b not found (scripts/deps.sh bench installs it)"
done

TOOLS_BIN=$PORTFW_BUILD/bench
mkdir -p "$TOOLS_BIN"
for t in pf_ctltime; do
	if [[ ! -x $TOOLS_BIN/$t || $BENCH_DIR/tools/$t.c -nt $TOOLS_BIN/$t ]]; then
		cc -O2 -g -std=c17 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -o "$TOOLS_BIN/$t" \
			"$BENCH_DIR/tools/$t.c" || die "building $t failed"
	fi
done
PF_CTLTIME=$TOOLS_BIN/pf_ctltime

# ---- ports of its own (the others: gateway-lib.sh) ----

# The user engine's row: its own front ports. Its client connections end on
# the gateway, where wrk often closes first: the client then holds them in
# TIME_WAIT for a minute, and the next row on the same ports would compete
# for ephemeral ports (measured: the next NAT row at 0.75x).
IPERF_USER=25201
HTTP_USER=28080
# Live changes add and remove this one.
CHANGE_PORT=19999

# ---- namespaces and cleanup ----

W=$(mktemp -d /tmp/pfkbench.XXXXXX)
chmod 755 "$W"
gw_netns_up pfkb

# A kernel without the legacy x_tables NAT (ip_tables, iptable_nat) refuses
# iptables-legacy: then iptables-nft, unless BENCH_IPTABLES was given.
if ! in_g "$BENCH_IPTABLES" -t nat -S >/dev/null 2>"$W/iptables.err"; then
	if [[ $IPT_AUTO == 1 && $BENCH_IPTABLES == iptables-legacy ]] && command -v iptables-nft >/dev/null &&
		in_g iptables-nft -t nat -S >/dev/null 2>&1; then
		say "(iptables-legacy does not work here: $(head -1 "$W/iptables.err"); using iptables-nft)"
		BENCH_IPTABLES=iptables-nft
	else
		die "$BENCH_IPTABLES -t nat does not work: $(head -1 "$W/iptables.err")"
	fi
fi

# ---- versions ----

print_versions() {
	local rev
	rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
	git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || rev+=" (src/ modified)"
	{
		echo "portfwd	$("$PORTFWD" -V 2>&1 | head -1 || true), git $rev ($PORTFWD)"
		echo "kernel	$(uname -sr)"
		echo "nft	$(nft --version 2>&1 | head -1 || true)"
		echo "iptables	$("$BENCH_IPTABLES" -V 2>&1 | head -1 || true) ($BENCH_IPTABLES)"
		echo "iperf3	$(iperf3 --version 2>&1 | head -1 || true)"
		echo "wrk	$(wrk -v 2>&1 | head -1 || true)"
		echo "nginx	$(nginx -v 2>&1 | head -1 || true)"
		echo "cpus	$(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true))"
	} >"$W/versions.tsv"
	say "## Versions"
	say
	awk -F'\t' '{ printf "- %s: %s\n", $1, $2 }' "$W/versions.tsv"
	say
}

# ---- the gateway's setups ----
#
# setup_start NAME: the gateway routes (route) or DNATs the front ports to the
# server; sets TARGET (the address the client connects to), T_IPERF, T_HTTP.
# setup_stop undoes it. Forward counts: kernel-N loads N forwards (N-2 on
# addresses nobody uses, then the two measured ones, added last); nft-lin
# and ipt-lin BENCH_LINEAR rules (the measured ones last).

ipt_conf() {
	local n=$1
	{
		echo "*nat"
		awk -v n="$((n - 2))" 'BEGIN { for (i = 0; i < n; i++)
			printf "-A PREROUTING -d 100.64.%d.%d/32 -p tcp --dport %d -j DNAT --to-destination %s:%d\n",
				int(i / 50000 / 250), 1 + int(i / 50000) % 250, 10000 + i % 50000, "'"$SRV"'", '"$HTTP_BACK"' }'
		echo "-A PREROUTING -d $WAN_G/32 -p tcp --dport $IPERF_FRONT -j DNAT --to-destination $SRV:$IPERF_BACK"
		echo "-A PREROUTING -d $WAN_G/32 -p tcp --dport $HTTP_FRONT -j DNAT --to-destination $SRV:$HTTP_BACK"
		echo "COMMIT"
	} >"$W/ipt.rules"
}

setup_start() {
	TARGET=$WAN_G T_IPERF=$IPERF_FRONT T_HTTP=$HTTP_FRONT LOAD_MS=""
	case $1 in
	route-ct)
		# Routing with connection tracking on (what every NAT row has), no NAT.
		TARGET=$SRV T_IPERF=$IPERF_ROUTE T_HTTP=$HTTP_ROUTE
		printf 'table ip pfkbench {\n\tchain pass {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tct state established,related accept\n\t}\n}\n' >"$W/nft.conf"
		in_g nft -f "$W/nft.conf"
		;;
	nft-lin)
		nft_conf "$BENCH_LINEAR"
		in_g nft -f "$W/nft.conf"
		;;
	ipt)
		ipt_conf 2
		in_g "$BENCH_IPTABLES-restore" <"$W/ipt.rules"
		;;
	ipt-lin)
		ipt_conf "$BENCH_LINEAR"
		in_g "$BENCH_IPTABLES-restore" <"$W/ipt.rules"
		;;
	user)
		T_IPERF=$IPERF_USER T_HTTP=$HTTP_USER
		portfwd_start user 2
		;;
	*) gw_setup_start "$1" ;;
	esac
}

setup_stop() {
	case $1 in
	ipt | ipt-lin) in_g "$BENCH_IPTABLES" -t nat -F PREROUTING 2>/dev/null || true ;;
	esac
	gw_setup_stop "$1"
}

# forwards_of NAME: how many forwards (or rules) the setup has.
forwards_of() {
	case $1 in
	route | route-ct) echo 0 ;;
	nft | ipt | kernel | user) echo 1 ;;
	kernel-*) echo "${1#kernel-}" ;;
	nft-lin | ipt-lin) echo "$BENCH_LINEAR" ;;
	esac
}

# ---- results ----

gw_samples_init

# ---- measurements ----

# changes SETUP: BENCH_CHANGES times, one live add and one del of a forward:
# over the control socket (pf_ctltime: the request, the daemon's change, its
# answer; and the daemon's own time for the change, change_us of its answer),
# and with the client ('portfw add' / 'portfw del': the same plus starting a
# process), the first one checked in the kernel's table.
changes() {
	local setup=$1 i t0 t1 t1b t2 adds=() dels=()
	for ((i = 0; i < BENCH_CHANGES; i++)); do
		t0=$EPOCHREALTIME
		in_g "$PORTFW" -s "$W/portfwd.sock" add name change tcp "$WAN_G:$CHANGE_PORT" to "$SRV:$HTTP_BACK" \
			>"$W/change.out" 2>&1 || {
			fail_note "$setup: portfw add failed: $(head -2 "$W/change.out")"
			return 1
		}
		t1=$EPOCHREALTIME
		if ((i == 0)) && ! in_g nft list chain inet portfw dispatch >/dev/null 2>&1; then
			fail_note "$setup: no table inet portfw after portfw add"
			return 1
		fi
		t1b=$EPOCHREALTIME
		in_g "$PORTFW" -s "$W/portfwd.sock" del name change >"$W/change.out" 2>&1 || {
			fail_note "$setup: portfw del failed: $(head -2 "$W/change.out")"
			return 1
		}
		t2=$EPOCHREALTIME
		adds+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) * 1000 }')")
		dels+=("$(awk -v a="$t1b" -v b="$t2" 'BEGIN { printf "%.2f", (b - a) * 1000 }')")
	done
	for i in "${adds[@]}"; do record "$setup" cli_add_ms "$i"; done
	for i in "${dels[@]}"; do record "$setup" cli_del_ms "$i"; done
	local out kv
	out=$(in_g "$PF_CTLTIME" -s "$W/portfwd.sock" -n "$BENCH_CHANGES" \
		-a "forward name change tcp $WAN_G:$CHANGE_PORT to $SRV:$HTTP_BACK" -d "del name change" \
		2>"$W/ctltime.err") || {
		fail_note "$setup: pf_ctltime failed: $(head -2 "$W/ctltime.err")"
		return 1
	}
	read -ra kv <<<"$out"
	[[ ${#kv[@]} == 8 && ${kv[0]} == add_ms && ${kv[2]} == del_ms && ${kv[4]} == add_daemon_ms &&
		${kv[6]} == del_daemon_ms ]] || {
		fail_note "$setup: pf_ctltime: unreadable output: $out"
		return 1
	}
	for i in ${kv[1]//,/ }; do record "$setup" add_ms "$i"; done
	for i in ${kv[3]//,/ }; do record "$setup" del_ms "$i"; done
	for i in ${kv[5]//,/ }; do record "$setup" daemon_add_ms "$i"; done
	for i in ${kv[7]//,/ }; do record "$setup" daemon_del_ms "$i"; done
	SUMMARY+=" change in the daemon add $(median "${kv[5]}") ms, del $(median "${kv[7]}") ms;"
	SUMMARY+=" over the socket add $(median "${kv[1]}") ms, del $(median "${kv[3]}") ms"
	SUMMARY+=" (portfw add $(median "$(IFS=,; echo "${adds[*]}")") ms, del $(median "$(IFS=,; echo "${dels[*]}")") ms);"
}

# check_loaded N: the kernel's table holds N forwards (and the measured one).
check_loaded() {
	local n=$1 got
	# Each forward here is simple: one element of m_in4 (its mark).
	got=$(in_g nft list map inet portfw m_in4 | grep -o ' : 0x' | wc -l)
	if [[ $got != "$n" ]]; then
		fail_note "kernel-$n: nft lists $got forwards in map m_in4, expected $n"
		return 1
	fi
}

# ---- main ----

say "# portfw kernel engine benchmark ($MODE)"
say
say "bench: mode $MODE, $BENCH_RUNS run(s), ${BENCH_SECONDS}s per load test," \
	"wrk -t$BENCH_WRK_THREADS -c$BENCH_WRK_CONNS, forwards ${BENCH_SCALE// /, }," \
	"linear rules $BENCH_LINEAR, $BENCH_CHANGES live changes per table, namespaces $NS_C $NS_G $NS_S"
say
print_versions
server_start
warm_up

read -ra SETUPS <<<"$BENCH_SETUPS"
for ((RUN = 1; RUN <= BENCH_RUNS; RUN++)); do
	# Each run takes every setup in turn, so a burst of load from elsewhere
	# hits one sample of each rather than all samples of one.
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
		# The daemon's resident memory with the table loaded (ip netns exec
		# execs it: the pid is portfwd's).
		if [[ $setup == kernel || $setup == kernel-* ]] && [[ -n ${PFD_PID-} ]]; then
			rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$PFD_PID/status" 2>/dev/null || true)
			if [[ -n $rss ]]; then
				record "$setup" rss_kb "$rss"
				SUMMARY+=" RSS $((rss / 1024)) MiB;"
			fi
		fi
		if [[ $setup == kernel-* && $RUN == 1 ]]; then
			check_loaded "$(forwards_of "$setup")" || true
		fi
		if ! wait_for 5 sanity; then
			fail_note "$setup: an HTTP request through $TARGET:$T_HTTP did not return the file"
			setup_stop "$setup"
			continue
		fi
		bulk "$setup" 1 || true
		bulk "$setup" 4 || true
		cps "$setup" || true
		if [[ $setup == kernel || $setup == kernel-* ]]; then
			changes "$setup" || true
		fi
		setup_stop "$setup"
		say "[run $RUN/$BENCH_RUNS] $setup ($(($(now_ms) - t0)) ms):$SUMMARY"
		if [[ $setup == user && ($RUN -lt $BENCH_RUNS || $setup != "${SETUPS[-1]}") ]]; then
			sleep "$BENCH_SETTLE"
		fi
	done
done

# ---- report ----

mkdir -p "$BENCH_RESULTS"
STAMP=$(date +%Y%m%d-%H%M%S)
OUTB=$BENCH_RESULTS/$STAMP-kernel-$MODE
cp "$CSV" "$OUTB.csv"
ELAPSED=$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
say
"$PY" "$BENCH_DIR/tools/pf_kreport.py" --csv "$CSV" --versions "$W/versions.tsv" \
	--failures "$FAILS" --json "$OUTB.json" --md "$OUTB.md" --linear "$BENCH_LINEAR" \
	--iptables "$BENCH_IPTABLES" \
	--setting mode="$MODE" --setting runs="$BENCH_RUNS" --setting seconds="$BENCH_SECONDS" \
	--setting wrk_conns="$BENCH_WRK_CONNS" --setting wrk_threads="$BENCH_WRK_THREADS" \
	--setting scale="$BENCH_SCALE" --setting linear="$BENCH_LINEAR" \
	--setting changes="$BENCH_CHANGES" --setting elapsed_s="$ELAPSED"
say
say "bench: results in $OUTB.{md,json,csv} (${ELAPSED}s)"
if [[ -s $FAILS ]]; then
	say "bench: $(wc -l <"$FAILS") measurement(s) failed:"
	sed 's/^/  /' "$FAILS"
	exit 1
fi
