#!/bin/sh
# SPDX-License-Identifier: MIT
# bench.sh - `make bench`: the chunkd benchmark, then the filesystem benchmark
# (docs/PERFORMANCE.md). Arguments go to bench/fsbench (e.g. --quick,
# --out FILE); BIN, BENCH_TMP and the bench-chunkd.sh variables pass through
# the environment. Both run even if the first fails; the exit status is 1
# when either failed.
cd "$(dirname "$0")/.." || exit 2
rc=0
scripts/bench-chunkd.sh || { echo "bench: scripts/bench-chunkd.sh failed" >&2; rc=1; }
bench/fsbench "$@" || { echo "bench: bench/fsbench failed" >&2; rc=1; }
exit $rc
