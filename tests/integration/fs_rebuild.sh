#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_rebuild.sh - a daemon whose disk is wiped under a live mount is
# "rebuilding" (issue #4): it takes writes, counts in no quorum, and fsck
# refills it and ends the state.
#
#   1. 3 daemons, one mount; a few MiB of files, many small ones too;
#   2. b is stopped, its data dir wiped, b restarted; without a remount every
#      file reads back identical, several times (direct I/O, no page cache);
#      `qfs status --json` says b is rebuilding; b first has a tiny capacity,
#      so fsck -y refills it only in part (exit 4, no REBUILT): b then has
#      its volume yet stays rebuilding, also across a restart;
#   3. with c stopped too only a counts: reads and writes fail with EIO
#      (never zeros or wrong bytes); c back: identical again, and a new file
#      is written (b takes it);
#   4. fsck.quorumfs -y exits 1 (refills b, sends REBUILT), then -n exits 0
#      and names no rebuilding daemon; status says b is no longer
#      rebuilding and holds as many records as a;
#   5. the live mount counts b again: with a stopped, everything still
#      reads back (b and c make R);
#   6. a fresh mount with a stopped reads everything too.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_rebuild
for b in fsck.quorumfs qfs; do
	[ -x "$QFS_BIN/$b" ] || it_skip "$QFS_BIN/$b is not built"
done
command -v jq >/dev/null 2>&1 || it_skip "no jq"
it_cluster_start a b c
it_mkfs
M=$IT_MNT
KIB=1024
SUMS=$IT_WORK/sums

# rsha FILE: sha256 of FILE read with O_DIRECT (past the page cache, so every
# read asks the cluster), or "EIO" / "ERROR(...)" when the read fails.
rsha() {
	local rc=0
	tmo 30 dd if="$1" of="$IT_WORK/rd.tmp" iflag=direct bs=1M status=none \
		2>"$IT_WORK/dd.err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		if grep -q "Input/output error" "$IT_WORK/dd.err"; then
			echo EIO
		else
			printf 'ERROR(exit %s: %s)' "$rc" "$(head -c 200 "$IT_WORK/dd.err" | tr '\n' ' ')"
		fi
		return
	fi
	it_sha "$IT_WORK/rd.tmp"
}

# check_all WHAT: every file of $SUMS reads back identical through $M.
check_all() {
	local name want got bad=0 n=0
	while read -r want name; do
		got=$(rsha "$M/$name")
		n=$((n + 1))
		if [ "$got" != "$want" ]; then
			it_log "$name: expected $want, got $got"
			bad=$((bad + 1))
		fi
	done <"$SUMS"
	[ "$bad" -eq 0 ] || it_fail "$1: $bad of $n files differ"
	it_log "ok: $1: $n files identical"
}

# status_field NAME FIELD: FIELD of daemon NAME in `qfs status --json`
status_field() {
	local json
	json=$(tmo 30 "$QFS_BIN/qfs" status "$IT_CONF" --json) || true
	jq -r --arg n "$1" ".daemons[] | select(.name == \$n) | .$2" <<<"$json"
}

FRC=0
FOUT=""

# ---- 1. files ----
it_mount "$M"
: >"$SUMS"
mkdir -p "$IT_WORK/src/d1/d2" "$M/d1/d2"
it_make_file "$IT_WORK/src/big1" $((3 * 1024 * KIB + 11)) 1
it_make_file "$IT_WORK/src/big2" $((1536 * KIB)) 2
tmo 60 cp "$IT_WORK/src/big1" "$M/big1"
tmo 60 cp "$IT_WORK/src/big2" "$M/d1/big2"
printf '%s big1\n' "$(it_sha "$IT_WORK/src/big1")" >>"$SUMS"
printf '%s d1/big2\n' "$(it_sha "$IT_WORK/src/big2")" >>"$SUMS"
for i in $(seq 1 40); do
	dir=d1
	[ $((i % 2)) -eq 0 ] && dir=d1/d2
	it_make_file "$IT_WORK/src/s$i" $((i * 700 + 3)) $((i + 10))
	cp "$IT_WORK/src/s$i" "$M/$dir/s$i"
	printf '%s %s\n' "$(it_sha "$IT_WORK/src/s$i")" "$dir/s$i" >>"$SUMS"
done
check_all "files written"
it_check_eq "status: b not rebuilding on a healthy cluster" false "$(status_field b rebuilding)"

# ---- 2. b's disk is replaced under the live mount ----
it_daemon_stop b
rm -rf --one-file-system "${IT_DDIR[b]}"
# a small disk at first: fsck can refill it only in part
QFS_IT_CHUNKD_ARGS="--capacity 4M" it_daemon_start b
it_log "b wiped and restarted with a 4 MiB capacity (mount still live)"
sleep 1.5 # the mount's engine re-HELLOs b (a probe every 500 ms)
for round in 1 2 3; do
	check_all "read round $round with b empty"
done
it_check_eq "status: b is rebuilding" true "$(status_field b rebuilding)"
it_check_eq "status: a is not" false "$(status_field a rebuilding)"

# A partial refill gives b the superblock (its volume) but not all the data:
# fsck must not declare it refilled, and b stays rebuilding across a restart.
fsck -y --json
it_check_eq "fsck -y with b too small: exit 4 (left uncorrected)" 4 "$FRC"
it_check_eq "fsck -y --json: b still rebuilding" b "$(jq -r '.rebuilding | join(" ")' <<<"$FOUT")"
it_check_eq "fsck -y --json: nothing declared rebuilt" "" "$(jq -r '.rebuilt | join(" ")' <<<"$FOUT")"
it_daemon_stop b
it_daemon_start b
it_log "b restarted with its full capacity"
sleep 1.5
it_check_eq "status: b has its volume now" null "$(status_field b 'flags | index("novolume")')"
it_check_eq "status: b is still rebuilding (persistent)" true "$(status_field b rebuilding)"
check_all "read with b half refilled"

# ---- 3. c down too: only a counts, so quorum I/O fails with EIO ----
it_daemon_stop c
sleep 0.5
eio=0
while read -r want name; do
	got=$(rsha "$M/$name")
	case $got in
	EIO) eio=$((eio + 1)) ;;
	"$want") it_fail "$name read back while only a counts: a read quorum without R replicas" ;;
	*) it_fail "$name: expected EIO with only a counted, got $got" ;;
	esac
done < <(head -n 6 "$SUMS")
it_check_eq "reads with b rebuilding and c down fail with EIO" 6 "$eio"
it_check_fails "a write with b rebuilding and c down fails" "Input/output error" \
	tmo 30 cp "$IT_WORK/src/s1" "$M/during_outage"
it_daemon_start c
sleep 1.5
check_all "c back, b still rebuilding"
tmo 60 cp "$IT_WORK/src/big2" "$M/after_wipe"
printf '%s after_wipe\n' "$(it_sha "$IT_WORK/src/big2")" >>"$SUMS"
check_all "a file written while b rebuilds"
it_check_eq "status: b still rebuilding" true "$(status_field b rebuilding)"

# ---- 4. fsck refills b and ends the rebuild ----
fsck -n --json
it_check_eq "fsck -n with b rebuilding: exit 4" 4 "$FRC"
it_check_eq "fsck -n --json names b rebuilding" b "$(jq -r '.rebuilding | join(" ")' <<<"$FOUT")"
fsck -y
[ "$FRC" = 1 ] || it_fail "fsck -y: expected exit 1, got $FRC: $(printf '%s' "$FOUT" | tail -n 20)"
it_log "ok: fsck -y exits 1: $(printf '%s\n' "$FOUT" | grep -E 'rebuilding|refilled' | tr '\n' ' ')"
fsck -n --json
[ "$FRC" = 0 ] || it_fail "fsck -n after -y: expected exit 0, got $FRC: $FOUT"
it_check_eq "fsck -n: nothing missing" 0 "$(jq '.missing' <<<"$FOUT")"
it_check_eq "fsck -n: no rebuilding daemon" "" "$(jq -r '.rebuilding | join(" ")' <<<"$FOUT")"
it_check_eq "status: b no longer rebuilding" false "$(status_field b rebuilding)"
it_check_eq "status: b holds as many records as a" "$(status_field a records)" \
	"$(status_field b records)"

# ---- 5. the live mount counts b again (it re-HELLOs a rebuilding daemon) ----
sleep 1.5
it_daemon_stop a
sleep 0.5
check_all "live mount, a down: b and c make the read quorum"
it_daemon_start a
it_umount_check "$M"

# ---- 6. a fresh mount counts b ----
it_daemon_stop a
it_mount "$M"
check_all "fresh mount, a down"
it_umount_check "$M"
it_daemon_start a
it_done
