#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Flow logs of the user engine: one line per flow of the forwards with 'log'
# (or all, 'default log'), in text and in JSON, with the bytes each way and
# why it ended (client close, backend close, a refused backend, no backend
# up, an ACL refusal, a UDP session killed); none for a forward without
# 'log'; 'save' and 'list -j' show the settings. Then a log reader that
# never reads: short flows through a logged forward go as fast as through
# one that does not log, every one served, and the records beyond the
# queue are dropped and counted ('list -j'), and the daemon still exits.
source "$(dirname "$0")/lib.sh"
pft_init

PF_UDP=$PORTFW_BUILD/tests/pf_udp
[[ -x $PF_UDP ]] || fail "$PF_UDP not built"
FL=$PFT_NET_DIR/pft_flowlog.py

fl() {
	nsx timeout -k 5 60 "$PFT_PY" "$FL" "$@"
}

fl_serve() {
	local name=$1
	shift
	nsx timeout -k 5 300 "$PFT_PY" "$FL" serve "$@" >"$T/$name.out" 2>"$T/$name.err" &
	wait_for 10 "$name to listen" grep -qs '^listening' "$T/$name.out"
}

# flowlog EXPR: EXPR over the daemon's flow log object (d) of its 'list'
# reply ('portfw list -j' prints the forwards alone).
flowlog() {
	nsx timeout $((20 * PFT_SLOW)) "$PFT_PY" -c '
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(b"list\n")
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
d = json.loads(data)["flowlog"]
print(eval(sys.argv[2]))' "$PFD_SOCK" "$1"
}

# flow_lines FORWARD: the daemon's text flow log lines of FORWARD.
flow_lines() {
	grep -a "^flow $1 " "$PFD_LOG" || true
}

lines_at_least() {
	(($(flow_lines "$1" | wc -l) >= $2))
}

# wait_lines FORWARD N: N lines of FORWARD are in the log.
wait_lines() {
	wait_for 10 "$2 flow log line(s) of $1" lines_at_least "$1" "$2"
}

# expect_line FORWARD REGEX: the last line of FORWARD matches.
expect_line() {
	local l
	l=$(flow_lines "$1" | tail -n 1)
	[[ $l =~ $2 ]] || fail "flow log line of $1: expected /$2/, got: '$l'"
}

T_ISO='start=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

fl_serve reply 127.0.0.1:9001 reply 54321
fl_serve first 127.0.0.1:9002 first 4000
nsx timeout -k 5 300 "$PF_UDP" echo -l 127.0.0.1:7000 >"$T/uecho.out" 2>"$T/uecho.err" &
wait_for 10 "the UDP echo to listen" grep -qs '^listening' "$T/uecho.out"

cat >"$PFD_CONF" <<'EOF2'
forward name web   tcp 127.0.0.1:8001 to 127.0.0.1:9001 log
forward name first tcp 127.0.0.1:8002 to 127.0.0.1:9002 log
forward name dead  tcp 127.0.0.1:8003 to 127.0.0.1:9003 log
forward name none  tcp 127.0.0.1:8004 to 127.0.0.1:9001 log
forward name deny  tcp 127.0.0.1:8006 to 127.0.0.1:9001 log deny 127.0.0.0/8
forward name quiet tcp 127.0.0.1:8005 to 127.0.0.1:9001
forward name u     udp 127.0.0.1:7001 to 127.0.0.1:7000 log
EOF2
pfd_start

info "the client closes first: bytes each way, client-close"
expect_eq "client of web" "$(fl client 127.0.0.1:8001 12345)" "got 54321"
wait_lines web 1
expect_line web "^flow web tcp 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:8001 -> 127\.0\.0\.1:9001 up=12345 down=54321 $T_ISO dur=[0-9]+\.[0-9]{3}s end=client-close engine=user$"

info "the backend closes first: backend-close"
expect_eq "client of first" "$(fl client 127.0.0.1:8002 3000 --wait-eof)" "got 4000"
wait_lines first 1
expect_line first " -> 127\.0\.0\.1:9002 up=3000 down=4000 .* end=backend-close engine=user$"

info "a backend that refuses: refused, naming it; no backend up: no-backend"
expect_open 127.0.0.1:8003 "the dead forward's listener"
wait_lines dead 1
expect_line dead " -> 127\.0\.0\.1:9003 up=0 down=0 .* end=refused engine=user$"
expect_eq "disable the one backend of none" \
	"$(echo 'backend name none 127.0.0.1:9001 disable' | pf_request)" ok
expect_open 127.0.0.1:8004 "the none forward's listener"
wait_lines none 1
expect_line none " -> 127\.0\.0\.1:8004 -> - up=0 down=0 .* end=no-backend engine=user$"

info "a client the ACL refuses: refused, no backend"
expect_open 127.0.0.1:8006 "the deny forward's listener"
wait_lines deny 1
expect_line deny "^flow deny tcp 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:8006 -> - up=0 down=0 .* end=refused engine=user$"

info "a UDP session: bytes each way, logged when it is killed"
got=$(nsx timeout -k 5 30 "$PF_UDP" client -c 127.0.0.1:7001 -n 1 -r 3 -s 100 -t 2000 2>&1) ||
	fail "UDP client: $got"
expect_eq "UDP request/replies" "$got" "ok 3 lost 0 wrong 0"
pf kill name u >/dev/null || fail "portfw kill name u"
wait_lines u 1
expect_line u "^flow u udp 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:7001 -> 127\.0\.0\.1:7000 up=300 down=300 .* end=killed engine=user$"

info "a forward without 'log' logs nothing"
expect_eq "client of quiet" "$(fl client 127.0.0.1:8005 10)" "got 54321"
expect_eq "bytes of quiet" "$(fwd_stat quiet bytes_up)" 10
expect_eq "flow lines of quiet" "$(flow_lines quiet | wc -l)" 0

info "'list -j' and 'save' show the settings and counts"
expect_eq "flowlog format" "$(flowlog 'd["format"]')" text
expect_eq "flowlog default" "$(flowlog 'd["default"]')" False
(($(flowlog 'd["written"]') >= 6)) || fail "flowlog written: $(flowlog d)"
expect_eq "flowlog dropped" "$(flowlog 'd["dropped"]')" 0
expect_eq "web's log option" "$(pf list -j | jget '[f for f in d if f["name"] == "web"][0]["options"]["log"]')" True
expect_eq "quiet's log option" "$(pf list -j | jget '[f for f in d if f["name"] == "quiet"][0]["options"]["log"]')" False

info "log-format json and default log: every forward, one JSON object a line"
capture pf log-format xml
[[ $RC != 0 ]] || fail "portfw log-format xml was taken"
expect_in "portfw log-format xml" "$ERR" "'log-format' expects text or json"
expect_eq "flowlog format after a refused change" "$(flowlog 'd["format"]')" text
pf log-format json >/dev/null || fail "portfw log-format json"
pf default log >/dev/null || fail "portfw default log"
saved=$(pf save)
expect_in "save" "$saved" $'\ndefault log\n'
expect_in "save" "$saved" $'\nlog-format json\n'
expect_in "save" "$saved" "forward name web tcp 127.0.0.1:8001 to 127.0.0.1:9001 log"
expect_eq "client of quiet" "$(fl client 127.0.0.1:8005 777)" "got 54321"
expect_eq "client of first" "$(fl client 127.0.0.1:8002 3000 --wait-eof)" "got 4000"
wait_for 10 "2 JSON flow lines" eval '(($(grep -ac "^{\"forward\"" "$PFD_LOG") >= 2))'
grep -a '^{"forward"' "$PFD_LOG" | "$PFT_PY" -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
keys = {"forward", "proto", "client", "listen", "backend", "bytes_up", "bytes_down",
        "start", "duration_ms", "end", "engine"}
by = {r["forward"]: r for r in recs}
for r in recs:
    assert set(r) == keys, r
q, f = by["quiet"], by["first"]
assert (q["bytes_up"], q["bytes_down"], q["end"]) == (777, 54321, "client-close"), q
assert q["listen"] == "127.0.0.1:8005" and q["backend"] == "127.0.0.1:9001", q
assert (f["bytes_up"], f["bytes_down"], f["end"]) == (3000, 4000, "backend-close"), f
assert f["proto"] == "tcp" and f["engine"] == "user" and f["duration_ms"] >= 0, f
' || fail "JSON flow lines: $(grep -a '^{' "$PFD_LOG")"
expect_eq "flowlog format" "$(flowlog 'd["format"]')" json
expect_eq "flowlog default" "$(flowlog 'd["default"]')" True
pfd_stop
# The last lines: the flows ended by the stop are logged too ('shutdown'),
# none here (every flow ended).

info "a reader that never reads: the relay does not slow down, records drop"
fl_serve echo 127.0.0.1:9101 echo
cat >"$PFD_CONF" <<'EOF2'
forward name flood tcp 127.0.0.1:8101 to 127.0.0.1:9101 log
forward name plain tcp 127.0.0.1:8102 to 127.0.0.1:9101
EOF2
# stderr is a pipe that this shell holds open and nobody reads.
mkfifo "$T/err.fifo"
exec 3<>"$T/err.fifo"
rm -f "$T/err.fifo"
PFD_LOG=$T/portfwd-stalled.log
: >"$PFD_LOG"
(
	# Sanitizer reports into files of their own: stderr is stalled.
	export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:log_path=$T/stalled-asan
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$T/stalled-ubsan
	export TSAN_OPTIONS=second_deadlock_stack=1:log_path=$T/stalled-tsan
	exec ip netns exec "$NS" "$PORTFWD" -c "$PFD_CONF" -s "$PFD_SOCK"
) 2>&3 3>&- &
PFD_PID=$!
wait_for 10 "the stalled daemon to answer" eval 'pf list >/dev/null 2>&1'
N=6000
plain=$(fl flood 127.0.0.1:8102 "$N" --threads 4)
info "without log: $plain"
logged=$(fl flood 127.0.0.1:8101 "$N" --threads 4)
info "logged, reader stalled: $logged"
[[ $plain == "ok $N failed 0 "* ]] || fail "flows through the plain forward: $plain"
[[ $logged == "ok $N failed 0 "* ]] || fail "flows through the logged forward: $logged"
"$PFT_PY" -c '
import sys
p, l = float(sys.argv[1].split()[-1]), float(sys.argv[2].split()[-1])
sys.exit(0 if l <= 2 * p + 3 else 1)' "$plain" "$logged" ||
	fail "the stalled log slowed the relay: $logged against $plain"
info "flow log: $(flowlog d)"
(($(flowlog 'd["dropped"]') > 0)) || fail "no record dropped with the reader stalled: $(flowlog d)"
(($(flowlog 'd["written"] + d["dropped"]') <= N)) || fail "more records than flows: $(flowlog d)"
expect_eq "flows of flood" "$(fwd_stat flood conns)" "$N"
# The daemon exits even so (the writer gives up on the reader).
pfd_stop
# What the pipe holds: the daemon's own lines (and any sanitizer report).
timeout 5 dd if=/dev/fd/3 iflag=nonblock of="$PFD_LOG" 2>/dev/null || true
exec 3>&-
pfd_check_log
pft_done
