#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_skew.sh - clock skew through the mount (issue #4): a client whose clock
# is far off is refused at mount; one within the bound cannot make a later
# write of another client vanish (N=3 W=2 R=2, chunkd --max-skew-ms 5000).
#
# The client's clock is shifted with libfaketime (LD_PRELOAD, FAKETIME=+Ns;
# quorumfs reads its wall clock with clock_gettime(CLOCK_REALTIME), which
# libfaketime intercepts; CLOCK_MONOTONIC, which deadlines use, is left
# alone). The daemons keep the real clock.
#
#   1. a mount with the client clock 60 s ahead, and one 60 s behind, is
#      refused: non-zero exit, a message about clock skew whose two clocks
#      differ by about 60 s (so the shift did reach quorumfs), nothing
#      mounted;
#   2. a mount 2 s ahead (within the 5 s bound) is accepted;
#   3. client B (real clock, mounted first) and client A (+2 s): for each
#      kind of record, A changes it, closes, and B changes it right after
#      (well within the 2 s by which A's versions are ahead): B's change
#      must win, seen by B, by A after a new open, and by a fresh mount.
#      Kinds: a whole rewrite, an in-place write, an xattr (also on a file
#      whose other records are older than the shift), a whole-chunk
#      overwrite (written blind, no read first), the mode, an
#      unlink, a create over A's unlink, a rename, an rmdir. The hybrid
#      logical clock absorbs the versions B reads before it writes; a write
#      made without reading (an xattr set) must not lose either.
#
# Skips (77) when libfaketime is not installed (package libfaketime) or does
# not shift the clock here.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_skew
FT=""
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 \
	/usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1 \
	/usr/local/lib/faketime/libfaketimeMT.so.1; do
	[ -r "$f" ] && FT=$f && break
done
[ -n "$FT" ] || it_skip "libfaketime is not installed (package libfaketime)"
command -v setfattr >/dev/null 2>&1 || it_skip "no setfattr (package attr)"

# shifted OFFSET: the command prefix that runs a program with its clock
# shifted by OFFSET (e.g. +2s)
shifted() { echo "env LD_PRELOAD=$FT FAKETIME=$1 FAKETIME_DONT_FAKE_MONOTONIC=1"; }
# shellcheck disable=SC2046
d=$(($($(shifted +60s) date +%s) - $(date +%s)))
test "$d" -ge 58 -a "$d" -le 62 || it_skip "libfaketime does not shift the clock here ($d s)"

QFS_IT_CHUNKD_ARGS="--max-skew-ms 5000"
it_cluster_start a b c
it_mkfs

# ---- 1. far off: refused at mount ----
# refused OFFSET: mount with the clock shifted by OFFSET; must fail
refused() {
	local mnt=$IT_WORK/m$1 out rc=0 ours theirs
	mkdir -p "$mnt"
	# shellcheck disable=SC2046
	out=$(tmo 60 $(shifted "$1") "$QFS_BIN/quorumfs" "$IT_CONF" "$mnt" 2>&1) || rc=$?
	if _it_is_mounted "$mnt"; then
		IT_MOUNTS="$IT_MOUNTS $mnt"
		it_fail "a client $1 off was mounted (exit $rc): $out"
	fi
	it_check_ne "clock $1: mount refused (exit $rc)" 0 "$rc"
	case $out in
	*"clock skew"*) it_log "ok: clock $1: the message says why: $out" ;;
	*) it_fail "clock $1: the refusal does not mention clock skew: $out" ;;
	esac
	theirs=$(sed -n 's/.*clock is \([0-9]*\) ms, ours is \([0-9]*\) ms.*/\1/p' <<<"$out")
	ours=$(sed -n 's/.*clock is \([0-9]*\) ms, ours is \([0-9]*\) ms.*/\2/p' <<<"$out")
	test -n "$ours" -a -n "$theirs" || it_fail "clock $1: no clocks in the message: $out"
	d=$(((ours - theirs) / 1000))
	it_check "clock $1: quorumfs's clock was shifted (ours - daemon's = $d s)" \
		test "${d#-}" -ge 55 -a "${d#-}" -le 65
}
refused +60s
refused -60s

# ---- 2. within the bound: accepted; B (real clock) first, then A (+2 s) ----
MB=$IT_WORK/mb
MA=$IT_WORK/ma
it_mount "$MB"
QFS_IT_MOUNT_WRAP=$(shifted +2s) it_mount "$MA"
pa=${IT_MPID[$MA]}
it_check "the client 2 s ahead is mounted" _it_is_mounted "$MA"
it_check "the client 2 s ahead runs under libfaketime" grep -q faketime "/proc/$pa/maps"

# ---- 3. a later write of B never vanishes behind A's versions ----
# race WHAT A_CMD B_CMD: A_CMD (run in $MA), then B_CMD (in $MB) at once;
# both must succeed, and B's must end less than 1.5 s after A's began
# (else B's wall clock could have passed A's versions and the case would
# prove nothing).
race() {
	local what=$1 t0 el
	t0=$(it_now_ms)
	(cd "$MA" && eval "$2") || it_fail "$what: A's command failed: $2"
	(cd "$MB" && eval "$3") || it_fail "$what: B's command failed: $3"
	el=$(($(it_now_ms) - t0))
	[ "$el" -lt 1500 ] || it_fail "$what: B's change came ${el} ms after A's: too late to test"
	it_log "$what: A then B within ${el} ms"
}

# expect WHAT DIR: the state every case left, read through DIR.
expect() {
	local m=$2
	it_check_eq "$1: rewrite, B's content" "B rewrite" "$(cat "$m/f1")"
	it_check_eq "$1: in-place write, B's first 4 KiB then A's" "$(it_sha "$IT_WORK/f2.want")" \
		"$(it_sha "$m/f2")"
	it_check_eq "$1: xattr, B's value" "B" "$(getfattr --absolute-names --only-values -n user.k "$m/f3" 2>&1 || true)"
	it_check_eq "$1: xattr of an old file, B's value" "B" \
		"$(getfattr --absolute-names --only-values -n user.k "$m/f7" 2>&1 || true)"
	it_check_eq "$1: whole-chunk overwrite, A's old chunk 0 then B's chunk 1" \
		"$(it_sha "$IT_WORK/f8.want")" "$(it_sha "$m/f8")"
	it_check_eq "$1: mode, B's" 640 "$(stat -c %a "$m/f4")"
	it_check "$1: unlinked by B, gone" [ ! -e "$m/f5" ]
	it_check_eq "$1: created by B over A's unlink" "B create" "$(cat "$m/f6" 2>&1 || true)"
	it_check "$1: renamed by B, old names gone" test ! -e "$m/r1" -a ! -e "$m/r2"
	it_check_eq "$1: renamed by B, content" "r" "$(cat "$m/r3" 2>&1 || true)"
	it_check "$1: directory removed by B, gone" [ ! -e "$m/dd" ]
}

{
	head -c 4096 /dev/zero | tr '\0' b
	head -c 4096 /dev/zero | tr '\0' a
} >"$IT_WORK/f2.want"
MIB=$((1024 * 1024))
{
	head -c $MIB /dev/zero | tr '\0' o
	head -c $MIB /dev/zero | tr '\0' b
} >"$IT_WORK/f8.want"
race "rewrite" 'echo A rewrite >f1' 'echo B rewrite >f1'
race "in-place write" 'head -c 8192 /dev/zero | tr "\0" a >f2' \
	'head -c 4096 /dev/zero | tr "\0" b | dd of=f2 conv=notrunc status=none'
race "xattr" 'touch f3 && setfattr -n user.k -v A f3' 'setfattr -n user.k -v B f3'
# The same on a file whose other records are older than A's shift, so that
# B has read nothing as new as A's xattr before it writes its own.
(cd "$MA" && echo old >f7 && setfattr -n user.k -v A0 f7 &&
	head -c $((2 * MIB)) /dev/zero | tr '\0' o >f8)
stat "$MB/f7" "$MB/f8" >/dev/null
sleep 3
race "xattr of an old file" 'setfattr -n user.k -v A f7' 'setfattr -n user.k -v B f7'
# a whole chunk (1 MiB, aligned) is written blind, without reading it first
# shellcheck disable=SC2016 # expanded by race's eval
race "whole-chunk overwrite" \
	'head -c $MIB /dev/zero | tr "\0" a | dd of=f8 bs=1M seek=1 conv=notrunc status=none' \
	'head -c $MIB /dev/zero | tr "\0" b | dd of=f8 bs=1M seek=1 conv=notrunc status=none'
race "mode" 'echo x >f4 && chmod 600 f4' 'chmod 640 f4'
race "unlink" 'echo A >f5' 'rm f5'
race "create over an unlink" 'echo A >f6 && rm f6' 'echo B create >f6'
race "rename" 'echo r >r1 && mv r1 r2' 'mv r2 r3'
race "rmdir" 'mkdir dd' 'rmdir dd'

expect "B's mount" "$MB"
sleep 1.5 # A's kernel keeps attributes and entries for attr/entry_timeout (1 s)
expect "A's mount" "$MA"
it_umount_check "$MA"
it_umount_check "$MB"
it_mount "$IT_MNT"
expect "a fresh mount" "$IT_MNT"
it_umount_check "$IT_MNT"
it_done
