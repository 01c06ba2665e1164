// SPDX-License-Identifier: MIT
/*
 * quorum_admin.c - what the operator tools ask of the cluster as a whole:
 * every daemon's health (qfs status), which parts of the ring still have a
 * write and a read quorum, and how the ring divides the keys (qfs layout).
 *
 * The probe works without qfs_quorum_open(): a status tool must still talk
 * when fewer than W daemons answer, or when a clock is skewed. It has one
 * deadline for everything it sends, so an unreachable endpoint costs at
 * most that deadline. Coverage and layout are pure functions of the config:
 * placement only changes at ring points, so looking at the preference list
 * of every point sees every placement there is (exact, not sampled).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/call.h"
#include "fs/engine.h"
#include "fs/quorum.h"
#include "fs/ring.h"
#include "proto/key.h"
#include "proto/status.h"
#include "proto/version.h"

#define QFS_ADMIN_DEFAULT_TIMEOUT_MS 1000
#define QFS_TOKEN_SPACE 18446744073709551616.0 /* 2^64 */

enum qfs_probe_step {
	QFS_PROBE_CONNECT, /* first HELLO: opens the connection */
	QFS_PROBE_HELLO,   /* second HELLO: its round trip is the latency */
	QFS_PROBE_STAT,
};

/* RPCs per daemon in the probe call: CONNECT, HELLO, STAT and one STAT retry. */
#define QFS_PROBE_RPCS 4

/* Per RPC of the probe call: what it was for and when it left. */
struct qfs_probe_rpc {
	int daemon;
	enum qfs_probe_step step;
	uint64_t sent_ns;
};

/* Wake when an RPC completed that the waiter has not looked at yet. */
static bool qfs_probe_progress(const struct qfs_call *c, void *arg)
{
	return c->ndone > *(const int *)arg || c->ndone == c->nrpc;
}

/* Why the HELLO @rpc did not succeed, into d->err (and status, refusal). */
static void qfs_probe_hello_error(struct qfs_transport *t, const struct qfs_rpc *rpc,
				  struct qfs_daemon_report *d)
{
	struct qfs_daemon_info di;

	t->ops->info(t, rpc->daemon, &di);
	d->refusal = qfs_engine_refusal(&di);
	if (d->refusal)
		d->err = -EACCES;
	/* suspect and never answered: the transport could not connect */
	else if (rpc->err == -EHOSTDOWN || (rpc->err && di.suspect && !di.hello))
		d->err = -EHOSTDOWN;
	else if (rpc->err)
		d->err = rpc->err == -ENOMEM ? -ENOMEM : -ETIMEDOUT;
	else {
		d->status = rpc->status;
		d->err = -EPROTO;
	}
}

/* Add one probe RPC (@op with empty or HELLO ARGS); 0 or -errno. */
static int qfs_probe_add(struct qfs_call *c, struct qfs_probe_rpc *pr, struct proto_hlc *clock,
			 int daemon, enum qfs_probe_step step)
{
	struct proto_wr w;
	uint8_t op = PROTO_OP_STAT;
	int idx;

	proto_wr_init(&w);
	if (step != QFS_PROBE_STAT) {
		struct proto_hello_req hq = { .min_version = PROTO_VERSION,
					      .max_version = PROTO_VERSION };

		hq.clock = proto_hlc_next(clock, proto_wall_ms());
		proto_encode_hello_req(&w, &hq);
		op = PROTO_OP_HELLO;
	}
	idx = qfs_call_add(c, daemon, op, true, &w, 0, 0);
	if (idx < 0)
		return idx;
	pr[idx].daemon = daemon;
	pr[idx].step = step;
	pr[idx].sent_ns = qfs_now_ns();
	return 0;
}

/* Take the answer of one completed probe RPC into @out; may queue more. */
static int qfs_probe_take(struct qfs_call *c, struct qfs_transport *t, struct qfs_probe_rpc *pr,
			  const struct qfs_rpc *rpc, int idx, struct proto_hlc *clock,
			  struct qfs_daemon_report *out, bool *added)
{
	struct qfs_daemon_report *d = &out[pr[idx].daemon];
	uint64_t rtt_ns = qfs_now_ns() - pr[idx].sent_ns;
	bool ok = rpc->err == 0 && rpc->status == PROTO_ST_OK;
	struct proto_hello_rep hr;
	int rc;

	switch (pr[idx].step) {
	case QFS_PROBE_CONNECT:
	case QFS_PROBE_HELLO:
		if (!ok) {
			if (pr[idx].step == QFS_PROBE_CONNECT)
				qfs_probe_hello_error(t, rpc, d);
			return 0; /* a lost second HELLO: keep the first figure */
		}
		if (proto_decode_hello_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &hr)) {
			if (pr[idx].step == QFS_PROBE_CONNECT)
				d->err = -EBADMSG;
			return 0;
		}
		proto_hlc_observe(clock, hr.clock);
		d->err = 0;
		d->hello = hr;
		d->skew_ms = (int64_t)PROTO_HLC_MS(hr.clock) - (int64_t)proto_wall_ms();
		if (pr[idx].step == QFS_PROBE_HELLO) {
			d->latency_ms = (double)rtt_ns / 1e6;
			return 0;
		}
		/* connected: the first round trip included the handshake, so a
		 * second HELLO measures the latency; until it answers (or if it
		 * is lost under load) the first one is the best figure there is */
		d->latency_ms = (double)rtt_ns / 1e6;
		rc = qfs_probe_add(c, pr, clock, pr[idx].daemon, QFS_PROBE_HELLO);
		if (!rc)
			rc = qfs_probe_add(c, pr, clock, pr[idx].daemon, QFS_PROBE_STAT);
		if (rc)
			return rc;
		*added = true;
		return 0;
	case QFS_PROBE_STAT:
		if (rpc->err || rpc->status != PROTO_ST_OK) {
			d->stat_err = rpc->err ? -ETIMEDOUT : -EPROTO;
			/* A daemon that answered HELLO gets a second chance (a busy
			 * reader pool under load), within the same deadline. */
			if (!d->stat_retried && rpc->err != -EHOSTDOWN) {
				d->stat_retried = true;
				rc = qfs_probe_add(c, pr, clock, pr[idx].daemon, QFS_PROBE_STAT);
				if (rc)
					return rc;
				*added = true;
			}
			return 0;
		}
		if (proto_decode_stat_rep(rpc->rargs, rpc->rargs_len, rpc->rdata_len, &d->stat)) {
			d->stat_err = -EBADMSG;
			return 0;
		}
		d->stat_err = 0;
		d->free_bytes = d->stat.capacity > d->stat.used ? d->stat.capacity - d->stat.used
								  : 0;
		if (d->free_bytes > d->stat.fs_free)
			d->free_bytes = d->stat.fs_free;
		return 0;
	}
	return 0;
}

/*
 * A daemon that answered HELLO but whose STAT did not come back within the
 * probe's deadline is alive and busy (a loaded machine: the connection and
 * handshake used most of the deadline): ask it for STAT once more with a
 * deadline of its own, so its figures are not reported as unknown. At most
 * one more @timeout_ms, and only when some daemon needs it.
 */
static void qfs_probe_stat_late(int nd, struct qfs_transport *t, unsigned timeout_ms,
				struct proto_hlc *clock, struct qfs_daemon_report *out)
{
	uint64_t deadline = qfs_deadline_ms(timeout_ms);
	struct qfs_probe_rpc *pr;
	struct qfs_call *c;
	int n = 0;

	for (int i = 0; i < nd; i++)
		n += out[i].err == 0 && out[i].stat_err == -ETIMEDOUT;
	if (!n || !(pr = calloc((size_t)n, sizeof(*pr))))
		return;
	if (qfs_call_new(n, deadline, qfs_accept_reply, NULL, 0, &c)) {
		free(pr);
		return;
	}
	for (int i = 0; i < nd; i++)
		if (out[i].err == 0 && out[i].stat_err == -ETIMEDOUT) {
			out[i].stat_retried = true; /* no further retry in qfs_probe_take */
			if (qfs_probe_add(c, pr, clock, i, QFS_PROBE_STAT))
				break;
		}
	t->ops->submit(t, c);
	qfs_call_wait(c, deadline, qfs_call_all_done, NULL);
	for (int i = 0; i < n; i++) {
		const struct qfs_rpc *rpc = qfs_call_result(c, i);
		bool added = false;

		if (rpc && pr[i].sent_ns)
			qfs_probe_take(c, t, pr, rpc, i, clock, out, &added);
	}
	qfs_call_put(c);
	free(pr);
}

int qfs_quorum_probe_transport(const struct qfs_cluster *cl, struct qfs_transport *t,
			       unsigned timeout_ms, struct qfs_daemon_report *out)
{
	int nd = cl->ndaemons, seen = 0, rc;
	struct qfs_probe_rpc *pr;
	struct proto_hlc clock;
	struct qfs_call *c;
	uint64_t deadline;
	bool volume = false;

	if (nd <= 0 || t->ndaemons != nd)
		return -EINVAL;
	if (!timeout_ms)
		timeout_ms = cl->timeout_ms ? cl->timeout_ms : QFS_ADMIN_DEFAULT_TIMEOUT_MS;
	deadline = qfs_deadline_ms(timeout_ms);
	for (int i = 0; i < nd; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].err = -ETIMEDOUT;
		out[i].stat_err = -ETIMEDOUT;
		out[i].latency_ms = -1;
	}
	pr = calloc(QFS_PROBE_RPCS * (size_t)nd, sizeof(*pr));
	if (!pr)
		return -ENOMEM;
	rc = qfs_call_new(QFS_PROBE_RPCS * nd, deadline, qfs_accept_reply, NULL, 0, &c);
	if (rc)
		goto out_free;
	proto_hlc_init(&clock);
	for (int i = 0; i < nd && !rc; i++)
		rc = qfs_probe_add(c, pr, &clock, i, QFS_PROBE_CONNECT);
	if (rc)
		goto out_put;
	t->ops->submit(t, c);

	/* Take each answer as it comes; a connected daemon gets HELLO + STAT. */
	while (!rc) {
		bool added = false;
		int nrpc;

		qfs_call_wait(c, deadline, qfs_probe_progress, &seen);
		pthread_mutex_lock(&c->lock);
		nrpc = c->nrpc;
		pthread_mutex_unlock(&c->lock);
		for (int i = 0; i < nrpc && !rc; i++) {
			const struct qfs_rpc *rpc;

			if (pr[i].sent_ns == 0)
				continue; /* already taken */
			rpc = qfs_call_result(c, i);
			if (!rpc)
				continue;
			rc = qfs_probe_take(c, t, pr, rpc, i, &clock, out, &added);
			pr[i].sent_ns = 0;
			seen++;
		}
		if (added)
			t->ops->submit(t, c);
		else if (seen == nrpc || qfs_now_ns() >= deadline)
			break;
	}
	qfs_probe_stat_late(nd, t, timeout_ms, &clock, out);
	/* a HELLO still out at the deadline: -ETIMEDOUT, unless refused */
	for (int i = 0; i < nd; i++) {
		struct qfs_daemon_info di;

		if (out[i].err != -ETIMEDOUT)
			continue;
		t->ops->info(t, i, &di);
		out[i].refusal = qfs_engine_refusal(&di);
		if (out[i].refusal)
			out[i].err = -EACCES;
	}
	for (int i = 0; i < nd; i++)
		if (out[i].err == 0 && !(out[i].hello.store_flags & PROTO_STORE_NOVOLUME))
			volume = true;
	/* as a mount sees it: being refilled, or empty while the volume exists */
	for (int i = 0; i < nd; i++)
		out[i].rebuilding = out[i].err == 0 &&
				    ((out[i].hello.store_flags & PROTO_STORE_REBUILDING) ||
				     (volume && (out[i].hello.store_flags & PROTO_STORE_NOVOLUME)));
out_put:
	qfs_call_put(c);
out_free:
	free(pr);
	return rc;
}

int qfs_quorum_probe(const struct qfs_cluster *cl, unsigned timeout_ms,
		     struct qfs_daemon_report *out, char *err, size_t errlen)
{
	struct qfs_transport *t;
	int rc;

	rc = qfs_engine_open(cl, &t, err, errlen);
	if (rc)
		return rc;
	rc = qfs_quorum_probe_transport(cl, t, timeout_ms, out);
	if (rc < 0)
		snprintf(err, errlen, "probing the daemons failed: %s", strerror(-rc));
	t->ops->close(t);
	return rc;
}

/* The ring of @cl, or NULL with *rc set. */
static struct qfs_ring *qfs_admin_ring(const struct qfs_cluster *cl, int *rc)
{
	struct qfs_ring *ring = NULL;

	*rc = qfs_ring_build(cl, &ring);
	return *rc ? NULL : ring;
}

/*
 * Fraction of the token space in the range that ends at point @i: the keys
 * after point i-1 up to point i, wrapping below the first point.
 */
static double qfs_admin_arc(const struct qfs_ring *ring, size_t i)
{
	size_t np = qfs_ring_npoints(ring);
	uint64_t tok, prev;

	if (np == 1)
		return 1.0;
	qfs_ring_point(ring, i, &tok);
	qfs_ring_point(ring, i ? i - 1 : np - 1, &prev);
	return (double)(uint64_t)(tok - prev) / QFS_TOKEN_SPACE;
}

int qfs_quorum_coverage(const struct qfs_cluster *cl, const bool *usable,
			struct qfs_coverage *out)
{
	int idx[QFS_MAX_REPLICAS];
	struct qfs_ring *ring;
	size_t np;
	int rc;

	memset(out, 0, sizeof(*out));
	ring = qfs_admin_ring(cl, &rc);
	if (!ring)
		return rc;
	np = qfs_ring_npoints(ring);
	out->nranges = np;
	out->min_usable = cl->n;
	for (size_t i = 0; i < np; i++) {
		unsigned good = 0;
		uint64_t tok;
		int n;

		qfs_ring_point(ring, i, &tok);
		n = qfs_ring_place(ring, tok, idx, (int)cl->n);
		for (int k = 0; k < n; k++)
			good += usable[idx[k]];
		if (good < out->min_usable)
			out->min_usable = good;
		if (good < cl->w) {
			out->below_w++;
			out->below_w_share += qfs_admin_arc(ring, i);
		}
		if (good < cl->r) {
			out->below_r++;
			out->below_r_share += qfs_admin_arc(ring, i);
		}
	}
	qfs_ring_free(ring);
	return 0;
}

int qfs_quorum_layout(const struct qfs_cluster *cl, uint32_t samples,
		      struct qfs_layout_row *out)
{
	int idx[QFS_MAX_REPLICAS];
	struct qfs_ring *ring;
	size_t np;
	int rc;

	ring = qfs_admin_ring(cl, &rc);
	if (!ring)
		return rc;
	memset(out, 0, (size_t)cl->ndaemons * sizeof(*out));
	np = qfs_ring_npoints(ring);
	for (size_t i = 0; i < np; i++) {
		double arc = qfs_admin_arc(ring, i);
		uint64_t tok;
		int d = qfs_ring_point(ring, i, &tok), n;

		out[d].points++;
		n = qfs_ring_place(ring, tok, idx, (int)cl->n);
		if (n > 0)
			out[idx[0]].ring_share += arc;
		for (int k = 0; k < n; k++)
			out[idx[k]].replica_share += arc;
	}
	for (uint32_t s = 0; s < samples; s++) {
		struct proto_key key;

		/* 16 chunks each of consecutive inodes, as files would have */
		proto_key_chunk(&key, 2 + s / 16, s % 16);
		if (qfs_ring_place(ring, proto_key_token(&key), idx, 1) == 1)
			out[idx[0]].sample_share += 1.0;
	}
	for (int d = 0; d < cl->ndaemons && samples; d++)
		out[d].sample_share /= samples;
	qfs_ring_free(ring);
	return 0;
}
