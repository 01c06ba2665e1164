#!/bin/bash
# SPDX-License-Identifier: MIT
# fs_fsck_digest.sh - fsck.quorumfs skips the DIGEST buckets that agree.
#
#   1. 20,000 small records are written through the quorum (fsckgen, $1);
#      once settled, fsck -n reads no key at all (every bucket agrees) and
#      its replica pass is faster than fsck -n --full, which reads them all;
#   2. one existing key gets a newer version on a and b only (stale on c)
#      and one new key (a chunk of an existing file that was left out in
#      step 1) lands on a and b only (missing on c): fsck -n still
#      finds both (exit 4) reading only the keys of the differing buckets,
#      fsck -y repairs both (exit 1), fsck -n then exits 0 reading no key.
# shellcheck disable=SC2119 # helpers with optional arguments, called without
set -eu
. "$(dirname "$0")/lib.sh"
it_init fs_fsck_digest
GEN=${1:?usage: fs_fsck_digest.sh PATH_TO_fsckgen}
[ -x "$QFS_BIN/fsck.quorumfs" ] || it_skip "$QFS_BIN/fsck.quorumfs is not built"
[ -x "$GEN" ] || it_skip "$GEN is not built"
export QFS_IT_BUDGET=${QFS_IT_BUDGET:-250}
it_cluster_start a b c
it_mkfs
N=20000

FRC=0
FOUT=""
IT_FSCK_ARGS=--json
fsck_note() { echo "keys $(jval keys), replica pass $(jval replica_ms) ms"; }

# ---- 1. a healthy cluster: no key read ----
t0=$(it_now_ms)
# every record but chunk 100 (chunk(1000006,4)), left for step 2
tmo 30 "$GEN" "$IT_CONF" 0 100 || it_fail "fsckgen could not write records 0..99"
tmo 200 "$GEN" "$IT_CONF" 101 $((N - 101)) || it_fail "fsckgen could not write $N records"
it_log "wrote $N records in $(($(it_now_ms) - t0)) ms"
# the third replica's writes may still be landing: allow 10 s to settle
for i in $(seq 1 50); do
	fsck -n
	[ "$FRC" = 0 ] && [ "$(jval keys)" = 0 ] && break
	sleep 0.2
done
it_check_eq "fsck -n on a healthy cluster exits 0" 0 "$FRC"
it_check_eq "fsck -n reads no key when every bucket agrees" 0 "$(jval keys)"
fast=$(jval replica_ms)
it_check_eq "digests were used" 1 "$(printf '%s\n' "$FOUT" | grep -c '"used": true')"
fsck_expect 0 -n --full
full=$(jval replica_ms)
keys=$(jval keys)
[ "$keys" -ge $((N - 1)) ] || it_fail "fsck --full read $keys keys, expected at least $N"
it_log "replica pass: ${fast} ms with digests (0 keys), ${full} ms with --full ($keys keys)"
[ "$fast" -lt "$full" ] || it_fail "the digest pass ($fast ms) is not faster than --full ($full ms)"

# ---- 2. one stale and one missing replica on c ----
tmo 30 "$GEN" "$IT_CONF" 5 1 a b || it_fail "fsckgen: newer key 5 on a b"
tmo 30 "$GEN" "$IT_CONF" 100 1 a b || it_fail "fsckgen: new key on a b"
fsck_expect 4 -n
it_check_eq "stale replicas found" 1 "$(jval stale)"
it_check_eq "missing replicas found" 1 "$(jval missing)"
keys=$(jval keys)
[ "$keys" -ge 2 ] && [ "$keys" -lt 200 ] || it_fail "fsck -n read $keys keys, expected only the two differing buckets' keys"
fsck_expect 1 -y
it_check_eq "both repaired" 2 "$(jval repaired)"
fsck_expect 0 -n
it_check_eq "after the repair no key is read" 0 "$(jval keys)"
it_done
