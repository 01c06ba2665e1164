// SPDX-License-Identifier: MIT
/*
 * quorum_write.c - quorum writes: PUT (a whole record to all N replicas,
 * success at W acknowledgements) and PATCH (a conditional range write into a
 * chunk, with the repair of replicas older than its base).
 *
 * A write is sent to every replica, rebuilding ones included (they must
 * catch up), but only counting replicas make up W. The waiter returns as
 * soon as W acknowledged; the call keeps the other RPCs going in the
 * background until they answer or the deadline passes. Then, still in the
 * background, the replicas it missed go into the pending-repair index of
 * those that took it, and a tombstone all N took is confirmed to them
 * (quorum_pending.c).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fs/quorum_priv.h"
#include "proto/log.h"
#include "proto/status.h"

/* ---- PUT ---- */

/*
 * Validate one PUT, build its call and submit it. Returns 0 with the call in
 * *out (the caller finishes it with put_finish), or -errno.
 */
static int put_start(struct qfs_quorum *q, const struct qfs_put *p, uint32_t put_flags,
		     uint64_t deadline, struct qfs_call **out)
{
	struct qfs_replica reps[QFS_Q_PLACE_MAX];
	uint64_t sums[PROTO_CHUNK_BLOCKS];
	struct proto_meta m = *p->meta;
	const void *val = p->val;
	struct qfs_call *c;
	int n, nfb = 0, ncount, rc;
	uint32_t lver;

	if (p->key->kind >= PROTO_KIND_MAX || (m.flags & ~PROTO_REC_TOMBSTONE) ||
	    (put_flags & ~PROTO_PUT_MASK) ||
	    ((put_flags & PROTO_PUT_MKFS) && p->key->kind != PROTO_KIND_SUPER))
		return -EINVAL;
	/* a tombstone has no value, except an INODE's (its registers merge) */
	if ((m.flags & PROTO_REC_TOMBSTONE) && p->key->kind != PROTO_KIND_INODE) {
		m.len = 0;
		val = NULL;
	}
	if (m.len > proto_value_max(p->key->kind))
		return -EFBIG;
	if (m.len && !val)
		return -EINVAL;
	if (p->key->kind != PROTO_KIND_CHUNK && p->key->kind != PROTO_KIND_INODE)
		m.epoch = 0;
	m.sum = proto_value_sums(val, m.len, sums);
	proto_hlc_observe(&q->clock, m.ver.hlc);

	n = qfs_q_place(q, proto_key_token(p->key), reps, &ncount, &lver);
	/* hinted handoff: fallbacks beyond the list stand in for down replicas
	 * (every daemon keeps the superblock: never for it) */
	if (p->key->kind != PROTO_KIND_SUPER)
		nfb = qfs_q_fallbacks(q, proto_key_token(p->key), reps, n, reps + n,
				      QFS_Q_PLACE_MAX - n);
	if (qfs_q_read_only(q, reps, n + nfb))
		return -EROFS;
	rc = qfs_q_put_call(&m, val, n + nfb, deadline, &c);
	if (rc)
		return rc;
	c->layout = lver; /* daemons holding a newer layout refuse it */
	for (int i = 0; i < n + nfb; i++) {
		rc = qfs_q_put_add_flags(c, p->key, &m, sums, reps[i].daemon,
					 !reps[i].rebuilding, put_flags);
		if (rc < 0) {
			qfs_call_put(c);
			return rc;
		}
	}
	/* once every reply is in: pending-repair entry or tombstone confirmation */
	qfs_pend_watch(q, c, p->key, &m, false, n);
	/* W in the old and new lists; a fallback counts as the replica it replaces */
	qfs_call_set_need(c, qfs_q_wneed(q, n));
	q->t->ops->submit(q->t, c);
	*out = c;
	return 0;
}

/* Wait for W acknowledgements of a started PUT; consumes the call. */
static int put_wait(struct qfs_quorum *q, const struct qfs_put *p, struct qfs_call *c,
		    uint64_t deadline)
{
	int rc;

	qfs_call_wait(c, deadline, NULL, NULL);
	pthread_mutex_lock(&c->lock);
	rc = c->naccepted >= c->need ? 0 : 1;
	for (int i = 0; i < c->nrpc; i++) {
		struct proto_write_rep wr;
		const struct qfs_rpc *rpc = &c->rpc[i];

		if (rpc->state == QFS_RPC_DONE && rpc->accepted &&
		    !proto_decode_write_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &wr))
			proto_hlc_observe(&q->clock, wr.stored.hlc);
	}
	pthread_mutex_unlock(&c->lock);
	if (rc) {
		char ks[96];

		rc = qfs_q_write_error(q, c);
		qlog_debug("put %s: fewer than %u acks: %s", proto_key_str(p->key, ks, sizeof(ks)),
			   q->w, strerror(-rc));
	} else if (p->key->kind == PROTO_KIND_SUPER && !(p->meta->flags & PROTO_REC_TOMBSTONE)) {
		qfs_q_super_written(q, p->val, p->meta->len);
	}
	qfs_call_put(c);
	return rc;
}

/*
 * put_wait, and when daemons refused the PUT as placed by a stale layout,
 * refresh the layout and send the whole PUT once more, placed anew, with a
 * deadline of its own. The value comes from the first call's own copy (a
 * put_begin caller may have reused its buffer). Consumes @c.
 */
static int put_finish(struct qfs_quorum *q, const struct qfs_put *p, uint32_t put_flags,
		      struct qfs_call *c, uint64_t deadline)
{
	uint32_t lver = c->layout;
	struct qfs_put again = *p;
	struct qfs_call *c2;
	char what[128];
	int rc;

	qfs_call_get(c); /* keep its DATA for a retry */
	rc = put_wait(q, p, c, deadline);
	if (rc == 0)
		goto out_put;
	memcpy(what, "put ", 4);
	proto_key_str(p->key, what + 4, sizeof(what) - 4);
	if (!qfs_q_lay_retry(q, lver, rc, what))
		goto out_put;
	again.val = c->data;
	deadline = qfs_deadline_ms(q->timeout_ms);
	rc = put_start(q, &again, put_flags, deadline, &c2);
	if (rc == 0) {
		lver = c2->layout;
		rc = put_wait(q, &again, c2, deadline);
	}
	rc = qfs_q_lay_retried(q, lver, rc, what);
out_put:
	atomic_fetch_add(&q->writes_done, 1);
	qfs_call_put(c);
	return rc;
}

int qfs_quorum_put(struct qfs_quorum *q, const struct proto_key *key,
		   const struct proto_meta *meta, const void *val)
{
	return qfs_quorum_put_flags(q, key, meta, val, 0);
}

int qfs_quorum_put_inode(struct qfs_quorum *q, uint64_t ino, const struct proto_inode *inode)
{
	struct proto_meta m;
	struct proto_key key;
	struct proto_wr w;
	int rc;

	proto_wr_init(&w);
	proto_inode_encode(&w, inode);
	if (w.bad) {
		proto_wr_free(&w);
		return -ENOMEM;
	}
	proto_inode_meta(inode, w.buf, (uint32_t)w.len, &m);
	proto_key_inode(&key, ino);
	rc = qfs_quorum_put(q, &key, &m, w.buf);
	proto_wr_free(&w);
	return rc;
}

int qfs_quorum_put_flags(struct qfs_quorum *q, const struct proto_key *key,
			 const struct proto_meta *meta, const void *val, uint32_t put_flags)
{
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	struct qfs_put p = { .key = key, .meta = meta, .val = val };
	struct qfs_call *c;
	int rc;

	rc = put_start(q, &p, put_flags, deadline, &c);
	if (rc < 0)
		return rc;
	return put_finish(q, &p, put_flags, c, deadline);
}

struct qfs_put_op {
	struct proto_key key;
	struct proto_meta meta;
	struct qfs_put p;	/* points into this op; val unused after begin */
	struct qfs_call *c;
	uint64_t deadline;
};

int qfs_quorum_put_begin(struct qfs_quorum *q, const struct proto_key *key,
			 const struct proto_meta *meta, const void *val, struct qfs_put_op **out)
{
	struct qfs_put_op *op;
	int rc;

	if (key->kind == PROTO_KIND_SUPER)
		return -EINVAL; /* the superblock is written synchronously */
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->key = *key;
	op->meta = *meta;
	op->p.key = &op->key;
	op->p.meta = &op->meta;
	op->p.val = val;
	op->deadline = qfs_deadline_ms(q->timeout_ms);
	rc = put_start(q, &op->p, 0, op->deadline, &op->c);
	if (rc < 0) {
		free(op);
		return rc;
	}
	op->p.val = NULL; /* the call holds its own copy */
	*out = op;
	return 0;
}

int qfs_quorum_put_end(struct qfs_quorum *q, struct qfs_put_op *op)
{
	int rc = put_finish(q, &op->p, 0, op->c, op->deadline);

	free(op);
	return rc;
}

int qfs_quorum_put_many(struct qfs_quorum *q, const struct qfs_put *puts, int n)
{
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	struct qfs_call *calls[QFS_PUT_MANY_MAX];
	int rc = 0, err;

	if (n < 1 || n > QFS_PUT_MANY_MAX)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		err = put_start(q, &puts[i], 0, deadline, &calls[i]);
		if (err < 0) {
			calls[i] = NULL;
			if (!rc)
				rc = err;
		}
	}
	for (int i = 0; i < n; i++) {
		if (!calls[i])
			continue;
		err = put_finish(q, &puts[i], 0, calls[i], deadline);
		if (err < 0 && !rc)
			rc = err;
	}
	return rc;
}

/* ---- PATCH ---- */

/* PATCH acks: applied (OK), or a CONFLICT whose stored version is ours. */
static bool qfs_accept_patch(const struct qfs_call *c, const struct qfs_rpc *rpc)
{
	struct proto_write_rep wr;

	if (rpc->err)
		return false;
	if (rpc->status == PROTO_ST_OK)
		return true;
	if (rpc->status != PROTO_ST_CONFLICT ||
	    proto_decode_write_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &wr))
		return false;
	return proto_version_cmp(&wr.stored, &c->want) == 0;
}

enum qfs_patch_class { QFS_P_PENDING, QFS_P_OK, QFS_P_STALE, QFS_P_NEWER, QFS_P_FAILED };

struct qfs_patch_state {
	const struct proto_version *base;
	unsigned w;
	unsigned extra;			   /* counting replicas repaired to ver */
	bool handled[QFS_Q_PLACE_MAX * 2]; /* stale replies already repaired */
};

/* Classify a PATCH RPC; called with c->lock held or once it is DONE. */
static enum qfs_patch_class qfs_patch_class(const struct qfs_call *c, const struct qfs_rpc *rpc,
					    const struct proto_version *base,
					    struct proto_version *stored)
{
	struct proto_write_rep wr;

	if (rpc->state != QFS_RPC_DONE)
		return QFS_P_PENDING;
	if (rpc->accepted)
		return QFS_P_OK;
	(void)c;
	if (rpc->err || rpc->status != PROTO_ST_CONFLICT ||
	    proto_decode_write_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &wr))
		return QFS_P_FAILED;
	*stored = wr.stored;
	return proto_version_cmp(&wr.stored, base) < 0 ? QFS_P_STALE : QFS_P_NEWER;
}

/* Wake at W, when all answered, or when a stale replica can be repaired. */
static bool qfs_patch_wake(const struct qfs_call *c, void *arg)
{
	const struct qfs_patch_state *st = arg;
	bool stale = false, source = false;

	if (c->naccepted + st->extra >= st->w || c->ndone == c->nrpc)
		return true;
	for (int i = 0; i < c->nrpc; i++) {
		struct proto_version v;

		switch (qfs_patch_class(c, &c->rpc[i], st->base, &v)) {
		case QFS_P_OK:
			source = true;
			break;
		case QFS_P_STALE:
			stale |= !st->handled[i];
			break;
		default:
			break;
		}
	}
	return stale && source;
}

/* Encode a PATCH request into @w. */
static void qfs_patch_encode(struct proto_wr *w, const struct proto_key *key,
			     const struct proto_version *base, const struct proto_version *ver,
			     uint64_t epoch, uint32_t off, uint64_t sum)
{
	struct proto_patch_req pq;

	memset(&pq, 0, sizeof(pq));
	pq.key = *key;
	pq.base = *base;
	pq.ver = *ver;
	pq.epoch = epoch;
	pq.offset = off;
	pq.sum = sum;
	proto_wr_init(w);
	proto_encode_patch_req(w, &pq);
}

/*
 * Bring the stale replica @dst up to date from @src (which acknowledged the
 * patch, so it holds @ver): a full GET, then a PUT of that record, and if
 * @dst then holds @base instead, the PATCH again. Returns 0 when @dst holds
 * @ver, else -errno.
 */
static int qfs_patch_repair(struct qfs_quorum *q, struct qfs_call *pc, int src, int dst,
			    uint64_t deadline, const struct proto_key *key,
			    const struct proto_version *base, const struct proto_version *ver,
			    uint64_t epoch, uint32_t off, uint64_t sum)
{
	const struct qfs_rpc *res;
	struct proto_write_rep wr;
	struct qfs_full f;
	struct qfs_call *c;
	struct proto_wr w;
	int rc;

	rc = qfs_q_fetch_whole(q, key, src, deadline, &f);
	if (rc)
		return rc;
	rc = qfs_q_put_call(&f.meta, f.val, 2, deadline, &c);
	if (rc)
		goto out_free;
	c->want = *ver;
	c->layout = pc->layout; /* @dst was placed by the PATCH's view */
	rc = qfs_q_put_add(c, key, &f.meta, f.sums, dst, true);
	if (rc < 0)
		goto out_put;
	qfs_call_set_need(c, 1);
	q->t->ops->submit(q->t, c);
	qfs_call_wait(c, deadline, NULL, NULL);
	res = qfs_call_result(c, 0);
	if (!res || !res->accepted ||
	    proto_decode_write_rep(res->rargs, res->rargs_len, res->rdata_len, &wr)) {
		rc = -EIO;
		goto out_put;
	}
	proto_hlc_observe(&q->clock, wr.stored.hlc);
	if (proto_version_cmp(&wr.stored, ver) == 0) {
		rc = 0;
		goto out_put;
	}
	if (proto_version_cmp(&wr.stored, base) != 0) {
		rc = -ESTALE;
		goto out_put;
	}
	qfs_call_put(c);

	/* dst holds base now: apply the patch on it (DATA from the PATCH call) */
	rc = qfs_call_new(1, deadline, qfs_accept_patch, pc->data, pc->data_len, &c);
	if (rc)
		goto out_free;
	c->want = *ver;
	c->layout = pc->layout;
	qfs_patch_encode(&w, key, base, ver, epoch, off, sum);
	rc = qfs_call_add(c, dst, PROTO_OP_PATCH, true, &w, 0, c->data_len);
	if (rc < 0)
		goto out_put;
	qfs_call_set_need(c, 1);
	q->t->ops->submit(q->t, c);
	qfs_call_wait(c, deadline, NULL, NULL);
	res = qfs_call_result(c, 0);
	rc = res && res->accepted ? 0 : -EIO;
out_put:
	qfs_call_put(c);
out_free:
	qfs_full_free(&f);
	return rc;
}

/* One PATCH placed by the current view (*lver: its version). */
static int patch_once(struct qfs_quorum *q, const struct proto_key *key,
		      const struct proto_version *base, const struct proto_version *ver,
		      uint64_t epoch, uint32_t off, const void *data, uint32_t len,
		      struct proto_version *stored, uint32_t *lver)
{
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	struct qfs_replica reps[QFS_Q_PLACE_MAX];
	struct qfs_patch_state st = { .base = base, .w = q->w };
	struct proto_version newest = { 0, 0 };
	bool newer = false;
	struct qfs_call *c;
	uint64_t sum;
	int n, ncount, rc;

	if (key->kind != PROTO_KIND_CHUNK || !len || !data || off > PROTO_CHUNK_MAX ||
	    len > PROTO_CHUNK_MAX - off || proto_version_cmp(base, ver) >= 0)
		return -EINVAL;
	proto_hlc_observe(&q->clock, ver->hlc);
	sum = proto_block_sum(data, len);
	n = qfs_q_place(q, proto_key_token(key), reps, &ncount, lver);
	if (qfs_q_read_only(q, reps, n))
		return -EROFS;
	st.w = qfs_q_wneed(q, n); /* W in the old and new lists */
	rc = qfs_call_new(n, deadline, qfs_accept_patch, data, len, &c);
	if (rc)
		return rc;
	c->want = *ver;
	c->layout = *lver;
	for (int i = 0; i < n; i++) {
		struct proto_wr w;

		qfs_patch_encode(&w, key, base, ver, epoch, off, sum);
		rc = qfs_call_add(c, reps[i].daemon, PROTO_OP_PATCH, !reps[i].rebuilding, &w, 0,
				  len);
		if (rc < 0)
			goto out_put;
	}
	{
		struct proto_meta pm = { .ver = *ver };

		qfs_pend_watch(q, c, key, &pm, true, n); /* replicas it missed, at the end */
	}
	qfs_call_set_need(c, st.w);
	q->t->ops->submit(q->t, c);

	for (;;) {
		int src = -1, todo[QFS_Q_PLACE_MAX], ntodo = 0;
		bool counts[QFS_Q_PLACE_MAX], all_done;
		unsigned ok;

		qfs_call_wait(c, deadline, qfs_patch_wake, &st);

		pthread_mutex_lock(&c->lock);
		ok = c->naccepted + st.extra;
		all_done = c->ndone == c->nrpc;
		for (int i = 0; i < c->nrpc; i++) {
			struct qfs_rpc *rpc = &c->rpc[i];
			struct proto_version v;

			switch (qfs_patch_class(c, rpc, base, &v)) {
			case QFS_P_OK:
				if (src < 0)
					src = rpc->daemon;
				break;
			case QFS_P_STALE:
				proto_hlc_observe(&q->clock, v.hlc);
				if (!st.handled[i]) {
					counts[ntodo] = rpc->counts;
					todo[ntodo++] = i;
				}
				break;
			case QFS_P_NEWER:
				proto_hlc_observe(&q->clock, v.hlc);
				if (!newer || proto_version_cmp(&v, &newest) > 0)
					newest = v;
				newer = true;
				break;
			default:
				break;
			}
		}
		pthread_mutex_unlock(&c->lock);

		if (ok >= st.w) {
			rc = 0;
			break;
		}
		if (ntodo && src >= 0 && qfs_now_ns() < deadline) {
			for (int k = 0; k < ntodo; k++) {
				int i = todo[k], dst = c->rpc[i].daemon;

				st.handled[i] = true;
				rc = qfs_patch_repair(q, c, src, dst, deadline, key, base, ver,
						      epoch, off, sum);
				if (rc == 0 && counts[k])
					st.extra++;
				else if (rc)
					qlog_debug("patch repair of %s failed: %s",
						   q->cl->daemons[dst].name, strerror(-rc));
			}
			continue;
		}
		if (!all_done && qfs_now_ns() < deadline)
			continue;
		if (newer) {
			*stored = newest;
			rc = -ESTALE;
		} else {
			rc = qfs_q_write_error(q, c);
		}
		break;
	}
out_put:
	qfs_call_put(c);
	return rc < 0 ? rc : 0;
}

int qfs_quorum_patch(struct qfs_quorum *q, const struct proto_key *key,
		     const struct proto_version *base, const struct proto_version *ver,
		     uint64_t epoch, uint32_t off, const void *data, uint32_t len,
		     struct proto_version *stored)
{
	char what[128];
	uint32_t lver = 0;
	int rc;

	rc = patch_once(q, key, base, ver, epoch, off, data, len, stored, &lver);
	atomic_fetch_add(&q->writes_done, 1);
	if (rc != -EIO && rc != -EROFS)
		return rc;
	memcpy(what, "patch ", 6);
	proto_key_str(key, what + 6, sizeof(what) - 6);
	if (!qfs_q_lay_retry(q, lver, rc, what))
		return rc;
	/* replicas that applied it the first time answer "already applied" */
	rc = patch_once(q, key, base, ver, epoch, off, data, len, stored, &lver);
	atomic_fetch_add(&q->writes_done, 1);
	return qfs_q_lay_retried(q, lver, rc, what);
}
