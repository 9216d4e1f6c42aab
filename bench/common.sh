# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Helpers every benchmark script (run.sh, kernel.sh, gateway.sh) sources.

die() {
	echo "bench: $*" >&2
	exit 1
}

say() {
	echo "$*"
}

now_ms() {
	local t=${EPOCHREALTIME//[.,]/}
	echo $((t / 1000))
}

# calc EXPR: floating-point arithmetic.
calc() {
	awk "BEGIN { printf \"%.6g\", $1 }"
}

# median LIST: the median of comma-separated numbers.
median() {
	tr ',' '\n' <<<"$1" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# run_order RUN ITEM...: the items in the order of run RUN, one a line:
# rotated by RUN - 1 places, and backwards in every other run, so that no
# item is always first (on the coldest or the quietest machine), last, or
# right after the same other one (whose aftermath it would always inherit).
run_order() {
	local run=$1 n i k ord=()
	shift
	n=$#
	((n > 0)) || return 0
	local -a s=("$@")
	k=$(((run - 1) % n))
	for ((i = 0; i < n; i++)); do
		ord+=("${s[(i + k) % n]}")
	done
	if ((run % 2 == 0)); then
		for ((i = n - 1; i >= 0; i--)); do
			echo "${ord[i]}"
		done
	else
		printf "%s\n" "${ord[@]}"
	fi
}
