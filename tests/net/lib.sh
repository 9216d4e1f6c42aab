# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Shared helpers of the end-to-end tests (tests/net/t_*.sh). Each test is a
# bash script that sources this file and calls pft_init: it gets a private
# network namespace $NS (loopback up), a temp dir $T, and a cleanup trap that
# kills everything left in its namespaces, deletes them, and fails the test if
# any log under $T holds a sanitizer report (the same scripts run against the
# ASan/UBSan and TSan builds).
#
# Binaries come from $PORTFW_BUILD (portfwd, portfw, tests/pf_xfer).

set -euo pipefail
# Under pipefail, an assertion 'CMD | grep -q RE' fails at random when CMD
# writes piecewise (nft does) and gets SIGPIPE once grep has matched and
# exited: such assertions read the whole output, 'CMD | grep RE >/dev/null'.

PFT_NET_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${PORTFW_BUILD:=$(cd "$PFT_NET_DIR/../.." && pwd)/build}"
PORTFWD=$PORTFW_BUILD/portfwd
PORTFW=$PORTFW_BUILD/portfw
PF_XFER=$PORTFW_BUILD/tests/pf_xfer
# Debian's interpreter directly: a pyenv shim in PATH costs ~150 ms a call.
if [[ -x /usr/bin/python3 ]]; then PFT_PY=/usr/bin/python3; else PFT_PY=python3; fi
PFT_TCP=$PFT_NET_DIR/pft_tcp.py

# Instrumented binaries (ASan or TSan) are several times slower: deadlines
# that only bound how long we wait (never what we assert) are multiplied by
# PFT_SLOW.
PFT_SLOW=1
if grep -qaE '__(asan|tsan)_init' "$PORTFWD" 2>/dev/null; then PFT_SLOW=3; fi

PFT_SAN_RE='AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer'

# ---- failing and cleaning up ----

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

info() {
	echo "-- $*"
}

# fail_later MESSAGE: reports a failure but lets the test check the rest
# (the test still fails, at pft_done or exit).
PFT_SOFT_FAILS=0
fail_later() {
	echo "FAIL: $*" >&2
	PFT_SOFT_FAILS=$((PFT_SOFT_FAILS + 1))
}

# pft_done: the end of a test; fails if any fail_later did.
pft_done() {
	((PFT_SOFT_FAILS == 0)) || fail "$PFT_SOFT_FAILS check(s) failed (see above)"
	info "ok"
}

PFT_NSES=()

pft_cleanup() {
	local rc=$? ns pids f
	set +e
	trap - EXIT
	if ((rc == 0 && PFT_SOFT_FAILS)); then rc=1; fi
	# Everything a test starts runs in one of its namespaces, or is one of
	# its jobs. Disowned first, so bash does not report each kill.
	pids=$(jobs -p)
	disown -a
	for ns in "${PFT_NSES[@]}"; do
		pids+=" $(ip netns pids "$ns" 2>/dev/null)"
	done
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null
	for f in $pids; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			pid_alive "$f" || break
			sleep 0.1
		done
	done
	for ns in "${PFT_NSES[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	if [[ -n ${T-} && -d $T ]]; then
		f=$(grep -rlE --binary-files=without-match "$PFT_SAN_RE" "$T" 2>/dev/null)
		if [[ -n $f ]]; then
			echo "FAIL: sanitizer report in: $f" >&2
			# shellcheck disable=SC2086
			grep -hE -A30 "$PFT_SAN_RE" $f | head -120 >&2
			rc=1
		fi
		if [[ $rc != 0 ]]; then
			for f in "$T"/portfwd-*.log; do
				[[ -e $f ]] || continue
				echo "---- last lines of $f" >&2
				tail -n 40 "$f" >&2
			done
		fi
		if [[ ${PFT_KEEP-0} == 1 ]]; then
			echo "(kept $T)" >&2
		else
			rm -rf "$T"
		fi
	fi
	exit "$rc"
}

# pft_init: the test's temp dir $T, namespace $NS and cleanup trap.
pft_init() {
	[[ $(id -u) == 0 ]] || fail "these tests need root (network namespaces)"
	local b
	for b in "$PORTFWD" "$PORTFW" "$PF_XFER"; do
		[[ -x $b ]] || fail "$b not built (make BUILD=... all \$BUILD/tests/pf_xfer)"
	done
	PFT_NAME=$(basename "$0" .sh)
	T=$(mktemp -d "/tmp/pft-${PFT_NAME#t_}.XXXXXX")
	trap pft_cleanup EXIT
	# The daemon runs under a name of its own (the process name comes from the
	# link): a 'pkill portfwd' elsewhere on a shared machine must not stop it
	# in the middle of a test.
	ln -s "$PORTFWD" "$T/pfd-test"
	PORTFWD=$T/pfd-test
	trap 'exit 143' TERM
	trap 'exit 130' INT
	ns_add main
	NS=$NS_LAST
	PFD_CONF=$T/portfw.conf
	PFD_SOCK=$T/ctl.sock
	PFD_N=0
	: >"$PFD_CONF"
}

# ns_add TAG: creates namespace pft-<test>-TAG-<pid> with lo up, named in NS_LAST.
ns_add() {
	NS_LAST="pft-${PFT_NAME#t_}-$1-$$"
	ip netns add "$NS_LAST" || fail "ip netns add $NS_LAST"
	PFT_NSES+=("$NS_LAST")
	ip -n "$NS_LAST" link set lo up
}

# topo_gateway: the test's namespace as a gateway G between a client C and a
# server S, each on a link of its own, routed through G:
#
#   C 198.51.100.2 --- wan 198.51.100.1  G  10.0.0.1 lan --- S 10.0.0.2
topo_gateway() {
	G=$NS
	ns_add c
	C=$NS_LAST
	ns_add s
	S=$NS_LAST
	ip link add wan netns "$G" type veth peer name eth0 netns "$C"
	ip -n "$G" addr add 198.51.100.1/24 dev wan
	ip -n "$G" link set wan up
	ip -n "$C" addr add 198.51.100.2/24 dev eth0
	ip -n "$C" link set eth0 up
	ip link add lan netns "$G" type veth peer name eth0 netns "$S"
	ip -n "$G" addr add 10.0.0.1/24 dev lan
	ip -n "$G" link set lan up
	ip -n "$S" addr add 10.0.0.2/24 dev eth0
	ip -n "$S" link set eth0 up
	ip -n "$S" route add default via 10.0.0.1
	ip -n "$C" route add default via 198.51.100.1
}

# in_ns NS CMD...: runs CMD in namespace NS.
in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# nsx CMD...: runs CMD in the test's namespace.
nsx() {
	ip netns exec "$NS" "$@"
}

# ---- time and polling ----

now_ms() {
	local t=${EPOCHREALTIME//[.,]/}
	echo $((t / 1000))
}

# wait_for SECONDS WHAT CMD...: polls CMD every 50 ms until it succeeds; the
# test fails naming WHAT if it did not within SECONDS (x PFT_SLOW).
wait_for() {
	local secs=$1 what=$2 end
	shift 2
	end=$(($(now_ms) + secs * 1000 * PFT_SLOW))
	until "$@"; do
		(($(now_ms) < end)) || fail "timed out after ${secs}s waiting for $what"
		sleep 0.05
	done
}

pid_alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[[ ${s%% *} != Z ]]
}

pid_gone() {
	! pid_alive "$1"
}

# capture CMD...: runs CMD; its stdout, stderr and status land in OUT, ERR, RC
# (a failing CMD does not stop the test).
capture() {
	local o=$T/.capture.out e=$T/.capture.err
	RC=0
	"$@" >"$o" 2>"$e" || RC=$?
	OUT=$(<"$o")
	ERR=$(<"$e")
	# Kept for the sanitizer scan at exit.
	cat "$e" >>"$T/captured.err"
}

# ---- the daemon ----

# pfd_start [-u NOFILE] [PORTFWD_OPTION...]: starts portfwd in $NS on $PFD_CONF
# and $PFD_SOCK, log in $PFD_LOG, pid in $PFD_PID; returns once the control
# socket answers. -u: the descriptor limit (soft and hard) of the daemon.
pfd_start() {
	local nofile="" end
	if [[ ${1-} == -u ]]; then
		nofile=$2
		shift 2
	fi
	PFD_N=$((PFD_N + 1))
	PFD_LOG=$T/portfwd-$PFD_N.log
	(
		if [[ -n $nofile ]]; then ulimit -n "$nofile"; fi
		export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
		export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
		export TSAN_OPTIONS=second_deadlock_stack=1
		# shellcheck disable=SC2086 # PFT_PFD_ARGS: extra options (-v) when debugging
		exec ip netns exec "$NS" "$PORTFWD" -c "$PFD_CONF" -s "$PFD_SOCK" "$@" ${PFT_PFD_ARGS-}
	) 2>"$PFD_LOG" &
	PFD_PID=$!
	end=$(($(now_ms) + 10000 * PFT_SLOW))
	until timeout 5 "$PORTFW" -s "$PFD_SOCK" list >/dev/null 2>&1; do
		pid_alive "$PFD_PID" || fail "portfwd exited during startup: $(cat "$PFD_LOG")"
		(($(now_ms) < end)) || fail "portfwd did not answer on $PFD_SOCK within 10 s"
		sleep 0.05
	done
}

# pfd_check_log: the daemon log holds no sanitizer report.
pfd_check_log() {
	if grep -qE "$PFT_SAN_RE" "$PFD_LOG"; then
		fail "sanitizer report in $PFD_LOG: $(grep -E -A20 "$PFT_SAN_RE" "$PFD_LOG")"
	fi
}

# pfd_stop [SIGNAL]: stops the daemon (TERM by default); asserts it exited 0,
# removed its control socket and logged no sanitizer report. SIGTERM and
# SIGINT let open flows drain (drain-timeout, 30 s by default): a test that
# leaves some does not wait for them, the same signal again 1 s later cuts
# them (t_drain tests the drain itself).
pfd_stop() {
	local sig=${1:-TERM} rc=0 end
	pid_alive "$PFD_PID" || fail "portfwd (pid $PFD_PID) died before it was stopped"
	kill "-$sig" "$PFD_PID"
	if [[ $sig == TERM || $sig == INT ]]; then
		end=$(($(now_ms) + 1000 * PFT_SLOW))
		while pid_alive "$PFD_PID" && (($(now_ms) < end)); do sleep 0.05; done
		if pid_alive "$PFD_PID"; then kill "-$sig" "$PFD_PID"; fi
	fi
	wait_for 10 "portfwd to exit on SIG$sig" pid_gone "$PFD_PID"
	wait "$PFD_PID" || rc=$?
	[[ $rc == 0 ]] || fail "portfwd exited with status $rc on SIG$sig"
	[[ ! -e $PFD_SOCK ]] || fail "portfwd left its control socket $PFD_SOCK behind"
	pfd_check_log
}

# pf ARGS...: the client, in the namespace, on the test daemon's socket.
# Bounded: a wedged daemon fails the test (status 124) instead of hanging it.
pf() {
	ip netns exec "$NS" timeout $((20 * PFT_SLOW)) "$PORTFW" -s "$PFD_SOCK" "$@"
}

# pf_request [KEY]: sends its standard input to the control socket as one
# request, straight (not through 'portfw', which checks what it sends), and
# prints the error of the daemon's JSON answer, else "ok" (or, with KEY,
# what the answer holds under KEY).
pf_request() {
	nsx timeout $((30 * PFT_SLOW)) "$PFT_PY" -c '
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(sys.stdin.buffer.read())
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
r = json.loads(data)
print(r["error"] if not r["ok"] else r[sys.argv[2]] if len(sys.argv) > 2 else "ok")' "$PFD_SOCK" "$@"
}

# jget EXPR: prints a Python expression over the JSON document on stdin (d).
jget() {
	"$PFT_PY" -c '
import json, sys
d = json.load(sys.stdin)
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$1"
}

# fwd_stat NAME KEY: a counter of the forward named NAME in 'portfw list -j'.
fwd_stat() {
	local j
	j=$(pf list -j) || fail "portfw list -j failed"
	jget "[f for f in d if f['name'] == '$1'][0]['$2']" <<<"$j"
}

# be_stat NAME INDEX KEY: a counter of backend INDEX of forward NAME.
be_stat() {
	local j
	j=$(pf list -j) || fail "portfw list -j failed"
	jget "[f for f in d if f['name'] == '$1'][0]['backends'][$2]['$3']" <<<"$j"
}

# nconns [FORWARD]: how many flows 'portfw conns -j' lists (of FORWARD).
nconns() {
	local j
	j=$(pf conns -j) || fail "portfw conns -j failed"
	jget "len([c for c in d if '${1-}' in ('', c['forward'])])" <<<"$j"
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[[ $2 == "$3" ]] || fail "$1: got '$2', expected '$3'"
}

# expect_in WHAT TEXT NEEDLE: TEXT contains NEEDLE.
expect_in() {
	[[ $2 == *"$3"* ]] || fail "$1: expected '$3' in: $2"
}

# listen_inodes PORT: inodes of the daemon's sockets listening on TCP PORT
# (one per worker: SO_REUSEPORT), sorted on one line; empty if none.
listen_inodes() {
	nsx ss -Hltnpe "sport = :$1" 2>/dev/null | grep "pid=$PFD_PID," | grep -o 'ino:[0-9]*' |
		sort | tr '\n' ' ' || true
}

# ---- traffic ----

# Every transfer is bounded: pf_xfer's own -t and an outer timeout.
PFT_XFER_LIMIT=${PFT_XFER_LIMIT:-180}

# xfer_server NAME ARGS...: pf_xfer server in $NS (output $T/NAME.out,
# stderr $T/NAME.err, pid in XFER_PID); returns once it listens.
xfer_server() {
	local name=$1
	shift
	nsx timeout -k 5 "$PFT_XFER_LIMIT" "$PF_XFER" server "$@" >"$T/$name.out" \
		2>"$T/$name.err" &
	XFER_PID=$!
	wait_for 10 "pf_xfer server $name to listen" grep -qs '^listening' "$T/$name.out"
}

# xfer_client_bg NAME ARGS...: pf_xfer client in the background, pid in XFER_PID.
xfer_client_bg() {
	local name=$1
	shift
	nsx timeout -k 5 "$PFT_XFER_LIMIT" "$PF_XFER" client "$@" >"$T/$name.out" \
		2>"$T/$name.err" &
	XFER_PID=$!
}

# xfer_client NAME ARGS...: pf_xfer client in the foreground; status in XFER_RC.
xfer_client() {
	local name=$1
	shift
	XFER_RC=0
	nsx timeout -k 5 "$PFT_XFER_LIMIT" "$PF_XFER" client "$@" >"$T/$name.out" \
		2>"$T/$name.err" || XFER_RC=$?
}

# wait_pid PID WHAT [SECONDS]: waits for a background job, fails unless it
# exited 0 within SECONDS (default 60, x PFT_SLOW).
wait_pid() {
	local pid=$1 what=$2 secs=${3:-60} rc=0
	wait_for "$secs" "$what to finish" pid_gone "$pid"
	wait "$pid" || rc=$?
	[[ $rc == 0 ]] || fail "$what exited with status $rc"
}

# check_xfer CLIENT SERVER N UP DOWN: the outputs of pf_xfer client CLIENT and
# server SERVER show N connections, each carrying UP bytes client->server and
# DOWN bytes back, and the multisets of hashes sent and received agree both
# ways (so every byte arrived, in order, exactly once).
check_xfer() {
	local c=$T/$1.out s=$T/$2.out n=$3 up=$4 down=$5 got
	if grep -q FAILED "$c" "$s"; then
		fail "transfer $1/$2 failed: $(grep -h FAILED "$c" "$s" | head -5) $(cat "$T/$1.err" "$T/$2.err" | head -5)"
	fi
	got=$(grep -c '^client ' "$c" || true)
	expect_eq "$1: connections reported by the client" "$got" "$n"
	got=$(grep -c '^server ' "$s" || true)
	expect_eq "$2: connections reported by the server" "$got" "$n"
	# client IDX sent BYTES SHA recv BYTES SHA
	got=$(awk '/^client / && ($4 != '"$up"' || $7 != '"$down"')' "$c" | head -3)
	[[ -z $got ]] || fail "$1: wrong byte counts (want up $up, down $down): $got"
	got=$(awk '/^server / && ($4 != '"$down"' || $7 != '"$up"')' "$s" | head -3)
	[[ -z $got ]] || fail "$2: wrong byte counts (want up $up, down $down): $got"
	diff <(awk '/^client /{print $4, $5}' "$c" | sort) \
		<(awk '/^server /{print $7, $8}' "$s" | sort) >/dev/null ||
		fail "$1/$2: what the clients sent differs from what the servers received"
	diff <(awk '/^server /{print $4, $5}' "$s" | sort) \
		<(awk '/^client /{print $7, $8}' "$c" | sort) >/dev/null ||
		fail "$1/$2: what the servers sent differs from what the clients received"
}

# tcp ARGS...: the pft_tcp.py helper in $NS, bounded in time.
tcp() {
	nsx timeout -k 5 120 "$PFT_PY" "$PFT_TCP" "$@"
}

# tcp_bg NAME ARGS...: a pft_tcp.py server in the background ($T/NAME.out,
# pid in TCP_PID); returns once it listens.
tcp_bg() {
	local name=$1
	shift
	nsx timeout -k 5 300 "$PFT_PY" "$PFT_TCP" "$@" >"$T/$name.out" 2>"$T/$name.err" &
	TCP_PID=$!
	wait_for 10 "$name to listen" grep -qs '^listening' "$T/$name.out"
}

# probe ADDR:PORT: prints open, refused, timeout or an errno name.
probe() {
	tcp probe "$1" --wait 3
}

expect_refused() {
	local r
	r=$(probe "$1")
	[[ $r == refused ]] || fail "$2: connecting to $1 gave '$r', expected refused"
}

# expect_open ADDR:PORT WHAT: something listens there. A reset right after the
# handshake counts: portfwd accepted, then dropped the client (no backend).
expect_open() {
	local r
	r=$(probe "$1")
	[[ $r == open || $r == ECONNRESET ]] ||
		fail "$2: connecting to $1 gave '$r', expected open"
}

# ---- nginx ----

# nginx_start PORT:ROOT...: one nginx in $NS (foreground, own config, pid and
# logs under $T/nginx), a server on 127.0.0.1:PORT serving ROOT for each pair.
# Access log: $T/nginx/access.log.
nginx_start() {
	local d=$T/nginx pr port
	mkdir -p "$d/tmp"
	{
		echo "daemon off;"
		echo "master_process off;"
		echo "worker_processes 1;"
		echo "pid $d/nginx.pid;"
		echo "error_log $d/error.log;"
		echo "events { worker_connections 1000; }"
		echo "http {"
		echo "  access_log $d/access.log;"
		echo "  client_body_temp_path $d/tmp/body;"
		echo "  proxy_temp_path $d/tmp/proxy;"
		echo "  fastcgi_temp_path $d/tmp/fastcgi;"
		echo "  uwsgi_temp_path $d/tmp/uwsgi;"
		echo "  scgi_temp_path $d/tmp/scgi;"
		echo "  default_type application/octet-stream;"
		for pr in "$@"; do
			echo "  server { listen 127.0.0.1:${pr%%:*}; root ${pr#*:}; }"
		done
		echo "}"
	} >"$d/nginx.conf"
	nsx timeout -k 5 600 nginx -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" \
		>"$d/stdout.log" 2>&1 &
	NGINX_PID=$!
	for pr in "$@"; do
		port=${pr%%:*}
		wait_for 10 "nginx to listen on $port" eval \
			"nsx ss -Hltn 'sport = :$port' | grep -q LISTEN"
	done
}
