// SPDX-License-Identifier: MIT
/*
 * chunkbench.c - load generator for one chunkd: N requests in flight over
 * one DEALER socket, and one line of results per workload:
 *
 *   put4k    PUT 4 KiB chunks to distinct keys
 *   put1m    a stream of 1 MiB PUTs ending in one SYNC (timed to the SYNC)
 *   get4k    GET the 4 KiB chunks back, in random order
 *   get1m    GET the 1 MiB chunks back
 *   patch4k  PATCH 4 KiB at random offsets into the 1 MiB chunks
 *
 * Bodies are sent zero-copy from one buffer; every reply is checked for OK
 * (the first failure is printed and counted). Output, one line per test:
 *   TEST OPS SECONDS OPS/S MIB/S ERRORS
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "proto/msg.h"
#include "proto/status.h"
#include "proto/zmsg.h"

#define BENCH_TIMEOUT_MS 30000

struct bench {
	void *ctx, *sock;
	unsigned inflight;
	uint64_t ino;
	uint64_t writer;
	struct proto_hlc clock;
	uint64_t next_reqid;
	uint8_t *buf;		/* 1 MiB of payload */
	uint64_t sums4k[1], sum4k;
	uint64_t sums1m[PROTO_CHUNK_BLOCKS], sum1m;
	struct proto_version *ver1m; /* current version of each 1 MiB chunk */
	unsigned n4k, n1m;
	uint64_t rng;
	uint64_t errors;
};

typedef int (*bench_send_fn)(struct bench *b, unsigned i);

static double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t bench_rand(struct bench *b)
{
	uint64_t z = (b->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Send one request; @body (if any) is sent without a copy from b->buf. */
static int bench_send(struct bench *b, uint8_t op, struct proto_wr *w, const void *body,
		      size_t blen)
{
	struct proto_hdr h = { .version = PROTO_VERSION, .opcode = op };
	zmq_msg_t m;
	int rc;

	if (w->bad)
		return -ENOMEM;
	h.reqid = b->next_reqid++;
	if (blen) {
		zmq_msg_init_data(&m, (void *)body, blen, NULL, NULL);
		rc = proto_zsend(b->sock, NULL, &h, w->buf, w->len, NULL, 0, &m, 0);
	} else {
		rc = proto_zsend(b->sock, NULL, &h, w->buf, w->len, NULL, 0, NULL, 0);
	}
	return rc;
}

/* Wait for one reply; counts a non-OK status. Returns 0 or -errno. */
static int bench_recv(struct bench *b, const char *what)
{
	zmq_pollitem_t it = { b->sock, 0, ZMQ_POLLIN, 0 };
	struct proto_zmsg m;
	int rc;

	rc = zmq_poll(&it, 1, BENCH_TIMEOUT_MS);
	if (rc <= 0) {
		fprintf(stderr, "chunkbench: %s: no reply within %d ms\n", what, BENCH_TIMEOUT_MS);
		return -ETIMEDOUT;
	}
	memset(&m, 0, sizeof(m));
	rc = proto_zrecv(b->sock, &m, 0, 0);
	if (rc < 0) {
		fprintf(stderr, "chunkbench: %s: bad reply: %s\n", what, strerror(-rc));
		return rc;
	}
	if (m.hdr.status != PROTO_ST_OK) {
		if (!b->errors)
			fprintf(stderr, "chunkbench: %s: status %s\n", what,
				proto_st_name(m.hdr.status));
		b->errors++;
	}
	proto_zmsg_close(&m);
	return 0;
}

/* Run @n requests with b->inflight in flight; prints the result line. */
static int bench_run(struct bench *b, const char *name, unsigned n, size_t bytes_per_op,
		     bench_send_fn fn, bool sync_at_end)
{
	unsigned sent = 0, done = 0;
	double t0, dt;
	int rc;

	b->errors = 0;
	t0 = bench_now();
	while (done < n) {
		while (sent < n && sent - done < b->inflight) {
			rc = fn(b, sent);
			if (rc < 0) {
				fprintf(stderr, "chunkbench: %s: send: %s\n", name, strerror(-rc));
				return rc;
			}
			sent++;
		}
		rc = bench_recv(b, name);
		if (rc < 0)
			return rc;
		done++;
	}
	if (sync_at_end) {
		struct proto_wr w;

		proto_wr_init(&w);
		rc = bench_send(b, PROTO_OP_SYNC, &w, NULL, 0);
		proto_wr_free(&w);
		if (rc == 0)
			rc = bench_recv(b, "sync");
		if (rc < 0)
			return rc;
	}
	dt = bench_now() - t0;
	printf("%-8s %8u %8.3f %10.0f %9.1f %6" PRIu64 "\n", name, n, dt, n / dt,
	       (double)n * (double)bytes_per_op / dt / (1024.0 * 1024.0), b->errors);
	fflush(stdout);
	return b->errors ? -EIO : 0;
}

static int bench_put(struct bench *b, uint64_t index, uint32_t len, const uint64_t *sums,
		     uint64_t sum, struct proto_version *ver_out)
{
	struct proto_put_req *q = malloc(sizeof(*q));
	struct proto_wr w;
	int rc;

	if (!q)
		return -ENOMEM;
	memset(q, 0, offsetof(struct proto_put_req, sums));
	proto_key_chunk(&q->key, b->ino, index);
	q->meta.ver.hlc = proto_hlc_next(&b->clock, proto_wall_ms());
	q->meta.ver.writer = b->writer;
	q->meta.len = len;
	q->meta.sum = sum;
	q->nsums = (uint16_t)proto_nblocks(len);
	memcpy(q->sums, sums, q->nsums * sizeof(uint64_t));
	if (ver_out)
		*ver_out = q->meta.ver;
	proto_wr_init(&w);
	proto_encode_put_req(&w, q);
	rc = bench_send(b, PROTO_OP_PUT, &w, b->buf, len);
	proto_wr_free(&w);
	free(q);
	return rc;
}

static int send_put4k(struct bench *b, unsigned i)
{
	return bench_put(b, 1000000 + i, 4096, b->sums4k, b->sum4k, NULL);
}

static int send_put1m(struct bench *b, unsigned i)
{
	return bench_put(b, i, 1 << 20, b->sums1m, b->sum1m, &b->ver1m[i]);
}

static int bench_get(struct bench *b, uint64_t index)
{
	struct proto_get_req q = { .offset = 0, .length = PROTO_GET_WHOLE };
	struct proto_wr w;
	int rc;

	proto_key_chunk(&q.key, b->ino, index);
	proto_wr_init(&w);
	proto_encode_get_req(&w, &q);
	rc = bench_send(b, PROTO_OP_GET, &w, NULL, 0);
	proto_wr_free(&w);
	return rc;
}

static int send_get4k(struct bench *b, unsigned i)
{
	(void)i;
	return bench_get(b, 1000000 + bench_rand(b) % b->n4k);
}

static int send_get1m(struct bench *b, unsigned i)
{
	(void)i;
	return bench_get(b, bench_rand(b) % b->n1m);
}

/* PATCH chunk i % n1m: the writer applies one key's patches in order, so a
 * pipelined chain of base -> next versions never conflicts. */
static int send_patch4k(struct bench *b, unsigned i)
{
	unsigned c = i % b->n1m;
	struct proto_patch_req q;
	struct proto_wr w;
	int rc;

	memset(&q, 0, sizeof(q));
	proto_key_chunk(&q.key, b->ino, c);
	q.base = b->ver1m[c];
	q.ver.hlc = proto_hlc_next(&b->clock, proto_wall_ms());
	q.ver.writer = b->writer;
	q.offset = (uint32_t)(bench_rand(b) % 256) * 4096;
	q.sum = b->sums4k[0]; /* xxh3 of the DATA bytes */
	b->ver1m[c] = q.ver;
	proto_wr_init(&w);
	proto_encode_patch_req(&w, &q);
	rc = bench_send(b, PROTO_OP_PATCH, &w, b->buf, 4096);
	proto_wr_free(&w);
	return rc;
}

static void bench_usage(void)
{
	fprintf(stderr,
		"usage: chunkbench --connect ENDPOINT [--inflight N] [--small N] [--large N]\n"
		"                  [--patches N] [--gets N] [--ino INO] [--tests LIST]\n"
		"  LIST: comma-separated put4k,put1m,get4k,get1m,patch4k (default: all)\n");
}

static int bench_arg(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!s || s[0] < '0' || s[0] > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno || *end || v == 0 || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "chunkbench: --%s '%s': want a number from 1 to %" PRIu64 "\n", opt,
		s ? s : "", max);
	return -EINVAL;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "inflight", required_argument, NULL, 'i' },
		{ "small", required_argument, NULL, 's' },
		{ "large", required_argument, NULL, 'l' },
		{ "patches", required_argument, NULL, 'p' },
		{ "gets", required_argument, NULL, 'g' },
		{ "ino", required_argument, NULL, 'n' },
		{ "tests", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ep = NULL, *tests = "put4k,put1m,get4k,get1m,patch4k";
	uint64_t inflight = 16, small = 100000, large = 1024, patches = 100000, gets = 20000,
		 ino = 0;
	struct bench b;
	int c, rc = 0, zero = 0;

	while ((c = getopt_long(argc, argv, "c:i:s:l:p:g:n:t:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			ep = optarg;
			break;
		case 'i':
			rc = bench_arg("inflight", optarg, 4096, &inflight);
			break;
		case 's':
			rc = bench_arg("small", optarg, 10000000, &small);
			break;
		case 'l':
			rc = bench_arg("large", optarg, 100000, &large);
			break;
		case 'p':
			rc = bench_arg("patches", optarg, 10000000, &patches);
			break;
		case 'g':
			rc = bench_arg("gets", optarg, 10000000, &gets);
			break;
		case 'n':
			rc = bench_arg("ino", optarg, UINT64_MAX, &ino);
			break;
		case 't':
			tests = optarg;
			break;
		default:
			bench_usage();
			return 2;
		}
		if (rc)
			return 2;
	}
	if (!ep || optind != argc) {
		bench_usage();
		return 2;
	}

	memset(&b, 0, sizeof(b));
	b.inflight = (unsigned)inflight;
	b.n4k = (unsigned)small;
	b.n1m = (unsigned)large;
	b.rng = 42;
	b.next_reqid = 1;
	proto_hlc_init(&b.clock);
	b.writer = (uint64_t)time(NULL) * 2654435761u | 1;
	b.ino = ino ? ino : ((uint64_t)time(NULL) << 20 | 7);
	b.buf = malloc(1 << 20);
	b.ver1m = calloc(b.n1m, sizeof(*b.ver1m));
	if (!b.buf || !b.ver1m)
		return 1;
	for (size_t i = 0; i < (1u << 20); i++)
		b.buf[i] = (uint8_t)(i * 131 + (i >> 12));
	b.sum4k = proto_value_sums(b.buf, 4096, b.sums4k);
	b.sum1m = proto_value_sums(b.buf, 1 << 20, b.sums1m);

	b.ctx = zmq_ctx_new();
	b.sock = zmq_socket(b.ctx, ZMQ_DEALER);
	zmq_setsockopt(b.sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(b.sock, ep) < 0) {
		fprintf(stderr, "chunkbench: cannot connect to %s: %s\n", ep, zmq_strerror(errno));
		return 1;
	}
	printf("# endpoint %s, %u in flight\n", ep, b.inflight);
	printf("%-8s %8s %8s %10s %9s %6s\n", "test", "ops", "seconds", "ops/s", "MiB/s",
	       "errors");
	if (strstr(tests, "put4k") && rc == 0)
		rc = bench_run(&b, "put4k", b.n4k, 4096, send_put4k, false);
	if (strstr(tests, "put1m") && rc == 0)
		rc = bench_run(&b, "put1m", b.n1m, 1 << 20, send_put1m, true);
	if (strstr(tests, "get4k") && rc == 0)
		rc = bench_run(&b, "get4k", (unsigned)gets, 4096, send_get4k, false);
	if (strstr(tests, "get1m") && rc == 0)
		rc = bench_run(&b, "get1m", b.n1m < gets ? b.n1m : (unsigned)gets, 1 << 20,
			       send_get1m, false);
	if (strstr(tests, "patch4k") && rc == 0)
		rc = bench_run(&b, "patch4k", (unsigned)patches, 4096, send_patch4k, false);

	zmq_close(b.sock);
	zmq_ctx_term(b.ctx);
	free(b.buf);
	free(b.ver1m);
	return rc ? 1 : 0;
}
