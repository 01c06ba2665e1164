// SPDX-License-Identifier: MIT
/*
 * fsck_tomb.c - collecting tombstones from fsck's replica pass.
 *
 * A tombstone may leave the stores once every replica holds it and the
 * grace period (--grace) has passed since the delete (its version's
 * wall-clock part): by then no write older than the delete can still be in
 * flight, and no replica can come back without it (chunkd refuses to start
 * after being down longer than its own --tombstone-grace). A copy on a
 * daemon outside the key's replicas (misplaced) keeps it: that copy would
 * otherwise be the only record left. PURGE is exact: a daemon drops the key
 * only while it holds a tombstone of exactly that version, so a write that
 * raced with fsck is never lost. Purges are routine collection, not
 * repairs: they are counted ("purged") but do not change the exit code.
 */
#include <inttypes.h>
#include <string.h>

#include "mount-tools/fsck.h"
#include "proto/version.h"

void fsck_tomb_key(struct fsck *f, const struct proto_key *key, const struct proto_meta *best,
		   const int *reps, int n, const bool *has)
{
	uint64_t now = proto_wall_ms(), ms = PROTO_HLC_MS(best->ver.hlc);
	struct proto_batch_ent e;
	int res[QFS_MAX_REPLICAS];
	bool is_rep[QFS_MAX_DAEMONS] = { false };
	char ks[96];
	int purged = 0;

	if (!(best->flags & PROTO_REC_TOMBSTONE) || n < 1 ||
	    (unsigned)n != qfs_scan_nreplicas(f->q))
		return;
	if (ms > now || now - ms <= f->grace_s * 1000)
		return; /* still in its grace period */
	for (int i = 0; i < n; i++)
		is_rep[reps[i]] = true;
	for (int d = 0; d < f->cl->ndaemons; d++)
		if (has[d] && !is_rep[d])
			return; /* a misplaced copy: keep the tombstone that covers it */
	f->st.purgeable++;
	if (!f->repair)
		return;
	memset(&e, 0, sizeof(e));
	e.key = *key;
	e.ver = best->ver;
	if (qfs_scan_batch(f->q, PROTO_OP_PURGE, &e, 1, reps, n, res)) {
		f->st.purge_failed++;
		return;
	}
	for (int i = 0; i < n; i++)
		purged += res[i] == 1;
	proto_key_str(key, ks, sizeof(ks));
	if (purged == n) {
		f->st.purged++;
		fsck_say(f, "%s: tombstone purged from its %d replicas\n", ks, n);
	} else {
		/* changed meanwhile, or a daemon did not answer: kept there, harmless */
		f->st.purge_failed++;
		fsck_say(f, "%s: tombstone purged from %d of its %d replicas\n", ks, purged, n);
	}
}
