#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_handoff.sh - hinted handoff (-o hinted_handoff, docs/consistency.md):
# writes that cannot reach W among a key's N replicas go to fallback
# daemons, and the repairer hands the copies back once the owners return.
#
#   1. 4 daemons, N=3 W=2 R=2; mount H with -o hinted_handoff, mount P
#      without; files are created on both, and opened for writing, while
#      every daemon is up (open and lookup are quorum reads, which this
#      option does not help);
#   2. c and d are SIGSTOPped; once the mounts mark them suspect, the open
#      files are written and closed: on H every close succeeds; on P at
#      least one fails with EIO (a key with c and d among its replicas has
#      one replica left), so the option is what made H's writes succeed;
#   3. SIGCONT; within HANDOFF_BOUND s the repairers hand off: a full
#      fsck.quorumfs -n exits 0 and reports no misplaced copy, and every
#      file written on H reads back identical through H.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_handoff
[ -x "$QFS_BIN/fsck.quorumfs" ] || it_skip "$QFS_BIN/fsck.quorumfs is not built"
command -v python3 >/dev/null 2>&1 || it_skip "no python3"
HANDOFF_BOUND=15
NFILES=8
it_cluster_start a b c d
it_mkfs
H=$IT_WORK/ho
P=$IT_WORK/plain
HLOG=$IT_WORK/ho-mount.log
PLOG=$IT_WORK/plain-mount.log

FRC=0
FOUT=""

for i in $(seq 1 "$NFILES"); do
	it_make_file "$IT_WORK/data$i" $((64 * 1024 + i * 977)) "$i"
done

it_mount "$H" -o "hinted_handoff,timeout_ms=1000,log_file=$HLOG"
it_mount "$P" -o "timeout_ms=1000,log_file=$PLOG"
mkdir "$H/h" "$P/p"
for i in $(seq 1 "$NFILES"); do
	: >"$H/h/f$i"
	: >"$P/p/f$i"
done

# The writer opens every file now, writes and closes each once told to,
# and prints one line per file: 0 or the errno of write/close.
cat >"$IT_WORK/w.py" <<'PY'
import os, sys, time
d, prefix, src, ready, go, n = sys.argv[1:7]
fds = [os.open("%s/f%d" % (d, i), os.O_WRONLY) for i in range(1, int(n) + 1)]
open(ready, "w").write("open\n")
while not os.path.exists(go):
    time.sleep(0.05)
for i, fd in enumerate(fds, 1):
    err = 0
    try:
        os.write(fd, open("%s%d" % (src, i), "rb").read())
    except OSError as e:
        err = e.errno
    try:
        os.close(fd)
    except OSError as e:
        err = err or e.errno
    print("f%d %d" % (i, err), flush=True)
PY
wpids=""
for m in h p; do
	[ "$m" = h ] && dir=$H/h || dir=$P/p
	python3 "$IT_WORK/w.py" "$dir" x "$IT_WORK/data" "$IT_WORK/ready-$m" "$IT_WORK/go" \
		"$NFILES" >"$IT_WORK/w-$m.out" 2>&1 &
	wpids="$wpids $!"
done
for m in h p; do
	for _ in $(seq 1 300); do [ -e "$IT_WORK/ready-$m" ] && break; sleep 0.1; done
	[ -e "$IT_WORK/ready-$m" ] || it_fail "writer $m did not open its files: $(cat "$IT_WORK/w-$m.out")"
done

# ---- 2. two of four daemons down ----
it_daemon_pause c
it_daemon_pause d
it_log "c and d paused (SIGSTOP)"
sleep 2.5 # heartbeats time out: both mounts mark c and d suspect
touch "$IT_WORK/go"
for p in $wpids; do wait "$p" || true; done
hres=$(cat "$IT_WORK/w-h.out")
pres=$(cat "$IT_WORK/w-p.out")
it_log "with hinted_handoff: $(printf '%s' "$hres" | tr '\n' ' ')"
it_log "without: $(printf '%s' "$pres" | tr '\n' ' ')"
[ "$(printf '%s\n' "$hres" | grep -c ' 0$')" = "$NFILES" ] ||
	it_fail "a write failed with hinted_handoff: $hres"
printf '%s\n' "$pres" | grep -q ' 5$' ||
	it_fail "no write failed with EIO without hinted_handoff (the option made no difference): $pres"
sleep 0.5 # the pending-repair reports go out
it_daemon_resume c
it_daemon_resume d
it_log "c and d resumed (SIGCONT)"
t0=$(it_now_ms)

# ---- 3. handed off ----
handed=0
while [ $(($(it_now_ms) - t0)) -lt $((HANDOFF_BOUND * 1000)) ]; do
	fsck -n --full --json
	if [ "$FRC" = 0 ] && [ "$(jval misplaced)" = 0 ]; then
		handed=$(($(it_now_ms) - t0))
		break
	fi
	sleep 0.5
done
if [ "$handed" = 0 ]; then
	fsck -n --full
	it_fail "not handed off within $HANDOFF_BOUND s of SIGCONT: fsck -n --full: exit $FRC: $(printf '%s' "$FOUT" | tail -n 30)
mounts: $(grep -h 'background repair\|hand-off' "$HLOG" "$PLOG" | tail -n 20)"
fi
it_log "HANDOFF: fsck -n --full clean, nothing misplaced, $handed ms after SIGCONT"
# either mount's repairer may have done it
grep -q "background repair: .* [1-9][0-9]* handed off" "$HLOG" "$PLOG" ||
	it_fail "no mount logged a hand-off: $(grep -h 'background repair' "$HLOG" "$PLOG" || tail -n 20 "$HLOG")"
for i in $(seq 1 "$NFILES"); do
	it_check_eq "h/f$i reads back" "$(it_sha "$IT_WORK/data$i")" "$(it_sha "$H/h/f$i")"
done
it_umount_check "$P"
it_umount_check "$H"
it_done
