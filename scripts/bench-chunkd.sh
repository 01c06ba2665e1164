#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench-chunkd.sh - benchmark one chunkd per sync mode on loopback, next to
# the disk's own sequential write speed measured in the same run.
#
# For each of --sync commit, always, none: start chunkd with its data in a
# temporary directory on the same filesystem as the work tree, run chunkbench
# (16 requests in flight over one DEALER), read the daemon's RssAnon, stop it.
# The disk is measured with dd (1 GiB, conv=fdatasync) in the same directory.
# Prints a table; the raw chunkbench output goes to $OUT (default: the temp
# directory, removed at exit unless KEEP=1).
#
# Environment: BIN (directory with chunkd and chunkbench; default build/bin,
# else build-chunkd/bin), BENCH_TMP (where the temp directory goes; default
# the parent of the work tree), INFLIGHT (16), MODES ("commit always none"),
# SMALL, LARGE, PATCHES, GETS (operation counts; "always" runs SMALL/5 and
# PATCHES/5 because every batch waits for the disk there).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-}
if [ -z "$BIN" ]; then
	for b in "$ROOT/build/bin" "$ROOT/build-chunkd/bin"; do
		if [ -x "$b/chunkd" ] && [ -x "$b/chunkbench" ]; then
			BIN=$b
			break
		fi
	done
fi
if [ -z "$BIN" ] || [ ! -x "$BIN/chunkd" ] || [ ! -x "$BIN/chunkbench" ]; then
	echo "bench-chunkd: build chunkd and chunkbench first (or set BIN)" >&2
	exit 2
fi
INFLIGHT=${INFLIGHT:-16}
MODES=${MODES:-"commit always none"}
BENCH_TMP=${BENCH_TMP:-$(dirname "$ROOT")}
[ -w "$BENCH_TMP" ] || BENCH_TMP=$ROOT
TMP=$(mktemp -d "$BENCH_TMP/chunkd-bench.XXXXXX")
PID=""

cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -TERM "$PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$PID" 2>/dev/null || true
	fi
	if [ "${KEEP:-0}" != 1 ]; then
		rm -rf "$TMP"
	else
		echo "kept $TMP"
	fi
}
trap cleanup EXIT INT TERM

free_port() {
	python3 - <<'EOF' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# MiB/s of a dd line: "N bytes (...) copied, S s, ..."
dd_mibs() {
	awk '/copied/ { for (i = 1; i <= NF; i++) if ($i ~ /^copied,?$/) s = $(i + 1); \
		printf "%.1f", $1 / s / 1048576 }'
}

echo "# chunkd benchmark: $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)," \
	"data in $TMP ($(df -h --output=source "$TMP" | tail -1))"

dd if=/dev/zero of="$TMP/dd.bin" bs=1M count=1024 conv=fdatasync 2>"$TMP/dd.txt"
DD=$(dd_mibs <"$TMP/dd.txt")
rm -f "$TMP/dd.bin"
echo "# dd 1 GiB conv=fdatasync: $DD MiB/s"

declare -A RES
for mode in $MODES; do
	port=$(free_port)
	ep="tcp://127.0.0.1:$port"
	"$BIN/chunkd" --name "bench-$mode" --listen "$ep" --data "$TMP/$mode" --sync "$mode" \
		--scrub-rate 0 --log-level warn >"$TMP/chunkd-$mode.log" 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		grep -q "listening\|up:" "$TMP/chunkd-$mode.log" 2>/dev/null && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	sleep 0.2
	small=${SMALL:-100000}
	patches=${PATCHES:-100000}
	if [ "$mode" = always ]; then
		small=$((small / 5))
		patches=$((patches / 5))
	fi
	"$BIN/chunkbench" --connect "$ep" --inflight "$INFLIGHT" --small "$small" \
		--large "${LARGE:-1024}" --gets "${GETS:-20000}" --patches "$patches" >"$TMP/bench-$mode.txt" ||
		echo "chunkbench failed in mode $mode (see $TMP/bench-$mode.txt)" >&2
	RES[$mode.rss]=$(awk '/RssAnon/ { print $2 }' "/proc/$PID/status" 2>/dev/null || echo "?")
	kill -TERM "$PID"
	wait "$PID" || true
	PID=""
	for t in put4k put1m get4k get1m patch4k; do
		RES[$mode.$t.ops]=$(awk -v t=$t '$1 == t { printf "%.0f", $4 }' "$TMP/bench-$mode.txt")
		RES[$mode.$t.mib]=$(awk -v t=$t '$1 == t { printf "%.1f", $5 }' "$TMP/bench-$mode.txt")
	done
	cat "$TMP/bench-$mode.txt" >&2
done

printf "\n%-7s | %11s | %16s | %7s | %11s | %11s | %13s | %9s\n" mode "put4k op/s" \
	"put1m+sync MiB/s" "% of dd" "get4k op/s" "get1m MiB/s" "patch4k op/s" "RssAnon"
printf -- "--------+-------------+------------------+---------+-------------+-------------+---------------+----------\n"
for mode in $MODES; do
	put1m=${RES[$mode.put1m.mib]:-0}
	pct=$(awk -v a="$put1m" -v b="$DD" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "?" }')
	printf "%-7s | %11s | %16s | %7s | %11s | %11s | %13s | %6s kB\n" "$mode" \
		"${RES[$mode.put4k.ops]:-?}" "$put1m" "$pct" "${RES[$mode.get4k.ops]:-?}" \
		"${RES[$mode.get1m.mib]:-?}" "${RES[$mode.patch4k.ops]:-?}" "${RES[$mode.rss]:-?}"
done
echo "dd      | sequential write 1 GiB + fdatasync: $DD MiB/s"
