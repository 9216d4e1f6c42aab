#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Builds and runs the libFuzzer harnesses tests/fuzz/fuzz_*.c against the
# common code (src/common), each for SECONDS (default 30):
#
#     tests/fuzz/run.sh [SECONDS]
#
# Each harness starts from its committed seeds (tests/fuzz/seeds/HARNESS/,
# regression inputs included) copied into build/fuzz/corpus-HARNESS/, which
# keeps what the runs find. A crash, a leak or a sanitizer report fails the
# script; the input is left as build/fuzz/artifacts/HARNESS-crash-*, and
# belongs in the seeds once the bug is fixed.
#
# Environment: FUZZ_CC (default clang), FUZZ_MAX_LEN (default 8192), FUZZ_CFLAGS
# (extra compiler flags, e.g. -DFUZZ_SKIP_KNOWN_BUGS to skip the properties
# that src/common is known to break; see fuzz_conf.c).
set -eu

secs=${1:-30}
case $secs in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS]" >&2
	exit 2
	;;
esac
cd "$(dirname "$0")/../.."
out=build/fuzz
cc=${FUZZ_CC:-clang}
max_len=${FUZZ_MAX_LEN:-8192}
extra=${FUZZ_CFLAGS:-}
mkdir -p "$out/artifacts"

status=0
for src in tests/fuzz/fuzz_*.c; do
	h=$(basename "$src" .c)
	# The classic command lines' translators are pure functions of the
	# client: their harness links them beside the common code.
	more=
	if [ "$h" = fuzz_classic ]; then
		more="src/cli/pfc_classic.c src/cli/pfc_ipportfw.c src/cli/pfc_mpfw.c src/cli/pfc_mfw.c src/cli/pfc_autofw.c"
	fi
	# explain's readers of other programs' output (nft's JSON, iptables-legacy-save).
	if [ "$h" = fuzz_explain ]; then
		more="src/cli/pfc_explain_report.c src/cli/pfc_explain_rules.c src/cli/pfc_explain_legacy.c -ljansson"
	fi
	# ha-check's comparison of two 'portfw list -j' outputs.
	if [ "$h" = fuzz_hacheck ]; then
		more="src/cli/pfc_hadiff.c -ljansson"
	fi
	echo "== $h: build"
	# shellcheck disable=SC2046,SC2086 # the common sources and extra flags, word-split on purpose
	"$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-std=gnu17 -D_GNU_SOURCE -Wall -Wextra $extra -Isrc -o "$out/$h" "$src" \
		$(ls src/common/*.c) $more -lpthread

	# A harness may have a dictionary of its own (fuzz_proxy's header words).
	dict=tests/fuzz/$h.dict
	[ -f "$dict" ] || dict=tests/fuzz/conf.dict
	corpus=$out/corpus-$h
	mkdir -p "$corpus"
	if [ -d "tests/fuzz/seeds/$h" ]; then
		cp tests/fuzz/seeds/"$h"/* "$corpus"/
	fi

	echo "== $h: ${secs}s, corpus $corpus"
	log=$out/$h.log
	if "$out/$h" -max_total_time="$secs" -max_len="$max_len" -timeout=10 \
		-dict="$dict" -artifact_prefix="$out/artifacts/$h-" \
		-print_final_stats=1 "$corpus" >"$log" 2>&1; then
		grep -E '^Done|stat::number_of_executed_units|stat::peak_rss_mb' "$log" || true
		echo "== $h: ok"
	else
		tail -n 60 "$log"
		echo "== $h: FAILED (input in $out/artifacts/, full log $log)"
		status=1
	fi
done
exit $status
