// SPDX-License-Identifier: MIT
/*
 * quorum_pending.c - what a write leaves behind once all its replies are
 * in: the pending-repair index and tombstone confirmations.
 *
 * A PUT or PATCH returns at W acknowledgements; its call then completes in
 * the background (the stragglers answer, fail, or time out at the
 * deadline). When its last RPC completes, qfs_pend_done() looks at the
 * outcome without blocking (it may run on the engine thread):
 *   - some replicas took the write and some did not: queue a PENDING_ADD of
 *     the key, naming the replicas that missed it, for the ones that took it;
 *   - a tombstone that every one of the N replicas took: queue a
 *     TOMB_CONFIRM of (key, version) for all of them.
 * A flusher thread per quorum handle sends what is queued in batches (one
 * RPC per daemon and op, up to PROTO_BATCH_MAX entries) at most
 * QFS_PEND_DELAY_MS after the first item, and drains the queue at close,
 * after the watched calls still out have ended (at most one timeout).
 * The queue is bounded; what does not fit is dropped and counted (a full
 * fsck pass still finds those keys). Nothing here delays a reply.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/quorum_priv.h"
#include "proto/log.h"
#include "proto/status.h"

#define QFS_PEND_DELAY_MS 50	  /* batching window */
#define QFS_PEND_QUEUE_MAX 65536 /* items queued before new ones are dropped */

/* One key to report. */
struct qfs_pend_item {
	struct qfs_pend_item *next;
	uint8_t op;		   /* PROTO_OP_PENDING_ADD or PROTO_OP_TOMB_CONFIRM */
	struct proto_key key;
	struct proto_version ver; /* TOMB_CONFIRM */
	int nto, nmissed;
	int to[QFS_Q_PLACE_MAX];     /* daemons to tell */
	int missed[QFS_Q_PLACE_MAX]; /* PENDING_ADD: daemons that missed the key */
};

struct qfs_pend {
	struct qfs_quorum *q;
	pthread_mutex_t lock;
	pthread_cond_t cond;	       /* an item was queued, a watched call ended, or stop */
	struct qfs_pend_item *head;   /* lock */
	struct qfs_pend_item **tail;  /* lock */
	unsigned nitems;	       /* lock */
	bool stop;		       /* lock */
	unsigned watching;	       /* lock: watched calls not completed yet */
	uint64_t dropped;	       /* lock */
	pthread_t thread;
};

/* What a watched write call is about (owned by the call). */
struct qfs_pend_watch {
	struct qfs_quorum *q;
	struct proto_key key;
	struct proto_version ver;
	bool tomb;
	bool patch;
	int nown;		   /* RPCs past these went to hinted-handoff fallbacks */
};

/* Queue @it (taken over) or drop it when the queue is full. Never blocks long. */
static void qfs_pend_push(struct qfs_pend *p, struct qfs_pend_item *it)
{
	bool drop;

	pthread_mutex_lock(&p->lock);
	drop = p->stop || p->nitems >= QFS_PEND_QUEUE_MAX;
	if (drop) {
		/* after stop nothing is sent any more: a late report is lost like a full one */
		if (p->dropped++ % 1000 == 0)
			qlog_warn("pending-repair queue %s: %u items, dropping (fsck.quorumfs "
				  "without --quick finds what was dropped)",
				  p->stop ? "stopped" : "full", p->nitems);
	} else {
		it->next = NULL;
		*p->tail = it;
		p->tail = &it->next;
		p->nitems++;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	if (drop)
		free(it);
}

/* A PATCH refused because the replica holds something newer did not miss it. */
static bool qfs_pend_missed(const struct qfs_pend_watch *w, const struct qfs_rpc *rpc)
{
	struct proto_write_rep wr;

	if (rpc->accepted)
		return false;
	if (w->patch && rpc->err == 0 && rpc->status == PROTO_ST_CONFLICT &&
	    !proto_decode_write_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &wr) &&
	    proto_version_cmp(&wr.stored, &w->ver) > 0)
		return false;
	return true;
}

static void qfs_pend_report(struct qfs_call *c, struct qfs_pend_watch *w)
{
	struct qfs_pend *p = w->q->pend;
	struct qfs_pend_item *it;
	int nok = 0, nmiss = 0, nfb = 0;

	if (!p)
		return;
	it = calloc(1, sizeof(*it));
	if (!it)
		return; /* a full fsck pass still finds it */
	for (int i = 0; i < c->nrpc && i < QFS_Q_PLACE_MAX; i++) {
		const struct qfs_rpc *rpc = &c->rpc[i];

		if (rpc->accepted) {
			it->to[nok++] = rpc->daemon;
			nfb += i >= w->nown;
		} else if (i < w->nown && qfs_pend_missed(w, rpc)) {
			/* a fallback that did not take it owes nothing */
			it->missed[nmiss++] = rpc->daemon;
		}
	}
	if (nfb && !nmiss) {
		/* the owners all took it after all; the fallbacks' copies must
		 * still be handed back: only they get the entry */
		nok = 0;
		for (int i = w->nown; i < c->nrpc && i < QFS_Q_PLACE_MAX; i++)
			if (c->rpc[i].accepted)
				it->to[nok++] = c->rpc[i].daemon;
		for (int i = 0; i < w->nown && i < QFS_Q_PLACE_MAX; i++)
			it->missed[nmiss++] = c->rpc[i].daemon;
	}
	it->key = w->key;
	it->ver = w->ver;
	it->nto = nok;
	it->nmissed = nmiss;
	if (nok && nmiss) {
		it->op = PROTO_OP_PENDING_ADD;
	} else if (w->tomb && !nmiss && nok == c->nrpc && (unsigned)nok == w->q->n) {
		it->op = PROTO_OP_TOMB_CONFIRM;
	} else {
		free(it); /* all took it (not a tombstone), or none did: nothing owed */
		return;
	}
	qfs_pend_push(p, it);
}

/* The last RPC of a watched call completed: report, and count it done. */
static void qfs_pend_done(struct qfs_call *c, void *arg)
{
	struct qfs_pend_watch *w = arg;
	struct qfs_pend *p = w->q->pend;

	qfs_pend_report(c, w);
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->watching)
		p->watching--;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

int qfs_pend_watch(struct qfs_quorum *q, struct qfs_call *c, const struct proto_key *key,
		   const struct proto_meta *m, bool patch, int nown)
{
	struct qfs_pend_watch *w;

	if (!q->pend)
		return 0;
	w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->q = q;
	w->key = *key;
	w->ver = m->ver;
	w->tomb = !patch && (m->flags & PROTO_REC_TOMBSTONE);
	w->patch = patch;
	w->nown = nown;
	pthread_mutex_lock(&q->pend->lock);
	q->pend->watching++;
	pthread_mutex_unlock(&q->pend->lock);
	qfs_call_on_done(c, qfs_pend_done, w);
	return 0;
}

/* ---- the flusher ---- */

/* Does @it go to daemon @d? */
static bool qfs_pend_to(const struct qfs_pend_item *it, int d)
{
	for (int i = 0; i < it->nto; i++)
		if (it->to[i] == d)
			return true;
	return false;
}

/* Encode up to PROTO_BATCH_MAX items of @op for daemon @d starting at *from
 * into @w; advances *from. Returns the number encoded. */
static unsigned qfs_pend_encode(struct qfs_pend *p, struct qfs_pend_item **from, uint8_t op,
				int d, struct proto_wr *w)
{
	struct proto_batch_ent *e = calloc(1, sizeof(*e));
	size_t head;
	unsigned n = 0;

	if (!e) {
		w->bad = true;
		return 0;
	}
	proto_wr_init(w);
	head = w->len;
	proto_encode_batch_head(w, 0);
	for (; *from && n < PROTO_BATCH_MAX; *from = (*from)->next) {
		const struct qfs_pend_item *it = *from;

		if (it->op != op || !qfs_pend_to(it, d))
			continue;
		e->key = it->key;
		e->ver = it->ver;
		e->nmissed = 0;
		for (int i = 0; i < it->nmissed && i < PROTO_PENDING_MISSED_MAX; i++)
			snprintf(e->missed[e->nmissed++], sizeof(e->missed[0]), "%s",
				 p->q->cl->daemons[it->missed[i]].name);
		proto_encode_batch_ent(w, op, e);
		n++;
	}
	if (!w->bad) {
		w->buf[head] = (uint8_t)n;
		w->buf[head + 1] = (uint8_t)(n >> 8);
	}
	free(e);
	return n;
}

/* Send every item of @list (one call, an RPC per daemon, op and batch) and wait. */
static void qfs_pend_send(struct qfs_pend *p, struct qfs_pend_item *list)
{
	static const uint8_t ops[] = { PROTO_OP_PENDING_ADD, PROTO_OP_TOMB_CONFIRM };
	struct qfs_quorum *q = p->q;
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	unsigned nitems = 0;
	struct qfs_call *c;
	int cap, nrpc = 0;

	for (struct qfs_pend_item *it = list; it; it = it->next)
		nitems++;
	cap = q->cl->ndaemons * 2 * (int)(nitems / PROTO_BATCH_MAX + 1);
	if (qfs_call_new(cap, deadline, qfs_accept_ok, NULL, 0, &c))
		return;
	for (unsigned o = 0; o < sizeof(ops); o++) {
		for (int d = 0; d < q->cl->ndaemons; d++) {
			struct qfs_pend_item *from = list;

			while (from) {
				struct proto_wr w;
				unsigned n = qfs_pend_encode(p, &from, ops[o], d, &w);

				if (!n || w.bad) {
					proto_wr_free(&w);
					if (w.bad)
						from = NULL;
					continue;
				}
				if (qfs_call_add(c, d, ops[o], true, &w, 0, 0) >= 0)
					nrpc++;
			}
		}
	}
	if (nrpc) {
		qfs_call_set_need(c, (unsigned)nrpc);
		q->t->ops->submit(q->t, c);
		qfs_call_wait(c, deadline, qfs_call_all_done, NULL);
		pthread_mutex_lock(&c->lock);
		for (int i = 0; i < c->nrpc; i++) {
			const struct qfs_rpc *rpc = &c->rpc[i];

			if (!rpc->accepted)
				qlog_debug("%s to %s: %s", proto_op_name(rpc->op),
					   q->cl->daemons[rpc->daemon].name,
					   rpc->state != QFS_RPC_DONE ? "timeout"
					   : rpc->err		    ? strerror(-rpc->err)
								    : proto_st_name(rpc->status));
		}
		pthread_mutex_unlock(&c->lock);
	}
	qfs_call_put(c);
}

static void *qfs_pend_main(void *arg)
{
	struct qfs_pend *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct qfs_pend_item *list;
		struct timespec ts;

		while (!p->head && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (!p->head)
			break; /* stopped, and drained */
		if (!p->stop && p->nitems < PROTO_BATCH_MAX) {
			/* let a burst gather into one batch */
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += QFS_PEND_DELAY_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->cond, &p->lock, &ts);
		}
		list = p->head;
		p->head = NULL;
		p->tail = &p->head;
		p->nitems = 0;
		pthread_mutex_unlock(&p->lock);
		qfs_pend_send(p, list);
		while (list) {
			struct qfs_pend_item *next = list->next;

			free(list);
			list = next;
		}
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int qfs_pend_start(struct qfs_quorum *q)
{
	struct qfs_pend *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;
	int rc;

	if (!p)
		return -ENOMEM;
	p->q = q;
	p->tail = &p->head;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&p->thread, NULL, qfs_pend_main, p);
	if (rc) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return -rc;
	}
	q->pend = p;
	return 0;
}

void qfs_pend_stop(struct qfs_quorum *q)
{
	struct qfs_pend *p = q->pend;
	struct timespec until;

	if (!p)
		return;
	/*
	 * Writes that returned at W may still have RPCs out: wait for them
	 * (every RPC ends by its deadline; the bound covers a call that was
	 * watched but never submitted) so their reports are sent, not lost.
	 */
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(q->timeout_ms / 1000) + 1;
	pthread_mutex_lock(&p->lock);
	while (p->watching &&
	       pthread_cond_timedwait(&p->cond, &p->lock, &until) != ETIMEDOUT)
		;
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL); /* it sends what is queued first */
	if (p->dropped)
		qlog_warn("pending-repair: %llu items dropped (queue full)",
			  (unsigned long long)p->dropped);
}

void qfs_pend_free(struct qfs_quorum *q)
{
	struct qfs_pend *p = q->pend;

	if (!p)
		return;
	q->pend = NULL;
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
