#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Out of descriptors: portfwd runs with 'ulimit -n 256' and 2000 clients
# connect and stay idle for 6 s. The daemon must pause its listener instead
# of spinning on EMFILE (CPU < 5 % over the storm), log the condition at most
# about once a second, keep the clients it cannot serve yet in the backlog
# (not accept and reset them), keep answering the control socket, and serve
# a fresh client within 2 s once the storm is over.
#
# Each flow takes two descriptors, so whether the last free descriptor goes
# to an accept() whose backend socket() then fails depends on the parity of
# what is free: the storm runs again with 'ulimit -n 257'.
. "$(dirname "$0")/lib.sh"
pft_init

HOLD_N=2000
HOLD_S=6

mkdir -p "$T/www"
head -c $((1024 * 1024)) /dev/urandom >"$T/www/f.bin"
want=$(sha256sum <"$T/www/f.bin" | cut -d' ' -f1)
nginx_start 9080:"$T/www"
echo "forward name em tcp 127.0.0.1:8080 to 127.0.0.1:9080" >"$PFD_CONF"

# cpu_ticks: utime + stime of the daemon, in clock ticks.
cpu_ticks() {
	local s f
	s=$(<"/proc/$PFD_PID/stat")
	s=${s##*) } # after the command name: fields from 3 (state) on
	read -r -a f <<<"$s"
	echo $((f[11] + f[12])) # fields 14 and 15
}
HZ=$(getconf CLK_TCK)

# pct TICKS MS: CPU use in percent of one CPU, one decimal.
pct() {
	awk -v t="$1" -v ms="$2" -v hz="$HZ" 'BEGIN { printf "%.1f", 100 * t / hz / (ms / 1000) }'
}

# below PERCENT LIMIT
below() {
	awk -v p="$1" -v l="$2" 'BEGIN { exit !(p < l) }'
}

# storm NOFILE: the whole scenario against a daemon limited to NOFILE.
storm() {
	local nofile=$1 c0 c1 c2 c4 t0 t1 t2 t3 t4 hold list_rc list_out storm_pct hold_pct
	local accepted storm_s lines storm_refused storm_active
	pfd_start -u "$nofile"

	info "[$nofile] $HOLD_N idle clients for ${HOLD_S} s, daemon limited to $nofile descriptors"
	c0=$(cpu_ticks)
	t0=$(now_ms)
	# The hold client needs descriptors of its own: raise its limit.
	(
		ulimit -n 10000
		exec ip netns exec "$NS" timeout 60 "$PF_XFER" hold -c 127.0.0.1:8080 -n $HOLD_N -t $HOLD_S
	) >"$T/hold-$nofile.out" 2>"$T/hold-$nofile.err" &
	hold=$!
	wait_for 10 "the hold client to open its connections" grep -qs '^opened' "$T/hold-$nofile.out"
	grep -q "^opened $HOLD_N" "$T/hold-$nofile.out" ||
		fail "the hold client did not open $HOLD_N connections: $(cat "$T/hold-$nofile.out" "$T/hold-$nofile.err")"
	# Saturated: the daemon holds (nearly) all the descriptors it may have.
	wait_for 5 "the daemon to run out of descriptors" eval \
		"((\$(ls /proc/$PFD_PID/fd | wc -l) >= $nofile - 6))"

	# Window 1: the storm alone, before any control request.
	c1=$(cpu_ticks)
	t1=$(now_ms)
	sleep 2.5
	c2=$(cpu_ticks)
	t2=$(now_ms)
	storm_pct=$(pct $((c2 - c1)) $((t2 - t1)))
	info "[$nofile] CPU during the storm: $storm_pct % ($((c2 - c1)) ticks in $((t2 - t1)) ms)"

	# The control socket must answer while the descriptors are exhausted.
	capture timeout 2 "$PORTFW" -s "$PFD_SOCK" list -j
	list_rc=$RC
	list_out=$OUT
	t3=$(now_ms)

	wait_pid "$hold" "pf_xfer hold" 30
	t4=$(now_ms)
	c4=$(cpu_ticks)
	hold_pct=$(pct $((c4 - c0)) $((t4 - t0)))
	info "[$nofile] CPU over the whole hold: $hold_pct % ($((c4 - c0)) ticks in $((t4 - t0)) ms)"

	info "[$nofile] a fresh client is served within 2 s of the end of the storm"
	capture nsx curl -sS --fail --max-time 2 -o "$T/got.bin" -w '%{time_total}' \
		http://127.0.0.1:8080/f.bin
	if [[ $RC != 0 ]]; then
		fail_later "[$nofile] a fresh transfer after the storm failed (curl exit $RC: $ERR)"
	else
		expect_eq "sha256 of the fresh transfer" "$(sha256sum <"$T/got.bin" | cut -d' ' -f1)" "$want"
		info "[$nofile] fresh transfer took ${OUT}s"
	fi

	info "[$nofile] the daemon is healthy after the storm"
	capture timeout 5 "$PORTFW" -s "$PFD_SOCK" list -j
	[[ $RC == 0 ]] || fail "portfw list after the storm: exit $RC: $ERR"
	accepted=$(jget "d[0]['conns']" <<<"$OUT")
	((accepted >= 100)) || fail "only $accepted clients were accepted during the storm"
	# Every flow of the storm ends (the clients are gone): nothing leaks.
	wait_for 20 "the storm's flows to end" eval '[[ $(fwd_stat em active) == 0 ]]'
	expect_eq "flows left" "$(nconns)" 0

	# At most about one warning a second (rate-limited), over the storm and
	# the draining of the backlog after it.
	storm_s=$(((t4 - t0 + 999) / 1000 + 2))
	lines=$(grep -c "pausing the listener" "$PFD_LOG" || true)
	info "[$nofile] 'pausing the listener' logged $lines times over ~${storm_s} s"
	((lines >= 1)) || fail_later "[$nofile] the descriptor shortage was never logged"
	((lines <= storm_s + 1)) ||
		fail_later "[$nofile] 'pausing the listener' logged $lines times in ~${storm_s} s (expected at most ~1/s)"

	# The storm alone must not cost CPU: the listener pauses rather than spins.
	below "$storm_pct" 5 ||
		fail_later "[$nofile] portfwd used $storm_pct % CPU during the descriptor storm (expected < 5 %)"

	# DAEMON BUG (reported, fixed in 99383ec): the control socket was
	# level-triggered in the main loop's epoll set and pfd_ctl_event() just
	# returned when accept4() failed with EMFILE: 'portfw list' hung until
	# descriptors freed up, and the main thread spun at 100 % CPU meanwhile.
	if [[ $list_rc != 0 ]]; then
		fail_later "DAEMON BUG: [$nofile] portfw list did not answer within 2 s while descriptors were exhausted (exit $list_rc)"
	else
		info "[$nofile] portfw list answered during the storm in $((t3 - t2)) ms"
		storm_refused=$(jget "d[0]['refused']" <<<"$list_out")
		storm_active=$(jget "d[0]['active']" <<<"$list_out")
		info "[$nofile] during the storm: $storm_active flows, $storm_refused clients refused"
		((storm_active >= 100)) || fail_later "[$nofile] only $storm_active flows open during the storm"
		# DAEMON BUG (reported, seen at 99383ec with 256, at a83dcb7 with
		# 257): when accept() gets the last free descriptor, socket() for the
		# backend fails with EMFILE and pfu_connect_next() drops the client
		# with a reset ('refused'). That frees the descriptor, the next
		# accept() succeeds, and so on: every client beyond capacity is
		# accepted and reset at once instead of waiting in the backlog, and
		# the listener hardly ever pauses.
		[[ $storm_refused == 0 ]] ||
			fail_later "DAEMON BUG: [$nofile] $storm_refused clients were accepted and reset during the storm instead of waiting in the backlog (the backend socket() failed with EMFILE after accept)"
	fi
	below "$hold_pct" 5 ||
		fail_later "[$nofile] portfwd used $hold_pct % CPU over the whole hold (expected < 5 %)"

	pfd_stop
}

storm 256
storm 257
pft_done
