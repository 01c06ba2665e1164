// SPDX-License-Identifier: MIT
/*
 * quorum_layout.c - which layout places keys: the config's at first, then
 * the newest one any daemon holds (LAYOUT_GET), found at open and by a
 * thread that HELLOs every known daemon each QFS_Q_LAYOUT_PROBE_MS. A new
 * view is published only once the daemons it adds answered a HELLO (or the
 * refresh's one deadline passed): a daemon never heard from counts in no
 * quorum, and a transition needs R + e of the N + e replicas of a key.
 * During a transition a key's replicas are the old list, then the new
 * list's other daemons (qfs_q_lay_union); W and R grow by e. Requests
 * carry the version of the view that placed them; a reply header with a
 * newer version wakes the thread at once (qfs_q_lay_kick), and an
 * operation that daemons refused as stale refreshes on its own thread and
 * runs once more (qfs_q_lay_retry / qfs_q_lay_retried).
 *
 * Invariants: q->lay is published with an atomic store and never freed
 * before close, so an operation that loaded it may use it to the end;
 * q->cl (the transport's daemon table) only grows, under lay_lock; a view
 * whose N, W or R differ from the open's is not switched to on a live
 * mount (logged: remount to use it), since operations in flight count
 * with q->n / q->w / q->r.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/layout.h"
#include "fs/quorum_priv.h"
#include "fs/quorum_scan.h"
#include "proto/log.h"
#include "proto/status.h"

#define QFS_Q_LAYOUT_PROBE_MS 1000

/*
 * The refresh thread's state. It lives from watch_start to qfs_q_lay_free
 * (after the transport closed), because the transport's layout hook
 * (qfs_q_lay_kick, on the engine thread) may still touch it after the
 * thread stopped.
 */
struct qfs_q_watch {
	pthread_t tid;
	bool started;
	pthread_mutex_t lock; /* leaf: nothing is taken under it */
	pthread_cond_t cond;
	bool stop;	      /* lock */
	bool kick;	      /* lock: a reply showed a newer layout, refresh now */
	bool warned_nwr;
};

unsigned qfs_q_wneed(const struct qfs_quorum *q, int n)
{
	return q->w + ((unsigned)n > q->n ? (unsigned)n - q->n : 0);
}

unsigned qfs_q_rneed(const struct qfs_quorum *q, int n)
{
	return q->r + ((unsigned)n > q->n ? (unsigned)n - q->n : 0);
}

static void qfs_q_lay_free_one(struct qfs_q_lay *l)
{
	if (!l)
		return;
	qfs_ring_free(l->ring);
	qfs_ring_free(l->pring);
	free(l->cl);
	free(l->pcl);
	free(l->pl);
	free(l);
}

void qfs_q_lay_free(struct qfs_quorum *q)
{
	struct qfs_q_lay *l = atomic_load(&q->lay), *o;

	if (q->watch) {
		pthread_cond_destroy(&q->watch->cond);
		pthread_mutex_destroy(&q->watch->lock);
		free(q->watch);
		q->watch = NULL;
	}

	qfs_q_lay_free_one(l);
	for (o = q->lay_old; o; o = l) {
		l = o->older;
		qfs_q_lay_free_one(o);
	}
	atomic_store(&q->lay, NULL);
	q->lay_old = NULL;
}

/* Transport index of layout daemon @d, adding it when new; under lay_lock. */
static int qfs_q_lay_daemon(struct qfs_quorum *q, const struct qfs_daemon_conf *d)
{
	int i = qfs_config_find(q->cl, d->name), rc;

	if (i >= 0) {
		if (strcmp(q->cl->daemons[i].endpoint, d->endpoint))
			qlog_warn("layout moves daemon %s to %s: still using %s until remounted",
				  d->name, d->endpoint, q->cl->daemons[i].endpoint);
		return i;
	}
	if (!q->t->ops->add || q->cl->ndaemons >= QFS_MAX_DAEMONS)
		return -EOPNOTSUPP;
	rc = q->t->ops->add(q->t, d);
	if (rc < 0)
		return rc;
	if (rc != q->cl->ndaemons)
		return -EIO; /* the tables disagree: never guess */
	q->cl->daemons[rc] = *d;
	q->cl->ndaemons = rc + 1;
	qlog_info("layout adds daemon %s (%s)", d->name, d->endpoint);
	return rc;
}

/* Cluster, ring and map of @r into the view; under lay_lock. */
static int qfs_q_lay_ring(struct qfs_quorum *q, const struct proto_layout_ring *r,
			  struct qfs_cluster **cl, struct qfs_ring **ring, int *map)
{
	int rc;

	*cl = malloc(sizeof(**cl));
	if (!*cl)
		return -ENOMEM;
	rc = qfs_layout_to_cluster(q->cl, r, *cl);
	if (!rc)
		rc = qfs_ring_build(*cl, ring);
	for (int i = 0; !rc && i < (*cl)->ndaemons; i++) {
		map[i] = qfs_q_lay_daemon(q, &(*cl)->daemons[i]);
		if (map[i] < 0)
			rc = map[i];
	}
	return rc;
}

/*
 * Build the view of @pl (taken over) into *out, adding the daemons it
 * names to the transport; under lay_lock. Not published yet.
 */
static int qfs_q_lay_build(struct qfs_quorum *q, struct proto_layout *pl, struct qfs_q_lay **out)
{
	struct qfs_q_lay *l = calloc(1, sizeof(*l));
	int rc;

	if (!l) {
		free(pl);
		return -ENOMEM;
	}
	l->pl = pl;
	rc = qfs_q_lay_ring(q, &pl->cur, &l->cl, &l->ring, l->map);
	if (!rc && pl->has_prev)
		rc = qfs_q_lay_ring(q, &pl->prev, &l->pcl, &l->pring, l->pmap);
	if (rc) {
		qfs_q_lay_free_one(l);
		return rc;
	}
	*out = l;
	return 0;
}

/* Publish view @l; the one it replaces is kept until close. Under lay_lock. */
static void qfs_q_lay_publish(struct qfs_quorum *q, struct qfs_q_lay *l)
{
	struct qfs_q_lay *old = atomic_load(&q->lay);

	if (old) {
		old->older = q->lay_old;
		q->lay_old = old;
	}
	atomic_store(&q->lay, l);
}

int qfs_q_lay_init(struct qfs_quorum *q, char *err, size_t errlen)
{
	struct proto_layout *pl = calloc(1, sizeof(*pl));
	struct qfs_q_lay *l;
	int rc;

	if (!pl)
		return -ENOMEM;
	qfs_layout_from_cluster(q->cl, &pl->cur);
	pthread_mutex_lock(&q->lay_lock);
	rc = qfs_q_lay_build(q, pl, &l);
	if (!rc)
		qfs_q_lay_publish(q, l);
	pthread_mutex_unlock(&q->lay_lock);
	if (rc)
		snprintf(err, errlen, "%s: cannot build the ring: %s", q->cl->path, strerror(-rc));
	return rc;
}

/* LAYOUT_GET from @daemon into *out (malloc'ed). 0 or -errno. */
static int qfs_q_lay_get(struct qfs_quorum *q, int daemon, uint64_t deadline,
			 struct proto_layout **out)
{
	struct proto_layout *pl;
	const struct qfs_rpc *rpc;
	struct proto_wr w;
	struct qfs_call *c;
	int rc;

	rc = qfs_call_new(1, deadline, qfs_accept_ok, NULL, 0, &c);
	if (rc)
		return rc;
	proto_wr_init(&w);
	rc = qfs_call_add(c, daemon, PROTO_OP_LAYOUT_GET, true, &w, 0, 0);
	if (rc < 0)
		goto out_put;
	qfs_call_set_need(c, 1);
	q->t->ops->submit(q->t, c);
	qfs_call_wait(c, deadline, qfs_call_all_done, NULL);
	rpc = qfs_call_result(c, 0);
	if (!rpc || rpc->err || rpc->status != PROTO_ST_OK) {
		rc = !rpc ? -ETIMEDOUT : rpc->err ? rpc->err : -proto_st_to_errno(rpc->status);
		if (rc > 0)
			rc = -rc;
		goto out_put;
	}
	pl = malloc(sizeof(*pl));
	if (!pl) {
		rc = -ENOMEM;
		goto out_put;
	}
	rc = proto_layout_decode(rpc->rargs, rpc->rargs_len, pl);
	if (rc)
		free(pl);
	else
		*out = pl;
out_put:
	qfs_call_put(c);
	return rc;
}

/* Layout version in HELLO reply @rpc, or 0 (no answer, or malformed). */
static uint64_t qfs_q_lay_hello_ver(const struct qfs_rpc *rpc)
{
	struct proto_hello_rep hr;

	if (rpc->state != QFS_RPC_DONE || !rpc->accepted ||
	    proto_decode_hello_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &hr))
		return 0;
	return hr.layout_version;
}

/*
 * HELLO every known daemon; the highest layout version and who holds it.
 * Every answer is waited for (to @deadline): a daemon removed from the
 * cluster keeps the last layout that named it, so the first answer alone
 * could be an old layout that is still newer than ours.
 */
static int qfs_q_lay_newest(struct qfs_quorum *q, uint64_t deadline, uint64_t *ver, int *who)
{
	struct qfs_call *c;
	int rc;

	*ver = 0;
	*who = -1;
	rc = qfs_q_hello_call(q, q->cl->ndaemons, deadline, qfs_call_all_done, NULL, &c);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->nrpc; i++) {
		uint64_t v = qfs_q_lay_hello_ver(&c->rpc[i]);

		if (v > *ver) {
			*ver = v;
			*who = c->rpc[i].daemon;
		}
	}
	pthread_mutex_unlock(&c->lock);
	qfs_call_put(c);
	return 0;
}

/*
 * Wait (to @deadline) until every daemon of view @l answered a HELLO or is
 * known down. A daemon that never answered counts in no quorum (nothing is
 * known of its store), so publishing a view whose new daemons are still
 * connecting would fail every operation on the keys they share (a
 * transition needs R + e of the N + e replicas) until they answer.
 */
static void qfs_q_lay_wait_hellos(struct qfs_quorum *q, const struct qfs_q_lay *l,
				  uint64_t deadline)
{
	for (;;) {
		bool all = true;

		for (int i = 0; i < l->cl->ndaemons && all; i++) {
			struct qfs_daemon_info di;

			q->t->ops->info(q->t, l->map[i], &di);
			all = di.hello || di.suspect;
		}
		if (all || qfs_now_ns() >= deadline)
			return;
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	}
}

int qfs_q_lay_refresh(struct qfs_quorum *q, bool at_open, char *err, size_t errlen)
{
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms), ver;
	struct qfs_q_lay *cur = atomic_load(&q->lay), *l;
	struct proto_layout *pl = NULL;
	int who, rc;

	rc = qfs_q_lay_newest(q, deadline, &ver, &who);
	if (rc || who < 0 || ver <= cur->pl->cur.version)
		return rc;
	rc = qfs_q_lay_get(q, who, deadline, &pl);
	if (rc) {
		qlog_warn("daemon %s holds layout v%" PRIu64 " but LAYOUT_GET failed: %s",
			  q->cl->daemons[who].name, ver, strerror(-rc));
		return rc;
	}
	if (pl->cur.version <= cur->pl->cur.version) {
		free(pl);
		return 0;
	}
	if (!at_open && (pl->cur.n != q->n || (pl->has_prev && pl->prev.n != q->n) ||
			 (q->w == cur->cl->w && pl->cur.w != q->w) ||
			 (q->r == cur->cl->r && pl->cur.r != q->r))) {
		if (!q->watch || !q->watch->warned_nwr)
			qlog_warn("layout v%" PRIu64 " changes N, W or R: remount to use it",
				  pl->cur.version);
		if (q->watch)
			q->watch->warned_nwr = true;
		free(pl);
		return -EOPNOTSUPP;
	}
	if (at_open) {
		/* mount options that override W / R stay; the rest follows the layout */
		if (q->w == cur->cl->w)
			q->w = pl->cur.w;
		if (q->r == cur->cl->r)
			q->r = pl->cur.r;
		q->n = pl->cur.n;
		if (pl->has_prev && pl->prev.n != q->n) {
			snprintf(err, errlen, "layout v%" PRIu64 " changes N during a transition: "
				 "not supported", pl->cur.version);
			free(pl);
			return -EINVAL;
		}
		if (q->w > q->n)
			q->w = q->n;
		if (q->r > q->n)
			q->r = q->n;
	}
	/*
	 * connect to the daemons it adds before it places any key. Their
	 * first HELLO may take a while on a loaded machine (a create failed
	 * with EIO in a CI run when the view was published first), so the
	 * wait gets one more timeout (qfs rebalance's settle wait allows for
	 * it: the probe interval + 3 x timeout_ms + a margin).
	 */
	pthread_mutex_lock(&q->lay_lock);
	rc = qfs_q_lay_build(q, pl, &l);
	pthread_mutex_unlock(&q->lay_lock);
	if (rc) {
		snprintf(err, errlen, "layout v%" PRIu64 ": %s", ver, strerror(-rc));
		return rc;
	}
	qfs_q_lay_wait_hellos(q, l, deadline + (uint64_t)q->timeout_ms * 1000000);
	pthread_mutex_lock(&q->lay_lock);
	qfs_q_lay_publish(q, l);
	pthread_mutex_unlock(&q->lay_lock);
	qlog_info("using cluster layout v%" PRIu64 " from daemon %s (%d daemons%s)", ver,
		  q->cl->daemons[who].name, l->cl->ndaemons,
		  l->pl->has_prev ? ", transition from the previous one" : "");
	return 0;
}

uint32_t qfs_q_lay_version(const struct qfs_q_lay *l)
{
	uint64_t v = l->pl->cur.version;

	/* layouts from daemons and configs are validated to fit; never wrap */
	return v > PROTO_LAYOUT_VERSION_MAX ? PROTO_LAYOUT_VERSION_MAX : (uint32_t)v;
}

/* qfs_q_lay_refresh, one at a time: the watch thread and operations that
 * met a stale-layout refusal share it. */
static int qfs_q_lay_refresh_one(struct qfs_quorum *q, uint32_t lver, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&q->lay_refresh_lock);
	/* another thread may have switched past @lver while we waited */
	if (qfs_q_lay_version(atomic_load(&q->lay)) <= lver)
		rc = qfs_q_lay_refresh(q, false, err, errlen);
	pthread_mutex_unlock(&q->lay_refresh_lock);
	return rc;
}

/*
 * The transport's layout hook (engine thread): a reply carried a layout
 * version we have not seen. Wake the watch thread unless the view is that
 * new already; never blocks (wt->lock is only held briefly).
 */
static void qfs_q_lay_kick(void *arg, uint32_t version)
{
	struct qfs_quorum *q = arg;
	struct qfs_q_watch *wt = q->watch;

	if (version <= qfs_q_lay_version(atomic_load(&q->lay)))
		return;
	pthread_mutex_lock(&wt->lock);
	wt->kick = true;
	pthread_cond_signal(&wt->cond);
	pthread_mutex_unlock(&wt->lock);
}

static void *qfs_q_lay_watch_main(void *arg)
{
	struct qfs_quorum *q = arg;
	struct qfs_q_watch *wt = q->watch;

	pthread_mutex_lock(&wt->lock);
	while (!wt->stop) {
		struct timespec ts;
		char err[256];

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += QFS_Q_LAYOUT_PROBE_MS / 1000;
		ts.tv_nsec += (QFS_Q_LAYOUT_PROBE_MS % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (!wt->kick)
			pthread_cond_timedwait(&wt->cond, &wt->lock, &ts);
		if (wt->stop)
			break;
		wt->kick = false;
		pthread_mutex_unlock(&wt->lock);
		qfs_q_lay_refresh_one(q, qfs_q_lay_version(atomic_load(&q->lay)), err,
				      sizeof(err));
		pthread_mutex_lock(&wt->lock);
	}
	pthread_mutex_unlock(&wt->lock);
	return NULL;
}

int qfs_q_lay_watch_start(struct qfs_quorum *q)
{
	struct qfs_q_watch *wt = calloc(1, sizeof(*wt));
	pthread_condattr_t ca;
	int rc;

	if (!wt)
		return -ENOMEM;
	pthread_mutex_init(&wt->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wt->cond, &ca);
	pthread_condattr_destroy(&ca);
	q->watch = wt; /* freed by qfs_q_lay_free, after the transport closed */
	rc = -pthread_create(&wt->tid, NULL, qfs_q_lay_watch_main, q);
	if (rc)
		return rc;
	wt->started = true;
	q->t->layout_arg = q;
	atomic_store_explicit(&q->t->layout_hook, qfs_q_lay_kick, memory_order_release);
	return 0;
}

void qfs_q_lay_watch_stop(struct qfs_quorum *q)
{
	struct qfs_q_watch *wt = q->watch;

	if (!wt || !wt->started)
		return;
	atomic_store_explicit(&q->t->layout_hook, NULL, memory_order_release);
	pthread_mutex_lock(&wt->lock);
	wt->stop = true;
	pthread_cond_signal(&wt->cond);
	pthread_mutex_unlock(&wt->lock);
	pthread_join(wt->tid, NULL);
	wt->started = false;
}

int qfs_q_lay_catch_up(struct qfs_quorum *q, uint32_t lver)
{
	char err[256] = "";
	uint32_t now;
	int rc;

	rc = qfs_q_lay_refresh_one(q, lver, err, sizeof(err));
	now = qfs_q_lay_version(atomic_load(&q->lay));
	if (!rc && now <= lver)
		rc = -ESTALE; /* no daemon handed out anything newer */
	if (rc)
		qlog_warn("daemons refuse layout v%u as stale, and no newer one could be "
			  "fetched: %s", lver, err[0] ? err : strerror(-rc));
	return rc;
}

/* Highest layout version known: the view's, or one a reply header showed. */
static uint32_t qfs_q_lay_newest_seen(struct qfs_quorum *q)
{
	uint32_t seen = atomic_load_explicit(&q->t->layout_seen, memory_order_relaxed);
	uint32_t cur = qfs_q_lay_version(atomic_load(&q->lay));

	return seen > cur ? seen : cur;
}

bool qfs_q_lay_retry(struct qfs_quorum *q, uint32_t lver, int rc, const char *what)
{
	if (!lver || (rc != -EIO && rc != -EROFS) || qfs_q_lay_newest_seen(q) <= lver)
		return false;
	if (qfs_q_lay_catch_up(q, lver))
		return false;
	qlog_debug("%s: placed by layout v%u, refused as stale: retrying under v%u", what, lver,
		   qfs_q_lay_version(atomic_load(&q->lay)));
	return true;
}

int qfs_q_lay_retried(struct qfs_quorum *q, uint32_t lver, int rc, const char *what)
{
	uint32_t seen = atomic_load_explicit(&q->t->layout_seen, memory_order_relaxed);

	if ((rc != -EIO && rc != -EROFS) || !lver || seen <= lver)
		return rc;
	qlog_warn("%s: still refused after switching to layout v%u (daemons report v%u): "
		  "giving up with EIO", what, lver, seen);
	return -EIO;
}

/* ---- public: tools (qfs layout, rebalance, fsck) ---- */

int qfs_quorum_layout_get(struct qfs_quorum *q, struct proto_layout *out)
{
	const struct qfs_q_lay *l = atomic_load(&q->lay);

	*out = *l->pl;
	return 0;
}

/* The new (@prev false) or old list of @token in view @l, as transport
 * indexes into @out[QFS_MAX_REPLICAS]; 0 for the old one without a transition. */
static int qfs_q_lay_place(const struct qfs_q_lay *l, uint64_t token, bool prev, int *out)
{
	int idx[QFS_MAX_REPLICAS], n;

	if (prev && !l->pring)
		return 0;
	n = qfs_ring_place(prev ? l->pring : l->ring, token, idx,
			   (int)(prev ? l->pcl->n : l->cl->n));
	for (int i = 0; i < n; i++)
		out[i] = prev ? l->pmap[idx[i]] : l->map[idx[i]];
	return n;
}

int qfs_q_lay_union(const struct qfs_q_lay *l, uint64_t token, int *out)
{
	int nl[QFS_MAX_REPLICAS], n, nn;

	if (!l->pring)
		return qfs_q_lay_place(l, token, false, out);
	n = qfs_q_lay_place(l, token, true, out);
	nn = qfs_q_lay_place(l, token, false, nl);
	for (int j = 0; j < nn; j++) {
		bool dup = false;

		for (int i = 0; i < n; i++)
			dup |= out[i] == nl[j];
		if (!dup)
			out[n++] = nl[j];
	}
	return n;
}

int qfs_quorum_place_in(struct qfs_quorum *q, uint64_t token, bool prev, int *out, int max)
{
	int idx[QFS_MAX_REPLICAS], n;

	n = qfs_q_lay_place(atomic_load(&q->lay), token, prev, idx);
	if (n > max)
		n = max;
	memcpy(out, idx, (size_t)n * sizeof(*out));
	return n;
}

const char *qfs_quorum_daemon_name(struct qfs_quorum *q, int i)
{
	return i >= 0 && i < q->cl->ndaemons ? q->cl->daemons[i].name : "?";
}

int qfs_quorum_ndaemons(struct qfs_quorum *q)
{
	return q->cl->ndaemons;
}

const struct qfs_cluster *qfs_quorum_cluster(struct qfs_quorum *q)
{
	return q->cl;
}

int qfs_quorum_daemon_index(struct qfs_quorum *q, const char *name)
{
	return qfs_config_find(q->cl, name);
}

void qfs_quorum_submit(struct qfs_quorum *q, struct qfs_call *c)
{
	q->t->ops->submit(q->t, c);
}

int qfs_quorum_daemon_add(struct qfs_quorum *q, const struct qfs_daemon_conf *d)
{
	int rc;

	pthread_mutex_lock(&q->lay_lock);
	rc = qfs_q_lay_daemon(q, d);
	pthread_mutex_unlock(&q->lay_lock);
	return rc;
}

int qfs_quorum_seed_super(struct qfs_quorum *q, int daemon, uint32_t put_flags)
{
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	uint64_t sums[PROTO_CHUNK_BLOCKS];
	const struct qfs_rpc *rpc;
	struct proto_key k;
	struct qfs_call *c;
	struct qfs_rec rec;
	int rc;

	proto_key_super(&k);
	rc = qfs_quorum_get(q, &k, 0, PROTO_GET_WHOLE, &rec);
	if (rc)
		return rc;
	if (rec.meta.flags & PROTO_REC_TOMBSTONE) {
		qfs_rec_free(&rec);
		return -ENOENT;
	}
	rec.meta.sum = proto_value_sums(rec.val, rec.meta.len, sums);
	rc = qfs_q_put_call(&rec.meta, rec.val, 1, deadline, &c);
	if (!rc) {
		rc = qfs_q_put_add_flags(c, &k, &rec.meta, sums, daemon, true, put_flags);
		if (rc >= 0) {
			qfs_call_set_need(c, 1);
			q->t->ops->submit(q->t, c);
			qfs_call_wait(c, deadline, qfs_call_all_done, NULL);
			rpc = qfs_call_result(c, 0);
			rc = !rpc ? -ETIMEDOUT : rpc->err ? rpc->err : rpc->accepted ? 0 : -EIO;
		}
		qfs_call_put(c);
	}
	qfs_rec_free(&rec);
	return rc;
}

int qfs_scan_merge_to(struct qfs_quorum *q, const struct proto_key *key, const bool *has,
		      const struct proto_meta *meta, const int *to, int nto,
		      struct proto_meta *merged, int *res)
{
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	int nd = q->cl->ndaemons, nf = 0, k = 0, put[QFS_MAX_REPLICAS], pres[QFS_MAX_REPLICAS];
	int nput = 0, rc = 0;
	struct proto_rec acc = { 0 };
	struct proto_wr mbuf[2];
	struct qfs_full *f;
	bool have = false;

	if (nto > QFS_MAX_REPLICAS)
		return -EINVAL;
	f = calloc((size_t)nd, sizeof(*f));
	if (!f)
		return -ENOMEM;
	proto_wr_init(&mbuf[0]);
	proto_wr_init(&mbuf[1]);
	/* one GET per distinct clean copy; every value stays alive while merging */
	for (int d = 0; d < nd && !rc; d++) {
		struct proto_rec r;
		bool dup = false;

		if (!has[d] || (meta[d].flags & PROTO_REC_CORRUPT))
			continue;
		for (int e = 0; e < d && !dup; e++)
			dup = has[e] && !(meta[e].flags & PROTO_REC_CORRUPT) &&
			      proto_lww_cmp(&meta[e], &meta[d]) == 0;
		if (dup)
			continue;
		rc = qfs_q_fetch_whole(q, key, d, deadline, &f[nf]);
		if (rc == -ENOENT || (!rc && proto_lww_cmp(&f[nf].meta, &meta[d]) != 0))
			rc = -ESTALE; /* changed since the HEAD: the caller looks again */
		if (rc)
			break;
		r.meta = f[nf].meta;
		r.meta.flags &= ~PROTO_REC_CORRUPT;
		r.val = f[nf++].val;
		if (!have) {
			acc = r;
			have = true;
			continue;
		}
		/* alternate buffers: the output must not overwrite an input */
		if (proto_merge(key->kind, &acc, &r, &acc, &mbuf[k]))
			rc = -ENOMEM;
		k ^= 1;
	}
	if (!rc && !have)
		rc = -ENOENT;
	if (rc)
		goto out_free;
	*merged = acc.meta;
	/* a daemon that took the PUT holds the merge or more: it merges too */
	for (int i = 0; i < nto; i++) {
		res[i] = 1;
		if (!has[to[i]] || proto_lww_cmp(&meta[to[i]], &acc.meta) != 0)
			put[nput++] = to[i];
	}
	if (nput)
		rc = qfs_scan_put_to(q, key, &acc.meta, acc.val, put, nput, pres);
	for (int i = 0, j = 0; !rc && i < nto && j < nput; i++)
		if (to[i] == put[j])
			res[i] = pres[j++];
out_free:
	for (int i = 0; i < nf; i++)
		qfs_full_free(&f[i]);
	free(f);
	proto_wr_free(&mbuf[0]);
	proto_wr_free(&mbuf[1]);
	return rc;
}
