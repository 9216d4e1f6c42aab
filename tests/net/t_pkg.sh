#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Packaging: systemd readiness (READY=1 once the table is loaded and the
# control socket answers, RELOADING=1/READY=1 around SIGHUP, STATUS= after a
# refused reload, MAINPID= and READY=1 from the new process of an upgrade,
# STOPPING=1 on SIGTERM; a test listener on NOTIFY_SOCKET,
# a path and an abstract one), the command-line conventions (--help,
# --version, help COMMAND, one-line usage errors), the man pages rendering
# without warnings, 'make install DESTDIR= PREFIX=/usr' putting every file
# in place (the HA recipe's too) and 'make uninstall' removing them, and the
# installed unit passing 'systemd-analyze verify'.
. "$(dirname "$0")/lib.sh"
pft_init

REPO=$(cd "$PFT_NET_DIR/../.." && pwd)

# notify_listen PATH LOG: a unix datagram socket at PATH ('@' for an
# abstract one) writing each message to LOG as one line, its lines joined by
# '|'. On READY=1 it asks the control socket $PFD_SOCK for the table at once
# and appends ' answered=N' (the forwards it holds), so the test sees what a
# client saw the moment systemd would have called the service started.
notify_listen() {
	# In the daemon's namespace: abstract sockets belong to one.
	nsx "$PFT_PY" - "$1" "$2" "$PFD_SOCK" <<'PY' &
import json, os, socket, sys
path, log, ctl = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + path[1:] if path.startswith("@") else path)
open(log + ".ready", "w").close()
while True:
    msg = s.recv(4096).decode()
    line = msg.strip().replace("\n", "|")
    if "READY=1" in msg.split("\n"):
        try:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.settimeout(5)
            c.connect(ctl)
            c.sendall(b"list\n")
            c.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := c.recv(65536):
                data += chunk
            line += " answered=%d" % len(json.loads(data)["forwards"])
        except Exception as e:
            line += " answered=error:%s" % e
    with open(log, "a") as f:
        f.write(line + "\n")
PY
	NOTIFY_PID=$!
	wait_for 5 "the notify listener" test -e "$2.ready"
}

notify_has() {
	[[ -e $1 && $(wc -l <"$1") -ge $2 ]]
}

# notify_wait LOG N: waits until LOG has N lines.
notify_wait() {
	wait_for 10 "notification $2 in $1" notify_has "$1" "$2"
}

cat >"$PFD_CONF" <<EOF
forward name A tcp 127.0.0.1:8001 to 127.0.0.1:9001
forward name B tcp 127.0.0.1:8002 to 127.0.0.1:9002
EOF

info "readiness: READY=1 once the table is loaded and the socket answers"
NLOG=$T/notify.log
notify_listen "$T/notify.sock" "$NLOG"
NOTIFY_SOCKET=$T/notify.sock pfd_start
notify_wait "$NLOG" 1
expect_eq "first notification" "$(sed -n 1p "$NLOG")" "READY=1|STATUS=2 forwards loaded answered=2"

info "bash completion: commands, and the running daemon's forward names"
# complete WORDS...: what the completion offers for the last word (with
# bash-completion's _init_completion reduced to what it sets).
complete_words() {
	nsx env PATH="$PORTFW_BUILD:$PATH" bash -c '
_init_completion() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
	cur=${words[cword]}; prev=${words[cword - 1]}; }
_filedir() { :; }
. "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
_portfw; echo "${COMPREPLY[*]}"' _ "$REPO/dist/portfw.bash-completion" "$@"
}
expect_eq "complete 'portfw de'" "$(complete_words portfw de)" "del default"
expect_eq "complete 'portfw del name'" "$(complete_words portfw -s "$PFD_SOCK" del name "")" "A B"
expect_eq "complete 'portfw explain'" "$(complete_words portfw -s "$PFD_SOCK" explain "")" \
	"A B tcp udp -j"
expect_eq "complete 'portfw backend A X'" "$(complete_words portfw backend A X "")" \
	"drain enable disable backup primary weight"

info "SIGHUP: RELOADING=1, then READY=1 with the new table"
echo "forward name C tcp 127.0.0.1:8003 to 127.0.0.1:9003" >>"$PFD_CONF"
kill -HUP "$PFD_PID"
notify_wait "$NLOG" 3
expect_in "reload starts" "$(sed -n 2p "$NLOG")" "RELOADING=1|MONOTONIC_USEC="
expect_eq "reload done" "$(sed -n 3p "$NLOG")" "READY=1|STATUS=3 forwards loaded answered=3"

info "a refused reload: READY=1 again, STATUS= says why, the table stays"
echo "forward name D tcp 127.0.0.1:8004 too 127.0.0.1:9004" >>"$PFD_CONF"
kill -HUP "$PFD_PID"
notify_wait "$NLOG" 5
expect_in "refused reload" "$(sed -n 5p "$NLOG")" "READY=1|STATUS=reload refused: "
expect_in "refused reload names the word" "$(sed -n 5p "$NLOG")" "'too'"
expect_in "refused reload keeps the table" "$(sed -n 5p "$NLOG")" "answered=3"

info "portfw upgrade: the new process sends MAINPID= and READY=1, the old one nothing"
sed -i '$d' "$PFD_CONF"
OLD_PID=$PFD_PID
capture pf upgrade
[[ $RC == 0 ]] || fail "portfw upgrade failed: $ERR"
PFD_PID=$(sed -n 's/^portfwd upgraded: pid \([0-9]*\) is serving.*/\1/p' <<<"$OUT")
[[ -n $PFD_PID ]] || fail "portfw upgrade said no pid: $OUT"
notify_wait "$NLOG" 6
expect_eq "upgraded" "$(sed -n 6p "$NLOG")" \
	"MAINPID=$PFD_PID|READY=1|STATUS=3 forwards loaded answered=3"
wait_for 10 "the old portfwd $OLD_PID to exit" pid_gone "$OLD_PID"
wait "$OLD_PID" || fail "the old portfwd exited with status $? after the upgrade"

info "SIGTERM: STOPPING=1"
# The new process is not the shell's child (the old one started it).
kill -TERM "$PFD_PID"
wait_for 10 "portfwd to exit on SIGTERM" pid_gone "$PFD_PID"
[[ ! -e $PFD_SOCK ]] || fail "portfwd left its control socket $PFD_SOCK behind"
pfd_check_log
notify_wait "$NLOG" 7
expect_eq "stop" "$(sed -n 7p "$NLOG")" "STOPPING=1"
expect_eq "nothing from the old one" "$(wc -l <"$NLOG")" 7
kill "$NOTIFY_PID"

info "an abstract NOTIFY_SOCKET (@name), as systemd may pass"
ALOG=$T/notify-abstract.log
notify_listen "@pft-notify-$$" "$ALOG"
NOTIFY_SOCKET=@pft-notify-$$ pfd_start
notify_wait "$ALOG" 1
expect_eq "abstract: ready" "$(sed -n 1p "$ALOG")" "READY=1|STATUS=3 forwards loaded answered=3"
pfd_stop TERM
kill "$NOTIFY_PID"

info "--help, --version, help COMMAND: exit 0 on standard output"
for cmd in "$PORTFWD --help" "$PORTFWD --version" "$PORTFWD -V" "$PORTFW --help" \
	"$PORTFW --version" "$PORTFW help" "$PORTFW help del"; do
	# shellcheck disable=SC2086 # a command and its arguments
	capture $cmd
	[[ $RC == 0 ]] || fail "$cmd: exit status $RC ($ERR)"
	[[ -n $OUT && -z $ERR ]] || fail "$cmd: expected output on stdout only (out: $OUT, err: $ERR)"
done
capture "$PORTFW" --version
expect_eq "portfw --version" "$OUT" "portfw 0.1.0"
capture "$PORTFWD" --version
expect_eq "portfwd --version" "$OUT" "portfwd 0.1.0"
capture "$PORTFW" help del
expect_eq "portfw help del" "$OUT" "usage: portfw [-s SOCKET] del [-k] name NAME | [-k] PROTO LISTEN [BACKEND]"

info "a usage error: one line naming it and --help, exit 2"
# usage_error WORD CMD...: exit 2, one line on stderr with WORD and --help,
# nothing on stdout.
usage_error() {
	local word=$1
	shift
	capture "$@"
	[[ $RC == 2 ]] || fail "$*: exit status $RC, expected 2"
	[[ -z $OUT ]] || fail "$*: printed on stdout: $OUT"
	[[ $(wc -l <<<"$ERR") == 1 ]] || fail "$*: expected one line on stderr, got: $ERR"
	expect_in "$*" "$ERR" "$word"
	expect_in "$*" "$ERR" "--help"
}
usage_error "'-x'" "$PORTFW" -x list
usage_error "'frob'" "$PORTFW" frob
usage_error "no command" "$PORTFW"
usage_error "'nosuch'" "$PORTFW" help nosuch
usage_error "'-x'" "$PORTFWD" -x
usage_error "'--bogus'" "$PORTFWD" --bogus
usage_error "'-c'" "$PORTFWD" -c
usage_error "'extra'" "$PORTFWD" extra

info "man pages render without warnings"
for m in "$REPO"/man/*.[58]; do
	capture man -l --warnings -E UTF-8 -Tutf8 "$m"
	[[ $RC == 0 && -z $ERR ]] || fail "man -l $m: status $RC, warnings: $ERR"
	capture groff -man -ww -z "$m"
	[[ $RC == 0 && -z $ERR ]] || fail "groff $m: status $RC, warnings: $ERR"
done

info "make install DESTDIR= PREFIX=/usr puts every file in place"
R=$T/root
capture make -s -C "$REPO" BUILD="$PORTFW_BUILD" install DESTDIR="$R" PREFIX=/usr
[[ $RC == 0 ]] || fail "make install: $ERR"
for f in usr/sbin/portfwd usr/bin/portfw usr/bin/ipportfw usr/bin/ipmasqadm \
	usr/share/man/man5/portfw.conf.5 usr/share/man/man8/portfwd.8 usr/share/man/man8/portfw.8 \
	usr/share/man/man8/ipportfw.8 usr/share/man/man8/ipmasqadm.8 \
	usr/lib/systemd/system/portfwd.service usr/lib/sysusers.d/portfw.conf \
	usr/lib/tmpfiles.d/portfw.conf usr/share/bash-completion/completions/portfw \
	usr/share/bash-completion/completions/portfwd usr/share/doc/portfw/portfw.conf \
	usr/share/doc/portfw/README.md usr/share/doc/portfw/docs/kernel.md \
	usr/share/portfw/ha/keepalived.conf usr/share/portfw/ha/conntrackd.conf \
	usr/share/portfw/ha/portfw-ha-notify; do
	[[ -e $R/$f ]] || fail "make install: $f missing"
done
[[ -x $R/usr/sbin/portfwd && -x $R/usr/bin/portfw ]] || fail "make install: binaries not executable"
expect_eq "ipportfw link" "$(readlink "$R/usr/bin/ipportfw")" "portfw"
unit=$R/usr/lib/systemd/system/portfwd.service
expect_in "the unit's ExecStart" "$(grep '^ExecStart=' "$unit")" "ExecStart=/usr/sbin/portfwd "
# The HA recipe's keepalived.conf names the installed notify script.
notify=$(sed -n 's/^[[:space:]]*notify_master "\([^ ]*\) .*/\1/p' "$R/usr/share/portfw/ha/keepalived.conf")
expect_eq "keepalived.conf's notify script" "$notify" /usr/share/portfw/ha/portfw-ha-notify
[[ -x $R$notify ]] || fail "make install: $notify not executable"
capture bash -n "$R/usr/share/bash-completion/completions/portfw"
[[ $RC == 0 ]] || fail "the completion is not valid bash: $ERR"

info "the installed unit passes systemd-analyze verify"
# verify checks that ExecStart is executable: a copy of the unit that names
# the DESTDIR's daemon (--root would need a whole systemd tree there), and
# Documentation= against the installed man pages.
sed "s|^ExecStart=/usr/sbin/portfwd|ExecStart=$R/usr/sbin/portfwd|" "$unit" >"$T/portfwd.service"
capture env MANPATH="$R/usr/share/man" systemd-analyze verify "$T/portfwd.service"
[[ $RC == 0 && -z $ERR ]] || fail "systemd-analyze verify: status $RC: $ERR"
# And it does notice a missing daemon (so the check above checks something).
sed "s|^ExecStart=/usr/sbin/portfwd|ExecStart=$T/nowhere/portfwd|" "$unit" >"$T/portfwd.service"
capture env MANPATH="$R/usr/share/man" systemd-analyze verify "$T/portfwd.service"
[[ $RC != 0 ]] || fail "systemd-analyze verify passed a unit whose daemon does not exist"

info "make uninstall removes them"
capture make -s -C "$REPO" BUILD="$PORTFW_BUILD" uninstall DESTDIR="$R" PREFIX=/usr
[[ $RC == 0 ]] || fail "make uninstall: $ERR"
left=$(find "$R" ! -type d)
[[ -z $left ]] || fail "make uninstall left: $left"

pft_done
