#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_chaos.sh - a seeded random workload through the mount while daemons
# fail one at a time (issue #4); afterwards the mount, fsck and every
# replica must agree with a local model of the tree.
#
#   fs_chaos.sh CHAOS_WORK REPLICA_CHECK      (ctest passes both helpers)
#
# The workload (chaos_work.c) applies each operation to a plain local
# directory, the model, and then identically to the mount: creates,
# rewrites, writes at random offsets (small and crossing chunk boundaries;
# the volume is made with 64 KiB chunks), appends, truncates (shrink and
# grow), renames of files and directories, hard links, unlinks, mkdir,
# rmdir, and read/stat/readdir checks against the model. Meanwhile the
# fault loop below, seeded by the same seed, impairs one random daemon at
# a time for 0.5-3 s, then leaves all healthy for 0.5-3 s (after the mount
# counts the restored daemon again, see settle below): SIGKILL and a
# restart, SIGSTOP/SIGCONT, or a network partition (its end of a veth down;
# only when network namespaces can be made, else that kind is skipped and
# the log says so). Never more than N-W = 1 daemon is impaired, so ANY error
# on the mount fails the test (EIO is only allowed below a quorum).
#
# Afterwards, with every daemon healthy:
#   1. the live mount equals the model (chaos_work verify: names, types,
#      modes, sizes, bytes, nlink, hard-link grouping);
#   2. after unmount, drop_caches and a fresh mount (reads come from the
#      daemons): verify again, `diff -r`, and the nlink and size of every
#      file from find(1);
#   3. the replicas: replica_check (a SCAN of every daemon compared key by
#      key against the ring's placement) is printed, then fsck.quorumfs -y
#      exits 0 or 1 with no namespace problem, fsck -n exits 0 with nothing
#      missing, stale or corrupt, and replica_check finds every replica of
#      every key present with the same version, flags, epoch, length and
#      checksum;
#   4. a last fresh mount still equals the model (fsck changed nothing
#      visible).
#
# Environment: QFS_CHAOS_SEED (default 20240604; "random" picks one and
# prints it), QFS_CHAOS_SECONDS (workload, default 50), QFS_CHAOS_CHUNK
# (mkfs --chunk-size, default 64K), QFS_CHAOS_DAEMONS (default "a b c"; with
# more than 3 daemons keys are placed on 3 of them). `make chaos` runs it
# for 300 s with a random seed (CHAOS_DAEMONS="a b c d" for 4 daemons:
# that fails today, a daemon that holds no superblock replica counts as
# rebuilding from mkfs on). To reproduce a failure, run it
# again with the seed it printed: the workload's operations depend only on
# the seed (the faults' order too, their timing does not).
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
SECS=${QFS_CHAOS_SECONDS:-50}
case $SECS in '' | *[!0-9]*) echo "fs_chaos: bad QFS_CHAOS_SECONDS '$SECS'" >&2; exit 2 ;; esac
# the watchdog's budget: the workload plus setup and the checks
export QFS_IT_BUDGET=${QFS_IT_BUDGET:-$((SECS + 180))}
. "$(dirname "$0")/lib.sh"
it_init fs_chaos
CW=${1:-$QFS_BIN/../tests/chaos_work}
RCHK=${2:-$QFS_BIN/../tests/replica_check}
for b in "$CW" "$RCHK" "$QFS_BIN/fsck.quorumfs"; do
	[ -x "$b" ] || it_skip "$b is not built"
done
command -v jq >/dev/null 2>&1 || it_skip "no jq"

SEED=${QFS_CHAOS_SEED:-20240604}
[ "$SEED" = random ] && SEED=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
case $SEED in '' | *[!0-9]*) it_fail "bad QFS_CHAOS_SEED '$SEED'" ;; esac
CHUNK=${QFS_CHAOS_CHUNK:-64K}
case $CHUNK in
*K) CHUNK_B=$((${CHUNK%K} * 1024)) ;;
*M) CHUNK_B=$((${CHUNK%M} * 1024 * 1024)) ;;
*) CHUNK_B=$CHUNK ;;
esac
NAMES=${QFS_CHAOS_DAEMONS:-a b c}
TMO=1000
it_log "seed $SEED (rerun: QFS_CHAOS_SEED=$SEED), ${SECS} s of workload, chunk $CHUNK, daemons $NAMES"

# ---- the cluster, each daemon in a network namespace when possible ----
NETNS=1
command -v ip >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1 || NETNS=0
if [ "$NETNS" = 1 ]; then
	i=1
	for d in $NAMES; do
		if ! it_net_daemon "$d" "$i"; then
			NETNS=0
			break
		fi
		i=$((i + 1))
	done
fi
if [ "$NETNS" = 1 ]; then
	# shellcheck disable=SC2086
	it_cluster_write_config $NAMES
	for d in $NAMES; do
		it_daemon_start "$d"
	done
	it_log "cluster up in namespaces:$IT_NETS"
	KINDS="kill stop partition"
else
	it_net_cleanup
	IT_DAEMONS=""
	IT_DWRAP=()
	it_log "network namespaces cannot be made here: the partition fault is skipped"
	# shellcheck disable=SC2086
	it_cluster_start $NAMES
	KINDS="kill stop"
fi
it_mkfs --chunk-size "$CHUNK"
M=$IT_MNT
MODEL=$IT_WORK/model
mkdir -p "$MODEL"
# in the foreground: the fault loop reads the mount's log (see settle)
QFS_IT_FOREGROUND=1 it_mount "$M" -o timeout_ms=$TMO

# ---- the workload in the background, the faults here ----
# (the fault loop must run in this shell: it restarts daemons, and the EXIT
# trap stops them by the pids recorded here)
DRV=""
chaos_exit() {
	local rc=$?
	trap - ERR
	set +e
	if [ -n "$DRV" ]; then
		kill -KILL "$DRV" 2>/dev/null
		wait "$DRV" 2>/dev/null
	fi
	(exit "$rc")
	it_cleanup
}
trap chaos_exit EXIT

# shellcheck disable=SC2206 # word lists of plain names
daemons=($NAMES)
# shellcheck disable=SC2206
kinds=($KINDS)
declare -A NF=([kill]=0 [stop]=0 [partition]=0)
IMPAIRED_MS=0

# pause TENTHS: sleep, but return early once the workload has ended
pause() {
	local i
	for ((i = 0; i < $1; i++)); do
		kill -0 "$DRV" 2>/dev/null || return 0
		sleep 0.1
	done
}

impair() {
	case $1 in
	kill) it_daemon_kill "$2" ;;
	stop) it_daemon_pause "$2" ;;
	partition) it_net_cut "$2" ;;
	esac
}

restore() {
	case $1 in
	kill) it_daemon_start "$2" ;;
	stop) it_daemon_resume "$2" ;;
	partition) it_net_heal "$2" ;;
	esac
}

# settle NAME: after NAME was restored, wait until the mount counts it
# again, so that the next fault never makes two impaired from the mount's
# point of view: requests sent while it was impaired get their timeout
# (timeout_ms + 0.2 s) to mark it suspect; then, while the mount's log says
# it is suspect, wait for "answers again" (a healed link can take seconds:
# TCP retransmits with backoff). 15 s bound, else the test fails.
MLOG=$IT_WORK/mount-$(basename "$M").log
SETTLE_MS=0
settle() {
	local name=$1 i=0 last t0
	pause $((TMO / 100 + 2))
	t0=$(it_now_ms)
	while kill -0 "$DRV" 2>/dev/null; do
		last=$(grep -E "daemon $name (is suspect|answers again)" "$MLOG" | tail -n 1) || true
		case $last in *"is suspect"*) ;; *) break ;; esac
		if [ "$i" -ge 150 ]; then
			it_fail_soft "the mount did not count $name again within 15 s of its restore"
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	SETTLE_MS=$((SETTLE_MS + $(it_now_ms) - t0))
}

RANDOM=$SEED
FLOG=$IT_WORK/faults.log
T0=$(it_now_ms)
"$CW" run "$M" "$MODEL" "$SEED" "$SECS" "$CHUNK_B" >"$IT_WORK/work.out" 2>"$IT_WORK/work.err" &
DRV=$!
while kill -0 "$DRV" 2>/dev/null; do
	pause $((5 + RANDOM % 26)) # all healthy for 0.5-3 s
	kill -0 "$DRV" 2>/dev/null || break
	d=${daemons[RANDOM % ${#daemons[@]}]}
	k=${kinds[RANDOM % ${#kinds[@]}]}
	t=$((5 + RANDOM % 26))
	t1=$(it_now_ms)
	echo "$(((t1 - T0) / 1000)).$(((t1 - T0) % 1000 / 100)) s: $k $d for ${t}00 ms" >>"$FLOG"
	impair "$k" "$d"
	NF[$k]=$((NF[$k] + 1))
	pause "$t"
	restore "$k" "$d"
	IMPAIRED_MS=$((IMPAIRED_MS + $(it_now_ms) - t1))
	settle "$d"
done
WRC=0
wait "$DRV" || WRC=$?
DRV=""
DUR_MS=$(($(it_now_ms) - T0))
nf=$((NF[kill] + NF[stop] + NF[partition]))
it_log "workload ended after $((DUR_MS / 1000)).$((DUR_MS % 1000 / 100)) s (exit $WRC)"
sed 's/^/    /' "$IT_WORK/work.out"
it_log "faults: $nf (kill+restart ${NF[kill]}, stop/cont ${NF[stop]}, partition ${NF[partition]}$([ "$NETNS" = 1 ] || echo ': skipped, no namespaces')), one daemon impaired $((IMPAIRED_MS / 1000)) s of $((DUR_MS / 1000)) s, waits for the mount to count it again $((SETTLE_MS / 1000)).$((SETTLE_MS % 1000 / 100)) s in all"
if [ "$WRC" -ne 0 ]; then
	it_log "--- the fault log:"
	tail -n 8 "$FLOG"
	it_fail_soft "the workload failed (seed $SEED): $(cat "$IT_WORK/work.err")"
fi
[ "$nf" -gt 0 ] || it_fail_soft "the fault loop injected no fault"
slow=$(sed -n 's/^slowest: \([0-9]*\) ms.*/\1/p' "$IT_WORK/work.out")
[ -z "$slow" ] || [ "$slow" -lt 10000 ] ||
	it_fail_soft "an operation took $slow ms with at most one daemon impaired (a hang?)"

# verify_all WHAT: the mount equals the model (chaos_work verify, diff -r,
# find's nlink and size of every file).
verify_all() {
	local out rc=0
	out=$(tmo 120 "$CW" verify "$M" "$MODEL" 2>&1) || rc=$?
	if [ "$rc" -eq 0 ]; then
		it_log "ok: $1: $out"
	else
		it_fail_soft "$1: the mount differs from the model: $out"
	fi
	if out=$(tmo 120 diff -r "$MODEL" "$M" 2>&1); then
		it_log "ok: $1: diff -r finds no difference"
	else
		it_fail_soft "$1: diff -r: $(printf '%s' "$out" | head -n 20)"
	fi
	(cd "$MODEL" && find . -type f -printf '%p %n %s\n' | sort) >"$IT_WORK/find.model"
	(cd "$M" && tmo 60 find . -type f -printf '%p %n %s\n' | sort) >"$IT_WORK/find.mnt" || true
	if out=$(diff "$IT_WORK/find.model" "$IT_WORK/find.mnt"); then
		it_log "ok: $1: nlink and size of $(wc -l <"$IT_WORK/find.model") file names agree"
	else
		it_fail_soft "$1: nlink/size differ (model <, mount >): $(printf '%s' "$out" | head -n 20)"
	fi
}

# umount_check MNT: it_umount_check, and when the server has not exited 5 s
# after the unmount, its threads' stacks go to the log first (gdb).
umount_check() {
	local mnt=$1 pid=${IT_MPID[$1]:-}
	if [ -n "$pid" ] && tmo 20 fusermount3 -u "$mnt" 2>/dev/null &&
		! _it_wait_gone "$pid" 50 && command -v gdb >/dev/null 2>&1; then
		it_log "quorumfs $pid still runs 5 s after unmounting $mnt: its stacks"
		tmo 30 gdb -p "$pid" -batch -ex 'thread apply all bt' 2>&1 |
			grep -E '^(Thread|#)' | head -n 120 || true
	fi
	it_umount_check "$mnt"
}

# soft_eq WHAT EXPECTED GOT: it_check_eq that lets the script go on.
soft_eq() {
	if [ "$2" = "$3" ]; then
		it_log "ok: $1"
	else
		it_fail_soft "$1: expected '$2', got '$3'"
	fi
}

# ---- 1. the live mount (it served the whole run) ----
sleep 1.5 # the mount re-admits the last restored daemon (probes every 500 ms)
verify_all "live mount"
umount_check "$M"

# ---- 2. a fresh mount: reads come from the daemons ----
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
it_mount "$M" -o timeout_ms=$TMO
verify_all "fresh mount"
umount_check "$M"

# ---- 3. the replicas ----
# fsck leaves records younger than 5 s alone (NS_SETTLE_MS): let the last
# writes settle, so that -y repairs everything and -n then finds nothing.
sleep 6
out=$(tmo 60 "$RCHK" "$IT_CONF" 2>&1) || true
it_log "before fsck: $(printf '%s\n' "$out" | tail -n 1)"
FRC=0
FOUT=$(tmo 120 "$QFS_BIN/fsck.quorumfs" --no-progress -y --json "$IT_CONF" 2>"$IT_WORK/fsck.err") || FRC=$?
it_log "fsck -y: exit $FRC: $(jq -c '{keys, missing, stale, corrupt, repaired, failed,
	ns_found: .namespace.found, ns_fixed: .namespace.fixed, ns_busy: .namespace.busy}' \
	<<<"$FOUT" 2>/dev/null || head -c 500 "$IT_WORK/fsck.err")"
case $FRC in
0 | 1) it_log "ok: fsck -y exits 0 or 1" ;;
*) it_fail_soft "fsck -y: exit $FRC: $(head -c 1000 "$IT_WORK/fsck.err") $FOUT" ;;
esac
# Truncate is O(1): chunks past the cut stay until fsck collects them
# (chunks_past_eof), and unlinked files' chunks may too (chunks_orphaned).
# Every operation completed, so no name, LINK or directory may be wrong.
it_log "fsck -y: namespace findings: $(jq -c '.namespace | with_entries(select(.value != 0))' <<<"$FOUT")"
soft_eq "fsck -y: no broken name, LINK or directory (every operation completed)" 0 \
	"$(jq '.namespace | .dangling + .dead_dir_entries + .missing_links + .stray_links +
		.extra_dir_names + .lost_found + .cycles + .bad_records' <<<"$FOUT")"
FRC=0
FOUT=$(tmo 120 "$QFS_BIN/fsck.quorumfs" --no-progress -n --json "$IT_CONF" 2>"$IT_WORK/fsck.err") || FRC=$?
[ "$FRC" -eq 0 ] || it_fail_soft "fsck -n after -y: exit $FRC: $(head -c 1000 "$IT_WORK/fsck.err") $FOUT"
soft_eq "fsck -n: missing, stale, corrupt" "0 0 0" \
	"$(jq -r '"\(.missing) \(.stale) \(.corrupt)"' <<<"$FOUT")"
it_log "fsck -n: exit $FRC, $(jq -r '"\(.keys) keys, \(.replicas_checked) replicas"' <<<"$FOUT")"
out=$(tmo 60 "$RCHK" "$IT_CONF" 2>&1) && rc=0 || rc=$?
if [ "$rc" -eq 0 ]; then
	it_log "ok: after fsck: $(printf '%s\n' "$out" | tail -n 1)"
else
	it_fail_soft "replica_check after fsck -y (exit $rc): $(printf '%s' "$out" | head -n 25)"
fi

# ---- 4. fsck changed nothing visible ----
it_mount "$M" -o timeout_ms=$TMO
verify_all "after fsck"
umount_check "$M"
it_log "seed $SEED: $(sed -n 's/^chaos_work: seed [0-9]*: //p' "$IT_WORK/work.out"); $nf faults"
it_done
