// SPDX-License-Identifier: MIT
/*
 * store_digest.c - the per-bucket digests of DIGEST, kept as the store
 * writes (docs/storage.md "Digests").
 *
 * A bucket is the top 16 bits of a key's placement token
 * (proto_digest_bucket); its digest is the wrapping sum of
 * proto_entry_hash() over every record of "recs" in it. Every request that
 * changes a record calls chk_digest_update(), which notes the change with
 * the batch (undone with a failed request); at commit the batch's changes
 * join st->dg_mem, the sums of committed records that DIGEST answers from.
 *
 * On disk, DB "digest" maps a bucket (u16 big-endian) to its sum (u64
 * little-endian; no entry for 0), and meta "digest" says whether it is in
 * step with "recs" (1) or lags (0). Writing the buckets of each batch cost
 * about 40% of the small-PUT rate (each batch dirtied one more random page
 * per record), so a batch that changes a sum only marks the DB lagging, in
 * its own transaction (the meta page is written by every batch anyway),
 * and the changed buckets are written every CHK_DIGEST_FLUSH_MS and at
 * close, with the mark back to 1, again in one transaction. The mark can
 * thus never say "in step" over a DB that is not: after a crash (or the
 * return to a sync point) that left it lagging, the next open sums every
 * record again (one walk of the index, as after a format upgrade).
 *
 * chk_digest_update/prepare/committed/close: writer thread.
 * chk_store_digest: any thread (dg_lock).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "chunkd/store_priv.h"
#include "proto/log.h"

/* In "meta": one byte, 1 when DB "digest" is in step with "recs", 0 when
 * it lags (summed again at open). */
#define CHK_META_DIGEST "digest"
/* The changed buckets are written to DB "digest" at most this often. */
#define CHK_DIGEST_FLUSH_MS 1000

static void chk_digest_key(uint32_t bucket, uint8_t kb[2])
{
	kb[0] = (uint8_t)(bucket >> 8);
	kb[1] = (uint8_t)bucket;
}

/* Store @sum as @bucket's digest in the write transaction @txn. */
static int chk_digest_put(struct chk_store *st, MDB_txn *txn, uint32_t bucket, uint64_t sum)
{
	uint8_t kb[2], vb[8];
	MDB_val k = { .mv_size = 2, .mv_data = kb }, v = { .mv_size = 8, .mv_data = vb };
	int rc;

	chk_digest_key(bucket, kb);
	if (sum == 0) {
		rc = chk_mdb_err(mdb_del(txn, st->digest, &k, NULL));
		return rc == -ENOENT ? 0 : rc;
	}
	for (int i = 0; i < 8; i++)
		vb[i] = (uint8_t)(sum >> (8 * i));
	return chk_mdb_err(mdb_put(txn, st->digest, &k, &v, 0));
}

/* The bucket of the record stored under canonical key bytes @k. */
static int chk_digest_bucket(const MDB_val *k, uint32_t *bucket)
{
	struct proto_key key;

	if (proto_key_decode(k->mv_data, k->mv_size, &key))
		return -EIO;
	*bucket = proto_digest_bucket(proto_key_token(&key));
	return 0;
}

int chk_digest_update(struct chk_store *st, MDB_txn *txn, const MDB_val *k,
		      const struct proto_meta *old, const struct proto_meta *nw)
{
	uint64_t delta = 0;
	uint32_t bucket;
	int rc;

	(void)txn; /* the request's: its changes are kept with the batch */
	if (!st->b.active)
		return -EINVAL;
	if (old)
		delta -= proto_entry_hash(k->mv_data, k->mv_size, old);
	if (nw)
		delta += proto_entry_hash(k->mv_data, k->mv_size, nw);
	if (delta == 0)
		return 0;
	rc = chk_digest_bucket(k, &bucket);
	if (rc)
		return rc;
	rc = chk_grow((void **)&st->b.dg, &st->b.cap_dg, st->b.ndg, sizeof(*st->b.dg));
	if (rc)
		return rc;
	st->b.dg[st->b.ndg].bucket = bucket;
	st->b.dg[st->b.ndg].delta = delta;
	st->b.ndg++;
	return 0;
}

/* Set meta "digest" to @v (1: DB "digest" in step) in @txn. */
static int chk_digest_mark(struct chk_store *st, MDB_txn *txn, uint8_t v)
{
	MDB_val k = { .mv_size = strlen(CHK_META_DIGEST), .mv_data = CHK_META_DIGEST };
	MDB_val d = { .mv_size = 1, .mv_data = &v };

	return chk_mdb_err(mdb_put(txn, st->meta, &k, &d, 0));
}

/* The sum of @b once the batch commits (the batch's entries are sorted). */
static uint64_t chk_digest_next(const struct chk_store *st, uint32_t b, size_t *i)
{
	uint64_t sum = st->dg_mem[b]; /* the writer alone changes it: no lock */

	while (*i < st->b.ndg && st->b.dg[*i].bucket < b)
		(*i)++;
	for (; *i < st->b.ndg && st->b.dg[*i].bucket == b; (*i)++)
		sum += st->b.dg[*i].delta;
	return sum;
}

static int chk_dg_cmp(const void *a, const void *b)
{
	const struct chk_dg_delta *x = a, *y = b;

	return (x->bucket > y->bucket) - (x->bucket < y->bucket);
}

int chk_digest_prepare(struct chk_store *st, bool force)
{
	uint64_t now = chk_now_ms();
	size_t i = 0;
	int rc = 0;

	st->b.dg_flush = st->b.dg_lag = false;
	if (st->b.ndg > 1)
		qsort(st->b.dg, st->b.ndg, sizeof(*st->b.dg), chk_dg_cmp);
	if (!force && (now - st->dg_flush_ms < CHK_DIGEST_FLUSH_MS ||
		       (!st->dg_lagging && st->b.ndg == 0))) {
		if (st->b.ndg == 0 || st->dg_lagging)
			return 0;
		st->b.dg_lag = true;
		return chk_digest_mark(st, st->b.txn, 0);
	}
	for (uint32_t w = 0; !rc && w < PROTO_DIGEST_BITMAP_LEN; w++) {
		uint8_t bits = st->dg_dirty[w];

		/* the batch's buckets too */
		while (i < st->b.ndg && st->b.dg[i].bucket / 8 == w)
			bits |= (uint8_t)(1u << (st->b.dg[i++].bucket % 8));
		for (uint32_t j = 0; !rc && bits && j < 8; j++) {
			size_t k = 0;

			if (bits & (1u << j))
				rc = chk_digest_put(st, st->b.txn, w * 8 + j,
						    chk_digest_next(st, w * 8 + j, &k));
		}
	}
	if (!rc)
		rc = chk_digest_mark(st, st->b.txn, 1);
	st->b.dg_flush = !rc;
	return rc;
}

void chk_digest_committed(struct chk_store *st)
{
	pthread_mutex_lock(&st->dg_lock);
	for (size_t i = 0; i < st->b.ndg; i++)
		st->dg_mem[st->b.dg[i].bucket] += st->b.dg[i].delta;
	pthread_mutex_unlock(&st->dg_lock);
	if (st->b.dg_flush) {
		memset(st->dg_dirty, 0, PROTO_DIGEST_BITMAP_LEN);
		st->dg_lagging = false;
		st->dg_flush_ms = chk_now_ms();
	} else {
		for (size_t i = 0; i < st->b.ndg; i++)
			st->dg_dirty[st->b.dg[i].bucket / 8] |=
				(uint8_t)(1u << (st->b.dg[i].bucket % 8));
		if (st->b.dg_lag)
			st->dg_lagging = true;
	}
	st->b.ndg = 0;
}

static int chk_digest_noop(struct chk_store *st, const void *arg)
{
	(void)st, (void)arg;
	return 0;
}

int chk_digest_close(struct chk_store *st)
{
	if (!st->dg_lagging || atomic_load(&st->failed))
		return 0;
	st->dg_flush_ms = 0; /* the next commit writes every changed bucket */
	return chk_run(st, chk_digest_noop, NULL);
}

int chk_store_digest(struct chk_store *st, uint32_t first, uint32_t count, uint64_t *out)
{
	if (count == 0 || first >= PROTO_DIGEST_BUCKETS || count > PROTO_DIGEST_BUCKETS - first)
		return -EINVAL;
	if (atomic_load(&st->failed))
		return -EIO;
	pthread_mutex_lock(&st->dg_lock);
	memcpy(out, st->dg_mem + first, (size_t)count * sizeof(*out));
	pthread_mutex_unlock(&st->dg_lock);
	return 0;
}

/* Sum every record of "recs" into st->dg_mem and DB "digest" (emptied
 * first) in @txn. */
static int chk_digest_build(struct chk_store *st, MDB_txn *txn, uint64_t *nrec)
{
	uint64_t *sums = st->dg_mem;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, mrc;

	memset(sums, 0, PROTO_DIGEST_BUCKETS * sizeof(*sums));
	*nrec = 0;
	rc = chk_mdb_err(mdb_drop(txn, st->digest, 0));
	if (!rc)
		rc = chk_mdb_err(mdb_cursor_open(txn, st->recs, &cur));
	if (rc)
		return rc;
	while ((mrc = mdb_cursor_get(cur, &k, &v, *nrec ? MDB_NEXT : MDB_FIRST)) == 0) {
		struct proto_meta m;
		struct proto_rd rd;
		uint32_t b;

		proto_rd_init(&rd, v.mv_data, v.mv_size);
		if (chk_digest_bucket(&k, &b) || proto_meta_decode(&rd, &m)) {
			qlog_err("damaged index record (%zu bytes): cannot build digests", k.mv_size);
			rc = -EIO;
			break;
		}
		sums[b] += proto_entry_hash(k.mv_data, k.mv_size, &m);
		(*nrec)++;
	}
	if (!rc && mrc != MDB_NOTFOUND)
		rc = chk_mdb_err(mrc);
	mdb_cursor_close(cur);
	for (uint32_t b = 0; !rc && b < PROTO_DIGEST_BUCKETS; b++)
		if (sums[b])
			rc = chk_digest_put(st, txn, b, sums[b]);
	return rc;
}

/* Read DB "digest" (in step) into st->dg_mem. */
static int chk_digest_load(struct chk_store *st, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, mrc, op = MDB_FIRST;

	memset(st->dg_mem, 0, PROTO_DIGEST_BUCKETS * sizeof(*st->dg_mem));
	rc = chk_mdb_err(mdb_cursor_open(txn, st->digest, &cur));
	if (rc)
		return rc;
	while ((mrc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		const uint8_t *p = k.mv_data, *q = v.mv_data;
		uint64_t sum = 0;

		op = MDB_NEXT;
		if (k.mv_size != 2 || v.mv_size != 8) {
			qlog_err("damaged digest entry (%zu, %zu bytes)", k.mv_size, v.mv_size);
			rc = -EIO;
			break;
		}
		for (int i = 7; i >= 0; i--)
			sum = sum << 8 | q[i];
		st->dg_mem[(uint32_t)p[0] << 8 | p[1]] = sum;
	}
	if (!rc && mrc != MDB_NOTFOUND)
		rc = chk_mdb_err(mrc);
	mdb_cursor_close(cur);
	return rc;
}

int chk_digest_open(struct chk_store *st)
{
	MDB_val mk = { .mv_size = strlen(CHK_META_DIGEST), .mv_data = CHK_META_DIGEST }, v;
	uint64_t t0 = chk_now_us(), n = 0;
	MDB_txn *txn;
	int rc;

	st->dg_mem = calloc(PROTO_DIGEST_BUCKETS, sizeof(*st->dg_mem));
	st->dg_dirty = calloc(1, PROTO_DIGEST_BITMAP_LEN);
	if (!st->dg_mem || !st->dg_dirty)
		return -ENOMEM;
	st->dg_flush_ms = chk_now_ms();
	rc = chk_mdb_err(mdb_txn_begin(st->env, NULL, 0, &txn));
	if (rc)
		return rc;
	rc = mdb_get(txn, st->meta, &mk, &v);
	if (rc == 0 && (v.mv_size != 1 || ((const uint8_t *)v.mv_data)[0] > 1)) {
		qlog_err("damaged digest mark in %s", st->dir);
		rc = -EIO;
		goto out_abort;
	}
	if (rc == 0 && ((const uint8_t *)v.mv_data)[0] == 1) {
		rc = chk_digest_load(st, txn);
		goto out_abort; /* read only */
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		rc = chk_mdb_err(rc);
		goto out_abort;
	}
	/* no digests yet (an older format), or they lag after a crash */
	rc = chk_digest_build(st, txn, &n);
	if (!rc)
		rc = chk_digest_mark(st, txn, 1);
	if (rc)
		goto out_abort;
	rc = chk_mdb_err(mdb_txn_commit(txn));
	if (rc)
		return rc;
	st->dirty = true;
	if (n)
		qlog_info("store in %s: digests of %" PRIu64 " records summed in %" PRIu64
			  " ms", st->dir, n, (chk_now_us() - t0) / 1000);
	return 0;
out_abort:
	mdb_txn_abort(txn);
	return rc;
}
