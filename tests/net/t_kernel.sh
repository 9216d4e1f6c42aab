#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The kernel engine (nftables DNAT + conntrack), across hosts:
#
#   client C 198.51.100.2 --- wan 198.51.100.1  gateway G  10.0.0.1 br0 --- S1 10.0.0.2
#                                                                      |--- S2 10.0.0.3
#                                                                      `--- I  10.0.0.4 (inside)
#
# curl reaches nginx on S1 and S1 logs the client's real address; 2,000
# connections spread by weight; a killed server leaves the pool (health
# check) with no failed client; hairpin from an inside host and from the
# gateway itself; FTP (passive and active) on 21 and 8021; DNS over UDP and a
# UDP flow that follows a changed backend within 1 s; the external address
# changes and forwards keep working; a refused change leaves the ruleset byte
# for byte; a stop leaves the table with no forward in it (its flows run on),
# a stop after flush -k removes it.
source "$(dirname "$0")/lib.sh"
pft_init

PF_IDS=$PORTFW_BUILD/tests/pf_ids
PF_UDP=$PORTFW_BUILD/tests/pf_udp
command -v nft >/dev/null || fail "nft not installed"
G=$NS
ns_add c
C=$NS_LAST
ns_add s1
S1=$NS_LAST
ns_add s2
S2=$NS_LAST
ns_add i
I=$NS_LAST

ip link add wan netns "$G" type veth peer name eth0 netns "$C"
ip -n "$G" addr add 198.51.100.1/24 dev wan
ip -n "$G" link set wan up
ip -n "$C" addr add 198.51.100.2/24 dev eth0
ip -n "$C" link set eth0 up
# No route from the client to the private LAN, as on the internet.
ip -n "$G" link add br0 type bridge
ip -n "$G" addr add 10.0.0.1/24 dev br0
ip -n "$G" link set br0 up
n=2
for h in "$S1" "$S2" "$I"; do
	ip link add "lan$n" netns "$G" type veth peer name eth0 netns "$h"
	ip -n "$G" link set "lan$n" master br0 up
	ip -n "$h" addr add "10.0.0.$n/24" dev eth0
	ip -n "$h" link set eth0 up
	ip -n "$h" route add default via 10.0.0.1
	n=$((n + 1))
done

info "servers: nginx and id servers on S1 and S2, DNS on S1"
mkdir -p "$T/www" "$T/s1"
echo "hello from S1" >"$T/www/index.html"
cat >"$T/s1/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid $T/s1/nginx.pid; error_log $T/s1/error.log;
events { worker_connections 512; }
http { access_log $T/s1/access.log; client_body_temp_path $T/s1/tmp; proxy_temp_path $T/s1/tmp;
       fastcgi_temp_path $T/s1/tmp; uwsgi_temp_path $T/s1/tmp; scgi_temp_path $T/s1/tmp;
       server { listen 10.0.0.2:80; root $T/www; } }
EOF
in_ns "$S1" timeout -k 5 600 nginx -p "$T/s1/" -c "$T/s1/nginx.conf" >/dev/null 2>&1 &
in_ns "$S1" timeout -k 5 600 "$PF_IDS" serve -l 10.0.0.2:9000=A >"$T/a.out" 2>&1 &
in_ns "$S2" timeout -k 5 600 "$PF_IDS" serve -l 10.0.0.3:9000=B >"$T/b.out" 2>&1 &
in_ns "$S1" timeout -k 5 600 "$PF_UDP" echo -l 10.0.0.2:7000 >"$T/u1.out" 2>&1 &
in_ns "$S2" timeout -k 5 600 "$PF_UDP" echo -l 10.0.0.3:7000 >"$T/u2.out" 2>&1 &
in_ns "$S1" timeout -k 5 600 dnsmasq -d -k --conf-file=/dev/null --port=53 \
	--listen-address=10.0.0.2 --bind-interfaces --no-resolv --no-hosts --pid-file= \
	--user=root --local=/test.portfw/ --host-record=www.test.portfw,10.1.2.3 \
	--log-facility=- >"$T/dnsmasq.log" 2>&1 &
mkdir -p "$T/ftproot" "$T/ftpempty"
head -c 300000 /dev/urandom >"$T/ftproot/file.bin"
for p in 21 8021; do
	cat >"$T/vsftpd-$p.conf" <<EOF
listen=YES
listen_address=10.0.0.2
listen_port=$p
anonymous_enable=YES
anon_root=$T/ftproot
no_anon_password=YES
local_enable=NO
write_enable=NO
pasv_enable=YES
pasv_min_port=30000
pasv_max_port=30100
port_enable=YES
connect_from_port_20=NO
secure_chroot_dir=$T/ftpempty
run_as_launching_user=YES
ftp_username=nobody
background=NO
seccomp_sandbox=NO
EOF
	in_ns "$S1" timeout -k 5 600 vsftpd "$T/vsftpd-$p.conf" >"$T/vsftpd-$p.log" 2>&1 &
done
wait_for 10 "servers to listen" eval 'grep -qs listening "$T/a.out" && grep -qs listening "$T/b.out" &&
	grep -qs listening "$T/u1.out" && grep -qs listening "$T/u2.out" &&
	in_ns "$S1" ss -Hltn "sport = :80" | grep -q LISTEN && in_ns "$S1" ss -Hlun "sport = :53" | grep -q 53 &&
	in_ns "$S1" ss -Hltn "sport = :8021" | grep -q LISTEN && in_ns "$S1" ss -Hltn "sport = :21" | grep -q LISTEN'

cat >"$PFD_CONF" <<'EOF'
forward name web tcp :80 to 10.0.0.2
forward name lb  tcp :8080 to 10.0.0.2:9000, 10.0.0.3:9000 weight 3
forward name hc  tcp :8081 to 10.0.0.2:9000, 10.0.0.3:9000 check check-interval 300ms check-timeout 200ms fall 2 rise 2
forward name one tcp :8083 to 10.0.0.3:9000 check check-interval 300ms check-timeout 200ms fall 2 rise 2
forward name dns udp :53 to 10.0.0.2
forward name u   udp :7000 to 10.0.0.2
forward name ftp  tcp :21 to 10.0.0.2
forward name ftp2 tcp :8021 to 10.0.0.2:8021 ftp
forward name ftp3 tcp :8022 to 10.0.0.2:8021
EOF
pfd_start -e kernel -W wan

info "curl from the client reaches nginx on S1, which sees the client's own address"
got=$(in_ns "$C" curl -sS --max-time 5 http://198.51.100.1/)
expect_eq "page through the kernel forward" "$got" "hello from S1"
grep -q "^198.51.100.2 " "$T/s1/access.log" || fail "S1 logged no request from 198.51.100.2: $(cat "$T/s1/access.log")"
nsx nft list table inet portfw >/dev/null || fail "no table inet portfw"
expect_eq "ip_forward" "$(nsx cat /proc/sys/net/ipv4/ip_forward)" 1
conn=$(pf conns -j | jget "[c['conntrack'] for c in d if c['forward'] == 'web'][0]")
expect_in "conntrack entry of the forward" "$conn" "src=198.51.100.2 dst=198.51.100.1"
expect_in "conntrack entry of the forward" "$conn" "src=10.0.0.2 dst=198.51.100.2 sport=80"

info "weighted spread over 2,000 connections (1:3)"
counts=$(in_ns "$C" "$PF_IDS" count -c 198.51.100.1:8080 -n 2000)
a=$(awk '$1=="A"{print $2}' <<<"$counts")
b=$(awk '$1=="B"{print $2}' <<<"$counts")
expect_eq "failed connections" "$(awk '$1=="FAILED"{print $2}' <<<"$counts")" 0
((a >= 475 && a <= 525 && b >= 1425 && b <= 1575)) || fail "spread $a / $b, expected 500 / 1500 +-5 %"

info "a server killed: the health check takes it out of the map; no client fails"
pkill -f -- "-l 10.0.0.3:9000=B" || fail "B was not running"
wait_for 10 "B marked down" eval \
	"[[ \$(pf list -j | jget \"[f for f in d if f['name']=='hc'][0]['backends'][1]['state']\") == down ]]"
wait_for 5 "the kernel pool without B" eval "! nsx nft list chain inet portfw f3_nat | grep 10.0.0.3 >/dev/null"
counts=$(in_ns "$C" "$PF_IDS" count -c 198.51.100.1:8081 -n 200)
expect_eq "connections while B is down" "$(awk '$1=="A"{print $2}' <<<"$counts")" 200

info "a forward's only backend down: its DNAT element goes, and comes back with it"
# 'one' is a simple forward: elements of the maps m_any and d4_any, no chain.
nsx nft list map inet portfw m_any | grep "tcp . 8083 : 0x4" >/dev/null || fail "no mark element of 'one'"
wait_for 5 "the DNAT element of 'one' gone" eval "! nsx nft list map inet portfw d4_any | grep 'tcp . 8083' >/dev/null"
counts=$(in_ns "$C" "$PF_IDS" count -c 198.51.100.1:8083 -n 2 -t 500)
expect_eq "connections to 'one' while B is down" "$(awk '$1=="FAILED"{print $2}' <<<"$counts")" 2
in_ns "$S2" timeout -k 5 600 "$PF_IDS" serve -l 10.0.0.3:9000=B >"$T/b2.out" 2>&1 &
wait_for 10 "B up again" eval \
	"[[ \$(pf list -j | jget \"[f for f in d if f['name']=='one'][0]['backends'][0]['state']\") == up ]]"
wait_for 5 "the DNAT element of 'one' back" eval "nsx nft list map inet portfw d4_any | grep 'tcp . 8083 : 10.0.0.3 . 9000' >/dev/null"
counts=$(in_ns "$C" "$PF_IDS" count -c 198.51.100.1:8083 -n 20)
expect_eq "connections to 'one' with B back" "$(awk '$1=="B"{print $2}' <<<"$counts")" 20

info "hairpin: an inside host and the gateway itself through the external address"
got=$(in_ns "$I" curl -sS --max-time 5 http://198.51.100.1/)
expect_eq "page from the inside host" "$got" "hello from S1"
grep -q "^10.0.0.1 " "$T/s1/access.log" || fail "hairpin was not masqueraded (S1 should see 10.0.0.1)"
got=$(nsx curl -sS --max-time 5 http://198.51.100.1/)
expect_eq "page from the gateway itself" "$got" "hello from S1"

# ftp_get PORT on|off: fetch file.bin by FTP through the gateway (passive on/off).
ftp_get() {
	rm -rf "$T/dl"
	mkdir -p "$T/dl"
	in_ns "$C" timeout 20 lftp -e "set ftp:passive-mode $2; set net:timeout 4; set net:max-retries 1; lcd $T/dl; get file.bin; bye" \
		"ftp://198.51.100.1:$1" >"$T/lftp.out" 2>&1 && cmp -s "$T/dl/file.bin" "$T/ftproot/file.bin"
}

info "FTP, passive and active, on 21 (helper by default) and 8021 ('ftp')"
for port in 21 8021; do
	for mode in on off; do
		ftp_get $port $mode || fail "FTP on $port (passive $mode): $(tail -3 "$T/lftp.out")"
	done
done
# Without the helper, passive FTP cannot work (the PASV reply names 10.0.0.2).
if ftp_get 8022 on; then
	fail "passive FTP on 8022 worked without the ftp helper: the test proves nothing"
fi

info "UDP: DNS through the forward"
got=$(in_ns "$C" timeout 10 dig @198.51.100.1 www.test.portfw +short +tries=1 +time=3)
expect_eq "dig through the kernel forward" "$got" "10.1.2.3"

info "UDP: a flow follows a changed backend within 1 s"
in_ns "$C" timeout 30 "$PF_UDP" client -c 198.51.100.1:7000 -n 1 -r 40 -i 100 -t 500 -p 40000 \
	>"$T/uflow.out" 2>&1 &
uflow=$!
wait_for 5 "the UDP flow" eval "pf conns -j | jget \"[c['backend'] for c in d if c['forward']=='u']\" | grep -q 10.0.0.2:7000"
cat >"$T/u.conf" <<'EOF'
forward name u udp :7000 to 10.0.0.3
EOF
pf del name u
pf add name u udp :7000 to 10.0.0.3
t0=$(now_ms)
wait_for 2 "the flow on the new backend" eval "pf conns -j | jget \"[c['backend'] for c in d if c['forward']=='u']\" | grep -q 10.0.0.3:7000"
dt=$(($(now_ms) - t0))
info "flow followed after $dt ms"
((dt <= 1000 * PFT_SLOW)) || fail "the UDP flow followed after $dt ms, expected within 1 s"
wait "$uflow" || true
read -r _ ok _ lost _ wrong <"$T/uflow.out"
((ok >= 35 && wrong == 0)) || fail "the UDP flow across the change: $(cat "$T/uflow.out")"

info "one request replaces a simple forward (its elements only, in one transaction)"
got=$(printf 'del name u\nforward name u udp :7000 to 10.0.0.2\n' | pf_request change_us)
[[ $got =~ ^[1-9][0-9]*$ ]] || fail "the change's answer: expected change_us, got '$got'"
info "the daemon's change: $got us"
grep -q 'table: .* (0 added, 0 removed, 1 changed, ' "$PFD_LOG" || fail "no log line of 1 changed"
wait_for 2 "u's element to 10.0.0.2" eval \
	"nsx nft list map inet portfw d4_any | grep -q 'udp . 7000 : 10.0.0.2 . 7000'"
nsx nft list map inet portfw d4_any | grep -q 'udp . 7000 : 10.0.0.3' && fail "u's old element stayed"
in_ns "$C" timeout 10 "$PF_UDP" client -c 198.51.100.1:7000 -n 1 -r 3 -i 100 -t 500 -p 40001 \
	>"$T/uflow2.out" 2>&1 || true
read -r _ ok _ <"$T/uflow2.out"
((ok >= 3)) || fail "UDP through the replaced forward: $(cat "$T/uflow2.out")"
pf conns -j | jget "[c['backend'] for c in d if c['forward']=='u' and c['client'].endswith(':40001')]" |
	grep -q 10.0.0.2:7000 || fail "the replaced forward's flow is not on 10.0.0.2"

info "the first simple forward on an address (a kind of key not loaded yet) works at once"
pf add name addr tcp 198.51.100.1:8090 to 10.0.0.2:80
got=$(in_ns "$C" curl -sS --max-time 5 http://198.51.100.1:8090/ 2>&1) ||
	fail "no page through a forward on the external address: $got"
expect_eq "page through a forward on the external address" "$got" "hello from S1"
pf del name addr
if in_ns "$C" curl -sS --max-time 3 http://198.51.100.1:8090/ >/dev/null 2>&1; then
	fail "the forward on the external address still answers after del"
fi

# id_of PORT: the id of the forward with chains of its own on tcp PORT.
id_of() {
	nsx nft list map inet portfw any | grep -o "tcp . $1 : goto f[0-9]*" | sed 's/.*goto f//'
}

# spread PORT N: "A B" connections of N to tcp PORT that reached A and B.
spread() {
	local c
	c=$(in_ns "$C" "$PF_IDS" count -c "198.51.100.1:$1" -n "$2")
	[[ $(awk '$1=="FAILED"{print $2}' <<<"$c") == 0 ]] || fail "failed connections to :$1: $c"
	awk '$1=="A"{a=$2} $1=="B"{b=$2} END{print a+0, b+0}' <<<"$c"
}

info "a pool added, changed and deleted live: its own chains, no render of the table"
pf add name pool2 tcp :8095 to 10.0.0.2:9000, 10.0.0.3:9000
id=$(id_of 8095)
[[ -n $id ]] || fail "no verdict element of pool2"
nsx nft list chain inet portfw "f${id}_nat" | grep -q 10.0.0.3 || fail "no chain f${id}_nat"
read -r a b <<<"$(spread 8095 40)"
((a == 20 && b == 20)) || fail "pool2 spread $a / $b, expected 20 / 20"
got=$(printf 'del name pool2\nforward name pool2 tcp :8095 to 10.0.0.2:9000\n' | pf_request)
expect_eq "pool2 made simple in one request" "$got" ok
read -r a b <<<"$(spread 8095 10)"
((a == 10 && b == 0)) || fail "simple pool2 spread $a / $b, expected 10 / 0"
nsx nft list chain inet portfw "f${id}" >/dev/null 2>&1 && fail "chain f$id stayed after pool2 became simple"
got=$(printf 'del name pool2\nforward name pool2 tcp :8095 to 10.0.0.2:9000 weight 1, 10.0.0.3:9000 weight 3\n' | pf_request)
expect_eq "pool2 a pool again" "$got" ok
read -r a b <<<"$(spread 8095 40)"
((a == 10 && b == 30)) || fail "pool2 spread $a / $b, expected 10 / 30"
got=$(printf 'del name pool2\nforward name pool2 tcp :8095 to 10.0.0.2:9000 weight 3, 10.0.0.3:9000 weight 1\n' | pf_request)
expect_eq "pool2's weights changed" "$got" ok
expect_eq "pool2 keeps its id" "$(id_of 8095)" "$id"
read -r a b <<<"$(spread 8095 40)"
((a == 30 && b == 10)) || fail "pool2 spread $a / $b, expected 30 / 10"

info "a 'from' pool comes and goes: every forward keeps working across the reloads"
pf add name src tcp :8096 to 10.0.0.3:9000 from 198.51.100.0/24
read -r a b <<<"$(spread 8096 5)"
((a == 0 && b == 5)) || fail "the 'from' pool: $a / $b, expected 0 / 5"
read -r a b <<<"$(spread 8095 40)"
((a == 30 && b == 10)) || fail "pool2 with a 'from' pool about: $a / $b"
pf del name src
read -r a b <<<"$(spread 8095 40)"
((a == 30 && b == 10)) || fail "pool2 after the 'from' pool went: $a / $b"
pf del name pool2
[[ -z $(id_of 8095) ]] || fail "pool2's verdict element stayed"
nsx nft list chain inet portfw "f${id}_nat" >/dev/null 2>&1 && fail "chain f${id}_nat stayed"
got=$(in_ns "$C" curl -sS --max-time 5 http://198.51.100.1/)
expect_eq "the page after the pools came and went" "$got" "hello from S1"

info "6,000 more ports outgrow the simple maps (4,096 keys): made again larger, all forwards still work"
expect_eq "m_any's size before" "$(nsx nft list map inet portfw m_any | awk '$1 == "size" { print $2 }')" 4096
pf add name big tcp :20000-25999 to 10.0.0.2:9000
expect_eq "m_any's size after" "$(nsx nft list map inet portfw m_any | awk '$1 == "size" { print $2 }')" 16384
counts=$(in_ns "$C" "$PF_IDS" count -c 198.51.100.1:25999 -n 5)
expect_eq "through the last port of the range" "$(awk '$1=="A"{print $2}' <<<"$counts")" 5
got=$(in_ns "$C" curl -sS --max-time 5 http://198.51.100.1/)
expect_eq "the page after the maps were made again" "$got" "hello from S1"
counts=$(in_ns "$C" "$PF_IDS" count -c 198.51.100.1:8083 -n 5)
expect_eq "'one' after the maps were made again" "$(awk '$1=="B"{print $2}' <<<"$counts")" 5
pf del name big
nsx nft list map inet portfw d4_any | grep "tcp . 20000" >/dev/null && fail "the range's elements stayed after del"

info "the external address changes: forwards keep working"
ip -n "$G" addr del 198.51.100.1/24 dev wan
ip -n "$G" addr add 198.51.100.9/24 dev wan
got=$(in_ns "$C" curl -sS --max-time 5 http://198.51.100.9/)
expect_eq "page through the new external address" "$got" "hello from S1"

info "a refused change leaves the ruleset byte for byte"
nsx nft list table inet portfw >"$T/before.nft"
capture pf add name bad tcp :9999 to 127.0.0.1:80
expect_eq "DNAT to loopback: exit status" "$RC" 1
expect_in "DNAT to loopback" "$ERR" "CVE-2020-8558"
capture pf add name bad2 tcp :9998 to 10.0.0.2:1-2, 10.0.0.3:5-6
expect_eq "an unsupported pool: exit status" "$RC" 2
nsx nft list table inet portfw >"$T/after.nft"
cmp -s "$T/before.nft" "$T/after.nft" || fail "the ruleset changed: $(diff "$T/before.nft" "$T/after.nft" | head)"

info "a stop leaves the table without forwards (its flows run on); after flush -k it removes it"
pfd_stop
nsx nft list table inet portfw >"$T/stopped.nft" 2>&1 || fail "the stop removed table inet portfw"
grep -Eq 'dnat (ip6? )?to|vmap' "$T/stopped.nft" && fail "the stopped table still forwards: $(cat "$T/stopped.nft")"
pfd_start -e kernel -W wan
pf flush -k >/dev/null || fail "portfw flush -k failed"
pfd_stop
if nsx nft list table inet portfw >/dev/null 2>&1; then
	fail "table inet portfw left behind"
fi
