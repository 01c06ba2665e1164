#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_posix.sh - mount a cluster and run posix_check (cmocka) against it:
#     fs_posix.sh PATH/TO/posix_check
# posix_check tests errno cases, renameat2 flags, SEEK_DATA/SEEK_HOLE,
# fallocate modes, copy_file_range, O_APPEND, unaligned I/O across chunks,
# utimensat, fsync, local locks, xattrs and unlink-while-open.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_posix
BIN=${1:-${QFS_POSIX_CHECK:-$QFS_BIN/../tests/posix_check}}
[ -x "$BIN" ] || it_skip "posix_check is not built ($BIN)"
it_cluster_start
it_mkfs
it_mount "$IT_MNT"
rc=0
tmo 180 "$BIN" "$IT_MNT" || rc=$?
case $rc in
0) it_log "ok: posix_check passed" ;;
124 | 137) it_fail "posix_check timed out (180 s)" ;;
*) it_fail "posix_check: $rc test(s) failed (see [  FAILED  ] above)" ;;
esac
it_check_eq "posix_check removed its directory" "" "$(ls -A "$IT_MNT")"
it_umount_check "$IT_MNT"
it_done
