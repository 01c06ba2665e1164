// SPDX-License-Identifier: MIT
/*
 * test_proto_msg.c - ARGS codecs of every request and reply: round trips,
 * truncation at every length, trailing bytes, DATA length mismatches and
 * each documented rejection with its errno; the HELLO golden vector cited
 * in docs/protocol.md.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/msg.h"

typedef int (*dec_fn)(const uint8_t *a, size_t len, size_t dlen);

/* PATCH takes any DATA length: check_strict skips the DATA length checks. */
static int d_patch_any(const uint8_t *a, size_t l, size_t d);

static bool meta_equal(const struct proto_meta *a, const struct proto_meta *b)
{
	return a->ver.hlc == b->ver.hlc && a->ver.writer == b->ver.writer &&
	       a->flags == b->flags && a->epoch == b->epoch && a->len == b->len &&
	       a->sum == b->sum;
}

/*
 * Decode @w's bytes from an exact-size heap copy (so ASan sees any
 * over-read): the whole must decode, every prefix, the whole plus one byte
 * and a DATA length off by one must all be -EBADMSG.
 */
static void check_strict(const struct proto_wr *w, size_t dlen, dec_fn f)
{
	uint8_t *b;

	assert_false(w->bad);
	for (size_t n = 0; n <= w->len; n++) {
		b = malloc(n ? n : 1);
		assert_non_null(b);
		if (n)
			memcpy(b, w->buf, n);
		assert_int_equal(f(b, n, dlen), n == w->len ? 0 : -EBADMSG);
		free(b);
	}
	b = malloc(w->len + 1);
	if (w->len)
		memcpy(b, w->buf, w->len);
	b[w->len] = 0;
	assert_int_equal(f(b, w->len + 1, dlen), -EBADMSG);
	if (f != d_patch_any) {
		assert_int_equal(f(b, w->len, dlen + 1), -EBADMSG);
		if (dlen)
			assert_int_equal(f(b, w->len, dlen - 1), -EBADMSG);
	}
	free(b);
}

static struct proto_hello_req g_hello_req;
static struct proto_hello_rep g_hello_rep;
static struct proto_sync_rep g_sync_rep;
static struct proto_put_req g_put;
static struct proto_write_rep g_wrep;
static struct proto_get_req g_get;
static struct proto_get_rep g_grep;
static struct proto_patch_req g_patch;
static struct proto_head_req g_head;
static struct proto_meta g_meta;
static struct proto_list_req g_list;
static struct proto_scan_req g_scan;
static struct proto_digest_req g_dreq;
static struct proto_digest_rep g_drep;
static struct proto_stat_rep g_stat;

static int d_hello_req(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_hello_req(a, l, d, &g_hello_req);
}
static int d_hello_rep(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_hello_rep(a, l, d, &g_hello_rep);
}
static int d_sync_req(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_sync_req(a, l, d);
}
static int d_sync_rep(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_sync_rep(a, l, d, &g_sync_rep);
}
static int d_put(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_put_req(a, l, d, &g_put);
}
static int d_wrep(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_write_rep(a, l, d, &g_wrep);
}
static int d_get(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_get_req(a, l, d, &g_get);
}
static int d_grep(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_get_rep(a, l, d, &g_grep);
}
static int d_patch(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_patch_req(a, l, d, &g_patch);
}
static int d_patch_any(const uint8_t *a, size_t l, size_t d)
{
	return d_patch(a, l, d);
}
static int d_head(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_head_req(a, l, d, &g_head);
}
static int d_head_rep(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_head_rep(a, l, d, &g_meta);
}
static int d_list(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_list_req(a, l, d, &g_list);
}
static int d_scan(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_scan_req(a, l, d, &g_scan);
}
static int d_dreq(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_digest_req(a, l, d, &g_dreq);
}
static int d_drep(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_digest_rep(a, l, d, &g_drep);
}
static int d_stat_req(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_stat_req(a, l, d);
}
static int d_stat_rep(const uint8_t *a, size_t l, size_t d)
{
	return proto_decode_stat_rep(a, l, d, &g_stat);
}

/* ---- HELLO ---- */

static void make_hello_rep(struct proto_hello_rep *p)
{
	memset(p, 0, sizeof(*p));
	p->version = 1;
	strcpy(p->name, "node-a");
	memset(p->store_id, 0x11, PROTO_ID_LEN);
	memset(p->volume_id, 0x22, PROTO_ID_LEN);
	p->layout_version = 3;
	p->clock = 0x123456789ULL;
	p->boot = 77;
	p->store_flags = PROTO_STORE_FRESH | PROTO_STORE_NOVOLUME;
	p->max_skew_ms = 5000;
	p->chunk_max = PROTO_CHUNK_MAX;
	p->block_size = PROTO_BLOCK_SIZE;
}

static int enc_hello_rep(const struct proto_hello_rep *p)
{
	struct proto_wr w;
	int rc;

	proto_wr_init(&w);
	proto_encode_hello_rep(&w, p);
	rc = d_hello_rep(w.buf, w.len, 0);
	proto_wr_free(&w);
	return rc;
}

static void test_proto_msg_hello(void **state)
{
	struct proto_hello_req q = { .min_version = 1, .max_version = 2, .clock = 99 };
	struct proto_hello_rep p;
	struct proto_wr w;

	(void)state;
	memset(q.volume_id, 0xab, PROTO_ID_LEN);
	proto_wr_init(&w);
	proto_encode_hello_req(&w, &q);
	assert_int_equal(w.len, 28);
	check_strict(&w, 0, d_hello_req);
	assert_int_equal(g_hello_req.min_version, 1);
	assert_int_equal(g_hello_req.max_version, 2);
	assert_int_equal(g_hello_req.clock, 99);
	assert_memory_equal(g_hello_req.volume_id, q.volume_id, PROTO_ID_LEN);
	proto_wr_free(&w);

	q.min_version = 3;
	proto_wr_init(&w);
	proto_encode_hello_req(&w, &q);
	assert_int_equal(d_hello_req(w.buf, w.len, 0), -EBADMSG);
	proto_wr_free(&w);
	q.min_version = 0;
	proto_wr_init(&w);
	proto_encode_hello_req(&w, &q);
	assert_int_equal(d_hello_req(w.buf, w.len, 0), -EBADMSG);
	proto_wr_free(&w);

	make_hello_rep(&p);
	proto_wr_init(&w);
	proto_encode_hello_rep(&w, &p);
	check_strict(&w, 0, d_hello_rep);
	assert_string_equal(g_hello_rep.name, "node-a");
	assert_memory_equal(g_hello_rep.store_id, p.store_id, PROTO_ID_LEN);
	assert_memory_equal(g_hello_rep.volume_id, p.volume_id, PROTO_ID_LEN);
	assert_int_equal(g_hello_rep.layout_version, 3);
	assert_int_equal(g_hello_rep.clock, p.clock);
	assert_int_equal(g_hello_rep.boot, 77);
	assert_int_equal(g_hello_rep.store_flags, p.store_flags);
	assert_int_equal(g_hello_rep.max_skew_ms, 5000);
	assert_int_equal(g_hello_rep.chunk_max, PROTO_CHUNK_MAX);
	assert_int_equal(g_hello_rep.block_size, PROTO_BLOCK_SIZE);
	/* A name length over the limit is refused before it is used. */
	w.buf[2] = PROTO_DAEMON_NAME_MAX + 1;
	assert_int_equal(d_hello_rep(w.buf, w.len, 0), -EMSGSIZE);
	w.buf[2] = 0xff;
	assert_int_equal(d_hello_rep(w.buf, w.len, 0), -EMSGSIZE);
	proto_wr_free(&w);

	memset(p.name, 'n', PROTO_DAEMON_NAME_MAX);
	p.name[PROTO_DAEMON_NAME_MAX] = '\0';
	assert_int_equal(enc_hello_rep(&p), 0);
	make_hello_rep(&p);
	p.name[0] = '\0';
	assert_int_equal(enc_hello_rep(&p), -EBADMSG);
	strcpy(p.name, "a b");
	assert_int_equal(enc_hello_rep(&p), -EBADMSG);
	make_hello_rep(&p);
	p.store_flags = 0x10; /* the first bit past PROTO_STORE_MASK */
	assert_int_equal(enc_hello_rep(&p), -EBADMSG);
	make_hello_rep(&p);
	p.version = 0;
	assert_int_equal(enc_hello_rep(&p), -EBADMSG);
	make_hello_rep(&p);
	p.block_size = 4096;
	assert_int_equal(enc_hello_rep(&p), -EBADMSG);
	make_hello_rep(&p);
	p.chunk_max = PROTO_CHUNK_MAX + PROTO_BLOCK_SIZE;
	assert_int_equal(enc_hello_rep(&p), -EBADMSG);
	p.chunk_max = PROTO_BLOCK_SIZE + 1;
	assert_int_equal(enc_hello_rep(&p), -EBADMSG);
	p.chunk_max = 0;
	assert_int_equal(enc_hello_rep(&p), -EBADMSG);
	p.chunk_max = 1024 * 1024;
	assert_int_equal(enc_hello_rep(&p), 0);
}

/* The HELLO request of docs/protocol.md, byte for byte. */
static void test_proto_msg_hello_golden(void **state)
{
	static const uint8_t want[] = {
		/* header */
		0x51, 0x46, 0x53, 0x31, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x1c, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		/* args */
		0x01, 0x00, 0x01, 0x00, 0x05, 0x00, 0x00, 0x68, 0xe5, 0xcf, 0x8b, 0x01,
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
		0x0c, 0x0d, 0x0e, 0x0f,
	};
	struct proto_hello_req q = { .min_version = 1, .max_version = 1 };
	struct proto_hdr h = { .version = PROTO_VERSION, .opcode = PROTO_OP_HELLO, .reqid = 42 };
	uint8_t hb[PROTO_HDR_LEN];
	struct proto_wr w;

	(void)state;
	q.clock = PROTO_HLC_MAKE(1700000000000ULL, 5);
	for (int i = 0; i < PROTO_ID_LEN; i++)
		q.volume_id[i] = (uint8_t)i;
	proto_wr_init(&w);
	proto_encode_hello_req(&w, &q);
	h.args_len = (uint32_t)w.len;
	proto_hdr_encode(&h, hb);
	assert_memory_equal(hb, want, PROTO_HDR_LEN);
	assert_int_equal(w.len, sizeof(want) - PROTO_HDR_LEN);
	assert_memory_equal(w.buf, want + PROTO_HDR_LEN, w.len);
	proto_wr_free(&w);
}

static void test_proto_msg_sync_stat(void **state)
{
	struct proto_sync_rep s = { .boot = 0xfeedULL };
	struct proto_stat_rep st;
	struct proto_wr w;
	uint8_t one = 0;

	(void)state;
	proto_wr_init(&w);
	check_strict(&w, 0, d_sync_req);
	check_strict(&w, 0, d_stat_req);
	assert_int_equal(proto_decode_sync_req(&one, 1, 0), -EBADMSG);
	assert_int_equal(proto_decode_stat_req(NULL, 0, 1), -EBADMSG);
	proto_encode_sync_rep(&w, &s);
	check_strict(&w, 0, d_sync_rep);
	assert_int_equal(g_sync_rep.boot, 0xfeed);
	proto_wr_free(&w);

	memset(&st, 0, sizeof(st));
	st.capacity = 1ULL << 40;
	st.used = 12345;
	st.fs_free = 99;
	st.records = 5;
	st.chunks = 4;
	st.tombstones = 3;
	st.corrupt = 2;
	st.uptime_s = 1;
	st.fs_id = 0xabcdef;
	strcpy(st.software, "0.1.0");
	proto_wr_init(&w);
	proto_encode_stat_rep(&w, &st);
	check_strict(&w, 0, d_stat_rep);
	assert_memory_equal(&g_stat, &st, offsetof(struct proto_stat_rep, software));
	assert_string_equal(g_stat.software, "0.1.0");
	w.buf[72] = 33;
	assert_int_equal(d_stat_rep(w.buf, w.len, 0), -EMSGSIZE);
	w.buf[72] = 5;
	w.buf[73] = '\n';
	assert_int_equal(d_stat_rep(w.buf, w.len, 0), -EBADMSG);
	proto_wr_free(&w);
	memset(st.software, 'v', 32);
	st.software[32] = '\0';
	proto_wr_init(&w);
	proto_encode_stat_rep(&w, &st);
	assert_int_equal(d_stat_rep(w.buf, w.len, 0), 0);
	proto_wr_free(&w);
}

/* ---- PUT ---- */

static uint8_t g_val[3 * PROTO_BLOCK_SIZE];

static void make_put(struct proto_put_req *q, uint32_t len)
{
	memset(q, 0, sizeof(*q));
	proto_key_chunk(&q->key, 42, 7);
	q->meta.ver.hlc = PROTO_HLC_MAKE(1000, 1);
	q->meta.ver.writer = 9;
	q->meta.epoch = 2;
	q->meta.len = len;
	q->nsums = (uint16_t)proto_nblocks(len);
	q->meta.sum = proto_value_sums(g_val, len, q->sums);
}

static int enc_put(const struct proto_put_req *q, size_t dlen)
{
	struct proto_wr w;
	int rc;

	proto_wr_init(&w);
	proto_encode_put_req(&w, q);
	assert_false(w.bad);
	rc = d_put(w.buf, w.len, dlen);
	proto_wr_free(&w);
	return rc;
}

static void test_proto_msg_put(void **state)
{
	struct proto_put_req q;
	struct proto_wr w;
	uint32_t len = 2 * PROTO_BLOCK_SIZE + 100;

	(void)state;
	for (size_t i = 0; i < sizeof(g_val); i++)
		g_val[i] = (uint8_t)(i * 31 + 7);
	make_put(&q, len);
	assert_int_equal(q.nsums, 3);
	proto_wr_init(&w);
	proto_encode_put_req(&w, &q);
	check_strict(&w, len, d_put);
	assert_true(proto_key_equal(&g_put.key, &q.key));
	assert_true(meta_equal(&g_put.meta, &q.meta));
	assert_int_equal(g_put.nsums, 3);
	assert_memory_equal(g_put.sums, q.sums, 3 * sizeof(uint64_t));
	proto_wr_free(&w);

	/* Empty chunk, tombstone, INODE tombstone with a value, xattr. */
	make_put(&q, 0);
	assert_int_equal(enc_put(&q, 0), 0);
	q.meta.flags = PROTO_REC_TOMBSTONE;
	assert_int_equal(enc_put(&q, 0), 0);
	make_put(&q, 200);
	proto_key_inode(&q.key, 5);
	q.meta.flags = PROTO_REC_TOMBSTONE;
	assert_int_equal(enc_put(&q, 200), 0);
	make_put(&q, 10);
	q.meta.epoch = 0;
	assert_int_equal(proto_key_xattr(&q.key, 5, "user.k", 6), 0);
	assert_int_equal(enc_put(&q, 10), 0);

	/* Rejections. */
	make_put(&q, 100);
	q.meta.flags = PROTO_REC_CORRUPT;
	assert_int_equal(enc_put(&q, 100), -EBADMSG);
	q.meta.flags = 0x4;
	assert_int_equal(enc_put(&q, 100), -EBADMSG);
	q.meta.flags = 0x80000000u;
	assert_int_equal(enc_put(&q, 100), -EBADMSG);
	make_put(&q, 100);
	q.meta.ver.hlc = 0;
	q.meta.ver.writer = 0;
	assert_int_equal(enc_put(&q, 100), -EBADMSG);
	make_put(&q, 100);
	q.meta.flags = PROTO_REC_TOMBSTONE; /* a chunk tombstone has no value */
	assert_int_equal(enc_put(&q, 100), -EBADMSG);
	make_put(&q, 100);
	q.meta.sum ^= 1;
	assert_int_equal(enc_put(&q, 100), -EBADMSG);
	make_put(&q, 100);
	q.sums[0] ^= 1;
	assert_int_equal(enc_put(&q, 100), -EBADMSG);
	make_put(&q, 100);
	q.nsums = 0;
	q.meta.sum = proto_sums_combine(q.sums, 0);
	assert_int_equal(enc_put(&q, 100), -EBADMSG);
	make_put(&q, 100);
	q.nsums = 2;
	q.meta.sum = proto_sums_combine(q.sums, 2);
	assert_int_equal(enc_put(&q, 100), -EBADMSG);
	make_put(&q, 100);
	assert_int_equal(enc_put(&q, 99), -EBADMSG);
	/* Bodies over the max for the kind. */
	make_put(&q, 100);
	q.meta.len = PROTO_CHUNK_MAX + 1;
	assert_int_equal(enc_put(&q, PROTO_CHUNK_MAX + 1), -EFBIG);
	q.meta.len = 0xffffffffu;
	assert_int_equal(enc_put(&q, 0), -EFBIG);
	make_put(&q, 100);
	q.meta.epoch = 0;
	assert_int_equal(proto_key_xattr(&q.key, 5, "user.k", 6), 0);
	q.meta.len = PROTO_VALUE_MAX + 1;
	assert_int_equal(enc_put(&q, PROTO_VALUE_MAX + 1), -EFBIG);
	/* Epoch only on CHUNK and INODE. */
	make_put(&q, 10);
	assert_int_equal(proto_key_xattr(&q.key, 5, "user.k", 6), 0);
	assert_int_equal(enc_put(&q, 10), -EBADMSG);

	/* PUT flags: MKFS only on the SUPER key; unknown bits refused. */
	make_put(&q, 40);
	q.meta.epoch = 0;
	proto_key_super(&q.key);
	q.flags = PROTO_PUT_MKFS;
	assert_int_equal(enc_put(&q, 40), 0);
	assert_int_equal(g_put.flags, PROTO_PUT_MKFS);
	q.flags = 0;
	assert_int_equal(enc_put(&q, 40), 0);
	assert_int_equal(g_put.flags, 0);
	q.flags = 0x2;
	assert_int_equal(enc_put(&q, 40), -EBADMSG);
	q.flags = 0x80000000u | PROTO_PUT_MKFS;
	assert_int_equal(enc_put(&q, 40), -EBADMSG);
	make_put(&q, 40);
	q.flags = PROTO_PUT_MKFS; /* on a CHUNK */
	assert_int_equal(enc_put(&q, 40), -EBADMSG);

	/* Too many sums: refused before they are read. */
	make_put(&q, 0);
	proto_wr_init(&w);
	proto_encode_put_req(&w, &q);
	w.buf[w.len - 2] = PROTO_CHUNK_BLOCKS + 1;
	assert_int_equal(d_put(w.buf, w.len, 0), -EMSGSIZE);
	w.buf[w.len - 2] = 0xff;
	w.buf[w.len - 1] = 0xff;
	assert_int_equal(d_put(w.buf, w.len, 0), -EMSGSIZE);
	proto_wr_free(&w);

	/* Absurd key length, bad names inside the key. */
	proto_wr_init(&w);
	proto_put_u16(&w, 60000);
	proto_put_bytes(&w, g_val, 100);
	assert_int_equal(d_put(w.buf, w.len, 0), -EMSGSIZE);
	proto_wr_free(&w);
	make_put(&q, 0);
	q.key.kind = PROTO_KIND_DIRENT;
	q.key.ino = 1;
	q.key.name_len = 2;
	memcpy(q.key.name, "..", 3);
	q.key.sub = proto_name_hash63("..", 2);
	q.meta.epoch = 0;
	assert_int_equal(enc_put(&q, 0), -EINVAL);
	memcpy(q.key.name, "a/", 3);
	q.key.sub = proto_name_hash63("a/", 2);
	assert_int_equal(enc_put(&q, 0), -EINVAL);
	memcpy(q.key.name, "ab", 3);
	assert_int_equal(enc_put(&q, 0), -EBADMSG); /* hash of "a/" */

	/* A DIRENT key whose name is 300 bytes: -ENAMETOOLONG. */
	{
		uint8_t kb[400];
		char nm[300];

		memset(nm, 'q', sizeof(nm));
		kb[0] = 1;
		proto_be64_put(kb + 1, 1);
		kb[9] = 4;
		proto_be64_put(kb + 10, proto_name_hash63(nm, sizeof(nm)));
		memcpy(kb + 18, nm, sizeof(nm));
		make_put(&q, 0);
		proto_wr_init(&w);
		proto_put_u16(&w, 18 + sizeof(nm));
		proto_put_bytes(&w, kb, 18 + sizeof(nm));
		proto_meta_encode(&w, &q.meta);
		proto_put_u16(&w, 0);
		assert_int_equal(d_put(w.buf, w.len, 0), -ENAMETOOLONG);
		proto_wr_free(&w);
	}
}

static void test_proto_msg_write_rep(void **state)
{
	struct proto_write_rep p = { .stored = { 5, 6 }, .flags = PROTO_REC_TOMBSTONE, .boot = 8 };
	struct proto_wr w;

	(void)state;
	proto_wr_init(&w);
	proto_encode_write_rep(&w, &p);
	assert_int_equal(w.len, 28);
	check_strict(&w, 0, d_wrep);
	assert_int_equal(g_wrep.stored.hlc, 5);
	assert_int_equal(g_wrep.stored.writer, 6);
	assert_int_equal(g_wrep.flags, PROTO_REC_TOMBSTONE);
	assert_int_equal(g_wrep.boot, 8);
	proto_wr_free(&w);
	p.flags = 0x10;
	proto_wr_init(&w);
	proto_encode_write_rep(&w, &p);
	assert_int_equal(d_wrep(w.buf, w.len, 0), -EBADMSG);
	proto_wr_free(&w);
}

/* ---- GET ---- */

static int enc_get(const struct proto_get_req *q, size_t dlen)
{
	struct proto_wr w;
	int rc;

	proto_wr_init(&w);
	proto_encode_get_req(&w, q);
	rc = d_get(w.buf, w.len, dlen);
	proto_wr_free(&w);
	return rc;
}

static void test_proto_msg_get(void **state)
{
	struct proto_get_req q = { .offset = 4096, .length = 8192 };
	struct proto_wr w;

	(void)state;
	proto_key_chunk(&q.key, 3, 1);
	proto_wr_init(&w);
	proto_encode_get_req(&w, &q);
	check_strict(&w, 0, d_get);
	assert_true(proto_key_equal(&g_get.key, &q.key));
	assert_int_equal(g_get.offset, 4096);
	assert_int_equal(g_get.length, 8192);
	proto_wr_free(&w);

	q.length = PROTO_GET_WHOLE;
	assert_int_equal(enc_get(&q, 0), 0);
	q.offset = PROTO_CHUNK_MAX;
	assert_int_equal(enc_get(&q, 0), 0);
	q.offset = 0;
	q.length = PROTO_CHUNK_MAX;
	assert_int_equal(enc_get(&q, 0), 0);
	q.offset = 1;
	assert_int_equal(enc_get(&q, 0), -EMSGSIZE);
	q.offset = PROTO_CHUNK_MAX + 1;
	q.length = PROTO_GET_WHOLE;
	assert_int_equal(enc_get(&q, 0), -EMSGSIZE);
	q.offset = 0xfffffff0u;
	q.length = 0x100;
	assert_int_equal(enc_get(&q, 0), -EMSGSIZE);
	q.offset = 0;
	q.length = 0;
	assert_int_equal(enc_get(&q, 0), -EBADMSG);

	proto_key_inode(&q.key, 3);
	q.offset = 0;
	q.length = PROTO_GET_WHOLE;
	assert_int_equal(enc_get(&q, 0), 0);
	q.offset = 1;
	assert_int_equal(enc_get(&q, 0), -EBADMSG);
	q.offset = 0;
	q.length = 10;
	assert_int_equal(enc_get(&q, 0), -EBADMSG);
	proto_key_super(&q.key);
	q.length = PROTO_GET_WHOLE;
	assert_int_equal(enc_get(&q, 0), 0);
}

static int enc_grep(const struct proto_get_rep *p, size_t dlen)
{
	struct proto_wr w;
	int rc;

	proto_wr_init(&w);
	proto_encode_get_rep(&w, p);
	rc = d_grep(w.buf, w.len, dlen);
	proto_wr_free(&w);
	return rc;
}

static void test_proto_msg_get_rep(void **state)
{
	struct proto_get_rep p;
	uint64_t all[3];
	uint32_t len = 2 * PROTO_BLOCK_SIZE + 100;
	struct proto_wr w;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.meta.ver.hlc = 77;
	p.meta.len = len;
	p.meta.sum = proto_value_sums(g_val, len, all);
	p.nsums = 3;
	memcpy(p.sums, all, sizeof(all));
	proto_wr_init(&w);
	proto_encode_get_rep(&w, &p);
	check_strict(&w, len, d_grep);
	assert_true(meta_equal(&g_grep.meta, &p.meta));
	assert_int_equal(g_grep.first_block, 0);
	assert_int_equal(g_grep.nsums, 3);
	assert_memory_equal(g_grep.sums, all, sizeof(all));
	proto_wr_free(&w);

	/* Block ranges: middle block, last short block, none. */
	p.first_block = 1;
	p.nsums = 1;
	p.sums[0] = all[1];
	assert_int_equal(enc_grep(&p, PROTO_BLOCK_SIZE), 0);
	assert_int_equal(enc_grep(&p, PROTO_BLOCK_SIZE - 1), -EBADMSG);
	p.nsums = 2;
	p.sums[1] = all[2];
	assert_int_equal(enc_grep(&p, PROTO_BLOCK_SIZE + 100), 0);
	assert_int_equal(enc_grep(&p, 2 * PROTO_BLOCK_SIZE), -EBADMSG);
	p.nsums = 0;
	assert_int_equal(enc_grep(&p, 0), 0);
	p.first_block = 2;
	p.nsums = 2;
	assert_int_equal(enc_grep(&p, 100), -EBADMSG); /* past the last block */
	/* The whole record, with a checksum that does not match its sums. */
	p.first_block = 0;
	p.nsums = 3;
	memcpy(p.sums, all, sizeof(all));
	p.meta.sum ^= 1;
	assert_int_equal(enc_grep(&p, len), -EBADMSG);
	p.meta.sum ^= 1;
	p.meta.flags = PROTO_REC_CORRUPT;
	assert_int_equal(enc_grep(&p, len), 0);
	p.meta.flags = 0x8;
	assert_int_equal(enc_grep(&p, len), -EBADMSG);
	p.meta.flags = 0;
	p.meta.len = PROTO_CHUNK_MAX + 1;
	assert_int_equal(enc_grep(&p, len), -EFBIG);
	/* Tombstone: nothing. */
	memset(&p, 0, sizeof(p));
	p.meta.ver.hlc = 5;
	p.meta.flags = PROTO_REC_TOMBSTONE;
	p.meta.sum = proto_sums_combine(NULL, 0);
	assert_int_equal(enc_grep(&p, 0), 0);
	assert_int_equal(enc_grep(&p, 1), -EBADMSG);
	/* Too many sums. */
	proto_wr_init(&w);
	proto_encode_get_rep(&w, &p);
	w.buf[w.len - 2] = PROTO_CHUNK_BLOCKS + 1;
	assert_int_equal(d_grep(w.buf, w.len, 0), -EMSGSIZE);
	proto_wr_free(&w);
}

/* ---- PATCH and HEAD ---- */

static int enc_patch(const struct proto_patch_req *q, size_t dlen)
{
	struct proto_wr w;
	int rc;

	proto_wr_init(&w);
	proto_encode_patch_req(&w, q);
	rc = d_patch(w.buf, w.len, dlen);
	proto_wr_free(&w);
	return rc;
}

static void test_proto_msg_patch_head(void **state)
{
	struct proto_patch_req q = {
		.base = { 10, 1 }, .ver = { 11, 1 }, .epoch = 3, .offset = 4096, .sum = 0x55
	};
	struct proto_head_req h;
	struct proto_meta m = { .ver = { 1, 2 }, .flags = 1, .epoch = 3, .len = 0, .sum = 5 };
	struct proto_wr w;

	(void)state;
	proto_key_chunk(&q.key, 9, 0);
	proto_wr_init(&w);
	proto_encode_patch_req(&w, &q);
	check_strict(&w, 4096, d_patch_any);
	assert_true(proto_key_equal(&g_patch.key, &q.key));
	assert_int_equal(g_patch.base.hlc, 10);
	assert_int_equal(g_patch.ver.hlc, 11);
	assert_int_equal(g_patch.epoch, 3);
	assert_int_equal(g_patch.offset, 4096);
	assert_int_equal(g_patch.sum, 0x55);
	proto_wr_free(&w);

	assert_int_equal(enc_patch(&q, PROTO_CHUNK_MAX - 4096), 0);
	assert_int_equal(enc_patch(&q, PROTO_CHUNK_MAX - 4095), -EFBIG);
	assert_int_equal(enc_patch(&q, 0), -EBADMSG);
	q.offset = PROTO_CHUNK_MAX + 1;
	assert_int_equal(enc_patch(&q, 1), -EFBIG);
	q.offset = 0;
	q.ver = q.base;
	assert_int_equal(enc_patch(&q, 1), -EBADMSG);
	q.ver.hlc = 9;
	assert_int_equal(enc_patch(&q, 1), -EBADMSG);
	memset(&q.base, 0, sizeof(q.base));
	memset(&q.ver, 0, sizeof(q.ver));
	assert_int_equal(enc_patch(&q, 1), -EBADMSG);
	q.ver.writer = 1; /* base zero = absent: any real version is newer */
	assert_int_equal(enc_patch(&q, 1), 0);
	proto_key_inode(&q.key, 9);
	assert_int_equal(enc_patch(&q, 1), -EBADMSG);

	assert_int_equal(proto_key_xattr(&h.key, 4, "user.z", 6), 0);
	proto_wr_init(&w);
	proto_encode_head_req(&w, &h);
	check_strict(&w, 0, d_head);
	assert_true(proto_key_equal(&g_head.key, &h.key));
	proto_wr_free(&w);

	proto_wr_init(&w);
	proto_encode_head_rep(&w, &m);
	assert_int_equal(w.len, PROTO_META_LEN);
	check_strict(&w, 0, d_head_rep);
	assert_true(meta_equal(&g_meta, &m));
	proto_wr_free(&w);
	m.flags = 4;
	proto_wr_init(&w);
	proto_encode_head_rep(&w, &m);
	assert_int_equal(d_head_rep(w.buf, w.len, 0), -EBADMSG);
	proto_wr_free(&w);
	m.flags = 0;
	m.len = PROTO_CHUNK_MAX + 1;
	proto_wr_init(&w);
	proto_encode_head_rep(&w, &m);
	assert_int_equal(d_head_rep(w.buf, w.len, 0), -EFBIG);
	proto_wr_free(&w);
}

/* ---- LIST, SCAN, pages ---- */

static int enc_list(const struct proto_list_req *q)
{
	struct proto_wr w;
	int rc;

	proto_wr_init(&w);
	proto_encode_list_req(&w, q);
	rc = d_list(w.buf, w.len, 0);
	proto_wr_free(&w);
	return rc;
}

static void test_proto_msg_list_scan(void **state)
{
	struct proto_list_req q;
	struct proto_scan_req s;
	struct proto_key k;
	struct proto_wr w;

	(void)state;
	memset(&q, 0, sizeof(q));
	q.ino = 12;
	q.kind = PROTO_KIND_DIRENT;
	q.flags = PROTO_LIST_AFTER;
	q.max = 100;
	proto_key_dirent(&k, 12, "f", 1);
	q.start_len = (uint16_t)proto_key_encode(&k, q.start);
	proto_wr_init(&w);
	proto_encode_list_req(&w, &q);
	check_strict(&w, 0, d_list);
	assert_int_equal(g_list.ino, 12);
	assert_int_equal(g_list.kind, PROTO_KIND_DIRENT);
	assert_int_equal(g_list.flags, PROTO_LIST_AFTER);
	assert_int_equal(g_list.max, 100);
	assert_int_equal(g_list.start_len, q.start_len);
	assert_memory_equal(g_list.start, q.start, q.start_len);
	proto_wr_free(&w);

	/* A readdir resume position: 01 dir 04 hash, not a whole key. */
	q.start_len = 18;
	assert_int_equal(enc_list(&q), 0);
	q.start_len = 9;
	assert_int_equal(enc_list(&q), 0);
	q.start_len = 8;
	assert_int_equal(enc_list(&q), -EBADMSG);
	q.start_len = 18;
	q.start[8] ^= 1; /* another partition */
	assert_int_equal(enc_list(&q), -EBADMSG);
	q.start[8] ^= 1;
	q.start_len = 0;
	q.kind = 0;
	assert_int_equal(enc_list(&q), 0);
	q.kind = PROTO_KIND_CHUNK;
	assert_int_equal(enc_list(&q), -EBADMSG);
	q.kind = 200;
	assert_int_equal(enc_list(&q), -EBADMSG);
	q.kind = PROTO_KIND_INODE;
	q.flags = 2;
	assert_int_equal(enc_list(&q), -EBADMSG);
	q.flags = 0;
	q.max = 0;
	assert_int_equal(enc_list(&q), -EBADMSG);
	q.max = PROTO_LIST_MAX_ENTRIES;
	assert_int_equal(enc_list(&q), 0);
	q.max = PROTO_LIST_MAX_ENTRIES + 1;
	assert_int_equal(enc_list(&q), -EMSGSIZE);
	q.max = 1;
	q.ino = 0;
	assert_int_equal(enc_list(&q), -EBADMSG);
	/* A start length over PROTO_KEY_MAX. */
	q.ino = 12;
	proto_wr_init(&w);
	proto_put_u64(&w, 12);
	proto_put_u8(&w, 0);
	proto_put_u8(&w, 0);
	proto_put_u32(&w, 1);
	proto_put_u16(&w, PROTO_KEY_MAX + 1);
	for (int i = 0; i < PROTO_KEY_MAX + 1; i++)
		proto_put_u8(&w, 1);
	assert_int_equal(d_list(w.buf, w.len, 0), -EMSGSIZE);
	proto_wr_free(&w);

	memset(&s, 0, sizeof(s));
	s.max = 7;
	proto_key_chunk(&k, 1, 2);
	s.start_len = (uint16_t)proto_key_encode(&k, s.start);
	proto_wr_init(&w);
	proto_encode_scan_req(&w, &s);
	check_strict(&w, 0, d_scan);
	assert_int_equal(g_scan.max, 7);
	assert_int_equal(g_scan.start_len, 17);
	assert_memory_equal(g_scan.start, s.start, 17);
	proto_wr_free(&w);
	s.flags = 0x80;
	proto_wr_init(&w);
	proto_encode_scan_req(&w, &s);
	assert_int_equal(d_scan(w.buf, w.len, 0), -EBADMSG);
	proto_wr_free(&w);
	s.flags = 0;
	s.max = 5000;
	proto_wr_init(&w);
	proto_encode_scan_req(&w, &s);
	assert_int_equal(d_scan(w.buf, w.len, 0), -EMSGSIZE);
	proto_wr_free(&w);
}

/* SCAN with a bucket bitmap, its reply's resume position, and PENDING_LIST
 * refusing the filter. */
static void test_proto_msg_scan_buckets(void **state)
{
	uint8_t *map = calloc(1, PROTO_DIGEST_BITMAP_LEN), pos[PROTO_KEY_MAX];
	struct proto_scan_req s, p2;
	struct proto_entry e;
	struct proto_rd r;
	struct proto_wr w;
	uint16_t plen;
	bool more;

	(void)state;
	assert_non_null(map);
	map[0] = 0x05; /* buckets 0 and 2 */
	map[PROTO_DIGEST_BITMAP_LEN - 1] = 0x80; /* and the last */
	memset(&s, 0, sizeof(s));
	s.flags = PROTO_SCAN_BUCKETS | PROTO_LIST_AFTER;
	s.max = 10;
	s.start_len = 1;
	s.start[0] = 0x02;
	s.buckets = map;
	proto_wr_init(&w);
	proto_encode_scan_req(&w, &s);
	assert_int_equal(w.len, 8 + PROTO_DIGEST_BITMAP_LEN);
	check_strict(&w, 0, d_scan);
	/* the decoded bitmap borrows the buffer: decode the one still alive */
	assert_int_equal(d_scan(w.buf, w.len, 0), 0);
	assert_non_null(g_scan.buckets);
	assert_true(proto_scan_has_bucket(g_scan.buckets, 0));
	assert_false(proto_scan_has_bucket(g_scan.buckets, 1));
	assert_true(proto_scan_has_bucket(g_scan.buckets, 2));
	assert_true(proto_scan_has_bucket(g_scan.buckets, PROTO_DIGEST_BUCKETS - 1));
	assert_int_equal(proto_decode_pending_list_req(w.buf, w.len, 0, &p2), -EBADMSG);
	proto_wr_free(&w);
	/* without the flag there is no bitmap */
	s.flags = PROTO_LIST_AFTER;
	proto_wr_init(&w);
	proto_encode_scan_req(&w, &s);
	assert_int_equal(w.len, 8);
	assert_int_equal(d_scan(w.buf, w.len, 0), 0);
	assert_null(g_scan.buckets);
	assert_int_equal(proto_decode_pending_list_req(w.buf, w.len, 0, &p2), 0);
	proto_wr_free(&w);

	/* reply: more, resume position, entries */
	memset(&e, 0, sizeof(e));
	proto_key_inode(&e.key, 12);
	e.meta.ver.hlc = 1;
	proto_wr_init(&w);
	proto_encode_page_head(&w, true);
	proto_encode_scan_resume(&w, (const uint8_t *)"\x01\x02", 2);
	proto_encode_entry(&w, &e, false);
	assert_int_equal(proto_page_begin(&r, w.buf, w.len, &more), 0);
	assert_true(more);
	assert_int_equal(proto_page_resume(&r, pos, &plen), 0);
	assert_int_equal(plen, 2);
	assert_int_equal(pos[1], 2);
	assert_int_equal(proto_page_next(&r, false, &e), 1);
	assert_int_equal(proto_page_next(&r, false, &e), 0);
	/* truncated in the resume position, or one too long */
	assert_int_equal(proto_page_begin(&r, w.buf, 3, &more), 0);
	assert_int_equal(proto_page_resume(&r, pos, &plen), -EBADMSG);
	proto_wr_free(&w);
	proto_wr_init(&w);
	proto_encode_page_head(&w, false);
	proto_put_u16(&w, PROTO_KEY_MAX + 1);
	assert_int_equal(proto_page_begin(&r, w.buf, w.len, &more), 0);
	assert_int_equal(proto_page_resume(&r, pos, &plen), -EMSGSIZE);
	assert_int_equal(proto_page_next(&r, false, &e), -EBADMSG);
	proto_wr_free(&w);
	free(map);
}

static void make_entries(struct proto_entry e[3])
{
	memset(e, 0, 3 * sizeof(e[0]));
	proto_key_inode(&e[0].key, 12);
	e[0].meta.ver.hlc = 1;
	e[0].meta.len = 5;
	e[0].val = (const uint8_t *)"inode";
	proto_key_dirent(&e[1].key, 12, "name", 4);
	e[1].meta.ver.hlc = 2;
	e[1].meta.len = 9;
	e[1].val = (const uint8_t *)"direntval";
	proto_key_xattr(&e[2].key, 12, "user.gone", 9);
	e[2].meta.ver.hlc = 3;
	e[2].meta.flags = PROTO_REC_TOMBSTONE;
}

static void test_proto_msg_page(void **state)
{
	struct proto_entry e[3], d;
	struct proto_wr w;
	struct proto_rd r;
	bool more;

	(void)state;
	for (int with = 0; with < 2; with++) {
		make_entries(e);
		proto_wr_init(&w);
		proto_encode_page_head(&w, with);
		for (int i = 0; i < 3; i++)
			proto_encode_entry(&w, &e[i], with);
		assert_false(w.bad);
		assert_int_equal(proto_page_begin(&r, w.buf, w.len, &more), 0);
		assert_int_equal(more, with);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(proto_page_next(&r, with, &d), 1);
			assert_true(proto_key_equal(&d.key, &e[i].key));
			assert_true(meta_equal(&d.meta, &e[i].meta));
			if (with && e[i].meta.len)
				assert_memory_equal(d.val, e[i].val, e[i].meta.len);
			else
				assert_null(d.val);
		}
		assert_int_equal(proto_page_next(&r, with, &d), 0);
		assert_int_equal(proto_page_next(&r, with, &d), 0);

		/* Every truncation: an error, or a clean end on an entry boundary. */
		for (size_t n = 0; n < w.len; n++) {
			uint8_t *b = malloc(n ? n : 1);
			int rc, got = 0;

			memcpy(b, w.buf, n);
			rc = proto_page_begin(&r, b, n, &more);
			if (n == 0) {
				assert_int_equal(rc, -EBADMSG);
			} else {
				while ((rc = proto_page_next(&r, with, &d)) == 1)
					got++;
				assert_true(rc == -EBADMSG || (rc == 0 && got < 3));
			}
			free(b);
		}
		proto_wr_free(&w);
	}

	/* Bad "more" byte, a bad key, a bad meta, an oversized value. */
	uint8_t two = 2;
	assert_int_equal(proto_page_begin(&r, &two, 1, &more), -EBADMSG);
	proto_wr_init(&w);
	proto_encode_page_head(&w, false);
	proto_put_u16(&w, 1);
	proto_put_u8(&w, 9);
	proto_meta_encode(&w, &e[0].meta);
	assert_int_equal(proto_page_begin(&r, w.buf, w.len, &more), 0);
	assert_int_equal(proto_page_next(&r, false, &d), -EBADMSG);
	assert_int_equal(proto_page_next(&r, false, &d), -EBADMSG); /* sticky */
	proto_wr_free(&w);

	make_entries(e);
	e[0].meta.flags = 0x100;
	proto_wr_init(&w);
	proto_encode_page_head(&w, false);
	proto_encode_entry(&w, &e[0], false);
	assert_int_equal(proto_page_begin(&r, w.buf, w.len, &more), 0);
	assert_int_equal(proto_page_next(&r, false, &d), -EBADMSG);
	proto_wr_free(&w);

	make_entries(e);
	e[0].meta.len = PROTO_VALUE_MAX + 1;
	proto_wr_init(&w);
	proto_encode_page_head(&w, false);
	proto_encode_entry(&w, &e[0], false);
	assert_int_equal(proto_page_begin(&r, w.buf, w.len, &more), 0);
	assert_int_equal(proto_page_next(&r, false, &d), -EFBIG);
	proto_wr_free(&w);

	/* A value longer than the frame. */
	make_entries(e);
	proto_wr_init(&w);
	proto_encode_page_head(&w, false);
	proto_encode_entry(&w, &e[0], false);
	assert_int_equal(proto_page_begin(&r, w.buf, w.len, &more), 0);
	assert_int_equal(proto_page_next(&r, true, &d), -EBADMSG);
	proto_wr_free(&w);

	/* A DIRENT key with a bad name inside a page. */
	proto_wr_init(&w);
	proto_encode_page_head(&w, false);
	{
		uint8_t kb[18 + 3];
		uint64_t h = proto_name_hash63("a/b", 3);

		kb[0] = 1;
		proto_be64_put(kb + 1, 12);
		kb[9] = 4;
		proto_be64_put(kb + 10, h);
		memcpy(kb + 18, "a/b", 3);
		proto_put_u16(&w, sizeof(kb));
		proto_put_bytes(&w, kb, sizeof(kb));
	}
	proto_meta_encode(&w, &e[1].meta);
	assert_int_equal(proto_page_begin(&r, w.buf, w.len, &more), 0);
	assert_int_equal(proto_page_next(&r, false, &d), -EINVAL);
	proto_wr_free(&w);
}

/* ---- DIGEST ---- */

static void test_proto_msg_digest(void **state)
{
	static const uint8_t golden_req[8] = { 0x10, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00 };
	struct proto_digest_req q = { .first = 16, .count = 2 };
	uint64_t d[3] = { 0x0102030405060708ULL, 0, 0xffffffffffffffffULL };
	struct proto_meta m = { .ver = { 5, 6 }, .sum = 7 };
	struct proto_key k;
	struct proto_wr w;
	uint8_t kb[PROTO_KEY_MAX];
	size_t kn;
	uint64_t h;

	(void)state;
	proto_wr_init(&w);
	proto_encode_digest_req(&w, &q);
	assert_int_equal(w.len, sizeof(golden_req));
	assert_memory_equal(w.buf, golden_req, sizeof(golden_req));
	check_strict(&w, 0, d_dreq);
	assert_int_equal(g_dreq.first, 16);
	assert_int_equal(g_dreq.count, 2);
	proto_wr_free(&w);

	/* count 0, first past the space, a range running past the end; the whole space */
	{
		static const struct { uint32_t first, count; int rc; } t[] = {
			{ 0, 0, -EBADMSG },
			{ PROTO_DIGEST_BUCKETS, 1, -EBADMSG },
			{ PROTO_DIGEST_BUCKETS - 1, 2, -EMSGSIZE },
			{ 0, PROTO_DIGEST_BUCKETS + 1, -EMSGSIZE },
			{ 0xffffffffu, 0xffffffffu, -EBADMSG },
			{ 0, PROTO_DIGEST_BUCKETS, 0 },
			{ PROTO_DIGEST_BUCKETS - 1, 1, 0 },
		};

		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			struct proto_digest_req r2 = { .first = t[i].first, .count = t[i].count };

			proto_wr_init(&w);
			proto_encode_digest_req(&w, &r2);
			assert_int_equal(d_dreq(w.buf, w.len, 0), t[i].rc);
			proto_wr_free(&w);
		}
	}

	/* reply: first, count, count x u64 */
	proto_wr_init(&w);
	proto_encode_digest_rep(&w, 100, 3, d);
	assert_int_equal(w.len, 8 + 24);
	assert_int_equal(w.buf[8], 0x08);
	assert_int_equal(w.buf[15], 0x01);
	check_strict(&w, 0, d_drep);
	assert_int_equal(d_drep(w.buf, w.len, 0), 0); /* g_drep borrows w.buf */
	assert_int_equal(g_drep.first, 100);
	assert_int_equal(g_drep.count, 3);
	for (uint32_t i = 0; i < 3; i++)
		assert_true(proto_digest_at(&g_drep, i) == d[i]);
	proto_wr_free(&w);
	/* a count the reply does not carry, or outside the bucket space */
	proto_wr_init(&w);
	proto_encode_digest_rep(&w, PROTO_DIGEST_BUCKETS - 2, 3, d);
	assert_int_equal(d_drep(w.buf, w.len, 0), -EMSGSIZE);
	proto_wr_free(&w);
	proto_wr_init(&w);
	proto_encode_digest_rep(&w, 0, 3, d);
	w.buf[4] = 4; /* says 4, carries 3 */
	assert_int_equal(d_drep(w.buf, w.len, 0), -EBADMSG);
	proto_wr_free(&w);

	/* buckets are the top 16 bits of the token */
	assert_int_equal(proto_digest_bucket(0), 0);
	assert_int_equal(proto_digest_bucket(0xffffffffffffffffULL), PROTO_DIGEST_BUCKETS - 1);
	assert_int_equal(proto_digest_bucket(0x1234ffffffffffffULL), 0x1234);

	proto_key_inode(&k, 3);
	kn = proto_key_encode(&k, kb);
	h = proto_entry_hash(kb, kn, &m);
	assert_int_equal(h, proto_entry_hash(kb, kn, &m));
	m.ver.writer++;
	assert_int_not_equal(h, proto_entry_hash(kb, kn, &m));
	m.ver.writer--;
	m.flags = PROTO_REC_TOMBSTONE;
	assert_int_not_equal(h, proto_entry_hash(kb, kn, &m));
	m.flags = 0;
	m.sum++;
	assert_int_not_equal(h, proto_entry_hash(kb, kn, &m));
	m.sum--;
	m.len = 99; /* not part of the identity: sum covers the value */
	assert_int_equal(h, proto_entry_hash(kb, kn, &m));
	assert_int_not_equal(h, proto_entry_hash(kb, kn - 1, &m));
}

static int d_rebuilt_req(const uint8_t *a, size_t l, size_t d)
{
	struct proto_rebuilt_req q;

	return proto_decode_rebuilt_req(a, l, d, &q);
}
static int d_rebuilt_rep(const uint8_t *a, size_t l, size_t d)
{
	struct proto_rebuilt_rep p;

	return proto_decode_rebuilt_rep(a, l, d, &p);
}

static void test_proto_msg_rebuilt(void **state)
{
	struct proto_rebuilt_req q, q2;
	struct proto_rebuilt_rep p = { .store_flags = PROTO_STORE_FRESH }, p2;
	struct proto_wr w;

	(void)state;
	for (int i = 0; i < PROTO_ID_LEN; i++) {
		q.volume_id[i] = (uint8_t)(0xa0 + i);
		q.store_id[i] = (uint8_t)(0x10 + i);
	}
	proto_wr_init(&w);
	proto_encode_rebuilt_req(&w, &q);
	assert_int_equal(w.len, 2 * PROTO_ID_LEN);
	/* the two raw ids, volume first, nothing else */
	assert_memory_equal(w.buf, q.volume_id, PROTO_ID_LEN);
	assert_memory_equal(w.buf + PROTO_ID_LEN, q.store_id, PROTO_ID_LEN);
	check_strict(&w, 0, d_rebuilt_req);
	assert_int_equal(proto_decode_rebuilt_req(w.buf, w.len, 0, &q2), 0);
	assert_memory_equal(q2.volume_id, q.volume_id, PROTO_ID_LEN);
	assert_memory_equal(q2.store_id, q.store_id, PROTO_ID_LEN);
	/* a zero id names no volume, or no store */
	memset(w.buf, 0, PROTO_ID_LEN);
	assert_int_equal(proto_decode_rebuilt_req(w.buf, w.len, 0, &q2), -EBADMSG);
	memcpy(w.buf, q.volume_id, PROTO_ID_LEN);
	memset(w.buf + PROTO_ID_LEN, 0, PROTO_ID_LEN);
	assert_int_equal(proto_decode_rebuilt_req(w.buf, w.len, 0, &q2), -EBADMSG);
	proto_wr_free(&w);

	proto_wr_init(&w);
	proto_encode_rebuilt_rep(&w, &p);
	assert_int_equal(w.len, 4);
	check_strict(&w, 0, d_rebuilt_rep);
	assert_int_equal(proto_decode_rebuilt_rep(w.buf, w.len, 0, &p2), 0);
	assert_int_equal(p2.store_flags, PROTO_STORE_FRESH);
	proto_wr_free(&w);
	p.store_flags = PROTO_STORE_MASK + 1; /* an unknown store flag */
	proto_wr_init(&w);
	proto_encode_rebuilt_rep(&w, &p);
	assert_int_equal(proto_decode_rebuilt_rep(w.buf, w.len, 0, &p2), -EBADMSG);
	proto_wr_free(&w);
}

/* ---- pending-repair index and tombstone batches (ops 12..16) ---- */

static int d_batch(uint8_t op, const uint8_t *a, size_t l, size_t dl)
{
	struct proto_rd r;
	uint16_t n;

	return proto_decode_batch_req(op, a, l, dl, &r, &n);
}

static void test_proto_msg_pending_add_layout(void **state)
{
	/* PENDING_ADD of CHUNK(0x102, 3) missed by "c": byte for byte */
	static const uint8_t want[] = {
		0x01, 0x00,		/* count 1 */
		0x11, 0x00,		/* key length 17 */
		0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x03,
		0x01,			/* one name */
		0x01, 'c',
	};
	struct proto_batch_ent e, got;
	struct proto_wr w;
	struct proto_rd r;
	uint16_t n;

	(void)state;
	memset(&e, 0, sizeof(e));
	proto_key_chunk(&e.key, 0x102, 3);
	e.nmissed = 1;
	strcpy(e.missed[0], "c");
	proto_wr_init(&w);
	proto_encode_batch_head(&w, 1);
	proto_encode_batch_ent(&w, PROTO_OP_PENDING_ADD, &e);
	assert_int_equal(w.len, sizeof(want));
	assert_memory_equal(w.buf, want, sizeof(want));
	assert_int_equal(proto_decode_batch_req(PROTO_OP_PENDING_ADD, w.buf, w.len, 0, &r, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(proto_batch_next(&r, PROTO_OP_PENDING_ADD, &got), 0);
	assert_true(proto_key_equal(&got.key, &e.key));
	assert_string_equal(got.missed[0], "c");
	assert_int_equal(r.left, 0);
	/* every truncation, a trailing byte, DATA, an op without batches */
	for (size_t i = 0; i < w.len; i++)
		assert_int_equal(d_batch(PROTO_OP_PENDING_ADD, w.buf, i, 0), -EBADMSG);
	proto_put_u8(&w, 0);
	assert_int_equal(d_batch(PROTO_OP_PENDING_ADD, w.buf, w.len, 0), -EBADMSG);
	assert_int_equal(d_batch(PROTO_OP_PENDING_ADD, w.buf, w.len - 1, 1), -EBADMSG);
	assert_int_equal(d_batch(PROTO_OP_SCAN, w.buf, w.len - 1, 0), -EOPNOTSUPP);
	proto_wr_free(&w);
}

/* Encode @op with one entry @e into @w. */
static void enc_batch1(struct proto_wr *w, uint8_t op, const struct proto_batch_ent *e)
{
	proto_wr_init(w);
	proto_encode_batch_head(w, 1);
	proto_encode_batch_ent(w, op, e);
}

static void test_proto_msg_batch_checks(void **state)
{
	static const uint8_t ops[] = { PROTO_OP_PENDING_ADD, PROTO_OP_PENDING_DEL,
				       PROTO_OP_TOMB_CONFIRM, PROTO_OP_PURGE };
	uint8_t zero_count[2] = { 0, 0 }, big_count[2] = { 0x01, 0x04 }; /* 1025 */
	struct proto_batch_ent e;
	struct proto_wr w;
	struct proto_rd r;
	uint16_t n;

	(void)state;
	memset(&e, 0, sizeof(e));
	proto_key_inode(&e.key, 42);
	e.ver.hlc = 5;
	e.stamp = 9;
	e.nmissed = 2;
	strcpy(e.missed[0], "a");
	strcpy(e.missed[1], "b-2.x");
	for (size_t i = 0; i < sizeof(ops); i++) {
		enc_batch1(&w, ops[i], &e);
		assert_int_equal(d_batch(ops[i], w.buf, w.len, 0), 0);
		for (size_t k = 0; k < w.len; k++)
			assert_int_equal(d_batch(ops[i], w.buf, k, 0), -EBADMSG);
		proto_wr_free(&w);
		assert_int_equal(d_batch(ops[i], zero_count, 2, 0), -EBADMSG);
		assert_int_equal(d_batch(ops[i], big_count, 2, 0), -EMSGSIZE);
	}
	/* exact sizes: DEL = 2 + K + 8, CONFIRM/PURGE = 2 + K + 16 (K = 12 here) */
	enc_batch1(&w, PROTO_OP_PENDING_DEL, &e);
	assert_int_equal(w.len, 2 + 12 + 8);
	proto_wr_free(&w);
	enc_batch1(&w, PROTO_OP_PURGE, &e);
	assert_int_equal(w.len, 2 + 12 + 16);
	proto_wr_free(&w);
	/* zero version, zero stamp */
	e.ver.hlc = 0;
	enc_batch1(&w, PROTO_OP_TOMB_CONFIRM, &e);
	assert_int_equal(d_batch(PROTO_OP_TOMB_CONFIRM, w.buf, w.len, 0), -EBADMSG);
	proto_wr_free(&w);
	e.ver.hlc = 5;
	e.stamp = 0;
	enc_batch1(&w, PROTO_OP_PENDING_DEL, &e);
	assert_int_equal(d_batch(PROTO_OP_PENDING_DEL, w.buf, w.len, 0), -EBADMSG);
	proto_wr_free(&w);
	/* names: none, unprintable, too many, too long */
	e.nmissed = 0;
	enc_batch1(&w, PROTO_OP_PENDING_ADD, &e);
	assert_int_equal(d_batch(PROTO_OP_PENDING_ADD, w.buf, w.len, 0), -EBADMSG);
	proto_wr_free(&w);
	e.nmissed = 1;
	strcpy(e.missed[0], "a b");
	enc_batch1(&w, PROTO_OP_PENDING_ADD, &e);
	assert_int_equal(d_batch(PROTO_OP_PENDING_ADD, w.buf, w.len, 0), -EBADMSG);
	proto_wr_free(&w);
	strcpy(e.missed[0], "a");
	enc_batch1(&w, PROTO_OP_PENDING_ADD, &e);
	w.buf[w.len - 3] = PROTO_PENDING_MISSED_MAX + 1; /* the name count */
	assert_int_equal(d_batch(PROTO_OP_PENDING_ADD, w.buf, w.len, 0), -EMSGSIZE);
	w.buf[w.len - 3] = 1;
	w.buf[w.len - 2] = PROTO_DAEMON_NAME_MAX + 1; /* a name length */
	assert_int_equal(d_batch(PROTO_OP_PENDING_ADD, w.buf, w.len, 0), -EMSGSIZE);
	proto_wr_free(&w);
	/* a bad key inside a batch: inode 0 */
	e.key.ino = 0;
	enc_batch1(&w, PROTO_OP_PURGE, &e);
	assert_int_equal(d_batch(PROTO_OP_PURGE, w.buf, w.len, 0), -EBADMSG);
	proto_wr_free(&w);
	/* the largest batch fits in an ARGS frame */
	proto_key_inode(&e.key, 1);
	proto_wr_init(&w);
	proto_encode_batch_head(&w, PROTO_BATCH_MAX);
	for (int i = 0; i < PROTO_BATCH_MAX; i++)
		proto_encode_batch_ent(&w, PROTO_OP_PURGE, &e);
	assert_true(w.len <= PROTO_ARGS_MAX);
	assert_int_equal(proto_decode_batch_req(PROTO_OP_PURGE, w.buf, w.len, 0, &r, &n), 0);
	assert_int_equal(n, PROTO_BATCH_MAX);
	proto_wr_free(&w);
}

static void test_proto_msg_pending_page_count(void **state)
{
	struct proto_batch_ent e, got;
	struct proto_wr w;
	struct proto_rd r;
	uint32_t cnt;
	bool more;

	(void)state;
	memset(&e, 0, sizeof(e));
	proto_key_chunk(&e.key, 3, 4);
	e.stamp = 0x0102030405060708ull;
	e.nmissed = 1;
	strcpy(e.missed[0], "node-b");
	proto_wr_init(&w);
	proto_encode_page_head(&w, true);
	proto_encode_batch_ent(&w, PROTO_OP_PENDING_LIST, &e);
	/* more, key (2 + 17), stamp, n, len + 6 */
	assert_int_equal(w.len, 1 + 19 + 8 + 1 + 7);
	assert_int_equal(w.buf[20], 0x08); /* stamp, little-endian */
	assert_int_equal(proto_page_begin(&r, w.buf, w.len, &more), 0);
	assert_true(more);
	assert_int_equal(proto_pending_page_next(&r, &got), 1);
	assert_int_equal(got.stamp, e.stamp);
	assert_string_equal(got.missed[0], "node-b");
	assert_int_equal(proto_pending_page_next(&r, &got), 0);
	assert_int_equal(proto_page_begin(&r, w.buf, w.len - 1, &more), 0);
	assert_int_equal(proto_pending_page_next(&r, &got), -EBADMSG);
	proto_wr_free(&w);

	proto_wr_init(&w);
	proto_encode_count_rep(&w, 0x11223344);
	assert_int_equal(w.len, 4);
	assert_int_equal(w.buf[0], 0x44);
	assert_int_equal(proto_decode_count_rep(w.buf, w.len, 0, &cnt), 0);
	assert_int_equal(cnt, 0x11223344);
	assert_int_equal(proto_decode_count_rep(w.buf, 3, 0, &cnt), -EBADMSG);
	assert_int_equal(proto_decode_count_rep(w.buf, 4, 1, &cnt), -EBADMSG);
	proto_wr_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_msg_hello),
		cmocka_unit_test(test_proto_msg_hello_golden),
		cmocka_unit_test(test_proto_msg_sync_stat),
		cmocka_unit_test(test_proto_msg_put),
		cmocka_unit_test(test_proto_msg_write_rep),
		cmocka_unit_test(test_proto_msg_get),
		cmocka_unit_test(test_proto_msg_get_rep),
		cmocka_unit_test(test_proto_msg_patch_head),
		cmocka_unit_test(test_proto_msg_list_scan),
		cmocka_unit_test(test_proto_msg_page),
		cmocka_unit_test(test_proto_msg_digest),
		cmocka_unit_test(test_proto_msg_scan_buckets),
		cmocka_unit_test(test_proto_msg_pending_add_layout),
		cmocka_unit_test(test_proto_msg_batch_checks),
		cmocka_unit_test(test_proto_msg_pending_page_count),
		cmocka_unit_test(test_proto_msg_rebuilt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
