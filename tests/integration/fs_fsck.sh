#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_fsck.sh - fsck.quorumfs finds and repairs replicas that missed writes
# and replicas whose bodies rotted on disk.
#
#   1. files written with all three daemons up; fsck -n is clean (exit 0);
#   2. daemon c is killed (-9); a file is overwritten and one created; the
#      mount goes away (so no read-repair happens) and c starts again;
#   3. fsck -n exits 4 and reports stale/missing replicas; fsck -y exits 1;
#      a second fsck -n exits 0; `qfs replicas` shows one version of each
#      key of the overwritten file on a, b and c;
#   4. with c stopped, fsck exits 8 (operational error) and repairs nothing;
#   5. bytes are flipped in c's chunk bodies while it is stopped; its
#      scrubber (on at start) marks them corrupt; fsck -n reports corrupt
#      replicas (exit 4), fsck -y repairs them (exit 1), fsck -n exits 0;
#   6. the files read back right through a fresh mount.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_fsck
[ -x "$QFS_BIN/fsck.quorumfs" ] || it_skip "$QFS_BIN/fsck.quorumfs is not built"
it_cluster_start a b c
it_mkfs
M=$IT_MNT
MIB=$((1024 * 1024))

# fsck ARGS...: run fsck.quorumfs ARGS CONFIG; exit code in $FRC, output in $FOUT
FRC=0
FOUT=""

# ---- 1. files with every daemon up ----
it_make_file "$IT_WORK/big_old" $((MIB + 5)) 1
it_make_file "$IT_WORK/big_new" $((2 * MIB + 77)) 2
it_make_file "$IT_WORK/small" 3000 3
it_make_file "$IT_WORK/fresh" $((300 * 1024)) 4
it_mount "$M"
tmo 60 cp "$IT_WORK/big_old" "$M/big"
tmo 60 cp "$IT_WORK/small" "$M/small"
mkdir "$M/dir"
ino_big=$(stat -c %i "$M/big")
it_umount_check "$M"
# the third replica's writes may still be landing: allow 5 s to settle
for i in $(seq 1 25); do
	fsck -n
	[ "$FRC" = 0 ] && break
	sleep 0.2
done
it_check_eq "fsck -n on a healthy cluster exits 0 ($(printf '%s' "$FOUT" | tail -n 1))" 0 "$FRC"

# ---- 2. c misses an overwrite and a create ----
it_daemon_kill c
it_log "killed c (-9)"
it_mount "$M"
tmo 60 cp "$IT_WORK/big_new" "$M/big"
tmo 60 cp "$IT_WORK/fresh" "$M/dir/fresh"
it_umount_check "$M"
it_daemon_start c
it_log "restarted c"

# ---- 3. fsck finds, repairs, and then finds nothing ----
fsck_expect 4 -n --json
stale=$(jval stale)
missing=$(jval missing)
it_log "fsck -n: stale=$stale missing=$missing"
[ "$((stale + missing))" -gt 0 ] || it_fail "fsck -n: expected stale or missing replicas, got $FOUT"
it_check_eq "fsck -n: nothing repaired" 0 "$(jval repaired)"
fsck_expect 1 -y
it_log "fsck -y: $(printf '%s' "$FOUT" | tail -n 1)"
fsck_expect 0 -n --json
it_check_eq "fsck -n after repair: stale" 0 "$(jval stale)"
it_check_eq "fsck -n after repair: missing" 0 "$(jval missing)"

REPL=$(tmo 30 "$QFS_BIN/qfs" replicas "$IT_CONF" "$ino_big" 2>&1) ||
	it_fail "qfs replicas $IT_CONF $ino_big: $REPL"
for key in "inode:$ino_big" "chunk:$ino_big/0" "chunk:$ino_big/1" "chunk:$ino_big/2"; do
	vers=$(printf '%s\n' "$REPL" | awk -v k="$key" '$1 == k {print $2 "=" $3}' | tr '\n' ' ')
	n=$(printf '%s\n' "$REPL" | awk -v k="$key" '$1 == k {print $3}' | sort -u | wc -l)
	cnt=$(printf '%s\n' "$REPL" | awk -v k="$key" '$1 == k' | wc -l)
	case $vers in *absent* | *corrupt* | *unreachable*) it_fail "qfs replicas: $key: $vers" ;; esac
	[ "$cnt" = 3 ] && [ "$n" = 1 ] || it_fail "qfs replicas: $key: expected one version on 3 replicas, got $vers"
	it_log "ok: qfs replicas: $key identical on a b c"
done

# ---- 4. a daemon down: operational error, nothing repaired ----
it_daemon_stop c
fsck_expect 8 -y
it_check_eq "fsck with c down: nothing repaired" "" "$(printf '%s\n' "$FOUT" | grep ': repaired$' || true)"

# ---- 5. bit rot in c's bodies, found by its scrubber ----
nb=0
for body in $(find "${IT_DDIR[c]}/bodies" -type f -size +8k 2>/dev/null); do
	perl -e 'open(my $f, "+<", $ARGV[0]) or die; binmode $f; seek($f, 100, 0);
		read($f, my $b, 4) == 4 or die; seek($f, 100, 0); print $f ($b ^ "\xff\xff\xff\xff");
		close($f) or die' "$body"
	nb=$((nb + 1))
done
[ "$nb" -gt 0 ] || it_fail "no chunk body file over 8 KiB under ${IT_DDIR[c]}/bodies"
it_log "flipped 4 bytes in $nb body files of c"
it_daemon_start c
for i in $(seq 1 100); do
	grep -q "is corrupt" "$IT_WORK/c.log" && break
	sleep 0.1
done
if ! grep -q "is corrupt" "$IT_WORK/c.log"; then
	it_log "note: c's scrubber found nothing within 10 s: skipping the corruption checks"
else
	sleep 1 # let the writer mark what the scrubber found
	fsck_expect 4 -n --json
	corrupt=$(jval corrupt)
	it_log "fsck -n: corrupt=$corrupt"
	[ "$corrupt" -gt 0 ] || it_fail "fsck -n: expected corrupt replicas, got $FOUT"
	fsck_expect 1 -y
	fsck_expect 0 -n --json
	it_check_eq "fsck -n after the corruption repair: corrupt" 0 "$(jval corrupt)"
fi

# ---- 6. the data ----
it_mount "$M"
it_check_eq "big reads back" "$(it_sha "$IT_WORK/big_new")" "$(it_sha "$M/big")"
it_check_eq "small reads back" "$(it_sha "$IT_WORK/small")" "$(it_sha "$M/small")"
it_check_eq "dir/fresh reads back" "$(it_sha "$IT_WORK/fresh")" "$(it_sha "$M/dir/fresh")"
it_umount_check "$M"
it_done
