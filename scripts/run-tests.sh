#!/bin/bash
# The whole test suite, as `make test` runs it (after deps and build):
#  1. every ctest test of the normal build (unit, then integration),
#  2. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
#  3. every libFuzzer target for a short bounded time.
# Exits non-zero when anything fails, and ends with one summary line.
set -eo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
JOBS=${JOBS:-2}
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

# ctest in directory $1 with the rest as arguments; its output is kept for the summary.
run_ctest() {
	local dir=$1
	shift
	(cd "$dir" && ctest "$@" --output-on-failure) | tee -a "$LOG"
}

echo "== unit tests"
run_ctest "$BUILD" -L unit -j"$JOBS"

echo "== integration tests"
run_ctest "$BUILD" -L integration

echo "== unit tests under ASan+UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DQFS_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS" >/dev/null
ASAN_OPTIONS=detect_leaks=1 run_ctest build-asan -L unit -j"$JOBS"

echo "== fuzzing (${FUZZ_SECONDS:-5}s per target)"
FUZZ_SECONDS=${FUZZ_SECONDS:-5} scripts/fuzz.sh | tee -a "$LOG"

# Every step passed (set -e): count what ran.
tests=$(awk '/tests failed out of/ { n += $NF } END { print n + 0 }' "$LOG")
fuzz=$(grep -c '^== ' "$LOG" || true)
echo "suite: $((tests + fuzz)) passed, 0 failed"
