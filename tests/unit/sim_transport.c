// SPDX-License-Identifier: MIT
/*
 * sim_transport.c - the simulated cluster behind the quorum unit tests.
 *
 * One simulator thread serves a time-ordered event list: an RPC is applied
 * to its replica's store and answered when its delay has passed, or failed
 * with -ETIMEDOUT at its call's deadline when the replica drops requests.
 * s->lock protects every replica (stores and knobs) and the event list; it
 * is never held while completing a call (qfs_call_complete takes the call's
 * lock, and waiters may call back into sim_* from other threads).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/config.h"
#include "proto/layout.h"
#include "proto/status.h"
#include "tests/unit/sim_transport.h"

struct sim_rec {
	uint8_t k[PROTO_KEY_MAX];
	size_t klen;
	struct proto_key key;
	struct proto_meta meta;
	uint8_t *val;
	bool corrupt;
};

struct sim_replica {
	struct sim_rec *recs; /* sorted by encoded key */
	int nrecs, cap;
	unsigned delay_ms;
	bool drop, dead, nospc;
	uint32_t flags;
	uint8_t store_gen;  /* second byte of the store id: a new store */
	uint64_t hellos;    /* bumped when flags or store id change ("a new HELLO") */
	int64_t skew_ms;
	uint32_t page_max;
	uint32_t lver;	    /* layout version it checks requests against and
			     * puts in reply headers (0: none) */
	unsigned stale;	    /* requests refused with STALE_LAYOUT */
	unsigned counts[PROTO_OP_MAX];
};

struct sim_ev {
	uint64_t due;
	struct qfs_call *call; /* reference */
	int idx;
	bool drop;
	struct sim_ev *next;
};

struct sim {
	struct qfs_transport t; /* first */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t tid;
	bool stop, closed;
	bool firing;	    /* the sim thread is completing an event, unlocked */
	struct sim_ev *evs; /* sorted by due */
	int n;
	struct sim_replica *r;
	uint8_t *layout;    /* encoded layout record every replica hands out */
	size_t layout_len;
	uint64_t layout_ver; /* its version, reported in HELLO */
};

/* ---- the stores ---- */

static int sim_keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

/* Index of @k or of where it would go (*found tells). */
static int sim_find(struct sim_replica *r, const uint8_t *k, size_t kl, bool *found)
{
	int lo = 0, hi = r->nrecs;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		int c = sim_keycmp(r->recs[mid].k, r->recs[mid].klen, k, kl);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct sim_rec *sim_lookup(struct sim_replica *r, const struct proto_key *key)
{
	uint8_t k[PROTO_KEY_MAX];
	size_t kl = proto_key_encode(key, k);
	bool found;
	int i = sim_find(r, k, kl, &found);

	return found ? &r->recs[i] : NULL;
}

/* Store (replace) @key's record with a copy of @val. */
static int sim_store(struct sim_replica *r, const struct proto_key *key,
		     const struct proto_meta *meta, const void *val)
{
	uint8_t k[PROTO_KEY_MAX];
	size_t kl = proto_key_encode(key, k);
	uint8_t *copy = NULL;
	bool found;
	int i = sim_find(r, k, kl, &found);

	if (meta->len) {
		copy = malloc(meta->len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, val, meta->len);
	}
	if (!found) {
		if (r->nrecs == r->cap) {
			int cap = r->cap ? 2 * r->cap : 64;
			struct sim_rec *n = realloc(r->recs, (size_t)cap * sizeof(*n));

			if (!n) {
				free(copy);
				return -ENOMEM;
			}
			r->recs = n;
			r->cap = cap;
		}
		memmove(&r->recs[i + 1], &r->recs[i], (size_t)(r->nrecs - i) * sizeof(r->recs[0]));
		r->nrecs++;
		memset(&r->recs[i], 0, sizeof(r->recs[i]));
		memcpy(r->recs[i].k, k, kl);
		r->recs[i].klen = kl;
		r->recs[i].key = *key;
	} else {
		free(r->recs[i].val);
	}
	r->recs[i].meta = *meta;
	r->recs[i].meta.flags &= ~PROTO_REC_CORRUPT;
	r->recs[i].val = copy;
	return 0;
}

/* ---- request handlers: fill status, args and data ---- */

struct sim_reply {
	uint16_t st;
	struct proto_wr args;
	uint8_t *data; /* malloc'ed or NULL */
	size_t dlen;
};

static uint64_t sim_boot(int i)
{
	return 1000 + (uint64_t)i;
}

static void sim_hello(struct sim *s, int i, const struct qfs_rpc *rpc, struct sim_reply *rep)
{
	struct sim_replica *r = &s->r[i];
	struct proto_hello_req hq;
	struct proto_hello_rep hr;

	if (proto_decode_hello_req(rpc->args, rpc->args_len, rpc->data_len, &hq)) {
		rep->st = PROTO_ST_BADMSG;
		return;
	}
	memset(&hr, 0, sizeof(hr));
	hr.version = PROTO_VERSION;
	strcpy(hr.name, "sim");
	hr.store_id[0] = (uint8_t)(i + 1);
	hr.store_id[1] = r->store_gen;
	hr.clock = PROTO_HLC_MAKE((uint64_t)((int64_t)proto_wall_ms() + r->skew_ms), 0);
	hr.boot = sim_boot(i);
	hr.store_flags = r->flags;
	hr.max_skew_ms = 5000;
	hr.chunk_max = PROTO_CHUNK_MAX;
	hr.block_size = PROTO_BLOCK_SIZE;
	hr.layout_version = s->layout_ver;
	proto_encode_hello_rep(&rep->args, &hr);
}

/* LAYOUT_GET: the record set by sim_set_layout, or NOENT. */
static void sim_layout_get(struct sim *s, struct sim_reply *rep)
{
	if (!s->layout) {
		rep->st = PROTO_ST_NOENT;
		return;
	}
	proto_put_bytes(&rep->args, s->layout, s->layout_len);
}

/* As chunkd's chk_layout_stale: a routed request below the replica's version. */
static bool sim_layout_stale(const struct sim_replica *r, uint8_t op, uint32_t layout)
{
	if (!layout || op == PROTO_OP_HELLO || op == PROTO_OP_SYNC || op == PROTO_OP_STAT ||
	    op == PROTO_OP_LAYOUT_GET || op == PROTO_OP_LAYOUT_SET)
		return false;
	return layout < r->lver;
}

static void sim_put_req(struct sim *s, int i, const struct qfs_rpc *rpc, struct sim_reply *rep)
{
	struct sim_replica *r = &s->r[i];
	struct proto_put_req *pq;
	struct proto_rec a, b, out;
	struct proto_write_rep wr = { .boot = sim_boot(i) };
	struct proto_wr buf;
	struct sim_rec *old;
	uint64_t sums[PROTO_CHUNK_BLOCKS];

	pq = malloc(sizeof(*pq));
	if (!pq) {
		rep->st = PROTO_ST_NOMEM;
		return;
	}
	if (proto_decode_put_req(rpc->args, rpc->args_len, rpc->data_len, pq)) {
		rep->st = PROTO_ST_BADMSG;
		goto out;
	}
	if (proto_value_sums(rpc->data, pq->meta.len, sums) != pq->meta.sum) {
		rep->st = PROTO_ST_CORRUPT;
		goto out;
	}
	if (r->nospc && !(pq->meta.flags & PROTO_REC_TOMBSTONE)) {
		rep->st = PROTO_ST_NOSPC;
		goto out;
	}
	b.meta = pq->meta;
	b.val = rpc->data;
	old = sim_lookup(r, &pq->key);
	out = b;
	proto_wr_init(&buf);
	if (old && !old->corrupt) {
		a.meta = old->meta;
		a.val = old->val;
		proto_merge(pq->key.kind, &a, &b, &out, &buf);
	}
	/* copy before storing: out may point into the record being replaced */
	{
		struct proto_meta m = out.meta;
		uint8_t *v = NULL;

		if (m.len) {
			v = malloc(m.len);
			memcpy(v, out.val, m.len);
		}
		sim_store(r, &pq->key, &m, v);
		free(v);
		old = sim_lookup(r, &pq->key);
		old->corrupt = false;
		wr.stored = m.ver;
		wr.flags = m.flags;
	}
	proto_wr_free(&buf);
	proto_encode_write_rep(&rep->args, &wr);
out:
	free(pq);
}

static void sim_get_req(struct sim *s, int i, const struct qfs_rpc *rpc, struct sim_reply *rep)
{
	struct sim_replica *r = &s->r[i];
	struct proto_get_req gq;
	struct proto_get_rep *gr;
	struct sim_rec *rec;
	uint64_t end, first, last;
	uint32_t len;

	if (proto_decode_get_req(rpc->args, rpc->args_len, rpc->data_len, &gq)) {
		rep->st = PROTO_ST_BADMSG;
		return;
	}
	rec = sim_lookup(r, &gq.key);
	if (!rec) {
		rep->st = PROTO_ST_NOENT;
		return;
	}
	if (rec->corrupt) {
		rep->st = PROTO_ST_CORRUPT;
		return;
	}
	gr = calloc(1, sizeof(*gr));
	if (!gr) {
		rep->st = PROTO_ST_NOMEM;
		return;
	}
	gr->meta = rec->meta;
	len = rec->meta.len;
	if (gq.key.kind != PROTO_KIND_CHUNK) {
		gq.offset = 0;
		gq.length = PROTO_GET_WHOLE;
	}
	end = gq.length == PROTO_GET_WHOLE ? len : (uint64_t)gq.offset + gq.length;
	if (end > len)
		end = len;
	first = gq.offset / PROTO_BLOCK_SIZE;
	if (first > proto_nblocks(len))
		first = proto_nblocks(len);
	last = end > gq.offset ? (end + PROTO_BLOCK_SIZE - 1) / PROTO_BLOCK_SIZE : first;
	gr->first_block = (uint16_t)first;
	gr->nsums = (uint16_t)(last - first);
	if (gr->nsums) {
		uint64_t lo = first * PROTO_BLOCK_SIZE, hi = last * PROTO_BLOCK_SIZE;

		if (hi > len)
			hi = len;
		for (uint64_t b = first; b < last; b++) {
			uint64_t bl = b * PROTO_BLOCK_SIZE, bh = bl + PROTO_BLOCK_SIZE;

			if (bh > len)
				bh = len;
			gr->sums[b - first] = proto_block_sum(rec->val + bl, bh - bl);
		}
		rep->dlen = hi - lo;
		rep->data = malloc(rep->dlen);
		memcpy(rep->data, rec->val + lo, rep->dlen);
	}
	proto_encode_get_rep(&rep->args, gr);
	free(gr);
}

static void sim_head_req(struct sim *s, int i, const struct qfs_rpc *rpc, struct sim_reply *rep)
{
	struct proto_head_req hq;
	struct sim_rec *rec;
	struct proto_meta m;

	if (proto_decode_head_req(rpc->args, rpc->args_len, rpc->data_len, &hq)) {
		rep->st = PROTO_ST_BADMSG;
		return;
	}
	rec = sim_lookup(&s->r[i], &hq.key);
	if (!rec) {
		rep->st = PROTO_ST_NOENT;
		return;
	}
	m = rec->meta;
	if (rec->corrupt)
		m.flags |= PROTO_REC_CORRUPT;
	proto_encode_head_rep(&rep->args, &m);
}

static void sim_patch_req(struct sim *s, int i, const struct qfs_rpc *rpc, struct sim_reply *rep)
{
	struct sim_replica *r = &s->r[i];
	struct proto_write_rep wr = { .boot = sim_boot(i) };
	struct proto_version stored = { 0, 0 };
	struct proto_patch_req pq;
	struct sim_rec *rec;
	bool absent;

	if (proto_decode_patch_req(rpc->args, rpc->args_len, rpc->data_len, &pq)) {
		rep->st = PROTO_ST_BADMSG;
		return;
	}
	if (proto_block_sum(rpc->data, rpc->data_len) != pq.sum) {
		rep->st = PROTO_ST_CORRUPT;
		return;
	}
	rec = sim_lookup(r, &pq.key);
	absent = !rec || (rec->meta.flags & PROTO_REC_TOMBSTONE);
	if (rec)
		stored = rec->meta.ver;
	if (rec && proto_version_cmp(&stored, &pq.ver) == 0) {
		wr.stored = stored;	/* already applied: a retry */
	} else if ((proto_version_is_zero(&pq.base) && absent) ||
		   (rec && !absent && proto_version_cmp(&stored, &pq.base) == 0)) {
		uint32_t oldlen = absent ? 0 : rec->meta.len;
		uint32_t nlen = pq.offset + (uint32_t)rpc->data_len;
		struct proto_meta m = { .ver = pq.ver, .epoch = pq.epoch };
		uint64_t sums[PROTO_CHUNK_BLOCKS];
		uint8_t *v;

		if (r->nospc) {
			rep->st = PROTO_ST_NOSPC;
			return;
		}
		if (nlen < oldlen)
			nlen = oldlen;
		v = calloc(1, nlen);
		if (oldlen)
			memcpy(v, rec->val, oldlen);
		memcpy(v + pq.offset, rpc->data, rpc->data_len);
		m.len = nlen;
		m.sum = proto_value_sums(v, nlen, sums);
		sim_store(r, &pq.key, &m, v);
		free(v);
		wr.stored = pq.ver;
	} else {
		rep->st = PROTO_ST_CONFLICT;
		wr.stored = stored;
	}
	proto_encode_write_rep(&rep->args, &wr);
}

static void sim_list_req(struct sim *s, int i, const struct qfs_rpc *rpc, struct sim_reply *rep)
{
	struct sim_replica *r = &s->r[i];
	struct proto_list_req lq;
	uint8_t lo[9], hi[9];
	uint32_t max, n = 0;
	int first = -1, count = 0;
	bool more = false;

	if (proto_decode_list_req(rpc->args, rpc->args_len, rpc->data_len, &lq)) {
		rep->st = PROTO_ST_BADMSG;
		return;
	}
	max = lq.max;
	if (r->page_max && r->page_max < max)
		max = r->page_max;
	proto_partition_bounds(lq.ino, lo, hi);
	/* first pass: which entries, and whether more follow */
	for (int k = 0; k < r->nrecs; k++) {
		struct sim_rec *rec = &r->recs[k];
		int c;

		if (sim_keycmp(rec->k, rec->klen, lo, 9) < 0 ||
		    sim_keycmp(rec->k, rec->klen, hi, 9) >= 0)
			continue;
		if (lq.kind && rec->key.kind != lq.kind)
			continue;
		if (lq.start_len) {
			c = sim_keycmp(rec->k, rec->klen, lq.start, lq.start_len);
			if (c < 0 || (c == 0 && (lq.flags & PROTO_LIST_AFTER)))
				continue;
		}
		if (n == max) {
			more = true;
			break;
		}
		if (first < 0)
			first = k;
		count = k - first + 1;
		n++;
	}
	proto_encode_page_head(&rep->args, more);
	for (int k = first; first >= 0 && k < first + count; k++) {
		struct sim_rec *rec = &r->recs[k];
		struct proto_entry e = { .key = rec->key, .meta = rec->meta, .val = rec->val };

		if (lq.kind && rec->key.kind != lq.kind)
			continue;
		proto_encode_entry(&rep->args, &e, true);
	}
}

static void sim_stat_req(struct sim *s, int i, struct sim_reply *rep)
{
	struct proto_stat_rep st;

	memset(&st, 0, sizeof(st));
	st.capacity = 1000;
	st.used = 100;
	st.fs_free = 900;
	st.records = (uint64_t)s->r[i].nrecs;
	st.fs_id = (uint64_t)i + 1;
	strcpy(st.software, "sim");
	proto_encode_stat_rep(&rep->args, &st);
}

/* Apply one RPC (of a call placed by layout @layout) to replica @i; s->lock held. */
static void sim_serve(struct sim *s, int i, const struct qfs_rpc *rpc, uint32_t layout,
		      struct sim_reply *rep)
{
	if (sim_layout_stale(&s->r[i], rpc->op, layout)) {
		s->r[i].stale++;
		rep->st = PROTO_ST_STALE_LAYOUT;
		return;
	}
	switch (rpc->op) {
	case PROTO_OP_HELLO:
		sim_hello(s, i, rpc, rep);
		break;
	case PROTO_OP_SYNC: {
		struct proto_sync_rep sr = { .boot = sim_boot(i) };

		proto_encode_sync_rep(&rep->args, &sr);
		break;
	}
	case PROTO_OP_PUT:
		sim_put_req(s, i, rpc, rep);
		break;
	case PROTO_OP_GET:
		sim_get_req(s, i, rpc, rep);
		break;
	case PROTO_OP_HEAD:
		sim_head_req(s, i, rpc, rep);
		break;
	case PROTO_OP_PATCH:
		sim_patch_req(s, i, rpc, rep);
		break;
	case PROTO_OP_LIST:
		sim_list_req(s, i, rpc, rep);
		break;
	case PROTO_OP_STAT:
		sim_stat_req(s, i, rep);
		break;
	case PROTO_OP_LAYOUT_GET:
		sim_layout_get(s, rep);
		break;
	default:
		rep->st = PROTO_ST_BADOP;
		break;
	}
	if (rep->st != PROTO_ST_OK && rep->st != PROTO_ST_CONFLICT) {
		/* error replies carry no args */
		rep->args.len = 0;
		free(rep->data);
		rep->data = NULL;
		rep->dlen = 0;
	}
}

/* ---- the simulator thread ---- */

static void sim_fire(struct sim *s, struct sim_ev *ev)
{
	const struct qfs_rpc *rpc = &ev->call->rpc[ev->idx]; /* request: immutable */
	struct sim_reply rep = { .st = PROTO_ST_OK };

	if (ev->drop) {
		qfs_call_complete(ev->call, ev->idx, -ETIMEDOUT, 0, NULL, 0, NULL, 0);
		return;
	}
	uint32_t lver;

	proto_wr_init(&rep.args);
	pthread_mutex_lock(&s->lock);
	sim_serve(s, rpc->daemon, rpc, ev->call->layout, &rep);
	lver = s->r[rpc->daemon].lver;
	pthread_mutex_unlock(&s->lock);
	/* as the engine: the reply header's layout before the completion */
	qfs_transport_layout_seen(&s->t, lver);
	qfs_call_complete(ev->call, ev->idx, 0, rep.st, rep.args.buf, rep.args.len, rep.data,
			  rep.dlen);
	proto_wr_free(&rep.args);
	free(rep.data);
}

static void *sim_main(void *arg)
{
	struct sim *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct sim_ev *ev = s->evs;
		uint64_t now = qfs_now_ns();

		if (!ev) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		if (ev->due > now) {
			struct timespec ts = { .tv_sec = (time_t)(ev->due / 1000000000ull),
					       .tv_nsec = (long)(ev->due % 1000000000ull) };

			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
			continue;
		}
		s->evs = ev->next;
		s->firing = true;
		pthread_mutex_unlock(&s->lock);
		sim_fire(s, ev);
		qfs_call_put(ev->call);
		free(ev);
		pthread_mutex_lock(&s->lock);
		s->firing = false;
		pthread_cond_broadcast(&s->cond);
	}
	/* stopping: what is left fails as a shut down transport would */
	while (s->evs) {
		struct sim_ev *ev = s->evs;

		s->evs = ev->next;
		pthread_mutex_unlock(&s->lock);
		qfs_call_complete(ev->call, ev->idx, -ESHUTDOWN, 0, NULL, 0, NULL, 0);
		qfs_call_put(ev->call);
		free(ev);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- transport ops ---- */

static int sim_submit(struct qfs_transport *t, struct qfs_call *c)
{
	struct sim *s = (struct sim *)t;

	for (int i = 0;; i++) {
		struct sim_ev *ev, **p;
		int d;
		bool take, dead, closed;

		pthread_mutex_lock(&c->lock);
		if (i >= c->nrpc) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		take = c->rpc[i].state == QFS_RPC_NEW;
		if (take)
			c->rpc[i].state = QFS_RPC_SENT;
		d = c->rpc[i].daemon;
		pthread_mutex_unlock(&c->lock);
		if (!take)
			continue;

		pthread_mutex_lock(&s->lock);
		closed = s->closed;
		dead = d < 0 || d >= s->n || s->r[d].dead;
		if (!closed && !dead)
			s->r[d].counts[c->rpc[i].op]++;
		if (closed || dead) {
			pthread_mutex_unlock(&s->lock);
			qfs_call_complete(c, i, closed ? -ESHUTDOWN : -EHOSTDOWN, 0, NULL, 0, NULL,
					  0);
			continue;
		}
		ev = calloc(1, sizeof(*ev));
		if (!ev) {
			pthread_mutex_unlock(&s->lock);
			qfs_call_complete(c, i, -ENOMEM, 0, NULL, 0, NULL, 0);
			continue;
		}
		qfs_call_get(c);
		ev->call = c;
		ev->idx = i;
		ev->drop = s->r[d].drop;
		ev->due = ev->drop ? c->deadline_ns
				   : qfs_now_ns() + (uint64_t)s->r[d].delay_ms * 1000000ull;
		if (!ev->drop && ev->due > c->deadline_ns) {
			/* the engine would time it out at the deadline, unapplied */
			ev->due = c->deadline_ns;
			ev->drop = true;
		}
		for (p = &s->evs; *p && (*p)->due <= ev->due; p = &(*p)->next)
			;
		ev->next = *p;
		*p = ev;
		pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	return 0;
}

static void sim_info(struct qfs_transport *t, int i, struct qfs_daemon_info *out)
{
	struct sim *s = (struct sim *)t;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->lock);
	out->hello = true;
	out->suspect = s->r[i].dead;
	out->store_flags = s->r[i].flags;
	out->store_id[0] = (uint8_t)(i + 1);
	out->store_id[1] = s->r[i].store_gen;
	out->hellos = s->r[i].hellos;
	out->boot = sim_boot(i);
	out->max_skew_ms = 5000;
	pthread_mutex_unlock(&s->lock);
}

/*
 * As the engine's close: once it returns no completion runs any more, so
 * the quorum handle may be freed. What is queued fails with -ESHUTDOWN here.
 */
static void sim_close(struct qfs_transport *t)
{
	struct sim *s = (struct sim *)t;
	struct sim_ev *left;

	pthread_mutex_lock(&s->lock);
	s->closed = true;
	left = s->evs;
	s->evs = NULL;
	while (s->firing)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	while (left) {
		struct sim_ev *ev = left;

		left = ev->next;
		qfs_call_complete(ev->call, ev->idx, -ESHUTDOWN, 0, NULL, 0, NULL, 0);
		qfs_call_put(ev->call);
		free(ev);
	}
}

static const struct qfs_transport_ops sim_ops = {
	.submit = sim_submit,
	.info = sim_info,
	.close = sim_close,
};

/* ---- public ---- */

int sim_new(int n, struct sim **out)
{
	struct sim *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;

	if (!s)
		return -ENOMEM;
	s->r = calloc((size_t)n, sizeof(*s->r));
	if (!s->r) {
		free(s);
		return -ENOMEM;
	}
	s->n = n;
	s->t.ops = &sim_ops;
	s->t.ndaemons = n;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&s->tid, NULL, sim_main, s)) {
		free(s->r);
	free(s->layout);
		free(s);
		return -EAGAIN;
	}
	*out = s;
	return 0;
}

void sim_free(struct sim *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	s->closed = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->tid, NULL);
	for (int i = 0; i < s->n; i++) {
		for (int k = 0; k < s->r[i].nrecs; k++)
			free(s->r[i].recs[k].val);
		free(s->r[i].recs);
	}
	free(s->r);
	free(s->layout);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

struct qfs_transport *sim_transport(struct sim *s)
{
	return &s->t;
}

#define SIM_KNOB(fn, type, field)                                                          \
	void fn(struct sim *s, int i, type v)                                              \
	{                                                                                  \
		pthread_mutex_lock(&s->lock);                                              \
		s->r[i].field = v;                                                         \
		pthread_mutex_unlock(&s->lock);                                            \
	}

SIM_KNOB(sim_set_delay, unsigned, delay_ms)
SIM_KNOB(sim_set_drop, bool, drop)
SIM_KNOB(sim_set_dead, bool, dead)
SIM_KNOB(sim_set_skew, int64_t, skew_ms)
SIM_KNOB(sim_set_page_max, uint32_t, page_max)
SIM_KNOB(sim_set_nospc, bool, nospc)

void sim_set_flags(struct sim *s, int i, uint32_t store_flags)
{
	pthread_mutex_lock(&s->lock);
	s->r[i].flags = store_flags;
	s->r[i].hellos++;
	pthread_mutex_unlock(&s->lock);
}

void sim_new_store(struct sim *s, int i, uint32_t store_flags)
{
	pthread_mutex_lock(&s->lock);
	s->r[i].flags = store_flags;
	s->r[i].store_gen++;
	s->r[i].hellos++;
	pthread_mutex_unlock(&s->lock);
}

void sim_set_corrupt(struct sim *s, int i, const struct proto_key *key, bool corrupt)
{
	struct sim_rec *rec;

	pthread_mutex_lock(&s->lock);
	rec = sim_lookup(&s->r[i], key);
	if (rec)
		rec->corrupt = corrupt;
	pthread_mutex_unlock(&s->lock);
}

int sim_put(struct sim *s, int i, const struct proto_key *key, const struct proto_meta *meta,
	    const void *val)
{
	uint64_t sums[PROTO_CHUNK_BLOCKS];
	struct proto_meta m = *meta;
	int rc;

	m.sum = proto_value_sums(val, m.len, sums);
	pthread_mutex_lock(&s->lock);
	rc = sim_store(&s->r[i], key, &m, val);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int sim_get(struct sim *s, int i, const struct proto_key *key, struct proto_meta *meta,
	    uint8_t **val)
{
	struct sim_rec *rec;
	int rc = -ENOENT;

	if (val)
		*val = NULL;
	pthread_mutex_lock(&s->lock);
	rec = sim_lookup(&s->r[i], key);
	if (rec) {
		*meta = rec->meta;
		if (val && rec->meta.len) {
			*val = malloc(rec->meta.len);
			memcpy(*val, rec->val, rec->meta.len);
		}
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

unsigned sim_count(struct sim *s, int i, uint8_t op)
{
	unsigned n = 0;

	pthread_mutex_lock(&s->lock);
	for (int k = 0; k < PROTO_OP_MAX; k++)
		if (!op || k == op)
			n += s->r[i].counts[k];
	pthread_mutex_unlock(&s->lock);
	return n;
}

void sim_reset_counts(struct sim *s)
{
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->n; i++)
		memset(s->r[i].counts, 0, sizeof(s->r[i].counts));
	pthread_mutex_unlock(&s->lock);
}

struct qfs_cluster *sim_cluster(int nd, unsigned n, unsigned w, unsigned r,
				unsigned timeout_ms)
{
	struct qfs_cluster *cl = calloc(1, sizeof(*cl));

	if (!cl)
		abort();
	strcpy(cl->path, "test.conf");
	cl->n = n;
	cl->w = w;
	cl->r = r;
	cl->timeout_ms = timeout_ms;
	cl->vnodes = 64;
	cl->layout_version = 1;
	cl->ndaemons = nd;
	for (int i = 0; i < nd; i++) {
		snprintf(cl->daemons[i].name, sizeof(cl->daemons[i].name), "d%d", i);
		snprintf(cl->daemons[i].endpoint, sizeof(cl->daemons[i].endpoint),
			 "tcp://127.0.0.1:%d", 7000 + i);
		cl->daemons[i].weight = 100;
	}
	return cl;
}

int sim_set_layout(struct sim *s, const struct proto_layout *l)
{
	struct proto_wr w;

	proto_wr_init(&w);
	proto_layout_encode(&w, l);
	if (w.bad)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	free(s->layout);
	s->layout = w.buf;
	s->layout_len = w.len;
	s->layout_ver = l->cur.version;
	for (int i = 0; i < s->n; i++)
		s->r[i].lver = (uint32_t)l->cur.version;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void sim_set_layout_check(struct sim *s, int i, uint32_t version)
{
	pthread_mutex_lock(&s->lock);
	s->r[i].lver = version;
	pthread_mutex_unlock(&s->lock);
}

unsigned sim_stale(struct sim *s, int i)
{
	unsigned n;

	pthread_mutex_lock(&s->lock);
	n = s->r[i].stale;
	pthread_mutex_unlock(&s->lock);
	return n;
}
