// SPDX-License-Identifier: MIT
/*
 * store_read.c - the readers' side of the store: GET, HEAD, LIST, SCAN
 * (whole, or only the keys of some DIGEST buckets) and the scrubber's step. Safe from any thread, concurrently with
 * the writer.
 *
 * Each call uses one short read transaction. Calls that read a body hold the
 * key's stripe lock for reading across the index lookup and the pread, so
 * the writer (which holds the stripe for writing until its batch commits)
 * can neither rewrite the bytes nor free the file underneath. Every block
 * read from a body is checked against its stored xxh3 before it is returned:
 * a mismatch is -EBADE and the bytes never leave the store.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunkd/body.h"
#include "chunkd/store_priv.h"
#include "proto/log.h"

#define CHK_CHUNK_PREFIX 0x02 /* first byte of every CHUNK key (proto/key.h) */

/* memcmp order of two byte strings, a prefix first. */
static int chk_keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static void chk_log_bad(const char *what, const struct proto_key *key, uint64_t body, int rc)
{
	char ks[64];

	qlog_warn("%s %s body %016" PRIx64 ": %s", what, proto_key_str(key, ks, sizeof(ks)),
		  body, strerror(-rc));
}

/*
 * Read blocks [first, first + n) of a chunk body (its file, or the record
 * for an inline chunk) into @buf and verify them. A missing or short file is
 * corruption too (a body lost in a power cut).
 */
static int chk_body_read_blocks(struct chk_store *st, const struct proto_key *key,
				const struct chk_rec *r, uint32_t first, uint32_t n, uint8_t *buf)
{
	uint64_t start = (uint64_t)first * PROTO_BLOCK_SIZE, end;
	int fd, rc;

	end = (uint64_t)(first + n) * PROTO_BLOCK_SIZE;
	if (end > r->meta.len)
		end = r->meta.len;
	if (chk_rec_inline(r)) {
		memcpy(buf, r->val + start, end - start);
		goto verify;
	}
	fd = chk_body_open(st->dfd, r->body, false);
	if (fd < 0) {
		chk_log_bad("open", key, r->body, fd);
		return fd == -ENOENT ? -EBADE : fd;
	}
	rc = chk_body_pread(fd, buf, end - start, start);
	close(fd);
	if (rc) {
		chk_log_bad("read", key, r->body, rc);
		return rc == -EIO ? -EBADE : rc;
	}
verify:
	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = (uint64_t)i * PROTO_BLOCK_SIZE;
		uint64_t bl = end - start - off < PROTO_BLOCK_SIZE ? end - start - off
								   : PROTO_BLOCK_SIZE;

		if (proto_block_sum(buf + off, bl) != r->sums[first + i]) {
			char ks[64];

			qlog_warn("%s block %u fails its checksum",
				  proto_key_str(key, ks, sizeof(ks)), first + i);
			return -EBADE;
		}
	}
	return 0;
}

static int chk_get_chunk(struct chk_store *st, const struct proto_get_req *q,
			 const struct chk_rec *r, struct proto_get_rep *rep, void **data,
			 size_t *data_len)
{
	uint64_t len = r->meta.len, off = q->offset, stop;
	uint32_t first, last;
	uint8_t *buf;
	int rc;

	rep->first_block = (uint16_t)proto_nblocks(r->meta.len);
	if ((r->meta.flags & PROTO_REC_TOMBSTONE) || off >= len || q->length == 0)
		return 0;
	stop = q->length == PROTO_GET_WHOLE ? len : off + q->length;
	if (stop > len)
		stop = len;
	first = (uint32_t)(off / PROTO_BLOCK_SIZE);
	last = (uint32_t)((stop - 1) / PROTO_BLOCK_SIZE);
	stop = (uint64_t)(last + 1) * PROTO_BLOCK_SIZE;
	if (stop > len)
		stop = len;
	buf = malloc(stop - (uint64_t)first * PROTO_BLOCK_SIZE);
	if (!buf)
		return -ENOMEM;
	rc = chk_body_read_blocks(st, &q->key, r, first, last - first + 1, buf);
	if (rc) {
		free(buf);
		return rc;
	}
	rep->first_block = (uint16_t)first;
	rep->nsums = (uint16_t)(last - first + 1);
	memcpy(rep->sums, r->sums + first, rep->nsums * sizeof(rep->sums[0]));
	*data = buf;
	*data_len = stop - (uint64_t)first * PROTO_BLOCK_SIZE;
	return 0;
}

/* An inline value: its record checksum catches damage inside the index. */
static int chk_get_inline(const struct proto_key *key, const struct chk_rec *r,
			  struct proto_get_rep *rep, void **data, size_t *data_len)
{
	uint64_t sum;

	sum = proto_value_sums(r->val, r->meta.len, rep->sums);
	if (sum != r->meta.sum) {
		char ks[64];

		qlog_warn("%s value fails its checksum", proto_key_str(key, ks, sizeof(ks)));
		return -EBADE;
	}
	rep->first_block = 0;
	rep->nsums = (uint16_t)proto_nblocks(r->meta.len);
	if (r->meta.len == 0)
		return 0;
	*data = malloc(r->meta.len);
	if (!*data)
		return -ENOMEM;
	memcpy(*data, r->val, r->meta.len);
	*data_len = r->meta.len;
	return 0;
}

int chk_store_get(struct chk_store *st, const struct proto_get_req *q,
		  struct proto_get_rep *rep, void **data, size_t *data_len)
{
	bool chunk = q->key.kind == PROTO_KIND_CHUNK;
	uint8_t kb[PROTO_KEY_MAX];
	struct chk_rec *r;
	unsigned s = 0;
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	*data = NULL;
	*data_len = 0;
	memset(&rep->meta, 0, sizeof(rep->meta));
	rep->first_block = rep->nsums = 0;
	if (q->key.kind >= PROTO_KIND_MAX)
		return -EINVAL;
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	k.mv_data = kb;
	k.mv_size = proto_key_encode(&q->key, kb);
	if (chunk) {
		s = chk_stripe(&q->key);
		pthread_rwlock_rdlock(&st->stripes[s]);
	}
	rc = chk_read_begin(st, &txn);
	if (rc)
		goto out_unlock;
	rc = chk_mdb_err(mdb_get(txn, st->recs, &k, &v));
	if (!rc)
		rc = chk_rec_decode(q->key.kind, v.mv_data, v.mv_size, r);
	if (!rc) {
		rep->meta = r->meta;
		if (chunk)
			rc = chk_get_chunk(st, q, r, rep, data, data_len);
		else
			rc = chk_get_inline(&q->key, r, rep, data, data_len);
	}
	chk_read_end(st, txn);
out_unlock:
	if (chunk)
		pthread_rwlock_unlock(&st->stripes[s]);
	free(r);
	return rc;
}

int chk_store_head(struct chk_store *st, const struct proto_key *key, struct proto_meta *m)
{
	uint8_t kb[PROTO_KEY_MAX];
	struct proto_rd rd;
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	if (key->kind >= PROTO_KIND_MAX)
		return -EINVAL;
	k.mv_data = kb;
	k.mv_size = proto_key_encode(key, kb);
	rc = chk_read_begin(st, &txn);
	if (rc)
		return rc;
	rc = chk_mdb_err(mdb_get(txn, st->recs, &k, &v));
	if (!rc) {
		proto_rd_init(&rd, v.mv_data, v.mv_size);
		if (proto_meta_decode(&rd, m))
			rc = -EIO;
	}
	chk_read_end(st, txn);
	return rc;
}

/* ---- pages (LIST, SCAN) ---- */

/* A filtered SCAN looks at no more keys than this per page, so one request
 * never walks a whole large store while holding a reader. */
#define CHK_SCAN_VISIT_MAX (1u << 16)

int chk_range_walk(struct chk_store *st, const struct chk_range *rg,
		   int (*fn)(void *ctx, const MDB_val *k, const MDB_val *v), void *ctx)
{
	static const uint8_t zero = 0;
	MDB_val k, v;
	MDB_cursor *cur;
	MDB_txn *txn;
	int rc, op;

	rc = chk_read_begin(st, &txn);
	if (rc)
		return rc;
	rc = chk_mdb_err(mdb_cursor_open(txn, rg->dbi ? *rg->dbi : st->recs, &cur));
	if (rc)
		goto out_txn;
	k.mv_data = (void *)(rg->lo_len ? rg->lo : &zero);
	k.mv_size = rg->lo_len ? rg->lo_len : 1;
	for (op = MDB_SET_RANGE;; op = MDB_NEXT) {
		int mrc = mdb_cursor_get(cur, &k, &v, op);

		if (mrc) {
			rc = mrc == MDB_NOTFOUND ? 0 : chk_mdb_err(mrc);
			break;
		}
		if (rg->hi && chk_keycmp(k.mv_data, k.mv_size, rg->hi, rg->hi_len) >= 0)
			break;
		if (rg->after && op == MDB_SET_RANGE &&
		    chk_keycmp(k.mv_data, k.mv_size, rg->lo, rg->lo_len) == 0)
			continue;
		rc = fn(ctx, &k, &v);
		if (rc)
			break;
	}
	mdb_cursor_close(cur);
out_txn:
	chk_read_end(st, txn);
	return rc;
}

struct chk_page {
	struct proto_wr w; /* entries */
	uint32_t max, n;
	uint8_t kind; /* 0 = every kind */
	bool with_value;
	bool more;
	/* filtered SCAN: the DIGEST buckets wanted, keys looked at, and the
	 * last one (where the next page resumes) */
	const uint8_t *buckets;
	uint32_t visited;
	uint8_t last[PROTO_KEY_MAX];
	uint16_t last_len;
};

/* Filtered SCAN: whether the page takes key @e (recording it as looked at);
 * stops the walk (sets pg->more) once CHK_SCAN_VISIT_MAX keys were seen. */
static int chk_page_filter(struct chk_page *pg, const MDB_val *k, const struct proto_key *key)
{
	if (pg->visited++ >= CHK_SCAN_VISIT_MAX) {
		pg->more = true;
		return 1;
	}
	if (proto_scan_has_bucket(pg->buckets, proto_digest_bucket(proto_key_token(key))))
		return 0;
	memcpy(pg->last, k->mv_data, k->mv_size);
	pg->last_len = (uint16_t)k->mv_size;
	return -1; /* skipped */
}

static int chk_page_add(void *ctx, const MDB_val *k, const MDB_val *v)
{
	struct chk_page *pg = ctx;
	struct proto_entry e;
	struct proto_rd rd;
	struct chk_rec r;

	if (proto_key_decode(k->mv_data, k->mv_size, &e.key)) {
		qlog_warn("skipping an undecodable key (%zu bytes)", k->mv_size);
		return 0;
	}
	if (pg->kind && e.key.kind != pg->kind)
		return 0;
	if (pg->buckets) {
		int f = chk_page_filter(pg, k, &e.key);

		if (f)
			return f > 0 ? 1 : 0;
	}
	if (pg->n >= pg->max || pg->w.len >= PROTO_REPLY_SOFT_MAX) {
		pg->more = true;
		return 1;
	}
	e.val = NULL;
	if (pg->with_value && e.key.kind != PROTO_KIND_CHUNK) {
		if (chk_rec_decode(e.key.kind, v->mv_data, v->mv_size, &r))
			return -EIO;
		e.meta = r.meta;
		e.val = r.val;
	} else {
		proto_rd_init(&rd, v->mv_data, v->mv_size);
		if (proto_meta_decode(&rd, &e.meta))
			return -EIO;
	}
	proto_encode_entry(&pg->w, &e, pg->with_value);
	if (pg->w.bad)
		return -ENOMEM;
	pg->n++;
	if (pg->buckets) {
		memcpy(pg->last, k->mv_data, k->mv_size);
		pg->last_len = (uint16_t)k->mv_size;
	}
	return 0;
}

static int chk_page_run(struct chk_store *st, const struct chk_range *rg, struct chk_page *pg,
			struct proto_wr *out)
{
	int rc = 0;

	if (pg->max == 0 || pg->max > PROTO_LIST_MAX_ENTRIES)
		return -EINVAL;
	proto_wr_init(&pg->w);
	if (!rg->hi || chk_keycmp(rg->lo, rg->lo_len, rg->hi, rg->hi_len) < 0)
		rc = chk_range_walk(st, rg, chk_page_add, pg);
	if (rc >= 0) {
		proto_encode_page_head(out, pg->more);
		if (pg->buckets)
			proto_encode_scan_resume(out, pg->last, pg->last_len);
		proto_put_bytes(out, pg->w.buf, pg->w.len);
		rc = out->bad ? -ENOMEM : 0;
	}
	proto_wr_free(&pg->w);
	return rc;
}

int chk_store_list(struct chk_store *st, const struct proto_list_req *q, struct proto_wr *out)
{
	uint8_t lo[9], hi[9];
	struct chk_range rg = { .lo = lo, .lo_len = 9, .hi = hi, .hi_len = 9 };
	struct chk_page pg = { .max = q->max, .kind = q->kind, .with_value = true };

	if (q->ino == 0 || q->kind >= PROTO_KIND_MAX || (q->flags & ~PROTO_LIST_MASK) ||
	    q->start_len > PROTO_KEY_MAX)
		return -EINVAL;
	proto_partition_bounds(q->ino, lo, hi);
	if (q->start_len && chk_keycmp(q->start, q->start_len, lo, 9) >= 0) {
		rg.lo = q->start;
		rg.lo_len = q->start_len;
		rg.after = q->flags & PROTO_LIST_AFTER;
	}
	return chk_page_run(st, &rg, &pg, out);
}

int chk_store_scan(struct chk_store *st, const struct proto_scan_req *q, struct proto_wr *out)
{
	struct chk_range rg = { .lo = q->start, .lo_len = q->start_len };
	struct chk_page pg = { .max = q->max };

	if ((q->flags & ~PROTO_SCAN_MASK) || q->start_len > PROTO_KEY_MAX ||
	    (q->flags & PROTO_SCAN_BUCKETS && !q->buckets))
		return -EINVAL;
	if (q->flags & PROTO_SCAN_BUCKETS)
		pg.buckets = q->buckets;
	rg.after = q->start_len && (q->flags & PROTO_LIST_AFTER);
	return chk_page_run(st, &rg, &pg, out);
}

/* ---- scrub ---- */

struct chk_scrub_find {
	uint8_t key[PROTO_KEY_MAX];
	size_t len;
	bool found;
};

/* First chunk at or after the range start that has a body and is not yet condemned. */
static int chk_scrub_pick(void *ctx, const MDB_val *k, const MDB_val *v)
{
	struct chk_scrub_find *f = ctx;
	struct proto_meta m;
	struct proto_rd rd;

	if (k->mv_size < 1 || ((const uint8_t *)k->mv_data)[0] != CHK_CHUNK_PREFIX ||
	    k->mv_size > PROTO_KEY_MAX)
		return 1;
	proto_rd_init(&rd, v->mv_data, v->mv_size);
	if (proto_meta_decode(&rd, &m) || m.len == 0 ||
	    (m.flags & (PROTO_REC_TOMBSTONE | PROTO_REC_CORRUPT)))
		return 0;
	memcpy(f->key, k->mv_data, k->mv_size);
	f->len = k->mv_size;
	f->found = true;
	return 1;
}

/* Verify every block of the chunk @kb; 1 with *bad, 0 if it vanished, or -errno. */
static int64_t chk_scrub_one(struct chk_store *st, const uint8_t *kb, size_t klen,
			     struct proto_key *key, struct proto_version *ver, bool *bad)
{
	MDB_val k = { .mv_size = klen, .mv_data = (void *)kb }, v;
	uint8_t *buf = NULL;
	struct chk_rec *r;
	MDB_txn *txn;
	int64_t rc;
	unsigned s;

	if (proto_key_decode(kb, klen, key))
		return 0; /* skip what cannot be named */
	r = malloc(sizeof(*r));
	buf = malloc(PROTO_BLOCK_SIZE);
	if (!r || !buf) {
		rc = -ENOMEM;
		goto out_free;
	}
	s = chk_stripe(key);
	pthread_rwlock_rdlock(&st->stripes[s]);
	rc = chk_read_begin(st, &txn);
	if (rc)
		goto out_unlock;
	rc = chk_mdb_err(mdb_get(txn, st->recs, &k, &v));
	if (!rc)
		rc = chk_rec_decode(PROTO_KIND_CHUNK, v.mv_data, v.mv_size, r);
	if (rc == -ENOENT ||
	    (!rc && (r->meta.len == 0 || (r->meta.flags & (PROTO_REC_CORRUPT | PROTO_REC_TOMBSTONE))))) {
		rc = 0; /* changed meanwhile: nothing to verify */
	} else if (!rc) {
		*ver = r->meta.ver;
		for (uint32_t i = 0; i < r->nsums && !rc; i++)
			rc = chk_body_read_blocks(st, key, r, i, 1, buf);
		if (rc == -EBADE) {
			*bad = true;
			rc = 0;
		}
		if (!rc)
			rc = r->meta.len;
	}
	chk_read_end(st, txn);
out_unlock:
	pthread_rwlock_unlock(&st->stripes[s]);
out_free:
	free(buf);
	free(r);
	return rc;
}

int64_t chk_store_scrub_next(struct chk_store *st, uint8_t cursor[PROTO_KEY_MAX],
			     uint16_t *cursor_len, struct proto_key *bad_key,
			     struct proto_version *bad_ver, bool *bad)
{
	static const uint8_t chunks = CHK_CHUNK_PREFIX;
	struct chk_scrub_find f;
	int64_t rc;

	*bad = false;
	for (;;) {
		struct chk_range rg = { .lo = &chunks, .lo_len = 1 };

		if (*cursor_len > PROTO_KEY_MAX)
			*cursor_len = 0;
		if (*cursor_len) {
			rg.lo = cursor;
			rg.lo_len = *cursor_len;
			rg.after = true;
		}
		f.found = false;
		rc = chk_range_walk(st, &rg, chk_scrub_pick, &f);
		if (rc < 0)
			return rc;
		if (!f.found) {
			*cursor_len = 0; /* the next call starts over */
			return 0;
		}
		memcpy(cursor, f.key, f.len);
		*cursor_len = (uint16_t)f.len;
		rc = chk_scrub_one(st, f.key, f.len, bad_key, bad_ver, bad);
		if (rc != 0)
			return rc;
	}
}
