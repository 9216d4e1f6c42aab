# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034
#
# What bench/kernel.sh and bench/gateway.sh share: the client | gateway |
# server network namespaces, the servers (iperf3, nginx) in the server's, the
# kernel-side setups of the gateway (routing, nft DNAT, portfwd), the
# measurements (iperf3 1 and 4 streams, wrk new connections per second) and
# their samples. Sourced, never run.
#
#   client 198.51.100.2 --- wan 198.51.100.1  gateway  10.0.0.1 lan --- server 10.0.0.2
#
# The sourcing script sets, before calling anything here: W (its work dir),
# BENCH_SECONDS, BENCH_WRK_THREADS, BENCH_WRK_CONNS, BENCH_KEEP,
# BENCH_LOAD_TIMEOUT, PORTFWD, PY; and calls gw_netns_up PREFIX once.

# shellcheck source=bench/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# listening NS PORT: a TCP socket listens on PORT in NS.
listening() {
	ip netns exec "$1" ss -Hltn "sport = :$2" 2>/dev/null | grep -q LISTEN
}

# wait_for SECONDS CMD...: CMD succeeds within SECONDS.
wait_for() {
	local end=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		(($(now_ms) < end)) || return 1
		sleep 0.05
	done
}

# ---- addresses and ports ----

WAN_G=198.51.100.1
WAN_C=198.51.100.2
LAN_G=10.0.0.1
SRV=10.0.0.2
IPERF_BACK=5201
HTTP_BACK=8080
# The routing rows reach the same servers on other ports. Their connections
# must not share 4-tuples (as the server sees them) with the NAT rows': the
# client's TCP timestamps have another offset for another destination
# address, so the server's TIME_WAIT of a NAT row's connection would take a
# routed SYN on the same tuple for an old duplicate (PAWS) and drop it, and
# that client waits a second to retry (routing then measured at half the
# connection rate of a NAT, depending on what ran before it).
IPERF_ROUTE=5202
HTTP_ROUTE=8081
# What the client connects to through a DNAT or a relay, on the gateway's
# address.
IPERF_FRONT=15201
HTTP_FRONT=18080

# ---- namespaces and cleanup ----

NS_MADE=()
PFD_PID=""

gw_cleanup() {
	local rc=$? pids ns
	set +e
	trap - EXIT INT TERM
	{
		for ns in "${NS_MADE[@]}"; do
			pids=$(ip netns pids "$ns" 2>/dev/null)
			# shellcheck disable=SC2086
			[[ -n $pids ]] && kill -KILL $pids
		done
		pids=$(jobs -p)
		# shellcheck disable=SC2086
		[[ -n $pids ]] && kill -KILL $pids
		wait
	} 2>/dev/null
	for ns in "${NS_MADE[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [[ $BENCH_KEEP == 1 ]]; then
		echo "bench: kept $W" >&2
	else
		rm -rf "$W"
	fi
	exit "$rc"
}

# gw_netns_up PREFIX: the namespaces PREFIX-c-PID, PREFIX-g-PID, PREFIX-s-PID
# (NS_C, NS_G, NS_S) joined by veth pairs, the client and the server routed
# through the gateway; deleted at exit (also on failure and Ctrl-C), and
# those of a run of the same script killed hard removed first.
gw_netns_up() {
	local prefix=$1 old pids ns dev l
	NS_C=$prefix-c-$$
	NS_G=$prefix-g-$$
	NS_S=$prefix-s-$$
	trap gw_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	for old in $(ip netns list 2>/dev/null | awk -v p="^$prefix-[cgs]-[0-9]+\$" '$1 ~ p { print $1 }'); do
		if ! kill -0 "${old##*-}" 2>/dev/null; then
			pids=$(ip netns pids "$old" 2>/dev/null || true)
			# shellcheck disable=SC2086
			[[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
			ip netns del "$old" 2>/dev/null && say "(removed stale namespace $old)"
		fi
	done
	for ns in "$NS_C" "$NS_G" "$NS_S"; do
		ip netns add "$ns" || die "ip netns add $ns failed"
		NS_MADE+=("$ns")
		ip -n "$ns" link set lo up
	done
	ip link add wan netns "$NS_G" type veth peer name eth0 netns "$NS_C"
	ip link add lan netns "$NS_G" type veth peer name eth0 netns "$NS_S"
	ip -n "$NS_G" addr add "$WAN_G/24" dev wan
	ip -n "$NS_G" addr add "$LAN_G/24" dev lan
	ip -n "$NS_C" addr add "$WAN_C/24" dev eth0
	ip -n "$NS_S" addr add "$SRV/24" dev eth0
	for l in "$NS_G wan" "$NS_G lan" "$NS_C eth0" "$NS_S eth0"; do
		read -r ns dev <<<"$l"
		ip -n "$ns" link set "$dev" up
	done
	# Plain routing: the client reaches the server's network through the gateway.
	ip -n "$NS_C" route add default via "$WAN_G"
	ip -n "$NS_S" route add default via "$LAN_G"
	ip netns exec "$NS_G" sysctl -qw net.ipv4.ip_forward=1 >/dev/null
	# The gateway too: the relays' connections to the server take its
	# ephemeral ports, and their listeners its backlogs.
	for ns in "$NS_C" "$NS_G" "$NS_S"; do
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="20000 64999" \
			net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096 >/dev/null
	done
}

# In the background, a function is a subshell of its own and $! would not be
# the program: background jobs call 'ip netns exec' (which execs) directly.
in_c() { ip netns exec "$NS_C" "$@"; }
in_g() { ip netns exec "$NS_G" "$@"; }
in_s() { ip netns exec "$NS_S" "$@"; }

# gw_flush: no connection tracked on the gateway, no socket left in
# TIME_WAIT anywhere. A connection-rate test leaves tens of thousands in
# TIME_WAIT (wrk closes first) for a minute, and the next setup's
# connections would compete with them for ephemeral ports and hash chains:
# whatever ran before would weigh on the next setup's figures.
gw_flush() {
	local ns
	in_g conntrack -F >/dev/null 2>&1 || true
	for ns in "$NS_C" "$NS_G" "$NS_S"; do
		ip netns exec "$ns" ss -K state time-wait >/dev/null 2>&1 || true
	done
}

# ---- the server ----

server_start() {
	mkdir -p "$W/www" "$W/tmp"
	printf '%099d\n' 0 >"$W/www/100b"
	cat >"$W/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 2;
worker_rlimit_nofile 65536;
pid $W/nginx.pid;
error_log $W/nginx.error.log warn;
events { worker_connections 16384; }
http {
	access_log off;
	client_body_temp_path $W/tmp/body;
	proxy_temp_path $W/tmp/proxy;
	fastcgi_temp_path $W/tmp/fastcgi;
	uwsgi_temp_path $W/tmp/uwsgi;
	scgi_temp_path $W/tmp/scgi;
	default_type application/octet-stream;
	server {
		listen $SRV:$HTTP_BACK backlog=4096 reuseport;
		listen $SRV:$HTTP_ROUTE backlog=4096 reuseport;
		root $W/www;
	}
}
EOF
	ip netns exec "$NS_S" nginx -p "$W/" -c "$W/nginx.conf" -e "$W/nginx.error.log" >>"$W/nginx.log" 2>&1 &
	HTTP_PID=$!
	iperf_restart
	wait_for 10 listening "$NS_S" "$HTTP_BACK" || die "nginx did not start: $(tail -3 "$W/nginx.error.log" "$W/nginx.log")"
}

# iperf_restart: (re)starts the two iperf3 servers (a failed test can leave
# one stuck, "busy").
IPERF_PIDS=()
iperf_restart() {
	local p port
	for p in "${IPERF_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	IPERF_PIDS=()
	for port in "$IPERF_BACK" "$IPERF_ROUTE"; do
		ip netns exec "$NS_S" iperf3 -s -B "$SRV" -p "$port" >>"$W/iperf3-server.log" 2>&1 &
		IPERF_PIDS+=($!)
	done
	for port in "$IPERF_BACK" "$IPERF_ROUTE"; do
		wait_for 10 listening "$NS_S" "$port" || die "iperf3 -s did not start: $(tail -3 "$W/iperf3-server.log")"
	done
}

servers_check() {
	local p ok=1
	for p in "${IPERF_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || ok=0
	done
	listening "$NS_S" "$IPERF_BACK" && listening "$NS_S" "$IPERF_ROUTE" || ok=0
	if ((!ok)); then
		say "   (an iperf3 server is gone: restarting them)"
		iperf_restart
	fi
	if ! kill -0 "$HTTP_PID" 2>/dev/null || ! listening "$NS_S" "$HTTP_BACK"; then
		say "   (nginx gone: restarting it)"
		kill -KILL "$HTTP_PID" 2>/dev/null || true
		in_s pkill -KILL -F "$W/nginx.pid" 2>/dev/null || true
		wait "$HTTP_PID" 2>/dev/null || true
		ip netns exec "$NS_S" nginx -p "$W/" -c "$W/nginx.conf" -e "$W/nginx.error.log" >>"$W/nginx.log" 2>&1 &
		HTTP_PID=$!
		wait_for 10 listening "$NS_S" "$HTTP_BACK" || die "nginx did not restart"
	fi
}

# warm_up: untimed traffic through plain routing, once at start: the first
# setup measured would otherwise pay for cold caches, ARP and the server's
# first connections.
warm_up() {
	in_c timeout -k 3 30 iperf3 -c "$SRV" -p "$IPERF_ROUTE" -t 1 >/dev/null 2>&1 || iperf_restart
	in_c timeout -k 3 30 wrk -t 1 -c 8 -d 1s -H "Connection: close" "http://$SRV:$HTTP_ROUTE/100b" >/dev/null 2>&1 || true
}

# ---- the gateway's kernel-side setups ----
#
# The caller sets TARGET (the address the client connects to), T_IPERF and
# T_HTTP (the ports) first.

# filler_forwards N: N forward lines on 100.64.0.0/10 addresses (not local,
# never reached), 50,000 ports each.
filler_forwards() {
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
		printf "forward tcp 100.64.%d.%d:%d to %s:%d\n", int(i / 50000 / 250), 1 + int(i / 50000) % 250,
			10000 + i % 50000, "'"$SRV"'", '"$HTTP_BACK"' }'
}

# portfwd_conf N FILE: N forwards, the measured two (on T_IPERF, T_HTTP) last.
portfwd_conf() {
	{
		filler_forwards $(($1 - 2))
		echo "forward name iperf tcp $WAN_G:$T_IPERF to $SRV:$IPERF_BACK${PFD_OPTS-}"
		echo "forward name http tcp $WAN_G:$T_HTTP to $SRV:$HTTP_BACK${PFD_OPTS-}"
	} >"$2"
}

# nft_conf N: N hand-written DNAT rules in one chain (file $W/nft.conf), the
# measured two (T_IPERF, T_HTTP) last.
nft_conf() {
	local n=$1
	{
		echo "table ip pfkbench {"
		echo "	chain pre {"
		echo "		type nat hook prerouting priority dstnat; policy accept;"
		awk -v n="$((n - 2))" 'BEGIN { for (i = 0; i < n; i++)
			printf "\t\tip daddr 100.64.%d.%d tcp dport %d dnat to %s:%d\n", int(i / 50000 / 250),
				1 + int(i / 50000) % 250, 10000 + i % 50000, "'"$SRV"'", '"$HTTP_BACK"' }'
		echo "		ip daddr $WAN_G tcp dport $T_IPERF dnat to $SRV:$IPERF_BACK"
		echo "		ip daddr $WAN_G tcp dport $T_HTTP dnat to $SRV:$HTTP_BACK"
		echo "	}"
		echo "}"
	} >"$W/nft.conf"
}

# portfwd_start ENGINE N: portfwd with N forwards; LOAD_MS: from exec to its
# "running" line (config read, table validated, ruleset loaded). PFD_ARGS:
# more options of portfwd; PFD_OPTS: more options of the two measured
# forwards.
portfwd_start() {
	local engine=$1 n=$2 t0 end
	portfwd_conf "$n" "$W/portfwd-$n.conf"
	PFD_LOG=$W/portfwd-$engine-$n.log
	: >"$PFD_LOG"
	t0=$EPOCHREALTIME
	# shellcheck disable=SC2086
	ip netns exec "$NS_G" "$PORTFWD" -e "$engine" ${PFD_ARGS-} -c "$W/portfwd-$n.conf" -s "$W/portfwd.sock" \
		>>"$PFD_LOG" 2>&1 &
	PFD_PID=$!
	end=$(($(now_ms) + BENCH_LOAD_TIMEOUT * 1000))
	until grep -q ' running: ' "$PFD_LOG"; do
		if ! kill -0 "$PFD_PID" 2>/dev/null || (($(now_ms) > end)); then
			say "   !! portfwd -e $engine with $n forwards did not come up: $(tail -2 "$PFD_LOG" | tr '\n' ' ')"
			return 1
		fi
		sleep 0.01
	done
	LOAD_MS=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
}

portfwd_stop() {
	[[ -n $PFD_PID ]] || return 0
	kill -TERM "$PFD_PID" 2>/dev/null || true
	wait_for 60 eval "! kill -0 $PFD_PID 2>/dev/null" || kill -KILL "$PFD_PID" 2>/dev/null || true
	wait "$PFD_PID" 2>/dev/null || true
	PFD_PID=""
	# A daemon killed hard leaves its table.
	in_g nft delete table inet portfw 2>/dev/null || true
}

# ---- samples ----

# gw_samples_init: the CSV of samples ($CSV) and the failures ($FAILS).
gw_samples_init() {
	CSV=$W/samples.csv
	FAILS=$W/failures.txt
	echo "run,setup,metric,value" >"$CSV"
	: >"$FAILS"
}

record() {
	echo "$RUN,$1,$2,$3" >>"$CSV"
}

fail_note() {
	echo "run $RUN: $*" >>"$FAILS"
	say "   !! $*"
}

# ---- measurements ----

# sanity: one HTTP request through the setup returns the file.
sanity() {
	local got
	got=$(in_c timeout 10 curl -sS --max-time 5 "http://$TARGET:$T_HTTP/100b" 2>&1) || true
	[[ $got == "$(cat "$W/www/100b")" ]]
}

# bulk SETUP STREAMS: iperf3 -P STREAMS, client to server, Gbit/s received.
bulk() {
	local setup=$1 streams=$2 json=$W/iperf-$1-$2.json try g
	for try in 1 2; do
		if in_c timeout -k 3 $((BENCH_SECONDS + 30)) iperf3 -c "$TARGET" -p "$T_IPERF" \
			-t "$BENCH_SECONDS" -P "$streams" -J >"$json" 2>"$W/iperf.err"; then
			break
		fi
		if [[ $try == 2 ]]; then
			fail_note "$setup: iperf3 -P $streams failed: $(grep -m1 '"error"' "$json" || head -2 "$W/iperf.err")"
			return 1
		fi
		iperf_restart
	done
	g=$("$PY" -c '
import json, sys
print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9)' "$json") || {
		fail_note "$setup: iperf3 -P $streams: unreadable output"
		return 1
	}
	record "$setup" "bulk$streams" "$g"
	SUMMARY+=" ${streams}x $(calc "$g") Gbit/s;"
}

# cps SETUP: wrk, one request per connection (Connection: close).
cps() {
	local setup=$1 out=$W/wrk-$1.txt rate reqs errs non2xx
	if ! in_c timeout -k 3 $((BENCH_SECONDS + 30)) wrk -t "$BENCH_WRK_THREADS" -c "$BENCH_WRK_CONNS" \
		-d "${BENCH_SECONDS}s" -H "Connection: close" "http://$TARGET:$T_HTTP/100b" >"$out" 2>&1; then
		fail_note "$setup: wrk failed: $(tail -3 "$out")"
		return 1
	fi
	reqs=$(awk '/requests in/ { print $1 }' "$out")
	rate=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
	errs=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")
	non2xx=$(awk '/Non-2xx/ { print $NF }' "$out")
	if [[ -z $reqs || -z $rate || $reqs == 0 ]]; then
		fail_note "$setup: wrk: no requests completed: $(tail -3 "$out")"
		return 1
	fi
	record "$setup" cps "$rate"
	record "$setup" cps_errors "$((${errs:-0} + ${non2xx:-0}))"
	SUMMARY+=" $rate conn/s"
	((${errs:-0} + ${non2xx:-0} == 0)) || SUMMARY+=" (${errs:-0} socket errors, ${non2xx:-0} non-2xx)"
	SUMMARY+=";"
}

# ---- setups both benchmarks have ----

# gw_setup_start NAME: the gateway routes (route), DNATs with one
# hand-written nft rule per port (nft), or runs portfwd with its kernel
# engine (kernel: the two measured forwards; kernel-N: N forwards, N-2 on
# addresses nobody uses, then the two measured ones; kernel-none and
# kernel-none-N: the same with -E none, no conntrack event read) or its user engine
# (user). The caller sets TARGET=$WAN_G, T_IPERF, T_HTTP (the front ports)
# and LOAD_MS="" first; route sets its own. Returns 2 for another NAME.
gw_setup_start() {
	case $1 in
	route) TARGET=$SRV T_IPERF=$IPERF_ROUTE T_HTTP=$HTTP_ROUTE ;;
	nft)
		nft_conf 2
		in_g nft -f "$W/nft.conf"
		;;
	kernel) portfwd_start kernel 2 ;;
	# Without live counters: portfwd reads no conntrack event (-E none).
	kernel-none) PFD_ARGS="-E none" portfwd_start kernel 2 ;;
	kernel-none-*) PFD_ARGS="-E none" portfwd_start kernel "${1#kernel-none-}" ;;
	kernel-*) portfwd_start kernel "${1#kernel-}" ;;
	user) portfwd_start user 2 ;;
	# Pinned relay threads (-a), and forwards that accept a client with its
	# first bytes: iperf3 and HTTP clients speak first.
	user-tuned) PFD_ARGS="-a" PFD_OPTS=" defer-accept" portfwd_start user 2 ;;
	*) return 2 ;;
	esac
}

# gw_setup_stop NAME: undoes any setup (the nft table of the hand-written
# rules, portfwd), then gw_flush: the next setup starts clean.
gw_setup_stop() {
	case $1 in
	kernel | kernel-* | user | user-tuned) portfwd_stop ;;
	esac
	in_g nft delete table ip pfkbench 2>/dev/null || true
	gw_flush
}
