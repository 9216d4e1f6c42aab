#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Runs the end-to-end tests: every tests/net/t_*.sh (whose name contains
# FILTER, if given) as a process of its own, one after another (they load the
# machine). Prints PASS/FAIL and the duration of each, the output of each
# failing test, and exits non-zero if any failed.
#
#   PORTFW_BUILD=$PWD/build tests/net/run.sh [FILTER]
#
# PFT_TEST_TIMEOUT (seconds, default 300; 900 for an instrumented build)
# bounds each test; PFT_KEEP=1 keeps the temp dirs of failing tests.
set -euo pipefail

dir=$(cd "$(dirname "$0")" && pwd)
filter=${1-}
: "${PORTFW_BUILD:=$(cd "$dir/../.." && pwd)/build}"
export PORTFW_BUILD

if [[ $(id -u) != 0 ]]; then
	echo "tests/net: needs root (network namespaces)" >&2
	exit 1
fi
for b in portfwd portfw tests/pf_xfer; do
	if [[ ! -x $PORTFW_BUILD/$b ]]; then
		echo "tests/net: $PORTFW_BUILD/$b is missing; build it first" \
			"(make BUILD=... all \$BUILD/tests/pf_xfer)" >&2
		exit 1
	fi
done
if grep -qaE '__(asan|tsan)_init' "$PORTFW_BUILD/portfwd"; then
	: "${PFT_TEST_TIMEOUT:=900}"
else
	: "${PFT_TEST_TIMEOUT:=300}"
fi

pass=0
failed=()
start_all=$EPOCHREALTIME
echo "tests/net: binaries from $PORTFW_BUILD"
for t in "$dir"/t_*.sh; do
	name=$(basename "$t" .sh)
	if [[ -n $filter && $name != *"$filter"* ]]; then
		continue
	fi
	log=$(mktemp "/tmp/pft-run-$name.XXXXXX")
	t0=$EPOCHREALTIME
	rc=0
	timeout -k 20 "$PFT_TEST_TIMEOUT" "$t" >"$log" 2>&1 || rc=$?
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	if [[ $rc == 0 ]]; then
		printf 'PASS  %-16s %6ss\n' "$name" "$secs"
		pass=$((pass + 1))
	else
		[[ $rc == 124 ]] && echo "(killed after ${PFT_TEST_TIMEOUT}s)" >>"$log"
		printf 'FAIL  %-16s %6ss  (exit %d)\n' "$name" "$secs" "$rc"
		sed 's/^/    | /' "$log"
		failed+=("$name")
	fi
	rm -f "$log"
done
total=$(awk -v a="$start_all" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
if ((pass + ${#failed[@]} == 0)); then
	echo "tests/net: no test matches '$filter'" >&2
	exit 1
fi
echo "tests/net: $pass passed, ${#failed[@]} failed in ${total}s${failed[*]:+ (failed: ${failed[*]})}"
((${#failed[@]} == 0))
