#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_fsck_ns.sh - fsck.quorumfs's namespace pass (docs/fsck.md).
#
#   1. a damaged namespace is written raw (ns_damage, $1): an entry to a
#      missing inode, an inode with a LINK but no entry, entries without
#      LINKs (one a file's second name), a directory under two names, an
#      entry of a deleted directory, a two-directory cycle, an orphan with
#      no link, chunks past EOF, of a deleted and of a missing inode;
#   2. fsck -n exits 4 and names each problem (counts in --json); fsck -y
#      exits 1; fsck -n exits 0;
#   3. the mount shows the repaired tree: orphans and the cycle under
#      /lost+found, the file with two names has nlink 2, the dangling and
#      extra names are gone;
#   4. a client is killed -9 during a loop of creates and renames; fsck -y
#      then fsck -n exits 0; a fresh mount lists every directory and every
#      file's nlink equals its number of names.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_fsck_ns
DAMAGE=${1:?usage: fs_fsck_ns.sh PATH_TO_ns_damage}
[ -x "$QFS_BIN/fsck.quorumfs" ] || it_skip "$QFS_BIN/fsck.quorumfs is not built"
[ -x "$DAMAGE" ] || it_skip "$DAMAGE is not built"
export QFS_IT_BUDGET=${QFS_IT_BUDGET:-150}
it_cluster_start a b c
it_mkfs
M=$IT_MNT
SETTLE=6 # fsck leaves records younger than 5 s alone

FRC=0
FOUT=""
# nsval NAME: integer NAME of the "namespace" object of the JSON in $FOUT
nsval() {
	printf '%s\n' "$FOUT" | sed -n '/"namespace"/,/}/p' |
		sed -n "s/^ *\"$1\": *\([0-9]*\).*/\1/p" | head -n 1
}
# expect_line PATTERN: a report line of $FOUT matches (grep -E)
expect_line() {
	printf '%s\n' "$FOUT" | grep -Eq -- "$1" || it_fail "fsck report has no line matching '$1': $FOUT"
	it_log "ok: report: $1"
}

# ---- 1. the damage ----
it_mount "$M"
echo keep >"$M/keep"
mkdir "$M/dir"
it_umount_check "$M"
tmo 30 "$DAMAGE" "$IT_CONF" <<'EOF' || it_fail "ns_damage failed"
dirent 1 dangle 900001 file
inode 900002 file 1 0 0
link 900002 1 lostfile
inode 900003 file 1 0 0
dirent 1 nolink 900003 file
inode 900004 file 1 0 0
link 900004 1 k1
dirent 1 k1 900004 file
dirent 1 k2 900004 file
inode 900005 file 1 100 1
link 900005 1 trunc
dirent 1 trunc 900005 file
chunk 900005 0 0 100
chunk 900005 3 0 50
inode 900006 file 1 10 0
delinode 900006
chunk 900006 0 0 10
chunk 900007 0 0 10
inode 900010 dir 900011 0 0
inode 900011 dir 900010 0 0
link 900010 900011 cx
dirent 900011 cx 900010 dir
link 900011 900010 cy
dirent 900010 cy 900011 dir
inode 900012 file 900010 0 0
link 900012 900010 cf
dirent 900010 cf 900012 file
inode 900013 file 1 5 0
chunk 900013 0 0 5
inode 900014 dir 1 0 0
delinode 900014
inode 900015 file 900014 0 0
link 900015 900014 child
dirent 900014 child 900015 file
inode 900016 dir 1 0 0
link 900016 1 d1
dirent 1 d1 900016 dir
link 900016 1 d2
dirent 1 d2 900016 dir
EOF
it_log "damage written; waiting ${SETTLE} s for it to settle"

# records younger than the settle window are left alone
fsck -n --json
it_check_eq "fsck -n right after the damage: nothing found yet" 0 "$(nsval found)"
[ "$(nsval busy)" -gt 0 ] || it_fail "fsck -n right after the damage: expected busy records, got $FOUT"
sleep "$SETTLE"

# ---- 2. found, fixed, clean ----
fsck_expect 4 -n --grace 3
expect_line '/dangle: entry to a missing or deleted inode \(inode 900001\)'
expect_line 'inode 900002: reachable from no directory: moved to /lost\+found/#900002'
expect_line '/nolink: entry without its LINK'
expect_line '/k2: entry without its LINK'
expect_line '/d1: a second name of a directory|/d2: a second name of a directory'
expect_line '<inode 900014>/child: entry of a deleted directory'
expect_line 'inode 900015: reachable from no directory'
expect_line 'directory 9000(10|11): its parent chain loops'
expect_line 'inode 900013: no name and no link'
expect_line 'chunk\(900005,3\) epoch 0: past the end of the file'
expect_line 'chunk\(900006,0\).*its inode is missing or deleted'
expect_line 'chunk\(900007,0\).*its inode is missing or deleted'
expect_line 'link\(900002, 1, lostfile\): no entry of that name \(never made or lost\)'
if printf '%s\n' "$FOUT" | grep -q 'chunk(900005,0)'; then
	it_fail "fsck reports the valid chunk 0 of the truncated file: $FOUT"
fi
fsck_expect 4 -n --grace 3 --json
it_check_eq "json: dangling" 1 "$(nsval dangling)"
it_check_eq "json: missing_links" 2 "$(nsval missing_links)"
it_check_eq "json: extra_dir_names" 1 "$(nsval extra_dir_names)"
it_check_eq "json: dead_dir_entries" 1 "$(nsval dead_dir_entries)"
it_check_eq "json: lost_found" 2 "$(nsval lost_found)"
it_check_eq "json: cycles" 1 "$(nsval cycles)"
it_check_eq "json: orphans_deleted" 1 "$(nsval orphans_deleted)"
it_check_eq "json: chunks_past_eof" 1 "$(nsval chunks_past_eof)"
it_check_eq "json: chunks_orphaned" 2 "$(nsval chunks_orphaned)"
it_check_eq "json: stray_links" 1 "$(nsval stray_links)"
it_check_eq "json: fixed with -n" 0 "$(nsval fixed)"

# without --grace 3 the unlinked orphan is in its grace period: not an error
fsck -n --json
it_check_eq "default grace: orphan in grace" 1 "$(nsval in_grace)"

fsck_expect 1 -y --grace 3
it_log "fsck -y: $(printf '%s\n' "$FOUT" | tail -n 1)"
it_check_eq "fsck -y: nothing failed" "" "$(printf '%s\n' "$FOUT" | grep 'repair failed' || true)"
it_check_eq "fsck -y: nothing left as busy" "" "$(printf '%s\n' "$FOUT" | grep 'changed since the scan' || true)"
fsck_expect 0 -n --grace 3 --json
it_check_eq "after repair: found" 0 "$(nsval found)"

# ---- 3. the repaired tree ----
it_mount "$M"
it_check "ls -lR the repaired tree" tmo 30 ls -lR "$M"
it_check_eq "keep survives" keep "$(cat "$M/keep")"
[ ! -e "$M/dangle" ] || it_fail "/dangle still exists"
it_check "lost+found is a directory" test -d "$M/lost+found"
it_check "orphan with a LINK is in lost+found" test -f "$M/lost+found/#900002"
it_check "child of the deleted directory is in lost+found" test -f "$M/lost+found/#900015"
it_check_eq "cycle: cf reachable once" 1 "$(find "$M/lost+found" -name cf | wc -l)"
it_check_eq "k1 has two names" 2 "$(stat -c %h "$M/k1")"
it_check_eq "k1 and k2 are one inode" "$(stat -c %i "$M/k1")" "$(stat -c %i "$M/k2")"
it_check_eq "nolink has nlink 1" 1 "$(stat -c %h "$M/nolink")"
it_check_eq "one of d1/d2 left" 1 "$( (ls -d "$M/d1" "$M/d2" 2>/dev/null || true) | wc -l)"
it_check_eq "truncated file keeps its 100 bytes" 100 "$(wc -c <"$M/trunc")"
it_umount_check "$M"

# ---- 4. a client killed -9 in the middle of creates and renames ----
it_mount "$M"
mkdir "$M/w0" "$M/w1" "$M/w2" "$M/w3"
# work L: creates, renames of files and directories across directories,
# hard links and unlinks in the four directories, prefix L
work() {
	set +e
	trap - ERR EXIT
	local i=0 a b
	while [ "$i" -lt 100000 ]; do
		a=$M/w$((i % 4))
		b=$M/w$(((i + 1) % 4))
		echo "$i" >"$a/$1f$i" || break
		for j in 0 1 2 3 4; do
			mv "$a/$1f$i" "$b/$1g$i" || break 2
			mv "$b/$1g$i" "$a/$1f$i" || break 2
			mkdir "$a/$1d$i.$j" || break 2
			mv "$a/$1d$i.$j" "$b/$1d$i.$j" || break 2
			ln "$a/$1f$i" "$b/$1h$i.$j" || break 2
			[ "$j" = 2 ] && { rm -f "$b/$1h$i.1" || break 2; }
		done
		i=$((i + 1))
	done
}
work x >/dev/null 2>&1 &
LOOP1=$!
work y >/dev/null 2>&1 &
LOOP2=$!
sleep 4
kill -KILL "${IT_MPID[$M]}"
it_log "killed quorumfs ${IT_MPID[$M]} (-9) during two create/rename loops"
kill "$LOOP1" "$LOOP2" 2>/dev/null || true
wait "$LOOP1" "$LOOP2" 2>/dev/null || true
it_umount "$M" || true
sleep "$SETTLE"
fsck -n
it_log "fsck -n after the kill: exit $FRC: $(printf '%s\n' "$FOUT" | tail -n 1)"
case $FRC in 0 | 4) ;; *) it_fail "fsck -n after the kill: exit $FRC: $FOUT" ;; esac
fsck -y --grace 0
case $FRC in 0 | 1) ;; *) it_fail "fsck -y after the kill: exit $FRC: $FOUT" ;; esac
it_log "fsck -y: exit $FRC: $(printf '%s\n' "$FOUT" | tail -n 1)"
fsck_expect 0 -n --grace 0
it_mount "$M"
it_check "a fresh mount lists every directory" tmo 60 ls -laR "$M"
bad=$(tmo 60 find "$M" -xdev -type f -printf '%i %n\n' | sort | uniq -c |
	awk '$1 != $3 {print}')
it_check_eq "every file's nlink equals its number of names" "" "$bad"
it_log "files after the kill: $(find "$M" -xdev -type f | wc -l)"
it_umount_check "$M"
it_done
