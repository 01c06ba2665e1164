// SPDX-License-Identifier: MIT
/*
 * test_ring.c - unit tests of fs/ring.c: placement is deterministic (across
 * rebuilds, copies and daemon order), lists hold distinct daemons, short
 * rings give every daemon, load is balanced (1.25x of the fair share at 256
 * virtual nodes; see test_ring_balance for 64) and adding a daemon moves
 * only about 1/ndaemons of the keys, all of them onto the new daemon.
 * Keys are 100,000 XXH3 tokens of consecutive integers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include <cmocka.h>

#include "fs/config.h"
#include "fs/ring.h"

#define NKEYS 100000

static uint64_t key_token(uint64_t i)
{
	uint8_t b[8];

	for (int k = 0; k < 8; k++)
		b[k] = (uint8_t)(i >> (8 * k));
	return XXH3_64bits(b, sizeof(b));
}

/* A cluster of @nd daemons "d0".."d<nd-1>" at weight 100, as config.c would fill it. */
static struct qfs_cluster *make_cluster(int nd, unsigned vnodes)
{
	struct qfs_cluster *cl = calloc(1, sizeof(*cl));

	assert_non_null(cl);
	cl->n = 3;
	cl->w = 2;
	cl->r = 2;
	cl->timeout_ms = 1000;
	cl->vnodes = vnodes;
	cl->layout_version = 1;
	cl->ndaemons = nd;
	for (int i = 0; i < nd; i++) {
		snprintf(cl->daemons[i].name, sizeof(cl->daemons[i].name), "d%d", i);
		snprintf(cl->daemons[i].endpoint, sizeof(cl->daemons[i].endpoint),
			 "tcp://127.0.0.1:%d", 7000 + i);
		cl->daemons[i].weight = 100;
	}
	return cl;
}

static struct qfs_ring *build(const struct qfs_cluster *cl)
{
	struct qfs_ring *ring = NULL;

	assert_int_equal(qfs_ring_build(cl, &ring), 0);
	assert_non_null(ring);
	return ring;
}

static void test_ring_deterministic(void **state)
{
	struct qfs_cluster *cl = make_cluster(7, 256), *copy = malloc(sizeof(*cl));
	struct qfs_ring *a, *b, *c;
	int la[5], lb[5], lc[5];

	(void)state;
	assert_non_null(copy);
	memcpy(copy, cl, sizeof(*cl));
	a = build(cl);
	b = build(cl);
	c = build(copy);
	for (uint64_t i = 0; i < 10000; i++) {
		uint64_t t = key_token(i);

		assert_int_equal(qfs_ring_place(a, t, la, 5), 5);
		assert_int_equal(qfs_ring_place(b, t, lb, 5), 5);
		assert_int_equal(qfs_ring_place(c, t, lc, 5), 5);
		assert_memory_equal(la, lb, sizeof(la));
		assert_memory_equal(la, lc, sizeof(la));
	}
	/*
	 * Point p of daemon "dI" is at XXH3("dI" || p as u32 LE): a key on
	 * exactly that token has dI as its primary. This pins the layout
	 * that every client, daemon and tool must share.
	 */
	for (int d = 0; d < 7; d++) {
		for (uint32_t p = 0; p < 256; p += 51) {
			uint8_t buf[8] = { 'd', (uint8_t)('0' + d), (uint8_t)p, (uint8_t)(p >> 8),
					   (uint8_t)(p >> 16), (uint8_t)(p >> 24) };

			assert_int_equal(qfs_ring_place(a, XXH3_64bits(buf, 6), la, 1), 1);
			assert_int_equal(la[0], d);
		}
	}
	assert_int_equal(qfs_ring_place(a, 0, la, 1), 1);
	assert_int_equal(qfs_ring_place(a, UINT64_MAX, lb, 1), 1);
	assert_int_equal(la[0], lb[0]); /* past the last point wraps to the first */
	qfs_ring_free(a);
	qfs_ring_free(b);
	qfs_ring_free(c);
	qfs_ring_free(NULL);
	free(copy);
	free(cl);
}

/* Placement depends on names, not on the order of the sections in the file. */
static void test_ring_order_independent(void **state)
{
	struct qfs_cluster *cl = make_cluster(5, 64), *rev = make_cluster(5, 64);
	struct qfs_ring *a, *b;
	int la[3], lb[3];

	(void)state;
	for (int i = 0; i < 5; i++)
		memcpy(&rev->daemons[i], &cl->daemons[4 - i], sizeof(rev->daemons[i]));
	a = build(cl);
	b = build(rev);
	for (uint64_t i = 0; i < 10000; i++) {
		uint64_t t = key_token(i);

		assert_int_equal(qfs_ring_place(a, t, la, 3), 3);
		assert_int_equal(qfs_ring_place(b, t, lb, 3), 3);
		for (int k = 0; k < 3; k++)
			assert_string_equal(cl->daemons[la[k]].name, rev->daemons[lb[k]].name);
	}
	qfs_ring_free(a);
	qfs_ring_free(b);
	free(cl);
	free(rev);
}

static void test_ring_distinct(void **state)
{
	(void)state;
	for (int nd = 1; nd <= 9; nd += 4) {
		struct qfs_cluster *cl = make_cluster(nd, 64);
		struct qfs_ring *ring = build(cl);
		int want = nd < QFS_MAX_REPLICAS ? nd : QFS_MAX_REPLICAS;
		int out[QFS_MAX_REPLICAS];

		for (uint64_t i = 0; i < 20000; i++) {
			int got = qfs_ring_place(ring, key_token(i), out, QFS_MAX_REPLICAS);

			assert_int_equal(got, want);
			for (int x = 0; x < got; x++) {
				assert_in_range(out[x], 0, nd - 1);
				for (int y = 0; y < x; y++)
					assert_int_not_equal(out[x], out[y]);
			}
		}
		qfs_ring_free(ring);
		free(cl);
	}
}

static void test_ring_short(void **state)
{
	struct qfs_cluster *cl = make_cluster(4, 16);
	struct qfs_ring *ring = build(cl);
	int out[10], seen = 0;

	(void)state;
	assert_int_equal(qfs_ring_place(ring, 42, out, 10), 4);
	for (int i = 0; i < 4; i++)
		seen |= 1 << out[i];
	assert_int_equal(seen, 0xf);
	assert_int_equal(qfs_ring_place(ring, 42, out, 0), 0);
	assert_int_equal(qfs_ring_place(ring, 42, out, -1), 0);
	qfs_ring_free(ring);

	/* One virtual node at weight 1 still gives each daemon a point. */
	cl->vnodes = 1;
	cl->daemons[0].weight = 1;
	ring = build(cl);
	assert_int_equal(qfs_ring_place(ring, 42, out, 10), 4);
	qfs_ring_free(ring);

	cl->ndaemons = 0;
	ring = (void *)1;
	assert_int_equal(qfs_ring_build(cl, &ring), -EINVAL);
	assert_null(ring);
	free(cl);
}

/*
 * Assert no daemon holds more than @bound times its weighted fair share of
 * @total; returns the largest ratio seen.
 */
static double check_balance(const struct qfs_cluster *cl, const unsigned *counts, double total,
			    double bound, const char *what)
{
	double wsum = 0, worst = 0;

	for (int d = 0; d < cl->ndaemons; d++)
		wsum += cl->daemons[d].weight;
	for (int d = 0; d < cl->ndaemons; d++) {
		double fair = total * cl->daemons[d].weight / wsum;

		if (counts[d] / fair > worst)
			worst = counts[d] / fair;
		if (counts[d] > bound * fair)
			print_error("%s: %d daemons, %u vnodes: d%d holds %u keys, fair %.0f\n",
				    what, cl->ndaemons, cl->vnodes, d, counts[d], fair);
		assert_true(counts[d] <= bound * fair);
	}
	return worst;
}

/*
 * A daemon with V points owns a sum of V random arcs: its share varies by
 * about 1/sqrt(V) (12.5% at 64, 6.25% at 256). At 256 points we hold every
 * daemon to 1.25x of its fair share, for primaries and for all 3 replicas.
 * At 64 points 1.25x is only a 2-sigma bound, which random placement misses
 * for some clusters (d0..d9: d1 holds 1.28x), so there we assert the 3-sigma
 * bound 1 + 3/sqrt(64) = 1.375x; docs/configuration.md advises vnodes >= 256.
 */
static void test_ring_balance(void **state)
{
	static const struct {
		unsigned vnodes;
		double bound;
	} cases[] = { { 64, 1.375 }, { 256, 1.25 } };

	(void)state;
	for (size_t v = 0; v < 2; v++) {
		for (int nd = 3; nd <= 12; nd++) {
			struct qfs_cluster *cl = make_cluster(nd, cases[v].vnodes);
			struct qfs_ring *ring = build(cl);
			unsigned prim[QFS_MAX_DAEMONS] = { 0 }, all[QFS_MAX_DAEMONS] = { 0 };
			double wp, wa = 0;
			int out[3];

			for (uint64_t i = 0; i < NKEYS; i++) {
				assert_int_equal(qfs_ring_place(ring, key_token(i), out, 3), 3);
				prim[out[0]]++;
				for (int k = 0; k < 3; k++)
					all[out[k]]++;
			}
			wp = check_balance(cl, prim, NKEYS, cases[v].bound, "primaries");
			if (cases[v].vnodes == 256)
				wa = check_balance(cl, all, 3.0 * NKEYS, 1.25, "replicas");
			print_message("%2d daemons, %3u vnodes: busiest daemon holds %.3fx its"
				      " share of primaries, %.3fx of replicas (0 = not checked)\n",
				      nd, cases[v].vnodes, wp, wa);
			qfs_ring_free(ring);
			free(cl);
		}
	}
}

/* A daemon of weight 300 gets about three times the keys of one at 100. */
static void test_ring_weights(void **state)
{
	struct qfs_cluster *cl = make_cluster(6, 256);
	unsigned prim[QFS_MAX_DAEMONS] = { 0 };
	struct qfs_ring *ring;
	int out[1];

	(void)state;
	cl->daemons[2].weight = 300;
	cl->daemons[4].weight = 50;
	ring = build(cl);
	for (uint64_t i = 0; i < NKEYS; i++) {
		assert_int_equal(qfs_ring_place(ring, key_token(i), out, 1), 1);
		prim[out[0]]++;
	}
	check_balance(cl, prim, NKEYS, 1.25, "weighted primaries");
	assert_true(prim[2] > 2 * prim[0]);
	assert_true(prim[4] < prim[0]);
	qfs_ring_free(ring);
	free(cl);
}

static void test_ring_minimal_movement(void **state)
{
	struct qfs_cluster *c3 = make_cluster(3, 256), *c4 = make_cluster(4, 256);
	struct qfs_ring *r3 = build(c3), *r4 = build(c4);
	unsigned moved = 0;
	int a, b;

	(void)state;
	for (uint64_t i = 0; i < NKEYS; i++) {
		uint64_t t = key_token(i);

		assert_int_equal(qfs_ring_place(r3, t, &a, 1), 1);
		assert_int_equal(qfs_ring_place(r4, t, &b, 1), 1);
		if (a != b) {
			moved++;
			assert_int_equal(b, 3); /* only onto the new daemon */
		}
	}
	print_message("adding a 4th daemon moved %.1f%% of primaries\n", 100.0 * moved / NKEYS);
	assert_true(moved > NKEYS / 8);
	assert_true(moved < NKEYS * 35 / 100);
	qfs_ring_free(r3);
	qfs_ring_free(r4);
	free(c3);
	free(c4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_deterministic),
		cmocka_unit_test(test_ring_order_independent),
		cmocka_unit_test(test_ring_distinct),
		cmocka_unit_test(test_ring_short),
		cmocka_unit_test(test_ring_balance),
		cmocka_unit_test(test_ring_weights),
		cmocka_unit_test(test_ring_minimal_movement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
