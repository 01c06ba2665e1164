// SPDX-License-Identifier: MIT
/*
 * store_layout.c - the cluster layout this daemon holds, and DROP.
 *
 * The layout is an opaque, already validated record (proto/layout.h) kept
 * under "layout" in DB "meta" and mirrored in memory (ctr_lock) so that
 * HELLO and LAYOUT_GET never touch the disk. LAYOUT_SET is a compare-and-
 * swap on its version, run on the writer thread in a batch of its own: it
 * is applied only when the stored version equals the expected one, and the
 * memory copy changes only once the batch committed.
 *
 * DROP removes a record this daemon no longer owns (rebalance) when its
 * stored version is exactly the one given: a write that came in meanwhile
 * keeps the record. A dropped chunk's body is freed like a superseded one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chunkd/store_priv.h"
#include "proto/layout.h"
#include "proto/log.h"

#define CHK_META_LAYOUT "layout"

/* Layout version stored in the encoded record @b (0 when none or damaged). */
static uint64_t chk_layout_ver(const uint8_t *b, size_t len)
{
	struct proto_rd r;
	uint64_t v;

	proto_rd_init(&r, b, len);
	proto_get_u8(&r);
	proto_get_u8(&r);
	v = proto_get_u64(&r);
	return r.bad ? 0 : v;
}

int chk_layout_load(struct chk_store *st)
{
	MDB_val k = { .mv_size = strlen(CHK_META_LAYOUT), .mv_data = (void *)CHK_META_LAYOUT }, v;
	struct proto_layout *l;
	MDB_txn *txn;
	int rc;

	st->layout = NULL;
	st->layout_len = 0;
	st->layout_version = 0;
	rc = chk_mdb_err(mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn));
	if (rc)
		return rc;
	rc = chk_mdb_err(mdb_get(txn, st->meta, &k, &v));
	if (rc) {
		mdb_txn_abort(txn);
		return rc == -ENOENT ? 0 : rc;
	}
	l = malloc(sizeof(*l));
	st->layout = malloc(v.mv_size ? v.mv_size : 1);
	if (!l || !st->layout) {
		rc = -ENOMEM;
	} else if (proto_layout_decode(v.mv_data, v.mv_size, l)) {
		/* refuse nothing: a damaged layout is as good as none */
		qlog_warn("damaged cluster layout in %s: ignored", st->dir);
		free(st->layout);
		st->layout = NULL;
	} else {
		memcpy(st->layout, v.mv_data, v.mv_size);
		st->layout_len = v.mv_size;
		st->layout_version = l->cur.version;
	}
	free(l);
	mdb_txn_abort(txn);
	return rc;
}

uint64_t chk_store_layout_version(struct chk_store *st)
{
	uint64_t v;

	pthread_mutex_lock(&st->ctr_lock);
	v = st->layout_version;
	pthread_mutex_unlock(&st->ctr_lock);
	return v;
}

int chk_store_layout_get(struct chk_store *st, uint8_t **buf, size_t *len)
{
	int rc = 0;

	*buf = NULL;
	*len = 0;
	pthread_mutex_lock(&st->ctr_lock);
	if (!st->layout) {
		rc = -ENOENT;
	} else {
		*buf = malloc(st->layout_len);
		if (!*buf)
			rc = -ENOMEM;
		else
			memcpy(*buf, st->layout, st->layout_len);
		*len = st->layout_len;
	}
	pthread_mutex_unlock(&st->ctr_lock);
	return rc;
}

struct chk_layout_args {
	const uint8_t *buf;
	size_t len;
};

static int chk_layout_op(struct chk_store *st, const void *arg)
{
	const struct chk_layout_args *a = arg;

	return chk_meta_set(st, CHK_META_LAYOUT, a->buf, a->len);
}

int chk_store_layout_set(struct chk_store *st, uint64_t expect, const uint8_t *buf, size_t len,
			 uint64_t *stored)
{
	struct chk_layout_args a = { .buf = buf, .len = len };
	uint64_t cur, nv = chk_layout_ver(buf, len);
	uint8_t *copy;
	bool same;
	int rc;

	pthread_mutex_lock(&st->ctr_lock);
	cur = st->layout_version;
	same = st->layout && st->layout_len == len && !memcmp(st->layout, buf, len);
	pthread_mutex_unlock(&st->ctr_lock);
	*stored = cur;
	if (same)
		return 0; /* a retry of the swap that already happened */
	if (cur != expect || nv <= cur)
		return -ESTALE;
	if (st->b.active)
		return -EBUSY; /* writer only, outside a batch */
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	rc = chk_run(st, chk_layout_op, &a);
	if (rc) {
		free(copy);
		return rc;
	}
	pthread_mutex_lock(&st->ctr_lock);
	free(st->layout);
	st->layout = copy;
	st->layout_len = len;
	st->layout_version = nv;
	pthread_mutex_unlock(&st->ctr_lock);
	*stored = nv;
	return 0;
}

/* ---- DROP ---- */

struct chk_drop_args {
	const struct proto_key *key;
	const struct proto_version *ver;
	bool *done;
};

static int chk_drop_op(struct chk_store *st, const void *arg)
{
	const struct chk_drop_args *a = arg;
	uint8_t kb[PROTO_KEY_MAX];
	struct chk_rec *old;
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	old = malloc(sizeof(*old));
	if (!old)
		return -ENOMEM;
	rc = chk_key_txn(st, a->key, kb, &k, &txn);
	if (rc)
		goto out_free;
	rc = chk_mdb_err(mdb_get(txn, st->recs, &k, &v));
	if (rc == -ENOENT) {
		rc = 0; /* dropped already */
		goto out_abort;
	}
	if (rc)
		goto out_abort;
	rc = chk_rec_decode(a->key->kind, v.mv_data, v.mv_size, old);
	if (rc)
		goto out_abort;
	if (proto_version_cmp(&old->meta.ver, a->ver) != 0)
		goto out_abort; /* written meanwhile: keep it (rc 0, not done) */
	if (old->body) {
		rc = chk_grow((void **)&st->b.doomed, &st->b.cap_doomed, st->b.ndoomed,
			      sizeof(*st->b.doomed));
		if (rc)
			goto out_abort;
	}
	rc = chk_mdb_err(mdb_del(txn, st->recs, &k, NULL));
	if (!rc)
		rc = chk_digest_update(st, txn, &k, &old->meta, NULL); /* DIGEST stays true */
	if (rc)
		goto out_abort;
	rc = chk_mdb_err(mdb_txn_commit(txn));
	if (rc)
		goto out_free;
	if (old->body)
		st->b.doomed[st->b.ndoomed++] = old->body;
	chk_account(&st->b.ctr, a->key->kind, &old->meta, -1);
	*a->done = true;
	goto out_free;
out_abort:
	mdb_txn_abort(txn);
out_free:
	free(old);
	return rc;
}

int chk_store_drop(struct chk_store *st, const struct proto_key *key,
		   const struct proto_version *ver, bool *dropped)
{
	struct chk_drop_args a = { .key = key, .ver = ver, .done = dropped };

	*dropped = false;
	if (key->kind >= PROTO_KIND_MAX || proto_version_is_zero(ver))
		return -EINVAL;
	return chk_run(st, chk_drop_op, &a);
}
