#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_read_repair.sh - a replica that missed writes is brought up to date by
# a read through the mount.
#
#   1. files written with all three daemons up;
#   2. daemon c is killed (-9); one file is overwritten (cp: O_TRUNC, a new
#      truncate epoch), one is patched in the middle (dd conv=notrunc), one
#      is created; the writes reach W=2 (a and b); the mount goes away, so
#      nothing but a later read can repair c;
#   3. c starts again on its data dir;
#   4. c alone is shown to be stale;
#   5. a is stopped, the files are read through a fresh mount (R=2: the read
#      must use b and c, so it sees c's stale versions): the newest data must
#      come back, and c must be repaired on the way;
#   6. c alone is shown to hold the newest version of everything read.
#
# "c alone" is read through a mount of the cluster with a and b stopped and
# -o ro,r=1,w=1, so every byte comes from c's store. The versions each
# replica holds are compared too, with `qfs replicas CONFIG PATH` (lines
# "KEY DAEMON VERSION|absent|corrupt|unreachable", KEY inode:INO or
# chunk:INO/K). It needs PATH in a mount, and that stat reads the inode with
# a quorum (and may repair it), so only chunk versions are compared before
# the repairing read.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_read_repair
it_cluster_start a b c
it_mkfs
M=$IT_MNT
MC=$IT_WORK/mnt_c	# c alone
CS=$((1024 * 1024))
it_mount "$M"

HAVE_REPLICAS=0
if "$QFS_BIN/qfs" --help 2>&1 | grep -q 'replicas CONFIG PATH'; then
	HAVE_REPLICAS=1
else
	it_log "note: 'qfs replicas CONFIG PATH' does not exist: checking c through a c-only mount only"
fi

# replicas PATH: save the output of qfs replicas for PATH in $REPL
REPL=""
replicas() {
	REPL=$(tmo 30 "$QFS_BIN/qfs" replicas "$IT_CONF" "$1" 2>&1) ||
		it_fail "qfs replicas $IT_CONF $1: $REPL"
}
# ver KEY DAEMON: what $REPL says DAEMON holds for KEY (version, absent, ...)
ver() { printf '%s\n' "$REPL" | awk -v k="$1" -v d="$2" '$1 == k && $2 == d {print $3}'; }
# same_on KEY D1 D2...: every daemon listed holds the same version of KEY
same_on() {
	local key=$1 d v first=""
	shift
	for d in "$@"; do
		v=$(ver "$key" "$d")
		case $v in
		"" | absent | corrupt | unreachable) it_fail "qfs replicas: $key on $d: expected a version, got '$v'" ;;
		esac
		[ -z "$first" ] && first=$v
		[ "$v" = "$first" ] || it_fail "qfs replicas: $key: expected one version on $*, got $(printf '%s\n' "$REPL" | awk -v k="$key" '$1 == k {printf "%s=%s ", $2, $3}')"
	done
	it_log "ok: qfs replicas: $key is $first on $*"
}

# c_alone CMD...: stop a and b, mount c alone read-only on $MC, run CMD,
# unmount, start a and b again.
c_alone() {
	it_daemon_stop a
	it_daemon_stop b
	it_mount "$MC" -o ro,r=1,w=1
	"$@"
	it_umount_check "$MC"
	it_daemon_start a
	it_daemon_start b
}

# ---- 1. the files, with every daemon up ----
it_make_file "$IT_WORK/big_old" $((3 * CS + 5)) 1
it_make_file "$IT_WORK/big_new" $((2 * CS + 77)) 2
it_make_file "$IT_WORK/small_old" $((100 * 1024)) 3
it_make_file "$IT_WORK/patch" 4096 4
it_make_file "$IT_WORK/fresh" $((CS + 1)) 5
cp "$IT_WORK/small_old" "$IT_WORK/small_new"
dd if="$IT_WORK/patch" of="$IT_WORK/small_new" bs=4096 seek=12 conv=notrunc status=none
tmo 60 cp "$IT_WORK/big_old" "$M/big"
tmo 60 cp "$IT_WORK/small_old" "$M/small"
ino_big=$(stat -c %i "$M/big")
ino_small=$(stat -c %i "$M/small")
if [ "$HAVE_REPLICAS" = 1 ]; then
	# the third replica's write may still be on its way: wait (3 s) until
	# all three hold the same chunk 0
	for i in $(seq 1 30); do
		replicas "$M/big"
		v_big0=$(ver "chunk:$ino_big/0" a)
		[ "$(ver "chunk:$ino_big/0" b)" = "$v_big0" ] &&
			[ "$(ver "chunk:$ino_big/0" c)" = "$v_big0" ] && break
		sleep 0.1
	done
	same_on "chunk:$ino_big/0" a b c
fi

# ---- 2. c misses an overwrite, a patch and a create ----
it_daemon_kill c
it_log "killed c (-9)"
tmo 60 cp "$IT_WORK/big_new" "$M/big"
tmo 60 dd if="$IT_WORK/patch" of="$M/small" bs=4096 seek=12 conv=notrunc status=none
tmo 60 cp "$IT_WORK/fresh" "$M/fresh"
it_check_eq "with c down, the overwrite reads back" "$(it_sha "$IT_WORK/big_new")" "$(it_sha "$M/big")"
it_umount_check "$M"

# ---- 3. c comes back on the same data dir ----
it_daemon_start c
it_log "restarted c on ${IT_DDIR[c]}"
# ---- 4. c alone is stale (the precondition that makes this test mean something) ----
check_c_stale() {
	it_check_eq "c alone (before repair): big has the old content" "$(it_sha "$IT_WORK/big_old")" "$(it_sha "$MC/big")"
	it_check_eq "c alone (before repair): small has no patch" "$(it_sha "$IT_WORK/small_old")" "$(it_sha "$MC/small")"
	it_check_eq "c alone (before repair): fresh does not exist" "absent" \
		"$([ -e "$MC/fresh" ] && echo present || echo absent)"
}
c_alone check_c_stale

# ---- 5. read through the mount with a stopped: b (new) and c (stale) ----
it_daemon_stop a
it_log "stopped a: reads must use b and c"
it_mount "$M"
if [ "$HAVE_REPLICAS" = 1 ]; then
	replicas "$M/big"
	it_check_eq "qfs replicas: c still holds the old chunk 0 of big" "$v_big0" "$(ver "chunk:$ino_big/0" c)"
	it_check_ne "qfs replicas: b holds a newer chunk 0 of big" "$v_big0" "$(ver "chunk:$ino_big/0" b)"
	it_check_eq "qfs replicas: a is unreachable" "unreachable" "$(ver "chunk:$ino_big/0" a)"
fi
it_check_eq "read with c stale: big is the newest content" "$(it_sha "$IT_WORK/big_new")" "$(it_sha "$M/big")"
it_check_eq "read with c stale: big's size" "$(stat -c %s "$IT_WORK/big_new")" "$(stat -c %s "$M/big")"
it_check_eq "read with c stale: small has the patch" "$(it_sha "$IT_WORK/small_new")" "$(it_sha "$M/small")"
it_check_eq "read with c stale: fresh exists" "$(it_sha "$IT_WORK/fresh")" "$(it_sha "$M/fresh")"
it_check_eq "read with c stale: the directory lists all three" "big fresh small" "$(ls "$M" | sort | tr '\n' ' ' | sed 's/ $//')"
if [ "$HAVE_REPLICAS" = 1 ]; then
	replicas "$M/big"
	for key in "inode:$ino_big" "chunk:$ino_big/0" "chunk:$ino_big/1" "chunk:$ino_big/2"; do
		same_on "$key" b c
	done
	replicas "$M/small"
	same_on "inode:$ino_small" b c
	same_on "chunk:$ino_small/0" b c
fi
it_umount_check "$M"
it_daemon_start a

# ---- 6. c alone now holds the newest version ----
check_c_repaired() {
	it_check_eq "c alone (after the read): big has the new content" "$(it_sha "$IT_WORK/big_new")" "$(it_sha "$MC/big")"
	it_check_eq "c alone (after the read): big's size" "$(stat -c %s "$IT_WORK/big_new")" "$(stat -c %s "$MC/big")"
	it_check_eq "c alone (after the read): small has the patch" "$(it_sha "$IT_WORK/small_new")" "$(it_sha "$MC/small")"
	it_check_eq "c alone (after the read): fresh exists" "$(it_sha "$IT_WORK/fresh")" "$(it_sha "$MC/fresh")"
}
c_alone check_c_repaired
# ---- all three up: the normal mount agrees ----
it_mount "$M"
it_check_eq "all up: big" "$(it_sha "$IT_WORK/big_new")" "$(it_sha "$M/big")"
it_check_eq "all up: small" "$(it_sha "$IT_WORK/small_new")" "$(it_sha "$M/small")"
if [ "$HAVE_REPLICAS" = 1 ]; then
	replicas "$M/big"
	it_check_eq "qfs replicas: big has inode + 3 chunks x 3 replicas" 12 "$(printf '%s\n' "$REPL" | wc -l)"
	for key in "inode:$ino_big" "chunk:$ino_big/0" "chunk:$ino_big/1" "chunk:$ino_big/2"; do
		same_on "$key" a b c
	done
fi
it_umount_check "$M"
it_done
