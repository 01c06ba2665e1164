// SPDX-License-Identifier: MIT
/*
 * store_pending.c - the pending-repair index: keys that a write reached on
 * this replica but not on every replica, with the names of the replicas
 * that missed them, so that a repairer (fsck.quorumfs --quick) heals in
 * time proportional to what was missed instead of scanning every store.
 *
 * DB "pending": canonical key bytes -> the key's PENDING_LIST page entry
 * (key, u64 stamp, u8 n, n x (u8 len, name); proto/msg.h), so a page is the
 * stored bytes, each checked with the wire decoder before it is sent. The
 * stamp is the daemon's hlc at the last add: a repairer deletes an entry
 * only with the stamp it listed, so a write that missed a replica after the
 * repair keeps the entry. Writes run on the writer thread inside its batch
 * (each in a nested transaction), reads in one short read transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkd/store_priv.h"
#include "proto/log.h"

/* Decode a stored entry of LMDB key @k; -EIO (logged) when it is damaged. */
static int chk_pending_decode(const MDB_val *k, const MDB_val *v, struct proto_batch_ent *e)
{
	uint8_t kb[PROTO_KEY_MAX];
	struct proto_rd rd;

	proto_rd_init(&rd, v->mv_data, v->mv_size);
	if (proto_batch_next(&rd, PROTO_OP_PENDING_LIST, e) || rd.left != 0 ||
	    proto_key_encode(&e->key, kb) != k->mv_size ||
	    memcmp(kb, k->mv_data, k->mv_size) != 0) {
		qlog_err("damaged pending-repair entry (%zu bytes)", v->mv_size);
		return -EIO;
	}
	return 0;
}

/* Add @name to @e unless it is there or @e is full; true when added. */
static bool chk_pending_name(struct proto_batch_ent *e, const char *name)
{
	for (uint8_t i = 0; i < e->nmissed; i++)
		if (!strcmp(e->missed[i], name))
			return false;
	if (e->nmissed >= PROTO_PENDING_MISSED_MAX)
		return false;
	snprintf(e->missed[e->nmissed++], sizeof(e->missed[0]), "%s", name);
	return true;
}

struct chk_pending_add_args {
	const struct proto_batch_ent *e;
	uint64_t stamp;
};

static int chk_pending_add_op(struct chk_store *st, const void *arg)
{
	const struct chk_pending_add_args *a = arg;
	struct proto_batch_ent *nw, *old;
	uint8_t kb[PROTO_KEY_MAX];
	struct proto_wr w;
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	nw = calloc(2, sizeof(*nw));
	if (!nw)
		return -ENOMEM;
	old = nw + 1;
	rc = chk_key_txn(st, &a->e->key, kb, &k, &txn);
	if (rc)
		goto out_free;
	/* the new names first: past the bound the oldest are the ones dropped */
	nw->key = a->e->key;
	nw->stamp = a->stamp;
	for (uint8_t i = 0; i < a->e->nmissed && i < PROTO_PENDING_MISSED_MAX; i++)
		chk_pending_name(nw, a->e->missed[i]);
	rc = mdb_get(txn, st->pending, &k, &v);
	if (rc == 0 && chk_pending_decode(&k, &v, old) == 0) {
		for (uint8_t i = 0; i < old->nmissed; i++)
			chk_pending_name(nw, old->missed[i]);
	} else if (rc != 0 && rc != MDB_NOTFOUND) {
		rc = chk_mdb_err(rc);
		goto out_abort;
	}
	/* (a damaged entry is replaced) */
	proto_wr_init(&w);
	proto_encode_batch_ent(&w, PROTO_OP_PENDING_LIST, nw);
	if (w.bad) {
		rc = -ENOMEM;
	} else {
		v.mv_data = w.buf;
		v.mv_size = w.len;
		rc = chk_mdb_err(mdb_put(txn, st->pending, &k, &v, 0));
	}
	proto_wr_free(&w);
	if (rc)
		goto out_abort;
	rc = chk_mdb_err(mdb_txn_commit(txn));
	goto out_free;
out_abort:
	mdb_txn_abort(txn);
out_free:
	free(nw);
	return rc;
}

int chk_store_pending_add(struct chk_store *st, const struct proto_batch_ent *e,
			  uint64_t stamp)
{
	struct chk_pending_add_args a = { .e = e, .stamp = stamp };

	if (e->key.kind >= PROTO_KIND_MAX || e->nmissed == 0 ||
	    e->nmissed > PROTO_PENDING_MISSED_MAX || stamp == 0)
		return -EINVAL;
	for (uint8_t i = 0; i < e->nmissed; i++)
		if (!e->missed[i][0])
			return -EINVAL;
	return chk_run(st, chk_pending_add_op, &a);
}

struct chk_pending_del_args {
	const struct proto_key *key;
	uint64_t stamp;
	bool *removed;
};

static int chk_pending_del_op(struct chk_store *st, const void *arg)
{
	const struct chk_pending_del_args *a = arg;
	struct proto_batch_ent *e;
	uint8_t kb[PROTO_KEY_MAX];
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	rc = chk_key_txn(st, a->key, kb, &k, &txn);
	if (rc)
		goto out_free;
	rc = chk_mdb_err(mdb_get(txn, st->pending, &k, &v));
	if (rc == -ENOENT) {
		rc = 0;
		goto out_abort;
	}
	if (rc)
		goto out_abort;
	/* a damaged entry goes whatever the stamp: it can never be listed */
	if (chk_pending_decode(&k, &v, e) == 0 && e->stamp > a->stamp)
		goto out_abort; /* a write missed a replica after the repairer looked */
	rc = chk_mdb_err(mdb_del(txn, st->pending, &k, NULL));
	if (rc)
		goto out_abort;
	rc = chk_mdb_err(mdb_txn_commit(txn));
	if (!rc)
		*a->removed = true;
	goto out_free;
out_abort:
	mdb_txn_abort(txn);
out_free:
	free(e);
	return rc;
}

int chk_store_pending_del(struct chk_store *st, const struct proto_key *key, uint64_t stamp,
			  bool *removed)
{
	struct chk_pending_del_args a = { .key = key, .stamp = stamp, .removed = removed };

	*removed = false;
	if (key->kind >= PROTO_KIND_MAX)
		return -EINVAL;
	return chk_run(st, chk_pending_del_op, &a);
}

/* ---- PENDING_LIST ---- */

struct chk_pending_page {
	struct proto_wr w; /* entries */
	uint32_t max, n;
	bool more;
	struct proto_batch_ent e;
};

static int chk_pending_page_add(void *ctx, const MDB_val *k, const MDB_val *v)
{
	struct chk_pending_page *pg = ctx;

	if (pg->n >= pg->max || pg->w.len >= PROTO_REPLY_SOFT_MAX) {
		pg->more = true;
		return 1;
	}
	if (chk_pending_decode(k, v, &pg->e))
		return 0; /* skipped: never sent; the next add or del replaces it */
	proto_encode_batch_ent(&pg->w, PROTO_OP_PENDING_LIST, &pg->e);
	if (pg->w.bad)
		return -ENOMEM;
	pg->n++;
	return 0;
}

int chk_store_pending_list(struct chk_store *st, const struct proto_scan_req *q,
			   struct proto_wr *out)
{
	struct chk_range rg = { .lo = q->start, .lo_len = q->start_len, .dbi = &st->pending };
	struct chk_pending_page *pg;
	int rc;

	if ((q->flags & ~PROTO_LIST_MASK) || q->start_len > PROTO_KEY_MAX || q->max == 0 ||
	    q->max > PROTO_LIST_MAX_ENTRIES)
		return -EINVAL;
	rg.after = q->start_len && (q->flags & PROTO_LIST_AFTER);
	pg = calloc(1, sizeof(*pg));
	if (!pg)
		return -ENOMEM;
	pg->max = q->max;
	proto_wr_init(&pg->w);
	rc = chk_range_walk(st, &rg, chk_pending_page_add, pg);
	if (rc >= 0) {
		proto_encode_page_head(out, pg->more);
		proto_put_bytes(out, pg->w.buf, pg->w.len);
		rc = out->bad ? -ENOMEM : 0;
	}
	proto_wr_free(&pg->w);
	free(pg);
	return rc;
}
