#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_faults.sh - the mount under faults gives a clear errno in bounded time,
# never a hang, and recovers without a remount (N=3 W=2 R=2, timeout_ms=1000).
#
#   1. one daemon hung (SIGSTOP, its connection stays open): appends, reads
#      and listings keep working, none takes more than 2 x timeout_ms;
#   2. two daemons hung: an append fails with EIO within a bounded time, and
#      once they continue, the same append succeeds without a remount;
#   3. one daemon's store full (--capacity): a 40 MiB write still succeeds
#      on the two others, and what was written before still reads back;
#   4. every daemon's store full (--capacity): a large write fails with
#      ENOSPC, what was written before reads back intact, and deleting still
#      works on the full stores.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_faults
it_cluster_start a b c
it_mkfs
M=$IT_MNT
it_mount "$M"
LIMIT_MS=2000 # 2 x timeout_ms

now_ms() { echo $(($(date +%s%N) / 1000000)); }

mkdir "$M/d"
for i in 1 2 3 4 5; do echo "line $i" >"$M/d/f$i"; done

# 1. one hung daemon
it_daemon_pause b
worst=0
for i in 1 2 3 4 5; do
	t0=$(now_ms)
	echo more >>"$M/d/f$i" || it_fail "append with b hung failed"
	cat "$M/d/f$i" >/dev/null || it_fail "read with b hung failed"
	ls "$M/d" >/dev/null || it_fail "ls with b hung failed"
	el=$(($(now_ms) - t0))
	[ "$el" -gt "$worst" ] && worst=$el
done
it_log "one daemon hung: slowest append+read+ls ${worst} ms"
it_check "one hung daemon: every operation under ${LIMIT_MS} ms (slowest ${worst} ms)" \
	[ "$worst" -lt "$LIMIT_MS" ]
it_check_eq "appends with b hung landed" "line 1 more" "$(tr '\n' ' ' <"$M/d/f1" | sed 's/ $//')"

# 2. two hung daemons: EIO, bounded, then recovery
it_daemon_pause c
t0=$(now_ms)
err=$( { echo lost >>"$M/d/f2"; } 2>&1) && it_fail "append with two of three daemons hung succeeded"
el=$(($(now_ms) - t0))
it_log "two daemons hung: append failed after ${el} ms: $err"
it_check "two hung daemons: the error is EIO" grep -q "Input/output error" <<<"$err"
it_check "two hung daemons: failed within 2 x ${LIMIT_MS} ms (${el} ms)" [ "$el" -lt $((2 * LIMIT_MS)) ]
it_daemon_resume b
it_daemon_resume c
ok=0
for _ in $(seq 1 50); do # the suspects are probed every 500 ms
	if echo back >>"$M/d/f2" 2>/dev/null; then
		ok=1
		break
	fi
	sleep 0.2
done
it_check_eq "work resumes without a remount" 1 "$ok"
it_check "f2 holds what was acknowledged" grep -qx back "$M/d/f2"

# 3. one full store: writes still reach W on the two others, nothing
#    written before is lost, and it still serves what it holds
dd if=/dev/urandom of="$IT_WORK/early" bs=1M count=4 status=none
cp "$IT_WORK/early" "$M/early"
it_umount "$M"
it_daemon_stop c
QFS_IT_CHUNKD_ARGS="--capacity 24M"
it_daemon_start c
QFS_IT_CHUNKD_ARGS=""
it_mount "$M"
dd if=/dev/urandom of="$IT_WORK/big1" bs=1M count=40 status=none
err=$(tmo 60 dd if="$IT_WORK/big1" of="$M/big1" bs=1M conv=fsync status=none 2>&1) ||
	it_fail "a 40 MiB write with only c full failed: $err"
it_umount "$M"
it_mount "$M"
it_check_eq "one full store: the 40 MiB file reads back" "$(it_sha "$IT_WORK/big1")" \
	"$(it_sha "$M/big1")"
it_umount "$M"
it_daemon_stop a
it_mount "$M"
it_check_eq "one full store: earlier data reads back from b and the full c" \
	"$(it_sha "$IT_WORK/early")" "$(it_sha "$M/early")"
it_umount "$M"
it_daemon_start a
it_mount "$M"

# 4. full stores: ENOSPC, old data intact, deletes still work
rm -f "$M/big1" "$M/early" # deleting frees the bodies at once
it_umount "$M"
for d in a b c; do it_daemon_stop "$d"; done
QFS_IT_CHUNKD_ARGS="--capacity 24M"
for d in a b c; do it_daemon_start "$d"; done
it_mount "$M"
dd if=/dev/urandom of="$IT_WORK/small" bs=1M count=4 status=none
cp "$IT_WORK/small" "$M/keep"
err=$(tmo 60 dd if=/dev/zero of="$M/big" bs=1M count=64 conv=fsync status=none 2>&1) &&
	it_fail "a 64 MiB write into 24 MiB stores succeeded"
it_log "full stores: dd said: $err"
it_check "full stores: the error is ENOSPC" grep -q "No space left on device" <<<"$err"
it_check_eq "data written before the disk filled is intact" "$(it_sha "$IT_WORK/small")" \
	"$(it_sha "$M/keep")"
rm -f "$M/big" || it_fail "rm on full stores failed"
it_check "the big file is gone" [ ! -e "$M/big" ]
it_done
