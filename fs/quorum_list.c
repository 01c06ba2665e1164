// SPDX-License-Identifier: MIT
/*
 * quorum_list.c - ordered walk of one partition merged over R replicas
 * (qfs_quorum_list): readdir, the links and xattrs of an inode.
 *
 * Each replica returns pages of (key, meta, value) in key order. The walk
 * is a merge-join: it always emits the smallest key any replica shows,
 * merged with proto_merge over the replicas that hold it. A key a replica
 * does not show is missing there only if that replica's page has moved
 * past it; so before emitting, every replica whose page is used up but
 * which said "more" is asked for its next page. Keys are therefore emitted
 * only up to the smallest last key of the pages still open. When a replica
 * fails while it is being paged, the next counting replica not yet asked
 * takes its place from its last key: every key up to that one was already
 * emitted, so the merge stays exact over the replicas of the walk. Replicas that
 * lack an entry or hold an older one get the merged record by PUTs that
 * finish in the background (a tombstone past the tombstone grace only to
 * those that hold an older record: the others may have collected it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/quorum_heal.h"
#include "fs/quorum_priv.h"
#include "proto/log.h"
#include "proto/status.h"

#define QFS_LIST_PAGE 1024 /* entries per page when the caller sets no max */

/* One replica's position in the walk. */
struct qfs_lcur {
	int daemon;
	struct qfs_call *c;		/* owns the current page (reference) */
	struct proto_rd rd;		/* over c->rpc[idx].rargs */
	struct proto_entry cur;		/* current entry when has */
	bool has;
	bool more;			/* the page said entries follow it */
	uint8_t key[PROTO_KEY_MAX];	/* encoded key of cur, or the last one read */
	size_t key_len;
};

struct qfs_list {
	struct qfs_quorum *q;
	uint64_t deadline;
	uint64_t ino;
	uint8_t kind;
	struct qfs_lcur cur[QFS_Q_PLACE_MAX];
	int ncur;
	struct qfs_replica reps[QFS_Q_PLACE_MAX]; /* placement at open */
	int nreaders, next;	/* counting replicas; next one never asked */
	uint32_t lver;		/* version of the view that placed reps[] */
	struct proto_wr mbuf[2];
};

/* Read the next entry of @lc's page. Returns 0 or -EBADMSG. */
static int qfs_lcur_next(struct qfs_quorum *q, struct qfs_lcur *lc)
{
	int rc;

	lc->has = false;
	if (!lc->c)
		return 0;
	rc = proto_page_next(&lc->rd, true, &lc->cur);
	if (rc < 0)
		return -EBADMSG;
	if (rc == 0)
		return 0;
	lc->has = true;
	lc->key_len = proto_key_encode(&lc->cur.key, lc->key);
	proto_hlc_observe(&q->clock, lc->cur.meta.ver.hlc);
	return 0;
}

/* Make @lc read the page in RPC @idx of @c (takes a reference). */
static int qfs_lcur_load(struct qfs_quorum *q, struct qfs_lcur *lc, struct qfs_call *c, int idx)
{
	const struct qfs_rpc *rpc = &c->rpc[idx];

	qfs_call_put(lc->c);
	qfs_call_get(c);
	lc->c = c;
	if (proto_page_begin(&lc->rd, rpc->rargs, rpc->rargs_len, &lc->more))
		return -EBADMSG;
	return qfs_lcur_next(q, lc);
}

static int qfs_list_add(struct qfs_list *l, struct qfs_call *c, int daemon, const uint8_t *start,
			size_t start_len, bool after, uint32_t page)
{
	struct proto_list_req lq;
	struct proto_wr w;

	memset(&lq, 0, sizeof(lq));
	lq.ino = l->ino;
	lq.kind = l->kind;
	lq.flags = after ? PROTO_LIST_AFTER : 0;
	lq.max = page;
	lq.start_len = (uint16_t)start_len;
	if (start_len)
		memcpy(lq.start, start, start_len);
	proto_wr_init(&w);
	proto_encode_list_req(&w, &lq);
	return qfs_call_add(c, daemon, PROTO_OP_LIST, true, &w, 0, 0);
}

/* First pages from R replicas (replacing failed ones, hedging slow ones);
 * with degraded reads from at least one. */
static int qfs_list_open(struct qfs_list *l, const uint8_t *start, size_t start_len, bool after,
			 uint32_t page)
{
	struct qfs_quorum *q = l->q;
	struct qfs_replica *reps = l->reps;
	int nreaders, next = 0, rc;
	uint64_t hedge_at;
	struct qfs_call *c;
	unsigned want, rneed;

	rneed = qfs_q_rneed(q, qfs_q_place(q, proto_partition_token(l->ino), reps, &l->nreaders,
					   &l->lver));
	nreaders = l->nreaders;
	/* degraded reads make do with fewer counting replicas than R */
	if ((unsigned)nreaders < (q->degraded_read ? 1 : rneed))
		return -EIO;
	want = rneed < (unsigned)nreaders ? rneed : (unsigned)nreaders;
	rc = qfs_call_new(nreaders, l->deadline, qfs_accept_ok, NULL, 0, &c);
	if (rc)
		return rc;
	c->layout = l->lver;
	for (unsigned i = 0; i < want; i++) {
		rc = qfs_list_add(l, c, reps[next++].daemon, start, start_len, after, page);
		if (rc < 0)
			goto out_put;
	}
	qfs_call_set_need(c, want);
	q->t->ops->submit(q->t, c);
	hedge_at = qfs_q_until(qfs_q_hedge_ns(q), l->deadline);
	for (;;) {
		bool reached = qfs_call_wait(c, hedge_at, NULL, NULL);
		unsigned acc, pend;
		uint64_t now = qfs_now_ns();

		pthread_mutex_lock(&c->lock);
		acc = c->naccepted;
		pend = c->npending;
		pthread_mutex_unlock(&c->lock);
		if (acc >= want || now >= l->deadline)
			break;
		if (next < nreaders && (reached || now >= hedge_at)) {
			rc = qfs_list_add(l, c, reps[next++].daemon, start, start_len, after, page);
			if (rc < 0)
				goto out_put;
			q->t->ops->submit(q->t, c);
			hedge_at = qfs_q_until(qfs_q_hedge_ns(q), l->deadline);
			continue;
		}
		if (!pend)
			break;
		hedge_at = l->deadline;
	}

	rc = 0;
	for (int i = 0; i < c->cap && rc == 0; i++) {
		const struct qfs_rpc *rpc = qfs_call_result(c, i);
		struct qfs_lcur *lc = &l->cur[l->ncur];

		if (!rpc || !rpc->accepted)
			continue;
		lc->daemon = rpc->daemon;
		lc->key_len = start_len;	/* a refill of an empty page resumes here */
		if (start_len)
			memcpy(lc->key, start, start_len);
		l->ncur++;
		rc = qfs_lcur_load(q, lc, c, i);
	}
	if (!rc && (unsigned)l->ncur < rneed) {
		/* degraded reads: walk what answered, with one more timeout */
		if (q->degraded_read && l->ncur > 0) {
			qlog_debug("degraded list of %llu: %d of %u replicas answered",
				   (unsigned long long)l->ino, l->ncur, q->r);
			l->deadline = qfs_deadline_ms(q->timeout_ms);
		} else {
			rc = -EIO;
		}
	}
out_put:
	l->next = next;
	qfs_call_put(c);
	return rc;
}

/*
 * Cursor @lc's replica failed while being paged: the next counting replica
 * never asked takes over from lc->key (its last key, every key up to which
 * was emitted). With degraded reads and no replica left the cursor is
 * dropped while another remains. Returns 0, or -EIO when neither is
 * possible.
 */
static int qfs_list_failover(struct qfs_list *l, struct qfs_lcur *lc)
{
	struct qfs_quorum *q = l->q;
	int from = lc->daemon;

	if (l->next < l->nreaders) {
		lc->daemon = l->reps[l->next++].daemon;
		lc->has = false;
		lc->more = true;	/* ask it from lc->key on */
		qlog_debug("list %llu: %s failed, paging %s instead", (unsigned long long)l->ino,
			   q->cl->daemons[from].name, q->cl->daemons[lc->daemon].name);
		return 0;
	}
	if (q->degraded_read && l->ncur > 1) {
		qlog_debug("list %llu: %s failed, going on with %d replicas",
			   (unsigned long long)l->ino, q->cl->daemons[from].name, l->ncur - 1);
		qfs_call_put(lc->c);
		*lc = l->cur[--l->ncur];
		memset(&l->cur[l->ncur], 0, sizeof(l->cur[0]));
		return 0;
	}
	qlog_debug("list %llu: next page from %s failed, no replica left",
		   (unsigned long long)l->ino, q->cl->daemons[from].name);
	return -EIO;
}

/* Fetch the next page of every replica whose page is used up but said more. */
static int qfs_list_refill_once(struct qfs_list *l, uint32_t page, bool *again)
{
	struct qfs_quorum *q = l->q;
	int map[QFS_Q_PLACE_MAX], k = 0, rc;
	struct qfs_lcur *failed[QFS_Q_PLACE_MAX];
	int nfailed = 0;
	struct qfs_call *c;

	*again = false;
	for (int i = 0; i < l->ncur; i++)
		if (!l->cur[i].has && l->cur[i].more)
			k++;
	if (!k)
		return 0;
	rc = qfs_call_new(k, l->deadline, qfs_accept_ok, NULL, 0, &c);
	if (rc)
		return rc;
	c->layout = l->lver;
	for (int i = 0; i < l->ncur; i++) {
		struct qfs_lcur *lc = &l->cur[i];

		if (lc->has || !lc->more)
			continue;
		rc = qfs_list_add(l, c, lc->daemon, lc->key, lc->key_len, lc->key_len > 0, page);
		if (rc < 0)
			goto out_put;
		map[rc] = i;
	}
	qfs_call_set_need(c, (unsigned)k);
	q->t->ops->submit(q->t, c);
	qfs_call_wait(c, l->deadline, qfs_call_all_done, NULL);
	for (int j = 0; j < k; j++) {
		const struct qfs_rpc *rpc = qfs_call_result(c, j);

		if (!rpc || !rpc->accepted) {
			failed[nfailed++] = &l->cur[map[j]];
			continue;
		}
		rc = qfs_lcur_load(q, &l->cur[map[j]], c, j);
		if (!rc && !l->cur[map[j]].has && l->cur[map[j]].more)
			rc = -EIO;	/* an empty page that says "more": no progress */
		if (rc)
			goto out_put;
	}
	rc = 0;
	/* from the last cursor down: a dropped cursor takes the last one's slot */
	for (int j = nfailed - 1; j >= 0 && !rc; j--) {
		rc = qfs_list_failover(l, failed[j]);
		*again = true;
	}
out_put:
	qfs_call_put(c);
	return rc;
}

/* Refill, switching failed replicas for others within the deadline. */
static int qfs_list_refill(struct qfs_list *l, uint32_t page)
{
	bool again = true;
	int rc = 0;

	/* each round either ends or uses up one more replica: bounded */
	for (int round = 0; again && !rc && round <= QFS_MAX_REPLICAS; round++)
		rc = qfs_list_refill_once(l, page, &again);
	return again && !rc ? -EIO : rc;
}

/* Entries to ask a replica for: one beyond what is still wanted tells
 * whether more remain. */
static uint32_t qfs_list_page(uint32_t max, uint32_t emitted)
{
	if (!max)
		return QFS_LIST_PAGE;
	if (max - emitted >= PROTO_LIST_MAX_ENTRIES)
		return PROTO_LIST_MAX_ENTRIES;
	return max - emitted + 1;
}

/* PUT @rec to the replicas in @dst, in the background (nobody waits). */
static void qfs_list_repair(struct qfs_list *l, const struct proto_entry *e, const int *dst,
			    int ndst)
{
	struct qfs_quorum *q = l->q;
	uint64_t sums[PROTO_CHUNK_BLOCKS];
	struct proto_meta m = e->meta;
	struct qfs_call *c;

	if (m.len > PROTO_VALUE_MAX || (m.len && !e->val))
		return;
	if (proto_value_sums(e->val, m.len, sums) != m.sum)
		return;	/* never spread a record whose bytes do not match */
	if (qfs_q_put_call(&m, e->val, ndst, qfs_deadline_ms(q->timeout_ms), &c))
		return;
	c->layout = l->lver;
	for (int i = 0; i < ndst; i++)
		if (qfs_q_put_add(c, &e->key, &m, sums, dst[i], true) < 0)
			break;
	q->t->ops->submit(q->t, c);
	qfs_call_put(c);
}

/* One listing placed by the current view; *lver its version, *emitted the
 * entries handed to @fn. */
static int list_once(struct qfs_quorum *q, uint64_t ino, uint8_t kind, const uint8_t *start,
		     size_t start_len, bool after, uint32_t max, qfs_entry_fn fn, void *arg,
		     bool *more, uint32_t *lver, uint32_t *emitted_out)
{
	struct qfs_list *l;
	uint32_t emitted = 0;
	int rc, k = 0;

	if (more)
		*more = false;
	if (!ino || kind >= PROTO_KIND_MAX || kind == PROTO_KIND_CHUNK ||
	    start_len > PROTO_KEY_MAX || (start_len && !start))
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->q = q;
	l->deadline = qfs_deadline_ms(q->timeout_ms);
	l->ino = ino;
	l->kind = kind;
	proto_wr_init(&l->mbuf[0]);
	proto_wr_init(&l->mbuf[1]);

	rc = qfs_list_open(l, start, start_len, after, qfs_list_page(max, emitted));
	*lver = l->lver;
	while (rc == 0) {
		struct proto_rec acc = { 0 }, r;
		struct proto_entry e;
		const uint8_t *mk = NULL;
		size_t mk_len = 0;
		int dst[QFS_Q_PLACE_MAX], ndst = 0, lowest = -1;
		uint8_t last[PROTO_KEY_MAX];
		size_t last_len;
		bool collected;

		rc = qfs_list_refill(l, qfs_list_page(max, emitted));
		if (rc)
			break;
		for (int i = 0; i < l->ncur; i++) {
			struct qfs_lcur *lc = &l->cur[i];

			if (!lc->has)
				continue;
			if (!mk || qfs_q_keycmp(lc->key, lc->key_len, mk, mk_len) < 0) {
				mk = lc->key;
				mk_len = lc->key_len;
				lowest = i;
			}
		}
		if (lowest < 0)
			break;	/* every replica exhausted */
		if (max && emitted == max) {
			if (more)
				*more = true;
			break;
		}
		/* merge the entries of this key */
		bool have = false;

		for (int i = 0; i < l->ncur; i++) {
			struct qfs_lcur *lc = &l->cur[i];

			if (!lc->has || qfs_q_keycmp(lc->key, lc->key_len, mk, mk_len) != 0)
				continue;
			r.meta = lc->cur.meta;
			r.val = lc->cur.val;
			if (!have) {
				acc = r;
				have = true;
				continue;
			}
			/* alternate buffers: the output must not overwrite an input */
			if (proto_merge(lc->cur.key.kind, &acc, &r, &acc, &l->mbuf[k])) {
				rc = -ENOMEM;
				break;
			}
			k ^= 1;
		}
		if (rc)
			break;
		e.key = l->cur[lowest].cur.key;
		e.meta = acc.meta;
		e.meta.flags &= ~PROTO_REC_CORRUPT;
		e.val = acc.val;
		memcpy(last, mk, mk_len);
		last_len = mk_len;
		collected = qfs_quorum_tomb_collected(&e.meta, q->tomb_grace_ms);
		for (int i = 0; i < l->ncur; i++) {
			struct qfs_lcur *lc = &l->cur[i];
			bool shows = lc->has && !qfs_q_keycmp(lc->key, lc->key_len, last, last_len);

			if (shows ? proto_lww_cmp(&lc->cur.meta, &e.meta) != 0 : !collected)
				dst[ndst++] = lc->daemon;
		}
		if (ndst)
			qfs_list_repair(l, &e, dst, ndst);
		rc = fn(arg, &e);
		if (rc)
			break;
		emitted++;
		/* step every replica past the emitted key (e is not used after this) */
		for (int i = 0; i < l->ncur && rc == 0; i++) {
			struct qfs_lcur *lc = &l->cur[i];

			if (lc->has && qfs_q_keycmp(lc->key, lc->key_len, last, last_len) == 0)
				rc = qfs_lcur_next(q, lc);
		}
	}
	for (int i = 0; i < l->ncur; i++)
		qfs_call_put(l->cur[i].c);
	proto_wr_free(&l->mbuf[0]);
	proto_wr_free(&l->mbuf[1]);
	free(l);
	*emitted_out = emitted;
	return rc;
}

int qfs_quorum_list(struct qfs_quorum *q, uint64_t ino, uint8_t kind, const uint8_t *start,
		    size_t start_len, bool after, uint32_t max, qfs_entry_fn fn, void *arg,
		    bool *more)
{
	uint32_t lver = 0, emitted = 0;
	char what[64];
	int rc;

	rc = list_once(q, ino, kind, start, start_len, after, max, fn, arg, more, &lver,
		       &emitted);
	/* once entries went to @fn the listing cannot start over */
	if ((rc != -EIO && rc != -EROFS) || emitted)
		return rc;
	snprintf(what, sizeof(what), "list %016" PRIx64, ino);
	if (!qfs_q_lay_retry(q, lver, rc, what))
		return rc;
	rc = list_once(q, ino, kind, start, start_len, after, max, fn, arg, more, &lver,
		       &emitted);
	return qfs_q_lay_retried(q, lver, rc, what);
}
