#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# fuzz.sh - build the libFuzzer targets of tests/fuzz with clang into
# build-fuzz, write their seed corpus, run each for FUZZ_SECONDS (default 20)
# and fail if any of them finds a crash, a leak or a sanitizer error.
# Crash inputs are kept in build-fuzz/fuzz/artifacts/<target>/.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${FUZZ_BUILD:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-20}
JOBS=${JOBS:-2}

if ! command -v clang >/dev/null; then
	echo "fuzz.sh: clang not found (apt-get install clang)" >&2
	exit 1
fi

CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQFS_FUZZ=ON >/dev/null
cmake --build "$BUILD" --target qfs_fuzz_all -j"$JOBS"

OUT="$BUILD/fuzz"
CORPUS="$OUT/corpus"
"$OUT/fuzz_seeds" "$CORPUS"

failed=()
for bin in "$OUT"/fuzz_*; do
	name=$(basename "$bin")
	[ "$name" = fuzz_seeds ] && continue
	target=${name#fuzz_}
	mkdir -p "$CORPUS/$target" "$OUT/artifacts/$target"
	echo "== $target (${SECONDS_EACH}s)"
	if ! "$bin" -max_total_time="$SECONDS_EACH" -max_len=8192 -timeout=10 \
		-print_final_stats=1 -artifact_prefix="$OUT/artifacts/$target/" \
		"$CORPUS/$target" >"$OUT/$target.log" 2>&1; then
		echo "!! $target failed: see $OUT/$target.log"
		tail -n 30 "$OUT/$target.log"
		failed+=("$target")
	else
		grep -E '^stat::number_of_executed_units' "$OUT/$target.log" || true
	fi
done

if [ ${#failed[@]} -ne 0 ]; then
	echo "fuzz.sh: failures in: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz.sh: all targets clean"
