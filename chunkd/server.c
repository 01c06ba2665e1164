// SPDX-License-Identifier: MIT
/*
 * server.c - the chunkd reactor: one thread that owns the ROUTER socket bound
 * to every --listen endpoint, checks each message's frames and header
 * (proto_zrecv), answers HELLO and malformed requests itself, and hands the
 * rest on without copying a body: PUT, PATCH and SYNC to the single writer
 * (arrival order is application order), reads to the reader pool. Workers
 * send finished replies back over "chk-reply"; the reactor moves those frames
 * to the ROUTER untouched. The reactor never touches the disk and never
 * blocks on a worker: a full queue answers PROTO_ST_BUSY.
 *
 * Also here: socket setup for every thread, and the envelope helpers the
 * workers use (see server.h for the framing).
 *
 * With --curve-secret the ROUTER is a CURVE server: the ZAP handler (zap.c)
 * is bound first in the same context, so no connection is ever admitted
 * without it, and a CURVE server socket refuses NULL (plaintext) peers at
 * the ZMTP greeting. SIGHUP on the reactor's signalfd reloads the allow list.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "chunkd/server.h"
#include "chunkd/zap.h"
#include "proto/layout.h"
#include "proto/log.h"
#include "proto/status.h"

#define CHK_REACTOR_BURST 256	/* messages taken per wake-up, per direction */
#define CHK_HEARTBEAT_IVL_MS 2000
#define CHK_HEARTBEAT_TIMEOUT_MS 6000
#define CHK_COUNTER_LOG_MS 10000

int chk_sockopt_int(void *s, int opt, int val)
{
	if (zmq_setsockopt(s, opt, &val, sizeof(val)) < 0)
		return -errno;
	return 0;
}

/* A socket with LINGER 0 and the given HWM on both sides; NULL on failure. */
static void *chk_socket(void *zctx, int type, int hwm)
{
	void *s = zmq_socket(zctx, type);

	if (!s)
		return NULL;
	if (chk_sockopt_int(s, ZMQ_LINGER, 0) < 0 || chk_sockopt_int(s, ZMQ_SNDHWM, hwm) < 0 ||
	    chk_sockopt_int(s, ZMQ_RCVHWM, hwm) < 0) {
		zmq_close(s);
		return NULL;
	}
	return s;
}

static void chk_close(void **s)
{
	if (*s) {
		zmq_close(*s);
		*s = NULL;
	}
}

/* The client-facing ROUTER: bounded frames and queues, heartbeats, bound. */
static int chk_router_open(struct chk_daemon *d)
{
	int64_t maxmsg = CHK_FRAME_MAX;
	int i;

	d->router = chk_socket(d->zctx, ZMQ_ROUTER, CHK_HWM);
	if (!d->router)
		return -errno;
	if (zmq_setsockopt(d->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0 ||
	    chk_sockopt_int(d->router, ZMQ_ROUTER_MANDATORY, 0) < 0 ||
	    chk_sockopt_int(d->router, ZMQ_HEARTBEAT_IVL, CHK_HEARTBEAT_IVL_MS) < 0 ||
	    chk_sockopt_int(d->router, ZMQ_HEARTBEAT_TIMEOUT, CHK_HEARTBEAT_TIMEOUT_MS) < 0 ||
	    chk_sockopt_int(d->router, ZMQ_HEARTBEAT_TTL, CHK_HEARTBEAT_TIMEOUT_MS) < 0) {
		qlog_err("router options: %s", zmq_strerror(errno));
		return -errno;
	}
	if (d->o.curve_secret) {
		/* never a CURVE server without the ZAP handler: libzmq would admit all */
		if (!d->zap) {
			qlog_err("CURVE without a ZAP handler: refusing to listen");
			return -EINVAL;
		}
		if (chk_sockopt_int(d->router, ZMQ_CURVE_SERVER, 1) < 0 ||
		    zmq_setsockopt(d->router, ZMQ_CURVE_SECRETKEY, d->curve_sec,
				   sizeof(d->curve_sec)) < 0 ||
		    zmq_setsockopt(d->router, ZMQ_ZAP_DOMAIN, CHK_ZAP_DOMAIN,
				   strlen(CHK_ZAP_DOMAIN)) < 0) {
			int err = errno;

			qlog_err("router CURVE options: %s", zmq_strerror(err));
			return -err;
		}
	}
	for (i = 0; i < d->o.nlisten; i++) {
		if (zmq_bind(d->router, d->o.listen[i]) < 0) {
			int err = errno;

			qlog_err("cannot listen on %s: %s", d->o.listen[i], zmq_strerror(err));
			return -err;
		}
		qlog_info("listening on %s", d->o.listen[i]);
	}
	return 0;
}

/* A worker PUSH towards the reactor: blocking, but never forever. */
static void *chk_reply_socket(struct chk_daemon *d)
{
	void *s = chk_socket(d->zctx, ZMQ_PUSH, CHK_HWM);

	if (!s)
		return NULL;
	if (chk_sockopt_int(s, ZMQ_SNDTIMEO, CHK_REPLY_TIMEOUT_MS) < 0 ||
	    zmq_connect(s, CHK_EP_REPLY) < 0) {
		zmq_close(s);
		return NULL;
	}
	return s;
}

static void *chk_note_socket(struct chk_daemon *d)
{
	void *s = chk_socket(d->zctx, ZMQ_PUSH, CHK_HWM);

	if (!s)
		return NULL;
	if (zmq_connect(s, CHK_EP_WRITE) < 0) {
		zmq_close(s);
		return NULL;
	}
	return s;
}

/*
 * Create every socket of every thread: inproc binds first, then connects.
 * Returns 0 or -errno; on failure the caller runs chk_server_close_sockets().
 */
int chk_server_sockets(struct chk_daemon *d)
{
	unsigned i;
	int rc;

	d->zctx = zmq_ctx_new();
	if (!d->zctx)
		return -errno;
	if (d->zap) {
		rc = chk_zap_bind(d->zap, d->zctx); /* before the ROUTER exists */
		if (rc < 0)
			return rc;
	}
	d->readers = calloc(d->o.threads, sizeof(*d->readers));
	if (!d->readers)
		return -ENOMEM;

	d->writer.d = d;
	d->writer.in = chk_socket(d->zctx, ZMQ_PULL, CHK_HWM);
	if (!d->writer.in || zmq_bind(d->writer.in, CHK_EP_WRITE) < 0)
		goto fail;
	d->to_read = chk_socket(d->zctx, ZMQ_PUSH, CHK_HWM);
	if (!d->to_read || zmq_bind(d->to_read, CHK_EP_READ) < 0)
		goto fail;
	d->replies = chk_socket(d->zctx, ZMQ_PULL, CHK_HWM);
	if (!d->replies || zmq_bind(d->replies, CHK_EP_REPLY) < 0)
		goto fail;
	d->to_write = chk_note_socket(d);
	if (!d->to_write)
		goto fail;
	d->writer.reply = chk_reply_socket(d);
	if (!d->writer.reply)
		goto fail;
	for (i = 0; i < d->o.threads; i++) {
		struct chk_worker *w = &d->readers[i];

		w->d = d;
		w->idx = (int)i;
		w->in = chk_socket(d->zctx, ZMQ_PULL, CHK_HWM);
		if (!w->in || zmq_connect(w->in, CHK_EP_READ) < 0)
			goto fail;
		w->reply = chk_reply_socket(d);
		w->note = chk_note_socket(d);
		if (!w->reply || !w->note)
			goto fail;
	}
	d->scrubber.d = d;
	if (d->o.scrub_rate) {
		d->scrubber.note = chk_note_socket(d);
		if (!d->scrubber.note)
			goto fail;
	}
	rc = chk_router_open(d);
	if (rc < 0)
		return rc;
	return 0;
fail:
	rc = -errno;
	qlog_err("internal sockets: %s", zmq_strerror(errno));
	return rc ? rc : -EIO;
}

static void chk_worker_close(struct chk_worker *w)
{
	chk_close(&w->in);
	chk_close(&w->reply);
	chk_close(&w->note);
}

/*
 * Close the reactor's sockets and those of workers that never ran (a worker
 * closes its own before it exits), then end the context. Threads are joined.
 */
void chk_server_close_sockets(struct chk_daemon *d)
{
	unsigned i;

	chk_close(&d->router);
	chk_close(&d->to_write);
	chk_close(&d->to_read);
	chk_close(&d->replies);
	chk_worker_close(&d->writer);
	chk_worker_close(&d->scrubber);
	if (d->readers) {
		for (i = 0; i < d->o.threads; i++)
			chk_worker_close(&d->readers[i]);
		free(d->readers);
		d->readers = NULL;
	}
	chk_zap_stop(d->zap);	/* its thread closes the ZAP socket */
	if (d->zctx) {
		zmq_ctx_term(d->zctx);
		d->zctx = NULL;
	}
}

bool chk_skewed(const struct chk_daemon *d, uint64_t hlc)
{
	return proto_hlc_too_far_ahead(hlc, proto_wall_ms(), d->o.max_skew_ms);
}

uint32_t chk_layout_version(const struct chk_daemon *d)
{
	uint64_t v = chk_store_layout_version(d->store);

	/* stored layouts are validated to fit (proto/layout.c); never wrap */
	return v > PROTO_LAYOUT_VERSION_MAX ? PROTO_LAYOUT_VERSION_MAX : (uint32_t)v;
}

/*
 * Requests whose records the sender placed with its layout. HELLO, SYNC,
 * STAT and LAYOUT_GET/SET are about the daemon, not about where a key
 * lives: their layout field is ignored.
 */
static bool chk_layout_routed(uint8_t op)
{
	switch (op) {
	case PROTO_OP_HELLO:
	case PROTO_OP_SYNC:
	case PROTO_OP_STAT:
	case PROTO_OP_LAYOUT_GET:
	case PROTO_OP_LAYOUT_SET:
		return false;
	default:
		return true;
	}
}

bool chk_layout_stale(const struct chk_daemon *d, const struct proto_hdr *h)
{
	return h->layout && chk_layout_routed(h->opcode) && h->layout < chk_layout_version(d);
}

/* ---- envelope helpers (any thread, on its own sockets) ---- */

/* Receive and discard the rest of a multipart message. */
static void chk_drain(void *sock)
{
	int more = 1;
	size_t sz = sizeof(more);

	while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
		zmq_msg_t f;

		zmq_msg_init(&f);
		if (zmq_msg_recv(&f, sock, 0) < 0) {
			zmq_msg_close(&f);
			return;
		}
		zmq_msg_close(&f);
		sz = sizeof(more);
	}
}

static int chk_recv_part(void *sock, zmq_msg_t *f, bool last)
{
	int more;

	if (zmq_msg_recv(f, sock, 0) < 0)
		return -errno;
	more = zmq_msg_more(f);
	if (more == last)
		return -EBADMSG;
	return 0;
}

int chk_env_recv(void *sock, struct chk_env *env, struct proto_zmsg *m, int timeout_ms)
{
	zmq_pollitem_t it = { sock, 0, ZMQ_POLLIN, 0 };
	int i, rc;

	memset(m, 0, sizeof(*m));
	zmq_msg_init(&m->args);
	zmq_msg_init(&m->data);
	if (timeout_ms) {
		rc = zmq_poll(&it, 1, timeout_ms);
		if (rc < 0)
			return -errno;
		if (rc == 0)
			return -EAGAIN;
	}
	rc = zmq_recv(sock, env, sizeof(*env), ZMQ_DONTWAIT);
	if (rc < 0)
		return -errno;
	if (rc != (int)sizeof(*env) ||
	    (env->kind == CHK_ENV_REQ && env->nroute > PROTO_ZROUTE_MAX)) {
		chk_drain(sock);
		return -EBADMSG;
	}
	if (env->kind != CHK_ENV_REQ) {
		chk_drain(sock);
		return 0;
	}
	for (i = 0; i < env->nroute; i++) {
		zmq_msg_init(&m->route[i]);
		m->nroute = i + 1;
		rc = chk_recv_part(sock, &m->route[i], false);
		if (rc < 0)
			goto bad;
	}
	rc = chk_recv_part(sock, &m->args, false);
	if (rc < 0)
		goto bad;
	rc = chk_recv_part(sock, &m->data, true);
	if (rc < 0)
		goto bad;
	m->hdr = env->hdr;
	return 0;
bad:
	chk_drain(sock);
	proto_zmsg_close(m);
	memset(m, 0, sizeof(*m));
	return rc;
}

void chk_reply(struct chk_daemon *d, void *sock, const struct proto_zmsg *m, uint16_t st,
	       const void *args, size_t alen, zmq_msg_t *data_msg)
{
	struct proto_hdr h = {
		.version = PROTO_VERSION,
		.opcode = m->hdr.opcode,
		.flags = PROTO_HF_REPLY,
		.status = st,
		.reqid = m->hdr.reqid,
		.layout = chk_layout_version(d),
	};
	size_t dlen = data_msg ? zmq_msg_size(data_msg) : 0;
	int rc;

	rc = proto_zsend(sock, m, &h, args, alen, NULL, dlen, data_msg, 0);
	if (rc < 0) {
		atomic_fetch_add_explicit(&d->n_reply_lost, 1, memory_order_relaxed);
		qlog_debug("reply %s #%" PRIu64 " lost: %s", proto_op_name(h.opcode), h.reqid,
			   strerror(-rc));
	}
}

int chk_note_corrupt(void *note_sock, const struct proto_key *key,
		     const struct proto_version *ver)
{
	struct chk_env env;

	memset(&env, 0, sizeof(env));
	env.kind = CHK_ENV_MARK;
	env.key = *key;
	env.ver = *ver;
	if (zmq_send(note_sock, &env, sizeof(env), ZMQ_DONTWAIT) < 0)
		return -errno;
	return 0;
}

/* ---- reactor ---- */

/* Answer @m on the ROUTER with status @st and @args; the reactor's own replies. */
static void chk_answer(struct chk_daemon *d, const struct proto_zmsg *m, uint16_t st,
		       const void *args, size_t alen)
{
	struct proto_hdr h = {
		.version = PROTO_VERSION,
		.opcode = m->hdr.opcode,
		.flags = PROTO_HF_REPLY,
		.status = st,
		.reqid = m->hdr.reqid,
		.layout = chk_layout_version(d),
	};

	/* ROUTER without MANDATORY drops what it cannot deliver; never blocks */
	proto_zsend(d->router, m, &h, args, alen, NULL, 0, NULL, ZMQ_DONTWAIT);
}

/*
 * A message that failed the frame or header checks. Answered with the mapped
 * status when it can be routed and its header was ours (magic read, so the
 * reqid means something); otherwise dropped. Both are counted.
 */
static void chk_reject(struct chk_daemon *d, struct proto_zmsg *m, int err)
{
	if (m->nroute == 0 || err == -EPROTO || (m->hdr.reqid == 0 && m->hdr.opcode == 0)) {
		atomic_fetch_add_explicit(&d->n_dropped, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&d->n_badreq, 1, memory_order_relaxed);
	qlog_debug("bad %s #%" PRIu64 ": %s", proto_op_name(m->hdr.opcode), m->hdr.reqid,
		   strerror(-err));
	chk_answer(d, m, proto_st_from_errno(err), NULL, 0);
}

static void chk_hello(struct chk_daemon *d, struct proto_zmsg *m)
{
	static const uint8_t zero[PROTO_ID_LEN];
	struct proto_hello_req q;
	struct proto_hello_rep p;
	struct proto_wr w;
	int rc;

	rc = proto_decode_hello_req(zmq_msg_data(&m->args), zmq_msg_size(&m->args),
				    zmq_msg_size(&m->data), &q);
	if (rc < 0) {
		chk_reject(d, m, rc);
		return;
	}
	if (q.min_version > PROTO_VERSION || q.max_version < PROTO_VERSION) {
		chk_answer(d, m, PROTO_ST_BADVERSION, NULL, 0);
		return;
	}
	/* a client clock beyond the bound must not drag ours forward */
	if (q.clock && !chk_skewed(d, q.clock))
		proto_hlc_observe(&d->clock, q.clock);

	memset(&p, 0, sizeof(p));
	p.version = PROTO_VERSION;
	snprintf(p.name, sizeof(p.name), "%s", d->o.name);
	chk_store_identity(d->store, p.store_id, p.volume_id, &p.store_flags);
	if (memcmp(q.volume_id, zero, PROTO_ID_LEN) && memcmp(p.volume_id, zero, PROTO_ID_LEN) &&
	    memcmp(q.volume_id, p.volume_id, PROTO_ID_LEN))
		p.store_flags |= PROTO_STORE_FOREIGN;
	p.layout_version = chk_store_layout_version(d->store);
	p.clock = proto_hlc_next(&d->clock, proto_wall_ms());
	p.boot = d->boot;
	p.max_skew_ms = (uint32_t)d->o.max_skew_ms;
	p.chunk_max = PROTO_CHUNK_MAX;
	p.block_size = PROTO_BLOCK_SIZE;

	proto_wr_init(&w);
	proto_encode_hello_rep(&w, &p);
	if (w.bad)
		chk_answer(d, m, PROTO_ST_NOMEM, NULL, 0);
	else
		chk_answer(d, m, PROTO_ST_OK, w.buf, w.len);
	proto_wr_free(&w);
}

/* LAYOUT_GET (empty ARGS): the stored layout from memory, or NOENT with
 * version 0. Small, no disk: answered on the reactor like HELLO. */
static void chk_layout_get(struct chk_daemon *d, struct proto_zmsg *m)
{
	struct proto_wr w;
	uint8_t *buf;
	size_t len;
	int rc;

	if (zmq_msg_size(&m->args) || zmq_msg_size(&m->data)) {
		chk_reject(d, m, -EBADMSG);
		return;
	}
	rc = chk_store_layout_get(d->store, &buf, &len);
	if (rc == -ENOENT) {
		proto_wr_init(&w);
		proto_encode_layout_version(&w, 0);
		chk_answer(d, m, w.bad ? PROTO_ST_NOMEM : PROTO_ST_NOENT, w.buf, w.bad ? 0 : w.len);
		proto_wr_free(&w);
		return;
	}
	if (rc) {
		chk_answer(d, m, proto_st_from_errno(rc), NULL, 0);
		return;
	}
	chk_answer(d, m, PROTO_ST_OK, buf, len);
	free(buf);
}

/*
 * Move request @m to a worker queue: ENVELOPE, routing frames, ARGS, DATA.
 * The frames are moved, not copied. A full queue (or too many body bytes
 * waiting for the writer) is answered PROTO_ST_BUSY.
 */
static void chk_queue(struct chk_daemon *d, void *sock, struct proto_zmsg *m, bool writer)
{
	uint64_t bytes = zmq_msg_size(&m->args) + zmq_msg_size(&m->data);
	struct chk_env env;
	int i;

	memset(&env, 0, sizeof(env));
	env.kind = CHK_ENV_REQ;
	env.nroute = (uint8_t)m->nroute;
	env.hdr = m->hdr;

	if (writer) {
		uint64_t prev = atomic_fetch_add(&d->write_inflight, bytes);

		if (prev + bytes > CHK_WRITE_INFLIGHT_MAX && prev > 0)
			goto busy_undo;
	}
	if (zmq_send(sock, &env, sizeof(env), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		goto busy_undo;
	/* the first part went in: the rest of the message is accepted too */
	for (i = 0; i < m->nroute; i++)
		zmq_msg_send(&m->route[i], sock, ZMQ_SNDMORE);
	zmq_msg_send(&m->args, sock, ZMQ_SNDMORE);
	zmq_msg_send(&m->data, sock, 0);
	return;

busy_undo:
	if (writer)
		atomic_fetch_sub(&d->write_inflight, bytes);
	atomic_fetch_add_explicit(&d->n_busy, 1, memory_order_relaxed);
	chk_answer(d, m, PROTO_ST_BUSY, NULL, 0);
}

static void chk_dispatch(struct chk_daemon *d, struct proto_zmsg *m)
{
	if (m->hdr.flags & PROTO_HF_REPLY) {
		/* never answer a reply: two daemons would ping-pong forever */
		atomic_fetch_add_explicit(&d->n_dropped, 1, memory_order_relaxed);
		return;
	}
	switch (m->hdr.opcode) {
	case PROTO_OP_HELLO:
		chk_hello(d, m);
		break;
	case PROTO_OP_LAYOUT_GET:
		chk_layout_get(d, m);
		break;
	case PROTO_OP_PUT:
	case PROTO_OP_PATCH:
	case PROTO_OP_SYNC:
	case PROTO_OP_REBUILT:
	case PROTO_OP_PENDING_ADD:
	case PROTO_OP_PENDING_DEL:
	case PROTO_OP_TOMB_CONFIRM:
	case PROTO_OP_PURGE:
	case PROTO_OP_DROP:
	case PROTO_OP_LAYOUT_SET:
		chk_queue(d, d->to_write, m, true);
		break;
	case PROTO_OP_GET:
	case PROTO_OP_HEAD:
	case PROTO_OP_LIST:
	case PROTO_OP_SCAN:
	case PROTO_OP_DIGEST:
	case PROTO_OP_STAT:
	case PROTO_OP_PENDING_LIST:
		chk_queue(d, d->to_read, m, false);
		break;
	default:
		chk_reject(d, m, -EOPNOTSUPP);
		break;
	}
}

static void chk_take_requests(struct chk_daemon *d)
{
	struct proto_zmsg m;
	int n, rc;

	for (n = 0; n < CHK_REACTOR_BURST; n++) {
		memset(&m, 0, sizeof(m));
		rc = proto_zrecv(d->router, &m, ZMQ_DONTWAIT, 1);
		if (rc == -EAGAIN || rc == -EINTR || rc == -ETERM) {
			proto_zmsg_close(&m);
			break;
		}
		if (rc < 0)
			chk_reject(d, &m, rc);
		else
			chk_dispatch(d, &m);
		proto_zmsg_close(&m);
	}
}

/* Move finished replies from the workers to the ROUTER, frame by frame. */
static void chk_forward_replies(struct chk_daemon *d)
{
	zmq_msg_t f;
	int n, more, fail;

	for (n = 0; n < CHK_REACTOR_BURST; n++) {
		zmq_msg_init(&f);
		if (zmq_msg_recv(&f, d->replies, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&f);
			return;
		}
		fail = 0;
		for (;;) {
			more = zmq_msg_more(&f);
			if (!fail && zmq_msg_send(&f, d->router,
						  (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
				fail = 1;
			zmq_msg_close(&f);
			if (!more)
				break;
			zmq_msg_init(&f);
			if (zmq_msg_recv(&f, d->replies, 0) < 0) {
				zmq_msg_close(&f);
				break;
			}
		}
		if (fail)
			atomic_fetch_add_explicit(&d->n_reply_lost, 1, memory_order_relaxed);
	}
}

static void chk_log_counters(struct chk_daemon *d, uint64_t last[4])
{
	uint64_t now[4] = {
		atomic_load_explicit(&d->n_dropped, memory_order_relaxed),
		atomic_load_explicit(&d->n_badreq, memory_order_relaxed),
		atomic_load_explicit(&d->n_busy, memory_order_relaxed),
		atomic_load_explicit(&d->n_reply_lost, memory_order_relaxed),
	};

	if (memcmp(now, last, sizeof(now)) == 0)
		return;
	qlog_warn("malformed dropped %" PRIu64 " answered %" PRIu64 ", busy %" PRIu64
		  ", replies lost %" PRIu64 " (totals)",
		  now[0], now[1], now[2], now[3]);
	memcpy(last, now, sizeof(now));
}

int chk_reactor_run(struct chk_daemon *d)
{
	zmq_pollitem_t it[3] = {
		{ d->replies, 0, ZMQ_POLLIN, 0 },
		{ d->router, 0, ZMQ_POLLIN, 0 },
		{ NULL, d->sigfd, ZMQ_POLLIN, 0 },
	};
	uint64_t last[4] = { 0, 0, 0, 0 };
	uint64_t next_log = proto_wall_ms() + CHK_COUNTER_LOG_MS;
	int rc = 0;

	for (;;) {
		if (zmq_poll(it, 3, 1000) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			qlog_err("poll: %s", zmq_strerror(errno));
			break;
		}
		if (it[2].revents & ZMQ_POLLIN) {
			struct signalfd_siginfo si;

			if (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					if (d->zap)
						chk_zap_reload(d->zap); /* logs the outcome */
					else
						qlog_info("SIGHUP: no allow list to reload "
							  "(plaintext)");
				} else {
					qlog_info("signal %u: shutting down", si.ssi_signo);
					break;
				}
			}
		}
		if (it[0].revents & ZMQ_POLLIN)
			chk_forward_replies(d);
		if (it[1].revents & ZMQ_POLLIN)
			chk_take_requests(d);
		if (proto_wall_ms() >= next_log) {
			chk_log_counters(d, last);
			next_log = proto_wall_ms() + CHK_COUNTER_LOG_MS;
		}
	}
	atomic_store(&d->stop, true);
	chk_log_counters(d, last);
	return rc;
}
