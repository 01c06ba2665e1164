// SPDX-License-Identifier: MIT
/*
 * file_sync.c - fsync that survives a daemon restart (as NFS COMMIT
 * verifiers): a write acknowledged by a daemon but not yet synced there is
 * lost if the daemon restarts before the SYNC, and the SYNC that follows
 * succeeds on the new process all the same.
 *
 * Each open inode notes, at its first write after the last fsync, the
 * quorum's boot epoch (qfs_quorum_boot_epoch: it moves when a SYNC finds a
 * daemon with another boot verifier, or one that answered the last SYNC
 * and misses this one) and the range of chunk indexes written since. If the
 * epoch moved by the time fsync's SYNC returns, every chunk of the range is
 * re-established through a quorum read (HEAD on R replicas with blocking
 * read-repair: it returns once W replicas hold the newest version), the
 * inode too, then SYNC is sent again; if the epoch moves once more, or a
 * chunk this client wrote reads back older, fsync fails with -EIO.
 * docs/consistency.md, "fsync and restarts".
 */
#include <errno.h>

#include "fs/fs_priv.h"
#include "proto/log.h"

void qfs_sync_note(struct qfs_fs *fs, struct qfs_open_inode *oi, uint64_t index)
{
	if (!oi->unsynced) {
		oi->unsynced = true;
		oi->sync_epoch = qfs_quorum_boot_epoch(fs->q);
		oi->dirty_lo = oi->dirty_hi = index;
	}
	if (index < oi->dirty_lo)
		oi->dirty_lo = index;
	if (index > oi->dirty_hi)
		oi->dirty_hi = index;
}

/* The version this client last wrote to chunk @index, if it remembers it. */
static bool sync_wrote(struct qfs_open_inode *oi, uint64_t index, struct proto_version *ver)
{
	const struct qfs_chunk_ver *v;
	bool known;

	pthread_mutex_lock(&oi->lock);
	v = oi->vc ? &oi->vc[index % oi->nvc] : NULL;
	known = v && v->valid && v->index == index;
	if (known)
		*ver = v->ver;
	pthread_mutex_unlock(&oi->lock);
	return known;
}

/* Bring chunks [lo, hi] and the inode of @oi back to W replicas. */
static int sync_reestablish(struct qfs_fs *fs, struct qfs_open_inode *oi, uint64_t lo,
			    uint64_t hi)
{
	struct proto_key key;
	struct qfs_rec rec;
	int rc;

	for (uint64_t i = lo; i <= hi; i++) {
		struct proto_version mine;

		proto_key_chunk(&key, oi->ino, i);
		rc = qfs_quorum_get(fs->q, &key, 0, 0, &rec); /* versions only, repairs */
		if (rc == -ENOENT)
			rec.meta.ver = (struct proto_version){ 0 };
		else if (rc)
			return rc;
		if (sync_wrote(oi, i, &mine) && proto_version_cmp(&rec.meta.ver, &mine) < 0) {
			qlog_warn("fsync of inode %llu: chunk %llu lost by a restarted daemon",
				  (unsigned long long)oi->ino, (unsigned long long)i);
			qfs_rec_free(&rec);
			return -EIO;
		}
		qfs_rec_free(&rec);
		if (i == UINT64_MAX)
			break;
	}
	proto_key_inode(&key, oi->ino);
	rc = qfs_quorum_get(fs->q, &key, 0, PROTO_GET_WHOLE, &rec);
	qfs_rec_free(&rec);
	return rc;
}

int qfs_file_sync_oi(struct qfs_fs *fs, struct qfs_open_inode *oi)
{
	uint64_t epoch, lo, hi, e1;
	bool unsynced;
	int rc;

	pthread_mutex_lock(&oi->lock);
	unsynced = oi->unsynced;
	epoch = oi->sync_epoch;
	lo = oi->dirty_lo;
	hi = oi->dirty_hi;
	oi->unsynced = false; /* later writes note a new epoch */
	pthread_mutex_unlock(&oi->lock);

	rc = qfs_quorum_sync_all(fs->q);
	e1 = qfs_quorum_boot_epoch(fs->q);
	if (!rc && unsynced && e1 != epoch) {
		qlog_info("fsync of inode %llu: a daemon restarted or went away since its "
			  "writes: re-establishing chunks %llu..%llu", (unsigned long long)oi->ino,
			  (unsigned long long)lo, (unsigned long long)hi);
		rc = sync_reestablish(fs, oi, lo, hi);
		if (!rc)
			rc = qfs_quorum_sync_all(fs->q);
		if (!rc && qfs_quorum_boot_epoch(fs->q) != e1)
			rc = -EIO; /* another restart meanwhile: nothing proven */
	}
	if (rc && unsynced) {
		/* still owed: the next fsync tries again from the same epoch */
		pthread_mutex_lock(&oi->lock);
		if (!oi->unsynced) {
			oi->unsynced = true;
			oi->dirty_lo = lo;
			oi->dirty_hi = hi;
		}
		oi->sync_epoch = epoch;
		oi->dirty_lo = lo < oi->dirty_lo ? lo : oi->dirty_lo;
		oi->dirty_hi = hi > oi->dirty_hi ? hi : oi->dirty_hi;
		pthread_mutex_unlock(&oi->lock);
	}
	return rc < 0 ? rc : 0;
}
