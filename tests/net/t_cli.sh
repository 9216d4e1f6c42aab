#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The client and the control socket: syntax errors (exit 2, naming the
# argument), no daemon (names the socket), JSON output, save/flush/restore
# round trip, restore's errors naming the file's lines (an include's too), a
# live add's errors naming the forward, socket mode 0600, PORTFW_SOCKET, del of
# what does not exist, a second daemon on the same socket, ha-check of one
# daemon's table against another's, a forward on an address the host gets
# only later (IP_FREEBIND), SIGTERM/SIGINT.
. "$(dirname "$0")/lib.sh"
pft_init

cat >"$PFD_CONF" <<EOF
forward name A tcp 127.0.0.1:8001 to 127.0.0.1:9001
forward name B tcp [::1]:8002 to 127.0.0.1:9001 weight 3, 127.0.0.1:9002 idle-timeout 5m maxconn 10
forward tcp 127.0.0.1:8100-8101 to 127.0.0.1:9001
EOF
tcp_bg greet1 greet 127.0.0.1:9001 one
tcp_bg greet2 greet 127.0.0.1:9002 two
pfd_start
pf save >"$T/save0"
grep -q '^forward name B tcp \[::1\]:8002 to 127.0.0.1:9001 weight 3, 127.0.0.1:9002' "$T/save0" ||
	fail "save does not show B as configured: $(cat "$T/save0")"

first_text() {
	local r
	r=$(tcp firstbyte "$1" --wait 5)
	[[ $r == data* ]] || fail "no greeting through $1: $r"
	echo "${r#data * }"
}

unchanged() {
	diff <(pf save) "$T/save0" >/dev/null || fail "the table changed after: $1"
}

info "syntax errors in 'portfw add': exit 2, the offending word named"
# syntax_error WORD ARGS...: 'portfw ARGS' exits 2 naming 'WORD'.
syntax_error() {
	local word=$1
	shift
	capture pf "$@"
	[[ $RC == 2 ]] || fail "portfw $*: exit status $RC, expected 2 (stderr: $ERR)"
	expect_in "portfw $*: message" "$ERR" "$word"
	unchanged "portfw $*"
}
syntax_error "'too'" add tcp 127.0.0.1:8003 too 127.0.0.1:9003
syntax_error "'127.0.0.1:99999'" add tcp 127.0.0.1:99999 to 127.0.0.1:9003
syntax_error "'5parsecs'" add tcp 127.0.0.1:8003 to 127.0.0.1:9003 idle-timeout 5parsecs
syntax_error "'sctp'" add sctp 127.0.0.1:8003 to 127.0.0.1:9003
syntax_error "'bogus'" add tcp 127.0.0.1:8003 to 127.0.0.1:9003 bogus 1
syntax_error "'x'" add tcp 127.0.0.1:8003 to 127.0.0.1:9003 weight x
syntax_error "'9bad'" add name 9bad tcp 127.0.0.1:8003 to 127.0.0.1:9003
syntax_error "'127.0.0.1:9003-9004'" add tcp 127.0.0.1:8003-8005 to 127.0.0.1:9003-9004
syntax_error "at end of line" add tcp 127.0.0.1:8003
syntax_error "at end of line" add tcp 127.0.0.1:8003 to
syntax_error "'maxconn'" add tcp 127.0.0.1:8003 to 127.0.0.1:9003 maxconn 1 maxconn 2
syntax_error "'frobnicate'" frobnicate
syntax_error "'extra'" list extra
syntax_error "'-x'" list -x
syntax_error "'nosuch'" kill nosuch
syntax_error "no command given" # no command at all: one line pointing at --help

info "no daemon: non-zero exit, the socket named"
capture nsx "$PORTFW" -s "$T/nobody.sock" list
[[ $RC != 0 ]] || fail "portfw list without a daemon exited 0"
expect_in "portfw without a daemon: message" "$ERR" "$T/nobody.sock"
capture env PORTFW_SOCKET="$T/nobody-env.sock" "$PORTFW" list
[[ $RC != 0 ]] || fail "portfw list without a daemon (PORTFW_SOCKET) exited 0"
expect_in "portfw without a daemon (PORTFW_SOCKET): message" "$ERR" "$T/nobody-env.sock"

info "list -j and conns -j are valid JSON with the documented fields"
# Open until killed below (the wait only bounds it).
tcp idle 127.0.0.1:8001 --wait 60 >/dev/null &
idle_pid=$!
wait_for 5 "a flow to list" eval '[[ $(nconns A) == 1 ]]'
pf list -j >"$T/list.json"
pf conns -j >"$T/conns.json"
"$PFT_PY" -m json.tool "$T/list.json" >/dev/null || fail "portfw list -j is not JSON: $(cat "$T/list.json")"
"$PFT_PY" -m json.tool "$T/conns.json" >/dev/null || fail "portfw conns -j is not JSON: $(cat "$T/conns.json")"
"$PFT_PY" - "$T/list.json" "$T/conns.json" <<'EOF' || fail "the JSON lacks documented fields (above)"
import json, sys
lst = json.load(open(sys.argv[1]))
conns = json.load(open(sys.argv[2]))
bad = []
def need(obj, keys, what):
    for k in keys:
        if k not in obj:
            bad.append("%s: no '%s' in %s" % (what, k, json.dumps(obj)))
ints = ["conns", "active", "failed", "bytes_up", "bytes_down"]
assert isinstance(lst, list) and len(lst) == 3, lst
for f in lst:
    need(f, ["name", "proto", "listen", "refused", "backends"] + ints, "forward")
    for k in ints + ["refused"]:
        if not isinstance(f.get(k), int):
            bad.append("forward %s: %s is not an integer" % (f.get("name"), k))
    for b in f["backends"]:
        need(b, ["backend", "addr", "weight", "state"] + ints, "backend")
byname = {f["name"]: f for f in lst}
if byname["B"]["listen"] != "[::1]:8002":
    bad.append("B listen: %r" % byname["B"]["listen"])
if [b["weight"] for b in byname["B"]["backends"]] != [3, 1]:
    bad.append("B weights: %r" % [b["weight"] for b in byname["B"]["backends"]])
if byname["A"]["active"] != 1:
    bad.append("A active: %r" % byname["A"]["active"])
assert isinstance(conns, list) and len(conns) == 1, conns
c = conns[0]
need(c, ["proto", "forward", "client", "listen", "backend", "bytes_up", "bytes_down",
         "age_ms", "idle_ms", "state"], "conn")
if (c.get("forward"), c.get("listen"), c.get("backend"), c.get("state")) != \
        ("A", "127.0.0.1:8001", "127.0.0.1:9001", "established"):
    bad.append("conn: %s" % json.dumps(c))
if not c.get("client", "").startswith("127.0.0.1:"):
    bad.append("conn client: %r" % c.get("client"))
for line in bad:
    print(line, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
# The text renderings work too.
expect_in "portfw list" "$(pf list)" "127.0.0.1:8001"
expect_in "portfw list -n" "$(pf list -n)" "[::1]:8002"
expect_in "portfw conns" "$(pf conns)" "127.0.0.1:9001"
kill "$idle_pid" 2>/dev/null || true

info "save, flush, restore that file: save is identical and the forwards work"
pf save >"$T/saved"
pf flush
expect_eq "forwards after flush" "$(pf list -j | jget 'len(d)')" 0
expect_refused 127.0.0.1:8001 "after flush"
pf restore "$T/saved"
diff "$T/saved" <(pf save) || fail "save after restore differs from the saved file"
expect_eq "A after restore" "$(first_text 127.0.0.1:8001)" one
expect_eq "the range after restore" "$(first_text 127.0.0.1:8101)" one
got=$(first_text "[::1]:8002")
[[ $got == one || $got == two ]] || fail "B after restore answered '$got'"
# restore - reads standard input.
pf flush
pf restore - <"$T/saved"
diff "$T/saved" <(pf save) || fail "save after 'restore -' differs from the saved file"

info "the control socket is mode 0600"
expect_eq "control socket mode" "$(stat -c '%a %F' "$PFD_SOCK")" "600 socket"

info "PORTFW_SOCKET names the socket; -s wins over it"
capture env PORTFW_SOCKET="$PFD_SOCK" "$PORTFW" list -j
[[ $RC == 0 ]] || fail "portfw with PORTFW_SOCKET: exit $RC: $ERR"
expect_eq "forwards via PORTFW_SOCKET" "$(jget 'len(d)' <<<"$OUT")" 3
capture env PORTFW_SOCKET="$T/nobody.sock" "$PORTFW" -s "$PFD_SOCK" list -j
[[ $RC == 0 ]] || fail "portfw -s with a wrong PORTFW_SOCKET: exit $RC: $ERR"

info "del of what does not exist fails and changes nothing"
capture pf del name nosuch
expect_eq "del name nosuch: exit status" "$RC" 1
expect_in "del name nosuch: message" "$ERR" "no forward matches"
capture pf del tcp 127.0.0.1:7777
expect_eq "del tcp 127.0.0.1:7777: exit status" "$RC" 1
[[ -n $ERR ]] || fail "del tcp 127.0.0.1:7777: no message"
capture pf del tcp 127.0.0.1:8001 127.0.0.1:9999
expect_eq "del of a backend the forward lacks: exit status" "$RC" 1
# (The message names only the host, '127.0.0.1', not the port asked for.)
expect_in "del of a backend the forward lacks: message" "$ERR" "no backend '127.0.0.1"
capture pf del -k name nosuch
expect_eq "del -k name nosuch: exit status" "$RC" 1
unchanged "del of things that do not exist"

info "del PROTO LISTEN BACKEND takes one backend out of a pool, sockets kept"
ino_b=$(listen_inodes 8002)
pf del tcp "[::1]:8002" 127.0.0.1:9001
expect_eq "B's backends" \
	"$(pf list -j | jget "[b['backend'] for b in [f for f in d if f['name'] == 'B'][0]['backends']]")" \
	'["127.0.0.1:9002"]'
expect_eq "B's sockets" "$(listen_inodes 8002)" "$ino_b"
expect_eq "B now" "$(first_text "[::1]:8002")" two
pf restore "$T/save0"
unchanged "restore of the first table"

info "restore names the file's lines (and an include's), and changes nothing on error"
mkdir -p "$T/r/sub"
# A syntax error: found by the client, which reads the file.
printf 'forward name R1 tcp 127.0.0.1:8011 to 127.0.0.1:9001\nforward name R2 tcp 127.0.0.1:8012 too 127.0.0.1:9001\n' \
	>"$T/r/bad.conf"
capture bash -c 'cd "$1/r" && shift && "$@" restore bad.conf' _ "$T" \
	ip netns exec "$NS" "$PORTFW" -s "$PFD_SOCK"
expect_eq "restore bad.conf: exit status" "$RC" 2
expect_in "restore bad.conf: message" "$ERR" "portfw: bad.conf:2: 'too': expected 'to'"
unchanged "restore of a bad file"
# What only the daemon sees (a port taken twice) names the file's line too.
printf '# two forwards, one port\n\nforward name R1 tcp 127.0.0.1:8011 to 127.0.0.1:9001\nforward name R2 tcp 127.0.0.1:8011 to 127.0.0.1:9002\n' \
	>"$T/r/clash.conf"
capture pf restore "$T/r/clash.conf"
expect_eq "restore clash.conf: exit status" "$RC" 1
expect_eq "restore clash.conf: message" "$ERR" \
	"portfw: $T/r/clash.conf:4: tcp 127.0.0.1:8011 overlaps forward 'R1' ($T/r/clash.conf:3); expected each protocol, address and port to be forwarded once for each source"
unchanged "restore of a clashing file"
# include, relative to the restored file; an error inside it names both.
printf 'forward name R1 tcp 127.0.0.1:8011 to 127.0.0.1:9001\ninclude sub/inc.conf\n' >"$T/r/main.conf"
printf '# included\nforward name R2 tcp 127.0.0.1:8012 to 127.0.0.1:9002 bogus\n' >"$T/r/sub/inc.conf"
capture pf restore "$T/r/main.conf"
expect_eq "restore with a bad include: exit status" "$RC" 2
expect_in "restore with a bad include: message" "$ERR" "$T/r/sub/inc.conf:2: 'bogus': "
expect_in "restore with a bad include: message" "$ERR" "(included from $T/r/main.conf:2)"
unchanged "restore with a bad include"
printf '# included\nforward name R2 tcp 127.0.0.1:8011 to 127.0.0.1:9002\n' >"$T/r/sub/inc.conf"
capture pf restore "$T/r/main.conf"
expect_eq "restore with a clashing include: exit status" "$RC" 1
expect_in "restore with a clashing include: message" "$ERR" \
	"portfw: $T/r/sub/inc.conf:2: tcp 127.0.0.1:8011 overlaps forward 'R1' ($T/r/main.conf:1)"
unchanged "restore with a clashing include"
printf 'forward name R2 tcp 127.0.0.1:8012 to 127.0.0.1:9002\n' >"$T/r/sub/inc.conf"
pf restore "$T/r/main.conf"
expect_eq "restore with an include: the table" "$(pf save)" "# portfw table, 2 forwards
forward name R1 tcp 127.0.0.1:8011 to 127.0.0.1:9001
forward name R2 tcp 127.0.0.1:8012 to 127.0.0.1:9002"
expect_eq "R2 (from the include) answers" "$(first_text 127.0.0.1:8012)" two
expect_eq "R2's source" "$(pf list -j | jget "[f['source'] for f in d if f['name'] == 'R2'][0]")" \
	"$T/r/sub/inc.conf:1"
pf restore "$T/save0"
unchanged "restore of the first table, again"

info "a forward added live is named by its name or PROTO LISTEN in errors"
# (A was last defined by the restore of save0, its line 2.)
capture pf add name Z tcp 127.0.0.1:8001 to 127.0.0.1:9002
expect_eq "add over A: exit status" "$RC" 1
expect_eq "add over A: message" "$ERR" \
	"portfw: forward 'Z': tcp 127.0.0.1:8001 overlaps forward 'A' ($T/save0:2); expected each protocol, address and port to be forwarded once for each source"
capture pf add tcp 127.0.0.1:8001 to 127.0.0.1:9002
expect_in "unnamed add over A: message" "$ERR" "portfw: tcp 127.0.0.1:8001: tcp 127.0.0.1:8001 overlaps forward 'A'"
capture pf del name nosuch
expect_in "del name nosuch: names the command" "$ERR" "portfw: portfw del: no forward matches"
unchanged "refused live changes"

info "a second daemon on the same control socket refuses to start"
: >"$T/empty.conf"
capture nsx timeout 20 "$PORTFWD" -c "$T/empty.conf" -s "$PFD_SOCK"
[[ $RC != 0 && $RC != 124 ]] || fail "a second portfwd on $PFD_SOCK: exit status $RC"
expect_in "a second portfwd on the same socket: message" "$ERR" "another portfwd is running"
[[ -S $PFD_SOCK ]] || fail "the second portfwd removed the first one's socket"
pf list >/dev/null || fail "the first daemon stopped answering after a second one tried its socket"

info "PORTFW_SOCKET names the daemon's socket too; SIGINT stops it cleanly"
echo "forward name Z tcp 127.0.0.1:8200 to 127.0.0.1:9001" >"$T/env.conf"
# shellcheck disable=SC2031 # the subshell's environment is the daemon's only
(
	export PORTFW_SOCKET=$T/env.sock ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	exec ip netns exec "$NS" "$PORTFWD" -c "$T/env.conf"
) 2>"$T/portfwd-env.log" &
env_pid=$!
wait_for 10 "the second daemon on \$PORTFW_SOCKET" eval \
	'PORTFW_SOCKET=$T/env.sock "$PORTFW" list >/dev/null 2>&1'
expect_eq "the second daemon's forwards" \
	"$(PORTFW_SOCKET=$T/env.sock "$PORTFW" list -j | jget "[f['name'] for f in d]")" '["Z"]'
expect_eq "Z" "$(first_text 127.0.0.1:8200)" one

info "ha-check: another portfwd's 'list -j' against this one's table"
PORTFW_SOCKET=$T/env.sock "$PORTFW" list -j >"$T/other.json"
pf list -j >"$T/self.json"
capture pf ha-check "$T/self.json"
expect_eq "ha-check of its own table: exit status" "$RC" 0
expect_in "ha-check of its own table" "$OUT" "tables agree: "
capture pf ha-check "$T/other.json"
expect_eq "ha-check of another table: exit status" "$RC" 1
expect_in "ha-check: Z is the other's alone" "$OUT" "only there   forward 'Z'"
expect_in "ha-check: A is this one's alone" "$OUT" "only here    forward 'A'"
capture bash -c 'ip netns exec "$1" "$2" -s "$3" ha-check -j - <"$4"' _ "$NS" "$PORTFW" \
	"$PFD_SOCK" "$T/other.json"
expect_eq "ha-check -j from standard input: exit status" "$RC" 1
expect_eq "ha-check -j: agree" "$(jget "d['agree']" <<<"$OUT")" False
capture pf ha-check "$T/save0"
expect_eq "ha-check of a file that is no 'list -j': exit status" "$RC" 2
expect_in "ha-check of a config file: message" "$ERR" "expected the JSON of 'portfw list -j'"
capture pf ha-check
expect_eq "ha-check without a file: exit status" "$RC" 2
digest=$(pf ha-check "$T/self.json" | sed -n 's/.*digest //p')
[[ $digest =~ ^[0-9a-f]{16}$ ]] || fail "ha-check printed no digest: $digest"
kill -INT "$env_pid"
wait_for 10 "the second daemon to exit on SIGINT" pid_gone "$env_pid"
rc=0
wait "$env_pid" || rc=$?
expect_eq "exit status on SIGINT" "$rc" 0
[[ ! -e $T/env.sock ]] || fail "SIGINT left the control socket behind"
expect_refused 127.0.0.1:8200 "after the second daemon stopped"

info "a forward on an address the host does not have yet (an HA backup's VIP)"
pf add name vip tcp 192.0.2.50:8300 to 127.0.0.1:9001 >/dev/null ||
	fail "portfw add on an address not of this host failed"
grep -q "tcp 192.0.2.50:8300 is no address of this host now: listening anyway" "$PFD_LOG" ||
	fail "no warning for the foreign listen address: $(tail -3 "$PFD_LOG")"
nsx ip addr add 192.0.2.50/32 dev lo
expect_eq "the forward once the address came" "$(first_text 192.0.2.50:8300)" one
pf del name vip >/dev/null || fail "portfw del name vip failed"

info "SIGTERM: exit 0, control socket removed"
pfd_stop TERM
expect_refused 127.0.0.1:8001 "after SIGTERM"
pft_done
