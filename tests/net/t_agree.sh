#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Many gateways agree: three gateways with the same pools (forwards listed in
# another order on each, one more forward on one) send each of 1,000 client
# addresses to the same backend, with 'balance maglev' and 'balance source',
# in the user engine, the kernel engine, across both and with one forward
# in the kernel engine on one gateway only; a backend disabled
# everywhere moves only its own clients (maglev and source); one removed from the
# configuration moves its clients and under 5 % of the others; ECMP in front
# of the three keeps every connection of a client on its backend whichever
# gateway carries it.
#
#                 10.1.1.2 --- 10.1.1.1  G1  (10.0.0.11-14 on lo)
#   client C      10.1.2.2 --- 10.1.2.1  G2  (the same)
#   10.9.0.0/22   10.1.3.2 --- 10.1.3.1  G3  (the same)
#   on lo         VIP 192.0.2.100 on each gateway's lo, C's route to it
#                 has the three gateways as nexthops (L4 hash)
#
# Each gateway's backends are a pf_ids answering "Gn.11" ... "Gn.14" on its
# own 10.0.0.11-14:9000: a gateway reaches the same addresses as its peers
# without a shared LAN, and the answer says which gateway carried a flow.
source "$(dirname "$0")/lib.sh"
pft_init

PF_IDS=$PORTFW_BUILD/tests/pf_ids
[[ -x $PF_IDS ]] || fail "$PF_IDS not built"
command -v nft >/dev/null || fail "nft not installed"
PFT_AG=$PFT_NET_DIR/pft_agree.py
VIP=192.0.2.100
NCLI=1000
FIRST=10.9.0.1
C=$NS
GWS=(G1 G2 G3)
declare -A GNS GCONF GSOCK GPID GLOG GADDR

# ---- the network ----

in_ns "$C" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
in_ns "$C" sysctl -qw net.ipv4.fib_multipath_hash_policy=1
ip -n "$C" route add local 10.9.0.0/22 dev lo
i=0
for g in "${GWS[@]}"; do
	i=$((i + 1))
	ns_add "${g,,}"
	GNS[$g]=$NS_LAST
	GADDR[$g]=10.1.$i.1
	ip link add "${g,,}" netns "$C" type veth peer name c netns "${GNS[$g]}"
	ip -n "$C" addr add "10.1.$i.2/24" dev "${g,,}"
	ip -n "$C" link set "${g,,}" up
	ip -n "${GNS[$g]}" addr add "10.1.$i.1/24" dev c
	ip -n "${GNS[$g]}" link set c up
	ip -n "${GNS[$g]}" route add 10.9.0.0/22 via "10.1.$i.2"
	ip -n "${GNS[$g]}" addr add "$VIP/32" dev lo
	for b in 11 12 13 14; do ip -n "${GNS[$g]}" addr add "10.0.0.$b/32" dev lo; done
	in_ns "${GNS[$g]}" timeout -k 5 600 "$PF_IDS" serve -l "10.0.0.11:9000=$g.11" \
		-l "10.0.0.12:9000=$g.12" -l "10.0.0.13:9000=$g.13" -l "10.0.0.14:9000=$g.14" \
		>"$T/ids-$g.out" 2>&1 &
done
ip -n "$C" route add "$VIP/32" nexthop via 10.1.1.1 nexthop via 10.1.2.1 nexthop via 10.1.3.1
for g in "${GWS[@]}"; do
	wait_for 10 "the backends of $g to listen" grep -qs '^listening' "$T/ids-$g.out"
done

# ---- the gateways: the same forwards, in another order on each ----

# pools ENGINE BACKENDS: the forwards over BACKENDS, one per line: maglev
# and source in the user and the kernel engine, and mx, a maglev forward
# in ENGINE (a fleet where the gateways differ in it).
pools() {
	echo "forward name mu tcp :80 to $2 balance maglev engine user"
	echo "forward name mk tcp :81 to $2 balance maglev engine kernel"
	echo "forward name su tcp :82 to $2 balance source engine user"
	echo "forward name sk tcp :83 to $2 balance source engine kernel"
	echo "forward name mx tcp :84 to $2 balance maglev engine $1"
}

# confs BACKENDS: writes each gateway's file: G1 in order, G2 reversed (and
# mx in the kernel engine there), G3 rotated with a forward of its own first.
confs() {
	pools user "$1" >"${GCONF[G1]}"
	pools kernel "$1" | tac >"${GCONF[G2]}"
	{
		echo "forward name extra tcp :8080 to 10.0.0.11:9000 engine kernel"
		pools user "$1" | sed -n '3,5p'
		pools user "$1" | sed -n '1,2p'
	} >"${GCONF[G3]}"
}

ALL4="10.0.0.11:9000, 10.0.0.12:9000, 10.0.0.13:9000, 10.0.0.14:9000 weight 2"
for g in "${GWS[@]}"; do
	GCONF[$g]=$T/$g.conf
	GSOCK[$g]=$T/$g.sock
done
confs "$ALL4"

# gw G: makes G the gateway that lib.sh's pf, pfd_start and pfd_stop address.
gw() {
	NS=${GNS[$1]}
	PFD_CONF=${GCONF[$1]}
	PFD_SOCK=${GSOCK[$1]}
	PFD_PID=${GPID[$1]-}
	PFD_LOG=${GLOG[$1]-}
}

for g in "${GWS[@]}"; do
	gw "$g"
	pfd_start
	GPID[$g]=$PFD_PID
	GLOG[$g]=$PFD_LOG
done

# engines G: "NAME ENGINE" of G's forwards, sorted, on one line.
engines() {
	gw "$1"
	pf list -j | jget "' '.join(sorted(f['name'] + '=' + f['engine'] for f in d))"
}
want="mk=kernel mu=user mx=user sk=kernel su=user"
expect_eq "engines on G1" "$(engines G1)" "$want"
expect_eq "engines on G2" "$(engines G2)" "${want/mx=user/mx=kernel}"
expect_eq "engines on G3" "$(engines G3)" "extra=kernel $want"

# ---- the client ----

LABELS_M=G1:mu,G2:mu,G3:mu,G1:mk,G2:mk,G3:mk,G1:mx,G2:mx,G3:mx
LABELS_S=G1:su,G2:su,G3:su,G1:sk,G2:sk,G3:sk

# probe NAME: from each client address, one connection to each gateway and
# forward; the answers in $T/NAME.
probe() {
	local g targets=() r
	for g in "${GWS[@]}"; do
		targets+=("$g:mu=${GADDR[$g]}:80" "$g:mk=${GADDR[$g]}:81"
			"$g:su=${GADDR[$g]}:82" "$g:sk=${GADDR[$g]}:83" "$g:mx=${GADDR[$g]}:84")
	done
	r=$(in_ns "$C" timeout -k 5 $((100 * PFT_SLOW)) "$PFT_PY" "$PFT_AG" probe "$T/$1" \
		"$FIRST" "$NCLI" 1 $((90 * PFT_SLOW)) "${targets[@]}") || fail "the client failed: $r"
	info "$1: $r"
}

# agree NAME WHAT: every client got one backend from all nine (gateway x
# forward) of maglev, and one from all six of source.
agree() {
	"$PFT_PY" "$PFT_AG" agree "$T/$1" "maglev, $2" "$LABELS_M" ||
		fail_later "maglev, $2: the gateways or engines disagree (above)"
	"$PFT_PY" "$PFT_AG" agree "$T/$1" "source, $2" "$LABELS_S" ||
		fail_later "source, $2: the gateways or engines disagree (above)"
	((PFT_SOFT_FAILS == 0)) || fail "the gateways do not agree"
}

# moved BEFORE AFTER NAME LABEL GONE: prints the figures, leaves
# "CLIENTS_ON_GONE MOVED_OF_THEM OTHERS MOVED_OTHERS" in MOVED.
moved() {
	local r
	r=$("$PFT_PY" "$PFT_AG" moved "$T/$1" "$T/$2" "$3" "$4" "$5")
	grep -v '^moved ' <<<"$r"
	MOVED=$(sed -n 's/^moved //p' <<<"$r")
}

t_start=$(now_ms)
info "1,000 clients x 3 gateways x 2 engines, maglev and source"
probe base
agree base "1,000 clients"
# Each engine carried what it was given: the kernel's count (conntrack
# events) and the relay's.
for g in "${GWS[@]}"; do
	gw "$g"
	for f in mu mk su sk mx; do
		wait_for 5 "$g's $f to count $NCLI connections" eval "[[ \$(fwd_stat $f conns) == $NCLI ]]"
	done
done

info "ECMP over the three gateways: 3 connections per client to VIP:80, :81 and :84"
r=$(in_ns "$C" timeout -k 5 $((100 * PFT_SLOW)) "$PFT_PY" "$PFT_AG" probe "$T/ecmp" \
	"$FIRST" "$NCLI" 3 $((90 * PFT_SLOW)) "VIP:mu=$VIP:80" "VIP:mk=$VIP:81" \
	"VIP:mx=$VIP:84") ||
	fail "the ECMP client failed: $r"
info "ecmp: $r"
rc=0
r=$("$PFT_PY" "$PFT_AG" ecmp "$T/ecmp" "$T/base" G1:mu VIP:mu,VIP:mk,VIP:mx) || rc=$?
echo "$r"
((rc == 0)) || fail "behind ECMP, connections of a client reached different backends (above)"
# The L4 hash must have spread each client's connections: else this proved
# only that one gateway agrees with itself.
multi=$(sed -n 's/.*; \([0-9]*\) clients carried by more than one.*/\1/p' <<<"$r")
((multi >= NCLI / 2)) || fail "only $multi clients were carried by more than one gateway"

info "10.0.0.12 disabled on every gateway"
for g in "${GWS[@]}"; do
	gw "$g"
	for f in mu mk su sk mx; do pf backend "$f" 10.0.0.12:9000 disable >/dev/null; done
done
probe off12
agree off12 ".12 disabled"
# Both schedulers: all of .12's clients moved, and no other.
for s in maglev:mu source:su; do
	moved base off12 "${s%:*}, .12 disabled" "G1:${s#*:}" 12
	read -r on12 moved12 others moved_others <<<"$MOVED"
	((on12 > 0 && moved12 == on12)) || fail "${s%:*}: $moved12 of the $on12 clients of .12 moved"
	expect_eq "${s%:*}: clients of the other backends that moved when .12 was disabled" \
		"$moved_others" 0
done

info "10.0.0.12 enabled again, 10.0.0.13 removed from every gateway's file (reload)"
confs "10.0.0.11:9000, 10.0.0.12:9000, 10.0.0.14:9000 weight 2"
for g in "${GWS[@]}"; do
	gw "$g"
	for f in mu mk su sk mx; do pf backend "$f" 10.0.0.12:9000 enable >/dev/null; done
	pf reload >/dev/null
	if grep -q '10.0.0.13' <<<"$(pf save)"; then fail "$g still has 10.0.0.13 after its reload"; fi
done
probe no13
agree no13 ".13 removed"
moved base no13 "maglev, .13 removed" G1:mu 13
read -r on13 moved13 others moved_others <<<"$MOVED"
((on13 > 0 && moved13 == on13)) || fail "maglev: $moved13 of the $on13 clients of .13 moved"
((moved_others * 100 < others * 5)) ||
	fail "maglev: $moved_others of the other $others clients moved when .13 was removed (5 % at most)"
moved base no13 "source, .13 removed" G1:su 13
info "the client side took $(($(now_ms) - t_start)) ms"

for g in "${GWS[@]}"; do
	gw "$g"
	pfd_stop
done
pft_done
