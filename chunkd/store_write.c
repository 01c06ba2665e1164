// SPDX-License-Identifier: MIT
/*
 * store_write.c - the writer thread's side of the store: batches (group
 * commit), PUT (merge), PATCH (conditional in-place range write), marking
 * records corrupt, and SYNC.
 *
 * A batch is one LMDB write transaction; each request runs in a nested
 * transaction and records what it did to body files (new files, pre-images
 * of in-place writes, bodies to free), so a failed request is undone alone
 * and an aborted batch is undone whole. The pre-image of an in-place write
 * also goes to the undo journal before the write (store_undo.c), so a crash
 * before the commit is undone at the next open. Body bytes are written
 * before the index transaction that names their checksums commits (and
 * fdatasync'ed first in CHK_SYNC_ALWAYS), and superseded bodies are unlinked
 * only after it commits (in CHK_SYNC_COMMIT only after the next sync point,
 * because the index of the last sync point still names them).
 *
 * Sync points (COMMIT mode) are store_sync.c's. Every function here runs on
 * the writer thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "chunkd/body.h"
#include "chunkd/store_priv.h"
#include "proto/log.h"

static void chk_fail(struct chk_store *st, const char *what, uint64_t id, int err)
{
	qlog_err("%s %016" PRIx64 ": %s: store disabled", what, id, strerror(-err));
	atomic_store(&st->failed, true);
}

/* ---- stripes, touched bodies, undo ---- */

static void chk_stripe_lock(struct chk_store *st, const struct proto_key *key)
{
	unsigned s = chk_stripe(key);
	uint64_t bit = 1ULL << (s % 64);

	if (st->b.held[s / 64] & bit)
		return;
	pthread_rwlock_wrlock(&st->stripes[s]);
	st->b.held[s / 64] |= bit;
}

static void chk_stripes_release(struct chk_store *st)
{
	for (unsigned s = 0; s < CHK_STRIPES; s++)
		if (st->b.held[s / 64] & (1ULL << (s % 64)))
			pthread_rwlock_unlock(&st->stripes[s]);
	memset(st->b.held, 0, sizeof(st->b.held));
}

static struct chk_touched *chk_touched_find(struct chk_store *st, uint64_t id)
{
	for (size_t i = 0; i < st->b.ntouched; i++)
		if (st->b.touched[i].id == id)
			return &st->b.touched[i];
	return NULL;
}

/* ---- the fd cache of body files ---- */

static struct chk_fdc *chk_fdc_find(struct chk_store *st, uint64_t id)
{
	for (size_t i = 0; i < st->nfdc; i++)
		if (st->fdc[i].id == id)
			return &st->fdc[i];
	return NULL;
}

/* Close and forget cached body @id (it is being unlinked); a no-op if absent. */
static void chk_fdc_drop(struct chk_store *st, uint64_t id)
{
	struct chk_fdc *e = chk_fdc_find(st, id);

	if (!e)
		return;
	close(e->fd);
	*e = st->fdc[--st->nfdc];
}

/*
 * Cache @fd as body @id. Past CHK_FDC_MAX the least recently used idle entry
 * is closed (a dirty one turns the next sync into a syncfs); entries of the
 * open batch are never evicted, so the cache grows while a batch holds more.
 * 0 or -ENOMEM (then the caller still owns @fd).
 */
static int chk_fdc_add(struct chk_store *st, uint64_t id, int fd, bool busy, bool dirty)
{
	struct chk_fdc *e = NULL;

	if (st->nfdc >= CHK_FDC_MAX) {
		for (size_t i = 0; i < st->nfdc; i++)
			if (!st->fdc[i].busy && (!e || st->fdc[i].used < e->used))
				e = &st->fdc[i];
	}
	if (e) {
		if (e->dirty)
			st->use_syncfs = true;
		close(e->fd);
	} else {
		if (chk_grow((void **)&st->fdc, &st->cap_fdc, st->nfdc, sizeof(*st->fdc)))
			return -ENOMEM;
		e = &st->fdc[st->nfdc++];
	}
	*e = (struct chk_fdc){ .id = id, .fd = fd, .used = ++st->fdc_clock, .busy = busy,
			       .dirty = dirty };
	return 0;
}

void chk_fdc_close_all(struct chk_store *st)
{
	for (size_t i = 0; i < st->nfdc; i++)
		close(st->fdc[i].fd);
	st->nfdc = 0;
}

/* Create body @id for this batch; returns the fd or -errno (nothing left behind). */
static int chk_body_new(struct chk_store *st, uint64_t id)
{
	struct chk_touched *t;
	int fd, rc;

	rc = chk_grow((void **)&st->b.touched, &st->b.cap_touched, st->b.ntouched,
		      sizeof(*st->b.touched));
	if (rc)
		return rc;
	fd = chk_body_create(st->dfd, id);
	if (fd < 0)
		return fd;
	t = &st->b.touched[st->b.ntouched++];
	t->id = id;
	t->fd = fd;
	t->created = true;
	return fd;
}

/* Writable fd of existing body @id, from the fd cache, busy until the batch ends. */
static int chk_body_rw(struct chk_store *st, uint64_t id)
{
	struct chk_touched *t = chk_touched_find(st, id);
	struct chk_fdc *e;
	int fd, rc;

	if (t)
		return t->fd;
	rc = chk_grow((void **)&st->b.touched, &st->b.cap_touched, st->b.ntouched,
		      sizeof(*st->b.touched));
	if (rc)
		return rc;
	e = chk_fdc_find(st, id);
	if (e) {
		e->busy = true;
		e->used = ++st->fdc_clock;
		fd = e->fd;
	} else {
		fd = chk_body_open(st->dfd, id, true);
		if (fd < 0)
			return fd == -ENOENT ? -EBADE : fd; /* lost body: the record is corrupt */
		rc = chk_fdc_add(st, id, fd, true, false);
		if (rc) {
			close(fd);
			return rc;
		}
	}
	t = &st->b.touched[st->b.ntouched++];
	t->id = id;
	t->fd = fd;
	t->created = false;
	return fd;
}

/*
 * Keep the pre-image @r (r->len bytes at r->off, and the body length) of an
 * in-place write into @fd: in memory, to restore on abort, and in the undo
 * journal, to restore after a crash (@journal false for a body this batch
 * created, which no committed record names).
 */
static int chk_undo_add(struct chk_store *st, int fd, const struct chk_undo_rec *r, bool journal)
{
	struct chk_undo *u;
	uint64_t jr_off = st->jr_off;
	uint8_t *copy = NULL;
	int rc;

	rc = chk_grow((void **)&st->b.undo, &st->b.cap_undo, st->b.nundo, sizeof(*st->b.undo));
	if (rc)
		return rc;
	if (r->len) {
		copy = malloc(r->len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, r->old, r->len);
	}
	if (journal) {
		rc = chk_undo_log(st, r);
		if (rc) {
			free(copy);
			return rc;
		}
	}
	u = &st->b.undo[st->b.nundo++];
	u->fd = fd;
	u->off = r->off;
	u->len = r->len;
	u->old = copy;
	u->old_len = r->old_len;
	u->jr_off = jr_off;
	return 0;
}

/* Restore pre-images newest first, down to entry @from. */
static void chk_undo_apply(struct chk_store *st, size_t from)
{
	/* the journal records of the undone writes are dead: overwrite them next */
	if (st->b.nundo > from)
		st->jr_off = st->b.undo[from].jr_off;
	while (st->b.nundo > from) {
		struct chk_undo *u = &st->b.undo[--st->b.nundo];
		int rc = 0;

		if (u->len)
			rc = chk_body_pwrite(u->fd, u->old, u->len, u->off);
		if (!rc && ftruncate(u->fd, (off_t)u->old_len) < 0)
			rc = -errno;
		if (rc) /* the record still has the old sums: reads report it corrupt */
			qlog_err("undo of an in-place write failed: %s", strerror(-rc));
		free(u->old);
	}
}

/* Forget bodies touched since entry @from: new files are closed and unlinked,
 * existing ones stay in the fd cache. */
static void chk_touched_drop(struct chk_store *st, size_t from)
{
	while (st->b.ntouched > from) {
		struct chk_touched *t = &st->b.touched[--st->b.ntouched];

		if (!t->created)
			continue;
		close(t->fd);
		chk_body_unlink(st->dfd, t->id);
	}
}

static void chk_mark(struct chk_store *st, struct chk_mark *m)
{
	m->ntouched = st->b.ntouched;
	m->nundo = st->b.nundo;
	m->ndoomed = st->b.ndoomed;
	m->ndg = st->b.ndg;
	m->ctr = st->b.ctr;
	m->volume_set = st->b.volume_set;
	memcpy(m->volume, st->b.volume, PROTO_ID_LEN);
	m->rebuild_chg = st->b.rebuild_chg;
	m->rebuild_val = st->b.rebuild_val;
	m->fs_avail = st->b.fs_avail;
}

/* Undo one failed request; next_id is not rolled back (ids are never reused). */
static void chk_rollback(struct chk_store *st, const struct chk_mark *m)
{
	uint64_t next_id = st->b.ctr.next_id;

	chk_undo_apply(st, m->nundo);
	chk_touched_drop(st, m->ntouched);
	st->b.ndoomed = m->ndoomed;
	st->b.ndg = m->ndg;
	st->b.ctr = m->ctr;
	st->b.ctr.next_id = next_id;
	st->b.volume_set = m->volume_set;
	memcpy(st->b.volume, m->volume, PROTO_ID_LEN);
	st->b.rebuild_chg = m->rebuild_chg;
	st->b.rebuild_val = m->rebuild_val;
	st->b.fs_avail = m->fs_avail;
}

static void chk_batch_end(struct chk_store *st)
{
	chk_stripes_release(st);
	for (size_t i = 0; i < st->nfdc; i++)
		st->fdc[i].busy = false;
	st->b.ntouched = st->b.nundo = st->b.ndoomed = st->b.ndg = 0;
	st->b.active = false;
	chk_undo_reset(st);
	pthread_rwlock_unlock(&st->env_lock);
}

void chk_batch_abort(struct chk_store *st)
{
	if (st->b.txn)
		mdb_txn_abort(st->b.txn);
	st->b.txn = NULL;
	chk_undo_apply(st, 0);
	chk_touched_drop(st, 0);
	chk_batch_end(st);
}

/* ---- counters and space ---- */

void chk_account(struct chk_counters *c, uint8_t kind, const struct proto_meta *m, int sign)
{
	uint64_t d = (uint64_t)(int64_t)sign;

	if (m->flags & PROTO_REC_TOMBSTONE) {
		c->tombstones += d;
	} else {
		c->records += d;
		if (kind == PROTO_KIND_CHUNK) {
			c->chunks += d;
			c->body_bytes += d * m->len;
		}
	}
	if (m->flags & PROTO_REC_CORRUPT)
		c->corrupt += d;
}

/*
 * Refuse @growth more bytes: non-tombstones must leave the reserve free,
 * tombstones may use it. Checks both the store's capacity and the free space
 * of its filesystem (sampled at batch start).
 */
static int chk_space_check(struct chk_store *st, int64_t growth, bool tombstone)
{
	uint64_t used, limit;
	int64_t keep;

	if (growth <= 0)
		return 0;
	used = st->b.ctr.body_bytes + chk_index_bytes(st);
	limit = tombstone ? st->capacity : st->capacity - st->reserve;
	keep = tombstone ? 0 : (int64_t)st->reserve;
	if (used + (uint64_t)growth > limit || st->b.fs_avail - growth < keep)
		return -ENOSPC;
	st->b.fs_avail -= growth;
	return 0;
}

/* ---- batches ---- */

/*
 * Free bytes of the filesystem for this batch: a sample at most
 * CHK_STATFS_MS old, less what committed batches grew since; sampled at
 * every batch once the filesystem is close to the reserve.
 */
static int chk_fs_avail(struct chk_store *st)
{
	uint64_t now = chk_now_ms();
	struct statvfs sv;

	if (now - st->fs_avail_ms >= CHK_STATFS_MS ||
	    st->fs_avail < (int64_t)st->reserve + CHK_STATFS_SLACK) {
		if (fstatvfs(st->dfd, &sv) < 0)
			return -errno;
		st->fs_avail = (int64_t)((uint64_t)sv.f_bavail * sv.f_frsize);
		st->fs_avail_ms = now;
	}
	st->b.fs_avail = st->fs_avail;
	return 0;
}

int chk_store_batch_begin(struct chk_store *st)
{
	int rc;

	if (atomic_load(&st->failed))
		return -EIO;
	if (st->b.active)
		return -EBUSY;
	if (st->sync == CHK_SYNC_COMMIT)
		chk_sync_reap(st); /* a finished sync point moves the pin on */
	rc = chk_fs_avail(st);
	if (rc)
		return rc;
	pthread_rwlock_rdlock(&st->env_lock);
	rc = mdb_txn_begin(st->env, NULL, 0, &st->b.txn);
	if (rc == MDB_PANIC) {
		pthread_rwlock_unlock(&st->env_lock);
		if (chk_env_reopen(st))
			return -EIO;
		pthread_rwlock_rdlock(&st->env_lock);
		rc = mdb_txn_begin(st->env, NULL, 0, &st->b.txn);
	}
	if (rc) {
		st->b.txn = NULL;
		pthread_rwlock_unlock(&st->env_lock);
		qlog_err("begin write transaction: %s", mdb_strerror(rc));
		if (rc == MDB_PANIC)
			atomic_store(&st->failed, true);
		return rc == MDB_PANIC ? -EIO : chk_mdb_err(rc);
	}
	pthread_mutex_lock(&st->ctr_lock);
	st->b.ctr = st->ctr;
	pthread_mutex_unlock(&st->ctr_lock);
	st->b.volume_set = false;
	st->b.rebuild_chg = false;
	st->b.active = true;
	return 0;
}

/* CHK_SYNC_ALWAYS: the batch's body bytes reach the disk before its index does. */
static int chk_batch_sync_bodies(struct chk_store *st)
{
	uint64_t dirs[CHK_STRIPES / 64] = { 0 };
	int rc;

	/* the pre-images first, so a power cut in between can be undone */
	rc = chk_undo_sync(st);
	if (rc) {
		chk_fail(st, "fdatasync undo journal", 0, rc);
		return -EIO;
	}
	for (size_t i = 0; i < st->b.ntouched; i++) {
		struct chk_touched *t = &st->b.touched[i];

		if (fdatasync(t->fd) < 0) {
			chk_fail(st, "fdatasync body", t->id, -errno);
			return -EIO;
		}
		if (t->created)
			dirs[(t->id & 0xff) / 64] |= 1ULL << (t->id & 63);
	}
	for (unsigned d = 0; d < CHK_STRIPES; d++) {
		if (!(dirs[d / 64] & (1ULL << (d % 64))))
			continue;
		rc = chk_body_sync_dir(st->dfd, d);
		if (rc) {
			chk_fail(st, "fsync body directory", d, rc);
			return -EIO;
		}
	}
	return 0;
}

/*
 * After the commit: keep the batch's bodies open in the fd cache; in COMMIT
 * mode they are dirty until the next sync point (an fdatasync each while
 * there are few, else one syncfs).
 */
static void chk_batch_keep_bodies(struct chk_store *st)
{
	bool commit = st->sync == CHK_SYNC_COMMIT;
	size_t dirty = 0;

	for (size_t i = 0; i < st->b.ntouched; i++) {
		struct chk_touched *t = &st->b.touched[i];
		struct chk_fdc *e;

		if (!t->created) {
			e = chk_fdc_find(st, t->id);
			if (e)
				e->dirty |= commit;
			continue;
		}
		if (commit)
			st->dirty_dirs[(t->id & 0xff) / 64] |= 1ULL << (t->id & 63);
		if (chk_fdc_add(st, t->id, t->fd, false, commit)) {
			close(t->fd); /* cannot keep it: the next sync is a syncfs */
			st->use_syncfs |= commit;
		}
	}
	st->b.ntouched = 0;
	for (size_t i = 0; i < st->nfdc; i++)
		dirty += st->fdc[i].dirty;
	if (dirty > CHK_FSYNC_MAX)
		st->use_syncfs = true;
}

/*
 * After the commit: free the superseded bodies. In COMMIT mode the index of
 * the last sync point may still name them (a power cut rolls back to it), so
 * they wait for the next sync point.
 */
static void chk_batch_free_bodies(struct chk_store *st)
{
	for (size_t i = 0; i < st->b.ndoomed; i++) {
		uint64_t id = st->b.doomed[i];
		int rc;

		chk_fdc_drop(st, id);
		if (st->sync == CHK_SYNC_COMMIT &&
		    chk_grow((void **)&st->deferred, &st->cap_deferred, st->ndeferred,
			     sizeof(*st->deferred)) == 0) {
			st->deferred[st->ndeferred++] = id;
			continue;
		}
		rc = chk_body_unlink(st->dfd, id);
		if (rc && rc != -ENOENT) /* a leak, swept at the next unclean open */
			qlog_warn("free body %016" PRIx64 ": %s", id, strerror(-rc));
	}
	st->b.ndoomed = 0;
}

int chk_store_batch_commit(struct chk_store *st)
{
	int rc;

	if (!st->b.active)
		return -EINVAL;
	if (atomic_load(&st->failed)) {
		chk_batch_abort(st);
		return -EIO;
	}
	if (st->sync == CHK_SYNC_ALWAYS) {
		rc = chk_batch_sync_bodies(st);
		if (rc) {
			chk_batch_abort(st);
			return rc;
		}
	}
	rc = chk_digest_prepare(st, false);
	if (!rc)
		rc = chk_meta_save(st, st->b.txn, &st->b.ctr,
				   st->b.volume_set ? st->b.volume : NULL);
	if (!rc && st->b.rebuild_chg)
		rc = chk_meta_rebuilding_save(st, st->b.txn, st->b.rebuild_val);
	if (rc) {
		chk_batch_abort(st);
		return rc;
	}
	rc = mdb_txn_commit(st->b.txn);
	st->b.txn = NULL;
	if (rc) {
		qlog_err("commit: %s", mdb_strerror(rc));
		if (rc == EIO)
			atomic_store(&st->failed, true);
		chk_batch_abort(st);
		return chk_mdb_err(rc);
	}
	chk_digest_committed(st);
	pthread_mutex_lock(&st->ctr_lock);
	st->ctr = st->b.ctr;
	if (st->b.volume_set) {
		memcpy(st->volume_id, st->b.volume, PROTO_ID_LEN);
		st->has_volume = true;
	}
	if (st->b.rebuild_chg)
		st->rebuilding = st->b.rebuild_val;
	pthread_mutex_unlock(&st->ctr_lock);
	st->fs_avail = st->b.fs_avail;
	st->dirty = true;

	for (size_t i = 0; i < st->b.nundo; i++)
		free(st->b.undo[i].old);
	st->b.nundo = 0;
	chk_batch_keep_bodies(st);
	chk_batch_free_bodies(st);
	chk_batch_end(st);
	return atomic_load(&st->failed) ? -EIO : 0;
}

/* ---- PUT ---- */

static bool chk_rec_same(const struct proto_rec *a, const struct proto_rec *b)
{
	if (proto_lww_cmp(&a->meta, &b->meta) != 0)
		return false;
	return a->meta.len == 0 || a->val == b->val || memcmp(a->val, b->val, a->meta.len) == 0;
}

/*
 * Check an incoming SUPER against the volume this store holds: -EINVAL when
 * its value does not decode, -EXDEV for another volume. *adopt is set when
 * the store has no volume yet (it takes @vol if the SUPER is stored).
 */
static int chk_super_check(struct chk_store *st, const struct proto_rec *in,
			   uint8_t vol[PROTO_ID_LEN], bool *adopt)
{
	struct proto_super s;
	int rc = 0;

	*adopt = false;
	if (in->meta.flags & PROTO_REC_TOMBSTONE)
		return 0; /* carries no volume */
	if (proto_super_decode(in->val, in->meta.len, &s))
		return -EINVAL;
	memcpy(vol, s.volume_id, PROTO_ID_LEN);
	if (st->b.volume_set)
		return memcmp(st->b.volume, vol, PROTO_ID_LEN) ? -EXDEV : 0;
	pthread_mutex_lock(&st->ctr_lock);
	if (!st->has_volume)
		*adopt = true;
	else if (memcmp(st->volume_id, vol, PROTO_ID_LEN))
		rc = -EXDEV;
	pthread_mutex_unlock(&st->ctr_lock);
	return rc;
}


/*
 * Store record @nw under key @k in the request's nested transaction @txn and
 * commit it into the batch; the batch counters move from @old (NULL when
 * there was none) to @nw. @txn is finished either way: aborted on failure.
 */
static int chk_rec_commit(struct chk_store *st, MDB_txn *txn, uint8_t kind, MDB_val *k,
			  const struct chk_rec *old, const struct chk_rec *nw)
{
	MDB_val v;
	int rc;

	chk_rec_encode(&st->b.val, kind, nw);
	if (st->b.val.bad) {
		mdb_txn_abort(txn);
		return -ENOMEM;
	}
	v.mv_data = st->b.val.buf;
	v.mv_size = st->b.val.len;
	rc = chk_mdb_err(mdb_put(txn, st->recs, k, &v, 0));
	if (!rc)
		rc = chk_digest_update(st, txn, k, old ? &old->meta : NULL, &nw->meta);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	rc = chk_mdb_err(mdb_txn_commit(txn));
	if (rc)
		return rc;
	if (old)
		chk_account(&st->b.ctr, kind, &old->meta, -1);
	chk_account(&st->b.ctr, kind, &nw->meta, 1);
	return 0;
}

/* A damaged record at @k is about to be overwritten: take its meta, if that
 * still decodes, out of the digests (its hash went in when it was written). */
static int chk_put_forget_damaged(struct chk_store *st, MDB_txn *txn, const MDB_val *k,
				  const MDB_val *v)
{
	struct proto_meta m;
	struct proto_rd rd;

	proto_rd_init(&rd, v->mv_data, v->mv_size);
	if (proto_meta_decode(&rd, &m))
		return 0;
	return chk_digest_update(st, txn, k, &m, NULL);
}

static int chk_put_one(struct chk_store *st, const struct proto_put_req *q, const void *val,
		       struct proto_write_rep *rep)
{
	uint8_t kind = q->key.kind, kb[PROTO_KEY_MAX], vol[PROTO_ID_LEN];
	bool chunk = kind == PROTO_KIND_CHUNK, have = false, win, tomb, vol_new = false;
	struct proto_rec in = { .meta = q->meta, .val = val }, out;
	struct chk_rec *old = NULL, *nw = NULL;
	MDB_val k, v;
	MDB_txn *txn;
	int64_t growth;
	int rc;

	if (kind == PROTO_KIND_SUPER) {
		rc = chk_super_check(st, &in, vol, &vol_new);
		if (rc)
			return rc;
	}
	old = malloc(sizeof(*old));
	nw = malloc(sizeof(*nw));
	if (!old || !nw) {
		rc = -ENOMEM;
		goto out_free;
	}
	k.mv_data = kb;
	k.mv_size = proto_key_encode(&q->key, kb);
	if (chunk)
		chk_stripe_lock(st, &q->key);
	rc = chk_mdb_err(mdb_txn_begin(st->env, st->b.txn, 0, &txn));
	if (rc)
		goto out_free;
	rc = mdb_get(txn, st->recs, &k, &v);
	if (rc == 0) {
		have = chk_rec_decode(kind, v.mv_data, v.mv_size, old) == 0;
		/* a damaged record is overwritten; its body, if any, leaks until a sweep */
		if (!have) {
			rc = chk_put_forget_damaged(st, txn, &k, &v);
			if (rc)
				goto out_abort;
		}
	} else if (rc != MDB_NOTFOUND) {
		rc = chk_mdb_err(rc);
		goto out_abort;
	}

	rc = 0;
	if (!have) {
		win = true;
		out = in;
		if (kind == PROTO_KIND_INODE)
			rc = proto_merge(kind, &in, &in, &out, &st->b.merged);
	} else if (old->meta.flags & PROTO_REC_CORRUPT) {
		struct proto_meta clean = old->meta;

		clean.flags &= ~PROTO_REC_CORRUPT;
		win = proto_lww_cmp(&in.meta, &clean) >= 0; /* a twin repairs it */
		out = in;
		if (win && kind == PROTO_KIND_INODE)
			rc = proto_merge(kind, &in, &in, &out, &st->b.merged);
	} else if (chunk) {
		win = proto_lww_cmp(&in.meta, &old->meta) > 0;
		out = in;
	} else {
		struct proto_rec sr = { .meta = old->meta, .val = old->val };

		rc = proto_merge(kind, &sr, &in, &out, &st->b.merged);
		win = !rc && !chk_rec_same(&out, &sr);
	}
	if (rc) {
		rc = rc == -ENOMEM ? -ENOMEM : -EIO;
		goto out_abort;
	}
	if (!win) {
		rep->stored = old->meta.ver;
		rep->flags = old->meta.flags;
		mdb_txn_abort(txn);
		rc = 0;
		goto out_free;
	}

	tomb = out.meta.flags & PROTO_REC_TOMBSTONE;
	memset(nw, 0, sizeof(*nw));
	nw->meta = out.meta;
	nw->meta.flags &= ~PROTO_REC_CORRUPT;
	if (chunk) {
		growth = (tomb ? 0 : (int64_t)out.meta.len) - (have ? (int64_t)old->meta.len : 0);
		if (!tomb) {
			nw->nsums = q->nsums;
			memcpy(nw->sums, q->sums, q->nsums * sizeof(q->sums[0]));
		}
	} else {
		growth = (int64_t)out.meta.len - (have ? (int64_t)old->meta.len : 0);
		nw->val = out.val;
	}
	if (!have)
		growth += (int64_t)k.mv_size + PROTO_META_LEN + 16;
	rc = chk_space_check(st, growth, tomb);
	if (rc)
		goto out_abort;

	if (chunk && !tomb && out.meta.len > 0 && out.meta.len <= CHK_INLINE_MAX) {
		nw->val = out.val; /* inline: no body file */
	} else if (chunk && !tomb && out.meta.len > 0) {
		int fd;

		nw->body = st->b.ctr.next_id++;
		fd = chk_body_new(st, nw->body);
		if (fd < 0) {
			rc = fd;
			goto out_abort;
		}
		/* no preallocation: ENOSPC from the write is undone like any failure */
		rc = chk_body_pwrite_pieces(fd, val, out.meta.len, 0);
		if (rc) {
			qlog_err("write body %016" PRIx64 ": %s", nw->body, strerror(-rc));
			goto out_abort; /* the caller's rollback unlinks it */
		}
		if (st->sync != CHK_SYNC_NONE && out.meta.len >= CHK_WRITEBACK_MIN)
			chk_body_writeback(fd, 0, out.meta.len); /* the next sync waits less */
	}
	if (chunk && have && old->body) {
		rc = chk_grow((void **)&st->b.doomed, &st->b.cap_doomed, st->b.ndoomed,
			      sizeof(*st->b.doomed));
		if (rc)
			goto out_abort;
		st->b.doomed[st->b.ndoomed++] = old->body;
	}

	rc = chk_rec_commit(st, txn, kind, &k, have ? old : NULL, nw);
	if (rc)
		goto out_free;
	if (kind == PROTO_KIND_SUPER && vol_new && !tomb) {
		st->b.volume_set = true;
		memcpy(st->b.volume, vol, PROTO_ID_LEN);
		/* a volume that did not come from mkfs comes to an empty (new or
		 * wiped) store: it lacks the volume's data until it is refilled */
		st->b.rebuild_chg = true;
		st->b.rebuild_val = !(q->flags & PROTO_PUT_MKFS);
	}
	rep->stored = nw->meta.ver;
	rep->flags = nw->meta.flags;
	goto out_free;

out_abort:
	mdb_txn_abort(txn);
out_free:
	free(old);
	free(nw);
	return rc;
}

static int chk_put_check(const struct proto_put_req *q, const void *val)
{
	uint64_t sums[PROTO_CHUNK_BLOCKS], sum;
	uint8_t kind = q->key.kind;

	if (kind >= PROTO_KIND_MAX || (q->meta.flags & ~PROTO_REC_TOMBSTONE) ||
	    proto_version_is_zero(&q->meta.ver))
		return -EINVAL;
	if (q->meta.len > proto_value_max(kind))
		return -EFBIG;
	if ((q->meta.flags & PROTO_REC_TOMBSTONE) && q->meta.len && kind != PROTO_KIND_INODE)
		return -EINVAL;
	if (q->nsums != proto_nblocks(q->meta.len) || (q->meta.len && !val))
		return -EINVAL;
	sum = proto_value_sums(val, q->meta.len, sums);
	if (sum != q->meta.sum || memcmp(sums, q->sums, q->nsums * sizeof(sums[0])))
		return -EBADE;
	return 0;
}

struct chk_put_args {
	const struct proto_put_req *q;
	const void *val;
	struct proto_write_rep *rep;
};

static int chk_put_op(struct chk_store *st, const void *arg)
{
	const struct chk_put_args *a = arg;

	return chk_put_one(st, a->q, a->val, a->rep);
}

/*
 * Run one request in the open batch, or in a batch of its own when none is
 * open. A failed request is undone alone (chk_rollback) either way.
 */
int chk_run(struct chk_store *st, int (*op)(struct chk_store *, const void *), const void *arg)
{
	bool own = !st->b.active;
	struct chk_mark m;
	int rc;

	if (atomic_load(&st->failed))
		return -EIO;
	if (own) {
		rc = chk_store_batch_begin(st);
		if (rc)
			return rc;
	}
	chk_mark(st, &m);
	rc = op(st, arg);
	if (rc)
		chk_rollback(st, &m);
	if (own) {
		if (rc)
			chk_batch_abort(st);
		else
			rc = chk_store_batch_commit(st);
	}
	return rc;
}

int chk_store_put(struct chk_store *st, const struct proto_put_req *q, const void *val,
		  struct proto_write_rep *rep)
{
	struct chk_put_args a = { .q = q, .val = val, .rep = rep };
	int rc;

	rc = chk_put_check(q, val);
	if (rc)
		return rc;
	return chk_run(st, chk_put_op, &a);
}

/* ---- PATCH ---- */

struct chk_patch_args {
	const struct proto_patch_req *q;
	const void *data;
	uint32_t len;
	struct proto_write_rep *rep;
};

/*
 * Read the old bytes of blocks [first, last] (from body @fd, or the record
 * of an inline chunk) into @buf (zeros past the old end) and check them
 * against their stored sums, so a patch never blesses bytes that had already
 * rotted with a fresh checksum.
 */
static int chk_patch_read_old(int fd, const struct chk_rec *old, uint32_t first, uint32_t last,
			      uint8_t *buf)
{
	uint64_t start = (uint64_t)first * PROTO_BLOCK_SIZE;
	uint64_t end = (uint64_t)(last + 1) * PROTO_BLOCK_SIZE;
	int rc;

	if (end > old->meta.len)
		end = old->meta.len;
	if (end <= start)
		return 0;
	if (chk_rec_inline(old)) {
		memcpy(buf, old->val + start, end - start);
	} else {
		rc = chk_body_pread(fd, buf, end - start, start);
		if (rc)
			return rc == -EIO ? -EBADE : rc; /* short body: corrupt */
	}
	for (uint32_t i = first; i <= last && i < old->nsums; i++) {
		uint64_t off = (uint64_t)i * PROTO_BLOCK_SIZE;
		uint64_t bl = old->meta.len - off < PROTO_BLOCK_SIZE ? old->meta.len - off
								     : PROTO_BLOCK_SIZE;

		if (proto_block_sum(buf + (off - start), bl) != old->sums[i])
			return -EBADE;
	}
	return 0;
}

/*
 * The batch's PATCH buffer, @len bytes of which the first @keep will be
 * overwritten with old bytes and the rest must read as zeros. NULL on ENOMEM.
 */
static uint8_t *chk_patch_buf(struct chk_store *st, size_t len, uint64_t keep)
{
	if (len > st->b.cap_pbuf) {
		uint8_t *p = realloc(st->b.pbuf, len);

		if (!p)
			return NULL;
		st->b.pbuf = p;
		st->b.cap_pbuf = len;
	}
	if (keep < len)
		memset(st->b.pbuf + keep, 0, len - keep);
	return st->b.pbuf;
}

static int chk_patch_one(struct chk_store *st, const struct proto_patch_req *q,
			 const uint8_t *data, uint32_t len, struct proto_write_rep *rep)
{
	uint8_t kb[PROTO_KEY_MAX], *buf = NULL;
	struct chk_rec *old = NULL, *nw = NULL;
	bool have = false, live, ok;
	uint64_t end = (uint64_t)q->offset + len, old_len, new_len, start, in_old;
	uint32_t first, last;
	MDB_val k, v;
	MDB_txn *txn;
	int fd, rc;

	old = calloc(1, sizeof(*old));
	nw = calloc(1, sizeof(*nw));
	if (!old || !nw) {
		rc = -ENOMEM;
		goto out_free;
	}
	k.mv_data = kb;
	k.mv_size = proto_key_encode(&q->key, kb);
	chk_stripe_lock(st, &q->key);
	rc = chk_mdb_err(mdb_txn_begin(st->env, st->b.txn, 0, &txn));
	if (rc)
		goto out_free;
	rc = mdb_get(txn, st->recs, &k, &v);
	if (rc == 0) {
		rc = chk_rec_decode(PROTO_KIND_CHUNK, v.mv_data, v.mv_size, old);
		if (rc)
			goto out_abort;
		have = true;
	} else if (rc != MDB_NOTFOUND) {
		rc = chk_mdb_err(rc);
		goto out_abort;
	}
	live = have && !(old->meta.flags & PROTO_REC_TOMBSTONE);
	rep->stored = old->meta.ver; /* zero when absent */
	rep->flags = old->meta.flags;

	if (live && proto_version_cmp(&old->meta.ver, &q->ver) == 0) {
		rc = 0; /* already applied: a retry */
		goto out_abort;
	}
	if (proto_version_is_zero(&q->base))
		ok = !have || (!live && proto_version_cmp(&q->ver, &old->meta.ver) > 0);
	else
		ok = live && proto_version_cmp(&old->meta.ver, &q->base) == 0 &&
		     proto_version_cmp(&q->ver, &q->base) > 0;
	if (!ok) {
		rc = -ESTALE;
		goto out_abort;
	}
	if (old->meta.flags & PROTO_REC_CORRUPT) {
		rc = -EBADE; /* only a whole PUT can repair it */
		goto out_abort;
	}

	old_len = live ? old->meta.len : 0;
	new_len = end > old_len ? end : old_len;
	rc = chk_space_check(st, (int64_t)(new_len - old_len), false);
	if (rc)
		goto out_abort;

	/* Blocks whose checksum changes: the patched ones and any new gap. */
	start = end > old_len && old_len < q->offset ? old_len : q->offset;
	first = (uint32_t)(start / PROTO_BLOCK_SIZE);
	last = (uint32_t)((end - 1) / PROTO_BLOCK_SIZE);
	start = (uint64_t)first * PROTO_BLOCK_SIZE;
	buf = chk_patch_buf(st, (size_t)((uint64_t)(last + 1) * PROTO_BLOCK_SIZE - start),
			    live ? old_len - (old_len < start ? old_len : start) : 0);
	if (!buf) {
		rc = -ENOMEM;
		goto out_abort;
	}

	if (live && old->body) {
		/* in place: the pre-image goes to the undo log and journal first */
		struct chk_undo_rec ur = {
			.key = kb, .key_len = k.mv_size, .body = old->body,
			.base = old->meta.ver, .ver = q->ver, .off = q->offset,
			.old_len = old_len, .old = buf + (q->offset - start),
		};

		nw->body = old->body;
		fd = chk_body_rw(st, old->body);
		if (fd < 0) {
			rc = fd;
			goto out_abort;
		}
		rc = chk_patch_read_old(fd, old, first, last, buf);
		if (rc)
			goto out_abort;
		in_old = old_len > q->offset ? (old_len < end ? old_len : end) - q->offset : 0;
		ur.len = (uint32_t)in_old;
		rc = chk_undo_add(st, fd, &ur, true);
		if (rc)
			goto out_abort;
		memcpy(buf + (q->offset - start), data, len);
		rc = chk_body_pwrite_pieces(fd, data, len, q->offset);
	} else {
		/* a new value: inline, or a new body file (from an inline chunk
		 * grown past CHK_INLINE_MAX, or over an absent one: a sparse file) */
		if (live) {
			rc = chk_patch_read_old(-1, old, first, last, buf);
			if (rc)
				goto out_abort;
		}
		memcpy(buf + (q->offset - start), data, len);
		if (new_len <= CHK_INLINE_MAX) {
			nw->body = 0;
			nw->val = buf; /* first == 0: buf holds [0, new_len) */
		} else {
			nw->body = st->b.ctr.next_id++;
			fd = chk_body_new(st, nw->body);
			if (fd < 0) {
				rc = fd;
				goto out_abort; /* the caller's rollback unlinks it */
			}
			if (live) /* first == 0: the whole value */
				rc = chk_body_pwrite_pieces(fd, buf, (size_t)new_len, 0);
			else
				rc = chk_body_pwrite_pieces(fd, data, len, q->offset);
		}
	}
	if (rc) {
		qlog_err("patch body %016" PRIx64 ": %s", nw->body, strerror(-rc));
		goto out_abort; /* the caller's rollback restores the old bytes */
	}

	nw->nsums = (uint16_t)proto_nblocks((uint32_t)new_len);
	if (live)
		memcpy(nw->sums, old->sums, old->nsums * sizeof(old->sums[0]));
	for (uint32_t i = first; i <= last; i++) {
		uint64_t off = (uint64_t)i * PROTO_BLOCK_SIZE;
		uint64_t bl = new_len - off < PROTO_BLOCK_SIZE ? new_len - off : PROTO_BLOCK_SIZE;

		nw->sums[i] = proto_block_sum(buf + (off - start), bl);
	}
	nw->meta.ver = q->ver;
	nw->meta.flags = 0;
	nw->meta.epoch = q->epoch;
	nw->meta.len = (uint32_t)new_len;
	nw->meta.sum = proto_sums_combine(nw->sums, nw->nsums);

	rc = chk_rec_commit(st, txn, PROTO_KIND_CHUNK, &k, have ? old : NULL, nw);
	if (rc)
		goto out_free;
	rep->stored = nw->meta.ver;
	rep->flags = nw->meta.flags;
	goto out_free;

out_abort:
	mdb_txn_abort(txn);
out_free:
	free(old);
	free(nw);
	return rc;
}

static int chk_patch_op(struct chk_store *st, const void *arg)
{
	const struct chk_patch_args *a = arg;

	return chk_patch_one(st, a->q, a->data, a->len, a->rep);
}

int chk_store_patch(struct chk_store *st, const struct proto_patch_req *q, const void *data,
		    uint32_t len, struct proto_write_rep *rep)
{
	struct chk_patch_args a = { .q = q, .data = data, .len = len, .rep = rep };

	if (q->key.kind != PROTO_KIND_CHUNK || len == 0 || !data ||
	    proto_version_is_zero(&q->ver))
		return -EINVAL;
	if (q->offset > PROTO_CHUNK_MAX || len > PROTO_CHUNK_MAX - q->offset)
		return -EFBIG;
	if (proto_block_sum(data, len) != q->sum)
		return -EBADE;
	memset(rep, 0, sizeof(*rep));
	return chk_run(st, chk_patch_op, &a);
}

/* ---- marking corrupt ---- */

struct chk_mark_args {
	const struct proto_key *key;
	const struct proto_version *ver;
};

static int chk_mark_op(struct chk_store *st, const void *arg)
{
	const struct chk_mark_args *a = arg;
	uint8_t kind = a->key->kind, kb[PROTO_KEY_MAX];
	struct proto_meta pre;
	struct chk_rec *r;
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	k.mv_data = kb;
	k.mv_size = proto_key_encode(a->key, kb);
	rc = chk_mdb_err(mdb_txn_begin(st->env, st->b.txn, 0, &txn));
	if (rc)
		goto out_free;
	rc = chk_mdb_err(mdb_get(txn, st->recs, &k, &v));
	if (!rc)
		rc = chk_rec_decode(kind, v.mv_data, v.mv_size, r);
	if (rc)
		goto out_abort;
	/* Only the version that was read is condemned, and only once. */
	if (proto_version_cmp(&r->meta.ver, a->ver) != 0 ||
	    (r->meta.flags & (PROTO_REC_TOMBSTONE | PROTO_REC_CORRUPT)))
		goto out_abort;
	pre = r->meta;
	r->meta.flags |= PROTO_REC_CORRUPT;
	chk_rec_encode(&st->b.val, kind, r);
	rc = st->b.val.bad ? -ENOMEM : 0;
	if (!rc) {
		v.mv_data = st->b.val.buf;
		v.mv_size = st->b.val.len;
		rc = chk_mdb_err(mdb_put(txn, st->recs, &k, &v, 0));
	}
	if (!rc)
		rc = chk_digest_update(st, txn, &k, &pre, &r->meta);
	if (rc)
		goto out_abort;
	rc = chk_mdb_err(mdb_txn_commit(txn));
	if (!rc) {
		char ks[64];

		chk_account(&st->b.ctr, kind, &pre, -1);
		chk_account(&st->b.ctr, kind, &r->meta, 1);
		qlog_warn("%s marked corrupt", proto_key_str(a->key, ks, sizeof(ks)));
	}
	goto out_free;
out_abort:
	mdb_txn_abort(txn);
out_free:
	free(r);
	return rc;
}

int chk_store_mark_corrupt(struct chk_store *st, const struct proto_key *key,
			   const struct proto_version *ver)
{
	struct chk_mark_args a = { .key = key, .ver = ver };

	if (key->kind >= PROTO_KIND_MAX)
		return -EINVAL;
	return chk_run(st, chk_mark_op, &a);
}
