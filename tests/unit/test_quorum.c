// SPDX-License-Identifier: MIT
/*
 * test_quorum.c - unit tests of fs/quorum*.c over the simulated cluster of
 * sim_transport.c (real codec, real merge, real delays on the simulator's
 * thread): PUT at exactly W acks and -EIO within the deadline, GET of the
 * newest version with blocking read-repair, hedged fallback, ENOENT, INODE
 * register merge, PATCH's four outcomes, LIST merge-join across replicas
 * whose pages end at different keys, rebuilding replicas not counted, clock
 * skew refused at open, requests placed by a stale layout refused
 * (STALE_LAYOUT), refreshed and retried once. Default cluster: N=3, W=2,
 * R=2, 1 s deadline.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs/call.h"
#include "fs/layout.h"
#include "fs/quorum.h"
#include "fs/ring.h"
#include "proto/layout.h"
#include "proto/log.h"
#include "tests/unit/sim_transport.h"

#define TIMEOUT_MS 1000
#define MARGIN_MS 300

struct fx {
	struct qfs_cluster *cl;
	struct sim *s;
	struct qfs_quorum *q;
	struct qfs_ring *ring;
};

/* Set up the simulator; open the quorum unless @open is false. */
static void fx_init(struct fx *f, int nd, unsigned n, unsigned w, unsigned r)
{
	memset(f, 0, sizeof(*f));
	f->cl = sim_cluster(nd, n, w, r, TIMEOUT_MS);
	assert_int_equal(sim_new(nd, &f->s), 0);
	assert_int_equal(qfs_ring_build(f->cl, &f->ring), 0);
}

static void fx_open(struct fx *f)
{
	char err[256] = "";

	assert_int_equal(qfs_quorum_open_transport(f->cl, NULL, sim_transport(f->s), &f->q, err,
						   sizeof(err)),
			 0);
	sim_reset_counts(f->s);
}

static void fx_fini(struct fx *f)
{
	qfs_quorum_close(f->q);
	sim_free(f->s);
	qfs_ring_free(f->ring);
	free(f->cl);
}

/* Replicas of @key in preference order. */
static void order_of(struct fx *f, const struct proto_key *key, int *order)
{
	assert_int_equal(qfs_ring_place(f->ring, proto_key_token(key), order, (int)f->cl->n),
			 (int)f->cl->n);
}

static uint64_t ms_since(uint64_t t0)
{
	return (qfs_now_ns() - t0) / 1000000;
}

static struct proto_version ver(unsigned k)
{
	/* a second in the past, k ms apart: ordered, within any skew bound */
	struct proto_version v = { PROTO_HLC_MAKE(proto_wall_ms() / 1000 * 1000 - 1000 + k, 0),
				   0x1234 };

	return v;
}

static struct proto_meta meta_of(struct proto_version v, uint32_t len)
{
	struct proto_meta m = { .ver = v, .len = len };

	return m;
}

static uint8_t *pattern(uint32_t len, uint8_t seed)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 9));
	return p;
}

static bool holds(struct fx *f, int i, const struct proto_key *key, struct proto_version v)
{
	struct proto_meta m;

	if (sim_get(f->s, i, key, &m, NULL))
		return false;
	return proto_version_cmp(&m.ver, &v) == 0;
}

/* ---- PUT ---- */

static void test_quorum_put_exact_w(void **state)
{
	struct proto_key key;
	struct fx f;
	int order[3];
	uint32_t len = 200000;
	uint8_t *val = pattern(len, 1);
	struct proto_meta m;
	uint64_t t0;

	(void)state;
	fx_init(&f, 3, 3, 2, 2);
	fx_open(&f);
	proto_key_chunk(&key, 7, 0);
	order_of(&f, &key, order);

	/* N - W replicas never answer: success on exactly the W others */
	sim_set_drop(f.s, order[1], true);
	m = meta_of(qfs_quorum_version(f.q), len);
	t0 = qfs_now_ns();
	assert_int_equal(qfs_quorum_put(f.q, &key, &m, val), 0);
	assert_true(ms_since(t0) < TIMEOUT_MS / 2);
	assert_true(holds(&f, order[0], &key, m.ver));
	assert_true(holds(&f, order[2], &key, m.ver));
	assert_false(holds(&f, order[1], &key, m.ver));
	sim_set_drop(f.s, order[1], false);

	/* a slow replica: the put returns before it, which completes later */
	sim_set_delay(f.s, order[2], 600);
	m = meta_of(qfs_quorum_version(f.q), len);
	t0 = qfs_now_ns();
	assert_int_equal(qfs_quorum_put(f.q, &key, &m, val), 0);
	assert_true(ms_since(t0) < 400);
	assert_false(holds(&f, order[2], &key, m.ver));
	usleep(800 * 1000);
	assert_true(holds(&f, order[2], &key, m.ver));

	free(val);
	fx_fini(&f);
}

static void test_quorum_put_fails_within_deadline(void **state)
{
	struct proto_key key;
	struct proto_meta m;
	struct fx f;
	int order[3];
	uint8_t val[100] = { 1, 2, 3 };
	uint64_t t0, el;

	(void)state;
	fx_init(&f, 3, 3, 2, 2);
	fx_open(&f);
	proto_key_chunk(&key, 8, 1);
	order_of(&f, &key, order);

	/* two replicas drop: -EIO at the deadline, not later */
	sim_set_drop(f.s, order[0], true);
	sim_set_drop(f.s, order[2], true);
	m = meta_of(qfs_quorum_version(f.q), sizeof(val));
	t0 = qfs_now_ns();
	assert_int_equal(qfs_quorum_put(f.q, &key, &m, val), -EIO);
	el = ms_since(t0);
	assert_true(el >= TIMEOUT_MS - 50);
	assert_true(el < TIMEOUT_MS + MARGIN_MS);

	/* two replicas down (suspect): -EIO at once */
	sim_set_drop(f.s, order[0], false);
	sim_set_drop(f.s, order[2], false);
	sim_set_dead(f.s, order[0], true);
	sim_set_dead(f.s, order[1], true);
	t0 = qfs_now_ns();
	assert_int_equal(qfs_quorum_put(f.q, &key, &m, val), -EIO);
	assert_true(ms_since(t0) < 100);
	sim_set_dead(f.s, order[0], false);
	sim_set_dead(f.s, order[1], false);

	/* full replicas: -ENOSPC */
	sim_set_nospc(f.s, order[0], true);
	sim_set_nospc(f.s, order[1], true);
	assert_int_equal(qfs_quorum_put(f.q, &key, &m, val), -ENOSPC);

	fx_fini(&f);
}

/* ---- GET ---- */

static void test_quorum_get_newest_repairs_before_return(void **state)
{
	struct proto_key key;
	struct proto_meta m1, m2, got;
	struct qfs_rec rec;
	struct fx f;
	int order[3];
	uint32_t len = 300000;
	uint8_t *v1 = pattern(len, 1), *v2 = pattern(len, 2), *stored = NULL;

	(void)state;
	fx_init(&f, 3, 3, 2, 2);
	fx_open(&f);
	proto_key_chunk(&key, 9, 3);
	order_of(&f, &key, order);

	/* the replica asked for data is stale; one asked for HEAD is newest */
	m1 = meta_of(ver(1), len);
	m2 = meta_of(ver(2), len);
	assert_int_equal(sim_put(f.s, order[0], &key, &m1, v1), 0);
	assert_int_equal(sim_put(f.s, order[1], &key, &m2, v2), 0);
	assert_int_equal(sim_put(f.s, order[2], &key, &m2, v2), 0);
	sim_set_delay(f.s, order[2], 700); /* the third is not needed */

	assert_int_equal(qfs_quorum_get(f.q, &key, 70000, 10000, &rec), 0);
	assert_int_equal(proto_version_cmp(&rec.meta.ver, &m2.ver), 0);
	assert_int_equal(rec.off, 70000);
	assert_int_equal(rec.val_len, 10000);
	assert_memory_equal(rec.val, v2 + 70000, 10000);
	qfs_rec_free(&rec);

	/* blocking read-repair: the stale replica holds the newest already */
	assert_int_equal(sim_get(f.s, order[0], &key, &got, &stored), 0);
	assert_int_equal(proto_version_cmp(&got.ver, &m2.ver), 0);
	assert_memory_equal(stored, v2, len);
	free(stored);

	/* a range past the end is empty; a whole read gets everything */
	assert_int_equal(qfs_quorum_get(f.q, &key, len + 10, 100, &rec), 0);
	assert_int_equal(rec.val_len, 0);
	qfs_rec_free(&rec);
	assert_int_equal(qfs_quorum_get(f.q, &key, 0, PROTO_GET_WHOLE, &rec), 0);
	assert_int_equal(rec.val_len, len);
	assert_memory_equal(rec.val, v2, len);
	qfs_rec_free(&rec);

	free(v1);
	free(v2);
	fx_fini(&f);
}

static void test_quorum_get_falls_back_to_third(void **state)
{
	struct proto_key key;
	struct proto_meta m;
	struct qfs_rec rec;
	struct fx f;
	int order[3];
	uint8_t val[5000];
	uint64_t t0;

	(void)state;
	memset(val, 0x5a, sizeof(val));
	fx_init(&f, 3, 3, 2, 2);
	fx_open(&f);
	proto_key_chunk(&key, 10, 0);
	order_of(&f, &key, order);
	m = meta_of(ver(5), sizeof(val));
	for (int i = 0; i < 3; i++)
		assert_int_equal(sim_put(f.s, i, &key, &m, val), 0);

	/* the data replica never answers: the third one is asked (hedge) */
	sim_set_drop(f.s, order[0], true);
	t0 = qfs_now_ns();
	assert_int_equal(qfs_quorum_get(f.q, &key, 0, PROTO_GET_WHOLE, &rec), 0);
	assert_true(ms_since(t0) < TIMEOUT_MS);
	assert_int_equal(rec.val_len, sizeof(val));
	assert_memory_equal(rec.val, val, sizeof(val));
	qfs_rec_free(&rec);
	assert_true(sim_count(f.s, order[2], 0) >= 1);
	sim_set_drop(f.s, order[0], false);

	/* a suspect replica is replaced at once */
	sim_set_dead(f.s, order[1], true);
	t0 = qfs_now_ns();
	assert_int_equal(qfs_quorum_get(f.q, &key, 0, 100, &rec), 0);
	assert_true(ms_since(t0) < 100);
	assert_int_equal(rec.val_len, 100);
	qfs_rec_free(&rec);

	/* only one replica left: -EIO within the deadline */
	sim_set_dead(f.s, order[0], true);
	t0 = qfs_now_ns();
	assert_int_equal(qfs_quorum_get(f.q, &key, 0, 100, &rec), -EIO);
	assert_true(ms_since(t0) < TIMEOUT_MS + MARGIN_MS);

	fx_fini(&f);
}

static void test_quorum_get_enoent_and_tombstone(void **state)
{
	struct proto_key key;
	struct proto_meta m;
	struct qfs_rec rec;
	struct fx f;
	int order[3];

	(void)state;
	fx_init(&f, 3, 3, 2, 2);
	fx_open(&f);
	assert_int_equal(proto_key_dirent(&key, 1, "nothing", 7), 0);
	assert_int_equal(qfs_quorum_get(f.q, &key, 0, PROTO_GET_WHOLE, &rec), -ENOENT);

	/* one replica with a tombstone: returned as such, and spread */
	order_of(&f, &key, order);
	m = meta_of(ver(3), 0);
	m.flags = PROTO_REC_TOMBSTONE;
	assert_int_equal(sim_put(f.s, order[1], &key, &m, NULL), 0);
	assert_int_equal(qfs_quorum_get(f.q, &key, 0, PROTO_GET_WHOLE, &rec), 0);
	assert_true(rec.meta.flags & PROTO_REC_TOMBSTONE);
	assert_null(rec.val);
	qfs_rec_free(&rec);
	assert_true(holds(&f, order[0], &key, m.ver));

	/* a corrupt copy counts as missing and is repaired */
	{
		struct proto_key ck;
		struct proto_meta cm = meta_of(ver(4), 3000);
		uint8_t *v = pattern(3000, 9);

		proto_key_chunk(&ck, 11, 2);
		order_of(&f, &ck, order);
		for (int i = 0; i < 3; i++)
			assert_int_equal(sim_put(f.s, i, &ck, &cm, v), 0);
		sim_set_corrupt(f.s, order[0], &ck, true);
		sim_set_dead(f.s, order[2], true);
		assert_int_equal(qfs_quorum_get(f.q, &ck, 0, PROTO_GET_WHOLE, &rec), 0);
		assert_memory_equal(rec.val, v, 3000);
		qfs_rec_free(&rec);
		/* repaired: a second read needs no repair and the copy is good */
		assert_int_equal(qfs_quorum_get(f.q, &ck, 0, PROTO_GET_WHOLE, &rec), 0);
		qfs_rec_free(&rec);
		free(v);
	}
	fx_fini(&f);
}

static void put_inode(struct fx *f, int i, const struct proto_key *key,
		      const struct proto_inode *ino)
{
	struct proto_wr w;
	struct proto_meta m;

	proto_wr_init(&w);
	proto_inode_encode(&w, ino);
	assert_false(w.bad);
	proto_inode_meta(ino, w.buf, (uint32_t)w.len, &m);
	assert_int_equal(sim_put(f->s, i, key, &m, w.buf), 0);
	proto_wr_free(&w);
}

static void get_inode(struct fx *f, int i, const struct proto_key *key, struct proto_inode *ino)
{
	struct proto_meta m;
	uint8_t *v = NULL;

	assert_int_equal(sim_get(f->s, i, key, &m, &v), 0);
	assert_int_equal(proto_inode_decode(v, m.len, ino), 0);
	free(v);
}

static void test_quorum_get_inode_merge(void **state)
{
	struct proto_inode base, a, b, got;
	struct proto_key key;
	struct qfs_rec rec;
	struct fx f;
	int order[3];

	(void)state;
	fx_init(&f, 3, 3, 2, 2);
	fx_open(&f);
	proto_key_inode(&key, 77);
	order_of(&f, &key, order);

	memset(&base, 0, sizeof(base));
	base.attr_ver = base.atime_ver = base.mtime_ver = base.size_ver = base.parent_ver = ver(10);
	base.mode = 0100644;
	base.mtime_sec = 100;
	base.size = 10;
	base.parent = 1;
	a = base;		/* chmod: newer attributes */
	a.attr_ver = ver(20);
	a.mode = 0100600;
	b = base;		/* write: newer times and size */
	b.mtime_ver = ver(30);
	b.mtime_sec = 300;
	b.size_ver = ver(30);
	b.size = 5000;
	put_inode(&f, order[0], &key, &a);
	put_inode(&f, order[1], &key, &b);
	put_inode(&f, order[2], &key, &base);

	assert_int_equal(qfs_quorum_get(f.q, &key, 0, PROTO_GET_WHOLE, &rec), 0);
	assert_int_equal(proto_inode_decode(rec.val, rec.val_len, &got), 0);
	assert_int_equal(got.mode, 0100600);
	assert_int_equal(got.mtime_sec, 300);
	assert_int_equal(got.size, 5000);
	qfs_rec_free(&rec);

	/* both asked replicas now hold the merged inode */
	for (int k = 0; k < 2; k++) {
		get_inode(&f, order[k], &key, &got);
		assert_int_equal(got.mode, 0100600);
		assert_int_equal(got.mtime_sec, 300);
		assert_int_equal(got.size, 5000);
	}
	fx_fini(&f);
}

/* ---- PATCH ---- */

static void test_quorum_patch_outcomes(void **state)
{
	struct proto_version v0, v1, v2, v9, stored;
	struct proto_key key;
	struct proto_meta m, got;
	struct fx f;
	int order[3];
	uint32_t len = 150000;
	uint8_t *base = pattern(len, 3), *val = NULL;
	uint8_t patch[4096];

	(void)state;
	memset(patch, 0xee, sizeof(patch));
	fx_init(&f, 3, 3, 2, 2);
	fx_open(&f);
	proto_key_chunk(&key, 12, 0);
	order_of(&f, &key, order);
	v0 = ver(1);
	v1 = ver(2);
	v2 = ver(3);
	v9 = ver(9);
	m = meta_of(v1, len);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sim_put(f.s, i, &key, &m, base), 0);

	/* 1. applied */
	assert_int_equal(qfs_quorum_patch(f.q, &key, &v1, &v2, 0, 66000, patch, sizeof(patch),
					  &stored),
			 0);
	assert_int_equal(sim_get(f.s, order[0], &key, &got, &val), 0);
	assert_int_equal(proto_version_cmp(&got.ver, &v2), 0);
	assert_memory_equal(val + 66000, patch, sizeof(patch));
	assert_memory_equal(val, base, 66000);
	free(val);

	/* 2. already applied (a retry) */
	assert_int_equal(qfs_quorum_patch(f.q, &key, &v1, &v2, 0, 66000, patch, sizeof(patch),
					  &stored),
			 0);

	/* 3. a stale replica is repaired, then counted (the third is down) */
	m = meta_of(v0, len);
	assert_int_equal(sim_put(f.s, order[1], &key, &m, base), 0);
	{
		/* sim_put merges nothing: reset order[1] to the older version */
		struct proto_meta check;

		assert_int_equal(sim_get(f.s, order[1], &key, &check, NULL), 0);
		assert_int_equal(proto_version_cmp(&check.ver, &v0), 0);
	}
	m = meta_of(v2, len);
	sim_set_dead(f.s, order[2], true);
	{
		struct proto_version v3 = ver(4);

		assert_int_equal(qfs_quorum_patch(f.q, &key, &v2, &v3, 0, 10, patch, 100, &stored),
				 0);
		assert_true(holds(&f, order[1], &key, v3));
		assert_int_equal(sim_get(f.s, order[1], &key, &got, &val), 0);
		assert_memory_equal(val + 10, patch, 100);
		assert_memory_equal(val + 66000, patch, sizeof(patch));
		free(val);
	}
	sim_set_dead(f.s, order[2], false);

	/* 4. a concurrent writer got there first: -ESTALE with its version */
	m = meta_of(v9, len);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sim_put(f.s, i, &key, &m, base), 0);
	memset(&stored, 0, sizeof(stored));
	assert_int_equal(qfs_quorum_patch(f.q, &key, &v2, &(struct proto_version){ ver(10).hlc, 5 },
					  0, 0, patch, 10, &stored),
			 -ESTALE);
	assert_int_equal(proto_version_cmp(&stored, &v9), 0);

	free(base);
	fx_fini(&f);
}

/* ---- LIST ---- */

struct collect {
	int n;
	char names[128][PROTO_NAME_MAX + 1];
	uint32_t flags[128];
};

static int collect_fn(void *arg, const struct proto_entry *e)
{
	struct collect *c = arg;

	assert_true(c->n < 128);
	snprintf(c->names[c->n], sizeof(c->names[0]), "%s", e->key.name);
	c->flags[c->n] = e->meta.flags;
	c->n++;
	return 0;
}

static void test_quorum_list_merge_paging(void **state)
{
	struct collect all = { 0 }, paged = { 0 };
	uint8_t last[PROTO_KEY_MAX];
	size_t last_len = 0;
	struct proto_key key;
	struct fx f;
	int order[3], nexpect = 0;
	bool more;
	uint64_t dir = 4242;

	(void)state;
	fx_init(&f, 3, 3, 2, 2);
	fx_open(&f);
	proto_key_inode(&key, dir);
	order_of(&f, &key, order);
	sim_set_dead(f.s, order[2], true); /* the two others are the read set */
	sim_set_page_max(f.s, order[0], 3);
	sim_set_page_max(f.s, order[1], 5);

	/* 40 entries: some on one replica only, some tombstoned on one */
	for (int i = 0; i < 40; i++) {
		char name[16];
		struct proto_dirent de = { .ino = 1000 + (uint64_t)i, .type = 8 };
		struct proto_wr w;
		struct proto_meta m;

		snprintf(name, sizeof(name), "f%02d", i);
		assert_int_equal(proto_key_dirent(&key, dir, name, strlen(name)), 0);
		proto_wr_init(&w);
		proto_dirent_encode(&w, &de);
		m = meta_of(ver(10), (uint32_t)w.len);
		if (i % 5 != 1)
			assert_int_equal(sim_put(f.s, order[0], &key, &m, w.buf), 0);
		if (i % 7 != 2 || i % 5 == 1)	/* every entry on one replica at least */
			assert_int_equal(sim_put(f.s, order[1], &key, &m, w.buf), 0);
		if (i % 6 == 0) {
			struct proto_meta t = meta_of(ver(20), 0);

			t.flags = PROTO_REC_TOMBSTONE;
			assert_int_equal(sim_put(f.s, order[i % 12 ? 0 : 1], &key, &t, NULL), 0);
		}
		proto_wr_free(&w);
		nexpect++;
	}
	/* an inode record too, filtered out by kind */
	{
		struct proto_key ik;
		struct proto_meta m = meta_of(ver(1), 4);

		proto_key_inode(&ik, dir);
		assert_int_equal(sim_put(f.s, order[0], &ik, &m, "abcd"), 0);
	}

	assert_int_equal(qfs_quorum_list(f.q, dir, PROTO_KIND_DIRENT, NULL, 0, false, 0,
					 collect_fn, &all, &more),
			 0);
	assert_false(more);
	assert_int_equal(all.n, nexpect);
	for (int i = 0; i < all.n; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%02d", i);
		/* DIRENT keys sort by name hash, so compare as a set */
		bool found = false;

		for (int k = 0; k < all.n; k++)
			found |= strcmp(all.names[k], name) == 0;
		assert_true(found);
	}
	for (int i = 0; i < all.n; i++) {
		int idx = atoi(all.names[i] + 1);

		assert_int_equal(!!(all.flags[i] & PROTO_REC_TOMBSTONE), idx % 6 == 0);
	}

	/* the same walk in pages of 7, resuming after the last key */
	for (int round = 0; round < 20; round++) {
		struct collect part = { 0 };

		assert_int_equal(qfs_quorum_list(f.q, dir, PROTO_KIND_DIRENT,
						 last_len ? last : NULL, last_len, true, 7,
						 collect_fn, &part, &more),
				 0);
		assert_true(part.n <= 7);
		for (int i = 0; i < part.n; i++) {
			memcpy(paged.names[paged.n], part.names[i], sizeof(part.names[i]));
			paged.n++;
		}
		if (part.n) {
			assert_int_equal(proto_key_dirent(&key, dir, part.names[part.n - 1],
							  strlen(part.names[part.n - 1])),
					 0);
			last_len = proto_key_encode(&key, last);
		}
		if (!more)
			break;
		assert_int_equal(part.n, 7);
	}
	assert_int_equal(paged.n, all.n);
	for (int i = 0; i < all.n; i++)
		assert_string_equal(paged.names[i], all.names[i]);

	/* background repair: both read replicas end up with every entry */
	usleep(200 * 1000);
	for (int i = 0; i < 40; i++) {
		char name[16];
		struct proto_meta m0, m1;

		snprintf(name, sizeof(name), "f%02d", i);
		assert_int_equal(proto_key_dirent(&key, dir, name, strlen(name)), 0);
		assert_int_equal(sim_get(f.s, order[0], &key, &m0, NULL), 0);
		assert_int_equal(sim_get(f.s, order[1], &key, &m1, NULL), 0);
		assert_int_equal(proto_lww_cmp(&m0, &m1), 0);
	}
	fx_fini(&f);
}

/* A tombstone version @age_ms old. */
static struct proto_meta tomb_aged(uint64_t age_ms)
{
	struct proto_meta m = { .flags = PROTO_REC_TOMBSTONE };

	m.ver.hlc = PROTO_HLC_MAKE(proto_wall_ms() - age_ms, 0);
	m.ver.writer = 0x99;
	return m;
}

/*
 * Read-repair never writes a tombstone older than the grace back to a
 * replica that holds nothing (it may have collected it), by GET and by
 * LIST; a replica holding an older live record still gets it, and a young
 * tombstone is still spread.
 */
static void test_quorum_read_repair_spares_collected_tombstone(void **state)
{
	struct proto_meta old = tomb_aged(2 * 3600 * 1000), young = tomb_aged(1000);
	struct proto_meta live = meta_of(ver(1), 0);
	struct proto_key key, gone, fresh;
	struct collect all = { 0 };
	struct qfs_rec rec;
	struct fx f;
	int order[3], porder[3];
	uint64_t dir = 777;
	bool more;

	(void)state;
	fx_init(&f, 3, 3, 2, 2);
	fx_open(&f); /* default grace: QFS_TOMB_GRACE_DEFAULT_S (1 h) */

	/* GET: an old tombstone on the first replica, nothing on the others */
	assert_int_equal(proto_key_xattr(&key, 5, "user.a", 6), 0);
	order_of(&f, &key, order);
	assert_int_equal(sim_put(f.s, order[0], &key, &old, NULL), 0);
	assert_int_equal(qfs_quorum_get(f.q, &key, 0, PROTO_GET_WHOLE, &rec), 0);
	assert_true(rec.meta.flags & PROTO_REC_TOMBSTONE);
	qfs_rec_free(&rec);
	usleep(200 * 1000);
	assert_int_equal(sim_get(f.s, order[1], &key, &rec.meta, NULL), -ENOENT);
	assert_int_equal(sim_get(f.s, order[2], &key, &rec.meta, NULL), -ENOENT);
	assert_int_equal(sim_count(f.s, order[1], PROTO_OP_PUT), 0);

	/* an older live copy on the second replica is still overwritten */
	live.ver.hlc = old.ver.hlc - PROTO_HLC_MAKE(1000, 0);
	assert_int_equal(sim_put(f.s, order[1], &key, &live, NULL), 0);
	assert_int_equal(qfs_quorum_get(f.q, &key, 0, PROTO_GET_WHOLE, &rec), 0);
	assert_true(rec.meta.flags & PROTO_REC_TOMBSTONE);
	qfs_rec_free(&rec);
	assert_true(holds(&f, order[1], &key, old.ver));

	/* LIST: the old tombstone stays where it is, a young one spreads */
	assert_int_equal(proto_key_dirent(&gone, dir, "gone", 4), 0);
	assert_int_equal(proto_key_dirent(&fresh, dir, "fresh", 5), 0);
	order_of(&f, &gone, porder);
	assert_int_equal(sim_put(f.s, porder[0], &gone, &old, NULL), 0);
	assert_int_equal(sim_put(f.s, porder[0], &fresh, &young, NULL), 0);
	sim_reset_counts(f.s);
	assert_int_equal(qfs_quorum_list(f.q, dir, PROTO_KIND_DIRENT, NULL, 0, false, 0,
					 collect_fn, &all, &more),
			 0);
	assert_int_equal(all.n, 2);
	usleep(200 * 1000);
	assert_true(holds(&f, porder[1], &fresh, young.ver));
	assert_int_equal(sim_get(f.s, porder[1], &gone, &rec.meta, NULL), -ENOENT);
	assert_int_equal(sim_get(f.s, porder[2], &gone, &rec.meta, NULL), -ENOENT);
	fx_fini(&f);
}

/* LIST: the walk's callback kills a replica once the first entry is out. */
struct kill_after {
	struct collect col;
	struct sim *s;
	int victim;
};

static int kill_after_fn(void *arg, const struct proto_entry *e)
{
	struct kill_after *k = arg;

	if (k->col.n == 0)
		sim_set_dead(k->s, k->victim, true);
	return collect_fn(&k->col, e);
}

/*
 * LIST paging fails over: a read replica that dies after its first page is
 * replaced by the third from its last key on, and the walk still emits
 * every entry exactly once, in key order.
 */
static void test_quorum_list_failover_after_first_page(void **state)
{
	struct kill_after k = { 0 };
	struct collect ref = { 0 };
	struct proto_key key;
	struct fx f;
	int order[3];
	uint64_t dir = 5151;
	bool more;

	(void)state;
	fx_init(&f, 3, 3, 2, 2);
	fx_open(&f);
	proto_key_inode(&key, dir);
	order_of(&f, &key, order);
	for (int i = 0; i < 3; i++)
		sim_set_page_max(f.s, i, 4);
	for (int i = 0; i < 30; i++) {
		char name[16];
		struct proto_dirent de = { .ino = 2000 + (uint64_t)i, .type = 8 };
		struct proto_wr w;
		struct proto_meta m;

		snprintf(name, sizeof(name), "e%02d", i);
		assert_int_equal(proto_key_dirent(&key, dir, name, strlen(name)), 0);
		proto_wr_init(&w);
		proto_dirent_encode(&w, &de);
		m = meta_of(ver(10), (uint32_t)w.len);
		for (int r = 0; r < 3; r++)
			/* entries 0..9 only on the first read replica and the spare */
			if (r != 1 || i >= 10)
				assert_int_equal(sim_put(f.s, order[r], &key, &m, w.buf), 0);
		proto_wr_free(&w);
	}
	assert_int_equal(qfs_quorum_list(f.q, dir, PROTO_KIND_DIRENT, NULL, 0, false, 0,
					 collect_fn, &ref, &more),
			 0);
	assert_int_equal(ref.n, 30);

	/* the first read replica dies once its first page was merged */
	k.s = f.s;
	k.victim = order[0];
	sim_reset_counts(f.s);
	assert_int_equal(qfs_quorum_list(f.q, dir, PROTO_KIND_DIRENT, NULL, 0, false, 0,
					 kill_after_fn, &k, &more),
			 0);
	assert_false(more);
	assert_int_equal(k.col.n, 30);
	for (int i = 0; i < 30; i++)
		assert_string_equal(k.col.names[i], ref.names[i]);
	assert_true(sim_count(f.s, order[2], PROTO_OP_LIST) > 0);

	/* with the spare dead too, the walk fails with -EIO (no hang) */
	sim_set_dead(f.s, order[0], false);
	sim_set_dead(f.s, order[2], true);
	memset(&k.col, 0, sizeof(k.col));
	assert_int_equal(qfs_quorum_list(f.q, dir, PROTO_KIND_DIRENT, NULL, 0, false, 0,
					 kill_after_fn, &k, &more),
			 -EIO);
	fx_fini(&f);
}

/* ---- rebuilding daemons, open checks, cluster-wide calls ---- */

static void test_quorum_rebuilding_not_counted(void **state)
{
	struct proto_key key;
	struct proto_meta m;
	struct qfs_rec rec;
	struct fx f;
	uint8_t val[64] = { 7 };

	(void)state;
	fx_init(&f, 3, 3, 2, 2);
	sim_set_flags(f.s, 0, PROTO_STORE_NOVOLUME | PROTO_STORE_FRESH);
	fx_open(&f);
	proto_key_chunk(&key, 13, 0);

	/* daemon 0 acknowledges but does not count; daemon 1 drops: no quorum */
	sim_set_drop(f.s, 1, true);
	m = meta_of(qfs_quorum_version(f.q), sizeof(val));
	assert_int_equal(qfs_quorum_put(f.q, &key, &m, val), -EIO);
	assert_true(holds(&f, 0, &key, m.ver)); /* it still took the write */
	sim_set_drop(f.s, 1, false);

	/* reads never ask it, even when it holds the only copy */
	m = meta_of(qfs_quorum_version(f.q), sizeof(val));
	assert_int_equal(qfs_quorum_put(f.q, &key, &m, val), 0);
	sim_reset_counts(f.s);
	assert_int_equal(qfs_quorum_get(f.q, &key, 0, PROTO_GET_WHOLE, &rec), 0);
	qfs_rec_free(&rec);
	assert_int_equal(sim_count(f.s, 0, PROTO_OP_GET) + sim_count(f.s, 0, PROTO_OP_HEAD), 0);

	proto_key_chunk(&key, 13, 1);
	m = meta_of(ver(1), sizeof(val));
	assert_int_equal(sim_put(f.s, 0, &key, &m, val), 0);
	assert_int_equal(qfs_quorum_get(f.q, &key, 0, PROTO_GET_WHOLE, &rec), -ENOENT);
	fx_fini(&f);
}

/* PUT a small chunk with daemon 1 dead: 0 when daemons 0 and 2 both count. */
static int put_without_d1(struct fx *f, const struct proto_key *key)
{
	uint8_t val[32] = { 9 };
	struct proto_meta m = meta_of(qfs_quorum_version(f->q), sizeof(val));
	int rc;

	sim_set_dead(f->s, 1, true);
	rc = qfs_quorum_put(f->q, key, &m, val);
	sim_set_dead(f->s, 1, false);
	return rc;
}

/*
 * The rebuilding state follows every HELLO, not only the one at open: a
 * daemon wiped while mounted stops counting, stays out while its store says
 * REBUILDING, counts again once that store is declared refilled, and a
 * store that replaced the counted one without ever being seen empty counts
 * in nothing (what it missed is unknown).
 */
static void test_quorum_rebuilding_refreshed(void **state)
{
	struct proto_key key;
	struct qfs_rec rec;
	struct fx f;

	(void)state;
	fx_init(&f, 3, 3, 2, 2);
	fx_open(&f);
	proto_key_chunk(&key, 21, 0);
	assert_int_equal(put_without_d1(&f, &key), 0);

	/* wiped and restarted: a new store with no volume */
	sim_new_store(f.s, 0, PROTO_STORE_NOVOLUME | PROTO_STORE_FRESH);
	assert_int_equal(put_without_d1(&f, &key), -EIO);
	sim_reset_counts(f.s);
	assert_int_equal(qfs_quorum_get(f.q, &key, 0, PROTO_GET_WHOLE, &rec), 0);
	qfs_rec_free(&rec);
	assert_int_equal(sim_count(f.s, 0, PROTO_OP_GET) + sim_count(f.s, 0, PROTO_OP_HEAD), 0);

	/* a read-repair gave it the superblock: rebuilding, still out */
	sim_set_flags(f.s, 0, PROTO_STORE_REBUILDING | PROTO_STORE_FRESH);
	assert_int_equal(put_without_d1(&f, &key), -EIO);
	/* with d1 dead too, only d2 counts: a read fails rather than ask d0 */
	sim_set_dead(f.s, 1, true);
	assert_int_equal(qfs_quorum_get(f.q, &key, 0, PROTO_GET_WHOLE, &rec), -EIO);
	sim_set_dead(f.s, 1, false);

	/* declared refilled (REBUILT): the same store counts again */
	sim_set_flags(f.s, 0, PROTO_STORE_FRESH);
	assert_int_equal(put_without_d1(&f, &key), 0);

	/* another store, never seen empty: not counted */
	sim_new_store(f.s, 0, 0);
	assert_int_equal(put_without_d1(&f, &key), -EIO);
	fx_fini(&f);
}

static void test_quorum_open_refuses_skew(void **state)
{
	struct fx f;
	char err[256] = "";

	(void)state;
	fx_init(&f, 3, 3, 2, 2);
	sim_set_skew(f.s, 2, 60000);
	assert_int_equal(qfs_quorum_open_transport(f.cl, NULL, sim_transport(f.s), &f.q, err,
						   sizeof(err)),
			 -ETIME);
	assert_null(f.q);
	assert_non_null(strstr(err, "d2"));
	fx_fini(&f);
}

static void test_quorum_sync_space_super(void **state)
{
	struct qfs_quorum_opts o = { .need_volume = true };
	struct proto_super sb = { .format = PROTO_FORMAT_VERSION, .chunk_size = 1 << 20 };
	struct qfs_space sp;
	struct proto_key key;
	struct proto_meta m;
	struct proto_wr w;
	struct fx f;
	char err[256] = "";

	(void)state;
	fx_init(&f, 4, 3, 2, 2);
	/* no superblock yet: a mount refuses, a tool opens */
	assert_int_equal(qfs_quorum_open_transport(f.cl, &o, sim_transport(f.s), &f.q, err,
						   sizeof(err)),
			 -ENOENT);
	sim_free(f.s);
	assert_int_equal(sim_new(4, &f.s), 0);
	for (int i = 0; i < 4; i++)	/* mkfs: every store is new */
		sim_set_flags(f.s, i, PROTO_STORE_NOVOLUME | PROTO_STORE_FRESH);
	fx_open(&f);
	assert_int_equal(qfs_quorum_super(f.q, &sb), -ENOENT);

	sb.volume_id[0] = 0x42;
	proto_wr_init(&w);
	proto_super_encode(&w, &sb);
	proto_key_super(&key);
	m = meta_of(qfs_quorum_version(f.q), (uint32_t)w.len);
	assert_int_equal(qfs_quorum_put(f.q, &key, &m, w.buf), 0);
	proto_wr_free(&w);
	memset(&sb, 0, sizeof(sb));
	assert_int_equal(qfs_quorum_super(f.q, &sb), 0);
	assert_int_equal(sb.volume_id[0], 0x42);
	/* the daemons that were new at open are not "rebuilding" afterwards */
	{
		struct proto_key ck;
		struct qfs_rec rec;
		uint8_t v[10] = { 1 };

		proto_key_chunk(&ck, 99, 0);
		m = meta_of(qfs_quorum_version(f.q), sizeof(v));
		assert_int_equal(qfs_quorum_put(f.q, &ck, &m, v), 0);
		assert_int_equal(qfs_quorum_get(f.q, &ck, 0, PROTO_GET_WHOLE, &rec), 0);
		qfs_rec_free(&rec);
	}

	assert_int_equal(qfs_quorum_sync_all(f.q), 0);
	assert_int_equal(qfs_quorum_space(f.q, &sp), 0);
	assert_int_equal(sp.total, 4 * 1000 / 3);
	assert_int_equal(sp.free, 4 * 900 / 3);
	/* a daemon that does not answer is skipped like a suspect one while
	 * W others synced; fewer than W: -EIO */
	sim_set_drop(f.s, 3, true);
	assert_int_equal(qfs_quorum_sync_all(f.q), 0);
	sim_set_drop(f.s, 1, true);
	sim_set_drop(f.s, 2, true);
	assert_int_equal(qfs_quorum_sync_all(f.q), -EIO);
	fx_fini(&f);
}

/* ---- hinted handoff (mount option hinted_handoff) ---- */

/*
 * 4 daemons, N=3 W=2 R=2, two of a key's replicas down (suspect): without
 * the option the PUT fails with -EIO; with it the fourth daemon (the
 * fallback) takes it and counts toward W, and once the call completed it
 * gets a PENDING_ADD (so the repairer hands its copy back).
 */
static void handoff_case(bool on)
{
	struct qfs_quorum_opts o = { .hinted_handoff = on };
	uint8_t val[100] = { 4, 5, 6 };
	char err[256] = "";
	struct proto_key key;
	struct proto_meta m;
	struct fx f;
	int order[3], fb = -1;

	fx_init(&f, 4, 3, 2, 2);
	assert_int_equal(qfs_quorum_open_transport(f.cl, &o, sim_transport(f.s), &f.q, err,
						   sizeof(err)),
			 0);
	proto_key_chunk(&key, 21, 0);
	order_of(&f, &key, order);
	for (int d = 0; d < 4; d++)
		if (d != order[0] && d != order[1] && d != order[2])
			fb = d;
	sim_set_dead(f.s, order[0], true);
	sim_set_dead(f.s, order[1], true);
	sim_reset_counts(f.s);
	m = meta_of(qfs_quorum_version(f.q), sizeof(val));
	assert_int_equal(qfs_quorum_put(f.q, &key, &m, val), on ? 0 : -EIO);
	qfs_quorum_close(f.q); /* the stragglers complete, pending reports are sent */
	f.q = NULL;
	assert_true(holds(&f, order[2], &key, m.ver));
	assert_int_equal(holds(&f, fb, &key, m.ver), on);
	assert_int_equal(sim_count(f.s, fb, PROTO_OP_PENDING_ADD) > 0, on);
	assert_true(sim_count(f.s, order[2], PROTO_OP_PENDING_ADD) > 0);
	fx_fini(&f);
}

static void test_quorum_handoff_off_by_default(void **state)
{
	(void)state;
	handoff_case(false);
}

static void test_quorum_handoff_fallback_counts(void **state)
{
	(void)state;
	handoff_case(true);
}

/* ---- degraded reads (mount option degraded_read) ---- */

static void fx_open_degraded(struct fx *f, bool degraded)
{
	struct qfs_quorum_opts o = { .degraded_read = degraded };
	char err[256] = "";

	assert_int_equal(qfs_quorum_open_transport(f->cl, &o, sim_transport(f->s), &f->q, err,
						   sizeof(err)),
			 0);
	sim_reset_counts(f->s);
}

/* Put a dirent @name of @dir holding @ino on replica @i. */
static void put_dirent(struct fx *f, int i, uint64_t dir, const char *name, uint64_t ino,
		       struct proto_version v)
{
	struct proto_dirent de = { .ino = ino, .type = 8 };
	struct proto_key key;
	struct proto_meta m;
	struct proto_wr w;

	assert_int_equal(proto_key_dirent(&key, dir, name, strlen(name)), 0);
	proto_wr_init(&w);
	proto_dirent_encode(&w, &de);
	assert_false(w.bad);
	m = meta_of(v, (uint32_t)w.len);
	assert_int_equal(sim_put(f->s, i, &key, &m, w.buf), 0);
	proto_wr_free(&w);
}

/*
 * N=3 W=2 R=2 with two of the three replicas of every key used down: by
 * default reads and writes fail with -EIO; with degraded reads the read is
 * served from the surviving (newest) copy, absence there is -ENOENT, LIST
 * walks the survivor, and a write is -EROFS. Hung replicas (drop, not yet
 * suspect) cost at most two deadlines.
 */
static void degraded_case(bool degraded)
{
	const uint32_t len = 50000;
	uint8_t *v1 = pattern(len, 1), *v2 = pattern(len, 2);
	struct proto_key ck, dk, ik;
	struct proto_meta m1 = meta_of(ver(1), len), m2 = meta_of(ver(2), len), m;
	struct collect got = { 0 };
	struct qfs_rec rec;
	int order[3], dorder[3];
	uint64_t dir = 777, t0, el;
	bool more;
	struct fx f;
	int rc;

	fx_init(&f, 3, 3, 2, 2);
	fx_open_degraded(&f, degraded);
	proto_key_chunk(&ck, 21, 0);
	order_of(&f, &ck, order);
	/* the survivor, order[1], holds the newest copy; the others an old one */
	assert_int_equal(sim_put(f.s, order[0], &ck, &m1, v1), 0);
	assert_int_equal(sim_put(f.s, order[1], &ck, &m2, v2), 0);
	assert_int_equal(sim_put(f.s, order[2], &ck, &m1, v1), 0);

	/* two replicas down (suspect): at once */
	sim_set_dead(f.s, order[0], true);
	sim_set_dead(f.s, order[2], true);
	t0 = qfs_now_ns();
	rc = qfs_quorum_get(f.q, &ck, 1000, 4000, &rec);
	assert_true(ms_since(t0) < 100);
	if (degraded) {
		assert_int_equal(rc, 0);
		assert_int_equal(proto_version_cmp(&rec.meta.ver, &m2.ver), 0);
		assert_int_equal(rec.off, 1000);
		assert_int_equal(rec.val_len, 4000);
		assert_memory_equal(rec.val, v2 + 1000, 4000);
		qfs_rec_free(&rec);
	} else {
		assert_int_equal(rc, -EIO);
	}

	/* a write misses W: read-only (-EROFS) in degraded mode, refused
	 * before it is sent since the failure detector knows; else -EIO */
	m = meta_of(qfs_quorum_version(f.q), len);
	assert_int_equal(qfs_quorum_put(f.q, &ck, &m, v1), degraded ? -EROFS : -EIO);
	if (degraded) /* nothing was sent: the survivor keeps its copy */
		assert_true(holds(&f, order[1], &ck, m2.ver));

	/* two replicas hung (not suspect): the data replica order[0] never
	 * answers, order[1] answers HEAD; the data comes from order[1] after
	 * the deadline, within a second one */
	sim_set_dead(f.s, order[0], false);
	sim_set_dead(f.s, order[2], false);
	sim_set_drop(f.s, order[0], true);
	sim_set_drop(f.s, order[2], true);
	t0 = qfs_now_ns();
	rc = qfs_quorum_get(f.q, &ck, 0, PROTO_GET_WHOLE, &rec);
	el = ms_since(t0);
	assert_true(el >= TIMEOUT_MS - 50);
	if (degraded) {
		assert_int_equal(rc, 0);
		assert_int_equal(rec.val_len, len);
		assert_int_equal(proto_version_cmp(&rec.meta.ver, &m2.ver), 0);
		assert_memory_equal(rec.val, v2, len);
		qfs_rec_free(&rec);
		assert_true(el < 2 * TIMEOUT_MS + MARGIN_MS);
	} else {
		assert_int_equal(rc, -EIO);
		assert_true(el < TIMEOUT_MS + MARGIN_MS);
	}
	/* a write to hung replicas is sent and misses W at the deadline */
	m = meta_of(qfs_quorum_version(f.q), 100);
	t0 = qfs_now_ns();
	assert_int_equal(qfs_quorum_put(f.q, &ck, &m, v1), degraded ? -EROFS : -EIO);
	el = ms_since(t0);
	assert_true(el >= TIMEOUT_MS - 50 && el < TIMEOUT_MS + MARGIN_MS);
	sim_set_drop(f.s, order[0], false);
	sim_set_drop(f.s, order[2], false);

	/* a name the survivor lacks: -ENOENT degraded (weaker), else -EIO;
	 * LIST walks the survivor alone */
	proto_key_inode(&ik, dir);
	order_of(&f, &ik, dorder);
	put_dirent(&f, dorder[0], dir, "a", 100, ver(3));
	put_dirent(&f, dorder[1], dir, "a", 100, ver(3));
	put_dirent(&f, dorder[1], dir, "b", 101, ver(3));
	put_dirent(&f, dorder[2], dir, "c", 102, ver(3));
	sim_set_dead(f.s, dorder[0], true);
	sim_set_dead(f.s, dorder[2], true);
	assert_int_equal(proto_key_dirent(&dk, dir, "c", 1), 0);
	assert_int_equal(qfs_quorum_get(f.q, &dk, 0, PROTO_GET_WHOLE, &rec),
			 degraded ? -ENOENT : -EIO);
	assert_int_equal(proto_key_dirent(&dk, dir, "b", 1), 0);
	rc = qfs_quorum_get(f.q, &dk, 0, PROTO_GET_WHOLE, &rec);
	assert_int_equal(rc, degraded ? 0 : -EIO);
	qfs_rec_free(&rec);
	rc = qfs_quorum_list(f.q, dir, PROTO_KIND_DIRENT, NULL, 0, false, 0, collect_fn, &got,
			     &more);
	if (degraded) {
		assert_int_equal(rc, 0);
		assert_int_equal(got.n, 2); /* a and b, in key (hash) order */
		assert_true((!strcmp(got.names[0], "a") && !strcmp(got.names[1], "b")) ||
			    (!strcmp(got.names[0], "b") && !strcmp(got.names[1], "a")));
	} else {
		assert_int_equal(rc, -EIO);
	}

	/* nobody answers: -EIO in both modes */
	sim_set_dead(f.s, dorder[1], true);
	assert_int_equal(qfs_quorum_get(f.q, &dk, 0, PROTO_GET_WHOLE, &rec), -EIO);
	assert_int_equal(qfs_quorum_list(f.q, dir, PROTO_KIND_DIRENT, NULL, 0, false, 0,
					 collect_fn, &got, &more),
			 -EIO);

	free(v1);
	free(v2);
	fx_fini(&f);
}

static void test_quorum_degraded_read_off_by_default(void **state)
{
	(void)state;
	degraded_case(false);
}

static void test_quorum_degraded_read_serves_survivor(void **state)
{
	(void)state;
	degraded_case(true);
}

/* R=3 with one replica down: the newest of the two answers wins and the
 * stale one is repaired (W=2 is still reachable). */
static void test_quorum_degraded_read_newest_of_answers(void **state)
{
	const uint32_t len = 9000;
	uint8_t *v1 = pattern(len, 3), *v2 = pattern(len, 4);
	struct proto_meta m1 = meta_of(ver(1), len), m2 = meta_of(ver(2), len);
	struct proto_key key;
	struct qfs_rec rec;
	int order[3];
	struct fx f;

	(void)state;
	fx_init(&f, 3, 3, 2, 3);
	fx_open_degraded(&f, true);
	proto_key_chunk(&key, 22, 0);
	order_of(&f, &key, order);
	assert_int_equal(sim_put(f.s, order[0], &key, &m1, v1), 0); /* asked for data */
	assert_int_equal(sim_put(f.s, order[1], &key, &m2, v2), 0);
	sim_set_dead(f.s, order[2], true);
	assert_int_equal(qfs_quorum_get(f.q, &key, 0, PROTO_GET_WHOLE, &rec), 0);
	assert_int_equal(proto_version_cmp(&rec.meta.ver, &m2.ver), 0);
	assert_memory_equal(rec.val, v2, len);
	qfs_rec_free(&rec);
	assert_true(holds(&f, order[0], &key, m2.ver));
	free(v1);
	free(v2);
	fx_fini(&f);
}

/* ---- stale layouts ---- */

/*
 * Layout v2 = the config's daemons without d3 (N=3 over d0..d2), handed out
 * by every replica, which from now on refuse requests placed by v1. *key
 * gets a chunk key whose v1 list holds d3 (so v1 and v2 place it apart).
 */
static void stale_layout_setup(struct fx *f, struct proto_key *key, uint32_t check)
{
	struct proto_layout *pl = calloc(1, sizeof(*pl));
	int order[3];

	assert_non_null(pl);
	for (uint64_t ino = 100;; ino++) {
		bool has3 = false;

		proto_key_chunk(key, ino, 0);
		order_of(f, key, order);
		for (int i = 0; i < 3; i++)
			has3 |= order[i] == 3;
		if (has3)
			break;
	}
	qfs_layout_from_cluster(f->cl, &pl->cur);
	pl->cur.ndaemons = 3;
	pl->cur.version = 2;
	assert_int_equal(proto_layout_check(pl), 0);
	assert_int_equal(sim_set_layout(f->s, pl), 0);
	for (int i = 0; check && i < 4; i++)
		sim_set_layout_check(f->s, i, check);
	free(pl);
}

static uint32_t view_version(struct fx *f)
{
	struct proto_layout *pl = malloc(sizeof(*pl));
	uint32_t v;

	assert_non_null(pl);
	qfs_quorum_layout_get(f->q, pl);
	v = (uint32_t)pl->cur.version;
	free(pl);
	return v;
}

static unsigned stale_total(struct fx *f)
{
	unsigned n = 0;

	for (int i = 0; i < 4; i++)
		n += sim_stale(f->s, i);
	return n;
}

/* A PUT placed by v1 is refused everywhere; the mount refreshes to v2 at
 * once and the PUT lands on the v2 list (d0..d2), never on d3. */
static void test_quorum_stale_layout_put_retries(void **state)
{
	struct proto_version v = ver(1);
	struct proto_meta m;
	struct proto_key key;
	uint8_t *val = pattern(1000, 3);
	unsigned on = 0;
	uint64_t t0;
	struct fx f;

	(void)state;
	fx_init(&f, 4, 3, 2, 2);
	fx_open(&f);
	assert_int_equal(view_version(&f), 1);
	stale_layout_setup(&f, &key, 0);
	m = meta_of(v, 1000);
	t0 = qfs_now_ns();
	assert_int_equal(qfs_quorum_put(f.q, &key, &m, val), 0);
	assert_true(ms_since(t0) < TIMEOUT_MS);
	assert_int_equal(view_version(&f), 2);
	/* the first run went to the v1 list, d3 included, and was refused */
	assert_true(sim_stale(f.s, 3) >= 1);
	assert_true(stale_total(&f) >= 2);
	usleep(100 * 1000); /* background RPCs of the second run */
	for (int i = 0; i < 3; i++)
		on += holds(&f, i, &key, v);
	assert_int_equal(on, 3);
	assert_false(holds(&f, 3, &key, v));
	free(val);
	fx_fini(&f);
}

/* A GET placed by v1 gets no answer but STALE_LAYOUT: it refreshes and
 * reads the v2 list. */
static void test_quorum_stale_layout_get_retries(void **state)
{
	struct proto_version v = ver(2);
	struct proto_meta m;
	struct proto_key key;
	struct qfs_rec rec;
	uint8_t *val = pattern(500, 4);
	struct fx f;

	(void)state;
	fx_init(&f, 4, 3, 2, 2);
	fx_open(&f);
	stale_layout_setup(&f, &key, 0);
	m = meta_of(v, 500);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sim_put(f.s, i, &key, &m, val), 0);
	assert_int_equal(qfs_quorum_get(f.q, &key, 0, PROTO_GET_WHOLE, &rec), 0);
	assert_int_equal(rec.meta.len, 500);
	assert_memory_equal(rec.val, val, 500);
	assert_true(stale_total(&f) >= 2);
	assert_int_equal(view_version(&f), 2);
	qfs_rec_free(&rec);
	free(val);
	fx_fini(&f);
}

/* Replicas refuse even v2 (they check v3, which nobody hands out): one
 * retry, then EIO, and nothing is written anywhere. */
static void test_quorum_stale_layout_gives_up(void **state)
{
	struct proto_version v = ver(3);
	struct proto_meta m;
	struct proto_key key;
	uint8_t *val = pattern(100, 5);
	unsigned before;
	uint64_t t0;
	struct fx f;

	(void)state;
	fx_init(&f, 4, 3, 2, 2);
	fx_open(&f);
	stale_layout_setup(&f, &key, 3);
	m = meta_of(v, 100);
	t0 = qfs_now_ns();
	assert_int_equal(qfs_quorum_put(f.q, &key, &m, val), -EIO);
	assert_true(ms_since(t0) < 3 * TIMEOUT_MS);
	assert_int_equal(view_version(&f), 2);
	before = stale_total(&f);
	assert_true(before >= 4); /* both runs refused */
	for (int i = 0; i < 4; i++)
		assert_false(holds(&f, i, &key, v));
	free(val);
	fx_fini(&f);
}

/* Open needs W daemons, or one with degraded reads. */
static void test_quorum_degraded_read_open_one(void **state)
{
	struct qfs_quorum_opts o = { .degraded_read = true };
	char err[256] = "";
	struct fx f;

	(void)state;
	fx_init(&f, 3, 3, 2, 2);
	sim_set_dead(f.s, 0, true);
	sim_set_dead(f.s, 1, true);
	assert_int_equal(qfs_quorum_open_transport(f.cl, NULL, sim_transport(f.s), &f.q, err,
						   sizeof(err)),
			 -EIO);
	assert_null(f.q);
	fx_fini(&f);

	fx_init(&f, 3, 3, 2, 2);
	sim_set_dead(f.s, 0, true);
	sim_set_dead(f.s, 1, true);
	assert_int_equal(qfs_quorum_open_transport(f.cl, &o, sim_transport(f.s), &f.q, err,
						   sizeof(err)),
			 0);
	fx_fini(&f);

	fx_init(&f, 3, 3, 2, 2);
	for (int i = 0; i < 3; i++)
		sim_set_dead(f.s, i, true);
	assert_int_equal(qfs_quorum_open_transport(f.cl, &o, sim_transport(f.s), &f.q, err,
						   sizeof(err)),
			 -EIO);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quorum_put_exact_w),
		cmocka_unit_test(test_quorum_put_fails_within_deadline),
		cmocka_unit_test(test_quorum_get_newest_repairs_before_return),
		cmocka_unit_test(test_quorum_get_falls_back_to_third),
		cmocka_unit_test(test_quorum_get_enoent_and_tombstone),
		cmocka_unit_test(test_quorum_get_inode_merge),
		cmocka_unit_test(test_quorum_patch_outcomes),
		cmocka_unit_test(test_quorum_list_merge_paging),
		cmocka_unit_test(test_quorum_read_repair_spares_collected_tombstone),
		cmocka_unit_test(test_quorum_list_failover_after_first_page),
		cmocka_unit_test(test_quorum_rebuilding_not_counted),
		cmocka_unit_test(test_quorum_rebuilding_refreshed),
		cmocka_unit_test(test_quorum_open_refuses_skew),
		cmocka_unit_test(test_quorum_sync_space_super),
		cmocka_unit_test(test_quorum_handoff_off_by_default),
		cmocka_unit_test(test_quorum_handoff_fallback_counts),
		cmocka_unit_test(test_quorum_degraded_read_off_by_default),
		cmocka_unit_test(test_quorum_degraded_read_serves_survivor),
		cmocka_unit_test(test_quorum_degraded_read_newest_of_answers),
		cmocka_unit_test(test_quorum_degraded_read_open_one),
		cmocka_unit_test(test_quorum_stale_layout_put_retries),
		cmocka_unit_test(test_quorum_stale_layout_get_retries),
		cmocka_unit_test(test_quorum_stale_layout_gives_up),
	};

	/* QFS_TEST_DEBUG=1 shows the quorum layer's decisions */
	qlog_init("test_quorum", false, getenv("QFS_TEST_DEBUG") ? QLOG_DEBUG : QLOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
