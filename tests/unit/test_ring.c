// SPDX-License-Identifier: MIT
/*
 * test_ring.c - unit tests of fs/ring.c: placement is deterministic (across
 * rebuilds, copies and daemon order), lists hold distinct daemons, short
 * rings give every daemon, load is balanced (1.25x of the fair share at 256
 * virtual nodes; see test_ring_balance for 64) and adding a daemon moves
 * only about 1/ndaemons of the keys, all of them onto the new daemon.
 * Weights: every daemon within 15% of its weight share at vnodes = 1024
 * (not at 256). Zones: replicas in distinct zones, in every zone when there
 * are fewer zones than replicas, placement unchanged when no zone is set,
 * and little movement beyond the ideal when a daemon joins a zoned cluster.
 * Keys are 100,000 XXH3 tokens of consecutive integers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

/*
 * The walk of ring.c before zones, kept here as the reference: the first
 * @n distinct daemons clockwise from the first point >= @token. Reads the
 * points through the public API.
 */
static int old_walk(const struct qfs_ring *ring, uint64_t token, int *out, int n)
{
	size_t np = qfs_ring_npoints(ring), lo = 0, hi = np, pos;
	unsigned char seen[QFS_MAX_DAEMONS] = { 0 };
	int filled = 0;
	uint64_t t;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		qfs_ring_point(ring, mid, &t);
		if (t < token)
			lo = mid + 1;
		else
			hi = mid;
	}
	pos = lo == np ? 0 : lo;
	for (size_t step = 0; step < np && filled < n; step++) {
		int d = qfs_ring_point(ring, pos, &t);

		if (!seen[d]) {
			seen[d] = 1;
			out[filled++] = d;
		}
		if (++pos == np)
			pos = 0;
	}
	return filled;
}

/*
 * Clusters without zones (and clusters where every daemon has a zone of
 * its own) keep exactly the placement they had before zones existed: the
 * golden lists were printed by the ring.c of commit 91a6d67.
 */
static void test_ring_zones_off_unchanged(void **state)
{
	static const int golden[12][7] = {
		{ 3, 1, 4, 5, 6, 0, 2 }, { 5, 2, 3, 1, 6, 4, 0 }, { 0, 4, 1, 3, 5, 6, 2 },
		{ 3, 5, 1, 2, 4, 0, 6 }, { 3, 1, 2, 6, 5, 0, 4 }, { 1, 0, 2, 5, 4, 3, 6 },
		{ 3, 4, 6, 1, 2, 5, 0 }, { 3, 5, 2, 6, 4, 0, 1 }, { 5, 0, 1, 2, 6, 4, 3 },
		{ 3, 5, 0, 6, 2, 1, 4 }, { 3, 6, 4, 1, 2, 0, 5 }, { 2, 4, 3, 5, 6, 0, 1 },
	};
	struct qfs_cluster *cl = make_cluster(7, 256);
	int out[7], ref[7];

	(void)state;
	for (int pass = 0; pass < 2; pass++) {
		struct qfs_ring *ring;

		/* pass 1: every daemon names a zone, but no two share one */
		for (int d = 0; pass == 1 && d < 7; d++)
			snprintf(cl->daemons[d].zone, sizeof(cl->daemons[d].zone), "z%d", d);
		ring = build(cl);
		assert_int_equal(qfs_ring_nzones(ring), 7);
		for (uint64_t i = 0; i < 12; i++) {
			assert_int_equal(qfs_ring_place(ring, key_token(i), out, 7), 7);
			assert_memory_equal(out, golden[i], sizeof(out));
		}
		for (uint64_t i = 0; i < 10000; i++) {
			uint64_t t = key_token(i);

			for (int n = 1; n <= 7; n += 2) {
				assert_int_equal(qfs_ring_place(ring, t, out, n), n);
				assert_int_equal(old_walk(ring, t, ref, n), n);
				assert_memory_equal(out, ref, (size_t)n * sizeof(int));
			}
		}
		qfs_ring_free(ring);
	}
	free(cl);
}

/* Keys per daemon against weight shares; returns the largest |share/fair - 1|. */
static double weight_error(const struct qfs_cluster *cl, const unsigned *counts, double total)
{
	double wsum = 0, worst = 0;

	for (int d = 0; d < cl->ndaemons; d++)
		wsum += cl->daemons[d].weight;
	for (int d = 0; d < cl->ndaemons; d++) {
		double r = counts[d] / (total * cl->daemons[d].weight / wsum) - 1;

		if (r < 0)
			r = -r;
		if (r > worst)
			worst = r;
	}
	return worst;
}

/*
 * Every daemon's keys within 15% of its weight share, both ways. A daemon
 * of V points varies by about 1/sqrt(V): at vnodes = 256 the weight-50
 * daemon has 128 points and d0..d11 miss (one holds 0.83x its share), so
 * the guarantee is stated, and tested, at vnodes = 1024 (see ring.c).
 */
static void test_ring_weight_share(void **state)
{
	static const unsigned w6[] = { 100, 100, 200, 200, 50, 300 };
	static const unsigned vn[] = { 256, 1024 };

	(void)state;
	for (size_t v = 0; v < 2; v++) {
		for (int shape = 0; shape < 2; shape++) {
			struct qfs_cluster *cl = make_cluster(shape ? 12 : 6, vn[v]);
			unsigned prim[QFS_MAX_DAEMONS] = { 0 }, all[QFS_MAX_DAEMONS] = { 0 };
			struct qfs_ring *ring;
			double ep, ea;
			int out[3];

			for (int d = 0; !shape && d < 6; d++)
				cl->daemons[d].weight = w6[d];
			ring = build(cl);
			for (uint64_t i = 0; i < NKEYS; i++) {
				assert_int_equal(qfs_ring_place(ring, key_token(i), out, 3), 3);
				prim[out[0]]++;
				for (int k = 0; k < 3; k++)
					all[out[k]]++;
			}
			ep = weight_error(cl, prim, NKEYS);
			ea = weight_error(cl, all, 3.0 * NKEYS);
			print_message("%s, vnodes %4u: worst daemon %.1f%% off its weight share of "
				      "primaries, %.1f%% of replicas\n",
				      shape ? "12 equal daemons" : "weights 100..300", vn[v],
				      100 * ep, 100 * ea);
			if (vn[v] == 1024) {
				assert_true(ep <= 0.15);
				/*
				 * A daemon holds at most one replica of a key, so one
				 * with 300/950 of the weight cannot hold 3 x 31.6% of
				 * the replicas: only equal weights are held to 15%.
				 */
				if (shape)
					assert_true(ea <= 0.15);
			}
			qfs_ring_free(ring);
			free(cl);
		}
	}
}

/* Set the zones of @cl from @zones[ndaemons] (NULL or "" = own zone). */
static void set_zones(struct qfs_cluster *cl, const char *const *zones)
{
	for (int d = 0; d < cl->ndaemons; d++)
		snprintf(cl->daemons[d].zone, sizeof(cl->daemons[d].zone), "%s",
			 zones[d] ? zones[d] : "");
}

/* Number of distinct zones among @out[n] (an empty zone is its own). */
static int count_zones(const struct qfs_cluster *cl, const int *out, int n)
{
	int distinct = 0;

	for (int x = 0; x < n; x++) {
		const char *z = cl->daemons[out[x]].zone;
		int y;

		for (y = 0; y < x; y++)
			if (z[0] && !strcmp(cl->daemons[out[y]].zone, z))
				break;
		distinct += y == x;
	}
	return distinct;
}

/*
 * 3 zones of 2 daemons, N=3: no key has two replicas in one zone, each
 * daemon holds about 1/6 of the replicas; asking for 5 gives the 3 zones
 * first, then 2 more distinct daemons. A daemon without a zone is a zone
 * of its own.
 */
static void test_ring_zones_distinct(void **state)
{
	static const char *const z3[] = { "a", "a", "b", "b", "c", "c" };
	static const char *const zmix[] = { "a", "a", "a", NULL, NULL, "b" };
	struct qfs_cluster *cl = make_cluster(6, 256);
	unsigned all[QFS_MAX_DAEMONS] = { 0 };
	struct qfs_ring *ring;
	int out[6];

	(void)state;
	set_zones(cl, z3);
	ring = build(cl);
	assert_int_equal(qfs_ring_nzones(ring), 3);
	for (uint64_t i = 0; i < NKEYS; i++) {
		uint64_t t = key_token(i);

		assert_int_equal(qfs_ring_place(ring, t, out, 3), 3);
		assert_int_equal(count_zones(cl, out, 3), 3);
		for (int k = 0; k < 3; k++)
			all[out[k]]++;
		assert_int_equal(qfs_ring_place(ring, t, out, 5), 5);
		assert_int_equal(count_zones(cl, out, 3), 3);
		assert_int_equal(count_zones(cl, out, 5), 3);
		for (int x = 0; x < 5; x++)
			for (int y = 0; y < x; y++)
				assert_int_not_equal(out[x], out[y]);
	}
	print_message("3 zones x 2 daemons, N=3: worst daemon %.1f%% off 1/6 of the replicas\n",
		      100 * weight_error(cl, all, 3.0 * NKEYS));
	assert_true(weight_error(cl, all, 3.0 * NKEYS) <= 0.15);
	qfs_ring_free(ring);

	set_zones(cl, zmix); /* zones: a, own, own, b = 4 */
	ring = build(cl);
	assert_int_equal(qfs_ring_nzones(ring), 4);
	for (uint64_t i = 0; i < NKEYS; i++) {
		assert_int_equal(qfs_ring_place(ring, key_token(i), out, 4), 4);
		assert_int_equal(count_zones(cl, out, 4), 4);
	}
	qfs_ring_free(ring);
	free(cl);
}

/* 2 zones (4 daemons and 2), N=3: every key is in both zones. */
static void test_ring_zones_fewer_than_replicas(void **state)
{
	static const char *const z2[] = { "a", "a", "a", "a", "b", "b" };
	struct qfs_cluster *cl = make_cluster(6, 256);
	struct qfs_ring *ring;
	int out[6];

	(void)state;
	set_zones(cl, z2);
	ring = build(cl);
	assert_int_equal(qfs_ring_nzones(ring), 2);
	for (uint64_t i = 0; i < NKEYS; i++) {
		assert_int_equal(qfs_ring_place(ring, key_token(i), out, 3), 3);
		assert_int_equal(count_zones(cl, out, 2), 2);
		for (int x = 0; x < 3; x++)
			for (int y = 0; y < x; y++)
				assert_int_not_equal(out[x], out[y]);
		/* every daemon, each once */
		assert_int_equal(qfs_ring_place(ring, key_token(i), out, 6), 6);
	}
	qfs_ring_free(ring);

	/* one zone: zones change nothing */
	for (int d = 0; d < 6; d++)
		strcpy(cl->daemons[d].zone, "only");
	ring = build(cl);
	for (uint64_t i = 0; i < 10000; i++) {
		int ref[3];

		assert_int_equal(qfs_ring_place(ring, key_token(i), out, 3), 3);
		assert_int_equal(old_walk(ring, key_token(i), ref, 3), 3);
		assert_memory_equal(out, ref, sizeof(ref));
	}
	qfs_ring_free(ring);
	free(cl);
}

/* Placement with zones depends on names and zones, not on file order. */
static void test_ring_zones_order_independent(void **state)
{
	static const char *const z[] = { "a", "b", NULL, "a", "c", "b", NULL };
	struct qfs_cluster *cl = make_cluster(7, 64), *rev = make_cluster(7, 64);
	struct qfs_ring *a, *b;
	int la[5], lb[5];

	(void)state;
	set_zones(cl, z);
	for (int i = 0; i < 7; i++)
		memcpy(&rev->daemons[i], &cl->daemons[6 - i], sizeof(rev->daemons[i]));
	a = build(cl);
	b = build(rev);
	for (uint64_t i = 0; i < 10000; i++) {
		assert_int_equal(qfs_ring_place(a, key_token(i), la, 5), 5);
		assert_int_equal(qfs_ring_place(b, key_token(i), lb, 5), 5);
		for (int k = 0; k < 5; k++)
			assert_string_equal(cl->daemons[la[k]].name, rev->daemons[lb[k]].name);
	}
	qfs_ring_free(a);
	qfs_ring_free(b);
	free(cl);
	free(rev);
}

/*
 * A 7th daemon joins 3 zones of 2 (into zone a, or as a new zone d), or 2
 * zones of 3. Count the replica placements (key, daemon) that change,
 * against the ideal 1/7 of all 3 x NKEYS, and the ones that change between
 * old daemons. With at least N zones a new daemon can only take one slot
 * of a list, so nothing moves between old daemons; with fewer zones we
 * measured none either, but allow 1% of keys (the skipped daemons' order).
 */
static void test_ring_zones_movement(void **state)
{
	static const char *const z7[3][7] = {
		{ "a", "a", "b", "b", "c", "c", "a" },
		{ "a", "a", "b", "b", "c", "c", "d" },
		{ "a", "a", "a", "b", "b", "b", "b" },
	};

	(void)state;
	for (int c = 0; c < 3; c++) {
		struct qfs_cluster *c6 = make_cluster(6, 256), *c7 = make_cluster(7, 256);
		struct qfs_ring *r6, *r7;
		unsigned moved = 0, between_old = 0;
		double ideal = 3.0 * NKEYS / 7;

		set_zones(c6, z7[c]);
		set_zones(c7, z7[c]);
		r6 = build(c6);
		r7 = build(c7);
		for (uint64_t i = 0; i < NKEYS; i++) {
			int a[3], b[3];

			assert_int_equal(qfs_ring_place(r6, key_token(i), a, 3), 3);
			assert_int_equal(qfs_ring_place(r7, key_token(i), b, 3), 3);
			for (int x = 0; x < 3; x++) {
				bool kept = false;

				for (int y = 0; y < 3; y++)
					kept |= b[x] == a[y];
				if (!kept) {
					moved++;
					between_old += b[x] != 6;
				}
			}
		}
		print_message("7th daemon joins zone %s of %s: %.1f%% of replica placements moved "
			      "(%.2fx the ideal 1/7), %u between old daemons\n",
			      z7[c][6], c < 2 ? "a,a,b,b,c,c" : "a,a,a,b,b,b",
			      100.0 * moved / (3.0 * NKEYS), moved / ideal, between_old);
		assert_true(moved <= 1.3 * ideal);
		assert_true(between_old <= (c < 2 ? 0 : NKEYS / 100));
		qfs_ring_free(r6);
		qfs_ring_free(r7);
		free(c6);
		free(c7);
	}
}

/* The replica set of @token as a bitmap of daemon indexes. */
static uint64_t set_of(const struct qfs_ring *ring, uint64_t token)
{
	int out[QFS_MAX_REPLICAS], n = qfs_ring_place(ring, token, out, 3);
	uint64_t m = 0;

	for (int i = 0; i < n; i++)
		m |= 1ULL << out[i];
	return m;
}

/*
 * qfs_ring_span_same against brute force over the 65536 DIGEST-sized spans:
 * a span is "same" exactly when the set at its start equals the set just
 * after each point inside it. Three daemons (N = 3): every span; five: the
 * answer matches the brute force, and most spans still agree.
 */
static void test_ring_span_same(void **state)
{
	(void)state;
	for (int nd = 3; nd <= 5; nd += 2) {
		struct qfs_cluster *cl = make_cluster(nd, 256);
		struct qfs_ring *ring = build(cl);
		size_t np = qfs_ring_npoints(ring), p = 0;
		unsigned same = 0;

		for (uint64_t b = 0; b < 65536; b++) {
			uint64_t lo = b << 48, hi = lo | 0xffffffffffffULL, t, s0 = set_of(ring, lo);
			bool want = true;

			while (p < np && (qfs_ring_point(ring, p, &t), t < lo))
				p++;
			for (size_t q = p; q < np && (qfs_ring_point(ring, q, &t), t < hi); q++)
				want &= set_of(ring, t + 1) == s0;
			assert_int_equal(qfs_ring_span_same(ring, lo, hi, 3), want);
			same += want;
		}
		if (nd == 3)
			assert_int_equal(same, 65536);
		else
			assert_true(same > 65536 - np && same < 65536);
		qfs_ring_free(ring);
		free(cl);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_span_same),
		cmocka_unit_test(test_ring_deterministic),
		cmocka_unit_test(test_ring_order_independent),
		cmocka_unit_test(test_ring_distinct),
		cmocka_unit_test(test_ring_short),
		cmocka_unit_test(test_ring_balance),
		cmocka_unit_test(test_ring_weights),
		cmocka_unit_test(test_ring_minimal_movement),
		cmocka_unit_test(test_ring_zones_off_unchanged),
		cmocka_unit_test(test_ring_weight_share),
		cmocka_unit_test(test_ring_zones_distinct),
		cmocka_unit_test(test_ring_zones_fewer_than_replicas),
		cmocka_unit_test(test_ring_zones_order_independent),
		cmocka_unit_test(test_ring_zones_movement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
