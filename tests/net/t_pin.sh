#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# portfwd -a: one relay thread on each CPU the daemon may use, each pinned
# to its own; bytes go both ways through them as without. A worker count
# that is not one per CPU (-w) pins nothing and says so.
. "$(dirname "$0")/lib.sh"
pft_init

MIB=$((1024 * 1024))
cat >"$PFD_CONF" <<EOF
forward name a tcp 127.0.0.1:8001 to 127.0.0.1:9001
EOF

# pinned: the CPU lists of the daemon's threads, one per line, sorted.
pinned() {
	local t
	for t in /proc/"$PFD_PID"/task/*; do
		awk '/^Cpus_allowed_list:/ { print $2 }' "$t/status"
	done | sort
}

ncpu=$(nproc)
info "-a with $ncpu CPUs: a worker on each"
pfd_start -a
grep -q "$ncpu worker.*one on each CPU" "$PFD_LOG" ||
	fail "no 'one on each CPU' in the log: $(cat "$PFD_LOG")"
# A pinned thread's list is one CPU; one such thread for each CPU.
got=$(pinned | grep -x '[0-9]*' | uniq | wc -l)
expect_eq "CPUs with a pinned thread (threads: $(pinned | tr '\n' ' '))" "$got" "$ncpu"
xfer_server srv -l 127.0.0.1:9001 -n 20 -S $MIB
srv=$XFER_PID
xfer_client cli -c 127.0.0.1:8001 -n 20 -s $MIB -t 60
wait_pid "$srv" "pf_xfer server"
[[ $XFER_RC == 0 ]] || fail "pf_xfer client exited $XFER_RC: $(head -5 "$T/cli.err")"
check_xfer cli srv 20 $MIB $MIB
pfd_stop

info "-a -w $((ncpu + 1)): not pinned, a warning"
pfd_start -a -w $((ncpu + 1))
grep -q -- "-a: $((ncpu + 1)) workers for $ncpu CPU.*not pinned" "$PFD_LOG" ||
	fail "no warning for -a with another worker count: $(cat "$PFD_LOG")"
got=$(pinned | uniq | wc -l)
expect_eq "CPU lists of the threads (none pinned)" "$got" 1
pfd_stop
pft_done
