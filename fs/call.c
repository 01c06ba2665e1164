// SPDX-License-Identifier: MIT
/*
 * call.c - calls: refcounted sets of RPCs with one owned DATA buffer, their
 * completion bookkeeping and the waiter's sleep. Shared by every transport,
 * so the engine and the test simulation count and wake exactly alike.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/call.h"
#include "proto/status.h"

uint64_t qfs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool qfs_accept_ok(const struct qfs_call *c, const struct qfs_rpc *rpc)
{
	(void)c;
	return rpc->err == 0 && rpc->status == PROTO_ST_OK;
}

bool qfs_accept_reply(const struct qfs_call *c, const struct qfs_rpc *rpc)
{
	(void)c;
	/* a daemon that refused the request for its layout said nothing about
	 * the record: no answer, yet no failure of the daemon either */
	return rpc->err == 0 && rpc->status != PROTO_ST_STALE_LAYOUT;
}

void qfs_transport_layout_seen(struct qfs_transport *t, uint32_t version)
{
	uint32_t cur = atomic_load_explicit(&t->layout_seen, memory_order_relaxed);
	qfs_layout_hook_fn hook;

	while (version > cur) {
		if (!atomic_compare_exchange_weak_explicit(&t->layout_seen, &cur, version,
							   memory_order_relaxed,
							   memory_order_relaxed))
			continue; /* cur reloaded */
		hook = atomic_load_explicit(&t->layout_hook, memory_order_acquire);
		if (hook)
			hook(t->layout_arg, version);
		return;
	}
}

int qfs_call_new(int cap, uint64_t deadline_ns, qfs_accept_fn accept, const void *data,
		 size_t data_len, struct qfs_call **out)
{
	struct qfs_call *c;
	pthread_condattr_t ca;

	if (cap <= 0)
		return -EINVAL;
	c = calloc(1, sizeof(*c) + (size_t)cap * sizeof(c->rpc[0]));
	if (!c)
		return -ENOMEM;
	if (data && data_len) {
		c->data = malloc(data_len);
		if (!c->data) {
			free(c);
			return -ENOMEM;
		}
		memcpy(c->data, data, data_len);
		c->data_len = data_len;
	}
	pthread_mutex_init(&c->lock, NULL);
	/* the waiter sleeps against the monotonic clock, like the deadlines */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&c->refs, 1);
	c->deadline_ns = deadline_ns;
	c->accept = accept ? accept : qfs_accept_ok;
	c->cap = cap;
	*out = c;
	return 0;
}

void qfs_call_get(struct qfs_call *c)
{
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void qfs_call_put(struct qfs_call *c)
{
	if (!c)
		return;
	if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (int i = 0; i < c->nrpc; i++) {
		free(c->rpc[i].args);
		free(c->rpc[i].rargs);
		free(c->rpc[i].rdata);
	}
	free(c->data);
	free(c->done_arg);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int qfs_call_add(struct qfs_call *c, int daemon, uint8_t op, bool counts, struct proto_wr *w,
		 size_t doff, size_t dlen)
{
	struct qfs_rpc *rpc;
	int idx;

	if (w->bad) {
		proto_wr_free(w);
		return -ENOMEM;
	}
	if (dlen && (doff > c->data_len || dlen > c->data_len - doff)) {
		proto_wr_free(w);
		return -EINVAL;
	}
	pthread_mutex_lock(&c->lock);
	if (c->nrpc >= c->cap) {
		pthread_mutex_unlock(&c->lock);
		proto_wr_free(w);
		return -ENOSPC;
	}
	idx = c->nrpc;
	rpc = &c->rpc[idx];
	memset(rpc, 0, sizeof(*rpc));
	rpc->daemon = daemon;
	rpc->op = op;
	rpc->counts = counts;
	rpc->args = w->buf;
	rpc->args_len = w->len;
	rpc->data = dlen ? c->data + doff : NULL;
	rpc->data_len = dlen;
	rpc->state = QFS_RPC_NEW;
	if (counts)
		c->npending++;
	c->nrpc++;
	pthread_mutex_unlock(&c->lock);
	/* the buffer now belongs to the RPC */
	w->buf = NULL;
	w->len = w->cap = 0;
	return idx;
}

static void *qfs_dup(const void *p, size_t len, bool *bad)
{
	void *q;

	if (!p || !len)
		return NULL;
	q = malloc(len);
	if (!q) {
		*bad = true;
		return NULL;
	}
	memcpy(q, p, len);
	return q;
}

void qfs_call_complete(struct qfs_call *c, int idx, int err, uint16_t status,
		       const void *rargs, size_t rargs_len, const void *rdata, size_t rdata_len)
{
	struct qfs_rpc *rpc = &c->rpc[idx];
	uint8_t *a = NULL, *d = NULL;
	bool bad = false, run;

	/* copy outside the lock: a 4 MiB body must not stall the waiter */
	if (err == 0) {
		a = qfs_dup(rargs, rargs_len, &bad);
		d = qfs_dup(rdata, rdata_len, &bad);
		if (bad) {
			free(a);
			free(d);
			a = d = NULL;
			err = -ENOMEM;
		}
	}

	pthread_mutex_lock(&c->lock);
	if (rpc->state == QFS_RPC_DONE) {	/* a transport bug; never twice */
		pthread_mutex_unlock(&c->lock);
		free(a);
		free(d);
		return;
	}
	rpc->err = err;
	rpc->status = err ? 0 : status;
	rpc->rargs = a;
	rpc->rargs_len = a ? rargs_len : 0;
	rpc->rdata = d;
	rpc->rdata_len = d ? rdata_len : 0;
	rpc->state = QFS_RPC_DONE;
	rpc->accepted = c->accept(c, rpc);
	c->ndone++;
	if (rpc->counts) {
		c->npending--;
		if (rpc->accepted)
			c->naccepted++;
	}
	run = c->on_done && !c->done_ran && c->ndone == c->nrpc;
	if (run)
		c->done_ran = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	/* the transport still holds a reference for this RPC: @c is alive */
	if (run)
		c->on_done(c, c->done_arg);
}

void qfs_call_on_done(struct qfs_call *c, qfs_done_fn fn, void *arg)
{
	pthread_mutex_lock(&c->lock);
	free(c->done_arg);
	c->on_done = fn;
	c->done_arg = arg;
	pthread_mutex_unlock(&c->lock);
}

bool qfs_call_quorum_reached(const struct qfs_call *c, void *arg)
{
	(void)arg;
	return c->naccepted >= c->need || c->naccepted + c->npending < c->need ||
	       c->ndone == c->nrpc;
}

bool qfs_call_all_done(const struct qfs_call *c, void *arg)
{
	(void)arg;
	return c->ndone == c->nrpc;
}

const struct qfs_rpc *qfs_call_result(struct qfs_call *c, int idx)
{
	const struct qfs_rpc *rpc = NULL;

	pthread_mutex_lock(&c->lock);
	if (idx >= 0 && idx < c->nrpc && c->rpc[idx].state == QFS_RPC_DONE)
		rpc = &c->rpc[idx];
	pthread_mutex_unlock(&c->lock);
	return rpc;
}

void qfs_call_set_need(struct qfs_call *c, unsigned need)
{
	pthread_mutex_lock(&c->lock);
	c->need = need;
	pthread_mutex_unlock(&c->lock);
}

bool qfs_call_wait(struct qfs_call *c, uint64_t until_ns, qfs_wake_fn wake, void *arg)
{
	struct timespec ts;
	bool ok;

	if (!wake)
		wake = qfs_call_quorum_reached;
	ts.tv_sec = (time_t)(until_ns / 1000000000ull);
	ts.tv_nsec = (long)(until_ns % 1000000000ull);
	pthread_mutex_lock(&c->lock);
	while (!(ok = wake(c, arg)) && qfs_now_ns() < until_ns)
		pthread_cond_timedwait(&c->cond, &c->lock, &ts);
	pthread_mutex_unlock(&c->lock);
	return ok;
}
