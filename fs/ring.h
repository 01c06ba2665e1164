/* SPDX-License-Identifier: MIT */
/*
 * ring.h - consistent-hash placement of keys on the daemons of a layout.
 *
 * Each daemon owns vnodes * weight / 100 points on a 64-bit ring, at
 * xxh3(daemon name, point number). A key's replicas are the first N distinct
 * daemons clockwise from its token (proto_key_token), taken from distinct
 * zones while some zone has none yet: N zones when the layout has N, every
 * zone otherwise (a daemon without a zone is a zone of its own). Every
 * client and tool computes the same list from the same config. Immutable
 * once built: any number of threads may use a ring without a lock.
 */
#ifndef QFS_FS_RING_H
#define QFS_FS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/config.h"

struct qfs_ring;

/* Bound on the points of one ring (16 bytes each); qfs_config_load enforces it. */
#define QFS_RING_MAX_POINTS (1u << 22)

/* Build the ring of @cl. Returns 0 or -ENOMEM / -EINVAL (no daemons, too many points). */
int qfs_ring_build(const struct qfs_cluster *cl, struct qfs_ring **out);
void qfs_ring_free(struct qfs_ring *ring); /* NULL is a no-op */

/*
 * Fill @out with up to @n distinct daemon indexes (into cl->daemons) in
 * preference order for @token. Returns the number filled: min(n, ndaemons).
 * The first min(n, nzones) entries are in distinct zones.
 */
int qfs_ring_place(const struct qfs_ring *ring, uint64_t token, int *out, int n);

/* Number of distinct zones (a daemon without a zone counts as one). */
int qfs_ring_nzones(const struct qfs_ring *ring);

/* Number of points on the ring (tools: layout and quorum coverage). */
size_t qfs_ring_npoints(const struct qfs_ring *ring);

/*
 * Point @i (0 <= i < qfs_ring_npoints) in ring order: its token in *token,
 * and the daemon index it belongs to as the return value. Keys whose token
 * lies in (token of point i-1, token of point i] (wrapping) all have the
 * preference list of point i's token, so walking the points visits every
 * distinct placement of the ring.
 */
int qfs_ring_point(const struct qfs_ring *ring, size_t i, uint64_t *token);

/*
 * Whether every token in [@lo, @hi] (lo <= hi, no wrap) has the same set of
 * min(@n, ndaemons) replicas, in whatever order: then the keys of that
 * range all live on the same daemons (fsck's DIGEST buckets). Walks the
 * points inside the range, so it costs one placement per point in it.
 */
bool qfs_ring_span_same(const struct qfs_ring *ring, uint64_t lo, uint64_t hi, int n);

#endif
