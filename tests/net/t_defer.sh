#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 'defer-accept' (user engine): a forward whose clients speak first accepts
# them with their first bytes. Through it, bytes go both ways as through any
# forward, splice and copy relay. A client that sends nothing (a server that
# speaks first) is still served, only later; through a forward without the
# option, at once. A reload that takes the option away from a port's socket
# (kept as it is) takes the delay away too.
. "$(dirname "$0")/lib.sh"
pft_init

MIB=$((1024 * 1024))

conf() {
	cat >"$PFD_CONF" <<EOF
forward name df tcp 127.0.0.1:8001 to 127.0.0.1:9001 $1
forward name nd tcp 127.0.0.1:8002 to 127.0.0.1:9002
forward name xf tcp 127.0.0.1:8003 to 127.0.0.1:9003 defer-accept
EOF
}

# first_ms PORT: milliseconds from connect to the server's greeting.
first_ms() {
	local out
	out=$(tcp firstbyte "127.0.0.1:$1" --wait 10)
	[[ $out == "data "* ]] || fail "port $1: no greeting: $out"
	awk '{ printf "%d", $2 * 1000 }' <<<"$out"
}

tcp_bg greet1 greet 127.0.0.1:9001 hello
tcp_bg greet2 greet 127.0.0.1:9002 hello

conf defer-accept
for mode in splice copy; do
	if [[ $mode == splice ]]; then pfd_start; else pfd_start -m copy; fi
	info "$mode: 1 MiB up, 1 MiB down through a deferring forward, 10 flows"
	xfer_server srv-$mode -l 127.0.0.1:9003 -n 10 -S $MIB
	srv=$XFER_PID
	xfer_client cli-$mode -c 127.0.0.1:8003 -n 10 -s $MIB -t 60
	wait_pid "$srv" "pf_xfer server ($mode)"
	[[ $XFER_RC == 0 ]] || fail "pf_xfer client ($mode) exited $XFER_RC: $(head -5 "$T/cli-$mode.err")"
	check_xfer cli-$mode srv-$mode 10 $MIB $MIB
	expect_eq "$mode: conns" "$(fwd_stat xf conns)" 10
	pfd_stop
done

pfd_start
info "a server that speaks first: at once without the option, later with it"
ms=$(first_ms 8002)
((ms < 500)) || fail "greeting through a forward without defer-accept took $ms ms"
ms=$(first_ms 8001)
((ms >= 500)) || fail "greeting through a defer-accept forward took $ms ms: not deferred"
info "(deferred greeting after $ms ms)"

info "a reload without the option: the same socket, no delay"
inode=$(listen_inodes 8001)
conf ""
capture pf reload
expect_eq "reload: exit status" "$RC" 0
expect_eq "the socket of port 8001 is kept" "$(listen_inodes 8001)" "$inode"
ms=$(first_ms 8001)
((ms < 500)) || fail "greeting after the reload took $ms ms: still deferred"
pfd_stop
pft_done
