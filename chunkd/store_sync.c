// SPDX-License-Identifier: MIT
/*
 * store_sync.c - sync points of a CHK_SYNC_COMMIT store and the thread that
 * makes them durable while the writer goes on committing.
 *
 * A sync point S is the state of the last committed batch when it is taken.
 * The writer captures it between batches (struct chk_sync_job): S's txnid
 * and meta pages, a pin on S (a read transaction: LMDB reuses no page of
 * S's tree from then on), the bodies written since the previous sync point
 * (dup()ed fds, or just "syncfs" when there are many), the directories of
 * new bodies, and the bodies superseded before S. The sync thread then makes
 * the bodies durable, then the index (fdatasync of data.mdb: S's pages and
 * maybe later ones), then S's meta pages in meta.snap (store_snap.c), and
 * only then unlinks the superseded bodies. The writer adopts the finished
 * job at its next batch: S's pin replaces the previous sync point's, whose
 * pages LMDB may now reuse. Until then the previous pin keeps every newer
 * snapshot whole too (LMDB reuses only pages freed before its oldest
 * reader), so commits made while the job runs cannot touch S's tree.
 *
 * chk_store_sync() (SYNC requests, close, tests) captures a sync point and
 * waits for it; chk_store_sync_start() (the periodic timer) only hands it
 * over. A failure is fatal for the store (st->failed), never retried.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunkd/body.h"
#include "chunkd/store_priv.h"
#include "proto/log.h"

/* ---- the sync thread's side ---- */

static int chk_job_bodies(struct chk_store *st, struct chk_sync_job *j)
{
	int rc = 0;

	if (j->syncfs) {
		/* many bodies: one pass over the filesystem beats an fdatasync each */
		if (syncfs(st->dfd) < 0) {
			rc = -errno;
			qlog_err("syncfs of %s: %s", st->dir, strerror(-rc));
		}
		return rc;
	}
	for (size_t i = 0; i < j->nfds && !rc; i++) {
		if (fdatasync(j->fds[i].fd) < 0) {
			rc = -errno;
			qlog_err("fdatasync body %016" PRIx64 ": %s", j->fds[i].id, strerror(-rc));
		}
	}
	for (unsigned d = 0; d < CHK_STRIPES && !rc; d++) {
		if (!(j->dirs[d / 64] & (1ULL << (d % 64))))
			continue;
		rc = chk_body_sync_dir(st->dfd, d);
		if (rc)
			qlog_err("fsync body directory %02x: %s", d, strerror(-rc));
	}
	return rc;
}

/* Make @j durable: bodies, index, meta.snap; then free what it superseded. */
static int chk_job_run(struct chk_store *st, struct chk_sync_job *j)
{
	int rc;

	rc = chk_job_bodies(st, j);
	for (size_t i = 0; i < j->nfds; i++)
		close(j->fds[i].fd);
	j->nfds = 0;
	if (rc)
		return rc;
	if (fdatasync(j->index_fd) < 0) {
		rc = -errno;
		qlog_err("sync index of %s: %s", st->dir, strerror(-rc));
		return rc;
	}
	rc = chk_snap_save(st, j);
	if (rc) {
		qlog_err("save sync point txn %" PRIu64 ": %s", j->txnid, strerror(-rc));
		return rc;
	}
	/* the durable sync point no longer names the superseded bodies */
	for (size_t i = 0; i < j->nfreed; i++) {
		int urc = chk_body_unlink(st->dfd, j->freed[i]);

		if (urc && urc != -ENOENT) /* a leak, swept at the next unclean open */
			qlog_warn("free body %016" PRIx64 ": %s", j->freed[i], strerror(-urc));
	}
	j->nfreed = 0;
	return 0;
}

static void *chk_sync_main(void *arg)
{
	struct chk_store *st = arg;

	pthread_mutex_lock(&st->sync_lock);
	for (;;) {
		while (!st->sync_stop && st->job.state != CHK_JOB_READY)
			pthread_cond_wait(&st->sync_cond, &st->sync_lock);
		if (st->job.state != CHK_JOB_READY)
			break; /* stopping, nothing handed over */
		st->job.state = CHK_JOB_RUNNING;
		pthread_mutex_unlock(&st->sync_lock);
		st->job.rc = chk_job_run(st, &st->job);
		if (st->job.rc)
			atomic_store(&st->failed, true); /* never retried */
		pthread_mutex_lock(&st->sync_lock);
		st->job.state = CHK_JOB_DONE;
		pthread_cond_broadcast(&st->sync_cond);
	}
	pthread_mutex_unlock(&st->sync_lock);
	return NULL;
}

int chk_sync_init(struct chk_store *st)
{
	int rc;

	rc = pthread_create(&st->sync_thread, NULL, chk_sync_main, st);
	if (rc)
		return -rc;
	st->sync_thread_up = true;
	return 0;
}

void chk_sync_fini(struct chk_store *st)
{
	if (!st->sync_thread_up)
		return;
	chk_sync_drain(st);
	pthread_mutex_lock(&st->sync_lock);
	st->sync_stop = true;
	pthread_cond_broadcast(&st->sync_cond);
	pthread_mutex_unlock(&st->sync_lock);
	pthread_join(st->sync_thread, NULL);
	st->sync_thread_up = false;
}

/* ---- the writer's side ---- */

/* Hand the bodies written since the last sync point to @j. */
static void chk_job_take_bodies(struct chk_store *st, struct chk_sync_job *j)
{
	j->syncfs = st->use_syncfs;
	j->nfds = 0;
	memcpy(j->dirs, st->dirty_dirs, sizeof(j->dirs));
	for (size_t i = 0; i < st->nfdc && !j->syncfs; i++) {
		int fd;

		if (!st->fdc[i].dirty)
			continue;
		if (chk_grow((void **)&j->fds, &j->cap_fds, j->nfds, sizeof(*j->fds)))
			fd = -1;
		else
			fd = dup(st->fdc[i].fd); /* the writer may close its own meanwhile */
		if (fd < 0) {
			j->syncfs = true; /* cannot track them: sync the filesystem */
			break;
		}
		j->fds[j->nfds].id = st->fdc[i].id;
		j->fds[j->nfds++].fd = fd;
	}
	if (j->syncfs) {
		for (size_t i = 0; i < j->nfds; i++)
			close(j->fds[i].fd);
		j->nfds = 0;
	}
}

/* Adopt (or, failed, drop) a finished job; the caller knows it is DONE. */
static void chk_job_finish(struct chk_store *st)
{
	struct chk_sync_job *j = &st->job;
	uint64_t us = chk_now_us() - j->t0;

	if (j->rc) {
		chk_snap_drop(st, j);
		qlog_err("store in %s disabled: its sync point failed", st->dir);
		atomic_store(&st->failed, true);
	} else {
		chk_snap_adopt(st, j);
		st->n_syncs++;
		st->sync_us += us;
		if (us > st->sync_us_max)
			st->sync_us_max = us;
	}
	j->state = CHK_JOB_IDLE;
}

static enum chk_job_state chk_job_state(struct chk_store *st)
{
	enum chk_job_state s;

	pthread_mutex_lock(&st->sync_lock);
	s = st->job.state;
	pthread_mutex_unlock(&st->sync_lock);
	return s;
}

void chk_sync_reap(struct chk_store *st)
{
	if (chk_job_state(st) == CHK_JOB_DONE)
		chk_job_finish(st);
}

void chk_sync_drain(struct chk_store *st)
{
	uint64_t t0 = chk_now_us();
	bool waited = false;

	pthread_mutex_lock(&st->sync_lock);
	while (st->job.state == CHK_JOB_READY || st->job.state == CHK_JOB_RUNNING) {
		pthread_cond_wait(&st->sync_cond, &st->sync_lock);
		waited = true;
	}
	pthread_mutex_unlock(&st->sync_lock);
	if (waited)
		st->sync_wait_us += chk_now_us() - t0;
	if (st->job.state == CHK_JOB_DONE)
		chk_job_finish(st);
}

/*
 * Capture the current state as a sync point and hand it to the sync thread
 * (or, before the thread runs, make it durable right here). The writer's
 * view starts afresh: no dirty body, nothing superseded.
 */
static int chk_job_start(struct chk_store *st)
{
	struct chk_sync_job *j = &st->job;
	uint64_t *tmp;
	size_t tcap;
	int rc;

	j->t0 = chk_now_us();
	j->rc = 0;
	rc = chk_snap_capture(st, j);
	if (rc) {
		qlog_err("store in %s disabled: cannot take a sync point", st->dir);
		atomic_store(&st->failed, true);
		return -EIO;
	}
	chk_job_take_bodies(st, j);
	/* the superseded bodies go with it; the writer gets the spare array */
	tmp = j->freed;
	tcap = j->cap_freed;
	j->freed = st->deferred;
	j->cap_freed = st->cap_deferred;
	j->nfreed = st->ndeferred;
	st->deferred = tmp;
	st->cap_deferred = tcap;
	st->ndeferred = 0;
	for (size_t i = 0; i < st->nfdc; i++)
		st->fdc[i].dirty = false;
	st->use_syncfs = false;
	memset(st->dirty_dirs, 0, sizeof(st->dirty_dirs));
	st->dirty = false;

	if (!st->sync_thread_up) { /* at open: right here */
		j->rc = chk_job_run(st, j);
		pthread_mutex_lock(&st->sync_lock);
		j->state = CHK_JOB_DONE;
		pthread_mutex_unlock(&st->sync_lock);
		return 0;
	}
	pthread_mutex_lock(&st->sync_lock);
	j->state = CHK_JOB_READY;
	pthread_cond_broadcast(&st->sync_cond);
	pthread_mutex_unlock(&st->sync_lock);
	return 0;
}

int chk_sync_point(struct chk_store *st)
{
	int rc;

	chk_sync_drain(st);
	if (atomic_load(&st->failed))
		return -EIO;
	if (!st->dirty && st->pin)
		return 0; /* the last sync point is the current state */
	rc = chk_job_start(st);
	if (rc)
		return rc;
	chk_sync_drain(st);
	return atomic_load(&st->failed) ? -EIO : 0;
}

int chk_store_sync(struct chk_store *st)
{
	int rc;

	if (atomic_load(&st->failed))
		return -EIO;
	if (st->sync == CHK_SYNC_NONE)
		return 0;
	if (st->sync == CHK_SYNC_ALWAYS) {
		/* every commit is durable already; this is cheap */
		rc = mdb_env_sync(st->env, 1);
		if (rc) {
			qlog_err("sync index: %s: store disabled", mdb_strerror(rc));
			atomic_store(&st->failed, true);
			return -EIO;
		}
		return 0;
	}
	return chk_sync_point(st);
}

int chk_store_sync_start(struct chk_store *st)
{
	int rc;

	if (atomic_load(&st->failed))
		return -EIO;
	if (st->sync != CHK_SYNC_COMMIT)
		return chk_store_sync(st);
	chk_sync_reap(st);
	if (!st->dirty)
		return 0;
	if (chk_job_state(st) != CHK_JOB_IDLE)
		return 1; /* one at a time: call again for what came since */
	rc = chk_job_start(st);
	return rc ? rc : 0;
}
