// SPDX-License-Identifier: MIT
/*
 * quorum_heal.c - per-key classification and repair over a key's N
 * replicas (quorum_heal.h), the logic fsck's replica pass and the mount's
 * background repairer share. The reference is the newest clean copy any
 * daemon holds; a replica is missing, stale (older, or for an INODE any
 * other record sum, since its registers merge) or corrupt. Repairs are
 * PUTs, merged by the daemons, so they never make a replica older.
 */
#include <errno.h>
#include <string.h>

#include "fs/quorum_heal.h"
#include "fs/quorum_priv.h"
#include "fs/quorum_scan.h"

#define QFS_TOMB_SKEW_MARGIN_MS 60000ull

bool qfs_quorum_tomb_collected(const struct proto_meta *m, uint64_t grace_ms)
{
	uint64_t margin = grace_ms / 10, ms = PROTO_HLC_MS(m->ver.hlc), now = proto_wall_ms();

	if (!grace_ms || !(m->flags & PROTO_REC_TOMBSTONE))
		return false;
	if (margin > QFS_TOMB_SKEW_MARGIN_MS)
		margin = QFS_TOMB_SKEW_MARGIN_MS;
	return now > ms && now - ms >= grace_ms - margin;
}

void qfs_heal_classify(struct qfs_quorum *q, const struct proto_key *key, const bool *has,
		       const struct proto_meta *meta, uint64_t tomb_grace_ms,
		       struct qfs_heal_key *hk)
{
	const struct qfs_cluster *cl = q->cl;
	const struct proto_meta *best = NULL;
	bool collected;

	memset(hk, 0, sizeof(*hk));
	for (int d = 0; d < cl->ndaemons; d++) {
		if (!has[d] || (meta[d].flags & PROTO_REC_CORRUPT))
			continue;
		if (!best || proto_lww_cmp(&meta[d], best) > 0)
			best = &meta[d];
	}
	if (best) {
		hk->have_best = true;
		hk->best = *best;
	}
	for (int d = 0; best && d < cl->ndaemons; d++)
		hk->holds[d] = has[d] && !(meta[d].flags & PROTO_REC_CORRUPT) &&
			       proto_lww_cmp(&meta[d], best) == 0;
	collected = best && qfs_quorum_tomb_collected(best, tomb_grace_ms);

	hk->n = qfs_scan_place(q, key, hk->reps, QFS_MAX_REPLICAS);
	for (int i = 0; i < hk->n; i++) {
		int d = hk->reps[i];

		if (!has[d])
			hk->state[i] = collected ? QFS_HEAL_OK : QFS_HEAL_MISSING;
		else if (meta[d].flags & PROTO_REC_CORRUPT)
			hk->state[i] = QFS_HEAL_CORRUPT;
		else if (!hk->holds[d])
			hk->state[i] = QFS_HEAL_STALE;
		else
			hk->state[i] = QFS_HEAL_OK;
		if (hk->state[i] != QFS_HEAL_OK)
			hk->bad[hk->nbad++] = d;
	}
}

/*
 * INODE: merge every copy any daemon holds (@has/@meta), not a quorum
 * read's: a write that reached W through fallbacks (hinted handoff), or
 * that failed on all but one replica, may be on a single replica, and a
 * read of R of the N can miss it. The merge goes to every replica whose
 * copy differs from it, the "OK" ones included: their registers merged
 * with the others' may make a record none of them holds yet.
 */
static int qfs_heal_inode(struct qfs_quorum *q, const struct proto_key *key, const bool *has,
			  const struct proto_meta *meta, const struct qfs_heal_key *hk, int *res)
{
	struct proto_meta merged;
	int all[QFS_MAX_REPLICAS];
	int rc;

	rc = qfs_scan_merge_to(q, key, has, meta, hk->reps, hk->n, &merged, all);
	/* report only the replicas that were bad: held it already, or took it */
	for (int i = 0, j = 0; !rc && i < hk->n; i++)
		if (hk->state[i] != QFS_HEAL_OK)
			res[j++] = all[i] < 0 ? all[i] : 0;
	return rc;
}

int qfs_heal_repair(struct qfs_quorum *q, const struct proto_key *key, const bool *has,
		    const struct proto_meta *meta, const struct qfs_heal_key *hk, int *res)
{
	const struct qfs_cluster *cl = q->cl;
	int rc = -ENOENT;

	for (int i = 0; i < hk->nbad; i++)
		res[i] = -EIO;
	if (!hk->nbad)
		return 0;
	if (!hk->have_best)
		return -ENOENT;
	if (key->kind == PROTO_KIND_INODE)
		return qfs_heal_inode(q, key, has, meta, hk, res);
	/* LWW: copy best from the first daemon that holds it cleanly */
	for (int d = 0; d < cl->ndaemons; d++) {
		if (!hk->holds[d])
			continue;
		rc = qfs_scan_copy(q, key, &hk->best, d, hk->bad, hk->nbad, res);
		if (rc == 0)
			return 0;
	}
	return rc;
}
