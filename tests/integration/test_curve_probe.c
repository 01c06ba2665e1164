// SPDX-License-Identifier: MIT
/*
 * test_curve_probe.c - a one-shot HELLO client for fs_curve.sh, to check
 * what a CURVE chunkd does with a peer at the socket level:
 *
 *   test_curve_probe plain EP WAIT_MS
 *       plaintext (NULL mechanism) DEALER sends HELLO; exit 0 when no
 *       answer came within WAIT_MS (refused), 1 when one came.
 *   test_curve_probe curve EP SERVER.pub CLIENT.pub CLIENT.key WAIT_MS
 *       CURVE DEALER sends HELLO; exit 0 on an OK answer, 3 when the socket
 *       monitor reports ZMQ_EVENT_HANDSHAKE_FAILED_AUTH, 1 otherwise.
 *
 * Every wait is bounded by WAIT_MS; exit 2 on bad usage or setup failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "proto/keyfile.h"
#include "proto/status.h"
#include "proto/version.h"
#include "tests/integration/chunkd_harness.h"

#define PROBE_MON_EP "inproc://probe-mon"

static int probe_key(const char *path, bool secret, char z85[PROTO_KEY_Z85_LEN + 1])
{
	char err[512];

	if (proto_keyfile_read(path, secret, z85, err, sizeof(err)) < 0) {
		fprintf(stderr, "test_curve_probe: %s\n", err);
		return -1;
	}
	return 0;
}

/* Wait for the HELLO answer: 0 OK, 4 another status, 3 auth refused, 1 none. */
static int probe_wait(struct chkh_client *c, void *mon, long wait_ms)
{
	uint64_t end = proto_wall_ms() + (uint64_t)wait_ms;
	zmq_pollitem_t it[2] = { { c->sock, 0, ZMQ_POLLIN, 0 }, { mon, 0, ZMQ_POLLIN, 0 } };

	for (;;) {
		uint64_t now = proto_wall_ms();
		int n = mon ? 2 : 1;

		if (now >= end)
			return 1;
		if (zmq_poll(it, n, (long)(end - now)) < 0)
			return 2;
		if (it[0].revents & ZMQ_POLLIN) {
			struct chkh_reply r;
			int rc = chkh_recv(c, &r, 0), st = r.status;

			chkh_reply_free(&r);
			if (rc == 0) {
				printf("answered: %s\n", proto_st_name(st));
				return st == PROTO_ST_OK ? 0 : 4;
			}
		}
		if (n == 2 && (it[1].revents & ZMQ_POLLIN)) {
			zmq_msg_t ev;
			uint16_t event = 0;

			zmq_msg_init(&ev);
			if (zmq_msg_recv(&ev, mon, 0) >= 2)
				memcpy(&event, zmq_msg_data(&ev), sizeof(event));
			zmq_msg_close(&ev);
			zmq_msg_init(&ev);
			zmq_msg_recv(&ev, mon, 0); /* endpoint */
			zmq_msg_close(&ev);
			if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
				printf("refused: handshake failed auth\n");
				return 3;
			}
		}
	}
}

int main(int argc, char **argv)
{
	char spub[PROTO_KEY_Z85_LEN + 1], cpub[PROTO_KEY_Z85_LEN + 1], csec[PROTO_KEY_Z85_LEN + 1];
	struct proto_hello_req q = { .min_version = 1, .max_version = PROTO_VERSION };
	struct chkh_client c = { .next_reqid = 1 };
	bool curve = argc == 7 && !strcmp(argv[1], "curve");
	int zero = 0, rc = 2;
	long wait_ms;
	char *end;
	void *mon = NULL;
	struct proto_wr w;

	if (!curve && !(argc == 4 && !strcmp(argv[1], "plain"))) {
		fprintf(stderr, "usage: test_curve_probe plain EP WAIT_MS\n"
				"       test_curve_probe curve EP SERVER.pub CLIENT.pub CLIENT.key "
				"WAIT_MS\n");
		return 2;
	}
	errno = 0;
	wait_ms = strtol(argv[argc - 1], &end, 10);
	if (errno || *end || wait_ms <= 0 || wait_ms > 60000)
		return 2;
	if (curve && (probe_key(argv[3], false, spub) || probe_key(argv[4], false, cpub) ||
		      probe_key(argv[5], true, csec)))
		return 2;

	c.ctx = zmq_ctx_new();
	c.sock = c.ctx ? zmq_socket(c.ctx, ZMQ_DEALER) : NULL;
	if (!c.sock)
		goto out;
	zmq_setsockopt(c.sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (curve) {
		if (zmq_setsockopt(c.sock, ZMQ_CURVE_SERVERKEY, spub, sizeof(spub)) ||
		    zmq_setsockopt(c.sock, ZMQ_CURVE_PUBLICKEY, cpub, sizeof(cpub)) ||
		    zmq_setsockopt(c.sock, ZMQ_CURVE_SECRETKEY, csec, sizeof(csec)))
			goto out;
		if (zmq_socket_monitor(c.sock, PROBE_MON_EP, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH))
			goto out;
		mon = zmq_socket(c.ctx, ZMQ_PAIR);
		if (!mon || zmq_connect(mon, PROBE_MON_EP))
			goto out;
	}
	if (zmq_connect(c.sock, argv[2]))
		goto out;
	q.clock = chkh_hlc_now();
	proto_wr_init(&w);
	proto_encode_hello_req(&w, &q);
	rc = chkh_send(&c, PROTO_OP_HELLO, w.buf, w.len, NULL, 0, NULL);
	proto_wr_free(&w);
	if (rc < 0) {
		rc = 2;
		goto out;
	}
	rc = probe_wait(&c, mon, wait_ms);
	if (curve && rc == 4)
		rc = 1;
	if (!curve) {
		if (rc == 1)
			printf("no answer in %ld ms\n", wait_ms);
		rc = rc == 1 ? 0 : rc == 2 ? 2 : 1;
	}
out:
	if (rc == 2)
		fprintf(stderr, "test_curve_probe: setup failed: %s\n", zmq_strerror(zmq_errno()));
	if (mon)
		zmq_close(mon);
	if (c.sock) {
		zmq_socket_monitor(c.sock, NULL, 0);
		zmq_close(c.sock);
	}
	if (c.ctx)
		zmq_ctx_term(c.ctx);
	memset(csec, 0, sizeof(csec));
	return rc;
}
