#!/bin/sh
# The whole test suite, as `make test` runs it (after deps and build):
#  1. every ctest test of the normal build (unit, then integration),
#  2. the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
#  3. every libFuzzer target for a short bounded time.
# Exits non-zero when anything fails.
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
JOBS=${JOBS:-2}

echo "== unit tests"
(cd "$BUILD" && ctest -L unit -j"$JOBS" --output-on-failure)

echo "== integration tests"
(cd "$BUILD" && ctest -L integration --output-on-failure)

echo "== unit tests under ASan+UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DQFS_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS" >/dev/null
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest -L unit -j"$JOBS" --output-on-failure)

echo "== fuzzing (${FUZZ_SECONDS:-5}s per target)"
FUZZ_SECONDS=${FUZZ_SECONDS:-5} scripts/fuzz.sh
