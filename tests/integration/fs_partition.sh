#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_partition.sh - network partitions between the client and its daemons
# (N=3 W=2 R=2, timeout_ms=1000).
#
# Each chunkd runs in a network namespace of its own (qfsit-PID-NAME),
# joined to the root namespace by a veth pair on a /30 of 10.X.Y.0 private
# to this test; the client stays in the root namespace and dials tcp://
# numeric addresses. A daemon is cut off by setting its end of the veth
# down: packets to it are then dropped silently, like a partition, while
# the process itself keeps running.
#
#   1. one daemon cut off: create, write, read, append, ls, stat, rename,
#      rm all keep working, and no single command takes more than
#      2 x timeout_ms (the worst is printed);
#   2. two cut off: reads and writes fail with EIO within a bound, no hang;
#   3. both links back: work resumes without a remount.
#
# Skips (77) when namespaces cannot be made (not root, no ip(8), no veth).
# The EXIT trap deletes every namespace and veth the test made.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_partition
command -v ip >/dev/null 2>&1 || it_skip "no ip(8) (package iproute2)"
TMO=1000
LIMIT_MS=$((2 * TMO))
command -v nsenter >/dev/null 2>&1 || it_skip "no nsenter(1) (package util-linux)"
i=1
for d in a b c; do
	it_net_daemon "$d" "$i" || it_skip "cannot create a network namespace and veth pair"
	i=$((i + 1))
done
it_cluster_write_config a b c
for d in a b c; do
	it_daemon_start "$d"
	it_check_eq "the recorded pid of $d is chunkd's" chunkd "$(cat "/proc/${IT_DPID[$d]}/comm")"
done
it_log "cluster up in namespaces:$IT_NETS ($IT_NET.{1,2,3}.2)"
it_mkfs
M=$IT_MNT
it_mount "$M" -o timeout_ms=$TMO

# ok_timed WHAT CMD...: it_timed, and CMD must succeed.
ok_timed() {
	it_timed "$@"
	[ "$T_RC" -eq 0 ] || it_fail "$1 failed (exit $T_RC after $T_MS ms): $T_OUT"
}

mkdir "$M/d"
it_make_file "$IT_WORK/big" 2500000 7
cp "$IT_WORK/big" "$M/d/big"
for n in 1 2 3; do echo "file $n" >"$M/d/f$n"; done

# 1. one daemon cut off (each of the three in turn)
for d in a b c; do
	it_net_cut "$d"
	IT_WORST_MS=0
	for round in 1 2 3; do
		ok_timed "create" sh -c "echo new >'$M/d/n-$d-$round'"
		ok_timed "write 300k" dd if="$IT_WORK/big" of="$M/d/w-$d-$round" bs=64k count=5 \
			conv=fsync status=none
		ok_timed "read" cat "$M/d/f$round"
		ok_timed "append" sh -c "echo more >>'$M/d/f$round'"
		ok_timed "ls" ls -l "$M/d"
		ok_timed "stat" stat "$M/d/big"
		ok_timed "rename" mv "$M/d/n-$d-$round" "$M/d/r-$d-$round"
		ok_timed "rm" rm "$M/d/r-$d-$round"
		ok_timed "read big" sha256sum "$M/d/big"
		[ "${T_OUT%% *}" = "$(it_sha "$IT_WORK/big")" ] || it_fail "big reads back wrong with $d cut off"
	done
	it_log "$d cut off: worst command ${IT_WORST_MS} ms ($IT_WORST_WHAT)"
	it_check "$d cut off: every command under ${LIMIT_MS} ms (worst ${IT_WORST_MS} ms: $IT_WORST_WHAT)" \
		[ "$IT_WORST_MS" -lt "$LIMIT_MS" ]
	it_net_heal "$d"
	sleep 1 # the engine probes a suspect every 500 ms: let it come back
done
it_check_eq "appends with one daemon cut off landed" "file 1 more more more" \
	"$(tr '\n' ' ' <"$M/d/f1" | sed 's/ $//')"

# 2. two cut off: EIO, bounded
it_net_cut b
it_net_cut c
IT_WORST_MS=0
it_timed "create" sh -c "echo x >'$M/d/lost'"
it_check "two cut off: create fails with EIO: $T_OUT" grep -q "Input/output error" <<<"$T_OUT"
it_timed "read" cat "$M/d/f2"
it_check "two cut off: read fails with EIO: $T_OUT" grep -q "Input/output error" <<<"$T_OUT"
it_timed "ls" ls "$M/d"
it_check "two cut off: ls fails with EIO: $T_OUT" grep -q "Input/output error" <<<"$T_OUT"
it_log "two cut off: worst failing command ${IT_WORST_MS} ms ($IT_WORST_WHAT)"
it_check "two cut off: every failure within 3 x timeout_ms (worst ${IT_WORST_MS} ms)" \
	[ "$IT_WORST_MS" -lt $((3 * TMO)) ]

# 3. links back: no remount needed
it_net_heal b
it_net_heal c
ok=0
t0=$(it_now_ms)
for _ in $(seq 1 50); do
	if echo back >"$M/d/f2" 2>/dev/null; then
		ok=1
		break
	fi
	sleep 0.2
done
it_log "writes resumed $(($(it_now_ms) - t0)) ms after the links came back"
it_check_eq "work resumes without a remount" 1 "$ok"
it_check_eq "f2 reads back" back "$(cat "$M/d/f2")"
it_check_eq "big intact" "$(it_sha "$IT_WORK/big")" "$(it_sha "$M/d/big")"
it_umount_check "$M"
it_done
