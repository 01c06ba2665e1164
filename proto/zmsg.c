// SPDX-License-Identifier: MIT
/*
 * zmsg.c - one protocol message over ZeroMQ: receive every frame, check the
 * frame count, the header and the frame sizes before anything is decoded;
 * send routing frames, header, args and data as one multipart message.
 *
 * Invariants: proto_zrecv() always consumes a whole message (every frame up
 * to the last without ZMQ_RCVMORE), so an error never leaves the socket in
 * the middle of one; it keeps at most PROTO_ZROUTE_MAX + 3 frames at a time.
 * The caller owns the socket and uses it from one thread.
 */
#include <errno.h>
#include <string.h>

#include "proto/zmsg.h"

#define PROTO_ZKEEP (PROTO_ZROUTE_MAX + PROTO_FRAMES)

void proto_zmsg_close(struct proto_zmsg *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nroute && i < PROTO_ZROUTE_MAX; i++)
		zmq_msg_close(&m->route[i]);
	m->nroute = 0;
	zmq_msg_close(&m->args);
	zmq_msg_close(&m->data);
}

/* Receive one frame, retrying EINTR once a message has begun (parts of a
 * multipart message arrive together, so the rest is already queued). */
static int proto_zrecv_frame(void *sock, zmq_msg_t *f, int flags, bool first)
{
	for (;;) {
		if (zmq_msg_recv(f, sock, first ? flags : 0) >= 0)
			return 0;
		if (errno != EINTR || first)
			return -errno;
	}
}

int proto_zrecv(void *sock, struct proto_zmsg *m, int flags, int routed)
{
	zmq_msg_t f[PROTO_ZKEEP], extra;
	int n = 0, total = 0, rc = 0, hi, nroute, keep;
	bool more = true;

	memset(&m->hdr, 0, sizeof(m->hdr));
	m->nroute = 0;
	zmq_msg_init(&m->args);
	zmq_msg_init(&m->data);

	while (more) {
		zmq_msg_t *cur = n < PROTO_ZKEEP ? &f[n] : &extra;

		zmq_msg_init(cur);
		rc = proto_zrecv_frame(sock, cur, flags, total == 0);
		if (rc) {
			zmq_msg_close(cur);
			goto out_close;
		}
		more = zmq_msg_more(cur);
		total++;
		if (n < PROTO_ZKEEP)
			n++;
		else
			zmq_msg_close(&extra); /* too many frames: drained */
	}

	nroute = total - PROTO_FRAMES;
	if (total < PROTO_FRAMES || (routed && nroute < 1) || (!routed && nroute != 0) ||
	    nroute > PROTO_ZROUTE_MAX) {
		/* Keep what routing frames we can so a ROUTER can still answer. */
		keep = routed ? (total > PROTO_FRAMES ? nroute : 1) : 0;
		if (keep > PROTO_ZROUTE_MAX)
			keep = PROTO_ZROUTE_MAX;
		if (keep > n)
			keep = n;
		for (int i = 0; i < keep; i++) {
			zmq_msg_init(&m->route[i]);
			zmq_msg_move(&m->route[i], &f[i]);
		}
		m->nroute = keep;
		for (int i = 0; i < n; i++)
			zmq_msg_close(&f[i]); /* moved-from frames are empty */
		return -EBADMSG;
	}

	hi = nroute;
	for (int i = 0; i < nroute; i++) {
		zmq_msg_init(&m->route[i]);
		zmq_msg_move(&m->route[i], &f[i]);
		zmq_msg_close(&f[i]);
	}
	m->nroute = nroute;
	rc = proto_hdr_decode(zmq_msg_data(&f[hi]), zmq_msg_size(&f[hi]), &m->hdr);
	if (!rc && (zmq_msg_size(&f[hi + 1]) != m->hdr.args_len ||
		    zmq_msg_size(&f[hi + 2]) != m->hdr.data_len))
		rc = -EBADMSG;
	if (!rc) {
		zmq_msg_move(&m->args, &f[hi + 1]);
		zmq_msg_move(&m->data, &f[hi + 2]);
	}
	for (int i = hi; i < n; i++)
		zmq_msg_close(&f[i]);
	return rc;

out_close:
	for (int i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
	zmq_msg_close(&m->args);
	zmq_msg_close(&m->data);
	zmq_msg_init(&m->args);
	zmq_msg_init(&m->data);
	return rc;
}

static int proto_zsend_buf(void *sock, const void *p, size_t n, int flags)
{
	static const uint8_t empty;

	if (zmq_send(sock, n ? p : &empty, n, flags) < 0)
		return -errno;
	return 0;
}

int proto_zsend(void *sock, const struct proto_zmsg *route, struct proto_hdr *h,
		const void *args, size_t alen, const void *data, size_t dlen,
		zmq_msg_t *data_msg, int flags)
{
	uint8_t hb[PROTO_HDR_LEN];
	int rc = 0, nroute = route ? route->nroute : 0;

	if (data_msg)
		dlen = zmq_msg_size(data_msg);
	if (alen > PROTO_ARGS_MAX || dlen > PROTO_DATA_MAX || nroute < 0 ||
	    nroute > PROTO_ZROUTE_MAX) {
		rc = -EMSGSIZE;
		goto out;
	}
	h->args_len = (uint32_t)alen;
	h->data_len = (uint32_t)dlen;
	proto_hdr_encode(h, hb);

	for (int i = 0; i < nroute; i++) {
		zmq_msg_t c;

		zmq_msg_init(&c);
		/* zmq_msg_copy shares the content; the caller's frame stays valid. */
		if (zmq_msg_copy(&c, (zmq_msg_t *)&route->route[i]) < 0 ||
		    zmq_msg_send(&c, sock, flags | ZMQ_SNDMORE) < 0) {
			rc = -errno;
			zmq_msg_close(&c);
			goto out;
		}
	}
	rc = proto_zsend_buf(sock, hb, sizeof(hb), flags | ZMQ_SNDMORE);
	if (!rc)
		rc = proto_zsend_buf(sock, args, alen, flags | ZMQ_SNDMORE);
	if (rc)
		goto out;
	if (data_msg) {
		if (zmq_msg_send(data_msg, sock, flags) < 0)
			rc = -errno;
	} else {
		rc = proto_zsend_buf(sock, data, dlen, flags);
	}
out:
	if (data_msg)
		zmq_msg_close(data_msg); /* consumed, sent or not */
	return rc;
}
