#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_two_mounts.sh - two clients of one cluster (two quorumfs mounts with the
# default options, attr/entry timeout 1 s): what one writes and closes the
# other reads (close-to-open), names made or removed on one are seen on the
# other within the entry timeout, appends from both land at the end.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_two_mounts
it_cluster_start
it_mkfs
A=$IT_MNT
B=$IT_WORK/mnt2
it_mount "$A"
it_mount "$B"
TMO_S=1			# the mounts' attr_timeout and entry_timeout (default)
WITHIN=$((TMO_S * 10 + 5))	# tenths of a second: the timeout and some slack
CS=$((1024 * 1024))

# poll_until TENTHS WHAT CMD...: CMD must become true within TENTHS/10 s
# (checked every 0.1 s); prints how long it took.
poll_until() {
	local limit=$1 what=$2 t0 i=0
	shift 2
	t0=$(date +%s%N)
	until "$@" 2>/dev/null; do
		if [ "$i" -ge "$limit" ]; then
			it_fail "$what: not true after $((limit / 10)).$((limit % 10)) s"
		fi
		sleep 0.1
		i=$((i + 1))
	done
	it_log "ok: $what (after $((($(date +%s%N) - t0) / 1000000)) ms)"
}

# ---- a file written and closed on A reads back identical on B ----
it_make_file "$IT_WORK/v1" $((3 * CS + 123)) 1
it_make_file "$IT_WORK/v2" $((3 * CS + 123)) 2		# same size, other bytes
it_make_file "$IT_WORK/v3" $((CS + 7)) 3		# shorter
it_make_file "$IT_WORK/v4" $((5 * CS + 1)) 4		# longer
tmo 60 cp "$IT_WORK/v1" "$A/shared"
it_check_eq "written on A, read on B" "$(it_sha "$IT_WORK/v1")" "$(it_sha "$B/shared")"

# ---- a directory made on A is listed on B ----
mkdir "$A/dir_from_a"
echo hi >"$A/dir_from_a/inner"
poll_until $WITHIN "directory made on A is listed on B" \
	sh -c "ls '$B' | grep -qx dir_from_a"
it_check_eq "file inside it reads on B" "hi" "$(tmo 10 cat "$B/dir_from_a/inner")"

# ---- close-to-open: overwrite on B, reopen on A ----
# A has just looked at the file, so its kernel attribute cache is fresh:
# a new open must still see B's content (DESIGN.md: close-to-open).
stat "$A/shared" >/dev/null && sleep 0.1
tmo 60 cp "$IT_WORK/v2" "$B/shared"
it_check_eq "same-size overwrite on B, reopen on A" "$(it_sha "$IT_WORK/v2")" "$(it_sha "$A/shared")"
stat "$A/shared" >/dev/null && sleep 0.1
tmo 60 cp "$IT_WORK/v3" "$B/shared"
got=$(it_sha "$A/shared")
if [ "$got" = "$(it_sha "$IT_WORK/v3")" ]; then
	it_log "ok: shorter overwrite on B, reopen on A at once"
else
	it_fail_soft "shorter overwrite on B, reopen on A at once: expected sha $(it_sha "$IT_WORK/v3") (size $(stat -c %s "$IT_WORK/v3")), got $got (A's size $(stat -c %s "$A/shared"))"
fi
stat "$A/shared" >/dev/null && sleep 0.1
tmo 60 cp "$IT_WORK/v4" "$B/shared"
got=$(it_sha "$A/shared")
if [ "$got" = "$(it_sha "$IT_WORK/v4")" ]; then
	it_log "ok: longer overwrite on B, reopen on A at once"
else
	it_fail_soft "longer overwrite on B, reopen on A at once: expected sha $(it_sha "$IT_WORK/v4") (size $(stat -c %s "$IT_WORK/v4")), got $got (A's size $(stat -c %s "$A/shared"))"
fi
# whatever happened at once, after the attribute timeout A must agree
sleep $((TMO_S + 1))
it_check_eq "after the attr timeout A reads B's last content" "$(it_sha "$IT_WORK/v4")" "$(it_sha "$A/shared")"
it_check_eq "and B reads it too" "$(it_sha "$IT_WORK/v4")" "$(it_sha "$B/shared")"

# a small overwrite in the middle on A (a PATCH), read on B
printf 'PATCHED-BY-A' | tmo 10 dd of="$A/shared" bs=1 seek=$((2 * CS - 5)) conv=notrunc status=none
cp "$IT_WORK/v4" "$IT_WORK/v4p"
printf 'PATCHED-BY-A' | dd of="$IT_WORK/v4p" bs=1 seek=$((2 * CS - 5)) conv=notrunc status=none
it_check_eq "partial overwrite on A, reopen on B" "$(it_sha "$IT_WORK/v4p")" "$(it_sha "$B/shared")"

# ---- appends from both clients land at the end ----
echo "from A 1" >>"$A/log"
echo "from B 1" >>"$B/log"
echo "from A 2" >>"$A/log"
echo "from B 2" >>"$B/log"
got=$(tmo 10 cat "$A/log")
want="from A 1
from B 1
from A 2
from B 2"
if [ "$got" = "$want" ]; then
	it_log "ok: O_APPEND from two clients, in turn, read on A"
else
	it_fail_soft "O_APPEND from two clients, in turn: expected '$want', got '$got'"
fi
sleep $((TMO_S + 1))
it_check_eq "the log after the attr timeout, on B" "$want" "$(tmo 10 cat "$B/log")"

# ---- names removed or renamed on one client go away on the other ----
tmo 10 rm "$A/dir_from_a/inner"
tmo 10 rmdir "$A/dir_from_a"
poll_until $WITHIN "directory removed on A disappears on B" \
	sh -c "! ls '$B' | grep -qx dir_from_a && ! test -e '$B/dir_from_a'"
echo renamed >"$B/before"
poll_until $WITHIN "file made on B appears on A" test -e "$A/before"
tmo 10 mv "$B/before" "$B/after"
poll_until $WITHIN "file renamed on B: new name on A" test -e "$A/after"
poll_until $WITHIN "file renamed on B: old name gone on A" sh -c "! test -e '$A/before'"
it_check_eq "renamed file's content on A" "renamed" "$(tmo 10 cat "$A/after")"

# ---- chmod on A is seen on B after the attr timeout ----
tmo 10 chmod 600 "$A/after"
poll_until $WITHIN "chmod on A is seen on B" \
	sh -c "[ \"\$(stat -c %a '$B/after')\" = 600 ]"

# ---- both unmount cleanly ----
it_umount_check "$B"
it_umount_check "$A"
it_done
