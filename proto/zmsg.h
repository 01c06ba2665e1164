/* SPDX-License-Identifier: MIT */
/*
 * zmsg.h - send and receive one protocol message (HEADER, ARGS, DATA) on a
 * ZeroMQ socket, with the frame checks done before any decoding.
 *
 * The caller owns the socket and uses it from one thread only. On a ROUTER
 * socket the routing-id frames come first: proto_zrecv() keeps them in
 * m->route (up to PROTO_ZROUTE_MAX frames) and proto_zsend_route() sends them.
 */
#ifndef QFS_PROTO_ZMSG_H
#define QFS_PROTO_ZMSG_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "proto/wire.h"

#define PROTO_ZROUTE_MAX 4

struct proto_zmsg {
	int nroute;			      /* routing frames kept (ROUTER only) */
	zmq_msg_t route[PROTO_ZROUTE_MAX];
	zmq_msg_t args;			      /* ARGS frame */
	zmq_msg_t data;			      /* DATA frame */
	struct proto_hdr hdr;		      /* decoded HEADER */
};

/*
 * Receive one message. @routed: the socket is a ROUTER (routing frames come
 * first, up to the empty-less boundary: frames before the last three).
 * Returns 0 with *m filled (release with proto_zmsg_close), or a negative
 * errno: -EAGAIN (ZMQ_DONTWAIT and none), -EINTR, -EBADMSG (wrong frame
 * count or sizes not matching the header), or a header error from
 * proto_hdr_decode(). On a header or frame error the message is consumed
 * entirely, m->route still holds the routing frames (so a ROUTER can
 * answer BADMSG) and m->hdr holds whatever reqid and opcode could be read.
 */
int proto_zrecv(void *sock, struct proto_zmsg *m, int flags, int routed);

/* Release every frame of @m; safe on a zeroed or closed message. */
void proto_zmsg_close(struct proto_zmsg *m);

/*
 * Send one message: the routing frames of @route (may be NULL), HEADER
 * (lengths filled in from @alen and @dlen), ARGS and DATA. @data, when not
 * NULL, is copied by ZeroMQ unless @data_msg is given: then that zmq_msg_t
 * is sent as the DATA frame without a copy and is consumed. Returns 0 or
 * -errno (-EAGAIN when the peer's queue is full with ZMQ_DONTWAIT).
 */
int proto_zsend(void *sock, const struct proto_zmsg *route, struct proto_hdr *h,
		const void *args, size_t alen, const void *data, size_t dlen,
		zmq_msg_t *data_msg, int flags);

#endif
