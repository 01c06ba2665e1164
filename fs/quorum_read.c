// SPDX-License-Identifier: MIT
/*
 * quorum_read.c - quorum reads with blocking read-repair (qfs_quorum_get).
 *
 * One round trip asks R counting replicas: for a CHUNK the data range from
 * the first and HEAD from the others, for other kinds the whole value from
 * each (values are small and INODE registers must be merged). A replica
 * that fails fast (suspect) is replaced at once; one that is slow is
 * hedged: every qfs_q_hedge_ns() another replica is asked, all within the
 * operation's single deadline. The answer is the merge of what the
 * replicas hold (LWW, or the register merge for INODE). When replicas
 * disagree, the newest record is written back until W replicas hold it
 * before the read returns, so two readers never see new then old; the
 * other stale replicas are repaired by RPCs that finish in the background.
 * A tombstone older than the tombstone grace is never written back to a
 * replica that answered NOENT: that replica may have collected it, and a
 * copy written back would never be confirmed and collected again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/quorum_heal.h"
#include "fs/quorum_priv.h"
#include "proto/log.h"
#include "proto/status.h"

enum qfs_get_class {
	QFS_G_PENDING,
	QFS_G_PRESENT, /* holds a readable record (maybe a tombstone) */
	QFS_G_ABSENT,  /* NOENT */
	QFS_G_CORRUPT, /* CORRUPT, malformed or failed sums: missing, repair it */
	QFS_G_FAILED,  /* no answer (timeout, down, busy, error) */
};

/* Classify a GET/HEAD RPC from its reply; @m gets the metadata of PRESENT. */
static enum qfs_get_class qfs_get_class(const struct qfs_rpc *rpc, struct proto_meta *m)
{
	struct proto_get_rep rep;

	if (rpc->state != QFS_RPC_DONE)
		return QFS_G_PENDING;
	if (rpc->err)
		return QFS_G_FAILED;
	switch (rpc->status) {
	case PROTO_ST_OK:
		break;
	case PROTO_ST_NOENT:
		return QFS_G_ABSENT;
	case PROTO_ST_CORRUPT:
		return QFS_G_CORRUPT;
	default:
		return QFS_G_FAILED;
	}
	if (rpc->op == PROTO_OP_HEAD) {
		if (proto_decode_head_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, m))
			return QFS_G_CORRUPT;
	} else {
		if (proto_decode_get_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &rep))
			return QFS_G_CORRUPT;
		*m = rep.meta;
	}
	return (m->flags & PROTO_REC_CORRUPT) ? QFS_G_CORRUPT : QFS_G_PRESENT;
}

struct qfs_get_tally {
	unsigned present, absent, corrupt, pending;
	bool live_get; /* a GET is pending or answered with a record */
};

static void qfs_get_tally(const struct qfs_call *c, struct qfs_get_tally *t)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < c->nrpc; i++) {
		struct proto_meta m;

		switch (qfs_get_class(&c->rpc[i], &m)) {
		case QFS_G_PENDING:
			t->pending++;
			t->live_get |= c->rpc[i].op == PROTO_OP_GET;
			break;
		case QFS_G_PRESENT:
			t->present++;
			t->live_get |= c->rpc[i].op == PROTO_OP_GET;
			break;
		case QFS_G_ABSENT:
			t->absent++;
			break;
		case QFS_G_CORRUPT:
			t->corrupt++;
			break;
		default:
			break;
		}
	}
}

/* Enough answers to decide: R of them, and a record or R saying absent. */
static bool qfs_get_enough(const struct qfs_get_tally *t, unsigned r)
{
	return t->present + t->absent + t->corrupt >= r && (t->present || t->absent >= r);
}

/* Wake when enough, when it cannot be enough without more replicas, or idle. */
static bool qfs_get_wake(const struct qfs_call *c, void *arg)
{
	unsigned r = *(const unsigned *)arg;
	struct qfs_get_tally t;

	qfs_get_tally(c, &t);
	return qfs_get_enough(&t, r) || t.present + t.absent + t.corrupt + t.pending < r ||
	       t.pending == 0;
}

static int qfs_get_add(struct qfs_quorum *q, struct qfs_call *c, const struct proto_key *key,
		       int daemon, bool head, uint32_t off, uint32_t len)
{
	struct proto_wr w;

	(void)q;
	proto_wr_init(&w);
	/* A chunk read of no bytes wants versions only: HEAD everywhere. */
	if (head || (key->kind == PROTO_KIND_CHUNK && len == 0)) {
		struct proto_head_req hq = { .key = *key };

		proto_encode_head_req(&w, &hq);
		return qfs_call_add(c, daemon, PROTO_OP_HEAD, true, &w, 0, 0);
	}
	struct proto_get_req gq = { .key = *key, .offset = off, .length = len };

	proto_encode_get_req(&w, &gq);
	return qfs_call_add(c, daemon, PROTO_OP_GET, true, &w, 0, 0);
}

/* What one replica answered, after the gather. */
struct qfs_ans {
	int daemon;
	int idx;		 /* RPC in the gather call */
	enum qfs_get_class cls;
	bool holder;		 /* holds the merged record */
	struct proto_meta meta;
	struct proto_get_rep rep; /* GET replies */
	bool is_get;
};

/* State of one qfs_quorum_get, so helpers can share it. */
struct qfs_get {
	struct qfs_quorum *q;
	const struct proto_key *key;
	uint64_t deadline;
	bool chunk;
	uint32_t off, len;

	struct qfs_replica reps[QFS_Q_PLACE_MAX];
	int nreaders, next;	 /* counting replicas; next one not asked */
	unsigned rneed, wneed;	 /* R and W for this key: more during a transition */
	uint32_t lver;		 /* version of the view that placed reps[] */
	unsigned want;		 /* answers to wait for: R, or all nreaders if fewer */
	struct qfs_call *c;	 /* the gather call */
	struct qfs_ans ans[QFS_Q_PLACE_MAX];
	int nans;

	struct proto_meta merged;
	const uint8_t *mval;	 /* merged value (non-chunk), borrowed */
	struct proto_wr mbuf[2]; /* INODE merge buffers */

	/* chunk data: from a GET reply or a fetched copy */
	const uint8_t *data;	 /* bytes starting at block data_first */
	size_t data_len;
	uint32_t data_first;
	const uint64_t *data_sums; /* sums of those blocks */
	unsigned data_nsums;
	struct qfs_full fetched; /* owns a fetched whole record */
	struct qfs_call *dcall;	 /* owns a refetched range reply */
};

/* Ask R replicas, replace failures, hedge the slow; fill g->ans. */
static int qfs_get_gather(struct qfs_get *g)
{
	struct qfs_quorum *q = g->q;
	uint64_t hedge_at;
	bool done[QFS_Q_PLACE_MAX];
	int rc, nrpc;

	rc = qfs_call_new(g->nreaders, g->deadline, qfs_accept_reply, NULL, 0, &g->c);
	if (rc)
		return rc;
	g->c->layout = g->lver;
	for (unsigned i = 0; i < g->want; i++) {
		rc = qfs_get_add(q, g->c, g->key, g->reps[g->next++].daemon, g->chunk && i > 0,
				 g->off, g->len);
		if (rc < 0)
			return rc;
	}
	qfs_call_set_need(g->c, g->want);
	q->t->ops->submit(q->t, g->c);
	hedge_at = qfs_q_until(qfs_q_hedge_ns(q), g->deadline);

	for (;;) {
		struct qfs_get_tally t;
		uint64_t now;

		qfs_call_wait(g->c, hedge_at, qfs_get_wake, &g->want);
		pthread_mutex_lock(&g->c->lock);
		qfs_get_tally(g->c, &t);
		pthread_mutex_unlock(&g->c->lock);
		now = qfs_now_ns();
		if (qfs_get_enough(&t, g->want) || now >= g->deadline)
			break;
		if (g->next < g->nreaders &&
		    (t.present + t.absent + t.corrupt + t.pending < g->want || t.pending == 0 ||
		     now >= hedge_at)) {
			rc = qfs_get_add(q, g->c, g->key, g->reps[g->next++].daemon,
					 g->chunk && t.live_get, g->off, g->len);
			if (rc < 0)
				return rc;
			q->t->ops->submit(q->t, g->c);
			hedge_at = qfs_q_until(qfs_q_hedge_ns(q), g->deadline);
			continue;
		}
		if (t.pending == 0)
			break;
		hedge_at = g->deadline;
	}

	/* snapshot what answered; those RPCs are immutable from here on */
	qfs_q_done_snapshot(g->c, done, &nrpc);
	for (int i = 0; i < nrpc; i++) {
		struct qfs_rpc *rpc = &g->c->rpc[i];
		struct qfs_ans *a = &g->ans[g->nans];

		if (!done[i])
			continue;
		memset(a, 0, sizeof(*a));
		a->daemon = rpc->daemon;
		a->idx = i;
		a->cls = qfs_get_class(rpc, &a->meta);
		a->is_get = rpc->op == PROTO_OP_GET;
		if (a->cls == QFS_G_FAILED)
			continue;
		if (a->cls == QFS_G_PRESENT) {
			proto_hlc_observe(&q->clock, a->meta.ver.hlc);
			/* verify the bytes we may hand out or write back */
			if (a->is_get && qfs_q_check_get(q, rpc, &a->rep))
				a->cls = QFS_G_CORRUPT;
		}
		g->nans++;
	}
	return 0;
}

/* Merge the present answers into g->merged (and g->mval); mark holders. */
static int qfs_get_merge(struct qfs_get *g)
{
	struct proto_rec acc = { 0 };
	bool have = false;
	int k = 0;

	for (int i = 0; i < g->nans; i++) {
		struct qfs_ans *a = &g->ans[i];
		struct proto_rec r;

		if (a->cls != QFS_G_PRESENT)
			continue;
		if (g->chunk || g->key->kind != PROTO_KIND_INODE) {
			if (!have || proto_lww_cmp(&a->meta, &acc.meta) > 0) {
				acc.meta = a->meta;
				acc.val = a->is_get ? g->c->rpc[a->idx].rdata : NULL;
			}
			have = true;
			continue;
		}
		r.meta = a->meta;
		r.val = g->c->rpc[a->idx].rdata;
		if (!have) {
			acc = r;
			have = true;
			continue;
		}
		/* alternate buffers: the output must not overwrite an input */
		if (proto_merge(g->key->kind, &acc, &r, &acc, &g->mbuf[k]))
			return -ENOMEM;
		k ^= 1;
	}
	if (!have)
		return -ENOENT;
	g->merged = acc.meta;
	g->merged.flags &= ~PROTO_REC_CORRUPT;
	g->mval = acc.val;
	for (int i = 0; i < g->nans; i++) {
		struct qfs_ans *a = &g->ans[i];

		a->holder = a->cls == QFS_G_PRESENT && proto_lww_cmp(&a->meta, &g->merged) == 0;
	}
	return 0;
}

/* Does a GET reply of blocks [first, first+nsums) cover bytes [off, end)? */
static bool qfs_get_covers(uint32_t first, size_t dlen, uint64_t off, uint64_t end)
{
	uint64_t lo = (uint64_t)first * PROTO_BLOCK_SIZE;

	return end <= off || (lo <= off && lo + dlen >= end);
}

/* End of the requested range, clipped to the record. */
static uint64_t qfs_get_end(const struct qfs_get *g)
{
	uint64_t end = g->len == PROTO_GET_WHOLE ? g->merged.len : (uint64_t)g->off + g->len;

	return end < g->merged.len ? end : g->merged.len;
}

/* Find chunk bytes of the merged version: our GET, else refetch from a holder. */
static int qfs_get_chunk_data(struct qfs_get *g)
{
	struct qfs_quorum *q = g->q;
	uint64_t end = qfs_get_end(g);

	if (g->len == 0)
		return 0; /* metadata only */
	for (int i = 0; i < g->nans; i++) {
		struct qfs_ans *a = &g->ans[i];
		struct qfs_rpc *rpc = &g->c->rpc[a->idx];

		if (a->holder && a->is_get &&
		    qfs_get_covers(a->rep.first_block, rpc->rdata_len, g->off, end)) {
			g->data = rpc->rdata;
			g->data_len = rpc->rdata_len;
			g->data_first = a->rep.first_block;
			g->data_sums = a->rep.sums;
			g->data_nsums = a->rep.nsums;
			return 0;
		}
	}
	if (g->merged.flags & PROTO_REC_TOMBSTONE)
		return 0;
	/* the newest version is on replicas that answered HEAD: fetch from one */
	for (int i = 0; i < g->nans; i++) {
		struct qfs_ans *a = &g->ans[i];
		static const unsigned one = 1;
		const struct qfs_rpc *rpc;
		struct proto_get_rep rep;
		int rc;

		if (!a->holder || qfs_now_ns() >= g->deadline)
			continue;
		rc = qfs_call_new(1, g->deadline, qfs_accept_reply, NULL, 0, &g->dcall);
		if (rc)
			return rc;
		g->dcall->layout = g->lver;
		rc = qfs_get_add(q, g->dcall, g->key, a->daemon, false, g->off, g->len);
		if (rc < 0)
			return rc;
		qfs_call_set_need(g->dcall, 1);
		q->t->ops->submit(q->t, g->dcall);
		qfs_call_wait(g->dcall, g->deadline, qfs_get_wake, (void *)&one);
		rpc = qfs_call_result(g->dcall, 0);
		if (rpc && !rpc->err && rpc->status == PROTO_ST_OK &&
		    !qfs_q_check_get(q, rpc, &rep) &&
		    proto_lww_cmp(&rep.meta, &g->merged) == 0 &&
		    qfs_get_covers(rep.first_block, rpc->rdata_len, g->off, end)) {
			a->rep = rep;	/* keep the sums with the data */
			g->data = rpc->rdata;
			g->data_len = rpc->rdata_len;
			g->data_first = rep.first_block;
			g->data_sums = a->rep.sums;
			g->data_nsums = rep.nsums;
			return 0;
		}
		qfs_call_put(g->dcall);
		g->dcall = NULL;
	}
	return -EIO;
}

/*
 * The merged record in full, for writing back: value and block sums.
 * Returns 0 with *val / sums filled, or -errno.
 */
static int qfs_get_full(struct qfs_get *g, const uint8_t **val, uint64_t *sums)
{
	struct qfs_quorum *q = g->q;
	uint32_t n = proto_nblocks(g->merged.len);

	if (!g->merged.len) {
		*val = NULL;
		return 0;
	}
	if (!g->chunk) {
		uint64_t sum = proto_value_sums(g->mval, g->merged.len, sums);

		if (sum != g->merged.sum)
			return -EBADE;
		*val = g->mval;
		return 0;
	}
	if (g->data && g->data_first == 0 && g->data_nsums == n && g->data_len == g->merged.len) {
		memcpy(sums, g->data_sums, n * sizeof(*sums));
		*val = g->data;
		return 0;
	}
	for (int i = 0; i < g->nans; i++) {
		struct qfs_ans *a = &g->ans[i];

		if (!a->holder || qfs_now_ns() >= g->deadline)
			continue;
		qfs_full_free(&g->fetched);
		if (qfs_q_fetch_whole(q, g->key, a->daemon, g->deadline, &g->fetched) == 0 &&
		    proto_lww_cmp(&g->fetched.meta, &g->merged) == 0) {
			memcpy(sums, g->fetched.sums, n * sizeof(*sums));
			*val = g->fetched.val;
			return 0;
		}
	}
	return -EIO;
}

/*
 * Write the merged record to the replicas that answered without it. When
 * fewer than W hold it, also to the replicas not asked yet, and wait until
 * W do; the rest finish in the background.
 * Returns 0 or -EIO.
 */
static int qfs_get_repair(struct qfs_get *g)
{
	struct qfs_quorum *q = g->q;
	uint64_t sums[PROTO_CHUNK_BLOCKS];
	unsigned holders = 0, nstale = 0, need = 0;
	const uint8_t *val = NULL;
	struct qfs_call *c;
	char ks[96];
	int rc;

	/* a replica without a tombstone past the grace may have purged it:
	 * absent and deleted read the same, so it counts as holding it */
	if (qfs_quorum_tomb_collected(&g->merged, q->tomb_grace_ms))
		for (int i = 0; i < g->nans; i++)
			g->ans[i].holder |= g->ans[i].cls == QFS_G_ABSENT;
	for (int i = 0; i < g->nans; i++) {
		holders += g->ans[i].holder;
		nstale += !g->ans[i].holder;
	}
	if (!nstale)
		return 0;
	if (holders < g->wneed)
		need = g->wneed - holders;
	qlog_debug("read-repair %s: %u holders, %u stale%s", proto_key_str(g->key, ks, sizeof(ks)),
		   holders, nstale, need ? " (blocking)" : "");

	rc = qfs_get_full(g, &val, sums);
	if (rc)
		return need ? rc : 0;
	rc = qfs_q_put_call(&g->merged, val, g->nreaders, g->deadline, &c);
	if (rc)
		return need ? rc : 0;
	c->layout = g->lver; /* never recreate a copy a newer layout dropped */
	for (int i = 0; i < g->nans; i++) {
		if (g->ans[i].holder)
			continue;
		rc = qfs_q_put_add(c, g->key, &g->merged, sums, g->ans[i].daemon, true);
		if (rc < 0)
			goto out_put;
	}
	/*
	 * Blocking: the unasked replicas too. A stale replica may refuse (its
	 * disk full); one that already holds the record accepts the PUT as a
	 * no-op merge, and that is what proves W hold it.
	 */
	for (int i = g->next; need && i < g->nreaders; i++) {
		rc = qfs_q_put_add(c, g->key, &g->merged, sums, g->reps[i].daemon, true);
		if (rc < 0)
			goto out_put;
	}
	qfs_call_set_need(c, need);
	q->t->ops->submit(q->t, c);
	rc = 0;
	if (need) {
		qfs_call_wait(c, g->deadline, NULL, NULL);
		pthread_mutex_lock(&c->lock);
		rc = c->naccepted >= need ? 0 : -EIO;
		pthread_mutex_unlock(&c->lock);
	}
out_put:
	qfs_call_put(c);	/* unacknowledged PUTs go on in the background */
	return rc < 0 ? rc : 0;
}

/* Copy the answer into @out. */
static int qfs_get_output(struct qfs_get *g, struct qfs_rec *out)
{
	const uint8_t *src = NULL;
	uint64_t end = 0, off = 0;

	out->meta = g->merged;
	if (g->chunk) {
		if (g->merged.flags & PROTO_REC_TOMBSTONE)
			return 0;
		off = g->off < g->merged.len ? g->off : g->merged.len;
		end = qfs_get_end(g);
		out->off = g->off;
		if (end > off)
			src = g->data + (off - (uint64_t)g->data_first * PROTO_BLOCK_SIZE);
	} else {
		end = g->merged.len;
		src = g->mval;
	}
	if (end <= off)
		return 0;
	out->val = malloc(end - off);
	if (!out->val)
		return -ENOMEM;
	memcpy(out->val, src, end - off);
	out->val_len = (uint32_t)(end - off);
	return 0;
}

/*
 * Degraded reads: only @answers (< R) replicas answered, so the newest of
 * what came is served. The steps after the gather (fetching the data of
 * the newest version, read-repair) get one more timeout of their own, so a
 * degraded read takes at most twice timeout_ms. Warns at most every 10 s.
 */
static void qfs_get_degrade(struct qfs_get *g, unsigned answers)
{
	struct qfs_quorum *q = g->q;
	uint64_t now = qfs_now_ns(), last = atomic_load(&q->degraded_log_ns);
	char ks[96];

	g->deadline = qfs_deadline_ms(q->timeout_ms);
	if ((!last || now - last >= 10ULL * 1000000000) &&
	    atomic_compare_exchange_strong(&q->degraded_log_ns, &last, now))
		qlog_warn("degraded read of %s: %u of %u replicas answered (more may follow)",
			  proto_key_str(g->key, ks, sizeof(ks)), answers, q->r);
	else
		qlog_debug("degraded read of %s: %u of %u replicas answered",
			   proto_key_str(g->key, ks, sizeof(ks)), answers, q->r);
}

/* One quorum read placed by the current view (*lver: its version). */
static int get_once(struct qfs_quorum *q, const struct proto_key *key, uint32_t off,
		    uint32_t len, struct qfs_rec *out, uint32_t *lver)
{
	struct qfs_get *g;
	unsigned present = 0, absent = 0, answers = 0;
	bool degraded = false;
	int n, rc;

	memset(out, 0, sizeof(*out));
	if (key->kind >= PROTO_KIND_MAX)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->q = q;
	g->key = key;
	g->deadline = qfs_deadline_ms(q->timeout_ms);
	g->chunk = key->kind == PROTO_KIND_CHUNK;
	g->off = g->chunk ? off : 0;
	g->len = g->chunk ? len : PROTO_GET_WHOLE;
	proto_wr_init(&g->mbuf[0]);
	proto_wr_init(&g->mbuf[1]);

	n = qfs_q_place(q, proto_key_token(key), g->reps, &g->nreaders, &g->lver);
	*lver = g->lver;
	g->rneed = qfs_q_rneed(q, n);
	g->wneed = qfs_q_wneed(q, n);
	/* degraded reads make do with fewer counting replicas than R */
	if ((unsigned)g->nreaders < (q->degraded_read ? 1 : g->rneed)) {
		rc = -EIO;
		goto out_free;
	}
	g->want = g->rneed < (unsigned)g->nreaders ? g->rneed : (unsigned)g->nreaders;
	rc = qfs_get_gather(g);
	if (rc)
		goto out_free;
	for (int i = 0; i < g->nans; i++) {
		present += g->ans[i].cls == QFS_G_PRESENT;
		absent += g->ans[i].cls == QFS_G_ABSENT;
		answers++;
	}
	if (answers < g->rneed) {
		if (!q->degraded_read || !answers) {
			rc = -EIO;
			goto out_free;
		}
		qfs_get_degrade(g, answers);
		degraded = true;
	}
	if (!present) {
		rc = absent >= g->rneed || (degraded && absent) ? -ENOENT : -EIO;
		goto out_free;
	}
	rc = qfs_get_merge(g);
	if (rc)
		goto out_free;
	if (g->chunk) {
		rc = qfs_get_chunk_data(g);
		if (rc)
			goto out_free;
	}
	rc = qfs_get_repair(g);
	if (rc && degraded)
		rc = 0; /* best effort: W may be out of reach too */
	if (rc)
		goto out_free;
	rc = qfs_get_output(g, out);
out_free:
	if (rc && rc != -ENOENT) {
		char ks[96];

		qlog_debug("get %s: %s", proto_key_str(key, ks, sizeof(ks)), strerror(-rc));
	}
	qfs_call_put(g->dcall);
	qfs_call_put(g->c);
	qfs_full_free(&g->fetched);
	proto_wr_free(&g->mbuf[0]);
	proto_wr_free(&g->mbuf[1]);
	free(g);
	return rc;
}

int qfs_quorum_get(struct qfs_quorum *q, const struct proto_key *key, uint32_t off,
		   uint32_t len, struct qfs_rec *out)
{
	char what[128];
	uint32_t lver = 0;
	int rc;

	rc = get_once(q, key, off, len, out, &lver);
	if (rc != -EIO && rc != -EROFS)
		return rc;
	memcpy(what, "get ", 4);
	proto_key_str(key, what + 4, sizeof(what) - 4);
	if (!qfs_q_lay_retry(q, lver, rc, what))
		return rc;
	rc = get_once(q, key, off, len, out, &lver);
	return qfs_q_lay_retried(q, lver, rc, what);
}

void qfs_rec_free(struct qfs_rec *r)
{
	if (!r)
		return;
	free(r->val);
	memset(r, 0, sizeof(*r));
}

int qfs_quorum_replicas(struct qfs_quorum *q, const struct proto_key *key,
			struct qfs_replica_state *out, int max)
{
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	struct qfs_replica reps[QFS_Q_PLACE_MAX];
	struct proto_head_req hq = { .key = *key };
	struct qfs_call *c;
	struct proto_wr w;
	int n, ncount, rc;

	n = qfs_q_place(q, proto_key_token(key), reps, &ncount, NULL);
	if (n > max)
		n = max;
	rc = qfs_call_new(n, deadline, qfs_accept_reply, NULL, 0, &c);
	if (rc < 0)
		return rc;
	for (int i = 0; i < n; i++) {
		proto_wr_init(&w);
		proto_encode_head_req(&w, &hq);
		rc = qfs_call_add(c, reps[i].daemon, PROTO_OP_HEAD, true, &w, 0, 0);
		if (rc < 0) {
			qfs_call_put(c);
			return rc;
		}
	}
	qfs_call_set_need(c, (unsigned)n);
	q->t->ops->submit(q->t, c);
	qfs_call_wait(c, deadline, qfs_call_all_done, NULL);
	for (int i = 0; i < n; i++) {
		const struct qfs_rpc *rpc = qfs_call_result(c, i);

		memset(&out[i], 0, sizeof(out[i]));
		out[i].daemon = reps[i].daemon;
		out[i].rebuilding = reps[i].rebuilding;
		if (!rpc)
			out[i].err = -ETIMEDOUT;
		else if (rpc->err)
			out[i].err = rpc->err;
		else if (rpc->status != PROTO_ST_OK)
			out[i].err = -proto_st_to_errno(rpc->status);
		else if (proto_decode_head_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len,
					       &out[i].meta) < 0)
			out[i].err = -EBADMSG;
	}
	qfs_call_put(c);
	return n;
}
