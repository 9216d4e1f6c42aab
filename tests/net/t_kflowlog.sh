#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The kernel engine's flow log, from conntrack DESTROY events:
#
#   client C 198.51.100.2 --- wan 198.51.100.1  gateway G  10.0.0.1 lan --- S 10.0.0.2
#
# A TCP connection and UDP flows through kernel forwards with 'log' give one
# line each when conntrack drops their entries: forward, protocol, client,
# listen address, backend, bytes as conntrack counts them (whole IP
# packets: payload + 28 per datagram for UDP over IPv4), why it ended (a
# close after TIME_WAIT, a backend's reset to the connect, a UDP timeout, a
# 'portfw kill'); JSON lines with
# 'log-format json'; a forward without 'log' logs nothing. The gateway's
# conntrack timeouts are shortened (its own namespace) so entries end fast,
# and the test reads the conntrack table while it waits: the kernel removes
# an expired entry (and sends its DESTROY event) when its garbage collector
# or a lookup finds it, which may take a minute on a quiet gateway.
source "$(dirname "$0")/lib.sh"
pft_init

PF_UDP=$PORTFW_BUILD/tests/pf_udp
command -v nft >/dev/null || fail "nft not installed"
topo_gateway
# expired CMD...: reaps the gateway's expired entries, then runs CMD.
expired() {
	nsx cat /proc/net/nf_conntrack >/dev/null
	"$@"
}
for t in tcp_timeout_time_wait tcp_timeout_close udp_timeout udp_timeout_stream; do
	nsx sh -c "echo 1 >/proc/sys/net/netfilter/nf_conntrack_$t"
done

UP=50000 DOWN=20000 R=4 SIZE=300
in_ns "$S" timeout -k 5 120 "$PF_XFER" server -l 10.0.0.2:9000 -n 2 -S $DOWN \
	>"$T/srv.out" 2>"$T/srv.err" &
in_ns "$S" timeout -k 5 120 "$PF_UDP" echo -l 10.0.0.2:7000 >"$T/udp.out" 2>&1 &
wait_for 10 "servers to listen" eval 'grep -qs listening "$T/srv.out" && grep -qs listening "$T/udp.out"'

cat >"$PFD_CONF" <<'EOF2'
forward name lt tcp :8080 to 10.0.0.2:9000 engine kernel log
forward name lu udp :7000 to 10.0.0.2:7000 engine kernel log
forward name nl tcp :8082 to 10.0.0.2:9000 engine kernel
forward name lr tcp :8084 to 10.0.0.2:9999 engine kernel log
EOF2
pfd_start -W wan

info "a TCP connection ($UP bytes up, $DOWN down): one line once its entry expires"
in_ns "$C" timeout -k 5 30 "$PF_XFER" client -c 198.51.100.1:8080 -n 1 -s $UP -t 20 \
	>"$T/cli.out" 2>"$T/cli.err" || fail "pf_xfer client failed: $(head -3 "$T/cli.err")"
wait_for 20 "the TCP flow's line" expired grep -q "^flow lt tcp" "$PFD_LOG"
line=$(grep "^flow lt tcp" "$PFD_LOG")
re='^flow lt tcp 198\.51\.100\.2:[0-9]+ -> 198\.51\.100\.1:8080 -> 10\.0\.0\.2:9000 up=([0-9]+) down=([0-9]+) start=[^ ]+ dur=[0-9]+\.[0-9]{3}s end=(client|backend)-close engine=kernel$'
[[ $line =~ $re ]] || fail "TCP flow line: $line"
bu=${BASH_REMATCH[1]} bd=${BASH_REMATCH[2]}
((bu >= UP && bu <= UP * 11 / 10 + 4096)) || fail "TCP flow up=$bu: expected $UP plus headers"
((bd >= DOWN && bd <= DOWN * 11 / 10 + 4096)) || fail "TCP flow down=$bd: expected $DOWN plus headers"
expect_eq "the line's bytes are the forward's" "$(fwd_stat lt bytes_up)" "$bu"

info "a connect the backend refuses (RST): end=refused"
got=$(in_ns "$C" timeout 10 "$PFT_PY" "$PFT_TCP" probe 198.51.100.1:8084 --wait 2)
expect_eq "connect to a closed backend port" "$got" refused
wait_for 20 "the refused flow's line" expired grep -q "^flow lr tcp" "$PFD_LOG"
line=$(grep "^flow lr tcp" "$PFD_LOG")
[[ $line == *" -> 10.0.0.2:9999 "*" end=refused engine=kernel" ]] || fail "refused flow line: $line"

info "a UDP flow ($R datagrams of $SIZE bytes each way): one line when it times out"
got=$(in_ns "$C" timeout 20 "$PF_UDP" client -c 198.51.100.1:7000 -n 1 -r $R -s $SIZE -t 2000)
expect_eq "UDP echo" "$got" "ok $R lost 0 wrong 0"
wait_for 20 "the UDP flow's line" expired grep -q "^flow lu udp" "$PFD_LOG"
line=$(grep "^flow lu udp" "$PFD_LOG")
b=$((R * (SIZE + 28)))
re="^flow lu udp 198\\.51\\.100\\.2:[0-9]+ -> 198\\.51\\.100\\.1:7000 -> 10\\.0\\.0\\.2:7000 up=$b down=$b start=[^ ]+ dur=[0-9]+\\.[0-9]{3}s end=timeout engine=kernel\$"
[[ $line =~ $re ]] || fail "UDP flow line (want up=down=$b): $line"

info "log-format json; a flow cut by 'portfw kill' ends killed"
nsx sh -c "echo 60 >/proc/sys/net/netfilter/nf_conntrack_udp_timeout"
echo "log-format json" >>"$PFD_CONF"
pf reload >/dev/null || fail "reload with log-format json failed"
got=$(in_ns "$C" timeout 20 "$PF_UDP" client -c 198.51.100.1:7000 -n 1 -r 2 -s $SIZE -t 2000)
expect_eq "UDP echo" "$got" "ok 2 lost 0 wrong 0"
wait_for 5 "the UDP entry" eval '[[ $(nconns lu) == 1 ]]'
pf kill name lu >/dev/null || fail "portfw kill name lu failed"
wait_for 10 "the killed flow's JSON line" grep -q '^{"forward":"lu"' "$PFD_LOG"
line=$(grep '^{"forward":"lu"' "$PFD_LOG")
got=$(jget "(d['proto'], d['bytes_up'], d['bytes_down'], d['end'], d['engine'], d['backend'])" <<<"$line")
expect_eq "killed flow (JSON)" "$got" "('udp', $((2 * (SIZE + 28))), $((2 * (SIZE + 28))), 'killed', 'kernel', '10.0.0.2:7000')"

info "a forward without 'log' logs no flow"
in_ns "$C" timeout -k 5 30 "$PF_XFER" client -c 198.51.100.1:8082 -n 1 -s 1000 -t 20 \
	>"$T/cli2.out" 2>"$T/cli2.err" || fail "pf_xfer client (nl) failed"
wait_for 10 "nl's flow to end" expired eval '[[ $(fwd_stat nl active) == 0 ]]'
! grep -q '"forward":"nl"\|^flow nl ' "$PFD_LOG" || fail "forward nl has no 'log' but logged a flow"

pfd_stop
pft_done
