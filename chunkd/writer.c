// SPDX-License-Identifier: MIT
/*
 * writer.c - the single writer thread: applies PUT, PATCH, SYNC, REBUILT
 * and corruption notes in arrival order, with group commit.
 *
 * It waits for one request, then drains whatever else is queued (at most
 * CHK_BATCH_MAX requests or CHK_BATCH_BYTES of bodies) into one store batch,
 * commits it, runs one chk_store_sync() if a SYNC was in the batch, and only
 * then sends the replies: nothing is acknowledged before its batch is
 * committed (and, for SYNC, durable). Because there is one writer and one
 * queue fed by one reactor, writes to one key apply in arrival order.
 *
 * A write routed by a layout older than the stored one (chk_layout_stale)
 * is answered PROTO_ST_STALE_LAYOUT, unapplied. LAYOUT_SET is applied after
 * the writes of its batch, so every write this daemon accepted under the
 * old version is committed before the new version's reply leaves.
 *
 * Every successful write and SYNC reply carries the boot verifier (error
 * replies have empty ARGS, except CONFLICT and SKEW). A PUT or PATCH whose
 * version is more than --max-skew-ms ahead of the daemon's wall clock is
 * refused with PROTO_ST_SKEW, and its reply ARGS are a proto_write_rep whose
 * stored.hlc is the daemon's clock (writer 0). In --sync commit mode the
 * writer also starts a sync at least every CHK_SYNC_INTERVAL_MS after
 * writes, which the store's sync thread runs while the writer goes on. A
 * failed sync is fatal for the store: writes are refused with PROTO_ST_IO
 * from then on (never retried), reads go on.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chunkd/server.h"
#include "proto/layout.h"
#include "proto/log.h"
#include "proto/status.h"

#define CHK_MARKS_MAX 64
#define CHK_SYNC_RETRY_MS 20 /* the periodic sync found the last one still running */

struct chk_wslot {
	struct proto_zmsg m;
	uint16_t st;
	bool rep_valid;		     /* ARGS = rep */
	struct proto_write_rep rep;
	bool count_valid;	     /* ARGS = count (repair batches) */
	uint32_t count;
	bool lver_valid;	     /* ARGS = lver (LAYOUT_SET) */
	uint64_t lver;
	uint64_t hlc;		     /* version to observe once committed */
	uint64_t bytes;		     /* counted in write_inflight */
};

struct chk_wstate {
	struct chk_worker *w;
	struct chk_daemon *d;
	struct chk_wslot *slots;
	int n;
	struct chk_env marks[CHK_MARKS_MAX];
	int nmarks;
	bool dirty;		/* committed writes not yet synced (commit mode) */
	uint64_t last_sync_ms;
	bool failed;		/* a sync failed: refuse writes */
	uint64_t next_tick_ms;	/* tombstone collection and last-alive stamp (repair.c) */
	uint64_t n_batches, n_reqs, n_syncs; /* logged at exit */
	struct proto_put_req put; /* decode scratch (large) */
};

/* Reply ARGS for a refused, too-far-ahead version: the daemon's clock. */
static void chk_skew_rep(struct chk_daemon *d, struct proto_write_rep *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->stored.hlc = proto_hlc_next(&d->clock, proto_wall_ms());
	rep->boot = d->boot;
}

static void chk_apply_put(struct chk_wstate *ws, struct chk_wslot *s)
{
	struct chk_daemon *d = ws->d;
	struct proto_put_req *q = &ws->put;
	int rc;

	rc = proto_decode_put_req(zmq_msg_data(&s->m.args), zmq_msg_size(&s->m.args),
				  zmq_msg_size(&s->m.data), q);
	if (rc < 0) {
		s->st = proto_st_from_errno(rc);
		return;
	}
	if (chk_skewed(d, q->meta.ver.hlc)) {
		s->st = PROTO_ST_SKEW;
		chk_skew_rep(d, &s->rep);
		s->rep_valid = true;
		return;
	}
	rc = chk_store_put(d->store, q, zmq_msg_data(&s->m.data), &s->rep);
	if (rc < 0 && rc != -ENOSPC)
		qlog_debug("put: %s", strerror(-rc));
	s->st = proto_st_from_errno(rc);
	if (rc == 0) {
		s->rep_valid = true;
		s->hlc = q->meta.ver.hlc;
	}
}

static void chk_apply_patch(struct chk_wstate *ws, struct chk_wslot *s)
{
	struct chk_daemon *d = ws->d;
	struct proto_patch_req q;
	int rc;

	rc = proto_decode_patch_req(zmq_msg_data(&s->m.args), zmq_msg_size(&s->m.args),
				    zmq_msg_size(&s->m.data), &q);
	if (rc < 0) {
		s->st = proto_st_from_errno(rc);
		return;
	}
	if (chk_skewed(d, q.ver.hlc)) {
		s->st = PROTO_ST_SKEW;
		chk_skew_rep(d, &s->rep);
		s->rep_valid = true;
		return;
	}
	rc = chk_store_patch(d->store, &q, zmq_msg_data(&s->m.data),
			     (uint32_t)zmq_msg_size(&s->m.data), &s->rep);
	s->st = proto_st_from_errno(rc);
	if (rc == 0) {
		s->rep_valid = true;
		s->hlc = q.ver.hlc;
	} else if (rc == -ESTALE) {
		s->rep_valid = true;	/* the conflict reply carries the stored version */
	}
}

/* REBUILT: leave the rebuilding state if the request names our volume. */
static void chk_apply_rebuilt(struct chk_wstate *ws, struct chk_wslot *s)
{
	struct proto_rebuilt_req q;
	int rc;

	rc = proto_decode_rebuilt_req(zmq_msg_data(&s->m.args), zmq_msg_size(&s->m.args),
				      zmq_msg_size(&s->m.data), &q);
	if (rc == 0)
		rc = chk_store_rebuilt(ws->d->store, q.volume_id, q.store_id);
	if (rc < 0)
		qlog_warn("rebuilt #%" PRIu64 ": %s", s->m.hdr.reqid, strerror(-rc));
	s->st = proto_st_from_errno(rc);
}

/*
 * LAYOUT_SET: validate the layout, then compare-and-swap it in a batch of
 * its own (store_layout.c); the sync that follows makes it durable before
 * the reply. CONFLICT when the stored version is not the expected one; the
 * reply carries the stored version either way.
 */
static void chk_apply_layout_set(struct chk_wstate *ws, struct chk_wslot *s)
{
	const uint8_t *a = zmq_msg_data(&s->m.args);
	size_t alen = zmq_msg_size(&s->m.args);
	struct proto_layout *l;
	uint64_t expect;
	int rc;

	l = malloc(sizeof(*l));
	if (!l) {
		s->st = PROTO_ST_NOMEM;
		return;
	}
	rc = proto_decode_layout_set_req(a, alen, zmq_msg_size(&s->m.data), &expect, l);
	free(l);
	if (rc == 0)
		rc = ws->failed ? -EIO
				: chk_store_layout_set(ws->d->store, expect, a + 8, alen - 8,
						       &s->lver);
	if (rc == -ESTALE || rc == 0)
		s->lver_valid = true;
	/* a number out of range (a version past 2^32 - 1, a bad N/W/R) is no
	 * I/O error of ours: well formed, not allowed */
	s->st = rc == -ESTALE ? PROTO_ST_CONFLICT
		: rc == -ERANGE ? PROTO_ST_INVAL : proto_st_from_errno(rc);
	if (rc == 0)
		qlog_info("cluster layout version %" PRIu64 " stored", s->lver);
	else
		qlog_info("layout_set (expect %" PRIu64 "): %s", expect, strerror(-rc));
}

/* Repair-index and tombstone batches (repair.c): writes too. */
static bool chk_is_repair(const struct chk_wslot *s)
{
	uint8_t op = s->m.hdr.opcode;

	return op == PROTO_OP_PENDING_ADD || op == PROTO_OP_PENDING_DEL ||
	       op == PROTO_OP_TOMB_CONFIRM || op == PROTO_OP_PURGE || op == PROTO_OP_DROP;
}

/* Requests applied inside the store batch (REBUILT too: it is a write). */
static bool chk_is_write(const struct chk_wslot *s)
{
	return s->m.hdr.opcode == PROTO_OP_PUT || s->m.hdr.opcode == PROTO_OP_PATCH ||
	       s->m.hdr.opcode == PROTO_OP_REBUILT || chk_is_repair(s);
}

/* Take the next queued message (waiting @timeout_ms); 1 taken, 0 none. */
static int chk_take(struct chk_wstate *ws, int timeout_ms, uint64_t *bytes)
{
	struct chk_wslot *s = &ws->slots[ws->n];
	struct chk_env env;
	int rc;

	rc = chk_env_recv(ws->w->in, &env, &s->m, timeout_ms);
	if (rc < 0) {
		proto_zmsg_close(&s->m);
		return rc == -EBADMSG ? 1 : 0;
	}
	if (env.kind == CHK_ENV_MARK) {
		proto_zmsg_close(&s->m);
		if (ws->nmarks < CHK_MARKS_MAX)
			ws->marks[ws->nmarks++] = env;
		return 1;
	}
	s->st = PROTO_ST_OK;
	s->rep_valid = false;
	s->count_valid = false;
	s->lver_valid = false;
	s->hlc = 0;
	s->bytes = zmq_msg_size(&s->m.args) + zmq_msg_size(&s->m.data);
	memset(&s->rep, 0, sizeof(s->rep));
	*bytes += s->bytes;
	ws->n++;
	return 1;
}

static int chk_do_sync(struct chk_wstate *ws)
{
	int rc;

	if (ws->failed)
		return -EIO;
	rc = chk_store_sync(ws->d->store);
	if (rc < 0) {
		qlog_err("store sync failed: %s; refusing writes from now on", strerror(-rc));
		ws->failed = true;
		return rc;
	}
	ws->dirty = false;
	ws->last_sync_ms = proto_wall_ms();
	ws->n_syncs++;
	return 0;
}

/*
 * The periodic sync in commit mode: handed to the store's sync thread, not
 * waited for. When one is still running, try again soon.
 */
static void chk_start_sync(struct chk_wstate *ws)
{
	int rc = chk_store_sync_start(ws->d->store);

	if (rc < 0) {
		qlog_err("store sync failed: %s; refusing writes from now on", strerror(-rc));
		ws->failed = true;
		return;
	}
	ws->last_sync_ms = proto_wall_ms();
	if (rc > 0) {
		ws->last_sync_ms -= CHK_SYNC_INTERVAL_MS - CHK_SYNC_RETRY_MS;
		return; /* still dirty */
	}
	ws->dirty = false;
	ws->n_syncs++;
}

/* Apply the gathered batch, commit, sync if asked, then answer everything. */
static void chk_run_batch(struct chk_wstate *ws)
{
	struct chk_daemon *d = ws->d;
	bool want_sync = false, writes = false;
	int i, rc = 0;

	ws->n_batches++;
	ws->n_reqs += (uint64_t)ws->n;
	for (i = 0; i < ws->n; i++) {
		if (chk_is_write(&ws->slots[i]))
			writes = true;
		/* SYNC, and REBUILT: its answer says the state is durably gone */
		if (!chk_is_write(&ws->slots[i]) || ws->slots[i].m.hdr.opcode == PROTO_OP_REBUILT)
			want_sync = true;
	}
	if (ws->failed && (writes || ws->nmarks))
		rc = -EIO;
	else if (writes || ws->nmarks)
		rc = chk_store_batch_begin(d->store);
	if ((writes || ws->nmarks) && rc == 0) {
		for (i = 0; i < ws->n; i++) {
			struct chk_wslot *s = &ws->slots[i];

			/* judged here, not on the reactor: a LAYOUT_SET queued
			 * before this write has been applied by now */
			if (chk_layout_stale(d, &s->m.hdr))
				s->st = PROTO_ST_STALE_LAYOUT;
			else if (s->m.hdr.opcode == PROTO_OP_PUT)
				chk_apply_put(ws, s);
			else if (s->m.hdr.opcode == PROTO_OP_PATCH)
				chk_apply_patch(ws, s);
			else if (s->m.hdr.opcode == PROTO_OP_REBUILT)
				chk_apply_rebuilt(ws, s);
			else if (chk_is_repair(s))
				s->count_valid = (s->st = chk_apply_repair(d, &s->m, &s->count)) ==
						 PROTO_ST_OK;
		}
		for (i = 0; i < ws->nmarks; i++) {
			char kb[96];
			int mrc = chk_store_mark_corrupt(d->store, &ws->marks[i].key,
							 &ws->marks[i].ver);

			if (mrc < 0 && mrc != -ENOENT && mrc != -ESTALE)
				qlog_warn("mark %s corrupt: %s",
					  proto_key_str(&ws->marks[i].key, kb, sizeof(kb)),
					  strerror(-mrc));
		}
		rc = chk_store_batch_commit(d->store);
		if (rc < 0)
			qlog_err("batch of %d writes failed to commit: %s", ws->n, strerror(-rc));
	}
	for (i = 0; i < ws->n; i++) {
		struct chk_wslot *s = &ws->slots[i];

		if (!chk_is_write(s))
			continue;
		if (rc < 0) {
			/* the whole batch is undone: whatever the request got, it failed */
			if (s->st == PROTO_ST_OK || s->st == PROTO_ST_CONFLICT) {
				s->st = proto_st_from_errno(rc);
				s->rep_valid = false;
				s->count_valid = false;
			}
			continue;
		}
		if (s->st == PROTO_ST_OK) {
			ws->dirty = true;
			proto_hlc_observe(&d->clock, s->hlc);
		}
	}
	ws->nmarks = 0;
	for (i = 0; i < ws->n; i++)
		if (ws->slots[i].m.hdr.opcode == PROTO_OP_LAYOUT_SET)
			chk_apply_layout_set(ws, &ws->slots[i]);

	if (want_sync) {
		int src = chk_do_sync(ws);

		for (i = 0; i < ws->n; i++) {
			struct chk_wslot *s = &ws->slots[i];

			if (s->m.hdr.opcode == PROTO_OP_REBUILT && s->st == PROTO_ST_OK && src < 0)
				s->st = proto_st_from_errno(src);
			if (s->m.hdr.opcode != PROTO_OP_SYNC)
				continue;
			s->st = proto_st_from_errno(src);
			if (s->st == PROTO_ST_OK)
				s->st = proto_st_from_errno(proto_decode_sync_req(
					zmq_msg_data(&s->m.args), zmq_msg_size(&s->m.args),
					zmq_msg_size(&s->m.data)));
		}
	}

	for (i = 0; i < ws->n; i++) {
		struct chk_wslot *s = &ws->slots[i];
		struct proto_wr wr;

		proto_wr_init(&wr);
		if (s->m.hdr.opcode == PROTO_OP_SYNC && s->st == PROTO_ST_OK) {
			struct proto_sync_rep sr = { .boot = d->boot };

			proto_encode_sync_rep(&wr, &sr);
		} else if (s->m.hdr.opcode == PROTO_OP_REBUILT && s->st == PROTO_ST_OK) {
			struct proto_rebuilt_rep rr;
			uint8_t sid[PROTO_ID_LEN], vid[PROTO_ID_LEN];

			chk_store_identity(d->store, sid, vid, &rr.store_flags);
			proto_encode_rebuilt_rep(&wr, &rr);
		} else if (s->rep_valid) {
			s->rep.boot = d->boot;
			proto_encode_write_rep(&wr, &s->rep);
		} else if (s->lver_valid) {
			proto_encode_layout_version(&wr, s->lver);
		} else if (s->count_valid && s->st == PROTO_ST_OK) {
			proto_encode_count_rep(&wr, s->count);
		}
		if (s->st != PROTO_ST_OK)
			qlog_debug("%s #%" PRIu64 ": %s", proto_op_name(s->m.hdr.opcode),
				   s->m.hdr.reqid, proto_st_name(s->st));
		if (wr.bad)
			chk_reply(d, ws->w->reply, &s->m, PROTO_ST_NOMEM, NULL, 0, NULL);
		else
			chk_reply(d, ws->w->reply, &s->m, s->st, wr.buf, wr.len, NULL);
		proto_wr_free(&wr);
		atomic_fetch_sub(&d->write_inflight, s->bytes);
		proto_zmsg_close(&s->m);
	}
	ws->n = 0;
}

/* Collect tombstones past the grace and stamp the store alive (repair.c). */
static void chk_writer_tick(struct chk_wstate *ws)
{
	bool more = false;
	int rc = chk_tomb_tick(ws->d, &more);

	if (rc < 0)
		qlog_warn("tombstone collection: %s", strerror(-rc));
	else
		ws->dirty = true;
	ws->next_tick_ms = proto_wall_ms() + (more ? 0 : chk_tomb_tick_ms(ws->d));
}

/* Milliseconds to wait for the next request: the sync timer when dirty. */
static int chk_wait_ms(struct chk_wstate *ws)
{
	uint64_t now, due;

	/* a failed store is never synced again: do not spin on an overdue timer */
	if (!ws->dirty || ws->failed || ws->d->o.sync != CHK_SYNC_COMMIT)
		return CHK_POLL_MS;
	now = proto_wall_ms();
	due = ws->last_sync_ms + CHK_SYNC_INTERVAL_MS;
	if (now >= due)
		return 0;
	return due - now < CHK_POLL_MS ? (int)(due - now) : CHK_POLL_MS;
}

void *chk_writer_main(void *arg)
{
	struct chk_worker *w = arg;
	struct chk_daemon *d = w->d;
	struct chk_wstate *ws;
	uint64_t bytes;
	int rc;

	ws = calloc(1, sizeof(*ws));
	if (ws)
		ws->slots = calloc(CHK_BATCH_MAX, sizeof(*ws->slots));
	if (!ws || !ws->slots) {
		/* nothing can be written: stop the daemon instead of hanging writes */
		qlog_err("writer: out of memory");
		free(ws);
		atomic_store(&d->stop, true);
		kill(getpid(), SIGTERM);
		goto out;
	}
	ws->w = w;
	ws->d = d;
	ws->last_sync_ms = proto_wall_ms();

	while (!atomic_load(&d->stop)) {
		bytes = 0;
		rc = chk_take(ws, chk_wait_ms(ws), &bytes);
		while (rc > 0 && ws->n < CHK_BATCH_MAX && bytes < CHK_BATCH_BYTES)
			rc = chk_take(ws, 0, &bytes);
		if (ws->n || ws->nmarks)
			chk_run_batch(ws);
		if (!ws->failed && proto_wall_ms() >= ws->next_tick_ms)
			chk_writer_tick(ws);
		if (d->o.sync == CHK_SYNC_COMMIT && ws->dirty && !ws->failed &&
		    proto_wall_ms() >= ws->last_sync_ms + CHK_SYNC_INTERVAL_MS)
			chk_start_sync(ws);
	}
	if (!ws->failed && chk_store_alive(d->store, proto_wall_ms()) == 0)
		ws->dirty = true; /* a clean stop is the last time we were alive */
	if (ws->dirty && !ws->failed)
		chk_do_sync(ws);	/* a clean stop leaves nothing unsynced */
	qlog_info("writer: %" PRIu64 " requests in %" PRIu64 " batches, %" PRIu64 " syncs",
		  ws->n_reqs, ws->n_batches, ws->n_syncs);
	free(ws->slots);
	free(ws);
out:
	zmq_close(w->in);
	zmq_close(w->reply);
	w->in = w->reply = NULL;
	return NULL;
}
