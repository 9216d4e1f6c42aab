#!/bin/sh
# Installs the Debian 12 packages portfw needs: to build (default), to run the
# tests (test), or the benchmark peers (bench). Runs apt-get only when
# something is missing, and 'apt-get update' at most once.
set -eu

build="make gcc libc6-dev pkg-config libjansson-dev libnftables-dev libnetfilter-conntrack-dev libmnl-dev libcap-ng-dev libmicrohttpd-dev libc-ares-dev"
test="$build libcmocka-dev libssl-dev clang libclang-rt-14-dev clang-tidy cppcheck \
      iproute2 procps psmisc python3 curl nginx-light socat dnsmasq-base bind9-dnsutils \
      nftables conntrack vsftpd lftp iputils-ping haproxy man-db groff-base systemd \
      prometheus chromium chromium-driver keepalived conntrackd"
bench="$test iperf3 wrk rinetd redir libnginx-mod-stream iptables"
example="$build python3 curl"

case "${1:-build}" in
build) pkgs=$build ;;
test) pkgs=$test ;;
bench) pkgs=$bench ;;
example) pkgs=$example ;;
*) echo "usage: $0 [build|test|bench|example]" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "portfw: missing Debian packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "portfw: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# nginx's package starts a system nginx on port 80 (haproxy's, rinetd's and
# prometheus' their own daemons); the tests and the benchmark start their own.
for svc in nginx haproxy rinetd prometheus; do
	if echo "$missing" | grep -q "$svc"; then
		systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
	fi
done
