// SPDX-License-Identifier: MIT
/*
 * reader.c - the reader pool: --threads threads that answer GET, HEAD, LIST,
 * SCAN, DIGEST, STAT and PENDING_LIST from the store, concurrently with the writer (the
 * store allows reads from any thread). Each reader decodes the ARGS it is
 * handed (the reactor checked frames and header only), answers every request
 * exactly once, and sends a GET body back as the malloc'ed buffer the store
 * returned, wrapped in a zmq_msg_t (no copy). A GET that hits a corrupt block
 * answers PROTO_ST_CORRUPT and asks the writer to mark the record. A read
 * routed by an older layout than the stored one is answered
 * PROTO_ST_STALE_LAYOUT (chk_layout_stale).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "chunkd/server.h"
#include "proto/log.h"
#include "proto/status.h"

static void chk_free_body(void *data, void *hint)
{
	(void)hint;
	free(data);
}

/* Answer @m with status from errno @rc and no ARGS. */
static void chk_reply_err(struct chk_worker *w, const struct proto_zmsg *m, int rc)
{
	chk_reply(w->d, w->reply, m, proto_st_from_errno(rc), NULL, 0, NULL);
}

/* Answer with the encoded @wr, or NOMEM if encoding ran out of memory. */
static void chk_reply_wr(struct chk_worker *w, const struct proto_zmsg *m, struct proto_wr *wr,
			 zmq_msg_t *data)
{
	if (wr->bad) {
		if (data)
			zmq_msg_close(data);
		chk_reply(w->d, w->reply, m, PROTO_ST_NOMEM, NULL, 0, NULL);
		return;
	}
	chk_reply(w->d, w->reply, m, PROTO_ST_OK, wr->buf, wr->len, data);
}

/*
 * A read hit a bad block of @key at @ver (the version that failed; zero when
 * the store did not say): ask the writer to mark exactly that version, so a
 * newer record written meanwhile is never marked by mistake.
 */
static void chk_note_bad(struct chk_worker *w, const struct proto_key *key,
			 const struct proto_version *ver)
{
	struct proto_version v = *ver;
	struct proto_meta meta;
	char kb[96];

	if (proto_version_is_zero(&v)) {
		if (chk_store_head(w->d->store, key, &meta) < 0)
			return;
		v = meta.ver;
	}
	qlog_warn("%s: corrupt block found by a read", proto_key_str(key, kb, sizeof(kb)));
	if (chk_note_corrupt(w->note, key, &v) < 0)
		qlog_warn("%s: corruption note dropped (writer queue full)", kb);
}

static void chk_do_get(struct chk_worker *w, const struct proto_zmsg *m, const void *a,
		       size_t alen, size_t dlen)
{
	struct proto_get_req q;
	struct proto_get_rep *rep;
	struct proto_wr wr;
	zmq_msg_t body;
	void *data = NULL;
	size_t len = 0;
	int rc;

	rc = proto_decode_get_req(a, alen, dlen, &q);
	if (rc < 0) {
		chk_reply_err(w, m, rc);
		return;
	}
	rep = calloc(1, sizeof(*rep));
	if (!rep) {
		chk_reply_err(w, m, -ENOMEM);
		return;
	}
	rc = chk_store_get(w->d->store, &q, rep, &data, &len);
	if (rc == -EBADE)
		chk_note_bad(w, &q.key, &rep->meta.ver);
	if (rc < 0) {
		free(data);
		free(rep);
		chk_reply_err(w, m, rc);
		return;
	}
	proto_wr_init(&wr);
	proto_encode_get_rep(&wr, rep);
	free(rep);
	if (data && len) {
		if (zmq_msg_init_data(&body, data, len, chk_free_body, NULL) < 0) {
			free(data);
			proto_wr_free(&wr);
			chk_reply_err(w, m, -ENOMEM);
			return;
		}
		chk_reply_wr(w, m, &wr, &body);
	} else {
		free(data);
		chk_reply_wr(w, m, &wr, NULL);
	}
	proto_wr_free(&wr);
}

static void chk_do_head(struct chk_worker *w, const struct proto_zmsg *m, const void *a,
			size_t alen, size_t dlen)
{
	struct proto_head_req q;
	struct proto_meta meta;
	struct proto_wr wr;
	int rc;

	rc = proto_decode_head_req(a, alen, dlen, &q);
	if (rc < 0) {
		chk_reply_err(w, m, rc);
		return;
	}
	rc = chk_store_head(w->d->store, &q.key, &meta);
	if (rc < 0) {
		chk_reply_err(w, m, rc);
		return;
	}
	proto_wr_init(&wr);
	proto_encode_head_rep(&wr, &meta);
	chk_reply_wr(w, m, &wr, NULL);
	proto_wr_free(&wr);
}

static void chk_do_page(struct chk_worker *w, const struct proto_zmsg *m, const void *a,
			size_t alen, size_t dlen, bool list)
{
	struct proto_list_req lq;
	struct proto_scan_req sq;
	struct proto_wr wr;
	int rc;

	if (list)
		rc = proto_decode_list_req(a, alen, dlen, &lq);
	else if (m->hdr.opcode == PROTO_OP_PENDING_LIST) /* SCAN's layout, no filter */
		rc = proto_decode_pending_list_req(a, alen, dlen, &sq);
	else
		rc = proto_decode_scan_req(a, alen, dlen, &sq);
	if (rc < 0) {
		chk_reply_err(w, m, rc);
		return;
	}
	proto_wr_init(&wr);
	if (list)
		rc = chk_store_list(w->d->store, &lq, &wr);
	else if (m->hdr.opcode == PROTO_OP_PENDING_LIST)
		rc = chk_store_pending_list(w->d->store, &sq, &wr);
	else
		rc = chk_store_scan(w->d->store, &sq, &wr);
	if (rc < 0)
		chk_reply_err(w, m, rc);
	else
		chk_reply_wr(w, m, &wr, NULL);
	proto_wr_free(&wr);
}

static void chk_do_digest(struct chk_worker *w, const struct proto_zmsg *m, const void *a,
			  size_t alen, size_t dlen)
{
	struct proto_digest_req q;
	struct proto_wr wr;
	uint64_t *d;
	int rc;

	rc = proto_decode_digest_req(a, alen, dlen, &q);
	if (rc < 0) {
		chk_reply_err(w, m, rc);
		return;
	}
	d = malloc((size_t)q.count * sizeof(*d)); /* count bounded by the decoder */
	if (!d) {
		chk_reply_err(w, m, -ENOMEM);
		return;
	}
	rc = chk_store_digest(w->d->store, q.first, q.count, d);
	if (rc < 0) {
		free(d);
		chk_reply_err(w, m, rc);
		return;
	}
	proto_wr_init(&wr);
	proto_encode_digest_rep(&wr, q.first, q.count, d);
	free(d);
	if (wr.bad)
		chk_reply_err(w, m, -ENOMEM);
	else
		chk_reply_wr(w, m, &wr, NULL);
	proto_wr_free(&wr);
}

static void chk_do_stat(struct chk_worker *w, const struct proto_zmsg *m, const void *a,
			size_t alen, size_t dlen)
{
	struct proto_stat_rep p;
	struct proto_wr wr;
	int rc;

	rc = proto_decode_stat_req(a, alen, dlen);
	if (rc < 0) {
		chk_reply_err(w, m, rc);
		return;
	}
	memset(&p, 0, sizeof(p));
	rc = chk_store_stat(w->d->store, &p);
	if (rc < 0) {
		chk_reply_err(w, m, rc);
		return;
	}
	p.uptime_s = (proto_wall_ms() - w->d->start_ms) / 1000;
	if (!p.software[0])
		snprintf(p.software, sizeof(p.software), "%s", QFS_VERSION);
	proto_wr_init(&wr);
	proto_encode_stat_rep(&wr, &p);
	chk_reply_wr(w, m, &wr, NULL);
	proto_wr_free(&wr);
}

static void chk_read_one(struct chk_worker *w, const struct proto_zmsg *m)
{
	const void *a = zmq_msg_data((zmq_msg_t *)&m->args);
	size_t alen = zmq_msg_size((zmq_msg_t *)&m->args);
	size_t dlen = zmq_msg_size((zmq_msg_t *)&m->data);

	if (chk_layout_stale(w->d, &m->hdr)) {
		qlog_debug("%s #%" PRIu64 ": stale_layout (v%" PRIu32 ")", proto_op_name(m->hdr.opcode),
			   m->hdr.reqid, m->hdr.layout);
		chk_reply(w->d, w->reply, m, PROTO_ST_STALE_LAYOUT, NULL, 0, NULL);
		return;
	}
	switch (m->hdr.opcode) {
	case PROTO_OP_GET:
		chk_do_get(w, m, a, alen, dlen);
		break;
	case PROTO_OP_HEAD:
		chk_do_head(w, m, a, alen, dlen);
		break;
	case PROTO_OP_LIST:
		chk_do_page(w, m, a, alen, dlen, true);
		break;
	case PROTO_OP_SCAN:
	case PROTO_OP_PENDING_LIST:
		chk_do_page(w, m, a, alen, dlen, false);
		break;
	case PROTO_OP_DIGEST:
		chk_do_digest(w, m, a, alen, dlen);
		break;
	case PROTO_OP_STAT:
		chk_do_stat(w, m, a, alen, dlen);
		break;
	default:
		chk_reply_err(w, m, -EOPNOTSUPP);
		break;
	}
}

/* Reader thread: one request at a time until the daemon stops. */
void *chk_reader_main(void *arg)
{
	struct chk_worker *w = arg;
	struct chk_daemon *d = w->d;
	struct proto_zmsg m;
	struct chk_env env;
	int rc;

	while (!atomic_load(&d->stop)) {
		rc = chk_env_recv(w->in, &env, &m, CHK_POLL_MS);
		if (rc == 0 && env.kind == CHK_ENV_REQ)
			chk_read_one(w, &m);
		proto_zmsg_close(&m);
		if (rc == -ETERM)
			break;
	}
	zmq_close(w->in);
	zmq_close(w->reply);
	zmq_close(w->note);
	w->in = w->reply = w->note = NULL;
	return NULL;
}
