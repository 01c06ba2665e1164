// SPDX-License-Identifier: MIT
/*
 * quorum_scan.c - per-daemon SCAN cursors, placement and record copies for
 * fsck.quorumfs (see quorum_scan.h). Every step is one call with one RPC
 * per daemon asked, under the quorum's timeout_ms.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/quorum_priv.h"
#include "fs/quorum_scan.h"
#include "proto/status.h"

int qfs_scan_rpc_err(const struct qfs_rpc *rpc)
{
	if (!rpc)
		return -ETIMEDOUT;
	if (rpc->err)
		return rpc->err;
	if (rpc->status != PROTO_ST_OK)
		return -proto_st_to_errno(rpc->status);
	return 0;
}

/* Read the next entry of the current page into cur->e. 0 or -EBADMSG. */
static int qfs_scan_read(struct qfs_scan_cur *cur)
{
	int rc;

	cur->has = false;
	if (!cur->c)
		return 0;
	if (cur->op == PROTO_OP_PENDING_LIST) {
		rc = proto_pending_page_next(&cur->rd, &cur->pend);
		cur->e.key = cur->pend.key;
		memset(&cur->e.meta, 0, sizeof(cur->e.meta));
	} else {
		rc = proto_page_next(&cur->rd, false, &cur->e);
	}
	if (rc < 0)
		return -EBADMSG;
	if (rc == 0)
		return 0;
	cur->has = true;
	cur->key_len = proto_key_encode(&cur->e.key, cur->key);
	proto_hlc_observe(&cur->q->clock, cur->e.meta.ver.hlc);
	return 0;
}

int qfs_scan_one(struct qfs_quorum *q, int daemon, uint8_t op, struct proto_wr *w,
		 uint64_t deadline, struct qfs_call **cp, const struct qfs_rpc **rpcp)
{
	const struct qfs_rpc *rpc;
	struct qfs_call *c;
	int rc;

	rc = qfs_call_new(1, deadline, qfs_accept_reply, NULL, 0, &c);
	if (rc) {
		proto_wr_free(w);
		return rc;
	}
	rc = qfs_call_add(c, daemon, op, true, w, 0, 0);
	if (rc >= 0) {
		qfs_call_set_need(c, 1);
		q->t->ops->submit(q->t, c);
		qfs_call_wait(c, deadline, qfs_call_all_done, NULL);
		rpc = qfs_call_result(c, 0);
		rc = qfs_scan_rpc_err(rpc);
	}
	if (rc < 0) {
		qfs_call_put(c);
		return rc;
	}
	*cp = c;
	*rpcp = rpc;
	return 0;
}

/* SCAN one page starting after cur->key (or from the start when @first). */
static int qfs_scan_fetch(struct qfs_scan_cur *cur, bool first)
{
	struct qfs_quorum *q = cur->q;
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	struct proto_scan_req sq;
	const struct qfs_rpc *rpc;
	struct qfs_call *c;
	struct proto_wr w;
	int rc;

	memset(&sq, 0, sizeof(sq));
	sq.max = cur->page_max;
	if (!first && cur->buckets) {
		sq.flags = PROTO_LIST_AFTER;
		sq.start_len = cur->resume_len;
		memcpy(sq.start, cur->resume, cur->resume_len);
	} else if (!first) {
		sq.flags = PROTO_LIST_AFTER;
		sq.start_len = (uint16_t)cur->key_len;
		memcpy(sq.start, cur->key, cur->key_len);
	}
	if (cur->buckets) {
		sq.flags |= PROTO_SCAN_BUCKETS;
		sq.buckets = cur->buckets;
	}
	proto_wr_init(&w);
	proto_encode_scan_req(&w, &sq);
	rc = qfs_scan_one(q, cur->daemon, cur->op, &w, deadline, &c, &rpc);
	if (rc)
		return rc;
	cur->pages++;
	qfs_call_put(cur->c);
	cur->c = c;
	if (proto_page_begin(&cur->rd, rpc->rargs, rpc->rargs_len, &cur->more))
		return -EBADMSG;
	if (cur->buckets) {
		uint16_t was = cur->resume_len;

		if (proto_page_resume(&cur->rd, cur->resume, &cur->resume_len))
			return -EBADMSG;
		/* a page that says more must move the walk on */
		if (cur->more && (cur->resume_len == 0 || (was && cur->resume_len == was &&
							   !memcmp(sq.start, cur->resume, was))))
			return -EBADMSG;
	}
	return qfs_scan_read(cur);
}

/* Start a cursor of @op (SCAN or PENDING_LIST) on daemon @daemon; @buckets
 * (SCAN only, may be NULL) filters by DIGEST bucket. */
static int qfs_cur_begin(struct qfs_quorum *q, int daemon, uint32_t page_max, uint8_t op,
			 const uint8_t *buckets, struct qfs_scan_cur *cur)
{
	memset(cur, 0, sizeof(*cur));
	cur->q = q;
	cur->daemon = daemon;
	cur->op = op;
	cur->buckets = buckets;
	if (page_max < 1 || page_max > PROTO_LIST_MAX_ENTRIES)
		page_max = PROTO_LIST_MAX_ENTRIES;
	cur->page_max = page_max;
	return qfs_scan_fetch(cur, true);
}

int qfs_scan_begin(struct qfs_quorum *q, int daemon, uint32_t page_max,
		   struct qfs_scan_cur *cur)
{
	return qfs_cur_begin(q, daemon, page_max, PROTO_OP_SCAN, NULL, cur);
}

int qfs_scan_begin_buckets(struct qfs_quorum *q, int daemon, uint32_t page_max,
			   const uint8_t *buckets, struct qfs_scan_cur *cur)
{
	return qfs_cur_begin(q, daemon, page_max, PROTO_OP_SCAN, buckets, cur);
}

int qfs_pending_begin(struct qfs_quorum *q, int daemon, uint32_t page_max,
		      struct qfs_scan_cur *cur)
{
	/* PENDING_LIST has the request layout of SCAN */
	return qfs_cur_begin(q, daemon, page_max, PROTO_OP_PENDING_LIST, NULL, cur);
}

int qfs_scan_advance(struct qfs_scan_cur *cur)
{
	int rc;

	rc = qfs_scan_read(cur);
	if (rc || cur->has)
		return rc;
	/* page used up: cur->key is its last key (filtered: cur->resume is
	 * the last one the daemon looked at); ask for what follows */
	while (cur->more && (cur->buckets ? cur->resume_len : cur->key_len)) {
		rc = qfs_scan_fetch(cur, false);
		if (rc || cur->has)
			return rc;
	}
	return 0;
}

void qfs_scan_end(struct qfs_scan_cur *cur)
{
	qfs_call_put(cur->c);
	cur->c = NULL;
	cur->has = false;
}

unsigned qfs_scan_nreplicas(const struct qfs_quorum *q)
{
	return q->n;
}

int qfs_scan_place(const struct qfs_quorum *q, const struct proto_key *key, int *out, int max)
{
	/* the current layout's list, as transport indexes (fs/quorum_layout.c) */
	return qfs_quorum_place_in((struct qfs_quorum *)q, proto_key_token(key), false, out, max);
}

/* Submit @c, whose @n RPCs all count, and wait for every answer (or @deadline). */
static void qfs_scan_run(struct qfs_quorum *q, struct qfs_call *c, int n, uint64_t deadline)
{
	qfs_call_set_need(c, (unsigned)n);
	q->t->ops->submit(q->t, c);
	qfs_call_wait(c, deadline, qfs_call_all_done, NULL);
}

/*
 * Send request @op with ARGS @args to every daemon at once and wait for
 * every answer; *out is the finished call (qfs_call_put it). 0 or -errno.
 */
static int qfs_scan_ask_all(struct qfs_quorum *q, uint8_t op, const struct proto_wr *args,
			    struct qfs_call **out)
{
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	int nd = q->cl->ndaemons, rc;
	struct qfs_call *c;

	if (args->bad)
		return -ENOMEM;
	rc = qfs_call_new(nd, deadline, qfs_accept_reply, NULL, 0, &c);
	if (rc)
		return rc;
	for (int d = 0; d < nd; d++) {
		struct proto_wr w;

		proto_wr_init(&w);
		proto_put_bytes(&w, args->buf, args->len);
		rc = qfs_call_add(c, d, op, true, &w, 0, 0);
		if (rc < 0) {
			qfs_call_put(c);
			return rc;
		}
	}
	qfs_scan_run(q, c, nd, deadline);
	*out = c;
	return 0;
}

int qfs_scan_digest_all(struct qfs_quorum *q, uint64_t **out, int *err)
{
	struct proto_digest_req dq = { .first = 0, .count = PROTO_DIGEST_BUCKETS };
	int nd = q->cl->ndaemons, rc;
	struct qfs_call *c;
	struct proto_wr w;

	proto_wr_init(&w);
	proto_encode_digest_req(&w, &dq);
	rc = qfs_scan_ask_all(q, PROTO_OP_DIGEST, &w, &c);
	proto_wr_free(&w);
	if (rc)
		return rc;
	for (int d = 0; d < nd; d++) {
		const struct qfs_rpc *rpc = qfs_call_result(c, d);
		struct proto_digest_rep p;

		err[d] = qfs_scan_rpc_err(rpc);
		if (err[d])
			continue;
		if (proto_decode_digest_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &p) ||
		    p.first != 0 || p.count != PROTO_DIGEST_BUCKETS) {
			err[d] = -EBADMSG;
			continue;
		}
		for (uint32_t b = 0; b < PROTO_DIGEST_BUCKETS; b++)
			out[d][b] = proto_digest_at(&p, b);
	}
	qfs_call_put(c);
	return 0;
}

bool qfs_scan_bucket_place(struct qfs_quorum *q, uint32_t bucket, int *out, int max, int *n)
{
	const struct qfs_q_lay *l = atomic_load(&q->lay);
	uint64_t lo = (uint64_t)bucket << (64 - PROTO_DIGEST_BITS);
	uint64_t hi = lo | (~0ULL >> PROTO_DIGEST_BITS);

	*n = 0;
	if (!qfs_ring_span_same(l->ring, lo, hi, (int)l->cl->n))
		return false;
	*n = qfs_quorum_place_in(q, lo, false, out, max);
	return true;
}

/* PUT the call's record to @to[nto], wait for every answer, fill @res. */
static int qfs_scan_put_sums(struct qfs_quorum *q, const struct proto_key *key,
			     const struct proto_meta *meta, const void *val,
			     const uint64_t *sums, const int *to, int nto, int *res)
{
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	struct qfs_call *c;
	int rc;

	rc = qfs_q_put_call(meta, meta->len ? val : NULL, nto, deadline, &c);
	if (rc)
		return rc;
	for (int i = 0; i < nto; i++) {
		rc = qfs_q_put_add(c, key, meta, sums, to[i], true);
		if (rc < 0) {
			qfs_call_put(c);
			return rc;
		}
	}
	qfs_scan_run(q, c, nto, deadline);
	for (int i = 0; i < nto; i++) {
		const struct qfs_rpc *rpc = qfs_call_result(c, i);
		struct proto_write_rep wr;

		res[i] = qfs_scan_rpc_err(rpc);
		if (res[i])
			continue;
		if (proto_decode_write_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &wr))
			res[i] = -EBADMSG;
		else if (proto_version_cmp(&wr.stored, &meta->ver) < 0)
			res[i] = -EIO;	/* refused without holding anything newer */
	}
	qfs_call_put(c);
	return 0;
}

int qfs_scan_put_to(struct qfs_quorum *q, const struct proto_key *key,
		    const struct proto_meta *meta, const void *val, const int *to, int nto,
		    int *res)
{
	uint64_t sums[PROTO_CHUNK_BLOCKS];
	struct proto_meta m = *meta;

	if (m.len > proto_value_max(key->kind))
		return -EFBIG;
	m.sum = proto_value_sums(val, m.len, sums);
	m.flags &= ~PROTO_REC_CORRUPT;
	return qfs_scan_put_sums(q, key, &m, val, sums, to, nto, res);
}

int qfs_scan_copy(struct qfs_quorum *q, const struct proto_key *key,
		  const struct proto_meta *want, int from, const int *to, int nto, int *res)
{
	static const uint64_t no_sums[1];
	struct proto_meta m = *want;
	struct qfs_full f;
	int rc;

	m.flags &= ~PROTO_REC_CORRUPT;
	if (!m.len) {
		/* nothing to fetch: the metadata is the whole record (not so for an
		 * INODE tombstone: it keeps its registers, meta.len bytes) */
		return qfs_scan_put_sums(q, key, &m, NULL, no_sums, to, nto, res);
	}
	rc = qfs_q_fetch_whole(q, key, from, qfs_deadline_ms(q->timeout_ms), &f);
	if (rc)
		return rc;
	f.meta.flags &= ~PROTO_REC_CORRUPT;
	if (proto_lww_cmp(&f.meta, &m) != 0) {
		qfs_full_free(&f);
		return -ESTALE;
	}
	rc = qfs_scan_put_sums(q, key, &f.meta, f.val, f.sums, to, nto, res);
	qfs_full_free(&f);
	return rc;
}

int qfs_scan_head_all(struct qfs_quorum *q, const struct proto_key *key, bool *has,
		      struct proto_meta *meta, int *err)
{
	int nd = q->cl->ndaemons, rc;
	struct proto_head_req hq;
	struct qfs_call *c;
	struct proto_wr w;

	memset(&hq, 0, sizeof(hq));
	hq.key = *key;
	proto_wr_init(&w);
	proto_encode_head_req(&w, &hq);
	rc = qfs_scan_ask_all(q, PROTO_OP_HEAD, &w, &c);
	proto_wr_free(&w);
	if (rc)
		return rc;
	for (int d = 0; d < nd; d++) {
		const struct qfs_rpc *rpc = qfs_call_result(c, d);

		has[d] = false;
		err[d] = rpc && rpc->err == 0 && rpc->status == PROTO_ST_NOENT
				 ? 0 : qfs_scan_rpc_err(rpc);
		if (!rpc || err[d] || rpc->status != PROTO_ST_OK)
			continue;
		if (proto_decode_head_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &meta[d])) {
			err[d] = -EBADMSG;
			continue;
		}
		proto_hlc_observe(&q->clock, meta[d].ver.hlc);
		has[d] = true;
	}
	qfs_call_put(c);
	return 0;
}

int qfs_scan_batch(struct qfs_quorum *q, uint8_t op, const struct proto_batch_ent *e, int n,
		   const int *to, int nto, int *res)
{
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	struct qfs_call *c;
	int rc;

	if (n < 1 || n > PROTO_BATCH_MAX || nto < 1)
		return -EINVAL;
	rc = qfs_call_new(nto, deadline, qfs_accept_ok, NULL, 0, &c);
	if (rc)
		return rc;
	for (int i = 0; i < nto; i++) {
		struct proto_wr w;

		proto_wr_init(&w);
		proto_encode_batch_head(&w, (uint16_t)n);
		for (int k = 0; k < n; k++)
			proto_encode_batch_ent(&w, op, &e[k]);
		rc = qfs_call_add(c, to[i], op, true, &w, 0, 0);
		if (rc < 0) {
			qfs_call_put(c);
			return rc;
		}
	}
	qfs_scan_run(q, c, nto, deadline);
	for (int i = 0; i < nto; i++) {
		const struct qfs_rpc *rpc = qfs_call_result(c, i);
		uint32_t cnt;

		res[i] = qfs_scan_rpc_err(rpc);
		if (!res[i])
			res[i] = proto_decode_count_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len,
							&cnt) ? -EBADMSG : (int)cnt;
	}
	qfs_call_put(c);
	return 0;
}
