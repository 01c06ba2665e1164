// SPDX-License-Identifier: MIT
/*
 * quorum_repairer.c - the mount's background repairer: works through the
 * daemons' pending-repair indexes (keys a write reached on some replicas
 * but not all, docs/fsck.md) so that a replica that missed writes while it
 * was down is healed without anyone running fsck.quorumfs --quick.
 *
 * One thread per quorum handle that asked for it (the mount; tools leave
 * it off). A sweep runs every QFS_REPAIR_PERIOD_MS, and soon after a daemon
 * that was suspect answers again or the layout changed. A sweep pages through the PENDING_LIST of
 * every healthy daemon; for each listed key whose replicas are all healthy
 * it HEADs the key on every daemon, repairs the replicas that lack the
 * newest copy (fs/quorum_heal.c, fsck's own per-key repair) and, once the
 * key is on all N, drops the entry with PENDING_DEL and the stamp it
 * listed (a newer write that missed a replica meanwhile keeps its entry).
 *
 * Hinted handoff: an entry listed by a daemon that is not one of the key's
 * replicas (a fallback that took a write while replicas were down, see
 * qfs_q_fallbacks) is handed off: the fallback's copy is PUT to the N
 * replicas (they merge it), the key is made whole on them as above, the
 * fallback's copy is DROPped at exactly the version it was copied at (a
 * newer write to it keeps it: next sweep), and only then the entry goes.
 *
 * Keys are paced at the configured rate (keys/s); the thread uses the
 * engine like any other caller, so user I/O never waits for it beyond its
 * share of the sockets. Memory is bounded: one page of the index and one
 * batch of deletions. Several mounts doing this at once are safe: every
 * repair is a PUT that the daemons merge, and deletions are conditional.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fs/quorum_heal.h"
#include "fs/quorum_priv.h"
#include "fs/quorum_scan.h"
#include "proto/log.h"

#define QFS_REPAIR_PERIOD_MS 5000   /* between sweeps */
#define QFS_REPAIR_FIRST_MS 1000    /* first sweep after the mount */
#define QFS_REPAIR_HEALED_MS 300    /* sweep this soon after a daemon answers again */
#define QFS_REPAIR_POLL_MS 250	    /* how often daemon health is looked at */
#define QFS_REPAIR_PAGE 256	    /* PENDING_LIST entries per page */
#define QFS_REPAIR_DEL_BATCH 128    /* PENDING_DEL entries per request */

struct qfs_repairer {
	struct qfs_quorum *q;
	uint64_t gap_ns;	     /* immutable: 1 s / rate */
	pthread_mutex_t lock;
	pthread_cond_t cond;	     /* stop */
	bool stop;		     /* lock */
	pthread_t thread;
	uint64_t next_key_ns;	     /* thread only: pacing */
	bool was_down[QFS_MAX_DAEMONS]; /* thread only: suspect or never answered */
	const struct qfs_q_lay *lay_seen; /* thread only: the view at the last poll */
	struct proto_batch_ent *del; /* thread only: QFS_REPAIR_DEL_BATCH entries */
	int ndel;
	/* thread only: the current sweep */
	uint64_t checked, repaired, failed, deleted, skipped, handed;
};

/* Sleep until @until_ns (monotonic) or stop; returns true when stopping. */
static bool qfs_rep_sleep(struct qfs_repairer *r, uint64_t until_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(until_ns / 1000000000ull),
			       .tv_nsec = (long)(until_ns % 1000000000ull) };
	bool stop;

	pthread_mutex_lock(&r->lock);
	while (!r->stop && qfs_now_ns() < until_ns)
		if (pthread_cond_timedwait(&r->cond, &r->lock, &ts) == ETIMEDOUT)
			break;
	stop = r->stop;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

static bool qfs_rep_stopping(struct qfs_repairer *r)
{
	bool stop;

	pthread_mutex_lock(&r->lock);
	stop = r->stop;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

/* Wait for the next key's turn (rate limit); true when stopping. */
static bool qfs_rep_pace(struct qfs_repairer *r)
{
	uint64_t now = qfs_now_ns();

	if (r->next_key_ns < now)
		r->next_key_ns = now;
	if (r->next_key_ns > now && qfs_rep_sleep(r, r->next_key_ns))
		return true;
	r->next_key_ns += r->gap_ns;
	return false;
}

/* Is daemon @d usable: answered a HELLO and not suspect? */
static bool qfs_rep_healthy(struct qfs_quorum *q, int d)
{
	struct qfs_daemon_info di;

	q->t->ops->info(q->t, d, &di);
	return di.hello && !di.suspect;
}

/* PENDING_DEL the batched entries from daemon @d. */
static void qfs_rep_flush_del(struct qfs_repairer *r, int d)
{
	struct qfs_quorum *q = r->q;
	int res;

	if (!r->ndel)
		return;
	if (qfs_scan_batch(q, PROTO_OP_PENDING_DEL, r->del, r->ndel, &d, 1, &res) || res < 0)
		qlog_debug("background repair: PENDING_DEL to %s failed: %s",
			   q->cl->daemons[d].name, strerror(res < 0 ? -res : ENOMEM));
	else
		r->deleted += (uint64_t)res;
	r->ndel = 0;
}

/* Tell the replicas that every one of them holds tombstone @hk->best. */
static void qfs_rep_confirm(struct qfs_repairer *r, const struct proto_key *key,
			    const struct qfs_heal_key *hk)
{
	struct proto_batch_ent *e = calloc(1, sizeof(*e));
	int res[QFS_MAX_REPLICAS];

	if (!e)
		return;
	e->key = *key;
	e->ver = hk->best.ver;
	(void)qfs_scan_batch(r->q, PROTO_OP_TOMB_CONFIRM, e, 1, hk->reps, hk->n, res);
	free(e);
}

/*
 * Check and repair one listed key. Returns true when it is on all N
 * replicas afterwards (its entry may go).
 */
static bool qfs_rep_key(struct qfs_repairer *r, const struct proto_key *key)
{
	struct qfs_quorum *q = r->q;
	struct proto_meta meta[QFS_MAX_DAEMONS];
	bool has[QFS_MAX_DAEMONS];
	int err[QFS_MAX_DAEMONS], res[QFS_MAX_REPLICAS];
	struct qfs_heal_key hk;
	bool whole = true;
	int rc = 0;

	if (qfs_scan_head_all(q, key, has, meta, err))
		return false;
	r->checked++;
	qfs_heal_classify(q, key, has, meta, q->tomb_grace_ms, &hk);
	for (int i = 0; i < hk.n; i++)
		if (err[hk.reps[i]])
			return false; /* a replica did not answer: next sweep */
	if (hk.nbad)
		rc = qfs_heal_repair(q, key, has, meta, &hk, res);
	if (hk.nbad) {
		for (int i = 0; i < hk.nbad; i++) {
			if (!rc && !res[i]) {
				r->repaired++;
				continue;
			}
			r->failed++;
			whole = false;
		}
		if (!whole) {
			char ks[96];

			qlog_debug("background repair of %s: %s", proto_key_str(key, ks, sizeof(ks)),
				   strerror(rc ? -rc : -res[0]));
			return false;
		}
	}
	/* a tombstone now on every replica can be collected by the daemons */
	if (hk.have_best && (hk.best.flags & PROTO_REC_TOMBSTONE) &&
	    (unsigned)hk.n == q->n && !qfs_quorum_tomb_collected(&hk.best, q->tomb_grace_ms))
		qfs_rep_confirm(r, key, &hk);
	return true;
}

/* Is daemon @d one of @reps[n]? */
static bool qfs_rep_in(const int *reps, int n, int d)
{
	for (int i = 0; i < n; i++)
		if (reps[i] == d)
			return true;
	return false;
}

/*
 * Hand @key off from daemon @d, which is not one of its replicas @reps[n]
 * (a hinted-handoff fallback): copy what @d holds to the replicas, make
 * the key whole on them, then DROP @d's copy at the version copied.
 * Returns true when @d holds no copy of it any more (its entry may go).
 */
static bool qfs_rep_handoff(struct qfs_repairer *r, const struct proto_key *key, int d,
			    const int *reps, int n)
{
	struct qfs_quorum *q = r->q;
	struct proto_meta meta[QFS_MAX_DAEMONS];
	bool has[QFS_MAX_DAEMONS];
	int err[QFS_MAX_DAEMONS], res[QFS_MAX_REPLICAS];
	struct proto_batch_ent *e;
	char ks[96];
	int rc;

	if (qfs_scan_head_all(q, key, has, meta, err) || err[d])
		return false;
	if (has[d]) {
		/* the fallback's copy first: a merge (INODE) or the newer one wins */
		rc = qfs_scan_copy(q, key, &meta[d], d, reps, n, res);
		for (int i = 0; i < n && !rc; i++)
			rc = res[i];
		if (rc) {
			r->failed++;
			qlog_debug("hand-off of %s from %s: %s", proto_key_str(key, ks, sizeof(ks)),
				   q->cl->daemons[d].name, strerror(-rc));
			return false; /* changed meanwhile, corrupt, or a replica failed */
		}
	}
	if (!qfs_rep_key(r, key))
		return false;
	if (!has[d])
		return true;
	e = calloc(1, sizeof(*e));
	if (!e)
		return false;
	e->key = *key;
	e->ver = meta[d].ver;
	rc = qfs_scan_batch(q, PROTO_OP_DROP, e, 1, &d, 1, res);
	free(e);
	if (rc || res[0] < 0) {
		r->failed++;
		qlog_debug("hand-off of %s: DROP on %s failed: %s",
			   proto_key_str(key, ks, sizeof(ks)), q->cl->daemons[d].name,
			   strerror(rc ? -rc : -res[0]));
		return false;
	}
	if (res[0] == 0)
		return false; /* written again meanwhile: next sweep */
	r->handed++;
	return true;
}

/* Work through daemon @d's index. */
static void qfs_rep_daemon(struct qfs_repairer *r, int d)
{
	struct qfs_quorum *q = r->q;
	struct qfs_scan_cur cur;
	int rc;

	rc = qfs_pending_begin(q, d, QFS_REPAIR_PAGE, &cur);
	while (!rc && cur.has && !qfs_rep_stopping(r)) {
		int reps[QFS_MAX_REPLICAS], all[QFS_Q_PLACE_MAX], n, nall;
		bool ready = true, fallback;

		n = qfs_scan_place(q, &cur.pend.key, reps, QFS_MAX_REPLICAS);
		/* a replica in either list of a layout transition is no fallback */
		nall = qfs_q_lay_union(atomic_load(&q->lay), proto_key_token(&cur.pend.key), all);
		fallback = !qfs_rep_in(all, nall, d) && cur.pend.key.kind != PROTO_KIND_SUPER;
		for (int i = 0; i < n && ready; i++)
			ready = qfs_rep_healthy(q, reps[i]);
		if (!ready) {
			r->skipped++; /* a replica is down: it cannot be healed now */
		} else if (qfs_rep_pace(r)) {
			break;
		} else if (fallback ? qfs_rep_handoff(r, &cur.pend.key, d, reps, n)
				    : qfs_rep_key(r, &cur.pend.key)) {
			r->del[r->ndel++] = cur.pend;
			if (r->ndel == QFS_REPAIR_DEL_BATCH)
				qfs_rep_flush_del(r, d);
		}
		rc = qfs_scan_advance(&cur);
	}
	if (rc)
		qlog_debug("background repair: PENDING_LIST of %s: %s", q->cl->daemons[d].name,
			   strerror(-rc));
	qfs_scan_end(&cur);
	qfs_rep_flush_del(r, d);
}

static void qfs_rep_sweep(struct qfs_repairer *r)
{
	struct qfs_quorum *q = r->q;
	uint64_t t0 = qfs_now_ns();

	r->checked = r->repaired = r->failed = r->deleted = r->skipped = r->handed = 0;
	for (int d = 0; d < q->cl->ndaemons && !qfs_rep_stopping(r); d++)
		if (qfs_rep_healthy(q, d))
			qfs_rep_daemon(r, d);
	if (r->repaired || r->failed || r->deleted)
		qlog_info("background repair: %" PRIu64 " keys checked, %" PRIu64
			  " replicas repaired, %" PRIu64 " failed, %" PRIu64
			  " entries dropped, %" PRIu64 " waiting for a daemon, in %" PRIu64
			  " ms, %" PRIu64 " handed off",
			  r->checked, r->repaired, r->failed, r->deleted, r->skipped,
			  (qfs_now_ns() - t0) / 1000000, r->handed);
}

/*
 * True when a daemon that was down (suspect, or never answered) is back, or
 * the mount switched layouts: writes that reached their quorum around a
 * switch may have been refused as stale by daemons that had the new layout
 * already, and those replicas wait in the pending-repair index.
 */
static bool qfs_rep_healed(struct qfs_repairer *r)
{
	struct qfs_quorum *q = r->q;
	const struct qfs_q_lay *l = atomic_load(&q->lay);
	bool back = r->lay_seen && l != r->lay_seen;

	for (int d = 0; d < q->cl->ndaemons; d++) {
		bool down = !qfs_rep_healthy(q, d);

		back |= r->was_down[d] && !down;
		r->was_down[d] = down;
	}
	r->lay_seen = l;
	return back;
}

static void *qfs_rep_main(void *arg)
{
	struct qfs_repairer *r = arg;
	uint64_t next = qfs_now_ns() + QFS_REPAIR_FIRST_MS * 1000000ull;

	(void)qfs_rep_healed(r);
	for (;;) {
		uint64_t now = qfs_now_ns(), poll = now + QFS_REPAIR_POLL_MS * 1000000ull;

		if (qfs_rep_sleep(r, poll < next ? poll : next))
			break;
		now = qfs_now_ns();
		if (qfs_rep_healed(r) && next > now + QFS_REPAIR_HEALED_MS * 1000000ull)
			next = now + QFS_REPAIR_HEALED_MS * 1000000ull;
		if (now < next)
			continue;
		qfs_rep_sweep(r);
		next = qfs_now_ns() + QFS_REPAIR_PERIOD_MS * 1000000ull;
	}
	return NULL;
}

int qfs_repairer_start(struct qfs_quorum *q, unsigned rate)
{
	struct qfs_repairer *r;
	pthread_condattr_t ca;
	int rc;

	if (!rate)
		return 0;
	if (rate > QFS_REPAIR_RATE_MAX)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->del = calloc(QFS_REPAIR_DEL_BATCH, sizeof(*r->del));
	if (!r->del) {
		free(r);
		return -ENOMEM;
	}
	r->q = q;
	r->gap_ns = 1000000000ull / rate;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&r->thread, NULL, qfs_rep_main, r);
	if (rc) {
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->lock);
		free(r->del);
		free(r);
		return -rc;
	}
	q->repairer = r;
	return 0;
}

void qfs_repairer_stop(struct qfs_quorum *q)
{
	struct qfs_repairer *r = q->repairer;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL); /* at most one key's steps, each under timeout_ms */
	q->repairer = NULL;
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r->del);
	free(r);
}
