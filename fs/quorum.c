// SPDX-License-Identifier: MIT
/*
 * quorum.c - opening the quorum layer (HELLO, clock skew, volume, superblock)
 * and the cluster-wide operations (SYNC to all, space), plus the helpers
 * that fs/quorum_read.c, quorum_write.c and quorum_list.c share.
 *
 * Invariants: every operation computes one monotonic deadline when it
 * starts and passes it to every call it makes, so no step can extend it;
 * every version seen in a reply is absorbed into the client HLC; a daemon
 * is "rebuilding" when its latest HELLO reported PROTO_STORE_REBUILDING, or
 * PROTO_STORE_NOVOLUME while the volume existed at open, or a store id we
 * never saw refilled (qfs_q_rebuilding): it receives writes but never
 * counts toward R or W.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fs/engine.h"
#include "fs/quorum_priv.h"
#include "proto/log.h"
#include "proto/status.h"

#define QFS_DEFAULT_TIMEOUT_MS 5000
#define QFS_HEDGE_MIN_MS 20

/* ---- shared helpers ---- */

uint64_t qfs_q_until(uint64_t ns, uint64_t deadline)
{
	uint64_t now = qfs_now_ns();

	return now + ns < deadline ? now + ns : deadline;
}

uint64_t qfs_q_hedge_ns(const struct qfs_quorum *q)
{
	uint64_t ms = q->timeout_ms / 5;

	if (ms < QFS_HEDGE_MIN_MS)
		ms = QFS_HEDGE_MIN_MS;
	return ms * 1000000ull;
}

/* Take a new HELLO of daemon @i into q->st[i]; under rb_lock. */
static void qfs_q_store_update(struct qfs_quorum *q, int i, const struct qfs_daemon_info *di)
{
	struct qfs_q_store *s = &q->st[i];
	const char *name = q->cl->daemons[i].name;
	bool was = s->rebuilding;

	if ((di->store_flags & PROTO_STORE_REBUILDING) ||
	    ((di->store_flags & PROTO_STORE_NOVOLUME) && q->volume_at_open)) {
		/* empty or being refilled; remember which store, to trust it
		 * once it is declared refilled (REBUILT) */
		s->rebuilding = true;
		s->seen_rb = true;
		memcpy(s->rb_id, di->store_id, PROTO_ID_LEN);
	} else if (!s->trusted || !memcmp(s->store_id, di->store_id, PROTO_ID_LEN) ||
		   (s->seen_rb && !memcmp(s->rb_id, di->store_id, PROTO_ID_LEN))) {
		s->trusted = true;
		memcpy(s->store_id, di->store_id, PROTO_ID_LEN);
		s->rebuilding = false;
	} else {
		/* a store we never saw empty replaced the one we counted: what it
		 * missed is unknown, so it counts in no quorum until a remount */
		if (!was)
			qlog_warn("daemon %s answers with another store than at mount and was "
				  "never seen rebuilding: not counted until remounted", name);
		s->rebuilding = true;
		return;
	}
	if (s->rebuilding && !was)
		qlog_warn("daemon %s has %s store: rebuilding, not counted in quorums", name,
			  (di->store_flags & PROTO_STORE_REBUILDING) ? "a rebuilding" : "an empty");
	else if (!s->rebuilding && was)
		qlog_info("daemon %s was rebuilt: counted in quorums again", name);
}

bool qfs_q_rebuilding(struct qfs_quorum *q, int i, const struct qfs_daemon_info *di)
{
	bool rb;

	if (!di->hello)
		return true; /* nothing known of its store yet */
	pthread_mutex_lock(&q->rb_lock);
	if (di->hellos != q->st[i].hellos) {
		q->st[i].hellos = di->hellos;
		qfs_q_store_update(q, i, di);
	}
	rb = q->st[i].rebuilding;
	pthread_mutex_unlock(&q->rb_lock);
	return rb;
}

int qfs_q_place(struct qfs_quorum *q, uint64_t token, struct qfs_replica *out, int *ncount,
		uint32_t *lver)
{
	const struct qfs_q_lay *l = atomic_load(&q->lay);
	int idx[QFS_Q_PLACE_MAX];
	struct qfs_replica tmp[QFS_Q_PLACE_MAX];
	int n, k = 0;

	/* one view for the whole placement: a layout switch in between must
	 * not mix the lists of two views */
	n = qfs_q_lay_union(l, token, idx);
	if (lver)
		*lver = qfs_q_lay_version(l);
	for (int i = 0; i < n; i++) {
		struct qfs_daemon_info di;

		q->t->ops->info(q->t, idx[i], &di);
		tmp[i].daemon = idx[i];
		tmp[i].suspect = di.suspect;
		/* refreshed at every HELLO: a daemon wiped and restarted while we
		 * are mounted is rebuilding as soon as it answers its probe */
		tmp[i].rebuilding = qfs_q_rebuilding(q, idx[i], &di);
	}
	/* stable three-pass order: healthy, suspect, rebuilding */
	for (int pass = 0; pass < 3; pass++) {
		for (int i = 0; i < n; i++) {
			int cls = tmp[i].rebuilding ? 2 : tmp[i].suspect ? 1 : 0;

			if (cls == pass)
				out[k++] = tmp[i];
		}
	}
	*ncount = 0;
	for (int i = 0; i < n; i++)
		if (!out[i].rebuilding)
			(*ncount)++;
	return n;
}

int qfs_q_fallbacks(struct qfs_quorum *q, uint64_t token, const struct qfs_replica *reps,
		    int n, struct qfs_replica *out, int max)
{
	const struct qfs_q_lay *l = atomic_load(&q->lay);
	int idx[QFS_MAX_DAEMONS], nall, usable = 0, k = 0;

	if (!q->hinted_handoff || l->pring)
		return 0;
	for (int i = 0; i < n; i++)
		usable += !reps[i].suspect && !reps[i].rebuilding;
	if (usable >= (int)q->w)
		return 0;
	if (max > (int)q->w - usable)
		max = (int)q->w - usable;
	/* the whole ring walk: its first N are the preference list (with zones
	 * maybe in another order), so skip every daemon that is in @reps */
	nall = qfs_ring_place(l->ring, token, idx, l->cl->ndaemons);
	for (int i = 0; i < nall && k < max; i++) {
		struct qfs_daemon_info di;
		int d = l->map[idx[i]];
		bool owner = false;

		for (int j = 0; j < n; j++)
			owner |= reps[j].daemon == d;
		if (owner)
			continue;
		q->t->ops->info(q->t, d, &di);
		if (!di.hello || di.suspect || qfs_q_rebuilding(q, d, &di))
			continue;
		out[k].daemon = d;
		out[k].suspect = false;
		out[k].rebuilding = false;
		k++;
	}
	return k;
}

bool qfs_q_read_only(const struct qfs_quorum *q, const struct qfs_replica *reps, int n)
{
	unsigned usable = 0;

	if (!q->degraded_read)
		return false;
	for (int i = 0; i < n; i++)
		usable += !reps[i].suspect && !reps[i].rebuilding;
	return usable < q->w;
}

void qfs_q_done_snapshot(struct qfs_call *c, bool *done, int *nrpc)
{
	pthread_mutex_lock(&c->lock);
	*nrpc = c->nrpc;
	for (int i = 0; i < c->nrpc; i++)
		done[i] = c->rpc[i].state == QFS_RPC_DONE;
	pthread_mutex_unlock(&c->lock);
}

int qfs_q_write_error(const struct qfs_quorum *q, struct qfs_call *c)
{
	bool nospc = false, skew = false;

	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->nrpc; i++) {
		const struct qfs_rpc *rpc = &c->rpc[i];

		if (rpc->state != QFS_RPC_DONE || rpc->err)
			continue;
		if (rpc->status == PROTO_ST_NOSPC)
			nospc = true;
		else if (rpc->status == PROTO_ST_SKEW)
			skew = true;
	}
	pthread_mutex_unlock(&c->lock);
	if (nospc)
		return -ENOSPC;
	if (skew)
		return -ETIME;
	/* degraded reads: the mount is read-only while W is out of reach */
	return q->degraded_read ? -EROFS : -EIO;
}

int qfs_q_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c)
		return c < 0 ? -1 : 1;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

void qfs_full_free(struct qfs_full *f)
{
	free(f->val);
	memset(f, 0, sizeof(*f));
}

int qfs_q_check_get(struct qfs_quorum *q, const struct qfs_rpc *rpc, struct proto_get_rep *rep)
{
	const uint8_t *p = rpc->rdata;
	size_t left = rpc->rdata_len;

	if (proto_decode_get_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, rep))
		return -EBADMSG;
	proto_hlc_observe(&q->clock, rep->meta.ver.hlc);
	if (rep->meta.flags & PROTO_REC_CORRUPT)
		return -EBADE;
	/* the decoder checked the sizes; the sums are ours to check */
	for (unsigned i = 0; i < rep->nsums; i++) {
		size_t bl = left < PROTO_BLOCK_SIZE ? left : PROTO_BLOCK_SIZE;

		if (proto_block_sum(p, bl) != rep->sums[i])
			return -EBADE;
		p += bl;
		left -= bl;
	}
	return 0;
}

int qfs_q_fetch_whole(struct qfs_quorum *q, const struct proto_key *key, int daemon,
		      uint64_t deadline, struct qfs_full *f)
{
	struct proto_get_req gq = { .key = *key, .offset = 0, .length = PROTO_GET_WHOLE };
	struct proto_get_rep rep;
	struct proto_wr w;
	struct qfs_call *c;
	struct qfs_rpc *rpc;
	int rc;

	memset(f, 0, sizeof(*f));
	rc = qfs_call_new(1, deadline, qfs_accept_reply, NULL, 0, &c);
	if (rc)
		return rc;
	proto_wr_init(&w);
	proto_encode_get_req(&w, &gq);
	rc = qfs_call_add(c, daemon, PROTO_OP_GET, true, &w, 0, 0);
	if (rc < 0)
		goto out_put;
	qfs_call_set_need(c, 1);
	q->t->ops->submit(q->t, c);
	qfs_call_wait(c, deadline, NULL, NULL);
	rpc = (struct qfs_rpc *)qfs_call_result(c, 0);
	if (!rpc) {
		rc = -ETIMEDOUT;
		goto out_put;
	}
	if (rpc->err) {
		rc = rpc->err;
		goto out_put;
	}
	if (rpc->status == PROTO_ST_NOENT) {
		rc = -ENOENT;
		goto out_put;
	}
	if (rpc->status == PROTO_ST_CORRUPT) {
		rc = -EBADE;
		goto out_put;
	}
	if (rpc->status != PROTO_ST_OK) {
		rc = -EIO;
		goto out_put;
	}
	rc = qfs_q_check_get(q, rpc, &rep);
	if (rc)
		goto out_put;
	if (rep.first_block != 0 || rpc->rdata_len != rep.meta.len ||
	    rep.nsums != proto_nblocks(rep.meta.len) ||
	    proto_sums_combine(rep.sums, rep.nsums) != rep.meta.sum) {
		rc = -EBADE;	/* not the whole record, or sums not its own */
		goto out_put;
	}
	f->meta = rep.meta;
	f->nsums = rep.nsums;
	memcpy(f->sums, rep.sums, rep.nsums * sizeof(rep.sums[0]));
	/* take the reply body over instead of copying it again */
	pthread_mutex_lock(&c->lock);
	f->val = rpc->rdata;
	rpc->rdata = NULL;
	rpc->rdata_len = 0;
	pthread_mutex_unlock(&c->lock);
	rc = 0;
out_put:
	qfs_call_put(c);
	return rc;
}

int qfs_q_put_call(const struct proto_meta *meta, const void *val, int cap, uint64_t deadline,
		   struct qfs_call **out)
{
	return qfs_call_new(cap, deadline, qfs_accept_ok, val, val ? meta->len : 0, out);
}

int qfs_q_put_add(struct qfs_call *c, const struct proto_key *key,
		  const struct proto_meta *meta, const uint64_t *sums, int daemon, bool counts)
{
	return qfs_q_put_add_flags(c, key, meta, sums, daemon, counts, 0);
}

int qfs_q_put_add_flags(struct qfs_call *c, const struct proto_key *key,
			const struct proto_meta *meta, const uint64_t *sums, int daemon,
			bool counts, uint32_t put_flags)
{
	struct proto_put_req pq;
	struct proto_wr w;

	memset(&pq, 0, sizeof(pq));
	pq.key = *key;
	pq.flags = put_flags;
	pq.meta = *meta;
	pq.meta.flags &= ~PROTO_REC_CORRUPT;
	pq.nsums = (uint16_t)proto_nblocks(meta->len);
	memcpy(pq.sums, sums, pq.nsums * sizeof(pq.sums[0]));
	proto_wr_init(&w);
	proto_encode_put_req(&w, &pq);
	return qfs_call_add(c, daemon, PROTO_OP_PUT, counts, &w, 0, c->data_len);
}

/* ---- open and close ---- */

static void qfs_q_msg(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void qfs_q_msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Append "; daemon NAME REASON" to @buf for every daemon that refuses us at
 * the security layer (CURVE key not listed, CURVE/plaintext mismatch), so
 * that an open that fails for that reason says so instead of "timeout".
 */
static void qfs_q_refusals(struct qfs_quorum *q, char *buf, size_t size)
{
	size_t len = strlen(buf);

	for (int i = 0; i < q->cl->ndaemons && len < size; i++) {
		struct qfs_daemon_info info;
		const char *why;
		int n;

		q->t->ops->info(q->t, i, &info);
		why = qfs_engine_refusal(&info);
		if (!why)
			continue;
		n = snprintf(buf + len, size - len, "; daemon %s %s", q->cl->daemons[i].name, why);
		if (n < 0)
			break;
		len += (size_t)n;
	}
}

int qfs_q_hello_call(struct qfs_quorum *q, int nd, uint64_t deadline, qfs_wake_fn wake,
		     void *arg, struct qfs_call **out)
{
	struct qfs_call *c;
	int rc;

	rc = qfs_call_new(nd, deadline, qfs_accept_ok, NULL, 0, &c);
	if (rc)
		return rc;
	for (int i = 0; i < nd; i++) {
		struct proto_hello_req hq = { .min_version = PROTO_VERSION,
					      .max_version = PROTO_VERSION };
		struct proto_wr w;

		hq.clock = proto_hlc_next(&q->clock, proto_wall_ms());
		proto_wr_init(&w);
		proto_encode_hello_req(&w, &hq);
		rc = qfs_call_add(c, i, PROTO_OP_HELLO, true, &w, 0, 0);
		if (rc < 0) {
			qfs_call_put(c);
			return rc;
		}
	}
	qfs_call_set_need(c, (unsigned)nd);
	q->t->ops->submit(q->t, c);
	qfs_call_wait(c, deadline, wake, arg);
	*out = c;
	return 0;
}

/*
 * HELLO every daemon within the deadline, absorb their clocks, refuse when
 * our wall clock is outside an answering daemon's skew bound, and learn
 * whether a volume exists. Returns 0, -ETIME, -EACCES (fewer than W answer
 * and some refused our CURVE key; the message names them) or -EIO. With
 * degraded reads one answering daemon is enough.
 */
static int qfs_q_hello_all(struct qfs_quorum *q, char *err, size_t errlen)
{
	int nd = q->cl->ndaemons, answered = 0, rc;
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	uint64_t sent_ms = proto_wall_ms();
	bool volume = false;
	struct qfs_call *c;

	rc = qfs_q_hello_call(q, nd, deadline, qfs_call_all_done, NULL, &c);
	if (rc)
		return rc;
	rc = 0;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->nrpc && !rc; i++) {
		const struct qfs_rpc *rpc = &c->rpc[i];
		const char *name = q->cl->daemons[rpc->daemon].name;
		struct proto_hello_rep hr;
		uint64_t now_ms = proto_wall_ms(), theirs, slack;

		if (rpc->state != QFS_RPC_DONE || !rpc->accepted) {
			qlog_warn("daemon %s did not answer hello: %s", name,
				  rpc->state != QFS_RPC_DONE ? "timeout"
				  : rpc->err ? strerror(-rpc->err)
					     : proto_st_name(rpc->status));
			continue;
		}
		if (proto_decode_hello_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &hr)) {
			qlog_warn("daemon %s: malformed hello reply", name);
			continue;
		}
		theirs = PROTO_HLC_MS(hr.clock);
		/* the reply may be as old as the round trip */
		slack = hr.max_skew_ms + (now_ms - sent_ms);
		if (theirs > now_ms + slack || now_ms > theirs + slack) {
			qfs_q_msg(err, errlen,
				  "clock skew: daemon %s clock is %" PRIu64 " ms, ours is %" PRIu64
				  " ms (differ by more than its bound of %" PRIu32 " ms); fix NTP",
				  name, theirs, now_ms, hr.max_skew_ms);
			rc = -ETIME;
			break;
		}
		proto_hlc_observe(&q->clock, hr.clock);
		if (!(hr.store_flags & PROTO_STORE_NOVOLUME))
			volume = true;
		answered++;
	}
	pthread_mutex_unlock(&c->lock);
	if (rc)
		goto out_put;
	/* degraded reads can serve a mount from a single daemon */
	if ((unsigned)answered < (q->degraded_read ? 1 : q->w)) {
		char why[768] = "";

		qfs_q_refusals(q, why, sizeof(why));
		qfs_q_msg(err, errlen, "only %d of %d daemons answered hello (write quorum %u)%s",
			  answered, nd, q->w, why);
		rc = why[0] ? -EACCES : -EIO;
		goto out_put;
	}
	if (answered < nd)
		qlog_warn("%d of %d daemons answered hello%s", answered, nd,
			  (unsigned)answered < q->w ? ": degraded, read-only until W answer" : "");
	/* before the volume exists (mkfs) an empty store is not rebuilding */
	q->volume_at_open = volume;
	for (int i = 0; i < nd; i++) {
		struct qfs_daemon_info di;

		q->t->ops->info(q->t, i, &di);
		qfs_q_rebuilding(q, i, &di); /* takes the open's HELLO (and logs) */
	}
	atomic_store(&q->have_volume, volume);
out_put:
	qfs_call_put(c);
	return rc;
}

/* Read the superblock; 0, -ENOENT (none), or another errno. */
static int qfs_q_read_super(struct qfs_quorum *q)
{
	struct proto_key k;
	struct qfs_rec rec;
	struct proto_super sb;
	int rc;

	proto_key_super(&k);
	rc = qfs_quorum_get(q, &k, 0, PROTO_GET_WHOLE, &rec);
	if (rc)
		return rc;
	if (rec.meta.flags & PROTO_REC_TOMBSTONE)
		rc = -ENOENT;
	else
		rc = proto_super_decode(rec.val, rec.val_len, &sb);
	qfs_rec_free(&rec);
	if (rc)
		return rc;
	pthread_mutex_lock(&q->sb_lock);
	q->sb = sb;
	q->have_sb = true;
	pthread_mutex_unlock(&q->sb_lock);
	atomic_store(&q->have_volume, true);
	return 0;
}

int qfs_quorum_open_transport(const struct qfs_cluster *cl, const struct qfs_quorum_opts *opts,
			      struct qfs_transport *t, struct qfs_quorum **out, char *err,
			      size_t errlen)
{
	struct qfs_quorum_opts none = { 0 };
	struct qfs_quorum *q;
	int rc;

	if (!opts)
		opts = &none;
	q = calloc(1, sizeof(*q));
	if (!q) {
		t->ops->close(t);
		return -ENOMEM;
	}
	q->t = t;
	pthread_mutex_init(&q->sb_lock, NULL);
	pthread_mutex_init(&q->rb_lock, NULL);
	pthread_mutex_init(&q->boot_lock, NULL);
	pthread_mutex_init(&q->lay_lock, NULL);
	pthread_mutex_init(&q->lay_refresh_lock, NULL);
	for (int i = 0; i < QFS_MAX_DAEMONS; i++)
		q->st[i].hellos = ~0ull;
	proto_hlc_init(&q->clock);
	atomic_init(&q->have_volume, false);
	q->cl = malloc(sizeof(*q->cl));
	if (!q->cl) {
		rc = -ENOMEM;
		goto out_close;
	}
	memcpy(q->cl, cl, sizeof(*cl));
	q->n = cl->n;
	q->w = opts->w ? opts->w : cl->w;
	q->r = opts->r ? opts->r : cl->r;
	q->timeout_ms = opts->timeout_ms ? opts->timeout_ms
			: cl->timeout_ms ? cl->timeout_ms : QFS_DEFAULT_TIMEOUT_MS;
	q->degraded_read = opts->degraded_read;
	q->hinted_handoff = opts->hinted_handoff;
	q->tomb_grace_ms = (uint64_t)(opts->tomb_grace_s ? opts->tomb_grace_s
					: QFS_TOMB_GRACE_DEFAULT_S) * 1000;
	if (q->n < 1 || q->n > QFS_MAX_REPLICAS || (int)q->n > cl->ndaemons || q->w < 1 ||
	    q->w > q->n || q->r < 1 || q->r > q->n || t->ndaemons != cl->ndaemons) {
		qfs_q_msg(err, errlen, "%s: bad quorums: N=%u W=%u R=%u with %d daemons",
			  cl->path, q->n, q->w, q->r, cl->ndaemons);
		rc = -EINVAL;
		goto out_close;
	}
	if (q->r + q->w <= q->n)
		qlog_warn("R + W <= N (%u + %u <= %u): reads may miss the latest write", q->r,
			  q->w, q->n);
	if (getrandom(&q->writer, sizeof(q->writer), 0) != sizeof(q->writer)) {
		rc = -errno;
		qfs_q_msg(err, errlen, "getrandom: %s", strerror(errno));
		goto out_close;
	}
	if (!q->writer)
		q->writer = 1;
	rc = qfs_q_lay_init(q, err, errlen);
	if (rc)
		goto out_close;
	rc = qfs_q_hello_all(q, err, errlen);
	if (rc)
		goto out_close;
	/* a daemon may hold a newer layout than the config: it places keys.
	 * Again while it names daemons we did not ask (they may hold newer). */
	for (int i = 0; i < 4; i++) {
		const struct qfs_q_lay *was = atomic_load(&q->lay);

		err[0] = '\0';
		rc = qfs_q_lay_refresh(q, true, err, errlen);
		if (rc) {
			if (!err[0])
				qfs_q_msg(err, errlen, "cannot fetch the cluster layout: %s",
					  strerror(-rc));
			goto out_close;
		}
		if (atomic_load(&q->lay) == was)
			break;
	}
	rc = qfs_q_lay_watch_start(q);
	if (rc) {
		qfs_q_msg(err, errlen, "cannot start the layout thread: %s", strerror(-rc));
		goto out_close;
	}
	for (int i = 0; i < cl->ndaemons; i++) {
		struct qfs_daemon_info di;

		t->ops->info(t, i, &di);
		q->boot_seen[i] = di.hello ? di.boot : 0;
	}
	rc = qfs_q_read_super(q);
	if (rc && opts->need_volume) {
		if (rc == -ENOENT)
			qfs_q_msg(err, errlen, "no superblock: run mkfs.quorumfs first");
		else
			qfs_q_msg(err, errlen, "cannot read the superblock: %s", strerror(-rc));
		goto out_close;
	}
	rc = qfs_pend_start(q);
	if (rc) {
		qfs_q_msg(err, errlen, "cannot start the pending-repair thread: %s",
			  strerror(-rc));
		goto out_close;
	}
	rc = qfs_repairer_start(q, opts->repair_rate);
	if (rc) {
		qfs_q_msg(err, errlen, "cannot start the background repairer: %s",
			  strerror(-rc));
		goto out_close;
	}
	*out = q;
	return 0;

out_close:
	qfs_quorum_close(q);
	return rc;
}

int qfs_quorum_open(const struct qfs_cluster *cl, const struct qfs_quorum_opts *opts,
		    struct qfs_quorum **out, char *err, size_t errlen)
{
	struct qfs_transport *t;
	int rc;

	rc = qfs_engine_open(cl, &t, err, errlen);
	if (rc)
		return rc;
	return qfs_quorum_open_transport(cl, opts, t, out, err, errlen);
}

void qfs_quorum_close(struct qfs_quorum *q)
{
	if (!q)
		return;
	qfs_repairer_stop(q);
	qfs_q_lay_watch_stop(q);
	qfs_pend_stop(q); /* sends what writes left to report */
	if (q->t)
		q->t->ops->close(q->t);
	qfs_pend_free(q);
	qfs_q_lay_free(q);
	free(q->cl);
	pthread_mutex_destroy(&q->sb_lock);
	pthread_mutex_destroy(&q->rb_lock);
	pthread_mutex_destroy(&q->boot_lock);
	pthread_mutex_destroy(&q->lay_lock);
	pthread_mutex_destroy(&q->lay_refresh_lock);
	free(q);
}

struct proto_version qfs_quorum_version(struct qfs_quorum *q)
{
	struct proto_version v;

	v.hlc = proto_hlc_next(&q->clock, proto_wall_ms());
	v.writer = q->writer;
	return v;
}

int qfs_quorum_super(struct qfs_quorum *q, struct proto_super *sb)
{
	int rc = -ENOENT;

	pthread_mutex_lock(&q->sb_lock);
	if (q->have_sb) {
		*sb = q->sb;
		rc = 0;
	}
	pthread_mutex_unlock(&q->sb_lock);
	return rc;
}

void qfs_q_super_written(struct qfs_quorum *q, const void *val, uint32_t len)
{
	struct proto_super sb;

	if (proto_super_decode(val, len, &sb))
		return;
	pthread_mutex_lock(&q->sb_lock);
	q->sb = sb;
	q->have_sb = true;
	pthread_mutex_unlock(&q->sb_lock);
	atomic_store(&q->have_volume, true);
}

/* ---- cluster-wide operations ---- */

/* One call with @op (empty ARGS) to every daemon that is not suspect. */
static int qfs_q_to_all(struct qfs_quorum *q, uint8_t op, uint64_t deadline,
			struct qfs_call **out)
{
	int nd = q->cl->ndaemons, rc, k = 0;
	struct qfs_call *c;

	rc = qfs_call_new(nd, deadline, qfs_accept_ok, NULL, 0, &c);
	if (rc)
		return rc;
	for (int i = 0; i < nd; i++) {
		struct qfs_daemon_info di;
		struct proto_wr w;

		q->t->ops->info(q->t, i, &di);
		if (di.suspect)
			continue;
		proto_wr_init(&w);	/* SYNC and STAT have empty ARGS */
		rc = qfs_call_add(c, i, op, true, &w, 0, 0);
		if (rc < 0) {
			qfs_call_put(c);
			return rc;
		}
		k++;
	}
	if (!k) {
		qfs_call_put(c);
		return -EIO;
	}
	qfs_call_set_need(c, (unsigned)k);
	q->t->ops->submit(q->t, c);
	qfs_call_wait(c, deadline, qfs_call_all_done, NULL);
	*out = c;
	return 0;
}

/*
 * Take the boot verifiers of SYNC call @c (c->lock held): a daemon that
 * answered with another verifier restarted; one that answered the last
 * SYNC and not this one may restart unseen. Either bumps q->boot_epoch.
 */
static void qfs_q_boots_seen(struct qfs_quorum *q, const struct qfs_call *c)
{
	uint64_t boot[QFS_MAX_DAEMONS] = { 0 };

	for (int i = 0; i < c->nrpc; i++) {
		const struct qfs_rpc *rpc = &c->rpc[i];
		struct proto_sync_rep sr;

		if (rpc->accepted &&
		    !proto_decode_sync_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &sr) &&
		    sr.boot)
			boot[rpc->daemon] = sr.boot;
	}
	pthread_mutex_lock(&q->boot_lock);
	for (int d = 0; d < q->cl->ndaemons; d++) {
		if (!boot[d]) {
			if (!q->boot_down[d])
				q->boot_epoch++;
			q->boot_down[d] = true;
			continue;
		}
		if (q->boot_seen[d] && q->boot_seen[d] != boot[d]) {
			qlog_info("sync: daemon %s restarted since the last sync (boot %016" PRIx64
				  "): unsynced writes to it are re-checked", q->cl->daemons[d].name,
				  boot[d]);
			q->boot_epoch++;
		}
		q->boot_seen[d] = boot[d];
		q->boot_down[d] = false;
	}
	pthread_mutex_unlock(&q->boot_lock);
}

int qfs_quorum_sync_all(struct qfs_quorum *q)
{
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	unsigned lost = 0, failed = 0;
	struct qfs_call *c;
	int rc;

	rc = qfs_q_to_all(q, PROTO_OP_SYNC, deadline, &c);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->nrpc; i++) {
		const struct qfs_rpc *rpc = &c->rpc[i];

		if (rpc->accepted)
			continue;
		/* no answer: down or cut off, as if it had been suspect already */
		if (rpc->state != QFS_RPC_DONE || rpc->err == -ETIMEDOUT ||
		    rpc->err == -EHOSTDOWN)
			lost++;
		else
			failed++;
		qlog_warn("sync %s: %s", q->cl->daemons[rpc->daemon].name,
			  rpc->state != QFS_RPC_DONE ? "timeout"
			  : rpc->err ? strerror(-rpc->err)
				     : proto_st_name(rpc->status));
	}
	rc = !failed && (!lost || c->naccepted >= q->w) ? 0 : -EIO;
	qfs_q_boots_seen(q, c);
	pthread_mutex_unlock(&c->lock);
	qfs_call_put(c);
	return rc;
}

uint64_t qfs_quorum_boot_epoch(struct qfs_quorum *q)
{
	uint64_t e;

	pthread_mutex_lock(&q->boot_lock);
	e = q->boot_epoch;
	pthread_mutex_unlock(&q->boot_lock);
	return e;
}

int qfs_quorum_space(struct qfs_quorum *q, struct qfs_space *sp)
{
	uint64_t deadline = qfs_deadline_ms(q->timeout_ms);
	uint64_t fsids[QFS_MAX_DAEMONS];
	uint64_t total = 0, free_b = 0, used = 0, records = 0;
	int nfs = 0, answered = 0, rc;
	struct qfs_call *c;

	rc = qfs_q_to_all(q, PROTO_OP_STAT, deadline, &c);
	if (rc)
		return rc;
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->nrpc; i++) {
		const struct qfs_rpc *rpc = &c->rpc[i];
		struct proto_stat_rep st;
		uint64_t avail;
		bool seen = false;

		if (!rpc->accepted ||
		    proto_decode_stat_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &st))
			continue;
		answered++;
		records += st.records;
		used += st.used;	/* each store's own bytes, wherever it lives */
		/* daemons sharing a filesystem share its free space: count it once */
		for (int j = 0; j < nfs; j++)
			seen |= fsids[j] == st.fs_id;
		if (seen)
			continue;
		fsids[nfs++] = st.fs_id;
		avail = st.capacity > st.used ? st.capacity - st.used : 0;
		if (avail > st.fs_free)
			avail = st.fs_free;
		total += st.capacity;
		free_b += avail;
	}
	pthread_mutex_unlock(&c->lock);
	qfs_call_put(c);
	if (!answered)
		return -EIO;
	sp->total = total / q->n;
	sp->free = free_b / q->n;
	sp->used = used / q->n;
	sp->records = records / q->n;
	return 0;
}

uint64_t qfs_quorum_writes(struct qfs_quorum *q)
{
	return atomic_load(&q->writes_done);
}
