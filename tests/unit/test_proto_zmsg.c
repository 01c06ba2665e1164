// SPDX-License-Identifier: MIT
/*
 * test_proto_zmsg.c - one message over ZeroMQ inproc sockets: DEALER to
 * ROUTER and back with routing frames kept, zero-copy DATA, PAIR sockets,
 * and the rejections (wrong frame count, too many routing frames, frame
 * sizes not matching the header, a bad header) after which the socket is
 * still aligned on message boundaries.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/status.h"
#include "proto/zmsg.h"

struct pair {
	void *ctx, *a, *b;
};

static int setup_dealer_router(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	int linger = 0;

	p->ctx = zmq_ctx_new();
	p->b = zmq_socket(p->ctx, ZMQ_ROUTER);
	p->a = zmq_socket(p->ctx, ZMQ_DEALER);
	zmq_setsockopt(p->a, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(p->b, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(p->b, "inproc://proto-router") || zmq_connect(p->a, "inproc://proto-router"))
		return -1;
	*state = p;
	return 0;
}

static int setup_pair(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	int linger = 0;

	p->ctx = zmq_ctx_new();
	p->b = zmq_socket(p->ctx, ZMQ_PAIR);
	p->a = zmq_socket(p->ctx, ZMQ_PAIR);
	zmq_setsockopt(p->a, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(p->b, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(p->b, "inproc://proto-pair") || zmq_connect(p->a, "inproc://proto-pair"))
		return -1;
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	zmq_close(p->a);
	zmq_close(p->b);
	zmq_ctx_term(p->ctx);
	free(p);
	return 0;
}

static void send_raw(void *s, int nframes, const void *const *bufs, const size_t *lens)
{
	for (int i = 0; i < nframes; i++)
		assert_true(zmq_send(s, bufs[i], lens[i], i + 1 < nframes ? ZMQ_SNDMORE : 0) >= 0);
}

static void send_ok(void *s, uint64_t reqid)
{
	struct proto_hdr h = { .version = PROTO_VERSION, .opcode = PROTO_OP_SYNC, .reqid = reqid };

	assert_int_equal(proto_zsend(s, NULL, &h, NULL, 0, NULL, 0, NULL, 0), 0);
}

static void test_proto_zmsg_dealer_router(void **state)
{
	struct pair *p = *state;
	struct proto_hdr h = { .version = PROTO_VERSION, .opcode = PROTO_OP_PUT, .reqid = 7 };
	struct proto_zmsg m, r;
	uint8_t args[10] = "argsbytes", data[3000];

	memset(data, 0xd5, sizeof(data));
	assert_int_equal(proto_zsend(p->a, NULL, &h, args, sizeof(args), data, sizeof(data), NULL,
				     0),
			 0);
	assert_int_equal(h.args_len, sizeof(args));
	assert_int_equal(h.data_len, sizeof(data));
	assert_int_equal(proto_zrecv(p->b, &m, 0, 1), 0);
	assert_int_equal(m.nroute, 1);
	assert_int_equal(m.hdr.opcode, PROTO_OP_PUT);
	assert_int_equal(m.hdr.reqid, 7);
	assert_int_equal(zmq_msg_size(&m.args), sizeof(args));
	assert_memory_equal(zmq_msg_data(&m.args), args, sizeof(args));
	assert_int_equal(zmq_msg_size(&m.data), sizeof(data));
	assert_memory_equal(zmq_msg_data(&m.data), data, sizeof(data));

	/* Reply through the kept route, twice: the route stays valid. DATA
	 * goes as a zmq_msg_t without a copy. */
	for (int i = 0; i < 2; i++) {
		zmq_msg_t dm;
		struct proto_hdr rh = { .version = PROTO_VERSION,
					.opcode = PROTO_OP_PUT,
					.flags = PROTO_HF_REPLY,
					.status = 0,
					.reqid = m.hdr.reqid };

		zmq_msg_init_size(&dm, 5);
		memcpy(zmq_msg_data(&dm), "hello", 5);
		assert_int_equal(proto_zsend(p->b, &m, &rh, "ab", 2, NULL, 0, &dm, 0), 0);
		assert_int_equal(proto_zrecv(p->a, &r, 0, 0), 0);
		assert_int_equal(r.nroute, 0);
		assert_int_equal(r.hdr.flags, PROTO_HF_REPLY);
		assert_int_equal(r.hdr.reqid, 7);
		assert_int_equal(r.hdr.data_len, 5);
		assert_memory_equal(zmq_msg_data(&r.data), "hello", 5);
		assert_memory_equal(zmq_msg_data(&r.args), "ab", 2);
		proto_zmsg_close(&r);
		proto_zmsg_close(&r); /* twice is harmless */
	}
	proto_zmsg_close(&m);

	/* Nothing queued: EAGAIN with DONTWAIT. */
	assert_int_equal(proto_zrecv(p->b, &m, ZMQ_DONTWAIT, 1), -EAGAIN);
	proto_zmsg_close(&m);
}

static void test_proto_zmsg_router_rejects(void **state)
{
	struct pair *p = *state;
	struct proto_hdr h = { .version = PROTO_VERSION, .opcode = PROTO_OP_GET, .reqid = 9 };
	uint8_t hb[PROTO_HDR_LEN];
	struct proto_zmsg m, r;
	const void *bufs[8];
	size_t lens[8];

	/* Two frames only: BADMSG, identity kept so the router can answer. */
	h.args_len = 1;
	proto_hdr_encode(&h, hb);
	bufs[0] = hb;
	lens[0] = sizeof(hb);
	bufs[1] = "x";
	lens[1] = 1;
	send_raw(p->a, 2, bufs, lens);
	send_ok(p->a, 100);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 1), -EBADMSG);
	assert_int_equal(m.nroute, 1);
	{
		struct proto_hdr rh = { .version = PROTO_VERSION, .opcode = PROTO_OP_GET,
					.flags = PROTO_HF_REPLY, .status = PROTO_ST_BADMSG };

		assert_int_equal(proto_zsend(p->b, &m, &rh, NULL, 0, NULL, 0, NULL, 0), 0);
		assert_int_equal(proto_zrecv(p->a, &r, 0, 0), 0);
		assert_int_equal(r.hdr.status, PROTO_ST_BADMSG);
		proto_zmsg_close(&r);
	}
	proto_zmsg_close(&m);
	/* The next message is intact. */
	assert_int_equal(proto_zrecv(p->b, &m, 0, 1), 0);
	assert_int_equal(m.hdr.reqid, 100);
	proto_zmsg_close(&m);

	/* One frame. */
	send_raw(p->a, 1, bufs, lens);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 1), -EBADMSG);
	proto_zmsg_close(&m);

	/* Too many routing frames: 1 identity + 4 extra + 3. */
	for (int i = 0; i < 7; i++) {
		bufs[i] = "r";
		lens[i] = 1;
	}
	h.args_len = 0;
	proto_hdr_encode(&h, hb);
	bufs[4] = hb;
	lens[4] = sizeof(hb);
	lens[5] = 0;
	lens[6] = 0;
	send_raw(p->a, 7, bufs, lens);
	send_ok(p->a, 101);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 1), -EBADMSG);
	assert_int_equal(m.nroute, PROTO_ZROUTE_MAX);
	proto_zmsg_close(&m);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 1), 0);
	assert_int_equal(m.hdr.reqid, 101);
	proto_zmsg_close(&m);

	/* Up to PROTO_ZROUTE_MAX routing frames are accepted (proxies). */
	send_raw(p->a, 6, bufs + 1, lens + 1);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 1), 0);
	assert_int_equal(m.nroute, PROTO_ZROUTE_MAX);
	proto_zmsg_close(&m);

	/* Frame sizes not matching the header. */
	h.args_len = 5;
	h.data_len = 0;
	proto_hdr_encode(&h, hb);
	bufs[0] = hb;
	lens[0] = sizeof(hb);
	bufs[1] = "abc";
	lens[1] = 3;
	bufs[2] = "";
	lens[2] = 0;
	send_raw(p->a, 3, bufs, lens);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 1), -EBADMSG);
	assert_int_equal(m.hdr.reqid, 9);
	proto_zmsg_close(&m);
	h.args_len = 3;
	h.data_len = 1;
	proto_hdr_encode(&h, hb);
	send_raw(p->a, 3, bufs, lens);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 1), -EBADMSG);
	proto_zmsg_close(&m);

	/* Bad magic: the header error, with reqid and opcode still read. */
	h.data_len = 0;
	proto_hdr_encode(&h, hb);
	hb[0] = 'X';
	send_raw(p->a, 3, bufs, lens);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 1), -EPROTO);
	assert_int_equal(m.hdr.reqid, 9);
	assert_int_equal(m.hdr.opcode, PROTO_OP_GET);
	assert_int_equal(m.nroute, 1);
	proto_zmsg_close(&m);
	hb[0] = 'Q';
	hb[5] = 99;
	send_raw(p->a, 3, bufs, lens);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 1), -EOPNOTSUPP);
	proto_zmsg_close(&m);
	/* Short header frame. */
	lens[0] = 5;
	send_raw(p->a, 3, bufs, lens);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 1), -EBADMSG);
	proto_zmsg_close(&m);

	send_ok(p->a, 102);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 1), 0);
	assert_int_equal(m.hdr.reqid, 102);
	proto_zmsg_close(&m);
}

static void test_proto_zmsg_pair(void **state)
{
	struct pair *p = *state;
	struct proto_hdr h = { .version = PROTO_VERSION, .opcode = PROTO_OP_STAT, .reqid = 1 };
	uint8_t hb[PROTO_HDR_LEN];
	struct proto_zmsg m;
	const void *bufs[4];
	size_t lens[4];

	send_ok(p->a, 5);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 0), 0);
	assert_int_equal(m.nroute, 0);
	assert_int_equal(m.hdr.reqid, 5);
	proto_zmsg_close(&m);

	/* Four frames on a non-routed socket. */
	proto_hdr_encode(&h, hb);
	bufs[0] = "id";
	lens[0] = 2;
	bufs[1] = hb;
	lens[1] = sizeof(hb);
	bufs[2] = "";
	lens[2] = 0;
	bufs[3] = "";
	lens[3] = 0;
	send_raw(p->a, 4, bufs, lens);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 0), -EBADMSG);
	assert_int_equal(m.nroute, 0);
	proto_zmsg_close(&m);
	/* Two frames. */
	send_raw(p->a, 2, bufs + 1, lens + 1);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 0), -EBADMSG);
	proto_zmsg_close(&m);
	/* Exactly three is fine. */
	send_raw(p->a, 3, bufs + 1, lens + 1);
	assert_int_equal(proto_zrecv(p->b, &m, 0, 0), 0);
	assert_int_equal(m.hdr.opcode, PROTO_OP_STAT);
	proto_zmsg_close(&m);

	/* Sending over the limits is refused and DATA is still consumed. */
	zmq_msg_t dm;
	zmq_msg_init_size(&dm, 1);
	assert_int_equal(proto_zsend(p->a, NULL, &h, "x", PROTO_ARGS_MAX + 1, NULL, 0, &dm, 0),
			 -EMSGSIZE);
	assert_int_equal(proto_zrecv(p->b, &m, ZMQ_DONTWAIT, 0), -EAGAIN);
	proto_zmsg_close(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_proto_zmsg_dealer_router,
						setup_dealer_router, teardown),
		cmocka_unit_test_setup_teardown(test_proto_zmsg_router_rejects,
						setup_dealer_router, teardown),
		cmocka_unit_test_setup_teardown(test_proto_zmsg_pair, setup_pair, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
