// SPDX-License-Identifier: MIT
/*
 * engine.c - the ZeroMQ transport: one engine thread owns every socket.
 *
 * Thread rules: qfs_eng_submit() and qfs_eng_info() run on any thread and
 * touch only sub_lock / info_lock state and the eventfd; everything else
 * (sockets, the reqid table, wait queues, the failure detector) belongs to
 * the engine thread (qfs_eng_main). A call is referenced once per RPC the
 * engine holds and once per zero-copy DATA frame ZeroMQ holds, so a waiter
 * that gave up never frees memory the engine or ZeroMQ still reads.
 *
 * RPC path: submit -> per-daemon wait queue -> sent (in the reqid table and
 * the in-flight list) -> completed by its reply, its deadline, or the
 * daemon turning suspect. Each step checks the deadline; the poll timeout is
 * the nearest deadline or probe time, so nothing waits past its deadline.
 *
 * CURVE: a daemon with a public_key gets a CURVE client socket with our key
 * pair (proto_keyfile_read: the secret key file must be mode 0600). A
 * refused handshake (the daemon's ZAP handler did not list our key, or one
 * side speaks plaintext) shows up on the socket monitor; the daemon turns
 * suspect at once, so its RPCs fail fast instead of waiting for a
 * connection that never comes, and qfs_engine_refusal() says why.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "fs/engine.h"
#include "proto/keyfile.h"
#include "proto/log.h"
#include "proto/status.h"
#include "proto/zmsg.h"

#define QFS_ENG_BUCKETS 4096 /* reqid table buckets (power of two) */
#define QFS_ENG_FRAME_MAX (PROTO_DATA_MAX + 4096)

/* One RPC held by the engine thread. */
struct qfs_eng_rpc {
	struct qfs_call *call;		/* reference */
	int idx;			/* RPC index in call */
	int daemon;
	uint64_t reqid;			/* 0 until sent */
	uint64_t deadline;
	size_t bytes;			/* ARGS + DATA */
	struct qfs_eng_rpc *qnext;	/* wait queue of the daemon */
	struct qfs_eng_rpc *hnext;	/* reqid bucket chain */
	struct qfs_eng_rpc *fprev, *fnext; /* in-flight list */
};

struct qfs_eng_daemon {
	/* engine thread only */
	void *sock;			/* DEALER */
	void *mon;			/* PAIR connected to the socket monitor */
	bool connected;
	int timeouts;			/* consecutive RPC timeouts */
	uint64_t next_probe;		/* ns; when suspect */
	uint64_t probe_reqid;		/* outstanding HELLO probe, 0 if none */
	size_t inflight;		/* request bytes sent, not answered */
	unsigned nsent;
	struct qfs_eng_rpc *qhead, *qtail; /* waiting for budget or connection */

	struct qfs_daemon_info info;	/* protected by eng->info_lock */
};

struct qfs_engine {
	struct qfs_transport t;		/* first: the ops */
	struct qfs_cluster *cl;		/* own copy; immutable */
	void *zctx;
	int efd;			/* eventfd: submissions and stop */
	pthread_t tid;
	bool started;

	pthread_mutex_t sub_lock;	/* protects subq, nsub, capsub, stop, nd_pub */
	struct qfs_call **subq;
	int nsub, capsub;
	bool stop;
	int nd_pub;			/* daemons with a socket (qfs_eng_add); d[] and
					 * cl->daemons[] hold QFS_MAX_DAEMONS entries */
	char pub[QFS_KEY_Z85_LEN + 1];	/* client key pair, for daemons added later */
	char sec[QFS_KEY_Z85_LEN + 1];

	pthread_mutex_t info_lock;	/* protects d[].info; leaf lock */
	struct qfs_eng_daemon *d;

	/* engine thread only */
	struct qfs_eng_rpc *buckets[QFS_ENG_BUCKETS];
	struct qfs_eng_rpc *fhead;	/* in-flight list */
	uint64_t next_reqid;
	zmq_pollitem_t *items;		/* 1 + 2 * ndaemons */
};

static const char *qfs_eng_name(const struct qfs_engine *e, int i)
{
	return e->cl->daemons[i].name;
}

/* ---- suspect state (engine thread writes, any thread reads) ---- */

static bool qfs_eng_is_suspect(struct qfs_engine *e, int i)
{
	bool s;

	pthread_mutex_lock(&e->info_lock);
	s = e->d[i].info.suspect;
	pthread_mutex_unlock(&e->info_lock);
	return s;
}

static void qfs_eng_set_suspect(struct qfs_engine *e, int i, bool s)
{
	pthread_mutex_lock(&e->info_lock);
	e->d[i].info.suspect = s;
	pthread_mutex_unlock(&e->info_lock);
}

/* ---- the reqid table and in-flight list ---- */

static struct qfs_eng_rpc **qfs_eng_bucket(struct qfs_engine *e, uint64_t reqid)
{
	return &e->buckets[(reqid * 0x9e3779b97f4a7c15ull) >> 52 & (QFS_ENG_BUCKETS - 1)];
}

static void qfs_eng_track(struct qfs_engine *e, struct qfs_eng_rpc *r)
{
	struct qfs_eng_rpc **b = qfs_eng_bucket(e, r->reqid);

	r->hnext = *b;
	*b = r;
	r->fprev = NULL;
	r->fnext = e->fhead;
	if (e->fhead)
		e->fhead->fprev = r;
	e->fhead = r;
}

static struct qfs_eng_rpc *qfs_eng_find(struct qfs_engine *e, uint64_t reqid)
{
	for (struct qfs_eng_rpc *r = *qfs_eng_bucket(e, reqid); r; r = r->hnext)
		if (r->reqid == reqid)
			return r;
	return NULL;
}

static void qfs_eng_untrack(struct qfs_engine *e, struct qfs_eng_rpc *r)
{
	struct qfs_eng_rpc **p = qfs_eng_bucket(e, r->reqid);
	struct qfs_eng_daemon *d = &e->d[r->daemon];

	while (*p && *p != r)
		p = &(*p)->hnext;
	if (*p)
		*p = r->hnext;
	if (r->fprev)
		r->fprev->fnext = r->fnext;
	else
		e->fhead = r->fnext;
	if (r->fnext)
		r->fnext->fprev = r->fprev;
	d->inflight -= r->bytes;
	d->nsent--;
}

/* Complete @r (already out of every list) and free it. */
static void qfs_eng_finish(struct qfs_eng_rpc *r, int err, uint16_t st, const void *a,
			   size_t alen, const void *dt, size_t dlen)
{
	qfs_call_complete(r->call, r->idx, err, st, a, alen, dt, dlen);
	qfs_call_put(r->call);
	free(r);
}

/* ---- sending ---- */

static void qfs_eng_free_data(void *data, void *hint)
{
	(void)data;
	qfs_call_put(hint);	/* ZeroMQ is done with the call's DATA buffer */
}

/* Send @r on its daemon's socket. Returns 0, -EAGAIN (not now) or -errno. */
static int qfs_eng_send(struct qfs_engine *e, struct qfs_eng_rpc *r)
{
	struct qfs_eng_daemon *d = &e->d[r->daemon];
	const struct qfs_rpc *rpc = &r->call->rpc[r->idx]; /* request: immutable */
	struct proto_hdr h = { .version = PROTO_VERSION, .opcode = rpc->op };
	zmq_msg_t dm, *dmp = NULL;
	int rc;

	/* check first: ZeroMQ would otherwise consume the DATA frame for nothing */
	if (!(zmq_poll(&(zmq_pollitem_t){ .socket = d->sock, .events = ZMQ_POLLOUT }, 1, 0) > 0))
		return -EAGAIN;
	h.reqid = ++e->next_reqid;
	h.layout = r->call->layout; /* immutable once submitted */
	if (rpc->data_len) {
		qfs_call_get(r->call);
		if (zmq_msg_init_data(&dm, (void *)rpc->data, rpc->data_len, qfs_eng_free_data,
				      r->call)) {
			qfs_call_put(r->call);
			return -ENOMEM;
		}
		dmp = &dm;
	}
	rc = proto_zsend(d->sock, NULL, &h, rpc->args, rpc->args_len, NULL, 0, dmp,
			 ZMQ_DONTWAIT);
	if (rc)
		return rc;
	r->reqid = h.reqid;
	d->inflight += r->bytes;
	d->nsent++;
	qfs_eng_track(e, r);
	return 0;
}

/* Fail every RPC queued or in flight to daemon @i with @err. */
static void qfs_eng_fail_daemon(struct qfs_engine *e, int i, int err)
{
	struct qfs_eng_daemon *d = &e->d[i];
	struct qfs_eng_rpc *r, *next;

	while ((r = d->qhead)) {
		d->qhead = r->qnext;
		qfs_eng_finish(r, err, 0, NULL, 0, NULL, 0);
	}
	d->qtail = NULL;
	for (r = e->fhead; r; r = next) {
		next = r->fnext;
		if (r->daemon != i)
			continue;
		qfs_eng_untrack(e, r);
		qfs_eng_finish(r, err, 0, NULL, 0, NULL, 0);
	}
}

static void qfs_eng_mark_suspect(struct qfs_engine *e, int i, const char *why)
{
	struct qfs_eng_daemon *d = &e->d[i];

	if (!qfs_eng_is_suspect(e, i)) {
		qlog_warn("daemon %s is suspect: %s", qfs_eng_name(e, i), why);
		qfs_eng_set_suspect(e, i, true);
		d->next_probe = qfs_now_ns();
	}
	qfs_eng_fail_daemon(e, i, -EHOSTDOWN);
}

/* Send what the daemon's queue holds while the byte budget allows. */
static void qfs_eng_pump(struct qfs_engine *e, int i, uint64_t now)
{
	struct qfs_eng_daemon *d = &e->d[i];
	struct qfs_eng_rpc *r;

	while ((r = d->qhead)) {
		int rc;

		if (now >= r->deadline) {
			rc = -ETIMEDOUT;
		} else {
			if (d->nsent && d->inflight + r->bytes > QFS_ENG_INFLIGHT_MAX)
				return;
			rc = qfs_eng_send(e, r);
			if (rc == -EAGAIN)
				return;	/* not connected yet or HWM: POLLOUT wakes us */
		}
		d->qhead = r->qnext;
		if (!d->qhead)
			d->qtail = NULL;
		if (rc) {
			if (rc != -ETIMEDOUT)
				qlog_warn("send to %s: %s", qfs_eng_name(e, i), strerror(-rc));
			qfs_eng_finish(r, rc == -ETIMEDOUT ? rc : -EIO, 0, NULL, 0, NULL, 0);
		}
		/*
		 * Never sent because the handshake never completed (a daemon
		 * that accepts connections but hangs): counts as a timeout
		 * too, or such a daemon would cost every RPC its deadline.
		 */
		if (rc == -ETIMEDOUT && !d->connected &&
		    ++d->timeouts >= QFS_ENG_SUSPECT_TIMEOUTS) {
			qfs_eng_mark_suspect(e, i, "no handshake before the deadline");
			return;	/* the queue is failed and empty */
		}
	}
}

/* Take the RPCs of @c that are still NEW. */
static void qfs_eng_take(struct qfs_engine *e, struct qfs_call *c, uint64_t now)
{
	struct qfs_eng_rpc *mine[64];
	int n = 0, start = 0;

	do {
		n = 0;
		pthread_mutex_lock(&c->lock);
		for (int i = start; i < c->nrpc && n < 64; i++, start++) {
			struct qfs_eng_rpc *r;

			if (c->rpc[i].state != QFS_RPC_NEW)
				continue;
			r = calloc(1, sizeof(*r));
			if (!r)
				break;	/* stays NEW; completed below */
			c->rpc[i].state = QFS_RPC_SENT;
			r->call = c;
			r->idx = i;
			r->daemon = c->rpc[i].daemon;
			r->deadline = c->deadline_ns;
			r->bytes = c->rpc[i].args_len + c->rpc[i].data_len;
			qfs_call_get(c);
			mine[n++] = r;
		}
		pthread_mutex_unlock(&c->lock);

		for (int k = 0; k < n; k++) {
			struct qfs_eng_rpc *r = mine[k];
			struct qfs_eng_daemon *d;

			if (r->daemon < 0 || r->daemon >= e->t.ndaemons) {
				qfs_eng_finish(r, -EINVAL, 0, NULL, 0, NULL, 0);
				continue;
			}
			if (now >= r->deadline) {
				qfs_eng_finish(r, -ETIMEDOUT, 0, NULL, 0, NULL, 0);
				continue;
			}
			if (qfs_eng_is_suspect(e, r->daemon)) {
				qfs_eng_finish(r, -EHOSTDOWN, 0, NULL, 0, NULL, 0);
				continue;
			}
			d = &e->d[r->daemon];
			if (d->qtail)
				d->qtail->qnext = r;
			else
				d->qhead = r;
			d->qtail = r;
			qfs_eng_pump(e, r->daemon, now);
		}
	} while (n == 64);

	/* an allocation failed: fail what is still NEW rather than lose it */
	for (int i = 0;; i++) {
		pthread_mutex_lock(&c->lock);
		if (i >= c->nrpc) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		bool stuck = c->rpc[i].state == QFS_RPC_NEW;

		if (stuck)
			c->rpc[i].state = QFS_RPC_SENT;
		pthread_mutex_unlock(&c->lock);
		if (stuck)
			qfs_call_complete(c, i, -ENOMEM, 0, NULL, 0, NULL, 0);
	}
}

/* ---- receiving ---- */

/* A HELLO reply: remember the daemon's identity, boot and clock. */
static void qfs_eng_hello_seen(struct qfs_engine *e, int i, const struct proto_zmsg *m)
{
	struct proto_hello_rep hr;
	struct qfs_eng_daemon *d = &e->d[i];

	if (m->hdr.status != PROTO_ST_OK ||
	    proto_decode_hello_rep(zmq_msg_data((zmq_msg_t *)&m->args),
				   zmq_msg_size((zmq_msg_t *)&m->args), m->hdr.data_len, &hr))
		return;
	pthread_mutex_lock(&e->info_lock);
	if (d->info.hello && d->info.boot != hr.boot)
		qlog_info("daemon %s restarted (boot %016" PRIx64 ")", qfs_eng_name(e, i), hr.boot);
	d->info.hello = true;
	d->info.hellos++;
	d->info.boot = hr.boot;
	d->info.clock = hr.clock;
	d->info.store_flags = hr.store_flags & PROTO_STORE_MASK;
	memcpy(d->info.store_id, hr.store_id, PROTO_ID_LEN);
	d->info.max_skew_ms = hr.max_skew_ms;
	pthread_mutex_unlock(&e->info_lock);
}

static void qfs_eng_recv(struct qfs_engine *e, int i)
{
	struct qfs_eng_daemon *d = &e->d[i];

	for (int budget = 0; budget < 256; budget++) {
		struct proto_zmsg m;
		struct qfs_eng_rpc *r;
		int rc;

		memset(&m, 0, sizeof(m));
		rc = proto_zrecv(d->sock, &m, ZMQ_DONTWAIT, 0);
		if (rc == -EAGAIN || rc == -EINTR) {
			proto_zmsg_close(&m);
			return;
		}
		if (rc || !(m.hdr.flags & PROTO_HF_REPLY)) {
			qlog_debug("bad reply from %s: %s", qfs_eng_name(e, i), strerror(-rc));
			proto_zmsg_close(&m);
			continue;
		}
		/* every reply says which layout the daemon holds: a newer one
		 * wakes the quorum's layout refresh (it never blocks us) */
		qfs_transport_layout_seen(&e->t, m.hdr.layout);
		if (m.hdr.reqid == d->probe_reqid && m.hdr.opcode == PROTO_OP_HELLO) {
			d->probe_reqid = 0;
			qfs_eng_hello_seen(e, i, &m);
			if (m.hdr.status == PROTO_ST_OK && qfs_eng_is_suspect(e, i)) {
				qlog_info("daemon %s answers again", qfs_eng_name(e, i));
				qfs_eng_set_suspect(e, i, false);
				d->timeouts = 0;
			}
			proto_zmsg_close(&m);
			continue;
		}
		r = qfs_eng_find(e, m.hdr.reqid);
		if (!r || r->daemon != i ||
		    m.hdr.opcode != r->call->rpc[r->idx].op) {
			proto_zmsg_close(&m);	/* late (timed out) or foreign: drop */
			continue;
		}
		d->timeouts = 0;
		if (m.hdr.opcode == PROTO_OP_HELLO)
			qfs_eng_hello_seen(e, i, &m);
		qfs_eng_untrack(e, r);
		qfs_eng_finish(r, 0, m.hdr.status, zmq_msg_data(&m.args), zmq_msg_size(&m.args),
			       zmq_msg_data(&m.data), zmq_msg_size(&m.data));
		proto_zmsg_close(&m);
	}
}

/*
 * Handshake failures without a ZMTP error code (ZMQ_EVENT_HANDSHAKE_FAILED_
 * NO_DETAIL: the daemon closed the connection mid-handshake, which is what a
 * CURVE daemon does to a plaintext client, and a daemon does to a CURVE
 * client that used the wrong server key), kept in info.handshake_err beside
 * the ZMQ_PROTOCOL_ERROR_* codes (which are all >= 0x10000000).
 */
#define QFS_ENG_HS_CLOSED_PLAIN 1u
#define QFS_ENG_HS_CLOSED_CURVE 2u

/* What a ZMTP handshake error means for an administrator; NULL if nothing useful. */
static const char *qfs_eng_hs_reason(uint32_t err)
{
	switch (err) {
	case QFS_ENG_HS_CLOSED_PLAIN:
		return "closed the connection during the handshake: it probably requires "
		       "CURVE (give it a public_key in the config and the client a key pair "
		       "in [client])";
	case QFS_ENG_HS_CLOSED_CURVE:
		return "closed the connection during the CURVE handshake: check that the "
		       "public_key configured for it matches its --curve-secret";
	case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
		return "speaks another security mechanism: one side uses CURVE and the other "
		       "plaintext (check its public_key in the config and its --curve-secret)";
	case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
	case ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE:
		return "failed the CURVE handshake: check that the public_key configured for "
		       "it matches its --curve-secret";
	default:
		return NULL;
	}
}

const char *qfs_engine_refusal(const struct qfs_daemon_info *info)
{
	if (info->auth_failed)
		return "refused our CURVE key (not in its allow-list)";
	return qfs_eng_hs_reason(info->handshake_err);
}

/* Socket monitor events: connection state and authentication failures. */
static void qfs_eng_monitor(struct qfs_engine *e, int i)
{
	struct qfs_eng_daemon *d = &e->d[i];

	for (;;) {
		zmq_msg_t ev, ep;
		uint16_t event;
		uint32_t value;
		bool was_refused;

		zmq_msg_init(&ev);
		if (zmq_msg_recv(&ev, d->mon, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&ev);
			return;
		}
		if (!zmq_msg_more(&ev) || zmq_msg_size(&ev) < 6) {
			zmq_msg_close(&ev);
			continue;
		}
		memcpy(&event, zmq_msg_data(&ev), sizeof(event));
		memcpy(&value, (char *)zmq_msg_data(&ev) + sizeof(event), sizeof(value));
		qlog_debug("daemon %s: socket event 0x%x value 0x%x", qfs_eng_name(e, i), event,
			   value);
		zmq_msg_close(&ev);
		zmq_msg_init(&ep);
		zmq_msg_recv(&ep, d->mon, 0);	/* the endpoint frame always follows */
		zmq_msg_close(&ep);

		switch (event) {
		case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
			d->connected = true;
			pthread_mutex_lock(&e->info_lock);
			d->info.auth_failed = false;
			d->info.handshake_err = 0;
			pthread_mutex_unlock(&e->info_lock);
			d->next_probe = qfs_now_ns(); /* a suspect is probed at once */
			qfs_eng_pump(e, i, qfs_now_ns());
			break;
		case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
			/* ZeroMQ reconnects and is refused again: say it once */
			pthread_mutex_lock(&e->info_lock);
			was_refused = d->info.auth_failed;
			d->info.auth_failed = true;
			pthread_mutex_unlock(&e->info_lock);
			if (!was_refused)
				qlog_err("daemon %s refused our CURVE key (not in its allow-list): "
					 "add our public key to its --allow file and send it SIGHUP",
					 qfs_eng_name(e, i));
			d->connected = false;
			qfs_eng_mark_suspect(e, i, "authentication refused");
			break;
		case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
			value = e->cl->daemons[i].public_key[0] ? QFS_ENG_HS_CLOSED_CURVE
								  : QFS_ENG_HS_CLOSED_PLAIN;
			/* fall through */
		case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
			pthread_mutex_lock(&e->info_lock);
			was_refused = d->info.handshake_err == value;
			d->info.handshake_err = value;
			pthread_mutex_unlock(&e->info_lock);
			if (!was_refused && qfs_eng_hs_reason(value))
				qlog_err("daemon %s %s", qfs_eng_name(e, i), qfs_eng_hs_reason(value));
			d->connected = false;
			qfs_eng_mark_suspect(e, i, "handshake failed");
			break;
		case ZMQ_EVENT_DISCONNECTED:
			d->connected = false;
			qfs_eng_mark_suspect(e, i, "disconnected");
			break;
		case ZMQ_EVENT_CONNECT_RETRIED:
			if (!d->connected)
				qfs_eng_mark_suspect(e, i, "cannot connect");
			break;
		default:
			break;
		}
	}
}

/* ---- deadlines and probes ---- */

static void qfs_eng_expire(struct qfs_engine *e, uint64_t now)
{
	struct qfs_eng_rpc *r, *next;

	for (r = e->fhead; r; r = next) {
		int i = r->daemon;

		next = r->fnext;
		if (now < r->deadline)
			continue;
		qfs_eng_untrack(e, r);
		qfs_eng_finish(r, -ETIMEDOUT, 0, NULL, 0, NULL, 0);
		if (++e->d[i].timeouts >= QFS_ENG_SUSPECT_TIMEOUTS) {
			qfs_eng_mark_suspect(e, i, "requests time out");
			next = e->fhead;	/* the list changed under us */
		}
	}
	for (int i = 0; i < e->t.ndaemons; i++)
		qfs_eng_pump(e, i, now);	/* fails expired queued RPCs */
}

/*
 * A daemon whose store state must be watched: never said HELLO, or its
 * store has no volume or is rebuilding. It is asked again every
 * QFS_ENG_REHELLO_MS even while healthy, so that a store refilled (REBUILT)
 * or given its volume is seen without a reconnection.
 */
static bool qfs_eng_watch(struct qfs_engine *e, int i)
{
	bool w;

	pthread_mutex_lock(&e->info_lock);
	w = !e->d[i].info.hello ||
	    (e->d[i].info.store_flags & (PROTO_STORE_NOVOLUME | PROTO_STORE_REBUILDING));
	pthread_mutex_unlock(&e->info_lock);
	return w;
}

static void qfs_eng_probe(struct qfs_engine *e, uint64_t now)
{
	for (int i = 0; i < e->t.ndaemons; i++) {
		struct qfs_eng_daemon *d = &e->d[i];
		struct proto_hello_req hq = { .min_version = PROTO_VERSION,
					      .max_version = PROTO_VERSION };
		struct proto_hdr h = { .version = PROTO_VERSION, .opcode = PROTO_OP_HELLO };
		struct proto_wr w;

		if (now < d->next_probe)
			continue;
		if (qfs_eng_is_suspect(e, i))
			d->next_probe = now + QFS_ENG_PROBE_MS * 1000000ull;
		else if (d->connected && qfs_eng_watch(e, i))
			d->next_probe = now + QFS_ENG_REHELLO_MS * 1000000ull;
		else
			continue;
		hq.clock = PROTO_HLC_MAKE(proto_wall_ms(), 0);
		proto_wr_init(&w);
		proto_encode_hello_req(&w, &hq);
		h.reqid = ++e->next_reqid;
		if (!w.bad && proto_zsend(d->sock, NULL, &h, w.buf, w.len, NULL, 0, NULL,
					  ZMQ_DONTWAIT) == 0)
			d->probe_reqid = h.reqid;
		proto_wr_free(&w);
	}
}

/* Poll timeout in ms: the nearest deadline or probe, at most a probe period. */
static long qfs_eng_timeout(struct qfs_engine *e, uint64_t now)
{
	uint64_t next = now + QFS_ENG_PROBE_MS * 1000000ull;

	for (struct qfs_eng_rpc *r = e->fhead; r; r = r->fnext)
		if (r->deadline < next)
			next = r->deadline;
	for (int i = 0; i < e->t.ndaemons; i++) {
		struct qfs_eng_daemon *d = &e->d[i];

		if (d->qhead && d->qhead->deadline < next)
			next = d->qhead->deadline;
		if ((qfs_eng_is_suspect(e, i) || (d->connected && qfs_eng_watch(e, i))) &&
		    d->next_probe < next)
			next = d->next_probe;
	}
	if (next <= now)
		return 0;
	return (long)((next - now + 999999) / 1000000);
}

/* ---- the engine thread ---- */

static void qfs_eng_drain_submissions(struct qfs_engine *e, bool *stop)
{
	struct qfs_call **q;
	int n;
	uint64_t v, now;

	if (read(e->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		qlog_debug("eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&e->sub_lock);
	q = e->subq;
	n = e->nsub;
	e->subq = NULL;
	e->nsub = e->capsub = 0;
	*stop = e->stop;
	e->t.ndaemons = e->nd_pub; /* daemons added since: the engine owns them now */
	pthread_mutex_unlock(&e->sub_lock);
	now = qfs_now_ns();
	for (int i = 0; i < n; i++) {
		qfs_eng_take(e, q[i], now);
		qfs_call_put(q[i]);
	}
	free(q);
}

static void *qfs_eng_main(void *arg)
{
	struct qfs_engine *e = arg;
	int nd = e->t.ndaemons;
	bool stop = false;

	while (!stop) {
		uint64_t now = qfs_now_ns();
		long tmo;
		int rc;

		nd = e->t.ndaemons; /* grows in qfs_eng_drain_submissions */
		qfs_eng_probe(e, now);
		tmo = qfs_eng_timeout(e, now);
		e->items[0] = (zmq_pollitem_t){ .fd = e->efd, .events = ZMQ_POLLIN };
		for (int i = 0; i < nd; i++) {
			struct qfs_eng_daemon *d = &e->d[i];
			short ev = ZMQ_POLLIN;

			if (d->qhead && !(d->nsent && d->inflight + d->qhead->bytes >
							     QFS_ENG_INFLIGHT_MAX))
				ev |= ZMQ_POLLOUT;
			e->items[1 + i] = (zmq_pollitem_t){ .socket = d->sock, .events = ev };
			e->items[1 + nd + i] =
				(zmq_pollitem_t){ .socket = d->mon, .events = ZMQ_POLLIN };
		}
		rc = zmq_poll(e->items, 1 + 2 * nd, tmo);
		if (rc < 0 && zmq_errno() == ETERM)
			break;
		if (rc > 0 && (e->items[0].revents & ZMQ_POLLIN))
			qfs_eng_drain_submissions(e, &stop);
		for (int i = 0; rc > 0 && i < nd; i++) {
			if (e->items[1 + nd + i].revents & ZMQ_POLLIN)
				qfs_eng_monitor(e, i);
			if (e->items[1 + i].revents & ZMQ_POLLIN)
				qfs_eng_recv(e, i);
			if (e->items[1 + i].revents & ZMQ_POLLOUT)
				qfs_eng_pump(e, i, qfs_now_ns());
		}
		qfs_eng_expire(e, qfs_now_ns());
	}

	/* stopping: fail everything, then give the sockets back */
	qfs_eng_drain_submissions(e, &stop);
	nd = e->t.ndaemons;
	for (int i = 0; i < nd; i++)
		qfs_eng_fail_daemon(e, i, -ESHUTDOWN);
	for (int i = 0; i < nd; i++) {
		zmq_socket_monitor(e->d[i].sock, NULL, 0);
		zmq_close(e->d[i].mon);
		zmq_close(e->d[i].sock);
		e->d[i].mon = e->d[i].sock = NULL;
	}
	return NULL;
}

/* ---- transport ops ---- */

static int qfs_eng_submit(struct qfs_transport *t, struct qfs_call *c)
{
	struct qfs_engine *e = (struct qfs_engine *)t;
	uint64_t one = 1;
	int rc = 0;

	pthread_mutex_lock(&e->sub_lock);
	if (e->stop) {
		rc = -ESHUTDOWN;
	} else if (e->nsub == e->capsub) {
		int cap = e->capsub ? 2 * e->capsub : 16;
		struct qfs_call **q = realloc(e->subq, (size_t)cap * sizeof(*q));

		if (q) {
			e->subq = q;
			e->capsub = cap;
		} else {
			rc = -ENOMEM;
		}
	}
	if (!rc) {
		qfs_call_get(c);
		e->subq[e->nsub++] = c;
	}
	pthread_mutex_unlock(&e->sub_lock);
	if (rc) {
		/* complete what the engine will never see */
		for (int i = 0;; i++) {
			bool mine;

			pthread_mutex_lock(&c->lock);
			if (i >= c->nrpc) {
				pthread_mutex_unlock(&c->lock);
				break;
			}
			mine = c->rpc[i].state == QFS_RPC_NEW;
			if (mine)
				c->rpc[i].state = QFS_RPC_SENT;
			pthread_mutex_unlock(&c->lock);
			if (mine)
				qfs_call_complete(c, i, rc, 0, NULL, 0, NULL, 0);
		}
		return rc;
	}
	if (write(e->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		qlog_err("eventfd write: %s", strerror(errno));
	return 0;
}

static void qfs_eng_info(struct qfs_transport *t, int i, struct qfs_daemon_info *out)
{
	struct qfs_engine *e = (struct qfs_engine *)t;

	pthread_mutex_lock(&e->info_lock);
	*out = e->d[i].info;
	pthread_mutex_unlock(&e->info_lock);
}

static void qfs_eng_close(struct qfs_transport *t)
{
	struct qfs_engine *e = (struct qfs_engine *)t;
	uint64_t one = 1;

	if (!e)
		return;
	if (e->started) {
		pthread_mutex_lock(&e->sub_lock);
		e->stop = true;
		pthread_mutex_unlock(&e->sub_lock);
		if (write(e->efd, &one, sizeof(one)) < 0)
			qlog_err("eventfd write: %s", strerror(errno));
		pthread_join(e->tid, NULL);
	}
	if (e->d) {
		/* the engine thread closed the ones it took; the rest are ours */
		for (int i = e->started ? e->t.ndaemons : 0; i < e->nd_pub; i++) {
			if (e->d[i].sock)
				zmq_socket_monitor(e->d[i].sock, NULL, 0);
			zmq_close(e->d[i].mon);
			zmq_close(e->d[i].sock);
		}
	}
	if (e->zctx)
		zmq_ctx_term(e->zctx);
	if (e->efd >= 0)
		close(e->efd);
	free(e->subq);
	free(e->items);
	free(e->d);
	free(e->cl);
	memset(e->sec, 0, sizeof(e->sec));
	pthread_mutex_destroy(&e->sub_lock);
	pthread_mutex_destroy(&e->info_lock);
	free(e);
}

static int qfs_eng_socket(struct qfs_engine *e, int i, const char *pub, const char *sec,
			  char *err, size_t errlen);

/*
 * Add daemon @dc (a new cluster layout names it): its socket is made here
 * and handed to the engine thread, which takes it at its next wake-up.
 * Returns its index, the existing index when one has that name, or -errno
 * (-ENOSPC: QFS_MAX_DAEMONS reached; -EINVAL: CURVE without a key pair).
 */
static int qfs_eng_add(struct qfs_transport *t, const struct qfs_daemon_conf *dc)
{
	struct qfs_engine *e = (struct qfs_engine *)t;
	uint64_t one = 1;
	char err[256];
	int i, rc;

	pthread_mutex_lock(&e->sub_lock);
	for (i = 0; i < e->nd_pub; i++) {
		if (!strcmp(e->cl->daemons[i].name, dc->name)) {
			pthread_mutex_unlock(&e->sub_lock);
			return i;
		}
	}
	if (e->stop || i >= QFS_MAX_DAEMONS) {
		pthread_mutex_unlock(&e->sub_lock);
		return e->stop ? -ESHUTDOWN : -ENOSPC;
	}
	if (dc->public_key[0] && !e->sec[0]) {
		pthread_mutex_unlock(&e->sub_lock);
		return -EINVAL;
	}
	e->cl->daemons[i] = *dc;
	rc = qfs_eng_socket(e, i, e->pub, e->sec, err, sizeof(err));
	if (rc) {
		qlog_warn("%s", err);
		pthread_mutex_unlock(&e->sub_lock);
		return rc;
	}
	e->cl->ndaemons = i + 1;
	e->nd_pub = i + 1; /* the mutex is the fence for the socket's new thread */
	pthread_mutex_unlock(&e->sub_lock);
	if (write(e->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		qlog_err("eventfd write: %s", strerror(errno));
	return i;
}

static const struct qfs_transport_ops qfs_eng_ops = {
	.submit = qfs_eng_submit,
	.info = qfs_eng_info,
	.close = qfs_eng_close,
	.add = qfs_eng_add,
};

/* ---- setup ---- */

/*
 * Read the client key pair named by [client] for a cluster whose daemons
 * use CURVE: both files must be set, the secret one private (0600), and the
 * public key must be the one that belongs to the secret key. Returns 0 or
 * -errno with a message in @err.
 */
static int qfs_eng_client_keys(const struct qfs_cluster *cl, char pub[QFS_KEY_Z85_LEN + 1],
			       char sec[QFS_KEY_Z85_LEN + 1], char *err, size_t errlen)
{
	char derived[QFS_KEY_Z85_LEN + 1], why[768];
	int rc;

	if (!cl->client_public_key_file[0] || !cl->client_secret_key_file[0]) {
		snprintf(err, errlen,
			 "%s: the daemons have a public_key (CURVE) but [client] names no key "
			 "pair: make one with 'qfs keygen NAME' and set public_key_file and "
			 "secret_key_file in [client]",
			 cl->path);
		return -EINVAL;
	}
	rc = proto_keyfile_read(cl->client_secret_key_file, true, sec, why, sizeof(why));
	if (!rc)
		rc = proto_keyfile_read(cl->client_public_key_file, false, pub, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "%s: [client] %s", cl->path, why);
		return rc;
	}
	if (zmq_curve_public(derived, sec) < 0 || strcmp(derived, pub)) {
		snprintf(err, errlen,
			 "%s: [client] public_key_file %s does not belong to secret_key_file %s "
			 "(use the .pub and .key written together by 'qfs keygen')",
			 cl->path, cl->client_public_key_file, cl->client_secret_key_file);
		return -EINVAL;
	}
	return 0;
}

static int qfs_eng_setopt(void *s, int opt, int v)
{
	return zmq_setsockopt(s, opt, &v, sizeof(v)) ? -zmq_errno() : 0;
}

static int qfs_eng_socket(struct qfs_engine *e, int i, const char *pub, const char *sec,
			  char *err, size_t errlen)
{
	const struct qfs_daemon_conf *dc = &e->cl->daemons[i];
	struct qfs_eng_daemon *d = &e->d[i];
	int64_t maxmsg = QFS_ENG_FRAME_MAX;
	char mon_ep[96];
	int rc = 0;

	d->sock = zmq_socket(e->zctx, ZMQ_DEALER);
	if (!d->sock)
		goto fail;
	rc |= qfs_eng_setopt(d->sock, ZMQ_LINGER, 0);
	rc |= qfs_eng_setopt(d->sock, ZMQ_IMMEDIATE, 1);
	rc |= qfs_eng_setopt(d->sock, ZMQ_HEARTBEAT_IVL, QFS_ENG_HEARTBEAT_IVL_MS);
	rc |= qfs_eng_setopt(d->sock, ZMQ_HEARTBEAT_TIMEOUT, QFS_ENG_HEARTBEAT_TIMEOUT_MS);
	rc |= qfs_eng_setopt(d->sock, ZMQ_HEARTBEAT_TTL, QFS_ENG_HEARTBEAT_TIMEOUT_MS);
	rc |= qfs_eng_setopt(d->sock, ZMQ_RECONNECT_IVL, 100);
	rc |= qfs_eng_setopt(d->sock, ZMQ_RECONNECT_IVL_MAX, 1000);
	rc |= qfs_eng_setopt(d->sock, ZMQ_SNDHWM, QFS_ENG_SNDHWM);
	rc |= qfs_eng_setopt(d->sock, ZMQ_RCVHWM, QFS_ENG_SNDHWM);
	if (zmq_setsockopt(d->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)))
		rc = -1;
	if (dc->public_key[0]) {
		if (zmq_setsockopt(d->sock, ZMQ_CURVE_SERVERKEY, dc->public_key,
				   QFS_KEY_Z85_LEN + 1) ||
		    zmq_setsockopt(d->sock, ZMQ_CURVE_PUBLICKEY, pub, QFS_KEY_Z85_LEN + 1) ||
		    zmq_setsockopt(d->sock, ZMQ_CURVE_SECRETKEY, sec, QFS_KEY_Z85_LEN + 1))
			rc = -1;
	}
	if (rc)
		goto fail;
	snprintf(mon_ep, sizeof(mon_ep), "inproc://qfs-mon-%p-%d", (void *)e, i);
	if (zmq_socket_monitor(d->sock, mon_ep,
			       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
				       ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
				       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
				       ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED))
		goto fail;
	d->mon = zmq_socket(e->zctx, ZMQ_PAIR);
	if (!d->mon || zmq_connect(d->mon, mon_ep))
		goto fail;
	if (zmq_connect(d->sock, dc->endpoint))
		goto fail;
	return 0;
fail:
	rc = -zmq_errno();
	snprintf(err, errlen, "%s: daemon %s (%s): cannot set up its socket: %s", e->cl->path,
		 dc->name, dc->endpoint, zmq_strerror(-rc));
	return rc ? rc : -EIO;
}

int qfs_engine_open(const struct qfs_cluster *cl, struct qfs_transport **out, char *err,
		    size_t errlen)
{
	char pub[QFS_KEY_Z85_LEN + 1] = "", sec[QFS_KEY_Z85_LEN + 1] = "";
	bool curve = false;
	struct qfs_engine *e;
	int rc, nd = cl->ndaemons;

	if (nd <= 0 || nd > QFS_MAX_DAEMONS) {
		snprintf(err, errlen, "%s: no daemons", cl->path);
		return -EINVAL;
	}
	for (int i = 0; i < nd; i++)
		curve |= cl->daemons[i].public_key[0] != '\0';
	if (curve) {
		rc = qfs_eng_client_keys(cl, pub, sec, err, errlen);
		if (rc) {
			memset(sec, 0, sizeof(sec));
			return rc;
		}
	}

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->t.ops = &qfs_eng_ops;
	e->t.ndaemons = nd;
	e->efd = -1;
	pthread_mutex_init(&e->sub_lock, NULL);
	pthread_mutex_init(&e->info_lock, NULL);
	e->cl = malloc(sizeof(*e->cl));
	e->d = calloc(QFS_MAX_DAEMONS, sizeof(*e->d));
	e->items = calloc(1 + 2 * QFS_MAX_DAEMONS, sizeof(*e->items));
	if (!e->cl || !e->d || !e->items) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out_close;
	}
	memcpy(e->cl, cl, sizeof(*cl));
	e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	e->zctx = zmq_ctx_new();
	if (e->efd < 0 || !e->zctx) {
		rc = e->efd < 0 ? -errno : -ENOMEM;
		snprintf(err, errlen, "engine setup: %s", strerror(-rc));
		goto out_close;
	}
	for (int i = 0; i < nd; i++) {
		rc = qfs_eng_socket(e, i, pub, sec, err, errlen);
		e->nd_pub = i + (rc == 0); /* sockets to close on failure */
		if (rc)
			goto out_close;
	}
	memcpy(e->pub, pub, sizeof(e->pub));
	memcpy(e->sec, sec, sizeof(e->sec));
	/* pthread_create is the fence ZeroMQ needs when sockets change threads */
	rc = -pthread_create(&e->tid, NULL, qfs_eng_main, e);
	if (rc) {
		snprintf(err, errlen, "engine thread: %s", strerror(-rc));
		goto out_close;
	}
	e->started = true;
	memset(sec, 0, sizeof(sec));
	*out = &e->t;
	return 0;
out_close:
	memset(sec, 0, sizeof(sec));
	qfs_eng_close(&e->t);
	return rc;
}
