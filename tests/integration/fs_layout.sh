#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_layout.sh - growing and shrinking a live, mounted cluster (issue #7):
#
#   1. 3 daemons a b c, one mount, 40 files written through it;
#   2. a workload rewrites (cp + mv) and re-reads (cmp) files through the
#      mount all along;
#   3. d and e start; `qfs layout add` both, `apply`, `qfs rebalance`;
#   4. `qfs layout remove c`, `apply`, `qfs rebalance` (c is drained);
#   5. the workload saw no error; every file equals the model; the ring
#      changed at most 1.3 x the theoretical minimum of placements, and the
#      rebalance copied at most 1.3 x the placements that changed; a second
#      rebalance finds nothing to do; `fsck -n --full` exits 0 with 0
#      misplaced copies, so every key is on exactly the N daemons of its
#      list. Prints data moved, time and the workload's worst latencies.
# shellcheck disable=SC2119
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_layout
for b in fsck.quorumfs qfs; do
	[ -x "$QFS_BIN/$b" ] || it_skip "$QFS_BIN/$b is not built"
done
command -v jq >/dev/null 2>&1 || it_skip "no jq"
it_cluster_start a b c
it_mkfs
it_mount "$IT_MNT"
M=$IT_MNT
MODEL=$IT_WORK/model
NF=40
mkdir -p "$M/w" "$MODEL"

. "$(dirname "$0")/layout_wl.sh"
for i in $(seq 1 $NF); do put "$i" >/dev/null; done
# the workload rewrites (cp + mv) a file of 30..300 KiB and re-reads
# another all along
wl_start

# rebalance MIN: apply what is staged, rebalance, check the numbers. MIN
# is the theoretical minimum of new copies per key, as X.YY (N times the
# share of the ring that changes hands): the placements the new ring
# changes (apply's estimate) must stay within 1.3 x of it, and the copies
# the rebalance makes within 1.3 x of the placements that changed.
T0=$(date +%s)
COPIES=0 NEEDED=0 KIB=0
rebalance() {
	local out min=$1 est
	out=$(tmo 120 "$QFS_BIN/qfs" layout apply "$IT_CONF" 2>&1) || wl_fail "apply: $out"
	it_log "$out"
	est=$(printf '%s\n' "$out" | sed -n 's/.*, \([0-9]*\.[0-9][0-9]\) new copies per key.*/\1/p')
	it_check "placements changed per key $est within 1.3 x the minimum $min" \
		[ "$((10#${est/./} * 10))" -le $((10#${min/./} * 13)) ]
	local src=0
	out=$(tmo 120 "$QFS_BIN/qfs" rebalance "$IT_CONF" --status 2>&1) || src=$?
	it_log "status before: $out"
	it_check_eq "rebalance --status before: something is left (exit 1)" 1 "$src"
	it_check "rebalance --status before: in transition" grep -q 'in transition' <<<"$out"
	out=$(tmo 180 "$QFS_BIN/qfs" rebalance "$IT_CONF" --rate 200 2>&1) || wl_fail "rebalance: $out"
	it_log "$out"
	local line copies needed mib
	line=$(printf '%s\n' "$out" | grep '^copied:')
	needed=$(printf '%s\n' "$line" | sed 's/.*(\([0-9]*\) new placements.*/\1/')
	copies=$(printf '%s\n' "$line" | sed 's/.*), \([0-9]*\) copies.*/\1/')
	mib=$(printf '%s\n' "$line" | sed 's/.* copies (\([0-9.]*\) MiB).*/\1/')
	COPIES=$((COPIES + copies)) NEEDED=$((NEEDED + needed))
	KIB=$((KIB + $(awk -v m="$mib" 'BEGIN { printf "%d", m * 1024 }')))
	it_check "copies $copies <= 1.3 x needed $needed" [ $((copies * 10)) -le $((needed * 13)) ]
	out=$(tmo 120 "$QFS_BIN/qfs" rebalance "$IT_CONF" 2>&1) || wl_fail "rerun: $out"
	it_check "a second rebalance finds nothing to move ($out)" \
		sh -c "printf '%s' \"\$1\" | grep -q ' 0 dropped, 0 kept, 0 failed'" _ "$out"
	src=0
	out=$(tmo 120 "$QFS_BIN/qfs" rebalance "$IT_CONF" --status 2>&1) || src=$?
	it_log "status after: $out"
	it_check_eq "rebalance --status after: nothing left (exit 0)" 0 "$src"
	it_check "rebalance --status after: no transition, 0 copies outside their lists" \
		sh -c "printf '%s' \"\$1\" | grep -q 'no transition' &&
		       printf '%s' \"\$1\" | grep -q ' 0 copies outside'" _ "$out"
}

for n in d e; do
	IT_DAEMONS="$IT_DAEMONS $n"
	IT_DDIR[$n]=$IT_WORK/data-$n
	IT_DEP[$n]=ipc://$IT_WORK/$n.sock
	it_daemon_start "$n"
	"$QFS_BIN/qfs" layout add "$IT_CONF" "$n" "${IT_DEP[$n]}" >/dev/null
done
"$QFS_BIN/qfs" layout show "$IT_CONF"
rebalance 1.20 # 3 -> 5: N x 2/5 of each key's placements move
"$QFS_BIN/qfs" layout remove "$IT_CONF" c >/dev/null
rebalance 0.60 # 5 -> 4: N x 1/5
T1=$(date +%s)

wl_stop
[ ! -s "$IT_WORK/wl.err" ] || it_fail "workload: $(cat "$IT_WORK/wl.err")"
read -r OPS WORST WORST_RD <"$IT_WORK/wl.stat"
bad=0
for i in $(seq 1 $NF); do
	cmp -s "$M/w/f$i" "$MODEL/f$i" || { it_log "f$i differs from the model"; bad=1; }
done
it_check_eq "files equal to the model" 0 "$bad"
# --full: every key of every daemon (c included, drained) is looked at, so
# "0 misplaced" with exit 0 means every key is on exactly the N daemons of
# its list
layout_fsck_clean "after 3 -> 5 -> 4"
it_log "RESULT: 3 -> 5 -> 4 daemons in $((T1 - T0)) s; rebalance copied $COPIES replicas" \
	"($KIB KiB) for $NEEDED placements that changed; workload $OPS steps without" \
	"an error, worst write (cp + mv) $WORST ms, worst read (cmp) $WORST_RD ms"
it_umount "$IT_MNT"
it_done
