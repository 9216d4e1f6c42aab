#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Refused clients are visible in the log (user engine): a client denied by
# the ACL, one beyond maxconn and one with no backend up each give one line
# naming the forward and the client; a flood of denied connects gives a
# line or two with the count of the others, not one line each.
source "$(dirname "$0")/lib.sh"
pft_init

cat >"$PFD_CONF" <<'EOF2'
forward name acl tcp 127.0.0.1:8101 to 127.0.0.1:9101 deny 127.0.0.0/8
forward name mc tcp 127.0.0.1:8102 to 127.0.0.1:9101 maxconn 1
forward name nb tcp 127.0.0.1:8103 to 127.0.0.1:9199
EOF2
tcp_bg srv sink 127.0.0.1:9101
pfd_start

info "a client denied by the ACL"
tcp probe 127.0.0.1:8101 --wait 3 >/dev/null
wait_for 5 "the ACL line" grep -q "forward 'acl': client 127.0.0.1:[0-9]* refused: denied by its ACL" "$PFD_LOG"

info "a client beyond maxconn 1"
tcp idle 127.0.0.1:8102 --wait 4 >/dev/null &
wait_for 5 "one flow on the maxconn forward" eval '[[ $(fwd_stat mc active) == 1 ]]'
tcp firstbyte 127.0.0.1:8102 --wait 3 >/dev/null
wait_for 5 "the maxconn line" grep -q "forward 'mc': client 127.0.0.1:[0-9]* refused: maxconn reached" "$PFD_LOG"

info "a client with no backend up"
tcp firstbyte 127.0.0.1:8103 --wait 3 >/dev/null
wait_for 5 "the no-backend line" grep -q "forward 'nb': client 127.0.0.1:[0-9]* refused: no backend up" "$PFD_LOG"
for f in mc nb; do
	expect_eq "lines about forward $f" "$(grep -c "forward '$f': client" "$PFD_LOG")" 1
done

info "a flood of 300 denied connects: a few lines with counts"
nsx timeout 60 "$PFT_PY" -c '
import socket
for i in range(300):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", 8101))
        s.recv(1)
    except OSError:
        pass
    s.close()'
# The lines held back are counted on the next one, once the interval (5 s)
# has passed: denied connects go on until it comes.
wait_for 10 "a line with the count of the held back ones" eval \
	'tcp probe 127.0.0.1:8101 --wait 1 >/dev/null; grep -q "forward .acl.: client .* refused: denied by its ACL .* (and [0-9]* more since the last such line)" "$PFD_LOG"'
held=$(grep -o "(and [0-9]* more" "$PFD_LOG" | awk '{s += $2} END {print s}')
((held >= 300)) || fail "the lines counted $held held back, expected at least 300"
denied=$(fwd_stat acl denied)
pfd_stop
n=$(grep -c "forward 'acl': client" "$PFD_LOG")
((n >= 2 && n <= 4)) || fail "$n log lines for $denied denied clients: $(grep "forward 'acl'" "$PFD_LOG" | head)"
info "$denied denied clients, $n log lines"
pft_done
