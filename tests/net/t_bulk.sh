#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Bulk data, byte-exact, in both relay modes (splice, the default, and copy):
# 1 GiB each way through one connection; 100 concurrent connections of 1 MiB
# each way; a client that reads slowly (2 MB/s) so the relay must stop and
# resume on a full destination without losing or reordering bytes.
. "$(dirname "$0")/lib.sh"
pft_init

GIB=$((1024 * 1024 * 1024))
MIB=$((1024 * 1024))

echo "forward name bulk tcp 127.0.0.1:8001 to 127.0.0.1:9001" >"$PFD_CONF"

for mode in splice copy; do
	if [[ $mode == splice ]]; then pfd_start; else pfd_start -m copy; fi
	grep -q "$mode relay" "$PFD_LOG" || fail "portfwd does not say it runs the $mode relay"

	info "$mode: 1 GiB each way through one connection"
	xfer_server srv-big-$mode -l 127.0.0.1:9001 -n 1 -S $GIB
	srv=$XFER_PID
	xfer_client cli-big-$mode -c 127.0.0.1:8001 -n 1 -s $GIB -t 150
	wait_pid "$srv" "pf_xfer server (1 GiB, $mode)"
	[[ $XFER_RC == 0 ]] || fail "pf_xfer client (1 GiB, $mode) exited $XFER_RC: $(cat "$T/cli-big-$mode.err")"
	check_xfer cli-big-$mode srv-big-$mode 1 $GIB $GIB
	# The counters saw every byte, once.
	wait_for 5 "the flow to end" eval '[[ $(fwd_stat bulk active) == 0 ]]'
	expect_eq "$mode: bytes_up" "$(fwd_stat bulk bytes_up)" $GIB
	expect_eq "$mode: bytes_down" "$(fwd_stat bulk bytes_down)" $GIB

	info "$mode: 100 concurrent connections, 1 MiB each way"
	xfer_server srv-many-$mode -l 127.0.0.1:9001 -n 100 -S $MIB
	srv=$XFER_PID
	xfer_client cli-many-$mode -c 127.0.0.1:8001 -n 100 -s $MIB -t 60
	wait_pid "$srv" "pf_xfer server (100 x 1 MiB, $mode)"
	[[ $XFER_RC == 0 ]] || fail "pf_xfer client (100 x 1 MiB, $mode) exited $XFER_RC: $(head -5 "$T/cli-many-$mode.err")"
	check_xfer cli-many-$mode srv-many-$mode 100 $MIB $MIB
	wait_for 5 "the flows to end" eval '[[ $(fwd_stat bulk active) == 0 ]]'
	expect_eq "$mode: conns" "$(fwd_stat bulk conns)" 101
	expect_eq "$mode: bytes_down" "$(fwd_stat bulk bytes_down)" $((GIB + 100 * MIB))

	info "$mode: throttled reader, 8 MiB at 2 MB/s"
	xfer_server srv-slow-$mode -l 127.0.0.1:9001 -n 1 -S $((8 * MIB))
	srv=$XFER_PID
	t0=$(now_ms)
	xfer_client cli-slow-$mode -c 127.0.0.1:8001 -n 1 -s $((8 * MIB)) -R 2000000 -t 60
	took=$(($(now_ms) - t0))
	wait_pid "$srv" "pf_xfer server (throttled, $mode)"
	[[ $XFER_RC == 0 ]] || fail "pf_xfer client (throttled, $mode) exited $XFER_RC: $(cat "$T/cli-slow-$mode.err")"
	check_xfer cli-slow-$mode srv-slow-$mode 1 $((8 * MIB)) $((8 * MIB))
	# 8 MiB at 2 MB/s is 4.2 s, but pf_xfer stops throttling once the server's
	# FIN is in (poll reports POLLHUP), reading what is buffered at once; so
	# expect at least half of it: more than the buffers on the way can hold,
	# so the relay had to wait on a full client socket.
	((took >= 2000)) || fail "$mode: the throttled transfer took only ${took} ms"

	pfd_stop
done
pft_done
