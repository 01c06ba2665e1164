/* SPDX-License-Identifier: MIT */
/*
 * quorum_heal.h - bring one key to all N of its replicas: classify what
 * each replica holds against the newest clean copy any daemon holds, and
 * copy that copy to the replicas that lack it. Shared by fsck.quorumfs
 * (full and quick passes) and the mount's background repairer
 * (fs/quorum_repairer.c). Every repair is a PUT, which the daemon merges,
 * so it can only make a replica newer: safe from several clients at once.
 * Thread-safe as quorum.h.
 */
#ifndef QFS_FS_QUORUM_HEAL_H
#define QFS_FS_QUORUM_HEAL_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/config.h"
#include "fs/quorum.h"
#include "proto/msg.h"

/* What one replica holds compared with the newest copy. */
enum qfs_heal_state { QFS_HEAL_OK, QFS_HEAL_MISSING, QFS_HEAL_STALE, QFS_HEAL_CORRUPT };

/* One key as qfs_heal_classify() found it. */
struct qfs_heal_key {
	bool have_best;			    /* some daemon holds a clean copy */
	struct proto_meta best;		    /* the newest clean copy (proto_lww_cmp) */
	bool holds[QFS_MAX_DAEMONS];	    /* daemon d holds best, cleanly */
	int n;				    /* replicas (ring placement), <= N */
	int reps[QFS_MAX_REPLICAS];	    /* their daemons, in preference order */
	enum qfs_heal_state state[QFS_MAX_REPLICAS];
	int nbad;			    /* replicas not OK */
	int bad[QFS_MAX_REPLICAS];	    /* their daemons, in reps order */
};

/*
 * Classify @key from @has[d] / @meta[d] (what daemon d holds, for every
 * daemon of the cluster). A copy on a daemon outside the key's replicas is
 * a possible source, never a replica. With @tomb_grace_ms non-zero, a
 * replica that holds nothing of a tombstone older than that (see
 * qfs_quorum_tomb_collected) is OK: it may have purged it. Pure: no I/O.
 */
void qfs_heal_classify(struct qfs_quorum *q, const struct proto_key *key, const bool *has,
		       const struct proto_meta *meta, uint64_t tomb_grace_ms,
		       struct qfs_heal_key *hk);

/*
 * Write the newest copy to each bad replica of @hk: an LWW kind is copied
 * whole (every block checked) from a daemon that holds it, replicas first;
 * for an INODE every copy a daemon holds (@has[d], @meta[d] as given to
 * qfs_heal_classify) is merged, register by register, and the merge PUT to
 * the bad replicas. @res[i] gets 0 or -errno for
 * hk->bad[i]. Returns 0 (look at @res), -ENOENT (no clean copy anywhere),
 * or the -errno of reading the source (then no replica was written).
 */
int qfs_heal_repair(struct qfs_quorum *q, const struct proto_key *key, const bool *has,
		    const struct proto_meta *meta, const struct qfs_heal_key *hk, int *res);

/*
 * True when tombstone @m may already have been collected by a daemon
 * whose --tombstone-grace is @grace_ms: its version's wall-clock part is
 * older than the grace, less a margin for clock skew (a tenth of it, at
 * most 60 s). False for anything that is not a tombstone, or @grace_ms 0.
 */
bool qfs_quorum_tomb_collected(const struct proto_meta *m, uint64_t grace_ms);

#endif
