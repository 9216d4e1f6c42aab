#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The control socket cannot be wedged by its clients:
# - 3 clients send half a request and stall, 3 send 'list' on a table of
#   1,000 forwards (a reply of over 1 MB, far beyond the socket buffers) and never
#   read: meanwhile 'portfw list' answers in under a second, again and again,
#   and a SIGHUP reload is applied at once; the 6 are dropped after the
#   10 s deadline (whole request, or reply without progress), no sooner;
# - a request whose error quotes a byte that is not UTF-8 gets its error
#   reply (the byte shown as \xFF), and one over 4 MiB gets an error reply;
# - 'portfwd -s FILE' on a regular file refuses, naming it, and leaves the
#   file byte for byte; a stale socket of a dead daemon is still replaced.
. "$(dirname "$0")/lib.sh"
pft_init

NFWD=1000
for ((i = 0; i < NFWD; i++)); do
	echo "forward name f$i tcp 127.0.0.1:$((20000 + i)) to 127.0.0.1:9"
done >"$PFD_CONF"
pfd_start -w 1

size=$(pf list -j | wc -c)
((size > 1024 * 1024)) || fail "'list -j' of $NFWD forwards is $size bytes, expected over 1 MB"
info "'list' of $NFWD forwards: $size bytes"

# The stalled clients: prints "stalled" once all are connected and have sent
# what they send, then "dropped KIND SECONDS" as the daemon closes each.
cat >"$T/stall.py" <<'EOF'
import select, socket, sys, time
path = sys.argv[1]
conns = []
for kind in ["half"] * 3 + ["noread"] * 3:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    if kind == "half":
        s.sendall(b"lis")  # no end: the request never completes
    else:
        s.sendall(b"list\n")
        s.shutdown(socket.SHUT_WR)  # complete; the reply is never read
    conns.append((kind, s))
t0 = time.monotonic()
# Stalled once the daemon has queued the replies (the first bytes wait in
# each socket, unread): what follows times the daemon, not their making.
for kind, s in conns:
    if kind == "noread":
        select.select([s], [], [], 10)
print("stalled", flush=True)
p = select.poll()
for i, (kind, s) in enumerate(conns):
    # POLLIN for the half-senders (EOF); the non-readers have their reply
    # waiting to be read, so only the hang-up counts for them.
    p.register(s.fileno(), select.POLLIN if kind == "half" else 0)
left = {s.fileno(): kind for kind, s in conns}
while left and time.monotonic() - t0 < 40:
    for fd, ev in p.poll(100):
        if fd in left and (ev & (select.POLLHUP | select.POLLERR) or
                           (ev & select.POLLIN and left[fd] == "half")):
            print("dropped %s %.1f" % (left.pop(fd), time.monotonic() - t0), flush=True)
            p.unregister(fd)
for kind in left.values():
    print("open %s" % kind, flush=True)
EOF
info "3 half requests and 3 unread 'list' replies held open"
nsx timeout 60 "$PFT_PY" "$T/stall.py" "$PFD_SOCK" >"$T/stall.out" 2>"$T/stall.err" &
stall=$!
wait_for 10 "the stalled clients to connect" grep -qs '^stalled' "$T/stall.out"
t_stall=$(now_ms)

# Each answer well under a second while the six stall (3 s under ASan, whose
# 'list' of 1,000 forwards alone takes most of one).
limit=$((PFT_SLOW == 1 ? 1000 : 3000))
for i in 1 2 3 4 5; do
	t0=$(now_ms)
	pf list >/dev/null || fail "portfw list failed while clients stall"
	ms=$(($(now_ms) - t0))
	info "portfw list $i: $ms ms"
	((ms < limit)) || fail "portfw list took $ms ms while clients stall (limit $limit)"
done

info "SIGHUP while they stall: a forward added to the config is applied"
echo "forward name hup tcp 127.0.0.1:19999 to 127.0.0.1:9" >>"$PFD_CONF"
t0=$(now_ms)
kill -HUP "$PFD_PID"
wait_for 5 "the reload to log the new table" grep -q "table: $((NFWD + 1)) forwards" "$PFD_LOG"
ms=$(($(now_ms) - t0))
info "reload applied after $ms ms"
((ms < limit)) || fail "the SIGHUP reload took $ms ms while clients stall (limit $limit)"
pf list -j | jget "[f['name'] for f in d if f['name'] == 'hup'][0]" >/dev/null ||
	fail "forward 'hup' is not in the table after the SIGHUP"
((($(now_ms) - t_stall) < 8000)) || fail "the checks above took too long to test the deadline"

info "the stalled clients are dropped after the 10 s deadline"
wait_for 20 "the stalled clients to be dropped" eval \
	'(($(grep -c "^dropped" "$T/stall.out" || true) == 6))'
wait "$stall" || fail "the stall client failed: $(cat "$T/stall.err")"
cat "$T/stall.out"
grep -q '^open' "$T/stall.out" && fail "stalled clients were not dropped: $(cat "$T/stall.out")"
for kind in half noread; do
	expect_eq "clients dropped ($kind)" "$(grep -c "^dropped $kind" "$T/stall.out")" 3
done
# Not before the deadline, and not long after (the checks above ran first).
awk '/^dropped/ && ($3 < 9 || $3 > 13 * '"$PFT_SLOW"')' "$T/stall.out" | grep -q . &&
	fail "a stalled client was dropped outside 9-13 s: $(cat "$T/stall.out")"
expect_eq "log lines of dropped half requests" \
	"$(grep -c 'control client dropped: no whole request within 10 s' "$PFD_LOG")" 3
expect_eq "log lines of dropped replies" \
	"$(grep -c 'control client dropped: its reply made no progress for 10 s' "$PFD_LOG")" 3


info "an error that quotes a byte that is not UTF-8 is answered"
n0=$(pf list -j | jget 'len(d)')
got=$(printf 'forward tcp 127.0.0.1:1 to \xff\n' | pf_request) ||
	fail "no reply to the 0xff request"
expect_in "the error of the 0xff request" "$got" "'\\xFF'"
capture eval "printf 'forward tcp 127.0.0.1:1 to \\xff\\n' | pf restore -"
[[ $RC != 0 ]] || fail "a restore with byte 0xff was accepted"
expect_eq "forwards after the refused requests" "$(pf list -j | jget 'len(d)')" "$n0"

info "a request over 4 MiB gets an error reply"
# 5 MiB of comments.
capture eval "yes '# padding' | head -c $((5 << 20)) | pf_request"
expect_eq "the reply to 5 MiB" "$OUT" "request larger than 4 MiB"

pfd_stop

info "portfwd -s on a regular file refuses and leaves it alone"
cp "$PFD_CONF" "$T/regular"
sum=$(sha256sum <"$T/regular")
capture nsx timeout 20 "$PORTFWD" -c "$PFD_CONF" -s "$T/regular"
[[ $RC != 0 ]] || fail "portfwd -s REGULARFILE exited 0"
expect_in "the refusal" "$ERR" "$T/regular"
expect_in "the refusal" "$ERR" "not a socket"
expect_eq "the regular file after portfwd -s" "$(sha256sum <"$T/regular")" "$sum"

info "a stale socket of a dead daemon is replaced"
"$PFT_PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$PFD_SOCK"
[[ -S $PFD_SOCK ]] || fail "no stale socket made"
echo "forward name A tcp 127.0.0.1:8001 to 127.0.0.1:9" >"$PFD_CONF"
pfd_start
pfd_stop
pft_done
