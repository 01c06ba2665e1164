// SPDX-License-Identifier: MIT
/*
 * test_proto_merge.c - record metadata and value codecs (meta, SUPER,
 * DIRENT, INODE), checksums, and the merge laws: commutative, associative
 * and idempotent on 10,000+ generated triples per kind from a seeded PRNG,
 * including INODE with forced register ties and undecodable values.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>

#include <cmocka.h>

#include "proto/record.h"

#define TRIPLES 12000

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t n)
{
	return rng() % n;
}

/* A generated record owning its value bytes. */
struct grec {
	struct proto_rec r;
	uint8_t val[512];
};

static bool rec_equal(const struct proto_rec *a, const struct proto_rec *b)
{
	if (memcmp(&a->meta.ver, &b->meta.ver, sizeof(a->meta.ver)) || a->meta.flags != b->meta.flags ||
	    a->meta.epoch != b->meta.epoch || a->meta.len != b->meta.len ||
	    a->meta.sum != b->meta.sum)
		return false;
	if (a->meta.len == 0)
		return true;
	if (!a->val || !b->val)
		return a->val == b->val;
	return memcmp(a->val, b->val, a->meta.len) == 0;
}

/* Small value spaces so that versions, sums and bytes tie often. */
static void gen_lww(struct grec *g)
{
	static const uint32_t flags[] = { 0, PROTO_REC_TOMBSTONE, PROTO_REC_CORRUPT,
					  PROTO_REC_TOMBSTONE | PROTO_REC_CORRUPT };

	memset(g, 0, sizeof(*g));
	g->r.meta.ver.hlc = rnd(3);
	g->r.meta.ver.writer = rnd(2);
	g->r.meta.flags = flags[rnd(4)];
	g->r.meta.epoch = rnd(2);
	g->r.meta.len = (uint32_t)rnd(3);
	g->r.meta.sum = rnd(2);
	for (uint32_t i = 0; i < g->r.meta.len; i++)
		g->val[i] = (uint8_t)('a' + rnd(2));
	g->r.val = g->r.meta.len || rnd(2) ? g->val : NULL;
}

static void random_inode(struct proto_inode *ino)
{
	static const uint32_t types[] = { S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO };

	memset(ino, 0, sizeof(*ino));
#define RV(v)                                                                              \
	do {                                                                               \
		(v).hlc = rnd(3);                                                          \
		(v).writer = rnd(2);                                                       \
	} while (0)
	RV(ino->attr_ver);
	ino->mode = types[rnd(4)] | (uint32_t)rnd(2) * 0644;
	ino->uid = (uint32_t)rnd(2);
	ino->gid = (uint32_t)rnd(2);
	ino->rdev = 0;
	RV(ino->atime_ver);
	RV(ino->mtime_ver);
	ino->atime_sec = (int64_t)rnd(3) - 1;
	ino->mtime_sec = (int64_t)rnd(2);
	ino->atime_nsec = (uint32_t)rnd(2) * 999999999u;
	ino->mtime_nsec = (uint32_t)rnd(2);
	RV(ino->size_ver);
	ino->epoch = rnd(4);
	ino->size = rnd(3) * 100;
	/* Truncation points, any order: the encoder normalizes them. */
	ino->ntrunc = (uint8_t)rnd(4);
	for (int i = 0; i < ino->ntrunc; i++) {
		ino->trunc[i].epoch = rnd(ino->epoch + 1);
		ino->trunc[i].size = rnd(4) * 10;
	}
	RV(ino->parent_ver);
	ino->parent = 1 + rnd(2);
	RV(ino->target_ver);
	ino->target_len = (uint16_t)rnd(3);
	for (int i = 0; i < ino->target_len; i++)
		ino->target[i] = (char)('x' + rnd(2));
	if (rnd(3) == 0)
		RV(ino->del_ver);
	else
		ino->del_ver.hlc = ino->del_ver.writer = 0;
#undef RV
}

static void gen_inode(struct grec *g)
{
	struct proto_inode ino;
	struct proto_wr w;
	unsigned what = (unsigned)rnd(10);

	memset(g, 0, sizeof(*g));
	random_inode(&ino);
	if (what == 0) {
		/* Undecodable: short random bytes with random meta. */
		gen_lww(g);
		g->r.meta.len = (uint32_t)rnd(160);
		for (uint32_t i = 0; i < g->r.meta.len; i++)
			g->val[i] = (uint8_t)rnd(2);
		g->r.val = g->val;
		return;
	}
	if (what == 1)
		ino.mtime_nsec = 1000000000u; /* encodes, does not decode */
	proto_wr_init(&w);
	proto_inode_encode(&w, &ino);
	assert_false(w.bad);
	assert_true(w.len <= sizeof(g->val));
	memcpy(g->val, w.buf, w.len);
	g->r.val = g->val;
	if (what == 1) {
		gen_lww(g);
		memcpy(g->val, w.buf, w.len);
		g->r.meta.len = (uint32_t)w.len;
		g->r.val = g->val;
	} else {
		proto_inode_meta(&ino, g->val, (uint32_t)w.len, &g->r.meta);
	}
	proto_wr_free(&w);
}

static void check_laws(uint8_t kind, void (*gen)(struct grec *))
{
	struct proto_wr b1, b2, b3, b4, b5, b6;
	struct proto_rec ab, ba, ab_c, bc, a_bc, aa;
	struct grec *g = malloc(3 * sizeof(*g));

	assert_non_null(g);
	proto_wr_init(&b1);
	proto_wr_init(&b2);
	proto_wr_init(&b3);
	proto_wr_init(&b4);
	proto_wr_init(&b5);
	proto_wr_init(&b6);
	for (int t = 0; t < TRIPLES; t++) {
		const struct proto_rec *a = &g[0].r, *b = &g[1].r, *c = &g[2].r;

		gen(&g[0]);
		gen(&g[1]);
		gen(&g[2]);
		assert_int_equal(proto_merge(kind, a, b, &ab, &b1), 0);
		assert_int_equal(proto_merge(kind, b, a, &ba, &b2), 0);
		assert_true(rec_equal(&ab, &ba));
		assert_int_equal(proto_merge(kind, &ab, c, &ab_c, &b3), 0);
		assert_int_equal(proto_merge(kind, b, c, &bc, &b4), 0);
		assert_int_equal(proto_merge(kind, a, &bc, &a_bc, &b5), 0);
		assert_true(rec_equal(&ab_c, &a_bc));
		assert_int_equal(proto_merge(kind, a, a, &aa, &b6), 0);
		assert_true(rec_equal(&aa, a));
		assert_int_equal(proto_merge(kind, &ab, &ab, &aa, &b6), 0);
		assert_true(rec_equal(&aa, &ab));
		/* Merging into the buffer an input lives in is safe. */
		assert_int_equal(proto_merge(kind, &ab, c, &ab, &b1), 0);
		assert_true(rec_equal(&ab, &ab_c));
	}
	proto_wr_free(&b1);
	proto_wr_free(&b2);
	proto_wr_free(&b3);
	proto_wr_free(&b4);
	proto_wr_free(&b5);
	proto_wr_free(&b6);
	free(g);
}

static void test_proto_merge_laws_lww(void **state)
{
	(void)state;
	rng_state = 1;
	for (uint8_t kind = 0; kind < PROTO_KIND_MAX; kind++)
		if (kind != PROTO_KIND_INODE)
			check_laws(kind, gen_lww);
}

static void test_proto_merge_laws_inode(void **state)
{
	(void)state;
	rng_state = 2;
	check_laws(PROTO_KIND_INODE, gen_inode);
}

static void test_proto_merge_lww_order(void **state)
{
	struct proto_rec a = { .meta = { .ver = { 10, 1 }, .len = 1 }, .val = (const uint8_t *)"a" };
	struct proto_rec b = { .meta = { .ver = { 10, 2 }, .len = 1 }, .val = (const uint8_t *)"b" };
	struct proto_rec o;
	struct proto_wr w;

	(void)state;
	proto_wr_init(&w);
	assert_int_equal(proto_merge(PROTO_KIND_CHUNK, &a, &b, &o, &w), 0);
	assert_ptr_equal(o.val, b.val); /* writer id breaks the tie */
	b.meta.ver.writer = 1;
	b.meta.flags = PROTO_REC_TOMBSTONE;
	b.meta.len = 0;
	assert_int_equal(proto_merge(PROTO_KIND_DIRENT, &a, &b, &o, &w), 0);
	assert_int_equal(o.meta.flags, PROTO_REC_TOMBSTONE); /* delete wins a tie */
	b.meta.ver.hlc = 9;
	assert_int_equal(proto_merge(PROTO_KIND_DIRENT, &b, &a, &o, &w), 0);
	assert_ptr_equal(o.val, a.val);
	assert_true(proto_lww_cmp(&a.meta, &b.meta) > 0);
	assert_int_equal(proto_lww_cmp(&a.meta, &a.meta), 0);
	assert_int_equal(proto_merge(PROTO_KIND_MAX, &a, &b, &o, &w), -EINVAL);
	proto_wr_free(&w);
}

static void enc_inode(const struct proto_inode *ino, struct proto_wr *w, struct proto_rec *r)
{
	proto_wr_init(w);
	proto_inode_encode(w, ino);
	assert_false(w->bad);
	r->val = w->buf;
	proto_inode_meta(ino, w->buf, (uint32_t)w->len, &r->meta);
}

static void test_proto_merge_inode_semantics(void **state)
{
	struct proto_inode a, b, m;
	struct proto_wr wa, wb, wo;
	struct proto_rec ra, rb, o;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.attr_ver = (struct proto_version){ PROTO_HLC_MAKE(1000, 0), 1 };
	a.mode = S_IFREG | 0644;
	a.size_ver = (struct proto_version){ PROTO_HLC_MAKE(1005, 0), 1 };
	a.epoch = 1;
	a.size = 100;
	b = a;
	/* Concurrent extensions: the larger size survives, whatever the versions. */
	b.size_ver = (struct proto_version){ PROTO_HLC_MAKE(1003, 0), 2 };
	b.size = 200;
	b.mtime_ver = (struct proto_version){ PROTO_HLC_MAKE(1010, 0), 2 };
	b.mtime_sec = 77;
	proto_inode_merge(&a, &b, &m);
	assert_int_equal(m.size, 200);
	assert_int_equal(m.mtime_sec, 77);
	assert_int_equal(proto_inode_ctime_ms(&m), 1010);
	/* A truncate (new epoch) beats a larger size of an older epoch. */
	a.epoch = 2;
	a.size = 0;
	proto_inode_merge(&a, &b, &m);
	assert_int_equal(m.epoch, 2);
	assert_int_equal(m.size, 0);

	/* Deletion: a tombstone only while newer than every register. */
	assert_false(proto_inode_is_deleted(&m));
	m.del_ver = (struct proto_version){ PROTO_HLC_MAKE(2000, 0), 1 };
	assert_true(proto_inode_is_deleted(&m));
	assert_int_equal(proto_inode_version(&m).hlc, PROTO_HLC_MAKE(2000, 0));
	assert_int_equal(proto_inode_ctime_ms(&m), 1010);
	enc_inode(&m, &wa, &ra);
	assert_int_equal(ra.meta.flags, PROTO_REC_TOMBSTONE);
	assert_int_equal(ra.meta.epoch, 2);
	b.attr_ver = (struct proto_version){ PROTO_HLC_MAKE(3000, 0), 1 }; /* re-created */
	enc_inode(&b, &wb, &rb);
	proto_wr_init(&wo);
	assert_int_equal(proto_merge(PROTO_KIND_INODE, &ra, &rb, &o, &wo), 0);
	assert_int_equal(o.meta.flags, 0);
	assert_int_equal(o.meta.ver.hlc, PROTO_HLC_MAKE(3000, 0));
	assert_int_equal(proto_inode_decode(o.val, o.meta.len, &m), 0);
	assert_int_equal(m.epoch, 2);
	{
		uint64_t bs = proto_block_sum(o.val, o.meta.len);

		assert_int_equal(o.meta.sum, proto_sums_combine(&bs, 1));
	}

	/* An undecodable INODE value loses to one that decodes. */
	struct proto_rec junk = { .meta = { .ver = { UINT64_MAX, UINT64_MAX }, .len = 3 },
				  .val = (const uint8_t *)"xyz" };
	assert_int_equal(proto_merge(PROTO_KIND_INODE, &junk, &rb, &o, &wo), 0);
	assert_true(rec_equal(&o, &rb));
	proto_wr_free(&wa);
	proto_wr_free(&wb);
	proto_wr_free(&wo);
}

static void test_proto_merge_inode_codec(void **state)
{
	struct proto_inode a, d;
	struct proto_wr w;
	uint8_t *b;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.attr_ver = (struct proto_version){ 5, 6 };
	a.mode = S_IFLNK | 0777;
	a.uid = 1000;
	a.gid = 100;
	a.atime_sec = -5;
	a.mtime_sec = 1700000000;
	a.mtime_nsec = 999999999;
	a.size = 11;
	a.parent = 1;
	a.target_len = 11;
	memcpy(a.target, "/etc/passwd", 11);
	proto_wr_init(&w);
	proto_inode_encode(&w, &a);
	assert_int_equal(w.len, 179 + 11);
	assert_int_equal(proto_inode_decode(w.buf, w.len, &d), 0);
	assert_memory_equal(&d, &a, offsetof(struct proto_inode, target));
	assert_string_equal(d.target, "/etc/passwd");
	for (size_t n = 0; n < w.len; n++) {
		b = malloc(n ? n : 1);
		memcpy(b, w.buf, n);
		assert_int_equal(proto_inode_decode(b, n, &d), -EBADMSG);
		free(b);
	}
	b = calloc(1, w.len + 1);
	memcpy(b, w.buf, w.len);
	assert_int_equal(proto_inode_decode(b, w.len + 1, &d), -EBADMSG);
	free(b);
	proto_wr_free(&w);

#define BAD(stmt)                                                                          \
	do {                                                                               \
		struct proto_inode x = a;                                                  \
		stmt;                                                                      \
		proto_wr_init(&w);                                                         \
		proto_inode_encode(&w, &x);                                                \
		assert_int_equal(proto_inode_decode(w.buf, w.len, &d), -EBADMSG);          \
		proto_wr_free(&w);                                                         \
	} while (0)
	BAD(x.atime_nsec = 1000000000u);
	BAD(x.mtime_nsec = 0xffffffffu);
	BAD(x.mode = 0x10000 | S_IFREG);
	BAD(x.mode = 0644); /* no file type on a written attr register */
	BAD(x.mode = 0170000);
	BAD(x.size = (uint64_t)INT64_MAX + 1);
	BAD(x.target[3] = '\0');
#undef BAD
	/* target_len over the max or not matching the frame length. */
	proto_wr_init(&w);
	proto_inode_encode(&w, &a);
	w.buf[177] = 12;
	assert_int_equal(proto_inode_decode(w.buf, w.len, &d), -EBADMSG);
	w.buf[177] = 0xff;
	w.buf[178] = 0xff;
	assert_int_equal(proto_inode_decode(w.buf, w.len, &d), -EBADMSG);
	proto_wr_free(&w);
	a.target_len = PROTO_TARGET_MAX;
	memset(a.target, 't', PROTO_TARGET_MAX);
	proto_wr_init(&w);
	proto_inode_encode(&w, &a);
	assert_int_equal(proto_inode_decode(w.buf, w.len, &d), 0);
	assert_int_equal(d.target_len, PROTO_TARGET_MAX);
	proto_wr_free(&w);
}

static void test_proto_merge_super_dirent_meta(void **state)
{
	struct proto_super s = { .format = 1, .chunk_size = 1024 * 1024, .created_ms = 5 }, ds;
	struct proto_dirent de = { .ino = 7, .type = 4 }, dd;
	struct proto_meta m = { .ver = { 1, 2 }, .flags = 3, .epoch = 4, .len = 5, .sum = 6 }, dm;
	struct proto_wr w;
	struct proto_rd r;

	(void)state;
	memset(s.volume_id, 0x5a, sizeof(s.volume_id));
	proto_wr_init(&w);
	proto_super_encode(&w, &s);
	assert_int_equal(w.len, PROTO_SUPER_LEN);
	assert_int_equal(proto_super_decode(w.buf, w.len, &ds), 0);
	assert_memory_equal(&ds, &s, sizeof(s));
	for (size_t n = 0; n < w.len; n++)
		assert_int_equal(proto_super_decode(w.buf, n, &ds), -EBADMSG);
	proto_wr_free(&w);
#define BADS(stmt)                                                                         \
	do {                                                                               \
		struct proto_super x = s;                                                  \
		stmt;                                                                      \
		proto_wr_init(&w);                                                         \
		proto_super_encode(&w, &x);                                                \
		assert_int_equal(proto_super_decode(w.buf, w.len, &ds), -EBADMSG);         \
		proto_wr_free(&w);                                                         \
	} while (0)
	BADS(x.format = 0);
	BADS(x.format = PROTO_FORMAT_VERSION + 1);
	BADS(x.chunk_size = 0);
	BADS(x.chunk_size = PROTO_CHUNK_MAX + PROTO_BLOCK_SIZE);
	BADS(x.chunk_size = PROTO_BLOCK_SIZE + 512);
	BADS(x.reserved = 1);
#undef BADS

	proto_wr_init(&w);
	proto_dirent_encode(&w, &de);
	assert_int_equal(w.len, PROTO_DIRENT_LEN);
	assert_int_equal(proto_dirent_decode(w.buf, w.len, &dd), 0);
	assert_int_equal(dd.ino, 7);
	assert_int_equal(dd.type, 4);
	assert_int_equal(proto_dirent_decode(w.buf, w.len - 1, &dd), -EBADMSG);
	w.buf[8] = 3;
	assert_int_equal(proto_dirent_decode(w.buf, w.len, &dd), -EBADMSG);
	w.buf[8] = 0;
	assert_int_equal(proto_dirent_decode(w.buf, w.len, &dd), -EBADMSG);
	w.buf[8] = 8;
	memset(w.buf, 0, 8);
	assert_int_equal(proto_dirent_decode(w.buf, w.len, &dd), -EBADMSG);
	proto_wr_free(&w);

	proto_wr_init(&w);
	proto_meta_encode(&w, &m);
	assert_int_equal(w.len, PROTO_META_LEN);
	proto_rd_init(&r, w.buf, w.len);
	assert_int_equal(proto_meta_decode(&r, &dm), 0);
	assert_int_equal(dm.ver.hlc, 1);
	assert_int_equal(dm.ver.writer, 2);
	assert_int_equal(dm.flags, 3);
	assert_int_equal(dm.epoch, 4);
	assert_int_equal(dm.len, 5);
	assert_int_equal(dm.sum, 6);
	proto_rd_init(&r, w.buf, w.len - 1);
	assert_int_equal(proto_meta_decode(&r, &dm), -EBADMSG);
	w.buf[16] = 4;
	proto_rd_init(&r, w.buf, w.len);
	assert_int_equal(proto_meta_decode(&r, &dm), -EBADMSG);
	proto_wr_free(&w);
}

static void test_proto_merge_trunc(void **state)
{
	struct proto_trunc a[PROTO_TRUNC_MAX] = { { 1, 50 }, { 2, 10 }, { 4, 30 } };
	struct proto_trunc b[2] = { { 3, 5 }, { 5, 40 } };
	struct proto_trunc out[PROTO_TRUNC_MAX], many[PROTO_TRUNC_MAX];
	struct proto_inode x, y, m, d;
	struct proto_wr w;
	unsigned n;

	(void)state;
	/* (1,50) is cut by the later (2,10); (2,10) by (3,5). */
	n = proto_trunc_normalize(a, 3, NULL, 0, out);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].epoch, 2);
	assert_int_equal(out[0].size, 10);
	assert_int_equal(out[1].epoch, 4);
	n = proto_trunc_normalize(a, 3, b, 2, out);
	assert_int_equal(n, 3);
	assert_int_equal(out[0].epoch, 3);
	assert_int_equal(out[0].size, 5);
	assert_int_equal(out[1].epoch, 4);
	assert_int_equal(out[2].epoch, 5);
	/* Same epoch twice: the smaller cut stays. */
	struct proto_trunc dup[2] = { { 7, 9 }, { 7, 3 } };
	n = proto_trunc_normalize(dup, 2, dup, 2, out);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].size, 3);
	/* Aliasing the output is fine. */
	n = proto_trunc_normalize(a, 3, b, 2, a);
	assert_int_equal(n, 3);
	assert_int_equal(a[0].size, 5);
	/* Over PROTO_TRUNC_MAX: the oldest go. */
	for (unsigned i = 0; i < PROTO_TRUNC_MAX; i++)
		many[i] = (struct proto_trunc){ 10 + i, 100 + i };
	struct proto_trunc newer = { 100, 1000 };
	n = proto_trunc_normalize(many, PROTO_TRUNC_MAX, &newer, 1, out);
	assert_int_equal(n, PROTO_TRUNC_MAX);
	assert_int_equal(out[0].epoch, 11);
	assert_int_equal(out[PROTO_TRUNC_MAX - 1].epoch, 100);

	/* Codec and merge: a truncate survives losing the size register. */
	memset(&x, 0, sizeof(x));
	x.attr_ver = (struct proto_version){ 1, 1 };
	x.mode = S_IFREG | 0600;
	x.size_ver = (struct proto_version){ 10, 1 };
	x.epoch = 3;
	x.size = 0;
	x.ntrunc = 1;
	x.trunc[0] = (struct proto_trunc){ 3, 0 };
	y = x;
	y.size_ver = (struct proto_version){ 12, 2 };
	y.epoch = 4;
	y.size = 100;
	y.ntrunc = 1;
	y.trunc[0] = (struct proto_trunc){ 4, 20 };
	proto_inode_merge(&x, &y, &m);
	assert_int_equal(m.epoch, 4);
	assert_int_equal(m.size, 100);
	assert_int_equal(m.ntrunc, 2);
	assert_int_equal(m.trunc[0].size, 0);
	assert_int_equal(m.trunc[1].size, 20);
	proto_wr_init(&w);
	proto_inode_encode(&w, &m);
	assert_int_equal(w.len, 179 + 2 * 16);
	assert_int_equal(proto_inode_decode(w.buf, w.len, &d), 0);
	assert_int_equal(d.ntrunc, 2);
	assert_int_equal(d.trunc[1].epoch, 4);
	assert_int_equal(d.trunc[1].size, 20);
	assert_int_equal(d.parent, m.parent);
	for (size_t k = 0; k < w.len; k++)
		assert_int_equal(proto_inode_decode(w.buf, k, &d), -EBADMSG);
	/* Non-canonical stacks on the wire are refused. */
	w.buf[121 + 16 + 8] = 0; /* second size 0: not increasing */
	assert_int_equal(proto_inode_decode(w.buf, w.len, &d), -EBADMSG);
	w.buf[121 + 16 + 8] = 20;
	w.buf[121 + 16] = 3; /* second epoch 3: not increasing */
	assert_int_equal(proto_inode_decode(w.buf, w.len, &d), -EBADMSG);
	w.buf[121 + 16] = 5; /* newer than the size group's epoch 4 */
	assert_int_equal(proto_inode_decode(w.buf, w.len, &d), -EBADMSG);
	w.buf[121 + 16] = 4;
	assert_int_equal(proto_inode_decode(w.buf, w.len, &d), 0);
	w.buf[120] = PROTO_TRUNC_MAX + 1;
	assert_int_equal(proto_inode_decode(w.buf, w.len, &d), -EBADMSG);
	proto_wr_free(&w);
}

static void test_proto_merge_sums(void **state)
{
	static uint8_t v[2 * PROTO_BLOCK_SIZE + 3];
	uint64_t sums[3];
	uint8_t le[24];
	uint64_t rs;

	(void)state;
	for (size_t i = 0; i < sizeof(v); i++)
		v[i] = (uint8_t)i;
	rs = proto_value_sums(v, sizeof(v), sums);
	assert_int_equal(sums[0], XXH3_64bits(v, PROTO_BLOCK_SIZE));
	assert_int_equal(sums[2], XXH3_64bits(v + 2 * PROTO_BLOCK_SIZE, 3));
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 8; j++)
			le[8 * i + j] = (uint8_t)(sums[i] >> (8 * j));
	assert_int_equal(rs, XXH3_64bits(le, sizeof(le)));
	assert_int_equal(rs, proto_sums_combine(sums, 3));
	assert_int_equal(proto_value_sums(NULL, 0, sums), XXH3_64bits(NULL, 0));
	assert_int_equal(proto_nblocks(0), 0);
	assert_int_equal(proto_nblocks(1), 1);
	assert_int_equal(proto_nblocks(PROTO_BLOCK_SIZE), 1);
	assert_int_equal(proto_nblocks(PROTO_CHUNK_MAX), PROTO_CHUNK_BLOCKS);
	assert_int_equal(proto_value_max(PROTO_KIND_CHUNK), PROTO_CHUNK_MAX);
	assert_int_equal(proto_value_max(PROTO_KIND_XATTR), PROTO_VALUE_MAX);
	assert_int_equal(proto_value_max(PROTO_KIND_MAX), 0);
	/* Combining more than one buffer's worth of sums. */
	uint64_t *many = calloc(200, sizeof(uint64_t));
	uint8_t *lem = calloc(200, 8);
	for (int i = 0; i < 200; i++) {
		many[i] = (uint64_t)i * 0x0101010101010101ULL;
		for (int j = 0; j < 8; j++)
			lem[8 * i + j] = (uint8_t)(many[i] >> (8 * j));
	}
	assert_int_equal(proto_sums_combine(many, 200), XXH3_64bits(lem, 1600));
	free(many);
	free(lem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proto_merge_laws_lww),
		cmocka_unit_test(test_proto_merge_laws_inode),
		cmocka_unit_test(test_proto_merge_lww_order),
		cmocka_unit_test(test_proto_merge_inode_semantics),
		cmocka_unit_test(test_proto_merge_inode_codec),
		cmocka_unit_test(test_proto_merge_super_dirent_meta),
		cmocka_unit_test(test_proto_merge_trunc),
		cmocka_unit_test(test_proto_merge_sums),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
