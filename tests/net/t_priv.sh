#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Least privilege: portfwd -u nobody -g GROUP.
#
#   client C 198.51.100.2 --- wan 198.51.100.1  gateway G  10.0.0.1 lan --- S 10.0.0.2
#
# After the start the daemon runs as nobody with exactly CAP_NET_BIND_SERVICE
# and CAP_NET_ADMIN (permitted and effective, nothing in the bounding set);
# a user-engine and a kernel-engine forward carry connections; a forward
# added later on port 80 binds and carries one; SIGHUP reloads; a member of
# GROUP may list but not del (exit 1, a clear refusal); a non-member is kept
# out at connect() (EACCES, exit 1); a bad -u or -g fails the start.
source "$(dirname "$0")/lib.sh"
pft_init

command -v setpriv >/dev/null || fail "setpriv not installed (util-linux)"
command -v socat >/dev/null || fail "socat not installed"
id nobody >/dev/null 2>&1 || fail "no user 'nobody' on this system"
topo_gateway
# A group for the socket and two users, one in it: removed at exit, whatever
# happens (the EXIT trap of lib.sh runs first, then ours).
PRIV_ID=$$
PRIV_GROUP=pftpriv$PRIV_ID
PRIV_MEMBER=pftpm$PRIV_ID
PRIV_OTHER=pftpo$PRIV_ID
priv_cleanup() {
	userdel "$PRIV_MEMBER" 2>/dev/null
	userdel "$PRIV_OTHER" 2>/dev/null
	groupdel "$PRIV_GROUP" 2>/dev/null
	pft_cleanup
}
trap priv_cleanup EXIT
groupadd "$PRIV_GROUP" || fail "groupadd $PRIV_GROUP"
useradd -M -N -g nogroup -G "$PRIV_GROUP" -s /usr/sbin/nologin "$PRIV_MEMBER" ||
	fail "useradd $PRIV_MEMBER"
useradd -M -N -g nogroup -s /usr/sbin/nologin "$PRIV_OTHER" || fail "useradd $PRIV_OTHER"

# What nobody and the test users must reach: the config (read again on
# SIGHUP), the client, and a directory for the socket that nobody owns, so
# the daemon can remove its socket at exit.
chmod 755 "$T"
cp "$PORTFW" "$T/portfw"
chmod 755 "$T/portfw"
mkdir "$T/run"
chown nobody "$T/run"
PFD_SOCK=$T/run/ctl.sock

# as USER CMD...: CMD as USER with USER's groups.
as() {
	local u=$1
	shift
	timeout 20 setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups "$@"
}

info "a bad -u or -g fails before anything runs"
capture nsx "$PORTFWD" -c "$PFD_CONF" -s "$PFD_SOCK" -u no-such-user-pft
expect_eq "portfwd -u no-such-user: status" "$RC" 2
expect_in "portfwd -u no-such-user" "$ERR" "-u 'no-such-user-pft': no such user"
capture nsx "$PORTFWD" -c "$PFD_CONF" -s "$PFD_SOCK" -u nobody -g no-such-group-pft
expect_eq "portfwd -g no-such-group: status" "$RC" 2
expect_in "portfwd -g no-such-group" "$ERR" "-g 'no-such-group-pft': no such group"
[[ ! -e $PFD_SOCK ]] || fail "a refused start left $PFD_SOCK"

in_ns "$S" timeout -k 5 120 "$PFT_PY" "$PFT_TCP" greet 10.0.0.2:7000 hello-from-s \
	>"$T/greet.out" 2>"$T/greet.err" &
wait_for 10 "the greet server to listen" grep -qs '^listening' "$T/greet.out"

cat >"$PFD_CONF" <<EOC
forward name u tcp 198.51.100.1:8080 to 10.0.0.2:7000
forward name k tcp 198.51.100.1:8081 to 10.0.0.2:7000 engine kernel
EOC
chmod 644 "$PFD_CONF"

# greet ADDR:PORT: what the server behind ADDR:PORT says to C.
greet() {
	in_ns "$C" timeout 10 socat -T5 - "TCP:$1" </dev/null 2>&1 || true
}

info "portfwd -u nobody -g $PRIV_GROUP"
# -g first: pfd_start's own -u is the descriptor limit.
pfd_start -g "$PRIV_GROUP" -u nobody

# cap_names HEX: the capabilities of a /proc/PID/status mask, by name.
cap_names() {
	local mask=$((16#$1)) bit names=""
	for ((bit = 0; bit < 64; bit++)); do
		((mask >> bit & 1)) || continue
		case $bit in
		10) names+=" cap_net_bind_service" ;;
		12) names+=" cap_net_admin" ;;
		*) names+=" cap#$bit" ;;
		esac
	done
	echo "${names# }"
}
status=$(cat "/proc/$PFD_PID/status")
uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' <<<"$status")
nobody=$(id -u nobody)
expect_eq "Uid (real, effective, saved, fs)" "$uids" "$nobody $nobody $nobody $nobody"
gids=$(awk '/^Gid:/ {print $2, $3, $4, $5}' <<<"$status")
ng=$(id -g nobody)
expect_eq "Gid (real, effective, saved, fs)" "$gids" "$ng $ng $ng $ng"
expect_eq "supplementary groups" "$(awk '/^Groups:/ {print $2}' <<<"$status")" ""
for set in CapEff CapPrm; do
	expect_eq "$set" "$(cap_names "$(awk "/^$set:/ {print \$2}" <<<"$status")")" \
		"cap_net_bind_service cap_net_admin"
done
# Inheritable and ambient: for the exec of an upgrade (t_upgrade).
for set in CapInh CapAmb; do
	expect_eq "$set" "$(cap_names "$(awk "/^$set:/ {print \$2}" <<<"$status")")" \
		"cap_net_bind_service cap_net_admin"
done
expect_eq "CapBnd" "$(cap_names "$(awk '/^CapBnd:/ {print $2}' <<<"$status")")" ""
expect_in "the log line" "$(cat "$PFD_LOG")" \
	"running as user nobody (uid $nobody, gid $ng), capabilities kept: net_bind_service, net_admin"
sock=$(stat -c '%U %G %a' "$PFD_SOCK")
expect_eq "the control socket's owner, group and mode" "$sock" "nobody $PRIV_GROUP 660"

info "forwards carry connections: user engine, kernel engine"
expect_eq "user engine forward" "$(greet 198.51.100.1:8080)" hello-from-s
expect_eq "kernel engine forward" "$(greet 198.51.100.1:8081)" hello-from-s

info "a forward added later on port 80 binds"
pf add name low tcp 198.51.100.1:80 to 10.0.0.2:7000 || fail "portfw add of port 80 failed"
expect_eq "forward on port 80" "$(greet 198.51.100.1:80)" hello-from-s

info "SIGHUP reloads the config as nobody"
echo "forward name h tcp 198.51.100.1:8082 to 10.0.0.2:7000" >>"$PFD_CONF"
kill -HUP "$PFD_PID"
wait_for 10 "the reload to install forward h" eval "pf list | grep -qw h"
expect_eq "forward of the reloaded config" "$(greet 198.51.100.1:8082)" hello-from-s
! grep -q "reload refused" "$PFD_LOG" || fail "reload refused: $(grep "reload refused" "$PFD_LOG")"

info "a member of $PRIV_GROUP reads, and may not change"
capture as "$PRIV_MEMBER" "$T/portfw" -s "$PFD_SOCK" list
expect_eq "member: portfw list status ($ERR)" "$RC" 0
expect_in "member: portfw list" "$OUT" "198.51.100.1:8080"
capture as "$PRIV_MEMBER" "$T/portfw" -s "$PFD_SOCK" save
expect_eq "member: portfw save status ($ERR)" "$RC" 0
capture as "$PRIV_MEMBER" "$T/portfw" -s "$PFD_SOCK" del name u
expect_eq "member: portfw del status" "$RC" 1
expect_in "member: portfw del" "$ERR" \
	"permission denied: 'del' changes the table; it needs root or portfwd's user (uid $nobody); members of group $PRIV_GROUP may only read (list, conns, save)"
capture as "$PRIV_MEMBER" "$T/portfw" -s "$PFD_SOCK" reload
expect_eq "member: portfw reload status" "$RC" 1
expect_in "member: portfw reload" "$ERR" "permission denied: 'reload' changes the table"
pf list | grep -qw u || fail "the member's refused del removed forward u"

info "a non-member is kept out"
capture as "$PRIV_OTHER" "$T/portfw" -s "$PFD_SOCK" list
expect_eq "non-member: portfw list status" "$RC" 1
expect_in "non-member: portfw list" "$ERR" \
	"portfw: cannot connect to $PFD_SOCK: Permission denied"

info "root may change the table"
pf del name u || fail "root: portfw del failed"

pfd_stop

info "the config line 'user nobody group GROUP' does what -u and -g do"
cat >"$PFD_CONF" <<EOC
user nobody group $PRIV_GROUP
forward name u tcp 198.51.100.1:8080 to 10.0.0.2:7000
EOC
pfd_start
expect_eq "Uid (config line)" "$(awk '/^Uid:/ {print $2, $3}' "/proc/$PFD_PID/status")" \
	"$nobody $nobody"
expect_eq "the control socket's group (config line)" "$(stat -c '%G %a' "$PFD_SOCK")" \
	"$PRIV_GROUP 660"
expect_eq "user engine forward (config line)" "$(greet 198.51.100.1:8080)" hello-from-s
expect_in "portfw save keeps the line" "$(pf save)" "user nobody group $PRIV_GROUP"
info "a reload naming a user that does not exist is refused and changes nothing"
sed -i "1s/.*/user no-such-user-pft/" "$PFD_CONF"
echo "forward name x tcp 198.51.100.1:8083 to 10.0.0.2:7000" >>"$PFD_CONF"
capture pf reload
expect_eq "reload with an unknown user: status" "$RC" 1
expect_in "reload with an unknown user" "$ERR" \
	"$PFD_CONF:1: user 'no-such-user-pft': no such user; expected an account of this system"
pf list | grep -qw x && fail "a refused reload installed forward x"
info "a reload naming another user keeps it for the next start, and says so"
sed -i "1s/.*/user $PRIV_OTHER/" "$PFD_CONF"
pf reload || fail "reload with another user refused"
wait_for 10 "the warning" grep -q "'user $PRIV_OTHER' takes effect when portfwd starts again; it runs as nobody now" "$PFD_LOG"
expect_in "portfw save shows the new line" "$(pf save)" "user $PRIV_OTHER"
pfd_stop

info "-u wins over the config line"
sed -i "1s/.*/user $PRIV_OTHER/" "$PFD_CONF"
pfd_start -g "$PRIV_GROUP" -u nobody
expect_eq "Uid (-u over the line)" "$(awk '/^Uid:/ {print $2}' "/proc/$PFD_PID/status")" "$nobody"
pfd_stop
pft_done
