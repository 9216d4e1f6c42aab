#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# portfw explain on broken setups and on a healthy forward:
#
#   client C 198.18.1.1 --- wan 198.18.1.254  gateway G  198.18.2.254 lan --- S  198.18.2.1
#                                                        198.18.3.254 dmz --- S2 198.18.3.1
#
# S's default route points at G; S2's at 198.18.3.9, a router that is not
# there (seed 004's VPN box: replies to clients go elsewhere). Each broken
# setup makes explain exit 1 and name the fault and its fix; the healthy
# forward exits 0; -j is an array of checks.
source "$(dirname "$0")/lib.sh"
pft_init

PF_IDS=$PORTFW_BUILD/tests/pf_ids
command -v nft >/dev/null || fail "nft not installed"
G=$NS
ns_add c
C=$NS_LAST
ns_add s
S=$NS_LAST
ns_add s2
S2=$NS_LAST

ip link add wan netns "$G" type veth peer name eth0 netns "$C"
ip -n "$G" addr add 198.18.1.254/24 dev wan
ip -n "$G" link set wan up
ip -n "$C" addr add 198.18.1.1/24 dev eth0
ip -n "$C" link set eth0 up
ip -n "$C" route add default via 198.18.1.254
ip link add lan netns "$G" type veth peer name eth0 netns "$S"
ip -n "$G" addr add 198.18.2.254/24 dev lan
ip -n "$G" link set lan up
ip -n "$S" addr add 198.18.2.1/24 dev eth0
ip -n "$S" link set eth0 up
ip -n "$S" route add default via 198.18.2.254
ip link add dmz netns "$G" type veth peer name eth0 netns "$S2"
ip -n "$G" addr add 198.18.3.254/24 dev dmz
ip -n "$G" link set dmz up
ip -n "$S2" addr add 198.18.3.1/24 dev eth0
ip -n "$S2" link set eth0 up
ip -n "$S2" route add default via 198.18.3.9
in_ns "$G" sysctl -qw net.ipv4.ip_forward=1

in_ns "$S" timeout -k 5 300 "$PF_IDS" serve -l 198.18.2.1:9000=S >"$T/s.out" 2>&1 &
in_ns "$S2" timeout -k 5 300 "$PF_IDS" serve -l 198.18.3.1:9000=S2 >"$T/s2.out" 2>&1 &
wait_for 10 "servers to listen" eval 'grep -qs listening "$T/s.out" && grep -qs listening "$T/s2.out"'

cat >"$PFD_CONF" <<'EOF'
forward name ok     tcp :8080 to 198.18.2.1:9000
forward name down   tcp :8081 to 198.18.2.1:9001 check check-interval 300ms check-timeout 200ms fall 2 rise 2
forward name asym   tcp :8082 to 198.18.3.1:9000
forward name shadow tcp :8083 to 198.18.2.1:9000
forward name user   tcp :8084 to 198.18.2.1:9000 engine user
forward name ftp    tcp :8021 to 198.18.2.1:21 ftp
forward name masq   tcp :8085 to 198.18.3.1:9000 masquerade
EOF
pfd_start -e kernel -W wan

# explain ARGS...: runs 'portfw explain' in G; OUT, ERR, RC as capture sets
# (and every answer in $T/explain.txt, to read with PFT_KEEP=1).
explain() {
	capture pf explain "$@"
	printf '$ portfw explain %s  (exit %s)\n%s%s\n\n' "$*" "$RC" "$OUT" "$ERR" >>"$T/explain.txt"
}

# check_json NAME STATUS NEEDLE: 'explain -j' has a check NAME with STATUS
# whose found or fix text contains NEEDLE.
check_json() {
	local j=$1
	shift
	"$PFT_PY" -c '
import json, sys
d = json.loads(sys.argv[1])
assert isinstance(d, list), "not an array"
for c in d:
    assert set(c) == {"name", "status", "found", "fix"}, c
    assert c["status"] in ("ok", "warn", "fail", "skip"), c
name, status, needle = sys.argv[2:5]
hit = [c for c in d if c["name"] == name and c["status"] == status and
       (needle in c["found"] or needle in (c["fix"] or ""))]
sys.exit(0 if hit else 1)' "$j" "$@" || fail "explain -j: no check $1 $2 with '$3' in: $j"
}

info "a healthy forward: every check passes, exit 0"
got=$(in_ns "$C" timeout 5 "$PF_IDS" count -c 198.18.1.254:8080 -n 1 || true)
expect_in "client through forward ok" "$got" "S 1"
explain ok from 198.18.1.1
[[ $RC == 0 ]] || fail "explain ok: exit $RC, expected 0: $OUT $ERR"
expect_in "explain ok" "$OUT" "nothing blocks the forward"
expect_in "explain ok: the backend" "$OUT" "198.18.2.1:9000 takes TCP connections from here"
expect_in "explain ok: masquerade, other side" "$OUT" "does not apply to 198.18.1.1"
[[ $OUT != *FAIL* ]] || fail "explain ok: a FAIL line: $OUT"
capture pf explain -j ok
[[ $RC == 0 ]] || fail "explain -j ok: exit $RC"
check_json "$OUT" forward ok "ok: tcp"
check_json "$OUT" ip_forward ok "ip_forward is 1"
check_json "$OUT" firewall ok "no other table"
check_json "$OUT" replies ok "no flow"
explain ok from 198.18.2.7
expect_in "explain ok from the backends' side" "$OUT" "applies to 198.18.2.7"
explain tcp :8080
[[ $RC == 0 ]] || fail "explain tcp :8080: exit $RC, expected 0: $OUT $ERR"
expect_in "explain by PROTO LISTEN" "$OUT" "ok: tcp :8080 -> 1 backend(s), kernel engine"

info "usage errors exit 2 and say what was expected"
explain nosuch
[[ $RC == 2 ]] || fail "explain nosuch: exit $RC, expected 2"
expect_in "unknown forward" "$ERR" "no forward named 'nosuch'"
explain udp :8080
[[ $RC == 2 ]] || fail "explain udp :8080: exit $RC, expected 2"
expect_in "unknown forward" "$ERR" "no forward listens on 'udp :8080'"
explain ok from nowhere
[[ $RC == 2 ]] || fail "explain from nowhere: exit $RC, expected 2"
expect_in "bad client address" "$ERR" "'nowhere'"
explain
[[ $RC == 2 ]] || fail "explain without a name: exit $RC, expected 2"

info "a backend down: the connection is refused, the health check says down"
wait_for 10 "the health check to mark 'down' down" \
	eval '[[ $(pf list -j | jget "[f for f in d if f[\"name\"] == \"down\"][0][\"backends\"][0][\"state\"]") == down ]]'
explain down
[[ $RC == 1 ]] || fail "explain down: exit $RC, expected 1: $OUT"
expect_in "explain down: connection" "$OUT" "refused: nothing listens on that port"
expect_in "explain down: health" "$OUT" "health checks say 198.18.2.1:9001 is down"

info "ip_forward off: named with the sysctl that fixes it"
in_ns "$G" sysctl -qw net.ipv4.ip_forward=0
explain ok
in_ns "$G" sysctl -qw net.ipv4.ip_forward=1
[[ $RC == 1 ]] || fail "explain with ip_forward off: exit $RC, expected 1: $OUT"
expect_in "explain ip_forward" "$OUT" "net.ipv4.ip_forward is 0"
expect_in "explain ip_forward fix" "$OUT" "sysctl -w net.ipv4.ip_forward=1"

info "a foreign table dropping forwarded packets: its table and chain named"
in_ns "$G" nft -f - <<'EOF'
table inet fw {
	chain fwd_in {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
	}
}
EOF
explain ok
[[ $RC == 1 ]] || fail "explain with a policy drop: exit $RC, expected 1: $OUT"
expect_in "explain foreign table" "$OUT" "table inet fw, chain fwd_in (hook forward): policy drop drops"
capture pf explain -j ok
check_json "$OUT" firewall fail "table inet fw, chain fwd_in"
info "... and a rule of it that accepts the forward's packets lets them pass"
in_ns "$G" nft add rule inet fw fwd_in ct status dnat accept
explain ok
[[ $RC == 0 ]] || fail "explain with the flow accepted: exit $RC, expected 0: $OUT"
in_ns "$G" nft delete table inet fw
info "... a drop rule in another chain jumped to, and a DNAT ahead of ours"
in_ns "$G" nft -f - <<'EOF'
table ip filt {
	chain blocked {
		tcp dport 9000 drop
	}
	chain FORWARD {
		type filter hook forward priority 0; policy accept;
		ip daddr 198.18.2.0/24 jump blocked
	}
}
table ip early {
	chain pre {
		type nat hook prerouting priority -150; policy accept;
		tcp dport 8080 redirect to :9999
	}
}
EOF
explain ok
[[ $RC == 1 ]] || fail "explain with a drop rule: exit $RC, expected 1: $OUT"
expect_in "explain drop rule" "$OUT" "table ip filt, (from base chain FORWARD) chain blocked"
expect_in "explain drop rule fix" "$OUT" "nft delete rule ip filt blocked handle"
expect_in "explain early redirect" "$OUT" "table ip early, chain pre (hook prerouting): rule 2 (redirect) takes the arriving packets"
in_ns "$G" nft delete table ip filt
in_ns "$G" nft delete table ip early
if command -v iptables-legacy >/dev/null; then
	info "... and iptables-legacy's tables, which nft does not show"
	in_ns "$G" iptables-legacy -P FORWARD DROP
	in_ns "$G" iptables-legacy -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
	explain ok
	[[ $RC == 1 ]] || fail "explain with a legacy policy DROP: exit $RC, expected 1: $OUT"
	expect_in "explain legacy" "$OUT" "iptables-legacy table filter, chain FORWARD: policy DROP drops the forwarded packets"
	expect_in "explain legacy fix" "$OUT" "iptables-legacy -t filter -I FORWARD -m conntrack --ctstate DNAT -j ACCEPT"
	in_ns "$G" iptables-legacy -I FORWARD -m conntrack --ctstate DNAT -j ACCEPT
	explain ok
	[[ $RC == 0 ]] || fail "explain with the legacy chain accepting the flow: exit $RC: $OUT"
	in_ns "$G" iptables-legacy -P FORWARD ACCEPT
	in_ns "$G" iptables-legacy -F FORWARD
fi

info "the port taken by another program: named (kernel engine: shadowed)"
in_ns "$G" timeout -k 5 120 "$PFT_PY" -c '
import socket, time
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 8083)); s.listen()
print("listening", flush=True); time.sleep(120)' >"$T/shadow.out" 2>&1 &
wait_for 10 "the shadowing listener" grep -qs listening "$T/shadow.out"
explain shadow
expect_in "explain shadow" "$OUT" "python3 (pid"
expect_in "explain shadow: why" "$OUT" "DNATs that port first"
[[ $RC == 0 ]] || fail "explain shadow: exit $RC, expected 0 (a warning): $OUT"

info "the port taken by another program: named (user engine: it steals connections)"
in_ns "$G" timeout -k 5 120 "$PFT_PY" -c '
import socket, time
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("::", 8084)); s.listen()
print("listening", flush=True); time.sleep(120)' >"$T/steal.out" 2>&1 &
wait_for 10 "the stealing listener" grep -qs listening "$T/steal.out"
explain user
[[ $RC == 1 ]] || fail "explain user: exit $RC, expected 1: $OUT"
expect_in "explain user" "$OUT" "python3 (pid"
expect_in "explain user: why" "$OUT" "takes connections meant for the forward"

info "the asymmetric route: flows never answered, explain names masquerade"
in_ns "$C" timeout 3 "$PF_IDS" count -c 198.18.1.254:8082 -n 1 -t 2500 >"$T/asym.out" 2>&1 &
wait_for 10 "an unreplied flow of asym" eval '[[ $(nconns asym) -ge 1 ]]'
sleep 1
explain asym from 198.18.1.1
[[ $RC == 1 ]] || fail "explain asym: exit $RC, expected 1: $OUT"
expect_in "explain asym" "$OUT" "got no reply through this host"
expect_in "explain asym: fix" "$OUT" "use \`masquerade\` on the forward"
capture pf explain -j asym
check_json "$OUT" replies fail "masquerade"
info "... and with 'masquerade' the same server answers, explain finds nothing"
got=$(in_ns "$C" timeout 5 "$PF_IDS" count -c 198.18.1.254:8085 -n 1 || true)
expect_in "client through forward masq" "$got" "S2 1"
explain masq from 198.18.1.1
[[ $RC == 0 ]] || fail "explain masq: exit $RC, expected 0: $OUT"
expect_in "explain masq" "$OUT" "the forward has 'masquerade': backends see this host's address"

info "the FTP helper: the module and our helper object"
explain ftp
if [[ -d /sys/module/nf_conntrack_ftp ]]; then
	expect_in "explain ftp" "$OUT" "nf_conntrack_ftp is loaded and table inet portfw has its helper"
else
	expect_in "explain ftp" "$OUT" "modprobe nf_conntrack_ftp"
fi

pfd_stop
pft_done
