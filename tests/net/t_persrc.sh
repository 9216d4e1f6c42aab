#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Limits per client address, both engines:
#
#   client C: A 198.51.100.2, B 198.51.100.3 --- wan 198.51.100.1  G  10.0.0.1 --- S 10.0.0.2
#
# max-per-source 2: two connections from A held, the third from A turned
# away (user engine: closed within 500 ms; kernel: its SYN dropped) with no
# connection to the backend, while B connects; rate-per-source 10/s: of 5 s
# of connects as fast as they go from A, the backend sees 10 x 5 + 10 (the
# burst) within 10%; max-sessions-per-source 2: a third UDP session from A
# gets no reply, B's does. The forwards' refused counters and the log
# count the refused clients; a kernel forward whose limit goes loses its
# sets.
source "$(dirname "$0")/lib.sh"
pft_init

PFT_PS=$PFT_NET_DIR/pft_persrc.py
command -v nft >/dev/null || fail "nft not installed"
topo_gateway
ip -n "$C" addr add 198.51.100.3/24 dev eth0
in_ns "$G" sysctl -qw net.ipv4.ip_forward=1

# Backends: user engine forwards to 70x1, kernel ones to 70x2.
in_ns "$S" timeout -k 5 120 "$PFT_PY" "$PFT_PS" serve tcp 10.0.0.2 7011 7021 7012 7022 \
	>"$T/tcp.out" 2>"$T/tcp.err" &
in_ns "$S" timeout -k 5 120 "$PFT_PY" "$PFT_PS" serve udp 10.0.0.2 7031 7032 \
	>"$T/udp.out" 2>"$T/udp.err" &
wait_for 10 "the TCP backends" grep -qs '^listening' "$T/tcp.out"
wait_for 10 "the UDP backends" grep -qs '^listening' "$T/udp.out"

cat >"$PFD_CONF" <<'EOF2'
forward name um tcp 198.51.100.1:8011 to 10.0.0.2:7011 max-per-source 2 engine user
forward name ur tcp 198.51.100.1:8021 to 10.0.0.2:7021 rate-per-source 10/s engine user
forward name uu udp 198.51.100.1:8031 to 10.0.0.2:7031 max-sessions-per-source 2 engine user
forward name km tcp 198.51.100.1:8012 to 10.0.0.2:7012 max-per-source 2 engine kernel
forward name kr tcp 198.51.100.1:8022 to 10.0.0.2:7022 rate-per-source 10/s engine kernel
forward name ku udp 198.51.100.1:8032 to 10.0.0.2:7032 max-sessions-per-source 2 engine kernel
EOF2
pfd_start -W wan

info "save and list -j carry the options"
saved=$(pf save)
for w in "max-per-source 2" "rate-per-source 10/s" "max-sessions-per-source 2"; do
	grep -q -- "$w" <<<"$saved" || fail "'portfw save' lacks '$w': $saved"
done
expect_eq "list -j rate_per_source" \
	"$(pf list -j | jget "[f for f in d if f['name'] == 'ur'][0]['options']['rate_per_source']")" 10/s
expect_eq "list -j max_per_source" \
	"$(pf list -j | jget "[f for f in d if f['name'] == 'km'][0]['options']['max_per_source']")" 2

ps() {
	in_ns "$C" timeout -k 5 60 "$PFT_PY" "$PFT_PS" "$@"
}
accepts() {
	grep -c "^accept $1 " "$T/tcp.out" || true
}

for e in u k; do
	x=$([[ $e == u ]] && echo 1 || echo 2)
	info "engine $e: max-per-source 2"
	out=$(ps limit 198.51.100.2 198.51.100.3 198.51.100.1:801$x 2)
	info "$(tr '\n' ' ' <<<"$out")"
	grep -q '^held 2$' <<<"$out" || fail_later "$e: the first two from A were not held: $out"
	grep -q '^other open$' <<<"$out" || fail_later "$e: B was turned away: $out"
	if [[ $e == u ]]; then
		secs=$(awk '/^extra closed/ {print $3}' <<<"$out")
		if [[ -z $secs ]] || ! awk -v s="$secs" 'BEGIN {exit !(s < 0.5)}'; then
			fail_later "$e: the third from A was not closed within 500 ms: $out"
		fi
	else
		grep -q '^extra dropped$' <<<"$out" || fail_later "$e: the third from A got through: $out"
	fi
	sleep 0.2
	expect_eq "$e: connections the backend accepted" "$(accepts 701$x)" 3
	# The kernel's backend sees the clients' addresses (the user engine's, G's).
	if [[ $e == k ]]; then
		expect_eq "$e: of which from A" "$(grep -c "^accept 701$x 198.51.100.2$" "$T/tcp.out" || true)" 2
	fi
done
expect_eq "um refused" "$(fwd_stat um refused)" 1
wait_for 5 "the refused line" grep -q "forward 'um': client 198.51.100.2:[0-9]* refused: max-per-source" "$PFD_LOG"

for e in u k; do
	x=$([[ $e == u ]] && echo 1 || echo 2)
	info "engine $e: rate-per-source 10/s, 5 s of connects"
	out=$(ps rate 198.51.100.2 198.51.100.1:802$x 5)
	sleep 0.5
	n=$(accepts 702$x)
	info "$out; the backend accepted $n (10 x 5 + 10 = 60)"
	((n >= 54 && n <= 66)) || fail_later "$e: $n connections accepted at 10/s over 5 s, expected 54-66"
done
wait_for 5 "the rate line" grep -q "forward 'ur': client 198.51.100.2:[0-9]* refused: rate-per-source" "$PFD_LOG"

for e in u k; do
	x=$([[ $e == u ]] && echo 1 || echo 2)
	info "engine $e: max-sessions-per-source 2"
	expect_eq "$e: sessions from A that got a reply" "$(ps udp 198.51.100.2 198.51.100.1:803$x 3)" "replied 2"
	expect_eq "$e: sessions from B that got a reply" "$(ps udp 198.51.100.3 198.51.100.1:803$x 1)" "replied 1"
	expect_eq "$e: UDP sources the backend saw" "$(grep -c "^peer 703$x " "$T/udp.out" || true)" 3
done
expect_eq "uu refused" "$(fwd_stat uu refused)" 1

info "kernel engine: the drops read back into refused (every 5 s)"
for f in km kr ku; do
	wait_for 7 "refused of $f" eval "(( \$(fwd_stat $f refused) >= 1 ))"
done
grep -q "forward 'km': .* over its limits per source dropped" "$PFD_LOG" ||
	fail_later "no log line of km's drops"

info "kernel engine: a forward whose limit goes loses its sets"
nsets() {
	in_ns "$G" nft list sets inet | grep -c "set f[0-9]*_$1[46] " || true
}
expect_eq "TCP count sets before" "$(nsets t)" 2
sed -i 's/ max-per-source 2 engine kernel/ engine kernel/' "$PFD_CONF"
pf reload >/dev/null
expect_eq "TCP count sets after the reload" "$(nsets t)" 0
expect_eq "UDP count sets kept" "$(nsets u)" 2
expect_eq "rate sets kept" "$(nsets r)" 2
pfd_stop
pft_done
