#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_corrupt.sh - bytes flipped in one daemon's body files on disk never
# reach a reader: the checksum failure is detected, the healthy replica is
# used, the bad one is repaired (N=3 W=2 R=2).
#
#   1. files written: large ones (> 8 KiB: body files under
#      DATA/bodies/xx/, docs/storage.md) and small ones (inline in the index);
#   2. b is stopped, 8 bytes flipped in the middle of each of its body files,
#      b restarted with its scrubber off;
#   3. a is stopped, so every read uses b and c: through a fresh mount each
#      file reads back right, three times; then a mount of b alone (ro, r=1,
#      a and c stopped) reads the right bytes: the reads repaired b;
#   4. b is stopped and corrupted again, restarted with a fast scrubber:
#      `qfs status --json` counts its corrupt records; fsck.quorumfs -y
#      repairs them, then -n exits 0 and the status shows none; the files
#      read back right through a mount of b alone.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_corrupt
command -v jq >/dev/null 2>&1 || it_skip "no jq (scripts/install-deps.sh installs it)"
for b in qfs fsck.quorumfs; do
	[ -x "$QFS_BIN/$b" ] || it_skip "$QFS_BIN/$b is not built"
done
QFS_IT_CHUNKD_ARGS="--scrub-rate 0"
it_cluster_start a b c
it_mkfs
M=$IT_MNT
MB=$IT_WORK/mnt_b # b alone
it_mount "$M"

# 1. files: inline (<= 8 KiB) and body files, some spanning several chunks
# 9 chunks in body files: with a or c stopped, each has a 2 in 3 chance
# that b serves its data (not only a HEAD), so b's reads meet some of them
NAMES="s1 s2 big1 big2 big3 big4"
declare -A SIZE=([s1]=100 [s2]=8000 [big1]=20000 [big2]=300000 [big3]=3500000 [big4]=2200000)
declare -A SHA=()
mkdir "$M/d"
for name in $NAMES; do
	it_make_file "$IT_WORK/$name" "${SIZE[$name]}" "${#name}"
	cp "$IT_WORK/$name" "$M/d/$name"
	SHA[$name]=$(it_sha "$IT_WORK/$name")
done
it_umount_check "$M"

# corrupt_bodies NAME: flip 8 bytes in the middle of every body file of
# daemon NAME (stopped); prints how many files were changed.
corrupt_bodies() {
	local f size n=0
	while IFS= read -r f; do
		size=$(stat -c %s "$f")
		[ "$size" -gt 16 ] || continue
		# 8 bytes of 0xff: it_make_file data never holds them
		printf '\377\377\377\377\377\377\377\377' |
			dd of="$f" bs=1 seek=$((size / 2)) conv=notrunc status=none
		n=$((n + 1))
	done < <(find "${IT_DDIR[$1]}/bodies" -type f)
	echo "$n"
}

# corrupt_count NAME: daemon NAME's corrupt records as `qfs status --json`
# reports them.
corrupt_count() {
	tmo 30 "$QFS_BIN/qfs" status "$IT_CONF" --json 2>/dev/null |
		jq -r --arg n "$1" '.daemons[] | select(.name == $n) | .corrupt'
}

# check_all WHAT MNT: every file under MNT/d reads back right.
check_all() {
	local name
	for name in $NAMES; do
		it_check_eq "$1: $name" "${SHA[$name]}" "$(it_sha "$2/d/$name")"
	done
}

# mount_b_alone: a and c stopped, b mounted read-only with r=1 w=1.
mount_b_alone() {
	it_daemon_stop a
	it_daemon_stop c
	it_mount "$MB" -o ro,r=1,w=1
}
unmount_b_alone() {
	it_umount_check "$MB"
	it_daemon_start a
	it_daemon_start c
}

# 2. corrupt b's bodies
it_daemon_stop b
nbad=$(corrupt_bodies b)
it_log "flipped bytes in $nbad body files of b"
it_check "b has body files to corrupt ($nbad)" [ "$nbad" -ge 9 ]
it_daemon_start b

# 3. reads with a (then c) stopped use b and the other one
for other in a c; do
	it_daemon_stop "$other"
	it_mount "$M"
	for round in 1 2 3; do
		check_all "read $round with $other stopped, b corrupt" "$M"
	done
	it_umount_check "$M"
	it_daemon_start "$other"
done
n=$(corrupt_count b)
it_log "b counts $n corrupt records after the reads (reads found them, repairs replaced them)"
found=$(grep -c "corrupt block found by a read" "$IT_WORK/b.log" || true)
it_check "b's reads found corrupt blocks ($found times)" [ "$found" -ge 1 ]
# A chunk whose data came from the healthy replica (b only answered HEAD,
# which reads no block) is still corrupt on b: b alone must then refuse it
# (EIO), never return wrong bytes. Every chunk b sent was repaired.
mount_b_alone
good=0
for name in $NAMES; do
	got=$(it_sha "$MB/d/$name")
	if [ "$got" = "${SHA[$name]}" ]; then
		good=$((good + 1))
	elif [ "${SIZE[$name]}" -le 8192 ]; then
		it_fail "b alone: inline file $name (no body file, not corrupted) reads $got"
	else
		case $got in
		*"Input/output error"*) it_log "b alone: $name still corrupt there: EIO" ;;
		*) it_fail "b alone returned wrong data for $name: $got" ;;
		esac
	fi
done
it_log "b alone after the reads: $good of 6 files right, the others refused with EIO"
unmount_b_alone

# 4. the scrubber finds them, fsck repairs them
it_daemon_stop b
nbad=$(corrupt_bodies b)
it_log "flipped bytes in $nbad body files of b again"
QFS_IT_CHUNKD_ARGS="--scrub-rate 1024"
it_daemon_start b
QFS_IT_CHUNKD_ARGS="--scrub-rate 0"
# the live chunks in body files: big1, big2, big3's four and big4's three
# (older bodies may wait for deletion, so nbad can be larger)
NBODY=9
it_check "b has at least $NBODY body files ($nbad)" [ "$nbad" -ge "$NBODY" ]
n=0
t0=$(date +%s%N)
for _ in $(seq 1 100); do
	n=$(corrupt_count b)
	[ "$n" != null ] && [ -n "$n" ] && [ "$n" -ge "$NBODY" ] && break
	sleep 0.2
done
it_log "b's scrubber counted $n corrupt records within $((($(date +%s%N) - t0) / 1000000)) ms"
it_check_eq "qfs status counts b's corrupt records after its scrub" "$NBODY" "$n"
rc=0
out=$(tmo 60 "$QFS_BIN/fsck.quorumfs" "$IT_CONF" -y 2>&1) || rc=$?
it_log "fsck -y: exit $rc: $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
it_check "fsck -y repaired (exit $rc: 0 or 1)" [ "$rc" -le 1 ]
it_check "fsck -n finds nothing left" tmo 60 "$QFS_BIN/fsck.quorumfs" "$IT_CONF" -n
it_check_eq "qfs status: no corrupt record left on b" 0 "$(corrupt_count b)"
mount_b_alone
check_all "b alone after fsck -y" "$MB"
unmount_b_alone
it_done
