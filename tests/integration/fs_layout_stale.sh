#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_layout_stale.sh - a mount that sleeps through a whole layout change
# (issue #7, "daemons report their layout version in every reply"):
#
#   1. four daemons a b c d; mount M1 writes NF files;
#   2. M1's server is SIGSTOPped (it can neither refresh its layout nor
#      send anything), then `qfs layout remove a`, `apply` and `qfs
#      rebalance` run to the end: the previous layout is retired, the
#      drain has passed and the copies outside the new lists are dropped;
#      a keeps running (its requests are answered, as a drained daemon's);
#   3. M1 resumes and at once rewrites every file, while b is stopped for
#      half a second: M1's own refresh (HELLO every daemon) waits for b, so
#      the mount still routes by the layout of step 1, whose lists include
#      a. The daemons, which now store the newer layout, refuse those
#      requests (STALE_LAYOUT, counted in their debug logs: at least one);
#      the mount refreshes and retries under the new layout. Every write
#      must succeed (a clean EIO would also be safe, but is not expected
#      here); none may land on the old lists only.
#   4. M1 is unmounted and a stopped; a fresh mount M2 reads every file
#      equal to its new content, and `fsck.quorumfs -n --full` exits 0 with
#      0 missing, stale, corrupt and misplaced.
# Before this check, step 3 wrote to a plus one other old replica (W = 2)
# and a read through M2 of a key whose new list misses both saw the old
# content. Prints how long the stale mount's first write and all of them
# took.
# shellcheck disable=SC2119
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_layout_stale
for b in fsck.quorumfs qfs; do
	[ -x "$QFS_BIN/$b" ] || it_skip "$QFS_BIN/$b is not built"
done
command -v jq >/dev/null 2>&1 || it_skip "no jq"
# the daemons log each request they refuse as stale_layout at debug level
export QFS_IT_CHUNKD_ARGS="${QFS_IT_CHUNKD_ARGS:-} --log-level debug"
it_cluster_start a b c d
it_mkfs
M1=$IT_MNT
M2=$IT_WORK/mnt2
MODEL=$IT_WORK/model
NF=24
. "$(dirname "$0")/layout_wl.sh" # layout_fsck_clean
it_mount "$M1"
mkdir -p "$M1/w" "$MODEL"
for i in $(seq 1 $NF); do
	it_make_file "$MODEL/f$i" $((65536 + i * 4096)) "$i"
	cp "$MODEL/f$i" "$M1/w/f$i"
done
it_log "step 1: $NF files written through M1"

# ---- 2. M1 sleeps through remove + apply + rebalance ------------------------
P1=${IT_MPID[$M1]:-}
[ -n "$P1" ] || it_fail "no server pid for $M1"
_resume_m1() { kill -CONT "$P1" 2>/dev/null || true; }
it_on_exit _resume_m1 # never leave a stopped server behind a mount
kill -STOP "$P1"
it_log "step 2: M1 (pid $P1) stopped"
tmo 30 "$QFS_BIN/qfs" layout remove "$IT_CONF" a >/dev/null
out=$(tmo 60 "$QFS_BIN/qfs" layout apply "$IT_CONF" 2>&1) || it_fail "apply: $out"
it_log "apply: $(printf '%s' "$out" | tail -n 1)"
T0=$(it_now_ms)
rc=0
out=$(tmo 120 "$QFS_BIN/qfs" rebalance "$IT_CONF" 2>&1) || rc=$?
RB_MS=$(($(it_now_ms) - T0))
it_log "rebalance (exit $rc, $RB_MS ms): $(printf '%s' "$out" | grep -E '^(done|copied|layout)' | tr '\n' ';')"
it_check_eq "rebalance exit" 0 "$rc"
it_check "rebalance retired the previous layout" grep -q 'previous retired' <<<"$out"
out=$(tmo 30 "$QFS_BIN/qfs" rebalance "$IT_CONF" --status 2>&1) || it_fail "status: $out"
it_check "no transition and no copies outside their lists" \
	sh -c "printf '%s' \"\$1\" | grep -q 'no transition' &&
	       printf '%s' \"\$1\" | grep -q ' 0 copies outside'" _ "$out"

# ---- 3. M1 wakes up and writes at once ---------------------------------------
for i in $(seq 1 $NF); do
	it_make_file "$MODEL/f$i.new" $((65536 + i * 4096)) $((1000 + i))
done
_resume_b() { [ -z "${IT_DPID[b]:-}" ] || kill -CONT "${IT_DPID[b]}" 2>/dev/null || true; }
it_on_exit _resume_b
it_daemon_pause b
kill -CONT "$P1"
T0=$(it_now_ms)
(sleep 0.5 && kill -CONT "${IT_DPID[b]}") &
B_RESUME=$!
FIRST_MS=""
bad=0
for i in $(seq 1 $NF); do
	if ! cp "$MODEL/f$i.new" "$M1/w/f$i" 2>"$IT_WORK/cp.err"; then
		it_log "write f$i through the stale mount failed: $(cat "$IT_WORK/cp.err")"
		bad=$((bad + 1))
		continue
	fi
	mv "$MODEL/f$i.new" "$MODEL/f$i"
	[ -n "$FIRST_MS" ] || FIRST_MS=$(($(it_now_ms) - T0))
done
ALL_MS=$(($(it_now_ms) - T0))
wait "$B_RESUME" || true
_resume_b
it_check_eq "step 3: writes through the stale mount failed" 0 "$bad"
STALE=$(cat "$IT_WORK"/[abcd].log | grep -c 'stale_layout' || true)
it_log "step 3: first write $FIRST_MS ms, $NF writes $ALL_MS ms after SIGCONT;" \
	"$STALE requests refused as stale_layout by the daemons"
it_check "step 3: the daemons refused requests routed by the old layout ($STALE)" [ "$STALE" -ge 1 ]
it_umount_check "$M1"

# ---- 4. what is on the new lists only ----------------------------------------
it_daemon_stop a
it_mount "$M2"
bad=0
for i in $(seq 1 $NF); do
	cmp -s "$M2/w/f$i" "$MODEL/f$i" || { it_log "f$i differs from its new content"; bad=$((bad + 1)); }
done
it_check_eq "step 4: files read through a fresh mount equal to the last write" 0 "$bad"
it_umount_check "$M2"
layout_fsck_clean "step 4"
it_log "RESULT: a mount stopped across remove + apply + rebalance ($RB_MS ms) wrote $NF files" \
	"on the new lists: first write $FIRST_MS ms, all $ALL_MS ms after it resumed," \
	"$STALE requests refused as stale on the way"
it_done
