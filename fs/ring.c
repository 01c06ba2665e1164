// SPDX-License-Identifier: MIT
/*
 * ring.c - the consistent-hash ring that places keys on daemons.
 *
 * Daemon i owns max(1, vnodes * weight_i / 100) points; point p of daemon
 * "name" sits at XXH3_64bits(name bytes || p as 4 little-endian bytes). The
 * points are kept in one array sorted by (token, daemon index), so the ring
 * depends only on the daemons' names, zones, weights and vnodes, never on
 * the order of the file, the host or the process. A key's preference list
 * is found by walking clockwise from the first point whose token is >= the
 * key's token, wrapping at the end:
 *
 *  - a daemon already in the list is skipped;
 *  - while some zone has no replica yet, a daemon whose zone already has one
 *    is skipped too, and remembered in the order it was met; once every
 *    zone has a replica, the remembered daemons are taken first, in that
 *    order, then the walk goes on taking every new daemon.
 *
 * So the N replicas of a key are in N distinct zones when there are at
 * least N zones, and in every zone otherwise. A daemon without a zone is a
 * zone of its own; when every daemon is its own zone (no zone set, the
 * layout of clusters before zones existed) the walk is exactly the old
 * "first N distinct daemons", so those clusters keep their placement
 * (test_ring_zones_off_unchanged pins it). The walk depends only on the
 * point it starts at, so all keys between two consecutive points share a
 * preference list (qfs_ring_point relies on it).
 *
 * Adding a daemon moves keys onto it, never between old daemons in the
 * tests (test_ring_zones_movement: a 7th daemon joining zones a,a,b,b,c,c
 * changes 10.7% of replica placements when it joins zone a, 18.2% as a new
 * zone d, where the ideal is 1/7 = 14.3%). A zone lighter than the others
 * gets more than its weight share, since a key takes one replica from each
 * of its first N zones: there the lone daemon of zone d holds 55% of keys
 * against 3/7 = 43% by weight. Turning zones on in a cluster that had them
 * configured but ignored (before this walk) moves the keys that had two
 * replicas in one zone: 58% of keys, 19% of replica placements, for zones
 * a,a,b,b,c,c.
 *
 * Balance: a daemon of V points owns a share that varies by about
 * 1/sqrt(V) around its weight share. Measured on 1000 clusters of random
 * names (exact arc shares), the chance that some daemon's primary share is
 * more than 15% off its weight share:
 *
 *   vnodes  weights 100,100,200,200,50,300   12 equal daemons
 *      256  10.8% (mean worst 9.4%)           12.6% (mean worst 11.5%)
 *      512   1.8% (6.7%)                       0.1% (8.1%)
 *      768   0.3% (5.6%)                       0.0% (6.6%)
 *     1024   0.0% (4.7%)                       0.0% (5.8%)
 *
 * so 1024 is the cheapest setting that holds every daemon of weight >= 50
 * within 15%; d0..d11 at 256 has one at 0.83x. For 100 daemons of weight
 * 100 the ring has 25,600 points (400 KiB, built in 9 ms) at 256 and
 * 102,400 (1.6 MiB, 40 ms, debug build on a shared 2-core machine) at 1024.
 * The loader's default stays 256, because changing it would move every
 * existing cluster that relies on it (docs/configuration.md).
 *
 * Immutable once built, so any number of threads may place keys without a
 * lock.
 */
#include "fs/ring.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct qfs_ring_point {
	uint64_t token;
	uint16_t daemon; /* index into cl->daemons */
	uint16_t zone;	 /* zone index of that daemon, 0..nzones-1 */
};

struct qfs_ring {
	int ndaemons;
	int nzones; /* distinct zones; == ndaemons when no two daemons share one */
	size_t npoints;
	struct qfs_ring_point points[]; /* sorted by (token, daemon) */
};

#define QFS_RING_BITMAP_LEN ((QFS_MAX_DAEMONS + 7) / 8)

static bool qfs_ring_test(const uint8_t *map, unsigned i)
{
	return map[i / 8] & (1u << (i % 8));
}

static void qfs_ring_set(uint8_t *map, unsigned i)
{
	map[i / 8] |= (uint8_t)(1u << (i % 8));
}

static int qfs_ring_cmp(const void *a, const void *b)
{
	const struct qfs_ring_point *x = a, *y = b;

	if (x->token != y->token)
		return x->token < y->token ? -1 : 1;
	return (x->daemon > y->daemon) - (x->daemon < y->daemon);
}

/* Points of daemon @d: vnodes * weight / 100, at least 1. */
static uint64_t qfs_ring_daemon_points(const struct qfs_cluster *cl,
				       const struct qfs_daemon_conf *d)
{
	uint64_t p = (uint64_t)cl->vnodes * d->weight / 100;

	return p ? p : 1;
}

/*
 * Number the zones of @cl into @zone[ndaemons]: daemons with the same
 * non-empty zone share an index, a daemon with zone "" gets one of its own.
 * Only equality of indexes matters, so the numbering may follow file order.
 * Returns the number of zones.
 */
static int qfs_ring_zones(const struct qfs_cluster *cl, uint16_t *zone)
{
	int nzones = 0;

	for (int i = 0; i < cl->ndaemons; i++) {
		const char *z = cl->daemons[i].zone;
		int j = 0;

		if (z[0])
			for (j = 0; j < i && strcmp(cl->daemons[j].zone, z); j++)
				;
		zone[i] = z[0] && j < i ? zone[j] : (uint16_t)nzones++;
	}
	return nzones;
}

int qfs_ring_build(const struct qfs_cluster *cl, struct qfs_ring **out)
{
	uint16_t zone[QFS_MAX_DAEMONS];
	struct qfs_ring *ring;
	uint64_t total = 0;
	size_t k = 0;
	int i;

	*out = NULL;
	if (cl->ndaemons <= 0 || cl->ndaemons > QFS_MAX_DAEMONS)
		return -EINVAL;
	for (i = 0; i < cl->ndaemons; i++)
		total += qfs_ring_daemon_points(cl, &cl->daemons[i]);
	if (total > QFS_RING_MAX_POINTS)
		return -EINVAL;

	ring = malloc(sizeof(*ring) + total * sizeof(ring->points[0]));
	if (!ring)
		return -ENOMEM;
	ring->ndaemons = cl->ndaemons;
	ring->nzones = qfs_ring_zones(cl, zone);
	ring->npoints = total;
	for (i = 0; i < cl->ndaemons; i++) {
		const struct qfs_daemon_conf *d = &cl->daemons[i];
		uint64_t np = qfs_ring_daemon_points(cl, d);
		size_t len = strnlen(d->name, sizeof(d->name) - 1);
		uint8_t buf[sizeof(d->name) + 4];

		memcpy(buf, d->name, len);
		for (uint64_t p = 0; p < np; p++) {
			buf[len] = (uint8_t)p;
			buf[len + 1] = (uint8_t)(p >> 8);
			buf[len + 2] = (uint8_t)(p >> 16);
			buf[len + 3] = (uint8_t)(p >> 24);
			ring->points[k].token = XXH3_64bits(buf, len + 4);
			ring->points[k].daemon = (uint16_t)i;
			ring->points[k].zone = zone[i];
			k++;
		}
	}
	qsort(ring->points, ring->npoints, sizeof(ring->points[0]), qfs_ring_cmp);
	*out = ring;
	return 0;
}

void qfs_ring_free(struct qfs_ring *ring)
{
	free(ring);
}

/* Index of the first point with token >= @token, or 0 past the last (wrap). */
static size_t qfs_ring_successor(const struct qfs_ring *ring, uint64_t token)
{
	size_t lo = 0, hi = ring->npoints;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ring->points[mid].token < token)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == ring->npoints ? 0 : lo;
}

/* The first @n distinct daemons from point @pos on: every daemon is its own zone. */
static int qfs_ring_walk_daemons(const struct qfs_ring *ring, size_t pos, int *out, int n)
{
	uint8_t seen[QFS_RING_BITMAP_LEN] = { 0 };
	int filled = 0;

	for (size_t step = 0; step < ring->npoints && filled < n; step++) {
		unsigned d = ring->points[pos].daemon;

		if (!qfs_ring_test(seen, d)) {
			qfs_ring_set(seen, d);
			out[filled++] = (int)d;
		}
		if (++pos == ring->npoints)
			pos = 0;
	}
	return filled;
}

/*
 * The zone-aware walk from point @pos (see the top of the file). One lap
 * visits every daemon, so it fills min(@n, ndaemons) entries; daemons
 * skipped for their zone wait in @later, in the order they were met.
 */
static int qfs_ring_walk_zones(const struct qfs_ring *ring, size_t pos, int *out, int n)
{
	uint8_t seen[QFS_RING_BITMAP_LEN] = { 0 }, used[QFS_RING_BITMAP_LEN] = { 0 };
	uint16_t later[QFS_MAX_DAEMONS];
	int filled = 0, zones = 0, nlater = 0;

	for (size_t step = 0; step < ring->npoints && filled < n; step++) {
		const struct qfs_ring_point *pt = &ring->points[pos];

		if (++pos == ring->npoints)
			pos = 0;
		if (qfs_ring_test(seen, pt->daemon))
			continue;
		qfs_ring_set(seen, pt->daemon);
		if (zones < ring->nzones && qfs_ring_test(used, pt->zone)) {
			later[nlater++] = pt->daemon;
			continue;
		}
		out[filled++] = (int)pt->daemon;
		if (zones < ring->nzones) {
			qfs_ring_set(used, pt->zone);
			if (++zones == ring->nzones)
				for (int k = 0; k < nlater && filled < n; k++)
					out[filled++] = (int)later[k];
		}
	}
	return filled;
}

int qfs_ring_place(const struct qfs_ring *ring, uint64_t token, int *out, int n)
{
	size_t pos;

	if (n > ring->ndaemons)
		n = ring->ndaemons;
	if (n <= 0 || ring->npoints == 0)
		return 0;
	pos = qfs_ring_successor(ring, token);
	if (ring->nzones == ring->ndaemons)
		return qfs_ring_walk_daemons(ring, pos, out, n);
	return qfs_ring_walk_zones(ring, pos, out, n);
}

int qfs_ring_nzones(const struct qfs_ring *ring)
{
	return ring->nzones;
}

size_t qfs_ring_npoints(const struct qfs_ring *ring)
{
	return ring->npoints;
}

int qfs_ring_point(const struct qfs_ring *ring, size_t i, uint64_t *token)
{
	*token = ring->points[i].token;
	return (int)ring->points[i].daemon;
}

/* The replica set of the walk from point @pos, as a daemon bitmap. */
static void qfs_ring_set_at(const struct qfs_ring *ring, size_t pos, int n,
			    uint8_t map[QFS_RING_BITMAP_LEN])
{
	int out[QFS_MAX_DAEMONS], k;

	memset(map, 0, QFS_RING_BITMAP_LEN);
	if (ring->nzones == ring->ndaemons)
		k = qfs_ring_walk_daemons(ring, pos, out, n);
	else
		k = qfs_ring_walk_zones(ring, pos, out, n);
	for (int i = 0; i < k; i++)
		qfs_ring_set(map, (unsigned)out[i]);
}

bool qfs_ring_span_same(const struct qfs_ring *ring, uint64_t lo, uint64_t hi, int n)
{
	uint8_t first[QFS_RING_BITMAP_LEN], next[QFS_RING_BITMAP_LEN];
	size_t pos;

	if (n > ring->ndaemons)
		n = ring->ndaemons;
	if (n <= 0 || ring->npoints == 0 || lo > hi)
		return true;
	pos = qfs_ring_successor(ring, lo);
	if (ring->points[pos].token < lo)
		return true; /* past the last point: the whole range wraps to point 0 */
	qfs_ring_set_at(ring, pos, n, first);
	/* tokens after point pos's (up to hi) belong to the next point */
	while (ring->points[pos].token < hi) {
		bool wrap = ++pos == ring->npoints;

		if (wrap)
			pos = 0;
		qfs_ring_set_at(ring, pos, n, next);
		if (memcmp(first, next, sizeof(first)))
			return false;
		if (wrap)
			break;
	}
	return true;
}
