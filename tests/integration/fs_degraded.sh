#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_degraded.sh - the degraded_read mount option: with two of three daemons
# hung, reads are served from the surviving replica, writes fail with EROFS,
# and a mount without the option still gets EIO (N=3 W=2 R=2,
# timeout_ms=1000).
#
#   1. files written with all daemons up: small ones (inline in the index)
#      and large ones (body files, several chunks), in a directory;
#   2. b and c are stopped (SIGSTOP, by pid);
#   3. through the degraded mount (page cache dropped for our files by
#      reading them through a fresh degraded mount too, mounted while b and c
#      are hung): every file reads back byte for byte, ls and stat work;
#      creating, appending (fsync) and mkdir fail with EROFS; no single
#      command takes more than 2 x timeout_ms once the hung daemons are
#      suspect, and the first command after the stop stays bounded;
#   4. the mount without the option gets EIO for the same read, bounded;
#   5. SIGCONT: a write through the degraded mount succeeds again without a
#      remount and reads back.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_degraded
it_cluster_start a b c
it_mkfs
M=$IT_MNT
MP=$IT_WORK/mnt_plain
MF=$IT_WORK/mnt_fresh
TMO=1000
LIMIT_MS=$((2 * TMO))
it_mount "$M" -o degraded_read,timeout_ms=$TMO
it_mount "$MP" -o timeout_ms=$TMO

# 1. files
mkdir "$M/d"
declare -A SHA=()
for f in s1:100 s2:4000 big1:300000 big2:2500000; do
	name=${f%%:*}
	it_make_file "$IT_WORK/$name" "${f#*:}" "${#name}"
	cp "$IT_WORK/$name" "$M/d/$name"
	SHA[$name]=$(it_sha "$IT_WORK/$name")
done
it_check_eq "big2 reads back before the fault" "${SHA[big2]}" "$(it_sha "$M/d/big2")"

# 2. two of three daemons hung
it_daemon_pause b
it_daemon_pause c
it_log "b and c stopped"

# the first command right after the stop: the daemons are not yet suspect,
# so it may use a deadline per quorum step; bounded all the same
it_timed "first read" sha256sum "$M/d/s1"
it_log "first read after the stop: ${T_MS} ms (exit $T_RC)"
it_check_eq "first read after the stop succeeds" 0 "$T_RC"
it_check "first read after the stop under 4 x timeout_ms (${T_MS} ms)" [ "$T_MS" -lt $((4 * TMO)) ]
FIRST_MS=$T_MS
IT_WORST_MS=0
sleep 2 # the heartbeat (1.5 s) marks b and c suspect: steady state from here

# 3. degraded reads through the first mount and a fresh one
t0=$(it_now_ms)
it_mount "$MF" -o degraded_read,timeout_ms=$TMO
it_log "fresh degraded mount with b and c hung took $(($(it_now_ms) - t0)) ms"
for mnt in "$M" "$MF"; do
	for name in s1 s2 big1 big2; do
		it_timed "sha $mnt/d/$name" sha256sum "$mnt/d/$name"
		it_check_eq "degraded read of $name via $(basename "$mnt") (${T_MS} ms)" \
			"${SHA[$name]}" "${T_OUT%% *}"
	done
	it_timed "ls $mnt/d" ls "$mnt/d"
	it_check_eq "degraded ls via $(basename "$mnt") (${T_MS} ms)" "big1 big2 s1 s2" \
		"$(printf '%s\n' "$T_OUT" | paste -sd ' ')"
	it_timed "stat $mnt/d/big2" stat -c %s "$mnt/d/big2"
	it_check_eq "degraded stat via $(basename "$mnt")" 2500000 "$T_OUT"
	it_timed "ls -l $mnt/d" ls -l "$mnt/d"
	it_check_eq "degraded ls -l via $(basename "$mnt")" 0 "$T_RC"
done

# writes: EROFS, not EIO
it_timed "create" touch "$M/d/new"
it_check_ne "create fails while degraded" 0 "$T_RC"
it_check "create fails with EROFS: $T_OUT" grep -q "Read-only file system" <<<"$T_OUT"
it_timed "append+fsync" dd if=/dev/zero of="$M/d/s2" bs=1 count=10 oflag=append conv=notrunc,fsync \
	status=none
it_check_ne "append fails while degraded" 0 "$T_RC"
it_check "append+fsync fails with EROFS: $T_OUT" grep -q "Read-only file system" <<<"$T_OUT"
it_timed "mkdir" mkdir "$MF/d2"
it_check "mkdir fails with EROFS: $T_OUT" grep -q "Read-only file system" <<<"$T_OUT"
it_check_eq "s2 unchanged after the refused append" "${SHA[s2]}" "$(it_sha "$M/d/s2")"

it_log "degraded: first command after the stop ${FIRST_MS} ms; worst later command" \
	"${IT_WORST_MS} ms ($IT_WORST_WHAT)"
it_check "every degraded command under 2 x timeout_ms (worst ${IT_WORST_MS} ms: $IT_WORST_WHAT)" \
	[ "$IT_WORST_MS" -lt "$LIMIT_MS" ]

# 4. the mount without the option: EIO, bounded
IT_WORST_MS=0
it_timed "plain cat" cat "$MP/d/big1"
it_check_ne "plain mount: the read fails" 0 "$T_RC"
it_check "plain mount: the read fails with EIO: $T_OUT" grep -q "Input/output error" <<<"$T_OUT"
it_timed "plain touch" touch "$MP/d/new2"
it_check "plain mount: a write fails with EIO: $T_OUT" grep -q "Input/output error" <<<"$T_OUT"
it_log "plain mount: worst failing command ${IT_WORST_MS} ms ($IT_WORST_WHAT)"
it_check "plain mount: EIO within 2 x timeout_ms (${IT_WORST_MS} ms)" [ "$IT_WORST_MS" -lt "$LIMIT_MS" ]

# 5. back to normal without a remount
it_daemon_resume b
it_daemon_resume c
ok=0
t0=$(it_now_ms)
for _ in $(seq 1 50); do # suspects are probed every 500 ms
	if echo back >"$M/d/new" 2>/dev/null; then
		ok=1
		break
	fi
	sleep 0.2
done
it_log "writes resumed $(($(it_now_ms) - t0)) ms after SIGCONT"
it_check_eq "a write succeeds again without a remount" 1 "$ok"
it_check_eq "the new file reads back through the plain mount" back "$(cat "$MP/d/new")"
it_check_eq "big2 intact through the plain mount" "${SHA[big2]}" "$(it_sha "$MP/d/big2")"
it_umount_check "$MF"
it_umount_check "$MP"
it_umount_check "$M"
it_done
