#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The binary upgrade (portfw upgrade, SIGUSR2): 20 upgrades, alternating,
# while 4 clients connect without pause and one slow stream runs through
# them all: no connect fails, the stream arrives byte-exact, each old
# portfwd exits once its flows end and holds no listener after the
# handover, the last one has the descriptors of a fresh start, UDP still
# answers. An upgrade to a binary that cannot start, or with a config it
# refuses, fails with the reason and the old one serves on. A kernel engine
# forward carries a stream through an upgrade; with -u the upgrade runs as
# the unprivileged user.
#
#   C 198.51.100.2 --- wan 198.51.100.1  G  10.0.0.1 lan --- S 10.0.0.2
source "$(dirname "$0")/lib.sh"
pft_init
topo_gateway

PF_UDP=$PORTFW_BUILD/tests/pf_udp
[[ -x $PF_UDP ]] || fail "$PF_UDP not built"
UPGRADES=${PFT_UPGRADES:-20}

# The clients: each one connects, reads the greeting, closes, again, until
# $T/stop exists (or 80 s, or COUNT connects each); prints "ok N fail M" and the first failures.
cat >"$T/loop.py" <<'EOF'
import os, socket, sys, threading, time
addr, stop, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
most = int(sys.argv[4]) if len(sys.argv) > 4 else 1 << 30
host, port = addr.rsplit(":", 1)
res = {"ok": 0, "fail": 0, "why": []}
lock = threading.Lock()
def run():
    end = time.monotonic() + 80
    for _ in range(most):
        if os.path.exists(stop) or time.monotonic() > end:
            break
        why = None
        try:
            s = socket.create_connection((host, int(port)), timeout=5)
            data = b""
            while len(data) < 5:
                b = s.recv(5 - len(data))
                if not b:
                    break
                data += b
            s.close()
            if data != b"hello":
                why = "reply %r" % data
        except OSError as e:
            why = str(e)
        with lock:
            if why:
                res["fail"] += 1
                res["why"].append(why)
            else:
                res["ok"] += 1
t = [threading.Thread(target=run) for _ in range(n)]
for x in t: x.start()
for x in t: x.join()
print("ok %d fail %d" % (res["ok"], res["fail"]), flush=True)
for w in res["why"][:5]: print("failure:", w, flush=True)
EOF

# fd_count PID: its open descriptors.
fd_count() {
	find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l
}

# holders PORT: the pids holding TCP PORT's listening sockets, sorted, unique.
holders() {
	nsx ss -Hltnp "sport = :$1" | grep -o 'pid=[0-9]*' | sort -u | tr '\n' ' '
}

# upgrade HOW: one upgrade by 'portfw upgrade' or SIGUSR2; the new pid in
# PFD_PID, the old one in OLD_PID.
upgrade() {
	local how=$1 new
	OLD_PID=$PFD_PID
	if [[ $how == cli ]]; then
		capture pf upgrade
		[[ $RC == 0 ]] || fail "portfw upgrade failed: $ERR"
		new=$(sed -n 's/^portfwd upgraded: pid \([0-9]*\) is serving.*/\1/p' <<<"$OUT")
	else
		local n0
		n0=$(grep -c "is ready after" "$PFD_LOG" || true)
		kill -USR2 "$OLD_PID"
		wait_for 20 "the SIGUSR2 upgrade" eval \
			'(( $(grep -c "is ready after" "$PFD_LOG" || true) > n0 ))'
		new=$(grep -o 'the new portfwd (pid [0-9]*) is ready' "$PFD_LOG" | tail -1 |
			grep -o '[0-9]*')
	fi
	[[ -n $new && $new != "$OLD_PID" ]] || fail "upgrade ($how): no new pid in: $OUT"
	pid_alive "$new" || fail "upgrade ($how): the new portfwd $new is not running"
	PFD_PID=$new
}

tcp_bg greet greet 127.0.0.1:9000 hello
nsx timeout -k 5 120 "$PF_UDP" echo -l 127.0.0.1:7000 >"$T/echo.out" 2>"$T/echo.err" &
wait_for 10 "the UDP echo server to listen" grep -qs '^listening' "$T/echo.out"
cat >"$PFD_CONF" <<'EOF'
drain-timeout 60s
status 127.0.0.1:8080
forward name G tcp 127.0.0.1:8000 to 127.0.0.1:9000
forward name X tcp 127.0.0.1:8001 to 127.0.0.1:9001
forward name U udp 127.0.0.1:7001 to 127.0.0.1:7000
forward name K tcp 198.51.100.1:8100 to 10.0.0.2:9100 engine kernel
EOF
pfd_start -w 2 -W wan

info "an upgrade to a binary that cannot start fails and the old one serves on"
mv "$T/pfd-test" "$T/pfd-test.real"
printf '#!/bin/sh\necho "not a portfwd" >&2\nexit 1\n' >"$T/pfd-test"
chmod +x "$T/pfd-test"
capture pf upgrade
[[ $RC != 0 ]] || fail "an upgrade to a binary that exits 1 succeeded"
expect_in "the failed upgrade's reason" "$ERR" "exited with status 1 before it was ready"
expect_in "the failed upgrade's reason" "$ERR" "serves on"
info "said: $ERR"
rm "$T/pfd-test"
mv "$T/pfd-test.real" "$T/pfd-test"
cp "$PFD_CONF" "$T/good.conf"
echo "forward name BAD tcp 127.0.0.1:8002 to nowhere:" >>"$PFD_CONF"
capture pf upgrade
[[ $RC != 0 ]] || fail "an upgrade with a bad config succeeded"
expect_in "the refused config's reason" "$ERR" "refused to start"
expect_in "the refused config's reason" "$ERR" "portfw.conf:7"
info "said: $ERR"
cp "$T/good.conf" "$PFD_CONF"
pid_alive "$PFD_PID" || fail "portfwd died after the failed upgrades"
# What the first upgrade's process holds before any flow (the relay keeps
# spare sockets and pipes once it had some) is the measure of the last
# one's. Not a fresh start's: that one also has what its parent left open
# without O_CLOEXEC (the test's lock), which an upgrade does not pass on.
FRESH_FDS=$(fd_count "$PFD_PID")
upgrade cli
wait_for 10 "the old portfwd $OLD_PID to exit" pid_gone "$OLD_PID"
wait "$OLD_PID" || fail "the first portfwd exited with status $? after the upgrade"
pf list >/dev/null || fail "portfw list after the first upgrade"
ls -l "/proc/$PFD_PID/fd" >"$T/fds.first"
UP_FDS=$(fd_count "$PFD_PID")
info "descriptors: $FRESH_FDS after a fresh start, $UP_FDS after an upgrade"
((UP_FDS <= FRESH_FDS)) || fail "an upgrade holds more descriptors ($UP_FDS) than a fresh start"
expect_eq "the forward after the failed upgrades" \
	"$(nsx timeout 20 "$PFT_PY" "$T/loop.py" 127.0.0.1:8000 "$T/stop" 1 3)" "ok 3 fail 0"
out=$(nsx timeout 20 "$PF_UDP" client -c 127.0.0.1:7001 -n 1 -r 1 -t 1000 2>&1)
expect_eq "UDP after the failed upgrades" "$out" "ok 1 lost 0 wrong 0"
expect_eq "listeners after the failed upgrades" "$(holders 8000)" "pid=$PFD_PID "

info "$UPGRADES upgrades under 4 clients connecting without pause and a slow stream"
# Read at 2 MB/s: the stream lasts 25 s, whatever the buffers on the way
# (20 upgrades of an instrumented build took 16 s on the development VM).
xfer_server srv -l 127.0.0.1:9001 -n 1 -S 50000000
xfer_client_bg stream -c 127.0.0.1:8001 -n 1 -s 1000 -R 2000000 -t 60
stream=$XFER_PID
nsx timeout -k 5 100 "$PFT_PY" "$T/loop.py" 127.0.0.1:8000 "$T/stop" 4 >"$T/loop.out" 2>&1 &
loop=$!
sleep 0.5
t0=$(now_ms)
olds=()
STREAM_PID=$PFD_PID
for ((i = 1; i <= UPGRADES; i++)); do
	if ((i % 2)); then upgrade cli; else upgrade sig; fi
	olds+=("$OLD_PID")
	expect_eq "upgrade $i: port 8000's listeners" "$(holders 8000)" "pid=$PFD_PID "
	expect_eq "upgrade $i: the status server's listener" "$(holders 8080)" "pid=$PFD_PID "
	# The old ones without the stream go as soon as their clients did.
	if ((i > 1)); then
		wait_for 10 "the old portfwd $OLD_PID to exit after upgrade $i" pid_gone "$OLD_PID"
	fi
done
info "$UPGRADES upgrades in $(($(now_ms) - t0)) ms"
pid_alive "$stream" || fail "the stream ended before the last upgrade (make it longer)"
touch "$T/stop"
wait_pid "$loop" "the connecting clients" 20
info "clients: $(head -1 "$T/loop.out")"
grep -q '^ok [1-9][0-9]* fail 0$' "$T/loop.out" || fail "failed connects: $(cat "$T/loop.out")"
wait_pid "$stream" "the slow stream" 60
check_xfer stream srv 1 1000 50000000
wait_for 5 "the portfwd of the stream to exit once it ended" pid_gone "$STREAM_PID"
for p in "${olds[@]}"; do pid_alive "$p" && fail "the old portfwd $p still runs"; done
[[ -S $PFD_SOCK ]] || fail "the control socket is gone after the upgrades"
out=$(nsx timeout 20 "$PF_UDP" client -c 127.0.0.1:7001 -n 5 -r 1 -t 1000 2>&1)
expect_eq "UDP after the upgrades" "$out" "ok 5 lost 0 wrong 0"
pfd_check_log

info "a kernel engine stream through an upgrade"
in_ns "$S" timeout -k 5 60 "$PF_XFER" server -l 10.0.0.2:9100 -n 1 -S 4000000 \
	>"$T/ksrv.out" 2>"$T/ksrv.err" &
wait_for 10 "the kernel stream's server" grep -qs '^listening' "$T/ksrv.out"
in_ns "$C" timeout -k 5 60 "$PF_XFER" client -c 198.51.100.1:8100 -n 1 -s 1000 -R 1000000 \
	-t 30 >"$T/kcli.out" 2>"$T/kcli.err" &
kcli=$!
wait_for 5 "the kernel stream to start" eval '[[ $(nconns K) == 1 ]]'
upgrade cli
wait_for 10 "the old portfwd $OLD_PID to exit" pid_gone "$OLD_PID"
pid_alive "$kcli" || fail "the kernel stream ended before the old portfwd exited (make it longer)"
nsx nft list table inet portfw >/dev/null || fail "the kernel table is gone after the upgrade"
wait_pid "$kcli" "the kernel stream" 30
check_xfer kcli ksrv 1 1000 4000000

info "a second upgrade while one is in progress is refused"
n0=$(grep -c "is ready after" "$PFD_LOG" || true)
kill -USR2 "$PFD_PID"
capture pf upgrade
if [[ $RC != 0 ]]; then
	expect_in "an upgrade during an upgrade" "$ERR" "an upgrade is in progress"
	wait_for 20 "the SIGUSR2 upgrade" eval \
		'(( $(grep -c "is ready after" "$PFD_LOG" || true) > n0 ))'
	PFD_PID=$(grep -o 'the new portfwd (pid [0-9]*) is ready' "$PFD_LOG" | tail -1 |
		grep -o '[0-9]*')
else
	info "(the SIGUSR2 upgrade was over before the request: not checked this time)"
	PFD_PID=$(sed -n 's/^portfwd upgraded: pid \([0-9]*\) is serving.*/\1/p' <<<"$OUT")
fi
# No flow reached it yet: a fresh start's descriptors, no more, once its
# loop runs (as the fresh start's were counted).
pf list >/dev/null || fail "portfw list after the last upgrade"
ls -l "/proc/$PFD_PID/fd" >"$T/fds.last"
expect_eq "descriptors after $((UPGRADES + 3)) upgrades (the first: $UP_FDS)" \
	"$(fd_count "$PFD_PID")" "$UP_FDS"
# Not the shell's child any more (the old one started it): no pfd_stop.
kill -TERM "$PFD_PID"
wait_for 10 "the last portfwd to exit" pid_gone "$PFD_PID"
[[ ! -e $PFD_SOCK ]] || fail "the last portfwd left its control socket behind"
pfd_check_log

info "under -u nobody: the new portfwd runs as nobody with the two capabilities"
id nobody >/dev/null 2>&1 || fail "no user 'nobody' on this system"
# What nobody must reach: the binary's link, the config, and a directory
# for the socket that it owns (to remove the socket at exit).
chmod 755 "$T"
chmod 644 "$PFD_CONF"
mkdir "$T/run"
chown nobody "$T/run"
PFD_SOCK=$T/run/ctl.sock
pfd_start -w 2 -W wan -u nobody
upgrade cli
wait_for 10 "the old portfwd $OLD_PID to exit" pid_gone "$OLD_PID"
status=$(cat "/proc/$PFD_PID/status")
expect_eq "the new portfwd's uid" "$(awk '/^Uid:/ {print $2, $3}' <<<"$status")" \
	"$(id -u nobody) $(id -u nobody)"
# cap_net_bind_service (bit 10) and cap_net_admin (bit 12).
expect_eq "the new portfwd's CapEff" "$(awk '/^CapEff:/ {print $2}' <<<"$status")" \
	0000000000001400
expect_eq "a forward after the upgrade under -u" \
	"$(nsx timeout 20 "$PFT_PY" "$T/loop.py" 127.0.0.1:8000 "$T/stop.none" 1 3)" "ok 3 fail 0"
nsx nft list table inet portfw >/dev/null || fail "the kernel table after the upgrade under -u"
kill -TERM "$PFD_PID"
wait_for 10 "the portfwd under -u to exit" pid_gone "$PFD_PID"
[[ ! -e $PFD_SOCK ]] || fail "the portfwd under -u left its control socket behind"
pfd_check_log
pft_done
