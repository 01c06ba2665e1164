#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_heal.sh - the mount's background repairer heals what a paused daemon
# missed, without fsck (fs/quorum_repairer.c).
#
#   1. a mounted cluster (default repair_rate); c is SIGSTOPped; files are
#      written, one is deleted (W=2 reaches a and b; the writes leave
#      pending-repair entries on a and b naming c); c gets SIGCONT;
#   2. within HEAL_BOUND seconds, with the mount still up and no fsck -y:
#      fsck.quorumfs --quick -n reports no entry on any daemon (exit 0) and
#      a full fsck.quorumfs -n exits 0 (no missing replica); the mount's
#      log says it repaired replicas and dropped entries; the heal time is
#      logged;
#   3. the control: the same outage under a mount with repair_rate=0 leaves
#      the entries in place (fsck --quick -n exits 4 well after SIGCONT), so
#      step 2 was the repairer's doing.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_heal
[ -x "$QFS_BIN/fsck.quorumfs" ] || it_skip "$QFS_BIN/fsck.quorumfs is not built"
HEAL_BOUND=15
it_cluster_start a b c
it_mkfs
M=$IT_MNT
MLOG=$IT_WORK/heal-mount.log

FRC=0
FOUT=""

# outage DIR: pause c, write into $M/DIR, delete one file, resume c.
outage() {
	it_daemon_pause c
	it_log "c paused (SIGSTOP)"
	mkdir "$M/$1"
	for i in $(seq 1 12); do echo "written while c was down $i" >"$M/$1/f$i"; done
	tmo 60 cp "$IT_WORK/big" "$M/$1/big"
	rm "$M/$1/f12"
	sleep 1.5 # the stragglers to c time out and the pending reports go out
	it_daemon_resume c
	it_log "c resumed (SIGCONT)"
}

it_make_file "$IT_WORK/big" $((1024 * 1024 + 17)) 7

# ---- 1. the outage under a repairing mount ----
it_mount "$M" -o "log_file=$MLOG"
mkdir "$M/base"
for i in 1 2 3; do echo "base $i" >"$M/base/b$i"; done
outage missed
t0=$(it_now_ms)

# ---- 2. healed without fsck -y ----
healed=0
while [ $(($(it_now_ms) - t0)) -lt $((HEAL_BOUND * 1000)) ]; do
	fsck --quick -n --json
	if [ "$FRC" = 0 ] && [ "$(jval entries)" = 0 ]; then
		fsck -n --json
		if [ "$FRC" = 0 ]; then
			healed=$(($(it_now_ms) - t0))
			break
		fi
	fi
	sleep 0.5
done
[ "$healed" -gt 0 ] || it_fail "not healed within $HEAL_BOUND s of SIGCONT: fsck: exit $FRC: $(printf '%s' "$FOUT" | tail -n 15)"
it_log "HEAL: every pending entry gone and fsck -n clean $healed ms after SIGCONT"
it_check_eq "full fsck -n: nothing missing" 0 "$(jval missing)"
grep -q "background repair: .* replicas repaired" "$MLOG" ||
	it_fail "the mount's log has no background repair line: $(tail -n 20 "$MLOG")"
rep=$(sed -n 's/.*background repair: [0-9]* keys checked, \([0-9]*\) replicas repaired.*/\1/p' "$MLOG" |
	awk '{s += $1} END {print s + 0}')
it_log "the mount repaired $rep replicas"
[ "$rep" -gt 0 ] || it_fail "the repairer repaired nothing: $(grep 'background repair' "$MLOG")"
it_check_eq "missed/big reads back" "$(it_sha "$IT_WORK/big")" "$(it_sha "$M/missed/big")"
it_check_eq "missed/f12 stays deleted" "no" "$([ -e "$M/missed/f12" ] && echo yes || echo no)"
it_umount_check "$M"

# ---- 3. control: no repairer, the entries stay ----
it_mount "$M" -o repair_rate=0
outage kept
sleep 6 # longer than a sweep period and the heal time above
fsck --quick -n --json
it_check_eq "repair_rate=0: entries left for fsck (quick -n exit)" 4 "$FRC"
[ "$(jval entries)" -gt 0 ] || it_fail "repair_rate=0: expected pending entries, got: $FOUT"
it_log "repair_rate=0: $(jval entries) entries still pending after 6 s"
it_umount_check "$M"
fsck --quick -y --json
it_check_eq "fsck --quick -y repairs the control" 1 "$FRC"
it_done
