// SPDX-License-Identifier: MIT
/*
 * quorum_read_async.c - qfs_quorum_get() in the background
 * (qfs_quorum_get_begin / qfs_quorum_get_end), for sequential readahead.
 *
 * Each op runs the synchronous quorum read, unchanged (same R, hedging,
 * deadline and blocking read-repair), on a thread of its own, so an async
 * read can never answer differently from a synchronous one. A thread per
 * op is cheap next to what it fetches (a whole chunk); the caller bounds
 * how many are in flight. The op owns a copy of the key; the thread never
 * touches the caller's memory, and end joins it, so every op must be ended
 * before qfs_quorum_close().
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "fs/quorum.h"

struct qfs_get_op {
	struct qfs_quorum *q;
	struct proto_key key;
	uint32_t off, len;
	pthread_t thread;
	pthread_mutex_t lock;
	bool done;	    /* protected by lock */
	int rc;		    /* set by the thread before done */
	struct qfs_rec rec; /* idem */
};

static void *qfs_get_op_run(void *arg)
{
	struct qfs_get_op *op = arg;
	struct qfs_rec rec = { 0 }; /* stays empty when the read fails early */
	int rc;

	rc = qfs_quorum_get(op->q, &op->key, op->off, op->len, &rec);
	pthread_mutex_lock(&op->lock);
	op->rc = rc;
	op->rec = rec;
	op->done = true;
	pthread_mutex_unlock(&op->lock);
	return NULL;
}

int qfs_quorum_get_begin(struct qfs_quorum *q, const struct proto_key *key, uint32_t off,
			 uint32_t len, struct qfs_get_op **out)
{
	struct qfs_get_op *op;
	int rc;

	if (key->kind >= PROTO_KIND_MAX)
		return -EINVAL;
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->q = q;
	op->key = *key;
	op->off = off;
	op->len = len;
	pthread_mutex_init(&op->lock, NULL);
	rc = pthread_create(&op->thread, NULL, qfs_get_op_run, op);
	if (rc) {
		pthread_mutex_destroy(&op->lock);
		free(op);
		return -rc; /* EAGAIN: out of threads */
	}
	*out = op;
	return 0;
}

bool qfs_quorum_get_done(struct qfs_get_op *op)
{
	bool done;

	pthread_mutex_lock(&op->lock);
	done = op->done;
	pthread_mutex_unlock(&op->lock);
	return done;
}

int qfs_quorum_get_end(struct qfs_quorum *q, struct qfs_get_op *op, struct qfs_rec *out)
{
	int rc;

	(void)q;
	pthread_join(op->thread, NULL);
	rc = op->rc;
	if (out)
		*out = op->rec;
	else
		qfs_rec_free(&op->rec);
	pthread_mutex_destroy(&op->lock);
	free(op);
	return rc;
}
