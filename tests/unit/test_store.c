// SPDX-License-Identifier: MIT
/*
 * test_store.c - unit tests of the chunk daemon's local store (chunkd/store.h).
 *
 * Each case opens a store in a fresh mkdtemp directory under /tmp and removes
 * it afterwards. Covered: PUT merge (older never replaces newer, INODE
 * registers), range GET, PATCH's four outcomes and chunk creation, inline
 * (small) chunks, LIST/SCAN paging, tombstones freeing bodies, DIGEST,
 * capacity and the reserve, on-disk corruption found by GET and the
 * scrubber, SUPER volume adoption, reopen and wipe identity, the format
 * upgrade, batches with failed requests, NONE mode after a kill and after a
 * reboot, a kill in the middle of in-place PATCHes (the undo journal),
 * COMMIT mode after a reboot (rolled back to the last sync point, also with
 * the sync running in the background) and after a kill (nothing lost), and
 * readers racing the writer. Crashes are a forked child that _exit()s with
 * the store open; a reboot is the QFS_TEST_BOOT_ID hook of chunkd/store.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "chunkd/store.h"
#include "proto/log.h"

#define BS PROTO_BLOCK_SIZE
#define WRITER 7

struct fx {
	char *dir;
	struct chk_store *st;
};

/* ---- helpers ---- */

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct chk_store *open_store(const char *dir, enum chk_sync_mode mode, uint64_t cap)
{
	struct chk_store_opts o = { .dir = dir, .sync = mode, .capacity = cap,
				    .map_size = 1ULL << 30 };
	struct chk_store *st = NULL;

	assert_int_equal(chk_store_open(&o, &st), 0);
	assert_non_null(st);
	return st;
}

static int fx_setup_mode(void **state, enum chk_sync_mode mode)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = strdup("/tmp/qfs-test-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->st = open_store(f->dir, mode, 0);
	*state = f;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_setup_mode(state, CHK_SYNC_COMMIT);
}

static int fx_setup_always(void **state)
{
	return fx_setup_mode(state, CHK_SYNC_ALWAYS);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	chk_store_close(f->st);
	f->st = NULL;
	rm_tree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static struct proto_version V(uint64_t hlc)
{
	struct proto_version v = { .hlc = hlc, .writer = WRITER };

	return v;
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

static struct proto_key chunk_key(uint64_t ino, uint64_t idx)
{
	struct proto_key k;

	proto_key_chunk(&k, ino, idx);
	return k;
}

/* PUT a record with value @val (@len bytes) or a tombstone (@tomb). */
static int put_rec(struct chk_store *st, const struct proto_key *key, uint64_t hlc,
		   const void *val, uint32_t len, bool tomb, struct proto_write_rep *rep)
{
	struct proto_put_req *q = calloc(1, sizeof(*q));
	struct proto_write_rep r;
	int rc;

	assert_non_null(q);
	q->key = *key;
	q->meta.ver = V(hlc);
	q->meta.flags = tomb ? PROTO_REC_TOMBSTONE : 0;
	q->meta.len = len;
	q->nsums = (uint16_t)proto_nblocks(len);
	q->meta.sum = proto_value_sums(val, len, q->sums);
	rc = chk_store_put(st, q, val, rep ? rep : &r);
	free(q);
	return rc;
}

static int put_chunk(struct chk_store *st, uint64_t ino, uint64_t idx, uint64_t hlc,
		     const void *data, uint32_t len, struct proto_write_rep *rep)
{
	struct proto_key k = chunk_key(ino, idx);

	return put_rec(st, &k, hlc, data, len, false, rep);
}

static int put_tomb(struct chk_store *st, const struct proto_key *key, uint64_t hlc)
{
	return put_rec(st, key, hlc, NULL, 0, true, NULL);
}

static int patch(struct chk_store *st, const struct proto_key *key, uint64_t base,
		 uint64_t ver, uint32_t off, const void *data, uint32_t len,
		 struct proto_write_rep *rep)
{
	struct proto_patch_req q = { .key = *key, .offset = off };

	if (base)
		q.base = V(base);
	q.ver = V(ver);
	q.sum = proto_block_sum(data, len);
	return chk_store_patch(st, &q, data, len, rep);
}

/* GET [off, off + len); returns rc, fills *rep, *data (free it) and *dlen. */
static int get_range(struct chk_store *st, const struct proto_key *key, uint32_t off,
		     uint32_t len, struct proto_get_rep *rep, uint8_t **data, size_t *dlen)
{
	struct proto_get_req q = { .key = *key, .offset = off, .length = len };
	void *d = NULL;
	int rc;

	rc = chk_store_get(st, &q, rep, &d, dlen);
	*data = d;
	return rc;
}

/* Whole value of @key must be @len bytes equal to @want. */
static void check_value(struct chk_store *st, const struct proto_key *key, const void *want,
			 uint32_t len, uint64_t hlc)
{
	struct proto_get_rep *rep = malloc(sizeof(*rep));
	uint8_t *d;
	size_t n;

	assert_non_null(rep);
	assert_int_equal(get_range(st, key, 0, PROTO_GET_WHOLE, rep, &d, &n), 0);
	assert_int_equal(rep->meta.ver.hlc, hlc);
	assert_int_equal(rep->meta.len, len);
	assert_int_equal(n, len);
	assert_int_equal(rep->first_block, 0);
	assert_int_equal(rep->nsums, proto_nblocks(len));
	assert_int_equal(proto_sums_combine(rep->sums, rep->nsums), rep->meta.sum);
	if (len)
		assert_memory_equal(d, want, len);
	free(d);
	free(rep);
}

static int count_bodies(const char *dir)
{
	char path[1024];
	int n = 0;

	for (int i = 0; i < 256; i++) {
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "%s/bodies/%02x", dir, i);
		d = opendir(path);
		if (!d)
			continue;
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				n++;
		closedir(d);
	}
	return n;
}

/* Path of the only body file in @dir (there must be exactly one). */
static void only_body(const char *dir, char *out, size_t size)
{
	char path[256];
	int found = 0;

	for (int i = 0; i < 256; i++) {
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "%s/bodies/%02x", dir, i);
		d = opendir(path);
		if (!d)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			assert_true((size_t)snprintf(out, size, "%s/%s", path, de->d_name) < size);
			found++;
		}
		closedir(d);
	}
	assert_int_equal(found, 1);
}

/* ---- PUT and GET ---- */

static void test_store_put_get_merge(void **state)
{
	struct fx *f = *state;
	struct proto_key k = chunk_key(42, 0);
	struct proto_write_rep rep;
	uint8_t *a = malloc(3 * BS), *b = malloc(3 * BS);
	char before[1024], after[1024];

	fill(a, 3 * BS, 1);
	fill(b, 3 * BS, 2);
	assert_int_equal(put_chunk(f->st, 42, 0, 200, a, 2 * BS + 10, &rep), 0);
	assert_int_equal(rep.stored.hlc, 200);
	assert_int_equal(rep.flags, 0);
	check_value(f->st, &k, a, 2 * BS + 10, 200);
	only_body(f->dir, before, sizeof(before));

	/* Older never replaces newer; the reply names the stored version. */
	assert_int_equal(put_chunk(f->st, 42, 0, 100, b, BS, &rep), 0);
	assert_int_equal(rep.stored.hlc, 200);
	check_value(f->st, &k, a, 2 * BS + 10, 200);

	/* The same record again is idempotent. */
	assert_int_equal(put_chunk(f->st, 42, 0, 200, a, 2 * BS + 10, &rep), 0);
	assert_int_equal(rep.stored.hlc, 200);
	only_body(f->dir, after, sizeof(after));
	assert_string_equal(before, after);

	/* Newer wins, into a new body file; the old one is freed at the next
	 * sync point (the last one still names it). */
	assert_int_equal(put_chunk(f->st, 42, 0, 300, b, 3 * BS, &rep), 0);
	assert_int_equal(rep.stored.hlc, 300);
	check_value(f->st, &k, b, 3 * BS, 300);
	assert_int_equal(count_bodies(f->dir), 2);
	assert_int_equal(chk_store_sync(f->st), 0);
	only_body(f->dir, after, sizeof(after));
	assert_string_not_equal(before, after);

	/* Bad sums are refused and change nothing. */
	{
		struct proto_put_req *q = calloc(1, sizeof(*q));

		q->key = k;
		q->meta.ver = V(400);
		q->meta.len = BS;
		q->nsums = 1;
		q->meta.sum = proto_value_sums(a, BS, q->sums);
		assert_int_equal(chk_store_put(f->st, q, b, &rep), -EBADE);
		free(q);
	}
	check_value(f->st, &k, b, 3 * BS, 300);

	/* Absent keys are ENOENT for GET and HEAD. */
	{
		struct proto_key none = chunk_key(42, 9);
		struct proto_get_rep *gr = malloc(sizeof(*gr));
		struct proto_meta m;
		uint8_t *d;
		size_t n;

		assert_int_equal(get_range(f->st, &none, 0, PROTO_GET_WHOLE, gr, &d, &n),
				 -ENOENT);
		assert_null(d);
		assert_int_equal(chk_store_head(f->st, &none, &m), -ENOENT);
		free(gr);
	}
	free(a);
	free(b);
}

static void put_inode(struct chk_store *st, uint64_t ino, const struct proto_inode *in,
		      struct proto_write_rep *rep)
{
	struct proto_put_req *q = calloc(1, sizeof(*q));
	struct proto_wr w;

	proto_wr_init(&w);
	proto_inode_encode(&w, in);
	assert_false(w.bad);
	proto_key_inode(&q->key, ino);
	proto_inode_meta(in, w.buf, (uint32_t)w.len, &q->meta);
	q->nsums = (uint16_t)proto_nblocks((uint32_t)w.len);
	proto_value_sums(w.buf, (uint32_t)w.len, q->sums);
	assert_int_equal(chk_store_put(st, q, w.buf, rep), 0);
	proto_wr_free(&w);
	free(q);
}

static void test_store_inode_merge(void **state)
{
	struct fx *f = *state;
	struct proto_inode *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct proto_inode *got = calloc(1, sizeof(*got));
	struct proto_get_rep *rep = malloc(sizeof(*rep));
	struct proto_write_rep wr;
	struct proto_key k;
	uint8_t *d;
	size_t n;

	/* Client A chmods (attr register), client B extends (size register). */
	a->attr_ver = V(500);
	a->mode = 0100600;
	a->size_ver = V(100);
	a->size = 10;
	b->attr_ver = V(100);
	b->mode = 0100644;
	b->size_ver = V(400);
	b->size = 5000;
	put_inode(f->st, 9, a, &wr);
	assert_int_equal(wr.stored.hlc, 500);
	put_inode(f->st, 9, b, &wr);
	assert_int_equal(wr.stored.hlc, 500); /* the newest register */

	proto_key_inode(&k, 9);
	assert_int_equal(get_range(f->st, &k, 0, PROTO_GET_WHOLE, rep, &d, &n), 0);
	assert_int_equal(proto_inode_decode(d, n, got), 0);
	assert_int_equal(got->mode, 0100600);
	assert_int_equal(got->size, 5000);
	assert_int_equal(rep->meta.ver.hlc, 500);
	free(d);

	/* Merging the same record again changes nothing. */
	put_inode(f->st, 9, b, &wr);
	assert_int_equal(get_range(f->st, &k, 0, PROTO_GET_WHOLE, rep, &d, &n), 0);
	assert_int_equal(proto_inode_decode(d, n, got), 0);
	assert_int_equal(got->mode, 0100600);
	assert_int_equal(got->size, 5000);
	free(d);
	free(a);
	free(b);
	free(got);
	free(rep);
}

static void test_store_get_range(void **state)
{
	struct fx *f = *state;
	struct proto_key k = chunk_key(5, 1);
	struct proto_get_rep *rep = malloc(sizeof(*rep));
	uint32_t len = 3 * BS + 100;
	uint8_t *v = malloc(len), *d;
	uint64_t sums[PROTO_CHUNK_BLOCKS];
	size_t n;

	fill(v, len, 3);
	proto_value_sums(v, len, sums);
	assert_int_equal(put_chunk(f->st, 5, 1, 10, v, len, NULL), 0);

	/* A few bytes inside block 1: only block 1 comes back. */
	assert_int_equal(get_range(f->st, &k, BS + 5, 10, rep, &d, &n), 0);
	assert_int_equal(rep->first_block, 1);
	assert_int_equal(rep->nsums, 1);
	assert_int_equal(n, BS);
	assert_true(rep->sums[0] == sums[1]);
	assert_memory_equal(d, v + BS, BS);
	free(d);

	/* Across blocks 2 and 3 (the short last one). */
	assert_int_equal(get_range(f->st, &k, 2 * BS + 1, BS, rep, &d, &n), 0);
	assert_int_equal(rep->first_block, 2);
	assert_int_equal(rep->nsums, 2);
	assert_int_equal(n, BS + 100);
	assert_memory_equal(d, v + 2 * BS, BS + 100);
	free(d);

	/* Past the end: metadata only. */
	assert_int_equal(get_range(f->st, &k, len, 10, rep, &d, &n), 0);
	assert_int_equal(rep->nsums, 0);
	assert_int_equal(n, 0);
	assert_null(d);
	assert_int_equal(rep->meta.len, len);

	check_value(f->st, &k, v, len, 10);
	free(v);
	free(rep);
}

/* ---- PATCH ---- */

static void test_store_patch_outcomes(void **state)
{
	struct fx *f = *state;
	struct proto_key k = chunk_key(7, 0);
	struct proto_write_rep rep;
	uint8_t *v = malloc(2 * BS), p[4096];
	char before[1024], after[1024];
	struct stat sb;

	fill(v, 2 * BS, 4);
	fill(p, sizeof(p), 5);
	assert_int_equal(put_chunk(f->st, 7, 0, 100, v, 2 * BS, NULL), 0);
	only_body(f->dir, before, sizeof(before));

	/* stored == base: applied in place. */
	assert_int_equal(patch(f->st, &k, 100, 110, BS - 1000, p, sizeof(p), &rep), 0);
	assert_int_equal(rep.stored.hlc, 110);
	memcpy(v + BS - 1000, p, sizeof(p));
	check_value(f->st, &k, v, 2 * BS, 110);
	only_body(f->dir, after, sizeof(after));
	assert_string_equal(before, after); /* same file: updated in place */
	assert_int_equal(stat(after, &sb), 0);
	assert_int_equal(sb.st_size, 2 * BS);

	/* stored == ver: a retry, success without change. */
	assert_int_equal(patch(f->st, &k, 100, 110, 0, "zz", 2, &rep), 0);
	assert_int_equal(rep.stored.hlc, 110);
	check_value(f->st, &k, v, 2 * BS, 110);

	/* stored older than base: this replica is stale. */
	assert_int_equal(patch(f->st, &k, 120, 130, 0, "zz", 2, &rep), -ESTALE);
	assert_int_equal(rep.stored.hlc, 110);

	/* stored newer than base: a concurrent writer got there first. */
	assert_int_equal(patch(f->st, &k, 100, 105, 0, "zz", 2, &rep), -ESTALE);
	assert_int_equal(rep.stored.hlc, 110);
	check_value(f->st, &k, v, 2 * BS, 110);

	/* Zero base on a live chunk is a conflict too. */
	assert_int_equal(patch(f->st, &k, 0, 200, 0, "zz", 2, &rep), -ESTALE);

	/* Extending: the length grows and the gap reads as zeros. */
	v = realloc(v, 3 * BS + 10);
	memset(v + 2 * BS, 0, BS + 10);
	memcpy(v + 3 * BS, "0123456789", 10);
	assert_int_equal(patch(f->st, &k, 110, 120, 3 * BS, "0123456789", 10, &rep), 0);
	check_value(f->st, &k, v, 3 * BS + 10, 120);

	/* Data not matching its sum is refused. */
	{
		struct proto_patch_req q = { .key = k, .base = V(120), .ver = V(121) };

		q.sum = proto_block_sum("ab", 2);
		assert_int_equal(chk_store_patch(f->st, &q, "xy", 2, &rep), -EBADE);
	}
	free(v);
}

static void test_store_patch_creates(void **state)
{
	struct fx *f = *state;
	struct proto_key k = chunk_key(8, 3);
	struct proto_write_rep rep;
	uint8_t *want = calloc(1, BS + 100);

	/* Absent: zero base creates it, zeros before the patched bytes. */
	memset(want + BS, 0xab, 100);
	assert_int_equal(patch(f->st, &k, 0, 50, BS, want + BS, 100, &rep), 0);
	assert_int_equal(rep.stored.hlc, 50);
	check_value(f->st, &k, want, BS + 100, 50);
	assert_int_equal(count_bodies(f->dir), 1);

	/* A tombstone: zero base recreates only with a newer version. */
	assert_int_equal(put_tomb(f->st, &k, 60), 0);
	assert_int_equal(count_bodies(f->dir), 0);
	assert_int_equal(patch(f->st, &k, 0, 55, 0, "x", 1, &rep), -ESTALE);
	assert_int_equal(rep.stored.hlc, 60);
	assert_true(rep.flags & PROTO_REC_TOMBSTONE);
	assert_int_equal(patch(f->st, &k, 0, 70, 0, "x", 1, &rep), 0);
	check_value(f->st, &k, "x", 1, 70);
	free(want);
}

/* Chunks up to CHK_INLINE_MAX (8 KiB) live in the index record, not in a file. */
static void test_store_inline_chunks(void **state)
{
	struct fx *f = *state;
	struct proto_key k = chunk_key(20, 0), c = chunk_key(20, 1);
	uint8_t *v = calloc(1, 2 * BS), p[3000], cur[PROTO_KEY_MAX];
	struct proto_get_rep *gr = malloc(sizeof(*gr));
	struct proto_write_rep rep;
	struct proto_version bad_ver;
	struct proto_key bad_key;
	uint16_t cur_len = 0;
	struct proto_meta m;
	int64_t got, total = 0;
	bool bad;
	uint8_t *d;
	size_t n;

	fill(v, 4096, 30);
	assert_int_equal(put_chunk(f->st, 20, 0, 10, v, 4096, &rep), 0);
	assert_int_equal(count_bodies(f->dir), 0);
	check_value(f->st, &k, v, 4096, 10);
	assert_int_equal(get_range(f->st, &k, 100, 50, gr, &d, &n), 0);
	assert_int_equal(n, 4096); /* the whole (only) block */
	assert_memory_equal(d, v, 4096);
	free(d);

	/* PATCH inside, and extending up to the limit: still inline */
	fill(p, sizeof(p), 31);
	assert_int_equal(patch(f->st, &k, 10, 11, 1000, p, sizeof(p), &rep), 0);
	memcpy(v + 1000, p, sizeof(p));
	check_value(f->st, &k, v, 4096, 11);
	assert_int_equal(patch(f->st, &k, 11, 12, 8192 - 100, p, 100, &rep), 0);
	memcpy(v + 8192 - 100, p, 100); /* the gap [4096, 8092) reads as zeros */
	check_value(f->st, &k, v, 8192, 12);
	assert_int_equal(count_bodies(f->dir), 0);

	/* past it: the chunk moves into a body file */
	assert_int_equal(patch(f->st, &k, 12, 13, BS + 5, p, sizeof(p), &rep), 0);
	memcpy(v + BS + 5, p, sizeof(p));
	check_value(f->st, &k, v, BS + 5 + sizeof(p), 13);
	assert_int_equal(count_bodies(f->dir), 1);

	/* a small PUT over it is inline again; the file goes at the sync point */
	fill(v, 100, 32);
	assert_int_equal(put_chunk(f->st, 20, 0, 20, v, 100, &rep), 0);
	assert_int_equal(chk_store_sync(f->st), 0);
	assert_int_equal(count_bodies(f->dir), 0);
	check_value(f->st, &k, v, 100, 20);

	/* a PATCH over an absent chunk creates it inline */
	memset(v, 0, 2 * BS);
	memcpy(v + 50, "abc", 3);
	assert_int_equal(patch(f->st, &c, 0, 5, 50, "abc", 3, &rep), 0);
	check_value(f->st, &c, v, 53, 5);
	assert_int_equal(count_bodies(f->dir), 0);

	/* the scrubber verifies inline chunks too; marking one corrupt keeps
	 * its bytes, and a PUT of the same version repairs it */
	while ((got = chk_store_scrub_next(f->st, cur, &cur_len, &bad_key, &bad_ver, &bad)) > 0) {
		total += got;
		assert_false(bad);
	}
	assert_int_equal(total, 100 + 53);
	bad_ver = V(5);
	assert_int_equal(chk_store_mark_corrupt(f->st, &c, &bad_ver), 0);
	assert_int_equal(chk_store_head(f->st, &c, &m), 0);
	assert_true(m.flags & PROTO_REC_CORRUPT);
	assert_int_equal(put_chunk(f->st, 20, 1, 5, v, 53, &rep), 0);
	check_value(f->st, &c, v, 53, 5);

	/* and they survive a reopen */
	chk_store_close(f->st);
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	fill(v, 100, 32);
	check_value(f->st, &k, v, 100, 20);
	free(gr);
	free(v);
}

/* ---- LIST, SCAN ---- */

static void put_dirent(struct chk_store *st, uint64_t dir, const char *name, uint64_t ino,
		       uint64_t hlc)
{
	struct proto_dirent de = { .ino = ino, .type = 8 };
	struct proto_key k;
	struct proto_wr w;

	assert_int_equal(proto_key_dirent(&k, dir, name, strlen(name)), 0);
	proto_wr_init(&w);
	proto_dirent_encode(&w, &de);
	assert_int_equal(put_rec(st, &k, hlc, w.buf, (uint32_t)w.len, false, NULL), 0);
	proto_wr_free(&w);
}

/* Run one LIST page; returns the number of entries, the last key in @last. */
static int list_page(struct chk_store *st, uint64_t ino, uint8_t kind, uint32_t max,
		     const uint8_t *start, uint16_t start_len, bool after, bool *more,
		     uint8_t last[PROTO_KEY_MAX], uint16_t *last_len, int *tombs)
{
	struct proto_list_req *q = calloc(1, sizeof(*q));
	struct proto_entry e;
	struct proto_rd r;
	struct proto_wr w;
	int n = 0, rc;

	q->ino = ino;
	q->kind = kind;
	q->max = max;
	q->flags = after ? PROTO_LIST_AFTER : 0;
	q->start_len = start_len;
	if (start_len)
		memcpy(q->start, start, start_len);
	proto_wr_init(&w);
	assert_int_equal(chk_store_list(st, q, &w), 0);
	assert_int_equal(proto_page_begin(&r, w.buf, w.len, more), 0);
	while ((rc = proto_page_next(&r, true, &e)) == 1) {
		assert_true(e.key.ino == ino);
		if (kind)
			assert_int_equal(e.key.kind, kind);
		if (e.meta.flags & PROTO_REC_TOMBSTONE)
			(*tombs)++;
		*last_len = (uint16_t)proto_key_encode(&e.key, last);
		n++;
	}
	assert_int_equal(rc, 0);
	proto_wr_free(&w);
	free(q);
	return n;
}

static void test_store_list_paging(void **state)
{
	struct fx *f = *state;
	uint8_t last[PROTO_KEY_MAX], other[64] = { 0 };
	struct proto_inode *in = calloc(1, sizeof(*in));
	struct proto_write_rep wr;
	struct proto_key k;
	uint16_t last_len = 0;
	int n, total, tombs = 0;
	bool more;
	char name[16];

	in->attr_ver = V(1);
	in->mode = 040755;
	put_inode(f->st, 42, in, &wr);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		put_dirent(f->st, 42, name, 100 + i, 10);
	}
	put_dirent(f->st, 43, "other", 1, 10);	   /* another partition */
	assert_int_equal(put_chunk(f->st, 42, 0, 10, other, sizeof(other), NULL), 0);
	assert_int_equal(proto_key_dirent(&k, 42, "f2", 2), 0);
	assert_int_equal(put_tomb(f->st, &k, 20), 0);

	/* max = 1, resumed with the AFTER cursor, visits all 6 of partition 42. */
	total = 0;
	n = list_page(f->st, 42, 0, 1, NULL, 0, false, &more, last, &last_len, &tombs);
	assert_int_equal(n, 1);
	assert_true(more);
	total += n;
	while (more) {
		n = list_page(f->st, 42, 0, 1, last, last_len, true, &more, last, &last_len,
			      &tombs);
		assert_int_equal(n, 1);
		total += n;
	}
	assert_int_equal(total, 6);
	assert_int_equal(tombs, 1); /* tombstones are listed, flagged */

	/* Exactly full pages: 3 + 3, and the second says no more. */
	n = list_page(f->st, 42, 0, 3, NULL, 0, false, &more, last, &last_len, &tombs);
	assert_int_equal(n, 3);
	assert_true(more);
	n = list_page(f->st, 42, 0, 3, last, last_len, true, &more, last, &last_len, &tombs);
	assert_int_equal(n, 3);
	assert_false(more);
	n = list_page(f->st, 42, 0, 6, NULL, 0, false, &more, last, &last_len, &tombs);
	assert_int_equal(n, 6);
	assert_false(more);

	/* Start inclusive without AFTER: the start key itself comes back. */
	n = list_page(f->st, 42, 0, 6, last, last_len, false, &more, last, &last_len, &tombs);
	assert_int_equal(n, 1);

	/* Kind filter. */
	n = list_page(f->st, 42, PROTO_KIND_DIRENT, 100, NULL, 0, false, &more, last, &last_len,
		      &tombs);
	assert_int_equal(n, 5);
	assert_false(more);
	n = list_page(f->st, 42, PROTO_KIND_INODE, 100, NULL, 0, false, &more, last, &last_len,
		      &tombs);
	assert_int_equal(n, 1);
	n = list_page(f->st, 42, PROTO_KIND_DIRENT, 4, NULL, 0, false, &more, last, &last_len,
		      &tombs);
	assert_int_equal(n, 4);
	assert_true(more);
	n = list_page(f->st, 42, PROTO_KIND_CHUNK, 100, NULL, 0, false, &more, last, &last_len,
		      &tombs);
	assert_int_equal(n, 0);

	/* SCAN: everything (8 records), metadata only, pages of 3. */
	{
		struct proto_scan_req *q = calloc(1, sizeof(*q));
		struct proto_entry e;
		struct proto_rd r;
		struct proto_wr w;
		int pages = 0, rc;

		total = 0;
		q->max = 3;
		do {
			proto_wr_init(&w);
			assert_int_equal(chk_store_scan(f->st, q, &w), 0);
			assert_int_equal(proto_page_begin(&r, w.buf, w.len, &more), 0);
			while ((rc = proto_page_next(&r, false, &e)) == 1) {
				assert_null(e.val);
				q->start_len = (uint16_t)proto_key_encode(&e.key, q->start);
				total++;
			}
			assert_int_equal(rc, 0);
			q->flags = PROTO_LIST_AFTER;
			proto_wr_free(&w);
			pages++;
		} while (more);
		assert_int_equal(total, 8);
		assert_int_equal(pages, 3);
		free(q);
	}
	free(in);
}

/* ---- tombstones, digest ---- */

static void test_store_tombstone_frees_body(void **state)
{
	struct fx *f = *state;
	struct proto_key k = chunk_key(11, 0);
	struct proto_get_rep *rep = malloc(sizeof(*rep));
	struct proto_stat_rep s;
	struct proto_meta m;
	uint8_t v[10000], *d; /* a body file: past CHK_INLINE_MAX */
	size_t n;

	fill(v, sizeof(v), 6);
	assert_int_equal(put_chunk(f->st, 11, 0, 10, v, sizeof(v), NULL), 0);
	assert_int_equal(count_bodies(f->dir), 1);
	assert_int_equal(chk_store_stat(f->st, &s), 0);
	assert_int_equal(s.chunks, 1);

	/* An older tombstone loses; a newer one frees the body (at the next
	 * sync point in COMMIT mode). */
	assert_int_equal(put_tomb(f->st, &k, 5), 0);
	assert_int_equal(count_bodies(f->dir), 1);
	assert_int_equal(put_tomb(f->st, &k, 20), 0);
	assert_int_equal(chk_store_sync(f->st), 0);
	assert_int_equal(count_bodies(f->dir), 0);

	assert_int_equal(get_range(f->st, &k, 0, PROTO_GET_WHOLE, rep, &d, &n), 0);
	assert_true(rep->meta.flags & PROTO_REC_TOMBSTONE);
	assert_int_equal(rep->nsums, 0);
	assert_null(d);
	assert_int_equal(chk_store_head(f->st, &k, &m), 0);
	assert_int_equal(m.ver.hlc, 20);
	assert_true(m.flags & PROTO_REC_TOMBSTONE);

	/* An older PUT cannot resurrect it. */
	assert_int_equal(put_chunk(f->st, 11, 0, 15, v, sizeof(v), NULL), 0);
	assert_int_equal(count_bodies(f->dir), 0);
	assert_int_equal(chk_store_stat(f->st, &s), 0);
	assert_int_equal(s.chunks, 0);
	assert_int_equal(s.tombstones, 1);
	free(rep);
}

static void fill_some(struct chk_store *st, bool variant)
{
	uint8_t v[300];
	struct proto_key k;

	fill(v, sizeof(v), 9);
	for (int i = 0; i < 10; i++)
		assert_int_equal(put_chunk(st, 1000 + i, 0, 10, v, sizeof(v), NULL), 0);
	put_dirent(st, 1, "a", 1000, 10);
	put_dirent(st, 1, "b", 1001, variant ? 11 : 10);
	proto_key_chunk(&k, 1000, 5);
	assert_int_equal(put_tomb(st, &k, 10), 0);
}

/* Digests of every bucket recomputed from scratch, from SCAN pages. */
static void digest_recompute(struct chk_store *st, uint64_t *d)
{
	struct proto_scan_req *q = calloc(1, sizeof(*q));
	bool more = true;

	assert_non_null(q);
	memset(d, 0, PROTO_DIGEST_BUCKETS * sizeof(*d));
	q->max = 1000;
	while (more) {
		struct proto_entry e;
		struct proto_rd r;
		struct proto_wr w;
		int rc;

		proto_wr_init(&w);
		assert_int_equal(chk_store_scan(st, q, &w), 0);
		assert_int_equal(proto_page_begin(&r, w.buf, w.len, &more), 0);
		while ((rc = proto_page_next(&r, false, &e)) == 1) {
			uint8_t kb[PROTO_KEY_MAX];
			size_t kn = proto_key_encode(&e.key, kb);

			d[proto_digest_bucket(proto_key_token(&e.key))] +=
				proto_entry_hash(kb, kn, &e.meta);
			q->start_len = (uint16_t)kn;
			memcpy(q->start, kb, kn);
			q->flags = PROTO_LIST_AFTER;
		}
		assert_int_equal(rc, 0);
		proto_wr_free(&w);
	}
	free(q);
}

/* The store's digests equal a recomputation, read whole and in pieces. */
static void check_digests(struct chk_store *st)
{
	uint64_t *want = malloc(PROTO_DIGEST_BUCKETS * sizeof(*want));
	uint64_t *got = malloc(PROTO_DIGEST_BUCKETS * sizeof(*got));
	uint64_t part[100];

	assert_non_null(want);
	assert_non_null(got);
	digest_recompute(st, want);
	assert_int_equal(chk_store_digest(st, 0, PROTO_DIGEST_BUCKETS, got), 0);
	for (uint32_t b = 0; b < PROTO_DIGEST_BUCKETS; b++)
		if (want[b] != got[b])
			fail_msg("bucket %u: store %016llx, recomputed %016llx", b,
				 (unsigned long long)got[b], (unsigned long long)want[b]);
	assert_int_equal(chk_store_digest(st, 30000, 100, part), 0);
	assert_memory_equal(part, got + 30000, sizeof(part));
	assert_int_equal(chk_store_digest(st, PROTO_DIGEST_BUCKETS - 1, 1, part), 0);
	assert_true(part[0] == got[PROTO_DIGEST_BUCKETS - 1]);
	assert_int_equal(chk_store_digest(st, 0, 0, part), -EINVAL);
	assert_int_equal(chk_store_digest(st, PROTO_DIGEST_BUCKETS - 1, 2, part), -EINVAL);
	free(want);
	free(got);
}

static void test_store_digest(void **state)
{
	struct fx *f = *state;
	uint64_t *a = malloc(PROTO_DIGEST_BUCKETS * sizeof(*a));
	uint64_t *b = malloc(PROTO_DIGEST_BUCKETS * sizeof(*b));
	char *dir2 = strdup("/tmp/qfs-test-store-XXXXXX");
	struct chk_store *st2;
	struct proto_key k;
	uint32_t kb;
	int ndiff = 0;

	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(mkdtemp(dir2));
	st2 = open_store(dir2, CHK_SYNC_COMMIT, 0);
	fill_some(f->st, false);
	fill_some(st2, false);
	check_digests(f->st);
	assert_int_equal(chk_store_digest(f->st, 0, PROTO_DIGEST_BUCKETS, a), 0);
	assert_int_equal(chk_store_digest(st2, 0, PROTO_DIGEST_BUCKETS, b), 0);
	assert_memory_equal(a, b, PROTO_DIGEST_BUCKETS * sizeof(*a));

	/* One newer record changes its bucket and no other. */
	put_dirent(st2, 1, "b", 1001, 11);
	assert_int_equal(proto_key_dirent(&k, 1, "b", 1), 0);
	kb = proto_digest_bucket(proto_key_token(&k));
	assert_int_equal(chk_store_digest(st2, 0, PROTO_DIGEST_BUCKETS, b), 0);
	for (uint32_t i = 0; i < PROTO_DIGEST_BUCKETS; i++)
		ndiff += a[i] != b[i];
	assert_int_equal(ndiff, 1);
	assert_true(a[kb] != b[kb]);
	check_digests(st2);

	chk_store_close(st2);
	rm_tree(dir2);
	free(dir2);
	free(a);
	free(b);
}

/*
 * A random mix of PUTs (chunks, inline and in bodies, dirents), PATCHes,
 * tombstones, corruption marks and purges, some in batches with a failing
 * request: the digests always equal a recomputation, also after a reopen,
 * and an index from before digests (marker removed) is summed at open.
 */
static void test_store_digest_random(void **state)
{
	struct fx *f = *state;
	uint8_t v[20000];
	unsigned seed = 12345;
	uint64_t hlc = 100;

	fill(v, sizeof(v), 3);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 300; i++) {
			unsigned r = rand_r(&seed);
			uint64_t ino = 1 + r % 40, idx = (r >> 8) % 3;
			struct proto_key k = chunk_key(ino, idx);
			struct proto_write_rep wr;
			struct proto_meta m;
			bool purged;
			char name[16];

			hlc++;
			switch ((r >> 12) % 8) {
			case 0:
			case 1:
				put_chunk(f->st, ino, idx, hlc, v, 100 + (r >> 16) % 19000, NULL);
				break;
			case 2:
				patch(f->st, &k, 0, hlc, (r >> 16) % 9000, v, 700, &wr);
				if (chk_store_head(f->st, &k, &m) == 0 &&
				    !(m.flags & PROTO_REC_TOMBSTONE))
					patch(f->st, &k, m.ver.hlc, hlc + 1, 10, v + 5, 300, &wr);
				hlc++;
				break;
			case 3:
				put_tomb(f->st, &k, hlc);
				break;
			case 4:
				if (chk_store_head(f->st, &k, &m) == 0)
					chk_store_mark_corrupt(f->st, &k, &m.ver);
				break;
			case 5:
				if (chk_store_head(f->st, &k, &m) == 0 &&
				    (m.flags & PROTO_REC_TOMBSTONE))
					assert_int_equal(chk_store_purge(f->st, &k, &m.ver, &purged), 0);
				break;
			case 6:
				snprintf(name, sizeof(name), "n%u", (r >> 16) % 50);
				put_dirent(f->st, ino, name, 1000 + (r >> 20) % 10, hlc);
				break;
			default:
				/* a batch: two PUTs and a refused one in between */
				assert_int_equal(chk_store_batch_begin(f->st), 0);
				put_chunk(f->st, ino, 7, hlc, v, 50, NULL);
				assert_int_equal(patch(f->st, &k, 1, hlc + 1, 0, v, 10, &wr),
						 -ESTALE); /* a base it never had */
				put_chunk(f->st, ino + 1, 7, hlc, v, 5000, NULL);
				assert_int_equal(chk_store_batch_commit(f->st), 0);
				break;
			}
		}
		check_digests(f->st);
	}
	chk_store_close(f->st);
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	check_digests(f->st);

	/* Killed while DB "digest" lags the records (written only every second):
	 * the next open sums them again. */
	chk_store_close(f->st);
	f->st = NULL;
	{
		pid_t pid = fork();
		int status;

		assert_true(pid >= 0);
		if (pid == 0) {
			struct chk_store *st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
			struct proto_key k = chunk_key(77, 0);

			put_chunk(st, 77, 0, hlc + 1, v, 100, NULL);
			put_tomb(st, &k, hlc + 2);
			put_chunk(st, 78, 1, hlc + 3, v, 9000, NULL);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	check_digests(f->st);
	{
		struct proto_key k = chunk_key(78, 1);
		struct proto_meta m;

		assert_int_equal(chk_store_head(f->st, &k, &m), 0); /* the child's writes */
	}

	/* An index written by a release without digests: summed at open. */
	chk_store_close(f->st);
	f->st = NULL;
	{
		char path[1024];
		MDB_env *env;
		MDB_txn *txn;
		MDB_dbi dbi;
		MDB_val key = { .mv_size = 6, .mv_data = "digest" };

		snprintf(path, sizeof(path), "%s/index", f->dir);
		assert_int_equal(mdb_env_create(&env), 0);
		mdb_env_set_maxdbs(env, 8);
		assert_int_equal(mdb_env_set_mapsize(env, 1ULL << 30), 0);
		assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
		assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
		assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
		assert_int_equal(mdb_del(txn, dbi, &key, NULL), 0);
		assert_int_equal(mdb_dbi_open(txn, "digest", 0, &dbi), 0);
		assert_int_equal(mdb_drop(txn, dbi, 0), 0);
		assert_int_equal(mdb_txn_commit(txn), 0);
		mdb_env_close(env);
	}
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	check_digests(f->st);
}

/* ---- capacity ---- */

static void test_store_capacity(void **state)
{
	struct fx *f = *state;
	struct chk_store *st;
	uint8_t *v = malloc(PROTO_CHUNK_MAX);
	struct proto_key k;
	int i, rc = 0;

	chk_store_close(f->st);
	f->st = NULL;
	/* 16 MiB: 1 MiB reserve (the floor); 1 MiB chunks fit about 14 times. */
	st = f->st = open_store(f->dir, CHK_SYNC_COMMIT, 16ULL << 20);
	fill(v, PROTO_CHUNK_MAX, 10);
	for (i = 0; i < 32; i++) {
		rc = put_chunk(st, 77, (uint64_t)i, 10, v, 1 << 20, NULL);
		if (rc)
			break;
	}
	assert_int_equal(rc, -ENOSPC);
	assert_in_range(i, 10, 15);
	assert_int_equal(count_bodies(f->dir), i); /* the refused write left nothing */
	for (int j = 0; j < i; j++) {
		k = chunk_key(77, (uint64_t)j);
		check_value(st, &k, v, 1 << 20, 10);
	}
	/* Patches that grow are refused too; tombstones pass and free space. */
	k = chunk_key(77, 0);
	{
		struct proto_write_rep rep;

		assert_int_equal(patch(st, &k, 10, 11, 1 << 20, v, 2 << 20, &rep), -ENOSPC);
	}
	check_value(st, &k, v, 1 << 20, 10);
	for (int j = 0; j < 200; j++) {
		struct proto_key t = chunk_key(78, (uint64_t)j);

		assert_int_equal(put_tomb(st, &t, 5), 0);
		if (j % 20 == 19) /* the daemon's sync timer: index pages are reused */
			assert_int_equal(chk_store_sync(st), 0);
	}
	assert_int_equal(put_tomb(st, &k, 20), 0);
	assert_int_equal(put_chunk(st, 77, 100, 10, v, 1 << 20, NULL), 0);
	free(v);
}

/* ---- corruption ---- */

static void test_store_corrupt_body(void **state)
{
	struct fx *f = *state;
	struct proto_key k = chunk_key(12, 0), bad_key;
	struct proto_get_rep *rep = malloc(sizeof(*rep));
	uint8_t *v = malloc(2 * BS), *d, cur[PROTO_KEY_MAX];
	struct proto_version bad_ver;
	struct proto_stat_rep s;
	struct proto_meta m;
	char path[1024];
	uint16_t cur_len = 0;
	int64_t got, total = 0;
	bool bad, seen = false;
	size_t n;
	int fd;

	fill(v, 2 * BS, 11);
	assert_int_equal(put_chunk(f->st, 12, 0, 10, v, 2 * BS, NULL), 0);
	only_body(f->dir, path, sizeof(path));
	assert_int_equal(put_chunk(f->st, 12, 1, 10, v, 100, NULL), 0);

	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 10), 1);
	close(fd);

	/* Block 0 is bad, block 1 is still served. */
	assert_int_equal(get_range(f->st, &k, 0, 100, rep, &d, &n), -EBADE);
	assert_null(d);
	assert_int_equal(rep->meta.ver.hlc, 10);
	assert_int_equal(get_range(f->st, &k, BS, 100, rep, &d, &n), 0);
	assert_memory_equal(d, v + BS, BS);
	free(d);

	/* The scrubber finds it. */
	while ((got = chk_store_scrub_next(f->st, cur, &cur_len, &bad_key, &bad_ver, &bad)) > 0) {
		total += got;
		if (bad) {
			assert_true(proto_key_equal(&bad_key, &k));
			assert_int_equal(bad_ver.hlc, 10);
			seen = true;
		}
	}
	assert_int_equal(got, 0);
	assert_true(seen);
	assert_int_equal(total, 2 * BS + 100);

	/* Marked corrupt: HEAD and STAT say so, a PATCH is refused. */
	assert_int_equal(chk_store_mark_corrupt(f->st, &k, &bad_ver), 0);
	assert_int_equal(chk_store_head(f->st, &k, &m), 0);
	assert_true(m.flags & PROTO_REC_CORRUPT);
	assert_int_equal(chk_store_stat(f->st, &s), 0);
	assert_int_equal(s.corrupt, 1);
	{
		struct proto_write_rep wr;

		assert_int_equal(patch(f->st, &k, 10, 11, 0, "a", 1, &wr), -EBADE);
	}
	assert_int_equal(get_range(f->st, &k, BS, 100, rep, &d, &n), 0);
	assert_true(rep->meta.flags & PROTO_REC_CORRUPT);
	free(d);

	/* A repair with the same version replaces it. */
	assert_int_equal(put_chunk(f->st, 12, 0, 10, v, 2 * BS, NULL), 0);
	assert_int_equal(chk_store_head(f->st, &k, &m), 0);
	assert_false(m.flags & PROTO_REC_CORRUPT);
	check_value(f->st, &k, v, 2 * BS, 10);
	assert_int_equal(chk_store_stat(f->st, &s), 0);
	assert_int_equal(s.corrupt, 0);
	free(v);
	free(rep);
}

/* A patch must not bless rotten bytes next to the range it writes. */
static void test_store_patch_checks_old_block(void **state)
{
	struct fx *f = *state;
	struct proto_key k = chunk_key(13, 0);
	struct proto_write_rep rep;
	uint8_t v[10000]; /* a body file: past CHK_INLINE_MAX */
	char path[1024];
	int fd;

	fill(v, sizeof(v), 12);
	assert_int_equal(put_chunk(f->st, 13, 0, 10, v, sizeof(v), NULL), 0);
	only_body(f->dir, path, sizeof(path));
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 900), 1);
	close(fd);
	assert_int_equal(patch(f->st, &k, 10, 11, 0, "ab", 2, &rep), -EBADE);
}

/* ---- identity ---- */

static void make_super(struct proto_wr *w, uint8_t fillbyte)
{
	struct proto_super s = { .format = PROTO_FORMAT_VERSION, .chunk_size = 1 << 20 };

	memset(s.volume_id, fillbyte, sizeof(s.volume_id));
	proto_wr_init(w);
	proto_super_encode(w, &s);
}

static void test_store_super_volume(void **state)
{
	struct fx *f = *state;
	uint8_t sid[PROTO_ID_LEN], vid[PROTO_ID_LEN], want[PROTO_ID_LEN];
	struct proto_key k;
	struct proto_wr a, b;
	uint32_t flags;

	chk_store_identity(f->st, sid, vid, &flags);
	assert_true(flags & PROTO_STORE_FRESH);
	assert_true(flags & PROTO_STORE_NOVOLUME);
	memset(want, 0, sizeof(want));
	assert_memory_equal(vid, want, PROTO_ID_LEN);

	proto_key_super(&k);
	make_super(&a, 0xaa);
	make_super(&b, 0xbb);
	assert_int_equal(put_rec(f->st, &k, 10, a.buf, (uint32_t)a.len, false, NULL), 0);
	chk_store_identity(f->st, sid, vid, &flags);
	assert_false(flags & PROTO_STORE_NOVOLUME);
	memset(want, 0xaa, sizeof(want));
	assert_memory_equal(vid, want, PROTO_ID_LEN);

	/* Another volume's superblock is refused, newer or not. */
	assert_int_equal(put_rec(f->st, &k, 20, b.buf, (uint32_t)b.len, false, NULL), -EXDEV);
	assert_int_equal(put_rec(f->st, &k, 5, b.buf, (uint32_t)b.len, false, NULL), -EXDEV);
	/* The same volume, newer, is fine. */
	assert_int_equal(put_rec(f->st, &k, 30, a.buf, (uint32_t)a.len, false, NULL), 0);
	/* A value that is not a superblock is refused. */
	assert_int_equal(put_rec(f->st, &k, 40, "junk", 4, false, NULL), -EINVAL);

	/* The volume survives a reopen (a SUPER that was not mkfs's: rebuilding). */
	chk_store_close(f->st);
	f->st = NULL;
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	chk_store_identity(f->st, sid, vid, &flags);
	assert_int_equal(flags, PROTO_STORE_REBUILDING);
	assert_memory_equal(vid, want, PROTO_ID_LEN);
	proto_wr_free(&a);
	proto_wr_free(&b);
}

/* PUT superblock @w at @hlc with PUT flags @pflags. */
static int put_super(struct chk_store *st, uint64_t hlc, const struct proto_wr *w,
		     uint32_t pflags)
{
	struct proto_put_req *q = calloc(1, sizeof(*q));
	struct proto_write_rep r;
	int rc;

	assert_non_null(q);
	proto_key_super(&q->key);
	q->meta.ver = V(hlc);
	q->meta.len = (uint32_t)w->len;
	q->flags = pflags;
	q->nsums = (uint16_t)proto_nblocks(q->meta.len);
	q->meta.sum = proto_value_sums(w->buf, q->meta.len, q->sums);
	rc = chk_store_put(st, q, w->buf, &r);
	free(q);
	return rc;
}

static uint32_t store_flags(struct chk_store *st)
{
	uint8_t sid[PROTO_ID_LEN], vid[PROTO_ID_LEN];
	uint32_t flags;

	chk_store_identity(st, sid, vid, &flags);
	return flags & ~PROTO_STORE_FRESH;
}

/* REBUILT for volume @vol, naming the store's own id. */
static int rebuilt(struct chk_store *st, const uint8_t *vol)
{
	uint8_t sid[PROTO_ID_LEN], vid[PROTO_ID_LEN];
	uint32_t flags;

	chk_store_identity(st, sid, vid, &flags);
	return chk_store_rebuilt(st, vol, sid);
}

static void reopen(struct fx *f)
{
	chk_store_close(f->st);
	f->st = NULL;
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
}

/*
 * Rebuilding: mkfs's SUPER gives a store its volume without it; any other
 * SUPER (a read-repair or fsck refilling a new disk) makes it rebuilding,
 * across restarts, until a REBUILT naming its volume clears it for good.
 */
static void test_store_rebuilding(void **state)
{
	struct fx *f = *state;
	uint8_t vol[PROTO_ID_LEN], other[PROTO_ID_LEN];
	struct proto_wr a;

	make_super(&a, 0xaa);
	memset(vol, 0xaa, sizeof(vol));
	memset(other, 0xbb, sizeof(other));
	/* no volume yet: nothing to be declared refilled */
	assert_int_equal(rebuilt(f->st, vol), -EINVAL);
	assert_int_equal(store_flags(f->st), PROTO_STORE_NOVOLUME);

	/* mkfs: not rebuilding, also after a reopen */
	assert_int_equal(put_super(f->st, 10, &a, PROTO_PUT_MKFS), 0);
	assert_int_equal(store_flags(f->st), 0);
	reopen(f);
	assert_int_equal(store_flags(f->st), 0);
	assert_int_equal(rebuilt(f->st, vol), 0); /* a no-op */
	assert_int_equal(store_flags(f->st), 0);

	/* a wiped disk refilled through a non-mkfs SUPER: rebuilding */
	chk_store_close(f->st);
	f->st = NULL;
	rm_tree(f->dir);
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	assert_int_equal(put_super(f->st, 20, &a, 0), 0);
	assert_int_equal(store_flags(f->st), PROTO_STORE_REBUILDING);
	/* a later mkfs-flagged SUPER of the same volume does not clear it */
	assert_int_equal(put_super(f->st, 30, &a, PROTO_PUT_MKFS), 0);
	assert_int_equal(store_flags(f->st), PROTO_STORE_REBUILDING);
	reopen(f);
	assert_int_equal(store_flags(f->st), PROTO_STORE_REBUILDING);
	/* a REBUILT for another volume, or another store, is refused */
	assert_int_equal(rebuilt(f->st, other), -EXDEV);
	assert_int_equal(chk_store_rebuilt(f->st, vol, other), -EXDEV);
	assert_int_equal(store_flags(f->st), PROTO_STORE_REBUILDING);
	/* a failed request in a batch leaves the state as it was */
	assert_int_equal(chk_store_batch_begin(f->st), 0);
	assert_int_equal(rebuilt(f->st, other), -EXDEV);
	assert_int_equal(rebuilt(f->st, vol), 0);
	assert_int_equal(store_flags(f->st), PROTO_STORE_REBUILDING); /* not committed */
	assert_int_equal(chk_store_batch_commit(f->st), 0);
	assert_int_equal(store_flags(f->st), 0);
	reopen(f);
	assert_int_equal(store_flags(f->st), 0); /* durable */
	assert_int_equal(rebuilt(f->st, vol), 0);

	/* an aborted batch never clears it */
	chk_store_close(f->st);
	f->st = NULL;
	rm_tree(f->dir);
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	assert_int_equal(put_super(f->st, 40, &a, 0), 0);
	assert_int_equal(chk_store_batch_begin(f->st), 0);
	assert_int_equal(rebuilt(f->st, vol), 0);
	assert_int_equal(store_flags(f->st), PROTO_STORE_REBUILDING);
	reopen(f); /* the close undoes the open batch */
	assert_int_equal(store_flags(f->st), PROTO_STORE_REBUILDING);
	proto_wr_free(&a);
}

static void test_store_reopen_and_wipe(void **state)
{
	struct fx *f = *state;
	uint8_t sid1[PROTO_ID_LEN], sid2[PROTO_ID_LEN], vid[PROTO_ID_LEN];
	struct proto_stat_rep s1, s2;
	struct proto_key k;
	uint8_t v[5000];
	uint32_t flags;

	fill(v, sizeof(v), 13);
	for (int i = 0; i < 20; i++)
		assert_int_equal(put_chunk(f->st, 300, (uint64_t)i, 10, v, sizeof(v), NULL), 0);
	put_dirent(f->st, 1, "x", 300, 10);
	chk_store_identity(f->st, sid1, vid, &flags);
	assert_int_equal(chk_store_stat(f->st, &s1), 0);
	assert_int_equal(s1.records, 21);
	assert_int_equal(s1.chunks, 20);
	assert_true(s1.used >= 20 * sizeof(v));
	assert_true(s1.capacity > 0);
	assert_string_equal(s1.software, QFS_VERSION);

	chk_store_close(f->st);
	f->st = NULL;
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	chk_store_identity(f->st, sid2, vid, &flags);
	assert_memory_equal(sid1, sid2, PROTO_ID_LEN);
	assert_false(flags & PROTO_STORE_FRESH);
	assert_int_equal(chk_store_stat(f->st, &s2), 0);
	assert_int_equal(s2.records, s1.records);
	assert_int_equal(s2.chunks, s1.chunks);
	for (int i = 0; i < 20; i++) {
		k = chunk_key(300, (uint64_t)i);
		check_value(f->st, &k, v, sizeof(v), 10);
	}

	/* An emptied directory is a new store. */
	chk_store_close(f->st);
	f->st = NULL;
	rm_tree(f->dir);
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	chk_store_identity(f->st, sid2, vid, &flags);
	assert_memory_not_equal(sid1, sid2, PROTO_ID_LEN);
	assert_true(flags & PROTO_STORE_FRESH);
	k = chunk_key(300, 0);
	assert_int_equal(chk_store_head(f->st, &k, &(struct proto_meta){ 0 }), -ENOENT);
}

/* Read (@set NULL) or write the "format" word of a closed store's index. */
static uint8_t index_format(const char *dir, const uint8_t *set)
{
	MDB_val k = { .mv_size = 6, .mv_data = "format" }, v;
	char path[1024];
	uint8_t fmt = 0;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	snprintf(path, sizeof(path), "%s/index", dir);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
	assert_int_equal(mdb_env_set_mapsize(env, 1ULL << 30), 0);
	assert_int_equal(mdb_env_open(env, path, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	if (set) {
		v.mv_size = 4;
		v.mv_data = (void *)set;
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	}
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_int_equal(v.mv_size, 4);
	fmt = ((uint8_t *)v.mv_data)[0];
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	return fmt;
}

/* A format-1 store (no inline chunks) is upgraded at open; unknown formats are refused. */
static void test_store_format_upgrade(void **state)
{
	static const uint8_t v1[4] = { 1 }, v9[4] = { 9 };
	struct chk_store_opts o = { .dir = NULL, .sync = CHK_SYNC_COMMIT, .map_size = 1ULL << 30 };
	struct fx *f = *state;
	struct proto_key k = chunk_key(30, 0);
	struct chk_store *st;
	uint8_t v[10000];

	fill(v, sizeof(v), 33);
	assert_int_equal(put_chunk(f->st, 30, 0, 10, v, sizeof(v), NULL), 0);
	chk_store_close(f->st);
	f->st = NULL;
	assert_int_equal(index_format(f->dir, NULL), 3);
	assert_int_equal(index_format(f->dir, v1), 1);
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	check_value(f->st, &k, v, sizeof(v), 10);
	chk_store_close(f->st);
	f->st = NULL;
	assert_int_equal(index_format(f->dir, NULL), 3);

	assert_int_equal(index_format(f->dir, v9), 9);
	o.dir = f->dir;
	assert_int_equal(chk_store_open(&o, &st), -EIO);
	assert_int_equal(index_format(f->dir, v1), 1);
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
}

/* ---- batches ---- */

static void test_store_batch_failure_isolated(void **state)
{
	struct fx *f = *state;
	struct proto_key a = chunk_key(400, 0), b = chunk_key(400, 1), c = chunk_key(400, 2);
	struct proto_key sk;
	struct proto_write_rep rep;
	struct proto_wr s1, s2;
	uint8_t v[9000], w[9000]; /* body files: past CHK_INLINE_MAX */

	fill(v, sizeof(v), 14);
	fill(w, sizeof(w), 15);
	make_super(&s1, 1);
	make_super(&s2, 2);
	proto_key_super(&sk);
	assert_int_equal(put_chunk(f->st, 400, 2, 10, v, sizeof(v), NULL), 0);

	assert_int_equal(chk_store_batch_begin(f->st), 0);
	assert_int_equal(chk_store_batch_begin(f->st), -EBUSY);
	assert_int_equal(put_chunk(f->st, 400, 0, 10, v, sizeof(v), NULL), 0);
	assert_int_equal(put_rec(f->st, &sk, 10, s1.buf, (uint32_t)s1.len, false, NULL), 0);
	/* failures inside the batch: stale patch, foreign volume, bad sums */
	assert_int_equal(patch(f->st, &b, 3, 4, 0, "q", 1, &rep), -ESTALE);
	assert_int_equal(put_rec(f->st, &sk, 20, s2.buf, (uint32_t)s2.len, false, NULL),
			 -EXDEV);
	assert_int_equal(patch(f->st, &c, 10, 11, 10, w, 100, &rep), 0);
	assert_int_equal(put_chunk(f->st, 400, 1, 10, w, sizeof(w), NULL), 0);
	assert_int_equal(chk_store_batch_commit(f->st), 0);

	check_value(f->st, &a, v, sizeof(v), 10);
	check_value(f->st, &b, w, sizeof(w), 10);
	memcpy(v + 10, w, 100);
	check_value(f->st, &c, v, sizeof(v), 11);
	assert_int_equal(count_bodies(f->dir), 3);
	assert_int_equal(chk_store_sync(f->st), 0);
	proto_wr_free(&s1);
	proto_wr_free(&s2);
}

/*
 * A full LMDB map is ENOSPC; a PATCH whose index update fails after its
 * bytes went into the body puts the old bytes back (no checksum failure).
 */
static void test_store_map_full_undoes_patch(void **state)
{
	struct fx *f = *state;
	struct chk_store_opts o = { .dir = f->dir, .sync = CHK_SYNC_COMMIT,
				    .map_size = 512 * 1024 };
	struct proto_key k0 = chunk_key(700, 0), k, x;
	struct proto_write_rep rep;
	uint8_t v[9000], w[9000], p[3000], big[4000]; /* chunks in body files */
	char name[32];
	int i, rc = 0;

	chk_store_close(f->st);
	f->st = NULL;
	rm_tree(f->dir);
	assert_int_equal(chk_store_open(&o, &f->st), 0);
	fill(v, sizeof(v), 18);
	fill(p, sizeof(p), 19);
	fill(big, sizeof(big), 20);
	/* Enough chunk records to span several index pages; synced now and then
	 * like the daemon does, or the pinned sync point keeps every old page. */
	for (i = 0; i < 100; i++) {
		assert_int_equal(put_chunk(f->st, 700, (uint64_t)i, 10, v, sizeof(v), NULL), 0);
		if (i % 10 == 9)
			assert_int_equal(chk_store_sync(f->st), 0);
	}

	/* One batch: a patch that fits, then fill the map, then patches that cannot. */
	assert_int_equal(chk_store_batch_begin(f->st), 0);
	assert_int_equal(patch(f->st, &k0, 10, 11, 100, p, sizeof(p), &rep), 0);
	memcpy(w, v, sizeof(v));
	memcpy(w + 100, p, sizeof(p));
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "user.x%d", i);
		assert_int_equal(proto_key_xattr(&x, 1, name, strlen(name)), 0);
		rc = put_rec(f->st, &x, 10, big, sizeof(big), false, NULL);
		if (rc)
			break;
	}
	assert_int_equal(rc, -ENOSPC);
	assert_true(i > 10);
	fill(p, sizeof(p), 22);
	for (i = 99; i > 0; i--) {
		k = chunk_key(700, (uint64_t)i);
		rc = patch(f->st, &k, 10, 12, 50, p, sizeof(p), &rep);
		if (rc)
			break;
	}
	assert_int_equal(rc, -ENOSPC);
	rc = chk_store_batch_commit(f->st);
	assert_true(rc == 0 || rc == -ENOSPC);
	/* The failed patch put the old bytes back (no checksum failure). */
	check_value(f->st, &k, v, sizeof(v), 10);

	/* Either the batch committed (first patch in) or it was undone whole. */
	if (rc == 0)
		check_value(f->st, &k0, w, sizeof(w), 11);
	else
		check_value(f->st, &k0, v, sizeof(v), 10);
}

/* ---- NONE mode: kill -9 keeps data, a reboot wipes ---- */

static void test_store_none_mode(void **state)
{
	struct fx *f = *state;
	uint8_t sid1[PROTO_ID_LEN], sid2[PROTO_ID_LEN], vid[PROTO_ID_LEN], v[10000];
	struct proto_key k = chunk_key(500, 0);
	char path[1024];
	uint32_t flags;
	pid_t pid;
	int status, fd;
	FILE *fp;

	chk_store_close(f->st);
	f->st = NULL;
	rm_tree(f->dir);
	fill(v, sizeof(v), 16);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct chk_store_opts o = { .dir = f->dir, .sync = CHK_SYNC_NONE,
					    .map_size = 1ULL << 30 };
		struct chk_store *st;

		if (chk_store_open(&o, &st) || put_chunk(st, 500, 0, 10, v, sizeof(v), NULL))
			_exit(1);
		_exit(0); /* like kill -9: no close */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* A stray body (a batch cut off by the crash) is swept at open. */
	snprintf(path, sizeof(path), "%s/bodies/ff/00000000000fffff", f->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);

	f->st = open_store(f->dir, CHK_SYNC_NONE, 0);
	chk_store_identity(f->st, sid1, vid, &flags);
	assert_false(flags & PROTO_STORE_FRESH);
	check_value(f->st, &k, v, sizeof(v), 10);
	assert_int_equal(count_bodies(f->dir), 1);
	chk_store_close(f->st);
	f->st = NULL;

	/* A marker from another boot in NONE mode: wiped, new id. */
	snprintf(path, sizeof(path), "%s/dirty", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("00000000-0000-0000-0000-000000000000\nnosync\n", fp);
	fclose(fp);
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	chk_store_identity(f->st, sid2, vid, &flags);
	assert_true(flags & PROTO_STORE_FRESH);
	assert_memory_not_equal(sid1, sid2, PROTO_ID_LEN);
	assert_int_equal(chk_store_head(f->st, &k, &(struct proto_meta){ 0 }), -ENOENT);
	assert_int_equal(count_bodies(f->dir), 0);
	chk_store_close(f->st);
	f->st = NULL;

	/* The same from a synced mode is only an unclean stop: data kept. */
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	assert_int_equal(put_chunk(f->st, 500, 0, 10, v, sizeof(v), NULL), 0);
	chk_store_close(f->st);
	f->st = NULL;
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("00000000-0000-0000-0000-000000000000\nsync\n", fp);
	fclose(fp);
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	check_value(f->st, &k, v, sizeof(v), 10);
}

/* ---- crashes: kill -9 and power loss ---- */

/* Run @fn(@dir, @mode, @arg) in a child that ends with _exit(), never closing
 * the store: what a kill -9 leaves (the page cache keeps every write). */
static void run_killed(const char *dir, enum chk_sync_mode mode,
		       int (*fn)(struct chk_store *st, void *arg), void *arg)
{
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct chk_store_opts o = { .dir = dir, .sync = mode, .map_size = 1ULL << 30 };
		struct chk_store *st;

		if (chk_store_open(&o, &st))
			_exit(2);
		_exit(fn(st, arg) ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

#define KP_LEN (3 * BS + 100)

static int kill_mid_patch_child(struct chk_store *st, void *arg)
{
	struct proto_key a = chunk_key(950, 0), b = chunk_key(950, 1);
	uint8_t *v = malloc(KP_LEN), p[4096];
	struct proto_write_rep rep;
	int rc = 0;

	(void)arg;
	fill(v, KP_LEN, 40);
	rc |= put_chunk(st, 950, 0, 10, v, KP_LEN, NULL);
	fill(v, KP_LEN, 41);
	rc |= put_chunk(st, 950, 1, 10, v, KP_LEN, NULL);
	/* b: a patch that commits (acknowledged) */
	fill(p, sizeof(p), 42);
	rc |= patch(st, &b, 10, 11, 2 * BS - 7, p, sizeof(p), &rep);
	/* a: a batch of in-place writes that never commits: across a block
	 * boundary, over it again, and past the end (the file grows) */
	rc |= chk_store_batch_begin(st);
	fill(p, sizeof(p), 43);
	rc |= patch(st, &a, 10, 11, BS - 100, p, sizeof(p), &rep);
	fill(p, sizeof(p), 44);
	rc |= patch(st, &a, 11, 12, BS - 50, p, 200, &rep);
	rc |= patch(st, &a, 12, 13, KP_LEN + 5000, p, 300, &rep);
	free(v);
	return rc; /* the batch is never committed */
}

/*
 * kill -9 after in-place PATCH bytes reached the body file but before their
 * batch committed: the acknowledged version must read back exactly, not as
 * corrupt (the undo journal puts the old bytes back at open). In every mode.
 */
static void test_store_kill_mid_patch(void **state)
{
	static const enum chk_sync_mode modes[] = { CHK_SYNC_COMMIT, CHK_SYNC_ALWAYS,
						    CHK_SYNC_NONE };
	struct fx *f = *state;
	struct proto_key a = chunk_key(950, 0), b = chunk_key(950, 1);
	uint8_t *v = malloc(KP_LEN + 20), p[4096];
	struct proto_write_rep rep;
	struct proto_meta m;

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		chk_store_close(f->st);
		f->st = NULL;
		rm_tree(f->dir);
		run_killed(f->dir, modes[i], kill_mid_patch_child, NULL);

		f->st = open_store(f->dir, modes[i], 0);
		fill(v, KP_LEN, 40);
		check_value(f->st, &a, v, KP_LEN, 10);
		assert_int_equal(chk_store_head(f->st, &a, &m), 0);
		assert_false(m.flags & PROTO_REC_CORRUPT);
		fill(v, KP_LEN, 41);
		fill(p, sizeof(p), 42);
		memcpy(v + 2 * BS - 7, p, sizeof(p));
		check_value(f->st, &b, v, KP_LEN, 11);
		assert_int_equal(chk_store_head(f->st, &b, &m), 0);
		assert_false(m.flags & PROTO_REC_CORRUPT);

		/* the body was cut back to its length: a gap reads as zeros */
		fill(v, KP_LEN, 40);
		memset(v + KP_LEN, 0, 10);
		memcpy(v + KP_LEN + 10, "tail!", 5);
		assert_int_equal(patch(f->st, &a, 10, 14, KP_LEN + 10, "tail!", 5, &rep), 0);
		check_value(f->st, &a, v, KP_LEN + 15, 14);
	}
	free(v);
}

/* ---- a reboot rolls COMMIT mode back to its last sync point ---- */

#define RB_CHUNKS 8
#define RB_DIRENTS 5
#define RB_CHURN 300

static uint32_t rb_len(int i)
{
	return (uint32_t)(i + 1) * BS / 2 + 17;
}

static void rb_dirent_name(char *name, size_t size, char set, int i)
{
	snprintf(name, size, "%c%d", set, i);
}

/* Records A, a sync point, then records B (which overwrite and delete some of A). */
static int reboot_child(struct chk_store *st, void *arg)
{
	uint8_t *v = malloc(5 * BS), p[1000];
	struct proto_inode in = { .attr_ver = { 5, WRITER }, .mode = 040755 };
	struct proto_write_rep rep;
	struct proto_key k;
	char name[16];
	int rc = 0;

	(void)arg;
	/* A */
	for (int i = 0; i < RB_CHUNKS; i++) {
		fill(v, rb_len(i), 60 + (unsigned)i);
		rc |= put_chunk(st, 900, (uint64_t)i, 100 + (uint64_t)i, v, rb_len(i), NULL);
	}
	for (int i = 0; i < RB_DIRENTS; i++) {
		rb_dirent_name(name, sizeof(name), 'a', i);
		put_dirent(st, 900, name, 1000 + (uint64_t)i, 10);
	}
	put_inode(st, 900, &in, &rep);
	rc |= chk_store_sync(st);

	/* B: new chunks, one patched in place; an A chunk replaced, one deleted */
	for (int i = 0; i < RB_CHUNKS; i++) {
		fill(v, rb_len(i), 80 + (unsigned)i);
		rc |= put_chunk(st, 901, (uint64_t)i, 200, v, rb_len(i), NULL);
	}
	k = chunk_key(901, 0);
	fill(p, sizeof(p), 81);
	rc |= patch(st, &k, 200, 201, 10, p, sizeof(p), &rep);
	fill(v, 2 * BS, 82);
	rc |= put_chunk(st, 900, 0, 500, v, 2 * BS, NULL);
	k = chunk_key(900, 1);
	rc |= put_tomb(st, &k, 500);
	for (int i = 0; i < RB_DIRENTS; i++) {
		rb_dirent_name(name, sizeof(name), 'b', i);
		put_dirent(st, 900, name, 2000 + (uint64_t)i, 20);
	}
	/* Many small commits that rewrite A's index pages: without the pin,
	 * LMDB would reuse the pages of the sync point's tree. */
	for (int j = 0; j < RB_CHURN; j++) {
		rb_dirent_name(name, sizeof(name), 'a', j % RB_DIRENTS);
		put_dirent(st, 900, name, 3000 + (uint64_t)j, 30 + (uint64_t)j);
	}
	free(v);
	return rc;
}

static void check_dirent(struct chk_store *st, uint64_t dir, const char *name, uint64_t ino,
			 uint64_t hlc)
{
	struct proto_get_rep *rep = malloc(sizeof(*rep));
	struct proto_dirent de;
	struct proto_key k;
	uint8_t *d;
	size_t n;

	assert_int_equal(proto_key_dirent(&k, dir, name, strlen(name)), 0);
	assert_int_equal(get_range(st, &k, 0, PROTO_GET_WHOLE, rep, &d, &n), 0);
	assert_int_equal(rep->meta.ver.hlc, hlc);
	assert_int_equal(proto_dirent_decode(d, n, &de), 0);
	assert_int_equal(de.ino, ino);
	free(d);
	free(rep);
}

/* SCAN the whole store; GET every key (no corrupt one). Returns the key count. */
static int scan_and_get_all(struct chk_store *st)
{
	struct proto_scan_req *q = calloc(1, sizeof(*q));
	struct proto_get_rep *gr = malloc(sizeof(*gr));
	struct proto_entry e;
	struct proto_rd r;
	struct proto_wr w;
	int total = 0, rc;
	bool more;

	q->max = 5;
	do {
		proto_wr_init(&w);
		assert_int_equal(chk_store_scan(st, q, &w), 0);
		assert_int_equal(proto_page_begin(&r, w.buf, w.len, &more), 0);
		while ((rc = proto_page_next(&r, false, &e)) == 1) {
			uint8_t *d;
			size_t n;

			assert_false(e.meta.flags & PROTO_REC_CORRUPT);
			assert_int_equal(get_range(st, &e.key, 0, PROTO_GET_WHOLE, gr, &d, &n), 0);
			assert_int_equal(gr->meta.ver.hlc, e.meta.ver.hlc);
			assert_int_equal(n, (e.meta.flags & PROTO_REC_TOMBSTONE) ? 0 : e.meta.len);
			free(d);
			q->start_len = (uint16_t)proto_key_encode(&e.key, q->start);
			total++;
		}
		assert_int_equal(rc, 0);
		q->flags = PROTO_LIST_AFTER;
		proto_wr_free(&w);
	} while (more);
	free(q);
	free(gr);
	return total;
}

static void reboot_case(struct fx *f, bool reboot)
{
	uint8_t *v = malloc(5 * BS);
	struct proto_key k;
	struct proto_meta m;
	char name[16], boot[64];

	chk_store_close(f->st);
	f->st = NULL;
	rm_tree(f->dir);
	run_killed(f->dir, CHK_SYNC_COMMIT, reboot_child, NULL);

	if (reboot) { /* test hook of chunkd/store.c: the next open sees another boot */
		snprintf(boot, sizeof(boot), "test-reboot-%d", (int)getpid());
		assert_int_equal(setenv("QFS_TEST_BOOT_ID", boot, 1), 0);
	}
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	unsetenv("QFS_TEST_BOOT_ID");

	if (reboot) {
		/* exactly A: B's records and bodies are gone */
		for (int i = 0; i < RB_CHUNKS; i++) {
			k = chunk_key(900, (uint64_t)i);
			fill(v, rb_len(i), 60 + (unsigned)i);
			check_value(f->st, &k, v, rb_len(i), 100 + (uint64_t)i);
			k = chunk_key(901, (uint64_t)i);
			assert_int_equal(chk_store_head(f->st, &k, &m), -ENOENT);
		}
		for (int i = 0; i < RB_DIRENTS; i++) {
			rb_dirent_name(name, sizeof(name), 'a', i);
			check_dirent(f->st, 900, name, 1000 + (uint64_t)i, 10);
			rb_dirent_name(name, sizeof(name), 'b', i);
			assert_int_equal(proto_key_dirent(&k, 900, name, strlen(name)), 0);
			assert_int_equal(chk_store_head(f->st, &k, &m), -ENOENT);
		}
		assert_int_equal(scan_and_get_all(f->st), RB_CHUNKS + RB_DIRENTS + 1);
		assert_int_equal(count_bodies(f->dir), RB_CHUNKS);
	} else {
		/* a kill -9 keeps everything, synced or not */
		k = chunk_key(900, 0);
		fill(v, 2 * BS, 82);
		check_value(f->st, &k, v, 2 * BS, 500);
		k = chunk_key(900, 1);
		assert_int_equal(chk_store_head(f->st, &k, &m), 0);
		assert_true(m.flags & PROTO_REC_TOMBSTONE);
		for (int i = 1; i < RB_CHUNKS; i++) {
			k = chunk_key(901, (uint64_t)i);
			fill(v, rb_len(i), 80 + (unsigned)i);
			check_value(f->st, &k, v, rb_len(i), 200);
		}
		for (int i = 0; i < RB_DIRENTS; i++) {
			int last = RB_CHURN - RB_DIRENTS + i;

			rb_dirent_name(name, sizeof(name), 'a', i);
			check_dirent(f->st, 900, name, 3000 + (uint64_t)last, 30 + (uint64_t)last);
			rb_dirent_name(name, sizeof(name), 'b', i);
			check_dirent(f->st, 900, name, 2000 + (uint64_t)i, 20);
		}
		assert_int_equal(scan_and_get_all(f->st), 2 * RB_CHUNKS + 2 * RB_DIRENTS + 1);
		/* A's two superseded bodies were swept as orphans */
		assert_int_equal(count_bodies(f->dir), 2 * RB_CHUNKS - 1);
	}

	/* The store goes on: write, sync, close cleanly, reopen. */
	fill(v, BS, 90);
	assert_int_equal(put_chunk(f->st, 902, 0, 700, v, BS, NULL), 0);
	assert_int_equal(chk_store_sync(f->st), 0);
	chk_store_close(f->st);
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	k = chunk_key(902, 0);
	check_value(f->st, &k, v, BS, 700);
	free(v);
}

/*
 * COMMIT mode after a power loss (a reboot: the boot id changed): the index
 * rolls back to the last sync point, whatever the unsynced commits after it
 * did to LMDB's pages; bodies written after it are swept; every record left
 * reads back intact.
 */
static void test_store_reboot_rolls_back(void **state)
{
	reboot_case(*state, true);
}

/* The same crash without a reboot (kill -9): nothing is rolled back. */
static void test_store_kill_keeps_unsynced(void **state)
{
	reboot_case(*state, false);
}

/* Records A, synced in the background; then records B while that runs, and
 * a background sync of B that the crash may cut short. */
static int reboot_async_child(struct chk_store *st, void *arg)
{
	uint8_t *v = malloc(5 * BS);
	int rc = 0, i;

	(void)arg;
	for (i = 0; i < RB_CHUNKS; i++) {
		fill(v, rb_len(i), 60 + (unsigned)i);
		rc |= put_chunk(st, 910, (uint64_t)i, 100, v, rb_len(i), NULL);
	}
	rc |= chk_store_sync_start(st) < 0;
	for (i = 0; i < RB_CHUNKS; i++) {
		fill(v, rb_len(i), 80 + (unsigned)i);
		rc |= put_chunk(st, 911, (uint64_t)i, 200, v, rb_len(i), NULL);
		rc |= put_chunk(st, 910, (uint64_t)i, 300, v, rb_len(i), NULL);
	}
	/* wait until A's sync point is durable and B's is under way */
	while ((i = chk_store_sync_start(st)) > 0)
		usleep(1000);
	free(v);
	return rc | (i < 0);
}

/*
 * The periodic sync runs in the background while writes go on. After a
 * reboot the index is exactly one of the sync points: A (B's sync was cut
 * short) or A and B, never a mix, and every record reads back intact.
 */
static void test_store_reboot_async_sync(void **state)
{
	struct fx *f = *state;
	uint8_t *v = malloc(5 * BS);
	struct proto_key k;
	struct proto_meta m;
	char boot[64];
	bool have_b;

	chk_store_close(f->st);
	f->st = NULL;
	rm_tree(f->dir);
	run_killed(f->dir, CHK_SYNC_COMMIT, reboot_async_child, NULL);
	snprintf(boot, sizeof(boot), "test-reboot-async-%d", (int)getpid());
	assert_int_equal(setenv("QFS_TEST_BOOT_ID", boot, 1), 0);
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	unsetenv("QFS_TEST_BOOT_ID");

	k = chunk_key(911, 0);
	have_b = chk_store_head(f->st, &k, &m) == 0;
	print_message("rolled back to the sync point of %s\n", have_b ? "A and B" : "A");
	for (int i = 0; i < RB_CHUNKS; i++) {
		k = chunk_key(911, (uint64_t)i);
		assert_int_equal(chk_store_head(f->st, &k, &m), have_b ? 0 : -ENOENT);
		fill(v, rb_len(i), (have_b ? 80 : 60) + (unsigned)i);
		k = chunk_key(910, (uint64_t)i);
		check_value(f->st, &k, v, rb_len(i), have_b ? 300 : 100);
	}
	assert_int_equal(scan_and_get_all(f->st), (have_b ? 2 : 1) * RB_CHUNKS);
	assert_int_equal(count_bodies(f->dir), (have_b ? 2 : 1) * RB_CHUNKS);
	free(v);
}

/* ---- readers race the writer ---- */

struct race {
	struct chk_store *st;
	atomic_bool stop;
	int errors, reads;
};

static void *race_reader(void *arg)
{
	struct race *r = arg;
	struct proto_get_rep *rep = malloc(sizeof(*rep));
	struct proto_key k = chunk_key(600, 0);

	while (!atomic_load(&r->stop)) {
		struct proto_get_req q = { .key = k, .offset = 0, .length = PROTO_GET_WHOLE };
		void *d;
		size_t n;
		int rc = chk_store_get(r->st, &q, rep, &d, &n);

		if (rc != 0 && rc != -ENOENT)
			r->errors++;
		if (rc == 0 && n != rep->meta.len)
			r->errors++;
		free(d);
		r->reads++;
	}
	free(rep);
	return NULL;
}

static void test_store_readers_race_writer(void **state)
{
	struct fx *f = *state;
	struct race r = { .st = f->st };
	struct proto_key k = chunk_key(600, 0);
	struct proto_write_rep rep;
	uint8_t *v = malloc(4 * BS), p[4096];
	pthread_t th[2];
	uint64_t ver = 10;

	fill(v, 4 * BS, 17);
	atomic_init(&r.stop, false);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race_reader, &r), 0);
	assert_int_equal(put_chunk(f->st, 600, 0, ver, v, 4 * BS, NULL), 0);
	for (int i = 0; i < 300; i++) {
		fill(p, sizeof(p), (unsigned)i);
		assert_int_equal(chk_store_batch_begin(f->st), 0);
		if (i % 10 == 0) {
			assert_int_equal(put_chunk(f->st, 600, 0, ver + 1, v, 4 * BS, NULL), 0);
		} else {
			uint32_t off = (uint32_t)(i * 7919) % (4 * BS - sizeof(p));

			assert_int_equal(
				patch(f->st, &k, ver, ver + 1, off, p, sizeof(p), &rep), 0);
			memcpy(v + off, p, sizeof(p));
		}
		ver++;
		assert_int_equal(chk_store_batch_commit(f->st), 0);
	}
	atomic_store(&r.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(r.errors, 0);
	assert_true(r.reads > 0);
	check_value(f->st, &k, v, 4 * BS, ver);
	free(v);
}

/* ---- the pending-repair index and tombstone collection ---- */

static struct proto_batch_ent pend_ent(const struct proto_key *key, const char *a,
				       const char *b)
{
	struct proto_batch_ent e;

	memset(&e, 0, sizeof(e));
	e.key = *key;
	snprintf(e.missed[e.nmissed++], sizeof(e.missed[0]), "%s", a);
	if (b)
		snprintf(e.missed[e.nmissed++], sizeof(e.missed[0]), "%s", b);
	return e;
}

/* PENDING_LIST from the start (@max per page, following "more"); fills @out[]. */
static int pend_list(struct chk_store *st, uint32_t max, struct proto_batch_ent *out, int cap)
{
	struct proto_scan_req q = { .max = max };
	int n = 0;
	bool more = true;

	while (more) {
		struct proto_wr w;
		struct proto_rd r;
		int rc;

		proto_wr_init(&w);
		assert_int_equal(chk_store_pending_list(st, &q, &w), 0);
		assert_int_equal(proto_page_begin(&r, w.buf, w.len, &more), 0);
		while ((rc = proto_pending_page_next(&r, &out[n])) == 1) {
			assert_true(n + 1 < cap);
			n++;
		}
		assert_int_equal(rc, 0);
		if (more) {
			q.flags = PROTO_LIST_AFTER;
			q.start_len = (uint16_t)proto_key_encode(&out[n - 1].key, q.start);
		}
		proto_wr_free(&w);
	}
	return n;
}

static void test_store_pending_roundtrip(void **state)
{
	struct fx *f = *state;
	struct proto_batch_ent *got = calloc(16, sizeof(*got)), e;
	struct proto_key k1 = chunk_key(5, 1), k2 = chunk_key(5, 2), k3;
	bool removed;

	assert_non_null(got);
	proto_key_inode(&k3, 9);
	e = pend_ent(&k1, "c", NULL);
	assert_int_equal(chk_store_pending_add(f->st, &e, 100), 0);
	e = pend_ent(&k2, "b", "c");
	assert_int_equal(chk_store_pending_add(f->st, &e, 101), 0);
	e = pend_ent(&k3, "c", NULL);
	assert_int_equal(chk_store_pending_add(f->st, &e, 102), 0);
	/* a second miss of k1 by another replica: names united, stamp moves on */
	e = pend_ent(&k1, "b", "c");
	assert_int_equal(chk_store_pending_add(f->st, &e, 103), 0);
	e.nmissed = 0;
	assert_int_equal(chk_store_pending_add(f->st, &e, 104), -EINVAL);

	assert_int_equal(pend_list(f->st, 1, got, 16), 3); /* one per page */
	assert_true(proto_key_equal(&got[0].key, &k3)); /* key order: inode first */
	assert_true(proto_key_equal(&got[1].key, &k1));
	assert_int_equal(got[1].stamp, 103);
	assert_int_equal(got[1].nmissed, 2);
	assert_string_equal(got[1].missed[0], "b");
	assert_string_equal(got[1].missed[1], "c");
	assert_int_equal(got[2].stamp, 101);

	/* durable across a reopen */
	chk_store_close(f->st);
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	assert_int_equal(pend_list(f->st, 100, got, 16), 3);

	/* deleted only with a stamp that is not older than the entry's */
	assert_int_equal(chk_store_pending_del(f->st, &k1, 102, &removed), 0);
	assert_false(removed);
	assert_int_equal(chk_store_pending_del(f->st, &k1, 103, &removed), 0);
	assert_true(removed);
	assert_int_equal(chk_store_pending_del(f->st, &k1, 103, &removed), 0);
	assert_false(removed);
	assert_int_equal(chk_store_pending_del(f->st, &k2, UINT64_MAX, &removed), 0);
	assert_true(removed);
	assert_int_equal(pend_list(f->st, 100, got, 16), 1);
	assert_true(proto_key_equal(&got[0].key, &k3));
	free(got);
}

/* Count SCAN entries of the whole store. */
static int scan_count(struct chk_store *st)
{
	struct proto_scan_req q = { .max = PROTO_LIST_MAX_ENTRIES };
	struct proto_entry e;
	struct proto_wr w;
	struct proto_rd r;
	bool more;
	int n = 0;

	proto_wr_init(&w);
	assert_int_equal(chk_store_scan(st, &q, &w), 0);
	assert_int_equal(proto_page_begin(&r, w.buf, w.len, &more), 0);
	while (proto_page_next(&r, false, &e) == 1)
		n++;
	proto_wr_free(&w);
	return n;
}

static void test_store_tomb_confirm_purge(void **state)
{
	struct fx *f = *state;
	struct proto_key k1 = chunk_key(7, 0), k2 = chunk_key(7, 1), k3 = chunk_key(7, 2);
	struct proto_version v;
	struct proto_stat_rep sr;
	struct proto_meta m;
	uint8_t data[20000];
	bool done;

	fill(data, sizeof(data), 3);
	assert_int_equal(put_rec(f->st, &k1, 10, data, sizeof(data), false, NULL), 0);
	assert_int_equal(put_tomb(f->st, &k1, 20), 0);
	assert_int_equal(put_rec(f->st, &k2, 10, data, 100, false, NULL), 0);
	assert_int_equal(put_tomb(f->st, &k3, 30), 0);
	assert_int_equal(scan_count(f->st), 3);

	/* PURGE refuses a live record, a different version, an absent key */
	v = V(10);
	assert_int_equal(chk_store_purge(f->st, &k2, &v, &done), 0);
	assert_false(done);
	v = V(19);
	assert_int_equal(chk_store_purge(f->st, &k1, &v, &done), 0);
	assert_false(done);
	v.writer = WRITER + 1;
	v.hlc = 20;
	assert_int_equal(chk_store_purge(f->st, &k1, &v, &done), 0);
	assert_false(done);
	assert_int_equal(chk_store_head(f->st, &k1, &m), 0);
	assert_true(m.flags & PROTO_REC_TOMBSTONE);

	/* confirm marks only the exact tombstone */
	v = V(10);
	assert_int_equal(chk_store_tomb_confirm(f->st, &k2, &v, &done), 0);
	assert_false(done);
	v = V(30);
	assert_int_equal(chk_store_tomb_confirm(f->st, &k3, &v, &done), 0);
	assert_true(done);

	/* exact version: gone */
	v = V(20);
	assert_int_equal(chk_store_purge(f->st, &k1, &v, &done), 0);
	assert_true(done);
	assert_int_equal(chk_store_head(f->st, &k1, &m), -ENOENT);
	assert_int_equal(chk_store_stat(f->st, &sr), 0);
	assert_int_equal(sr.tombstones, 1);
	assert_int_equal(scan_count(f->st), 2);
	/* the purge and the counters are durable */
	chk_store_close(f->st);
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	assert_int_equal(chk_store_stat(f->st, &sr), 0);
	assert_int_equal(sr.tombstones, 1);
}

static void test_store_tomb_gc(void **state)
{
	struct fx *f = *state;
	uint64_t now = proto_wall_ms();
	uint64_t old = PROTO_HLC_MAKE(now - 10000, 0), young = PROTO_HLC_MAKE(now - 100, 0);
	struct proto_key ka = chunk_key(8, 0), kb = chunk_key(8, 1), kc = chunk_key(8, 2),
			 kd = chunk_key(8, 3);
	struct proto_version v;
	struct proto_meta m;
	unsigned purged;
	bool done, more;

	assert_int_equal(put_tomb(f->st, &ka, old), 0);
	assert_int_equal(put_tomb(f->st, &kb, old + 1), 0);
	assert_int_equal(put_tomb(f->st, &kc, young), 0);
	assert_int_equal(put_tomb(f->st, &kd, old + 2), 0); /* never confirmed */
	v = V(old);
	assert_int_equal(chk_store_tomb_confirm(f->st, &ka, &v, &done), 0);
	v = V(old + 1);
	assert_int_equal(chk_store_tomb_confirm(f->st, &kb, &v, &done), 0);
	v = V(young);
	assert_int_equal(chk_store_tomb_confirm(f->st, &kc, &v, &done), 0);
	/* kb is written over after its confirmation: the confirmation is stale */
	assert_int_equal(put_rec(f->st, &kb, old + 5, "x", 1, false, NULL), 0);

	/* grace 5 s: ka goes, kb stays (live now), kc is too young, kd unconfirmed */
	assert_int_equal(chk_store_tomb_gc(f->st, now, 5000, 1, &purged, &more), 0);
	assert_int_equal(purged, 1);
	assert_true(more); /* the bound of 1 stopped it before kb's stale entry */
	assert_int_equal(chk_store_tomb_gc(f->st, now, 5000, 100, &purged, &more), 0);
	assert_int_equal(purged, 0);
	assert_false(more);
	assert_int_equal(chk_store_head(f->st, &ka, &m), -ENOENT);
	assert_int_equal(chk_store_head(f->st, &kb, &m), 0);
	assert_false(m.flags & PROTO_REC_TOMBSTONE);
	assert_int_equal(chk_store_head(f->st, &kc, &m), 0);
	assert_int_equal(chk_store_head(f->st, &kd, &m), 0);

	/* a tiny grace: kc goes too; kd was never confirmed and stays */
	assert_int_equal(chk_store_tomb_gc(f->st, now + 1000, 500, 100, &purged, &more), 0);
	assert_int_equal(purged, 1);
	assert_int_equal(chk_store_head(f->st, &kc, &m), -ENOENT);
	assert_int_equal(chk_store_head(f->st, &kd, &m), 0);
	assert_int_equal(scan_count(f->st), 2);
}

static void test_store_alive_stamp(void **state)
{
	struct fx *f = *state;

	assert_int_equal(chk_store_alive_prev(f->st), 0); /* a new store */
	assert_int_equal(chk_store_alive(f->st, 123456789), 0);
	assert_int_equal(chk_store_alive_prev(f->st), 0); /* what open found */
	chk_store_close(f->st);
	f->st = open_store(f->dir, CHK_SYNC_COMMIT, 0);
	assert_int_equal(chk_store_alive_prev(f->st), 123456789);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_put_get_merge, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_pending_roundtrip, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_tomb_confirm_purge, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_tomb_gc, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_alive_stamp, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_inode_merge, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_get_range, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_patch_outcomes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_patch_creates, fx_setup_always,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_inline_chunks, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_list_paging, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_tombstone_frees_body, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_digest, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_digest_random, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_capacity, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_corrupt_body, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_patch_checks_old_block, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_super_volume, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_rebuilding, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_reopen_and_wipe, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_format_upgrade, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_batch_failure_isolated,
						fx_setup_always, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_map_full_undoes_patch, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_none_mode, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_kill_mid_patch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_reboot_rolls_back, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_kill_keeps_unsynced, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_reboot_async_sync, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_store_readers_race_writer, fx_setup,
						fx_teardown),
	};

	qlog_init("test_store", false, getenv("QFS_TEST_DEBUG") ? QLOG_DEBUG : QLOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
