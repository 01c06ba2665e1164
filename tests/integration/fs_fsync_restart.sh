#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_fsync_restart.sh - fsync after a daemon restart (boot verifiers,
# fs/file_sync.c): a file is written and flushed (close of a dup: on W
# replicas, not synced); b is paused so only a and c take the write; c is
# killed -9 and comes back with its store as it was before the write (a
# crash that lost unsynced data; same store, so it counts); b resumes.
# The data is then durable on a only. fsync must re-establish it before
# returning 0: the mount logs the re-establishing pass, the data reads back,
# and fsck -n finds at most one missing replica per key it wrote (without
# the pass: two, b and c).
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_fsync_restart
[ -x "$QFS_BIN/fsck.quorumfs" ] || it_skip "$QFS_BIN/fsck.quorumfs is not built"
command -v python3 >/dev/null 2>&1 || it_skip "no python3"
it_cluster_start a b c
it_mkfs
M=$IT_MNT
MLOG=$IT_WORK/sync-mount.log
it_make_file "$IT_WORK/data" $((2 * 1024 * 1024)) 3

it_mount "$M" -o "log_file=$MLOG,repair_rate=0"
echo old >"$M/f"
sync "$M/f" 2>/dev/null || true
# c's store as it is before the write
it_daemon_stop c
cp -a "$IT_WORK/data-c" "$IT_WORK/data-c.before"
it_daemon_start c
sleep 2 # the mount sees c again

it_daemon_pause b
cat >"$IT_WORK/w.py" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, open(sys.argv[2], "rb").read())
os.close(os.dup(fd))                 # FLUSH: on W replicas, not synced
open(sys.argv[3], "w").write("flushed\n")
while not os.path.exists(sys.argv[4]):
    time.sleep(0.1)
try:
    os.fsync(fd)
    print("fsync 0")
except OSError as e:
    print("fsync", e.errno)
os.close(fd)
PY
python3 "$IT_WORK/w.py" "$M/f" "$IT_WORK/data" "$IT_WORK/flushed" "$IT_WORK/go" >"$IT_WORK/w.out" 2>&1 &
WPID=$!
for _ in $(seq 1 300); do [ -e "$IT_WORK/flushed" ] && break; sleep 0.1; done
[ -e "$IT_WORK/flushed" ] || it_fail "the writer did not flush: $(cat "$IT_WORK/w.out")"
it_log "written and flushed while b was paused"
it_daemon_kill c
rm -rf "$IT_WORK/data-c"
mv "$IT_WORK/data-c.before" "$IT_WORK/data-c"
it_daemon_start c
it_daemon_resume b
it_log "c restarted without the write (kill -9, old store), b resumed"
sleep 2.5 # the mount reconnects
touch "$IT_WORK/go"
wait "$WPID" || true
res=$(cat "$IT_WORK/w.out")
it_log "writer: $res"
it_check_eq "fsync after the restart" "fsync 0" "$res"
grep -q "re-establishing chunks" "$MLOG" || it_fail "no re-establishing pass in the log: $(tail -n 20 "$MLOG")"
it_check_eq "data reads back" "$(it_sha "$IT_WORK/data")" "$(it_sha "$M/f")"
it_umount_check "$M"
out=$(tmo 60 "$QFS_BIN/fsck.quorumfs" --no-progress -n "$IT_CONF" 2>&1) || true
per_key=$(printf '%s\n' "$out" | sed -n 's/^\(chunk([^)]*)\) on [a-z]*: missing$/\1/p' | sort | uniq -c |
	awk '$1 > m {m = $1} END {print m + 0}')
it_log "fsck -n after fsync: at most $per_key missing replica(s) per chunk"
[ "$per_key" -le 1 ] || it_fail "fsync left a chunk on fewer than W replicas: $out"
it_done
