#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Backends given by host name, followed as the name changes. portfwd runs in
# the gateway's namespace, where 'ip netns exec' puts /etc/netns/NS/hosts in
# place of /etc/hosts; the test rewrites that file in place (a new file by
# rename would leave the bind mount on the old one):
#
#   C 198.51.100.2 --- wan 198.51.100.1  G  10.0.0.1 lan --- S 10.0.0.2 (A), 10.0.0.3 (B)
#
# - a forward to web.pft (resolve-interval 1s), user and kernel engine:
#   connects reach A; the name moved to B: new connects reach B within the
#   interval while a connection opened to A runs on;
# - the name gone from the hosts file: connects still reach B, and the log
#   says so once;
# - 'portfw reload' resolves at once (the name back, on A);
# - 'resolve all' with two addresses: both backends get flows;
# - a name from a DNS server (dnsmasq on S) whose TTL (1 s) is shorter than
#   the interval (1 min): followed by the TTL;
# - 'save' writes the name, 'list' and /metrics show the address.
source "$(dirname "$0")/lib.sh"
pft_init
topo_gateway
ip -n "$S" addr add 10.0.0.3/24 dev eth0
HOSTS=/etc/netns/$G/hosts
# The namespace's files go with it, whatever ends the test.
resolve_cleanup() {
	local rc=$?
	rm -rf "/etc/netns/$G"
	(exit "$rc")
	pft_cleanup
}
trap resolve_cleanup EXIT
mkdir -p "/etc/netns/$G"

# hosts LINE...: rewrites the namespace's hosts file in place.
hosts() {
	printf '%s\n' "127.0.0.1 localhost" "$@" >"$HOSTS"
}

# srv NAME ADDR TEXT: a greeting server on S.
srv() {
	in_ns "$S" timeout -k 5 120 "$PFT_PY" "$PFT_TCP" greet "$2" "$3" >"$T/$1.out" \
		2>"$T/$1.err" &
	wait_for 10 "$1 to listen" grep -qs '^listening' "$T/$1.out"
}

# greeting PORT: the text of the server a connect from C reaches.
greeting() {
	local r
	r=$(in_ns "$C" timeout -k 5 20 "$PFT_PY" "$PFT_TCP" firstbyte "198.51.100.1:$1" --wait 3)
	echo "${r#data * }"
}

reaches() {
	[[ $(greeting "$1") == "$2" ]]
}

srv a 10.0.0.2:9001 A
srv b 10.0.0.3:9001 B
# A name server on S for app.dns.pft, whose answers live 1 s: a TTL shorter
# than the forward's interval brings the next query forward.
command -v dnsmasq >/dev/null || fail "dnsmasq not installed (dnsmasq-base)"
echo "10.0.0.2 app.dns.pft" >"$T/dns.hosts"
in_ns "$S" timeout -k 5 120 dnsmasq -d -k --conf-file=/dev/null --port=53 \
	--listen-address=10.0.0.2 --bind-interfaces --no-resolv --no-hosts --pid-file= \
	--user=root --local=/pft/ --addn-hosts="$T/dns.hosts" --local-ttl=1 \
	--log-facility=- >"$T/dnsmasq.log" 2>&1 &
wait_for 10 "dnsmasq to listen" eval "in_ns '$S' ss -Hlun 'sport = :53' | grep -q 53"
echo "nameserver 10.0.0.2" >"/etc/netns/$G/resolv.conf"
cat >"$PFD_CONF" <<EOF
forward name u tcp 198.51.100.1:8001 to web.pft:9001 resolve-interval 1s
forward name k tcp 198.51.100.1:8002 to web.pft:9001 resolve-interval 1s engine kernel
forward name all tcp 198.51.100.1:8003 to pool.pft:9001 resolve all resolve-interval 1s
forward name d tcp 198.51.100.1:8004 to app.dns.pft:9001 resolve-interval 1m
status 127.0.0.1:9180
EOF
hosts "10.0.0.2 web.pft pool.pft"
pfd_start

info "first: web.pft is A"
expect_eq "user engine, first connect" "$(greeting 8001)" A
expect_eq "kernel engine, first connect" "$(greeting 8002)" A
expect_eq "resolve all, one address" "$(greeting 8003)" A
expect_in "save" "$(pf save)" "forward name u tcp 198.51.100.1:8001 to web.pft:9001 resolve-interval 1s"
expect_in "list" "$(pf list)" "web.pft:9001 (10.0.0.2)"

info "a connection to A stays open across the move"
for p in 8001 8002; do
	in_ns "$C" timeout -k 5 30 "$PFT_PY" "$PFT_TCP" idle "198.51.100.1:$p" --wait 5 \
		>"$T/idle-$p.out" 2>&1 &
done
sleep 0.5

info "web.pft moves to B: followed within the interval"
t0=$(now_ms)
hosts "10.0.0.3 web.pft" "10.0.0.2 pool.pft"
wait_for 3 "the user engine to reach B" reaches 8001 B
wait_for 3 "the kernel engine to reach B" reaches 8002 B
info "followed in $(($(now_ms) - t0)) ms"
grep -q "backend host 'web.pft' is now 10.0.0.3 (was 10.0.0.2)" "$PFD_LOG" ||
	fail "the move is not logged: $(tail -5 "$PFD_LOG")"
expect_in "save keeps the name" "$(pf save)" "to web.pft:9001"
expect_in "list shows the new address" "$(pf list)" "web.pft:9001 (10.0.0.3)"
for p in 8001 8002; do
	wait_for 10 "the connection through $p to end" grep -q . "$T/idle-$p.out"
	expect_in "connection opened to A before the move ($p)" "$(cat "$T/idle-$p.out")" "open"
done

info "web.pft gone: the last address stays, logged once"
hosts "10.0.0.2 pool.pft"
wait_for 5 "the failure to be logged" grep -q "backend host 'web.pft' does not resolve" "$PFD_LOG"
sleep 2.5
expect_eq "user engine, name gone" "$(greeting 8001)" B
expect_eq "kernel engine, name gone" "$(greeting 8002)" B
n=$(grep -c "forward 'u': backend host 'web.pft' does not resolve" "$PFD_LOG")
expect_eq "log lines of the failure (user forward)" "$n" 1

info "reload resolves at once"
hosts "10.0.0.2 web.pft pool.pft"
pf reload >/dev/null
expect_eq "user engine after reload" "$(greeting 8001)" A
expect_eq "kernel engine after reload" "$(greeting 8002)" A

info "resolve all: two addresses, both get flows"
hosts "10.0.0.2 web.pft pool.pft" "10.0.0.3 pool.pft"
wait_for 3 "the pool to grow" bash -c "'$PORTFW' -s '$PFD_SOCK' list | grep -q 'pool.pft:9001 (10.0.0.3)'"
seen=""
for _ in $(seq 1 8); do
	seen+=$(greeting 8003)
done
[[ $seen == *A* && $seen == *B* ]] || fail "resolve all: flows reached only '$seen'"
m=$(nsx curl -s --max-time 5 http://127.0.0.1:9180/metrics)
expect_in "metrics, first address" "$m" \
	'portfw_backend_connections_total{forward="all",backend="pool.pft:9001",addr="10.0.0.2"}'
expect_in "metrics, second address" "$m" \
	'portfw_backend_connections_total{forward="all",backend="pool.pft:9001",addr="10.0.0.3"}'
expect_in "save writes the name once" "$(pf save)" \
	"forward name all tcp 198.51.100.1:8003 to pool.pft:9001 resolve all resolve-interval 1s"
hosts "10.0.0.3 pool.pft"
wait_for 3 "the pool to shrink" bash -c "! '$PORTFW' -s '$PFD_SOCK' list | grep -q 'pool.pft:9001 (10.0.0.2)'"
for _ in 1 2 3 4; do
	expect_eq "resolve all, one address left" "$(greeting 8003)" B
done

info "a DNS name with a TTL of 1 s under an interval of 1 min"
expect_eq "DNS name, first connect" "$(greeting 8004)" A
echo "10.0.0.3 app.dns.pft" >"$T/dns.hosts"
for p in $(ip netns pids "$S"); do
	if [[ $(cat "/proc/$p/comm" 2>/dev/null) == dnsmasq ]]; then kill -HUP "$p"; fi
done
t0=$(now_ms)
wait_for 4 "the DNS name to be followed by its TTL" reaches 8004 B
info "followed in $(($(now_ms) - t0)) ms"

pfd_stop
pft_done
