// SPDX-License-Identifier: MIT
/*
 * ring.c - the consistent-hash ring that places keys on daemons.
 *
 * Daemon i owns max(1, vnodes * weight_i / 100) points; point p of daemon
 * "name" sits at XXH3_64bits(name bytes || p as 4 little-endian bytes). The
 * points are kept in one array sorted by (token, daemon index), so the ring
 * depends only on the daemons' names, weights and vnodes, never on the
 * order of the file, the host or the process. A key's preference list is the
 * first N distinct daemons met walking clockwise from the first point whose
 * token is >= the key's token, wrapping at the end. Adding a daemon only
 * moves keys onto the new daemon (about 1/ndaemons of them). Immutable once
 * built, so any number of threads may place keys without a lock.
 */
#include "fs/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct qfs_ring_point {
	uint64_t token;
	uint32_t daemon; /* index into cl->daemons */
};

struct qfs_ring {
	int ndaemons;
	size_t npoints;
	struct qfs_ring_point points[]; /* sorted by (token, daemon) */
};

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

int qfs_ring_build(const struct qfs_cluster *cl, struct qfs_ring **out)
{
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
			ring->points[k].daemon = (uint32_t)i;
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

int qfs_ring_place(const struct qfs_ring *ring, uint64_t token, int *out, int n)
{
	uint8_t seen[(QFS_MAX_DAEMONS + 7) / 8] = { 0 };
	size_t pos, step;
	int filled = 0;

	if (n > ring->ndaemons)
		n = ring->ndaemons;
	if (n <= 0 || ring->npoints == 0)
		return 0;
	pos = qfs_ring_successor(ring, token);
	for (step = 0; step < ring->npoints && filled < n; step++) {
		uint32_t d = ring->points[pos].daemon;

		if (!(seen[d / 8] & (1u << (d % 8)))) {
			seen[d / 8] |= (uint8_t)(1u << (d % 8));
			out[filled++] = (int)d;
		}
		if (++pos == ring->npoints)
			pos = 0;
	}
	return filled;
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
