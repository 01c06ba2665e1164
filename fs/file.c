// SPDX-License-Identifier: MIT
/*
 * file.c - open files: chunked reads and writes, the per-inode write buffer,
 * flush/fsync, truncate, fallocate and SEEK_DATA/SEEK_HOLE.
 *
 * A file's chunk k holds bytes [k*CS, (k+1)*CS). Writes collect in a buffer
 * of one chunk per open inode; a buffer that covers everything valid in its
 * chunk goes out as one whole-chunk PUT (the sequential case), anything else
 * as a conditional range write (PATCH) on the chunk's current version, so a
 * 4 KiB write moves about 4 KiB per replica. Chunks written before a
 * truncate that cut them are rewritten whole (read-modify-write), the only
 * case that reads before it writes. Size and mtime go to the inode at flush.
 *
 * Reads keep the last chunk read whole in a cache per open inode. A reader
 * that goes on sequentially (three reads in a row, each within 1 MiB of
 * where the previous one ended: the kernel sends its readahead out of
 * order) also gets the next QFS_RA_WINDOW chunks read in the background
 * with the same quorum read (qfs_quorum_get_begin); a read of such a chunk
 * waits for it and takes its buffer as the cache. Fetched-ahead chunks are
 * dropped on a read elsewhere, on any write, truncate or fallocate of the
 * inode (before it changes anything), when an open finds the inode changed,
 * and at the last release, so a read never sees bytes older than this
 * client's own writes; another client's writes are seen after the next
 * open, as with the cache (close-to-open).
 *
 * Locking: fs->open_lock guards the open table and reference counts;
 * oi->lock guards one open inode's state and is held across its network
 * I/O, so the writes of one inode in this client are applied in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs_priv.h"
#include "proto/log.h"

#define PATCH_RETRIES 8

static void ra_drop_all(struct qfs_fs *fs, struct qfs_open_inode *oi);

/* ---- the open-inode table ---- */

static unsigned open_bucket(uint64_t ino)
{
	return (unsigned)((ino * 0x9e3779b97f4a7c15ULL) >> 54) % QFS_OPEN_BUCKETS;
}

/* Caller holds fs->open_lock. */
static struct qfs_open_inode *open_lookup(struct qfs_fs *fs, uint64_t ino)
{
	struct qfs_open_inode *oi;

	for (oi = fs->open[open_bucket(ino)]; oi; oi = oi->next)
		if (oi->ino == ino)
			return oi;
	return NULL;
}

struct qfs_open_inode *qfs_open_find(struct qfs_fs *fs, uint64_t ino)
{
	struct qfs_open_inode *oi;

	pthread_mutex_lock(&fs->open_lock);
	oi = open_lookup(fs, ino);
	if (oi)
		oi->refs++;
	pthread_mutex_unlock(&fs->open_lock);
	return oi;
}

/* Find or create the open inode of @ino with one more reference. */
static struct qfs_open_inode *open_get(struct qfs_fs *fs, uint64_t ino)
{
	struct qfs_open_inode *oi;
	unsigned b = open_bucket(ino);

	pthread_mutex_lock(&fs->open_lock);
	oi = open_lookup(fs, ino);
	if (!oi) {
		oi = calloc(1, sizeof(*oi));
		if (oi) {
			oi->ino = ino;
			oi->xattrs_at_open = -1; /* until an open reads the inode */
			pthread_mutex_init(&oi->lock, NULL);
			oi->next = fs->open[b];
			fs->open[b] = oi;
		}
	}
	if (oi)
		oi->refs++;
	pthread_mutex_unlock(&fs->open_lock);
	return oi;
}

/* Drop a reference; the last one unhooks the inode. Returns true when the
 * inode was unlinked while open and must now be deleted. */
static bool open_unref(struct qfs_fs *fs, struct qfs_open_inode *oi)
{
	struct qfs_open_inode **pp;
	bool last, unlinked;

	pthread_mutex_lock(&fs->open_lock);
	last = --oi->refs == 0;
	unlinked = oi->unlinked;
	if (last) {
		for (pp = &fs->open[open_bucket(oi->ino)]; *pp; pp = &(*pp)->next) {
			if (*pp == oi) {
				*pp = oi->next;
				break;
			}
		}
	}
	pthread_mutex_unlock(&fs->open_lock);
	if (!last)
		return false;
	ra_drop_all(fs, oi); /* nobody else can reach oi: no lock needed */
	qlog_debug("release %016llx: readahead of the mount: %llu started, %llu used, "
		   "%llu dropped, peak %llu bytes",
		   (unsigned long long)oi->ino, (unsigned long long)atomic_load(&fs->ra_started),
		   (unsigned long long)atomic_load(&fs->ra_used),
		   (unsigned long long)atomic_load(&fs->ra_dropped),
		   (unsigned long long)atomic_load(&fs->ra_peak));
	pthread_mutex_destroy(&oi->lock);
	free(oi->wb);
	free(oi->rc);
	free(oi->vc);
	free(oi);
	return unlinked;
}

void qfs_open_put(struct qfs_fs *fs, struct qfs_open_inode *oi)
{
	uint64_t ino = oi->ino;

	if (open_unref(fs, oi))
		qfs_delete_inode(fs, ino);
}

bool qfs_file_is_open(struct qfs_fs *fs, uint64_t ino)
{
	bool open;

	pthread_mutex_lock(&fs->open_lock);
	open = open_lookup(fs, ino) != NULL;
	pthread_mutex_unlock(&fs->open_lock);
	return open;
}

void qfs_file_mark_unlinked(struct qfs_fs *fs, uint64_t ino)
{
	struct qfs_open_inode *oi;

	pthread_mutex_lock(&fs->open_lock);
	oi = open_lookup(fs, ino);
	if (oi)
		oi->unlinked = true;
	pthread_mutex_unlock(&fs->open_lock);
}

/* ---- chunk version cache (oi->lock held) ---- */

/* The slot of chunk @index, NULL before this client wrote anything. */
static struct qfs_chunk_ver *vc_slot(struct qfs_open_inode *oi, uint64_t index)
{
	return oi->vc ? &oi->vc[index % oi->nvc] : NULL;
}

/* Room for chunk @index: the cache grows in powers of two up to
 * QFS_VC_SLOTS (a small file's stays small), keeping what it holds. */
static void vc_grow(struct qfs_open_inode *oi, uint64_t index)
{
	unsigned n = oi->nvc ? oi->nvc : 8;
	struct qfs_chunk_ver *vc;

	while (n < QFS_VC_SLOTS && n <= index)
		n *= 2;
	if (n == oi->nvc)
		return;
	vc = calloc(n, sizeof(*vc));
	if (!vc)
		return; /* keep the smaller one */
	for (unsigned i = 0; i < oi->nvc; i++)
		if (oi->vc[i].valid)
			vc[oi->vc[i].index % n] = oi->vc[i];
	free(oi->vc);
	oi->vc = vc;
	oi->nvc = n;
}

static void vc_set(struct qfs_open_inode *oi, uint64_t index, const struct proto_version *ver,
		   uint64_t epoch, uint32_t len)
{
	struct qfs_chunk_ver *v;

	vc_grow(oi, index);
	v = vc_slot(oi, index);
	if (!v)
		return;
	v->valid = true;
	v->index = index;
	v->ver = *ver;
	v->epoch = epoch;
	v->len = len;
}

static void vc_drop(struct qfs_open_inode *oi, uint64_t index)
{
	struct qfs_chunk_ver *v = vc_slot(oi, index);

	if (v && v->valid && v->index == index)
		v->valid = false;
}

static void caches_drop(struct qfs_fs *fs, struct qfs_open_inode *oi)
{
	if (oi->vc)
		memset(oi->vc, 0, oi->nvc * sizeof(*oi->vc));
	oi->rc_valid = false;
	ra_drop_all(fs, oi);
}

/* Current version, epoch and length of chunk @index: from the cache or a
 * quorum read of its metadata. An absent chunk gives the zero version. */
static int chunk_state(struct qfs_fs *fs, struct qfs_open_inode *oi, uint64_t index,
		       struct qfs_chunk_ver *out)
{
	struct qfs_chunk_ver *v = vc_slot(oi, index);
	struct proto_key key;
	struct qfs_rec rec;
	int rc;

	if (v && v->valid && v->index == index) {
		*out = *v;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	out->index = index;
	proto_key_chunk(&key, oi->ino, index);
	rc = qfs_quorum_get(fs->q, &key, 0, 0, &rec);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	/* A tombstone (a punched hole) is "absent" to PATCH: base zero. */
	if (!(rec.meta.flags & PROTO_REC_TOMBSTONE)) {
		out->ver = rec.meta.ver;
		out->epoch = rec.meta.epoch;
		out->len = rec.meta.len;
	}
	qfs_rec_free(&rec);
	return 0;
}

/* ---- reading ---- */

/* Bytes [co, co + n) of a chunk into @dst, from @src holding chunk bytes
 * [lo, hi): the overlap is copied, the rest zeroed. */
static void copy_out(uint8_t *dst, uint32_t co, uint32_t n, const uint8_t *src, uint32_t lo,
		     uint32_t hi)
{
	uint32_t a = lo > co ? lo : co;
	uint32_t b = hi < co + n ? hi : co + n;

	if (a >= b) {
		memset(dst, 0, n);
		return;
	}
	memset(dst, 0, a - co);
	memcpy(dst + (a - co), src + (a - lo), b - a);
	memset(dst + (b - co), 0, co + n - b);
}

/* Make @rec (a whole-chunk read of chunk @index, NULL when absent) the read
 * cache: its buffer is taken, not copied, and clipped to the bytes a later
 * truncate left valid. oi->lock held. */
static void rc_install(struct qfs_fs *fs, struct qfs_open_inode *oi, uint64_t index,
		       struct qfs_rec *rec)
{
	uint32_t len = 0, valid;

	if (rec && rec->val && rec->off == 0 && !(rec->meta.flags & PROTO_REC_TOMBSTONE)) {
		valid = qfs_inode_valid_len(fs, &oi->inode, index, rec->meta.epoch);
		len = rec->val_len < valid ? rec->val_len : valid;
		free(oi->rc);
		oi->rc = rec->val;
		rec->val = NULL;
		rec->val_len = 0;
	}
	oi->rc_index = index;
	oi->rc_len = len;
	oi->rc_valid = true;
}

/*
 * Read bytes [co, co + n) of chunk @index into @dst: zeros for holes, for
 * bytes past the chunk's end and for bytes a later truncate cut off.
 * @whole fetches the entire chunk into the read cache (sequential reads).
 */
static int chunk_read(struct qfs_fs *fs, struct qfs_open_inode *oi, uint64_t index,
		      uint32_t co, uint32_t n, uint8_t *dst, bool whole)
{
	struct proto_key key;
	struct qfs_rec rec;
	uint32_t valid, got_lo, got_hi;
	int rc;

	if (oi->rc_valid && oi->rc_index == index) {
		copy_out(dst, co, n, oi->rc, 0, oi->rc_len);
		return 0;
	}
	proto_key_chunk(&key, oi->ino, index);
	rc = qfs_quorum_get(fs->q, &key, whole ? 0 : co, whole ? PROTO_GET_WHOLE : n, &rec);
	if (rc == -ENOENT) {
		memset(dst, 0, n);
		return 0;
	}
	if (rc < 0)
		return rc;
	if (rec.meta.flags & PROTO_REC_TOMBSTONE) {
		qfs_rec_free(&rec);
		memset(dst, 0, n);
		return 0;
	}
	if (whole && rec.off == 0) {
		rc_install(fs, oi, index, &rec);
		copy_out(dst, co, n, oi->rc, 0, oi->rc_len);
		qfs_rec_free(&rec);
		return 0;
	}
	valid = qfs_inode_valid_len(fs, &oi->inode, index, rec.meta.epoch);
	got_lo = rec.off;
	got_hi = rec.off + rec.val_len;
	if (got_hi > valid)
		got_hi = valid > got_lo ? valid : got_lo;
	copy_out(dst, co, n, rec.val, got_lo, got_hi);
	qfs_rec_free(&rec);
	return 0;
}

/* ---- readahead (oi->lock held, or the last reference) ---- */

static struct qfs_ra_slot *ra_find(struct qfs_open_inode *oi, uint64_t index)
{
	for (int i = 0; i < QFS_RA_WINDOW; i++)
		if (oi->ra[i].op && oi->ra[i].index == index)
			return &oi->ra[i];
	return NULL;
}

/* Wait for the read of @s and free the slot; its result goes to @rec (NULL:
 * dropped). Returns the read's result. */
static int ra_end(struct qfs_fs *fs, struct qfs_ra_slot *s, struct qfs_rec *rec)
{
	int rc = qfs_quorum_get_end(fs->q, s->op, rec);

	s->op = NULL;
	atomic_fetch_sub(&fs->ra_bytes, s->charged);
	s->charged = 0;
	return rc;
}

static void ra_drop(struct qfs_fs *fs, struct qfs_ra_slot *s)
{
	if (!s->op)
		return;
	ra_end(fs, s, NULL);
	atomic_fetch_add(&fs->ra_dropped, 1);
}

/* Forget every chunk fetched ahead (waits for reads in flight: their result
 * may predate what the caller is about to change). */
static void ra_drop_all(struct qfs_fs *fs, struct qfs_open_inode *oi)
{
	for (int i = 0; i < QFS_RA_WINDOW; i++)
		ra_drop(fs, &oi->ra[i]);
	oi->ra_run = 0;
}

void qfs_file_ra_stop_all(struct qfs_fs *fs)
{
	pthread_mutex_lock(&fs->open_lock);
	for (int b = 0; b < QFS_OPEN_BUCKETS; b++) {
		for (struct qfs_open_inode *oi = fs->open[b]; oi; oi = oi->next) {
			pthread_mutex_lock(&oi->lock);
			ra_drop_all(fs, oi);
			pthread_mutex_unlock(&oi->lock);
		}
	}
	pthread_mutex_unlock(&fs->open_lock);
}

/* Chunk @index fetched ahead: wait for it and make it the read cache.
 * False when it was not fetched ahead or that read failed (the caller then
 * reads it itself, with its own error). */
static bool ra_take(struct qfs_fs *fs, struct qfs_open_inode *oi, uint64_t index)
{
	struct qfs_ra_slot *s = ra_find(oi, index);
	struct qfs_rec rec;
	int rc;

	if (!s)
		return false;
	rc = ra_end(fs, s, &rec);
	if (rc < 0 && rc != -ENOENT) {
		atomic_fetch_add(&fs->ra_dropped, 1);
		return false;
	}
	rc_install(fs, oi, index, rc == 0 ? &rec : NULL);
	qfs_rec_free(&rec);
	atomic_fetch_add(&fs->ra_used, 1);
	return true;
}

/* Fetch chunks [first, first + QFS_RA_WINDOW) below EOF ahead, as far as
 * free slots and the mount's budget allow; end those outside the window. */
static void ra_schedule(struct qfs_fs *fs, struct qfs_open_inode *oi, uint64_t first)
{
	uint64_t cs = fs->chunk_size, nchunks = (oi->size + cs - 1) / cs;
	struct proto_key key;

	for (int i = 0; i < QFS_RA_WINDOW; i++) {
		struct qfs_ra_slot *s = &oi->ra[i];

		if (s->op && (s->index < first || s->index >= first + QFS_RA_WINDOW))
			ra_drop(fs, s);
	}
	for (uint64_t k = first; k < first + QFS_RA_WINDOW && k < nchunks; k++) {
		struct qfs_ra_slot *s = NULL;
		uint64_t now, peak;

		if ((oi->rc_valid && oi->rc_index == k) || ra_find(oi, k))
			continue;
		for (int i = 0; i < QFS_RA_WINDOW && !s; i++)
			if (!oi->ra[i].op)
				s = &oi->ra[i];
		if (!s)
			return;
		now = atomic_fetch_add(&fs->ra_bytes, cs) + cs;
		if (now > QFS_RA_MOUNT_BYTES) {
			atomic_fetch_sub(&fs->ra_bytes, cs);
			return;
		}
		proto_key_chunk(&key, oi->ino, k);
		if (qfs_quorum_get_begin(fs->q, &key, 0, PROTO_GET_WHOLE, &s->op) < 0) {
			s->op = NULL;
			atomic_fetch_sub(&fs->ra_bytes, cs);
			return;
		}
		s->index = k;
		s->charged = (uint32_t)cs;
		atomic_fetch_add(&fs->ra_started, 1);
		peak = atomic_load(&fs->ra_peak);
		while (now > peak && !atomic_compare_exchange_weak(&fs->ra_peak, &peak, now))
			;
	}
}

void qfs_file_ra_stats(struct qfs_fs *fs, struct qfs_ra_stats *out)
{
	out->bytes = atomic_load(&fs->ra_bytes);
	out->peak = atomic_load(&fs->ra_peak);
	out->started = atomic_load(&fs->ra_started);
	out->used = atomic_load(&fs->ra_used);
	out->dropped = atomic_load(&fs->ra_dropped);
}

/* ---- writing ---- */

static int put_whole_chunk(struct qfs_fs *fs, struct qfs_open_inode *oi, uint64_t index,
			   const uint8_t *body, uint32_t len)
{
	struct proto_meta m = { 0 };
	struct proto_key key;
	int rc;

	m.ver = qfs_quorum_version(fs->q);
	m.epoch = oi->inode.epoch;
	m.len = len;
	proto_key_chunk(&key, oi->ino, index);
	qfs_sync_note(fs, oi, index);
	rc = qfs_quorum_put(fs->q, &key, &m, body);
	if (rc == 0)
		vc_set(oi, index, &m.ver, m.epoch, len);
	else
		vc_drop(oi, index);
	return rc;
}

/*
 * Rewrite chunk @index whole: its valid bytes with [lo, hi) of @data laid
 * over them (read-modify-write, for chunks of an older truncate epoch).
 */
static int rewrite_chunk(struct qfs_fs *fs, struct qfs_open_inode *oi, uint64_t index,
			 uint32_t lo, uint32_t hi, const uint8_t *data, uint32_t old_len)
{
	uint32_t len = old_len > hi ? old_len : hi;
	uint8_t *body;
	int rc;

	body = malloc(len ? len : 1);
	if (!body)
		return -ENOMEM;
	oi->rc_valid = false;
	rc = chunk_read(fs, oi, index, 0, len, body, false);
	if (rc == 0) {
		if (hi > lo)
			memcpy(body + lo, data, hi - lo);
		rc = put_whole_chunk(fs, oi, index, body, len);
	}
	free(body);
	return rc;
}

/* End of the file's bytes within chunk @index, our buffered writes
 * included: a write covering [0, end) replaces everything valid there. */
static uint32_t chunk_valid_end(const struct qfs_fs *fs, const struct qfs_open_inode *oi,
				uint64_t index)
{
	uint64_t start = index * fs->chunk_size;
	uint64_t size = oi->inode.size > oi->size ? oi->inode.size : oi->size;
	uint64_t known = size > start ? size - start : 0;

	return known > fs->chunk_size ? fs->chunk_size : (uint32_t)known;
}

/* Write bytes [lo, hi) of chunk @index (chunk-relative) to the cluster. */
static int chunk_write(struct qfs_fs *fs, struct qfs_open_inode *oi, uint64_t index,
		       uint32_t lo, uint32_t hi, const uint8_t *data)
{
	uint32_t valid_end = chunk_valid_end(fs, oi, index);
	struct qfs_chunk_ver cur;
	struct proto_version ver, stored;
	struct proto_key key;
	int rc = 0;

	if (oi->rc_valid && oi->rc_index == index)
		oi->rc_valid = false;
	/* Everything valid in the chunk is overwritten: one whole PUT. */
	if (lo == 0 && hi >= valid_end)
		return put_whole_chunk(fs, oi, index, data, hi);

	proto_key_chunk(&key, oi->ino, index);
	qfs_sync_note(fs, oi, index);
	for (int attempt = 0; attempt < PATCH_RETRIES; attempt++) {
		rc = chunk_state(fs, oi, index, &cur);
		if (rc < 0)
			return rc;
		if (!proto_version_is_zero(&cur.ver) && cur.len &&
		    (cur.epoch < oi->inode.epoch ||
		     qfs_inode_valid_len(fs, &oi->inode, index, cur.epoch) < cur.len)) {
			uint32_t old = cur.len < valid_end ? valid_end : cur.len;

			return rewrite_chunk(fs, oi, index, lo, hi, data + lo,
					     old > fs->chunk_size ? fs->chunk_size : old);
		}
		ver = qfs_quorum_version(fs->q);
		rc = qfs_quorum_patch(fs->q, &key, &cur.ver, &ver, oi->inode.epoch, lo, data + lo,
				      hi - lo, &stored);
		if (rc == 0) {
			vc_set(oi, index, &ver, oi->inode.epoch, cur.len > hi ? cur.len : hi);
			return 0;
		}
		vc_drop(oi, index);
		if (rc != -ESTALE)
			return rc;
		qlog_debug("chunk %016llx/%llu moved on under us, retrying",
			   (unsigned long long)oi->ino, (unsigned long long)index);
	}
	return -EIO;
}

/* Wait for every streamed chunk PUT; the first error. oi->lock held. */
static int inflight_drain(struct qfs_fs *fs, struct qfs_open_inode *oi)
{
	int rc = 0, err;

	for (int i = 0; i < oi->ninflight; i++) {
		err = qfs_quorum_put_end(fs->q, oi->inflight[i]);
		if (err < 0 && !rc)
			rc = err;
	}
	oi->ninflight = 0;
	return rc;
}

/*
 * A full chunk of a sequential writer: send it as a whole-chunk PUT and keep
 * up to QFS_WB_INFLIGHT of them in flight (the oldest is waited for first),
 * so streaming writes overlap their round trips. oi->lock held.
 */
static int chunk_stream(struct qfs_fs *fs, struct qfs_open_inode *oi, uint64_t index,
			const uint8_t *body, uint32_t len)
{
	struct proto_meta m = { 0 };
	struct proto_key key;
	int rc = 0;

	if (oi->ninflight == QFS_WB_INFLIGHT) {
		rc = qfs_quorum_put_end(fs->q, oi->inflight[0]);
		memmove(oi->inflight, oi->inflight + 1,
			(size_t)(--oi->ninflight) * sizeof(oi->inflight[0]));
		if (rc < 0)
			return rc;
	}
	if (oi->rc_valid && oi->rc_index == index)
		oi->rc_valid = false;
	m.ver = qfs_quorum_version(fs->q);
	m.epoch = oi->inode.epoch;
	m.len = len;
	proto_key_chunk(&key, oi->ino, index);
	qfs_sync_note(fs, oi, index);
	rc = qfs_quorum_put_begin(fs->q, &key, &m, body, &oi->inflight[oi->ninflight]);
	if (rc < 0) {
		vc_drop(oi, index);
		return rc;
	}
	oi->ninflight++;
	vc_set(oi, index, &m.ver, m.epoch, len);
	return 0;
}

/* Send the write buffer out and wait for everything in flight. oi->lock held. */
static int wb_flush(struct qfs_fs *fs, struct qfs_open_inode *oi)
{
	/* Streamed chunks first: buffered bytes are newer and may patch them. */
	int rc = inflight_drain(fs, oi), err = 0;

	if (oi->wb_lo != oi->wb_hi)
		err = chunk_write(fs, oi, oi->wb_index, oi->wb_lo, oi->wb_hi, oi->wb);
	oi->wb_lo = oi->wb_hi = 0;
	return rc < 0 ? rc : err;
}

/* Write size and mtime of the inode when writes changed them. oi->lock held. */
static int inode_flush(struct qfs_fs *fs, struct qfs_open_inode *oi)
{
	struct proto_inode upd;
	struct timespec now;
	int rc;

	if (!oi->size_dirty)
		return 0;
	memset(&upd, 0, sizeof(upd));
	clock_gettime(CLOCK_REALTIME, &now);
	upd.mtime_ver = qfs_quorum_version(fs->q);
	upd.mtime_sec = now.tv_sec;
	upd.mtime_nsec = (uint32_t)now.tv_nsec;
	if (oi->size > oi->inode.size) {
		upd.size_ver = upd.mtime_ver;
		upd.epoch = oi->inode.epoch;
		upd.size = oi->size;
		upd.ntrunc = oi->inode.ntrunc;
		memcpy(upd.trunc, oi->inode.trunc, sizeof(upd.trunc));
	}
	rc = qfs_inode_write(fs, oi->ino, &upd);
	qfs_icache_drop(fs, oi->ino);
	if (rc < 0)
		return rc;
	proto_inode_merge(&oi->inode, &upd, &oi->inode);
	oi->size_dirty = false;
	return 0;
}

/* The mode without setuid, and without setgid when group-executable (the
 * rule the kernel applies on write, truncate and chown). */
static uint32_t mode_killpriv(uint32_t mode)
{
	mode &= ~(uint32_t)S_ISUID;
	if (mode & S_IXGRP)
		mode &= ~(uint32_t)S_ISGID;
	return mode;
}

/* A write to a setuid/setgid file drops those bits first. oi->lock held. */
static int write_killpriv(struct qfs_fs *fs, struct qfs_open_inode *oi)
{
	struct proto_inode upd;
	int rc;

	if (mode_killpriv(oi->inode.mode) == oi->inode.mode)
		return 0;
	memset(&upd, 0, sizeof(upd));
	upd.attr_ver = qfs_quorum_version(fs->q);
	upd.mode = mode_killpriv(oi->inode.mode);
	upd.uid = oi->inode.uid;
	upd.gid = oi->inode.gid;
	upd.rdev = oi->inode.rdev;
	rc = qfs_inode_write(fs, oi->ino, &upd);
	qfs_icache_drop(fs, oi->ino);
	if (rc == 0)
		proto_inode_merge(&oi->inode, &upd, &oi->inode);
	return rc;
}

/* ---- the API ---- */

/* Install @fresh as the inode state of an open and make the handle. */
static int open_install(struct qfs_fs *fs, uint64_t ino, const struct proto_inode *fresh,
			int xattrs, unsigned flags, struct qfs_file **out, bool *changed)
{
	struct qfs_open_inode *oi;
	struct qfs_file *f;
	int rc;

	f = calloc(1, sizeof(*f));
	oi = f ? open_get(fs, ino) : NULL;
	if (!oi) {
		free(f);
		return -ENOMEM;
	}
	pthread_mutex_lock(&oi->lock);
	*changed = !oi->have_inode ||
		   proto_version_cmp(&oi->inode.size_ver, &fresh->size_ver) != 0 ||
		   proto_version_cmp(&oi->inode.mtime_ver, &fresh->mtime_ver) != 0;
	if (*changed)
		caches_drop(fs, oi);
	proto_inode_merge(&oi->inode, fresh, &oi->inode);
	oi->have_inode = true;
	oi->xattrs_at_open = (int8_t)xattrs;
	if (!oi->size_dirty || oi->size < oi->inode.size)
		oi->size = oi->inode.size;
	pthread_mutex_unlock(&oi->lock);

	f->fs = fs;
	f->oi = oi;
	f->flags = flags;
	if (flags & QFS_O_TRUNC) {
		rc = qfs_file_truncate(fs, ino, oi, 0);
		if (rc < 0) {
			qfs_open_put(fs, oi);
			free(f);
			return rc;
		}
		*changed = true;
	}
	*out = f;
	return 0;
}

int qfs_file_open_new(struct qfs_fs *fs, uint64_t ino, const struct proto_inode *inode,
		      unsigned flags, struct qfs_file **out)
{
	bool changed;

	return open_install(fs, ino, inode, 0, flags & ~QFS_O_TRUNC, out, &changed);
}

/*
 * The first OPEN_PREFETCH bytes of chunk 0, read while an open for reading
 * reads the inode (unless the inode cache already says the file is
 * bigger): when that is the whole chunk (a small file), it becomes
 * the read cache, and the read that usually follows an open costs no round
 * trip. Installed only when this mount completed no write meanwhile (it
 * could be older than a write of ours) and nothing is cached yet; the
 * inode just read bounds it as any read (truncation epochs).
 */
#define OPEN_PREFETCH (128u * 1024)

static struct qfs_get_op *open_prefetch_begin(struct qfs_fs *fs, uint64_t ino, unsigned flags)
{
	struct proto_inode known;
	struct qfs_get_op *op;
	struct proto_key key;
	uint32_t nlink;

	if (flags & (QFS_O_WRITE | QFS_O_TRUNC | QFS_O_DIRECT))
		return NULL;
	/* the lookup just before usually read the inode: no use fetching the
	 * head of a file known to be bigger than what is fetched */
	if (qfs_icache_get(fs, ino, QFS_ICACHE_TTL_NS, &known, &nlink) &&
	    (known.size > OPEN_PREFETCH || !S_ISREG(known.mode)))
		return NULL;
	proto_key_chunk(&key, ino, 0);
	return qfs_quorum_get_begin(fs->q, &key, 0, OPEN_PREFETCH, &op) == 0 ? op : NULL;
}

static void open_prefetch_end(struct qfs_fs *fs, struct qfs_open_inode *oi,
			      struct qfs_get_op *op, uint64_t writes)
{
	struct qfs_rec rec;
	int rc;

	rc = qfs_quorum_get_end(fs->q, op, &rec);
	if (!oi || (rc < 0 && rc != -ENOENT))
		goto out;
	pthread_mutex_lock(&oi->lock);
	if (S_ISREG(oi->inode.mode) && !oi->rc_valid && oi->wb_lo == oi->wb_hi &&
	    !oi->ninflight && qfs_quorum_writes(fs->q) == writes) {
		if (rc == -ENOENT)
			rc_install(fs, oi, 0, NULL); /* no chunk 0: zeros */
		else if (rec.off == 0 && rec.val_len >= rec.meta.len)
			rc_install(fs, oi, 0, &rec);
	}
	pthread_mutex_unlock(&oi->lock);
out:
	qfs_rec_free(&rec);
}

int qfs_file_open(struct qfs_fs *fs, uint64_t ino, unsigned flags, struct qfs_file **out,
		  bool *changed)
{
	uint64_t writes = qfs_quorum_writes(fs->q);
	struct qfs_get_op *pf;
	struct proto_inode fresh;
	uint32_t nlink;
	int rc;

	if (fs->read_only && (flags & (QFS_O_WRITE | QFS_O_TRUNC)))
		return -EROFS;
	pf = open_prefetch_begin(fs, ino, flags);
	/* Close-to-open: every open reads the inode with a read quorum (and
	 * learns on the way whether it has extended attributes). */
	rc = qfs_inode_read(fs, ino, &fresh, &nlink);
	if (rc == 0 && S_ISDIR(fresh.mode) && (flags & QFS_O_WRITE))
		rc = -EISDIR;
	if (rc == 0)
		rc = open_install(fs, ino, &fresh, qfs_icache_xattrs(fs, ino), flags, out, changed);
	if (pf)
		open_prefetch_end(fs, rc == 0 ? (*out)->oi : NULL, pf, writes);
	return rc;
}

bool qfs_file_no_xattrs(struct qfs_fs *fs, uint64_t ino)
{
	struct qfs_open_inode *oi = qfs_open_find(fs, ino);
	bool none = false;

	if (!oi)
		return false;
	pthread_mutex_lock(&oi->lock);
	none = oi->xattrs_at_open == 0;
	pthread_mutex_unlock(&oi->lock);
	qfs_open_put(fs, oi);
	return none;
}

void qfs_file_xattrs_changed(struct qfs_fs *fs, uint64_t ino)
{
	struct qfs_open_inode *oi = qfs_open_find(fs, ino);

	if (!oi)
		return;
	pthread_mutex_lock(&oi->lock);
	oi->xattrs_at_open = -1;
	pthread_mutex_unlock(&oi->lock);
	qfs_open_put(fs, oi);
}

/* A read within this distance of where the previous one ended continues
 * it: the kernel's readahead requests arrive out of order. */
#define RA_SLACK (1024u * 1024)
#define RA_RUN 3 /* reads in a row that make a sequential reader */

ssize_t qfs_file_read(struct qfs_file *f, void *buf, size_t size, uint64_t off)
{
	struct qfs_fs *fs = f->fs;
	struct qfs_open_inode *oi = f->oi;
	uint32_t cs = fs->chunk_size;
	size_t done = 0;
	bool whole, near;
	int rc = 0;

	pthread_mutex_lock(&oi->lock);
	/* Our own buffered bytes must be readable: send them first. */
	rc = wb_flush(fs, oi);
	if (rc < 0)
		goto out;
	if (off >= oi->size)
		goto out;
	if (size > oi->size - off)
		size = (size_t)(oi->size - off);
	near = oi->ra_run && off + RA_SLACK >= oi->last_read_end &&
	       off <= oi->last_read_end + RA_SLACK;
	if (near) {
		oi->ra_run++;
	} else {
		ra_drop_all(fs, oi); /* a reader elsewhere: nothing ahead is wanted */
		oi->ra_run = 1;
	}
	whole = (oi->ra_run >= 2 && off == oi->last_read_end) || oi->ra_run >= RA_RUN;
	while (done < size) {
		uint64_t pos = off + done;
		uint64_t index = pos / cs;
		uint32_t co = (uint32_t)(pos % cs);
		uint32_t n = cs - co;

		if (n > size - done)
			n = (uint32_t)(size - done);
		if (!(oi->rc_valid && oi->rc_index == index))
			ra_take(fs, oi, index);
		rc = chunk_read(fs, oi, index, co, n, (uint8_t *)buf + done, whole || n >= cs / 2);
		if (rc < 0)
			break;
		done += n;
	}
	oi->last_read_end = off + done;
	if (rc == 0 && oi->ra_run >= RA_RUN)
		ra_schedule(fs, oi, (off + done - 1) / cs + 1);
out:
	pthread_mutex_unlock(&oi->lock);
	/* never a short count: FUSE takes a short read for the end of the file,
	 * so a failed chunk after a good one would silently truncate it */
	return rc < 0 ? rc : (ssize_t)done;
}

ssize_t qfs_file_write(struct qfs_file *f, const void *buf, size_t size, uint64_t off)
{
	struct qfs_fs *fs = f->fs;
	struct qfs_open_inode *oi = f->oi;
	uint32_t cs = fs->chunk_size;
	size_t done = 0;
	int rc = 0;

	if (fs->read_only)
		return -EROFS;
	pthread_mutex_lock(&oi->lock);
	ra_drop_all(fs, oi);
	rc = write_killpriv(fs, oi);
	if (rc < 0)
		goto out;
	if (f->flags & QFS_O_APPEND)
		off = oi->size;
	if (off + size < off || off + size > (uint64_t)INT64_MAX) {
		rc = -EFBIG;
		goto out;
	}
	while (done < size) {
		uint64_t pos = off + done;
		uint64_t index = pos / cs;
		uint32_t co = (uint32_t)(pos % cs);
		uint32_t n = cs - co;

		if (n > size - done)
			n = (uint32_t)(size - done);
		/* The buffer holds one contiguous extent of one chunk. */
		if (oi->wb_lo != oi->wb_hi &&
		    (oi->wb_index != index || co > oi->wb_hi || co + n < oi->wb_lo)) {
			rc = wb_flush(fs, oi);
			if (rc < 0)
				break;
		}
		if (!oi->wb) {
			oi->wb = malloc(cs);
			if (!oi->wb) {
				rc = -ENOMEM;
				break;
			}
		}
		memcpy(oi->wb + co, (const uint8_t *)buf + done, n);
		if (oi->wb_lo == oi->wb_hi) {
			oi->wb_index = index;
			oi->wb_lo = co;
			oi->wb_hi = co + n;
		} else {
			if (co < oi->wb_lo)
				oi->wb_lo = co;
			if (co + n > oi->wb_hi)
				oi->wb_hi = co + n;
		}
		done += n;
		if (oi->size < pos + n)
			oi->size = pos + n;
		oi->size_dirty = true;
		/* A full chunk goes out at once: sequential writers stream. */
		if (oi->wb_lo == 0 && oi->wb_hi == cs) {
			rc = chunk_stream(fs, oi, index, oi->wb, cs);
			oi->wb_lo = oi->wb_hi = 0;
			if (rc < 0)
				break;
		}
	}
	/* O_DIRECT: the data is on W replicas before we return, and so is a
	 * size it grew to; an mtime alone waits for flush, as buffered writes
	 * do (it was one more round trip on every 4 KiB write). */
	if (rc == 0 && (f->flags & QFS_O_DIRECT)) {
		rc = wb_flush(fs, oi);
		if (rc == 0 && oi->size > oi->inode.size)
			rc = inode_flush(fs, oi);
	}
out:
	pthread_mutex_unlock(&oi->lock);
	return rc < 0 ? rc : (ssize_t)done;
}

/* True when the buffered extent covers everything valid in its chunk, so it
 * goes out as one whole PUT that needs no base version. oi->lock held. */
static bool wb_is_whole(const struct qfs_fs *fs, const struct qfs_open_inode *oi)
{
	return oi->wb_lo == 0 && oi->wb_lo != oi->wb_hi &&
	       oi->wb_hi >= chunk_valid_end(fs, oi, oi->wb_index);
}

int qfs_file_flush(struct qfs_file *f)
{
	struct qfs_fs *fs = f->fs;
	struct qfs_open_inode *oi = f->oi;
	int rc, err;

	pthread_mutex_lock(&oi->lock);
	/* A small file's only chunk and its new size travel together: the
	 * chunk is streamed, the inode written meanwhile, then both awaited.
	 * close returns only when both are on W replicas. */
	if (wb_is_whole(fs, oi)) {
		rc = chunk_stream(fs, oi, oi->wb_index, oi->wb, oi->wb_hi);
		oi->wb_lo = oi->wb_hi = 0;
	} else {
		rc = wb_flush(fs, oi);
	}
	if (rc == 0)
		rc = inode_flush(fs, oi);
	err = inflight_drain(fs, oi);
	pthread_mutex_unlock(&oi->lock);
	return rc < 0 ? rc : err;
}

int qfs_file_fsync(struct qfs_file *f, bool datasync)
{
	int rc;

	(void)datasync;
	rc = qfs_file_flush(f);
	return rc < 0 ? rc : qfs_file_sync_oi(f->fs, f->oi);
}

int qfs_file_release(struct qfs_file *f)
{
	int rc;

	rc = qfs_file_flush(f);
	qfs_open_put(f->fs, f->oi);
	free(f);
	return rc;
}

/* Rewrite every chunk below @size written before the current epoch, so the
 * truncation points can be forgotten (the stack is full). oi->lock held. */
static int rewrite_old_chunks(struct qfs_fs *fs, struct qfs_open_inode *oi, uint64_t size)
{
	uint64_t nchunks = (size + fs->chunk_size - 1) / fs->chunk_size;
	struct qfs_chunk_ver cur;
	int rc;

	for (uint64_t k = 0; k < nchunks; k++) {
		rc = chunk_state(fs, oi, k, &cur);
		if (rc < 0)
			return rc;
		if (proto_version_is_zero(&cur.ver) || !cur.len || cur.epoch >= oi->inode.epoch)
			continue;
		rc = rewrite_chunk(fs, oi, k, 0, 0, NULL, cur.len);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int qfs_file_truncate(struct qfs_fs *fs, uint64_t ino, struct qfs_open_inode *oi,
		      uint64_t size)
{
	struct qfs_open_inode *own = NULL;
	struct proto_inode cur, upd;
	struct timespec now;
	int rc;

	if (fs->read_only)
		return -EROFS;
	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	if (!oi)
		oi = own = open_get(fs, ino);
	if (!oi)
		return -ENOMEM;
	pthread_mutex_lock(&oi->lock);
	ra_drop_all(fs, oi);
	rc = wb_flush(fs, oi);
	if (rc == 0)
		rc = inode_flush(fs, oi);
	if (rc == 0)
		rc = qfs_inode_read(fs, ino, &cur, NULL);
	if (rc < 0)
		goto out;
	if (S_ISDIR(cur.mode)) {
		rc = -EISDIR;
		goto out;
	}
	oi->inode = cur;
	oi->have_inode = true;

	memset(&upd, 0, sizeof(upd));
	clock_gettime(CLOCK_REALTIME, &now);
	upd.mtime_ver = qfs_quorum_version(fs->q);
	upd.mtime_sec = now.tv_sec;
	upd.mtime_nsec = (uint32_t)now.tv_nsec;
	upd.size_ver = upd.mtime_ver;
	upd.size = size;
	upd.epoch = cur.epoch;
	upd.ntrunc = cur.ntrunc;
	memcpy(upd.trunc, cur.trunc, sizeof(upd.trunc));
	if (size < cur.size) {
		/* Shrink: a new epoch; older bytes at or past @size read as zeros. */
		while (upd.ntrunc && upd.trunc[upd.ntrunc - 1].size >= size)
			upd.ntrunc--;
		if (upd.ntrunc == PROTO_TRUNC_MAX) {
			rc = rewrite_old_chunks(fs, oi, size);
			if (rc < 0)
				goto out;
			upd.ntrunc = 0;
		}
		upd.epoch = cur.epoch + 1;
		upd.trunc[upd.ntrunc].epoch = upd.epoch;
		upd.trunc[upd.ntrunc].size = size;
		upd.ntrunc++;
	}
	rc = qfs_inode_write(fs, ino, &upd);
	qfs_icache_drop(fs, ino);
	if (rc < 0)
		goto out;
	proto_inode_merge(&oi->inode, &upd, &oi->inode);
	oi->size = size;
	oi->size_dirty = false;
	caches_drop(fs, oi);
out:
	pthread_mutex_unlock(&oi->lock);
	if (own)
		qfs_open_put(fs, own);
	return rc;
}

/* Zero [off, off + len) of the file: holes for whole chunks, zeros elsewhere. */
static int zero_range(struct qfs_fs *fs, struct qfs_open_inode *oi, uint64_t off, uint64_t len)
{
	uint32_t cs = fs->chunk_size;
	uint64_t end = off + len;
	uint8_t *zeros = NULL;
	struct proto_key key;
	int rc = 0;

	while (off < end && rc == 0) {
		uint64_t index = off / cs;
		uint32_t co = (uint32_t)(off % cs);
		uint32_t n = cs - co;

		if (n > end - off)
			n = (uint32_t)(end - off);
		if (n == cs) {
			proto_key_chunk(&key, oi->ino, index);
			rc = qfs_put_simple(fs, &key, true, NULL, 0);
			vc_drop(oi, index);
			if (oi->rc_valid && oi->rc_index == index)
				oi->rc_valid = false;
		} else {
			if (!zeros)
				zeros = calloc(1, cs);
			if (!zeros)
				return -ENOMEM;
			rc = chunk_write(fs, oi, index, co, co + n, zeros);
		}
		off += n;
	}
	free(zeros);
	return rc;
}

int qfs_file_fallocate(struct qfs_file *f, unsigned mode, uint64_t off, uint64_t len)
{
	struct qfs_fs *fs = f->fs;
	struct qfs_open_inode *oi = f->oi;
	uint64_t end, zend;
	int rc;

	if (!(mode & (QFS_FALLOC_PUNCH_HOLE | QFS_FALLOC_ZERO_RANGE)))
		return -EOPNOTSUPP; /* replicas cannot promise space: glibc emulates */
	if ((mode & QFS_FALLOC_PUNCH_HOLE) && !(mode & QFS_FALLOC_KEEP_SIZE))
		return -EINVAL;
	if (len == 0 || off + len < off || off + len > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (fs->read_only)
		return -EROFS;
	end = off + len;
	pthread_mutex_lock(&oi->lock);
	ra_drop_all(fs, oi);
	rc = wb_flush(fs, oi);
	if (rc < 0)
		goto out;
	/* Past EOF there is nothing to zero; ZERO_RANGE may still extend. */
	zend = end < oi->size ? end : oi->size;
	if (off < zend)
		rc = zero_range(fs, oi, off, zend - off);
	if (rc == 0 && !(mode & QFS_FALLOC_KEEP_SIZE) && end > oi->size) {
		oi->size = end;
		oi->size_dirty = true;
	} else if (rc == 0) {
		oi->size_dirty = true; /* mtime */
	}
	if (rc == 0)
		rc = inode_flush(fs, oi);
out:
	pthread_mutex_unlock(&oi->lock);
	return rc;
}

int64_t qfs_file_lseek(struct qfs_file *f, int64_t off, int whence)
{
	struct qfs_fs *fs = f->fs;
	struct qfs_open_inode *oi = f->oi;
	uint32_t cs = fs->chunk_size;
	struct qfs_chunk_ver cur;
	int64_t ret = -ENXIO;
	uint64_t size;
	int rc;

	if (off < 0)
		return -ENXIO;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	pthread_mutex_lock(&oi->lock);
	rc = wb_flush(fs, oi);
	if (rc < 0) {
		ret = rc;
		goto out;
	}
	size = oi->size;
	if ((uint64_t)off >= size)
		goto out;
	for (uint64_t k = (uint64_t)off / cs; k * cs < size; k++) {
		bool data;

		rc = chunk_state(fs, oi, k, &cur);
		if (rc < 0) {
			ret = rc;
			goto out;
		}
		data = !proto_version_is_zero(&cur.ver) && cur.len &&
		       qfs_inode_valid_len(fs, &oi->inode, k, cur.epoch) > 0;
		if (data == (whence == SEEK_DATA)) {
			uint64_t at = k * cs;

			ret = (int64_t)(at > (uint64_t)off ? at : (uint64_t)off);
			goto out;
		}
	}
	/* Only data up to EOF: the hole is the end of the file. */
	ret = whence == SEEK_HOLE ? (int64_t)size : -ENXIO;
out:
	pthread_mutex_unlock(&oi->lock);
	return ret;
}

/* Drain the writes this client buffers for @ino, if it has the file open. */
static int flush_open(struct qfs_fs *fs, uint64_t ino)
{
	struct qfs_open_inode *oi = qfs_open_find(fs, ino);
	int rc;

	if (!oi)
		return 0;
	pthread_mutex_lock(&oi->lock);
	rc = wb_flush(fs, oi);
	if (rc == 0)
		rc = inode_flush(fs, oi);
	pthread_mutex_unlock(&oi->lock);
	qfs_open_put(fs, oi);
	return rc;
}

int qfs_setattr(struct qfs_fs *fs, uint64_t ino, const struct qfs_setattr *s,
		struct qfs_file *f, struct qfs_attr *a)
{
	struct proto_inode cur, upd;
	struct timespec now;
	uint32_t nlink = 0;
	int rc;

	if (fs->read_only)
		return -EROFS;
	if (s->mask & QFS_SET_SIZE) {
		rc = qfs_file_truncate(fs, ino, f ? f->oi : NULL, s->size);
		if (rc < 0)
			return rc;
	}
	/* An explicit time must come after our pending writes, whose flush
	 * would otherwise stamp mtime = now over it (tar: futimens, then close). */
	if (s->mask & (QFS_SET_MTIME | QFS_SET_ATIME)) {
		rc = flush_open(fs, ino);
		if (rc < 0)
			return rc;
	}
	/* A read-modify-write of the registers: a base younger than the
	 * attribute timeout will do (the kernel trusts attributes that long). */
	if (!qfs_icache_get(fs, ino, QFS_ICACHE_TTL_NS, &cur, &nlink)) {
		rc = qfs_inode_read(fs, ino, &cur, &nlink);
		if (rc < 0)
			return rc;
	}
	memset(&upd, 0, sizeof(upd));
	clock_gettime(CLOCK_REALTIME, &now);
	if (s->mask & (QFS_SET_MODE | QFS_SET_UID | QFS_SET_GID)) {
		upd.attr_ver = qfs_quorum_version(fs->q);
		upd.mode = cur.mode;
		upd.uid = cur.uid;
		upd.gid = cur.gid;
		upd.rdev = cur.rdev;
		if (s->mask & QFS_SET_MODE)
			upd.mode = (cur.mode & S_IFMT) | (s->mode & 07777);
		if (s->mask & QFS_SET_UID)
			upd.uid = s->uid;
		if (s->mask & QFS_SET_GID)
			upd.gid = s->gid;
		if ((s->mask & (QFS_SET_UID | QFS_SET_GID)) && !(s->mask & QFS_SET_MODE))
			upd.mode = mode_killpriv(upd.mode); /* chown drops setuid */
	} else if ((s->mask & QFS_SET_SIZE) && mode_killpriv(cur.mode) != cur.mode) {
		upd.attr_ver = qfs_quorum_version(fs->q);
		upd.mode = mode_killpriv(cur.mode); /* so does truncate */
		upd.uid = cur.uid;
		upd.gid = cur.gid;
		upd.rdev = cur.rdev;
	}
	if (s->mask & (QFS_SET_ATIME | QFS_SET_ATIME_NOW)) {
		struct timespec t = (s->mask & QFS_SET_ATIME_NOW) ? now : s->atime;

		upd.atime_ver = qfs_quorum_version(fs->q);
		upd.atime_sec = t.tv_sec;
		upd.atime_nsec = (uint32_t)t.tv_nsec;
	}
	if (s->mask & (QFS_SET_MTIME | QFS_SET_MTIME_NOW)) {
		struct timespec t = (s->mask & QFS_SET_MTIME_NOW) ? now : s->mtime;

		upd.mtime_ver = qfs_quorum_version(fs->q);
		upd.mtime_sec = t.tv_sec;
		upd.mtime_nsec = (uint32_t)t.tv_nsec;
	}
	if (!proto_version_is_zero(&upd.attr_ver) || !proto_version_is_zero(&upd.atime_ver) ||
	    !proto_version_is_zero(&upd.mtime_ver)) {
		rc = qfs_inode_write(fs, ino, &upd);
		if (rc < 0)
			return rc;
		proto_inode_merge(&cur, &upd, &cur);
		qfs_icache_put(fs, ino, &cur, nlink, qfs_icache_xattrs(fs, ino));
	}
	qfs_inode_to_attr(fs, ino, &cur, nlink, a);
	qfs_attr_add_buffered(fs, a);
	return 0;
}
