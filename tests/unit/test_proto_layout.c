// SPDX-License-Identifier: MIT
/*
 * test_proto_layout.c - the cluster layout record (proto/layout.h): round
 * trips, canonical encoding, and rejection of truncated, overlong and
 * out-of-range input, with the errno the header promises; the LAYOUT_SET
 * request and the version reply; DROP entries in a batch.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/layout.h"
#include "proto/msg.h"

/* A valid layout: @nd daemons a, b, ... (zones z0..z2), version @ver. */
static void make_ring(struct proto_layout_ring *g, uint64_t ver, int nd)
{
	memset(g, 0, sizeof(*g));
	g->version = ver;
	g->n = 3;
	g->w = 2;
	g->r = 2;
	g->vnodes = 256;
	g->ndaemons = (uint16_t)nd;
	for (int i = 0; i < nd; i++) {
		snprintf(g->d[i].name, sizeof(g->d[i].name), "%c", 'a' + i);
		snprintf(g->d[i].endpoint, sizeof(g->d[i].endpoint), "tcp://10.0.0.%d:7070", i + 1);
		snprintf(g->d[i].zone, sizeof(g->d[i].zone), "z%d", i % 3);
		g->d[i].weight = 100 + (uint32_t)i;
	}
}

static struct proto_layout *make_layout(bool prev)
{
	struct proto_layout *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	make_ring(&l->cur, 2, 4);
	if (prev) {
		l->has_prev = true;
		make_ring(&l->prev, 1, 3);
	}
	return l;
}

/* Encode @l (valid or not) into @w. */
static void enc(const struct proto_layout *l, struct proto_wr *w)
{
	proto_wr_init(w);
	proto_layout_encode(w, l);
	assert_false(w->bad);
}

/* Decode what @l encodes to; the decoder's return value. */
static int reenc_rc(const struct proto_layout *l)
{
	struct proto_layout *out = calloc(1, sizeof(*out));
	struct proto_wr w;
	int rc;

	assert_non_null(out);
	enc(l, &w);
	rc = proto_layout_decode(w.buf, w.len, out);
	proto_wr_free(&w);
	free(out);
	return rc;
}

static void test_proto_layout_round_trip(void **state)
{
	struct proto_layout *l = make_layout(true), *out = calloc(1, sizeof(*out));
	struct proto_wr w, w2;

	(void)state;
	assert_non_null(out);
	assert_int_equal(proto_layout_check(l), 0);
	enc(l, &w);
	assert_int_equal(proto_layout_decode(w.buf, w.len, out), 0);
	assert_true(out->has_prev);
	assert_int_equal(out->cur.version, 2);
	assert_int_equal(out->prev.version, 1);
	assert_int_equal(out->cur.ndaemons, 4);
	assert_int_equal(out->prev.ndaemons, 3);
	assert_string_equal(out->cur.d[3].name, "d");
	assert_string_equal(out->cur.d[3].endpoint, "tcp://10.0.0.4:7070");
	assert_string_equal(out->cur.d[2].zone, "z2");
	assert_int_equal(out->cur.d[1].weight, 101);
	assert_int_equal(out->cur.vnodes, 256);
	/* canonical: decode then encode gives the same bytes */
	enc(out, &w2);
	assert_int_equal(w.len, w2.len);
	assert_memory_equal(w.buf, w2.buf, w.len);
	proto_wr_free(&w);
	proto_wr_free(&w2);
	free(l);
	free(out);
}

static void test_proto_layout_rejects_truncated_and_trailing(void **state)
{
	struct proto_layout *l = make_layout(true), *out = calloc(1, sizeof(*out));
	struct proto_wr w;
	uint8_t *big;

	(void)state;
	assert_non_null(out);
	enc(l, &w);
	for (size_t n = 0; n < w.len; n++)
		assert_int_not_equal(proto_layout_decode(w.buf, n, out), 0);
	big = malloc(w.len + 1);
	assert_non_null(big);
	memcpy(big, w.buf, w.len);
	big[w.len] = 0;
	assert_int_equal(proto_layout_decode(big, w.len + 1, out), -EBADMSG);
	free(big);
	proto_wr_free(&w);
	free(l);
	free(out);
}

static void test_proto_layout_rejects_format_and_flags(void **state)
{
	struct proto_layout *l = make_layout(false), *out = calloc(1, sizeof(*out));
	struct proto_wr w;

	(void)state;
	assert_non_null(out);
	enc(l, &w);
	w.buf[0] = PROTO_LAYOUT_FORMAT + 1;
	assert_int_equal(proto_layout_decode(w.buf, w.len, out), -EBADMSG);
	w.buf[0] = PROTO_LAYOUT_FORMAT;
	w.buf[1] = 0x2; /* unknown flag */
	assert_int_equal(proto_layout_decode(w.buf, w.len, out), -EBADMSG);
	w.buf[1] = PROTO_LAYOUT_PREV; /* says a previous ring follows: none does */
	assert_int_equal(proto_layout_decode(w.buf, w.len, out), -EBADMSG);
	proto_wr_free(&w);
	free(l);
	free(out);
}

static void test_proto_layout_rejects_out_of_range(void **state)
{
	struct proto_layout *l = make_layout(true);

	(void)state;
	l->cur.w = 4; /* w > n */
	assert_int_equal(proto_layout_check(l), -ERANGE);
	assert_int_equal(reenc_rc(l), -ERANGE);
	l->cur.w = 2;
	l->cur.r = 0;
	assert_int_equal(reenc_rc(l), -ERANGE);
	l->cur.r = 2;
	l->prev.n = 4; /* more replicas than daemons */
	assert_int_equal(reenc_rc(l), -ERANGE);
	l->prev.n = 3;
	l->cur.d[1].weight = 0;
	assert_int_equal(reenc_rc(l), -ERANGE);
	l->cur.d[1].weight = PROTO_LAYOUT_WEIGHT_MAX + 1;
	assert_int_equal(proto_layout_check(l), -ERANGE);
	l->cur.d[1].weight = PROTO_LAYOUT_WEIGHT_MAX; /* the largest is fine */
	assert_int_equal(reenc_rc(l), 0);
	l->cur.vnodes = 0;
	assert_int_equal(reenc_rc(l), -ERANGE);
	l->cur.vnodes = PROTO_LAYOUT_VNODES_MAX + 1;
	assert_int_equal(reenc_rc(l), -ERANGE);
	l->cur.vnodes = 256;
	l->cur.version = 0;
	assert_int_equal(proto_layout_check(l), -ERANGE);
	l->cur.version = 1; /* not newer than the previous one */
	assert_int_equal(reenc_rc(l), -ERANGE);
	l->cur.version = 2;
	assert_int_equal(reenc_rc(l), 0);
	/* versions travel in the u32 header field "layout": 2^32 does not fit */
	l->cur.version = (uint64_t)UINT32_MAX + 1;
	assert_int_equal(proto_layout_check(l), -ERANGE);
	assert_int_equal(reenc_rc(l), -ERANGE);
	l->cur.version = UINT32_MAX;
	assert_int_equal(reenc_rc(l), 0);
	l->prev.version = UINT64_MAX; /* and in the previous ring too */
	assert_int_equal(reenc_rc(l), -ERANGE);
	free(l);
}

static void test_proto_layout_rejects_bad_daemons(void **state)
{
	struct proto_layout *l = make_layout(false);

	(void)state;
	strcpy(l->cur.d[2].name, "b"); /* duplicate name */
	assert_int_equal(reenc_rc(l), -EBADMSG);
	strcpy(l->cur.d[2].name, "c/x"); /* not [A-Za-z0-9._-] */
	assert_int_equal(reenc_rc(l), -EBADMSG);
	strcpy(l->cur.d[2].name, "c");
	strcpy(l->cur.d[2].endpoint, l->cur.d[0].endpoint); /* duplicate endpoint */
	assert_int_equal(reenc_rc(l), -EBADMSG);
	strcpy(l->cur.d[2].endpoint, "udp://10.0.0.3:1");
	assert_int_equal(reenc_rc(l), -EBADMSG);
	strcpy(l->cur.d[2].endpoint, "tcp://");
	assert_int_equal(reenc_rc(l), -EBADMSG);
	strcpy(l->cur.d[2].endpoint, "ipc:///run/qfs c.sock"); /* a blank */
	assert_int_equal(reenc_rc(l), -EBADMSG);
	strcpy(l->cur.d[2].endpoint, "ipc:///run/qfs-c.sock");
	assert_int_equal(reenc_rc(l), 0);
	/* CURVE keys on every daemon or on none */
	memset(l->cur.d[0].public_key, 'A', PROTO_LAYOUT_KEY_LEN);
	assert_int_equal(reenc_rc(l), -EBADMSG);
	for (int i = 1; i < l->cur.ndaemons; i++)
		memset(l->cur.d[i].public_key, 'B' + i, PROTO_LAYOUT_KEY_LEN);
	assert_int_equal(reenc_rc(l), 0);
	l->cur.d[1].public_key[5] = '~'; /* not Z85 */
	assert_int_equal(reenc_rc(l), -EBADMSG);
	free(l);
}

/* Patch the length byte of daemon 0's name in an encoding: over the limit. */
static void test_proto_layout_rejects_overlong(void **state)
{
	struct proto_layout *l = make_layout(false), *out = calloc(1, sizeof(*out));
	const size_t ring_hdr = 2 + 8 + 3 + 2 + 2; /* format, flags, version, n w r, vnodes, nd */
	struct proto_wr w;

	(void)state;
	assert_non_null(out);
	enc(l, &w);
	w.buf[ring_hdr] = PROTO_LAYOUT_NAME_MAX + 1;
	assert_int_equal(proto_layout_decode(w.buf, w.len, out), -EMSGSIZE);
	w.buf[ring_hdr] = 0; /* empty name */
	assert_int_not_equal(proto_layout_decode(w.buf, w.len, out), 0);
	proto_wr_free(&w);
	enc(l, &w);
	w.buf[ring_hdr - 2] = (PROTO_LAYOUT_DAEMONS_MAX + 1) & 0xff; /* ndaemons, LE */
	w.buf[ring_hdr - 1] = (PROTO_LAYOUT_DAEMONS_MAX + 1) >> 8;
	assert_int_equal(proto_layout_decode(w.buf, w.len, out), -EMSGSIZE);
	w.buf[ring_hdr - 2] = 0;
	w.buf[ring_hdr - 1] = 0;
	assert_int_equal(proto_layout_decode(w.buf, w.len, out), -EMSGSIZE);
	proto_wr_free(&w);
	free(l);
	free(out);
}

/* The most daemons, each with the longest fields: round trips. */
static void test_proto_layout_maximum_values(void **state)
{
	struct proto_layout *l = calloc(1, sizeof(*l)), *out = calloc(1, sizeof(*out));
	struct proto_layout_ring *g;
	struct proto_wr w;

	(void)state;
	assert_non_null(l);
	assert_non_null(out);
	g = &l->cur;
	g->version = PROTO_LAYOUT_VERSION_MAX;
	g->n = PROTO_LAYOUT_REPLICAS_MAX;
	g->w = g->r = PROTO_LAYOUT_REPLICAS_MAX;
	g->vnodes = 16; /* within PROTO_LAYOUT_POINTS_MAX at the highest weight */
	g->ndaemons = PROTO_LAYOUT_DAEMONS_MAX;
	for (int i = 0; i < g->ndaemons; i++) {
		struct proto_layout_daemon *d = &g->d[i];
		char num[16];

		snprintf(num, sizeof(num), "%03d", i);
		memset(d->name, 'n', PROTO_LAYOUT_NAME_MAX);
		memcpy(d->name, num, 3);
		memset(d->endpoint, 'e', PROTO_LAYOUT_ENDPOINT_MAX);
		memcpy(d->endpoint, "ipc://", 6);
		memcpy(d->endpoint + 6, num, 3);
		memset(d->zone, 'z', PROTO_LAYOUT_NAME_MAX);
		memset(d->public_key, 'k', PROTO_LAYOUT_KEY_LEN);
		d->weight = PROTO_LAYOUT_WEIGHT_MAX;
	}
	assert_int_equal(proto_layout_check(l), 0);
	enc(l, &w);
	assert_true(w.len < PROTO_ARGS_MAX);
	assert_int_equal(proto_layout_decode(w.buf, w.len, out), 0);
	assert_int_equal(out->cur.version, UINT32_MAX);
	assert_int_equal(strlen(out->cur.d[255].endpoint), PROTO_LAYOUT_ENDPOINT_MAX);
	assert_int_equal(proto_layout_find(&out->cur, "255nnnnn"), -1);
	assert_int_equal(proto_layout_find(&out->cur, out->cur.d[255].name), 255);
	proto_wr_free(&w);
	free(l);
	free(out);
}

static void test_proto_layout_set_req_and_version(void **state)
{
	struct proto_layout *l = make_layout(true), *out = calloc(1, sizeof(*out));
	struct proto_wr w;
	uint64_t expect, v;

	(void)state;
	assert_non_null(out);
	proto_wr_init(&w);
	proto_encode_layout_set_req(&w, 7, l);
	assert_int_equal(proto_decode_layout_set_req(w.buf, w.len, 0, &expect, out), 0);
	assert_int_equal(expect, 7);
	assert_int_equal(out->cur.version, 2);
	/* LAYOUT_SET carries no DATA */
	assert_int_equal(proto_decode_layout_set_req(w.buf, w.len, 1, &expect, out), -EBADMSG);
	for (size_t n = 0; n < w.len; n++)
		assert_int_not_equal(proto_decode_layout_set_req(w.buf, n, 0, &expect, out), 0);
	proto_wr_free(&w);

	proto_wr_init(&w);
	proto_encode_layout_version(&w, 42);
	assert_int_equal(proto_decode_layout_version(w.buf, w.len, 0, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(proto_decode_layout_version(w.buf, w.len - 1, 0, &v), -EBADMSG);
	assert_int_equal(proto_decode_layout_version(w.buf, w.len, 3, &v), -EBADMSG);
	proto_put_u8(&w, 0);
	assert_int_equal(proto_decode_layout_version(w.buf, w.len, 0, &v), -EBADMSG);
	proto_wr_free(&w);
	free(l);
	free(out);
}

/* DROP names a key and the exact version to drop, never zero. */
static void test_proto_layout_drop_batch(void **state)
{
	struct proto_batch_ent e, got;
	struct proto_wr w;
	struct proto_rd r;
	uint16_t cnt;

	(void)state;
	memset(&e, 0, sizeof(e));
	proto_key_chunk(&e.key, 5, 6);
	e.ver.hlc = 123;
	e.ver.writer = 9;
	proto_wr_init(&w);
	proto_encode_batch_head(&w, 1);
	proto_encode_batch_ent(&w, PROTO_OP_DROP, &e);
	assert_int_equal(proto_decode_batch_req(PROTO_OP_DROP, w.buf, w.len, 0, &r, &cnt), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(proto_batch_next(&r, PROTO_OP_DROP, &got), 0);
	assert_int_equal(got.ver.hlc, 123);
	assert_int_equal(got.ver.writer, 9);
	assert_int_equal(got.key.kind, PROTO_KIND_CHUNK);
	for (size_t n = 0; n < w.len; n++)
		assert_int_not_equal(proto_decode_batch_req(PROTO_OP_DROP, w.buf, n, 0, &r, &cnt),
				     0);
	proto_wr_free(&w);
	e.ver.hlc = 0;
	e.ver.writer = 0;
	proto_wr_init(&w);
	proto_encode_batch_head(&w, 1);
	proto_encode_batch_ent(&w, PROTO_OP_DROP, &e);
	assert_int_not_equal(proto_decode_batch_req(PROTO_OP_DROP, w.buf, w.len, 0, &r, &cnt), 0);
	proto_wr_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_layout_round_trip),
		cmocka_unit_test(test_proto_layout_rejects_truncated_and_trailing),
		cmocka_unit_test(test_proto_layout_rejects_format_and_flags),
		cmocka_unit_test(test_proto_layout_rejects_out_of_range),
		cmocka_unit_test(test_proto_layout_rejects_bad_daemons),
		cmocka_unit_test(test_proto_layout_rejects_overlong),
		cmocka_unit_test(test_proto_layout_maximum_values),
		cmocka_unit_test(test_proto_layout_set_req_and_version),
		cmocka_unit_test(test_proto_layout_drop_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
