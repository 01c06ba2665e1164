#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_pending.sh - the pending-repair index, fsck.quorumfs --quick, and
# automatic tombstone collection (chunkd --tombstone-grace).
#
#   1. 150 small files on a healthy cluster (so a full pass has work);
#   2. c is SIGSTOPped; 6 files are written (W=2 reaches a and b; c's
#      replies time out in the background); the mount goes away (its
#      pending-repair reports are flushed at unmount); c gets SIGCONT;
#   3. fsck --quick -n lists entries (exit 4: c misses them); fsck --quick
#      -y repairs them (exit 1) and empties the indexes (a second --quick
#      -n: 0 entries, exit 0); a full fsck -n exits 0; times of the quick
#      and the full pass are logged;
#   4. files deleted on the healthy cluster: every replica took the
#      tombstones, so the mount confirmed them; with --tombstone-grace 2 the
#      daemons collect them: the SCAN key count (fsck --json "keys") drops
#      and a read of a deleted file still says ENOENT;
#   5. c stopped for longer than the grace refuses to start; with
#      --accept-stale it starts.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_pending
[ -x "$QFS_BIN/fsck.quorumfs" ] || it_skip "$QFS_BIN/fsck.quorumfs is not built"
GRACE=2
QFS_IT_CHUNKD_ARGS="--tombstone-grace $GRACE"
it_cluster_start a b c
it_mkfs
M=$IT_MNT

FRC=0
FOUT=""
now_ms() { date +%s%3N; }

# ---- 1. a healthy cluster with some keys ----
it_mount "$M"
mkdir "$M/base"
for i in $(seq 1 150); do echo "file $i" >"$M/base/f$i"; done
it_umount_check "$M"
for i in $(seq 1 25); do
	fsck -n
	[ "$FRC" = 0 ] && break
	sleep 0.2
done
it_check_eq "fsck -n on a healthy cluster" 0 "$FRC"
fsck_expect 0 --quick -n --json
it_check_eq "healthy: no pending entries" 0 "$(jval entries)"

# ---- 2. c misses writes ----
it_make_file "$IT_WORK/big" $((1024 * 1024 + 17)) 5
it_mount "$M"
it_daemon_pause c
it_log "c paused (SIGSTOP)"
mkdir "$M/missed"
for i in 1 2 3 4 5; do echo "missed $i" >"$M/missed/m$i"; done
tmo 60 cp "$IT_WORK/big" "$M/missed/big"
it_umount_check "$M"
it_daemon_resume c
it_log "c resumed (SIGCONT)"

# ---- 3. the quick pass ----
fsck_expect 4 --quick -n --json
entries=$(jval entries)
it_log "pending entries after the outage: $entries"
[ "$entries" -ge 8 ] || it_fail "expected at least 8 pending entries (2 dirs' inodes, 6 files), got: $FOUT"
it_check_eq "quick -n: nothing repaired" 0 "$(jval repaired)"
missing=$(jval missing)
[ "$missing" -gt 0 ] || it_fail "quick -n: expected missing replicas on c, got $FOUT"

t0=$(now_ms)
fsck_expect 1 --quick -y --json
t_quick=$(($(now_ms) - t0))
it_log "quick -y: entries=$(jval entries) repaired=$(jval repaired) deleted=$(jval deleted) in $t_quick ms"
[ "$(jval deleted)" -ge "$entries" ] || it_fail "quick -y dropped fewer entries than listed: $FOUT"
fsck_expect 0 --quick -n --json
it_check_eq "indexes empty after quick -y" 0 "$(jval entries)"
t0=$(now_ms)
fsck_expect 0 -n --json --full
t_full=$(($(now_ms) - t0))
keys=$(jval keys)
it_log "TIMING: quick pass $t_quick ms ($entries entries) vs full pass $t_full ms ($keys keys)"
it_mount "$M"
it_check_eq "missed/big reads back" "$(it_sha "$IT_WORK/big")" "$(it_sha "$M/missed/big")"
it_umount_check "$M"

# ---- 4. tombstones collected ----
it_mount "$M"
mkdir "$M/gone"
for i in 1 2 3 4 5 6; do echo "doomed $i" >"$M/gone/d$i"; done
it_umount_check "$M"
# --full: "keys" counts the keys read, and only a full pass reads them all
fsck_expect 0 -n --json --full
keys_before=$(jval keys)
it_mount "$M"
rm -f "$M"/gone/d*
rmdir "$M/gone"
it_umount_check "$M" # the tombstone confirmations are flushed at unmount
fsck_expect 0 -n --json --full
keys_deleted=$(jval keys)
it_log "keys: $keys_before with the files, $keys_deleted right after the delete"
# grace 2 s, collector every second. Nothing reads meanwhile: a read while
# one replica has collected a tombstone and another not yet would write it
# back (read repair) to the first, where fsck -y purges it later.
sleep $((GRACE + 3))
fsck_expect 0 -n --json --full
keys_after=$(jval keys)
it_log "keys after the grace period: $keys_after"
[ "$keys_after" -lt "$keys_before" ] || it_fail "tombstones not collected: $keys_after keys, $keys_before before the delete"
[ "$keys_after" -le "$((keys_deleted - 20))" ] || it_fail "tombstones not collected: $keys_after keys, $keys_deleted right after the delete of 6 files and their directory"
grep -h "collected .* tombstones" "$IT_WORK"/a.log "$IT_WORK"/b.log "$IT_WORK"/c.log | head -n 3 |
	while read -r l; do it_log "daemon log: $l"; done
it_mount "$M"
it_check_fails "stat of a collected file" "No such file" stat "$M/gone/d1"
it_check_fails "stat of a collected directory" "No such file" stat "$M/gone"
it_check_eq "a file that was not deleted reads back" "file 7" "$(cat "$M/base/f7")"
it_umount_check "$M"

# ---- 5. a daemon down longer than the grace period ----
it_daemon_stop c
sleep $((GRACE + 2))
rc=0
tmo 20 "$QFS_BIN/chunkd" --name c --listen "${IT_DEP[c]}" --data "${IT_DDIR[c]}" \
	--tombstone-grace "$GRACE" >>"$IT_WORK/c-stale.log" 2>&1 || rc=$?
[ "$rc" != 0 ] || it_fail "chunkd started on a store down longer than the grace period"
grep -q "longer than the tombstone grace period" "$IT_WORK/c-stale.log" ||
	it_fail "chunkd refused without saying why: $(tail -n 5 "$IT_WORK/c-stale.log")"
it_log "ok: chunkd c refuses to start after $((GRACE + 2)) s down (exit $rc)"
QFS_IT_CHUNKD_ARGS="--tombstone-grace $GRACE --accept-stale"
it_daemon_start c
it_log "ok: chunkd c starts with --accept-stale"
fsck_expect 0 -n
it_done
