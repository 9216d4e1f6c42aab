#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The status server: 'status ADDR:PORT [admin]', /metrics, /api/status, the
# page and its admin actions.
#
#   client C 198.51.100.2 --- wan 198.51.100.1  gateway G  10.0.0.1 lan --- S 10.0.0.2
#
# Exactly N TCP connections and a few UDP flows through a user-engine and a
# kernel-engine forward move the connection counters by exactly that much
# (the kernel's from conntrack's events); the scrape is
# clean under promtool; a real Prometheus scrapes portfwd every second and
# answers a query with the right count; headless Chromium shows every
# forward and backend and, without a reload, a killed backend turning down
# (screenshot in $PFT_ARTIFACTS, default /tmp/portfw-artifacts/); admin
# changes only with 'admin' and from loopback; unknown paths 404, bad
# methods 405, bad bodies 400; a status line that cannot bind is refused
# whole, naming its line, and a changed one rebinds.
source "$(dirname "$0")/lib.sh"
pft_init

PF_IDS=$PORTFW_BUILD/tests/pf_ids
PF_UDP=$PORTFW_BUILD/tests/pf_udp
for b in "$PF_IDS" "$PF_UDP"; do [[ -x $b ]] || fail "$b not built"; done
for c in curl promtool prometheus chromium chromedriver; do
	command -v "$c" >/dev/null || fail "$c not installed (scripts/deps.sh test)"
done
ARTIFACTS=${PFT_ARTIFACTS:-/tmp/portfw-artifacts}
mkdir -p "$ARTIFACTS"

topo_gateway
info "backends: two id servers and a UDP echo in G, the same in S"
nsx timeout -k 5 300 "$PF_IDS" serve -l 127.0.0.1:9101=A >"$T/a.out" 2>&1 &
# B without a timeout wrapper: its pid is the server's, for the kill.
ip netns exec "$G" "$PF_IDS" serve -l 127.0.0.1:9102=B >"$T/b.out" 2>&1 &
B_PID=$!
nsx timeout -k 5 300 "$PF_UDP" echo -l 127.0.0.1:7001 >"$T/u.out" 2>&1 &
in_ns "$S" timeout -k 5 300 "$PF_IDS" serve -l 10.0.0.2:9000=K >"$T/k.out" 2>&1 &
in_ns "$S" timeout -k 5 300 "$PF_UDP" echo -l 10.0.0.2:7000 >"$T/ku.out" 2>&1 &

SP=127.0.0.1:9100
cat >"$PFD_CONF" <<EOF
status $SP admin
forward name web tcp 127.0.0.1:8080 to 127.0.0.1:9101, 127.0.0.1:9102 check check-interval 200ms check-timeout 200ms fall 1 rise 1
forward name dns udp 127.0.0.1:5353 to 127.0.0.1:7001
forward name kweb tcp 198.51.100.1:8080 to 10.0.0.2:9000 engine kernel
forward name kudp udp 198.51.100.1:7000 to 10.0.0.2:7000 engine kernel
EOF
pfd_start
web_up() {
	[[ $(be_stat web 0 health) == up && $(be_stat web 1 health) == up ]]
}
wait_for 10 "both backends of web up" web_up

# http [CURL_ARGS...] URL: curl in G, bounded; the body on stdout, then the
# status code on a line of its own.
http() {
	nsx curl -sS -m 10 -w '\n%{http_code}\n' "$@"
}
# metric NAME LABELS: the value of one sample of a fresh scrape (the labels
# as they start, e.g. 'forward="web"'), or "" when there is none.
metric() {
	local m
	m=$(nsx curl -sS -m 10 "http://$SP/metrics") || fail "scraping /metrics failed"
	awk -v n="$1{$2" 'index($0, n) == 1 { print $2; exit }' <<<"$m"
}

info "/metrics follows real traffic: N TCP connections, UDP flows, both engines"
N=25
web0=$(metric portfw_forward_connections_total 'forward="web"')
dns0=$(metric portfw_forward_connections_total 'forward="dns"')
kweb0=$(metric portfw_forward_connections_total 'forward="kweb"')
kudp0=$(metric portfw_forward_connections_total 'forward="kudp"')
[[ -n $web0 && -n $dns0 && -n $kweb0 && -n $kudp0 ]] || fail "a forward is missing from /metrics"
nsx timeout 60 "$PF_IDS" count -c 127.0.0.1:8080 -n $N >"$T/count.out"
grep -q '^FAILED 0$' "$T/count.out" || fail "connections through web failed: $(cat "$T/count.out")"
in_ns "$C" timeout 60 "$PF_IDS" count -c 198.51.100.1:8080 -n $N >"$T/kcount.out"
grep -q '^K '$N'$' "$T/kcount.out" || fail "connections through kweb: $(cat "$T/kcount.out")"
nsx timeout -k 5 60 "$PF_UDP" client -c 127.0.0.1:5353 -n 3 -r 2 -t 2000 >/dev/null ||
	fail "UDP flows through dns failed"
in_ns "$C" timeout -k 5 60 "$PF_UDP" client -c 198.51.100.1:7000 -n 3 -r 2 -t 2000 >/dev/null ||
	fail "UDP flows through kudp failed"
expect_eq "web's connections" "$(metric portfw_forward_connections_total 'forward="web"')" \
	$((web0 + N))
expect_eq "dns's UDP sessions" "$(metric portfw_forward_connections_total 'forward="dns"')" \
	$((dns0 + 3))
a=$(metric portfw_backend_connect_seconds_count 'forward="web",backend="127.0.0.1:9101"')
b=$(metric portfw_backend_connect_seconds_count 'forward="web",backend="127.0.0.1:9102"')
expect_eq "web's connect time histogram count" $((a + b)) $N
# The kernel engine counts from conntrack's events, a moment after the flows.
wait_for 10 "kweb's counter to reach $((kweb0 + N))" \
	test "$(metric portfw_forward_connections_total 'forward="kweb"')" = $((kweb0 + N))
wait_for 10 "kudp's counter to reach $((kudp0 + 3))" \
	test "$(metric portfw_forward_connections_total 'forward="kudp"')" = $((kudp0 + 3))
expect_in "kweb's labels" "$(nsx curl -sS -m 10 "http://$SP/metrics")" \
	'portfw_forward_active_flows{forward="kweb",proto="tcp",listen="198.51.100.1:8080",engine="kernel"}'

info "promtool check metrics"
nsx curl -sS -m 10 -D "$T/metrics.hdr" "http://$SP/metrics" >"$T/metrics.txt"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/metrics.hdr" ||
	fail "content type: $(grep -i content-type "$T/metrics.hdr")"
promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 ||
	fail "promtool check metrics: $(cat "$T/promtool.out")"
for m in portfw_forward_bytes_total portfw_forward_refused_total portfw_forward_denied_total \
	portfw_forward_failed_total portfw_backend_up portfw_backend_bytes_total \
	portfw_backend_health_check_failures_total portfw_backend_admin_state \
	portfw_forward_udp_sessions portfw_forwards portfw_reloads_total portfw_flowlog_dropped_total \
	portfw_last_reload_success portfw_build_info portfw_start_time_seconds; do
	grep -q "^# TYPE $m " "$T/metrics.txt" || fail "no metric $m"
done

info "a real Prometheus scrapes it every second"
mkdir -p "$T/prom"
cat >"$T/prom.yml" <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: portfw
    static_configs: [ { targets: ["$SP"] } ]
EOF
nsx timeout -k 5 120 prometheus --config.file="$T/prom.yml" --storage.tsdb.path="$T/prom" \
	--web.listen-address=127.0.0.1:9090 --log.level=warn >"$T/prometheus.log" 2>&1 &
want=$((web0 + N))
promq() {
	nsx curl -sS -m 5 -G 'http://127.0.0.1:9090/api/v1/query' \
		--data-urlencode 'query=portfw_forward_connections_total{forward="web"}' 2>/dev/null |
		"$PFT_PY" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null
}
prom_is() {
	[[ $(promq) == "$1" ]]
}
wait_for 30 "Prometheus to answer $want for web's connections" prom_is "$want"

info "headless Chromium: the page shows every forward and backend, then a killed one down"
mkdir -p "$T/home"
nsx env HOME="$T/home" timeout -k 5 120 chromedriver --port=9515 >"$T/chromedriver.log" 2>&1 &
# Traffic while the page watches, for its chart (its counts are not checked).
nsx timeout -k 5 60 "$PF_UDP" client -c 127.0.0.1:5353 -n 2 -r 400 -s 1200 -i 25 -t 2000 \
	>/dev/null 2>&1 &
shot=$ARTIFACTS/status-page.png
rm -f "$shot"
nsx env HOME="$T/home" timeout -k 5 100 "$PFT_PY" "$PFT_NET_DIR/pft_webdriver.py" \
	--driver 9515 --url "http://$SP/" --profile "$T/chromium" --timeout $((20 * PFT_SLOW)) \
	--expect "web=127.0.0.1:9101,web=127.0.0.1:9102,dns=127.0.0.1:7001,kweb=10.0.0.2:9000,kudp=10.0.0.2:7000" \
	--run "kill $B_PID" --down "web=127.0.0.1:9102" --screenshot "$shot" >"$T/webdriver.out" 2>&1 ||
	fail "the page in Chromium: $(cat "$T/webdriver.out")"
cat "$T/webdriver.out"
[[ -s $shot ]] || fail "no screenshot in $shot"
expect_eq "backend up metric after the kill" \
	"$(metric portfw_backend_up 'forward="web",backend="127.0.0.1:9102"')" 0

info "/api/status: 'list' with counters and the time"
http "http://$SP/api/status" >"$T/api.out"
expect_eq "/api/status code" "$(tail -n1 "$T/api.out")" 200
expect_eq "/api/status web conns" "$(head -n1 "$T/api.out" |
	jget "[f for f in d['forwards'] if f['name'] == 'web'][0]['conns']")" "$want"
[[ $(head -n1 "$T/api.out" | jget "d['time_ms'] > 0 and d['admin']") == True ]] ||
	fail "/api/status: no time or admin: $(head -c 300 "$T/api.out")"

info "bad requests: 404, 405, 400, with messages"
r=$(http "http://$SP/nope")
expect_in "unknown path" "$r" $'not found; expected /, /metrics, /api/status or POST /api/backend"}\n404'
r=$(http -X PUT "http://$SP/metrics")
expect_in "PUT /metrics" "$r" $'method not allowed: expected GET or HEAD"}\n405'
r=$(http "http://$SP/api/backend")
expect_in "GET /api/backend" "$r" $'/api/backend takes POST"}\n405'
r=$(http -H 'X-Portfw-Admin: 1' -d 'forward=web&backend=127.0.0.1:9101&action=explode' \
	"http://$SP/api/backend")
expect_in "bad action" "$r" $'action: expected drain, enable, disable, backup or primary"}\n400'
r=$(http -H 'X-Portfw-Admin: 1' -d 'forward=web%0aflush&backend=127.0.0.1:9101&action=drain' \
	"http://$SP/api/backend")
expect_in "a newline in a name" "$r" $'\n400'
r=$(http -H 'X-Portfw-Admin: 1' -d 'forward=nosuch&backend=127.0.0.1:9101&action=drain' \
	"http://$SP/api/backend")
expect_in "no such forward" "$r" $'no forward named \'nosuch\'"}\n400'
r=$(http -d 'forward=web&backend=127.0.0.1:9101&action=drain' "http://$SP/api/backend")
expect_in "without the page's header" "$r" $'\n403'
expect_eq "web's table after refused requests" "$(be_stat web 0 admin)" enabled
r=$(http -I "http://$SP/")
expect_in "HEAD /" "$r" "Content-Security-Policy: default-src 'none'"

info "admin from loopback: drain and enable through the page's request"
r=$(http -H 'X-Portfw-Admin: 1' -d 'forward=web&backend=127.0.0.1:9101&action=drain' \
	"http://$SP/api/backend")
expect_in "drain" "$r" $'"ok":true'
expect_eq "web backend 0 after drain" "$(be_stat web 0 admin)" drain
expect_eq "admin state metric" \
	"$(metric portfw_backend_admin_state 'forward="web",backend="127.0.0.1:9101",state="drain"')" 1
r=$(http -H 'X-Portfw-Admin: 1' -d 'action=enable&backend=127.0.0.1:9101&forward=web' \
	"http://$SP/api/backend")
expect_in "enable" "$r" $'"ok":true'
expect_eq "web backend 0 after enable" "$(be_stat web 0 admin)" enabled
expect_in "save keeps the status line" "$(pf save)" $'\nstatus 127.0.0.1:9100 admin\n'

info "a status line that cannot bind is refused whole, naming its line"
nsx timeout -k 5 120 "$PF_IDS" serve -l 127.0.0.1:9200=X >/dev/null 2>&1 &
listening_9200() {
	[[ -n $(nsx ss -Hltn 'sport = :9200') ]]
}
wait_for 10 "a listener on 9200" listening_9200
cp "$PFD_CONF" "$T/good.conf"
sed -i "s/^status .*/status 127.0.0.1:9200 admin/" "$PFD_CONF"
capture pf reload
expect_eq "reload onto a port in use" "$RC" 1
expect_in "its message" "$ERR" "$PFD_CONF:1: status: cannot listen on 127.0.0.1:9200: Address already in use"
sed -i "s/^status .*/status 192.0.2.99:9100/" "$PFD_CONF"
capture pf reload
expect_in "reload onto a foreign address" "$ERR" "$PFD_CONF:1: status: cannot listen on 192.0.2.99:9100: Cannot assign requested address"
expect_in "the old server still serves" "$(http "http://$SP/metrics")" "portfw_last_reload_success 0"
expect_in "reload failures counted" "$(nsx curl -sS -m 10 "http://$SP/metrics")" \
	$'\nportfw_reload_failures_total 2\n'

info "a changed status line rebinds: every address, no admin, then admin from elsewhere"
sed -i "s/^status .*/status 0.0.0.0:9100/" "$PFD_CONF"
pf reload >/dev/null || fail "reload with status 0.0.0.0:9100"
SP2=198.51.100.1:9100
r=$(in_ns "$C" curl -sS -m 10 -w '\n%{http_code}\n' "http://$SP2/metrics")
expect_in "/metrics from C" "$r" "portfw_forwards 4"
r=$(http -H 'X-Portfw-Admin: 1' -d 'forward=web&backend=127.0.0.1:9101&action=drain' \
	"http://$SP/api/backend")
expect_in "admin without 'admin'" "$r" $'admin actions are off: the status line has no \'admin\' (status ADDR:PORT admin)"}\n403'
sed -i "s/^status .*/status 0.0.0.0:9100 admin/" "$PFD_CONF"
pf reload >/dev/null || fail "reload with status 0.0.0.0:9100 admin"
r=$(in_ns "$C" curl -sS -m 10 -w '\n%{http_code}\n' -H 'X-Portfw-Admin: 1' \
	-d 'forward=web&backend=127.0.0.1:9101&action=drain' "http://$SP2/api/backend")
expect_in "admin from C" "$r" $'admin actions are served to loopback clients only"}\n403'
expect_eq "web backend 0 after refusals" "$(be_stat web 0 admin)" enabled

info "status off: the socket goes"
sed -i "/^status /d" "$PFD_CONF"
pf reload >/dev/null || fail "reload without status"
rc=0
nsx curl -sS -m 5 -o /dev/null "http://$SP/metrics" 2>/dev/null || rc=$?
expect_eq "curl's status: could not connect" "$rc" 7

pfd_stop
pft_done
