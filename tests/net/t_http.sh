#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Real HTTP through portfwd: nginx serves a file, curl fetches it through
# forwards on an IPv4 address, an IPv6 address, the any-address (":PORT",
# reached over both 127.0.0.1 and ::1) and a port range mapped 1:1.
. "$(dirname "$0")/lib.sh"
pft_init

www=$T/www
mkdir -p "$www" "$T/r0" "$T/r1" "$T/r2"
head -c $((5 * 1024 * 1024 + 123)) /dev/urandom >"$www/blob.bin"
want=$(sha256sum <"$www/blob.bin" | cut -d' ' -f1)
size=$(stat -c %s "$www/blob.bin")
# Three backends of the range, each telling who it is.
for i in 0 1 2; do echo "backend-$i" >"$T/r$i/who.txt"; done

nginx_start 9080:"$www" 9100:"$T/r0" 9101:"$T/r1" 9102:"$T/r2"

cat >"$PFD_CONF" <<EOF
forward name v4 tcp 127.0.0.1:8080 to 127.0.0.1:9080
forward name v6 tcp [::1]:8081 to 127.0.0.1:9080
forward name any tcp :8082 to 127.0.0.1:9080
forward name range tcp 127.0.0.1:8100-8102 to 127.0.0.1:9100-9102
EOF
pfd_start

# get URL OUTFILE: one curl, bounded.
get() {
	nsx curl -sS --fail --max-time 20 -g -o "$2" "$1"
}

info "IPv4 listener: the file arrives byte-exact"
get http://127.0.0.1:8080/blob.bin "$T/got-v4"
expect_eq "sha256 via 127.0.0.1:8080" "$(sha256sum <"$T/got-v4" | cut -d' ' -f1)" "$want"

info "the forward's counters moved"
# The flow ends when curl closes; the counters are final once it left the table.
wait_for 5 "the v4 flow to end" eval '[[ $(fwd_stat v4 active) == 0 ]]'
expect_eq "v4 conns" "$(fwd_stat v4 conns)" 1
expect_eq "v4 backend conns" "$(be_stat v4 0 conns)" 1
expect_eq "v4 failed" "$(be_stat v4 0 failed)" 0
up=$(fwd_stat v4 bytes_up)
down=$(fwd_stat v4 bytes_down)
# Up: the request line and headers. Down: headers plus the whole body.
((up > 50 && up < 1000)) || fail "v4 bytes_up $up: expected the size of one request"
((down > size && down < size + 1000)) || fail "v4 bytes_down $down: expected $size + headers"
expect_eq "v4 backend bytes_down" "$(be_stat v4 0 bytes_down)" "$down"

info "nginx logged the request (it came through the forward)"
wait_for 5 "the access log line" grep -q "\"GET /blob.bin HTTP/1.1\" 200 $size " \
	"$T/nginx/access.log"
expect_in "access log client" "$(grep 'GET /blob.bin' "$T/nginx/access.log" | head -1)" \
	"127.0.0.1 - -"

info "IPv6 listener [::1]:8081"
get "http://[::1]:8081/blob.bin" "$T/got-v6"
expect_eq "sha256 via [::1]:8081" "$(sha256sum <"$T/got-v6" | cut -d' ' -f1)" "$want"
expect_refused 127.0.0.1:8081 "the [::1] forward listens on ::1 only"

info "any-address listener :8082, over IPv4 and IPv6"
get http://127.0.0.1:8082/blob.bin "$T/got-any4"
expect_eq "sha256 via 127.0.0.1:8082" "$(sha256sum <"$T/got-any4" | cut -d' ' -f1)" "$want"
get "http://[::1]:8082/blob.bin" "$T/got-any6"
expect_eq "sha256 via [::1]:8082" "$(sha256sum <"$T/got-any6" | cut -d' ' -f1)" "$want"
wait_for 5 "the any flows to end" eval '[[ $(fwd_stat any active) == 0 ]]'
expect_eq "any conns" "$(fwd_stat any conns)" 2

info "port range 8100-8102 maps 1:1 onto 9100-9102"
for i in 0 1 2; do
	got=$(nsx curl -sS --fail --max-time 10 "http://127.0.0.1:$((8100 + i))/who.txt")
	expect_eq "127.0.0.1:$((8100 + i))/who.txt" "$got" "backend-$i"
done
# And again in another order: the mapping is by port, not by turn.
for i in 2 0 1; do
	got=$(nsx curl -sS --fail --max-time 10 "http://127.0.0.1:$((8100 + i))/who.txt")
	expect_eq "127.0.0.1:$((8100 + i))/who.txt (2nd)" "$got" "backend-$i"
done
expect_refused 127.0.0.1:8103 "just past the range"
expect_eq "range conns" "$(fwd_stat range conns)" 6

info "many requests on keep-alive and parallel connections"
ka=() par=()
for i in $(seq 1 20); do
	ka+=(-o "$T/ka-$i" http://127.0.0.1:8080/blob.bin)
	par+=(-o "$T/par-$i" http://127.0.0.1:8082/blob.bin)
done
# One connection, 20 requests (curl reuses it), then 10 connections at once.
nsx curl -sS --fail --max-time 60 "${ka[@]}"
nsx curl -sS --fail --max-time 60 --parallel --parallel-max 10 "${par[@]}"
for f in "$T"/ka-* "$T"/par-*; do
	expect_eq "sha256 of $f" "$(sha256sum <"$f" | cut -d' ' -f1)" "$want"
done

pfd_stop
pft_done
