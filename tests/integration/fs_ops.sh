#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_ops.sh - what an administrator does: qfs status (table, JSON, exit
# codes, a daemon down, a hung daemon bounded by timeout_ms), qfs layout,
# df on the mount against qfs df and the daemons' free space, quorumfs -f
# logging to stderr, and mounting the ways mount(8) does:
#   mount.fuse3 CONFIG MNT -t fuse.quorumfs -o OPTS   (what mount -t fuse.quorumfs runs)
#   mount.quorumfs CONFIG MNT [-fnv] -o OPTS           (what mount -t quorumfs runs)
# and, in a private mount namespace (unshare -m) where /usr/local/bin,
# /usr/sbin and /etc/fstab are overlaid only for this test, `mount -t
# fuse.quorumfs`, `mount -t quorumfs` and `mount MNT` from fstab lines of
# both types. mount(8) resets PATH for its helpers, so quorumfs is put on the
# standard PATH that way; the real system files are never changed.
# shellcheck disable=SC2119 # optional helper arguments
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_ops
command -v jq >/dev/null 2>&1 || it_skip "no jq (package jq)"
[ -x "$QFS_BIN/qfs" ] || it_skip "$QFS_BIN/qfs is not built"
it_cluster_start
it_mkfs
Q=$QFS_BIN/qfs
HELPER=${QFS_SRC:?}/mount-tools/mount.quorumfs

# ---- qfs status ----
out=$(tmo 30 "$Q" status "$IT_CONF") || it_fail "qfs status on a healthy cluster: exit $?: $out"
it_log "qfs status:"
printf '%s\n' "$out"
it_check_eq "status table: 3 daemons up" 3 "$(printf '%s\n' "$out" | grep -c ' up ')"
json=$(tmo 30 "$Q" status "$IT_CONF" --json)
it_check_eq "json: 3 daemons" 3 "$(jq '.daemons | length' <<<"$json")"
it_check_eq "json: all reachable" true "$(jq '[.daemons[].reachable] | all' <<<"$json")"
it_check_eq "json: names" "a b c" "$(jq -r '[.daemons[].name] | join(" ")' <<<"$json")"
it_check_eq "json: latency, sizes, counts are numbers" true \
	"$(jq '[.daemons[] | (.latency_ms, .used_bytes, .free_bytes, .records, .corrupt, .uptime_s, .protocol) | type == "number"] | all' <<<"$json")"
it_check_eq "json: records after mkfs (superblock + root)" true \
	"$(jq '[.daemons[].records >= 2] | all' <<<"$json")"
it_check_eq "json: cluster N W R" "3 2 2" "$(jq -r '.cluster | "\(.n) \(.w) \(.r)"' <<<"$json")"
it_check_eq "json: write and read quorum everywhere" "true true" \
	"$(jq -r '.cluster | "\(.write_quorum_everywhere) \(.read_quorum_everywhere)"' <<<"$json")"

it_daemon_stop c
rc=0
json=$(tmo 30 "$Q" status "$IT_CONF" --json) || rc=$?
it_check_eq "one daemon down of N=3 W=2: exit 0" 0 "$rc"
it_check_eq "json: c unreachable, with a reason" "false true" \
	"$(jq -r '.daemons[2] | "\(.reachable) \(.error | test("chunkd"))"' <<<"$json")"
it_check_eq "json: c has null sizes" null "$(jq -r '.daemons[2].used_bytes' <<<"$json")"
it_check_eq "json: still a write quorum everywhere" true "$(jq '.cluster.write_quorum_everywhere' <<<"$json")"
it_daemon_stop b
rc=0
json=$(tmo 30 "$Q" status "$IT_CONF" --json) || rc=$?
it_check_eq "two daemons down: exit 1" 1 "$rc"
it_check_eq "json: no write quorum, no read quorum" "false false" \
	"$(jq -r '.cluster | "\(.write_quorum_everywhere) \(.read_quorum_everywhere)"' <<<"$json")"
it_daemon_start b
it_daemon_start c

# a hung daemon (SIGSTOP: connects, never answers) costs timeout_ms, not more
it_daemon_pause b
t0=$(date +%s%N)
rc=0
out=$(tmo 30 "$Q" status "$IT_CONF") || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
it_daemon_resume b
it_check_eq "hung daemon: exit 0 (a and c are a write quorum)" 0 "$rc"
case $out in
*"b: no answer within"*) it_log "ok: hung daemon reported as not answering" ;;
*) it_fail "hung daemon b not reported: $out" ;;
esac
[ "$ms" -lt $((${QFS_IT_TIMEOUT_MS:-1000} + 1500)) ] ||
	it_fail "qfs status took $ms ms with a hung daemon (timeout_ms ${QFS_IT_TIMEOUT_MS:-1000})"
it_log "ok: status with a hung daemon took $ms ms"

# usage and config errors
rc=0
tmo 10 "$Q" status >/dev/null 2>&1 || rc=$?
it_check_eq "qfs status without CONFIG: exit 2" 2 "$rc"
rc=0
tmo 10 "$Q" status "$IT_WORK/absent.conf" >/dev/null 2>&1 || rc=$?
it_check_eq "qfs status with a missing config: exit 2" 2 "$rc"

# ---- qfs layout ----
out=$(tmo 30 "$Q" layout "$IT_CONF")
printf '%s\n' "$out"
it_check_eq "layout: 256 points per daemon" 3 "$(printf '%s\n' "$out" | awk '$1 ~ /^[abc]$/ && $6 == 256' | wc -l)"
sum=$(printf '%s\n' "$out" | awk '$1 ~ /^[abc]$/ { s += $7 } END { printf "%.0f", s }')
it_check_eq "layout: ring shares add up to 100%" 100 "$sum"

# ---- df on the mount, qfs df, the daemons' free space ----
it_mount "$IT_MNT"
dd if=/dev/urandom of="$IT_MNT/eight" bs=1M count=8 status=none
it_check "qfs sync" tmo 30 "$Q" sync "$IT_CONF"
avail_df=$(df -B1 --output=avail "$IT_MNT" | tail -n 1 | tr -d ' ')
avail_qfs=$(tmo 30 "$Q" df "$IT_CONF" | awk '/usable/ { print $4 }')
used_qfs=$(tmo 30 "$Q" df "$IT_CONF" | awk '/usable/ { print $3 }')
# all three daemons keep their data in $IT_WORK: one filesystem, counted once
fs_free=$(stat -f -c '%a %S' "$IT_WORK" | awk '{ printf "%.0f", $1 * $2 }')
it_log "df avail $avail_df, qfs df avail $avail_qfs used $used_qfs, data filesystem free $fs_free (N=3)"
within() { awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= b * p / 100 + 65536) }'; }
within "$avail_df" "$avail_qfs" 1 || it_fail "df on the mount ($avail_df) and qfs df ($avail_qfs) differ"
within "$avail_qfs" "$((fs_free / 3))" 2 ||
	it_fail "qfs df avail $avail_qfs is not the free space of the one shared filesystem / N ($((fs_free / 3)))"
it_log "ok: df = qfs df = free space / N, shared filesystem counted once"
if [ "$used_qfs" -lt $((8 << 20)) ] || [ "$used_qfs" -ge $((12 << 20)) ]; then
	it_fail "qfs df used $used_qfs after writing 8 MiB: expected the stores' bytes / N (8..12 MiB)"
fi
it_log "ok: qfs df used counts every store once, divided by N"
it_umount_check "$IT_MNT"

# ---- quorumfs -f logs to stderr; the background mode prints nothing ----
QFS_IT_FOREGROUND=1 it_mount "$IT_WORK/fg"
grep -q "mounted $IT_CONF on $IT_WORK/fg" "$IT_WORK/mount-fg.log" ||
	it_fail "quorumfs -f did not log 'mounted ...' to stderr: $(cat "$IT_WORK/mount-fg.log")"
it_log "ok: quorumfs -f logs to stderr"
it_umount_check "$IT_WORK/fg"
it_mount "$IT_WORK/bg"
it_check_eq "background quorumfs prints nothing (logs go to syslog)" "" "$(cat "$IT_WORK/mount-bg.log")"
it_umount_check "$IT_WORK/bg"

# ---- the mount helpers, called as mount(8) calls them ----
# quorumfs on PATH as a wrapper (a symlink would show as "quorumfs" in ps,
# and lib.sh finds servers by "$QFS_BIN/quorumfs" on their command line)
PB=$IT_WORK/pathbin
mkdir -p "$PB"
printf '#!/bin/sh\nexec "%s/quorumfs" "$@"\n' "$QFS_BIN" >"$PB/quorumfs"
chmod +x "$PB/quorumfs"

# _ops_mounted MNT: grep the mount table for MNT as fuse.quorumfs
_ops_mounted() { grep -q " $1 fuse.quorumfs " /proc/self/mounts; }

# ops_register MNT: let lib.sh unmount MNT and stop its server on exit
ops_register() {
	IT_MOUNTS="$IT_MOUNTS $1"
	IT_MPID[$1]=$(_it_find_server "$1")
}

M=$IT_WORK/m-fuse3
mkdir -p "$M"
rc=0
out=$(PATH=$PB:$PATH tmo 60 mount.fuse3 "$IT_CONF" "$M" -t fuse.quorumfs -o _netdev,noatime,nofail 2>&1) || rc=$?
_ops_mounted "$M" && ops_register "$M"
it_check_eq "mount.fuse3 CONFIG MNT -t fuse.quorumfs: exit 0 ($out)" 0 "$rc"
_ops_mounted "$M" || it_fail "mount.fuse3 returned 0 but $M is not mounted"
echo fuse3 >"$M/via-fuse3"
it_check_eq "file written through the mount.fuse3 mount" fuse3 "$(cat "$M/via-fuse3")"
it_check "umount (mount(8)'s, not fusermount3)" tmo 30 umount "$M"
pid=${IT_MPID[$M]:-}
if [ -n "$pid" ] && ! _it_wait_gone "$pid" 100; then
	it_fail "quorumfs server $pid did not exit after umount $M"
fi
it_umount "$M" || true

M=$IT_WORK/m-helper
mkdir -p "$M"
out=$(PATH=$PB:$PATH tmo 30 "$HELPER" "$IT_CONF" "$M" -fv -o noatime)
_ops_mounted "$M" && { ops_register "$M"; it_fail "mount.quorumfs -f mounted something"; }
case $out in
*"quorumfs $IT_CONF $M -o noatime"*) it_log "ok: mount.quorumfs -f -v shows the command, mounts nothing" ;;
*) it_fail "mount.quorumfs -fv printed: $out" ;;
esac
rc=0
out=$(PATH=$PB:$PATH tmo 60 "$HELPER" "$IT_CONF" "$M" -n -o rw,noatime,_netdev 2>&1) || rc=$?
_ops_mounted "$M" && ops_register "$M"
it_check_eq "mount.quorumfs CONFIG MNT -n -o rw,noatime,_netdev: exit 0 ($out)" 0 "$rc"
it_check_eq "the helper's mount sees the mount.fuse3 file" fuse3 "$(cat "$M/via-fuse3")"
it_check "umount the helper's mount" tmo 30 umount "$M"
it_umount "$M" || true
rc=0
out=$(PATH=$PB:$PATH tmo 60 "$HELPER" "$IT_CONF" "$M" -r 2>&1) || rc=$?
_ops_mounted "$M" && ops_register "$M"
it_check_eq "mount.quorumfs -r: exit 0 ($out)" 0 "$rc"
it_check_fails "write to the -r mount" "Read-only file system" sh -c "echo x >'$M/ro-file'"
it_umount_check "$M"
rc=0
out=$(PATH=$PB:$PATH tmo 60 "$HELPER" "$IT_CONF" "$M" -o bogus_option 2>&1) || rc=$?
_ops_mounted "$M" && { ops_register "$M"; it_fail "a bogus option mounted"; }
it_check_eq "mount.quorumfs with an unknown option: exit 1 (usage)" 1 "$rc"
case $out in *"unknown mount option 'bogus_option'"*) it_log "ok: the bad option is named" ;;
*) it_fail "bad option not named: $out" ;; esac
rc=0
out=$(PATH=$PB:$PATH tmo 60 "$HELPER" "$IT_WORK/absent.conf" "$M" 2>&1) || rc=$?
it_check_eq "mount.quorumfs with a missing config: exit 32 (mount failure)" 32 "$rc"

# ---- mount(8) itself, fstab included, in a private mount namespace ----
if ! command -v unshare >/dev/null 2>&1 ||
	! tmo 20 unshare -m --propagation private true 2>/dev/null; then
	it_log "SKIPPED mount(8) and fstab: cannot make a private mount namespace here"
	it_done
	exit 0
fi
SX=$IT_WORK/sbin-extra
mkdir -p "$SX" "$IT_WORK/n1" "$IT_WORK/n2" "$IT_WORK/n3" "$IT_WORK/n4"
cp "$HELPER" "$SX/mount.quorumfs"
{
	echo "$IT_CONF $IT_WORK/n3 fuse.quorumfs _netdev,defaults 0 0"
	echo "$IT_CONF $IT_WORK/n4 quorumfs _netdev,noatime 0 0"
} >"$IT_WORK/fstab"
# The script runs inside the namespace. Everything it mounts disappears with
# the namespace; its EXIT trap unmounts first so the servers exit, and it
# records their pids so that the outer cleanup can kill a straggler.
cat >"$IT_WORK/ns.sh" <<'EOS'
set -u
W=$1 CONF=$2
mounted() { grep -q " $1 fuse.quorumfs " /proc/self/mounts; }
cleanup() {
	for m in "$W"/n1 "$W"/n2 "$W"/n3 "$W"/n4; do
		mounted "$m" && { umount "$m" 2>/dev/null || umount -l "$m"; }
	done
}
trap cleanup EXIT
check() { # WHAT CMD...
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then echo "ok: $what"; else echo "FAIL: $what: $out"; fi
}
server_of() {
	local p
	for p in /proc/[0-9]*; do
		{ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "quorumfs $CONF $1 " && echo "${p#/proc/}"
	done
}
mount -t overlay overlay -o "lowerdir=$W/pathbin:/usr/local/bin" /usr/local/bin || exit 3
mount -t overlay overlay -o "lowerdir=$W/sbin-extra:/usr/sbin" /usr/sbin || exit 3
mount --bind "$W/fstab" /etc/fstab || exit 3
try() { # MNT WHAT MOUNT-ARGS...
	local m=$1 what=$2
	shift 2
	check "$what" timeout -k 5 60 "$@"
	server_of "$m" >>"$W/ns-pids"
	check "$what: mounted as fuse.quorumfs" mounted "$m"
	check "$what: reads the volume" grep -qx fuse3 "$m/via-fuse3"
	check "$what: umount" timeout -k 5 30 umount "$m"
	if mounted "$m"; then echo "FAIL: $what: still mounted after umount"; fi
}
try "$W/n1" "mount -t fuse.quorumfs" mount -t fuse.quorumfs "$CONF" "$W/n1" -o noatime,_netdev
try "$W/n2" "mount -t quorumfs" mount -t quorumfs "$CONF" "$W/n2" -o noatime,_netdev
try "$W/n3" "fstab fuse.quorumfs line + mount MNT" mount "$W/n3"
try "$W/n4" "fstab quorumfs line + mount MNT" mount "$W/n4"
EOS
rc=0
out=$(tmo 200 unshare -m --propagation private bash "$IT_WORK/ns.sh" "$IT_WORK" "$IT_CONF" 2>&1) || rc=$?
touch "$IT_WORK/ns-pids"
while read -r pid; do
	[ -n "$pid" ] || continue
	_it_wait_gone "$pid" 100 && continue
	kill -KILL "$pid" 2>/dev/null || true
	it_fail_soft "server $pid outlived its namespace's umount"
done <"$IT_WORK/ns-pids"
if [ "$rc" -eq 3 ]; then
	it_log "SKIPPED mount(8) and fstab: no overlayfs or bind mounts in a namespace here: $out"
else
	printf '%s\n' "$out" | sed "s/^/[fs_ops] ns: /"
	it_check_eq "namespace script exit" 0 "$rc"
	it_check_eq "mount(8) checks that failed" 0 "$(printf '%s\n' "$out" | grep -c '^FAIL' || true)"
	it_check_eq "mount(8) checks that passed" 16 "$(printf '%s\n' "$out" | grep -c '^ok' || true)"
fi
it_done
