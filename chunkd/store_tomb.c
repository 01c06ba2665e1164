// SPDX-License-Identifier: MIT
/*
 * store_tomb.c - collecting tombstones, and the last-alive stamp that keeps
 * a long-absent daemon from resurrecting what was collected meanwhile.
 *
 * A tombstone may leave the store once every replica holds it and the grace
 * period has passed. Clients that saw all N replicas acknowledge a tombstone
 * send TOMB_CONFIRM; chk_store_tomb_confirm() files it in DB "tombs" under
 * u64 ms (big-endian, the tombstone version's wall-clock part) + canonical
 * key bytes, value = the version (u64 hlc, u64 writer, little-endian), so
 * the collector walks the oldest first and stops at the first one still in
 * its grace period. A confirmation only counts while the store still holds
 * a tombstone of exactly that version; a newer record makes it stale and
 * the collector drops it. PURGE (fsck) removes a tombstone directly under
 * the same exact-version rule. Bodies are already freed when a tombstone is
 * written (store_write.c), so a purge only removes the index record.
 *
 * The "alive" entry of DB "meta" is a u64 wall-clock ms stamp the writer
 * refreshes periodically and at a clean stop; chunkd refuses to start when
 * the store was down for longer than the grace period (docs/chunkd.md).
 * Write calls run on the writer thread, each in a nested transaction.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chunkd/store_priv.h"
#include "proto/log.h"

#define CHK_META_ALIVE "alive"
#define CHK_TOMB_KEY_MAX (8 + PROTO_KEY_MAX)

/* The stored record of @k (canonical bytes) in @txn: its meta, 0 or -errno. */
static int chk_tomb_meta(struct chk_store *st, MDB_txn *txn, MDB_val *k,
			 struct proto_meta *m)
{
	struct proto_rd rd;
	MDB_val v;
	int rc;

	rc = chk_mdb_err(mdb_get(txn, st->recs, k, &v));
	if (rc)
		return rc;
	proto_rd_init(&rd, v.mv_data, v.mv_size);
	return proto_meta_decode(&rd, m) ? -EIO : 0;
}

/* Whether @m is a tombstone of exactly @ver. */
static bool chk_tomb_is(const struct proto_meta *m, const struct proto_version *ver)
{
	return (m->flags & PROTO_REC_TOMBSTONE) && proto_version_cmp(&m->ver, ver) == 0;
}

/*
 * In @txn: drop record @k of @kind if it is a tombstone of exactly @ver and
 * count it out of the batch counters. *purged says whether it went.
 */
static int chk_tomb_drop(struct chk_store *st, MDB_txn *txn, MDB_val *k, uint8_t kind,
			 const struct proto_version *ver, bool *purged)
{
	struct proto_meta m;
	int rc;

	*purged = false;
	rc = chk_tomb_meta(st, txn, k, &m);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	if (!chk_tomb_is(&m, ver))
		return 0;
	rc = chk_mdb_err(mdb_del(txn, st->recs, k, NULL));
	if (!rc)
		rc = chk_digest_update(st, txn, k, &m, NULL);
	if (rc)
		return rc;
	chk_account(&st->b.ctr, kind, &m, -1);
	*purged = true;
	return 0;
}

/* "tombs" key of @kb[kl] with version @ver into @out; returns its length. */
static size_t chk_tomb_key(const uint8_t *kb, size_t kl, const struct proto_version *ver,
			   uint8_t out[CHK_TOMB_KEY_MAX])
{
	proto_be64_put(out, PROTO_HLC_MS(ver->hlc));
	memcpy(out + 8, kb, kl);
	return 8 + kl;
}

struct chk_tomb_args {
	const struct proto_key *key;
	const struct proto_version *ver;
	bool *done;
};

static int chk_tomb_confirm_op(struct chk_store *st, const void *arg)
{
	const struct chk_tomb_args *a = arg;
	uint8_t kb[PROTO_KEY_MAX], tk[CHK_TOMB_KEY_MAX], vb[16];
	struct proto_meta m;
	MDB_val k, t, v;
	MDB_txn *txn;
	int rc;

	rc = chk_key_txn(st, a->key, kb, &k, &txn);
	if (rc)
		return rc;
	rc = chk_tomb_meta(st, txn, &k, &m);
	if (rc == -ENOENT || (!rc && !chk_tomb_is(&m, a->ver))) {
		mdb_txn_abort(txn); /* purged already, or written over: nothing to confirm */
		return 0;
	}
	if (rc)
		goto out_abort;
	t.mv_data = tk;
	t.mv_size = chk_tomb_key(kb, k.mv_size, a->ver, tk);
	for (int i = 0; i < 8; i++) {
		vb[i] = (uint8_t)(a->ver->hlc >> (8 * i));
		vb[8 + i] = (uint8_t)(a->ver->writer >> (8 * i));
	}
	v.mv_data = vb;
	v.mv_size = sizeof(vb);
	rc = chk_mdb_err(mdb_put(txn, st->tombs, &t, &v, 0));
	if (rc)
		goto out_abort;
	rc = chk_mdb_err(mdb_txn_commit(txn));
	if (!rc)
		*a->done = true;
	return rc;
out_abort:
	mdb_txn_abort(txn);
	return rc;
}

int chk_store_tomb_confirm(struct chk_store *st, const struct proto_key *key,
			   const struct proto_version *ver, bool *marked)
{
	struct chk_tomb_args a = { .key = key, .ver = ver, .done = marked };

	*marked = false;
	if (key->kind >= PROTO_KIND_MAX || proto_version_is_zero(ver))
		return -EINVAL;
	return chk_run(st, chk_tomb_confirm_op, &a);
}

static int chk_purge_op(struct chk_store *st, const void *arg)
{
	const struct chk_tomb_args *a = arg;
	uint8_t kb[PROTO_KEY_MAX], tk[CHK_TOMB_KEY_MAX];
	MDB_val k, t;
	MDB_txn *txn;
	int rc;

	rc = chk_key_txn(st, a->key, kb, &k, &txn);
	if (rc)
		return rc;
	rc = chk_tomb_drop(st, txn, &k, a->key->kind, a->ver, a->done);
	if (!rc && *a->done) {
		t.mv_data = tk;
		t.mv_size = chk_tomb_key(kb, k.mv_size, a->ver, tk);
		rc = chk_mdb_err(mdb_del(txn, st->tombs, &t, NULL));
		if (rc == -ENOENT)
			rc = 0; /* never confirmed */
	}
	if (rc) {
		mdb_txn_abort(txn);
		*a->done = false;
		return rc;
	}
	rc = chk_mdb_err(mdb_txn_commit(txn));
	if (rc)
		*a->done = false;
	return rc;
}

int chk_store_purge(struct chk_store *st, const struct proto_key *key,
		    const struct proto_version *ver, bool *purged)
{
	struct chk_tomb_args a = { .key = key, .ver = ver, .done = purged };

	*purged = false;
	if (key->kind >= PROTO_KIND_MAX || proto_version_is_zero(ver))
		return -EINVAL;
	return chk_run(st, chk_purge_op, &a);
}

/* ---- the collector ---- */

struct chk_gc_args {
	uint64_t now_ms, grace_ms;
	unsigned max;
	unsigned *purged;
	bool *more;
};

/* Handle one "tombs" entry at the cursor: purge it if due, drop it if stale. */
static int chk_gc_one(struct chk_store *st, MDB_txn *txn, const MDB_val *t, const MDB_val *v,
		      unsigned *purged)
{
	struct proto_version ver;
	struct proto_key key;
	struct proto_rd rd;
	MDB_val k;
	bool gone;
	int rc;

	proto_rd_init(&rd, v->mv_data, v->mv_size);
	ver.hlc = proto_get_u64(&rd);
	ver.writer = proto_get_u64(&rd);
	k.mv_data = (uint8_t *)t->mv_data + 8;
	k.mv_size = t->mv_size - 8;
	if (rd.bad || rd.left || t->mv_size <= 8 || t->mv_size > CHK_TOMB_KEY_MAX ||
	    proto_key_decode(k.mv_data, k.mv_size, &key)) {
		qlog_warn("dropping a damaged tombstone confirmation (%zu bytes)", t->mv_size);
		return 0;
	}
	rc = chk_tomb_drop(st, txn, &k, key.kind, &ver, &gone);
	if (!rc && gone)
		(*purged)++;
	return rc;
}

static int chk_gc_op(struct chk_store *st, const void *arg)
{
	const struct chk_gc_args *a = arg;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val t, v;
	unsigned seen = 0;
	int rc, mrc;

	rc = chk_mdb_err(mdb_txn_begin(st->env, st->b.txn, 0, &txn));
	if (rc)
		return rc;
	rc = chk_mdb_err(mdb_cursor_open(txn, st->tombs, &cur));
	if (rc)
		goto out_abort;
	while ((mrc = mdb_cursor_get(cur, &t, &v, MDB_FIRST)) == 0) {
		uint64_t ms = t.mv_size >= 8 ? proto_be64_get(t.mv_data) : 0;

		/* the oldest first: the first one in its grace period ends the walk */
		if (t.mv_size >= 8 && (ms > a->now_ms || a->now_ms - ms < a->grace_ms))
			break;
		if (seen++ == a->max) {
			*a->more = true;
			break;
		}
		rc = chk_gc_one(st, txn, &t, &v, a->purged);
		if (!rc)
			rc = chk_mdb_err(mdb_cursor_del(cur, 0));
		if (rc)
			break;
	}
	if (!rc && mrc && mrc != MDB_NOTFOUND)
		rc = chk_mdb_err(mrc);
	mdb_cursor_close(cur);
	if (rc)
		goto out_abort;
	return chk_mdb_err(mdb_txn_commit(txn));
out_abort:
	mdb_txn_abort(txn);
	return rc;
}

int chk_store_tomb_gc(struct chk_store *st, uint64_t now_ms, uint64_t grace_ms, unsigned max,
		      unsigned *purged, bool *more)
{
	struct chk_gc_args a = { .now_ms = now_ms, .grace_ms = grace_ms, .max = max,
				 .purged = purged, .more = more };
	int rc;

	*purged = 0;
	*more = false;
	rc = chk_run(st, chk_gc_op, &a);
	if (rc) {
		*purged = 0; /* undone with the request */
		*more = false;
	}
	return rc;
}

/* ---- last-alive stamp ---- */

static int chk_alive_op(struct chk_store *st, const void *arg)
{
	const uint64_t *now = arg;
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(*now >> (8 * i));
	return chk_meta_set(st, CHK_META_ALIVE, b, sizeof(b));
}

int chk_store_alive(struct chk_store *st, uint64_t now_ms)
{
	return chk_run(st, chk_alive_op, &now_ms);
}

uint64_t chk_store_alive_prev(const struct chk_store *st)
{
	return st->alive_prev_ms;
}

int chk_alive_load(struct chk_store *st)
{
	MDB_val k = { .mv_size = strlen(CHK_META_ALIVE), .mv_data = (void *)CHK_META_ALIVE }, v;
	struct proto_rd rd;
	MDB_txn *txn;
	int rc;

	st->alive_prev_ms = 0;
	rc = chk_mdb_err(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn));
	if (rc)
		return rc;
	rc = chk_mdb_err(mdb_get(txn, st->meta, &k, &v));
	if (rc == 0) {
		proto_rd_init(&rd, v.mv_data, v.mv_size);
		st->alive_prev_ms = proto_get_u64(&rd);
		if (rd.bad || rd.left) {
			qlog_warn("damaged last-alive stamp in %s: ignored", st->dir);
			st->alive_prev_ms = 0;
		}
	}
	mdb_txn_abort(txn);
	return rc == -ENOENT ? 0 : rc;
}
