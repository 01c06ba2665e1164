// SPDX-License-Identifier: MIT
/*
 * test_chunkd.c - every chunkd request type over the wire against a real
 * daemon: HELLO (store id, FRESH, boot verifier), SYNC, PUT merge, GET whole
 * and by range, PATCH's four outcomes and 200 pipelined PATCHes, HEAD, LIST
 * and SCAN paging, DIGEST, STAT, the skew bound, an emptied data directory,
 * a corrupt body found by a read and by the scrubber, and bad command
 * lines. Each test starts its own daemon in a fresh directory so that tests
 * do not see each other's records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "proto/layout.h"
#include "proto/status.h"
#include "tests/integration/chunkd_harness.h"

struct fix {
	struct chkh_daemon d;
	struct chkh_client c;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	static int n;
	char name[32];

	if (!f)
		return -1;
	snprintf(name, sizeof(name), "t%d", n++);
	f->d.extra[0] = "--log-level";
	f->d.extra[1] = "warn";
	if (chkh_start(&f->d, name, chkh_mkdir(name)) < 0 || chkh_connect(&f->c, f->d.ep) < 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	chkh_close(&f->c);
	assert_int_equal(chkh_stop(&f->d), 0); /* a clean stop exits 0 */
	free(f);
	return 0;
}

static uint8_t *mkbuf(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	chkh_fill(p, len, seed);
	return p;
}

static void test_chunkd_hello(void **state)
{
	struct fix *f = *state;
	struct proto_hello_rep a, b;
	static const uint8_t zero[PROTO_ID_LEN];
	struct chkh_client c;

	assert_int_equal(chkh_hello(&f->c, &a), PROTO_ST_OK);
	assert_int_equal(a.version, PROTO_VERSION);
	assert_string_equal(a.name, f->d.name);
	assert_true(a.store_flags & PROTO_STORE_FRESH);
	assert_true(a.store_flags & PROTO_STORE_NOVOLUME);
	assert_memory_not_equal(a.store_id, zero, PROTO_ID_LEN);
	assert_true(a.boot != 0);
	assert_int_equal(a.chunk_max, PROTO_CHUNK_MAX);
	assert_int_equal(a.block_size, PROTO_BLOCK_SIZE);
	assert_int_equal(a.max_skew_ms, 5000);
	assert_true(PROTO_HLC_MS(a.clock) + 2000 > proto_wall_ms());
	assert_true(PROTO_HLC_MS(a.clock) < proto_wall_ms() + 2000);

	/* a restart keeps the store id, is no longer fresh, has a new boot */
	chkh_close(&f->c);
	assert_int_equal(chkh_stop(&f->d), 0);
	assert_int_equal(chkh_restart(&f->d), 0);
	assert_int_equal(chkh_connect(&f->c, f->d.ep), 0);
	assert_int_equal(chkh_hello(&f->c, &b), PROTO_ST_OK);
	assert_memory_equal(a.store_id, b.store_id, PROTO_ID_LEN);
	assert_false(b.store_flags & PROTO_STORE_FRESH);
	assert_true(b.boot != a.boot);

	/* a protocol range we do not speak */
	assert_int_equal(chkh_connect(&c, f->d.ep), 0);
	{
		struct proto_hello_req q = { .min_version = PROTO_VERSION + 1,
					     .max_version = PROTO_VERSION + 3 };
		struct chkh_reply r;
		struct proto_wr w;

		proto_wr_init(&w);
		proto_encode_hello_req(&w, &q);
		assert_int_equal(chkh_call(&c, PROTO_OP_HELLO, w.buf, w.len, NULL, 0, &r), 0);
		assert_int_equal(r.status, PROTO_ST_BADVERSION);
		chkh_reply_free(&r);
		proto_wr_free(&w);
	}
	chkh_close(&c);
}

static void test_chunkd_fresh_after_wipe(void **state)
{
	struct fix *f = *state;
	struct proto_hello_rep a, b;
	struct proto_key k;
	uint8_t v[100];
	char cmd[sizeof(f->d.dir) + 64];

	assert_int_equal(chkh_hello(&f->c, &a), PROTO_ST_OK);
	proto_key_chunk(&k, 5, 0);
	chkh_fill(v, sizeof(v), 1);
	assert_int_equal(chkh_put(&f->c, &k, chkh_hlc_now(), 1, 0, v, sizeof(v), NULL),
			 PROTO_ST_OK);
	chkh_close(&f->c);
	assert_int_equal(chkh_stop(&f->d), 0);

	/* empty the directory (keep the directory itself) */
	snprintf(cmd, sizeof(cmd), "find '%s' -mindepth 1 -delete", f->d.dir);
	assert_int_equal(system(cmd), 0);

	assert_int_equal(chkh_restart(&f->d), 0);
	assert_int_equal(chkh_connect(&f->c, f->d.ep), 0);
	assert_int_equal(chkh_hello(&f->c, &b), PROTO_ST_OK);
	assert_memory_not_equal(a.store_id, b.store_id, PROTO_ID_LEN);
	assert_true(b.store_flags & PROTO_STORE_FRESH);
	{
		struct proto_get_rep rep;
		void *data;
		size_t dl;

		assert_int_equal(chkh_get(&f->c, &k, 0, PROTO_GET_WHOLE, &rep, &data, &dl),
				 PROTO_ST_NOENT);
		free(data);
	}
}

static void test_chunkd_sync(void **state)
{
	struct fix *f = *state;
	struct proto_hello_rep h;
	struct proto_write_rep w;
	struct proto_key k;
	uint64_t boot = 0;
	uint8_t v[5000];

	assert_int_equal(chkh_hello(&f->c, &h), PROTO_ST_OK);
	assert_int_equal(chkh_sync(&f->c, &boot), PROTO_ST_OK);
	assert_true(boot == h.boot);
	proto_key_chunk(&k, 9, 1);
	chkh_fill(v, sizeof(v), 2);
	assert_int_equal(chkh_put(&f->c, &k, chkh_hlc_now(), 7, 0, v, sizeof(v), &w),
			 PROTO_ST_OK);
	assert_true(w.boot == h.boot);
	assert_int_equal(chkh_sync(&f->c, &boot), PROTO_ST_OK);
	assert_true(boot == h.boot);
}

static void check_get(struct chkh_client *c, const struct proto_key *k,
		      const struct proto_version *ver, const uint8_t *img, uint32_t len)
{
	struct proto_get_rep rep;
	void *data;
	size_t dl;

	assert_int_equal(chkh_get(c, k, 0, PROTO_GET_WHOLE, &rep, &data, &dl), PROTO_ST_OK);
	assert_true(rep.meta.ver.hlc == ver->hlc);
	assert_true(rep.meta.ver.writer == ver->writer);
	assert_int_equal(rep.meta.len, len);
	assert_int_equal(dl, len);
	if (len)
		assert_memory_equal(data, img, len);
	free(data);
}

static void test_chunkd_put_merge(void **state)
{
	struct fix *f = *state;
	struct proto_version v1, v2, v3;
	struct proto_write_rep w;
	struct proto_key k;
	uint8_t *a = mkbuf(70000, 10), *b = mkbuf(1000, 11), *c = mkbuf(200000, 12);

	proto_key_chunk(&k, 77, 3);
	v1 = (struct proto_version){ chkh_hlc_now(), 1 };
	v2 = (struct proto_version){ chkh_hlc_now(), 1 };
	v3 = (struct proto_version){ chkh_hlc_now(), 1 };

	assert_int_equal(chkh_put(&f->c, &k, v2.hlc, v2.writer, 0, b, 1000, &w), PROTO_ST_OK);
	assert_true(w.stored.hlc == v2.hlc);
	/* older never replaces newer: success, but the newer one stays */
	assert_int_equal(chkh_put(&f->c, &k, v1.hlc, v1.writer, 0, a, 70000, &w), PROTO_ST_OK);
	assert_true(w.stored.hlc == v2.hlc);
	check_get(&f->c, &k, &v2, b, 1000);
	/* idempotent retry */
	assert_int_equal(chkh_put(&f->c, &k, v2.hlc, v2.writer, 0, b, 1000, &w), PROTO_ST_OK);
	assert_true(w.stored.hlc == v2.hlc);
	/* newer wins */
	assert_int_equal(chkh_put(&f->c, &k, v3.hlc, v3.writer, 0, c, 200000, &w), PROTO_ST_OK);
	assert_true(w.stored.hlc == v3.hlc);
	check_get(&f->c, &k, &v3, c, 200000);

	/* a tombstone replaces it, and GET returns the tombstone */
	{
		struct proto_version v4 = { chkh_hlc_now(), 2 };
		struct proto_get_rep rep;
		void *data;
		size_t dl;

		assert_int_equal(chkh_put(&f->c, &k, v4.hlc, v4.writer, PROTO_REC_TOMBSTONE, NULL, 0,
					  &w),
				 PROTO_ST_OK);
		assert_int_equal(chkh_get(&f->c, &k, 0, PROTO_GET_WHOLE, &rep, &data, &dl),
				 PROTO_ST_OK);
		assert_true(rep.meta.flags & PROTO_REC_TOMBSTONE);
		assert_true(rep.meta.ver.hlc == v4.hlc);
		assert_int_equal(dl, 0);
		free(data);
	}
	/* a PUT whose checksums do not match its bytes is refused */
	{
		struct proto_put_req *q = calloc(1, sizeof(*q));
		struct chkh_reply r;
		struct proto_wr wr;

		assert_non_null(q);
		chkh_make_put(q, &k, chkh_hlc_now(), 3, 0, 0, a, 1000);
		proto_wr_init(&wr);
		proto_encode_put_req(&wr, q);
		assert_int_equal(chkh_call(&f->c, PROTO_OP_PUT, wr.buf, wr.len, b, 1000, &r), 0);
		assert_int_equal(r.status, PROTO_ST_CORRUPT);
		chkh_reply_free(&r);
		proto_wr_free(&wr);
		free(q);
	}
	free(a);
	free(b);
	free(c);
}

static void test_chunkd_get_range(void **state)
{
	struct fix *f = *state;
	const uint32_t len = 4 * PROTO_BLOCK_SIZE + 1000;
	uint8_t *v = mkbuf(len, 20);
	struct proto_get_rep rep;
	struct proto_write_rep w;
	struct proto_key k, absent;
	void *data;
	size_t dl;
	uint64_t sums[PROTO_CHUNK_BLOCKS];

	proto_value_sums(v, len, sums);
	proto_key_chunk(&k, 300, 0);
	assert_int_equal(chkh_put(&f->c, &k, chkh_hlc_now(), 1, 0, v, len, &w), PROTO_ST_OK);

	/* whole */
	assert_int_equal(chkh_get(&f->c, &k, 0, PROTO_GET_WHOLE, &rep, &data, &dl), PROTO_ST_OK);
	assert_int_equal(rep.first_block, 0);
	assert_int_equal(rep.nsums, 5);
	assert_int_equal(dl, len);
	assert_memory_equal(data, v, len);
	free(data);

	/* ten bytes inside block 1: only block 1 */
	assert_int_equal(chkh_get(&f->c, &k, PROTO_BLOCK_SIZE + 100, 10, &rep, &data, &dl),
			 PROTO_ST_OK);
	assert_int_equal(rep.first_block, 1);
	assert_int_equal(rep.nsums, 1);
	assert_int_equal(dl, PROTO_BLOCK_SIZE);
	assert_memory_equal(data, v + PROTO_BLOCK_SIZE, PROTO_BLOCK_SIZE);
	assert_true(rep.sums[0] == sums[1]);
	free(data);

	/* across blocks 1..2 */
	assert_int_equal(chkh_get(&f->c, &k, 2 * PROTO_BLOCK_SIZE - 1, 2, &rep, &data, &dl),
			 PROTO_ST_OK);
	assert_int_equal(rep.first_block, 1);
	assert_int_equal(rep.nsums, 2);
	assert_int_equal(dl, 2 * PROTO_BLOCK_SIZE);
	assert_memory_equal(data, v + PROTO_BLOCK_SIZE, 2 * PROTO_BLOCK_SIZE);
	free(data);

	/* the short last block, to the end */
	assert_int_equal(chkh_get(&f->c, &k, 4 * PROTO_BLOCK_SIZE + 5, PROTO_GET_WHOLE, &rep,
				  &data, &dl),
			 PROTO_ST_OK);
	assert_int_equal(rep.first_block, 4);
	assert_int_equal(rep.nsums, 1);
	assert_int_equal(dl, 1000);
	assert_memory_equal(data, v + 4 * PROTO_BLOCK_SIZE, 1000);
	free(data);

	/* absent key; malformed range */
	proto_key_chunk(&absent, 301, 0);
	assert_int_equal(chkh_get(&f->c, &absent, 0, PROTO_GET_WHOLE, &rep, &data, &dl),
			 PROTO_ST_NOENT);
	free(data);
	assert_int_equal(chkh_get(&f->c, &k, 0, 0, &rep, &data, &dl), PROTO_ST_BADMSG);
	free(data);
	free(v);
}

static void test_chunkd_head(void **state)
{
	struct fix *f = *state;
	uint8_t *v = mkbuf(100000, 30);
	struct proto_write_rep w;
	struct proto_meta m;
	struct proto_key k;
	uint64_t sums[PROTO_CHUNK_BLOCKS], sum, hlc = chkh_hlc_now();

	sum = proto_value_sums(v, 100000, sums);
	proto_key_chunk(&k, 400, 2);
	assert_int_equal(chkh_head(&f->c, &k, &m), PROTO_ST_NOENT);
	assert_int_equal(chkh_put(&f->c, &k, hlc, 9, 0, v, 100000, &w), PROTO_ST_OK);
	assert_int_equal(chkh_head(&f->c, &k, &m), PROTO_ST_OK);
	assert_true(m.ver.hlc == hlc);
	assert_true(m.ver.writer == 9);
	assert_int_equal(m.len, 100000);
	assert_true(m.sum == sum);
	assert_int_equal(m.flags, 0);
	free(v);
}

static void test_chunkd_patch_outcomes(void **state)
{
	struct fix *f = *state;
	const uint32_t len = 3 * PROTO_BLOCK_SIZE;
	uint8_t *img = mkbuf(len, 40), p1[4096], p2[4096];
	struct proto_version v1, v2, v3, v4, zero = { 0, 0 };
	struct proto_write_rep w;
	struct proto_key k, k2;

	proto_key_chunk(&k, 500, 0);
	v1 = (struct proto_version){ chkh_hlc_now(), 5 };
	v2 = (struct proto_version){ chkh_hlc_now(), 5 };
	v3 = (struct proto_version){ chkh_hlc_now(), 5 };
	v4 = (struct proto_version){ chkh_hlc_now(), 5 };
	assert_int_equal(chkh_put(&f->c, &k, v1.hlc, v1.writer, 0, img, len, &w), PROTO_ST_OK);
	chkh_fill(p1, sizeof(p1), 41);
	chkh_fill(p2, sizeof(p2), 42);

	/* stored == base: applied */
	assert_int_equal(chkh_patch(&f->c, &k, &v1, &v2, 70000, p1, 4096, &w), PROTO_ST_OK);
	assert_true(w.stored.hlc == v2.hlc && w.stored.writer == v2.writer);
	memcpy(img + 70000, p1, 4096);
	check_get(&f->c, &k, &v2, img, len);

	/* stored == ver: a retry, success without change */
	assert_int_equal(chkh_patch(&f->c, &k, &v1, &v2, 70000, p1, 4096, &w), PROTO_ST_OK);
	assert_true(w.stored.hlc == v2.hlc);
	check_get(&f->c, &k, &v2, img, len);

	/* stored older than base (this replica is stale): conflict, stored v2 */
	assert_int_equal(chkh_patch(&f->c, &k, &v3, &v4, 0, p2, 4096, &w), PROTO_ST_CONFLICT);
	assert_true(w.stored.hlc == v2.hlc && w.stored.writer == v2.writer);

	/* stored newer than base (a concurrent writer): conflict, stored v2 */
	assert_int_equal(chkh_patch(&f->c, &k, &v1, &v3, 0, p2, 4096, &w), PROTO_ST_CONFLICT);
	assert_true(w.stored.hlc == v2.hlc);
	check_get(&f->c, &k, &v2, img, len);

	/* zero base on an absent chunk creates it */
	proto_key_chunk(&k2, 500, 1);
	assert_int_equal(chkh_patch(&f->c, &k2, &zero, &v3, 100, p2, 4096, &w), PROTO_ST_OK);
	{
		uint8_t exp[4196];

		memset(exp, 0, 100);
		memcpy(exp + 100, p2, 4096);
		check_get(&f->c, &k2, &v3, exp, sizeof(exp));
	}
	/* a wrong data checksum */
	{
		struct proto_patch_req q;
		struct chkh_reply r;
		struct proto_wr wr;

		memset(&q, 0, sizeof(q));
		q.key = k;
		q.base = v2;
		q.ver = v4;
		q.offset = 0;
		q.sum = proto_block_sum(p1, 4096);
		proto_wr_init(&wr);
		proto_encode_patch_req(&wr, &q);
		assert_int_equal(chkh_call(&f->c, PROTO_OP_PATCH, wr.buf, wr.len, p2, 4096, &r), 0);
		assert_int_equal(r.status, PROTO_ST_CORRUPT);
		chkh_reply_free(&r);
		proto_wr_free(&wr);
		check_get(&f->c, &k, &v2, img, len);
	}
	free(img);
}

static void test_chunkd_patch_pipelined(void **state)
{
	struct fix *f = *state;
	enum { N = 200, LEN = 1 << 20 };
	struct proto_version v[N + 1];
	uint8_t *img = mkbuf(LEN, 50), patch[4096];
	struct proto_write_rep w;
	struct proto_key k;
	uint64_t ids[N];
	int i, got = 0;

	proto_key_chunk(&k, 600, 0);
	for (i = 0; i <= N; i++)
		v[i] = (struct proto_version){ chkh_hlc_now(), 3 };
	assert_int_equal(chkh_put(&f->c, &k, v[0].hlc, v[0].writer, 0, img, LEN, &w),
			 PROTO_ST_OK);
	for (i = 0; i < N; i++) {
		struct proto_patch_req q;
		struct proto_wr wr;
		uint32_t off = (uint32_t)((i * 7919u * 4096u + (unsigned)i * 13u) % (LEN - 4096));

		chkh_fill(patch, sizeof(patch), 1000 + (uint64_t)i);
		memcpy(img + off, patch, 4096);
		memset(&q, 0, sizeof(q));
		q.key = k;
		q.base = v[i];
		q.ver = v[i + 1];
		q.offset = off;
		q.sum = proto_block_sum(patch, 4096);
		proto_wr_init(&wr);
		proto_encode_patch_req(&wr, &q);
		assert_int_equal(chkh_send(&f->c, PROTO_OP_PATCH, wr.buf, wr.len, patch, 4096,
					   &ids[i]),
				 0);
		proto_wr_free(&wr);
	}
	while (got < N) {
		struct chkh_reply r;

		assert_int_equal(chkh_recv(&f->c, &r, CHKH_TIMEOUT_MS), 0);
		/* every one applies in order: none may conflict */
		assert_int_equal(r.status, PROTO_ST_OK);
		assert_true(r.m.hdr.reqid >= ids[0] && r.m.hdr.reqid <= ids[N - 1]);
		chkh_reply_free(&r);
		got++;
	}
	check_get(&f->c, &k, &v[N], img, LEN);
	free(img);
}

static int put_dirent(struct chkh_client *c, uint64_t dir, const char *name, uint64_t ino)
{
	struct proto_dirent de = { .ino = ino, .type = 8 };
	struct proto_key k;
	struct proto_wr w;
	int rc;

	assert_int_equal(proto_key_dirent(&k, dir, name, strlen(name)), 0);
	proto_wr_init(&w);
	proto_dirent_encode(&w, &de);
	rc = chkh_put(c, &k, chkh_hlc_now(), 4, 0, w.buf, (uint32_t)w.len, NULL);
	proto_wr_free(&w);
	return rc;
}

/* Page through LIST (@list) or SCAN; returns entries seen, checks order. */
static int page_all(struct chkh_client *c, bool list, uint64_t ino, uint32_t max, int *pages)
{
	uint8_t last[PROTO_KEY_MAX];
	uint16_t last_len = 0;
	bool more = true;
	int total = 0;

	*pages = 0;
	while (more) {
		struct chkh_reply r;
		struct proto_entry e;
		struct proto_rd rd;
		struct proto_wr w;
		int n = 0, rc;

		proto_wr_init(&w);
		if (list) {
			struct proto_list_req q = { .ino = ino, .max = max };

			if (last_len) {
				q.flags = PROTO_LIST_AFTER;
				q.start_len = last_len;
				memcpy(q.start, last, last_len);
			}
			proto_encode_list_req(&w, &q);
		} else {
			struct proto_scan_req q = { .max = max };

			if (last_len) {
				q.flags = PROTO_LIST_AFTER;
				q.start_len = last_len;
				memcpy(q.start, last, last_len);
			}
			proto_encode_scan_req(&w, &q);
		}
		assert_int_equal(chkh_call(c, list ? PROTO_OP_LIST : PROTO_OP_SCAN, w.buf, w.len,
					   NULL, 0, &r),
				 0);
		proto_wr_free(&w);
		assert_int_equal(r.status, PROTO_ST_OK);
		assert_int_equal(proto_page_begin(&rd, r.args, r.alen, &more), 0);
		while ((rc = proto_page_next(&rd, list, &e)) == 1) {
			uint8_t kb[PROTO_KEY_MAX];
			size_t kl = proto_key_encode(&e.key, kb);

			if (last_len) {
				size_t m = kl < last_len ? kl : last_len;
				int cmp = memcmp(last, kb, m);

				assert_true(cmp < 0 || (cmp == 0 && last_len < kl));
			}
			memcpy(last, kb, kl);
			last_len = (uint16_t)kl;
			if (list && e.key.kind == PROTO_KIND_DIRENT) {
				struct proto_dirent de;

				assert_int_equal(proto_dirent_decode(e.val, e.meta.len, &de), 0);
				assert_true(de.ino == 1000 + (uint64_t)atoi(e.key.name + 1));
			}
			n++;
		}
		assert_int_equal(rc, 0);
		assert_true(n <= (int)max);
		assert_true(n > 0 || !more);
		total += n;
		(*pages)++;
		chkh_reply_free(&r);
	}
	return total;
}

static void test_chunkd_list_scan(void **state)
{
	struct fix *f = *state;
	int i, pages;
	char name[16];

	for (i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(put_dirent(&f->c, 2000, name, 1000 + (uint64_t)i), PROTO_ST_OK);
	}
	/* other partitions, not listed under 2000 */
	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		assert_int_equal(put_dirent(&f->c, 2001, name, 1000 + (uint64_t)i), PROTO_ST_OK);
	}
	{
		struct proto_key k;
		uint8_t v[10] = { 1 };

		proto_key_chunk(&k, 2000, 0);
		assert_int_equal(chkh_put(&f->c, &k, chkh_hlc_now(), 1, 0, v, 10, NULL),
				 PROTO_ST_OK);
	}
	assert_int_equal(page_all(&f->c, true, 2000, 7, &pages), 50);
	assert_true(pages >= 8);
	assert_int_equal(page_all(&f->c, true, 2000, 4096, &pages), 50);
	assert_int_equal(page_all(&f->c, true, 2001, 2, &pages), 5);
	assert_int_equal(page_all(&f->c, false, 0, 6, &pages), 56);
	assert_true(pages >= 10);
	assert_int_equal(page_all(&f->c, false, 0, 1, &pages), 56);
}

/* Every bucket's digest into @d (PROTO_DIGEST_BUCKETS entries): one request. */
static int digest(struct chkh_client *c, uint64_t *d)
{
	struct proto_digest_req q = { .first = 0, .count = PROTO_DIGEST_BUCKETS };
	struct proto_digest_rep p;
	struct chkh_reply r;
	struct proto_wr w;
	int rc;

	proto_wr_init(&w);
	proto_encode_digest_req(&w, &q);
	rc = chkh_call(c, PROTO_OP_DIGEST, w.buf, w.len, NULL, 0, &r);
	proto_wr_free(&w);
	if (rc < 0)
		return rc;
	rc = r.status;
	if (rc == PROTO_ST_OK) {
		assert_int_equal(proto_decode_digest_rep(r.args, r.alen, r.dlen, &p), 0);
		assert_int_equal(p.count, PROTO_DIGEST_BUCKETS);
		for (uint32_t i = 0; i < p.count; i++)
			d[i] = proto_digest_at(&p, i);
	}
	chkh_reply_free(&r);
	return rc;
}

/* Filtered SCAN of the buckets set in @map, pages of @max: keys listed. */
static int scan_buckets(struct chkh_client *c, const uint8_t *map, uint32_t max)
{
	struct proto_scan_req *q = calloc(1, sizeof(*q));
	bool more = true;
	int total = 0;

	assert_non_null(q);
	q->flags = PROTO_SCAN_BUCKETS;
	q->max = max;
	q->buckets = map;
	while (more) {
		struct chkh_reply r;
		struct proto_entry e;
		struct proto_rd rd;
		struct proto_wr w;
		int rc;

		proto_wr_init(&w);
		proto_encode_scan_req(&w, q);
		assert_int_equal(chkh_call(c, PROTO_OP_SCAN, w.buf, w.len, NULL, 0, &r), 0);
		proto_wr_free(&w);
		assert_int_equal(r.status, PROTO_ST_OK);
		assert_int_equal(proto_page_begin(&rd, r.args, r.alen, &more), 0);
		assert_int_equal(proto_page_resume(&rd, q->start, &q->start_len), 0);
		q->flags = PROTO_SCAN_BUCKETS | PROTO_LIST_AFTER;
		while ((rc = proto_page_next(&rd, false, &e)) == 1) {
			assert_true(proto_scan_has_bucket(
				map, proto_digest_bucket(proto_key_token(&e.key))));
			total++;
		}
		assert_int_equal(rc, 0);
		chkh_reply_free(&r);
	}
	free(q);
	return total;
}

/*
 * Two daemons given the same records in another order have equal digests in
 * every bucket; a newer version of one key on one of them changes exactly
 * that key's bucket, and a SCAN filtered on that bucket lists only its keys.
 */
static void test_chunkd_digest(void **state)
{
	struct fix *f = *state;
	struct chkh_daemon d2 = { .extra = { "--log-level", "warn" } };
	uint64_t *a = malloc(PROTO_DIGEST_BUCKETS * sizeof(*a));
	uint64_t *b = malloc(PROTO_DIGEST_BUCKETS * sizeof(*b));
	uint8_t *map = calloc(1, PROTO_DIGEST_BITMAP_LEN);
	struct chkh_client c2;
	struct proto_key k3;
	uint64_t hlc[20];
	uint8_t v[3000];
	uint32_t kb, ndiff = 0;
	int i;

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(map);
	assert_int_equal(chkh_start(&d2, "digest2", chkh_mkdir("digest2")), 0);
	assert_int_equal(chkh_connect(&c2, d2.ep), 0);
	for (i = 0; i < 20; i++) {
		struct proto_key k;

		hlc[i] = chkh_hlc_now();
		proto_key_chunk(&k, 700, (uint64_t)i);
		chkh_fill(v, sizeof(v), (uint64_t)i);
		assert_int_equal(chkh_put(&f->c, &k, hlc[i], 1, 0, v, sizeof(v), NULL), PROTO_ST_OK);
	}
	/* same records, the other order */
	for (i = 19; i >= 0; i--) {
		struct proto_key k;

		proto_key_chunk(&k, 700, (uint64_t)i);
		chkh_fill(v, sizeof(v), (uint64_t)i);
		assert_int_equal(chkh_put(&c2, &k, hlc[i], 1, 0, v, sizeof(v), NULL), PROTO_ST_OK);
	}
	assert_int_equal(digest(&f->c, a), PROTO_ST_OK);
	assert_int_equal(digest(&c2, b), PROTO_ST_OK);
	assert_memory_equal(a, b, PROTO_DIGEST_BUCKETS * sizeof(*a));

	/* one newer version on one side: its bucket, and only it, differs */
	proto_key_chunk(&k3, 700, 3);
	assert_int_equal(chkh_put(&c2, &k3, chkh_hlc_now(), 1, 0, v, sizeof(v), NULL),
			 PROTO_ST_OK);
	assert_int_equal(digest(&c2, b), PROTO_ST_OK);
	kb = proto_digest_bucket(proto_key_token(&k3));
	for (uint32_t j = 0; j < PROTO_DIGEST_BUCKETS; j++)
		ndiff += a[j] != b[j];
	assert_int_equal(ndiff, 1);
	assert_true(a[kb] != b[kb]);

	/* the filtered SCAN lists that key alone (the others are in other
	 * buckets unless they collide), in pages of one */
	map[kb / 8] |= (uint8_t)(1u << (kb % 8));
	i = scan_buckets(&c2, map, 1);
	assert_true(i >= 1 && i < 20);
	memset(map, 0, PROTO_DIGEST_BITMAP_LEN);
	assert_int_equal(scan_buckets(&c2, map, 100), 0);
	memset(map, 0xff, PROTO_DIGEST_BITMAP_LEN);
	assert_int_equal(scan_buckets(&c2, map, 7), 20);

	chkh_close(&c2);
	assert_int_equal(chkh_stop(&d2), 0);
	free(a);
	free(b);
	free(map);
}

static void test_chunkd_stat(void **state)
{
	struct fix *f = *state;
	struct proto_stat_rep s;
	uint8_t v[1000];
	int i;

	for (i = 0; i < 3; i++) {
		struct proto_key k;

		proto_key_chunk(&k, 800, (uint64_t)i);
		chkh_fill(v, sizeof(v), (uint64_t)i);
		assert_int_equal(chkh_put(&f->c, &k, chkh_hlc_now(), 1, 0, v, sizeof(v), NULL),
				 PROTO_ST_OK);
	}
	assert_int_equal(put_dirent(&f->c, 801, "x1", 1001), PROTO_ST_OK);
	{
		struct proto_key k;

		proto_key_chunk(&k, 800, 9);
		assert_int_equal(chkh_put(&f->c, &k, chkh_hlc_now(), 1, PROTO_REC_TOMBSTONE, NULL, 0,
					  NULL),
				 PROTO_ST_OK);
	}
	assert_int_equal(chkh_stat(&f->c, &s), PROTO_ST_OK);
	assert_true(s.chunks == 3);
	assert_true(s.records == 4);
	assert_true(s.tombstones == 1);
	assert_true(s.corrupt == 0);
	assert_true(s.capacity > 0);
	assert_true(s.software[0] != 0);
}

static void test_chunkd_skew(void **state)
{
	struct fix *f = *state;
	struct proto_version far = { PROTO_HLC_MAKE(proto_wall_ms() + 60000, 0), 1 };
	struct proto_version near = { PROTO_HLC_MAKE(proto_wall_ms() + 1000, 0), 1 };
	struct proto_get_rep rep;
	struct proto_write_rep w;
	struct proto_key k;
	uint8_t v[100];
	void *data;
	size_t dl;
	uint64_t now;

	chkh_fill(v, sizeof(v), 60);
	proto_key_chunk(&k, 900, 0);
	assert_int_equal(chkh_put(&f->c, &k, far.hlc, far.writer, 0, v, sizeof(v), &w),
			 PROTO_ST_SKEW);
	now = proto_wall_ms();
	assert_true(PROTO_HLC_MS(w.stored.hlc) + 2000 > now);
	assert_true(PROTO_HLC_MS(w.stored.hlc) < now + 2000);
	assert_true(w.boot != 0);
	assert_int_equal(chkh_get(&f->c, &k, 0, PROTO_GET_WHOLE, &rep, &data, &dl),
			 PROTO_ST_NOENT);
	free(data);

	/* within the bound: accepted, and the daemon clock absorbs it */
	assert_int_equal(chkh_put(&f->c, &k, near.hlc, near.writer, 0, v, sizeof(v), &w),
			 PROTO_ST_OK);
	{
		struct proto_hello_rep h;

		assert_int_equal(chkh_hello(&f->c, &h), PROTO_ST_OK);
		assert_true(h.clock > near.hlc);
	}
	/* PATCH beyond the bound */
	assert_int_equal(chkh_patch(&f->c, &k, &near, &far, 0, v, 10, &w), PROTO_ST_SKEW);
	assert_true(PROTO_HLC_MS(w.stored.hlc) < proto_wall_ms() + 3000);
	check_get(&f->c, &k, &near, v, sizeof(v));
}

/* Flip one byte in the middle of the only body file under @dir. */
static void corrupt_one_body(const char *dir)
{
	char cmd[4096 + 256], path[4096];
	FILE *p;
	long size;
	int fd;

	snprintf(cmd, sizeof(cmd), "find '%s/bodies' -type f | head -1", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(path, sizeof(path), p));
	pclose(p);
	path[strcspn(path, "\n")] = 0;
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	size = lseek(fd, 0, SEEK_END);
	assert_true(size > 3 * PROTO_BLOCK_SIZE);
	{
		uint8_t b;

		assert_int_equal(pread(fd, &b, 1, size / 2), 1);
		b ^= 0x5a;
		assert_int_equal(pwrite(fd, &b, 1, size / 2), 1);
	}
	close(fd);
}

static void test_chunkd_corrupt(void **state)
{
	struct fix *f = *state;
	const uint32_t len = 4 * PROTO_BLOCK_SIZE;
	uint8_t *v = mkbuf(len, 90);
	struct proto_version ver = { chkh_hlc_now(), 8 };
	struct proto_get_rep rep;
	struct proto_stat_rep s;
	struct proto_meta m;
	struct proto_key k;
	void *data;
	size_t dl;
	int i;

	proto_key_chunk(&k, 950, 0);
	assert_int_equal(chkh_put(&f->c, &k, ver.hlc, ver.writer, 0, v, len, NULL), PROTO_ST_OK);
	chkh_close(&f->c);
	assert_int_equal(chkh_stop(&f->d), 0);
	corrupt_one_body(f->d.dir);
	f->d.extra[2] = "--scrub-rate";
	f->d.extra[3] = "0";
	assert_int_equal(chkh_restart(&f->d), 0);
	assert_int_equal(chkh_connect(&f->c, f->d.ep), 0);

	/* a range that does not cover the bad block still reads */
	assert_int_equal(chkh_get(&f->c, &k, 0, 10, &rep, &data, &dl), PROTO_ST_OK);
	assert_memory_equal(data, v, 10);
	free(data);
	/* the whole chunk does not, and the daemon marks it */
	assert_int_equal(chkh_get(&f->c, &k, 0, PROTO_GET_WHOLE, &rep, &data, &dl),
			 PROTO_ST_CORRUPT);
	free(data);
	for (i = 0; i < 100; i++) {
		assert_int_equal(chkh_head(&f->c, &k, &m), PROTO_ST_OK);
		if (m.flags & PROTO_REC_CORRUPT)
			break;
		usleep(20000);
	}
	assert_true(m.flags & PROTO_REC_CORRUPT);
	assert_int_equal(chkh_stat(&f->c, &s), PROTO_ST_OK);
	assert_true(s.corrupt == 1);

	/* a newer good copy (a repair) replaces it */
	ver.hlc = chkh_hlc_now();
	assert_int_equal(chkh_put(&f->c, &k, ver.hlc, ver.writer, 0, v, len, NULL), PROTO_ST_OK);
	check_get(&f->c, &k, &ver, v, len);
	free(v);
}

static void test_chunkd_scrub(void **state)
{
	struct fix *f = *state;
	const uint32_t len = 4 * PROTO_BLOCK_SIZE;
	uint8_t *v = mkbuf(len, 91);
	struct proto_stat_rep s;
	struct proto_key k;
	int i;

	proto_key_chunk(&k, 960, 0);
	assert_int_equal(chkh_put(&f->c, &k, chkh_hlc_now(), 8, 0, v, len, NULL), PROTO_ST_OK);
	chkh_close(&f->c);
	assert_int_equal(chkh_stop(&f->d), 0);
	corrupt_one_body(f->d.dir);
	f->d.extra[2] = "--scrub-rate";
	f->d.extra[3] = "64";
	assert_int_equal(chkh_restart(&f->d), 0);
	assert_int_equal(chkh_connect(&f->c, f->d.ep), 0);
	/* found without any read */
	for (i = 0; i < 150; i++) {
		assert_int_equal(chkh_stat(&f->c, &s), PROTO_ST_OK);
		if (s.corrupt == 1)
			break;
		usleep(20000);
	}
	assert_true(s.corrupt == 1);
	free(v);
}

/* LAYOUT_SET @version (a one-daemon layout naming this daemon), expecting @expect. */
static int set_layout(struct fix *f, uint64_t expect, uint64_t version)
{
	struct proto_layout *l = calloc(1, sizeof(*l));
	struct chkh_reply r;
	struct proto_wr w;
	int rc;

	assert_non_null(l);
	l->cur.version = version;
	l->cur.n = l->cur.w = l->cur.r = 1;
	l->cur.vnodes = 16;
	l->cur.ndaemons = 1;
	snprintf(l->cur.d[0].name, sizeof(l->cur.d[0].name), "%s", f->d.name);
	snprintf(l->cur.d[0].endpoint, sizeof(l->cur.d[0].endpoint), "%s", f->d.ep);
	l->cur.d[0].weight = 100;
	proto_wr_init(&w);
	proto_encode_layout_set_req(&w, expect, l);
	assert_false(w.bad);
	rc = chkh_call(&f->c, PROTO_OP_LAYOUT_SET, w.buf, w.len, NULL, 0, &r);
	proto_wr_free(&w);
	free(l);
	if (rc < 0)
		return rc;
	rc = r.status;
	chkh_reply_free(&r);
	return rc;
}

/*
 * Every reply carries the stored layout version; a PUT, PATCH or read
 * routed by an older one is refused with STALE_LAYOUT (and not applied),
 * 0 (not routed) and newer versions are served, HELLO and STAT ignore it.
 */
static void test_chunkd_stale_layout(void **state)
{
	struct fix *f = *state;
	struct proto_write_rep w;
	struct proto_stat_rep st;
	struct proto_meta m;
	struct proto_key k;
	uint64_t hlc = chkh_hlc_now();
	uint8_t v[100];
	uint32_t vmax = PROTO_LAYOUT_VERSION_MAX;

	chkh_fill(v, sizeof(v), 1);
	proto_key_chunk(&k, 500, 0);
	/* no layout stored: nothing is stale, replies say 0 */
	f->c.layout = 3;
	assert_int_equal(chkh_put(&f->c, &k, hlc, 1, 0, v, 100, &w), PROTO_ST_OK);
	assert_int_equal(f->c.last_layout, 0);
	f->c.layout = 0;
	assert_int_equal(set_layout(f, 0, 5), PROTO_ST_OK);
	assert_int_equal(f->c.last_layout, 5);
	/* a version that does not fit the header is refused at decode */
	assert_int_equal(set_layout(f, 5, (uint64_t)vmax + 1), PROTO_ST_INVAL);
	assert_int_equal(f->c.last_layout, 5);

	f->c.layout = 4;
	assert_int_equal(chkh_put(&f->c, &k, hlc + 1, 1, 0, v, 100, &w), PROTO_ST_STALE_LAYOUT);
	assert_int_equal(f->c.last_layout, 5);
	assert_int_equal(chkh_head(&f->c, &k, &m), PROTO_ST_STALE_LAYOUT);
	assert_int_equal(f->c.last_layout, 5);
	assert_int_equal(chkh_stat(&f->c, &st), PROTO_ST_OK); /* not routed: served */
	f->c.layout = 0;
	assert_int_equal(chkh_head(&f->c, &k, &m), PROTO_ST_OK);
	assert_true(m.ver.hlc == hlc); /* the refused PUT was not applied */
	f->c.layout = 5;
	assert_int_equal(chkh_put(&f->c, &k, hlc + 2, 1, 0, v, 100, &w), PROTO_ST_OK);
	f->c.layout = 6; /* newer than ours: we may have missed an apply */
	assert_int_equal(chkh_head(&f->c, &k, &m), PROTO_ST_OK);
	assert_true(m.ver.hlc == hlc + 2);
	assert_int_equal(f->c.last_layout, 5);

	/* the version survives a restart */
	f->c.layout = 0;
	chkh_close(&f->c);
	assert_int_equal(chkh_stop(&f->d), 0);
	assert_int_equal(chkh_restart(&f->d), 0);
	assert_int_equal(chkh_connect(&f->c, f->d.ep), 0);
	f->c.layout = 4;
	assert_int_equal(chkh_head(&f->c, &k, &m), PROTO_ST_STALE_LAYOUT);
	assert_int_equal(f->c.last_layout, 5);
}

static void test_chunkd_bad_cmdline(void **state)
{
	static const struct {
		const char *argv[12];
		const char *expect; /* in the message */
	} cases[] = {
		{ { "chunkd", NULL }, "--name" },
		{ { "chunkd", "--name", "a/b", "--listen", "tcp://127.0.0.1:1", "--data", "/x", NULL },
		  "--name" },
		{ { "chunkd", "--name",
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "--listen",
		    "tcp://127.0.0.1:1", "--data", "/x", NULL },
		  "--name" },
		{ { "chunkd", "--name", "a", "--data", "/x", NULL }, "--listen" },
		{ { "chunkd", "--name", "a", "--listen", "tcp://127.0.0.1:1", NULL }, "--data" },
		{ { "chunkd", "--name", "a", "--listen", "nowhere", "--data", "/x", NULL },
		  "--listen" },
		{ { "chunkd", "--name", "a", "--listen", "tcp://127.0.0.1:1", "--data", "/x",
		    "--threads", "0", NULL },
		  "--threads" },
		{ { "chunkd", "--name", "a", "--listen", "tcp://127.0.0.1:1", "--data", "/x",
		    "--threads", "-1", NULL },
		  "--threads" },
		{ { "chunkd", "--name", "a", "--listen", "tcp://127.0.0.1:1", "--data", "/x",
		    "--threads", "4x", NULL },
		  "--threads" },
		{ { "chunkd", "--name", "a", "--listen", "tcp://127.0.0.1:1", "--data", "/x",
		    "--capacity", "10X", NULL },
		  "--capacity" },
		{ { "chunkd", "--name", "a", "--listen", "tcp://127.0.0.1:1", "--data", "/x",
		    "--capacity", "99999999999T", NULL },
		  "--capacity" },
		{ { "chunkd", "--name", "a", "--listen", "tcp://127.0.0.1:1", "--data", "/x",
		    "--capacity", "", NULL },
		  "--capacity" },
		{ { "chunkd", "--name", "a", "--listen", "tcp://127.0.0.1:1", "--data", "/x",
		    "--sync", "sometimes", NULL },
		  "--sync" },
		{ { "chunkd", "--name", "a", "--listen", "tcp://127.0.0.1:1", "--data", "/x",
		    "--scrub-rate", "-5", NULL },
		  "--scrub-rate" },
		{ { "chunkd", "--name", "a", "--listen", "tcp://127.0.0.1:1", "--data", "/x",
		    "--max-skew-ms", "1e3", NULL },
		  "--max-skew-ms" },
		{ { "chunkd", "--name", "a", "--listen", "tcp://127.0.0.1:1", "--data", "/x",
		    "--log-level", "loud", NULL },
		  "--log-level" },
		{ { "chunkd", "--name", "a", "--listen", "tcp://127.0.0.1:1", "--data", "/x",
		    "--frobnicate", NULL },
		  "--frobnicate" },
		{ { "chunkd", "--name", "a", "--listen", "tcp://127.0.0.1:1", "--data", "/x",
		    "--threads", NULL },
		  "--threads" },
		{ { "chunkd", "--name", "a", "--listen", "tcp://127.0.0.1:1", "--data", "/x",
		    "extra", NULL },
		  "extra" },
	};
	char err[2048];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = chkh_run(cases[i].argv, err, sizeof(err), 5000);

		if (st != 2 || !strstr(err, cases[i].expect))
			fprintf(stderr, "case %zu: exit %d, stderr: %s\n", i, st, err);
		assert_int_equal(st, 2);
		assert_non_null(strstr(err, cases[i].expect));
	}
	/* a listen endpoint that cannot be bound: a runtime failure, exit 1 */
	{
		const char *argv[] = { "chunkd", "--name", "a", "--listen", "tcp://203.0.113.1:1",
				       "--data", chkh_mkdir("nobind"), NULL };

		assert_int_equal(chkh_run(argv, err, sizeof(err), 5000), 1);
		assert_non_null(strstr(err, "203.0.113.1"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chunkd_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunkd_stale_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunkd_fresh_after_wipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunkd_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunkd_put_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunkd_get_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunkd_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunkd_patch_outcomes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunkd_patch_pipelined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunkd_list_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunkd_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunkd_stat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunkd_skew, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunkd_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chunkd_scrub, setup, teardown),
		cmocka_unit_test(test_chunkd_bad_cmdline),
	};

	if (access(getenv("QFS_BIN") ? getenv("QFS_BIN") : "./bin", X_OK) != 0)
		return 77;
	return cmocka_run_group_tests_name("chunkd", tests, NULL, NULL);
}
